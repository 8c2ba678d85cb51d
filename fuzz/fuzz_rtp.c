/* fuzz_rtp.c - RTP parse, extension iteration/lookup, demux, a parse -> write -> parse
 * consistency check, and RTX unwrapping (RFC 4588) of the same packet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "rtp/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every element takes at least 2 bytes of a block of at most 4 * 65535. */
#define MAX_ELEMS (4 * 65535 / 2 + 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)j_packet_kind_name(j_demux(data, size));

    rtp_pkt p;
    if (rtp_parse(&p, data, size) != 0) return 0;

    /* The view stays inside the input and accounts for every byte. */
    if (p.header_len + p.payload_len + p.padding_len != size) abort();
    if (p.payload != data + p.header_len) abort();

    static rtp_ext_elem elems[MAX_ELEMS];
    size_t n = 0;
    rtp_ext_iter it;
    rtp_ext_iter_init(&it, &p);
    int rc;
    while ((rc = rtp_ext_iter_next(&it, &elems[n])) == 1) {
        const rtp_ext_elem *e = &elems[n];
        if (e->data < p.ext || e->data + e->len > p.ext + p.ext_len) abort();
        if (n < 64) {  /* lookups are linear: check the first few only */
            const uint8_t *d;
            size_t len;
            if (rtp_ext_find(&p, e->id, &d, &len) != 0) abort();
        }
        if (++n == MAX_ELEMS) abort();
    }
    if (rc < 0) return 0;  /* malformed block: nothing to rebuild */

    /* Rebuild the header from the view; it must parse back to the same fields. */
    uint32_t csrcs[RTP_MAX_CSRC];
    for (size_t i = 0; i < p.csrc_count; i++) csrcs[i] = rtp_csrc(&p, i);
    rtp_header_out h = {
        .marker = p.marker, .payload_type = p.payload_type, .seq = p.seq,
        .timestamp = p.timestamp, .ssrc = p.ssrc, .csrcs = csrcs, .csrc_count = p.csrc_count,
    };
    /* The rebuilt header is never longer than the original: padding bytes
     * go, and elements only move to the more compact form. */
    uint8_t *out = malloc(size);
    if (!out) return 0;
    int hl = rtp_write_header(&h, elems, n, out, size);
    if (hl < 0 || (size_t)hl > p.header_len) abort();
    memcpy(out + hl, p.payload, p.payload_len);
    rtp_pkt q;
    if (rtp_parse(&q, out, (size_t)hl + p.payload_len) != 0) abort();
    if (q.marker != p.marker || q.payload_type != p.payload_type || q.seq != p.seq ||
        q.timestamp != p.timestamp || q.ssrc != p.ssrc || q.csrc_count != p.csrc_count ||
        q.payload_len != p.payload_len)
        abort();
    rtp_ext_elem e;
    rtp_ext_iter_init(&it, &q);
    for (size_t i = 0; i < n; i++) {
        if (rtp_ext_iter_next(&it, &e) != 1) abort();
        if (e.id != elems[i].id || e.len != elems[i].len) abort();
        if (e.len && memcmp(e.data, elems[i].data, e.len) != 0) abort();
    }
    if (rtp_ext_iter_next(&it, &e) != 0) abort();

    /* Read as an RTX packet: the original keeps the header, loses the OSN and padding. */
    memcpy(out, data, size);
    rtp_pkt r;
    if (rtp_parse(&r, out, size) != 0) abort();
    rc = rtp_rtx_unwrap(out, &r, 96, 0x12345678u);
    if (rc == 0) {
        if (p.payload_len < 2 || r.seq != rd_be16(p.payload) || r.payload_type != 96 ||
            r.ssrc != 0x12345678u || r.header_len != p.header_len ||
            r.payload_len != p.payload_len - 2 || r.has_padding ||
            memcmp(r.payload, p.payload + 2, r.payload_len) != 0)
            abort();
    } else if (rc != J_EMALFORMED || p.payload_len >= 2 || memcmp(out, data, size) != 0) {
        abort();
    }
    free(out);
    return 0;
}
