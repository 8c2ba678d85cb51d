/* nack_gen_test.c - gap detection, request timing (reorder delay, RTT
 * retries, retry limit, age limit), recovery, wraparound, overflow and
 * restart, and the hand-over to the RTCP NACK writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtp/nack_gen.h"

#define MS 1000ULL

static size_t due(rtp_nack_gen *g, uint64_t now_us, uint16_t *out)
{
    return rtp_nack_gen_handle_timeout(g, now_us, out, 64);
}

static void test_gap_requested_after_reorder_delay_then_per_rtt(void **state)
{
    (void)state;
    rtp_nack_gen g;
    uint16_t out[64];
    rtp_nack_gen_init(&g, NULL);
    assert_int_equal(rtp_nack_gen_poll_timeout(&g), UINT64_MAX);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 10, 0), RTP_NACK_GEN_IN_ORDER);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 11, 0), RTP_NACK_GEN_IN_ORDER);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 14, 1 * MS), RTP_NACK_GEN_IN_ORDER);
    assert_int_equal(rtp_nack_gen_missing(&g), 2);
    assert_int_equal(rtp_nack_gen_poll_timeout(&g), 6 * MS); /* 1 ms + 5 ms reorder delay */
    assert_int_equal(due(&g, 5 * MS, out), 0);
    assert_int_equal(due(&g, 6 * MS, out), 2);
    assert_int_equal(out[0], 12);
    assert_int_equal(out[1], 13);
    assert_int_equal(g.requested, 2);
    /* Retries one (default) RTT of 100 ms later. */
    assert_int_equal(rtp_nack_gen_poll_timeout(&g), 106 * MS);
    assert_int_equal(due(&g, 105 * MS, out), 0);
    assert_int_equal(due(&g, 106 * MS, out), 2);
    /* A measured RTT spaces them from then on. */
    rtp_nack_gen_set_rtt(&g, 30 * MS);
    assert_int_equal(rtp_nack_gen_poll_timeout(&g), 136 * MS);
    assert_int_equal(due(&g, 136 * MS, out), 2);
    /* ...but never closer than 10 ms. */
    rtp_nack_gen_set_rtt(&g, 1 * MS);
    assert_int_equal(rtp_nack_gen_poll_timeout(&g), 146 * MS);
    assert_false(rtp_nack_gen_take_keyframe_request(&g));
}

static void test_recovered_packets_leave_the_list(void **state)
{
    (void)state;
    rtp_nack_gen g;
    uint16_t out[64];
    rtp_nack_gen_init(&g, NULL);
    rtp_nack_gen_on_packet(&g, 100, 0);
    rtp_nack_gen_on_packet(&g, 105, 0); /* 101..104 missing */
    /* Reordered within the delay: never requested. */
    assert_int_equal(rtp_nack_gen_on_packet(&g, 102, 2 * MS), RTP_NACK_GEN_RECOVERED);
    assert_int_equal(due(&g, 5 * MS, out), 3);
    assert_int_equal(out[0], 101);
    assert_int_equal(out[1], 103);
    assert_int_equal(out[2], 104);
    /* Retransmissions arrive (unwrapped from RTX by the caller). */
    assert_int_equal(rtp_nack_gen_on_packet(&g, 103, 40 * MS), RTP_NACK_GEN_RECOVERED);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 101, 41 * MS), RTP_NACK_GEN_RECOVERED);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 101, 42 * MS), RTP_NACK_GEN_LATE); /* twice */
    assert_int_equal(rtp_nack_gen_on_packet(&g, 105, 42 * MS), RTP_NACK_GEN_LATE);
    assert_int_equal(rtp_nack_gen_missing(&g), 1);
    assert_int_equal(g.recovered, 3);
    assert_int_equal(due(&g, 105 * MS, out), 1);
    assert_int_equal(out[0], 104);
}

static void test_gives_up_after_max_retries(void **state)
{
    (void)state;
    rtp_nack_gen g;
    uint16_t out[64];
    rtp_nack_gen_config cfg = {.max_retries = 3, .max_age_us = 10000 * MS};
    rtp_nack_gen_init(&g, &cfg);
    rtp_nack_gen_set_rtt(&g, 50 * MS);
    rtp_nack_gen_on_packet(&g, 1, 0);
    rtp_nack_gen_on_packet(&g, 3, 0);
    assert_int_equal(due(&g, 5 * MS, out), 1);
    assert_int_equal(due(&g, 55 * MS, out), 1);
    assert_int_equal(due(&g, 105 * MS, out), 1);
    /* Three requests sent; the last one gets a round trip to be answered. */
    assert_int_equal(rtp_nack_gen_poll_timeout(&g), 155 * MS);
    assert_int_equal(due(&g, 154 * MS, out), 0);
    assert_int_equal(rtp_nack_gen_missing(&g), 1);
    assert_false(rtp_nack_gen_take_keyframe_request(&g));
    assert_int_equal(due(&g, 155 * MS, out), 0);
    assert_int_equal(rtp_nack_gen_missing(&g), 0);
    assert_int_equal(g.abandoned, 1);
    assert_true(rtp_nack_gen_take_keyframe_request(&g));
    assert_false(rtp_nack_gen_take_keyframe_request(&g)); /* reported once */
    assert_int_equal(rtp_nack_gen_poll_timeout(&g), UINT64_MAX);
    /* The packet arriving after all is just late. */
    assert_int_equal(rtp_nack_gen_on_packet(&g, 2, 200 * MS), RTP_NACK_GEN_LATE);
}

static void test_gives_up_after_max_age(void **state)
{
    (void)state;
    rtp_nack_gen g;
    uint16_t out[64];
    rtp_nack_gen_init(&g, NULL); /* 1 s */
    rtp_nack_gen_set_rtt(&g, 400 * MS);
    rtp_nack_gen_on_packet(&g, 1, 0);
    rtp_nack_gen_on_packet(&g, 3, 0);
    assert_int_equal(due(&g, 5 * MS, out), 1);
    assert_int_equal(due(&g, 405 * MS, out), 1);
    assert_int_equal(due(&g, 805 * MS, out), 1);
    assert_int_equal(rtp_nack_gen_poll_timeout(&g), 1000 * MS); /* age beats the next retry */
    assert_int_equal(due(&g, 999 * MS, out), 0);
    assert_int_equal(rtp_nack_gen_missing(&g), 1);
    assert_int_equal(due(&g, 1000 * MS, out), 0);
    assert_int_equal(rtp_nack_gen_missing(&g), 0);
    assert_true(rtp_nack_gen_take_keyframe_request(&g));
}

static void test_wraparound_order(void **state)
{
    (void)state;
    rtp_nack_gen g;
    uint16_t out[64];
    rtp_nack_gen_init(&g, NULL);
    rtp_nack_gen_on_packet(&g, 65533, 0);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 2, 0), RTP_NACK_GEN_IN_ORDER);
    assert_int_equal(due(&g, 10 * MS, out), 4);
    assert_int_equal(out[0], 65534);
    assert_int_equal(out[1], 65535);
    assert_int_equal(out[2], 0);
    assert_int_equal(out[3], 1);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 65535, 20 * MS), RTP_NACK_GEN_RECOVERED);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 0, 20 * MS), RTP_NACK_GEN_RECOVERED);
    assert_int_equal(rtp_nack_gen_missing(&g), 2);
}

static void test_output_capacity_defers_the_rest(void **state)
{
    (void)state;
    rtp_nack_gen g;
    uint16_t out[2];
    rtp_nack_gen_init(&g, NULL);
    rtp_nack_gen_on_packet(&g, 0, 0);
    rtp_nack_gen_on_packet(&g, 6, 0); /* 1..5 missing */
    assert_int_equal(rtp_nack_gen_handle_timeout(&g, 5 * MS, out, 2), 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    assert_int_equal(rtp_nack_gen_poll_timeout(&g), 5 * MS); /* 3..5 still due */
    assert_int_equal(rtp_nack_gen_handle_timeout(&g, 6 * MS, out, 2), 2);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 4);
    assert_int_equal(rtp_nack_gen_handle_timeout(&g, 6 * MS, out, 2), 1);
    assert_int_equal(out[0], 5);
}

static void test_overflow_clears_and_wants_keyframe(void **state)
{
    (void)state;
    rtp_nack_gen g;
    uint16_t out[64];
    rtp_nack_gen_init(&g, NULL);
    rtp_nack_gen_on_packet(&g, 0, 0);
    /* Exactly the capacity fits. */
    rtp_nack_gen_on_packet(&g, RTP_NACK_GEN_CAPACITY + 1, 0);
    assert_int_equal(rtp_nack_gen_missing(&g), RTP_NACK_GEN_CAPACITY);
    assert_false(rtp_nack_gen_take_keyframe_request(&g));
    /* One more does not: everything is dropped, a keyframe asked for. */
    rtp_nack_gen_on_packet(&g, RTP_NACK_GEN_CAPACITY + 3, 0);
    assert_int_equal(rtp_nack_gen_missing(&g), 0);
    assert_int_equal(g.overflows, 1);
    assert_true(rtp_nack_gen_take_keyframe_request(&g));
    /* Tracking continues from the new highest. */
    rtp_nack_gen_on_packet(&g, RTP_NACK_GEN_CAPACITY + 5, 0);
    assert_int_equal(due(&g, 5 * MS, out), 1);
    assert_int_equal(out[0], RTP_NACK_GEN_CAPACITY + 4);
}

static void test_restart_needs_two_packets(void **state)
{
    (void)state;
    rtp_nack_gen g;
    rtp_nack_gen_init(&g, NULL);
    rtp_nack_gen_on_packet(&g, 30000, 0);
    rtp_nack_gen_on_packet(&g, 30002, 0); /* 30001 missing */
    /* A stray packet far behind changes nothing... */
    assert_int_equal(rtp_nack_gen_on_packet(&g, 10000, 0), RTP_NACK_GEN_LATE);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 30003, 0), RTP_NACK_GEN_IN_ORDER);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 10001, 0), RTP_NACK_GEN_LATE);
    assert_int_equal(rtp_nack_gen_missing(&g), 1);
    /* ...two in sequence are a new numbering. */
    assert_int_equal(rtp_nack_gen_on_packet(&g, 10002, 0), RTP_NACK_GEN_RESTARTED);
    assert_int_equal(rtp_nack_gen_missing(&g), 0);
    assert_int_equal(rtp_nack_gen_on_packet(&g, 10004, 0), RTP_NACK_GEN_IN_ORDER);
    assert_int_equal(rtp_nack_gen_missing(&g), 1);
}

/* The output is the writer's input: a run across the wrap packs into one item. */
static void test_output_feeds_rtcp_nack(void **state)
{
    (void)state;
    rtp_nack_gen g;
    uint16_t out[64];
    rtp_nack_gen_init(&g, NULL);
    rtp_nack_gen_on_packet(&g, 65530, 0);
    rtp_nack_gen_on_packet(&g, 65533, 0);
    rtp_nack_gen_on_packet(&g, 3, 0);
    size_t n = due(&g, 5 * MS, out); /* 65531 65532 65534 65535 0 1 2 */
    assert_int_equal(n, 7);
    rtcp_nack m = {.sender_ssrc = 1, .media_ssrc = 2, .lost = out, .lost_count = n};
    uint8_t buf[64];
    assert_int_equal(rtcp_nack_write(&m, buf, sizeof buf), 16); /* one PID+BLP item */
    rtcp_header h;
    rtcp_nack parsed;
    uint16_t back[32];
    assert_int_equal(rtcp_header_parse(&h, buf, 16), 16);
    assert_int_equal(rtcp_nack_parse(&parsed, &h), 0);
    assert_int_equal(rtcp_nack_expand(&parsed, back, 32), 7);
    for (size_t i = 0; i < n; i++) assert_int_equal(back[i], out[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gap_requested_after_reorder_delay_then_per_rtt),
        cmocka_unit_test(test_recovered_packets_leave_the_list),
        cmocka_unit_test(test_gives_up_after_max_retries),
        cmocka_unit_test(test_gives_up_after_max_age),
        cmocka_unit_test(test_wraparound_order),
        cmocka_unit_test(test_output_capacity_defers_the_rest),
        cmocka_unit_test(test_overflow_clears_and_wants_keyframe),
        cmocka_unit_test(test_restart_needs_two_packets),
        cmocka_unit_test(test_output_feeds_rtcp_nack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
