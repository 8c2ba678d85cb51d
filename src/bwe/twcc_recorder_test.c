/* twcc_recorder_test.c - arrival recording and the transport-cc feedback it
 * writes, read back with the rtcp parser: timing, loss and reordering,
 * wraparound, duplicates and late packets, size-triggered feedback, long
 * pauses, restarts and buffer errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bwe/bwe.h"
#include "core/err.h"
#include "rtcp/rtcp.h"

#define MS 1000ULL
#define T0 (7 * 1000 * MS) /* an arbitrary clock origin */

static uint8_t buf[1024];
static rtcp_twcc_pkt pkts[BWE_TWCC_FEEDBACK_MAX];

/* Run the recorder's feedback at now_us through the parser; returns the
 * number of statuses (0 when nothing was due). */
static int feedback(bwe_twcc_recorder *r, uint64_t now_us, rtcp_twcc *m)
{
    int n = bwe_twcc_recorder_handle_timeout(r, now_us, buf, sizeof buf);
    assert_true(n >= 0);
    if (n == 0) return 0;
    rtcp_header h;
    assert_int_equal(rtcp_header_parse(&h, buf, (size_t)n), n);
    assert_int_equal(rtcp_twcc_parse(m, &h), 0);
    assert_int_equal(m->sender_ssrc, 0xaaaa);
    assert_int_equal(m->media_ssrc, 0xbbbb);
    return rtcp_twcc_expand(m, pkts, BWE_TWCC_FEEDBACK_MAX);
}

static void test_periodic_feedback_with_times(void **state)
{
    (void)state;
    bwe_twcc_recorder r;
    rtcp_twcc m;
    bwe_twcc_recorder_init(&r, 0xaaaa, 0xbbbb, 0); /* 50 ms */
    assert_int_equal(bwe_twcc_recorder_poll_timeout(&r), UINT64_MAX);
    assert_int_equal(feedback(&r, T0, &m), 0);
    for (uint16_t s = 0; s < 10; s++) bwe_twcc_recorder_on_packet(&r, 100 + s, T0 + s * 3 * MS);
    assert_int_equal(bwe_twcc_recorder_poll_timeout(&r), T0 + 50 * MS);
    assert_int_equal(feedback(&r, T0 + 49 * MS, &m), 0);
    assert_int_equal(feedback(&r, T0 + 50 * MS, &m), 10);
    assert_int_equal(m.base_seq, 100);
    assert_int_equal(m.fb_pkt_count, 0);
    for (int i = 0; i < 10; i++) {
        assert_true(pkts[i].received);
        assert_int_equal(pkts[i].recv_us - pkts[0].recv_us, i * 3 * (int64_t)MS);
    }
    /* Nothing new: nothing due. */
    assert_int_equal(bwe_twcc_recorder_poll_timeout(&r), UINT64_MAX);
    assert_int_equal(feedback(&r, T0 + 200 * MS, &m), 0);
    /* The next feedback continues after the last status and counts up. */
    bwe_twcc_recorder_on_packet(&r, 110, T0 + 210 * MS);
    assert_int_equal(feedback(&r, T0 + 260 * MS, &m), 1);
    assert_int_equal(m.base_seq, 110);
    assert_int_equal(m.fb_pkt_count, 1);
}

static void test_loss_and_reordering(void **state)
{
    (void)state;
    bwe_twcc_recorder r;
    rtcp_twcc m;
    bwe_twcc_recorder_init(&r, 0xaaaa, 0xbbbb, 0);
    /* 0 1 3 2 5 arrive: 4 is lost, 2 comes after 3. */
    const uint16_t order[] = {0, 1, 3, 2, 5};
    for (int i = 0; i < 5; i++) bwe_twcc_recorder_on_packet(&r, order[i], T0 + (uint64_t)i * MS);
    bwe_twcc_recorder_on_packet(&r, 3, T0 + 9 * MS); /* duplicate: first arrival kept */
    assert_int_equal(feedback(&r, T0 + 60 * MS, &m), 6);
    assert_int_equal(m.base_seq, 0);
    const bool received[] = {true, true, true, true, false, true};
    const int64_t at_ms[] = {0, 1, 3, 2, 0, 4}; /* arrival order: seq 2 came after seq 3 */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pkts[i].received, received[i]);
        if (received[i]) assert_int_equal(pkts[i].recv_us - pkts[0].recv_us, at_ms[i] * (int64_t)MS);
    }
    assert_int_equal(pkts[3].status, RTCP_TWCC_LARGE_DELTA); /* negative delta */
    /* 4 turns up after its status went out as lost: counted, not re-reported. */
    bwe_twcc_recorder_on_packet(&r, 4, T0 + 70 * MS);
    assert_int_equal(r.late, 1);
    assert_int_equal(bwe_twcc_recorder_poll_timeout(&r), UINT64_MAX);
}

static void test_wraparound(void **state)
{
    (void)state;
    bwe_twcc_recorder r;
    rtcp_twcc m;
    bwe_twcc_recorder_init(&r, 0xaaaa, 0xbbbb, 0);
    const uint16_t seqs[] = {65533, 65534, 65535, 0, 2};
    for (int i = 0; i < 5; i++) bwe_twcc_recorder_on_packet(&r, seqs[i], T0 + (uint64_t)i * MS);
    assert_int_equal(feedback(&r, T0 + 50 * MS, &m), 6);
    assert_int_equal(m.base_seq, 65533);
    assert_int_equal(pkts[3].seq, 0);
    assert_true(pkts[3].received);
    assert_false(pkts[4].received); /* seq 1 */
    assert_true(pkts[5].received);
}

static void test_trailing_gaps_wait_and_full_feedback_is_due_at_once(void **state)
{
    (void)state;
    bwe_twcc_recorder r;
    rtcp_twcc m;
    bwe_twcc_recorder_init(&r, 0xaaaa, 0xbbbb, 0);
    /* BWE_TWCC_FEEDBACK_MAX + 44 statuses waiting: due immediately. */
    uint16_t last = BWE_TWCC_FEEDBACK_MAX + 43;
    for (uint16_t s = 0; s <= last; s++)
        if (s < BWE_TWCC_FEEDBACK_MAX - 6 || s >= BWE_TWCC_FEEDBACK_MAX + 10)
            bwe_twcc_recorder_on_packet(&r, s, T0 + s * 100ULL);
    assert_int_equal(bwe_twcc_recorder_poll_timeout(&r), 0);
    /* The first feedback stops at the last arrival inside its 256 statuses:
     * the 6 missing ones at its end may still come. */
    assert_int_equal(feedback(&r, T0 + 30 * MS, &m), BWE_TWCC_FEEDBACK_MAX - 6);
    assert_int_equal(bwe_twcc_recorder_poll_timeout(&r), T0 + 80 * MS);
    bwe_twcc_recorder_on_packet(&r, BWE_TWCC_FEEDBACK_MAX - 3, T0 + 31 * MS);
    assert_int_equal(feedback(&r, T0 + 80 * MS, &m), 50);
    assert_int_equal(m.base_seq, BWE_TWCC_FEEDBACK_MAX - 6);
    assert_int_equal(m.received_count, 35);
    assert_true(pkts[3].received);
}

static void test_long_pause_splits_feedback(void **state)
{
    (void)state;
    bwe_twcc_recorder r;
    rtcp_twcc m;
    bwe_twcc_recorder_init(&r, 0xaaaa, 0xbbbb, 0);
    /* 9 s between two arrivals exceeds what one feedback's deltas reach. */
    bwe_twcc_recorder_on_packet(&r, 1, T0);
    bwe_twcc_recorder_on_packet(&r, 2, T0 + 9000 * MS);
    assert_int_equal(feedback(&r, T0 + 9000 * MS, &m), 1);
    assert_int_equal(m.base_seq, 1);
    assert_int_equal(feedback(&r, T0 + 9000 * MS, &m), 0); /* next one waits its interval */
    assert_int_equal(feedback(&r, T0 + 9050 * MS, &m), 1);
    assert_int_equal(m.base_seq, 2);
}

static void test_jumps_and_restart(void **state)
{
    (void)state;
    bwe_twcc_recorder r;
    rtcp_twcc m;
    bwe_twcc_recorder_init(&r, 0xaaaa, 0xbbbb, 0);
    bwe_twcc_recorder_on_packet(&r, 10, T0);
    /* A jump further ahead than the slots drops the statuses it cannot hold. */
    bwe_twcc_recorder_on_packet(&r, 10 + BWE_TWCC_RECORDER_SLOTS + 5, T0 + MS);
    assert_int_equal(r.pending, 1);
    assert_int_equal(feedback(&r, T0 + 50 * MS, &m), BWE_TWCC_FEEDBACK_MAX);
    assert_int_equal(m.base_seq, 16);
    assert_int_equal(m.received_count, 0); /* a stretch of nothing but losses */
    /* A packet far behind is ignored, two in a row restart the numbering. */
    bwe_twcc_recorder_on_packet(&r, 60000, T0 + 60 * MS); /* 6575 behind */
    assert_int_equal(r.pending, 1);
    bwe_twcc_recorder_on_packet(&r, 60001, T0 + 61 * MS);
    assert_int_equal(r.pending, 1);
    assert_int_equal(feedback(&r, T0 + 111 * MS, &m), 1);
    assert_int_equal(m.base_seq, 60001);
}

static void test_short_buffer_consumes_nothing(void **state)
{
    (void)state;
    bwe_twcc_recorder r;
    rtcp_twcc m;
    bwe_twcc_recorder_init(&r, 0xaaaa, 0xbbbb, 20 * MS);
    for (uint16_t s = 0; s < 20; s++) bwe_twcc_recorder_on_packet(&r, s, T0 + s * MS);
    uint8_t small[16];
    assert_int_equal(bwe_twcc_recorder_handle_timeout(&r, T0 + 40 * MS, small, sizeof small),
                     J_ESHORTBUF);
    assert_int_equal(feedback(&r, T0 + 40 * MS, &m), 20);
    assert_int_equal(m.fb_pkt_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periodic_feedback_with_times),
        cmocka_unit_test(test_loss_and_reordering),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_trailing_gaps_wait_and_full_feedback_is_due_at_once),
        cmocka_unit_test(test_long_pause_splits_feedback),
        cmocka_unit_test(test_jumps_and_restart),
        cmocka_unit_test(test_short_buffer_consumes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
