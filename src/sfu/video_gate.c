/* video_gate.c - pause a subscriber's video below a bandwidth floor, probe to resume. */
#include "sfu/video_gate.h"

#include <string.h>

#define DEFAULT_RESUME_MARGIN_PCT 25u
#define DEFAULT_PAUSE_AFTER_US 1000000u
#define DEFAULT_GRACE_US 3000000u
#define DEFAULT_PROBE_AFTER_US 4000000u
#define DEFAULT_PROBE_AFTER_MAX_US 32000000u

void sfu_video_gate_init(sfu_video_gate *g, const sfu_video_gate_config *cfg)
{
    memset(g, 0, sizeof *g);
    if (cfg) g->cfg = *cfg;
    sfu_video_gate_config *c = &g->cfg;
    if (!c->resume_margin_pct) c->resume_margin_pct = DEFAULT_RESUME_MARGIN_PCT;
    if (!c->pause_after_us) c->pause_after_us = DEFAULT_PAUSE_AFTER_US;
    if (!c->grace_us) c->grace_us = DEFAULT_GRACE_US;
    if (!c->probe_after_us) c->probe_after_us = DEFAULT_PROBE_AFTER_US;
    if (!c->probe_after_max_us) c->probe_after_max_us = DEFAULT_PROBE_AFTER_MAX_US;
    g->probe_wait_us = c->probe_after_us;
}

uint64_t sfu_video_gate_probe_start_bps(const sfu_video_gate *g)
{
    return g->cfg.min_bps * (100u + g->cfg.resume_margin_pct) / 100u;
}

static sfu_video_gate_event resume(sfu_video_gate *g, sfu_video_gate_event ev, uint64_t now_us)
{
    g->paused = false;
    g->below = false;
    g->grace_until_us = now_us + g->cfg.grace_us;
    return ev;
}

sfu_video_gate_event sfu_video_gate_update(sfu_video_gate *g, uint64_t estimate_bps,
                                           uint64_t now_us)
{
    if (!g->cfg.min_bps) return SFU_VIDEO_GATE_NONE;
    if (g->paused) {
        if (estimate_bps >= sfu_video_gate_probe_start_bps(g)) {
            g->probe_wait_us = g->cfg.probe_after_us;
            return resume(g, SFU_VIDEO_GATE_RESUME, now_us);
        }
        if (now_us - g->paused_us < g->probe_wait_us) return SFU_VIDEO_GATE_NONE;
        /* If this probe fails too, wait twice as long for the next. */
        g->probe_wait_us *= 2;
        if (g->probe_wait_us > g->cfg.probe_after_max_us) g->probe_wait_us = g->cfg.probe_after_max_us;
        return resume(g, SFU_VIDEO_GATE_PROBE, now_us);
    }
    if (now_us < g->grace_until_us) return SFU_VIDEO_GATE_NONE;
    if (estimate_bps >= g->cfg.min_bps) {
        g->below = false;
        g->probe_wait_us = g->cfg.probe_after_us; /* video holds: the last probe worked */
        return SFU_VIDEO_GATE_NONE;
    }
    if (!g->below) {
        g->below = true;
        g->below_since_us = now_us;
    }
    if (now_us - g->below_since_us < g->cfg.pause_after_us) return SFU_VIDEO_GATE_NONE;
    g->paused = true;
    g->paused_us = now_us;
    return SFU_VIDEO_GATE_PAUSE;
}
