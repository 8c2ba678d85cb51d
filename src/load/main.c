/* main.c - junction-load: P publishers and S subscribers per publisher against a WebRTC SFU
 * (Junction over WHIP/WHEP or its room protocol, or Janus' VideoRoom), on Junction's own
 * WebRTC code in the client role. Prints a JSON summary on stdout and a table on stderr.
 *
 * A run: publishers signal and connect, then subscribers (at most --concurrency exchanges
 * at a time), then every publisher starts its media at frame 0; after --warmup the
 * measurement window of --duration seconds starts; then media stops, the counters settle,
 * and every session is torn down.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/err.h"
#include "core/log.h"
#include "core/random.h"
#include "load/prog.h"
#include "net/net.h"

/* ---- media files --------------------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *len, char *err, size_t err_cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_cap, "cannot open %s", path);
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *b = realloc(buf, cap *= 2);
        if (!b) free(buf);
        buf = b;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        snprintf(err, err_cap, "cannot read %s", path);
        return NULL;
    }
    *len = n;
    return buf;
}

static bool add_frame(media_stream *m, size_t *cap, size_t off, size_t len, uint32_t duration)
{
    if (m->count == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        media_frame *f = realloc(m->frames, *cap * sizeof *f);
        if (!f) return false;
        m->frames = f;
    }
    m->frames[m->count++] = (media_frame){.off = off, .len = (uint32_t)len, .duration = duration};
    return true;
}

int media_load_ivf(media_stream *m, const char *path, char *err, size_t err_cap)
{
    memset(m, 0, sizeof *m);
    size_t len;
    m->data = read_file(path, &len, err, err_cap);
    if (!m->data) return -1;
    ivf_reader r;
    int rc = ivf_reader_init(&r, m->data, len);
    if (rc != J_OK || memcmp(r.fourcc, "VP80", 4) != 0) {
        snprintf(err, err_cap, "%s: not a VP8 IVF file (%s)", path, j_strerror(rc));
        media_free(m);
        return -1;
    }
    m->video = true;
    m->clock_rate = 90000;
    /* A pts unit in 90 kHz ticks: ffmpeg writes one unit per frame at 1/fps. */
    uint64_t unit = 90000ull * r.timebase_num / r.timebase_den;
    m->step = unit ? (uint32_t)unit : 3000;
    size_t cap = 0;
    const uint8_t *frame;
    size_t flen;
    uint64_t pts, prev_pts = 0;
    while ((rc = ivf_reader_next(&r, &frame, &flen, &pts)) == 1) {
        if (m->count > 0 && pts > prev_pts)
            m->frames[m->count - 1].duration = (uint32_t)((pts - prev_pts) * unit);
        if (!add_frame(m, &cap, (size_t)(frame - m->data), flen, m->step)) rc = J_ENOMEM;
        if (rc == J_ENOMEM) break;
        prev_pts = pts;
    }
    if (rc < 0 || m->count == 0) {
        snprintf(err, err_cap, "%s: %s", path, m->count ? j_strerror(rc) : "no frames");
        media_free(m);
        return -1;
    }
    return 0;
}

int media_load_ogg_opus(media_stream *m, const char *path, char *err, size_t err_cap)
{
    memset(m, 0, sizeof *m);
    size_t len;
    uint8_t *file = read_file(path, &len, err, err_cap);
    if (!file) return -1;
    /* Packets are copied out of the pages into one buffer (a packet may span pages). */
    m->data = malloc(len);
    ogg_reader r;
    int rc = m->data ? ogg_reader_init(&r, file, len) : J_ENOMEM;
    m->clock_rate = 48000;
    size_t cap = 0, used = 0, index = 0;
    uint64_t granule;
    size_t plen;
    while (rc == J_OK && (rc = ogg_reader_next(&r, m->data + used, len - used, &plen, &granule)) == 1) {
        rc = J_OK;
        const uint8_t *p = m->data + used;
        bool header = index < 2; /* OpusHead, OpusTags (RFC 7845 §3) */
        if (index == 0 && (plen < 8 || memcmp(p, "OpusHead", 8) != 0)) rc = J_EUNSUPPORTED;
        index++;
        if (header || rc != J_OK) continue;
        int samples = opus_packet_samples(p, plen);
        if (samples <= 0) continue; /* not a valid Opus packet: skip it */
        if (!m->step) m->step = (uint32_t)samples;
        if (!add_frame(m, &cap, used, plen, (uint32_t)samples)) rc = J_ENOMEM;
        used += plen;
    }
    free(file);
    if (rc < 0 || m->count == 0) {
        snprintf(err, err_cap, "%s: not an Ogg Opus file (%s)", path,
                 m->count ? j_strerror(rc) : "no audio packets");
        media_free(m);
        return -1;
    }
    return 0;
}

void media_free(media_stream *m)
{
    free(m->data);
    free(m->frames);
    memset(m, 0, sizeof *m);
}

/* ---- options -------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
        "usage: junction-load [options]\n"
        "  --mode whip|rtc|janus   signaling: WHIP/WHEP, Junction rooms (/rtc) or Janus VideoRoom (whip)\n"
        "  --url URL               server: http://127.0.0.1:8080 (whip, rtc), ws://127.0.0.1:8188 (janus)\n"
        "  --video FILE.ivf        VP8 in IVF (ffmpeg -c:v libvpx ... out.ivf)\n"
        "  --audio FILE.ogg        Opus in Ogg (ffmpeg -c:a libopus ... out.ogg); one of the two at least\n"
        "  --rooms N               rooms (streams are grouped in rooms) (1)\n"
        "  --publishers N          publishers per room (1)\n"
        "  --subscribers N         subscribers per publisher (1)\n"
        "  --warmup SEC            media before the measurement window (2)\n"
        "  --duration SEC          measurement window (10)\n"
        "  --connect-timeout SEC   for each phase (publishers, subscribers) to connect (30)\n"
        "  --concurrency N         signaling exchanges in flight (16)\n"
        "  --server-pid PID        report this process's CPU and memory (the server's)\n"
        "  --server-stats          read Junction's /api/stats at both ends of the window and\n"
        "                          report where packets waited in each media worker\n"
        "  --stats-token TOKEN     bearer token for /api/stats when the server has API keys:\n"
        "                          an admin token for every room (junction token --admin\n"
        "                          --room '*' --identity load)\n"
        "  --token TOKEN           bearer token for WHIP/WHEP, access token for /rtc joins\n"
        "  --local-net A.B.C.D     client i uses the address A.B.C.D + 1 + i (127.1.0.0),\n"
        "                          all on one socket (a server on this host's loopback)\n"
        "  --local-ip IP           instead: every client on this address, a socket each (a\n"
        "                          server that is not on loopback, or binds to an interface)\n"
        "  --janus-room N          first Janus room number (4000)\n"
        "  --min-delivery RATIO    exit status 1 if subscribers got less than this share (0)\n"
        "  --verify-every N        subscribers decrypt and authenticate 1 SRTP packet in N once\n"
        "                          a stream is matched to its publisher; loss and latency come\n"
        "                          from every packet's clear header (1: decrypt all)\n"
        "  --pacing FACTOR         publishers send video no faster than FACTOR x its mean\n"
        "                          bitrate, as browsers pace (2.5); 0: each frame at once\n"
        "  --label TEXT            copied into the JSON summary\n"
        "By default clients share one UDP socket, each with its own 127/8 address: the server\n"
        "must run on this host and answer on loopback; otherwise give --local-ip.\n");
}

static int parse_args(int argc, char **argv, load_config *c)
{
    memset(c, 0, sizeof *c);
    c->rooms = c->publishers = c->subscribers = 1;
    c->warmup_s = 2;
    c->duration_s = 10;
    c->connect_timeout_s = 30;
    c->concurrency = 16;
    c->local_base = 0x7f010000u; /* 127.1.0.0 */
    c->janus_room_base = 4000;
    c->label = "";
    c->verify_every = 1;
    c->pacing = 2.5; /* libwebrtc's default pacing factor */
    j_random_token(c->run_id, sizeof c->run_id - 1);
    bool url_set = false;
    static const struct option opts[] = {
        {"mode", required_argument, 0, 'm'},        {"url", required_argument, 0, 'u'},
        {"video", required_argument, 0, 'v'},       {"audio", required_argument, 0, 'a'},
        {"rooms", required_argument, 0, 'r'},       {"publishers", required_argument, 0, 'p'},
        {"subscribers", required_argument, 0, 's'}, {"warmup", required_argument, 0, 'w'},
        {"duration", required_argument, 0, 'd'},    {"connect-timeout", required_argument, 0, 'c'},
        {"concurrency", required_argument, 0, 'n'}, {"server-pid", required_argument, 0, 'P'},
        {"token", required_argument, 0, 't'},       {"local-net", required_argument, 0, 'l'},
        {"janus-room", required_argument, 0, 'j'},  {"min-delivery", required_argument, 0, 'D'},
        {"label", required_argument, 0, 'L'},       {"verify-every", required_argument, 0, 'V'},
        {"local-ip", required_argument, 0, 'I'},   {"pacing", required_argument, 0, 'g'},
        {"server-stats", no_argument, 0, 'S'},     {"stats-token", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (o) {
        case 'm':
            if (strcmp(optarg, "whip") == 0) c->mode = MODE_WHIP;
            else if (strcmp(optarg, "rtc") == 0) c->mode = MODE_RTC;
            else if (strcmp(optarg, "janus") == 0) c->mode = MODE_JANUS;
            else return -1;
            break;
        case 'u':
            snprintf(c->url, sizeof c->url, "%s", optarg);
            url_set = true;
            break;
        case 'v': c->video_path = optarg; break;
        case 'a': c->audio_path = optarg; break;
        case 'r': c->rooms = (int)strtol(optarg, &end, 10); break;
        case 'p': c->publishers = (int)strtol(optarg, &end, 10); break;
        case 's': c->subscribers = (int)strtol(optarg, &end, 10); break;
        case 'w': c->warmup_s = strtod(optarg, &end); break;
        case 'd': c->duration_s = strtod(optarg, &end); break;
        case 'c': c->connect_timeout_s = strtod(optarg, &end); break;
        case 'n': c->concurrency = (int)strtol(optarg, &end, 10); break;
        case 'P': c->server_pid = (int)strtol(optarg, &end, 10); break;
        case 't': snprintf(c->token, sizeof c->token, "%s", optarg); break;
        case 'l': {
            struct in_addr a;
            if (inet_pton(AF_INET, optarg, &a) != 1) return -1;
            c->local_base = ntohl(a.s_addr);
            break;
        }
        case 'I': {
            j_addr a;
            if (j_addr_parse(&a, optarg, 0) != J_OK || a.sa.sa_family != AF_INET) return -1;
            snprintf(c->local_ip, sizeof c->local_ip, "%s", optarg);
            break;
        }
        case 'j': c->janus_room_base = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'D': c->min_delivery = strtod(optarg, &end); break;
        case 'L': c->label = optarg; break;
        case 'V': c->verify_every = (unsigned)strtoul(optarg, &end, 10); break;
        case 'g': c->pacing = strtod(optarg, &end); break;
        case 'S': c->server_stats = true; break;
        case 'T': snprintf(c->stats_token, sizeof c->stats_token, "%s", optarg); break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
        if (end && *end) return -1;
    }
    if (optind != argc || (!c->video_path && !c->audio_path)) return -1;
    if (c->rooms < 1 || c->publishers < 1 || c->subscribers < 0 || c->concurrency < 1 ||
        c->verify_every < 1 || !(c->pacing == 0 || (c->pacing >= 1 && c->pacing <= 100)) ||
        c->duration_s <= 0 || c->warmup_s < 0 || c->connect_timeout_s <= 0 ||
        (c->server_stats && c->mode == MODE_JANUS))
        return -1;
    long total = (long)c->rooms * c->publishers * (1 + c->subscribers);
    if (total > 60000) return -1; /* one address, or one port, each */
    if (!url_set)
        snprintf(c->url, sizeof c->url, "%s",
                 c->mode == MODE_JANUS ? "ws://127.0.0.1:8188" : "http://127.0.0.1:8080");
    return 0;
}

/* ---- sessions ---------------------------------------------------------------------------------- */

static session *make_sessions(const load_config *c, const media_stream *audio,
                              const media_stream *video, int *n_out, int *n_pub_out)
{
    int n_pub = c->rooms * c->publishers, n = n_pub * (1 + c->subscribers);
    session *ss = calloc((size_t)n, sizeof *ss);
    if (!ss) return NULL;
    for (int i = 0; i < n; i++) {
        session *s = &ss[i];
        s->id = i;
        s->role = i < n_pub ? ROLE_PUBLISHER : ROLE_SUBSCRIBER;
        s->publisher = i < n_pub ? i : (i - n_pub) / c->subscribers;
        s->room = s->publisher / c->publishers;
        if (c->local_ip[0]) {
            j_addr_parse(&s->local, c->local_ip, 0);
        } else {
            j_addr_parse(&s->local, "0.0.0.0", 0);
            s->local.v4.sin_addr.s_addr = htonl(c->local_base + 1 + (uint32_t)i);
        }
        ice_lite_generate_credentials(s->ufrag, s->pwd);
        j_random_bytes(&s->tiebreaker, sizeof s->tiebreaker);
        memset(s->rx_by_pt, -1, sizeof s->rx_by_pt);
        if (s->role != ROLE_PUBLISHER) continue;
        const media_stream *media[2] = {audio, video};
        s->tx = calloc(2, sizeof *s->tx);
        if (!s->tx) return NULL; /* the process exits on this */
        for (int k = 0; k < 2; k++) {
            if (!media[k]) continue;
            tx_track *t = &s->tx[s->n_tx];
            t->media = media[k];
            snprintf(t->mid, sizeof t->mid, "%d", k);
            t->ssrc = j_random_u32() | 1;
            t->seq = (uint16_t)j_random_u32();
            /* Timestamps start on a whole step so the frame log's slots never collide. */
            t->ts = j_random_u32() / media[k]->step * media[k]->step;
            t->picture_id = (uint16_t)(j_random_u32() & 0x7fff);
            load_frame_log_init(&t->log, media[k]->step);
            s->n_tx++;
        }
    }
    *n_out = n;
    *n_pub_out = n_pub;
    return ss;
}

static void free_sessions(session *ss, int n)
{
    for (int i = 0; ss && i < n; i++) free(ss[i].tx);
    free(ss);
}

/* ---- the run ------------------------------------------------------------------------------------ */

static uint64_t client_cpu_us(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (uint64_t)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static void service_for(load_ctx *L, flows *f, double seconds)
{
    uint64_t until = j_now_us() + (uint64_t)(seconds * 1e6);
    bool failed;
    while (j_now_us() < until) {
        sig_service(L->sig, 20);
        flows_ready(f, &failed); /* keeps Janus' session alive */
    }
}

/* One /api/stats exchange; freed by whoever is last: the waiter, or the callback of an
 * exchange the waiter gave up on. */
typedef struct stats_fetch {
    bool done, abandoned;
    json_t *stats;
} stats_fetch;

static void stats_fetched(void *ctx, const sig_http_result *r)
{
    stats_fetch *f = ctx;
    f->done = true;
    if (r->status == 200)
        f->stats = json_loadb(r->body, r->body_len, 0, NULL);
    else if (r->status == 401 || r->status == 403)
        fprintf(stderr, "junction-load: /api/stats answered %d: give --stats-token an admin "
                        "token for every room\n", r->status);
    if (f->abandoned) {
        json_decref(f->stats);
        free(f);
    }
}

/* Junction's /api/stats now (its workers' latency histograms), NULL when not asked for or
 * not answered within 5 s. */
static json_t *server_stats(load_ctx *L)
{
    stats_fetch *f = L->cfg->server_stats ? calloc(1, sizeof *f) : NULL;
    if (!f) return NULL;
    if (sig_http(L->sig, L->cfg->url, "GET", "/api/stats", L->cfg->stats_token, NULL, NULL,
                 stats_fetched, f) != J_OK) {
        json_decref(f->stats);
        free(f);
        return NULL;
    }
    uint64_t until = j_now_us() + 5000000;
    while (!f->done && j_now_us() < until) sig_service(L->sig, 10);
    if (!f->done) {
        fprintf(stderr, "junction-load: /api/stats did not answer within 5 s\n");
        f->abandoned = true;
        return NULL;
    }
    json_t *stats = f->stats;
    free(f);
    return stats;
}

/* Signals every session of `role` (at most concurrency at a time) and waits until each is
 * connected or failed, or the deadline. */
static void phase(load_ctx *L, flows *f, session_role role)
{
    int first = role == ROLE_PUBLISHER ? 0 : L->n_publishers;
    int end = role == ROLE_PUBLISHER ? L->n_publishers : L->n_sessions;
    int total = end - first;
    if (total == 0) return;
    uint64_t deadline = j_now_us() + (uint64_t)(L->cfg->connect_timeout_s * 1e6);
    uint64_t next_check = 0;
    int next = first;
    bool failed;
    while (j_now_us() < deadline) {
        int in_flight = 0, sig_failed = 0;
        for (int i = first; i < next; i++) {
            const session *s = &L->sessions[i];
            if (s->sig_failed) sig_failed++;
            else if (!s->sig_done) in_flight++;
        }
        while (in_flight < L->cfg->concurrency && next < end) {
            flows_start(f, next++);
            in_flight++;
        }
        sig_service(L->sig, 5);
        flows_ready(f, &failed);
        uint64_t now = j_now_us();
        if (now < next_check) continue;
        next_check = now + 100000;
        run_snapshot snap;
        run_snapshot_take(L->run, &snap, false);
        if (next == end && snap.connected[role] + snap.failed[role] + sig_failed >= total) break;
    }
}

static void teardown(load_ctx *L, flows *f)
{
    for (int i = L->n_sessions - 1; i >= 0; i--) flows_stop(f, i);
    uint64_t deadline = j_now_us() + 5000000;
    while (j_now_us() < deadline) {
        int open = 0;
        for (int i = 0; i < L->n_sessions; i++) open += !L->sessions[i].sig_closed;
        if (open == 0) break;
        sig_service(L->sig, 10);
    }
}

int main(int argc, char **argv)
{
    load_config cfg;
    if (parse_args(argc, argv, &cfg) != 0) {
        usage(stderr);
        return 2;
    }
    j_log_set_level(J_LOG_WARN);
    /* A socket per client (--local-ip) and the signaling connections need descriptors. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    char err[256];
    media_stream audio, video;
    bool have_audio = cfg.audio_path != NULL, have_video = cfg.video_path != NULL;
    if ((have_audio && media_load_ogg_opus(&audio, cfg.audio_path, err, sizeof err) != 0) ||
        (have_video && media_load_ivf(&video, cfg.video_path, err, sizeof err) != 0)) {
        fprintf(stderr, "junction-load: %s\n", err);
        return 2;
    }
    dtls_cert *cert = NULL;
    dtls_ctx *dtls = NULL;
    if (j_srtp_global_init() != J_OK || dtls_cert_generate(&cert) != J_OK ||
        !(dtls = dtls_ctx_new(cert))) {
        fprintf(stderr, "junction-load: cannot set up DTLS\n");
        return 1;
    }
    load_ctx L = {.cfg = &cfg, .audio = have_audio ? &audio : NULL,
                  .video = have_video ? &video : NULL, .fingerprint = dtls_cert_fingerprint(cert)};
    L.sessions = make_sessions(&cfg, L.audio, L.video, &L.n_sessions, &L.n_publishers);
    flows *f = NULL;
    if (!L.sessions ||
        !(L.run = run_new(L.sessions, L.n_sessions, !cfg.local_ip[0], dtls, cfg.verify_every, cfg.pacing, err,
                          sizeof err)) ||
        !(L.sig = sig_new(err, sizeof err)) || !(f = flows_new(&L, err, sizeof err))) {
        fprintf(stderr, "junction-load: %s\n", L.sessions ? err : "out of memory");
        return 1;
    }

    load_result res = {.cfg = &cfg, .publishers = L.n_publishers,
                       .subscribers = L.n_sessions - L.n_publishers};
    for (int k = 0; k < 2; k++) {
        const media_stream *m = k ? L.video : L.audio;
        if (m && m->step) res.frames_per_publisher_s += (double)m->clock_rate / m->step;
    }
    res.server_base = proc_sample_take(cfg.server_pid);
    uint64_t t0 = j_now_us();
    bool failed = false;
    while (!flows_ready(f, &failed) && !failed && j_now_us() - t0 < 10000000) sig_service(L.sig, 10);
    if (!failed && flows_ready(f, &failed)) {
        phase(&L, f, ROLE_PUBLISHER);
        phase(&L, f, ROLE_SUBSCRIBER);
    } else {
        fprintf(stderr, "junction-load: the server's signaling is not ready (%s)\n", cfg.url);
    }
    res.setup_s = (double)(j_now_us() - t0) / 1e6;

    run_start_media(L.run);
    service_for(&L, f, cfg.warmup_s);
    res.server_stats_start = server_stats(&L);
    run_snapshot_take(L.run, &res.start, true);
    res.server_start = proc_sample_take(cfg.server_pid);
    res.client_cpu_start_us = client_cpu_us();
    service_for(&L, f, cfg.duration_s);
    run_snapshot_take(L.run, &res.end, false);
    res.server_end = proc_sample_take(cfg.server_pid);
    res.client_cpu_end_us = client_cpu_us();
    res.server_stats_end = server_stats(&L);
    run_stop_media(L.run);
    service_for(&L, f, 0.5); /* packets in flight arrive */
    run_snapshot_take(L.run, &res.final, false);

    for (int i = 0; i < L.n_sessions; i++) {
        const session *s = &L.sessions[i];
        if (s->sig_failed && !res.first_failure) res.first_failure = s->sig_error;
        if (s->sig_failed) res.failed++;
    }
    if (!res.first_failure) res.first_failure = res.final.first_failure;
    res.pub_connected = res.final.connected[ROLE_PUBLISHER];
    res.sub_connected = res.final.connected[ROLE_SUBSCRIBER];
    res.failed += res.final.failed[ROLE_PUBLISHER] + res.final.failed[ROLE_SUBSCRIBER];

    teardown(&L, f);
    double delivery = report_print(&res);
    bool all = res.pub_connected + res.sub_connected == L.n_sessions;
    json_decref(res.server_stats_start);
    json_decref(res.server_stats_end);

    flows_free(f);
    sig_free(L.sig);
    run_free(L.run);
    free_sessions(L.sessions, L.n_sessions);
    dtls_ctx_free(dtls);
    dtls_cert_free(cert);
    if (have_audio) media_free(&audio);
    if (have_video) media_free(&video);
    return all && delivery >= cfg.min_delivery ? 0 : 1;
}
