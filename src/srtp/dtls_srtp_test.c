/* dtls_srtp_test.c - DTLS-SRTP end to end: a real handshake's exported keys drive SRTP.
 *
 * Two in-memory DTLS endpoints complete a handshake; each builds an outbound j_srtp from
 * its local key and an inbound one from its remote key. RTP and RTCP protected by either
 * side must unprotect at the other, for each negotiated profile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/ssl.h>

#include "core/bytes.h"
#include "core/err.h"
#include "dtls/dtls.h"
#include "dtls/dtls_internal.h"
#include "srtp/srtp.h"

typedef struct {
    dtls_cert *cert[2];
    dtls_ctx *ctx[2];
    dtls_conn *conn[2]; /* [0] client, [1] server */
    j_srtp *tx[2], *rx[2];
    j_srtp_profile profile;
} endpoints;

static void handshake(endpoints *e, const char *client_profiles)
{
    memset(e, 0, sizeof *e);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dtls_cert_generate(&e->cert[i]), 0);
        e->ctx[i] = dtls_ctx_new(e->cert[i]);
        assert_non_null(e->ctx[i]);
    }
    if (client_profiles)
        assert_int_equal(SSL_CTX_set_tlsext_use_srtp(e->ctx[0]->ssl, client_profiles), 0);
    e->conn[0] = dtls_conn_new(e->ctx[0], DTLS_ROLE_CLIENT, dtls_cert_fingerprint(e->cert[1]));
    e->conn[1] = dtls_conn_new(e->ctx[1], DTLS_ROLE_SERVER, dtls_cert_fingerprint(e->cert[0]));
    assert_non_null(e->conn[0]);
    assert_non_null(e->conn[1]);
    uint64_t now = 1000000;
    assert_int_equal(dtls_conn_start(e->conn[0], now), 0);
    uint8_t buf[DTLS_MTU];
    bool moved = true;
    while (moved) {
        moved = false;
        for (int i = 0; i < 2; i++) {
            int n;
            while ((n = dtls_conn_poll_transmit(e->conn[i], buf, sizeof buf)) > 0) {
                now += 500;
                assert_int_equal(dtls_conn_handle_input(e->conn[1 - i], now, buf, (size_t)n), 0);
                moved = true;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dtls_conn_poll_event(e->conn[i], NULL), DTLS_EV_CONNECTED);
        dtls_srtp_keys k;
        assert_int_equal(dtls_conn_srtp_keys(e->conn[i], &k), 0);
        e->profile = k.profile;
        e->tx[i] = j_srtp_new(k.profile, k.local, k.len, J_SRTP_OUTBOUND, J_SRTP_MAX_STREAMS);
        e->rx[i] = j_srtp_new(k.profile, k.remote, k.len, J_SRTP_INBOUND, J_SRTP_MAX_STREAMS);
        assert_non_null(e->tx[i]);
        assert_non_null(e->rx[i]);
    }
}

static void teardown(endpoints *e)
{
    for (int i = 0; i < 2; i++) {
        j_srtp_free(e->tx[i]);
        j_srtp_free(e->rx[i]);
        dtls_conn_free(e->conn[i]);
        dtls_ctx_free(e->ctx[i]);
        dtls_cert_free(e->cert[i]);
    }
}

static void exchange_media(endpoints *e)
{
    for (int from = 0; from < 2; from++) {
        int to = 1 - from;
        for (uint16_t seq = 100; seq < 110; seq++) {
            uint8_t pkt[256], orig[256];
            pkt[0] = 0x80;
            pkt[1] = 111;
            wr_be16(pkt + 2, seq);
            wr_be32(pkt + 4, seq * 960u);
            wr_be32(pkt + 8, 0xA0A0A000u + (uint32_t)from);
            for (int i = 0; i < 100; i++) pkt[12 + i] = (uint8_t)(i * 3 + from);
            memcpy(orig, pkt, 112);
            int n = j_srtp_protect_rtp(e->tx[from], pkt, 112, sizeof pkt);
            assert_int_equal(n, 112 + (int)j_srtp_rtp_overhead(e->profile));
            /* Our own inbound session (keyed with the peer's key) must not accept it. */
            uint8_t copy[256];
            memcpy(copy, pkt, (size_t)n);
            assert_int_equal(j_srtp_unprotect_rtp(e->rx[from], copy, (size_t)n), J_EAUTH);
            assert_int_equal(j_srtp_unprotect_rtp(e->rx[to], pkt, (size_t)n), 112);
            assert_memory_equal(pkt, orig, 112);
        }
        uint8_t rr[64] = {0x81, 201, 0, 7};
        wr_be32(rr + 4, 0xB0B0B000u + (uint32_t)from);
        int n = j_srtp_protect_rtcp(e->tx[from], rr, 32, sizeof rr);
        assert_true(n > 32);
        assert_int_equal(j_srtp_unprotect_rtcp(e->rx[to], rr, (size_t)n), 32);
        assert_int_equal(rr[1], 201);
    }
}

static void test_dtls_srtp_gcm(void **state)
{
    (void)state;
    endpoints e;
    handshake(&e, NULL);
    assert_int_equal(e.profile, J_SRTP_PROFILE_AEAD_AES_128_GCM);
    exchange_media(&e);
    teardown(&e);
}

static void test_dtls_srtp_gcm256(void **state)
{
    (void)state;
    endpoints e;
    handshake(&e, "SRTP_AEAD_AES_256_GCM:SRTP_AES128_CM_SHA1_80");
    assert_int_equal(e.profile, J_SRTP_PROFILE_AEAD_AES_256_GCM);
    exchange_media(&e);
    teardown(&e);
}

static void test_dtls_srtp_aes_cm(void **state)
{
    (void)state;
    endpoints e;
    handshake(&e, "SRTP_AES128_CM_SHA1_80");
    assert_int_equal(e.profile, J_SRTP_PROFILE_AES128_CM_SHA1_80);
    exchange_media(&e);
    teardown(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtls_srtp_gcm),
        cmocka_unit_test(test_dtls_srtp_gcm256),
        cmocka_unit_test(test_dtls_srtp_aes_cm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
