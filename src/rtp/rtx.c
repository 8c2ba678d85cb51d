/* rtx.c - RTX retransmission payload format (RFC 4588 §4): wrap and unwrap. */
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "rtp/rtp.h"

#define RTX_OSN_LEN 2

int rtp_rtx_wrap(const rtp_header_out *h, const rtp_ext_elem *exts, size_t n_exts, uint16_t osn,
                 const uint8_t *payload, size_t payload_len, uint8_t *buf, size_t cap)
{
    if (payload_len && !payload) return J_EINVAL;
    int hl = rtp_write_header(h, exts, n_exts, buf, cap);
    if (hl < 0) return hl;
    size_t room = cap - (size_t)hl;
    if (room < RTX_OSN_LEN || payload_len > room - RTX_OSN_LEN ||
        payload_len > (size_t)INT32_MAX - (size_t)hl - RTX_OSN_LEN)
        return J_ESHORTBUF;
    wr_be16(buf + hl, osn);
    if (payload_len) memcpy(buf + hl + RTX_OSN_LEN, payload, payload_len);
    return (int)((size_t)hl + RTX_OSN_LEN + payload_len);
}

int rtp_rtx_unwrap(uint8_t *buf, rtp_pkt *pkt, uint8_t apt, uint32_t media_ssrc)
{
    if (pkt->buf != buf || apt > 127) return J_EINVAL;
    if (pkt->payload_len < RTX_OSN_LEN) return J_EMALFORMED;
    uint16_t osn = rd_be16(pkt->payload);
    size_t payload_len = pkt->payload_len - RTX_OSN_LEN;
    uint8_t *payload = buf + pkt->header_len;
    memmove(payload, payload + RTX_OSN_LEN, payload_len);
    size_t len = pkt->header_len + payload_len;
    buf[0] &= (uint8_t)~0x20; /* the padding, if any, was cut off with the tail */
    rtp_set_payload_type(buf, len, apt);
    rtp_set_seq(buf, len, osn);
    rtp_set_ssrc(buf, len, media_ssrc);
    return rtp_parse(pkt, buf, len);
}
