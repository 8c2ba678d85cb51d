/* fuzz_picmap.c - VP8 and VP9 picture id rewriting over a run of packets.
 *
 * The input is a run of packets, each a control byte, a length byte and that many bytes of
 * payload. Control bit 2 makes the payload VP9, else VP8. Bit 0 drops the packet instead of
 * forwarding it (VP8; VP9 drops leave the map alone), bit 1 resyncs (a new source) first.
 * Oracles: a rewritten descriptor has the announced length, parses back with every field but
 * the mapped ones intact (VP9: its scalability structure too) and a 15-bit picture id; an
 * in-place rewrite gives the same bytes; a refused packet changes nothing; the newest picture
 * forwarded of a source follows the previous one sent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/picmap.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The rewritten packet (out's n descriptor bytes + pkt's payload), parsed and checked. */
static vp8_descriptor check_rewrite(const vp8_descriptor *in, const uint8_t *pkt, size_t len,
                                    const uint8_t *out, int n)
{
    if (n < 1 || (size_t)n != vp8_picmap_rewrite_len(in)) abort();
    uint8_t again[300];
    size_t payload = len - in->descriptor_len;
    memcpy(again, out, (size_t)n);
    memcpy(again + n, pkt + in->descriptor_len, payload);
    vp8_descriptor d;
    if (vp8_parse(&d, again, (size_t)n + payload) != 0) abort();
    if (d.descriptor_len != (size_t)n || d.has_picture_id != in->has_picture_id ||
        d.has_tl0picidx != in->has_tl0picidx || d.has_tid != in->has_tid ||
        d.has_keyidx != in->has_keyidx || d.tid != in->tid || d.layer_sync != in->layer_sync ||
        d.keyidx != in->keyidx || d.non_reference != in->non_reference ||
        d.start_of_partition != in->start_of_partition || d.partition_id != in->partition_id ||
        d.keyframe != in->keyframe)
        abort();
    if (d.has_picture_id && !d.picture_id_15bit) abort();
    return d;
}

/* The rewritten VP9 packet (out's n descriptor bytes + pkt's payload), parsed and checked. */
static vp9_descriptor check_vp9_rewrite(const vp9_descriptor *in, const vp9_ss *in_ss,
                                        const uint8_t *pkt, size_t len, const uint8_t *out, int n)
{
    if (n < 1 || (size_t)n != vp9_picmap_rewrite_len(in)) abort();
    uint8_t again[300];
    size_t payload = len - in->descriptor_len;
    memcpy(again, out, (size_t)n);
    memcpy(again + n, pkt + in->descriptor_len, payload);
    static vp9_ss ss;
    memset(&ss, 0, sizeof ss);
    vp9_descriptor d;
    if (vp9_parse(&d, &ss, again, (size_t)n + payload) != 0) abort();
    if (d.descriptor_len != (size_t)n || d.has_picture_id != in->has_picture_id ||
        d.picture_id_15bit != in->has_picture_id || d.inter_picture != in->inter_picture ||
        d.has_layer != in->has_layer || d.flexible != in->flexible ||
        d.begin_of_frame != in->begin_of_frame || d.end_of_frame != in->end_of_frame ||
        d.has_ss != in->has_ss || d.not_ref_upper != in->not_ref_upper || d.tid != in->tid ||
        d.switching_up != in->switching_up || d.sid != in->sid ||
        d.inter_layer != in->inter_layer || d.has_tl0picidx != in->has_tl0picidx ||
        d.p_diff_count != in->p_diff_count ||
        memcmp(d.p_diff, in->p_diff, d.p_diff_count) != 0 || d.keyframe != in->keyframe)
        abort();
    if (in->has_ss && memcmp(&ss, in_ss, sizeof ss) != 0) abort();
    return d;
}

/* Forward (or drop, ctl bit 0: no effect on the map) one VP9 packet through m. */
static void vp9_packet(picmap *m, uint8_t ctl, const uint8_t *pkt, size_t len)
{
    static vp9_ss ss;
    memset(&ss, 0, sizeof ss);
    vp9_descriptor d;
    if (vp9_parse(&d, &ss, pkt, len) != 0) return;
    if (ctl & 2) picmap_resync(m);
    if (ctl & 1) return;
    picmap snapshot = *m;
    bool first_of_source = m->pic_resync && m->pic_started;
    uint16_t last = m->last_out_pic;
    uint8_t out[300];
    int n = vp9_picmap_rewrite(m, &d, pkt, out, sizeof out);
    if (n == J_ENOTFOUND) {
        if (!d.has_picture_id || memcmp(&snapshot, m, sizeof *m) != 0) abort();
        return;
    }
    vp9_descriptor r = check_vp9_rewrite(&d, &ss, pkt, len, out, n);
    if (d.has_picture_id && first_of_source && r.picture_id != ((last + 1u) & 0x7fffu))
        abort();
    if (vp9_picmap_rewrite_len(&d) == d.descriptor_len) {
        uint8_t copy[256];
        memcpy(copy, pkt, len);
        *m = snapshot;
        if (vp9_picmap_rewrite(m, &d, copy, copy, d.descriptor_len) != n) abort();
        if (memcmp(copy, out, (size_t)n) != 0) abort();
        if (memcmp(copy + n, pkt + n, len - (size_t)n) != 0) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    picmap m;
    picmap_init(&m);
    size_t off = 0;
    while (size - off >= 2) {
        uint8_t ctl = data[off];
        size_t len = data[off + 1];
        off += 2;
        if (len > size - off) len = size - off;
        const uint8_t *pkt = data + off;
        off += len;
        if (ctl & 4) {
            vp9_packet(&m, ctl, pkt, len);
            continue;
        }

        vp8_descriptor d;
        if (vp8_parse(&d, pkt, len) != 0) continue;
        if (ctl & 2) picmap_resync(&m);
        if (ctl & 1) {
            vp8_picmap_drop(&m, &d);
            continue;
        }
        picmap snapshot = m;
        bool first_of_source = m.pic_resync && m.pic_started;
        uint16_t last = m.last_out_pic;
        uint8_t out[8];
        int n = vp8_picmap_rewrite(&m, &d, out, sizeof out);
        if (n == J_ENOTFOUND) {
            if (!d.has_picture_id || memcmp(&snapshot, &m, sizeof m) != 0) abort();
            continue;
        }
        vp8_descriptor r = check_rewrite(&d, pkt, len, out, n);
        /* The first picture of a new source follows the last one sent. */
        if (d.has_picture_id && first_of_source && r.picture_id != ((last + 1u) & 0x7fffu))
            abort();
        if (vp8_picmap_rewrite_len(&d) == d.descriptor_len) {
            uint8_t copy[256];
            memcpy(copy, pkt, len);
            m = snapshot;
            if (vp8_picmap_rewrite(&m, &d, copy, d.descriptor_len) != n) abort();
            if (memcmp(copy, out, (size_t)n) != 0) abort();
            if (memcmp(copy + n, pkt + n, len - (size_t)n) != 0) abort();
        }
    }
    return 0;
}
