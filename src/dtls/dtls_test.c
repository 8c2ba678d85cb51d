/* dtls_test.c - DTLS-SRTP handshakes between two in-memory endpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/err.h"
#include "dtls/dtls.h"
#include "dtls/dtls_internal.h"

/* ---- harness --------------------------------------------------------------------------- */

typedef struct {
    dtls_cert *cert[2];
    dtls_ctx *ctx[2];
    dtls_conn *conn[2]; /* [0] client, [1] server */
    uint64_t now_us;
    bool connected[2];
    bool failed[2];
    bool closed[2];
    const char *reason[2];
    unsigned datagrams[2]; /* sent by each side */
    unsigned drop_first[2]; /* drop this many of each side's first datagrams */
    size_t max_datagram;
} pair;

static void pair_init_certs(pair *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dtls_cert_generate(&p->cert[i]), 0);
        p->ctx[i] = dtls_ctx_new(p->cert[i]);
        assert_non_null(p->ctx[i]);
    }
    p->now_us = 1000000;
}

static void pair_make_conns(pair *p, const char *client_expects, const char *server_expects)
{
    p->conn[0] = dtls_conn_new(p->ctx[0], DTLS_ROLE_CLIENT, client_expects);
    p->conn[1] = dtls_conn_new(p->ctx[1], DTLS_ROLE_SERVER, server_expects);
    assert_non_null(p->conn[0]);
    assert_non_null(p->conn[1]);
}

static void pair_init(pair *p)
{
    pair_init_certs(p);
    pair_make_conns(p, dtls_cert_fingerprint(p->cert[1]), dtls_cert_fingerprint(p->cert[0]));
}

static void pair_free(pair *p)
{
    for (int i = 0; i < 2; i++) {
        dtls_conn_free(p->conn[i]);
        dtls_ctx_free(p->ctx[i]);
        dtls_cert_free(p->cert[i]);
    }
}

static void pair_collect_events(pair *p)
{
    for (int i = 0; i < 2; i++) {
        dtls_event ev;
        const char *why;
        while ((ev = dtls_conn_poll_event(p->conn[i], &why)) != DTLS_EV_NONE) {
            if (ev == DTLS_EV_CONNECTED) p->connected[i] = true;
            if (ev == DTLS_EV_FAILED) p->failed[i] = true;
            if (ev == DTLS_EV_CLOSED) p->closed[i] = true;
            if (why) p->reason[i] = why;
        }
    }
}

/* Move datagrams both ways until both queues are empty. Returns datagrams moved. */
static unsigned pair_pump(pair *p)
{
    uint8_t buf[2048];
    unsigned moved = 0;
    bool progress = true;
    while (progress) {
        progress = false;
        for (int i = 0; i < 2; i++) {
            int n;
            while ((n = dtls_conn_poll_transmit(p->conn[i], buf, sizeof buf)) > 0) {
                assert_true((size_t)n <= DTLS_MTU);
                if ((size_t)n > p->max_datagram) p->max_datagram = (size_t)n;
                p->datagrams[i]++;
                progress = true;
                moved++;
                if (p->drop_first[i] > 0) {
                    p->drop_first[i]--;
                    continue;
                }
                p->now_us += 1000;
                (void)dtls_conn_handle_input(p->conn[1 - i], p->now_us, buf, (size_t)n);
            }
            assert_true(n == 0);
        }
    }
    pair_collect_events(p);
    return moved;
}

static void pair_handshake(pair *p)
{
    assert_int_equal(dtls_conn_start(p->conn[1], p->now_us), 0); /* server: no-op */
    assert_int_equal(dtls_conn_start(p->conn[0], p->now_us), 0);
    pair_pump(p);
}

static void assert_keys_match(pair *p, j_srtp_profile want)
{
    dtls_srtp_keys k[2];
    for (int i = 0; i < 2; i++) assert_int_equal(dtls_conn_srtp_keys(p->conn[i], &k[i]), 0);
    assert_int_equal(k[0].profile, want);
    assert_int_equal(k[1].profile, want);
    assert_int_equal(k[0].len, j_srtp_profile_key_salt_len(want));
    assert_int_equal(k[1].len, k[0].len);
    assert_memory_equal(k[0].local, k[1].remote, k[0].len);
    assert_memory_equal(k[0].remote, k[1].local, k[0].len);
    assert_memory_not_equal(k[0].local, k[0].remote, k[0].len);
}

/* ---- certificates ---------------------------------------------------------------------- */

static void assert_fingerprint_shape(const char *fp, const char *alg, size_t md_len)
{
    size_t alg_len = strlen(alg);
    assert_int_equal(strlen(fp), alg_len + 1 + md_len * 3 - 1);
    assert_memory_equal(fp, alg, alg_len);
    assert_int_equal(fp[alg_len], ' ');
    for (size_t i = 0; i < md_len; i++) {
        const char *h = fp + alg_len + 1 + i * 3;
        for (int k = 0; k < 2; k++)
            assert_non_null(strchr("0123456789ABCDEF", h[k]));
        if (i + 1 < md_len) assert_int_equal(h[2], ':');
    }
}

static void test_cert_generate(void **state)
{
    (void)state;
    dtls_cert *a, *b;
    assert_int_equal(dtls_cert_generate(&a), 0);
    assert_int_equal(dtls_cert_generate(&b), 0);
    assert_fingerprint_shape(dtls_cert_fingerprint(a), "sha-256", 32);
    assert_string_not_equal(dtls_cert_fingerprint(a), dtls_cert_fingerprint(b));

    /* ECDSA P-256, self-signed, validity around now. */
    assert_int_equal(EVP_PKEY_get_base_id(a->key), EVP_PKEY_EC);
    char group[32];
    size_t glen = 0;
    assert_int_equal(EVP_PKEY_get_group_name(a->key, group, sizeof group, &glen), 1);
    assert_string_equal(group, "prime256v1");
    assert_int_equal(X509_verify(a->x509, a->key), 1);
    assert_true(X509_cmp_current_time(X509_get0_notBefore(a->x509)) < 0);
    assert_true(X509_cmp_current_time(X509_get0_notAfter(a->x509)) > 0);
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(a->x509),
                                          X509_get0_serialNumber(b->x509)), 0);
    dtls_cert_free(a);
    dtls_cert_free(b);
}

static void write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (x) assert_int_equal(PEM_write_X509(f, x), 1);
    if (k) assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static void test_cert_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/dtls_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cert_path[64], key_path[64], other_key_path[64];
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    snprintf(other_key_path, sizeof other_key_path, "%s/other.pem", dir);

    dtls_cert *gen, *other, *loaded;
    assert_int_equal(dtls_cert_generate(&gen), 0);
    assert_int_equal(dtls_cert_generate(&other), 0);
    write_pem(cert_path, gen->x509, NULL);
    write_pem(key_path, NULL, gen->key);
    write_pem(other_key_path, NULL, other->key);

    assert_int_equal(dtls_cert_load(&loaded, cert_path, key_path), 0);
    assert_string_equal(dtls_cert_fingerprint(loaded), dtls_cert_fingerprint(gen));
    dtls_ctx *ctx = dtls_ctx_new(loaded);
    assert_non_null(ctx);
    dtls_ctx_free(ctx);
    dtls_cert_free(loaded);

    assert_int_equal(dtls_cert_load(&loaded, cert_path, other_key_path), J_EMALFORMED);
    assert_null(loaded);
    assert_int_equal(dtls_cert_load(&loaded, key_path, key_path), J_EMALFORMED);
    assert_int_equal(dtls_cert_load(&loaded, "/nonexistent/cert.pem", key_path), J_EIO);

    unlink(cert_path);
    unlink(key_path);
    unlink(other_key_path);
    rmdir(dir);
    dtls_cert_free(gen);
    dtls_cert_free(other);
}

/* ---- handshakes ------------------------------------------------------------------------ */

static void test_handshake_gcm(void **state)
{
    (void)state;
    pair p;
    pair_init(&p);
    assert_false(dtls_conn_is_connected(p.conn[0]));
    dtls_srtp_keys k;
    assert_int_equal(dtls_conn_srtp_keys(p.conn[0], &k), J_ESTATE);
    pair_handshake(&p);
    assert_true(p.connected[0]);
    assert_true(p.connected[1]);
    assert_false(p.failed[0] || p.failed[1]);
    assert_true(dtls_conn_is_connected(p.conn[0]));
    assert_true(dtls_conn_is_connected(p.conn[1]));
    assert_keys_match(&p, J_SRTP_PROFILE_AEAD_AES_128_GCM);
    /* Every datagram respected the MTU (checked in pump) and nothing is left to do. */
    assert_int_equal(dtls_conn_start(p.conn[0], p.now_us), J_ESTATE);
    pair_free(&p);
}

/* A client offering only AES-CM gets AES-CM; the server prefers GCM only when offered. */
static void test_handshake_aes_cm(void **state)
{
    (void)state;
    pair p;
    pair_init_certs(&p);
    assert_int_equal(SSL_CTX_set_tlsext_use_srtp(p.ctx[0]->ssl, "SRTP_AES128_CM_SHA1_80"), 0);
    pair_make_conns(&p, dtls_cert_fingerprint(p.cert[1]), dtls_cert_fingerprint(p.cert[0]));
    pair_handshake(&p);
    assert_true(p.connected[0] && p.connected[1]);
    assert_keys_match(&p, J_SRTP_PROFILE_AES128_CM_SHA1_80);
    pair_free(&p);
}

/* No use_srtp from the client (data-channel-only peer): CONNECTED, but no SRTP keys. */
static void test_handshake_without_srtp(void **state)
{
    (void)state;
    pair p;
    pair_init_certs(&p);
    SSL_CTX_free(p.ctx[0]->ssl);
    p.ctx[0]->ssl = SSL_CTX_new(DTLS_method());
    SSL_CTX *s = p.ctx[0]->ssl;
    assert_non_null(s);
    assert_int_equal(SSL_CTX_use_certificate(s, p.cert[0]->x509), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(s, p.cert[0]->key), 1);
    pair_make_conns(&p, dtls_cert_fingerprint(p.cert[1]), dtls_cert_fingerprint(p.cert[0]));
    pair_handshake(&p);
    assert_true(p.connected[0] && p.connected[1]);
    dtls_srtp_keys k;
    assert_int_equal(dtls_conn_srtp_keys(p.conn[1], &k), J_ENOTFOUND);
    pair_free(&p);
}

/* The SDP may carry other hash functions and lower-case hex. */
static void test_handshake_other_fingerprint_forms(void **state)
{
    (void)state;
    pair p;
    pair_init_certs(&p);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len;
    char fp_server[DTLS_FINGERPRINT_MAX], fp_client[DTLS_FINGERPRINT_MAX];
    assert_int_equal(X509_digest(p.cert[1]->x509, EVP_sha1(), md, &md_len), 1);
    assert_int_equal(dtls_format_fingerprint("SHA-1", md, md_len, fp_server, sizeof fp_server), 0);
    assert_int_equal(X509_digest(p.cert[0]->x509, EVP_sha512(), md, &md_len), 1);
    assert_int_equal(dtls_format_fingerprint("sha-512", md, md_len, fp_client, sizeof fp_client),
                     0);
    for (char *c = fp_client; *c; c++) *c = (char)tolower((unsigned char)*c);
    pair_make_conns(&p, fp_server, fp_client);
    pair_handshake(&p);
    assert_true(p.connected[0] && p.connected[1]);
    pair_free(&p);
}

static void test_fingerprint_parsing(void **state)
{
    (void)state;
    dtls_cert *cert;
    assert_int_equal(dtls_cert_generate(&cert), 0);
    dtls_ctx *ctx = dtls_ctx_new(cert);
    const char *fp = dtls_cert_fingerprint(cert);
    char buf[256];
    static const char *const bad[] = {
        "",
        "sha-256",
        "sha-256 ",
        "md5 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89",
        "sha-256 AB:CD",                 /* too short */
        "sha-1 ZZ:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
        "sha-1 ABCDEF0123456789ABCDEF0123456789ABCDEF01",            /* no colons */
        "sha-1 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:02", /* too long */
        "sha-1AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dtls_conn *c = dtls_conn_new(ctx, DTLS_ROLE_SERVER, bad[i]);
        if (c) fail_msg("accepted bad fingerprint '%s'", bad[i]);
    }
    assert_null(dtls_conn_new(ctx, DTLS_ROLE_SERVER, NULL));
    assert_null(dtls_conn_new(ctx, (dtls_role)7, fp));
    snprintf(buf, sizeof buf, "%s \r\n", fp); /* trailing whitespace tolerated */
    dtls_conn *c = dtls_conn_new(ctx, DTLS_ROLE_SERVER, buf);
    assert_non_null(c);
    dtls_conn_free(c);
    dtls_ctx_free(ctx);
    dtls_cert_free(cert);
}

/* The client expects another certificate: it rejects the server's, both fail. */
static void test_wrong_fingerprint_client_side(void **state)
{
    (void)state;
    pair p;
    pair_init_certs(&p);
    dtls_cert *stranger;
    assert_int_equal(dtls_cert_generate(&stranger), 0);
    pair_make_conns(&p, dtls_cert_fingerprint(stranger), dtls_cert_fingerprint(p.cert[0]));
    pair_handshake(&p);
    assert_true(p.failed[0]);
    assert_false(p.connected[0]);
    assert_non_null(p.reason[0]);
    assert_non_null(strstr(p.reason[0], "fingerprint mismatch"));
    assert_false(p.connected[1]); /* the alert reached the server */
    assert_true(p.failed[1]);
    dtls_srtp_keys k;
    assert_int_equal(dtls_conn_srtp_keys(p.conn[0], &k), J_ESTATE);
    /* Terminal: input is refused. */
    uint8_t rec[13] = {22, 0xFE, 0xFD};
    assert_int_equal(dtls_conn_handle_input(p.conn[0], p.now_us, rec, sizeof rec), J_ESTATE);
    dtls_cert_free(stranger);
    pair_free(&p);
}

/* The server expects another client certificate. */
static void test_wrong_fingerprint_server_side(void **state)
{
    (void)state;
    pair p;
    pair_init_certs(&p);
    char fp[DTLS_FINGERPRINT_MAX];
    snprintf(fp, sizeof fp, "%s", dtls_cert_fingerprint(p.cert[0]));
    fp[strlen(fp) - 1] = fp[strlen(fp) - 1] == '0' ? '1' : '0'; /* one nibble off */
    pair_make_conns(&p, dtls_cert_fingerprint(p.cert[1]), fp);
    pair_handshake(&p);
    assert_true(p.failed[1]);
    assert_false(p.connected[1]);
    assert_non_null(strstr(p.reason[1], "fingerprint mismatch"));
    assert_false(p.connected[0]);
    assert_true(p.failed[0]);
    pair_free(&p);
}

/* ---- robustness ------------------------------------------------------------------------ */

static void test_garbage_rejected(void **state)
{
    (void)state;
    pair p;
    pair_init(&p);
    dtls_conn *srv = p.conn[1];
    uint8_t buf[1500];

    assert_int_equal(dtls_conn_handle_input(srv, p.now_us, buf, 0), J_EMALFORMED);
    memset(buf, 0x80, sizeof buf); /* an RTP-looking packet */
    assert_int_equal(dtls_conn_handle_input(srv, p.now_us, buf, 200), J_EMALFORMED);
    uint8_t short_rec[] = {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 1, 2}; /* len > data */
    assert_int_equal(dtls_conn_handle_input(srv, p.now_us, short_rec, sizeof short_rec),
                     J_EMALFORMED);
    uint8_t bad_version[] = {22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(dtls_conn_handle_input(srv, p.now_us, bad_version, sizeof bad_version),
                     J_EMALFORMED);
    uint8_t app_early[] = {23, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 1, 0, 2, 0xAA, 0xBB};
    assert_int_equal(dtls_conn_handle_input(srv, p.now_us, app_early, sizeof app_early),
                     J_ESTATE);
    assert_int_equal(dtls_conn_handle_input(srv, p.now_us, buf, 20000), J_ELIMIT);
    /* A not-yet-started client takes no input. */
    assert_int_equal(dtls_conn_handle_input(p.conn[0], p.now_us, short_rec, 13), J_ESTATE);

    /* Well-framed handshake records with random bodies: OpenSSL discards or fails them. */
    srand(1234);
    for (int i = 0; i < 200; i++) {
        size_t body = (size_t)(rand() % 300);
        buf[0] = 22;
        buf[1] = 0xFE;
        buf[2] = 0xFD;
        for (size_t k = 3; k < 11; k++) buf[k] = (uint8_t)(rand() & 0x01); /* small epoch/seq */
        buf[11] = (uint8_t)(body >> 8);
        buf[12] = (uint8_t)body;
        for (size_t k = 0; k < body; k++) buf[13 + k] = (uint8_t)rand();
        int rc = dtls_conn_handle_input(srv, p.now_us, buf, 13 + body);
        assert_true(rc == 0 || rc == J_ESTATE);
        uint8_t out[DTLS_MTU];
        while (dtls_conn_poll_transmit(srv, out, sizeof out) > 0) {}
    }
    dtls_conn_free(p.conn[1]);

    /* A truncated handshake fragment in epoch 0 is a protocol violation: OpenSSL sends an
     * alert and the conn fails, without crashing. */
    p.conn[1] = dtls_conn_new(p.ctx[1], DTLS_ROLE_SERVER, dtls_cert_fingerprint(p.cert[0]));
    uint8_t junk[] = {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3};
    assert_int_equal(dtls_conn_handle_input(p.conn[1], p.now_us, junk, sizeof junk), 0);
    const char *why;
    assert_int_equal(dtls_conn_poll_event(p.conn[1], &why), DTLS_EV_FAILED);
    assert_non_null(strstr(why, "sent fatal alert"));
    uint8_t alert[DTLS_MTU];
    assert_int_equal(dtls_conn_poll_transmit(p.conn[1], alert, sizeof alert), 15);
    assert_int_equal(alert[0], 21);
    dtls_conn_free(p.conn[1]);

    /* Records of a future epoch cannot be decrypted yet and are discarded quietly: the
     * handshake still completes after them. */
    p.conn[1] = dtls_conn_new(p.ctx[1], DTLS_ROLE_SERVER, dtls_cert_fingerprint(p.cert[0]));
    junk[4] = 1; /* epoch 1 */
    assert_int_equal(dtls_conn_handle_input(p.conn[1], p.now_us, junk, sizeof junk), 0);
    pair_handshake(&p);
    if (p.reason[1]) fail_msg("server: %s", p.reason[1]);
    if (p.reason[0]) fail_msg("client: %s", p.reason[0]);
    assert_true(p.connected[0] && p.connected[1]);
    assert_keys_match(&p, J_SRTP_PROFILE_AEAD_AES_128_GCM);
    pair_free(&p);
}

/* A certificate bigger than the MTU forces handshake fragmentation over several datagrams. */
static void test_large_certificate_fragmented(void **state)
{
    (void)state;
    pair p;
    pair_init_certs(&p);
    /* Give the server cert a 3000-byte comment extension and re-sign it. */
    X509 *x = p.cert[1]->x509;
    char comment[3001];
    memset(comment, 'j', sizeof comment - 1);
    comment[sizeof comment - 1] = '\0';
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, comment);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, p.cert[1]->key, EVP_sha256()) > 0);
    uint8_t md[32];
    unsigned int md_len;
    assert_int_equal(X509_digest(x, EVP_sha256(), md, &md_len), 1);
    char fp[DTLS_FINGERPRINT_MAX];
    assert_int_equal(dtls_format_fingerprint("sha-256", md, md_len, fp, sizeof fp), 0);
    dtls_ctx_free(p.ctx[1]);
    p.ctx[1] = dtls_ctx_new(p.cert[1]);
    assert_non_null(p.ctx[1]);

    pair_make_conns(&p, fp, dtls_cert_fingerprint(p.cert[0]));
    pair_handshake(&p);
    assert_true(p.connected[0] && p.connected[1]);
    assert_true(p.datagrams[1] >= 4); /* the server flight took several datagrams */
    assert_true(p.max_datagram <= DTLS_MTU);
    assert_true(p.max_datagram > DTLS_MTU - 200); /* and they were packed to the MTU */
    assert_keys_match(&p, J_SRTP_PROFILE_AEAD_AES_128_GCM);
    pair_free(&p);
}

/* Wait (really) until a conn's retransmission timer fires, at most ~1 s. */
static int wait_for_retransmit(pair *p, int side)
{
    for (int tries = 0; tries < 500; tries++) {
        uint64_t deadline = dtls_conn_poll_timeout(p->conn[side], p->now_us);
        assert_true(deadline != UINT64_MAX);
        if (deadline > p->now_us) p->now_us = deadline;
        dtls_conn_handle_timeout(p->conn[side], p->now_us);
        uint8_t buf[DTLS_MTU];
        int n = dtls_conn_poll_transmit(p->conn[side], buf, sizeof buf);
        if (n > 0) return dtls_conn_handle_input(p->conn[1 - side], p->now_us, buf, (size_t)n);
        /* OpenSSL judges expiry by the wall clock (see dtls.h): let 2 ms really pass. */
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("no retransmission within 1 s");
    return -1;
}

/* The client's ClientHello is lost; the retransmission timer recovers. OpenSSL's DTLS
 * timer runs on the wall clock, so this test lets ~20 ms of real time pass. */
static void test_lost_first_flight_recovered(void **state)
{
    (void)state;
    pair p;
    pair_init_certs(&p);
    dtls_ctx_set_initial_rto(p.ctx[0], 20000);
    dtls_ctx_set_initial_rto(p.ctx[1], 20000);
    pair_make_conns(&p, dtls_cert_fingerprint(p.cert[1]), dtls_cert_fingerprint(p.cert[0]));
    assert_int_equal(dtls_conn_poll_timeout(p.conn[0], p.now_us), UINT64_MAX);
    p.drop_first[0] = 1;
    pair_handshake(&p);
    assert_false(p.connected[0] || p.connected[1]);
    assert_int_equal(p.datagrams[1], 0);
    uint64_t deadline = dtls_conn_poll_timeout(p.conn[0], p.now_us);
    assert_true(deadline != UINT64_MAX && deadline <= p.now_us + 20000);
    assert_int_equal(dtls_conn_poll_timeout(p.conn[1], p.now_us), UINT64_MAX);

    assert_int_equal(wait_for_retransmit(&p, 0), 0);
    pair_pump(&p);
    assert_true(p.connected[0] && p.connected[1]);
    assert_keys_match(&p, J_SRTP_PROFILE_AEAD_AES_128_GCM);
    pair_free(&p);
}

/* The server's whole first flight is lost: the server's own timer retransmits it (a
 * duplicate ClientHello is ignored by OpenSSL, so the server must not rely on one). */
static void test_lost_server_flight_recovered(void **state)
{
    (void)state;
    pair p;
    pair_init_certs(&p);
    dtls_ctx_set_initial_rto(p.ctx[1], 20000);
    pair_make_conns(&p, dtls_cert_fingerprint(p.cert[1]), dtls_cert_fingerprint(p.cert[0]));
    p.drop_first[1] = 64; /* whatever the server sends first */
    assert_int_equal(dtls_conn_start(p.conn[0], p.now_us), 0);
    pair_pump(&p);
    assert_true(p.datagrams[1] > 0);
    assert_false(p.connected[0] || p.connected[1]);
    p.drop_first[1] = 0;
    assert_int_equal(wait_for_retransmit(&p, 1), 0);
    pair_pump(&p);
    assert_true(p.connected[0] && p.connected[1]);
    assert_keys_match(&p, J_SRTP_PROFILE_AEAD_AES_128_GCM);
    pair_free(&p);
}

/* The server's last flight (ChangeCipherSpec, Finished) is lost after it completed and
 * released its idle buffers: the client's retransmission makes it send the flight again, and
 * the connection then carries data and close_notify as any other. */
static void test_lost_final_flight_recovered(void **state)
{
    (void)state;
    pair p;
    pair_init_certs(&p);
    dtls_ctx_set_initial_rto(p.ctx[0], 20000);
    pair_make_conns(&p, dtls_cert_fingerprint(p.cert[1]), dtls_cert_fingerprint(p.cert[0]));
    assert_int_equal(dtls_conn_start(p.conn[0], p.now_us), 0);
    uint8_t buf[DTLS_MTU];
    int n;
    for (int round = 0; round < 8 && !dtls_conn_is_connected(p.conn[1]); round++) {
        while ((n = dtls_conn_poll_transmit(p.conn[0], buf, sizeof buf)) > 0)
            assert_int_equal(dtls_conn_handle_input(p.conn[1], p.now_us, buf, (size_t)n), 0);
        if (dtls_conn_is_connected(p.conn[1])) break;
        while ((n = dtls_conn_poll_transmit(p.conn[1], buf, sizeof buf)) > 0)
            assert_int_equal(dtls_conn_handle_input(p.conn[0], p.now_us, buf, (size_t)n), 0);
    }
    int lost = 0;
    while (dtls_conn_poll_transmit(p.conn[1], buf, sizeof buf) > 0) lost++;
    assert_true(lost > 0);
    pair_collect_events(&p);
    assert_true(p.connected[1] && !p.connected[0]);

    assert_int_equal(wait_for_retransmit(&p, 0), 0);
    pair_pump(&p);
    assert_true(p.connected[0] && p.connected[1]);
    assert_keys_match(&p, J_SRTP_PROFILE_AEAD_AES_128_GCM);
    uint8_t msg[100] = {7}, got[128];
    assert_int_equal(dtls_conn_send_app(p.conn[1], msg, sizeof msg), 0);
    pair_pump(&p);
    assert_int_equal(dtls_conn_poll_app(p.conn[0], got, sizeof got), (int)sizeof msg);
    assert_int_equal(dtls_conn_close(p.conn[1]), 0);
    pair_pump(&p);
    assert_true(p.closed[0]);
    pair_free(&p);
}

/* A peer that never answers: after DTLS_MAX_RETRANSMITS the handshake fails. The RTO is
 * pinned at 20 ms so this takes well under a second of real time. */
static void test_silent_peer_times_out(void **state)
{
    (void)state;
    pair p;
    pair_init_certs(&p);
    dtls_ctx_set_initial_rto(p.ctx[0], 20000);
    p.ctx[0]->max_rto_us = 20000;
    pair_make_conns(&p, dtls_cert_fingerprint(p.cert[1]), dtls_cert_fingerprint(p.cert[0]));
    assert_int_equal(dtls_conn_start(p.conn[0], p.now_us), 0);
    uint8_t buf[DTLS_MTU];
    int hellos = 0;
    for (int i = 0; i < 2000 && !p.failed[0]; i++) {
        while (dtls_conn_poll_transmit(p.conn[0], buf, sizeof buf) > 0) hellos++;
        uint64_t deadline = dtls_conn_poll_timeout(p.conn[0], p.now_us);
        if (deadline != UINT64_MAX && deadline > p.now_us) p.now_us = deadline;
        dtls_conn_handle_timeout(p.conn[0], p.now_us);
        pair_collect_events(&p);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    while (dtls_conn_poll_transmit(p.conn[0], buf, sizeof buf) > 0) hellos++;
    assert_true(p.failed[0]);
    assert_non_null(strstr(p.reason[0], "timed out"));
    assert_int_equal(hellos, 1 + DTLS_MAX_RETRANSMITS);
    assert_int_equal(dtls_conn_poll_timeout(p.conn[0], p.now_us), UINT64_MAX);
    pair_free(&p);
}

/* ---- application data and close -------------------------------------------------------- */

static void test_app_data_and_close(void **state)
{
    (void)state;
    pair p;
    pair_init(&p);
    uint8_t msg[1500], got[2048];
    assert_int_equal(dtls_conn_send_app(p.conn[0], msg, 10), J_ESTATE);
    assert_int_equal(dtls_conn_max_app_payload(p.conn[0]), 0);
    pair_handshake(&p);
    assert_true(p.connected[0] && p.connected[1]);

    size_t max = dtls_conn_max_app_payload(p.conn[0]);
    assert_true(max >= 1100 && max < DTLS_MTU);
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)i;
    assert_int_equal(dtls_conn_send_app(p.conn[0], msg, max + 1), J_EINVAL);
    assert_int_equal(dtls_conn_send_app(p.conn[0], msg, 0), J_EINVAL);
    assert_int_equal(dtls_conn_send_app(p.conn[0], msg, max), 0);
    assert_int_equal(dtls_conn_send_app(p.conn[0], msg + 1, 100), 0);
    assert_int_equal(dtls_conn_send_app(p.conn[1], msg + 2, 33), 0);
    pair_pump(&p);
    assert_int_equal(p.max_datagram <= DTLS_MTU, 1);

    assert_int_equal(dtls_conn_poll_app(p.conn[1], got, 50), J_ESHORTBUF);
    assert_int_equal(dtls_conn_poll_app(p.conn[1], got, sizeof got), (int)max);
    assert_memory_equal(got, msg, max);
    assert_int_equal(dtls_conn_poll_app(p.conn[1], got, sizeof got), 100);
    assert_memory_equal(got, msg + 1, 100);
    assert_int_equal(dtls_conn_poll_app(p.conn[1], got, sizeof got), 0);
    assert_int_equal(dtls_conn_poll_app(p.conn[0], got, sizeof got), 33);
    assert_memory_equal(got, msg + 2, 33);

    /* The transmit queue is bounded: sending without draining hits J_ELIMIT. */
    int sent = 0, rc;
    while ((rc = dtls_conn_send_app(p.conn[0], msg, 200)) == 0) sent++;
    assert_int_equal(rc, J_ELIMIT);
    assert_true(sent >= 8 && sent <= 64);
    pair_pump(&p);
    int delivered = 0;
    while (dtls_conn_poll_app(p.conn[1], got, sizeof got) == 200) delivered++;
    assert_int_equal(delivered, sent);

    /* close_notify reaches the peer as DTLS_EV_CLOSED. */
    assert_int_equal(dtls_conn_close(p.conn[0]), 0);
    assert_int_equal(dtls_conn_close(p.conn[0]), J_ESTATE);
    pair_pump(&p);
    assert_true(p.closed[1]);
    assert_false(p.failed[1]);
    assert_non_null(strstr(p.reason[1], "close_notify"));
    assert_int_equal(dtls_conn_send_app(p.conn[1], msg, 10), J_ESTATE);
    pair_free(&p);
}

/* Records after CONNECTED that fail authentication are silently dropped (RFC 6347 §4.1.2.7). */
static void test_tampered_app_record_dropped(void **state)
{
    (void)state;
    pair p;
    pair_init(&p);
    pair_handshake(&p);
    uint8_t msg[64] = {1, 2, 3}, dg[DTLS_MTU], got[128];
    assert_int_equal(dtls_conn_send_app(p.conn[0], msg, sizeof msg), 0);
    int n = dtls_conn_poll_transmit(p.conn[0], dg, sizeof dg);
    assert_true(n > 13);
    dg[n - 1] ^= 1;
    assert_int_equal(dtls_conn_handle_input(p.conn[1], p.now_us, dg, (size_t)n), 0);
    assert_int_equal(dtls_conn_poll_app(p.conn[1], got, sizeof got), 0);
    pair_collect_events(&p);
    assert_false(p.failed[1]);
    dg[n - 1] ^= 1;
    assert_int_equal(dtls_conn_handle_input(p.conn[1], p.now_us, dg, (size_t)n), 0);
    assert_int_equal(dtls_conn_poll_app(p.conn[1], got, sizeof got), (int)sizeof msg);
    /* A replay of the same record is dropped too. */
    assert_int_equal(dtls_conn_handle_input(p.conn[1], p.now_us, dg, (size_t)n), 0);
    assert_int_equal(dtls_conn_poll_app(p.conn[1], got, sizeof got), 0);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cert_generate),
        cmocka_unit_test(test_cert_load),
        cmocka_unit_test(test_handshake_gcm),
        cmocka_unit_test(test_handshake_aes_cm),
        cmocka_unit_test(test_handshake_without_srtp),
        cmocka_unit_test(test_handshake_other_fingerprint_forms),
        cmocka_unit_test(test_fingerprint_parsing),
        cmocka_unit_test(test_wrong_fingerprint_client_side),
        cmocka_unit_test(test_wrong_fingerprint_server_side),
        cmocka_unit_test(test_garbage_rejected),
        cmocka_unit_test(test_large_certificate_fragmented),
        cmocka_unit_test(test_lost_first_flight_recovered),
        cmocka_unit_test(test_lost_server_flight_recovered),
        cmocka_unit_test(test_lost_final_flight_recovered),
        cmocka_unit_test(test_silent_peer_times_out),
        cmocka_unit_test(test_app_data_and_close),
        cmocka_unit_test(test_tampered_app_record_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
