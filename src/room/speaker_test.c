/* speaker_test.c - active and dominant speaker detection on a virtual clock: 20 ms audio
 * packets with RFC 6464 levels, an update every 100 ms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "room/speaker.h"

#define MS 1000u
#define SEC 1000000u

typedef enum {
    SILENT,       /* muted or quiet: level 127, no voice */
    SPEECH,       /* 200 ms syllables at -25 dBov, 100 ms pauses at -60 dBov */
    LOUD_SPEECH,  /* the same at -15 dBov */
    NOISE_QUIET,  /* steady -75 dBov: below the silence level */
    NOISE_STEADY, /* steady -45 dBov: above it, a fan next to the microphone */
} sound;

static void sample(sound snd, uint64_t t, uint8_t *level, bool *voice)
{
    bool pause = (t / (100 * MS)) % 3 == 2;
    *level = 127;
    *voice = true;
    switch (snd) {
    case SILENT: *level = 127, *voice = false; break;
    case SPEECH: *level = pause ? 60 : 25; break;
    case LOUD_SPEECH: *level = pause ? 60 : 15; break;
    case NOISE_QUIET: *level = 75; break;
    case NOISE_STEADY: *level = 45; break;
    }
}

typedef struct {
    room_speakers *s;
    int slot[3];
    uint64_t now;
} room;

static void room_init(room *r, size_t n)
{
    r->s = room_speakers_new(8, NULL);
    assert_non_null(r->s);
    for (size_t i = 0; i < n; i++) {
        r->slot[i] = room_speakers_add(r->s, 100 + i);
        assert_true(r->slot[i] >= 0);
    }
    r->now = 0;
    room_speakers_update(r->s, 0);
}

/* 100 ms of audio from each source, then an update; the update's flags. */
static unsigned step(room *r, size_t n, const sound *sounds)
{
    for (uint64_t t = r->now; t < r->now + 100 * MS; t += 20 * MS) {
        for (size_t i = 0; i < n; i++) {
            uint8_t level;
            bool voice;
            sample(sounds[i], t, &level, &voice);
            room_speakers_level(r->s, r->slot[i], level, voice);
        }
    }
    r->now += 100 * MS;
    return room_speakers_update(r->s, r->now);
}

/* Run for `duration`; the first time the dominant speaker is `key` (0 if it never is). */
static uint64_t run_until_dominant(room *r, size_t n, const sound *sounds, uint64_t duration,
                                   uint64_t key)
{
    uint64_t first = 0;
    for (uint64_t end = r->now + duration; r->now < end;) {
        step(r, n, sounds);
        uint64_t d;
        if (!first && room_speakers_dominant(r->s, &d) && d == key) first = r->now;
    }
    return first;
}

static uint64_t dominant(const room *r)
{
    uint64_t d = 0;
    return room_speakers_dominant(r->s, &d) ? d : 0;
}

/* Two publishers, one silent: the other is dominant within 2 s. */
static void test_one_silent_other_dominant(void **state)
{
    (void)state;
    room r;
    room_init(&r, 2);
    assert_int_equal(dominant(&r), 0);
    const sound sounds[] = {SILENT, SPEECH};
    uint64_t at = run_until_dominant(&r, 2, sounds, 5 * SEC, 101);
    assert_true(at > 0 && at <= 2 * SEC);
    assert_int_equal(dominant(&r), 101);
    room_speaker_level active[4];
    assert_int_equal(room_speakers_active(r.s, active, 4), 1);
    assert_int_equal(active[0].key, 101);
    room_speakers_free(r.s);
}

/* The last speaker falls silent and another starts: the switch waits about a second, then
 * happens within 2 s. */
static void test_takeover_after_silence(void **state)
{
    (void)state;
    room r;
    room_init(&r, 2);
    const sound a_speaks[] = {SPEECH, SILENT}, b_speaks[] = {SILENT, SPEECH};
    run_until_dominant(&r, 2, a_speaks, 3 * SEC, 100);
    assert_int_equal(dominant(&r), 100);
    uint64_t started = r.now;
    uint64_t at = run_until_dominant(&r, 2, b_speaks, 5 * SEC, 101);
    assert_true(at >= started + ROOM_SPEAKERS_DEFAULT_SWITCH_AFTER_US);
    assert_true(at <= started + 2 * SEC);
    room_speakers_free(r.s);
}

static void test_silence_keeps_last_speaker(void **state)
{
    (void)state;
    room r;
    room_init(&r, 2);
    const sound a_speaks[] = {SPEECH, SILENT}, quiet[] = {SILENT, SILENT};
    unsigned flags = 0;
    for (int i = 0; i < 30; i++) flags |= step(&r, 2, a_speaks);
    assert_true(flags & ROOM_SPEAKERS_DOMINANT_CHANGED);
    assert_true(flags & ROOM_SPEAKERS_ACTIVE_CHANGED);
    flags = 0;
    for (int i = 0; i < 100; i++) flags |= step(&r, 2, quiet);
    assert_int_equal(flags, ROOM_SPEAKERS_ACTIVE_CHANGED); /* A stopped speaking, and only that */
    assert_int_equal(dominant(&r), 100);
    room_speaker_level active[4];
    assert_int_equal(room_speakers_active(r.s, active, 4), 0);
    room_speakers_free(r.s);
}

static void test_alternation(void **state)
{
    (void)state;
    room r;
    room_init(&r, 3);
    const sound a[] = {SPEECH, SILENT, SILENT}, b[] = {SILENT, SPEECH, SILENT};
    uint64_t t = run_until_dominant(&r, 3, a, 4 * SEC, 100);
    assert_true(t > 0 && t <= 2 * SEC);
    uint64_t turn = r.now;
    t = run_until_dominant(&r, 3, b, 4 * SEC, 101);
    assert_true(t > turn && t <= turn + 2 * SEC);
    turn = r.now;
    t = run_until_dominant(&r, 3, a, 4 * SEC, 100);
    assert_true(t > turn && t <= turn + 2 * SEC);
    /* The last speakers, most recent first; the silent third never spoke. */
    uint64_t keys[3];
    assert_int_equal(room_speakers_recent(r.s, keys, 3), 2);
    assert_int_equal(keys[0], 100);
    assert_int_equal(keys[1], 101);
    assert_int_equal(room_speakers_recent(r.s, keys, 1), 1);
    assert_int_equal(keys[0], 100);
    room_speakers_free(r.s);
}

/* A louder half-second interjection does not take the floor. */
static void test_interjection_keeps_speaker(void **state)
{
    (void)state;
    room r;
    room_init(&r, 2);
    const sound a[] = {SPEECH, SILENT}, both[] = {SPEECH, LOUD_SPEECH};
    run_until_dominant(&r, 2, a, 3 * SEC, 100);
    for (int i = 0; i < 5; i++) step(&r, 2, both);
    for (int i = 0; i < 30; i++) {
        step(&r, 2, a);
        assert_int_equal(dominant(&r), 100);
    }
    room_speakers_free(r.s);
}

static void test_noise_floor(void **state)
{
    (void)state;
    /* Noise below the silence level never speaks, even alone. */
    room r;
    room_init(&r, 1);
    const sound quiet[] = {NOISE_QUIET};
    for (int i = 0; i < 200; i++) {
        assert_int_equal(step(&r, 1, quiet), 0);
        assert_int_equal(dominant(&r), 0);
    }
    room_speakers_free(r.s);

    /* Steady noise above it stops counting once its background is known; a speaker then
     * takes the floor from it. */
    room_init(&r, 2);
    const sound fan[] = {NOISE_STEADY, SILENT}, fan_and_speech[] = {NOISE_STEADY, SPEECH};
    for (int i = 0; i < 150; i++) step(&r, 2, fan);
    room_speaker_level active[4];
    assert_int_equal(room_speakers_active(r.s, active, 4), 0);
    uint64_t started = r.now;
    uint64_t at = run_until_dominant(&r, 2, fan_and_speech, 5 * SEC, 101);
    assert_true(at > started && at <= started + 2 * SEC);
    assert_int_equal(room_speakers_active(r.s, active, 4), 1);
    assert_int_equal(active[0].key, 101);
    room_speakers_free(r.s);
}

static void test_active_list_loudest_first(void **state)
{
    (void)state;
    room r;
    room_init(&r, 3);
    const sound sounds[] = {SPEECH, LOUD_SPEECH, SILENT};
    for (int i = 0; i < 20; i++) step(&r, 3, sounds);
    room_speaker_level active[4];
    assert_int_equal(room_speakers_active(r.s, active, 4), 2);
    assert_int_equal(active[0].key, 101);
    assert_int_equal(active[1].key, 100);
    assert_true(active[0].loudness_db > active[1].loudness_db);
    assert_int_equal(room_speakers_active(r.s, active, 1), 1);
    uint64_t keys[4];
    assert_int_equal(room_speakers_recent(r.s, keys, 4), 2);
    assert_int_equal(keys[0], 101);
    room_speakers_free(r.s);
}

static void test_slots(void **state)
{
    (void)state;
    room_speakers *s = room_speakers_new(2, NULL);
    assert_non_null(s);
    assert_null(room_speakers_new(0, NULL));
    int a = room_speakers_add(s, 7);
    assert_int_equal(room_speakers_add(s, 7), a);
    int b = room_speakers_add(s, 8);
    assert_true(a >= 0 && b >= 0 && a != b);
    assert_int_equal(room_speakers_add(s, 9), J_ELIMIT);
    /* Out-of-range slots and levels are harmless. */
    room_speakers_level(s, -1, 0, true);
    room_speakers_level(s, 2, 0, true);
    room_speakers_remove(s, 5);

    room_speakers_update(s, 0);
    uint64_t now = 0;
    for (int i = 0; i < 20; i++) {
        for (int p = 0; p < 5; p++) {
            room_speakers_level(s, a, 20, true);
            room_speakers_level(s, b, 200, true); /* not a 7-bit level: silence */
        }
        room_speakers_update(s, now += 100 * MS);
    }
    uint64_t key;
    assert_true(room_speakers_dominant(s, &key));
    assert_int_equal(key, 7);
    /* The dominant speaker leaves: reported at the next update; its slot is reused. */
    room_speakers_remove(s, a);
    assert_false(room_speakers_dominant(s, &key));
    unsigned flags = room_speakers_update(s, now += 100 * MS);
    assert_int_equal(flags, ROOM_SPEAKERS_DOMINANT_CHANGED | ROOM_SPEAKERS_ACTIVE_CHANGED);
    assert_false(room_speakers_dominant(s, &key));
    assert_int_equal(room_speakers_add(s, 9), a);
    uint64_t keys[2];
    assert_int_equal(room_speakers_recent(s, keys, 2), 0);
    room_speakers_free(s);
    room_speakers_free(NULL);
}

/* Levels summed elsewhere (the media plane) count as the same packets one by one. */
static void test_summed_loudness_equals_packets(void **state)
{
    (void)state;
    room r;
    room_init(&r, 2);
    for (int i = 0; i < 20; i++) {
        for (int p = 0; p < 5; p++) room_speakers_level(r.s, r.slot[0], 25, true);
        room_speakers_loudness(r.s, r.slot[1], 5 * (127 - 25), 5);
        r.now += 100 * MS;
        room_speakers_update(r.s, r.now);
        assert_true(r.s->slots[r.slot[0]].score == r.s->slots[r.slot[1]].score);
    }
    assert_true(r.s->slots[r.slot[1]].active);
    room_speakers_loudness(r.s, -1, 1, 1); /* ignored */
    room_speakers_loudness(r.s, 7, 1, 1);
    room_speakers_free(r.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_silent_other_dominant),
        cmocka_unit_test(test_takeover_after_silence),
        cmocka_unit_test(test_silence_keeps_last_speaker),
        cmocka_unit_test(test_alternation),
        cmocka_unit_test(test_interjection_keeps_speaker),
        cmocka_unit_test(test_noise_floor),
        cmocka_unit_test(test_active_list_loudest_first),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_summed_loudness_equals_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
