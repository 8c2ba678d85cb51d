/* demux_test.c - RFC 7983 first-byte demultiplexing table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rtp/rtp.h"

typedef struct {
    uint8_t b0, b1;
    j_packet_kind want;
} demux_case;

static void test_demux_table(void **state)
{
    (void)state;
    static const demux_case cases[] = {
        {0, 0x01, J_PACKET_STUN},       /* Binding request 0x0001 */
        {1, 0x01, J_PACKET_STUN},       /* Binding success 0x0101 */
        {3, 0x00, J_PACKET_STUN},
        {4, 0x00, J_PACKET_UNKNOWN},
        {15, 0x00, J_PACKET_UNKNOWN},
        {16, 0x00, J_PACKET_UNKNOWN},   /* ZRTP */
        {19, 0x00, J_PACKET_UNKNOWN},
        {20, 0xfe, J_PACKET_DTLS},      /* change_cipher_spec */
        {22, 0xfe, J_PACKET_DTLS},      /* handshake */
        {23, 0xfe, J_PACKET_DTLS},      /* application_data */
        {63, 0x00, J_PACKET_DTLS},
        {64, 0x00, J_PACKET_UNKNOWN},   /* TURN channel 0x4000 */
        {79, 0xff, J_PACKET_UNKNOWN},
        {80, 0x00, J_PACKET_UNKNOWN},
        {127, 0x00, J_PACKET_UNKNOWN},
        {128, 0x60, J_PACKET_RTP},      /* PT 96 */
        {0x90, 0xe0, J_PACKET_RTP},     /* M=1 PT 96 */
        {0x80, 0x00, J_PACKET_RTP},     /* PT 0 (PCMU) */
        {0x80, 0x3f, J_PACKET_RTP},     /* PT 63 */
        {0x80, 0x60 | 0x80, J_PACKET_RTP},
        {0x80, 0x7f, J_PACKET_RTP},     /* PT 127 */
        {0x80, 0xc8, J_PACKET_RTCP},    /* SR 200 */
        {0x81, 0xc9, J_PACKET_RTCP},    /* RR 201 */
        {0x81, 0xcd, J_PACKET_RTCP},    /* RTPFB 205 */
        {0x81, 0xce, J_PACKET_RTCP},    /* PSFB 206 */
        {0x80, 0xc0, J_PACKET_RTCP},    /* 192, first of the range */
        {0x80, 0xdf, J_PACKET_RTCP},    /* 223, last of the range */
        {0x80, 0xe0, J_PACKET_RTP},     /* 224: RTP with M=1, PT 96 */
        {0x80, 0xbf, J_PACKET_RTP},     /* 191: M=1, PT 63 */
        {0x80, 0x40, J_PACKET_RTCP},    /* PT 64 without marker: reserved for RTCP */
        {0x80, 0x5f, J_PACKET_RTCP},    /* PT 95 */
        {191, 0x60, J_PACKET_RTP},
        {192, 0x60, J_PACKET_UNKNOWN},  /* QUIC and others */
        {255, 0xc8, J_PACKET_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[20] = {cases[i].b0, cases[i].b1};
        j_packet_kind got = j_demux(buf, sizeof buf);
        if (got != cases[i].want)
            fail_msg("bytes %u,%u: got %s want %s", cases[i].b0, cases[i].b1,
                     j_packet_kind_name(got), j_packet_kind_name(cases[i].want));
    }
}

static void test_demux_short(void **state)
{
    (void)state;
    const uint8_t stun = 0x00, dtls = 22, rtp = 0x80;
    assert_int_equal(j_demux(NULL, 0), J_PACKET_UNKNOWN);
    assert_int_equal(j_demux(&stun, 1), J_PACKET_STUN);
    assert_int_equal(j_demux(&dtls, 1), J_PACKET_DTLS);
    /* One byte cannot tell RTP from RTCP. */
    assert_int_equal(j_demux(&rtp, 1), J_PACKET_UNKNOWN);
}

static void test_demux_names(void **state)
{
    (void)state;
    assert_string_equal(j_packet_kind_name(J_PACKET_STUN), "stun");
    assert_string_equal(j_packet_kind_name(J_PACKET_DTLS), "dtls");
    assert_string_equal(j_packet_kind_name(J_PACKET_RTP), "rtp");
    assert_string_equal(j_packet_kind_name(J_PACKET_RTCP), "rtcp");
    assert_string_equal(j_packet_kind_name(J_PACKET_UNKNOWN), "unknown");
    assert_string_equal(j_packet_kind_name((j_packet_kind)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demux_table),
        cmocka_unit_test(test_demux_short),
        cmocka_unit_test(test_demux_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
