/* offer_test.c - a viewer's offer against what the publishers of its tracks send
 * (app_offer_check_codecs): every live track out of reach is a 406, some of them are
 * unbound and rejected in the answer, a stream not live yet is not checked; and an offer whose
 * transport attributes are malformed (app_offer_negotiate) is the client's error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "app/offer.h"
#include "core/err.h"

#define FP_SHA256 "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:" \
                  "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
#define ICE_CREDS "a=ice-ufrag:uf01\r\na=ice-pwd:pwd0123456789012345678\r\n"

/* A WHEP-style recvonly offer with the given session-level transport lines: opus audio
 * (mid 0) and video (mid 1) with the given rtpmap/fmtp lines. */
#define OFFER_WITH(transport, video_pts, video_lines)                                           \
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n" transport      \
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n"          \
    "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"                                               \
    "m=video 9 UDP/TLS/RTP/SAVPF " video_pts "\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\n" \
    "a=rtcp-mux\r\n" video_lines
#define VIEW_OFFER(video_pts, video_lines)                                                      \
    OFFER_WITH("a=fingerprint:sha-256 " FP_SHA256 "\r\n" ICE_CREDS, video_pts, video_lines)

static const char h264_only[] = VIEW_OFFER(
    "102 103", "a=rtpmap:102 H264/90000\r\n"
               "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
               "a=rtpmap:103 H264/90000\r\n"
               "a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n");
static const char av1_main[] = VIEW_OFFER("102", "a=rtpmap:102 AV1/90000\r\n");

static app_offer g_offer;
static sfu_source g_published[2];
static char g_detail[512];

static void negotiate_view(const char *text, size_t len)
{
    char err[256];
    app_offer_free(&g_offer); /* the test's previous one, if any */
    int rc = app_offer_negotiate(&g_offer, PEER_SUBSCRIBER, text, len, err, sizeof err);
    if (rc != J_OK) fail_msg("negotiate: %d %s", rc, err);
    assert_int_equal(g_offer.neg->media_count, 2);
    snprintf(g_offer.binds[0].track_id, sizeof g_offer.binds[0].track_id, "stream/s/audio");
    snprintf(g_offer.binds[1].track_id, sizeof g_offer.binds[1].track_id, "stream/s/video");
    memset(g_published, 0, sizeof g_published);
}

/* The publisher of m= section i sends one codec. */
static void publish(int i, const char *name, uint32_t clock_rate, uint8_t channels,
                    const char *fmtp)
{
    sfu_source *src = &g_published[i];
    sdp_codec *c = &src->codecs[src->codec_count++];
    memset(c, 0, sizeof *c);
    c->pt = (uint8_t)(96 + src->codec_count);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->clock_rate = clock_rate;
    c->channels = channels;
    snprintf(c->fmtp, sizeof c->fmtp, "%s", fmtp);
}

static int check(void)
{
    return app_offer_check_codecs(&g_offer, g_published, g_detail, sizeof g_detail);
}

static int teardown(void **state)
{
    (void)state;
    app_offer_free(&g_offer);
    return 0;
}

/* A VP8-only publisher and a viewer that takes H.264 only: nothing could flow. */
static void test_no_track_receivable_is_refused(void **state)
{
    (void)state;
    negotiate_view(h264_only, sizeof h264_only - 1);
    publish(1, "VP8", 90000, 0, "");
    assert_int_equal(check(), J_EUNSUPPORTED);
    assert_string_equal(g_detail, "video: the publisher sends VP8; this offer accepts "
                                  "H264 Constrained Baseline, H264 Main");
    assert_string_equal(g_offer.refused[1], g_detail);
    assert_string_equal(g_offer.refused[0], ""); /* no audio publisher: nothing to say */

    /* Both tracks live, neither receivable: both reasons. */
    negotiate_view(h264_only, sizeof h264_only - 1);
    publish(0, "opus", 48000, 1, ""); /* mono is another codec than opus/48000/2 */
    publish(1, "H264", 90000, 0, "packetization-mode=1;profile-level-id=640c1f");
    assert_int_equal(check(), J_EUNSUPPORTED);
    assert_string_equal(g_detail, "audio: the publisher sends opus; this offer accepts opus; "
                                  "video: the publisher sends H264 Constrained High; this offer "
                                  "accepts H264 Constrained Baseline, H264 Main");
}

/* Audio receivable, video not: the video section alone is unbound, and the answer rejects it
 * (port 0) while the audio section keeps its binding and the BUNDLE transport. */
static void test_some_track_receivable_rejects_the_others(void **state)
{
    (void)state;
    negotiate_view(h264_only, sizeof h264_only - 1);
    publish(0, "opus", 48000, 2, "minptime=10;useinbandfec=1");
    publish(1, "VP8", 90000, 0, "");
    publish(1, "VP9", 90000, 0, "profile-id=0");
    assert_int_equal(check(), J_OK);
    assert_string_equal(g_offer.refused[0], "");
    assert_string_equal(g_offer.binds[0].track_id, "stream/s/audio");
    assert_string_equal(g_offer.refused[1], "video: the publisher sends VP8, VP9; this offer "
                                            "accepts H264 Constrained Baseline, H264 Main");
    assert_string_equal(g_offer.binds[1].track_id, ""); /* the engine sends nothing there */

    sdp_neg_reject(g_offer.neg, 1, SDP_REJECT_NO_CODEC); /* what WHEP answers */
    sdp_answer_params p = {.local = {.session_id = 1, .ice_ufrag = "srvU",
                                     .ice_pwd = "srvPasswordSrvPassword12",
                                     .fingerprint = "sha-256 01:23"}};
    p.send[0] = (sdp_send_track){.ssrc = 1234, .cname = "c", .stream_id = "s", .track_id = "a"};
    static char answer[16 * 1024];
    assert_true(sdp_write_answer(g_offer.sdp, g_offer.neg, &p, answer, sizeof answer) > 0);
    assert_non_null(strstr(answer, "\r\na=group:BUNDLE 0\r\n"));
    assert_non_null(strstr(answer, "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
    assert_non_null(strstr(answer, "\r\nm=video 0 UDP/TLS/RTP/SAVPF 102\r\n"));
}

/* Profiles count: H.264 Main is in the offer, AV1 profile 1 (High) is not. */
static void test_profiles_decide(void **state)
{
    (void)state;
    negotiate_view(h264_only, sizeof h264_only - 1);
    publish(1, "H264", 90000, 0, "packetization-mode=1;profile-level-id=4d0032");
    assert_int_equal(check(), J_OK);
    assert_string_equal(g_offer.refused[1], "");
    assert_string_equal(g_offer.binds[1].track_id, "stream/s/video");

    negotiate_view(av1_main, sizeof av1_main - 1);
    publish(1, "AV1", 90000, 0, "profile=1");
    assert_int_equal(check(), J_EUNSUPPORTED);
    assert_string_equal(g_detail, "video: the publisher sends AV1 profile 1; this offer accepts AV1");
}

/* Before the publisher (a viewer first), and for sections bound to nothing, nothing is
 * checked: the bindings stay as they were. */
static void test_nothing_live_is_not_checked(void **state)
{
    (void)state;
    negotiate_view(h264_only, sizeof h264_only - 1);
    assert_int_equal(check(), J_OK);
    assert_string_equal(g_detail, "");
    assert_string_equal(g_offer.binds[0].track_id, "stream/s/audio");
    assert_string_equal(g_offer.binds[1].track_id, "stream/s/video");

    negotiate_view(h264_only, sizeof h264_only - 1);
    g_offer.binds[1].track_id[0] = '\0';
    publish(1, "VP8", 90000, 0, ""); /* what the section would carry if it were bound */
    assert_int_equal(check(), J_OK);
    assert_string_equal(g_offer.refused[1], "");
}

/* A malformed transport attribute is the client's error (J_EMALFORMED: WHIP/WHEP 400,
 * rtc sdp_invalid) with the reason, not a session that later fails to be created. */
static void test_bad_transport_is_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *text, *reason;
    } cases[] = {
        {OFFER_WITH("a=fingerprint:sha-256 AA:BB\r\n" ICE_CREDS, "96", "a=rtpmap:96 VP8/90000\r\n"),
         "line 6: bad a=fingerprint: sha-256 needs 32 bytes, got 2"},
        {OFFER_WITH("a=fingerprint:sha-224 " FP_SHA256 "\r\n" ICE_CREDS, "96",
                    "a=rtpmap:96 VP8/90000\r\n"),
         "bad a=fingerprint for mid 0: hash function 'sha-224' is not supported"},
        {OFFER_WITH("a=fingerprint:sha-256 " FP_SHA256 "\r\na=ice-ufrag:u:1\r\n"
                    "a=ice-pwd:pwd0123456789012345678\r\n", "96", "a=rtpmap:96 VP8/90000\r\n"),
         "line 7: bad a=ice-ufrag: character 2 is not a letter, digit, '+' or '/'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        int rc = app_offer_negotiate(&g_offer, PEER_SUBSCRIBER, cases[i].text,
                                     strlen(cases[i].text), err, sizeof err);
        if (rc != J_EMALFORMED || !strstr(err, cases[i].reason))
            fail_msg("case %zu: got %d '%s', want '%s'", i, rc, err, cases[i].reason);
        assert_null(g_offer.sdp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_no_track_receivable_is_refused, teardown),
        cmocka_unit_test_teardown(test_some_track_receivable_rejects_the_others, teardown),
        cmocka_unit_test_teardown(test_profiles_decide, teardown),
        cmocka_unit_test_teardown(test_nothing_live_is_not_checked, teardown),
        cmocka_unit_test_teardown(test_bad_transport_is_malformed, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
