/* rtx_test.c - RTX payload format (RFC 4588 §4): wrap, unwrap, padding, short buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "rtp/rtp.h"

/* An RTX packet as a browser sends it: PT 97 (apt=96), RTX seq 7, RTX SSRC 0x0000abcd,
 * a one-byte MID extension "1", OSN 65535, the original's payload. */
static const uint8_t rtx_packet[] = {
    0x90, 0xe1, 0x00, 0x07,  /* V=2 X=1 | M=1 PT=97 | RTX seq 7 */
    0x00, 0x01, 0x5f, 0x90,  /* timestamp 90000 (the original's) */
    0x00, 0x00, 0xab, 0xcd,  /* RTX SSRC */
    0xbe, 0xde, 0x00, 0x01,  /* one-byte extensions, 1 word */
    0x10, 0x31, 0x00, 0x00,  /* id 1 (MID), len 1: "1", padding */
    0xff, 0xff,              /* OSN 65535 */
    0xaa, 0xbb, 0xcc,        /* original payload */
};

/* The original it carries: PT 96, seq 65535, media SSRC 0x00001234. */
static const uint8_t original_packet[] = {
    0x90, 0xe0, 0xff, 0xff,  /* V=2 X=1 | M=1 PT=96 | seq 65535 */
    0x00, 0x01, 0x5f, 0x90,  /* timestamp 90000 */
    0x00, 0x00, 0x12, 0x34,  /* media SSRC */
    0xbe, 0xde, 0x00, 0x01,
    0x10, 0x31, 0x00, 0x00,
    0xaa, 0xbb, 0xcc,
};

static void test_wrap_writes_osn_before_the_payload(void **state)
{
    (void)state;
    static const uint8_t payload[] = {0xaa, 0xbb, 0xcc};
    rtp_ext_elem mid = {.id = 1, .data = (const uint8_t *)"1", .len = 1};
    rtp_header_out h = {.marker = true, .payload_type = 97, .seq = 7, .timestamp = 90000,
                        .ssrc = 0xabcd};
    uint8_t buf[64];
    int n = rtp_rtx_wrap(&h, &mid, 1, 65535, payload, sizeof payload, buf, sizeof buf);
    assert_int_equal(n, sizeof rtx_packet);
    assert_memory_equal(buf, rtx_packet, sizeof rtx_packet);
    assert_int_equal(rtp_rtx_wrap(&h, &mid, 1, 65535, payload, sizeof payload, buf, 21),
                     J_ESHORTBUF); /* the header fits, the OSN does not */
    assert_int_equal(rtp_rtx_wrap(&h, &mid, 1, 65535, payload, sizeof payload, buf, 24),
                     J_ESHORTBUF); /* the OSN fits, the payload does not */
}

static void test_unwrap_restores_the_original(void **state)
{
    (void)state;
    uint8_t buf[64];
    memcpy(buf, rtx_packet, sizeof rtx_packet);
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, buf, sizeof rtx_packet), J_OK);
    assert_int_equal(rtp_rtx_unwrap(buf, &p, 96, 0x1234), J_OK);
    assert_int_equal(p.len, sizeof original_packet);
    assert_memory_equal(buf, original_packet, sizeof original_packet);
    assert_int_equal(p.seq, 65535);
    assert_int_equal(p.payload_type, 96);
    assert_true(p.marker);
    assert_int_equal(p.payload_len, 3);
}

static void test_unwrap_drops_padding(void **state)
{
    (void)state;
    /* OSN 5, payload 0x42, then 3 bytes of padding (the last one is the count). */
    uint8_t buf[] = {0xa0, 0x61, 0x00, 0x01, 0, 0, 0, 9, 0, 0, 0, 2,
                     0x00, 0x05, 0x42, 0x00, 0x00, 0x03};
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, buf, sizeof buf), J_OK);
    assert_int_equal(rtp_rtx_unwrap(buf, &p, 96, 1), J_OK);
    assert_false(p.has_padding);
    assert_int_equal(p.len, 13);
    assert_int_equal(p.seq, 5);
    assert_int_equal(p.payload_len, 1);
    assert_int_equal(p.payload[0], 0x42);
}

static void test_unwrap_refuses_padding_only_and_foreign_views(void **state)
{
    (void)state;
    /* A bandwidth probe: padding only, no OSN. */
    uint8_t probe[] = {0xa0, 0x61, 0x00, 0x01, 0, 0, 0, 9, 0, 0, 0, 2, 0x00, 0x00, 0x00, 0x04};
    uint8_t copy[sizeof probe];
    memcpy(copy, probe, sizeof probe);
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, probe, sizeof probe), J_OK);
    assert_int_equal(rtp_rtx_unwrap(probe, &p, 96, 1), J_EMALFORMED);
    assert_memory_equal(probe, copy, sizeof probe);
    /* One byte of payload is no OSN either. */
    uint8_t short_pkt[] = {0x80, 0x61, 0x00, 0x01, 0, 0, 0, 9, 0, 0, 0, 2, 0x00};
    assert_int_equal(rtp_parse(&p, short_pkt, sizeof short_pkt), J_OK);
    assert_int_equal(rtp_rtx_unwrap(short_pkt, &p, 96, 1), J_EMALFORMED);
    uint8_t buf[sizeof rtx_packet];
    memcpy(buf, rtx_packet, sizeof buf);
    assert_int_equal(rtp_parse(&p, buf, sizeof buf), J_OK);
    assert_int_equal(rtp_rtx_unwrap(copy, &p, 96, 1), J_EINVAL);  /* p is not about copy */
    assert_int_equal(rtp_rtx_unwrap(buf, &p, 128, 1), J_EINVAL);  /* not a payload type */
}

static void test_wrap_then_unwrap_round_trips(void **state)
{
    (void)state;
    uint8_t payload[1000];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7);
    rtp_header_out h = {.payload_type = 103, .seq = 65535, .timestamp = 0xfffffff0u,
                        .ssrc = 0x55555555u};
    uint8_t buf[1100];
    int n = rtp_rtx_wrap(&h, NULL, 0, 0, payload, sizeof payload, buf, sizeof buf);
    assert_true(n > 0);
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, buf, (size_t)n), J_OK);
    assert_int_equal(rtp_rtx_unwrap(buf, &p, 102, 0x66666666u), J_OK);
    assert_int_equal(p.seq, 0);
    assert_int_equal(p.ssrc, 0x66666666u);
    assert_int_equal(p.timestamp, 0xfffffff0u);
    assert_int_equal(p.payload_type, 102);
    assert_int_equal(p.payload_len, sizeof payload);
    assert_memory_equal(p.payload, payload, sizeof payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_writes_osn_before_the_payload),
        cmocka_unit_test(test_unwrap_restores_the_original),
        cmocka_unit_test(test_unwrap_drops_padding),
        cmocka_unit_test(test_unwrap_refuses_padding_only_and_foreign_views),
        cmocka_unit_test(test_wrap_then_unwrap_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
