/* srtp.h - SRTP and SRTCP (RFC 3711, RFC 7714) for one direction of one DTLS-SRTP session.
 *
 * Narrow on purpose: today libsrtp2 does the work, later an OpenSSL-based transform will,
 * so no libsrtp type appears here. libsrtp2 owns the srtp_ prefix, hence j_srtp_.
 *
 * One j_srtp covers RTP and RTCP for every SSRC in one direction: an OUTBOUND session
 * protects what we send with our master key (dtls_srtp_keys.local), an INBOUND session
 * unprotects what the peer sends (dtls_srtp_keys.remote). Streams are created per SSRC
 * on first use. Inbound replay window: J_SRTP_REPLAY_WINDOW packets per SSRC. Outbound
 * allows repeating an index, so a packet resent with the same sequence number (NACK
 * answered by resending, RTX) protects again instead of failing.
 *
 * Packets are transformed in place. Not thread-safe per session; no allocation on the
 * per-packet path except once per new SSRC.
 */
#ifndef J_SRTP_SRTP_H
#define J_SRTP_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "dtls/srtp_profile.h" /* j_srtp_profile: shared with the dtls module, see there */

typedef struct j_srtp j_srtp;

typedef enum {
    J_SRTP_INBOUND = 0,  /* unprotect what the peer sent */
    J_SRTP_OUTBOUND = 1, /* protect what we send */
} j_srtp_direction;

/* Bytes protect may append: SRTCP with AEAD-GCM adds a 16-byte tag and the 4-byte E|index
 * (no MKI is ever used). Reserve this much capacity beyond every packet. */
#define J_SRTP_MAX_TRAILER 20
#define J_SRTP_REPLAY_WINDOW 1024

/* j_srtp_global_init - initialise the backend once per process (thread-safe, idempotent;
 * j_srtp_new calls it too). Returns 0 or J_ECRYPTO. */
int j_srtp_global_init(void);

/* j_srtp_new - a session for profile p keyed with master key || master salt (len must be
 * j_srtp_profile_key_salt_len(p): 30 for AES-CM, 28 for GCM). NULL on bad arguments or
 * failure. The key is copied; the caller may wipe it. */
j_srtp *j_srtp_new(j_srtp_profile p, const uint8_t *key_salt, size_t len, j_srtp_direction dir);

void j_srtp_free(j_srtp *s);

/* j_srtp_rtp_overhead / j_srtp_rtcp_overhead - bytes protect adds for this profile. */
size_t j_srtp_rtp_overhead(j_srtp_profile p);
size_t j_srtp_rtcp_overhead(j_srtp_profile p);

/* j_srtp_protect_rtp - encrypt and authenticate the RTP packet buf[0..len) in place; cap is
 * the buffer's size and must leave room for the trailer. Returns the SRTP length,
 * J_ESHORTBUF, J_ESTATE (inbound session), J_EMALFORMED (not a valid RTP header),
 * J_ELIMIT (key exhausted), J_ECRYPTO. */
int j_srtp_protect_rtp(j_srtp *s, uint8_t *buf, size_t len, size_t cap);

/* j_srtp_unprotect_rtp - verify and decrypt an SRTP packet in place. Returns the RTP
 * length, J_EAUTH (forged/corrupt), J_EREPLAY (already seen or older than the window),
 * J_ESHORT, J_EMALFORMED, J_ESTATE (outbound session), J_ECRYPTO. */
int j_srtp_unprotect_rtp(j_srtp *s, uint8_t *buf, size_t len);

/* The same for SRTCP (compound packets as a whole). */
int j_srtp_protect_rtcp(j_srtp *s, uint8_t *buf, size_t len, size_t cap);
int j_srtp_unprotect_rtcp(j_srtp *s, uint8_t *buf, size_t len);

#endif
