/* srtp_oracle_test.c - j_srtp against libsrtp2, the reference implementation browsers use.
 *
 * For every profile, the same packets go through our transform and libsrtp's: SRTP output
 * must be byte-identical, and each side must unprotect what the other protected, SRTP and
 * SRTCP, over several SSRCs, sequence numbers crossing the 16-bit wrap (ROC 0 -> 1),
 * CSRCs, header extensions, padding and payloads from 1 to 1400 bytes. Our receiver also
 * removes a stream every few packets (j_srtp_remove_stream, as when a track retires) and
 * must resume it where it was, ROC and SRTCP index included, while libsrtp2's sender just
 * goes on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "core/bytes.h"
#include "core/err.h"
#include "srtp/srtp.h"

#define MAX_PACKET 1500
#define STREAMS 3
#define RTP_PER_STREAM 700
#define RTCP_PER_STREAM 300
/* Our receiver removes the stream of every REMOVE_EVERY-th packet after reading it: prime to
 * STREAMS, so each stream is removed every REMOVE_EVERY of its own packets, the wrap too. */
#define REMOVE_EVERY 5

static const uint32_t k_ssrcs[STREAMS] = {0x11111111, 0x2222ABCD, 0xFEDCBA98};
/* Each stream starts shortly before the wrap so that ROC 1 is reached, at its own place. */
static const uint16_t k_first_seq[STREAMS] = {65000, 65300, 65530};

typedef struct {
    j_srtp_profile profile;
    j_srtp *ours_tx, *ours_rx;
    srtp_t lib_tx, lib_rx;
} both_sides;

static srtp_t lib_session(j_srtp_profile p, const uint8_t *key, bool outbound)
{
    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    switch (p) {
    case J_SRTP_PROFILE_AES128_CM_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
        break;
    case J_SRTP_PROFILE_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
        break;
    case J_SRTP_PROFILE_AEAD_AES_256_GCM:
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtcp);
        break;
    }
    pol.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    uint8_t copy[J_SRTP_MAX_KEY_SALT_LEN];
    memcpy(copy, key, j_srtp_profile_key_salt_len(p));
    pol.key = copy;
    pol.window_size = J_SRTP_REPLAY_WINDOW;
    pol.allow_repeat_tx = outbound;
    srtp_t s = NULL;
    assert_int_equal(srtp_create(&s, &pol), srtp_err_status_ok);
    return s;
}

static void open_both(both_sides *b, j_srtp_profile p)
{
    uint8_t key[J_SRTP_MAX_KEY_SALT_LEN];
    size_t n = j_srtp_profile_key_salt_len(p);
    for (size_t i = 0; i < n; i++) key[i] = (uint8_t)(0x3C + i * 11);
    b->profile = p;
    b->ours_tx = j_srtp_new(p, key, n, J_SRTP_OUTBOUND, J_SRTP_MAX_STREAMS);
    b->ours_rx = j_srtp_new(p, key, n, J_SRTP_INBOUND, J_SRTP_MAX_STREAMS);
    assert_non_null(b->ours_tx);
    assert_non_null(b->ours_rx);
    b->lib_tx = lib_session(p, key, true);
    b->lib_rx = lib_session(p, key, false);
}

static void close_both(both_sides *b)
{
    j_srtp_free(b->ours_tx);
    j_srtp_free(b->ours_rx);
    srtp_dealloc(b->lib_tx);
    srtp_dealloc(b->lib_rx);
}

/* RTP packet number i of a stream: CSRCs, a header extension, padding and the marker come
 * and go; the payload is 1 to 1400 bytes. Returns its length (at most 1447). */
static size_t make_varied_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, uint32_t i)
{
    size_t csrcs = i % 4;
    bool ext = i % 3 == 1;
    size_t padding = i % 5 == 2 ? 1 + i % 7 : 0;
    size_t payload = 1 + (i * 97u) % 1400;
    buf[0] = (uint8_t)(0x80 | (padding ? 0x20 : 0) | (ext ? 0x10 : 0) | csrcs);
    buf[1] = (uint8_t)(96 | (i % 2 ? 0x80 : 0));
    wr_be16(buf + 2, seq);
    wr_be32(buf + 4, i * 3000u);
    wr_be32(buf + 8, ssrc);
    size_t n = 12;
    for (size_t c = 0; c < csrcs; c++, n += 4) wr_be32(buf + n, 0xC5C50000u + (uint32_t)c);
    if (ext) {
        size_t words = 1 + i % 3;
        wr_be16(buf + n, 0xBEDE); /* RFC 8285 one-byte elements */
        wr_be16(buf + n + 2, (uint16_t)words);
        n += 4;
        for (size_t w = 0; w < 4 * words; w++) buf[n++] = (uint8_t)(0x10 + w);
    }
    for (size_t j = 0; j < payload; j++) buf[n++] = (uint8_t)(i + j * 13);
    if (padding) {
        memset(buf + n, 0, padding - 1);
        n += padding;
        buf[n - 1] = (uint8_t)padding;
    }
    return n;
}

/* RTCP packet number i: an SR or RR of 2 to 251 words from ssrc. */
static size_t make_varied_rtcp(uint8_t *buf, uint32_t ssrc, uint32_t i)
{
    size_t words = 1 + (i * 37u) % 250;
    buf[0] = (uint8_t)(0x80 | i % 4);
    buf[1] = i % 2 ? 200 : 201;
    wr_be16(buf + 2, (uint16_t)words);
    wr_be32(buf + 4, ssrc);
    for (size_t j = 8; j < 4 + 4 * words; j++) buf[j] = (uint8_t)(i * 7 + j);
    return 4 + 4 * words;
}

static void check_rtp(j_srtp_profile p)
{
    both_sides b;
    open_both(&b, p);
    uint16_t seq[STREAMS];
    memcpy(seq, k_first_seq, sizeof seq);
    uint8_t plain[MAX_PACKET], ours[MAX_PACKET + J_SRTP_MAX_TRAILER];
    uint8_t theirs[MAX_PACKET + J_SRTP_MAX_TRAILER];
    for (uint32_t i = 0; i < STREAMS * RTP_PER_STREAM; i++) {
        size_t stream = i % STREAMS;
        size_t len = make_varied_rtp(plain, seq[stream]++, k_ssrcs[stream], i / STREAMS);
        memcpy(ours, plain, len);
        memcpy(theirs, plain, len);
        int n = j_srtp_protect_rtp(b.ours_tx, ours, len, sizeof ours);
        int lib_n = (int)len;
        assert_int_equal(srtp_protect(b.lib_tx, theirs, &lib_n), srtp_err_status_ok);
        assert_int_equal(n, lib_n);
        assert_memory_equal(ours, theirs, (size_t)n);

        assert_int_equal(srtp_unprotect(b.lib_rx, ours, &n), srtp_err_status_ok);
        assert_int_equal(n, (int)len);
        assert_memory_equal(ours, plain, len);
        assert_int_equal(j_srtp_unprotect_rtp(b.ours_rx, theirs, (size_t)lib_n), (int)len);
        assert_memory_equal(theirs, plain, len);
        if (i % REMOVE_EVERY == 0)
            assert_int_equal(j_srtp_remove_stream(b.ours_rx, k_ssrcs[stream]), J_OK);
    }
    for (size_t s = 0; s < STREAMS; s++) assert_true(seq[s] < k_first_seq[s]); /* wrapped */
    close_both(&b);
}

/* SRTCP indices differ (libsrtp starts at 1, we at 0), so the bytes do; each side must
 * still read the other. */
static void check_rtcp(j_srtp_profile p)
{
    both_sides b;
    open_both(&b, p);
    uint8_t plain[MAX_PACKET], ours[MAX_PACKET + J_SRTP_MAX_TRAILER];
    uint8_t theirs[MAX_PACKET + J_SRTP_MAX_TRAILER];
    for (uint32_t i = 0; i < STREAMS * RTCP_PER_STREAM; i++) {
        size_t len = make_varied_rtcp(plain, k_ssrcs[i % STREAMS], i);
        memcpy(ours, plain, len);
        memcpy(theirs, plain, len);
        int n = j_srtp_protect_rtcp(b.ours_tx, ours, len, sizeof ours);
        assert_int_equal(n, (int)(len + j_srtp_rtcp_overhead(p)));
        int lib_n = (int)len;
        assert_int_equal(srtp_protect_rtcp(b.lib_tx, theirs, &lib_n), srtp_err_status_ok);
        assert_int_equal(lib_n, n);

        assert_int_equal(srtp_unprotect_rtcp(b.lib_rx, ours, &n), srtp_err_status_ok);
        assert_int_equal(n, (int)len);
        assert_memory_equal(ours, plain, len);
        assert_int_equal(j_srtp_unprotect_rtcp(b.ours_rx, theirs, (size_t)lib_n), (int)len);
        assert_memory_equal(theirs, plain, len);
        if (i % REMOVE_EVERY == 0)
            assert_int_equal(j_srtp_remove_stream(b.ours_rx, k_ssrcs[i % STREAMS]), J_OK);
    }
    close_both(&b);
}

static void test_aes_cm_rtp(void **state)
{
    (void)state;
    check_rtp(J_SRTP_PROFILE_AES128_CM_SHA1_80);
}

static void test_aes_cm_rtcp(void **state)
{
    (void)state;
    check_rtcp(J_SRTP_PROFILE_AES128_CM_SHA1_80);
}

static void test_gcm128_rtp(void **state)
{
    (void)state;
    check_rtp(J_SRTP_PROFILE_AEAD_AES_128_GCM);
}

static void test_gcm128_rtcp(void **state)
{
    (void)state;
    check_rtcp(J_SRTP_PROFILE_AEAD_AES_128_GCM);
}

static void test_gcm256_rtp(void **state)
{
    (void)state;
    check_rtp(J_SRTP_PROFILE_AEAD_AES_256_GCM);
}

static void test_gcm256_rtcp(void **state)
{
    (void)state;
    check_rtcp(J_SRTP_PROFILE_AEAD_AES_256_GCM);
}

static int lib_init(void **state)
{
    (void)state;
    return srtp_init() == srtp_err_status_ok ? 0 : -1;
}

static int lib_shutdown(void **state)
{
    (void)state;
    return srtp_shutdown() == srtp_err_status_ok ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes_cm_rtp),  cmocka_unit_test(test_aes_cm_rtcp),
        cmocka_unit_test(test_gcm128_rtp),  cmocka_unit_test(test_gcm128_rtcp),
        cmocka_unit_test(test_gcm256_rtp),  cmocka_unit_test(test_gcm256_rtcp),
    };
    return cmocka_run_group_tests(tests, lib_init, lib_shutdown);
}
