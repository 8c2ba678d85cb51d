/* layers_test.c - layer selection policy (steady, bandwidth drop and recovery, hysteresis,
 * tiles, audio-only, pause), the per-packet selector (simulcast, temporal, SVC, DD) and the
 * layer meter, all on a virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sfu/layers.h"

#define MS 1000u
#define SEC 1000000u

/* Three simulcast encodings of three temporal layers; bitrates per target (s, t). */
static sfu_layers_source simulcast_source(void)
{
    sfu_layers_source src;
    memset(&src, 0, sizeof src);
    static const uint64_t rates[3][3] = {
        {60000, 100000, 150000},
        {200000, 350000, 500000},
        {800000, 1100000, 1500000},
    };
    static const uint16_t w[3] = {320, 640, 1280}, h[3] = {180, 360, 720};
    for (int s = 0; s < 3; s++) {
        src.temporal_layers[s] = 3;
        for (int t = 0; t < 3; t++) src.bitrate_bps[s][t] = rates[s][t];
        src.width[s] = w[s];
        src.height[s] = h[s];
    }
    return src;
}

static sfu_layers_sub subscriber(uint64_t budget_bps)
{
    return (sfu_layers_sub){.budget_bps = budget_bps, .max_spatial = SFU_LAYER_ANY,
                            .max_temporal = SFU_LAYER_ANY, .visible = true};
}

static void expect_target(sfu_layers_target t, int spatial, int temporal)
{
    assert_int_equal(t.state, SFU_LAYERS_FORWARDING);
    assert_int_equal(t.spatial, spatial);
    assert_int_equal(t.temporal, temporal);
}

/* A packet starting a frame of encoding/spatial layer s, temporal layer t. */
static sfu_layer_pkt frame(uint8_t s, uint8_t t, uint32_t ts, bool key)
{
    return (sfu_layer_pkt){.spatial = s, .temporal = t, .rtp_ts = ts, .marker = true,
                           .frame_start = true, .frame_end = true, .keyframe = key};
}

static sfu_layer_verdict on_packet(sfu_layers *l, sfu_layer_pkt p)
{
    bool marker;
    return sfu_layers_on_packet(l, &p, &marker);
}

/* Policy at `budget` and a keyframe of its target through the selector, as a started
 * subscriber would be. */
static void start_at(sfu_layers *l, const sfu_layers_source *src, uint64_t budget, int s, int t)
{
    sfu_layers_init(l, SFU_LAYERS_SIMULCAST, NULL);
    sfu_layers_sub sub = subscriber(budget);
    sfu_layers_target tg = sfu_layers_update(l, &sub, src, 0);
    expect_target(tg, s, t);
    assert_true(tg.keyframe_needed);
    assert_int_equal(on_packet(l, frame((uint8_t)s, 0, 1000, true)), SFU_LAYER_FORWARD_RESYNC);
    tg = sfu_layers_update(l, &sub, src, 0);
    assert_false(tg.keyframe_needed);
}

/* ---- policy ----------------------------------------------------------------------------- */

static void test_steady(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    start_at(&l, &src, 5000000, 2, 2);
    sfu_layers_sub sub = subscriber(5000000);
    for (uint64_t now = 0; now < 30 * SEC; now += 100 * MS) {
        sfu_layers_target tg = sfu_layers_update(&l, &sub, &src, now);
        expect_target(tg, 2, 2);
        assert_false(tg.keyframe_needed);
    }
}

static void test_bandwidth_drop_is_immediate(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    start_at(&l, &src, 5000000, 2, 2);
    /* A small squeeze costs frame rate first: no keyframe needed. */
    sfu_layers_sub sub = subscriber(1200000);
    sfu_layers_target tg = sfu_layers_update(&l, &sub, &src, 1 * SEC);
    expect_target(tg, 2, 1);
    assert_false(tg.keyframe_needed);
    /* Below the top encoding: the middle one, which needs a keyframe. */
    sub.budget_bps = 600000;
    tg = sfu_layers_update(&l, &sub, &src, 1 * SEC + 100 * MS);
    expect_target(tg, 1, 2);
    assert_true(tg.keyframe_needed);
    sub.budget_bps = 120000;
    expect_target(sfu_layers_update(&l, &sub, &src, 1 * SEC + 200 * MS), 0, 1);
}

static void test_recovery_within_seconds(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    start_at(&l, &src, 600000, 1, 2);
    sfu_layers_sub sub = subscriber(5000000);
    uint64_t lifted = 10 * SEC, switched = 0;
    for (uint64_t now = lifted; now < lifted + 10 * SEC; now += 100 * MS) {
        sfu_layers_target tg = sfu_layers_update(&l, &sub, &src, now);
        if (tg.spatial == 2) {
            switched = now;
            expect_target(tg, 2, 2);
            assert_true(tg.keyframe_needed);
            break;
        }
        expect_target(tg, 1, 2);
    }
    /* Not before the hold time, and right after it. */
    assert_true(switched >= lifted + SFU_LAYERS_DEFAULT_UP_HOLD_US);
    assert_true(switched <= lifted + SFU_LAYERS_DEFAULT_UP_HOLD_US + 100 * MS);
}

/* An estimate that does not clear the next layer by the margin never switches up; one that
 * swings around a layer's bitrate switches down once and never back. */
static void test_hysteresis(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    start_at(&l, &src, 1200000, 2, 1);
    sfu_layers_sub sub = subscriber(1600000); /* (2,2) is 1.5 Mbit/s: needs 1.65 */
    for (uint64_t now = 0; now < 20 * SEC; now += 100 * MS)
        expect_target(sfu_layers_update(&l, &sub, &src, now), 2, 1);

    start_at(&l, &src, 5000000, 2, 2);
    int changes = 0;
    int last_t = 2;
    for (uint64_t now = 0; now < 30 * SEC; now += 100 * MS) {
        sub.budget_bps = (now / (500 * MS)) % 2 ? 1450000 : 1700000;
        sfu_layers_target tg = sfu_layers_update(&l, &sub, &src, now);
        assert_int_equal(tg.spatial, 2);
        if (tg.temporal != last_t) changes++;
        last_t = tg.temporal;
    }
    assert_int_equal(changes, 1);
}

static void test_hidden_tile_gets_nothing(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    start_at(&l, &src, 5000000, 2, 2);
    sfu_layers_sub sub = subscriber(5000000);
    sub.visible = false;
    sfu_layers_target tg = sfu_layers_update(&l, &sub, &src, 1 * SEC);
    assert_int_equal(tg.state, SFU_LAYERS_OFF_HIDDEN);
    assert_false(tg.keyframe_needed);
    for (uint8_t s = 0; s < 3; s++)
        assert_int_equal(on_packet(&l, frame(s, 0, 4000, true)), SFU_LAYER_DROP);
    /* Shown again: at once, from a keyframe. */
    sub.visible = true;
    tg = sfu_layers_update(&l, &sub, &src, 1 * SEC + 100 * MS);
    expect_target(tg, 2, 2);
    assert_true(tg.keyframe_needed);
    assert_int_equal(on_packet(&l, frame(2, 0, 7000, false)), SFU_LAYER_DROP);
    assert_int_equal(on_packet(&l, frame(2, 0, 10000, true)), SFU_LAYER_FORWARD_RESYNC);
}

static void test_small_tile_gets_low_layer(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    static const struct {
        uint16_t w, h;
        int spatial;
    } cases[] = {
        {320, 180, 0}, {160, 90, 0}, {330, 185, 0},     /* within the slack */
        {400, 225, 1}, {640, 360, 1}, {300, 300, 1},
        {1280, 720, 2}, {1920, 1080, 2}, {0, 0, 2},     /* unknown size: no limit */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sfu_layers l;
        sfu_layers_init(&l, SFU_LAYERS_SIMULCAST, NULL);
        sfu_layers_sub sub = subscriber(5000000);
        sub.display_width = cases[i].w;
        sub.display_height = cases[i].h;
        expect_target(sfu_layers_update(&l, &sub, &src, 0), cases[i].spatial, 2);
    }
    /* The tile shrinks: down at once; it grows: up at once (no hold), if the estimate fits. */
    sfu_layers l;
    start_at(&l, &src, 5000000, 2, 2);
    sfu_layers_sub sub = subscriber(5000000);
    sub.display_width = 320;
    sub.display_height = 180;
    expect_target(sfu_layers_update(&l, &sub, &src, 1 * SEC), 0, 2);
    sub.display_width = 1280;
    sub.display_height = 720;
    expect_target(sfu_layers_update(&l, &sub, &src, 1 * SEC + 100 * MS), 2, 2);
    /* A big tile on a thin link still gets what fits. */
    sub.budget_bps = 600000;
    expect_target(sfu_layers_update(&l, &sub, &src, 1 * SEC + 200 * MS), 1, 2);
    /* Unknown layer sizes: the tile cannot limit. */
    src.width[0] = 0;
    sub.budget_bps = 5000000;
    sub.display_width = 320;
    sub.display_height = 180;
    sfu_layers_init(&l, SFU_LAYERS_SIMULCAST, NULL);
    expect_target(sfu_layers_update(&l, &sub, &src, 0), 2, 2);
}

static void test_audio_only(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    start_at(&l, &src, 5000000, 2, 2);
    sfu_layers_sub sub = subscriber(5000000);
    sub.audio_only = true;
    sfu_layers_target tg = sfu_layers_update(&l, &sub, &src, 1 * SEC);
    assert_int_equal(tg.state, SFU_LAYERS_OFF_AUDIO_ONLY);
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(on_packet(&l, frame(2, 0, 4000 + i * 3000, i % 3 == 0)), SFU_LAYER_DROP);
    /* Audio-only wins over everything else, a visible tile included. */
    for (uint64_t now = 1 * SEC; now < 10 * SEC; now += SEC)
        assert_int_equal(sfu_layers_update(&l, &sub, &src, now).state, SFU_LAYERS_OFF_AUDIO_ONLY);
    sub.audio_only = false;
    expect_target(sfu_layers_update(&l, &sub, &src, 10 * SEC), 2, 2);
}

static void test_pause_below_lowest_layer(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    start_at(&l, &src, 150000, 0, 2);
    sfu_layers_sub sub = subscriber(50000);
    sfu_layers_target tg = sfu_layers_update(&l, &sub, &src, 1 * SEC);
    assert_int_equal(tg.state, SFU_LAYERS_OFF_BANDWIDTH);
    assert_int_equal(on_packet(&l, frame(0, 0, 90000, true)), SFU_LAYER_DROP);
    /* Enough for the lowest layer, but not with the margin: stays paused. */
    sub.budget_bps = 64000;
    for (uint64_t now = 2 * SEC; now < 10 * SEC; now += 100 * MS)
        assert_int_equal(sfu_layers_update(&l, &sub, &src, now).state, SFU_LAYERS_OFF_BANDWIDTH);
    /* With the margin, after the hold time. */
    sub.budget_bps = 70000;
    uint64_t resumed = 0;
    for (uint64_t now = 10 * SEC; now < 20 * SEC && !resumed; now += 100 * MS) {
        tg = sfu_layers_update(&l, &sub, &src, now);
        if (tg.state == SFU_LAYERS_FORWARDING) resumed = now;
    }
    assert_int_equal(resumed, 10 * SEC + SFU_LAYERS_DEFAULT_UP_HOLD_US);
    expect_target(tg, 0, 0);
    assert_true(tg.keyframe_needed);
    /* Paused from the start too. */
    sfu_layers_init(&l, SFU_LAYERS_SIMULCAST, NULL);
    sub.budget_bps = 10000;
    assert_int_equal(sfu_layers_update(&l, &sub, &src, 0).state, SFU_LAYERS_OFF_BANDWIDTH);
}

static void test_preferences(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    sfu_layers_init(&l, SFU_LAYERS_SIMULCAST, NULL);
    sfu_layers_sub sub = subscriber(5000000);
    sub.max_spatial = 1;
    sub.max_temporal = 1;
    expect_target(sfu_layers_update(&l, &sub, &src, 0), 1, 1);
    /* Raised: at once. */
    sub.max_spatial = SFU_LAYER_ANY;
    expect_target(sfu_layers_update(&l, &sub, &src, 100 * MS), 2, 1);
    sub.max_temporal = SFU_LAYER_ANY;
    expect_target(sfu_layers_update(&l, &sub, &src, 200 * MS), 2, 2);
    /* A preference below every layer sent gets the lowest one sent. */
    src.temporal_layers[0] = 0;
    sub.max_spatial = 0;
    expect_target(sfu_layers_update(&l, &sub, &src, 300 * MS), 1, 2);
}

static void test_source_layers_come_and_go(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    start_at(&l, &src, 5000000, 2, 2);
    sfu_layers_sub sub = subscriber(5000000);
    /* The publisher stops its top encoding (its own bandwidth dropped). */
    src.temporal_layers[2] = 0;
    sfu_layers_target tg = sfu_layers_update(&l, &sub, &src, 1 * SEC);
    expect_target(tg, 1, 2);
    assert_true(tg.keyframe_needed);
    /* It now sends one temporal layer on the middle encoding. */
    src.temporal_layers[1] = 1;
    expect_target(sfu_layers_update(&l, &sub, &src, 2 * SEC), 1, 0);
    memset(src.temporal_layers, 0, sizeof src.temporal_layers);
    assert_int_equal(sfu_layers_update(&l, &sub, &src, 3 * SEC).state, SFU_LAYERS_OFF_NO_SOURCE);
    /* Back: the best that fits, at once. */
    src = simulcast_source();
    expect_target(sfu_layers_update(&l, &sub, &src, 4 * SEC), 2, 2);
}

/* Before anything is measured, start at the lowest layer; climb once measured. */
static void test_unmeasured_start_and_no_estimate(void **state)
{
    (void)state;
    sfu_layers_source measured = simulcast_source(), fresh = measured;
    memset(fresh.bitrate_bps, 0, sizeof fresh.bitrate_bps);
    sfu_layers l;
    sfu_layers_init(&l, SFU_LAYERS_SIMULCAST, NULL);
    sfu_layers_sub sub = subscriber(1000000);
    expect_target(sfu_layers_update(&l, &sub, &fresh, 0), 0, 0);
    expect_target(sfu_layers_update(&l, &sub, &fresh, 500 * MS), 0, 0);
    expect_target(sfu_layers_update(&l, &sub, &measured, 600 * MS), 0, 0);
    expect_target(sfu_layers_update(&l, &sub, &measured, 2600 * MS), 2, 0);
    /* No estimate at all: nothing to limit by. */
    sfu_layers_init(&l, SFU_LAYERS_SIMULCAST, NULL);
    sub.budget_bps = 0;
    expect_target(sfu_layers_update(&l, &sub, &fresh, 0), 2, 2);
}

/* ---- selector --------------------------------------------------------------------------- */

static void test_simulcast_switches_at_keyframes(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    sfu_layers_init(&l, SFU_LAYERS_SIMULCAST, NULL);
    sfu_layers_sub sub = subscriber(5000000);
    expect_target(sfu_layers_update(&l, &sub, &src, 0), 2, 2);
    /* Nothing until the target encoding's keyframe: not another encoding's. */
    assert_int_equal(on_packet(&l, frame(0, 0, 100, true)), SFU_LAYER_DROP);
    assert_int_equal(on_packet(&l, frame(1, 0, 200, true)), SFU_LAYER_DROP);
    assert_int_equal(on_packet(&l, frame(2, 0, 300, false)), SFU_LAYER_DROP);
    assert_int_equal(on_packet(&l, frame(2, 0, 3300, true)), SFU_LAYER_FORWARD_RESYNC);
    sfu_layer_pkt cont = frame(2, 0, 3300, false);
    cont.frame_start = false;
    assert_int_equal(on_packet(&l, cont), SFU_LAYER_FORWARD);
    assert_int_equal(on_packet(&l, frame(2, 2, 6300, false)), SFU_LAYER_FORWARD);
    assert_int_equal(on_packet(&l, frame(1, 0, 6400, false)), SFU_LAYER_DROP);
    /* Down to encoding 0: encoding 2 goes on until encoding 0's keyframe. */
    sub.budget_bps = 160000;
    sfu_layers_target tg = sfu_layers_update(&l, &sub, &src, 1 * SEC);
    expect_target(tg, 0, 2);
    assert_true(tg.keyframe_needed);
    assert_int_equal(on_packet(&l, frame(2, 1, 9300, false)), SFU_LAYER_FORWARD);
    assert_int_equal(on_packet(&l, frame(0, 0, 500, false)), SFU_LAYER_DROP);
    assert_int_equal(on_packet(&l, frame(0, 0, 3500, true)), SFU_LAYER_FORWARD_RESYNC);
    assert_int_equal(on_packet(&l, frame(2, 0, 12300, true)), SFU_LAYER_DROP);
    assert_int_equal(on_packet(&l, frame(0, 1, 6500, false)), SFU_LAYER_FORWARD);
    /* A packet of encoding 0 from before its keyframe is not part of this stream. */
    assert_int_equal(on_packet(&l, frame(0, 0, 500, false)), SFU_LAYER_DROP);
    assert_false(sfu_layers_update(&l, &sub, &src, 2 * SEC).keyframe_needed);
}

static void test_temporal_switching_points(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    start_at(&l, &src, 5000000, 2, 2); /* keyframe at ts 1000 */
    sfu_layers_sub sub = subscriber(5000000);
    uint32_t ts = 1000;
    /* L1T3: tid 0 2 1 2 ... */
    static const uint8_t tids[] = {2, 1, 2, 0};
    for (size_t i = 0; i < sizeof tids / sizeof tids[0]; i++)
        assert_int_equal(on_packet(&l, frame(2, tids[i], ts += 3000, false)), SFU_LAYER_FORWARD);
    /* Down to TL0: from the next picture. */
    sub.max_temporal = 0;
    expect_target(sfu_layers_update(&l, &sub, &src, 1 * SEC), 2, 0);
    uint32_t before_switch = ts;
    assert_int_equal(on_packet(&l, frame(2, 2, ts += 3000, false)), SFU_LAYER_DROP);
    assert_int_equal(on_packet(&l, frame(2, 1, ts += 3000, false)), SFU_LAYER_DROP);
    assert_int_equal(on_packet(&l, frame(2, 0, ts += 3000, false)), SFU_LAYER_FORWARD);
    /* A late packet of a picture from before the switch keeps its old limit. */
    sfu_layer_pkt late = frame(2, 2, before_switch - 1500, false);
    late.frame_start = false;
    assert_int_equal(on_packet(&l, late), SFU_LAYER_FORWARD);
    /* Up again: only from a switching point, and only as far as it allows. */
    sub.max_temporal = SFU_LAYER_ANY;
    expect_target(sfu_layers_update(&l, &sub, &src, 2 * SEC), 2, 2);
    assert_int_equal(on_packet(&l, frame(2, 2, ts += 3000, false)), SFU_LAYER_DROP);
    assert_int_equal(on_packet(&l, frame(2, 1, ts += 3000, false)), SFU_LAYER_DROP);
    sfu_layer_pkt sync1 = frame(2, 1, ts += 3000, false);
    sync1.switch_up_to = 1;
    assert_int_equal(on_packet(&l, sync1), SFU_LAYER_FORWARD);
    assert_int_equal(on_packet(&l, frame(2, 2, ts += 3000, false)), SFU_LAYER_DROP);
    assert_int_equal(on_packet(&l, frame(2, 1, ts += 3000, false)), SFU_LAYER_FORWARD);
    sfu_layer_pkt sync2 = frame(2, 2, ts += 3000, false);
    sync2.switch_up_to = 2;
    assert_int_equal(on_packet(&l, sync2), SFU_LAYER_FORWARD);
    assert_int_equal(on_packet(&l, frame(2, 2, ts += 3000, false)), SFU_LAYER_FORWARD);
}

/* VP9-like SVC, three spatial layers in one stream, the subscriber at spatial layer 1. */
static void test_svc_spatial_selection(void **state)
{
    (void)state;
    sfu_layers_source src = simulcast_source();
    sfu_layers l;
    sfu_layers_init(&l, SFU_LAYERS_SVC, NULL);
    sfu_layers_sub sub = subscriber(5000000);
    sub.max_spatial = 1;
    expect_target(sfu_layers_update(&l, &sub, &src, 0), 1, 2);
    bool marker;
    /* A delta picture first: nothing. */
    sfu_layer_pkt p = frame(0, 0, 100, false);
    p.marker = p.frame_end = false;
    assert_int_equal(sfu_layers_on_packet(&l, &p, &marker), SFU_LAYER_DROP);
    /* Key picture: S0 starts the stream, S1 ends it for this subscriber, S2 is dropped. */
    uint32_t ts = 3100;
    sfu_layer_pkt s0 = frame(0, 0, ts, true), s1 = frame(1, 0, ts, false);
    sfu_layer_pkt s2 = frame(2, 0, ts, false);
    s0.marker = s1.marker = false;
    s0.frame_end = true;
    assert_int_equal(sfu_layers_on_packet(&l, &s0, &marker), SFU_LAYER_FORWARD_RESYNC);
    assert_false(marker);
    assert_int_equal(sfu_layers_on_packet(&l, &s1, &marker), SFU_LAYER_FORWARD);
    assert_true(marker);
    assert_int_equal(sfu_layers_on_packet(&l, &s2, &marker), SFU_LAYER_DROP);
    /* k-SVC delta picture: S0 is not referenced by S1, so not needed; full SVC: needed. */
    ts += 3000;
    s0 = frame(0, 0, ts, false), s1 = frame(1, 0, ts, false);
    s0.marker = s1.marker = false;
    s0.unused_by_upper = true;
    assert_int_equal(sfu_layers_on_packet(&l, &s0, &marker), SFU_LAYER_DROP);
    assert_int_equal(sfu_layers_on_packet(&l, &s1, &marker), SFU_LAYER_FORWARD);
    ts += 3000;
    s0 = frame(0, 0, ts, false), s1 = frame(1, 0, ts, false);
    s0.marker = s1.marker = false;
    assert_int_equal(sfu_layers_on_packet(&l, &s0, &marker), SFU_LAYER_FORWARD);
    assert_false(marker);
    /* Up to S2: only at a key picture, and the stream continues (no resync). */
    sub.max_spatial = SFU_LAYER_ANY;
    sfu_layers_target tg = sfu_layers_update(&l, &sub, &src, 1 * SEC);
    expect_target(tg, 2, 2);
    assert_true(tg.keyframe_needed);
    ts += 3000;
    s2 = frame(2, 0, ts, false);
    assert_int_equal(sfu_layers_on_packet(&l, &s2, &marker), SFU_LAYER_DROP);
    ts += 3000;
    s0 = frame(0, 0, ts, true), s2 = frame(2, 0, ts, false);
    s0.marker = false;
    assert_int_equal(sfu_layers_on_packet(&l, &s0, &marker), SFU_LAYER_FORWARD);
    assert_int_equal(sfu_layers_on_packet(&l, &s2, &marker), SFU_LAYER_FORWARD);
    assert_true(marker);
    assert_false(sfu_layers_update(&l, &sub, &src, 2 * SEC).keyframe_needed);
}

static void test_packet_info_from_codecs(void **state)
{
    (void)state;
    /* VP8: T=1 TID=1 Y=1. */
    static const uint8_t vp8[] = {0x90, 0xe0, 0x80, 0x05, 0x07, 0x60, 0x01, 0xaa};
    vp8_descriptor d8;
    assert_int_equal(vp8_parse(&d8, vp8, sizeof vp8), 0);
    sfu_layer_pkt p = sfu_layer_pkt_from_vp8(&d8, 2, 1234, true);
    assert_int_equal(p.spatial, 2);
    assert_int_equal(p.temporal, 1);
    assert_int_equal(p.switch_up_to, 1);
    assert_int_equal(p.rtp_ts, 1234);
    assert_true(p.frame_start && p.frame_end && p.marker);
    assert_false(p.keyframe);
    /* VP9: I P L B E Z (not a keyframe), TID 2 U SID 1, TL0PICIDX. */
    static const uint8_t vp9[] = {0xed, 0x05, 0x53, 0x09, 0xaa};
    vp9_descriptor d9;
    assert_int_equal(vp9_parse(&d9, NULL, vp9, sizeof vp9), 0);
    p = sfu_layer_pkt_from_vp9(&d9, 99, false);
    assert_int_equal(p.spatial, 1);
    assert_int_equal(p.temporal, 2);
    assert_int_equal(p.switch_up_to, 2);
    assert_true(p.unused_by_upper);
    assert_true(p.frame_start && p.frame_end);
    assert_false(p.keyframe);
}

/* The Dependency Descriptor's switch indications move a subscriber up by decode target:
 * L1T3 (Appendix A.6.2.1), from 7.5 fps to 30 fps at a T1 frame that is a switch point for
 * the 30 fps decode target, although T2 frames never are. */
static void test_dd_switch_indications(void **state)
{
    (void)state;
    dd_structure st;
    dd_structure_init(&st);
    st.valid = true;
    st.template_count = 5;
    st.decode_target_count = 3;
    st.max_temporal_id = 2;
    st.decode_target_temporal[0] = 2;
    st.decode_target_temporal[1] = 1;
    st.decode_target_temporal[2] = 0;
    st.active_decode_targets = 7;
    dd_frame key = {.start_of_frame = true, .end_of_frame = true, .has_structure = true,
                    .temporal_id = 0, .decode_target_count = 3,
                    .dti = {DD_DTI_SWITCH, DD_DTI_SWITCH, DD_DTI_SWITCH}};
    dd_frame t1 = {.start_of_frame = true, .end_of_frame = true, .temporal_id = 1,
                   .decode_target_count = 3,
                   .dti = {DD_DTI_SWITCH, DD_DTI_DISCARDABLE, DD_DTI_NOT_PRESENT}};
    dd_frame t2 = {.start_of_frame = true, .end_of_frame = true, .temporal_id = 2,
                   .decode_target_count = 3,
                   .dti = {DD_DTI_DISCARDABLE, DD_DTI_NOT_PRESENT, DD_DTI_NOT_PRESENT}};

    sfu_layers_source src;
    memset(&src, 0, sizeof src);
    src.temporal_layers[0] = 3;
    src.bitrate_bps[0][0] = 100000, src.bitrate_bps[0][1] = 150000, src.bitrate_bps[0][2] = 200000;
    sfu_layers l;
    sfu_layers_init(&l, SFU_LAYERS_SVC, NULL);
    sfu_layers_sub sub = subscriber(5000000);
    sub.max_temporal = 0;
    expect_target(sfu_layers_update(&l, &sub, &src, 0), 0, 0);
    bool marker;
    uint32_t ts = 0;
    sfu_layer_pkt p = sfu_layer_pkt_from_dd(&key, &st, &l, ts, true);
    assert_true(p.keyframe);
    assert_int_equal(sfu_layers_on_packet(&l, &p, &marker), SFU_LAYER_FORWARD_RESYNC);
    p = sfu_layer_pkt_from_dd(&t2, &st, &l, ts += 3000, true);
    assert_int_equal(sfu_layers_on_packet(&l, &p, &marker), SFU_LAYER_DROP);

    sub.max_temporal = SFU_LAYER_ANY;
    expect_target(sfu_layers_update(&l, &sub, &src, 1 * SEC), 0, 2);
    p = sfu_layer_pkt_from_dd(&t2, &st, &l, ts += 3000, true);
    assert_int_equal(p.switch_up_to, 0);
    assert_int_equal(sfu_layers_on_packet(&l, &p, &marker), SFU_LAYER_DROP);
    p = sfu_layer_pkt_from_dd(&t1, &st, &l, ts += 3000, true);
    assert_int_equal(p.switch_up_to, 2);
    assert_int_equal(sfu_layers_on_packet(&l, &p, &marker), SFU_LAYER_FORWARD);
    p = sfu_layer_pkt_from_dd(&t2, &st, &l, ts += 3000, true);
    assert_int_equal(sfu_layers_on_packet(&l, &p, &marker), SFU_LAYER_FORWARD);

    /* A lower spatial layer's frame not present in the forwarded decode target is unused. */
    st.max_spatial_id = 1;
    st.decode_target_spatial[0] = 1;
    l.current_spatial = 1;
    l.current_temporal = 2;
    dd_frame s0 = t2;
    s0.spatial_id = 0;
    s0.dti[0] = DD_DTI_NOT_PRESENT;
    assert_true(sfu_layer_pkt_from_dd(&s0, &st, &l, ts, false).unused_by_upper);
    s0.dti[0] = DD_DTI_REQUIRED;
    assert_false(sfu_layer_pkt_from_dd(&s0, &st, &l, ts, false).unused_by_upper);
}

/* ---- meter ------------------------------------------------------------------------------ */

static void test_meter(void **state)
{
    (void)state;
    sfu_layer_meter m;
    sfu_layer_meter_init(&m, SFU_LAYERS_SIMULCAST);
    sfu_layer_meter_set_resolution(&m, 1, 640, 360);
    sfu_layer_meter_set_resolution(&m, 9, 1, 1); /* ignored */
    sfu_layers_source src;
    /* Every 10 ms: 100 bytes of (0,0), 50 of (0,1), 250 of (1,0): 80, 40, 200 kbit/s. */
    uint64_t now = 0;
    for (; now < 200 * MS; now += 10 * MS) {
        sfu_layer_meter_add(&m, 0, 0, 100, now);
        sfu_layer_meter_add(&m, 0, 1, 50, now);
        sfu_layer_meter_add(&m, 1, 0, 250, now);
        sfu_layer_meter_add(&m, 0, 7, 1000, now); /* beyond the maxima: not counted */
    }
    /* Seen, not yet measured. */
    sfu_layer_meter_read(&m, now, &src);
    assert_int_equal(src.temporal_layers[0], 2);
    assert_int_equal(src.temporal_layers[1], 1);
    assert_int_equal(src.temporal_layers[2], 0);
    assert_int_equal(src.bitrate_bps[0][0], 0);
    for (; now < 2 * SEC; now += 10 * MS) {
        sfu_layer_meter_add(&m, 0, 0, 100, now);
        sfu_layer_meter_add(&m, 0, 1, 50, now);
        sfu_layer_meter_add(&m, 1, 0, 250, now);
    }
    sfu_layer_meter_read(&m, now, &src);
    assert_int_equal(src.bitrate_bps[0][0], 80000);
    assert_int_equal(src.bitrate_bps[0][1], 120000);
    assert_int_equal(src.bitrate_bps[1][0], 200000);
    assert_int_equal(src.width[1], 640);
    assert_int_equal(src.height[1], 360);
    /* Encoding 1 stops: inactive once a whole window passed without it. */
    for (uint64_t end = now + 1200 * MS; now < end; now += 10 * MS) {
        sfu_layer_meter_add(&m, 0, 0, 100, now);
        sfu_layer_meter_add(&m, 0, 1, 50, now);
    }
    sfu_layer_meter_read(&m, now, &src);
    assert_int_equal(src.temporal_layers[1], 0);
    assert_int_equal(src.bitrate_bps[1][0], 0);
    assert_int_equal(src.bitrate_bps[0][1], 120000);
    /* Everything stops: nothing active after two windows of silence. */
    sfu_layer_meter_read(&m, now + 600 * MS, &src);
    sfu_layer_meter_read(&m, now + 1200 * MS, &src);
    assert_int_equal(src.temporal_layers[0], 0);

    /* SVC: a target receives the spatial layers below it too. */
    sfu_layer_meter_init(&m, SFU_LAYERS_SVC);
    for (now = 0; now < 2 * SEC; now += 10 * MS) {
        sfu_layer_meter_add(&m, 0, 0, 100, now);
        sfu_layer_meter_add(&m, 1, 0, 250, now);
        sfu_layer_meter_add(&m, 1, 1, 125, now);
    }
    sfu_layer_meter_read(&m, now, &src);
    assert_int_equal(src.bitrate_bps[0][0], 80000);
    assert_int_equal(src.bitrate_bps[1][0], 280000);
    assert_int_equal(src.bitrate_bps[1][1], 380000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady),
        cmocka_unit_test(test_bandwidth_drop_is_immediate),
        cmocka_unit_test(test_recovery_within_seconds),
        cmocka_unit_test(test_hysteresis),
        cmocka_unit_test(test_hidden_tile_gets_nothing),
        cmocka_unit_test(test_small_tile_gets_low_layer),
        cmocka_unit_test(test_audio_only),
        cmocka_unit_test(test_pause_below_lowest_layer),
        cmocka_unit_test(test_preferences),
        cmocka_unit_test(test_source_layers_come_and_go),
        cmocka_unit_test(test_unmeasured_start_and_no_estimate),
        cmocka_unit_test(test_simulcast_switches_at_keyframes),
        cmocka_unit_test(test_temporal_switching_points),
        cmocka_unit_test(test_svc_spatial_selection),
        cmocka_unit_test(test_packet_info_from_codecs),
        cmocka_unit_test(test_dd_switch_indications),
        cmocka_unit_test(test_meter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
