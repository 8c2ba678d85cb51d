/* xr.c - extended reports (RFC 3611): receiver reference time and DLRR, the pair that
 * gives a receiver-only party (Junction towards a publisher) its round-trip time. */
#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtcp/rtcp_internal.h"

/* XR (RFC 3611 §2): after the common header and the sender's SSRC, report blocks, each
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      BT       | type-specific |         block length          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * :             type-specific block contents                      :
 *
 * with block length the contents' size in 32-bit words. Receiver reference time (BT 4,
 * §4.4): length 2, a 64-bit NTP timestamp. DLRR (BT 5, §4.5): length 3n, n sub-blocks of
 * SSRC, last RR (LRR: the compact NTP of an RRTR received from that SSRC) and the delay
 * since it (DLRR, 1/65536 s).
 */
#define XR_BLOCK_HEADER_LEN 4
#define XR_RRTR_LEN (RTCP_HEADER_LEN + 4 + XR_BLOCK_HEADER_LEN + 8)
#define XR_DLRR_ITEM_LEN 12

int rtcp_xr_parse(rtcp_xr *out, const rtcp_header *h)
{
    if (h->type != RTCP_TYPE_XR) return J_EINVAL;
    if (h->body_len < 4) return J_EMALFORMED;
    const uint8_t *p = h->body + 4, *end = h->body + h->body_len;
    while (p < end) {
        if (end - p < XR_BLOCK_HEADER_LEN) return J_EMALFORMED;
        size_t len = (size_t)rd_be16(p + 2) * 4;
        if ((size_t)(end - p - XR_BLOCK_HEADER_LEN) < len) return J_EMALFORMED;
        p += XR_BLOCK_HEADER_LEN + len;
    }
    out->ssrc = rd_be32(h->body);
    out->blocks = h->body + 4;
    out->blocks_len = h->body_len - 4;
    return 0;
}

void rtcp_xr_iter_init(rtcp_xr_iter *it, const rtcp_xr *m)
{
    it->p = m->blocks;
    it->end = m->blocks + m->blocks_len;
}

bool rtcp_xr_next_block(rtcp_xr_iter *it, rtcp_xr_block *out)
{
    if (it->end - it->p < XR_BLOCK_HEADER_LEN) return false;
    size_t len = (size_t)rd_be16(it->p + 2) * 4;
    if ((size_t)(it->end - it->p - XR_BLOCK_HEADER_LEN) < len) return false;
    out->type = it->p[0];
    out->type_specific = it->p[1];
    out->body = it->p + XR_BLOCK_HEADER_LEN;
    out->body_len = len;
    it->p += XR_BLOCK_HEADER_LEN + len;
    return true;
}

size_t rtcp_xr_dlrr_count(const rtcp_xr_block *b)
{
    return b->type == RTCP_XR_DLRR ? b->body_len / XR_DLRR_ITEM_LEN : 0;
}

rtcp_xr_dlrr_item rtcp_xr_dlrr_get(const rtcp_xr_block *b, size_t i)
{
    const uint8_t *p = b->body + i * XR_DLRR_ITEM_LEN;
    return (rtcp_xr_dlrr_item){.ssrc = rd_be32(p), .lrr = rd_be32(p + 4), .dlrr = rd_be32(p + 8)};
}

int rtcp_xr_rrtr_write(const rtcp_xr_rrtr *m, uint8_t *buf, size_t cap)
{
    if (cap < XR_RRTR_LEN) return J_ESHORTBUF;
    rtcp_write_header_unsafe(buf, 0, RTCP_TYPE_XR, XR_RRTR_LEN);
    wr_be32(buf + 4, m->ssrc);
    buf[8] = RTCP_XR_RRTR;
    buf[9] = 0;
    wr_be16(buf + 10, 2);
    wr_be64(buf + 12, m->ntp);
    return XR_RRTR_LEN;
}
