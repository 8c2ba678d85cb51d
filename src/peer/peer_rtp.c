/* peer_rtp.c - media in (a publisher's RTP: source lookup, RTX unwrapping, receive statistics,
 * loss detection, transport-wide arrivals) and out (a subscriber's downtracks: transport-wide
 * numbering, SRTP). */
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "peer/peer_internal.h"
#include "rtp/rtp.h"

/* The track an incoming packet belongs to: by SSRC (its media or its RTX stream), else by
 * its MID extension (then the SSRC is learned: an RTX payload type makes it the RTX
 * stream's). *rtx tells which. Unknown streams are not forwarded. */
static peer_in_track *find_source(peer *p, const rtp_pkt *pkt, bool *rtx)
{
    for (int i = 0; i < p->n_in; i++) {
        peer_in_track *t = p->in[i];
        if (t->ssrc == pkt->ssrc || (t->rtx_ssrc && t->rtx_ssrc == pkt->ssrc)) {
            *rtx = t->ssrc != pkt->ssrc;
            return t;
        }
    }
    const uint8_t *mid;
    size_t mid_len;
    if (!p->mid_ext_id || rtp_ext_find(pkt, p->mid_ext_id, &mid, &mid_len) != J_OK) return NULL;
    for (int i = 0; i < p->n_in; i++) {
        peer_in_track *t = p->in[i];
        if (strlen(t->mid) != mid_len || memcmp(t->mid, mid, mid_len) != 0) continue;
        *rtx = t->apt[pkt->payload_type] != SFU_NO_PT;
        if (*rtx) {
            t->rtx_ssrc = pkt->ssrc;
        } else {
            t->ssrc = pkt->ssrc; /* a new SSRC on this mid replaces the old one */
            t->receiving = false;
        }
        return t;
    }
    return NULL;
}

static uint32_t clock_rate_of(const peer_in_track *t, uint8_t pt)
{
    for (int i = 0; i < t->source.codec_count; i++)
        if (t->source.codecs[i].pt == pt) return t->source.codecs[i].clock_rate;
    return 0;
}

/* Statistics and loss detection follow the media SSRC; a new one starts them over. */
static void account(peer *p, peer_in_track *t, const rtp_pkt *pkt, uint64_t now_us)
{
    if (!t->receiving) {
        uint32_t clock_rate = clock_rate_of(t, pkt->payload_type);
        if (!clock_rate) return; /* not a payload type of this track */
        rtp_recv_stats_init(&t->recv, pkt->ssrc, clock_rate);
        rtp_nack_gen_init(&t->nack, NULL);
        t->receiving = true;
        if (p->twcc_in && !p->twcc_in->media_ssrc) p->twcc_in->media_ssrc = pkt->ssrc;
    }
    rtp_recv_stats_update(&t->recv, pkt->seq, pkt->timestamp, (uint32_t)pkt->len, now_us);
    if (t->kind == SFU_VIDEO) rtp_nack_gen_on_packet(&t->nack, pkt->seq, now_us);
}

/* Every packet with a transport-wide sequence number counts for the publisher's congestion
 * control, padding-only probes included. */
static void record_arrival(peer *p, const rtp_pkt *pkt, uint64_t now_us)
{
    const uint8_t *v;
    size_t len;
    if (p->twcc_in && rtp_ext_find(pkt, p->twcc_ext_id, &v, &len) == J_OK && len == 2)
        bwe_twcc_recorder_on_packet(p->twcc_in, rd_be16(v), now_us);
}

void peer_rtp_handle(peer *p, uint64_t now_us, uint8_t *buf, size_t len)
{
    rtp_pkt pkt;
    if (rtp_parse(&pkt, buf, len) != J_OK) return;
    record_arrival(p, &pkt, now_us);
    bool rtx = false;
    peer_in_track *t = find_source(p, &pkt, &rtx);
    if (!t || !t->track) {
        p->stats.unknown_ssrc++; /* an unannounced stream: not forwarded */
        return;
    }
    if (rtx) {
        uint8_t apt = t->apt[pkt.payload_type];
        /* Padding-only RTX packets are bandwidth probes: nothing to forward. */
        if (!t->ssrc || apt == SFU_NO_PT || rtp_rtx_unwrap(buf, &pkt, apt, t->ssrc) != J_OK)
            return;
        p->stats.rtx_in++;
    }
    account(p, t, &pkt, now_us);
    sfu_track_forward(t->track, &pkt, now_us);
}

void peer_rtp_send_downtrack(void *ctx, uint8_t *buf, size_t len, size_t cap, size_t twcc_off,
                             uint64_t now_us)
{
    peer *p = ctx;
    if (p->state != PEER_CONNECTED) return;
    /* Numbered as sent, before SRTP authenticates the header. */
    if (twcc_off && p->twcc_out && twcc_off + 2 <= len)
        wr_be16(buf + twcc_off, bwe_twcc_history_add(p->twcc_out, (uint32_t)len, now_us));
    int n = j_srtp_protect_rtp(p->srtp_out, buf, len, cap);
    if (n < 0) {
        p->stats.srtp_errors++;
        return;
    }
    p->stats.rtp_out++;
    p->stats.rtp_out_bytes += (uint64_t)n;
    p->env->send(p->env->ctx, peer_remote(p), buf, (size_t)n);
}
