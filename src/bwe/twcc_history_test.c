/* twcc_history_test.c - numbering sent packets and matching feedback: send
 * times and sizes, losses, wraparound, unknown and forgotten packets, repeated
 * and late reports, reference-time wraparound across feedbacks, capacity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bwe/bwe.h"
#include "core/err.h"
#include "rtcp/rtcp.h"

#define MS 1000ULL

static bwe_twcc_history h;
static bwe_twcc_result res[BWE_TWCC_HISTORY_SLOTS];

/* Feedback about rx[0..n) (written and parsed back, as it comes off the wire). */
static size_t feed(const rtcp_twcc_rx *rx, size_t n, bwe_twcc_result *out, size_t cap)
{
    static uint8_t buf[4096];
    rtcp_twcc_fb fb = {.sender_ssrc = 1, .media_ssrc = 2, .pkts = rx, .pkt_count = n};
    int len = rtcp_twcc_write(&fb, buf, sizeof buf);
    assert_true(len > 0);
    rtcp_header hd;
    rtcp_twcc m;
    assert_int_equal(rtcp_header_parse(&hd, buf, (size_t)len), len);
    assert_int_equal(rtcp_twcc_parse(&m, &hd), 0);
    return bwe_twcc_history_on_feedback(&h, &m, out, cap);
}

static void test_numbering_and_results(void **state)
{
    (void)state;
    bwe_twcc_history_init(&h, 65533);
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(bwe_twcc_history_add(&h, 1000 + i, 100 * MS + i * 5 * MS),
                         (uint16_t)(65533 + i));
    /* 65533..2 sent; the peer got all but 65535, 1 ms of queueing growth each. */
    const rtcp_twcc_rx rx[] = {
        {65533, true, 5000 * MS}, {65534, true, 5006 * MS}, {65535, false, 0},
        {0, true, 5018 * MS},     {1, true, 5024 * MS},     {2, true, 5030 * MS},
    };
    assert_int_equal(feed(rx, 6, res, BWE_TWCC_HISTORY_SLOTS), 6);
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(res[i].seq, (uint16_t)(65533 + i));
        assert_int_equal(res[i].size, 1000 + i);
        assert_int_equal(res[i].send_us, 100 * MS + i * 5 * MS);
        assert_int_equal(res[i].received, i != 2);
        assert_false(res[i].reported_lost_before);
    }
    assert_int_equal(res[2].recv_us, 0);
    assert_int_equal(res[1].recv_us - res[0].recv_us, 6 * MS);
    assert_int_equal(res[5].recv_us - res[0].recv_us, 30 * MS);
    assert_int_equal(h.unknown, 0);
}

static void test_unknown_repeated_and_late(void **state)
{
    (void)state;
    bwe_twcc_history_init(&h, 100);
    for (int i = 0; i < 4; i++) bwe_twcc_history_add(&h, 500, (uint64_t)i * MS); /* 100..103 */
    /* 98, 99 were never sent; 101 lost. */
    const rtcp_twcc_rx first[] = {{98, true, 10 * MS}, {99, true, 11 * MS}, {100, true, 12 * MS},
                                  {101, false, 0}, {102, true, 14 * MS}};
    assert_int_equal(feed(first, 5, res, BWE_TWCC_HISTORY_SLOTS), 3);
    assert_int_equal(h.unknown, 2);
    assert_int_equal(res[1].seq, 101);
    assert_false(res[1].received);
    /* Reported again: 100, 102 already told; 101 still lost adds nothing;
     * 103 is new. */
    const rtcp_twcc_rx again[] = {{100, true, 12 * MS}, {101, false, 0}, {102, true, 14 * MS},
                                  {103, true, 15 * MS}};
    assert_int_equal(feed(again, 4, res, BWE_TWCC_HISTORY_SLOTS), 1);
    assert_int_equal(res[0].seq, 103);
    /* 101 arrived after all: told once more, flagged. */
    const rtcp_twcc_rx late[] = {{101, true, 40 * MS}};
    assert_int_equal(feed(late, 1, res, BWE_TWCC_HISTORY_SLOTS), 1);
    assert_true(res[0].received);
    assert_true(res[0].reported_lost_before);
    assert_int_equal(feed(late, 1, res, BWE_TWCC_HISTORY_SLOTS), 0);
}

static void test_forgotten_after_a_full_ring(void **state)
{
    (void)state;
    bwe_twcc_history_init(&h, 0);
    for (uint32_t i = 0; i < BWE_TWCC_HISTORY_SLOTS + 1; i++) bwe_twcc_history_add(&h, 100, i);
    /* Seq 0's slot now holds BWE_TWCC_HISTORY_SLOTS. */
    const rtcp_twcc_rx rx[] = {{0, true, 0}, {1, true, 1000}};
    assert_int_equal(feed(rx, 2, res, BWE_TWCC_HISTORY_SLOTS), 1);
    assert_int_equal(res[0].seq, 1);
    assert_int_equal(h.unknown, 1);
}

static void test_reference_time_wraps(void **state)
{
    (void)state;
    bwe_twcc_history_init(&h, 0);
    for (int i = 0; i < 3; i++) bwe_twcc_history_add(&h, 100, (uint64_t)i * 64 * MS);
    /* Arrivals at reference times 2^24 - 1, then 2^24 + 1 (written as 1): the
     * arrival times must keep increasing, 128 ms apart. */
    uint64_t wrap_us = (1ULL << 24) * 64 * MS;
    const rtcp_twcc_rx a[] = {{0, true, wrap_us - 64 * MS}};
    const rtcp_twcc_rx b[] = {{1, true, wrap_us + 64 * MS}};
    const rtcp_twcc_rx c[] = {{2, true, wrap_us + 128 * MS}};
    assert_int_equal(feed(a, 1, res, 4), 1);
    int64_t t0 = res[0].recv_us;
    assert_int_equal(feed(b, 1, res, 4), 1);
    assert_int_equal(res[0].recv_us - t0, 128 * (int64_t)MS);
    assert_int_equal(feed(c, 1, res, 4), 1);
    assert_int_equal(res[0].recv_us - t0, 192 * (int64_t)MS);
}

static void test_output_capacity(void **state)
{
    (void)state;
    bwe_twcc_history_init(&h, 7);
    rtcp_twcc_rx rx[10];
    for (uint16_t i = 0; i < 10; i++) {
        bwe_twcc_history_add(&h, 100, i);
        rx[i] = (rtcp_twcc_rx){(uint16_t)(7 + i), true, 1000 + i * 1000ULL};
    }
    assert_int_equal(feed(rx, 10, res, 4), 4);
    assert_int_equal(res[3].seq, 10);
    /* What did not fit is still unreported and comes with the next feedback. */
    assert_int_equal(feed(rx, 10, res, BWE_TWCC_HISTORY_SLOTS), 6);
    assert_int_equal(res[0].seq, 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbering_and_results),
        cmocka_unit_test(test_unknown_repeated_and_late),
        cmocka_unit_test(test_forgotten_after_a_full_ring),
        cmocka_unit_test(test_reference_time_wraps),
        cmocka_unit_test(test_output_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
