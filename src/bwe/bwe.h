/* bwe.h - bandwidth estimation with transport-wide congestion control
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01), both ways, and a
 * delay- and loss-based estimator in the spirit of Google Congestion Control
 * (draft-ietf-rmcat-gcc-02).
 *
 * Towards a publisher, Junction is the receiver: bwe_twcc_recorder notes when
 * each transport-wide sequence number arrived and writes the feedback that
 * lets the browser's own congestion control adapt its sending rate.
 *
 * Towards a subscriber, Junction is the sender: bwe_twcc_history numbers
 * every packet it sends and remembers its send time and size; the
 * subscriber's feedback then yields per-packet results (sent when, arrived
 * when, how big, or lost) that bwe_gcc turns into the subscriber's available
 * bandwidth. Peers without transport-cc feed bwe_gcc their REMB values and
 * receiver-report loss instead.
 *
 * All three are sans-I/O state machines with fixed-size state: nothing is
 * allocated after init, time comes in as now_us (the caller's monotonic
 * clock, microseconds).
 */
#ifndef J_BWE_BWE_H
#define J_BWE_BWE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtcp/rtcp.h"

/* ---------------------------------------------------------------------------
 * Ingress: recording arrivals and writing transport-cc feedback
 * ------------------------------------------------------------------------- */

#define BWE_TWCC_RECORDER_SLOTS 1024 /* sequence numbers tracked between feedbacks */
#define BWE_TWCC_FEEDBACK_MAX 256    /* statuses per feedback packet (under 700 bytes) */

typedef struct {
    uint32_t sender_ssrc;  /* ours, in the feedback's header */
    uint32_t media_ssrc;   /* one of the peer's media SSRCs */
    uint64_t interval_us;  /* feedback period */
    bool started;
    uint64_t next_ext;     /* first extended sequence number not yet reported */
    uint64_t highest_ext;  /* newest one received */
    uint32_t pending;      /* received packets not yet reported */
    uint64_t last_feedback_us;
    uint8_t fb_count;      /* feedback packet count, wraps */
    uint64_t late;         /* packets that arrived after their status was sent */
    bool have_restart_candidate;
    uint16_t restart_candidate; /* successor of a packet far behind, see on_packet */
    uint64_t arrival_us[BWE_TWCC_RECORDER_SLOTS]; /* UINT64_MAX: not received */
} bwe_twcc_recorder;

/* bwe_twcc_recorder_init - nothing received yet; feedback every interval_us
 * (0: 50 ms). */
void bwe_twcc_recorder_init(bwe_twcc_recorder *r, uint32_t sender_ssrc, uint32_t media_ssrc,
                            uint64_t interval_us);

/* bwe_twcc_recorder_on_packet - a packet carrying transport-wide sequence
 * number seq arrived at now_us. Duplicates are ignored. A packet whose status
 * was already sent (as lost) is counted in `late` and not reported again. A
 * jump of more than BWE_TWCC_RECORDER_SLOTS ahead drops the oldest unreported
 * statuses; one that far behind, followed by its successor, restarts the
 * numbering (a restarted sender). */
void bwe_twcc_recorder_on_packet(bwe_twcc_recorder *r, uint16_t seq, uint64_t now_us);

/* bwe_twcc_recorder_poll_timeout - when the next feedback is due: interval_us
 * after the previous one while packets wait, 0 (now) once a full feedback's
 * worth waits, UINT64_MAX when nothing waits. */
uint64_t bwe_twcc_recorder_poll_timeout(const bwe_twcc_recorder *r);

/* bwe_twcc_recorder_handle_timeout - if feedback is due at now_us, write one
 * transport-cc packet (RTPFB FMT 15) into buf: every status from the first
 * unreported sequence number to the newest received (at most
 * BWE_TWCC_FEEDBACK_MAX; call again while it returns > 0), gaps as not
 * received. Returns the bytes written, 0 when nothing is due, or J_ESHORTBUF
 * (nothing consumed) when cap is too small; 1 KiB always suffices. */
int bwe_twcc_recorder_handle_timeout(bwe_twcc_recorder *r, uint64_t now_us, uint8_t *buf,
                                     size_t cap);

/* ---------------------------------------------------------------------------
 * Egress: numbering sent packets and reading the feedback about them
 * ------------------------------------------------------------------------- */

/* Sent packets remembered: ~1.4 s at 8 Mbit/s, several times what feedback (every 50-100 ms,
 * a round trip later) needs; 16 KiB per subscriber. */
#define BWE_TWCC_HISTORY_SLOTS 1024

/* What the feedback said about one packet we sent. */
typedef struct {
    uint16_t seq;
    bool received;
    bool reported_lost_before; /* received, but an earlier feedback said lost */
    uint32_t size;             /* bytes, as given to bwe_twcc_history_add */
    uint64_t send_us;          /* our clock */
    int64_t recv_us;           /* the peer's clock (only differences mean anything),
                                  continuous across feedbacks; 0 when lost */
} bwe_twcc_result;

typedef struct {
    uint64_t send_us;
    uint32_t size;
    uint16_t seq;
    uint8_t state; /* empty, sent, reported lost, reported received */
} bwe_twcc_sent;

typedef struct {
    uint16_t next_seq;
    bool have_ref;
    int64_t ref_ext;   /* last reference time, unwrapped from 24 bits, 64 ms units */
    uint64_t unknown;  /* statuses about packets not (or no longer) remembered */
    bwe_twcc_sent sent[BWE_TWCC_HISTORY_SLOTS];
} bwe_twcc_history;

/* bwe_twcc_history_init - the first packet sent gets first_seq. */
void bwe_twcc_history_init(bwe_twcc_history *h, uint16_t first_seq);

/* bwe_twcc_history_add - number a packet of size bytes sent at now_us and
 * remember it. Returns the transport-wide sequence number to stamp on it. */
uint16_t bwe_twcc_history_add(bwe_twcc_history *h, uint32_t size, uint64_t now_us);

/* bwe_twcc_history_on_feedback - match a parsed transport-cc feedback (from
 * rtcp_twcc_parse) against the history and write one result per packet it
 * newly tells about, in sequence order, into out (at most cap). A packet is
 * reported once, except a received status after an earlier lost one
 * (reported_lost_before). Statuses about unknown packets are counted and
 * skipped. With cap >= BWE_TWCC_HISTORY_SLOTS nothing is ever cut off.
 * Returns the number of results. */
size_t bwe_twcc_history_on_feedback(bwe_twcc_history *h, const rtcp_twcc *fb,
                                    bwe_twcc_result *out, size_t cap);

/* ---------------------------------------------------------------------------
 * Estimator (draft-ietf-rmcat-gcc-02, sender side)
 * ------------------------------------------------------------------------- */

typedef enum {
    BWE_USAGE_NORMAL,
    BWE_USAGE_UNDERUSE, /* queues draining */
    BWE_USAGE_OVERUSE,  /* queues building */
} bwe_usage;

typedef enum {
    BWE_RATE_HOLD,
    BWE_RATE_INCREASE,
    BWE_RATE_DECREASE,
} bwe_rate_state;

typedef struct {
    uint64_t min_bps;   /* floor of the estimate; 0: 30 kbit/s */
    uint64_t max_bps;   /* ceiling; 0: 10 Mbit/s */
    uint64_t start_bps; /* before any feedback; 0: 300 kbit/s */
} bwe_gcc_config;

#define BWE_GCC_TREND_WINDOW 20  /* delay samples in the trendline regression */
#define BWE_GCC_ACKED_RING 1024  /* received packets kept for the acknowledged bitrate */

/* A group of packets sent within a burst (5 ms), compared with the previous. */
typedef struct {
    uint64_t first_send_us;
    uint64_t last_send_us;
    int64_t last_recv_us;
} bwe_gcc_group;

typedef struct {
    bwe_gcc_config cfg;
    uint64_t rtt_us;

    /* Arrival grouping and the trendline filter. */
    bool have_group, have_prev_group;
    bwe_gcc_group group, prev_group;
    bool have_origin;
    int64_t origin_recv_us;  /* x axis origin of the regression */
    double acc_delay_ms;     /* accumulated inter-group delay variation */
    double smoothed_delay_ms;
    double trend_x_ms[BWE_GCC_TREND_WINDOW];
    double trend_y_ms[BWE_GCC_TREND_WINDOW];
    unsigned trend_count, trend_next;
    unsigned num_deltas;
    double trend;            /* slope of the regression: queueing delay per time */

    /* Over-use detector with its adaptive threshold. */
    double modified_trend;   /* trend scaled as the threshold expects, ms */
    double prev_modified_trend;
    double threshold_ms;
    int64_t last_threshold_recv_us;
    bool have_threshold_time;
    double overuse_ms;       /* time spent above the threshold, < 0 when not */
    unsigned overuse_count;
    bwe_usage usage;

    /* AIMD rate controller. */
    bwe_rate_state rate_state;
    double delay_bps;        /* delay-based estimate (A) */
    bool startup;            /* no decrease yet: the link's capacity is unknown */
    bool have_max;           /* average bitrate at past decreases is known */
    double avg_max_bps;
    double var_max;          /* relative variance of it */
    uint64_t last_rate_update_us;
    bool have_rate_update;
    uint64_t last_decrease_us;
    bool have_decrease;

    /* Acknowledged bitrate: received bytes over the last 500 ms of arrivals. Two arrays, as
     * one of structs would pad each entry to 16 bytes. */
    int64_t acked_recv_us[BWE_GCC_ACKED_RING];
    uint16_t acked_size[BWE_GCC_ACKED_RING]; /* bytes, at most 65535 (an RTP packet is less) */
    unsigned acked_head, acked_count;
    uint64_t acked_bytes;
    bool have_first_recv;
    int64_t first_recv_us, newest_recv_us;
    int64_t dropped_recv_us; /* newest arrival pushed out by a full ring */
    bool dropped_any;
    double acked_bps;        /* 0 until 100 ms of arrivals were seen */

    /* Loss-based controller. */
    uint32_t window_lost, window_total;
    uint64_t window_start_us;
    bool have_window;
    double loss_ratio;       /* of the last closed window */
    bool loss_limited;       /* loss_bps caps the estimate */
    double loss_bps;

    /* Inputs from peers without transport-cc. */
    bool have_twcc;
    bool have_remb;
    double remb_bps;

    uint64_t target_bps;
} bwe_gcc;

/* bwe_gcc_init - estimate at cfg->start_bps; cfg NULL (or zero fields) takes
 * the defaults. */
void bwe_gcc_init(bwe_gcc *g, const bwe_gcc_config *cfg);

/* bwe_gcc_set_rtt - the leg's round-trip time (default 100 ms), which paces
 * decreases and the additive increase. */
void bwe_gcc_set_rtt(bwe_gcc *g, uint64_t rtt_us);

/* bwe_gcc_on_feedback - the results of one transport-cc feedback (from
 * bwe_twcc_history_on_feedback, in sequence order) arrived at now_us. Updates
 * the delay-based estimate (arrival groups -> trendline -> over-use detector
 * -> AIMD), the acknowledged bitrate and the loss-based estimate, then the
 * target. */
void bwe_gcc_on_feedback(bwe_gcc *g, const bwe_twcc_result *res, size_t n, uint64_t now_us);

/* bwe_gcc_on_remb - the peer's receiver-side estimate (REMB): the
 * target never exceeds it. For peers without transport-cc it is the
 * delay-based bound. */
void bwe_gcc_on_remb(bwe_gcc *g, uint64_t bitrate_bps);

/* bwe_gcc_on_loss_report - fraction lost (/256) from a receiver report
 * about our stream. Used only while no transport-cc feedback was seen (that
 * carries the loss itself). */
void bwe_gcc_on_loss_report(bwe_gcc *g, uint8_t fraction_lost);

/* bwe_gcc_target_bps - the estimate: the smaller of the delay-based and the
 * loss-based estimates (and REMB), within [min_bps, max_bps]. */
uint64_t bwe_gcc_target_bps(const bwe_gcc *g);

/* bwe_gcc_acked_bps - the bitrate the peer acknowledged receiving over the
 * last 500 ms (0 before feedback). */
uint64_t bwe_gcc_acked_bps(const bwe_gcc *g);

/* bwe_gcc_recent_acked_bps - the same over only the last window_us of arrivals (at most the
 * 500 ms kept): what the link delivers now, when it just narrowed. 0 while fewer than
 * window_us of arrivals are known. */
uint64_t bwe_gcc_recent_acked_bps(const bwe_gcc *g, uint64_t window_us);

#endif
