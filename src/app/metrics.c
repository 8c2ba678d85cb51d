/* metrics.c - media_stats() JSON -> the Prometheus text exposition format 0.0.4. */
#include "app/metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer/peer.h"
#include "sfu/track.h"

/* ---------------------------------------------------------------- growable text */

typedef struct text {
    char *p;
    size_t len, cap;
    bool oom; /* once set, every append is a no-op and the render fails */
} text;

static bool reserve(text *t, size_t more)
{
    if (t->oom) return false;
    if (t->len + more < t->cap) return true;
    size_t cap = t->cap ? t->cap : 4096;
    while (t->len + more >= cap) cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
        t->oom = true;
        return false;
    }
    t->p = p;
    t->cap = cap;
    return true;
}

static void put_bytes(text *t, const char *s, size_t n)
{
    if (!reserve(t, n)) return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void put(text *t, const char *s) { put_bytes(t, s, strlen(s)); }

static void __attribute__((format(printf, 2, 3))) putf(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(t, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static void put_label_value(text *t, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            put(t, "\\\\");
        else if (*v == '"')
            put(t, "\\\"");
        else if (*v == '\n')
            put(t, "\\n");
        else
            put_bytes(t, v, 1);
    }
}

/* ---------------------------------------------------------------- families and samples */

typedef struct label {
    const char *name, *value;
} label;

static void family(text *t, const char *name, const char *type, const char *help)
{
    putf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_labels(text *t, const char *name, const label *labels, size_t n)
{
    put(t, name);
    if (n == 0) return;
    put(t, "{");
    for (size_t i = 0; i < n; i++) {
        putf(t, "%s%s=\"", i ? "," : "", labels[i].name);
        put_label_value(t, labels[i].value);
        put(t, "\"");
    }
    put(t, "}");
}

static void sample_int(text *t, const char *name, const label *labels, size_t n, json_int_t v)
{
    sample_labels(t, name, labels, n);
    putf(t, " %" JSON_INTEGER_FORMAT "\n", v);
}

static void sample_real(text *t, const char *name, const label *labels, size_t n, double v)
{
    sample_labels(t, name, labels, n);
    putf(t, " %.3f\n", v);
}

static json_int_t int_at(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* ---------------------------------------------------------------- the catalogue */

/* A number of each worker's entry in media_stats' "workers" (in its sub-object `object`,
 * or the entry itself when NULL), labelled by worker. */
typedef struct worker_metric {
    const char *object, *key;
    const char *name, *type, *help;
} worker_metric;

static const worker_metric worker_metrics[] = {
    {NULL, "downtracks", "junction_downtracks", "gauge",
     "Subscribers' bound media sections (one per track a subscriber receives), connected or not."},
    {NULL, "tracks", "junction_worker_tracks", "gauge",
     "Tracks the worker holds, mirrors of other workers' tracks included."},
    {NULL, "mirrors", "junction_worker_mirrored_tracks", "gauge",
     "Mirrors of other workers' tracks the worker holds for its subscribers."},
    {"udp", "rx_datagrams", "junction_udp_received_datagrams_total", "counter",
     "Datagrams read from the worker's media socket."},
    {"udp", "rx_bytes", "junction_udp_received_bytes_total", "counter",
     "Bytes read from the worker's media socket."},
    {"udp", "tx_datagrams", "junction_udp_sent_datagrams_total", "counter",
     "Datagrams sent on the worker's media socket."},
    {"udp", "tx_bytes", "junction_udp_sent_bytes_total", "counter",
     "Bytes sent on the worker's media socket."},
    {"udp", "tx_errors", "junction_udp_send_errors_total", "counter",
     "Datagrams the worker's media socket could not send (full buffer, unreachable peer)."},
    {"relay", "packets_out", "junction_relay_sent_packets_total", "counter",
     "RTP packets of the worker's tracks handed to workers that mirror them."},
    {"relay", "packets_in", "junction_relay_received_packets_total", "counter",
     "RTP packets received from other workers for the worker's mirrors."},
    {"relay", "ring_full_drops", "junction_relay_dropped_packets_total", "counter",
     "RTP packets not handed to another worker because its ring was full."},
    {"relay", "unlinked", "junction_relay_unlinked_packets_total", "counter",
     "Relayed RTP packets received for a mirror that was gone (or unparsable)."},
    {"relay", "messages_out", "junction_relay_sent_messages_total", "counter",
     "Control messages sent to other workers (subscribe, source, mute, keyframe requests)."},
    {"relay", "wakeups", "junction_relay_wakeups_total", "counter",
     "Wake-ups of other workers after handing them packets or messages."},
};

/* A counter of media_stats' workers[].session_totals.<role>, labelled by worker and role:
 * the sessions' counters summed, ended sessions included. */
typedef struct session_metric {
    const char *key, *name, *help;
} session_metric;

static const session_metric session_metrics[] = {
    {"rtp_in", "junction_rtp_received_packets_total",
     "RTP packets received from sessions (that SRTP authenticated)."},
    {"rtp_in_bytes", "junction_rtp_received_bytes_total",
     "Bytes of RTP received from sessions (header and payload, once SRTP is removed)."},
    {"rtp_out", "junction_rtp_sent_packets_total", "RTP packets sent to sessions."},
    {"rtp_out_bytes", "junction_rtp_sent_bytes_total",
     "Bytes of RTP sent to sessions (as SRTP, authentication tag included)."},
    {"rtcp_in", "junction_rtcp_received_packets_total",
     "RTCP compound packets received from sessions."},
    {"rtcp_out", "junction_rtcp_sent_packets_total", "RTCP compound packets sent to sessions."},
    {"nack_in", "junction_nack_received_packets_total",
     "Packets subscribers asked to be resent (sequence numbers in their NACKs)."},
    {"nack_answered", "junction_retransmitted_packets_total",
     "Packets resent to subscribers from a retransmission buffer, as their NACKs asked."},
    {"nack_missed", "junction_nack_missed_packets_total",
     "NACKed packets not resent: no longer (or never) in a retransmission buffer."},
    {"nack_throttled", "junction_nack_throttled_packets_total",
     "NACKed packets not resent: over the subscriber's retransmission share."},
    {"nack_out", "junction_nack_sent_packets_total",
     "Packets Junction asked publishers to resend (sequence numbers in its NACKs)."},
    {"rtx_in", "junction_rtx_received_packets_total",
     "Retransmissions (RTX) received from publishers."},
    {"pli_in", "junction_pli_received_total", "Picture loss indications received."},
    {"fir_in", "junction_fir_received_total", "Full intra requests received."},
    {"pli_out", "junction_pli_sent_total", "Keyframe requests (PLI) sent to publishers."},
    {"packets_lost", "junction_packets_lost_total",
     "Packets lost: publishers' RTP missing on arrival, subscribers' losses as their receiver "
     "reports say."},
    {"srtp_errors", "junction_srtp_errors_total",
     "SRTP and SRTCP packets that failed to authenticate or decrypt (or to protect, when "
     "sending)."},
    {"srtp_replays", "junction_srtp_replays_total",
     "SRTP and SRTCP packets refused by the replay window."},
    {"ice_auth_failures", "junction_ice_auth_failures_total",
     "ICE checks for a session's username that failed MESSAGE-INTEGRITY."},
    {"unknown_ssrc", "junction_unknown_ssrc_packets_total",
     "RTP packets from publishers on an SSRC the session did not announce (not forwarded)."},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- sections */

static void render_process(text *t, const metrics_app_figures *app, const json_t *stats)
{
    family(t, "junction_build_info", "gauge", "Junction's version; always 1.");
    sample_int(t, "junction_build_info", (label[]){{"version", app->version}}, 1, 1);
    family(t, "process_start_time_seconds", "gauge",
           "When the process started, in seconds since the Unix epoch.");
    sample_real(t, "process_start_time_seconds", NULL, 0, app->start_time_s);
    family(t, "junction_uptime_seconds", "gauge", "Seconds since the process started.");
    sample_real(t, "junction_uptime_seconds", NULL, 0, app->uptime_s);
    family(t, "junction_workers", "gauge", "Media worker threads.");
    sample_int(t, "junction_workers", NULL, 0,
               (json_int_t)json_array_size(json_object_get(stats, "workers")));
    family(t, "junction_http_rate_limited_total", "counter",
           "HTTP requests refused with 429 by limits.http_rate.");
    sample_int(t, "junction_http_rate_limited_total", NULL, 0, (json_int_t)app->http_rate_limited);
}

static void render_rooms(text *t, const json_t *rooms)
{
    const json_t *list = json_object_get(rooms, "rooms");
    json_int_t participants = 0;
    size_t i;
    const json_t *r;
    json_array_foreach(list, i, r) participants += int_at(r, "participants");
    family(t, "junction_rooms", "gauge", "Conference rooms open.");
    sample_int(t, "junction_rooms", NULL, 0, (json_int_t)json_array_size(list));
    family(t, "junction_room_participants", "gauge",
           "Participants in all rooms, those within their resume grace included.");
    sample_int(t, "junction_room_participants", NULL, 0, participants);
}

/* Server-wide tracks (merged over workers) by kind: live (a publisher sends) or idle. */
static void render_tracks(text *t, const json_t *stats)
{
    json_int_t count[2][2] = {{0}}, muted[2] = {0}; /* [kind][live] */
    size_t i;
    const json_t *tr;
    json_array_foreach(json_object_get(stats, "tracks"), i, tr) {
        const char *kind = json_string_value(json_object_get(tr, "kind"));
        int k = kind && strcmp(kind, sfu_kind_name(SFU_VIDEO)) == 0 ? SFU_VIDEO : SFU_AUDIO;
        count[k][json_is_true(json_object_get(tr, "live"))]++;
        muted[k] += json_is_true(json_object_get(tr, "muted"));
    }
    family(t, "junction_tracks", "gauge",
           "Tracks (published sources, counted once however many workers mirror them) by kind "
           "and state: live while a publisher sends, idle while only subscribers wait.");
    for (int k = SFU_AUDIO; k <= SFU_VIDEO; k++)
        for (int live = 1; live >= 0; live--)
            sample_int(t, "junction_tracks",
                       (label[]){{"kind", sfu_kind_name((sfu_kind)k)},
                                 {"state", live ? "live" : "idle"}},
                       2, count[k][live]);
    family(t, "junction_muted_tracks", "gauge", "Tracks muted by their owner or an admin.");
    for (int k = SFU_AUDIO; k <= SFU_VIDEO; k++)
        sample_int(t, "junction_muted_tracks", (label[]){{"kind", sfu_kind_name((sfu_kind)k)}},
                   1, muted[k]);
}

/* One family with a sample per key of object (a fixed set of names), the key as its label. */
static void render_keyed(text *t, const json_t *object, const char *name, const char *type,
                         const char *label_name, const char *help)
{
    family(t, name, type, help);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)object, key, v)
        sample_int(t, name, (label[]){{label_name, key}}, 1, json_integer_value(v));
}

static void render_limits(text *t, const json_t *stats)
{
    const json_t *limits = json_object_get(stats, "limits");
    render_keyed(t, json_object_get(stats, "dropped"), "junction_dropped_datagrams_total",
                 "counter", "reason",
                 "Datagrams the workers dropped before any session took them, by reason.");
    render_keyed(t, json_object_get(limits, "sessions_refused"),
                 "junction_sessions_refused_total", "counter", "limit",
                 "Sessions refused by a limit, by the limit's name.");
    family(t, "junction_handshake_timeouts_total", "counter",
           "Sessions ended because ICE and DTLS did not complete within limits.handshake_timeout.");
    sample_int(t, "junction_handshake_timeouts_total", NULL, 0,
               int_at(limits, "handshake_timeouts"));
}

static void worker_label(char out[16], const json_t *w)
{
    snprintf(out, 16, "%" JSON_INTEGER_FORMAT, int_at(w, "worker"));
}

static void render_workers(text *t, const json_t *workers)
{
    static const peer_role roles[] = {PEER_PUBLISHER, PEER_SUBSCRIBER};
    size_t i;
    const json_t *w;
    char worker[16];

    family(t, "junction_sessions", "gauge",
           "WebRTC sessions (WHIP, WHEP and rooms' connections) by worker, role and state: new "
           "and connecting are half-open (ICE or DTLS not done), closed ones are being freed.");
    json_array_foreach(workers, i, w) {
        worker_label(worker, w);
        const json_t *by_state = json_object_get(w, "sessions_by_state");
        for (size_t r = 0; r < COUNT(roles); r++)
            for (int st = PEER_NEW; st <= PEER_CLOSED; st++) {
                const char *role = peer_role_name(roles[r]);
                const char *state = peer_state_name((peer_state)st);
                sample_int(t, "junction_sessions",
                           (label[]){{"worker", worker}, {"role", role}, {"state", state}}, 3,
                           int_at(json_object_get(by_state, role), state));
            }
    }
    for (size_t m = 0; m < COUNT(worker_metrics); m++) {
        const worker_metric *wm = &worker_metrics[m];
        family(t, wm->name, wm->type, wm->help);
        json_array_foreach(workers, i, w) {
            worker_label(worker, w);
            const json_t *from = wm->object ? json_object_get(w, wm->object) : w;
            sample_int(t, wm->name, (label[]){{"worker", worker}}, 1, int_at(from, wm->key));
        }
    }
    for (size_t m = 0; m < COUNT(session_metrics); m++) {
        const session_metric *sm = &session_metrics[m];
        family(t, sm->name, "counter", sm->help);
        json_array_foreach(workers, i, w) {
            worker_label(worker, w);
            const json_t *totals = json_object_get(w, "session_totals");
            for (size_t r = 0; r < COUNT(roles); r++) {
                const char *role = peer_role_name(roles[r]);
                sample_int(t, sm->name, (label[]){{"worker", worker}, {"role", role}}, 2,
                           int_at(json_object_get(totals, role), sm->key));
            }
        }
    }
}

char *metrics_render(const json_t *stats, const metrics_app_figures *app, size_t *len)
{
    text t = {0};
    render_process(&t, app, stats);
    if (app->rooms) render_rooms(&t, app->rooms);
    render_tracks(&t, stats);
    render_limits(&t, stats);
    render_workers(&t, json_object_get(stats, "workers"));
    if (t.oom || !t.p) {
        free(t.p);
        return NULL;
    }
    *len = t.len;
    return t.p;
}
