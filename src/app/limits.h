/* limits.h - admission control per client address: request rate and session counts.
 *
 * Sans-I/O: addresses come in as text, time as now_us; nothing here logs, sleeps or
 * reads the clock. Both tables have bounded memory:
 *
 *   rate_limiter    a token bucket per client (GCRA: one deadline per client) in a fixed
 *                   set-associative table allocated once. When a set is full, the entry
 *                   whose bucket is closest to full is evicted; a client whose bucket had
 *                   refilled loses nothing by it. Used on the HTTP thread for every request.
 *   session_limits  exact counts of live and half-open sessions (created, DTLS not yet
 *                   completed) per client and per server. It holds one entry per live
 *                   session and per client with a session, so it never outgrows
 *                   limits.max_sessions. Used on the media worker's thread by the engine.
 *
 * A client is an IP address; IPv6 clients count per /64, since one host commonly holds a
 * whole /64 and could otherwise spread its requests over 2^64 addresses.
 */
#ifndef J_APP_LIMITS_H
#define J_APP_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/map.h"

/* A client address reduced to what the limits count by: 4 bytes (IPv4), 8 (an IPv6 /64),
 * or 0 for an address that is not an IP literal (all such clients share one entry). */
typedef struct client_key {
    uint8_t len;
    uint8_t bytes[8];
} client_key;

/* client_key_from_ip - key of an IP literal ("192.0.2.1", "2001:db8::1", "::ffff:1.2.3.4"
 * counts as its IPv4 address). Anything else gives the shared zero-length key. */
void client_key_from_ip(client_key *k, const char *ip);

/* ---- request rate ------------------------------------------------------------------- */

typedef struct rate_limiter rate_limiter;

typedef enum {
    RATE_ALLOW = 0,
    RATE_DENY_FIRST, /* refused, and the first refusal since the client's bucket was full:
                        the moment to log it once */
    RATE_DENY,       /* refused again in the same episode */
} rate_verdict;

/* rate_limiter_new - per_second requests per client on average, up to burst at once
 * (both >= 1), for about `clients` clients tracked at a time (rounded up to a power of
 * two; 24 bytes each). seed randomises which clients share a set.
 * NULL on bad arguments or allocation failure. */
rate_limiter *rate_limiter_new(uint32_t per_second, uint32_t burst, size_t clients,
                               uint32_t seed);
void rate_limiter_free(rate_limiter *rl);

/* rate_limiter_check - take one token from k's bucket at now_us (monotonic). */
rate_verdict rate_limiter_check(rate_limiter *rl, const client_key *k, uint64_t now_us);

/* rate_limiter_denied - requests refused so far. */
uint64_t rate_limiter_denied(const rate_limiter *rl);

/* ---- sessions ----------------------------------------------------------------------- */

/* Which limit refused a session; per-client ones answer 429, the others 503. */
typedef enum {
    LIMIT_NONE = 0,
    LIMIT_SESSIONS,             /* limits.max_sessions */
    LIMIT_SUBSCRIBERS_PER_TRACK, /* limits.max_subscribers_per_track */
    LIMIT_SESSIONS_PER_CLIENT,  /* limits.max_sessions_per_ip */
    LIMIT_HALF_OPEN,            /* limits.max_half_open */
    LIMIT_HALF_OPEN_PER_CLIENT, /* limits.max_half_open_per_ip */
    LIMIT_KINDS,
} limit_kind;

/* limit_setting - the configuration setting behind a limit ("limits.max_sessions"). */
const char *limit_setting(limit_kind k);
/* limit_name - a short stable name for stats ("sessions_per_ip"). */
const char *limit_name(limit_kind k);
/* limit_per_client - true for limits one client hits by itself (HTTP 429, not 503). */
bool limit_per_client(limit_kind k);

typedef struct session_limits_config { /* 0 = no such limit */
    int max_sessions_per_client;
    int max_half_open;
    int max_half_open_per_client;
} session_limits_config;

typedef struct session_limits {
    session_limits_config cfg;
    j_map clients;  /* client_key bytes -> client_usage */
    j_map sessions; /* session id -> session_entry */
    int half_open;
    uint64_t refused[LIMIT_KINDS];
} session_limits;

void session_limits_init(session_limits *sl, const session_limits_config *cfg);
/* session_limits_clear - forget every session and client (frees the entries). */
void session_limits_clear(session_limits *sl);

/* session_limits_check - the per-client and half-open limit a new session from k would
 * exceed, or LIMIT_NONE. k NULL: a session of no particular client (server-wide only). */
limit_kind session_limits_check(const session_limits *sl, const client_key *k);

/* session_limits_add - count session id (new, hence half-open) for client k (NULL: for
 * the server only). J_OK, J_EINVAL (id already counted), J_ENOMEM. */
int session_limits_add(session_limits *sl, const char *id, const client_key *k);

/* session_limits_established - session id completed its handshake: no longer half-open.
 * Unknown ids and repeated calls are ignored. */
void session_limits_established(session_limits *sl, const char *id);

/* session_limits_remove - session id ended (either state). Unknown ids are ignored. */
void session_limits_remove(session_limits *sl, const char *id);

/* session_limits_count_refused - note a refusal for the stats. */
void session_limits_count_refused(session_limits *sl, limit_kind k);

#endif
