/* fir.c - full intra request. */
#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtcp/rtcp_internal.h"

/* FIR (RFC 5104 §4.3.1): a PSFB (206) with FMT 4; the media source SSRC is
 * unused (0) and the FCI holds one or more 8-byte entries:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                              SSRC                             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Seq nr.       |    Reserved                                   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
#define FIR_ENTRY_LEN 8

int rtcp_fir_parse(rtcp_fir *out, const rtcp_header *h)
{
    rtcp_fb fb;
    int rc = rtcp_fb_parse_fmt(&fb, h, RTCP_TYPE_PSFB, RTCP_PSFB_FIR);
    if (rc < 0) return rc;
    if (fb.fci_len == 0 || fb.fci_len % FIR_ENTRY_LEN != 0) return J_EMALFORMED;
    out->sender_ssrc = fb.sender_ssrc;
    out->media_ssrc = fb.media_ssrc;
    out->entry_count = fb.fci_len / FIR_ENTRY_LEN;
    out->entries = NULL;
    out->entries_raw = fb.fci;
    return 0;
}

rtcp_fir_entry rtcp_fir_entry_get(const rtcp_fir *m, size_t i)
{
    if (m->entries) return m->entries[i];
    const uint8_t *p = m->entries_raw + i * FIR_ENTRY_LEN;
    rtcp_fir_entry e = {.ssrc = rd_be32(p), .seq_nr = p[4]};
    return e;
}

int rtcp_fir_size(const rtcp_fir *m)
{
    if (m->entry_count == 0 || (!m->entries && !m->entries_raw)) return J_EINVAL;
    if (m->entry_count > (RTCP_MAX_PACKET_LEN - 12) / FIR_ENTRY_LEN) return J_EINVAL;
    return (int)(12 + m->entry_count * FIR_ENTRY_LEN);
}

int rtcp_fir_write(const rtcp_fir *m, uint8_t *buf, size_t cap)
{
    int size = rtcp_fir_size(m);
    if (size < 0) return size;
    if ((size_t)size > cap) return J_ESHORTBUF;
    rtcp_fb_write_head_unsafe(buf, RTCP_PSFB_FIR, RTCP_TYPE_PSFB, (size_t)size, m->sender_ssrc,
                              0);
    uint8_t *p = buf + 12;
    for (size_t i = 0; i < m->entry_count; i++, p += FIR_ENTRY_LEN) {
        rtcp_fir_entry e = rtcp_fir_entry_get(m, i);
        wr_be32(p, e.ssrc);
        p[4] = e.seq_nr;
        p[5] = p[6] = p[7] = 0;
    }
    return size;
}
