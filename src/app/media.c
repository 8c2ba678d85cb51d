/* media.c - N media workers, the rings between them, and where each session lives. */
#include "app/media.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/placement.h"
#include "app/worker.h"
#include "core/err.h"
#include "core/log.h"
#include "core/map.h"
#include "core/spsc.h"
#include "net/net.h"

/* Slots per ring between two workers: a second of a few video streams. Pages of a ring
 * become resident only once written, so an idle pair costs next to nothing. */
#define MEDIA_RING_SLOTS 1024

/* A stream or room (by name): its sessions, and its subscribers' downtracks on its home
 * worker, which decide when it spreads (placement.h). */
typedef struct media_group {
    size_t at_home;
    int sessions;
    size_t name_len;
    char name[];
} media_group;

/* Where a session lives, what its caller asked for, and what it counts in its group. */
typedef struct media_session {
    int worker;
    int origin;
    bool report_close;
    media_group *group;
    size_t downtracks; /* bound m= sections as of its last add or update */
} media_session;

struct media {
    int n;
    size_t spread_threshold;
    int max_sessions, max_subscribers_per_track;
    worker *workers[ENGINE_MAX_WORKERS];
    j_spsc *rings[ENGINE_MAX_WORKERS * ENGINE_MAX_WORKERS]; /* [from * n + to] */
    j_map sessions; /* id -> media_session */
    j_map groups;   /* stream or room name -> media_group */
    /* The per-client and half-open counts of every worker's sessions (limits.h): the
     * engines update it under the lock, once per session event. */
    session_limits limits;
    pthread_mutex_t limits_lock;
    bool sessions_changed; /* since the last media_release_memory trim */
    uint64_t sessions_changed_us;
};

/* ---------------------------------------------------------------- lifetime */

/* The i-th CPU this process may run on, or -1 when there are fewer CPUs than workers
 * (then the scheduler places the threads). */
static int worker_cpu(int index, int workers)
{
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < workers)
        return -1;
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &allowed) && seen++ == index) return cpu;
    return -1;
}

media *media_start(const media_config *c, char *err, size_t err_cap)
{
    if (c->workers < 1 || c->workers > ENGINE_MAX_WORKERS) {
        snprintf(err, err_cap, "workers must be 1 to %d", ENGINE_MAX_WORKERS);
        return NULL;
    }
    uint16_t base = j_addr_port(&c->listen);
    if (base != 0 && base + c->workers - 1 > 65535) {
        snprintf(err, err_cap, "media.port %u + %d workers runs past port 65535", base,
                 c->workers);
        return NULL;
    }
    media *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    m->n = c->workers;
    m->spread_threshold = c->spread_threshold;
    session_limits_init(&m->limits, &c->engine.limits);
    pthread_mutex_init(&m->limits_lock, NULL);
    m->max_sessions = c->engine.max_sessions;
    m->max_subscribers_per_track = c->engine.max_subscribers_per_track;
    for (int i = 0; i < m->n; i++) {
        engine_config ec = c->engine;
        ec.worker = i;
        ec.shared_limits = &m->limits;
        ec.shared_limits_lock = &m->limits_lock;
        j_addr addr = c->listen;
        if (base) j_addr_set_port(&addr, (uint16_t)(base + i));
        m->workers[i] = worker_new(&ec, &addr, err, err_cap);
        if (!m->workers[i]) goto fail;
    }
    for (int from = 0; from < m->n; from++) {
        for (int to = 0; to < m->n; to++) {
            if (from == to) continue;
            j_spsc *ring = j_spsc_new(sizeof(worker_slot), MEDIA_RING_SLOTS);
            if (!ring) {
                snprintf(err, err_cap, "out of memory for the rings between workers");
                goto fail;
            }
            m->rings[from * m->n + to] = ring;
            worker_link(m->workers[from], m->workers[to], ring);
        }
    }
    for (int i = 0; i < m->n; i++)
        if (worker_run(m->workers[i], worker_cpu(i, m->n), err, err_cap) != J_OK) goto fail;
    return m;
fail:
    media_stop(m);
    return NULL;
}

void media_stop(media *m)
{
    if (!m) return;
    /* Every thread stops before anything is freed: a stopping engine may still queue
     * messages for the others. */
    for (int i = 0; i < m->n; i++) worker_stop(m->workers[i]);
    for (int i = 0; i < m->n; i++) worker_free(m->workers[i]);
    for (int i = 0; i < m->n * m->n; i++) j_spsc_free(m->rings[i]);
    for (size_t b = 0; b < m->sessions.n_buckets; b++)
        for (j_map_entry *it = m->sessions.buckets[b]; it; it = it->next) free(it->value);
    j_map_clear(&m->sessions);
    for (size_t b = 0; b < m->groups.n_buckets; b++)
        for (j_map_entry *it = m->groups.buckets[b]; it; it = it->next) free(it->value);
    j_map_clear(&m->groups);
    session_limits_clear(&m->limits);
    pthread_mutex_destroy(&m->limits_lock);
    free(m);
}

int media_workers(const media *m) { return m->n; }

uint16_t media_port(const media *m, int worker) { return worker_media_port(m->workers[worker]); }

/* ---------------------------------------------------------------- sessions */

static media_session *find_session(media *m, const char *id)
{
    return j_map_get(&m->sessions, id, strlen(id));
}

static media_group *join_group(media *m, const char *name)
{
    size_t len = strlen(name);
    media_group *g = j_map_get(&m->groups, name, len);
    if (!g) {
        g = calloc(1, sizeof *g + len + 1);
        if (!g) return NULL;
        g->name_len = len;
        memcpy(g->name, name, len + 1);
        if (j_map_put(&m->groups, name, len, g) != J_OK) {
            free(g);
            return NULL;
        }
    }
    g->sessions++;
    return g;
}

/* The session's downtracks become n; its group counts them while it is on the home worker. */
static void count_downtracks(media_session *ms, size_t n)
{
    if (ms->worker == ms->origin) ms->group->at_home = ms->group->at_home - ms->downtracks + n;
    ms->downtracks = n;
}

static size_t bound_downtracks(const engine_session *s)
{
    size_t n = 0;
    if (s->role == PEER_SUBSCRIBER)
        for (int i = 0; i < s->neg->media_count; i++) n += s->binds[i].track_id[0] != 0;
    return n;
}

/* Removes the session (already out of m->sessions) from its group and frees it. */
static void forget_session(media *m, media_session *ms)
{
    if (!ms) return;
    count_downtracks(ms, 0);
    if (--ms->group->sessions == 0)
        free(j_map_remove(&m->groups, ms->group->name, ms->group->name_len));
    free(ms);
}

typedef struct health_call {
    const char *id;
    engine_session_health *out;
    int result;
} health_call;

static void do_health(engine *e, void *arg)
{
    health_call *c = arg;
    c->result = engine_session_health_get(e, c->id, c->out);
}

static int health_on(media *m, int worker, const char *id, engine_session_health *out)
{
    health_call c = {.id = id, .out = out, .result = J_ENOTFOUND};
    return worker_call(m->workers[worker], do_health, &c) == J_OK ? c.result : J_EIO;
}

/* An id still known here whose session already ended (not drained yet) may be reused. */
static bool id_in_use(media *m, const char *id)
{
    media_session *ms = find_session(m, id);
    if (!ms) return false;
    engine_session_health h;
    if (health_on(m, ms->worker, id, &h) != J_ENOTFOUND) return true;
    forget_session(m, j_map_remove(&m->sessions, id, strlen(id)));
    return false;
}

typedef struct count_call {
    engine_session *s;
} count_call;

static void do_count_subscribers(engine *e, void *arg)
{
    engine_session *s = ((count_call *)arg)->s;
    for (int i = 0; i < s->neg->media_count; i++)
        if (s->binds[i].track_id[0])
            s->binds[i].subscribers_elsewhere += engine_track_subscribers(e, s->binds[i].track_id);
}

/* Each bound track's subscribers on the other workers, for the per-track limit. */
static void count_subscribers_elsewhere(media *m, engine_session *s, int worker)
{
    for (int i = 0; i < s->neg->media_count; i++) s->binds[i].subscribers_elsewhere = 0;
    count_call c = {.s = s};
    for (int w = 0; w < m->n; w++)
        if (w != worker) worker_call(m->workers[w], do_count_subscribers, &c);
}

typedef struct session_call {
    engine_session *s;
    bool update;
    int result;
} session_call;

static void do_session(engine *e, void *arg)
{
    session_call *c = arg;
    c->result = c->update ? engine_update_session(e, c->s, j_now_us())
                          : engine_add_session(e, c->s, j_now_us());
}

static int session_on(media *m, int worker, engine_session *s, bool update)
{
    if (s->role == PEER_SUBSCRIBER && m->n > 1) count_subscribers_elsewhere(m, s, worker);
    session_call c = {.s = s, .update = update, .result = J_EIO};
    if (worker_call(m->workers[worker], do_session, &c) != J_OK) return J_EIO;
    return c.result;
}

static void note_sessions_changed(media *m)
{
    m->sessions_changed = true;
    m->sessions_changed_us = j_now_us();
}

int media_add_session(media *m, const char *name, engine_session *s, int *worker)
{
    s->refused_by = LIMIT_NONE;
    if (id_in_use(m, s->id)) return J_ESTATE;
    if ((int)m->sessions.count >= m->max_sessions) {
        s->refused_by = LIMIT_SESSIONS;
        pthread_mutex_lock(&m->limits_lock);
        session_limits_count_refused(&m->limits, LIMIT_SESSIONS);
        pthread_mutex_unlock(&m->limits_lock);
        return J_ELIMIT;
    }
    media_session *ms = calloc(1, sizeof *ms);
    media_group *g = ms ? join_group(m, name) : NULL;
    if (!g) {
        free(ms);
        return J_ENOMEM;
    }
    int home = placement_home(name, m->n);
    int target = home;
    if (s->role == PEER_SUBSCRIBER) {
        size_t load[ENGINE_MAX_WORKERS];
        for (int w = 0; w < m->n; w++) load[w] = worker_downtracks(m->workers[w]);
        target = placement_subscriber(home, g->at_home, load, m->n, m->spread_threshold);
    }
    *ms = (media_session){
        .worker = target, .origin = home, .report_close = s->report_close, .group = g};
    if (j_map_put(&m->sessions, s->id, strlen(s->id), ms) != J_OK) {
        forget_session(m, ms);
        return J_ENOMEM;
    }
    s->origin = home;
    s->report_close = true; /* every end is drained, so that the entry is forgotten */
    note_sessions_changed(m);
    int rc = session_on(m, target, s, false);
    s->report_close = ms->report_close;
    if (rc != J_OK) {
        forget_session(m, j_map_remove(&m->sessions, s->id, strlen(s->id)));
        return rc;
    }
    count_downtracks(ms, bound_downtracks(s));
    *worker = target;
    return J_OK;
}

int media_update_session(media *m, engine_session *s, int *worker)
{
    media_session *ms = find_session(m, s->id);
    if (!ms) return J_ENOTFOUND;
    s->origin = ms->origin;
    bool report_close = s->report_close;
    s->report_close = true;
    int rc = session_on(m, ms->worker, s, true);
    s->report_close = report_close;
    if (rc == J_OK) count_downtracks(ms, bound_downtracks(s));
    *worker = ms->worker;
    return rc;
}

typedef struct remove_call {
    const char *id, *owner, *reason;
    int result;
} remove_call;

static void do_remove(engine *e, void *arg)
{
    remove_call *c = arg;
    c->result = engine_remove_session(e, c->id, c->owner, c->reason);
}

int media_remove_session(media *m, const char *id, const char *owner, const char *reason)
{
    media_session *ms = find_session(m, id);
    if (!ms) return J_ENOTFOUND;
    remove_call c = {.id = id, .owner = owner, .reason = reason, .result = J_ENOTFOUND};
    if (worker_call(m->workers[ms->worker], do_remove, &c) != J_OK) return J_EIO;
    if (c.result == J_OK) {
        forget_session(m, j_map_remove(&m->sessions, id, strlen(id)));
        note_sessions_changed(m);
    }
    return c.result;
}

int media_session_health(media *m, const char *id, engine_session_health *out)
{
    media_session *ms = find_session(m, id);
    return ms ? health_on(m, ms->worker, id, out) : J_ENOTFOUND;
}

typedef struct mute_call {
    const char *track_id;
    bool muted;
    bool found;
} mute_call;

static void do_mute(engine *e, void *arg)
{
    mute_call *c = arg;
    if (engine_set_track_muted(e, c->track_id, c->muted, j_now_us()) == J_OK) c->found = true;
}

int media_set_track_muted(media *m, const char *track_id, bool muted)
{
    /* Only the home track changes; it tells its mirrors, in order with its packets. */
    mute_call c = {.track_id = track_id, .muted = muted};
    for (int w = 0; w < m->n; w++) worker_call(m->workers[w], do_mute, &c);
    return c.found ? J_OK : J_ENOTFOUND;
}

typedef struct paused_call {
    const char *id;
    const char *const *track_ids;
    size_t n;
    int result;
} paused_call;

static void do_paused(engine *e, void *arg)
{
    paused_call *c = arg;
    c->result = engine_set_paused(e, c->id, c->track_ids, c->n, j_now_us());
}

int media_set_paused(media *m, const char *id, const char *const *track_ids, size_t n)
{
    media_session *ms = find_session(m, id);
    if (!ms) return J_ENOTFOUND;
    paused_call c = {.id = id, .track_ids = track_ids, .n = n, .result = J_ENOTFOUND};
    return worker_call(m->workers[ms->worker], do_paused, &c) == J_OK ? c.result : J_EIO;
}

typedef struct layers_call {
    const char *id, *track_id;
    const engine_layer_prefs *prefs;
    int result;
} layers_call;

static void do_layers(engine *e, void *arg)
{
    layers_call *c = arg;
    c->result = engine_set_layer_prefs(e, c->id, c->track_id, c->prefs);
}

int media_set_layer_prefs(media *m, const char *id, const char *track_id,
                          const engine_layer_prefs *prefs)
{
    media_session *ms = find_session(m, id);
    if (!ms) return J_ENOTFOUND;
    layers_call c = {.id = id, .track_id = track_id, .prefs = prefs, .result = J_ENOTFOUND};
    return worker_call(m->workers[ms->worker], do_layers, &c) == J_OK ? c.result : J_EIO;
}

typedef struct levels_call {
    const char *const *track_ids;
    sfu_audio_levels *out;
    size_t n;
} levels_call;

static void do_levels(engine *e, void *arg)
{
    levels_call *c = arg;
    for (size_t i = 0; i < c->n; i++) engine_take_audio_levels(e, c->track_ids[i], &c->out[i]);
}

void media_take_audio_levels(media *m, const char *const *track_ids, sfu_audio_levels *out,
                             size_t n)
{
    memset(out, 0, n * sizeof *out);
    /* Only a track's home copy answers (engine_take_audio_levels), so nothing counts twice. */
    levels_call c = {.track_ids = track_ids, .out = out, .n = n};
    for (int w = 0; w < m->n; w++) worker_call(m->workers[w], do_levels, &c);
}

typedef struct published_call {
    const engine_bind *binds;
    sfu_source *out;
    int n;
} published_call;

static void do_published(engine *e, void *arg)
{
    published_call *c = arg;
    for (int i = 0; i < c->n; i++)
        if (c->binds[i].track_id[0]) engine_track_published(e, c->binds[i].track_id, &c->out[i]);
}

int media_published(media *m, const char *name, const engine_bind *binds, int n, sfu_source *out)
{
    memset(out, 0, (size_t)n * sizeof *out);
    /* A name's publishers are on its home worker (media_add_session puts them there). */
    published_call c = {.binds = binds, .out = out, .n = n};
    return worker_call(m->workers[placement_home(name, m->n)], do_published, &c);
}

typedef struct closed_entry {
    char id[PEER_ID_LEN];
    const char *reason;
} closed_entry;

typedef struct drain_call {
    closed_entry *closed;
    size_t n_closed, cap_closed;
    engine_codec_notice *notices;
    size_t n_notices, cap_notices;
} drain_call;

/* Room for one more of size bytes in *list (n used of *cap); false when out of memory. */
static bool grow(void **list, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) return true;
    size_t more = *cap ? *cap * 2 : 16;
    void *grown = realloc(*list, more * size);
    if (!grown) return false;
    *list = grown;
    *cap = more;
    return true;
}

static void collect_closed(void *ctx, const char *id, const char *reason)
{
    drain_call *c = ctx;
    if (!grow((void **)&c->closed, c->n_closed, &c->cap_closed, sizeof *c->closed)) return;
    snprintf(c->closed[c->n_closed].id, sizeof c->closed[0].id, "%s", id);
    c->closed[c->n_closed++].reason = reason;
}

static void collect_notice(void *ctx, const engine_codec_notice *n)
{
    drain_call *c = ctx;
    if (!grow((void **)&c->notices, c->n_notices, &c->cap_notices, sizeof *c->notices)) return;
    c->notices[c->n_notices++] = *n;
}

static void do_drain(engine *e, void *arg)
{
    engine_drain_closed(e, collect_closed, arg);
    engine_drain_codec_notices(e, collect_notice, arg);
}

void media_drain_events(media *m, const media_events *ev)
{
    drain_call c = {0};
    for (int w = 0; w < m->n; w++) worker_call(m->workers[w], do_drain, &c);
    for (size_t i = 0; i < c.n_closed; i++) {
        const closed_entry *e = &c.closed[i];
        media_session *ms = j_map_remove(&m->sessions, e->id, strlen(e->id));
        if (ms && ms->report_close) ev->closed(ev->ctx, e->id, e->reason);
        forget_session(m, ms);
    }
    if (c.n_closed) note_sessions_changed(m);
    for (size_t i = 0; i < c.n_notices; i++) {
        const media_session *ms = find_session(m, c.notices[i].session_id);
        if (ms && ms->report_close) ev->codec(ev->ctx, &c.notices[i]);
    }
    free(c.closed);
    free(c.notices);
}

/* Quiet time after the last session change before the heap is trimmed: a burst of joins
 * or leaves is trimmed once, after it. */
#define MEDIA_TRIM_AFTER_US 2000000u

void media_release_memory(media *m)
{
    if (!m->sessions_changed || j_now_us() - m->sessions_changed_us < MEDIA_TRIM_AFTER_US)
        return;
    m->sessions_changed = false;
    malloc_trim(0);
}

/* ---------------------------------------------------------------- stats */

static void add_int(json_t *into, const char *key, const json_t *from)
{
    json_int_t v = json_integer_value(json_object_get(into, key)) +
                   json_integer_value(json_object_get(from, key));
    json_object_set_new(into, key, json_integer(v));
}

/* One entry per track id: the home copy's state and counters, subscribers of all copies. */
static void merge_track(json_t *tracks, json_t *index, json_t *t, int worker)
{
    const char *id = json_string_value(json_object_get(t, "id"));
    if (!id) return;
    json_t *slot = json_object_get(index, id);
    json_t *merged = slot ? json_array_get(tracks, (size_t)json_integer_value(slot)) : NULL;
    bool mirror = json_is_true(json_object_get(t, "mirror"));
    if (!merged) {
        merged = json_pack("{s:s, s:O, s:i}", "id", id, "kind", json_object_get(t, "kind"),
                           "workers", 0);
        json_object_set_new(index, id, json_integer((json_int_t)json_array_size(tracks)));
        json_array_append_new(tracks, merged);
    }
    add_int(merged, "subscribers", t);
    json_object_set_new(merged, "workers",
                        json_integer(json_integer_value(json_object_get(merged, "workers")) + 1));
    if (!mirror || !json_object_get(merged, "home")) {
        static const char *const home_fields[] = {"live", "muted", "packets_in", "bytes_in"};
        for (size_t k = 0; k < sizeof home_fields / sizeof home_fields[0]; k++)
            json_object_set(merged, home_fields[k], json_object_get(t, home_fields[k]));
        if (!mirror) json_object_set_new(merged, "home", json_integer(worker));
    }
}

json_t *media_stats(media *m, bool with_sessions)
{
    static const char *const summed[] = {"sessions", "publishers", "subscribers", "downtracks",
                                         "dropped_datagrams"};
    json_t *total = json_object(), *dropped = json_object(), *tracks = json_array(),
           *index = json_object(), *sessions = json_array(), *workers = json_array(),
           *limits = NULL;
    for (int w = 0; w < m->n; w++) {
        json_t *st = worker_stats(m->workers[w], with_sessions);
        if (!st) {
            json_decref(total);
            total = NULL;
            break;
        }
        for (size_t k = 0; k < sizeof summed / sizeof summed[0]; k++) add_int(total, summed[k], st);
        const char *reason;
        json_t *v;
        json_object_foreach(json_object_get(st, "dropped"), reason, v)
            add_int(dropped, reason, json_object_get(st, "dropped"));
        /* One session table for all workers: its counts once, the timeouts summed. */
        if (!limits)
            limits = json_deep_copy(json_object_get(st, "limits"));
        else
            add_int(limits, "handshake_timeouts", json_object_get(st, "limits"));
        size_t i, mirrors = 0;
        json_array_foreach(json_object_get(st, "tracks"), i, v) {
            merge_track(tracks, index, v, w);
            mirrors += json_is_true(json_object_get(v, "mirror"));
        }
        json_array_foreach(json_object_get(st, "session_list"), i, v) {
            json_object_set_new(v, "worker", json_integer(w));
            json_array_append(sessions, v);
        }
        json_array_append_new(
            workers,
            json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:I, s:I, s:O, s:O, s:O, s:O, s:O}",
                      "worker", json_object_get(st, "worker"), "port", json_object_get(st, "port"),
                      "sessions", json_object_get(st, "sessions"), "publishers",
                      json_object_get(st, "publishers"), "subscribers",
                      json_object_get(st, "subscribers"), "downtracks",
                      json_object_get(st, "downtracks"), "tracks",
                      (json_int_t)json_array_size(json_object_get(st, "tracks")), "mirrors",
                      (json_int_t)mirrors, "relay", json_object_get(st, "relay"), "latency_us",
                      json_object_get(st, "latency_us"), "sessions_by_state",
                      json_object_get(st, "sessions_by_state"), "session_totals",
                      json_object_get(st, "session_totals"), "udp", json_object_get(st, "udp")));
        json_decref(st);
    }
    json_decref(index);
    if (!total) {
        json_decref(limits);
        json_decref(dropped);
        json_decref(tracks);
        json_decref(sessions);
        json_decref(workers);
        return NULL;
    }
    json_object_set_new(total, "dropped", dropped);
    if (limits) json_object_set_new(total, "limits", limits);
    json_object_set_new(total, "tracks", tracks);
    json_object_set_new(total, "session_list", sessions);
    json_object_set_new(total, "workers", workers);
    return total;
}
