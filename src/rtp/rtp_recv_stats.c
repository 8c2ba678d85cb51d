/* rtp_recv_stats.c - per-source receive statistics (RFC 3550 A.1, A.3, A.8)
 * and round-trip time from report blocks. */
#include "rtp/rtp_recv_stats.h"

#include <string.h>

#include "core/err.h"

#define SEQ_MOD ((uint32_t)1 << 16)
#define MAX_DROPOUT 3000 /* A.1: larger jumps ahead are suspect */
#define MAX_MISORDER 100 /* A.1: larger jumps behind are suspect */
#define MIN_SEQUENTIAL 2 /* A.1: packets in sequence before a source is valid */

/* Cumulative loss is a 24-bit signed field. */
#define LOST_MAX 0x7fffff
#define LOST_MIN (-0x800000)

#define US_PER_S 1000000u

void rtp_recv_stats_init(rtp_recv_stats *s, uint32_t ssrc, uint32_t clock_rate)
{
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->clock_rate = clock_rate;
}

/* A.1 init_seq: (re)start counting at seq. */
static void restart_at(rtp_recv_stats *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = SEQ_MOD + 1; /* matches no 16-bit number */
    s->cycles = 0;
    s->received = 0;
    s->received_bytes = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
    s->have_transit = false; /* a restarted sender picks a new timestamp base */
    s->jitter_q4 = 0;
}

/* The arrival time in RTP timestamp units, modulo 2^32 (only differences of
 * it are used). Split so now_us * clock_rate cannot overflow. */
static uint32_t arrival_ts(const rtp_recv_stats *s, uint64_t now_us)
{
    uint64_t secs = now_us / US_PER_S, frac = now_us % US_PER_S;
    return (uint32_t)(secs * s->clock_rate + frac * s->clock_rate / US_PER_S);
}

/* A.8: J += (|D| - J) / 16, kept scaled by 16 to stay in integers. */
static void update_jitter(rtp_recv_stats *s, uint32_t rtp_ts, uint64_t now_us)
{
    uint32_t transit = arrival_ts(s, now_us) - rtp_ts;
    if (s->have_transit) {
        int32_t d = (int32_t)(transit - s->transit);
        uint32_t abs_d = d < 0 ? (uint32_t)-(int64_t)d : (uint32_t)d;
        s->jitter_q4 += abs_d - ((s->jitter_q4 + 8) >> 4);
    }
    s->transit = transit;
    s->have_transit = true;
}

rtp_recv_verdict rtp_recv_stats_update(rtp_recv_stats *s, uint16_t seq, uint32_t rtp_ts,
                                       uint32_t size, uint64_t now_us)
{
    if (!s->seen) {
        restart_at(s, seq);
        s->max_seq = (uint16_t)(seq - 1);
        s->probation = MIN_SEQUENTIAL;
        s->seen = true;
    }
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    rtp_recv_verdict verdict;
    if (s->probation) {
        if (seq != (uint16_t)(s->max_seq + 1)) {
            s->probation = MIN_SEQUENTIAL - 1;
            s->max_seq = seq;
            return RTP_RECV_PROBATION;
        }
        s->probation--;
        s->max_seq = seq;
        if (s->probation) return RTP_RECV_PROBATION;
        restart_at(s, seq);
        verdict = RTP_RECV_IN_ORDER;
    } else if (udelta == 0) {
        verdict = RTP_RECV_LATE; /* duplicate of the newest */
    } else if (udelta < MAX_DROPOUT) {
        if (seq < s->max_seq) s->cycles += SEQ_MOD;
        s->max_seq = seq;
        verdict = RTP_RECV_IN_ORDER;
    } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
        if (seq != s->bad_seq) {
            s->bad_seq = (seq + 1u) & (SEQ_MOD - 1);
            return RTP_RECV_BAD_SEQ;
        }
        /* Two sequential packets after a large jump: the sender restarted. */
        restart_at(s, seq);
        verdict = RTP_RECV_IN_ORDER;
    } else {
        verdict = RTP_RECV_LATE;
    }
    s->received++;
    s->received_bytes += size;
    if (verdict == RTP_RECV_IN_ORDER) update_jitter(s, rtp_ts, now_us);
    return verdict;
}

void rtp_recv_stats_on_sr(rtp_recv_stats *s, uint64_t ntp, uint64_t now_us)
{
    s->last_sr = rtcp_ntp_compact(ntp);
    s->last_sr_us = now_us;
    s->have_sr = true;
}

static bool validated(const rtp_recv_stats *s) { return s->seen && s->probation == 0; }

/* A.3: expected = extended highest - base + 1. */
static int64_t expected_count(const rtp_recv_stats *s)
{
    uint32_t extended_max = s->cycles + s->max_seq;
    return (int64_t)extended_max - s->base_seq + 1;
}

int64_t rtp_recv_stats_lost(const rtp_recv_stats *s)
{
    if (!validated(s)) return 0;
    return expected_count(s) - s->received;
}

int rtp_recv_stats_report(rtp_recv_stats *s, uint64_t now_us, rtcp_report_block *out)
{
    if (!validated(s)) return J_ESTATE;
    int64_t expected = expected_count(s);
    int64_t lost = expected - s->received;
    int64_t expected_interval = expected - s->expected_prior;
    int64_t received_interval = (int64_t)s->received - s->received_prior;
    int64_t lost_interval = expected_interval - received_interval;
    s->expected_prior = (uint32_t)expected;
    s->received_prior = s->received;

    out->ssrc = s->ssrc;
    int64_t fraction = (expected_interval <= 0 || lost_interval <= 0)
                           ? 0
                           : (lost_interval << 8) / expected_interval;
    out->fraction_lost = (uint8_t)(fraction > 255 ? 255 : fraction);
    out->cumulative_lost = (int32_t)(lost > LOST_MAX ? LOST_MAX : lost < LOST_MIN ? LOST_MIN : lost);
    out->ext_highest_seq = s->cycles + s->max_seq;
    out->jitter = s->jitter_q4 >> 4;
    out->lsr = s->have_sr ? s->last_sr : 0;
    out->dlsr = s->have_sr && now_us > s->last_sr_us ? rtcp_compact_from_us(now_us - s->last_sr_us)
                                                     : 0;
    return 0;
}

/* ---- round-trip time ----------------------------------------------------- */

void rtp_rtt_init(rtp_rtt *r)
{
    memset(r, 0, sizeof *r);
    r->latest_us = -1;
    r->smoothed_us = -1;
}

void rtp_rtt_on_sr_sent(rtp_rtt *r, uint64_t ntp, uint64_t now_us)
{
    r->sent[r->next].lsr = rtcp_ntp_compact(ntp);
    r->sent[r->next].sent_us = now_us;
    r->next = (r->next + 1) % RTP_RTT_SR_LOG;
}

int64_t rtp_rtt_on_report(rtp_rtt *r, const rtcp_report_block *rb, uint64_t now_us)
{
    if (rb->lsr == 0) return J_ENOTFOUND;
    for (unsigned i = 0; i < RTP_RTT_SR_LOG; i++) {
        /* Unused slots have lsr 0, which never matches here. */
        if (r->sent[i].lsr != rb->lsr || r->sent[i].sent_us > now_us) continue;
        int64_t rtt = (int64_t)(now_us - r->sent[i].sent_us) - (int64_t)rtcp_compact_to_us(rb->dlsr);
        if (rtt < 0) rtt = 0;
        r->latest_us = rtt;
        r->smoothed_us = r->smoothed_us < 0 ? rtt : (7 * r->smoothed_us + rtt) / 8;
        return rtt;
    }
    return J_ENOTFOUND;
}
