/* http.h - Junction's small HTTP/1.1 server (signalling, REST API, the embedded web page).
 *
 * Built on libwebsockets. Plain HTTP only: TLS is terminated by the reverse proxy in front
 * of Junction, so no certificate handling lives here. The server runs its own lws service
 * loop on the thread that calls http_server_run(); handlers run synchronously on that thread
 * and may block briefly (they delay every other HTTP client while they do).
 *
 * Connections: with max_conns_per_ip set, a client IP's connections beyond it are closed
 * as soon as they are accepted.
 *
 * Request handling, in order:
 *   - Admission: when the config has an admit callback and it refuses the client, 429
 *     (Retry-After: 1) and the connection is closed; the request is not routed. A refused
 *     WebSocket upgrade is closed without an answer.
 *   - OPTIONS on a routed path with no explicit OPTIONS route: 204 CORS preflight answer.
 *   - Routing: the routes whose path_prefix is the longest prefix of the path are the
 *     candidates; the one whose method matches is called (HEAD is served by a GET route
 *     with the body left out). No prefix matches: 404. Prefix matches, method does not: 405
 *     with an Allow header. Errors are JSON: {"error": "...", "detail": "..."}.
 *   - A body larger than max_body is refused with 413 before it is read; the connection is
 *     then closed. Bodies must come with Content-Length (chunked request bodies get 411).
 *   - Every response carries Content-Length (except 204/304, which must not) and the CORS
 *     headers (Access-Control-Allow-Origin, Access-Control-Expose-Headers).
 *   - Slow or idle clients are closed after idle_timeout_s (headers and body each must arrive
 *     within that time; idle keep-alive connections are closed after it too).
 */
#ifndef J_SIGNAL_HTTP_H
#define J_SIGNAL_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_server http_server;

/* One request as a handler sees it. Every string is NUL-terminated and valid only during
 * the handler call. */
typedef struct http_request {
    const char *method;        /* "GET" "POST" "DELETE" "OPTIONS" "PATCH" "PUT"; a HEAD
                                  request served by a GET route shows as "GET" */
    const char *path;          /* decoded URL path without query (lws collapses "//", "/../") */
    const char *query;         /* query string ("a=1&b=2", as lws decoded it) or "" */
    const char *content_type;  /* "" when absent */
    const char *authorization; /* raw Authorization header value or "" */
    const char *origin;        /* "" when absent */
    const char *if_match;      /* raw If-Match header value or "" (WHIP/WHEP PATCH) */
    const uint8_t *body;       /* complete body (never more than max_body bytes); NUL follows it */
    size_t body_len;
    char peer_ip[64];          /* client address, for logs and per-IP limits: the TCP peer,
                                  or behind a trusted proxy the one it forwarded */
} http_request;

/* What a handler fills in. The server zeroes it before the call. A status outside
 * 200..599 (e.g. left at 0), a body_len without body, or CR/LF in content_type or location
 * turns the answer into a 500. Malformed extra_headers lines are skipped. */
typedef struct http_reply {
    int status;
    char content_type[64];
    char *body;                   /* malloc'd by the handler or helpers; freed by the server */
    size_t body_len;
    char location[512];           /* Location header when non-empty */
    char extra_headers[1024];     /* further "Name: value\r\n" lines, e.g. ETag, Link */
} http_reply;

typedef void (*http_handler_fn)(void *ctx, const http_request *req, http_reply *rep);

/* A route matches a request whose path starts with path_prefix (plain string prefix). The
 * strings must outlive the server. */
typedef struct http_route {
    const char *method;
    const char *path_prefix;
    http_handler_fn fn;
    void *ctx;
} http_route;

typedef struct http_config {
    const char *listen_addr;  /* IP literal or interface; NULL or "" = all addresses */
    int port;                 /* 0 = any free port (see http_server_port) */
    size_t max_body;          /* 0 = 64 KiB */
    int idle_timeout_s;       /* 0 = 10 s */
    const char *cors_origin;  /* Access-Control-Allow-Origin; NULL or "" = "*" */
    /* Called once per request when its headers are complete, with the client's IP; false
     * refuses it with 429. NULL admits everything. */
    bool (*admit)(void *ctx, const char *peer_ip);
    void *admit_ctx;
    int max_conns_per_ip;     /* open TCP connections per client IP; more are closed at
                                 once, before any request. 0 = unlimited */
    /* Comma-separated IPs of reverse proxies whose X-Forwarded-For is believed (its last
     * element becomes http_request.peer_ip; they are exempt from max_conns_per_ip).
     * NULL or "" = none: peer_ip is always the TCP peer. At most 8. */
    const char *trusted_proxies;
} http_config;

/* http_server_new - create the lws context and bind the listening socket. Routes are copied
 * (their strings are not). Returns NULL after logging one line on failure (port in use,
 * bad address, out of memory). */
http_server *http_server_new(const http_config *cfg, const http_route *routes, size_t n_routes);

/* http_server_run - serve on the calling thread until http_server_stop. Returns 0 after a
 * stop, J_EIO if the lws service loop failed. */
int http_server_run(http_server *s);

/* http_server_stop - make http_server_run return soon. Safe from any thread and from a
 * signal handler: it only stores an atomic flag and wakes the loop through
 * lws_cancel_service, which writes one byte to lws' wake pipe. Also fine before
 * http_server_run was called (run then returns at once). */
void http_server_stop(http_server *s);

/* http_server_free - close all connections and free the server. Not while run is running. */
void http_server_free(http_server *s);

/* http_server_port - the actual bound TCP port. */
int http_server_port(const http_server *s);

/* http_reply_json - status + compact JSON body of obj (steals the reference; NULL -> 500). */
void http_reply_json(http_reply *rep, int status, json_t *obj);

/* http_reply_error - status + {"error": error, "detail": detail} (detail may be NULL). */
void http_reply_error(http_reply *rep, int status, const char *error, const char *detail);

/* http_reply_text - status + a copy of text[0..len) with the given content type. */
void http_reply_text(http_reply *rep, int status, const char *content_type, const char *text,
                     size_t len);

/* http_reply_header - append "name: value\r\n" to rep->extra_headers. Returns 0, J_EINVAL if
 * name or value holds CR/LF (header injection) or name is empty, J_ESHORTBUF if it does not
 * fit. */
int http_reply_header(http_reply *rep, const char *name, const char *value);

/* ---- WebSocket endpoints ---------------------------------------------------------------
 * A GET with "Upgrade: websocket" on an endpoint's exact path becomes a WebSocket (any other
 * upgrade is refused). Text and binary messages are reassembled from fragments and handed
 * over whole; one larger than max_message closes the connection with 1009. Sends are queued
 * per connection (at most max_queued bytes: a client that does not read is closed with 1008)
 * and written when the socket is writable. Every callback runs on the HTTP thread. */

typedef uint64_t http_ws_id; /* never 0, never reused while the server lives */

typedef struct http_ws_endpoint {
    const char *path;   /* exact path, e.g. "/rtc"; must outlive the server */
    size_t max_message; /* 0 = 64 KiB */
    size_t max_queued;  /* 0 = 4 MiB */
    void (*on_open)(void *ctx, http_ws_id id, const char *peer_ip);
    void (*on_message)(void *ctx, http_ws_id id, const uint8_t *data, size_t len);
    void (*on_close)(void *ctx, http_ws_id id); /* not called after http_ws_close */
    void *ctx;
} http_ws_endpoint;

/* http_server_add_ws - register an endpoint (before http_server_run). J_OK, J_ELIMIT. */
int http_server_add_ws(http_server *s, const http_ws_endpoint *ep);
/* http_ws_send - queue one text message. J_OK, J_ENOTFOUND (gone), J_ELIMIT (queue full:
 * the connection is being closed), J_ENOMEM. */
int http_ws_send(http_server *s, http_ws_id id, const char *text, size_t len);
/* http_ws_close - close after the queued messages are written, with a close code and a
 * short reason (at most 123 bytes are sent). No on_close follows. */
void http_ws_close(http_server *s, http_ws_id id, int code, const char *reason);

/* http_server_set_tick - call fn every interval_ms on the HTTP thread while running. */
void http_server_set_tick(http_server *s, unsigned interval_ms, void (*fn)(void *ctx), void *ctx);

/* ---- request fields Junction interprets itself --------------------------------------
 * Pure functions over the strings libwebsockets hands over; fuzzed by
 * fuzz/fuzz_http_request.c. */

/* http_parse_content_length - a Content-Length value (RFC 9110 section 8.6): 1*DIGIT and
 * nothing else (no sign, space or list). J_OK with *out, J_EMALFORMED, J_ELIMIT (does not
 * fit 64 bits). */
int http_parse_content_length(const char *s, size_t len, uint64_t *out);

/* http_parse_bearer - the token of an Authorization value "Bearer <token68>" (RFC 6750
 * section 2.1; the scheme is case-insensitive, then one or more spaces; trailing spaces are
 * ignored). *token points into s. J_OK; J_ENOTFOUND for an empty value; J_EMALFORMED for
 * another scheme or characters outside token68 (ALPHA DIGIT - . _ ~ + / then trailing =). */
int http_parse_bearer(const char *s, size_t len, const char **token, size_t *token_len);

/* http_media_type_is - true when a Content-Type value is the media type `type` (e.g.
 * "application/sdp", compared case-insensitively), alone or followed by parameters
 * (";charset=utf-8", RFC 9110 section 8.3.1). "application/sdpx" is not. */
bool http_media_type_is(const char *value, const char *type);

/* http_ip_canonical - ip[0..len) as an IP literal in canonical text ("::FFFF:1.2.3.4" ->
 * "1.2.3.4", "2001:DB8::0:1" -> "2001:db8::1") into out. J_OK, J_EMALFORMED (not an IPv4 or
 * IPv6 literal), J_ESHORTBUF. */
int http_ip_canonical(const char *ip, size_t len, char *out, size_t cap);

/* http_forwarded_for_last - the client address a trusted reverse proxy appended to
 * X-Forwarded-For: the last comma-separated element, which must be an IP literal (copied
 * canonical into out). Elements before it were sent by the client and prove nothing.
 * J_OK, J_EMALFORMED, J_ESHORTBUF. */
int http_forwarded_for_last(const char *value, char *out, size_t cap);

typedef struct http_segment {
    const char *p; /* into the path, not NUL-terminated */
    size_t len;
} http_segment;

/* http_path_split - the '/'-separated segments of path after prefix (which must end with
 * '/'), at most max of them. Each is non-empty, of [A-Za-z0-9._-] only, and neither "." nor
 * "..". Returns the count (0 when path == prefix), J_EMALFORMED (path outside prefix, a bad
 * or empty segment, a trailing '/'), J_ELIMIT (more than max). */
int http_path_split(const char *path, const char *prefix, http_segment *segs, int max);

/* ---- the embedded web app (web/ compiled in by scripts/embed_web.py) ---- */

typedef struct http_static_file {
    const char *name;          /* path below web/, e.g. "index.html", "app.js" */
    const char *content_type;
    const uint8_t *data;
    size_t len;
} http_static_file;

extern const http_static_file http_static_files[];
extern const size_t http_static_files_count;

/* http_static_find - the embedded file for a URL path ("/" -> index.html), or NULL. */
const http_static_file *http_static_find(const char *path);

/* http_static_handler - route handler for GET (and HEAD) serving the embedded files; 404
 * JSON for unknown ones. With ctx NULL the file is the request path's
 * ({"GET", "/", http_static_handler, NULL}); with ctx a path ("/room.html") that one file is
 * served for every path under the route's prefix (an app page like /room/{name}). */
void http_static_handler(void *ctx, const http_request *req, http_reply *rep);

#endif
