/* peer_test.c - junction-load's client connection against the server's own peer (src/peer),
 * datagrams passed in memory: ICE client -> ICE-lite, DTLS in both role assignments, SRTP
 * both ways, and a fingerprint mismatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "load/load.h"
#include "peer/peer.h"
#include "rtp/rtp.h"
#include "sdp/sdp.h"

#define MS 1000ull

/* Datagrams in flight, one queue per direction. */
#define QUEUE_MAX 64
typedef struct {
    uint8_t data[QUEUE_MAX][1500];
    size_t len[QUEUE_MAX];
    int count;
} queue;

typedef struct {
    queue to_server, to_client;
    j_addr client_addr, server_addr;
    dtls_cert *client_cert, *server_cert;
    dtls_ctx *client_dtls, *server_dtls;
    peer_env env;
    peer *server;
    load_peer client;
    int server_connected;
} fixture;

/* Large structures: static, not on the stack. */
static sdp_session g_offer;
static sdp_negotiated g_neg;
static char g_sdp[16384];

static void push(queue *q, const uint8_t *buf, size_t len)
{
    assert_true(q->count < QUEUE_MAX && len <= sizeof q->data[0]);
    memcpy(q->data[q->count], buf, len);
    q->len[q->count++] = len;
}

static void client_send(void *ctx, const uint8_t *buf, size_t len)
{
    push(&((fixture *)ctx)->to_server, buf, len);
}

static void server_send(void *ctx, const j_addr *to, const uint8_t *buf, size_t len)
{
    fixture *f = ctx;
    assert_true(j_addr_equal(to, &f->client_addr));
    push(&f->to_client, buf, len);
}

static void server_on_address(void *ctx, peer *p, const j_addr *addr)
{
    (void)ctx, (void)p, (void)addr;
}

static void server_on_connected(void *ctx, peer *p, uint64_t now_us)
{
    (void)p, (void)now_us;
    ((fixture *)ctx)->server_connected++;
}

static const sdp_codec opus = {.pt = 111, .name = "opus", .clock_rate = 48000, .channels = 2};
static const sdp_codec vp8 = {.pt = 96, .name = "VP8", .clock_rate = 90000,
                              .rtcp_fb = SDP_FB_NACK | SDP_FB_PLI};

/* The client's offer (as junction-load writes it), parsed and negotiated by the server. */
static void negotiate(fixture *f)
{
    sdp_offer_params op;
    memset(&op, 0, sizeof op);
    op.local.session_id = 1;
    op.local.ice_ufrag = "cliU";
    op.local.ice_pwd = "clientPasswordClientPass";
    op.local.fingerprint = dtls_cert_fingerprint(f->client_cert);
    op.local.candidate_count = 1;
    op.local.candidates[0].addr = f->client_addr;
    op.media_count = 2;
    op.media[0] = (sdp_offer_media){.kind = SDP_KIND_AUDIO, .mid = "0", .dir = SDP_DIR_SENDONLY,
                                    .codec_count = 1, .codecs = &opus,
                                    .send = {.ssrc = 11, .cname = "c", .track_id = "a"}};
    op.media[1] = (sdp_offer_media){.kind = SDP_KIND_VIDEO, .mid = "1", .dir = SDP_DIR_SENDONLY,
                                    .codec_count = 1, .codecs = &vp8,
                                    .send = {.ssrc = 22, .cname = "c", .track_id = "v"}};
    int n = sdp_write_offer(&op, g_sdp, sizeof g_sdp);
    assert_true(n > 0);
    char err[128];
    assert_int_equal(sdp_parse(&g_offer, g_sdp, (size_t)n, err, sizeof err), 0);
    const sdp_policy policy = {.audio_codecs = SDP_CODEC_OPUS, .video_codecs = SDP_CODEC_VP8,
                               .rtcp_fb = SDP_FB_NACK | SDP_FB_PLI, .can_receive = true};
    assert_int_equal(sdp_negotiate(&g_offer, &policy, &g_neg, err, sizeof err), 0);
}

static void setup_fixture(fixture *f, bool client_is_dtls_server, bool wrong_fingerprint)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(j_addr_parse(&f->client_addr, "127.1.0.1", 5000), J_OK);
    assert_int_equal(j_addr_parse(&f->server_addr, "127.0.0.1", 40000), J_OK);
    assert_int_equal(dtls_cert_generate(&f->client_cert), J_OK);
    assert_int_equal(dtls_cert_generate(&f->server_cert), J_OK);
    f->client_dtls = dtls_ctx_new(f->client_cert);
    f->server_dtls = dtls_ctx_new(f->server_cert);
    assert_non_null(f->client_dtls);
    assert_non_null(f->server_dtls);
    negotiate(f);
    if (client_is_dtls_server) g_neg.our_setup = SDP_SETUP_ACTIVE; /* the server connects */

    f->env = (peer_env){.dtls = f->server_dtls, .consent_timeout_us = 30000000,
                        .publisher_max_bitrate = 1000000, .send = server_send,
                        .on_address = server_on_address, .on_connected = server_on_connected,
                        .ctx = f};
    peer_params pp = {.role = PEER_PUBLISHER, .id = "s1", .owner = "test",
                      .local_ufrag = "srvUfrag", .local_pwd = "serverPasswordServerPass",
                      .neg = &g_neg};
    f->server = peer_new(&f->env, &pp, 0);
    assert_non_null(f->server);
    for (int i = 0; i < g_neg.media_count; i++) assert_non_null(peer_add_in_track(f->server, &g_neg.media[i]));

    load_peer_params lp = {
        .dtls = f->client_dtls,
        .local_ufrag = "cliU",
        .local_pwd = "clientPasswordClientPass",
        .remote_ufrag = "srvUfrag",
        .remote_pwd = "serverPasswordServerPass",
        .remote_fingerprint = wrong_fingerprint ? dtls_cert_fingerprint(f->client_cert)
                                                : dtls_cert_fingerprint(f->server_cert),
        .ice_controlling = true,
        .dtls_role = client_is_dtls_server ? DTLS_ROLE_SERVER : DTLS_ROLE_CLIENT,
        .tiebreaker = 99,
        .send = client_send,
        .send_ctx = f,
    };
    assert_int_equal(load_peer_start(&f->client, &lp, 0), J_OK);
}

static void teardown_fixture(fixture *f)
{
    load_peer_free(&f->client);
    peer_free(f->server);
    dtls_ctx_free(f->client_dtls);
    dtls_ctx_free(f->server_dtls);
    dtls_cert_free(f->client_cert);
    dtls_cert_free(f->server_cert);
}

/* Delivers everything queued (both ways) and runs both sides' timers at now. Returns the
 * RTP/RTCP kinds the client received, ORed as bits. */
static unsigned pump(fixture *f, uint64_t now)
{
    unsigned kinds = 0;
    load_peer_handle_timeout(&f->client, now);
    peer_handle_timeout(f->server, now);
    while (f->to_server.count || f->to_client.count) {
        queue q = f->to_server;
        f->to_server.count = 0;
        for (int i = 0; i < q.count; i++) {
            uint8_t *b = q.data[i];
            size_t n = q.len[i];
            switch (j_demux(b, n)) {
            case J_PACKET_STUN: peer_handle_stun(f->server, now, &f->client_addr, b, n); break;
            case J_PACKET_DTLS: peer_handle_dtls(f->server, now, &f->client_addr, b, n); break;
            case J_PACKET_RTP: peer_handle_srtp(f->server, now, &f->client_addr, b, n, false); break;
            case J_PACKET_RTCP: peer_handle_srtp(f->server, now, &f->client_addr, b, n, true); break;
            default: fail_msg("unexpected datagram to the server");
            }
        }
        q = f->to_client;
        f->to_client.count = 0;
        for (int i = 0; i < q.count; i++) {
            size_t plain = 0;
            int k = load_peer_handle_datagram(&f->client, now, &f->server_addr, q.data[i],
                                              q.len[i], true, &plain);
            if (k > 0) kinds |= 1u << k;
        }
    }
    return kinds;
}

static uint64_t connect_both(fixture *f)
{
    uint64_t now = 0;
    for (int i = 0; i < 200 && f->client.state != LOAD_PEER_CONNECTED; i++, now += 10 * MS)
        pump(f, now);
    assert_int_equal(f->client.state, LOAD_PEER_CONNECTED);
    assert_int_equal(f->server->state, PEER_CONNECTED);
    assert_int_equal(f->server_connected, 1);
    return now;
}

static void check_media_flows(fixture *f, uint64_t now)
{
    /* An RTP packet of the offered video SSRC reaches the server's track. */
    uint8_t pkt[1500];
    rtp_header_out h = {.payload_type = 96, .seq = 1, .timestamp = 3000, .ssrc = 22,
                        .marker = true};
    const uint8_t payload[] = {0x90, 0x80, 0x80, 0x01, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a};
    int n = rtp_write_packet(&h, NULL, 0, payload, sizeof payload, pkt, sizeof pkt);
    assert_true(n > 0);
    n = load_peer_protect_rtp(&f->client, pkt, (size_t)n, sizeof pkt);
    assert_true(n > 0);
    client_send(f, pkt, (size_t)n);
    pump(f, now);
    assert_int_equal(f->server->stats.rtp_in, 1);
    assert_int_equal(f->server->stats.srtp_errors, 0);
    /* The server's periodic RTCP comes back and unprotects. */
    unsigned kinds = 0;
    for (uint64_t t = now; t < now + 2500 * MS; t += 100 * MS) kinds |= pump(f, t);
    assert_true(kinds & (1u << J_PACKET_RTCP));
    assert_int_equal(f->client.srtp_errors, 0);
}

static void test_client_offers_dtls_client(void **state)
{
    (void)state;
    static fixture f;
    setup_fixture(&f, false, false);
    uint64_t now = connect_both(&f);
    check_media_flows(&f, now);
    teardown_fixture(&f);
}

static void test_client_dtls_server(void **state)
{
    (void)state;
    static fixture f;
    setup_fixture(&f, true, false);
    uint64_t now = connect_both(&f);
    check_media_flows(&f, now);
    teardown_fixture(&f);
}

static void test_fingerprint_mismatch_fails(void **state)
{
    (void)state;
    static fixture f;
    setup_fixture(&f, false, true);
    uint8_t pkt[64] = {0x80, 96};
    assert_int_equal(load_peer_protect_rtp(&f.client, pkt, 12, sizeof pkt), J_ESTATE);
    for (uint64_t now = 0; now < 2000 * MS && f.client.state != LOAD_PEER_FAILED; now += 10 * MS)
        pump(&f, now);
    assert_int_equal(f.client.state, LOAD_PEER_FAILED);
    assert_non_null(f.client.fail_reason);
    teardown_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_offers_dtls_client),
        cmocka_unit_test(test_client_dtls_server),
        cmocka_unit_test(test_fingerprint_mismatch_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
