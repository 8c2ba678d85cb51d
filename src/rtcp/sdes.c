/* sdes.c - source description packets. */
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtcp/rtcp_internal.h"

/* SDES (RFC 3550 §6.5):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|    SC   |  PT=SDES=202  |             length            |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |                          SSRC/CSRC_1                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     type      |    length     |  text (length octets)        ...
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  ... more items ...   |   0   |  null padding to 32 bits      |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * :                          chunk 2 ...                          :
 *
 * Each chunk's item list ends with at least one null octet, and the chunk
 * (SSRC included) is padded with nulls to a multiple of 4 octets.
 */

/* Walk one chunk starting at p, bounded by end. Returns the end of the chunk
 * (after its padding) and sets *items_len, or NULL when it is broken. */
static const uint8_t *sdes_chunk_end(const uint8_t *p, const uint8_t *end, size_t *items_len)
{
    const uint8_t *start = p;
    if (end - p < 4) return NULL;
    p += 4;
    const uint8_t *items = p;
    for (;;) {
        if (p >= end) return NULL; /* no terminating null octet */
        if (*p == RTCP_SDES_END) break;
        if (end - p < 2) return NULL;
        uint8_t len = p[1];
        if ((size_t)(end - p - 2) < len) return NULL;
        p += 2 + (size_t)len;
    }
    *items_len = (size_t)(p - items);
    p++; /* the null octet */
    size_t used = (size_t)(p - start);
    size_t pad = (4 - used % 4) % 4;
    if ((size_t)(end - p) < pad) return NULL;
    return p + pad;
}

int rtcp_sdes_parse(rtcp_sdes *out, const rtcp_header *h)
{
    if (h->type != RTCP_TYPE_SDES) return J_EINVAL;
    const uint8_t *p = h->body;
    const uint8_t *end = h->body + h->body_len;
    for (unsigned i = 0; i < h->count; i++) {
        size_t items_len;
        p = sdes_chunk_end(p, end, &items_len);
        if (!p) return J_EMALFORMED;
    }
    out->chunk_count = h->count;
    out->chunks = h->body;
    out->chunks_len = (size_t)(p - h->body);
    return 0;
}

void rtcp_sdes_iter_init(rtcp_sdes_iter *it, const rtcp_sdes *m)
{
    it->p = m->chunks;
    it->end = m->chunks ? m->chunks + m->chunks_len : NULL;
    it->left = m->chunks ? m->chunk_count : 0;
}

bool rtcp_sdes_next_chunk(rtcp_sdes_iter *it, rtcp_sdes_chunk *out)
{
    if (it->left == 0) return false;
    size_t items_len;
    const uint8_t *next = sdes_chunk_end(it->p, it->end, &items_len);
    if (!next) { /* only reachable with a hand-built view; stop cleanly */
        it->left = 0;
        return false;
    }
    out->ssrc = rd_be32(it->p);
    out->items = it->p + 4;
    out->items_len = items_len;
    it->p = next;
    it->left--;
    return true;
}

void rtcp_sdes_item_iter_init(rtcp_sdes_item_iter *it, const rtcp_sdes_chunk *c)
{
    it->p = c->items;
    it->end = c->items ? c->items + c->items_len : NULL;
}

bool rtcp_sdes_next_item(rtcp_sdes_item_iter *it, rtcp_sdes_item *out)
{
    if (!it->p || it->end - it->p < 2) return false;
    uint8_t len = it->p[1];
    if ((size_t)(it->end - it->p - 2) < len) return false;
    out->type = it->p[0];
    out->len = len;
    out->data = it->p + 2;
    it->p += 2 + (size_t)len;
    return true;
}

/* SSRC, type, length, text, at least one null, padded to 32 bits. */
static size_t cname_chunk_size(size_t cname_len) { return (4 + 2 + cname_len + 1 + 3) & ~(size_t)3; }

int rtcp_sdes_cname_size(const rtcp_sdes_cname *m)
{
    if (!m->cname || m->more_count >= RTCP_MAX_COUNT || (m->more_count && !m->more_ssrcs))
        return J_EINVAL;
    size_t len = strlen(m->cname);
    if (len == 0 || len > 255) return J_EINVAL;
    return (int)(RTCP_HEADER_LEN + (1 + (size_t)m->more_count) * cname_chunk_size(len));
}

int rtcp_sdes_cname_write(const rtcp_sdes_cname *m, uint8_t *buf, size_t cap)
{
    int size = rtcp_sdes_cname_size(m);
    if (size < 0) return size;
    if ((size_t)size > cap) return J_ESHORTBUF;
    size_t len = strlen(m->cname), chunk = cname_chunk_size(len);
    rtcp_write_header_unsafe(buf, (uint8_t)(1 + m->more_count), RTCP_TYPE_SDES, (size_t)size);
    for (size_t i = 0; i <= m->more_count; i++) {
        uint8_t *c = buf + RTCP_HEADER_LEN + i * chunk;
        wr_be32(c, i == 0 ? m->ssrc : m->more_ssrcs[i - 1]);
        c[4] = RTCP_SDES_CNAME;
        c[5] = (uint8_t)len;
        memcpy(c + 6, m->cname, len);
        /* Terminator and padding are all null octets. */
        memset(c + 6 + len, 0, chunk - 6 - len);
    }
    return size;
}
