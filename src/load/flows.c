/* flows.c - junction-load's signaling: WHIP/WHEP (HTTP), Junction's room protocol /rtc
 * (WebSocket, docs/PROTOCOL.md) and Janus' VideoRoom (Janus API over WebSocket), and the
 * SDP work they share. Main thread only.
 *
 * A session's signaling ends by filling its remote transport and m= sections and handing
 * it to the media thread (run_start_session), or by sig_failed with a reason.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "load/prog.h"
#include "net/net.h"

#define SDP_BUF 16384
#define JANUS_KEEPALIVE_US 20000000u

typedef struct flow_ref {
    flows *f;
    int id;
} flow_ref;

struct flows {
    load_ctx *L;
    flow_ref *refs; /* one per session: the context of its callbacks */
    /* Janus: one WebSocket and one Janus session for everything. */
    sig_ws *janus;
    bool janus_failed;
    uint64_t janus_session, janus_admin;
    int janus_rooms_created;
    uint64_t janus_next_keepalive_us;
    unsigned janus_tx;
};

/* Large parse results: main thread only, one exchange at a time. */
static sdp_session g_remote;
static sdp_negotiated g_neg;

static const sdp_codec opus_codec = {.pt = PT_AUDIO, .name = "opus", .clock_rate = 48000,
                                     .channels = 2, .fmtp = "minptime=10;useinbandfec=1"};
static const sdp_codec vp8_codec = {.pt = PT_VIDEO, .name = "VP8", .clock_rate = 90000,
                                    .rtcp_fb = SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR};

__attribute__((format(printf, 2, 3))) static void fail(session *s, const char *fmt, ...)
{
    if (s->sig_failed || s->sig_done) return;
    s->sig_failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->sig_error, sizeof s->sig_error, fmt, ap);
    va_end(ap);
}

static void signaled(flows *f, session *s)
{
    s->sig_done = true;
    run_start_session(f->L->run, s->id);
}

/* ---- SDP ------------------------------------------------------------------------------------ */

/* This session's side of the transport, in its offers and answers alike. */
static sdp_local_transport local_transport(const load_ctx *L, const session *s)
{
    sdp_local_transport t = {.session_id = (uint64_t)s->id + 1, .ice_ufrag = s->ufrag,
                             .ice_pwd = s->pwd, .fingerprint = L->fingerprint,
                             .candidate_count = 1};
    t.candidates[0].addr = s->local;
    return t;
}

int flow_write_offer(load_ctx *L, session *s, char *buf, size_t cap)
{
    static sdp_offer_params p;
    memset(&p, 0, sizeof p);
    p.local = local_transport(L, s);
    bool publish = s->role == ROLE_PUBLISHER;
    static char ids[2][2][32];
    const media_stream *media[2] = {L->audio, L->video};
    for (int k = 0; k < 2; k++) {
        if (!media[k]) continue;
        sdp_offer_media *m = &p.media[p.media_count++];
        m->kind = k ? SDP_KIND_VIDEO : SDP_KIND_AUDIO;
        m->mid = k ? "1" : "0";
        m->dir = publish ? SDP_DIR_SENDONLY : SDP_DIR_RECVONLY;
        m->codec_count = 1;
        m->codecs = k ? &vp8_codec : &opus_codec;
        m->ext_id[SDP_EXT_MID] = MID_EXT_ID;
        if (publish) {
            snprintf(ids[k][0], sizeof ids[k][0], "load-%d", s->id);
            snprintf(ids[k][1], sizeof ids[k][1], "%s-%d", k ? "video" : "audio", s->id);
            /* tx tracks are in m= order, like the sections written here. */
            m->send = (sdp_send_track){.ssrc = s->tx[p.media_count - 1].ssrc,
                                       .cname = ids[k][0], .stream_id = ids[k][0],
                                       .track_id = ids[k][1]};
        }
    }
    return sdp_write_offer(&p, buf, cap);
}

/* The server's transport from a parsed description: ICE credentials, DTLS fingerprint and
 * the candidate to use: its best UDP IPv4 candidate, loopback ones first when our own
 * address is loopback (a server on every interface lists them all); else the c=/m=
 * address. */
static int take_transport(session *s, const sdp_session *d, const sdp_media *m, char *err,
                          size_t err_cap)
{
    snprintf(s->remote_ufrag, sizeof s->remote_ufrag, "%s", sdp_media_ice_ufrag(d, m));
    snprintf(s->remote_pwd, sizeof s->remote_pwd, "%s", sdp_media_ice_pwd(d, m));
    const sdp_fingerprint *fp = sdp_media_fingerprint(d, m);
    if (!s->remote_ufrag[0] || !s->remote_pwd[0] || !fp->value[0]) {
        snprintf(err, err_cap, "the server's SDP lacks ICE credentials or a fingerprint");
        return J_EMALFORMED;
    }
    snprintf(s->remote_fingerprint, sizeof s->remote_fingerprint, "%s %s", fp->alg, fp->value);
    bool found = false, local_loopback = j_addr_is_loopback(&s->local);
    uint64_t best = 0;
    for (unsigned i = 0; i < m->candidates_kept; i++) {
        sdp_candidate c;
        if (sdp_candidate_parse(m->candidates[i], &c) != J_OK) continue;
        if (!c.udp || c.component != 1 || c.addr.sa.sa_family != AF_INET) continue;
        uint64_t score = c.priority;
        if (j_addr_is_loopback(&c.addr) == local_loopback) score += 1ull << 32;
        if (!found || score > best) {
            s->remote = c.addr;
            best = score;
            found = true;
        }
    }
    if (!found) {
        const char *addr = m->c_addr[0] ? m->c_addr : d->c_addr;
        if (j_addr_parse(&s->remote, addr, m->port) != J_OK || m->port == 0) {
            snprintf(err, err_cap, "the server's SDP has no usable IPv4 UDP candidate");
            return J_EUNSUPPORTED;
        }
    }
    return J_OK;
}

/* The publisher track a subscriber's m= section of this kind receives. */
static const tx_track *source_track(load_ctx *L, const session *s, bool video)
{
    const session *pub = &L->sessions[s->publisher];
    for (int k = 0; k < pub->n_tx; k++)
        if (pub->tx[k].media->video == video) return &pub->tx[k];
    return NULL;
}

static void add_rx(load_ctx *L, session *s, bool video, uint8_t pt)
{
    rx_track *t = &s->rx[s->n_rx];
    t->video = video;
    t->pt = pt;
    t->source = source_track(L, s, video);
    load_rx_init(&t->rx, !video, t->source ? &t->source->log : NULL);
    s->rx_by_pt[pt & 0x7f] = (int8_t)s->n_rx;
    s->n_rx++;
}

int flow_take_answer(load_ctx *L, session *s, const char *sdp, size_t len, char *err,
                     size_t err_cap)
{
    int rc = sdp_parse(&g_remote, sdp, len, err, err_cap);
    if (rc != 0) return rc;
    int ours = (L->audio ? 1 : 0) + (L->video ? 1 : 0);
    if (g_remote.media_count != ours) {
        snprintf(err, err_cap, "the answer has %u m= sections, the offer %d",
                 g_remote.media_count, ours);
        return J_EMALFORMED;
    }
    for (int i = 0; i < ours; i++) {
        const sdp_media *m = &g_remote.media[i];
        if ((m->port == 0 && !m->bundle_only) || m->format_count == 0) {
            snprintf(err, err_cap, "the server rejected m= section %d", i);
            return J_EUNSUPPORTED;
        }
    }
    const sdp_media *m0 = &g_remote.media[0];
    if ((rc = take_transport(s, &g_remote, m0, err, err_cap)) != J_OK) return rc;
    /* We offered actpass: the answer picks the DTLS roles. We are a full agent and the
     * offerer, so we control ICE (RFC 8445 §6.1.1), facing a lite or a full server. */
    s->dtls_role = sdp_media_setup(&g_remote, m0) == SDP_SETUP_ACTIVE ? DTLS_ROLE_SERVER
                                                                      : DTLS_ROLE_CLIENT;
    s->ice_controlling = true;
    for (int i = 0; i < ours; i++) {
        const sdp_media *m = &g_remote.media[i];
        bool video = m->kind == SDP_KIND_VIDEO;
        if (s->role == ROLE_PUBLISHER) {
            tx_track *t = &s->tx[i];
            t->pt = m->codecs[0].pt;
            t->mid_ext_id = 0;
            for (unsigned e = 0; e < m->extmap_count; e++)
                if (m->extmaps[e].ext == SDP_EXT_MID && m->extmaps[e].id <= 14)
                    t->mid_ext_id = (uint8_t)m->extmaps[e].id;
        } else {
            add_rx(L, s, video, m->codecs[0].pt);
        }
    }
    return J_OK;
}

int flow_answer_offer(load_ctx *L, session *s, const char *sdp, size_t len, char *buf,
                      size_t cap, char *err, size_t err_cap)
{
    int rc = sdp_parse(&g_remote, sdp, len, err, err_cap);
    if (rc != 0) return rc;
    const sdp_policy policy = {
        .audio_codecs = SDP_CODEC_OPUS,
        .video_codecs = SDP_CODEC_VP8,
        .rtcp_fb = SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR,
        .ext_recv = SDP_EXT_BIT(SDP_EXT_MID),
        .can_receive = true,
    };
    if ((rc = sdp_negotiate(&g_remote, &policy, &g_neg, err, err_cap)) != 0) return rc;
    int first = -1;
    for (int i = 0; i < g_neg.media_count; i++)
        if (g_neg.media[i].accepted && first < 0) first = i;
    if ((rc = take_transport(s, &g_remote, &g_remote.media[first], err, err_cap)) != J_OK)
        return rc;
    s->dtls_role = g_neg.our_setup == SDP_SETUP_ACTIVE ? DTLS_ROLE_CLIENT : DTLS_ROLE_SERVER;
    /* A full offerer controls; facing a lite one we do. */
    s->ice_controlling = g_remote.ice_lite;
    for (int i = 0; i < g_neg.media_count && s->n_rx < SDP_MAX_MEDIA; i++) {
        const sdp_neg_media *m = &g_neg.media[i];
        if (!m->accepted || m->codec_count == 0) continue;
        add_rx(L, s, m->kind == SDP_KIND_VIDEO, m->codecs[0].pt);
    }
    static sdp_answer_params p;
    memset(&p, 0, sizeof p);
    p.local = local_transport(L, s);
    rc = sdp_write_answer(&g_remote, &g_neg, &p, buf, cap);
    if (rc < 0) snprintf(err, err_cap, "cannot write the answer: %s", j_strerror(rc));
    return rc;
}

/* ---- WHIP / WHEP ------------------------------------------------------------------------------ */

static void stream_name(const load_ctx *L, const session *s, char *out, size_t cap)
{
    const session *pub = &L->sessions[s->publisher];
    snprintf(out, cap, "load-%s-r%d-p%d", L->cfg->run_id, pub->room, pub->id);
}

static void whip_answered(void *ctx, const sig_http_result *r)
{
    flow_ref *ref = ctx;
    load_ctx *L = ref->f->L;
    session *s = &L->sessions[ref->id];
    if (r->status != 201) {
        if (r->status)
            fail(s, "HTTP %d: %.100s", r->status, r->body);
        else
            fail(s, "%s", r->error);
        return;
    }
    char err[128];
    if (flow_take_answer(L, s, r->body, r->body_len, err, sizeof err) != J_OK) {
        fail(s, "answer: %s", err);
        return;
    }
    snprintf(s->location, sizeof s->location, "%s", r->location);
    signaled(ref->f, s);
}

static void whip_start(flows *f, session *s)
{
    load_ctx *L = f->L;
    char offer[SDP_BUF], stream[64], path[128];
    if (flow_write_offer(L, s, offer, sizeof offer) < 0) {
        fail(s, "cannot write the offer");
        return;
    }
    stream_name(L, s, stream, sizeof stream);
    snprintf(path, sizeof path, "/%s/%s", s->role == ROLE_PUBLISHER ? "whip" : "whep", stream);
    if (sig_http(L->sig, L->cfg->url, "POST", path, L->cfg->token, "application/sdp", offer,
                 whip_answered, &f->refs[s->id]) != J_OK)
        fail(s, "cannot connect to %s", L->cfg->url);
}

static void whip_deleted(void *ctx, const sig_http_result *r)
{
    (void)r;
    flow_ref *ref = ctx;
    ref->f->L->sessions[ref->id].sig_closed = true;
}

static void whip_stop(flows *f, session *s)
{
    if (!s->location[0] ||
        sig_http(f->L->sig, f->L->cfg->url, "DELETE", s->location, f->L->cfg->token, NULL, NULL,
                 whip_deleted, &f->refs[s->id]) != J_OK)
        s->sig_closed = true;
}

/* ---- /rtc ------------------------------------------------------------------------------------- */

static void ws_send_json(sig_ws *ws, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (text) sig_ws_send(ws, text);
    free(text);
}

static void rtc_open(void *ctx, sig_ws *ws)
{
    flow_ref *ref = ctx;
    load_ctx *L = ref->f->L;
    session *s = &L->sessions[ref->id];
    char room[32], identity[32];
    snprintf(room, sizeof room, "load-%s-r%d", L->cfg->run_id, s->room);
    snprintf(identity, sizeof identity, "load-%d", s->id);
    json_t *join = json_pack("{s:s, s:s, s:s}", "type", "join", "room", room, "identity", identity);
    if (L->cfg->token[0]) json_object_set_new(join, "token", json_string(L->cfg->token));
    ws_send_json(ws, join);
}

static void rtc_send_offer(flows *f, session *s, sig_ws *ws)
{
    load_ctx *L = f->L;
    char offer[SDP_BUF];
    if (flow_write_offer(L, s, offer, sizeof offer) < 0) {
        fail(s, "cannot write the offer");
        return;
    }
    json_t *msg;
    if (s->role == ROLE_PUBLISHER) {
        json_t *tracks = json_array();
        if (L->audio) json_array_append_new(tracks, json_pack("{s:s, s:s}", "mid", "0", "source", "microphone"));
        if (L->video) json_array_append_new(tracks, json_pack("{s:s, s:s}", "mid", "1", "source", "camera"));
        msg = json_pack("{s:s, s:s, s:o}", "type", "publish", "sdp", offer, "tracks", tracks);
    } else {
        const session *pub = &L->sessions[s->publisher];
        json_t *tracks = json_object();
        if (L->audio) json_object_set_new(tracks, "0", json_string(pub->track_ids[0]));
        if (L->video) json_object_set_new(tracks, "1", json_string(pub->track_ids[1]));
        msg = json_pack("{s:s, s:s, s:o}", "type", "subscribe", "sdp", offer, "tracks", tracks);
    }
    ws_send_json(ws, msg);
}

static void rtc_message(void *ctx, sig_ws *ws, const char *text, size_t len)
{
    flow_ref *ref = ctx;
    load_ctx *L = ref->f->L;
    session *s = &L->sessions[ref->id];
    json_t *msg = json_loadb(text, len, 0, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!type) {
        json_decref(msg);
        return;
    }
    if (strcmp(type, "joined") == 0) {
        rtc_send_offer(ref->f, s, ws);
    } else if (strcmp(type, "publish_answer") == 0 || strcmp(type, "subscribe_answer") == 0) {
        const char *sdp = json_string_value(json_object_get(msg, "sdp"));
        json_t *tracks = json_object_get(msg, "tracks");
        if (s->role == ROLE_PUBLISHER) {
            size_t i;
            json_t *t;
            json_array_foreach(tracks, i, t) {
                const char *kind = json_string_value(json_object_get(t, "kind"));
                const char *id = json_string_value(json_object_get(t, "id"));
                if (kind && id)
                    snprintf(s->track_ids[strcmp(kind, "video") == 0], sizeof s->track_ids[0],
                             "%s", id);
            }
        } else {
            const char *key;
            json_t *v;
            json_object_foreach(tracks, key, v)
                if (!json_is_string(v)) fail(s, "the server has no track for mid %s", key);
        }
        char err[128];
        if (!sdp)
            fail(s, "%s without sdp", type);
        else if (flow_take_answer(L, s, sdp, strlen(sdp), err, sizeof err) != J_OK)
            fail(s, "answer: %s", err);
        if (!s->sig_failed) signaled(ref->f, s);
    } else if (strcmp(type, "error") == 0) {
        fail(s, "error %s: %s", json_string_value(json_object_get(msg, "code")),
             json_string_value(json_object_get(msg, "message")));
    }
    json_decref(msg);
}

static void rtc_closed(void *ctx, sig_ws *ws, const char *why)
{
    (void)ws;
    flow_ref *ref = ctx;
    session *s = &ref->f->L->sessions[ref->id];
    s->ws = NULL;
    s->sig_closed = true;
    fail(s, "WebSocket closed: %s", why);
}

static const sig_ws_handlers rtc_handlers = {rtc_open, rtc_message, rtc_closed};

static void rtc_start(flows *f, session *s)
{
    s->ws = sig_ws_open(f->L->sig, f->L->cfg->url, "/rtc", NULL, &rtc_handlers, &f->refs[s->id]);
    if (!s->ws) fail(s, "cannot connect to %s/rtc", f->L->cfg->url);
}

static void rtc_stop(flows *f, session *s)
{
    (void)f;
    if (!s->ws) {
        s->sig_closed = true;
        return;
    }
    /* The server answers `left` and closes the WebSocket: rtc_closed. */
    ws_send_json(s->ws, json_pack("{s:s}", "type", "leave"));
}

/* ---- Janus VideoRoom ----------------------------------------------------------------------- */

/* Transactions name what they are for: "<step>:<session id>". */
static void janus_send(flows *f, const char *step, int id, json_t *msg)
{
    char tx[48];
    snprintf(tx, sizeof tx, "%s:%d:%u", step, id, ++f->janus_tx);
    json_object_set_new(msg, "transaction", json_string(tx));
    if (f->janus_session) json_object_set_new(msg, "session_id", json_integer((json_int_t)f->janus_session));
    ws_send_json(f->janus, msg);
}

static void janus_message(flows *f, const char *step, session *s, uint64_t handle, json_t *body,
                          const char *jsep_type, const char *sdp)
{
    json_t *msg = json_pack("{s:s, s:I, s:o}", "janus", "message", "handle_id",
                            (json_int_t)handle, "body", body);
    if (jsep_type)
        json_object_set_new(msg, "jsep", json_pack("{s:s, s:s}", "type", jsep_type, "sdp", sdp));
    janus_send(f, step, s ? s->id : -1, msg);
}

static uint32_t janus_room(const load_ctx *L, int room) { return L->cfg->janus_room_base + (uint32_t)room; }

static void janus_create_rooms(flows *f)
{
    const load_config *c = f->L->cfg;
    for (int r = 0; r < c->rooms; r++) {
        json_t *body = json_pack("{s:s, s:I, s:i, s:s, s:s, s:b, s:i}", "request", "create", "room",
                                 (json_int_t)janus_room(f->L, r), "publishers",
                                 c->publishers + 1, "audiocodec", "opus", "videocodec", "vp8",
                                 "notify_joining", 0, "bitrate", 0);
        janus_message(f, "room", NULL, f->janus_admin, body, NULL, NULL);
    }
}

static void janus_attach(flows *f, const char *step, int id)
{
    janus_send(f, step, id, json_pack("{s:s, s:s}", "janus", "attach", "plugin", "janus.plugin.videoroom"));
}

static void janus_trickle_done(flows *f, session *s)
{
    janus_send(f, "trickle", s->id,
               json_pack("{s:s, s:I, s:{s:b}}", "janus", "trickle", "handle_id",
                         (json_int_t)s->janus_handle, "candidate", "completed", 1));
}

static void janus_on_reply(flows *f, const char *janus, const char *step, session *s, json_t *msg)
{
    load_ctx *L = f->L;
    json_t *data = json_object_get(msg, "data");
    json_t *pd = json_object_get(json_object_get(msg, "plugindata"), "data");
    json_t *jsep = json_object_get(msg, "jsep");
    if (strcmp(janus, "ack") == 0) return;
    if (strcmp(janus, "error") == 0) {
        const char *reason = json_string_value(json_object_get(json_object_get(msg, "error"), "reason"));
        if (s) fail(s, "janus %s: %s", step, reason ? reason : "error");
        else f->janus_failed = true;
        return;
    }
    if (pd && json_object_get(pd, "error")) {
        int code = (int)json_integer_value(json_object_get(pd, "error_code"));
        if (strcmp(step, "room") == 0 && code == 427) { /* the room exists: fine */
            f->janus_rooms_created++;
        } else if (s) {
            fail(s, "videoroom %s: %s", step, json_string_value(json_object_get(pd, "error")));
        } else {
            f->janus_failed = true;
        }
        return;
    }
    if (strcmp(step, "create") == 0) {
        f->janus_session = (uint64_t)json_integer_value(json_object_get(data, "id"));
        janus_attach(f, "admin", -1);
    } else if (strcmp(step, "admin") == 0) {
        f->janus_admin = (uint64_t)json_integer_value(json_object_get(data, "id"));
        janus_create_rooms(f);
    } else if (strcmp(step, "room") == 0) {
        f->janus_rooms_created++;
    } else if (strcmp(step, "attach") == 0 && s) {
        s->janus_handle = (uint64_t)json_integer_value(json_object_get(data, "id"));
        json_t *body;
        if (s->role == ROLE_PUBLISHER) {
            char display[32];
            snprintf(display, sizeof display, "load-%d", s->id);
            body = json_pack("{s:s, s:s, s:I, s:s}", "request", "join", "ptype", "publisher",
                             "room", (json_int_t)janus_room(L, s->room), "display", display);
        } else {
            const session *pub = &L->sessions[s->publisher];
            body = json_pack("{s:s, s:s, s:I, s:I}", "request", "join", "ptype", "subscriber",
                             "room", (json_int_t)janus_room(L, s->room), "feed",
                             (json_int_t)pub->janus_feed);
        }
        janus_message(f, "join", s, s->janus_handle, body, NULL, NULL);
    } else if (strcmp(step, "join") == 0 && s && s->role == ROLE_PUBLISHER) {
        s->janus_feed = (uint64_t)json_integer_value(json_object_get(pd, "id"));
        char offer[SDP_BUF];
        if (flow_write_offer(L, s, offer, sizeof offer) < 0) {
            fail(s, "cannot write the offer");
            return;
        }
        json_t *body = json_pack("{s:s, s:b, s:b}", "request", "publish", "audio", L->audio != NULL,
                                 "video", L->video != NULL);
        janus_message(f, "publish", s, s->janus_handle, body, "offer", offer);
    } else if (strcmp(step, "join") == 0 && s) { /* subscriber: Janus offers */
        const char *sdp = json_string_value(json_object_get(jsep, "sdp"));
        char answer[SDP_BUF], err[128];
        if (!sdp) {
            fail(s, "videoroom join: no offer");
            return;
        }
        if (flow_answer_offer(L, s, sdp, strlen(sdp), answer, sizeof answer, err, sizeof err) < 0) {
            fail(s, "offer: %s", err);
            return;
        }
        janus_message(f, "start", s, s->janus_handle, json_pack("{s:s}", "request", "start"),
                      "answer", answer);
        janus_trickle_done(f, s);
        signaled(f, s);
    } else if (strcmp(step, "publish") == 0 && s) {
        const char *sdp = json_string_value(json_object_get(jsep, "sdp"));
        char err[128];
        if (!sdp) {
            fail(s, "videoroom publish: no answer");
            return;
        }
        if (flow_take_answer(L, s, sdp, strlen(sdp), err, sizeof err) != J_OK) {
            fail(s, "answer: %s", err);
            return;
        }
        janus_trickle_done(f, s);
        signaled(f, s);
    } else if (strcmp(step, "detach") == 0 && s) {
        s->sig_closed = true;
    }
}

static void janus_ws_message(void *ctx, sig_ws *ws, const char *text, size_t len)
{
    (void)ws;
    flows *f = ctx;
    json_t *msg = json_loadb(text, len, 0, NULL);
    const char *janus = json_string_value(json_object_get(msg, "janus"));
    const char *tx = json_string_value(json_object_get(msg, "transaction"));
    if (janus && tx) {
        char step[16];
        int id = -1;
        if (sscanf(tx, "%15[^:]:%d", step, &id) == 2) {
            session *s = id >= 0 && id < f->L->n_sessions ? &f->L->sessions[id] : NULL;
            janus_on_reply(f, janus, step, s, msg);
        }
    }
    json_decref(msg);
}

static void janus_ws_open(void *ctx, sig_ws *ws)
{
    (void)ws;
    flows *f = ctx;
    janus_send(f, "create", -1, json_pack("{s:s}", "janus", "create"));
}

static void janus_ws_closed(void *ctx, sig_ws *ws, const char *why)
{
    (void)ws;
    flows *f = ctx;
    f->janus = NULL;
    f->janus_failed = true;
    for (int i = 0; i < f->L->n_sessions; i++) {
        f->L->sessions[i].sig_closed = true;
        fail(&f->L->sessions[i], "Janus WebSocket closed: %s", why);
    }
}

static const sig_ws_handlers janus_handlers = {janus_ws_open, janus_ws_message, janus_ws_closed};

/* ---- entry points ---------------------------------------------------------------------------- */

flows *flows_new(load_ctx *L, char *err, size_t err_cap)
{
    flows *f = calloc(1, sizeof *f);
    if (f) f->refs = calloc((size_t)L->n_sessions, sizeof *f->refs);
    if (!f || !f->refs) {
        snprintf(err, err_cap, "out of memory");
        free(f);
        return NULL;
    }
    f->L = L;
    for (int i = 0; i < L->n_sessions; i++) f->refs[i] = (flow_ref){.f = f, .id = i};
    if (L->cfg->mode == MODE_JANUS) {
        f->janus = sig_ws_open(L->sig, L->cfg->url, "/", "janus-protocol", &janus_handlers, f);
        if (!f->janus) f->janus_failed = true;
        f->janus_next_keepalive_us = j_now_us() + JANUS_KEEPALIVE_US;
    }
    return f;
}

void flows_free(flows *f)
{
    if (!f) return;
    if (f->janus) {
        if (f->janus_session) janus_send(f, "destroy", -1, json_pack("{s:s}", "janus", "destroy"));
        sig_ws_close(f->janus);
        for (int i = 0; i < 20 && f->janus; i++) sig_service(f->L->sig, 10);
    }
    free(f->refs);
    free(f);
}

bool flows_ready(flows *f, bool *failed)
{
    *failed = false;
    if (f->L->cfg->mode != MODE_JANUS) return true;
    uint64_t now = j_now_us();
    if (f->janus && f->janus_session && now >= f->janus_next_keepalive_us) {
        f->janus_next_keepalive_us = now + JANUS_KEEPALIVE_US;
        janus_send(f, "keepalive", -1, json_pack("{s:s}", "janus", "keepalive"));
    }
    *failed = f->janus_failed;
    return !f->janus_failed && f->janus_rooms_created >= f->L->cfg->rooms;
}

void flows_start(flows *f, int id)
{
    session *s = &f->L->sessions[id];
    switch (f->L->cfg->mode) {
    case MODE_WHIP: whip_start(f, s); break;
    case MODE_RTC: rtc_start(f, s); break;
    case MODE_JANUS: janus_attach(f, "attach", id); break;
    }
}

void flows_stop(flows *f, int id)
{
    session *s = &f->L->sessions[id];
    if (s->sig_closed) return;
    switch (f->L->cfg->mode) {
    case MODE_WHIP: whip_stop(f, s); break;
    case MODE_RTC: rtc_stop(f, s); break;
    case MODE_JANUS:
        if (!s->janus_handle || !f->janus) {
            s->sig_closed = true;
            break;
        }
        janus_send(f, "detach", id, json_pack("{s:s, s:I}", "janus", "detach", "handle_id",
                                              (json_int_t)s->janus_handle));
        break;
    }
}
