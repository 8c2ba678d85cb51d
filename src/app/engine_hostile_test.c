/* engine_hostile_test.c - the engine against spoofed, replayed and lying datagrams.
 *
 * A test client plays the browser end to end on a virtual clock: an SDP offer with its own
 * DTLS certificate, an ICE check signed with the session's password, a real DTLS handshake
 * and SRTP keyed from it. Around that session, attackers at other addresses (and at the
 * victim's own address, as a spoofer would) send what the issue lists; the engine's stats
 * must show each attack dropped and counted, and the victim's media must keep flowing.
 * The same real sessions show what a subscriber is told when it cannot decode a track.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/engine.h"
#include "core/bytes.h"
#include "core/err.h"
#include "core/log.h"
#include "ice/ice.h"
#include "srtp/srtp.h"
#include "stun/stun.h"

#define MAX_SENT 512
#define T0 1000000000ull

typedef struct sent_dgram {
    j_addr to;
    uint8_t buf[1600];
    size_t len;
} sent_dgram;

typedef struct world {
    engine *e;
    dtls_cert *server_cert, *client_cert;
    dtls_ctx *server_ctx, *client_ctx;
    sent_dgram *sent; /* MAX_SENT */
    size_t n_sent;
    uint64_t now;
} world;

typedef struct client {
    char id[PEER_ID_LEN];
    char server_ufrag[ICE_UFRAG_LEN + 1], server_pwd[ICE_PWD_LEN + 1];
    j_addr addr;
    dtls_conn *dtls;
    j_srtp *tx;
    uint16_t seq;
} client;

static void capture_send(void *ctx, const j_addr *to, const uint8_t *buf, size_t len)
{
    world *w = ctx;
    assert_true(w->n_sent < MAX_SENT && len <= sizeof w->sent[0].buf);
    sent_dgram *d = &w->sent[w->n_sent++];
    d->to = *to;
    memcpy(d->buf, buf, len);
    d->len = len;
}

static size_t sent_to(const world *w, const j_addr *to)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n_sent; i++) n += j_addr_equal(&w->sent[i].to, to);
    return n;
}

static j_addr addr(const char *ip, uint16_t port)
{
    j_addr a;
    assert_int_equal(j_addr_parse(&a, ip, port), J_OK);
    return a;
}

static world *world_new(const session_limits_config *limits)
{
    j_log_set_level(J_LOG_ERROR);
    world *w = calloc(1, sizeof *w);
    w->sent = calloc(MAX_SENT, sizeof *w->sent);
    assert_int_equal(dtls_cert_generate(&w->server_cert), J_OK);
    assert_int_equal(dtls_cert_generate(&w->client_cert), J_OK);
    w->server_ctx = dtls_ctx_new(w->server_cert);
    w->client_ctx = dtls_ctx_new(w->client_cert);
    assert_non_null(w->server_ctx);
    assert_non_null(w->client_ctx);
    engine_config cfg = {
        .dtls = w->server_ctx,
        .consent_timeout_us = 30000000,
        .publisher_max_bitrate = 1000000,
        .max_sessions = 100,
        .max_subscribers_per_track = 100,
        .limits = *limits,
        .handshake_timeout_us = 15000000,
    };
    j_addr bound = addr("127.0.0.1", 40000);
    engine_io io = {.send = capture_send, .ctx = w};
    char err[128];
    w->e = engine_new(&cfg, &bound, &io, err, sizeof err);
    assert_non_null(w->e);
    w->now = T0;
    return w;
}

static const session_limits_config roomy = {
    .max_sessions_per_client = 100, .max_half_open = 100, .max_half_open_per_client = 100};

static void world_free(world *w)
{
    engine_free(w->e);
    dtls_ctx_free(w->server_ctx);
    dtls_ctx_free(w->client_ctx);
    dtls_cert_free(w->server_cert);
    dtls_cert_free(w->client_cert);
    free(w->sent);
    free(w);
}

static void client_free(client *c)
{
    dtls_conn_free(c->dtls);
    j_srtp_free(c->tx);
}

/* ---- reading the stats API ---- */

static json_int_t stat_at(world *w, const char *obj, const char *key)
{
    json_t *st = engine_stats(w->e, w->now);
    json_t *o = obj ? json_object_get(st, obj) : st;
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    json_int_t n = json_integer_value(v);
    json_decref(st);
    return n;
}

static json_int_t refused(world *w, const char *limit)
{
    json_t *st = engine_stats(w->e, w->now);
    json_t *v = json_object_get(json_object_get(json_object_get(st, "limits"), "sessions_refused"),
                                limit);
    assert_true(json_is_integer(v));
    json_int_t n = json_integer_value(v);
    json_decref(st);
    return n;
}

/* The session's state ("" when it is gone) and one of its counters (-1 when gone). */
static json_t *session_json(json_t *st, const char *id)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(st, "session_list"), i, s)
        if (strcmp(json_string_value(json_object_get(s, "id")), id) == 0) return s;
    return NULL;
}

static char state_buf[32];
static const char *session_state(world *w, const char *id)
{
    json_t *st = engine_stats(w->e, w->now);
    json_t *s = session_json(st, id);
    snprintf(state_buf, sizeof state_buf, "%s", s ? json_string_value(json_object_get(s, "state")) : "");
    json_decref(st);
    return state_buf;
}

static json_int_t counter(world *w, const char *id, const char *name)
{
    json_t *st = engine_stats(w->e, w->now);
    json_t *s = session_json(st, id);
    json_int_t n = s ? json_integer_value(json_object_get(json_object_get(s, "counters"), name)) : -1;
    json_decref(st);
    return n;
}

/* ---- the test client ---- */

/* An offer of audio (mid 0, opus) and video (mid 1, one codec: its PT and rtpmap name) in
 * a direction, signed with the client's certificate %s. */
static const char OFFER_FMT[] =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:cli1\r\na=ice-pwd:clientpasswordclientpassword\r\n"
    "a=fingerprint:%s\r\na=setup:actpass\r\na=mid:0\r\na=%s\r\na=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=ssrc:1111 cname:c\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:cli1\r\na=ice-pwd:clientpasswordclientpassword\r\n"
    "a=fingerprint:%s\r\na=setup:actpass\r\na=mid:1\r\na=%s\r\na=rtcp-mux\r\n"
    "a=rtpmap:%d %s/90000\r\na=rtcp-fb:%d nack pli\r\na=ssrc:2222 cname:c\r\n";

/* Create (or, with update, renegotiate) the client's session of role on stream's tracks,
 * its video in video_codec ("VP8": PT 96, "VP9": PT 98); returns the engine's result. A new
 * session gets a new id and ICE credentials. */
static int add_session(world *w, client *c, peer_role role, const char *stream,
                       const char *video_codec, const char *client_ip, limit_kind *refused_by,
                       bool update)
{
    static int counter_id;
    if (!update) {
        memset(c, 0, sizeof *c);
        snprintf(c->id, sizeof c->id, "session%d", ++counter_id);
        ice_lite_generate_credentials(c->server_ufrag, c->server_pwd);
    }
    const char *dir = role == PEER_PUBLISHER ? "sendonly" : "recvonly";
    int pt = strcmp(video_codec, "VP8") == 0 ? 96 : 98;
    char offer_text[4096];
    const char *fp = dtls_cert_fingerprint(w->client_cert);
    int n = snprintf(offer_text, sizeof offer_text, OFFER_FMT, fp, dir, pt, fp, dir, pt,
                     video_codec, pt);
    sdp_session *offer = malloc(sizeof *offer);
    sdp_negotiated *neg = malloc(sizeof *neg);
    char err[256];
    assert_int_equal(sdp_parse(offer, offer_text, (size_t)n, err, sizeof err), J_OK);
    sdp_policy policy = {.audio_codecs = SDP_CODEC_OPUS,
                         .video_codecs = SDP_CODEC_VP8 | SDP_CODEC_VP9,
                         .rtcp_fb = SDP_FB_NACK | SDP_FB_PLI, .can_receive = true,
                         .can_send = true};
    assert_int_equal(sdp_negotiate(offer, &policy, neg, err, sizeof err), J_OK);
    engine_bind binds[2];
    memset(binds, 0, sizeof binds);
    snprintf(binds[0].track_id, sizeof binds[0].track_id, "stream/%s/audio", stream);
    snprintf(binds[1].track_id, sizeof binds[1].track_id, "stream/%s/video", stream);
    engine_session es = {.role = role, .id = c->id, .owner = stream,
                         .local_ufrag = c->server_ufrag, .local_pwd = c->server_pwd, .neg = neg,
                         .binds = binds, .client_ip = client_ip};
    int rc = update ? engine_update_session(w->e, &es, w->now) : engine_add_session(w->e, &es, w->now);
    if (refused_by) *refused_by = es.refused_by;
    free(offer);
    free(neg);
    return rc;
}

/* Create a publisher session (opus and VP8) for the client at client_ip. */
static int add_publisher(world *w, client *c, const char *stream, const char *client_ip,
                         limit_kind *refused_by)
{
    return add_session(w, c, PEER_PUBLISHER, stream, "VP8", client_ip, refused_by, false);
}

/* An ICE check for the client's session; pwd signs it (the session's password, or not). */
static size_t ice_check(const client *c, const char *pwd, uint8_t *buf, size_t cap)
{
    uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    char username[64];
    int ulen = snprintf(username, sizeof username, "%s:cli1", c->server_ufrag);
    stun_writer sw;
    stun_writer_init(&sw, buf, cap, stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), tid);
    stun_writer_add_username(&sw, username, (size_t)ulen);
    stun_writer_add_priority(&sw, 0x6e7f00ff);
    stun_writer_add_ice_controlling(&sw, 42);
    stun_writer_add_use_candidate(&sw);
    int n = stun_writer_finish(&sw, (const uint8_t *)pwd, strlen(pwd), true);
    assert_true(n > 0);
    return (size_t)n;
}

static void deliver(world *w, const j_addr *from, const uint8_t *buf, size_t len)
{
    uint8_t copy[2048];
    assert_true(len <= sizeof copy);
    memcpy(copy, buf, len); /* the engine unprotects in place */
    engine_handle_datagram(w->e, w->now, from, copy, len);
}

static void ice_connect(world *w, client *c)
{
    uint8_t buf[512];
    size_t before = sent_to(w, &c->addr);
    deliver(w, &c->addr, buf, ice_check(c, c->server_pwd, buf, sizeof buf));
    assert_int_equal(sent_to(w, &c->addr), before + 1); /* the Binding success */
}

/* Run the DTLS handshake between the client and the engine over the captured datagrams. */
static void dtls_connect(world *w, client *c)
{
    c->dtls = dtls_conn_new(w->client_ctx, DTLS_ROLE_CLIENT, dtls_cert_fingerprint(w->server_cert));
    assert_non_null(c->dtls);
    assert_int_equal(dtls_conn_start(c->dtls, w->now), J_OK);
    size_t seen = w->n_sent;
    for (int round = 0; round < 20 && !dtls_conn_is_connected(c->dtls); round++) {
        uint8_t buf[DTLS_MTU];
        int n;
        while ((n = dtls_conn_poll_transmit(c->dtls, buf, sizeof buf)) > 0)
            deliver(w, &c->addr, buf, (size_t)n);
        for (; seen < w->n_sent; seen++) {
            sent_dgram *d = &w->sent[seen];
            if (j_addr_equal(&d->to, &c->addr) && dtls_is_dtls(d->buf, d->len))
                dtls_conn_handle_input(c->dtls, w->now, d->buf, d->len);
        }
        w->now += 1000;
    }
    assert_true(dtls_conn_is_connected(c->dtls));
    uint8_t buf[DTLS_MTU];
    int n;
    while ((n = dtls_conn_poll_transmit(c->dtls, buf, sizeof buf)) > 0) /* last flight */
        deliver(w, &c->addr, buf, (size_t)n);
    assert_int_equal(dtls_conn_poll_event(c->dtls, NULL), DTLS_EV_CONNECTED);
    dtls_srtp_keys k;
    assert_int_equal(dtls_conn_srtp_keys(c->dtls, &k), J_OK);
    c->tx = j_srtp_new(k.profile, k.local, k.len, J_SRTP_OUTBOUND, J_SRTP_MAX_STREAMS);
    assert_non_null(c->tx);
    assert_string_equal(session_state(w, c->id), "connected");
}

static void connect_client(world *w, client *c, const char *ip, uint16_t port)
{
    c->addr = addr(ip, port);
    ice_connect(w, c);
    dtls_connect(w, c);
}

/* A world whose publisher "s" (the victim, 127.0.0.1:5000) completed ICE, DTLS and SRTP. */
static world *world_with_victim(client *victim)
{
    world *w = world_new(&roomy);
    limit_kind why;
    assert_int_equal(add_publisher(w, victim, "s", "127.0.0.1", &why), J_OK);
    connect_client(w, victim, "127.0.0.1", 5000);
    return w;
}

/* The first flight (ClientHello) of a DTLS client the server never gave an ICE check to. */
static int stray_client_hello(world *w, uint8_t *buf, size_t cap, dtls_conn **conn)
{
    *conn = dtls_conn_new(w->client_ctx, DTLS_ROLE_CLIENT, dtls_cert_fingerprint(w->server_cert));
    assert_non_null(*conn);
    dtls_conn_start(*conn, w->now);
    int n = dtls_conn_poll_transmit(*conn, buf, cap);
    assert_true(n > 0);
    return n;
}

/* One protected Opus packet from the client; returns its length in out. */
static size_t srtp_packet(client *c, uint8_t *out, size_t cap)
{
    uint8_t pkt[256] = {0x80, 111};
    wr_be16(pkt + 2, c->seq++);
    wr_be32(pkt + 4, 960u * c->seq);
    wr_be32(pkt + 8, 1111);
    memset(pkt + 12, 0x5a, 60);
    int n = j_srtp_protect_rtp(c->tx, pkt, 72, sizeof pkt);
    assert_true(n > 0 && (size_t)n <= cap);
    memcpy(out, pkt, (size_t)n);
    return (size_t)n;
}

static void send_media(world *w, client *c)
{
    uint8_t pkt[300];
    json_int_t before = counter(w, c->id, "rtp_in");
    deliver(w, &c->addr, pkt, srtp_packet(c, pkt, sizeof pkt));
    assert_int_equal(counter(w, c->id, "rtp_in"), before + 1);
}

/* stats.<a>.<b>.<c> of the engine. */
static json_int_t stat_path(world *w, const char *a, const char *b, const char *c)
{
    json_t *st = engine_stats(w->e, w->now);
    json_t *v = json_object_get(json_object_get(json_object_get(st, a), b), c);
    assert_true(json_is_integer(v));
    json_int_t n = json_integer_value(v);
    json_decref(st);
    return n;
}

/* ---- tests ---- */

/* The totals /metrics exports keep what an ended session counted: they never step back. */
static void test_session_totals_outlive_the_session(void **state)
{
    (void)state;
    client victim;
    world *w = world_with_victim(&victim);
    assert_int_equal(stat_path(w, "sessions_by_state", "publisher", "connected"), 1);
    for (int i = 0; i < 3; i++) send_media(w, &victim);
    assert_int_equal(stat_path(w, "session_totals", "publisher", "rtp_in"), 3);
    json_int_t bytes = stat_path(w, "session_totals", "publisher", "rtp_in_bytes");
    assert_int_equal(bytes, 3 * 72);
    assert_int_equal(engine_remove_session(w->e, victim.id, "s", "test"), J_OK);
    assert_int_equal(stat_path(w, "sessions_by_state", "publisher", "connected"), 0);
    assert_int_equal(stat_path(w, "session_totals", "publisher", "rtp_in"), 3);
    assert_int_equal(stat_path(w, "session_totals", "publisher", "rtp_in_bytes"), bytes);
    assert_int_equal(stat_path(w, "session_totals", "subscriber", "rtp_out"), 0);
    client_free(&victim);
    world_free(w);
}

static void test_nothing_routes_before_ice(void **state)
{
    (void)state;
    world *w = world_new(&roomy);
    client c;
    limit_kind why;
    assert_int_equal(add_publisher(w, &c, "s", "192.0.2.1", &why), J_OK);
    j_addr a = addr("192.0.2.1", 5000);

    /* A ClientHello and "SRTP" from the right IP, before any ICE check: dropped. */
    client early = {.addr = a};
    early.dtls = dtls_conn_new(w->client_ctx, DTLS_ROLE_CLIENT, dtls_cert_fingerprint(w->server_cert));
    dtls_conn_start(early.dtls, w->now);
    uint8_t buf[DTLS_MTU];
    int n = dtls_conn_poll_transmit(early.dtls, buf, sizeof buf);
    assert_true(n > 0);
    deliver(w, &a, buf, (size_t)n);
    uint8_t rtp[64] = {0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0x04, 0x57};
    deliver(w, &a, rtp, sizeof rtp);
    uint8_t rtcp[8] = {0x80, 200, 0, 1, 0, 0, 0x04, 0x57};
    deliver(w, &a, rtcp, sizeof rtcp);
    assert_int_equal(stat_at(w, "dropped", "unknown_source"), 3);
    assert_int_equal(w->n_sent, 0);
    assert_string_equal(session_state(w, c.id), "new");
    client_free(&early);
    world_free(w);
}

static void test_spoofed_source_dropped(void **state)
{
    (void)state;
    client victim;
    world *w = world_with_victim(&victim);
    send_media(w, &victim);

    /* The victim's own packets (same SSRC, valid SRTP), from another port of its IP. */
    j_addr spoof = addr("127.0.0.1", 5001);
    uint8_t pkt[300];
    json_int_t dropped = stat_at(w, "dropped", "unknown_source");
    for (int i = 0; i < 10; i++) deliver(w, &spoof, pkt, srtp_packet(&victim, pkt, sizeof pkt));
    assert_int_equal(stat_at(w, "dropped", "unknown_source"), dropped + 10);
    assert_int_equal(counter(w, victim.id, "rtp_in"), 1);
    assert_int_equal(sent_to(w, &spoof), 0);
    send_media(w, &victim); /* still flowing */
    client_free(&victim);
    world_free(w);
}

static void test_srtp_replay_rejected(void **state)
{
    (void)state;
    client victim;
    world *w = world_with_victim(&victim);
    uint8_t pkt[300];
    size_t n = srtp_packet(&victim, pkt, sizeof pkt);
    deliver(w, &victim.addr, pkt, n);
    for (int i = 0; i < 5; i++) deliver(w, &victim.addr, pkt, n); /* the captured packet again */
    assert_int_equal(counter(w, victim.id, "rtp_in"), 1);
    assert_int_equal(counter(w, victim.id, "srtp_replays"), 5);
    /* A forged packet (flipped payload byte) fails authentication instead. */
    n = srtp_packet(&victim, pkt, sizeof pkt);
    pkt[20] ^= 1;
    deliver(w, &victim.addr, pkt, n);
    assert_int_equal(counter(w, victim.id, "srtp_errors"), 1);
    send_media(w, &victim);
    assert_string_equal(session_state(w, victim.id), "connected");
    client_free(&victim);
    world_free(w);
}

static void test_dtls_from_unknown_address_cannot_take_over(void **state)
{
    (void)state;
    world *w = world_new(&roomy);
    client victim;
    limit_kind why;
    assert_int_equal(add_publisher(w, &victim, "s", "127.0.0.1", &why), J_OK);
    victim.addr = addr("127.0.0.1", 5000);
    ice_connect(w, &victim);
    assert_string_equal(session_state(w, victim.id), "connecting");

    /* An attacker who knows the session (its ufrag even) starts a handshake of its own,
     * mid-way through the victim's: its records never reach the session. */
    j_addr attacker = addr("127.0.0.1", 6666);
    uint8_t buf[DTLS_MTU];
    dtls_conn *evil;
    int n = stray_client_hello(w, buf, sizeof buf, &evil);
    for (int i = 0; i < 3; i++) deliver(w, &attacker, buf, (size_t)n);
    assert_int_equal(stat_at(w, "dropped", "unknown_source"), 3);
    assert_int_equal(sent_to(w, &attacker), 0);
    dtls_conn_free(evil);

    dtls_connect(w, &victim); /* the victim completes undisturbed */
    send_media(w, &victim);
    client_free(&victim);
    world_free(w);
}

/* Spoofing the victim's own address (UDP allows it) after the handshake: a new ClientHello
 * and a plaintext fatal alert are ignored by the established DTLS session. */
static void test_spoofed_dtls_at_victim_address_ignored(void **state)
{
    (void)state;
    client victim;
    world *w = world_with_victim(&victim);

    uint8_t hello[DTLS_MTU];
    dtls_conn *evil;
    int n = stray_client_hello(w, hello, sizeof hello, &evil);
    deliver(w, &victim.addr, hello, (size_t)n);
    dtls_conn_free(evil);
    /* alert(21), DTLS 1.2, epoch 0, sequence 99, length 2: fatal(2) handshake_failure(40) */
    static const uint8_t alert[] = {21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 99, 0, 2, 2, 40};
    deliver(w, &victim.addr, alert, sizeof alert);
    assert_string_equal(session_state(w, victim.id), "connected");
    send_media(w, &victim);
    client_free(&victim);
    world_free(w);
}

static void test_stun_bad_integrity_refused(void **state)
{
    (void)state;
    client victim;
    world *w = world_with_victim(&victim);

    /* The victim's ufrag, signed with a guessed password, nominating the attacker. */
    j_addr attacker = addr("127.0.0.1", 7777);
    uint8_t buf[512];
    size_t n = ice_check(&victim, "guessedpasswordguessedpass", buf, sizeof buf);
    for (int i = 0; i < 4; i++) deliver(w, &attacker, buf, n);
    n = ice_check(&victim, victim.server_pwd, buf, sizeof buf);
    buf[n - 12] ^= 1; /* a correct signature, then a bit flipped in the HMAC */
    deliver(w, &attacker, buf, n);
    assert_int_equal(counter(w, victim.id, "ice_auth_failures"), 5);
    assert_int_equal(sent_to(w, &attacker), 0); /* no answer: not a reflector */
    /* The attacker's address was not validated: its media is still dropped. */
    uint8_t pkt[300];
    json_int_t dropped = stat_at(w, "dropped", "unknown_source");
    deliver(w, &attacker, pkt, srtp_packet(&victim, pkt, sizeof pkt));
    assert_int_equal(stat_at(w, "dropped", "unknown_source"), dropped + 1);
    send_media(w, &victim);
    client_free(&victim);
    world_free(w);
}

/* Authenticated SRTCP from the session itself, with lengths and counts that lie: this is
 * the only way such RTCP reaches the parser. The session survives every one. */
static void test_lying_rtcp_from_the_session(void **state)
{
    (void)state;
    client victim;
    world *w = world_with_victim(&victim);
    static const struct {
        uint8_t b[24];
        size_t len;
    } lies[] = {
        {{0x80, 201, 0xff, 0xff, 0, 0, 0, 1}, 8},                       /* RR: 65535 words */
        {{0x9f, 201, 0, 1, 0, 0, 0, 1}, 8},                             /* RR: 31 blocks */
        {{0x80, 201, 0, 1, 0, 0, 0, 1, 0x81, 206, 0, 0}, 12},           /* PLI: no FCI */
        {{0x80, 201, 0, 1, 0, 0, 0, 1, 0x81, 205, 0, 200, 0, 0, 0, 1}, 16}, /* NACK: past end */
        {{0x80, 200, 0, 0, 0, 0, 0, 1}, 8},                             /* SR: length 0 */
        {{0x80, 201, 0, 1, 0, 0, 0, 1, 0x84, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}, 20}, /* FIR */
        {{0x80, 201, 0, 1, 0, 0, 0, 1, 0x8f, 206, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 'R', 'E', 'M',
          'B'}, 24},                                                   /* REMB: cut short */
        {{0x80, 201, 0, 1, 0, 0, 0, 1, 0x8f, 205, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0xff,
          0xff}, 24},                                                  /* transport-cc: lies */
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        uint8_t pkt[128];
        memcpy(pkt, lies[i].b, lies[i].len);
        int n = j_srtp_protect_rtcp(victim.tx, pkt, lies[i].len, sizeof pkt);
        assert_true(n > 0);
        deliver(w, &victim.addr, pkt, (size_t)n);
    }
    assert_int_equal(counter(w, victim.id, "rtcp_in"), (json_int_t)(sizeof lies / sizeof lies[0]));
    assert_string_equal(session_state(w, victim.id), "connected");
    send_media(w, &victim);
    client_free(&victim);
    world_free(w);
}

/* Consent is per address (RFC 7675): an address that stops sending checks stops being
 * routed even while the session lives on through another one. */
static void test_lapsed_address_no_longer_routed(void **state)
{
    (void)state;
    client victim;
    world *w = world_with_victim(&victim);
    client old = victim; /* the same session checked from a second address once */
    old.addr = addr("127.0.0.1", 5002);
    uint8_t buf[512];
    deliver(w, &old.addr, buf, ice_check(&old, victim.server_pwd, buf, sizeof buf));
    deliver(w, &victim.addr, buf, ice_check(&victim, victim.server_pwd, buf, sizeof buf));
    for (int s = 0; s < 31; s += 5) { /* the current address keeps checking */
        w->now += 5000000;
        deliver(w, &victim.addr, buf, ice_check(&victim, victim.server_pwd, buf, sizeof buf));
        engine_handle_timeout(w->e, w->now);
    }
    uint8_t pkt[300];
    deliver(w, &old.addr, pkt, srtp_packet(&victim, pkt, sizeof pkt));
    assert_int_equal(stat_at(w, "dropped", "stale_source"), 1);
    send_media(w, &victim);
    client_free(&victim);
    world_free(w);
}

static void test_half_open_sessions_time_out(void **state)
{
    (void)state;
    world *w = world_new(&roomy);
    client a, b;
    limit_kind why;
    assert_int_equal(add_publisher(w, &a, "s1", "192.0.2.1", &why), J_OK);
    assert_int_equal(add_publisher(w, &b, "s2", "192.0.2.1", &why), J_OK);
    a.addr = addr("192.0.2.1", 5000);
    ice_connect(w, &a); /* ICE, then silence: no DTLS */
    assert_int_equal(stat_at(w, "limits", "half_open"), 2);
    w->now += 14000000;
    uint8_t buf[512];
    deliver(w, &a.addr, buf, ice_check(&a, a.server_pwd, buf, sizeof buf)); /* keeps consent */
    engine_handle_timeout(w->e, w->now);
    assert_int_equal(stat_at(w, NULL, "sessions"), 2);
    w->now += 1000000;
    engine_handle_timeout(w->e, w->now);
    assert_int_equal(stat_at(w, NULL, "sessions"), 0);
    assert_int_equal(stat_at(w, "limits", "handshake_timeouts"), 2);
    assert_int_equal(stat_at(w, "limits", "half_open"), 0);
    world_free(w);
}

static void test_per_client_and_half_open_limits(void **state)
{
    (void)state;
    session_limits_config tight = {.max_sessions_per_client = 3, .max_half_open = 3,
                                   .max_half_open_per_client = 2};
    world *w = world_new(&tight);
    client c[7];
    limit_kind why = LIMIT_NONE;
    assert_int_equal(add_publisher(w, &c[0], "a", "192.0.2.1", &why), J_OK);
    assert_int_equal(add_publisher(w, &c[1], "b", "192.0.2.1", &why), J_OK);
    assert_int_equal(add_publisher(w, &c[2], "c", "192.0.2.1", &why), J_ELIMIT);
    assert_int_equal(why, LIMIT_HALF_OPEN_PER_CLIENT);
    assert_int_equal(add_publisher(w, &c[2], "c", "192.0.2.2", &why), J_OK);
    assert_int_equal(add_publisher(w, &c[3], "d", "192.0.2.3", &why), J_ELIMIT);
    assert_int_equal(why, LIMIT_HALF_OPEN); /* three handshakes in flight server-wide */
    /* A completed handshake frees its half-open slot; the session still counts. */
    connect_client(w, &c[0], "192.0.2.1", 5000);
    assert_int_equal(add_publisher(w, &c[3], "d", "192.0.2.1", &why), J_OK);
    connect_client(w, &c[1], "192.0.2.1", 5001);
    connect_client(w, &c[3], "192.0.2.1", 5003);
    assert_int_equal(add_publisher(w, &c[4], "e", "192.0.2.1", &why), J_ELIMIT);
    assert_int_equal(why, LIMIT_SESSIONS_PER_CLIENT);
    assert_int_equal(refused(w, "half_open_per_ip"), 1);
    assert_int_equal(refused(w, "half_open"), 1);
    assert_int_equal(refused(w, "sessions_per_ip"), 1);
    /* Addresses of one IPv6 /64 are one client. */
    assert_int_equal(add_publisher(w, &c[4], "f", "2001:db8::1", &why), J_OK);
    assert_int_equal(add_publisher(w, &c[5], "g", "2001:db8::2", &why), J_OK);
    assert_int_equal(engine_remove_session(w->e, c[2].id, NULL, "test"), J_OK);
    assert_int_equal(add_publisher(w, &c[6], "h", "2001:db8::3", &why), J_ELIMIT);
    assert_int_equal(why, LIMIT_HALF_OPEN_PER_CLIENT);
    assert_int_equal(add_publisher(w, &c[6], "h", "2001:db8:0:1::3", &why), J_OK);
    for (int i = 0; i < 7; i++) client_free(&c[i]);
    world_free(w);
}

/* ---- a subscriber's track that it cannot decode ---- */

typedef struct notices {
    engine_codec_notice n[8];
    size_t count;
} notices;

static void collect_notice(void *ctx, const engine_codec_notice *n)
{
    notices *got = ctx;
    assert_true(got->count < 8);
    got->n[got->count++] = *n;
}

static notices drain_notices(world *w)
{
    notices got = {0};
    engine_drain_codec_notices(w->e, collect_notice, &got);
    return got;
}

static const engine_codec_notice *notice_for(const notices *got, const char *session_id)
{
    for (size_t i = 0; i < got->count; i++)
        if (strcmp(got->n[i].session_id, session_id) == 0) return &got->n[i];
    return NULL;
}

/* A subscriber whose track's publisher arrives, or renegotiates, with no codec it took is
 * noticed (once, naming the mid, the track and both codec lists), and again when the
 * publisher comes back to one it takes; a binding that goes takes its notice along. */
static void test_undecodable_track_noticed_and_cleared(void **state)
{
    (void)state;
    world *w = world_new(&roomy);
    client vp8_viewer, vp9_viewer, pub;
    assert_int_equal(add_session(w, &vp8_viewer, PEER_SUBSCRIBER, "s", "VP8", NULL, NULL, false), J_OK);
    assert_int_equal(add_session(w, &vp9_viewer, PEER_SUBSCRIBER, "s", "VP9", NULL, NULL, false), J_OK);
    connect_client(w, &vp8_viewer, "127.0.0.1", 5001);
    connect_client(w, &vp9_viewer, "127.0.0.1", 5002);
    assert_int_equal(drain_notices(w).count, 0); /* no publisher yet: nothing to compare */

    /* The publisher arrives with VP8: the VP9-only viewer cannot decode its video. */
    assert_int_equal(add_publisher(w, &pub, "s", NULL, NULL), J_OK);
    connect_client(w, &pub, "127.0.0.1", 5000);
    notices got = drain_notices(w);
    assert_int_equal(got.count, 1);
    const engine_codec_notice *n = notice_for(&got, vp9_viewer.id);
    assert_non_null(n);
    assert_true(n->undecodable);
    assert_string_equal(n->mid, "1");
    assert_string_equal(n->track_id, "stream/s/video");
    assert_string_equal(n->reason, "video: the publisher sends VP8; this offer accepts VP9");
    assert_int_equal(drain_notices(w).count, 0); /* said once */

    /* It renegotiates its video to VP9: the other viewer loses it, this one gets it. */
    assert_int_equal(add_session(w, &pub, PEER_PUBLISHER, "s", "VP9", NULL, NULL, true), J_OK);
    got = drain_notices(w);
    assert_int_equal(got.count, 2);
    n = notice_for(&got, vp8_viewer.id);
    assert_non_null(n);
    assert_true(n->undecodable);
    assert_string_equal(n->reason, "video: the publisher sends VP9; this offer accepts VP8");
    n = notice_for(&got, vp9_viewer.id);
    assert_non_null(n);
    assert_false(n->undecodable);
    assert_string_equal(n->track_id, "stream/s/video");

    /* A renegotiation that keeps its codecs changes nothing. */
    assert_int_equal(add_session(w, &pub, PEER_PUBLISHER, "s", "VP9", NULL, NULL, true), J_OK);
    assert_int_equal(drain_notices(w).count, 0);

    /* Back to VP8 and over again before anyone drained: only the latest state is told. */
    assert_int_equal(add_session(w, &pub, PEER_PUBLISHER, "s", "VP8", NULL, NULL, true), J_OK);
    assert_int_equal(add_session(w, &pub, PEER_PUBLISHER, "s", "VP9", NULL, NULL, true), J_OK);
    assert_int_equal(add_session(w, &pub, PEER_PUBLISHER, "s", "VP8", NULL, NULL, true), J_OK);
    got = drain_notices(w);
    assert_int_equal(got.count, 2);
    assert_false(notice_for(&got, vp8_viewer.id)->undecodable);
    assert_true(notice_for(&got, vp9_viewer.id)->undecodable);

    /* A viewer that goes takes its pending notice along. */
    assert_int_equal(add_session(w, &pub, PEER_PUBLISHER, "s", "VP9", NULL, NULL, true), J_OK);
    assert_int_equal(engine_remove_session(w->e, vp9_viewer.id, NULL, "left"), J_OK);
    got = drain_notices(w);
    assert_int_equal(got.count, 1);
    assert_true(notice_for(&got, vp8_viewer.id)->undecodable);

    client_free(&vp8_viewer);
    client_free(&vp9_viewer);
    client_free(&pub);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_routes_before_ice),
        cmocka_unit_test(test_session_totals_outlive_the_session),
        cmocka_unit_test(test_spoofed_source_dropped),
        cmocka_unit_test(test_srtp_replay_rejected),
        cmocka_unit_test(test_dtls_from_unknown_address_cannot_take_over),
        cmocka_unit_test(test_spoofed_dtls_at_victim_address_ignored),
        cmocka_unit_test(test_stun_bad_integrity_refused),
        cmocka_unit_test(test_lying_rtcp_from_the_session),
        cmocka_unit_test(test_lapsed_address_no_longer_routed),
        cmocka_unit_test(test_half_open_sessions_time_out),
        cmocka_unit_test(test_per_client_and_half_open_limits),
        cmocka_unit_test(test_undecodable_track_noticed_and_cleared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
