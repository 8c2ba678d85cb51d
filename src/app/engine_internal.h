/* engine_internal.h - the engine's state, shared by engine.c (sessions, routing) and
 * engine_relay.c (tracks mirrored across workers). Not for other files. */
#ifndef J_APP_ENGINE_INTERNAL_H
#define J_APP_ENGINE_INTERNAL_H

#include "app/engine.h"
#include "core/map.h"

#define ENGINE_NO_RELAY UINT32_MAX

/* Why a datagram was dropped before reaching a session; counted for the stats API. */
typedef enum {
    DROP_UNKNOWN_KIND = 0, /* not STUN, DTLS, RTP or RTCP */
    DROP_BAD_STUN,         /* unparseable STUN */
    DROP_UNKNOWN_UFRAG,    /* ICE check for no session of ours */
    DROP_UNKNOWN_SOURCE,   /* DTLS/SRTP from an address that has not passed ICE */
    DROP_STALE_SOURCE,     /* DTLS/SRTP from an address whose ICE consent lapsed */
    DROP_REASONS,
} drop_reason;

/* A track and who publishes into it (claimed when the session is created, before its
 * source attaches on connection, so two publishers cannot race for one track).
 *
 * Its origin is the worker whose engine has the publisher. Here (origin == cfg.worker) it
 * is the home track: its source is a local publisher, and relay_to names the workers that
 * mirror it. Elsewhere it is a mirror: its source is the home track's packets, handed over
 * by that worker once it has answered our subscribe (linked). */
typedef struct engine_track {
    sfu_track *t;
    engine *e;
    peer *publisher; /* NULL when unclaimed; always NULL on a mirror */
    int origin;
    int binds;          /* subscribers' m= sections bound to it, connected or not */
    uint32_t relay_id;  /* home: its id in messages to mirrors; mirror: the home's id */
    bool linked;        /* mirror: relay_id is known */
    uint64_t relay_to;  /* home: bit per worker mirroring it */
} engine_track;

#define ENGINE_CLOSED_QUEUE 256

typedef struct closed_session {
    char id[PEER_ID_LEN];
    const char *reason; /* static string */
} closed_session;

/* Relay id -> track, for one direction of one pair of workers. */
typedef struct relay_table {
    engine_track **tracks;
    uint32_t cap;
} relay_table;

struct engine {
    engine_config cfg;
    engine_io io;
    peer_env env;
    j_map by_ufrag;  /* local ICE ufrag -> peer */
    j_map by_addr;   /* validated transport address -> peer */
    j_map by_id;     /* session id -> peer */
    j_map tracks;    /* track id -> engine_track */
    j_map report_close; /* session id -> itself, for sessions whose end is queued */
    peer **peers;    /* owned */
    size_t n_peers, cap_peers;
    size_t downtracks; /* subscribers' bound m= sections: this engine's share of the load */
    closed_session closed[ENGINE_CLOSED_QUEUE]; /* ring of ends not yet drained */
    size_t closed_head, closed_count;
    uint64_t dropped[DROP_REASONS];
    session_limits limits; /* unless cfg.shared_limits */
    uint64_t handshake_timeouts;
    relay_table relayed;                    /* home tracks other workers mirror */
    relay_table mirrors[ENGINE_MAX_WORKERS]; /* by home worker: our mirrors of its tracks */
    uint64_t relay_packets_out, relay_packets_in, relay_unlinked;
    /* Counters of the sessions that ended here, by peer_role: with the live sessions' own
     * they make totals that never step back (/metrics). */
    peer_stats ended_stats[2];
    int64_t ended_packets_lost[2];
    /* Subscribers' downtracks (by address) whose track's source they cannot decode, as last
     * noticed; and the notices not yet drained, one per subscriber m= section. */
    j_map undecodable;
    engine_codec_notice *notices;
    size_t n_notices, cap_notices;
};

engine_track *engine_track_find(engine *e, const char *id);
/* engine_track_get - the track id, created (with that origin) when missing. NULL when out
 * of memory. A new mirror subscribes to its home at once. */
engine_track *engine_track_get(engine *e, const char *id, sfu_kind kind, int origin);
/* engine_track_release_if_unused - free it once nothing needs it (no publisher, no bound
 * subscriber, no mirror elsewhere); a mirror unsubscribes from its home. */
void engine_track_release_if_unused(engine *e, engine_track *et);
bool engine_track_is_mirror(const engine_track *et);
/* engine_check_codecs - after t's source (re)attached: each subscriber of t that can take
 * none of the codecs it sends, or can again, is logged and noticed (engine_codec_notice). */
void engine_check_codecs(engine *e, const sfu_track *t);

/* engine_relay.c: the home side tells its mirrors what changed. */
void engine_relay_source_changed(engine *e, engine_track *et);
void engine_relay_muted(engine *e, engine_track *et);
/* A mirror appears / goes away: subscribe to / unsubscribe from its home. */
void engine_relay_subscribe(engine *e, engine_track *et);
void engine_relay_unsubscribe(engine *e, engine_track *et);
void engine_relay_free(engine *e);

#endif
