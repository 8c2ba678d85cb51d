/* track.c - fan-out of a source's RTP to its downtracks: header rewriting, layer selection
 * (simulcast encodings, temporal and SVC layers), VP8/VP9 picture id continuity. */
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
    t->encoding_count = 1;
    for (int e = 0; e < SFU_MAX_ENCODINGS; e++) t->enc[e].spatial = (uint8_t)e;
    sfu_layer_meter_init(&t->meter, SFU_LAYERS_SIMULCAST);
    dd_structure_init(&t->dd);
    return t;
}

void sfu_track_free(sfu_track *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_downs; i++) t->downs[i]->track = NULL;
    free(t->downs);
    for (int e = 0; e < SFU_MAX_ENCODINGS; e++) rtp_rtx_buffer_free(t->enc[e].rtx);
    free(t);
}

/* A video track's retransmission buffers, one per encoding (their sequence spaces collide). */
static int ensure_buffers(sfu_track *t)
{
    if (t->kind != SFU_VIDEO) return J_OK;
    for (int e = 0; e < t->encoding_count; e++) {
        if (t->enc[e].rtx) continue;
        t->enc[e].rtx = rtp_rtx_buffer_new(SFU_RTX_BUFFER_BYTES, SFU_RTX_BUFFER_SLOTS,
                                           SFU_RTX_BUFFER_AGE_US);
        if (!t->enc[e].rtx) return J_ENOMEM;
    }
    return J_OK;
}

/* The encoding that carries spatial layer s (simulcast), or the only one (SVC). */
static uint8_t encoding_of_spatial(const sfu_track *t, int s)
{
    if (t->layers_mode == SFU_LAYERS_SVC) return 0;
    for (uint8_t e = 0; e < t->encoding_count; e++)
        if (t->enc[e].spatial == s) return e;
    return 0;
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

bool sfu_downtrack_lacks_codec(const sfu_downtrack *d)
{
    const sfu_track *t = d->track;
    if (!t || !t->has_source) return false;
    for (int i = 0; i < t->source.codec_count; i++)
        if (d->pt_map[t->source.codecs[i].pt & 0x7F] != SFU_NO_PT) return false;
    return true;
}

static void update_layers(sfu_track *t, sfu_downtrack *d, const sfu_layers_source *src,
                          bool ask, uint64_t now_us);

/* After a (re)attach, an unmute or a resume: remap, keep numbering continuous; video starts
 * again at a keyframe of the layer its policy picks (asked for at once). */
static void sync_downtrack(sfu_track *t, sfu_downtrack *d, uint64_t now_us)
{
    map_payload_types(d, t);
    sfu_seqmap_resync(&d->seq);
    picmap_resync(&d->picmap);
    d->waiting_keyframe = t->kind == SFU_VIDEO;
    d->keyframe_asked_us = 0;
    if (t->kind != SFU_VIDEO) return;
    sfu_layers_init(&d->layers, t->layers_mode, NULL);
    d->target = (sfu_layers_target){.state = SFU_LAYERS_OFF_NO_SOURCE};
    sfu_layers_source src;
    sfu_layer_meter_read(&t->meter, now_us, &src);
    update_layers(t, d, &src, true, now_us);
}

void sfu_source_from_neg(sfu_source *src, const sdp_neg_media *m)
{
    memset(src, 0, sizeof *src);
    src->codec_count = m->codec_count;
    memcpy(src->codecs, m->codecs, sizeof src->codecs[0] * m->codec_count);
    src->ext_id[SFU_EXT_AUDIO_LEVEL] = m->ext_id[SDP_EXT_AUDIO_LEVEL];
    src->ext_id[SFU_EXT_VIDEO_ORIENTATION] = m->ext_id[SDP_EXT_VIDEO_ORIENTATION];
    src->ext_id[SFU_EXT_DEPENDENCY_DESCRIPTOR] = m->ext_id[SDP_EXT_DEPENDENCY_DESCRIPTOR];
    src->encoding_count = m->encoding_count > 1 ? m->encoding_count : 1;
}

/* The source's first (preferred) video codec. */
static codec_kind first_codec(const sfu_source *src)
{
    return src->codec_count ? codec_kind_from_name(src->codecs[0].name) : CODEC_UNKNOWN;
}

/* Simulcast with several encodings; SVC when the codec layers one stream (VP9, or AV1 whose
 * layers the Dependency Descriptor tells). */
static sfu_layers_mode layers_mode_of(const sfu_source *src)
{
    if (src->encoding_count > 1) return SFU_LAYERS_SIMULCAST;
    codec_kind k = first_codec(src);
    if (k == CODEC_VP9 || (k == CODEC_AV1 && src->ext_id[SFU_EXT_DEPENDENCY_DESCRIPTOR]))
        return SFU_LAYERS_SVC;
    return SFU_LAYERS_SIMULCAST;
}

void sfu_track_attach_source(sfu_track *t, const sfu_source *src, sfu_keyframe_fn request_keyframe,
                             void *source_ctx, uint64_t now_us)
{
    t->has_source = true;
    t->source = *src;
    t->request_keyframe = request_keyframe;
    t->source_ctx = source_ctx;
    t->encoding_count = src->encoding_count >= 1 && src->encoding_count <= SFU_MAX_ENCODINGS
                            ? src->encoding_count
                            : 1;
    for (int e = 0; e < SFU_MAX_ENCODINGS; e++) {
        sfu_encoding *enc = &t->enc[e];
        rtp_rtx_buffer *rtx = enc->rtx;
        memset(enc, 0, sizeof *enc);
        enc->rtx = rtx;
        enc->spatial = (uint8_t)e;
    }
    t->layers_mode = layers_mode_of(src);
    t->layers_from_dd = t->layers_mode == SFU_LAYERS_SVC && first_codec(src) == CODEC_AV1;
    sfu_layer_meter_init(&t->meter, t->layers_mode);
    dd_structure_init(&t->dd);
    for (int pt = 0; pt < 128; pt++) t->source_codec[pt] = CODEC_UNKNOWN;
    for (int i = 0; i < src->codec_count; i++)
        t->source_codec[src->codecs[i].pt & 0x7F] = codec_kind_from_name(src->codecs[i].name);
    if (t->n_downs > 0) ensure_buffers(t); /* without them NACKs go unanswered, no worse */
    for (size_t i = 0; i < t->n_downs; i++) sync_downtrack(t, t->downs[i], now_us);
}

void sfu_track_detach_source(sfu_track *t)
{
    t->has_source = false;
    memset(&t->source, 0, sizeof t->source);
    t->request_keyframe = NULL;
    t->source_ctx = NULL;
    for (int e = 0; e < SFU_MAX_ENCODINGS; e++) t->enc[e].keyframe_pending = false;
}

void sfu_track_set_muted(sfu_track *t, bool muted, uint64_t now_us)
{
    if (t->muted == muted) return;
    t->muted = muted;
    if (muted) return;
    for (size_t i = 0; i < t->n_downs; i++) sync_downtrack(t, t->downs[i], now_us);
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
    d->ext_id[SFU_EXT_DEPENDENCY_DESCRIPTOR] = m->ext_id[SDP_EXT_DEPENDENCY_DESCRIPTOR];
    d->want = (sfu_layers_sub){.max_spatial = SFU_LAYER_ANY, .max_temporal = SFU_LAYER_ANY,
                               .visible = true};
    sfu_layers_init(&d->layers, SFU_LAYERS_SIMULCAST, NULL);
    picmap_init(&d->picmap);
    memset(d->pt_map, SFU_NO_PT, sizeof d->pt_map);
    sfu_seqmap_init(&d->seq, (uint16_t)j_random_u32(), j_random_u32());
    d->send = send;
    d->send_ctx = send_ctx;
}

int sfu_track_add_downtrack(sfu_track *t, sfu_downtrack *d, uint64_t now_us)
{
    if (ensure_buffers(t) != J_OK) return J_ENOMEM;
    if (t->n_downs == t->cap_downs) {
        size_t cap = t->cap_downs ? t->cap_downs * 2 : 8;
        sfu_downtrack **downs = realloc(t->downs, cap * sizeof *downs);
        if (!downs) return J_ENOMEM;
        t->downs = downs;
        t->cap_downs = cap;
    }
    t->downs[t->n_downs++] = d;
    d->track = t;
    sync_downtrack(t, d, now_us);
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
    sync_downtrack(t, d, now_us);
}

sfu_audio_levels sfu_track_take_levels(sfu_track *t)
{
    sfu_audio_levels taken = t->levels;
    t->levels = (sfu_audio_levels){0};
    return taken;
}

void sfu_track_request_keyframe(sfu_track *t, uint8_t encoding, uint64_t now_us)
{
    if (!t->has_source || !t->request_keyframe || t->kind != SFU_VIDEO ||
        encoding >= t->encoding_count)
        return;
    sfu_encoding *e = &t->enc[encoding];
    if (e->keyframe_sent_us && now_us - e->keyframe_sent_us < SFU_KEYFRAME_INTERVAL_US) {
        e->keyframe_pending = true;
        return;
    }
    e->keyframe_sent_us = now_us;
    e->keyframe_pending = false;
    t->request_keyframe(t->source_ctx, t, encoding);
}

/* What d needs a keyframe of: the encoding of its target spatial layer. */
static uint8_t wanted_encoding(const sfu_track *t, const sfu_downtrack *d)
{
    int s = d->layers.target_spatial >= 0 ? d->layers.target_spatial : d->layers.current_spatial;
    return encoding_of_spatial(t, s < 0 ? 0 : s);
}

/* Ask for the keyframe d waits for, unless asked within SFU_KEYFRAME_RETRY_US. */
static void ask_keyframe(sfu_track *t, sfu_downtrack *d, uint64_t now_us)
{
    if (d->keyframe_asked_us && now_us - d->keyframe_asked_us < SFU_KEYFRAME_RETRY_US) return;
    d->keyframe_asked_us = now_us ? now_us : 1;
    sfu_track_request_keyframe(t, wanted_encoding(t, d), now_us);
}

void sfu_downtrack_request_keyframe(sfu_downtrack *d, uint64_t now_us)
{
    if (d->track) sfu_track_request_keyframe(d->track, wanted_encoding(d->track, d), now_us);
}

void sfu_downtrack_set_layer_prefs(sfu_downtrack *d, uint16_t width, uint16_t height,
                                   bool visible, uint8_t max_spatial, uint8_t max_temporal)
{
    d->want.display_width = width;
    d->want.display_height = height;
    d->want.visible = visible;
    d->want.max_spatial = max_spatial;
    d->want.max_temporal = max_temporal;
    d->layers_changed = true;
    d->prefs_changes++;
}

void sfu_downtrack_set_budget(sfu_downtrack *d, uint64_t budget_bps)
{
    if (d->want.budget_bps == budget_bps) return;
    /* Less than before (a limit where there was none) may mean the target no longer fits:
     * decide at the next tick. */
    if (!d->want.budget_bps || (budget_bps && budget_bps < d->want.budget_bps))
        d->layers_changed = true;
    d->want.budget_bps = budget_bps;
}

sfu_layers_sub sfu_downtrack_layer_wants(const sfu_downtrack *d)
{
    sfu_layers_sub sub = d->want;
    sub.audio_only = (d->paused & SFU_PAUSE_SUBSCRIBER) != 0;
    if (d->track && d->track->layers_from_dd && !d->ext_id[SFU_EXT_DEPENDENCY_DESCRIPTOR])
        sub.max_spatial = 0;
    return sub;
}

/* Run d's layer policy on src; a target that needs a keyframe asks for it (when ask: the
 * packet path leaves that to the next tick, the packet at hand may be the keyframe). */
static void update_layers(sfu_track *t, sfu_downtrack *d, const sfu_layers_source *src,
                          bool ask, uint64_t now_us)
{
    sfu_layers_sub sub = sfu_downtrack_layer_wants(d);
    sfu_layers_target before = d->target;
    d->target = sfu_layers_update(&d->layers, &sub, src, now_us);
    d->layers_changed = false;
    d->layers_updated_us = now_us;
    if (d->target.state == SFU_LAYERS_OFF_BANDWIDTH && before.state != SFU_LAYERS_OFF_BANDWIDTH)
        d->bandwidth_pauses++;
    if (before.state == SFU_LAYERS_FORWARDING &&
        (d->target.state == SFU_LAYERS_OFF_BANDWIDTH ||
         (d->target.state == SFU_LAYERS_FORWARDING &&
          (d->target.spatial < before.spatial ||
           (d->target.spatial == before.spatial && d->target.temporal < before.temporal)))))
        d->layer_downs++;
    /* Nothing measured yet (the source just started): its first keyframe is wanted too. */
    d->waiting_keyframe = d->target.state == SFU_LAYERS_OFF_NO_SOURCE ||
                          (d->target.state == SFU_LAYERS_FORWARDING && d->target.keyframe_needed);
    if (!d->waiting_keyframe || d->paused || t->muted) return;
    if (before.state != d->target.state || before.spatial != d->target.spatial)
        d->keyframe_asked_us = 0; /* a new target: ask at once */
    if (ask) ask_keyframe(t, d, now_us);
}

void sfu_track_layers(sfu_track *t, uint64_t now_us, sfu_layers_source *out)
{
    sfu_layer_meter_read(&t->meter, now_us, out);
}

void sfu_track_handle_timeout(sfu_track *t, uint64_t now_us)
{
    if (!t->has_source || t->muted || t->kind != SFU_VIDEO) return;
    bool read = false;
    sfu_layers_source src;
    for (size_t i = 0; i < t->n_downs; i++) {
        sfu_downtrack *d = t->downs[i];
        if (d->paused) continue;
        /* Nothing to forward yet: look again at every tick, the source may have started. */
        bool due = d->layers_changed || d->target.state == SFU_LAYERS_OFF_NO_SOURCE ||
                   now_us - d->layers_updated_us >= SFU_LAYERS_UPDATE_US;
        if (due) {
            if (!read) sfu_layer_meter_read(&t->meter, now_us, &src);
            read = true;
            update_layers(t, d, &src, true, now_us);
        } else if (d->waiting_keyframe) {
            ask_keyframe(t, d, now_us);
        }
    }
    for (uint8_t e = 0; e < t->encoding_count; e++)
        if (t->enc[e].keyframe_pending) sfu_track_request_keyframe(t, e, now_us);
}

/* The carried extensions' values in one source packet, looked up once per packet. */
typedef struct carried_exts {
    const uint8_t *data[SFU_EXT_COUNT]; /* NULL when absent */
    size_t len[SFU_EXT_COUNT];
} carried_exts;

/* The extensions of pkt the track carries; the Dependency Descriptor only where it tells
 * the layers (see layers_from_dd). */
static void find_carried(const sfu_track *t, const rtp_pkt *pkt, carried_exts *out)
{
    for (int e = 0; e < SFU_EXT_COUNT; e++) {
        uint8_t id = t->source.ext_id[e];
        out->data[e] = NULL;
        if (e == SFU_EXT_DEPENDENCY_DESCRIPTOR && !t->layers_from_dd) continue;
        if (id && rtp_ext_find(pkt, id, &out->data[e], &out->len[e]) != J_OK) out->data[e] = NULL;
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

/* A payload as a downtrack sends it: the source's, or with a rewritten VP8/VP9 descriptor. */
typedef struct out_payload {
    const uint8_t *data;
    size_t len;
    uint8_t rewritten[SFU_OUT_BUF];
} out_payload;

/* The payload descriptor of a VP8 or VP9 packet, whose picture ids a downtrack rewrites. */
typedef struct picture_desc {
    codec_kind codec; /* CODEC_VP8 or CODEC_VP9 when parsed, else CODEC_UNKNOWN */
    vp8_descriptor vp8;
    vp9_descriptor vp9;
} picture_desc;

/* Parse pkt's VP8 or VP9 descriptor into out (a VP9 scalability structure into ss, when not
 * NULL); out->codec stays CODEC_UNKNOWN for other codecs and malformed descriptors. */
static void describe_picture(const sfu_track *t, const rtp_pkt *pkt, vp9_ss *ss,
                             picture_desc *out)
{
    codec_kind codec = t->source_codec[pkt->payload_type & 0x7F];
    out->codec = CODEC_UNKNOWN;
    if ((codec == CODEC_VP8 && vp8_parse(&out->vp8, pkt->payload, pkt->payload_len) == J_OK) ||
        (codec == CODEC_VP9 && vp9_parse(&out->vp9, ss, pkt->payload, pkt->payload_len) == J_OK))
        out->codec = codec;
}

/* The payload of pkt for d: VP8 or VP9 with its picture id and TL0PICIDX mapped into d's
 * sequence. J_ENOTFOUND when the picture must not be sent (dropped, or older than the map's
 * history). */
static int payload_for_downtrack(sfu_downtrack *d, const rtp_pkt *pkt, const picture_desc *pic,
                                 out_payload *out)
{
    out->data = pkt->payload;
    out->len = pkt->payload_len;
    int n;
    size_t descriptor_len;
    if (pic->codec == CODEC_VP8 && (pic->vp8.has_picture_id || pic->vp8.has_tl0picidx)) {
        n = vp8_picmap_rewrite(&d->picmap, &pic->vp8, out->rewritten, sizeof out->rewritten);
        descriptor_len = pic->vp8.descriptor_len;
    } else if (pic->codec == CODEC_VP9 &&
               (pic->vp9.has_picture_id || pic->vp9.has_tl0picidx)) {
        n = vp9_picmap_rewrite(&d->picmap, &pic->vp9, pkt->payload, out->rewritten,
                               sizeof out->rewritten);
        descriptor_len = pic->vp9.descriptor_len;
    } else {
        return J_OK;
    }
    if (n < 0) return n;
    size_t rest = pkt->payload_len - descriptor_len;
    if ((size_t)n + rest > sizeof out->rewritten) return J_ESHORTBUF;
    memcpy(out->rewritten + n, pkt->payload + descriptor_len, rest);
    out->data = out->rewritten;
    out->len = (size_t)n + rest;
    return J_OK;
}

/* One source packet as downtrack d sends it: header h (d's SSRC, PT, numbering) and d's
 * extensions, then the payload - behind the original sequence number osn when h is d's RTX
 * stream (osn >= 0). Forwarding and retransmission share it, so a resent packet is the
 * packet that was sent. Returns the length, or a negative J_E* code. */
static int write_for_downtrack(const sfu_downtrack *d, const rtp_header_out *h,
                               const carried_exts *c, const out_payload *pl, int32_t osn,
                               uint8_t *buf, size_t *twcc_off)
{
    rtp_ext_elem exts[SFU_MAX_EXTS];
    size_t n_exts = build_extensions(d, c, exts);
    int len = osn < 0 ? rtp_write_packet(h, exts, n_exts, pl->data, pl->len, buf, SFU_OUT_BUF)
                      : rtp_rtx_wrap(h, exts, n_exts, (uint16_t)osn, pl->data, pl->len, buf,
                                     SFU_OUT_BUF);
    if (len > 0) *twcc_off = twcc_offset(d, buf);
    return len;
}

static uint32_t source_clock_rate(const sfu_track *t, uint8_t pt)
{
    for (int i = 0; i < t->source.codec_count; i++)
        if (t->source.codecs[i].pt == pt) return t->source.codecs[i].clock_rate;
    return 0;
}

/* A video packet as the layer selector sees it, read from its payload descriptor or its
 * Dependency Descriptor only (never the media: end-to-end encryption keeps working). */
typedef struct video_pkt {
    sfu_layer_pkt layer;
    bool layer_unknown; /* its descriptor tells no layer: for no downtrack */
    picture_desc pic;
    bool has_dd;
    dd_frame dd;
} video_pkt;

/* Encodings ranked by keyframe resolution once every encoding has told its size, where the
 * sizes contradict the a=simulcast order; until then that order. A new ranking restarts
 * every downtrack's layers (its current layer meant another encoding). */
static void rank_encodings(sfu_track *t, uint64_t now_us)
{
    uint8_t rank[SFU_MAX_ENCODINGS];
    for (uint8_t e = 0; e < t->encoding_count; e++) {
        const sfu_encoding *x = &t->enc[e];
        if (!x->width) return; /* not every size known yet */
        rank[e] = 0;
        uint32_t area = (uint32_t)x->width * x->height;
        for (uint8_t o = 0; o < t->encoding_count; o++) {
            uint32_t other = (uint32_t)t->enc[o].width * t->enc[o].height;
            if (o != e && (other < area || (other == area && o < e))) rank[e]++;
        }
    }
    bool changed = false;
    for (uint8_t e = 0; e < t->encoding_count; e++) changed |= rank[e] != t->enc[e].spatial;
    if (!changed) return;
    for (uint8_t e = 0; e < t->encoding_count; e++) {
        t->enc[e].spatial = rank[e];
        sfu_layer_meter_set_resolution(&t->meter, rank[e], t->enc[e].width, t->enc[e].height);
    }
    sfu_layer_meter_init(&t->meter, t->layers_mode);
    for (uint8_t e = 0; e < t->encoding_count; e++)
        sfu_layer_meter_set_resolution(&t->meter, rank[e], t->enc[e].width, t->enc[e].height);
    for (size_t i = 0; i < t->n_downs; i++)
        if (t->downs[i]->seq.started) sync_downtrack(t, t->downs[i], now_us);
}

/* A keyframe told encoding e's size. */
static void note_resolution(sfu_track *t, uint8_t e, uint16_t width, uint16_t height,
                            uint64_t now_us)
{
    sfu_encoding *x = &t->enc[e];
    if (x->width == width && x->height == height) return;
    x->width = width;
    x->height = height;
    sfu_layer_meter_set_resolution(&t->meter, x->spatial, width, height);
    if (t->layers_mode == SFU_LAYERS_SIMULCAST && t->encoding_count > 1) rank_encodings(t, now_us);
}

static void describe_video(sfu_track *t, const rtp_pkt *pkt, uint8_t e, const carried_exts *c,
                           video_pkt *v, uint64_t now_us)
{
    codec_kind codec = t->source_codec[pkt->payload_type & 0x7F];
    uint8_t spatial = t->enc[e].spatial;
    v->has_dd = v->layer_unknown = false;
    v->layer = (sfu_layer_pkt){.spatial = spatial, .rtp_ts = pkt->timestamp,
                               .marker = pkt->marker, .frame_end = pkt->marker};
    const uint8_t *dd = c->data[SFU_EXT_DEPENDENCY_DESCRIPTOR];
    describe_picture(t, pkt, &t->vp9_ss, &v->pic);
    if (v->pic.codec == CODEC_VP8) {
        const vp8_descriptor *d = &v->pic.vp8;
        v->layer = sfu_layer_pkt_from_vp8(d, spatial, pkt->timestamp, pkt->marker);
        if (d->keyframe && d->has_dimensions) note_resolution(t, e, d->width, d->height, now_us);
    } else if (v->pic.codec == CODEC_VP9) {
        const vp9_descriptor *d = &v->pic.vp9;
        v->layer = sfu_layer_pkt_from_vp9(d, pkt->timestamp, pkt->marker);
        if (t->layers_mode == SFU_LAYERS_SIMULCAST) v->layer.spatial = spatial;
        if (d->has_ss && t->vp9_ss.has_resolution && t->layers_mode == SFU_LAYERS_SVC)
            for (uint8_t s = 0; s < t->vp9_ss.spatial_layers && s < SFU_LAYERS_MAX_SPATIAL; s++)
                sfu_layer_meter_set_resolution(&t->meter, s, t->vp9_ss.width[s],
                                               t->vp9_ss.height[s]);
        else if (d->has_ss && t->vp9_ss.has_resolution && d->keyframe)
            /* Simulcast: each encoding's keyframe tells its own size (its top spatial layer). */
            note_resolution(t, e, t->vp9_ss.width[t->vp9_ss.spatial_layers - 1],
                            t->vp9_ss.height[t->vp9_ss.spatial_layers - 1], now_us);
    } else if (codec == CODEC_VP9) {
        return; /* malformed: its layer stays the defaults above */
    } else if (dd) {
        /* The descriptor alone tells the layers (never the payload, which may be encrypted
         * end to end). When it tells none, the packet goes nowhere: a packet of any layer
         * would break a subscriber of a lower one. A structure lost with its keyframe comes
         * back with the next keyframe, asked for at the next tick. */
        int rc = dd_parse(&v->dd, &t->dd, dd, c->len[SFU_EXT_DEPENDENCY_DESCRIPTOR]);
        if (rc != J_OK) {
            v->layer_unknown = true;
            if (rc == J_ESTATE || rc == J_ENOTFOUND) t->enc[e].keyframe_pending = true;
            return;
        }
        v->has_dd = true;
        v->layer.spatial = t->layers_mode == SFU_LAYERS_SVC ? v->dd.spatial_id : spatial;
        v->layer.temporal = v->dd.temporal_id;
        v->layer.frame_start = v->dd.start_of_frame;
        v->layer.frame_end = v->dd.end_of_frame;
        v->layer.keyframe = v->dd.start_of_frame && v->dd.has_structure;
        if (v->dd.has_structure && t->dd.has_resolutions)
            for (uint8_t s = 0; s <= t->dd.max_spatial_id && s < SFU_LAYERS_MAX_SPATIAL; s++)
                sfu_layer_meter_set_resolution(&t->meter, s, t->dd.width[s], t->dd.height[s]);
    } else {
        /* No layers to tell (H.264, AV1 without the descriptor): each keyframe starts a frame. */
        v->layer.keyframe = v->layer.frame_start =
            codec_is_keyframe(codec, pkt->payload, pkt->payload_len);
    }
}

/* Whether video packet v goes to d, and with which marker bit; keeps d's numbering
 * continuous over what it drops and restarts it where the selector switches streams. */
static bool select_for_downtrack(sfu_track *t, sfu_downtrack *d, const rtp_pkt *pkt, uint8_t e,
                                 const video_pkt *v, bool *marker)
{
    sfu_layer_verdict verdict = SFU_LAYER_DROP;
    if (!v->layer_unknown) {
        sfu_layer_pkt lp = v->layer;
        if (v->has_dd) {
            lp = sfu_layer_pkt_from_dd(&v->dd, &t->dd, &d->layers, pkt->timestamp, pkt->marker);
            if (t->layers_mode == SFU_LAYERS_SIMULCAST) lp.spatial = v->layer.spatial;
        }
        verdict = sfu_layers_on_packet(&d->layers, &lp, marker);
    }
    if (verdict == SFU_LAYER_DROP) {
        /* A layer of the stream d forwards: close its gap. Another encoding's: not d's. */
        if (e == d->mapped_encoding && pkt->ssrc == d->mapped_ssrc) {
            sfu_seqmap_drop(&d->seq, pkt->seq);
            /* VP8 gives a dropped picture's number to the next; VP9 keeps it (picmap.h). */
            if (v->pic.codec == CODEC_VP8) vp8_picmap_drop(&d->picmap, &v->pic.vp8);
        }
        return false;
    }
    d->waiting_keyframe = false;
    if (verdict == SFU_LAYER_FORWARD_RESYNC) {
        sfu_seqmap_resync(&d->seq);
        picmap_resync(&d->picmap);
    }
    return true;
}

void sfu_track_forward(sfu_track *t, const rtp_pkt *pkt, uint8_t encoding, uint64_t now_us)
{
    if (encoding >= t->encoding_count) return;
    t->packets_in++;
    t->bytes_in += pkt->len;
    sfu_encoding *enc = &t->enc[encoding];
    enc->ssrc = pkt->ssrc;
    enc->packets++;
    enc->bytes += pkt->len;
    if (t->muted) return;
    if (t->relay) t->relay->packet(t->relay_ctx, t, pkt, encoding, now_us);
    if (enc->rtx) rtp_rtx_buffer_put(enc->rtx, pkt->seq, pkt->buf, pkt->len, now_us);
    const uint8_t in_pt = pkt->payload_type & 0x7F;
    uint32_t clock_rate = source_clock_rate(t, in_pt);
    carried_exts carried;
    find_carried(t, pkt, &carried);
    if (carried.data[SFU_EXT_AUDIO_LEVEL])
        add_level(&t->levels, carried.data[SFU_EXT_AUDIO_LEVEL], carried.len[SFU_EXT_AUDIO_LEVEL]);
    video_pkt v;
    v.pic.codec = CODEC_UNKNOWN; /* audio: nothing to rewrite */
    bool video = t->kind == SFU_VIDEO;
    if (video) {
        describe_video(t, pkt, encoding, &carried, &v, now_us);
        if (!v.layer_unknown)
            sfu_layer_meter_add(&t->meter, v.layer.spatial, v.layer.temporal, pkt->len, now_us);
    }

    uint8_t buf[SFU_OUT_CAP];
    out_payload payload;
    for (size_t i = 0; i < t->n_downs; i++) {
        sfu_downtrack *d = t->downs[i];
        if (d->paused) continue;
        uint8_t out_pt = d->pt_map[in_pt];
        if (out_pt == SFU_NO_PT) {
            d->dropped_no_codec++;
            continue;
        }
        bool marker = pkt->marker;
        if (video) {
            if (d->target.state == SFU_LAYERS_OFF_NO_SOURCE) {
                /* The source's first packets: pick a layer now, not at the next tick. */
                sfu_layers_source src;
                sfu_layer_meter_read(&t->meter, now_us, &src);
                update_layers(t, d, &src, false, now_us);
            }
            if (!select_for_downtrack(t, d, pkt, encoding, &v, &marker)) continue;
        }
        if (payload_for_downtrack(d, pkt, &v.pic, &payload) != J_OK) {
            sfu_seqmap_drop(&d->seq, pkt->seq);
            continue;
        }
        rtp_header_out h = {.marker = marker, .payload_type = out_pt, .ssrc = d->ssrc};
        if (sfu_seqmap_map(&d->seq, pkt->seq, pkt->timestamp, clock_rate, now_us, &h.seq,
                           &h.timestamp) != J_OK)
            continue;
        d->mapped_ssrc = pkt->ssrc;
        d->mapped_encoding = encoding;
        d->clock_rate = clock_rate;
        size_t twcc_off = 0;
        int len = write_for_downtrack(d, &h, &carried, &payload, -1, buf, &twcc_off);
        if (len < 0) continue;
        d->packets++;
        d->bytes += (uint64_t)len;
        d->payload_bytes += payload.len;
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

/* The marker bit a forwarded packet had: an SVC picture ends, for d, with the highest spatial
 * layer it receives. Its layer comes from its VP9 descriptor or its Dependency Descriptor (c),
 * which resolves against a copy of the structure in force: parsing must not change it. */
static bool forwarded_marker(const sfu_track *t, const sfu_downtrack *d, const rtp_pkt *pkt,
                             const carried_exts *c)
{
    if (pkt->marker || t->layers_mode != SFU_LAYERS_SVC) return pkt->marker;
    const uint8_t *dd = c->data[SFU_EXT_DEPENDENCY_DESCRIPTOR];
    if (dd) {
        dd_structure st = t->dd;
        dd_frame f;
        return dd_parse(&f, &st, dd, c->len[SFU_EXT_DEPENDENCY_DESCRIPTOR]) == J_OK &&
               f.end_of_frame && f.spatial_id == d->layers.current_spatial;
    }
    vp9_descriptor vp9;
    return t->source_codec[pkt->payload_type & 0x7F] == CODEC_VP9 &&
           vp9_parse(&vp9, NULL, pkt->payload, pkt->payload_len) == J_OK && vp9.end_of_frame &&
           vp9.sid == d->layers.current_spatial;
}

int sfu_downtrack_retransmit(sfu_downtrack *d, uint16_t out_seq, uint64_t now_us)
{
    const sfu_track *t = d->track;
    uint16_t in_seq;
    rtp_rtx_pkt stored;
    rtp_pkt pkt;
    const rtp_rtx_buffer *rtx = t ? t->enc[d->mapped_encoding].rtx : NULL;
    if (!rtx || d->paused || sfu_seqmap_unmap(&d->seq, out_seq, &in_seq) != J_OK ||
        rtp_rtx_buffer_get(rtx, in_seq, now_us, &stored) != J_OK ||
        rtp_parse(&pkt, stored.data, stored.len) != J_OK || pkt.ssrc != d->mapped_ssrc)
        return J_ENOTFOUND;
    uint8_t out_pt = d->pt_map[pkt.payload_type & 0x7F];
    if (out_pt == SFU_NO_PT) return J_ENOTFOUND;
    picture_desc pic;
    describe_picture(t, &pkt, NULL, &pic);
    out_payload payload;
    if (payload_for_downtrack(d, &pkt, &pic, &payload) != J_OK)
        return J_ENOTFOUND;
    carried_exts carried;
    find_carried(t, &pkt, &carried);
    uint8_t rtx_pt = d->rtx_ssrc ? rtx_payload_type(d, out_pt) : 0;
    rtp_header_out h = {.marker = forwarded_marker(t, d, &pkt, &carried),
                        .payload_type = rtx_pt ? rtx_pt : out_pt,
                        .seq = rtx_pt ? d->rtx_seq : out_seq,
                        .timestamp = sfu_seqmap_out_ts(&d->seq, pkt.timestamp),
                        .ssrc = rtx_pt ? d->rtx_ssrc : d->ssrc};
    uint8_t buf[SFU_OUT_CAP];
    size_t twcc_off = 0;
    int len = write_for_downtrack(d, &h, &carried, &payload, rtx_pt ? out_seq : -1, buf, &twcc_off);
    if (len < 0) return len;
    if (d->rtx_credit < len) return J_ELIMIT;
    if (rtx_pt) d->rtx_seq++;
    d->rtx_credit -= len;
    d->rtx_packets++;
    d->rtx_bytes += (uint64_t)len;
    d->send(d->send_ctx, buf, (size_t)len, sizeof buf, twcc_off, now_us);
    return J_OK;
}

void sfu_track_on_sender_report(sfu_track *t, uint8_t encoding, uint32_t ssrc, uint32_t rtp_ts,
                                uint64_t now_us)
{
    if (encoding >= t->encoding_count) return;
    sfu_encoding *e = &t->enc[encoding];
    e->sender_report.valid = true;
    e->sender_report.ssrc = ssrc;
    e->sender_report.rtp_ts = rtp_ts;
    e->sender_report.arrival_us = now_us;
    if (t->relay) t->relay->sender_report(t->relay_ctx, t, encoding, ssrc, rtp_ts, now_us);
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
    const sfu_encoding *e = t ? &t->enc[d->mapped_encoding] : NULL;
    if (e && e->sender_report.valid && e->sender_report.ssrc == d->mapped_ssrc && !d->seq.resync) {
        uint32_t src = e->sender_report.rtp_ts +
                       rtp_ticks(e->sender_report.arrival_us, now_us, d->clock_rate);
        *rtp_ts = sfu_seqmap_out_ts(&d->seq, src);
        return J_OK;
    }
    *rtp_ts = d->seq.max_out_ts + rtp_ticks(d->seq.max_out_us, now_us, d->clock_rate);
    return J_OK;
}
