/* http_test.c - the HTTP server end to end: a server on 127.0.0.1 (port 0) in a thread, real
 * requests over blocking sockets with receive/send timeouts, so a misbehaving server fails a
 * test instead of hanging it. */
#include "signal/http.h"

#include "core/err.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

/* ---------------------------------------------------------------- test handlers */

static void hello_handler(void *ctx, const http_request *req, http_reply *rep)
{
    (void)ctx;
    char text[256];
    int n = snprintf(text, sizeof text, "hello %s %s q=%s", req->method, req->path, req->query);
    http_reply_text(rep, 200, "text/plain", text, (size_t)n);
}

static void api_handler(void *ctx, const http_request *req, http_reply *rep)
{
    json_t *o = json_object();
    json_object_set_new(o, "route", json_string((const char *)ctx));
    json_object_set_new(o, "path", json_string(req->path));
    http_reply_json(rep, 200, o);
}

/* POST /echo: the body back, with the request's content type and a Location/ETag/Link. */
static void echo_handler(void *ctx, const http_request *req, http_reply *rep)
{
    (void)ctx;
    http_reply_text(rep, 201, req->content_type, (const char *)req->body, req->body_len);
    snprintf(rep->location, sizeof rep->location, "/echo/%zu", req->body_len);
    assert_int_equal(http_reply_header(rep, "ETag", "\"abc\""), 0);
    assert_int_equal(http_reply_header(rep, "Link", "<stun:example.org>; rel=\"ice-server\""),
                     0);
    /* The body is NUL-terminated for text handlers. */
    assert_int_equal(req->body[req->body_len], 0);
}

static void auth_handler(void *ctx, const http_request *req, http_reply *rep)
{
    (void)ctx;
    if (strcmp(req->authorization, "Bearer secret") != 0) {
        http_reply_error(rep, 401, "unauthorized", "bad token");
        return;
    }
    char text[128];
    int n = snprintf(text, sizeof text, "ok %s", req->peer_ip);
    http_reply_text(rep, 200, "text/plain", text, (size_t)n);
}

static void delete_handler(void *ctx, const http_request *req, http_reply *rep)
{
    (void)ctx;
    (void)req;
    rep->status = 204;
}

static void broken_handler(void *ctx, const http_request *req, http_reply *rep)
{
    (void)ctx;
    (void)req;
    (void)rep; /* leaves status 0: the server must answer 500 */
}

static const http_route test_routes[] = {
    {"GET", "/hello", hello_handler, NULL},
    {"GET", "/api/", api_handler, "api"},
    {"GET", "/api/special", api_handler, "special"},
    {"POST", "/echo", echo_handler, NULL},
    {"POST", "/whip/", auth_handler, NULL},
    {"DELETE", "/whip/", delete_handler, NULL},
    {"GET", "/broken", broken_handler, NULL},
};

/* ---------------------------------------------------------------- server fixture */

typedef struct fixture {
    http_server *srv;
    pthread_t thread;
    int run_rc;
    int port;
} fixture;

static void *run_thread(void *arg)
{
    fixture *f = arg;
    f->run_rc = http_server_run(f->srv);
    return NULL;
}

static fixture *start_with(const http_config *cfg, const http_route *routes, size_t n)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->srv = http_server_new(cfg, routes, n);
    assert_non_null(f->srv);
    f->port = http_server_port(f->srv);
    assert_true(f->port > 0 && f->port < 65536);
    f->run_rc = -100;
    assert_int_equal(pthread_create(&f->thread, NULL, run_thread, f), 0);
    return f;
}

static fixture *start(const http_route *routes, size_t n, size_t max_body, int idle_s)
{
    http_config cfg = {.listen_addr = "127.0.0.1", .port = 0, .max_body = max_body,
                       .idle_timeout_s = idle_s, .cors_origin = NULL};
    return start_with(&cfg, routes, n);
}

static fixture *start_default(void)
{
    return start(test_routes, sizeof test_routes / sizeof test_routes[0], 1024, 5);
}

/* Stop must make run return; the join is the check (meson's timeout catches a hang). */
static void finish(fixture *f)
{
    http_server_stop(f->srv);
    assert_int_equal(pthread_join(f->thread, NULL), 0);
    assert_int_equal(f->run_rc, 0);
    http_server_free(f->srv);
    free(f);
}

/* ---------------------------------------------------------------- client side */

/* A connection to 127.0.0.1:port from source address `from` (NULL: the kernel's choice). */
static int client_connect_from(int port, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (from) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof src), 0);
    }
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static int client_connect(int port) { return client_connect_from(port, NULL); }

static void send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void send_str(int fd, const char *s) { send_all(fd, s, strlen(s)); }

typedef struct response {
    int status;
    char head[4096]; /* status line + headers, NUL-terminated */
    char body[16384];
    size_t body_len;
    bool closed; /* the server closed the connection after this response */
} response;

static const char *find_header(const response *r, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *line = strstr(r->head, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ') v++;
            const char *e = strstr(v, "\r\n");
            size_t len = e ? (size_t)(e - v) : strlen(v);
            if (len >= cap) len = cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return out;
        }
    }
    return NULL;
}

/* Read one response. Bodies are read by Content-Length (HEAD: none). */
static void read_response(int fd, response *r, bool head_request)
{
    memset(r, 0, sizeof *r);
    char buf[sizeof r->head + sizeof r->body];
    size_t have = 0;
    char *eoh = NULL;
    for (int guard = 0; !eoh && guard < 1000; guard++) {
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        assert_true(n > 0);
        have += (size_t)n;
        buf[have] = '\0';
        eoh = strstr(buf, "\r\n\r\n");
    }
    assert_non_null(eoh);
    size_t hlen = (size_t)(eoh - buf) + 2;
    assert_true(hlen < sizeof r->head);
    memcpy(r->head, buf, hlen);
    r->head[hlen] = '\0';
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);

    char cl[32];
    size_t want = 0;
    if (find_header(r, "content-length", cl, sizeof cl)) want = strtoul(cl, NULL, 10);
    else assert_true(r->status == 204 || r->status == 304);
    if (head_request) want = 0;
    assert_true(want < sizeof r->body);
    size_t got = have - (hlen + 2);
    memcpy(r->body, eoh + 4, got);
    for (int guard = 0; got < want && guard < 1000; guard++) {
        ssize_t n = recv(fd, r->body + got, sizeof r->body - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_int_equal(got, want);
    r->body_len = got;
    r->body[got] = '\0';
}

/* True when the server has closed (recv 0 or reset) within the socket's receive timeout. */
static bool server_closed(int fd)
{
    char c;
    for (int guard = 0; guard < 100000; guard++) {
        ssize_t n = recv(fd, &c, 1, 0);
        if (n == 0) return true;
        if (n < 0) return errno == ECONNRESET;
    }
    return false;
}

static void request(int port, const char *raw, response *r)
{
    int fd = client_connect(port);
    send_str(fd, raw);
    read_response(fd, r, strncmp(raw, "HEAD ", 5) == 0);
    close(fd);
}

static void assert_json_error(const response *r, int status, const char *error)
{
    char ct[64];
    assert_int_equal(r->status, status);
    assert_non_null(find_header(r, "content-type", ct, sizeof ct));
    assert_string_equal(ct, "application/json");
    json_error_t jerr;
    json_t *o = json_loadb(r->body, r->body_len, 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "error")), error);
    assert_true(json_is_string(json_object_get(o, "detail")));
    json_decref(o);
}

static void assert_cors(const response *r)
{
    char v[128];
    assert_non_null(find_header(r, "access-control-allow-origin", v, sizeof v));
    assert_string_equal(v, "*");
    assert_non_null(find_header(r, "access-control-expose-headers", v, sizeof v));
    assert_string_equal(v, "Location, ETag, Link, Accept-Patch");
}

/* ---------------------------------------------------------------- tests */

static void test_routing(void **state)
{
    (void)state;
    fixture *f = start_default();
    response r;
    char v[64];

    request(f->port, "GET /hello?a=1&b=2 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello GET /hello q=a=1&b=2");
    assert_string_equal(find_header(&r, "content-type", v, sizeof v), "text/plain");
    assert_string_equal(find_header(&r, "content-length", v, sizeof v), "26");
    assert_cors(&r);

    /* Longest prefix wins. */
    request(f->port, "GET /api/special/x HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"route\":\"special\""));
    request(f->port, "GET /api/other HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"route\":\"api\""));

    /* Percent-decoded path. */
    request(f->port, "GET /api/a%20b HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_non_null(strstr(r.body, "\"path\":\"/api/a b\""));

    /* Same prefix, several methods. */
    request(f->port, "DELETE /whip/s1/abc HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 204);
    assert_null(find_header(&r, "content-length", v, sizeof v));
    assert_cors(&r);
    finish(f);
}

static void test_not_found_and_method(void **state)
{
    (void)state;
    fixture *f = start_default();
    response r;
    char v[128];

    request(f->port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_json_error(&r, 404, "not_found");
    assert_cors(&r);
    assert_null(find_header(&r, "allow", v, sizeof v));

    request(f->port, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
    assert_json_error(&r, 405, "method_not_allowed");
    assert_string_equal(find_header(&r, "allow", v, sizeof v), "GET, HEAD, OPTIONS");

    request(f->port, "GET /whip/s1 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_json_error(&r, 405, "method_not_allowed");
    assert_string_equal(find_header(&r, "allow", v, sizeof v), "POST, DELETE, OPTIONS");

    /* A handler that answers nothing yields a 500, not a hang. */
    request(f->port, "GET /broken HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_json_error(&r, 500, "internal");
    finish(f);
}

static void test_head(void **state)
{
    (void)state;
    fixture *f = start_default();
    response r;
    char v[32];
    request(f->port, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(find_header(&r, "content-length", v, sizeof v), "19");
    assert_int_equal(r.body_len, 0);
    finish(f);
}

static void test_preflight(void **state)
{
    (void)state;
    fixture *f = start_default();
    response r;
    char v[128];
    request(f->port,
            "OPTIONS /whip/s1 HTTP/1.1\r\nHost: x\r\nOrigin: http://a.example\r\n"
            "Access-Control-Request-Method: POST\r\n\r\n",
            &r);
    assert_int_equal(r.status, 204);
    assert_cors(&r);
    assert_string_equal(find_header(&r, "access-control-allow-methods", v, sizeof v),
                        "GET, POST, DELETE, PATCH, OPTIONS");
    assert_string_equal(find_header(&r, "access-control-allow-headers", v, sizeof v),
                        "Authorization, Content-Type, If-Match");
    assert_non_null(find_header(&r, "allow", v, sizeof v));

    request(f->port, "OPTIONS /nope HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_json_error(&r, 404, "not_found");
    finish(f);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_body_in_chunks(void **state)
{
    (void)state;
    fixture *f = start_default();
    response r;
    char v[128];
    int fd = client_connect(f->port);
    /* Headers, then the body in three separate writes with pauses so the server sees
     * several body callbacks. */
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
                 "Content-Length: 29\r\n\r\n");
    sleep_ms(20);
    send_str(fd, "v=0\r\no=- 1 1 ");
    sleep_ms(20);
    send_str(fd, "IN IP4 0.0.");
    sleep_ms(20);
    send_str(fd, "0.0\r\n");
    read_response(fd, &r, false);
    assert_int_equal(r.status, 201);
    assert_int_equal(r.body_len, 29);
    assert_string_equal(r.body, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n");
    assert_string_equal(find_header(&r, "content-type", v, sizeof v), "application/sdp");
    assert_string_equal(find_header(&r, "location", v, sizeof v), "/echo/29");
    assert_string_equal(find_header(&r, "etag", v, sizeof v), "\"abc\"");
    assert_string_equal(find_header(&r, "link", v, sizeof v),
                        "<stun:example.org>; rel=\"ice-server\"");
    assert_cors(&r);

    /* Keep-alive: a second request on the same connection. */
    send_str(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(fd, &r, false);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello GET /hello q=");
    close(fd);
    finish(f);
}

static void test_auth_header(void **state)
{
    (void)state;
    fixture *f = start_default();
    response r;
    request(f->port, "POST /whip/s1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
    assert_json_error(&r, 401, "unauthorized");
    request(f->port,
            "POST /whip/s1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
            "Content-Length: 0\r\n\r\n",
            &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok 127.0.0.1");
    finish(f);
}

static void test_body_too_large(void **state)
{
    (void)state;
    fixture *f = start_default(); /* max_body 1024 */
    response r;
    int fd = client_connect(f->port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
                 "Content-Length: 100000\r\n\r\n");
    char junk[512];
    memset(junk, 'a', sizeof junk);
    send_all(fd, junk, sizeof junk);
    read_response(fd, &r, false);
    assert_json_error(&r, 413, "payload_too_large");
    assert_cors(&r);
    char v[16];
    assert_string_equal(find_header(&r, "connection", v, sizeof v), "close");
    assert_true(server_closed(fd));
    close(fd);

    /* Exactly max_body is accepted. */
    fd = client_connect(f->port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n");
    char body[1024];
    memset(body, 'b', sizeof body);
    send_all(fd, body, sizeof body);
    read_response(fd, &r, false);
    assert_int_equal(r.status, 201);
    assert_int_equal(r.body_len, 1024);
    char ct[64];
    assert_string_equal(find_header(&r, "content-type", ct, sizeof ct),
                        "application/octet-stream");
    close(fd);

    /* A broken Content-Length is refused. */
    request(f->port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n", &r);
    assert_true(r.status == 400);
    finish(f);
}

static void test_static_files(void **state)
{
    (void)state;
    static const http_route routes[] = {{"GET", "/", http_static_handler, NULL},
                                        {"GET", "/api/", api_handler, "api"}};
    fixture *f = start(routes, 2, 0, 0);
    response r;
    char v[64];

    request(f->port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(find_header(&r, "content-type", v, sizeof v), "text/html; charset=utf-8");
    assert_non_null(strstr(r.body, "<!doctype html>"));
    const http_static_file *idx = http_static_find("/index.html");
    assert_non_null(idx);
    assert_int_equal(r.body_len, idx->len);
    assert_memory_equal(r.body, idx->data, idx->len);

    request(f->port, "GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(find_header(&r, "content-type", v, sizeof v),
                        "text/javascript; charset=utf-8");
    assert_int_equal(r.body_len, http_static_find("/app.js")->len);

    request(f->port, "GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(find_header(&r, "content-type", v, sizeof v), "text/css; charset=utf-8");

    request(f->port, "GET /missing.js HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_json_error(&r, 404, "not_found");
    request(f->port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
    assert_int_equal(r.status, 405);
    assert_null(http_static_find("index.html"));
    assert_null(http_static_find("/../index.html"));
    finish(f);
}

/* Admits the first ctx-many requests, then refuses; checks the address it is given. */
static bool admit_first_n(void *ctx, const char *peer_ip)
{
    int *left = ctx;
    assert_string_equal(peer_ip, "127.0.0.1");
    return (*left)-- > 0;
}

static void test_admission_refused(void **state)
{
    (void)state;
    int left = 2;
    http_config cfg = {.listen_addr = "127.0.0.1", .max_body = 1024, .idle_timeout_s = 5,
                       .admit = admit_first_n, .admit_ctx = &left};
    fixture *f = start_with(&cfg, test_routes, sizeof test_routes / sizeof test_routes[0]);
    response r;
    request(f->port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    request(f->port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);

    /* Refused before routing: 429 JSON with Retry-After, the body is not waited for and
     * the connection closes. */
    int fd = client_connect(f->port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc");
    read_response(fd, &r, false);
    assert_json_error(&r, 429, "too_many_requests");
    assert_cors(&r);
    char v[16];
    assert_string_equal(find_header(&r, "retry-after", v, sizeof v), "1");
    assert_string_equal(find_header(&r, "connection", v, sizeof v), "close");
    assert_true(server_closed(fd));
    close(fd);
    request(f->port, "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_json_error(&r, 429, "too_many_requests");
    finish(f);
}

/* Behind a trusted proxy the client is the last X-Forwarded-For entry; from anyone else
 * the header means nothing. */
static void test_trusted_proxy(void **state)
{
    (void)state;
    static const char req_fmt[] = "POST /whip/s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
                                  "%sContent-Length: 0\r\n\r\n";
    static const struct {
        const char *header, *seen;
    } cases[] = {
        {"X-Forwarded-For: 203.0.113.9, 198.51.100.7\r\n", "ok 198.51.100.7"},
        {"X-Forwarded-For: ::ffff:198.51.100.8\r\n", "ok 198.51.100.8"},
        {"X-Forwarded-For: 198.51.100.7, not-an-ip\r\n", "ok 127.0.0.1"},
        {"", "ok 127.0.0.1"},
    };
    http_config cfg = {.listen_addr = "127.0.0.1", .max_body = 1024, .idle_timeout_s = 5,
                       .trusted_proxies = "192.0.2.1, 127.0.0.1", .max_conns_per_ip = 1};
    fixture *f = start_with(&cfg, test_routes, sizeof test_routes / sizeof test_routes[0]);
    http_config plain = {.listen_addr = "127.0.0.1", .max_body = 1024, .idle_timeout_s = 5};
    fixture *g = start_with(&plain, test_routes, sizeof test_routes / sizeof test_routes[0]);
    int held = client_connect(f->port); /* the proxy is exempt from max_conns_per_ip */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char raw[512];
        snprintf(raw, sizeof raw, req_fmt, cases[i].header);
        response r;
        request(f->port, raw, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, cases[i].seen);
        request(g->port, raw, &r);
        assert_string_equal(r.body, "ok 127.0.0.1");
    }
    close(held);
    finish(f);
    finish(g);
    http_config bad = {.listen_addr = "127.0.0.1", .trusted_proxies = "10.0.0.1, proxy.local"};
    assert_null(http_server_new(&bad, test_routes, 1));
}

/* Connections beyond max_conns_per_ip are closed unanswered; every way a connection ends
 * gives its slot back (a leaked count would lock the address out). */
static void test_connections_per_ip(void **state)
{
    (void)state;
    http_config cfg = {.listen_addr = "127.0.0.1", .max_body = 1024, .idle_timeout_s = 1,
                       .max_conns_per_ip = 3};
    fixture *f = start_with(&cfg, test_routes, sizeof test_routes / sizeof test_routes[0]);
    static const char hello[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    response r;
    for (int round = 0; round < 10; round++) {
        int fd[3];
        for (int i = 0; i < 3; i++) fd[i] = client_connect(f->port);
        sleep_ms(50); /* the server has accepted all three */
        int extra = client_connect(f->port);
        send_str(extra, hello);
        assert_true(server_closed(extra)); /* no answer: closed */
        close(extra);
        /* The three are served; then each ends differently. */
        for (int i = 0; i < 3; i++) {
            send_str(fd[i], hello);
            read_response(fd[i], &r, false);
            assert_int_equal(r.status, 200);
        }
        switch (round % 4) {
        case 0: /* the client closes */
            for (int i = 0; i < 3; i++) close(fd[i]);
            break;
        case 1: /* Connection: close */
            for (int i = 0; i < 3; i++) {
                send_str(fd[i], "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                read_response(fd[i], &r, false);
                assert_true(server_closed(fd[i]));
                close(fd[i]);
            }
            break;
        case 2: /* refused with 413 and closed by the server */
            for (int i = 0; i < 3; i++) {
                send_str(fd[i], "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n");
                read_response(fd[i], &r, false);
                assert_int_equal(r.status, 413);
                assert_true(server_closed(fd[i]));
                close(fd[i]);
            }
            break;
        default: /* idle until the server's timeout */
            for (int i = 0; i < 3; i++) {
                assert_true(server_closed(fd[i]));
                close(fd[i]);
            }
            break;
        }
        sleep_ms(50);
    }
    /* Another address is served while 127.0.0.1 is at its limit. */
    int fd[3];
    for (int i = 0; i < 3; i++) fd[i] = client_connect(f->port);
    sleep_ms(50);
    int other = client_connect_from(f->port, "127.0.0.2");
    send_str(other, hello);
    read_response(other, &r, false);
    assert_int_equal(r.status, 200);
    close(other);
    for (int i = 0; i < 3; i++) close(fd[i]);
    finish(f);
}

/* Slow-loris: a client that never finishes its headers, or its body, is dropped. */
static void test_slow_clients_timed_out(void **state)
{
    (void)state;
    fixture *f = start(test_routes, sizeof test_routes / sizeof test_routes[0], 1024, 1);

    int fd = client_connect(f->port);
    send_str(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n"); /* no blank line, ever */
    assert_true(server_closed(fd));
    close(fd);

    fd = client_connect(f->port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
    assert_true(server_closed(fd));
    close(fd);

    fd = client_connect(f->port); /* idle connection, nothing sent */
    assert_true(server_closed(fd));
    close(fd);
    finish(f);
}

static void test_port_in_use(void **state)
{
    (void)state;
    fixture *f = start_default();
    http_config cfg = {.listen_addr = "127.0.0.1", .port = f->port};
    assert_null(http_server_new(&cfg, test_routes, 1));
    finish(f);
}

/* Listening on all IPv4 addresses (or the default, all addresses) still serves loopback. */
static void test_listen_any(void **state)
{
    (void)state;
    static const char *const addrs[] = {"0.0.0.0", NULL};
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        http_config cfg = {.listen_addr = addrs[i]};
        fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->srv = http_server_new(&cfg, test_routes, 1);
        assert_non_null(f->srv);
        f->port = http_server_port(f->srv);
        assert_int_equal(pthread_create(&f->thread, NULL, run_thread, f), 0);
        response r;
        request(f->port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_int_equal(r.status, 200);
        finish(f);
    }
}

static void test_stop_before_run(void **state)
{
    (void)state;
    http_config cfg = {.listen_addr = "127.0.0.1"};
    http_server *s = http_server_new(&cfg, test_routes, 1);
    assert_non_null(s);
    http_server_stop(s);
    assert_int_equal(http_server_run(s), 0);
    http_server_free(s);
}

static void test_reply_helpers(void **state)
{
    (void)state;
    http_reply rep;
    memset(&rep, 0, sizeof rep);
    assert_int_equal(http_reply_header(&rep, "ETag", "\"1\""), 0);
    assert_int_equal(http_reply_header(&rep, "X-Bad", "a\r\nSet-Cookie: x"), J_EINVAL);
    assert_int_equal(http_reply_header(&rep, "Bad:Name", "v"), J_EINVAL);
    assert_int_equal(http_reply_header(&rep, "", "v"), J_EINVAL);
    assert_string_equal(rep.extra_headers, "ETag: \"1\"\r\n");
    char big[1100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(http_reply_header(&rep, "X-Big", big), J_ESHORTBUF);
    assert_string_equal(rep.extra_headers, "ETag: \"1\"\r\n");

    http_reply_error(&rep, 409, "conflict", NULL);
    assert_int_equal(rep.status, 409);
    assert_string_equal(rep.content_type, "application/json");
    assert_string_equal(rep.body, "{\"error\":\"conflict\",\"detail\":\"\"}");
    http_reply_json(&rep, 200, json_pack("{s:i}", "sessions", 3));
    assert_string_equal(rep.body, "{\"sessions\":3}");
    http_reply_json(&rep, 200, NULL);
    assert_int_equal(rep.status, 500);
    free(rep.body);
}

int main(void)
{
    j_log_set_level(J_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_helpers),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_preflight),
        cmocka_unit_test(test_body_in_chunks),
        cmocka_unit_test(test_auth_header),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_static_files),
        cmocka_unit_test(test_slow_clients_timed_out),
        cmocka_unit_test(test_admission_refused),
        cmocka_unit_test(test_connections_per_ip),
        cmocka_unit_test(test_trusted_proxy),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_listen_any),
        cmocka_unit_test(test_stop_before_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
