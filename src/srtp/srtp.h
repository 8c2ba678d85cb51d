/* srtp.h - SRTP and SRTCP (RFC 3711, RFC 7714) for one direction of one DTLS-SRTP session.
 *
 * Our own transform on OpenSSL 3 EVP (libsrtp2 owns the srtp_ prefix, hence j_srtp_; it is
 * only the test oracle now). Profiles: AES128_CM_HMAC_SHA1_80, AEAD_AES_128_GCM,
 * AEAD_AES_256_GCM. No MKI, key derivation rate 0, no header extension encryption.
 *
 * One j_srtp covers RTP and RTCP for every SSRC in one direction: an OUTBOUND session
 * protects what we send with our master key (dtls_srtp_keys.local), an INBOUND session
 * unprotects what the peer sends (dtls_srtp_keys.remote). Per-SSRC state (rollover counter,
 * SRTCP index, replay window) is created by the first packet of an SSRC that is valid (an
 * inbound packet only once it authenticates), in a table of as many SSRCs as the owner
 * expects at once (what it negotiated, at most J_SRTP_MAX_STREAMS), allocated by j_srtp_new
 * and grown by j_srtp_reserve, never per packet: a packet of one more SSRC is refused with
 * J_ELIMIT, so a peer cannot grow our memory by inventing SSRCs. The owner removes an
 * SSRC's state when the SSRC retires (j_srtp_remove_stream), which frees its slot; inbound,
 * where the SSRC stood is remembered so that it resumes there if it comes back (see
 * j_srtp_remove_stream). Inbound replay window: J_SRTP_REPLAY_WINDOW packets per SSRC, for
 * RTP and for RTCP. Outbound allows repeating an index, so a packet resent with the same
 * sequence number (NACK answered by resending) protects again, to the same bytes, instead
 * of failing.
 *
 * Packets are transformed in place. Not thread-safe per session; nothing is allocated on
 * the per-packet path by this module.
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
/* Inbound packets tolerated out of order, per SSRC (RTP and RTCP each). Wider than RFC
 * 3711's minimum of 64 so that video bursts reordered in the network, and late resends of
 * the same sequence number, are not dropped as replays. */
#define J_SRTP_REPLAY_WINDOW 1024
/* Most SSRCs a session (one direction) may be sized for: a room subscriber connection
 * carries up to 64 m= sections (SDP_MAX_MEDIA), each with a media and an RTX SSRC, plus
 * RTCP senders. Inbound, a stream slot costs 2 x J_SRTP_REPLAY_WINDOW / 8 bytes of
 * windows and 48 bytes to remember a removed SSRC. */
#define J_SRTP_MAX_STREAMS 136

/* j_srtp_global_init - initialise the backend once per process (thread-safe, idempotent;
 * j_srtp_new calls it too). Returns 0 or J_ECRYPTO. */
int j_srtp_global_init(void);

/* j_srtp_new - a session for profile p keyed with master key || master salt (len must be
 * j_srtp_profile_key_salt_len(p): 30 for AES-CM, 28 for AES-128-GCM, 44 for AES-256-GCM),
 * with room for max_streams SSRCs (1..J_SRTP_MAX_STREAMS). NULL on bad arguments or
 * failure. The key is copied (as derived session keys); the caller may wipe it. */
j_srtp *j_srtp_new(j_srtp_profile p, const uint8_t *key_salt, size_t len, j_srtp_direction dir,
                   size_t max_streams);

/* j_srtp_reserve - room for max_streams SSRCs in all (a renegotiation added streams); never
 * shrinks. J_OK, J_EINVAL (0 or above J_SRTP_MAX_STREAMS) or J_ENOMEM (the session keeps
 * its room). Not on the per-packet path: it may allocate. */
int j_srtp_reserve(j_srtp *s, size_t max_streams);

/* j_srtp_remove_stream - free ssrc's slot for another SSRC; no allocation, safe per packet.
 * J_OK, J_ENOTFOUND (no live state for ssrc) or J_EINVAL.
 *
 * Inbound, the session remembers the SSRC's highest RTP index (ROC || SEQ) and SRTCP index
 * among its last removed SSRCs, as many as it has slots (j_srtp_new, j_srtp_reserve: one
 * renegotiation that replaces every stream at once is remembered whole; 48 bytes a slot,
 * allocated with the slots). A packet of ssrc afterwards (it must authenticate first, as
 * any new SSRC's) resumes from there: its ROC is estimated from the remembered index (RFC
 * 3711 §3.3.1), so a sender that kept its SSRC and numbering past a rollover still
 * decrypts, and every index up to the remembered one is refused as a replay (J_EREPLAY;
 * the window itself is not kept, so one lost then or reordered past the removal is
 * refused too). Past that many removals, the SSRC removed first is forgotten: its next
 * packet starts a new stream at index 0, and its old packets are accepted again once, so an
 * owner still removes only SSRCs it no longer routes.
 *
 * Outbound, the state is forgotten: a packet of ssrc afterwards starts again at index 0,
 * which would encrypt with keystream already used, so an owner removes only an SSRC it
 * never protects again with this session's key. */
int j_srtp_remove_stream(j_srtp *s, uint32_t ssrc);

void j_srtp_free(j_srtp *s);

/* j_srtp_rtp_overhead / j_srtp_rtcp_overhead - bytes protect adds for this profile. */
size_t j_srtp_rtp_overhead(j_srtp_profile p);
size_t j_srtp_rtcp_overhead(j_srtp_profile p);

/* j_srtp_protect_rtp - encrypt and authenticate the RTP packet buf[0..len) in place; cap is
 * the buffer's size and must leave room for the trailer. Returns the SRTP length,
 * J_ESHORTBUF, J_ESTATE (inbound session), J_ESHORT, J_EMALFORMED (not a valid RTP header),
 * J_ELIMIT (stream table full, or key exhausted), J_EREPLAY (a sequence number from before
 * the stream's first packet), J_ECRYPTO. */
int j_srtp_protect_rtp(j_srtp *s, uint8_t *buf, size_t len, size_t cap);

/* j_srtp_unprotect_rtp - verify and decrypt an SRTP packet in place. Returns the RTP
 * length, J_EAUTH (forged/corrupt), J_EREPLAY (already seen or older than the window),
 * J_ELIMIT (a new SSRC while the stream table is full), J_ESHORT, J_EMALFORMED, J_ESTATE
 * (outbound session), J_ECRYPTO. On failure the packet's bytes are unspecified (an AEAD
 * profile decrypts while it verifies); drop it. */
int j_srtp_unprotect_rtp(j_srtp *s, uint8_t *buf, size_t len);

/* The same for SRTCP (compound packets as a whole; the SSRC is the first packet's sender
 * SSRC). Protect always encrypts (E=1); unprotect also accepts authenticated-only packets
 * (E=0). */
int j_srtp_protect_rtcp(j_srtp *s, uint8_t *buf, size_t len, size_t cap);
int j_srtp_unprotect_rtcp(j_srtp *s, uint8_t *buf, size_t len);

#endif
