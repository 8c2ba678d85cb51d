/* worker.c - binds the engine to a thread, an event loop and a UDP socket. */
#include "app/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/log.h"

#define WORKER_TICK_MS 10

struct worker {
    j_loop *loop;
    j_udp *udp;
    engine *engine;
    pthread_t thread;
};

static void on_datagram(void *ctx, const j_addr *from, uint8_t *buf, size_t len, uint64_t now)
{
    worker *w = ctx;
    engine_handle_datagram(w->engine, now, from, buf, len);
}

static void on_tick(void *ctx, uint64_t now_us)
{
    worker *w = ctx;
    engine_handle_timeout(w->engine, now_us);
    j_udp_flush(w->udp);
}

static void send_datagram(void *ctx, const j_addr *to, const uint8_t *buf, size_t len)
{
    worker *w = ctx;
    j_udp_send(w->udp, to, buf, len);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    j_loop_run(w->loop);
    return NULL;
}

worker *worker_start(const engine_config *cfg, const j_addr *media_addr, char *err,
                     size_t err_cap)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    w->loop = j_loop_new(WORKER_TICK_MS, on_tick, w);
    if (!w->loop) {
        snprintf(err, err_cap, "cannot create event loop");
        free(w);
        return NULL;
    }
    w->udp = j_udp_open(w->loop, media_addr, on_datagram, w, err, err_cap);
    if (!w->udp) {
        j_loop_free(w->loop);
        free(w);
        return NULL;
    }
    j_addr bound = *media_addr;
    j_addr_set_port(&bound, j_udp_port(w->udp));
    engine_io io = {.send = send_datagram, .ctx = w};
    w->engine = engine_new(cfg, &bound, &io, err, err_cap);
    if (!w->engine) {
        j_udp_close(w->udp);
        j_loop_free(w->loop);
        free(w);
        return NULL;
    }
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        snprintf(err, err_cap, "cannot start worker thread");
        engine_free(w->engine);
        j_udp_close(w->udp);
        j_loop_free(w->loop);
        free(w);
        return NULL;
    }
    return w;
}

uint16_t worker_media_port(const worker *w) { return j_udp_port(w->udp); }

typedef struct call_ctx {
    worker *w;
    void (*fn)(engine *e, void *arg);
    void *arg;
} call_ctx;

static void call_trampoline(void *arg)
{
    call_ctx *c = arg;
    c->fn(c->w->engine, c->arg);
    j_udp_flush(c->w->udp); /* a call may have queued datagrams (e.g. a keyframe request) */
}

int worker_call(worker *w, void (*fn)(engine *e, void *arg), void *arg)
{
    call_ctx c = {.w = w, .fn = fn, .arg = arg};
    return j_loop_call(w->loop, call_trampoline, &c);
}

void worker_stop(worker *w)
{
    if (!w) return;
    j_loop_stop(w->loop);
    pthread_join(w->thread, NULL);
    engine_free(w->engine);
    j_udp_close(w->udp);
    j_loop_free(w->loop);
    free(w);
}
