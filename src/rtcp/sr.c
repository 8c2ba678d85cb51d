/* sr.c - sender report. */
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtcp/rtcp_internal.h"

/* Sender report (RFC 3550 §6.4.1):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|    RC   |   PT=SR=200   |             length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         SSRC of sender                        |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |              NTP timestamp, most significant word             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             NTP timestamp, least significant word             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         RTP timestamp                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     sender's packet count                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      sender's octet count                     |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * :                  RC report blocks, 24 bytes each              :
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |                  profile-specific extensions                  |
 */
#define SR_FIXED_LEN 24 /* SSRC + sender info */

int rtcp_sr_parse(rtcp_sr *out, const rtcp_header *h)
{
    if (h->type != RTCP_TYPE_SR) return J_EINVAL;
    if (h->body_len < SR_FIXED_LEN) return J_EMALFORMED;
    size_t blocks = (size_t)h->count * RTCP_REPORT_BLOCK_LEN;
    if (blocks > h->body_len - SR_FIXED_LEN) return J_EMALFORMED;
    const uint8_t *b = h->body;
    out->ssrc = rd_be32(b);
    out->ntp = rd_be64(b + 4);
    out->rtp_ts = rd_be32(b + 12);
    out->packet_count = rd_be32(b + 16);
    out->octet_count = rd_be32(b + 20);
    out->report_count = h->count;
    out->reports = NULL;
    out->reports_raw = b + SR_FIXED_LEN;
    out->ext = b + SR_FIXED_LEN + blocks;
    out->ext_len = h->body_len - SR_FIXED_LEN - blocks;
    return 0;
}

int rtcp_sr_size(const rtcp_sr *m)
{
    return rtcp_reports_size(SR_FIXED_LEN, m->report_count, m->reports, m->reports_raw, m->ext,
                             m->ext_len);
}

int rtcp_sr_write(const rtcp_sr *m, uint8_t *buf, size_t cap)
{
    int size = rtcp_sr_size(m);
    if (size < 0) return size;
    if ((size_t)size > cap) return J_ESHORTBUF;
    rtcp_write_header_unsafe(buf, m->report_count, RTCP_TYPE_SR, (size_t)size);
    wr_be32(buf + 4, m->ssrc);
    wr_be64(buf + 8, m->ntp);
    wr_be32(buf + 16, m->rtp_ts);
    wr_be32(buf + 20, m->packet_count);
    wr_be32(buf + 24, m->octet_count);
    rtcp_reports_write_unsafe(buf + RTCP_HEADER_LEN + SR_FIXED_LEN, m->report_count, m->reports,
                              m->reports_raw, m->ext, m->ext_len);
    return size;
}
