/* config.c - one table of settings drives the config file, the environment and the flags. */
#include "app/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/engine.h"
#include "core/err.h"
#include "sdp/sdp.h"

typedef enum { OPT_STR, OPT_INT, OPT_SIZE } opt_type;

typedef struct option_def {
    const char *name; /* "http.port" */
    opt_type type;
    size_t offset;
    size_t size; /* capacity of a string field */
    long min, max;
    const char *help;
} option_def;

#define STR_OPT(n, f, h) {n, OPT_STR, offsetof(config, f), sizeof(((config *)0)->f), 0, 0, h}
#define INT_OPT(n, f, lo, hi, h) {n, OPT_INT, offsetof(config, f), 0, lo, hi, h}
#define SIZE_OPT(n, f, lo, hi, h) {n, OPT_SIZE, offsetof(config, f), 0, lo, hi, h}

static const option_def options[] = {
    STR_OPT("http.listen", http_listen, "address the HTTP server (WHIP/WHEP, API, web app) binds"),
    INT_OPT("http.port", http_port, 0, 65535, "HTTP port (0 picks a free one)"),
    SIZE_OPT("http.max_body", http_max_body, 1024, 16 << 20, "largest request body in bytes (413 above)"),
    INT_OPT("http.idle_timeout", http_idle_timeout_s, 1, 3600, "seconds before an idle HTTP connection is closed"),
    STR_OPT("http.cors_origin", http_cors_origin, "Access-Control-Allow-Origin value"),
    STR_OPT("http.trusted_proxies", http_trusted_proxies,
            "comma-separated reverse proxy IPs whose X-Forwarded-For names the client (empty: none)"),
    STR_OPT("media.listen", media_listen, "address the UDP media socket binds"),
    INT_OPT("media.port", media_port, 0, 65535,
            "UDP port of the first media worker; worker i uses media.port + i (0: each picks a "
            "free one)"),
    STR_OPT("media.public_ips", media_public_ips,
            "comma-separated addresses advertised as ICE candidates (default: interface addresses)"),
    INT_OPT("workers", workers, 1, ENGINE_MAX_WORKERS,
            "media worker threads, each with its own event loop and UDP port media.port + i; "
            "the default is the number of online CPUs"),
    INT_OPT("workers.spread_threshold", workers_spread_threshold, 0, 1000000,
            "downtracks on a stream's or room's home worker before new subscribers go to the "
            "least-loaded worker"),
    STR_OPT("log.level", log_level, "error, warn, info, debug or trace"),
    STR_OPT("auth.publish_token", publish_token, "bearer token required to publish (empty: open)"),
    STR_OPT("auth.view_token", view_token, "bearer token required to view (empty: open)"),
    STR_OPT("auth.api_key", api_key, "API key (the iss of access tokens) accepted by the server"),
    STR_OPT("auth.api_secret", api_secret,
            "secret of auth.api_key, at least 32 bytes, that signs access tokens"),
    STR_OPT("dtls.cert", dtls_cert, "PEM certificate for DTLS (empty: generated at start-up)"),
    STR_OPT("dtls.key", dtls_key, "PEM private key for dtls.cert"),
    INT_OPT("ice.consent_timeout", consent_timeout_s, 5, 300,
            "seconds without a valid ICE check before a peer is dropped"),
    INT_OPT("publisher.max_bitrate", publisher_max_bitrate, 50000, 50000000,
            "bits/s a publisher is allowed to send (advertised by REMB)"),
    INT_OPT("subscriber.min_video_bitrate", subscriber_min_video_bitrate, 0, 50000000,
            "bits/s: a subscriber's video track whose share of the bandwidth estimate is "
            "below this pauses, audio flows (0: never)"),
    INT_OPT("limits.max_sessions", max_sessions, 1, 100000, "WHIP + WHEP sessions per server"),
    INT_OPT("limits.max_subscribers_per_track", max_subscribers_per_track, 1, 100000,
            "subscribers (WHEP viewers, room participants) per track"),
    INT_OPT("limits.max_sessions_per_ip", max_sessions_per_ip, 1, 100000,
            "sessions per client IP (IPv6: per /64; 429 beyond)"),
    INT_OPT("limits.max_half_open", max_half_open, 1, 100000,
            "sessions per server still connecting (DTLS not completed; 503 beyond)"),
    INT_OPT("limits.max_half_open_per_ip", max_half_open_per_ip, 1, 100000,
            "sessions per client IP still connecting (429 beyond)"),
    INT_OPT("limits.handshake_timeout", handshake_timeout_s, 2, 300,
            "seconds a new session has to complete ICE and DTLS before it is closed"),
    INT_OPT("limits.http_rate", http_rate, 1, 100000,
            "HTTP requests per second per client IP, on average (429 beyond)"),
    INT_OPT("limits.http_burst", http_burst, 1, 100000,
            "HTTP requests a client IP may send at once above limits.http_rate"),
    INT_OPT("limits.http_connections_per_ip", http_connections_per_ip, 1, 100000,
            "open HTTP connections per client IP (more are closed at once)"),
    INT_OPT("limits.max_sdp_media", max_sdp_media, 1, SDP_MAX_MEDIA, "m= sections in an SDP offer (400 beyond)"),
    INT_OPT("rooms.max_participants", rooms_max_participants, 1, 10000, "participants per room"),
    INT_OPT("rooms.max_tracks_per_participant", rooms_max_tracks_per_participant, 1, 64,
            "tracks one participant may publish"),
    INT_OPT("rooms.max_messages_per_second", rooms_max_messages_per_second, 1, 10000,
            "/rtc messages per second per connection (bursts of twice that)"),
    INT_OPT("rooms.empty_timeout", rooms_empty_timeout_s, 0, 86400,
            "seconds an empty room is kept before it is closed"),
    INT_OPT("rooms.resume_grace", rooms_resume_grace_s, 0, 3600,
            "seconds a participant whose WebSocket dropped may resume its session"),
    SIZE_OPT("rooms.max_message_size", rooms_max_message_size, 4096, 16 << 20,
             "largest /rtc message in bytes (the connection closes with 1009 above)"),
};
#define N_OPTIONS (sizeof options / sizeof options[0])

void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->http_listen, sizeof c->http_listen, "127.0.0.1");
    c->http_port = 8080;
    c->http_max_body = 128 * 1024;
    c->http_idle_timeout_s = 30;
    snprintf(c->http_cors_origin, sizeof c->http_cors_origin, "*");
    /* All interfaces: every browser finds a candidate it accepts (Firefox ignores loopback
     * ones), and the port only answers ICE-authenticated peers. HTTP stays on loopback. */
    snprintf(c->media_listen, sizeof c->media_listen, "0.0.0.0");
    c->media_port = 40000;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    c->workers = cpus < 1 ? 1 : cpus > ENGINE_MAX_WORKERS ? ENGINE_MAX_WORKERS : (int)cpus;
    c->workers_spread_threshold = 200;
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->consent_timeout_s = 30;
    c->publisher_max_bitrate = 2500000;
    c->subscriber_min_video_bitrate = 150000;
    c->max_sessions = 1000;
    c->max_subscribers_per_track = 1000;
    c->rooms_max_participants = 100;
    c->rooms_max_tracks_per_participant = 8;
    c->rooms_max_messages_per_second = 50;
    c->rooms_empty_timeout_s = 60;
    c->rooms_resume_grace_s = 20;
    c->rooms_max_message_size = 256 * 1024;
    c->max_sessions_per_ip = 100;
    c->max_half_open = 100;
    c->max_half_open_per_ip = 10;
    c->handshake_timeout_s = 15;
    c->http_rate = 20;
    c->http_burst = 40;
    c->http_connections_per_ip = 64;
    c->max_sdp_media = 8;
}

static const option_def *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

static int set_option(config *c, const option_def *o, const char *value, const char *origin,
                      char *err, size_t err_cap)
{
    char *field = (char *)c + o->offset;
    if (o->type == OPT_STR) {
        if (strlen(value) >= o->size) {
            snprintf(err, err_cap, "%s: value for %s is too long (max %zu)", origin, o->name,
                     o->size - 1);
            return J_EINVAL;
        }
        snprintf(field, o->size, "%s", value);
        return J_OK;
    }
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0' || v < o->min || v > o->max) {
        snprintf(err, err_cap, "%s: %s must be an integer from %ld to %ld, got '%s'", origin,
                 o->name, o->min, o->max, value);
        return J_EINVAL;
    }
    if (o->type == OPT_INT)
        *(int *)(void *)field = (int)v;
    else
        *(size_t *)(void *)field = (size_t)v;
    return J_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

static int load_file(config *c, const char *path, char *err, size_t err_cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_cap, "cannot open config file %s: %s", path, strerror(errno));
        return J_EIO;
    }
    char line[1024];
    int lineno = 0, rc = J_OK;
    while (rc == J_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char origin[300];
        snprintf(origin, sizeof origin, "%.256s:%d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, err_cap, "%s: line too long", origin);
            rc = J_EINVAL;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, err_cap, "%s: expected 'name = value'", origin);
            rc = J_EINVAL;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        const option_def *o = find_option(name, strlen(name));
        if (!o) {
            snprintf(err, err_cap, "%s: unknown setting '%s'", origin, name);
            rc = J_EINVAL;
            break;
        }
        rc = set_option(c, o, value, origin, err, err_cap);
    }
    fclose(f);
    return rc;
}

/* "http.max_body" -> "JUNCTION_HTTP_MAX_BODY" */
static void env_name(const char *name, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "JUNCTION_");
    for (const char *p = name; *p && n + 1 < cap; p++)
        out[n++] = (*p == '.') ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

/* "--http-max-body" or "--http.max_body" matches "http.max_body". */
static const option_def *find_flag(const char *flag)
{
    char norm[128];
    size_t n = 0;
    for (const char *p = flag; *p && n + 1 < sizeof norm; p++) norm[n++] = (*p == '-') ? '_' : *p;
    norm[n] = '\0';
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char cand[128];
        size_t k = 0;
        for (const char *p = options[i].name; *p && k + 1 < sizeof cand; p++)
            cand[k++] = (*p == '.' || *p == '-') ? '_' : *p;
        cand[k] = '\0';
        if (strcmp(cand, norm) == 0) return &options[i];
    }
    return NULL;
}

void config_usage(const char *prog)
{
    config d;
    config_defaults(&d);
    printf("Usage: %s [--config FILE] [--SETTING VALUE ...]\n"
           "       %s token --room ROOM --identity ID [--publish] [--subscribe] ...\n"
           "              mint an access token (%s token --help, docs/AUTH.md)\n"
           "       %s --help | --version\n\n"
           "Settings (file: name = value; environment: JUNCTION_NAME; flag: --name-with-dashes):\n",
           prog, prog, prog, prog);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option_def *o = &options[i];
        const char *field = (const char *)&d + o->offset;
        char def[300];
        if (o->type == OPT_STR)
            snprintf(def, sizeof def, "\"%s\"", field);
        else if (o->type == OPT_INT)
            snprintf(def, sizeof def, "%d", *(const int *)(const void *)field);
        else
            snprintf(def, sizeof def, "%zu", *(const size_t *)(const void *)field);
        printf("  %-28s %s (default %s)\n", o->name, o->help, def);
    }
    printf("  %-28s shorthand: sets auth.publish_token and auth.view_token\n", "token");
}

int config_api_keys(const config *c, auth_keys *keys, char *err, size_t err_cap)
{
    auth_keys_init(keys);
    if (!c->api_key[0] && !c->api_secret[0]) return J_OK;
    if (!c->api_key[0] || !c->api_secret[0]) {
        snprintf(err, err_cap, "auth.api_key and auth.api_secret must be set together");
        return J_EINVAL;
    }
    size_t secret_len = strlen(c->api_secret);
    if (secret_len < AUTH_SECRET_MIN) {
        snprintf(err, err_cap,
                 "auth.api_secret must be at least %d bytes (for example: openssl rand -hex 32)",
                 AUTH_SECRET_MIN);
        return J_EINVAL;
    }
    if (auth_keys_add(keys, c->api_key, (const uint8_t *)c->api_secret, secret_len) != J_OK) {
        snprintf(err, err_cap, "auth.api_key must be 1 to %d printable ASCII characters, no spaces",
                 AUTH_KEY_ID_MAX);
        return J_EINVAL;
    }
    return J_OK;
}

int config_load(config *c, int argc, char **argv, char *err, size_t err_cap)
{
    const char *file = getenv("JUNCTION_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_usage(argv[0]);
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("junction %s\n", JUNCTION_VERSION);
            return 1;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) file = argv[i + 1];
    }
    int rc;
    if (file && *file && (rc = load_file(c, file, err, err_cap)) != J_OK) return rc;

    for (size_t i = 0; i < N_OPTIONS; i++) {
        char name[128];
        env_name(options[i].name, name, sizeof name);
        const char *v = getenv(name);
        if (v && (rc = set_option(c, &options[i], v, name, err, err_cap)) != J_OK) return rc;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, err_cap, "unexpected argument '%s' (see --help)", a);
            return J_EINVAL;
        }
        if (i + 1 >= argc) {
            snprintf(err, err_cap, "flag %s needs a value (see --help)", a);
            return J_EINVAL;
        }
        const char *value = argv[++i];
        if (strcmp(a, "--config") == 0) continue;
        if (strcmp(a, "--token") == 0) {
            const option_def *p = find_option("auth.publish_token", 18);
            const option_def *v = find_option("auth.view_token", 15);
            if ((rc = set_option(c, p, value, a, err, err_cap)) != J_OK ||
                (rc = set_option(c, v, value, a, err, err_cap)) != J_OK)
                return rc;
            continue;
        }
        const option_def *o = find_flag(a + 2);
        if (!o) {
            snprintf(err, err_cap, "unknown flag %s (see --help)", a);
            return J_EINVAL;
        }
        if ((rc = set_option(c, o, value, a, err, err_cap)) != J_OK) return rc;
    }
    return J_OK;
}
