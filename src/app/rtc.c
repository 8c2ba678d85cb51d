/* rtc.c - the room state machine connected to WebSockets, tokens and the media engine. */
#include "app/rtc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/offer.h"
#include "auth/auth.h"
#include "core/err.h"
#include "core/log.h"
#include "core/map.h"
#include "core/random.h"
#include "crypto/crypto.h"
#include "ice/ice.h"
#include "net/net.h"
#include "room/room.h"

#define RTC_TICK_MS 100
#define RTC_ANSWER_CAP (256 * 1024)
#define RTC_MAX_CLOSING 64

/* One of a participant's two connections, as the engine knows it. */
typedef struct rtc_conn {
    bool exists;
    char session_id[PEER_ID_LEN];
    char ufrag[ICE_UFRAG_LEN + 1], pwd[ICE_PWD_LEN + 1]; /* ours */
    char remote_ufrag[SDP_ICE_LEN];                       /* theirs: a change restarts ICE */
} rtc_conn;

typedef struct rtc_participant {
    char sid[ROOM_ID_LEN];
    char cname[17];
    rtc_conn conn[2]; /* by peer_role */
} rtc_participant;

struct rtc {
    app *a;
    http_server *http;
    room_server *rooms;
    j_map participants; /* sid -> rtc_participant (only those with media) */
    j_map conn_ips;     /* http_ws_id -> peer IP (malloc'd string) */
    /* The IP of the WebSocket whose message is being handled: the client behind a publish or
     * subscribe, for the per-client session limits. */
    const char *current_ip;
    /* Connections the room closed: reported back to it after its call returns. */
    room_conn_id closing[RTC_MAX_CLOSING];
    size_t n_closing;
};

static int64_t unix_now(void) { return (int64_t)time(NULL); }

/* ---------------------------------------------------------------- participants */

static rtc_participant *participant_get(rtc *r, const char *sid, bool create)
{
    rtc_participant *p = j_map_get(&r->participants, sid, strlen(sid));
    if (p || !create) return p;
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->sid, sizeof p->sid, "%s", sid);
    j_random_token(p->cname, sizeof p->cname - 1);
    if (j_map_put(&r->participants, p->sid, strlen(p->sid), p) != J_OK) {
        free(p);
        return NULL;
    }
    return p;
}

static void end_sessions(rtc *r, rtc_participant *p)
{
    for (int role = 0; role < 2; role++) {
        if (!p->conn[role].exists) continue;
        media_remove_session(r->a->media, p->conn[role].session_id, NULL, "left the room");
        p->conn[role].exists = false;
    }
}

static void participant_drop(rtc *r, rtc_participant *p)
{
    end_sessions(r, p);
    j_map_remove(&r->participants, p->sid, strlen(p->sid));
    free(p);
}

/* ---------------------------------------------------------------- room_io */

static void io_send(void *ctx, room_conn_id c, const char *json, size_t len)
{
    rtc *r = ctx;
    http_ws_send(r->http, c, json, len);
}

static void io_close(void *ctx, room_conn_id c, int ws_code, const char *reason)
{
    rtc *r = ctx;
    http_ws_close(r->http, c, ws_code, reason);
    if (r->n_closing < RTC_MAX_CLOSING) r->closing[r->n_closing++] = c;
}

/* Copy src, cut (if it must be) at a UTF-8 character boundary so it stays valid JSON text. */
static void copy_utf8(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--; /* continuation byte */
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *io_authenticate(void *ctx, const char *token, const char *room,
                                   const char *identity, const char *name, room_grants *out,
                                   char *msg, size_t cap)
{
    rtc *r = ctx;
    memset(out, 0, sizeof *out);
    snprintf(out->room, sizeof out->room, "%s", room);
    if (r->a->keys.count == 0) { /* open development mode: the join says who it is */
        if (!identity || !identity[0]) {
            snprintf(msg, cap, "identity is required (the server runs without API keys)");
            return "bad_request";
        }
        snprintf(out->identity, sizeof out->identity, "%s", identity);
        snprintf(out->name, sizeof out->name, "%s", name ? name : "");
        out->publish = out->subscribe = out->admin = true;
        return NULL;
    }
    if (!token) {
        snprintf(msg, cap, "this server requires an access token");
        return "token_missing";
    }
    auth_grants g;
    int rc = auth_verify(&r->a->keys, token, strlen(token), unix_now(), &g, msg, cap);
    if (rc != J_OK) return auth_reason(rc);
    if (!auth_allows(&g, room, AUTH_JOIN)) {
        snprintf(msg, cap, "the token is for room '%s', not '%s'", g.room, room);
        return "token_wrong_room";
    }
    if (!g.identity[0] || strlen(g.identity) >= sizeof out->identity) {
        snprintf(msg, cap, "the token names no usable identity (sub claim, 1 to %zu bytes)",
                 sizeof out->identity - 1);
        return "token_malformed";
    }
    snprintf(out->identity, sizeof out->identity, "%s", g.identity);
    copy_utf8(out->name, sizeof out->name, g.name[0] ? g.name : (name ? name : ""));
    out->publish = g.can_publish;
    out->subscribe = g.can_subscribe;
    out->admin = g.admin;
    return NULL;
}

/* How a room request maps m= sections to tracks: bind fills o->binds after negotiation,
 * keep (subscribe only) binds again sections app_offer_check_published unbound but which
 * must stay (wanted: the bindings before it), report copies what the engine bound back
 * into the request's entries. */
typedef struct offer_binding {
    void (*bind)(app_offer *o, void *arg);
    void (*keep)(app_offer *o, const engine_bind *wanted, void *arg);
    void (*report)(const app_offer *o, void *arg);
    void *arg;
} offer_binding;

/* The error code (and msg) for a session the media plane refused with rc: the offer's
 * fault, a server limit or state the client may retry after, or a bug. Track ids are the
 * server's, so a track another connection publishes is a bug here, said as precisely. */
static const char *session_refusal(int rc, const engine_session *es, char *msg, size_t cap)
{
    switch (rc) {
    case J_EINVAL:
        if (!es->refusal[0]) break;
        snprintf(msg, cap, "%s", es->refusal);
        return "bad_request";
    case J_ELIMIT:
        snprintf(msg, cap, "limit reached: %s",
                 es->refused_by != LIMIT_NONE ? limit_setting(es->refused_by)
                                              : "the tracks of one connection");
        return "server_busy";
    case J_ENOTFOUND:
        snprintf(msg, cap, "this connection has ended: create a new one");
        return "sdp_unsupported";
    case J_ESTATE:
        if (es->refusal[0]) {
            snprintf(msg, cap, "%s", es->refusal);
            return "internal";
        }
        snprintf(msg, cap, "the previous connection is still closing: try again");
        return "server_busy";
    case J_ENOMEM:
        snprintf(msg, cap, "out of memory");
        return "server_busy";
    case J_EIO:
        snprintf(msg, cap, "the server is shutting down");
        return "server_busy";
    default:
        break;
    }
    snprintf(msg, cap, "%s", j_strerror(rc));
    return "internal";
}

/* Negotiate an offer for one of a participant's connections and create or update its
 * engine session; on success *answer is our SDP answer (malloc'd). */
static int apply_offer(rtc *r, const char *sid, peer_role role, const char *sdp, size_t sdp_len,
                       const offer_binding *ob, char **answer, const char **err_code, char *msg,
                       size_t cap)
{
    *answer = NULL;
    *err_code = NULL;
    app_offer offer;
    int rc = app_offer_negotiate(&offer, role, sdp, sdp_len, msg, cap);
    if (rc != J_OK) {
        *err_code = rc == J_EMALFORMED ? "sdp_invalid" : rc == J_EUNSUPPORTED ? "sdp_unsupported"
                                                                               : "server_busy";
        return rc;
    }
    ob->bind(&offer, ob->arg);
    const char *room_name = room_participant_room(r->rooms, sid);
    rtc_participant *p = participant_get(r, sid, true);
    size_t n_binds = offer.neg->media_count ? offer.neg->media_count : 1;
    engine_bind *wanted = role == PEER_SUBSCRIBER ? malloc(n_binds * sizeof *wanted) : NULL;
    if (!p || (role == PEER_SUBSCRIBER && !wanted)) {
        free(wanted);
        app_offer_free(&offer);
        *err_code = "server_busy";
        snprintf(msg, cap, "out of memory");
        return J_ENOMEM;
    }
    rtc_conn *c = &p->conn[role];
    /* Tracks this subscriber cannot decode are not bound (answered inactive, each with its
     * reason in subscribe_answer), even when none of them can be: the connection serves
     * other tracks later. */
    rc = J_OK;
    if (role == PEER_SUBSCRIBER && room_name) {
        memcpy(wanted, offer.binds, n_binds * sizeof *wanted);
        rc = app_offer_check_published(r->a, room_name, &offer, msg, cap);
        if (c->exists) ob->keep(&offer, wanted, ob->arg);
    }
    free(wanted);
    if (rc != J_OK && rc != J_EUNSUPPORTED) {
        app_offer_free(&offer);
        *err_code = "server_busy";
        snprintf(msg, cap, "%s", j_strerror(rc));
        return rc;
    }
    msg[0] = '\0';
    rtc_conn next = *c;
    if (!c->exists) {
        snprintf(next.session_id, sizeof next.session_id, "%s.%s", sid,
                 role == PEER_PUBLISHER ? "pub" : "sub");
    }
    if (!c->exists || strcmp(c->remote_ufrag, offer.neg->remote_ufrag) != 0)
        ice_lite_generate_credentials(next.ufrag, next.pwd); /* new or ICE restart */
    snprintf(next.remote_ufrag, sizeof next.remote_ufrag, "%s", offer.neg->remote_ufrag);
    char owner[PEER_OWNER_LEN];
    snprintf(owner, sizeof owner, "room participant %s", sid);
    engine_session es = {.role = role, .id = next.session_id, .owner = owner,
                         .local_ufrag = next.ufrag, .local_pwd = next.pwd, .cname = p->cname,
                         .neg = offer.neg, .binds = offer.binds, .report_close = true,
                         .client_ip = r->current_ip};
    /* A room lives on one worker (its home): every publisher goes there, subscribers too
     * until it is busy (app/placement.h). */
    int worker = 0;
    rc = !room_name  ? J_ENOTFOUND
         : c->exists ? media_update_session(r->a->media, &es, &worker)
                     : media_add_session(r->a->media, room_name, &es, &worker);
    if (rc != J_OK) {
        *err_code = session_refusal(rc, &es, msg, cap);
        if (rc == J_ENOTFOUND) c->exists = false; /* the engine closed it meanwhile */
        app_offer_free(&offer);
        return rc;
    }
    next.exists = true;
    *c = next;
    char *buf = malloc(RTC_ANSWER_CAP);
    app_answer_params ap = {.ice_ufrag = c->ufrag, .ice_pwd = c->pwd, .cname = p->cname,
                            .stream_id = sid, .media_port = media_port(r->a->media, worker)};
    int alen = buf ? app_offer_answer(r->a, &offer, role, &ap, buf, RTC_ANSWER_CAP) : J_ENOMEM;
    if (alen < 0) {
        free(buf);
        *err_code = "internal";
        snprintf(msg, cap, "cannot write the SDP answer: %s", j_strerror(alen));
        app_offer_free(&offer);
        return alen;
    }
    *answer = buf;
    ob->report(&offer, ob->arg);
    app_offer_free(&offer);
    return J_OK;
}

typedef struct pub_binds {
    room_pub_track *tracks;
    size_t n;
} pub_binds;

static room_pub_track *pub_entry(pub_binds *b, const char *mid)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->tracks[i].mid, mid) == 0) return &b->tracks[i];
    return NULL;
}

static void bind_published(app_offer *o, void *arg)
{
    pub_binds *b = arg;
    for (int i = 0; i < o->neg->media_count; i++) {
        const sdp_neg_media *m = &o->neg->media[i];
        const room_pub_track *t = peer_neg_carries(m, PEER_PUBLISHER) ? pub_entry(b, m->mid) : NULL;
        if (t) snprintf(o->binds[i].track_id, sizeof o->binds[i].track_id, "%s", t->track_id);
    }
}

static void report_published(const app_offer *o, void *arg)
{
    pub_binds *b = arg;
    for (size_t i = 0; i < b->n; i++) b->tracks[i].kind = -1;
    for (int i = 0; i < o->neg->media_count; i++) {
        const sdp_neg_media *m = &o->neg->media[i];
        room_pub_track *t = peer_neg_carries(m, PEER_PUBLISHER) ? pub_entry(b, m->mid) : NULL;
        if (t) t->kind = sfu_kind_from_sdp(m->kind);
    }
}

static int io_publish(void *ctx, const char *sid, const char *sdp, size_t sdp_len,
                      room_pub_track *tracks, size_t n, char **answer, const char **err_code,
                      char *msg, size_t cap)
{
    pub_binds b = {.tracks = tracks, .n = n};
    offer_binding ob = {.bind = bind_published, .report = report_published, .arg = &b};
    return apply_offer(ctx, sid, PEER_PUBLISHER, sdp, sdp_len, &ob, answer, err_code, msg, cap);
}

typedef struct sub_binds {
    room_sub_pair *pairs;
    size_t n;
} sub_binds;

static room_sub_pair *sub_entry(sub_binds *b, const char *mid)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->pairs[i].mid, mid) == 0) return &b->pairs[i];
    return NULL;
}

static void bind_subscribed(app_offer *o, void *arg)
{
    sub_binds *b = arg;
    for (int i = 0; i < o->neg->media_count; i++) {
        const sdp_neg_media *m = &o->neg->media[i];
        const room_sub_pair *t = peer_neg_carries(m, PEER_SUBSCRIBER) ? sub_entry(b, m->mid) : NULL;
        if (t) snprintf(o->binds[i].track_id, sizeof o->binds[i].track_id, "%s", t->track_id);
    }
}

/* Sections whose mid already carries the track wanted, which the room says the engine could
 * not decode there (room_sub_pair.undecodable), keep it: the participant was told
 * (track_error) and is told again when it can decode it; unbinding it would leave it without
 * that track even once its publisher comes back to a codec it takes. */
static void keep_undecodable(app_offer *o, const engine_bind *wanted, void *arg)
{
    sub_binds *b = arg;
    for (int i = 0; i < o->neg->media_count; i++) {
        const room_sub_pair *t = sub_entry(b, o->neg->media[i].mid);
        if (!o->refused[i][0] || !t || !t->undecodable ||
            strcmp(t->track_id, wanted[i].track_id) != 0)
            continue;
        o->binds[i] = wanted[i];
        o->refused[i][0] = '\0';
    }
}

/* A pair is bound when the engine sends something on its mid; one whose track sends no
 * codec the offer took says so. */
static void report_subscribed(const app_offer *o, void *arg)
{
    sub_binds *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        room_sub_pair *t = &b->pairs[i];
        bool bound = false;
        for (int m = 0; m < o->neg->media_count; m++) {
            if (strcmp(o->neg->media[m].mid, t->mid) != 0) continue;
            bound = o->binds[m].ssrc != 0;
            snprintf(t->no_codec, sizeof t->no_codec, "%s", o->refused[m]);
            break;
        }
        if (!bound) t->track_id[0] = '\0';
    }
}

static int io_subscribe(void *ctx, const char *sid, const char *sdp, size_t sdp_len,
                        room_sub_pair *pairs, size_t n, char **answer, const char **err_code,
                        char *msg, size_t cap)
{
    sub_binds b = {.pairs = pairs, .n = n};
    offer_binding ob = {.bind = bind_subscribed, .keep = keep_undecodable,
                        .report = report_subscribed, .arg = &b};
    return apply_offer(ctx, sid, PEER_SUBSCRIBER, sdp, sdp_len, &ob, answer, err_code, msg, cap);
}

static void io_set_muted(void *ctx, const char *track_id, bool muted)
{
    rtc *r = ctx;
    media_set_track_muted(r->a->media, track_id, muted);
}

static void io_remove_media(void *ctx, const char *sid)
{
    rtc *r = ctx;
    rtc_participant *p = participant_get(r, sid, false);
    if (p) participant_drop(r, p);
}

static bool io_media_stats(void *ctx, const char *sid, room_media_stats *out)
{
    rtc *r = ctx;
    memset(out, 0, sizeof *out);
    rtc_participant *p = participant_get(r, sid, false);
    if (!p) return false;
    engine_session_health health[2];
    bool found[2];
    for (int role = 0; role < 2; role++)
        found[role] = p->conn[role].exists &&
                      media_session_health(r->a->media, p->conn[role].session_id,
                                           &health[role]) == J_OK;
    out->pub_connected = found[PEER_PUBLISHER] && health[PEER_PUBLISHER].state == PEER_CONNECTED;
    out->sub_connected = found[PEER_SUBSCRIBER] && health[PEER_SUBSCRIBER].state == PEER_CONNECTED;
    return found[0] || found[1];
}

static void io_audio_levels(void *ctx, room_audio_level *entries, size_t n)
{
    rtc *r = ctx;
    if (n == 0) return;
    const char **ids = calloc(n, sizeof *ids);
    sfu_audio_levels *levels = calloc(n, sizeof *levels);
    if (ids && levels) {
        for (size_t i = 0; i < n; i++) ids[i] = entries[i].track_id;
        media_take_audio_levels(r->a->media, ids, levels, n);
    }
    for (size_t i = 0; i < n; i++) {
        entries[i].loudness_sum = levels ? levels[i].loudness_sum : 0;
        entries[i].packets = levels ? levels[i].packets : 0;
    }
    free(ids);
    free(levels);
}

static void io_set_paused(void *ctx, const char *sid, const char *const *track_ids, size_t n)
{
    rtc *r = ctx;
    rtc_participant *p = participant_get(r, sid, false);
    if (!p || !p->conn[PEER_SUBSCRIBER].exists) return; /* a later subscribe applies it */
    media_set_paused(r->a->media, p->conn[PEER_SUBSCRIBER].session_id, track_ids, n);
}

static uint8_t layer_max(int v) { return v < 0 ? SFU_LAYER_ANY : (uint8_t)v; }

static void io_set_layers(void *ctx, const char *sid, const char *track_id,
                          const room_track_layers *layers)
{
    rtc *r = ctx;
    rtc_participant *p = participant_get(r, sid, false);
    if (!p || !p->conn[PEER_SUBSCRIBER].exists) return; /* a later subscribe applies it */
    engine_layer_prefs prefs = {.visible = layers->visible,
                                .width = (uint16_t)layers->width,
                                .height = (uint16_t)layers->height,
                                .max_spatial = layer_max(layers->max_spatial),
                                .max_temporal = layer_max(layers->max_temporal)};
    media_set_layer_prefs(r->a->media, p->conn[PEER_SUBSCRIBER].session_id, track_id, &prefs);
}

/* ---------------------------------------------------------------- events in */

static void forget_conn_ip(rtc *r, http_ws_id id)
{
    char *ip = j_map_get(&r->conn_ips, &id, sizeof id);
    j_map_remove(&r->conn_ips, &id, sizeof id);
    free(ip);
}

/* Report connections the room asked to close, now that its call has returned. */
static void flush_closing(rtc *r)
{
    uint64_t now = j_now_us();
    while (r->n_closing > 0) {
        room_conn_id c = r->closing[--r->n_closing];
        room_conn_closed(r->rooms, c, now);
        forget_conn_ip(r, c);
    }
}

static void ws_open(void *ctx, http_ws_id id, const char *peer_ip)
{
    rtc *r = ctx;
    char *ip = strdup(peer_ip);
    if (ip && j_map_put(&r->conn_ips, &id, sizeof id, ip) != J_OK) free(ip);
    room_conn_open(r->rooms, id, peer_ip, j_now_us());
    flush_closing(r);
}

static void ws_message(void *ctx, http_ws_id id, const uint8_t *data, size_t len)
{
    rtc *r = ctx;
    r->current_ip = j_map_get(&r->conn_ips, &id, sizeof id);
    room_conn_message(r->rooms, id, data, len, j_now_us());
    r->current_ip = NULL;
    flush_closing(r);
}

static void ws_close(void *ctx, http_ws_id id)
{
    rtc *r = ctx;
    room_conn_closed(r->rooms, id, j_now_us());
    forget_conn_ip(r, id);
    flush_closing(r);
}

/* The participant whose session id ("<sid>.pub" / "<sid>.sub") this is, into sid. */
static rtc_participant *session_participant(rtc *r, const char *id, char sid[ROOM_ID_LEN])
{
    const char *dot = strchr(id, '.');
    size_t len = dot ? (size_t)(dot - id) : strlen(id);
    if (len >= ROOM_ID_LEN) return NULL;
    memcpy(sid, id, len);
    sid[len] = '\0';
    return participant_get(r, sid, false);
}

/* A session the engine ended on its own (ICE consent lost): the participant's media is gone. */
static void session_closed(void *ctx, const char *id, const char *reason)
{
    rtc *r = ctx;
    char sid[ROOM_ID_LEN];
    rtc_participant *p = session_participant(r, id, sid);
    if (!p) return;
    J_INFO("rtc", "participant %s: media session %s ended by the engine: %s", sid, id, reason);
    participant_drop(r, p);
    room_media_closed(r->rooms, sid, j_now_us());
}

/* A track a subscribe connection receives became undecodable there, or decodable again. */
static void codec_notice(void *ctx, const engine_codec_notice *n)
{
    rtc *r = ctx;
    char sid[ROOM_ID_LEN];
    rtc_participant *p = session_participant(r, n->session_id, sid);
    const rtc_conn *c = p ? &p->conn[PEER_SUBSCRIBER] : NULL;
    if (!c || !c->exists || strcmp(c->session_id, n->session_id) != 0) return;
    room_track_error(r->rooms, sid, n->mid, n->track_id, n->undecodable ? n->reason : NULL);
}

static void tick(void *ctx)
{
    rtc *r = ctx;
    media_drain_events(r->a->media,
                       &(media_events){.closed = session_closed, .codec = codec_notice, .ctx = r});
    room_handle_timeout(r->rooms, j_now_us());
    flush_closing(r);
    media_release_memory(r->a->media);
}

/* ---------------------------------------------------------------- HTTP API */

/* "/api/rooms/{room}[/participants/{identity}[/tracks/{track}/layers] | /tracks/{track}/mute]"
 * split in place. */
typedef struct rooms_path {
    char room[65];
    char kind[16];  /* "", "participants" or "tracks" */
    char item[129];
    char action[16]; /* "", "mute" or "tracks" */
    char sub_item[129];
    char sub_action[16]; /* "" or "layers" */
} rooms_path;

static bool split_rooms_path(const char *path, rooms_path *out)
{
    memset(out, 0, sizeof *out);
    const char *p = path + strlen("/api/rooms");
    if (*p == '\0') return true;
    if (*p++ != '/') return false;
    char *fields[6] = {out->room, out->kind, out->item, out->action, out->sub_item,
                       out->sub_action};
    size_t caps[6] = {sizeof out->room,   sizeof out->kind,     sizeof out->item,
                      sizeof out->action, sizeof out->sub_item, sizeof out->sub_action};
    for (int f = 0; f < 6 && *p; f++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len >= caps[f]) return false;
        memcpy(fields[f], p, len);
        fields[f][len] = '\0';
        p += len;
        if (*p == '/') p++;
    }
    return *p == '\0';
}

json_t *rtc_rooms_json(const rtc *r)
{
    return room_list_json(r->rooms, j_now_us(), unix_now());
}

static void rooms_get(void *ctx, const http_request *req, http_reply *rep)
{
    rtc *r = ctx;
    rooms_path rp;
    if (!split_rooms_path(req->path, &rp) || rp.kind[0] || rp.sub_item[0]) {
        http_reply_error(rep, 404, "not_found", "GET /api/rooms or /api/rooms/{room}");
        return;
    }
    if (!app_admin_allowed(r->a, req, rp.room[0] ? rp.room : NULL, rep)) return;
    if (!rp.room[0]) {
        http_reply_json(rep, 200, rtc_rooms_json(r));
        return;
    }
    json_t *room = room_get_json(r->rooms, rp.room, j_now_us(), unix_now());
    if (!room) {
        http_reply_error(rep, 404, "not_found", "no such room");
        return;
    }
    http_reply_json(rep, 200, room);
}

static void rooms_delete(void *ctx, const http_request *req, http_reply *rep)
{
    rtc *r = ctx;
    rooms_path rp;
    if (!split_rooms_path(req->path, &rp) || !rp.room[0] || rp.action[0] || rp.sub_item[0] ||
        (rp.kind[0] && strcmp(rp.kind, "participants") != 0) || (rp.kind[0] && !rp.item[0])) {
        http_reply_error(rep, 404, "not_found",
                         "DELETE /api/rooms/{room} or /api/rooms/{room}/participants/{identity}");
        return;
    }
    if (!app_admin_allowed(r->a, req, rp.room, rep)) return;
    int rc = rp.kind[0] ? room_remove_participant(r->rooms, rp.room, rp.item, j_now_us())
                        : room_close(r->rooms, rp.room, j_now_us());
    flush_closing(r);
    if (rc != J_OK) {
        http_reply_error(rep, 404, "not_found", rp.kind[0] ? "no such room or participant"
                                                          : "no such room");
        return;
    }
    J_INFO("rtc", "admin from %s: %s %s%s%s", req->peer_ip, rp.kind[0] ? "removed" : "closed room",
           rp.room, rp.kind[0] ? " participant " : "", rp.item);
    rep->status = 204;
}

/* A body member that is null (or absent) or an integer 0..3: a layer cap, -1 for none. */
static bool layer_cap(const json_t *body, const char *key, int *out)
{
    const json_t *v = json_object_get(body, key);
    *out = -1;
    if (!v || json_is_null(v)) return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > SFU_LAYERS_MAX_SPATIAL - 1)
        return false;
    *out = (int)json_integer_value(v);
    return true;
}

/* POST /api/rooms/{room}/participants/{identity}/tracks/{track}/layers */
static void post_layers(rtc *r, const rooms_path *rp, const http_request *req, http_reply *rep)
{
    json_error_t jerr;
    json_t *body = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    int max_spatial, max_temporal;
    if (!json_is_object(body) || !layer_cap(body, "max_spatial", &max_spatial) ||
        !layer_cap(body, "max_temporal", &max_temporal)) {
        json_decref(body);
        http_reply_error(rep, 400, "bad_request",
                         "the body must be {\"max_spatial\": 0-3|null, \"max_temporal\": 0-3|null}");
        return;
    }
    json_decref(body);
    json_t *settings = NULL;
    int rc = room_set_track_layers(r->rooms, rp->room, rp->item, rp->sub_item, max_spatial,
                                   max_temporal, &settings);
    if (rc != J_OK) {
        http_reply_error(rep, rc == J_ENOTFOUND ? 404 : 503,
                         rc == J_ENOTFOUND ? "not_found" : "server_busy",
                         rc == J_ENOTFOUND ? "no such room, participant or track" : j_strerror(rc));
        return;
    }
    J_INFO("rtc", "admin from %s: layers of %s for %s in room %s capped", req->peer_ip,
           rp->sub_item, rp->item, rp->room);
    http_reply_json(rep, 200, settings);
}

static void rooms_post(void *ctx, const http_request *req, http_reply *rep)
{
    rtc *r = ctx;
    rooms_path rp;
    bool split = split_rooms_path(req->path, &rp);
    bool mute = split && strcmp(rp.kind, "tracks") == 0 && rp.item[0] &&
                strcmp(rp.action, "mute") == 0 && !rp.sub_item[0];
    bool layers = split && strcmp(rp.kind, "participants") == 0 && rp.item[0] &&
                  strcmp(rp.action, "tracks") == 0 && rp.sub_item[0] &&
                  strcmp(rp.sub_action, "layers") == 0;
    if (!mute && !layers) {
        http_reply_error(rep, 404, "not_found",
                         "POST /api/rooms/{room}/tracks/{track}/mute or "
                         "/api/rooms/{room}/participants/{identity}/tracks/{track}/layers");
        return;
    }
    if (!app_admin_allowed(r->a, req, rp.room, rep)) return;
    if (layers) {
        post_layers(r, &rp, req, rep);
        return;
    }
    json_error_t jerr;
    json_t *body = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *muted = body ? json_object_get(body, "muted") : NULL;
    if (!json_is_boolean(muted)) {
        json_decref(body);
        http_reply_error(rep, 400, "bad_request", "the body must be {\"muted\": true|false}");
        return;
    }
    json_t *track = NULL;
    int rc = room_mute_track(r->rooms, rp.room, rp.item, json_is_true(muted), &track);
    json_decref(body);
    if (rc != J_OK) {
        http_reply_error(rep, rc == J_ENOTFOUND ? 404 : 503, rc == J_ENOTFOUND ? "not_found"
                                                                               : "server_busy",
                         rc == J_ENOTFOUND ? "no such room or track" : j_strerror(rc));
        return;
    }
    http_reply_json(rep, 200, track);
}

size_t rtc_routes(rtc *r, http_route *routes, size_t n, size_t max)
{
    const http_route table[] = {
        {"GET", "/api/rooms", rooms_get, r},
        {"DELETE", "/api/rooms", rooms_delete, r},
        {"POST", "/api/rooms", rooms_post, r},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0] && n < max; i++) routes[n++] = table[i];
    return n;
}

/* ---------------------------------------------------------------- lifetime */

rtc *rtc_new(app *a)
{
    rtc *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->a = a;
    const config *c = &a->cfg;
    room_limits limits = {
        .max_participants = c->rooms_max_participants,
        .max_tracks_per_participant = c->rooms_max_tracks_per_participant,
        .max_messages_per_second = c->rooms_max_messages_per_second,
        .empty_timeout_s = (uint32_t)c->rooms_empty_timeout_s,
        .resume_grace_s = (uint32_t)c->rooms_resume_grace_s,
        .max_message_size = c->rooms_max_message_size,
    };
    room_io io = {
        .ctx = r,
        .send = io_send,
        .close = io_close,
        .authenticate = io_authenticate,
        .publish = io_publish,
        .subscribe = io_subscribe,
        .set_muted = io_set_muted,
        .remove_media = io_remove_media,
        .media_stats = io_media_stats,
        .audio_levels = io_audio_levels,
        .set_paused = io_set_paused,
        .set_layers = io_set_layers,
    };
    r->rooms = room_server_new(&limits, &io);
    if (!r->rooms) {
        J_ERROR("rtc", "cannot create the rooms (check the rooms.* settings)");
        free(r);
        return NULL;
    }
    return r;
}

int rtc_attach(rtc *r, http_server *http)
{
    r->http = http;
    http_ws_endpoint ep = {
        .path = "/rtc",
        .max_message = r->a->cfg.rooms_max_message_size,
        .on_open = ws_open,
        .on_message = ws_message,
        .on_close = ws_close,
        .ctx = r,
    };
    int rc = http_server_add_ws(http, &ep);
    if (rc != J_OK) return rc;
    http_server_set_tick(http, RTC_TICK_MS, tick, r);
    return J_OK;
}

void rtc_free(rtc *r)
{
    if (!r) return;
    for (size_t b = 0; b < r->participants.n_buckets; b++) {
        for (j_map_entry *it = r->participants.buckets[b]; it; it = it->next) {
            rtc_participant *p = it->value;
            if (r->a->media) end_sessions(r, p);
            free(p);
        }
    }
    j_map_clear(&r->participants);
    for (size_t b = 0; b < r->conn_ips.n_buckets; b++)
        for (j_map_entry *it = r->conn_ips.buckets[b]; it; it = it->next) free(it->value);
    j_map_clear(&r->conn_ips);
    room_server_free(r->rooms);
    free(r);
}
