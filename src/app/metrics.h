/* metrics.h - the server's figures for Prometheus (GET /metrics, docs/MONITORING.md).
 *
 * A pure function: media_stats() JSON and a few process-level figures in, the text
 * exposition format 0.0.4 out. Only aggregate series (per worker, role, kind, limit,
 * reason): per-session and per-track detail stays in /api/stats, so the number of series
 * does not grow with the number of sessions.
 */
#ifndef J_APP_METRICS_H
#define J_APP_METRICS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What the media plane does not know. */
typedef struct metrics_app_figures {
    const char *version;        /* JUNCTION_VERSION */
    double start_time_s;        /* when the process started, Unix seconds */
    double uptime_s;            /* seconds since then, on the monotonic clock */
    uint64_t http_rate_limited; /* HTTP requests refused by limits.http_rate */
    const json_t *rooms;        /* room_list_json()'s {"rooms": [...]}; NULL: no rooms */
} metrics_app_figures;

/* metrics_render - the exposition of media_stats() output `stats` (its "session_list" is not
 * read) and `app`: "# HELP" and "# TYPE" before every family, each family's samples together,
 * label values escaped (backslash, double quote, newline). A figure missing from stats counts
 * as 0. Returns the text (malloc'd, NUL-terminated; *len without the NUL), or NULL when out of
 * memory. */
char *metrics_render(const json_t *stats, const metrics_app_figures *app, size_t *len);

#endif
