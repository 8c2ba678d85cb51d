/* rtcp.c - RTCP common header, compound iteration, feedback header, time
 * conversions. */
#include "rtcp/rtcp.h"

#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp_internal.h"

/* Common header (RFC 3550 §6.4.1):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|  count  |      PT       |             length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * length is the packet size in 32-bit words minus one. With P set, the last
 * octet of the packet counts the padding octets, itself included.
 */
int rtcp_header_parse(rtcp_header *out, const uint8_t *buf, size_t len)
{
    if (len < RTCP_HEADER_LEN) return J_ESHORT;
    if ((buf[0] >> 6) != 2) return J_EMALFORMED;
    uint16_t length = rd_be16(buf + 2);
    size_t pkt_len = ((size_t)length + 1) * 4;
    if (pkt_len > len) return J_EMALFORMED;

    size_t body_len = pkt_len - RTCP_HEADER_LEN;
    bool padding = (buf[0] & 0x20) != 0;
    if (padding) {
        /* A zero count would contradict the P bit, and the padding may not eat
         * into the header. */
        uint8_t pad = buf[pkt_len - 1];
        if (pad == 0 || pad > body_len) return J_EMALFORMED;
        body_len -= pad;
    }
    out->version = 2;
    out->padding = padding;
    out->count = buf[0] & 0x1f;
    out->type = buf[1];
    out->length = length;
    out->pkt = buf;
    out->pkt_len = pkt_len;
    out->body = buf + RTCP_HEADER_LEN;
    out->body_len = body_len;
    return (int)pkt_len;
}

void rtcp_iter_init(rtcp_iter *it, const uint8_t *buf, size_t len)
{
    it->buf = buf;
    it->len = len;
    it->off = 0;
    it->err = 0;
}

int rtcp_iter_next(rtcp_iter *it, rtcp_header *out)
{
    if (it->err < 0) return it->err;
    if (it->off >= it->len) return 0;
    int n = rtcp_header_parse(out, it->buf + it->off, it->len - it->off);
    if (n < 0) {
        /* Inside a compound, a short tail is as broken as a lying length. */
        it->err = J_EMALFORMED;
        return it->err;
    }
    it->off += (size_t)n;
    return 1;
}

bool rtcp_is_rtcp(const uint8_t *buf, size_t len)
{
    return len >= RTCP_HEADER_LEN && (buf[0] >> 6) == 2 && buf[1] >= 192 && buf[1] <= 223;
}

/* ---- time ---------------------------------------------------------------- */

/* Seconds from 1900-01-01 (NTP era 0) to 1970-01-01. */
#define NTP_UNIX_OFFSET 2208988800ULL
#define US_PER_S 1000000ULL

uint64_t rtcp_ntp_from_us(uint64_t unix_us)
{
    uint64_t secs = unix_us / US_PER_S + NTP_UNIX_OFFSET;
    /* < 2^20 shifted by 32 stays below 2^52: no overflow. */
    uint64_t frac = ((unix_us % US_PER_S) << 32) / US_PER_S;
    return (secs << 32) | frac;
}

uint64_t rtcp_ntp_to_us(uint64_t ntp)
{
    uint64_t secs = ntp >> 32;
    uint64_t frac = ntp & 0xffffffffULL;
    /* Era 1 starts in 2036; its small second counts fall below the offset. */
    if (secs < NTP_UNIX_OFFSET) secs += 1ULL << 32;
    secs -= NTP_UNIX_OFFSET;
    uint64_t us = (frac * US_PER_S + (1ULL << 31)) >> 32;
    return secs * US_PER_S + us;
}

uint32_t rtcp_ntp_compact(uint64_t ntp) { return (uint32_t)(ntp >> 16); }

uint32_t rtcp_compact_from_us(uint64_t duration_us)
{
    uint64_t secs = duration_us / US_PER_S;
    uint64_t frac = ((duration_us % US_PER_S) << 16) / US_PER_S;
    return (uint32_t)((secs << 16) | frac);
}

uint64_t rtcp_compact_to_us(uint32_t compact)
{
    uint64_t secs = compact >> 16;
    uint64_t frac = compact & 0xffffu;
    return secs * US_PER_S + ((frac * US_PER_S + 0x8000u) >> 16);
}

int64_t rtcp_rtt_us(uint32_t now_compact, uint32_t lsr, uint32_t dlsr)
{
    if (lsr == 0) return J_ENOTFOUND;
    uint32_t rtt = now_compact - lsr - dlsr; /* modulo 2^32 on purpose */
    if (rtt & 0x80000000u) return 0;         /* "negative": skew or bogus DLSR */
    return (int64_t)rtcp_compact_to_us(rtt);
}

/* ---- feedback header ----------------------------------------------------- */

/* Feedback message (RFC 4585 §6.1):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|   FMT   |       PT      |          length               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  SSRC of packet sender                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  SSRC of media source                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * :            Feedback Control Information (FCI)                 :
 */
int rtcp_fb_parse(rtcp_fb *out, const rtcp_header *h)
{
    if (h->type != RTCP_TYPE_RTPFB && h->type != RTCP_TYPE_PSFB) return J_EINVAL;
    if (h->body_len < 8) return J_EMALFORMED;
    out->fmt = h->count;
    out->sender_ssrc = rd_be32(h->body);
    out->media_ssrc = rd_be32(h->body + 4);
    out->fci = h->body + 8;
    out->fci_len = h->body_len - 8;
    return 0;
}

int rtcp_fb_parse_fmt(rtcp_fb *out, const rtcp_header *h, uint8_t type, uint8_t fmt)
{
    if (h->type != type || h->count != fmt) return J_EINVAL;
    return rtcp_fb_parse(out, h);
}

void rtcp_fb_write_head_unsafe(uint8_t *buf, uint8_t fmt, uint8_t type, size_t total_len,
                               uint32_t sender_ssrc, uint32_t media_ssrc)
{
    rtcp_write_header_unsafe(buf, fmt, type, total_len);
    wr_be32(buf + 4, sender_ssrc);
    wr_be32(buf + 8, media_ssrc);
}
