/* codec.c - codec names and the common keyframe test. */
#include <strings.h>

#include "codec/codec.h"

static const struct {
    codec_kind kind;
    const char *name;
} codec_names[] = {
    {CODEC_VP8, "VP8"},
    {CODEC_VP9, "VP9"},
    {CODEC_H264, "H264"},
    {CODEC_AV1, "AV1"},
    {CODEC_OPUS, "opus"},
};

codec_kind codec_kind_from_name(const char *rtpmap_name)
{
    if (!rtpmap_name) return CODEC_UNKNOWN;
    for (size_t i = 0; i < sizeof codec_names / sizeof codec_names[0]; i++)
        if (strcasecmp(rtpmap_name, codec_names[i].name) == 0) return codec_names[i].kind;
    return CODEC_UNKNOWN;
}

const char *codec_kind_name(codec_kind kind)
{
    for (size_t i = 0; i < sizeof codec_names / sizeof codec_names[0]; i++)
        if (codec_names[i].kind == kind) return codec_names[i].name;
    return "unknown";
}

bool codec_is_video(codec_kind kind)
{
    return kind == CODEC_VP8 || kind == CODEC_VP9 || kind == CODEC_H264 || kind == CODEC_AV1;
}

/* AV1 aggregation header (AV1 RTP payload format §4.4):
 *
 *  0 1 2 3 4 5 6 7
 * +-+-+-+-+-+-+-+-+
 * |Z|Y| W |N|-|-|-|   N: first packet of a coded video sequence
 * +-+-+-+-+-+-+-+-+
 *
 * A coded video sequence begins with a key frame, so N marks where a
 * decoder can start.
 */
static bool av1_is_keyframe(const uint8_t *payload, size_t len)
{
    return len >= 2 && (payload[0] & 0x08) != 0;
}

bool codec_is_keyframe(codec_kind kind, const uint8_t *payload, size_t len)
{
    switch (kind) {
    case CODEC_VP8: {
        vp8_descriptor d;
        return vp8_parse(&d, payload, len) == 0 && d.keyframe;
    }
    case CODEC_VP9: {
        vp9_descriptor d;
        return vp9_parse(&d, NULL, payload, len) == 0 && d.keyframe;
    }
    case CODEC_H264: {
        h264_descriptor d;
        return h264_parse(&d, payload, len) == 0 && d.keyframe;
    }
    case CODEC_AV1:
        return av1_is_keyframe(payload, len);
    case CODEC_OPUS:
        return true;
    case CODEC_UNKNOWN:
        break;
    }
    return false;
}
