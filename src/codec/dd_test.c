/* dd_test.c - AV1 Dependency Descriptor: an annotated vector, the spec's example structures
 * (Appendix A.6.2) written bit by bit, custom fields, state across packets, malformed inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/dd.h"
#include "codec/dd_test_support.h"
#include "core/err.h"

static void check_frame_matches(const dd_frame *f, const dd_template_spec *t, unsigned dt_count,
                                unsigned chain_count)
{
    assert_int_equal(f->spatial_id, t->s);
    assert_int_equal(f->temporal_id, t->t);
    assert_int_equal(f->decode_target_count, dt_count);
    for (unsigned dt = 0; dt < dt_count; dt++)
        assert_int_equal(f->dti[dt], dd_dti_of(t->dtis[dt]));
    assert_int_equal(f->fdiff_count, t->fdiff_count);
    for (unsigned k = 0; k < t->fdiff_count; k++) assert_int_equal(f->fdiff[k], t->fdiffs[k]);
    assert_int_equal(f->chain_count, chain_count);
    for (unsigned c = 0; c < chain_count; c++) assert_int_equal(f->chain_fdiff[c], t->chains[c]);
}

/* ---- Appendix A.6.2 example structures ------------------------------------------------ */

/* A.6.2.1 L1T3: decode targets 30, 15 and 7.5 fps, one chain over the TL0 frames. The tables
 * number the templates from 1, so the structure's template_id_offset is 1. */
static const dd_structure_spec l1t3 = {
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
static const dd_structure_spec l2t1 = {
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
    static const dd_structure_spec one = {
        .dt_count = 1, .template_count = 1, .templates = {{0, 0, 0, {0}, {0}, "S"}},
        .width = {640}, .height = {480},
    };
    dd_bit_writer w;
    memset(&w, 0, sizeof w);
    dd_put_keyframe(&w, &one, 0, 1);
    assert_int_equal(dd_bytes_of(&w), sizeof vec);
    assert_memory_equal(w.buf, vec, sizeof vec);
}

static void test_l1t3_structure_and_frames(void **state)
{
    (void)state;
    dd_structure st;
    dd_structure_init(&st);
    dd_bit_writer w;
    memset(&w, 0, sizeof w);
    dd_put_keyframe(&w, &l1t3, 1, 100);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), 0);
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
        dd_put_mandatory(&w, true, i % 2 == 0, ids[i], 101 + (unsigned)i);
        assert_int_equal(dd_bytes_of(&w), 3);
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
    dd_bit_writer w;
    memset(&w, 0, sizeof w);
    dd_put_keyframe(&w, &l2t1, 1, 65535);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), 0);
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
        dd_put_mandatory(&w, true, true, id, id - 1);
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
    dd_bit_writer w;
    memset(&w, 0, sizeof w);
    dd_put_keyframe(&w, &l2t1, 1, 7);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), 0);

    memset(&w, 0, sizeof w);
    dd_put_mandatory(&w, false, true, 5, 9);
    dd_put(&w, 0, 2);          /* no structure, no active decode targets */
    dd_put(&w, 7, 3);          /* custom dtis, fdiffs, chains */
    dd_put(&w, DD_DTI_DISCARDABLE, 2);
    dd_put(&w, DD_DTI_REQUIRED, 2);
    dd_put(&w, 1, 2), dd_put(&w, 15, 4);    /* fdiff 16 */
    dd_put(&w, 2, 2), dd_put(&w, 199, 8);   /* fdiff 200 */
    dd_put(&w, 3, 2), dd_put(&w, 4095, 12); /* fdiff 4096 */
    dd_put(&w, 0, 2);
    dd_put(&w, 0, 8), dd_put(&w, 255, 8);   /* chains */
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), 0);
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
    dd_put_mandatory(&w, true, true, 5, 10);
    assert_int_equal(dd_parse(&f, &st, w.buf, 3), 0);
    check_frame_matches(&f, &l2t1.templates[4], 2, 2);
}

static void test_active_decode_targets(void **state)
{
    (void)state;
    dd_structure st;
    dd_structure_init(&st);
    /* Keyframe with the structure and only decode target 2 (7.5 fps) active. */
    dd_bit_writer w;
    memset(&w, 0, sizeof w);
    dd_put_mandatory(&w, true, true, 1, 0);
    dd_put(&w, 1, 1), dd_put(&w, 1, 1), dd_put(&w, 0, 3);
    dd_put_structure(&w, &l1t3);
    dd_put(&w, 4, 3);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), 0);
    assert_true(f.has_active_decode_targets);
    assert_int_equal(f.active_decode_targets, 4);
    assert_int_equal(st.active_decode_targets, 4);
    assert_int_equal(dd_decode_target_for(&st, 0, 2), 2);

    /* Later frames keep the mask; one carrying a new mask updates it. */
    memset(&w, 0, sizeof w);
    dd_put_mandatory(&w, true, true, 2, 1);
    assert_int_equal(dd_parse(&f, &st, w.buf, 3), 0);
    assert_int_equal(f.active_decode_targets, 4);
    memset(&w, 0, sizeof w);
    dd_put_mandatory(&w, true, true, 2, 2);
    dd_put(&w, 0, 1), dd_put(&w, 1, 1), dd_put(&w, 0, 3);
    dd_put(&w, 7, 3);
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), 0);
    assert_int_equal(st.active_decode_targets, 7);
    assert_int_equal(dd_decode_target_for(&st, 0, 2), 0);
    /* A new structure makes every decode target active again. */
    st.active_decode_targets = 1;
    memset(&w, 0, sizeof w);
    dd_put_keyframe(&w, &l1t3, 1, 3);
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), 0);
    assert_int_equal(st.active_decode_targets, 7);
}

/* Template ids wrap modulo 64 from template_id_offset. */
static void test_template_id_offset_wraps(void **state)
{
    (void)state;
    dd_structure_spec s = l1t3;
    s.offset = 62;
    dd_structure st;
    dd_structure_init(&st);
    dd_bit_writer w;
    memset(&w, 0, sizeof w);
    dd_put_keyframe(&w, &s, 62, 0);
    dd_frame f;
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), 0);
    static const struct {
        unsigned id;
        int rc;
        unsigned index;
    } cases[] = {{62, 0, 0}, {63, 0, 1}, {0, 0, 2}, {2, 0, 4}, {3, J_ENOTFOUND, 0},
                 {61, J_ENOTFOUND, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&w, 0, sizeof w);
        dd_put_mandatory(&w, true, true, cases[i].id, 1);
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
    dd_bit_writer w;
    memset(&w, 0, sizeof w);
    dd_put_keyframe(&w, &l2t1, 1, 0);
    size_t n = dd_bytes_of(&w) + 4;
    memset(w.buf + dd_bytes_of(&w), 0xff, 4);
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

    dd_bit_writer w;
    memset(&w, 0, sizeof w);
    dd_put_keyframe(&w, &l1t3, 1, 0);
    size_t full = dd_bytes_of(&w);
    assert_int_equal(dd_parse(&f, &st, w.buf, full), 0);
    dd_structure saved = st;
    /* Every truncation of a structure-carrying descriptor is short, and changes nothing. */
    dd_bit_writer other;
    memset(&other, 0, sizeof other);
    dd_put_keyframe(&other, &l2t1, 1, 0);
    for (size_t n = 4; n < dd_bytes_of(&other); n++) {
        assert_int_equal(dd_parse(&f, &st, other.buf, n), J_ESHORT);
        assert_memory_equal(&st, &saved, sizeof st);
    }
    /* Custom fields cut short. */
    memset(&w, 0, sizeof w);
    dd_put_mandatory(&w, true, true, 1, 1);
    dd_put(&w, 0, 2), dd_put(&w, 1, 1), dd_put(&w, 0, 2); /* custom dtis: needs 6 more bits */
    assert_int_equal(dd_parse(&f, &st, w.buf, 4), J_ESHORT);
    memset(&w, 0, sizeof w);
    dd_put_mandatory(&w, true, true, 1, 1);
    dd_put(&w, 0, 4), dd_put(&w, 1, 1), dd_put(&w, 1, 1); /* one chain: 8 bits needed */
    assert_int_equal(dd_parse(&f, &st, w.buf, 4), J_ESHORT);
    assert_memory_equal(&st, &saved, sizeof st);
}

typedef enum { TOO_MANY_TEMPLATES, SPATIAL_4, TEMPORAL_8, TEMPLATE_FDIFFS_9 } bad_structure;

static size_t build_bad_structure(dd_bit_writer *w, bad_structure kind)
{
    memset(w, 0, sizeof *w);
    dd_put_mandatory(w, true, true, 0, 0);
    dd_put(w, 1, 1), dd_put(w, 0, 4);
    dd_put(w, 0, 6); /* template_id_offset */
    dd_put(w, 0, 5); /* one decode target */
    unsigned templates = 1;
    switch (kind) {
    case TOO_MANY_TEMPLATES:
        for (unsigned i = 0; i < 64; i++) dd_put(w, 0, 2);
        templates = 65;
        break;
    case SPATIAL_4:
        for (unsigned i = 0; i < 4; i++) dd_put(w, 2, 2);
        templates = 5;
        break;
    case TEMPORAL_8:
        for (unsigned i = 0; i < 8; i++) dd_put(w, 1, 2);
        templates = 9;
        break;
    case TEMPLATE_FDIFFS_9:
        break;
    }
    dd_put(w, 3, 2);
    for (unsigned i = 0; i < templates; i++) dd_put(w, DD_DTI_SWITCH, 2);
    for (unsigned i = 0; i < (kind == TEMPLATE_FDIFFS_9 ? 9u : 0u); i++)
        dd_put(w, 1, 1), dd_put(w, 0, 4);
    for (unsigned i = 0; i < templates; i++) dd_put(w, 0, 1);
    dd_put(w, 0, 1); /* no chains */
    dd_put(w, 0, 1); /* no resolutions */
    return dd_bytes_of(w);
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
        dd_bit_writer w;
        size_t n = build_bad_structure(&w, cases[i].kind);
        assert_int_equal(dd_parse(&f, &st, w.buf, n), cases[i].rc);
        assert_false(st.valid);
    }

    /* 64 templates and spatial id 3 / temporal id 7 are the limits, and fine. */
    dd_bit_writer w;
    memset(&w, 0, sizeof w);
    dd_put_mandatory(&w, true, true, 63, 0);
    dd_put(&w, 1, 1), dd_put(&w, 0, 4);
    dd_put(&w, 0, 6), dd_put(&w, 0, 5);
    for (unsigned i = 0; i < 63; i++) dd_put(&w, i < 3 ? 2 : i < 10 ? 1 : 0, 2);
    dd_put(&w, 3, 2);
    for (unsigned i = 0; i < 64; i++) dd_put(&w, DD_DTI_SWITCH, 2);
    for (unsigned i = 0; i < 64; i++) dd_put(&w, 0, 1);
    dd_put(&w, 0, 1), dd_put(&w, 0, 1);
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), 0);
    assert_int_equal(st.template_count, 64);
    assert_int_equal(st.max_spatial_id, 3);
    assert_int_equal(st.max_temporal_id, 7);
    assert_int_equal(f.spatial_id, 3);
    assert_int_equal(f.temporal_id, 7);

    /* A frame with nine custom frame differences. */
    memset(&w, 0, sizeof w);
    dd_put_mandatory(&w, true, true, 0, 1);
    dd_put(&w, 0, 3), dd_put(&w, 1, 1), dd_put(&w, 0, 1);
    for (unsigned i = 0; i < 9; i++) dd_put(&w, 1, 2), dd_put(&w, 0, 4);
    dd_put(&w, 0, 2);
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), J_EUNSUPPORTED);
    /* Eight are fine. */
    memset(&w, 0, sizeof w);
    dd_put_mandatory(&w, true, true, 0, 1);
    dd_put(&w, 0, 3), dd_put(&w, 1, 1), dd_put(&w, 0, 1);
    for (unsigned i = 0; i < 8; i++) dd_put(&w, 1, 2), dd_put(&w, i, 4);
    dd_put(&w, 0, 2);
    assert_int_equal(dd_parse(&f, &st, w.buf, dd_bytes_of(&w)), 0);
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
