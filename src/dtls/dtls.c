/* dtls.c - DTLS-SRTP connections on OpenSSL 3 with memory I/O.
 *
 * Input: each received datagram is written alone into a memory BIO and the
 * BIO is emptied after OpenSSL has run, so datagram boundaries survive (DTLS
 * needs them: a record never spans datagrams).
 *
 * Output: a custom BIO receives OpenSSL's writes. During the handshake OpenSSL
 * puts a buffering BIO on top and flushes it once per datagram it has packed
 * to the MTU; afterwards each write is one record. Either way each write
 * becomes one or more queued datagrams, split only at record boundaries, and
 * the queue is a fixed ring so output is bounded.
 *
 * Memory: a connected conn is idle almost always (media goes through SRTP), so what only the
 * handshake or the rare post-handshake record needs is released while idle: OpenSSL's record
 * buffers (about 34 KiB: SSL_free_buffers, SSL_alloc_buffers before OpenSSL runs again) and
 * the transmit ring (19 KiB, allocated while it holds datagrams).
 */
#include "dtls/dtls_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/srtp.h>

#include "core/bytes.h"
#include "core/err.h"
#include "core/fingerprint.h"
#include "crypto/crypto.h"

/*
 * DTLS record header (RFC 6347 §4.1):
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  ContentType  |    ProtocolVersion (254.x)    |     epoch     |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |     epoch     |           sequence_number (48 bits)           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                               |            length             |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
#define REC_HDR_LEN 13
#define REC_LEN_OFF 11
#define CT_CHANGE_CIPHER_SPEC 20
#define CT_ALERT 21
#define CT_HANDSHAKE 22
#define CT_APPLICATION_DATA 23
#define DTLS_VERSION_MAJOR 0xFE

#define SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AEAD_AES_256_GCM:SRTP_AES128_CM_SHA1_80"
/* Forward-secret AEAD suites first; CBC-SHA only as a fallback for old stacks. ECDSA for our
 * own certificate, RSA so we can still be the client of a peer with an RSA certificate. */
#define CIPHER_LIST                                                                        \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                         \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"                           \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"                             \
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA"
#define GROUPS_LIST "X25519:P-256:P-384"
#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp"

#define OUT_SLOTS 16
/* Largest datagram we accept: a full 2^14 record plus worst-case expansion (RFC 6347
 * §4.1.2.1 allows 2^14 + 2048 ciphertext) and the header. */
#define MAX_INPUT_DATAGRAM (16384 + 2048 + REC_HDR_LEN)
#define APP_IN_CAP (32 * 1024)
#define APP_READ_MAX 16384
#define EVENT_SLOTS 4
/* OpenSSL 3.0 counts a timer with under 15 ms left as expired, so shorter RTOs would just
 * retransmit on every read. */
#define MIN_RTO_US 20000u

typedef enum {
    ST_NEW = 0,     /* created; client waits for start, server for a ClientHello */
    ST_HANDSHAKING, /* flights in progress */
    ST_CONNECTED,   /* handshake done, fingerprint verified */
    ST_CLOSED,      /* close_notify sent or received */
    ST_FAILED,      /* fatal error; terminal */
} conn_state;

typedef struct {
    uint16_t len;
    uint8_t data[DTLS_MTU];
} out_slot;

struct dtls_conn {
    SSL *ssl;
    BIO *rbio; /* owned by ssl */
    dtls_role role;
    conn_state state;
    uint32_t initial_rto_us, max_rto_us;
    unsigned timeouts; /* consecutive retransmission timeouts of the current flight */

    /* The peer certificate digest we accept, from the SDP. */
    const EVP_MD *fp_md;
    j_fingerprint fp; /* the peer's a=fingerprint: the only certificate accepted */
    bool fp_mismatch;

    /* Bounded transmit ring: OUT_SLOTS slots while it holds datagrams (or the handshake
     * runs), else NULL. */
    out_slot *out;
    unsigned out_head, out_count;
    bool out_open; /* the newest slot may still take records from the current write */
    uint64_t out_dropped;

    /* Received application datagrams: [u16 length][bytes] entries, compacted on demand. */
    uint8_t *app;
    size_t app_head, app_tail;
    uint64_t app_dropped;

    dtls_event events[EVENT_SLOTS];
    unsigned ev_head, ev_count;
    char alert[96];   /* last fatal alert sent or received, for the failure reason */
    char reason[160]; /* why the conn FAILED or CLOSED */
};

/* ---- fingerprints ---------------------------------------------------------------------- */

/* Decode "<hash-func> XX:XX:..." (RFC 8122 §5), surrounding whitespace allowed, into the
 * digest to pin and the OpenSSL digest that computes it. */
static int parse_fingerprint(const char *s, const EVP_MD **md, j_fingerprint *out)
{
    if (!s) return J_EINVAL;
    s += strspn(s, " \t");
    size_t alg_len = strcspn(s, " \t");
    const char *value = s + alg_len;
    value += strspn(value, " \t");
    size_t value_len = strcspn(value, " \t\r\n");
    if (value[value_len + strspn(value + value_len, " \t\r\n")] != '\0') return J_EMALFORMED;
    int rc = j_fingerprint_parse(s, alg_len, value, value_len, out, NULL, 0);
    if (rc != J_OK) return rc;
    switch (out->hash) {
    case J_FP_SHA1: *md = EVP_sha1(); break;
    case J_FP_SHA256: *md = EVP_sha256(); break;
    case J_FP_SHA384: *md = EVP_sha384(); break;
    case J_FP_SHA512: *md = EVP_sha512(); break;
    }
    return J_OK;
}

static bool fingerprint_matches(const dtls_conn *c, X509 *peer)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!peer || X509_digest(peer, c->fp_md, md, &md_len) != 1) return false;
    return md_len == c->fp.len && j_ct_equal(md, c->fp.digest, md_len);
}

/* ---- events ---------------------------------------------------------------------------- */

static void push_event(dtls_conn *c, dtls_event ev)
{
    if (c->ev_count == EVENT_SLOTS) return; /* cannot happen: at most 2 per conn's life */
    c->events[(c->ev_head + c->ev_count) % EVENT_SLOTS] = ev;
    c->ev_count++;
}

static void fail(dtls_conn *c, const char *why)
{
    if (c->state == ST_FAILED || c->state == ST_CLOSED) return;
    c->state = ST_FAILED;
    snprintf(c->reason, sizeof c->reason, "%s", why);
    push_event(c, DTLS_EV_FAILED);
}

/* Describe why OpenSSL gave up, most specific cause first. */
static void fail_from_openssl(dtls_conn *c, const char *what)
{
    char buf[sizeof c->reason];
    unsigned long e = ERR_peek_last_error();
    if (c->fp_mismatch) {
        snprintf(buf, sizeof buf, "peer certificate fingerprint mismatch");
    } else if (c->alert[0]) {
        snprintf(buf, sizeof buf, "%s: %s", what, c->alert);
    } else if (e) {
        char err[120];
        ERR_error_string_n(e, err, sizeof err);
        snprintf(buf, sizeof buf, "%s: %s", what, err);
    } else {
        snprintf(buf, sizeof buf, "%s", what);
    }
    fail(c, buf);
}

/* ---- memory of an idle connection ----------------------------------------------------- */

/* Before OpenSSL runs on a conn whose buffers release_idle may have freed. */
static bool acquire_buffers(dtls_conn *c)
{
    if (c->state == ST_NEW || c->state == ST_HANDSHAKING) return true; /* never released */
    if (SSL_alloc_buffers(c->ssl) == 1) return true;
    ERR_clear_error();
    return false;
}

/* After each call that may have run OpenSSL or drained the ring: past the handshake, free
 * what only a next record needs. SSL_free_buffers keeps buffers that still hold data. */
static void release_idle(dtls_conn *c)
{
    if (c->state == ST_NEW || c->state == ST_HANDSHAKING) return;
    (void)SSL_free_buffers(c->ssl);
    if (c->out_count == 0) {
        free(c->out);
        c->out = NULL;
        c->out_head = 0;
        c->out_open = false;
    }
}

/* ---- transmit queue and output BIO ----------------------------------------------------- */

static unsigned out_free_slots(const dtls_conn *c) { return OUT_SLOTS - c->out_count; }

/* Append one unit (a record, or bytes we could not split) to the queue. */
static void out_push_unit(dtls_conn *c, const uint8_t *p, size_t n)
{
    if (n > DTLS_MTU) { /* OpenSSL fragments to the MTU we set; never expected */
        c->out_dropped++;
        c->out_open = false;
        return;
    }
    if (c->out_open && c->out_count > 0) {
        out_slot *last = &c->out[(c->out_head + c->out_count - 1) % OUT_SLOTS];
        if (last->len + n <= DTLS_MTU) {
            memcpy(last->data + last->len, p, n);
            last->len = (uint16_t)(last->len + n);
            return;
        }
    }
    if (!c->out) c->out = malloc(OUT_SLOTS * sizeof *c->out);
    if (!c->out || c->out_count == OUT_SLOTS) { /* drop, as a congested UDP path would */
        c->out_dropped++;
        c->out_open = false;
        return;
    }
    out_slot *s = &c->out[(c->out_head + c->out_count) % OUT_SLOTS];
    memcpy(s->data, p, n);
    s->len = (uint16_t)n;
    c->out_count++;
    c->out_open = true;
}

/* One BIO write from OpenSSL: records meant to share a datagram. Split at record boundaries
 * so no datagram exceeds DTLS_MTU even if a write ever did. */
static void out_push_write(dtls_conn *c, const uint8_t *p, size_t n)
{
    c->out_open = false; /* a new write starts a new datagram */
    while (n > 0) {
        size_t unit = n;
        if (n >= REC_HDR_LEN) {
            size_t rec = REC_HDR_LEN + (size_t)rd_be16(p + REC_LEN_OFF);
            if (rec <= n) unit = rec;
        }
        out_push_unit(c, p, unit);
        p += unit;
        n -= unit;
    }
    c->out_open = false;
}

static int out_bio_write(BIO *b, const char *data, int len)
{
    dtls_conn *c = BIO_get_data(b);
    if (!c || len < 0) return -1;
    out_push_write(c, (const uint8_t *)data, (size_t)len);
    return len; /* always "sent": an overflow is a drop, like UDP */
}

static long out_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING: return 0; /* nothing buffered: writes are queued at once */
    default: return 0; /* no MTU query, no overhead, no peer address: we are not a socket */
    }
}

static int out_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *g_out_method;
static pthread_once_t g_out_once = PTHREAD_ONCE_INIT;

/* The method lives for the process (BIOs of freed conns reference it until freed). */
static void out_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "junction-dtls-out");
    if (!m) return;
    if (!BIO_meth_set_write(m, out_bio_write) || !BIO_meth_set_ctrl(m, out_bio_ctrl) ||
        !BIO_meth_set_create(m, out_bio_create)) {
        BIO_meth_free(m);
        return;
    }
    g_out_method = m;
}

/* ---- received application data --------------------------------------------------------- */

static void app_push(dtls_conn *c, const uint8_t *p, size_t n)
{
    if (n == 0) return; /* nothing to deliver; 0 means "none" to poll_app */
    if (!c->app) {
        c->app = malloc(APP_IN_CAP);
        if (!c->app) {
            c->app_dropped++;
            return;
        }
    }
    if (APP_IN_CAP - c->app_tail < n + 2 && c->app_head > 0) {
        memmove(c->app, c->app + c->app_head, c->app_tail - c->app_head);
        c->app_tail -= c->app_head;
        c->app_head = 0;
    }
    if (APP_IN_CAP - c->app_tail < n + 2) {
        c->app_dropped++;
        return;
    }
    wr_be16(c->app + c->app_tail, (uint16_t)n);
    memcpy(c->app + c->app_tail + 2, p, n);
    c->app_tail += n + 2;
}

/* ---- OpenSSL callbacks ----------------------------------------------------------------- */

/* Replaces chain verification: the only trust anchor is the SDP fingerprint. */
static int verify_peer_cb(X509_STORE_CTX *store, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    dtls_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    if (!c || !leaf || !fingerprint_matches(c, leaf)) {
        if (c) c->fp_mismatch = true;
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
        return 0; /* OpenSSL sends a fatal alert and fails the handshake */
    }
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_ALERT)) return;
    dtls_conn *c = SSL_get_app_data(ssl);
    if (!c || (ret >> 8) != SSL3_AL_FATAL) return;
    snprintf(c->alert, sizeof c->alert, "%s fatal alert %s",
             (where & SSL_CB_READ) ? "received" : "sent", SSL_alert_desc_string_long(ret));
}

/* Retransmission schedule: OpenSSL asks with prev_us == 0 when a flight starts its timer and
 * with the previous duration after each expiry. */
static unsigned int timer_cb(SSL *ssl, unsigned int prev_us)
{
    dtls_conn *c = SSL_get_app_data(ssl);
    uint32_t initial = c ? c->initial_rto_us : DTLS_DEFAULT_INITIAL_RTO_US;
    if (prev_us == 0) {
        if (c) c->timeouts = 0;
        return initial;
    }
    if (c) c->timeouts++;
    uint32_t max = c ? c->max_rto_us : DTLS_MAX_RTO_US;
    uint64_t next = (uint64_t)prev_us * 2;
    return next > max ? max : (unsigned int)next;
}

/* ---- context --------------------------------------------------------------------------- */

dtls_ctx *dtls_ctx_new(const dtls_cert *cert)
{
    if (!cert || !cert->x509 || !cert->key) return NULL;
    dtls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->initial_rto_us = DTLS_DEFAULT_INITIAL_RTO_US;
    ctx->max_rto_us = DTLS_MAX_RTO_US;
    SSL_CTX *s = ctx->ssl = SSL_CTX_new(DTLS_method());
    if (!s) goto fail;
    /* No tickets or session cache: WebRTC never resumes, and each peer has its own
     * fingerprint. No renegotiation. We set the MTU ourselves: there is no socket. */
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET | SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_min_proto_version(s, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate(s, cert->x509) != 1 || SSL_CTX_use_PrivateKey(s, cert->key) != 1 ||
        SSL_CTX_check_private_key(s) != 1 || SSL_CTX_set_cipher_list(s, CIPHER_LIST) != 1 ||
        SSL_CTX_set1_groups_list(s, GROUPS_LIST) != 1 ||
        SSL_CTX_set_tlsext_use_srtp(s, SRTP_PROFILES) != 0) /* 0 means success here */
        goto fail;
    /* Ask for the peer's certificate (the server must, to learn the client's); accept any
     * chain and pin the leaf to the SDP fingerprint in verify_peer_cb. ECDH groups are
     * negotiated automatically in OpenSSL 3 (set_ecdh_auto is a no-op). */
    SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(s, verify_peer_cb, NULL);
    /* DTLS reads whole datagrams; read-ahead lets OpenSSL take all records of one. */
    SSL_CTX_set_read_ahead(s, 1);
    SSL_CTX_set_info_callback(s, info_cb);
    ERR_clear_error();
    return ctx;
fail:
    ERR_clear_error();
    dtls_ctx_free(ctx);
    return NULL;
}

void dtls_ctx_set_initial_rto(dtls_ctx *ctx, uint32_t rto_us)
{
    if (!ctx) return;
    if (rto_us < MIN_RTO_US) rto_us = MIN_RTO_US;
    if (rto_us > DTLS_MAX_RTO_US) rto_us = DTLS_MAX_RTO_US;
    ctx->initial_rto_us = rto_us;
}

void dtls_ctx_free(dtls_ctx *ctx)
{
    if (!ctx) return;
    SSL_CTX_free(ctx->ssl); /* reference-counted: live conns keep it */
    free(ctx);
}

/* ---- connection ------------------------------------------------------------------------ */

dtls_conn *dtls_conn_new(dtls_ctx *ctx, dtls_role role, const char *remote_fingerprint)
{
    if (!ctx || (role != DTLS_ROLE_CLIENT && role != DTLS_ROLE_SERVER)) return NULL;
    pthread_once(&g_out_once, out_method_init);
    if (!g_out_method) return NULL;
    dtls_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->role = role;
    c->initial_rto_us = ctx->initial_rto_us;
    c->max_rto_us = ctx->max_rto_us;
    if (parse_fingerprint(remote_fingerprint, &c->fp_md, &c->fp) != 0) goto fail;

    c->ssl = SSL_new(ctx->ssl);
    if (!c->ssl) goto fail;
    SSL_set_app_data(c->ssl, c);
    BIO *rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(g_out_method);
    if (!rbio || !wbio) {
        BIO_free(rbio);
        BIO_free(wbio);
        goto fail;
    }
    BIO_set_mem_eof_return(rbio, -1); /* empty means "would block", not EOF */
    BIO_set_data(wbio, c);
    SSL_set_bio(c->ssl, rbio, wbio); /* ssl owns both now */
    c->rbio = rbio;
    if (SSL_set_mtu(c->ssl, DTLS_MTU) <= 0) goto fail; /* returns the MTU set */
    DTLS_set_timer_cb(c->ssl, timer_cb);
    if (role == DTLS_ROLE_CLIENT)
        SSL_set_connect_state(c->ssl);
    else
        SSL_set_accept_state(c->ssl);
    ERR_clear_error();
    return c;
fail:
    ERR_clear_error();
    dtls_conn_free(c);
    return NULL;
}

void dtls_conn_free(dtls_conn *c)
{
    if (!c) return;
    SSL_free(c->ssl);
    free(c->out);
    free(c->app);
    OPENSSL_cleanse(c, sizeof *c); /* the queues held plaintext */
    free(c);
}

static void on_handshake_done(dtls_conn *c)
{
    /* verify_peer_cb already pinned the certificate; check again on the final state so a
     * path that skipped the callback could never yield CONNECTED. */
    X509 *peer = SSL_get0_peer_certificate(c->ssl);
    if (!fingerprint_matches(c, peer)) {
        c->fp_mismatch = true;
        fail(c, "peer certificate fingerprint mismatch");
        return;
    }
    c->state = ST_CONNECTED;
    push_event(c, DTLS_EV_CONNECTED);
}

static void drive_handshake(dtls_conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        on_handshake_done(c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
    fail_from_openssl(c, "handshake failed");
}

/* Drain every record OpenSSL can decrypt from the current datagram. */
static void read_app(dtls_conn *c)
{
    uint8_t buf[APP_READ_MAX];
    while (c->state == ST_CONNECTED) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, sizeof buf);
        if (r > 0) {
            app_push(c, buf, (size_t)r);
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            c->state = ST_CLOSED;
            snprintf(c->reason, sizeof c->reason, "peer sent close_notify");
            push_event(c, DTLS_EV_CLOSED);
            (void)SSL_shutdown(c->ssl); /* answer with our close_notify */
            break;
        }
        fail_from_openssl(c, "connection failed");
    }
}

/* Cheap screening before OpenSSL: every record header in the datagram must be plausible. */
static int check_datagram(const uint8_t *buf, size_t len, bool connected)
{
    size_t off = 0;
    if (len < REC_HDR_LEN) return J_EMALFORMED;
    if (!connected && buf[0] == CT_APPLICATION_DATA) return J_ESTATE;
    while (off < len) {
        if (len - off < REC_HDR_LEN) return J_EMALFORMED;
        uint8_t type = buf[off];
        if (type < CT_CHANGE_CIPHER_SPEC || type > CT_APPLICATION_DATA) return J_EMALFORMED;
        if (buf[off + 1] != DTLS_VERSION_MAJOR) return J_EMALFORMED;
        size_t rec = REC_HDR_LEN + (size_t)rd_be16(buf + off + REC_LEN_OFF);
        if (rec > len - off) return J_EMALFORMED;
        off += rec;
    }
    return J_OK;
}

int dtls_conn_start(dtls_conn *c, uint64_t now_us)
{
    (void)now_us;
    if (!c) return J_EINVAL;
    if (c->role == DTLS_ROLE_SERVER) return J_OK;
    if (c->state != ST_NEW) return J_ESTATE;
    c->state = ST_HANDSHAKING;
    drive_handshake(c);
    return J_OK;
}

int dtls_conn_handle_input(dtls_conn *c, uint64_t now_us, const uint8_t *buf, size_t len)
{
    (void)now_us; /* OpenSSL keeps its own clock; see dtls.h */
    if (!c || (!buf && len)) return J_EINVAL;
    if (c->state == ST_FAILED || c->state == ST_CLOSED) return J_ESTATE;
    if (c->state == ST_NEW && c->role == DTLS_ROLE_CLIENT) return J_ESTATE;
    if (len > MAX_INPUT_DATAGRAM) return J_ELIMIT;
    int rc = check_datagram(buf, len, c->state == ST_CONNECTED);
    if (rc != 0) return rc;

    if (!acquire_buffers(c)) return J_ENOMEM;
    if (BIO_write(c->rbio, buf, (int)len) != (int)len) {
        ERR_clear_error();
        return J_ENOMEM;
    }
    if (c->state == ST_NEW) c->state = ST_HANDSHAKING;
    if (c->state == ST_HANDSHAKING) drive_handshake(c);
    /* Records after the Finished in the same datagram, or post-handshake traffic. */
    if (c->state == ST_CONNECTED) read_app(c);
    (void)BIO_reset(c->rbio); /* never let leftovers merge with the next datagram */
    ERR_clear_error();
    release_idle(c);
    return J_OK;
}

uint64_t dtls_conn_poll_timeout(dtls_conn *c, uint64_t now_us)
{
    if (!c || (c->state != ST_HANDSHAKING && c->state != ST_CONNECTED)) return UINT64_MAX;
    struct timeval tv;
    if (DTLSv1_get_timeout(c->ssl, &tv) != 1) return UINT64_MAX;
    uint64_t left = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
    return left > UINT64_MAX - now_us ? UINT64_MAX : now_us + left;
}

int dtls_conn_handle_timeout(dtls_conn *c, uint64_t now_us)
{
    (void)now_us; /* expiry is judged by OpenSSL against the wall clock; see dtls.h */
    if (!c || (c->state != ST_HANDSHAKING && c->state != ST_CONNECTED)) return J_OK;
    struct timeval tv;
    if (c->state == ST_HANDSHAKING && c->timeouts >= DTLS_MAX_RETRANSMITS &&
        DTLSv1_get_timeout(c->ssl, &tv) == 1 && tv.tv_sec == 0 && tv.tv_usec == 0) {
        /* The last retransmission went unanswered too: give up instead of sending more. */
        fail(c, "handshake timed out: no answer from peer");
        return J_OK;
    }
    if (!acquire_buffers(c)) return J_ENOMEM;
    ERR_clear_error();
    if (DTLSv1_handle_timeout(c->ssl) < 0) fail_from_openssl(c, "handshake timed out");
    ERR_clear_error();
    release_idle(c);
    return J_OK;
}

int dtls_conn_poll_transmit(dtls_conn *c, uint8_t *out, size_t cap)
{
    if (!c || (!out && cap)) return J_EINVAL;
    if (c->out_count == 0) return 0;
    out_slot *s = &c->out[c->out_head];
    if (cap < s->len) return J_ESHORTBUF;
    size_t n = s->len;
    memcpy(out, s->data, n);
    c->out_head = (c->out_head + 1) % OUT_SLOTS;
    c->out_count--;
    if (c->out_count == 0) c->out_open = false;
    release_idle(c);
    return (int)n;
}

dtls_event dtls_conn_poll_event(dtls_conn *c, const char **reason)
{
    if (reason) *reason = NULL;
    if (!c || c->ev_count == 0) return DTLS_EV_NONE;
    dtls_event ev = c->events[c->ev_head];
    c->ev_head = (c->ev_head + 1) % EVENT_SLOTS;
    c->ev_count--;
    if (reason && (ev == DTLS_EV_FAILED || ev == DTLS_EV_CLOSED)) *reason = c->reason;
    return ev;
}

bool dtls_conn_is_connected(const dtls_conn *c)
{
    return c && c->state == ST_CONNECTED;
}

int dtls_conn_srtp_keys(dtls_conn *c, dtls_srtp_keys *out)
{
    if (!c || !out) return J_EINVAL;
    if (c->state != ST_CONNECTED) return J_ESTATE;
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(c->ssl);
    if (!p) return J_ENOTFOUND;
    j_srtp_profile profile;
    switch (p->id) {
    case SRTP_AES128_CM_SHA1_80: profile = J_SRTP_PROFILE_AES128_CM_SHA1_80; break;
    case SRTP_AEAD_AES_128_GCM: profile = J_SRTP_PROFILE_AEAD_AES_128_GCM; break;
    case SRTP_AEAD_AES_256_GCM: profile = J_SRTP_PROFILE_AEAD_AES_256_GCM; break;
    default: return J_EUNSUPPORTED; /* we never offer others */
    }
    const size_t key = j_srtp_profile_master_key_len(profile);
    const size_t salt = j_srtp_profile_salt_len(profile);
    /* RFC 5764 §4.2: client_write_key | server_write_key | client_write_salt |
     * server_write_salt. */
    uint8_t km[2 * J_SRTP_MAX_KEY_SALT_LEN];
    ERR_clear_error();
    if (SSL_export_keying_material(c->ssl, km, 2 * (key + salt), EXPORTER_LABEL,
                                   strlen(EXPORTER_LABEL), NULL, 0, 0) != 1) {
        ERR_clear_error();
        return J_ECRYPTO;
    }
    const uint8_t *client_key = km, *server_key = km + key;
    const uint8_t *client_salt = km + 2 * key, *server_salt = km + 2 * key + salt;
    bool client = c->role == DTLS_ROLE_CLIENT;
    memset(out, 0, sizeof *out);
    out->profile = profile;
    out->len = key + salt;
    memcpy(out->local, client ? client_key : server_key, key);
    memcpy(out->local + key, client ? client_salt : server_salt, salt);
    memcpy(out->remote, client ? server_key : client_key, key);
    memcpy(out->remote + key, client ? server_salt : client_salt, salt);
    OPENSSL_cleanse(km, sizeof km);
    return J_OK;
}

size_t dtls_conn_max_app_payload(const dtls_conn *c)
{
    if (!c || c->state != ST_CONNECTED) return 0;
    size_t mtu = DTLS_get_data_mtu(c->ssl);
    return mtu > APP_READ_MAX ? APP_READ_MAX : mtu;
}

int dtls_conn_send_app(dtls_conn *c, const uint8_t *buf, size_t len)
{
    if (!c || (!buf && len)) return J_EINVAL;
    if (c->state != ST_CONNECTED) return J_ESTATE;
    if (len == 0 || len > dtls_conn_max_app_payload(c)) return J_EINVAL;
    if (out_free_slots(c) == 0) return J_ELIMIT;
    if (!acquire_buffers(c)) return J_ENOMEM;
    ERR_clear_error();
    int r = SSL_write(c->ssl, buf, (int)len);
    int rc = J_OK;
    if (r != (int)len) {
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
            fail_from_openssl(c, "send failed");
        ERR_clear_error();
        rc = J_ECRYPTO;
    }
    release_idle(c);
    return rc;
}

int dtls_conn_poll_app(dtls_conn *c, uint8_t *out, size_t cap)
{
    if (!c || (!out && cap)) return J_EINVAL;
    if (!c->app || c->app_head == c->app_tail) return 0;
    size_t n = rd_be16(c->app + c->app_head);
    if (cap < n) return J_ESHORTBUF;
    memcpy(out, c->app + c->app_head + 2, n);
    c->app_head += n + 2;
    if (c->app_head == c->app_tail) c->app_head = c->app_tail = 0;
    return (int)n;
}

int dtls_conn_close(dtls_conn *c)
{
    if (!c) return J_EINVAL;
    if (c->state == ST_CLOSED || c->state == ST_FAILED) return J_ESTATE;
    if (c->state == ST_CONNECTED && acquire_buffers(c)) {
        ERR_clear_error();
        (void)SSL_shutdown(c->ssl); /* queues close_notify; we do not wait for the peer's */
        ERR_clear_error();
    }
    c->state = ST_CLOSED;
    release_idle(c);
    return J_OK;
}
