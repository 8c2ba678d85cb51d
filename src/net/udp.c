/* udp.c - non-blocking UDP with recvmmsg batches and a sendmmsg queue. */
#include "net/net.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

struct j_udp {
    int fd;
    uint16_t port;
    j_udp_datagram_fn fn;
    void (*batch_end)(void *ctx);
    void *ctx;
    j_udp_counters counters;
    j_udp_latency latency;
    uint64_t cause_us; /* what the datagrams queued now answer (j_udp_set_cause) */
    /* receive batch: preallocated, reused for every recvmmsg */
    uint8_t rx_buf[J_UDP_BATCH][J_UDP_MTU];
    j_addr rx_from[J_UDP_BATCH];
    _Alignas(struct cmsghdr) char rx_control[J_UDP_BATCH][CMSG_SPACE(sizeof(struct timespec))];
    struct iovec rx_iov[J_UDP_BATCH];
    struct mmsghdr rx_msg[J_UDP_BATCH];
    /* send queue */
    uint8_t tx_buf[J_UDP_BATCH][J_UDP_MTU];
    j_addr tx_to[J_UDP_BATCH];
    uint64_t tx_cause[J_UDP_BATCH];
    struct iovec tx_iov[J_UDP_BATCH];
    struct mmsghdr tx_msg[J_UDP_BATCH];
    int tx_count;
};

static uint64_t realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* How long datagram i waited in the socket buffer, from its kernel receive timestamp
 * (CLOCK_REALTIME); batch_realtime_us is when the batch was read. */
static void note_rx_wait(j_udp *u, int i, uint64_t batch_realtime_us)
{
    struct msghdr *h = &u->rx_msg[i].msg_hdr;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_TIMESTAMPNS) continue;
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof ts);
        uint64_t at = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
        j_hist_add(&u->latency.rx_wait, batch_realtime_us > at ? batch_realtime_us - at : 0);
    }
}

static void udp_readable(void *ctx, uint32_t events)
{
    (void)events;
    j_udp *u = ctx;
    /* Bounded: at most 8 batches per wake-up so timers and calls still run under flood. */
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < J_UDP_BATCH; i++) {
            u->rx_iov[i].iov_base = u->rx_buf[i];
            u->rx_iov[i].iov_len = J_UDP_MTU;
            memset(&u->rx_msg[i].msg_hdr, 0, sizeof u->rx_msg[i].msg_hdr);
            u->rx_msg[i].msg_hdr.msg_name = &u->rx_from[i];
            u->rx_msg[i].msg_hdr.msg_namelen = sizeof u->rx_from[i];
            u->rx_msg[i].msg_hdr.msg_iov = &u->rx_iov[i];
            u->rx_msg[i].msg_hdr.msg_iovlen = 1;
            u->rx_msg[i].msg_hdr.msg_control = u->rx_control[i];
            u->rx_msg[i].msg_hdr.msg_controllen = sizeof u->rx_control[i];
        }
        int n = recvmmsg(u->fd, u->rx_msg, J_UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) break;
        uint64_t now = j_now_us(), now_realtime = realtime_us();
        u->cause_us = now;
        for (int i = 0; i < n; i++) {
            size_t len = u->rx_msg[i].msg_len;
            u->counters.rx_datagrams++;
            u->counters.rx_bytes += len;
            note_rx_wait(u, i, now_realtime);
            if (u->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC) continue; /* larger than any MTU */
            u->fn(u->ctx, &u->rx_from[i], u->rx_buf[i], len, now);
        }
        if (u->batch_end) u->batch_end(u->ctx);
        j_udp_flush(u);
        u->cause_us = 0;
        if (n < J_UDP_BATCH) break;
    }
}

j_udp *j_udp_open(j_loop *loop, const j_addr *addr, j_udp_datagram_fn fn, void *ctx, char *err,
                  size_t err_cap)
{
    j_udp *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    char name[J_ADDR_STRLEN];
    j_addr_str(addr, name);
    u->fd = socket(addr->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u->fd < 0) {
        snprintf(err, err_cap, "socket: %s", strerror(errno));
        free(u);
        return NULL;
    }
    int one = 1; /* kernel receive timestamps, for j_udp_latency.rx_wait */
    setsockopt(u->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    int size = 4 << 20;
    setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    /* Don't-fragment without path-MTU state (PROBE): with the default (WANT) the kernel
     * still lets the stack fragment, so every unconnected send draws an IPv4 ID from the
     * shared hashed generator (__ip_select_ident); with DF enforced the ID is simply 0.
     * PROBE rather than DO: a learned (or forged ICMP) path MTU never fails our sends;
     * media packets stay well under any path MTU and DTLS sizes its own records. */
    int pmtu = IP_PMTUDISC_PROBE;
    setsockopt(u->fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
    if (addr->sa.sa_family == AF_INET6) {
        pmtu = IPV6_PMTUDISC_PROBE;
        setsockopt(u->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof pmtu);
    }
    if (bind(u->fd, &addr->sa, j_addr_len(addr)) != 0) {
        snprintf(err, err_cap, "cannot bind UDP %s: %s", name, strerror(errno));
        close(u->fd);
        free(u);
        return NULL;
    }
    j_addr bound;
    socklen_t blen = sizeof bound;
    getsockname(u->fd, &bound.sa, &blen);
    u->port = j_addr_port(&bound);
    u->fn = fn;
    u->ctx = ctx;
    if (j_loop_add_fd(loop, u->fd, udp_readable, u) != J_OK) {
        snprintf(err, err_cap, "cannot watch UDP socket");
        close(u->fd);
        free(u);
        return NULL;
    }
    return u;
}

void j_udp_close(j_udp *u)
{
    if (!u) return;
    j_udp_flush(u);
    close(u->fd);
    free(u);
}

void j_udp_on_batch_end(j_udp *u, void (*fn)(void *ctx)) { u->batch_end = fn; }

uint16_t j_udp_port(const j_udp *u) { return u->port; }

void j_udp_send(j_udp *u, const j_addr *to, const uint8_t *buf, size_t len)
{
    if (len > J_UDP_MTU) {
        u->counters.tx_errors++;
        return;
    }
    if (u->tx_count == J_UDP_BATCH) j_udp_flush(u);
    int i = u->tx_count++;
    memcpy(u->tx_buf[i], buf, len);
    u->tx_to[i] = *to;
    u->tx_cause[i] = u->cause_us;
    u->tx_iov[i].iov_base = u->tx_buf[i];
    u->tx_iov[i].iov_len = len;
    memset(&u->tx_msg[i].msg_hdr, 0, sizeof u->tx_msg[i].msg_hdr);
    u->tx_msg[i].msg_hdr.msg_name = &u->tx_to[i];
    u->tx_msg[i].msg_hdr.msg_namelen = j_addr_len(to);
    u->tx_msg[i].msg_hdr.msg_iov = &u->tx_iov[i];
    u->tx_msg[i].msg_hdr.msg_iovlen = 1;
}

void j_udp_flush(j_udp *u)
{
    if (u->tx_count == 0) return;
    uint64_t now = j_now_us(); /* one clock read per flush, not per datagram */
    for (int i = 0; i < u->tx_count; i++)
        if (u->tx_cause[i]) j_hist_add(&u->latency.residence, now - u->tx_cause[i]);
    int sent = 0;
    while (sent < u->tx_count) {
        int n = sendmmsg(u->fd, u->tx_msg + sent, (unsigned)(u->tx_count - sent), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            /* A full socket buffer or an unreachable peer: drop this one, keep the rest. */
            u->counters.tx_errors++;
            sent++;
            continue;
        }
        for (int i = sent; i < sent + n; i++) {
            u->counters.tx_datagrams++;
            u->counters.tx_bytes += u->tx_iov[i].iov_len;
        }
        sent += n;
    }
    u->tx_count = 0;
}

void j_udp_get_counters(const j_udp *u, j_udp_counters *out) { *out = u->counters; }

void j_udp_set_cause(j_udp *u, uint64_t cause_us) { u->cause_us = cause_us; }

const j_udp_latency *j_udp_get_latency(const j_udp *u) { return &u->latency; }

int j_local_addresses(const j_addr *bound, j_addr *out, int max)
{
    bool any = bound->sa.sa_family == AF_INET ? bound->v4.sin_addr.s_addr == htonl(INADDR_ANY)
                                               : IN6_IS_ADDR_UNSPECIFIED(&bound->v6.sin6_addr);
    if (!any) {
        if (max < 1) return 0;
        out[0] = *bound;
        return 1;
    }
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0) return 0;
    int n = 0;
    /* Interface addresses first, loopback last: browsers that ignore loopback candidates
     * (Firefox by default) still find one, and a host with no network still gets one. */
    for (int pass = 0; pass < 2; pass++) {
        for (struct ifaddrs *i = ifs; i && n < max; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != bound->sa.sa_family) continue;
            bool loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
            if (!(i->ifa_flags & IFF_UP) || loopback != (pass == 1)) continue;
            j_addr a;
            memset(&a, 0, sizeof a);
            memcpy(&a, i->ifa_addr, bound->sa.sa_family == AF_INET6 ? sizeof a.v6 : sizeof a.v4);
            if (a.sa.sa_family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&a.v6.sin6_addr)) continue;
            j_addr_set_port(&a, j_addr_port(bound));
            out[n++] = a;
        }
    }
    freeifaddrs(ifs);
    return n;
}
