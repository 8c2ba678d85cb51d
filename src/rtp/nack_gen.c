/* nack_gen.c - missing-packet list of one RTP source and its request timing. */
#include "rtp/nack_gen.h"

#include <string.h>

#include "rtp/seqext.h"

#define DEFAULT_REORDER_DELAY_US 5000
#define DEFAULT_MAX_AGE_US 1000000
#define DEFAULT_RTT_US 100000
#define DEFAULT_MAX_RETRIES 10
#define MIN_RETRY_INTERVAL_US 10000
/* Further behind than this, a packet is not a late one but a new numbering. */
#define RESTART_DISTANCE (2 * RTP_NACK_GEN_CAPACITY)

void rtp_nack_gen_init(rtp_nack_gen *g, const rtp_nack_gen_config *cfg)
{
    memset(g, 0, offsetof(rtp_nack_gen, missing));
    if (cfg) g->cfg = *cfg;
    if (!g->cfg.reorder_delay_us) g->cfg.reorder_delay_us = DEFAULT_REORDER_DELAY_US;
    if (!g->cfg.max_age_us) g->cfg.max_age_us = DEFAULT_MAX_AGE_US;
    if (!g->cfg.default_rtt_us) g->cfg.default_rtt_us = DEFAULT_RTT_US;
    if (!g->cfg.max_retries) g->cfg.max_retries = DEFAULT_MAX_RETRIES;
    g->rtt_us = g->cfg.default_rtt_us;
}

void rtp_nack_gen_set_rtt(rtp_nack_gen *g, uint64_t rtt_us) { g->rtt_us = rtt_us; }

static uint64_t retry_interval(const rtp_nack_gen *g)
{
    return g->rtt_us > MIN_RETRY_INTERVAL_US ? g->rtt_us : MIN_RETRY_INTERVAL_US;
}

static void start_at(rtp_nack_gen *g, uint16_t seq)
{
    g->started = true;
    g->highest = rtp_seq_ext_first(seq);
    g->have_candidate = false;
    g->count = 0;
}

/* Index of ext_seq in the sorted list, or of where it would go. */
static size_t lower_bound(const rtp_nack_gen *g, uint64_t ext_seq)
{
    size_t lo = 0, hi = g->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->missing[mid].ext_seq < ext_seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A packet further behind than RESTART_DISTANCE is never matched against the
 * list, so entries that far behind can no longer be recovered: give up. */
static void drop_unreachable(rtp_nack_gen *g)
{
    size_t k = 0;
    while (k < g->count && g->highest - g->missing[k].ext_seq > RESTART_DISTANCE) k++;
    if (k == 0) return;
    memmove(&g->missing[0], &g->missing[k], (g->count - k) * sizeof g->missing[0]);
    g->count -= k;
    g->abandoned += k;
    g->keyframe_wanted = true;
}

rtp_nack_gen_verdict rtp_nack_gen_on_packet(rtp_nack_gen *g, uint16_t seq, uint64_t now_us)
{
    if (!g->started) {
        start_at(g, seq);
        return RTP_NACK_GEN_IN_ORDER;
    }
    uint64_t ext = rtp_seq_extend(g->highest, seq);
    if (ext > g->highest) {
        g->have_candidate = false;
        uint64_t gap = ext - g->highest - 1;
        if (gap > RTP_NACK_GEN_CAPACITY - g->count) {
            /* More loss than the list holds: retransmission cannot catch up. */
            g->count = 0;
            g->overflows++;
            g->keyframe_wanted = true;
        } else {
            for (uint64_t s = g->highest + 1; s < ext; s++)
                g->missing[g->count++] = (rtp_nack_gen_entry){.ext_seq = s, .detected_us = now_us};
        }
        g->highest = ext;
        drop_unreachable(g);
        return RTP_NACK_GEN_IN_ORDER;
    }
    if (g->highest - ext > RESTART_DISTANCE) {
        if (g->have_candidate && seq == g->restart_candidate) {
            start_at(g, seq);
            return RTP_NACK_GEN_RESTARTED;
        }
        g->have_candidate = true;
        g->restart_candidate = (uint16_t)(seq + 1);
        return RTP_NACK_GEN_LATE;
    }
    g->have_candidate = false;
    size_t i = lower_bound(g, ext);
    if (i == g->count || g->missing[i].ext_seq != ext) return RTP_NACK_GEN_LATE;
    memmove(&g->missing[i], &g->missing[i + 1], (g->count - i - 1) * sizeof g->missing[0]);
    g->count--;
    g->recovered++;
    return RTP_NACK_GEN_RECOVERED;
}

/* The time an entry must be given up at, or UINT64_MAX while requests remain. */
static uint64_t give_up_at(const rtp_nack_gen *g, const rtp_nack_gen_entry *e)
{
    uint64_t too_old = e->detected_us + g->cfg.max_age_us;
    if (e->sends < g->cfg.max_retries) return too_old;
    uint64_t unanswered = e->sent_us + retry_interval(g);
    return unanswered < too_old ? unanswered : too_old;
}

/* The time the entry's next request is due (entries with requests left). */
static uint64_t request_due(const rtp_nack_gen *g, const rtp_nack_gen_entry *e)
{
    return e->sends == 0 ? e->detected_us + g->cfg.reorder_delay_us : e->sent_us + retry_interval(g);
}

size_t rtp_nack_gen_handle_timeout(rtp_nack_gen *g, uint64_t now_us, uint16_t *out, size_t cap)
{
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < g->count; i++) {
        rtp_nack_gen_entry e = g->missing[i];
        if (now_us >= give_up_at(g, &e)) {
            g->abandoned++;
            g->keyframe_wanted = true;
            continue;
        }
        if (e.sends < g->cfg.max_retries && now_us >= request_due(g, &e) && n < cap) {
            out[n++] = (uint16_t)e.ext_seq;
            e.sent_us = now_us;
            e.sends++;
            g->requested++;
        }
        g->missing[kept++] = e;
    }
    g->count = kept;
    return n;
}

uint64_t rtp_nack_gen_poll_timeout(const rtp_nack_gen *g)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < g->count; i++) {
        const rtp_nack_gen_entry *e = &g->missing[i];
        uint64_t t = give_up_at(g, e);
        if (e->sends < g->cfg.max_retries) {
            uint64_t due = request_due(g, e);
            if (due < t) t = due;
        }
        if (t < next) next = t;
    }
    return next;
}

bool rtp_nack_gen_take_keyframe_request(rtp_nack_gen *g)
{
    bool wanted = g->keyframe_wanted;
    g->keyframe_wanted = false;
    return wanted;
}

size_t rtp_nack_gen_missing(const rtp_nack_gen *g) { return g->count; }
