/* peer.c - one junction-load connection: ICE client, then DTLS (either role), then SRTP. */
#include <string.h>

#include "core/err.h"
#include "load/load.h"
#include "rtp/rtp.h"

static void fail(load_peer *p, const char *reason)
{
    if (p->state == LOAD_PEER_FAILED) return;
    p->state = LOAD_PEER_FAILED;
    p->fail_reason = reason;
}

int load_peer_start(load_peer *p, const load_peer_params *prm, uint64_t now_us)
{
    memset(p, 0, sizeof *p);
    p->send = prm->send;
    p->send_ctx = prm->send_ctx;
    p->dtls_role = prm->dtls_role;
    int rc = ice_client_init(&p->ice, prm->local_ufrag, prm->local_pwd, prm->remote_ufrag,
                             prm->remote_pwd, prm->ice_controlling, prm->tiebreaker, now_us);
    if (rc != J_OK) return rc;
    p->dtls = dtls_conn_new(prm->dtls, prm->dtls_role, prm->remote_fingerprint);
    if (!p->dtls) return J_ECRYPTO;
    p->state = LOAD_PEER_ICE;
    return J_OK;
}

void load_peer_free(load_peer *p)
{
    dtls_conn_free(p->dtls);
    j_srtp_free(p->srtp_in);
    j_srtp_free(p->srtp_out);
    p->dtls = NULL;
    p->srtp_in = p->srtp_out = NULL;
}

static void flush_dtls(load_peer *p)
{
    uint8_t buf[DTLS_MTU];
    int n;
    while ((n = dtls_conn_poll_transmit(p->dtls, buf, sizeof buf)) > 0)
        p->send(p->send_ctx, buf, (size_t)n);
}

static void on_dtls_events(load_peer *p)
{
    dtls_event ev;
    while ((ev = dtls_conn_poll_event(p->dtls, NULL)) != DTLS_EV_NONE) {
        if (ev == DTLS_EV_FAILED) fail(p, "DTLS handshake failed");
        if (ev == DTLS_EV_CLOSED) fail(p, "DTLS closed by the server");
        if (ev != DTLS_EV_CONNECTED || p->state == LOAD_PEER_FAILED) continue;
        dtls_srtp_keys keys;
        if (dtls_conn_srtp_keys(p->dtls, &keys) != J_OK) {
            fail(p, "no SRTP profile negotiated");
            continue;
        }
        p->profile = keys.profile;
        p->srtp_out = j_srtp_new(keys.profile, keys.local, keys.len, J_SRTP_OUTBOUND,
                                 J_SRTP_MAX_STREAMS);
        p->srtp_in = j_srtp_new(keys.profile, keys.remote, keys.len, J_SRTP_INBOUND,
                                J_SRTP_MAX_STREAMS);
        memset(&keys, 0, sizeof keys);
        if (!p->srtp_out || !p->srtp_in) {
            fail(p, "cannot create SRTP sessions");
            continue;
        }
        /* A server acting as DTLS client can finish before our ICE nomination did. */
        if (p->state == LOAD_PEER_DTLS) p->state = LOAD_PEER_CONNECTED;
    }
    flush_dtls(p);
}

static void on_ice_selected(load_peer *p, uint64_t now_us)
{
    if (p->state != LOAD_PEER_ICE) return;
    if (p->srtp_in) {
        p->state = LOAD_PEER_CONNECTED;
        return;
    }
    p->state = LOAD_PEER_DTLS;
    /* As DTLS client we speak first; as server we wait for the ClientHello. */
    if (p->dtls_role == DTLS_ROLE_CLIENT && dtls_conn_start(p->dtls, now_us) != J_OK)
        fail(p, "cannot start DTLS");
    on_dtls_events(p);
}

int load_peer_handle_datagram(load_peer *p, uint64_t now_us, const j_addr *from, uint8_t *buf,
                              size_t len, bool decrypt_rtp, size_t *plain_len)
{
    if (p->state == LOAD_PEER_FAILED) return 0;
    j_packet_kind kind = j_demux(buf, len);
    switch (kind) {
    case J_PACKET_STUN: {
        uint8_t out[512];
        ice_event ev = ICE_EV_NONE;
        int n = ice_client_handle_stun(&p->ice, now_us, from, buf, len, out, sizeof out, &ev);
        if (n < 0) p->stun_errors++;
        if (n > 0) p->send(p->send_ctx, out, (size_t)n);
        if (ev == ICE_EV_SELECTED) on_ice_selected(p, now_us);
        return 0;
    }
    case J_PACKET_DTLS:
        /* A server in the DTLS client role may send its ClientHello as soon as its own
         * checks succeed, before our nomination: OpenSSL keeps it until we are ready. */
        if (dtls_conn_handle_input(p->dtls, now_us, buf, len) == J_OK) on_dtls_events(p);
        return 0;
    case J_PACKET_RTP:
    case J_PACKET_RTCP: {
        if (p->state != LOAD_PEER_CONNECTED) return 0;
        if (kind == J_PACKET_RTP && !decrypt_rtp) {
            *plain_len = len;
            return (int)kind;
        }
        int n = kind == J_PACKET_RTP ? j_srtp_unprotect_rtp(p->srtp_in, buf, len)
                                     : j_srtp_unprotect_rtcp(p->srtp_in, buf, len);
        if (n < 0) {
            p->srtp_errors++;
            return 0;
        }
        *plain_len = (size_t)n;
        return (int)kind;
    }
    default:
        return 0;
    }
}

void load_peer_handle_timeout(load_peer *p, uint64_t now_us)
{
    if (p->state == LOAD_PEER_FAILED) return;
    if (ice_client_handle_timeout(&p->ice, now_us) == ICE_EV_TIMEOUT) {
        fail(p, p->state == LOAD_PEER_ICE ? "ICE checks failed" : "ICE consent lost");
        return;
    }
    uint8_t out[512];
    int n = ice_client_poll_transmit(&p->ice, now_us, out, sizeof out);
    if (n > 0) p->send(p->send_ctx, out, (size_t)n);
    if (p->state != LOAD_PEER_CONNECTED) {
        dtls_conn_handle_timeout(p->dtls, now_us);
        on_dtls_events(p);
    }
}

uint64_t load_peer_poll_timeout(load_peer *p, uint64_t now_us)
{
    if (p->state == LOAD_PEER_FAILED) return UINT64_MAX;
    uint64_t t = ice_client_poll_timeout(&p->ice);
    if (p->state != LOAD_PEER_CONNECTED) {
        uint64_t d = dtls_conn_poll_timeout(p->dtls, now_us);
        if (d < t) t = d;
    }
    return t;
}

int load_peer_protect_rtp(load_peer *p, uint8_t *buf, size_t len, size_t cap)
{
    if (p->state != LOAD_PEER_CONNECTED) return J_ESTATE;
    return j_srtp_protect_rtp(p->srtp_out, buf, len, cap);
}

int load_peer_protect_rtcp(load_peer *p, uint8_t *buf, size_t len, size_t cap)
{
    if (p->state != LOAD_PEER_CONNECTED) return J_ESTATE;
    return j_srtp_protect_rtcp(p->srtp_out, buf, len, cap);
}
