/* peer.h - one WebRTC peer connection as the server sees it.
 *
 * Composes the sans-I/O machines of one transport: ICE-lite (who may talk to
 * us), DTLS (keys), SRTP (protection) and RTP/RTCP, over a single BUNDLEd,
 * rtcp-muxed 5-tuple. A publisher peer feeds its stream; a viewer peer is one
 * of a stream's subscribers. No sockets: datagrams leave through env->send and
 * state changes reach the owner through the env callbacks.
 */
#ifndef J_PEER_PEER_H
#define J_PEER_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"
#include "dtls/dtls.h"
#include "ice/ice.h"
#include "sdp/sdp.h"
#include "sfu/stream.h"
#include "srtp/srtp.h"

#define PEER_ID_LEN 24
#define PEER_MAX_ADDRS 8
#define PEER_REPORT_INTERVAL_US 1000000u

typedef enum { PEER_PUBLISHER = 0, PEER_VIEWER = 1 } peer_role;
typedef enum {
    PEER_NEW = 0,     /* waiting for an ICE check */
    PEER_CONNECTING,  /* ICE done, DTLS handshake running */
    PEER_CONNECTED,   /* SRTP keys in place, media flows */
    PEER_CLOSED,      /* to be freed by the owner */
} peer_state;

typedef struct peer peer;

/* What every peer of a worker shares (borrowed, outlives the peers). */
typedef struct peer_env {
    dtls_ctx *dtls;
    uint64_t consent_timeout_us;
    uint32_t publisher_max_bitrate;
    void (*send)(void *ctx, const j_addr *to, const uint8_t *buf, size_t len);
    /* A new address passed ICE for this peer: route its datagrams here. */
    void (*on_address)(void *ctx, peer *p, const j_addr *addr);
    /* DTLS completed: media may flow. */
    void (*on_connected)(void *ctx, peer *p, uint64_t now_us);
    void *ctx;
} peer_env;

/* Counters exposed through the stats API. */
typedef struct peer_stats {
    uint64_t rtp_in, rtp_in_bytes, rtp_out, rtp_out_bytes;
    uint64_t rtcp_in, rtcp_out;
    uint64_t srtp_errors, unknown_ssrc;
    uint64_t srtp_replays;      /* SRTP/SRTCP refused by the replay window */
    uint64_t ice_auth_failures; /* checks for our ufrag failing MESSAGE-INTEGRITY */
    uint64_t pli_in, fir_in, nack_in, pli_out;
} peer_stats;

typedef struct peer_params {
    peer_role role;
    const char *id;           /* session id (the URL's last segment) */
    const char *stream_name;
    const char *local_ufrag, *local_pwd;
    const sdp_negotiated *neg;
    uint32_t send_ssrc[SFU_KINDS]; /* viewer: our SSRC per kind (0 = not sent) */
} peer_params;

struct peer {
    char id[PEER_ID_LEN];
    char stream_name[SFU_STREAM_NAME_LEN];
    peer_role role;
    peer_state state;
    const char *close_reason; /* static string, set when state becomes PEER_CLOSED */
    const peer_env *env;      /* borrowed */
    uint64_t created_us;

    ice_lite ice;
    dtls_conn *dtls;          /* owned */
    j_srtp *srtp_in, *srtp_out; /* owned, NULL until DTLS completes */
    j_addr dtls_addr;         /* where the last DTLS record came from */
    j_addr addrs[PEER_MAX_ADDRS]; /* addresses routed to us, for the owner's cleanup */
    int n_addrs;

    /* publisher: what it sends */
    sfu_source_track source[SFU_KINDS];
    int8_t pt_kind[128];      /* PT -> SFU_AUDIO/SFU_VIDEO, -1 = unknown or RTX */
    uint32_t in_ssrc[SFU_KINDS]; /* last seen media SSRC per kind */
    /* viewer: what it receives */
    sfu_subscriber sub;
    /* both */
    uint32_t rtcp_ssrc;       /* sender SSRC of our RTCP */
    bool rtcp_rsize;
    uint64_t next_report_us;
    sfu_stream *stream;       /* borrowed; set by the owner while attached */
    peer_stats stats;
};

/* peer_new - a peer from a negotiated offer. NULL on allocation or DTLS failure. */
peer *peer_new(const peer_env *env, const peer_params *p, uint64_t now_us);
void peer_free(peer *p);

/* peer_handle_stun - an ICE check for this peer (found by its ufrag). */
void peer_handle_stun(peer *p, uint64_t now_us, const j_addr *from, const uint8_t *buf,
                      size_t len);
/* peer_handle_dtls / peer_handle_srtp - datagrams from an address routed to this peer. */
void peer_handle_dtls(peer *p, uint64_t now_us, const j_addr *from, const uint8_t *buf,
                      size_t len);
void peer_handle_srtp(peer *p, uint64_t now_us, const j_addr *from, uint8_t *buf, size_t len,
                      bool is_rtcp);
/* peer_handle_timeout - ICE consent, DTLS retransmission, periodic RTCP. */
void peer_handle_timeout(peer *p, uint64_t now_us);
/* peer_request_keyframe - send a PLI for the publisher's video. */
void peer_request_keyframe(peer *p);
/* peer_close - end the session now (DTLS close_notify when connected). */
void peer_close(peer *p, const char *reason);

const char *peer_role_name(peer_role r);
const char *peer_state_name(peer_state s);

#endif
