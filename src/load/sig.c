/* sig.c - junction-load's HTTP and WebSocket clients, on libwebsockets' client API.
 *
 * Everything runs on the main thread inside sig_service(). An HTTP exchange collects the
 * status, the Location header and the body, then calls its function once; a WebSocket
 * queues outgoing text messages and delivers whole incoming ones.
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "load/prog.h"

#define SIG_MAX_BODY (1 << 20)

struct sig {
    struct lws_context *ctx;
    struct lws_protocols protocols[3];
    lws_sorted_usec_list_t wake; /* bounds one sig_service() wait */
};

typedef struct http_req {
    sig_http_fn fn;
    void *ctx;
    char *bearer, *content_type, *body;
    size_t body_len;
    bool done;
    int status;
    char location[512];
    char *resp;
    size_t resp_len, resp_cap;
} http_req;

typedef struct ws_msg {
    struct ws_msg *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the text */
} ws_msg;

struct sig_ws {
    struct lws *wsi;
    sig_ws_handlers h;
    void *ctx;
    ws_msg *head, *tail;
    char *rx;
    size_t rx_len, rx_cap;
    bool closing, closed;
};

static bool append(char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
    if (*len + n + 1 > SIG_MAX_BODY) return false;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1) c *= 2;
        char *p = realloc(*buf, c);
        if (!p) return false;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

static void http_finish(http_req *r, const char *error)
{
    if (r->done) return;
    r->done = true;
    sig_http_result res = {.status = error ? 0 : r->status, .error = error,
                           .location = r->location, .body = r->resp ? r->resp : "",
                           .body_len = r->resp_len};
    r->fn(r->ctx, &res);
}

static void http_free(http_req *r)
{
    free(r->bearer);
    free(r->content_type);
    free(r->body);
    free(r->resp);
    free(r);
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    (void)user;
    http_req *r = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (r) {
            http_finish(r, in ? (const char *)in : "connection failed");
            lws_set_opaque_user_data(wsi, NULL);
            http_free(r);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (!r) return 0;
        unsigned char **p = (unsigned char **)in, *end = *p + len;
        if (r->bearer) {
            char auth[1100];
            int n = snprintf(auth, sizeof auth, "Bearer %s", r->bearer);
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                             (unsigned char *)auth, n, p, end))
                return -1;
        }
        if (r->body) {
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                             (unsigned char *)r->content_type,
                                             (int)strlen(r->content_type), p, end) ||
                lws_add_http_header_content_length(wsi, r->body_len, p, end))
                return -1;
            lws_client_http_body_pending(wsi, 1);
            lws_callback_on_writable(wsi);
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
        if (!r || !r->body) return 0;
        unsigned char *buf = malloc(LWS_PRE + r->body_len);
        if (!buf) return -1;
        memcpy(buf + LWS_PRE, r->body, r->body_len);
        int n = lws_write(wsi, buf + LWS_PRE, r->body_len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        lws_client_http_body_pending(wsi, 0);
        return n < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        if (!r) return 0;
        r->status = (int)lws_http_client_http_response(wsi);
        if (lws_hdr_copy(wsi, r->location, sizeof r->location, WSI_TOKEN_HTTP_LOCATION) < 0)
            r->location[0] = '\0';
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buf[LWS_PRE + 4096];
        char *px = buf + LWS_PRE;
        int n = (int)sizeof buf - LWS_PRE;
        return lws_http_client_read(wsi, &px, &n) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        if (r && !append(&r->resp, &r->resp_len, &r->resp_cap, in, len)) {
            http_finish(r, "response body too large");
            return -1;
        }
        return 0;
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        if (r) http_finish(r, NULL);
        return -1; /* one exchange per connection */
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        if (r) {
            /* A response without a body may end with the connection instead. */
            http_finish(r, r->status ? NULL : "connection closed");
            lws_set_opaque_user_data(wsi, NULL);
            http_free(r);
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- WebSocket -------------------------------------------------------------------------- */

static void ws_release(sig_ws *w)
{
    while (w->head) {
        ws_msg *m = w->head;
        w->head = m->next;
        free(m);
    }
    free(w->rx);
    free(w);
}

static void ws_closed(sig_ws *w, struct lws *wsi, const char *why)
{
    if (w->closed) return;
    w->closed = true;
    lws_set_opaque_user_data(wsi, NULL);
    if (w->h.on_close) w->h.on_close(w->ctx, w, why);
    ws_release(w);
}

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    sig_ws *w = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (w) ws_closed(w, wsi, in ? (const char *)in : "connection failed");
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (w && w->h.on_open) w->h.on_open(w->ctx, w);
        if (w && w->head) lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!w) return 0;
        if (!append(&w->rx, &w->rx_len, &w->rx_cap, in, len)) return -1;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            w->rx_len = 0;
            if (w->h.on_message) w->h.on_message(w->ctx, w, w->rx, strlen(w->rx));
        }
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!w) return 0;
        if (w->closing) return -1;
        ws_msg *m = w->head;
        if (!m) return 0;
        w->head = m->next;
        if (!w->head) w->tail = NULL;
        int n = lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
        free(m);
        if (n < 0) return -1;
        if (w->head) lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (w) ws_closed(w, wsi, "closed");
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- context ------------------------------------------------------------------------------ */

sig *sig_new(char *err, size_t err_cap)
{
    sig *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    s->protocols[0] = (struct lws_protocols){.name = "load-http", .callback = http_cb};
    s->protocols[1] = (struct lws_protocols){.name = "load-ws", .callback = ws_cb,
                                             .rx_buffer_size = 65536};
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s->protocols;
    /* Hundreds of sessions each hold a connection during setup. */
    info.fd_limit_per_thread = 4096;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        snprintf(err, err_cap, "cannot create the libwebsockets context");
        free(s);
        return NULL;
    }
    return s;
}

void sig_free(sig *s)
{
    if (!s) return;
    lws_sul_cancel(&s->wake);
    lws_context_destroy(s->ctx);
    free(s);
}

static void woken(lws_sorted_usec_list_t *sul) { (void)sul; }

void sig_service(sig *s, int timeout_ms)
{
    /* lws_service() sleeps until lws's own next event; a timer makes it return in time. */
    lws_sul_schedule(s->ctx, 0, &s->wake, woken, (lws_usec_t)timeout_ms * 1000);
    lws_service(s->ctx, 0);
}

/* Splits "scheme://host:port[/prefix]" into a connect_info. prefix + path -> full_path. */
static int fill_connect(struct lws_client_connect_info *ci, sig *s, const char *base_url,
                        const char *path, char *url_copy, size_t url_cap, char *full_path,
                        size_t path_cap)
{
    snprintf(url_copy, url_cap, "%s", base_url);
    const char *scheme, *host, *prefix;
    int port;
    if (lws_parse_uri(url_copy, &scheme, &host, &port, &prefix) != 0) return J_EINVAL;
    /* lws_parse_uri drops the leading '/' of the path. */
    int n = snprintf(full_path, path_cap, "/%s%s", prefix, path);
    if (n < 0 || (size_t)n >= path_cap) return J_EINVAL;
    if (strlen(full_path) > 1 && full_path[1] == '/') memmove(full_path, full_path + 1, strlen(full_path));
    memset(ci, 0, sizeof *ci);
    ci->context = s->ctx;
    ci->address = host;
    ci->port = port;
    ci->path = full_path;
    ci->host = host;
    ci->origin = host;
    return J_OK;
}

int sig_http(sig *s, const char *base_url, const char *method, const char *path,
             const char *bearer, const char *content_type, const char *body, sig_http_fn fn,
             void *ctx)
{
    http_req *r = calloc(1, sizeof *r);
    if (!r) return J_ENOMEM;
    r->fn = fn;
    r->ctx = ctx;
    if (bearer && bearer[0]) r->bearer = strdup(bearer);
    if (body) {
        r->body = strdup(body);
        r->body_len = strlen(body);
        r->content_type = strdup(content_type ? content_type : "application/octet-stream");
    }
    char url[512], full_path[1024];
    struct lws_client_connect_info ci;
    if (fill_connect(&ci, s, base_url, path, url, sizeof url, full_path, sizeof full_path) !=
        J_OK) {
        http_free(r);
        return J_EINVAL;
    }
    ci.method = method;
    ci.protocol = s->protocols[0].name;
    ci.local_protocol_name = s->protocols[0].name;
    ci.opaque_user_data = r;
    /* On failure lws has already called CONNECTION_ERROR, which finished and freed r. */
    return lws_client_connect_via_info(&ci) ? J_OK : J_EIO;
}

sig_ws *sig_ws_open(sig *s, const char *base_url, const char *path, const char *subprotocol,
                    const sig_ws_handlers *h, void *ctx)
{
    sig_ws *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->h = *h;
    w->ctx = ctx;
    char url[512], full_path[1024];
    struct lws_client_connect_info ci;
    if (fill_connect(&ci, s, base_url, path, url, sizeof url, full_path, sizeof full_path) !=
        J_OK) {
        free(w);
        return NULL;
    }
    ci.protocol = subprotocol;
    ci.local_protocol_name = s->protocols[1].name;
    ci.opaque_user_data = w;
    /* NULL: the connection failed at once; lws may already have reported it (and so freed
     * w through on_close), so the caller must treat both the same way. */
    struct lws *wsi = lws_client_connect_via_info(&ci);
    if (!wsi) return NULL;
    w->wsi = wsi;
    return w;
}

int sig_ws_send(sig_ws *w, const char *text)
{
    size_t n = strlen(text);
    ws_msg *m = malloc(sizeof *m + LWS_PRE + n);
    if (!m) return J_ENOMEM;
    m->next = NULL;
    m->len = n;
    memcpy(m->data + LWS_PRE, text, n);
    if (w->tail)
        w->tail->next = m;
    else
        w->head = m;
    w->tail = m;
    if (w->wsi) lws_callback_on_writable(w->wsi);
    return J_OK;
}

void sig_ws_close(sig_ws *w)
{
    w->closing = true;
    if (w->wsi) lws_callback_on_writable(w->wsi);
}
