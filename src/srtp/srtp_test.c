/* srtp_test.c - j_srtp: RFC vectors, round trips, rollover, replay, limits, allocation.
 *
 * Known answers come from the RFCs (RFC 3711 B.2/B.3, RFC 6188 §7.2, RFC 7714 §16/§17);
 * interoperability with libsrtp2 is checked in srtp_oracle_test.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/bytes.h"
#include "core/err.h"
#include "srtp/srtp.h"
#include "srtp/srtp_internal.h"

#define PROFILE_COUNT 3
static const j_srtp_profile k_profiles[PROFILE_COUNT] = {
    J_SRTP_PROFILE_AES128_CM_SHA1_80, J_SRTP_PROFILE_AEAD_AES_128_GCM,
    J_SRTP_PROFILE_AEAD_AES_256_GCM};

static void fill_key(uint8_t *key, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) key[i] = (uint8_t)(seed + i * 7);
}

/* A pair of sessions sharing one master key: sender (outbound) and receiver (inbound). */
typedef struct {
    j_srtp_profile profile;
    j_srtp *tx, *rx;
} session_pair;

static void pair_open_sized(session_pair *s, j_srtp_profile p, size_t max_streams)
{
    uint8_t key[J_SRTP_MAX_KEY_SALT_LEN];
    size_t n = j_srtp_profile_key_salt_len(p);
    fill_key(key, n, 0x11);
    s->profile = p;
    s->tx = j_srtp_new(p, key, n, J_SRTP_OUTBOUND, max_streams);
    s->rx = j_srtp_new(p, key, n, J_SRTP_INBOUND, max_streams);
    assert_non_null(s->tx);
    assert_non_null(s->rx);
}

static void pair_open(session_pair *s, j_srtp_profile p)
{
    pair_open_sized(s, p, J_SRTP_MAX_STREAMS);
}

static void pair_close(session_pair *s)
{
    j_srtp_free(s->tx);
    j_srtp_free(s->rx);
}

/* RTP: V=2, PT 96, seq, ts, ssrc, then payload_len bytes of pattern. Returns its length. */
static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload_len)
{
    buf[0] = 0x80;
    buf[1] = 96;
    wr_be16(buf + 2, seq);
    wr_be32(buf + 4, (uint32_t)seq * 960u);
    wr_be32(buf + 8, ssrc);
    for (size_t i = 0; i < payload_len; i++) buf[12 + i] = (uint8_t)(i ^ seq);
    return 12 + payload_len;
}

/* RTCP receiver report with one report block (32 bytes). */
static size_t make_rtcp(uint8_t *buf, uint32_t ssrc)
{
    memset(buf, 0, 32);
    buf[0] = 0x81;
    buf[1] = 201;
    wr_be16(buf + 2, 7);
    wr_be32(buf + 4, ssrc);
    wr_be32(buf + 8, 0xCAFEBABE);
    buf[12] = 5; /* fraction lost */
    return 32;
}

/* Protect then unprotect one RTP packet: returns unprotect's result. */
static int rtp_through(session_pair *s, uint16_t seq, uint32_t ssrc)
{
    uint8_t buf[128];
    size_t len = make_rtp(buf, seq, ssrc, 40);
    int n = j_srtp_protect_rtp(s->tx, buf, len, sizeof buf);
    assert_int_equal(n, (int)(len + j_srtp_rtp_overhead(s->profile)));
    return j_srtp_unprotect_rtp(s->rx, buf, (size_t)n);
}

/* ---- RFC 3711 / RFC 6188 key derivation and keystream --------------------------------- */

static void test_rfc3711_b3_key_derivation(void **state)
{
    (void)state;
    /* RFC 3711 Appendix B.3: AES-128 PRF, 112-bit master salt. */
    static const uint8_t master_key[16] = {0xE1, 0xF9, 0x7A, 0x0D, 0x3E, 0x01, 0x8B, 0xE0,
                                           0xD6, 0x4F, 0xA3, 0x2C, 0x06, 0xDE, 0x41, 0x39};
    static const uint8_t master_salt[14] = {0x0E, 0xC6, 0x75, 0xAD, 0x49, 0x8A, 0xFE,
                                            0xEB, 0xB6, 0x96, 0x0B, 0x3A, 0xAB, 0xE6};
    /* label 0x00: cipher key */
    static const uint8_t cipher_key[16] = {0xC6, 0x1E, 0x7A, 0x93, 0x74, 0x4F, 0x39, 0xEE,
                                           0x10, 0x73, 0x4A, 0xFE, 0x3F, 0xF7, 0xA0, 0x87};
    /* label 0x02: cipher salt */
    static const uint8_t cipher_salt[14] = {0x30, 0xCB, 0xBC, 0x08, 0x86, 0x3D, 0x8C,
                                            0x85, 0xD4, 0x9D, 0xB3, 0x4A, 0x9A, 0xE1};
    /* label 0x01: the RFC lists 94 bytes of auth key stream (six AES blocks). */
    static const uint8_t auth_key[94] = {
        0xCE, 0xBE, 0x32, 0x1F, 0x6F, 0xF7, 0x71, 0x6B, 0x6F, 0xD4, 0xAB, 0x49, 0xAF, 0x25,
        0x6A, 0x15, 0x6D, 0x38, 0xBA, 0xA4, 0x8F, 0x0A, 0x0A, 0xCF, 0x3C, 0x34, 0xE2, 0x35,
        0x9E, 0x6C, 0xDB, 0xCE, 0xE0, 0x49, 0x64, 0x6C, 0x43, 0xD9, 0x32, 0x7A, 0xD1, 0x75,
        0x57, 0x8E, 0xF7, 0x22, 0x70, 0x98, 0x63, 0x71, 0xC1, 0x0C, 0x9A, 0x36, 0x9A, 0xC2,
        0xF9, 0x4A, 0x8C, 0x5F, 0xBC, 0xDD, 0xDC, 0x25, 0x6D, 0x6E, 0x91, 0x9A, 0x48, 0xB6,
        0x10, 0xEF, 0x17, 0xC2, 0x04, 0x1E, 0x47, 0x40, 0x35, 0x76, 0x6B, 0x68, 0x64, 0x2C,
        0x59, 0xBB, 0xFC, 0x2F, 0x34, 0xDB, 0x60, 0xDB, 0xDF, 0xB2};
    uint8_t out[94];
    assert_int_equal(j_srtp_kdf(master_key, 16, master_salt, 14, 0x00, out, 16), 0);
    assert_memory_equal(out, cipher_key, 16);
    assert_int_equal(j_srtp_kdf(master_key, 16, master_salt, 14, 0x02, out, 14), 0);
    assert_memory_equal(out, cipher_salt, 14);
    assert_int_equal(j_srtp_kdf(master_key, 16, master_salt, 14, 0x01, out, 94), 0);
    assert_memory_equal(out, auth_key, 94);

    /* The profile's derivation picks the same labels and lengths. */
    uint8_t key_salt[30];
    memcpy(key_salt, master_key, 16);
    memcpy(key_salt + 16, master_salt, 14);
    j_srtp_keys k;
    assert_int_equal(j_srtp_derive_keys(J_SRTP_PROFILE_AES128_CM_SHA1_80, key_salt, 30, &k), 0);
    assert_memory_equal(k.rtp.enc, cipher_key, 16);
    assert_memory_equal(k.rtp.salt, cipher_salt, 14);
    assert_memory_equal(k.rtp.auth, auth_key, J_SRTP_AUTH_KEY_LEN);
    /* RTCP (labels 3..5) differs from RTP. */
    assert_memory_not_equal(k.rtcp.enc, k.rtp.enc, 16);
    assert_int_equal(j_srtp_derive_keys(J_SRTP_PROFILE_AES128_CM_SHA1_80, key_salt, 28, &k),
                     J_EINVAL);
    assert_int_equal(j_srtp_kdf(master_key, 24, master_salt, 14, 0, out, 16), J_EINVAL);
}

static void test_rfc6188_aes256_key_derivation(void **state)
{
    (void)state;
    /* RFC 6188 §7.2: AES-256 PRF. */
    static const uint8_t master_key[32] = {
        0xF0, 0xF0, 0x49, 0x14, 0xB5, 0x13, 0xF2, 0x76, 0x3A, 0x1B, 0x1F,
        0xA1, 0x30, 0xF1, 0x0E, 0x29, 0x98, 0xF6, 0xF6, 0xE4, 0x3E, 0x43,
        0x09, 0xD1, 0xE6, 0x22, 0xA0, 0xE3, 0x32, 0xB9, 0xF1, 0xB6};
    static const uint8_t master_salt[14] = {0x3B, 0x04, 0x80, 0x3D, 0xE5, 0x1E, 0xE7,
                                            0xC9, 0x64, 0x23, 0xAB, 0x5B, 0x78, 0xD2};
    /* label 0x00: cipher key (256 bits) */
    static const uint8_t cipher_key[32] = {
        0x5B, 0xA1, 0x06, 0x4E, 0x30, 0xEC, 0x51, 0x61, 0x3C, 0xAD, 0x92,
        0x6C, 0x5A, 0x28, 0xEF, 0x73, 0x1E, 0xC7, 0xFB, 0x39, 0x7F, 0x70,
        0xA9, 0x60, 0x65, 0x3C, 0xAF, 0x06, 0x55, 0x4C, 0xD8, 0xC4};
    /* label 0x02: cipher salt */
    static const uint8_t cipher_salt[14] = {0xFA, 0x31, 0x79, 0x16, 0x85, 0xCA, 0x44,
                                            0x4A, 0x9E, 0x07, 0xC6, 0xC6, 0x4E, 0x93};
    uint8_t out[32];
    assert_int_equal(j_srtp_kdf(master_key, 32, master_salt, 14, 0x00, out, 32), 0);
    assert_memory_equal(out, cipher_key, 32);
    assert_int_equal(j_srtp_kdf(master_key, 32, master_salt, 14, 0x02, out, 14), 0);
    assert_memory_equal(out, cipher_salt, 14);
}

/* RFC 3711 Appendix B.2: with SSRC 0 and index 0 the IV is the session salt * 2^16, so a
 * zero payload encrypts to the keystream itself. The RFC lists blocks 0-2 and 0xFEFF-0xFF01;
 * the payload runs to block 0xFF01 (1 MB), which also shows the counter is not wrapped. */
static void test_rfc3711_b2_keystream(void **state)
{
    (void)state;
    j_srtp_keys k;
    memset(&k, 0, sizeof k);
    static const uint8_t session_key[16] = {0x2B, 0x7E, 0x15, 0x16, 0x28, 0xAE, 0xD2, 0xA6,
                                            0xAB, 0xF7, 0x15, 0x88, 0x09, 0xCF, 0x4F, 0x3C};
    static const uint8_t session_salt[14] = {0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6,
                                             0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD};
    memcpy(k.rtp.enc, session_key, 16);
    memcpy(k.rtp.salt, session_salt, 14);
    static const struct {
        size_t block;
        uint8_t keystream[16];
    } want[] = {
        {0x0000, {0xE0, 0x3E, 0xAD, 0x09, 0x35, 0xC9, 0x5E, 0x80, 0xE1, 0x66, 0xB1, 0x6D,
                  0xD9, 0x2B, 0x4E, 0xB4}},
        {0x0001, {0xD2, 0x35, 0x13, 0x16, 0x2B, 0x02, 0xD0, 0xF7, 0x2A, 0x43, 0xA2, 0xFE,
                  0x4A, 0x5F, 0x97, 0xAB}},
        {0x0002, {0x41, 0xE9, 0x5B, 0x3B, 0xB0, 0xA2, 0xE8, 0xDD, 0x47, 0x79, 0x01, 0xE4,
                  0xFC, 0xA8, 0x94, 0xC0}},
        {0xFEFF, {0xEC, 0x8C, 0xDF, 0x73, 0x98, 0x60, 0x7C, 0xB0, 0xF2, 0xD2, 0x16, 0x75,
                  0xEA, 0x9E, 0xA1, 0xE4}},
        {0xFF00, {0x36, 0x2B, 0x7C, 0x3C, 0x67, 0x73, 0x51, 0x63, 0x18, 0xA0, 0x77, 0xD7,
                  0xFC, 0x50, 0x73, 0xAE}},
        {0xFF01, {0x6A, 0x2C, 0xC3, 0x78, 0x78, 0x89, 0x37, 0x4F, 0xBE, 0xB4, 0xC8, 0x1B,
                  0x17, 0xBA, 0x6C, 0x44}},
    };
    j_srtp *tx = j_srtp_new_with_keys(J_SRTP_PROFILE_AES128_CM_SHA1_80, &k, J_SRTP_OUTBOUND,
                                      J_SRTP_MAX_STREAMS);
    assert_non_null(tx);
    size_t payload = (0xFF01 + 1) * 16, cap = 12 + payload + J_SRTP_MAX_TRAILER;
    uint8_t *pkt = calloc(1, cap);
    assert_non_null(pkt);
    pkt[0] = 0x80; /* seq 0, SSRC 0 */
    assert_int_equal(j_srtp_protect_rtp(tx, pkt, 12 + payload, cap), (int)(12 + payload + 10));
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_memory_equal(pkt + 12 + want[i].block * 16, want[i].keystream, 16);
    free(pkt);
    j_srtp_free(tx);
}

/* ---- RFC 7714 §16 (SRTP) and §17 (SRTCP) ------------------------------------------------ */

/* Both sections give session keys: key 00 01 .. (16 or 32 bytes), salt "Quid pro quo". */
static j_srtp *rfc7714_session(j_srtp_profile p, j_srtp_direction dir)
{
    static const uint8_t salt[12] = {0x51, 0x75, 0x69, 0x64, 0x20, 0x70,
                                     0x72, 0x6f, 0x20, 0x71, 0x75, 0x6f};
    j_srtp_keys k;
    memset(&k, 0, sizeof k);
    for (uint8_t i = 0; i < 32; i++) k.rtp.enc[i] = k.rtcp.enc[i] = i;
    memcpy(k.rtp.salt, salt, 12);
    memcpy(k.rtcp.salt, salt, 12);
    j_srtp *s = j_srtp_new_with_keys(p, &k, dir, J_SRTP_MAX_STREAMS);
    assert_non_null(s);
    return s;
}

/* §16.1.1: RTP header (SSRC 0x5501a0b2, seq 0xf17b, ROC 0) || "Gallia est omnis divisa in
 * partes tres". */
static const uint8_t k_rfc7714_rtp[] = {
    0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41, 0xf8, 0xd3, 0x55, 0x01, 0xa0, 0xb2, /* header */
    0x47, 0x61, 0x6c, 0x6c, 0x69, 0x61, 0x20, 0x65, 0x73, 0x74, 0x20, 0x6f, 0x6d,
    0x6e, 0x69, 0x73, 0x20, 0x64, 0x69, 0x76, 0x69, 0x73, 0x61, 0x20, 0x69, 0x6e,
    0x20, 0x70, 0x61, 0x72, 0x74, 0x65, 0x73, 0x20, 0x74, 0x72, 0x65, 0x73};

/* §16.1.1 AEAD_AES_128_GCM: header || ciphertext || tag */
static const uint8_t k_rfc7714_srtp_128[] = {
    0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41, 0xf8, 0xd3, 0x55, 0x01, 0xa0, 0xb2, /* header */
    0xf2, 0x4d, 0xe3, 0xa3, 0xfb, 0x34, 0xde, 0x6c, 0xac, 0xba, 0x86, 0x1c, 0x9d,
    0x7e, 0x4b, 0xca, 0xbe, 0x63, 0x3b, 0xd5, 0x0d, 0x29, 0x4e, 0x6f, 0x42, 0xa5,
    0xf4, 0x7a, 0x51, 0xc7, 0xd1, 0x9b, 0x36, 0xde, 0x3a, 0xdf, 0x88, 0x33, /* ciphertext */
    0x89, 0x9d, 0x7f, 0x27, 0xbe, 0xb1, 0x6a, 0x91, 0x52, 0xcf, 0x76, 0x5e, 0xe4, 0x39,
    0x0c, 0xce}; /* tag */

/* §16.2.1 AEAD_AES_256_GCM */
static const uint8_t k_rfc7714_srtp_256[] = {
    0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41, 0xf8, 0xd3, 0x55, 0x01, 0xa0, 0xb2, /* header */
    0x32, 0xb1, 0xde, 0x78, 0xa8, 0x22, 0xfe, 0x12, 0xef, 0x9f, 0x78, 0xfa, 0x33,
    0x2e, 0x33, 0xaa, 0xb1, 0x80, 0x12, 0x38, 0x9a, 0x58, 0xe2, 0xf3, 0xb5, 0x0b,
    0x2a, 0x02, 0x76, 0xff, 0xae, 0x0f, 0x1b, 0xa6, 0x37, 0x99, 0xb8, 0x7b, /* ciphertext */
    0x7a, 0xa3, 0xdb, 0x36, 0xdf, 0xff, 0xd6, 0xb0, 0xf9, 0xbb, 0x78, 0x78, 0xd7, 0xa7,
    0x6c, 0x13}; /* tag */

/* §17: an SR from SSRC "Mars" with 5 words of 0xdeadbeef; SRTCP index 0x5d4. */
static const uint8_t k_rfc7714_rtcp[] = {
    0x81, 0xc8, 0x00, 0x0d, 0x4d, 0x61, 0x72, 0x73, /* header, sender SSRC */
    0x4e, 0x54, 0x50, 0x31, 0x4e, 0x54, 0x50, 0x32, 0x52, 0x54, 0x50, 0x20, 0x00, 0x00,
    0x04, 0x2a, 0x00, 0x00, 0xe9, 0x30, 0x4c, 0x75, 0x6e, 0x61, 0xde, 0xad, 0xbe, 0xef,
    0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad,
    0xbe, 0xef};
#define RFC7714_SRTCP_INDEX 0x5d4
#define SRTCP_E_FLAG 0x80000000u

/* §17.1 AEAD_AES_128_GCM, encrypted (E = 1) */
static const uint8_t k_rfc7714_srtcp_128[] = {
    0x81, 0xc8, 0x00, 0x0d, 0x4d, 0x61, 0x72, 0x73, /* header */
    0x63, 0xe9, 0x48, 0x85, 0xdc, 0xda, 0xb6, 0x7c, 0xa7, 0x27, 0xd7, 0x66, 0x2f, 0x6b,
    0x7e, 0x99, 0x7f, 0xf5, 0xc0, 0xf7, 0x6c, 0x06, 0xf3, 0x2d, 0xc6, 0x76, 0xa5, 0xf1,
    0x73, 0x0d, 0x6f, 0xda, 0x4c, 0xe0, 0x9b, 0x46, 0x86, 0x30, 0x3d, 0xed, 0x0b, 0xb9,
    0x27, 0x5b, /* ciphertext */
    0xc8, 0x4a, 0xa4, 0x58, 0x96, 0xcf, 0x4d, 0x2f, 0xc5, 0xab, 0xf8, 0x72, 0x45, 0xd9,
    0xea, 0xde,             /* tag */
    0x80, 0x00, 0x05, 0xd4}; /* E | index */

/* §17.2 AEAD_AES_256_GCM, encrypted */
static const uint8_t k_rfc7714_srtcp_256[] = {
    0x81, 0xc8, 0x00, 0x0d, 0x4d, 0x61, 0x72, 0x73, /* header */
    0xd5, 0x0a, 0xe4, 0xd1, 0xf5, 0xce, 0x5d, 0x30, 0x4b, 0xa2, 0x97, 0xe4, 0x7d, 0x47,
    0x0c, 0x28, 0x2c, 0x3e, 0xce, 0x5d, 0xbf, 0xfe, 0x0a, 0x50, 0xa2, 0xea, 0xa5, 0xc1,
    0x11, 0x05, 0x55, 0xbe, 0x84, 0x15, 0xf6, 0x58, 0xc6, 0x1d, 0xe0, 0x47, 0x6f, 0x1b,
    0x6f, 0xad, /* ciphertext */
    0x1d, 0x1e, 0xb3, 0x0c, 0x44, 0x46, 0x83, 0x9f, 0x57, 0xff, 0x6f, 0x6c, 0xb2, 0x6a,
    0xc3, 0xbe,             /* tag */
    0x80, 0x00, 0x05, 0xd4}; /* E | index */

/* §17.3 / §17.4: authenticated only (E = 0): the packet in the clear, the tag, E | index. */
static const uint8_t k_rfc7714_srtcp_128_tag[16] = {0x84, 0x1d, 0xd9, 0x68, 0x3d, 0xd7,
                                                    0x8e, 0xc9, 0x2a, 0xe5, 0x87, 0x90,
                                                    0x12, 0x5f, 0x62, 0xb3};
static const uint8_t k_rfc7714_srtcp_256_tag[16] = {0x91, 0xdb, 0x4a, 0xfb, 0xfe, 0xee,
                                                    0x5a, 0x97, 0x8f, 0xab, 0x43, 0x93,
                                                    0xed, 0x26, 0x15, 0xfe};

static void check_rfc7714_rtp(j_srtp_profile p, const uint8_t *srtp, size_t srtp_len)
{
    j_srtp *tx = rfc7714_session(p, J_SRTP_OUTBOUND), *rx = rfc7714_session(p, J_SRTP_INBOUND);
    uint8_t buf[128];
    memcpy(buf, k_rfc7714_rtp, sizeof k_rfc7714_rtp);
    assert_int_equal(j_srtp_protect_rtp(tx, buf, sizeof k_rfc7714_rtp, sizeof buf),
                     (int)srtp_len);
    assert_memory_equal(buf, srtp, srtp_len);
    assert_int_equal(j_srtp_unprotect_rtp(rx, buf, srtp_len), (int)sizeof k_rfc7714_rtp);
    assert_memory_equal(buf, k_rfc7714_rtp, sizeof k_rfc7714_rtp);
    j_srtp_free(tx);
    j_srtp_free(rx);
}

static void test_rfc7714_srtp(void **state)
{
    (void)state;
    check_rfc7714_rtp(J_SRTP_PROFILE_AEAD_AES_128_GCM, k_rfc7714_srtp_128,
                      sizeof k_rfc7714_srtp_128);
    check_rfc7714_rtp(J_SRTP_PROFILE_AEAD_AES_256_GCM, k_rfc7714_srtp_256,
                      sizeof k_rfc7714_srtp_256);
}

static void check_rfc7714_srtcp(j_srtp_profile p, const uint8_t *srtcp, size_t srtcp_len,
                                const uint8_t *auth_only_tag)
{
    uint8_t buf[128];
    /* Our SRTCP index starts at 0: the vector's index is the 0x5d5th packet. */
    j_srtp *tx = rfc7714_session(p, J_SRTP_OUTBOUND);
    for (int i = 0; i < RFC7714_SRTCP_INDEX; i++) {
        memcpy(buf, k_rfc7714_rtcp, sizeof k_rfc7714_rtcp);
        assert_int_equal(j_srtp_protect_rtcp(tx, buf, sizeof k_rfc7714_rtcp, sizeof buf),
                         (int)srtcp_len);
    }
    memcpy(buf, k_rfc7714_rtcp, sizeof k_rfc7714_rtcp);
    assert_int_equal(j_srtp_protect_rtcp(tx, buf, sizeof k_rfc7714_rtcp, sizeof buf),
                     (int)srtcp_len);
    assert_memory_equal(buf, srtcp, srtcp_len);
    j_srtp_free(tx);

    j_srtp *rx = rfc7714_session(p, J_SRTP_INBOUND);
    assert_int_equal(j_srtp_unprotect_rtcp(rx, buf, srtcp_len), (int)sizeof k_rfc7714_rtcp);
    assert_memory_equal(buf, k_rfc7714_rtcp, sizeof k_rfc7714_rtcp);
    j_srtp_free(rx);

    /* Authenticated only (E = 0): verified, returned as is. Setting E breaks the tag, as
     * E|index is associated data. */
    rx = rfc7714_session(p, J_SRTP_INBOUND);
    size_t n = sizeof k_rfc7714_rtcp;
    memcpy(buf, k_rfc7714_rtcp, n);
    memcpy(buf + n, auth_only_tag, 16);
    wr_be32(buf + n + 16, SRTCP_E_FLAG | RFC7714_SRTCP_INDEX);
    assert_int_equal(j_srtp_unprotect_rtcp(rx, buf, n + 20), J_EAUTH);
    memcpy(buf, k_rfc7714_rtcp, n); /* the failed attempt decrypted it in place */
    wr_be32(buf + n + 16, RFC7714_SRTCP_INDEX);
    assert_int_equal(j_srtp_unprotect_rtcp(rx, buf, n + 20), (int)n);
    assert_memory_equal(buf, k_rfc7714_rtcp, n);
    j_srtp_free(rx);
}

static void test_rfc7714_srtcp(void **state)
{
    (void)state;
    check_rfc7714_srtcp(J_SRTP_PROFILE_AEAD_AES_128_GCM, k_rfc7714_srtcp_128,
                        sizeof k_rfc7714_srtcp_128, k_rfc7714_srtcp_128_tag);
    check_rfc7714_srtcp(J_SRTP_PROFILE_AEAD_AES_256_GCM, k_rfc7714_srtcp_256,
                        sizeof k_rfc7714_srtcp_256, k_rfc7714_srtcp_256_tag);
}

/* ---- round trips and rollover ---------------------------------------------------------- */

static void test_rtp_round_trip(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        size_t overhead = j_srtp_rtp_overhead(k_profiles[k]);
        for (uint16_t seq = 65500; seq != 40; seq++) { /* crosses the ROC rollover */
            /* Exact-size heap buffer: the sanitizer catches any write past the trailer. */
            size_t plain_len = 12 + 160;
            uint8_t *buf = malloc(plain_len + overhead);
            uint8_t orig[12 + 160];
            make_rtp(orig, seq, 0x1234, 160);
            memcpy(buf, orig, plain_len);
            int n = j_srtp_protect_rtp(s.tx, buf, plain_len, plain_len + overhead);
            assert_int_equal(n, (int)(plain_len + overhead));
            assert_memory_equal(buf, orig, 12); /* header in clear */
            assert_memory_not_equal(buf + 12, orig + 12, 160);
            assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), (int)plain_len);
            assert_memory_equal(buf, orig, plain_len);
            free(buf);
        }
        pair_close(&s);
    }
}

/* Across the wrap, packets from the previous ROC arriving late are estimated at ROC - 1
 * (RFC 3711 Appendix A) and still authenticate; then they are replays. */
static void test_rollover_reordered(void **state)
{
    (void)state;
    static const uint16_t sent[] = {65533, 65534, 65535, 0, 1};
    static const size_t delivered[] = {2, 3, 4, 1, 0};
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        uint8_t wire[5][128];
        int len[5];
        for (size_t i = 0; i < 5; i++) {
            size_t n = make_rtp(wire[i], sent[i], 0x77, 30);
            len[i] = j_srtp_protect_rtp(s.tx, wire[i], n, sizeof wire[i]);
            assert_true(len[i] > 0);
        }
        uint8_t copy[128];
        for (size_t d = 0; d < 5; d++) {
            size_t i = delivered[d];
            memcpy(copy, wire[i], (size_t)len[i]);
            assert_int_equal(j_srtp_unprotect_rtp(s.rx, copy, (size_t)len[i]), 42);
            assert_int_equal(rd_be16(copy + 2), sent[i]);
            assert_int_equal(copy[12], (uint8_t)(0 ^ sent[i]));
        }
        for (size_t i = 0; i < 5; i++) {
            memcpy(copy, wire[i], (size_t)len[i]);
            assert_int_equal(j_srtp_unprotect_rtp(s.rx, copy, (size_t)len[i]), J_EREPLAY);
        }
        pair_close(&s);
    }
}

static void test_rtcp_round_trip(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        size_t overhead = j_srtp_rtcp_overhead(k_profiles[k]);
        assert_true(overhead <= J_SRTP_MAX_TRAILER);
        for (uint32_t i = 0; i < 50; i++) {
            uint8_t orig[32];
            size_t len = make_rtcp(orig, 0x1234);
            uint8_t *buf = malloc(len + overhead);
            memcpy(buf, orig, len);
            int n = j_srtp_protect_rtcp(s.tx, buf, len, len + overhead);
            assert_int_equal(n, (int)(len + overhead));
            assert_memory_equal(buf, orig, 8);
            /* E set, index counting from 0 (the trailer's last word for GCM, first for CM). */
            size_t word_at = k_profiles[k] == J_SRTP_PROFILE_AES128_CM_SHA1_80 ? len : len + 16;
            assert_int_equal(rd_be32(buf + word_at), SRTCP_E_FLAG | i);
            assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, (size_t)n), (int)len);
            assert_memory_equal(buf, orig, len);
            free(buf);
        }
        pair_close(&s);
    }
}

/* ---- authentication, replay, limits ---------------------------------------------------- */

static void test_tampered_rejected(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        uint8_t buf[256], copy[256];
        size_t len = make_rtp(buf, 1, 0x1234, 100);
        int n = j_srtp_protect_rtp(s.tx, buf, len, sizeof buf);
        assert_true(n > 0);
        /* Flip one bit in the header, the payload, and the tag: each must fail. */
        size_t spots[] = {3, 20, (size_t)n - 1};
        for (size_t i = 0; i < 3; i++) {
            memcpy(copy, buf, (size_t)n);
            copy[spots[i]] ^= 0x01;
            assert_int_equal(j_srtp_unprotect_rtp(s.rx, copy, (size_t)n), J_EAUTH);
        }
        /* Truncated: authentication fails or the packet is too short. */
        memcpy(copy, buf, (size_t)n);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, copy, (size_t)n - 1), J_EAUTH);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, copy, 12), J_ESHORT);
        /* The genuine packet still passes afterwards: failures leave no state behind. */
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), (int)len);

        /* SRTCP: body, E|index word and tag are all covered. */
        len = make_rtcp(buf, 0x1234);
        n = j_srtp_protect_rtcp(s.tx, buf, len, sizeof buf);
        assert_true(n > 0);
        size_t rtcp_spots[] = {10, len, len + 3, (size_t)n - 1, (size_t)n - 5};
        for (size_t i = 0; i < 5; i++) {
            memcpy(copy, buf, (size_t)n);
            copy[rtcp_spots[i]] ^= 0x01;
            assert_int_equal(j_srtp_unprotect_rtcp(s.rx, copy, (size_t)n), J_EAUTH);
        }
        memcpy(copy, buf, (size_t)n);
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, copy, (size_t)n - 1), J_EAUTH);
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, (size_t)n), (int)len);
        pair_close(&s);
    }
}

/* A session keyed differently cannot read the traffic. */
static void test_wrong_key_rejected(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        uint8_t key[J_SRTP_MAX_KEY_SALT_LEN];
        size_t kn = j_srtp_profile_key_salt_len(k_profiles[k]);
        fill_key(key, kn, 0x12);
        j_srtp *other = j_srtp_new(k_profiles[k], key, kn, J_SRTP_INBOUND, J_SRTP_MAX_STREAMS);
        assert_non_null(other);
        uint8_t buf[256];
        size_t len = make_rtp(buf, 9, 77, 40);
        int n = j_srtp_protect_rtp(s.tx, buf, len, sizeof buf);
        assert_int_equal(j_srtp_unprotect_rtp(other, buf, (size_t)n), J_EAUTH);
        len = make_rtcp(buf, 77);
        n = j_srtp_protect_rtcp(s.tx, buf, len, sizeof buf);
        assert_int_equal(j_srtp_unprotect_rtcp(other, buf, (size_t)n), J_EAUTH);
        j_srtp_free(other);
        pair_close(&s);
    }
}

static void test_replay_rejected(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        uint8_t buf[256], copy[256];
        size_t len = make_rtp(buf, 500, 0x1234, 50);
        int n = j_srtp_protect_rtp(s.tx, buf, len, sizeof buf);
        memcpy(copy, buf, (size_t)n);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), (int)len);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, copy, (size_t)n), J_EREPLAY);

        len = make_rtcp(buf, 0x1234);
        n = j_srtp_protect_rtcp(s.tx, buf, len, sizeof buf);
        memcpy(copy, buf, (size_t)n);
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, (size_t)n), (int)len);
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, copy, (size_t)n), J_EREPLAY);
        pair_close(&s);
    }
}

/* The inbound window is 1024 packets: 900 behind is accepted once, 1100 behind is too old,
 * for RTP and for RTCP. */
static void test_replay_window(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        uint8_t late[2][2][128], buf[128]; /* [rtp, rtcp][900, 1100 behind] */
        int late_len[2][2] = {{0}};
        for (uint16_t i = 0; i < 1500; i++) {
            size_t len = make_rtp(buf, (uint16_t)(60000 + i), 0x42, 20); /* wraps at 5536 */
            int n = j_srtp_protect_rtp(s.tx, buf, len, sizeof buf);
            uint8_t rtcp[128];
            size_t rtcp_len = make_rtcp(rtcp, 0x42);
            int m = j_srtp_protect_rtcp(s.tx, rtcp, rtcp_len, sizeof rtcp);
            assert_true(n > 0 && m > 0);
            int slot = i == 599 ? 0 : i == 399 ? 1 : -1;
            if (slot >= 0) {
                memcpy(late[0][slot], buf, (size_t)n);
                late_len[0][slot] = n;
                memcpy(late[1][slot], rtcp, (size_t)m);
                late_len[1][slot] = m;
                continue;
            }
            assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), (int)len);
            assert_int_equal(j_srtp_unprotect_rtcp(s.rx, rtcp, (size_t)m), (int)rtcp_len);
        }
        uint8_t copy[128];
        memcpy(copy, late[0][0], (size_t)late_len[0][0]);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, copy, (size_t)late_len[0][0]), 32);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, late[0][0], (size_t)late_len[0][0]),
                         J_EREPLAY);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, late[0][1], (size_t)late_len[0][1]),
                         J_EREPLAY);
        memcpy(copy, late[1][0], (size_t)late_len[1][0]);
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, copy, (size_t)late_len[1][0]), 32);
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, late[1][0], (size_t)late_len[1][0]),
                         J_EREPLAY);
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, late[1][1], (size_t)late_len[1][1]),
                         J_EREPLAY);
        pair_close(&s);
    }
}

/* A jump ahead by more than the window forgets the whole window; by less, it keeps the
 * packets that are still inside. */
static void test_replay_window_jumps(void **state)
{
    (void)state;
    session_pair s;
    pair_open(&s, J_SRTP_PROFILE_AEAD_AES_128_GCM);
    assert_int_equal(rtp_through(&s, 100, 9), 52);
    assert_int_equal(rtp_through(&s, 101, 9), 52);
    assert_int_equal(rtp_through(&s, 100 + 3000, 9), 52); /* > window: all cleared */
    assert_int_equal(rtp_through(&s, 101, 9), J_EREPLAY); /* too old now */
    assert_int_equal(rtp_through(&s, 3000, 9), 52);       /* 100 behind: new */
    assert_int_equal(rtp_through(&s, 3000, 9), J_EREPLAY);
    assert_int_equal(rtp_through(&s, 3100 + 1000, 9), 52); /* < window: 3000 still seen */
    assert_int_equal(rtp_through(&s, 3000, 9), J_EREPLAY);
    assert_int_equal(rtp_through(&s, 3099, 9), 52);
    pair_close(&s);
}

/* Resending a packet with the same sequence number (NACK answered by a resend) must protect
 * again on the outbound side, to the same bytes. */
static void test_outbound_repeat_allowed(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        uint8_t a[256], b[256];
        size_t len = make_rtp(a, 77, 0x1234, 64);
        memcpy(b, a, len);
        int na = j_srtp_protect_rtp(s.tx, a, len, sizeof a);
        uint8_t c[256];
        size_t lc = make_rtp(c, 78, 0x1234, 64);
        assert_true(j_srtp_protect_rtp(s.tx, c, lc, sizeof c) > 0);
        int nb = j_srtp_protect_rtp(s.tx, b, len, sizeof b);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, (size_t)na);
        pair_close(&s);
    }
}

/* J_SRTP_MAX_STREAMS SSRCs per session and direction; one more is refused, in both
 * directions, for RTP and RTCP, while the known ones keep working. Forged packets from new
 * SSRCs take no slot. */
static void test_ssrc_limit(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s, other;
        pair_open(&s, k_profiles[k]);
        pair_open(&other, k_profiles[k]);
        uint8_t buf[256];
        for (uint32_t ssrc = 1000; ssrc < 1100; ssrc++) {
            size_t len = make_rtp(buf, 1, ssrc, 20);
            int n = j_srtp_protect_rtp(other.tx, buf, len, sizeof buf);
            if (n < 0) break; /* other.tx is full too: enough forgeries */
            buf[20] ^= 1;
            assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), J_EAUTH);
        }
        for (uint32_t ssrc = 1; ssrc <= J_SRTP_MAX_STREAMS; ssrc++)
            assert_int_equal(rtp_through(&s, 7, ssrc), 52);
        /* Outbound refuses a new SSRC... */
        size_t len = make_rtp(buf, 1, 0xABCD, 20);
        assert_int_equal(j_srtp_protect_rtp(s.tx, buf, len, sizeof buf), J_ELIMIT);
        len = make_rtcp(buf, 0xABCD);
        assert_int_equal(j_srtp_protect_rtcp(s.tx, buf, len, sizeof buf), J_ELIMIT);
        /* ...and inbound a genuine packet from one (protected by another sender). */
        session_pair fresh;
        pair_open(&fresh, k_profiles[k]);
        len = make_rtp(buf, 1, 0xABCD, 20);
        int n = j_srtp_protect_rtp(fresh.tx, buf, len, sizeof buf);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), J_ELIMIT);
        len = make_rtcp(buf, 0xABCD);
        n = j_srtp_protect_rtcp(fresh.tx, buf, len, sizeof buf);
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, (size_t)n), J_ELIMIT);
        /* Known SSRCs: RTP continues, RTCP starts on the same slot. */
        assert_int_equal(rtp_through(&s, 8, 5), 52);
        len = make_rtcp(buf, 5);
        n = j_srtp_protect_rtcp(s.tx, buf, len, sizeof buf);
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, (size_t)n), (int)len);
        pair_close(&fresh);
        pair_close(&other);
        pair_close(&s);
    }
}

/* A session sized for 2 SSRCs refuses a third until j_srtp_reserve makes room; growing
 * keeps what the known streams went through (their replay windows). */
static void test_reserve_grows_the_table(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open_sized(&s, k_profiles[k], 2);
        uint8_t buf[128];
        size_t len = make_rtp(buf, 7, 1, 40);
        int n = j_srtp_protect_rtp(s.tx, buf, len, sizeof buf);
        uint8_t again[128];
        memcpy(again, buf, (size_t)n);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), (int)len);
        assert_int_equal(rtp_through(&s, 7, 2), 52);
        len = make_rtp(buf, 7, 3, 40);
        assert_int_equal(j_srtp_protect_rtp(s.tx, buf, len, sizeof buf), J_ELIMIT);

        assert_int_equal(j_srtp_reserve(s.tx, 0), J_EINVAL);
        assert_int_equal(j_srtp_reserve(s.tx, J_SRTP_MAX_STREAMS + 1), J_EINVAL);
        assert_int_equal(j_srtp_reserve(s.tx, 1), J_OK); /* never shrinks */
        assert_int_equal(j_srtp_reserve(s.tx, 3), J_OK);
        assert_int_equal(j_srtp_reserve(s.rx, 3), J_OK);
        assert_int_equal(rtp_through(&s, 7, 3), 52);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, again, (size_t)n), J_EREPLAY);
        assert_int_equal(rtp_through(&s, 8, 1), 52);
        len = make_rtp(buf, 7, 4, 40);
        assert_int_equal(j_srtp_protect_rtp(s.tx, buf, len, sizeof buf), J_ELIMIT);
        pair_close(&s);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    uint8_t key[64] = {0};
    assert_int_equal(j_srtp_global_init(), 0);
    assert_int_equal(j_srtp_global_init(), 0);
    assert_null(j_srtp_new(J_SRTP_PROFILE_AES128_CM_SHA1_80, key, 28, J_SRTP_OUTBOUND,
                           J_SRTP_MAX_STREAMS));
    assert_null(j_srtp_new(J_SRTP_PROFILE_AEAD_AES_128_GCM, key, 30, J_SRTP_OUTBOUND,
                           J_SRTP_MAX_STREAMS));
    assert_null(j_srtp_new(J_SRTP_PROFILE_AEAD_AES_256_GCM, key, 28, J_SRTP_OUTBOUND,
                           J_SRTP_MAX_STREAMS));
    assert_null(j_srtp_new((j_srtp_profile)2, key, 30, J_SRTP_OUTBOUND, J_SRTP_MAX_STREAMS));
    assert_null(j_srtp_new(J_SRTP_PROFILE_AES128_CM_SHA1_80, NULL, 30, J_SRTP_OUTBOUND,
                           J_SRTP_MAX_STREAMS));
    assert_null(j_srtp_new(J_SRTP_PROFILE_AES128_CM_SHA1_80, key, 30, (j_srtp_direction)5,
                           J_SRTP_MAX_STREAMS));
    assert_null(j_srtp_new(J_SRTP_PROFILE_AES128_CM_SHA1_80, key, 30, J_SRTP_INBOUND, 0));
    assert_null(j_srtp_new(J_SRTP_PROFILE_AES128_CM_SHA1_80, key, 30, J_SRTP_INBOUND,
                           J_SRTP_MAX_STREAMS + 1));
    j_srtp *ok = j_srtp_new(J_SRTP_PROFILE_AEAD_AES_256_GCM, key, 44, J_SRTP_INBOUND,
                            J_SRTP_MAX_STREAMS);
    assert_non_null(ok);
    j_srtp_free(ok);
    j_srtp_free(NULL);
    assert_int_equal(j_srtp_rtp_overhead(J_SRTP_PROFILE_AES128_CM_SHA1_80), 10);
    assert_int_equal(j_srtp_rtp_overhead(J_SRTP_PROFILE_AEAD_AES_128_GCM), 16);
    assert_int_equal(j_srtp_rtp_overhead(J_SRTP_PROFILE_AEAD_AES_256_GCM), 16);
    assert_int_equal(j_srtp_rtcp_overhead(J_SRTP_PROFILE_AES128_CM_SHA1_80), 14);
    assert_int_equal(j_srtp_rtcp_overhead(J_SRTP_PROFILE_AEAD_AES_128_GCM), 20);
    assert_int_equal(j_srtp_rtcp_overhead(J_SRTP_PROFILE_AEAD_AES_256_GCM), 20);
    assert_int_equal(j_srtp_rtp_overhead((j_srtp_profile)2), 0);

    session_pair s;
    pair_open(&s, J_SRTP_PROFILE_AES128_CM_SHA1_80);
    uint8_t buf[256];
    size_t len = make_rtp(buf, 1, 2, 20);
    assert_int_equal(j_srtp_protect_rtp(s.tx, buf, len, len + 9), J_ESHORTBUF);
    assert_int_equal(j_srtp_protect_rtp(s.tx, buf, 11, sizeof buf), J_ESHORT);
    assert_int_equal(j_srtp_protect_rtp(s.rx, buf, len, sizeof buf), J_ESTATE);
    assert_int_equal(j_srtp_unprotect_rtp(s.tx, buf, len), J_ESTATE);
    assert_int_equal(j_srtp_protect_rtcp(s.tx, buf, 7, sizeof buf), J_ESHORT);
    assert_int_equal(j_srtp_protect_rtcp(s.tx, buf, 32, 32 + 13), J_ESHORTBUF);
    assert_int_equal(j_srtp_protect_rtcp(s.rx, buf, 32, sizeof buf), J_ESTATE);
    assert_int_equal(j_srtp_unprotect_rtcp(s.tx, buf, 32), J_ESTATE);
    assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, 8 + 13), J_ESHORT);
    assert_int_equal(j_srtp_protect_rtp(NULL, buf, len, sizeof buf), J_EINVAL);
    assert_int_equal(j_srtp_unprotect_rtp(s.rx, NULL, len), J_EINVAL);
    assert_int_equal(j_srtp_protect_rtcp(NULL, buf, 32, sizeof buf), J_EINVAL);
    assert_int_equal(j_srtp_unprotect_rtcp(NULL, buf, 32), J_EINVAL);
    pair_close(&s);
}

/* Headers that do not fit are malformed before any crypto: CSRCs or an extension running
 * past the packet (on unprotect: into the tag), or not RTP version 2. */
static void test_malformed_rtp_headers(void **state)
{
    (void)state;
    session_pair s;
    pair_open(&s, J_SRTP_PROFILE_AEAD_AES_128_GCM);
    uint8_t buf[256];
    size_t len = make_rtp(buf, 2, 2, 8); /* 20 bytes */
    static const struct {
        uint8_t first;
        uint16_t ext_words;
    } cases[] = {
        {0x8F, 0}, /* 15 CSRCs = 60 bytes */
        {0x83, 0}, /* 3 CSRCs = 12 bytes, one word too many */
        {0x90, 2}, /* extension header fits, its 2 words do not */
        {0x40, 0}, /* version 1 */
        {0x00, 0}, /* version 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make_rtp(buf, 2, 2, 8);
        buf[0] = cases[i].first;
        wr_be16(buf + 14, cases[i].ext_words);
        assert_int_equal(j_srtp_protect_rtp(s.tx, buf, len, sizeof buf), J_EMALFORMED);
        /* As received: the 16-byte tag after it must not count as header either. */
        memset(buf + len, 0xEE, 16);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, len + 16), J_EMALFORMED);
    }
    /* An extension exactly filling the packet is fine (empty payload). */
    make_rtp(buf, 3, 2, 8);
    buf[0] = 0x90;
    wr_be16(buf + 14, 1);
    int n = j_srtp_protect_rtp(s.tx, buf, len, sizeof buf);
    assert_int_equal(n, (int)len + 16);
    assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), (int)len);
    pair_close(&s);
}

/* ---- no allocation per packet ---------------------------------------------------------- */

/* Every allocation OpenSSL makes goes through these (installed first thing in main). */
static size_t g_openssl_allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    g_openssl_allocs++;
    return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    g_openssl_allocs++;
    return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

/* Steady state, no profile allocates: not our code, nor OpenSSL underneath it (AES-CM's
 * HMAC restarts one SHA-1 context instead of using EVP_MAC, which mallocs twice a packet). */
static void test_no_allocation_per_packet(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        uint8_t buf[1400];
        assert_int_equal(rtp_through(&s, 1, 0x55), 52); /* creates the stream */
        size_t before = g_openssl_allocs;
        const int packets = 100;
        for (int i = 0; i < packets; i++) {
            size_t len = make_rtp(buf, (uint16_t)(2 + i), 0x55, 1200);
            int n = j_srtp_protect_rtp(s.tx, buf, len, sizeof buf);
            assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), (int)len);
            len = make_rtcp(buf, 0x55);
            n = j_srtp_protect_rtcp(s.tx, buf, len, sizeof buf);
            assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, (size_t)n), (int)len);
        }
        assert_int_equal(g_openssl_allocs - before, 0);
        pair_close(&s);
    }
}

/* Removing a stream frees its slot for another SSRC, over and over, without allocating:
 * a table of 4 carries 1000 short-lived SSRCs (RTP and RTCP) beside two that live on, and
 * those keep their rollover counters and replay windows while other slots move around. */
static void test_remove_stream_reuses_slots(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open_sized(&s, k_profiles[k], 4);
        assert_int_equal(j_srtp_remove_stream(NULL, 1), J_EINVAL);
        assert_int_equal(j_srtp_remove_stream(s.tx, 1), J_ENOTFOUND);
        uint8_t old[128], buf[128];
        size_t old_len = make_rtp(old, 65535, 7, 40); /* 7 crosses the wrap: ROC 1 */
        int old_n = j_srtp_protect_rtp(s.tx, old, old_len, sizeof old);
        memcpy(buf, old, (size_t)old_n);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)old_n), (int)old_len);
        size_t before = g_openssl_allocs;
        for (uint32_t i = 0; i < 1000; i++) {
            uint32_t ssrc = 1000 + i;
            assert_int_equal(rtp_through(&s, (uint16_t)i, ssrc), 52);
            size_t len = make_rtcp(buf, ssrc);
            int n = j_srtp_protect_rtcp(s.tx, buf, len, sizeof buf);
            assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, (size_t)n), (int)len);
            /* The long-lived ones sit in the slots the short-lived ones leave. */
            assert_int_equal(rtp_through(&s, (uint16_t)i, 7), 52);
            assert_int_equal(rtp_through(&s, (uint16_t)(2 * i), 8), 52);
            assert_int_equal(j_srtp_remove_stream(s.tx, ssrc), J_OK);
            assert_int_equal(j_srtp_remove_stream(s.rx, ssrc), J_OK);
            assert_int_equal(j_srtp_remove_stream(s.rx, ssrc), J_ENOTFOUND);
        }
        assert_int_equal(g_openssl_allocs - before, 0);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, old, (size_t)old_n), J_EREPLAY);
        pair_close(&s);
    }
}

/* A packet as it went over the wire, kept to be delivered (again) later. */
typedef struct {
    uint8_t bytes[128];
    size_t len;
    bool rtcp;
} wire_packet;

static void protect_rtp_into(session_pair *s, uint16_t seq, uint32_t ssrc, wire_packet *w)
{
    size_t len = make_rtp(w->bytes, seq, ssrc, 40);
    int n = j_srtp_protect_rtp(s->tx, w->bytes, len, sizeof w->bytes);
    assert_int_equal(n, (int)(len + j_srtp_rtp_overhead(s->profile)));
    w->len = (size_t)n;
    w->rtcp = false;
}

static void protect_rtcp_into(session_pair *s, uint32_t ssrc, wire_packet *w)
{
    size_t len = make_rtcp(w->bytes, ssrc);
    int n = j_srtp_protect_rtcp(s->tx, w->bytes, len, sizeof w->bytes);
    assert_int_equal(n, (int)(len + j_srtp_rtcp_overhead(s->profile)));
    w->len = (size_t)n;
    w->rtcp = true;
}

/* Unprotect a copy of w with rx (w stays as sent): the plain length or an error. */
static int deliver(j_srtp *rx, const wire_packet *w)
{
    uint8_t copy[sizeof w->bytes];
    memcpy(copy, w->bytes, w->len);
    return w->rtcp ? j_srtp_unprotect_rtcp(rx, copy, w->len) : j_srtp_unprotect_rtp(rx, copy, w->len);
}

#define RTP_PLAIN_LEN 52  /* make_rtp with 40 bytes of payload */
#define RTCP_PLAIN_LEN 32 /* make_rtcp */

/* An inbound SSRC removed and back refuses every packet it had sent before its removal,
 * RTP and RTCP, even one that was lost then (its window is not kept), and takes new ones;
 * a forged packet of it neither starts its stream nor loses what was remembered. */
static void test_returning_ssrc_refuses_replays(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        wire_packet rtp[5], rtcp[3];
        for (uint16_t i = 0; i < 5; i++) protect_rtp_into(&s, (uint16_t)(100 + i), 9, &rtp[i]);
        for (int i = 0; i < 3; i++) protect_rtcp_into(&s, 9, &rtcp[i]);
        for (int i = 0; i < 5; i++)
            if (i != 3) assert_int_equal(deliver(s.rx, &rtp[i]), RTP_PLAIN_LEN); /* 103 lost */
        assert_int_equal(deliver(s.rx, &rtcp[0]), RTCP_PLAIN_LEN);
        assert_int_equal(deliver(s.rx, &rtcp[2]), RTCP_PLAIN_LEN); /* index 1 lost */
        assert_int_equal(j_srtp_remove_stream(s.rx, 9), J_OK);
        assert_int_equal(j_srtp_remove_stream(s.rx, 9), J_ENOTFOUND);

        for (int i = 0; i < 5; i++) assert_int_equal(deliver(s.rx, &rtp[i]), J_EREPLAY);
        for (int i = 0; i < 3; i++) assert_int_equal(deliver(s.rx, &rtcp[i]), J_EREPLAY);
        wire_packet forged;
        protect_rtp_into(&s, 105, 9, &forged);
        forged.bytes[20] ^= 1;
        assert_int_equal(deliver(s.rx, &forged), J_EAUTH);
        assert_int_equal(j_srtp_remove_stream(s.rx, 9), J_ENOTFOUND); /* no stream started */
        assert_int_equal(deliver(s.rx, &rtp[4]), J_EREPLAY);

        wire_packet next_rtp, next_rtcp;
        protect_rtp_into(&s, 106, 9, &next_rtp);
        protect_rtcp_into(&s, 9, &next_rtcp);
        assert_int_equal(deliver(s.rx, &next_rtcp), RTCP_PLAIN_LEN); /* RTCP starts it */
        assert_int_equal(deliver(s.rx, &next_rtp), RTP_PLAIN_LEN);
        /* Now in the live window, where the earlier ones count as seen. */
        for (int i = 0; i < 5; i++) assert_int_equal(deliver(s.rx, &rtp[i]), J_EREPLAY);
        for (int i = 0; i < 3; i++) assert_int_equal(deliver(s.rx, &rtcp[i]), J_EREPLAY);
        assert_int_equal(deliver(s.rx, &next_rtp), J_EREPLAY);
        assert_int_equal(deliver(s.rx, &next_rtcp), J_EREPLAY);
        pair_close(&s);
    }
}

/* A sender that keeps its SSRC and numbering across the removal of its inbound stream goes
 * on being decrypted: removed at the wrap (seq 65535, next ROC 1) and again at ROC 1, where a
 * receiver that starts over at ROC 0 cannot authenticate it. */
static void test_returning_ssrc_keeps_rollover(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s, fresh;
        pair_open(&s, k_profiles[k]);
        pair_open(&fresh, k_profiles[k]);
        for (uint16_t seq = 65530; seq != 0; seq++) assert_int_equal(rtp_through(&s, seq, 9), 52);
        assert_int_equal(j_srtp_remove_stream(s.rx, 9), J_OK);
        for (uint16_t seq = 0; seq < 100; seq++) assert_int_equal(rtp_through(&s, seq, 9), 52);
        assert_int_equal(j_srtp_remove_stream(s.rx, 9), J_OK);
        wire_packet w;
        protect_rtp_into(&s, 100, 9, &w); /* index 65536 + 100 */
        assert_int_equal(deliver(fresh.rx, &w), J_EAUTH);
        assert_int_equal(deliver(s.rx, &w), RTP_PLAIN_LEN);
        assert_int_equal(rtp_through(&s, 101, 9), 52);
        pair_close(&fresh);
        pair_close(&s);
    }
}

/* Outbound, a removed SSRC is forgotten: its next packet is protected at index 0 again, as a
 * fresh receiver (ROC 0) reads it; the receiver that saw the stream refuses it as a replay
 * (which is why owners remove only SSRCs they never protect again with this key). */
static void test_removed_outbound_stream_starts_over(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s, fresh;
        pair_open(&s, k_profiles[k]);
        pair_open(&fresh, k_profiles[k]);
        for (uint16_t seq = 65535; seq != 3; seq++) assert_int_equal(rtp_through(&s, seq, 9), 52);
        assert_int_equal(j_srtp_remove_stream(s.tx, 9), J_OK);
        wire_packet w;
        protect_rtp_into(&s, 3, 9, &w); /* ROC 1 before the removal, 0 now */
        assert_int_equal(deliver(fresh.rx, &w), RTP_PLAIN_LEN);
        assert_int_equal(deliver(s.rx, &w), J_EAUTH); /* s.rx expects ROC 1 */
        protect_rtcp_into(&s, 9, &w);
        assert_int_equal(deliver(s.rx, &w), RTCP_PLAIN_LEN);
        assert_int_equal(j_srtp_remove_stream(s.tx, 9), J_OK);
        protect_rtcp_into(&s, 9, &w); /* SRTCP index 0 again */
        assert_int_equal(deliver(s.rx, &w), J_EREPLAY);
        pair_close(&fresh);
        pair_close(&s);
    }
}

/* A session of 4 slots remembers its last 4 removed SSRCs. A 5th and 6th removal forget the
 * two that retired first (1, then 3: 2 came back and retired again since), whose old packets
 * are then accepted once more, as srtp.h says; the others' are refused. */
static void test_retired_ssrcs_evict_oldest(void **state)
{
    (void)state;
    for (size_t k = 0; k < PROFILE_COUNT; k++) {
        session_pair s;
        pair_open_sized(&s, k_profiles[k], 4);
        wire_packet rtp[7], rtcp[7]; /* [ssrc] */
        for (uint32_t ssrc = 1; ssrc <= 6; ssrc++) {
            protect_rtp_into(&s, 10, ssrc, &rtp[ssrc]);
            protect_rtcp_into(&s, ssrc, &rtcp[ssrc]);
            assert_int_equal(j_srtp_remove_stream(s.tx, ssrc), J_OK); /* it has 4 slots too */
        }
        for (uint32_t ssrc = 1; ssrc <= 4; ssrc++) {
            assert_int_equal(deliver(s.rx, &rtp[ssrc]), RTP_PLAIN_LEN);
            assert_int_equal(deliver(s.rx, &rtcp[ssrc]), RTCP_PLAIN_LEN);
            assert_int_equal(j_srtp_remove_stream(s.rx, ssrc), J_OK);
        }
        assert_int_equal(rtp_through(&s, 11, 2), 52);
        assert_int_equal(j_srtp_remove_stream(s.rx, 2), J_OK);
        for (uint32_t ssrc = 5; ssrc <= 6; ssrc++) {
            assert_int_equal(deliver(s.rx, &rtp[ssrc]), RTP_PLAIN_LEN);
            assert_int_equal(deliver(s.rx, &rtcp[ssrc]), RTCP_PLAIN_LEN);
            assert_int_equal(j_srtp_remove_stream(s.rx, ssrc), J_OK);
        }
        for (uint32_t ssrc = 1; ssrc <= 6; ssrc++) {
            bool forgotten = ssrc == 1 || ssrc == 3;
            assert_int_equal(deliver(s.rx, &rtp[ssrc]), forgotten ? RTP_PLAIN_LEN : J_EREPLAY);
            assert_int_equal(deliver(s.rx, &rtcp[ssrc]), forgotten ? RTCP_PLAIN_LEN : J_EREPLAY);
        }
        pair_close(&s);
    }
}

int main(void)
{
    /* Before OpenSSL allocates anything, or it refuses. */
    if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) != 1) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3711_b3_key_derivation),
        cmocka_unit_test(test_rfc6188_aes256_key_derivation),
        cmocka_unit_test(test_rfc3711_b2_keystream),
        cmocka_unit_test(test_rfc7714_srtp),
        cmocka_unit_test(test_rfc7714_srtcp),
        cmocka_unit_test(test_rtp_round_trip),
        cmocka_unit_test(test_rollover_reordered),
        cmocka_unit_test(test_rtcp_round_trip),
        cmocka_unit_test(test_tampered_rejected),
        cmocka_unit_test(test_wrong_key_rejected),
        cmocka_unit_test(test_replay_rejected),
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_replay_window_jumps),
        cmocka_unit_test(test_outbound_repeat_allowed),
        cmocka_unit_test(test_ssrc_limit),
        cmocka_unit_test(test_reserve_grows_the_table),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_malformed_rtp_headers),
        cmocka_unit_test(test_no_allocation_per_packet),
        cmocka_unit_test(test_remove_stream_reuses_slots),
        cmocka_unit_test(test_returning_ssrc_refuses_replays),
        cmocka_unit_test(test_returning_ssrc_keeps_rollover),
        cmocka_unit_test(test_removed_outbound_stream_starts_over),
        cmocka_unit_test(test_retired_ssrcs_evict_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
