/* engine.h - all media state of one worker: sessions (peers) and tracks.
 *
 * Sans-I/O: datagrams and time come in, datagrams leave through io->send.
 * Routes each datagram (RFC 7983 demux) to its peer: STUN requests by ICE
 * ufrag, everything else by the transport address ICE validated. Owns the
 * peers and the tracks (by id); a track is created when a session first binds
 * it and freed when it has neither publisher nor subscriber. WHIP/WHEP streams
 * and room participants are both just sessions bound to track ids. Every
 * function runs on the worker's thread.
 */
#ifndef J_APP_ENGINE_H
#define J_APP_ENGINE_H

#include <jansson.h>
#include <stdint.h>

#include "app/limits.h"
#include "core/addr.h"
#include "dtls/dtls.h"
#include "peer/peer.h"
#include "sdp/sdp.h"

typedef struct engine engine;

typedef struct engine_config {
    dtls_ctx *dtls; /* borrowed */
    uint64_t consent_timeout_us;
    uint32_t publisher_max_bitrate;
    uint64_t min_video_bitrate;    /* a subscriber's video pauses below this estimate; 0: never */
    uint64_t wall_clock_offset_us; /* Unix time minus now_us, for RTCP's NTP times */
    int max_sessions;
    int max_subscribers_per_track;
    session_limits_config limits; /* per client and half-open */
    uint64_t handshake_timeout_us; /* creation to DTLS connected, else the session closes;
                                      0 = no deadline */
} engine_config;

typedef struct engine_io {
    void (*send)(void *ctx, const j_addr *to, const uint8_t *buf, size_t len);
    void *ctx;
} engine_io;

/* What one m= section of a session carries, by index into the negotiated media. */
typedef struct engine_bind {
    char track_id[SFU_TRACK_ID_LEN]; /* publisher: the track it feeds; subscriber: the track
                                        it receives; "" = none */
    uint32_t ssrc; /* subscriber, out: the SSRC we send it with (kept across renegotiations
                      while the track stays the same), 0 when nothing is sent */
    uint32_t rtx_ssrc; /* subscriber, out: the SSRC of its retransmissions, 0 without RTX */
} engine_bind;

typedef struct engine_session {
    peer_role role;
    const char *id;    /* unique in the engine */
    const char *owner; /* for logs and stats, and the check in engine_remove_session */
    const char *local_ufrag, *local_pwd;
    const char *cname;     /* subscriber: the CNAME its answer gives what we send */
    const sdp_negotiated *neg;
    engine_bind *binds;    /* neg->media_count entries */
    bool report_close;     /* queue its end for engine_drain_closed (rooms want to know) */
    const char *client_ip; /* who asked (IP text), for the per-client limits of limits.h;
                              NULL: counted against the server-wide limits only */
    limit_kind refused_by; /* out: the limit behind J_ELIMIT */
} engine_session;

engine *engine_new(const engine_config *cfg, const j_addr *bound, const engine_io *io,
                   char *err, size_t err_cap);
void engine_free(engine *e);

void engine_handle_datagram(engine *e, uint64_t now_us, const j_addr *from, uint8_t *buf,
                            size_t len);
void engine_handle_timeout(engine *e, uint64_t now_us);

/* engine_add_session - create a peer and bind its m= sections to tracks (created on first
 * use). J_OK; J_ESTATE when a track it would publish already has a live publisher (HTTP
 * 409); J_ELIMIT when a limit is reached, s->refused_by naming it (HTTP 429 for per-client
 * limits, 503 for the others); J_EINVAL for a track bound with the wrong kind; J_ENOMEM.
 * Nothing is changed on failure. */
int engine_add_session(engine *e, engine_session *s, uint64_t now_us);
/* engine_update_session - renegotiation of session s->id: m= sections whose mid keeps the
 * same track are untouched, others are bound, rebound or released; new ICE credentials
 * (s->local_ufrag differs) restart ICE. Errors as engine_add_session, plus J_ENOTFOUND. */
int engine_update_session(engine *e, engine_session *s, uint64_t now_us);
/* engine_remove_session - end session id now; owner, if not NULL, must match. J_ENOTFOUND. */
int engine_remove_session(engine *e, const char *id, const char *owner, const char *reason);
/* engine_set_track_muted - J_OK or J_ENOTFOUND. */
int engine_set_track_muted(engine *e, const char *track_id, bool muted, uint64_t now_us);
/* engine_set_paused - subscriber session id stops receiving the tracks in track_ids (n of
 * them) and receives every other track it is bound to (sfu_downtrack_set_paused: a resumed
 * video stream waits for a keyframe, which is requested). J_OK or J_ENOTFOUND. */
int engine_set_paused(engine *e, const char *id, const char *const *track_ids, size_t n,
                      uint64_t now_us);
/* engine_take_audio_levels - the RFC 6464 levels track_id's source sent since the last call.
 * J_OK or J_ENOTFOUND. */
int engine_take_audio_levels(engine *e, const char *track_id, sfu_audio_levels *out);

/* A session's health, for connection-quality reports. */
typedef struct engine_session_health {
    peer_state state;
    uint64_t rtp_in, rtp_out, srtp_errors;
} engine_session_health;
/* engine_session_health_get - J_OK or J_ENOTFOUND. */
int engine_session_health_get(engine *e, const char *id, engine_session_health *out);

/* engine_drain_closed - call fn for each session that ended on its own (ICE consent, DTLS
 * close, failure) since the last call, among those added with report_close. */
void engine_drain_closed(engine *e, void (*fn)(void *ctx, const char *id, const char *reason),
                         void *ctx);

/* engine_stats - a JSON snapshot for the API (new reference). */
json_t *engine_stats(engine *e, uint64_t now_us);

#endif
