/* peer.c - ICE-lite + DTLS + SRTP + RTP/RTCP for one browser connection. */
#include "peer/peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/random.h"
#include "rtcp/rtcp.h"
#include "rtp/rtp.h"
#include "stun/stun.h"

#define PEER_DGRAM_CAP 1600

const char *peer_role_name(peer_role r) { return r == PEER_PUBLISHER ? "publisher" : "viewer"; }

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

/* The address media goes to: the nominated ICE pair, else where DTLS came from. */
static const j_addr *peer_remote(const peer *p)
{
    const j_addr *sel = ice_lite_selected(&p->ice);
    return sel ? sel : &p->dtls_addr;
}

static void send_viewer_rtp(void *ctx, uint8_t *buf, size_t len, size_t cap)
{
    peer *p = ctx;
    if (p->state != PEER_CONNECTED) return;
    int n = j_srtp_protect_rtp(p->srtp_out, buf, len, cap);
    if (n < 0) {
        p->stats.srtp_errors++;
        return;
    }
    p->stats.rtp_out++;
    p->stats.rtp_out_bytes += (uint64_t)n;
    p->env->send(p->env->ctx, peer_remote(p), buf, (size_t)n);
}

/* Publisher side: remember what it negotiated, per kind, for the stream. */
static void setup_publisher(peer *p, const sdp_negotiated *neg)
{
    memset(p->pt_kind, -1, sizeof p->pt_kind);
    for (int i = 0; i < neg->media_count; i++) {
        const sdp_neg_media *m = &neg->media[i];
        int kind = sfu_kind_from_sdp(m->kind);
        if (!m->accepted || kind < 0 || p->source[kind].active) continue;
        sfu_source_track *t = &p->source[kind];
        t->active = true;
        t->codec_count = m->codec_count;
        memcpy(t->codecs, m->codecs, sizeof t->codecs[0] * m->codec_count);
        t->ext_id[SFU_EXT_AUDIO_LEVEL] = m->ext_id[SDP_EXT_AUDIO_LEVEL];
        t->ext_id[SFU_EXT_VIDEO_ORIENTATION] = m->ext_id[SDP_EXT_VIDEO_ORIENTATION];
        for (int c = 0; c < m->codec_count; c++) p->pt_kind[m->codecs[c].pt & 0x7F] = (int8_t)kind;
        if (m->stream_count > 0) p->in_ssrc[kind] = m->streams[0].ssrc;
        if (m->rtcp_rsize) p->rtcp_rsize = true;
    }
}

static void setup_viewer(peer *p, const sdp_negotiated *neg, const uint32_t ssrc[SFU_KINDS])
{
    sfu_subscriber_init(&p->sub, send_viewer_rtp, p);
    for (int i = 0; i < neg->media_count; i++) {
        const sdp_neg_media *m = &neg->media[i];
        int kind = sfu_kind_from_sdp(m->kind);
        if (!m->accepted || kind < 0 || p->sub.tracks[kind].active || !ssrc[kind]) continue;
        sfu_out_track_init(&p->sub.tracks[kind], m, ssrc[kind]);
        if (m->rtcp_rsize) p->rtcp_rsize = true;
    }
    p->rtcp_ssrc = ssrc[SFU_VIDEO] ? ssrc[SFU_VIDEO] : ssrc[SFU_AUDIO];
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
    snprintf(p->stream_name, sizeof p->stream_name, "%s", pp->stream_name);
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
        free(p);
        return NULL;
    }
    p->rtcp_ssrc = j_random_u32();
    if (p->role == PEER_PUBLISHER)
        setup_publisher(p, neg);
    else
        setup_viewer(p, neg, pp->send_ssrc);
    p->next_report_us = now_us + PEER_REPORT_INTERVAL_US;
    J_INFO("peer", "%s %s created for stream '%s' (DTLS %s)", peer_role_name(p->role), p->id,
           p->stream_name, role == DTLS_ROLE_CLIENT ? "client" : "server");
    return p;
}

void peer_free(peer *p)
{
    if (!p) return;
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
    J_INFO("peer", "%s %s of stream '%s' closed: %s", peer_role_name(p->role), p->id,
           p->stream_name, reason);
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
    p->env->on_address(p->env->ctx, p, from);
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
    p->srtp_in = j_srtp_new(keys.profile, keys.remote, keys.len, J_SRTP_INBOUND);
    p->srtp_out = j_srtp_new(keys.profile, keys.local, keys.len, J_SRTP_OUTBOUND);
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
            p->env->on_connected(p->env->ctx, p, now_us);
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

/* Send one compound RTCP packet built by the caller (starting with an RR). */
static void send_rtcp(peer *p, uint8_t *buf, size_t len, size_t cap)
{
    if (p->state != PEER_CONNECTED) return;
    int n = j_srtp_protect_rtcp(p->srtp_out, buf, len, cap);
    if (n < 0) {
        p->stats.srtp_errors++;
        return;
    }
    p->stats.rtcp_out++;
    p->env->send(p->env->ctx, peer_remote(p), buf, (size_t)n);
}

/* An empty RR opens every compound we send (RFC 3550 §6.1), rsize or not. */
static int write_empty_rr(const peer *p, uint8_t *buf, size_t cap)
{
    rtcp_rr rr = {.ssrc = p->rtcp_ssrc};
    return rtcp_rr_write(&rr, buf, cap);
}

void peer_request_keyframe(peer *p)
{
    if (p->role != PEER_PUBLISHER || p->state != PEER_CONNECTED || !p->in_ssrc[SFU_VIDEO])
        return;
    uint8_t buf[256];
    int n = write_empty_rr(p, buf, sizeof buf - 64);
    rtcp_pli pli = {.sender_ssrc = p->rtcp_ssrc, .media_ssrc = p->in_ssrc[SFU_VIDEO]};
    int m = n < 0 ? n : rtcp_pli_write(&pli, buf + n, sizeof buf - 64 - (size_t)n);
    if (m < 0) return;
    p->stats.pli_out++;
    send_rtcp(p, buf, (size_t)(n + m), sizeof buf);
}

static void send_publisher_report(peer *p)
{
    uint8_t buf[256];
    int n = write_empty_rr(p, buf, sizeof buf - 64);
    if (n < 0) return;
    uint32_t ssrcs[SFU_KINDS];
    uint8_t count = 0;
    for (int k = 0; k < SFU_KINDS; k++)
        if (p->in_ssrc[k]) ssrcs[count++] = p->in_ssrc[k];
    if (count > 0) {
        /* REMB tells the browser how much it may send; transport-cc arrives later. */
        rtcp_remb remb = {.sender_ssrc = p->rtcp_ssrc,
                          .bitrate_bps = p->env->publisher_max_bitrate,
                          .ssrc_count = count,
                          .ssrcs = ssrcs};
        int m = rtcp_remb_write(&remb, buf + n, sizeof buf - 64 - (size_t)n);
        if (m > 0) n += m;
    }
    send_rtcp(p, buf, (size_t)n, sizeof buf);
}

static void handle_publisher_rtp(peer *p, uint64_t now_us, uint8_t *buf, size_t len)
{
    rtp_pkt pkt;
    if (rtp_parse(&pkt, buf, len) != J_OK) return;
    int kind = p->pt_kind[pkt.payload_type & 0x7F];
    if (kind < 0) {
        p->stats.unknown_ssrc++; /* RTX or an unnegotiated PT: not forwarded yet */
        return;
    }
    p->in_ssrc[kind] = pkt.ssrc;
    if (p->stream) sfu_stream_forward(p->stream, (sfu_kind)kind, &pkt, now_us);
}

static void handle_rtcp_feedback(peer *p, uint64_t now_us, const uint8_t *buf, size_t len)
{
    rtcp_iter it;
    rtcp_header h;
    rtcp_iter_init(&it, buf, len);
    for (int guard = 0; guard < 64 && rtcp_iter_next(&it, &h) > 0; guard++) {
        if (h.type == RTCP_TYPE_PSFB && (h.count == RTCP_PSFB_PLI || h.count == RTCP_PSFB_FIR)) {
            if (h.count == RTCP_PSFB_PLI)
                p->stats.pli_in++;
            else
                p->stats.fir_in++;
            if (p->role == PEER_VIEWER && p->stream) sfu_stream_request_keyframe(p->stream, now_us);
        } else if (h.type == RTCP_TYPE_RTPFB && h.count == RTCP_RTPFB_NACK) {
            p->stats.nack_in++;
        }
    }
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
        handle_rtcp_feedback(p, now_us, buf, (size_t)n);
        return;
    }
    p->stats.rtp_in++;
    p->stats.rtp_in_bytes += (uint64_t)n;
    if (p->role == PEER_PUBLISHER) handle_publisher_rtp(p, now_us, buf, (size_t)n);
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
    if (p->state == PEER_CONNECTED && now_us >= p->next_report_us) {
        p->next_report_us = now_us + PEER_REPORT_INTERVAL_US;
        if (p->role == PEER_PUBLISHER) send_publisher_report(p);
    }
}

void peer_close(peer *p, const char *reason)
{
    if (p->state == PEER_CONNECTED) {
        dtls_conn_close(p->dtls);
        flush_dtls(p);
    }
    set_closed(p, reason);
}
