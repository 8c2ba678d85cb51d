/* whip.c - WHIP/WHEP session resources, admin access, the stats API and the routes table. */
#include "app/whip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/random.h"
#include "crypto/crypto.h"
#include "ice/ice.h"
#include "app/metrics.h"
#include "app/offer.h"
#include "app/rtc.h"
#include "net/net.h"
#include "sdp/sdp.h"

#define ANSWER_CAP (64 * 1024)
#define SESSION_ID_LEN 16
#define STREAM_NAME_LEN 65 /* 64 characters: "stream/<name>/video" fits a track id */

int app_set_candidates(app *a, const j_addr *media, const char *public_ips, char *err,
                       size_t err_cap)
{
    a->n_candidates = 0;
    if (public_ips && *public_ips) {
        char list[256];
        snprintf(list, sizeof list, "%s", public_ips);
        char *save = NULL;
        for (char *tok = strtok_r(list, ", ", &save); tok && a->n_candidates < APP_MAX_CANDIDATES;
             tok = strtok_r(NULL, ", ", &save)) {
            if (j_addr_parse(&a->candidates[a->n_candidates], tok, j_addr_port(media)) != J_OK) {
                snprintf(err, err_cap, "media.public_ips: '%s' is not an IP address", tok);
                return J_EINVAL;
            }
            a->n_candidates++;
        }
    } else {
        a->n_candidates = j_local_addresses(media, a->candidates, APP_MAX_CANDIDATES);
    }
    if (a->n_candidates == 0) {
        snprintf(err, err_cap, "no address to advertise for media: set media.public_ips");
        return J_EINVAL;
    }
    return J_OK;
}

void app_shutdown(app *a)
{
    media_stop(a->media);
    a->media = NULL;
    dtls_ctx_free(a->dtls);
    a->dtls = NULL;
    dtls_cert_free(a->cert);
    a->cert = NULL;
    auth_keys_clear(&a->keys);
    rate_limiter_free(a->http_rate);
    a->http_rate = NULL;
}

bool app_http_admit(void *ctx, const char *peer_ip)
{
    app *a = ctx;
    client_key k;
    client_key_from_ip(&k, peer_ip);
    rate_verdict v = rate_limiter_check(a->http_rate, &k, j_now_us());
    if (v == RATE_DENY_FIRST)
        J_WARN("http", "client %s is over limits.http_rate (%d/s, burst %d): answering 429 until "
                       "it slows down", peer_ip, a->cfg.http_rate, a->cfg.http_burst);
    return v == RATE_ALLOW;
}

bool app_admin_allowed(const app *a, const http_request *req, const char *room, http_reply *rep)
{
    if (a->keys.count == 0) return true;
    const char *token;
    size_t token_len;
    if (http_parse_bearer(req->authorization, strlen(req->authorization), &token, &token_len) !=
        J_OK) {
        http_reply_header(rep, "WWW-Authenticate", "Bearer");
        http_reply_error(rep, 401, "token_missing", "an admin access token is required");
        return false;
    }
    auth_grants g;
    char detail[160];
    int rc = auth_verify(&a->keys, token, token_len, (int64_t)time(NULL), &g, detail,
                         sizeof detail);
    if (rc != J_OK) {
        http_reply_header(rep, "WWW-Authenticate", "Bearer");
        http_reply_error(rep, 401, auth_reason(rc), detail);
        return false;
    }
    if (!auth_allows(&g, room, AUTH_ADMIN)) {
        http_reply_error(rep, 403, "not_allowed", "the token has no admin grant for this");
        return false;
    }
    return true;
}

/* Split "/whip/{stream}[/{session}]" after the prefix (segments of a safe alphabet, see
 * http_path_split). Returns false when malformed or too long. */
static bool split_path(const char *path, const char *prefix, char stream[STREAM_NAME_LEN],
                       char session[PEER_ID_LEN])
{
    http_segment seg[2];
    int n = http_path_split(path, prefix, seg, 2);
    if (n < 1 || seg[0].len >= STREAM_NAME_LEN || (n == 2 && seg[1].len >= PEER_ID_LEN))
        return false;
    memcpy(stream, seg[0].p, seg[0].len);
    stream[seg[0].len] = '\0';
    session[0] = '\0';
    if (n == 2) {
        memcpy(session, seg[1].p, seg[1].len);
        session[seg[1].len] = '\0';
    }
    return true;
}

typedef struct resource {
    app *a;
    peer_role role;
    const char *prefix; /* "/whip/" or "/whep/" */
} resource;

/* Access to a stream: the role's static bearer token (auth.publish_token / auth.view_token,
 * compared in constant time), or, with API keys configured, an access token granting publish
 * (WHIP) or subscribe (WHEP) in a room named like the stream. Open when neither is configured.
 * On refusal replies 401 (no valid token) or 403 (a valid token without the grant). */
static bool authorize(const resource *r, const char *stream, const http_request *req,
                      http_reply *rep)
{
    const app *a = r->a;
    const char *static_token = r->role == PEER_PUBLISHER ? a->cfg.publish_token : a->cfg.view_token;
    if (!static_token[0] && a->keys.count == 0) return true;
    const char *bearer;
    size_t bearer_len;
    if (http_parse_bearer(req->authorization, strlen(req->authorization), &bearer,
                          &bearer_len) != J_OK)
        bearer = NULL;
    if (bearer && static_token[0] && bearer_len == strlen(static_token) &&
        j_ct_equal((const uint8_t *)bearer, (const uint8_t *)static_token, bearer_len))
        return true;
    const char *detail = "a valid bearer token is required";
    if (bearer && a->keys.count > 0) {
        auth_grants g;
        char why[160];
        int rc = auth_verify(&a->keys, bearer, bearer_len, (int64_t)time(NULL), &g, why,
                             sizeof why);
        if (rc == J_OK) {
            if (auth_allows(&g, stream, r->role == PEER_PUBLISHER ? AUTH_PUBLISH : AUTH_SUBSCRIBE))
                return true;
            http_reply_error(rep, 403, "forbidden",
                             r->role == PEER_PUBLISHER
                                 ? "the access token does not grant publishing to this stream"
                                 : "the access token does not grant watching this stream");
            return false;
        }
        J_INFO("whip", "%s %s from %s: access token refused: %s (%s)", req->method, req->path,
               req->peer_ip, auth_reason(rc), why);
        detail = auth_reason(rc);
    }
    http_reply_header(rep, "WWW-Authenticate", "Bearer");
    http_reply_error(rep, 401, "unauthorized", detail);
    return false;
}

/* 429 when this client alone is over its share, 503 when the server is full. */
static void refuse_over_limit(const http_request *req, limit_kind k, http_reply *rep)
{
    char detail[128];
    snprintf(detail, sizeof detail, "%s reached",
             k == LIMIT_NONE ? "a session or track limit" : limit_setting(k));
    J_INFO("whip", "%s %s from %s refused: %s", req->method, req->path, req->peer_ip, detail);
    http_reply_header(rep, "Retry-After", limit_per_client(k) ? "5" : "10");
    http_reply_error(rep, limit_per_client(k) ? 429 : 503, "session limit reached", detail);
}

/* A viewer of a live stream must be able to decode what its publisher sends: 406 when it
 * can take none of the stream's tracks, else each m= section it cannot take is rejected
 * (port 0; the browser ends that transceiver) instead of staying silent. A stream not live
 * yet has nothing to compare: its viewers are answered as usual. False when rep is set. */
static bool refuse_unreceivable(const resource *r, const char *stream, const http_request *req,
                                app_offer *offer, http_reply *rep)
{
    char detail[512];
    int rc = app_offer_check_published(r->a, stream, offer, detail, sizeof detail);
    if (rc == J_EUNSUPPORTED) {
        J_INFO("whip", "%s %s from %s: offer refused: no codec in common with the stream: %s",
               req->method, req->path, req->peer_ip, detail);
        char body[600];
        snprintf(body, sizeof body, "no codec in common with the stream: %s", detail);
        http_reply_error(rep, 406, "offer not acceptable", body);
        return false;
    }
    if (rc != J_OK) {
        http_reply_error(rep, 503, rc == J_EIO ? "shutting down" : "out of memory", NULL);
        return false;
    }
    for (int i = 0; i < offer->neg->media_count; i++)
        if (offer->refused[i][0]) sdp_neg_reject(offer->neg, i, SDP_REJECT_NO_CODEC);
    return true;
}

static void create_session(const resource *r, const http_request *req, http_reply *rep)
{
    app *a = r->a;
    char stream[STREAM_NAME_LEN], session[PEER_ID_LEN];
    if (!split_path(req->path, r->prefix, stream, session) || session[0]) {
        http_reply_error(rep, 404, "not found",
                         "POST to /whip/{stream} or /whep/{stream}; stream names use "
                         "letters, digits, '-', '_' and '.', at most 64");
        return;
    }
    if (!authorize(r, stream, req, rep)) return;
    if (!http_media_type_is(req->content_type, "application/sdp")) {
        http_reply_error(rep, 415, "unsupported media type",
                         "the offer must be sent as Content-Type: application/sdp");
        return;
    }
    char detail[256] = "";
    app_offer offer;
    int rc = app_offer_negotiate(&offer, r->role, (const char *)req->body, req->body_len, detail,
                                 sizeof detail);
    if (rc != J_OK) {
        J_INFO("whip", "%s %s from %s: offer refused: %s", req->method, req->path, req->peer_ip,
               detail);
        if (rc == J_ENOMEM)
            http_reply_error(rep, 503, "out of memory", NULL);
        else if (rc == J_EUNSUPPORTED)
            http_reply_error(rep, 406, "offer not acceptable", detail);
        else
            http_reply_error(rep, 400, "malformed SDP offer", detail);
        return;
    }
    if (offer.neg->media_count > a->cfg.max_sdp_media) {
        snprintf(detail, sizeof detail, "the offer has %d m= sections; limits.max_sdp_media is %d",
                 offer.neg->media_count, a->cfg.max_sdp_media);
        J_INFO("whip", "%s %s from %s refused: %s", req->method, req->path, req->peer_ip, detail);
        http_reply_error(rep, 400, "too many media sections", detail);
        app_offer_free(&offer);
        return;
    }
    char *answer = malloc(ANSWER_CAP);
    if (!answer) {
        http_reply_error(rep, 503, "out of memory", NULL);
        goto done;
    }
    /* A stream is one audio and one video track, "stream/<name>/<kind>", shared by its WHIP
     * publisher and WHEP viewers: the first m= section of each kind is bound to it. */
    bool have[2] = {false, false};
    for (int i = 0; i < offer.neg->media_count; i++) {
        const sdp_neg_media *m = &offer.neg->media[i];
        int kind = sfu_kind_from_sdp(m->kind);
        if (!peer_neg_carries(m, r->role) || have[kind]) continue;
        have[kind] = true;
        snprintf(offer.binds[i].track_id, sizeof offer.binds[i].track_id, "stream/%s/%s", stream, sfu_kind_name((sfu_kind)kind));
    }
    if (r->role == PEER_SUBSCRIBER && !refuse_unreceivable(r, stream, req, &offer, rep)) goto done;

    char ufrag[ICE_UFRAG_LEN + 1], pwd[ICE_PWD_LEN + 1], id[SESSION_ID_LEN + 1];
    ice_lite_generate_credentials(ufrag, pwd);
    j_random_token(id, SESSION_ID_LEN);
    char owner[PEER_OWNER_LEN];
    snprintf(owner, sizeof owner, "%s%s", r->prefix + 1, stream); /* "whip/name" */
    char cname[SESSION_ID_LEN + 1];
    j_random_token(cname, SESSION_ID_LEN);
    engine_session es = {.role = r->role, .id = id, .owner = owner, .local_ufrag = ufrag,
                         .local_pwd = pwd, .cname = cname, .neg = offer.neg,
                         .binds = offer.binds, .client_ip = req->peer_ip};
    int worker = 0;
    rc = media_add_session(a->media, stream, &es, &worker);
    if (rc == J_ESTATE) {
        http_reply_error(rep, 409, "stream already has a publisher",
                         "end the current WHIP session (DELETE) or publish to another stream");
        goto done;
    }
    if (rc == J_EIO) {
        http_reply_error(rep, 503, "shutting down", NULL);
        goto done;
    }
    if (rc == J_ELIMIT) {
        refuse_over_limit(req, es.refused_by, rep);
        goto done;
    }
    if (rc != J_OK) {
        http_reply_error(rep, 503, "cannot create the session", j_strerror(rc));
        goto done;
    }
    app_answer_params ap = {.ice_ufrag = ufrag, .ice_pwd = pwd, .cname = cname, .stream_id = stream,
                            .media_port = media_port(a->media, worker)};
    int alen = app_offer_answer(a, &offer, r->role, &ap, answer, ANSWER_CAP);
    if (alen < 0) {
        media_remove_session(a->media, id, owner, "no SDP answer");
        http_reply_error(rep, 500, "cannot write the SDP answer", j_strerror(alen));
        goto done;
    }
    J_INFO("whip", "%s session %s created for stream '%s' from %s on worker %d",
           r->role == PEER_PUBLISHER ? "WHIP" : "WHEP", id, stream, req->peer_ip, worker);
    for (int i = 0; i < offer.neg->media_count; i++)
        if (offer.refused[i][0])
            J_WARN("whip", "WHEP session %s of stream '%s': m= section %d rejected, no codec in "
                   "common (%s)", id, stream, i, offer.refused[i]);
    http_reply_text(rep, 201, "application/sdp", answer, (size_t)alen);
    snprintf(rep->location, sizeof rep->location, "%s%s/%s", r->prefix, stream, id);
done:
    app_offer_free(&offer);
    free(answer);
}

static void session_post(void *ctx, const http_request *req, http_reply *rep)
{
    create_session(ctx, req, rep);
}

static void session_delete(void *ctx, const http_request *req, http_reply *rep)
{
    const resource *r = ctx;
    char stream[STREAM_NAME_LEN], session[PEER_ID_LEN];
    if (!split_path(req->path, r->prefix, stream, session) || !session[0]) {
        http_reply_error(rep, 404, "unknown session", "DELETE the Location returned by POST");
        return;
    }
    if (!authorize(r, stream, req, rep)) return;
    char owner[PEER_OWNER_LEN];
    snprintf(owner, sizeof owner, "%s%s", r->prefix + 1, stream);
    int rc = media_remove_session(r->a->media, session, owner, "ended by DELETE");
    if (rc == J_EIO) {
        http_reply_error(rep, 503, "shutting down", NULL);
        return;
    }
    if (rc != J_OK) {
        http_reply_error(rep, 404, "unknown session", "no such session on this stream");
        return;
    }
    J_INFO("whip", "session %s of stream '%s' ended by DELETE from %s", session, stream,
           req->peer_ip);
    http_reply_text(rep, 200, "application/json", "{}", 2);
}

static void session_patch(void *ctx, const http_request *req, http_reply *rep)
{
    (void)ctx;
    (void)req;
    /* RFC 9725 §4.3.1: a server without trickle ICE / ICE restart answers 405. */
    http_reply_header(rep, "Allow", "POST, DELETE, OPTIONS");
    http_reply_error(rep, 405, "trickle ICE is not supported",
                     "send the offer with all candidates gathered");
}

/* The workers' figures for a server-wide admin (with the session list or not), or NULL once
 * rep holds the refusal (401/403) or the 503 of a server shutting down. */
static json_t *admin_stats(app *a, const http_request *req, http_reply *rep, bool with_sessions)
{
    if (!app_admin_allowed(a, req, NULL, rep)) return NULL;
    json_t *stats = media_stats(a->media, with_sessions);
    if (!stats) http_reply_error(rep, 503, "shutting down", NULL);
    return stats;
}

/* Every session of every stream and room (ids, tracks, counters): server-wide admins only. */
static void api_stats(void *ctx, const http_request *req, http_reply *rep)
{
    app *a = ctx;
    json_t *stats = admin_stats(a, req, rep, true);
    if (!stats) return;
    json_object_set_new(stats, "http",
                        json_pack("{s:I}", "rate_limited",
                                  (json_int_t)(a->http_rate ? rate_limiter_denied(a->http_rate) : 0)));
    http_reply_json(rep, 200, stats);
}

/* The same figures summed for Prometheus (metrics.h): no session list, so a scrape costs
 * the workers one short call each. Access as for /api/stats. */
static void metrics_get(void *ctx, const http_request *req, http_reply *rep)
{
    app *a = ctx;
    json_t *stats = admin_stats(a, req, rep, false);
    if (!stats) return;
    json_t *rooms = a->rooms ? rtc_rooms_json(a->rooms) : NULL;
    metrics_app_figures fig = {
        .version = JUNCTION_VERSION,
        .start_time_s = a->started_unix_s,
        .uptime_s = (double)(j_now_us() - a->started_us) / 1e6,
        .http_rate_limited = a->http_rate ? rate_limiter_denied(a->http_rate) : 0,
        .rooms = rooms,
    };
    size_t len = 0;
    char *body = !a->rooms || rooms ? metrics_render(stats, &fig, &len) : NULL;
    json_decref(rooms);
    json_decref(stats);
    if (!body) {
        http_reply_error(rep, 503, "out of memory", NULL);
        return;
    }
    rep->status = 200;
    snprintf(rep->content_type, sizeof rep->content_type, "%s", METRICS_CONTENT_TYPE);
    rep->body = body;
    rep->body_len = len;
}

static void api_health(void *ctx, const http_request *req, http_reply *rep)
{
    (void)ctx;
    (void)req;
    http_reply_json(rep, 200, json_pack("{s:s, s:s}", "status", "ok", "version", JUNCTION_VERSION));
}

size_t app_routes(app *a, http_route *routes, size_t max)
{
    static resource whip, whep;
    whip = (resource){.a = a, .role = PEER_PUBLISHER, .prefix = "/whip/"};
    whep = (resource){.a = a, .role = PEER_SUBSCRIBER, .prefix = "/whep/"};
    const http_route table[] = {
        {"POST", "/whip/", session_post, &whip},
        {"DELETE", "/whip/", session_delete, &whip},
        {"PATCH", "/whip/", session_patch, &whip},
        {"POST", "/whep/", session_post, &whep},
        {"DELETE", "/whep/", session_delete, &whep},
        {"PATCH", "/whep/", session_patch, &whep},
        {"GET", "/api/stats", api_stats, a},
        {"GET", "/api/health", api_health, a},
        {"GET", "/metrics", metrics_get, a},
        {"GET", "/room/", http_static_handler, "/room.html"},
        {"GET", "/", http_static_handler, NULL},
    };
    size_t n = sizeof table / sizeof table[0];
    if (n > max) n = max;
    memcpy(routes, table, n * sizeof table[0]);
    return n;
}
