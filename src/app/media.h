/* media.h - the media plane: N workers (app/worker.h) behind one facade.
 *
 * WHIP/WHEP and the rooms talk to this, never to a worker. Each worker has its own thread,
 * event loop, engine and UDP port (media.port + its index). A session is placed by the
 * name it belongs to (a stream or a room: app/placement.h) and stays on that worker; its
 * SDP answer advertises that worker's port. Subscribers placed away from their tracks'
 * home worker get mirrors of the tracks (engine.h). Every session limit (limits.max_*,
 * per client and half-open ones included) counts across all workers.
 *
 * Every function runs on the HTTP thread (the control path); each blocks on worker_call,
 * and returns J_EIO once the workers are shutting down.
 */
#ifndef J_APP_MEDIA_H
#define J_APP_MEDIA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "app/engine.h"

typedef struct media media;

typedef struct media_config {
    int workers;             /* 1 .. ENGINE_MAX_WORKERS */
    size_t spread_threshold; /* downtracks on a home worker before subscribers go elsewhere */
    engine_config engine;    /* for every worker (engine.worker is set per worker) */
    j_addr listen;           /* worker i binds port + i; port 0: each picks a free one */
} media_config;

/* media_start - bind every worker's socket, link the workers and start their threads,
 * each pinned to its own CPU when there are at least as many CPUs as workers. NULL with
 * a message in err. */
media *media_start(const media_config *c, char *err, size_t err_cap);
/* media_stop - stop every worker and free everything (NULL is fine). */
void media_stop(media *m);
int media_workers(const media *m);
uint16_t media_port(const media *m, int worker);

/* media_add_session - place session s of name (stream or room), set s->origin to the name's
 * home worker and create it there; *worker is where it went (the answer advertises that
 * worker's port). J_OK, J_ESTATE (the id is taken, or a track already has a publisher),
 * J_ELIMIT (s->refused_by names the limit), or engine_add_session's other codes. */
int media_add_session(media *m, const char *name, engine_session *s, int *worker);
/* media_update_session - renegotiate session s->id on its worker (s->origin as at add).
 * engine_update_session's codes. */
int media_update_session(media *m, engine_session *s, int *worker);
/* media_remove_session - engine_remove_session on the session's worker. */
int media_remove_session(media *m, const char *id, const char *owner, const char *reason);
/* media_set_track_muted - J_OK when some worker has the track, else J_ENOTFOUND. */
int media_set_track_muted(media *m, const char *track_id, bool muted);
/* media_set_paused - engine_set_paused on subscriber session id's worker. */
int media_set_paused(media *m, const char *id, const char *const *track_ids, size_t n);
/* media_set_layer_prefs - engine_set_layer_prefs on subscriber session id's worker. */
int media_set_layer_prefs(media *m, const char *id, const char *track_id,
                          const engine_layer_prefs *prefs);
/* media_take_audio_levels - out[i] = the levels track_ids[i]'s source sent since the last
 * call (from its home worker; zero for a track that does not exist). */
void media_take_audio_levels(media *m, const char *const *track_ids, sfu_audio_levels *out,
                             size_t n);
/* media_published - out[i] (n entries) = what the publisher of binds[i].track_id sends
 * (engine_track_published on name's home worker, where its publishers are), or zeroed
 * (codec_count 0) when that track has no publisher or binds[i] no track. J_OK or J_EIO. */
int media_published(media *m, const char *name, const engine_bind *binds, int n, sfu_source *out);
/* media_session_health - engine_session_health_get on the session's worker. */
int media_session_health(media *m, const char *id, engine_session_health *out);
/* What the engines tell their sessions' owners, among the sessions added with report_close
 * (the others' are only forgotten). */
typedef struct media_events {
    /* closed - session id ended on its own (ICE consent lost, DTLS closed, failure) */
    void (*closed)(void *ctx, const char *id, const char *reason);
    /* codec - a subscriber's track became undecodable there, or decodable again
     * (engine_drain_codec_notices), after the closed ones */
    void (*codec)(void *ctx, const engine_codec_notice *n);
    void *ctx;
} media_events;
/* media_drain_events - every worker's events since the last call, in one call per worker.
 * Call it regularly: it also forgets the sessions of every worker that ended since. */
void media_drain_events(media *m, const media_events *ev);
/* media_release_memory - once sessions stopped coming and going for a while, hand the heap
 * they freed back to the system (their DTLS handshakes, SDP and JSON leave free chunks that
 * glibc's per-thread arenas keep resident: 10-15% of the RSS of 160 sessions). The caller's
 * regular tick; forwarding never waits on it, as nothing on the packet path allocates. */
void media_release_memory(media *m);
/* media_stats - engine_stats summed over the workers (tracks merged by id), plus
 * "workers": each worker's own summary (new reference; NULL when shutting down). Without
 * with_sessions "session_list" stays empty (it costs tens of microseconds per session). */
json_t *media_stats(media *m, bool with_sessions);

#endif
