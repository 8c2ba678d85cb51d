/* rtp_recv_stats.h - receive statistics of one incoming RTP source and the
 * round-trip time of a leg, as reported in RTCP (RFC 3550 §6.4, A.1, A.3, A.8).
 *
 * rtp_recv_stats follows one SSRC: sequence validation with probation and
 * restart detection (A.1), the extended highest sequence number, cumulative
 * and interval loss (A.3), interarrival jitter (A.8) and the last sender
 * report, and fills the report block Junction sends back to that source.
 *
 * rtp_rtt remembers the sender reports a leg sent and turns the LSR/DLSR of a
 * report block received back into a round-trip time. It works on the caller's
 * monotonic clock: the NTP timestamp in an SR only identifies the report, so
 * wall-clock steps never distort the RTT.
 *
 * Both are plain state machines: no allocation, no clock, time as now_us.
 */
#ifndef J_RTP_RTP_RECV_STATS_H
#define J_RTP_RTP_RECV_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "rtcp/rtcp.h"

/* What rtp_recv_stats_update made of a packet. */
typedef enum {
    RTP_RECV_IN_ORDER,  /* newest packet so far (gaps before it count as lost) */
    RTP_RECV_LATE,      /* older than the newest: reordered, duplicate or repaired */
    RTP_RECV_PROBATION, /* source not validated yet (RFC 3550 A.1): not counted */
    RTP_RECV_BAD_SEQ,   /* a jump too large to trust; a second packet continuing
                           from it restarts the statistics (sender restart) */
} rtp_recv_verdict;

typedef struct {
    uint32_t ssrc;
    uint32_t clock_rate;      /* RTP timestamp units per second */
    bool seen;                /* at least one packet */
    uint16_t max_seq;         /* highest sequence number seen */
    uint32_t cycles;          /* sequence wraps, shifted left by 16 */
    uint32_t base_seq;        /* first sequence number counted */
    uint32_t bad_seq;         /* the sequence number that would confirm a restart */
    uint32_t probation;       /* sequential packets still needed before the source is valid */
    uint32_t received;        /* packets counted (duplicates included, as in A.3) */
    uint32_t expected_prior;  /* at the last report */
    uint32_t received_prior;
    uint64_t received_bytes;  /* bytes of counted packets, for bitrate statistics */
    bool have_transit;
    uint32_t transit;         /* arrival minus RTP timestamp, timestamp units (mod 2^32) */
    uint32_t jitter_q4;       /* jitter x 16, in timestamp units (A.8) */
    bool have_sr;
    uint32_t last_sr;         /* compact NTP of the last SR (its LSR value) */
    uint64_t last_sr_us;      /* when it arrived */
} rtp_recv_stats;

/* rtp_recv_stats_init - start following ssrc, whose RTP clock runs at
 * clock_rate Hz (90000 for video, 48000 for Opus). */
void rtp_recv_stats_init(rtp_recv_stats *s, uint32_t ssrc, uint32_t clock_rate);

/* rtp_recv_stats_update - account for one received RTP packet of the source:
 * its sequence number, RTP timestamp, size in bytes (header included) and
 * arrival time. Per RFC 3550 A.1 a new source needs two sequential packets
 * before it counts (RTP_RECV_PROBATION), a jump of 3000 or more ahead (or 100
 * or more behind) is ignored (RTP_RECV_BAD_SEQ) unless the next packet
 * follows it, which restarts the statistics, and late packets count as
 * received, duplicates included (so cumulative loss may go negative, as A.3
 * says). Jitter is updated only by packets that advance the sequence: a late
 * one, above all one repaired by retransmission, measures the repair delay,
 * not the path's jitter. The verdict is about statistics only: whether to
 * forward the packet is the caller's choice. */
rtp_recv_verdict rtp_recv_stats_update(rtp_recv_stats *s, uint16_t seq, uint32_t rtp_ts,
                                       uint32_t size, uint64_t now_us);

/* rtp_recv_stats_on_sr - a sender report for this source arrived at now_us;
 * ntp is its 64-bit NTP timestamp. The next report blocks carry its LSR and a
 * DLSR counted from now_us. */
void rtp_recv_stats_on_sr(rtp_recv_stats *s, uint64_t ntp, uint64_t now_us);

/* rtp_recv_stats_report - fill a report block for this source at now_us and
 * start a new reporting interval: fraction lost covers the packets since the
 * previous call (0 when none were lost or duplicates outnumber losses),
 * cumulative lost is clamped to the 24-bit signed range, jitter is in
 * timestamp units, LSR/DLSR are 0 until an SR arrived. Returns 0, or J_ESTATE
 * (block untouched, interval not reset) while the source is not validated. */
int rtp_recv_stats_report(rtp_recv_stats *s, uint64_t now_us, rtcp_report_block *out);

/* rtp_recv_stats_lost - packets lost so far (expected minus received), the
 * value the next report carries before clamping; 0 before validation. */
int64_t rtp_recv_stats_lost(const rtp_recv_stats *s);

/* ---------------------------------------------------------------------------
 * Round-trip time from report blocks (RFC 3550 §6.4.1)
 * ------------------------------------------------------------------------- */

#define RTP_RTT_SR_LOG 8 /* sender reports remembered; a report block echoes one
                            of the last few (at the usual 1 s interval: 8 s) */

typedef struct {
    struct {
        uint32_t lsr;     /* compact NTP of the SR, as a report block echoes it */
        uint64_t sent_us; /* when it was sent, caller's monotonic clock */
    } sent[RTP_RTT_SR_LOG];
    unsigned next;      /* slot the next SR goes to */
    int64_t latest_us;  /* last measured RTT, -1 before the first */
    int64_t smoothed_us; /* RFC 6298-style average (7/8 old + 1/8 new), -1 before */
} rtp_rtt;

/* rtp_rtt_init - no SR sent, no RTT known. */
void rtp_rtt_init(rtp_rtt *r);

/* rtp_rtt_on_sr_sent - the leg sent an SR whose NTP timestamp is ntp at
 * now_us. The oldest remembered SR is forgotten. */
void rtp_rtt_on_sr_sent(rtp_rtt *r, uint64_t ntp, uint64_t now_us);

/* rtp_rtt_on_report - a report block about our stream arrived at now_us.
 * RTT = now - send time of the SR it echoes (LSR) - the peer's hold time
 * (DLSR), 0 when that is negative (the peer overstated DLSR). Updates
 * latest_us and smoothed_us and returns the RTT in microseconds, or
 * J_ENOTFOUND when LSR is 0 or names no SR we remember. */
int64_t rtp_rtt_on_report(rtp_rtt *r, const rtcp_report_block *rb, uint64_t now_us);

#endif
