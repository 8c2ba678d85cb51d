/* worker.h - a media worker: one thread, one event loop, one UDP socket, one engine.
 *
 * The engine (all media state: peers, streams) belongs to the worker's thread.
 * Other threads reach it only through worker_call(), which runs a function on
 * that thread and waits; nothing on the packet path takes a lock.
 */
#ifndef J_APP_WORKER_H
#define J_APP_WORKER_H

#include "app/engine.h"
#include "net/net.h"

typedef struct worker worker;

/* worker_start - bind the media socket, create the engine and start the thread. */
worker *worker_start(const engine_config *cfg, const j_addr *media_addr, char *err,
                     size_t err_cap);
/* worker_stop - stop the thread and free everything it owned. */
void worker_stop(worker *w);
/* worker_call - run fn(engine, arg) on the worker's thread and wait for it. */
int worker_call(worker *w, void (*fn)(engine *e, void *arg), void *arg);
uint16_t worker_media_port(const worker *w);

#endif
