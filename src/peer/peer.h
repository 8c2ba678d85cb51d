/* peer.h - one WebRTC peer connection as the server sees it.
 *
 * Composes the sans-I/O machines of one transport: ICE-lite (who may talk to
 * us), DTLS (keys), SRTP (protection) and RTP/RTCP, over a single BUNDLEd,
 * rtcp-muxed 5-tuple. A publisher peer feeds tracks (one per received m= section);
 * a subscriber peer carries downtracks of tracks (one per sent m= section). Which
 * track goes where is the owner's business (the engine); renegotiation adds and
 * removes tracks without disturbing the others. No sockets: datagrams leave through env->send and
 * state changes reach the owner through the env callbacks.
 *
 * RTCP ends here, per leg (peer_rtcp.c). Towards a publisher: receiver reports with real
 * report blocks every second (plus REMB and an XR reference time for its RTT), NACKs for the
 * gaps in its video (rtp/nack_gen; its RTX retransmissions are unwrapped and forwarded like
 * the originals, so they fill the subscribers' gaps too), keyframe requests, and
 * transport-cc feedback when negotiated. Towards a subscriber: sender reports per downtrack
 * with its CNAME; its NACKs are answered from the tracks' retransmission buffers (never
 * passed upstream: what is missing there is either still on its way from the publisher, whom
 * our own NACKs already ask, or older than a second, when the subscriber's keyframe request
 * - aggregated and throttled per track - recovers faster); its transport-cc feedback (our
 * egress is numbered, peer_rtp.c) or REMB drive its bandwidth estimate, shared among its
 * video downtracks as their layer policies' budgets (sfu/layers): a track whose lowest layer
 * does not fit its share is paused, and a probe tries it again after a back-off.
 */
#ifndef J_PEER_PEER_H
#define J_PEER_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"
#include "dtls/dtls.h"
#include "bwe/bwe.h"
#include "ice/ice.h"
#include "rtp/nack_gen.h"
#include "rtp/rtp_recv_stats.h"
#include "sdp/sdp.h"
#include "sfu/track.h"
#include "srtp/srtp.h"

#define PEER_ID_LEN 40
#define PEER_OWNER_LEN 80
#define PEER_MAX_ADDRS 8
#define PEER_MAX_TRACKS SDP_MAX_MEDIA
#define PEER_REPORT_INTERVAL_US 1000000u
/* A subscriber's bandwidth is shared out among its video downtracks this often. */
#define PEER_SHARE_INTERVAL_US 100000u
/* While a subscriber's queues build, its budget is at most what arrived over this long. */
#define PEER_CONGESTED_RATE_WINDOW_US 200000u
/* A video downtrack held below what it wants by its bandwidth share (a lower layer, or none)
 * probes the link after this long: the estimate restarts where the next layer fits. The wait
 * doubles up to PEER_PROBE_AFTER_MAX_US while probes fail (a layer goes down again), so a
 * lifted bottleneck is found within that, and a probe that held brings the next one back to
 * the start. */
#define PEER_PROBE_AFTER_US 2000000u
#define PEER_PROBE_AFTER_MAX_US 8000000u
#define PEER_CNAME_LEN 65
/* SSRCs an SRTP session of a peer is sized for: 2 (media and RTX) for every stream of the
 * m= sections it holds at once (a removed track's SSRCs leave SRTP's table), plus this many
 * for RTCP senders, at most J_SRTP_MAX_STREAMS. */
#define PEER_SRTP_RTCP_STREAMS 8

/* A peer carries media in one direction: a publisher sends to us, a subscriber receives. */
typedef enum { PEER_PUBLISHER = 0, PEER_SUBSCRIBER = 1 } peer_role;
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
    uint64_t min_video_bitrate;    /* a video downtrack's share below this pauses it; 0: never */
    uint64_t wall_clock_offset_us; /* Unix time minus now_us: NTP times in sender reports */
    void (*send)(void *ctx, const j_addr *to, const uint8_t *buf, size_t len);
    /* A new address passed ICE for this peer: route its datagrams here (NULL: not asked). */
    void (*on_address)(void *ctx, peer *p, const j_addr *addr);
    /* DTLS completed: media may flow (NULL: not asked). */
    void (*on_connected)(void *ctx, peer *p, uint64_t now_us);
    void *ctx;
} peer_env;

/* Counters exposed through the stats API. NACK counters count sequence numbers. */
typedef struct peer_stats {
    uint64_t rtp_in, rtp_in_bytes, rtp_out, rtp_out_bytes;
    uint64_t rtcp_in, rtcp_out;
    uint64_t srtp_errors, unknown_ssrc;
    uint64_t srtp_replays;      /* SRTP/SRTCP refused by the replay window */
    uint64_t ice_auth_failures; /* checks for our ufrag failing MESSAGE-INTEGRITY */
    uint64_t pli_in, fir_in, pli_out;
    uint64_t nack_in;        /* subscriber: asked to resend ... */
    uint64_t nack_answered;  /* ... resent from a retransmission buffer */
    uint64_t nack_missed;    /* ... not in a buffer (any more) */
    uint64_t nack_throttled; /* ... in a buffer, over the retransmission share */
    uint64_t nack_out;       /* publisher: asked it to resend */
    uint64_t rtx_in;         /* publisher: retransmissions received (RTX) */
} peer_stats;

/* A leg's condition, for the stats API (peer_quality_get). */
typedef struct peer_quality {
    uint64_t bitrate_in, bitrate_out; /* bits/s over the last report interval (~1 s) */
    int64_t packets_lost;     /* publisher: what we missed; subscriber: what it reports */
    double jitter_ms;         /* the worst stream's interarrival jitter */
    int64_t rtt_us;           /* smoothed round-trip time, -1 while unknown */
    uint64_t estimated_bps;   /* subscriber: its available bandwidth estimate */
    bool video_paused;        /* subscriber: a video downtrack is paused for bandwidth */
    uint64_t video_pauses;    /* subscriber: times its video downtracks were (the current ones) */
} peer_quality;

typedef struct peer_params {
    peer_role role;
    const char *id;    /* session id, unique in the worker */
    const char *owner; /* what it belongs to, for logs and stats: a stream, a participant */
    const char *local_ufrag, *local_pwd;
    const sdp_negotiated *neg;
    const char *cname; /* subscriber: the CNAME of what we send (sender reports); NULL: id */
} peer_params;

/* Publisher: one RTP stream of an m= section we receive - a simulcast encoding, or the only
 * stream. Statistics, loss detection and keyframe requests are per stream. */
typedef struct peer_in_stream {
    char rid[SDP_RID_LEN]; /* its a=rid; "" without simulcast */
    uint32_t ssrc;     /* media SSRC: from the offer, or learned from the MID / rid extension */
    uint32_t rtx_ssrc; /* from the offer's FID group, or learned (repaired rid, apt); 0: none */
    bool receiving;    /* recv and nack follow ssrc */
    rtp_recv_stats recv;
    rtp_nack_gen *nack; /* video: owned (16 KiB, so not for audio or absent encodings) */
} peer_in_stream;

/* Publisher: one m= section we receive; it feeds one track. With simulcast its streams are
 * the encodings in a=simulcast order (the track's encoding index), learned by their rid. */
typedef struct peer_in_track {
    char mid[SDP_MID_LEN];
    sfu_kind kind;
    uint8_t n_streams; /* 1, or the simulcast encodings */
    peer_in_stream streams[SDP_MAX_ENCODINGS];
    uint8_t apt[128];  /* RTX payload type -> the payload type it repairs; SFU_NO_PT: none */
    sfu_source source;
    sfu_track *track;  /* borrowed; set by the owner */
} peer_in_track;

/* Subscriber: one m= section we send; it carries one track's downtrack. */
typedef struct peer_out_track {
    char mid[SDP_MID_LEN];
    sfu_kind kind;
    char track_id[SFU_TRACK_ID_LEN]; /* "" while nothing is bound */
    sfu_downtrack down;
    bool have_report;
    rtcp_report_block report; /* the subscriber's last report block about it */
} peer_out_track;

struct peer {
    char id[PEER_ID_LEN];
    char owner[PEER_OWNER_LEN];
    peer_role role;
    peer_state state;
    const char *close_reason; /* static string, set when state becomes PEER_CLOSED */
    const peer_env *env;      /* borrowed */
    uint64_t created_us;

    ice_lite ice;
    dtls_conn *dtls;          /* owned */
    j_srtp *srtp_in, *srtp_out; /* owned, NULL until DTLS completes */
    size_t srtp_streams;        /* SSRCs they are sized for: PEER_SRTP_RTCP_STREAMS */
    struct {
        uint32_t used, scale, offset;
    } ssrcs;                    /* the SSRCs we send from, never one twice (peer.c) */
    j_addr dtls_addr;         /* where the last DTLS record came from */
    j_addr addrs[PEER_MAX_ADDRS]; /* addresses routed to us, for the owner's cleanup */
    int n_addrs;

    peer_in_track *in[PEER_MAX_TRACKS];   /* publisher: owned, n_in used */
    int n_in;
    uint8_t mid_ext_id;                   /* publisher: MID extension id, 0 = none */
    uint8_t rid_ext_id, rrid_ext_id;      /* publisher: rtp-stream-id, repaired-, 0 = none */
    peer_out_track *out[PEER_MAX_TRACKS]; /* subscriber: owned, n_out used */
    int n_out;
    uint32_t rtcp_ssrc;       /* sender SSRC of our RTCP */
    bool rtcp_rsize;
    char cname[PEER_CNAME_LEN];
    uint64_t next_report_us;
    uint8_t twcc_ext_id;          /* transport-wide sequence numbers, 0: not negotiated */
    bwe_twcc_recorder *twcc_in;   /* publisher with transport-cc: owned */
    bwe_twcc_history *twcc_out;   /* subscriber with transport-cc: owned */
    bwe_gcc *bwe;                 /* subscriber: owned */
    struct {
        uint64_t next_share_us; /* when the budgets are shared out next */
        bool estimated;         /* feedback has come: the estimate is more than a guess */
        uint64_t probe_at_us;   /* a downtrack gets less than it wants: probe then (0: none) */
        uint64_t probe_wait_us; /* the back-off: doubles while probes fail */
        uint64_t probe_downs;   /* its downtracks' layer_downs when the last probe began */
        uint64_t prefs_changes; /* its downtracks' prefs_changes at the last sharing */
        uint64_t audio_bps;     /* what its audio downtracks took over the last second */
        uint64_t audio_bytes;   /* ... their bytes at the last report */
    } share;                    /* subscriber */
    rtp_rtt rtt;                  /* from report blocks (subscriber) or XR DLRR (publisher) */
    struct {
        uint64_t at_us, bytes_in, bytes_out; /* at the last report */
        uint64_t bitrate_in, bitrate_out;
    } rate;
    peer_stats stats;
};

/* peer_new - a peer from a negotiated offer. NULL on allocation or DTLS failure. */
peer *peer_new(const peer_env *env, const peer_params *p, uint64_t now_us);
void peer_free(peer *p);

/* peer_restart_ice - new ICE credentials on both sides (an offer with a new ufrag);
 * DTLS and SRTP carry on. J_OK or J_EINVAL. */
int peer_restart_ice(peer *p, const char *local_ufrag, const char *local_pwd,
                     const char *remote_ufrag, uint64_t now_us);

/* peer_add_in_track - publisher: receive m= section m (its source is described from it).
 * NULL when PEER_MAX_TRACKS are in use or out of memory. */
peer_in_track *peer_add_in_track(peer *p, const sdp_neg_media *m);
/* peer_in_track_update_codecs - a renegotiation of t's m= section m: t receives m's codecs
 * (and their RTX) from now on. Whether they differ from before (the owner re-describes the
 * track's source then). */
bool peer_in_track_update_codecs(peer_in_track *t, const sdp_neg_media *m);
/* peer_add_out_track - subscriber: send on m= section m from a new SSRC (down.ssrc), and
 * retransmit from another (down.rtx_ssrc) when m negotiated RTX (0: as the original packets).
 * The peer picks them: an SSRC is never used twice on a connection, since a removed track's
 * SRTP state goes and protecting that SSRC again would reuse keystream. NULL as above. */
peer_out_track *peer_add_out_track(peer *p, const sdp_neg_media *m);
/* peer_neg_has_rtx - whether m= section m negotiated RTX for any codec. */
bool peer_neg_has_rtx(const sdp_neg_media *m);
/* peer_remove_in_track / peer_remove_out_track - by index; the owner has detached it. Its
 * SSRCs retire: their SRTP state goes (inbound for an in track's streams and their RTX, where
 * the session remembers their indexes should they come back; outbound for an out track's
 * media and RTX). */
void peer_remove_in_track(peer *p, int index);
void peer_remove_out_track(peer *p, int index);
peer_in_track *peer_find_in_track(const peer *p, const char *mid, int *index);
peer_out_track *peer_find_out_track(const peer *p, const char *mid, int *index);

/* peer_handle_stun - an ICE check for this peer (found by its ufrag). */
void peer_handle_stun(peer *p, uint64_t now_us, const j_addr *from, const uint8_t *buf,
                      size_t len);
/* peer_handle_dtls / peer_handle_srtp - datagrams from an address routed to this peer. */
void peer_handle_dtls(peer *p, uint64_t now_us, const j_addr *from, const uint8_t *buf,
                      size_t len);
void peer_handle_srtp(peer *p, uint64_t now_us, const j_addr *from, uint8_t *buf, size_t len,
                      bool is_rtcp);
/* peer_handle_timeout - ICE consent, DTLS retransmission, RTCP (NACKs and transport-cc
 * feedback when due, reports every PEER_REPORT_INTERVAL_US), a subscriber's bandwidth shares
 * and probes. Call it every ~10 ms: NACKs wait only a few milliseconds for reordering. */
void peer_handle_timeout(peer *p, uint64_t now_us);
/* peer_quality_get - the leg's condition now. */
void peer_quality_get(const peer *p, peer_quality *out);
/* peer_request_keyframe - sfu_keyframe_fn for a publisher: PLI for the SSRC of the track's
 * encoding. */
void peer_request_keyframe(void *peer_ctx, const sfu_track *t, uint8_t encoding);
/* peer_close - end the session now (DTLS close_notify when connected). */
void peer_close(peer *p, const char *reason);

/* peer_neg_carries - whether negotiated m= section m carries audio/video in a session of
 * this role's direction (a publisher's we receive, a subscriber's we send). */
bool peer_neg_carries(const sdp_neg_media *m, peer_role role);

const char *peer_role_name(peer_role r);
const char *peer_state_name(peer_state s);

#endif
