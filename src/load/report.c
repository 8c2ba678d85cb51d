/* report.c - junction-load's results: the JSON summary (stdout) and a table (stderr), and the
 * server process's CPU time and memory from /proc. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "load/prog.h"

proc_sample proc_sample_take(int pid)
{
    proc_sample p = {0};
    if (pid <= 0) return p;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return p;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (which may hold spaces and parentheses): state is the
     * 3rd field, utime the 14th and stime the 15th (proc(5)). */
    const char *rest = strrchr(buf, ')');
    unsigned long long utime, stime;
    if (!rest || sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                        &stime) != 2)
        return p;
    long hz = sysconf(_SC_CLK_TCK);
    p.cpu_us = (utime + stime) * 1000000ull / (unsigned long long)(hz > 0 ? hz : 100);
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f) return p;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) p.rss_kb = kb;
    }
    fclose(f);
    p.ok = true;
    return p;
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0; }

static json_t *latency_json(const j_hist *h, const char *unit)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", unit, (json_int_t)h->count, "p50",
                     (json_int_t)j_hist_percentile(h, 0.50), "p90",
                     (json_int_t)j_hist_percentile(h, 0.90), "p99",
                     (json_int_t)j_hist_percentile(h, 0.99), "max", (json_int_t)h->max);
}

/* The histogram `name` of a worker's "latency_us" (/api/stats) as buckets, added into h
 * with the given sign: end - start is the measurement window's. */
static void hist_add_json(j_hist *h, const json_t *worker, const char *name, int sign)
{
    const json_t *buckets =
        json_object_get(json_object_get(json_object_get(worker, "latency_us"), name), "buckets");
    size_t i;
    const json_t *b;
    json_array_foreach(buckets, i, b) {
        json_int_t low = json_integer_value(json_array_get(b, 0));
        json_int_t count = json_integer_value(json_array_get(b, 1));
        if (low < 0 || count <= 0) continue;
        j_hist one = {0};
        j_hist_add_n(&one, (uint64_t)low, (uint64_t)count);
        for (unsigned k = 0; k < J_HIST_BUCKETS; k++)
            h->buckets[k] += sign > 0 ? one.buckets[k] : -one.buckets[k];
    }
}

enum { RX_WAIT, RESIDENCE, RELAY_WAIT, TICK, CALL, SERVER_HISTS };
static const char *const server_hists[SERVER_HISTS] = {"rx_wait", "residence", "relay_wait",
                                                       "tick", "call"};

#define REPORT_MAX_WORKERS 16 /* media workers reported; any beyond are left out */

/* Each media worker's histograms over the window (from two /api/stats readings). */
typedef struct server_window {
    int workers;
    j_hist h[REPORT_MAX_WORKERS][SERVER_HISTS]; /* [worker][server_hists] */
} server_window;

static void server_window_take(server_window *w, const json_t *start, const json_t *end)
{
    memset(w, 0, sizeof *w);
    const json_t *ws_end = json_object_get(end, "workers"), *ws_start =
                                                            json_object_get(start, "workers");
    for (size_t i = 0; i < json_array_size(ws_end) && i < REPORT_MAX_WORKERS; i++, w->workers++) {
        for (size_t k = 0; k < SERVER_HISTS; k++) {
            j_hist *h = &w->h[i][k];
            hist_add_json(h, json_array_get(ws_end, i), server_hists[k], 1);
            hist_add_json(h, json_array_get(ws_start, i), server_hists[k], -1);
            for (unsigned b = 0; b < J_HIST_BUCKETS; b++) {
                if (!h->buckets[b]) continue;
                h->count += h->buckets[b];
                h->max = j_hist_bucket_low(b); /* a bucket's lowest value: its max is lost */
            }
        }
    }
}

double report_print(const load_result *r)
{
    const load_config *c = r->cfg;
    const run_snapshot *a = &r->start, *b = &r->end, *z = &r->final;
    double window = (double)(b->now_us - a->now_us) / 1e6;
    uint64_t rx_packets = b->rx_packets - a->rx_packets;
    uint64_t tx_packets = b->tx_packets - a->tx_packets;
    double delivery = ratio((double)z->rx_packets, (double)z->rx_should);
    double loss = ratio((double)z->rx_lost, (double)z->rx_expected_by_seq);
    static const char *const modes[] = {"whip", "rtc", "janus"};

    json_t *server = json_object();
    double server_us_per_packet = 0;
    if (r->server_start.ok && r->server_end.ok) {
        uint64_t cpu = r->server_end.cpu_us - r->server_start.cpu_us;
        server_us_per_packet = ratio((double)cpu, (double)rx_packets);
        json_object_set_new(server, "pid", json_integer(c->server_pid));
        json_object_set_new(server, "cpu_percent", json_real(ratio((double)cpu, window * 1e4)));
        json_object_set_new(server, "cpu_us_per_forwarded_packet", json_real(server_us_per_packet));
        json_object_set_new(server, "rss_kb_before", json_integer((json_int_t)r->server_base.rss_kb));
        json_object_set_new(server, "rss_kb", json_integer((json_int_t)r->server_end.rss_kb));
        double per_sub = ratio((double)r->server_end.rss_kb - (double)r->server_base.rss_kb,
                               r->subscribers);
        json_object_set_new(server, "rss_kb_per_subscriber", json_real(per_sub));
    }
    uint64_t client_cpu = r->client_cpu_end_us - r->client_cpu_start_us;
    uint64_t thread_cpu = b->thread_cpu_us - a->thread_cpu_us;
    json_t *root = json_pack(
        "{s:s, s:s, s:s, s:{s:i, s:i, s:i}, s:{s:i, s:i, s:i, s:i, s:f}, s:f}", "tool",
        "junction-load", "mode", modes[c->mode], "label", c->label, "scenario", "rooms", c->rooms,
        "publishers_per_room", c->publishers, "subscribers_per_publisher", c->subscribers,
        "sessions", "publishers", r->publishers, "subscribers", r->subscribers,
        "publishers_connected", r->pub_connected, "subscribers_connected", r->sub_connected,
        "setup_s", r->setup_s, "window_s", window);
    if (r->failed)
        json_object_set_new(root, "failures",
                            json_pack("{s:i, s:s}", "count", r->failed, "first",
                                      r->first_failure ? r->first_failure : ""));
    /* Publishers that fall behind the media's pace (the client starved of CPU) send less,
     * and their subscribers then lose nothing of it: "pace" tells such a run apart. */
    double tx_frames = (double)(b->tx_frames - a->tx_frames);
    double pace = ratio(tx_frames, r->frames_per_publisher_s * window * r->publishers);
    json_object_set_new(root, "sent",
        json_pack("{s:I, s:I, s:f, s:f}", "packets", (json_int_t)tx_packets, "frames",
                  (json_int_t)tx_frames, "kbps_per_publisher",
                  ratio((double)(b->tx_bytes - a->tx_bytes) * 8 / 1000, window * r->publishers),
                  "pace", pace));
    json_object_set_new(root, "received",
        json_pack("{s:I, s:f, s:f, s:I}", "packets", (json_int_t)rx_packets, "packets_per_s",
                  ratio((double)rx_packets, window), "kbps_per_subscriber",
                  ratio((double)(b->rx_bytes - a->rx_bytes) * 8 / 1000, window * r->subscribers),
                  "rtcp", (json_int_t)(z->rx_rtcp)));
    json_object_set_new(root, "loss",
        json_pack("{s:I, s:I, s:f, s:f, s:f, s:I, s:I}", "expected",
                  (json_int_t)z->rx_expected_by_seq, "lost", (json_int_t)z->rx_lost, "ratio", loss,
                  "worst_subscriber_ratio", z->worst_loss, "delivery_ratio", delivery,
                  "client_socket_drops", (json_int_t)z->socket_drops, "srtp_errors",
                  (json_int_t)z->srtp_errors));
    /* Per packet: from the publisher's send to the subscriber socket's receive timestamp,
     * the forwarding latency the server adds (plus two loopback hops). Per frame: until its
     * last packet arrived, after the publisher sent that last packet. */
    json_object_set_new(root, "packet_latency_us", latency_json(&b->latency_packets, "packets"));
    json_object_set_new(root, "latency_us",
        json_pack("{s:o, s:o}", "video", latency_json(&b->latency_video, "frames"), "audio",
                  latency_json(&b->latency_audio, "frames")));
    json_object_set_new(root, "pacing", json_real(c->pacing));
    static server_window sw; /* ~0.4 MB: not on the stack */
    server_window_take(&sw, r->server_stats_start, r->server_stats_end);
    if (r->server_stats_start && r->server_stats_end) {
        /* Where packets waited inside each media worker, over the window. */
        json_t *workers = json_array();
        for (int i = 0; i < sw.workers; i++) {
            json_t *o = json_pack("{s:i}", "worker", i);
            for (size_t k = 0; k < SERVER_HISTS; k++)
                json_object_set_new(o, server_hists[k], latency_json(&sw.h[i][k], "count"));
            json_array_append_new(workers, o);
        }
        json_object_set_new(server, "latency_us", workers);
    }
    json_object_set_new(root, "server", server);
    json_object_set_new(root, "client",
        json_pack("{s:f, s:f, s:f, s:I, s:I}", "cpu_percent",
                  ratio((double)client_cpu, window * 1e4), "cpu_us_per_received_packet",
                  ratio((double)client_cpu, (double)rx_packets), "media_thread_us_per_packet",
                  ratio((double)thread_cpu, (double)(rx_packets + tx_packets)), "send_errors",
                  (json_int_t)z->send_errors, "stun_errors", (json_int_t)z->stun_errors));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    if (text) printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(root);

    fprintf(stderr,
            "junction-load %s: %d room(s) x %d publisher(s) x %d subscriber(s), %.1f s window\n"
            "  connected          %d/%d publishers, %d/%d subscribers%s%s\n"
            "  sent               %.0f kbit/s per publisher, %.1f%% of the media's pace\n"
            "  received           %.0f kbit/s per subscriber, %.0f packets/s in total\n"
            "  loss               %.3f%% (worst subscriber %.3f%%), delivery %.2f%%\n"
            "  packet latency     p50 %.2f ms, p99 %.2f ms (send -> receive, every packet)\n"
            "  video frames       p50 %.2f ms, p99 %.2f ms (last packet's send -> receive)\n"
            "  audio frames       p50 %.2f ms, p99 %.2f ms\n",
            modes[c->mode], c->rooms, c->publishers, c->subscribers, window, r->pub_connected,
            r->publishers, r->sub_connected, r->subscribers, r->failed ? "; first failure: " : "",
            r->failed && r->first_failure ? r->first_failure : "",
            ratio((double)(b->tx_bytes - a->tx_bytes) * 8 / 1000, window * r->publishers),
            pace * 100, ratio((double)(b->rx_bytes - a->rx_bytes) * 8 / 1000, window * r->subscribers),
            ratio((double)rx_packets, window), loss * 100, z->worst_loss * 100, delivery * 100,
            (double)j_hist_percentile(&b->latency_packets, 0.5) / 1000,
            (double)j_hist_percentile(&b->latency_packets, 0.99) / 1000,
            (double)j_hist_percentile(&b->latency_video, 0.5) / 1000,
            (double)j_hist_percentile(&b->latency_video, 0.99) / 1000,
            (double)j_hist_percentile(&b->latency_audio, 0.5) / 1000,
            (double)j_hist_percentile(&b->latency_audio, 0.99) / 1000);
    if (r->server_start.ok && r->server_end.ok)
        fprintf(stderr, "  server             %.2f us CPU per forwarded packet, %.0f kB RSS\n",
                server_us_per_packet, (double)r->server_end.rss_kb);
    for (int i = 0; r->server_stats_start && r->server_stats_end && i < sw.workers; i++) {
        const j_hist *h = sw.h[i];
        fprintf(stderr,
                "  server worker %d    residence p50 %.2f / p99 %.2f ms, socket wait p99 %.2f ms,"
                " relay wait p99 %.2f ms, tick p99 %.2f ms, longest call %.2f ms\n",
                i, (double)j_hist_percentile(&h[RESIDENCE], 0.5) / 1000,
                (double)j_hist_percentile(&h[RESIDENCE], 0.99) / 1000,
                (double)j_hist_percentile(&h[RX_WAIT], 0.99) / 1000,
                (double)j_hist_percentile(&h[RELAY_WAIT], 0.99) / 1000,
                (double)j_hist_percentile(&h[TICK], 0.99) / 1000, (double)h[CALL].max / 1000);
    }
    fprintf(stderr, "  junction-load      %.2f us CPU per received packet\n",
            ratio((double)client_cpu, (double)rx_packets));
    return delivery;
}
