/* http.c - the HTTP/1.1 server on libwebsockets (see http.h for the behaviour).
 *
 * No TLS here on purpose: Junction sits behind a reverse proxy that terminates HTTPS, so the
 * lws context is created without any SSL options.
 *
 * One lws protocol ("http") serves every connection. A WebSocket upgrade is let through in
 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE only on a registered endpoint path; the upgraded
 * connection stays on the same protocol (no subprotocol is needed) and its state moves from
 * the HTTP fields of http_conn to a ws_conn.
 *
 * Per connection, a request goes through:
 *   LWS_CALLBACK_HTTP             headers complete: capture them, decide (route, 413, ...)
 *   LWS_CALLBACK_HTTP_BODY        body chunks, copied into a buffer sized by Content-Length
 *   LWS_CALLBACK_HTTP_BODY_COMPLETION   run the handler
 *   LWS_CALLBACK_HTTP_WRITEABLE   headers first, then the body in chunks, then either
 *                                 lws_http_transaction_completed (keep-alive) or close.
 */
#include "signal/http.h"

#include "core/err.h"
#include "core/log.h"
#include "core/map.h"

#include <libwebsockets.h>

#include <ctype.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_DEFAULT_MAX_BODY ((size_t)64 * 1024)
#define HTTP_DEFAULT_IDLE_S 10
#define HTTP_MAX_HEADER_DATA 8192 /* lws header buffer: long bearer tokens must fit */
#define HTTP_HDR_BUF 4096         /* response header block */
#define HTTP_CHUNK 16384          /* response body bytes per writeable callback */
#define HTTP_LOG_PATH_MAX 160
#define WS_MAX_ENDPOINTS 4
#define WS_DEFAULT_MAX_MESSAGE ((size_t)64 * 1024)
#define WS_DEFAULT_MAX_QUEUED ((size_t)4 * 1024 * 1024)
#define HTTP_MAX_TRUSTED_PROXIES 8
#define HTTP_MAX_FORWARDED_FOR 1024 /* longer X-Forwarded-For values are ignored */

static const char CORS_EXPOSE[] = "Location, ETag, Link, Accept-Patch";
static const char CORS_METHODS[] = "GET, POST, DELETE, PATCH, OPTIONS";
static const char CORS_HEADERS[] = "Authorization, Content-Type, If-Match";

struct http_server {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct lws_protocols protocols[2]; /* "http" + terminator; lws keeps a pointer */
    http_route *routes;
    size_t n_routes;
    size_t max_body;
    int idle_timeout_s;
    int port;
    char cors_origin[256];
    bool (*admit)(void *ctx, const char *peer_ip);
    void *admit_ctx;
    int max_conns_per_ip;  /* 0 = unlimited */
    char trusted_proxies[HTTP_MAX_TRUSTED_PROXIES][64]; /* canonical IP text */
    int n_trusted_proxies;
    j_map conns_by_ip;     /* peer IP text -> open_conns, while it has connections */
    uint64_t conns_refused;
    atomic_bool stop;
    http_ws_endpoint ws_endpoints[WS_MAX_ENDPOINTS];
    size_t n_ws_endpoints;
    j_map ws_conns; /* http_ws_id -> ws_conn */
    http_ws_id next_ws_id;
    lws_sorted_usec_list_t tick;
    unsigned tick_ms;
    void (*tick_fn)(void *ctx);
    void *tick_ctx;
};

/* One queued outgoing WebSocket message; data has LWS_PRE bytes of headroom. */
typedef struct ws_out {
    struct ws_out *next;
    size_t len;
    unsigned char data[];
} ws_out;

/* State of an upgraded connection. */
typedef struct ws_conn {
    http_ws_id id;
    struct lws *wsi;
    const http_ws_endpoint *ep;
    uint8_t *rx;        /* message being reassembled */
    size_t rx_len;
    ws_out *head, *tail; /* send queue */
    size_t queued;
    bool closing;       /* close after the queue drains */
    int close_code;
    char close_reason[124];
} ws_conn;

typedef enum {
    CONN_IDLE = 0, /* between requests */
    CONN_BODY,     /* reading the body of an accepted request */
    CONN_DISCARD,  /* refused before its body was read; body chunks are dropped */
    CONN_REPLY,    /* reply ready, being written */
} conn_state;

/* Per-connection state, allocated (zeroed) by lws as the protocol's per-session data. */
typedef struct http_conn {
    struct lws *wsi;
    http_server *srv;
    lws_sorted_usec_list_t deadline; /* bounds one request from headers to last byte out */
    conn_state state;
    const char *method;              /* static string */
    char *path, *query, *content_type, *authorization, *origin, *if_match;
    uint8_t *body;
    size_t body_len, body_expected;
    char peer_ip[64];
    const http_route *route;
    bool head_only;     /* HEAD served by a GET route: headers only */
    bool preflight;     /* add the CORS preflight headers */
    bool close_after;   /* close instead of keeping the connection alive */
    bool headers_sent;
    size_t sent;        /* body bytes written so far */
    char allow[96];     /* Allow header for 405 and OPTIONS, "" when not sent */
    http_reply rep;
    ws_conn *ws; /* after a WebSocket upgrade */
} http_conn;

/* One accepted TCP connection, counted against its IP (lws opaque user data of the wsi). */
typedef struct conn_slot {
    bool refused; /* over the per-IP limit: closed before any request */
    char ip[64];
} conn_slot;

typedef struct open_conns {
    int n;
} open_conns;

/* ---------------------------------------------------------------- reply helpers */

static void reply_set_body(http_reply *rep, int status, const char *ctype, char *body,
                           size_t len)
{
    free(rep->body);
    rep->status = status;
    snprintf(rep->content_type, sizeof rep->content_type, "%s", ctype ? ctype : "");
    rep->body = body;
    rep->body_len = body ? len : 0;
}

void http_reply_text(http_reply *rep, int status, const char *content_type, const char *text,
                     size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        reply_set_body(rep, 500, "", NULL, 0);
        return;
    }
    if (len) memcpy(copy, text, len);
    copy[len] = '\0';
    reply_set_body(rep, status, content_type, copy, len);
}

void http_reply_json(http_reply *rep, int status, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text) {
        /* Still a JSON body, so clients parsing errors uniformly keep working. */
        static const char fallback[] = "{\"error\":\"internal\",\"detail\":\"json encoding\"}";
        http_reply_text(rep, 500, "application/json", fallback, sizeof fallback - 1);
        return;
    }
    reply_set_body(rep, status, "application/json", text, strlen(text));
}

void http_reply_error(http_reply *rep, int status, const char *error, const char *detail)
{
    json_t *obj = json_object();
    if (obj) {
        json_object_set_new(obj, "error", json_string(error ? error : "error"));
        json_object_set_new(obj, "detail", json_string(detail ? detail : ""));
    }
    http_reply_json(rep, status, obj);
}

static bool has_crlf(const char *s) { return strpbrk(s, "\r\n") != NULL; }

int http_reply_header(http_reply *rep, const char *name, const char *value)
{
    if (!name || !value || !name[0] || has_crlf(name) || has_crlf(value) || strchr(name, ':'))
        return J_EINVAL;
    size_t used = strnlen(rep->extra_headers, sizeof rep->extra_headers);
    size_t need = strlen(name) + 2 + strlen(value) + 2;
    if (used + need + 1 > sizeof rep->extra_headers) return J_ESHORTBUF;
    snprintf(rep->extra_headers + used, sizeof rep->extra_headers - used, "%s: %s\r\n", name,
             value);
    return 0;
}

/* ---------------------------------------------------------------- routing */

static bool allow_has(const char *list, const char *m)
{
    size_t mlen = strlen(m);
    for (const char *p = list; (p = strstr(p, m)) != NULL; p += mlen) {
        bool start = p == list || p[-1] == ' ';
        bool end = p[mlen] == '\0' || p[mlen] == ',';
        if (start && end) return true;
    }
    return false;
}

static void allow_add(char *list, size_t cap, const char *m)
{
    if (allow_has(list, m)) return;
    size_t used = strlen(list);
    snprintf(list + used, cap - used, "%s%s", used ? ", " : "", m);
}

/* Find the route for (method, path). Returns it, or NULL with *path_known telling 404 from
 * 405 and allow listing the methods the best-matching prefix accepts. */
static const http_route *route_find(const http_server *s, const char *method, const char *path,
                                    bool *path_known, bool *head_only, char *allow,
                                    size_t allow_cap)
{
    size_t best = 0;
    bool any = false;
    for (size_t i = 0; i < s->n_routes; i++) {
        size_t n = strlen(s->routes[i].path_prefix);
        if (strncmp(path, s->routes[i].path_prefix, n) == 0 && (!any || n > best)) {
            best = n;
            any = true;
        }
    }
    *path_known = any;
    *head_only = false;
    allow[0] = '\0';
    if (!any) return NULL;

    const http_route *exact = NULL, *get = NULL;
    for (size_t i = 0; i < s->n_routes; i++) {
        const http_route *r = &s->routes[i];
        if (strlen(r->path_prefix) != best || strncmp(path, r->path_prefix, best) != 0) continue;
        allow_add(allow, allow_cap, r->method);
        if (strcmp(r->method, "GET") == 0) {
            allow_add(allow, allow_cap, "HEAD");
            get = r;
        }
        if (!exact && strcmp(r->method, method) == 0) exact = r;
    }
    allow_add(allow, allow_cap, "OPTIONS");
    if (exact) return exact;
    if (strcmp(method, "HEAD") == 0 && get) {
        *head_only = true;
        return get;
    }
    return NULL;
}

/* ---------------------------------------------------------------- connection state */

static void conn_clear(http_conn *c)
{
    lws_sul_cancel(&c->deadline);
    free(c->path);
    free(c->query);
    free(c->content_type);
    free(c->authorization);
    free(c->origin);
    free(c->if_match);
    free(c->body);
    free(c->rep.body);
    c->path = c->query = c->content_type = c->authorization = c->origin = c->if_match = NULL;
    c->body = NULL;
    c->body_len = c->body_expected = 0;
    c->rep.body = NULL;
    c->route = NULL;
    c->method = NULL;
    c->head_only = c->preflight = c->close_after = c->headers_sent = false;
    c->sent = 0;
    c->allow[0] = '\0';
    memset(&c->rep, 0, sizeof c->rep);
    c->state = CONN_IDLE;
}

/* Copy one request header into a fresh string ("" when absent); NULL when out of memory. */
static char *hdr_dup(struct lws *wsi, enum lws_token_indexes h)
{
    int n = lws_hdr_total_length(wsi, h);
    if (n < 0) n = 0;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    s[0] = '\0';
    if (n > 0 && lws_hdr_copy(wsi, s, n + 1, h) < 0) s[0] = '\0';
    return s;
}

/* The query string: lws splits it at '&' into decoded fragments; join them back with '&'. */
static char *query_dup(struct lws *wsi)
{
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    if (total < 0) total = 0;
    /* Each fragment is followed by one separator (or the final NUL). */
    size_t cap = (size_t)total + 64;
    char *q = malloc(cap);
    if (!q) return NULL;
    size_t used = 0;
    q[0] = '\0';
    for (int i = 0; total > 0; i++) {
        if (used && used + 1 < cap) q[used++] = '&';
        int n = lws_hdr_copy_fragment(wsi, q + used, (int)(cap - used), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) {
            if (used && q[used - 1] == '&') used--; /* no such fragment: done */
            break;
        }
        used += (size_t)n;
    }
    q[used] = '\0';
    return q;
}

/* The peer's IP; an IPv4 client on the dual-stack socket shows as "::ffff:a.b.c.d", which
 * is reported as plain "a.b.c.d" so per-IP limits and logs see one form. */
static void peer_ip(struct lws *wsi, char *out, size_t cap)
{
    if (!lws_get_peer_simple(wsi, out, cap)) {
        snprintf(out, cap, "?");
        return;
    }
    static const char mapped[] = "::ffff:";
    size_t plen = sizeof mapped - 1;
    if (strncasecmp(out, mapped, plen) == 0 && strchr(out + plen, '.'))
        memmove(out, out + plen, strlen(out + plen) + 1);
}

static bool is_trusted_proxy(const http_server *s, const char *ip)
{
    char canon[64];
    if (s->n_trusted_proxies == 0 ||
        http_ip_canonical(ip, strlen(ip), canon, sizeof canon) != J_OK)
        return false;
    for (int i = 0; i < s->n_trusted_proxies; i++)
        if (strcmp(canon, s->trusted_proxies[i]) == 0) return true;
    return false;
}

/* Behind a trusted reverse proxy the client is the address it appended to X-Forwarded-For;
 * without a usable one the request stays the proxy's. */
static void forwarded_client(struct lws *wsi, char *ip, size_t cap)
{
    char value[HTTP_MAX_FORWARDED_FOR];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
    if (n <= 0 || n >= (int)sizeof value ||
        lws_hdr_copy(wsi, value, sizeof value, WSI_TOKEN_X_FORWARDED_FOR) < 0)
        return;
    char client[64];
    if (http_forwarded_for_last(value, client, sizeof client) == J_OK)
        snprintf(ip, cap, "%s", client);
}

/* Who sent the request: the TCP peer, or the client a trusted proxy forwarded. */
static void client_ip(const http_server *s, struct lws *wsi, char *out, size_t cap)
{
    peer_ip(wsi, out, cap);
    if (is_trusted_proxy(s, out)) forwarded_client(wsi, out, cap);
}

/* A new connection: count it against its IP; over the limit it is closed at once, so one
 * address cannot hold every descriptor (slow-loris with many sockets). */
static void conn_opened(http_server *s, struct lws *wsi)
{
    if (s->max_conns_per_ip <= 0) return;
    conn_slot *slot = calloc(1, sizeof *slot);
    if (!slot) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        return;
    }
    peer_ip(wsi, slot->ip, sizeof slot->ip);
    if (is_trusted_proxy(s, slot->ip)) { /* it carries every client's connections */
        free(slot);
        return;
    }
    size_t key_len = strlen(slot->ip);
    open_conns *oc = j_map_get(&s->conns_by_ip, slot->ip, key_len);
    if (!oc) {
        oc = calloc(1, sizeof *oc);
        if (!oc || j_map_put(&s->conns_by_ip, slot->ip, key_len, oc) != J_OK) {
            free(oc);
            free(slot);
            lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
            return;
        }
    }
    oc->n++;
    lws_set_opaque_user_data(wsi, slot);
    if (oc->n > s->max_conns_per_ip) {
        slot->refused = true;
        if (s->conns_refused++ % 1000 == 0) /* a flood must not flood the log */
            J_WARN("http", "client %s has %d connections open (limit %d): closing new ones",
                   slot->ip, oc->n - 1, s->max_conns_per_ip);
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
    }
}

static void conn_destroyed(http_server *s, struct lws *wsi)
{
    conn_slot *slot = lws_get_opaque_user_data(wsi);
    if (!slot) return;
    lws_set_opaque_user_data(wsi, NULL);
    size_t key_len = strlen(slot->ip);
    open_conns *oc = j_map_get(&s->conns_by_ip, slot->ip, key_len);
    if (oc && --oc->n <= 0) free(j_map_remove(&s->conns_by_ip, slot->ip, key_len));
    free(slot);
}

/* Log-safe copy of a path: printable ASCII only, bounded. */
static const char *log_path(const char *path, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; path && path[i] && o + 1 < cap; i++)
        buf[o++] = isprint((unsigned char)path[i]) ? path[i] : '?';
    buf[o] = '\0';
    return buf;
}

static void conn_fail(http_conn *c, int status, const char *error, const char *detail,
                      bool close_after)
{
    http_reply_error(&c->rep, status, error, detail);
    c->close_after = c->close_after || close_after;
}

static void deadline_fired(lws_sorted_usec_list_t *sul)
{
    http_conn *c = lws_container_of(sul, http_conn, deadline);
    char pbuf[HTTP_LOG_PATH_MAX];
    J_INFO("http", "%s %s from %s: request timed out, closing", c->method ? c->method : "?",
           log_path(c->path, pbuf, sizeof pbuf), c->peer_ip);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
}

/* Parse Content-Length strictly (digits only). Returns false when present but invalid. */
static bool content_length(struct lws *wsi, bool *present, unsigned long long *out)
{
    char buf[32];
    *present = false;
    *out = 0;
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (n <= 0) return true;
    *present = true;
    int copied;
    if ((size_t)n >= sizeof buf ||
        (copied = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_CONTENT_LENGTH)) < 0)
        return false;
    uint64_t v;
    if (http_parse_content_length(buf, (size_t)copied, &v) != J_OK) return false;
    *out = v;
    return true;
}

static void conn_dispatch(http_conn *c)
{
    http_server *s = c->srv;
    c->state = CONN_REPLY;
    if (c->rep.status) return; /* already decided (error) */

    bool path_known = false;
    c->route = route_find(s, c->method, c->path, &path_known, &c->head_only, c->allow,
                          sizeof c->allow);
    if (strcmp(c->method, "OPTIONS") == 0 && path_known) c->preflight = true;
    if (!c->route) {
        if (!path_known) {
            c->allow[0] = '\0';
            conn_fail(c, 404, "not_found", "no such resource", false);
        } else if (c->preflight) {
            c->rep.status = 204; /* generic CORS preflight */
        } else {
            conn_fail(c, 405, "method_not_allowed", "method not allowed for this resource",
                      false);
        }
        return;
    }
    if (!c->preflight) c->allow[0] = '\0';

    /* The body is NUL-terminated (one spare byte) so text handlers can use it directly. */
    static const uint8_t empty_body[1] = {0};
    http_request req = {
        .method = c->head_only ? "GET" : c->method,
        .path = c->path,
        .query = c->query,
        .content_type = c->content_type,
        .authorization = c->authorization,
        .origin = c->origin,
        .if_match = c->if_match,
        .body = c->body ? c->body : empty_body,
        .body_len = c->body_len,
    };
    snprintf(req.peer_ip, sizeof req.peer_ip, "%s", c->peer_ip);
    c->route->fn(c->route->ctx, &req, &c->rep);

    http_reply *r = &c->rep;
    if (r->status < 200 || r->status > 599 || (r->body_len && !r->body) ||
        has_crlf(r->content_type) || has_crlf(r->location)) {
        char pbuf[HTTP_LOG_PATH_MAX];
        J_WARN("http", "%s %s: handler produced an invalid reply (status %d)", c->method,
               log_path(c->path, pbuf, sizeof pbuf), r->status);
        free(r->body);
        memset(r, 0, sizeof *r);
        http_reply_error(r, 500, "internal", "invalid handler reply");
    }
}

/* Capture the request line and headers, then decide what to do with the body. */
static int on_http(http_conn *c, struct lws *wsi)
{
    http_server *s = c->srv;
    conn_clear(c);
    c->wsi = wsi;
    client_ip(s, wsi, c->peer_ip, sizeof c->peer_ip);

    static const char *const methods[] = {
        [LWSHUMETH_GET] = "GET",       [LWSHUMETH_POST] = "POST",
        [LWSHUMETH_OPTIONS] = "OPTIONS", [LWSHUMETH_PUT] = "PUT",
        [LWSHUMETH_PATCH] = "PATCH",   [LWSHUMETH_DELETE] = "DELETE",
        [LWSHUMETH_CONNECT] = "CONNECT", [LWSHUMETH_HEAD] = "HEAD",
    };
    char *uri = NULL;
    int uri_len = 0;
    int m = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    c->method = (m >= 0 && m < (int)(sizeof methods / sizeof methods[0]) && methods[m])
                    ? methods[m] : "?";
    c->path = malloc(uri_len > 0 ? (size_t)uri_len + 1 : 2);
    c->query = query_dup(wsi);
    c->content_type = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    c->authorization = hdr_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    c->origin = hdr_dup(wsi, WSI_TOKEN_ORIGIN);
    c->if_match = hdr_dup(wsi, WSI_TOKEN_HTTP_IF_MATCH);
    if (!c->path || !c->query || !c->content_type || !c->authorization || !c->origin ||
        !c->if_match)
        return -1; /* out of memory: drop the connection rather than half-answer */
    if (uri && uri_len > 0) {
        memcpy(c->path, uri, (size_t)uri_len);
        c->path[uri_len] = '\0';
    } else {
        strcpy(c->path, "/");
    }

    /* One deadline for the whole request (body in, reply out); lws' own timeouts cover the
     * header phase and idle keep-alive. */
    lws_sul_schedule(lws_get_context(wsi), 0, &c->deadline, deadline_fired,
                     (lws_usec_t)s->idle_timeout_s * LWS_US_PER_SEC);

    bool cl_present;
    unsigned long long cl;
    bool cl_ok = content_length(wsi, &cl_present, &cl);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_CONNECTION) > 0) {
        char conn[32];
        if (lws_hdr_copy(wsi, conn, sizeof conn, WSI_TOKEN_CONNECTION) > 0 &&
            strcasecmp(conn, "close") == 0)
            c->close_after = true;
    }

    if (s->admit && !s->admit(s->admit_ctx, c->peer_ip)) {
        /* Closing makes a flooding client pay for a new connection per request. */
        conn_fail(c, 429, "too_many_requests", "too many requests from this address; retry later",
                  true);
        http_reply_header(&c->rep, "Retry-After", "1");
    } else if (m < 0 || c->method[0] == '?') {
        conn_fail(c, 400, "bad_request", "unsupported method", true);
    } else if (!cl_ok) {
        conn_fail(c, 400, "bad_request", "invalid Content-Length", true);
    } else if (!cl_present && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        /* Chunked request bodies are not supported; the unread chunks would be taken for
         * the next request, so the connection is closed after the answer. */
        conn_fail(c, 411, "length_required", "a request body needs Content-Length", true);
    } else if (cl > s->max_body) {
        char detail[96];
        snprintf(detail, sizeof detail, "request body larger than %zu bytes", s->max_body);
        /* Not reading the body means the connection cannot carry another request. */
        conn_fail(c, 413, "payload_too_large", detail, true);
    } else if (cl > 0) {
        c->body = malloc((size_t)cl + 1);
        if (!c->body) return -1;
        c->body_expected = (size_t)cl;
        c->state = CONN_BODY;
        return 0; /* the handler runs at LWS_CALLBACK_HTTP_BODY_COMPLETION */
    }

    if (c->rep.status) {
        /* Refused before the body: drop whatever body bytes still arrive. */
        c->state = cl > 0 ? CONN_DISCARD : CONN_REPLY;
        if (c->state == CONN_DISCARD) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    conn_dispatch(c);
    lws_callback_on_writable(wsi);
    return 0;
}

static int add_hdr(struct lws *wsi, const char *name_colon, const char *value,
                   unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name_colon,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* Add the handler's "Name: value\r\n" lines. Malformed lines are skipped with a warning. */
static int add_extra_headers(http_conn *c, unsigned char **p, unsigned char *end)
{
    const char *s = c->rep.extra_headers;
    size_t total = strnlen(s, sizeof c->rep.extra_headers);
    size_t i = 0;
    while (i < total) {
        const char *line = s + i;
        const char *eol = memchr(line, '\r', total - i);
        size_t len = eol ? (size_t)(eol - line) : total - i;
        i += len + (eol ? 2 : 0);
        if (eol && (eol + 1 >= s + total || eol[1] != '\n')) return 0; /* bare CR: stop */
        if (len == 0) continue;
        const char *colon = memchr(line, ':', len);
        if (!colon || colon == line || memchr(line, '\n', len)) {
            J_WARN("http", "skipping malformed extra header line");
            continue;
        }
        char name[128], value[1024];
        size_t nlen = (size_t)(colon - line);
        if (nlen + 2 > sizeof name) continue;
        memcpy(name, line, nlen);
        name[nlen] = ':';
        name[nlen + 1] = '\0';
        const char *v = colon + 1;
        while (v < line + len && *v == ' ') v++;
        size_t vlen = (size_t)(line + len - v);
        if (vlen >= sizeof value) continue;
        memcpy(value, v, vlen);
        value[vlen] = '\0';
        if (add_hdr(c->wsi, name, value, p, end)) return -1;
    }
    return 0;
}

static int write_headers(http_conn *c, struct lws *wsi)
{
    http_server *s = c->srv;
    http_reply *r = &c->rep;
    unsigned char buf[LWS_PRE + HTTP_HDR_BUF];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    bool no_body_allowed = r->status == 204 || r->status == 304;
    char num[32];

    if (lws_add_http_header_status(wsi, (unsigned int)r->status, &p, end)) return -1;
    if (!no_body_allowed) {
        if (r->body_len || r->content_type[0])
            if (add_hdr(wsi, "content-type:",
                        r->content_type[0] ? r->content_type : "application/octet-stream", &p,
                        end))
                return -1;
        snprintf(num, sizeof num, "%zu", r->body_len);
        /* Added by name, not lws_add_http_header_content_length, so a HEAD answer can
         * announce the GET length without lws expecting those bytes. */
        if (add_hdr(wsi, "content-length:", num, &p, end)) return -1;
    }
    if (add_hdr(wsi, "access-control-allow-origin:", s->cors_origin, &p, end) ||
        add_hdr(wsi, "access-control-expose-headers:", CORS_EXPOSE, &p, end))
        return -1;
    if (c->preflight &&
        (add_hdr(wsi, "access-control-allow-methods:", CORS_METHODS, &p, end) ||
         add_hdr(wsi, "access-control-allow-headers:", CORS_HEADERS, &p, end) ||
         add_hdr(wsi, "access-control-max-age:", "600", &p, end)))
        return -1;
    if (c->allow[0] && add_hdr(wsi, "allow:", c->allow, &p, end)) return -1;
    if (r->location[0] && add_hdr(wsi, "location:", r->location, &p, end)) return -1;
    if (add_extra_headers(c, &p, end)) return -1;
    if (c->close_after && add_hdr(wsi, "connection:", "close", &p, end)) return -1;
    if (lws_finalize_http_header(wsi, &p, end)) return -1;
    int n = (int)(p - start);
    if (lws_write(wsi, start, (size_t)n, LWS_WRITE_HTTP_HEADERS) != n) return -1;
    c->headers_sent = true;
    return 0;
}

static void log_request(const http_conn *c)
{
    char pbuf[HTTP_LOG_PATH_MAX];
    int st = c->rep.status;
    /* 429s are not logged one by one: a flood would flood the log (the limiter logs once). */
    j_log_level lvl = st >= 500 ? J_LOG_WARN : st >= 400 && st != 429 ? J_LOG_INFO : J_LOG_DEBUG;
    if (!j_log_enabled(lvl)) return;
    j_log(lvl, "http", "%s %s -> %d (%zu bytes) from %s", c->method,
          log_path(c->path, pbuf, sizeof pbuf), st, c->head_only ? 0 : c->rep.body_len,
          c->peer_ip);
}

/* Write the next piece of the reply; after the last one finish the transaction. */
static int on_writeable(http_conn *c, struct lws *wsi)
{
    if (c->state != CONN_REPLY && c->state != CONN_DISCARD) return 0;
    if (!c->headers_sent) {
        if (write_headers(c, wsi)) return -1;
        if (!c->head_only && c->sent < c->rep.body_len &&
            c->rep.status != 204 && c->rep.status != 304) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else {
        unsigned char buf[LWS_PRE + HTTP_CHUNK];
        size_t n = c->rep.body_len - c->sent;
        if (n > HTTP_CHUNK) n = HTTP_CHUNK;
        bool last = c->sent + n == c->rep.body_len;
        memcpy(buf + LWS_PRE, c->rep.body + c->sent, n);
        if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)n)
            return -1;
        c->sent += n;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    log_request(c);
    bool close_after = c->close_after;
    conn_clear(c);
    if (close_after) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---------------------------------------------------------------- WebSocket */

static const http_ws_endpoint *ws_endpoint_for(const http_server *s, struct lws *wsi)
{
    char path[256];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0) return NULL;
    for (size_t i = 0; i < s->n_ws_endpoints; i++)
        if (strcmp(s->ws_endpoints[i].path, path) == 0) return &s->ws_endpoints[i];
    return NULL;
}

static ws_conn *ws_find(http_server *s, http_ws_id id)
{
    return j_map_get(&s->ws_conns, &id, sizeof id);
}

static void ws_free(http_server *s, ws_conn *w)
{
    j_map_remove(&s->ws_conns, &w->id, sizeof w->id);
    for (ws_out *o = w->head, *next; o; o = next) {
        next = o->next;
        free(o);
    }
    free(w->rx);
    free(w);
}

static int ws_on_established(http_conn *c, struct lws *wsi)
{
    http_server *s = lws_context_user(lws_get_context(wsi));
    const http_ws_endpoint *ep = ws_endpoint_for(s, wsi);
    conn_clear(c);
    c->srv = s;
    if (!ep) return -1;
    ws_conn *w = calloc(1, sizeof *w);
    if (!w) return -1;
    w->id = ++s->next_ws_id;
    w->wsi = wsi;
    w->ep = ep;
    if (j_map_put(&s->ws_conns, &w->id, sizeof w->id, w) != J_OK) {
        free(w);
        return -1;
    }
    c->ws = w;
    char ip[64];
    client_ip(s, wsi, ip, sizeof ip);
    /* Idle WebSockets are the client's business (it pings); no lws timeout applies. */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    ep->on_open(ep->ctx, w->id, ip);
    return 0;
}

static int ws_on_receive(http_conn *c, struct lws *wsi, const void *in, size_t len)
{
    ws_conn *w = c->ws;
    if (!w || w->closing) return 0;
    size_t max = w->ep->max_message ? w->ep->max_message : WS_DEFAULT_MAX_MESSAGE;
    if (len > max - w->rx_len) {
        static const char reason[] = "message too large";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)reason,
                         sizeof reason - 1);
        return -1;
    }
    uint8_t *rx = realloc(w->rx, w->rx_len + len + 1);
    if (!rx) return -1;
    w->rx = rx;
    memcpy(w->rx + w->rx_len, in, len);
    w->rx_len += len;
    if (!lws_is_final_fragment(wsi)) return 0;
    w->rx[w->rx_len] = '\0';
    size_t n = w->rx_len;
    w->rx_len = 0;
    w->ep->on_message(w->ep->ctx, w->id, w->rx, n);
    return 0;
}

static int ws_on_writeable(http_conn *c, struct lws *wsi)
{
    ws_conn *w = c->ws;
    if (!w) return -1;
    ws_out *o = w->head;
    if (o) {
        if (lws_write(wsi, o->data + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len) return -1;
        w->head = o->next;
        if (!w->head) w->tail = NULL;
        w->queued -= o->len;
        free(o);
    }
    if (w->head) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (w->closing) {
        lws_close_reason(wsi, (enum lws_close_status)w->close_code,
                         (unsigned char *)w->close_reason, strlen(w->close_reason));
        return -1;
    }
    return 0;
}

static void ws_on_closed(http_conn *c)
{
    ws_conn *w = c->ws;
    if (!w) return;
    c->ws = NULL;
    http_server *s = c->srv;
    bool notify = !w->closing;
    const http_ws_endpoint *ep = w->ep;
    http_ws_id id = w->id;
    ws_free(s, w);
    if (notify) ep->on_close(ep->ctx, id);
}

int http_server_add_ws(http_server *s, const http_ws_endpoint *ep)
{
    if (s->n_ws_endpoints == WS_MAX_ENDPOINTS) return J_ELIMIT;
    s->ws_endpoints[s->n_ws_endpoints++] = *ep;
    return J_OK;
}

void http_ws_close(http_server *s, http_ws_id id, int code, const char *reason)
{
    ws_conn *w = ws_find(s, id);
    if (!w || w->closing) return;
    w->closing = true;
    w->close_code = code;
    snprintf(w->close_reason, sizeof w->close_reason, "%s", reason ? reason : "");
    lws_callback_on_writable(w->wsi);
}

int http_ws_send(http_server *s, http_ws_id id, const char *text, size_t len)
{
    ws_conn *w = ws_find(s, id);
    if (!w || w->closing) return J_ENOTFOUND;
    size_t max = w->ep->max_queued ? w->ep->max_queued : WS_DEFAULT_MAX_QUEUED;
    if (len > max - w->queued) {
        J_WARN("http", "WebSocket %llu does not read its messages: closing",
               (unsigned long long)id);
        http_ws_close(s, id, LWS_CLOSE_STATUS_POLICY_VIOLATION, "not reading");
        return J_ELIMIT;
    }
    ws_out *o = malloc(sizeof *o + LWS_PRE + len);
    if (!o) return J_ENOMEM;
    o->next = NULL;
    o->len = len;
    memcpy(o->data + LWS_PRE, text, len);
    if (w->tail)
        w->tail->next = o;
    else
        w->head = o;
    w->tail = o;
    w->queued += len;
    lws_callback_on_writable(w->wsi);
    return J_OK;
}

static void tick_fired(lws_sorted_usec_list_t *sul)
{
    http_server *s = lws_container_of(sul, http_server, tick);
    s->tick_fn(s->tick_ctx);
    lws_sul_schedule(s->ctx, 0, &s->tick, tick_fired, (lws_usec_t)s->tick_ms * LWS_US_PER_MS);
}

void http_server_set_tick(http_server *s, unsigned interval_ms, void (*fn)(void *ctx), void *ctx)
{
    s->tick_ms = interval_ms ? interval_ms : 1;
    s->tick_fn = fn;
    s->tick_ctx = ctx;
    lws_sul_schedule(s->ctx, 0, &s->tick, tick_fired, (lws_usec_t)s->tick_ms * LWS_US_PER_MS);
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len)
{
    http_conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        conn_opened(lws_context_user(lws_get_context(wsi)), wsi);
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        conn_destroyed(lws_context_user(lws_get_context(wsi)), wsi);
        return 0;

    case LWS_CALLBACK_HTTP: {
        if (!c) return -1;
        const conn_slot *slot = lws_get_opaque_user_data(wsi);
        if (slot && slot->refused) return -1;
        c->srv = lws_context_user(lws_get_context(wsi));
        return on_http(c, wsi);
    }

    case LWS_CALLBACK_HTTP_BODY:
        if (!c) return -1;
        if (c->state == CONN_BODY) {
            if (len > c->body_expected - c->body_len) {
                /* More than Content-Length announced: lws should never do this. */
                conn_fail(c, 400, "bad_request", "body longer than Content-Length", true);
                c->state = CONN_DISCARD;
                lws_callback_on_writable(wsi);
                return 0;
            }
            memcpy(c->body + c->body_len, in, len);
            c->body_len += len;
        }
        return 0; /* CONN_DISCARD: dropped */

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!c) return -1;
        if (c->state == CONN_BODY) {
            c->body[c->body_len] = '\0';
            conn_dispatch(c);
            lws_callback_on_writable(wsi);
        }
        return 0;

    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!c) return -1;
        return on_writeable(c, wsi);

    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: { /* before any per-session memory exists */
        http_server *s = lws_context_user(lws_get_context(wsi));
        char ip[64];
        client_ip(s, wsi, ip, sizeof ip);
        if (!in || strcmp(in, "websocket") != 0 || !ws_endpoint_for(s, wsi)) {
            J_INFO("http", "upgrade refused from %s: not a WebSocket endpoint", ip);
            return 1;
        }
        return s->admit && !s->admit(s->admit_ctx, ip) ? 1 : 0; /* the request rate counts */
    }

    case LWS_CALLBACK_ESTABLISHED:
        if (!c) return -1;
        return ws_on_established(c, wsi);

    case LWS_CALLBACK_RECEIVE:
        if (!c) return -1;
        return ws_on_receive(c, wsi, in, len);

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c) return -1;
        return ws_on_writeable(c, wsi);

    case LWS_CALLBACK_CLOSED:
        if (c) ws_on_closed(c);
        return 0;

    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        /* The per-session memory is freed by lws after these; release what it points to. */
        if (c) conn_clear(c);
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---------------------------------------------------------------- server */

static void lws_log_emit(int level, const char *line)
{
    char buf[512];
    size_t n = strnlen(line, sizeof buf - 1);
    memcpy(buf, line, n);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    buf[n] = '\0';
    j_log(level & LLL_ERR ? J_LOG_ERROR : J_LOG_WARN, "lws", "%s", buf);
}

static int parse_trusted_proxies(http_server *s, const char *list)
{
    for (const char *p = list ? list : ""; *p;) {
        size_t len = strcspn(p, ", ");
        if (len > 0) {
            if (s->n_trusted_proxies == HTTP_MAX_TRUSTED_PROXIES) {
                J_ERROR("http", "more than %d trusted proxies", HTTP_MAX_TRUSTED_PROXIES);
                return J_ELIMIT;
            }
            if (http_ip_canonical(p, len, s->trusted_proxies[s->n_trusted_proxies],
                                  sizeof s->trusted_proxies[0]) != J_OK) {
                J_ERROR("http", "trusted proxy '%.*s' is not an IP address", (int)len, p);
                return J_EINVAL;
            }
            s->n_trusted_proxies++;
        }
        p += len;
        p += strspn(p, ", ");
    }
    return J_OK;
}

http_server *http_server_new(const http_config *cfg, const http_route *routes, size_t n_routes)
{
    if (!cfg || (n_routes && !routes) || cfg->port < 0 || cfg->port > 65535) {
        J_ERROR("http", "invalid server configuration");
        return NULL;
    }
    for (size_t i = 0; i < n_routes; i++) {
        if (!routes[i].method || !routes[i].path_prefix || !routes[i].fn) {
            J_ERROR("http", "route %zu is incomplete", i);
            return NULL;
        }
    }
    http_server *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    if (n_routes) {
        s->routes = calloc(n_routes, sizeof *s->routes);
        if (!s->routes) goto oom;
        memcpy(s->routes, routes, n_routes * sizeof *routes);
    }
    s->n_routes = n_routes;
    s->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
    s->idle_timeout_s = cfg->idle_timeout_s > 0 ? cfg->idle_timeout_s : HTTP_DEFAULT_IDLE_S;
    s->admit = cfg->admit;
    s->admit_ctx = cfg->admit_ctx;
    s->max_conns_per_ip = cfg->max_conns_per_ip;
    if (parse_trusted_proxies(s, cfg->trusted_proxies) != J_OK) {
        free(s->routes);
        free(s);
        return NULL;
    }
    snprintf(s->cors_origin, sizeof s->cors_origin, "%s",
             cfg->cors_origin && cfg->cors_origin[0] ? cfg->cors_origin : "*");
    if (has_crlf(s->cors_origin)) {
        J_ERROR("http", "invalid CORS origin");
        free(s->routes);
        free(s);
        return NULL;
    }
    atomic_init(&s->stop, false);

    s->protocols[0] = (struct lws_protocols){
        .name = "http",
        .callback = http_callback,
        .per_session_data_size = sizeof(http_conn),
    };
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = s;
    info.protocols = s->protocols;
    info.max_http_header_data = HTTP_MAX_HEADER_DATA;
    info.server_string = "junction";
    /* lws applies the context's timeout to connections still sending their headers. */
    info.timeout_secs = (unsigned int)s->idle_timeout_s;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        J_ERROR("http", "lws context creation failed");
        free(s->routes);
        free(s);
        return NULL;
    }

    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    info.port = cfg->port;
    info.iface = cfg->listen_addr && cfg->listen_addr[0] ? cfg->listen_addr : NULL;
    info.vhost_name = "junction";
    info.protocols = s->protocols;
    info.keepalive_timeout = s->idle_timeout_s;
    info.timeout_secs = (unsigned int)s->idle_timeout_s;
    /* Deadline (not renewed by trickling bytes) for a request's headers: slow-loris guard. */
    info.timeout_secs_ah_idle = (unsigned int)s->idle_timeout_s;
    info.server_string = "junction";
    s->vh = lws_create_vhost(s->ctx, &info);
    if (!s->vh) {
        J_ERROR("http", "cannot listen on %s:%d (address in use or invalid)",
                info.iface ? info.iface : "*", cfg->port);
        lws_context_destroy(s->ctx);
        free(s->routes);
        free(s);
        return NULL;
    }
    s->port = lws_get_vhost_listen_port(s->vh);
    J_INFO("http", "listening on %s:%d", info.iface ? info.iface : "*", s->port);
    return s;

oom:
    J_ERROR("http", "out of memory creating the server");
    if (s) free(s->routes);
    free(s);
    return NULL;
}

int http_server_run(http_server *s)
{
    while (!atomic_load(&s->stop)) {
        if (lws_service(s->ctx, 0) < 0) {
            J_ERROR("http", "lws service loop failed");
            return J_EIO;
        }
    }
    return 0;
}

void http_server_stop(http_server *s)
{
    atomic_store(&s->stop, true);
    lws_cancel_service(s->ctx);
}

void http_server_free(http_server *s)
{
    if (!s) return;
    lws_context_destroy(s->ctx); /* closes connections: CLOSED_HTTP frees their state */
    j_map_clear(&s->ws_conns);
    for (size_t b = 0; b < s->conns_by_ip.n_buckets; b++) /* empty unless lws skipped one */
        for (j_map_entry *it = s->conns_by_ip.buckets[b]; it; it = it->next) free(it->value);
    j_map_clear(&s->conns_by_ip);
    free(s->routes);
    free(s);
}

int http_server_port(const http_server *s) { return s->port; }
