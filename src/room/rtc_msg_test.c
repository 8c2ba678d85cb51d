/* rtc_msg_test.c - client message validation (every field, every error) and server messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "room/rtc_msg.h"

static int parse(rtc_msg *m, rtc_msg_error *err, const char *text)
{
    return rtc_msg_parse(m, (const uint8_t *)text, strlen(text), RTC_MSG_DEFAULT_MAX_SIZE, err);
}

static void test_join(void **state)
{
    (void)state;
    rtc_msg m;
    rtc_msg_error err;
    assert_int_equal(parse(&m, &err, "{\"type\":\"join\",\"id\":7,\"room\":\"team.a-1_b\","
                                     "\"token\":\"abc\",\"identity\":\"zo\xc3\xab\","
                                     "\"name\":\"Zo\\u00eb\",\"resume\":\"Ab12\",\"x\":[1]}"),
                     0);
    assert_int_equal(m.type, RTC_MSG_JOIN);
    assert_int_equal(m.id.kind, RTC_ID_INT);
    assert_int_equal(m.id.num, 7);
    assert_string_equal(m.join.room, "team.a-1_b");
    assert_string_equal(m.join.token, "abc");
    assert_string_equal(m.join.identity, "zo\xc3\xab");
    assert_string_equal(m.join.name, "Zo\xc3\xab");
    assert_string_equal(m.join.resume, "Ab12");
    rtc_msg_release(&m);

    /* Optional fields may be absent or null. */
    assert_int_equal(parse(&m, &err, "{\"type\":\"join\",\"id\":\"q\",\"room\":\"r\","
                                     "\"token\":null,\"name\":null}"),
                     0);
    assert_int_equal(m.id.kind, RTC_ID_STRING);
    assert_string_equal(m.id.str, "q");
    assert_null(m.join.token);
    assert_null(m.join.identity);
    assert_null(m.join.name);
    assert_null(m.join.resume);
    rtc_msg_release(&m);
}

static void test_publish_subscribe_mute_subscription(void **state)
{
    (void)state;
    rtc_msg m;
    rtc_msg_error err;
    assert_int_equal(parse(&m, &err, "{\"type\":\"publish\",\"sdp\":\"v=0\\r\\n\",\"tracks\":["
                                     "{\"mid\":\"0\",\"source\":\"microphone\"},"
                                     "{\"mid\":\"sdparta_1\",\"source\":\"screen\",\"muted\":true}]}"),
                     0);
    assert_int_equal(m.type, RTC_MSG_PUBLISH);
    assert_int_equal(m.id.kind, RTC_ID_NONE);
    assert_string_equal(m.publish.sdp, "v=0\r\n");
    assert_int_equal(m.publish.sdp_len, 5);
    assert_int_equal(m.publish.n_tracks, 2);
    assert_string_equal(m.publish.tracks[0].mid, "0");
    assert_string_equal(m.publish.tracks[0].source, "microphone");
    assert_false(m.publish.tracks[0].muted);
    assert_string_equal(m.publish.tracks[1].mid, "sdparta_1");
    assert_string_equal(m.publish.tracks[1].source, "screen");
    assert_true(m.publish.tracks[1].muted);
    rtc_msg_release(&m);

    assert_int_equal(parse(&m, &err, "{\"type\":\"subscribe\",\"sdp\":\"v=0\","
                                     "\"tracks\":{\"0\":\"TR_a\",\"1\":null}}"),
                     0);
    assert_int_equal(m.type, RTC_MSG_SUBSCRIBE);
    assert_int_equal(m.subscribe.n_tracks, 2);
    assert_string_equal(m.subscribe.tracks[0].mid, "0");
    assert_string_equal(m.subscribe.tracks[0].track_id, "TR_a");
    assert_string_equal(m.subscribe.tracks[1].mid, "1");
    assert_null(m.subscribe.tracks[1].track_id);
    rtc_msg_release(&m);

    assert_int_equal(parse(&m, &err, "{\"type\":\"mute\",\"track\":\"TR_a\",\"muted\":false}"), 0);
    assert_int_equal(m.type, RTC_MSG_MUTE);
    assert_string_equal(m.mute.track, "TR_a");
    assert_false(m.mute.muted);
    rtc_msg_release(&m);

    assert_int_equal(parse(&m, &err, "{\"type\":\"set_subscription\",\"id\":2,"
                                     "\"audio_only\":true,\"last_n\":3}"),
                     0);
    assert_int_equal(m.type, RTC_MSG_SET_SUBSCRIPTION);
    assert_true(m.subscription.audio_only);
    assert_int_equal(m.subscription.last_n, 3);
    rtc_msg_release(&m);
    /* The whole shape: absent or null fields are the defaults. */
    assert_int_equal(parse(&m, &err, "{\"type\":\"set_subscription\",\"last_n\":null}"), 0);
    assert_false(m.subscription.audio_only);
    assert_int_equal(m.subscription.last_n, -1);
    rtc_msg_release(&m);
    assert_int_equal(parse(&m, &err, "{\"type\":\"set_subscription\",\"audio_only\":false,"
                                     "\"last_n\":0}"),
                     0);
    assert_int_equal(m.subscription.last_n, 0);
    rtc_msg_release(&m);

    assert_int_equal(parse(&m, &err, "{\"type\":\"leave\"}"), 0);
    assert_int_equal(m.type, RTC_MSG_LEAVE);
    rtc_msg_release(&m);
    assert_int_equal(parse(&m, &err, "{\"id\":-5,\"type\":\"ping\"}"), 0);
    assert_int_equal(m.type, RTC_MSG_PING);
    assert_int_equal(m.id.num, -5);
    rtc_msg_release(&m);
}

/* Each refused frame: its code, a piece of its message, and whether the id was kept. */
static const struct {
    const char *text, *code, *message;
    bool has_id;
} refused[] = {
    {"", "bad_message", "invalid JSON", false},
    {"{\"type\":\"ping\"", "bad_message", "invalid JSON", false},
    {"{\"type\":\"ping\"} {}", "bad_message", "invalid JSON", false},
    {"[1]", "bad_message", "not a JSON object", false},
    {"\"join\"", "bad_message", "invalid JSON", false},
    {"{\"id\":1}", "bad_message", "type", false},
    {"{\"type\":3}", "bad_message", "type", false},
    {"{\"type\":\"ping\",\"type\":\"leave\"}", "bad_message", "duplicate", false},
    {"{\"type\":\"join\",\"room\":\"a\\u0000b\"}", "bad_message", "invalid JSON", false},
    {"{\"type\":\"join\",\"room\":\"\xff\"}", "bad_message", "invalid JSON", false},
    {"{\"type\":\"dance\",\"id\":1}", "unknown_type", "dance", true},
    {"{\"type\":\"ping\",\"id\":1.5}", "bad_request", "id:", false},
    {"{\"type\":\"ping\",\"id\":true}", "bad_request", "id:", false},
    {"{\"type\":\"ping\",\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
     "bad_request", "id:", false},
    {"{\"type\":\"join\",\"id\":1}", "bad_request", "room: missing", true},
    {"{\"type\":\"join\",\"id\":1,\"room\":\"\"}", "bad_request", "room: must be 1 to 64", true},
    {"{\"type\":\"join\",\"room\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
     "bad_request", "room: must be 1 to 64", false},
    {"{\"type\":\"join\",\"room\":\"a/b\"}", "bad_request", "room: may contain only", false},
    {"{\"type\":\"join\",\"room\":\"a b\"}", "bad_request", "room: may contain only", false},
    {"{\"type\":\"join\",\"room\":5}", "bad_request", "room: must be a string", false},
    {"{\"type\":\"join\",\"room\":\"r\",\"token\":5}", "bad_request", "token: must be a string",
     false},
    {"{\"type\":\"join\",\"room\":\"r\",\"identity\":\"\"}", "bad_request", "identity: must be",
     false},
    {"{\"type\":\"join\",\"room\":\"r\",\"identity\":\"a\\nb\"}", "bad_request",
     "identity: may contain only", false},
    {"{\"type\":\"join\",\"room\":\"r\",\"name\":\"a\\u007fb\"}", "bad_request",
     "name: may contain only", false},
    {"{\"type\":\"join\",\"room\":\"r\",\"name\":[]}", "bad_request", "name: must be a string",
     false},
    {"{\"type\":\"join\",\"room\":\"r\",\"resume\":\"a-b\"}", "bad_request",
     "resume: may contain only", false},
    {"{\"type\":\"publish\",\"id\":\"p\",\"tracks\":[]}", "bad_request", "sdp: missing", true},
    {"{\"type\":\"publish\",\"sdp\":\"\",\"tracks\":[]}", "bad_request", "sdp: must not be empty",
     false},
    {"{\"type\":\"publish\",\"sdp\":\"v=0\"}", "bad_request", "tracks: missing", false},
    {"{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":{}}", "bad_request",
     "tracks: must be an array", false},
    {"{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[1]}", "bad_request",
     "tracks[0]: must be an object", false},
    {"{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[{\"source\":\"camera\"}]}", "bad_request",
     "tracks[0].mid: missing", false},
    {"{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"a b\",\"source\":\"camera\"}]}",
     "bad_request", "tracks[0].mid: may contain only", false},
    {"{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"0\"}]}", "bad_request",
     "tracks[0].source: missing", false},
    {"{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"0\",\"source\":\"webcam\"}]}",
     "bad_request", "tracks[0].source: must be", false},
    {"{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"0\",\"source\":\"camera\","
     "\"muted\":1}]}",
     "bad_request", "tracks[0].muted: must be a boolean", false},
    {"{\"type\":\"publish\",\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"0\",\"source\":\"camera\"},"
     "{\"mid\":\"0\",\"source\":\"screen\"}]}",
     "bad_request", "tracks[1].mid: duplicate", false},
    {"{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":[]}", "bad_request",
     "tracks: must be an object", false},
    {"{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"\":\"TR_a\"}}", "bad_request",
     "tracks: a key (mid): must be 1 to 32", false},
    {"{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":7}}", "bad_request",
     "tracks.0: must be a string", false},
    {"{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":\"TR a\"}}", "bad_request",
     "tracks.0: may contain only", false},
    {"{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{\"0\":\"a\",\"0\":\"b\"}}",
     "bad_message", "duplicate", false},
    {"{\"type\":\"mute\",\"muted\":true}", "bad_request", "track: missing", false},
    {"{\"type\":\"mute\",\"track\":\"TR_a\"}", "bad_request", "muted: missing", false},
    {"{\"type\":\"mute\",\"track\":\"TR_a\",\"muted\":\"true\"}", "bad_request",
     "muted: must be a boolean", false},
    {"{\"type\":\"set_subscription\",\"id\":1,\"audio_only\":1}", "bad_request",
     "audio_only: must be a boolean", true},
    {"{\"type\":\"set_subscription\",\"last_n\":-1}", "bad_request", "last_n: must be", false},
    {"{\"type\":\"set_subscription\",\"last_n\":1001}", "bad_request", "last_n: must be",
     false},
    {"{\"type\":\"set_subscription\",\"last_n\":2.5}", "bad_request", "last_n: must be",
     false},
    {"{\"type\":\"set_subscription\",\"last_n\":\"2\"}", "bad_request", "last_n: must be",
     false},
    {"{\"type\":\"set_subscription\",\"last_n\":99999999999999999999}", "bad_message",
     "invalid JSON", false},
};

static void test_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        rtc_msg m;
        rtc_msg_error err;
        int rc = parse(&m, &err, refused[i].text);
        if (rc != J_EMALFORMED || strcmp(err.code, refused[i].code) != 0 ||
            !strstr(err.message, refused[i].message) ||
            (m.id.kind != RTC_ID_NONE) != refused[i].has_id)
            fail_msg("case %zu (%s): rc %d, %s: %s", i, refused[i].text, rc, err.code,
                     err.message);
        assert_null(m.root);
    }
}

static void test_too_many_entries(void **state)
{
    (void)state;
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"type\":\"subscribe\",\"sdp\":\"v=0\",\"tracks\":{");
    for (int i = 0; i <= RTC_MSG_MAX_TRACKS; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\"%d\":null", i ? "," : "", i);
    snprintf(text + n, sizeof text - n, "}}");
    rtc_msg m;
    rtc_msg_error err;
    assert_int_equal(parse(&m, &err, text), J_EMALFORMED);
    assert_string_equal(err.message, "tracks: more than 64 entries");
}

static void test_size_bound(void **state)
{
    (void)state;
    const char *text = "{\"type\":\"ping\"}";
    rtc_msg m;
    rtc_msg_error err;
    assert_int_equal(rtc_msg_parse(&m, (const uint8_t *)text, strlen(text), strlen(text) - 1, &err),
                     J_ELIMIT);
    assert_int_equal(rtc_msg_parse(&m, (const uint8_t *)text, strlen(text), strlen(text), &err),
                     0);
    rtc_msg_release(&m);
}

static void test_error_messages_are_ascii(void **state)
{
    (void)state;
    rtc_msg m;
    rtc_msg_error err;
    /* "\u00e9" cut by the 32-byte quote of an unknown type must not reach the wire raw. */
    assert_int_equal(parse(&m, &err, "{\"type\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\u00e9\"}"),
                     J_EMALFORMED);
    assert_string_equal(err.message, "type: unknown message type \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?\"");
    char *json = rtc_msg_error_json(&m.id, err.code, err.message);
    assert_non_null(json);
    free(json);
}

static void test_error_closes(void **state)
{
    (void)state;
    const char *closes[] = {"token_missing", "token_malformed", "token_bad_signature",
                            "token_wrong_algorithm", "token_unknown_key", "token_too_large",
                            "token_expired", "token_not_yet_valid", "token_wrong_room",
                            "resume_failed", "room_full"};
    const char *keeps[] = {"bad_message", "unknown_type", "bad_request", "not_joined",
                           "already_joined", "not_allowed", "too_many_tracks", "unknown_track",
                           "sdp_invalid", "sdp_unsupported", "rate_limited", "server_busy",
                           "internal"};
    for (size_t i = 0; i < sizeof closes / sizeof closes[0]; i++)
        assert_true(rtc_msg_error_closes(closes[i]));
    for (size_t i = 0; i < sizeof keeps / sizeof keeps[0]; i++)
        assert_false(rtc_msg_error_closes(keeps[i]));
}

static void expect_json(char *json, const char *want)
{
    assert_non_null(json);
    assert_string_equal(json, want);
    free(json);
}

static void test_builders(void **state)
{
    (void)state;
    rtc_msg_id num = {.kind = RTC_ID_INT, .num = 3};
    rtc_msg_id str = {.kind = RTC_ID_STRING, .str = "x"};
    expect_json(rtc_msg_error_json(&num, "bad_request", "room: missing"),
                "{\"type\":\"error\",\"id\":3,\"code\":\"bad_request\",\"message\":\"room: missing\"}");
    expect_json(rtc_msg_error_json(NULL, "rate_limited", "slow down"),
                "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"slow down\"}");
    expect_json(rtc_msg_reply(&str, "pong"), "{\"type\":\"pong\",\"id\":\"x\"}");
    expect_json(rtc_msg_reply(NULL, "ack"), "{\"type\":\"ack\"}");

    json_t *tracks = json_array();
    json_array_append_new(tracks, rtc_track_json("TR_1", "PA_1", 1, "camera", true, NULL));
    expect_json(rtc_msg_joined(&num, rtc_participant_json("PA_1", "al", "Al", tracks), "demo",
                               json_array(), json_array(), "S3cret", 30, false),
                "{\"type\":\"joined\",\"id\":3,\"participant\":{\"sid\":\"PA_1\",\"identity\":\"al\","
                "\"name\":\"Al\",\"tracks\":[{\"id\":\"TR_1\",\"participant\":\"PA_1\",\"kind\":"
                "\"video\",\"source\":\"camera\",\"muted\":true}]},\"room\":{\"name\":\"demo\","
                "\"participants\":[]},\"session\":\"S3cret\",\"resume_grace\":30,\"resumed\":false,"
                "\"track_errors\":[],\"ice_servers\":[]}");

    tracks = json_array();
    json_array_append_new(tracks, rtc_track_json("TR_2", "PA_1", 0, "microphone", false, "0"));
    expect_json(rtc_msg_publish_answer(NULL, "v=0\r\n", tracks),
                "{\"type\":\"publish_answer\",\"sdp\":\"v=0\\r\\n\",\"tracks\":[{\"id\":\"TR_2\","
                "\"participant\":\"PA_1\",\"kind\":\"audio\",\"source\":\"microphone\",\"muted\":false,"
                "\"mid\":\"0\"}]}");
    expect_json(rtc_msg_subscribe_answer(NULL, "v=0", json_pack("{s:s, s:n}", "0", "TR_2", "1"),
                                         NULL),
                "{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\",\"tracks\":{\"0\":\"TR_2\",\"1\":null}}");
    expect_json(rtc_msg_subscribe_answer(NULL, "v=0", json_pack("{s:n}", "1"),
                                         json_pack("{s:{s:s, s:s, s:s}}", "1", "track", "TR_3",
                                                   "code", "no_common_codec", "message", "m")),
                "{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\",\"tracks\":{\"1\":null},"
                "\"errors\":{\"1\":{\"track\":\"TR_3\",\"code\":\"no_common_codec\","
                "\"message\":\"m\"}}}");
    expect_json(rtc_msg_participant_joined(rtc_participant_json("PA_2", "b", "b", json_array())),
                "{\"type\":\"participant_joined\",\"participant\":{\"sid\":\"PA_2\",\"identity\":\"b\","
                "\"name\":\"b\",\"tracks\":[]}}");
    expect_json(rtc_msg_participant_left("PA_2", "b", "timeout"),
                "{\"type\":\"participant_left\",\"sid\":\"PA_2\",\"identity\":\"b\",\"reason\":\"timeout\"}");
    expect_json(rtc_msg_track_published(rtc_track_json("TR_3", "PA_2", 0, "unknown", false, NULL)),
                "{\"type\":\"track_published\",\"track\":{\"id\":\"TR_3\",\"participant\":\"PA_2\","
                "\"kind\":\"audio\",\"source\":\"unknown\",\"muted\":false}}");
    expect_json(rtc_msg_track_unpublished("TR_3", "PA_2"),
                "{\"type\":\"track_unpublished\",\"track\":\"TR_3\",\"participant\":\"PA_2\"}");
    expect_json(rtc_msg_track_muted("TR_3", "PA_2", true),
                "{\"type\":\"track_muted\",\"track\":\"TR_3\",\"participant\":\"PA_2\",\"muted\":true}");
    expect_json(rtc_msg_track_error("TR_3", "PA_2", "1", "no_common_codec",
                                    "video: the publisher sends VP9; this offer accepts VP8"),
                "{\"type\":\"track_error\",\"track\":\"TR_3\",\"participant\":\"PA_2\","
                "\"mid\":\"1\",\"error\":{\"code\":\"no_common_codec\",\"message\":"
                "\"video: the publisher sends VP9; this offer accepts VP8\"}}");
    expect_json(rtc_msg_track_error("TR_3", "PA_2", "1", NULL, NULL),
                "{\"type\":\"track_error\",\"track\":\"TR_3\",\"participant\":\"PA_2\","
                "\"mid\":\"1\",\"error\":null}");
    expect_json(rtc_msg_connection_quality(json_pack("[{s:s, s:s}]", "sid", "PA_2", "quality", "good")),
                "{\"type\":\"connection_quality\",\"participants\":[{\"sid\":\"PA_2\",\"quality\":\"good\"}]}");
    expect_json(rtc_msg_active_speakers(json_pack("[s, s]", "PA_2", "PA_1"), "PA_1"),
                "{\"type\":\"active_speakers\",\"speakers\":[\"PA_2\",\"PA_1\"],\"dominant\":\"PA_1\"}");
    expect_json(rtc_msg_active_speakers(json_array(), NULL),
                "{\"type\":\"active_speakers\",\"speakers\":[],\"dominant\":null}");
    expect_json(rtc_msg_closed("replaced", "again"),
                "{\"type\":\"closed\",\"reason\":\"replaced\",\"message\":\"again\"}");

    /* A missing piece (out of memory upstream) makes no message rather than half of one. */
    assert_null(rtc_msg_participant_joined(NULL));
    assert_null(rtc_msg_publish_answer(NULL, "v=0", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_publish_subscribe_mute_subscription),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_too_many_entries),
        cmocka_unit_test(test_size_bound),
        cmocka_unit_test(test_error_messages_are_ascii),
        cmocka_unit_test(test_error_closes),
        cmocka_unit_test(test_builders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
