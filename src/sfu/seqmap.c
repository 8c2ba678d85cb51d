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
    /* The "previous" output sits just before the random bases. */
    m->max_out_seq = (uint16_t)(initial_seq - 1);
    m->max_out_ts = initial_ts;
    m->max_out_us = 0;
}

void sfu_seqmap_resync(sfu_seqmap *m) { m->resync = true; }

void sfu_seqmap_map(sfu_seqmap *m, uint16_t in_seq, uint32_t in_ts, uint32_t clock_rate,
                    uint64_t now_us, uint16_t *out_seq, uint32_t *out_ts)
{
    if (m->resync) {
        uint32_t advance = 1;
        if (m->started && now_us > m->max_out_us && clock_rate > 0) {
            uint64_t ticks = (now_us - m->max_out_us) * clock_rate / 1000000u;
            if (ticks > 1) advance = (uint32_t)ticks;
        }
        m->seq_offset = (uint16_t)(m->max_out_seq + 1 - in_seq);
        m->ts_offset = m->max_out_ts + advance - in_ts;
        m->first_out_seq = (uint16_t)(m->max_out_seq + 1);
        m->resync = false;
    }
    uint16_t seq = (uint16_t)(in_seq + m->seq_offset);
    uint32_t ts = sfu_seqmap_out_ts(m, in_ts);
    /* Track the newest output; (int16_t) of the difference handles wraparound. */
    if (!m->started || (int16_t)(seq - m->max_out_seq) > 0) {
        m->max_out_seq = seq;
        m->max_out_ts = ts;
        m->max_out_us = now_us;
    }
    m->started = true;
    *out_seq = seq;
    *out_ts = ts;
}

int sfu_seqmap_unmap(const sfu_seqmap *m, uint16_t out_seq, uint16_t *in_seq)
{
    if (!m->started || m->resync || rtp_seq_diff(out_seq, m->first_out_seq) < 0 ||
        rtp_seq_diff(out_seq, m->max_out_seq) > 0)
        return J_ENOTFOUND;
    *in_seq = (uint16_t)(out_seq - m->seq_offset);
    return J_OK;
}

uint32_t sfu_seqmap_out_ts(const sfu_seqmap *m, uint32_t in_ts) { return in_ts + m->ts_offset; }
