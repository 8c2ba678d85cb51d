/* spsc_test.c - ring order, wraparound, full ring, batched publish/release, and a producer
 * and a consumer on two threads checking every item arrives once and in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "core/spsc.h"

typedef struct item {
    uint64_t seq;
    uint8_t fill[100];
} item;

static bool push_item(j_spsc *r, uint64_t seq)
{
    item *it = j_spsc_write_slot(r);
    if (!it) return false;
    it->seq = seq;
    memset(it->fill, (int)(seq & 0xFF), sizeof it->fill);
    j_spsc_push(r);
    return true;
}

/* Pops one item and checks it is seq, contents included. */
static void expect_item(j_spsc *r, uint64_t seq)
{
    item *it = j_spsc_read_slot(r);
    assert_non_null(it);
    assert_int_equal(it->seq, seq);
    for (size_t i = 0; i < sizeof it->fill; i++) assert_int_equal(it->fill[i], seq & 0xFF);
    j_spsc_pop(r);
}

static void test_rejects_bad_sizes(void **state)
{
    (void)state;
    assert_null(j_spsc_new(0, 8));
    assert_null(j_spsc_new(16, 0));
    assert_null(j_spsc_new(16, 1));
    assert_null(j_spsc_new(16, 12)); /* not a power of two */
    j_spsc *r = j_spsc_new(16, 2);
    assert_non_null(r);
    assert_int_equal(j_spsc_capacity(r), 2);
    j_spsc_free(r);
    j_spsc_free(NULL);
}

static void test_nothing_visible_before_publish(void **state)
{
    (void)state;
    j_spsc *r = j_spsc_new(sizeof(item), 8);
    assert_null(j_spsc_read_slot(r));
    assert_false(j_spsc_publish(r)); /* nothing pushed */
    assert_true(push_item(r, 1));
    assert_true(push_item(r, 2));
    assert_null(j_spsc_read_slot(r)); /* pushed, not published */
    assert_true(j_spsc_publish(r));
    assert_false(j_spsc_publish(r)); /* already published */
    expect_item(r, 1);
    expect_item(r, 2);
    assert_null(j_spsc_read_slot(r));
    j_spsc_release(r);
    j_spsc_free(r);
}

static void test_write_slot_is_stable_until_push(void **state)
{
    (void)state;
    j_spsc *r = j_spsc_new(sizeof(item), 4);
    void *a = j_spsc_write_slot(r);
    assert_ptr_equal(j_spsc_write_slot(r), a); /* a refused item costs nothing */
    j_spsc_push(r);
    assert_ptr_not_equal(j_spsc_write_slot(r), a);
    j_spsc_free(r);
}

static void test_full_ring_refuses_until_released(void **state)
{
    (void)state;
    j_spsc *r = j_spsc_new(sizeof(item), 4);
    for (uint64_t i = 0; i < 4; i++) assert_true(push_item(r, i));
    assert_false(push_item(r, 4)); /* full */
    j_spsc_publish(r);
    expect_item(r, 0);
    expect_item(r, 1);
    assert_false(push_item(r, 4)); /* popped but not released: still full */
    j_spsc_release(r);
    assert_true(push_item(r, 4));
    assert_true(push_item(r, 5));
    assert_false(push_item(r, 6));
    j_spsc_publish(r);
    for (uint64_t i = 2; i < 6; i++) expect_item(r, i);
    assert_null(j_spsc_read_slot(r));
    j_spsc_free(r);
}

static void test_wraps_around_many_times(void **state)
{
    (void)state;
    j_spsc *r = j_spsc_new(sizeof(item), 8);
    uint64_t next_in = 0, next_out = 0;
    /* Batches of 1..7 items through an 8-slot ring: the indices wrap hundreds of times. */
    for (int round = 0; round < 1000; round++) {
        int batch = 1 + round % 7;
        for (int i = 0; i < batch; i++) assert_true(push_item(r, next_in++));
        j_spsc_publish(r);
        while (j_spsc_read_slot(r)) expect_item(r, next_out++);
        j_spsc_release(r);
    }
    assert_int_equal(next_out, next_in);
    j_spsc_free(r);
}

static void test_slots_are_cache_line_aligned(void **state)
{
    (void)state;
    j_spsc *r = j_spsc_new(100, 4);
    uint8_t *a = j_spsc_write_slot(r);
    assert_int_equal((uintptr_t)a % 64, 0);
    j_spsc_push(r);
    uint8_t *b = j_spsc_write_slot(r);
    assert_int_equal((uintptr_t)b % 64, 0);
    assert_int_equal(b - a, 128); /* 100 bytes rounded up to two cache lines */
    j_spsc_free(r);
}

#define STRESS_ITEMS 1000000u

static void *stress_producer(void *arg)
{
    j_spsc *r = arg;
    uint64_t seq = 0;
    unsigned pending = 0;
    while (seq < STRESS_ITEMS) {
        if (push_item(r, seq)) {
            seq++;
            /* Publish in irregular batches, as a worker does after each receive batch. */
            if (++pending == 1 + seq % 13) {
                j_spsc_publish(r);
                pending = 0;
            }
        } else {
            j_spsc_publish(r); /* full: let the consumer see what is there */
            sched_yield();     /* and let it run when both share one core */
        }
    }
    j_spsc_publish(r);
    return NULL;
}

static void test_two_threads_deliver_everything_in_order(void **state)
{
    (void)state;
    j_spsc *r = j_spsc_new(sizeof(item), 256);
    pthread_t producer;
    assert_int_equal(pthread_create(&producer, NULL, stress_producer, r), 0);
    uint64_t expected = 0;
    unsigned popped = 0;
    while (expected < STRESS_ITEMS) {
        item *it = j_spsc_read_slot(r);
        if (!it) {
            j_spsc_release(r);
            sched_yield();
            continue;
        }
        /* Contents must be complete: written before the publish that made them visible. */
        assert_int_equal(it->seq, expected);
        assert_int_equal(it->fill[0], expected & 0xFF);
        assert_int_equal(it->fill[sizeof it->fill - 1], expected & 0xFF);
        j_spsc_pop(r);
        expected++;
        if (++popped == 1 + expected % 7) {
            j_spsc_release(r);
            popped = 0;
        }
    }
    j_spsc_release(r);
    pthread_join(producer, NULL);
    assert_null(j_spsc_read_slot(r));
    j_spsc_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_bad_sizes),
        cmocka_unit_test(test_nothing_visible_before_publish),
        cmocka_unit_test(test_write_slot_is_stable_until_push),
        cmocka_unit_test(test_full_ring_refuses_until_released),
        cmocka_unit_test(test_wraps_around_many_times),
        cmocka_unit_test(test_slots_are_cache_line_aligned),
        cmocka_unit_test(test_two_threads_deliver_everything_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
