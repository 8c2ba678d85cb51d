/* video_gate_test.c - pause below the floor, resume with a margin, probe with back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sfu/video_gate.h"

#define MS 1000u
#define S 1000000u

static sfu_video_gate gate(void)
{
    sfu_video_gate g;
    sfu_video_gate_config cfg = {.min_bps = 150000};
    sfu_video_gate_init(&g, &cfg);
    return g;
}

/* Feed estimate every 50 ms from `from` to `to`; the events seen, by kind. */
static void run(sfu_video_gate *g, uint64_t estimate, uint64_t from, uint64_t to, int counts[4])
{
    for (uint64_t t = from; t < to; t += 50 * MS) counts[sfu_video_gate_update(g, estimate, t)]++;
}

static void test_dip_shorter_than_the_hold_does_not_pause(void **state)
{
    (void)state;
    sfu_video_gate g = gate();
    int ev[4] = {0};
    run(&g, 500000, 0, 2 * S, ev);
    run(&g, 100000, 2 * S, 2 * S + 900 * MS, ev);
    run(&g, 500000, 2 * S + 900 * MS, 4 * S, ev);
    run(&g, 100000, 4 * S, 4 * S + 900 * MS, ev);
    assert_int_equal(ev[SFU_VIDEO_GATE_NONE], 40 + 18 + 22 + 18);
    assert_false(g.paused);
}

static void test_pauses_after_a_second_and_resumes_with_margin(void **state)
{
    (void)state;
    sfu_video_gate g = gate();
    assert_int_equal(sfu_video_gate_update(&g, 100000, 10 * S), SFU_VIDEO_GATE_NONE);
    assert_int_equal(sfu_video_gate_update(&g, 140000, 10 * S + 999 * MS), SFU_VIDEO_GATE_NONE);
    assert_int_equal(sfu_video_gate_update(&g, 140000, 11 * S), SFU_VIDEO_GATE_PAUSE);
    /* At the floor is not enough to resume: 25% more is. */
    assert_int_equal(sfu_video_gate_update(&g, 160000, 11 * S + 500 * MS), SFU_VIDEO_GATE_NONE);
    assert_int_equal(sfu_video_gate_update(&g, 187500, 12 * S), SFU_VIDEO_GATE_RESUME);
    /* The estimate may dip right after a resume without pausing again at once. */
    int ev[4] = {0};
    run(&g, 100000, 12 * S, 15 * S, ev);
    assert_int_equal(ev[SFU_VIDEO_GATE_PAUSE], 0);
    assert_int_equal(sfu_video_gate_update(&g, 100000, 15 * S), SFU_VIDEO_GATE_NONE);
    assert_int_equal(sfu_video_gate_update(&g, 100000, 16 * S), SFU_VIDEO_GATE_PAUSE);
}

static void test_probes_back_off_while_they_fail(void **state)
{
    (void)state;
    sfu_video_gate g = gate();
    sfu_video_gate_update(&g, 50000, 0);
    assert_int_equal(sfu_video_gate_update(&g, 50000, 1 * S), SFU_VIDEO_GATE_PAUSE);
    assert_int_equal(sfu_video_gate_probe_start_bps(&g), 187500);
    uint64_t t = 1 * S, expected_wait = 4 * S;
    for (int probe = 0; probe < 6; probe++) {
        int ev[4] = {0};
        run(&g, 50000, t, t + expected_wait - 50 * MS, ev);
        assert_int_equal(ev[SFU_VIDEO_GATE_PROBE], 0);
        t += expected_wait;
        assert_int_equal(sfu_video_gate_update(&g, 50000, t), SFU_VIDEO_GATE_PROBE);
        /* The probe fails: after its grace and a second below the floor, paused again. */
        run(&g, 50000, t + 50 * MS, t + 4 * S + 50 * MS, ev);
        assert_int_equal(ev[SFU_VIDEO_GATE_PAUSE], 1);
        t += 4 * S; /* when it paused */
        if (expected_wait < 32 * S) expected_wait *= 2;
    }
    /* A probe that holds resets the back-off. */
    t += expected_wait;
    assert_int_equal(sfu_video_gate_update(&g, 50000, t), SFU_VIDEO_GATE_PROBE);
    int ev[4] = {0};
    run(&g, 400000, t + 50 * MS, t + 5 * S + 50 * MS, ev);
    assert_int_equal(ev[SFU_VIDEO_GATE_NONE], 100);
    assert_int_equal(g.probe_wait_us, 4 * S);
}

static void test_no_floor_never_pauses(void **state)
{
    (void)state;
    sfu_video_gate g;
    sfu_video_gate_init(&g, NULL);
    int ev[4] = {0};
    run(&g, 0, 0, 10 * S, ev);
    assert_int_equal(ev[SFU_VIDEO_GATE_NONE], 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dip_shorter_than_the_hold_does_not_pause),
        cmocka_unit_test(test_pauses_after_a_second_and_resumes_with_margin),
        cmocka_unit_test(test_probes_back_off_while_they_fail),
        cmocka_unit_test(test_no_floor_never_pauses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
