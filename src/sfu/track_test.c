/* track_test.c - fan-out rewriting, keyframe gating and keyframe request throttling, paused
 * downtracks, audio levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "sfu/track.h"

#define MAX_SENT 16

typedef struct capture {
    int count;
    uint8_t pkts[MAX_SENT][1600];
    size_t lens[MAX_SENT];
} capture;

static void capture_send(void *ctx, uint8_t *buf, size_t len, size_t cap)
{
    capture *c = ctx;
    assert_true(cap >= len + 16); /* room for the SRTP tag */
    if (c->count < MAX_SENT) {
        memcpy(c->pkts[c->count], buf, len);
        c->lens[c->count] = len;
    }
    c->count++;
}

static int keyframe_requests;
static void count_keyframe_request(void *ctx, const sfu_track *t)
{
    (void)ctx;
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
    sfu_downtrack_init(d, &video, 0xB0B0B0B0u, capture_send, cap);
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
    sfu_track_forward(t, &p, now);
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
    sfu_track_request_keyframe(s, 1000000);
    sfu_track_request_keyframe(s, 1100000);
    sfu_track_request_keyframe(s, 1200000);
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
    attach_source(s, 0);
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
    int count;
    uint8_t pkt[1600];
    size_t len;
    uint64_t now;
} relay_capture;

static void capture_relay(void *ctx, const sfu_track *t, const rtp_pkt *pkt, uint64_t now_us)
{
    relay_capture *c = ctx;
    assert_string_equal(t->id, "TR_video");
    c->count++;
    memcpy(c->pkt, pkt->buf, pkt->len);
    c->len = pkt->len;
    c->now = now_us;
}

static void test_relay_gets_each_packet_once_as_received(void **state)
{
    (void)state;
    sfu_track *s;
    sfu_downtrack sub;
    capture cap = {0};
    setup(&s, &sub, &cap);
    attach_source(s, 1000);
    relay_capture rc = {0};
    sfu_track_set_relay(s, capture_relay, &rc);

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
                       0xC0C0C0C0u, capture_send, &cap_other);
    attach_source(s, 0);
    assert_int_equal(sfu_track_add_downtrack(s, &paused, 0), J_OK);
    assert_int_equal(sfu_track_add_downtrack(s, &other, 0), J_OK);
    uint8_t buf[1600];
    forward(s, buf, vp8_packet(buf, 1, 1000, true), 1000);
    sfu_downtrack_set_paused(&paused, true, 2000);
    forward(s, buf, vp8_packet(buf, 2, 4000, true), 3000);
    forward(s, buf, vp8_packet(buf, 3, 7000, false), 4000);
    assert_int_equal(cap_paused.count, 1);
    assert_int_equal(cap_other.count, 3);

    keyframe_requests = 0;
    sfu_track_handle_timeout(s, 5000000); /* a paused downtrack asks for nothing */
    assert_int_equal(keyframe_requests, 0);
    sfu_downtrack_set_paused(&paused, false, 6000000);
    assert_int_equal(keyframe_requests, 1);
    forward(s, buf, vp8_packet(buf, 4, 10000, false), 6001000); /* delta: still waiting */
    assert_int_equal(cap_paused.count, 1);
    forward(s, buf, vp8_packet(buf, 5, 13000, true), 6002000);
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
    sfu_downtrack_set_paused(&sub, true, 0);
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
        cmocka_unit_test(test_paused_downtrack_is_skipped_and_resumes_on_keyframe),
        cmocka_unit_test(test_paused_before_attach_asks_no_keyframe),
        cmocka_unit_test(test_audio_levels_are_summed_until_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
