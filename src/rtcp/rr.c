/* rr.c - report blocks (shared by SR and RR) and the receiver report. */
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtcp/rtcp_internal.h"

/* Report block (RFC 3550 §6.4.1), 24 bytes:
 *
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |                 SSRC_1 (SSRC of first source)                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | fraction lost |       cumulative number of packets lost       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           extended highest sequence number received           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      interarrival jitter                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         last SR (LSR)                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   delay since last SR (DLSR)                  |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 */
void rtcp_rb_iter_init(rtcp_rb_iter *it, const uint8_t *raw, unsigned count)
{
    it->p = raw;
    it->left = raw ? count : 0;
}

bool rtcp_rb_next(rtcp_rb_iter *it, rtcp_report_block *out)
{
    if (it->left == 0) return false;
    const uint8_t *p = it->p;
    uint32_t lost = rd_be24(p + 5);
    out->ssrc = rd_be32(p);
    out->fraction_lost = p[4];
    /* Sign-extend the 24-bit two's complement count without shifting signed
     * values. */
    out->cumulative_lost = (lost & 0x800000u) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
    out->ext_highest_seq = rd_be32(p + 8);
    out->jitter = rd_be32(p + 12);
    out->lsr = rd_be32(p + 16);
    out->dlsr = rd_be32(p + 20);
    it->p += RTCP_REPORT_BLOCK_LEN;
    it->left--;
    return true;
}

void rtcp_rb_write_unsafe(uint8_t *p, const rtcp_report_block *rb)
{
    /* The field is 24-bit signed: clamp instead of wrapping a huge count into
     * a negative one. */
    int32_t lost = rb->cumulative_lost;
    if (lost > 0x7fffff) lost = 0x7fffff;
    if (lost < -0x800000) lost = -0x800000;
    wr_be32(p, rb->ssrc);
    p[4] = rb->fraction_lost;
    wr_be24(p + 5, (uint32_t)lost & 0xffffffu);
    wr_be32(p + 8, rb->ext_highest_seq);
    wr_be32(p + 12, rb->jitter);
    wr_be32(p + 16, rb->lsr);
    wr_be32(p + 20, rb->dlsr);
}

/* Receiver report (RFC 3550 §6.4.2):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|    RC   |   PT=RR=201   |             length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     SSRC of packet sender                     |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * :                  RC report blocks, 24 bytes each              :
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |                  profile-specific extensions                  |
 */
int rtcp_rr_parse(rtcp_rr *out, const rtcp_header *h)
{
    if (h->type != RTCP_TYPE_RR) return J_EINVAL;
    if (h->body_len < 4) return J_EMALFORMED;
    size_t blocks = (size_t)h->count * RTCP_REPORT_BLOCK_LEN;
    if (blocks > h->body_len - 4) return J_EMALFORMED;
    out->ssrc = rd_be32(h->body);
    out->report_count = h->count;
    out->reports = NULL;
    out->reports_raw = h->body + 4;
    out->ext = h->body + 4 + blocks;
    out->ext_len = h->body_len - 4 - blocks;
    return 0;
}

int rtcp_reports_size(size_t fixed_len, uint8_t count, const rtcp_report_block *reports,
                      const uint8_t *reports_raw, const uint8_t *ext, size_t ext_len)
{
    if (count > RTCP_MAX_COUNT || ext_len % 4 != 0) return J_EINVAL;
    if (count > 0 && !reports && !reports_raw) return J_EINVAL;
    if (ext_len > 0 && !ext) return J_EINVAL;
    size_t size = RTCP_HEADER_LEN + fixed_len + (size_t)count * RTCP_REPORT_BLOCK_LEN + ext_len;
    if (size > RTCP_MAX_PACKET_LEN) return J_EINVAL;
    return (int)size;
}

void rtcp_reports_write_unsafe(uint8_t *p, uint8_t count, const rtcp_report_block *reports,
                               const uint8_t *reports_raw, const uint8_t *ext, size_t ext_len)
{
    for (unsigned i = 0; i < count; i++, p += RTCP_REPORT_BLOCK_LEN) {
        if (reports)
            rtcp_rb_write_unsafe(p, &reports[i]);
        else
            memcpy(p, reports_raw + (size_t)i * RTCP_REPORT_BLOCK_LEN, RTCP_REPORT_BLOCK_LEN);
    }
    if (ext_len) memcpy(p, ext, ext_len);
}

int rtcp_rr_size(const rtcp_rr *m)
{
    return rtcp_reports_size(4, m->report_count, m->reports, m->reports_raw, m->ext, m->ext_len);
}

int rtcp_rr_write(const rtcp_rr *m, uint8_t *buf, size_t cap)
{
    int size = rtcp_rr_size(m);
    if (size < 0) return size;
    if ((size_t)size > cap) return J_ESHORTBUF;
    rtcp_write_header_unsafe(buf, m->report_count, RTCP_TYPE_RR, (size_t)size);
    wr_be32(buf + 4, m->ssrc);
    rtcp_reports_write_unsafe(buf + 8, m->report_count, m->reports, m->reports_raw, m->ext,
                              m->ext_len);
    return size;
}
