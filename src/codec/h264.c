/* h264.c - H.264 RTP payload classification (RFC 6184, packetization-mode 1). */
#include <string.h>

#include "codec/codec.h"
#include "core/bytes.h"
#include "core/err.h"

/* Every payload starts with a NAL unit header (RFC 6184 §5.3):
 *
 *       +---------------+
 *       |0|1|2|3|4|5|6|7|
 *       +-+-+-+-+-+-+-+-+
 *       |F|NRI|  Type   |
 *       +---------------+
 *
 * Type 1..23 is a single NAL unit packet; 24 STAP-A (§5.7.1) aggregates
 * NAL units, each preceded by its 16-bit size:
 *
 *       | STAP-A NAL HDR | NALU 1 Size | NALU 1 HDR | NALU 1 Data | NALU 2 Size | ...
 *
 * 28 FU-A (§5.8) carries a fragment of one NAL unit after an FU header:
 *
 *       +---------------+---------------+
 *       | FU indicator  |   FU header   |
 *       |F|NRI|  Type=28|S|E|R|  Type   |
 *       +---------------+---------------+
 *
 * Types 25..27 and 29 (STAP-B, MTAP16, MTAP24, FU-B) exist only in
 * packetization-mode 2; 0, 30 and 31 are reserved.
 */

/* NAL unit types an aggregation or fragmentation unit may not contain. */
static bool h264_is_packetization_type(uint8_t type)
{
    return type >= 24 && type <= 29;
}

static void h264_note_nal(h264_descriptor *d, uint8_t type)
{
    if (d->nal_count == 0) d->nal_type = type;
    d->nal_count++;
    d->nal_types |= (uint32_t)1 << type;
}

int h264_parse(h264_descriptor *out, const uint8_t *payload, size_t len)
{
    if (len < 1) return J_ESHORT;
    h264_descriptor d;
    memset(&d, 0, sizeof d);
    d.packet_type = payload[0] & 0x1f;
    d.nri = (payload[0] >> 5) & 0x03;

    if (d.packet_type >= 1 && d.packet_type <= 23) {
        h264_note_nal(&d, d.packet_type);
    } else if (d.packet_type == H264_NAL_STAP_A) {
        size_t off = 1;
        if (off >= len) return J_ESHORT;  /* at least one aggregation unit */
        while (off < len) {
            if (len - off < 2) return J_ESHORT;
            size_t nalu_len = rd_be16(payload + off);
            off += 2;
            if (nalu_len == 0) return J_EMALFORMED;
            if (len - off < nalu_len) return J_ESHORT;
            uint8_t type = payload[off] & 0x1f;
            if (h264_is_packetization_type(type)) return J_EMALFORMED;
            h264_note_nal(&d, type);
            off += nalu_len;
        }
    } else if (d.packet_type == H264_NAL_FU_A) {
        if (len < 2) return J_ESHORT;
        uint8_t fu = payload[1];
        d.fu_start = (fu & 0x80) != 0;
        d.fu_end = (fu & 0x40) != 0;
        uint8_t type = fu & 0x1f;
        /* A NAL unit that fits one FU is not fragmented (§5.8). */
        if (d.fu_start && d.fu_end) return J_EMALFORMED;
        if (h264_is_packetization_type(type)) return J_EMALFORMED;
        if (d.fu_start) {
            h264_note_nal(&d, type);
        } else {
            d.nal_type = type;
        }
    } else {
        return J_EUNSUPPORTED;
    }

    /* A decoder can start at an IDR slice or at the SPS (and PPS) that
     * precede one; treating SPS as the start lets the SFU switch on the
     * first packet of an SPS, PPS, IDR sequence. */
    d.keyframe = (d.nal_types & (((uint32_t)1 << H264_NAL_IDR) | ((uint32_t)1 << H264_NAL_SPS))) != 0;
    *out = d;
    return 0;
}
