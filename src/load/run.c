/* run.c - junction-load's media thread: one UDP socket for every client connection,
 * publishers' pacing and packetization, subscribers' accounting.
 *
 * Against a server on loopback, all clients share one socket bound to the wildcard
 * address: client i is the address local_base + 1 + i (loopback 127/8 is all local on
 * Linux), the destination of a datagram (IP_PKTINFO) says whose it is, and a send names
 * its source the same way. So the server sees one 5-tuple per connection, while we read and
 * write every connection's packets in batches of RUN_BATCH with recvmmsg/sendmmsg. With
 * one given (non-loopback) address instead, each client has a socket of its own on it, and
 * an epoll set tells which ones have datagrams. Nothing on the packet path allocates.
 *
 * The thread wakes once per millisecond (RUN_TICK_MS), not per arriving datagram: it drains
 * the socket (deep buffer), sends what publishers have due, and runs timers. Latency does
 * not suffer from that batching: each datagram's arrival time is the kernel's receive
 * timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME), and publishers log send times on that clock.
 */
#include <errno.h>
#include <linux/sock_diag.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/err.h"
#include "load/prog.h"
#include "net/net.h"
#include "rtp/rtp.h"

#define RUN_BATCH 64
#define RUN_MTU 1500
#define RUN_TICK_MS 1             /* publishers' pacing resolution */
#define RUN_SESSION_TICK_US 10000 /* ICE/DTLS timers */
#define RUN_MAX_PAYLOAD 1160      /* RTP payload per packet: browsers' size, below any MTU */
#define RUN_MAX_CATCH_UP 3        /* frames a publisher may fall behind before skipping */
#define RUN_SOCKET_BUFFER (64 << 20)
#define RUN_SESSION_SOCKET_BUFFER (1 << 20)

typedef struct tx_slot {
    uint8_t buf[RUN_MTU];
    j_addr to;
    _Alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct in_pktinfo))];
    struct iovec iov;
} tx_slot;

typedef struct rx_slot {
    uint8_t buf[RUN_MTU];
    j_addr from;
    _Alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct in_pktinfo)) +
                                          CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov;
} rx_slot;

/* The peer's send callback needs the run and the session. */
typedef struct send_ctx {
    struct run *r;
    session *s;
} send_ctx;

struct run {
    session *sessions;
    send_ctx *send_ctxs; /* one per session */
    int n, n_publishers; /* publishers come first in sessions[] */
    dtls_ctx *dtls;      /* shared by every connection, borrowed */
    unsigned verify_every; /* decrypt one SRTP packet in this many (1: all) */
    double pacing;         /* video: a multiple of its mean bitrate, 0 unpaced */
    uint32_t local_base; /* shared socket: host-order base of the clients' addresses */
    int fd;              /* the shared socket, -1 with a socket per session */
    int epfd;            /* a socket per session: the readable ones */
    j_loop *loop;
    pthread_t thread;
    bool media_on;
    uint64_t next_session_tick_us;

    tx_slot tx[RUN_BATCH];
    struct mmsghdr tx_msg[RUN_BATCH];
    int tx_count;
    int tx_fd;           /* the socket the queued datagrams leave from */
    uint64_t tx_errors;
    rx_slot rx[RUN_BATCH];
    struct mmsghdr rx_msg[RUN_BATCH];

    j_hist latency_video, latency_audio, latency_packets;
    const char *first_failure;
};

/* Wall-clock microseconds: the clock of kernel receive timestamps. */
static uint64_t realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- sending ----------------------------------------------------------------------------- */

static void flush(run *r)
{
    int sent = 0;
    while (sent < r->tx_count) {
        int n = sendmmsg(r->tx_fd, r->tx_msg + sent, (unsigned)(r->tx_count - sent), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            r->tx_errors++; /* a full buffer or an unreachable server: drop this one */
            sent++;
            continue;
        }
        sent += n;
    }
    r->tx_count = 0;
}

/* The next free send slot for session s (flushing when the batch is full). */
static tx_slot *tx_take(run *r, const session *s, struct mmsghdr **msg)
{
    int fd = r->fd >= 0 ? r->fd : s->fd;
    if (r->tx_count == RUN_BATCH || (r->tx_count > 0 && fd != r->tx_fd)) flush(r);
    r->tx_fd = fd;
    int i = r->tx_count++;
    tx_slot *t = &r->tx[i];
    t->to = s->remote;
    memset(&t->control, 0, sizeof t->control);
    struct msghdr *h = &r->tx_msg[i].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_name = &t->to;
    h->msg_namelen = j_addr_len(&t->to);
    h->msg_iov = &t->iov;
    h->msg_iovlen = 1;
    t->iov.iov_base = t->buf;
    if (r->fd < 0) { /* its own socket: its own source address */
        *msg = &r->tx_msg[i];
        return t;
    }
    h->msg_control = t->control;
    h->msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
    struct cmsghdr *c = CMSG_FIRSTHDR(h);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo pi = {.ipi_spec_dst = s->local.v4.sin_addr};
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
    *msg = &r->tx_msg[i];
    return t;
}

static void tx_commit(tx_slot *t, struct mmsghdr *msg, size_t len)
{
    t->iov.iov_len = len;
    msg->msg_len = 0;
}


/* The peer's datagrams (STUN, DTLS) to the session's server. */
static void peer_send(void *ctx, const uint8_t *buf, size_t len)
{
    send_ctx *c = ctx;
    if (len > RUN_MTU) return;
    struct mmsghdr *msg;
    tx_slot *t = tx_take(c->r, c->s, &msg);
    memcpy(t->buf, buf, len);
    tx_commit(t, msg, len);
}

/* ---- session state ------------------------------------------------------------------------- */

static void update_state(run *r, session *s)
{
    if (s->state != SESSION_CONNECTING) return;
    if (s->peer.state == LOAD_PEER_CONNECTED) {
        s->state = SESSION_CONNECTED;
    } else if (s->peer.state == LOAD_PEER_FAILED) {
        s->state = SESSION_FAILED;
        if (!r->first_failure) r->first_failure = s->peer.fail_reason;
    }
}

typedef struct start_arg {
    run *r;
    int id;
} start_arg;

static void start_on_thread(void *arg)
{
    start_arg *a = arg;
    run *r = a->r;
    session *s = &r->sessions[a->id];
    r->send_ctxs[a->id] = (send_ctx){.r = r, .s = s};
    load_peer_params p = {
        .dtls = r->dtls,
        .local_ufrag = s->ufrag,
        .local_pwd = s->pwd,
        .remote_ufrag = s->remote_ufrag,
        .remote_pwd = s->remote_pwd,
        .remote_fingerprint = s->remote_fingerprint,
        .ice_controlling = s->ice_controlling,
        .dtls_role = s->dtls_role,
        .tiebreaker = s->tiebreaker,
        .send = peer_send,
        .send_ctx = &r->send_ctxs[a->id],
    };
    uint64_t now = j_now_us();
    s->state = SESSION_CONNECTING;
    if (load_peer_start(&s->peer, &p, now) != J_OK) {
        s->state = SESSION_FAILED;
        if (!r->first_failure) r->first_failure = "cannot start the connection";
        return;
    }
    load_peer_handle_timeout(&s->peer, now); /* the first check goes out now */
    s->peer_next_us = load_peer_poll_timeout(&s->peer, now);
    flush(r);
}

void run_start_session(run *r, int id)
{
    start_arg a = {.r = r, .id = id};
    j_loop_call(r->loop, start_on_thread, &a);
}

/* ---- publishing -------------------------------------------------------------------------- */

static uint64_t units_to_us(uint64_t units, uint32_t clock_rate)
{
    return units * 1000000u / clock_rate;
}

/* On to the track's next frame: the current one was sent, or is skipped. */
static void advance_frame(tx_track *tr)
{
    const media_stream *m = tr->media;
    tr->ts += m->frames[tr->frame].duration;
    tr->clock_units += m->frames[tr->frame].duration;
    tr->next_us = tr->start_us + units_to_us(tr->clock_units, m->clock_rate);
    tr->picture_id = (uint16_t)((tr->picture_id + 1) & 0x7fff);
    tr->frame = (tr->frame + 1) % m->count;
}

/* Sends the next RTP packet of frame tr->frame, SRTP-protected, and logs it as sent at
 * sent_us (taken before the batch it joins is written to the socket). Returns its size, 0
 * when it could not be built. */
static size_t send_packet(run *r, session *s, tx_track *tr, uint64_t sent_us)
{
    const media_stream *m = tr->media;
    const media_frame *f = &m->frames[tr->frame];
    const uint8_t *data = m->data + f->off;
    bool first = !tr->in_frame, last = false;
    if (first && m->video)
        vp8_packetizer_init(&tr->vp, data, f->len, tr->picture_id, RUN_MAX_PAYLOAD);
    tr->in_frame = true;
    rtp_ext_elem ext = {.id = tr->mid_ext_id, .data = (const uint8_t *)tr->mid,
                        .len = strlen(tr->mid)};
    struct mmsghdr *msg;
    tx_slot *t = tx_take(r, s, &msg);
    rtp_header_out h = {.payload_type = tr->pt, .seq = tr->seq, .timestamp = tr->ts,
                        .ssrc = tr->ssrc};
    int hl = rtp_write_header(&h, &ext, tr->mid_ext_id ? 1 : 0, t->buf, RUN_MTU);
    uint8_t *payload = t->buf + (hl > 0 ? hl : 0);
    size_t cap = RUN_MTU - (size_t)(hl > 0 ? hl : 0) - J_SRTP_MAX_TRAILER;
    int n = J_EINVAL;
    if (hl > 0 && m->video) {
        n = vp8_packetizer_next(&tr->vp, payload, cap, &last);
    } else if (hl > 0) {
        n = f->len <= cap ? (int)f->len : J_ESHORTBUF;
        if (n > 0) memcpy(payload, data, (size_t)n);
        last = true;
    }
    int p = J_EINVAL;
    if (n > 0) {
        if (m->video && last) rtp_set_marker(t->buf, (size_t)hl + (size_t)n, true);
        if (first) {
            tr->frame_fingerprint = load_fingerprint(t->buf + hl, (size_t)n);
            tr->frame_first_seq = tr->seq;
        }
        p = load_peer_protect_rtp(&s->peer, t->buf, (size_t)hl + (size_t)n, RUN_MTU);
    }
    if (p < 0) { /* cannot happen with a valid track: give the slot back, drop the frame */
        r->tx_count--;
        tr->in_frame = false;
        advance_frame(tr);
        return 0;
    }
    tx_commit(t, msg, (size_t)p);
    /* Logged before the subscribers can see it: they run on this thread, after us. */
    load_packet_log_put(&tr->log, tr->seq, sent_us);
    load_frame_log_put(&tr->log, tr->ts, tr->frame_fingerprint, tr->frame_first_seq, sent_us);
    tr->seq++;
    tr->packets++;
    tr->bytes += (size_t)p;
    if (last) {
        tr->in_frame = false;
        tr->frames++;
        advance_frame(tr);
    }
    return (size_t)p;
}

/* Sends what the track has due: frames at their time; video packets no faster than the
 * pacing rate, as a browser's pacer spreads a frame (libwebrtc: 2.5x the target bitrate),
 * unless pacing is off. */
static void publish_track(run *r, session *s, tx_track *tr, uint64_t now, uint64_t sent_us)
{
    uint64_t interval = units_to_us(tr->media->step, tr->media->clock_rate);
    for (;;) {
        if (!tr->in_frame) {
            if (now < tr->next_us) return;
            /* Further behind than a few frames: skip ahead rather than burst (a real
             * sender's encoder would drop frames too). */
            while (now >= tr->next_us + RUN_MAX_CATCH_UP * interval) advance_frame(tr);
        }
        if (tr->pace_bytes_per_s && now < tr->pace_next_us) return;
        size_t bytes = send_packet(r, s, tr, sent_us);
        if (tr->pace_bytes_per_s) {
            uint64_t from = tr->pace_next_us > now ? tr->pace_next_us : now;
            tr->pace_next_us = from + bytes * 1000000u / tr->pace_bytes_per_s;
        }
    }
}

static void publish_due(run *r, uint64_t now)
{
    uint64_t sent_us = realtime_us(); /* the clock of the subscribers' arrival times */
    for (int i = 0; i < r->n_publishers; i++) {
        session *s = &r->sessions[i];
        if (s->state != SESSION_CONNECTED) continue;
        for (int k = 0; k < s->n_tx; k++) publish_track(r, s, &s->tx[k], now, sent_us);
    }
    flush(r);
}

/* The mean bitrate of a stream, in bytes per second. */
static uint64_t mean_bytes_per_s(const media_stream *m)
{
    uint64_t bytes = 0, units = 0;
    for (size_t i = 0; i < m->count; i++) {
        bytes += m->frames[i].len;
        units += m->frames[i].duration;
    }
    return units ? bytes * m->clock_rate / units : 0;
}

static void start_media_on_thread(void *arg)
{
    run *r = arg;
    uint64_t now = j_now_us();
    int pubs = r->n_publishers, k = 0;
    for (int i = 0; i < pubs; i++) {
        session *s = &r->sessions[i];
        for (int t = 0; t < s->n_tx; t++) {
            tx_track *tr = &s->tx[t];
            /* Publishers start spread over one frame interval, as independent senders are. */
            uint64_t interval = units_to_us(tr->media->step, tr->media->clock_rate);
            tr->start_us = now + 1000 + interval * (uint64_t)k / (uint64_t)(pubs ? pubs : 1);
            tr->next_us = tr->start_us;
            tr->clock_units = 0;
            tr->frame = 0;
            tr->in_frame = false;
            tr->pace_next_us = 0;
            tr->pace_bytes_per_s =
                tr->media->video ? (uint64_t)(r->pacing * (double)mean_bytes_per_s(tr->media)) : 0;
        }
        k++;
    }
    r->media_on = true;
}

static void stop_media_on_thread(void *arg) { ((run *)arg)->media_on = false; }

void run_start_media(run *r) { j_loop_call(r->loop, start_media_on_thread, r); }
void run_stop_media(run *r) { j_loop_call(r->loop, stop_media_on_thread, r); }

/* ---- receiving --------------------------------------------------------------------------- */

/* Whether to decrypt this SRTP packet: every one until its stream is locked to the
 * publisher's frame log, then one in verify_every (by sequence number, in the clear). */
static bool want_decrypt(const run *r, const session *s, const uint8_t *buf, size_t len)
{
    if (r->verify_every <= 1 || len < RTP_HEADER_MIN || j_demux(buf, len) != J_PACKET_RTP)
        return true;
    int idx = s->rx_by_pt[buf[1] & 0x7f];
    return idx < 0 || !s->rx[idx].rx.locked || rd_be16(buf + 2) % r->verify_every == 0;
}

static void on_media(run *r, session *s, const uint8_t *buf, size_t len, bool decrypted,
                     uint64_t arrival_us)
{
    rtp_pkt p;
    if (rtp_parse(&p, buf, len) != 0) return;
    int idx = s->rx_by_pt[p.payload_type];
    if (idx < 0) return;
    rx_track *t = &s->rx[idx];
    size_t payload_len = p.payload_len;
    if (!decrypted) { /* the payload still carries the SRTP tag */
        size_t tag = j_srtp_rtp_overhead(s->peer.profile);
        payload_len = payload_len > tag ? payload_len - tag : 0;
    }
    load_rx_packet(&t->rx, p.seq, p.timestamp, p.marker, decrypted ? p.payload : NULL,
                   payload_len, arrival_us, t->video ? &r->latency_video : &r->latency_audio,
                   &r->latency_packets);
}

/* The session a datagram is for (by its destination address on the shared socket; NULL:
 * keep `s`), and its arrival time. */
static session *session_of(run *r, const struct msghdr *h, session *s, uint64_t *arrival_us)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            *arrival_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && !s) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            uint32_t ip = ntohl(pi.ipi_addr.s_addr);
            if (ip <= r->local_base || ip - r->local_base - 1 >= (uint32_t)r->n) continue;
            s = &r->sessions[ip - r->local_base - 1];
        }
    }
    if (s && s->state != SESSION_CONNECTING && s->state != SESSION_CONNECTED) s = NULL;
    return s;
}

/* Reads batches from fd until it is empty; `owner` is the session of a per-session socket,
 * NULL for the shared one. */
static void receive_from(run *r, int fd, session *owner)
{
    for (;;) {
        /* Only what the kernel overwrites needs resetting (the rest is set in run_new). */
        for (int i = 0; i < RUN_BATCH; i++) {
            struct msghdr *h = &r->rx_msg[i].msg_hdr;
            h->msg_namelen = sizeof r->rx[i].from;
            h->msg_controllen = sizeof r->rx[i].control;
        }
        int n = recvmmsg(fd, r->rx_msg, RUN_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) break;
        uint64_t now = j_now_us();
        for (int i = 0; i < n; i++) {
            struct msghdr *h = &r->rx_msg[i].msg_hdr;
            uint64_t arrival = 0;
            session *s = session_of(r, h, owner, &arrival);
            if (!s || (h->msg_flags & MSG_TRUNC)) continue;
            size_t plain = 0, len = r->rx_msg[i].msg_len;
            bool decrypt = want_decrypt(r, s, r->rx[i].buf, len);
            int kind = load_peer_handle_datagram(&s->peer, now, &r->rx[i].from, r->rx[i].buf,
                                                 len, decrypt, &plain);
            if (kind == J_PACKET_RTP) {
                on_media(r, s, r->rx[i].buf, plain, decrypt, arrival ? arrival : realtime_us());
            } else if (kind == J_PACKET_RTCP) {
                s->rtcp_in++;
            } else {
                update_state(r, s);
                s->peer_next_us = load_peer_poll_timeout(&s->peer, now);
            }
        }
        flush(r);
        if (n < RUN_BATCH) break;
    }
}

/* Every datagram that arrived since the last tick. */
static void receive_all(run *r)
{
    if (r->fd >= 0) {
        receive_from(r, r->fd, NULL);
        return;
    }
    struct epoll_event ev[256];
    int n;
    do {
        n = epoll_wait(r->epfd, ev, 256, 0);
        for (int i = 0; i < n; i++) {
            session *s = &r->sessions[ev[i].data.u32];
            receive_from(r, s->fd, s);
        }
    } while (n == 256);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void on_tick(void *ctx, uint64_t now)
{
    run *r = ctx;
    receive_all(r);
    if (r->media_on) publish_due(r, now);
    if (now >= r->next_session_tick_us) {
        r->next_session_tick_us = now + RUN_SESSION_TICK_US;
        for (int i = 0; i < r->n; i++) {
            session *s = &r->sessions[i];
            if (s->state != SESSION_CONNECTING && s->state != SESSION_CONNECTED) continue;
            if (now < s->peer_next_us) continue;
            load_peer_handle_timeout(&s->peer, now);
            update_state(r, s);
            s->peer_next_us = load_peer_poll_timeout(&s->peer, now);
        }
    }
    flush(r);
}

static void *thread_main(void *arg)
{
    j_loop_run(((run *)arg)->loop);
    return NULL;
}

/* A UDP socket bound to addr, with the options both modes want. -1 with err on failure. */
static int open_socket(const j_addr *addr, int buffer, bool pktinfo, char *err, size_t err_cap)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_cap, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    if (pktinfo) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    int pmtu = IP_PMTUDISC_PROBE; /* DF: no hashed IPv4 ID per send (as net/udp.c) */
    setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
    /* The server bursts a frame to every subscriber at once: a deep receive buffer keeps
     * our own socket from being where packets get lost (FORCE needs root; else capped). */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    if (bind(fd, &addr->sa, j_addr_len(addr)) != 0) {
        char a[J_ADDR_STRLEN];
        snprintf(err, err_cap, "bind %s: %s", j_addr_str(addr, a), strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static uint16_t bound_port(int fd)
{
    j_addr bound;
    socklen_t blen = sizeof bound;
    getsockname(fd, &bound.sa, &blen);
    return j_addr_port(&bound);
}

static void close_sockets(run *r)
{
    if (r->fd >= 0) close(r->fd);
    if (r->epfd >= 0) close(r->epfd);
    for (int i = 0; i < r->n; i++)
        if (r->sessions[i].fd >= 0) close(r->sessions[i].fd);
}

run *run_new(session *sessions, int n, bool shared_socket, dtls_ctx *dtls,
             unsigned verify_every, double pacing, char *err, size_t err_cap)
{
    run *r = calloc(1, sizeof *r);
    send_ctx *ctxs = calloc((size_t)n, sizeof *ctxs);
    if (!r || !ctxs) {
        snprintf(err, err_cap, "out of memory");
        free(r);
        free(ctxs);
        return NULL;
    }
    r->send_ctxs = ctxs;
    r->dtls = dtls;
    r->verify_every = verify_every;
    r->pacing = pacing;
    r->sessions = sessions;
    r->n = n;
    while (r->n_publishers < n && sessions[r->n_publishers].role == ROLE_PUBLISHER) r->n_publishers++;
    r->fd = r->epfd = -1;
    for (int i = 0; i < n; i++) sessions[i].fd = -1;
    for (int i = 0; i < RUN_BATCH; i++) {
        rx_slot *x = &r->rx[i];
        x->iov = (struct iovec){.iov_base = x->buf, .iov_len = RUN_MTU};
        r->rx_msg[i].msg_hdr = (struct msghdr){.msg_name = &x->from, .msg_iov = &x->iov,
                                               .msg_iovlen = 1, .msg_control = x->control};
    }
    bool ok = true;
    if (shared_socket) {
        r->local_base = ntohl(sessions[0].local.v4.sin_addr.s_addr) - 1;
        j_addr any;
        j_addr_parse(&any, "0.0.0.0", 0);
        r->fd = open_socket(&any, RUN_SOCKET_BUFFER, true, err, err_cap);
        ok = r->fd >= 0;
        for (int i = 0; ok && i < n; i++) j_addr_set_port(&sessions[i].local, bound_port(r->fd));
    } else {
        r->epfd = epoll_create1(EPOLL_CLOEXEC);
        ok = r->epfd >= 0;
        for (int i = 0; ok && i < n; i++) {
            session *s = &sessions[i];
            s->fd = open_socket(&s->local, RUN_SESSION_SOCKET_BUFFER, false, err, err_cap);
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            ok = s->fd >= 0 && epoll_ctl(r->epfd, EPOLL_CTL_ADD, s->fd, &ev) == 0;
            if (ok) j_addr_set_port(&s->local, bound_port(s->fd));
        }
    }
    if (ok) r->loop = j_loop_new(RUN_TICK_MS, on_tick, r);
    if (!ok || !r->loop || pthread_create(&r->thread, NULL, thread_main, r) != 0) {
        if (ok) snprintf(err, err_cap, "cannot start the media thread");
        j_loop_free(r->loop);
        close_sockets(r);
        free(ctxs);
        free(r);
        return NULL;
    }
    return r;
}

void run_free(run *r)
{
    if (!r) return;
    j_loop_stop(r->loop);
    pthread_join(r->thread, NULL);
    for (int i = 0; i < r->n; i++) load_peer_free(&r->sessions[i].peer);
    j_loop_free(r->loop);
    close_sockets(r);
    free(r->send_ctxs);
    free(r);
}

/* ---- counters ------------------------------------------------------------------------------ */

/* Datagrams the kernel dropped at our sockets (full receive buffers), read on demand rather
 * than as a per-packet control message. */
static uint64_t socket_drops(const run *r)
{
    uint64_t total = 0;
    for (int i = -1; i < r->n; i++) {
        int fd = i < 0 ? r->fd : r->sessions[i].fd;
        if (fd < 0) continue;
        uint32_t info[SK_MEMINFO_VARS];
        socklen_t len = sizeof info;
        if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &len) == 0 &&
            len > SK_MEMINFO_DROPS * sizeof info[0])
            total += info[SK_MEMINFO_DROPS];
    }
    return total;
}

typedef struct snapshot_arg {
    run *r;
    run_snapshot *out;
    bool reset_latency;
} snapshot_arg;

static void snapshot_on_thread(void *arg)
{
    snapshot_arg *a = arg;
    run *r = a->r;
    run_snapshot *o = a->out;
    memset(o, 0, sizeof *o);
    o->now_us = j_now_us();
    o->worst_session = -1;
    o->first_failure = r->first_failure;
    for (int i = 0; i < r->n; i++) {
        session *s = &r->sessions[i];
        if (s->state == SESSION_CONNECTING) o->connecting[s->role]++;
        if (s->state == SESSION_CONNECTED) o->connected[s->role]++;
        if (s->state == SESSION_FAILED) o->failed[s->role]++;
        o->srtp_errors += s->peer.srtp_errors;
        o->stun_errors += s->peer.stun_errors;
        o->rx_rtcp += s->rtcp_in;
        for (int k = 0; k < s->n_tx; k++) {
            o->tx_packets += s->tx[k].packets;
            o->tx_bytes += s->tx[k].bytes;
            o->tx_frames += s->tx[k].frames;
        }
        uint64_t expected = 0;
        int64_t lost = 0;
        for (int k = 0; k < s->n_rx; k++) {
            const load_rx_stream *x = &s->rx[k].rx;
            o->rx_packets += x->received;
            o->rx_bytes += x->bytes;
            expected += load_rx_expected(x);
            lost += load_rx_lost(x);
            if (s->rx[k].source) o->rx_should += s->rx[k].source->packets;
        }
        o->rx_expected_by_seq += expected;
        o->rx_lost += lost > 0 ? (uint64_t)lost : 0;
        double ratio = expected ? (double)lost / (double)expected : 0;
        if (s->role == ROLE_SUBSCRIBER && (o->worst_session < 0 || ratio > o->worst_loss)) {
            o->worst_session = i;
            o->worst_loss = ratio;
        }
    }
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    o->thread_cpu_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    o->socket_drops = socket_drops(r);
    o->send_errors = r->tx_errors;
    o->latency_video = r->latency_video;
    o->latency_audio = r->latency_audio;
    o->latency_packets = r->latency_packets;
    if (a->reset_latency) {
        memset(&r->latency_video, 0, sizeof r->latency_video);
        memset(&r->latency_audio, 0, sizeof r->latency_audio);
        memset(&r->latency_packets, 0, sizeof r->latency_packets);
    }
}

void run_snapshot_take(run *r, run_snapshot *out, bool reset_latency)
{
    snapshot_arg a = {.r = r, .out = out, .reset_latency = reset_latency};
    j_loop_call(r->loop, snapshot_on_thread, &a);
}
