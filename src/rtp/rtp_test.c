/* rtp_test.c - RTP parse/write, RFC 8285 extensions, wraparound helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "rtp/rtp.h"

/* Minimal packet: V=2, no P/X/CC, PT 96, seq 0x1234, ts 12345, SSRC 0xdeadbeef. */
static const uint8_t pkt_plain[] = {
    0x80, 0x60, 0x12, 0x34,  /* V=2 P=0 X=0 CC=0 | M=0 PT=96 | seq 0x1234 */
    0x00, 0x00, 0x30, 0x39,  /* timestamp 12345 */
    0xde, 0xad, 0xbe, 0xef,  /* SSRC */
    0x01, 0x02, 0x03,        /* payload */
};

/* Two CSRCs and the marker bit. */
static const uint8_t pkt_csrc[] = {
    0x82, 0xef, 0xff, 0xff,  /* V=2 CC=2 | M=1 PT=111 | seq 65535 */
    0xff, 0xff, 0xff, 0xff,  /* timestamp */
    0x00, 0x00, 0x00, 0x01,  /* SSRC 1 */
    0x11, 0x22, 0x33, 0x44,  /* CSRC[0] */
    0x55, 0x66, 0x77, 0x88,  /* CSRC[1] */
    0xaa,                    /* payload */
};

/* One-byte extension block with padding between and after elements. */
static const uint8_t pkt_ext1[] = {
    0x90, 0x60, 0x00, 0x01,  /* V=2 X=1 | PT 96 | seq 1 */
    0x00, 0x00, 0x00, 0x02,  /* ts 2 */
    0x00, 0x00, 0x00, 0x03,  /* SSRC 3 */
    0xbe, 0xde, 0x00, 0x02,  /* profile 0xBEDE, 2 words */
    0x11, 0xaa, 0xbb,        /* id 1, len 2: aa bb */
    0x00,                    /* padding byte */
    0x30, 0xcc,              /* id 3, len 1: cc */
    0x00, 0x00,              /* padding to the word boundary */
    0xf0, 0x0d,              /* payload */
};

/* Two-byte extension block (appbits 5), with a zero-length element. */
static const uint8_t pkt_ext2[] = {
    0x90, 0x60, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x03,
    0x10, 0x05, 0x00, 0x03,  /* profile 0x1005, 3 words */
    0x01, 0x00,              /* id 1, len 0 */
    0x02, 0x03, 0xaa, 0xbb, 0xcc,  /* id 2, len 3 */
    0x00,                    /* padding byte */
    0xff, 0x01, 0xdd,        /* id 255, len 1 */
    0x00,                    /* padding */
    0x99,                    /* payload */
};

/* Padding: 4 payload bytes then 3 padding bytes, count last. */
static const uint8_t pkt_pad[] = {
    0xa0, 0x08, 0x00, 0x07,  /* V=2 P=1 | PT 8 | seq 7 */
    0x00, 0x00, 0x00, 0xa0,
    0x12, 0x34, 0x56, 0x78,
    0x01, 0x02, 0x03, 0x04,  /* payload */
    0x00, 0x00, 0x03,        /* padding, count 3 */
};

static void test_parse_plain(void **state)
{
    (void)state;
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, pkt_plain, sizeof pkt_plain), 0);
    assert_false(p.marker);
    assert_false(p.has_padding);
    assert_false(p.has_ext);
    assert_int_equal(p.payload_type, 96);
    assert_int_equal(p.seq, 0x1234);
    assert_int_equal(p.timestamp, 12345);
    assert_int_equal(p.ssrc, 0xdeadbeef);
    assert_int_equal(p.csrc_count, 0);
    assert_null(p.csrcs);
    assert_int_equal(p.ext_form, RTP_EXT_NONE);
    assert_null(p.ext);
    assert_int_equal(p.header_len, 12);
    assert_ptr_equal(p.payload, pkt_plain + 12);
    assert_int_equal(p.payload_len, 3);
    assert_int_equal(p.padding_len, 0);

    /* Header only: a valid, empty payload. */
    assert_int_equal(rtp_parse(&p, pkt_plain, 12), 0);
    assert_int_equal(p.payload_len, 0);
}

static void test_parse_csrc(void **state)
{
    (void)state;
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, pkt_csrc, sizeof pkt_csrc), 0);
    assert_true(p.marker);
    assert_int_equal(p.payload_type, 111);
    assert_int_equal(p.seq, 65535);
    assert_int_equal(p.timestamp, 0xffffffffu);
    assert_int_equal(p.ssrc, 1);
    assert_int_equal(p.csrc_count, 2);
    assert_int_equal(rtp_csrc(&p, 0), 0x11223344u);
    assert_int_equal(rtp_csrc(&p, 1), 0x55667788u);
    assert_int_equal(p.header_len, 20);
    assert_int_equal(p.payload_len, 1);
    assert_int_equal(p.payload[0], 0xaa);
}

static void test_parse_ext_one_byte(void **state)
{
    (void)state;
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, pkt_ext1, sizeof pkt_ext1), 0);
    assert_true(p.has_ext);
    assert_int_equal(p.ext_profile, 0xBEDE);
    assert_int_equal(p.ext_form, RTP_EXT_ONE_BYTE);
    assert_ptr_equal(p.ext, pkt_ext1 + 16);
    assert_int_equal(p.ext_len, 8);
    assert_int_equal(p.header_len, 24);
    assert_int_equal(p.payload_len, 2);

    rtp_ext_iter it;
    rtp_ext_elem e;
    rtp_ext_iter_init(&it, &p);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 1);
    assert_int_equal(e.id, 1);
    assert_int_equal(e.len, 2);
    assert_memory_equal(e.data, "\xaa\xbb", 2);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 1);
    assert_int_equal(e.id, 3);
    assert_int_equal(e.len, 1);
    assert_int_equal(e.data[0], 0xcc);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 0);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 0);

    const uint8_t *d;
    size_t n;
    assert_int_equal(rtp_ext_find(&p, 3, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(d[0], 0xcc);
    assert_int_equal(rtp_ext_find(&p, 2, &d, &n), J_ENOTFOUND);
}

static void test_parse_ext_one_byte_id15(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {
        0x90, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
        0xbe, 0xde, 0x00, 0x02,
        0x10, 0xaa,              /* id 1, len 1 */
        0xf3,                    /* id 15: stop here, length ignored */
        0x20, 0xbb,              /* id 2 after the stop: not reported */
        0x00, 0x00, 0x00,
    };
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, pkt, sizeof pkt), 0);
    rtp_ext_iter it;
    rtp_ext_elem e;
    rtp_ext_iter_init(&it, &p);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 1);
    assert_int_equal(e.id, 1);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 0);
    const uint8_t *d;
    size_t n;
    assert_int_equal(rtp_ext_find(&p, 2, &d, &n), J_ENOTFOUND);
    assert_int_equal(rtp_ext_find(&p, 1, &d, &n), 0);
}

static void test_parse_ext_two_byte(void **state)
{
    (void)state;
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, pkt_ext2, sizeof pkt_ext2), 0);
    assert_int_equal(p.ext_profile, 0x1005);
    assert_int_equal(p.ext_form, RTP_EXT_TWO_BYTE);
    assert_int_equal(p.ext_len, 12);
    assert_int_equal(p.header_len, 28);
    assert_int_equal(p.payload_len, 1);
    assert_int_equal(p.payload[0], 0x99);

    rtp_ext_iter it;
    rtp_ext_elem e;
    rtp_ext_iter_init(&it, &p);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 1);
    assert_int_equal(e.id, 1);
    assert_int_equal(e.len, 0);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 1);
    assert_int_equal(e.id, 2);
    assert_int_equal(e.len, 3);
    assert_memory_equal(e.data, "\xaa\xbb\xcc", 3);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 1);
    assert_int_equal(e.id, 255);
    assert_int_equal(e.len, 1);
    assert_int_equal(e.data[0], 0xdd);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 0);

    const uint8_t *d;
    size_t n = 99;
    assert_int_equal(rtp_ext_find(&p, 1, &d, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(rtp_ext_find(&p, 255, &d, &n), 0);
    assert_int_equal(n, 1);
}

static void test_parse_ext_other_profile(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {
        0x90, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
        0x12, 0x34, 0x00, 0x01,  /* unknown profile, 1 word */
        0x11, 0x22, 0x33, 0x44,  /* opaque data */
    };
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, pkt, sizeof pkt), 0);
    assert_int_equal(p.ext_form, RTP_EXT_OTHER);
    assert_int_equal(p.ext_profile, 0x1234);
    assert_int_equal(p.ext_len, 4);
    assert_ptr_equal(p.ext, pkt + 16);
    assert_int_equal(p.payload_len, 0);
    rtp_ext_iter it;
    rtp_ext_elem e;
    rtp_ext_iter_init(&it, &p);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 0);
    const uint8_t *d;
    size_t n;
    assert_int_equal(rtp_ext_find(&p, 1, &d, &n), J_ENOTFOUND);

    /* An empty RFC 8285 block (length 0) is valid and yields nothing. */
    static const uint8_t empty[] = {
        0x90, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
        0xbe, 0xde, 0x00, 0x00,
    };
    assert_int_equal(rtp_parse(&p, empty, sizeof empty), 0);
    assert_int_equal(p.ext_len, 0);
    rtp_ext_iter_init(&it, &p);
    assert_int_equal(rtp_ext_iter_next(&it, &e), 0);
}

static void test_parse_padding(void **state)
{
    (void)state;
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, pkt_pad, sizeof pkt_pad), 0);
    assert_true(p.has_padding);
    assert_int_equal(p.padding_len, 3);
    assert_int_equal(p.payload_len, 4);
    assert_memory_equal(p.payload, "\x01\x02\x03\x04", 4);

    /* Padding that fills everything after the header leaves no payload. */
    static const uint8_t all_pad[] = {
        0xa0, 0x08, 0x00, 0x07, 0x00, 0x00, 0x00, 0xa0, 0x12, 0x34, 0x56, 0x78,
        0x00, 0x00, 0x00, 0x04,
    };
    assert_int_equal(rtp_parse(&p, all_pad, sizeof all_pad), 0);
    assert_int_equal(p.padding_len, 4);
    assert_int_equal(p.payload_len, 0);
}

/* Malformed inputs: each entry is a buffer, its length and the expected code. */
typedef struct {
    const char *what;
    const uint8_t *buf;
    size_t len;
    int expect;
} bad_case;

static void test_parse_malformed(void **state)
{
    (void)state;
    static const uint8_t v0[] = {0x00, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    static const uint8_t v1[] = {0x40, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    static const uint8_t v3[] = {0xc0, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    static const uint8_t csrc_short[] = {0x82, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                                         1, 2, 3, 4, 5, 6, 7};
    static const uint8_t cc15_short[] = {0x8f, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    static const uint8_t ext_no_hdr[] = {0x90, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                                         0xbe, 0xde, 0x00};
    static const uint8_t ext_short[] = {0x90, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                                        0xbe, 0xde, 0x00, 0x02, 0x10, 0xaa, 0, 0};
    static const uint8_t ext_huge[] = {0x90, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                                       0xbe, 0xde, 0xff, 0xff, 0x10, 0xaa, 0, 0};
    static const uint8_t csrc_ext_short[] = {0x91, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                                             1, 2, 3, 4, 0xbe, 0xde};
    static const uint8_t pad_zero[] = {0xa0, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                                       0xaa, 0xbb, 0x00};
    static const uint8_t pad_big[] = {0xa0, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                                      0xaa, 0xbb, 0x04};
    static const uint8_t pad_max[] = {0xa0, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xff};
    static const uint8_t pad_none[] = {0xa0, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    /* Padding may not eat into the extension block. */
    static const uint8_t pad_into_ext[] = {0xb0, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                                           0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0, 0,
                                           0x05};
    const bad_case cases[] = {
        {"empty", pkt_plain, 0, J_ESHORT},
        {"1 byte", pkt_plain, 1, J_ESHORT},
        {"11 bytes", pkt_plain, 11, J_ESHORT},
        {"version 0", v0, sizeof v0, J_EMALFORMED},
        {"version 1", v1, sizeof v1, J_EMALFORMED},
        {"version 3", v3, sizeof v3, J_EMALFORMED},
        {"CSRC beyond buffer", csrc_short, sizeof csrc_short, J_ESHORT},
        {"CC=15 and no CSRCs", cc15_short, sizeof cc15_short, J_ESHORT},
        {"truncated CSRC list", pkt_csrc, 19, J_ESHORT},
        {"X with truncated ext header", ext_no_hdr, sizeof ext_no_hdr, J_ESHORT},
        {"ext length beyond buffer", ext_short, sizeof ext_short, J_ESHORT},
        {"ext length 0xffff", ext_huge, sizeof ext_huge, J_ESHORT},
        {"ext header cut after CSRCs", csrc_ext_short, sizeof csrc_ext_short, J_ESHORT},
        {"one-byte ext truncated", pkt_ext1, 23, J_ESHORT},
        {"two-byte ext truncated", pkt_ext2, 16, J_ESHORT},
        {"padding count 0", pad_zero, sizeof pad_zero, J_EMALFORMED},
        {"padding count > payload", pad_big, sizeof pad_big, J_EMALFORMED},
        {"padding count 255, 1 byte after header", pad_max, sizeof pad_max, J_EMALFORMED},
        {"P bit, nothing after header", pad_none, sizeof pad_none, J_EMALFORMED},
        {"padding reaching into the extension", pad_into_ext, sizeof pad_into_ext,
         J_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rtp_pkt p;
        int rc = rtp_parse(&p, cases[i].buf, cases[i].len);
        if (rc != cases[i].expect)
            fail_msg("%s: got %d, want %d", cases[i].what, rc, cases[i].expect);
    }

    /* Every truncation of a valid packet with CSRC + extension fails cleanly. */
    for (size_t n = 0; n < 24; n++) {
        rtp_pkt p;
        assert_int_equal(rtp_parse(&p, pkt_ext1, n), J_ESHORT);
    }
}

/* Elements that overrun the extension block (though not the buffer). */
static void test_ext_malformed(void **state)
{
    (void)state;
    static const uint8_t one_overrun[] = {
        0x90, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
        0xbe, 0xde, 0x00, 0x01,
        0x13, 0xaa, 0xbb, 0xcc,  /* id 1 says 4 bytes, the block has 3 left */
        0xdd, 0xee,              /* payload, which must not be read as ext data */
    };
    static const uint8_t two_overrun[] = {
        0x90, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
        0x10, 0x00, 0x00, 0x01,
        0x01, 0x05, 0xaa, 0xbb,  /* id 1 says 5 bytes, the block has 2 left */
        0xdd, 0xee, 0xff,
    };
    static const uint8_t two_no_len[] = {
        0x90, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
        0x10, 0x00, 0x00, 0x01,
        0x01, 0x01, 0xaa, 0x07,  /* id 1 ok, then id 7 with its length outside */
        0x02,
    };
    static const uint8_t one_ok_then_bad[] = {
        0x90, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
        0xbe, 0xde, 0x00, 0x01,
        0x10, 0xaa, 0x21, 0xbb,  /* id 1 ok, id 2 needs 2 bytes, 1 left */
        0xcc,
    };
    struct {
        const uint8_t *buf;
        size_t len;
        int good_before_error;
    } cases[] = {
        {one_overrun, sizeof one_overrun, 0},
        {two_overrun, sizeof two_overrun, 0},
        {two_no_len, sizeof two_no_len, 1},
        {one_ok_then_bad, sizeof one_ok_then_bad, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rtp_pkt p;
        assert_int_equal(rtp_parse(&p, cases[i].buf, cases[i].len), 0);
        rtp_ext_iter it;
        rtp_ext_elem e;
        rtp_ext_iter_init(&it, &p);
        for (int k = 0; k < cases[i].good_before_error; k++) {
            assert_int_equal(rtp_ext_iter_next(&it, &e), 1);
            assert_true(e.data + e.len <= p.ext + p.ext_len);
        }
        assert_int_equal(rtp_ext_iter_next(&it, &e), J_EMALFORMED);
        assert_int_equal(rtp_ext_iter_next(&it, &e), 0);
        const uint8_t *d;
        size_t n;
        assert_int_equal(rtp_ext_find(&p, 9, &d, &n), J_EMALFORMED);
    }
    /* An id found before the bad element is still found. */
    rtp_pkt p;
    const uint8_t *d;
    size_t n;
    assert_int_equal(rtp_parse(&p, one_ok_then_bad, sizeof one_ok_then_bad), 0);
    assert_int_equal(rtp_ext_find(&p, 1, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(d[0], 0xaa);
}

/* A canonical one-byte packet (padding only at the end of the block) is
 * reproduced byte for byte by parse -> write. */
static void test_write_roundtrip_bytes(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {
        0x91, 0xe0, 0xab, 0xcd,  /* X=1 CC=1 | M=1 PT=96 | seq */
        0x01, 0x02, 0x03, 0x04,  /* ts */
        0x05, 0x06, 0x07, 0x08,  /* SSRC */
        0x0a, 0x0b, 0x0c, 0x0d,  /* CSRC */
        0xbe, 0xde, 0x00, 0x02,
        0x10, 0xaa,              /* id 1 len 1 */
        0x21, 0xbb, 0xcc,        /* id 2 len 2 */
        0x00, 0x00, 0x00,        /* padding */
        0x77, 0x88,              /* payload */
    };
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, pkt, sizeof pkt), 0);
    rtp_ext_elem exts[4];
    size_t n = 0;
    rtp_ext_iter it;
    rtp_ext_iter_init(&it, &p);
    while (rtp_ext_iter_next(&it, &exts[n]) == 1) n++;
    assert_int_equal(n, 2);
    uint32_t csrc = rtp_csrc(&p, 0);
    rtp_header_out h = {
        .marker = p.marker, .payload_type = p.payload_type, .seq = p.seq,
        .timestamp = p.timestamp, .ssrc = p.ssrc, .csrcs = &csrc, .csrc_count = 1,
    };
    uint8_t out[64];
    int hl = rtp_write_header(&h, exts, n, out, sizeof out);
    assert_int_equal(hl, (int)p.header_len);
    memcpy(out + hl, p.payload, p.payload_len);
    assert_memory_equal(out, pkt, sizeof pkt);

    /* Same for the two-byte form: canonical two-byte block. */
    static const uint8_t pkt2[] = {
        0x90, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
        0x10, 0x00, 0x00, 0x02,
        0x0f, 0x00,              /* id 15 len 0 (forces two-byte form) */
        0x02, 0x03, 0xaa, 0xbb, 0xcc,
        0x00,                    /* padding */
    };
    assert_int_equal(rtp_parse(&p, pkt2, sizeof pkt2), 0);
    n = 0;
    rtp_ext_iter_init(&it, &p);
    while (rtp_ext_iter_next(&it, &exts[n]) == 1) n++;
    assert_int_equal(n, 2);
    rtp_header_out h2 = {.payload_type = 96, .seq = 1, .timestamp = 2, .ssrc = 3};
    hl = rtp_write_header(&h2, exts, n, out, sizeof out);
    assert_int_equal(hl, (int)sizeof pkt2);
    assert_memory_equal(out, pkt2, sizeof pkt2);

    /* rtp_write_packet copies the payload after the header. */
    assert_int_equal(rtp_parse(&p, pkt, sizeof pkt), 0);
    int total = rtp_write_packet(&h, exts + 0, 0, p.payload, p.payload_len, out, sizeof out);
    assert_int_equal(total, 12 + 4 + 2);
    assert_memory_equal(out + 16, "\x77\x88", 2);
    rtp_ext_iter_init(&it, &p);
    n = 0;
    while (rtp_ext_iter_next(&it, &exts[n]) == 1) n++;
    total = rtp_write_packet(&h, exts, n, p.payload, p.payload_len, out, sizeof out);
    assert_int_equal(total, (int)sizeof pkt);
    assert_memory_equal(out, pkt, sizeof pkt);
    for (size_t cap = 0; cap < sizeof pkt; cap++)
        assert_int_equal(rtp_write_packet(&h, exts, n, p.payload, p.payload_len, out, cap),
                         J_ESHORTBUF);
    assert_int_equal(rtp_write_packet(&h, exts, n, NULL, 3, out, sizeof out), J_EINVAL);

    /* And the plain, no-extension packet. */
    assert_int_equal(rtp_parse(&p, pkt_plain, sizeof pkt_plain), 0);
    rtp_header_out h3 = {.payload_type = 96, .seq = 0x1234, .timestamp = 12345,
                         .ssrc = 0xdeadbeef};
    hl = rtp_write_header(&h3, NULL, 0, out, sizeof out);
    assert_int_equal(hl, 12);
    memcpy(out + hl, p.payload, p.payload_len);
    assert_memory_equal(out, pkt_plain, sizeof pkt_plain);
}

/* write -> parse: the fields and elements come back, in both forms. */
static void check_write_parse(const rtp_ext_elem *exts, size_t n, rtp_ext_form want_form)
{
    const uint32_t csrcs[3] = {0x01020304, 0xa0b0c0d0, 0xffffffff};
    rtp_header_out h = {
        .marker = true, .payload_type = 127, .seq = 0xfffe, .timestamp = 0x80000001u,
        .ssrc = 0xcafebabe, .csrcs = csrcs, .csrc_count = 3,
    };
    uint8_t buf[1500];
    int hl = rtp_write_header(&h, exts, n, buf, sizeof buf);
    assert_true(hl > 0);
    assert_int_equal(hl % 4, 0);
    memcpy(buf + hl, "payload", 7);

    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, buf, (size_t)hl + 7), 0);
    assert_true(p.marker);
    assert_int_equal(p.payload_type, 127);
    assert_int_equal(p.seq, 0xfffe);
    assert_int_equal(p.timestamp, 0x80000001u);
    assert_int_equal(p.ssrc, 0xcafebabe);
    assert_int_equal(p.csrc_count, 3);
    for (size_t i = 0; i < 3; i++) assert_int_equal(rtp_csrc(&p, i), csrcs[i]);
    assert_int_equal(p.header_len, (size_t)hl);
    assert_int_equal(p.payload_len, 7);
    assert_memory_equal(p.payload, "payload", 7);
    assert_int_equal(p.ext_form, want_form);

    rtp_ext_iter it;
    rtp_ext_elem e;
    rtp_ext_iter_init(&it, &p);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rtp_ext_iter_next(&it, &e), 1);
        assert_int_equal(e.id, exts[i].id);
        assert_int_equal(e.len, exts[i].len);
        if (e.len) assert_memory_equal(e.data, exts[i].data, e.len);
    }
    assert_int_equal(rtp_ext_iter_next(&it, &e), 0);

    /* Every capacity short of the header is refused without overrun. */
    for (size_t cap = 0; cap < (size_t)hl; cap++)
        assert_int_equal(rtp_write_header(&h, exts, n, buf, cap), J_ESHORTBUF);
    assert_int_equal(rtp_write_header(&h, exts, n, buf, (size_t)hl), hl);
}

static void test_write_parse(void **state)
{
    (void)state;
    static const uint8_t big[255] = {1, 2, 3};
    static const uint8_t sixteen[16] = {0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 1, 2,
                                        3, 4, 5, 6, 7, 8, 9, 10};
    check_write_parse(NULL, 0, RTP_EXT_NONE);

    rtp_ext_elem one[] = {
        {.id = 1, .data = sixteen, .len = 1},
        {.id = 14, .data = sixteen, .len = 16},
        {.id = 3, .data = sixteen, .len = 3},
    };
    check_write_parse(one, 3, RTP_EXT_ONE_BYTE);

    rtp_ext_elem id15[] = {{.id = 1, .data = sixteen, .len = 2},
                           {.id = 15, .data = sixteen, .len = 1}};
    check_write_parse(id15, 2, RTP_EXT_TWO_BYTE);

    rtp_ext_elem len0[] = {{.id = 2, .data = NULL, .len = 0}};
    check_write_parse(len0, 1, RTP_EXT_TWO_BYTE);

    rtp_ext_elem len17[] = {{.id = 2, .data = big, .len = 17}};
    check_write_parse(len17, 1, RTP_EXT_TWO_BYTE);

    rtp_ext_elem extreme[] = {{.id = 255, .data = big, .len = 255},
                              {.id = 1, .data = big, .len = 255},
                              {.id = 200, .data = NULL, .len = 0}};
    check_write_parse(extreme, 3, RTP_EXT_TWO_BYTE);
}

static void test_write_invalid(void **state)
{
    (void)state;
    uint8_t buf[256];
    static const uint8_t d[300];
    const uint32_t csrcs[16] = {0};
    rtp_header_out h = {.payload_type = 128};
    assert_int_equal(rtp_write_header(&h, NULL, 0, buf, sizeof buf), J_EINVAL);
    h.payload_type = 0;
    h.csrc_count = 16;
    h.csrcs = csrcs;
    assert_int_equal(rtp_write_header(&h, NULL, 0, buf, sizeof buf), J_EINVAL);
    h.csrc_count = 1;
    h.csrcs = NULL;
    assert_int_equal(rtp_write_header(&h, NULL, 0, buf, sizeof buf), J_EINVAL);
    h.csrc_count = 0;
    rtp_ext_elem id0 = {.id = 0, .data = d, .len = 1};
    assert_int_equal(rtp_write_header(&h, &id0, 1, buf, sizeof buf), J_EINVAL);
    rtp_ext_elem len256 = {.id = 1, .data = d, .len = 256};
    assert_int_equal(rtp_write_header(&h, &len256, 1, buf, sizeof buf), J_EINVAL);
    rtp_ext_elem nodata = {.id = 1, .data = NULL, .len = 4};
    assert_int_equal(rtp_write_header(&h, &nodata, 1, buf, sizeof buf), J_EINVAL);
    /* Padding flag sets P; the caller appends the padding. */
    h.padding = true;
    int hl = rtp_write_header(&h, NULL, 0, buf, sizeof buf);
    assert_int_equal(hl, 12);
    buf[12] = 0x55;
    buf[13] = 0x00;
    buf[14] = 0x02;
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, buf, 15), 0);
    assert_int_equal(p.padding_len, 2);
    assert_int_equal(p.payload_len, 1);
}

static void test_setters(void **state)
{
    (void)state;
    uint8_t buf[sizeof pkt_ext1];
    memcpy(buf, pkt_ext1, sizeof buf);
    buf[1] |= 0x80;  /* marker on */
    assert_int_equal(rtp_set_seq(buf, sizeof buf, 0xbeef), 0);
    assert_int_equal(rtp_set_timestamp(buf, sizeof buf, 0x11223344), 0);
    assert_int_equal(rtp_set_ssrc(buf, sizeof buf, 0x55667788), 0);
    assert_int_equal(rtp_set_payload_type(buf, sizeof buf, 100), 0);
    assert_int_equal(rtp_set_payload_type(buf, sizeof buf, 128), J_EINVAL);
    rtp_pkt p;
    assert_int_equal(rtp_parse(&p, buf, sizeof buf), 0);
    assert_int_equal(p.seq, 0xbeef);
    assert_int_equal(p.timestamp, 0x11223344);
    assert_int_equal(p.ssrc, 0x55667788);
    assert_int_equal(p.payload_type, 100);
    assert_true(p.marker);
    /* The rest of the packet is untouched. */
    assert_memory_equal(buf + 12, pkt_ext1 + 12, sizeof buf - 12);
    assert_int_equal(buf[0], pkt_ext1[0]);

    assert_int_equal(rtp_set_marker(buf, sizeof buf, false), 0);
    assert_int_equal(rtp_parse(&p, buf, sizeof buf), 0);
    assert_false(p.marker);
    assert_int_equal(p.payload_type, 100);

    assert_int_equal(rtp_set_seq(buf, 11, 1), J_ESHORT);
    assert_int_equal(rtp_set_timestamp(buf, 11, 1), J_ESHORT);
    assert_int_equal(rtp_set_ssrc(buf, 11, 1), J_ESHORT);
    assert_int_equal(rtp_set_payload_type(buf, 11, 1), J_ESHORT);
    assert_int_equal(rtp_set_marker(buf, 11, true), J_ESHORT);
}

static void test_wraparound(void **state)
{
    (void)state;
    assert_int_equal(rtp_seq_diff(5, 3), 2);
    assert_int_equal(rtp_seq_diff(3, 5), -2);
    assert_int_equal(rtp_seq_diff(1, 65535), 2);
    assert_int_equal(rtp_seq_diff(65535, 1), -2);
    assert_int_equal(rtp_seq_diff(0, 0), 0);
    assert_int_equal(rtp_seq_diff(0x7fff, 0), 32767);
    assert_int_equal(rtp_seq_diff(0x8000, 0), -32768);
    assert_int_equal(rtp_seq_diff(0, 0x8000), -32768);
    assert_int_equal(rtp_seq_diff(0, 0x8001), 32767);
    assert_true(rtp_seq_newer(0, 65535));
    assert_false(rtp_seq_newer(65535, 0));
    assert_false(rtp_seq_newer(7, 7));
    assert_false(rtp_seq_newer(0x8000, 0));
    assert_false(rtp_seq_newer(0, 0x8000));

    assert_int_equal(rtp_ts_diff(10, 4), 6);
    assert_int_equal(rtp_ts_diff(4, 10), -6);
    assert_int_equal(rtp_ts_diff(2, 0xfffffffeu), 4);
    assert_int_equal(rtp_ts_diff(0xfffffffeu, 2), -4);
    assert_int_equal(rtp_ts_diff(0x7fffffffu, 0), INT32_MAX);
    assert_int_equal(rtp_ts_diff(0x80000000u, 0), INT32_MIN);
    assert_true(rtp_ts_newer(0, 0xffffffffu));
    assert_false(rtp_ts_newer(0xffffffffu, 0));
    assert_false(rtp_ts_newer(0x80000000u, 0));
    assert_false(rtp_ts_newer(0, 0x80000000u));
    assert_false(rtp_ts_newer(9, 9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_plain),
        cmocka_unit_test(test_parse_csrc),
        cmocka_unit_test(test_parse_ext_one_byte),
        cmocka_unit_test(test_parse_ext_one_byte_id15),
        cmocka_unit_test(test_parse_ext_two_byte),
        cmocka_unit_test(test_parse_ext_other_profile),
        cmocka_unit_test(test_parse_padding),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_ext_malformed),
        cmocka_unit_test(test_write_roundtrip_bytes),
        cmocka_unit_test(test_write_parse),
        cmocka_unit_test(test_write_invalid),
        cmocka_unit_test(test_setters),
        cmocka_unit_test(test_wraparound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
