/* bye.c - goodbye packets. */
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtcp/rtcp_internal.h"

/* BYE (RFC 3550 §6.6):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|    SC   |   PT=BYE=203  |             length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           SSRC/CSRC                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * :                              ...                              :
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |     length    |               reason for leaving            ... (opt)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int rtcp_bye_parse(rtcp_bye *out, const rtcp_header *h)
{
    if (h->type != RTCP_TYPE_BYE) return J_EINVAL;
    size_t ssrcs = (size_t)h->count * 4;
    if (ssrcs > h->body_len) return J_EMALFORMED;
    out->ssrc_count = h->count;
    out->ssrcs = NULL;
    out->ssrcs_raw = h->body;
    out->reason = NULL;
    out->reason_len = 0;
    size_t rest = h->body_len - ssrcs;
    if (rest > 0) {
        const uint8_t *r = h->body + ssrcs;
        if (rest - 1 < r[0]) return J_EMALFORMED;
        /* A zero length is what padding after the SSRCs looks like: no reason. */
        if (r[0] > 0) {
            out->reason = r + 1;
            out->reason_len = r[0];
        }
    }
    return 0;
}

uint32_t rtcp_bye_ssrc(const rtcp_bye *m, unsigned i)
{
    return m->ssrcs ? m->ssrcs[i] : rd_be32(m->ssrcs_raw + (size_t)i * 4);
}

int rtcp_bye_size(const rtcp_bye *m)
{
    if (m->ssrc_count > RTCP_MAX_COUNT) return J_EINVAL;
    if (m->ssrc_count > 0 && !m->ssrcs && !m->ssrcs_raw) return J_EINVAL;
    if (m->reason_len > 0 && !m->reason) return J_EINVAL;
    size_t size = RTCP_HEADER_LEN + (size_t)m->ssrc_count * 4;
    if (m->reason_len > 0) size += (1 + (size_t)m->reason_len + 3) & ~(size_t)3;
    return (int)size;
}

int rtcp_bye_write(const rtcp_bye *m, uint8_t *buf, size_t cap)
{
    int size = rtcp_bye_size(m);
    if (size < 0) return size;
    if ((size_t)size > cap) return J_ESHORTBUF;
    rtcp_write_header_unsafe(buf, m->ssrc_count, RTCP_TYPE_BYE, (size_t)size);
    uint8_t *p = buf + RTCP_HEADER_LEN;
    for (unsigned i = 0; i < m->ssrc_count; i++, p += 4) wr_be32(p, rtcp_bye_ssrc(m, i));
    if (m->reason_len > 0) {
        p[0] = m->reason_len;
        memcpy(p + 1, m->reason, m->reason_len);
        p += 1 + m->reason_len;
        memset(p, 0, (size_t)(buf + size - p));
    }
    return size;
}
