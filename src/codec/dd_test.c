/* dd_test.c - AV1 Dependency Descriptor: an annotated vector, the spec's example structures
 * (Appendix A.6.2) written bit by bit, custom fields, state across packets, malformed inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/dd.h"
#include "core/err.h"

/* ---- a bit writer for building descriptors ------------------------------------------- */

typedef struct {
    uint8_t buf[512];
    size_t bits;
} bit_writer;

static void put(bit_writer *w, uint32_t v, unsigned n)
{
    for (unsigned i = n; i-- > 0; w->bits++) {
        assert_true(w->bits < sizeof w->buf * 8);
        if ((v >> i) & 1u) w->buf[w->bits >> 3] |= (uint8_t)(0x80u >> (w->bits & 7));
    }
}

/* ns(n) encoding of v < n (the inverse of the spec's ns(n) reader). */
static void put_ns(bit_writer *w, uint32_t n, uint32_t v)
{
    unsigned width = 0;
    for (uint32_t x = n; x != 0; x >>= 1) width++;
    uint32_t m = (1u << width) - n;
    if (v < m) {
        put(w, v, width - 1);
    } else {
        put(w, (v + m) >> 1, width - 1);
        put(w, (v + m) & 1u, 1);
    }
}

static size_t bytes_of(const bit_writer *w) { return (w->bits + 7) / 8; }

static void put_mandatory(bit_writer *w, bool sof, bool eof, unsigned template_id,
                          unsigned frame_number)
{
    put(w, sof, 1);
    put(w, eof, 1);
    put(w, template_id, 6);
    put(w, frame_number, 16);
}

/* A template as the spec's tables write it: S, T, fdiffs, chain fdiffs, DTIs ("SSD-"). */
typedef struct {
    unsigned s, t;
    unsigned fdiff_count;
    unsigned fdiffs[4];
    unsigned chains[4];
    const char *dtis;
} tmpl;

typedef struct {
    unsigned offset;
    unsigned dt_count;
    unsigned chain_count;
    unsigned protected_by[8];
    unsigned template_count;
    tmpl templates[8];
    unsigned width[4], height[4]; /* 0: no resolutions */
} structure_spec;

static unsigned dti_value(char c)
{
    switch (c) {
    case 'D': return DD_DTI_DISCARDABLE;
    case 'S': return DD_DTI_SWITCH;
    case 'R': return DD_DTI_REQUIRED;
    default: return DD_DTI_NOT_PRESENT;
    }
}

static void put_structure(bit_writer *w, const structure_spec *s)
{
    put(w, s->offset, 6);
    put(w, s->dt_count - 1, 5);
    for (unsigned i = 0; i < s->template_count; i++) {
        unsigned idc = 3;
        if (i + 1 < s->template_count) {
            const tmpl *a = &s->templates[i], *b = &s->templates[i + 1];
            idc = b->s == a->s && b->t == a->t ? 0 : b->s == a->s ? 1 : 2;
        }
        put(w, idc, 2);
    }
    for (unsigned i = 0; i < s->template_count; i++)
        for (unsigned dt = 0; dt < s->dt_count; dt++) put(w, dti_value(s->templates[i].dtis[dt]), 2);
    for (unsigned i = 0; i < s->template_count; i++) {
        for (unsigned k = 0; k < s->templates[i].fdiff_count; k++) {
            put(w, 1, 1);
            put(w, s->templates[i].fdiffs[k] - 1, 4);
        }
        put(w, 0, 1);
    }
    put_ns(w, s->dt_count + 1, s->chain_count);
    if (s->chain_count) {
        for (unsigned dt = 0; dt < s->dt_count; dt++) put_ns(w, s->chain_count, s->protected_by[dt]);
        for (unsigned i = 0; i < s->template_count; i++)
            for (unsigned c = 0; c < s->chain_count; c++) put(w, s->templates[i].chains[c], 4);
    }
    put(w, s->width[0] != 0, 1);
    if (s->width[0]) {
        unsigned max_s = s->templates[s->template_count - 1].s;
        for (unsigned i = 0; i <= max_s; i++) {
            put(w, s->width[i] - 1, 16);
            put(w, s->height[i] - 1, 16);
        }
    }
}

/* A keyframe's descriptor: mandatory fields, the extended flags, the structure. */
static void put_keyframe(bit_writer *w, const structure_spec *s, unsigned template_id,
                         unsigned frame_number)
{
    put_mandatory(w, true, true, template_id, frame_number);
    put(w, 1, 1); /* template_dependency_structure_present_flag */
    put(w, 0, 4); /* active decode targets, custom dtis / fdiffs / chains */
    put_structure(w, s);
}

static void check_frame_matches(const dd_frame *f, const tmpl *t, unsigned dt_count,
                                unsigned chain_count)
{
    assert_int_equal(f->spatial_id, t->s);
    assert_int_equal(f->temporal_id, t->t);
    assert_int_equal(f->decode_target_count, dt_count);
    for (unsigned dt = 0; dt < dt_count; dt++) assert_int_equal(f->dti[dt], dti_value(t->dtis[dt]));
    assert_int_equal(f->fdiff_count, t->fdiff_count);
    for (unsigned k = 0; k < t->fdiff_count; k++) assert_int_equal(f->fdiff[k], t->fdiffs[k]);
    assert_int_equal(f->chain_count, chain_count);
    for (unsigned c = 0; c < chain_count; c++) assert_int_equal(f->chain_fdiff[c], t->chains[c]);
}

/* ---- Appendix A.6.2 example structures ------------------------------------------------ */

/* A.6.2.1 L1T3: decode targets 30, 15 and 7.5 fps, one chain over the TL0 frames. The tables
 * number the templates from 1, so the structure's template_id_offset is 1. */
static const structure_spec l1t3 = {
    .offset = 1, .dt_count = 3, .chain_count = 1, .protected_by = {0, 0, 0},
    .template_count = 5,
    .templates = {
        {0, 0, 0, {0}, {0}, "SSS"},
        {0, 0, 1, {4}, {4}, "SSS"},
        {0, 1, 1, {2}, {2}, "SD-"},
        {0, 2, 1, {1}, {1}, "D--"},
        {0, 2, 1, {1}, {3}, "D--"},
    },
};

/* A.6.2.2 L2T1: decode targets HD and VGA; chain 0 over spatial layer 0, chain 1 over all. */
static const structure_spec l2t1 = {
    .offset = 1, .dt_count = 2, .chain_count = 2, .protected_by = {1, 0},
    .template_count = 5,
    .templates = {
        {0, 0, 0, {0}, {0, 0}, "SS"},
        {0, 0, 1, {2}, {2, 1}, "RS"},
        {0, 0, 1, {2}, {2, 1}, "SS"},
        {1, 0, 1, {1}, {1, 1}, "S-"},
        {1, 0, 2, {2, 1}, {1, 1}, "R-"},
    },
    .width = {640, 1280}, .height = {360, 720},
};

/* ---- tests --------------------------------------------------------------------------- */

/* The smallest structure, written out by hand: one template (S0 T0), one decode target, no
 * chains, a 640x480 render size. */
static void test_annotated_vector(void **state)
{
    (void)state;
    static const uint8_t vec[] = {
        /* 1 1 000000 | frame_number 0x0001 */
        0xc0, 0x00, 0x01,
        /* 1 (structure present) 0 (active decode targets) 000 (custom dtis, fdiffs, chains)
         * 000 | 000 (template_id_offset 0) 00000 (dtis_cnt_minus_one: one decode target) */
        0x80, 0x00,
        /* 11 (next_layer_idc: last template) 10 (dti: switch) 0 (no fdiff) 0 (chains_cnt
         * ns(2) = 0, one bit) 1 (resolutions present) 0 (first bit of width-1 = 639) */
        0xe2,
        /* 0000 0100 (639 continued) */
        0x04,
        /* 1111 111 (639 ends) 0 (first bit of height-1 = 479) */
        0xfe,
        /* 0000 0011 (479 continued) */
        0x03,
        /* 1011 111 (479 ends) 0 (zero padding) */
        0xbe,
    };
    dd_structure st;
    dd_structure_init(&st);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, vec, sizeof vec), 0);
    assert_true(f.start_of_frame);
    assert_true(f.end_of_frame);
    assert_int_equal(f.template_id, 0);
    assert_int_equal(f.frame_number, 1);
    assert_true(f.has_structure);
    assert_true(st.valid);
    assert_int_equal(st.template_count, 1);
    assert_int_equal(st.decode_target_count, 1);
    assert_int_equal(st.chain_count, 0);
    assert_int_equal(f.dti[0], DD_DTI_SWITCH);
    assert_int_equal(f.fdiff_count, 0);
    assert_true(f.has_resolution);
    assert_int_equal(f.width, 640);
    assert_int_equal(f.height, 480);
    assert_int_equal(f.active_decode_targets, 1);

    /* The same built by the test's writer, as a check on the writer itself. */
    static const structure_spec one = {
        .dt_count = 1, .template_count = 1, .templates = {{0, 0, 0, {0}, {0}, "S"}},
        .width = {640}, .height = {480},
    };
    bit_writer w;
    memset(&w, 0, sizeof w);
    put_keyframe(&w, &one, 0, 1);
    assert_int_equal(bytes_of(&w), sizeof vec);
    assert_memory_equal(w.buf, vec, sizeof vec);
}

static void test_l1t3_structure_and_frames(void **state)
{
    (void)state;
    dd_structure st;
    dd_structure_init(&st);
    bit_writer w;
    memset(&w, 0, sizeof w);
    put_keyframe(&w, &l1t3, 1, 100);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), 0);
    assert_int_equal(st.template_id_offset, 1);
    assert_int_equal(st.template_count, 5);
    assert_int_equal(st.max_spatial_id, 0);
    assert_int_equal(st.max_temporal_id, 2);
    assert_int_equal(st.chain_count, 1);
    assert_false(st.has_resolutions);
    check_frame_matches(&f, &l1t3.templates[0], 3, 1);
    assert_int_equal(f.active_decode_targets, 7);
    /* What each decode target carries: 30 fps all three layers, 15 fps two, 7.5 fps one. */
    assert_int_equal(st.decode_target_temporal[0], 2);
    assert_int_equal(st.decode_target_temporal[1], 1);
    assert_int_equal(st.decode_target_temporal[2], 0);
    assert_int_equal(dd_decode_target_for(&st, 0, 2), 0);
    assert_int_equal(dd_decode_target_for(&st, 0, 1), 1);
    assert_int_equal(dd_decode_target_for(&st, 3, 0), 2);

    /* The following frames carry only the three mandatory bytes. */
    static const unsigned ids[] = {4, 3, 5, 2, 4, 3, 5};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        memset(&w, 0, sizeof w);
        put_mandatory(&w, true, i % 2 == 0, ids[i], 101 + (unsigned)i);
        assert_int_equal(bytes_of(&w), 3);
        assert_int_equal(dd_parse(&f, &st, w.buf, 3), 0);
        assert_false(f.has_structure);
        assert_int_equal(f.frame_number, 101 + i);
        assert_int_equal(f.end_of_frame, i % 2 == 0);
        check_frame_matches(&f, &l1t3.templates[ids[i] - 1], 3, 1);
    }
}

static void test_l2t1_chains_and_resolutions(void **state)
{
    (void)state;
    dd_structure st;
    dd_structure_init(&st);
    bit_writer w;
    memset(&w, 0, sizeof w);
    put_keyframe(&w, &l2t1, 1, 65535);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), 0);
    assert_int_equal(f.frame_number, 65535);
    assert_int_equal(st.max_spatial_id, 1);
    assert_int_equal(st.chain_count, 2);
    assert_int_equal(st.decode_target_protected_by[0], 1);
    assert_int_equal(st.decode_target_protected_by[1], 0);
    assert_int_equal(st.decode_target_spatial[0], 1);
    assert_int_equal(st.decode_target_spatial[1], 0);
    assert_int_equal(dd_decode_target_for(&st, 1, 0), 0);
    assert_int_equal(dd_decode_target_for(&st, 0, 7), 1);
    check_frame_matches(&f, &l2t1.templates[0], 2, 2);
    assert_int_equal(f.width, 640);

    for (unsigned id = 1; id <= 5; id++) {
        memset(&w, 0, sizeof w);
        put_mandatory(&w, true, true, id, id - 1);
        assert_int_equal(dd_parse(&f, &st, w.buf, 3), 0);
        check_frame_matches(&f, &l2t1.templates[id - 1], 2, 2);
        assert_int_equal(f.width, f.spatial_id ? 1280 : 640);
        assert_int_equal(f.height, f.spatial_id ? 720 : 360);
    }
}

/* Custom DTIs, frame differences of one to three nibbles, 8-bit chain differences. */
static void test_custom_fields(void **state)
{
    (void)state;
    dd_structure st;
    dd_structure_init(&st);
    bit_writer w;
    memset(&w, 0, sizeof w);
    put_keyframe(&w, &l2t1, 1, 7);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), 0);

    memset(&w, 0, sizeof w);
    put_mandatory(&w, false, true, 5, 9);
    put(&w, 0, 2);          /* no structure, no active decode targets */
    put(&w, 7, 3);          /* custom dtis, fdiffs, chains */
    put(&w, DD_DTI_DISCARDABLE, 2);
    put(&w, DD_DTI_REQUIRED, 2);
    put(&w, 1, 2), put(&w, 15, 4);    /* fdiff 16 */
    put(&w, 2, 2), put(&w, 199, 8);   /* fdiff 200 */
    put(&w, 3, 2), put(&w, 4095, 12); /* fdiff 4096 */
    put(&w, 0, 2);
    put(&w, 0, 8), put(&w, 255, 8);   /* chains */
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), 0);
    assert_false(f.start_of_frame);
    assert_true(f.custom_dtis && f.custom_fdiffs && f.custom_chains);
    assert_int_equal(f.spatial_id, 1);
    assert_int_equal(f.dti[0], DD_DTI_DISCARDABLE);
    assert_int_equal(f.dti[1], DD_DTI_REQUIRED);
    assert_int_equal(f.fdiff_count, 3);
    assert_int_equal(f.fdiff[0], 16);
    assert_int_equal(f.fdiff[1], 200);
    assert_int_equal(f.fdiff[2], 4096);
    assert_int_equal(f.chain_fdiff[0], 0);
    assert_int_equal(f.chain_fdiff[1], 255);
    /* Custom fields are the frame's own: the template is untouched. */
    memset(&w, 0, sizeof w);
    put_mandatory(&w, true, true, 5, 10);
    assert_int_equal(dd_parse(&f, &st, w.buf, 3), 0);
    check_frame_matches(&f, &l2t1.templates[4], 2, 2);
}

static void test_active_decode_targets(void **state)
{
    (void)state;
    dd_structure st;
    dd_structure_init(&st);
    /* Keyframe with the structure and only decode target 2 (7.5 fps) active. */
    bit_writer w;
    memset(&w, 0, sizeof w);
    put_mandatory(&w, true, true, 1, 0);
    put(&w, 1, 1), put(&w, 1, 1), put(&w, 0, 3);
    put_structure(&w, &l1t3);
    put(&w, 4, 3);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), 0);
    assert_true(f.has_active_decode_targets);
    assert_int_equal(f.active_decode_targets, 4);
    assert_int_equal(st.active_decode_targets, 4);
    assert_int_equal(dd_decode_target_for(&st, 0, 2), 2);

    /* Later frames keep the mask; one carrying a new mask updates it. */
    memset(&w, 0, sizeof w);
    put_mandatory(&w, true, true, 2, 1);
    assert_int_equal(dd_parse(&f, &st, w.buf, 3), 0);
    assert_int_equal(f.active_decode_targets, 4);
    memset(&w, 0, sizeof w);
    put_mandatory(&w, true, true, 2, 2);
    put(&w, 0, 1), put(&w, 1, 1), put(&w, 0, 3);
    put(&w, 7, 3);
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), 0);
    assert_int_equal(st.active_decode_targets, 7);
    assert_int_equal(dd_decode_target_for(&st, 0, 2), 0);
    /* A new structure makes every decode target active again. */
    st.active_decode_targets = 1;
    memset(&w, 0, sizeof w);
    put_keyframe(&w, &l1t3, 1, 3);
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), 0);
    assert_int_equal(st.active_decode_targets, 7);
}

/* Template ids wrap modulo 64 from template_id_offset. */
static void test_template_id_offset_wraps(void **state)
{
    (void)state;
    structure_spec s = l1t3;
    s.offset = 62;
    dd_structure st;
    dd_structure_init(&st);
    bit_writer w;
    memset(&w, 0, sizeof w);
    put_keyframe(&w, &s, 62, 0);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), 0);
    static const struct {
        unsigned id;
        int rc;
        unsigned index;
    } cases[] = {{62, 0, 0}, {63, 0, 1}, {0, 0, 2}, {2, 0, 4}, {3, J_ENOTFOUND, 0},
                 {61, J_ENOTFOUND, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&w, 0, sizeof w);
        put_mandatory(&w, true, true, cases[i].id, 1);
        assert_int_equal(dd_parse(&f, &st, w.buf, 3), cases[i].rc);
        if (cases[i].rc == 0) check_frame_matches(&f, &s.templates[cases[i].index], 3, 1);
    }
}

/* Padding after the fields is ignored, whatever its bits. */
static void test_padding_ignored(void **state)
{
    (void)state;
    dd_structure st;
    dd_structure_init(&st);
    bit_writer w;
    memset(&w, 0, sizeof w);
    put_keyframe(&w, &l2t1, 1, 0);
    size_t n = bytes_of(&w) + 4;
    memset(w.buf + bytes_of(&w), 0xff, 4);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, n), 0);
    assert_int_equal(st.template_count, 5);
}

/* Errors leave the structure in force as it was. */
static void test_errors_keep_state(void **state)
{
    (void)state;
    dd_structure st;
    dd_structure_init(&st);
    dd_frame f;
    static const uint8_t mandatory[] = {0x80, 0x00, 0x05};
    assert_int_equal(dd_parse(&f, &st, mandatory, sizeof mandatory), J_ESTATE);
    /* Active decode targets without any structure to size them. */
    static const uint8_t active_only[] = {0x80, 0x00, 0x05, 0x40};
    assert_int_equal(dd_parse(&f, &st, active_only, sizeof active_only), J_ESTATE);

    bit_writer w;
    memset(&w, 0, sizeof w);
    put_keyframe(&w, &l1t3, 1, 0);
    size_t full = bytes_of(&w);
    assert_int_equal(dd_parse(&f, &st, w.buf, full), 0);
    dd_structure saved = st;
    /* Every truncation of a structure-carrying descriptor is short, and changes nothing. */
    bit_writer other;
    memset(&other, 0, sizeof other);
    put_keyframe(&other, &l2t1, 1, 0);
    for (size_t n = 4; n < bytes_of(&other); n++) {
        assert_int_equal(dd_parse(&f, &st, other.buf, n), J_ESHORT);
        assert_memory_equal(&st, &saved, sizeof st);
    }
    /* Custom fields cut short. */
    memset(&w, 0, sizeof w);
    put_mandatory(&w, true, true, 1, 1);
    put(&w, 0, 2), put(&w, 1, 1), put(&w, 0, 2); /* custom dtis: needs 6 more bits */
    assert_int_equal(dd_parse(&f, &st, w.buf, 4), J_ESHORT);
    memset(&w, 0, sizeof w);
    put_mandatory(&w, true, true, 1, 1);
    put(&w, 0, 4), put(&w, 1, 1), put(&w, 1, 1); /* one chain: 8 bits needed */
    assert_int_equal(dd_parse(&f, &st, w.buf, 4), J_ESHORT);
    assert_memory_equal(&st, &saved, sizeof st);
}

typedef enum { TOO_MANY_TEMPLATES, SPATIAL_4, TEMPORAL_8, TEMPLATE_FDIFFS_9 } bad_structure;

static size_t build_bad_structure(bit_writer *w, bad_structure kind)
{
    memset(w, 0, sizeof *w);
    put_mandatory(w, true, true, 0, 0);
    put(w, 1, 1), put(w, 0, 4);
    put(w, 0, 6); /* template_id_offset */
    put(w, 0, 5); /* one decode target */
    unsigned templates = 1;
    switch (kind) {
    case TOO_MANY_TEMPLATES:
        for (unsigned i = 0; i < 64; i++) put(w, 0, 2);
        templates = 65;
        break;
    case SPATIAL_4:
        for (unsigned i = 0; i < 4; i++) put(w, 2, 2);
        templates = 5;
        break;
    case TEMPORAL_8:
        for (unsigned i = 0; i < 8; i++) put(w, 1, 2);
        templates = 9;
        break;
    case TEMPLATE_FDIFFS_9:
        break;
    }
    put(w, 3, 2);
    for (unsigned i = 0; i < templates; i++) put(w, DD_DTI_SWITCH, 2);
    for (unsigned i = 0; i < (kind == TEMPLATE_FDIFFS_9 ? 9u : 0u); i++) put(w, 1, 1), put(w, 0, 4);
    for (unsigned i = 0; i < templates; i++) put(w, 0, 1);
    put(w, 0, 1); /* no chains */
    put(w, 0, 1); /* no resolutions */
    return bytes_of(w);
}

static void test_malformed_table(void **state)
{
    (void)state;
    dd_structure st;
    dd_structure_init(&st);
    dd_frame f;
    static const uint8_t two[] = {0x80, 0x00};
    assert_int_equal(dd_parse(&f, &st, two, 0), J_ESHORT);
    assert_int_equal(dd_parse(&f, &st, two, 1), J_ESHORT);
    assert_int_equal(dd_parse(&f, &st, two, 2), J_ESHORT);

    static const struct {
        bad_structure kind;
        int rc;
    } cases[] = {
        {TOO_MANY_TEMPLATES, J_EMALFORMED},
        {SPATIAL_4, J_EMALFORMED},
        {TEMPORAL_8, J_EMALFORMED},
        {TEMPLATE_FDIFFS_9, J_EUNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bit_writer w;
        size_t n = build_bad_structure(&w, cases[i].kind);
        assert_int_equal(dd_parse(&f, &st, w.buf, n), cases[i].rc);
        assert_false(st.valid);
    }

    /* 64 templates and spatial id 3 / temporal id 7 are the limits, and fine. */
    bit_writer w;
    memset(&w, 0, sizeof w);
    put_mandatory(&w, true, true, 63, 0);
    put(&w, 1, 1), put(&w, 0, 4);
    put(&w, 0, 6), put(&w, 0, 5);
    for (unsigned i = 0; i < 63; i++) put(&w, i < 3 ? 2 : i < 10 ? 1 : 0, 2);
    put(&w, 3, 2);
    for (unsigned i = 0; i < 64; i++) put(&w, DD_DTI_SWITCH, 2);
    for (unsigned i = 0; i < 64; i++) put(&w, 0, 1);
    put(&w, 0, 1), put(&w, 0, 1);
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), 0);
    assert_int_equal(st.template_count, 64);
    assert_int_equal(st.max_spatial_id, 3);
    assert_int_equal(st.max_temporal_id, 7);
    assert_int_equal(f.spatial_id, 3);
    assert_int_equal(f.temporal_id, 7);

    /* A frame with nine custom frame differences. */
    memset(&w, 0, sizeof w);
    put_mandatory(&w, true, true, 0, 1);
    put(&w, 0, 3), put(&w, 1, 1), put(&w, 0, 1);
    for (unsigned i = 0; i < 9; i++) put(&w, 1, 2), put(&w, 0, 4);
    put(&w, 0, 2);
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), J_EUNSUPPORTED);
    /* Eight are fine. */
    memset(&w, 0, sizeof w);
    put_mandatory(&w, true, true, 0, 1);
    put(&w, 0, 3), put(&w, 1, 1), put(&w, 0, 1);
    for (unsigned i = 0; i < 8; i++) put(&w, 1, 2), put(&w, i, 4);
    put(&w, 0, 2);
    assert_int_equal(dd_parse(&f, &st, w.buf, bytes_of(&w)), 0);
    assert_int_equal(f.fdiff_count, 8);
    assert_int_equal(f.fdiff[7], 8);

    dd_structure none;
    dd_structure_init(&none);
    assert_int_equal(dd_decode_target_for(&none, 3, 7), J_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_annotated_vector),
        cmocka_unit_test(test_l1t3_structure_and_frames),
        cmocka_unit_test(test_l2t1_chains_and_resolutions),
        cmocka_unit_test(test_custom_fields),
        cmocka_unit_test(test_active_decode_targets),
        cmocka_unit_test(test_template_id_offset_wraps),
        cmocka_unit_test(test_padding_ignored),
        cmocka_unit_test(test_errors_keep_state),
        cmocka_unit_test(test_malformed_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
