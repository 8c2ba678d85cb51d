/* rtx_buffer_test.c - store and look up by sequence number: wraparound
 * 65535 -> 0, stale slots, eviction by age, overwrite, late packets, sizes. */
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
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(1024, AGE);
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

static void test_wraparound(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(1024, AGE);
    assert_non_null(b);
    /* 65534, 65535 sit in the last slots, 0 and 1 in the first. */
    for (uint16_t s = 65530, i = 0; i < 8; s++, i++) put(b, s, 100 + i, i * MS);
    for (uint16_t s = 65530, i = 0; i < 8; s++, i++) expect(b, s, 100 + i, 10 * MS);
    expect_missing(b, 2, 10 * MS);
    expect_missing(b, 65529, 10 * MS);
    /* Lapping the ring replaces the oldest: 65535 + 1024 = 1023. */
    put(b, 1023, 50, 20 * MS);
    expect(b, 1023, 50, 20 * MS);
    expect_missing(b, 65535, 20 * MS);
    expect(b, 65534, 104, 20 * MS);
    rtp_rtx_buffer_free(b);
}

static void test_stale_slot_refused(void **state)
{
    (void)state;
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(16, AGE);
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
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(1024, AGE);
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
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(16, AGE);
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
    rtp_rtx_buffer_free(b);
}

static void test_sizes(void **state)
{
    (void)state;
    assert_null(rtp_rtx_buffer_new(0, AGE));
    assert_null(rtp_rtx_buffer_new(1000, AGE));
    assert_null(rtp_rtx_buffer_new(65536, AGE));
    rtp_rtx_buffer_free(NULL);
    rtp_rtx_buffer *b = rtp_rtx_buffer_new(1, AGE);
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
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_stale_slot_refused),
        cmocka_unit_test(test_eviction_by_age),
        cmocka_unit_test(test_overwrite_and_late_packets),
        cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
