/* whip.h - the HTTP face of Junction: WHIP (RFC 9725), WHEP, the API and the web app.
 *
 * Handlers run on the HTTP thread. SDP is parsed and negotiated there (pure
 * functions); the session itself is created on a media worker (app/media.h: a stream's
 * publisher on the stream's home worker), then the answer is written back.
 */
#ifndef J_APP_WHIP_H
#define J_APP_WHIP_H

#include "app/config.h"
#include "app/limits.h"
#include "app/media.h"
#include "auth/auth.h"
#include "dtls/dtls.h"
#include "signal/http.h"

#define APP_MAX_ROUTES 16
#define APP_MAX_CANDIDATES 8

typedef struct app {
    config cfg;
    auth_keys keys;    /* from auth.api_key / auth.api_secret; empty = no access tokens */
    media *media;      /* owned: the media workers */
    dtls_cert *cert;   /* owned */
    dtls_ctx *dtls;    /* owned */
    j_addr candidates[APP_MAX_CANDIDATES]; /* advertised host candidates */
    int n_candidates;
    rate_limiter *http_rate; /* owned; HTTP thread only */
    struct rtc *rooms;       /* the conference rooms (app/rtc.h) while they exist, or NULL */
    double started_unix_s;   /* when the process started: wall clock ... */
    uint64_t started_us;     /* ... and j_now_us(), for /metrics */
} app;

/* Clients the HTTP rate limiter tracks at once (the least active are forgotten first). */
#define APP_RATE_CLIENTS 8192

/* app_set_candidates - from media.public_ips, else the addresses the media sockets serve
 * (each answer gives them the port of its session's worker). */
int app_set_candidates(app *a, const j_addr *media, const char *public_ips, char *err,
                       size_t err_cap);
/* app_routes - fill routes (at most max) and return how many. */
size_t app_routes(app *a, http_route *routes, size_t max);
/* app_http_admit - http_config.admit: take one request from peer_ip's token bucket
 * (limits.http_rate); logs the first refusal of an episode. */
bool app_http_admit(void *ctx, const char *peer_ip);
/* app_admin_allowed - admin access (the rooms API, /api/stats): a bearer token from a's API
 * keys with the admin grant for room, or for every room when room is NULL. Static tokens
 * (auth.publish_token / auth.view_token) never count. Any request is allowed in open
 * development mode (no API keys). Otherwise replies 401 with WWW-Authenticate: Bearer (no
 * valid token) or 403 (a valid token without the grant) and returns false. */
bool app_admin_allowed(const app *a, const http_request *req, const char *room, http_reply *rep);
/* app_shutdown - stop the workers and free what app owns (safe on a partial start). */
void app_shutdown(app *a);

#endif
