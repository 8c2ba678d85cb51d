/* codec_test.c - VP8, VP9 and H.264 payload descriptors and keyframe tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/codec.h"
#include "core/err.h"

/* ---- VP8 ---------------------------------------------------------------- */

/* Smallest keyframe start: S=1 PID=0, then a 640x480 keyframe header. */
static const uint8_t vp8_key_min[] = {
    0x10,              /* X=0 N=0 S=1 PID=0 */
    0x10, 0x02, 0x00,  /* frame tag: P=0 (key), VER=0, H=1, size */
    0x9d, 0x01, 0x2a,  /* start code */
    0x80, 0x02,        /* width 640, scale 0 (little endian) */
    0xe0, 0x01,        /* height 480, scale 0 */
};

/* Every optional field, 15-bit picture id, scaled width. */
static const uint8_t vp8_key_full[] = {
    0x90,              /* X=1 S=1 PID=0 */
    0xf0,              /* I L T K */
    0x81, 0x23,        /* M=1, PictureID 0x0123 */
    0x05,              /* TL0PICIDX 5 */
    0xa5,              /* TID=2 Y=1 KEYIDX=5 */
    0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a,
    0x80, 0x42,        /* width 640, horizontal scale 1 */
    0x68, 0x81,        /* height 360, vertical scale 2 */
};

static void test_vp8_keyframe_min(void **state)
{
    (void)state;
    vp8_descriptor d;
    assert_int_equal(vp8_parse(&d, vp8_key_min, sizeof vp8_key_min), 0);
    assert_false(d.has_picture_id);
    assert_false(d.has_tl0picidx);
    assert_false(d.has_tid);
    assert_false(d.has_keyidx);
    assert_true(d.start_of_partition);
    assert_int_equal(d.partition_id, 0);
    assert_int_equal(d.descriptor_len, 1);
    assert_true(d.frame_start);
    assert_true(d.keyframe);
    assert_true(d.has_dimensions);
    assert_int_equal(d.width, 640);
    assert_int_equal(d.height, 480);
    assert_int_equal(d.horizontal_scale, 0);
    assert_int_equal(d.vertical_scale, 0);
    assert_true(codec_is_keyframe(CODEC_VP8, vp8_key_min, sizeof vp8_key_min));
}

static void test_vp8_keyframe_full(void **state)
{
    (void)state;
    vp8_descriptor d;
    assert_int_equal(vp8_parse(&d, vp8_key_full, sizeof vp8_key_full), 0);
    assert_true(d.has_picture_id);
    assert_true(d.picture_id_15bit);
    assert_int_equal(d.picture_id, 0x0123);
    assert_true(d.has_tl0picidx);
    assert_int_equal(d.tl0picidx, 5);
    assert_true(d.has_tid);
    assert_int_equal(d.tid, 2);
    assert_true(d.layer_sync);
    assert_true(d.has_keyidx);
    assert_int_equal(d.keyidx, 5);
    assert_int_equal(d.descriptor_len, 6);
    assert_true(d.keyframe);
    assert_true(d.has_dimensions);
    assert_int_equal(d.width, 640);
    assert_int_equal(d.horizontal_scale, 1);
    assert_int_equal(d.height, 360);
    assert_int_equal(d.vertical_scale, 2);

    /* Every truncation of the descriptor, and a descriptor with no payload
     * after it, is short. */
    for (size_t n = 0; n <= d.descriptor_len; n++)
        assert_int_equal(vp8_parse(&d, vp8_key_full, n), J_ESHORT);
}

static void test_vp8_variants(void **state)
{
    (void)state;
    vp8_descriptor d;

    /* 7-bit picture id, continuation packet (S=0): never a keyframe. */
    static const uint8_t cont[] = {0x80, 0x80, 0x7f, 0x10, 0x02, 0x00};
    assert_int_equal(vp8_parse(&d, cont, sizeof cont), 0);
    assert_true(d.has_picture_id);
    assert_false(d.picture_id_15bit);
    assert_int_equal(d.picture_id, 127);
    assert_false(d.frame_start);
    assert_false(d.keyframe);
    assert_int_equal(d.descriptor_len, 3);

    /* Interframe start: P=1. */
    static const uint8_t inter[] = {0x90, 0x80, 0x05, 0x11, 0x02, 0x00};
    assert_int_equal(vp8_parse(&d, inter, sizeof inter), 0);
    assert_true(d.frame_start);
    assert_false(d.keyframe);
    assert_false(codec_is_keyframe(CODEC_VP8, inter, sizeof inter));

    /* Keyframe whose first packet is too short to hold the dimensions. */
    static const uint8_t key_short[] = {0x10, 0x10, 0x02, 0x00};
    assert_int_equal(vp8_parse(&d, key_short, sizeof key_short), 0);
    assert_true(d.keyframe);
    assert_false(d.has_dimensions);

    /* Keyframe with a wrong start code: keyframe, no dimensions. */
    static const uint8_t bad_sc[] = {0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2b,
                                     0x80, 0x02, 0xe0, 0x01};
    assert_int_equal(vp8_parse(&d, bad_sc, sizeof bad_sc), 0);
    assert_true(d.keyframe);
    assert_false(d.has_dimensions);

    /* S=1 but PID=1: a later partition, not the frame start. */
    static const uint8_t pid1[] = {0x11, 0x10, 0x02, 0x00};
    assert_int_equal(vp8_parse(&d, pid1, sizeof pid1), 0);
    assert_false(d.frame_start);
    assert_false(d.keyframe);

    /* Extreme: N set, all extensions, maximal values. */
    static const uint8_t extreme[] = {0xb7, 0xf0, 0xff, 0xff, 0xff, 0xff, 0x00};
    assert_int_equal(vp8_parse(&d, extreme, sizeof extreme), 0);
    assert_true(d.non_reference);
    assert_int_equal(d.partition_id, 7);
    assert_int_equal(d.picture_id, 0x7fff);
    assert_int_equal(d.tl0picidx, 255);
    assert_int_equal(d.tid, 3);
    assert_true(d.layer_sync);
    assert_int_equal(d.keyidx, 31);
    assert_int_equal(d.descriptor_len, 6);

    /* X with no extension flags; K without T leaves TID unset. */
    static const uint8_t x_empty[] = {0x80, 0x00, 0x42};
    assert_int_equal(vp8_parse(&d, x_empty, sizeof x_empty), 0);
    assert_int_equal(d.descriptor_len, 2);
    static const uint8_t k_only[] = {0x80, 0x10, 0xe3, 0x42};
    assert_int_equal(vp8_parse(&d, k_only, sizeof k_only), 0);
    assert_false(d.has_tid);
    assert_int_equal(d.tid, 0);
    assert_false(d.layer_sync);
    assert_true(d.has_keyidx);
    assert_int_equal(d.keyidx, 3);
}

static void test_vp8_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[6];
        size_t len;
    } cases[] = {
        {"empty", {0}, 0},
        {"descriptor only", {0x10}, 1},
        {"X without extension byte", {0x80}, 1},
        {"I without picture id", {0x80, 0x80}, 2},
        {"M without second byte", {0x80, 0x80, 0x80}, 3},
        {"L without TL0PICIDX", {0x80, 0x40}, 2},
        {"T without TID byte", {0x80, 0x20}, 2},
        {"K without KEYIDX byte", {0x80, 0x10}, 2},
        {"all present, no payload", {0x80, 0xf0, 0x81, 0x00, 0x01, 0x02}, 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vp8_descriptor d;
        int rc = vp8_parse(&d, cases[i].bytes, cases[i].len);
        if (rc != J_ESHORT) fail_msg("%s: got %d", cases[i].what, rc);
        assert_false(codec_is_keyframe(CODEC_VP8, cases[i].bytes, cases[i].len));
    }
}

/* ---- VP9 ---------------------------------------------------------------- */

/* First packet of a non-flexible 3-layer keyframe carrying the SS. */
static const uint8_t vp9_key_ss[] = {
    0xaa,              /* I=1 P=0 L=1 F=0 B=1 E=0 V=1 Z=0 */
    0x80, 0x01,        /* M=1, picture id 1 */
    0x00,              /* TID=0 U=0 SID=0 D=0 */
    0x07,              /* TL0PICIDX 7 */
    0x58,              /* N_S=2 (3 layers) Y=1 G=1 */
    0x01, 0x40, 0x00, 0xb4,  /* 320x180 */
    0x02, 0x80, 0x01, 0x68,  /* 640x360 */
    0x05, 0x00, 0x02, 0xd0,  /* 1280x720 */
    0x02,              /* N_G = 2 */
    0x04, 0x02,        /* T=0 U=0 R=1, P_DIFF 2 */
    0x34, 0x01,        /* T=1 U=1 R=1, P_DIFF 1 */
    0x82, 0x49, 0x83, 0x42,  /* VP9 frame (keyframe sync code follows) */
};

/* Flexible mode inter picture with three references. */
static const uint8_t vp9_flex[] = {
    0xfd,              /* I=1 P=1 L=1 F=1 B=1 E=1 V=0 Z=1 */
    0x12,              /* M=0, picture id 0x12 */
    0x53,              /* TID=2 U=1 SID=1 D=1 */
    0x03,              /* P_DIFF 1, N=1 */
    0x05,              /* P_DIFF 2, N=1 */
    0x08,              /* P_DIFF 4, N=0 */
    0x86,              /* VP9 frame */
};

static void test_vp9_keyframe_ss(void **state)
{
    (void)state;
    vp9_descriptor d;
    vp9_ss ss;
    assert_int_equal(vp9_parse(&d, &ss, vp9_key_ss, sizeof vp9_key_ss), 0);
    assert_true(d.has_picture_id);
    assert_true(d.picture_id_15bit);
    assert_int_equal(d.picture_id, 1);
    assert_false(d.inter_picture);
    assert_true(d.has_layer);
    assert_false(d.flexible);
    assert_true(d.begin_of_frame);
    assert_false(d.end_of_frame);
    assert_true(d.has_ss);
    assert_false(d.not_ref_upper);
    assert_int_equal(d.tid, 0);
    assert_int_equal(d.sid, 0);
    assert_true(d.has_tl0picidx);
    assert_int_equal(d.tl0picidx, 7);
    assert_int_equal(d.p_diff_count, 0);
    assert_int_equal(d.descriptor_len, sizeof vp9_key_ss - 4);
    assert_true(d.keyframe);

    assert_int_equal(ss.spatial_layers, 3);
    assert_true(ss.has_resolution);
    assert_int_equal(ss.width[0], 320);
    assert_int_equal(ss.height[0], 180);
    assert_int_equal(ss.width[1], 640);
    assert_int_equal(ss.height[1], 360);
    assert_int_equal(ss.width[2], 1280);
    assert_int_equal(ss.height[2], 720);
    assert_true(ss.has_pg);
    assert_int_equal(ss.pg_count, 2);
    assert_int_equal(ss.pg[0].tid, 0);
    assert_false(ss.pg[0].switching_up);
    assert_int_equal(ss.pg[0].ref_count, 1);
    assert_int_equal(ss.pg[0].p_diff[0], 2);
    assert_int_equal(ss.pg[1].tid, 1);
    assert_true(ss.pg[1].switching_up);
    assert_int_equal(ss.pg[1].ref_count, 1);
    assert_int_equal(ss.pg[1].p_diff[0], 1);

    /* The SS is validated even when not wanted. */
    assert_int_equal(vp9_parse(&d, NULL, vp9_key_ss, sizeof vp9_key_ss), 0);
    assert_true(codec_is_keyframe(CODEC_VP9, vp9_key_ss, sizeof vp9_key_ss));

    /* Every truncation up to and including the descriptor is short. */
    for (size_t n = 0; n <= sizeof vp9_key_ss - 4; n++) {
        assert_int_equal(vp9_parse(&d, &ss, vp9_key_ss, n), J_ESHORT);
        assert_int_equal(vp9_parse(&d, NULL, vp9_key_ss, n), J_ESHORT);
    }
}

static void test_vp9_flexible(void **state)
{
    (void)state;
    vp9_descriptor d;
    assert_int_equal(vp9_parse(&d, NULL, vp9_flex, sizeof vp9_flex), 0);
    assert_true(d.flexible);
    assert_true(d.inter_picture);
    assert_false(d.picture_id_15bit);
    assert_int_equal(d.picture_id, 0x12);
    assert_int_equal(d.tid, 2);
    assert_true(d.switching_up);
    assert_int_equal(d.sid, 1);
    assert_true(d.inter_layer);
    assert_true(d.not_ref_upper);
    assert_true(d.end_of_frame);
    assert_false(d.has_tl0picidx);
    assert_int_equal(d.p_diff_count, 3);
    assert_int_equal(d.p_diff[0], 1);
    assert_int_equal(d.p_diff[1], 2);
    assert_int_equal(d.p_diff[2], 4);
    assert_int_equal(d.descriptor_len, 6);
    assert_false(d.keyframe);
    for (size_t n = 0; n < sizeof vp9_flex; n++)
        assert_int_equal(vp9_parse(&d, NULL, vp9_flex, n), J_ESHORT);
}

static void test_vp9_variants(void **state)
{
    (void)state;
    vp9_descriptor d;
    vp9_ss ss;

    /* Bare B flag: P=0, no layer info -> keyframe. */
    static const uint8_t bare[] = {0x08, 0x82};
    assert_int_equal(vp9_parse(&d, NULL, bare, sizeof bare), 0);
    assert_int_equal(d.descriptor_len, 1);
    assert_true(d.keyframe);

    /* Upper spatial layer of a keyframe (SID=1): not a starting point. */
    static const uint8_t sid1[] = {0x28, 0x02, 0x00, 0x82};
    assert_int_equal(vp9_parse(&d, NULL, sid1, sizeof sid1), 0);
    assert_int_equal(d.sid, 1);
    assert_false(d.keyframe);
    assert_false(codec_is_keyframe(CODEC_VP9, sid1, sizeof sid1));

    /* Not the beginning of the frame: not a keyframe packet. */
    static const uint8_t mid[] = {0x20, 0x00, 0x00, 0x82};
    assert_int_equal(vp9_parse(&d, NULL, mid, sizeof mid), 0);
    assert_false(d.keyframe);

    /* Flexible, P=0: no P_DIFF even with L. */
    static const uint8_t flex_key[] = {0x38, 0x00, 0x82};
    assert_int_equal(vp9_parse(&d, NULL, flex_key, sizeof flex_key), 0);
    assert_int_equal(d.descriptor_len, 2);
    assert_false(d.has_tl0picidx);
    assert_true(d.keyframe);

    /* SS with neither Y nor G. */
    static const uint8_t ss_bare[] = {0x0a, 0x00, 0x82};
    assert_int_equal(vp9_parse(&d, &ss, ss_bare, sizeof ss_bare), 0);
    assert_int_equal(ss.spatial_layers, 1);
    assert_false(ss.has_resolution);
    assert_false(ss.has_pg);
    assert_int_equal(ss.pg_count, 0);
    assert_int_equal(d.descriptor_len, 2);

    /* Extreme SS: 8 layers with resolutions, 255 pictures with 3 refs each. */
    static uint8_t big[1 + 1 + 8 * 4 + 1 + 255 * 4 + 1];
    size_t o = 0;
    big[o++] = 0x0a;                 /* B=1 V=1 */
    big[o++] = 0xf8;                 /* N_S=7 Y=1 G=1 */
    for (int i = 0; i < 8; i++) {
        big[o++] = 0x3f; big[o++] = 0xff;  /* width 16383 */
        big[o++] = 0x00; big[o++] = (uint8_t)(i + 1);
    }
    big[o++] = 255;
    for (int i = 0; i < 255; i++) {
        big[o++] = 0xfc;             /* T=7 U=1 R=3 */
        big[o++] = 1; big[o++] = 2; big[o++] = (uint8_t)i;
    }
    big[o++] = 0x82;
    assert_int_equal(o, sizeof big);
    assert_int_equal(vp9_parse(&d, &ss, big, sizeof big), 0);
    assert_int_equal(d.descriptor_len, sizeof big - 1);
    assert_int_equal(ss.spatial_layers, 8);
    assert_int_equal(ss.width[7], 0x3fff);
    assert_int_equal(ss.height[7], 8);
    assert_int_equal(ss.pg_count, 255);
    assert_int_equal(ss.pg[254].tid, 7);
    assert_true(ss.pg[254].switching_up);
    assert_int_equal(ss.pg[254].ref_count, 3);
    assert_int_equal(ss.pg[254].p_diff[2], 254);
    for (size_t n = 0; n < sizeof big; n++)
        assert_int_equal(vp9_parse(&d, &ss, big, n), J_ESHORT);
}

static void test_vp9_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[8];
        size_t len;
        int expect;
    } cases[] = {
        {"empty", {0}, 0, J_ESHORT},
        {"descriptor only", {0x08}, 1, J_ESHORT},
        {"I without picture id", {0x80}, 1, J_ESHORT},
        {"M without second byte", {0x80, 0x80}, 2, J_ESHORT},
        {"L without layer byte", {0x20}, 1, J_ESHORT},
        {"non-flexible L without TL0PICIDX", {0x20, 0x00}, 2, J_ESHORT},
        {"flexible P without P_DIFF", {0x50}, 1, J_ESHORT},
        {"P_DIFF with N=1 and nothing after", {0x50, 0x03}, 2, J_ESHORT},
        {"fourth P_DIFF", {0x58, 0x03, 0x03, 0x03, 0x02, 0x82}, 6, J_EMALFORMED},
        {"V without SS byte", {0x02}, 1, J_ESHORT},
        {"Y with 1 layer cut short", {0x02, 0x10, 0x01, 0x40, 0x00}, 5, J_ESHORT},
        {"G without N_G", {0x02, 0x08}, 2, J_ESHORT},
        {"N_G=1 without picture", {0x02, 0x08, 0x01}, 3, J_ESHORT},
        {"R=2 with one P_DIFF", {0x02, 0x08, 0x01, 0x08, 0x01}, 5, J_ESHORT},
        {"SS complete, no payload", {0x02, 0x08, 0x01, 0x04, 0x01}, 5, J_ESHORT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vp9_descriptor d;
        vp9_ss ss;
        int rc = vp9_parse(&d, &ss, cases[i].bytes, cases[i].len);
        if (rc != cases[i].expect) fail_msg("%s: got %d", cases[i].what, rc);
        rc = vp9_parse(&d, NULL, cases[i].bytes, cases[i].len);
        if (rc != cases[i].expect) fail_msg("%s (no ss): got %d", cases[i].what, rc);
        assert_false(codec_is_keyframe(CODEC_VP9, cases[i].bytes, cases[i].len));
    }
}

/* ---- H.264 -------------------------------------------------------------- */

static void test_h264_single(void **state)
{
    (void)state;
    h264_descriptor d;
    /* SPS, Constrained Baseline level 3.1. */
    static const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16};
    assert_int_equal(h264_parse(&d, sps, sizeof sps), 0);
    assert_int_equal(d.packet_type, H264_NAL_SPS);
    assert_int_equal(d.nal_type, H264_NAL_SPS);
    assert_int_equal(d.nri, 3);
    assert_int_equal(d.nal_count, 1);
    assert_int_equal(d.nal_types, 1u << 7);
    assert_true(d.keyframe);

    static const uint8_t idr[] = {0x65, 0x88, 0x84, 0x00, 0x33};
    assert_int_equal(h264_parse(&d, idr, sizeof idr), 0);
    assert_int_equal(d.nal_type, H264_NAL_IDR);
    assert_true(d.keyframe);
    assert_true(codec_is_keyframe(CODEC_H264, idr, sizeof idr));

    static const uint8_t slice[] = {0x41, 0x9a, 0x02, 0x04};
    assert_int_equal(h264_parse(&d, slice, sizeof slice), 0);
    assert_int_equal(d.nal_type, H264_NAL_SLICE);
    assert_int_equal(d.nri, 2);
    assert_false(d.keyframe);
    assert_false(codec_is_keyframe(CODEC_H264, slice, sizeof slice));

    static const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};
    assert_int_equal(h264_parse(&d, pps, sizeof pps), 0);
    assert_int_equal(d.nal_type, H264_NAL_PPS);
    assert_false(d.keyframe);

    /* A header-only NAL unit (e.g. end of sequence) is one byte. */
    static const uint8_t eos[] = {0x0a};
    assert_int_equal(h264_parse(&d, eos, sizeof eos), 0);
    assert_int_equal(d.nal_type, 10);
}

static void test_h264_stap_a(void **state)
{
    (void)state;
    h264_descriptor d;
    /* STAP-A with SPS, PPS and the start of an IDR (as Chrome sends). */
    static const uint8_t stap[] = {
        0x78,                                  /* NRI=3 type 24 */
        0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f,    /* SPS */
        0x00, 0x03, 0x68, 0xce, 0x3c,          /* PPS */
        0x00, 0x02, 0x65, 0x88,                /* IDR */
    };
    assert_int_equal(h264_parse(&d, stap, sizeof stap), 0);
    assert_int_equal(d.packet_type, H264_NAL_STAP_A);
    assert_int_equal(d.nal_count, 3);
    assert_int_equal(d.nal_type, H264_NAL_SPS);
    assert_int_equal(d.nal_types, (1u << 7) | (1u << 8) | (1u << 5));
    assert_true(d.keyframe);

    /* SPS + PPS only: still the start of a keyframe. */
    assert_int_equal(h264_parse(&d, stap, 12), 0);
    assert_int_equal(d.nal_count, 2);
    assert_true(d.keyframe);

    /* AUD + SEI + slice: not a keyframe. */
    static const uint8_t stap_p[] = {
        0x78, 0x00, 0x02, 0x09, 0xf0, 0x00, 0x02, 0x06, 0x05, 0x00, 0x03, 0x41, 0x9a, 0x02,
    };
    assert_int_equal(h264_parse(&d, stap_p, sizeof stap_p), 0);
    assert_int_equal(d.nal_count, 3);
    assert_int_equal(d.nal_type, H264_NAL_AUD);
    assert_false(d.keyframe);

    /* Every truncation inside an aggregation unit is short. */
    static const size_t unit_ends[] = {7, 12, 16};
    for (size_t n = 0; n < sizeof stap; n++) {
        bool at_end = false;
        for (size_t k = 0; k < 3; k++) at_end |= (n == unit_ends[k]);
        int rc = h264_parse(&d, stap, n);
        if (at_end)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, J_ESHORT);
    }
}

static void test_h264_fu_a(void **state)
{
    (void)state;
    h264_descriptor d;
    static const uint8_t start[] = {0x7c, 0x85, 0x88, 0x84, 0x00};
    assert_int_equal(h264_parse(&d, start, sizeof start), 0);
    assert_int_equal(d.packet_type, H264_NAL_FU_A);
    assert_true(d.fu_start);
    assert_false(d.fu_end);
    assert_int_equal(d.nal_type, H264_NAL_IDR);
    assert_int_equal(d.nal_count, 1);
    assert_true(d.keyframe);

    static const uint8_t middle[] = {0x7c, 0x05, 0x11, 0x22};
    assert_int_equal(h264_parse(&d, middle, sizeof middle), 0);
    assert_false(d.fu_start);
    assert_false(d.fu_end);
    assert_int_equal(d.nal_type, H264_NAL_IDR);
    assert_int_equal(d.nal_count, 0);
    assert_int_equal(d.nal_types, 0);
    assert_false(d.keyframe);

    static const uint8_t end[] = {0x7c, 0x45, 0x33};
    assert_int_equal(h264_parse(&d, end, sizeof end), 0);
    assert_true(d.fu_end);
    assert_false(d.keyframe);

    static const uint8_t p_start[] = {0x5c, 0x81, 0x9a};
    assert_int_equal(h264_parse(&d, p_start, sizeof p_start), 0);
    assert_true(d.fu_start);
    assert_int_equal(d.nal_type, H264_NAL_SLICE);
    assert_int_equal(d.nri, 2);
    assert_false(d.keyframe);
}

static void test_h264_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[6];
        size_t len;
        int expect;
    } cases[] = {
        {"empty", {0}, 0, J_ESHORT},
        {"STAP-A with no unit", {0x78}, 1, J_ESHORT},
        {"STAP-A with half a size", {0x78, 0x00}, 2, J_ESHORT},
        {"STAP-A unit beyond packet", {0x78, 0x00, 0x05, 0x67, 0x42}, 5, J_ESHORT},
        {"STAP-A empty unit", {0x78, 0x00, 0x00}, 3, J_EMALFORMED},
        {"STAP-A trailing byte", {0x78, 0x00, 0x01, 0x67, 0x00}, 5, J_ESHORT},
        {"STAP-A holding an FU-A", {0x78, 0x00, 0x02, 0x7c, 0x85}, 5, J_EMALFORMED},
        {"STAP-A holding a STAP-A", {0x78, 0x00, 0x01, 0x78}, 4, J_EMALFORMED},
        {"FU-A without FU header", {0x7c}, 1, J_ESHORT},
        {"FU-A with S and E", {0x7c, 0xc5, 0x00}, 3, J_EMALFORMED},
        {"FU-A of a STAP-A", {0x7c, 0x98, 0x00}, 3, J_EMALFORMED},
        {"STAP-B", {0x79, 0x00}, 2, J_EUNSUPPORTED},
        {"MTAP16", {0x7a, 0x00}, 2, J_EUNSUPPORTED},
        {"MTAP24", {0x7b, 0x00}, 2, J_EUNSUPPORTED},
        {"FU-B", {0x7d, 0x85, 0x00, 0x00}, 4, J_EUNSUPPORTED},
        {"type 0", {0x60, 0x00}, 2, J_EUNSUPPORTED},
        {"type 30", {0x7e, 0x00}, 2, J_EUNSUPPORTED},
        {"type 31", {0x7f, 0x00}, 2, J_EUNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        h264_descriptor d;
        int rc = h264_parse(&d, cases[i].bytes, cases[i].len);
        if (rc != cases[i].expect) fail_msg("%s: got %d", cases[i].what, rc);
        assert_false(codec_is_keyframe(CODEC_H264, cases[i].bytes, cases[i].len));
    }
}

/* ---- common ------------------------------------------------------------- */

static void test_kind_names(void **state)
{
    (void)state;
    assert_int_equal(codec_kind_from_name("VP8"), CODEC_VP8);
    assert_int_equal(codec_kind_from_name("vp8"), CODEC_VP8);
    assert_int_equal(codec_kind_from_name("Vp9"), CODEC_VP9);
    assert_int_equal(codec_kind_from_name("h264"), CODEC_H264);
    assert_int_equal(codec_kind_from_name("AV1"), CODEC_AV1);
    assert_int_equal(codec_kind_from_name("av1"), CODEC_AV1);
    assert_int_equal(codec_kind_from_name("opus"), CODEC_OPUS);
    assert_int_equal(codec_kind_from_name("OPUS"), CODEC_OPUS);
    assert_int_equal(codec_kind_from_name("H265"), CODEC_UNKNOWN);
    assert_int_equal(codec_kind_from_name("VP8X"), CODEC_UNKNOWN);
    assert_int_equal(codec_kind_from_name("rtx"), CODEC_UNKNOWN);
    assert_int_equal(codec_kind_from_name(""), CODEC_UNKNOWN);
    assert_int_equal(codec_kind_from_name(NULL), CODEC_UNKNOWN);
    assert_string_equal(codec_kind_name(CODEC_H264), "H264");
    assert_string_equal(codec_kind_name(CODEC_OPUS), "opus");
    assert_string_equal(codec_kind_name(CODEC_UNKNOWN), "unknown");
    assert_true(codec_is_video(CODEC_VP8));
    assert_true(codec_is_video(CODEC_AV1));
    assert_false(codec_is_video(CODEC_OPUS));
    assert_false(codec_is_video(CODEC_UNKNOWN));
}

static void test_keyframe_common(void **state)
{
    (void)state;
    /* AV1 aggregation header: N=1 starts a coded video sequence. */
    static const uint8_t av1_key[] = {0x18, 0x0a, 0x0b};  /* W=1 N=1, sequence header OBU */
    static const uint8_t av1_delta[] = {0x10, 0x32, 0x00};
    assert_true(codec_is_keyframe(CODEC_AV1, av1_key, sizeof av1_key));
    assert_false(codec_is_keyframe(CODEC_AV1, av1_delta, sizeof av1_delta));
    assert_false(codec_is_keyframe(CODEC_AV1, av1_key, 1));
    assert_false(codec_is_keyframe(CODEC_AV1, av1_key, 0));

    static const uint8_t opus[] = {0x78, 0x01};
    assert_true(codec_is_keyframe(CODEC_OPUS, opus, sizeof opus));
    assert_false(codec_is_keyframe(CODEC_UNKNOWN, opus, sizeof opus));
    assert_false(codec_is_keyframe((codec_kind)42, opus, sizeof opus));
}

static void test_vp8_descriptor_write(void **state)
{
    (void)state;
    /* Round trips over the field combinations a packetizer uses, and the full set. */
    const vp8_descriptor cases[] = {
        {.start_of_partition = true},
        {.start_of_partition = true, .has_picture_id = true, .picture_id_15bit = true,
         .picture_id = 0x7abc},
        {.partition_id = 3, .non_reference = true, .has_picture_id = true, .picture_id = 0x55},
        {.has_picture_id = true, .picture_id_15bit = true, .picture_id = 1, .has_tl0picidx = true,
         .tl0picidx = 200, .has_tid = true, .tid = 2, .layer_sync = true, .has_keyidx = true,
         .keyidx = 17},
        {.has_keyidx = true, .keyidx = 31},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[16];
        int n = vp8_descriptor_write(&cases[i], buf, sizeof buf);
        assert_true(n > 0);
        buf[n] = 0x01; /* one byte of an inter frame */
        vp8_descriptor d;
        assert_int_equal(vp8_parse(&d, buf, (size_t)n + 1), 0);
        assert_int_equal(d.descriptor_len, (size_t)n);
        assert_int_equal(d.start_of_partition, cases[i].start_of_partition);
        assert_int_equal(d.non_reference, cases[i].non_reference);
        assert_int_equal(d.partition_id, cases[i].partition_id);
        assert_int_equal(d.has_picture_id, cases[i].has_picture_id);
        assert_int_equal(d.picture_id, cases[i].picture_id);
        assert_int_equal(d.picture_id_15bit, cases[i].picture_id_15bit);
        assert_int_equal(d.tl0picidx, cases[i].tl0picidx);
        assert_int_equal(d.tid, cases[i].tid);
        assert_int_equal(d.layer_sync, cases[i].layer_sync);
        assert_int_equal(d.keyidx, cases[i].keyidx);
        assert_int_equal(vp8_descriptor_write(&cases[i], buf, (size_t)n - 1), J_ESHORTBUF);
    }
    vp8_descriptor bad = {.has_picture_id = true, .picture_id = 0x80};
    uint8_t buf[8];
    assert_int_equal(vp8_descriptor_write(&bad, buf, sizeof buf), J_EINVAL);
    bad = (vp8_descriptor){.partition_id = 8};
    assert_int_equal(vp8_descriptor_write(&bad, buf, sizeof buf), J_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vp8_keyframe_min),
        cmocka_unit_test(test_vp8_keyframe_full),
        cmocka_unit_test(test_vp8_variants),
        cmocka_unit_test(test_vp8_descriptor_write),
        cmocka_unit_test(test_vp8_malformed),
        cmocka_unit_test(test_vp9_keyframe_ss),
        cmocka_unit_test(test_vp9_flexible),
        cmocka_unit_test(test_vp9_variants),
        cmocka_unit_test(test_vp9_malformed),
        cmocka_unit_test(test_h264_single),
        cmocka_unit_test(test_h264_stap_a),
        cmocka_unit_test(test_h264_fu_a),
        cmocka_unit_test(test_h264_malformed),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_keyframe_common),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
