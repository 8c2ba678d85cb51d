/* picmap_test.c - VP8 and VP9 picture id / TL0PICIDX continuity: wrap-around, drops, late
 * packets, switches between sources, VP9 flexible mode and spatial layers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/codec.h"
#include "codec/picmap.h"
#include "core/err.h"

#define NONE (-1)

/* One VP8 packet: its bytes (descriptor + a 2-byte interframe payload) and parsed view. */
typedef struct {
    uint8_t buf[16];
    size_t len;
    vp8_descriptor d;
} vp8_pkt;

/* pic/tl0/tid NONE leave the field out; m15 picks the 15-bit picture id. */
static vp8_pkt pkt(int pic, bool m15, int tl0, int tid, bool sync)
{
    vp8_pkt p;
    memset(&p, 0, sizeof p);
    bool ext = pic != NONE || tl0 != NONE || tid != NONE;
    p.buf[p.len++] = (uint8_t)((ext ? 0x80 : 0) | 0x10); /* S=1 PID=0 */
    if (ext) {
        p.buf[p.len++] = (uint8_t)((pic != NONE ? 0x80 : 0) | (tl0 != NONE ? 0x40 : 0) |
                                   (tid != NONE ? 0x20 : 0));
        if (pic != NONE && m15) {
            p.buf[p.len++] = (uint8_t)(0x80 | (pic >> 8));
            p.buf[p.len++] = (uint8_t)pic;
        } else if (pic != NONE) {
            p.buf[p.len++] = (uint8_t)(pic & 0x7f);
        }
        if (tl0 != NONE) p.buf[p.len++] = (uint8_t)tl0;
        if (tid != NONE) p.buf[p.len++] = (uint8_t)((tid << 6) | (sync ? 0x20 : 0));
    }
    p.buf[p.len++] = 0x01; /* frame tag: P=1, an interframe */
    p.buf[p.len++] = 0xaa;
    assert_int_equal(vp8_parse(&p.d, p.buf, p.len), 0);
    return p;
}

static vp8_pkt pkt15(int pic, int tl0, int tid) { return pkt(pic, true, tl0, tid, false); }

typedef struct {
    int rc;
    uint16_t pic;
    uint8_t tl0;
    vp8_descriptor d; /* the rewritten packet, parsed again */
} rewritten;

/* Rewrite p into a new packet (descriptor + p's payload) and parse that back. */
static rewritten rewrite(picmap *m, const vp8_pkt *p)
{
    rewritten r;
    memset(&r, 0, sizeof r);
    uint8_t out[32];
    r.rc = vp8_picmap_rewrite(m, &p->d, out, sizeof out);
    if (r.rc < 0) return r;
    assert_int_equal((size_t)r.rc, vp8_picmap_rewrite_len(&p->d));
    size_t payload = p->len - p->d.descriptor_len;
    memcpy(out + r.rc, p->buf + p->d.descriptor_len, payload);
    assert_int_equal(vp8_parse(&r.d, out, (size_t)r.rc + payload), 0);
    assert_int_equal(r.d.descriptor_len, (size_t)r.rc);
    assert_memory_equal(out + r.rc, p->buf + p->d.descriptor_len, payload);
    /* Everything but the two mapped fields survives. */
    assert_int_equal(r.d.has_picture_id, p->d.has_picture_id);
    assert_int_equal(r.d.has_tl0picidx, p->d.has_tl0picidx);
    assert_int_equal(r.d.has_tid, p->d.has_tid);
    assert_int_equal(r.d.tid, p->d.tid);
    assert_int_equal(r.d.layer_sync, p->d.layer_sync);
    assert_int_equal(r.d.start_of_partition, p->d.start_of_partition);
    assert_int_equal(r.d.non_reference, p->d.non_reference);
    if (r.d.has_picture_id) assert_true(r.d.picture_id_15bit);
    r.pic = r.d.picture_id;
    r.tl0 = r.d.tl0picidx;
    return r;
}

static uint16_t fwd_pic(picmap *m, const vp8_pkt *p)
{
    rewritten r = rewrite(m, p);
    assert_true(r.rc > 0);
    return r.pic;
}

static void test_first_source_keeps_ids_in_place(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    for (int i = 0; i < 5; i++) {
        vp8_pkt p = pkt15(100 + i, 7 + i, 0);
        uint8_t copy[16];
        memcpy(copy, p.buf, p.len);
        /* 15-bit ids: same length, so the rewrite goes in place, here byte-identical. */
        assert_int_equal(vp8_picmap_rewrite_len(&p.d), p.d.descriptor_len);
        int n = vp8_picmap_rewrite(&m, &p.d, p.buf, p.d.descriptor_len);
        assert_int_equal(n, (int)p.d.descriptor_len);
        assert_memory_equal(p.buf, copy, p.len);
    }
}

static void test_wraparound_15bit(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    static const int in[] = {32766, 32767, 0, 1, 2};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        vp8_pkt p = pkt15(in[i], NONE, NONE);
        assert_int_equal(fwd_pic(&m, &p), (32766 + i) & 0x7fff);
    }
}

static void test_7bit_ids_become_15bit(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    static const int in[] = {126, 127, 0, 1};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        vp8_pkt p = pkt(in[i], false, 3, 0, false);
        assert_int_equal(vp8_picmap_rewrite_len(&p.d), p.d.descriptor_len + 1);
        rewritten r = rewrite(&m, &p);
        /* The 7-bit wrap is unwrapped: 126, 127, 128, 129. */
        assert_int_equal(r.pic, 126 + i);
        assert_int_equal(r.tl0, 3);
    }
}

/* L1T3 pattern (tid 0 2 1 2 ...): dropping TL2 leaves no hole in the picture ids. */
static void test_temporal_drop_compacts(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    static const int tids[] = {0, 2, 1, 2, 0, 2, 1, 2, 0};
    uint16_t expect = 500;
    int tl0 = 40;
    for (size_t i = 0; i < sizeof tids / sizeof tids[0]; i++) {
        if (tids[i] == 0 && i > 0) tl0++;
        vp8_pkt p = pkt15(500 + (int)i, tl0, tids[i]);
        if (tids[i] == 2) {
            vp8_picmap_drop(&m, &p.d);
            continue;
        }
        rewritten r = rewrite(&m, &p);
        assert_int_equal(r.pic, expect++);
        assert_int_equal(r.tl0, tl0); /* TL0 frames are never dropped: TL0PICIDX is kept */
    }
}

/* Several packets per picture share its number; a dropped picture is counted once. */
static void test_multi_packet_pictures(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    vp8_pkt a = pkt15(10, NONE, NONE), b = pkt15(11, NONE, NONE), c = pkt15(12, NONE, NONE);
    for (int i = 0; i < 3; i++) assert_int_equal(fwd_pic(&m, &a), 10);
    for (int i = 0; i < 3; i++) vp8_picmap_drop(&m, &b.d);
    for (int i = 0; i < 3; i++) assert_int_equal(fwd_pic(&m, &c), 11);
    /* A packet of the dropped picture is refused, even late. */
    assert_int_equal(rewrite(&m, &b).rc, J_ENOTFOUND);
    /* Dropping a packet of a picture already forwarded changes nothing. */
    vp8_picmap_drop(&m, &c.d);
    vp8_pkt d = pkt15(13, NONE, NONE);
    assert_int_equal(fwd_pic(&m, &d), 12);
}

static void test_late_packets(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    vp8_pkt p20 = pkt15(20, NONE, NONE), p23 = pkt15(23, NONE, NONE);
    assert_int_equal(fwd_pic(&m, &p20), 20);
    /* 21 and 22 not seen yet: 23 keeps room for them. */
    assert_int_equal(fwd_pic(&m, &p23), 23);
    vp8_pkt p24 = pkt15(24, NONE, NONE);
    vp8_picmap_drop(&m, &p24.d);
    vp8_pkt p25 = pkt15(25, NONE, NONE);
    assert_int_equal(fwd_pic(&m, &p25), 24);
    /* Late: 21 gets its reserved number, not one shifted by the later drop. */
    vp8_pkt p21 = pkt15(21, NONE, NONE);
    assert_int_equal(fwd_pic(&m, &p21), 21);
    /* A late picture dropped keeps its hole and refuses its later packets. */
    vp8_pkt p22 = pkt15(22, NONE, NONE);
    vp8_picmap_drop(&m, &p22.d);
    assert_int_equal(rewrite(&m, &p22).rc, J_ENOTFOUND);
    vp8_pkt p26 = pkt15(26, NONE, NONE);
    assert_int_equal(fwd_pic(&m, &p26), 25);
}

static void test_history_limit(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    for (int i = 0; i < 200; i++) {
        vp8_pkt p = pkt15(1000 + i, NONE, NONE);
        assert_int_equal(fwd_pic(&m, &p), 1000 + i);
    }
    vp8_pkt oldest = pkt15(1199 - (PICMAP_HISTORY - 1), NONE, NONE);
    assert_int_equal(fwd_pic(&m, &oldest), 1199 - (PICMAP_HISTORY - 1));
    vp8_pkt too_old = pkt15(1199 - PICMAP_HISTORY, NONE, NONE);
    assert_int_equal(rewrite(&m, &too_old).rc, J_ENOTFOUND);
    vp8_picmap_drop(&m, &too_old.d); /* no effect */
    /* A jump further than the history: the skipped pictures past it are forgotten. */
    vp8_pkt far = pkt15(1199 + 1000, NONE, NONE);
    assert_int_equal(fwd_pic(&m, &far), 2199);
    vp8_pkt skipped = pkt15(2199 - PICMAP_HISTORY, NONE, NONE);
    assert_int_equal(rewrite(&m, &skipped).rc, J_ENOTFOUND);
    vp8_pkt kept = pkt15(2199 - (PICMAP_HISTORY - 1), NONE, NONE);
    assert_int_equal(fwd_pic(&m, &kept), 2199 - (PICMAP_HISTORY - 1));
}

/* Simulcast switch: the new encoding's keyframe continues both sequences. */
static void test_switch_between_sources(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    for (int i = 0; i < 4; i++) {
        vp8_pkt a = pkt15(1000 + i, 50 + i, 0);
        rewritten r = rewrite(&m, &a);
        assert_int_equal(r.pic, 1000 + i);
        assert_int_equal(r.tl0, 50 + i);
    }
    picmap_resync(&m);
    static const int tids[] = {0, 1, 0, 1};
    for (int i = 0; i < 4; i++) {
        vp8_pkt b = pkt15(20000 + i, 200 + i / 2, tids[i]);
        rewritten r = rewrite(&m, &b);
        assert_int_equal(r.pic, 1004 + i);
        assert_int_equal(r.tl0, 54 + i / 2);
    }
    /* And back, to a source whose numbers are now behind. */
    picmap_resync(&m);
    vp8_pkt a = pkt15(1010, 60, 0);
    rewritten r = rewrite(&m, &a);
    assert_int_equal(r.pic, 1008);
    assert_int_equal(r.tl0, 56);
    /* A late packet of the previous source no longer maps as it did. */
    vp8_pkt b = pkt15(20003, 201, 1);
    assert_int_equal(rewrite(&m, &b).rc, J_ENOTFOUND);
}

static void test_switch_wraps(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    vp8_pkt a = pkt15(32767, 255, 0);
    assert_int_equal(fwd_pic(&m, &a), 32767);
    picmap_resync(&m);
    vp8_pkt b = pkt15(4, 9, 0);
    rewritten r = rewrite(&m, &b);
    assert_int_equal(r.pic, 0);
    assert_int_equal(r.tl0, 0);
    /* A source that starts on a higher-layer picture stays in the last TL0 group. */
    picmap_resync(&m);
    vp8_pkt c = pkt15(300, 77, 2);
    r = rewrite(&m, &c);
    assert_int_equal(r.pic, 1);
    assert_int_equal(r.tl0, 0);
}

/* A source whose first packet is dropped still continues the sequence. */
static void test_drop_first_after_resync(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    vp8_pkt a = pkt15(40, NONE, NONE);
    assert_int_equal(fwd_pic(&m, &a), 40);
    picmap_resync(&m);
    vp8_pkt b = pkt15(900, NONE, NONE), c = pkt15(901, NONE, NONE);
    vp8_picmap_drop(&m, &b.d);
    assert_int_equal(fwd_pic(&m, &c), 41);

    picmap_init(&m);
    vp8_picmap_drop(&m, &b.d);
    assert_int_equal(fwd_pic(&m, &c), 900);
}

static void test_descriptor_shapes(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    /* No extension: the one-byte descriptor is copied. */
    vp8_pkt bare = pkt(NONE, false, NONE, NONE, false);
    assert_int_equal(vp8_picmap_rewrite_len(&bare.d), 1);
    rewritten r = rewrite(&m, &bare);
    assert_int_equal(r.rc, 1);
    /* TL0PICIDX without a picture id, and TID with Y. */
    vp8_pkt tl0 = pkt(NONE, false, 12, 1, true);
    r = rewrite(&m, &tl0);
    assert_int_equal(r.rc, 4);
    assert_int_equal(r.tl0, 12);
    assert_true(r.d.layer_sync);
    /* An extension byte announcing nothing is left out. */
    static const uint8_t empty_ext[] = {0x90, 0x00, 0x01, 0xaa};
    vp8_descriptor d;
    assert_int_equal(vp8_parse(&d, empty_ext, sizeof empty_ext), 0);
    assert_int_equal(d.descriptor_len, 2);
    uint8_t out[4];
    assert_int_equal(vp8_picmap_rewrite_len(&d), 1);
    assert_int_equal(vp8_picmap_rewrite(&m, &d, out, sizeof out), 1);
    assert_int_equal(out[0], 0x10);
    /* KEYIDX and N are kept; reserved bits come out zero. */
    static const uint8_t keyidx[] = {0xe8 | 0x10, 0x9f, 0x85, 0x01, 0x13, 0x01, 0xaa};
    assert_int_equal(vp8_parse(&d, keyidx, sizeof keyidx), 0);
    uint8_t full[8];
    picmap_init(&m);
    assert_int_equal(vp8_picmap_rewrite(&m, &d, full, sizeof full), 5);
    static const uint8_t expect[] = {0xb0, 0x90, 0x85, 0x01, 0x13};
    assert_memory_equal(full, expect, sizeof expect);
}

static void test_short_buffer_changes_nothing(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    vp8_pkt a = pkt15(7, 1, 0), b = pkt15(8, 2, 0);
    uint8_t out[8];
    assert_int_equal(vp8_picmap_rewrite(&m, &a.d, out, 4), J_ESHORTBUF);
    assert_int_equal(vp8_picmap_rewrite(&m, &a.d, out, 0), J_ESHORTBUF);
    assert_int_equal(fwd_pic(&m, &b), 8);
}

/* ---- VP9 ------------------------------------------------------------------------------ */

/* The shape of one VP9 packet; NONE leaves a field out. */
typedef struct {
    int pic;
    bool m15;
    bool flexible;
    int tid;       /* with sid: the layer byte (L) */
    int sid;
    int tl0;       /* non-flexible mode with L */
    int p_diff;    /* flexible mode: P=1 with this one reference */
    bool ss;       /* V: a one-layer scalability structure with its size and a GOF of one */
} vp9_shape;

/* One VP9 packet: its bytes (descriptor + a 2-byte payload) and parsed view. */
typedef struct {
    uint8_t buf[32];
    size_t len;
    vp9_descriptor d;
    vp9_ss ss;
} vp9_pkt;

static vp9_pkt vp9(vp9_shape s)
{
    vp9_pkt p;
    memset(&p, 0, sizeof p);
    bool layer = s.tid != NONE;
    p.buf[p.len++] = (uint8_t)((s.pic != NONE ? 0x80 : 0) | (s.p_diff != NONE ? 0x40 : 0) |
                               (layer ? 0x20 : 0) | (s.flexible ? 0x10 : 0) | 0x0c |
                               (s.ss ? 0x02 : 0));
    if (s.pic != NONE && s.m15) {
        p.buf[p.len++] = (uint8_t)(0x80 | (s.pic >> 8));
        p.buf[p.len++] = (uint8_t)s.pic;
    } else if (s.pic != NONE) {
        p.buf[p.len++] = (uint8_t)(s.pic & 0x7f);
    }
    if (layer) p.buf[p.len++] = (uint8_t)((s.tid << 5) | (s.sid << 1) | (s.sid > 0 ? 1 : 0));
    if (layer && !s.flexible) p.buf[p.len++] = (uint8_t)s.tl0;
    if (s.flexible && s.p_diff != NONE) p.buf[p.len++] = (uint8_t)(s.p_diff << 1);
    if (s.ss) {
        static const uint8_t ss[] = {0x18, 0x02, 0x80, 0x01, 0x68, 0x01, 0x04, 0x01};
        memcpy(p.buf + p.len, ss, sizeof ss); /* 640x360, N_G=1: T0 refs P_DIFF 1 */
        p.len += sizeof ss;
    }
    p.buf[p.len++] = 0xaa;
    p.buf[p.len++] = 0xbb;
    assert_int_equal(vp9_parse(&p.d, &p.ss, p.buf, p.len), 0);
    return p;
}

/* A non-flexible 15-bit packet of picture pic: layer tid/sid, TL0PICIDX tl0. */
static vp9_pkt vp9_nf(int pic, int tid, int sid, int tl0)
{
    return vp9((vp9_shape){.pic = pic, .m15 = true, .tid = tid, .sid = sid, .tl0 = tl0,
                           .p_diff = NONE});
}

typedef struct {
    int rc;
    uint16_t pic;
    uint8_t tl0;
    vp9_descriptor d; /* the rewritten packet, parsed again */
} rewritten9;

/* Rewrite p into a new packet (descriptor + p's payload), parse that back and check that
 * everything but the picture id and TL0PICIDX survived. */
static rewritten9 rewrite9(picmap *m, const vp9_pkt *p)
{
    rewritten9 r;
    memset(&r, 0, sizeof r);
    uint8_t out[64];
    r.rc = vp9_picmap_rewrite(m, &p->d, p->buf, out, sizeof out);
    if (r.rc < 0) return r;
    assert_int_equal((size_t)r.rc, vp9_picmap_rewrite_len(&p->d));
    size_t payload = p->len - p->d.descriptor_len;
    memcpy(out + r.rc, p->buf + p->d.descriptor_len, payload);
    vp9_ss ss;
    memset(&ss, 0, sizeof ss);
    assert_int_equal(vp9_parse(&r.d, &ss, out, (size_t)r.rc + payload), 0);
    assert_int_equal(r.d.descriptor_len, (size_t)r.rc);
    assert_memory_equal(out + r.rc, p->buf + p->d.descriptor_len, payload);
    const vp9_descriptor *in = &p->d;
    assert_int_equal(r.d.has_picture_id, in->has_picture_id);
    assert_int_equal(r.d.picture_id_15bit, in->has_picture_id);
    assert_int_equal(r.d.inter_picture, in->inter_picture);
    assert_int_equal(r.d.has_layer, in->has_layer);
    assert_int_equal(r.d.flexible, in->flexible);
    assert_int_equal(r.d.begin_of_frame, in->begin_of_frame);
    assert_int_equal(r.d.end_of_frame, in->end_of_frame);
    assert_int_equal(r.d.has_ss, in->has_ss);
    assert_int_equal(r.d.not_ref_upper, in->not_ref_upper);
    assert_int_equal(r.d.tid, in->tid);
    assert_int_equal(r.d.switching_up, in->switching_up);
    assert_int_equal(r.d.sid, in->sid);
    assert_int_equal(r.d.inter_layer, in->inter_layer);
    assert_int_equal(r.d.has_tl0picidx, in->has_tl0picidx);
    assert_int_equal(r.d.p_diff_count, in->p_diff_count);
    assert_memory_equal(r.d.p_diff, in->p_diff, in->p_diff_count);
    assert_int_equal(r.d.keyframe, in->keyframe);
    if (p->d.has_ss) assert_memory_equal(&ss, &p->ss, sizeof ss);
    r.pic = r.d.picture_id;
    r.tl0 = r.d.tl0picidx;
    return r;
}

static uint16_t fwd9(picmap *m, const vp9_pkt *p)
{
    rewritten9 r = rewrite9(m, p);
    assert_true(r.rc > 0);
    return r.pic;
}

static void test_vp9_first_source_in_place(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    vp9_pkt key = vp9((vp9_shape){.pic = 300, .m15 = true, .tid = 0, .sid = 0, .tl0 = 9,
                                  .p_diff = NONE, .ss = true});
    vp9_pkt next = vp9_nf(301, 2, 0, 9);
    vp9_pkt *pkts[] = {&key, &next};
    for (size_t i = 0; i < 2; i++) {
        vp9_pkt *p = pkts[i];
        uint8_t copy[32];
        memcpy(copy, p->buf, p->len);
        assert_int_equal(vp9_picmap_rewrite_len(&p->d), p->d.descriptor_len);
        int n = vp9_picmap_rewrite(&m, &p->d, p->buf, p->buf, p->d.descriptor_len);
        assert_int_equal(n, (int)p->d.descriptor_len);
        assert_memory_equal(p->buf, copy, p->len);
    }
}

/* VP9 simulcast: each encoding (L1T3) numbers its pictures and TL0 groups on its own; a
 * switch continues both sequences from the new encoding's keyframe, and back again. */
static void test_vp9_switch_between_encodings(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    static const int tids[] = {0, 2, 1, 2};
    for (int i = 0; i < 4; i++) {
        vp9_pkt a = vp9_nf(1000 + i, tids[i], 0, 50);
        rewritten9 r = rewrite9(&m, &a);
        assert_int_equal(r.pic, 1000 + i);
        assert_int_equal(r.tl0, 50);
    }
    picmap_resync(&m);
    vp9_pkt key = vp9((vp9_shape){.pic = 20000, .m15 = true, .tid = 0, .sid = 0, .tl0 = 200,
                                  .p_diff = NONE, .ss = true});
    rewritten9 r = rewrite9(&m, &key);
    assert_int_equal(r.pic, 1004);
    assert_int_equal(r.tl0, 51);
    for (int i = 1; i < 5; i++) {
        vp9_pkt b = vp9_nf(20000 + i, i == 4 ? 0 : tids[i], 0, i == 4 ? 201 : 200);
        r = rewrite9(&m, &b);
        assert_int_equal(r.pic, 1004 + i);
        assert_int_equal(r.tl0, i == 4 ? 52 : 51);
    }
    /* Back to the first encoding, whose numbers are now behind. */
    picmap_resync(&m);
    vp9_pkt a = vp9_nf(1010, 0, 0, 52);
    r = rewrite9(&m, &a);
    assert_int_equal(r.pic, 1009);
    assert_int_equal(r.tl0, 53);
    /* A late packet of the encoding switched away from no longer maps. */
    vp9_pkt late = vp9_nf(20004, 0, 0, 201);
    assert_int_equal(rewrite9(&m, &late).rc, J_ENOTFOUND);
}

/* L1T3 with a temporal target of 1: the TL2 pictures are not forwarded, and keep their
 * numbers - the receiver places pictures in the keyframe's GOF by picture-id distance - so
 * the forwarded ids keep the encoder's spacing, across a switch too; TL0PICIDX (TL0 is never
 * dropped) stays continuous. */
static void test_vp9_dropped_temporal_layers_keep_spacing(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    static const int tids[] = {0, 2, 1, 2, 0, 2, 1, 2, 0};
    int tl0 = 40;
    for (int i = 0; i < 9; i++) {
        if (tids[i] == 0 && i > 0) tl0++;
        if (tids[i] == 2) continue; /* above the target: not forwarded */
        vp9_pkt p = vp9_nf(500 + i, tids[i], 0, tl0);
        rewritten9 r = rewrite9(&m, &p);
        assert_int_equal(r.pic, 500 + i);
        assert_int_equal(r.tl0, tl0);
    }
    picmap_resync(&m);
    tl0 = 7;
    for (int i = 0; i < 9; i++) {
        if (tids[i] == 0 && i > 0) tl0++;
        if (tids[i] == 2) continue;
        vp9_pkt p = vp9_nf(9000 + i, tids[i], 0, tl0);
        rewritten9 r = rewrite9(&m, &p);
        assert_int_equal(r.pic, 509 + i);
        assert_int_equal(r.tl0, 43 + (tl0 - 7));
    }
}

/* Retransmitted and reordered packets of recent pictures map as their picture did (or as
 * the number kept for it); older than the history, they are refused. */
static void test_vp9_late_packets(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    vp9_pkt p10 = vp9_nf(10, 0, 0, 1);
    assert_int_equal(fwd9(&m, &p10), 10);
    picmap_resync(&m);
    vp9_pkt q = vp9_nf(700, 0, 0, 90), q3 = vp9_nf(703, 0, 0, 91);
    assert_int_equal(fwd9(&m, &q), 11);
    assert_int_equal(fwd9(&m, &q3), 14);
    vp9_pkt q1 = vp9_nf(701, 2, 0, 90), q2 = vp9_nf(702, 1, 0, 90);
    rewritten9 r = rewrite9(&m, &q2);
    assert_int_equal(r.pic, 13);
    assert_int_equal(r.tl0, 2); /* TL0 group of 700, which continued after 1 */
    assert_int_equal(fwd9(&m, &q1), 12);
    assert_int_equal(fwd9(&m, &q), 11); /* a retransmission */
    for (int i = 4; i < 4 + PICMAP_HISTORY; i++) {
        vp9_pkt p = vp9_nf(700 + i, 0, 0, 91);
        assert_int_equal(fwd9(&m, &p), 11 + i);
    }
    assert_int_equal(rewrite9(&m, &q3).rc, J_ENOTFOUND);
}

static void test_vp9_7bit_ids_become_15bit(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    static const int in[] = {126, 127, 0, 1};
    for (size_t i = 0; i < 4; i++) {
        vp9_pkt p = vp9((vp9_shape){.pic = in[i], .tid = 0, .sid = 0, .tl0 = 3 + (int)i,
                                    .p_diff = NONE, .ss = i == 0});
        assert_int_equal(vp9_picmap_rewrite_len(&p.d), p.d.descriptor_len + 1);
        rewritten9 r = rewrite9(&m, &p);
        assert_int_equal(r.pic, 126 + i); /* unwrapped: 126, 127, 128, 129 */
        assert_int_equal(r.tl0, 3 + i);
    }
    /* Without room the map is left as it was. */
    vp9_pkt p = vp9((vp9_shape){.pic = 2, .tid = 0, .sid = 0, .tl0 = 7, .p_diff = NONE});
    uint8_t out[8];
    assert_int_equal(vp9_picmap_rewrite(&m, &p.d, p.buf, out, p.d.descriptor_len),
                     J_ESHORTBUF);
    assert_int_equal(fwd9(&m, &p), 130);
}

/* Flexible mode: no TL0PICIDX; the P_DIFFs (references by picture-id distance) are kept, and
 * so is the spacing they count in. */
static void test_vp9_flexible_mode(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    vp9_pkt key = vp9((vp9_shape){.pic = 60, .m15 = true, .flexible = true, .tid = 0,
                                  .sid = 0, .tl0 = NONE, .p_diff = NONE, .ss = true});
    assert_false(key.d.has_tl0picidx);
    assert_int_equal(fwd9(&m, &key), 60);
    /* 61 (T1) not forwarded; 62 (T0) refers to 60. */
    vp9_pkt p62 = vp9((vp9_shape){.pic = 62, .m15 = true, .flexible = true, .tid = 0, .sid = 0,
                                  .tl0 = NONE, .p_diff = 2});
    rewritten9 r = rewrite9(&m, &p62);
    assert_int_equal(r.pic, 62);
    assert_int_equal(r.d.p_diff_count, 1);
    assert_int_equal(r.d.p_diff[0], 2);
    /* Another source: its ids continue, its P_DIFFs still point at its own pictures. */
    picmap_resync(&m);
    vp9_pkt b = vp9((vp9_shape){.pic = 5000, .m15 = true, .flexible = true, .tid = 0, .sid = 0,
                                .tl0 = NONE, .p_diff = NONE, .ss = true});
    assert_int_equal(fwd9(&m, &b), 63);
    vp9_pkt b1 = vp9((vp9_shape){.pic = 5001, .m15 = true, .flexible = true, .tid = NONE,
                                 .tl0 = NONE, .p_diff = 1});
    r = rewrite9(&m, &b1);
    assert_int_equal(r.pic, 64);
    assert_int_equal(r.d.p_diff[0], 1);
}

/* L3T3 SVC: every packet of every spatial layer of a picture has the picture's id, and a
 * TL0PICIDX-only descriptor (no picture id) maps too. */
static void test_vp9_svc_spatial_layers_share_an_id(void **state)
{
    (void)state;
    picmap m;
    picmap_init(&m);
    vp9_pkt seed = vp9_nf(77, 0, 0, 3);
    assert_int_equal(fwd9(&m, &seed), 77);
    picmap_resync(&m); /* another source: pictures 4000.. become 78.. */
    static const int tids[] = {0, 2, 1, 2};
    for (int pic = 0; pic < 4; pic++) {
        for (int sid = 0; sid < 3; sid++) {
            for (int packet = 0; packet < 2; packet++) {
                vp9_pkt p = vp9_nf(4000 + pic, tids[pic], sid, 20);
                rewritten9 r = rewrite9(&m, &p);
                assert_int_equal(r.pic, 78 + pic);
                assert_int_equal(r.tl0, 4);
                assert_int_equal(r.d.sid, sid);
                assert_true(r.d.inter_layer == (sid > 0));
            }
        }
    }
    vp9_pkt no_id = vp9((vp9_shape){.pic = NONE, .tid = 0, .sid = 1, .tl0 = 21, .p_diff = NONE});
    rewritten9 r = rewrite9(&m, &no_id);
    assert_int_equal(r.rc, 3);
    assert_int_equal(r.tl0, 5);
    vp9_pkt bare = vp9((vp9_shape){.pic = NONE, .tid = NONE, .p_diff = NONE});
    assert_int_equal(rewrite9(&m, &bare).rc, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_source_keeps_ids_in_place),
        cmocka_unit_test(test_wraparound_15bit),
        cmocka_unit_test(test_7bit_ids_become_15bit),
        cmocka_unit_test(test_temporal_drop_compacts),
        cmocka_unit_test(test_multi_packet_pictures),
        cmocka_unit_test(test_late_packets),
        cmocka_unit_test(test_history_limit),
        cmocka_unit_test(test_switch_between_sources),
        cmocka_unit_test(test_switch_wraps),
        cmocka_unit_test(test_drop_first_after_resync),
        cmocka_unit_test(test_descriptor_shapes),
        cmocka_unit_test(test_short_buffer_changes_nothing),
        cmocka_unit_test(test_vp9_first_source_in_place),
        cmocka_unit_test(test_vp9_switch_between_encodings),
        cmocka_unit_test(test_vp9_dropped_temporal_layers_keep_spacing),
        cmocka_unit_test(test_vp9_late_packets),
        cmocka_unit_test(test_vp9_7bit_ids_become_15bit),
        cmocka_unit_test(test_vp9_flexible_mode),
        cmocka_unit_test(test_vp9_svc_spatial_layers_share_an_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
