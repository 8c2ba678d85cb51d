/* vp9.c - VP9 RTP payload descriptor (RFC 9628). */
#include <string.h>

#include "codec/codec.h"
#include "core/bytes.h"
#include "core/err.h"

/* RFC 9628 §4.2. Flexible mode (F=1):
 *
 *         0 1 2 3 4 5 6 7
 *        +-+-+-+-+-+-+-+-+
 *        |I|P|L|F|B|E|V|Z| (REQUIRED)
 *        +-+-+-+-+-+-+-+-+
 *   I:   |M| PICTURE ID  | (REQUIRED)
 *        +-+-+-+-+-+-+-+-+
 *   M:   | EXTENDED PID  | (RECOMMENDED)
 *        +-+-+-+-+-+-+-+-+
 *   L:   | TID |U| SID |D| (Conditionally RECOMMENDED)
 *        +-+-+-+-+-+-+-+-+                             -\
 *   P,F: | P_DIFF      |N| (Conditionally REQUIRED)    - up to 3 times
 *        +-+-+-+-+-+-+-+-+                             -/
 *   V:   | SS            |
 *        | ..            |
 *        +-+-+-+-+-+-+-+-+
 *
 * Non-flexible mode (F=0) has no P_DIFFs; instead the layer byte is
 * followed by TL0PICIDX:
 *
 *   L:   | TID |U| SID |D|
 *        +-+-+-+-+-+-+-+-+
 *        |   TL0PICIDX   |
 *        +-+-+-+-+-+-+-+-+
 *
 * Every field is present only when its flag is set (the REQUIRED markings
 * are about what senders must set, not about the wire format).
 */
static int vp9_parse_ss(vp9_ss *ss, const uint8_t *p, size_t len, size_t *off);

int vp9_parse(vp9_descriptor *out, vp9_ss *ss, const uint8_t *payload, size_t len)
{
    if (len < 1) return J_ESHORT;
    vp9_descriptor d;
    memset(&d, 0, sizeof d);
    uint8_t b0 = payload[0];
    d.has_picture_id = (b0 & 0x80) != 0;
    d.inter_picture = (b0 & 0x40) != 0;
    d.has_layer = (b0 & 0x20) != 0;
    d.flexible = (b0 & 0x10) != 0;
    d.begin_of_frame = (b0 & 0x08) != 0;
    d.end_of_frame = (b0 & 0x04) != 0;
    d.has_ss = (b0 & 0x02) != 0;
    d.not_ref_upper = (b0 & 0x01) != 0;
    size_t off = 1;

    if (d.has_picture_id) {
        if (off >= len) return J_ESHORT;
        if (payload[off] & 0x80) {
            if (len - off < 2) return J_ESHORT;
            d.picture_id_15bit = true;
            d.picture_id = rd_be16(payload + off) & 0x7fff;
            off += 2;
        } else {
            d.picture_id = payload[off++];
        }
    }
    if (d.has_layer) {
        if (off >= len) return J_ESHORT;
        uint8_t l = payload[off++];
        d.tid = l >> 5;
        d.switching_up = (l & 0x10) != 0;
        d.sid = (l >> 1) & 0x07;
        d.inter_layer = (l & 0x01) != 0;
        if (!d.flexible) {
            if (off >= len) return J_ESHORT;
            d.has_tl0picidx = true;
            d.tl0picidx = payload[off++];
        }
    }
    if (d.flexible && d.inter_picture) {
        /* P_DIFF|N repeated while N=1, at most three in all. */
        for (;;) {
            if (off >= len) return J_ESHORT;
            uint8_t r = payload[off++];
            d.p_diff[d.p_diff_count++] = r >> 1;
            if (!(r & 0x01)) break;
            if (d.p_diff_count == VP9_MAX_REF_PICS) return J_EMALFORMED;
        }
    }
    if (d.has_ss) {
        int rc = vp9_parse_ss(ss, payload, len, &off);
        if (rc < 0) return rc;
    }
    /* A packet carries at least one byte of the VP9 frame. */
    if (off >= len) return J_ESHORT;
    d.descriptor_len = off;
    d.keyframe = !d.inter_picture && d.begin_of_frame && (!d.has_layer || d.sid == 0);
    *out = d;
    return 0;
}

/* RFC 9628 §4.2.1 scalability structure:
 *
 *        +-+-+-+-+-+-+-+-+
 *   V:   | N_S |Y|G|-|-|-|
 *        +-+-+-+-+-+-+-+-+              -\
 *   Y:   |     WIDTH     | (OPTIONAL)    .
 *        +               +               .
 *        |               | (OPTIONAL)    .
 *        +-+-+-+-+-+-+-+-+               . - N_S + 1 times
 *        |     HEIGHT    | (OPTIONAL)    .
 *        +               +               .
 *        |               | (OPTIONAL)    .
 *        +-+-+-+-+-+-+-+-+              -/
 *   G:   |      N_G      | (OPTIONAL)
 *        +-+-+-+-+-+-+-+-+                           -\
 *   N_G: |  T  |U| R |-|-| (OPTIONAL)                 .
 *        +-+-+-+-+-+-+-+-+              -\            . - N_G times
 *        |    P_DIFF     | (OPTIONAL)    . - R times  .
 *        +-+-+-+-+-+-+-+-+              -/            -/
 *
 * With ss NULL the structure is only validated and skipped.
 */
static int vp9_parse_ss(vp9_ss *ss, const uint8_t *p, size_t len, size_t *offp)
{
    size_t off = *offp;
    if (off >= len) return J_ESHORT;
    uint8_t v = p[off++];
    uint8_t layers = (uint8_t)((v >> 5) + 1);
    bool has_res = (v & 0x10) != 0;
    bool has_pg = (v & 0x08) != 0;
    if (ss) {
        ss->spatial_layers = layers;
        ss->has_resolution = has_res;
        ss->has_pg = has_pg;
        ss->pg_count = 0;
        memset(ss->width, 0, sizeof ss->width);
        memset(ss->height, 0, sizeof ss->height);
    }
    if (has_res) {
        if (len - off < (size_t)layers * 4) return J_ESHORT;
        for (uint8_t i = 0; i < layers; i++, off += 4) {
            if (ss) {
                ss->width[i] = rd_be16(p + off);
                ss->height[i] = rd_be16(p + off + 2);
            }
        }
    }
    if (has_pg) {
        if (off >= len) return J_ESHORT;
        uint8_t n_g = p[off++];
        for (uint8_t i = 0; i < n_g; i++) {
            if (off >= len) return J_ESHORT;
            uint8_t g = p[off++];
            uint8_t refs = (g >> 2) & 0x03;
            if (len - off < refs) return J_ESHORT;
            if (ss) {
                vp9_pg_picture *pic = &ss->pg[i];
                pic->tid = g >> 5;
                pic->switching_up = (g & 0x10) != 0;
                pic->ref_count = refs;
                memset(pic->p_diff, 0, sizeof pic->p_diff);
                for (uint8_t r = 0; r < refs; r++) pic->p_diff[r] = p[off + r];
            }
            off += refs;
        }
        if (ss) ss->pg_count = n_g;
    }
    *offp = off;
    return 0;
}
