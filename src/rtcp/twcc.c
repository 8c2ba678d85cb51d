/* twcc.c - transport-wide congestion control feedback
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1). */
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtcp/rtcp_internal.h"

/* An RTPFB (205) with FMT 15:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|  FMT=15 |    PT=205     |           length              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     SSRC of packet sender                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      SSRC of media source                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      base sequence number     |      packet status count      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 reference time                | fb pkt. count |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          packet chunk         |         packet chunk          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * .                                                               .
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         packet chunk          |  recv delta   |  recv delta   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * .                                                               .
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           recv delta          |  recv delta   | zero padding  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Packet chunks, 16 bits each:
 *   run length:    |0| S(2) | run length (13)       S repeated run length times
 *   status vector: |1|0| 14 x 1-bit symbols |       0 not received, 1 small delta
 *                  |1|1| 7 x 2-bit symbols  |       0 not received, 1 small, 2 large
 * Status symbol 3 is reserved. Each received packet has a receive delta in
 * 250 us units, in status order: one unsigned byte (small) or two signed
 * bytes (large). The first delta is relative to reference time x 64 ms.
 */
#define TWCC_FIXED_LEN 8    /* FCI before the chunks */
#define TWCC_HEAD_LEN 20    /* common header, two SSRCs, fixed FCI */
#define TWCC_RUN_MAX 0x1fff /* 13-bit run length */
#define TWCC_SYMBOL_RESERVED 3

/* ---- parsing ------------------------------------------------------------- */

int rtcp_twcc_parse(rtcp_twcc *out, const rtcp_header *h)
{
    rtcp_fb fb;
    int rc = rtcp_fb_parse_fmt(&fb, h, RTCP_TYPE_RTPFB, RTCP_RTPFB_TWCC);
    if (rc < 0) return rc;
    if (fb.fci_len < TWCC_FIXED_LEN) return J_EMALFORMED;
    const uint8_t *f = fb.fci;
    uint16_t status_count = rd_be16(f + 2);
    if (status_count == 0) return J_EMALFORMED;

    /* Walk the chunks until they cover status_count statuses, counting the
     * delta bytes the received ones need. Counters are 32-bit, so even 65535
     * large deltas (131070 bytes) cannot overflow. */
    const uint8_t *p = f + TWCC_FIXED_LEN;
    const uint8_t *end = f + fb.fci_len;
    uint32_t left = status_count;
    uint32_t delta_bytes = 0, received = 0;
    while (left > 0) {
        if (end - p < 2) return J_EMALFORMED; /* status count beyond the chunks */
        uint16_t c = rd_be16(p);
        p += 2;
        if (!(c & 0x8000)) {
            unsigned sym = (c >> 13) & 3;
            uint32_t n = c & TWCC_RUN_MAX;
            if (n > left) n = left;
            if (n > 0 && sym == TWCC_SYMBOL_RESERVED) return J_EMALFORMED;
            if (sym != RTCP_TWCC_NOT_RECEIVED) {
                received += n;
                delta_bytes += n * sym; /* 1 or 2 bytes per delta */
            }
            left -= n;
        } else if (!(c & 0x4000)) {
            uint32_t n = left < 14 ? left : 14;
            for (uint32_t i = 0; i < n; i++) {
                if ((c >> (13 - i)) & 1) {
                    received++;
                    delta_bytes++;
                }
            }
            left -= n;
        } else {
            uint32_t n = left < 7 ? left : 7;
            for (uint32_t i = 0; i < n; i++) {
                unsigned sym = (c >> (12 - 2 * i)) & 3;
                if (sym == TWCC_SYMBOL_RESERVED) return J_EMALFORMED;
                if (sym != RTCP_TWCC_NOT_RECEIVED) {
                    received++;
                    delta_bytes += sym;
                }
            }
            left -= n;
        }
    }
    if ((size_t)(end - p) < delta_bytes) return J_EMALFORMED; /* deltas beyond the packet */

    out->sender_ssrc = fb.sender_ssrc;
    out->media_ssrc = fb.media_ssrc;
    out->base_seq = rd_be16(f);
    out->status_count = status_count;
    out->ref_time = rd_be24(f + 4);
    out->fb_pkt_count = f[7];
    out->chunks = f + TWCC_FIXED_LEN;
    out->chunks_len = (size_t)(p - out->chunks);
    out->deltas = p;
    out->deltas_len = delta_bytes;
    out->received_count = received;
    /* Bytes after the deltas are zero padding (or junk we do not interpret). */
    return 0;
}

void rtcp_twcc_iter_init(rtcp_twcc_iter *it, const rtcp_twcc *m)
{
    it->chunk = m->chunks;
    it->chunk_end = m->chunks ? m->chunks + m->chunks_len : NULL;
    it->delta = m->deltas;
    it->delta_end = m->deltas ? m->deltas + m->deltas_len : NULL;
    it->left = (m->chunks && m->deltas) ? m->status_count : 0;
    it->word = 0;
    it->word_left = 0;
    it->word_pos = 0;
    it->seq = m->base_seq;
    it->time_us = (int64_t)m->ref_time * RTCP_TWCC_REF_TIME_US;
}

bool rtcp_twcc_next(rtcp_twcc_iter *it, rtcp_twcc_pkt *out)
{
    if (it->left == 0) return false;
    /* The bounds checks below cannot fail on a parsed view; they keep a
     * hand-built one from reading out of range. */
    while (it->word_left == 0) {
        if (it->chunk_end - it->chunk < 2) goto stop;
        it->word = rd_be16(it->chunk);
        it->chunk += 2;
        it->word_pos = 0;
        if (!(it->word & 0x8000))
            it->word_left = it->word & TWCC_RUN_MAX;
        else
            it->word_left = (it->word & 0x4000) ? 7 : 14;
    }
    unsigned sym;
    if (!(it->word & 0x8000))
        sym = (it->word >> 13) & 3;
    else if (!(it->word & 0x4000))
        sym = (it->word >> (13 - it->word_pos)) & 1;
    else
        sym = (it->word >> (12 - 2 * it->word_pos)) & 3;
    it->word_pos++;
    it->word_left--;

    int32_t delta_ticks = 0;
    if (sym == RTCP_TWCC_SMALL_DELTA) {
        if (it->delta_end - it->delta < 1) goto stop;
        delta_ticks = it->delta[0];
        it->delta += 1;
    } else if (sym == RTCP_TWCC_LARGE_DELTA) {
        if (it->delta_end - it->delta < 2) goto stop;
        uint16_t v = rd_be16(it->delta);
        delta_ticks = v >= 0x8000 ? (int32_t)v - 0x10000 : (int32_t)v;
        it->delta += 2;
    } else if (sym == TWCC_SYMBOL_RESERVED) {
        goto stop;
    }
    out->seq = it->seq++;
    out->status = (uint8_t)sym;
    out->received = sym != RTCP_TWCC_NOT_RECEIVED;
    out->delta_us = delta_ticks * RTCP_TWCC_DELTA_US;
    it->time_us += out->delta_us;
    out->recv_us = out->received ? it->time_us : 0;
    it->left--;
    return true;
stop:
    it->left = 0;
    return false;
}

int rtcp_twcc_expand(const rtcp_twcc *m, rtcp_twcc_pkt *out, size_t cap)
{
    if (cap < m->status_count) return J_ESHORTBUF;
    rtcp_twcc_iter it;
    rtcp_twcc_iter_init(&it, m);
    size_t n = 0;
    while (n < cap && rtcp_twcc_next(&it, &out[n])) n++;
    return (int)n;
}

/* ---- writing ------------------------------------------------------------- */

/* Walks the statuses base_seq, base_seq+1, ... producing each one's symbol and
 * delta from the caller's entries. Copied freely to look ahead. */
typedef struct {
    const rtcp_twcc_fb *m;
    size_t idx;         /* next entry of m->pkts */
    uint16_t seq;       /* sequence number of the next status */
    int64_t prev_ticks; /* 250 us ticks of the previous received packet */
} twcc_cursor;

/* Next status symbol (or J_EINVAL for a delta beyond 16 bits); the delta in
 * ticks goes to *delta when received. */
static int cursor_next(twcc_cursor *c, int32_t *delta)
{
    const rtcp_twcc_rx *e = c->idx < c->m->pkt_count ? &c->m->pkts[c->idx] : NULL;
    uint16_t seq = c->seq++;
    if (!e || e->seq != seq) return RTCP_TWCC_NOT_RECEIVED; /* a gap in the list */
    c->idx++;
    if (!e->received) return RTCP_TWCC_NOT_RECEIVED;
    /* Round each arrival to the tick grid and difference the rounded values, so
     * rounding errors do not accumulate along the feedback. */
    int64_t ticks = (int64_t)(e->arrival_us / RTCP_TWCC_DELTA_US) +
                    (e->arrival_us % RTCP_TWCC_DELTA_US >= RTCP_TWCC_DELTA_US / 2);
    int64_t d = ticks - c->prev_ticks;
    c->prev_ticks = ticks;
    if (d < INT16_MIN || d > INT16_MAX) return J_EINVAL;
    *delta = (int32_t)d;
    return (d >= 0 && d <= 255) ? RTCP_TWCC_SMALL_DELTA : RTCP_TWCC_LARGE_DELTA;
}

typedef struct {
    uint32_t status_count;
    uint64_t ref_time; /* in 64 ms units, before truncation to 24 bits: arrival
                          times may be Unix-epoch based, far beyond 2^24 x 64 ms */
    size_t chunks;     /* number of 16-bit chunks */
    size_t delta_bytes;
} twcc_plan;

/* Chooses the chunks and, when chunk_out/delta_out are non-NULL, writes them.
 * Greedy: a run of >= 14 equal statuses becomes a run-length chunk; otherwise
 * up to 14 statuses without a large delta become a 1-bit vector; otherwise a
 * run of >= 7 becomes a run-length chunk; otherwise a 2-bit vector takes 7. */
static int twcc_encode(const rtcp_twcc_fb *m, twcc_plan *plan, uint8_t *chunk_out,
                       uint8_t *delta_out)
{
    twcc_cursor cur = {.m = m, .idx = 0, .seq = m->pkts[0].seq,
                       .prev_ticks = (int64_t)plan->ref_time * (RTCP_TWCC_REF_TIME_US /
                                                                RTCP_TWCC_DELTA_US)};
    uint32_t done = 0;
    size_t chunks = 0, delta_bytes = 0;
    int32_t d;
    while (done < plan->status_count) {
        uint32_t rem = plan->status_count - done;

        twcc_cursor look = cur;
        int s0 = cursor_next(&look, &d);
        if (s0 < 0) return s0;
        uint32_t run = 1;
        while (run < rem && run < TWCC_RUN_MAX) {
            int s = cursor_next(&look, &d);
            if (s < 0) return s;
            if (s != s0) break;
            run++;
        }

        enum { RUN, VEC1, VEC2 } kind;
        uint32_t take;
        if (run >= 14) {
            kind = RUN;
            take = run;
        } else {
            take = rem < 14 ? rem : 14;
            kind = VEC1;
            look = cur;
            for (uint32_t i = 0; i < take; i++) {
                int s = cursor_next(&look, &d);
                if (s < 0) return s;
                if (s == RTCP_TWCC_LARGE_DELTA) {
                    kind = VEC2;
                    break;
                }
            }
            if (kind == VEC2 && run >= 7) {
                kind = RUN;
                take = run;
            } else if (kind == VEC2) {
                take = rem < 7 ? rem : 7;
            }
        }

        uint16_t word = kind == RUN ? (uint16_t)(((unsigned)s0 << 13) | take)
                                    : kind == VEC1 ? 0x8000 : 0xc000;
        for (uint32_t i = 0; i < take; i++) {
            int s = cursor_next(&cur, &d);
            if (s < 0) return s;
            if (kind == VEC1) word |= (uint16_t)((unsigned)s << (13 - i));
            if (kind == VEC2) word |= (uint16_t)((unsigned)s << (12 - 2 * i));
            if (s == RTCP_TWCC_SMALL_DELTA) {
                if (delta_out) delta_out[delta_bytes] = (uint8_t)d;
                delta_bytes += 1;
            } else if (s == RTCP_TWCC_LARGE_DELTA) {
                if (delta_out) wr_be16(delta_out + delta_bytes, (uint16_t)d);
                delta_bytes += 2;
            }
        }
        if (chunk_out) wr_be16(chunk_out + 2 * chunks, word);
        chunks++;
        done += take;
    }
    plan->chunks = chunks;
    plan->delta_bytes = delta_bytes;
    return 0;
}

/* Validates the entry list and sizes the packet. Returns the total size. */
static int twcc_prepare(const rtcp_twcc_fb *m, twcc_plan *plan)
{
    if (!m->pkts || m->pkt_count == 0 || m->pkt_count > 65535) return J_EINVAL;
    uint32_t span = 0;
    bool have_ref = false;
    plan->ref_time = 0;
    for (size_t i = 0; i < m->pkt_count; i++) {
        if (i > 0) {
            uint16_t step = (uint16_t)(m->pkts[i].seq - m->pkts[i - 1].seq);
            if (step == 0) return J_EINVAL;
            span += step;
            if (span > 65534) return J_EINVAL; /* status count is 16 bits */
        }
        if (m->pkts[i].received && !have_ref) {
            plan->ref_time = m->pkts[i].arrival_us / RTCP_TWCC_REF_TIME_US;
            have_ref = true;
        }
    }
    plan->status_count = span + 1;
    int rc = twcc_encode(m, plan, NULL, NULL);
    if (rc < 0) return rc;
    size_t size = TWCC_HEAD_LEN + 2 * plan->chunks + plan->delta_bytes;
    size = (size + 3) & ~(size_t)3;
    if (size > RTCP_MAX_PACKET_LEN) return J_EINVAL;
    return (int)size;
}

int rtcp_twcc_size(const rtcp_twcc_fb *m)
{
    twcc_plan plan;
    return twcc_prepare(m, &plan);
}

int rtcp_twcc_write(const rtcp_twcc_fb *m, uint8_t *buf, size_t cap)
{
    twcc_plan plan;
    int size = twcc_prepare(m, &plan);
    if (size < 0) return size;
    if ((size_t)size > cap) return J_ESHORTBUF;
    rtcp_fb_write_head_unsafe(buf, RTCP_RTPFB_TWCC, RTCP_TYPE_RTPFB, (size_t)size,
                              m->sender_ssrc, m->media_ssrc);
    wr_be16(buf + 12, m->pkts[0].seq);
    wr_be16(buf + 14, (uint16_t)plan.status_count);
    wr_be24(buf + 16, (uint32_t)(plan.ref_time & 0xffffffu));
    buf[19] = m->fb_pkt_count;
    uint8_t *chunks = buf + TWCC_HEAD_LEN;
    uint8_t *deltas = chunks + 2 * plan.chunks;
    int rc = twcc_encode(m, &plan, chunks, deltas);
    if (rc < 0) return rc; /* not reached: twcc_prepare ran the same encoding */
    /* RTCP padding (RFC 3550 §6.4.1) up to the 32-bit boundary, as libwebrtc
     * emits it: zeros, then the padding count in the last octet. */
    size_t used = TWCC_HEAD_LEN + 2 * plan.chunks + plan.delta_bytes;
    size_t pad = (size_t)size - used;
    if (pad > 0) {
        memset(buf + used, 0, pad - 1);
        buf[size - 1] = (uint8_t)pad;
        buf[0] |= 0x20;
    }
    return size;
}
