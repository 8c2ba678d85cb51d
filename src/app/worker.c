/* worker.c - binds an engine to a thread, an event loop, a UDP socket and its rings. */
#include "app/worker.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

#define WORKER_TICK_MS 10
/* Slots taken from one ring per wake-up before the socket gets a turn again. */
#define WORKER_DRAIN_BUDGET 256

/* One direction of the link to another worker, as this worker sees it. */
typedef struct worker_link_state {
    worker *peer;
    j_spsc *out;      /* we write, peer reads; NULL when not linked */
    j_spsc *in;       /* peer writes, we read */
    bool pending;     /* pushed since the last publish */
    /* Messages waiting for room in `out` (it was full): they are never dropped, and
     * packets wait behind them (dropped) so that nothing overtakes a message. */
    engine_relay_msg **backlog;
    size_t backlog_head, backlog_count, backlog_cap;
} worker_link_state;

struct worker {
    int index;
    j_loop *loop;
    j_udp *udp;
    engine *engine;
    j_notify *notify; /* another worker published something for us */
    pthread_t thread;
    bool running;
    worker_link_state links[ENGINE_MAX_WORKERS];
    int links_end; /* links[i] for i >= links_end are unused */
    _Atomic size_t downtracks;
    uint64_t relay_full_drops, relay_wakeups, relay_msgs_out;
    /* What delays packets on this thread, besides its socket's own figures:
     * relay_wait - a relayed packet's arrival at its home worker -> its drain here;
     * tick, call - how long the timers of a tick / a call from another thread held the
     *              thread (no packet is read meanwhile). */
    j_hist relay_wait, tick, call;
};

/* ---------------------------------------------------------------- rings out */

static bool backlog_push(worker_link_state *l, engine_relay_msg *m)
{
    if (l->backlog_count == l->backlog_cap) {
        size_t cap = l->backlog_cap ? l->backlog_cap * 2 : 16;
        engine_relay_msg **q = malloc(cap * sizeof *q);
        if (!q) return false;
        for (size_t i = 0; i < l->backlog_count; i++)
            q[i] = l->backlog[(l->backlog_head + i) % l->backlog_cap];
        free(l->backlog);
        l->backlog = q;
        l->backlog_head = 0;
        l->backlog_cap = cap;
    }
    l->backlog[(l->backlog_head + l->backlog_count) % l->backlog_cap] = m;
    l->backlog_count++;
    return true;
}

/* Move backlogged messages into the ring while it has room; true when none is left. */
static bool backlog_flush(worker_link_state *l)
{
    while (l->backlog_count > 0) {
        worker_slot *s = j_spsc_write_slot(l->out);
        if (!s) return false;
        s->msg = l->backlog[l->backlog_head];
        j_spsc_push(l->out);
        l->pending = true;
        l->backlog_head = (l->backlog_head + 1) % l->backlog_cap;
        l->backlog_count--;
    }
    return true;
}

/* Make what was queued for l's worker visible and wake it. */
static void publish_link(worker_link_state *l)
{
    if (l->backlog_count) backlog_flush(l);
    if (!l->pending) return;
    l->pending = false;
    if (j_spsc_publish(l->out)) j_notify_signal(l->peer->notify);
}

static void relay_rtp(void *ctx, int to, uint32_t relay_id, uint8_t encoding, const uint8_t *rtp,
                      size_t len, uint64_t arrival_us, bool wake_now)
{
    worker *w = ctx;
    worker_link_state *l = &w->links[to];
    worker_slot *s;
    if (!l->out || len > sizeof s->rtp || !backlog_flush(l) || !(s = j_spsc_write_slot(l->out))) {
        w->relay_full_drops++;
        return;
    }
    s->msg = NULL;
    s->arrival_us = arrival_us;
    s->relay_id = relay_id;
    s->encoding = encoding;
    s->len = (uint16_t)len;
    memcpy(s->rtp, rtp, len);
    j_spsc_push(l->out);
    l->pending = true;
    if (wake_now) publish_link(l);
}

static void relay_msg(void *ctx, int to, const engine_relay_msg *m)
{
    worker *w = ctx;
    worker_link_state *l = &w->links[to];
    if (!l->out) return;
    engine_relay_msg *copy = malloc(sizeof *copy);
    if (!copy || !backlog_push(l, copy)) {
        J_ERROR("worker", "worker %d: out of memory for a message to worker %d", w->index, to);
        free(copy);
        return;
    }
    *copy = *m;
    w->relay_msgs_out++;
    backlog_flush(l);
}

/* End of a receive batch, tick, call or drain: make what was queued for other workers
 * visible and wake each of them once. */
static void publish_relays(void *ctx)
{
    worker *w = ctx;
    for (int i = 0; i < w->links_end; i++)
        if (w->links[i].out) publish_link(&w->links[i]);
}

static void flush_outputs(worker *w)
{
    publish_relays(w);
    j_udp_flush(w->udp);
}

/* ---------------------------------------------------------------- rings in */

/* Feed one ring's slots to the engine; false when the budget ran out first. */
static bool drain_ring(worker *w, int from, j_spsc *in, uint64_t now_us)
{
    bool empty = false;
    for (int n = 0; n < WORKER_DRAIN_BUDGET; n++) {
        worker_slot *s = j_spsc_read_slot(in);
        if (!s) {
            empty = true;
            break;
        }
        if (s->msg) {
            engine_relay_msg_in(w->engine, from, s->msg, now_us);
            free(s->msg);
        } else {
            uint64_t now = j_now_us(); /* a drain lasts: slots published meanwhile join it */
            j_hist_add(&w->relay_wait, now > s->arrival_us ? now - s->arrival_us : 0);
            j_udp_set_cause(w->udp, s->arrival_us);
            engine_relay_rtp_in(w->engine, from, s->relay_id, s->encoding, s->rtp, s->len,
                                s->arrival_us);
        }
        j_spsc_pop(in);
    }
    j_udp_set_cause(w->udp, 0);
    j_spsc_release(in);
    return empty;
}

static void on_notify(void *ctx)
{
    worker *w = ctx;
    w->relay_wakeups++;
    uint64_t now = j_now_us();
    bool more = false;
    for (int i = 0; i < w->links_end; i++)
        if (w->links[i].in && !drain_ring(w, i, w->links[i].in, now)) more = true;
    if (more) j_notify_signal(w->notify); /* the rest after the socket's turn */
    flush_outputs(w);
}

/* ---------------------------------------------------------------- loop callbacks */

static void on_datagram(void *ctx, const j_addr *from, uint8_t *buf, size_t len, uint64_t now)
{
    worker *w = ctx;
    engine_handle_datagram(w->engine, now, from, buf, len);
}

static void publish_load(worker *w)
{
    atomic_store_explicit(&w->downtracks, engine_downtracks(w->engine), memory_order_relaxed);
}

static void on_tick(void *ctx, uint64_t now_us)
{
    worker *w = ctx;
    engine_handle_timeout(w->engine, now_us);
    j_hist_add(&w->tick, j_now_us() - now_us);
    publish_load(w);
    flush_outputs(w);
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

/* ---------------------------------------------------------------- lifetime */

worker *worker_new(const engine_config *cfg, const j_addr *media_addr, char *err,
                   size_t err_cap)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    w->index = cfg->worker;
    atomic_init(&w->downtracks, 0);
    w->loop = j_loop_new(WORKER_TICK_MS, on_tick, w);
    w->notify = w->loop ? j_notify_new(w->loop, on_notify, w) : NULL;
    if (!w->notify) {
        snprintf(err, err_cap, "cannot create event loop");
        worker_free(w);
        return NULL;
    }
    w->udp = j_udp_open(w->loop, media_addr, on_datagram, w, err, err_cap);
    if (!w->udp) {
        worker_free(w);
        return NULL;
    }
    j_udp_on_batch_end(w->udp, publish_relays);
    j_addr bound = *media_addr;
    j_addr_set_port(&bound, j_udp_port(w->udp));
    engine_io io = {.send = send_datagram, .relay_rtp = relay_rtp, .relay_msg = relay_msg,
                    .ctx = w};
    w->engine = engine_new(cfg, &bound, &io, err, err_cap);
    if (!w->engine) {
        worker_free(w);
        return NULL;
    }
    return w;
}

void worker_link(worker *from, worker *to, j_spsc *ring)
{
    from->links[to->index].peer = to;
    from->links[to->index].out = ring;
    to->links[from->index].peer = from;
    to->links[from->index].in = ring;
    if (from->links_end <= to->index) from->links_end = to->index + 1;
    if (to->links_end <= from->index) to->links_end = from->index + 1;
}

int worker_run(worker *w, int cpu, char *err, size_t err_cap)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        snprintf(err, err_cap, "cannot start worker thread %d", w->index);
        return J_EIO;
    }
    w->running = true;
    char name[16];
    snprintf(name, sizeof name, "j-worker-%d", w->index);
    pthread_setname_np(w->thread, name);
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (pthread_setaffinity_np(w->thread, sizeof set, &set) != 0)
            J_WARN("worker", "worker %d: cannot pin to CPU %d", w->index, cpu);
    }
    return J_OK;
}

void worker_stop(worker *w)
{
    if (!w) return;
    if (w->running) {
        j_loop_stop(w->loop);
        pthread_join(w->thread, NULL);
        w->running = false;
    }
    engine_free(w->engine); /* may still queue messages for other workers... */
    w->engine = NULL;
    publish_relays(w); /* ...which their worker_free then finds and frees */
}

void worker_free(worker *w)
{
    if (!w) return;
    worker_stop(w);
    for (int i = 0; i < w->links_end; i++) {
        worker_link_state *l = &w->links[i];
        for (worker_slot *s; l->in && (s = j_spsc_read_slot(l->in)); j_spsc_pop(l->in))
            free(s->msg);
        for (size_t k = 0; k < l->backlog_count; k++)
            free(l->backlog[(l->backlog_head + k) % l->backlog_cap]);
        free(l->backlog);
    }
    j_udp_close(w->udp);
    j_notify_free(w->notify);
    j_loop_free(w->loop);
    free(w);
}

/* ---------------------------------------------------------------- other threads */

uint16_t worker_media_port(const worker *w) { return j_udp_port(w->udp); }

size_t worker_downtracks(const worker *w)
{
    return atomic_load_explicit(&w->downtracks, memory_order_relaxed);
}

typedef struct call_ctx {
    worker *w;
    void (*fn)(engine *e, void *arg);
    void *arg;
} call_ctx;

static void call_trampoline(void *arg)
{
    call_ctx *c = arg;
    uint64_t start = j_now_us();
    c->fn(c->w->engine, c->arg);
    j_hist_add(&c->w->call, j_now_us() - start);
    publish_load(c->w);
    flush_outputs(c->w); /* a call may have queued datagrams or messages */
}

int worker_call(worker *w, void (*fn)(engine *e, void *arg), void *arg)
{
    call_ctx c = {.w = w, .fn = fn, .arg = arg};
    return j_loop_call(w->loop, call_trampoline, &c);
}

/* Sessions per call while building the session list: ~20-30 us each, so a call holds the
 * worker well under a millisecond, and its packets go out between calls. */
#define WORKER_STATS_SESSIONS_PER_CALL 16

typedef struct stats_call {
    worker *w;
    json_t *stats;
    size_t next; /* the session list: where the next part starts */
} stats_call;

/* {count, p50, p90, p99, max, buckets: [[lowest value, count], ...] (the non-empty ones)}:
 * the buckets let a reader subtract an earlier reading to get the figures of a window. */
static json_t *hist_json(const j_hist *h)
{
    json_t *buckets = json_array();
    for (unsigned i = 0; i < J_HIST_BUCKETS; i++)
        if (h->buckets[i])
            json_array_append_new(buckets, json_pack("[I, I]", (json_int_t)j_hist_bucket_low(i),
                                                     (json_int_t)h->buckets[i]));
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "count", (json_int_t)h->count, "p50",
                     (json_int_t)j_hist_percentile(h, 0.5), "p90",
                     (json_int_t)j_hist_percentile(h, 0.9), "p99",
                     (json_int_t)j_hist_percentile(h, 0.99), "max", (json_int_t)h->max,
                     "buckets", buckets);
}

static json_t *latency_json(const worker *w)
{
    const j_udp_latency *u = j_udp_get_latency(w->udp);
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "rx_wait", hist_json(&u->rx_wait), "residence",
                     hist_json(&u->residence), "relay_wait", hist_json(&w->relay_wait), "tick",
                     hist_json(&w->tick), "call", hist_json(&w->call));
}

static void do_stats_summary(engine *e, void *arg)
{
    stats_call *c = arg;
    c->stats = engine_stats_summary(e);
    json_object_set_new(c->stats, "latency_us", latency_json(c->w));
    j_udp_counters u;
    j_udp_get_counters(c->w->udp, &u);
    json_object_set_new(c->stats, "udp",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "rx_datagrams",
                                  (json_int_t)u.rx_datagrams, "rx_bytes", (json_int_t)u.rx_bytes,
                                  "tx_datagrams", (json_int_t)u.tx_datagrams, "tx_bytes",
                                  (json_int_t)u.tx_bytes, "tx_errors", (json_int_t)u.tx_errors));
    json_t *relay = json_object_get(c->stats, "relay");
    if (!relay) return;
    json_object_set_new(relay, "messages_out", json_integer((json_int_t)c->w->relay_msgs_out));
    json_object_set_new(relay, "ring_full_drops",
                        json_integer((json_int_t)c->w->relay_full_drops));
    json_object_set_new(relay, "wakeups", json_integer((json_int_t)c->w->relay_wakeups));
}

static void do_stats_sessions(engine *e, void *arg)
{
    stats_call *c = arg;
    json_t *list = json_object_get(c->stats, "session_list");
    c->next = engine_stats_sessions(e, j_now_us(), c->next, WORKER_STATS_SESSIONS_PER_CALL, list);
}

json_t *worker_stats(worker *w, bool with_sessions)
{
    stats_call c = {.w = w};
    if (worker_call(w, do_stats_summary, &c) != J_OK) return NULL;
    json_int_t sessions =
        with_sessions ? json_integer_value(json_object_get(c.stats, "sessions")) : 0;
    json_object_set_new(c.stats, "session_list", json_array());
    /* In parts: the worker forwards between them (a whole list of 300 sessions held it
     * 6-9 ms). */
    for (size_t before = SIZE_MAX; c.next != before && c.next < (size_t)sessions;) {
        before = c.next;
        if (worker_call(w, do_stats_sessions, &c) != J_OK) {
            json_decref(c.stats);
            return NULL;
        }
    }
    json_object_set_new(c.stats, "worker", json_integer(w->index));
    json_object_set_new(c.stats, "port", json_integer(worker_media_port(w)));
    return c.stats;
}
