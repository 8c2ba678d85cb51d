/* stats_test.c - the frame log, and a subscriber's loss and latency accounting
 * on packets shaped like a server's rewritten forwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "load/load.h"

static j_hist g_hist, g_hist_packets;

static void test_frame_log(void **state)
{
    (void)state;
    static load_frame_log log;
    load_frame_log_init(&log, 3000);
    uint32_t ts0 = 0xfffff000u; /* wraps after a couple of frames */
    for (uint32_t k = 0; k < LOAD_FRAME_LOG_SIZE; k++)
        load_frame_log_put(&log, ts0 + k * 3000, k, (uint16_t)k, 1000 + k);
    /* Every frame of the last ring-full is there, except where the timestamp wrapped the
     * slot index (the two frames before the wrap share slots with later ones). */
    int found = 0;
    for (uint32_t k = 0; k < LOAD_FRAME_LOG_SIZE; k++) {
        const load_frame_slot *s = load_frame_log_get(&log, ts0 + k * 3000);
        if (s) {
            assert_int_equal(s->fingerprint, k);
            assert_int_equal(s->sent_us, 1000 + k);
            assert_int_equal(s->first_seq, (uint16_t)k);
            found++;
        }
    }
    assert_true(found >= LOAD_FRAME_LOG_SIZE - 2);
    /* A newer frame replaces the one a ring ago. */
    load_frame_log_put(&log, ts0 + LOAD_FRAME_LOG_SIZE * 3000u, 99, 0, 5);
    assert_null(load_frame_log_get(&log, ts0));
    assert_null(load_frame_log_get(&log, 1234));
    /* Packets: by sequence number, a ring of LOAD_PACKET_LOG_SIZE across the wrap. */
    for (uint32_t i = 0; i < LOAD_PACKET_LOG_SIZE; i++)
        load_packet_log_put(&log, (uint16_t)(65000 + i), 7 + i);
    assert_int_equal(load_packet_log_sent(&log, 65000), 7);
    assert_int_equal(load_packet_log_sent(&log, (uint16_t)(65000 + LOAD_PACKET_LOG_SIZE - 1)),
                     7 + LOAD_PACKET_LOG_SIZE - 1);
    assert_int_equal(load_packet_log_sent(&log, 64999), 0); /* never logged */
    load_packet_log_put(&log, (uint16_t)(65000 + LOAD_PACKET_LOG_SIZE), 1);
    assert_int_equal(load_packet_log_sent(&log, 65000), 0); /* replaced a ring later */
    assert_int_not_equal(load_fingerprint((const uint8_t *)"abc", 3),
                         load_fingerprint((const uint8_t *)"abd", 3));
    assert_int_not_equal(load_fingerprint((const uint8_t *)"abc", 3),
                         load_fingerprint((const uint8_t *)"abc", 2));
}

/* The server's rewrite of the publisher's sequence numbers in these tests. */
#define SEQ_OFFSET 1000

/* A publisher's video: frame k is 3 packets at ts0 + 3000k, payload starting with k, with
 * sequence numbers from first_seq, paced: packet i leaves at sent_us + 100i. */
static void publish_frame(load_frame_log *log, uint32_t ts0, uint32_t k, uint16_t first_seq,
                          uint64_t sent_us, uint8_t payloads[3][8])
{
    for (int i = 0; i < 3; i++) {
        memset(payloads[i], 0, 8);
        payloads[i][0] = (uint8_t)k;
        payloads[i][1] = (uint8_t)(k >> 8);
        payloads[i][2] = (uint8_t)i;
    }
    uint64_t fp = load_fingerprint(payloads[0], 8);
    for (int i = 0; i < 3; i++) {
        uint64_t t = sent_us + 100 * (uint64_t)i;
        load_packet_log_put(log, (uint16_t)(first_seq + i), t);
        load_frame_log_put(log, ts0 + 3000 * k, fp, first_seq, t);
    }
}

static void test_rx_video_latency_and_loss(void **state)
{
    (void)state;
    static load_frame_log log;
    load_frame_log_init(&log, 3000);
    load_rx_stream rx;
    load_rx_init(&rx, false, &log);
    j_hist *lat = &g_hist, *plat = &g_hist_packets;
    memset(lat, 0, sizeof *lat);
    memset(plat, 0, sizeof *plat);
    const uint32_t ts0 = 90000, offset = 0x80000000u; /* the server's rewrite */
    uint16_t seq = 65530;                             /* wraps during the run */
    uint8_t pl[3][8];
    for (uint32_t k = 0; k < 20; k++) {
        uint64_t sent = 1000000 + k * 33333;
        publish_frame(&log, ts0, k, (uint16_t)(seq - SEQ_OFFSET), sent, pl);
        for (int i = 0; i < 3; i++) {
            uint16_t s = seq++;
            if (k == 5 && i == 1) continue; /* one packet lost in the middle of a frame */
            /* Each packet 700 us after its send, and the frame's last after its own. */
            load_rx_packet(&rx, s, ts0 + 3000 * k + offset, i == 2, pl[i], 8,
                           sent + 100 * (uint64_t)i + 700, lat, plat);
        }
    }
    assert_int_equal(rx.received, 59);
    assert_int_equal(load_rx_expected(&rx), 60);
    assert_int_equal(load_rx_lost(&rx), 1);
    assert_int_equal(rx.frames, 20);
    assert_int_equal(rx.frames_measured, 20); /* loss in the middle does not hide a frame */
    assert_int_equal(rx.relocks, 0);
    assert_int_equal(lat->count, 20);
    assert_int_equal(j_hist_percentile(lat, 0.5), 688); /* 700 is in [672, 704) */
    assert_int_equal(rx.packets_measured, 59);
    assert_int_equal(plat->count, 59);
    assert_int_equal(j_hist_percentile(plat, 0.99), 688);

    /* The server re-maps timestamps (a new source): the next frame fails to match, then
     * the stream locks on again. */
    for (uint32_t k = 20; k < 25; k++) {
        uint64_t sent = 2000000 + k * 33333;
        publish_frame(&log, ts0, k, (uint16_t)(seq - SEQ_OFFSET), sent, pl);
        for (int i = 0; i < 3; i++)
            load_rx_packet(&rx, seq++, ts0 + 3000 * k + offset + 12345, i == 2, pl[i], 8,
                           sent + 100 * (uint64_t)i + 500, lat, plat);
    }
    assert_int_equal(rx.relocks, 1);
    assert_int_equal(rx.frames_measured, 25);
    assert_int_equal(rx.packets_measured, 59 + 15); /* relocked on each frame's first packet */
    assert_int_equal(load_rx_lost(&rx), 1);

    /* Packets that were not decrypted (no payload): loss as before, latency through the
     * lock. */
    for (uint32_t k = 25; k < 30; k++) {
        uint64_t sent = 3000000 + k * 33333;
        publish_frame(&log, ts0, k, (uint16_t)(seq - SEQ_OFFSET), sent, pl);
        for (int i = 0; i < 3; i++)
            load_rx_packet(&rx, seq++, ts0 + 3000 * k + offset + 12345, i == 2, NULL, 8,
                           sent + 100 * (uint64_t)i + 300, lat, plat);
    }
    assert_int_equal(rx.frames_measured, 30);
    assert_int_equal(rx.packets_measured, 59 + 30);
    assert_int_equal(j_hist_percentile(plat, 0.0), 296); /* 300 is in [288, 304) */
    assert_int_equal(rx.received, 59 + 15 + 15);
    /* Unlocked, a packet without payload cannot be matched. */
    load_rx_stream fresh;
    load_rx_init(&fresh, false, &log);
    load_rx_packet(&fresh, 1, ts0 + 3000 * 29 + offset, true, NULL, 8, 3000000 + 29 * 33333 + 5,
                   lat, plat);
    assert_int_equal(fresh.frames, 1);
    assert_int_equal(fresh.frames_measured, 0);
    assert_int_equal(fresh.packets_measured, 0);
}

static void test_rx_audio_and_unknown_frames(void **state)
{
    (void)state;
    static load_frame_log log;
    load_frame_log_init(&log, 960);
    load_rx_stream rx;
    load_rx_init(&rx, true, &log);
    j_hist *lat = &g_hist, *plat = &g_hist_packets;
    memset(lat, 0, sizeof *lat);
    memset(plat, 0, sizeof *plat);
    uint8_t pl[4] = {1, 2, 3, 4};
    load_packet_log_put(&log, 77, 100);
    load_frame_log_put(&log, 960, load_fingerprint(pl, 4), 77, 100);
    load_rx_packet(&rx, 1, 5000 + 960, false, pl, 4, 150, lat, plat);
    assert_int_equal(rx.frames_measured, 1);
    assert_int_equal(rx.packets_measured, 1);
    assert_int_equal(j_hist_percentile(plat, 0.5), 50);
    /* A packet nobody logged: counted, not measured. */
    uint8_t other[4] = {9, 9, 9, 9};
    load_rx_packet(&rx, 2, 5000 + 1920, false, other, 4, 170, lat, plat);
    assert_int_equal(rx.frames, 2);
    assert_int_equal(rx.frames_measured, 1);
    assert_int_equal(lat->count, 1);
    /* Without a source log only loss is counted. */
    load_rx_init(&rx, true, NULL);
    load_rx_packet(&rx, 10, 0, false, pl, 4, 1, lat, plat);
    load_rx_packet(&rx, 13, 0, false, pl, 4, 1, lat, plat);
    load_rx_packet(&rx, 12, 0, false, pl, 4, 1, lat, plat); /* late */
    assert_int_equal(load_rx_expected(&rx), 4);
    assert_int_equal(load_rx_lost(&rx), 1);
    assert_int_equal(rx.frames, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_log),
        cmocka_unit_test(test_rx_video_latency_and_loss),
        cmocka_unit_test(test_rx_audio_and_unknown_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
