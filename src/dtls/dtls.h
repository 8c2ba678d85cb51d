/* dtls.h - DTLS 1.2 for DTLS-SRTP (RFC 5763, RFC 5764) on OpenSSL 3, sans-I/O.
 *
 * One dtls_ctx (certificate, cipher and SRTP profile policy) is shared by all
 * connections; one dtls_conn runs the handshake with one peer. No sockets: the
 * caller feeds received datagrams to dtls_conn_handle_input() and sends every
 * datagram dtls_conn_poll_transmit() hands out (each at most DTLS_MTU bytes).
 *
 * Trust: certificates are self-signed. The peer's certificate is accepted iff
 * its digest equals the a=fingerprint from the peer's SDP (constant-time
 * compare); a mismatch aborts the handshake with a bad_certificate alert.
 *
 * Clock: the module never reads the clock for its own logic, but OpenSSL 3.0's
 * DTLS retransmission timer does. OpenSSL stamps the timer with gettimeofday()
 * when it sends a flight and decides expiry against gettimeofday(), and it has
 * no API to inject time or to force a retransmission (DTLS_set_timer_cb only
 * chooses the timer's *duration*). So dtls_conn_poll_timeout() converts
 * OpenSSL's remaining wall-clock time into a deadline on the caller's now_us
 * scale, and dtls_conn_handle_timeout() retransmits only once that wall-clock
 * time has really passed. With now_us from a monotonic clock both agree; a
 * test on a virtual clock must let real time pass to see a retransmission
 * (dtls_ctx_set_initial_rto() keeps that short). We do use DTLS_set_timer_cb:
 * it sets the retransmission schedule (initial RTO, doubling, capped) and
 * counts timeouts so a dead peer fails the handshake in bounded time.
 *
 * Not thread-safe per connection; distinct connections (even sharing one ctx)
 * may be used from different threads.
 */
#ifndef J_DTLS_DTLS_H
#define J_DTLS_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtls/srtp_profile.h"

/* Largest datagram handed out by dtls_conn_poll_transmit() (UDP payload). */
#define DTLS_MTU 1200
/* Longest fingerprint string: "sha-512 " + 64 "XX" pairs joined by ':' + NUL. */
#define DTLS_FINGERPRINT_MAX (8 + 64 * 3)
/* Default first retransmission timeout; doubles per timeout up to DTLS_MAX_RTO_US. */
#define DTLS_DEFAULT_INITIAL_RTO_US 500000u
#define DTLS_MAX_RTO_US 8000000u
/* After this many unanswered retransmissions of one flight, the next expiry fails the
 * handshake (about 40 s with the default schedule). */
#define DTLS_MAX_RETRANSMITS 8

typedef struct dtls_cert dtls_cert;
typedef struct dtls_ctx dtls_ctx;
typedef struct dtls_conn dtls_conn;

typedef enum {
    DTLS_ROLE_CLIENT = 0, /* a=setup:active: sends the ClientHello */
    DTLS_ROLE_SERVER = 1, /* a=setup:passive: waits for it */
} dtls_role;

typedef enum {
    DTLS_EV_NONE = 0,
    DTLS_EV_CONNECTED, /* handshake done and the peer's fingerprint matched */
    DTLS_EV_FAILED,    /* terminal: mismatch, handshake failure, fatal alert, timeout */
    DTLS_EV_CLOSED,    /* terminal: the peer sent close_notify */
} dtls_event;

/* The SRTP master keys exported after the handshake (RFC 5764 §4.2). */
typedef struct {
    j_srtp_profile profile;
    size_t len;                              /* bytes used in local and remote */
    uint8_t local[J_SRTP_MAX_KEY_SALT_LEN];  /* master key || salt we protect with */
    uint8_t remote[J_SRTP_MAX_KEY_SALT_LEN]; /* master key || salt we unprotect with */
} dtls_srtp_keys;

/* ---- certificates ---------------------------------------------------------------------- */

/* dtls_cert_generate - a fresh self-signed ECDSA P-256 certificate (SHA-256 signature,
 * random positive 64-bit serial, random CN, valid from 30 days ago to 365 days ahead).
 * Returns 0 and *out, or J_ECRYPTO / J_ENOMEM. */
int dtls_cert_generate(dtls_cert **out);

/* dtls_cert_load - a certificate and its unencrypted private key from PEM files.
 * Returns 0, J_EIO (unreadable file), J_EMALFORMED (not PEM / key does not match). */
int dtls_cert_load(dtls_cert **out, const char *cert_pem_path, const char *key_pem_path);

/* dtls_cert_fingerprint - "sha-256 AB:CD:..." (upper-case hex) for the SDP a=fingerprint.
 * Valid until dtls_cert_free(). */
const char *dtls_cert_fingerprint(const dtls_cert *c);

void dtls_cert_free(dtls_cert *c);

/* ---- shared context -------------------------------------------------------------------- */

/* dtls_ctx_new - DTLS 1.2 context presenting cert; cert may be freed afterwards.
 * SRTP profiles offered/accepted, in order of preference: AEAD_AES_128_GCM, AEAD_AES_256_GCM,
 * AES128_CM_SHA1_80.
 * Returns NULL on failure. */
dtls_ctx *dtls_ctx_new(const dtls_cert *cert);

/* dtls_ctx_set_initial_rto - first retransmission timeout for connections created
 * afterwards (clamped to 20 ms .. DTLS_MAX_RTO_US). */
void dtls_ctx_set_initial_rto(dtls_ctx *ctx, uint32_t rto_us);

/* dtls_ctx_free - connections hold their own references; they may outlive the ctx. */
void dtls_ctx_free(dtls_ctx *ctx);

/* ---- connections ----------------------------------------------------------------------- */

/* dtls_conn_new - a connection that will accept only a peer certificate whose digest is
 * remote_fingerprint ("<hash> XX:XX:..", hash one of sha-1, sha-256, sha-384, sha-512,
 * case-insensitive hex). Returns NULL if the fingerprint is malformed or on failure. */
dtls_conn *dtls_conn_new(dtls_ctx *ctx, dtls_role role, const char *remote_fingerprint);

void dtls_conn_free(dtls_conn *c);

/* dtls_conn_start - client: queue the ClientHello. Server: no-op (it waits for one).
 * Returns 0, or J_ESTATE if already started. */
int dtls_conn_start(dtls_conn *c, uint64_t now_us);

/* dtls_conn_handle_input - feed one received datagram (must be a DTLS datagram, RFC 7983
 * first byte 20..63). Outcomes surface through poll_event/poll_transmit/poll_app.
 * Returns 0 when processed, J_EMALFORMED (not a DTLS record), J_ESTATE (client not started,
 * conn closed/failed, or application data before the handshake completed: dropped),
 * J_ELIMIT (larger than any legitimate datagram). */
int dtls_conn_handle_input(dtls_conn *c, uint64_t now_us, const uint8_t *buf, size_t len);

/* dtls_conn_poll_timeout - absolute deadline (now_us scale) at which handle_timeout should
 * be called, UINT64_MAX if no retransmission timer runs. See the clock note above. */
uint64_t dtls_conn_poll_timeout(dtls_conn *c, uint64_t now_us);

/* dtls_conn_handle_timeout - retransmit the last flight if OpenSSL's timer expired; after
 * DTLS_MAX_RETRANSMITS the handshake fails (DTLS_EV_FAILED). Returns 0. */
int dtls_conn_handle_timeout(dtls_conn *c, uint64_t now_us);

/* dtls_conn_poll_transmit - copy the next datagram to send into out. Returns its length,
 * 0 when nothing is queued, J_ESHORTBUF if cap is too small (the datagram stays queued).
 * Keep draining after DTLS_EV_FAILED/CLOSED: the queue may hold an alert for the peer.
 * At most 16 datagrams are queued; beyond that new ones are dropped like UDP loss. */
int dtls_conn_poll_transmit(dtls_conn *c, uint8_t *out, size_t cap);

/* dtls_conn_poll_event - next event, DTLS_EV_NONE when none. *reason (if reason is
 * non-NULL) gets a human-readable cause for FAILED/CLOSED, NULL otherwise; it stays
 * valid until dtls_conn_free(). */
dtls_event dtls_conn_poll_event(dtls_conn *c, const char **reason);

bool dtls_conn_is_connected(const dtls_conn *c);

/* dtls_conn_srtp_keys - negotiated profile and SRTP master keys, split by our role.
 * Returns 0, J_ESTATE (not connected), J_ENOTFOUND (peer negotiated no SRTP profile, e.g.
 * data channels only), J_ECRYPTO (export failed). */
int dtls_conn_srtp_keys(dtls_conn *c, dtls_srtp_keys *out);

/* dtls_conn_max_app_payload - largest buffer dtls_conn_send_app accepts (one record per
 * datagram within DTLS_MTU), 0 before the handshake completes. */
size_t dtls_conn_max_app_payload(const dtls_conn *c);

/* dtls_conn_send_app - encrypt one application datagram (SCTP packet) as one record.
 * Returns 0, J_ESTATE (not connected), J_EINVAL (len 0 or above max_app_payload),
 * J_ELIMIT (transmit queue full: drain poll_transmit first), J_ECRYPTO. */
int dtls_conn_send_app(dtls_conn *c, const uint8_t *buf, size_t len);

/* dtls_conn_poll_app - next received application datagram. Returns its length, 0 when
 * none, J_ESHORTBUF if cap is too small (it stays queued). Up to 32 KiB are buffered;
 * beyond that received application data is dropped (SCTP retransmits). */
int dtls_conn_poll_app(dtls_conn *c, uint8_t *out, size_t cap);

/* dtls_conn_close - send close_notify (poll_transmit it) and stop. Returns 0 or J_ESTATE. */
int dtls_conn_close(dtls_conn *c);

/* dtls_is_dtls - RFC 7983 demultiplexing: true if the datagram's first byte is 20..63. */
static inline bool dtls_is_dtls(const uint8_t *buf, size_t len)
{
    return len > 0 && buf[0] >= 20 && buf[0] <= 63;
}

#endif
