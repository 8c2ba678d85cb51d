/* engine_relay.c - one track's fan-out spread over several workers' engines.
 *
 * The home engine (the publisher's) keeps a relay id per track that other workers mirror
 * and a bit per mirroring worker; each source packet goes once to each of them. A mirror
 * engine keeps, per home worker, relay id -> mirror track. The protocol, in order with the
 * packets on each pair's queue:
 *   mirror created        -> SUBSCRIBE(track id)       home: link it, reply LINKED(relay id,
 *                                                      source, mute)
 *   home source / mute    -> SOURCE / MUTED to every mirror
 *   source's sender report -> SENDER_REPORT to every mirror (its subscribers' lip sync)
 *   mirror wants keyframe -> KEYFRAME(relay id)        home: throttled like a local request
 *   mirror freed          -> UNSUBSCRIBE(track id)     home: unlink; the id is free once no
 *                                                      worker mirrors the track
 * A mirror forgets its relay id when it unsubscribes, so a packet still queued for it, or
 * for an id the home has since given to another track, is dropped until the next LINKED.
 */
#include <stdlib.h>
#include <string.h>

#include "app/engine_internal.h"
#include "core/err.h"
#include "core/log.h"

static uint64_t worker_bit(int w) { return (uint64_t)1 << w; }

static bool valid_worker(int w) { return w >= 0 && w < ENGINE_MAX_WORKERS; }

static void send_msg(engine *e, int to, const engine_relay_msg *m)
{
    if (e->io.relay_msg) e->io.relay_msg(e->io.ctx, to, m);
}

static engine_track *table_get(const relay_table *tb, uint32_t id)
{
    return id < tb->cap ? tb->tracks[id] : NULL;
}

static int table_set(relay_table *tb, uint32_t id, engine_track *et)
{
    if (id >= tb->cap) {
        uint32_t cap = tb->cap ? tb->cap : 16;
        while (cap <= id) cap *= 2;
        engine_track **tracks = realloc(tb->tracks, cap * sizeof *tracks);
        if (!tracks) return J_ENOMEM;
        memset(tracks + tb->cap, 0, (cap - tb->cap) * sizeof *tracks);
        tb->tracks = tracks;
        tb->cap = cap;
    }
    tb->tracks[id] = et;
    return J_OK;
}

/* The lowest free id: ids stay small, so the mirrors' tables do too. */
static uint32_t table_free_id(const relay_table *tb)
{
    uint32_t id = 0;
    while (id < tb->cap && tb->tracks[id]) id++;
    return id;
}

void engine_relay_free(engine *e)
{
    free(e->relayed.tracks);
    for (int w = 0; w < ENGINE_MAX_WORKERS; w++) free(e->mirrors[w].tracks);
}

/* ---------------------------------------------------------------- home side */

static void send_to_mirrors(engine *e, const engine_track *et, const engine_relay_msg *m);

/* Local subscribers from which a home track wakes its mirrors before its own fan-out: that
 * many copies (~4 us each) cost more than a wake-up, and the mirrors' subscribers would
 * wait for all of them. Smaller tracks hand off at the end of the receive batch, one
 * wake-up for the batch. */
#define RELAY_WAKE_NOW_DOWNTRACKS 64

/* A home track's relay: the packet, as received, to every mirroring worker. */
static void relay_packet(void *ctx, const sfu_track *t, const rtp_pkt *pkt, uint8_t encoding,
                         uint64_t now_us)
{
    engine_track *et = ctx;
    engine *e = et->e;
    bool wake_now = t->n_downs >= RELAY_WAKE_NOW_DOWNTRACKS;
    for (uint64_t left = et->relay_to; left; left &= left - 1) {
        e->io.relay_rtp(e->io.ctx, __builtin_ctzll(left), et->relay_id, encoding, pkt->buf,
                        pkt->len, now_us, wake_now);
        e->relay_packets_out++;
    }
}

static void relay_sender_report(void *ctx, const sfu_track *t, uint8_t encoding, uint32_t ssrc,
                                uint32_t rtp_ts, uint64_t now_us)
{
    (void)t;
    engine_track *et = ctx;
    engine_relay_msg m = {.kind = ENGINE_RELAY_SENDER_REPORT, .relay_id = et->relay_id,
                          .encoding = encoding,
                          .sr_ssrc = ssrc, .sr_rtp_ts = rtp_ts, .sr_at_us = now_us};
    send_to_mirrors(et->e, et, &m);
}

static const sfu_relay home_relay = {.packet = relay_packet,
                                     .sender_report = relay_sender_report};

static void fill_source(engine_relay_msg *m, const sfu_track *t)
{
    m->has_source = t->has_source;
    if (t->has_source) m->source = t->source;
}

static void send_to_mirrors(engine *e, const engine_track *et, const engine_relay_msg *m)
{
    for (uint64_t left = et->relay_to; left; left &= left - 1)
        send_msg(e, __builtin_ctzll(left), m);
}

void engine_relay_source_changed(engine *e, engine_track *et)
{
    if (!et->relay_to) return;
    engine_relay_msg m = {.kind = ENGINE_RELAY_SOURCE, .relay_id = et->relay_id};
    fill_source(&m, et->t);
    send_to_mirrors(e, et, &m);
}

void engine_relay_muted(engine *e, engine_track *et)
{
    if (!et->relay_to) return;
    engine_relay_msg m = {.kind = ENGINE_RELAY_MUTED, .relay_id = et->relay_id,
                          .muted = et->t->muted};
    send_to_mirrors(e, et, &m);
}

static void link_mirror(engine *e, int from, const engine_relay_msg *m)
{
    engine_track *et = engine_track_get(e, m->track_id, m->track_kind, e->cfg.worker);
    if (!et) {
        J_WARN("engine", "worker %d: cannot relay track %s to worker %d: out of memory",
               e->cfg.worker, m->track_id, from);
        return;
    }
    if (engine_track_is_mirror(et) || et->t->kind != m->track_kind) {
        /* Not ours to relay: the track's publishers live elsewhere, or it is another kind. */
        J_WARN("engine", "worker %d: refused to relay track %s to worker %d", e->cfg.worker,
               m->track_id, from);
        engine_track_release_if_unused(e, et);
        return;
    }
    if (!et->relay_to) {
        uint32_t id = table_free_id(&e->relayed);
        if (table_set(&e->relayed, id, et) != J_OK) {
            engine_track_release_if_unused(e, et);
            return;
        }
        et->relay_id = id;
        sfu_track_set_relay(et->t, &home_relay, et);
    }
    et->relay_to |= worker_bit(from);
    engine_relay_msg reply = {.kind = ENGINE_RELAY_LINKED, .relay_id = et->relay_id,
                              .muted = et->t->muted};
    memcpy(reply.track_id, m->track_id, sizeof reply.track_id);
    fill_source(&reply, et->t);
    send_msg(e, from, &reply);
}

static void unlink_mirror(engine *e, int from, const engine_relay_msg *m)
{
    engine_track *et = engine_track_find(e, m->track_id);
    if (!et || !(et->relay_to & worker_bit(from))) return;
    et->relay_to &= ~worker_bit(from);
    if (et->relay_to) return;
    e->relayed.tracks[et->relay_id] = NULL;
    et->relay_id = ENGINE_NO_RELAY;
    sfu_track_set_relay(et->t, NULL, NULL);
    engine_track_release_if_unused(e, et);
}

static void keyframe_wanted(engine *e, int from, uint32_t relay_id, uint8_t encoding,
                            uint64_t now_us)
{
    engine_track *et = table_get(&e->relayed, relay_id);
    if (et && (et->relay_to & worker_bit(from)))
        sfu_track_request_keyframe(et->t, encoding, now_us);
}

/* ---------------------------------------------------------------- mirror side */

void engine_relay_subscribe(engine *e, engine_track *et)
{
    engine_relay_msg m = {.kind = ENGINE_RELAY_SUBSCRIBE, .track_kind = et->t->kind};
    memcpy(m.track_id, et->t->id, sizeof m.track_id);
    send_msg(e, et->origin, &m);
}

void engine_relay_unsubscribe(engine *e, engine_track *et)
{
    relay_table *tb = &e->mirrors[et->origin];
    if (et->linked && table_get(tb, et->relay_id) == et) tb->tracks[et->relay_id] = NULL;
    et->linked = false;
    engine_relay_msg m = {.kind = ENGINE_RELAY_UNSUBSCRIBE};
    memcpy(m.track_id, et->t->id, sizeof m.track_id);
    send_msg(e, et->origin, &m);
}

/* sfu_keyframe_fn of a mirror: its home asks the publisher. */
static void mirror_request_keyframe(void *ctx, const sfu_track *t, uint8_t encoding)
{
    (void)t;
    engine_track *et = ctx;
    if (!et->linked) return;
    engine_relay_msg m = {.kind = ENGINE_RELAY_KEYFRAME, .relay_id = et->relay_id,
                          .encoding = encoding};
    send_msg(et->e, et->origin, &m);
}

static void apply_source(engine_track *et, const engine_relay_msg *m, uint64_t now_us)
{
    if (m->has_source) {
        sfu_track_attach_source(et->t, &m->source, mirror_request_keyframe, et, now_us);
        engine_check_codecs(et->e, et->t);
    } else if (et->t->has_source)
        sfu_track_detach_source(et->t);
}

static void linked(engine *e, int from, const engine_relay_msg *m, uint64_t now_us)
{
    engine_track *et = engine_track_find(e, m->track_id);
    if (!et || et->origin != from) return; /* unsubscribed meanwhile: UNSUBSCRIBE follows */
    relay_table *tb = &e->mirrors[from];
    if (et->linked && table_get(tb, et->relay_id) == et) tb->tracks[et->relay_id] = NULL;
    engine_track *previous = table_get(tb, m->relay_id);
    if (previous) previous->linked = false; /* the home gave its id to this track */
    if (table_set(tb, m->relay_id, et) != J_OK) {
        et->linked = false;
        return;
    }
    et->relay_id = m->relay_id;
    et->linked = true;
    sfu_track_set_muted(et->t, m->muted, now_us);
    apply_source(et, m, now_us);
}

static engine_track *linked_mirror(engine *e, int from, uint32_t relay_id)
{
    return table_get(&e->mirrors[from], relay_id);
}

void engine_relay_msg_in(engine *e, int from, const engine_relay_msg *m, uint64_t now_us)
{
    if (!valid_worker(from) || from == e->cfg.worker) return;
    engine_track *et;
    switch (m->kind) {
    case ENGINE_RELAY_SUBSCRIBE:
        link_mirror(e, from, m);
        break;
    case ENGINE_RELAY_UNSUBSCRIBE:
        unlink_mirror(e, from, m);
        break;
    case ENGINE_RELAY_KEYFRAME:
        keyframe_wanted(e, from, m->relay_id, m->encoding, now_us);
        break;
    case ENGINE_RELAY_LINKED:
        linked(e, from, m, now_us);
        break;
    case ENGINE_RELAY_SOURCE:
        if ((et = linked_mirror(e, from, m->relay_id))) apply_source(et, m, now_us);
        break;
    case ENGINE_RELAY_SENDER_REPORT:
        if ((et = linked_mirror(e, from, m->relay_id)))
            sfu_track_on_sender_report(et->t, m->encoding, m->sr_ssrc, m->sr_rtp_ts,
                                       m->sr_at_us);
        break;
    case ENGINE_RELAY_MUTED:
        if ((et = linked_mirror(e, from, m->relay_id)))
            sfu_track_set_muted(et->t, m->muted, now_us);
        break;
    }
}

void engine_relay_rtp_in(engine *e, int from, uint32_t relay_id, uint8_t encoding,
                         const uint8_t *rtp, size_t len, uint64_t arrival_us)
{
    engine_track *et = valid_worker(from) ? linked_mirror(e, from, relay_id) : NULL;
    rtp_pkt pkt;
    if (!et || rtp_parse(&pkt, rtp, len) != J_OK) {
        e->relay_unlinked++;
        return;
    }
    e->relay_packets_in++;
    sfu_track_forward(et->t, &pkt, encoding, arrival_us);
}
