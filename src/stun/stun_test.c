/* stun_test.c - STUN codec: RFC 5769 vectors, malformed input, writer round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "core/bytes.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "stun/stun.h"

/* RFC 5769 short-term password (sections 2.1 to 2.3). */
static const char rfc_pwd[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t rfc_tid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* RFC 5769 2.1 Sample Request. Padding is 0x20 on purpose. */
static const uint8_t rfc_request[] = {
    0x00, 0x01, 0x00, 0x58,                         /* Binding request, length 88 */
    0x21, 0x12, 0xa4, 0x42,                         /* magic cookie */
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, /* transaction id */
    0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x10,                         /* SOFTWARE, 16 bytes */
    0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, /* "STUN test client" */
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
    0x00, 0x24, 0x00, 0x04,                         /* PRIORITY */
    0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08,                         /* ICE-CONTROLLED */
    0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09,                         /* USERNAME, 9 bytes */
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, /* "evtj:h6vY" */
    0x59, 0x20, 0x20, 0x20,                         /* + 3 bytes padding */
    0x00, 0x08, 0x00, 0x14,                         /* MESSAGE-INTEGRITY */
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56,
    0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2,
    0x80, 0x28, 0x00, 0x04,                         /* FINGERPRINT */
    0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 2.2 Sample IPv4 Response: 192.0.2.1:32853. */
static const uint8_t rfc_ipv4_response[] = {
    0x01, 0x01, 0x00, 0x3c,                         /* Binding success, length 60 */
    0x21, 0x12, 0xa4, 0x42,
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x0b,                         /* SOFTWARE "test vector" */
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08,                         /* XOR-MAPPED-ADDRESS */
    0x00, 0x01, 0xa1, 0x47,                         /* IPv4, port 32853 ^ 0x2112 */
    0xe1, 0x12, 0xa6, 0x43,                         /* 192.0.2.1 ^ cookie */
    0x00, 0x08, 0x00, 0x14,                         /* MESSAGE-INTEGRITY */
    0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53,
    0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04,                         /* FINGERPRINT */
    0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 2.3 Sample IPv6 Response: [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc_ipv6_response[] = {
    0x01, 0x01, 0x00, 0x48,                         /* Binding success, length 72 */
    0x21, 0x12, 0xa4, 0x42,
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x0b,                         /* SOFTWARE "test vector" */
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14,                         /* XOR-MAPPED-ADDRESS */
    0x00, 0x02, 0xa1, 0x47,                         /* IPv6, port */
    0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, /* address ^ cookie||tid */
    0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    0x00, 0x08, 0x00, 0x14,                         /* MESSAGE-INTEGRITY */
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04,                         /* FINGERPRINT */
    0xc8, 0xfb, 0x0b, 0x4c,
};

/* RFC 5769 2.4 Sample Request with Long-Term Authentication. */
static const uint8_t rfc_longterm[] = {
    0x00, 0x01, 0x00, 0x60,                         /* Binding request, length 96 */
    0x21, 0x12, 0xa4, 0x42,
    0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0,
    0x29, 0xda, 0x41, 0x2e,
    0x00, 0x06, 0x00, 0x12,                         /* USERNAME (18 bytes UTF-8) */
    0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83,
    0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3,
    0x82, 0xb9, 0x00, 0x00,
    0x00, 0x15, 0x00, 0x1c,                         /* NONCE */
    0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39,
    0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34,
    0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79,
    0x36, 0x34, 0x73, 0x41,
    0x00, 0x14, 0x00, 0x0b,                         /* REALM "example.org" */
    0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
    0x6f, 0x72, 0x67, 0x00,
    0x00, 0x08, 0x00, 0x14,                         /* MESSAGE-INTEGRITY */
    0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e,
    0x02, 0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2,
    0x8c, 0xa8, 0x96, 0x66,
};

static const uint8_t *pwd_key(void) { return (const uint8_t *)rfc_pwd; }
static size_t pwd_len(void) { return sizeof rfc_pwd - 1; }

static void test_rfc5769_request(void **state)
{
    (void)state;
    stun_msg m;
    assert_int_equal(stun_parse(&m, rfc_request, sizeof rfc_request), J_OK);
    assert_true(stun_is_stun(rfc_request, sizeof rfc_request));
    assert_int_equal(m.type, STUN_BINDING_REQUEST);
    assert_int_equal(m.method, STUN_METHOD_BINDING);
    assert_int_equal(m.cls, STUN_CLASS_REQUEST);
    assert_memory_equal(m.tid, rfc_tid, 12);
    assert_true(m.has_username);
    assert_int_equal(m.username_len, 9);
    assert_memory_equal(m.username, "evtj:h6vY", 9);
    assert_true(m.has_priority);
    assert_int_equal(m.priority, 0x6e0001ff);
    assert_true(m.has_ice_controlled);
    assert_true(m.ice_controlled == 0x932ff9b151263b36ull);
    assert_false(m.has_ice_controlling);
    assert_false(m.use_candidate);
    assert_true(m.has_integrity);
    assert_int_equal(m.integrity_offset, 76);
    assert_true(m.has_fingerprint);
    assert_int_equal(m.fingerprint_offset, 100);
    assert_int_equal(m.unknown_required_count, 0);

    const uint8_t *sw;
    size_t sw_len;
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_SOFTWARE, &sw, &sw_len), J_OK);
    assert_int_equal(sw_len, 16);
    assert_memory_equal(sw, "STUN test client", 16);
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_REALM, &sw, &sw_len), J_ENOTFOUND);

    assert_int_equal(stun_verify_integrity(&m, rfc_request, sizeof rfc_request, pwd_key(),
                                           pwd_len()),
                     J_OK);
    assert_int_equal(stun_verify_integrity(&m, rfc_request, sizeof rfc_request,
                                           (const uint8_t *)"wrong", 5),
                     J_EAUTH);
    assert_int_equal(stun_verify_fingerprint(&m, rfc_request, sizeof rfc_request), J_OK);
}

static void check_response(const uint8_t *buf, size_t len, const char *ip)
{
    stun_msg m;
    assert_int_equal(stun_parse(&m, buf, len), J_OK);
    assert_int_equal(m.type, STUN_BINDING_SUCCESS);
    assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
    assert_true(m.has_xor_mapped);
    j_addr want;
    assert_int_equal(j_addr_parse(&want, ip, 32853), J_OK);
    assert_true(j_addr_equal(&m.xor_mapped, &want));
    assert_int_equal(stun_verify_integrity(&m, buf, len, pwd_key(), pwd_len()), J_OK);
    assert_int_equal(stun_verify_fingerprint(&m, buf, len), J_OK);

    /* The writer encodes the same address to the same bytes. */
    uint8_t out[128];
    stun_writer w;
    assert_int_equal(stun_writer_init(&w, out, sizeof out, STUN_BINDING_SUCCESS, m.tid), J_OK);
    assert_int_equal(stun_writer_add_xor_mapped_address(&w, &want), J_OK);
    const uint8_t *orig;
    size_t orig_len;
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &orig, &orig_len), J_OK);
    assert_int_equal(w.len, 20 + 4 + orig_len);
    assert_memory_equal(out + 24, orig, orig_len);
}

static void test_rfc5769_ipv4_response(void **state)
{
    (void)state;
    check_response(rfc_ipv4_response, sizeof rfc_ipv4_response, "192.0.2.1");
}

static void test_rfc5769_ipv6_response(void **state)
{
    (void)state;
    check_response(rfc_ipv6_response, sizeof rfc_ipv6_response,
                   "2001:db8:1234:5678:11:2233:4455:6677");
}

/* Long-term key = MD5(username ":" realm ":" password), RFC 8489 section 9.2.2. */
static void longterm_key(uint8_t key[16])
{
    static const char input[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf"
                                "\xe3\x82\xb9:example.org:TheMatrIX";
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(input, sizeof input - 1, key, &n, EVP_md5(), NULL), 1);
    assert_int_equal(n, 16);
}

static void test_rfc5769_longterm(void **state)
{
    (void)state;
    stun_msg m;
    assert_int_equal(stun_parse(&m, rfc_longterm, sizeof rfc_longterm), J_OK);
    assert_int_equal(m.type, STUN_BINDING_REQUEST);
    assert_int_equal(m.username_len, 18);
    assert_memory_equal(m.username, rfc_longterm + 24, 18);
    assert_false(m.has_fingerprint);
    assert_int_equal(m.unknown_required_count, 0); /* NONCE and REALM are known */
    const uint8_t *v;
    size_t n;
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_NONCE, &v, &n), J_OK);
    assert_int_equal(n, 28);
    assert_memory_equal(v, "f//499k954d6OL34oL9FSTvy64sA", 28);
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_REALM, &v, &n), J_OK);
    assert_int_equal(n, 11);
    assert_memory_equal(v, "example.org", 11);
    assert_int_equal(stun_verify_fingerprint(&m, rfc_longterm, sizeof rfc_longterm), J_EAUTH);

    uint8_t key[16];
    longterm_key(key);
    assert_int_equal(stun_verify_integrity(&m, rfc_longterm, sizeof rfc_longterm, key, 16), J_OK);

    /* parse -> write -> memcmp: its padding is zero, so the writer reproduces
     * it byte for byte, MESSAGE-INTEGRITY included. */
    uint8_t out[256];
    stun_writer w;
    assert_int_equal(stun_writer_init(&w, out, sizeof out, m.type, m.tid), J_OK);
    assert_int_equal(stun_writer_add_username(&w, (const char *)m.username, m.username_len),
                     J_OK);
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_NONCE, &v, &n), J_OK);
    assert_int_equal(stun_writer_add(&w, STUN_ATTR_NONCE, v, n), J_OK);
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_REALM, &v, &n), J_OK);
    assert_int_equal(stun_writer_add(&w, STUN_ATTR_REALM, v, n), J_OK);
    int len = stun_writer_finish(&w, key, 16, false);
    assert_int_equal(len, (int)sizeof rfc_longterm);
    assert_memory_equal(out, rfc_longterm, sizeof rfc_longterm);
}

static void test_rfc5769_tampered(void **state)
{
    (void)state;
    uint8_t buf[sizeof rfc_request];
    /* Flip one bit in each byte covered by both checks (header length and
     * cookie excluded: those make the message unparsable instead). */
    for (size_t i = 8; i < 76; i++) {
        memcpy(buf, rfc_request, sizeof buf);
        buf[i] ^= 0x01;
        stun_msg m;
        if (stun_parse(&m, buf, sizeof buf) != J_OK) continue; /* e.g. a length byte */
        assert_int_equal(stun_verify_integrity(&m, buf, sizeof buf, pwd_key(), pwd_len()),
                         J_EAUTH);
        assert_int_equal(stun_verify_fingerprint(&m, buf, sizeof buf), J_EAUTH);
    }
    /* A corrupted FINGERPRINT fails alone; integrity still holds. */
    memcpy(buf, rfc_request, sizeof buf);
    buf[sizeof buf - 1] ^= 0x80;
    stun_msg m;
    assert_int_equal(stun_parse(&m, buf, sizeof buf), J_OK);
    assert_int_equal(stun_verify_integrity(&m, buf, sizeof buf, pwd_key(), pwd_len()), J_OK);
    assert_int_equal(stun_verify_fingerprint(&m, buf, sizeof buf), J_EAUTH);
}

/* ---- malformed input ---- */

typedef struct {
    const char *name;
    uint8_t attrs[48]; /* attribute bytes after a Binding request header */
    size_t attrs_len;
    int declared_delta; /* added to the correct Message Length */
    int first_byte;     /* -1: keep 0x00 */
    bool bad_cookie;
    int expect;
} malformed_case;

static const malformed_case malformed[] = {
    {"length not a multiple of 4", {0}, 0, 2, -1, false, J_EMALFORMED},
    {"length longer than datagram", {0}, 0, 4, -1, false, J_ESHORT},
    {"length shorter than datagram", {0x80, 0x22, 0x00, 0x00}, 4, -4, -1, false, J_EMALFORMED},
    {"top bit set (RTP/DTLS)", {0}, 0, 0, 0x80, false, J_EMALFORMED},
    {"second bit set", {0}, 0, 0, 0x40, false, J_EMALFORMED},
    {"bad magic cookie", {0}, 0, 0, -1, true, J_EMALFORMED},
    {"attribute longer than message", {0x80, 0x22, 0x00, 0x08, 'a', 'b', 'c', 'd'}, 8, 0, -1,
     false, J_EMALFORMED},
    {"attribute padding past message", {0x80, 0x22, 0x00, 0x05, 'a', 'b', 'c', 'd'}, 8, 0, -1,
     false, J_EMALFORMED},
    {"attribute overruns, huge length", {0x00, 0x06, 0xff, 0xff, 'a', 'b', 'c', 'd'}, 8, 0, -1,
     false, J_EMALFORMED},
    {"second attribute overruns",
     {0x80, 0x22, 0x00, 0x01, 'x', 0, 0, 0, 0x00, 0x06, 0x00, 0x04},
     12, 0, -1, false, J_EMALFORMED},
    {"PRIORITY of 3 bytes", {0x00, 0x24, 0x00, 0x03, 1, 2, 3, 0}, 8, 0, -1, false, J_EMALFORMED},
    {"USE-CANDIDATE with a value", {0x00, 0x25, 0x00, 0x04, 1, 2, 3, 4}, 8, 0, -1, false,
     J_EMALFORMED},
    {"ICE-CONTROLLING of 4 bytes", {0x80, 0x2a, 0x00, 0x04, 1, 2, 3, 4}, 8, 0, -1, false,
     J_EMALFORMED},
    {"ICE-CONTROLLED of 12 bytes", {0x80, 0x29, 0x00, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
     16, 0, -1, false, J_EMALFORMED},
    {"MESSAGE-INTEGRITY of 16 bytes", {0x00, 0x08, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
     12, 13, 14, 15, 16}, 20, 0, -1, false, J_EMALFORMED},
    {"MESSAGE-INTEGRITY-SHA256 of 8 bytes", {0x00, 0x1c, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8}, 12,
     0, -1, false, J_EMALFORMED},
    {"FINGERPRINT of 8 bytes", {0x80, 0x28, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8}, 12, 0, -1, false,
     J_EMALFORMED},
    {"XOR-MAPPED-ADDRESS family 3", {0x00, 0x20, 0x00, 0x08, 0, 3, 0, 0, 1, 2, 3, 4}, 12, 0, -1,
     false, J_EMALFORMED},
    {"XOR-MAPPED-ADDRESS IPv4 with 20 bytes", {0x00, 0x20, 0x00, 0x14, 0, 1, 0, 0, 1, 2, 3, 4, 5,
     6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 24, 0, -1, false, J_EMALFORMED},
    {"XOR-MAPPED-ADDRESS IPv6 with 8 bytes", {0x00, 0x20, 0x00, 0x08, 0, 2, 0, 0, 1, 2, 3, 4}, 12,
     0, -1, false, J_EMALFORMED},
    {"XOR-MAPPED-ADDRESS of 2 bytes", {0x00, 0x20, 0x00, 0x02, 0, 1, 0, 0}, 8, 0, -1, false,
     J_EMALFORMED},
    {"ERROR-CODE class 2", {0x00, 0x09, 0x00, 0x04, 0, 0, 2, 0}, 8, 0, -1, false, J_EMALFORMED},
    {"ERROR-CODE number 100", {0x00, 0x09, 0x00, 0x04, 0, 0, 4, 100}, 8, 0, -1, false,
     J_EMALFORMED},
    {"ERROR-CODE of 3 bytes", {0x00, 0x09, 0x00, 0x03, 0, 0, 4, 0}, 8, 0, -1, false,
     J_EMALFORMED},
};

static void test_malformed_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        const malformed_case *c = &malformed[i];
        uint8_t buf[20 + 48];
        memset(buf, 0, sizeof buf);
        wr_be16(buf, STUN_BINDING_REQUEST);
        wr_be16(buf + 2, (uint16_t)((int)c->attrs_len + c->declared_delta));
        wr_be32(buf + 4, c->bad_cookie ? 0x2112A443u : STUN_MAGIC_COOKIE);
        memcpy(buf + 8, rfc_tid, 12);
        if (c->first_byte >= 0) buf[0] = (uint8_t)c->first_byte;
        memcpy(buf + 20, c->attrs, c->attrs_len);
        stun_msg m;
        int rc = stun_parse(&m, buf, 20 + c->attrs_len);
        if (rc != c->expect) fail_msg("case '%s': got %d, want %d", c->name, rc, c->expect);
    }
}

static void test_malformed_truncation(void **state)
{
    (void)state;
    stun_msg m;
    assert_int_equal(stun_parse(&m, NULL, 0), J_ESHORT);
    assert_int_equal(stun_parse(&m, rfc_request, 0), J_ESHORT);
    assert_int_equal(stun_parse(&m, rfc_request, 19), J_ESHORT);
    /* Every shorter prefix of a valid message is rejected, never read past. */
    for (size_t n = 20; n < sizeof rfc_request; n++)
        assert_int_equal(stun_parse(&m, rfc_request, n), J_ESHORT);
    /* Trailing bytes after the declared length: not one STUN message. */
    uint8_t longer[sizeof rfc_request + 4];
    memcpy(longer, rfc_request, sizeof rfc_request);
    memset(longer + sizeof rfc_request, 0, 4);
    assert_int_equal(stun_parse(&m, longer, sizeof longer), J_EMALFORMED);
    assert_int_equal(stun_parse(&m, rfc_request, 20), J_ESHORT); /* declares 88 bytes */
    /* A bare header is a valid, empty message. */
    uint8_t bare[20];
    memcpy(bare, rfc_request, 20);
    wr_be16(bare + 2, 0);
    assert_int_equal(stun_parse(&m, bare, 20), J_OK);
    assert_false(m.has_integrity);
    assert_int_equal(stun_verify_integrity(&m, bare, 20, pwd_key(), pwd_len()), J_EAUTH);
    assert_int_equal(stun_verify_fingerprint(&m, bare, 20), J_EAUTH);
}

/* Builds a header + raw attributes message with a correct length field. */
static size_t raw_msg(uint8_t *buf, uint16_t type, const uint8_t *attrs, size_t attrs_len)
{
    wr_be16(buf, type);
    wr_be16(buf + 2, (uint16_t)attrs_len);
    wr_be32(buf + 4, STUN_MAGIC_COOKIE);
    memcpy(buf + 8, rfc_tid, 12);
    memcpy(buf + 20, attrs, attrs_len);
    return 20 + attrs_len;
}

static void test_unknown_attributes(void **state)
{
    (void)state;
    uint8_t attrs[] = {
        0x00, 0x30, 0x00, 0x00,             /* unknown, comprehension-required */
        0xc0, 0x57, 0x00, 0x04, 1, 2, 3, 4, /* unknown, optional: skipped silently */
        0x7f, 0xff, 0x00, 0x01, 9, 0, 0, 0, /* unknown, comprehension-required */
        0x00, 0x24, 0x00, 0x04, 0, 0, 0, 7, /* PRIORITY */
        0x00, 0x24, 0x00, 0x04, 0, 0, 0, 8, /* duplicate: only the first counts */
    };
    uint8_t buf[128];
    size_t n = raw_msg(buf, STUN_BINDING_REQUEST, attrs, sizeof attrs);
    stun_msg m;
    assert_int_equal(stun_parse(&m, buf, n), J_OK);
    assert_int_equal(m.unknown_required_count, 2);
    assert_int_equal(m.unknown_required[0], 0x0030);
    assert_int_equal(m.unknown_required[1], 0x7fff);
    assert_int_equal(m.priority, 7);

    /* More than STUN_MAX_UNKNOWN: the count goes on, the list keeps the first. */
    uint8_t many[4 * 12];
    for (int i = 0; i < 12; i++) {
        wr_be16(many + 4 * i, (uint16_t)(0x0040 + i));
        wr_be16(many + 4 * i + 2, 0);
    }
    n = raw_msg(buf, STUN_BINDING_REQUEST, many, sizeof many);
    assert_int_equal(stun_parse(&m, buf, n), J_OK);
    assert_int_equal(m.unknown_required_count, 12);
    assert_int_equal(m.unknown_required[STUN_MAX_UNKNOWN - 1], 0x0040 + STUN_MAX_UNKNOWN - 1);
}

/* Attributes after MESSAGE-INTEGRITY are ignored except FINGERPRINT; the
 * checks still verify when something follows (length field adjusted). */
static void test_attributes_after_integrity(void **state)
{
    (void)state;
    uint8_t buf[256];
    stun_writer w;
    assert_int_equal(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_REQUEST, rfc_tid), J_OK);
    assert_int_equal(stun_writer_add_priority(&w, 42), J_OK);
    int n = stun_writer_finish(&w, pwd_key(), pwd_len(), false);
    assert_int_equal(n, 20 + 8 + 24);

    /* Append USERNAME, an unknown required attribute, then FINGERPRINT. */
    static const uint8_t tail[] = {0x00, 0x06, 0x00, 0x03, 'a', ':', 'b', 0,
                                   0x00, 0x31, 0x00, 0x00};
    memcpy(buf + n, tail, sizeof tail);
    size_t len = (size_t)n + sizeof tail;
    wr_be16(buf + 2, (uint16_t)(len - 20 + 8));
    /* FINGERPRINT by hand: the writer would not emit the ignored attributes. */
    uint32_t crc = j_crc32(buf, len) ^ STUN_FINGERPRINT_XOR;
    wr_be16(buf + len, STUN_ATTR_FINGERPRINT);
    wr_be16(buf + len + 2, 4);
    wr_be32(buf + len + 4, crc);
    len += 8;

    stun_msg m;
    assert_int_equal(stun_parse(&m, buf, len), J_OK);
    assert_false(m.has_username);
    assert_int_equal(m.unknown_required_count, 0);
    assert_true(m.has_fingerprint);
    assert_int_equal(m.priority, 42);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_USERNAME, &v, &vl), J_ENOTFOUND);
    assert_int_equal(stun_verify_integrity(&m, buf, len, pwd_key(), pwd_len()), J_OK);
    assert_int_equal(stun_verify_fingerprint(&m, buf, len), J_OK);

    /* Anything after FINGERPRINT is ignored too, and both checks still hold. */
    wr_be16(buf + len, STUN_ATTR_PRIORITY);
    wr_be16(buf + len + 2, 4);
    wr_be32(buf + len + 4, 99);
    len += 8;
    wr_be16(buf + 2, (uint16_t)(len - 20));
    assert_int_equal(stun_parse(&m, buf, len), J_OK);
    assert_int_equal(m.priority, 42);
    assert_int_equal(stun_verify_integrity(&m, buf, len, pwd_key(), pwd_len()), J_OK);
    assert_int_equal(stun_verify_fingerprint(&m, buf, len), J_OK);
}

static void test_integrity_sha256_noted(void **state)
{
    (void)state;
    uint8_t attrs[4 + 32 + 8 + 4 + 20];
    size_t o = 0;
    wr_be16(attrs + o, STUN_ATTR_MESSAGE_INTEGRITY_SHA256);
    wr_be16(attrs + o + 2, 32);
    memset(attrs + o + 4, 0xab, 32);
    o += 36;
    wr_be16(attrs + o, STUN_ATTR_PRIORITY); /* ignored: follows MI-SHA256 */
    wr_be16(attrs + o + 2, 4);
    wr_be32(attrs + o + 4, 5);
    o += 8;
    wr_be16(attrs + o, STUN_ATTR_MESSAGE_INTEGRITY); /* ignored as well */
    wr_be16(attrs + o + 2, 20);
    memset(attrs + o + 4, 0, 20);
    o += 24;
    uint8_t buf[128];
    size_t n = raw_msg(buf, STUN_BINDING_REQUEST, attrs, o);
    stun_msg m;
    assert_int_equal(stun_parse(&m, buf, n), J_OK);
    assert_true(m.has_integrity_sha256);
    assert_int_equal(m.integrity_sha256_offset, 20);
    assert_false(m.has_priority);
    assert_false(m.has_integrity);
}

/* ---- writer ---- */

static void test_writer_request_round_trip(void **state)
{
    (void)state;
    uint8_t buf[256];
    stun_writer w;
    assert_int_equal(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_REQUEST, rfc_tid), J_OK);
    assert_int_equal(stun_writer_add_username(&w, "abcd:efg", 8), J_OK);
    assert_int_equal(stun_writer_add_priority(&w, 0x6e7f1eff), J_OK);
    assert_int_equal(stun_writer_add_ice_controlling(&w, 0x0102030405060708ull), J_OK);
    assert_int_equal(stun_writer_add_use_candidate(&w), J_OK);
    static const uint8_t sw[] = "junction";
    assert_int_equal(stun_writer_add(&w, STUN_ATTR_SOFTWARE, sw, 7), J_OK); /* padded 7 -> 8 */
    int n = stun_writer_finish(&w, pwd_key(), pwd_len(), true);
    assert_int_equal(n, 20 + 12 + 8 + 12 + 4 + 12 + 24 + 8);
    assert_int_equal(rd_be16(buf + 2), n - 20);
    assert_int_equal(buf[20 + 12 + 8 + 12 + 4 + 4 + 7], 0); /* zero padding */

    stun_msg m;
    assert_int_equal(stun_parse(&m, buf, (size_t)n), J_OK);
    assert_int_equal(m.type, STUN_BINDING_REQUEST);
    assert_memory_equal(m.tid, rfc_tid, 12);
    assert_int_equal(m.username_len, 8);
    assert_memory_equal(m.username, "abcd:efg", 8);
    assert_int_equal(m.priority, 0x6e7f1eff);
    assert_true(m.has_ice_controlling);
    assert_true(m.ice_controlling == 0x0102030405060708ull);
    assert_true(m.use_candidate);
    assert_int_equal(stun_verify_integrity(&m, buf, (size_t)n, pwd_key(), pwd_len()), J_OK);
    assert_int_equal(stun_verify_fingerprint(&m, buf, (size_t)n), J_OK);

    /* parse -> write -> memcmp */
    uint8_t again[256];
    assert_int_equal(stun_writer_init(&w, again, sizeof again, m.type, m.tid), J_OK);
    stun_writer_add_username(&w, (const char *)m.username, m.username_len);
    stun_writer_add_priority(&w, m.priority);
    stun_writer_add_ice_controlling(&w, m.ice_controlling);
    stun_writer_add_use_candidate(&w);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_SOFTWARE, &v, &vl), J_OK);
    stun_writer_add(&w, STUN_ATTR_SOFTWARE, v, vl);
    assert_int_equal(stun_writer_finish(&w, pwd_key(), pwd_len(), true), n);
    assert_memory_equal(again, buf, (size_t)n);
}

static void test_writer_response_round_trip(void **state)
{
    (void)state;
    static const char *ips[] = {"203.0.113.7", "2001:db8::1", "::ffff:192.0.2.9", "0.0.0.0"};
    for (size_t i = 0; i < 4; i++) {
        j_addr a;
        assert_int_equal(j_addr_parse(&a, ips[i], (uint16_t)(1 + i * 20000)), J_OK);
        uint8_t buf[128];
        stun_writer w;
        assert_int_equal(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_SUCCESS, rfc_tid),
                         J_OK);
        assert_int_equal(stun_writer_add_xor_mapped_address(&w, &a), J_OK);
        int n = stun_writer_finish(&w, pwd_key(), pwd_len(), true);
        assert_true(n > 0);
        stun_msg m;
        assert_int_equal(stun_parse(&m, buf, (size_t)n), J_OK);
        assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
        assert_true(m.has_xor_mapped);
        assert_true(j_addr_equal(&m.xor_mapped, &a));
        assert_int_equal(stun_verify_integrity(&m, buf, (size_t)n, pwd_key(), pwd_len()), J_OK);
    }
}

static void test_writer_error_round_trip(void **state)
{
    (void)state;
    uint8_t buf[128];
    stun_writer w;
    assert_int_equal(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_ERROR, rfc_tid), J_OK);
    assert_int_equal(stun_writer_add_error_code(&w, 487, "Role Conflict"), J_OK);
    static const uint16_t unknown[] = {0x0030, 0x7fff, 0x0041};
    assert_int_equal(stun_writer_add_unknown_attributes(&w, unknown, 3), J_OK);
    int n = stun_writer_finish(&w, NULL, 0, true);
    assert_true(n > 0);
    stun_msg m;
    assert_int_equal(stun_parse(&m, buf, (size_t)n), J_OK);
    assert_int_equal(m.cls, STUN_CLASS_ERROR);
    assert_int_equal(m.method, STUN_METHOD_BINDING);
    assert_true(m.has_error);
    assert_int_equal(m.error_code, 487);
    assert_int_equal(m.error_reason_len, 13);
    assert_memory_equal(m.error_reason, "Role Conflict", 13);
    assert_false(m.has_integrity);
    assert_int_equal(stun_verify_fingerprint(&m, buf, (size_t)n), J_OK);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES, &v, &vl), J_OK);
    assert_int_equal(vl, 6);
    assert_int_equal(rd_be16(v + 4), 0x0041);
    assert_int_equal(m.unknown_required_count, 0);

    /* Every class and code boundary. */
    for (int code = 300; code <= 699; code += 57) {
        assert_int_equal(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_ERROR, rfc_tid), J_OK);
        assert_int_equal(stun_writer_add_error_code(&w, code, NULL), J_OK);
        n = stun_writer_finish(&w, NULL, 0, false);
        assert_int_equal(stun_parse(&m, buf, (size_t)n), J_OK);
        assert_int_equal(m.error_code, code);
        assert_int_equal(m.error_reason_len, 0);
    }
}

static void test_writer_errors(void **state)
{
    (void)state;
    uint8_t buf[64];
    stun_writer w;
    assert_int_equal(stun_writer_init(&w, buf, 19, STUN_BINDING_REQUEST, rfc_tid), J_ESHORTBUF);
    assert_int_equal(stun_writer_add_priority(&w, 1), J_ESHORTBUF);
    assert_int_equal(stun_writer_finish(&w, NULL, 0, false), J_ESHORTBUF);
    assert_int_equal(stun_writer_init(&w, buf, sizeof buf, 0xC001, rfc_tid), J_EINVAL);

    /* Sticky: a failed add poisons the message. */
    assert_int_equal(stun_writer_init(&w, buf, 28, STUN_BINDING_REQUEST, rfc_tid), J_OK);
    assert_int_equal(stun_writer_add_priority(&w, 1), J_OK);          /* exactly fits */
    assert_int_equal(stun_writer_add_use_candidate(&w), J_ESHORTBUF); /* 4 more: no */
    assert_int_equal(stun_writer_add_priority(&w, 1), J_ESHORTBUF);
    assert_int_equal(stun_writer_finish(&w, NULL, 0, false), J_ESHORTBUF);

    /* No room for MESSAGE-INTEGRITY or FINGERPRINT. */
    assert_int_equal(stun_writer_init(&w, buf, 20 + 23, STUN_BINDING_REQUEST, rfc_tid), J_OK);
    assert_int_equal(stun_writer_finish(&w, pwd_key(), pwd_len(), false), J_ESHORTBUF);
    assert_int_equal(stun_writer_init(&w, buf, 20 + 24 + 7, STUN_BINDING_REQUEST, rfc_tid), J_OK);
    assert_int_equal(stun_writer_finish(&w, pwd_key(), pwd_len(), true), J_ESHORTBUF);
    assert_int_equal(stun_writer_init(&w, buf, 20 + 24 + 8, STUN_BINDING_REQUEST, rfc_tid), J_OK);
    assert_int_equal(stun_writer_finish(&w, pwd_key(), pwd_len(), true), 52);
    /* Finished once. */
    assert_int_equal(stun_writer_finish(&w, NULL, 0, false), J_ESTATE);
    assert_int_equal(stun_writer_add_priority(&w, 1), J_ESTATE);

    /* Bad arguments. */
    assert_int_equal(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_ERROR, rfc_tid), J_OK);
    assert_int_equal(stun_writer_add_error_code(&w, 299, NULL), J_EINVAL);
    assert_int_equal(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_ERROR, rfc_tid), J_OK);
    assert_int_equal(stun_writer_add_error_code(&w, 700, NULL), J_EINVAL);
    assert_int_equal(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_SUCCESS, rfc_tid), J_OK);
    j_addr unix_addr;
    memset(&unix_addr, 0, sizeof unix_addr);
    unix_addr.sa.sa_family = AF_UNIX;
    assert_int_equal(stun_writer_add_xor_mapped_address(&w, &unix_addr), J_EINVAL);
    assert_int_equal(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_SUCCESS, rfc_tid), J_OK);
    assert_int_equal(stun_writer_add(&w, 0x8022, NULL, 3), J_EINVAL);
}

static void test_msg_type_and_demux(void **state)
{
    (void)state;
    assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), 0x0001);
    assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_INDICATION), 0x0011);
    assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), 0x0101);
    assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_ERROR), 0x0111);
    assert_int_equal(stun_msg_type(0x003, STUN_CLASS_ERROR), 0x0113); /* TURN Allocate */
    assert_int_equal(stun_msg_type(0xFFF, STUN_CLASS_ERROR), 0x3FFF);

    /* Method and class decode back from every type through the parser. */
    static const uint16_t methods[] = {0x001, 0x003, 0x009, 0x016, 0x0A5, 0xFFF};
    for (size_t i = 0; i < 6; i++) {
        for (int c = 0; c < 4; c++) {
            uint8_t buf[20];
            stun_writer w;
            assert_int_equal(stun_writer_init(&w, buf, sizeof buf,
                                              stun_msg_type(methods[i], (stun_class)c), rfc_tid),
                             J_OK);
            assert_int_equal(stun_writer_finish(&w, NULL, 0, false), 20);
            stun_msg m;
            assert_int_equal(stun_parse(&m, buf, 20), J_OK);
            assert_int_equal(m.method, methods[i]);
            assert_int_equal(m.cls, c);
        }
    }

    assert_true(stun_is_stun(rfc_ipv6_response, sizeof rfc_ipv6_response));
    assert_false(stun_is_stun(rfc_request, 19));
    assert_false(stun_is_stun(NULL, 0));
    uint8_t b[20];
    memcpy(b, rfc_request, 20);
    b[0] = 22; /* DTLS handshake */
    assert_false(stun_is_stun(b, 20));
    b[0] = 0x80; /* RTP */
    assert_false(stun_is_stun(b, 20));
    b[0] = 0x03;
    assert_true(stun_is_stun(b, 20));
    b[7] ^= 1;
    assert_false(stun_is_stun(b, 20));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5769_request),
        cmocka_unit_test(test_rfc5769_ipv4_response),
        cmocka_unit_test(test_rfc5769_ipv6_response),
        cmocka_unit_test(test_rfc5769_longterm),
        cmocka_unit_test(test_rfc5769_tampered),
        cmocka_unit_test(test_malformed_table),
        cmocka_unit_test(test_malformed_truncation),
        cmocka_unit_test(test_unknown_attributes),
        cmocka_unit_test(test_attributes_after_integrity),
        cmocka_unit_test(test_integrity_sha256_noted),
        cmocka_unit_test(test_writer_request_round_trip),
        cmocka_unit_test(test_writer_response_round_trip),
        cmocka_unit_test(test_writer_error_round_trip),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_msg_type_and_demux),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
