/* pli.c - picture loss indication. */
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtcp/rtcp_internal.h"

/* PLI (RFC 4585 §6.3.1): a PSFB (206) with FMT 1 and no FCI.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|  FMT=1  |   PT=PSFB=206 |          length=2             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  SSRC of packet sender                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  SSRC of media source                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Trailing FCI bytes, which RFC 4585 does not define for PLI, are ignored.
 */
#define PLI_LEN 12

int rtcp_pli_parse(rtcp_pli *out, const rtcp_header *h)
{
    rtcp_fb fb;
    int rc = rtcp_fb_parse_fmt(&fb, h, RTCP_TYPE_PSFB, RTCP_PSFB_PLI);
    if (rc < 0) return rc;
    out->sender_ssrc = fb.sender_ssrc;
    out->media_ssrc = fb.media_ssrc;
    return 0;
}

int rtcp_pli_size(const rtcp_pli *m)
{
    (void)m;
    return PLI_LEN;
}

int rtcp_pli_write(const rtcp_pli *m, uint8_t *buf, size_t cap)
{
    if (cap < PLI_LEN) return J_ESHORTBUF;
    rtcp_fb_write_head_unsafe(buf, RTCP_PSFB_PLI, RTCP_TYPE_PSFB, PLI_LEN, m->sender_ssrc,
                              m->media_ssrc);
    return PLI_LEN;
}
