/* nack.c - generic negative acknowledgements. */
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtcp/rtcp_internal.h"

/* Generic NACK (RFC 4585 §6.2.1): an RTPFB (205) with FMT 1 whose FCI is one
 * or more 4-byte items:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            PID                |             BLP               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * PID is a lost sequence number; bit i of BLP (LSB = bit 0) marks PID+i+1 as
 * lost too, modulo 2^16.
 */
#define NACK_ITEM_LEN 4
#define NACK_MAX_ITEMS ((RTCP_MAX_PACKET_LEN - 12) / NACK_ITEM_LEN)

int rtcp_nack_parse(rtcp_nack *out, const rtcp_header *h)
{
    rtcp_fb fb;
    int rc = rtcp_fb_parse_fmt(&fb, h, RTCP_TYPE_RTPFB, RTCP_RTPFB_NACK);
    if (rc < 0) return rc;
    /* At least one item, and no partial item (possible when padding leaves an
     * odd body). */
    if (fb.fci_len == 0 || fb.fci_len % NACK_ITEM_LEN != 0) return J_EMALFORMED;
    out->sender_ssrc = fb.sender_ssrc;
    out->media_ssrc = fb.media_ssrc;
    out->item_count = fb.fci_len / NACK_ITEM_LEN;
    out->items_raw = fb.fci;
    out->lost = NULL;
    out->lost_count = 0;
    return 0;
}

void rtcp_nack_item(const rtcp_nack *m, size_t i, uint16_t *pid, uint16_t *blp)
{
    const uint8_t *p = m->items_raw + i * NACK_ITEM_LEN;
    *pid = rd_be16(p);
    *blp = rd_be16(p + 2);
}

void rtcp_nack_iter_init(rtcp_nack_iter *it, const rtcp_nack *m)
{
    it->p = m->items_raw;
    it->items_left = m->items_raw ? m->item_count : 0;
    it->pid = 0;
    it->blp = 0;
    it->bit = 16; /* forces loading the first item */
}

bool rtcp_nack_next(rtcp_nack_iter *it, uint16_t *seq)
{
    for (;;) {
        if (it->bit < 0) {
            it->bit = 0;
            *seq = it->pid;
            return true;
        }
        while (it->bit < 16) {
            int b = it->bit++;
            if (it->blp & (1u << b)) {
                *seq = (uint16_t)(it->pid + b + 1);
                return true;
            }
        }
        if (it->items_left == 0) return false;
        it->pid = rd_be16(it->p);
        it->blp = rd_be16(it->p + 2);
        it->p += NACK_ITEM_LEN;
        it->items_left--;
        it->bit = -1;
    }
}

int rtcp_nack_expand(const rtcp_nack *m, uint16_t *out, size_t cap)
{
    rtcp_nack_iter it;
    rtcp_nack_iter_init(&it, m);
    size_t n = 0;
    uint16_t seq;
    while (rtcp_nack_next(&it, &seq)) {
        if (n == cap) return J_ESHORTBUF;
        out[n++] = seq;
    }
    /* item_count <= 65533 so n <= 17 * 65533 fits an int. */
    return (int)n;
}

/* Packs the lost list into items; writes them to out when non-NULL. Returns
 * the number of items. A sequence number within 1..16 after the current PID
 * joins its BLP (the uint16_t difference handles 65535 -> 0); anything else
 * opens a new item. */
static size_t nack_pack(const uint16_t *lost, size_t count, uint8_t *out)
{
    size_t items = 0;
    uint16_t pid = 0, blp = 0;
    for (size_t i = 0; i < count; i++) {
        uint16_t d = (uint16_t)(lost[i] - pid);
        if (items > 0 && d == 0) continue;
        if (items > 0 && d <= 16) {
            blp |= (uint16_t)(1u << (d - 1));
            continue;
        }
        if (items > 0 && out) {
            wr_be16(out + (items - 1) * NACK_ITEM_LEN, pid);
            wr_be16(out + (items - 1) * NACK_ITEM_LEN + 2, blp);
        }
        items++;
        pid = lost[i];
        blp = 0;
    }
    if (items > 0 && out) {
        wr_be16(out + (items - 1) * NACK_ITEM_LEN, pid);
        wr_be16(out + (items - 1) * NACK_ITEM_LEN + 2, blp);
    }
    return items;
}

static size_t nack_item_count(const rtcp_nack *m)
{
    if (m->lost) return nack_pack(m->lost, m->lost_count, NULL);
    return m->items_raw ? m->item_count : 0;
}

int rtcp_nack_size(const rtcp_nack *m)
{
    size_t items = nack_item_count(m);
    if (items == 0 || items > NACK_MAX_ITEMS) return J_EINVAL;
    return (int)(12 + items * NACK_ITEM_LEN);
}

int rtcp_nack_write(const rtcp_nack *m, uint8_t *buf, size_t cap)
{
    int size = rtcp_nack_size(m);
    if (size < 0) return size;
    if ((size_t)size > cap) return J_ESHORTBUF;
    rtcp_fb_write_head_unsafe(buf, RTCP_RTPFB_NACK, RTCP_TYPE_RTPFB, (size_t)size,
                              m->sender_ssrc, m->media_ssrc);
    if (m->lost)
        nack_pack(m->lost, m->lost_count, buf + 12);
    else
        memcpy(buf + 12, m->items_raw, (size_t)size - 12);
    return size;
}
