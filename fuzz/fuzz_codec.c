/* fuzz_codec.c - VP8/VP9/H.264 descriptor parsers and the keyframe test.
 *
 * The first input byte picks the codec (so the corpus can steer), the rest is
 * the RTP payload. Every parser's result must agree with codec_is_keyframe.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec/codec.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const codec_kind kinds[] = {CODEC_VP8, CODEC_VP9, CODEC_H264, CODEC_AV1,
                                       CODEC_OPUS, CODEC_UNKNOWN};
    codec_kind kind = kinds[data[0] % (sizeof kinds / sizeof kinds[0])];
    const uint8_t *p = data + 1;
    size_t len = size - 1;

    bool key = codec_is_keyframe(kind, p, len);
    switch (kind) {
    case CODEC_VP8: {
        vp8_descriptor d;
        int rc = vp8_parse(&d, p, len);
        if (rc == 0 && (d.descriptor_len >= len || d.keyframe != key)) abort();
        if (rc != 0 && key) abort();
        break;
    }
    case CODEC_VP9: {
        static vp9_ss ss;
        vp9_descriptor d, d2;
        int rc = vp9_parse(&d, &ss, p, len);
        /* Parsing with and without the SS output must agree. */
        if (vp9_parse(&d2, NULL, p, len) != rc) abort();
        if (rc == 0 && (d.descriptor_len >= len || d.keyframe != key ||
                        d.descriptor_len != d2.descriptor_len))
            abort();
        if (rc == 0 && d.has_ss &&
            (ss.spatial_layers < 1 || ss.spatial_layers > VP9_MAX_SPATIAL_LAYERS))
            abort();
        if (rc != 0 && key) abort();
        break;
    }
    case CODEC_H264: {
        h264_descriptor d;
        int rc = h264_parse(&d, p, len);
        if (rc == 0 && d.keyframe != key) abort();
        if (rc != 0 && key) abort();
        break;
    }
    default: {
        /* Run every parser regardless, for coverage of odd inputs. */
        vp8_descriptor d8;
        vp9_descriptor d9;
        h264_descriptor dh;
        (void)vp8_parse(&d8, p, len);
        (void)vp9_parse(&d9, NULL, p, len);
        (void)h264_parse(&dh, p, len);
        break;
    }
    }
    return 0;
}
