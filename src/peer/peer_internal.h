/* peer_internal.h - what the peer's files share: peer.c (lifetime, ICE, DTLS, SRTP),
 * peer_rtp.c (media in and out) and peer_rtcp.c (RTCP in and out). */
#ifndef J_PEER_PEER_INTERNAL_H
#define J_PEER_PEER_INTERNAL_H

#include "peer/peer.h"

#define PEER_DGRAM_CAP 1600
/* Our RTCP compounds stay below this; the SRTCP trailer still fits in PEER_DGRAM_CAP. */
#define PEER_RTCP_MAX 1200

/* The address media goes to: the nominated ICE pair, else where DTLS came from. */
const j_addr *peer_remote(const peer *p);

/* peer_srtp_retire - ssrc (0: none) retired: its state leaves SRTP session s (may be NULL). */
void peer_srtp_retire(j_srtp *s, uint32_t ssrc);

/* peer_rtp_handle - a decrypted RTP packet from the peer (publisher media). False when its
 * SSRC belongs to none of the peer's streams. */
bool peer_rtp_handle(peer *p, uint64_t now_us, uint8_t *buf, size_t len);
/* peer_rtp_routes - whether ssrc is a media or RTX SSRC of one of the peer's in tracks. */
bool peer_rtp_routes(const peer *p, uint32_t ssrc);
/* peer_rtp_send_downtrack - sfu_send_fn of a subscriber's downtracks. */
void peer_rtp_send_downtrack(void *ctx, uint8_t *buf, size_t len, size_t cap, size_t twcc_off,
                             uint64_t now_us);

/* peer_rtcp_handle - a decrypted RTCP compound from the peer. */
void peer_rtcp_handle(peer *p, uint64_t now_us, const uint8_t *buf, size_t len);
/* peer_rtcp_handle_timeout - RTCP that is due: NACKs, transport-cc feedback, reports. */
void peer_rtcp_handle_timeout(peer *p, uint64_t now_us);

#endif
