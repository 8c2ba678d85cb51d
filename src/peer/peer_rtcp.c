/* peer_rtcp.c - RTCP terminated per leg: what we send a publisher (receiver reports, REMB,
 * XR reference time, NACKs, keyframe requests, transport-cc feedback) and a subscriber
 * (sender reports, SDES), and what we make of what each sends us. */
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "peer/peer_internal.h"
#include "rtcp/rtcp.h"

#define NACKS_PER_PACKET 96 /* sequence numbers: well within PEER_RTCP_MAX */

/* Send one compound built by the caller in a PEER_DGRAM_CAP buffer. */
static void send_rtcp(peer *p, uint8_t *buf, size_t len)
{
    int n = j_srtp_protect_rtcp(p->srtp_out, buf, len, PEER_DGRAM_CAP);
    if (n < 0) {
        p->stats.srtp_errors++;
        return;
    }
    p->stats.rtcp_out++;
    p->env->send(p->env->ctx, peer_remote(p), buf, (size_t)n);
}

/* An empty RR opens every feedback compound a publisher gets from us (RFC 3550 §6.1, rsize
 * or not); the feedback message follows it. */
static size_t write_empty_rr(const peer *p, uint8_t *buf)
{
    rtcp_rr rr = {.ssrc = p->rtcp_ssrc};
    return (size_t)rtcp_rr_write(&rr, buf, PEER_RTCP_MAX); /* 8 bytes: always fits */
}

static uint64_t ntp_now(const peer *p, uint64_t now_us)
{
    return rtcp_ntp_from_us(now_us + p->env->wall_clock_offset_us);
}

/* ---- towards a publisher ---------------------------------------------------------------- */

void peer_request_keyframe(void *peer_ctx, const sfu_track *t, uint8_t encoding)
{
    peer *p = peer_ctx;
    if (p->role != PEER_PUBLISHER || p->state != PEER_CONNECTED) return;
    uint32_t media_ssrc = 0;
    for (int i = 0; i < p->n_in && !media_ssrc; i++)
        if (p->in[i]->track == t && encoding < p->in[i]->n_streams)
            media_ssrc = p->in[i]->streams[encoding].ssrc;
    if (!media_ssrc) return; /* nothing received yet: the first keyframe is on its way */
    rtcp_pli pli = {.sender_ssrc = p->rtcp_ssrc, .media_ssrc = media_ssrc};
    uint8_t buf[PEER_DGRAM_CAP];
    size_t n = write_empty_rr(p, buf);
    int m = rtcp_pli_write(&pli, buf + n, PEER_RTCP_MAX - n);
    if (m < 0) return;
    p->stats.pli_out++;
    send_rtcp(p, buf, n + (size_t)m);
}

/* The gaps of a video source whose request is due; a gap given up (or too large to track)
 * asks for a keyframe. */
static void send_nacks(peer *p, peer_in_track *t, peer_in_stream *st, uint64_t now_us)
{
    if (!st->receiving || !st->nack) return;
    if (rtp_nack_gen_poll_timeout(st->nack) <= now_us) {
        if (p->rtt.smoothed_us > 0) rtp_nack_gen_set_rtt(st->nack, (uint64_t)p->rtt.smoothed_us);
        uint16_t lost[NACKS_PER_PACKET];
        size_t n = rtp_nack_gen_handle_timeout(st->nack, now_us, lost, NACKS_PER_PACKET);
        rtcp_nack nack = {.sender_ssrc = p->rtcp_ssrc, .media_ssrc = st->ssrc, .lost = lost,
                          .lost_count = n};
        uint8_t buf[PEER_DGRAM_CAP];
        size_t rr = write_empty_rr(p, buf);
        int m = n > 0 ? rtcp_nack_write(&nack, buf + rr, PEER_RTCP_MAX - rr) : 0;
        if (m > 0) {
            p->stats.nack_out += n;
            send_rtcp(p, buf, rr + (size_t)m);
        }
    }
    if (rtp_nack_gen_take_keyframe_request(st->nack) && t->track)
        sfu_track_request_keyframe(t->track, (uint8_t)(st - t->streams), now_us);
}

static void send_transport_feedback(peer *p, uint64_t now_us)
{
    if (bwe_twcc_recorder_poll_timeout(p->twcc_in) > now_us) return;
    for (int i = 0; i < 8; i++) { /* bounded: one feedback covers 256 packets */
        uint8_t buf[PEER_DGRAM_CAP];
        size_t n = write_empty_rr(p, buf);
        int m = bwe_twcc_recorder_handle_timeout(p->twcc_in, now_us, buf + n, PEER_RTCP_MAX - n);
        if (m <= 0) return;
        send_rtcp(p, buf, n + (size_t)m);
    }
}

/* RR with a report block per source, REMB (how much it may send), and a reference time its
 * DLRR answer turns into our RTT (a receiver learns none from report blocks). */
static void send_receiver_report(peer *p, uint64_t now_us)
{
    rtcp_report_block blocks[RTCP_MAX_COUNT];
    uint32_t ssrcs[PEER_MAX_TRACKS]; /* REMB names the first ones: it must fit beside the RR */
    uint8_t n_blocks = 0, n_ssrcs = 0;
    for (int i = 0; i < p->n_in; i++) {
        peer_in_track *t = p->in[i];
        for (int k = 0; k < t->n_streams; k++) {
            peer_in_stream *st = &t->streams[k];
            if (!st->ssrc) continue;
            if (n_ssrcs < PEER_MAX_TRACKS) ssrcs[n_ssrcs++] = st->ssrc;
            if (st->receiving && n_blocks < RTCP_MAX_COUNT &&
                rtp_recv_stats_report(&st->recv, now_us, &blocks[n_blocks]) == J_OK)
                n_blocks++;
        }
    }
    uint8_t buf[PEER_DGRAM_CAP];
    rtcp_rr rr = {.ssrc = p->rtcp_ssrc, .report_count = n_blocks, .reports = blocks};
    int n = rtcp_rr_write(&rr, buf, PEER_RTCP_MAX);
    if (n < 0) return;
    if (n_ssrcs > 0) {
        rtcp_remb remb = {.sender_ssrc = p->rtcp_ssrc,
                          .bitrate_bps = p->env->publisher_max_bitrate,
                          .ssrc_count = n_ssrcs,
                          .ssrcs = ssrcs};
        int m = rtcp_remb_write(&remb, buf + n, PEER_RTCP_MAX - (size_t)n);
        if (m > 0) n += m;
    }
    uint64_t ntp = ntp_now(p, now_us);
    rtcp_xr_rrtr rrtr = {.ssrc = p->rtcp_ssrc, .ntp = ntp};
    int x = rtcp_xr_rrtr_write(&rrtr, buf + n, PEER_RTCP_MAX - (size_t)n);
    if (x > 0) {
        n += x;
        rtp_rtt_on_sr_sent(&p->rtt, ntp, now_us);
    }
    send_rtcp(p, buf, (size_t)n);
}

/* ---- towards a subscriber --------------------------------------------------------------- */

#define SENDER_REPORTS_PER_COMPOUND 16 /* with their SDES chunks: about 650 bytes */

/* A sender report per downtrack that has sent something (each its own SSRC, all at the same
 * NTP time), then one SDES with our CNAME for all of them; in compounds of at most
 * SENDER_REPORTS_PER_COMPOUND. */
static void send_sender_reports(peer *p, uint64_t now_us)
{
    uint64_t ntp = ntp_now(p, now_us);
    int i = 0;
    bool sent = false;
    while (i < p->n_out) {
        uint8_t buf[PEER_DGRAM_CAP];
        size_t n = 0;
        uint32_t ssrcs[SENDER_REPORTS_PER_COMPOUND];
        uint8_t count = 0;
        for (; i < p->n_out && count < SENDER_REPORTS_PER_COMPOUND; i++) {
            const sfu_downtrack *d = &p->out[i]->down;
            uint32_t rtp_ts;
            if (sfu_downtrack_rtp_now(d, now_us, &rtp_ts) != J_OK) continue;
            rtcp_sr sr = {.ssrc = d->ssrc, .ntp = ntp, .rtp_ts = rtp_ts,
                          .packet_count = (uint32_t)d->packets,
                          .octet_count = (uint32_t)d->payload_bytes};
            int m = rtcp_sr_write(&sr, buf + n, PEER_RTCP_MAX - n);
            if (m < 0) return;
            n += (size_t)m;
            ssrcs[count++] = d->ssrc;
        }
        if (count == 0) break;
        rtcp_sdes_cname sdes = {.ssrc = ssrcs[0], .cname = p->cname, .more_ssrcs = ssrcs + 1,
                                .more_count = (uint8_t)(count - 1)};
        int m = rtcp_sdes_cname_write(&sdes, buf + n, PEER_RTCP_MAX - n);
        if (m > 0) n += (size_t)m;
        send_rtcp(p, buf, n);
        sent = true;
    }
    if (sent) rtp_rtt_on_sr_sent(&p->rtt, ntp, now_us);
}

/* A video downtrack that takes part in the sharing: attached, not held back. */
static sfu_downtrack *shared_video(peer *p, int i)
{
    sfu_downtrack *d = &p->out[i]->down;
    return p->out[i]->kind == SFU_VIDEO && d->track && !d->paused ? d : NULL;
}

/* Headroom over a layer's measured bitrate in a budget: the policy's up-switch margin and
 * a little more, so the layer the budget was made for passes it. */
static uint64_t with_margin(uint64_t bps)
{
    return bps * (100 + SFU_LAYERS_DEFAULT_UP_MARGIN_PCT + 5) / 100;
}

/* What a probe makes room for over the next layer's bitrate: a layer's rate swings by a
 * tenth or more, and the policy wants it to fit with its margin for its whole hold time. */
#define PROBE_HEADROOM_PCT 30u

/* Probe when some downtrack wants more than it gets: after a back-off, restart the estimate
 * where the next layer of each such downtrack fits (deficit over the estimate), and let the
 * link tell. A layer that went down during the wait (after the last probe) doubles it; the
 * subscriber asking for more (its settings changed) probes at once. */
static void probe_for_more(peer *p, uint64_t estimate, uint64_t deficit, uint64_t downs,
                           bool asked, uint64_t now_us)
{
    if (asked && deficit) {
        p->share.probe_wait_us = PEER_PROBE_AFTER_US;
        p->share.probe_at_us = now_us;
        p->share.probe_downs = downs;
    }
    if (!deficit) {
        p->share.probe_at_us = 0;
        if (downs == p->share.probe_downs) p->share.probe_wait_us = PEER_PROBE_AFTER_US;
        return;
    }
    if (!p->share.probe_at_us) {
        p->share.probe_at_us = now_us + p->share.probe_wait_us;
        p->share.probe_downs = downs;
        return;
    }
    if (now_us < p->share.probe_at_us) return;
    if (downs != p->share.probe_downs)
        p->share.probe_wait_us = p->share.probe_wait_us * 2 > PEER_PROBE_AFTER_MAX_US
                                     ? PEER_PROBE_AFTER_MAX_US
                                     : p->share.probe_wait_us * 2;
    else
        p->share.probe_wait_us = PEER_PROBE_AFTER_US;
    p->share.probe_downs = downs;
    p->share.probe_at_us = now_us + p->share.probe_wait_us;
    uint64_t start = estimate + deficit;
    J_INFO("peer", "subscriber %s: probing %llu bit/s for more video", p->id,
           (unsigned long long)start);
    bwe_gcc_config cfg = {.start_bps = start};
    uint64_t rtt = p->bwe->rtt_us;
    bwe_gcc_init(p->bwe, &cfg);
    bwe_gcc_set_rtt(p->bwe, rtt);
}

/* The estimate (or what the subscriber demonstrably receives, when more: a dip of the
 * estimate - our own scheduling stalls read as queueing - must not take video from a link
 * that carries it), minus its audio, shared among its video downtracks as their policies'
 * budgets by water-filling: a track that needs less than an equal share (its best layer
 * within its preferences and tile size, with the policy's up-switch margin) gets that, the
 * rest is split evenly among the others. A share below min_video_bitrate pauses the track;
 * any other share keeps at least its lowest layer. Without any feedback yet the estimate is
 * only a guess: no limit then. */
static void share_bandwidth(peer *p, uint64_t now_us)
{
    if (now_us < p->share.next_share_us) return;
    p->share.next_share_us = now_us + PEER_SHARE_INTERVAL_US;
    if (p->bwe->have_twcc || p->bwe->have_remb) p->share.estimated = true;
    uint64_t estimate = bwe_gcc_target_bps(p->bwe), acked = bwe_gcc_acked_bps(p->bwe);
    /* While queues build, the estimate alone picks the layers: the acknowledged rate still
     * counts what came before the link narrowed, and would hold layers the link no longer
     * carries. But it pauses nothing then (below): a false alarm costs a lower layer for a
     * moment, and a link too narrow for any video is paused once the estimate settles. */
    bool congested = p->bwe->usage == BWE_USAGE_OVERUSE || p->bwe->rate_state == BWE_RATE_DECREASE;
    if (congested) {
        /* ... and no more than what the link delivers now, so that one switch goes straight
         * to a layer it carries (each switch waits for a keyframe). */
        uint64_t now_rate = bwe_gcc_recent_acked_bps(p->bwe, PEER_CONGESTED_RATE_WINDOW_US);
        if (now_rate && now_rate < estimate) estimate = now_rate;
    } else if (acked > estimate) {
        estimate = acked;
    }
    uint64_t budget = estimate > p->share.audio_bps ? estimate - p->share.audio_bps : 0;

    uint64_t demand[PEER_MAX_TRACKS], next[PEER_MAX_TRACKS], share[PEER_MAX_TRACKS];
    uint64_t lowest[PEER_MAX_TRACKS];
    bool given[PEER_MAX_TRACKS];
    int open = 0;
    uint64_t downs = 0, prefs = 0;
    for (int i = 0; i < p->n_out; i++) {
        sfu_downtrack *d = shared_video(p, i);
        given[i] = d == NULL;
        share[i] = 0;
        if (!d) continue;
        sfu_layers_source src;
        sfu_track_layers(d->track, now_us, &src);
        sfu_layers_sub want = sfu_downtrack_layer_wants(d);
        demand[i] = with_margin(sfu_layers_demand_bps(&d->layers, &want, &src));
        if (demand[i] && demand[i] < p->env->min_video_bitrate)
            demand[i] = p->env->min_video_bitrate;
        next[i] = sfu_layers_next_bps(&d->layers, &want, &src) * (100 + PROBE_HEADROOM_PCT) / 100;
        lowest[i] = with_margin(sfu_layers_lowest_bps(&src));
        downs += d->layer_downs;
        prefs += d->prefs_changes;
        /* A track that sends this subscriber nothing (muted, hidden tile, audio only) takes no
         * share: an equal one would be taken from the tracks it can see. */
        if (d->track->muted || !d->want.visible || d->want.audio_only) {
            given[i] = true;
            continue;
        }
        open++;
    }
    for (bool moved = true; moved && open > 0;) {
        moved = false;
        uint64_t each = budget / (uint64_t)open;
        for (int i = 0; i < p->n_out; i++) {
            if (given[i] || !demand[i] || demand[i] > each) continue;
            share[i] = demand[i];
            budget -= demand[i];
            given[i] = moved = true;
            open--;
        }
    }
    uint64_t each = open > 0 ? budget / (uint64_t)open : 0;
    uint64_t deficit = 0;
    for (int i = 0; i < p->n_out; i++) {
        if (!shared_video(p, i)) continue;
        if (!given[i]) share[i] = each;
        if (share[i] < demand[i] && next[i] > share[i]) deficit += next[i] - share[i];
        /* Video pauses only below the floor: above it a track keeps at least its lowest layer
         * (an estimate that has not been probed yet says little about the link). */
        uint64_t b = share[i] < p->env->min_video_bitrate && !congested ? 1 /* 0: "no estimate" */
                     : share[i] < lowest[i]                             ? lowest[i]
                                                                        : share[i];
        sfu_downtrack_set_budget(&p->out[i]->down, p->share.estimated ? b : 0);
    }
    bool asked = prefs != p->share.prefs_changes;
    p->share.prefs_changes = prefs;
    if (p->share.estimated) probe_for_more(p, estimate, deficit, downs, asked, now_us);
}

/* The bitrate of its audio downtracks over the last report interval. */
static void measure_audio(peer *p, uint64_t dt_us)
{
    uint64_t bytes = 0;
    for (int i = 0; i < p->n_out; i++)
        if (p->out[i]->kind == SFU_AUDIO) bytes += p->out[i]->down.bytes;
    if (dt_us > 0 && bytes >= p->share.audio_bytes)
        p->share.audio_bps = (bytes - p->share.audio_bytes) * 8000000u / dt_us;
    p->share.audio_bytes = bytes;
}

void peer_rtcp_handle_timeout(peer *p, uint64_t now_us)
{
    bool report = now_us >= p->next_report_us;
    if (report) {
        uint64_t dt = now_us - p->rate.at_us;
        if (dt > 0) {
            p->rate.bitrate_in = (p->stats.rtp_in_bytes - p->rate.bytes_in) * 8000000u / dt;
            p->rate.bitrate_out = (p->stats.rtp_out_bytes - p->rate.bytes_out) * 8000000u / dt;
        }
        if (p->role == PEER_SUBSCRIBER) measure_audio(p, dt);
        p->rate.at_us = now_us;
        p->rate.bytes_in = p->stats.rtp_in_bytes;
        p->rate.bytes_out = p->stats.rtp_out_bytes;
        p->next_report_us = now_us + PEER_REPORT_INTERVAL_US;
    }
    if (p->role == PEER_PUBLISHER) {
        for (int i = 0; i < p->n_in; i++)
            for (int k = 0; k < p->in[i]->n_streams; k++)
                send_nacks(p, p->in[i], &p->in[i]->streams[k], now_us);
        if (p->twcc_in) send_transport_feedback(p, now_us);
        if (report) send_receiver_report(p, now_us);
    } else {
        if (report) send_sender_reports(p, now_us);
        share_bandwidth(p, now_us);
    }
}

/* ---- from the peer ---------------------------------------------------------------------- */

static peer_out_track *out_track_of_ssrc(const peer *p, uint32_t ssrc)
{
    for (int i = 0; i < p->n_out; i++)
        if (p->out[i]->down.ssrc == ssrc) return p->out[i];
    return NULL;
}

static void keyframe_feedback(peer *p, uint64_t now_us, uint32_t media_ssrc)
{
    if (p->role != PEER_SUBSCRIBER) return;
    peer_out_track *o = out_track_of_ssrc(p, media_ssrc);
    if (o) sfu_downtrack_request_keyframe(&o->down, now_us);
}

/* A publisher's sender report: its LSR for our reports, and the source's clock for the
 * sender reports its subscribers get. */
static void on_sender_report(peer *p, const rtcp_sr *sr, uint64_t now_us)
{
    for (int i = 0; i < p->n_in; i++) {
        peer_in_track *t = p->in[i];
        for (int k = 0; k < t->n_streams; k++) {
            peer_in_stream *st = &t->streams[k];
            if (!st->receiving || st->ssrc != sr->ssrc) continue;
            rtp_recv_stats_on_sr(&st->recv, sr->ntp, now_us);
            if (t->track) sfu_track_on_sender_report(t->track, (uint8_t)k, sr->ssrc, sr->rtp_ts, now_us);
        }
    }
}

/* A subscriber's report blocks about what we send it: loss and jitter per stream, the RTT
 * from the LSR/DLSR of our sender reports, loss for the estimate when transport-cc is not
 * there to tell it. */
static void on_report_blocks(peer *p, const uint8_t *raw, unsigned count, uint64_t now_us)
{
    if (p->role != PEER_SUBSCRIBER) return;
    rtcp_rb_iter it;
    rtcp_report_block rb;
    bool have_rtt = false;
    uint8_t worst_loss = 0;
    bool any = false;
    rtcp_rb_iter_init(&it, raw, count);
    while (rtcp_rb_next(&it, &rb)) {
        peer_out_track *o = out_track_of_ssrc(p, rb.ssrc);
        if (!o) continue;
        o->report = rb;
        o->have_report = true;
        any = true;
        if (rb.fraction_lost > worst_loss) worst_loss = rb.fraction_lost;
        if (!have_rtt && rtp_rtt_on_report(&p->rtt, &rb, now_us) >= 0) {
            have_rtt = true;
            bwe_gcc_set_rtt(p->bwe, (uint64_t)p->rtt.smoothed_us);
        }
    }
    if (any) bwe_gcc_on_loss_report(p->bwe, worst_loss);
}

/* A publisher's DLRR about our reference times: its leg's RTT. */
static void on_xr(peer *p, const rtcp_xr *xr, uint64_t now_us)
{
    rtcp_xr_iter it;
    rtcp_xr_block b;
    rtcp_xr_iter_init(&it, xr);
    while (rtcp_xr_next_block(&it, &b)) {
        for (size_t i = 0; i < rtcp_xr_dlrr_count(&b); i++) {
            rtcp_xr_dlrr_item d = rtcp_xr_dlrr_get(&b, i);
            if (d.ssrc != p->rtcp_ssrc) continue;
            rtcp_report_block echo = {.lsr = d.lrr, .dlsr = d.dlrr};
            rtp_rtt_on_report(&p->rtt, &echo, now_us);
        }
    }
}

/* A subscriber's NACK: every sequence number answered from the track's buffer, or counted. */
static void on_nack(peer *p, const rtcp_nack *nack, uint64_t now_us)
{
    if (p->role != PEER_SUBSCRIBER) return;
    peer_out_track *o = out_track_of_ssrc(p, nack->media_ssrc);
    rtcp_nack_iter it;
    uint16_t seq;
    rtcp_nack_iter_init(&it, nack);
    while (rtcp_nack_next(&it, &seq)) {
        p->stats.nack_in++;
        int rc = o ? sfu_downtrack_retransmit(&o->down, seq, now_us) : J_ENOTFOUND;
        if (rc == J_OK)
            p->stats.nack_answered++;
        else if (rc == J_ELIMIT)
            p->stats.nack_throttled++;
        else
            p->stats.nack_missed++;
    }
}

/* A subscriber's transport-cc feedback about our numbered egress: its estimate. */
static void on_transport_feedback(peer *p, const rtcp_twcc *fb, uint64_t now_us)
{
    /* Matched against a history of BWE_TWCC_HISTORY_SLOTS packets: never cut off. One per
     * worker thread, used and done within this call. */
    static _Thread_local bwe_twcc_result results[BWE_TWCC_HISTORY_SLOTS];
    if (!p->twcc_out) return;
    size_t n = bwe_twcc_history_on_feedback(p->twcc_out, fb, results, BWE_TWCC_HISTORY_SLOTS);
    bwe_gcc_on_feedback(p->bwe, results, n, now_us);
}

static void on_packet(peer *p, const rtcp_header *h, uint64_t now_us)
{
    switch (h->type) {
    case RTCP_TYPE_SR: {
        rtcp_sr sr;
        if (rtcp_sr_parse(&sr, h) != J_OK) return;
        if (p->role == PEER_PUBLISHER) on_sender_report(p, &sr, now_us);
        on_report_blocks(p, sr.reports_raw, sr.report_count, now_us);
        return;
    }
    case RTCP_TYPE_RR: {
        rtcp_rr rr;
        if (rtcp_rr_parse(&rr, h) == J_OK) on_report_blocks(p, rr.reports_raw, rr.report_count, now_us);
        return;
    }
    case RTCP_TYPE_XR: {
        rtcp_xr xr;
        if (p->role == PEER_PUBLISHER && rtcp_xr_parse(&xr, h) == J_OK) on_xr(p, &xr, now_us);
        return;
    }
    case RTCP_TYPE_RTPFB:
        if (h->count == RTCP_RTPFB_NACK) {
            rtcp_nack nack;
            if (rtcp_nack_parse(&nack, h) == J_OK) on_nack(p, &nack, now_us);
        } else if (h->count == RTCP_RTPFB_TWCC) {
            rtcp_twcc fb;
            if (p->role == PEER_SUBSCRIBER && rtcp_twcc_parse(&fb, h) == J_OK)
                on_transport_feedback(p, &fb, now_us);
        }
        return;
    case RTCP_TYPE_PSFB:
        if (h->count == RTCP_PSFB_PLI) {
            p->stats.pli_in++;
            rtcp_pli pli;
            if (rtcp_pli_parse(&pli, h) == J_OK) keyframe_feedback(p, now_us, pli.media_ssrc);
        } else if (h->count == RTCP_PSFB_FIR) {
            p->stats.fir_in++;
            rtcp_fir fir;
            if (rtcp_fir_parse(&fir, h) == J_OK)
                for (size_t i = 0; i < fir.entry_count && i < PEER_MAX_TRACKS; i++)
                    keyframe_feedback(p, now_us, rtcp_fir_entry_get(&fir, i).ssrc);
        } else if (h->count == RTCP_PSFB_ALFB) {
            rtcp_remb remb;
            if (p->role == PEER_SUBSCRIBER && rtcp_remb_parse(&remb, h) == J_OK)
                bwe_gcc_on_remb(p->bwe, remb.bitrate_bps);
        }
        return;
    default:
        return;
    }
}

void peer_rtcp_handle(peer *p, uint64_t now_us, const uint8_t *buf, size_t len)
{
    rtcp_iter it;
    rtcp_header h;
    rtcp_iter_init(&it, buf, len);
    for (int guard = 0; guard < 64 && rtcp_iter_next(&it, &h) > 0; guard++) on_packet(p, &h, now_us);
}

/* ---- statistics ------------------------------------------------------------------------- */

void peer_quality_get(const peer *p, peer_quality *out)
{
    memset(out, 0, sizeof *out);
    out->bitrate_in = p->rate.bitrate_in;
    out->bitrate_out = p->rate.bitrate_out;
    out->rtt_us = p->rtt.smoothed_us;
    for (int i = 0; i < p->n_in; i++) {
        for (int k = 0; k < p->in[i]->n_streams; k++) {
            const peer_in_stream *st = &p->in[i]->streams[k];
            if (!st->receiving || !st->recv.clock_rate) continue;
            out->packets_lost += rtp_recv_stats_lost(&st->recv);
            double jitter = (st->recv.jitter_q4 / 16.0) * 1000.0 / st->recv.clock_rate;
            if (jitter > out->jitter_ms) out->jitter_ms = jitter;
        }
    }
    for (int i = 0; i < p->n_out; i++) {
        const peer_out_track *o = p->out[i];
        if (!o->have_report) continue;
        out->packets_lost += o->report.cumulative_lost;
        if (o->down.clock_rate) {
            double jitter = o->report.jitter * 1000.0 / o->down.clock_rate;
            if (jitter > out->jitter_ms) out->jitter_ms = jitter;
        }
    }
    if (p->bwe) out->estimated_bps = bwe_gcc_target_bps(p->bwe);
    for (int i = 0; i < p->n_out; i++) {
        const sfu_downtrack *d = &p->out[i]->down;
        if (p->out[i]->kind != SFU_VIDEO) continue;
        if (d->target.state == SFU_LAYERS_OFF_BANDWIDTH) out->video_paused = true;
        out->video_pauses += d->bandwidth_pauses;
    }
}
