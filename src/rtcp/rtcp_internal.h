/* rtcp_internal.h - helpers shared by the rtcp module's files (not public). */
#ifndef J_RTCP_INTERNAL_H
#define J_RTCP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "rtcp/rtcp.h"

/* Largest packet the 16-bit length field can describe. */
#define RTCP_MAX_PACKET_LEN ((size_t)65536 * 4)

/* rtcp_write_header_unsafe - the 4-byte common header of a packet of total_len
 * bytes (a multiple of 4, <= RTCP_MAX_PACKET_LEN, checked by the caller), no
 * padding. */
static inline void rtcp_write_header_unsafe(uint8_t *buf, uint8_t count, uint8_t type,
                                            size_t total_len)
{
    buf[0] = (uint8_t)(0x80 | (count & 0x1f));
    buf[1] = type;
    buf[2] = (uint8_t)(((total_len / 4) - 1) >> 8);
    buf[3] = (uint8_t)((total_len / 4) - 1);
}

/* rtcp_rb_write_unsafe - one 24-byte report block at p. */
void rtcp_rb_write_unsafe(uint8_t *p, const rtcp_report_block *rb);

/* rtcp_reports_size - the size of an SR or RR whose body is fixed_len bytes (SSRC, sender
 * info) followed by count report blocks (from reports, else reports_raw) and a profile
 * extension; J_EINVAL when the fields are inconsistent or the packet would be too long. */
int rtcp_reports_size(size_t fixed_len, uint8_t count, const rtcp_report_block *reports,
                      const uint8_t *reports_raw, const uint8_t *ext, size_t ext_len);

/* rtcp_reports_write_unsafe - the report blocks and extension at p (sizes already checked). */
void rtcp_reports_write_unsafe(uint8_t *p, uint8_t count, const rtcp_report_block *reports,
                               const uint8_t *reports_raw, const uint8_t *ext, size_t ext_len);

/* rtcp_fb_parse_fmt - rtcp_fb_parse restricted to one type and FMT. */
int rtcp_fb_parse_fmt(rtcp_fb *out, const rtcp_header *h, uint8_t type, uint8_t fmt);

/* rtcp_fb_write_head_unsafe - header plus sender and media SSRC (12 bytes). */
void rtcp_fb_write_head_unsafe(uint8_t *buf, uint8_t fmt, uint8_t type, size_t total_len,
                               uint32_t sender_ssrc, uint32_t media_ssrc);

#endif
