/* engine_test.c - sessions bound to tracks: claims, renegotiation, ICE restart, lifetimes,
 * paused downtracks, audio levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <stdio.h>
#include <stdlib.h>

#include "app/engine.h"
#include "app/engine_test_support.h"
#include "app/offer.h"
#include "core/err.h"
#include "dtls/dtls_test_support.h"
#include "rtp/rtp.h"


static void drop_send(void *ctx, const j_addr *to, const uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)to;
    (void)buf;
    (void)len;
}

static engine *new_engine(int max_subscribers)
{
    engine_config cfg = {.dtls = group_dtls, .consent_timeout_us = 30000000u,
                         .publisher_max_bitrate = 1000000, .max_sessions = 16,
                         .max_subscribers_per_track = max_subscribers};
    engine_io io = {.send = drop_send};
    j_addr bound;
    j_addr_parse(&bound, "127.0.0.1", 40000);
    char err[128];
    engine *e = engine_new(&cfg, &bound, &io, err, sizeof err);
    assert_non_null(e);
    return e;
}

static int add(engine *e, peer_role role, const char *id, const char *ufrag, sdp_negotiated *neg,
               engine_bind *binds, bool update)
{
    engine_session s = session_of(role, id, ufrag, neg, binds);
    return update ? engine_update_session(e, &s, 0) : engine_add_session(e, &s, 0);
}

static json_t *find_track(json_t *stats, const char *id)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(stats, "tracks"), i, t)
        if (strcmp(json_string_value(json_object_get(t, "id")), id) == 0) return t;
    return NULL;
}

static size_t track_count(engine *e)
{
    json_t *st = engine_stats(e, 0);
    size_t n = json_array_size(json_object_get(st, "tracks"));
    json_decref(st);
    return n;
}

static void test_publisher_claims_tracks_and_a_second_one_conflicts(void **state)
{
    (void)state;
    engine *e = new_engine(10);
    sdp_negotiated neg;
    make_neg(&neg, "av", PEER_PUBLISHER, "rem1");
    engine_bind binds[2] = {{.track_id = "TR_a"}, {.track_id = "TR_v"}};
    assert_int_equal(add(e, PEER_PUBLISHER, "pub1", "ufrag001", &neg, binds, false), J_OK);
    assert_int_equal(track_count(e), 2);
    /* What it will send is known before it connects (a viewer's offer is checked against it). */
    sfu_source src;
    assert_int_equal(engine_track_published(e, "TR_v", &src), J_OK);
    assert_int_equal(src.codec_count, 1);
    assert_string_equal(src.codecs[0].name, "VP8");
    assert_int_equal(engine_track_published(e, "TR_none", &src), J_ENOTFOUND);
    assert_int_equal(add(e, PEER_PUBLISHER, "pub2", "ufrag002", &neg, binds, false), J_ESTATE);
    assert_int_equal(add(e, PEER_PUBLISHER, "pub1", "ufrag003", &neg, binds, false), J_ESTATE);
    /* The audio m= onto a video track. */
    engine_bind wrong_kind[2] = {{.track_id = "TR_v"}, {.track_id = "TR_x"}};
    assert_int_equal(add(e, PEER_PUBLISHER, "pub3", "ufrag004", &neg, wrong_kind, false), J_EINVAL);
    assert_int_equal(track_count(e), 2); /* nothing changed by the refusals */
    assert_int_equal(engine_remove_session(e, "pub1", "other owner", "x"), J_ENOTFOUND);
    assert_int_equal(engine_remove_session(e, "pub1", "test", "done"), J_OK);
    assert_int_equal(track_count(e), 0); /* no publisher, no subscriber: freed */
    assert_int_equal(engine_track_published(e, "TR_v", &src), J_ENOTFOUND);
    assert_int_equal(add(e, PEER_PUBLISHER, "pub2", "ufrag002", &neg, binds, false), J_OK);
    engine_free(e);
}

/* A refused binding names its m= section, its track and what is wrong, for the client; a
 * refusal that is not about a binding leaves nothing from an earlier one. */
static void test_refused_binding_names_mid_and_track(void **state)
{
    (void)state;
    engine *e = new_engine(10);
    sdp_negotiated neg;
    make_neg(&neg, "av", PEER_PUBLISHER, "rem1");
    engine_bind binds[2] = {{.track_id = "TR_a"}, {.track_id = "TR_v"}};
    engine_session pub = session_of(PEER_PUBLISHER, "pub1", "ufrag001", &neg, binds);
    assert_int_equal(engine_add_session(e, &pub, 0), J_OK);
    assert_string_equal(pub.refusal, "");

    /* Renegotiated with the kinds of its mids swapped: each mid keeps its track. */
    sdp_negotiated swapped;
    make_neg(&swapped, "va", PEER_PUBLISHER, "rem1");
    pub.neg = &swapped;
    assert_int_equal(engine_update_session(e, &pub, 0), J_EINVAL);
    assert_string_equal(pub.refusal, "m= section mid 0 is video but track TR_a is audio");

    engine_session rival = session_of(PEER_PUBLISHER, "pub2", "ufrag002", &neg, binds);
    assert_int_equal(engine_add_session(e, &rival, 0), J_ESTATE);
    assert_string_equal(rival.refusal,
                        "m= section mid 0: track TR_a already has another publisher");

    /* The id is taken: J_ESTATE too, but no binding to blame (the earlier text is gone). */
    pub.neg = &neg;
    pub.local_ufrag = "ufrag003";
    assert_int_equal(engine_add_session(e, &pub, 0), J_ESTATE);
    assert_string_equal(pub.refusal, "");

    sdp_negotiated sub_neg;
    make_neg(&sub_neg, "a", PEER_SUBSCRIBER, "rem2");
    engine_bind sub_binds[1] = {{.track_id = "TR_v"}};
    engine_session sub = session_of(PEER_SUBSCRIBER, "sub1", "ufrags01", &sub_neg, sub_binds);
    assert_int_equal(engine_add_session(e, &sub, 0), J_EINVAL);
    assert_string_equal(sub.refusal, "m= section mid 0 is audio but track TR_v is video");
    assert_int_equal(track_count(e), 2); /* nothing changed by the refusals */
    engine_free(e);
}

static void test_subscriber_rebinds_only_what_changed(void **state)
{
    (void)state;
    engine *e = new_engine(10);
    sdp_negotiated neg;
    make_neg(&neg, "avv", PEER_SUBSCRIBER, "rem1");
    engine_bind binds[3] = {{.track_id = "TR_a"}, {.track_id = "TR_v"}, {.track_id = ""}};
    assert_int_equal(add(e, PEER_SUBSCRIBER, "sub", "ufragsub", &neg, binds, false), J_OK);
    assert_int_not_equal(binds[0].ssrc, 0);
    assert_int_not_equal(binds[1].ssrc, 0);
    assert_int_equal(binds[2].ssrc, 0); /* nothing bound: nothing sent */
    sfu_source src;
    assert_int_equal(engine_track_published(e, "TR_v", &src), J_ENOTFOUND); /* no publisher */
    uint32_t audio_ssrc = binds[0].ssrc, video_ssrc = binds[1].ssrc;

    /* Renegotiation: mid 0 keeps its track, mid 1 is released, mid 2 gets a track. */
    engine_bind next[3] = {{.track_id = "TR_a"}, {.track_id = ""}, {.track_id = "TR_v2"}};
    assert_int_equal(add(e, PEER_SUBSCRIBER, "sub", "ufragsub", &neg, next, true), J_OK);
    assert_int_equal(next[0].ssrc, audio_ssrc); /* untouched stream */
    assert_int_equal(next[1].ssrc, 0);
    assert_int_not_equal(next[2].ssrc, 0);
    assert_int_not_equal(next[2].ssrc, video_ssrc);
    assert_int_equal(add(e, PEER_SUBSCRIBER, "nobody", "ufragxxx", &neg, next, true), J_ENOTFOUND);
    engine_free(e);
}

static void test_subscriber_limit_per_track(void **state)
{
    (void)state;
    engine *e = new_engine(1);
    sdp_negotiated pub, sub;
    make_neg(&pub, "v", PEER_PUBLISHER, "rem0");
    make_neg(&sub, "v", PEER_SUBSCRIBER, "rem1");
    engine_bind pb[1] = {{.track_id = "TR_v"}};
    assert_int_equal(add(e, PEER_PUBLISHER, "pub", "ufragpub", &pub, pb, false), J_OK);
    /* Downtracks join a track when their connection is up; none is here, so both fit. */
    engine_bind b1[1] = {{.track_id = "TR_v"}}, b2[1] = {{.track_id = "TR_v"}};
    assert_int_equal(add(e, PEER_SUBSCRIBER, "s1", "ufrags01", &sub, b1, false), J_OK);
    assert_int_equal(add(e, PEER_SUBSCRIBER, "s2", "ufrags02", &sub, b2, false), J_OK);
    json_t *st = engine_stats(e, 0);
    assert_int_equal(json_integer_value(json_object_get(find_track(st, "TR_v"), "subscribers")), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "subscribers")), 2);
    json_decref(st);
    engine_free(e);
}

static void test_ice_restart_moves_the_ufrag_route(void **state)
{
    (void)state;
    engine *e = new_engine(10);
    sdp_negotiated neg;
    make_neg(&neg, "a", PEER_PUBLISHER, "rem1");
    engine_bind binds[1] = {{.track_id = "TR_a"}};
    assert_int_equal(add(e, PEER_PUBLISHER, "pub", "oldufrag", &neg, binds, false), J_OK);
    make_neg(&neg, "a", PEER_PUBLISHER, "rem2");
    assert_int_equal(add(e, PEER_PUBLISHER, "pub", "newufrag", &neg, binds, true), J_OK);
    json_t *st = engine_stats(e, 0);
    assert_int_equal(json_integer_value(json_object_get(st, "sessions")), 1);
    assert_int_equal(track_count(e), 1); /* the track stayed through the restart */
    json_decref(st);
    /* A later session may take the old ufrag: the route no longer points at "pub". */
    assert_int_equal(add(e, PEER_PUBLISHER, "pub2", "oldufrag", &neg,
                         (engine_bind[1]){{.track_id = "TR_b"}}, false), J_OK);
    engine_free(e);
}

static void test_mute_unknown_track(void **state)
{
    (void)state;
    engine *e = new_engine(10);
    assert_int_equal(engine_set_track_muted(e, "TR_none", true, 0), J_ENOTFOUND);
    sdp_negotiated neg;
    make_neg(&neg, "v", PEER_PUBLISHER, "rem1");
    engine_bind binds[1] = {{.track_id = "TR_v"}};
    assert_int_equal(add(e, PEER_PUBLISHER, "pub", "ufragpub", &neg, binds, false), J_OK);
    assert_int_equal(engine_set_track_muted(e, "TR_v", true, 0), J_OK);
    json_t *st = engine_stats(e, 0);
    assert_true(json_is_true(json_object_get(find_track(st, "TR_v"), "muted")));
    json_decref(st);
    engine_free(e);
}

/* ---- two engines as two workers, their relay messages passed by hand ---------------- */

#define MAX_QUEUED 32

typedef struct relay_end {
    int index;
    engine *e;
    struct {
        int to;
        engine_relay_msg msg;
    } queue[MAX_QUEUED];
    int queued;
    int rtp_sent;
    uint32_t rtp_relay_id;
} relay_end;

static relay_end ends[2];

static void capture_relay_msg(void *ctx, int to, const engine_relay_msg *m)
{
    relay_end *r = ctx;
    assert_true(r->queued < MAX_QUEUED);
    r->queue[r->queued].to = to;
    r->queue[r->queued++].msg = *m;
}

static void capture_relay_rtp(void *ctx, int to, uint32_t relay_id, uint8_t encoding,
                              const uint8_t *rtp,
                              size_t len, uint64_t arrival_us, bool wake_now)
{
    (void)wake_now;
    (void)to;
    (void)encoding;
    (void)rtp;
    (void)len;
    (void)arrival_us;
    relay_end *r = ctx;
    r->rtp_sent++;
    r->rtp_relay_id = relay_id;
}

static void new_workers(int max_subscribers)
{
    for (int i = 0; i < 2; i++) {
        memset(&ends[i], 0, sizeof ends[i]);
        ends[i].index = i;
        engine_config cfg = {.worker = i, .dtls = group_dtls, .consent_timeout_us = 30000000u,
                             .publisher_max_bitrate = 1000000, .max_sessions = 16,
                             .max_subscribers_per_track = max_subscribers};
        engine_io io = {.send = drop_send, .relay_rtp = capture_relay_rtp,
                        .relay_msg = capture_relay_msg, .ctx = &ends[i]};
        j_addr bound;
        j_addr_parse(&bound, "127.0.0.1", (uint16_t)(40000 + i));
        char err[128];
        ends[i].e = engine_new(&cfg, &bound, &io, err, sizeof err);
        assert_non_null(ends[i].e);
    }
}

static void free_workers(void)
{
    for (int i = 0; i < 2; i++) engine_free(ends[i].e);
}

/* Deliver what worker `from` queued (in order), as its ring would; the kinds delivered. */
static int deliver(int from, engine_relay_kind *kinds, int max)
{
    relay_end *r = &ends[from];
    int n = r->queued;
    for (int i = 0; i < n; i++) {
        if (i < max) kinds[i] = r->queue[i].msg.kind;
        assert_int_equal(r->queue[i].to, 1 - from);
        engine_relay_msg_in(ends[1 - from].e, from, &r->queue[i].msg, 0);
    }
    /* Replies queued while delivering went to the other end's queue, not this one. */
    memmove(r->queue, r->queue + n, (size_t)(r->queued - n) * sizeof r->queue[0]);
    r->queued -= n;
    return n;
}

static json_t *track_stats(int worker, const char *id, json_t **owner)
{
    *owner = engine_stats(ends[worker].e, 0);
    return find_track(*owner, id);
}

static int add_on(int worker, peer_role role, const char *id, const char *ufrag,
                  sdp_negotiated *neg, engine_bind *binds, int origin)
{
    engine_session s = {.role = role, .id = id, .owner = "test", .local_ufrag = ufrag,
                        .local_pwd = "0123456789abcdefghijklmn", .neg = neg, .binds = binds,
                        .origin = origin};
    return engine_add_session(ends[worker].e, &s, 0);
}

/* A VP8 packet (RTP header only is enough for the mirror's accounting). */
static size_t rtp_packet(uint8_t *buf)
{
    rtp_header_out h = {.payload_type = 96, .seq = 7, .timestamp = 9000, .ssrc = 0x1234};
    int n = rtp_write_header(&h, NULL, 0, buf, 1500);
    assert_true(n > 0);
    memcpy(buf + n, "\x10\x50\x01\x00", 4);
    return (size_t)n + 4;
}

static void test_remote_subscriber_gets_a_linked_mirror(void **state)
{
    (void)state;
    new_workers(10);
    sdp_negotiated sub;
    make_neg(&sub, "v", PEER_SUBSCRIBER, "rem1");
    engine_bind b[1] = {{.track_id = "TR_v"}};
    /* A subscriber on worker 1 of a track homed on worker 0. */
    assert_int_equal(add_on(1, PEER_SUBSCRIBER, "sub", "ufragsub", &sub, b, 0), J_OK);
    assert_int_equal(engine_downtracks(ends[1].e), 1);
    engine_relay_kind kinds[4];
    assert_int_equal(deliver(1, kinds, 4), 1);
    assert_int_equal(kinds[0], ENGINE_RELAY_SUBSCRIBE);
    assert_int_equal(deliver(0, kinds, 4), 1);
    assert_int_equal(kinds[0], ENGINE_RELAY_LINKED);

    json_t *st, *t = track_stats(0, "TR_v", &st);
    assert_non_null(t); /* the home keeps the track for its mirror, publisher or not */
    assert_false(json_is_true(json_object_get(t, "mirror")));
    assert_int_equal(json_integer_value(json_object_get(t, "mirrors")), 1);
    json_decref(st);
    t = track_stats(1, "TR_v", &st);
    assert_true(json_is_true(json_object_get(t, "mirror")));
    assert_false(json_is_true(json_object_get(t, "live")));
    json_decref(st);

    /* The home's packets, as relayed, reach the mirror; an unknown relay id does not. */
    uint8_t pkt[1600];
    size_t len = rtp_packet(pkt);
    engine_relay_rtp_in(ends[1].e, 0, 0, 0, pkt, len, 5);
    engine_relay_rtp_in(ends[1].e, 0, 9, 0, pkt, len, 5);
    engine_relay_rtp_in(ends[1].e, 1, 0, 0, pkt, len, 5); /* not from its home */
    t = track_stats(1, "TR_v", &st);
    assert_int_equal(json_integer_value(json_object_get(t, "packets_in")), 1);
    json_t *relay = json_object_get(st, "relay");
    assert_int_equal(json_integer_value(json_object_get(relay, "unlinked")), 2);
    json_decref(st);

    /* The source comes from the home; mute too, and a mirror ignores a direct mute. */
    engine_relay_msg src = {.kind = ENGINE_RELAY_SOURCE, .relay_id = 0, .has_source = true};
    src.source.codec_count = 1;
    src.source.codecs[0].pt = 96;
    strcpy(src.source.codecs[0].name, "VP8");
    src.source.codecs[0].clock_rate = 90000;
    engine_relay_msg_in(ends[1].e, 0, &src, 0);
    assert_int_equal(engine_set_track_muted(ends[1].e, "TR_v", true, 0), J_OK);
    assert_int_equal(engine_set_track_muted(ends[0].e, "TR_v", true, 0), J_OK);
    assert_int_equal(deliver(0, kinds, 4), 1);
    assert_int_equal(kinds[0], ENGINE_RELAY_MUTED);
    t = track_stats(1, "TR_v", &st);
    assert_true(json_is_true(json_object_get(t, "live")));
    assert_true(json_is_true(json_object_get(t, "muted")));
    json_decref(st);

    /* The last subscriber leaves: the mirror unsubscribes and both copies go. */
    assert_int_equal(engine_remove_session(ends[1].e, "sub", NULL, "done"), J_OK);
    assert_int_equal(engine_downtracks(ends[1].e), 0);
    assert_int_equal(track_count(ends[1].e), 0);
    assert_int_equal(deliver(1, kinds, 4), 1);
    assert_int_equal(kinds[0], ENGINE_RELAY_UNSUBSCRIBE);
    assert_int_equal(track_count(ends[0].e), 0);
    engine_relay_rtp_in(ends[1].e, 0, 0, 0, pkt, len, 5); /* a packet still queued: dropped */
    free_workers();
}

static void test_home_relays_a_published_track_once_per_worker(void **state)
{
    (void)state;
    new_workers(10);
    sdp_negotiated pub, sub;
    make_neg(&pub, "v", PEER_PUBLISHER, "rem0");
    make_neg(&sub, "v", PEER_SUBSCRIBER, "rem1");
    engine_bind pb[1] = {{.track_id = "TR_v"}};
    assert_int_equal(add_on(0, PEER_PUBLISHER, "pub", "ufragpub", &pub, pb, 0), J_OK);
    engine_bind b1[1] = {{.track_id = "TR_v"}}, b2[1] = {{.track_id = "TR_v"}};
    assert_int_equal(add_on(1, PEER_SUBSCRIBER, "s1", "ufrags01", &sub, b1, 0), J_OK);
    assert_int_equal(add_on(1, PEER_SUBSCRIBER, "s2", "ufrags02", &sub, b2, 0), J_OK);
    engine_relay_kind kinds[4];
    assert_int_equal(deliver(1, kinds, 4), 1); /* one mirror, one subscribe */
    assert_int_equal(deliver(0, kinds, 4), 1);
    /* A publisher cannot claim a mirror: the track's publisher belongs on its home. */
    engine_bind taken[1] = {{.track_id = "TR_v"}};
    assert_int_equal(add_on(1, PEER_PUBLISHER, "pub2", "ufragpb2", &pub, taken, 1), J_ESTATE);
    /* Unsubscribe, subscribe again before the home has seen either: it ends linked. */
    assert_int_equal(engine_remove_session(ends[1].e, "s1", NULL, "x"), J_OK);
    assert_int_equal(engine_remove_session(ends[1].e, "s2", NULL, "x"), J_OK);
    engine_bind b3[1] = {{.track_id = "TR_v"}};
    assert_int_equal(add_on(1, PEER_SUBSCRIBER, "s3", "ufrags03", &sub, b3, 0), J_OK);
    assert_int_equal(deliver(1, kinds, 4), 2);
    assert_int_equal(kinds[0], ENGINE_RELAY_UNSUBSCRIBE);
    assert_int_equal(kinds[1], ENGINE_RELAY_SUBSCRIBE);
    assert_int_equal(deliver(0, kinds, 4), 1);
    assert_int_equal(kinds[0], ENGINE_RELAY_LINKED);
    uint8_t pkt[1600];
    engine_relay_rtp_in(ends[1].e, 0, 0, 0, pkt, rtp_packet(pkt), 5);
    json_t *st, *t = track_stats(1, "TR_v", &st);
    assert_int_equal(json_integer_value(json_object_get(t, "packets_in")), 1);
    json_decref(st);
    t = track_stats(0, "TR_v", &st);
    assert_int_equal(json_integer_value(json_object_get(t, "mirrors")), 1);
    json_decref(st);
    free_workers();
}

static void test_subscriber_limit_counts_other_workers(void **state)
{
    (void)state;
    new_workers(2);
    sdp_negotiated sub;
    make_neg(&sub, "v", PEER_SUBSCRIBER, "rem1");
    engine_bind b[1] = {{.track_id = "TR_v", .subscribers_elsewhere = 2}};
    assert_int_equal(add_on(0, PEER_SUBSCRIBER, "s1", "ufrags01", &sub, b, 0), J_ELIMIT);
    b[0].subscribers_elsewhere = 1;
    assert_int_equal(add_on(0, PEER_SUBSCRIBER, "s1", "ufrags01", &sub, b, 0), J_OK);
    assert_int_equal(engine_track_subscribers(ends[0].e, "TR_v"), 0); /* not connected */
    assert_int_equal(engine_track_subscribers(ends[0].e, "TR_none"), 0);
    free_workers();
}

static json_t *session_track(json_t *stats, const char *session, const char *mid)
{
    size_t i, j;
    json_t *s, *t;
    json_array_foreach(json_object_get(stats, "session_list"), i, s) {
        if (strcmp(json_string_value(json_object_get(s, "id")), session) != 0) continue;
        json_array_foreach(json_object_get(s, "tracks"), j, t)
            if (strcmp(json_string_value(json_object_get(t, "mid")), mid) == 0) return t;
    }
    return NULL;
}

static bool paused(engine *e, const char *session, const char *mid)
{
    json_t *st = engine_stats(e, 0);
    bool p = json_is_true(json_object_get(session_track(st, session, mid), "paused"));
    json_decref(st);
    return p;
}

static void test_pause_downtracks_of_one_subscriber(void **state)
{
    (void)state;
    engine *e = new_engine(10);
    sdp_negotiated neg;
    make_neg(&neg, "avv", PEER_SUBSCRIBER, "rem1");
    engine_bind b1[3] = {{.track_id = "TR_a"}, {.track_id = "TR_v1"}, {.track_id = "TR_v2"}};
    engine_bind b2[3] = {{.track_id = "TR_a"}, {.track_id = "TR_v1"}, {.track_id = "TR_v2"}};
    assert_int_equal(add(e, PEER_SUBSCRIBER, "s1", "ufrags01", &neg, b1, false), J_OK);
    assert_int_equal(add(e, PEER_SUBSCRIBER, "s2", "ufrags02", &neg, b2, false), J_OK);
    const char *video[] = {"TR_v1", "TR_v2", "TR_elsewhere"};
    assert_int_equal(engine_set_paused(e, "s1", video, 3, 0), J_OK);
    assert_false(paused(e, "s1", "0"));
    assert_true(paused(e, "s1", "1"));
    assert_true(paused(e, "s1", "2"));
    assert_false(paused(e, "s2", "1")); /* the other subscriber is untouched */
    assert_int_equal(engine_set_paused(e, "s1", video + 1, 1, 0), J_OK); /* only TR_v2 now */
    assert_false(paused(e, "s1", "1"));
    assert_true(paused(e, "s1", "2"));
    assert_int_equal(engine_set_paused(e, "s1", NULL, 0, 0), J_OK);
    assert_false(paused(e, "s1", "2"));
    assert_int_equal(engine_set_paused(e, "nobody", video, 3, 0), J_ENOTFOUND);

    sdp_negotiated pub;
    make_neg(&pub, "a", PEER_PUBLISHER, "rem2");
    engine_bind pb[1] = {{.track_id = "TR_mic"}};
    assert_int_equal(add(e, PEER_PUBLISHER, "pub", "ufragpub", &pub, pb, false), J_OK);
    assert_int_equal(engine_set_paused(e, "pub", video, 3, 0), J_ENOTFOUND); /* not a subscriber */
    sfu_audio_levels lv = {1, 1};
    assert_int_equal(engine_take_audio_levels(e, "TR_mic", &lv), J_OK);
    assert_int_equal(lv.packets, 0); /* nothing received yet */
    assert_int_equal(engine_take_audio_levels(e, "TR_none", &lv), J_ENOTFOUND);
    engine_free(e);
}


static char *read_fixture(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "testdata/sdp/%s", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[64 * 1024];
    *len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[*len] = '\0';
    return text;
}

/* A publisher's simulcast offer: its three rid streams received, with the rid, repaired rid
 * and MID extensions; a subscriber's offer gets no simulcast but the Dependency Descriptor
 * when it offers one. */
static void test_offer_negotiates_simulcast(void **state)
{
    (void)state;
    size_t len;
    const char *text = read_fixture("chromium_simulcast_offer.sdp", &len);
    app_offer o;
    char detail[256];
    assert_int_equal(app_offer_negotiate(&o, PEER_PUBLISHER, text, len, detail, sizeof detail),
                     J_OK);
    const sdp_neg_media *v = &o.neg->media[0];
    assert_int_equal(v->encoding_count, 3);
    assert_true(v->ext_id[SDP_EXT_RID] && v->ext_id[SDP_EXT_RRID] && v->ext_id[SDP_EXT_MID]);
    assert_true(v->ext_id[SDP_EXT_DEPENDENCY_DESCRIPTOR]);
    app_offer_free(&o);

    text = read_fixture("chromium_view_offer.sdp", &len);
    assert_int_equal(app_offer_negotiate(&o, PEER_SUBSCRIBER, text, len, detail, sizeof detail),
                     J_OK);
    for (int i = 0; i < o.neg->media_count; i++) {
        assert_int_equal(o.neg->media[i].encoding_count, 0);
        assert_int_equal(o.neg->media[i].ext_id[SDP_EXT_RID], 0); /* we send one stream */
    }
    app_offer_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publisher_claims_tracks_and_a_second_one_conflicts),
        cmocka_unit_test(test_refused_binding_names_mid_and_track),
        cmocka_unit_test(test_subscriber_rebinds_only_what_changed),
        cmocka_unit_test(test_subscriber_limit_per_track),
        cmocka_unit_test(test_ice_restart_moves_the_ufrag_route),
        cmocka_unit_test(test_mute_unknown_track),
        cmocka_unit_test(test_remote_subscriber_gets_a_linked_mirror),
        cmocka_unit_test(test_home_relays_a_published_track_once_per_worker),
        cmocka_unit_test(test_subscriber_limit_counts_other_workers),
        cmocka_unit_test(test_pause_downtracks_of_one_subscriber),
        cmocka_unit_test(test_offer_negotiates_simulcast),
    };
    return cmocka_run_group_tests(tests, dtls_group_setup, dtls_group_teardown);
}
