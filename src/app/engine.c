/* engine.c - datagram routing, session and stream lifetimes for one worker. */
#include "app/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/map.h"
#include "rtp/rtp.h"
#include "stun/stun.h"

/* Why a datagram was dropped before reaching a session; counted for the stats API. */
typedef enum {
    DROP_UNKNOWN_KIND = 0, /* not STUN, DTLS, RTP or RTCP */
    DROP_BAD_STUN,         /* unparseable STUN */
    DROP_UNKNOWN_UFRAG,    /* ICE check for no session of ours */
    DROP_UNKNOWN_SOURCE,   /* DTLS/SRTP from an address that has not passed ICE */
    DROP_REASONS,
} drop_reason;

static const char *const drop_names[DROP_REASONS] = {"unknown_kind", "bad_stun",
                                                     "unknown_ufrag", "unknown_source"};

struct engine {
    engine_config cfg;
    engine_io io;
    peer_env env;
    j_map by_ufrag;  /* local ICE ufrag -> peer */
    j_map by_addr;   /* validated transport address -> peer */
    j_map by_id;     /* session id -> peer */
    j_map streams;   /* name -> sfu_stream */
    j_map publishers; /* stream name -> publisher peer (claimed at creation) */
    peer **peers;    /* owned */
    size_t n_peers, cap_peers;
    uint64_t dropped[DROP_REASONS];
    session_limits limits;
    uint64_t handshake_timeouts;
};

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

static void on_publisher_keyframe(void *ctx) { peer_request_keyframe(ctx); }

static void env_on_connected(void *ctx, peer *p, uint64_t now_us)
{
    engine *e = ctx;
    session_limits_established(&e->limits, p->id);
    sfu_stream *s = j_map_get(&e->streams, p->stream_name, strlen(p->stream_name));
    if (!s) return;
    p->stream = s;
    if (p->role == PEER_PUBLISHER)
        sfu_stream_attach_publisher(s, p->source, on_publisher_keyframe, p, now_us);
    else if (sfu_stream_add_subscriber(s, &p->sub, now_us) != J_OK)
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
        .send = env_send,
        .on_address = env_on_address,
        .on_connected = env_on_connected,
        .ctx = e,
    };
    session_limits_init(&e->limits, &cfg->limits);
    return e;
}

static void destroy_peer(engine *e, peer *p)
{
    j_map_remove(&e->by_ufrag, p->ice.local_ufrag, strlen(p->ice.local_ufrag));
    j_map_remove(&e->by_id, p->id, strlen(p->id));
    session_limits_remove(&e->limits, p->id);
    for (int i = 0; i < p->n_addrs; i++) {
        uint8_t key[19];
        size_t n = addr_key(&p->addrs[i], key);
        if (j_map_get(&e->by_addr, key, n) == p) j_map_remove(&e->by_addr, key, n);
    }
    size_t name_len = strlen(p->stream_name);
    sfu_stream *s = j_map_get(&e->streams, p->stream_name, name_len);
    if (p->role == PEER_PUBLISHER && j_map_get(&e->publishers, p->stream_name, name_len) == p) {
        j_map_remove(&e->publishers, p->stream_name, name_len);
        if (s && s->publisher_ctx == p) sfu_stream_detach_publisher(s);
    }
    if (p->role == PEER_VIEWER && s && p->sub.stream == s) sfu_stream_remove_subscriber(s, &p->sub);
    if (s && sfu_stream_is_empty(s) && !j_map_get(&e->publishers, p->stream_name, name_len)) {
        /* Viewers waiting for a publisher keep the stream; the last one out frees it. */
        bool has_viewer = false;
        for (size_t i = 0; i < e->n_peers && !has_viewer; i++)
            has_viewer = e->peers[i] != p && e->peers[i]->role == PEER_VIEWER &&
                         strcmp(e->peers[i]->stream_name, p->stream_name) == 0;
        if (!has_viewer) {
            j_map_remove(&e->streams, p->stream_name, name_len);
            sfu_stream_free(s);
            J_INFO("engine", "stream '%s' closed", p->stream_name);
        }
    }
    for (size_t i = 0; i < e->n_peers; i++) {
        if (e->peers[i] == p) {
            e->peers[i] = e->peers[--e->n_peers];
            break;
        }
    }
    peer_free(p);
}

void engine_free(engine *e)
{
    if (!e) return;
    while (e->n_peers > 0) destroy_peer(e, e->peers[e->n_peers - 1]);
    free(e->peers);
    j_map_clear(&e->by_ufrag);
    j_map_clear(&e->by_addr);
    j_map_clear(&e->by_id);
    j_map_clear(&e->streams);
    j_map_clear(&e->publishers);
    session_limits_clear(&e->limits);
    free(e);
}

static int count_viewers(const engine *e, const char *stream)
{
    int n = 0;
    for (size_t i = 0; i < e->n_peers; i++)
        if (e->peers[i]->role == PEER_VIEWER && strcmp(e->peers[i]->stream_name, stream) == 0) n++;
    return n;
}

static limit_kind session_refused_by(const engine *e, const peer_params *pp,
                                     const client_key *client)
{
    if ((int)e->n_peers >= e->cfg.max_sessions) return LIMIT_SESSIONS;
    if (pp->role == PEER_VIEWER &&
        count_viewers(e, pp->stream_name) >= e->cfg.max_viewers_per_stream)
        return LIMIT_VIEWERS_PER_STREAM;
    return session_limits_check(&e->limits, client);
}

int engine_add_session(engine *e, const peer_params *pp, const char *client_ip, uint64_t now_us,
                       limit_kind *refused_by)
{
    size_t name_len = strlen(pp->stream_name);
    client_key client;
    client_key_from_ip(&client, client_ip);
    *refused_by = session_refused_by(e, pp, &client);
    if (*refused_by != LIMIT_NONE) {
        session_limits_count_refused(&e->limits, *refused_by);
        return J_ELIMIT;
    }
    if (pp->role == PEER_PUBLISHER) {
        peer *cur = j_map_get(&e->publishers, pp->stream_name, name_len);
        if (cur && cur->state != PEER_CLOSED) return J_ESTATE;
    }
    if (e->n_peers == e->cap_peers) {
        size_t cap = e->cap_peers ? e->cap_peers * 2 : 16;
        peer **peers = realloc(e->peers, cap * sizeof *peers);
        if (!peers) return J_ENOMEM;
        e->peers = peers;
        e->cap_peers = cap;
    }
    sfu_stream *s = j_map_get(&e->streams, pp->stream_name, name_len);
    if (!s) {
        s = sfu_stream_new(pp->stream_name);
        if (!s || j_map_put(&e->streams, pp->stream_name, name_len, s) != J_OK) {
            sfu_stream_free(s);
            return J_ENOMEM;
        }
        J_INFO("engine", "stream '%s' opened", pp->stream_name);
    }
    peer *p = peer_new(&e->env, pp, now_us);
    if (!p) return J_ENOMEM;
    e->peers[e->n_peers++] = p;
    if (j_map_put(&e->by_ufrag, p->ice.local_ufrag, strlen(p->ice.local_ufrag), p) != J_OK ||
        j_map_put(&e->by_id, p->id, strlen(p->id), p) != J_OK ||
        session_limits_add(&e->limits, p->id, &client) != J_OK ||
        (pp->role == PEER_PUBLISHER &&
         j_map_put(&e->publishers, pp->stream_name, name_len, p) != J_OK)) {
        destroy_peer(e, p);
        return J_ENOMEM;
    }
    return J_OK;
}

int engine_remove_session(engine *e, peer_role role, const char *stream, const char *id)
{
    peer *p = j_map_get(&e->by_id, id, strlen(id));
    if (!p || p->role != role || strcmp(p->stream_name, stream) != 0) return J_ENOTFOUND;
    peer_close(p, "ended by DELETE");
    destroy_peer(e, p);
    return J_OK;
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
        /* Routed once ICE validated it; valid only while its consent lasts (RFC 7675). */
        if (!p || !ice_lite_is_valid_source(&p->ice, from)) {
            e->dropped[DROP_UNKNOWN_SOURCE]++;
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
        if (p->state != PEER_CONNECTED && p->state != PEER_CLOSED &&
            now_us - p->created_us >= e->cfg.handshake_timeout_us) {
            e->handshake_timeouts++;
            peer_close(p, "ICE and DTLS not completed within limits.handshake_timeout");
        }
        peer_handle_timeout(p, now_us);
        if (p->state == PEER_CLOSED)
            destroy_peer(e, p); /* swaps the last peer into slot i */
        else
            i++;
    }
    for (size_t b = 0; b < e->streams.n_buckets; b++)
        for (j_map_entry *it = e->streams.buckets[b]; it; it = it->next)
            sfu_stream_handle_timeout(it->value, now_us);
}

static json_t *peer_json(const peer *p, uint64_t now_us)
{
    const peer_stats *st = &p->stats;
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                     "s:I, s:I, s:I, s:I}}",
                     "id", p->id, "role", peer_role_name(p->role), "stream", p->stream_name,
                     "state", peer_state_name(p->state), "age_ms",
                     (json_int_t)((now_us - p->created_us) / 1000), "counters", "rtp_in",
                     (json_int_t)st->rtp_in, "rtp_in_bytes", (json_int_t)st->rtp_in_bytes,
                     "rtp_out", (json_int_t)st->rtp_out, "rtp_out_bytes",
                     (json_int_t)st->rtp_out_bytes, "rtcp_in", (json_int_t)st->rtcp_in,
                     "rtcp_out", (json_int_t)st->rtcp_out, "srtp_errors",
                     (json_int_t)st->srtp_errors, "srtp_replays", (json_int_t)st->srtp_replays,
                     "ice_auth_failures", (json_int_t)st->ice_auth_failures, "pli_in", (json_int_t)st->pli_in, "fir_in",
                     (json_int_t)st->fir_in, "nack_in", (json_int_t)st->nack_in, "pli_out",
                     (json_int_t)st->pli_out);
}

json_t *engine_stats(engine *e, uint64_t now_us)
{
    json_t *sessions = json_array();
    int publishers = 0, viewers = 0;
    for (size_t i = 0; i < e->n_peers; i++) {
        json_array_append_new(sessions, peer_json(e->peers[i], now_us));
        if (e->peers[i]->role == PEER_PUBLISHER)
            publishers++;
        else
            viewers++;
    }
    json_t *streams = json_array();
    for (size_t b = 0; b < e->streams.n_buckets; b++) {
        for (j_map_entry *it = e->streams.buckets[b]; it; it = it->next) {
            const sfu_stream *s = it->value;
            json_array_append_new(streams,
                                  json_pack("{s:s, s:b, s:I, s:I, s:I}", "name", s->name,
                                            "live", s->has_publisher, "subscribers",
                                            (json_int_t)s->n_subs, "packets_in",
                                            (json_int_t)s->packets_in, "bytes_in",
                                            (json_int_t)s->bytes_in));
        }
    }
    json_t *dropped = json_object();
    uint64_t total = 0;
    for (int r = 0; r < DROP_REASONS; r++) {
        json_object_set_new(dropped, drop_names[r], json_integer((json_int_t)e->dropped[r]));
        total += e->dropped[r];
    }
    json_t *refused = json_object();
    for (int k = LIMIT_NONE + 1; k < LIMIT_KINDS; k++)
        json_object_set_new(refused, limit_name((limit_kind)k),
                            json_integer((json_int_t)e->limits.refused[k]));
    json_t *limits = json_pack("{s:I, s:I, s:o}", "half_open", (json_int_t)e->limits.half_open,
                               "handshake_timeouts", (json_int_t)e->handshake_timeouts,
                               "sessions_refused", refused);
    return json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "sessions",
                     (json_int_t)e->n_peers, "publishers", (json_int_t)publishers, "viewers",
                     (json_int_t)viewers, "dropped_datagrams", (json_int_t)total, "dropped",
                     dropped, "limits", limits, "streams", streams, "session_list", sessions);
}
