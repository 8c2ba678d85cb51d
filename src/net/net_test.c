/* net_test.c - event loop calls, ticks and UDP batching on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "net/net.h"

typedef struct fixture {
    j_loop *loop;
    j_udp *a, *b;
    int ticks;
    int received;
    int batches; /* receive batches ended */
    uint8_t last[64];
    size_t last_len;
    j_addr last_from;
    int snap_received, snap_ticks, snap_batches; /* copied on the loop thread by read_counts */
    j_udp_latency snap_a, snap_b;
} fixture;

static void on_tick(void *ctx, uint64_t now_us)
{
    (void)now_us;
    ((fixture *)ctx)->ticks++;
}

static void on_datagram(void *ctx, const j_addr *from, uint8_t *buf, size_t len, uint64_t now)
{
    (void)now;
    fixture *f = ctx;
    f->received++;
    f->last_len = len < sizeof f->last ? len : sizeof f->last;
    memcpy(f->last, buf, f->last_len);
    f->last_from = *from;
}

static void on_batch_end(void *ctx) { ((fixture *)ctx)->batches++; }

static void *run_loop(void *arg)
{
    j_loop_run(arg);
    return NULL;
}

static void send_from_a(void *arg)
{
    fixture *f = arg;
    j_addr to;
    j_addr_parse(&to, "127.0.0.1", j_udp_port(f->b));
    /* As if answering input that arrived 1 ms ago; the last 50 answer nothing. */
    j_udp_set_cause(f->a, j_now_us() - 1000);
    for (int i = 0; i < 100; i++) {
        if (i == 50) j_udp_set_cause(f->a, 0);
        j_udp_send(f->a, &to, (const uint8_t *)"hello", 5);
    }
    j_udp_flush(f->a);
}

static void read_counts(void *arg)
{
    fixture *f = arg;
    f->snap_received = f->received;
    f->snap_ticks = f->ticks;
    f->snap_batches = f->batches;
    f->snap_a = *j_udp_get_latency(f->a);
    f->snap_b = *j_udp_get_latency(f->b);
}

static void test_loop_udp_roundtrip(void **state)
{
    (void)state;
    fixture f;
    memset(&f, 0, sizeof f);
    f.loop = j_loop_new(5, on_tick, &f);
    assert_non_null(f.loop);
    j_addr any;
    j_addr_parse(&any, "127.0.0.1", 0);
    char err[128];
    f.a = j_udp_open(f.loop, &any, on_datagram, &f, err, sizeof err);
    f.b = j_udp_open(f.loop, &any, on_datagram, &f, err, sizeof err);
    assert_non_null(f.a);
    assert_non_null(f.b);
    assert_int_not_equal(j_udp_port(f.a), 0);
    j_udp_on_batch_end(f.b, on_batch_end);

    pthread_t t;
    pthread_create(&t, NULL, run_loop, f.loop);
    assert_int_equal(j_loop_call(f.loop, send_from_a, &f), J_OK);
    for (int i = 0; i < 200 && f.snap_received < 100; i++) { /* bounded: at most ~2 s */
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        j_loop_call(f.loop, read_counts, &f); /* only the loop thread touches the counts */
    }
    assert_int_equal(f.snap_received, 100);
    assert_true(f.snap_ticks > 0);
    /* recvmmsg takes up to J_UDP_BATCH datagrams at a time: at least 4 batches, at most one
     * per datagram. */
    assert_true(f.snap_batches >= 100 / J_UDP_BATCH && f.snap_batches <= 100);
    /* Every datagram's wait in b's buffer is measured; a's sends only while they had a
     * cause, each at least the 1 ms since it. */
    assert_int_equal(f.snap_b.rx_wait.count, 100);
    assert_int_equal(f.snap_a.residence.count, 50);
    assert_true(j_hist_percentile(&f.snap_a.residence, 0.0) >= 1000 - 1000 / 16);
    assert_int_equal(f.snap_b.residence.count, 0);
    j_loop_stop(f.loop);
    pthread_join(t, NULL);
    assert_int_equal(j_loop_call(f.loop, read_counts, &f), J_ESTATE);

    j_udp_counters c;
    j_udp_get_counters(f.a, &c);
    assert_int_equal(c.tx_datagrams, 100);
    j_udp_get_counters(f.b, &c);
    assert_int_equal(c.rx_datagrams, 100);
    j_udp_close(f.a);
    j_udp_close(f.b);
    j_loop_free(f.loop);
}

typedef struct notify_fixture {
    j_loop *loop;
    int runs;      /* on the loop thread */
    int snap_runs; /* copied by read_runs */
} notify_fixture;

static void on_notify(void *ctx) { ((notify_fixture *)ctx)->runs++; }

static void read_runs(void *arg)
{
    notify_fixture *f = arg;
    f->snap_runs = f->runs;
}

static void test_notify_wakes_the_loop_thread(void **state)
{
    (void)state;
    notify_fixture f = {0};
    f.loop = j_loop_new(1000, NULL, NULL); /* no tick in the way: only the signal wakes it */
    j_notify *n = j_notify_new(f.loop, on_notify, &f);
    assert_non_null(n);
    pthread_t t;
    pthread_create(&t, NULL, run_loop, f.loop);
    for (int i = 0; i < 50; i++) j_notify_signal(n);
    for (int i = 0; i < 200 && f.snap_runs == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        j_loop_call(f.loop, read_runs, &f);
    }
    /* Coalesced: signals that arrive before the loop reads the eventfd make one wake-up. */
    assert_true(f.snap_runs >= 1 && f.snap_runs <= 50);
    int before = f.snap_runs;
    j_notify_signal(n);
    for (int i = 0; i < 200 && f.snap_runs == before; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        j_loop_call(f.loop, read_runs, &f);
    }
    assert_int_equal(f.snap_runs, before + 1);
    j_loop_stop(f.loop);
    pthread_join(t, NULL);
    j_notify_free(n);
    j_loop_free(f.loop);
}

static void test_local_addresses_loopback(void **state)
{
    (void)state;
    j_addr lo, out[4];
    j_addr_parse(&lo, "127.0.0.1", 4000);
    assert_int_equal(j_local_addresses(&lo, out, 4), 1);
    assert_true(j_addr_equal(&lo, &out[0]));
}

static void test_local_addresses_wildcard_lists_loopback_last(void **state)
{
    (void)state;
    j_addr any, out[16];
    j_addr_parse(&any, "0.0.0.0", 4000);
    int n = j_local_addresses(&any, out, 16);
    assert_true(n >= 1);
    assert_true(j_addr_is_loopback(&out[n - 1])); /* lo is always up */
    for (int i = 0; i < n; i++) assert_int_equal(j_addr_port(&out[i]), 4000);
    for (int i = 1; i < n; i++) /* no interface address after a loopback one */
        assert_true(!j_addr_is_loopback(&out[i - 1]) || j_addr_is_loopback(&out[i]));
}

static void test_hist_percentiles(void **state)
{
    (void)state;
    static j_hist h, other;
    assert_int_equal(j_hist_percentile(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 1000; v++) j_hist_add(&h, v);
    assert_int_equal(h.count, 1000);
    assert_int_equal(j_hist_percentile(&h, 1.0), 1000);
    uint64_t p50 = j_hist_percentile(&h, 0.5), p99 = j_hist_percentile(&h, 0.99);
    assert_true(p50 >= 470 && p50 <= 530);
    assert_true(p99 >= 930 && p99 <= 1000);
    /* Exact below 32. */
    memset(&h, 0, sizeof h);
    for (int i = 0; i < 10; i++) j_hist_add(&h, 7);
    j_hist_add(&h, 20);
    assert_int_equal(j_hist_percentile(&h, 0.5), 7);
    assert_int_equal(j_hist_percentile(&h, 0.95), 20);
    /* Huge values land in the last bucket and are still counted. */
    j_hist_add(&h, UINT64_MAX);
    assert_int_equal(h.max, UINT64_MAX);
    j_hist_add(&other, 3);
    j_hist_merge(&h, &other);
    assert_int_equal(h.count, 13);
    assert_int_equal(j_hist_percentile(&h, 0.0), 3);
}

/* A histogram rebuilt from (lowest value, count) pairs has the same buckets. */
static void test_hist_buckets_round_trip(void **state)
{
    (void)state;
    static j_hist h, copy;
    for (uint64_t v = 0; v < 100000; v += 7) j_hist_add(&h, v);
    for (unsigned i = 0; i < J_HIST_BUCKETS; i++) {
        assert_true(i == 0 || j_hist_bucket_low(i) > j_hist_bucket_low(i - 1));
        j_hist_add_n(&copy, j_hist_bucket_low(i), h.buckets[i]);
    }
    assert_memory_equal(copy.buckets, h.buckets, sizeof h.buckets);
    assert_int_equal(copy.count, h.count);
    j_hist_add_n(&copy, 5, 0); /* no samples: nothing changes */
    assert_int_equal(copy.count, h.count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_percentiles),
        cmocka_unit_test(test_hist_buckets_round_trip),
        cmocka_unit_test(test_loop_udp_roundtrip),
        cmocka_unit_test(test_notify_wakes_the_loop_thread),
        cmocka_unit_test(test_local_addresses_loopback),
        cmocka_unit_test(test_local_addresses_wildcard_lists_loopback_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
