/* seqmap_test.c - continuity across source switches and wraparound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"
#include "sfu/seqmap.h"

static void test_first_packet_starts_at_base(void **state)
{
    (void)state;
    sfu_seqmap m;
    sfu_seqmap_init(&m, 1000, 5000);
    uint16_t seq;
    uint32_t ts;
    sfu_seqmap_map(&m, 40000, 123456, 90000, 1000000, &seq, &ts);
    assert_int_equal(seq, 1000);
    assert_int_equal(ts, 5001);
    sfu_seqmap_map(&m, 40001, 123456 + 3000, 90000, 1033000, &seq, &ts);
    assert_int_equal(seq, 1001);
    assert_int_equal(ts, 5001 + 3000);
}

static void test_wraparound_and_reordering(void **state)
{
    (void)state;
    sfu_seqmap m;
    sfu_seqmap_init(&m, 65534, 0xFFFFFFF0u);
    uint16_t seq;
    uint32_t ts;
    sfu_seqmap_map(&m, 10, 100, 48000, 0, &seq, &ts);
    assert_int_equal(seq, 65534);
    sfu_seqmap_map(&m, 12, 1060, 48000, 20000, &seq, &ts);
    assert_int_equal(seq, 0); /* 65534 + 2 wraps */
    assert_int_equal(ts, (uint32_t)(0xFFFFFFF0u + 1 + 960));
    sfu_seqmap_map(&m, 11, 580, 48000, 21000, &seq, &ts); /* late packet */
    assert_int_equal(seq, 65535);
    assert_int_equal(m.max_out_seq, 0); /* the late packet is not the newest */
}

static void test_resync_continues_after_last_output(void **state)
{
    (void)state;
    sfu_seqmap m;
    sfu_seqmap_init(&m, 100, 1000);
    uint16_t seq;
    uint32_t ts;
    sfu_seqmap_map(&m, 5000, 90000, 90000, 1000000, &seq, &ts);
    sfu_seqmap_map(&m, 5001, 93000, 90000, 1033000, &seq, &ts);
    assert_int_equal(seq, 101);
    uint32_t last_ts = ts;
    /* Publisher reconnects 500 ms later with unrelated numbering. */
    sfu_seqmap_resync(&m);
    sfu_seqmap_map(&m, 7, 424242, 90000, 1533000, &seq, &ts);
    assert_int_equal(seq, 102);
    assert_int_equal(ts, last_ts + 45000); /* 0.5 s at 90 kHz */
    sfu_seqmap_map(&m, 8, 424242 + 3000, 90000, 1566000, &seq, &ts);
    assert_int_equal(seq, 103);
    assert_int_equal(ts, last_ts + 48000);
}

static void test_unmap_inverts_the_current_mapping_across_the_wrap(void **state)
{
    (void)state;
    sfu_seqmap m;
    sfu_seqmap_init(&m, 65533, 0);
    uint16_t in;
    assert_int_equal(sfu_seqmap_unmap(&m, 65533, &in), J_ENOTFOUND); /* nothing mapped yet */
    uint16_t seq;
    uint32_t ts;
    for (uint16_t i = 0; i < 5; i++) sfu_seqmap_map(&m, (uint16_t)(300 + i), 0, 90000, i, &seq, &ts);
    assert_int_equal(seq, 1); /* 65533, 65534, 65535, 0, 1 */
    assert_int_equal(sfu_seqmap_unmap(&m, 65533, &in), J_OK);
    assert_int_equal(in, 300);
    assert_int_equal(sfu_seqmap_unmap(&m, 0, &in), J_OK);
    assert_int_equal(in, 303);
    assert_int_equal(sfu_seqmap_unmap(&m, 1, &in), J_OK);
    assert_int_equal(in, 304);
    assert_int_equal(sfu_seqmap_unmap(&m, 2, &in), J_ENOTFOUND);     /* not sent yet */
    assert_int_equal(sfu_seqmap_unmap(&m, 65532, &in), J_ENOTFOUND); /* before the first */
    assert_int_equal(sfu_seqmap_out_ts(&m, 1000), 1001u);
}

static void test_unmap_forgets_the_previous_source(void **state)
{
    (void)state;
    sfu_seqmap m;
    sfu_seqmap_init(&m, 100, 0);
    uint16_t seq, in;
    uint32_t ts;
    sfu_seqmap_map(&m, 5000, 0, 90000, 0, &seq, &ts);
    sfu_seqmap_map(&m, 5001, 0, 90000, 0, &seq, &ts);
    sfu_seqmap_resync(&m);
    assert_int_equal(sfu_seqmap_unmap(&m, 101, &in), J_ENOTFOUND); /* offsets about to change */
    sfu_seqmap_map(&m, 9, 0, 90000, 0, &seq, &ts);
    assert_int_equal(seq, 102);
    assert_int_equal(sfu_seqmap_unmap(&m, 102, &in), J_OK);
    assert_int_equal(in, 9);
    assert_int_equal(sfu_seqmap_unmap(&m, 101, &in), J_ENOTFOUND); /* the old source's */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_packet_starts_at_base),
        cmocka_unit_test(test_wraparound_and_reordering),
        cmocka_unit_test(test_resync_continues_after_last_output),
        cmocka_unit_test(test_unmap_inverts_the_current_mapping_across_the_wrap),
        cmocka_unit_test(test_unmap_forgets_the_previous_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
