/* track_test.c - fan-out rewriting, keyframe gating and keyframe request throttling, paused
 * downtracks, audio levels, NACKs; layer selection for VP8 simulcast, VP9 SVC and AV1 with
 * the Dependency Descriptor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "codec/dd_test_support.h"
#include "core/bytes.h"
#include "core/err.h"
#include "sfu/track.h"

#define MAX_SENT 16
/* A second pause reason: the bits are independent. */
#define OTHER_REASON (1u << 1)

typedef struct capture {
    int count;
    uint8_t pkts[MAX_SENT][1600];
    size_t lens[MAX_SENT];
    size_t twcc_offs[MAX_SENT];
} capture;

static void capture_send(void *ctx, uint8_t *buf, size_t len, size_t cap, size_t twcc_off,
                         uint64_t now_us)
{
    (void)now_us;
    capture *c = ctx;
    assert_true(cap >= len + 16); /* room for the SRTP tag */
    if (c->count < MAX_SENT) {
        memcpy(c->pkts[c->count], buf, len);
        c->lens[c->count] = len;
        c->twcc_offs[c->count] = twcc_off;
    }
    c->count++;
}

static int keyframe_requests;
static int last_keyframe_encoding;
static void count_keyframe_request(void *ctx, const sfu_track *t, uint8_t encoding)
{
    (void)ctx;
    last_keyframe_encoding = encoding;
    assert_int_equal(t->kind, SFU_VIDEO);
    keyframe_requests++;
}

static sdp_codec codec(uint8_t pt, const char *name, uint32_t clock, uint8_t channels)
{
    sdp_codec c;
    memset(&c, 0, sizeof c);
    c.pt = pt;
    strcpy(c.name, name);
    c.clock_rate = clock;
    c.channels = channels;
    return c;
}

/* Source: VP8 PT 96; downtrack: VP8 PT 120 with MID id 4 on mid "1". */
static void setup(sfu_track **t, sfu_downtrack *d, capture *cap)
{
    *t = sfu_track_new("TR_video", SFU_VIDEO);
    assert_non_null(*t);
    sdp_neg_media video;
    memset(&video, 0, sizeof video);
    video.kind = SDP_KIND_VIDEO;
    video.codec_count = 1;
    video.codecs[0] = codec(120, "VP8", 90000, 0);
    video.ext_id[SDP_EXT_MID] = 4;
    strcpy(video.mid, "1");
    sfu_downtrack_init(d, &video, 0xB0B0B0B0u, 0, capture_send, cap);
}

static void attach_source(sfu_track *t, uint64_t now)
{
    sfu_source src;
    memset(&src, 0, sizeof src);
    src.codec_count = 1;
    src.codecs[0] = codec(96, "VP8", 90000, 0);
    sfu_track_attach_source(t, &src, count_keyframe_request, NULL, now);
}

/* A VP8 packet: descriptor S=1 PID=0, then a frame tag (P bit 0 = keyframe). */
static size_t vp8_packet(uint8_t *buf, uint16_t seq, uint32_t ts, bool keyframe)
{
    static const uint8_t key_payload[] = {0x10, 0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a,
                                          0x80, 0x02, 0xe0, 0x01, 0xAA, 0xBB};
    static const uint8_t delta_payload[] = {0x10, 0x51, 0x01, 0x00, 0xCC, 0xDD};
    const uint8_t *pl = keyframe ? key_payload : delta_payload;
    size_t pl_len = keyframe ? sizeof key_payload : sizeof delta_payload;
    rtp_header_out h = {.payload_type = 96, .seq = seq, .timestamp = ts, .ssrc = 0x1234};
    int n = rtp_write_header(&h, NULL, 0, buf, 1500);
    assert_true(n > 0);
    memcpy(buf + n, pl, pl_len);
    return (size_t)n + pl_len;
}

static void forward(sfu_track *t, const uint8_t *buf, size_t len, uint64_t now)
{
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, buf, len), J_OK);
    sfu_track_forward(t, &p, 0, now);
}

static void test_video_waits_for_keyframe_and_is_rewritten(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup(&s, &sub, &cap);
    attach_source(s, 1000);
    keyframe_requests = 0;
    assert_int_equal(sfu_track_add_downtrack(s, &sub, 2000), J_OK);
    assert_int_equal(keyframe_requests, 1); /* a joining subscriber asks for a keyframe */

    uint8_t buf[1600];
    forward(s, buf, vp8_packet(buf, 500, 9000, false), 3000);
    assert_int_equal(cap.count, 0); /* delta frame before any keyframe: dropped */
    forward(s, buf, vp8_packet(buf, 501, 12000, true), 4000);
    forward(s, buf, vp8_packet(buf, 502, 15000, false), 5000);
    assert_int_equal(cap.count, 2);

    rtp_pkt a, b;
    assert_int_equal(rtp_parse(&a, cap.pkts[0], cap.lens[0]), J_OK);
    assert_int_equal(rtp_parse(&b, cap.pkts[1], cap.lens[1]), J_OK);
    assert_int_equal(a.ssrc, 0xB0B0B0B0u);
    assert_int_equal(a.payload_type, 120);
    assert_int_equal((uint16_t)(b.seq - a.seq), 1);
    assert_int_equal(b.timestamp - a.timestamp, 3000);
    const uint8_t *mid;
    size_t mid_len;
    assert_int_equal(rtp_ext_find(&a, 4, &mid, &mid_len), J_OK);
    assert_int_equal(mid_len, 1);
    assert_int_equal(mid[0], '1');
    assert_int_equal(a.payload[0], 0x10); /* payload untouched */
    assert_int_equal(a.payload_len, 13);
    sfu_downtrack_detach(&sub);
    sfu_track_free(s);
}

static void test_publisher_reconnect_keeps_numbering(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup(&s, &sub, &cap);
    assert_int_equal(sfu_track_add_downtrack(s, &sub, 0), J_OK); /* before the publisher */
    attach_source(s, 1000);
    uint8_t buf[1600];
    forward(s, buf, vp8_packet(buf, 100, 1000, true), 10000);
    sfu_track_detach_source(s);
    attach_source(s, 500000);
    forward(s, buf, vp8_packet(buf, 9, 777, false), 510000); /* waits again */
    forward(s, buf, vp8_packet(buf, 10, 888, true), 510000);
    assert_int_equal(cap.count, 2);
    rtp_pkt a, b;
    rtp_parse(&a, cap.pkts[0], cap.lens[0]);
    rtp_parse(&b, cap.pkts[1], cap.lens[1]);
    assert_int_equal((uint16_t)(b.seq - a.seq), 1);
    assert_int_equal(b.timestamp - a.timestamp, 45000); /* 0.5 s at 90 kHz */
    sfu_track_free(s);
}

static void test_keyframe_requests_are_throttled(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup(&s, &sub, &cap);
    attach_source(s, 0);
    keyframe_requests = 0;
    sfu_track_request_keyframe(s, 0, 1000000);
    sfu_track_request_keyframe(s, 0, 1100000);
    sfu_track_request_keyframe(s, 0, 1200000);
    assert_int_equal(keyframe_requests, 1);
    sfu_track_handle_timeout(s, 1250000);
    assert_int_equal(keyframe_requests, 1);
    sfu_track_handle_timeout(s, 1300000); /* the deferred one goes out */
    assert_int_equal(keyframe_requests, 2);
    sfu_track_handle_timeout(s, 2000000);
    assert_int_equal(keyframe_requests, 2);
    sfu_track_free(s);
}

static void test_unsupported_codec_is_not_forwarded(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup(&s, &sub, &cap);
    sub.codecs[0] = codec(120, "H264", 90000, 0);
    assert_int_equal(sfu_track_add_downtrack(s, &sub, 0), J_OK);
    assert_false(sfu_downtrack_lacks_codec(&sub)); /* no source yet: nothing to compare */
    attach_source(s, 0);
    assert_true(sfu_downtrack_lacks_codec(&sub));
    uint8_t buf[1600];
    forward(s, buf, vp8_packet(buf, 1, 1, true), 1000);
    assert_int_equal(cap.count, 0);
    assert_int_equal(sub.dropped_no_codec, 1);
    sfu_track_free(s);
}

static void test_muted_track_forwards_nothing_and_unmute_waits_for_keyframe(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup(&s, &sub, &cap);
    attach_source(s, 0);
    assert_int_equal(sfu_track_add_downtrack(s, &sub, 0), J_OK);
    uint8_t buf[1600];
    forward(s, buf, vp8_packet(buf, 1, 1000, true), 1000);
    assert_int_equal(cap.count, 1);
    sfu_track_set_muted(s, true, 2000);
    forward(s, buf, vp8_packet(buf, 2, 4000, true), 3000);
    assert_int_equal(cap.count, 1);
    keyframe_requests = 0;
    sfu_track_set_muted(s, false, 1000000);
    assert_int_equal(keyframe_requests, 1);
    forward(s, buf, vp8_packet(buf, 3, 7000, false), 1001000); /* delta: still waiting */
    assert_int_equal(cap.count, 1);
    forward(s, buf, vp8_packet(buf, 4, 10000, true), 1002000);
    assert_int_equal(cap.count, 2);
    rtp_pkt a, b;
    rtp_parse(&a, cap.pkts[0], cap.lens[0]);
    rtp_parse(&b, cap.pkts[1], cap.lens[1]);
    assert_int_equal((uint16_t)(b.seq - a.seq), 1); /* no gap for the decoder to chase */
    sfu_downtrack_detach(&sub);
    assert_true(sfu_track_is_unused(s) == false); /* the source is still there */
    sfu_track_detach_source(s);
    assert_true(sfu_track_is_unused(s));
    sfu_track_free(s);
}

typedef struct relay_capture {
    int count, reports;
    uint32_t report_rtp_ts;
    uint8_t pkt[1600];
    size_t len;
    uint64_t now;
} relay_capture;

static void capture_relay(void *ctx, const sfu_track *t, const rtp_pkt *pkt, uint8_t encoding,
                          uint64_t now_us)
{
    relay_capture *c = ctx;
    assert_int_equal(encoding, 0);
    assert_string_equal(t->id, "TR_video");
    c->count++;
    memcpy(c->pkt, pkt->buf, pkt->len);
    c->len = pkt->len;
    c->now = now_us;
}

static void capture_report(void *ctx, const sfu_track *t, uint8_t encoding, uint32_t ssrc,
                           uint32_t rtp_ts, uint64_t now_us)
{
    (void)t;
    assert_int_equal(encoding, 0);
    (void)now_us;
    relay_capture *c = ctx;
    assert_int_equal(ssrc, 0x1234);
    c->reports++;
    c->report_rtp_ts = rtp_ts;
}

static const sfu_relay capturing_relay = {.packet = capture_relay,
                                          .sender_report = capture_report};

static void test_relay_gets_each_packet_once_as_received(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup(&s, &sub, &cap);
    attach_source(s, 1000);
    relay_capture rc = {0};
    sfu_track_set_relay(s, &capturing_relay, &rc);

    uint8_t buf[1600];
    size_t len = vp8_packet(buf, 500, 9000, false);
    forward(s, buf, len, 3000); /* no downtrack at all: still relayed */
    assert_int_equal(rc.count, 1);
    assert_int_equal(rc.len, len);
    assert_memory_equal(rc.pkt, buf, len); /* the source's own header, not a rewritten one */
    assert_int_equal(rc.now, 3000);

    assert_int_equal(sfu_track_add_downtrack(s, &sub, 3500), J_OK);
    forward(s, buf, vp8_packet(buf, 501, 12000, true), 4000);
    assert_int_equal(rc.count, 2);
    assert_int_equal(cap.count, 1);

    sfu_track_set_muted(s, true, 4500); /* muted: the copies are muted too, nothing goes */
    forward(s, buf, vp8_packet(buf, 502, 15000, false), 5000);
    assert_int_equal(rc.count, 2);
    sfu_track_set_muted(s, false, 5500);

    sfu_track_on_sender_report(s, 0, 0x1234, 77777, 5800); /* the mirrors keep lip sync */
    assert_int_equal(rc.reports, 1);
    assert_int_equal(rc.report_rtp_ts, 77777);

    sfu_track_set_relay(s, NULL, NULL);
    forward(s, buf, vp8_packet(buf, 503, 18000, true), 6000);
    assert_int_equal(rc.count, 2);
    assert_int_equal(s->packets_in, 4);
    sfu_downtrack_detach(&sub);
    sfu_track_free(s);
}

static void test_free_detaches_downtracks(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup(&s, &sub, &cap);
    assert_int_equal(sfu_track_add_downtrack(s, &sub, 0), J_OK);
    assert_ptr_equal(sub.track, s);
    sfu_track_free(s);
    assert_null(sub.track);
    sfu_downtrack_detach(&sub); /* harmless once detached */
}

/* A downtrack that negotiated RTX (PT 121 for VP8 120, SSRC 0xC0C0C0C0) and numbers from
 * 65534, so its output wraps; the source is attached and the downtrack is live. */
static void setup_rtx(sfu_track **t, sfu_downtrack *d, capture *cap, uint32_t rtx_ssrc)
{
    setup(t, d, cap);
    d->codecs[0].rtx_pt = 121;
    d->rtx_ssrc = rtx_ssrc;
    d->rtx_seq = 7;
    sfu_seqmap_init(&d->seq, 65534, 1000);
    attach_source(*t, 0);
    assert_int_equal(sfu_track_add_downtrack(*t, d, 0), J_OK);
}

/* Forward source packets 65533..65535, 0..2 (a keyframe first) from now on, 30 ms apart. */
static void forward_across_the_wrap(sfu_track *t, uint64_t now)
{
    uint8_t buf[1600];
    for (int i = 0; i < 6; i++)
        forward(t, buf, vp8_packet(buf, (uint16_t)(65533 + i), (uint32_t)(2700 * i), i == 0),
                now + (uint64_t)i * 30000);
}

static void test_nack_is_answered_as_rtx_across_the_wrap(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup_rtx(&s, &sub, &cap, 0xC0C0C0C0u);
    forward_across_the_wrap(s, 1000000);
    assert_int_equal(cap.count, 6); /* out seqs 65534, 65535, 0, 1, 2, 3 */
    sub.rtx_credit = SFU_RTX_CREDIT_MAX; /* as after a while of forwarding */
    uint16_t asked[] = {65535, 0, 3};
    int sent_index[] = {1, 2, 5};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(sfu_downtrack_retransmit(&sub, asked[k], 1200000), J_OK);
        int n = cap.count - 1;
        rtp_pkt rtx;
        assert_int_equal(rtp_parse(&rtx, cap.pkts[n], cap.lens[n]), J_OK);
        assert_int_equal(rtx.ssrc, 0xC0C0C0C0u);
        assert_int_equal(rtx.payload_type, 121);
        assert_int_equal(rtx.seq, 7 + k); /* the RTX stream's own numbering */
        /* Unwrapped, it is byte for byte the packet that was forwarded. */
        assert_int_equal(rtp_rtx_unwrap(cap.pkts[n], &rtx, 120, 0xB0B0B0B0u), J_OK);
        int f = sent_index[k];
        assert_int_equal(rtx.len, cap.lens[f]);
        assert_memory_equal(cap.pkts[n], cap.pkts[f], cap.lens[f]);
    }
    assert_int_equal(sub.rtx_packets, 3);
    sfu_track_free(s);
}

static void test_nack_without_rtx_resends_the_original(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup_rtx(&s, &sub, &cap, 0);
    forward_across_the_wrap(s, 1000000);
    assert_int_equal(sfu_downtrack_retransmit(&sub, 0, 1200000), J_OK);
    assert_int_equal(cap.lens[6], cap.lens[2]);
    assert_memory_equal(cap.pkts[6], cap.pkts[2], cap.lens[2]);
    sfu_track_free(s);
}

static void test_nack_for_what_was_not_forwarded_is_missed(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup_rtx(&s, &sub, &cap, 0xC0C0C0C0u);
    uint8_t buf[1600];
    forward(s, buf, vp8_packet(buf, 10, 0, false), 1000000); /* before the keyframe: dropped */
    forward_across_the_wrap(s, 1010000);
    assert_int_equal(sfu_downtrack_retransmit(&sub, 65533, 1200000), J_ENOTFOUND); /* before */
    assert_int_equal(sfu_downtrack_retransmit(&sub, 4, 1200000), J_ENOTFOUND);     /* after */
    assert_int_equal(sfu_downtrack_retransmit(&sub, 65534, 2500000), J_ENOTFOUND); /* too old */
    sfu_downtrack_set_paused(&sub, OTHER_REASON, true, 1300000);
    assert_int_equal(sfu_downtrack_retransmit(&sub, 0, 1300000), J_ENOTFOUND);     /* paused */
    sfu_downtrack_set_paused(&sub, OTHER_REASON, false, 1300000);
    assert_int_equal(sfu_downtrack_retransmit(&sub, 0, 1300000), J_ENOTFOUND); /* old mapping */
    assert_int_equal(cap.count, 6);
    sfu_track_free(s);
}

static void test_retransmissions_are_limited_to_their_share(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup_rtx(&s, &sub, &cap, 0xC0C0C0C0u);
    forward_across_the_wrap(s, 1000000);
    int sent = 0, limited = 0;
    for (int i = 0; i < 20; i++) {
        int rc = sfu_downtrack_retransmit(&sub, 0, 1200000);
        sent += rc == J_OK;
        limited += rc == J_ELIMIT;
    }
    /* Six forwarded packets bank three packets' worth (half their bytes); RTX adds 2 each. */
    assert_int_equal(sent, 2);
    assert_int_equal(limited, 18);
    sfu_track_free(s);
}

static void test_sender_report_time_follows_the_source(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup_rtx(&s, &sub, &cap, 0);
    uint32_t ts;
    assert_int_equal(sfu_downtrack_rtp_now(&sub, 1000000, &ts), J_ENOTFOUND);
    uint8_t buf[1600];
    forward(s, buf, vp8_packet(buf, 500, 90000, true), 1000000);
    rtp_pkt first;
    rtp_parse(&first, cap.pkts[0], cap.lens[0]);
    /* Before any sender report: extrapolated from that packet, 90 ticks per ms. */
    assert_int_equal(sfu_downtrack_rtp_now(&sub, 1100000, &ts), J_OK);
    assert_int_equal(ts, first.timestamp + 9000);
    /* The source says its timestamp 100000 is "now" at 1.2 s (its clock runs ahead of its
     * packets by the capture-to-send delay): the report wins, mapped by the same offset. */
    sfu_track_on_sender_report(s, 0, 0x1234, 100000, 1200000);
    assert_int_equal(sfu_downtrack_rtp_now(&sub, 1300000, &ts), J_OK);
    assert_int_equal(ts, first.timestamp + (100000 - 90000) + 9000);
    /* A report about another stream (a new SSRC) is not used. */
    sfu_track_on_sender_report(s, 0, 0x9999, 5, 1300000);
    assert_int_equal(sfu_downtrack_rtp_now(&sub, 1300000, &ts), J_OK);
    assert_int_equal(ts, first.timestamp + 27000);
    sfu_track_free(s);
}

static void test_paused_downtrack_resumes_at_a_keyframe_without_a_gap(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup_rtx(&s, &sub, &cap, 0);
    uint8_t buf[1600];
    forward(s, buf, vp8_packet(buf, 1, 0, true), 1000000);
    sfu_downtrack_set_paused(&sub, OTHER_REASON, true, 1000000);
    sfu_downtrack_set_paused(&sub, SFU_PAUSE_SUBSCRIBER, true, 1000000); /* another reason */
    forward(s, buf, vp8_packet(buf, 2, 3000, true), 1030000);
    sfu_track_handle_timeout(s, 3000000);
    assert_int_equal(cap.count, 1);
    keyframe_requests = 0;
    sfu_downtrack_set_paused(&sub, OTHER_REASON, false, 3000000);
    forward(s, buf, vp8_packet(buf, 3, 6000, true), 3030000);
    assert_int_equal(cap.count, 1); /* still paused for the other reason */
    assert_int_equal(keyframe_requests, 0);
    sfu_downtrack_set_paused(&sub, SFU_PAUSE_SUBSCRIBER, false, 4000000);
    assert_int_equal(keyframe_requests, 1);
    forward(s, buf, vp8_packet(buf, 4, 9000, false), 4010000); /* waits for a keyframe */
    forward(s, buf, vp8_packet(buf, 5, 12000, true), 4020000);
    assert_int_equal(cap.count, 2);
    rtp_pkt a, b;
    rtp_parse(&a, cap.pkts[0], cap.lens[0]);
    rtp_parse(&b, cap.pkts[1], cap.lens[1]);
    assert_int_equal((uint16_t)(b.seq - a.seq), 1);
    sfu_track_free(s);
}

static void test_transport_sequence_placeholder_is_located(void **state)
{
    (void)state;
    for (int two_byte = 0; two_byte < 2; two_byte++) {
        sfu_track *s;
        sfu_downtrack sub;
        capture cap = {0};
        setup(&s, &sub, &cap);
        sub.twcc_ext_id = 3;
        if (two_byte) strcpy(sub.mid, "a-mid-longer-than-16"); /* forces the two-byte form */
        attach_source(s, 0);
        assert_int_equal(sfu_track_add_downtrack(s, &sub, 0), J_OK);
        uint8_t buf[1600];
        forward(s, buf, vp8_packet(buf, 1, 0, true), 1000);
        assert_int_equal(cap.count, 1);
        size_t off = cap.twcc_offs[0];
        assert_int_equal(off, two_byte ? 18 : 17);
        cap.pkts[0][off] = 0x12; /* as the sender stamps it */
        cap.pkts[0][off + 1] = 0x34;
        rtp_pkt p;
        assert_int_equal(rtp_parse(&p, cap.pkts[0], cap.lens[0]), J_OK);
        const uint8_t *v;
        size_t len;
        assert_int_equal(rtp_ext_find(&p, 3, &v, &len), J_OK);
        assert_int_equal(len, 2);
        assert_int_equal(v[0] << 8 | v[1], 0x1234);
        assert_int_equal(rtp_ext_find(&p, 4, &v, &len), J_OK); /* MID still there */
        sfu_track_free(s);
    }
}

/* Two subscribers; pausing one leaves the other's stream alone, and resuming continues the
 * numbering and waits for a keyframe, which it asks for. */
static void test_paused_downtrack_is_skipped_and_resumes_on_keyframe(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack paused, other;
    capture cap_paused = {0}, cap_other = {0};
    setup(&s, &paused, &cap_paused);
    sfu_downtrack_init(&other, &(sdp_neg_media){.kind = SDP_KIND_VIDEO, .codec_count = 1,
                                                .codecs = {codec(120, "VP8", 90000, 0)}},
                       0xC0C0C0C0u, 0, capture_send, &cap_other);
    attach_source(s, 0);
    assert_int_equal(sfu_track_add_downtrack(s, &paused, 0), J_OK);
    assert_int_equal(sfu_track_add_downtrack(s, &other, 0), J_OK);
    uint8_t buf[1600];
    forward(s, buf, vp8_packet(buf, 1, 1000, true), 1000);
    sfu_downtrack_set_paused(&paused, SFU_PAUSE_SUBSCRIBER, true, 2000);
    forward(s, buf, vp8_packet(buf, 2, 4000, true), 3000);
    forward(s, buf, vp8_packet(buf, 3, 7000, false), 4000);
    assert_int_equal(cap_paused.count, 1);
    assert_int_equal(cap_other.count, 3);

    keyframe_requests = 0;
    sfu_track_handle_timeout(s, 400000); /* a paused downtrack asks for nothing */
    assert_int_equal(keyframe_requests, 0);
    sfu_downtrack_set_paused(&paused, SFU_PAUSE_SUBSCRIBER, false, 450000);
    assert_int_equal(keyframe_requests, 1);
    forward(s, buf, vp8_packet(buf, 4, 10000, false), 451000); /* delta: still waiting */
    assert_int_equal(cap_paused.count, 1);
    forward(s, buf, vp8_packet(buf, 5, 13000, true), 452000);
    assert_int_equal(cap_paused.count, 2);
    assert_int_equal(cap_other.count, 5);
    rtp_pkt a, b;
    rtp_parse(&a, cap_paused.pkts[0], cap_paused.lens[0]);
    rtp_parse(&b, cap_paused.pkts[1], cap_paused.lens[1]);
    assert_int_equal((uint16_t)(b.seq - a.seq), 1); /* no gap for the decoder to chase */
    sfu_track_free(s);
}

static void test_paused_before_attach_asks_no_keyframe(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup(&s, &sub, &cap);
    attach_source(s, 0);
    sfu_downtrack_set_paused(&sub, SFU_PAUSE_SUBSCRIBER, true, 0);
    keyframe_requests = 0;
    assert_int_equal(sfu_track_add_downtrack(s, &sub, 1000000), J_OK);
    assert_int_equal(keyframe_requests, 0);
    uint8_t buf[1600];
    forward(s, buf, vp8_packet(buf, 1, 1000, true), 1001000);
    assert_int_equal(cap.count, 0);
    sfu_track_free(s);
}

/* An Opus packet with the RFC 6464 extension (id 1) carrying V and level. */
static size_t opus_packet(uint8_t *buf, uint16_t seq, bool voice, uint8_t level)
{
    uint8_t ext = (uint8_t)((voice ? 0x80 : 0) | level);
    rtp_ext_elem e = {.id = 1, .data = &ext, .len = 1};
    rtp_header_out h = {.payload_type = 111, .seq = seq, .timestamp = seq * 960u, .ssrc = 0x77};
    int n = rtp_write_header(&h, &e, 1, buf, 1500);
    assert_true(n > 0);
    memset(buf + n, 0xAB, 20);
    return (size_t)n + 20;
}

static void test_audio_levels_are_summed_until_taken(void **state)
{
    (void)state;
    sfu_track *s = sfu_track_new("TR_audio", SFU_AUDIO);
    assert_non_null(s);
    sfu_source src;
    memset(&src, 0, sizeof src);
    src.codec_count = 1;
    src.codecs[0] = codec(111, "opus", 48000, 2);
    src.ext_id[SFU_EXT_AUDIO_LEVEL] = 1;
    sfu_track_attach_source(s, &src, count_keyframe_request, NULL, 0);
    uint8_t buf[1600];
    forward(s, buf, opus_packet(buf, 1, true, 30), 1000);   /* loudness 97 */
    forward(s, buf, opus_packet(buf, 2, true, 127), 2000);  /* silence: 0 */
    forward(s, buf, opus_packet(buf, 3, false, 10), 3000);  /* no voice: 0 */
    forward(s, buf, opus_packet(buf, 4, true, 0), 4000);    /* 0 dBov: 127 */
    sfu_audio_levels lv = sfu_track_take_levels(s);
    assert_int_equal(lv.packets, 4);
    assert_int_equal(lv.loudness_sum, 97 + 127);
    lv = sfu_track_take_levels(s);
    assert_int_equal(lv.packets, 0);
    assert_int_equal(lv.loudness_sum, 0);

    sfu_track_set_muted(s, true, 5000); /* a muted track is silent */
    forward(s, buf, opus_packet(buf, 5, true, 0), 6000);
    assert_int_equal(sfu_track_take_levels(s).packets, 0);
    sfu_track_set_muted(s, false, 7000);

    s->source.ext_id[SFU_EXT_AUDIO_LEVEL] = 0; /* not negotiated: nothing to read */
    forward(s, buf, opus_packet(buf, 6, true, 0), 8000);
    assert_int_equal(sfu_track_take_levels(s).packets, 0);
    sfu_track_free(s);
}


/* ---- simulcast -------------------------------------------------------------------------- */

#define SIM_MAX 2048

/* What a subscriber of a simulcast track decodes: per packet its numbering and VP8 or VP9
 * fields. */
typedef struct sim_capture {
    bool vp9;
    int count;
    struct {
        uint16_t seq;
        uint32_t ts;
        uint16_t picture_id;
        uint8_t tl0, tid;
        bool keyframe;
        uint16_t width; /* of a keyframe */
        uint32_t ssrc;
        uint8_t pt;
    } pkt[SIM_MAX];
} sim_capture;

static void sim_send(void *ctx, uint8_t *buf, size_t len, size_t cap, size_t twcc_off,
                     uint64_t now_us)
{
    (void)cap;
    (void)twcc_off;
    (void)now_us;
    sim_capture *c = ctx;
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, buf, len), J_OK);
    assert_true(c->count < SIM_MAX);
    bool rtx = p.payload_type == 121;
    const uint8_t *pl = rtx ? p.payload + 2 : p.payload;
    size_t pl_len = p.payload_len - (rtx ? 2 : 0);
    if (c->vp9) {
        vp9_descriptor d;
        vp9_ss ss;
        assert_int_equal(vp9_parse(&d, &ss, pl, pl_len), J_OK);
        assert_true(d.picture_id_15bit);
        c->pkt[c->count].picture_id = d.picture_id;
        c->pkt[c->count].tl0 = d.tl0picidx;
        c->pkt[c->count].tid = d.tid;
        c->pkt[c->count].keyframe = d.keyframe;
        c->pkt[c->count].width = d.has_ss ? ss.width[0] : 0;
    } else {
        vp8_descriptor d;
        assert_int_equal(vp8_parse(&d, pl, pl_len), J_OK);
        assert_true(d.picture_id_15bit);
        c->pkt[c->count].picture_id = d.picture_id;
        c->pkt[c->count].tl0 = d.tl0picidx;
        c->pkt[c->count].tid = d.tid;
        c->pkt[c->count].keyframe = d.keyframe;
        c->pkt[c->count].width = d.has_dimensions ? d.width : 0;
    }
    c->pkt[c->count].seq = rtx ? rd_be16(p.payload) : p.seq;
    c->pkt[c->count].ts = p.timestamp;
    c->pkt[c->count].ssrc = p.ssrc;
    c->pkt[c->count].pt = p.payload_type;
    c->count++;
}

/* One publisher encoding: its own SSRC, sequence numbers, picture ids and TL0PICIDX. */
typedef struct sim_encoding {
    uint32_t ssrc;
    uint16_t seq, picture_id;
    uint8_t tl0;
    uint16_t width, height;
} sim_encoding;

/* The VP9 descriptor (non-flexible, L1T3) of a one-packet frame of encoding e: a keyframe
 * carries a scalability structure with its size. */
static size_t sim_vp9_descriptor(uint8_t *pl, const sim_encoding *e, uint8_t tid, bool key)
{
    size_t n = 0;
    pl[n++] = (uint8_t)(0xAC | (key ? 0x02 : 0x40)); /* I, L, B, E; V or P */
    pl[n++] = (uint8_t)(0x80 | (e->picture_id >> 8));
    pl[n++] = (uint8_t)e->picture_id;
    pl[n++] = (uint8_t)(tid << 5 | (tid ? 0x10 : 0)); /* U on every upper-layer frame */
    pl[n++] = e->tl0;
    if (key) {
        pl[n++] = 0x10; /* N_S 0, Y */
        wr_be16(pl + n, e->width);
        wr_be16(pl + n + 2, e->height);
        n += 4;
    }
    return n;
}

/* The VP8 descriptor and payload header of a one-packet frame of encoding e (Y on layers 1
 * and 2 after a TL0): a keyframe's header carries its size. */
static size_t sim_vp8_head(uint8_t *pl, const sim_encoding *e, uint8_t tid, bool key)
{
    size_t n = 0;
    pl[n++] = 0x90; /* X, S, PID 0 */
    pl[n++] = 0xE0; /* I, L, T */
    pl[n++] = (uint8_t)(0x80 | (e->picture_id >> 8));
    pl[n++] = (uint8_t)e->picture_id;
    pl[n++] = e->tl0;
    pl[n++] = (uint8_t)(tid << 6 | (tid ? 0x20 : 0)); /* Y on every upper-layer frame */
    if (key) {
        uint8_t tag[] = {0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, (uint8_t)e->width,
                         (uint8_t)(e->width >> 8), (uint8_t)e->height, (uint8_t)(e->height >> 8)};
        memcpy(pl + n, tag, sizeof tag);
        n += sizeof tag;
    } else {
        pl[n++] = 0x01; /* P = 1: an inter frame */
        pl[n++] = 0x00;
        pl[n++] = 0x00;
    }
    return n;
}

/* A one-packet VP8 or VP9 frame of encoding e with temporal layer tid (pattern 0 2 1 2),
 * timestamp ts; a keyframe carries its size. */
static size_t sim_frame(uint8_t *buf, sim_encoding *e, uint8_t tid, uint32_t ts, bool key,
                        bool vp9)
{
    if (tid == 0) e->tl0++;
    uint8_t pl[32];
    size_t n = vp9 ? sim_vp9_descriptor(pl, e, tid, key) : sim_vp8_head(pl, e, tid, key);
    memset(pl + n, 0xAB, 8);
    n += 8;
    e->picture_id = (uint16_t)((e->picture_id + 1) & 0x7FFF);
    rtp_header_out h = {.payload_type = 96, .seq = e->seq++, .timestamp = ts, .marker = true,
                        .ssrc = e->ssrc};
    int len = rtp_write_packet(&h, NULL, 0, pl, n, buf, 1500);
    assert_true(len > 0);
    return (size_t)len;
}

typedef struct sim_rig {
    sfu_track *t;
    sfu_downtrack d;
    sim_capture cap;
    sim_encoding enc[3];
    bool vp9;         /* the encodings send VP9 (L1T3), else VP8 */
    uint32_t frame;   /* frames sent, each encoding */
    uint64_t now;
    bool key_next[3]; /* the next frame of that encoding is a keyframe */
    int key_requests[3];
} sim_rig;

static sim_rig *sim_rig_of_track; /* the keyframe callback's rig */

static void sim_keyframe_request(void *ctx, const sfu_track *t, uint8_t encoding)
{
    (void)ctx;
    (void)t;
    assert_true(encoding < 3);
    sim_rig_of_track->key_requests[encoding]++;
    sim_rig_of_track->key_next[encoding] = true;
}

/* encodings in a=simulcast order: widths as listed (the first 320 unless reversed); VP8, or
 * VP9 when vp9. */
static void sim_setup(sim_rig *r, const uint16_t widths[3], uint32_t rtx_ssrc, bool vp9)
{
    memset(r, 0, sizeof *r);
    sim_rig_of_track = r;
    r->vp9 = r->cap.vp9 = vp9;
    const char *name = vp9 ? "VP9" : "VP8";
    r->t = sfu_track_new("TR_sim", SFU_VIDEO);
    assert_non_null(r->t);
    sfu_source src;
    memset(&src, 0, sizeof src);
    src.codec_count = 1;
    src.codecs[0] = codec(96, name, 90000, 0);
    src.encoding_count = 3;
    sfu_track_attach_source(r->t, &src, sim_keyframe_request, NULL, 0);
    sdp_neg_media video;
    memset(&video, 0, sizeof video);
    video.kind = SDP_KIND_VIDEO;
    video.codec_count = 1;
    video.codecs[0] = codec(120, name, 90000, 0);
    video.codecs[0].rtx_pt = 121;
    sfu_downtrack_init(&r->d, &video, 0xD0D0D0D0u, rtx_ssrc, sim_send, &r->cap);
    for (int e = 0; e < 3; e++) {
        r->enc[e] = (sim_encoding){.ssrc = 0x100u + (uint32_t)e, .seq = (uint16_t)(1000 * e + 7),
                                   .picture_id = (uint16_t)(3000 * e + 5), .tl0 = (uint8_t)(50 * e),
                                   .width = widths[e], .height = (uint16_t)(widths[e] * 9 / 16)};
        r->key_next[e] = true;
    }
    assert_int_equal(sfu_track_add_downtrack(r->t, &r->d, 0), J_OK);
}

/* Run ms of media: a frame on every encoding each 33 ms (bitrates 1:8:64 by resolution),
 * the track's timer every 10 ms. */
static void sim_run(sim_rig *r, uint64_t ms)
{
    static const uint8_t pattern[] = {0, 2, 1, 2};
    uint64_t end = r->now + ms * 1000;
    for (; r->now < end; r->now += 1000) {
        if (r->now % 33000 == 0) {
            uint8_t tid = pattern[r->frame % 4];
            for (int e = 0; e < 3; e++) {
                bool key = r->key_next[e];
                if (key) tid = 0;
                uint8_t buf[1600];
                size_t len = sim_frame(buf, &r->enc[e], key ? 0 : tid, r->frame * 3000u, key,
                                       r->vp9);
                r->key_next[e] = false;
                rtp_pkt p;
                assert_int_equal(rtp_parse(&p, buf, len), J_OK);
                /* Bigger encodings send more: the meter counts the packet's bytes again,
                 * (width / 320)^3 times in all, so a bigger encoding's base layer costs more
                 * than a smaller one's full frame rate. */
                sfu_track_forward(r->t, &p, (uint8_t)e, r->now);
                int scale = r->enc[e].width / 320;
                for (int k = 1; k < scale * scale * scale; k++)
                    sfu_layer_meter_add(&r->t->meter, r->t->enc[e].spatial, key ? 0 : tid, len,
                                        r->now);
            }
            r->frame++;
        }
        if (r->now % 10000 == 0) sfu_track_handle_timeout(r->t, r->now);
    }
}

/* The subscriber's stream is one stream: sequence numbers +1, timestamps never back, picture
 * ids +1 per new picture (VP9: +1 to +4, a dropped picture keeps its number, but +1 at a
 * switch to another encoding), TL0PICIDX +0/+1, from packet `from` on. */
static void assert_continuous(const sim_capture *c, int from)
{
    uint16_t width = 0;
    for (int i = from + 1; i < c->count; i++) {
        assert_int_equal((uint16_t)(c->pkt[i].seq - c->pkt[i - 1].seq), 1);
        assert_true((int32_t)(c->pkt[i].ts - c->pkt[i - 1].ts) > 0);
        int step = (c->pkt[i].picture_id - c->pkt[i - 1].picture_id) & 0x7FFF;
        bool switched = c->pkt[i].width && width && c->pkt[i].width != width;
        if (c->pkt[i].width) width = c->pkt[i].width;
        assert_true(step >= 1 && step <= (c->vp9 && !switched ? 4 : 1));
        uint8_t dtl0 = (uint8_t)(c->pkt[i].tl0 - c->pkt[i - 1].tl0);
        assert_true(dtl0 == 0 || dtl0 == 1);
        assert_true(dtl0 == 1 || c->pkt[i].tid != 0);
    }
}

static int last_width(const sim_capture *c)
{
    for (int i = c->count - 1; i >= 0; i--)
        if (c->pkt[i].width) return c->pkt[i].width;
    return 0;
}

static void test_simulcast_switches_keep_the_stream_continuous(void **state)
{
    (void)state;
    static const uint16_t widths[3] = {320, 640, 1280};
    static sim_rig r;
    sim_setup(&r, widths, 0, false);
    /* The first encoding seen starts; no estimate: up to the best after the hold time. */
    sim_run(&r, 2500);
    assert_int_equal(r.cap.pkt[0].width, 320);
    assert_int_equal(r.d.layers.current_spatial, 2);
    assert_int_equal(last_width(&r.cap), 1280);
    assert_continuous(&r.cap, 0);

    /* A budget for the middle encoding at full rate: down at once, at h's keyframe. */
    sfu_layers_source src;
    sfu_track_layers(r.t, r.now, &src);
    sfu_downtrack_set_budget(&r.d, src.bitrate_bps[1][2] * 105 / 100);
    int requests = r.key_requests[1];
    r.key_next[1] = false;
    sim_run(&r, 100);
    assert_int_equal(r.d.layers.target_spatial, 1);
    assert_int_equal(r.key_requests[1], requests + 1); /* asked h for a keyframe */
    assert_int_equal(r.d.layers.current_spatial, 1);  /* and switched at it */
    sim_run(&r, 500);
    assert_int_equal(last_width(&r.cap), 640);
    assert_continuous(&r.cap, 0);

    /* A smaller budget: h's lower temporal layers, no keyframe needed. */
    int before = r.cap.count;
    sfu_downtrack_set_budget(&r.d, src.bitrate_bps[1][0] * 105 / 100);
    sim_run(&r, 500);
    assert_int_equal(r.d.layers.current_spatial, 1);
    assert_int_equal(r.d.layers.current_temporal, 0);
    for (int i = before + 5; i < r.cap.count; i++) assert_int_equal(r.cap.pkt[i].tid, 0);
    assert_continuous(&r.cap, 0);

    /* The tile shrinks to 320x180: down to q at once (a user change). */
    sfu_downtrack_set_budget(&r.d, 0);
    sfu_downtrack_set_layer_prefs(&r.d, 320, 180, true, SFU_LAYER_ANY, SFU_LAYER_ANY);
    sim_run(&r, 300);
    assert_int_equal(r.d.layers.current_spatial, 0);
    assert_int_equal(last_width(&r.cap), 320);
    /* Up again at once when the tile grows, waiting for f's keyframe (asked for). */
    requests = r.key_requests[2];
    sfu_downtrack_set_layer_prefs(&r.d, 1280, 720, true, SFU_LAYER_ANY, SFU_LAYER_ANY);
    r.key_next[2] = false;
    sim_run(&r, 20);
    assert_int_equal(r.d.layers.target_spatial, 2);
    assert_int_equal(r.d.layers.current_spatial, 0); /* still q: f sent no keyframe yet */
    assert_int_equal(r.key_requests[2], requests + 1);
    sim_run(&r, 300);
    assert_int_equal(r.d.layers.current_spatial, 2);
    assert_int_equal(last_width(&r.cap), 1280);
    assert_continuous(&r.cap, 0);
    /* Hidden: nothing; visible again: from a keyframe, still one stream. */
    sfu_downtrack_set_layer_prefs(&r.d, 1280, 720, false, SFU_LAYER_ANY, SFU_LAYER_ANY);
    sim_run(&r, 300);
    before = r.cap.count;
    sim_run(&r, 300);
    assert_int_equal(r.cap.count, before);
    sfu_downtrack_set_layer_prefs(&r.d, 1280, 720, true, 0, SFU_LAYER_ANY);
    sim_run(&r, 300);
    assert_int_equal(last_width(&r.cap), 320);
    assert_continuous(&r.cap, 0);
    sfu_track_free(r.t);
}

/* VP9 simulcast (three L1T3 encodings): switches keep the subscriber's picture ids and
 * TL0PICIDX continuous; dropped temporal layers keep their pictures' numbers. */
static void test_vp9_simulcast_switches_keep_the_stream_continuous(void **state)
{
    (void)state;
    static const uint16_t widths[3] = {320, 640, 1280};
    static sim_rig r;
    sim_setup(&r, widths, 0, true);
    sim_run(&r, 2500);
    assert_int_equal(r.cap.pkt[0].width, 320);
    assert_int_equal(r.d.layers.current_spatial, 2);
    assert_int_equal(last_width(&r.cap), 1280); /* sized by its scalability structure */
    assert_int_equal(r.t->enc[2].width, 1280);
    assert_continuous(&r.cap, 0);

    /* A budget for h's base layer: down to h, TL0 only; the ids keep the encoder's spacing. */
    sfu_layers_source src;
    sfu_track_layers(r.t, r.now, &src);
    sfu_downtrack_set_budget(&r.d, src.bitrate_bps[1][0] * 105 / 100);
    r.key_next[1] = false;
    sim_run(&r, 1000);
    assert_int_equal(r.d.layers.current_spatial, 1);
    assert_int_equal(r.d.layers.current_temporal, 0);
    assert_int_equal(last_width(&r.cap), 640);
    for (int i = r.cap.count - 5; i < r.cap.count; i++) {
        assert_int_equal(r.cap.pkt[i].tid, 0);
        assert_int_equal((r.cap.pkt[i].picture_id - r.cap.pkt[i - 1].picture_id) & 0x7FFF, 4);
    }
    assert_continuous(&r.cap, 0);

    /* Down to q (the tile shrinks), up to f (it grows): one stream throughout. */
    sfu_downtrack_set_budget(&r.d, 0);
    sfu_downtrack_set_layer_prefs(&r.d, 320, 180, true, SFU_LAYER_ANY, SFU_LAYER_ANY);
    sim_run(&r, 300);
    assert_int_equal(last_width(&r.cap), 320);
    sfu_downtrack_set_layer_prefs(&r.d, 1280, 720, true, SFU_LAYER_ANY, SFU_LAYER_ANY);
    sim_run(&r, 300);
    assert_int_equal(last_width(&r.cap), 1280);
    assert_continuous(&r.cap, 0);
    sfu_track_free(r.t);
}

/* Firefox may list its encodings top first: the keyframe sizes rank them. */
static void test_simulcast_encodings_ranked_by_resolution(void **state)
{
    (void)state;
    static const uint16_t widths[3] = {1280, 640, 320};
    static sim_rig r;
    sim_setup(&r, widths, 0, false);
    sim_run(&r, 300);
    assert_int_equal(r.t->enc[0].spatial, 2);
    assert_int_equal(r.t->enc[2].spatial, 0);
    assert_int_equal(last_width(&r.cap), 320); /* the lowest is the smallest */
    sfu_downtrack_set_layer_prefs(&r.d, 640, 360, true, SFU_LAYER_ANY, SFU_LAYER_ANY);
    sim_run(&r, 1500);
    assert_int_equal(last_width(&r.cap), 640);
    assert_continuous(&r.cap, 0);
    sfu_track_free(r.t);
}

/* NACKs after a switch: answered from the encoding each packet came from (the encodings'
 * sequence numbers overlap), rebuilt with the picture ids it was sent with. */
static void test_simulcast_nack_is_answered_from_its_encoding(void **state)
{
    (void)state;
    static const uint16_t widths[3] = {320, 640, 1280};
    static sim_rig r;
    sim_setup(&r, widths, 0xE0E0E0E0u, false);
    /* The encodings' sequence numbers collide: all start at 7. */
    for (int e = 0; e < 3; e++) r.enc[e].seq = 7;
    r.d.rtx_credit = SFU_RTX_CREDIT_MAX;
    sfu_downtrack_set_layer_prefs(&r.d, 0, 0, true, 1, SFU_LAYER_ANY);
    sim_run(&r, 2500);
    assert_int_equal(r.d.layers.current_spatial, 1);
    int sent = r.cap.count;
    const int asked = sent - 3; /* a packet of h */
    sim_capture *c = &r.cap;
    assert_int_equal(sfu_downtrack_retransmit(&r.d, c->pkt[asked].seq, r.now), J_OK);
    assert_int_equal(c->count, sent + 1);
    assert_int_equal(c->pkt[sent].ssrc, 0xE0E0E0E0u);
    assert_int_equal(c->pkt[sent].seq, c->pkt[asked].seq);
    assert_int_equal(c->pkt[sent].ts, c->pkt[asked].ts);
    assert_int_equal(c->pkt[sent].picture_id, c->pkt[asked].picture_id);
    assert_int_equal(c->pkt[sent].tl0, c->pkt[asked].tl0);
    /* What q sent before the switch is not in this mapping any more. */
    assert_int_equal(sfu_downtrack_retransmit(&r.d, c->pkt[0].seq, r.now), J_ENOTFOUND);
    sfu_track_free(r.t);
}

/* ---- VP9 SVC ---------------------------------------------------------------------------- */

typedef struct svc_capture {
    int count;
    struct {
        uint16_t seq;
        uint8_t sid, tid;
        bool marker;
        uint16_t picture_id;
    } pkt[256];
} svc_capture;

static void svc_send(void *ctx, uint8_t *buf, size_t len, size_t cap, size_t twcc_off,
                     uint64_t now_us)
{
    (void)cap;
    (void)twcc_off;
    (void)now_us;
    svc_capture *c = ctx;
    rtp_pkt p;
    vp9_descriptor d;
    assert_int_equal(rtp_parse(&p, buf, len), J_OK);
    assert_int_equal(vp9_parse(&d, NULL, p.payload, p.payload_len), J_OK);
    assert_true(c->count < 256);
    c->pkt[c->count].seq = p.seq;
    c->pkt[c->count].sid = d.sid;
    c->pkt[c->count].tid = d.tid;
    c->pkt[c->count].marker = p.marker;
    c->pkt[c->count].picture_id = d.picture_id;
    c->count++;
}

/* One packet per spatial layer of a VP9 k-SVC picture (non-flexible, L3T1): picture id pid,
 * a key picture when key (inter-layer prediction only there), the marker on the top layer. */
static void svc_picture(sfu_track *t, uint16_t *seq, uint16_t pid, uint8_t tl0, bool key,
                        uint64_t now)
{
    for (uint8_t sid = 0; sid < 3; sid++) {
        uint8_t pl[16];
        size_t n = 0;
        pl[n++] = (uint8_t)(0x80 | (key ? 0 : 0x40) | 0x20 | 0x08 | 0x04); /* I P L B E */
        pl[n++] = (uint8_t)(0x80 | (pid >> 8));
        pl[n++] = (uint8_t)pid;
        pl[n++] = (uint8_t)(sid << 1 | (key && sid ? 1 : 0)); /* TID 0, SID, D */
        pl[n++] = tl0;
        memset(pl + n, 0xCD, 6);
        n += 6;
        rtp_header_out h = {.payload_type = 98, .seq = (*seq)++, .timestamp = pid * 3000u,
                            .marker = sid == 2, .ssrc = 0x9999};
        uint8_t buf[256];
        int len = rtp_write_packet(&h, NULL, 0, pl, n, buf, sizeof buf);
        assert_true(len > 0);
        rtp_pkt p;
        assert_int_equal(rtp_parse(&p, buf, (size_t)len), J_OK);
        sfu_track_forward(t, &p, 0, now);
    }
}

/* VP9 k-SVC: spatial layers up to the target go, the marker moves to the last one sent, the
 * numbering has no holes, and the picture ids stay the publisher's (a libwebrtc receiver
 * places non-flexible-mode pictures in their group of frames by their id). */
static void test_vp9_svc_forwards_spatial_layers_up_to_the_target(void **state)
{
    (void)state;
    sfu_track *t = sfu_track_new("TR_svc", SFU_VIDEO);
    sfu_source src;
    memset(&src, 0, sizeof src);
    src.codec_count = 1;
    src.codecs[0] = codec(98, "VP9", 90000, 0);
    sfu_track_attach_source(t, &src, count_keyframe_request, NULL, 0);
    assert_int_equal(t->layers_mode, SFU_LAYERS_SVC);
    sdp_neg_media video;
    memset(&video, 0, sizeof video);
    video.kind = SDP_KIND_VIDEO;
    video.codec_count = 1;
    video.codecs[0] = codec(100, "VP9", 90000, 0);
    sfu_downtrack d;
    static svc_capture cap;
    memset(&cap, 0, sizeof cap);
    sfu_downtrack_init(&d, &video, 0x5555, 0, svc_send, &cap);
    sfu_downtrack_set_layer_prefs(&d, 0, 0, true, 1, SFU_LAYER_ANY);
    assert_int_equal(sfu_track_add_downtrack(t, &d, 0), J_OK);
    uint16_t seq = 100;
    uint64_t now = 0;
    keyframe_requests = 0;
    int answered = 0;
    for (uint16_t pic = 0; pic < 120; pic++, now += 33000) {
        /* The publisher answers each keyframe request with a key picture. */
        bool key = pic == 0 || keyframe_requests > answered;
        answered = keyframe_requests;
        svc_picture(t, &seq, (uint16_t)(500 + pic), (uint8_t)pic, key, now);
        if (pic % 3 == 0) sfu_track_handle_timeout(t, now);
    }
    assert_true(keyframe_requests >= 1); /* for the up-switch to layer 1 */
    assert_int_equal(d.layers.current_spatial, 1);
    assert_true(cap.count > 40);
    for (int i = 0; i < cap.count; i++) {
        assert_true(cap.pkt[i].sid <= 1);
        bool last_of_picture =
            i == cap.count - 1 || cap.pkt[i + 1].picture_id != cap.pkt[i].picture_id;
        assert_int_equal(cap.pkt[i].marker, last_of_picture);
        if (i) assert_int_equal((uint16_t)(cap.pkt[i].seq - cap.pkt[i - 1].seq), 1);
    }
    assert_int_equal(cap.pkt[cap.count - 1].picture_id, 500 + 119);
    sfu_track_free(t);
}

/* ---- AV1 with the Dependency Descriptor ------------------------------------------------- */

#define AV1_SRC_PT 45
#define AV1_SUB_PT 41
#define AV1_SRC_DD_ID 12      /* the publisher's extension id; each subscriber has its own */
#define AV1_FIRST_SEQ 65000   /* the source's numbering wraps during a run */
#define AV1_MAX_PKTS 1024
#define AV1_PAYLOAD_LEN 24
#define AV1_DOWNS 4

/* L2T2, full SVC: decode targets S0T0, S0T1, S1T0, S1T1; chain 0 runs over the S0 T0 frames
 * and protects the S0 targets, chain 1 over the T0 frames of both layers and protects the S1
 * ones. A picture is an S0 frame, then an S1 frame that references it; T0 and T1 pictures
 * alternate from each key picture. An S1 delta frame is required, never a switch: a
 * subscriber starts S1 only at a key picture. */
static const dd_structure_spec av1_l2t2 = {
    .offset = 0, .dt_count = 4, .chain_count = 2, .protected_by = {0, 0, 1, 1},
    .template_count = 6,
    .templates = {
        {0, 0, 0, {0}, {0, 0}, "SSSS"},    /* S0 key */
        {0, 0, 1, {4}, {4, 3}, "SSRR"},    /* S0 T0 */
        {0, 1, 1, {2}, {2, 1}, "-D-R"},    /* S0 T1 */
        {1, 0, 1, {1}, {1, 1}, "--SS"},    /* S1 key */
        {1, 0, 2, {4, 1}, {1, 1}, "--RR"}, /* S1 T0 */
        {1, 1, 2, {2, 1}, {3, 2}, "---D"}, /* S1 T1 */
    },
    .width = {640, 1280}, .height = {360, 720},
};

/* One packet the publisher sent, by its index from AV1_FIRST_SEQ. */
typedef struct av1_src_pkt {
    uint8_t spatial, temporal;
    bool frame_end, key_picture;
    uint8_t dd[64];
    size_t dd_len;
} av1_src_pkt;

/* What one subscriber receives. Its callback checks each packet as it arrives: the payload is
 * the publisher's, byte for byte; the descriptor is there under the subscriber's id (and is
 * the publisher's) exactly when it negotiated it, and resolves against what it received. */
typedef struct av1_capture {
    const av1_src_pkt *src;
    uint8_t dd_ext_id; /* 0: no Dependency Descriptor negotiated */
    dd_structure dd;   /* the subscriber's own parse of the descriptors it receives */
    int count;
    struct {
        uint16_t seq;
        int src_index;
        uint32_t ts;
        bool marker;
    } pkt[AV1_MAX_PKTS];
} av1_capture;

/* An opaque payload, as an end-to-end encrypted frame is: only the test reads it (the source
 * sequence number in bytes 1-2). Its first byte, read as an AV1 aggregation header, would
 * claim the start of a coded video sequence (N) on every packet. */
static void av1_payload(uint8_t *pl, uint16_t src_seq)
{
    pl[0] = 0xF8;
    wr_be16(pl + 1, src_seq);
    for (size_t i = 3; i < AV1_PAYLOAD_LEN; i++) pl[i] = (uint8_t)(src_seq * 31u + i * 7u) | 0x08;
}

static void av1_send(void *ctx, uint8_t *buf, size_t len, size_t cap, size_t twcc_off,
                     uint64_t now_us)
{
    (void)cap;
    (void)twcc_off;
    (void)now_us;
    av1_capture *c = ctx;
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, buf, len), J_OK);
    assert_int_equal(p.payload_type, AV1_SUB_PT);
    assert_int_equal(p.payload_len, AV1_PAYLOAD_LEN);
    uint16_t src_seq = rd_be16(p.payload + 1);
    uint8_t expected[AV1_PAYLOAD_LEN];
    av1_payload(expected, src_seq);
    assert_memory_equal(p.payload, expected, AV1_PAYLOAD_LEN);
    int index = (uint16_t)(src_seq - AV1_FIRST_SEQ);
    assert_true(index < AV1_MAX_PKTS);
    const av1_src_pkt *s = &c->src[index];
    const uint8_t *dd;
    size_t dd_len;
    if (c->dd_ext_id) {
        assert_int_equal(rtp_ext_find(&p, c->dd_ext_id, &dd, &dd_len), J_OK);
        assert_int_equal(dd_len, s->dd_len);
        assert_memory_equal(dd, s->dd, dd_len);
        dd_frame f;
        assert_int_equal(dd_parse(&f, &c->dd, dd, dd_len), J_OK);
        assert_int_equal(f.spatial_id, s->spatial);
    } else {
        assert_false(p.has_ext); /* no extension at all: no MID, no descriptor */
    }
    assert_true(c->count < AV1_MAX_PKTS);
    c->pkt[c->count].seq = p.seq;
    c->pkt[c->count].src_index = index;
    c->pkt[c->count].ts = p.timestamp;
    c->pkt[c->count].marker = p.marker;
    c->count++;
}

typedef struct av1_rig {
    sfu_track *t;
    sfu_downtrack d[AV1_DOWNS];
    av1_capture cap[AV1_DOWNS];
    av1_src_pkt src[AV1_MAX_PKTS];
    dd_structure_spec structure; /* what the publisher's next key picture carries */
    int sent;                    /* packets, = next index */
    uint16_t frame_number;
    int since_key;               /* pictures since the last key picture */
    uint32_t ts;
    uint64_t now;
    bool key_next;               /* the next picture is a key picture */
    bool answer_keyframes;       /* the publisher answers a request with a key picture */
    bool lose_structure;         /* the next structure-carrying packet never arrives */
    int key_requests;
} av1_rig;

static void av1_keyframe_request(void *ctx, const sfu_track *t, uint8_t encoding)
{
    (void)t;
    av1_rig *r = ctx;
    assert_int_equal(encoding, 0);
    r->key_requests++;
    if (r->answer_keyframes) r->key_next = true;
}

static void av1_setup(av1_rig *r)
{
    memset(r, 0, sizeof *r);
    r->structure = av1_l2t2;
    r->frame_number = 65530; /* frame numbers wrap too */
    r->key_next = r->answer_keyframes = true;
    r->t = sfu_track_new("TR_av1", SFU_VIDEO);
    assert_non_null(r->t);
    sfu_source src;
    memset(&src, 0, sizeof src);
    src.codec_count = 1;
    src.codecs[0] = codec(AV1_SRC_PT, "AV1", 90000, 0);
    src.ext_id[SFU_EXT_DEPENDENCY_DESCRIPTOR] = AV1_SRC_DD_ID;
    src.encoding_count = 1;
    sfu_track_attach_source(r->t, &src, av1_keyframe_request, r, 0);
    assert_int_equal(r->t->layers_mode, SFU_LAYERS_SVC);
    assert_true(r->t->layers_from_dd);
}

/* Subscriber i, with the descriptor under dd_ext_id (0: not negotiated) and preferred maximum
 * layers; attached at once. */
static void av1_add_down(av1_rig *r, int i, uint8_t dd_ext_id, uint8_t max_spatial,
                         uint8_t max_temporal)
{
    sdp_neg_media video;
    memset(&video, 0, sizeof video);
    video.kind = SDP_KIND_VIDEO;
    video.codec_count = 1;
    video.codecs[0] = codec(AV1_SUB_PT, "AV1", 90000, 0);
    video.ext_id[SDP_EXT_DEPENDENCY_DESCRIPTOR] = dd_ext_id;
    av1_capture *c = &r->cap[i];
    c->src = r->src;
    c->dd_ext_id = dd_ext_id;
    dd_structure_init(&c->dd);
    sfu_downtrack_init(&r->d[i], &video, 0xAB00u + (uint32_t)i, 0, av1_send, c);
    sfu_downtrack_set_layer_prefs(&r->d[i], 0, 0, true, max_spatial, max_temporal);
    assert_int_equal(sfu_track_add_downtrack(r->t, &r->d[i], r->now), J_OK);
}

/* One packet of the current frame (r->frame_number, template index tmpl of r->structure),
 * carrying the structure itself when `structure`; the marker on the last packet of the
 * picture. Recorded as sent, then forwarded unless it is the structure to lose. */
static void av1_packet(av1_rig *r, uint8_t tmpl, bool start, bool end, bool structure,
                       bool key_picture, bool marker)
{
    const dd_template_spec *ts = &r->structure.templates[tmpl];
    assert_true(r->sent < AV1_MAX_PKTS);
    av1_src_pkt *s = &r->src[r->sent];
    uint16_t seq = (uint16_t)(AV1_FIRST_SEQ + r->sent++);
    dd_bit_writer w;
    memset(&w, 0, sizeof w);
    dd_put_mandatory(&w, start, end, (r->structure.offset + tmpl) % 64, r->frame_number);
    if (structure) {
        dd_put(&w, 1, 1); /* template_dependency_structure_present_flag */
        dd_put(&w, 0, 4); /* active decode targets, custom dtis / fdiffs / chains */
        dd_put_structure(&w, &r->structure);
    }
    *s = (av1_src_pkt){.spatial = (uint8_t)ts->s, .temporal = (uint8_t)ts->t, .frame_end = end,
                       .key_picture = key_picture, .dd_len = dd_bytes_of(&w)};
    assert_true(s->dd_len <= sizeof s->dd);
    memcpy(s->dd, w.buf, s->dd_len);
    if (structure && r->lose_structure) {
        r->lose_structure = false;
        return;
    }
    uint8_t pl[AV1_PAYLOAD_LEN];
    av1_payload(pl, seq);
    rtp_ext_elem e = {.id = AV1_SRC_DD_ID, .data = s->dd, .len = s->dd_len};
    rtp_header_out h = {.payload_type = AV1_SRC_PT, .seq = seq, .timestamp = r->ts,
                        .marker = marker, .ssrc = 0xA1A1A1A1u};
    uint8_t buf[256];
    int len = rtp_write_packet(&h, &e, 1, pl, sizeof pl, buf, sizeof buf);
    assert_true(len > 0);
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, buf, (size_t)len), J_OK);
    sfu_track_forward(r->t, &p, 0, r->now);
}

/* Run `pictures` pictures, 33 ms apart, each an S0 then an S1 frame of two packets (the
 * structure on the first packet of a key picture), the track's timer after each. */
static void av1_run(av1_rig *r, int pictures)
{
    for (int n = 0; n < pictures; n++) {
        bool key = r->key_next;
        r->key_next = false;
        if (key) r->since_key = 0;
        bool t1 = r->since_key++ % 2 == 1;
        for (uint8_t s = 0; s < 2; s++) {
            uint8_t tmpl = key ? (uint8_t)(3 * s) : (uint8_t)(3 * s + 1 + t1);
            for (int k = 0; k < 2; k++)
                av1_packet(r, tmpl, k == 0, k == 1, key && s == 0 && k == 0, key, s == 1 && k == 1);
            r->frame_number++;
        }
        r->ts += 3000;
        r->now += 33000;
        sfu_track_handle_timeout(r->t, r->now);
    }
}

/* What subscriber i received is one stream: sequence numbers +1 (+2 before packet lost_before,
 * after a packet lost on the way in; -1: none), the publisher's timestamps at one offset, the
 * marker on the last packet it received of each picture. */
static void av1_assert_one_stream(const av1_rig *r, int i, int lost_before)
{
    const av1_capture *c = &r->cap[i];
    assert_true(c->count > 0);
    for (int k = 0; k < c->count; k++) {
        bool last_of_picture = k == c->count - 1 || c->pkt[k + 1].ts != c->pkt[k].ts;
        assert_int_equal(c->pkt[k].marker, last_of_picture);
        if (k == 0) continue;
        assert_int_equal((uint16_t)(c->pkt[k].seq - c->pkt[k - 1].seq), k == lost_before ? 2 : 1);
        int pictures = (c->pkt[k].src_index / 4) - (c->pkt[k - 1].src_index / 4);
        assert_int_equal(c->pkt[k].ts - c->pkt[k - 1].ts, 3000u * (uint32_t)pictures);
    }
}

/* Of the publisher's packets [from, to), subscriber i received exactly those of layers up to
 * (max_spatial, max_temporal), in order. */
static void av1_assert_gets(const av1_rig *r, int i, int from, int to, uint8_t max_spatial,
                            uint8_t max_temporal)
{
    const av1_capture *c = &r->cap[i];
    int k = 0;
    while (k < c->count && c->pkt[k].src_index < from) k++;
    for (int n = from; n < to; n++) {
        const av1_src_pkt *s = &r->src[n];
        if (s->spatial > max_spatial || s->temporal > max_temporal) continue;
        assert_true(k < c->count);
        assert_int_equal(c->pkt[k].src_index, n);
        k++;
    }
    assert_true(k == c->count || c->pkt[k].src_index >= to);
}

/* The publisher's index of the first packet subscriber i received at (spatial, temporal). */
static int av1_first_received(const av1_rig *r, int i, uint8_t spatial, uint8_t temporal)
{
    const av1_capture *c = &r->cap[i];
    for (int k = 0; k < c->count; k++) {
        const av1_src_pkt *s = &r->src[c->pkt[k].src_index];
        if (s->spatial == spatial && s->temporal == temporal) return c->pkt[k].src_index;
    }
    return -1;
}

enum { AV1_S0, AV1_S0T0, AV1_ALL, AV1_NO_DD };

/* Four subscribers of one L2T2 stream: S0 at any frame rate, S0T0 only, everything, and one
 * without the descriptor (the base spatial layer at any frame rate, which decodes without
 * it). Every decision comes from the descriptor: the payload is opaque (and would mislead
 * anyone reading it). */
static void test_av1_dd_selects_layers_per_subscriber(void **state)
{
    (void)state;
    static av1_rig r;
    av1_setup(&r);
    av1_add_down(&r, AV1_S0, 9, 0, SFU_LAYER_ANY);
    av1_add_down(&r, AV1_S0T0, 9, 0, 0);
    av1_add_down(&r, AV1_ALL, 10, SFU_LAYER_ANY, SFU_LAYER_ANY);
    av1_add_down(&r, AV1_NO_DD, 0, SFU_LAYER_ANY, SFU_LAYER_ANY);
    av1_run(&r, 120);
    for (int i = 0; i < AV1_DOWNS; i++) av1_assert_one_stream(&r, i, -1);

    /* S0, and the subscriber without the descriptor: the base layer from the first key
     * picture; both temporal layers once the policy's hold time has passed, from a switching
     * point on. */
    for (int i = AV1_S0; i <= AV1_NO_DD; i += AV1_NO_DD - AV1_S0) {
        int t1 = av1_first_received(&r, i, 0, 1);
        assert_true(t1 > 0);
        av1_assert_gets(&r, i, 0, t1, 0, 0);
        av1_assert_gets(&r, i, t1, r.sent, 0, 1);
        assert_int_equal(r.d[i].layers.current_spatial, 0);
        assert_int_equal(r.d[i].layers.current_temporal, 1);
    }
    av1_assert_gets(&r, AV1_S0T0, 0, r.sent, 0, 0);

    /* Everything: S0T0 until S1 is worth a switch, then all of it from a key picture (asked
     * for). */
    int s1 = av1_first_received(&r, AV1_ALL, 1, 0);
    assert_true(s1 > 0);
    assert_true(r.src[s1].key_picture);
    int key = s1 - 2; /* the picture's S0 frame */
    assert_true(r.src[key].key_picture && r.src[key].spatial == 0);
    av1_assert_gets(&r, AV1_ALL, 0, key, 0, 0);
    av1_assert_gets(&r, AV1_ALL, key, r.sent, 1, 1);
    assert_int_equal(r.d[AV1_ALL].layers.current_spatial, 1);
    assert_true(r.key_requests >= 2); /* the start, then the switch */

    /* A NACK is answered with the packet as it was sent, marker moved to the S0 frame's end
     * included. */
    av1_capture *c = &r.cap[AV1_S0];
    int k = c->count - 1;
    while (k >= 0 && !(c->pkt[k].marker && r.src[c->pkt[k].src_index].temporal == 1)) k--;
    assert_true(k >= 0);
    int sent = c->count;
    r.d[AV1_S0].rtx_credit = SFU_RTX_CREDIT_MAX;
    assert_int_equal(sfu_downtrack_retransmit(&r.d[AV1_S0], c->pkt[k].seq, r.now), J_OK);
    assert_int_equal(c->count, sent + 1);
    assert_int_equal(c->pkt[sent].seq, c->pkt[k].seq);
    assert_int_equal(c->pkt[sent].ts, c->pkt[k].ts);
    assert_int_equal(c->pkt[sent].src_index, c->pkt[k].src_index);
    assert_true(c->pkt[sent].marker);
    sfu_track_free(r.t);
}

/* A subscriber without the descriptor wants the base spatial layer at most, whatever its
 * settings: its policy and its bandwidth share (what it would take, the next layer a probe
 * makes room for) count only what it can decode, the temporal layers of S0. */
static void test_av1_without_dd_wants_the_base_spatial_layer(void **state)
{
    (void)state;
    static av1_rig r;
    av1_setup(&r);
    av1_add_down(&r, 0, 9, SFU_LAYER_ANY, SFU_LAYER_ANY);
    av1_add_down(&r, 1, 0, SFU_LAYER_ANY, SFU_LAYER_ANY);
    av1_add_down(&r, 2, 0, SFU_LAYER_ANY, 0);
    av1_run(&r, 90); /* past the policy's hold time */
    sfu_layers_source src;
    sfu_track_layers(r.t, r.now, &src);
    assert_true(src.bitrate_bps[0][1] > 0 && src.bitrate_bps[1][1] > src.bitrate_bps[0][1]);

    sfu_layers_sub with_dd = sfu_downtrack_layer_wants(&r.d[0]);
    sfu_layers_sub without = sfu_downtrack_layer_wants(&r.d[1]);
    sfu_layers_sub without_t0 = sfu_downtrack_layer_wants(&r.d[2]);
    assert_int_equal(with_dd.max_spatial, SFU_LAYER_ANY);
    assert_int_equal(with_dd.max_temporal, SFU_LAYER_ANY);
    assert_int_equal(without.max_spatial, 0);
    assert_int_equal(without.max_temporal, SFU_LAYER_ANY);
    assert_int_equal(without_t0.max_spatial, 0);
    assert_int_equal(without_t0.max_temporal, 0);
    assert_int_equal(sfu_layers_demand_bps(&r.d[0].layers, &with_dd, &src), src.bitrate_bps[1][1]);
    assert_int_equal(sfu_layers_demand_bps(&r.d[1].layers, &without, &src), src.bitrate_bps[0][1]);
    assert_int_equal(r.d[1].target.spatial, 0);
    assert_int_equal(r.d[1].target.temporal, 1);
    assert_int_equal(sfu_layers_next_bps(&r.d[1].layers, &without, &src), 0);

    /* A VP9 track (its layers in its payload descriptor) is not limited this way. */
    sfu_track *vp9 = sfu_track_new("TR_vp9", SFU_VIDEO);
    assert_non_null(vp9);
    sfu_source vs;
    memset(&vs, 0, sizeof vs);
    vs.codec_count = 1;
    vs.codecs[0] = codec(98, "VP9", 90000, 0);
    vs.encoding_count = 1;
    sfu_track_attach_source(vp9, &vs, av1_keyframe_request, &r, r.now);
    sfu_downtrack_detach(&r.d[1]);
    assert_int_equal(sfu_track_add_downtrack(vp9, &r.d[1], r.now), J_OK);
    assert_int_equal(sfu_downtrack_layer_wants(&r.d[1]).max_spatial, SFU_LAYER_ANY);
    sfu_track_free(vp9);
    sfu_track_free(r.t);
}

/* A subscriber that asks for more moves up to S1 only at a key picture, which is asked for;
 * until it comes, it keeps receiving S0. */
static void test_av1_dd_switch_up_waits_for_a_keyframe(void **state)
{
    (void)state;
    static av1_rig r;
    av1_setup(&r);
    av1_add_down(&r, 0, 9, 0, SFU_LAYER_ANY);
    av1_run(&r, 90);
    assert_int_equal(r.d[0].layers.current_spatial, 0);
    assert_int_equal(r.d[0].layers.current_temporal, 1);

    r.answer_keyframes = false;
    int requests = r.key_requests;
    int before = r.sent;
    sfu_downtrack_set_layer_prefs(&r.d[0], 0, 0, true, SFU_LAYER_ANY, SFU_LAYER_ANY);
    av1_run(&r, 10);
    assert_int_equal(r.d[0].layers.target_spatial, 1);
    assert_int_equal(r.d[0].layers.current_spatial, 0);
    assert_int_equal(r.key_requests, requests + 1);
    av1_assert_gets(&r, 0, before, r.sent, 0, 1);

    int key = r.sent;
    r.key_next = true; /* the publisher's key picture, at last */
    av1_run(&r, 10);
    assert_int_equal(r.d[0].layers.current_spatial, 1);
    av1_assert_gets(&r, 0, key, r.sent, 1, 1);
    av1_assert_one_stream(&r, 0, -1);
    sfu_track_free(r.t);
}

/* A descriptor that names a structure the track does not have (the packet carrying it was
 * lost) tells no layer: the packet goes to no subscriber, whatever its payload looks like,
 * and a key picture (with the structure again) is asked for. Forwarding resumes at it. */
static void test_av1_dd_unknown_structure_is_not_forwarded(void **state)
{
    (void)state;
    static av1_rig r;
    av1_setup(&r);
    av1_add_down(&r, 0, 9, SFU_LAYER_ANY, SFU_LAYER_ANY);
    av1_add_down(&r, 1, 0, SFU_LAYER_ANY, SFU_LAYER_ANY);

    /* No structure yet: the first key picture's first packet is lost (and the publisher is
     * slow to send another). */
    r.lose_structure = true;
    r.answer_keyframes = false;
    av1_run(&r, 3);
    assert_int_equal(r.cap[0].count, 0);
    assert_int_equal(r.cap[1].count, 0);
    int key = r.sent;
    r.key_next = true;
    av1_run(&r, 30); /* past the throttle of keyframe requests */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r.cap[i].pkt[0].src_index, key);
        av1_assert_gets(&r, i, key, r.sent, 0, 0);
    }

    /* A new coded video sequence with a new structure (template ids from 20), its first
     * packet lost: nothing resolves until the next key picture, which is asked for. */
    r.answer_keyframes = false;
    r.structure.offset = 20;
    r.lose_structure = true;
    r.key_next = true;
    int requests = r.key_requests;
    int received[2] = {r.cap[0].count, r.cap[1].count};
    av1_run(&r, 4);
    assert_int_equal(r.cap[0].count, received[0]);
    assert_int_equal(r.cap[1].count, received[1]);
    assert_int_equal(r.key_requests, requests + 1);
    key = r.sent;
    r.key_next = true;
    av1_run(&r, 4);
    av1_assert_gets(&r, 0, key, r.sent, 0, 0);
    av1_assert_gets(&r, 1, key, r.sent, 0, 0);
    /* The subscribers miss the packet that was lost, and nothing of what was not forwarded. */
    for (int i = 0; i < 2; i++) av1_assert_one_stream(&r, i, received[i]);
    sfu_track_free(r.t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_video_waits_for_keyframe_and_is_rewritten),
        cmocka_unit_test(test_publisher_reconnect_keeps_numbering),
        cmocka_unit_test(test_keyframe_requests_are_throttled),
        cmocka_unit_test(test_unsupported_codec_is_not_forwarded),
        cmocka_unit_test(test_muted_track_forwards_nothing_and_unmute_waits_for_keyframe),
        cmocka_unit_test(test_relay_gets_each_packet_once_as_received),
        cmocka_unit_test(test_free_detaches_downtracks),
        cmocka_unit_test(test_nack_is_answered_as_rtx_across_the_wrap),
        cmocka_unit_test(test_nack_without_rtx_resends_the_original),
        cmocka_unit_test(test_nack_for_what_was_not_forwarded_is_missed),
        cmocka_unit_test(test_retransmissions_are_limited_to_their_share),
        cmocka_unit_test(test_sender_report_time_follows_the_source),
        cmocka_unit_test(test_paused_downtrack_resumes_at_a_keyframe_without_a_gap),
        cmocka_unit_test(test_transport_sequence_placeholder_is_located),
        cmocka_unit_test(test_paused_downtrack_is_skipped_and_resumes_on_keyframe),
        cmocka_unit_test(test_paused_before_attach_asks_no_keyframe),
        cmocka_unit_test(test_audio_levels_are_summed_until_taken),
        cmocka_unit_test(test_simulcast_switches_keep_the_stream_continuous),
        cmocka_unit_test(test_vp9_simulcast_switches_keep_the_stream_continuous),
        cmocka_unit_test(test_simulcast_encodings_ranked_by_resolution),
        cmocka_unit_test(test_simulcast_nack_is_answered_from_its_encoding),
        cmocka_unit_test(test_vp9_svc_forwards_spatial_layers_up_to_the_target),
        cmocka_unit_test(test_av1_dd_selects_layers_per_subscriber),
        cmocka_unit_test(test_av1_without_dd_wants_the_base_spatial_layer),
        cmocka_unit_test(test_av1_dd_switch_up_waits_for_a_keyframe),
        cmocka_unit_test(test_av1_dd_unknown_structure_is_not_forwarded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
