/* engine.h - all media state of one worker: sessions (peers) and streams.
 *
 * Sans-I/O: datagrams and time come in, datagrams leave through io->send.
 * Routes each datagram (RFC 7983 demux) to its peer: STUN requests by ICE
 * ufrag, everything else by the transport address ICE validated. Owns the
 * peers and the streams; creates a stream on its first session and frees it
 * with its last. Every function runs on the worker's thread.
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
    int max_sessions;
    int max_viewers_per_stream;
    session_limits_config limits; /* per client and half-open */
    uint64_t handshake_timeout_us; /* creation to DTLS connected, else the session closes */
} engine_config;

typedef struct engine_io {
    void (*send)(void *ctx, const j_addr *to, const uint8_t *buf, size_t len);
    void *ctx;
} engine_io;

engine *engine_new(const engine_config *cfg, const j_addr *bound, const engine_io *io,
                   char *err, size_t err_cap);
void engine_free(engine *e);

void engine_handle_datagram(engine *e, uint64_t now_us, const j_addr *from, uint8_t *buf,
                            size_t len);
void engine_handle_timeout(engine *e, uint64_t now_us);

/* engine_add_session - create a publisher or viewer peer for the client at client_ip (text,
 * counted by limits.h). J_OK; J_EEXIST-like conflict is reported as J_ESTATE (the stream
 * already has a live publisher: HTTP 409); J_ELIMIT when a limit is reached, *refused_by
 * naming it (HTTP 429 for per-client limits, 503 for the others). */
int engine_add_session(engine *e, const peer_params *p, const char *client_ip, uint64_t now_us,
                       limit_kind *refused_by);
/* engine_remove_session - end session id of that role on that stream; J_ENOTFOUND if none. */
int engine_remove_session(engine *e, peer_role role, const char *stream, const char *id);

/* engine_stats - a JSON snapshot for the API (new reference). */
json_t *engine_stats(engine *e, uint64_t now_us);

#endif
