/* track.c - fan-out of a source's RTP to its downtracks, with header rewriting. */
#include "sfu/track.h"

#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "core/random.h"

/* Room for the largest datagram plus the SRTP authentication tag added in place. */
#define SFU_OUT_BUF 1500
#define SFU_OUT_CAP (SFU_OUT_BUF + 64)
#define SFU_MAX_EXTS (2 + SFU_EXT_COUNT) /* transport-wide seq, MID, the carried ones */
/* An unread level sum stops here: 127 * this still fits in 32 bits. */
#define SFU_LEVELS_MAX_PACKETS (UINT32_MAX / 128)

int sfu_kind_from_sdp(sdp_kind k)
{
    if (k == SDP_KIND_AUDIO) return SFU_AUDIO;
    if (k == SDP_KIND_VIDEO) return SFU_VIDEO;
    return -1;
}

const char *sfu_kind_name(sfu_kind k) { return k == SFU_AUDIO ? "audio" : "video"; }

sfu_track *sfu_track_new(const char *id, sfu_kind kind)
{
    sfu_track *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    strncpy(t->id, id, sizeof t->id - 1);
    t->kind = kind;
    for (int pt = 0; pt < 128; pt++) t->source_codec[pt] = CODEC_UNKNOWN;
    return t;
}

void sfu_track_free(sfu_track *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_downs; i++) t->downs[i]->track = NULL;
    free(t->downs);
    rtp_rtx_buffer_free(t->rtx);
    free(t);
}

bool sfu_track_is_unused(const sfu_track *t) { return !t->has_source && t->n_downs == 0; }

/* The subscriber PT for each source PT: same codec (sdp_codec_same), else none. */
static void map_payload_types(sfu_downtrack *d, const sfu_track *t)
{
    memset(d->pt_map, SFU_NO_PT, sizeof d->pt_map);
    if (!t->has_source) return;
    for (int i = 0; i < t->source.codec_count; i++) {
        const sdp_codec *pc = &t->source.codecs[i];
        for (int j = 0; j < d->codec_count; j++) {
            if (sdp_codec_same(pc, &d->codecs[j])) {
                d->pt_map[pc->pt & 0x7F] = d->codecs[j].pt;
                break;
            }
        }
    }
}

/* After a (re)attach or an unmute: remap, keep numbering continuous, wait for a keyframe. */
static void sync_downtrack(const sfu_track *t, sfu_downtrack *d)
{
    map_payload_types(d, t);
    sfu_seqmap_resync(&d->seq);
    d->waiting_keyframe = t->kind == SFU_VIDEO;
    d->keyframe_asked_us = 0;
}

void sfu_source_from_neg(sfu_source *src, const sdp_neg_media *m)
{
    memset(src, 0, sizeof *src);
    src->codec_count = m->codec_count;
    memcpy(src->codecs, m->codecs, sizeof src->codecs[0] * m->codec_count);
    src->ext_id[SFU_EXT_AUDIO_LEVEL] = m->ext_id[SDP_EXT_AUDIO_LEVEL];
    src->ext_id[SFU_EXT_VIDEO_ORIENTATION] = m->ext_id[SDP_EXT_VIDEO_ORIENTATION];
}

void sfu_track_attach_source(sfu_track *t, const sfu_source *src, sfu_keyframe_fn request_keyframe,
                             void *source_ctx, uint64_t now_us)
{
    t->has_source = true;
    t->source = *src;
    t->request_keyframe = request_keyframe;
    t->source_ctx = source_ctx;
    t->keyframe_sent_us = 0;
    t->keyframe_pending = false;
    t->sender_report.valid = false;
    for (int pt = 0; pt < 128; pt++) t->source_codec[pt] = CODEC_UNKNOWN;
    for (int i = 0; i < src->codec_count; i++)
        t->source_codec[src->codecs[i].pt & 0x7F] = codec_kind_from_name(src->codecs[i].name);
    for (size_t i = 0; i < t->n_downs; i++) sync_downtrack(t, t->downs[i]);
    if (t->n_downs > 0) sfu_track_request_keyframe(t, now_us);
}

void sfu_track_detach_source(sfu_track *t)
{
    t->has_source = false;
    memset(&t->source, 0, sizeof t->source);
    t->request_keyframe = NULL;
    t->source_ctx = NULL;
    t->keyframe_pending = false;
}

void sfu_track_set_muted(sfu_track *t, bool muted, uint64_t now_us)
{
    if (t->muted == muted) return;
    t->muted = muted;
    if (muted) return;
    for (size_t i = 0; i < t->n_downs; i++) sync_downtrack(t, t->downs[i]);
    if (t->kind == SFU_VIDEO && t->n_downs > 0) sfu_track_request_keyframe(t, now_us);
}

void sfu_downtrack_init(sfu_downtrack *d, const sdp_neg_media *m, uint32_t ssrc, uint32_t rtx_ssrc,
                        sfu_send_fn send, void *send_ctx)
{
    memset(d, 0, sizeof *d);
    d->ssrc = ssrc;
    d->rtx_ssrc = rtx_ssrc;
    d->rtx_seq = (uint16_t)j_random_u32();
    d->twcc_ext_id = m->ext_id[SDP_EXT_TWCC];
    d->codec_count = m->codec_count;
    memcpy(d->codecs, m->codecs, sizeof d->codecs[0] * m->codec_count);
    d->mid_ext_id = m->ext_id[SDP_EXT_MID];
    memcpy(d->mid, m->mid, sizeof d->mid);
    d->ext_id[SFU_EXT_AUDIO_LEVEL] = m->ext_id[SDP_EXT_AUDIO_LEVEL];
    d->ext_id[SFU_EXT_VIDEO_ORIENTATION] = m->ext_id[SDP_EXT_VIDEO_ORIENTATION];
    memset(d->pt_map, SFU_NO_PT, sizeof d->pt_map);
    sfu_seqmap_init(&d->seq, (uint16_t)j_random_u32(), j_random_u32());
    d->send = send;
    d->send_ctx = send_ctx;
}

int sfu_track_add_downtrack(sfu_track *t, sfu_downtrack *d, uint64_t now_us)
{
    if (t->kind == SFU_VIDEO && !t->rtx) {
        t->rtx = rtp_rtx_buffer_new(SFU_RTX_BUFFER_SLOTS, SFU_RTX_BUFFER_AGE_US);
        if (!t->rtx) return J_ENOMEM;
    }
    if (t->n_downs == t->cap_downs) {
        size_t cap = t->cap_downs ? t->cap_downs * 2 : 8;
        sfu_downtrack **downs = realloc(t->downs, cap * sizeof *downs);
        if (!downs) return J_ENOMEM;
        t->downs = downs;
        t->cap_downs = cap;
    }
    t->downs[t->n_downs++] = d;
    d->track = t;
    sync_downtrack(t, d);
    if (!d->paused) sfu_track_request_keyframe(t, now_us);
    return J_OK;
}

void sfu_downtrack_detach(sfu_downtrack *d)
{
    sfu_track *t = d->track;
    if (!t) return;
    for (size_t i = 0; i < t->n_downs; i++) {
        if (t->downs[i] == d) {
            t->downs[i] = t->downs[--t->n_downs];
            break;
        }
    }
    d->track = NULL;
}

void sfu_track_set_relay(sfu_track *t, const sfu_relay *relay, void *ctx)
{
    t->relay = relay;
    t->relay_ctx = ctx;
}

void sfu_downtrack_set_paused(sfu_downtrack *d, uint8_t reason, bool paused, uint64_t now_us)
{
    uint8_t before = d->paused;
    d->paused = paused ? (uint8_t)(before | reason) : (uint8_t)(before & ~reason);
    sfu_track *t = d->track;
    if (!before || d->paused || !t) return;
    sync_downtrack(t, d);
    if (t->kind == SFU_VIDEO && !t->muted) sfu_track_request_keyframe(t, now_us);
}

sfu_audio_levels sfu_track_take_levels(sfu_track *t)
{
    sfu_audio_levels taken = t->levels;
    t->levels = (sfu_audio_levels){0};
    return taken;
}

void sfu_track_request_keyframe(sfu_track *t, uint64_t now_us)
{
    if (!t->has_source || !t->request_keyframe || t->kind != SFU_VIDEO) return;
    if (t->keyframe_sent_us && now_us - t->keyframe_sent_us < SFU_KEYFRAME_INTERVAL_US) {
        t->keyframe_pending = true;
        return;
    }
    t->keyframe_sent_us = now_us;
    t->keyframe_pending = false;
    t->request_keyframe(t->source_ctx, t);
}

void sfu_track_handle_timeout(sfu_track *t, uint64_t now_us)
{
    if (!t->has_source || t->muted || t->kind != SFU_VIDEO) return;
    bool want = t->keyframe_pending;
    for (size_t i = 0; i < t->n_downs; i++) {
        sfu_downtrack *d = t->downs[i];
        if (!d->waiting_keyframe || d->paused) continue;
        if (d->keyframe_asked_us == 0 || now_us - d->keyframe_asked_us >= SFU_KEYFRAME_RETRY_US) {
            d->keyframe_asked_us = now_us;
            want = true;
        }
    }
    if (want) sfu_track_request_keyframe(t, now_us);
}

/* The carried extensions' values in one source packet, looked up once per packet. */
typedef struct carried_exts {
    const uint8_t *data[SFU_EXT_COUNT]; /* NULL when absent */
    size_t len[SFU_EXT_COUNT];
} carried_exts;

static void find_carried(const sfu_source *src, const rtp_pkt *pkt, carried_exts *out)
{
    for (int e = 0; e < SFU_EXT_COUNT; e++) {
        out->data[e] = NULL;
        if (src->ext_id[e] && rtp_ext_find(pkt, src->ext_id[e], &out->data[e], &out->len[e]) != J_OK)
            out->data[e] = NULL;
    }
}

/* RFC 6464 section 3:
 *  0                   1
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  ID   | len=0 |V| level       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * level in -dBov (127: silence or quieter); V: the sender detected voice. */
static void add_level(sfu_audio_levels *lv, const uint8_t *data, size_t len)
{
    if (len < 1 || lv->packets >= SFU_LEVELS_MAX_PACKETS) return;
    bool voice = data[0] & 0x80;
    uint8_t level = data[0] & 0x7F;
    if (voice) lv->loudness_sum += 127u - level;
    lv->packets++;
}

/* The extensions a subscriber gets: a transport-wide sequence number placeholder (first, see
 * twcc_offset), its MID, and the carried ones it negotiated. */
static size_t build_extensions(const sfu_downtrack *d, const carried_exts *c, rtp_ext_elem *exts)
{
    static const uint8_t twcc_placeholder[2];
    size_t n = 0;
    if (d->twcc_ext_id) {
        exts[n].id = d->twcc_ext_id;
        exts[n].data = twcc_placeholder;
        exts[n].len = sizeof twcc_placeholder;
        n++;
    }
    if (d->mid_ext_id && d->mid[0]) {
        exts[n].id = d->mid_ext_id;
        exts[n].data = (const uint8_t *)d->mid;
        exts[n].len = strlen(d->mid);
        n++;
    }
    for (int e = 0; e < SFU_EXT_COUNT; e++) {
        if (!c->data[e] || !d->ext_id[e]) continue;
        exts[n].id = d->ext_id[e];
        exts[n].data = c->data[e];
        exts[n].len = c->len[e];
        n++;
    }
    return n;
}

/* Where the transport-wide sequence number's value sits in a packet build_extensions gave
 * the extensions of: its element is the first, after the fixed header (no CSRCs are
 * written) and the block's 4-byte header, behind a 1-byte (RFC 8285 one-byte form) or 2-byte
 * element header. */
static size_t twcc_offset(const sfu_downtrack *d, const uint8_t *buf)
{
    if (!d->twcc_ext_id) return 0;
    size_t block = RTP_HEADER_MIN + RTP_EXT_HEADER_LEN;
    return rd_be16(buf + RTP_HEADER_MIN) == RTP_EXT_PROFILE_ONE_BYTE ? block + 1 : block + 2;
}

/* One source packet as downtrack d sends it: header h (d's SSRC, PT, numbering) and d's
 * extensions, then the payload untouched - behind the original sequence number osn when h
 * is d's RTX stream (osn >= 0). Forwarding and retransmission share it, so a resent packet
 * is the packet that was sent. Returns the length, or a negative J_E* code. */
static int write_for_downtrack(const sfu_downtrack *d, const rtp_header_out *h,
                               const carried_exts *c, const rtp_pkt *pkt, int32_t osn,
                               uint8_t *buf, size_t *twcc_off)
{
    rtp_ext_elem exts[SFU_MAX_EXTS];
    size_t n_exts = build_extensions(d, c, exts);
    int len = osn < 0 ? rtp_write_packet(h, exts, n_exts, pkt->payload, pkt->payload_len, buf,
                                         SFU_OUT_BUF)
                      : rtp_rtx_wrap(h, exts, n_exts, (uint16_t)osn, pkt->payload,
                                     pkt->payload_len, buf, SFU_OUT_BUF);
    if (len > 0) *twcc_off = twcc_offset(d, buf);
    return len;
}

static uint32_t source_clock_rate(const sfu_track *t, uint8_t pt)
{
    for (int i = 0; i < t->source.codec_count; i++)
        if (t->source.codecs[i].pt == pt) return t->source.codecs[i].clock_rate;
    return 0;
}

void sfu_track_forward(sfu_track *t, const rtp_pkt *pkt, uint64_t now_us)
{
    t->packets_in++;
    t->bytes_in += pkt->len;
    if (t->muted) return;
    if (t->relay) t->relay->packet(t->relay_ctx, t, pkt, now_us);
    if (t->rtx) rtp_rtx_buffer_put(t->rtx, pkt->seq, pkt->buf, pkt->len, now_us);
    const uint8_t in_pt = pkt->payload_type & 0x7F;
    int keyframe = -1; /* computed lazily: most packets go to nobody waiting */
    uint32_t clock_rate = source_clock_rate(t, in_pt);
    carried_exts carried;
    find_carried(&t->source, pkt, &carried);
    if (carried.data[SFU_EXT_AUDIO_LEVEL])
        add_level(&t->levels, carried.data[SFU_EXT_AUDIO_LEVEL], carried.len[SFU_EXT_AUDIO_LEVEL]);

    uint8_t buf[SFU_OUT_CAP];
    for (size_t i = 0; i < t->n_downs; i++) {
        sfu_downtrack *d = t->downs[i];
        if (d->paused) continue;
        uint8_t out_pt = d->pt_map[in_pt];
        if (out_pt == SFU_NO_PT) {
            d->dropped_no_codec++;
            continue;
        }
        if (d->waiting_keyframe) {
            if (keyframe < 0)
                keyframe = codec_is_keyframe(t->source_codec[in_pt], pkt->payload,
                                             pkt->payload_len);
            if (!keyframe) continue;
            d->waiting_keyframe = false;
        }
        rtp_header_out h = {.marker = pkt->marker, .payload_type = out_pt, .ssrc = d->ssrc};
        sfu_seqmap_map(&d->seq, pkt->seq, pkt->timestamp, clock_rate, now_us, &h.seq,
                       &h.timestamp);
        d->mapped_ssrc = pkt->ssrc;
        d->clock_rate = clock_rate;
        size_t twcc_off = 0;
        int len = write_for_downtrack(d, &h, &carried, pkt, -1, buf, &twcc_off);
        if (len < 0) continue;
        d->packets++;
        d->bytes += (uint64_t)len;
        d->payload_bytes += pkt->payload_len;
        d->rtx_credit += len / 2;
        if (d->rtx_credit > SFU_RTX_CREDIT_MAX) d->rtx_credit = SFU_RTX_CREDIT_MAX;
        d->send(d->send_ctx, buf, (size_t)len, sizeof buf, twcc_off, now_us);
    }
}

/* The subscriber's RTX payload type for its payload type pt (apt=pt), 0 if none. */
static uint8_t rtx_payload_type(const sfu_downtrack *d, uint8_t pt)
{
    for (int i = 0; i < d->codec_count; i++)
        if (d->codecs[i].pt == pt) return d->codecs[i].rtx_pt;
    return 0;
}

int sfu_downtrack_retransmit(sfu_downtrack *d, uint16_t out_seq, uint64_t now_us)
{
    const sfu_track *t = d->track;
    uint16_t in_seq;
    rtp_rtx_pkt stored;
    rtp_pkt pkt;
    if (!t || !t->rtx || d->paused || sfu_seqmap_unmap(&d->seq, out_seq, &in_seq) != J_OK ||
        rtp_rtx_buffer_get(t->rtx, in_seq, now_us, &stored) != J_OK ||
        rtp_parse(&pkt, stored.data, stored.len) != J_OK || pkt.ssrc != d->mapped_ssrc)
        return J_ENOTFOUND;
    uint8_t out_pt = d->pt_map[pkt.payload_type & 0x7F];
    if (out_pt == SFU_NO_PT) return J_ENOTFOUND;
    uint8_t rtx_pt = d->rtx_ssrc ? rtx_payload_type(d, out_pt) : 0;
    rtp_header_out h = {.marker = pkt.marker,
                        .payload_type = rtx_pt ? rtx_pt : out_pt,
                        .seq = rtx_pt ? d->rtx_seq : out_seq,
                        .timestamp = sfu_seqmap_out_ts(&d->seq, pkt.timestamp),
                        .ssrc = rtx_pt ? d->rtx_ssrc : d->ssrc};
    carried_exts carried;
    find_carried(&t->source, &pkt, &carried);
    uint8_t buf[SFU_OUT_CAP];
    size_t twcc_off = 0;
    int len = write_for_downtrack(d, &h, &carried, &pkt, rtx_pt ? out_seq : -1, buf, &twcc_off);
    if (len < 0) return len;
    if (d->rtx_credit < len) return J_ELIMIT;
    if (rtx_pt) d->rtx_seq++;
    d->rtx_credit -= len;
    d->rtx_packets++;
    d->rtx_bytes += (uint64_t)len;
    d->send(d->send_ctx, buf, (size_t)len, sizeof buf, twcc_off, now_us);
    return J_OK;
}

void sfu_track_on_sender_report(sfu_track *t, uint32_t ssrc, uint32_t rtp_ts, uint64_t now_us)
{
    t->sender_report.valid = true;
    t->sender_report.ssrc = ssrc;
    t->sender_report.rtp_ts = rtp_ts;
    t->sender_report.arrival_us = now_us;
    if (t->relay) t->relay->sender_report(t->relay_ctx, t, ssrc, rtp_ts, now_us);
}

/* ticks of clock_rate in the time from then_us to now_us (0 if now is earlier). */
static uint32_t rtp_ticks(uint64_t then_us, uint64_t now_us, uint32_t clock_rate)
{
    return now_us > then_us ? (uint32_t)((now_us - then_us) * clock_rate / 1000000u) : 0;
}

int sfu_downtrack_rtp_now(const sfu_downtrack *d, uint64_t now_us, uint32_t *rtp_ts)
{
    if (!d->seq.started) return J_ENOTFOUND;
    const sfu_track *t = d->track;
    if (t && t->sender_report.valid && t->sender_report.ssrc == d->mapped_ssrc && !d->seq.resync) {
        uint32_t src = t->sender_report.rtp_ts +
                       rtp_ticks(t->sender_report.arrival_us, now_us, d->clock_rate);
        *rtp_ts = sfu_seqmap_out_ts(&d->seq, src);
        return J_OK;
    }
    *rtp_ts = d->seq.max_out_ts + rtp_ticks(d->seq.max_out_us, now_us, d->clock_rate);
    return J_OK;
}
