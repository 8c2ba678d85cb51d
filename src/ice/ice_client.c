/* ice_client.c - a full ICE agent for one candidate pair (RFC 8445) with consent
 * freshness (RFC 7675): the client end of junction-load's connections. */
#include <string.h>

#include "core/err.h"
#include "core/random.h"
#include "ice/ice.h"
#include "ice/ice_internal.h"

/* A peer-reflexive candidate's priority (RFC 8445 section 7.1.1): type preference 110,
 * local preference 65535, component 1. */
#define PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | 255u)

static ice_creds local_creds(const ice_client *c)
{
    return (ice_creds){.ufrag = c->local_ufrag, .ufrag_len = c->local_ufrag_len,
                       .pwd = c->local_pwd, .pwd_len = c->local_pwd_len};
}

static bool printable(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f) return false;
    return true;
}

int ice_client_init(ice_client *c, const char *local_ufrag, const char *local_pwd,
                    const char *remote_ufrag, const char *remote_pwd, bool controlling,
                    uint64_t tiebreaker, uint64_t now_us)
{
    memset(c, 0, sizeof *c);
    if (!local_ufrag || !local_pwd || !remote_ufrag || !remote_pwd) return J_EINVAL;
    if (ice_copy_token(c->local_ufrag, &c->local_ufrag_len, local_ufrag, 4, ICE_UFRAG_MAX,
                       true) != J_OK ||
        ice_copy_token(c->local_pwd, &c->local_pwd_len, local_pwd, 22, ICE_PWD_MAX, true) !=
            J_OK ||
        ice_copy_token(c->remote_ufrag, &c->remote_ufrag_len, remote_ufrag, 1, ICE_UFRAG_MAX,
                       false) != J_OK)
        return J_EINVAL;
    /* The remote password is only ever an HMAC key: any printable text will do. */
    if (!printable(remote_pwd, ICE_PWD_MAX)) return J_EINVAL;
    c->remote_pwd_len = strlen(remote_pwd);
    memcpy(c->remote_pwd, remote_pwd, c->remote_pwd_len + 1);

    c->consent_timeout_us = ICE_CONSENT_TIMEOUT_US;
    c->controlling = controlling;
    c->tiebreaker = tiebreaker;
    c->priority = PRFLX_PRIORITY;
    c->state = ICE_STATE_NEW;
    c->rto_us = ICE_CLIENT_RTO_MIN_US;
    c->next_tx_us = now_us;
    c->created_us = now_us;
    return J_OK;
}

/* A new transaction (not a retransmission) is due at `when`. */
static void schedule(ice_client *c, uint64_t when)
{
    c->in_flight = false;
    c->rto_us = ICE_CLIENT_RTO_MIN_US;
    c->next_tx_us = when;
}

static void switch_role(ice_client *c, uint64_t now_us)
{
    c->controlling = !c->controlling;
    /* Check again in the new role: controlled, its success makes the pair usable;
     * controlling, it leads to the nomination. */
    schedule(c, now_us);
}

int ice_client_poll_transmit(ice_client *c, uint64_t now_us, uint8_t *out, size_t cap)
{
    if (c->state == ICE_STATE_FAILED || now_us < c->next_tx_us) return 0;
    if (!c->in_flight) {
        /* Checks and consent requests are all fresh transactions (RFC 7675 section 5.1);
         * only retransmissions repeat a transaction id. */
        j_random_bytes(c->tid, sizeof c->tid);
        c->in_flight_nominates = c->controlling && c->checked && !c->nominated;
    }
    stun_writer w;
    stun_writer_init(&w, out, cap, STUN_BINDING_REQUEST, c->tid);
    char username[2 * ICE_UFRAG_MAX + 2];
    memcpy(username, c->remote_ufrag, c->remote_ufrag_len);
    username[c->remote_ufrag_len] = ':';
    memcpy(username + c->remote_ufrag_len + 1, c->local_ufrag, c->local_ufrag_len);
    stun_writer_add_username(&w, username, c->remote_ufrag_len + 1 + c->local_ufrag_len);
    stun_writer_add_priority(&w, c->priority);
    if (c->controlling)
        stun_writer_add_ice_controlling(&w, c->tiebreaker);
    else
        stun_writer_add_ice_controlled(&w, c->tiebreaker);
    if (c->in_flight_nominates) stun_writer_add_use_candidate(&w);
    int n = stun_writer_finish(&w, (const uint8_t *)c->remote_pwd, c->remote_pwd_len, true);
    if (n < 0) return n;
    c->in_flight = true;
    c->next_tx_us = now_us + c->rto_us;
    c->rto_us = c->rto_us * 2 > ICE_CLIENT_RTO_MAX_US ? ICE_CLIENT_RTO_MAX_US : c->rto_us * 2;
    return n;
}

/* RFC 7675 section 5.1: consent requests every 4 to 6 seconds, uniformly spread. */
static uint64_t consent_interval(void)
{
    uint64_t spread = ICE_CLIENT_CONSENT_US * 2 / 5; /* 4 s .. 6 s around 5 s */
    return ICE_CLIENT_CONSENT_US - spread / 2 + j_random_u32() % (spread + 1);
}

static int handle_response(ice_client *c, uint64_t now_us, const stun_msg *m,
                           const uint8_t *buf, size_t len, ice_event *ev)
{
    if (!c->in_flight || memcmp(m->tid, c->tid, STUN_TID_LEN) != 0) return 0; /* stale */
    if (m->has_fingerprint && stun_verify_fingerprint(m, buf, len) != J_OK) return J_EAUTH;
    if (stun_verify_integrity(m, buf, len, (const uint8_t *)c->remote_pwd, c->remote_pwd_len) !=
        J_OK)
        return J_EAUTH;
    if (m->cls == STUN_CLASS_ERROR) {
        /* RFC 8445 section 7.2.5.1: switch role and check again. Any other error leaves
         * the transaction to retransmit until consent runs out. */
        if (m->has_error && m->error_code == STUN_ERR_ROLE_CONFLICT) switch_role(c, now_us);
        return 0;
    }
    c->last_success_us = now_us;
    bool nominating = c->in_flight_nominates;
    c->checked = true;
    if (!c->nominated && (nominating || !c->controlling)) {
        c->nominated = true;
        c->state = ICE_STATE_CONNECTED;
        *ev = ICE_EV_SELECTED;
    }
    /* Controlling and just checked: nominate at once; otherwise consent later. */
    schedule(c, c->nominated ? now_us + consent_interval() : now_us);
    return 0;
}

static int handle_request(ice_client *c, uint64_t now_us, const j_addr *from,
                          const stun_msg *m, const uint8_t *buf, size_t len, uint8_t *out,
                          size_t cap)
{
    ice_creds local = local_creds(c);
    int rc = ice_authenticate_request(&local, c->remote_ufrag, c->remote_ufrag_len, m, buf, len);
    if (rc != J_OK) return rc;
    if (m->unknown_required_count > 0)
        return ice_write_response(&local, m, from, STUN_ERR_UNKNOWN_ATTRIBUTE, out, cap);
    /* RFC 8445 section 7.3.1.1: both sides claim the same role; the larger tiebreaker
     * keeps it (the loser either switches or, if it is us who wins, gets a 487). */
    if (c->controlling && m->has_ice_controlling) {
        if (c->tiebreaker >= m->ice_controlling)
            return ice_write_response(&local, m, from, STUN_ERR_ROLE_CONFLICT, out, cap);
        switch_role(c, now_us);
    } else if (!c->controlling && m->has_ice_controlled) {
        if (c->tiebreaker < m->ice_controlled)
            return ice_write_response(&local, m, from, STUN_ERR_ROLE_CONFLICT, out, cap);
        switch_role(c, now_us);
    }
    return ice_write_response(&local, m, from, 0, out, cap);
}

int ice_client_handle_stun(ice_client *c, uint64_t now_us, const j_addr *from,
                           const uint8_t *buf, size_t len, uint8_t *out, size_t cap,
                           ice_event *ev)
{
    ice_event dummy;
    if (!ev) ev = &dummy;
    *ev = ICE_EV_NONE;
    if (!from || (from->sa.sa_family != AF_INET && from->sa.sa_family != AF_INET6))
        return J_EINVAL;
    if (c->state == ICE_STATE_FAILED) return J_ESTATE;
    stun_msg m;
    int rc = stun_parse(&m, buf, len);
    if (rc != J_OK) return rc;
    if (m.method != STUN_METHOD_BINDING || m.cls == STUN_CLASS_INDICATION) return 0;
    if (m.cls == STUN_CLASS_REQUEST)
        return handle_request(c, now_us, from, &m, buf, len, out, cap);
    return handle_response(c, now_us, &m, buf, len, ev);
}

static uint64_t consent_deadline(const ice_client *c)
{
    uint64_t base = c->last_success_us > c->created_us ? c->last_success_us : c->created_us;
    return base > UINT64_MAX - c->consent_timeout_us ? UINT64_MAX : base + c->consent_timeout_us;
}

ice_event ice_client_handle_timeout(ice_client *c, uint64_t now_us)
{
    if (c->state == ICE_STATE_FAILED || now_us < consent_deadline(c)) return ICE_EV_NONE;
    c->state = ICE_STATE_FAILED;
    c->nominated = false;
    c->in_flight = false;
    return ICE_EV_TIMEOUT;
}

uint64_t ice_client_poll_timeout(const ice_client *c)
{
    if (c->state == ICE_STATE_FAILED) return UINT64_MAX;
    uint64_t d = consent_deadline(c);
    return c->next_tx_us < d ? c->next_tx_us : d;
}

ice_state ice_client_state(const ice_client *c) { return c->state; }
