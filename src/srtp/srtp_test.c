/* srtp_test.c - j_srtp: round trips, authentication, replay, and known answers.
 *
 * The known-answer tests do not trust libsrtp: a small independent reference built on
 * OpenSSL primitives (the RFC 3711 §4.3 key derivation, checked against the RFC's own
 * Appendix B.3 vector, then AES-CM + HMAC-SHA1-80 per RFC 3711 §4.1.1/§4.2 and AES-GCM
 * per RFC 7714 §8) computes the expected SRTP packet, and j_srtp must produce exactly it.
 * The same tests will hold the future OpenSSL backend to the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/bytes.h"
#include "core/err.h"
#include "srtp/srtp.h"

static const j_srtp_profile k_profiles[] = {J_SRTP_PROFILE_AES128_CM_SHA1_80,
                                            J_SRTP_PROFILE_AEAD_AES_128_GCM};

static void fill_key(uint8_t *key, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) key[i] = (uint8_t)(seed + i * 7);
}

/* A pair of sessions sharing one master key: sender (outbound) and receiver (inbound). */
typedef struct {
    j_srtp_profile profile;
    j_srtp *tx, *rx;
} session_pair;

static void pair_open(session_pair *s, j_srtp_profile p)
{
    uint8_t key[J_SRTP_MAX_KEY_SALT_LEN];
    size_t n = j_srtp_profile_key_salt_len(p);
    fill_key(key, n, 0x11);
    s->profile = p;
    s->tx = j_srtp_new(p, key, n, J_SRTP_OUTBOUND);
    s->rx = j_srtp_new(p, key, n, J_SRTP_INBOUND);
    assert_non_null(s->tx);
    assert_non_null(s->rx);
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

/* ---- round trips ----------------------------------------------------------------------- */

static void test_rtp_round_trip(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++) {
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

static void test_rtcp_round_trip(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        size_t overhead = j_srtp_rtcp_overhead(k_profiles[k]);
        assert_true(overhead <= J_SRTP_MAX_TRAILER);
        for (int i = 0; i < 50; i++) {
            uint8_t orig[32];
            size_t len = make_rtcp(orig, 0x1234);
            uint8_t *buf = malloc(len + overhead);
            memcpy(buf, orig, len);
            int n = j_srtp_protect_rtcp(s.tx, buf, len, len + overhead);
            assert_int_equal(n, (int)(len + overhead));
            assert_memory_equal(buf, orig, 8);
            assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, (size_t)n), (int)len);
            assert_memory_equal(buf, orig, len);
            free(buf);
        }
        pair_close(&s);
    }
}

/* ---- authentication and replay --------------------------------------------------------- */

static void test_tampered_rejected(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++) {
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
        int rc = j_srtp_unprotect_rtp(s.rx, copy, (size_t)n - 1);
        assert_true(rc == J_EAUTH || rc == J_ESHORT);
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, copy, 12), J_ESHORT);
        /* The genuine packet still passes afterwards. */
        assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), (int)len);

        /* SRTCP likewise. */
        len = make_rtcp(buf, 0x1234);
        n = j_srtp_protect_rtcp(s.tx, buf, len, sizeof buf);
        assert_true(n > 0);
        memcpy(copy, buf, (size_t)n);
        copy[10] ^= 0x80;
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, copy, (size_t)n), J_EAUTH);
        assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, (size_t)n), (int)len);
        pair_close(&s);
    }
}

/* A session keyed differently cannot read the traffic. */
static void test_wrong_key_rejected(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        uint8_t key[J_SRTP_MAX_KEY_SALT_LEN];
        size_t kn = j_srtp_profile_key_salt_len(k_profiles[k]);
        fill_key(key, kn, 0x12);
        j_srtp *other = j_srtp_new(k_profiles[k], key, kn, J_SRTP_INBOUND);
        assert_non_null(other);
        uint8_t buf[256];
        size_t len = make_rtp(buf, 9, 77, 40);
        int n = j_srtp_protect_rtp(s.tx, buf, len, sizeof buf);
        assert_int_equal(j_srtp_unprotect_rtp(other, buf, (size_t)n), J_EAUTH);
        j_srtp_free(other);
        pair_close(&s);
    }
}

static void test_replay_rejected(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++) {
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

/* The inbound window is 1024 packets: a packet 900 behind is still accepted, 1100 is not. */
static void test_replay_window_1024(void **state)
{
    (void)state;
    session_pair s;
    pair_open(&s, J_SRTP_PROFILE_AEAD_AES_128_GCM);
    uint8_t late900[128], late1100[128], buf[128];
    int n900 = 0, n1100 = 0;
    for (uint16_t seq = 1; seq <= 1500; seq++) {
        size_t len = make_rtp(buf, seq, 0x42, 20);
        int n = j_srtp_protect_rtp(s.tx, buf, len, sizeof buf);
        assert_true(n > 0);
        if (seq == 600) {
            memcpy(late900, buf, (size_t)n);
            n900 = n;
        } else if (seq == 400) {
            memcpy(late1100, buf, (size_t)n);
            n1100 = n;
        } else {
            assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), (int)len);
        }
    }
    assert_int_equal(j_srtp_unprotect_rtp(s.rx, late900, (size_t)n900), 32);
    assert_int_equal(j_srtp_unprotect_rtp(s.rx, late1100, (size_t)n1100), J_EREPLAY);
    pair_close(&s);
}

/* Resending a packet with the same sequence number (NACK answered by a resend) must protect
 * again on the outbound side, to the same bytes. */
static void test_outbound_repeat_allowed(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++) {
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

static void test_many_ssrcs(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++) {
        session_pair s;
        pair_open(&s, k_profiles[k]);
        uint8_t buf[256];
        for (int round = 0; round < 3; round++) {
            for (uint32_t ssrc = 1; ssrc <= 200; ssrc++) {
                uint16_t seq = (uint16_t)(ssrc * 100 + (uint32_t)round);
                size_t len = make_rtp(buf, seq, ssrc * 0x01000193u, 30);
                int n = j_srtp_protect_rtp(s.tx, buf, len, sizeof buf);
                assert_true(n > 0);
                assert_int_equal(j_srtp_unprotect_rtp(s.rx, buf, (size_t)n), (int)len);
                assert_int_equal(rd_be32(buf + 8), ssrc * 0x01000193u);
                len = make_rtcp(buf, ssrc);
                n = j_srtp_protect_rtcp(s.tx, buf, len, sizeof buf);
                assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, (size_t)n), (int)len);
            }
        }
        pair_close(&s);
    }
}

/* ---- argument and state checks --------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    (void)state;
    uint8_t key[32] = {0};
    assert_int_equal(j_srtp_global_init(), 0);
    assert_int_equal(j_srtp_global_init(), 0);
    assert_null(j_srtp_new(J_SRTP_PROFILE_AES128_CM_SHA1_80, key, 28, J_SRTP_OUTBOUND));
    assert_null(j_srtp_new(J_SRTP_PROFILE_AEAD_AES_128_GCM, key, 30, J_SRTP_OUTBOUND));
    assert_null(j_srtp_new((j_srtp_profile)2, key, 30, J_SRTP_OUTBOUND));
    assert_null(j_srtp_new(J_SRTP_PROFILE_AES128_CM_SHA1_80, NULL, 30, J_SRTP_OUTBOUND));
    assert_null(j_srtp_new(J_SRTP_PROFILE_AES128_CM_SHA1_80, key, 30, (j_srtp_direction)5));
    assert_int_equal(j_srtp_rtp_overhead(J_SRTP_PROFILE_AES128_CM_SHA1_80), 10);
    assert_int_equal(j_srtp_rtp_overhead(J_SRTP_PROFILE_AEAD_AES_128_GCM), 16);
    assert_int_equal(j_srtp_rtcp_overhead(J_SRTP_PROFILE_AES128_CM_SHA1_80), 14);
    assert_int_equal(j_srtp_rtcp_overhead(J_SRTP_PROFILE_AEAD_AES_128_GCM), 20);

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
    assert_int_equal(j_srtp_unprotect_rtcp(s.rx, buf, 8 + 13), J_ESHORT);
    assert_int_equal(j_srtp_protect_rtp(NULL, buf, len, sizeof buf), J_EINVAL);
    /* A header claiming 15 CSRCs that the packet does not hold. */
    len = make_rtp(buf, 2, 2, 8);
    buf[0] = 0x8F;
    assert_int_equal(j_srtp_protect_rtp(s.tx, buf, len, sizeof buf), J_EMALFORMED);
    pair_close(&s);
}

/* ---- independent reference and known answers ------------------------------------------ */

/* AES-128 in counter mode from iv, XORed onto data (or keystream when data is zero). */
static void ref_aes_ctr(const uint8_t key[16], const uint8_t iv[16], uint8_t *data, size_t n)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int out_len = 0;
    assert_non_null(c);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(c, data, &out_len, data, (int)n), 1);
    EVP_CIPHER_CTX_free(c);
}

/* RFC 3711 §4.3.1/§4.3.3 with key_derivation_rate 0: x = (label << 48) XOR master_salt,
 * out = AES-CM keystream of the master key from IV x * 2^16. A 96-bit GCM master salt is
 * used as its 112-bit form padded with zeros (RFC 7714 §11 keeps the AES-CM KDF). */
static void ref_kdf(const uint8_t *master_key, const uint8_t *salt, size_t salt_len,
                    uint8_t label, uint8_t *out, size_t n)
{
    uint8_t iv[16] = {0};
    memcpy(iv, salt, salt_len);
    iv[7] ^= label;
    memset(out, 0, n);
    ref_aes_ctr(master_key, iv, out, n);
}

static void test_kdf_reference_rfc3711_b3(void **state)
{
    (void)state;
    /* RFC 3711 Appendix B.3. */
    static const uint8_t master_key[16] = {0xE1, 0xF9, 0x7A, 0x0D, 0x3E, 0x01, 0x8B, 0xE0,
                                           0xD6, 0x4F, 0xA3, 0x2C, 0x06, 0xDE, 0x41, 0x39};
    static const uint8_t master_salt[14] = {0x0E, 0xC6, 0x75, 0xAD, 0x49, 0x8A, 0xFE,
                                            0xEB, 0xB6, 0x96, 0x0B, 0x3A, 0xAB, 0xE6};
    static const uint8_t cipher_key[16] = {0xC6, 0x1E, 0x7A, 0x93, 0x74, 0x4F, 0x39, 0xEE,
                                           0x10, 0x73, 0x4A, 0xFE, 0x3F, 0xF7, 0xA0, 0x87};
    static const uint8_t cipher_salt[14] = {0x30, 0xCB, 0xBC, 0x08, 0x86, 0x3D, 0x8C,
                                            0x85, 0xD4, 0x9D, 0xB3, 0x4A, 0x9A, 0xE1};
    static const uint8_t auth_key_head[20] = {0xCE, 0xBE, 0x32, 0x1F, 0x6F, 0xF7, 0x71,
                                              0x6B, 0x6F, 0xD4, 0xAB, 0x49, 0xAF, 0x25,
                                              0x6A, 0x15, 0x6D, 0x38, 0xBA, 0xA4};
    uint8_t out[20];
    ref_kdf(master_key, master_salt, 14, 0x00, out, 16);
    assert_memory_equal(out, cipher_key, 16);
    ref_kdf(master_key, master_salt, 14, 0x02, out, 14);
    assert_memory_equal(out, cipher_salt, 14);
    ref_kdf(master_key, master_salt, 14, 0x01, out, 20);
    assert_memory_equal(out, auth_key_head, 20);
}

/* RFC 3711 §4.1.1 + §4.2: AES-CM encryption and HMAC-SHA1 tag (80 bits), ROC 0. */
static size_t ref_protect_cm(const uint8_t *key_salt, const uint8_t *rtp, size_t len, uint8_t *out)
{
    uint8_t k_e[16], k_s[14], k_a[20];
    ref_kdf(key_salt, key_salt + 16, 14, 0x00, k_e, sizeof k_e);
    ref_kdf(key_salt, key_salt + 16, 14, 0x01, k_a, sizeof k_a);
    ref_kdf(key_salt, key_salt + 16, 14, 0x02, k_s, sizeof k_s);
    uint8_t iv[16] = {0};
    memcpy(iv, k_s, 14);
    for (int i = 0; i < 4; i++) iv[4 + i] ^= rtp[8 + i]; /* SSRC * 2^64 */
    iv[12] ^= rtp[2];                                      /* index (ROC 0 || SEQ) * 2^16 */
    iv[13] ^= rtp[3];
    memcpy(out, rtp, len);
    ref_aes_ctr(k_e, iv, out + 12, len - 12);
    uint8_t auth_in[1500], tag[20];
    memcpy(auth_in, out, len);
    memset(auth_in + len, 0, 4); /* ROC */
    unsigned int tag_len = 0;
    assert_non_null(HMAC(EVP_sha1(), k_a, sizeof k_a, auth_in, len + 4, tag, &tag_len));
    memcpy(out + len, tag, 10);
    return len + 10;
}

/* RFC 7714 §8: AEAD_AES_128_GCM with IV = (00 00 || SSRC || ROC || SEQ) XOR salt, the RTP
 * header as associated data, the 16-byte tag appended. */
static size_t ref_protect_gcm(const uint8_t *key_salt, const uint8_t *rtp, size_t len,
                              uint8_t *out)
{
    uint8_t k_e[16], k_s[12];
    ref_kdf(key_salt, key_salt + 16, 12, 0x00, k_e, sizeof k_e);
    ref_kdf(key_salt, key_salt + 16, 12, 0x02, k_s, sizeof k_s);
    uint8_t iv[12] = {0};
    memcpy(iv + 2, rtp + 8, 4); /* SSRC; ROC = 0 */
    memcpy(iv + 10, rtp + 2, 2);
    for (int i = 0; i < 12; i++) iv[i] ^= k_s[i];
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0;
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, k_e, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(c, NULL, &n, rtp, 12), 1);
    memcpy(out, rtp, 12);
    assert_int_equal(EVP_EncryptUpdate(c, out + 12, &n, rtp + 12, (int)len - 12), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, out + 12 + n, &n), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + len), 1);
    EVP_CIPHER_CTX_free(c);
    return len + 16;
}

static void check_known_answer(j_srtp_profile p)
{
    uint8_t key[J_SRTP_MAX_KEY_SALT_LEN];
    size_t kn = j_srtp_profile_key_salt_len(p);
    fill_key(key, kn, 0xA5);
    j_srtp *tx = j_srtp_new(p, key, kn, J_SRTP_OUTBOUND);
    j_srtp *rx = j_srtp_new(p, key, kn, J_SRTP_INBOUND);
    assert_non_null(tx);
    assert_non_null(rx);
    for (uint16_t seq = 1; seq < 4; seq++) {
        uint8_t rtp[200], want[256], got[256];
        size_t len = make_rtp(rtp, (uint16_t)(seq * 1000), 0xDEADBEEF, 120 + seq);
        size_t want_len = p == J_SRTP_PROFILE_AEAD_AES_128_GCM
                              ? ref_protect_gcm(key, rtp, len, want)
                              : ref_protect_cm(key, rtp, len, want);
        memcpy(got, rtp, len);
        assert_int_equal(j_srtp_protect_rtp(tx, got, len, sizeof got), (int)want_len);
        assert_memory_equal(got, want, want_len);
        assert_int_equal(j_srtp_unprotect_rtp(rx, want, want_len), (int)len);
        assert_memory_equal(want, rtp, len);
    }
    j_srtp_free(tx);
    j_srtp_free(rx);
}

static void test_known_answer_aes_cm(void **state)
{
    (void)state;
    check_known_answer(J_SRTP_PROFILE_AES128_CM_SHA1_80);
}

static void test_known_answer_gcm(void **state)
{
    (void)state;
    check_known_answer(J_SRTP_PROFILE_AEAD_AES_128_GCM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtp_round_trip),
        cmocka_unit_test(test_rtcp_round_trip),
        cmocka_unit_test(test_tampered_rejected),
        cmocka_unit_test(test_wrong_key_rejected),
        cmocka_unit_test(test_replay_rejected),
        cmocka_unit_test(test_replay_window_1024),
        cmocka_unit_test(test_outbound_repeat_allowed),
        cmocka_unit_test(test_many_ssrcs),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_kdf_reference_rfc3711_b3),
        cmocka_unit_test(test_known_answer_aes_cm),
        cmocka_unit_test(test_known_answer_gcm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
