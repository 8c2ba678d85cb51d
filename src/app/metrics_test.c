/* metrics_test.c - metrics_render: the exact exposition of a small media_stats() fixture,
 * label values escaped, missing figures as 0, no room families without rooms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/metrics.h"

/* One worker, as media_stats(m, false) reports it (session_list empty, fields trimmed to
 * those metrics_render reads, counters small and distinct). */
static const char fixture_stats[] =
    "{\"sessions\": 3, \"dropped\": {\"unknown_kind\": 1, \"bad_stun\": 2},"
    " \"limits\": {\"half_open\": 1, \"handshake_timeouts\": 4,"
    "             \"sessions_refused\": {\"max_sessions\": 5, \"max_half_open\": 0}},"
    " \"tracks\": [{\"id\": \"stream/s1/audio\", \"kind\": \"audio\", \"live\": true, \"muted\": false},"
    "            {\"id\": \"stream/s1/video\", \"kind\": \"video\", \"live\": true, \"muted\": true},"
    "            {\"id\": \"stream/s2/video\", \"kind\": \"video\", \"live\": false, \"muted\": false}],"
    " \"session_list\": [],"
    " \"workers\": [{\"worker\": 0, \"downtracks\": 2, \"tracks\": 3, \"mirrors\": 1,"
    "   \"relay\": {\"packets_out\": 10, \"packets_in\": 11, \"ring_full_drops\": 12, \"unlinked\": 13,"
    "             \"messages_out\": 14, \"wakeups\": 15},"
    "   \"udp\": {\"rx_datagrams\": 20, \"rx_bytes\": 21, \"tx_datagrams\": 22, \"tx_bytes\": 23,"
    "           \"tx_errors\": 24},"
    "   \"sessions_by_state\": {\"publisher\": {\"new\": 0, \"connecting\": 0, \"connected\": 1, \"closed\": 0},"
    "                         \"subscriber\": {\"new\": 1, \"connecting\": 0, \"connected\": 1, \"closed\": 0}},"
    "   \"session_totals\": {"
    "     \"publisher\": {\"rtp_in\": 100, \"rtp_in_bytes\": 101, \"rtcp_in\": 102, \"rtcp_out\": 103,"
    "                   \"nack_out\": 104, \"rtx_in\": 105, \"pli_out\": 106, \"packets_lost\": 107,"
    "                   \"srtp_errors\": 108, \"unknown_ssrc\": 109},"
    "     \"subscriber\": {\"rtp_out\": 200, \"rtp_out_bytes\": 201, \"rtcp_in\": 202, \"rtcp_out\": 203,"
    "                    \"nack_in\": 204, \"nack_answered\": 205, \"nack_missed\": 206,"
    "                    \"nack_throttled\": 207, \"pli_in\": 208, \"fir_in\": 209,"
    "                    \"packets_lost\": 210, \"srtp_replays\": 211, \"ice_auth_failures\": 212}}}]}";

static const char fixture_rooms[] =
    "{\"rooms\": [{\"name\": \"a\", \"participants\": 2, \"created_at\": 1},"
    "            {\"name\": \"b\", \"participants\": 3, \"created_at\": 2}]}";

static const char expected[] =
    "# HELP junction_build_info Junction's version; always 1.\n"
    "# TYPE junction_build_info gauge\n"
    "junction_build_info{version=\"1.2.3\"} 1\n"
    "# HELP process_start_time_seconds When the process started, in seconds since the Unix epoch.\n"
    "# TYPE process_start_time_seconds gauge\n"
    "process_start_time_seconds 1700000000.250\n"
    "# HELP junction_uptime_seconds Seconds since the process started.\n"
    "# TYPE junction_uptime_seconds gauge\n"
    "junction_uptime_seconds 61.500\n"
    "# HELP junction_workers Media worker threads.\n"
    "# TYPE junction_workers gauge\n"
    "junction_workers 1\n"
    "# HELP junction_http_rate_limited_total HTTP requests refused with 429 by limits.http_rate.\n"
    "# TYPE junction_http_rate_limited_total counter\n"
    "junction_http_rate_limited_total 7\n"
    "# HELP junction_rooms Conference rooms open.\n"
    "# TYPE junction_rooms gauge\n"
    "junction_rooms 2\n"
    "# HELP junction_room_participants Participants in all rooms, those within their resume grace included.\n"
    "# TYPE junction_room_participants gauge\n"
    "junction_room_participants 5\n"
    "# HELP junction_tracks Tracks (published sources, counted once however many workers mirror them) by kind and state: live while a publisher sends, idle while only subscribers wait.\n"
    "# TYPE junction_tracks gauge\n"
    "junction_tracks{kind=\"audio\",state=\"live\"} 1\n"
    "junction_tracks{kind=\"audio\",state=\"idle\"} 0\n"
    "junction_tracks{kind=\"video\",state=\"live\"} 1\n"
    "junction_tracks{kind=\"video\",state=\"idle\"} 1\n"
    "# HELP junction_muted_tracks Tracks muted by their owner or an admin.\n"
    "# TYPE junction_muted_tracks gauge\n"
    "junction_muted_tracks{kind=\"audio\"} 0\n"
    "junction_muted_tracks{kind=\"video\"} 1\n"
    "# HELP junction_dropped_datagrams_total Datagrams the workers dropped before any session took them, by reason.\n"
    "# TYPE junction_dropped_datagrams_total counter\n"
    "junction_dropped_datagrams_total{reason=\"unknown_kind\"} 1\n"
    "junction_dropped_datagrams_total{reason=\"bad_stun\"} 2\n"
    "# HELP junction_sessions_refused_total Sessions refused by a limit, by the limit's name.\n"
    "# TYPE junction_sessions_refused_total counter\n"
    "junction_sessions_refused_total{limit=\"max_sessions\"} 5\n"
    "junction_sessions_refused_total{limit=\"max_half_open\"} 0\n"
    "# HELP junction_handshake_timeouts_total Sessions ended because ICE and DTLS did not complete within limits.handshake_timeout.\n"
    "# TYPE junction_handshake_timeouts_total counter\n"
    "junction_handshake_timeouts_total 4\n"
    "# HELP junction_sessions WebRTC sessions (WHIP, WHEP and rooms' connections) by worker, role and state: new and connecting are half-open (ICE or DTLS not done), closed ones are being freed.\n"
    "# TYPE junction_sessions gauge\n"
    "junction_sessions{worker=\"0\",role=\"publisher\",state=\"new\"} 0\n"
    "junction_sessions{worker=\"0\",role=\"publisher\",state=\"connecting\"} 0\n"
    "junction_sessions{worker=\"0\",role=\"publisher\",state=\"connected\"} 1\n"
    "junction_sessions{worker=\"0\",role=\"publisher\",state=\"closed\"} 0\n"
    "junction_sessions{worker=\"0\",role=\"subscriber\",state=\"new\"} 1\n"
    "junction_sessions{worker=\"0\",role=\"subscriber\",state=\"connecting\"} 0\n"
    "junction_sessions{worker=\"0\",role=\"subscriber\",state=\"connected\"} 1\n"
    "junction_sessions{worker=\"0\",role=\"subscriber\",state=\"closed\"} 0\n"
    "# HELP junction_downtracks Subscribers' bound media sections (one per track a subscriber receives), connected or not.\n"
    "# TYPE junction_downtracks gauge\n"
    "junction_downtracks{worker=\"0\"} 2\n"
    "# HELP junction_worker_tracks Tracks the worker holds, mirrors of other workers' tracks included.\n"
    "# TYPE junction_worker_tracks gauge\n"
    "junction_worker_tracks{worker=\"0\"} 3\n"
    "# HELP junction_worker_mirrored_tracks Mirrors of other workers' tracks the worker holds for its subscribers.\n"
    "# TYPE junction_worker_mirrored_tracks gauge\n"
    "junction_worker_mirrored_tracks{worker=\"0\"} 1\n"
    "# HELP junction_udp_received_datagrams_total Datagrams read from the worker's media socket.\n"
    "# TYPE junction_udp_received_datagrams_total counter\n"
    "junction_udp_received_datagrams_total{worker=\"0\"} 20\n"
    "# HELP junction_udp_received_bytes_total Bytes read from the worker's media socket.\n"
    "# TYPE junction_udp_received_bytes_total counter\n"
    "junction_udp_received_bytes_total{worker=\"0\"} 21\n"
    "# HELP junction_udp_sent_datagrams_total Datagrams sent on the worker's media socket.\n"
    "# TYPE junction_udp_sent_datagrams_total counter\n"
    "junction_udp_sent_datagrams_total{worker=\"0\"} 22\n"
    "# HELP junction_udp_sent_bytes_total Bytes sent on the worker's media socket.\n"
    "# TYPE junction_udp_sent_bytes_total counter\n"
    "junction_udp_sent_bytes_total{worker=\"0\"} 23\n"
    "# HELP junction_udp_send_errors_total Datagrams the worker's media socket could not send (full buffer, unreachable peer).\n"
    "# TYPE junction_udp_send_errors_total counter\n"
    "junction_udp_send_errors_total{worker=\"0\"} 24\n"
    "# HELP junction_relay_sent_packets_total RTP packets of the worker's tracks handed to workers that mirror them.\n"
    "# TYPE junction_relay_sent_packets_total counter\n"
    "junction_relay_sent_packets_total{worker=\"0\"} 10\n"
    "# HELP junction_relay_received_packets_total RTP packets received from other workers for the worker's mirrors.\n"
    "# TYPE junction_relay_received_packets_total counter\n"
    "junction_relay_received_packets_total{worker=\"0\"} 11\n"
    "# HELP junction_relay_dropped_packets_total RTP packets not handed to another worker because its ring was full.\n"
    "# TYPE junction_relay_dropped_packets_total counter\n"
    "junction_relay_dropped_packets_total{worker=\"0\"} 12\n"
    "# HELP junction_relay_unlinked_packets_total Relayed RTP packets received for a mirror that was gone (or unparsable).\n"
    "# TYPE junction_relay_unlinked_packets_total counter\n"
    "junction_relay_unlinked_packets_total{worker=\"0\"} 13\n"
    "# HELP junction_relay_sent_messages_total Control messages sent to other workers (subscribe, source, mute, keyframe requests).\n"
    "# TYPE junction_relay_sent_messages_total counter\n"
    "junction_relay_sent_messages_total{worker=\"0\"} 14\n"
    "# HELP junction_relay_wakeups_total Wake-ups of other workers after handing them packets or messages.\n"
    "# TYPE junction_relay_wakeups_total counter\n"
    "junction_relay_wakeups_total{worker=\"0\"} 15\n"
    "# HELP junction_rtp_received_packets_total RTP packets received from sessions (that SRTP authenticated).\n"
    "# TYPE junction_rtp_received_packets_total counter\n"
    "junction_rtp_received_packets_total{worker=\"0\",role=\"publisher\"} 100\n"
    "junction_rtp_received_packets_total{worker=\"0\",role=\"subscriber\"} 0\n"
    "# HELP junction_rtp_received_bytes_total Bytes of RTP received from sessions (header and payload, once SRTP is removed).\n"
    "# TYPE junction_rtp_received_bytes_total counter\n"
    "junction_rtp_received_bytes_total{worker=\"0\",role=\"publisher\"} 101\n"
    "junction_rtp_received_bytes_total{worker=\"0\",role=\"subscriber\"} 0\n"
    "# HELP junction_rtp_sent_packets_total RTP packets sent to sessions.\n"
    "# TYPE junction_rtp_sent_packets_total counter\n"
    "junction_rtp_sent_packets_total{worker=\"0\",role=\"publisher\"} 0\n"
    "junction_rtp_sent_packets_total{worker=\"0\",role=\"subscriber\"} 200\n"
    "# HELP junction_rtp_sent_bytes_total Bytes of RTP sent to sessions (as SRTP, authentication tag included).\n"
    "# TYPE junction_rtp_sent_bytes_total counter\n"
    "junction_rtp_sent_bytes_total{worker=\"0\",role=\"publisher\"} 0\n"
    "junction_rtp_sent_bytes_total{worker=\"0\",role=\"subscriber\"} 201\n"
    "# HELP junction_rtcp_received_packets_total RTCP compound packets received from sessions.\n"
    "# TYPE junction_rtcp_received_packets_total counter\n"
    "junction_rtcp_received_packets_total{worker=\"0\",role=\"publisher\"} 102\n"
    "junction_rtcp_received_packets_total{worker=\"0\",role=\"subscriber\"} 202\n"
    "# HELP junction_rtcp_sent_packets_total RTCP compound packets sent to sessions.\n"
    "# TYPE junction_rtcp_sent_packets_total counter\n"
    "junction_rtcp_sent_packets_total{worker=\"0\",role=\"publisher\"} 103\n"
    "junction_rtcp_sent_packets_total{worker=\"0\",role=\"subscriber\"} 203\n"
    "# HELP junction_nack_received_packets_total Packets subscribers asked to be resent (sequence numbers in their NACKs).\n"
    "# TYPE junction_nack_received_packets_total counter\n"
    "junction_nack_received_packets_total{worker=\"0\",role=\"publisher\"} 0\n"
    "junction_nack_received_packets_total{worker=\"0\",role=\"subscriber\"} 204\n"
    "# HELP junction_retransmitted_packets_total Packets resent to subscribers from a retransmission buffer, as their NACKs asked.\n"
    "# TYPE junction_retransmitted_packets_total counter\n"
    "junction_retransmitted_packets_total{worker=\"0\",role=\"publisher\"} 0\n"
    "junction_retransmitted_packets_total{worker=\"0\",role=\"subscriber\"} 205\n"
    "# HELP junction_nack_missed_packets_total NACKed packets not resent: no longer (or never) in a retransmission buffer.\n"
    "# TYPE junction_nack_missed_packets_total counter\n"
    "junction_nack_missed_packets_total{worker=\"0\",role=\"publisher\"} 0\n"
    "junction_nack_missed_packets_total{worker=\"0\",role=\"subscriber\"} 206\n"
    "# HELP junction_nack_throttled_packets_total NACKed packets not resent: over the subscriber's retransmission share.\n"
    "# TYPE junction_nack_throttled_packets_total counter\n"
    "junction_nack_throttled_packets_total{worker=\"0\",role=\"publisher\"} 0\n"
    "junction_nack_throttled_packets_total{worker=\"0\",role=\"subscriber\"} 207\n"
    "# HELP junction_nack_sent_packets_total Packets Junction asked publishers to resend (sequence numbers in its NACKs).\n"
    "# TYPE junction_nack_sent_packets_total counter\n"
    "junction_nack_sent_packets_total{worker=\"0\",role=\"publisher\"} 104\n"
    "junction_nack_sent_packets_total{worker=\"0\",role=\"subscriber\"} 0\n"
    "# HELP junction_rtx_received_packets_total Retransmissions (RTX) received from publishers.\n"
    "# TYPE junction_rtx_received_packets_total counter\n"
    "junction_rtx_received_packets_total{worker=\"0\",role=\"publisher\"} 105\n"
    "junction_rtx_received_packets_total{worker=\"0\",role=\"subscriber\"} 0\n"
    "# HELP junction_pli_received_total Picture loss indications received.\n"
    "# TYPE junction_pli_received_total counter\n"
    "junction_pli_received_total{worker=\"0\",role=\"publisher\"} 0\n"
    "junction_pli_received_total{worker=\"0\",role=\"subscriber\"} 208\n"
    "# HELP junction_fir_received_total Full intra requests received.\n"
    "# TYPE junction_fir_received_total counter\n"
    "junction_fir_received_total{worker=\"0\",role=\"publisher\"} 0\n"
    "junction_fir_received_total{worker=\"0\",role=\"subscriber\"} 209\n"
    "# HELP junction_pli_sent_total Keyframe requests (PLI) sent to publishers.\n"
    "# TYPE junction_pli_sent_total counter\n"
    "junction_pli_sent_total{worker=\"0\",role=\"publisher\"} 106\n"
    "junction_pli_sent_total{worker=\"0\",role=\"subscriber\"} 0\n"
    "# HELP junction_packets_lost_total Packets lost: publishers' RTP missing on arrival, subscribers' losses as their receiver reports say.\n"
    "# TYPE junction_packets_lost_total counter\n"
    "junction_packets_lost_total{worker=\"0\",role=\"publisher\"} 107\n"
    "junction_packets_lost_total{worker=\"0\",role=\"subscriber\"} 210\n"
    "# HELP junction_srtp_errors_total SRTP and SRTCP packets that failed to authenticate or decrypt (or to protect, when sending).\n"
    "# TYPE junction_srtp_errors_total counter\n"
    "junction_srtp_errors_total{worker=\"0\",role=\"publisher\"} 108\n"
    "junction_srtp_errors_total{worker=\"0\",role=\"subscriber\"} 0\n"
    "# HELP junction_srtp_replays_total SRTP and SRTCP packets refused by the replay window.\n"
    "# TYPE junction_srtp_replays_total counter\n"
    "junction_srtp_replays_total{worker=\"0\",role=\"publisher\"} 0\n"
    "junction_srtp_replays_total{worker=\"0\",role=\"subscriber\"} 211\n"
    "# HELP junction_ice_auth_failures_total ICE checks for a session's username that failed MESSAGE-INTEGRITY.\n"
    "# TYPE junction_ice_auth_failures_total counter\n"
    "junction_ice_auth_failures_total{worker=\"0\",role=\"publisher\"} 0\n"
    "junction_ice_auth_failures_total{worker=\"0\",role=\"subscriber\"} 212\n"
    "# HELP junction_unknown_ssrc_packets_total RTP packets from publishers on an SSRC the session did not announce (not forwarded).\n"
    "# TYPE junction_unknown_ssrc_packets_total counter\n"
    "junction_unknown_ssrc_packets_total{worker=\"0\",role=\"publisher\"} 109\n"
    "junction_unknown_ssrc_packets_total{worker=\"0\",role=\"subscriber\"} 0\n";

static json_t *load(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j) fail_msg("fixture: %s (line %d)", err.text, err.line);
    return j;
}

static void test_fixture_exact(void **state)
{
    (void)state;
    json_t *stats = load(fixture_stats), *rooms = load(fixture_rooms);
    metrics_app_figures app = {.version = "1.2.3", .start_time_s = 1700000000.25,
                               .uptime_s = 61.5, .http_rate_limited = 7, .rooms = rooms};
    size_t len = 0;
    char *out = metrics_render(stats, &app, &len);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    if (strcmp(out, expected) != 0) {
        fprintf(stderr, "rendered:\n%s", out); /* cmocka truncates long messages */
        fail_msg("the rendering differs from the expected text");
    }
    free(out);
    json_decref(stats);
    json_decref(rooms);
}

/* Backslash, double quote and newline in a label value; the rest of it untouched. */
static void test_label_values_escaped(void **state)
{
    (void)state;
    json_t *stats = load("{\"workers\": []}");
    metrics_app_figures app = {.version = "1.0 \"rc\\1\"\nx"};
    size_t len = 0;
    char *out = metrics_render(stats, &app, &len);
    assert_non_null(out);
    assert_non_null(strstr(out, "junction_build_info{version=\"1.0 \\\"rc\\\\1\\\"\\nx\"} 1\n"));
    free(out);
    json_decref(stats);
}

/* Without rooms no room families; figures stats lacks are 0; no worker, no worker samples. */
static void test_missing_figures(void **state)
{
    (void)state;
    json_t *stats = load("{}");
    metrics_app_figures app = {.version = "v"};
    size_t len = 0;
    char *out = metrics_render(stats, &app, &len);
    assert_non_null(out);
    assert_null(strstr(out, "junction_rooms"));
    assert_non_null(strstr(out, "\njunction_workers 0\n"));
    assert_non_null(strstr(out, "\njunction_handshake_timeouts_total 0\n"));
    assert_non_null(strstr(out, "\njunction_tracks{kind=\"video\",state=\"live\"} 0\n"));
    assert_null(strstr(out, "worker=\""));
    /* every family still has its HELP and TYPE */
    assert_non_null(strstr(out, "# TYPE junction_rtp_sent_bytes_total counter\n"));
    free(out);
    json_decref(stats);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_exact),
        cmocka_unit_test(test_label_values_escaped),
        cmocka_unit_test(test_missing_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
