/* peer_test.c - RTCP per leg and loss repair, end to end through SRTP: a publisher peer and a
 * subscriber peer joined by a track, each facing a simulated browser that holds the other
 * half of its SRTP keys (the DTLS handshake is skipped: its keys are set directly). Time is
 * virtual. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "dtls/dtls_test_support.h"
#include "peer/peer.h"
#include "rtcp/rtcp.h"
#include "rtp/rtp.h"

#define MS 1000u
#define S 1000000u
#define MAX_CAUGHT 256

#define VIDEO_PT 96
#define VIDEO_RTX_PT 97
#define SUB_VIDEO_PT 100
#define SUB_RTX_PT 101
#define MID_EXT 1
#define TWCC_EXT 5
#define PUB_SSRC 0x1111u
#define PUB_RTX_SSRC 0x2222u


/* What the peers sent, as their browsers read it (decrypted). */
typedef struct caught {
    bool rtcp;
    uint8_t buf[1600];
    size_t len;
} caught;

/* One simulated browser: the other ends of a peer's SRTP sessions, and what it received. */
typedef struct browser {
    peer *p;
    j_srtp *out; /* protects what it sends to the peer */
    j_srtp *in;  /* unprotects what the peer sends it */
    caught got[MAX_CAUGHT];
    int n_got;
} browser;

static void on_send(void *ctx, const j_addr *to, const uint8_t *buf, size_t len)
{
    (void)to;
    browser *b = ctx;
    assert_true(b->n_got < MAX_CAUGHT);
    caught *c = &b->got[b->n_got];
    memcpy(c->buf, buf, len);
    c->rtcp = rtcp_is_rtcp(buf, len);
    int n = c->rtcp ? j_srtp_unprotect_rtcp(b->in, c->buf, len) : j_srtp_unprotect_rtp(b->in, c->buf, len);
    assert_true(n > 0);
    c->len = (size_t)n;
    b->n_got++;
}

static sdp_codec codec(uint8_t pt, const char *name, uint32_t clock, uint8_t rtx_pt)
{
    sdp_codec c;
    memset(&c, 0, sizeof c);
    c.pt = pt;
    strcpy(c.name, name);
    c.clock_rate = clock;
    c.rtx_pt = rtx_pt;
    c.rtcp_fb = SDP_FB_NACK | SDP_FB_PLI | SDP_FB_TWCC;
    return c;
}

/* A negotiated offer with one video m= section (mid "0") in the role's direction. */
static sdp_negotiated *video_neg(peer_role role)
{
    sdp_negotiated *neg = calloc(1, sizeof *neg);
    assert_non_null(neg);
    strcpy(neg->remote_ufrag, "remote");
    strcpy(neg->remote_fingerprint.alg, "sha-256");
    strcpy(neg->remote_fingerprint.value,
           "AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:"
           "AB:AB:AB:AB:AB");
    neg->our_setup = SDP_SETUP_PASSIVE;
    neg->media_count = 1;
    sdp_neg_media *m = &neg->media[0];
    m->accepted = true;
    m->kind = SDP_KIND_VIDEO;
    strcpy(m->mid, "0");
    m->dir = role == PEER_PUBLISHER ? SDP_DIR_RECVONLY : SDP_DIR_SENDONLY;
    m->codec_count = 1;
    bool pub = role == PEER_PUBLISHER;
    m->codecs[0] = codec(pub ? VIDEO_PT : SUB_VIDEO_PT, "VP8", 90000, pub ? VIDEO_RTX_PT : SUB_RTX_PT);
    m->ext_id[SDP_EXT_MID] = MID_EXT;
    m->ext_id[SDP_EXT_TWCC] = TWCC_EXT;
    if (pub) {
        m->stream_count = 1;
        m->streams[0].ssrc = PUB_SSRC;
        m->streams[0].rtx_ssrc = PUB_RTX_SSRC;
    }
    return neg;
}

static const uint8_t key_up[30] = {1, 2, 3};   /* browser -> peer */
static const uint8_t key_down[30] = {4, 5, 6}; /* peer -> browser */

typedef struct rig {
    peer_env env_pub, env_sub;
    browser pub, sub;
    sfu_track *track;
    peer_out_track *out;
} rig;

static void connect_browser(browser *b)
{
    peer *p = b->p;
    const j_srtp_profile cm = J_SRTP_PROFILE_AES128_CM_SHA1_80;
    /* The peer's sessions sized as DTLS completion sizes them. */
    p->srtp_in = j_srtp_new(cm, key_up, sizeof key_up, J_SRTP_INBOUND, p->srtp_streams);
    p->srtp_out = j_srtp_new(cm, key_down, sizeof key_down, J_SRTP_OUTBOUND, p->srtp_streams);
    b->out = j_srtp_new(cm, key_up, sizeof key_up, J_SRTP_OUTBOUND, J_SRTP_MAX_STREAMS);
    b->in = j_srtp_new(cm, key_down, sizeof key_down, J_SRTP_INBOUND, J_SRTP_MAX_STREAMS);
    assert_true(p->srtp_in && p->srtp_out && b->out && b->in);
    p->state = PEER_CONNECTED;
}

static peer *make_peer(peer_env *env, browser *b, peer_role role, const char *id)
{
    *env = (peer_env){.dtls = group_dtls, .consent_timeout_us = 3600u * S, .publisher_max_bitrate = 2000000,
                      .min_video_bitrate = 150000, .send = on_send, .ctx = b};
    sdp_negotiated *neg = video_neg(role);
    peer_params pp = {.role = role, .id = id, .owner = "test", .local_ufrag = "localufrag",
                      .local_pwd = "localpassword0123456789", .neg = neg, .cname = "cn"};
    peer *p = peer_new(env, &pp, 0);
    assert_non_null(p);
    b->p = p;
    if (role == PEER_PUBLISHER)
        assert_non_null(peer_add_in_track(p, &neg->media[0]));
    else
        assert_non_null(peer_add_out_track(p, &neg->media[0]));
    free(neg);
    connect_browser(b);
    return p;
}

static void rig_up(rig *r)
{
    memset(r, 0, sizeof *r);
    peer *pub = make_peer(&r->env_pub, &r->pub, PEER_PUBLISHER, "pub");
    peer *sub = make_peer(&r->env_sub, &r->sub, PEER_SUBSCRIBER, "sub");
    r->track = sfu_track_new("video", SFU_VIDEO);
    assert_non_null(r->track);
    pub->in[0]->track = r->track;
    sfu_track_attach_source(r->track, &pub->in[0]->source, peer_request_keyframe, pub, 0);
    r->out = sub->out[0];
    assert_int_equal(sfu_track_add_downtrack(r->track, &r->out->down, 0), J_OK);
}

static void rig_down(rig *r)
{
    sfu_track_free(r->track); /* detaches the downtrack first, as the engine does */
    browser *both[] = {&r->pub, &r->sub};
    for (int i = 0; i < 2; i++) {
        peer_free(both[i]->p);
        j_srtp_free(both[i]->out);
        j_srtp_free(both[i]->in);
    }
}

/* The browser sends an RTP or RTCP packet (plain in buf, room for the tag) at now. */
static void browser_send(browser *b, uint8_t *buf, size_t len, bool rtcp, uint64_t now)
{
    int n = rtcp ? j_srtp_protect_rtcp(b->out, buf, len, len + 64)
                 : j_srtp_protect_rtp(b->out, buf, len, len + 64);
    assert_true(n > 0);
    j_addr from;
    memset(&from, 0, sizeof from);
    peer_handle_srtp(b->p, now, &from, buf, (size_t)n, rtcp);
}

/* A frame's RTP timestamp: 3000 ticks per sequence number, rising across the sequence wrap
 * the tests cross (from 60000 on). */
static uint32_t pub_ts(uint16_t seq) { return (uint16_t)(seq - 60000u) * 3000u; }

/* A VP8 keyframe: payload descriptor, then the frame's first bytes. */
static const uint8_t key_payload[] = {0x10, 0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02};

/* The publisher's browser sends VP8 seq (a keyframe when key) with transport-wide twcc. */
static void publish(rig *r, uint16_t seq, uint16_t twcc, bool key, uint64_t now)
{
    static const uint8_t delta_payload[] = {0x10, 0x51, 0x01, 0x00, 0xCC, 0xDD};
    uint8_t tw[2];
    wr_be16(tw, twcc);
    rtp_ext_elem exts[] = {{.id = MID_EXT, .data = (const uint8_t *)"0", .len = 1},
                           {.id = TWCC_EXT, .data = tw, .len = 2}};
    rtp_header_out h = {.payload_type = VIDEO_PT, .seq = seq, .timestamp = pub_ts(seq),
                        .ssrc = PUB_SSRC};
    uint8_t buf[1600];
    int n = rtp_write_packet(&h, exts, 2, key ? key_payload : delta_payload,
                             key ? sizeof key_payload : sizeof delta_payload, buf, 1500);
    assert_true(n > 0);
    browser_send(&r->pub, buf, (size_t)n, false, now);
}

/* The publisher's browser resends seq on its RTX stream. */
static void publish_rtx(rig *r, uint16_t rtx_seq, uint16_t seq, uint64_t now)
{
    static const uint8_t delta_payload[] = {0x10, 0x51, 0x01, 0x00, 0xCC, 0xDD};
    rtp_header_out h = {.payload_type = VIDEO_RTX_PT, .seq = rtx_seq, .timestamp = pub_ts(seq),
                        .ssrc = PUB_RTX_SSRC};
    uint8_t buf[1600];
    int n = rtp_rtx_wrap(&h, NULL, 0, seq, delta_payload, sizeof delta_payload, buf, 1500);
    assert_true(n > 0);
    browser_send(&r->pub, buf, (size_t)n, false, now);
}

/* Find the first RTCP packet of type (and FMT/count, -1: any) the browser got from index
 * from on; its index, or -1. */
static int find_rtcp(const browser *b, int from, uint8_t type, int fmt, rtcp_header *out)
{
    for (int i = from; i < b->n_got; i++) {
        if (!b->got[i].rtcp) continue;
        rtcp_iter it;
        rtcp_iter_init(&it, b->got[i].buf, b->got[i].len);
        while (rtcp_iter_next(&it, out) == 1)
            if (out->type == type && (fmt < 0 || out->count == fmt)) return i;
    }
    return -1;
}

/* The subscriber's browser: the RTP packets it got, parsed, from index from on. */
static int rtp_got(const browser *b, int from, rtp_pkt *out, int cap)
{
    int n = 0;
    for (int i = from; i < b->n_got && n < cap; i++)
        if (!b->got[i].rtcp && rtp_parse(&out[n], b->got[i].buf, b->got[i].len) == J_OK) n++;
    return n;
}

static void test_gap_is_nacked_and_rtx_fills_it_downstream(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    publish(&r, 100, 1, true, 10 * MS);
    publish(&r, 101, 2, false, 43 * MS);
    publish(&r, 103, 4, false, 76 * MS); /* 102 lost upstream */
    peer_handle_timeout(r.pub.p, 78 * MS);  /* within the reorder delay */
    rtcp_header h;
    assert_int_equal(find_rtcp(&r.pub, 0, RTCP_TYPE_RTPFB, RTCP_RTPFB_NACK, &h), -1);
    peer_handle_timeout(r.pub.p, 90 * MS);
    assert_true(find_rtcp(&r.pub, 0, RTCP_TYPE_RTPFB, RTCP_RTPFB_NACK, &h) >= 0);
    rtcp_nack nack;
    assert_int_equal(rtcp_nack_parse(&nack, &h), J_OK);
    assert_int_equal(nack.media_ssrc, PUB_SSRC);
    uint16_t lost[4];
    assert_int_equal(rtcp_nack_expand(&nack, lost, 4), 1);
    assert_int_equal(lost[0], 102);
    assert_int_equal(r.pub.p->stats.nack_out, 1);

    /* The retransmission arrives on the RTX stream: unwrapped, forwarded in place. */
    publish_rtx(&r, 9, 102, 95 * MS);
    assert_int_equal(r.pub.p->stats.rtx_in, 1);
    rtp_pkt got[8];
    assert_int_equal(rtp_got(&r.sub, 0, got, 8), 4);
    assert_int_equal(got[3].ssrc, r.out->down.ssrc);
    assert_int_equal(got[3].payload_type, SUB_VIDEO_PT);
    assert_int_equal((uint16_t)(got[3].seq - got[0].seq), 2); /* 102 fills the gap */
    /* Repaired: no further request for it. */
    int before = r.pub.n_got;
    peer_handle_timeout(r.pub.p, 400 * MS);
    assert_int_equal(find_rtcp(&r.pub, before, RTCP_TYPE_RTPFB, RTCP_RTPFB_NACK, &h), -1);
    /* Resent again (a bandwidth probe padded with old packets): nothing more downstream. */
    publish_rtx(&r, 10, 102, 410 * MS);
    publish_rtx(&r, 11, 100, 420 * MS);
    assert_int_equal(r.pub.p->stats.rtx_in, 3);
    assert_int_equal(rtp_got(&r.sub, 0, got, 8), 4);
    rig_down(&r);
}

static void test_subscriber_nack_is_answered_with_rtx(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    for (uint16_t i = 0; i < 40; i++) publish(&r, (uint16_t)(65520 + i), i, i == 0, (10 + 33 * i) * MS);
    rtp_pkt got[64];
    int n = rtp_got(&r.sub, 0, got, 64);
    assert_int_equal(n, 40);
    /* The subscriber lost its packets 15..17 (across the source's wrap at 65535). */
    uint16_t want[] = {got[15].seq, got[16].seq, got[17].seq};
    rtcp_nack nack = {.sender_ssrc = 1, .media_ssrc = r.out->down.ssrc, .lost = want, .lost_count = 3};
    uint8_t buf[128];
    int len = rtcp_nack_write(&nack, buf, 64);
    int before = r.sub.n_got;
    browser_send(&r.sub, buf, (size_t)len, true, 1400 * MS);
    assert_int_equal(r.sub.p->stats.nack_in, 3);
    assert_int_equal(r.sub.p->stats.nack_answered, 3);
    rtp_pkt rtx[4];
    assert_int_equal(rtp_got(&r.sub, before, rtx, 4), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rtx[i].ssrc, r.out->down.rtx_ssrc);
        assert_int_equal(rtx[i].payload_type, SUB_RTX_PT);
        assert_int_equal(rd_be16(rtx[i].payload), want[i]);
        assert_int_equal(rtx[i].timestamp, got[15 + i].timestamp);
    }
    /* A number never sent, and one older than the buffer keeps, are missed. */
    uint16_t stale[] = {(uint16_t)(got[39].seq + 5)};
    nack.lost = stale;
    nack.lost_count = 1;
    len = rtcp_nack_write(&nack, buf, 64);
    browser_send(&r.sub, buf, (size_t)len, true, 1500 * MS);
    uint16_t old[] = {got[0].seq};
    nack.lost = old;
    len = rtcp_nack_write(&nack, buf, 64);
    browser_send(&r.sub, buf, (size_t)len, true, 3 * S);
    assert_int_equal(r.sub.p->stats.nack_missed, 2);
    rig_down(&r);
}

static void test_receiver_report_and_transport_feedback_to_publisher(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    for (uint16_t i = 0; i < 30; i++)
        if (i != 7) publish(&r, (uint16_t)(500 + i), (uint16_t)(1000 + i), i == 0, (10 + 33 * i) * MS);
    /* Transport-cc feedback every 50 ms, about every packet with the extension. */
    peer_handle_timeout(r.pub.p, 1 * S + 2 * MS);
    rtcp_header h;
    int at = find_rtcp(&r.pub, 0, RTCP_TYPE_RTPFB, RTCP_RTPFB_TWCC, &h);
    assert_true(at >= 0);
    rtcp_twcc fb;
    assert_int_equal(rtcp_twcc_parse(&fb, &h), J_OK);
    assert_int_equal(fb.base_seq, 1000);
    /* The report after a second: a block about the source, one packet lost. */
    assert_true(find_rtcp(&r.pub, 0, RTCP_TYPE_RR, -1, &h) >= 0);
    rtcp_rr rr;
    int i = -1;
    do {
        i = find_rtcp(&r.pub, i + 1, RTCP_TYPE_RR, -1, &h);
        assert_true(i >= 0);
        assert_int_equal(rtcp_rr_parse(&rr, &h), J_OK);
    } while (rr.report_count == 0);
    rtcp_rb_iter it;
    rtcp_report_block rb;
    rtcp_rb_iter_init(&it, rr.reports_raw, rr.report_count);
    assert_true(rtcp_rb_next(&it, &rb));
    assert_int_equal(rb.ssrc, PUB_SSRC);
    assert_int_equal(rb.cumulative_lost, 1);
    assert_int_equal(rb.ext_highest_seq & 0xFFFF, 529);
    /* ... with an XR reference time; the browser's DLRR answer gives the leg's RTT. */
    assert_true(find_rtcp(&r.pub, i, RTCP_TYPE_XR, -1, &h) >= 0);
    rtcp_xr xr;
    assert_int_equal(rtcp_xr_parse(&xr, &h), J_OK);
    rtcp_xr_iter xi;
    rtcp_xr_block blk;
    rtcp_xr_iter_init(&xi, &xr);
    assert_true(rtcp_xr_next_block(&xi, &blk));
    assert_int_equal(blk.type, RTCP_XR_RRTR);
    uint32_t lrr = rtcp_ntp_compact(rd_be64(blk.body));
    uint8_t buf[64] = {0x80, RTCP_TYPE_XR, 0x00, 0x05, 0, 0, 0, 9, RTCP_XR_DLRR, 0, 0, 3};
    wr_be32(buf + 12, r.pub.p->rtcp_ssrc);
    wr_be32(buf + 16, lrr);
    wr_be32(buf + 20, rtcp_compact_from_us(20 * MS)); /* held 20 ms */
    browser_send(&r.pub, buf, 24, true, 1 * S + 52 * MS);
    peer_quality q;
    peer_quality_get(r.pub.p, &q);
    assert_in_range(q.rtt_us, 29 * MS, 31 * MS);
    assert_int_equal(q.packets_lost, 1);
    rig_down(&r);
}

static void test_sender_report_rtt_and_estimate_for_subscriber(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    for (uint16_t i = 0; i < 30; i++) publish(&r, (uint16_t)(10 + i), i, i == 0, (10 + 33 * i) * MS);
    /* Every forwarded packet carries our transport-wide number, in sending order. */
    rtp_pkt got[32];
    assert_int_equal(rtp_got(&r.sub, 0, got, 32), 30);
    uint16_t first_twcc = 0;
    for (int i = 0; i < 30; i++) {
        const uint8_t *v;
        size_t len;
        assert_int_equal(rtp_ext_find(&got[i], TWCC_EXT, &v, &len), J_OK);
        if (i == 0) first_twcc = rd_be16(v);
        assert_int_equal(rd_be16(v), (uint16_t)(first_twcc + i));
    }
    /* A sender report with SDES after a second: its SSRC, counts, CNAME. */
    peer_handle_timeout(r.sub.p, 1 * S + 5 * MS);
    rtcp_header h;
    int at = find_rtcp(&r.sub, 0, RTCP_TYPE_SR, -1, &h);
    assert_true(at >= 0);
    rtcp_sr sr;
    assert_int_equal(rtcp_sr_parse(&sr, &h), J_OK);
    assert_int_equal(sr.ssrc, r.out->down.ssrc);
    assert_int_equal(sr.packet_count, 30);
    /* The RTP time of the report: the last packet's plus the time since, at 90 kHz. */
    assert_int_equal(sr.rtp_ts, got[29].timestamp + (1005 - (10 + 33 * 29)) * 90);
    assert_true(find_rtcp(&r.sub, at, RTCP_TYPE_SDES, -1, &h) >= 0);
    /* Its receiver report echoes the SR 40 ms later, held 10 ms: RTT 30 ms. */
    rtcp_report_block rb = {.ssrc = r.out->down.ssrc, .fraction_lost = 0, .lsr = rtcp_ntp_compact(sr.ntp),
                            .dlsr = rtcp_compact_from_us(10 * MS), .jitter = 90};
    rtcp_rr rr = {.ssrc = 1, .report_count = 1, .reports = &rb};
    uint8_t buf[256];
    int len = rtcp_rr_write(&rr, buf, 128);
    browser_send(&r.sub, buf, (size_t)len, true, 1 * S + 45 * MS);
    peer_quality q;
    peer_quality_get(r.sub.p, &q);
    assert_in_range(q.rtt_us, 29 * MS, 31 * MS);
    assert_in_range((int64_t)(q.jitter_ms * 1000), 999, 1001); /* 90 ticks at 90 kHz */
    /* Transport-cc feedback about our numbering feeds the estimate. */
    uint64_t before = q.estimated_bps;
    rtcp_twcc_rx rx[30];
    for (int i = 0; i < 30; i++)
        rx[i] = (rtcp_twcc_rx){.seq = (uint16_t)(first_twcc + i), .received = true,
                               .arrival_us = (uint64_t)(20 + 33 * i) * MS};
    rtcp_twcc_fb fb = {.sender_ssrc = 1, .media_ssrc = r.out->down.ssrc, .pkts = rx, .pkt_count = 30};
    len = rtcp_twcc_write(&fb, buf, sizeof buf - 64);
    assert_true(len > 0);
    browser_send(&r.sub, buf, (size_t)len, true, 1 * S + 50 * MS);
    assert_int_not_equal(r.sub.p->bwe->acked_bps, 0);
    peer_quality_get(r.sub.p, &q);
    assert_true(q.estimated_bps != 0 && before != 0);
    rig_down(&r);
}

/* The publisher sends a frame every 30 ms (a keyframe when key) from *seq on, until `until`;
 * both peers and the track run their timers every 10 ms meanwhile. */
static void run_media(rig *r, uint16_t *seq, bool key, uint64_t from, uint64_t until)
{
    for (uint64_t t = from; t < until; t += 10 * MS) {
        if ((t - from) % (30 * MS) == 0) {
            publish(r, *seq, *seq, key, t);
            (*seq)++;
        }
        peer_handle_timeout(r->sub.p, t);
        sfu_track_handle_timeout(r->track, t);
    }
}

static void send_remb(rig *r, uint64_t bitrate, uint64_t now)
{
    uint8_t buf[128];
    uint32_t ssrcs[] = {r->out->down.ssrc};
    rtcp_remb remb = {.sender_ssrc = 1, .bitrate_bps = bitrate, .ssrc_count = 1, .ssrcs = ssrcs};
    int len = rtcp_remb_write(&remb, buf, 64);
    browser_send(&r->sub, buf, (size_t)len, true, now);
}

/* A subscriber whose bandwidth share (its REMB) is under the floor loses its video (the
 * policy turns it off), keeps its numbering, and gets video back at a keyframe once the
 * estimate has recovered for the policy's hold time. */
static void test_video_pauses_below_the_floor(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    uint16_t seq = 1;
    send_remb(&r, 80000, 5 * MS);
    run_media(&r, &seq, true, 10 * MS, 1000 * MS);
    peer_quality q;
    peer_quality_get(r.sub.p, &q);
    assert_int_equal(q.video_pauses, 1);
    assert_true(q.video_paused);
    assert_int_equal(r.out->down.target.state, SFU_LAYERS_OFF_BANDWIDTH);
    rtp_pkt got[64];
    int before = rtp_got(&r.sub, 0, got, 64);
    assert_true(before > 0 && before < 30); /* forwarded until the layer was measured */
    run_media(&r, &seq, true, 1000 * MS, 1300 * MS);
    assert_int_equal(rtp_got(&r.sub, 0, got, 64), before); /* nothing while off */
    send_remb(&r, 1000000, 1300 * MS);
    run_media(&r, &seq, false, 1300 * MS, 3700 * MS); /* the hold time passes */
    assert_int_equal(r.out->down.target.state, SFU_LAYERS_FORWARDING);
    assert_int_equal(rtp_got(&r.sub, 0, got, 64), before); /* delta frames: waiting */
    run_media(&r, &seq, true, 3700 * MS, 3750 * MS);
    assert_true(rtp_got(&r.sub, 0, got, 64) > before);
    assert_int_equal((uint16_t)(got[before].seq - got[before - 1].seq), 1);
    peer_quality_get(r.sub.p, &q);
    assert_false(q.video_paused);
    rig_down(&r);
}

/* A track that sends the subscriber nothing (here its publisher muted it) takes no share of
 * the subscriber's bandwidth: the other keeps all 250 kbit/s, not half of it (under the floor). */
static void test_muted_track_takes_no_share(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    sdp_negotiated *neg = video_neg(PEER_SUBSCRIBER);
    strcpy(neg->media[0].mid, "1");
    peer_out_track *quiet_out = peer_add_out_track(r.sub.p, &neg->media[0]);
    free(neg);
    assert_non_null(quiet_out);
    sfu_track *quiet = sfu_track_new("quiet", SFU_VIDEO);
    assert_non_null(quiet);
    sfu_track_set_muted(quiet, true, 0);
    assert_int_equal(sfu_track_add_downtrack(quiet, &quiet_out->down, 0), J_OK);
    uint16_t seq = 1;
    send_remb(&r, 250000, 5 * MS);
    run_media(&r, &seq, true, 10 * MS, 1000 * MS);
    assert_int_equal(r.out->down.target.state, SFU_LAYERS_FORWARDING);
    peer_quality q;
    peer_quality_get(r.sub.p, &q);
    assert_false(q.video_paused);
    sfu_track_free(quiet);
    rig_down(&r);
}

#define RID_EXT 3
#define RRID_EXT 4

/* A simulcast publisher's streams are told apart by their rid extension (with the MID):
 * each SSRC is learned as its encoding, an RTX stream by its repaired rid; each encoding has
 * its own statistics, and a keyframe request goes to that encoding's SSRC. */
static void test_simulcast_ingest_by_rid(void **state)
{
    (void)state;
    browser b;
    memset(&b, 0, sizeof b);
    peer_env env = {.dtls = group_dtls, .consent_timeout_us = 3600u * S, .publisher_max_bitrate = 2000000,
                    .send = on_send, .ctx = &b};
    sdp_negotiated *neg = video_neg(PEER_PUBLISHER);
    sdp_neg_media *m = &neg->media[0];
    m->stream_count = 0;
    m->ext_id[SDP_EXT_RID] = RID_EXT;
    m->ext_id[SDP_EXT_RRID] = RRID_EXT;
    m->encoding_count = 3;
    static const char *rids[] = {"q", "h", "f"};
    for (int e = 0; e < 3; e++) strcpy(m->encodings[e].rid, rids[e]);
    peer_params pp = {.role = PEER_PUBLISHER, .id = "simpub", .owner = "test",
                      .local_ufrag = "localufrag", .local_pwd = "localpassword0123456789",
                      .neg = neg};
    peer *p = peer_new(&env, &pp, 0);
    assert_non_null(p);
    b.p = p;
    peer_in_track *in = peer_add_in_track(p, m);
    assert_non_null(in);
    assert_int_equal(in->n_streams, 3);
    connect_browser(&b);
    sfu_track *t = sfu_track_new("sim", SFU_VIDEO);
    in->track = t;
    assert_int_equal(in->source.encoding_count, 3);
    sfu_track_attach_source(t, &in->source, peer_request_keyframe, p, 0);

    uint8_t buf[1600];
    for (int e = 2; e >= 0; e--) { /* any order */
        rtp_ext_elem exts[] = {{.id = MID_EXT, .data = (const uint8_t *)"0", .len = 1},
                               {.id = RID_EXT, .data = (const uint8_t *)rids[e], .len = 1}};
        for (uint16_t k = 0; k < 4; k++) {
            /* Browsers stop sending the MID and rid once the SSRC is acknowledged. */
            rtp_header_out h = {.payload_type = VIDEO_PT, .seq = (uint16_t)(100 + k),
                                .timestamp = 3000u * k, .ssrc = 0xA000u + (uint32_t)e};
            int n = rtp_write_packet(&h, exts, k == 0 ? 2 : 0, key_payload, sizeof key_payload,
                                     buf, 1500);
            browser_send(&b, buf, (size_t)n, false, (10 + k) * MS);
        }
    }
    for (int e = 0; e < 3; e++) {
        assert_int_equal(in->streams[e].ssrc, 0xA000u + (uint32_t)e);
        assert_true(in->streams[e].receiving);
        assert_true(in->streams[e].recv.received > 0);
        assert_int_equal(t->enc[e].packets, 4);
    }
    /* h loses 104; its RTX stream, named by its repaired rid, repairs it. */
    rtp_header_out h = {.payload_type = VIDEO_PT, .seq = 105, .timestamp = 3000u * 5,
                        .ssrc = 0xA001u};
    int n = rtp_write_packet(&h, NULL, 0, key_payload, sizeof key_payload, buf, 1500);
    browser_send(&b, buf, (size_t)n, false, 15 * MS);
    rtp_ext_elem rrid[] = {{.id = MID_EXT, .data = (const uint8_t *)"0", .len = 1},
                           {.id = RRID_EXT, .data = (const uint8_t *)"h", .len = 1}};
    h = (rtp_header_out){.payload_type = VIDEO_RTX_PT, .seq = 5, .timestamp = 3000u * 4,
                         .ssrc = 0xB001u};
    n = rtp_rtx_wrap(&h, rrid, 2, 104, key_payload, sizeof key_payload, buf, 1500);
    browser_send(&b, buf, (size_t)n, false, 20 * MS);
    assert_int_equal(in->streams[1].rtx_ssrc, 0xB001u);
    assert_int_equal(p->stats.rtx_in, 1);
    assert_int_equal(t->enc[1].packets, 6);
    /* An unknown rid is not forwarded. */
    rtp_ext_elem bad[] = {{.id = MID_EXT, .data = (const uint8_t *)"0", .len = 1},
                          {.id = RID_EXT, .data = (const uint8_t *)"z", .len = 1}};
    h = (rtp_header_out){.payload_type = VIDEO_PT, .seq = 1, .ssrc = 0xC000u};
    n = rtp_write_packet(&h, bad, 2, key_payload, sizeof key_payload, buf, 1500);
    browser_send(&b, buf, (size_t)n, false, 30 * MS);
    assert_int_equal(p->stats.unknown_ssrc, 1);

    /* A keyframe for f: a PLI for f's SSRC. */
    int before = b.n_got;
    peer_request_keyframe(p, t, 2);
    rtcp_header rh;
    assert_true(find_rtcp(&b, before, RTCP_TYPE_PSFB, RTCP_PSFB_PLI, &rh) >= 0);
    rtcp_pli pli;
    assert_int_equal(rtcp_pli_parse(&pli, &rh), J_OK);
    assert_int_equal(pli.media_ssrc, 0xA002u);
    /* Receiver reports cover every encoding. */
    before = b.n_got;
    peer_handle_timeout(p, 1100 * MS);
    assert_true(find_rtcp(&b, before, RTCP_TYPE_RR, -1, &rh) >= 0);
    assert_int_equal(rh.count, 3);

    sfu_track_free(t);
    peer_free(p);
    free(neg);
    j_srtp_free(b.out);
    j_srtp_free(b.in);
}

/* The SRTP sessions are sized by the m= sections negotiated; ones added once connected (a
 * room renegotiates) make room for their SSRCs, and only they do. */
static void test_srtp_sized_by_negotiation(void **state)
{
    (void)state;
    peer_env env;
    browser b;
    memset(&b, 0, sizeof b);
    peer *p = make_peer(&env, &b, PEER_SUBSCRIBER, "sub");
    assert_int_equal(p->srtp_streams, PEER_SRTP_RTCP_STREAMS + 2);
    sdp_negotiated *neg = video_neg(PEER_SUBSCRIBER);
    enum { ADDED = 6 };
    for (int i = 0; i < ADDED; i++) {
        snprintf(neg->media[0].mid, sizeof neg->media[0].mid, "m%d", i);
        assert_non_null(peer_add_out_track(p, &neg->media[0]));
    }
    free(neg);
    size_t room = PEER_SRTP_RTCP_STREAMS + 2 * (1 + ADDED);
    assert_int_equal(p->srtp_streams, room);
    uint8_t pkt[64 + J_SRTP_MAX_TRAILER];
    for (uint32_t ssrc = 1; ssrc <= room + 1; ssrc++) {
        memset(pkt, 0, sizeof pkt);
        pkt[0] = 0x80;
        pkt[1] = SUB_VIDEO_PT;
        wr_be32(pkt + 8, ssrc);
        int n = j_srtp_protect_rtp(p->srtp_out, pkt, 64, sizeof pkt);
        if (ssrc <= room)
            assert_true(n > 64);
        else
            assert_int_equal(n, J_ELIMIT);
    }
    peer_free(p);
    j_srtp_free(b.out);
    j_srtp_free(b.in);
}


/* A long-lived subscriber whose m= section is bound to one source after another: each binding
 * is a new out track with new SSRCs (never one used before), and the SSRCs of the one it
 * replaces retire. After many more bindings than the SRTP table holds, what the current one
 * carries is still protected and sent, RTP and sender reports (the browser, like a real one,
 * drops its state for the SSRCs it no longer receives). */
static void test_rebinding_many_times_keeps_media_flowing(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    peer *sub = r.sub.p;
    sdp_negotiated *neg = video_neg(PEER_SUBSCRIBER);
    enum { REBINDS = 300 };
    uint32_t used[2 * (REBINDS + 1)] = {r.out->down.ssrc, r.out->down.rtx_ssrc};
    uint16_t seq = 1;
    for (uint32_t i = 1; i <= REBINDS; i++) {
        uint64_t now = i * S;
        sfu_downtrack_detach(&sub->out[0]->down);
        j_srtp_remove_stream(r.sub.in, sub->out[0]->down.ssrc);
        peer_remove_out_track(sub, 0);
        r.out = peer_add_out_track(sub, &neg->media[0]);
        assert_non_null(r.out);
        for (uint32_t k = 0; k < 2 * i; k++) {
            assert_int_not_equal(used[k], r.out->down.ssrc);
            assert_int_not_equal(used[k], r.out->down.rtx_ssrc);
        }
        used[2 * i] = r.out->down.ssrc;
        used[2 * i + 1] = r.out->down.rtx_ssrc;
        assert_int_equal(sfu_track_add_downtrack(r.track, &r.out->down, now), J_OK);
        r.sub.n_got = 0;
        r.pub.n_got = 0;
        publish(&r, seq, seq, true, now + 10 * MS);
        seq++;
        peer_handle_timeout(sub, now + 20 * MS); /* a sender report for the new SSRC */
        rtp_pkt got[4];
        assert_int_equal(rtp_got(&r.sub, 0, got, 4), 1);
        assert_int_equal(got[0].ssrc, r.out->down.ssrc);
        rtcp_header h;
        assert_true(find_rtcp(&r.sub, 0, RTCP_TYPE_SR, -1, &h) >= 0);
    }
    assert_int_equal(sub->stats.srtp_errors, 0);
    assert_int_equal(sub->srtp_streams, PEER_SRTP_RTCP_STREAMS + 2);
    free(neg);
    rig_down(&r);
}

/* A publisher that publishes again and again (its m= section removed, then added with new
 * SSRCs) keeps being received: the retired SSRCs leave the inbound SRTP table, also when
 * packets and sender reports of theirs arrive after the removal. */
static void test_republishing_many_times_keeps_media_flowing(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    peer *pub = r.pub.p;
    sdp_negotiated *neg = video_neg(PEER_PUBLISHER);
    enum { REPUBLISHES = 300 };
    uint8_t buf[1600];
    for (uint32_t i = 1; i <= REPUBLISHES; i++) {
        uint32_t old_ssrc = pub->in[0]->streams[0].ssrc;
        peer_remove_in_track(pub, 0);
        rtp_header_out h = {.payload_type = VIDEO_PT, .seq = (uint16_t)(2 * i), .ssrc = old_ssrc};
        int n = rtp_write_packet(&h, NULL, 0, key_payload, sizeof key_payload, buf, 1500);
        browser_send(&r.pub, buf, (size_t)n, false, i * S); /* still on its way */
        rtcp_sr sr = {.ssrc = old_ssrc, .packet_count = i};
        n = rtcp_sr_write(&sr, buf, 1500);
        browser_send(&r.pub, buf, (size_t)n, true, i * S); /* so is its last report */
        j_srtp_remove_stream(r.pub.out, old_ssrc);
        neg->media[0].streams[0].ssrc = 0x50000u + i;
        neg->media[0].streams[0].rtx_ssrc = 0x60000u + i;
        peer_in_track *in = peer_add_in_track(pub, &neg->media[0]);
        assert_non_null(in);
        in->track = r.track;
        h = (rtp_header_out){.payload_type = VIDEO_PT, .seq = (uint16_t)(2 * i + 1),
                             .ssrc = 0x50000u + i};
        n = rtp_write_packet(&h, NULL, 0, key_payload, sizeof key_payload, buf, 1500);
        uint64_t forwarded = r.track->enc[0].packets;
        browser_send(&r.pub, buf, (size_t)n, false, i * S + 10 * MS);
        assert_true(in->streams[0].receiving);
        assert_int_equal(r.track->enc[0].packets, forwarded + 1);
        r.pub.n_got = 0;
        r.sub.n_got = 0;
    }
    assert_int_equal(pub->stats.srtp_errors, 0);
    assert_int_equal(pub->stats.unknown_ssrc, REPUBLISHES);
    free(neg);
    rig_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gap_is_nacked_and_rtx_fills_it_downstream),
        cmocka_unit_test(test_subscriber_nack_is_answered_with_rtx),
        cmocka_unit_test(test_receiver_report_and_transport_feedback_to_publisher),
        cmocka_unit_test(test_sender_report_rtt_and_estimate_for_subscriber),
        cmocka_unit_test(test_video_pauses_below_the_floor),
        cmocka_unit_test(test_muted_track_takes_no_share),
        cmocka_unit_test(test_simulcast_ingest_by_rid),
        cmocka_unit_test(test_srtp_sized_by_negotiation),
        cmocka_unit_test(test_rebinding_many_times_keeps_media_flowing),
        cmocka_unit_test(test_republishing_many_times_keeps_media_flowing),
    };
    return cmocka_run_group_tests(tests, dtls_group_setup, dtls_group_teardown);
}
