/* vp8.c - VP8 RTP payload descriptor and payload header (RFC 7741). */
#include <string.h>

#include "codec/codec.h"
#include "core/err.h"

/* RFC 7741 §4.2 payload descriptor:
 *
 *        0 1 2 3 4 5 6 7
 *       +-+-+-+-+-+-+-+-+
 *       |X|R|N|S|R| PID | (REQUIRED)
 *       +-+-+-+-+-+-+-+-+
 *  X:   |I|L|T|K| RSV   | (OPTIONAL)
 *       +-+-+-+-+-+-+-+-+
 *  I:   |M| PictureID   | (OPTIONAL, 7 bits, or 15 when M=1)
 *       +-+-+-+-+-+-+-+-+
 *  M:   |   PictureID   |
 *       +-+-+-+-+-+-+-+-+
 *  L:   |   TL0PICIDX   | (OPTIONAL)
 *       +-+-+-+-+-+-+-+-+
 *  T/K: |TID|Y| KEYIDX  | (OPTIONAL, present when T or K is set)
 *       +-+-+-+-+-+-+-+-+
 *
 * §4.3 payload header, the first bytes of a frame (S=1, PID=0):
 *
 *       +-+-+-+-+-+-+-+-+
 *       |Size0|H| VER |P|   P: inverse key frame flag (0 = keyframe)
 *       +-+-+-+-+-+-+-+-+
 *       |     Size1     |
 *       +-+-+-+-+-+-+-+-+
 *       |     Size2     |
 *       +-+-+-+-+-+-+-+-+
 *
 * followed in a keyframe by the start code 9d 01 2a and two little-endian
 * 16-bit words, each a 2-bit scale over a 14-bit width and height
 * (RFC 6386 §9.1).
 */
#define VP8_KEYFRAME_HEADER_LEN 10

int vp8_parse(vp8_descriptor *out, const uint8_t *payload, size_t len)
{
    if (len < 1) return J_ESHORT;
    vp8_descriptor d;
    memset(&d, 0, sizeof d);
    uint8_t b0 = payload[0];
    d.non_reference = (b0 & 0x20) != 0;
    d.start_of_partition = (b0 & 0x10) != 0;
    d.partition_id = b0 & 0x07;
    size_t off = 1;

    if (b0 & 0x80) {  /* X: extension byte */
        if (off >= len) return J_ESHORT;
        uint8_t x = payload[off++];
        d.has_picture_id = (x & 0x80) != 0;
        d.has_tl0picidx = (x & 0x40) != 0;
        d.has_tid = (x & 0x20) != 0;
        d.has_keyidx = (x & 0x10) != 0;
        if (d.has_picture_id) {
            if (off >= len) return J_ESHORT;
            if (payload[off] & 0x80) {
                if (len - off < 2) return J_ESHORT;
                d.picture_id_15bit = true;
                d.picture_id = (uint16_t)(((payload[off] & 0x7f) << 8) | payload[off + 1]);
                off += 2;
            } else {
                d.picture_id = payload[off++];
            }
        }
        if (d.has_tl0picidx) {
            if (off >= len) return J_ESHORT;
            d.tl0picidx = payload[off++];
        }
        if (d.has_tid || d.has_keyidx) {
            if (off >= len) return J_ESHORT;
            uint8_t t = payload[off++];
            if (d.has_tid) {
                d.tid = t >> 6;
                d.layer_sync = (t & 0x20) != 0;
            }
            if (d.has_keyidx) d.keyidx = t & 0x1f;
        }
    }
    /* A packet carries at least one byte of the VP8 frame. */
    if (off >= len) return J_ESHORT;
    d.descriptor_len = off;

    d.frame_start = d.start_of_partition && d.partition_id == 0;
    if (d.frame_start) {
        const uint8_t *h = payload + off;
        size_t n = len - off;
        d.keyframe = (h[0] & 0x01) == 0;
        if (d.keyframe && n >= VP8_KEYFRAME_HEADER_LEN && h[3] == 0x9d && h[4] == 0x01 &&
            h[5] == 0x2a) {
            uint16_t w = (uint16_t)(h[6] | (h[7] << 8));
            uint16_t v = (uint16_t)(h[8] | (h[9] << 8));
            d.has_dimensions = true;
            d.width = w & 0x3fff;
            d.horizontal_scale = (uint8_t)(w >> 14);
            d.height = v & 0x3fff;
            d.vertical_scale = (uint8_t)(v >> 14);
        }
    }
    *out = d;
    return 0;
}

int vp8_descriptor_write(const vp8_descriptor *d, uint8_t *buf, size_t cap)
{
    if (d->partition_id > 7 || d->tid > 3 || d->keyidx > 31 ||
        (d->has_picture_id && d->picture_id > (d->picture_id_15bit ? 0x7fff : 0x7f)))
        return J_EINVAL;
    bool ext = d->has_picture_id || d->has_tl0picidx || d->has_tid || d->has_keyidx;
    size_t need = 1 + (ext ? 1 : 0) + (d->has_picture_id ? (d->picture_id_15bit ? 2 : 1) : 0) +
                  (d->has_tl0picidx ? 1 : 0) + (d->has_tid || d->has_keyidx ? 1 : 0);
    if (cap < need) return J_ESHORTBUF;
    size_t off = 0;
    buf[off++] = (uint8_t)((ext ? 0x80 : 0) | (d->non_reference ? 0x20 : 0) |
                           (d->start_of_partition ? 0x10 : 0) | d->partition_id);
    if (!ext) return (int)off;
    buf[off++] = (uint8_t)((d->has_picture_id ? 0x80 : 0) | (d->has_tl0picidx ? 0x40 : 0) |
                           (d->has_tid ? 0x20 : 0) | (d->has_keyidx ? 0x10 : 0));
    if (d->has_picture_id) {
        if (d->picture_id_15bit) {
            buf[off++] = (uint8_t)(0x80 | (d->picture_id >> 8));
            buf[off++] = (uint8_t)d->picture_id;
        } else {
            buf[off++] = (uint8_t)d->picture_id;
        }
    }
    if (d->has_tl0picidx) buf[off++] = d->tl0picidx;
    if (d->has_tid || d->has_keyidx)
        buf[off++] = (uint8_t)((d->has_tid ? (d->tid << 6) | (d->layer_sync ? 0x20 : 0) : 0) |
                               (d->has_keyidx ? d->keyidx : 0));
    return (int)off;
}
