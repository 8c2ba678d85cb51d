/* seqmap.c - sequence number and timestamp rewriting with wraparound. */
#include "sfu/seqmap.h"

#include "core/err.h"
#include "rtp/rtp.h"

void sfu_seqmap_init(sfu_seqmap *m, uint16_t initial_seq, uint32_t initial_ts)
{
    m->started = false;
    m->resync = true;
    m->seq_offset = 0;
    m->ts_offset = 0;
    m->n_segments = 0;
    m->first_segment = 0;
    /* The "previous" output sits just before the random bases. */
    m->max_out_seq = (uint16_t)(initial_seq - 1);
    m->max_out_ts = initial_ts;
    m->max_out_us = 0;
}

void sfu_seqmap_resync(sfu_seqmap *m) { m->resync = true; }

static sfu_seqmap_segment *segment(sfu_seqmap *m, unsigned i)
{
    return &m->segments[(m->first_segment + i) % SFU_SEQMAP_SEGMENTS];
}

/* A new newest segment; the oldest goes when all are in use. */
static void push_segment(sfu_seqmap *m, uint16_t in_start, uint16_t offset)
{
    if (m->n_segments == SFU_SEQMAP_SEGMENTS) {
        m->first_segment = (uint8_t)((m->first_segment + 1) % SFU_SEQMAP_SEGMENTS);
        m->n_segments--;
    }
    *segment(m, m->n_segments++) = (sfu_seqmap_segment){.in_start = in_start, .offset = offset};
    m->seq_offset = offset;
}

/* The offset in_seq maps with: its segment's (the newest that starts at or before it). */
static int offset_of(const sfu_seqmap *m, uint16_t in_seq, uint16_t *offset)
{
    for (unsigned i = m->n_segments; i-- > 0;) {
        const sfu_seqmap_segment *s = &m->segments[(m->first_segment + i) % SFU_SEQMAP_SEGMENTS];
        if (rtp_seq_diff(in_seq, s->in_start) >= 0) {
            *offset = s->offset;
            return J_OK;
        }
    }
    return J_ENOTFOUND;
}

int sfu_seqmap_map(sfu_seqmap *m, uint16_t in_seq, uint32_t in_ts, uint32_t clock_rate,
                   uint64_t now_us, uint16_t *out_seq, uint32_t *out_ts)
{
    if (m->resync) {
        uint32_t advance = 1;
        if (m->started && now_us > m->max_out_us && clock_rate > 0) {
            uint64_t ticks = (now_us - m->max_out_us) * clock_rate / 1000000u;
            if (ticks > 1) advance = (uint32_t)ticks;
        }
        m->n_segments = 0;
        m->first_segment = 0;
        push_segment(m, in_seq, (uint16_t)(m->max_out_seq + 1 - in_seq));
        m->ts_offset = m->max_out_ts + advance - in_ts;
        m->first_out_seq = (uint16_t)(m->max_out_seq + 1);
        m->max_in_seq = in_seq;
        m->resync = false;
    }
    uint16_t offset;
    if (offset_of(m, in_seq, &offset) != J_OK) return J_ENOTFOUND;
    uint16_t seq = (uint16_t)(in_seq + offset);
    uint32_t ts = sfu_seqmap_out_ts(m, in_ts);
    if (rtp_seq_diff(in_seq, m->max_in_seq) > 0) m->max_in_seq = in_seq;
    /* Track the newest output; (int16_t) of the difference handles wraparound. */
    if (!m->started || (int16_t)(seq - m->max_out_seq) > 0) {
        m->max_out_seq = seq;
        m->max_out_ts = ts;
        m->max_out_us = now_us;
    }
    m->started = true;
    *out_seq = seq;
    *out_ts = ts;
    return J_OK;
}

void sfu_seqmap_drop(sfu_seqmap *m, uint16_t in_seq)
{
    if (!m->started || m->resync || rtp_seq_diff(in_seq, m->max_in_seq) <= 0) return;
    m->max_in_seq = in_seq;
    push_segment(m, (uint16_t)(in_seq + 1), (uint16_t)(m->seq_offset - 1));
}

int sfu_seqmap_unmap(const sfu_seqmap *m, uint16_t out_seq, uint16_t *in_seq)
{
    if (!m->started || m->resync || rtp_seq_diff(out_seq, m->first_out_seq) < 0 ||
        rtp_seq_diff(out_seq, m->max_out_seq) > 0)
        return J_ENOTFOUND;
    /* Newest segment first: the input it maps from must lie inside that segment. */
    for (unsigned i = m->n_segments; i-- > 0;) {
        const sfu_seqmap_segment *s = &m->segments[(m->first_segment + i) % SFU_SEQMAP_SEGMENTS];
        uint16_t in = (uint16_t)(out_seq - s->offset);
        if (rtp_seq_diff(in, s->in_start) < 0) continue;
        if (i + 1 < m->n_segments) {
            const sfu_seqmap_segment *next =
                &m->segments[(m->first_segment + i + 1) % SFU_SEQMAP_SEGMENTS];
            if (rtp_seq_diff(in, next->in_start) >= 0) continue;
        }
        *in_seq = in;
        return J_OK;
    }
    return J_ENOTFOUND;
}

uint32_t sfu_seqmap_out_ts(const sfu_seqmap *m, uint32_t in_ts) { return in_ts + m->ts_offset; }
