/* rtp.c - RTP packet parsing and writing (RFC 3550 §5.1) with RFC 8285
 * header extensions, plus sequence/timestamp wraparound helpers.
 */
#include "rtp/rtp.h"

#include <string.h>

#include "core/bytes.h"
#include "core/err.h"

/* RFC 3550 §5.1 fixed header, followed by the optional extension (§5.3.1):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           timestamp                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           synchronization source (SSRC) identifier            |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |            contributing source (CSRC) identifiers             |
 * |                             ....                              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      defined by profile       |           length              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  header extension (length words)              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 payload ...   |  padding ... | padding count  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The padding count (last byte) includes itself, so it is at least 1.
 */
int rtp_parse(rtp_pkt *out, const uint8_t *buf, size_t len)
{
    if (len < RTP_HEADER_MIN) return J_ESHORT;
    if ((buf[0] >> 6) != RTP_VERSION) return J_EMALFORMED;

    rtp_pkt p;
    memset(&p, 0, sizeof p);
    p.buf = buf;
    p.len = len;
    p.has_padding = (buf[0] & 0x20) != 0;
    p.has_ext = (buf[0] & 0x10) != 0;
    p.csrc_count = buf[0] & 0x0f;
    p.marker = (buf[1] & 0x80) != 0;
    p.payload_type = buf[1] & 0x7f;
    p.seq = rd_be16(buf + 2);
    p.timestamp = rd_be32(buf + 4);
    p.ssrc = rd_be32(buf + 8);

    size_t off = RTP_HEADER_MIN;
    size_t csrc_bytes = (size_t)p.csrc_count * 4;
    if (len - off < csrc_bytes) return J_ESHORT;
    p.csrcs = p.csrc_count ? buf + off : NULL;
    off += csrc_bytes;

    p.ext_form = RTP_EXT_NONE;
    if (p.has_ext) {
        if (len - off < RTP_EXT_HEADER_LEN) return J_ESHORT;
        p.ext_profile = rd_be16(buf + off);
        p.ext_len = (size_t)rd_be16(buf + off + 2) * 4;
        off += RTP_EXT_HEADER_LEN;
        if (len - off < p.ext_len) return J_ESHORT;
        p.ext = buf + off;
        off += p.ext_len;
        if (p.ext_profile == RTP_EXT_PROFILE_ONE_BYTE)
            p.ext_form = RTP_EXT_ONE_BYTE;
        else if ((p.ext_profile & RTP_EXT_PROFILE_TWO_BYTE_MASK) == RTP_EXT_PROFILE_TWO_BYTE)
            p.ext_form = RTP_EXT_TWO_BYTE;
        else
            p.ext_form = RTP_EXT_OTHER;
    }
    p.header_len = off;

    size_t rest = len - off;
    if (p.has_padding) {
        /* The count byte itself must exist after the header, be non-zero
         * (it counts itself) and not reach back into the header. */
        if (rest == 0) return J_EMALFORMED;
        uint8_t pad = buf[len - 1];
        if (pad == 0 || pad > rest) return J_EMALFORMED;
        p.padding_len = pad;
        rest -= pad;
    }
    p.payload = buf + off;
    p.payload_len = rest;

    *out = p;
    return 0;
}

uint32_t rtp_csrc(const rtp_pkt *p, size_t i)
{
    return rd_be32(p->csrcs + 4 * i);
}

void rtp_ext_iter_init(rtp_ext_iter *it, const rtp_pkt *p)
{
    it->form = p->ext_form;
    if (p->ext_form == RTP_EXT_ONE_BYTE || p->ext_form == RTP_EXT_TWO_BYTE) {
        it->pos = p->ext;
        it->end = p->ext + p->ext_len;
    } else {
        it->pos = NULL;
        it->end = NULL;
    }
}

/* RFC 8285 §4.2 one-byte element and §4.3 two-byte element:
 *
 *  0 1 2 3 4 5 6 7          0                   1
 * +-+-+-+-+-+-+-+-+        0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 * |  ID   |  len  |       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * +-+-+-+-+-+-+-+-+       |       ID      |     length    |
 * then len+1 data bytes   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *                         then length data bytes (may be 0)
 *
 * In both forms a zero byte where an element would start is padding. In the
 * one-byte form ID 15 is reserved: processing of the block stops there and
 * only the elements before it count.
 */
int rtp_ext_iter_next(rtp_ext_iter *it, rtp_ext_elem *out)
{
    if (!it->pos) return 0;
    while (it->pos < it->end) {
        size_t avail = (size_t)(it->end - it->pos);
        uint8_t first = it->pos[0];
        if (it->form == RTP_EXT_ONE_BYTE) {
            uint8_t id = first >> 4;
            if (id == 0) {  /* padding byte */
                it->pos++;
                continue;
            }
            if (id == 15) break;
            size_t elen = (size_t)(first & 0x0f) + 1;
            if (avail - 1 < elen) goto malformed;
            out->id = id;
            out->data = it->pos + 1;
            out->len = elen;
            it->pos += 1 + elen;
            return 1;
        }
        /* two-byte form */
        if (first == 0) {  /* padding byte */
            it->pos++;
            continue;
        }
        if (avail < 2) goto malformed;
        size_t elen = it->pos[1];
        if (avail - 2 < elen) goto malformed;
        out->id = first;
        out->data = it->pos + 2;
        out->len = elen;
        it->pos += 2 + elen;
        return 1;
    }
    it->pos = NULL;
    return 0;

malformed:
    it->pos = NULL;
    return J_EMALFORMED;
}

int rtp_ext_find(const rtp_pkt *p, uint8_t id, const uint8_t **data, size_t *len)
{
    rtp_ext_iter it;
    rtp_ext_elem e;
    int rc;
    rtp_ext_iter_init(&it, p);
    while ((rc = rtp_ext_iter_next(&it, &e)) > 0) {
        if (e.id == id) {
            *data = e.data;
            *len = e.len;
            return 0;
        }
    }
    return rc < 0 ? rc : J_ENOTFOUND;
}

int rtp_write_header(const rtp_header_out *h, const rtp_ext_elem *exts, size_t n_exts,
                     uint8_t *buf, size_t cap)
{
    if (h->payload_type > 127 || h->csrc_count > RTP_MAX_CSRC) return J_EINVAL;
    if (h->csrc_count && !h->csrcs) return J_EINVAL;

    /* Pick the extension form and size the block before writing anything. */
    bool one_byte = true;
    size_t ext_data = 0;
    for (size_t i = 0; i < n_exts; i++) {
        const rtp_ext_elem *e = &exts[i];
        if (e->id == 0 || e->len > RTP_EXT_TWO_BYTE_MAX_LEN) return J_EINVAL;
        if (e->len && !e->data) return J_EINVAL;
        if (e->id > RTP_EXT_ONE_BYTE_MAX_ID || e->len == 0 || e->len > RTP_EXT_ONE_BYTE_MAX_LEN)
            one_byte = false;
    }
    for (size_t i = 0; i < n_exts; i++) ext_data += (one_byte ? 1 : 2) + exts[i].len;
    size_t ext_words = (ext_data + 3) / 4;
    if (ext_words > UINT16_MAX) return J_EINVAL;

    size_t total = RTP_HEADER_MIN + (size_t)h->csrc_count * 4;
    if (n_exts) total += RTP_EXT_HEADER_LEN + ext_words * 4;
    if (total > cap) return J_ESHORTBUF;

    buf[0] = (uint8_t)((RTP_VERSION << 6) | (h->padding ? 0x20 : 0) | (n_exts ? 0x10 : 0) |
                       h->csrc_count);
    buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->payload_type);
    wr_be16(buf + 2, h->seq);
    wr_be32(buf + 4, h->timestamp);
    wr_be32(buf + 8, h->ssrc);
    size_t off = RTP_HEADER_MIN;
    for (size_t i = 0; i < h->csrc_count; i++, off += 4) wr_be32(buf + off, h->csrcs[i]);

    if (n_exts) {
        wr_be16(buf + off, one_byte ? RTP_EXT_PROFILE_ONE_BYTE : RTP_EXT_PROFILE_TWO_BYTE);
        wr_be16(buf + off + 2, (uint16_t)ext_words);
        off += RTP_EXT_HEADER_LEN;
        size_t block_end = off + ext_words * 4;
        for (size_t i = 0; i < n_exts; i++) {
            const rtp_ext_elem *e = &exts[i];
            if (one_byte) {
                buf[off++] = (uint8_t)((e->id << 4) | (e->len - 1));
            } else {
                buf[off++] = e->id;
                buf[off++] = (uint8_t)e->len;
            }
            if (e->len) memcpy(buf + off, e->data, e->len);
            off += e->len;
        }
        /* Zero bytes are padding in both forms. */
        memset(buf + off, 0, block_end - off);
        off = block_end;
    }
    return (int)off;
}

int rtp_write_packet(const rtp_header_out *h, const rtp_ext_elem *exts, size_t n_exts,
                     const uint8_t *payload, size_t payload_len, uint8_t *buf, size_t cap)
{
    if (payload_len && !payload) return J_EINVAL;
    int hl = rtp_write_header(h, exts, n_exts, buf, cap);
    if (hl < 0) return hl;
    if (payload_len > cap - (size_t)hl || payload_len > (size_t)INT32_MAX - (size_t)hl)
        return J_ESHORTBUF;
    if (payload_len) memcpy(buf + hl, payload, payload_len);
    return (int)((size_t)hl + payload_len);
}

int rtp_set_seq(uint8_t *buf, size_t len, uint16_t seq)
{
    if (len < RTP_HEADER_MIN) return J_ESHORT;
    wr_be16(buf + 2, seq);
    return 0;
}

int rtp_set_timestamp(uint8_t *buf, size_t len, uint32_t ts)
{
    if (len < RTP_HEADER_MIN) return J_ESHORT;
    wr_be32(buf + 4, ts);
    return 0;
}

int rtp_set_ssrc(uint8_t *buf, size_t len, uint32_t ssrc)
{
    if (len < RTP_HEADER_MIN) return J_ESHORT;
    wr_be32(buf + 8, ssrc);
    return 0;
}

int rtp_set_payload_type(uint8_t *buf, size_t len, uint8_t pt)
{
    if (len < RTP_HEADER_MIN) return J_ESHORT;
    if (pt > 127) return J_EINVAL;
    buf[1] = (uint8_t)((buf[1] & 0x80) | pt);
    return 0;
}

int rtp_set_marker(uint8_t *buf, size_t len, bool marker)
{
    if (len < RTP_HEADER_MIN) return J_ESHORT;
    buf[1] = (uint8_t)((buf[1] & 0x7f) | (marker ? 0x80 : 0));
    return 0;
}

/* The unsigned difference is reduced to the signed range by hand because
 * converting an out-of-range value to a signed type is implementation
 * defined in C17. */
int32_t rtp_seq_diff(uint16_t a, uint16_t b)
{
    uint16_t d = (uint16_t)(a - b);
    return d >= 0x8000 ? (int32_t)d - 0x10000 : (int32_t)d;
}

bool rtp_seq_newer(uint16_t a, uint16_t b)
{
    return rtp_seq_diff(a, b) > 0;
}

int32_t rtp_ts_diff(uint32_t a, uint32_t b)
{
    uint32_t d = a - b;
    if (d < 0x80000000u) return (int32_t)d;
    return (int32_t)((int64_t)d - 0x100000000LL);
}

bool rtp_ts_newer(uint32_t a, uint32_t b)
{
    return rtp_ts_diff(a, b) > 0;
}
