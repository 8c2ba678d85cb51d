/* peer_rtp.c - media in (a publisher's RTP: source lookup, RTX unwrapping, receive statistics,
 * loss detection, transport-wide arrivals) and out (a subscriber's downtracks: transport-wide
 * numbering, SRTP). */
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "peer/peer_internal.h"
#include "rtp/rtp.h"

/* Where an incoming packet goes: a track's stream, and whether it is that stream's RTX. */
typedef struct source_ref {
    peer_in_track *track;
    uint8_t stream;
    bool rtx;
} source_ref;

static bool ext_equals(const rtp_pkt *pkt, uint8_t id, const char *value)
{
    const uint8_t *v;
    size_t len;
    return id && rtp_ext_find(pkt, id, &v, &len) == J_OK && strlen(value) == len &&
           memcmp(value, v, len) == 0;
}

static int stream_of_rid(const peer_in_track *t, const rtp_pkt *pkt, uint8_t ext_id)
{
    for (int i = 0; i < t->n_streams; i++)
        if (ext_equals(pkt, ext_id, t->streams[i].rid)) return i;
    return -1;
}

/* A packet of an SSRC not known yet, on track t (its MID extension said so): which stream
 * it is. Simulcast: the rid extension names the encoding, the repaired rid the encoding an
 * RTX stream repairs. Otherwise an RTX payload type makes it the RTX stream. The SSRC is
 * learned; a new media SSRC replaces the old one. */
static bool learn_ssrc(const peer *p, peer_in_track *t, const rtp_pkt *pkt, source_ref *ref)
{
    int i = 0;
    bool rtx = t->apt[pkt->payload_type] != SFU_NO_PT;
    if (t->n_streams > 1 || t->streams[0].rid[0]) {
        int repaired = stream_of_rid(t, pkt, p->rrid_ext_id);
        i = repaired >= 0 ? repaired : stream_of_rid(t, pkt, p->rid_ext_id);
        if (i < 0) return false;
        rtx = repaired >= 0;
    }
    peer_in_stream *st = &t->streams[i];
    /* The SSRC it replaces retired. */
    if (rtx) {
        peer_srtp_retire(p->srtp_in, st->rtx_ssrc);
        st->rtx_ssrc = pkt->ssrc;
    } else {
        peer_srtp_retire(p->srtp_in, st->ssrc);
        st->ssrc = pkt->ssrc;
        st->receiving = false;
    }
    *ref = (source_ref){.track = t, .stream = (uint8_t)i, .rtx = rtx};
    return true;
}

/* The track and stream of a known media or RTX SSRC. */
static bool source_of_ssrc(const peer *p, uint32_t ssrc, source_ref *ref)
{
    for (int i = 0; i < p->n_in; i++) {
        peer_in_track *t = p->in[i];
        for (int k = 0; k < t->n_streams; k++) {
            const peer_in_stream *st = &t->streams[k];
            if (st->ssrc == ssrc || (st->rtx_ssrc && st->rtx_ssrc == ssrc)) {
                *ref = (source_ref){.track = t, .stream = (uint8_t)k, .rtx = st->ssrc != ssrc};
                return true;
            }
        }
    }
    return false;
}

bool peer_rtp_routes(const peer *p, uint32_t ssrc)
{
    source_ref ref;
    return source_of_ssrc(p, ssrc, &ref);
}

/* The track and stream an incoming packet belongs to: by SSRC (a media or RTX stream), else
 * by its MID (and rid) extensions. Unknown streams are not forwarded. */
static bool find_source(peer *p, const rtp_pkt *pkt, source_ref *ref)
{
    if (source_of_ssrc(p, pkt->ssrc, ref)) return true;
    const uint8_t *mid;
    size_t mid_len;
    if (!p->mid_ext_id || rtp_ext_find(pkt, p->mid_ext_id, &mid, &mid_len) != J_OK) return false;
    for (int i = 0; i < p->n_in; i++) {
        peer_in_track *t = p->in[i];
        if (strlen(t->mid) == mid_len && memcmp(t->mid, mid, mid_len) == 0)
            return learn_ssrc(p, t, pkt, ref);
    }
    return false;
}

static uint32_t clock_rate_of(const peer_in_track *t, uint8_t pt)
{
    for (int i = 0; i < t->source.codec_count; i++)
        if (t->source.codecs[i].pt == pt) return t->source.codecs[i].clock_rate;
    return 0;
}

/* Statistics and loss detection follow the stream's media SSRC; a new one starts them over.
 * False for a video packet received before (or given up on long ago). */
static bool account(peer *p, peer_in_track *t, peer_in_stream *st, const rtp_pkt *pkt,
                    uint64_t now_us)
{
    if (!st->receiving) {
        uint32_t clock_rate = clock_rate_of(t, pkt->payload_type);
        if (!clock_rate) return true; /* not a payload type of this track */
        rtp_recv_stats_init(&st->recv, pkt->ssrc, clock_rate);
        if (st->nack) rtp_nack_gen_init(st->nack, NULL);
        st->receiving = true;
        if (p->twcc_in && !p->twcc_in->media_ssrc) p->twcc_in->media_ssrc = pkt->ssrc;
    }
    rtp_recv_stats_update(&st->recv, pkt->seq, pkt->timestamp, (uint32_t)pkt->len, now_us);
    return !st->nack || rtp_nack_gen_on_packet(st->nack, pkt->seq, now_us) != RTP_NACK_GEN_LATE;
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

bool peer_rtp_handle(peer *p, uint64_t now_us, uint8_t *buf, size_t len)
{
    rtp_pkt pkt;
    if (rtp_parse(&pkt, buf, len) != J_OK) return true; /* its stream may still be ours */
    record_arrival(p, &pkt, now_us);
    source_ref ref;
    bool known = find_source(p, &pkt, &ref);
    if (!known || !ref.track->track) {
        p->stats.unknown_ssrc++; /* an unannounced stream: not forwarded */
        return known;
    }
    peer_in_track *t = ref.track;
    peer_in_stream *st = &t->streams[ref.stream];
    if (ref.rtx) {
        uint8_t apt = t->apt[pkt.payload_type];
        /* Padding-only RTX packets are bandwidth probes: nothing to forward. */
        if (!st->ssrc || apt == SFU_NO_PT || rtp_rtx_unwrap(buf, &pkt, apt, st->ssrc) != J_OK)
            return true;
        p->stats.rtx_in++;
    }
    /* An RTX packet that repairs nothing resends one we have: Chromium pads its bandwidth
     * probes that way, continuously while its encoders send less than their share. Forwarded,
     * it would reach subscribers as duplicates and make its layer look that much dearer. */
    if (!account(p, t, st, &pkt, now_us) && ref.rtx) return true;
    sfu_track_forward(t->track, &pkt, ref.stream, now_us);
    return true;
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
