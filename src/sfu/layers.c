/* layers.c - layer selection policy, per-packet layer selector, layer bitrate meter. */
#include <string.h>

#include "sfu/layers.h"

void sfu_layers_init(sfu_layers *l, sfu_layers_mode mode, const sfu_layers_config *cfg)
{
    memset(l, 0, sizeof *l);
    l->mode = mode;
    if (cfg) l->cfg = *cfg;
    if (!l->cfg.up_margin_pct) l->cfg.up_margin_pct = SFU_LAYERS_DEFAULT_UP_MARGIN_PCT;
    if (!l->cfg.up_hold_us) l->cfg.up_hold_us = SFU_LAYERS_DEFAULT_UP_HOLD_US;
    if (!l->cfg.display_slack_pct) l->cfg.display_slack_pct = SFU_LAYERS_DEFAULT_DISPLAY_SLACK_PCT;
    l->state = SFU_LAYERS_OFF_NO_SOURCE;
    l->target_spatial = l->target_temporal = -1;
    l->current_spatial = l->current_temporal = l->prev_temporal = -1;
}

/* ---- policy ----------------------------------------------------------------------------- */

typedef struct {
    int8_t s, t;
} layer;

static const layer no_layer = {-1, -1};

static bool is_layer(layer x) { return x.s >= 0; }

/* Candidates are ordered spatial first: a lower frame rate at a higher resolution beats a
 * lower resolution, so a small squeeze costs frame rate (no keyframe) before resolution. */
static bool better(layer a, layer b) { return a.s > b.s || (a.s == b.s && a.t > b.t); }

static uint8_t min_u8(uint8_t a, uint8_t b) { return a < b ? a : b; }

static bool is_active(const sfu_layers_source *src, layer x)
{
    return x.s >= 0 && x.s < SFU_LAYERS_MAX_SPATIAL && x.t >= 0 &&
           x.t < min_u8(src->temporal_layers[x.s], SFU_LAYERS_MAX_TEMPORAL);
}

/* The lowest spatial layer whose area, with the configured slack, covers the tile; the
 * largest when none does; no limit when the tile or a layer's size is unknown. */
static uint8_t display_cap(const sfu_layers_source *src, const sfu_layers_sub *sub,
                           uint32_t slack_pct)
{
    if (!sub->display_width || !sub->display_height) return SFU_LAYER_ANY;
    uint64_t tile = (uint64_t)sub->display_width * sub->display_height;
    int8_t largest = -1;
    for (int8_t s = 0; s < SFU_LAYERS_MAX_SPATIAL; s++) {
        if (!src->temporal_layers[s]) continue;
        if (!src->width[s] || !src->height[s]) return SFU_LAYER_ANY;
        uint64_t area = (uint64_t)src->width[s] * src->height[s];
        if (area * 100 >= tile * (100 - (slack_pct < 100 ? slack_pct : 99))) return (uint8_t)s;
        largest = s;
    }
    return largest < 0 ? SFU_LAYER_ANY : (uint8_t)largest;
}

/* Does target x fit the budget with margin_pct to spare? Without an estimate everything
 * does; a layer whose bitrate is not measured yet does not. */
static bool fits(const sfu_layers_source *src, layer x, uint64_t budget, uint32_t margin_pct)
{
    if (budget == 0) return true;
    uint64_t rate = src->bitrate_bps[x.s][x.t];
    return rate > 0 && rate * (100 + margin_pct) <= budget * 100;
}

/* The best active layer within the caps that fits with margin_pct to spare. */
static layer best_fit(const sfu_layers_source *src, uint8_t cap_s, uint8_t cap_t,
                      uint64_t budget, uint32_t margin_pct)
{
    for (int8_t s = (int8_t)min_u8(cap_s, SFU_LAYERS_MAX_SPATIAL - 1); s >= 0; s--)
        for (int8_t t = (int8_t)min_u8(cap_t, SFU_LAYERS_MAX_TEMPORAL - 1); t >= 0; t--) {
            layer x = {s, t};
            if (is_active(src, x) && fits(src, x, budget, margin_pct)) return x;
        }
    return no_layer;
}

/* The lowest active layer: where to start when nothing is measured yet. */
static layer lowest_layer(const sfu_layers_source *src)
{
    for (int8_t s = 0; s < SFU_LAYERS_MAX_SPATIAL; s++) {
        layer x = {s, 0};
        if (is_active(src, x)) return x;
    }
    return no_layer;
}

static bool within_caps(layer x, uint8_t cap_s, uint8_t cap_t)
{
    return x.s <= cap_s && x.t <= cap_t;
}

static sfu_layers_target set_target(sfu_layers *l, sfu_layers_state state, layer x)
{
    if (state != SFU_LAYERS_FORWARDING) x = no_layer;
    if (x.s != l->target_spatial || x.t != l->target_temporal || state != l->state)
        l->up_pending = false;
    l->state = state;
    l->target_spatial = x.s;
    l->target_temporal = x.t;
    sfu_layers_target out = {.state = state};
    if (state == SFU_LAYERS_FORWARDING) {
        out.spatial = (uint8_t)x.s;
        out.temporal = (uint8_t)x.t;
        out.keyframe_needed = l->current_spatial != x.s;
    }
    return out;
}

/* An up-switch the estimate allows happens once it has been allowed for the hold time, or at
 * once when the caps were just raised (the subscriber asked for more). */
static bool up_switch_due(sfu_layers *l, bool caps_raised, uint64_t now_us)
{
    if (caps_raised) return true;
    if (!l->up_pending) {
        l->up_pending = true;
        l->up_since_us = now_us;
        return false;
    }
    return now_us - l->up_since_us >= l->cfg.up_hold_us;
}

sfu_layers_target sfu_layers_update(sfu_layers *l, const sfu_layers_sub *sub,
                                    const sfu_layers_source *src, uint64_t now_us)
{
    if (sub->audio_only) return set_target(l, SFU_LAYERS_OFF_AUDIO_ONLY, no_layer);
    if (!sub->visible) return set_target(l, SFU_LAYERS_OFF_HIDDEN, no_layer);

    layer lowest = lowest_layer(src);
    if (!is_layer(lowest)) return set_target(l, SFU_LAYERS_OFF_NO_SOURCE, no_layer);
    uint8_t cap_s = min_u8(sub->max_spatial, display_cap(src, sub, l->cfg.display_slack_pct));
    uint8_t cap_t = sub->max_temporal;
    /* Caps below every active layer (a preference for a layer the publisher does not send)
     * get the lowest one sent: a preference never blanks the video. */
    if (cap_s < (uint8_t)lowest.s) cap_s = (uint8_t)lowest.s;
    bool caps_raised = cap_s > l->cap_spatial || cap_t > l->cap_temporal;
    l->cap_spatial = cap_s;
    l->cap_temporal = cap_t;
    uint64_t budget = sub->budget_bps;
    layer fit = best_fit(src, cap_s, cap_t, budget, 0);
    layer up = best_fit(src, cap_s, cap_t, budget, l->cfg.up_margin_pct);
    layer cur = {l->target_spatial, l->target_temporal};

    if (l->state == SFU_LAYERS_OFF_BANDWIDTH) {
        /* Paused: resume like an up-switch, with margin and hold. A layer not measured yet
         * proves nothing, so it is not tried while paused. */
        if (is_layer(up) && up_switch_due(l, caps_raised, now_us))
            return set_target(l, SFU_LAYERS_FORWARDING, up);
        if (!is_layer(up)) l->up_pending = false;
        return set_target(l, SFU_LAYERS_OFF_BANDWIDTH, no_layer);
    }
    if (l->state != SFU_LAYERS_FORWARDING || !is_active(src, cur) ||
        !within_caps(cur, cap_s, cap_t)) {
        /* (Re)starting, the target's layer stopped, or the caps moved below it: take the
         * best that fits now; an unmeasured lowest layer is where measuring starts. */
        if (is_layer(fit)) return set_target(l, SFU_LAYERS_FORWARDING, fit);
        if (src->bitrate_bps[lowest.s][lowest.t] == 0)
            return set_target(l, SFU_LAYERS_FORWARDING, lowest);
        return set_target(l, SFU_LAYERS_OFF_BANDWIDTH, no_layer);
    }
    if (budget && src->bitrate_bps[cur.s][cur.t] > budget) {
        /* Down at once, to the best that fits, or pause. */
        if (is_layer(fit)) return set_target(l, SFU_LAYERS_FORWARDING, fit);
        return set_target(l, SFU_LAYERS_OFF_BANDWIDTH, no_layer);
    }
    if (is_layer(up) && better(up, cur)) {
        if (up_switch_due(l, caps_raised, now_us)) return set_target(l, SFU_LAYERS_FORWARDING, up);
    } else {
        l->up_pending = false;
    }
    return set_target(l, SFU_LAYERS_FORWARDING, cur);
}

/* The caps of sub on src, as sfu_layers_update sets them. */
static void caps_of(const sfu_layers *l, const sfu_layers_sub *sub, const sfu_layers_source *src,
                    layer lowest, uint8_t *cap_s, uint8_t *cap_t)
{
    *cap_s = min_u8(sub->max_spatial, display_cap(src, sub, l->cfg.display_slack_pct));
    if (*cap_s < (uint8_t)lowest.s) *cap_s = (uint8_t)lowest.s;
    *cap_t = sub->max_temporal;
}

uint64_t sfu_layers_demand_bps(const sfu_layers *l, const sfu_layers_sub *sub,
                               const sfu_layers_source *src)
{
    if (sub->audio_only || !sub->visible) return 0;
    layer lowest = lowest_layer(src);
    if (!is_layer(lowest)) return 0;
    uint8_t cap_s, cap_t;
    caps_of(l, sub, src, lowest, &cap_s, &cap_t);
    layer best = best_fit(src, cap_s, cap_t, 0, 0);
    return is_layer(best) ? src->bitrate_bps[best.s][best.t] : 0;
}

uint64_t sfu_layers_lowest_bps(const sfu_layers_source *src)
{
    layer lowest = lowest_layer(src);
    return is_layer(lowest) ? src->bitrate_bps[lowest.s][lowest.t] : 0;
}

uint64_t sfu_layers_next_bps(const sfu_layers *l, const sfu_layers_sub *sub,
                             const sfu_layers_source *src)
{
    if (sub->audio_only || !sub->visible) return 0;
    layer lowest = lowest_layer(src);
    if (!is_layer(lowest)) return 0;
    if (l->state == SFU_LAYERS_OFF_BANDWIDTH) return src->bitrate_bps[lowest.s][lowest.t];
    if (l->state != SFU_LAYERS_FORWARDING) return 0;
    uint8_t cap_s, cap_t;
    caps_of(l, sub, src, lowest, &cap_s, &cap_t);
    layer cur = {l->target_spatial, l->target_temporal}, next = no_layer;
    /* The cheapest active layer better than the target: candidates in "better" order. */
    for (int8_t s = (int8_t)min_u8(cap_s, SFU_LAYERS_MAX_SPATIAL - 1); s >= 0; s--)
        for (int8_t t = (int8_t)min_u8(cap_t, SFU_LAYERS_MAX_TEMPORAL - 1); t >= 0; t--) {
            layer x = {s, t};
            if (is_active(src, x) && better(x, cur) && src->bitrate_bps[s][t] &&
                (!is_layer(next) || src->bitrate_bps[s][t] < src->bitrate_bps[next.s][next.t]))
                next = x;
        }
    return is_layer(next) ? src->bitrate_bps[next.s][next.t] : 0;
}

/* ---- selector --------------------------------------------------------------------------- */

static bool ts_before(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

/* Switch to the target spatial layer at a keyframe of it: the decoder can start there. */
static bool spatial_switch(sfu_layers *l, const sfu_layer_pkt *p)
{
    if (l->current_spatial == l->target_spatial) return false;
    if (!p->keyframe || !p->frame_start) return false;
    if (l->mode == SFU_LAYERS_SIMULCAST && p->spatial != l->target_spatial) return false;
    /* Pictures from before the switch: the stream they belonged to goes on for SVC, but a new
     * simulcast encoding (or a start) begins at this keyframe. */
    bool continues = l->mode == SFU_LAYERS_SVC && l->current_spatial >= 0;
    l->prev_temporal = continues ? l->current_temporal : -1;
    l->current_spatial = l->target_spatial;
    l->current_temporal = l->target_temporal;
    l->switch_ts = l->picture_ts = p->rtp_ts;
    l->seen_picture = true;
    return true;
}

/* Move the temporal layer toward the target at the first packet of a new picture: down at
 * once, up only as far as a switching point allows. */
static void temporal_switch(sfu_layers *l, const sfu_layer_pkt *p)
{
    bool new_picture = p->frame_start && (!l->seen_picture || ts_before(l->picture_ts, p->rtp_ts));
    if (!new_picture) return;
    l->picture_ts = p->rtp_ts;
    l->seen_picture = true;
    int8_t next = l->current_temporal;
    if (l->target_temporal < next) {
        next = l->target_temporal;
    } else if (l->target_temporal > next && p->switch_up_to > next) {
        next = p->switch_up_to < l->target_temporal ? (int8_t)p->switch_up_to : l->target_temporal;
    }
    if (next == l->current_temporal) return;
    l->prev_temporal = l->current_temporal;
    l->current_temporal = next;
    l->switch_ts = p->rtp_ts;
}

sfu_layer_verdict sfu_layers_on_packet(sfu_layers *l, const sfu_layer_pkt *p, bool *marker)
{
    *marker = p->marker;
    if (l->target_spatial < 0) {
        /* Video off: stop at once; the next start waits for a keyframe. */
        l->current_spatial = l->current_temporal = -1;
        return SFU_LAYER_DROP;
    }
    bool started = l->current_spatial < 0;
    bool switched = spatial_switch(l, p);
    if (l->current_spatial < 0) return SFU_LAYER_DROP;
    if (l->mode == SFU_LAYERS_SIMULCAST && p->spatial != l->current_spatial) return SFU_LAYER_DROP;
    if (!switched) temporal_switch(l, p);

    /* Packets of pictures from before the last temporal switch keep the limit they had. */
    int8_t limit = ts_before(p->rtp_ts, l->switch_ts) ? l->prev_temporal : l->current_temporal;
    if (p->temporal > limit) return SFU_LAYER_DROP;
    if (l->mode == SFU_LAYERS_SVC) {
        if (p->spatial > l->current_spatial) return SFU_LAYER_DROP;
        if (p->spatial < l->current_spatial && p->unused_by_upper) return SFU_LAYER_DROP;
        /* The picture ends, for this subscriber, with the highest layer it receives. */
        *marker = p->marker || (p->frame_end && p->spatial == l->current_spatial);
    }
    bool resync = switched && (started || l->mode == SFU_LAYERS_SIMULCAST);
    return resync ? SFU_LAYER_FORWARD_RESYNC : SFU_LAYER_FORWARD;
}

sfu_layer_pkt sfu_layer_pkt_from_vp8(const vp8_descriptor *d, uint8_t encoding, uint32_t rtp_ts,
                                     bool marker)
{
    uint8_t tid = d->has_tid ? d->tid : 0;
    return (sfu_layer_pkt){
        .spatial = encoding,
        .temporal = tid,
        .rtp_ts = rtp_ts,
        .marker = marker,
        .frame_start = d->frame_start,
        .frame_end = marker,
        .keyframe = d->keyframe,
        .switch_up_to = d->has_tid && d->layer_sync ? tid : 0,
    };
}

sfu_layer_pkt sfu_layer_pkt_from_vp9(const vp9_descriptor *d, uint32_t rtp_ts, bool marker)
{
    return (sfu_layer_pkt){
        .spatial = d->sid,
        .temporal = d->tid,
        .rtp_ts = rtp_ts,
        .marker = marker,
        .frame_start = d->begin_of_frame,
        .frame_end = d->end_of_frame,
        .keyframe = d->keyframe,
        .switch_up_to = d->switching_up ? d->tid : 0,
        .unused_by_upper = d->not_ref_upper,
    };
}

sfu_layer_pkt sfu_layer_pkt_from_dd(const dd_frame *f, const dd_structure *st,
                                    const sfu_layers *l, uint32_t rtp_ts, bool marker)
{
    sfu_layer_pkt p = {
        .spatial = f->spatial_id,
        .temporal = f->temporal_id,
        .rtp_ts = rtp_ts,
        .marker = marker,
        .frame_start = f->start_of_frame,
        .frame_end = f->end_of_frame,
        /* The structure comes with the first packet of a coded video sequence. */
        .keyframe = f->start_of_frame && f->has_structure,
    };
    if (l->target_spatial >= 0) {
        int dt = dd_decode_target_for(st, (uint8_t)l->target_spatial, (uint8_t)l->target_temporal);
        if (dt >= 0 && f->dti[dt] == DD_DTI_SWITCH)
            p.switch_up_to = st->decode_target_temporal[dt];
    }
    if (l->current_spatial >= 0 && f->spatial_id < l->current_spatial) {
        int dt =
            dd_decode_target_for(st, (uint8_t)l->current_spatial, (uint8_t)l->current_temporal);
        p.unused_by_upper = dt >= 0 && f->dti[dt] == DD_DTI_NOT_PRESENT;
    }
    return p;
}

/* ---- meter ------------------------------------------------------------------------------ */

void sfu_layer_meter_init(sfu_layer_meter *m, sfu_layers_mode mode)
{
    memset(m, 0, sizeof *m);
    m->mode = mode;
}

/* Close the window once it is SFU_LAYER_METER_WINDOW_US old: each layer's rate over it,
 * averaged with the previous window's; a layer not seen in it is inactive. */
static void meter_roll(sfu_layer_meter *m, uint64_t now_us)
{
    if (!m->started) {
        m->started = true;
        m->window_start_us = now_us;
        return;
    }
    uint64_t elapsed = now_us - m->window_start_us;
    if (now_us < m->window_start_us || elapsed < SFU_LAYER_METER_WINDOW_US) return;
    for (int s = 0; s < SFU_LAYERS_MAX_SPATIAL; s++) {
        for (int t = 0; t < SFU_LAYERS_MAX_TEMPORAL; t++) {
            uint64_t *rate = &m->rate_bps[s][t];
            if (m->seen[s] & (1u << t)) {
                uint64_t window = m->bytes[s][t] * 8u * 1000000u / elapsed;
                *rate = *rate ? (*rate + window) / 2 : window;
                if (*rate == 0) *rate = 1; /* seen: measured, however small */
            } else {
                *rate = 0;
            }
            m->bytes[s][t] = 0;
        }
        m->active[s] = m->seen[s];
        m->seen[s] = 0;
    }
    m->window_start_us = now_us;
}

void sfu_layer_meter_add(sfu_layer_meter *m, uint8_t spatial, uint8_t temporal, size_t bytes,
                         uint64_t now_us)
{
    meter_roll(m, now_us);
    if (spatial >= SFU_LAYERS_MAX_SPATIAL || temporal >= SFU_LAYERS_MAX_TEMPORAL) return;
    m->bytes[spatial][temporal] += bytes;
    m->seen[spatial] |= (uint8_t)(1u << temporal);
}

void sfu_layer_meter_set_resolution(sfu_layer_meter *m, uint8_t spatial, uint16_t width,
                                    uint16_t height)
{
    if (spatial >= SFU_LAYERS_MAX_SPATIAL) return;
    m->width[spatial] = width;
    m->height[spatial] = height;
}

void sfu_layer_meter_read(sfu_layer_meter *m, uint64_t now_us, sfu_layers_source *out)
{
    meter_roll(m, now_us);
    memset(out, 0, sizeof *out);
    for (int s = 0; s < SFU_LAYERS_MAX_SPATIAL; s++) {
        uint8_t active = m->active[s] | m->seen[s];
        for (int t = 0; t < SFU_LAYERS_MAX_TEMPORAL; t++)
            if (active & (1u << t)) out->temporal_layers[s] = (uint8_t)(t + 1);
        out->width[s] = m->width[s];
        out->height[s] = m->height[s];
    }
    /* What a target receives: its own layers up to t and, with SVC, the spatial layers below.
     * Unknown (0) while any active layer in it has no rate yet. */
    for (int s = 0; s < SFU_LAYERS_MAX_SPATIAL; s++) {
        for (int t = 0; t < out->temporal_layers[s]; t++) {
            uint64_t sum = 0;
            bool known = true;
            for (int ls = m->mode == SFU_LAYERS_SVC ? 0 : s; ls <= s; ls++) {
                for (int lt = 0; lt <= t; lt++) {
                    if (!((m->active[ls] | m->seen[ls]) & (1u << lt))) continue;
                    if (!m->rate_bps[ls][lt]) known = false;
                    sum += m->rate_bps[ls][lt];
                }
            }
            out->bitrate_bps[s][t] = known ? sum : 0;
        }
    }
}
