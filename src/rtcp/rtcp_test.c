/* rtcp_test.c - common header, compound iteration, SR/RR/SDES/BYE/PLI/FIR/
 * REMB/NACK, time helpers, malformed inputs. TWCC lives in twcc_test.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "rtcp/rtcp.h"

/* ---- annotated packets (one line per 32-bit word) ------------------------ */

static const uint8_t sr_pkt[] = {
    0x81, 0xc8, 0x00, 0x0c, /* V=2 P=0 RC=1 | PT=200 SR | length=12 (52 bytes) */
    0x12, 0x34, 0x56, 0x78, /* SSRC of sender */
    0xe9, 0x0a, 0x58, 0x00, /* NTP timestamp, seconds */
    0x80, 0x00, 0x00, 0x00, /* NTP timestamp, fraction (0.5 s) */
    0x00, 0x01, 0xe2, 0x40, /* RTP timestamp 123456 */
    0x00, 0x00, 0x03, 0xe8, /* sender's packet count 1000 */
    0x00, 0x0f, 0x42, 0x40, /* sender's octet count 1000000 */
    0xab, 0xcd, 0xef, 0x01, /* block 1: SSRC */
    0x19, 0xff, 0xff, 0xfe, /* fraction lost 25/256 | cumulative lost -2 (24-bit) */
    0x00, 0x01, 0x00, 0x10, /* extended highest seq: 1 cycle, seq 16 */
    0x00, 0x00, 0x00, 0x2a, /* interarrival jitter 42 */
    0x58, 0x00, 0x80, 0x00, /* LSR (middle 32 bits of an NTP time) */
    0x00, 0x01, 0x80, 0x00, /* DLSR 1.5 s in 1/65536 s */
};

static const uint8_t rr_pkt[] = {
    0x81, 0xc9, 0x00, 0x07, /* V=2 P=0 RC=1 | PT=201 RR | length=7 (32 bytes) */
    0x00, 0x00, 0x00, 0x01, /* SSRC of packet sender */
    0x12, 0x34, 0x56, 0x78, /* block 1: SSRC */
    0x00, 0x00, 0x00, 0x05, /* fraction lost 0 | cumulative lost 5 */
    0x00, 0x00, 0xff, 0xff, /* extended highest seq 65535 */
    0x00, 0x00, 0x01, 0x00, /* jitter 256 */
    0x00, 0x00, 0x00, 0x00, /* LSR: no SR received */
    0x00, 0x00, 0x00, 0x00, /* DLSR */
};

static const uint8_t rr_empty_pkt[] = {
    0x80, 0xc9, 0x00, 0x01, /* V=2 P=0 RC=0 | PT=201 RR | length=1 (8 bytes) */
    0x00, 0x00, 0x00, 0x01, /* SSRC of packet sender */
};

static const uint8_t sdes_pkt[] = {
    0x81, 0xca, 0x00, 0x03, /* V=2 P=0 SC=1 | PT=202 SDES | length=3 (16 bytes) */
    0x12, 0x34, 0x56, 0x78, /* chunk 1: SSRC */
    0x01, 0x03, 'a', 'b',   /* CNAME, length 3, "ab" */
    'c', 0x00, 0x00, 0x00,  /* "c", null terminator, 2 bytes padding */
};

static const uint8_t sdes2_pkt[] = {
    0x82, 0xca, 0x00, 0x06, /* V=2 P=0 SC=2 | PT=202 SDES | length=6 (28 bytes) */
    0x12, 0x34, 0x56, 0x78, /* chunk 1: SSRC */
    0x01, 0x01, 'x', 0x06,  /* CNAME "x" | TOOL, */
    0x02, 'j', 'c', 0x00,   /* length 2 "jc" | null terminator */
    0x9a, 0xbc, 0xde, 0xf0, /* chunk 2: SSRC */
    0x00, 0x00, 0x00, 0x00, /* no items: terminator and padding */
    0x00, 0x00, 0x00, 0x00, /* extra null word (tolerated padding) */
};

static const uint8_t bye_pkt[] = {
    0x81, 0xcb, 0x00, 0x02, /* V=2 P=0 SC=1 | PT=203 BYE | length=2 (12 bytes) */
    0x12, 0x34, 0x56, 0x78, /* SSRC */
    0x03, 'b', 'y', 'e',    /* reason length 3, "bye" */
};

static const uint8_t pli_pkt[] = {
    0x81, 0xce, 0x00, 0x02, /* V=2 P=0 FMT=1 | PT=206 PSFB | length=2 (12 bytes) */
    0x00, 0x00, 0x00, 0x01, /* SSRC of packet sender */
    0x12, 0x34, 0x56, 0x78, /* SSRC of media source */
};

static const uint8_t fir_pkt[] = {
    0x84, 0xce, 0x00, 0x04, /* V=2 P=0 FMT=4 | PT=206 PSFB | length=4 (20 bytes) */
    0x00, 0x00, 0x00, 0x01, /* SSRC of packet sender */
    0x00, 0x00, 0x00, 0x00, /* SSRC of media source (unused, 0) */
    0x12, 0x34, 0x56, 0x78, /* FCI entry: SSRC */
    0x07, 0x00, 0x00, 0x00, /* seq nr 7 | reserved */
};

static const uint8_t remb_pkt[] = {
    0x8f, 0xce, 0x00, 0x05, /* V=2 P=0 FMT=15 | PT=206 PSFB | length=5 (24 bytes) */
    0x00, 0x00, 0x00, 0x01, /* SSRC of packet sender */
    0x00, 0x00, 0x00, 0x00, /* SSRC of media source (0) */
    'R', 'E', 'M', 'B',     /* unique identifier */
    0x01, 0x0b, 0xd0, 0x90, /* num SSRC 1 | exp 2, mantissa 250000: 1000000 bps */
    0x12, 0x34, 0x56, 0x78, /* SSRC feedback */
};

static const uint8_t nack_pkt[] = {
    0x81, 0xcd, 0x00, 0x04, /* V=2 P=0 FMT=1 | PT=205 RTPFB | length=4 (20 bytes) */
    0x00, 0x00, 0x00, 0x01, /* SSRC of packet sender */
    0x12, 0x34, 0x56, 0x78, /* SSRC of media source */
    0xff, 0xfe, 0x00, 0x43, /* PID 65534 | BLP +1 (65535), +2 (0), +7 (5) */
    0x00, 0x14, 0x80, 0x00, /* PID 20 | BLP +16 (36) */
};

static const uint8_t app_pkt[] = {
    0x80, 0xcc, 0x00, 0x02, /* V=2 P=0 subtype 0 | PT=204 APP | length=2 */
    0x12, 0x34, 0x56, 0x78, /* SSRC */
    'j', 'u', 'n', 'c',     /* name */
};

static const uint8_t unknown_pkt[] = {
    0x80, 0xd2, 0x00, 0x01, /* V=2 P=0 | PT=210 (unknown) | length=1 */
    0xde, 0xad, 0xbe, 0xef, /* opaque */
};

/* ---- helpers ------------------------------------------------------------- */

static void parse_one(rtcp_header *h, const uint8_t *buf, size_t len)
{
    assert_int_equal(rtcp_header_parse(h, buf, len), (int)len);
}

/* ---- common header and compounds ----------------------------------------- */

static void test_header(void **state)
{
    (void)state;
    rtcp_header h;
    parse_one(&h, sr_pkt, sizeof sr_pkt);
    assert_int_equal(h.version, 2);
    assert_false(h.padding);
    assert_int_equal(h.count, 1);
    assert_int_equal(h.type, RTCP_TYPE_SR);
    assert_int_equal(h.length, 12);
    assert_ptr_equal(h.body, sr_pkt + 4);
    assert_int_equal(h.body_len, 48);
    assert_int_equal(rtcp_header_parse(&h, sr_pkt, 3), J_ESHORT);
    assert_true(rtcp_is_rtcp(sr_pkt, sizeof sr_pkt));
    static const uint8_t rtp[] = {0x80, 0x60, 0x00, 0x01}; /* PT 96 */
    assert_false(rtcp_is_rtcp(rtp, sizeof rtp));
}

static void test_header_padding(void **state)
{
    (void)state;
    static const uint8_t padded[] = {
        0xa0, 0xc9, 0x00, 0x02, /* V=2 P=1 RC=0 | PT=201 RR | length=2 (12 bytes) */
        0x00, 0x00, 0x00, 0x01, /* SSRC of packet sender */
        0x00, 0x00, 0x00, 0x04, /* padding: 4 octets, count in the last */
    };
    rtcp_header h;
    parse_one(&h, padded, sizeof padded);
    assert_true(h.padding);
    assert_int_equal(h.body_len, 4);
    rtcp_rr rr;
    assert_int_equal(rtcp_rr_parse(&rr, &h), 0);
    assert_int_equal(rr.ssrc, 1);
    assert_int_equal(rr.ext_len, 0);
}

static void test_compound(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = 0;
    memcpy(buf + n, sr_pkt, sizeof sr_pkt), n += sizeof sr_pkt;
    memcpy(buf + n, sdes_pkt, sizeof sdes_pkt), n += sizeof sdes_pkt;
    memcpy(buf + n, pli_pkt, sizeof pli_pkt), n += sizeof pli_pkt;
    memcpy(buf + n, app_pkt, sizeof app_pkt), n += sizeof app_pkt;
    memcpy(buf + n, unknown_pkt, sizeof unknown_pkt), n += sizeof unknown_pkt;

    rtcp_iter it;
    rtcp_header h;
    rtcp_iter_init(&it, buf, n);

    assert_int_equal(rtcp_iter_next(&it, &h), 1);
    rtcp_sr sr;
    assert_int_equal(rtcp_sr_parse(&sr, &h), 0);
    assert_int_equal(sr.ssrc, 0x12345678);

    assert_int_equal(rtcp_iter_next(&it, &h), 1);
    rtcp_sdes sdes;
    assert_int_equal(rtcp_sdes_parse(&sdes, &h), 0);
    assert_int_equal(sdes.chunk_count, 1);

    assert_int_equal(rtcp_iter_next(&it, &h), 1);
    rtcp_pli pli;
    assert_int_equal(rtcp_pli_parse(&pli, &h), 0);
    assert_int_equal(pli.media_ssrc, 0x12345678);

    assert_int_equal(rtcp_iter_next(&it, &h), 1); /* APP: raw */
    assert_int_equal(h.type, RTCP_TYPE_APP);
    assert_int_equal(h.body_len, 8);
    assert_int_equal(rtcp_iter_next(&it, &h), 1); /* unknown type: raw, no error */
    assert_int_equal(h.type, 210);
    assert_memory_equal(h.body, unknown_pkt + 4, 4);

    assert_int_equal(rtcp_iter_next(&it, &h), 0);
    assert_int_equal(rtcp_iter_next(&it, &h), 0);

    /* Empty input: no packets, no error. */
    rtcp_iter_init(&it, buf, 0);
    assert_int_equal(rtcp_iter_next(&it, &h), 0);
}

static void test_compound_length_lies(void **state)
{
    (void)state;
    uint8_t buf[128];
    memcpy(buf, rr_empty_pkt, sizeof rr_empty_pkt);
    memcpy(buf + 8, pli_pkt, sizeof pli_pkt);
    buf[8 + 3] = 3; /* the PLI claims 16 bytes, only 12 remain */

    rtcp_iter it;
    rtcp_header h;
    rtcp_iter_init(&it, buf, 20);
    assert_int_equal(rtcp_iter_next(&it, &h), 1);
    assert_int_equal(h.type, RTCP_TYPE_RR);
    const uint8_t *first_body = h.body;
    assert_int_equal(rtcp_iter_next(&it, &h), J_EMALFORMED);
    assert_int_equal(rtcp_iter_next(&it, &h), J_EMALFORMED); /* sticky */
    assert_ptr_equal(first_body, buf + 4);                   /* first stays valid */

    /* 1-3 trailing bytes after a good packet. */
    rtcp_iter_init(&it, buf, 10);
    assert_int_equal(rtcp_iter_next(&it, &h), 1);
    assert_int_equal(rtcp_iter_next(&it, &h), J_EMALFORMED);

    /* Wrong version in the second packet. */
    memcpy(buf + 8, pli_pkt, sizeof pli_pkt);
    buf[8] = 0x41;
    rtcp_iter_init(&it, buf, 20);
    assert_int_equal(rtcp_iter_next(&it, &h), 1);
    assert_int_equal(rtcp_iter_next(&it, &h), J_EMALFORMED);
}

/* ---- SR / RR --------------------------------------------------------------- */

static void test_sr(void **state)
{
    (void)state;
    rtcp_header h;
    parse_one(&h, sr_pkt, sizeof sr_pkt);
    rtcp_sr sr;
    assert_int_equal(rtcp_sr_parse(&sr, &h), 0);
    assert_int_equal(sr.ssrc, 0x12345678);
    assert_true(sr.ntp == 0xe90a580080000000ULL);
    assert_int_equal(sr.rtp_ts, 123456);
    assert_int_equal(sr.packet_count, 1000);
    assert_int_equal(sr.octet_count, 1000000);
    assert_int_equal(sr.report_count, 1);
    assert_int_equal(sr.ext_len, 0);

    rtcp_rb_iter it;
    rtcp_report_block rb;
    rtcp_rb_iter_init(&it, sr.reports_raw, sr.report_count);
    assert_true(rtcp_rb_next(&it, &rb));
    assert_int_equal(rb.ssrc, 0xabcdef01);
    assert_int_equal(rb.fraction_lost, 25);
    assert_int_equal(rb.cumulative_lost, -2);
    assert_int_equal(rb.ext_highest_seq, 0x10010);
    assert_int_equal(rb.jitter, 42);
    assert_int_equal(rb.lsr, 0x58008000);
    assert_int_equal(rb.dlsr, 0x18000);
    assert_false(rtcp_rb_next(&it, &rb));

    /* parse -> write (raw blocks) -> memcmp */
    uint8_t out[128];
    assert_int_equal(rtcp_sr_size(&sr), sizeof sr_pkt);
    assert_int_equal(rtcp_sr_write(&sr, out, sizeof out), sizeof sr_pkt);
    assert_memory_equal(out, sr_pkt, sizeof sr_pkt);

    /* decoded blocks -> write -> memcmp */
    rtcp_sr built = {.ssrc = 0x12345678, .ntp = 0xe90a580080000000ULL, .rtp_ts = 123456,
                     .packet_count = 1000, .octet_count = 1000000, .report_count = 1,
                     .reports = &rb};
    assert_int_equal(rtcp_sr_write(&built, out, sizeof out), sizeof sr_pkt);
    assert_memory_equal(out, sr_pkt, sizeof sr_pkt);
    assert_int_equal(rtcp_sr_write(&built, out, sizeof sr_pkt - 1), J_ESHORTBUF);

    built.report_count = 32;
    assert_int_equal(rtcp_sr_size(&built), J_EINVAL);
    built.report_count = 1;
    built.reports = NULL;
    assert_int_equal(rtcp_sr_size(&built), J_EINVAL);
}

static void test_rr(void **state)
{
    (void)state;
    rtcp_header h;
    parse_one(&h, rr_pkt, sizeof rr_pkt);
    rtcp_rr rr;
    assert_int_equal(rtcp_rr_parse(&rr, &h), 0);
    assert_int_equal(rr.ssrc, 1);
    assert_int_equal(rr.report_count, 1);
    rtcp_rb_iter it;
    rtcp_report_block rb;
    rtcp_rb_iter_init(&it, rr.reports_raw, rr.report_count);
    assert_true(rtcp_rb_next(&it, &rb));
    assert_int_equal(rb.ssrc, 0x12345678);
    assert_int_equal(rb.cumulative_lost, 5);
    assert_int_equal(rb.ext_highest_seq, 65535);
    assert_int_equal(rb.jitter, 256);
    assert_false(rtcp_rb_next(&it, &rb));

    uint8_t out[64];
    rtcp_rr built = {.ssrc = 1, .report_count = 1, .reports = &rb};
    assert_int_equal(rtcp_rr_write(&built, out, sizeof out), sizeof rr_pkt);
    assert_memory_equal(out, rr_pkt, sizeof rr_pkt);

    /* RR with zero report blocks. */
    rtcp_rr empty = {.ssrc = 1};
    assert_int_equal(rtcp_rr_size(&empty), 8);
    assert_int_equal(rtcp_rr_write(&empty, out, sizeof out), 8);
    assert_memory_equal(out, rr_empty_pkt, sizeof rr_empty_pkt);
    assert_int_equal(rtcp_rr_write(&empty, out, 7), J_ESHORTBUF);

    /* Cumulative lost is clamped to the 24-bit signed range when written. */
    rtcp_report_block big = {.ssrc = 9, .cumulative_lost = 10000000};
    built.reports = &big;
    assert_int_equal(rtcp_rr_write(&built, out, sizeof out), 32);
    parse_one(&h, out, 32);
    assert_int_equal(rtcp_rr_parse(&rr, &h), 0);
    rtcp_rb_iter_init(&it, rr.reports_raw, rr.report_count);
    assert_true(rtcp_rb_next(&it, &rb));
    assert_int_equal(rb.cumulative_lost, 0x7fffff);
    big.cumulative_lost = -10000000;
    assert_int_equal(rtcp_rr_write(&built, out, sizeof out), 32);
    parse_one(&h, out, 32);
    assert_int_equal(rtcp_rr_parse(&rr, &h), 0);
    rtcp_rb_iter_init(&it, rr.reports_raw, rr.report_count);
    assert_true(rtcp_rb_next(&it, &rb));
    assert_int_equal(rb.cumulative_lost, -0x800000);
}

static void test_rr_many_blocks(void **state)
{
    (void)state;
    rtcp_report_block blocks[31];
    for (unsigned i = 0; i < 31; i++)
        blocks[i] = (rtcp_report_block){.ssrc = 100 + i, .fraction_lost = (uint8_t)i,
                                        .cumulative_lost = -(int32_t)i, .jitter = i * 3};
    rtcp_rr rr = {.ssrc = 7, .report_count = 31, .reports = blocks};
    uint8_t out[1024];
    int n = rtcp_rr_write(&rr, out, sizeof out);
    assert_int_equal(n, 8 + 31 * 24);
    rtcp_header h;
    parse_one(&h, out, (size_t)n);
    rtcp_rr back;
    assert_int_equal(rtcp_rr_parse(&back, &h), 0);
    rtcp_rb_iter it;
    rtcp_report_block rb;
    rtcp_rb_iter_init(&it, back.reports_raw, back.report_count);
    unsigned i = 0;
    while (rtcp_rb_next(&it, &rb)) {
        assert_int_equal(rb.ssrc, blocks[i].ssrc);
        assert_int_equal(rb.fraction_lost, blocks[i].fraction_lost);
        assert_int_equal(rb.cumulative_lost, blocks[i].cumulative_lost);
        assert_int_equal(rb.jitter, blocks[i].jitter);
        i++;
    }
    assert_int_equal(i, 31);
}

/* ---- SDES / BYE ----------------------------------------------------------- */

static void test_sdes(void **state)
{
    (void)state;
    rtcp_header h;
    parse_one(&h, sdes2_pkt, sizeof sdes2_pkt);
    rtcp_sdes m;
    assert_int_equal(rtcp_sdes_parse(&m, &h), 0);
    assert_int_equal(m.chunk_count, 2);

    rtcp_sdes_iter it;
    rtcp_sdes_chunk c;
    rtcp_sdes_item_iter ii;
    rtcp_sdes_item item;
    rtcp_sdes_iter_init(&it, &m);
    assert_true(rtcp_sdes_next_chunk(&it, &c));
    assert_int_equal(c.ssrc, 0x12345678);
    rtcp_sdes_item_iter_init(&ii, &c);
    assert_true(rtcp_sdes_next_item(&ii, &item));
    assert_int_equal(item.type, RTCP_SDES_CNAME);
    assert_int_equal(item.len, 1);
    assert_memory_equal(item.data, "x", 1);
    assert_true(rtcp_sdes_next_item(&ii, &item));
    assert_int_equal(item.type, RTCP_SDES_TOOL);
    assert_memory_equal(item.data, "jc", 2);
    assert_false(rtcp_sdes_next_item(&ii, &item));
    assert_true(rtcp_sdes_next_chunk(&it, &c));
    assert_int_equal(c.ssrc, 0x9abcdef0);
    assert_int_equal(c.items_len, 0);
    rtcp_sdes_item_iter_init(&ii, &c);
    assert_false(rtcp_sdes_next_item(&ii, &item));
    assert_false(rtcp_sdes_next_chunk(&it, &c));

    /* CNAME writer -> annotated bytes -> parse. */
    uint8_t out[300];
    rtcp_sdes_cname cn = {.ssrc = 0x12345678, .cname = "abc"};
    assert_int_equal(rtcp_sdes_cname_size(&cn), sizeof sdes_pkt);
    assert_int_equal(rtcp_sdes_cname_write(&cn, out, sizeof out), sizeof sdes_pkt);
    assert_memory_equal(out, sdes_pkt, sizeof sdes_pkt);
    assert_int_equal(rtcp_sdes_cname_write(&cn, out, sizeof sdes_pkt - 1), J_ESHORTBUF);

    /* A CNAME whose item ends exactly on a word boundary still gets a full
     * null word: 4 SSRC + 2 + 2 text = 8, so 4 more. */
    cn.cname = "ab";
    assert_int_equal(rtcp_sdes_cname_write(&cn, out, sizeof out), 16);
    cn.cname = "abcdef"; /* 4 + 2 + 6 = 12, +1 null -> 16 */
    int n = rtcp_sdes_cname_write(&cn, out, sizeof out);
    assert_int_equal(n, 20);
    parse_one(&h, out, (size_t)n);
    assert_int_equal(rtcp_sdes_parse(&m, &h), 0);
    rtcp_sdes_iter_init(&it, &m);
    assert_true(rtcp_sdes_next_chunk(&it, &c));
    rtcp_sdes_item_iter_init(&ii, &c);
    assert_true(rtcp_sdes_next_item(&ii, &item));
    assert_int_equal(item.len, 6);
    assert_memory_equal(item.data, "abcdef", 6);

    char longname[257];
    memset(longname, 'a', 256);
    longname[256] = 0;
    cn.cname = longname;
    assert_int_equal(rtcp_sdes_cname_size(&cn), J_EINVAL);
    cn.cname = "";
    assert_int_equal(rtcp_sdes_cname_size(&cn), J_EINVAL);

    /* One chunk per SSRC of a sender, all with its CNAME. */
    static const uint8_t sdes_two[] = {
        0x82, 0xca, 0x00, 0x06, /* V=2 SC=2 PT=202 length 6 */
        0x00, 0x00, 0x00, 0x01, /* SSRC 1 */
        0x01, 0x02, 'a', 'b',   /* CNAME "ab" */
        0x00, 0x00, 0x00, 0x00, /* null word */
        0x00, 0x00, 0x00, 0x02, /* SSRC 2: the same item */
        0x01, 0x02, 'a', 'b',
        0x00, 0x00, 0x00, 0x00,
    };
    uint32_t more[RTCP_MAX_COUNT] = {2};
    cn = (rtcp_sdes_cname){.ssrc = 1, .cname = "ab", .more_ssrcs = more, .more_count = 1};
    assert_int_equal(rtcp_sdes_cname_write(&cn, out, sizeof out), sizeof sdes_two);
    assert_memory_equal(out, sdes_two, sizeof sdes_two);
    parse_one(&h, out, sizeof sdes_two);
    assert_int_equal(rtcp_sdes_parse(&m, &h), 0);
    assert_int_equal(m.chunk_count, 2);
    cn.more_count = 31; /* 32 chunks do not fit the SC field */
    assert_int_equal(rtcp_sdes_cname_size(&cn), J_EINVAL);
    cn.more_count = 1;
    cn.more_ssrcs = NULL;
    assert_int_equal(rtcp_sdes_cname_size(&cn), J_EINVAL);
}

static void test_bye(void **state)
{
    (void)state;
    rtcp_header h;
    parse_one(&h, bye_pkt, sizeof bye_pkt);
    rtcp_bye m;
    assert_int_equal(rtcp_bye_parse(&m, &h), 0);
    assert_int_equal(m.ssrc_count, 1);
    assert_int_equal(rtcp_bye_ssrc(&m, 0), 0x12345678);
    assert_int_equal(m.reason_len, 3);
    assert_memory_equal(m.reason, "bye", 3);

    uint8_t out[64];
    assert_int_equal(rtcp_bye_write(&m, out, sizeof out), sizeof bye_pkt);
    assert_memory_equal(out, bye_pkt, sizeof bye_pkt);

    uint32_t ssrcs[2] = {1, 2};
    rtcp_bye built = {.ssrc_count = 2, .ssrcs = ssrcs};
    assert_int_equal(rtcp_bye_write(&built, out, sizeof out), 12);
    parse_one(&h, out, 12);
    assert_int_equal(rtcp_bye_parse(&m, &h), 0);
    assert_int_equal(m.ssrc_count, 2);
    assert_int_equal(rtcp_bye_ssrc(&m, 1), 2);
    assert_null(m.reason);

    built.reason = (const uint8_t *)"done";
    built.reason_len = 4; /* 1 + 4 = 5 -> padded to 8 */
    assert_int_equal(rtcp_bye_write(&built, out, sizeof out), 20);
    parse_one(&h, out, 20);
    assert_int_equal(rtcp_bye_parse(&m, &h), 0);
    assert_int_equal(m.reason_len, 4);
    assert_memory_equal(m.reason, "done", 4);
    assert_int_equal(rtcp_bye_write(&built, out, 19), J_ESHORTBUF);
}

/* ---- feedback --------------------------------------------------------------- */

static void test_pli(void **state)
{
    (void)state;
    rtcp_header h;
    parse_one(&h, pli_pkt, sizeof pli_pkt);
    rtcp_pli m;
    assert_int_equal(rtcp_pli_parse(&m, &h), 0);
    assert_int_equal(m.sender_ssrc, 1);
    assert_int_equal(m.media_ssrc, 0x12345678);
    uint8_t out[12];
    assert_int_equal(rtcp_pli_size(&m), 12);
    assert_int_equal(rtcp_pli_write(&m, out, sizeof out), 12);
    assert_memory_equal(out, pli_pkt, sizeof pli_pkt);
    assert_int_equal(rtcp_pli_write(&m, out, 11), J_ESHORTBUF);

    rtcp_fb fb;
    assert_int_equal(rtcp_fb_parse(&fb, &h), 0);
    assert_int_equal(fb.fmt, RTCP_PSFB_PLI);
    assert_int_equal(fb.fci_len, 0);
}

static void test_fir(void **state)
{
    (void)state;
    rtcp_header h;
    parse_one(&h, fir_pkt, sizeof fir_pkt);
    rtcp_fir m;
    assert_int_equal(rtcp_fir_parse(&m, &h), 0);
    assert_int_equal(m.sender_ssrc, 1);
    assert_int_equal(m.entry_count, 1);
    rtcp_fir_entry e = rtcp_fir_entry_get(&m, 0);
    assert_int_equal(e.ssrc, 0x12345678);
    assert_int_equal(e.seq_nr, 7);

    uint8_t out[64];
    rtcp_fir built = {.sender_ssrc = 1, .entry_count = 1, .entries = &e};
    assert_int_equal(rtcp_fir_write(&built, out, sizeof out), sizeof fir_pkt);
    assert_memory_equal(out, fir_pkt, sizeof fir_pkt);
    assert_int_equal(rtcp_fir_write(&built, out, sizeof fir_pkt - 1), J_ESHORTBUF);
    built.entry_count = 0;
    assert_int_equal(rtcp_fir_size(&built), J_EINVAL);
}

static void test_remb(void **state)
{
    (void)state;
    rtcp_header h;
    parse_one(&h, remb_pkt, sizeof remb_pkt);
    rtcp_remb m;
    assert_int_equal(rtcp_remb_parse(&m, &h), 0);
    assert_int_equal(m.sender_ssrc, 1);
    assert_true(m.bitrate_bps == 1000000);
    assert_int_equal(m.ssrc_count, 1);
    assert_int_equal(rtcp_remb_ssrc(&m, 0), 0x12345678);

    uint8_t out[64];
    uint32_t ssrc = 0x12345678;
    rtcp_remb built = {.sender_ssrc = 1, .bitrate_bps = 1000000, .ssrc_count = 1, .ssrcs = &ssrc};
    assert_int_equal(rtcp_remb_write(&built, out, sizeof out), sizeof remb_pkt);
    assert_memory_equal(out, remb_pkt, sizeof remb_pkt);
    assert_int_equal(rtcp_remb_write(&built, out, sizeof remb_pkt - 1), J_ESHORTBUF);

    /* Exact values up to 2^18 - 1, rounding down above. */
    static const uint64_t rates[] = {0, 1, 262143, 262144, 262145, 5000000, 123456789,
                                     UINT64_MAX};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        built.bitrate_bps = rates[i];
        int n = rtcp_remb_write(&built, out, sizeof out);
        assert_int_equal(n, 24);
        parse_one(&h, out, (size_t)n);
        assert_int_equal(rtcp_remb_parse(&m, &h), 0);
        assert_true(m.bitrate_bps <= rates[i]);
        /* 18 significant bits: relative error below 2^-17. */
        assert_true(rates[i] - m.bitrate_bps <= rates[i] >> 17);
        if (rates[i] < 262144) assert_true(m.bitrate_bps == rates[i]);
    }

    /* exp 63 with a large mantissa saturates instead of overflowing. */
    memcpy(out, remb_pkt, sizeof remb_pkt);
    out[17] = 0xff, out[18] = 0xff, out[19] = 0xff;
    parse_one(&h, out, sizeof remb_pkt);
    assert_int_equal(rtcp_remb_parse(&m, &h), 0);
    assert_true(m.bitrate_bps == UINT64_MAX);
}

static void test_nack(void **state)
{
    (void)state;
    rtcp_header h;
    parse_one(&h, nack_pkt, sizeof nack_pkt);
    rtcp_nack m;
    assert_int_equal(rtcp_nack_parse(&m, &h), 0);
    assert_int_equal(m.sender_ssrc, 1);
    assert_int_equal(m.media_ssrc, 0x12345678);
    assert_int_equal(m.item_count, 2);
    uint16_t pid, blp;
    rtcp_nack_item(&m, 0, &pid, &blp);
    assert_int_equal(pid, 65534);
    assert_int_equal(blp, 0x0043);

    static const uint16_t lost[] = {65534, 65535, 0, 5, 20, 36};
    uint16_t seqs[64];
    assert_int_equal(rtcp_nack_expand(&m, seqs, 64), 6);
    assert_memory_equal(seqs, lost, sizeof lost);
    assert_int_equal(rtcp_nack_expand(&m, seqs, 5), J_ESHORTBUF);

    /* Iterator gives the same sequence. */
    rtcp_nack_iter it;
    uint16_t s;
    size_t k = 0;
    rtcp_nack_iter_init(&it, &m);
    while (rtcp_nack_next(&it, &s)) assert_int_equal(s, lost[k++]);
    assert_int_equal(k, 6);

    /* Packing from the lost list wraps 65535 -> 0 inside one BLP. */
    uint8_t out[64];
    rtcp_nack built = {.sender_ssrc = 1, .media_ssrc = 0x12345678, .lost = lost,
                       .lost_count = 6};
    assert_int_equal(rtcp_nack_size(&built), sizeof nack_pkt);
    assert_int_equal(rtcp_nack_write(&built, out, sizeof out), sizeof nack_pkt);
    assert_memory_equal(out, nack_pkt, sizeof nack_pkt);
    assert_int_equal(rtcp_nack_write(&built, out, sizeof nack_pkt - 1), J_ESHORTBUF);

    /* Parsed view written back from raw items. */
    assert_int_equal(rtcp_nack_write(&m, out, sizeof out), sizeof nack_pkt);
    assert_memory_equal(out, nack_pkt, sizeof nack_pkt);

    /* 17 consecutive losses fit one item; 18 need two; duplicates fold. */
    uint16_t run[18];
    for (int i = 0; i < 18; i++) run[i] = (uint16_t)(65530 + i);
    built.lost = run;
    built.lost_count = 17;
    assert_int_equal(rtcp_nack_size(&built), 16);
    built.lost_count = 18;
    assert_int_equal(rtcp_nack_size(&built), 20);
    int n = rtcp_nack_write(&built, out, sizeof out);
    parse_one(&h, out, (size_t)n);
    assert_int_equal(rtcp_nack_parse(&m, &h), 0);
    assert_int_equal(rtcp_nack_expand(&m, seqs, 64), 18);
    assert_memory_equal(seqs, run, sizeof run);
    assert_int_equal(seqs[6], 0); /* 65536 wrapped */

    static const uint16_t dup[] = {7, 7, 8, 8};
    built.lost = dup;
    built.lost_count = 4;
    n = rtcp_nack_write(&built, out, sizeof out);
    assert_int_equal(n, 16);
    parse_one(&h, out, (size_t)n);
    assert_int_equal(rtcp_nack_parse(&m, &h), 0);
    assert_int_equal(rtcp_nack_expand(&m, seqs, 64), 2);

    built.lost_count = 0;
    assert_int_equal(rtcp_nack_size(&built), J_EINVAL);
}

/* ---- time helpers ------------------------------------------------------- */

static void test_ntp(void **state)
{
    (void)state;
    /* 1970-01-01 is NTP second 2208988800. */
    assert_true(rtcp_ntp_from_us(0) == (2208988800ULL << 32));
    assert_true(rtcp_ntp_from_us(1500000) == (((2208988800ULL + 1) << 32) | 0x80000000ULL));
    static const uint64_t times[] = {0, 1, 999999, 1700000000123456ULL, 2085978495999999ULL,
                                     2085978496000000ULL /* 2036: NTP era 1 */};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        assert_true(rtcp_ntp_to_us(rtcp_ntp_from_us(times[i])) == times[i]);

    uint64_t ntp = rtcp_ntp_from_us(1700000000500000ULL);
    assert_int_equal(rtcp_ntp_compact(ntp), (uint32_t)(ntp >> 16));
    assert_int_equal(rtcp_compact_from_us(1500000), 0x18000);
    assert_true(rtcp_compact_to_us(0x18000) == 1500000);
    /* One 1/65536 s step is 15.26 us. */
    int64_t back = (int64_t)rtcp_compact_to_us(rtcp_compact_from_us(123456));
    assert_true(back - 123456 <= 16 && 123456 - back <= 16);

    /* RTT: SR sent at 10 s, held 1.5 s by the receiver, report back at 11.75 s. */
    uint32_t lsr = 10u << 16;
    uint32_t dlsr = rtcp_compact_from_us(1500000);
    uint32_t now = (11u << 16) | 0xc000;
    assert_true(rtcp_rtt_us(now, lsr, dlsr) == 250000);
    assert_true(rtcp_rtt_us(now, 0, dlsr) == J_ENOTFOUND);
    assert_true(rtcp_rtt_us(lsr, lsr, dlsr) == 0); /* negative: clamped */
    /* Compact time wraps every 18.2 hours; the difference still works. */
    assert_true(rtcp_rtt_us(0x00004000u, 0xffffc000u, 0) == 500000);
}

/* ---- malformed inputs ------------------------------------------------------ */

enum parser { P_ITER, P_SR, P_RR, P_SDES, P_BYE, P_PLI, P_FIR, P_REMB, P_NACK, P_FB };

typedef struct {
    const char *name;
    enum parser parser;
    uint8_t bytes[48];
    size_t len;
    int want;
} malformed_case;

/* Runs the iterator over the bytes, then the parser on the first packet. */
static int run_parser(const malformed_case *c)
{
    rtcp_iter it;
    rtcp_header h;
    rtcp_iter_init(&it, c->bytes, c->len);
    int rc;
    if (c->parser == P_ITER) {
        while ((rc = rtcp_iter_next(&it, &h)) == 1) {}
        return rc;
    }
    rc = rtcp_iter_next(&it, &h);
    if (rc != 1) return 100 + rc; /* framing should have been fine */
    union {
        rtcp_sr sr;
        rtcp_rr rr;
        rtcp_sdes sdes;
        rtcp_bye bye;
        rtcp_pli pli;
        rtcp_fir fir;
        rtcp_remb remb;
        rtcp_nack nack;
        rtcp_fb fb;
    } v;
    switch (c->parser) {
    case P_SR: return rtcp_sr_parse(&v.sr, &h);
    case P_RR: return rtcp_rr_parse(&v.rr, &h);
    case P_SDES: return rtcp_sdes_parse(&v.sdes, &h);
    case P_BYE: return rtcp_bye_parse(&v.bye, &h);
    case P_PLI: return rtcp_pli_parse(&v.pli, &h);
    case P_FIR: return rtcp_fir_parse(&v.fir, &h);
    case P_REMB: return rtcp_remb_parse(&v.remb, &h);
    case P_NACK: return rtcp_nack_parse(&v.nack, &h);
    case P_FB: return rtcp_fb_parse(&v.fb, &h);
    default: return 1000;
    }
}

#define SSRC1 0x00, 0x00, 0x00, 0x01
#define SSRC2 0x12, 0x34, 0x56, 0x78

static const malformed_case malformed[] = {
    {"length beyond buffer", P_ITER, {0x80, 0xc9, 0x00, 0x07, SSRC1}, 8, J_EMALFORMED},
    {"version 1", P_ITER, {0x40, 0xc9, 0x00, 0x01, SSRC1}, 8, J_EMALFORMED},
    {"version 0", P_ITER, {0x00, 0xc9, 0x00, 0x01, SSRC1}, 8, J_EMALFORMED},
    {"header cut", P_ITER, {0x80, 0xc9, 0x00}, 3, J_EMALFORMED},
    {"padding count 0", P_ITER, {0xa0, 0xc9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}, 8,
     J_EMALFORMED},
    {"padding beyond body", P_ITER, {0xa0, 0xc9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05}, 8,
     J_EMALFORMED},
    {"RR: count larger than body", P_RR, {0x81, 0xc9, 0x00, 0x01, SSRC1}, 8, J_EMALFORMED},
    {"RR: no SSRC", P_RR, {0x80, 0xc9, 0x00, 0x00}, 4, J_EMALFORMED},
    {"RR: truncated report block", P_RR,
     {0x81, 0xc9, 0x00, 0x06, SSRC1, SSRC2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     28, J_EMALFORMED},
    {"SR: shorter than sender info", P_SR,
     {0x80, 0xc8, 0x00, 0x05, SSRC1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 24,
     J_EMALFORMED},
    {"SR: count 1 without block", P_SR,
     {0x81, 0xc8, 0x00, 0x06, SSRC1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     28, J_EMALFORMED},
    {"SR parser on RR", P_SR, {0x80, 0xc9, 0x00, 0x01, SSRC1}, 8, J_EINVAL},
    {"SDES: item beyond chunk", P_SDES, {0x81, 0xca, 0x00, 0x02, SSRC2, 0x01, 0x09, 'a', 0x00},
     12, J_EMALFORMED},
    {"SDES: no terminator", P_SDES, {0x81, 0xca, 0x00, 0x02, SSRC2, 0x01, 0x02, 'a', 'b'}, 12,
     J_EMALFORMED},
    {"SDES: count 2, one chunk", P_SDES, {0x82, 0xca, 0x00, 0x02, SSRC2, 0x00, 0x00, 0x00, 0x00},
     12, J_EMALFORMED},
    {"SDES: chunk without SSRC", P_SDES, {0x81, 0xca, 0x00, 0x00}, 4, J_EMALFORMED},
    {"BYE: count larger than body", P_BYE, {0x82, 0xcb, 0x00, 0x01, SSRC1}, 8, J_EMALFORMED},
    {"BYE: reason beyond body", P_BYE, {0x81, 0xcb, 0x00, 0x02, SSRC1, 0x04, 'a', 'b', 'c'}, 12,
     J_EMALFORMED},
    {"FB: no media SSRC", P_FB, {0x81, 0xce, 0x00, 0x01, SSRC1}, 8, J_EMALFORMED},
    {"FB parser on SR", P_FB, {0x80, 0xc8, 0x00, 0x01, SSRC1}, 8, J_EINVAL},
    {"PLI: wrong FMT", P_PLI, {0x82, 0xce, 0x00, 0x02, SSRC1, SSRC2}, 12, J_EINVAL},
    {"PLI: no media SSRC", P_PLI, {0x81, 0xce, 0x00, 0x01, SSRC1}, 8, J_EMALFORMED},
    {"FIR: no entry", P_FIR, {0x84, 0xce, 0x00, 0x02, SSRC1, SSRC2}, 12, J_EMALFORMED},
    {"FIR: half entry", P_FIR, {0x84, 0xce, 0x00, 0x03, SSRC1, SSRC2, SSRC2}, 16, J_EMALFORMED},
    {"REMB: wrong identifier", P_REMB,
     {0x8f, 0xce, 0x00, 0x04, SSRC1, 0, 0, 0, 0, 'R', 'E', 'M', 'X', 0x00, 0x0b, 0xd0, 0x90}, 20,
     J_EUNSUPPORTED},
    {"REMB: SSRC count beyond length", P_REMB,
     {0x8f, 0xce, 0x00, 0x05, SSRC1, 0, 0, 0, 0, 'R', 'E', 'M', 'B', 0x02, 0x0b, 0xd0, 0x90,
      SSRC2},
     24, J_EMALFORMED},
    {"REMB: no bitrate word", P_REMB, {0x8f, 0xce, 0x00, 0x03, SSRC1, 0, 0, 0, 0, 'R', 'E', 'M', 'B'},
     16, J_EMALFORMED},
    {"NACK: no item", P_NACK, {0x81, 0xcd, 0x00, 0x02, SSRC1, SSRC2}, 12, J_EMALFORMED},
    /* P bit with 2 padding octets leaves a 2-byte FCI: half an item. */
    {"NACK: odd size", P_NACK, {0xa1, 0xcd, 0x00, 0x03, SSRC1, SSRC2, 0x00, 0x05, 0x00, 0x02}, 16,
     J_EMALFORMED},
    {"NACK parser on PSFB", P_NACK, {0x81, 0xce, 0x00, 0x03, SSRC1, SSRC2, 0, 1, 0, 0}, 16,
     J_EINVAL},
};

/* An XR as a browser answers our RRTR: a DLRR block for our SSRC 0x11223344, then a block
 * of a type we do not read (VoIP metrics, cut short for the test). */
static const uint8_t xr_dlrr_pkt[] = {
    0x80, 0xcf, 0x00, 0x06, /* V=2 PT=207 length 6 */
    0xaa, 0xbb, 0xcc, 0xdd, /* sender SSRC */
    0x05, 0x00, 0x00, 0x03, /* BT=5 DLRR, block length 3 */
    0x11, 0x22, 0x33, 0x44, /* SSRC of the receiver (us) */
    0x12, 0x34, 0x56, 0x78, /* LRR */
    0x00, 0x01, 0x80, 0x00, /* DLRR 1.5 s */
    0x07, 0x00, 0x00, 0x00, /* BT=7, block length 0 */
};

static void test_xr(void **state)
{
    (void)state;
    rtcp_header h;
    parse_one(&h, xr_dlrr_pkt, sizeof xr_dlrr_pkt);
    rtcp_xr m;
    assert_int_equal(rtcp_xr_parse(&m, &h), 0);
    assert_int_equal(m.ssrc, 0xaabbccdd);
    rtcp_xr_iter it;
    rtcp_xr_block b;
    rtcp_xr_iter_init(&it, &m);
    assert_true(rtcp_xr_next_block(&it, &b));
    assert_int_equal(b.type, RTCP_XR_DLRR);
    assert_int_equal(rtcp_xr_dlrr_count(&b), 1);
    rtcp_xr_dlrr_item d = rtcp_xr_dlrr_get(&b, 0);
    assert_int_equal(d.ssrc, 0x11223344);
    assert_int_equal(d.lrr, 0x12345678);
    assert_int_equal(rtcp_compact_to_us(d.dlrr), 1500000);
    assert_true(rtcp_xr_next_block(&it, &b));
    assert_int_equal(b.type, 7);
    assert_int_equal(rtcp_xr_dlrr_count(&b), 0);
    assert_false(rtcp_xr_next_block(&it, &b));

    /* A block reaching past the packet. */
    uint8_t bad[sizeof xr_dlrr_pkt];
    memcpy(bad, xr_dlrr_pkt, sizeof bad);
    bad[27] = 1;
    parse_one(&h, bad, sizeof bad);
    assert_int_equal(rtcp_xr_parse(&m, &h), J_EMALFORMED);
    parse_one(&h, pli_pkt, sizeof pli_pkt);
    assert_int_equal(rtcp_xr_parse(&m, &h), J_EINVAL);

    /* Our RRTR: written, parsed back. */
    static const uint8_t rrtr_pkt[] = {
        0x80, 0xcf, 0x00, 0x04, /* V=2 PT=207 length 4 */
        0x01, 0x02, 0x03, 0x04, /* our SSRC */
        0x04, 0x00, 0x00, 0x02, /* BT=4 RRTR, block length 2 */
        0xe0, 0x00, 0x00, 0x01, /* NTP seconds */
        0x80, 0x00, 0x00, 0x00, /* NTP fraction: 0.5 s */
    };
    uint8_t out[32];
    rtcp_xr_rrtr rrtr = {.ssrc = 0x01020304, .ntp = 0xe000000180000000ull};
    assert_int_equal(rtcp_xr_rrtr_write(&rrtr, out, sizeof out), sizeof rrtr_pkt);
    assert_memory_equal(out, rrtr_pkt, sizeof rrtr_pkt);
    assert_int_equal(rtcp_xr_rrtr_write(&rrtr, out, sizeof rrtr_pkt - 1), J_ESHORTBUF);
    parse_one(&h, out, sizeof rrtr_pkt);
    assert_int_equal(rtcp_xr_parse(&m, &h), 0);
    rtcp_xr_iter_init(&it, &m);
    assert_true(rtcp_xr_next_block(&it, &b));
    assert_int_equal(b.type, RTCP_XR_RRTR);
    assert_int_equal(b.body_len, 8);
    assert_false(rtcp_xr_next_block(&it, &b));
}

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        int rc = run_parser(&malformed[i]);
        if (rc != malformed[i].want)
            fail_msg("%s: got %d, want %d", malformed[i].name, rc, malformed[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_header_padding),
        cmocka_unit_test(test_compound),
        cmocka_unit_test(test_compound_length_lies),
        cmocka_unit_test(test_sr),
        cmocka_unit_test(test_rr),
        cmocka_unit_test(test_rr_many_blocks),
        cmocka_unit_test(test_sdes),
        cmocka_unit_test(test_bye),
        cmocka_unit_test(test_pli),
        cmocka_unit_test(test_fir),
        cmocka_unit_test(test_remb),
        cmocka_unit_test(test_nack),
        cmocka_unit_test(test_ntp),
        cmocka_unit_test(test_xr),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
