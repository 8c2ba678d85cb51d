/* ice.c - ICE-lite responder and consent freshness (RFC 8445, RFC 7675). */
#include "ice/ice.h"

#include <string.h>

#include "core/err.h"
#include "core/random.h"
#include "ice/ice_internal.h"

static bool is_ice_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

int ice_copy_token(char *dst, size_t *len, const char *s, size_t min, size_t max, bool strict)
{
    size_t n = strnlen(s, max + 1);
    if (n < min || n > max) return J_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        /* Local credentials are ours: exactly the ice-char set. A remote ufrag
         * is only used for comparison, so accept any printable ASCII but the
         * ':' that separates the two halves of USERNAME. */
        bool ok = strict ? is_ice_char(c) : (c > 0x20 && c < 0x7f && c != ':');
        if (!ok) return J_EINVAL;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    *len = n;
    return J_OK;
}

void ice_lite_generate_credentials(char ufrag[ICE_UFRAG_LEN + 1], char pwd[ICE_PWD_LEN + 1])
{
    /* [A-Za-z0-9] is a subset of ice-char: 8 chars ~ 47 bits (the ufrag only
     * has to be unique), 24 chars ~ 143 bits (RFC 8445 wants >= 128). */
    j_random_token(ufrag, ICE_UFRAG_LEN);
    j_random_token(pwd, ICE_PWD_LEN);
}

int ice_lite_init(ice_lite *ice, const char *local_ufrag, const char *local_pwd,
                  const char *remote_ufrag, uint64_t now_us)
{
    memset(ice, 0, sizeof *ice);
    ice->consent_timeout_us = ICE_CONSENT_TIMEOUT_US;
    ice->state = ICE_STATE_NEW;
    ice->created_us = now_us;
    if (!local_ufrag || !local_pwd) return J_EINVAL;
    if (ice_copy_token(ice->local_ufrag, &ice->local_ufrag_len, local_ufrag, 4, ICE_UFRAG_MAX,
                   true) != J_OK ||
        ice_copy_token(ice->local_pwd, &ice->local_pwd_len, local_pwd, 22, ICE_PWD_MAX, true) !=
            J_OK)
        return J_EINVAL;
    if (remote_ufrag && remote_ufrag[0]) return ice_lite_set_remote_ufrag(ice, remote_ufrag);
    return J_OK;
}

int ice_lite_set_remote_ufrag(ice_lite *ice, const char *remote_ufrag)
{
    if (!remote_ufrag) return J_EINVAL;
    char tmp[ICE_UFRAG_MAX + 1];
    size_t n;
    if (ice_copy_token(tmp, &n, remote_ufrag, 1, ICE_UFRAG_MAX, false) != J_OK) return J_EINVAL;
    memcpy(ice->remote_ufrag, tmp, n + 1);
    ice->remote_ufrag_len = n;
    return J_OK;
}

int ice_lite_username_local_ufrag(const stun_msg *m, const char **ufrag, size_t *len)
{
    if (!m->has_username) return J_ENOTFOUND;
    const uint8_t *colon = memchr(m->username, ':', m->username_len);
    if (!colon || colon == m->username) return J_EMALFORMED;
    *ufrag = (const char *)m->username;
    *len = (size_t)(colon - m->username);
    return J_OK;
}

/* USERNAME of a check sent to us: "<local ufrag>:<remote ufrag>". */
static bool username_ok(const ice_creds *local, const char *remote_ufrag, size_t remote_len,
                        const stun_msg *m)
{
    if (!m->has_username) return false;
    size_t lu = local->ufrag_len;
    if (m->username_len < lu + 2) return false; /* local ':' and at least one char */
    if (memcmp(m->username, local->ufrag, lu) != 0 || m->username[lu] != ':') return false;
    if (remote_len == 0) return true; /* remote ufrag not known yet */
    return m->username_len - lu - 1 == remote_len &&
           memcmp(m->username + lu + 1, remote_ufrag, remote_len) == 0;
}

int ice_authenticate_request(const ice_creds *local, const char *remote_ufrag,
                             size_t remote_ufrag_len, const stun_msg *m, const uint8_t *buf,
                             size_t len)
{
    /* Short-term credentials (RFC 8489 section 9.1.3). A failing request gets no
     * answer, so unauthenticated sources cannot use us as a reflector. */
    if (m->has_fingerprint && stun_verify_fingerprint(m, buf, len) != J_OK) return J_EAUTH;
    if (!m->has_integrity || !username_ok(local, remote_ufrag, remote_ufrag_len, m))
        return J_EAUTH;
    if (stun_verify_integrity(m, buf, len, (const uint8_t *)local->pwd, local->pwd_len) != J_OK)
        return J_EAUTH;
    return J_OK;
}

static ice_source *find_source(ice_lite *ice, const j_addr *a)
{
    for (size_t i = 0; i < ICE_MAX_SOURCES; i++)
        if (ice->sources[i].used && j_addr_equal(&ice->sources[i].addr, a))
            return &ice->sources[i];
    return NULL;
}

/* Records a valid check from a: refresh its entry, else take a free slot,
 * else replace the least recently checked address that is not selected. */
static void touch_source(ice_lite *ice, const j_addr *a, uint64_t now_us)
{
    ice_source *s = find_source(ice, a);
    if (!s) {
        for (size_t i = 0; i < ICE_MAX_SOURCES && !s; i++)
            if (!ice->sources[i].used) s = &ice->sources[i];
    }
    if (!s) {
        for (size_t i = 0; i < ICE_MAX_SOURCES; i++) {
            ice_source *c = &ice->sources[i];
            if (ice->has_selected && j_addr_equal(&c->addr, &ice->selected)) continue;
            if (!s || c->last_check_us < s->last_check_us) s = c;
        }
    }
    s->used = true;
    s->addr = *a;
    s->last_check_us = now_us;
}

int ice_write_response(const ice_creds *local, const stun_msg *m, const j_addr *from, int code,
                       uint8_t *out, size_t cap)
{
    stun_writer w;
    uint16_t type = stun_msg_type(STUN_METHOD_BINDING,
                                  code ? STUN_CLASS_ERROR : STUN_CLASS_SUCCESS);
    stun_writer_init(&w, out, cap, type, m->tid);
    if (code == 0) {
        stun_writer_add_xor_mapped_address(&w, from);
    } else if (code == STUN_ERR_UNKNOWN_ATTRIBUTE) {
        stun_writer_add_error_code(&w, code, "Unknown Attribute");
        size_t n = m->unknown_required_count < STUN_MAX_UNKNOWN ? m->unknown_required_count
                                                                : STUN_MAX_UNKNOWN;
        stun_writer_add_unknown_attributes(&w, m->unknown_required, n);
    } else {
        stun_writer_add_error_code(&w, code, "Role Conflict");
    }
    return stun_writer_finish(&w, (const uint8_t *)local->pwd, local->pwd_len, true);
}

static ice_creds lite_creds(const ice_lite *ice)
{
    return (ice_creds){.ufrag = ice->local_ufrag, .ufrag_len = ice->local_ufrag_len,
                       .pwd = ice->local_pwd, .pwd_len = ice->local_pwd_len};
}

int ice_lite_handle_stun(ice_lite *ice, uint64_t now_us, const j_addr *from, const uint8_t *buf,
                         size_t len, uint8_t *out, size_t cap, ice_event *ev)
{
    ice_event dummy;
    if (!ev) ev = &dummy;
    *ev = ICE_EV_NONE;
    if (!from || (from->sa.sa_family != AF_INET && from->sa.sa_family != AF_INET6))
        return J_EINVAL;
    if (ice->state == ICE_STATE_FAILED) return J_ESTATE;

    stun_msg m;
    int rc = stun_parse(&m, buf, len);
    if (rc != J_OK) return rc;
    /* Indications are keepalives (RFC 8445 section 11): accepted, but being
     * unauthenticated they refresh nothing. Responses: a lite agent sends no
     * requests, so there is nothing to match them with. */
    if (m.method != STUN_METHOD_BINDING || m.cls != STUN_CLASS_REQUEST) return 0;

    ice_creds local = lite_creds(ice);
    rc = ice_authenticate_request(&local, ice->remote_ufrag, ice->remote_ufrag_len, &m, buf, len);
    if (rc != J_OK) return rc;

    if (m.unknown_required_count > 0)
        return ice_write_response(&local, &m, from, STUN_ERR_UNKNOWN_ATTRIBUTE, out, cap);
    /* RFC 8445 section 7.3.1.1: a controlled agent receiving ICE-CONTROLLED
     * either switches to controlling or answers 487. A lite agent is always
     * controlled, so it answers 487 and the full agent switches role. */
    if (m.has_ice_controlled && !m.has_ice_controlling)
        return ice_write_response(&local, &m, from, STUN_ERR_ROLE_CONFLICT, out, cap);

    int n = ice_write_response(&local, &m, from, 0, out, cap);
    if (n < 0) return n; /* nothing changes if the answer cannot be sent */

    touch_source(ice, from, now_us);
    ice->last_check_us = now_us;
    ice->state = ICE_STATE_CONNECTED;
    if (m.use_candidate && (!ice->has_selected || !j_addr_equal(&ice->selected, from))) {
        /* Nomination (RFC 8445 section 7.3.1.5); a new address nominated
         * later is how the peer moves its media path. */
        ice->has_selected = true;
        ice->selected = *from;
        *ev = ICE_EV_SELECTED;
    }
    if (ice->has_selected && j_addr_equal(&ice->selected, from)) ice->selected_check_us = now_us;
    return n;
}

bool ice_lite_is_valid_source(const ice_lite *ice, const j_addr *from)
{
    if (!from || ice->state == ICE_STATE_FAILED) return false;
    for (size_t i = 0; i < ICE_MAX_SOURCES; i++)
        if (ice->sources[i].used && j_addr_equal(&ice->sources[i].addr, from)) return true;
    return false;
}

const j_addr *ice_lite_selected(const ice_lite *ice)
{
    return ice->has_selected && ice->state != ICE_STATE_FAILED ? &ice->selected : NULL;
}

ice_state ice_lite_state(const ice_lite *ice) { return ice->state; }

static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* The agent's own consent deadline: any address with consent keeps the peer
 * alive (a browser may nominate one pair and keep consent on another: Firefox
 * with several host candidates does), and a peer that never checks expires one
 * window after creation. The selected pair's own expiry is handled by failing
 * over to a consented address (see ice_lite_handle_timeout). */
static uint64_t consent_deadline(const ice_lite *ice)
{
    uint64_t base = ice->last_check_us > ice->created_us ? ice->last_check_us : ice->created_us;
    return add_sat(base, ice->consent_timeout_us);
}

uint64_t ice_lite_poll_timeout(const ice_lite *ice)
{
    if (ice->state == ICE_STATE_FAILED) return UINT64_MAX;
    uint64_t t = consent_deadline(ice);
    for (size_t i = 0; i < ICE_MAX_SOURCES; i++) {
        if (!ice->sources[i].used) continue;
        uint64_t s = add_sat(ice->sources[i].last_check_us, ice->consent_timeout_us);
        if (s < t) t = s;
    }
    return t;
}

ice_event ice_lite_handle_timeout(ice_lite *ice, uint64_t now_us)
{
    if (ice->state == ICE_STATE_FAILED) return ICE_EV_NONE;
    if (now_us >= consent_deadline(ice)) {
        ice->state = ICE_STATE_FAILED;
        ice->has_selected = false;
        memset(ice->sources, 0, sizeof ice->sources);
        return ICE_EV_TIMEOUT;
    }
    const ice_source *freshest = NULL;
    for (size_t i = 0; i < ICE_MAX_SOURCES; i++) {
        ice_source *s = &ice->sources[i];
        if (s->used && now_us >= add_sat(s->last_check_us, ice->consent_timeout_us))
            memset(s, 0, sizeof *s);
        if (s->used && (!freshest || s->last_check_us > freshest->last_check_us)) freshest = s;
    }
    if (ice->has_selected && freshest &&
        now_us >= add_sat(ice->selected_check_us, ice->consent_timeout_us)) {
        /* RFC 7675: no more media on a pair without consent; the peer still consents on
         * another address, so the media path moves there. */
        ice->selected = freshest->addr;
        ice->selected_check_us = freshest->last_check_us;
        return ICE_EV_SELECTED;
    }
    return ICE_EV_NONE;
}
