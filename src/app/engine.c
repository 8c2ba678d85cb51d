/* engine.c - datagram routing, session and stream lifetimes for one worker. */
#include "app/engine.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/engine_internal.h"
#include "core/err.h"
#include "core/log.h"
#include "rtp/rtp.h"
#include "stun/stun.h"

/* The session table of limits.h: the engine's own, or the one every worker shares, locked
 * for the length of one session event (never per packet). */
static session_limits *limits_lock(engine *e)
{
    if (!e->cfg.shared_limits) return &e->limits;
    pthread_mutex_lock(e->cfg.shared_limits_lock);
    return e->cfg.shared_limits;
}

static void limits_unlock(engine *e)
{
    if (e->cfg.shared_limits) pthread_mutex_unlock(e->cfg.shared_limits_lock);
}

static const char *const drop_names[DROP_REASONS] = {
    "unknown_kind", "bad_stun", "unknown_ufrag", "unknown_source", "stale_source"};

/* A session's counters (peer_stats) by their names in the stats JSON: one table for a
 * session's own counters and the engine's totals over all of its sessions. */
static const struct {
    const char *name;
    size_t offset;
} session_counters[] = {
    {"rtp_in", offsetof(peer_stats, rtp_in)},
    {"rtp_in_bytes", offsetof(peer_stats, rtp_in_bytes)},
    {"rtp_out", offsetof(peer_stats, rtp_out)},
    {"rtp_out_bytes", offsetof(peer_stats, rtp_out_bytes)},
    {"rtcp_in", offsetof(peer_stats, rtcp_in)},
    {"rtcp_out", offsetof(peer_stats, rtcp_out)},
    {"srtp_errors", offsetof(peer_stats, srtp_errors)},
    {"srtp_replays", offsetof(peer_stats, srtp_replays)},
    {"ice_auth_failures", offsetof(peer_stats, ice_auth_failures)},
    {"unknown_ssrc", offsetof(peer_stats, unknown_ssrc)},
    {"pli_in", offsetof(peer_stats, pli_in)},
    {"fir_in", offsetof(peer_stats, fir_in)},
    {"pli_out", offsetof(peer_stats, pli_out)},
    {"nack_in", offsetof(peer_stats, nack_in)},
    {"nack_answered", offsetof(peer_stats, nack_answered)},
    {"nack_missed", offsetof(peer_stats, nack_missed)},
    {"nack_throttled", offsetof(peer_stats, nack_throttled)},
    {"nack_out", offsetof(peer_stats, nack_out)},
    {"rtx_in", offsetof(peer_stats, rtx_in)},
};
#define SESSION_COUNTERS (sizeof session_counters / sizeof session_counters[0])
_Static_assert(sizeof(peer_stats) == SESSION_COUNTERS * sizeof(uint64_t),
               "a peer_stats counter is missing from session_counters");

static uint64_t session_counter(const peer_stats *st, size_t k)
{
    uint64_t v;
    memcpy(&v, (const char *)st + session_counters[k].offset, sizeof v);
    return v;
}

static void add_session_counters(peer_stats *into, const peer_stats *from)
{
    for (size_t k = 0; k < SESSION_COUNTERS; k++) {
        uint64_t v = session_counter(into, k) + session_counter(from, k);
        memcpy((char *)into + session_counters[k].offset, &v, sizeof v);
    }
}

/* What a session reports lost (its receive statistics, or its subscriber's reports); a
 * negative RFC 3550 cumulative loss (duplicates) counts as none. */
static int64_t session_packets_lost(const peer *p)
{
    peer_quality q;
    peer_quality_get(p, &q);
    return q.packets_lost > 0 ? q.packets_lost : 0;
}

/* Canonical bytes of an address as a map key: family, port, IP. */
static size_t addr_key(const j_addr *a, uint8_t key[19])
{
    key[0] = (uint8_t)a->sa.sa_family;
    uint16_t port = j_addr_port(a);
    key[1] = (uint8_t)(port >> 8);
    key[2] = (uint8_t)port;
    if (a->sa.sa_family == AF_INET6) {
        memcpy(key + 3, &a->v6.sin6_addr, 16);
        return 19;
    }
    memcpy(key + 3, &a->v4.sin_addr, 4);
    return 7;
}

static void env_send(void *ctx, const j_addr *to, const uint8_t *buf, size_t len)
{
    engine *e = ctx;
    e->io.send(e->io.ctx, to, buf, len);
}

static void env_on_address(void *ctx, peer *p, const j_addr *addr)
{
    engine *e = ctx;
    uint8_t key[19];
    size_t n = addr_key(addr, key);
    peer *old = j_map_get(&e->by_addr, key, n);
    if (old && old != p) {
        /* The same 5-tuple now belongs to another session: the old one loses it. */
        for (int i = 0; i < old->n_addrs; i++)
            if (j_addr_equal(&old->addrs[i], addr)) old->addrs[i] = old->addrs[--old->n_addrs];
    }
    j_map_put(&e->by_addr, key, n, p);
}

engine_track *engine_track_find(engine *e, const char *id)
{
    return j_map_get(&e->tracks, id, strlen(id));
}

bool engine_track_is_mirror(const engine_track *et) { return et->origin != et->e->cfg.worker; }

engine_track *engine_track_get(engine *e, const char *id, sfu_kind kind, int origin)
{
    engine_track *et = engine_track_find(e, id);
    if (et) return et;
    et = calloc(1, sizeof *et);
    if (!et) return NULL;
    et->t = sfu_track_new(id, kind);
    et->e = e;
    et->origin = origin >= 0 && origin < ENGINE_MAX_WORKERS && e->io.relay_msg ? origin
                                                                               : e->cfg.worker;
    et->relay_id = ENGINE_NO_RELAY;
    if (!et->t || j_map_put(&e->tracks, id, strlen(id), et) != J_OK) {
        sfu_track_free(et->t);
        free(et);
        return NULL;
    }
    if (engine_track_is_mirror(et)) engine_relay_subscribe(e, et);
    return et;
}

void engine_track_release_if_unused(engine *e, engine_track *et)
{
    /* A mirror's source is its home's: what keeps it is its subscribers. */
    if (et->publisher || et->binds > 0 || et->relay_to ||
        (engine_track_is_mirror(et) ? et->t->n_downs > 0 : !sfu_track_is_unused(et->t)))
        return;
    if (engine_track_is_mirror(et)) engine_relay_unsubscribe(e, et);
    j_map_remove(&e->tracks, et->t->id, strlen(et->t->id));
    sfu_track_free(et->t);
    free(et);
}

void engine_codec_refusal(char *out, size_t cap, sfu_kind kind, const sdp_codec *sent,
                          int sent_count, const sdp_codec *accepted, int accepted_count)
{
    char sent_names[96], accepted_names[96];
    sdp_codec_names(sent, sent_count, sent_names, sizeof sent_names);
    sdp_codec_names(accepted, accepted_count, accepted_names, sizeof accepted_names);
    snprintf(out, cap, "%s: the publisher sends %s; this offer accepts %s", sfu_kind_name(kind),
             sent_names, accepted_names);
}

/* The subscriber m= section that carries downtrack d. */
static const peer_out_track *out_track_of(const peer *p, const sfu_downtrack *d)
{
    for (int i = 0; i < p->n_out; i++)
        if (&p->out[i]->down == d) return p->out[i];
    return NULL;
}

static bool same_section(const engine_codec_notice *n, const char *session_id, const char *mid)
{
    return strcmp(n->session_id, session_id) == 0 && strcmp(n->mid, mid) == 0;
}

/* Queue n for engine_drain_codec_notices in place of an earlier one about the same m=
 * section (only the latest state matters to its owner). */
static void queue_codec_notice(engine *e, const engine_codec_notice *n)
{
    for (size_t i = 0; i < e->n_notices; i++) {
        if (same_section(&e->notices[i], n->session_id, n->mid)) {
            e->notices[i] = *n;
            return;
        }
    }
    if (e->n_notices == e->cap_notices) {
        size_t cap = e->cap_notices ? e->cap_notices * 2 : 16;
        engine_codec_notice *grown = realloc(e->notices, cap * sizeof *grown);
        if (!grown) {
            J_WARN("engine", "subscriber %s: out of memory: its owner is not told that track %s "
                   "changed", n->session_id, n->track_id);
            return;
        }
        e->notices = grown;
        e->cap_notices = cap;
    }
    e->notices[e->n_notices++] = *n;
}

/* A binding that goes takes its pending notice along: there is nothing left to tell. */
static void forget_codec_notice(engine *e, const peer *p, const peer_out_track *out)
{
    const sfu_downtrack *d = &out->down;
    j_map_remove(&e->undecodable, &d, sizeof d);
    for (size_t i = 0; i < e->n_notices; i++) {
        if (same_section(&e->notices[i], p->id, out->mid)) {
            e->notices[i] = e->notices[--e->n_notices];
            return;
        }
    }
}

/* Downtrack d met its track's (new) source. A subscriber that negotiated none of the codecs
 * it sends gets nothing of it (a viewer without H.264 watching an H.264-only publisher): said
 * when that starts and when it ends, in the log and to the session's owner. */
static void check_codecs(engine *e, const sfu_track *t, sfu_downtrack *d)
{
    const peer *p = d->send_ctx;
    const peer_out_track *out = out_track_of(p, d);
    bool lacks = sfu_downtrack_lacks_codec(d);
    bool said = j_map_get(&e->undecodable, &d, sizeof d) != NULL;
    if (!t->has_source || !out || lacks == said) return;
    engine_codec_notice n = {.undecodable = lacks};
    snprintf(n.session_id, sizeof n.session_id, "%s", p->id);
    snprintf(n.mid, sizeof n.mid, "%s", out->mid);
    snprintf(n.track_id, sizeof n.track_id, "%s", t->id);
    if (!lacks) {
        j_map_remove(&e->undecodable, &d, sizeof d);
        J_INFO("engine", "subscriber %s (%s): track %s can be decoded again", p->id, p->owner,
               t->id);
        queue_codec_notice(e, &n);
        return;
    }
    engine_codec_refusal(n.reason, sizeof n.reason, t->kind, t->source.codecs,
                         t->source.codec_count, d->codecs, d->codec_count);
    J_WARN("engine", "subscriber %s (%s), mid %s: no codec in common with the publisher of %s "
           "(%s): nothing of it is forwarded", p->id, p->owner, out->mid, t->id, n.reason);
    if (j_map_put(&e->undecodable, &d, sizeof d, (void *)p) == J_OK) queue_codec_notice(e, &n);
}

void engine_check_codecs(engine *e, const sfu_track *t)
{
    for (size_t i = 0; i < t->n_downs; i++) check_codecs(e, t, t->downs[i]);
}

void engine_drain_codec_notices(engine *e, void (*fn)(void *ctx, const engine_codec_notice *n),
                                void *ctx)
{
    for (size_t i = 0; i < e->n_notices; i++) fn(ctx, &e->notices[i]);
    e->n_notices = 0;
}

/* Publisher connected (or a track added while connected): its source feeds the track. */
static void attach_source(engine *e, peer *p, peer_in_track *in, uint64_t now_us)
{
    engine_track *et = engine_track_find(e, in->track->id);
    if (!et || et->publisher != p) return;
    sfu_track_attach_source(et->t, &in->source, peer_request_keyframe, p, now_us);
    engine_check_codecs(e, et->t);
    engine_relay_source_changed(e, et);
}

static void detach_source(engine *e, engine_track *et)
{
    sfu_track_detach_source(et->t);
    engine_relay_source_changed(e, et);
}

/* Subscriber connected (or a track bound while connected): its downtrack joins the track
 * it was bound to. */
static int attach_downtrack(engine *e, peer_out_track *out, uint64_t now_us)
{
    engine_track *et = engine_track_find(e, out->track_id);
    if (!et) return J_ENOTFOUND;
    int rc = sfu_track_add_downtrack(et->t, &out->down, now_us);
    if (rc == J_OK) check_codecs(e, et->t, &out->down);
    return rc;
}

static void release_in_track(engine *e, peer *p, int index)
{
    peer_in_track *in = p->in[index];
    engine_track *et = engine_track_find(e, in->track->id);
    if (et && et->publisher == p) {
        if (et->t->source_ctx == p) detach_source(e, et);
        et->publisher = NULL;
        engine_track_release_if_unused(e, et);
    }
    peer_remove_in_track(p, index);
}

static void release_out_track(engine *e, peer *p, int index)
{
    peer_out_track *out = p->out[index];
    forget_codec_notice(e, p, out);
    sfu_downtrack_detach(&out->down);
    engine_track *et = engine_track_find(e, out->track_id);
    if (et) {
        et->binds--;
        e->downtracks--;
        engine_track_release_if_unused(e, et);
    }
    peer_remove_out_track(p, index);
}

static void env_on_connected(void *ctx, peer *p, uint64_t now_us)
{
    engine *e = ctx;
    session_limits_established(limits_lock(e), p->id);
    limits_unlock(e);
    for (int i = 0; i < p->n_in; i++) attach_source(e, p, p->in[i], now_us);
    for (int i = 0; i < p->n_out; i++)
        if (!p->out[i]->down.track && attach_downtrack(e, p->out[i], now_us) != J_OK)
            peer_close(p, "out of memory");
}

engine *engine_new(const engine_config *cfg, const j_addr *bound, const engine_io *io,
                   char *err, size_t err_cap)
{
    (void)bound;
    engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    e->io = *io;
    e->env = (peer_env){
        .dtls = cfg->dtls,
        .consent_timeout_us = cfg->consent_timeout_us,
        .publisher_max_bitrate = cfg->publisher_max_bitrate,
        .min_video_bitrate = cfg->min_video_bitrate,
        .wall_clock_offset_us = cfg->wall_clock_offset_us,
        .send = env_send,
        .on_address = env_on_address,
        .on_connected = env_on_connected,
        .ctx = e,
    };
    session_limits_init(&e->limits, &cfg->limits);
    return e;
}

static void queue_closed(engine *e, const peer *p)
{
    if (!j_map_get(&e->report_close, p->id, strlen(p->id))) return;
    j_map_remove(&e->report_close, p->id, strlen(p->id));
    if (p->close_reason == NULL) return; /* removed on request: the owner knows */
    size_t slot = (e->closed_head + e->closed_count) % ENGINE_CLOSED_QUEUE;
    if (e->closed_count == ENGINE_CLOSED_QUEUE)
        e->closed_head = (e->closed_head + 1) % ENGINE_CLOSED_QUEUE; /* oldest dropped */
    else
        e->closed_count++;
    snprintf(e->closed[slot].id, sizeof e->closed[slot].id, "%s", p->id);
    e->closed[slot].reason = p->close_reason;
}

static void destroy_peer(engine *e, peer *p)
{
    queue_closed(e, p);
    j_map_remove(&e->by_ufrag, p->ice.local_ufrag, p->ice.local_ufrag_len);
    j_map_remove(&e->by_id, p->id, strlen(p->id));
    session_limits_remove(limits_lock(e), p->id);
    limits_unlock(e);
    for (int i = 0; i < p->n_addrs; i++) {
        uint8_t key[19];
        size_t n = addr_key(&p->addrs[i], key);
        if (j_map_get(&e->by_addr, key, n) == p) j_map_remove(&e->by_addr, key, n);
    }
    add_session_counters(&e->ended_stats[p->role], &p->stats);
    e->ended_packets_lost[p->role] += session_packets_lost(p); /* before its tracks go */
    while (p->n_in > 0) release_in_track(e, p, p->n_in - 1);
    while (p->n_out > 0) release_out_track(e, p, p->n_out - 1);
    for (size_t i = 0; i < e->n_peers; i++) {
        if (e->peers[i] == p) {
            e->peers[i] = e->peers[--e->n_peers];
            break;
        }
    }
    peer_free(p);
}

static void free_track_entry(void *value)
{
    engine_track *et = value;
    sfu_track_free(et->t);
    free(et);
}

void engine_free(engine *e)
{
    if (!e) return;
    while (e->n_peers > 0) destroy_peer(e, e->peers[e->n_peers - 1]);
    free(e->peers);
    for (size_t b = 0; b < e->tracks.n_buckets; b++)
        for (j_map_entry *it = e->tracks.buckets[b]; it; it = it->next) free_track_entry(it->value);
    engine_relay_free(e);
    j_map_clear(&e->by_ufrag);
    j_map_clear(&e->by_addr);
    j_map_clear(&e->by_id);
    j_map_clear(&e->tracks);
    j_map_clear(&e->report_close);
    j_map_clear(&e->undecodable);
    free(e->notices);
    session_limits_clear(&e->limits);
    free(e);
}

/* The m= sections of s that carry media in the session's direction, with their kind. */
static bool carries_media(const engine_session *s, int i, sfu_kind *kind)
{
    const sdp_neg_media *m = &s->neg->media[i];
    if (!peer_neg_carries(m, s->role)) return false;
    *kind = (sfu_kind)sfu_kind_from_sdp(m->kind);
    return true;
}

/* Check a (re)binding before changing anything: kinds match, no track is claimed by
 * another live publisher, subscriber limits. A refused binding is named in s->refusal. */
static int check_binds(engine *e, const peer *p, engine_session *s)
{
    for (int i = 0; i < s->neg->media_count; i++) {
        sfu_kind kind;
        const char *id = s->binds[i].track_id;
        const char *mid = s->neg->media[i].mid;
        if (!id[0] || !carries_media(s, i, &kind)) continue;
        engine_track *et = engine_track_find(e, id);
        if (et && et->t->kind != kind) {
            snprintf(s->refusal, sizeof s->refusal, "m= section mid %s is %s but track %s is %s",
                     mid, sfu_kind_name(kind), id, sfu_kind_name(et->t->kind));
            return J_EINVAL;
        }
        if (s->role == PEER_PUBLISHER) {
            /* A mirror's publisher is on its home worker (placement keeps publishers there). */
            const peer *owner = et ? et->publisher : NULL;
            if (et && (engine_track_is_mirror(et) ||
                       (owner && owner != p && owner->state != PEER_CLOSED))) {
                snprintf(s->refusal, sizeof s->refusal, "m= section mid %s: track %s %s", mid, id,
                         engine_track_is_mirror(et) ? "is published on another worker"
                                                    : "already has another publisher");
                return J_ESTATE;
            }
        } else if ((et ? (int)et->t->n_downs : 0) + s->binds[i].subscribers_elsewhere >=
                   e->cfg.max_subscribers_per_track) {
            const peer_out_track *cur = p ? peer_find_out_track(p, mid, NULL) : NULL;
            if (!cur || strcmp(cur->track_id, id) != 0) return J_ELIMIT;
        }
    }
    return J_OK;
}

static bool bound_to(const engine_session *s, const char *mid, const char *track_id)
{
    for (int i = 0; i < s->neg->media_count; i++) {
        sfu_kind kind;
        if (carries_media(s, i, &kind) && strcmp(s->neg->media[i].mid, mid) == 0)
            return strcmp(s->binds[i].track_id, track_id) == 0 && track_id[0];
    }
    return false;
}

static int bind_publisher(engine *e, peer *p, engine_session *s, uint64_t now_us)
{
    for (int i = p->n_in - 1; i >= 0; i--)
        if (!bound_to(s, p->in[i]->mid, p->in[i]->track->id)) release_in_track(e, p, i);
    for (int i = 0; i < s->neg->media_count; i++) {
        sfu_kind kind;
        const sdp_neg_media *m = &s->neg->media[i];
        if (!s->binds[i].track_id[0] || !carries_media(s, i, &kind)) continue;
        peer_in_track *kept = peer_find_in_track(p, m->mid, NULL);
        if (kept) {
            /* Same track, other codecs: its subscribers follow (and are checked again). */
            if (peer_in_track_update_codecs(kept, m) && p->state == PEER_CONNECTED)
                attach_source(e, p, kept, now_us);
            continue;
        }
        engine_track *et = engine_track_get(e, s->binds[i].track_id, kind, e->cfg.worker);
        if (!et) return J_ENOMEM;
        peer_in_track *in = peer_add_in_track(p, m);
        if (!in) {
            engine_track_release_if_unused(e, et);
            return J_ELIMIT;
        }
        in->track = et->t;
        if (et->publisher && et->publisher != p && et->t->source_ctx == et->publisher)
            detach_source(e, et); /* its closed publisher is not freed yet */
        et->publisher = p;
        if (p->state == PEER_CONNECTED) attach_source(e, p, in, now_us);
    }
    return J_OK;
}

static int bind_subscriber(engine *e, peer *p, engine_session *s, uint64_t now_us)
{
    for (int i = p->n_out - 1; i >= 0; i--)
        if (!bound_to(s, p->out[i]->mid, p->out[i]->track_id)) release_out_track(e, p, i);
    for (int i = 0; i < s->neg->media_count; i++) {
        sfu_kind kind;
        const sdp_neg_media *m = &s->neg->media[i];
        engine_bind *b = &s->binds[i];
        if (!b->track_id[0] || !carries_media(s, i, &kind)) {
            b->ssrc = b->rtx_ssrc = 0;
            continue;
        }
        peer_out_track *out = peer_find_out_track(p, m->mid, NULL);
        if (!out) {
            engine_track *et = engine_track_get(e, b->track_id, kind, s->origin);
            if (!et) return J_ENOMEM;
            out = peer_add_out_track(p, m);
            if (!out) {
                engine_track_release_if_unused(e, et);
                return J_ELIMIT;
            }
            snprintf(out->track_id, sizeof out->track_id, "%s", b->track_id);
            et->binds++;
            e->downtracks++;
            if (p->state == PEER_CONNECTED && attach_downtrack(e, out, now_us) != J_OK)
                return J_ENOMEM;
        }
        b->ssrc = out->down.ssrc;
        b->rtx_ssrc = out->down.rtx_ssrc;
    }
    return J_OK;
}

static int bind_session(engine *e, peer *p, engine_session *s, uint64_t now_us)
{
    return s->role == PEER_PUBLISHER ? bind_publisher(e, p, s, now_us)
                                     : bind_subscriber(e, p, s, now_us);
}

static int add_to_limits(engine *e, const char *id, const client_key *who)
{
    int rc = session_limits_add(limits_lock(e), id, who);
    limits_unlock(e);
    return rc;
}

static int refuse(engine *e, engine_session *s, limit_kind k)
{
    s->refused_by = k;
    session_limits_count_refused(limits_lock(e), k);
    limits_unlock(e);
    return J_ELIMIT;
}

int engine_add_session(engine *e, engine_session *s, uint64_t now_us)
{
    client_key client;
    if (s->client_ip) client_key_from_ip(&client, s->client_ip);
    const client_key *who = s->client_ip ? &client : NULL;
    s->refused_by = LIMIT_NONE;
    s->refusal[0] = '\0';
    if ((int)e->n_peers >= e->cfg.max_sessions) return refuse(e, s, LIMIT_SESSIONS);
    limit_kind k = session_limits_check(limits_lock(e), who);
    limits_unlock(e);
    if (k != LIMIT_NONE) return refuse(e, s, k);
    if (j_map_get(&e->by_id, s->id, strlen(s->id))) return J_ESTATE;
    int rc = check_binds(e, NULL, s);
    if (rc == J_ELIMIT) return refuse(e, s, LIMIT_SUBSCRIBERS_PER_TRACK);
    if (rc != J_OK) return rc;
    if (e->n_peers == e->cap_peers) {
        size_t cap = e->cap_peers ? e->cap_peers * 2 : 16;
        peer **peers = realloc(e->peers, cap * sizeof *peers);
        if (!peers) return J_ENOMEM;
        e->peers = peers;
        e->cap_peers = cap;
    }
    peer_params pp = {.role = s->role, .id = s->id, .owner = s->owner,
                      .local_ufrag = s->local_ufrag, .local_pwd = s->local_pwd, .neg = s->neg,
                      .cname = s->cname};
    peer *p = peer_new(&e->env, &pp, now_us);
    if (!p) return J_ENOMEM;
    e->peers[e->n_peers++] = p;
    if (j_map_put(&e->by_ufrag, p->ice.local_ufrag, p->ice.local_ufrag_len, p) != J_OK ||
        j_map_put(&e->by_id, p->id, strlen(p->id), p) != J_OK ||
        (s->report_close && j_map_put(&e->report_close, p->id, strlen(p->id), p) != J_OK) ||
        add_to_limits(e, p->id, who) != J_OK || (rc = bind_session(e, p, s, now_us)) != J_OK) {
        j_map_remove(&e->report_close, p->id, strlen(p->id));
        destroy_peer(e, p);
        return rc != J_OK ? rc : J_ENOMEM;
    }
    return J_OK;
}

int engine_update_session(engine *e, engine_session *s, uint64_t now_us)
{
    peer *p = j_map_get(&e->by_id, s->id, strlen(s->id));
    s->refused_by = LIMIT_NONE;
    s->refusal[0] = '\0';
    if (!p || p->role != s->role || p->state == PEER_CLOSED) return J_ENOTFOUND;
    int rc = check_binds(e, p, s);
    if (rc == J_ELIMIT) return refuse(e, s, LIMIT_SUBSCRIBERS_PER_TRACK);
    if (rc != J_OK) return rc;
    if (strcmp(p->ice.local_ufrag, s->local_ufrag) != 0) {
        char old[ICE_UFRAG_MAX + 1];
        snprintf(old, sizeof old, "%s", p->ice.local_ufrag);
        rc = peer_restart_ice(p, s->local_ufrag, s->local_pwd, s->neg->remote_ufrag, now_us);
        if (rc != J_OK) return rc;
        j_map_remove(&e->by_ufrag, old, strlen(old));
        if (j_map_put(&e->by_ufrag, p->ice.local_ufrag, p->ice.local_ufrag_len, p) != J_OK)
            return J_ENOMEM;
    }
    return bind_session(e, p, s, now_us);
}

int engine_remove_session(engine *e, const char *id, const char *owner, const char *reason)
{
    peer *p = j_map_get(&e->by_id, id, strlen(id));
    if (!p || (owner && strcmp(p->owner, owner) != 0)) return J_ENOTFOUND;
    j_map_remove(&e->report_close, p->id, strlen(p->id));
    peer_close(p, reason);
    destroy_peer(e, p);
    return J_OK;
}

int engine_set_track_muted(engine *e, const char *track_id, bool muted, uint64_t now_us)
{
    engine_track *et = engine_track_find(e, track_id);
    if (!et) return J_ENOTFOUND;
    if (engine_track_is_mirror(et)) return J_OK; /* it follows its home track's state */
    if (et->t->muted == muted) return J_OK;
    sfu_track_set_muted(et->t, muted, now_us);
    engine_relay_muted(e, et);
    return J_OK;
}

size_t engine_downtracks(const engine *e) { return e->downtracks; }

int engine_track_subscribers(engine *e, const char *id)
{
    const engine_track *et = engine_track_find(e, id);
    return et ? (int)et->t->n_downs : 0;
}

static bool listed(const char *id, const char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0) return true;
    return false;
}

int engine_set_paused(engine *e, const char *id, const char *const *track_ids, size_t n,
                      uint64_t now_us)
{
    peer *p = j_map_get(&e->by_id, id, strlen(id));
    if (!p || p->role != PEER_SUBSCRIBER) return J_ENOTFOUND;
    for (int i = 0; i < p->n_out; i++)
        sfu_downtrack_set_paused(&p->out[i]->down, SFU_PAUSE_SUBSCRIBER,
                                 listed(p->out[i]->track_id, track_ids, n), now_us);
    return J_OK;
}

int engine_set_layer_prefs(engine *e, const char *id, const char *track_id,
                           const engine_layer_prefs *prefs)
{
    peer *p = j_map_get(&e->by_id, id, strlen(id));
    if (!p || p->role != PEER_SUBSCRIBER) return J_ENOTFOUND;
    for (int i = 0; i < p->n_out; i++)
        if (p->out[i]->kind == SFU_VIDEO && strcmp(p->out[i]->track_id, track_id) == 0)
            sfu_downtrack_set_layer_prefs(&p->out[i]->down, prefs->width, prefs->height,
                                          prefs->visible, prefs->max_spatial,
                                          prefs->max_temporal);
    return J_OK;
}

int engine_take_audio_levels(engine *e, const char *track_id, sfu_audio_levels *out)
{
    engine_track *et = engine_track_find(e, track_id);
    /* A mirror sees the same packets as its home track, which counts them. */
    if (!et || engine_track_is_mirror(et)) return J_ENOTFOUND;
    *out = sfu_track_take_levels(et->t);
    return J_OK;
}

int engine_track_published(engine *e, const char *track_id, sfu_source *out)
{
    engine_track *et = engine_track_find(e, track_id);
    if (!et || !et->publisher || et->publisher->state == PEER_CLOSED) return J_ENOTFOUND;
    /* Its negotiated source, connected or not: a publisher still connecting will send it. */
    for (int i = 0; i < et->publisher->n_in; i++) {
        if (et->publisher->in[i]->track != et->t) continue;
        *out = et->publisher->in[i]->source;
        return J_OK;
    }
    return J_ENOTFOUND;
}

int engine_session_health_get(engine *e, const char *id, engine_session_health *out)
{
    const peer *p = j_map_get(&e->by_id, id, strlen(id));
    if (!p) return J_ENOTFOUND;
    out->state = p->state;
    out->rtp_in = p->stats.rtp_in;
    out->rtp_out = p->stats.rtp_out;
    out->srtp_errors = p->stats.srtp_errors;
    return J_OK;
}

void engine_drain_closed(engine *e, void (*fn)(void *ctx, const char *id, const char *reason),
                         void *ctx)
{
    while (e->closed_count > 0) {
        const closed_session *c = &e->closed[e->closed_head];
        fn(ctx, c->id, c->reason);
        e->closed_head = (e->closed_head + 1) % ENGINE_CLOSED_QUEUE;
        e->closed_count--;
    }
}

static peer *peer_by_addr(engine *e, const j_addr *from)
{
    uint8_t key[19];
    size_t n = addr_key(from, key);
    return j_map_get(&e->by_addr, key, n);
}

static void route_stun(engine *e, uint64_t now_us, const j_addr *from, const uint8_t *buf,
                       size_t len, peer **out)
{
    stun_msg m;
    if (stun_parse(&m, buf, len) != J_OK) {
        e->dropped[DROP_BAD_STUN]++;
        return;
    }
    peer *p = NULL;
    const char *ufrag;
    size_t ufrag_len;
    if (ice_lite_username_local_ufrag(&m, &ufrag, &ufrag_len) == J_OK)
        p = j_map_get(&e->by_ufrag, ufrag, ufrag_len);
    else
        p = peer_by_addr(e, from); /* indications (keepalives) carry no USERNAME */
    if (!p) {
        e->dropped[DROP_UNKNOWN_UFRAG]++;
        return;
    }
    peer_handle_stun(p, now_us, from, buf, len);
    *out = p;
}

void engine_handle_datagram(engine *e, uint64_t now_us, const j_addr *from, uint8_t *buf,
                            size_t len)
{
    peer *p = NULL;
    j_packet_kind kind = j_demux(buf, len);
    switch (kind) {
    case J_PACKET_STUN:
        route_stun(e, now_us, from, buf, len, &p);
        break;
    case J_PACKET_DTLS:
    case J_PACKET_RTP:
    case J_PACKET_RTCP:
        p = peer_by_addr(e, from);
        if (!p) {
            e->dropped[DROP_UNKNOWN_SOURCE]++;
            return;
        }
        /* Routed once ICE validated it; valid only while its consent lasts (RFC 7675). */
        if (!ice_lite_is_valid_source(&p->ice, from)) {
            e->dropped[DROP_STALE_SOURCE]++;
            return;
        }
        if (kind == J_PACKET_DTLS)
            peer_handle_dtls(p, now_us, from, buf, len);
        else
            peer_handle_srtp(p, now_us, from, buf, len, kind == J_PACKET_RTCP);
        break;
    default:
        e->dropped[DROP_UNKNOWN_KIND]++;
        return;
    }
    if (p && p->state == PEER_CLOSED) destroy_peer(e, p);
}

void engine_handle_timeout(engine *e, uint64_t now_us)
{
    for (size_t i = 0; i < e->n_peers;) {
        peer *p = e->peers[i];
        if (e->cfg.handshake_timeout_us && p->state != PEER_CONNECTED &&
            p->state != PEER_CLOSED && now_us - p->created_us >= e->cfg.handshake_timeout_us) {
            e->handshake_timeouts++;
            peer_close(p, "ICE and DTLS not completed within limits.handshake_timeout");
        }
        peer_handle_timeout(p, now_us);
        if (p->state == PEER_CLOSED)
            destroy_peer(e, p); /* swaps the last peer into slot i */
        else
            i++;
    }
    for (size_t b = 0; b < e->tracks.n_buckets; b++)
        for (j_map_entry *it = e->tracks.buckets[b]; it; it = it->next)
            sfu_track_handle_timeout(((engine_track *)it->value)->t, now_us);
}

static const char *layers_state_name(sfu_layers_state s)
{
    switch (s) {
    case SFU_LAYERS_FORWARDING: return "forwarding";
    case SFU_LAYERS_OFF_AUDIO_ONLY: return "held_back";
    case SFU_LAYERS_OFF_HIDDEN: return "hidden";
    case SFU_LAYERS_OFF_BANDWIDTH: return "bandwidth";
    case SFU_LAYERS_OFF_NO_SOURCE: return "no_source";
    }
    return "?";
}

static json_t *layer_index_json(int v) { return v < 0 ? json_null() : json_integer(v); }

/* A video downtrack's layer: forwarded now, targeted, and the policy's state. */
static json_t *downtrack_layer_json(const sfu_downtrack *d)
{
    const sfu_layers *l = &d->layers;
    return json_pack("{s:o, s:o, s:o, s:o, s:s}", "spatial", layer_index_json(l->current_spatial),
                     "temporal", layer_index_json(l->current_temporal), "target_spatial",
                     layer_index_json(l->target_spatial), "target_temporal",
                     layer_index_json(l->target_temporal), "state",
                     d->paused ? "held_back" : layers_state_name(d->target.state));
}

/* A publisher's in-track's encodings (one without simulcast): its streams as received, with
 * the track's measure of each (bitrate of all its temporal layers - with SVC, of the whole
 * stream - and resolution: a VP8 keyframe's, or the top SVC layer's). */
static json_t *encodings_json(const peer_in_track *in, uint64_t now_us)
{
    json_t *list = json_array();
    sfu_layers_source src = {0};
    if (in->track) sfu_track_layers(in->track, now_us, &src);
    for (int k = 0; k < in->n_streams; k++) {
        const peer_in_stream *st = &in->streams[k];
        const sfu_encoding *enc = in->track ? &in->track->enc[k] : NULL;
        /* Its layer: the encoding's, or with SVC the top one (which all below it serve). */
        int s = enc ? enc->spatial : 0;
        if (in->track && in->track->layers_mode == SFU_LAYERS_SVC)
            for (s = SFU_LAYERS_MAX_SPATIAL - 1; s > 0 && !src.temporal_layers[s]; s--) continue;
        uint64_t bitrate = 0;
        if (enc && in->kind == SFU_VIDEO && s < SFU_LAYERS_MAX_SPATIAL && src.temporal_layers[s])
            bitrate = src.bitrate_bps[s][src.temporal_layers[s] - 1];
        uint16_t width = enc ? enc->width : 0, height = enc ? enc->height : 0;
        if (!width && s < SFU_LAYERS_MAX_SPATIAL) {
            width = src.width[s];
            height = src.height[s];
        }
        json_array_append_new(
            list, json_pack("{s:s, s:I, s:I, s:I, s:i, s:i, s:o}", "rid", st->rid, "ssrc",
                            (json_int_t)st->ssrc, "packets",
                            (json_int_t)(st->receiving ? st->recv.received : 0), "bitrate",
                            (json_int_t)bitrate, "width", width, "height", height, "spatial",
                            enc && in->kind == SFU_VIDEO ? json_integer(enc->spatial)
                                                         : json_null()));
    }
    return list;
}

static json_t *peer_tracks_json(const peer *p, uint64_t now_us)
{
    json_t *list = json_array();
    for (int i = 0; i < p->n_in; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o}", "mid", p->in[i]->mid,
                                              "track", p->in[i]->track->id, "kind",
                                              sfu_kind_name(p->in[i]->kind), "encodings",
                                              encodings_json(p->in[i], now_us)));
    for (int i = 0; i < p->n_out; i++) {
        const sfu_downtrack *d = &p->out[i]->down;
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:b}", "mid", p->out[i]->mid,
                              "track", p->out[i]->track_id, "kind",
                              sfu_kind_name(p->out[i]->kind), "packets", (json_int_t)d->packets,
                              "bytes", (json_int_t)d->bytes, "rtx_packets",
                              (json_int_t)d->rtx_packets, "waiting_keyframe", d->waiting_keyframe,
                              "paused", d->paused != 0);
        if (p->out[i]->kind == SFU_VIDEO)
            json_object_set_new(o, "layer", downtrack_layer_json(d));
        json_array_append_new(list, o);
    }
    return list;
}

/* A session's counters: totals since it started, and its leg's condition now (bitrates over
 * the last second, loss, jitter, RTT, a subscriber's bandwidth estimate). */
static void set_int(json_t *o, const char *key, int64_t v)
{
    json_object_set_new(o, key, json_integer((json_int_t)v));
}

static json_t *peer_counters_json(const peer *p)
{
    const peer_stats *st = &p->stats;
    json_t *c = json_object();
    for (size_t k = 0; k < SESSION_COUNTERS; k++)
        set_int(c, session_counters[k].name, (int64_t)session_counter(st, k));
    peer_quality q;
    peer_quality_get(p, &q);
    set_int(c, "bitrate_in", (int64_t)q.bitrate_in);
    set_int(c, "bitrate_out", (int64_t)q.bitrate_out);
    set_int(c, "packets_lost", q.packets_lost);
    json_object_set_new(c, "jitter_ms", json_real(q.jitter_ms));
    json_object_set_new(c, "rtt_ms", q.rtt_us < 0 ? json_null() : json_real((double)q.rtt_us / 1000.0));
    if (p->role == PEER_SUBSCRIBER) {
        set_int(c, "estimated_bitrate", (int64_t)q.estimated_bps);
        set_int(c, "video_pauses", (int64_t)q.video_pauses);
        json_object_set_new(c, "video_paused", json_boolean(q.video_paused));
    }
    return c;
}

static json_t *peer_json(const peer *p, uint64_t now_us)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "id", p->id, "role",
                     peer_role_name(p->role), "owner", p->owner, "state",
                     peer_state_name(p->state), "age_ms",
                     (json_int_t)((now_us - p->created_us) / 1000), "tracks",
                     peer_tracks_json(p, now_us), "counters", peer_counters_json(p));
}

size_t engine_stats_sessions(engine *e, uint64_t now_us, size_t from, size_t max, json_t *into)
{
    size_t i = from;
    for (; i < e->n_peers && i - from < max; i++)
        json_array_append_new(into, peer_json(e->peers[i], now_us));
    return i;
}

json_t *engine_stats(engine *e, uint64_t now_us)
{
    json_t *st = engine_stats_summary(e), *sessions = json_array();
    engine_stats_sessions(e, now_us, 0, e->n_peers, sessions);
    json_object_set_new(st, "session_list", sessions);
    return st;
}

/* {"publisher": {counters}, "subscriber": {...}}: every session's counters summed by role,
 * the ended sessions' included, so each only grows; "packets_lost" with them. */
static json_t *session_totals_json(const engine *e)
{
    peer_stats totals[2];
    int64_t lost[2];
    memcpy(totals, e->ended_stats, sizeof totals);
    memcpy(lost, e->ended_packets_lost, sizeof lost);
    for (size_t i = 0; i < e->n_peers; i++) {
        const peer *p = e->peers[i];
        add_session_counters(&totals[p->role], &p->stats);
        lost[p->role] += session_packets_lost(p);
    }
    json_t *out = json_object();
    for (int role = PEER_PUBLISHER; role <= PEER_SUBSCRIBER; role++) {
        json_t *c = json_object();
        for (size_t k = 0; k < SESSION_COUNTERS; k++)
            set_int(c, session_counters[k].name, (int64_t)session_counter(&totals[role], k));
        set_int(c, "packets_lost", lost[role]);
        json_object_set_new(out, peer_role_name((peer_role)role), c);
    }
    return out;
}

json_t *engine_stats_summary(engine *e)
{
    int publishers = 0, subscribers = 0;
    json_int_t by_state[2][PEER_CLOSED + 1] = {{0}};
    for (size_t i = 0; i < e->n_peers; i++) {
        const peer *p = e->peers[i];
        if (p->role == PEER_PUBLISHER)
            publishers++;
        else
            subscribers++;
        by_state[p->role][p->state]++;
    }
    json_t *sessions_by_state = json_object();
    for (int role = PEER_PUBLISHER; role <= PEER_SUBSCRIBER; role++) {
        json_t *states = json_object();
        for (int st = PEER_NEW; st <= PEER_CLOSED; st++)
            json_object_set_new(states, peer_state_name((peer_state)st),
                                json_integer(by_state[role][st]));
        json_object_set_new(sessions_by_state, peer_role_name((peer_role)role), states);
    }
    json_t *tracks = json_array();
    for (size_t b = 0; b < e->tracks.n_buckets; b++) {
        for (j_map_entry *it = e->tracks.buckets[b]; it; it = it->next) {
            const engine_track *et = it->value;
            const sfu_track *t = et->t;
            json_array_append_new(
                tracks, json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:b, s:i}", "id", t->id,
                                  "kind", sfu_kind_name(t->kind), "live", t->has_source, "muted",
                                  t->muted, "subscribers", (json_int_t)t->n_downs, "packets_in",
                                  (json_int_t)t->packets_in, "bytes_in", (json_int_t)t->bytes_in,
                                  "mirror", engine_track_is_mirror(et), "mirrors",
                                  __builtin_popcountll(et->relay_to)));
        }
    }
    json_t *dropped = json_object();
    uint64_t total = 0;
    for (int r = 0; r < DROP_REASONS; r++) {
        json_object_set_new(dropped, drop_names[r], json_integer((json_int_t)e->dropped[r]));
        total += e->dropped[r];
    }
    json_t *relay = json_pack("{s:I, s:I, s:I}", "packets_out", (json_int_t)e->relay_packets_out,
                              "packets_in", (json_int_t)e->relay_packets_in, "unlinked",
                              (json_int_t)e->relay_unlinked);
    json_t *refused = json_object();
    session_limits *sl = limits_lock(e);
    for (int k = LIMIT_NONE + 1; k < LIMIT_KINDS; k++)
        json_object_set_new(refused, limit_name((limit_kind)k),
                            json_integer((json_int_t)sl->refused[k]));
    json_t *limits = json_pack("{s:I, s:I, s:o}", "half_open", (json_int_t)sl->half_open,
                               "handshake_timeouts", (json_int_t)e->handshake_timeouts,
                               "sessions_refused", refused);
    limits_unlock(e);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "sessions",
                     (json_int_t)e->n_peers, "publishers", (json_int_t)publishers, "subscribers",
                     (json_int_t)subscribers, "downtracks", (json_int_t)e->downtracks,
                     "dropped_datagrams", (json_int_t)total, "dropped", dropped, "limits", limits,
                     "relay", relay, "tracks", tracks, "session_totals",
                     session_totals_json(e), "sessions_by_state", sessions_by_state);
}
