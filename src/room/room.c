/* room.c - rooms, participants, tracks and the /rtc state machine (docs/PROTOCOL.md). */
#include "room/room.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/map.h"
#include "core/random.h"
#include "crypto/crypto.h"
#include "room/rtc_msg.h"
#include "room/speaker.h"

#define SESSION_LEN 32 /* base62 characters: about 190 bits */
#define MSG_LEN 160    /* error messages */
#define US_PER_S 1000000u

typedef struct participant participant;
typedef char id_text[ROOM_ID_LEN]; /* a participant's or a track's id */
typedef struct room room;

typedef struct track {
    char id[ROOM_ID_LEN];
    char mid[RTC_MSG_MID_MAX + 1];
    char source[16];
    int kind; /* 0 audio, 1 video */
    bool muted;
    participant *owner;
} track;

typedef struct conn {
    room_conn_id id;
    char ip[64];
    participant *p; /* NULL before join and after leaving */
    bool closing;   /* io->close was called: further frames are ignored */
    uint64_t credit; /* rate limit bucket, in millionths of a message */
    uint64_t refilled_us;
} conn;

/* One subscriber's settings for one track: its own (track_settings) and the server's cap
 * (the admin API, RTC_MSG_LAYER_ANY: none). Kept until the track goes, across resumes, and
 * before the track is bound to its subscribe connection. */
typedef struct layer_setting {
    char track_id[ROOM_ID_LEN];
    room_track_layers client;
    int cap_spatial, cap_temporal;
} layer_setting;

/* A track p receives on mid that its subscribe connection cannot decode (room_track_error),
 * with the media plane's reason. Kept across resumes until it can again, the track goes, a
 * subscribe binds mid to something else or p's media connections end: one per mid, so at
 * most RTC_MSG_MAX_TRACKS. */
typedef struct track_error {
    char track_id[ROOM_ID_LEN];
    char mid[RTC_MSG_MID_MAX + 1];
    char reason[ROOM_REFUSAL_LEN];
} track_error;

struct participant {
    char sid[ROOM_ID_LEN];
    char identity[65];
    char name[65];
    char session[SESSION_LEN + 1];
    room_grants grants;
    room *room;
    conn *conn;              /* NULL while awaiting resume */
    uint64_t disconnected_us; /* when conn went away */
    track *tracks[RTC_MSG_MAX_TRACKS];
    size_t n_tracks;
    uint64_t key;             /* its source in room->speakers */
    int speaker_slot;         /* -1: not in the detector */
    bool audio_only;          /* set_subscription */
    int last_n;               /* set_subscription; -1: no limit */
    id_text *paused;          /* the track ids last given to io.set_paused */
    size_t n_paused;
    layer_setting *layers;    /* per track: track_settings, the admin API's caps */
    size_t n_layers;
    track_error *track_errors; /* the tracks it receives but cannot decode now */
    size_t n_track_errors;
    participant *prev, *next; /* in room, join order */
};

struct room {
    char name[RTC_MSG_ROOM_MAX + 1];
    uint64_t created_us;
    uint64_t empty_since_us; /* meaningful when count == 0 */
    participant *first, *last;
    int count;
    room_speakers *speakers;
    char *speakers_sent;       /* the last active_speakers (JSON text): an empty one at first */
    bool speakers_changed;     /* the detector changed since speakers_sent */
    uint64_t speakers_next_us; /* the earliest the next active_speakers may go */
    room *prev, *next; /* in the server, creation order */
};

struct room_server {
    room_limits limits;
    room_io io;
    j_map rooms;        /* name -> room */
    j_map conns;        /* room_conn_id -> conn */
    j_map participants; /* sid -> participant */
    j_map tracks;       /* track id -> track */
    room *first_room, *last_room;
    uint64_t next_quality_us;
    uint64_t next_speakers_us;
    uint64_t next_key; /* participants' speaker keys */
};

/* ---- ids ---------------------------------------------------------------------------- */

/* new_id - prefix + 12 characters of Crockford's base32 (60 bits), not yet in taken. */
static void new_id(char out[ROOM_ID_LEN], const char *prefix, const j_map *taken)
{
    static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
    do {
        uint8_t raw[12];
        j_random_bytes(raw, sizeof raw);
        size_t n = strlen(prefix);
        memcpy(out, prefix, n);
        for (size_t i = 0; i < sizeof raw; i++) out[n + i] = alphabet[raw[i] & 31];
        out[n + sizeof raw] = '\0';
    } while (j_map_get(taken, out, strlen(out)));
}

/* ---- lookups ------------------------------------------------------------------------ */

static conn *find_conn(const room_server *rs, room_conn_id c)
{
    return j_map_get(&rs->conns, &c, sizeof c);
}

static room *find_room(const room_server *rs, const char *name)
{
    return j_map_get(&rs->rooms, name, strlen(name));
}

static track *find_track(const room_server *rs, const char *id)
{
    return j_map_get(&rs->tracks, id, strlen(id));
}

static participant *find_identity(const room *r, const char *identity)
{
    for (participant *p = r->first; p; p = p->next)
        if (strcmp(p->identity, identity) == 0) return p;
    return NULL;
}

static track *find_mid_in(track *const *list, size_t n, const char *mid)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i]->mid, mid) == 0) return list[i];
    return NULL;
}

/* ---- output ------------------------------------------------------------------------- */

static bool can_send(const conn *c) { return c && !c->closing; }

/* send_owned - send json to c and free it (NULL json: building ran out of memory). */
static void send_owned(room_server *rs, conn *c, char *json)
{
    if (!json) J_WARN("room", "%s: out of memory building a message", c->ip);
    else if (can_send(c)) rs->io.send(rs->io.ctx, c->id, json, strlen(json));
    free(json);
}

static void send_text(room_server *rs, const participant *p, const char *json)
{
    if (can_send(p->conn)) rs->io.send(rs->io.ctx, p->conn->id, json, strlen(json));
}

/* broadcast - send json to every connected participant of r but except, then free it. */
static void broadcast(room_server *rs, const room *r, const participant *except, char *json)
{
    if (!json) {
        J_WARN("room", "room %s: out of memory building an event", r->name);
        return;
    }
    for (participant *p = r->first; p; p = p->next)
        if (p != except) send_text(rs, p, json);
    free(json);
}

static void close_conn(room_server *rs, conn *c, int ws_code, const char *reason)
{
    if (c->closing) return;
    c->closing = true;
    rs->io.close(rs->io.ctx, c->id, ws_code, reason);
}

/* send_error - answer a request with an error; the codes PROTOCOL.md marks "closed" close the
 * connection with 1008. Nothing in the room changes. */
static void send_error(room_server *rs, conn *c, const rtc_msg_id *id, const char *code,
                       const char *message)
{
    if (c->p)
        J_INFO("room", "%s: room %s: %s: %s: %s", c->ip, c->p->room->name, c->p->sid, code,
               message);
    else
        J_INFO("room", "%s: %s: %s", c->ip, code, message);
    send_owned(rs, c, rtc_msg_error_json(id, code, message));
    if (rtc_msg_error_closes(code)) close_conn(rs, c, 1008, code);
}

/* tell_closed - the `closed` event, then the close (1000); c no longer has a participant. */
static void tell_closed(room_server *rs, conn *c, const char *reason, const char *message)
{
    send_owned(rs, c, rtc_msg_closed(reason, message));
    close_conn(rs, c, 1000, reason);
    c->p->conn = NULL;
    c->p = NULL;
}

static json_t *track_json(const track *t, bool with_mid)
{
    return rtc_track_json(t->id, t->owner->sid, t->kind, t->source, t->muted,
                          with_mid ? t->mid : NULL);
}

static json_t *tracks_json(const participant *p, bool with_mid)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < p->n_tracks; i++) {
        if (json_array_append_new(a, track_json(p->tracks[i], with_mid)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *participant_json(const participant *p)
{
    return rtc_participant_json(p->sid, p->identity, p->name, tracks_json(p, false));
}

/* ---- lifetimes ---------------------------------------------------------------------- */

static void room_free(room *r)
{
    room_speakers_free(r->speakers);
    free(r->speakers_sent);
    free(r);
}

static room *room_create(room_server *rs, const char *name, uint64_t now_us)
{
    room *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->created_us = now_us;
    r->empty_since_us = now_us;
    /* One source per participant: max_participants counts those awaiting resume too. */
    r->speakers = room_speakers_new((size_t)rs->limits.max_participants, NULL);
    r->speakers_sent = rtc_msg_active_speakers(json_array(), NULL);
    if (!r->speakers || !r->speakers_sent ||
        j_map_put(&rs->rooms, r->name, strlen(r->name), r) != J_OK) {
        room_free(r);
        return NULL;
    }
    if (!rs->first_room) {
        rs->next_quality_us = now_us + ROOM_QUALITY_INTERVAL_US;
        rs->next_speakers_us = now_us + ROOM_SPEAKERS_INTERVAL_US;
    }
    r->prev = rs->last_room;
    if (r->prev) r->prev->next = r;
    else rs->first_room = r;
    rs->last_room = r;
    J_INFO("room", "room %s: created", r->name);
    return r;
}

static void room_destroy(room_server *rs, room *r)
{
    if (r->prev) r->prev->next = r->next;
    else rs->first_room = r->next;
    if (r->next) r->next->prev = r->prev;
    else rs->last_room = r->prev;
    j_map_remove(&rs->rooms, r->name, strlen(r->name));
    J_INFO("room", "room %s: closed", r->name);
    room_free(r);
}

static void forget_layers(participant *p, const char *track_id);
static void forget_track_errors(participant *p, const char *track_id);

static void track_free(room_server *rs, track *t)
{
    if (t->owner && t->owner->room) {
        for (participant *o = t->owner->room->first; o; o = o->next) {
            forget_layers(o, t->id);
            forget_track_errors(o, t->id);
        }
    }
    j_map_remove(&rs->tracks, t->id, strlen(t->id));
    free(t);
}

/* ---- subscriptions (set_subscription) ---------------------------------------------- */

static participant *find_key(const room *r, uint64_t key)
{
    for (participant *p = r->first; p; p = p->next)
        if (p->key == key) return p;
    return NULL;
}

static bool is_chosen(participant *const *chosen, size_t n, const participant *p)
{
    for (size_t i = 0; i < n; i++)
        if (chosen[i] == p) return true;
    return false;
}

/* choose - add o to chosen (at most cap) unless it is NULL, self or there already. */
static void choose(participant **chosen, size_t *n, size_t cap, const participant *self,
                   participant *o)
{
    if (o && o != self && *n < cap && !is_chosen(chosen, *n, o)) chosen[(*n)++] = o;
}

/* last_n_chosen - whose camera p receives under its last_n: the dominant speaker, then those
 * who spoke most recently, then the earliest to join; p itself does not count. chosen has
 * room for p->last_n; the count, or -1 when out of memory. */
static long last_n_chosen(const room *r, const participant *p, participant **chosen)
{
    size_t cap = (size_t)p->last_n, n = 0;
    uint64_t key;
    if (room_speakers_dominant(r->speakers, &key)) choose(chosen, &n, cap, p, find_key(r, key));
    size_t want = cap + 2; /* p and the dominant speaker may be among them */
    uint64_t *recent = malloc(want * sizeof *recent);
    if (!recent) return -1;
    size_t n_recent = room_speakers_recent(r->speakers, recent, want);
    for (size_t i = 0; i < n_recent; i++) choose(chosen, &n, cap, p, find_key(r, recent[i]));
    free(recent);
    for (participant *o = r->first; o && n < cap; o = o->next) choose(chosen, &n, cap, p, o);
    return (long)n;
}

/* forwarded - whether p's subscription lets video track t through: audio_only stops every
 * video; last_n stops cameras (not screens) of those not chosen. */
static bool forwarded(const participant *p, const track *t, participant *const *chosen,
                      size_t n_chosen)
{
    if (t->kind != 1) return true;
    if (p->audio_only) return false;
    if (p->last_n < 0 || strcmp(t->source, "screen") == 0) return true;
    return is_chosen(chosen, n_chosen, t->owner);
}

/* paused_tracks - the ids of the tracks p's subscription holds back (malloc'd; *n of them),
 * or NULL when out of memory. */
static id_text *paused_tracks(const participant *p, size_t *n)
{
    const room *r = p->room;
    size_t max = 1;
    for (const participant *o = r->first; o; o = o->next) max += o->n_tracks;
    participant **chosen = p->last_n > 0 ? malloc((size_t)p->last_n * sizeof *chosen) : NULL;
    long n_chosen = p->last_n > 0 ? (chosen ? last_n_chosen(r, p, chosen) : -1) : 0;
    id_text *ids = n_chosen >= 0 ? malloc(max * sizeof *ids) : NULL;
    *n = 0;
    for (const participant *o = r->first; ids && o; o = o->next) {
        for (size_t i = 0; o != p && i < o->n_tracks; i++)
            if (!forwarded(p, o->tracks[i], chosen, (size_t)n_chosen))
                memcpy(ids[(*n)++], o->tracks[i]->id, ROOM_ID_LEN);
    }
    free(chosen);
    return ids;
}

/* apply_subscription - tell the media plane what p's subscription holds back, when that
 * changed; after a subscribe (new streams start unpaused) whenever something is held back. */
static void apply_subscription(room_server *rs, participant *p, bool after_subscribe)
{
    size_t n;
    id_text *ids = paused_tracks(p, &n);
    const char **list = ids ? malloc((n ? n : 1) * sizeof *list) : NULL;
    if (!list) {
        J_WARN("room", "room %s: %s: out of memory applying its subscription", p->room->name,
               p->sid);
        free(ids);
        return;
    }
    bool same = n == p->n_paused && (n == 0 || memcmp(ids, p->paused, n * sizeof *ids) == 0);
    if (same && !(after_subscribe && n > 0)) {
        free(list);
        free(ids);
        return;
    }
    for (size_t i = 0; i < n; i++) list[i] = ids[i];
    rs->io.set_paused(rs->io.ctx, p->sid, list, n);
    free(list);
    free(p->paused);
    p->paused = ids;
    p->n_paused = n;
}

/* follow_speakers - re-apply the subscriptions of r that depend on who speaks. */
static void follow_speakers(room_server *rs, room *r)
{
    for (participant *p = r->first; p; p = p->next)
        if (p->last_n >= 0 && !p->audio_only) apply_subscription(rs, p, false);
}

/* unpublish_all - p's tracks are gone: tell the others, forget them. */
static void unpublish_all(room_server *rs, participant *p, bool tell)
{
    for (size_t i = 0; i < p->n_tracks; i++) {
        if (tell) broadcast(rs, p->room, p, rtc_msg_track_unpublished(p->tracks[i]->id, p->sid));
        track_free(rs, p->tracks[i]);
    }
    p->n_tracks = 0;
}

/* participant_free - p's memory (its tracks are not: they are the server's). */
static void participant_free(participant *p)
{
    free(p->paused);
    free(p->layers);
    free(p->track_errors);
    free(p);
}

/* participant_remove - p leaves its room for good: the others get participant_left with reason
 * (NULL: nobody is told), its media is closed. p must have no connection any more. */
static void participant_remove(room_server *rs, participant *p, const char *reason,
                               uint64_t now_us)
{
    room *r = p->room;
    J_INFO("room", "room %s: %s (%s) left: %s", r->name, p->sid, p->identity,
           reason ? reason : "room closed");
    if (p->prev) p->prev->next = p->next;
    else r->first = p->next;
    if (p->next) p->next->prev = p->prev;
    else r->last = p->prev;
    if (--r->count == 0) r->empty_since_us = now_us;
    if (reason) broadcast(rs, r, NULL, rtc_msg_participant_left(p->sid, p->identity, reason));
    rs->io.remove_media(rs->io.ctx, p->sid);
    unpublish_all(rs, p, false);
    room_speakers_remove(r->speakers, p->speaker_slot);
    j_map_remove(&rs->participants, p->sid, strlen(p->sid));
    participant_free(p);
    if (reason) follow_speakers(rs, r); /* someone else may fill its place */
}

static bool grace_expired(const room_server *rs, const participant *p, uint64_t now_us)
{
    return !p->conn &&
           now_us - p->disconnected_us >= (uint64_t)rs->limits.resume_grace_s * US_PER_S;
}

/* set_track_muted - apply a mute state and tell the room (but except) when it changed. */
static void set_track_muted(room_server *rs, track *t, bool muted, const participant *except)
{
    if (t->muted == muted) return;
    t->muted = muted;
    rs->io.set_muted(rs->io.ctx, t->id, muted);
    broadcast(rs, t->owner->room, except, rtc_msg_track_muted(t->id, t->owner->sid, muted));
}

/* ---- join --------------------------------------------------------------------------- */

/* track_errors_json - p's track_errors as an array of rtc_track_error_json; NULL when out of
 * memory. */
static json_t *track_errors_json(const room_server *rs, const participant *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < p->n_track_errors; i++) {
        const track_error *e = &p->track_errors[i];
        const track *t = find_track(rs, e->track_id);
        if (json_array_append_new(a, rtc_track_error_json(e->track_id, t->owner->sid, e->mid,
                                                          "no_common_codec", e->reason)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* send_joined - the joined response: p itself, the others, what it cannot decode, the
 * session to resume with. */
static void send_joined(room_server *rs, participant *p, const rtc_msg_id *id, bool resumed)
{
    json_t *others = json_array();
    for (participant *o = p->room->first; others && o; o = o->next) {
        if (o != p && json_array_append_new(others, participant_json(o)) != 0) {
            json_decref(others);
            others = NULL;
        }
    }
    send_owned(rs, p->conn,
               rtc_msg_joined(id, participant_json(p), p->room->name, others,
                              track_errors_json(rs, p), p->session, rs->limits.resume_grace_s,
                              resumed));
    uint64_t dominant;
    if (room_speakers_dominant(p->room->speakers, &dominant))
        send_text(rs, p, p->room->speakers_sent); /* someone has spoken: where things stand */
}

static void attach(conn *c, participant *p)
{
    c->p = p;
    p->conn = c;
}

static void handle_resume(room_server *rs, conn *c, const rtc_msg *m, room *r,
                          const room_grants *g, uint64_t now_us)
{
    participant *p = r ? find_identity(r, g->identity) : NULL;
    if (p && grace_expired(rs, p, now_us)) {
        participant_remove(rs, p, "timeout", now_us); /* the timer has not run yet */
        p = NULL;
    }
    /* The session's length is public; its content is compared in constant time. */
    if (!p || strlen(m->join.resume) != SESSION_LEN ||
        !j_ct_equal((const uint8_t *)m->join.resume, (const uint8_t *)p->session, SESSION_LEN)) {
        send_error(rs, c, &m->id, "resume_failed", "unknown or expired session");
        return;
    }
    /* The old WebSocket may not have noticed the network change yet. */
    if (p->conn) tell_closed(rs, p->conn, "replaced", "the session was resumed elsewhere");
    attach(c, p);
    p->grants = *g;
    J_INFO("room", "%s: room %s: %s (%s) resumed", c->ip, r->name, p->sid, p->identity);
    send_joined(rs, p, &m->id, true);
}

static participant *participant_new(room_server *rs, const room_grants *g)
{
    participant *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    new_id(p->sid, "PA_", &rs->participants);
    if (j_map_put(&rs->participants, p->sid, strlen(p->sid), p) != J_OK) {
        free(p);
        return NULL;
    }
    j_random_token(p->session, SESSION_LEN);
    p->key = ++rs->next_key;
    p->speaker_slot = -1;
    p->last_n = -1;
    p->grants = *g;
    snprintf(p->identity, sizeof p->identity, "%s", g->identity);
    snprintf(p->name, sizeof p->name, "%s", g->name[0] ? g->name : g->identity);
    return p;
}

static void handle_join(room_server *rs, conn *c, const rtc_msg *m, uint64_t now_us)
{
    room_grants g;
    memset(&g, 0, sizeof g);
    char msg[MSG_LEN] = "";
    const char *code = rs->io.authenticate(rs->io.ctx, m->join.token, m->join.room,
                                           m->join.identity, m->join.name, &g, msg, sizeof msg);
    if (code) {
        send_error(rs, c, &m->id, code, msg[0] ? msg : "authentication failed");
        return;
    }
    g.identity[sizeof g.identity - 1] = g.name[sizeof g.name - 1] = '\0';
    if (!g.identity[0]) {
        send_error(rs, c, &m->id, "bad_request", "identity: missing");
        return;
    }
    room *r = find_room(rs, m->join.room);
    if (m->join.resume) {
        handle_resume(rs, c, m, r, &g, now_us);
        return;
    }
    participant *replaced = r ? find_identity(r, g.identity) : NULL;
    if (r && r->count - (replaced ? 1 : 0) >= rs->limits.max_participants) {
        snprintf(msg, sizeof msg, "room %s is full (%d participants)", r->name, r->count);
        send_error(rs, c, &m->id, "room_full", msg);
        return;
    }
    if (!r && !(r = room_create(rs, m->join.room, now_us))) {
        send_error(rs, c, &m->id, "server_busy", "out of memory");
        return;
    }
    participant *p = participant_new(rs, &g);
    if (!p) {
        send_error(rs, c, &m->id, "server_busy", "out of memory");
        return; /* an empty new room is closed by the empty timeout */
    }
    if (replaced) {
        if (replaced->conn)
            tell_closed(rs, replaced->conn, "replaced", "the same identity joined again");
        participant_remove(rs, replaced, "replaced", now_us);
    }
    p->room = r;
    p->prev = r->last;
    if (p->prev) p->prev->next = p;
    else r->first = p;
    r->last = p;
    r->count++;
    p->speaker_slot = room_speakers_add(r->speakers, p->key);
    if (p->speaker_slot < 0)
        J_WARN("room", "room %s: %s: no speaker detection (the detector is full)", r->name, p->sid);
    attach(c, p);
    J_INFO("room", "%s: room %s: %s (%s) joined", c->ip, r->name, p->sid, p->identity);
    send_joined(rs, p, &m->id, false);
    broadcast(rs, r, p, rtc_msg_participant_joined(participant_json(p)));
}

/* ---- publish ------------------------------------------------------------------------ */

static bool contains(track *const *list, size_t n, const track *t)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == t) return true;
    return false;
}

/* apply_publish - the media plane accepted entries (kind >= 0: published): make them p's
 * tracks, answer, then tell the others what appeared and what went. fresh[i] is the new
 * track prepared for entries[i]; the ones taken are set to NULL. */
static void apply_publish(room_server *rs, conn *c, const rtc_msg_id *id, const char *answer,
                          const room_pub_track *entries, track **fresh, size_t n)
{
    participant *p = c->p;
    track *before[RTC_MSG_MAX_TRACKS];
    size_t n_before = p->n_tracks;
    memcpy(before, p->tracks, n_before * sizeof before[0]);
    p->n_tracks = 0;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].kind < 0) continue;
        track *t = fresh[i] ? fresh[i] : find_mid_in(before, n_before, entries[i].mid);
        t->kind = entries[i].kind;
        p->tracks[p->n_tracks++] = t;
        fresh[i] = NULL;
    }
    send_owned(rs, c, rtc_msg_publish_answer(id, answer, tracks_json(p, true)));
    for (size_t i = 0; i < n_before; i++) {
        if (contains(p->tracks, p->n_tracks, before[i])) continue;
        broadcast(rs, p->room, p, rtc_msg_track_unpublished(before[i]->id, p->sid));
        track_free(rs, before[i]);
    }
    for (size_t i = 0; i < p->n_tracks; i++) {
        if (contains(before, n_before, p->tracks[i])) continue;
        broadcast(rs, p->room, p, rtc_msg_track_published(track_json(p->tracks[i], false)));
    }
}

/* new_track - a track for a mid not published before, indexed at once so that its id stays
 * unique and nothing can fail after the media plane accepted it. */
static track *new_track(room_server *rs, participant *p, const rtc_pub_entry *e)
{
    track *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    new_id(t->id, "TR_", &rs->tracks);
    if (j_map_put(&rs->tracks, t->id, strlen(t->id), t) != J_OK) {
        free(t);
        return NULL;
    }
    snprintf(t->mid, sizeof t->mid, "%s", e->mid);
    snprintf(t->source, sizeof t->source, "%s", e->source);
    t->muted = e->muted;
    t->owner = p;
    return t;
}

static void handle_publish(room_server *rs, conn *c, const rtc_msg *m)
{
    participant *p = c->p;
    size_t n = m->publish.n_tracks;
    if (!p->grants.publish) {
        send_error(rs, c, &m->id, "not_allowed", "the token does not grant publish");
        return;
    }
    if (n > (size_t)rs->limits.max_tracks_per_participant) {
        char msg[MSG_LEN];
        snprintf(msg, sizeof msg, "at most %d tracks per participant",
                 rs->limits.max_tracks_per_participant);
        send_error(rs, c, &m->id, "too_many_tracks", msg);
        return;
    }
    /* A mid published before keeps its track: id, source and mute state. */
    room_pub_track entries[RTC_MSG_MAX_TRACKS];
    track *fresh[RTC_MSG_MAX_TRACKS] = {0};
    bool out_of_memory = false;
    for (size_t i = 0; i < n; i++) {
        const track *t = find_mid_in(p->tracks, p->n_tracks, m->publish.tracks[i].mid);
        if (!t) t = fresh[i] = new_track(rs, p, &m->publish.tracks[i]);
        if (!t) {
            out_of_memory = true;
            break;
        }
        room_pub_track *e = &entries[i];
        memset(e, 0, sizeof *e);
        snprintf(e->mid, sizeof e->mid, "%s", t->mid);
        snprintf(e->track_id, sizeof e->track_id, "%s", t->id);
        snprintf(e->source, sizeof e->source, "%s", t->source);
        e->muted = t->muted;
        e->kind = -1;
    }
    char *answer = NULL;
    const char *code = NULL;
    char msg[MSG_LEN] = "";
    if (out_of_memory)
        send_error(rs, c, &m->id, "server_busy", "out of memory");
    else if (rs->io.publish(rs->io.ctx, p->sid, m->publish.sdp, m->publish.sdp_len, entries, n,
                            &answer, &code, msg, sizeof msg) != 0 || !answer)
        send_error(rs, c, &m->id, code ? code : "internal", msg[0] ? msg : "publish failed");
    else
        apply_publish(rs, c, &m->id, answer, entries, fresh, n);
    free(answer);
    for (size_t i = 0; i < n; i++)
        if (fresh[i]) track_free(rs, fresh[i]); /* not published after all */
}

/* ---- subscribe, mute, leave --------------------------------------------------------- */

/* may_receive - p may get track id: it exists in p's room and is someone else's. */
static bool may_receive(const room_server *rs, const participant *p, const char *id)
{
    const track *t = id ? find_track(rs, id) : NULL;
    return t && t->owner->room == p->room && t->owner != p;
}

/* ---- layer settings (track_settings, the admin API) --------------------------------- */

static layer_setting *find_layers(const participant *p, const char *track_id)
{
    for (size_t i = 0; i < p->n_layers; i++)
        if (strcmp(p->layers[i].track_id, track_id) == 0) return &p->layers[i];
    return NULL;
}

/* The settings of p for track_id, created with the defaults; NULL when out of memory. */
static layer_setting *get_layers(participant *p, const char *track_id)
{
    layer_setting *ls = find_layers(p, track_id);
    if (ls) return ls;
    layer_setting *more = realloc(p->layers, (p->n_layers + 1) * sizeof *more);
    if (!more) return NULL;
    p->layers = more;
    ls = &p->layers[p->n_layers++];
    snprintf(ls->track_id, sizeof ls->track_id, "%s", track_id);
    ls->client = (room_track_layers){.visible = true, .max_spatial = RTC_MSG_LAYER_ANY,
                                     .max_temporal = RTC_MSG_LAYER_ANY};
    ls->cap_spatial = ls->cap_temporal = RTC_MSG_LAYER_ANY;
    return ls;
}

static void forget_layers(participant *p, const char *track_id)
{
    layer_setting *ls = find_layers(p, track_id);
    if (ls) *ls = p->layers[--p->n_layers];
}

/* The lower of two maxima, either of which may be "none". */
static int lower_max(int a, int b)
{
    if (a == RTC_MSG_LAYER_ANY) return b;
    if (b == RTC_MSG_LAYER_ANY) return a;
    return a < b ? a : b;
}

static room_track_layers effective_layers(const layer_setting *ls)
{
    room_track_layers eff = ls->client;
    eff.max_spatial = lower_max(eff.max_spatial, ls->cap_spatial);
    eff.max_temporal = lower_max(eff.max_temporal, ls->cap_temporal);
    return eff;
}

static void apply_layers(room_server *rs, const participant *p, const layer_setting *ls)
{
    room_track_layers eff = effective_layers(ls);
    rs->io.set_layers(rs->io.ctx, p->sid, ls->track_id, &eff);
}

static json_t *layer_max_json(int v) { return v == RTC_MSG_LAYER_ANY ? json_null() : json_integer(v); }

static json_t *layers_json(const participant *p, const layer_setting *ls)
{
    room_track_layers eff = effective_layers(ls);
    json_t *o = json_object();
    bool ok = o != NULL;
    rtc_json_set(o, "track", json_string(ls->track_id), &ok);
    rtc_json_set(o, "participant", json_string(p->sid), &ok);
    rtc_json_set(o, "visible", json_boolean(eff.visible), &ok);
    rtc_json_set(o, "width", json_integer(eff.width), &ok);
    rtc_json_set(o, "height", json_integer(eff.height), &ok);
    rtc_json_set(o, "max_spatial", layer_max_json(eff.max_spatial), &ok);
    rtc_json_set(o, "max_temporal", layer_max_json(eff.max_temporal), &ok);
    rtc_json_set(o, "server_max_spatial", layer_max_json(ls->cap_spatial), &ok);
    rtc_json_set(o, "server_max_temporal", layer_max_json(ls->cap_temporal), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A track in p's room (not necessarily bound to it yet). */
static bool track_in_room(const room_server *rs, const participant *p, const char *track_id)
{
    const track *t = find_track(rs, track_id);
    return t && t->owner->room == p->room;
}

static void handle_track_settings(room_server *rs, conn *c, const rtc_msg *m)
{
    participant *p = c->p;
    if (!track_in_room(rs, p, m->settings.track)) {
        send_error(rs, c, &m->id, "not_found", "no such track in this room");
        return;
    }
    layer_setting *ls = get_layers(p, m->settings.track);
    if (!ls) {
        send_error(rs, c, &m->id, "server_busy", "out of memory");
        return;
    }
    ls->client = (room_track_layers){.visible = m->settings.visible,
                                     .width = m->settings.width,
                                     .height = m->settings.height,
                                     .max_spatial = m->settings.max_spatial,
                                     .max_temporal = m->settings.max_temporal};
    send_owned(rs, c, rtc_msg_reply(&m->id, "ack"));
    apply_layers(rs, p, ls);
}

int room_set_track_layers(room_server *rs, const char *room_name, const char *identity,
                          const char *track_id, int max_spatial, int max_temporal, json_t **out)
{
    room *r = find_room(rs, room_name);
    participant *p = r ? find_identity(r, identity) : NULL;
    if (!p || !track_in_room(rs, p, track_id)) return J_ENOTFOUND;
    layer_setting *ls = get_layers(p, track_id);
    if (!ls) return J_ENOMEM;
    ls->cap_spatial = max_spatial;
    ls->cap_temporal = max_temporal;
    apply_layers(rs, p, ls);
    J_INFO("room", "room %s: %s receives track %s at most at layer %d/%d (admin)", r->name,
           p->sid, track_id, max_spatial, max_temporal);
    if (out && !(*out = layers_json(p, ls))) return J_ENOMEM;
    return J_OK;
}

/* ---- track errors (room_track_error) ------------------------------------------------ */

static track_error *find_track_error(const participant *p, const char *mid)
{
    for (size_t i = 0; i < p->n_track_errors; i++)
        if (strcmp(p->track_errors[i].mid, mid) == 0) return &p->track_errors[i];
    return NULL;
}

static void drop_track_error(participant *p, track_error *e)
{
    *e = p->track_errors[--p->n_track_errors];
}

static void forget_track_errors(participant *p, const char *track_id)
{
    for (size_t i = p->n_track_errors; i-- > 0;)
        if (strcmp(p->track_errors[i].track_id, track_id) == 0)
            drop_track_error(p, &p->track_errors[i]);
}

/* set_track_error - p cannot decode track_id on mid (reason), or can again (reason NULL).
 * false when out of memory, or already at one error per mid of a subscribe (the media plane
 * binds no more): the state is then as before. */
static bool set_track_error(participant *p, const char *mid, const char *track_id,
                            const char *reason)
{
    track_error *e = find_track_error(p, mid);
    if (!reason) {
        if (e && strcmp(e->track_id, track_id) == 0) drop_track_error(p, e);
        return true;
    }
    if (!e) {
        if (p->n_track_errors == RTC_MSG_MAX_TRACKS) return false; /* the engine binds fewer */
        track_error *more = realloc(p->track_errors, (p->n_track_errors + 1) * sizeof *more);
        if (!more) return false;
        p->track_errors = more;
        e = &p->track_errors[p->n_track_errors++];
        snprintf(e->mid, sizeof e->mid, "%s", mid);
    }
    snprintf(e->track_id, sizeof e->track_id, "%s", track_id);
    snprintf(e->reason, sizeof e->reason, "%s", reason);
    return true;
}

/* keep_bound_track_errors - after a subscribe (pairs: what each mid carries now), only the
 * errors of mids that still carry their track stand: the media plane does not say when a
 * binding goes. */
static void keep_bound_track_errors(participant *p, const room_sub_pair *pairs, size_t n)
{
    for (size_t i = p->n_track_errors; i-- > 0;) {
        const track_error *e = &p->track_errors[i];
        bool kept = false;
        for (size_t j = 0; j < n && !kept; j++)
            kept = strcmp(pairs[j].mid, e->mid) == 0 && strcmp(pairs[j].track_id, e->track_id) == 0;
        if (!kept) drop_track_error(p, &p->track_errors[i]);
    }
}

static void handle_subscribe(room_server *rs, conn *c, const rtc_msg *m)
{
    participant *p = c->p;
    if (!p->grants.subscribe) {
        send_error(rs, c, &m->id, "not_allowed", "the token does not grant subscribe");
        return;
    }
    size_t n = m->subscribe.n_tracks;
    room_sub_pair pairs[RTC_MSG_MAX_TRACKS];
    for (size_t i = 0; i < n; i++) {
        const rtc_sub_entry *e = &m->subscribe.tracks[i];
        snprintf(pairs[i].mid, sizeof pairs[i].mid, "%s", e->mid);
        snprintf(pairs[i].track_id, sizeof pairs[i].track_id, "%s",
                 may_receive(rs, p, e->track_id) ? e->track_id : "");
        const track_error *te = find_track_error(p, e->mid);
        pairs[i].undecodable = te && strcmp(te->track_id, pairs[i].track_id) == 0;
        pairs[i].no_codec[0] = '\0';
    }
    char *answer = NULL;
    const char *code = NULL;
    char msg[MSG_LEN] = "";
    if (rs->io.subscribe(rs->io.ctx, p->sid, m->subscribe.sdp, m->subscribe.sdp_len, pairs, n,
                         &answer, &code, msg, sizeof msg) != 0 || !answer) {
        send_error(rs, c, &m->id, code ? code : "internal", msg[0] ? msg : "subscribe failed");
        free(answer);
        return;
    }
    json_t *bound = json_object();
    json_t *errors = NULL; /* only when some track could not be bound for a reason to tell */
    for (size_t i = 0; bound && i < n; i++) {
        json_t *v = pairs[i].track_id[0] ? json_string(pairs[i].track_id) : json_null();
        if (json_object_set_new(bound, pairs[i].mid, v) != 0) {
            json_decref(bound);
            bound = NULL;
        }
        if (!pairs[i].no_codec[0]) continue;
        J_WARN("room", "%s cannot receive track %s: %s", p->sid, m->subscribe.tracks[i].track_id,
               pairs[i].no_codec);
        if (!errors) errors = json_object();
        json_object_set_new(errors, pairs[i].mid,
                            json_pack("{s:s, s:s, s:s}", "track", m->subscribe.tracks[i].track_id,
                                      "code", "no_common_codec", "message", pairs[i].no_codec));
    }
    send_owned(rs, c, rtc_msg_subscribe_answer(&m->id, answer, bound, errors));
    free(answer);
    keep_bound_track_errors(p, pairs, n);
    apply_subscription(rs, p, true);
    for (size_t i = 0; i < p->n_layers; i++) apply_layers(rs, p, &p->layers[i]);
}

static void handle_set_subscription(room_server *rs, conn *c, const rtc_msg *m)
{
    participant *p = c->p;
    p->audio_only = m->subscription.audio_only;
    p->last_n = m->subscription.last_n;
    send_owned(rs, c, rtc_msg_reply(&m->id, "ack"));
    apply_subscription(rs, p, false);
}

static void handle_mute(room_server *rs, conn *c, const rtc_msg *m)
{
    participant *p = c->p;
    track *t = find_track(rs, m->mute.track);
    if (!t || t->owner->room != p->room) {
        send_error(rs, c, &m->id, "unknown_track", "no such track in this room");
        return;
    }
    if (t->owner != p) {
        send_error(rs, c, &m->id, "not_allowed", "only its owner may mute a track");
        return;
    }
    send_owned(rs, c, rtc_msg_reply(&m->id, "ack"));
    set_track_muted(rs, t, m->mute.muted, p);
}

static void handle_leave(room_server *rs, conn *c, const rtc_msg *m, uint64_t now_us)
{
    participant *p = c->p;
    send_owned(rs, c, rtc_msg_reply(&m->id, "left"));
    close_conn(rs, c, 1000, "left");
    c->p = NULL;
    p->conn = NULL;
    participant_remove(rs, p, "left", now_us);
}

/* ---- connections -------------------------------------------------------------------- */

static uint64_t rate_burst(const room_server *rs)
{
    return 2 * (uint64_t)rs->limits.max_messages_per_second * US_PER_S;
}

/* rate_allows - a token bucket refilled with max_messages_per_second, holding twice that. */
static bool rate_allows(const room_server *rs, conn *c, uint64_t now_us)
{
    uint64_t elapsed = now_us > c->refilled_us ? now_us - c->refilled_us : 0;
    if (now_us > c->refilled_us) c->refilled_us = now_us;
    /* A full refill takes two seconds; capping elapsed there also bounds the product. */
    if (elapsed > 2 * US_PER_S) elapsed = 2 * US_PER_S;
    c->credit += elapsed * (uint64_t)rs->limits.max_messages_per_second;
    if (c->credit > rate_burst(rs)) c->credit = rate_burst(rs);
    if (c->credit < US_PER_S) return false;
    c->credit -= US_PER_S;
    return true;
}

void room_conn_open(room_server *rs, room_conn_id id, const char *peer_ip, uint64_t now_us)
{
    if (find_conn(rs, id)) {
        J_WARN("room", "%s: connection %llu opened twice, ignored", peer_ip,
               (unsigned long long)id);
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c || j_map_put(&rs->conns, &id, sizeof id, c) != J_OK) {
        J_WARN("room", "%s: no memory for a connection", peer_ip);
        free(c);
        rs->io.close(rs->io.ctx, id, 1011, "server_busy");
        return;
    }
    c->id = id;
    snprintf(c->ip, sizeof c->ip, "%s", peer_ip ? peer_ip : "?");
    c->credit = rate_burst(rs);
    c->refilled_us = now_us;
}

void room_conn_message(room_server *rs, room_conn_id id, const uint8_t *data, size_t len,
                       uint64_t now_us)
{
    conn *c = find_conn(rs, id);
    if (!can_send(c)) return;
    if (!rate_allows(rs, c, now_us)) {
        char msg[MSG_LEN];
        snprintf(msg, sizeof msg, "more than %d messages per second",
                 rs->limits.max_messages_per_second);
        send_error(rs, c, NULL, "rate_limited", msg);
        return;
    }
    rtc_msg m;
    rtc_msg_error err;
    int rc = rtc_msg_parse(&m, data, len, rs->limits.max_message_size, &err);
    if (rc == J_ELIMIT) {
        J_INFO("room", "%s: a %zu-byte message is above the %zu-byte limit", c->ip, len,
               rs->limits.max_message_size);
        close_conn(rs, c, 1009, "message too big");
        return;
    }
    if (rc != 0) {
        send_error(rs, c, &m.id, err.code, err.message);
        return;
    }
    if (!c->p && m.type != RTC_MSG_JOIN) {
        send_error(rs, c, &m.id, "not_joined", "the first message must be join");
    } else {
        switch (m.type) {
        case RTC_MSG_JOIN:
            if (c->p) send_error(rs, c, &m.id, "already_joined", "this connection has joined");
            else handle_join(rs, c, &m, now_us);
            break;
        case RTC_MSG_PUBLISH: handle_publish(rs, c, &m); break;
        case RTC_MSG_SUBSCRIBE: handle_subscribe(rs, c, &m); break;
        case RTC_MSG_MUTE: handle_mute(rs, c, &m); break;
        case RTC_MSG_SET_SUBSCRIPTION: handle_set_subscription(rs, c, &m); break;
        case RTC_MSG_TRACK_SETTINGS: handle_track_settings(rs, c, &m); break;
        case RTC_MSG_LEAVE: handle_leave(rs, c, &m, now_us); break;
        case RTC_MSG_PING: send_owned(rs, c, rtc_msg_reply(&m.id, "pong")); break;
        }
    }
    rtc_msg_release(&m);
}

void room_conn_closed(room_server *rs, room_conn_id id, uint64_t now_us)
{
    conn *c = j_map_remove(&rs->conns, &id, sizeof id);
    if (!c) return;
    if (c->p) {
        c->p->conn = NULL;
        c->p->disconnected_us = now_us;
        J_INFO("room", "%s: room %s: %s (%s) disconnected, awaiting resume", c->ip,
               c->p->room->name, c->p->sid, c->p->identity);
    }
    free(c);
}

const char *room_participant_room(const room_server *rs, const char *sid)
{
    const participant *p = j_map_get(&rs->participants, sid, strlen(sid));
    return p && p->room ? p->room->name : NULL;
}

void room_media_closed(room_server *rs, const char *sid, uint64_t now_us)
{
    (void)now_us;
    participant *p = j_map_get(&rs->participants, sid, strlen(sid));
    if (!p) return;
    J_INFO("room", "room %s: %s (%s) lost its media, %zu tracks unpublished", p->room->name,
           p->sid, p->identity, p->n_tracks);
    unpublish_all(rs, p, true);
    p->n_track_errors = 0; /* its subscribe connection went too */
    /* Its browser may still believe its connections are up: tell it to build new ones. */
    char *json = rtc_msg_media_closed("ice_consent_lost");
    if (json) send_text(rs, p, json);
    free(json);
}

void room_track_error(room_server *rs, const char *sid, const char *mid, const char *track_id,
                      const char *reason)
{
    participant *p = j_map_get(&rs->participants, sid, strlen(sid));
    const track *t = find_track(rs, track_id);
    if (!p || !may_receive(rs, p, track_id)) return;
    if (!set_track_error(p, mid, track_id, reason))
        J_WARN("room", "room %s: %s: cannot keep the track error of mid %s (out of memory, or %d "
               "kept)", p->room->name, p->sid, mid, RTC_MSG_MAX_TRACKS);
    if (reason)
        J_WARN("room", "room %s: %s cannot receive track %s any more: %s", p->room->name, p->sid,
               track_id, reason);
    else
        J_INFO("room", "room %s: %s can receive track %s again", p->room->name, p->sid, track_id);
    char *json = rtc_msg_track_error(track_id, t->owner->sid, mid, reason ? "no_common_codec" : NULL,
                                     reason);
    if (json) send_text(rs, p, json);
    free(json);
}

/* ---- timers ------------------------------------------------------------------------- */

/* quality - the server's view of p's links (thresholds in docs/PROTOCOL.md). */
static const char *quality(const room_server *rs, const participant *p)
{
    if (!p->conn) return "lost";
    room_media_stats s;
    memset(&s, 0, sizeof s);
    if (!rs->io.media_stats(rs->io.ctx, p->sid, &s)) return "excellent"; /* signaling only */
    if (!s.pub_connected && !s.sub_connected) return "lost";
    double loss = 0;
    if (s.pub_connected && s.pub_loss > loss) loss = s.pub_loss;
    if (s.sub_connected && s.sub_loss > loss) loss = s.sub_loss;
    if (loss < 0.02 && s.rtt_ms < 150) return "excellent";
    if (loss < 0.10 && s.rtt_ms < 400) return "good";
    return "poor";
}

static void send_quality(room_server *rs, const room *r)
{
    json_t *list = json_array();
    for (const participant *p = r->first; list && p; p = p->next) {
        json_t *e = json_pack("{s:s, s:s}", "sid", p->sid, "quality", quality(rs, p));
        if (json_array_append_new(list, e) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    broadcast(rs, r, NULL, rtc_msg_connection_quality(list));
}

/* Speech is what a participant's microphone (or unknown audio source) carries; screen-share
 * audio is not. A muted track sends nothing. */
static bool carries_speech(const track *t)
{
    return t->kind == 0 && !t->muted && strcmp(t->source, "screen_audio") != 0 &&
           t->owner->speaker_slot >= 0;
}

/* read_levels - the audio levels of every room since the last read, in one io call, into
 * the rooms' detectors. */
static void read_levels(room_server *rs)
{
    size_t n = 0;
    for (const room *r = rs->first_room; r; r = r->next)
        for (const participant *p = r->first; p; p = p->next)
            for (size_t i = 0; i < p->n_tracks; i++) n += carries_speech(p->tracks[i]);
    if (n == 0) return;
    room_audio_level *levels = calloc(n, sizeof *levels);
    if (!levels) {
        J_WARN("room", "out of memory reading audio levels");
        return;
    }
    n = 0;
    for (const room *r = rs->first_room; r; r = r->next)
        for (const participant *p = r->first; p; p = p->next)
            for (size_t i = 0; i < p->n_tracks; i++)
                if (carries_speech(p->tracks[i])) levels[n++].track_id = p->tracks[i]->id;
    rs->io.audio_levels(rs->io.ctx, levels, n);
    for (size_t i = 0; i < n; i++) {
        const participant *p = find_track(rs, levels[i].track_id)->owner;
        room_speakers_loudness(p->room->speakers, p->speaker_slot, levels[i].loudness_sum,
                               levels[i].packets);
    }
    free(levels);
}

static json_t *speakers_list(const room *r)
{
    room_speaker_level *active = calloc((size_t)r->count + 1, sizeof *active);
    json_t *list = active ? json_array() : NULL;
    size_t n = active ? room_speakers_active(r->speakers, active, (size_t)r->count) : 0;
    for (size_t i = 0; list && i < n; i++) {
        const participant *p = find_key(r, active[i].key);
        if (p && json_array_append_new(list, json_string(p->sid)) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    free(active);
    return list;
}

/* send_speakers - active_speakers to the room when it changed, at most once per
 * ROOM_SPEAKERS_EVENT_GAP_US (a change inside the gap goes at its end). */
static void send_speakers(room_server *rs, room *r, uint64_t now_us)
{
    if (!r->speakers_changed || now_us < r->speakers_next_us) return;
    r->speakers_changed = false;
    uint64_t key;
    const participant *dominant =
        room_speakers_dominant(r->speakers, &key) ? find_key(r, key) : NULL;
    char *json = rtc_msg_active_speakers(speakers_list(r), dominant ? dominant->sid : NULL);
    if (!json) {
        J_WARN("room", "room %s: out of memory building active_speakers", r->name);
        return;
    }
    if (strcmp(json, r->speakers_sent) == 0) { /* it changed back meanwhile */
        free(json);
        return;
    }
    free(r->speakers_sent);
    r->speakers_sent = json;
    r->speakers_next_us = now_us + ROOM_SPEAKERS_EVENT_GAP_US;
    for (const participant *p = r->first; p; p = p->next) send_text(rs, p, json);
}

static void update_speakers(room_server *rs, uint64_t now_us)
{
    read_levels(rs);
    for (room *r = rs->first_room; r; r = r->next) {
        if (r->count == 0) continue;
        if (room_speakers_update(r->speakers, now_us)) {
            r->speakers_changed = true;
            follow_speakers(rs, r);
        }
        send_speakers(rs, r, now_us);
    }
}

void room_handle_timeout(room_server *rs, uint64_t now_us)
{
    bool quality_due = now_us >= rs->next_quality_us;
    room *next_room;
    for (room *r = rs->first_room; r; r = next_room) {
        next_room = r->next;
        participant *next;
        for (participant *p = r->first; p; p = next) {
            next = p->next;
            if (grace_expired(rs, p, now_us)) participant_remove(rs, p, "timeout", now_us);
        }
        if (r->count == 0 &&
            now_us - r->empty_since_us >= (uint64_t)rs->limits.empty_timeout_s * US_PER_S)
            room_destroy(rs, r);
        else if (quality_due && r->count > 0)
            send_quality(rs, r);
    }
    if (quality_due) rs->next_quality_us = now_us + ROOM_QUALITY_INTERVAL_US;
    if (rs->first_room && now_us >= rs->next_speakers_us) {
        update_speakers(rs, now_us);
        rs->next_speakers_us = now_us + ROOM_SPEAKERS_INTERVAL_US;
    }
}

uint64_t room_poll_timeout(const room_server *rs)
{
    if (!rs->first_room) return UINT64_MAX;
    uint64_t next = rs->next_quality_us < rs->next_speakers_us ? rs->next_quality_us
                                                                : rs->next_speakers_us;
    for (const room *r = rs->first_room; r; r = r->next) {
        if (r->count == 0) {
            uint64_t at = r->empty_since_us + (uint64_t)rs->limits.empty_timeout_s * US_PER_S;
            if (at < next) next = at;
        }
        for (const participant *p = r->first; p; p = p->next) {
            if (p->conn) continue;
            uint64_t at = p->disconnected_us + (uint64_t)rs->limits.resume_grace_s * US_PER_S;
            if (at < next) next = at;
        }
    }
    return next;
}

/* ---- server ------------------------------------------------------------------------- */

room_server *room_server_new(const room_limits *limits, const room_io *io)
{
    if (limits->max_participants < 1 || limits->max_tracks_per_participant < 0 ||
        limits->max_messages_per_second < 1)
        return NULL;
    if (!io->send || !io->close || !io->authenticate || !io->publish || !io->subscribe ||
        !io->set_muted || !io->remove_media || !io->media_stats || !io->audio_levels ||
        !io->set_paused || !io->set_layers)
        return NULL;
    room_server *rs = calloc(1, sizeof *rs);
    if (!rs) return NULL;
    rs->limits = *limits;
    if (rs->limits.max_tracks_per_participant > RTC_MSG_MAX_TRACKS)
        rs->limits.max_tracks_per_participant = RTC_MSG_MAX_TRACKS;
    if (rs->limits.max_message_size == 0) rs->limits.max_message_size = RTC_MSG_DEFAULT_MAX_SIZE;
    rs->io = *io;
    return rs;
}

void room_server_free(room_server *rs)
{
    if (!rs) return;
    while (rs->first_room) {
        room *r = rs->first_room;
        while (r->first) {
            participant *p = r->first;
            r->first = p->next;
            for (size_t i = 0; i < p->n_tracks; i++) free(p->tracks[i]);
            participant_free(p);
        }
        rs->first_room = r->next;
        room_free(r);
    }
    for (size_t i = 0; i < rs->conns.n_buckets; i++)
        for (j_map_entry *e = rs->conns.buckets[i]; e; e = e->next) free(e->value);
    j_map_clear(&rs->rooms);
    j_map_clear(&rs->conns);
    j_map_clear(&rs->participants);
    j_map_clear(&rs->tracks);
    free(rs);
}

/* ---- HTTP API ----------------------------------------------------------------------- */

static json_int_t created_at(const room *r, uint64_t now_us, int64_t unix_now_s)
{
    return (json_int_t)(unix_now_s - (int64_t)((now_us - r->created_us) / US_PER_S));
}

json_t *room_list_json(const room_server *rs, uint64_t now_us, int64_t unix_now_s)
{
    json_t *list = json_array();
    for (const room *r = rs->first_room; list && r; r = r->next) {
        json_t *e = json_pack("{s:s, s:i, s:I}", "name", r->name, "participants", r->count,
                              "created_at", created_at(r, now_us, unix_now_s));
        if (json_array_append_new(list, e) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    bool ok = true;
    json_t *out = json_object();
    rtc_json_set(out, "rooms", list, &ok);
    if (ok) return out;
    json_decref(out);
    return NULL;
}

json_t *room_get_json(const room_server *rs, const char *name, uint64_t now_us,
                      int64_t unix_now_s)
{
    const room *r = find_room(rs, name);
    if (!r) return NULL;
    json_t *list = json_array();
    for (const participant *p = r->first; list && p; p = p->next) {
        json_t *e = participant_json(p);
        if (json_object_set_new(e, "state", json_string(p->conn ? "active" : "disconnected")) !=
                0 ||
            json_array_append_new(list, e) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    bool ok = true;
    json_t *out = json_object();
    rtc_json_set(out, "name", json_string(r->name), &ok);
    rtc_json_set(out, "created_at", json_integer(created_at(r, now_us, unix_now_s)), &ok);
    rtc_json_set(out, "participants", list, &ok);
    if (ok) return out;
    json_decref(out);
    return NULL;
}

int room_close(room_server *rs, const char *name, uint64_t now_us)
{
    room *r = find_room(rs, name);
    if (!r) return J_ENOTFOUND;
    J_INFO("room", "room %s: closed through the API", r->name);
    for (participant *p = r->first; p; p = p->next)
        if (p->conn) tell_closed(rs, p->conn, "room_closed", "the room was closed");
    while (r->first) participant_remove(rs, r->first, NULL, now_us);
    room_destroy(rs, r);
    return J_OK;
}

int room_remove_participant(room_server *rs, const char *room_name, const char *identity,
                            uint64_t now_us)
{
    room *r = find_room(rs, room_name);
    participant *p = r ? find_identity(r, identity) : NULL;
    if (!p) return J_ENOTFOUND;
    if (p->conn) tell_closed(rs, p->conn, "removed", "removed by an administrator");
    participant_remove(rs, p, "removed", now_us);
    return J_OK;
}

int room_mute_track(room_server *rs, const char *room_name, const char *track_id, bool muted,
                    json_t **track_out)
{
    const room *r = find_room(rs, room_name);
    track *t = r ? find_track(rs, track_id) : NULL;
    if (!t || t->owner->room != r) return J_ENOTFOUND;
    J_INFO("room", "room %s: track %s %s through the API", r->name, t->id,
           muted ? "muted" : "unmuted");
    set_track_muted(rs, t, muted, NULL);
    if (!track_out) return J_OK;
    *track_out = track_json(t, false);
    return *track_out ? J_OK : J_ENOMEM;
}
