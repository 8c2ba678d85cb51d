/* engine.h - all media state of one worker: sessions (peers) and tracks.
 *
 * Sans-I/O: datagrams and time come in, datagrams leave through io->send.
 * Routes each datagram (RFC 7983 demux) to its peer: STUN requests by ICE
 * ufrag, everything else by the transport address ICE validated. Owns the
 * peers and the tracks (by id); a track is created when a session first binds
 * it and freed when it has neither publisher nor subscriber. WHIP/WHEP streams
 * and room participants are both just sessions bound to track ids. Every
 * function runs on the worker's thread.
 *
 * With several workers (app/media.c) each has its own engine, and a track's publisher is on
 * its home worker. A subscriber placed on another worker gets a mirror of the track there:
 * the home engine hands each source packet once to every engine mirroring the track
 * (io->relay_rtp) and each fans it out to its own subscribers. The engines keep each other
 * informed with engine_relay_msg (subscribe, source, mute, sender reports, keyframe
 * requests), delivered in order with the packets.
 */
#ifndef J_APP_ENGINE_H
#define J_APP_ENGINE_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "app/limits.h"
#include "core/addr.h"
#include "dtls/dtls.h"
#include "peer/peer.h"
#include "sdp/sdp.h"

typedef struct engine engine;

#define ENGINE_MAX_WORKERS 64
#define ENGINE_REFUSAL_LEN 160 /* engine_session.refusal: a mid, a track id and why */

typedef struct engine_config {
    int worker; /* this engine's index among the media workers: 0 when alone */
    dtls_ctx *dtls; /* borrowed */
    uint64_t consent_timeout_us;
    uint32_t publisher_max_bitrate;
    uint64_t min_video_bitrate;    /* a video downtrack's share below this pauses it; 0: never */
    uint64_t wall_clock_offset_us; /* Unix time minus now_us, for RTCP's NTP times */
    int max_sessions;
    int max_subscribers_per_track;
    session_limits_config limits; /* per client and half-open */
    /* With several workers one session table counts for all (limits.h holds server-wide):
     * shared_limits, guarded by shared_limits_lock, taken once per session event (created,
     * connected, ended), never per packet. NULL: the engine keeps its own table. */
    session_limits *shared_limits;
    pthread_mutex_t *shared_limits_lock;
    uint64_t handshake_timeout_us; /* creation to DTLS connected, else the session closes;
                                      0 = no deadline */
} engine_config;

/* What the engines of two workers tell each other about a track. */
typedef enum {
    ENGINE_RELAY_SUBSCRIBE = 1, /* mirror -> home: send me track_id (of track_kind) */
    ENGINE_RELAY_UNSUBSCRIBE,   /* mirror -> home: stop sending track_id */
    ENGINE_RELAY_LINKED,        /* home -> mirror: track_id comes as relay_id; its state */
    ENGINE_RELAY_SOURCE,        /* home -> mirror: has_source changed (source when true) */
    ENGINE_RELAY_MUTED,         /* home -> mirror: muted changed */
    ENGINE_RELAY_KEYFRAME,      /* mirror -> home: a subscriber needs a keyframe */
    ENGINE_RELAY_SENDER_REPORT, /* home -> mirror: the source's sender report (its clock) */
} engine_relay_kind;

typedef struct engine_relay_msg {
    engine_relay_kind kind;
    uint32_t relay_id;               /* LINKED, SOURCE, MUTED, KEYFRAME */
    uint8_t encoding;                /* KEYFRAME: of which encoding; SENDER_REPORT: about */
    char track_id[SFU_TRACK_ID_LEN]; /* SUBSCRIBE, UNSUBSCRIBE, LINKED */
    sfu_kind track_kind;             /* SUBSCRIBE */
    bool has_source, muted;          /* LINKED; SOURCE; MUTED */
    sfu_source source;               /* LINKED and SOURCE with has_source */
    uint32_t sr_ssrc, sr_rtp_ts;     /* SENDER_REPORT: the stream and its RTP time... */
    uint64_t sr_at_us;               /* ...at this time of the home's (the same clock) */
} engine_relay_msg;

typedef struct engine_io {
    void (*send)(void *ctx, const j_addr *to, const uint8_t *buf, size_t len);
    /* relay_rtp - hand source packet rtp (copied before returning) to worker `to`, which
     * mirrors the track it relays as relay_id. NULL when the engine is alone. Relayed
     * packets normally become visible at the end of the receive batch; wake_now asks for
     * them (and what was queued before) to be visible and `to` woken at once, because this
     * engine's own fan-out of the packet comes next and is long. */
    void (*relay_rtp)(void *ctx, int to, uint32_t relay_id, uint8_t encoding, const uint8_t *rtp,
                      size_t len, uint64_t arrival_us, bool wake_now);
    /* relay_msg - send m (copied) to worker `to`; never lost, in order with relay_rtp. */
    void (*relay_msg)(void *ctx, int to, const engine_relay_msg *m);
    void *ctx;
} engine_io;

/* What one m= section of a session carries, by index into the negotiated media. */
typedef struct engine_bind {
    char track_id[SFU_TRACK_ID_LEN]; /* publisher: the track it feeds; subscriber: the track
                                        it receives; "" = none */
    uint32_t ssrc; /* subscriber, out: the SSRC we send it with (kept across renegotiations
                      while the track stays the same), 0 when nothing is sent */
    uint32_t rtx_ssrc; /* subscriber, out: the SSRC of its retransmissions, 0 without RTX */
    int subscribers_elsewhere; /* subscriber, in: the track's subscribers on other workers,
                                  counted against max_subscribers_per_track */
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
    /* out: with J_EINVAL or J_ESTATE caused by one binding, which m= section (mid), which
     * track and what is wrong, for the one who asked; "" otherwise */
    char refusal[ENGINE_REFUSAL_LEN];
    int origin; /* subscriber: the worker whose engine has the bound tracks' publishers;
                   another than engine_config.worker makes them mirrors of that one's */
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
 * A J_ESTATE or J_EINVAL about a binding says which in s->refusal (J_ESTATE with it empty:
 * s->id is in use). Nothing is changed on failure. */
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
/* What a subscriber wants of one video track (sfu_downtrack_set_layer_prefs). */
typedef struct engine_layer_prefs {
    bool visible;
    uint16_t width, height;           /* device pixels of its tile, 0: unknown */
    uint8_t max_spatial, max_temporal; /* SFU_LAYER_ANY: no preference */
} engine_layer_prefs;
/* engine_set_layer_prefs - subscriber session id receives track_id, where it is bound to
 * it, as prefs say. J_OK or J_ENOTFOUND (no such subscriber). */
int engine_set_layer_prefs(engine *e, const char *id, const char *track_id,
                           const engine_layer_prefs *prefs);
/* engine_take_audio_levels - the RFC 6464 levels track_id's source sent since the last call.
 * J_OK, or J_ENOTFOUND (also for a mirror: its home track counts the same packets). */
int engine_take_audio_levels(engine *e, const char *track_id, sfu_audio_levels *out);

/* engine_track_published - what track_id's publisher negotiated to send (codecs first), when
 * this engine has the track and its publisher (its home), connected or still connecting.
 * J_OK, or J_ENOTFOUND (no such track here, no publisher or one that ended, or a mirror). */
int engine_track_published(engine *e, const char *track_id, sfu_source *out);

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

/* A subscriber's bound track whose publisher sends none of the codecs the subscriber
 * negotiated for it (nothing of it is forwarded: a black tile), or no longer. */
#define ENGINE_CODEC_REASON_LEN 256
typedef struct engine_codec_notice {
    char session_id[PEER_ID_LEN];
    char mid[SDP_MID_LEN];
    char track_id[SFU_TRACK_ID_LEN];
    bool undecodable; /* false: it can be decoded again */
    /* when undecodable, engine_codec_refusal's words: "video: the publisher sends VP9; this
     * offer accepts VP8" */
    char reason[ENGINE_CODEC_REASON_LEN];
} engine_codec_notice;

/* engine_drain_codec_notices - call fn for each change of a subscriber's track between
 * decodable and not since the last call (the latest state of each subscriber m= section,
 * the first one is a track becoming undecodable). Such a change happens when a publisher
 * attaches (connects, or renegotiates its codecs) or a subscriber binds a track that already
 * has one; a binding that goes is not said. Every one is also logged (the only word WHEP
 * viewers get). */
void engine_drain_codec_notices(engine *e, void (*fn)(void *ctx, const engine_codec_notice *n),
                                void *ctx);

/* engine_codec_refusal - into out (cap bytes), why a subscriber m= section of kind that
 * negotiated `accepted` can receive nothing of a publisher that sends `sent`: "video: the
 * publisher sends H264 High; this offer accepts VP8, VP9" (the words of subscribe_answer's
 * errors and WHEP's 406). */
void engine_codec_refusal(char *out, size_t cap, sfu_kind kind, const sdp_codec *sent,
                          int sent_count, const sdp_codec *accepted, int accepted_count);

/* engine_stats - a JSON snapshot for the API (new reference). A track that is a mirror
 * says "mirror": true; a home track counts the workers mirroring it in "mirrors".
 * "session_totals" sums the sessions' counters by role, those of ended sessions included
 * (they never step back); "sessions_by_state" counts sessions by role and state. Its
 * "session_list" costs tens of microseconds per session: a worker with hundreds builds it
 * in parts instead (below), so that packets are forwarded in between. */
json_t *engine_stats(engine *e, uint64_t now_us);
/* engine_stats_summary - engine_stats without "session_list" (new reference). */
json_t *engine_stats_summary(engine *e);
/* engine_stats_sessions - append the JSON of sessions from .. from + max - 1 (in the
 * engine's order) to the array `into`; returns the index to continue from, the session
 * count once done. The order changes only when a session ends (the last one takes its
 * place), so a list built over several calls may miss a session that moved meanwhile,
 * never repeats one. */
size_t engine_stats_sessions(engine *e, uint64_t now_us, size_t from, size_t max, json_t *into);

/* engine_downtracks - subscribers' m= sections bound here, connected or not: the load
 * placement compares across workers. */
size_t engine_downtracks(const engine *e);
/* engine_track_subscribers - connected subscribers of track id here (0 when no track). */
int engine_track_subscribers(engine *e, const char *id);

/* engine_relay_rtp_in - a packet worker `from` relayed as relay_id (see engine_io). */
void engine_relay_rtp_in(engine *e, int from, uint32_t relay_id, uint8_t encoding, const uint8_t *rtp,
                         size_t len, uint64_t arrival_us);
/* engine_relay_msg_in - a message from worker `from`. */
void engine_relay_msg_in(engine *e, int from, const engine_relay_msg *m, uint64_t now_us);

#endif
