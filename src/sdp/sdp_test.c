/* sdp_test.c - SDP parse / negotiate / write tests on real browser offers (testdata/sdp/)
 * and on synthetic malformed input. Run from the project root (meson sets workdir). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "sdp/sdp.h"

/* Large structures live here, not on the stack. */
static sdp_session g_offer, g_answer;
static sdp_negotiated g_neg;
static char g_text[256 * 1024];
static char g_out[64 * 1024];
static char g_err[256];

/* A well-formed sha-256 a=fingerprint value (32 bytes). */
#define FP_SHA256 "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:" \
                  "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"

static size_t load(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "testdata/sdp/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    size_t n = fread(g_text, 1, sizeof g_text - 1, f);
    fclose(f);
    g_text[n] = '\0';
    return n;
}

static void parse_fixture(const char *name)
{
    size_t n = load(name);
    int rc = sdp_parse(&g_offer, g_text, n, g_err, sizeof g_err);
    if (rc != 0) fail_msg("%s: %d %s", name, rc, g_err);
}

static const sdp_policy whip_policy = {
    .audio_codecs = SDP_CODEC_OPUS,
    .video_codecs = SDP_CODEC_VP8 | SDP_CODEC_VP9 | SDP_CODEC_H264,
    .video_rtx = true,
    .rtcp_fb = SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR | SDP_FB_REMB | SDP_FB_TWCC,
    .ext_recv = SDP_EXT_BIT(SDP_EXT_MID) | SDP_EXT_BIT(SDP_EXT_RID) | SDP_EXT_BIT(SDP_EXT_RRID) |
                SDP_EXT_BIT(SDP_EXT_AUDIO_LEVEL) | SDP_EXT_BIT(SDP_EXT_ABS_SEND_TIME) |
                SDP_EXT_BIT(SDP_EXT_TWCC) | SDP_EXT_BIT(SDP_EXT_VIDEO_ORIENTATION) |
                SDP_EXT_BIT(SDP_EXT_DEPENDENCY_DESCRIPTOR),
    .ext_send = 0,
    .can_receive = true,
    .can_send = false,
};

static const sdp_policy whep_policy = {
    .audio_codecs = SDP_CODEC_OPUS,
    .video_codecs = SDP_CODEC_VP8 | SDP_CODEC_VP9 | SDP_CODEC_H264,
    .video_rtx = true,
    .rtcp_fb = SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR | SDP_FB_TWCC,
    .ext_recv = 0,
    .ext_send = SDP_EXT_BIT(SDP_EXT_MID) | SDP_EXT_BIT(SDP_EXT_AUDIO_LEVEL) |
                SDP_EXT_BIT(SDP_EXT_ABS_SEND_TIME) | SDP_EXT_BIT(SDP_EXT_TWCC) |
                SDP_EXT_BIT(SDP_EXT_VIDEO_ORIENTATION) | SDP_EXT_BIT(SDP_EXT_PLAYOUT_DELAY),
    .can_receive = false,
    .can_send = true,
};

static void negotiate_ok(const sdp_policy *p)
{
    int rc = sdp_negotiate(&g_offer, p, &g_neg, g_err, sizeof g_err);
    if (rc != 0) fail_msg("negotiate: %d %s", rc, g_err);
}

static void check_codec(const sdp_codec *c, unsigned pt, const char *name, unsigned rtx_pt,
                        const char *fmtp_part)
{
    assert_int_equal(c->pt, pt);
    assert_string_equal(c->name, name);
    assert_int_equal(c->rtx_pt, rtx_pt);
    if (fmtp_part && !strstr(c->fmtp, fmtp_part))
        fail_msg("pt %u fmtp '%s' lacks '%s'", pt, c->fmtp, fmtp_part);
}

/* ---- parsing real offers ------------------------------------------------------------ */

static void test_parse_all_fixtures(void **state)
{
    (void)state;
    static const char *const names[] = {
        "firefox_offer.sdp",          "firefox_offer_simulcast.sdp", "firefox_answer.sdp",
        "chromium_publish_offer.sdp", "chromium_view_offer.sdp",     "chromium_simulcast_offer.sdp",
        "safari_offer.sdp",           "firefox_view_offer.sdp",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        parse_fixture(names[i]);
        assert_true(g_offer.media_count >= 1);
        assert_int_equal(g_offer.bundle_count, 1);
        for (unsigned k = 0; k < g_offer.media_count; k++) {
            const sdp_media *m = &g_offer.media[k];
            assert_true(m->rtp);
            assert_true(m->rtcp_mux);
            assert_true(m->mid[0] != '\0');
            assert_string_equal(sdp_media_fingerprint(&g_offer, m)->alg, "sha-256");
            assert_true(sdp_media_ice_ufrag(&g_offer, m)[0] != '\0');
        }
    }
}

static void test_parse_firefox_offer(void **state)
{
    (void)state;
    parse_fixture("firefox_offer.sdp");
    assert_int_equal(g_offer.media_count, 2);
    assert_string_equal(g_offer.origin_sess_id, "1345159235068605162");
    assert_string_equal(g_offer.bundles[0].mids[0], "0");
    assert_string_equal(g_offer.bundles[0].mids[1], "1");
    assert_string_equal(g_offer.msid_semantic, "WMS");
    assert_string_equal(g_offer.fingerprint.alg, "sha-256");
    assert_true(strncmp(g_offer.fingerprint.value, "5E:57:BD", 8) == 0);
    assert_string_equal(g_offer.ice_options, "trickle");

    const sdp_media *a = &g_offer.media[0];
    assert_int_equal(a->kind, SDP_KIND_AUDIO);
    assert_int_equal(a->port, 9);
    assert_string_equal(a->proto, "UDP/TLS/RTP/SAVPF");
    assert_int_equal(a->format_count, 5);
    assert_int_equal(a->dir, SDP_DIR_SENDRECV);
    assert_string_equal(a->ice_ufrag, "a7de8a3e");
    assert_int_equal(a->setup, SDP_SETUP_ACTPASS);
    assert_true(a->extmap_allow_mixed);
    check_codec(&a->codecs[0], 109, "opus", 0, "useinbandfec=1");
    assert_int_equal(a->codecs[0].clock_rate, 48000);
    assert_int_equal(a->codecs[0].channels, 2);
    assert_int_equal(a->codecs[0].rtcp_fb, SDP_FB_TWCC);
    assert_int_equal(a->codecs[3].channels, 0); /* PCMA/8000: no channels given */
    /* a=extmap:2/recvonly ...csrc-audio-level */
    assert_int_equal(a->extmap_count, 4);
    assert_int_equal(a->extmaps[1].id, 2);
    assert_int_equal(a->extmaps[1].dir, SDP_DIR_RECVONLY);
    assert_int_equal(a->extmaps[1].ext, SDP_EXT_UNKNOWN);
    assert_int_equal(a->extmaps[0].ext, SDP_EXT_AUDIO_LEVEL);
    assert_string_equal(a->msid_stream, "{5cc1d676-e331-499a-8ac9-43039bbbf9de}");
    assert_int_equal(a->ssrc_count, 1);
    assert_int_equal(a->ssrcs[0].ssrc, 1240825420u);

    const sdp_media *v = &g_offer.media[1];
    assert_int_equal(v->kind, SDP_KIND_VIDEO);
    assert_int_equal(v->format_count, 9);
    check_codec(&v->codecs[0], 120, "VP8", 124, "max-fs=12288");
    check_codec(&v->codecs[2], 121, "VP9", 125, NULL);
    assert_int_equal(v->codecs[0].rtcp_fb, SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR | SDP_FB_REMB | SDP_FB_TWCC);
    assert_true(v->rtcp_rsize);
    assert_int_equal(v->ssrc_count, 2);
    assert_int_equal(v->ssrc_group_count, 1);
    assert_int_equal(v->ssrc_groups[0].kind, SDP_SSRC_GROUP_FID);
    assert_int_equal(v->ssrc_groups[0].ssrcs[1], 2482597375u);
}

static void test_parse_firefox_extmap_direction(void **state)
{
    (void)state;
    parse_fixture("firefox_offer_simulcast.sdp");
    const sdp_media *v = &g_offer.media[0];
    /* a=extmap:9/sendonly urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id */
    const sdp_extmap *rid = NULL;
    for (unsigned i = 0; i < v->extmap_count; i++)
        if (v->extmaps[i].id == 9) rid = &v->extmaps[i];
    assert_non_null(rid);
    assert_int_equal(rid->dir, SDP_DIR_SENDONLY);
    assert_int_equal(rid->ext, SDP_EXT_RID);
    assert_string_equal(rid->uri, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id");
    assert_int_equal(v->rid_count, 3);
    assert_string_equal(v->rids[0].id, "q");
    assert_int_equal(v->rids[0].dir, SDP_DIR_SENDONLY);
    assert_true(v->has_simulcast);
    assert_int_equal(v->simulcast.send_count, 3);
    assert_string_equal(v->simulcast.send[2].rid, "f");
    assert_int_equal(v->ssrc_count, 6);
    assert_int_equal(v->ssrc_group_count, 3);
}

static void test_parse_chromium_offers(void **state)
{
    (void)state;
    parse_fixture("chromium_view_offer.sdp");
    const sdp_media *v = &g_offer.media[1];
    assert_int_equal(v->format_count, 34); /* more than 32: SDP_MAX_FORMATS is 64 */
    assert_int_equal(v->candidate_count, 4);
    assert_int_equal(v->candidates_kept, 4);
    assert_true(strstr(v->candidates[0], "typ host") != NULL);
    assert_int_equal(v->dir, SDP_DIR_RECVONLY);
    assert_string_equal(v->c_addr, "192.0.2.2");
    assert_true(g_offer.extmap_allow_mixed);

    parse_fixture("chromium_publish_offer.sdp");
    const sdp_media *a = &g_offer.media[0];
    assert_int_equal(a->ssrc_count, 1);
    assert_string_equal(a->ssrcs[0].cname, "ocd6JoQqt0UK+FKT");
    assert_string_equal(a->ssrcs[0].msid_stream, "3e0a4b39-83e3-43ed-ab38-b8782d403f84");
    assert_string_equal(a->ssrcs[0].msid_track, "1f5b50f9-0024-4de4-9800-36f58b29f574");
    assert_int_equal(g_offer.media[1].codecs[2].pt, 102);
    assert_int_equal(g_offer.media[1].codecs[2].rtx_pt, 103);

    parse_fixture("chromium_simulcast_offer.sdp");
    v = &g_offer.media[0];
    assert_int_equal(v->rid_count, 3);
    assert_int_equal(v->simulcast.send_count, 3);
    assert_string_equal(v->simulcast.send[0].rid, "q");
    assert_int_equal(v->ssrc_count, 0);
}

static void test_parse_lf_only(void **state)
{
    (void)state;
    size_t n = load("safari_offer.sdp"), k = 0;
    for (size_t i = 0; i < n; i++)
        if (g_text[i] != '\r') g_text[k++] = g_text[i];
    assert_int_equal(sdp_parse(&g_offer, g_text, k, g_err, sizeof g_err), 0);
    assert_int_equal(g_offer.media_count, 2);
    check_codec(&g_offer.media[0].codecs[0], 96, "H264", 97, "profile-level-id=640c1f");
    /* and without a final newline */
    assert_int_equal(sdp_parse(&g_offer, g_text, k - 1, g_err, sizeof g_err), 0);
    assert_int_equal(g_offer.media[1].format_count, 11);
}

/* ---- negotiation on real offers ----------------------------------------------------- */

static void test_whip_chromium(void **state)
{
    (void)state;
    parse_fixture("chromium_publish_offer.sdp");
    negotiate_ok(&whip_policy);
    assert_string_equal(g_neg.remote_ufrag, "5O7C");
    assert_string_equal(g_neg.remote_pwd, "DC2QPl4XxwRWM4s5fyWY06tU");
    assert_string_equal(g_neg.remote_fingerprint.alg, "sha-256");
    assert_true(strncmp(g_neg.remote_fingerprint.value, "AA:47:EF", 8) == 0);
    assert_int_equal(g_neg.our_setup, SDP_SETUP_PASSIVE);
    assert_int_equal(g_neg.bundle_count, 2);
    assert_string_equal(g_neg.bundle_mids[0], "0");
    assert_string_equal(g_neg.bundle_mids[1], "1");

    const sdp_neg_media *a = &g_neg.media[0];
    assert_true(a->accepted);
    assert_int_equal(a->dir, SDP_DIR_RECVONLY);
    assert_int_equal(a->codec_count, 1);
    check_codec(&a->codecs[0], 111, "opus", 0, "useinbandfec=1");
    assert_int_equal(a->codecs[0].rtcp_fb, SDP_FB_TWCC);
    assert_int_equal(a->ext_id[SDP_EXT_AUDIO_LEVEL], 1);
    assert_int_equal(a->ext_id[SDP_EXT_ABS_SEND_TIME], 2);
    assert_int_equal(a->ext_id[SDP_EXT_TWCC], 3);
    assert_int_equal(a->ext_id[SDP_EXT_MID], 4);
    assert_int_equal(a->stream_count, 1);
    assert_int_equal(a->streams[0].ssrc, 1154492909u);
    assert_int_equal(a->streams[0].rtx_ssrc, 0);
    assert_string_equal(a->streams[0].cname, "ocd6JoQqt0UK+FKT");
    assert_string_equal(a->streams[0].msid_track, "1f5b50f9-0024-4de4-9800-36f58b29f574");

    const sdp_neg_media *v = &g_neg.media[1];
    assert_true(v->accepted);
    assert_int_equal(v->dir, SDP_DIR_RECVONLY);
    assert_true(v->rtcp_rsize);
    /* Offer order: VP8, H264 x3 (packetization-mode=1 only), VP9 profile 0 and 2; no AV1. */
    assert_int_equal(v->codec_count, 6);
    check_codec(&v->codecs[0], 96, "VP8", 97, NULL);
    check_codec(&v->codecs[1], 102, "H264", 103, "profile-level-id=42001f");
    check_codec(&v->codecs[2], 108, "H264", 109, "profile-level-id=42e01f");
    check_codec(&v->codecs[3], 116, "H264", 117, "profile-level-id=4d001f");
    check_codec(&v->codecs[4], 98, "VP9", 99, "profile-id=0");
    check_codec(&v->codecs[5], 100, "VP9", 101, "profile-id=2");
    assert_int_equal(v->codecs[0].rtcp_fb, SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR | SDP_FB_REMB | SDP_FB_TWCC);
    assert_int_equal(v->ext_id[SDP_EXT_MID], 4);
    assert_int_equal(v->ext_id[SDP_EXT_RID], 10);
    assert_int_equal(v->ext_id[SDP_EXT_RRID], 11);
    assert_int_equal(v->ext_id[SDP_EXT_TWCC], 3);
    assert_int_equal(v->ext_id[SDP_EXT_VIDEO_ORIENTATION], 13);
    assert_int_equal(v->ext_id[SDP_EXT_PLAYOUT_DELAY], 0); /* not in the WHIP policy */
    assert_int_equal(v->ext_id[SDP_EXT_AUDIO_LEVEL], 0);
    assert_int_equal(v->stream_count, 1);
    assert_int_equal(v->streams[0].ssrc, 695124548u);
    assert_int_equal(v->streams[0].rtx_ssrc, 2156367483u);
}

static void test_whip_firefox(void **state)
{
    (void)state;
    parse_fixture("firefox_offer.sdp"); /* sendrecv offer: we only receive */
    negotiate_ok(&whip_policy);
    const sdp_neg_media *a = &g_neg.media[0], *v = &g_neg.media[1];
    assert_int_equal(a->dir, SDP_DIR_RECVONLY);
    check_codec(&a->codecs[0], 109, "opus", 0, NULL);
    assert_int_equal(a->ext_id[SDP_EXT_AUDIO_LEVEL], 1);
    assert_int_equal(a->ext_id[SDP_EXT_MID], 3);
    assert_int_equal(a->ext_id[SDP_EXT_TWCC], 7);
    assert_int_equal(v->dir, SDP_DIR_RECVONLY);
    assert_int_equal(v->codec_count, 2);
    check_codec(&v->codecs[0], 120, "VP8", 124, NULL);
    check_codec(&v->codecs[1], 121, "VP9", 125, NULL);
    assert_int_equal(v->ext_id[SDP_EXT_ABS_SEND_TIME], 4);
    assert_int_equal(v->stream_count, 1);
    assert_int_equal(v->streams[0].ssrc, 667808614u);
    assert_int_equal(v->streams[0].rtx_ssrc, 2482597375u);
    /* No a=ssrc msid: the m= section's a=msid is used. */
    assert_string_equal(v->streams[0].msid_track, "{545475da-e2a8-4996-af23-a8afac2efc94}");
    assert_int_equal(g_neg.our_setup, SDP_SETUP_PASSIVE);

    /* playout-delay is a=extmap:6/recvonly (only Firefox receives it): a sender may use it. */
    sdp_policy room = whip_policy;
    room.can_send = true;
    room.ext_send = SDP_EXT_BIT(SDP_EXT_PLAYOUT_DELAY);
    room.ext_recv |= SDP_EXT_BIT(SDP_EXT_PLAYOUT_DELAY);
    negotiate_ok(&room);
    v = &g_neg.media[1];
    assert_int_equal(v->dir, SDP_DIR_SENDRECV);
    assert_int_equal(v->ext_id[SDP_EXT_PLAYOUT_DELAY], 6);
    assert_int_equal(v->ext_dir[SDP_EXT_PLAYOUT_DELAY], SDP_DIR_SENDONLY);
    negotiate_ok(&whip_policy); /* receiving only: the recvonly extension is useless */
    assert_int_equal(g_neg.media[1].ext_id[SDP_EXT_PLAYOUT_DELAY], 0);
}

static void test_whip_simulcast(void **state)
{
    (void)state;
    parse_fixture("firefox_offer_simulcast.sdp");
    negotiate_ok(&whip_policy);
    const sdp_neg_media *v = &g_neg.media[0];
    assert_int_equal(v->kind, SDP_KIND_VIDEO);
    assert_int_equal(v->dir, SDP_DIR_RECVONLY);
    assert_int_equal(v->ext_id[SDP_EXT_RID], 9);
    assert_int_equal(v->ext_dir[SDP_EXT_RID], SDP_DIR_RECVONLY); /* answer to 9/sendonly */
    assert_int_equal(v->ext_id[SDP_EXT_RRID], 10);
    assert_int_equal(v->ext_id[SDP_EXT_DEPENDENCY_DESCRIPTOR], 8);
    assert_int_equal(v->rid_count, 3);
    assert_string_equal(v->rids[1].id, "h");
    assert_true(v->has_simulcast);
    assert_int_equal(v->simulcast.send_count, 3);
    assert_int_equal(v->stream_count, 3);
    assert_int_equal(v->streams[1].ssrc, 1833642946u);
    assert_int_equal(v->streams[1].rtx_ssrc, 1732405699u);
    assert_int_equal(g_neg.media[1].dir, SDP_DIR_RECVONLY);

    parse_fixture("chromium_simulcast_offer.sdp");
    negotiate_ok(&whip_policy);
    v = &g_neg.media[0];
    assert_int_equal(v->ext_id[SDP_EXT_RID], 10);
    assert_int_equal(v->ext_dir[SDP_EXT_RID], SDP_DIR_NONE);
    assert_int_equal(v->ext_id[SDP_EXT_DEPENDENCY_DESCRIPTOR], 13);
    assert_int_equal(v->rid_count, 3);
    assert_int_equal(v->stream_count, 0);
    assert_int_equal(g_neg.bundle_count, 1);
}

static void test_whep_chromium(void **state)
{
    (void)state;
    parse_fixture("chromium_view_offer.sdp");
    negotiate_ok(&whep_policy);
    const sdp_neg_media *a = &g_neg.media[0], *v = &g_neg.media[1];
    assert_int_equal(a->dir, SDP_DIR_SENDONLY);
    check_codec(&a->codecs[0], 111, "opus", 0, NULL);
    assert_int_equal(a->ext_id[SDP_EXT_AUDIO_LEVEL], 1);
    assert_int_equal(v->dir, SDP_DIR_SENDONLY);
    /* VP8, VP9 profiles 0/2/1/3, H264 42001f/42e01f/4d001f/f4001f with mode 1. */
    assert_int_equal(v->codec_count, 9);
    check_codec(&v->codecs[0], 96, "VP8", 97, NULL);
    check_codec(&v->codecs[3], 35, "VP9", 36, "profile-id=1");
    check_codec(&v->codecs[5], 102, "H264", 103, "42001f");
    check_codec(&v->codecs[8], 41, "H264", 42, "f4001f");
    assert_int_equal(v->codecs[0].rtcp_fb, SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR | SDP_FB_TWCC);
    assert_int_equal(v->ext_id[SDP_EXT_PLAYOUT_DELAY], 5);
    assert_int_equal(v->ext_id[SDP_EXT_RID], 0);
    assert_int_equal(v->stream_count, 0);
}

/* A policy with AV1 keeps Chromium's AV1 payload types (profile 0 and 1) where it offered them. */
static void test_whep_chromium_av1(void **state)
{
    (void)state;
    sdp_policy with_av1 = whep_policy;
    with_av1.video_codecs |= SDP_CODEC_AV1;
    parse_fixture("chromium_view_offer.sdp");
    negotiate_ok(&with_av1);
    const sdp_neg_media *v = &g_neg.media[1];
    assert_int_equal(v->codec_count, 11);
    check_codec(&v->codecs[9], 45, "AV1", 46, "profile=0");
    check_codec(&v->codecs[10], 47, "AV1", 48, "profile=1");
}

static void test_whep_safari(void **state)
{
    (void)state;
    parse_fixture("safari_offer.sdp");
    negotiate_ok(&whep_policy);
    const sdp_neg_media *v = &g_neg.media[0], *a = &g_neg.media[1];
    assert_string_equal(v->mid, "0");
    assert_int_equal(v->dir, SDP_DIR_SENDONLY);
    /* H264 first, as Safari prefers it; packetization-mode=0 variants are dropped. */
    assert_int_equal(v->codec_count, 4);
    check_codec(&v->codecs[0], 96, "H264", 97, "profile-level-id=640c1f");
    check_codec(&v->codecs[1], 98, "H264", 99, "profile-level-id=42e01f");
    check_codec(&v->codecs[2], 104, "VP8", 124, NULL);
    check_codec(&v->codecs[3], 106, "VP9", 107, NULL);
    assert_int_equal(v->codecs[0].rtcp_fb, SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR | SDP_FB_TWCC);
    assert_int_equal(v->ext_id[SDP_EXT_MID], 9);
    assert_int_equal(a->dir, SDP_DIR_SENDONLY);
    check_codec(&a->codecs[0], 111, "opus", 0, NULL);
    assert_int_equal(a->ext_id[SDP_EXT_AUDIO_LEVEL], 14);
    assert_int_equal(g_neg.our_setup, SDP_SETUP_PASSIVE);
}

static void test_whep_firefox(void **state)
{
    (void)state;
    /* The web app's viewer in a stock Firefox: mDNS host names in candidates and a=rtcp,
     * TCP and component-2 candidates, and a=ssrc lines on recvonly m= sections. */
    parse_fixture("firefox_view_offer.sdp");
    const sdp_media *mv = &g_offer.media[0];
    assert_int_equal(mv->candidate_count, 8);
    assert_non_null(strstr(mv->candidates[0], ".local 51955 typ host"));
    assert_true(mv->end_of_candidates);
    assert_int_equal(mv->ssrc_count, 1);
    negotiate_ok(&whep_policy);
    const sdp_neg_media *v = &g_neg.media[0], *a = &g_neg.media[1];
    assert_int_equal(v->dir, SDP_DIR_SENDONLY);
    /* No H264 (Firefox ESR on Debian has no OpenH264), and AV1 is not ours to send. */
    assert_int_equal(v->codec_count, 2);
    check_codec(&v->codecs[0], 120, "VP8", 124, NULL);
    check_codec(&v->codecs[1], 121, "VP9", 125, NULL);
    assert_int_equal(v->ext_id[SDP_EXT_MID], 3);
    assert_int_equal(v->ext_id[SDP_EXT_PLAYOUT_DELAY], 6); /* 6/recvonly: Firefox receives it */
    assert_int_equal(v->ext_dir[SDP_EXT_PLAYOUT_DELAY], SDP_DIR_SENDONLY);
    /* Its a=ssrc on a recvonly m= section is its RTCP sender, not media it will send. */
    assert_int_equal(v->stream_count, 0);
    assert_int_equal(a->dir, SDP_DIR_SENDONLY);
    check_codec(&a->codecs[0], 109, "opus", 0, "useinbandfec=1");
    assert_int_equal(a->ext_id[SDP_EXT_AUDIO_LEVEL], 1);
    assert_int_equal(a->stream_count, 0);
    assert_int_equal(g_neg.our_setup, SDP_SETUP_PASSIVE);
}

/* replace_all - replace every `from` in g_text by `to` (via g_out); returns the new length. */
static size_t replace_all(const char *from, const char *to)
{
    size_t n = 0, flen = strlen(from), tlen = strlen(to);
    for (const char *p = g_text; *p;) {
        if (strncmp(p, from, flen) == 0) {
            assert_true(n + tlen < sizeof g_out);
            memcpy(g_out + n, to, tlen);
            n += tlen;
            p += flen;
        } else {
            assert_true(n + 1 < sizeof g_out);
            g_out[n++] = *p++;
        }
    }
    g_out[n] = '\0';
    memcpy(g_text, g_out, n + 1);
    return n;
}

static void test_setup_roles(void **state)
{
    (void)state;
    parse_fixture("firefox_answer.sdp"); /* a=setup:active, recvonly */
    negotiate_ok(&whep_policy);
    assert_int_equal(g_neg.our_setup, SDP_SETUP_PASSIVE);
    assert_int_equal(g_neg.media[1].dir, SDP_DIR_SENDONLY);

    load("firefox_answer.sdp");
    size_t n = replace_all("a=setup:active", "a=setup:passive");
    assert_int_equal(sdp_parse(&g_offer, g_text, n, g_err, sizeof g_err), 0);
    assert_int_equal(g_offer.media[0].setup, SDP_SETUP_PASSIVE);
    negotiate_ok(&whep_policy);
    assert_int_equal(g_neg.our_setup, SDP_SETUP_ACTIVE);
}

/* ---- answers, parsed back ----------------------------------------------------------- */

static void answer_params(sdp_answer_params *p)
{
    memset(p, 0, sizeof *p);
    p->local.session_id = 4242;
    p->local.ice_ufrag = "srvUfrag";
    p->local.ice_pwd = "srvPasswordSrvPassword12";
    p->local.fingerprint = "sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
                     "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF";
    p->ice_lite = true;
    p->local.candidate_count = 2;
    assert_int_equal(j_addr_parse(&p->local.candidates[0].addr, "192.0.2.1", 40000), 0);
    assert_int_equal(j_addr_parse(&p->local.candidates[1].addr, "2001:db8::1", 40002), 0);
}

static int write_and_reparse(const sdp_answer_params *p)
{
    int n = sdp_write_answer(&g_offer, &g_neg, p, g_out, sizeof g_out);
    if (n < 0) fail_msg("write: %d", n);
    assert_int_equal((size_t)n, strlen(g_out));
    for (int i = 0; i < n; i++)
        if (g_out[i] == '\n' && (i == 0 || g_out[i - 1] != '\r')) fail_msg("bare LF at %d", i);
    int rc = sdp_parse(&g_answer, g_out, (size_t)n, g_err, sizeof g_err);
    if (rc != 0) fail_msg("our answer does not parse: %s\n%s", g_err, g_out);
    return n;
}

static void assert_has_line(const char *line)
{
    char needle[512];
    snprintf(needle, sizeof needle, "\r\n%s\r\n", line);
    if (!strstr(g_out, needle)) fail_msg("answer lacks '%s':\n%s", line, g_out);
}

static void test_answer_whip_roundtrip(void **state)
{
    (void)state;
    parse_fixture("chromium_publish_offer.sdp");
    negotiate_ok(&whip_policy);
    sdp_answer_params p;
    answer_params(&p);
    write_and_reparse(&p);

    assert_true(strncmp(g_out, "v=0\r\no=- 4242 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", 44) == 0);
    assert_has_line("a=ice-lite");
    assert_has_line("a=group:BUNDLE 0 1");
    assert_has_line("a=msid-semantic:WMS *");
    assert_has_line("a=extmap-allow-mixed");
    assert_has_line("m=audio 40000 UDP/TLS/RTP/SAVPF 111");
    assert_has_line("c=IN IP4 192.0.2.1");
    assert_has_line("m=video 40000 UDP/TLS/RTP/SAVPF 96 97 102 103 108 109 116 117 98 99 100 101");
    assert_has_line("a=rtpmap:102 H264/90000");
    assert_has_line("a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f");
    assert_has_line("a=fmtp:103 apt=102");
    assert_has_line("a=rtcp-fb:96 nack pli");
    assert_has_line("a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id");
    assert_has_line("a=setup:passive");
    assert_has_line("a=recvonly");
    /* RFC 8445 §5.1.2.1: 126<<24 | 65535<<8 | 255 and 126<<24 | 65534<<8 | 255 */
    assert_has_line("a=candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host");
    assert_has_line("a=candidate:2 1 udp 2130706175 2001:db8::1 40002 typ host");
    assert_has_line("a=end-of-candidates");
    assert_null(strstr(g_out, "a=ssrc:")); /* we receive only: no SSRCs of ours */

    assert_true(g_answer.ice_lite);
    assert_int_equal(g_answer.media_count, 2);
    assert_int_equal(g_answer.bundle_count, 1);
    for (unsigned i = 0; i < 2; i++) {
        const sdp_media *m = &g_answer.media[i];
        assert_int_equal(m->dir, SDP_DIR_RECVONLY);
        assert_int_equal(m->setup, SDP_SETUP_PASSIVE);
        assert_true(m->rtcp_mux);
        assert_true(m->end_of_candidates);
        assert_int_equal(m->candidate_count, 2);
        assert_string_equal(m->ice_ufrag, "srvUfrag");
        assert_string_equal(m->fingerprint.alg, "sha-256");
        assert_string_equal(m->mid, g_offer.media[i].mid);
    }
    assert_int_equal(g_answer.media[1].format_count, 12);
    check_codec(&g_answer.media[1].codecs[1], 97, "rtx", 0, "apt=96");
    assert_int_equal(g_answer.media[1].codecs[0].rtx_pt, 97);
    assert_int_equal(g_answer.media[1].codecs[4].rtcp_fb,
                     SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR | SDP_FB_REMB | SDP_FB_TWCC);

    /* The answer as an offer negotiates to the same codecs (a round trip of the model). */
    memcpy(&g_offer, &g_answer, sizeof g_offer);
    sdp_policy back = whip_policy;
    back.can_send = true;
    assert_int_equal(sdp_negotiate(&g_offer, &back, &g_neg, g_err, sizeof g_err), 0);
    assert_int_equal(g_neg.media[1].codec_count, 6);
    assert_int_equal(g_neg.media[1].dir, SDP_DIR_SENDONLY); /* answer recvonly -> we send */
}


/* Simulcast ingest: the answer receives the offer's rid streams (a=rid recv + a=simulcast:recv
 * in the offer's order), at most SDP_MAX_ENCODINGS of them; the rest are refused by leaving
 * them out; rids that break RFC 8851's syntax are not answered. */
static void test_answer_simulcast(void **state)
{
    (void)state;
    parse_fixture("chromium_simulcast_offer.sdp");
    negotiate_ok(&whip_policy);
    const sdp_neg_media *v = &g_neg.media[0];
    assert_int_equal(v->encoding_count, 3);
    assert_string_equal(v->encodings[0].rid, "q");
    assert_string_equal(v->encodings[2].rid, "f");
    sdp_answer_params p;
    answer_params(&p);
    write_and_reparse(&p);
    assert_has_line("a=rid:q recv");
    assert_has_line("a=rid:h recv");
    assert_has_line("a=rid:f recv");
    assert_has_line("a=simulcast:recv q;h;f");
    assert_has_line("a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id");
    const sdp_media *m = &g_answer.media[0];
    assert_int_equal(m->rid_count, 3);
    assert_int_equal(m->rids[1].dir, SDP_DIR_RECVONLY);
    assert_int_equal(m->simulcast.recv_count, 3);
    assert_int_equal(m->simulcast.send_count, 0);
    assert_int_equal(g_answer.media[1].rid_count, 0); /* audio: no simulcast */

    /* Four streams, one paused and one with a bad rid: three answered, in order. */
    load("chromium_simulcast_offer.sdp");
    char *sim = strstr(g_text, "a=simulcast:send q;h;f");
    assert_non_null(sim);
    static char edited[sizeof g_text];
    size_t head = (size_t)(sim - g_text);
    const char *rest = strchr(sim, '\n') + 1;
    int len = snprintf(edited, sizeof edited,
                       "%.*sa=rid:x send\r\na=rid:b.d send\r\n"
                       "a=simulcast:send b.d;~x;q;h;f\r\n%s",
                       (int)head, g_text, rest);
    assert_true(len > 0 && (size_t)len < sizeof edited);
    assert_int_equal(sdp_parse(&g_offer, edited, (size_t)len, g_err, sizeof g_err), 0);
    negotiate_ok(&whip_policy);
    v = &g_neg.media[0];
    assert_int_equal(v->encoding_count, 3);
    assert_string_equal(v->encodings[0].rid, "x");
    assert_true(v->encodings[0].paused);
    assert_string_equal(v->encodings[2].rid, "h");
    write_and_reparse(&p);
    assert_has_line("a=simulcast:recv ~x;q;h");
    assert_null(strstr(g_out, "a=rid:f recv"));
    assert_null(strstr(g_out, "b.d"));
}

static void test_answer_whep_tracks(void **state)
{
    (void)state;
    parse_fixture("safari_offer.sdp");
    negotiate_ok(&whep_policy);
    sdp_answer_params p;
    answer_params(&p);
    p.local.candidate_count = 1;
    p.local.candidates[0].foundation = "abc";
    p.send[0] = (sdp_send_track){.ssrc = 1111, .rtx_ssrc = 2222, .cname = "junction",
                                 .stream_id = "live", .track_id = "video0"};
    p.send[1] = (sdp_send_track){.ssrc = 3333, .rtx_ssrc = 4444, .cname = "junction",
                                 .stream_id = "live", .track_id = "audio0"};
    write_and_reparse(&p);
    assert_has_line("m=video 40000 UDP/TLS/RTP/SAVPF 96 97 98 99 104 124 106 107");
    assert_has_line("a=sendonly");
    assert_has_line("a=msid:live video0");
    assert_has_line("a=ssrc-group:FID 1111 2222");
    assert_has_line("a=ssrc:1111 cname:junction");
    assert_has_line("a=ssrc:2222 msid:live video0");
    assert_has_line("a=ssrc:3333 msid:live audio0");
    assert_has_line("a=candidate:abc 1 udp 2130706431 192.0.2.1 40000 typ host");
    assert_null(strstr(g_out, "a=ssrc:4444")); /* audio has no RTX */
    assert_null(strstr(g_out, "a=ice-options"));

    const sdp_media *v = &g_answer.media[0];
    assert_int_equal(v->dir, SDP_DIR_SENDONLY);
    assert_string_equal(v->msid_stream, "live");
    assert_string_equal(v->msid_track, "video0");
    assert_int_equal(v->ssrc_count, 2);
    assert_int_equal(v->ssrc_groups[0].ssrcs[1], 2222);
    assert_string_equal(v->ssrcs[1].msid_track, "video0");
    assert_int_equal(g_answer.media[1].ssrc_count, 1);
    check_codec(&v->codecs[0], 96, "H264", 97, "profile-level-id=640c1f");
}

static void test_answer_rejected_and_limits(void **state)
{
    (void)state;
    /* A WHIP offer with a data channel and a text m= line: both rejected with port 0. */
    static const char offer[] =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "a=group:BUNDLE a d\r\na=fingerprint:sha-256 " FP_SHA256 "\r\n"
        "a=ice-ufrag:uf01\r\na=ice-pwd:pwd0123456789012345678\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\na=sendonly\r\n"
        "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:d\r\n"
        "a=sctp-port:5000\r\na=max-message-size:262144\r\n"
        "m=text 0 RTP/AVP 98\r\n";
    assert_int_equal(sdp_parse(&g_offer, offer, sizeof offer - 1, g_err, sizeof g_err), 0);
    assert_int_equal(g_offer.media[1].sctp_port, 5000);
    assert_int_equal(g_offer.media[1].max_message_size, 262144);
    assert_false(g_offer.media[1].rtp);
    assert_string_equal(g_offer.ice_ufrag, "uf01");
    negotiate_ok(&whip_policy);
    assert_true(g_neg.media[0].accepted);
    assert_int_equal(g_neg.media[1].reject, SDP_REJECT_DATACHANNEL);
    assert_int_equal(g_neg.media[2].reject, SDP_REJECT_DISABLED);
    assert_int_equal(g_neg.bundle_count, 1);
    assert_int_equal(g_neg.our_setup, SDP_SETUP_PASSIVE); /* no a=setup: offerer is active */

    sdp_answer_params p;
    answer_params(&p);
    p.local.candidate_count = 0;
    int n = write_and_reparse(&p);
    assert_has_line("a=group:BUNDLE a");
    assert_has_line("m=audio 9 UDP/TLS/RTP/SAVPF 111");
    assert_has_line("c=IN IP4 0.0.0.0");
    assert_has_line("m=application 0 UDP/DTLS/SCTP webrtc-datachannel");
    assert_has_line("a=mid:d");
    assert_has_line("m=text 0 RTP/AVP 98");
    assert_int_equal(g_answer.media[1].port, 0);

    /* Every shorter buffer fails cleanly. */
    for (size_t cap = 1; cap <= (size_t)n; cap += 7)
        assert_int_equal(sdp_write_answer(&g_offer, &g_neg, &p, g_out, cap), J_ESHORTBUF);
    assert_int_equal(sdp_write_answer(&g_offer, &g_neg, &p, g_out, (size_t)n + 1), n);

    /* Parameters that would inject lines are refused. */
    p.local.ice_ufrag = "bad\r\na=evil";
    assert_int_equal(sdp_write_answer(&g_offer, &g_neg, &p, g_out, sizeof g_out), J_EINVAL);
    answer_params(&p);
    p.local.candidate_count = SDP_MAX_ANSWER_CANDIDATES + 1;
    assert_int_equal(sdp_write_answer(&g_offer, &g_neg, &p, g_out, sizeof g_out), J_EINVAL);
    answer_params(&p);
    p.send[0] = (sdp_send_track){.ssrc = 1, .cname = "a b", .track_id = "t"};
    assert_int_equal(sdp_write_answer(&g_offer, &g_neg, &p, g_out, sizeof g_out), J_EINVAL);
}

/* ---- malformed input ---------------------------------------------------------------- */

#define HEAD "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
#define MEDIA "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"

static void test_malformed_table(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int code;
        const char *msg; /* substring expected in err */
    } cases[] = {
        {"", J_EMALFORMED, "no v= line"},
        {"o=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", J_EMALFORMED, "line 1: first line must be v=0"},
        {"v=1\r\n", J_EMALFORMED, "line 1: first line must be v=0"},
        {"v=0\r\ns=-\r\nt=0 0\r\n" MEDIA, J_EMALFORMED, "line 4: missing o= line"},
        {"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n", J_EMALFORMED, "missing t= line"},
        {"v=0\r\no=- 1 2 IN IP4\r\ns=-\r\nt=0 0\r\n", J_EMALFORMED, "line 2: bad o= line"},
        {"v=0\r\nv=0\r\n", J_EMALFORMED, "line 2: v= may appear only once"},
        {HEAD "m=audio abc UDP/TLS/RTP/SAVPF 111\r\n", J_EMALFORMED, "line 5: bad m= line: port"},
        {HEAD "m=audio 70000 UDP/TLS/RTP/SAVPF 111\r\n", J_EMALFORMED, "line 5: bad m= line"},
        {HEAD "m=audio 9 UDP/TLS/RTP/SAVPF\r\n", J_EMALFORMED, "line 5: bad m= line"},
        {HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 128\r\n", J_EMALFORMED, "not a payload type"},
        {HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111 111\r\n", J_EMALFORMED, "listed twice"},
        {HEAD MEDIA "a=rtpmap:111 opus\r\n", J_EMALFORMED, "line 6: bad a=rtpmap"},
        {HEAD MEDIA "a=rtpmap:abc opus/48000\r\n", J_EMALFORMED, "line 6: bad a=rtpmap"},
        {HEAD MEDIA "a=rtpmap:111 opus/0\r\n", J_EMALFORMED, "bad a=rtpmap: clock rate"},
        {HEAD MEDIA "a=rtpmap:111 opus/48000/0\r\n", J_EMALFORMED, "bad a=rtpmap: channels"},
        {HEAD MEDIA "a=rtpmap:111 opus/48000/2 extra\r\n", J_EMALFORMED, "bad a=rtpmap"},
        {HEAD MEDIA "a=fmtp:x minptime=10\r\n", J_EMALFORMED, "bad a=fmtp"},
        {HEAD MEDIA "a=rtcp-fb:200 nack\r\n", J_EMALFORMED, "bad a=rtcp-fb"},
        {HEAD MEDIA "a=extmap:0 urn:x\r\n", J_EMALFORMED, "line 6: extmap id 0 out of range"},
        {HEAD MEDIA "a=extmap:256 urn:x\r\n", J_EMALFORMED, "extmap id 256 out of range"},
        {HEAD MEDIA "a=extmap:99999999 urn:x\r\n", J_EMALFORMED, "bad a=extmap"},
        {HEAD MEDIA "a=extmap:3/sideways urn:x\r\n", J_EMALFORMED, "bad a=extmap: direction"},
        {HEAD MEDIA "a=extmap:3\r\n", J_EMALFORMED, "bad a=extmap"},
        {HEAD MEDIA "a=extmap:3 urn:x\r\na=extmap:3 urn:y\r\n", J_EMALFORMED, "line 7: extmap id 3 used twice"},
        {HEAD MEDIA "a=setup:maybe\r\n", J_EMALFORMED, "bad a=setup"},
        {HEAD "a=fingerprint:sha-256\r\n", J_EMALFORMED, "line 5: bad a=fingerprint"},
        {HEAD MEDIA "a=ice-ufrag:\r\n", J_EMALFORMED, "bad a=ice-ufrag"},
        {HEAD MEDIA "a=ice-ufrag:abc\r\n", J_EMALFORMED,
         "line 6: bad a=ice-ufrag: needs at least 4 characters, got 3"},
        {HEAD MEDIA "a=ice-ufrag:ab:cd\r\n", J_EMALFORMED,
         "bad a=ice-ufrag: character 3 is not a letter, digit, '+' or '/'"},
        {HEAD "a=ice-ufrag:abc\xc3\xa9\r\n", J_EMALFORMED, "line 5: bad a=ice-ufrag: character 4"},
        {HEAD MEDIA "a=ice-pwd:pwd012345678901234567\r\n", J_EMALFORMED,
         "bad a=ice-pwd: needs at least 22 characters, got 21"},
        {HEAD MEDIA "a=ice-pwd:pwd0123456789012345678\x01\r\n", J_EMALFORMED, "control character"},
        {HEAD MEDIA "a=ice-pwd:pwd0123456789012345678_\r\n", J_EMALFORMED,
         "bad a=ice-pwd: character 23 is not"},
        {HEAD MEDIA "a=fingerprint:sha-256 AA:BB\r\n", J_EMALFORMED,
         "line 6: bad a=fingerprint: sha-256 needs 32 bytes, got 2"},
        {HEAD "a=fingerprint:SHA-1 " FP_SHA256 "\r\n", J_EMALFORMED,
         "bad a=fingerprint: SHA-1 needs 20 bytes, got 32"},
        {HEAD "a=fingerprint:sha-512 " FP_SHA256 "\r\n", J_EMALFORMED,
         "bad a=fingerprint: sha-512 needs 64 bytes, got 32"},
        {HEAD "a=fingerprint:sha-256 AA:BG:CC\r\n", J_EMALFORMED,
         "bad a=fingerprint: byte 2 is not two hex digits"},
        {HEAD "a=fingerprint:sha-256 AABB\r\n", J_EMALFORMED,
         "bad a=fingerprint: byte 1 is not followed by ':'"},
        {HEAD "a=fingerprint:sha-256 AA:B:CC\r\n", J_EMALFORMED,
         "bad a=fingerprint: byte 2 is not two hex digits"},
        {HEAD "a=fingerprint:sha-256 AA:\r\n", J_EMALFORMED,
         "bad a=fingerprint: byte 2 is not two hex digits"},
        {HEAD "a=fingerprint:md5 AA:BB:\r\n", J_EMALFORMED,
         "bad a=fingerprint: byte 3 is not two hex digits"},
        {HEAD MEDIA "a=ssrc:abc cname:x\r\n", J_EMALFORMED, "bad a=ssrc"},
        {HEAD MEDIA "a=ssrc:1\r\n", J_EMALFORMED, "bad a=ssrc"},
        {HEAD MEDIA "a=ssrc-group:FID 1\r\n", J_EMALFORMED, "needs exactly 2"},
        {HEAD MEDIA "a=rid:q sideways\r\n", J_EMALFORMED, "bad a=rid"},
        {HEAD MEDIA "a=simulcast:send q;;f\r\n", J_EMALFORMED, "bad a=simulcast"},
        {HEAD MEDIA "a=simulcast:up q\r\n", J_EMALFORMED, "bad a=simulcast"},
        {HEAD MEDIA "a=sctp-port:99999\r\n", J_EMALFORMED, "bad a=sctp-port"},
        {HEAD MEDIA "c=IN IP5 1.2.3.4\r\n", J_EMALFORMED, "line 6: bad c= line"},
        {HEAD MEDIA "a=mid:0\r\n" MEDIA "a=mid:0\r\n", J_EMALFORMED, "a=mid:0 used by"},
        {HEAD "garbage\r\n", J_EMALFORMED, "line 5: expected <type>=<value>"},
        {HEAD "A=foo\r\n", J_EMALFORMED, "line 5: expected"},
        {HEAD "\r\n" MEDIA, J_EMALFORMED, "line 5: empty line"},
        {HEAD "a=x\rb\r\n", J_EMALFORMED, "line 5: control character"},
        {HEAD MEDIA "t=0 0\r\n", J_EMALFORMED, "t= inside a media section"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = sdp_parse(&g_offer, cases[i].text, strlen(cases[i].text), g_err, sizeof g_err);
        if (rc != cases[i].code || !strstr(g_err, cases[i].msg))
            fail_msg("case %zu: got %d '%s', want %d '%s'", i, rc, g_err, cases[i].code, cases[i].msg);
    }

    /* An embedded NUL is rejected, not treated as the end of the text. */
    static const char with_nul[] = HEAD "a=ice-ufrag:ab\0cd\r\n";
    assert_int_equal(sdp_parse(&g_offer, with_nul, sizeof with_nul - 1, g_err, sizeof g_err),
                     J_EMALFORMED);
    assert_non_null(strstr(g_err, "control character 0x00"));
    /* Trailing blank lines are fine; a NULL err buffer is fine. */
    static const char trailing[] = HEAD MEDIA "\r\n\r\n";
    assert_int_equal(sdp_parse(&g_offer, trailing, sizeof trailing - 1, NULL, 0), 0);
    assert_int_equal(sdp_parse(NULL, trailing, 4, g_err, sizeof g_err), J_EINVAL);
    /* Unknown line types and attributes are skipped. */
    static const char unknown[] = HEAD "b=AS:30\r\nz=x\r\na=whatever:1 2 3\r\n" MEDIA
                                  "a=rtcp:9 IN IP4 0.0.0.0\r\na=x-google-flag:conference\r\n";
    assert_int_equal(sdp_parse(&g_offer, unknown, sizeof unknown - 1, g_err, sizeof g_err), 0);
}

/* Build head + count copies of fmt(i, i) for i = 1..count into g_text. */
static size_t build(const char *head, const char *fmt, unsigned count)
{
    size_t n = (size_t)snprintf(g_text, sizeof g_text, "%s", head);
    for (unsigned i = 0; i < count; i++)
        n += (size_t)snprintf(g_text + n, sizeof g_text - n, fmt, i + 1, i + 1);
    return n;
}

static void expect_limit(size_t n, const char *msg)
{
    int rc = sdp_parse(&g_offer, g_text, n, g_err, sizeof g_err);
    if (rc != J_ELIMIT || !strstr(g_err, msg))
        fail_msg("got %d '%s', want J_ELIMIT '%s'", rc, g_err, msg);
}

static void test_limits(void **state)
{
    (void)state;
    /* At the limit: fine. One more: J_ELIMIT naming the line. */
    size_t n = build(HEAD, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:m%u\r\n", SDP_MAX_MEDIA);
    assert_int_equal(sdp_parse(&g_offer, g_text, n, g_err, sizeof g_err), 0);
    n = build(HEAD, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:m%u\r\n", SDP_MAX_MEDIA + 1);
    char want[64];
    snprintf(want, sizeof want, "line %d: more than %d m= lines", 5 + 2 * SDP_MAX_MEDIA,
             SDP_MAX_MEDIA);
    expect_limit(n, want);

    n = (size_t)snprintf(g_text, sizeof g_text, HEAD "m=video 9 UDP/TLS/RTP/SAVPF");
    for (unsigned i = 0; i <= SDP_MAX_FORMATS; i++)
        n += (size_t)snprintf(g_text + n, sizeof g_text - n, " %u", i);
    n += (size_t)snprintf(g_text + n, sizeof g_text - n, "\r\n");
    expect_limit(n, "line 5: more than 64 payload types");

    n = build(HEAD MEDIA, "a=extmap:%u urn:example:%u\r\n", SDP_MAX_EXTMAPS + 2);
    expect_limit(n, "more than 24 a=extmap");

    n = build(HEAD MEDIA, "a=ssrc:%u cname:c%u\r\n", SDP_MAX_SSRCS + 1);
    expect_limit(n, "more than 16 SSRCs");

    n = build(HEAD MEDIA, "a=rid:r%u send\r\n", SDP_MAX_RIDS + 1);
    expect_limit(n, "more than 8 a=rid");

    n = build(HEAD, "a=group:BUNDLE g%u\r\n", SDP_MAX_GROUPS + 1);
    expect_limit(n, "more than 4 BUNDLE groups");

    /* More candidates than we keep: counted, not an error (we are ICE-lite). */
    n = build(HEAD MEDIA, "a=candidate:%u 1 udp 1 192.0.2.1 %u typ host\r\n", SDP_MAX_CANDIDATES + 5);
    assert_int_equal(sdp_parse(&g_offer, g_text, n, g_err, sizeof g_err), 0);
    assert_int_equal(g_offer.media[0].candidate_count, SDP_MAX_CANDIDATES + 5);
    assert_int_equal(g_offer.media[0].candidates_kept, SDP_MAX_CANDIDATES);

    /* Over-long values. */
    char longv[400];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    static const struct { const char *prefix; const char *msg; } fields[] = {
        {"a=ice-ufrag:", "ice-ufrag is 399 characters, the limit is 256"},
        {"a=ice-pwd:", "ice-pwd is 399"},
        {"a=mid:", "a=mid is 399 characters, the limit is 32"},
        {"a=fmtp:111 ", "a=fmtp parameters is 399"},
        {"a=rtpmap:111 ", "codec name"},
        {"a=msid:", "msid stream id"},
        {"a=ssrc:1 cname:", "cname"},
        {"a=extmap:1 ", "extmap URI"},
        {"a=candidate:", "a=candidate is 399"},
        {"a=fingerprint:sha-256 ", "fingerprint is 399"},
        {"a=rid:", "rid id"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        n = (size_t)snprintf(g_text, sizeof g_text, HEAD MEDIA "%s%s%s\r\n", fields[i].prefix, longv,
                             strstr(fields[i].prefix, "rtpmap") ? "/90000"
                             : strstr(fields[i].prefix, "rid") ? " send" : "");
        int rc = sdp_parse(&g_offer, g_text, n, g_err, sizeof g_err);
        if (rc != J_ELIMIT || !strstr(g_err, fields[i].msg) || !strstr(g_err, "line 6"))
            fail_msg("%s: got %d '%s'", fields[i].prefix, rc, g_err);
    }
}

/* Every hash DTLS verifies is accepted in either case; an unknown one is kept for
 * sdp_negotiate to refuse. */
static void test_parse_fingerprints(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "a=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33\r\n",
        "a=fingerprint:SHA-256 " FP_SHA256 "\r\n",
        "a=fingerprint:sha-384 " FP_SHA256 ":00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n",
        "a=fingerprint:sha-512 " FP_SHA256 ":" FP_SHA256 "\r\n",
        "a=fingerprint:md5 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int n = snprintf(g_text, sizeof g_text, HEAD "%s" MEDIA, ok[i]);
        if (sdp_parse(&g_offer, g_text, (size_t)n, g_err, sizeof g_err) != 0)
            fail_msg("'%s' refused: %s", ok[i], g_err);
    }
    assert_string_equal(g_offer.fingerprint.alg, "md5");
}

/* ---- negotiation failures ----------------------------------------------------------- */

#define NHEAD "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
#define FP "a=fingerprint:sha-256 " FP_SHA256 "\r\n"
#define ICE "a=ice-ufrag:uf01\r\na=ice-pwd:pwd0123456789012345678\r\n"
#define OPUS_M(mid, dir) "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:" mid "\r\na=" dir "\r\na=rtcp-mux\r\n" \
                         "a=rtpmap:111 opus/48000/2\r\n"
#define VP8_M(mid, dir) "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:" mid "\r\na=" dir "\r\na=rtcp-mux\r\n" \
                        "a=rtpmap:96 VP8/90000\r\n"

static void test_negotiate_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const sdp_policy *policy;
        int code;
        const char *msg;
    } cases[] = {
        {NHEAD ICE OPUS_M("0", "sendonly"), &whip_policy, J_EMALFORMED, "missing a=fingerprint"},
        {NHEAD FP OPUS_M("0", "sendonly"), &whip_policy, J_EMALFORMED, "missing a=ice-ufrag"},
        {NHEAD FP ICE "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n",
         &whip_policy, J_EUNSUPPORTED, "no usable codec"},
        {NHEAD FP ICE "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000\r\n",
         &whip_policy, J_EUNSUPPORTED, "no usable codec"},
        {NHEAD FP ICE "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtcp-mux\r\na=rtpmap:96 H264/90000\r\n"
                      "a=fmtp:96 packetization-mode=0;profile-level-id=42e01f\r\n",
         &whip_policy, J_EUNSUPPORTED, "no usable codec"},
        {NHEAD FP ICE "m=audio 9 RTP/AVP 111\r\na=mid:0\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n",
         &whip_policy, J_EUNSUPPORTED, "no acceptable m= section"},
        {NHEAD FP ICE "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n", &whip_policy,
         J_EUNSUPPORTED, "no acceptable m= section"},
        {"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" FP ICE OPUS_M("0", "sendonly")
             VP8_M("1", "sendonly"), &whip_policy, J_EUNSUPPORTED, "BUNDLE required: m= section 0"},
        {"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" FP ICE
             OPUS_M("0", "sendonly") VP8_M("1", "sendonly"), &whip_policy, J_EUNSUPPORTED,
         "BUNDLE required: m= section 1 (mid 1)"},
        {NHEAD FP ICE "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n",
         &whip_policy, J_EUNSUPPORTED, "rtcp-mux required: m= section 0 (mid 0)"},
        {NHEAD FP ICE OPUS_M("0", "sendonly"), &whep_policy, J_EUNSUPPORTED, "no m= section can flow"},
        {NHEAD FP ICE OPUS_M("0", "recvonly"), &whip_policy, J_EUNSUPPORTED, "no m= section can flow"},
        {NHEAD FP ICE "a=setup:holdconn\r\n" OPUS_M("0", "sendonly"), &whip_policy, J_EUNSUPPORTED,
         "holdconn"},
        {NHEAD FP OPUS_M("0", "sendonly") ICE VP8_M("1", "sendonly") "a=ice-ufrag:other\r\n",
         &whip_policy, J_EMALFORMED, "disagree"},
        {NHEAD "a=fingerprint:md5 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n" ICE
             OPUS_M("0", "sendonly"), &whip_policy, J_EMALFORMED,
         "bad a=fingerprint for mid 0: hash function 'md5' is not supported (sha-1, sha-256, "
         "sha-384, sha-512)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = sdp_parse(&g_offer, cases[i].text, strlen(cases[i].text), g_err, sizeof g_err);
        if (rc != 0) fail_msg("case %zu does not parse: %s", i, g_err);
        rc = sdp_negotiate(&g_offer, cases[i].policy, &g_neg, g_err, sizeof g_err);
        if (rc != cases[i].code || !strstr(g_err, cases[i].msg))
            fail_msg("case %zu: got %d '%s', want %d '%s'", i, rc, g_err, cases[i].code, cases[i].msg);
    }

    /* One m= section without a group is a single transport: fine. A disabled section
     * (port 0) is rejected without failing the rest. */
    static const char single[] = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" FP ICE
                                 OPUS_M("0", "sendonly") "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n";
    assert_int_equal(sdp_parse(&g_offer, single, sizeof single - 1, g_err, sizeof g_err), 0);
    negotiate_ok(&whip_policy);
    assert_int_equal(g_neg.bundle_count, 0);
    assert_int_equal(g_neg.media[1].reject, SDP_REJECT_DISABLED);
    assert_int_equal(sdp_negotiate(NULL, &whip_policy, &g_neg, g_err, sizeof g_err), J_EINVAL);
}

/* ---- helpers ------------------------------------------------------------------------ */

static sdp_codec mk(const char *name, uint32_t clock, uint8_t ch, const char *fmtp)
{
    sdp_codec c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.clock_rate = clock;
    c.channels = ch;
    snprintf(c.fmtp, sizeof c.fmtp, "%s", fmtp);
    return c;
}

static void test_codec_same(void **state)
{
    (void)state;
    sdp_codec opus1 = mk("opus", 48000, 2, "minptime=10"), opus2 = mk("OPUS", 48000, 2, "");
    assert_true(sdp_codec_same(&opus1, &opus2));
    sdp_codec opus_mono = mk("opus", 48000, 1, "");
    assert_false(sdp_codec_same(&opus1, &opus_mono));
    sdp_codec pcmu0 = mk("PCMU", 8000, 0, ""), pcmu1 = mk("PCMU", 8000, 1, "");
    assert_true(sdp_codec_same(&pcmu0, &pcmu1));

    sdp_codec vp8 = mk("VP8", 90000, 0, ""), vp9 = mk("VP9", 90000, 0, "");
    assert_false(sdp_codec_same(&vp8, &vp9));
    sdp_codec vp9p0 = mk("VP9", 90000, 0, "profile-id=0"), vp9p2 = mk("VP9", 90000, 0, "profile-id=2");
    assert_true(sdp_codec_same(&vp9, &vp9p0));
    assert_false(sdp_codec_same(&vp9p0, &vp9p2));
    sdp_codec av1 = mk("AV1", 90000, 0, ""), av1p0 = mk("AV1", 90000, 0, "level-idx=5;profile=0;tier=0");
    sdp_codec av1p1 = mk("AV1", 90000, 0, "level-idx=5;profile=1;tier=0");
    assert_true(sdp_codec_same(&av1, &av1p0));
    assert_false(sdp_codec_same(&av1p0, &av1p1));

    const char *cb1 = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
    sdp_codec h_cb = mk("H264", 90000, 0, cb1);
    sdp_codec h_cb_l52 = mk("h264", 90000, 0, "profile-level-id=42E034;packetization-mode=1");
    sdp_codec h_cb_main = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=4d801f");
    sdp_codec h_base = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=42001f");
    sdp_codec h_cb_mode0 = mk("H264", 90000, 0, "packetization-mode=0;profile-level-id=42e01f");
    sdp_codec h_chigh = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=640c1f");
    sdp_codec h_chigh_l34 = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=640c34");
    sdp_codec h_high = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=64001f");
    sdp_codec h_main = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=4d001f");
    sdp_codec h_default = mk("H264", 90000, 0, "packetization-mode=1");
    sdp_codec h_bad = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=42e0");
    sdp_codec h_444 = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=f4001f");
    sdp_codec h_444b = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=f40032");
    assert_true(sdp_codec_same(&h_cb, &h_cb_l52));      /* levels do not matter */
    assert_true(sdp_codec_same(&h_cb, &h_cb_main));     /* Main + constraint_set0 is CB */
    assert_false(sdp_codec_same(&h_cb, &h_base));
    assert_false(sdp_codec_same(&h_cb, &h_cb_mode0));
    assert_true(sdp_codec_same(&h_chigh, &h_chigh_l34));
    assert_false(sdp_codec_same(&h_chigh, &h_high));
    assert_false(sdp_codec_same(&h_main, &h_high));
    assert_true(sdp_codec_same(&h_base, &h_default));   /* absent = 420010, Baseline */
    assert_false(sdp_codec_same(&h_cb, &h_bad));
    assert_true(sdp_codec_same(&h_444, &h_444b));
    assert_false(sdp_codec_same(&h_444, &h_high));
    assert_false(sdp_codec_same(&h_cb, NULL));
}

/* What a viewer can receive of a publisher: some codec the same on both sides. */
static void test_codecs_overlap_and_names(void **state)
{
    (void)state;
    const sdp_codec vp8_only[] = {mk("VP8", 90000, 0, "")};
    const sdp_codec h264_offer[] = {
        mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=42e01f"),
        mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=42001f"),
        mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=4d001f")};
    const sdp_codec h264_high[] = {mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=64001f")};
    const sdp_codec mixed[] = {mk("VP9", 90000, 0, "profile-id=2"), mk("VP8", 90000, 0, ""),
                               mk("AV1", 90000, 0, "profile=1")};
    assert_false(sdp_codecs_overlap(vp8_only, 1, h264_offer, 3));
    assert_false(sdp_codecs_overlap(h264_high, 1, h264_offer, 3)); /* the profile decides */
    assert_true(sdp_codecs_overlap(h264_offer + 2, 1, h264_offer, 3));
    assert_true(sdp_codecs_overlap(vp8_only, 1, mixed, 3));
    assert_false(sdp_codecs_overlap(vp8_only, 1, mixed, 0));

    char names[128];
    sdp_codec_names(h264_offer, 3, names, sizeof names);
    assert_string_equal(names, "H264 Constrained Baseline, H264 Baseline, H264 Main");
    sdp_codec_names(mixed, 3, names, sizeof names);
    assert_string_equal(names, "VP9 profile 2, VP8, AV1 profile 1");
    const sdp_codec repeated[] = {mk("VP8", 90000, 0, ""), mk("VP8", 90000, 0, ""),
                                  mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=f4001f"),
                                  mk("H264", 90000, 0, "profile-level-id=zz")};
    sdp_codec_names(repeated, 4, names, sizeof names);
    assert_string_equal(names, "VP8, H264 profile_idc 244, H264");
    sdp_codec_names(repeated, 3, names, 12); /* a name that does not fit is left out whole */
    assert_string_equal(names, "VP8");
    sdp_codec_names(repeated, 0, names, sizeof names);
    assert_string_equal(names, "");
}

/* A section rejected after negotiation is answered with port 0 and leaves the BUNDLE group. */
static void test_neg_reject(void **state)
{
    (void)state;
    parse_fixture("chromium_view_offer.sdp");
    negotiate_ok(&whep_policy);
    assert_int_equal(g_neg.bundle_count, 2);
    assert_string_equal(g_neg.bundle_mids[0], "0");
    sdp_neg_reject(&g_neg, 0, SDP_REJECT_NO_CODEC);
    assert_false(g_neg.media[0].accepted);
    assert_int_equal(g_neg.media[0].reject, SDP_REJECT_NO_CODEC);
    assert_int_equal(g_neg.bundle_count, 1);
    assert_string_equal(g_neg.bundle_mids[0], "1");
    sdp_neg_reject(&g_neg, 0, SDP_REJECT_NO_CODEC); /* already rejected: nothing */
    sdp_neg_reject(&g_neg, 7, SDP_REJECT_NO_CODEC);
    sdp_neg_reject(&g_neg, -1, SDP_REJECT_NO_CODEC);
    assert_int_equal(g_neg.bundle_count, 1);
    sdp_answer_params p;
    answer_params(&p);
    write_and_reparse(&p);
    assert_has_line("a=group:BUNDLE 1");
    assert_int_equal(g_answer.media[0].port, 0);
    assert_string_equal(g_answer.media[0].mid, "0");
    assert_int_not_equal(g_answer.media[1].port, 0);
}

static void test_helpers(void **state)
{
    (void)state;
    char v[32];
    const char *f = "level-asymmetry-allowed=1; packetization-mode = 1;profile-level-id=42e01f";
    assert_int_equal(sdp_fmtp_get(f, "packetization-mode", v, sizeof v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(sdp_fmtp_get(f, "PROFILE-LEVEL-ID", v, sizeof v), 6);
    assert_string_equal(v, "42e01f");
    assert_int_equal(sdp_fmtp_get(f, "profile", v, sizeof v), J_ENOTFOUND);
    assert_int_equal(sdp_fmtp_get(f, "profile-level-id", v, 6), J_ESHORTBUF);
    assert_int_equal(sdp_fmtp_get("0-15", "apt", v, sizeof v), J_ENOTFOUND);
    assert_int_equal(sdp_fmtp_get("", "apt", v, sizeof v), J_ENOTFOUND);

    for (int e = SDP_EXT_UNKNOWN + 1; e < SDP_EXT_COUNT; e++)
        assert_int_equal(sdp_ext_from_uri(sdp_ext_uri((sdp_ext)e)), e);
    assert_null(sdp_ext_uri(SDP_EXT_UNKNOWN));
    assert_null(sdp_ext_uri(SDP_EXT_COUNT));
    assert_int_equal(sdp_ext_from_uri("urn:3gpp:video-orientation"), SDP_EXT_VIDEO_ORIENTATION);
    assert_int_equal(sdp_ext_from_uri("urn:ietf:params:rtp-hdrext:toffset"), SDP_EXT_UNKNOWN);

    /* RFC 8445 §5.1.2.1 */
    assert_int_equal(sdp_candidate_priority(126, 65535, 1), 2130706431u);
    assert_int_equal(sdp_candidate_priority(0, 0, 1), 255u);
    assert_int_equal(sdp_candidate_priority(110, 65535, 2), (110u << 24) + (65535u << 8) + 254u);
}

/* ---- offers (junction-load's) and candidates ------------------------------------------ */

static const sdp_codec offer_opus = {.pt = 111, .name = "opus", .clock_rate = 48000,
                                     .channels = 2, .fmtp = "minptime=10;useinbandfec=1",
                                     .rtcp_fb = SDP_FB_TWCC};
static const sdp_codec offer_vp8 = {.pt = 96, .name = "VP8", .clock_rate = 90000, .rtx_pt = 97,
                                    .rtcp_fb = SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR};

static void offer_params(sdp_offer_params *p, sdp_dir dir)
{
    memset(p, 0, sizeof *p);
    p->local.session_id = 77;
    p->local.ice_ufrag = "cliU";
    p->local.ice_pwd = "clientPasswordClientPass";
    p->local.fingerprint = "sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
                     "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF";
    p->local.candidate_count = 1;
    assert_int_equal(j_addr_parse(&p->local.candidates[0].addr, "127.1.0.9", 5004), 0);
    p->media_count = 2;
    p->media[0] = (sdp_offer_media){.kind = SDP_KIND_AUDIO, .mid = "0", .dir = dir,
                                    .codec_count = 1, .codecs = &offer_opus};
    p->media[0].ext_id[SDP_EXT_MID] = 4;
    p->media[0].ext_id[SDP_EXT_AUDIO_LEVEL] = 1;
    p->media[1] = (sdp_offer_media){.kind = SDP_KIND_VIDEO, .mid = "1", .dir = dir,
                                    .codec_count = 1, .codecs = &offer_vp8};
    p->media[1].ext_id[SDP_EXT_MID] = 4;
    if (dir == SDP_DIR_SENDONLY) {
        p->media[0].send = (sdp_send_track){.ssrc = 1111, .cname = "load", .stream_id = "s",
                                            .track_id = "a"};
        p->media[1].send = (sdp_send_track){.ssrc = 2222, .rtx_ssrc = 2223, .cname = "load",
                                            .stream_id = "s", .track_id = "v"};
    }
}

/* A publisher's offer: parses, and our own server policy accepts it as WHIP would. */
static void test_offer_publish_roundtrip(void **state)
{
    (void)state;
    sdp_offer_params p;
    offer_params(&p, SDP_DIR_SENDONLY);
    int n = sdp_write_offer(&p, g_out, sizeof g_out);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(g_out));
    assert_true(strncmp(g_out, "v=0\r\no=- 77 2 IN IP4 127.0.0.1\r\n", 32) == 0);
    assert_null(strstr(g_out, "a=ice-lite"));
    assert_has_line("a=group:BUNDLE 0 1");
    assert_has_line("m=audio 5004 UDP/TLS/RTP/SAVPF 111");
    assert_has_line("m=video 5004 UDP/TLS/RTP/SAVPF 96 97");
    assert_has_line("c=IN IP4 127.1.0.9");
    assert_has_line("a=setup:actpass");
    assert_has_line("a=rtcp-rsize");
    assert_has_line("a=sendonly");
    assert_has_line("a=fmtp:111 minptime=10;useinbandfec=1");
    assert_has_line("a=rtcp-fb:111 transport-cc");
    assert_has_line("a=fmtp:97 apt=96");
    assert_has_line("a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid");
    assert_has_line("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    assert_has_line("a=ssrc-group:FID 2222 2223");
    assert_has_line("a=ssrc:1111 msid:s a");
    assert_has_line("a=candidate:1 1 udp 2130706431 127.1.0.9 5004 typ host");

    assert_int_equal(sdp_parse(&g_offer, g_out, (size_t)n, g_err, sizeof g_err), 0);
    assert_int_equal(g_offer.media_count, 2);
    assert_int_equal(g_offer.media[0].setup, SDP_SETUP_ACTPASS);
    negotiate_ok(&whip_policy);
    assert_true(g_neg.media[0].accepted && g_neg.media[1].accepted);
    assert_int_equal(g_neg.media[1].dir, SDP_DIR_RECVONLY);
    assert_int_equal(g_neg.media[1].codecs[0].pt, 96);
    assert_int_equal(g_neg.media[1].codecs[0].rtx_pt, 97);
    assert_int_equal(g_neg.media[1].streams[0].ssrc, 2222);
    assert_int_equal(g_neg.media[1].streams[0].rtx_ssrc, 2223);
    assert_int_equal(g_neg.media[0].ext_id[SDP_EXT_MID], 4);
    assert_int_equal(g_neg.our_setup, SDP_SETUP_PASSIVE);
    assert_string_equal(g_neg.remote_ufrag, "cliU");
}

static void test_offer_view_and_errors(void **state)
{
    (void)state;
    sdp_offer_params p;
    offer_params(&p, SDP_DIR_RECVONLY);
    int n = sdp_write_offer(&p, g_out, sizeof g_out);
    assert_true(n > 0);
    assert_has_line("a=recvonly");
    assert_null(strstr(g_out, "a=ssrc"));
    assert_null(strstr(g_out, "a=msid:"));
    assert_int_equal(sdp_parse(&g_offer, g_out, (size_t)n, g_err, sizeof g_err), 0);
    negotiate_ok(&whep_policy);
    assert_int_equal(g_neg.media[0].dir, SDP_DIR_SENDONLY);

    /* Every shorter buffer fails cleanly. */
    char small[512];
    assert_true((size_t)n > sizeof small);
    assert_int_equal(sdp_write_offer(&p, small, sizeof small), J_ESHORTBUF);
    assert_string_equal(small, "");

    sdp_offer_params bad = p;
    bad.media[1].mid = "0";
    assert_int_equal(sdp_write_offer(&bad, g_out, sizeof g_out), J_EINVAL);
    bad = p;
    bad.media[0].mid = "a b";
    assert_int_equal(sdp_write_offer(&bad, g_out, sizeof g_out), J_EINVAL);
    bad = p;
    bad.media[0].kind = SDP_KIND_APPLICATION;
    assert_int_equal(sdp_write_offer(&bad, g_out, sizeof g_out), J_EINVAL);
    bad = p;
    bad.media[0].dir = SDP_DIR_INACTIVE;
    assert_int_equal(sdp_write_offer(&bad, g_out, sizeof g_out), J_EINVAL);
    bad = p;
    bad.media[0].codec_count = 0;
    assert_int_equal(sdp_write_offer(&bad, g_out, sizeof g_out), J_EINVAL);
    bad = p;
    bad.local.ice_pwd = "pass\r\nword";
    assert_int_equal(sdp_write_offer(&bad, g_out, sizeof g_out), J_EINVAL);
    bad = p;
    bad.media_count = 0;
    assert_int_equal(sdp_write_offer(&bad, g_out, sizeof g_out), J_EINVAL);
    bad = p;
    bad.media[0].ext_id[SDP_EXT_UNKNOWN] = 3;
    assert_int_equal(sdp_write_offer(&bad, g_out, sizeof g_out), J_EINVAL);
    sdp_codec evil = offer_opus;
    strcpy(evil.fmtp, "x=1\r\na=evil");
    bad = p;
    bad.media[0].codecs = &evil;
    assert_int_equal(sdp_write_offer(&bad, g_out, sizeof g_out), J_EINVAL);
    assert_int_equal(sdp_write_offer(NULL, g_out, sizeof g_out), J_EINVAL);
}

/* Answering an offer from a server (Janus offers its subscribers): the answer of a full
 * ICE agent, same writer as the server's. */
static void test_client_answers_server_offer(void **state)
{
    (void)state;
    sdp_offer_params p;
    offer_params(&p, SDP_DIR_SENDONLY); /* the server's offer: it sends */
    int n = sdp_write_offer(&p, g_text, sizeof g_text);
    assert_true(n > 0);
    assert_int_equal(sdp_parse(&g_offer, g_text, (size_t)n, g_err, sizeof g_err), 0);
    sdp_policy client = whip_policy; /* receive only */
    negotiate_ok(&client);
    sdp_answer_params ap;
    answer_params(&ap);
    ap.ice_lite = false;
    write_and_reparse(&ap);
    assert_null(strstr(g_out, "a=ice-lite"));
    assert_has_line("a=recvonly");
    assert_has_line("a=setup:passive");
    assert_int_equal(g_answer.media[1].codecs[0].pt, 96);
}

static void test_candidate_parse(void **state)
{
    (void)state;
    sdp_candidate c;
    assert_int_equal(sdp_candidate_parse("1 1 udp 2130706431 127.0.0.1 40000 typ host", &c), J_OK);
    assert_string_equal(c.foundation, "1");
    assert_int_equal(c.component, 1);
    assert_true(c.udp);
    assert_int_equal(c.priority, 2130706431u);
    assert_int_equal(c.type, SDP_CAND_HOST);
    j_addr want;
    j_addr_parse(&want, "127.0.0.1", 40000);
    assert_true(j_addr_equal(&c.addr, &want));

    assert_int_equal(sdp_candidate_parse("842163049 1 UDP 1677729535 2001:db8::5 3478 typ srflx "
                                         "raddr 0.0.0.0 rport 0 generation 0 network-cost 999",
                                         &c),
                     J_OK);
    assert_true(c.udp);
    assert_int_equal(c.type, SDP_CAND_SRFLX);
    assert_int_equal(c.addr.sa.sa_family, AF_INET6);
    assert_int_equal(j_addr_port(&c.addr), 3478);
    assert_int_equal(sdp_candidate_parse("a+/Z 2 tcp 1 10.0.0.1 9 typ relay tcptype active", &c),
                     J_OK);
    assert_false(c.udp);
    assert_int_equal(c.component, 2);
    assert_int_equal(c.type, SDP_CAND_RELAY);

    static const struct { const char *v; int rc; } bad[] = {
        {"", J_EMALFORMED},
        {"1 1 udp 1 127.0.0.1 40000 typ", J_EMALFORMED},
        {"1 1 udp 1 127.0.0.1 40000 type host", J_EMALFORMED},
        {"1 0 udp 1 127.0.0.1 40000 typ host", J_EMALFORMED},
        {"1 257 udp 1 127.0.0.1 40000 typ host", J_EMALFORMED},
        {"1 0001 udp 1 127.0.0.1 40000 typ host", J_EMALFORMED},
        {"1 1 udp 4294967296 127.0.0.1 40000 typ host", J_EMALFORMED},
        {"1 1 udp 1 127.0.0.1 65536 typ host", J_EMALFORMED},
        {"1 1 udp -1 127.0.0.1 1 typ host", J_EMALFORMED},
        {"f:o 1 udp 1 127.0.0.1 1 typ host", J_EMALFORMED},
        {"123456789012345678901234567890123 1 udp 1 127.0.0.1 1 typ host", J_EMALFORMED},
        {"1 1 udp 1 3c5a2b1e-1111.local 40000 typ host", J_EUNSUPPORTED},
        {"1 1 udp 1 127.0.0.1 40000 typ weird", J_EUNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sdp_candidate_parse(bad[i].v, &c) != bad[i].rc) fail_msg("'%s'", bad[i].v);
    assert_int_equal(sdp_candidate_parse(NULL, &c), J_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_all_fixtures),
        cmocka_unit_test(test_parse_firefox_offer),
        cmocka_unit_test(test_parse_firefox_extmap_direction),
        cmocka_unit_test(test_parse_chromium_offers),
        cmocka_unit_test(test_parse_lf_only),
        cmocka_unit_test(test_whip_chromium),
        cmocka_unit_test(test_whip_firefox),
        cmocka_unit_test(test_whip_simulcast),
        cmocka_unit_test(test_whep_chromium),
        cmocka_unit_test(test_whep_safari),
        cmocka_unit_test(test_whep_chromium_av1),
        cmocka_unit_test(test_whep_firefox),
        cmocka_unit_test(test_setup_roles),
        cmocka_unit_test(test_answer_whip_roundtrip),
        cmocka_unit_test(test_answer_simulcast),
        cmocka_unit_test(test_answer_whep_tracks),
        cmocka_unit_test(test_answer_rejected_and_limits),
        cmocka_unit_test(test_malformed_table),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_parse_fingerprints),
        cmocka_unit_test(test_negotiate_errors),
        cmocka_unit_test(test_codec_same),
        cmocka_unit_test(test_codecs_overlap_and_names),
        cmocka_unit_test(test_neg_reject),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_offer_publish_roundtrip),
        cmocka_unit_test(test_offer_view_and_errors),
        cmocka_unit_test(test_client_answers_server_offer),
        cmocka_unit_test(test_candidate_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
