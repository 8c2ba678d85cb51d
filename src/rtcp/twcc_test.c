/* twcc_test.c - transport-wide congestion control feedback: an annotated
 * packet with every chunk kind and both delta sizes, the writer's chunk
 * choices, 65535-status feedback, malformed inputs and writer errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "rtcp/rtcp.h"

/* Statuses 100..127: S = received with small delta, L = large, N = lost.
 *   100-114 S (1 ms apart)  115 L (+100 ms)  116 N  117 S  118 L (-1 ms)
 *   119 N  120 N  121 S  122 S  123 N  124 S (+63.75 ms)  125 S (+0)  126 N  127 S */
static const uint8_t twcc_pkt[] = {
    0xaf, 0xcd, 0x00, 0x0c, /* V=2 P=1 FMT=15 | PT=205 RTPFB | length=12 (52 bytes) */
    0xfa, 0x17, 0xfa, 0x17, /* SSRC of packet sender */
    0x12, 0x34, 0x56, 0x78, /* SSRC of media source */
    0x00, 0x64, 0x00, 0x1c, /* base sequence number 100 | packet status count 28 */
    0x00, 0x03, 0xe8, 0x05, /* reference time 1000 (x 64 ms = 64 s) | fb pkt count 5 */
    0x20, 0x0f, 0xe1, 0x81, /* run length: S x 15 (100-114) | 2-bit vector L N S L N N S (115-121) */
    0xad, 0x00, 0x04, 0x04, /* 1-bit vector 1 0 1 1 0 1 (122-127) | deltas 100, 101: 4 (1 ms) */
    0x04, 0x04, 0x04, 0x04, /* deltas 102-105 */
    0x04, 0x04, 0x04, 0x04, /* deltas 106-109 */
    0x04, 0x04, 0x04, 0x04, /* deltas 110-113 */
    0x04, 0x01, 0x90, 0x04, /* delta 114 | 115: large 400 (+100 ms) | 117: 4 */
    0xff, 0xfc, 0x01, 0x04, /* 118: large -4 (-1 ms) | 121: 1 (0.25 ms) | 122: 4 */
    0xff, 0x00, 0x02, 0x01, /* 124: 255 | 125: 0 | 127: 2 | RTCP padding count 1 */
};

#define T0 64000000ULL /* reference time 1000 x 64 ms */

static const rtcp_twcc_rx example_rx[] = {
    {100, true, T0 + 1000},   {101, true, T0 + 2000},   {102, true, T0 + 3000},
    {103, true, T0 + 4000},   {104, true, T0 + 5000},   {105, true, T0 + 6000},
    {106, true, T0 + 7000},   {107, true, T0 + 8000},   {108, true, T0 + 9000},
    {109, true, T0 + 10000},  {110, true, T0 + 11000},  {111, true, T0 + 12000},
    {112, true, T0 + 13000},  {113, true, T0 + 14000},  {114, true, T0 + 15000},
    {115, true, T0 + 115000}, {116, false, 0},          {117, true, T0 + 116000},
    {118, true, T0 + 115000}, {119, false, 0},          {120, false, 0},
    {121, true, T0 + 115250}, {122, true, T0 + 116250}, {123, false, 0},
    {124, true, T0 + 180000}, {125, true, T0 + 180000}, {126, false, 0},
    {127, true, T0 + 180500},
};
#define EXAMPLE_N (sizeof example_rx / sizeof example_rx[0])

static rtcp_twcc_rx big_rx[65535];
static rtcp_twcc_pkt big_pkts[65535];

static void parse_twcc(rtcp_twcc *m, const uint8_t *buf, size_t len)
{
    rtcp_header h;
    assert_int_equal(rtcp_header_parse(&h, buf, len), (int)len);
    assert_int_equal(rtcp_twcc_parse(m, &h), 0);
}

static void test_parse_example(void **state)
{
    (void)state;
    rtcp_twcc m;
    parse_twcc(&m, twcc_pkt, sizeof twcc_pkt);
    assert_int_equal(m.sender_ssrc, 0xfa17fa17);
    assert_int_equal(m.media_ssrc, 0x12345678);
    assert_int_equal(m.base_seq, 100);
    assert_int_equal(m.status_count, 28);
    assert_int_equal(m.ref_time, 1000);
    assert_int_equal(m.fb_pkt_count, 5);
    assert_int_equal(m.chunks_len, 6);
    assert_int_equal(m.deltas_len, 25);
    assert_int_equal(m.received_count, 23);

    rtcp_twcc_pkt pkts[28];
    assert_int_equal(rtcp_twcc_expand(&m, pkts, 28), 28);
    for (size_t i = 0; i < EXAMPLE_N; i++) {
        assert_int_equal(pkts[i].seq, example_rx[i].seq);
        assert_int_equal(pkts[i].received, example_rx[i].received);
        if (pkts[i].received) assert_true(pkts[i].recv_us == (int64_t)example_rx[i].arrival_us);
    }
    assert_int_equal(pkts[0].status, RTCP_TWCC_SMALL_DELTA);
    assert_int_equal(pkts[0].delta_us, 1000);
    assert_int_equal(pkts[15].status, RTCP_TWCC_LARGE_DELTA);
    assert_int_equal(pkts[15].delta_us, 100000);
    assert_int_equal(pkts[16].status, RTCP_TWCC_NOT_RECEIVED);
    assert_int_equal(pkts[16].delta_us, 0);
    assert_int_equal(pkts[18].status, RTCP_TWCC_LARGE_DELTA);
    assert_int_equal(pkts[18].delta_us, -1000);
    assert_int_equal(pkts[24].delta_us, 63750);
    assert_int_equal(pkts[25].delta_us, 0);
    assert_int_equal(pkts[27].delta_us, 500);

    assert_int_equal(rtcp_twcc_expand(&m, pkts, 27), J_ESHORTBUF);
}

/* Round trip through the writer and parser, checking statuses and times. */
static void roundtrip(const rtcp_twcc_rx *rx, size_t n, uint16_t want_count)
{
    static uint8_t buf[65536 * 4];
    rtcp_twcc_fb fb = {.sender_ssrc = 1, .media_ssrc = 2, .fb_pkt_count = 9, .pkts = rx,
                       .pkt_count = n};
    int size = rtcp_twcc_size(&fb);
    assert_true(size > 0);
    assert_int_equal(rtcp_twcc_write(&fb, buf, sizeof buf), size);
    rtcp_twcc m;
    parse_twcc(&m, buf, (size_t)size);
    assert_int_equal(m.status_count, want_count);
    assert_int_equal(m.base_seq, rx[0].seq);
    assert_int_equal(rtcp_twcc_expand(&m, big_pkts, 65535), want_count);
    size_t j = 0;
    int64_t off = 0;
    bool have_off = false;
    for (uint32_t i = 0; i < want_count; i++) {
        const rtcp_twcc_pkt *p = &big_pkts[i];
        assert_int_equal(p->seq, (uint16_t)(rx[0].seq + i));
        bool listed = j < n && rx[j].seq == p->seq;
        bool received = listed && rx[j].received;
        assert_int_equal(p->received, received);
        if (received) {
            /* Times come back in the feedback's base: compare offsets. */
            if (!have_off) {
                off = (int64_t)rx[j].arrival_us - p->recv_us;
                have_off = true;
            }
            assert_true(p->recv_us + off == (int64_t)rx[j].arrival_us);
        }
        if (listed) j++;
    }
    assert_int_equal(j, n);
}

static void test_write_example(void **state)
{
    (void)state;
    rtcp_twcc_fb fb = {.sender_ssrc = 0xfa17fa17, .media_ssrc = 0x12345678, .fb_pkt_count = 5,
                       .pkts = example_rx, .pkt_count = EXAMPLE_N};
    uint8_t out[128];
    assert_int_equal(rtcp_twcc_size(&fb), sizeof twcc_pkt);
    assert_int_equal(rtcp_twcc_write(&fb, out, sizeof out), sizeof twcc_pkt);
    assert_memory_equal(out, twcc_pkt, sizeof twcc_pkt);
    assert_int_equal(rtcp_twcc_write(&fb, out, sizeof twcc_pkt - 1), J_ESHORTBUF);

    /* Leaving the lost packets out of the list gives the same packet: gaps
     * are reported as not received. */
    rtcp_twcc_rx received[EXAMPLE_N];
    size_t n = 0;
    for (size_t i = 0; i < EXAMPLE_N; i++)
        if (example_rx[i].received) received[n++] = example_rx[i];
    fb.pkts = received;
    fb.pkt_count = n;
    memset(out, 0, sizeof out);
    assert_int_equal(rtcp_twcc_write(&fb, out, sizeof out), sizeof twcc_pkt);
    assert_memory_equal(out, twcc_pkt, sizeof twcc_pkt);

    /* Arrival times off the 250 us grid round to the nearest tick. */
    rtcp_twcc_rx odd[2] = {{7, true, T0 + 1124}, {8, true, T0 + 1126}};
    fb.pkts = odd;
    fb.pkt_count = 2;
    int w = rtcp_twcc_write(&fb, out, sizeof out);
    assert_true(w > 0);
    rtcp_twcc m;
    parse_twcc(&m, out, (size_t)w);
    rtcp_twcc_pkt pkts[2];
    assert_int_equal(rtcp_twcc_expand(&m, pkts, 2), 2);
    assert_int_equal(pkts[0].delta_us, 1000);
    assert_int_equal(pkts[1].delta_us, 250);

    /* Unix-epoch microseconds: the reference time wraps to 24 bits but the
     * deltas stay exact. */
    const uint64_t unix_us = 1700000000123456ULL;
    rtcp_twcc_rx wall[3] = {{1, true, unix_us}, {2, true, unix_us + 750}, {3, true, unix_us + 90000}};
    roundtrip(wall, 3, 3);
    fb.pkts = wall;
    fb.pkt_count = 3;
    w = rtcp_twcc_write(&fb, out, sizeof out);
    assert_true(w > 0);
    parse_twcc(&m, out, (size_t)w);
    assert_int_equal(m.ref_time, (uint32_t)((unix_us / 64000) & 0xffffff));
}

static void test_max_status_count(void **state)
{
    (void)state;
    /* 65535 received packets 250 us apart, sequence numbers wrapping: run-length
     * chunks of 8191 and one small delta each. */
    for (uint32_t i = 0; i < 65535; i++)
        big_rx[i] = (rtcp_twcc_rx){(uint16_t)(60000 + i), true, 5000000 + 250ULL * i};
    roundtrip(big_rx, 65535, 65535);
    rtcp_twcc_fb fb = {.pkts = big_rx, .pkt_count = 65535};
    /* 20 + 9 chunks + 65535 deltas, padded. */
    assert_int_equal(rtcp_twcc_size(&fb), (20 + 2 * 9 + 65535 + 3) & ~3);

    /* Only the two ends received: the 65533 lost ones in between are run-length
     * chunks, no deltas. */
    rtcp_twcc_rx ends[2] = {{65000, true, 1000}, {(uint16_t)(65000 + 65534), true, 2000}};
    roundtrip(ends, 2, 65535);

    /* A span of 65536 cannot be expressed. */
    ends[1].seq = (uint16_t)(65000 + 65535);
    fb.pkts = ends;
    fb.pkt_count = 2;
    assert_int_equal(rtcp_twcc_size(&fb), J_EINVAL);
}

static void test_chunk_choices(void **state)
{
    (void)state;
    /* Alternating small and large deltas: only 2-bit vectors work. */
    uint64_t t = 1000000;
    for (uint32_t i = 0; i < 700; i++) {
        t += (i % 2) ? 100000 : 1000;
        big_rx[i] = (rtcp_twcc_rx){(uint16_t)i, true, t};
    }
    roundtrip(big_rx, 700, 700);
    rtcp_twcc_fb fb = {.pkts = big_rx, .pkt_count = 700};
    /* 100 chunks, 350 small + 350 large deltas. */
    assert_int_equal(rtcp_twcc_size(&fb), (20 + 200 + 350 + 700 + 3) & ~3);

    /* Alternating received/lost: 1-bit vectors of 14. */
    for (uint32_t i = 0; i < 700; i++) big_rx[i] = (rtcp_twcc_rx){(uint16_t)i, i % 2 == 0, 1000ULL * i};
    roundtrip(big_rx, 700, 700);
    assert_int_equal(rtcp_twcc_size(&fb), (20 + 2 * 50 + 350 + 3) & ~3);

    /* Negative and large deltas at the limits of 16 bits. */
    rtcp_twcc_rx edge[4] = {{1, true, 10000000}, {2, true, 10000000 + 32767ULL * 250},
                            {3, true, 10000000 + 32767ULL * 250 - 32768ULL * 250},
                            {4, true, 10000000}};
    roundtrip(edge, 4, 4);
}

static void test_writer_errors(void **state)
{
    (void)state;
    uint8_t out[256];
    rtcp_twcc_fb fb = {.pkts = NULL, .pkt_count = 0};
    assert_int_equal(rtcp_twcc_size(&fb), J_EINVAL);

    rtcp_twcc_rx dup[2] = {{5, true, 1000}, {5, true, 2000}};
    fb.pkts = dup;
    fb.pkt_count = 2;
    assert_int_equal(rtcp_twcc_write(&fb, out, sizeof out), J_EINVAL);

    /* 10 s between packets exceeds a 16-bit delta (8.19 s): caller splits. */
    rtcp_twcc_rx gap[2] = {{5, true, 1000}, {6, true, 10001000}};
    fb.pkts = gap;
    assert_int_equal(rtcp_twcc_write(&fb, out, sizeof out), J_EINVAL);

    /* Nothing received: reference time 0, all lost. */
    rtcp_twcc_rx lost[3] = {{9, false, 0}, {10, false, 0}, {11, false, 0}};
    fb.pkts = lost;
    fb.pkt_count = 3;
    int w = rtcp_twcc_write(&fb, out, sizeof out);
    assert_int_equal(w, 24);
    rtcp_twcc m;
    parse_twcc(&m, out, (size_t)w);
    assert_int_equal(m.received_count, 0);
    assert_int_equal(m.ref_time, 0);
}

/* ---- malformed ------------------------------------------------------------- */

typedef struct {
    const char *name;
    uint8_t bytes[40];
    size_t len;
    int want;
} twcc_case;

#define TWCC_HDR(words) 0x8f, 0xcd, 0x00, (words), 0, 0, 0, 1, 0, 0, 0, 2

static const twcc_case malformed[] = {
    {"FCI shorter than 8", {TWCC_HDR(3), 0, 1, 0, 1}, 16, J_EMALFORMED},
    {"status count 0", {TWCC_HDR(5), 0, 1, 0, 0, 0, 0, 0, 0, 0x20, 0x01, 0, 0}, 24,
     J_EMALFORMED},
    {"status count beyond chunks", {TWCC_HDR(5), 0, 1, 0, 3, 0, 0, 0, 0, 0x00, 0x02, 0, 0}, 24,
     J_EMALFORMED},
    {"65535 statuses, one run", {TWCC_HDR(5), 0, 1, 0xff, 0xff, 0, 0, 0, 0, 0x1f, 0xff, 0, 0},
     24, J_EMALFORMED},
    {"deltas beyond buffer", {TWCC_HDR(5), 0, 1, 0, 3, 0, 0, 0, 0, 0x20, 0x03, 1, 1}, 24,
     J_EMALFORMED},
    {"large delta cut", {TWCC_HDR(5), 0, 1, 0, 2, 0, 0, 0, 0, 0x40, 0x02, 0, 1}, 24,
     J_EMALFORMED},
    {"reserved symbol in run", {TWCC_HDR(5), 0, 1, 0, 1, 0, 0, 0, 0, 0x60, 0x01, 0, 0}, 24,
     J_EMALFORMED},
    {"reserved symbol in 2-bit vector", {TWCC_HDR(5), 0, 1, 0, 2, 0, 0, 0, 0, 0xf0, 0x00, 0, 0},
     24, J_EMALFORMED},
    {"wrong FMT", {0x81, 0xcd, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 1, 0, 0, 0, 0, 0x00,
                   0x01, 0, 0},
     24, J_EINVAL},
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        rtcp_header h;
        rtcp_twcc m;
        int rc = rtcp_header_parse(&h, malformed[i].bytes, malformed[i].len);
        if (rc != (int)malformed[i].len) fail_msg("%s: framing %d", malformed[i].name, rc);
        rc = rtcp_twcc_parse(&m, &h);
        if (rc != malformed[i].want)
            fail_msg("%s: got %d, want %d", malformed[i].name, rc, malformed[i].want);
    }
}

static void test_edge_accepts(void **state)
{
    (void)state;
    /* Symbols past the status count in the last vector are ignored, even
     * reserved ones; zero padding without the P bit is tolerated. */
    static const uint8_t pkt[] = {
        0x8f, 0xcd, 0x00, 0x05, /* V=2 P=0 FMT=15 | PT=205 | length=5 */
        0x00, 0x00, 0x00, 0x01, /* SSRC of packet sender */
        0x00, 0x00, 0x00, 0x02, /* SSRC of media source */
        0xff, 0xff, 0x00, 0x02, /* base seq 65535 | status count 2 */
        0xff, 0xff, 0xff, 0x00, /* reference time 0xffffff | fb pkt count 0 */
        0xe7, 0xff, 0x08, 0x00, /* 2-bit vector: L S then reserved junk | delta 0x0800 */
        0x10, 0x00, 0x00, 0x00, /* small delta 16 | zero padding */
    };
    rtcp_header h;
    assert_int_equal(rtcp_header_parse(&h, pkt, 24), 24);
    rtcp_twcc m;
    /* Only 24 of 28 bytes framed: the small delta is missing. */
    assert_int_equal(rtcp_twcc_parse(&m, &h), J_EMALFORMED);
    uint8_t fixed[sizeof pkt];
    memcpy(fixed, pkt, sizeof pkt);
    fixed[3] = 0x06;
    parse_twcc(&m, fixed, sizeof fixed);
    rtcp_twcc_pkt p[2];
    assert_int_equal(rtcp_twcc_expand(&m, p, 2), 2);
    assert_int_equal(p[0].seq, 65535);
    assert_int_equal(p[0].delta_us, 0x800 * 250);
    assert_int_equal(p[1].seq, 0);
    assert_int_equal(p[1].delta_us, 16 * 250);
    assert_true(p[1].recv_us == 0xffffffLL * 64000 + (0x800 + 16) * 250);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_example),  cmocka_unit_test(test_write_example),
        cmocka_unit_test(test_max_status_count), cmocka_unit_test(test_chunk_choices),
        cmocka_unit_test(test_writer_errors),  cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_edge_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
