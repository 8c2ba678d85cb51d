/* gcc.c - delay- and loss-based bandwidth estimation from transport-cc
 * results, after draft-ietf-rmcat-gcc-02 (sender-side variant: the
 * inter-group delay variation goes through a trendline filter, a linear
 * regression over recent accumulated delay, instead of the draft's Kalman
 * filter).
 *
 *   results -> arrival groups (§5.2) -> delay variation d(i)
 *           -> trendline slope -> over-use detector, adaptive threshold (§5.4)
 *           -> AIMD rate controller (§5.5)                  = delay-based A
 *   results -> loss ratio per window -> loss-based controller (§6) = As
 *   target  = min(A, As, REMB) within [min, max]
 */
#include <math.h>
#include <string.h>

#include "bwe/bwe.h"

#define DEFAULT_MIN_BPS 30000
#define DEFAULT_MAX_BPS 10000000
#define DEFAULT_START_BPS 300000
#define DEFAULT_RTT_US 100000

/* Arrival groups: packets sent within one burst time form a group (§5.2). */
#define BURST_US 5000
/* Between groups further apart than this (either way: a peer's clock can
 * jump) the delay history says nothing about the present queue: start the
 * trendline over. */
#define MAX_GROUP_GAP_US 3000000

/* Trendline: smoothing of the accumulated delay, and the scaling that brings
 * the slope to the threshold's milliseconds (the slope times the number of
 * deltas behind it, capped, times a gain). */
#define DELAY_SMOOTHING 0.9
#define TREND_GAIN 4.0
#define TREND_MAX_DELTAS 60

/* Over-use detector (§5.4). */
#define THRESHOLD_INIT_MS 12.5
#define THRESHOLD_MIN_MS 6.0
#define THRESHOLD_MAX_MS 600.0
#define THRESHOLD_K_UP 0.01       /* per ms, while |m| is above the threshold */
#define THRESHOLD_K_DOWN 0.00018  /* per ms, while below */
#define THRESHOLD_MAX_STEP_MS 100.0
#define THRESHOLD_SPIKE_MS 15.0  /* |m| this far above: a spike, do not adapt */
#define OVERUSE_TIME_MS 10.0

/* Rate controller (§5.5). */
#define DECREASE_FACTOR 0.85     /* beta: of the acknowledged bitrate */
#define INCREASE_PER_S 1.08      /* eta: multiplicative, far from convergence */
/* Until the first decrease nothing is known of the path: grow faster. This
 * stands in for start-up probing (padding sent to find the capacity), which
 * Junction does not do. */
#define STARTUP_INCREASE_PER_S 1.5
#define RESPONSE_BASE_US 100000  /* response time = 100 ms + RTT */
#define ADDITIVE_MIN_BPS 1000.0
#define PACKET_BITS (1200 * 8)
#define FRAMES_PER_S 30
#define MAX_STD_DEVS 3.0
#define MAX_DEV_MIN 0.02         /* relative std deviation of the average max bitrate */
#define MAX_DEV_MAX 0.2
#define MAX_DEV_INIT 0.05
#define MAX_AVG_WEIGHT 0.05
/* The estimate may not grow past what the path has shown it carries. */
#define ACKED_HEADROOM 1.5
#define ACKED_HEADROOM_BPS 10000.0

/* Acknowledged bitrate window. */
#define ACKED_WINDOW_US 500000
#define ACKED_MIN_SPAN_US 100000
/* An arrival this far before the newest means the peer's clock jumped back. */
#define ACKED_CLOCK_JUMP_US 10000000

/* Loss-based controller (§6), evaluated per window of at least this many
 * packets and this long, so a few packets do not swing it. */
#define LOSS_LOW 0.02
#define LOSS_HIGH 0.10
#define LOSS_INCREASE 1.05
#define LOSS_WINDOW_PACKETS 20
#define LOSS_WINDOW_US 300000

void bwe_gcc_init(bwe_gcc *g, const bwe_gcc_config *cfg)
{
    memset(g, 0, sizeof *g);
    if (cfg) g->cfg = *cfg;
    if (!g->cfg.min_bps) g->cfg.min_bps = DEFAULT_MIN_BPS;
    if (!g->cfg.max_bps) g->cfg.max_bps = DEFAULT_MAX_BPS;
    if (g->cfg.max_bps < g->cfg.min_bps) g->cfg.max_bps = g->cfg.min_bps;
    if (!g->cfg.start_bps) g->cfg.start_bps = DEFAULT_START_BPS;
    if (g->cfg.start_bps < g->cfg.min_bps) g->cfg.start_bps = g->cfg.min_bps;
    if (g->cfg.start_bps > g->cfg.max_bps) g->cfg.start_bps = g->cfg.max_bps;
    g->rtt_us = DEFAULT_RTT_US;
    g->threshold_ms = THRESHOLD_INIT_MS;
    g->overuse_ms = -1;
    g->usage = BWE_USAGE_NORMAL;
    g->rate_state = BWE_RATE_HOLD;
    g->delay_bps = (double)g->cfg.start_bps;
    g->startup = true;
    g->var_max = MAX_DEV_INIT * MAX_DEV_INIT;
    g->loss_bps = (double)g->cfg.start_bps;
    g->target_bps = g->cfg.start_bps;
}

void bwe_gcc_set_rtt(bwe_gcc *g, uint64_t rtt_us) { g->rtt_us = rtt_us; }

static double clamp(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- acknowledged bitrate ------------------------------------------------ */

static void acked_pop(bwe_gcc *g)
{
    g->acked_bytes -= g->acked_size[g->acked_head];
    g->acked_head = (g->acked_head + 1) % BWE_GCC_ACKED_RING;
    g->acked_count--;
}

static void acked_add(bwe_gcc *g, int64_t recv_us, uint32_t size)
{
    if (!g->have_first_recv || recv_us < g->newest_recv_us - ACKED_CLOCK_JUMP_US) {
        g->have_first_recv = true;
        g->acked_head = g->acked_count = 0;
        g->acked_bytes = 0;
        g->dropped_any = false;
        g->first_recv_us = g->newest_recv_us = recv_us;
    }
    if (recv_us > g->newest_recv_us) g->newest_recv_us = recv_us;
    if (g->acked_count == BWE_GCC_ACKED_RING) {
        /* Full: the window shrinks to what the ring holds. */
        int64_t dropped = g->acked_recv_us[g->acked_head];
        if (!g->dropped_any || dropped > g->dropped_recv_us) g->dropped_recv_us = dropped;
        g->dropped_any = true;
        acked_pop(g);
    }
    unsigned tail = (g->acked_head + g->acked_count) % BWE_GCC_ACKED_RING;
    if (size > UINT16_MAX) size = UINT16_MAX;
    g->acked_recv_us[tail] = recv_us;
    g->acked_size[tail] = (uint16_t)size;
    g->acked_count++;
    g->acked_bytes += size;
    while (g->acked_count > 0 &&
           g->acked_recv_us[g->acked_head] <= g->newest_recv_us - ACKED_WINDOW_US)
        acked_pop(g);
}

static void acked_update_rate(bwe_gcc *g)
{
    if (!g->have_first_recv) return;
    int64_t span = ACKED_WINDOW_US;
    if (g->newest_recv_us - g->first_recv_us < span) span = g->newest_recv_us - g->first_recv_us;
    if (g->dropped_any && g->newest_recv_us - g->dropped_recv_us < span)
        span = g->newest_recv_us - g->dropped_recv_us;
    g->acked_bps = span >= ACKED_MIN_SPAN_US ? (double)g->acked_bytes * 8e6 / (double)span : 0;
}

uint64_t bwe_gcc_recent_acked_bps(const bwe_gcc *g, uint64_t window_us)
{
    if (!g->have_first_recv || window_us == 0 || window_us > ACKED_WINDOW_US) return 0;
    int64_t since = g->newest_recv_us - (int64_t)window_us;
    if (since < g->first_recv_us || (g->dropped_any && since < g->dropped_recv_us)) return 0;
    uint64_t bytes = 0;
    /* Newest first: arrivals are kept in the order reported, which is sequence order. */
    for (unsigned n = g->acked_count; n > 0; n--) {
        unsigned i = (g->acked_head + n - 1) % BWE_GCC_ACKED_RING;
        if (g->acked_recv_us[i] <= since) break;
        bytes += g->acked_size[i];
    }
    return bytes * 8000000u / window_us;
}

/* ---- trendline and over-use detector ------------------------------------- */

static void reset_trendline(bwe_gcc *g)
{
    g->have_origin = false;
    g->acc_delay_ms = 0;
    g->smoothed_delay_ms = 0;
    g->trend_count = 0;
    g->trend_next = 0;
    g->num_deltas = 0;
    g->trend = 0;
}

/* Least-squares slope of the window's (arrival time, smoothed delay) points. */
static double regression_slope(const bwe_gcc *g)
{
    double mean_x = 0, mean_y = 0;
    for (unsigned i = 0; i < BWE_GCC_TREND_WINDOW; i++) {
        mean_x += g->trend_x_ms[i];
        mean_y += g->trend_y_ms[i];
    }
    mean_x /= BWE_GCC_TREND_WINDOW;
    mean_y /= BWE_GCC_TREND_WINDOW;
    double num = 0, den = 0;
    for (unsigned i = 0; i < BWE_GCC_TREND_WINDOW; i++) {
        double dx = g->trend_x_ms[i] - mean_x;
        num += dx * (g->trend_y_ms[i] - mean_y);
        den += dx * dx;
    }
    return den > 0 ? num / den : g->trend;
}

/* §5.4: the threshold follows |m| slowly, faster upwards than downwards, so
 * it tolerates the path's usual delay noise yet a rising queue crosses it.
 * Unlike the draft, m below -threshold does not raise it: that is a queue
 * draining after our own decrease, not noise, and a threshold raised by it
 * detects the next over-use late (in the step-down trace of gcc_test the
 * queue then averaged 134 ms instead of 15 ms). */
static void adapt_threshold(bwe_gcc *g, double m, int64_t recv_us)
{
    if (!g->have_threshold_time) {
        g->have_threshold_time = true;
        g->last_threshold_recv_us = recv_us;
    }
    double dt_ms = (double)(recv_us - g->last_threshold_recv_us) / 1000.0;
    g->last_threshold_recv_us = recv_us;
    double abs_m = fabs(m);
    if (abs_m > g->threshold_ms + THRESHOLD_SPIKE_MS || m < -g->threshold_ms) return;
    double k = abs_m < g->threshold_ms ? THRESHOLD_K_DOWN : THRESHOLD_K_UP;
    g->threshold_ms += k * (abs_m - g->threshold_ms) * clamp(dt_ms, 0, THRESHOLD_MAX_STEP_MS);
    g->threshold_ms = clamp(g->threshold_ms, THRESHOLD_MIN_MS, THRESHOLD_MAX_MS);
}

static void detect(bwe_gcc *g, double send_delta_ms, int64_t recv_us)
{
    unsigned deltas = g->num_deltas < TREND_MAX_DELTAS ? g->num_deltas : TREND_MAX_DELTAS;
    double m = g->trend * deltas * TREND_GAIN;
    g->modified_trend = m;
    if (m > g->threshold_ms) {
        /* Over-use must last OVERUSE_TIME_MS and still be growing. */
        g->overuse_ms = g->overuse_ms < 0 ? send_delta_ms / 2 : g->overuse_ms + send_delta_ms;
        g->overuse_count++;
        if (g->overuse_ms > OVERUSE_TIME_MS && g->overuse_count > 1 && m >= g->prev_modified_trend) {
            g->usage = BWE_USAGE_OVERUSE;
            g->overuse_ms = 0;
            g->overuse_count = 0;
        }
    } else {
        g->overuse_ms = -1;
        g->overuse_count = 0;
        g->usage = m < -g->threshold_ms ? BWE_USAGE_UNDERUSE : BWE_USAGE_NORMAL;
    }
    g->prev_modified_trend = m;
    adapt_threshold(g, m, recv_us);
}

/* One inter-group delay variation d (ms) observed at recv_us. */
static void trendline_update(bwe_gcc *g, double d_ms, double send_delta_ms, int64_t recv_us)
{
    if (!g->have_origin) {
        g->have_origin = true;
        g->origin_recv_us = recv_us;
    }
    if (g->num_deltas < UINT32_MAX) g->num_deltas++;
    g->acc_delay_ms += d_ms;
    g->smoothed_delay_ms = DELAY_SMOOTHING * g->smoothed_delay_ms + (1 - DELAY_SMOOTHING) * g->acc_delay_ms;
    g->trend_x_ms[g->trend_next] = (double)(recv_us - g->origin_recv_us) / 1000.0;
    g->trend_y_ms[g->trend_next] = g->smoothed_delay_ms;
    g->trend_next = (g->trend_next + 1) % BWE_GCC_TREND_WINDOW;
    if (g->trend_count < BWE_GCC_TREND_WINDOW) g->trend_count++;
    if (g->trend_count < BWE_GCC_TREND_WINDOW) return; /* too few points for a trend */
    g->trend = regression_slope(g);
    detect(g, send_delta_ms, recv_us);
}

/* The current group is complete: compare it with the previous one. */
static void close_group(bwe_gcc *g)
{
    if (g->have_prev_group) {
        int64_t recv_delta_us = g->group.last_recv_us - g->prev_group.last_recv_us;
        double send_delta_ms = (double)(g->group.last_send_us - g->prev_group.last_send_us) / 1000.0;
        if (recv_delta_us > MAX_GROUP_GAP_US || recv_delta_us < -MAX_GROUP_GAP_US)
            reset_trendline(g);
        else if (recv_delta_us >= 0) /* a group overtaken by the next one says nothing */
            trendline_update(g, (double)recv_delta_us / 1000.0 - send_delta_ms, send_delta_ms,
                             g->group.last_recv_us);
    }
    g->prev_group = g->group;
    g->have_prev_group = true;
}

/* §5.2: same group when sent within a burst time of the group's first packet,
 * or when it arrived within a burst time of the group's last packet and
 * earlier than its send spacing predicts (a burst released by the network). */
static bool in_group(const bwe_gcc *g, const bwe_twcc_result *r)
{
    if (r->send_us - g->group.first_send_us <= BURST_US) return true;
    int64_t recv_delta = r->recv_us - g->group.last_recv_us;
    int64_t send_delta = (int64_t)r->send_us - (int64_t)g->group.last_send_us;
    return recv_delta < BURST_US && recv_delta - send_delta < 0;
}

static void on_arrival(bwe_gcc *g, const bwe_twcc_result *r)
{
    if (g->have_group && r->send_us < g->group.first_send_us) return; /* reordered */
    if (g->have_group && in_group(g, r)) {
        if (r->send_us > g->group.last_send_us) g->group.last_send_us = r->send_us;
        if (r->recv_us > g->group.last_recv_us) g->group.last_recv_us = r->recv_us;
        return;
    }
    if (g->have_group) close_group(g);
    g->group = (bwe_gcc_group){.first_send_us = r->send_us, .last_send_us = r->send_us,
                               .last_recv_us = r->recv_us};
    g->have_group = true;
}

/* ---- rate controller ----------------------------------------------------- */

static double max_dev(const bwe_gcc *g) { return clamp(sqrt(g->var_max), MAX_DEV_MIN, MAX_DEV_MAX); }

/* Average of the acknowledged bitrate at decreases: where the link's capacity
 * has been. Far outside it, the capacity changed and is unknown again. */
static void update_max(bwe_gcc *g, double acked)
{
    if (g->have_max && acked < g->avg_max_bps * (1 - MAX_STD_DEVS * max_dev(g))) g->have_max = false;
    if (!g->have_max) {
        g->have_max = true;
        g->avg_max_bps = acked;
        return;
    }
    g->avg_max_bps = (1 - MAX_AVG_WEIGHT) * g->avg_max_bps + MAX_AVG_WEIGHT * acked;
    double dev = (acked - g->avg_max_bps) / g->avg_max_bps;
    g->var_max = (1 - MAX_AVG_WEIGHT) * g->var_max + MAX_AVG_WEIGHT * dev * dev;
}

/* Near convergence: about half a packet per response time. */
static double additive_increase(const bwe_gcc *g, double dt_us)
{
    double response_us = RESPONSE_BASE_US + (double)g->rtt_us;
    double bits_per_frame = g->delay_bps / FRAMES_PER_S;
    double packets_per_frame = ceil(bits_per_frame / PACKET_BITS);
    double packet_bits = packets_per_frame > 0 ? bits_per_frame / packets_per_frame : PACKET_BITS;
    double alpha = 0.5 * clamp(dt_us / response_us, 0, 1);
    double step = alpha * packet_bits;
    return step > ADDITIVE_MIN_BPS ? step : ADDITIVE_MIN_BPS;
}

static void rate_update(bwe_gcc *g, uint64_t now_us)
{
    switch (g->usage) {
    case BWE_USAGE_OVERUSE:
        g->rate_state = BWE_RATE_DECREASE;
        break;
    case BWE_USAGE_UNDERUSE:
        g->rate_state = BWE_RATE_HOLD;
        break;
    case BWE_USAGE_NORMAL:
        if (g->rate_state == BWE_RATE_HOLD)
            g->rate_state = BWE_RATE_INCREASE;
        else if (g->rate_state == BWE_RATE_DECREASE)
            g->rate_state = BWE_RATE_HOLD;
        break;
    }
    double dt_us = 0;
    if (g->have_rate_update && now_us > g->last_rate_update_us)
        dt_us = clamp((double)(now_us - g->last_rate_update_us), 0, 1e6);
    g->have_rate_update = true;
    g->last_rate_update_us = now_us;
    double acked = g->acked_bps;

    if (g->rate_state == BWE_RATE_INCREASE) {
        if (g->have_max && acked > g->avg_max_bps * (1 + MAX_STD_DEVS * max_dev(g)))
            g->have_max = false;
        double next;
        if (g->have_max)
            next = g->delay_bps + additive_increase(g, dt_us);
        else
            next = g->delay_bps *
                   pow(g->startup ? STARTUP_INCREASE_PER_S : INCREASE_PER_S, dt_us / 1e6);
        if (acked > 0) {
            double cap = ACKED_HEADROOM * acked + ACKED_HEADROOM_BPS;
            if (next > cap) next = cap > g->delay_bps ? cap : g->delay_bps;
            /* What arrived without queues building is available: received bytes over their
             * arrival span never exceed the bottleneck. A sender that follows the estimate
             * never acks more than it; one that cannot (an SFU) would otherwise climb back
             * from a decrease at a few percent per second while the link carries far more. */
            if (next < acked) next = acked;
        }
        g->delay_bps = next;
    } else if (g->rate_state == BWE_RATE_DECREASE) {
        /* One decrease per response time: the queue needs that long to show
         * the effect of the previous one. */
        bool recent = g->have_decrease &&
                      now_us - g->last_decrease_us < RESPONSE_BASE_US + g->rtt_us;
        if (!recent) {
            double base = acked > 0 ? acked : g->delay_bps;
            if (DECREASE_FACTOR * base < g->delay_bps) g->delay_bps = DECREASE_FACTOR * base;
            if (acked > 0) update_max(g, acked);
            g->startup = false;
            g->have_decrease = true;
            g->last_decrease_us = now_us;
        }
    }
    g->delay_bps = clamp(g->delay_bps, (double)g->cfg.min_bps, (double)g->cfg.max_bps);
}

/* ---- loss-based controller and the target -------------------------------- */

/* The delay-based bound: A with transport-cc, else REMB, else the start rate. */
static double delay_bound(const bwe_gcc *g)
{
    if (g->have_remb && (!g->have_twcc || g->remb_bps < g->delay_bps)) return g->remb_bps;
    return g->delay_bps;
}

static void update_target(bwe_gcc *g)
{
    double t = delay_bound(g);
    if (g->loss_limited && g->loss_bps < t) t = g->loss_bps;
    g->target_bps = (uint64_t)clamp(t, (double)g->cfg.min_bps, (double)g->cfg.max_bps);
}

/* §6: over 10% loss decrease by half the loss; under 2% increase by 5%;
 * between, hold. While it has nothing against the delay-based bound, the
 * loss-based estimate follows it instead of lagging at 5% per step. */
static void loss_update(bwe_gcc *g, double loss)
{
    g->loss_ratio = loss;
    double current = (double)g->target_bps;
    if (loss < LOSS_LOW) {
        if (g->loss_limited) {
            g->loss_bps *= LOSS_INCREASE;
            if (g->loss_bps >= delay_bound(g)) g->loss_limited = false;
        }
    } else if (loss <= LOSS_HIGH) {
        if (!g->loss_limited) {
            g->loss_bps = current;
            g->loss_limited = true;
        }
    } else {
        g->loss_bps = (g->loss_limited ? g->loss_bps : current) * (1 - 0.5 * loss);
        /* Never below what got through: the path demonstrably carries that much. A sender
         * that follows the estimate sends less after each decrease, so this stays below it;
         * one that cannot (an SFU forwarding a stream it cannot thin) keeps losing the same
         * share, which says nothing more about the path. */
        if (g->loss_bps < g->acked_bps) g->loss_bps = g->acked_bps;
        g->loss_limited = true;
    }
    g->loss_bps = clamp(g->loss_bps, (double)g->cfg.min_bps, (double)g->cfg.max_bps);
}

void bwe_gcc_on_feedback(bwe_gcc *g, const bwe_twcc_result *res, size_t n, uint64_t now_us)
{
    if (n == 0) return;
    g->have_twcc = true;
    if (!g->have_window) {
        g->have_window = true;
        g->window_start_us = now_us;
    }
    for (size_t i = 0; i < n; i++) {
        const bwe_twcc_result *r = &res[i];
        if (r->reported_lost_before) {
            /* Already counted lost; its late arrival says nothing of the queue. */
            if (r->received) acked_add(g, r->recv_us, r->size);
            continue;
        }
        g->window_total++;
        if (!r->received) {
            g->window_lost++;
            continue;
        }
        acked_add(g, r->recv_us, r->size);
        on_arrival(g, r);
    }
    acked_update_rate(g);
    rate_update(g, now_us);
    if (g->window_total >= LOSS_WINDOW_PACKETS && now_us - g->window_start_us >= LOSS_WINDOW_US) {
        loss_update(g, (double)g->window_lost / g->window_total);
        g->window_lost = g->window_total = 0;
        g->window_start_us = now_us;
    }
    update_target(g);
}

void bwe_gcc_on_remb(bwe_gcc *g, uint64_t bitrate_bps)
{
    g->have_remb = true;
    g->remb_bps = (double)bitrate_bps;
    update_target(g);
}

void bwe_gcc_on_loss_report(bwe_gcc *g, uint8_t fraction_lost)
{
    if (g->have_twcc) return;
    loss_update(g, fraction_lost / 256.0);
    update_target(g);
}

uint64_t bwe_gcc_target_bps(const bwe_gcc *g) { return g->target_bps; }

uint64_t bwe_gcc_acked_bps(const bwe_gcc *g) { return (uint64_t)g->acked_bps; }
