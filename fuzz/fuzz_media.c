/* fuzz_media.c - junction-load's media file readers: the input read as an IVF file and as
 * an Ogg file to the end, every Ogg packet's Opus duration and every IVF frame packetized.
 * Oracle: no crash and no sanitizer report; packetized payloads add up to the frame. */
#include <stdint.h>
#include <stdlib.h>

#include "load/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t packet[65536];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ivf_reader ivf;
    if (ivf_reader_init(&ivf, data, size) == 0) {
        const uint8_t *frame;
        size_t len;
        uint64_t pts;
        while (ivf_reader_next(&ivf, &frame, &len, &pts) == 1) {
            vp8_packetizer p;
            vp8_packetizer_init(&p, frame, len, (uint16_t)pts, 1200);
            uint8_t out[1200];
            bool last = false;
            size_t total = 0;
            int n;
            while ((n = vp8_packetizer_next(&p, out, sizeof out, &last)) > 0) total += (size_t)n - 4;
            if (n < 0 || total != len || !last) abort();
        }
    }
    ogg_reader ogg;
    if (ogg_reader_init(&ogg, data, size) == 0) {
        size_t len;
        uint64_t granule;
        while (ogg_reader_next(&ogg, packet, sizeof packet, &len, &granule) == 1)
            opus_packet_samples(packet, len);
    }
    return 0;
}
