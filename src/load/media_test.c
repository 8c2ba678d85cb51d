/* media_test.c - junction-load's IVF and Ogg readers (on files ffmpeg wrote, testdata/media/,
 * and on hand-made bytes), Opus packet durations and the VP8 packetizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codec/codec.h"
#include "core/err.h"
#include "load/load.h"

static uint8_t g_file[16384];

static size_t load(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "testdata/media/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    size_t n = fread(g_file, 1, sizeof g_file, f);
    fclose(f);
    return n;
}

static void test_ivf_file(void **state)
{
    (void)state;
    size_t n = load("tiny.ivf");
    ivf_reader r;
    assert_int_equal(ivf_reader_init(&r, g_file, n), J_OK);
    assert_memory_equal(r.fourcc, "VP80", 4);
    assert_int_equal(r.width, 64);
    assert_int_equal(r.height, 48);
    assert_int_equal(r.timebase_num, 1);
    assert_int_equal(r.timebase_den, 10);
    const uint8_t *frame;
    size_t len;
    uint64_t pts;
    int frames = 0;
    int rc;
    while ((rc = ivf_reader_next(&r, &frame, &len, &pts)) == 1) {
        assert_int_equal(pts, (uint64_t)frames);
        /* VP8 frame tag (RFC 6386 §9.1): bit 0 clear on a keyframe; ffmpeg wrote -g 2. */
        assert_int_equal(frame[0] & 1, frames % 2 ? 1 : 0);
        frames++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(frames, 3);
}

static void test_ivf_malformed(void **state)
{
    (void)state;
    size_t n = load("tiny.ivf");
    ivf_reader r;
    uint8_t bad[64];
    assert_int_equal(ivf_reader_init(&r, g_file, 31), J_ESHORT);
    memcpy(bad, g_file, 44);
    bad[0] = 'X';
    assert_int_equal(ivf_reader_init(&r, bad, 44), J_EMALFORMED);
    memcpy(bad, g_file, 44);
    bad[4] = 1; /* version */
    assert_int_equal(ivf_reader_init(&r, bad, 44), J_EMALFORMED);
    memcpy(bad, g_file, 44);
    bad[6] = 31; /* header length */
    assert_int_equal(ivf_reader_init(&r, bad, 44), J_EMALFORMED);
    memcpy(bad, g_file, 44);
    bad[6] = 60; /* longer than the file */
    assert_int_equal(ivf_reader_init(&r, bad, 44), J_EMALFORMED);
    memcpy(bad, g_file, 44);
    memset(bad + 16, 0, 4); /* timebase denominator */
    assert_int_equal(ivf_reader_init(&r, bad, 44), J_EMALFORMED);

    const uint8_t *frame;
    size_t len;
    uint64_t pts;
    /* A frame header cut short, then a frame cut short. */
    assert_int_equal(ivf_reader_init(&r, g_file, 40), J_OK);
    assert_int_equal(ivf_reader_next(&r, &frame, &len, &pts), J_ESHORT);
    assert_int_equal(ivf_reader_init(&r, g_file, 50), J_OK);
    assert_int_equal(ivf_reader_next(&r, &frame, &len, &pts), J_ESHORT);
    /* An empty frame. */
    memcpy(bad, g_file, 44);
    memset(bad + 32, 0, 4);
    assert_int_equal(ivf_reader_init(&r, bad, 44), J_OK);
    assert_int_equal(ivf_reader_next(&r, &frame, &len, &pts), J_EMALFORMED);
    (void)n;
}

static void test_ogg_opus_file(void **state)
{
    (void)state;
    size_t n = load("tiny.ogg");
    ogg_reader r;
    assert_int_equal(ogg_reader_init(&r, g_file, n), J_OK);
    uint8_t pkt[2048];
    size_t len;
    uint64_t granule;
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), 1);
    assert_true(len >= 19);
    assert_memory_equal(pkt, "OpusHead", 8);
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), 1);
    assert_memory_equal(pkt, "OpusTags", 8);
    int packets = 0, samples = 0, rc;
    while ((rc = ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule)) == 1) {
        int s = opus_packet_samples(pkt, len);
        assert_int_equal(s, 960); /* ffmpeg's libopus default: 20 ms */
        samples += s;
        packets++;
    }
    assert_int_equal(rc, 0);
    /* 0.1 s plus the encoder's look-ahead (pre-skip) rounded up to whole frames. */
    assert_true(packets >= 5 && packets <= 7);
    assert_true(granule <= (uint64_t)samples);
}

/* An Ogg page with the given header type and lacing values, followed by `body` bytes of
 * 0xAB; returns its length. */
static size_t ogg_page(uint8_t *out, uint8_t type, const uint8_t *lacing, size_t nseg)
{
    memset(out, 0, 27);
    memcpy(out, "OggS", 4);
    out[5] = type;
    out[6] = 42; /* granule */
    out[26] = (uint8_t)nseg;
    memcpy(out + 27, lacing, nseg);
    size_t body = 0;
    for (size_t i = 0; i < nseg; i++) body += lacing[i];
    memset(out + 27 + nseg, 0xAB, body);
    return 27 + nseg + body;
}

static void test_ogg_continued_packets(void **state)
{
    (void)state;
    /* Page 1: a 3-byte packet, then 255 bytes that continue; page 2 (continued): 10 more
     * bytes, then a 0-length packet. */
    uint8_t file[1024];
    const uint8_t l1[] = {3, 255}, l2[] = {10, 0};
    size_t n = ogg_page(file, 0x02, l1, 2);
    n += ogg_page(file + n, 0x01, l2, 2);
    ogg_reader r;
    assert_int_equal(ogg_reader_init(&r, file, n), J_OK);
    uint8_t pkt[512];
    size_t len;
    uint64_t granule;
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), 1);
    assert_int_equal(len, 3);
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), 1);
    assert_int_equal(len, 265);
    assert_int_equal(granule, 42);
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), 1);
    assert_int_equal(len, 0);
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), 0);

    /* Too small a buffer for the long packet. */
    assert_int_equal(ogg_reader_init(&r, file, n), J_OK);
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), 1);
    assert_int_equal(ogg_reader_next(&r, pkt, 100, &len, &granule), J_ESHORTBUF);

    /* The second page without its continuation flag. */
    n = ogg_page(file, 0x02, l1, 2);
    size_t n2 = n + ogg_page(file + n, 0x00, l2, 2);
    assert_int_equal(ogg_reader_init(&r, file, n2), J_OK);
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), 1);
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), J_EMALFORMED);
    /* A packet left open at the end of the file. */
    assert_int_equal(ogg_reader_init(&r, file, n), J_OK);
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), 1);
    assert_int_equal(ogg_reader_next(&r, pkt, sizeof pkt, &len, &granule), J_ESHORT);
    /* Truncated page bodies and lacing tables, a bad capture pattern and version. */
    assert_int_equal(ogg_reader_init(&r, file, n - 1), J_ESHORT);
    assert_int_equal(ogg_reader_init(&r, file, 28), J_ESHORT);
    assert_int_equal(ogg_reader_init(&r, file, 20), J_ESHORT);
    file[4] = 1;
    assert_int_equal(ogg_reader_init(&r, file, n), J_EMALFORMED);
    file[4] = 0;
    file[0] = 'o';
    assert_int_equal(ogg_reader_init(&r, file, n), J_EMALFORMED);
}

static void test_opus_durations(void **state)
{
    (void)state;
    static const struct { uint8_t toc, next; int samples; } cases[] = {
        {0 << 3, 0, 480},         /* SILK NB 10 ms */
        {1 << 3, 0, 960},         /* SILK 20 ms */
        {3 << 3, 0, 2880},        /* SILK 60 ms */
        {12 << 3, 0, 480},        /* hybrid 10 ms */
        {15 << 3, 0, 960},        /* hybrid 20 ms */
        {16 << 3, 0, 120},        /* CELT 2.5 ms */
        {31 << 3, 0, 960},        /* CELT FB 20 ms */
        {(31 << 3) | 1, 0, 1920}, /* two equal frames */
        {(31 << 3) | 2, 0, 1920}, /* two frames, different sizes */
        {(31 << 3) | 3, 6, 5760}, /* six 20 ms frames: the 120 ms limit */
        {(3 << 3) | 3, 2, 5760},  /* two 60 ms frames */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t pkt[2] = {cases[i].toc, cases[i].next};
        assert_int_equal(opus_packet_samples(pkt, sizeof pkt), cases[i].samples);
    }
    uint8_t over[2] = {(3 << 3) | 3, 3}; /* 180 ms */
    assert_int_equal(opus_packet_samples(over, 2), J_EMALFORMED);
    uint8_t none[2] = {(31 << 3) | 3, 0x40}; /* count 0 (padding flag only) */
    assert_int_equal(opus_packet_samples(none, 2), J_EMALFORMED);
    assert_int_equal(opus_packet_samples(over, 1), J_ESHORT);
    assert_int_equal(opus_packet_samples(over, 0), J_ESHORT);
}

static void test_vp8_packetizer(void **state)
{
    (void)state;
    uint8_t frame[2500];
    for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)(i * 7);
    frame[0] = 0x10; /* keyframe tag */
    vp8_packetizer p;
    vp8_packetizer_init(&p, frame, sizeof frame, 0x8123, 1200);
    uint8_t out[1500], joined[sizeof frame];
    size_t total = 0;
    int packets = 0;
    bool last = false;
    int n;
    while ((n = vp8_packetizer_next(&p, out, sizeof out, &last)) > 0) {
        assert_true(n <= 1200);
        vp8_descriptor d;
        assert_int_equal(vp8_parse(&d, out, (size_t)n), 0);
        assert_int_equal(d.descriptor_len, 4);
        assert_int_equal(d.start_of_partition, packets == 0);
        assert_int_equal(d.partition_id, 0);
        assert_true(d.picture_id_15bit);
        assert_int_equal(d.picture_id, 0x0123);
        if (packets == 0) assert_true(d.keyframe);
        memcpy(joined + total, out + 4, (size_t)n - 4);
        total += (size_t)n - 4;
        assert_int_equal(last, total == sizeof frame);
        packets++;
    }
    assert_int_equal(n, 0);
    assert_int_equal(packets, 3);
    assert_int_equal(total, sizeof frame);
    assert_memory_equal(joined, frame, sizeof frame);

    /* One small packet; a payload size that cannot hold any of the frame. */
    vp8_packetizer_init(&p, frame, 10, 1, 1200);
    assert_int_equal(vp8_packetizer_next(&p, out, sizeof out, &last), 14);
    assert_true(last);
    vp8_packetizer_init(&p, frame, 10, 1, 4);
    assert_int_equal(vp8_packetizer_next(&p, out, sizeof out, &last), J_ESHORTBUF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ivf_file),
        cmocka_unit_test(test_ivf_malformed),
        cmocka_unit_test(test_ogg_opus_file),
        cmocka_unit_test(test_ogg_continued_packets),
        cmocka_unit_test(test_opus_durations),
        cmocka_unit_test(test_vp8_packetizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
