/* main.c - junction: reads the configuration, starts the media workers and serves HTTP. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/config.h"
#include "app/rtc.h"
#include "app/token_cmd.h"
#include "app/media.h"
#include "app/whip.h"
#include "core/err.h"
#include "core/log.h"
#include "core/random.h"
#include "dtls/dtls.h"
#include "net/net.h"
#include "signal/http.h"
#include "srtp/srtp.h"

static http_server *running_server;

static void on_signal(int sig)
{
    (void)sig;
    if (running_server) http_server_stop(running_server);
}

/* Open development mode is only safe where nobody else can connect. */
static bool listens_on_loopback(const char *listen)
{
    if (strcmp(listen, "localhost") == 0) return true;
    j_addr addr;
    return j_addr_parse(&addr, listen, 0) == J_OK && j_addr_is_loopback(&addr);
}

/* Unix time minus the monotonic clock the engine runs on: RTCP carries wall-clock NTP times. */
static uint64_t wall_clock_offset_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t unix_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    return unix_us - j_now_us();
}

static int start(app *a, char *err, size_t err_cap)
{
    const config *c = &a->cfg;
    if (j_srtp_global_init() != J_OK) {
        snprintf(err, err_cap, "cannot initialise libsrtp2");
        return J_ECRYPTO;
    }
    int rc = c->dtls_cert[0] ? dtls_cert_load(&a->cert, c->dtls_cert, c->dtls_key)
                             : dtls_cert_generate(&a->cert);
    if (rc != J_OK) {
        snprintf(err, err_cap, "cannot %s the DTLS certificate%s%s: %s",
                 c->dtls_cert[0] ? "load" : "generate", c->dtls_cert[0] ? " " : "",
                 c->dtls_cert, j_strerror(rc));
        return rc;
    }
    a->dtls = dtls_ctx_new(a->cert);
    if (!a->dtls) {
        snprintf(err, err_cap, "cannot create the DTLS context");
        return J_ECRYPTO;
    }
    j_addr media;
    if (j_addr_parse(&media, c->media_listen, (uint16_t)c->media_port) != J_OK) {
        snprintf(err, err_cap, "media.listen '%s' is not an IP address", c->media_listen);
        return J_EINVAL;
    }
    media_config mc = {
        .workers = c->workers,
        .spread_threshold = (size_t)c->workers_spread_threshold,
        .engine = {
            .dtls = a->dtls,
            .consent_timeout_us = (uint64_t)c->consent_timeout_s * 1000000u,
            .publisher_max_bitrate = (uint32_t)c->publisher_max_bitrate,
            .min_video_bitrate = (uint64_t)c->subscriber_min_video_bitrate,
            .wall_clock_offset_us = wall_clock_offset_us(),
            .max_sessions = c->max_sessions,
            .max_subscribers_per_track = c->max_subscribers_per_track,
            .limits = {.max_sessions_per_client = c->max_sessions_per_ip,
                       .max_half_open = c->max_half_open,
                       .max_half_open_per_client = c->max_half_open_per_ip},
            .handshake_timeout_us = (uint64_t)c->handshake_timeout_s * 1000000u,
        },
        .listen = media,
    };
    a->http_rate = rate_limiter_new((uint32_t)c->http_rate, (uint32_t)c->http_burst,
                                    APP_RATE_CLIENTS, j_random_u32());
    if (!a->http_rate) {
        snprintf(err, err_cap, "out of memory");
        return J_ENOMEM;
    }
    a->media = media_start(&mc, err, err_cap);
    if (!a->media) return J_EIO;
    j_addr_set_port(&media, media_port(a->media, 0));
    return app_set_candidates(a, &media, c->media_public_ips, err, err_cap);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "token") == 0) return token_cmd_main(argc - 1, argv + 1);
    static app a;
    struct timespec started;
    clock_gettime(CLOCK_REALTIME, &started);
    a.started_unix_s = (double)started.tv_sec + (double)started.tv_nsec / 1e9;
    a.started_us = j_now_us();
    char err[512] = "";
    config_defaults(&a.cfg);
    int rc = config_load(&a.cfg, argc, argv, err, sizeof err);
    if (rc == 1) return 0;
    if (rc == J_OK) rc = config_api_keys(&a.cfg, &a.keys, err, sizeof err);
    if (rc != J_OK) {
        fprintf(stderr, "junction: %s\n", err);
        return 2;
    }
    if (a.keys.count == 0 && !listens_on_loopback(a.cfg.http_listen)) {
        fprintf(stderr,
                "junction: without API keys Junction runs in open development mode, which only "
                "listens on loopback; http.listen is '%s'. Set auth.api_key and auth.api_secret "
                "(see docs/AUTH.md) to serve other hosts.\n",
                a.cfg.http_listen);
        return 2;
    }
    int level = j_log_parse_level(a.cfg.log_level);
    if (level < 0) {
        fprintf(stderr, "junction: log.level must be error, warn, info, debug or trace\n");
        return 2;
    }
    j_log_set_level((j_log_level)level);

    if (start(&a, err, sizeof err) != J_OK) {
        J_ERROR("main", "%s", err);
        app_shutdown(&a);
        return 1;
    }
    rtc *rooms = rtc_new(&a);
    if (!rooms) {
        app_shutdown(&a);
        return 1;
    }
    a.rooms = rooms;
    http_route routes[APP_MAX_ROUTES];
    size_t n_routes = app_routes(&a, routes, APP_MAX_ROUTES);
    n_routes = rtc_routes(rooms, routes, n_routes, APP_MAX_ROUTES);
    http_config hc = {
        .listen_addr = a.cfg.http_listen,
        .port = a.cfg.http_port,
        .max_body = a.cfg.http_max_body,
        .idle_timeout_s = a.cfg.http_idle_timeout_s,
        .cors_origin = a.cfg.http_cors_origin,
        .admit = app_http_admit,
        .admit_ctx = &a,
        .max_conns_per_ip = a.cfg.http_connections_per_ip,
        .trusted_proxies = a.cfg.http_trusted_proxies,
    };
    running_server = http_server_new(&hc, routes, n_routes);
    if (!running_server || rtc_attach(rooms, running_server) != J_OK) {
        J_ERROR("main", "cannot start the HTTP server on %s:%d", hc.listen_addr, hc.port);
        http_server_free(running_server);
        rtc_free(rooms);
        app_shutdown(&a);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char cand[J_ADDR_STRLEN], ports[256] = "";
    int workers = media_workers(a.media);
    for (int w = 0, n = 0; w < workers && n < (int)sizeof ports - 8; w++)
        n += snprintf(ports + n, sizeof ports - (size_t)n, "%s%u", w ? "," : "",
                      media_port(a.media, w));
    J_INFO("main", "junction %s: web app and WHIP/WHEP on http://%s:%d/, media on UDP %s, "
                   "%d worker%s on port%s %s",
           JUNCTION_VERSION, a.cfg.http_listen, http_server_port(running_server),
           j_addr_str(&a.candidates[0], cand), workers, workers > 1 ? "s" : "",
           workers > 1 ? "s" : "", ports);
    if (a.keys.count > 0)
        J_INFO("main", "rooms and WHIP/WHEP accept access tokens signed under API key %s",
               a.keys.keys[0].id);
    else
        J_WARN("main", "open development mode (no auth.api_key): anyone who reaches this "
                       "loopback address may join any room as anyone; rooms at /room/{name}");
    if (a.keys.count == 0 && (!a.cfg.publish_token[0] || !a.cfg.view_token[0]))
        J_INFO("main", "open mode: %s%s%s need no token (set auth.publish_token / "
                       "auth.view_token to require one)",
               a.cfg.publish_token[0] ? "" : "publishing", (!a.cfg.publish_token[0] && !a.cfg.view_token[0]) ? " and " : "",
               a.cfg.view_token[0] ? "" : "viewing");
    rc = http_server_run(running_server);
    J_INFO("main", "shutting down");
    http_server_free(running_server);
    running_server = NULL;
    a.rooms = NULL;
    rtc_free(rooms);
    app_shutdown(&a);
    return rc == J_OK ? 0 : 1;
}
