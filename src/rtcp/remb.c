/* remb.c - receiver estimated maximum bitrate. */
#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtcp/rtcp_internal.h"

/* REMB (draft-alvestrand-rmcat-remb-03 §2.2): a PSFB (206) with FMT 15
 * (application layer feedback); the media source SSRC is 0 and the FCI is:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Unique identifier 'R' 'E' 'M' 'B'                            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Num SSRC     | BR Exp    |  BR Mantissa                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   SSRC feedback                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  ...                                                          |
 *
 * bitrate = mantissa (18 bits) << exp (6 bits), in bits per second.
 */
#define REMB_MANTISSA_MAX 0x3ffffu

int rtcp_remb_parse(rtcp_remb *out, const rtcp_header *h)
{
    rtcp_fb fb;
    int rc = rtcp_fb_parse_fmt(&fb, h, RTCP_TYPE_PSFB, RTCP_PSFB_ALFB);
    if (rc < 0) return rc;
    const uint8_t *f = fb.fci;
    /* Other application layer feedback is legitimate, just not ours. */
    if (fb.fci_len < 4 || f[0] != 'R' || f[1] != 'E' || f[2] != 'M' || f[3] != 'B')
        return J_EUNSUPPORTED;
    if (fb.fci_len < 8) return J_EMALFORMED;
    uint8_t num = f[4];
    if ((size_t)num * 4 > fb.fci_len - 8) return J_EMALFORMED;
    unsigned exp = f[5] >> 2;
    uint64_t mantissa = rd_be24(f + 5) & REMB_MANTISSA_MAX;
    /* exp reaches 63: saturate rather than shift bits out. */
    if (mantissa != 0 && mantissa > (UINT64_MAX >> exp))
        out->bitrate_bps = UINT64_MAX;
    else
        out->bitrate_bps = mantissa << exp;
    out->sender_ssrc = fb.sender_ssrc;
    out->ssrc_count = num;
    out->ssrcs = NULL;
    out->ssrcs_raw = f + 8;
    return 0;
}

uint32_t rtcp_remb_ssrc(const rtcp_remb *m, unsigned i)
{
    return m->ssrcs ? m->ssrcs[i] : rd_be32(m->ssrcs_raw + (size_t)i * 4);
}

int rtcp_remb_size(const rtcp_remb *m)
{
    if (m->ssrc_count > 0 && !m->ssrcs && !m->ssrcs_raw) return J_EINVAL;
    return (int)(12 + 8 + (size_t)m->ssrc_count * 4);
}

int rtcp_remb_write(const rtcp_remb *m, uint8_t *buf, size_t cap)
{
    int size = rtcp_remb_size(m);
    if (size < 0) return size;
    if ((size_t)size > cap) return J_ESHORTBUF;
    /* Smallest exponent whose mantissa fits 18 bits: the value is rounded
     * down, never announcing more than the estimate. */
    unsigned exp = 0;
    while ((m->bitrate_bps >> exp) > REMB_MANTISSA_MAX) exp++;
    uint32_t mantissa = (uint32_t)(m->bitrate_bps >> exp);
    rtcp_fb_write_head_unsafe(buf, RTCP_PSFB_ALFB, RTCP_TYPE_PSFB, (size_t)size, m->sender_ssrc,
                              0);
    uint8_t *f = buf + 12;
    f[0] = 'R';
    f[1] = 'E';
    f[2] = 'M';
    f[3] = 'B';
    f[4] = m->ssrc_count;
    wr_be24(f + 5, ((uint32_t)exp << 18) | mantissa);
    for (unsigned i = 0; i < m->ssrc_count; i++) wr_be32(f + 8 + 4 * (size_t)i, rtcp_remb_ssrc(m, i));
    return size;
}
