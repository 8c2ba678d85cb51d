/* config.h - Junction's settings: defaults < config file < environment < flags.
 *
 * Every setting has one name used three ways: "http.port" in the file
 * (`http.port = 8080`), JUNCTION_HTTP_PORT in the environment, and --http-port
 * on the command line. docs/CONFIG.md lists them all; `junction --help` too.
 */
#ifndef J_APP_CONFIG_H
#define J_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

#define CONFIG_MAX_PUBLIC_IPS 4

typedef struct config {
    char http_listen[64];
    int http_port;
    size_t http_max_body;
    int http_idle_timeout_s;
    char http_cors_origin[128];
    char http_trusted_proxies[256]; /* comma-separated; their X-Forwarded-For names the client */
    char media_listen[64];
    int media_port;
    char media_public_ips[256]; /* comma-separated; empty = interface addresses */
    int workers;                /* media worker threads, each with its own port */
    int workers_spread_threshold; /* downtracks on a home worker before spreading */
    char log_level[16];
    char publish_token[128]; /* empty = publishing is open */
    char view_token[128];    /* empty = viewing is open */
    char api_key[AUTH_KEY_ID_MAX + 1];    /* access tokens (JWT) signed under this key... */
    char api_secret[AUTH_SECRET_MAX + 1]; /* ...with this secret; both empty = none */
    char dtls_cert[256];     /* PEM paths; empty = generate at start-up */
    char dtls_key[256];
    int consent_timeout_s;
    int publisher_max_bitrate; /* bits/s advertised to publishers (REMB) */
    int subscriber_min_video_bitrate; /* bits/s: a subscriber's video pauses below (0: never) */
    int max_sessions;
    int max_subscribers_per_track;
    int rooms_max_participants;
    int rooms_max_tracks_per_participant;
    int rooms_max_messages_per_second;
    int rooms_empty_timeout_s;
    int rooms_resume_grace_s;
    size_t rooms_max_message_size;
    int max_sessions_per_ip;
    int max_half_open;        /* sessions created whose DTLS handshake has not completed */
    int max_half_open_per_ip;
    int handshake_timeout_s;  /* a session not connected by then is closed */
    int http_rate;            /* HTTP requests per second per client IP (429 beyond) */
    int http_burst;
    int http_connections_per_ip; /* open TCP connections per client IP */
    int max_sdp_media;        /* m= sections in an offer */
} config;

/* config_defaults - fill c with the embedded defaults (localhost, no external services). */
void config_defaults(config *c);

/* config_load - apply, in order, a config file (--config PATH or JUNCTION_CONFIG),
 * JUNCTION_* environment variables and command-line flags. Writes a message to
 * err and returns a negative J_E* code on a bad file, value or flag. Returns 1
 * when --help or --version was handled (the caller exits 0). */
int config_load(config *c, int argc, char **argv, char *err, size_t err_cap);

/* config_api_keys - the key set of auth.api_key / auth.api_secret: empty when neither is
 * set. Returns J_EINVAL with a message in err when only one is set or either is invalid. */
int config_api_keys(const config *c, auth_keys *keys, char *err, size_t err_cap);

/* config_usage - print every setting with its default and description. */
void config_usage(const char *prog);

#endif
