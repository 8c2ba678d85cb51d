/* worker.h - a media worker: one thread, one event loop, one UDP socket, one engine.
 *
 * The engine (all media state of the worker: peers, tracks) belongs to the worker's
 * thread. Other threads reach it only through worker_call(), which runs a function on
 * that thread and waits; nothing on the packet path takes a lock.
 *
 * Workers are linked pairwise (worker_link) by lock-free single-producer single-consumer
 * rings (core/spsc.h), one per direction: the engines' relayed packets (copied into
 * preallocated slots with their relay id and arrival time) and messages travel through
 * them in order. What a worker produced during a receive batch, a tick or a call is
 * published at its end, and each worker that got something is woken once (j_notify); it
 * drains its rings into its engine.
 */
#ifndef J_APP_WORKER_H
#define J_APP_WORKER_H

#include <jansson.h>

#include "app/engine.h"
#include "core/spsc.h"
#include "net/net.h"

typedef struct worker worker;

/* The slot of a ring between two workers: one relayed packet, or one message. */
typedef struct worker_slot {
    engine_relay_msg *msg; /* malloc'd message (freed by the reader), or NULL: a packet */
    uint64_t arrival_us;
    uint32_t relay_id;
    uint16_t len;
    uint8_t encoding; /* the simulcast encoding of the packet */
    uint8_t rtp[J_UDP_MTU];
} worker_slot;

/* worker_new - bind the media socket and create the engine (cfg->worker is its index);
 * the thread starts with worker_run. NULL with a message in err. */
worker *worker_new(const engine_config *cfg, const j_addr *media_addr, char *err,
                   size_t err_cap);
/* worker_link - from hands packets and messages for `to` to ring (slots of worker_slot),
 * which to reads. Before either runs. */
void worker_link(worker *from, worker *to, j_spsc *ring);
/* worker_run - start the thread; pinned to CPU cpu unless cpu < 0. J_OK or J_EIO. */
int worker_run(worker *w, int cpu, char *err, size_t err_cap);
/* worker_stop - stop the thread and free the engine. Its last messages may land in other
 * workers' rings: stop every worker before freeing any. */
void worker_stop(worker *w);
/* worker_free - free the rest, and the messages still queued for or by this worker. */
void worker_free(worker *w);

/* worker_call - run fn(engine, arg) on the worker's thread and wait for it. J_OK, or
 * J_ESTATE once the worker has stopped (fn did not run). */
int worker_call(worker *w, void (*fn)(engine *e, void *arg), void *arg);
uint16_t worker_media_port(const worker *w);
/* worker_downtracks - engine_downtracks as of the last call or tick; any thread. */
size_t worker_downtracks(const worker *w);
/* worker_stats - engine_stats plus the worker's own counters, its socket's ("udp") and
 * "latency_us" (where packets wait: net.h's j_udp_latency, relay_wait, tick and call), new
 * reference, or NULL once stopped. Blocks like worker_call, once for the summary and, with
 * with_sessions, once per 16 sessions of the session list (else it stays empty), so that
 * the worker forwards packets in between. */
json_t *worker_stats(worker *w, bool with_sessions);

#endif
