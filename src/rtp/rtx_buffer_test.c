/* rtx_buffer_test.c - store and look up by sequence number: wraparound
 * 65535 -> 0, the byte arena's laps and its end, a slow stream's shorter laps,
 * overwritten and stale slots, eviction by age, late packets, every size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "rtp/rtx_buffer.h"

#define MS 1000ULL
#define AGE (1000 * MS)
#define ROOMY ((size_t)1 << 20) /* bytes: never the limit in tests about slots or age */

/* A recognisable packet for seq: its bytes are derived from seq and len. */
static size_t make_pkt(uint8_t *buf, uint16_t seq, size_t len)
{
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(seq * 7 + i);
    return len;
}

static void put(rtp_rtx_buffer *b, uint16_t seq, size_t len, uint64_t now_us)
{
    uint8_t pkt[RTP_RTX_BUFFER_PKT_MAX];
    assert_int_equal(rtp_rtx_buffer_put(b, seq, pkt, make_pkt(pkt, seq, len), now_us), 0);
}

static void expect(const rtp_rtx_buffer *b, uint16_t seq, size_t len, uint64_t now_us)
{
    uint8_t want[RTP_RTX_BUFFER_PKT_MAX];
    rtp_rtx_pkt got;
    assert_int_equal(rtp_rtx_buffer_get(b, seq, now_us, &got), 0);
    assert_int_equal(got.len, len);
    make_pkt(want, seq, len);
    assert_memory_equal(got.data, want, len);
}

static void expect_missing(const rtp_rtx_buffer *b, uint16_t seq, uint64_t now_us)
{
    rtp_rtx_pkt got;
    assert_int_equal(rtp_rtx_buffer_get(b, seq, now_us, &got), J_ENOTFOUND);
}

static void test_store_and_lookup(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(ROOMY, 1024, AGE);
    assert_non_null(b);
    expect_missing(b, 0, 0); /* empty slot, even for seq 0 */
    put(b, 1000, 1200, 5 * MS);
    put(b, 1001, 1500, 6 * MS);
    expect(b, 1000, 1200, 10 * MS);
    expect(b, 1001, 1500, 10 * MS);
    rtp_rtx_pkt got;
    assert_int_equal(rtp_rtx_buffer_get(b, 1001, 10 * MS, &got), 0);
    assert_int_equal(got.stored_us, 6 * MS);
    expect_missing(b, 1002, 10 * MS);
    rtp_rtx_buffer_free(b);
}

static void test_sequence_wraparound(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(ROOMY, 1024, AGE);
    assert_non_null(b);
    /* 65534, 65535 sit in the last slots, 0 and 1 in the first. */
    for (uint16_t s = 65530, i = 0; i < 8; s++, i++) put(b, s, 100 + i, i * MS);
    for (uint16_t s = 65530, i = 0; i < 8; s++, i++) expect(b, s, 100 + i, 10 * MS);
    expect_missing(b, 2, 10 * MS);
    expect_missing(b, 65529, 10 * MS);
    /* Lapping the index replaces the oldest: 65535 + 1024 = 1023. */
    put(b, 1023, 50, 20 * MS);
    expect(b, 1023, 50, 20 * MS);
    expect_missing(b, 65535, 20 * MS);
    expect(b, 65534, 104, 20 * MS);
    rtp_rtx_buffer_free(b);
}

/* Packets of 1000 bytes in 4000: each lap of the arena overwrites the copies of one lap
 * before, though their slots still name them. */
static void test_arena_laps(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(4000, 64, AGE);
    assert_non_null(b);
    for (uint16_t s = 0; s < 4; s++) put(b, s, 1000, 0);
    for (uint16_t s = 0; s < 4; s++) expect(b, s, 1000, 0); /* exactly full */
    for (uint16_t s = 4; s < 40; s++) {
        put(b, s, 1000, 0);
        for (uint16_t k = 0; k <= s; k++) {
            if (s - k < 4)
                expect(b, k, 1000, 0);
            else
                expect_missing(b, k, 0);
        }
    }
    /* Overwriting only the first byte of a copy is enough to lose it. */
    put(b, 40, 1, 0);
    expect_missing(b, 36, 0);
    expect(b, 37, 1000, 0);
    expect(b, 40, 1, 0);
    rtp_rtx_buffer_free(b);
}

/* A packet that does not fit before the arena's end starts again at its beginning, whole. */
static void test_packet_past_the_arena_end(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(4000, 64, AGE);
    assert_non_null(b);
    put(b, 0, 1500, 0); /* [0, 1500) */
    put(b, 1, 1500, 0); /* [1500, 3000) */
    put(b, 2, 1500, 0); /* 1000 bytes left at the end: goes to [0, 1500) */
    expect_missing(b, 0, 0);
    expect(b, 1, 1500, 0);
    expect(b, 2, 1500, 0);
    put(b, 3, 1, 0); /* [1500, 1501): the first byte of 1 */
    expect_missing(b, 1, 0);
    expect(b, 2, 1500, 0);
    expect(b, 3, 1, 0);
    put(b, 4, 1499, 0); /* [1501, 3000) */
    put(b, 5, 1000, 0); /* [3000, 4000): ending exactly at the end fits */
    expect(b, 2, 1500, 0);
    expect(b, 4, 1499, 0);
    expect(b, 5, 1000, 0);
    put(b, 6, 1, 0); /* [0, 1) of the next lap: the first byte of 2 */
    expect_missing(b, 2, 0);
    expect(b, 4, 1499, 0);
    expect(b, 5, 1000, 0);
    expect(b, 6, 1, 0);
    rtp_rtx_buffer_free(b);
}

/* A stream slower than capacity / max age goes back to the arena's start as soon as what it
 * would overwrite there has expired, keeping its younger packets; a fast one runs to the end. */
static void test_slow_stream_reuses_the_arena_start(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(ROOMY, 1024, AGE);
    assert_non_null(b);
    rtp_rtx_pkt first, got;
    for (uint16_t s = 0; s < 10; s++) put(b, s, 1000, s * 100 * MS); /* 10 kB/s */
    assert_int_equal(rtp_rtx_buffer_get(b, 0, 0, &first), 0);
    /* Packet 1, the newest starting in the first 1500 bytes, is 1 s old at 1.1 s: not yet. */
    put(b, 10, 1000, 1100 * MS);
    assert_int_equal(rtp_rtx_buffer_get(b, 10, 1100 * MS, &got), 0);
    assert_ptr_equal(got.data, first.data + 10000);
    /* Just after, it has expired: back to the start, over packet 0 (1 has expired too). */
    put(b, 11, 1000, 1100 * MS + 1);
    assert_int_equal(rtp_rtx_buffer_get(b, 11, 1100 * MS + 1, &got), 0);
    assert_ptr_equal(got.data, first.data);
    expect_missing(b, 1, 1100 * MS + 1);
    for (uint16_t s = 2; s <= 11; s++) expect(b, s, 1000, 1100 * MS + 1);
    /* The lap goes on after packet 11 while the start is fresh. */
    put(b, 12, 1000, 1150 * MS);
    assert_int_equal(rtp_rtx_buffer_get(b, 12, 1150 * MS, &got), 0);
    assert_ptr_equal(got.data, first.data + 1000);
    expect(b, 2, 1000, 1150 * MS);
    rtp_rtx_buffer_free(b);
}

/* Every size from 1 to the maximum, up and back down, through an arena of an odd size: each
 * copy comes back whole, and so does the one before it (any two fit side by side). */
static void test_every_size(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(3 * RTP_RTX_BUFFER_PKT_MAX + 7, 4096, AGE);
    assert_non_null(b);
    uint16_t seq = 0;
    size_t prev_len = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 1; i <= RTP_RTX_BUFFER_PKT_MAX; i++, seq++) {
            size_t len = pass == 0 ? i : RTP_RTX_BUFFER_PKT_MAX + 1 - i;
            put(b, seq, len, 0);
            expect(b, seq, len, 0);
            if (prev_len) expect(b, (uint16_t)(seq - 1), prev_len, 0);
            prev_len = len;
        }
    }
    rtp_rtx_buffer_free(b);
}

static void test_exact_sequence_number(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(ROOMY, 16, AGE);
    assert_non_null(b);
    put(b, 5, 10, 0);
    put(b, 5 + 16, 20, 1 * MS);
    /* Same slot, different number: the old one is gone, not confused. */
    expect_missing(b, 5, 2 * MS);
    expect(b, 21, 20, 2 * MS);
    /* The same 16-bit number a full cycle later is a different packet: the old
     * copy is long expired by then. */
    put(b, 7, 30, 0);
    expect_missing(b, 7, 5000 * MS);
    rtp_rtx_buffer_free(b);
}

static void test_eviction_by_age(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(ROOMY, 1024, AGE);
    assert_non_null(b);
    put(b, 300, 100, 100 * MS);
    expect(b, 300, 100, 100 * MS + AGE);
    expect_missing(b, 300, 100 * MS + AGE + 1);
    /* A clock that has not moved past the store time still finds it. */
    expect(b, 300, 100, 50 * MS);
    rtp_rtx_buffer_free(b);
}

static void test_overwrite_and_late_packets(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(4000, 16, AGE);
    assert_non_null(b);
    uint8_t pkt[64];
    /* The same number again (a repeated packet): the newer copy wins. */
    put(b, 9, 10, 0);
    put(b, 9, 40, 1 * MS);
    expect(b, 9, 40, 2 * MS);
    /* A very late packet must not evict a fresh newer one in its slot. */
    put(b, 9 + 16, 12, 3 * MS);
    assert_int_equal(rtp_rtx_buffer_put(b, 9, pkt, make_pkt(pkt, 9, 10), 4 * MS), J_ESTATE);
    expect(b, 25, 12, 4 * MS);
    /* Once that one has expired, the slot is free again. */
    assert_int_equal(rtp_rtx_buffer_put(b, 9, pkt, make_pkt(pkt, 9, 10), 4 * MS + AGE), 0);
    expect(b, 9, 10, 4 * MS + AGE);
    /* Or once newer packets have overwritten its bytes. */
    put(b, 10 + 16, 12, 5 * MS + AGE);
    for (uint16_t s = 100; s < 104; s++) put(b, s, 1000, 5 * MS + AGE);
    expect_missing(b, 26, 5 * MS + AGE);
    assert_int_equal(rtp_rtx_buffer_put(b, 10, pkt, make_pkt(pkt, 10, 10), 5 * MS + AGE), 0);
    expect(b, 10, 10, 5 * MS + AGE);
    rtp_rtx_buffer_free(b);
}

static void test_sizes(void **state)
{
    (void)state;
    assert_null(rtp_rtx_buffer_new(ROOMY, 0, AGE));
    assert_null(rtp_rtx_buffer_new(ROOMY, 1000, AGE));
    assert_null(rtp_rtx_buffer_new(ROOMY, 65536, AGE));
    assert_null(rtp_rtx_buffer_new(RTP_RTX_BUFFER_PKT_MAX - 1, 16, AGE)); /* a packet must fit */
    assert_null(rtp_rtx_buffer_new(RTP_RTX_BUFFER_MAX_CAPACITY + 1, 16, AGE));
    rtp_rtx_buffer_free(NULL);
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(RTP_RTX_BUFFER_PKT_MAX, 1, AGE);
    assert_non_null(b);
    uint8_t pkt[RTP_RTX_BUFFER_PKT_MAX + 1];
    memset(pkt, 0xab, sizeof pkt);
    assert_int_equal(rtp_rtx_buffer_put(b, 1, pkt, 0, 0), J_EINVAL);
    assert_int_equal(rtp_rtx_buffer_put(b, 1, pkt, sizeof pkt, 0), J_EINVAL);
    expect_missing(b, 1, 0);
    assert_int_equal(rtp_rtx_buffer_put(b, 1, pkt, RTP_RTX_BUFFER_PKT_MAX, 0), 0);
    rtp_rtx_pkt got;
    assert_int_equal(rtp_rtx_buffer_get(b, 1, 0, &got), 0);
    assert_int_equal(got.len, RTP_RTX_BUFFER_PKT_MAX);
    rtp_rtx_buffer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_and_lookup),
        cmocka_unit_test(test_sequence_wraparound),
        cmocka_unit_test(test_arena_laps),
        cmocka_unit_test(test_packet_past_the_arena_end),
        cmocka_unit_test(test_slow_stream_reuses_the_arena_start),
        cmocka_unit_test(test_every_size),
        cmocka_unit_test(test_exact_sequence_number),
        cmocka_unit_test(test_eviction_by_age),
        cmocka_unit_test(test_overwrite_and_late_packets),
        cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
