/* net.h - the only module that touches sockets, epoll and the clock.
 *
 * j_loop: one epoll event loop per thread, with fd callbacks, a coalesced tick
 * for timers, and j_loop_call() so another thread (the HTTP thread) can run a
 * function on the loop's thread and wait for it: the loop's state is owned by
 * its thread and never locked.
 * j_notify: an eventfd another thread signals to wake the loop (cross-thread queues).
 * j_udp: a non-blocking UDP socket with batched receive (recvmmsg) and a send
 * queue flushed with sendmmsg; it measures how long datagrams wait in it (j_udp_latency).
 * j_hist: a histogram of microsecond values (latencies), fixed size, no allocation.
 */
#ifndef J_NET_NET_H
#define J_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

/* j_now_us - monotonic microseconds; the time every sans-I/O module is fed. */
uint64_t j_now_us(void);

/* A log-linear histogram of microsecond values: exact below 32, then 16 buckets per
 * power of two (under 6.25% error). */
#define J_HIST_BUCKETS (32 + 16 * 40)
typedef struct j_hist {
    uint64_t count;
    uint64_t max;
    uint64_t buckets[J_HIST_BUCKETS];
} j_hist;

void j_hist_add(j_hist *h, uint64_t value);
/* j_hist_add_n - n samples of value at once (a histogram rebuilt from its buckets). */
void j_hist_add_n(j_hist *h, uint64_t value, uint64_t n);
/* j_hist_bucket_low - the smallest value that lands in bucket i (< J_HIST_BUCKETS). */
uint64_t j_hist_bucket_low(unsigned i);
/* j_hist_merge - add every sample of src to dst. */
void j_hist_merge(j_hist *dst, const j_hist *src);
/* j_hist_percentile - the value at quantile q (0..1): the middle of its bucket (the
 * exact maximum for q = 1). 0 when empty. */
uint64_t j_hist_percentile(const j_hist *h, double q);

typedef struct j_loop j_loop;
typedef void (*j_fd_fn)(void *ctx, uint32_t events);
typedef void (*j_tick_fn)(void *ctx, uint64_t now_us);
typedef void (*j_call_fn)(void *arg);

/* j_loop_new - tick_fn runs at least every tick_ms milliseconds on the loop's thread. */
j_loop *j_loop_new(unsigned tick_ms, j_tick_fn tick_fn, void *tick_ctx);
void j_loop_free(j_loop *l);
int j_loop_add_fd(j_loop *l, int fd, j_fd_fn fn, void *ctx);
/* j_loop_run - serve events until j_loop_stop; call on the owning thread. */
void j_loop_run(j_loop *l);
/* j_loop_stop - thread-safe. */
void j_loop_stop(j_loop *l);
/* j_loop_call - run fn(arg) on the loop's thread and wait for it to return.
 * Thread-safe; from the loop's own thread it runs fn directly. Returns J_OK,
 * or J_ESTATE when the loop has stopped (fn did not run). */
int j_loop_call(j_loop *l, j_call_fn fn, void *arg);

/* j_notify - an eventfd watched by a loop: any thread may signal it, and fn runs on the
 * loop's thread once per wake-up however many signals arrived meanwhile (the consumer side
 * of a lock-free queue drains everything there is when it runs). */
typedef struct j_notify j_notify;
typedef void (*j_notify_fn)(void *ctx);
j_notify *j_notify_new(j_loop *l, j_notify_fn fn, void *ctx);
/* j_notify_signal - thread-safe, never blocks: one write(2) to the eventfd. */
void j_notify_signal(j_notify *n);
/* j_notify_free - after the loop has stopped. */
void j_notify_free(j_notify *n);

#define J_UDP_BATCH 32
#define J_UDP_MTU 1500

typedef struct j_udp j_udp;
/* j_udp_datagram_fn - one received datagram; buf is valid only during the call. */
typedef void (*j_udp_datagram_fn)(void *ctx, const j_addr *from, uint8_t *buf, size_t len,
                                  uint64_t now_us);

/* j_udp_open - bind addr (port 0 picks one) and register with the loop. */
j_udp *j_udp_open(j_loop *loop, const j_addr *addr, j_udp_datagram_fn fn, void *ctx,
                  char *err, size_t err_cap);
void j_udp_close(j_udp *u);
/* j_udp_on_batch_end - fn(ctx of j_udp_open) runs after each receive batch, before the send
 * queue is flushed: where a caller hands on what the batch produced, once per batch. */
void j_udp_on_batch_end(j_udp *u, void (*fn)(void *ctx));
uint16_t j_udp_port(const j_udp *u);
/* j_udp_send - queue a datagram (copied); the queue is flushed with sendmmsg after each
 * receive batch and tick, or at once when full. */
void j_udp_send(j_udp *u, const j_addr *to, const uint8_t *buf, size_t len);
void j_udp_flush(j_udp *u);

typedef struct j_udp_counters {
    uint64_t rx_datagrams, rx_bytes, tx_datagrams, tx_bytes, tx_errors;
} j_udp_counters;
void j_udp_get_counters(const j_udp *u, j_udp_counters *out);

/* Where a datagram's time goes inside the server, per socket (its owner thread's, no
 * atomics: read it on that thread):
 *   rx_wait   - kernel receive timestamp -> the recvmmsg that read it: time in the socket's
 *               buffer, i.e. how long the thread was busy elsewhere or not running;
 *   residence - the input a sent datagram answers (j_udp_set_cause) -> the sendmmsg that
 *               sent it: the handling, fan-out and send queue in between. */
typedef struct j_udp_latency {
    j_hist rx_wait, residence;
} j_udp_latency;
/* j_udp_set_cause - datagrams queued from now on answer input that this process received
 * at cause_us (j_now_us time); 0: they answer none (timers), and are not measured. During a
 * receive batch the cause is that batch's receive time; it returns to 0 after it. */
void j_udp_set_cause(j_udp *u, uint64_t cause_us);
const j_udp_latency *j_udp_get_latency(const j_udp *u);

/* j_local_addresses - ICE host candidates for a socket bound to `bound`: that address when
 * it is specific; for a wildcard bind, the host's addresses of its family, interface
 * addresses first and loopback last (IPv6 link-local skipped). Returns the count. */
int j_local_addresses(const j_addr *bound, j_addr *out, int max);

#endif
