/* net.h - the only module that touches sockets, epoll and the clock.
 *
 * j_loop: one epoll event loop per thread, with fd callbacks, a coalesced tick
 * for timers, and j_loop_call() so another thread (the HTTP thread) can run a
 * function on the loop's thread and wait for it: the loop's state is owned by
 * its thread and never locked.
 * j_notify: an eventfd another thread signals to wake the loop (cross-thread queues).
 * j_udp: a non-blocking UDP socket with batched receive (recvmmsg) and a send
 * queue flushed with sendmmsg.
 */
#ifndef J_NET_NET_H
#define J_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

/* j_now_us - monotonic microseconds; the time every sans-I/O module is fed. */
uint64_t j_now_us(void);

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

/* j_local_addresses - ICE host candidates for a socket bound to `bound`: that address when
 * it is specific; for a wildcard bind, the host's addresses of its family, interface
 * addresses first and loopback last (IPv6 link-local skipped). Returns the count. */
int j_local_addresses(const j_addr *bound, j_addr *out, int max);

#endif
