/* peer.c - one browser connection: lifetime, tracks, ICE-lite, DTLS and SRTP. Media and
 * RTCP are in peer_rtp.c and peer_rtcp.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "core/log.h"
#include "core/random.h"
#include "peer/peer_internal.h"
#include "stun/stun.h"

const char *peer_role_name(peer_role r) { return r == PEER_PUBLISHER ? "publisher" : "subscriber"; }

bool peer_neg_carries(const sdp_neg_media *m, peer_role role)
{
    if (!m->accepted || sfu_kind_from_sdp(m->kind) < 0) return false;
    sdp_dir want = role == PEER_PUBLISHER ? SDP_DIR_RECVONLY : SDP_DIR_SENDONLY;
    return m->dir == want || m->dir == SDP_DIR_SENDRECV;
}

const char *peer_state_name(peer_state s)
{
    switch (s) {
    case PEER_NEW: return "new";
    case PEER_CONNECTING: return "connecting";
    case PEER_CONNECTED: return "connected";
    case PEER_CLOSED: return "closed";
    }
    return "?";
}

const j_addr *peer_remote(const peer *p)
{
    const j_addr *sel = ice_lite_selected(&p->ice);
    return sel ? sel : &p->dtls_addr;
}

bool peer_neg_has_rtx(const sdp_neg_media *m)
{
    for (int i = 0; i < m->codec_count; i++)
        if (m->codecs[i].rtx_pt) return true;
    return false;
}

/* An SSRC this connection never sent from before (0 once 2^32 - 1 are used): SRTP forgets a
 * retired SSRC's index, so protecting it again would reuse keystream. Counter x an odd
 * number + an offset is a bijection on 32 bits, so distinct counters give distinct SSRCs;
 * the multiplier and offset are random per connection, so the SSRCs look random too. */
static uint32_t new_ssrc(peer *p)
{
    while (p->ssrcs.used < UINT32_MAX) {
        uint32_t ssrc = p->ssrcs.used++ * p->ssrcs.scale + p->ssrcs.offset;
        if (ssrc) return ssrc; /* 0 means none */
    }
    return 0;
}

void peer_srtp_retire(j_srtp *s, uint32_t ssrc)
{
    if (s && ssrc) j_srtp_remove_stream(s, ssrc);
}

/* A subscriber's egress estimate: transport-cc feedback or REMB, RR loss, RTT. */
static int setup_subscriber(peer *p)
{
    p->bwe = malloc(sizeof *p->bwe);
    if (!p->bwe) return J_ENOMEM;
    bwe_gcc_init(p->bwe, NULL);
    p->share.probe_wait_us = PEER_PROBE_AFTER_US;
    return J_OK;
}

peer *peer_new(const peer_env *env, const peer_params *pp, uint64_t now_us)
{
    peer *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->env = env;
    p->role = pp->role;
    p->state = PEER_NEW;
    p->created_us = now_us;
    snprintf(p->id, sizeof p->id, "%s", pp->id);
    snprintf(p->owner, sizeof p->owner, "%s", pp->owner);
    const sdp_negotiated *neg = pp->neg;
    if (ice_lite_init(&p->ice, pp->local_ufrag, pp->local_pwd, neg->remote_ufrag, now_us) !=
        J_OK) {
        free(p);
        return NULL;
    }
    p->ice.consent_timeout_us = env->consent_timeout_us;

    char fingerprint[SDP_FP_ALG_LEN + SDP_FP_VALUE_LEN + 2];
    snprintf(fingerprint, sizeof fingerprint, "%s %s", neg->remote_fingerprint.alg,
             neg->remote_fingerprint.value);
    dtls_role role = neg->our_setup == SDP_SETUP_ACTIVE ? DTLS_ROLE_CLIENT : DTLS_ROLE_SERVER;
    p->dtls = dtls_conn_new(env->dtls, role, fingerprint);
    if (!p->dtls) {
        peer_free(p);
        return NULL;
    }
    p->srtp_streams = PEER_SRTP_RTCP_STREAMS;
    p->ssrcs.scale = j_random_u32() | 1u;
    p->ssrcs.offset = j_random_u32();
    p->rtcp_ssrc = new_ssrc(p);
    for (int i = 0; i < neg->media_count; i++)
        if (neg->media[i].accepted && neg->media[i].rtcp_rsize) p->rtcp_rsize = true;
    snprintf(p->cname, sizeof p->cname, "%s", pp->cname && pp->cname[0] ? pp->cname : pp->id);
    p->next_report_us = now_us + PEER_REPORT_INTERVAL_US;
    p->rate.at_us = now_us;
    rtp_rtt_init(&p->rtt);
    if (p->role == PEER_SUBSCRIBER && setup_subscriber(p) != J_OK) {
        peer_free(p);
        return NULL;
    }
    J_INFO("peer", "%s %s created for %s (DTLS %s)", peer_role_name(p->role), p->id, p->owner,
           role == DTLS_ROLE_CLIENT ? "client" : "server");
    return p;
}

int peer_restart_ice(peer *p, const char *local_ufrag, const char *local_pwd,
                     const char *remote_ufrag, uint64_t now_us)
{
    uint64_t consent = p->ice.consent_timeout_us;
    ice_lite fresh;
    int rc = ice_lite_init(&fresh, local_ufrag, local_pwd, remote_ufrag, now_us);
    if (rc != J_OK) return rc;
    fresh.consent_timeout_us = consent;
    p->ice = fresh; /* media keeps going to the DTLS address until a new pair is nominated */
    J_INFO("peer", "%s %s: ICE restart", peer_role_name(p->role), p->id);
    return J_OK;
}

/* SSRCs the SRTP sessions need room for with n streams more than the tracks held: media
 * and RTX for each stream, and RTCP senders. */
static size_t srtp_streams_needed(const peer *p, size_t n)
{
    size_t streams = n + (size_t)p->n_out;
    for (int i = 0; i < p->n_in; i++) streams += p->in[i]->n_streams;
    size_t want = PEER_SRTP_RTCP_STREAMS + 2 * streams;
    return want < J_SRTP_MAX_STREAMS ? want : J_SRTP_MAX_STREAMS;
}

/* Room in the SRTP sessions for n more streams' SSRCs (the sessions never shrink). */
static int reserve_srtp_streams(peer *p, size_t n)
{
    p->srtp_streams = srtp_streams_needed(p, n);
    if (!p->srtp_in) return J_OK; /* sized when DTLS completes */
    int rc = j_srtp_reserve(p->srtp_in, p->srtp_streams);
    return rc == J_OK ? j_srtp_reserve(p->srtp_out, p->srtp_streams) : rc;
}

/* Transport-wide sequence numbers (BUNDLE: one id for the transport): a publisher's are
 * recorded for feedback, a subscriber's egress is numbered. */
static int setup_transport_cc(peer *p, const sdp_neg_media *m)
{
    uint8_t id = m->ext_id[SDP_EXT_TWCC];
    if (!id || p->twcc_ext_id) return J_OK;
    if (p->role == PEER_PUBLISHER) {
        p->twcc_in = malloc(sizeof *p->twcc_in);
        if (!p->twcc_in) return J_ENOMEM;
        bwe_twcc_recorder_init(p->twcc_in, p->rtcp_ssrc, 0, 0);
    } else {
        p->twcc_out = malloc(sizeof *p->twcc_out);
        if (!p->twcc_out) return J_ENOMEM;
        bwe_twcc_history_init(p->twcc_out, (uint16_t)j_random_u32());
    }
    p->twcc_ext_id = id;
    return J_OK;
}

static void free_in_track(peer_in_track *t)
{
    for (int i = 0; i < SDP_MAX_ENCODINGS; i++) free(t->streams[i].nack);
    free(t);
}

/* The codecs t receives and the RTX payload types that repair them, as m negotiated. */
static void set_in_codecs(peer_in_track *t, const sdp_neg_media *m)
{
    t->source.codec_count = m->codec_count;
    memcpy(t->source.codecs, m->codecs, sizeof t->source.codecs[0] * m->codec_count);
    memset(t->apt, SFU_NO_PT, sizeof t->apt);
    for (int i = 0; i < m->codec_count; i++)
        if (m->codecs[i].rtx_pt) t->apt[m->codecs[i].rtx_pt & 0x7F] = m->codecs[i].pt;
}

bool peer_in_track_update_codecs(peer_in_track *t, const sdp_neg_media *m)
{
    bool same = t->source.codec_count == m->codec_count;
    for (int i = 0; same && i < m->codec_count; i++) {
        const sdp_codec *was = &t->source.codecs[i], *now = &m->codecs[i];
        same = was->pt == now->pt && was->rtx_pt == now->rtx_pt && sdp_codec_same(was, now);
    }
    if (same) return false;
    set_in_codecs(t, m);
    return true;
}

peer_in_track *peer_add_in_track(peer *p, const sdp_neg_media *m)
{
    int kind = sfu_kind_from_sdp(m->kind);
    if (p->n_in == PEER_MAX_TRACKS || kind < 0 || setup_transport_cc(p, m) != J_OK ||
        reserve_srtp_streams(p, m->encoding_count > 0 ? m->encoding_count : 1) != J_OK)
        return NULL;
    peer_in_track *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    snprintf(t->mid, sizeof t->mid, "%s", m->mid);
    t->kind = (sfu_kind)kind;
    t->n_streams = m->encoding_count > 0 ? m->encoding_count : 1;
    for (int i = 0; i < t->n_streams && t->kind == SFU_VIDEO; i++) {
        t->streams[i].nack = malloc(sizeof *t->streams[i].nack); /* set up by its first packet */
        if (!t->streams[i].nack) {
            free_in_track(t);
            return NULL;
        }
    }
    if (m->encoding_count > 0) {
        for (int i = 0; i < m->encoding_count; i++)
            snprintf(t->streams[i].rid, sizeof t->streams[i].rid, "%s", m->encodings[i].rid);
    } else {
        if (m->stream_count > 0) {
            t->streams[0].ssrc = m->streams[0].ssrc;
            t->streams[0].rtx_ssrc = m->streams[0].rtx_ssrc;
        }
    }
    sfu_source_from_neg(&t->source, m);
    set_in_codecs(t, m);
    if (m->ext_id[SDP_EXT_MID]) p->mid_ext_id = m->ext_id[SDP_EXT_MID];
    if (m->ext_id[SDP_EXT_RID]) p->rid_ext_id = m->ext_id[SDP_EXT_RID];
    if (m->ext_id[SDP_EXT_RRID]) p->rrid_ext_id = m->ext_id[SDP_EXT_RRID];
    p->in[p->n_in++] = t;
    return t;
}

peer_out_track *peer_add_out_track(peer *p, const sdp_neg_media *m)
{
    int kind = sfu_kind_from_sdp(m->kind);
    if (p->n_out == PEER_MAX_TRACKS || kind < 0 || setup_transport_cc(p, m) != J_OK ||
        reserve_srtp_streams(p, 1) != J_OK)
        return NULL;
    uint32_t ssrc = new_ssrc(p);
    uint32_t rtx_ssrc = peer_neg_has_rtx(m) ? new_ssrc(p) : 0;
    if (!ssrc || (peer_neg_has_rtx(m) && !rtx_ssrc)) return NULL;
    peer_out_track *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    snprintf(t->mid, sizeof t->mid, "%s", m->mid);
    t->kind = (sfu_kind)kind;
    sfu_downtrack_init(&t->down, m, ssrc, rtx_ssrc, peer_rtp_send_downtrack, p);
    p->out[p->n_out++] = t;
    return t;
}

void peer_remove_in_track(peer *p, int index)
{
    peer_in_track *t = p->in[index];
    for (int i = 0; i < t->n_streams; i++) {
        peer_srtp_retire(p->srtp_in, t->streams[i].ssrc);
        peer_srtp_retire(p->srtp_in, t->streams[i].rtx_ssrc);
    }
    free_in_track(t);
    p->in[index] = p->in[--p->n_in];
    p->srtp_streams = srtp_streams_needed(p, 0);
}

void peer_remove_out_track(peer *p, int index)
{
    peer_out_track *t = p->out[index];
    peer_srtp_retire(p->srtp_out, t->down.ssrc);
    peer_srtp_retire(p->srtp_out, t->down.rtx_ssrc);
    free(t);
    p->out[index] = p->out[--p->n_out];
    p->srtp_streams = srtp_streams_needed(p, 0);
}

peer_in_track *peer_find_in_track(const peer *p, const char *mid, int *index)
{
    for (int i = 0; i < p->n_in; i++) {
        if (strcmp(p->in[i]->mid, mid) == 0) {
            if (index) *index = i;
            return p->in[i];
        }
    }
    return NULL;
}

peer_out_track *peer_find_out_track(const peer *p, const char *mid, int *index)
{
    for (int i = 0; i < p->n_out; i++) {
        if (strcmp(p->out[i]->mid, mid) == 0) {
            if (index) *index = i;
            return p->out[i];
        }
    }
    return NULL;
}

void peer_free(peer *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_in; i++) free_in_track(p->in[i]);
    for (int i = 0; i < p->n_out; i++) free(p->out[i]);
    free(p->twcc_in);
    free(p->twcc_out);
    free(p->bwe);
    dtls_conn_free(p->dtls);
    j_srtp_free(p->srtp_in);
    j_srtp_free(p->srtp_out);
    free(p);
}

static void set_closed(peer *p, const char *reason)
{
    if (p->state == PEER_CLOSED) return;
    p->state = PEER_CLOSED;
    p->close_reason = reason;
    J_INFO("peer", "%s %s of %s closed: %s", peer_role_name(p->role), p->id, p->owner, reason);
}

static void flush_dtls(peer *p)
{
    uint8_t out[PEER_DGRAM_CAP];
    for (int i = 0; i < 64; i++) { /* bounded: one handshake flight is a handful */
        int n = dtls_conn_poll_transmit(p->dtls, out, sizeof out);
        if (n <= 0) break;
        p->env->send(p->env->ctx, peer_remote(p), out, (size_t)n);
    }
}

static void remember_address(peer *p, const j_addr *from)
{
    for (int i = 0; i < p->n_addrs; i++)
        if (j_addr_equal(&p->addrs[i], from)) return;
    if (p->n_addrs == PEER_MAX_ADDRS) return; /* ICE keeps as many; older ones stay routed */
    p->addrs[p->n_addrs++] = *from;
    if (p->env->on_address) p->env->on_address(p->env->ctx, p, from);
}

void peer_handle_stun(peer *p, uint64_t now_us, const j_addr *from, const uint8_t *buf,
                      size_t len)
{
    if (p->state == PEER_CLOSED) return;
    uint8_t out[PEER_DGRAM_CAP];
    ice_event ev = ICE_EV_NONE;
    int n = ice_lite_handle_stun(&p->ice, now_us, from, buf, len, out, sizeof out, &ev);
    if (n > 0) p->env->send(p->env->ctx, from, out, (size_t)n);
    if (n == J_EAUTH) p->stats.ice_auth_failures++;
    if (n < 0) return;
    if (ice_lite_is_valid_source(&p->ice, from)) remember_address(p, from);
    if (p->state == PEER_NEW && ice_lite_selected(&p->ice)) {
        p->state = PEER_CONNECTING;
        char a[J_ADDR_STRLEN];
        J_INFO("peer", "%s %s: ICE connected from %s", peer_role_name(p->role), p->id,
               j_addr_str(from, a));
        p->dtls_addr = *from;
        if (dtls_conn_start(p->dtls, now_us) == J_OK) flush_dtls(p);
    } else if (ev == ICE_EV_SELECTED) {
        char a[J_ADDR_STRLEN];
        J_INFO("peer", "%s %s: media path moved to %s", peer_role_name(p->role), p->id,
               j_addr_str(from, a));
    }
}

static int setup_srtp(peer *p)
{
    dtls_srtp_keys keys;
    int rc = dtls_conn_srtp_keys(p->dtls, &keys);
    if (rc != J_OK) return rc;
    p->srtp_in = j_srtp_new(keys.profile, keys.remote, keys.len, J_SRTP_INBOUND, p->srtp_streams);
    p->srtp_out = j_srtp_new(keys.profile, keys.local, keys.len, J_SRTP_OUTBOUND, p->srtp_streams);
    memset(&keys, 0, sizeof keys);
    return p->srtp_in && p->srtp_out ? J_OK : J_ECRYPTO;
}

static void handle_dtls_events(peer *p, uint64_t now_us)
{
    dtls_event ev;
    const char *reason = NULL;
    while ((ev = dtls_conn_poll_event(p->dtls, &reason)) != DTLS_EV_NONE) {
        if (ev == DTLS_EV_CONNECTED && p->state != PEER_CONNECTED) {
            if (setup_srtp(p) != J_OK) {
                set_closed(p, "SRTP setup failed");
                return;
            }
            p->state = PEER_CONNECTED;
            J_INFO("peer", "%s %s: DTLS connected, media flowing", peer_role_name(p->role),
                   p->id);
            if (p->env->on_connected) p->env->on_connected(p->env->ctx, p, now_us);
        } else if (ev == DTLS_EV_FAILED) {
            J_WARN("peer", "%s %s: DTLS failed: %s", peer_role_name(p->role), p->id,
                   reason ? reason : "unknown reason");
            set_closed(p, "DTLS handshake failed");
            return;
        } else if (ev == DTLS_EV_CLOSED) {
            set_closed(p, "DTLS closed by the peer");
            return;
        }
    }
}

void peer_handle_dtls(peer *p, uint64_t now_us, const j_addr *from, const uint8_t *buf,
                      size_t len)
{
    if (p->state == PEER_CLOSED || p->state == PEER_NEW) return;
    p->dtls_addr = *from;
    dtls_conn_handle_input(p->dtls, now_us, buf, len);
    flush_dtls(p);
    handle_dtls_events(p, now_us);
}

void peer_handle_srtp(peer *p, uint64_t now_us, const j_addr *from, uint8_t *buf, size_t len,
                      bool is_rtcp)
{
    (void)from;
    if (p->state != PEER_CONNECTED) return;
    int n = is_rtcp ? j_srtp_unprotect_rtcp(p->srtp_in, buf, len)
                    : j_srtp_unprotect_rtp(p->srtp_in, buf, len);
    if (n == J_EREPLAY) {
        p->stats.srtp_replays++;
        return;
    }
    if (n < 0) {
        p->stats.srtp_errors++;
        return;
    }
    if (is_rtcp) {
        p->stats.rtcp_in++;
        peer_rtcp_handle(p, now_us, buf, (size_t)n);
        /* A sender report comes from a media sender: from one we do not route (retired, its
         * reports still on their way), it keeps no SRTCP state either. */
        uint32_t sender = rd_be32(buf + 4);
        if (buf[1] == RTCP_TYPE_SR && !peer_rtp_routes(p, sender))
            peer_srtp_retire(p->srtp_in, sender);
        return;
    }
    p->stats.rtp_in++;
    p->stats.rtp_in_bytes += (uint64_t)n;
    /* Only the streams we route keep SRTP state: a retired SSRC's packets still on their way
     * (or any stream we do not take) would otherwise take a slot back for good. */
    if (p->role != PEER_PUBLISHER || !peer_rtp_handle(p, now_us, buf, (size_t)n))
        peer_srtp_retire(p->srtp_in, rd_be32(buf + 8));
}

void peer_handle_timeout(peer *p, uint64_t now_us)
{
    if (p->state == PEER_CLOSED) return;
    if (ice_lite_handle_timeout(&p->ice, now_us) == ICE_EV_TIMEOUT) {
        set_closed(p, p->state == PEER_NEW ? "no ICE check arrived in time"
                                           : "ICE consent expired (no checks for too long)");
        return;
    }
    if (p->state == PEER_CONNECTING) {
        dtls_conn_handle_timeout(p->dtls, now_us);
        flush_dtls(p);
        handle_dtls_events(p, now_us);
    }
    if (p->state == PEER_CONNECTED) peer_rtcp_handle_timeout(p, now_us);
}

void peer_close(peer *p, const char *reason)
{
    if (p->state == PEER_CONNECTED) {
        dtls_conn_close(p->dtls);
        flush_dtls(p);
    }
    set_closed(p, reason);
}
