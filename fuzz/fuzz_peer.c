/* fuzz_peer.c - a publisher and a subscriber joined by two video tracks (the second one
 * simulcast: rids q/h/f), driven by arbitrary decrypted input: the publisher's RTP (media,
 * RTX, padding; streams learned by MID, rid and repaired rid) and RTCP (SR, XR), the
 * subscriber's RTCP (NACK storms, receiver reports, transport-cc feedback, REMB, PLI), and
 * time passing (reports, NACK timers, transport-cc feedback, bandwidth sharing and probes,
 * the tracks' layer policies).
 *
 * Input: records of [op][len hi][len lo][len bytes]. op & 3 picks the packet's kind
 * (0 publisher RTP, 1 subscriber RTCP, 2 publisher RTCP, 3 none) and op >> 2 the
 * milliseconds that pass before it (each record also runs both peers' timers). The peers
 * are connected with fixed SRTP keys; what they send is dropped; the subscriber's SSRCs are
 * fixed and its numbering (RTP and transport-wide) starts at 0 so inputs can name its
 * packets. Checked with abort(): every NACKed sequence number a subscriber sends is
 * answered, missed or throttled, once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "peer/peer_internal.h"

#define SUB_SSRC 0x3333u
#define SUB_RTX_SSRC 0x4444u

static dtls_ctx *dtls;

static void check(int cond)
{
    if (!cond) abort();
}

static void drop_send(void *ctx, const j_addr *to, const uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)to;
    (void)buf;
    (void)len;
}

static peer_env env = {.consent_timeout_us = UINT64_MAX / 2, .publisher_max_bitrate = 2000000,
                       .min_video_bitrate = 150000, .send = drop_send};

/* The video m= sections both negotiated: VP8 96 (RTX 97), MID id 1, transport-cc id 5; in
 * "0" the publisher announced SSRC 0x1111 with RTX 0x2222, "1" is simulcast (rid id 3,
 * repaired rid id 4). */
static void video_neg(sdp_negotiated *neg, peer_role role)
{
    memset(neg, 0, sizeof *neg);
    strcpy(neg->remote_ufrag, "remote");
    strcpy(neg->remote_fingerprint.alg, "sha-256");
    strcpy(neg->remote_fingerprint.value,
           "AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:"
           "AB:AB:AB:AB:AB");
    neg->our_setup = SDP_SETUP_PASSIVE;
    neg->media_count = 2;
    for (int i = 0; i < 2; i++) {
        sdp_neg_media *m = &neg->media[i];
        m->accepted = true;
        m->kind = SDP_KIND_VIDEO;
        strcpy(m->mid, i ? "1" : "0");
        m->dir = role == PEER_PUBLISHER ? SDP_DIR_RECVONLY : SDP_DIR_SENDONLY;
        m->codec_count = 1;
        m->codecs[0].pt = 96;
        strcpy(m->codecs[0].name, "VP8");
        m->codecs[0].clock_rate = 90000;
        m->codecs[0].rtx_pt = 97;
        m->ext_id[SDP_EXT_MID] = 1;
        m->ext_id[SDP_EXT_TWCC] = 5;
    }
    sdp_neg_media *plain = &neg->media[0], *sim = &neg->media[1];
    plain->stream_count = role == PEER_PUBLISHER;
    plain->streams[0].ssrc = 0x1111;
    plain->streams[0].rtx_ssrc = 0x2222;
    if (role == PEER_PUBLISHER) {
        sim->ext_id[SDP_EXT_RID] = 3;
        sim->ext_id[SDP_EXT_RRID] = 4;
        sim->encoding_count = 3;
        strcpy(sim->encodings[0].rid, "q");
        strcpy(sim->encodings[1].rid, "h");
        strcpy(sim->encodings[2].rid, "f");
    }
}

static peer *connected_peer(peer_role role, sdp_negotiated *neg)
{
    static const uint8_t key[30] = {7};
    video_neg(neg, role);
    peer_params pp = {.role = role, .id = role == PEER_PUBLISHER ? "pub" : "sub", .owner = "fuzz",
                      .local_ufrag = "localufrag", .local_pwd = "localpassword0123456789",
                      .neg = neg, .cname = "fuzz"};
    peer *p = peer_new(&env, &pp, 0);
    check(p != NULL);
    for (uint32_t i = 0; i < 2; i++) {
        if (role == PEER_PUBLISHER)
            check(peer_add_in_track(p, &neg->media[i]) != NULL);
        else
            check(peer_add_out_track(p, &neg->media[i]) != NULL);
    }
    p->srtp_out = j_srtp_new(J_SRTP_PROFILE_AES128_CM_SHA1_80, key, sizeof key, J_SRTP_OUTBOUND,
                             J_SRTP_MAX_STREAMS);
    check(p->srtp_out != NULL);
    p->state = PEER_CONNECTED;
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dtls) {
        j_log_set_level(J_LOG_ERROR);
        dtls_cert *cert;
        check(dtls_cert_generate(&cert) == J_OK);
        dtls = dtls_ctx_new(cert);
        dtls_cert_free(cert);
        check(dtls != NULL);
        env.dtls = dtls;
    }
    static sdp_negotiated neg;
    peer *pub = connected_peer(PEER_PUBLISHER, &neg);
    peer *sub = connected_peer(PEER_SUBSCRIBER, &neg);
    sfu_track *tracks[2];
    for (int i = 0; i < 2; i++) {
        tracks[i] = sfu_track_new(i ? "simulcast" : "video", SFU_VIDEO);
        check(tracks[i] != NULL);
        pub->in[i]->track = tracks[i];
        sfu_track_attach_source(tracks[i], &pub->in[i]->source, peer_request_keyframe, pub, 0);
        check(sfu_track_add_downtrack(tracks[i], &sub->out[i]->down, 0) == J_OK);
        sfu_seqmap_init(&sub->out[i]->down.seq, (uint16_t)(i * 0x8000), 0);
        sub->out[i]->down.ssrc = SUB_SSRC + 2 * (uint32_t)i;
        sub->out[i]->down.rtx_ssrc = SUB_RTX_SSRC + 2 * (uint32_t)i;
    }
    bwe_twcc_history_init(sub->twcc_out, 0);

    uint64_t now = 1000;
    uint8_t buf[1600];
    size_t off = 0;
    while (size - off >= 3) {
        uint8_t op = data[off];
        size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
        off += 3;
        if (len > size - off) len = size - off;
        if (len > 1500) len = 1500;
        memcpy(buf, data + off, len);
        off += len;
        now += (uint64_t)(op >> 2) * 1000;
        switch (op & 3) {
        case 0: peer_rtp_handle(pub, now, buf, len); break;
        case 1: peer_rtcp_handle(sub, now, buf, len); break;
        case 2: peer_rtcp_handle(pub, now, buf, len); break;
        default: break;
        }
        peer_handle_timeout(pub, now);
        peer_handle_timeout(sub, now);
        for (int i = 0; i < 2; i++) sfu_track_handle_timeout(tracks[i], now);
    }
    const peer_stats *st = &sub->stats;
    check(st->nack_in == st->nack_answered + st->nack_missed + st->nack_throttled);
    peer_quality q;
    peer_quality_get(pub, &q);
    peer_quality_get(sub, &q);

    for (int i = 0; i < 2; i++) sfu_track_free(tracks[i]);
    peer_free(pub);
    peer_free(sub);
    return 0;
}
