/* media_test.c - where media_add_session puts subscribers, on two real workers: a stream or
 * room stays on its home worker until its own downtracks there pass workers.spread_threshold,
 * however many other small ones share that worker; joins, renegotiations and leaves keep the
 * count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "app/engine_test_support.h"
#include "app/media.h"
#include "app/placement.h"
#include "core/err.h"
#include "dtls/dtls_test_support.h"

#define THRESHOLD 3 /* two viewers (4 downtracks) stay home; the third spreads */

static media *start_media(void)
{
    media_config c = {.workers = 2, .spread_threshold = THRESHOLD};
    c.engine = (engine_config){.dtls = group_dtls, .consent_timeout_us = 30000000u,
                               .publisher_max_bitrate = 1000000, .max_sessions = 64,
                               .max_subscribers_per_track = 64};
    j_addr_parse(&c.listen, "127.0.0.1", 0);
    char err[128];
    media *m = media_start(&c, err, sizeof err);
    assert_non_null(m);
    return m;
}

/* Adds (or, with update, renegotiates) subscriber id of name with an audio and a video m=,
 * bound to name's two tracks unless unbound; the worker it is on. */
static int subscribe(media *m, const char *name, const char *id, bool unbound, bool update)
{
    static int serial;
    char ufrag[16], audio[32], video[32];
    snprintf(ufrag, sizeof ufrag, "uf%06d", ++serial);
    snprintf(audio, sizeof audio, "%s-a", unbound ? "" : name);
    snprintf(video, sizeof video, "%s-v", unbound ? "" : name);
    sdp_negotiated neg;
    make_neg(&neg, "av", PEER_SUBSCRIBER, ufrag);
    engine_bind binds[2] = {0};
    if (!unbound) {
        snprintf(binds[0].track_id, sizeof binds[0].track_id, "%s", audio);
        snprintf(binds[1].track_id, sizeof binds[1].track_id, "%s", video);
    }
    engine_session s = session_of(PEER_SUBSCRIBER, id, ufrag, &neg, binds);
    int worker = -1;
    int rc = update ? media_update_session(m, &s, &worker) : media_add_session(m, name, &s, &worker);
    assert_int_equal(rc, J_OK);
    return worker;
}

/* The first of names "<prefix>0".. whose home is worker home (name written to out). */
static void name_homed_at(int home, const char *prefix, char *out, size_t cap)
{
    for (int i = 0; i < 1000; i++) {
        snprintf(out, cap, "%s%d", prefix, i);
        if (placement_home(out, 2) == home) return;
    }
    fail_msg("no name of prefix %s homes at %d", prefix, home);
}

static void test_small_streams_stay_home_and_a_big_one_spreads(void **state)
{
    (void)state;
    media *m = start_media();
    char name[32], id[32];
    /* Six small streams on worker 0, two viewers each: 24 downtracks there, none elsewhere. */
    for (int i = 0; i < 6; i++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "small%d-", i);
        name_homed_at(0, prefix, name, sizeof name);
        for (int v = 0; v < 2; v++) {
            snprintf(id, sizeof id, "s%d-%d", i, v);
            assert_int_equal(subscribe(m, name, id, false, false), 0);
        }
    }
    /* A big one: home until it has more than 3 downtracks there, then the other worker. */
    name_homed_at(0, "big", name, sizeof name);
    assert_int_equal(subscribe(m, name, "b0", false, false), 0);
    assert_int_equal(subscribe(m, name, "b1", false, false), 0);
    assert_int_equal(subscribe(m, name, "b2", false, false), 1);
    assert_int_equal(subscribe(m, name, "b3", false, false), 1); /* 28 on worker 0, 2 on 1 */
    /* Its home viewers leave: back under the threshold, the next one goes home again. */
    assert_int_equal(media_remove_session(m, "b0", "test", "left"), J_OK);
    assert_int_equal(media_remove_session(m, "b1", "test", "left"), J_OK);
    assert_int_equal(subscribe(m, name, "b4", false, false), 0);
    media_stop(m);
}

static void test_room_subscribers_count_the_tracks_they_bind_later(void **state)
{
    (void)state;
    media *m = start_media();
    char room[32];
    name_homed_at(1, "room", room, sizeof room);
    /* Room participants' subscribe connections start with nothing bound: all home. */
    assert_int_equal(subscribe(m, room, "p0", true, false), 1);
    assert_int_equal(subscribe(m, room, "p1", true, false), 1);
    assert_int_equal(subscribe(m, room, "p2", true, false), 1);
    /* Others publish: each renegotiates to two downtracks, 6 at home in all. */
    for (int p = 0; p < 3; p++) {
        char id[8];
        snprintf(id, sizeof id, "p%d", p);
        assert_int_equal(subscribe(m, room, id, false, true), 1);
    }
    assert_int_equal(subscribe(m, room, "p3", true, false), 0);
    /* Unbinding counts too: 2 left at home. */
    assert_int_equal(subscribe(m, room, "p0", true, true), 1);
    assert_int_equal(subscribe(m, room, "p1", true, true), 1);
    assert_int_equal(subscribe(m, room, "p4", true, false), 1);
    media_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_streams_stay_home_and_a_big_one_spreads),
        cmocka_unit_test(test_room_subscribers_count_the_tracks_they_bind_later),
    };
    return cmocka_run_group_tests(tests, dtls_group_setup, dtls_group_teardown);
}
