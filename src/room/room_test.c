/* room_test.c - the /rtc state machine against a fake room_io that records every call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "room/room.h"
#include "room/rtc_msg.h"

#define S (1000000ull)

/* ---- the fake glue ------------------------------------------------------------------ */

typedef struct sent_msg {
    room_conn_id conn;
    json_t *msg;
} sent_msg;

static struct {
    sent_msg sent[1024];
    size_t n_sent;
    struct {
        room_conn_id conn;
        int code;
        char reason[64];
    } closes[64];
    size_t n_closes;
    char removed[16][ROOM_ID_LEN];
    size_t n_removed;
    size_t n_set_muted;
    bool last_muted;
    size_t n_publish, n_subscribe;
    room_pub_track pub[64];
    room_sub_pair sub[64];
    size_t n_pub, n_sub;
    char publish_room[65]; /* room_participant_room(sid) as seen from inside publish */
    bool has_stats;
    room_media_stats stats;
    /* audio levels: per 200 ms, 10 packets of this loudness from each listed track */
    struct {
        char track[ROOM_ID_LEN];
        uint32_t loudness;
    } loud[8];
    size_t n_loud;
    size_t n_level_calls, n_level_entries; /* entries of the last call */
    char level_tracks[16][ROOM_ID_LEN];
    /* set_paused: how often, and the last call */
    size_t n_set_paused;
    char paused_sid[ROOM_ID_LEN];
    char paused[16][ROOM_ID_LEN];
    size_t n_paused;
    /* set_layers: how often, and the last call */
    size_t n_set_layers;
    char layers_sid[ROOM_ID_LEN], layers_track[ROOM_ID_LEN];
    room_track_layers layers;
} fake;

static void fake_send(void *ctx, room_conn_id c, const char *json, size_t len)
{
    (void)ctx;
    json_error_t err;
    json_t *msg = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!msg) fail_msg("not JSON: %.*s (%s)", (int)len, json, err.text);
    assert_true(fake.n_sent < sizeof fake.sent / sizeof fake.sent[0]);
    fake.sent[fake.n_sent++] = (sent_msg){c, msg};
}

static void fake_close(void *ctx, room_conn_id c, int code, const char *reason)
{
    (void)ctx;
    assert_true(fake.n_closes < 64);
    fake.closes[fake.n_closes].conn = c;
    fake.closes[fake.n_closes].code = code;
    snprintf(fake.closes[fake.n_closes].reason, 64, "%s", reason);
    fake.n_closes++;
}

/* Tokens of the fake: NULL = open mode, "err:<code>" is refused with that code, a token
 * containing "nopub" / "nosub" lacks that grant. The identity comes from the join. */
static const char *fake_authenticate(void *ctx, const char *token, const char *room,
                                     const char *identity, const char *name, room_grants *out,
                                     char *msg, size_t cap)
{
    (void)ctx;
    if (token && strncmp(token, "err:", 4) == 0) {
        static char code[64];
        snprintf(code, sizeof code, "%s", token + 4);
        snprintf(msg, cap, "refused: %s", code);
        return code;
    }
    snprintf(out->identity, sizeof out->identity, "%s", identity ? identity : "");
    snprintf(out->name, sizeof out->name, "%s", name ? name : "");
    snprintf(out->room, sizeof out->room, "%s", room);
    out->publish = !(token && strstr(token, "nopub"));
    out->subscribe = !(token && strstr(token, "nosub"));
    return NULL;
}

/* Publish: sdp "bad" fails; a mid starting with 'x' is rejected; audio for microphone and
 * screen_audio, video otherwise. */
static room_server *rs;

static int fake_publish(void *ctx, const char *sid, const char *sdp, size_t sdp_len,
                        room_pub_track *tracks, size_t n, char **answer, const char **err_code,
                        char *msg, size_t cap)
{
    (void)ctx;
    fake.n_publish++;
    const char *room = room_participant_room(rs, sid); /* how the glue places the session */
    snprintf(fake.publish_room, sizeof fake.publish_room, "%s", room ? room : "");
    if (sdp_len == 3 && memcmp(sdp, "bad", 3) == 0) {
        *err_code = "sdp_invalid";
        snprintf(msg, cap, "line 1: no v=");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (tracks[i].mid[0] == 'x') tracks[i].kind = -1;
        else if (!strcmp(tracks[i].source, "microphone") || !strcmp(tracks[i].source, "screen_audio"))
            tracks[i].kind = 0;
        else tracks[i].kind = 1;
    }
    memcpy(fake.pub, tracks, n * sizeof *tracks);
    fake.n_pub = n;
    *answer = strdup("answer-pub");
    return 0;
}

/* Subscribe: sdp "bad" fails; mid "nocodec" is not bound, its track's codecs being ones the
 * offer lacks. */
static int fake_subscribe(void *ctx, const char *sid, const char *sdp, size_t sdp_len,
                          room_sub_pair *pairs, size_t n, char **answer, const char **err_code,
                          char *msg, size_t cap)
{
    (void)ctx;
    (void)sid;
    fake.n_subscribe++;
    if (sdp_len == 3 && memcmp(sdp, "bad", 3) == 0) {
        *err_code = "sdp_unsupported";
        snprintf(msg, cap, "no BUNDLE");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(pairs[i].mid, "nocodec") != 0 || !pairs[i].track_id[0]) continue;
        pairs[i].track_id[0] = '\0'; /* as the glue does: not bound, and why */
        snprintf(pairs[i].no_codec, sizeof pairs[i].no_codec,
                 "video: the publisher sends H264 High; this offer accepts VP8");
    }
    memcpy(fake.sub, pairs, n * sizeof *pairs);
    fake.n_sub = n;
    *answer = strdup("answer-sub");
    return 0;
}

static void fake_set_muted(void *ctx, const char *track_id, bool muted)
{
    (void)ctx;
    (void)track_id;
    fake.n_set_muted++;
    fake.last_muted = muted;
}

static void fake_remove_media(void *ctx, const char *sid)
{
    (void)ctx;
    assert_true(fake.n_removed < 16);
    snprintf(fake.removed[fake.n_removed++], ROOM_ID_LEN, "%s", sid);
}

static bool fake_media_stats(void *ctx, const char *sid, room_media_stats *out)
{
    (void)ctx;
    (void)sid;
    *out = fake.stats;
    return fake.has_stats;
}

static void fake_audio_levels(void *ctx, room_audio_level *entries, size_t n)
{
    (void)ctx;
    fake.n_level_calls++;
    fake.n_level_entries = n;
    for (size_t i = 0; i < n; i++) {
        if (i < 16) snprintf(fake.level_tracks[i], ROOM_ID_LEN, "%s", entries[i].track_id);
        entries[i].packets = 10;
        for (size_t k = 0; k < fake.n_loud; k++)
            if (!strcmp(fake.loud[k].track, entries[i].track_id))
                entries[i].loudness_sum = 10 * fake.loud[k].loudness;
    }
}

static void fake_set_paused(void *ctx, const char *sid, const char *const *track_ids, size_t n)
{
    (void)ctx;
    fake.n_set_paused++;
    snprintf(fake.paused_sid, ROOM_ID_LEN, "%s", sid);
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) snprintf(fake.paused[i], ROOM_ID_LEN, "%s", track_ids[i]);
    fake.n_paused = n;
}

static void fake_set_layers(void *ctx, const char *sid, const char *track_id,
                            const room_track_layers *layers)
{
    (void)ctx;
    fake.n_set_layers++;
    snprintf(fake.layers_sid, ROOM_ID_LEN, "%s", sid);
    snprintf(fake.layers_track, ROOM_ID_LEN, "%s", track_id);
    fake.layers = *layers;
}

static const room_io fake_io = {
    .send = fake_send,
    .close = fake_close,
    .authenticate = fake_authenticate,
    .publish = fake_publish,
    .subscribe = fake_subscribe,
    .set_muted = fake_set_muted,
    .remove_media = fake_remove_media,
    .media_stats = fake_media_stats,
    .audio_levels = fake_audio_levels,
    .set_paused = fake_set_paused,
    .set_layers = fake_set_layers,
};

static const room_limits limits = {
    .max_participants = 3,
    .max_tracks_per_participant = 3,
    .max_messages_per_second = 10,
    .empty_timeout_s = 60,
    .resume_grace_s = 20,
    .max_message_size = 4096,
};

static uint64_t now;

static void forget_sent(void)
{
    for (size_t i = 0; i < fake.n_sent; i++) json_decref(fake.sent[i].msg);
    fake.n_sent = 0;
}

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof fake);
    now = 1000 * S;
    rs = room_server_new(&limits, &fake_io);
    return rs ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    room_server_free(rs);
    forget_sent();
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

static void say(room_conn_id c, const char *text)
{
    room_conn_message(rs, c, (const uint8_t *)text, strlen(text), now);
}

static void sayf(room_conn_id c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sayf(room_conn_id c, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    say(c, text);
}

static const char *type_of(const json_t *m) { return json_string_value(json_object_get(m, "type")); }

/* count - messages of type sent to c since the last forget_sent(). */
static size_t count(room_conn_id c, const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < fake.n_sent; i++)
        if (fake.sent[i].conn == c && !strcmp(type_of(fake.sent[i].msg), type)) n++;
    return n;
}

/* count_to - messages sent to c, the periodic connection_quality aside. */
static size_t count_to(room_conn_id c)
{
    size_t n = 0;
    for (size_t i = 0; i < fake.n_sent; i++)
        n += fake.sent[i].conn == c && strcmp(type_of(fake.sent[i].msg), "connection_quality");
    return n;
}

/* last - the last message of type sent to c (fails the test if none). */
static json_t *last(room_conn_id c, const char *type)
{
    for (size_t i = fake.n_sent; i-- > 0;)
        if (fake.sent[i].conn == c && !strcmp(type_of(fake.sent[i].msg), type))
            return fake.sent[i].msg;
    fail_msg("no %s sent to connection %llu", type, (unsigned long long)c);
    return NULL;
}

static const char *str(const json_t *m, const char *path)
{
    const json_t *v = m;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save, *key = strtok_r(buf, ".", &save); key; key = strtok_r(NULL, ".", &save))
        v = json_object_get(v, key);
    return json_string_value(v);
}

static void expect_error(room_conn_id c, const char *code)
{
    json_t *e = last(c, "error");
    assert_string_equal(str(e, "code"), code);
}

static bool closed_with(room_conn_id c, int code)
{
    for (size_t i = 0; i < fake.n_closes; i++)
        if (fake.closes[i].conn == c && fake.closes[i].code == code) return true;
    return false;
}

/* join - open c and join room as identity; the new sid in sid (may be NULL). */
static void join(room_conn_id c, const char *room, const char *identity, char *sid)
{
    room_conn_open(rs, c, "192.0.2.1", now);
    sayf(c, "{\"type\":\"join\",\"id\":1,\"room\":\"%s\",\"identity\":\"%s\"}", room, identity);
    json_t *j = last(c, "joined");
    if (sid) snprintf(sid, ROOM_ID_LEN, "%s", str(j, "participant.sid"));
}

/* publish - publish mids with sources ("0:microphone 1:camera"); the track id of each
 * accepted mid in ids[] in order of the answer. */
static void publish(room_conn_id c, const char *spec, char ids[][ROOM_ID_LEN])
{
    char text[1024], buf[256];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"type\":\"publish\",\"id\":2,\"sdp\":\"v=0\",\"tracks\":[");
    snprintf(buf, sizeof buf, "%s", spec);
    int i = 0;
    for (char *save, *e = strtok_r(buf, " ", &save); e; e = strtok_r(NULL, " ", &save), i++) {
        char *colon = strchr(e, ':');
        *colon = '\0';
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"mid\":\"%s\",\"source\":\"%s\"}",
                              i ? "," : "", e, colon + 1);
    }
    snprintf(text + n, sizeof text - n, "]}");
    say(c, text);
    json_t *tracks = json_object_get(last(c, "publish_answer"), "tracks");
    for (size_t k = 0; ids && k < json_array_size(tracks); k++)
        snprintf(ids[k], ROOM_ID_LEN, "%s", str(json_array_get(tracks, k), "id"));
}

static size_t participants_in(const char *room)
{
    json_t *r = room_get_json(rs, room, now, 1700000000);
    if (!r) return 0;
    size_t n = json_array_size(json_object_get(r, "participants"));
    json_decref(r);
    return n;
}

/* ---- join --------------------------------------------------------------------------- */

static void test_join_and_room_state(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], b[ROOM_ID_LEN];
    join(1, "demo", "alice", a);
    json_t *j = last(1, "joined");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    assert_int_equal(strlen(a), 15);
    assert_memory_equal(a, "PA_", 3);
    assert_string_equal(str(j, "participant.identity"), "alice");
    assert_string_equal(str(j, "participant.name"), "alice"); /* defaults to the identity */
    assert_string_equal(str(j, "room.name"), "demo");
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "room"), "participants")), 0);
    assert_int_equal(strlen(str(j, "session")), 32);
    assert_int_equal(json_integer_value(json_object_get(j, "resume_grace")), 20);
    assert_true(json_is_false(json_object_get(j, "resumed")));
    assert_true(json_is_array(json_object_get(j, "ice_servers")));

    char pub[2][ROOM_ID_LEN];
    publish(1, "0:microphone 1:camera", pub);
    forget_sent();
    room_conn_open(rs, 2, "192.0.2.2", now);
    say(2, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"bob\",\"name\":\"Bob B\"}");
    j = last(2, "joined");
    snprintf(b, sizeof b, "%s", str(j, "participant.sid"));
    assert_string_not_equal(a, b);
    assert_string_equal(str(j, "participant.name"), "Bob B");
    assert_null(json_object_get(j, "id"));
    /* The state: alice with her two tracks. */
    json_t *others = json_object_get(json_object_get(j, "room"), "participants");
    assert_int_equal(json_array_size(others), 1);
    json_t *alice = json_array_get(others, 0);
    assert_string_equal(str(alice, "sid"), a);
    json_t *tracks = json_object_get(alice, "tracks");
    assert_int_equal(json_array_size(tracks), 2);
    assert_string_equal(str(json_array_get(tracks, 0), "id"), pub[0]);
    assert_string_equal(str(json_array_get(tracks, 0), "kind"), "audio");
    assert_string_equal(str(json_array_get(tracks, 1), "kind"), "video");
    assert_null(json_object_get(json_array_get(tracks, 0), "mid")); /* only in publish_answer */
    /* The others hear of bob; bob does not hear of himself. */
    assert_string_equal(str(last(1, "participant_joined"), "participant.sid"), b);
    assert_int_equal(count(2, "participant_joined"), 0);
    assert_int_equal(count_to(2), 1);
}

static void test_join_token_errors(void **state)
{
    (void)state;
    static const char *codes[] = {"token_missing", "token_malformed", "token_bad_signature",
                                  "token_wrong_algorithm", "token_unknown_key", "token_too_large",
                                  "token_expired", "token_not_yet_valid", "token_wrong_room"};
    join(1, "demo", "alice", NULL);
    forget_sent();
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        room_conn_id c = 10 + i;
        room_conn_open(rs, c, "198.51.100.7", now);
        sayf(c, "{\"type\":\"join\",\"id\":\"x\",\"room\":\"demo\",\"token\":\"err:%s\"}", codes[i]);
        json_t *e = last(c, "error");
        assert_string_equal(str(e, "code"), codes[i]);
        assert_string_equal(str(e, "id"), "x");
        char want[80];
        snprintf(want, sizeof want, "refused: %s", codes[i]);
        assert_string_equal(str(e, "message"), want);
        assert_true(closed_with(c, 1008));
        /* A closing connection is deaf. */
        say(c, "{\"type\":\"ping\"}");
        assert_int_equal(count_to(c), 1);
        room_conn_closed(rs, c, now);
    }
    assert_int_equal(participants_in("demo"), 1);
    assert_int_equal(count_to(1), 0); /* nothing reached the room */
}

static void test_join_errors_that_keep_the_connection(void **state)
{
    (void)state;
    room_conn_open(rs, 1, "192.0.2.1", now);
    say(1, "{\"type\":\"ping\",\"id\":4}");
    expect_error(1, "not_joined");
    assert_int_equal(json_integer_value(json_object_get(last(1, "error"), "id")), 4);
    say(1, "{\"type\":\"join\",\"room\":\"demo\"}"); /* open mode without an identity */
    expect_error(1, "bad_request");
    say(1, "{\"type\":\"join\",\"room\":\"a/b\",\"identity\":\"x\"}");
    expect_error(1, "bad_request");
    assert_int_equal(fake.n_closes, 0);
    assert_null(room_get_json(rs, "demo", now, 0));
    say(1, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"x\"}");
    last(1, "joined");
    say(1, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"y\"}");
    expect_error(1, "already_joined");
    say(1, "{\"type\":\"ping\",\"id\":\"p\"}");
    assert_string_equal(str(last(1, "pong"), "id"), "p");
    assert_int_equal(participants_in("demo"), 1);
    assert_int_equal(fake.n_closes, 0);
}

static void test_malformed_messages_change_nothing(void **state)
{
    (void)state;
    static const struct {
        const char *text, *code;
    } cases[] = {
        {"not json", "bad_message"},
        {"[]", "bad_message"},
        {"{\"id\":1}", "bad_message"},
        {"{\"type\":\"fly\"}", "unknown_type"},
        {"{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"0\"}]}", "bad_request"},
        {"{\"type\":\"publish\",\"sdp\":5,\"tracks\":[]}", "bad_request"},
        {"{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":1}}", "bad_request"},
        {"{\"type\":\"mute\",\"track\":\"TR_x\",\"muted\":\"no\"}", "bad_request"},
        {"{\"type\":\"mute\",\"track\":\"TR_x\",\"muted\":true,\"muted\":false}", "bad_message"},
    };
    char a[ROOM_ID_LEN], ids[2][ROOM_ID_LEN];
    join(1, "demo", "alice", a);
    join(2, "demo", "bob", NULL);
    publish(1, "0:microphone 1:camera", ids);
    json_t *before = room_get_json(rs, "demo", now, 0);
    size_t publishes = fake.n_publish;
    forget_sent();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        say(1, cases[i].text);
        expect_error(1, cases[i].code);
    }
    json_t *after = room_get_json(rs, "demo", now, 0);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    assert_int_equal(count_to(2), 0);
    assert_int_equal(fake.n_publish, publishes);
    assert_int_equal(fake.n_closes, 0);
}

static void test_two_rooms_are_isolated(void **state)
{
    (void)state;
    char ids[2][ROOM_ID_LEN], other[1][ROOM_ID_LEN];
    join(1, "red", "alice", NULL);
    join(2, "red", "bob", NULL);
    join(3, "blue", "alice", NULL); /* the same identity in another room is someone else */
    assert_int_equal(count(1, "participant_joined"), 1);
    assert_int_equal(count(3, "participant_joined"), 0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(last(3, "joined"), "room"),
                                                     "participants")),
                     0);
    publish(1, "0:microphone 1:camera", ids);
    assert_string_equal(fake.publish_room, "red");
    publish(3, "0:camera", other);
    assert_string_equal(fake.publish_room, "blue");
    assert_null(room_participant_room(rs, "PA_nobody"));
    assert_int_equal(count(2, "track_published"), 2);
    assert_int_equal(count(3, "track_published"), 0);
    assert_int_equal(count(1, "track_published"), 0);
    /* blue cannot receive red's tracks, nor mute them. */
    sayf(3, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":\"%s\"}}", ids[1]);
    assert_true(json_is_null(json_object_get(json_object_get(last(3, "subscribe_answer"), "tracks"), "0")));
    assert_string_equal(fake.sub[0].track_id, "");
    sayf(3, "{\"type\":\"mute\",\"track\":\"%s\",\"muted\":true}", ids[1]);
    expect_error(3, "unknown_track");
    say(1, "{\"type\":\"leave\"}");
    assert_int_equal(count(2, "participant_left"), 1);
    assert_int_equal(count(3, "participant_left"), 0);
    assert_int_equal(count(3, "track_unpublished"), 0);
}

/* ---- publish, subscribe, mute ------------------------------------------------------- */

static void test_publish_diff(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], first[3][ROOM_ID_LEN], second[3][ROOM_ID_LEN];
    join(1, "demo", "alice", a);
    join(2, "demo", "bob", NULL);
    forget_sent();
    publish(1, "0:microphone 1:camera x2:screen", first); /* x2 is rejected by the media plane */
    json_t *answer = last(1, "publish_answer");
    assert_string_equal(str(answer, "sdp"), "answer-pub");
    assert_int_equal(json_integer_value(json_object_get(answer, "id")), 2);
    json_t *tracks = json_object_get(answer, "tracks");
    assert_int_equal(json_array_size(tracks), 2);
    assert_string_equal(str(json_array_get(tracks, 0), "mid"), "0");
    assert_string_equal(str(json_array_get(tracks, 0), "participant"), a);
    assert_string_equal(str(json_array_get(tracks, 1), "mid"), "1");
    assert_string_equal(str(json_array_get(tracks, 1), "source"), "camera");
    assert_memory_equal(first[0], "TR_", 3);
    assert_string_not_equal(first[0], first[1]);
    /* The media plane got ids for every entry, the rejected one included. */
    assert_int_equal(fake.n_pub, 3);
    assert_string_equal(fake.pub[0].track_id, first[0]);
    assert_memory_equal(fake.pub[2].track_id, "TR_", 3);
    assert_int_equal(count(2, "track_published"), 2);
    assert_int_equal(count(1, "track_published"), 0);
    assert_null(json_object_get(json_object_get(last(2, "track_published"), "track"), "mid"));

    /* Again: mid 0 stopped, 1 stays, 3 is new. */
    forget_sent();
    publish(1, "1:camera 3:screen_audio", second);
    assert_string_equal(second[0], first[1]);
    assert_string_not_equal(second[1], first[0]);
    assert_int_equal(count(2, "track_unpublished"), 1);
    assert_string_equal(str(last(2, "track_unpublished"), "track"), first[0]);
    assert_string_equal(str(last(2, "track_unpublished"), "participant"), a);
    assert_int_equal(count(2, "track_published"), 1);
    assert_string_equal(str(last(2, "track_published"), "track.id"), second[1]);
    assert_string_equal(str(last(2, "track_published"), "track.kind"), "audio");

    /* The same offer once more changes nothing for the others. */
    forget_sent();
    publish(1, "1:camera 3:screen_audio", NULL);
    assert_int_equal(count_to(2), 0);

    /* An empty publish unpublishes everything. */
    say(1, "{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[]}");
    assert_int_equal(count(2, "track_unpublished"), 2);
    assert_int_equal(json_array_size(json_object_get(last(1, "publish_answer"), "tracks")), 0);
}

static void test_publish_refusals(void **state)
{
    (void)state;
    char ids[1][ROOM_ID_LEN];
    join(1, "demo", "alice", NULL);
    join(2, "demo", "bob", NULL);
    publish(1, "0:camera", ids);
    forget_sent();
    /* More tracks than the limit (3). */
    say(1, "{\"type\":\"publish\",\"id\":9,\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"0\",\"source\":"
           "\"camera\"},{\"mid\":\"1\",\"source\":\"camera\"},{\"mid\":\"2\",\"source\":\"camera\"},"
           "{\"mid\":\"3\",\"source\":\"camera\"}]}");
    expect_error(1, "too_many_tracks");
    assert_int_equal(json_integer_value(json_object_get(last(1, "error"), "id")), 9);
    /* The media plane refuses the offer. */
    say(1, "{\"type\":\"publish\",\"sdp\":\"bad\",\"tracks\":[{\"mid\":\"5\",\"source\":\"camera\"}]}");
    expect_error(1, "sdp_invalid");
    assert_string_equal(str(last(1, "error"), "message"), "line 1: no v=");
    assert_int_equal(count_to(2), 0);
    assert_int_equal(fake.n_closes, 0);
    /* Nothing changed: the track is still there and mid 0 keeps its id. */
    char again[1][ROOM_ID_LEN];
    publish(1, "0:camera", again);
    assert_string_equal(again[0], ids[0]);
    /* A token without the publish grant. */
    room_conn_open(rs, 3, "192.0.2.3", now);
    say(3, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"carol\",\"token\":\"nopub\"}");
    say(3, "{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"0\",\"source\":\"camera\"}]}");
    expect_error(3, "not_allowed");
}

static void test_subscribe_filtering(void **state)
{
    (void)state;
    char alice[2][ROOM_ID_LEN], bob[1][ROOM_ID_LEN], far[1][ROOM_ID_LEN];
    join(1, "demo", "alice", NULL);
    join(2, "demo", "bob", NULL);
    join(3, "elsewhere", "carol", NULL);
    publish(1, "0:microphone 1:camera", alice);
    publish(2, "0:camera", bob);
    publish(3, "0:camera", far);
    sayf(2, "{\"type\":\"subscribe\",\"id\":5,\"sdp\":\"v=0\",\"tracks\":{\"0\":\"%s\",\"1\":\"%s\","
            "\"2\":\"%s\",\"3\":\"%s\",\"4\":\"TR_nosuchtrack\",\"5\":null}}",
         alice[0], alice[1], bob[0], far[0]);
    json_t *answer = last(2, "subscribe_answer");
    assert_string_equal(str(answer, "sdp"), "answer-sub");
    assert_int_equal(json_integer_value(json_object_get(answer, "id")), 5);
    json_t *tracks = json_object_get(answer, "tracks");
    assert_int_equal(json_object_size(tracks), 6);
    assert_string_equal(str(tracks, "0"), alice[0]);
    assert_string_equal(str(tracks, "1"), alice[1]);
    assert_true(json_is_null(json_object_get(tracks, "2"))); /* its own */
    assert_true(json_is_null(json_object_get(tracks, "3"))); /* another room's */
    assert_true(json_is_null(json_object_get(tracks, "4"))); /* none such */
    assert_true(json_is_null(json_object_get(tracks, "5")));
    /* The media plane was asked only for what bob may receive. */
    assert_int_equal(fake.n_sub, 6);
    assert_string_equal(fake.sub[0].track_id, alice[0]);
    assert_string_equal(fake.sub[2].track_id, "");
    assert_string_equal(fake.sub[3].track_id, "");
    assert_string_equal(fake.sub[4].track_id, "");
    assert_null(json_object_get(answer, "errors")); /* nothing to say */
    /* A track whose codecs the offer lacks: null, and why, on its mid. */
    sayf(2, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":\"%s\",\"nocodec\":\"%s\"}}",
         alice[0], alice[1]);
    answer = last(2, "subscribe_answer");
    assert_string_equal(str(json_object_get(answer, "tracks"), "0"), alice[0]);
    assert_true(json_is_null(json_object_get(json_object_get(answer, "tracks"), "nocodec")));
    json_t *errors = json_object_get(answer, "errors");
    assert_int_equal(json_object_size(errors), 1);
    json_t *why = json_object_get(errors, "nocodec");
    assert_string_equal(str(why, "track"), alice[1]);
    assert_string_equal(str(why, "code"), "no_common_codec");
    assert_string_equal(str(why, "message"),
                        "video: the publisher sends H264 High; this offer accepts VP8");
    /* Refusals. */
    say(2, "{\"type\":\"subscribe\",\"sdp\":\"bad\",\"tracks\":{}}");
    expect_error(2, "sdp_unsupported");
    room_conn_open(rs, 4, "192.0.2.4", now);
    say(4, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"dan\",\"token\":\"nosub\"}");
    say(4, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{}}");
    expect_error(4, "not_allowed");
}

static void test_mute(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], alice[1][ROOM_ID_LEN], bob[1][ROOM_ID_LEN];
    join(1, "demo", "alice", a);
    join(2, "demo", "bob", NULL);
    publish(1, "1:camera", alice);
    publish(2, "0:microphone", bob);
    forget_sent();
    sayf(1, "{\"type\":\"mute\",\"id\":6,\"track\":\"%s\",\"muted\":true}", alice[0]);
    assert_int_equal(json_integer_value(json_object_get(last(1, "ack"), "id")), 6);
    json_t *ev = last(2, "track_muted");
    assert_string_equal(str(ev, "track"), alice[0]);
    assert_string_equal(str(ev, "participant"), a);
    assert_true(json_is_true(json_object_get(ev, "muted")));
    assert_int_equal(count(1, "track_muted"), 0);
    assert_int_equal(fake.n_set_muted, 1);
    assert_true(fake.last_muted);
    /* The state is in the track objects, and a repeat is acknowledged without an event. */
    json_t *r = room_get_json(rs, "demo", now, 0);
    json_t *t = json_array_get(json_object_get(json_array_get(json_object_get(r, "participants"), 0),
                                               "tracks"),
                               0);
    assert_true(json_is_true(json_object_get(t, "muted")));
    json_decref(r);
    sayf(1, "{\"type\":\"mute\",\"track\":\"%s\",\"muted\":true}", alice[0]);
    assert_int_equal(count(1, "ack"), 2);
    assert_int_equal(count(2, "track_muted"), 1);
    assert_int_equal(fake.n_set_muted, 1);
    /* A republish keeps the mute state of a mid that stays. */
    publish(1, "1:camera", NULL);
    assert_int_equal(fake.n_pub, 1);
    assert_true(fake.pub[0].muted);
    /* Someone else's track, or none. */
    sayf(1, "{\"type\":\"mute\",\"track\":\"%s\",\"muted\":true}", bob[0]);
    expect_error(1, "not_allowed");
    say(1, "{\"type\":\"mute\",\"track\":\"TR_000000000000\",\"muted\":true}");
    expect_error(1, "unknown_track");
    assert_int_equal(count(2, "track_muted"), 1);
}

/* ---- leaving, resuming, replacing --------------------------------------------------- */

static void test_leave_and_empty_room(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN];
    join(1, "demo", "alice", a);
    join(2, "demo", "bob", NULL);
    publish(1, "0:camera", NULL);
    forget_sent();
    say(1, "{\"type\":\"leave\",\"id\":8}");
    assert_int_equal(json_integer_value(json_object_get(last(1, "left"), "id")), 8);
    assert_true(closed_with(1, 1000));
    json_t *ev = last(2, "participant_left");
    assert_string_equal(str(ev, "sid"), a);
    assert_string_equal(str(ev, "identity"), "alice");
    assert_string_equal(str(ev, "reason"), "left");
    assert_int_equal(count(2, "track_unpublished"), 0); /* implied by participant_left */
    assert_int_equal(fake.n_removed, 1);
    assert_string_equal(fake.removed[0], a);
    room_conn_closed(rs, 1, now);
    assert_int_equal(participants_in("demo"), 1);

    /* The last one leaves: the room stays for empty_timeout (60 s), then goes. */
    say(2, "{\"type\":\"leave\"}");
    room_conn_closed(rs, 2, now);
    uint64_t empty_at = now;
    assert_true(room_poll_timeout(rs) <= empty_at + 60 * S);
    now = empty_at + 59 * S;
    room_handle_timeout(rs, now);
    json_t *list = room_list_json(rs, now, 0);
    assert_int_equal(json_array_size(json_object_get(list, "rooms")), 1);
    json_decref(list);
    now = empty_at + 60 * S;
    room_handle_timeout(rs, now);
    list = room_list_json(rs, now, 0);
    assert_int_equal(json_array_size(json_object_get(list, "rooms")), 0);
    json_decref(list);
    assert_int_equal(room_poll_timeout(rs), UINT64_MAX);
}

static void test_empty_room_is_kept_by_a_new_join(void **state)
{
    (void)state;
    join(1, "demo", "alice", NULL);
    say(1, "{\"type\":\"leave\"}");
    room_conn_closed(rs, 1, now);
    now += 30 * S;
    join(2, "demo", "bob", NULL);
    now += 40 * S;
    room_handle_timeout(rs, now);
    assert_int_equal(participants_in("demo"), 1);
}

static void test_resume_within_grace(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], ids[2][ROOM_ID_LEN], session[64];
    join(1, "demo", "alice", a);
    snprintf(session, sizeof session, "%s", str(last(1, "joined"), "session"));
    join(2, "demo", "bob", NULL);
    publish(1, "0:microphone 1:camera", ids);
    forget_sent();
    room_conn_closed(rs, 1, now); /* the network drops */
    now += 5 * S;
    room_handle_timeout(rs, now);
    assert_int_equal(count_to(2), 0);
    json_t *r = room_get_json(rs, "demo", now, 0);
    assert_string_equal(str(json_array_get(json_object_get(r, "participants"), 0), "state"),
                        "disconnected");
    json_decref(r);

    room_conn_open(rs, 3, "203.0.113.9", now);
    sayf(3, "{\"type\":\"join\",\"id\":1,\"room\":\"demo\",\"identity\":\"alice\",\"resume\":\"%s\"}",
         session);
    json_t *j = last(3, "joined");
    assert_true(json_is_true(json_object_get(j, "resumed")));
    assert_string_equal(str(j, "participant.sid"), a);
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "participant"), "tracks")), 2);
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "room"), "participants")), 1);
    assert_int_equal(count_to(2), 0); /* the others saw nothing */
    assert_int_equal(fake.n_removed, 0);
    assert_int_equal(fake.n_closes, 0);
    /* It carries on: its tracks are still its own. */
    sayf(3, "{\"type\":\"mute\",\"track\":\"%s\",\"muted\":true}", ids[1]);
    last(3, "ack");
    /* Beyond the old grace deadline nothing happens any more. */
    now += 60 * S;
    room_handle_timeout(rs, now);
    assert_int_equal(count(2, "participant_left"), 0);
}

static void test_resume_after_grace_fails(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], session[64];
    join(1, "demo", "alice", a);
    snprintf(session, sizeof session, "%s", str(last(1, "joined"), "session"));
    join(2, "demo", "bob", NULL);
    forget_sent();
    room_conn_closed(rs, 1, now);
    assert_true(room_poll_timeout(rs) <= now + 20 * S);
    now += 20 * S;
    room_handle_timeout(rs, now);
    json_t *ev = last(2, "participant_left");
    assert_string_equal(str(ev, "sid"), a);
    assert_string_equal(str(ev, "reason"), "timeout");
    assert_int_equal(fake.n_removed, 1);
    room_conn_open(rs, 3, "203.0.113.9", now);
    sayf(3, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"alice\",\"resume\":\"%s\"}", session);
    expect_error(3, "resume_failed");
    assert_true(closed_with(3, 1008));
    assert_int_equal(participants_in("demo"), 1);
}

static void test_resume_checks_the_session(void **state)
{
    (void)state;
    char session[64];
    join(1, "demo", "alice", NULL);
    snprintf(session, sizeof session, "%s", str(last(1, "joined"), "session"));
    join(2, "demo", "bob", NULL);
    room_conn_closed(rs, 1, now);
    forget_sent();
    /* Wrong secret, another identity's, a session of another room: refused, room unchanged. */
    char wrong[64];
    snprintf(wrong, sizeof wrong, "%s", session);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    room_conn_open(rs, 3, "203.0.113.9", now);
    sayf(3, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"alice\",\"resume\":\"%s\"}", wrong);
    expect_error(3, "resume_failed");
    room_conn_open(rs, 4, "203.0.113.9", now);
    sayf(4, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"bob\",\"resume\":\"%s\"}", session);
    expect_error(4, "resume_failed");
    room_conn_open(rs, 5, "203.0.113.9", now);
    sayf(5, "{\"type\":\"join\",\"room\":\"other\",\"identity\":\"alice\",\"resume\":\"%s\"}", session);
    expect_error(5, "resume_failed");
    room_conn_open(rs, 6, "203.0.113.9", now);
    say(6, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"alice\",\"resume\":\"short\"}");
    expect_error(6, "resume_failed");
    assert_int_equal(count_to(2), 0);
    assert_int_equal(participants_in("demo"), 2);
    assert_null(room_get_json(rs, "other", now, 0));
    /* The right one still works. */
    room_conn_open(rs, 7, "203.0.113.9", now);
    sayf(7, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"alice\",\"resume\":\"%s\"}", session);
    last(7, "joined");
}

static void test_resume_while_old_connection_lingers(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], session[64];
    join(1, "demo", "alice", a);
    snprintf(session, sizeof session, "%s", str(last(1, "joined"), "session"));
    join(2, "demo", "bob", NULL);
    forget_sent();
    room_conn_open(rs, 3, "203.0.113.9", now); /* a new network; 1 has not noticed yet */
    sayf(3, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"alice\",\"resume\":\"%s\"}", session);
    assert_string_equal(str(last(3, "joined"), "participant.sid"), a);
    assert_string_equal(str(last(1, "closed"), "reason"), "replaced");
    assert_true(closed_with(1, 1000));
    room_conn_closed(rs, 1, now); /* the old socket's end must not disconnect the new one */
    now += 30 * S;
    room_handle_timeout(rs, now);
    assert_int_equal(count(2, "participant_left"), 0);
    assert_int_equal(count_to(2), 0);
}

static void test_duplicate_identity(void **state)
{
    (void)state;
    char old_sid[ROOM_ID_LEN], new_sid[ROOM_ID_LEN];
    join(1, "demo", "alice", old_sid);
    join(2, "demo", "bob", NULL);
    publish(1, "0:camera", NULL);
    forget_sent();
    join(3, "demo", "alice", new_sid);
    assert_string_not_equal(old_sid, new_sid);
    json_t *closed = last(1, "closed");
    assert_string_equal(str(closed, "reason"), "replaced");
    assert_non_null(str(closed, "message"));
    assert_true(closed_with(1, 1000));
    assert_int_equal(count(1, "participant_left"), 0);
    json_t *left = last(2, "participant_left");
    assert_string_equal(str(left, "sid"), old_sid);
    assert_string_equal(str(left, "reason"), "replaced");
    assert_string_equal(str(last(2, "participant_joined"), "participant.sid"), new_sid);
    assert_int_equal(fake.n_removed, 1);
    assert_string_equal(fake.removed[0], old_sid);
    /* The newcomer sees bob only, and the room counts two. */
    assert_int_equal(json_array_size(json_object_get(json_object_get(last(3, "joined"), "room"),
                                                     "participants")),
                     1);
    assert_int_equal(participants_in("demo"), 2);
    /* The old connection is deaf; its end changes nothing. */
    say(1, "{\"type\":\"ping\"}");
    assert_int_equal(count(1, "pong"), 0);
    room_conn_closed(rs, 1, now);
    now += 30 * S;
    room_handle_timeout(rs, now);
    assert_int_equal(participants_in("demo"), 2);
}

static void test_media_closed(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], ids[2][ROOM_ID_LEN];
    join(1, "demo", "alice", a);
    join(2, "demo", "bob", NULL);
    publish(1, "0:microphone 1:camera", ids);
    forget_sent();
    room_media_closed(rs, a, now);
    assert_int_equal(count(2, "track_unpublished"), 2);
    assert_int_equal(count(1, "track_unpublished"), 0);
    assert_int_equal(count(1, "media_closed"), 1); /* its owner must rebuild its connections */
    assert_int_equal(count(2, "media_closed"), 0);
    assert_int_equal(participants_in("demo"), 2);
    sayf(1, "{\"type\":\"mute\",\"track\":\"%s\",\"muted\":true}", ids[0]);
    expect_error(1, "unknown_track");
    room_media_closed(rs, "PA_unknown", now); /* ignored */
}

/* The media plane says a track bob receives became undecodable, then decodable again: bob
 * (only) gets track_error with the reason, then with error null; a track that is gone, or a
 * participant that is, is not told. */
static void test_track_error(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], b[ROOM_ID_LEN], ids[2][ROOM_ID_LEN];
    join(1, "demo", "alice", a);
    join(2, "demo", "bob", b);
    join(3, "other", "carol", NULL);
    publish(1, "0:microphone 1:camera", ids);
    forget_sent();
    const char *why = "video: the publisher sends VP9; this offer accepts VP8";
    room_track_error(rs, b, "3", ids[1], why);
    assert_int_equal(count(2, "track_error"), 1);
    assert_int_equal(count(1, "track_error"), 0);
    json_t *e = last(2, "track_error");
    assert_string_equal(str(e, "track"), ids[1]);
    assert_string_equal(str(e, "participant"), a);
    assert_string_equal(str(e, "mid"), "3");
    assert_string_equal(str(e, "error.code"), "no_common_codec");
    assert_string_equal(str(e, "error.message"), why);
    room_track_error(rs, b, "3", ids[1], NULL);
    e = last(2, "track_error");
    assert_true(json_is_null(json_object_get(e, "error")));
    forget_sent();
    room_track_error(rs, a, "1", ids[1], why);           /* its own track */
    room_track_error(rs, "PA_unknown", "1", ids[1], why); /* no such participant */
    publish(1, "0:microphone", NULL);                     /* the camera is unpublished */
    room_track_error(rs, b, "3", ids[1], why);
    assert_int_equal(count(1, "track_error") + count(2, "track_error") + count(3, "track_error"), 0);
}

/* resume_on - identity's connection `from` drops and it resumes session on `to`: the
 * resumed joined's track_errors. */
static json_t *resume_on(room_conn_id from, room_conn_id to, const char *identity,
                         const char *session)
{
    room_conn_closed(rs, from, now);
    room_conn_open(rs, to, "203.0.113.9", now);
    sayf(to, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"%s\",\"resume\":\"%s\"}",
         identity, session);
    json_t *j = last(to, "joined");
    assert_true(json_is_true(json_object_get(j, "resumed")));
    return json_object_get(j, "track_errors");
}

/* The tracks bob cannot decode are in his joined: none in a fresh one; a change while his
 * WebSocket is down counts on resume; error null, a subscribe binding the mid elsewhere, the
 * track going and his media ending clear them; one per mid. */
static void test_track_errors_in_joined(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], b[ROOM_ID_LEN], ids[2][ROOM_ID_LEN], session[64];
    join(1, "demo", "alice", a);
    join(2, "demo", "bob", b);
    json_t *errors = json_object_get(last(2, "joined"), "track_errors");
    assert_true(json_is_array(errors));
    assert_int_equal(json_array_size(errors), 0);
    snprintf(session, sizeof session, "%s", str(last(2, "joined"), "session"));
    publish(1, "0:microphone 1:camera", ids);
    sayf(2, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"3\":\"%s\",\"4\":\"%s\"}}",
         ids[1], ids[0]);
    last(2, "subscribe_answer");
    room_track_error(rs, b, "4", ids[0], "audio: the publisher sends G722; this offer accepts opus");

    /* While bob's WebSocket is down the audio becomes decodable and the video does not. */
    room_conn_closed(rs, 2, now);
    const char *why = "video: the publisher sends VP9; this offer accepts VP8";
    room_track_error(rs, b, "3", ids[1], why);
    room_track_error(rs, b, "4", ids[0], NULL);
    errors = resume_on(2, 3, "bob", session);
    assert_int_equal(json_array_size(errors), 1);
    json_t *e = json_array_get(errors, 0);
    assert_string_equal(str(e, "track"), ids[1]);
    assert_string_equal(str(e, "participant"), a);
    assert_string_equal(str(e, "mid"), "3");
    assert_string_equal(str(e, "error.code"), "no_common_codec");
    assert_string_equal(str(e, "error.message"), why);

    /* A later reason replaces the first; a subscribe keeping mid 3's track keeps it. */
    room_track_error(rs, b, "3", ids[1], "video: the publisher sends AV1; this offer accepts VP8");
    sayf(3, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"3\":\"%s\",\"4\":\"%s\"}}",
         ids[1], ids[0]);
    assert_true(fake.sub[0].undecodable); /* the media plane is told to keep it bound */
    assert_false(fake.sub[1].undecodable);
    errors = resume_on(3, 4, "bob", session);
    assert_int_equal(json_array_size(errors), 1);
    assert_string_equal(str(json_array_get(errors, 0), "error.message"),
                        "video: the publisher sends AV1; this offer accepts VP8");
    /* Error null clears it. */
    room_track_error(rs, b, "3", ids[1], NULL);
    assert_int_equal(json_array_size(resume_on(4, 5, "bob", session)), 0);

    /* A subscribe that binds mid 3 to nothing any more drops it. */
    room_track_error(rs, b, "3", ids[1], why);
    sayf(5, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"3\":null,\"5\":\"%s\"}}",
         ids[1]);
    assert_int_equal(json_array_size(resume_on(5, 6, "bob", session)), 0);

    /* The track goes: so does its error. */
    room_track_error(rs, b, "5", ids[1], why);
    publish(1, "0:microphone", NULL);
    assert_int_equal(json_array_size(resume_on(6, 7, "bob", session)), 0);

    /* One per mid, at most one per track a subscribe may carry. */
    forget_sent();
    for (int i = 0; i <= RTC_MSG_MAX_TRACKS; i++) {
        char mid[8];
        snprintf(mid, sizeof mid, "m%d", i);
        room_track_error(rs, b, mid, ids[0], why);
        room_track_error(rs, b, mid, ids[0], why);
    }
    assert_int_equal(json_array_size(resume_on(7, 8, "bob", session)), RTC_MSG_MAX_TRACKS);

    /* Bob's media connections end: his subscribe connection's errors with them. */
    room_media_closed(rs, b, now);
    assert_int_equal(json_array_size(resume_on(8, 9, "bob", session)), 0);

    /* Bob leaves with one kept (freed with him). */
    room_track_error(rs, b, "4", ids[0], why);
    say(9, "{\"type\":\"leave\"}");
    last(9, "left");
}

/* ---- limits ------------------------------------------------------------------------- */

static void test_room_full(void **state)
{
    (void)state;
    join(1, "demo", "a", NULL);
    join(2, "demo", "b", NULL);
    join(3, "demo", "c", NULL);
    forget_sent();
    room_conn_open(rs, 4, "192.0.2.4", now);
    say(4, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"d\"}");
    expect_error(4, "room_full");
    assert_true(closed_with(4, 1008));
    assert_int_equal(count_to(1), 0);
    /* A participant awaiting resume still holds its place... */
    room_conn_closed(rs, 3, now);
    room_conn_open(rs, 5, "192.0.2.5", now);
    say(5, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"d\"}");
    expect_error(5, "room_full");
    /* ...but the same identity replaces, which a full room allows. */
    join(6, "demo", "c", NULL);
    assert_int_equal(participants_in("demo"), 3);
}

static void test_rate_limit(void **state)
{
    (void)state;
    join(1, "demo", "alice", NULL); /* one message of the burst of 20 */
    for (int i = 0; i < 19; i++) say(1, "{\"type\":\"ping\"}");
    assert_int_equal(count(1, "pong"), 19);
    say(1, "{\"type\":\"ping\",\"id\":1}");
    expect_error(1, "rate_limited");
    assert_null(json_object_get(last(1, "error"), "id")); /* dropped unread */
    assert_int_equal(count(1, "pong"), 19);
    assert_int_equal(fake.n_closes, 0);
    now += 100000; /* 0.1 s at 10/s: one more */
    say(1, "{\"type\":\"ping\"}");
    say(1, "{\"type\":\"ping\"}");
    assert_int_equal(count(1, "pong"), 20);
    assert_int_equal(count(1, "error"), 2);
    now += 10 * S; /* the bucket holds at most the burst */
    for (int i = 0; i < 21; i++) say(1, "{\"type\":\"ping\"}");
    assert_int_equal(count(1, "pong"), 40);
}

static void test_message_too_big(void **state)
{
    (void)state;
    join(1, "demo", "alice", NULL);
    char big[5000];
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"type\":\"ping\"}", 15);
    room_conn_message(rs, 1, (const uint8_t *)big, sizeof big, now);
    assert_true(closed_with(1, 1009));
    assert_int_equal(count(1, "error"), 0);
    /* The participant keeps its place for a resume, as with any dropped connection. */
    room_conn_closed(rs, 1, now);
    assert_int_equal(participants_in("demo"), 1);
}

/* ---- timers ------------------------------------------------------------------------- */

static void test_connection_quality(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], b[ROOM_ID_LEN];
    join(1, "demo", "alice", a);
    join(2, "demo", "bob", b);
    forget_sent();
    assert_true(room_poll_timeout(rs) <= now + 2 * S);
    now += 2 * S;
    fake.has_stats = true;
    fake.stats = (room_media_stats){.pub_connected = true, .sub_connected = true,
                                    .pub_loss = 0.05, .sub_loss = 0.0, .rtt_ms = 50};
    room_handle_timeout(rs, now);
    json_t *q = last(2, "connection_quality");
    assert_int_equal(count(1, "connection_quality"), 1);
    json_t *list = json_object_get(q, "participants");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(str(json_array_get(list, 0), "sid"), a);
    assert_string_equal(str(json_array_get(list, 0), "quality"), "good");

    static const struct {
        bool has, pub, sub;
        double pub_loss, sub_loss;
        uint32_t rtt;
        const char *quality;
    } cases[] = {
        {false, false, false, 0, 0, 0, "excellent"}, /* signaling only */
        {true, true, false, 0.01, 0.5, 100, "excellent"}, /* no subscribe connection */
        {true, true, true, 0.01, 0.01, 200, "good"},
        {true, true, true, 0.2, 0, 20, "poor"},
        {true, false, true, 0, 0, 500, "poor"},
        {true, false, false, 0, 0, 0, "lost"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake.has_stats = cases[i].has;
        fake.stats = (room_media_stats){.pub_connected = cases[i].pub, .sub_connected = cases[i].sub,
                                        .pub_loss = cases[i].pub_loss,
                                        .sub_loss = cases[i].sub_loss, .rtt_ms = cases[i].rtt};
        now += 2 * S;
        room_handle_timeout(rs, now);
        list = json_object_get(last(1, "connection_quality"), "participants");
        assert_string_equal(str(json_array_get(list, 1), "quality"), cases[i].quality);
    }
    /* A participant awaiting resume is "lost" for the others. */
    room_conn_closed(rs, 2, now);
    now += 2 * S;
    room_handle_timeout(rs, now);
    list = json_object_get(last(1, "connection_quality"), "participants");
    assert_string_equal(str(json_array_get(list, 1), "quality"), "lost");
}

/* ---- speakers and subscriptions ----------------------------------------------------- */

static void speak(const char *track, uint32_t loudness)
{
    for (size_t k = 0; k < fake.n_loud; k++)
        if (!strcmp(fake.loud[k].track, track)) {
            fake.loud[k].loudness = loudness;
            return;
        }
    snprintf(fake.loud[fake.n_loud].track, ROOM_ID_LEN, "%s", track);
    fake.loud[fake.n_loud++].loudness = loudness;
}

/* advance - run the timers every 100 ms for d. */
static void advance(uint64_t d)
{
    for (uint64_t end = now + d; now < end;) {
        now += 100000;
        room_handle_timeout(rs, now);
    }
}

static bool is_paused(const char *track)
{
    for (size_t i = 0; i < fake.n_paused; i++)
        if (!strcmp(fake.paused[i], track)) return true;
    return false;
}

static void test_active_speakers(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN], b[ROOM_ID_LEN], alice[3][ROOM_ID_LEN], bob[2][ROOM_ID_LEN];
    join(1, "demo", "alice", a);
    join(2, "demo", "bob", b);
    publish(1, "0:microphone 1:camera 2:screen_audio", alice);
    publish(2, "0:microphone 1:camera", bob);
    forget_sent();
    advance(S); /* both silent: nothing to say */
    assert_int_equal(count(1, "active_speakers"), 0);
    /* Only microphones are read, all in one call per interval; screen audio is not speech. */
    assert_int_equal(fake.n_level_entries, 2);
    assert_string_equal(fake.level_tracks[0], alice[0]);
    assert_string_equal(fake.level_tracks[1], bob[0]);
    size_t calls = fake.n_level_calls;
    advance(S);
    assert_int_equal(fake.n_level_calls - calls, 5); /* every 200 ms */

    speak(alice[0], 100); /* -27 dBov */
    uint64_t start = now;
    while (count(2, "active_speakers") == 0 && now - start < 2 * S) advance(100000);
    assert_true(now - start <= 2 * S);
    json_t *ev = last(2, "active_speakers");
    assert_string_equal(str(ev, "dominant"), a);
    json_t *list = json_object_get(ev, "speakers");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_array_get(list, 0)), a);
    assert_int_equal(count(1, "active_speakers"), 1); /* the speaker is told too */

    /* A muted microphone is not read: it sends nothing. */
    sayf(2, "{\"type\":\"mute\",\"track\":\"%s\",\"muted\":true}", bob[0]);
    advance(200000);
    assert_int_equal(fake.n_level_entries, 1);

    /* Nothing changes: nothing more is sent. */
    forget_sent();
    advance(2 * S);
    assert_int_equal(count(1, "active_speakers"), 0);

    /* A newcomer learns where things stand right after joined. */
    join(3, "demo", "carol", NULL);
    assert_string_equal(str(last(3, "active_speakers"), "dominant"), a);

    /* Alice stops: no longer active, still the dominant (last) speaker. */
    speak(alice[0], 0);
    forget_sent();
    advance(2 * S);
    ev = last(2, "active_speakers");
    assert_int_equal(json_array_size(json_object_get(ev, "speakers")), 0);
    assert_string_equal(str(ev, "dominant"), a);

    /* She leaves: nobody is dominant. */
    forget_sent();
    say(1, "{\"type\":\"leave\"}");
    advance(S);
    ev = last(2, "active_speakers");
    assert_true(json_is_null(json_object_get(ev, "dominant")));
}

/* Speakers changing faster than ROOM_SPEAKERS_EVENT_GAP_US: events are spaced by it. */
static void test_active_speakers_rate_limited(void **state)
{
    (void)state;
    char alice[1][ROOM_ID_LEN], bob[1][ROOM_ID_LEN];
    join(1, "demo", "alice", NULL);
    join(2, "demo", "bob", NULL);
    publish(1, "0:microphone", alice);
    publish(2, "0:microphone", bob);
    forget_sent();
    uint64_t sent_at[64];
    size_t n_events = 0;
    speak(alice[0], 100);
    for (int i = 0; i < 60; i++) { /* bob starts and stops speaking every 200 or 400 ms */
        speak(bob[0], i % 3 ? 0 : 70);
        size_t before = count(1, "active_speakers");
        advance(200000); /* one read of the levels */
        if (count(1, "active_speakers") > before) sent_at[n_events++] = now;
    }
    assert_true(n_events >= 2);
    for (size_t i = 1; i < n_events; i++)
        assert_true(sent_at[i] - sent_at[i - 1] >= ROOM_SPEAKERS_EVENT_GAP_US);
}

static void test_audio_only(void **state)
{
    (void)state;
    char b[ROOM_ID_LEN], alice[3][ROOM_ID_LEN];
    join(1, "demo", "alice", NULL);
    join(2, "demo", "bob", b);
    join(3, "demo", "carol", NULL);
    publish(1, "0:microphone 1:camera 2:screen", alice);
    sayf(2, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":\"%s\",\"1\":\"%s\"}}",
         alice[0], alice[1]);
    assert_int_equal(fake.n_set_paused, 0); /* nothing held back: nothing to say */

    say(2, "{\"type\":\"set_subscription\",\"id\":9,\"audio_only\":true}");
    assert_int_equal(json_integer_value(json_object_get(last(2, "ack"), "id")), 9);
    assert_int_equal(fake.n_set_paused, 1);
    assert_string_equal(fake.paused_sid, b);
    assert_int_equal(fake.n_paused, 2); /* every video, camera and screen; not the audio */
    assert_true(is_paused(alice[1]) && is_paused(alice[2]));

    say(2, "{\"type\":\"set_subscription\",\"audio_only\":true}");
    assert_int_equal(fake.n_set_paused, 1); /* unchanged */
    /* New streams of a subscribe start unpaused: the holds are given again. */
    sayf(2, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":\"%s\",\"1\":\"%s\","
            "\"2\":\"%s\"}}", alice[0], alice[1], alice[2]);
    assert_int_equal(fake.n_set_paused, 2);
    assert_int_equal(fake.n_paused, 2);

    /* Bad values are refused and change nothing. */
    say(2, "{\"type\":\"set_subscription\",\"audio_only\":\"yes\"}");
    expect_error(2, "bad_request");
    say(2, "{\"type\":\"set_subscription\",\"last_n\":-2}");
    expect_error(2, "bad_request");
    assert_int_equal(fake.n_set_paused, 2);

    /* Back to everything: the absent fields are the defaults. */
    say(2, "{\"type\":\"set_subscription\"}");
    assert_int_equal(fake.n_set_paused, 3);
    assert_int_equal(fake.n_paused, 0);
    sayf(2, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":\"%s\"}}", alice[0]);
    assert_int_equal(fake.n_set_paused, 3);
    assert_string_equal(fake.paused_sid, b); /* carol was never touched */
}

/* track_settings: the whole settings of one track for this subscriber, kept across a resume
 * and given again after each subscribe; the admin API's cap wins over the client's wish. */
static void test_track_settings(void **state)
{
    (void)state;
    char b[ROOM_ID_LEN], alice[2][ROOM_ID_LEN], session[64];
    join(1, "demo", "alice", NULL);
    join(2, "demo", "bob", b);
    snprintf(session, sizeof session, "%s", str(last(2, "joined"), "session"));
    publish(1, "0:microphone 1:camera", alice);
    /* Before the track is bound: kept, given to the media plane (which applies it on bind). */
    sayf(2, "{\"type\":\"track_settings\",\"id\":4,\"track\":\"%s\",\"visible\":true,"
            "\"width\":320,\"height\":180,\"max_spatial\":null,\"max_temporal\":null}",
         alice[1]);
    assert_int_equal(json_integer_value(json_object_get(last(2, "ack"), "id")), 4);
    assert_int_equal(fake.n_set_layers, 1);
    assert_string_equal(fake.layers_sid, b);
    assert_string_equal(fake.layers_track, alice[1]);
    assert_true(fake.layers.visible);
    assert_int_equal(fake.layers.width, 320);
    assert_int_equal(fake.layers.height, 180);
    assert_int_equal(fake.layers.max_spatial, -1);
    sayf(2, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":\"%s\",\"1\":\"%s\"}}",
         alice[0], alice[1]);
    assert_int_equal(fake.n_set_layers, 2); /* given again for the new binding */
    assert_int_equal(fake.layers.width, 320);

    /* Absent fields are the defaults: hidden, no size, a preference. */
    sayf(2, "{\"type\":\"track_settings\",\"track\":\"%s\",\"visible\":false,\"max_spatial\":1}",
         alice[1]);
    last(2, "ack");
    assert_false(fake.layers.visible);
    assert_int_equal(fake.layers.width, 0);
    assert_int_equal(fake.layers.max_spatial, 1);
    assert_int_equal(fake.layers.max_temporal, -1);

    /* Errors change nothing. */
    size_t calls = fake.n_set_layers;
    say(2, "{\"type\":\"track_settings\",\"track\":\"TR_nosuchtrack0\"}");
    expect_error(2, "not_found");
    sayf(2, "{\"type\":\"track_settings\",\"track\":\"%s\",\"max_spatial\":4}", alice[1]);
    expect_error(2, "bad_request");
    sayf(2, "{\"type\":\"track_settings\",\"track\":\"%s\",\"width\":\"big\"}", alice[1]);
    expect_error(2, "bad_request");
    sayf(2, "{\"type\":\"track_settings\",\"track\":\"%s\",\"visible\":1}", alice[1]);
    expect_error(2, "bad_request");
    assert_int_equal(fake.n_set_layers, calls);

    /* The server's cap: the lower of the two wins; unknown names are 404s. */
    json_t *eff = NULL;
    assert_int_equal(room_set_track_layers(rs, "demo", "bob", alice[1], 0, -1, &eff), J_OK);
    assert_int_equal(json_integer_value(json_object_get(eff, "max_spatial")), 0);
    assert_true(json_is_null(json_object_get(eff, "max_temporal")));
    assert_int_equal(json_integer_value(json_object_get(eff, "server_max_spatial")), 0);
    assert_true(json_is_false(json_object_get(eff, "visible")));
    json_decref(eff);
    assert_int_equal(fake.layers.max_spatial, 0);
    assert_int_equal(room_set_track_layers(rs, "demo", "nobody", alice[1], 0, 0, NULL),
                     J_ENOTFOUND);
    assert_int_equal(room_set_track_layers(rs, "demo", "bob", "TR_nosuchtrack0", 0, 0, NULL),
                     J_ENOTFOUND);
    assert_int_equal(room_set_track_layers(rs, "nowhere", "bob", alice[1], 0, 0, NULL),
                     J_ENOTFOUND);

    /* A resume keeps them: the next subscribe gives them again. */
    room_conn_closed(rs, 2, now);
    room_conn_open(rs, 4, "203.0.113.9", now);
    sayf(4, "{\"type\":\"join\",\"room\":\"demo\",\"identity\":\"bob\",\"resume\":\"%s\"}",
         session);
    last(4, "joined");
    calls = fake.n_set_layers;
    sayf(4, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"1\":\"%s\"}}", alice[1]);
    assert_int_equal(fake.n_set_layers, calls + 1);
    assert_false(fake.layers.visible);
    assert_int_equal(fake.layers.max_spatial, 0);

    /* The track goes: so do its settings. */
    sayf(1, "{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"0\",\"source\":\"microphone\"}]}");
    calls = fake.n_set_layers;
    sayf(4, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":\"%s\"}}", alice[0]);
    assert_int_equal(fake.n_set_layers, calls);
}

static void test_last_n_follows_speakers(void **state)
{
    (void)state;
    char c[ROOM_ID_LEN], alice[3][ROOM_ID_LEN], bob[2][ROOM_ID_LEN];
    join(1, "demo", "alice", NULL);
    join(2, "demo", "bob", NULL);
    join(3, "demo", "carol", c);
    publish(1, "0:microphone 1:camera 2:screen", alice);
    publish(2, "0:microphone 1:camera", bob);
    /* Nobody has spoken: the earliest to join fills the one place. */
    say(3, "{\"type\":\"set_subscription\",\"last_n\":1}");
    assert_string_equal(fake.paused_sid, c);
    assert_int_equal(fake.n_paused, 1);
    assert_true(is_paused(bob[1])); /* alice's screen is not a camera: it always goes */

    speak(bob[0], 100);
    size_t calls = fake.n_set_paused;
    advance(2 * S);
    assert_int_equal(fake.n_set_paused, calls + 1);
    assert_int_equal(fake.n_paused, 1);
    assert_true(is_paused(alice[1]));

    /* The speaker stays chosen once silent; alice speaking takes over the place. */
    speak(bob[0], 0);
    advance(2 * S);
    assert_true(is_paused(alice[1]));
    speak(alice[0], 100);
    advance(2 * S);
    assert_true(is_paused(bob[1]));
    assert_false(is_paused(alice[1]));

    say(3, "{\"type\":\"set_subscription\",\"last_n\":0}");
    assert_int_equal(fake.n_paused, 2);
    assert_true(is_paused(alice[1]) && is_paused(bob[1]));
    say(3, "{\"type\":\"set_subscription\",\"last_n\":5}");
    assert_int_equal(fake.n_paused, 0);

    /* When the chosen one leaves, the next takes its place. */
    say(3, "{\"type\":\"set_subscription\",\"last_n\":1}");
    assert_true(is_paused(bob[1]));
    say(1, "{\"type\":\"leave\"}");
    assert_string_equal(fake.paused_sid, c);
    assert_int_equal(fake.n_paused, 0); /* bob is the only one left */
}

/* ---- HTTP API ----------------------------------------------------------------------- */

static void test_admin_list_and_get(void **state)
{
    (void)state;
    char ids[1][ROOM_ID_LEN];
    join(1, "demo", "alice", NULL);
    now += 10 * S;
    join(2, "demo", "bob", NULL);
    join(3, "other", "carol", NULL);
    publish(1, "0:camera", ids);
    room_conn_closed(rs, 2, now);
    now += 5 * S;
    json_t *list = room_list_json(rs, now, 1700000000);
    json_t *rooms = json_object_get(list, "rooms");
    assert_int_equal(json_array_size(rooms), 2);
    json_t *demo = json_array_get(rooms, 0);
    assert_string_equal(str(demo, "name"), "demo");
    assert_int_equal(json_integer_value(json_object_get(demo, "participants")), 2);
    assert_int_equal(json_integer_value(json_object_get(demo, "created_at")), 1700000000 - 15);
    json_decref(list);

    json_t *r = room_get_json(rs, "demo", now, 1700000000);
    assert_string_equal(str(r, "name"), "demo");
    assert_int_equal(json_integer_value(json_object_get(r, "created_at")), 1700000000 - 15);
    json_t *ps = json_object_get(r, "participants");
    assert_int_equal(json_array_size(ps), 2);
    assert_string_equal(str(json_array_get(ps, 0), "identity"), "alice");
    assert_string_equal(str(json_array_get(ps, 0), "state"), "active");
    assert_string_equal(str(json_array_get(ps, 1), "state"), "disconnected");
    assert_string_equal(str(json_array_get(json_object_get(json_array_get(ps, 0), "tracks"), 0), "id"),
                        ids[0]);
    json_decref(r);
    assert_null(room_get_json(rs, "nope", now, 0));
}

static void test_admin_mute(void **state)
{
    (void)state;
    char ids[1][ROOM_ID_LEN];
    join(1, "demo", "alice", NULL);
    join(2, "demo", "bob", NULL);
    join(3, "other", "carol", NULL);
    publish(1, "0:microphone", ids);
    forget_sent();
    json_t *t = NULL;
    assert_int_equal(room_mute_track(rs, "demo", ids[0], true, &t), J_OK);
    assert_string_equal(str(t, "id"), ids[0]);
    assert_true(json_is_true(json_object_get(t, "muted")));
    json_decref(t);
    assert_int_equal(count(1, "track_muted"), 1); /* the owner hears it too */
    assert_int_equal(count(2, "track_muted"), 1);
    assert_int_equal(count(3, "track_muted"), 0);
    assert_int_equal(fake.n_set_muted, 1);
    assert_int_equal(room_mute_track(rs, "other", ids[0], false, NULL), J_ENOTFOUND);
    assert_int_equal(room_mute_track(rs, "demo", "TR_none", false, NULL), J_ENOTFOUND);
    assert_int_equal(room_mute_track(rs, "nope", ids[0], false, NULL), J_ENOTFOUND);
    assert_int_equal(fake.n_set_muted, 1);
}

static void test_admin_remove_participant(void **state)
{
    (void)state;
    char a[ROOM_ID_LEN];
    join(1, "demo", "alice", a);
    join(2, "demo", "bob", NULL);
    forget_sent();
    assert_int_equal(room_remove_participant(rs, "demo", "alice", now), J_OK);
    assert_string_equal(str(last(1, "closed"), "reason"), "removed");
    assert_true(closed_with(1, 1000));
    json_t *ev = last(2, "participant_left");
    assert_string_equal(str(ev, "sid"), a);
    assert_string_equal(str(ev, "reason"), "removed");
    assert_int_equal(count(1, "participant_left"), 0);
    assert_int_equal(fake.n_removed, 1);
    assert_int_equal(participants_in("demo"), 1);
    assert_int_equal(room_remove_participant(rs, "demo", "alice", now), J_ENOTFOUND);
    assert_int_equal(room_remove_participant(rs, "nope", "bob", now), J_ENOTFOUND);
    /* A participant awaiting resume can be removed too. */
    room_conn_closed(rs, 2, now);
    assert_int_equal(room_remove_participant(rs, "demo", "bob", now), J_OK);
    assert_int_equal(participants_in("demo"), 0);
}

static void test_admin_close_room(void **state)
{
    (void)state;
    join(1, "demo", "alice", NULL);
    join(2, "demo", "bob", NULL);
    join(3, "other", "carol", NULL);
    publish(1, "0:camera", NULL);
    forget_sent();
    assert_int_equal(room_close(rs, "demo", now), J_OK);
    for (room_conn_id c = 1; c <= 2; c++) {
        assert_string_equal(str(last(c, "closed"), "reason"), "room_closed");
        assert_true(closed_with(c, 1000));
        assert_int_equal(count(c, "participant_left"), 0);
        assert_int_equal(count_to(c), 1);
    }
    assert_int_equal(count_to(3), 0);
    assert_int_equal(fake.n_removed, 2);
    assert_null(room_get_json(rs, "demo", now, 0));
    assert_int_equal(room_close(rs, "demo", now), J_ENOTFOUND);
    room_conn_closed(rs, 1, now);
    room_conn_closed(rs, 2, now);
    /* The name is free again. */
    join(4, "demo", "alice", NULL);
    assert_int_equal(participants_in("demo"), 1);
}

static void test_server_new_checks(void **state)
{
    (void)state;
    room_limits bad = limits;
    bad.max_participants = 0;
    assert_null(room_server_new(&bad, &fake_io));
    room_io no_send = fake_io;
    no_send.send = NULL;
    assert_null(room_server_new(&limits, &no_send));
    room_io no_levels = fake_io;
    no_levels.audio_levels = NULL;
    assert_null(room_server_new(&limits, &no_levels));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_join_and_room_state),
        T(test_join_token_errors),
        T(test_join_errors_that_keep_the_connection),
        T(test_malformed_messages_change_nothing),
        T(test_two_rooms_are_isolated),
        T(test_publish_diff),
        T(test_publish_refusals),
        T(test_subscribe_filtering),
        T(test_mute),
        T(test_leave_and_empty_room),
        T(test_empty_room_is_kept_by_a_new_join),
        T(test_resume_within_grace),
        T(test_resume_after_grace_fails),
        T(test_resume_checks_the_session),
        T(test_resume_while_old_connection_lingers),
        T(test_duplicate_identity),
        T(test_media_closed),
        T(test_track_error),
        T(test_track_errors_in_joined),
        T(test_room_full),
        T(test_rate_limit),
        T(test_message_too_big),
        T(test_connection_quality),
        T(test_active_speakers),
        T(test_active_speakers_rate_limited),
        T(test_audio_only),
        T(test_track_settings),
        T(test_last_n_follows_speakers),
        T(test_admin_list_and_get),
        T(test_admin_mute),
        T(test_admin_remove_participant),
        T(test_admin_close_room),
        T(test_server_new_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
