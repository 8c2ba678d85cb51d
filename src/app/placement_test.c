/* placement_test.c - stable, spread-out homes; subscribers home until their stream or room
 * passes the threshold there, then to the least-loaded worker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "app/placement.h"

static void test_home_is_stable_and_in_range(void **state)
{
    (void)state;
    /* FNV-1a 32 of "demo" is 0xAEFD3536; of "" the offset basis 0x811C9DC5. */
    assert_int_equal(placement_home("demo", 7), (int)(0xAEFD3536u % 7));
    assert_int_equal(placement_home("", 5), (int)(0x811C9DC5u % 5));
    for (int workers = 1; workers <= 64; workers++) {
        int h = placement_home("room-42", workers);
        assert_true(h >= 0 && h < workers);
        assert_int_equal(placement_home("room-42", workers), h); /* same answer every time */
    }
    assert_int_equal(placement_home("anything", 1), 0);
    assert_int_equal(placement_home("anything", 0), 0);
}

static void test_homes_spread_over_workers(void **state)
{
    (void)state;
    int count[4] = {0};
    char name[32];
    for (int i = 0; i < 4000; i++) {
        snprintf(name, sizeof name, "room%d", i);
        count[placement_home(name, 4)]++;
    }
    for (int w = 0; w < 4; w++) assert_true(count[w] > 800 && count[w] < 1200); /* ~1000 each */
}

static void test_subscribers_stay_home_up_to_the_threshold(void **state)
{
    (void)state;
    size_t load[3] = {200, 0, 0};
    assert_int_equal(placement_subscriber(0, 200, load, 3, 200), 0); /* not more than 200 yet */
    load[0] = 201;
    assert_int_equal(placement_subscriber(0, 201, load, 3, 200), 1); /* least loaded, lowest index */
    load[1] = 5;
    assert_int_equal(placement_subscriber(0, 201, load, 3, 200), 2);
    load[2] = 300;
    assert_int_equal(placement_subscriber(0, 201, load, 3, 200), 1);
}

static void test_small_rooms_stay_home_on_a_busy_worker(void **state)
{
    (void)state;
    /* 100 rooms of 4 on worker 0 (1200 downtracks), nothing on 1: a room's own 12 are what
     * counts, so the 4th participant of the 101st room still goes home. */
    size_t load[2] = {1200, 0};
    assert_int_equal(placement_subscriber(0, 12, load, 2, 200), 0);
    assert_int_equal(placement_subscriber(0, 201, load, 2, 200), 1); /* a big one spreads */
}

static void test_ties_prefer_home(void **state)
{
    (void)state;
    size_t load[3] = {7, 7, 7};
    assert_int_equal(placement_subscriber(1, 7, load, 3, 2), 1);
    size_t uneven[3] = {3, 7, 3};
    assert_int_equal(placement_subscriber(1, 7, uneven, 3, 2), 0);
}

static void test_threshold_one_spreads_the_second_viewer(void **state)
{
    (void)state;
    /* The e2e scenario: two workers, threshold 1, each WHEP viewer binds 2 downtracks. */
    size_t load[2] = {0, 0};
    int home = 1, placed[3];
    for (int v = 0; v < 3; v++) {
        placed[v] = placement_subscriber(home, load[home], load, 2, 1);
        load[placed[v]] += 2;
    }
    assert_int_equal(placed[0], 1);
    assert_int_equal(placed[1], 0);
    assert_int_equal(placed[2], 1); /* 2 and 2: home wins the tie */
}

static void test_single_worker(void **state)
{
    (void)state;
    size_t load[1] = {1000};
    assert_int_equal(placement_subscriber(0, 1000, load, 1, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_home_is_stable_and_in_range),
        cmocka_unit_test(test_homes_spread_over_workers),
        cmocka_unit_test(test_subscribers_stay_home_up_to_the_threshold),
        cmocka_unit_test(test_small_rooms_stay_home_on_a_busy_worker),
        cmocka_unit_test(test_ties_prefer_home),
        cmocka_unit_test(test_threshold_one_spreads_the_second_viewer),
        cmocka_unit_test(test_single_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
