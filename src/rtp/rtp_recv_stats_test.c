/* rtp_recv_stats_test.c - RFC 3550 receive statistics: probation, loss and
 * fraction lost, wraparound, reordering and duplicates, restarts, jitter,
 * LSR/DLSR, and RTT from report blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtp/rtp_recv_stats.h"

#define SSRC 0x11223344u
#define MS 1000ULL

/* A 90 kHz stream: packet seq sent at seq * 20 ms, arriving 30 ms later. */
static rtp_recv_verdict feed(rtp_recv_stats *s, uint16_t seq, uint32_t n)
{
    return rtp_recv_stats_update(s, seq, n * 1800u, 1000, 30 * MS + n * 20 * MS);
}

static void test_probation(void **state)
{
    (void)state;
    rtp_recv_stats s;
    rtcp_report_block rb;
    rtp_recv_stats_init(&s, SSRC, 90000);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), J_ESTATE);
    assert_int_equal(feed(&s, 500, 0), RTP_RECV_PROBATION);
    /* Not the successor: probation starts over from 900. */
    assert_int_equal(feed(&s, 900, 1), RTP_RECV_PROBATION);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), J_ESTATE);
    assert_int_equal(feed(&s, 901, 2), RTP_RECV_IN_ORDER);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_int_equal(rb.ssrc, SSRC);
    assert_int_equal(rb.ext_highest_seq, 901);
    assert_int_equal(rb.cumulative_lost, 0);
    assert_int_equal(rb.fraction_lost, 0);
    assert_int_equal(rb.lsr, 0);
    assert_int_equal(rb.dlsr, 0);
    assert_int_equal(s.received, 1);
}

static void test_loss_and_fraction_per_interval(void **state)
{
    (void)state;
    rtp_recv_stats s;
    rtcp_report_block rb;
    rtp_recv_stats_init(&s, SSRC, 90000);
    /* 100 validates the source at 101; 103 and 104 never arrive. */
    const uint16_t seqs[] = {100, 101, 102, 105, 106, 107, 108, 109};
    for (uint32_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) feed(&s, seqs[i], seqs[i]);
    assert_int_equal(rtp_recv_stats_lost(&s), 2);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    /* Expected 101..109 = 9, received 7: 2/9 lost = 56/256. */
    assert_int_equal(rb.cumulative_lost, 2);
    assert_int_equal(rb.fraction_lost, 2 * 256 / 9);
    assert_int_equal(rb.ext_highest_seq, 109);

    /* Next interval: 110..119 with one lost (115): 1/10 = 25/256. */
    for (uint16_t q = 110; q < 120; q++)
        if (q != 115) feed(&s, q, q);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_int_equal(rb.cumulative_lost, 3);
    assert_int_equal(rb.fraction_lost, 256 / 10);

    /* An interval without packets reports no loss. */
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_int_equal(rb.fraction_lost, 0);
    assert_int_equal(rb.cumulative_lost, 3);
}

static void test_wraparound(void **state)
{
    (void)state;
    rtp_recv_stats s;
    rtcp_report_block rb;
    rtp_recv_stats_init(&s, SSRC, 90000);
    const uint16_t seqs[] = {65533, 65534, 65535, 0, 2};
    for (uint32_t i = 0; i < 5; i++) assert_int_not_equal(feed(&s, seqs[i], i), RTP_RECV_BAD_SEQ);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_int_equal(rb.ext_highest_seq, 0x10002); /* one cycle, highest 2 */
    assert_int_equal(rb.cumulative_lost, 1);       /* 1 */
    /* Late 1 (behind the wrap) is counted without moving the highest. */
    assert_int_equal(feed(&s, 1, 4), RTP_RECV_LATE);
    assert_int_equal(rtp_recv_stats_lost(&s), 0);
    assert_int_equal(s.max_seq, 2);
}

static void test_reorder_and_duplicates(void **state)
{
    (void)state;
    rtp_recv_stats s;
    rtcp_report_block rb;
    rtp_recv_stats_init(&s, SSRC, 90000);
    feed(&s, 10, 10);
    feed(&s, 11, 11);
    assert_int_equal(feed(&s, 13, 13), RTP_RECV_IN_ORDER);
    assert_int_equal(feed(&s, 12, 12), RTP_RECV_LATE);
    assert_int_equal(rtp_recv_stats_lost(&s), 0);
    /* Duplicates count as received (RFC 3550 A.3): loss goes negative. */
    assert_int_equal(feed(&s, 13, 13), RTP_RECV_LATE);
    assert_int_equal(feed(&s, 12, 12), RTP_RECV_LATE);
    assert_int_equal(rtp_recv_stats_lost(&s), -2);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_int_equal(rb.cumulative_lost, -2);
    assert_int_equal(rb.fraction_lost, 0); /* more duplicates than losses */
    /* A packet 99 behind is still a late one; 100 behind is a bad jump. */
    assert_int_equal(feed(&s, (uint16_t)(13 - 99), 0), RTP_RECV_LATE);
    assert_int_equal(feed(&s, (uint16_t)(13 - 100), 0), RTP_RECV_BAD_SEQ);
}

static void test_restart_after_confirmed_jump(void **state)
{
    (void)state;
    rtp_recv_stats s;
    rtp_recv_stats_init(&s, SSRC, 90000);
    for (uint16_t q = 1000; q < 1010; q++) feed(&s, q, q);
    /* A single far packet is ignored... */
    assert_int_equal(feed(&s, 40000, 0), RTP_RECV_BAD_SEQ);
    assert_int_equal(feed(&s, 1010, 1010), RTP_RECV_IN_ORDER);
    assert_int_equal(s.max_seq, 1010);
    /* ...two in sequence mean the sender restarted: counting starts over. */
    assert_int_equal(feed(&s, 50000, 0), RTP_RECV_BAD_SEQ);
    assert_int_equal(feed(&s, 50001, 1), RTP_RECV_IN_ORDER);
    assert_int_equal(s.base_seq, 50001);
    assert_int_equal(s.received, 1);
    assert_int_equal(rtp_recv_stats_lost(&s), 0);
    /* 2999 ahead is still in order (MAX_DROPOUT 3000). */
    assert_int_equal(feed(&s, 50001 + 2999, 2), RTP_RECV_IN_ORDER);
}

static void test_cumulative_lost_clamped(void **state)
{
    (void)state;
    rtp_recv_stats s;
    rtcp_report_block rb;
    rtp_recv_stats_init(&s, SSRC, 90000);
    uint16_t q = 0;
    feed(&s, q, 0);
    feed(&s, ++q, 0);
    /* Jumps of 2999 lose 2998 each: 3000 of them lose ~9M > 2^23 - 1. */
    for (int i = 0; i < 3000; i++) {
        q = (uint16_t)(q + 2999);
        assert_int_equal(feed(&s, q, 0), RTP_RECV_IN_ORDER);
    }
    assert_true(rtp_recv_stats_lost(&s) > 0x7fffff);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_int_equal(rb.cumulative_lost, 0x7fffff);
    assert_int_equal(rb.fraction_lost, 255); /* 2998/2999 */
}

static void test_jitter(void **state)
{
    (void)state;
    rtp_recv_stats s;
    rtcp_report_block rb;
    rtp_recv_stats_init(&s, SSRC, 90000);
    /* Constant transit: no jitter. */
    for (uint32_t n = 0; n < 50; n++) feed(&s, (uint16_t)n, n);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_int_equal(rb.jitter, 0);
    /* Every other packet 10 ms late: |D| = 900 units each time, so the
     * estimate converges to 900 (A.8: J += (|D| - J) / 16). */
    for (uint32_t n = 50; n < 400; n++)
        rtp_recv_stats_update(&s, (uint16_t)n, n * 1800u, 1000, 30 * MS + n * 20 * MS + (n % 2) * 10 * MS);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_in_range(rb.jitter, 880, 900);
    /* One step of the filter from 0, checked exactly: 900 / 16. */
    rtp_recv_stats_init(&s, SSRC, 90000);
    feed(&s, 0, 0);
    feed(&s, 1, 1);
    feed(&s, 2, 2);
    rtp_recv_stats_update(&s, 3, 3 * 1800, 1000, 30 * MS + 3 * 20 * MS + 10 * MS);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_int_equal(rb.jitter, 900 / 16);
    /* Late packets leave jitter alone however late they are. */
    rtp_recv_stats_update(&s, 1, 1800, 1000, 5000 * MS);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_int_equal(rb.jitter, 900 / 16);
}

static void test_jitter_48k_with_timestamp_wrap(void **state)
{
    (void)state;
    rtp_recv_stats s;
    rtcp_report_block rb;
    rtp_recv_stats_init(&s, SSRC, 48000);
    /* Opus, 20 ms = 960 units, timestamps crossing 2^32, arrival clock in days. */
    uint64_t t0 = 5ULL * 86400 * 1000000;
    uint32_t ts0 = 0xffffff00u;
    for (uint32_t n = 0; n < 20; n++)
        rtp_recv_stats_update(&s, (uint16_t)n, ts0 + n * 960u, 100, t0 + n * 20 * MS);
    assert_int_equal(rtp_recv_stats_report(&s, 0, &rb), 0);
    assert_int_equal(rb.jitter, 0);
}

static void test_lsr_dlsr(void **state)
{
    (void)state;
    rtp_recv_stats s;
    rtcp_report_block rb;
    rtp_recv_stats_init(&s, SSRC, 90000);
    feed(&s, 0, 0);
    feed(&s, 1, 1);
    uint64_t ntp = 0xe1234567abcd0000ULL;
    rtp_recv_stats_on_sr(&s, ntp, 10 * 1000 * MS);
    assert_int_equal(rtp_recv_stats_report(&s, 10 * 1000 * MS + 1500 * MS, &rb), 0);
    assert_int_equal(rb.lsr, 0x4567abcd);
    assert_int_equal(rb.dlsr, 0x18000); /* 1.5 s in 1/65536 s */
}

static void test_rtt(void **state)
{
    (void)state;
    rtp_rtt r;
    rtp_rtt_init(&r);
    assert_true(r.latest_us < 0);
    uint64_t ntp = rtcp_ntp_from_us(1700000000ULL * 1000000);
    rtp_rtt_on_sr_sent(&r, ntp, 1000 * MS);
    /* Peer held it 200 ms; answer arrives 250 ms after sending: RTT 50 ms
     * (give or take the 1/65536 s resolution of DLSR). */
    rtcp_report_block rb = {.ssrc = SSRC, .lsr = rtcp_ntp_compact(ntp),
                            .dlsr = rtcp_compact_from_us(200 * MS)};
    int64_t rtt = rtp_rtt_on_report(&r, &rb, 1250 * MS);
    assert_in_range(rtt, 50 * MS - 20, 50 * MS + 20);
    assert_int_equal(r.latest_us, rtt);
    assert_int_equal(r.smoothed_us, rtt);
    /* Second sample: smoothed moves by an eighth. */
    uint64_t ntp2 = ntp + (1ULL << 32);
    rtp_rtt_on_sr_sent(&r, ntp2, 2000 * MS);
    rb.lsr = rtcp_ntp_compact(ntp2);
    rb.dlsr = 0;
    assert_int_equal(rtp_rtt_on_report(&r, &rb, 2130 * MS), 130 * MS);
    assert_int_equal(r.smoothed_us, (7 * rtt + 130 * (int64_t)MS) / 8);
    /* The first SR is still remembered. */
    rb.lsr = rtcp_ntp_compact(ntp);
    assert_int_equal(rtp_rtt_on_report(&r, &rb, 2100 * MS), 1100 * MS);
    /* A DLSR larger than the elapsed time gives 0, not a negative RTT. */
    rb.dlsr = rtcp_compact_from_us(5000 * MS);
    assert_int_equal(rtp_rtt_on_report(&r, &rb, 2100 * MS), 0);
    /* No SR echoed, or one we never sent. */
    rb.lsr = 0;
    assert_int_equal(rtp_rtt_on_report(&r, &rb, 2100 * MS), J_ENOTFOUND);
    rb.lsr = 0x12345678;
    assert_int_equal(rtp_rtt_on_report(&r, &rb, 2100 * MS), J_ENOTFOUND);
    /* After RTP_RTT_SR_LOG more SRs the first is forgotten. */
    for (int i = 0; i < RTP_RTT_SR_LOG; i++)
        rtp_rtt_on_sr_sent(&r, ntp + ((uint64_t)(i + 2) << 32), (3000 + 1000 * (uint64_t)i) * MS);
    rb.lsr = rtcp_ntp_compact(ntp);
    assert_int_equal(rtp_rtt_on_report(&r, &rb, 20000 * MS), J_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probation),
        cmocka_unit_test(test_loss_and_fraction_per_interval),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_reorder_and_duplicates),
        cmocka_unit_test(test_restart_after_confirmed_jump),
        cmocka_unit_test(test_cumulative_lost_clamped),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_jitter_48k_with_timestamp_wrap),
        cmocka_unit_test(test_lsr_dlsr),
        cmocka_unit_test(test_rtt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
