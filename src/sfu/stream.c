/* stream.c - fan-out of a publisher's RTP to its subscribers, with header rewriting. */
#include "sfu/stream.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/random.h"

/* Room for the largest datagram plus the SRTP authentication tag added in place. */
#define SFU_OUT_BUF 1500
#define SFU_OUT_CAP (SFU_OUT_BUF + 64)
#define SFU_MAX_EXTS (1 + SFU_EXT_COUNT) /* MID + the carried ones */

int sfu_kind_from_sdp(sdp_kind k)
{
    if (k == SDP_KIND_AUDIO) return SFU_AUDIO;
    if (k == SDP_KIND_VIDEO) return SFU_VIDEO;
    return -1;
}

sfu_stream *sfu_stream_new(const char *name)
{
    sfu_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    strncpy(s->name, name, sizeof s->name - 1);
    for (int pt = 0; pt < 128; pt++) s->source_codec[pt] = CODEC_UNKNOWN;
    return s;
}

void sfu_stream_free(sfu_stream *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_subs; i++) s->subs[i]->stream = NULL;
    free(s->subs);
    free(s);
}

bool sfu_stream_is_empty(const sfu_stream *s) { return !s->has_publisher && s->n_subs == 0; }

/* The subscriber PT for each publisher PT: same codec (sdp_codec_same), else none. */
static void map_payload_types(sfu_out_track *t, const sfu_source_track *src)
{
    memset(t->pt_map, SFU_NO_PT, sizeof t->pt_map);
    if (!src->active) return;
    for (int i = 0; i < src->codec_count; i++) {
        const sdp_codec *pc = &src->codecs[i];
        for (int j = 0; j < t->codec_count; j++) {
            if (sdp_codec_same(pc, &t->codecs[j])) {
                t->pt_map[pc->pt & 0x7F] = t->codecs[j].pt;
                break;
            }
        }
    }
}

/* After a (re)attach: remap, keep numbering continuous, and wait for a keyframe. */
static void sync_subscriber(sfu_stream *s, sfu_subscriber *sub)
{
    for (int k = 0; k < SFU_KINDS; k++) {
        sfu_out_track *t = &sub->tracks[k];
        if (!t->active) continue;
        map_payload_types(t, &s->source[k]);
        sfu_seqmap_resync(&t->seq);
        t->waiting_keyframe = (k == SFU_VIDEO);
        t->keyframe_asked_us = 0;
    }
}

void sfu_stream_attach_publisher(sfu_stream *s, const sfu_source_track src[SFU_KINDS],
                                 sfu_keyframe_fn request_keyframe, void *publisher_ctx,
                                 uint64_t now_us)
{
    s->has_publisher = true;
    memcpy(s->source, src, sizeof s->source);
    s->request_keyframe = request_keyframe;
    s->publisher_ctx = publisher_ctx;
    s->keyframe_sent_us = 0;
    s->keyframe_pending = false;
    for (int pt = 0; pt < 128; pt++) s->source_codec[pt] = CODEC_UNKNOWN;
    for (int k = 0; k < SFU_KINDS; k++)
        for (int i = 0; i < src[k].codec_count; i++)
            s->source_codec[src[k].codecs[i].pt & 0x7F] = codec_kind_from_name(src[k].codecs[i].name);
    for (size_t i = 0; i < s->n_subs; i++) sync_subscriber(s, s->subs[i]);
    if (s->n_subs > 0) sfu_stream_request_keyframe(s, now_us);
}

void sfu_stream_detach_publisher(sfu_stream *s)
{
    s->has_publisher = false;
    memset(s->source, 0, sizeof s->source);
    s->request_keyframe = NULL;
    s->publisher_ctx = NULL;
    s->keyframe_pending = false;
}

void sfu_subscriber_init(sfu_subscriber *sub, sfu_send_fn send, void *send_ctx)
{
    memset(sub, 0, sizeof *sub);
    sub->send = send;
    sub->send_ctx = send_ctx;
}

void sfu_out_track_init(sfu_out_track *t, const sdp_neg_media *m, uint32_t ssrc)
{
    memset(t, 0, sizeof *t);
    t->active = true;
    t->ssrc = ssrc;
    t->codec_count = m->codec_count;
    memcpy(t->codecs, m->codecs, sizeof t->codecs[0] * m->codec_count);
    t->mid_ext_id = m->ext_id[SDP_EXT_MID];
    memcpy(t->mid, m->mid, sizeof t->mid);
    t->ext_id[SFU_EXT_AUDIO_LEVEL] = m->ext_id[SDP_EXT_AUDIO_LEVEL];
    t->ext_id[SFU_EXT_VIDEO_ORIENTATION] = m->ext_id[SDP_EXT_VIDEO_ORIENTATION];
    memset(t->pt_map, SFU_NO_PT, sizeof t->pt_map);
    sfu_seqmap_init(&t->seq, (uint16_t)j_random_u32(), j_random_u32());
}

int sfu_stream_add_subscriber(sfu_stream *s, sfu_subscriber *sub, uint64_t now_us)
{
    if (s->n_subs == s->cap_subs) {
        size_t cap = s->cap_subs ? s->cap_subs * 2 : 8;
        sfu_subscriber **subs = realloc(s->subs, cap * sizeof *subs);
        if (!subs) return J_ENOMEM;
        s->subs = subs;
        s->cap_subs = cap;
    }
    s->subs[s->n_subs++] = sub;
    sub->stream = s;
    sync_subscriber(s, sub);
    if (s->has_publisher) sfu_stream_request_keyframe(s, now_us);
    return J_OK;
}

void sfu_stream_remove_subscriber(sfu_stream *s, sfu_subscriber *sub)
{
    for (size_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i] == sub) {
            s->subs[i] = s->subs[--s->n_subs];
            break;
        }
    }
    sub->stream = NULL;
}

void sfu_stream_request_keyframe(sfu_stream *s, uint64_t now_us)
{
    if (!s->has_publisher || !s->request_keyframe) return;
    if (s->keyframe_sent_us && now_us - s->keyframe_sent_us < SFU_KEYFRAME_INTERVAL_US) {
        s->keyframe_pending = true;
        return;
    }
    s->keyframe_sent_us = now_us;
    s->keyframe_pending = false;
    s->request_keyframe(s->publisher_ctx);
}

void sfu_stream_handle_timeout(sfu_stream *s, uint64_t now_us)
{
    if (!s->has_publisher) return;
    bool want = s->keyframe_pending;
    for (size_t i = 0; i < s->n_subs; i++) {
        sfu_out_track *t = &s->subs[i]->tracks[SFU_VIDEO];
        if (!t->active || !t->waiting_keyframe) continue;
        if (t->keyframe_asked_us == 0 || now_us - t->keyframe_asked_us >= SFU_KEYFRAME_RETRY_US) {
            t->keyframe_asked_us = now_us;
            want = true;
        }
    }
    if (want) sfu_stream_request_keyframe(s, now_us);
}

/* The carried extensions' values in one publisher packet, looked up once per packet. */
typedef struct carried_exts {
    const uint8_t *data[SFU_EXT_COUNT]; /* NULL when absent */
    size_t len[SFU_EXT_COUNT];
} carried_exts;

static void find_carried(const sfu_source_track *src, const rtp_pkt *pkt, carried_exts *out)
{
    for (int e = 0; e < SFU_EXT_COUNT; e++) {
        out->data[e] = NULL;
        if (src->ext_id[e] && rtp_ext_find(pkt, src->ext_id[e], &out->data[e], &out->len[e]) != J_OK)
            out->data[e] = NULL;
    }
}

/* The extensions a subscriber gets: its MID, and the carried ones it negotiated. */
static size_t build_extensions(const sfu_out_track *t, const carried_exts *c, rtp_ext_elem *exts)
{
    size_t n = 0;
    if (t->mid_ext_id && t->mid[0]) {
        exts[n].id = t->mid_ext_id;
        exts[n].data = (const uint8_t *)t->mid;
        exts[n].len = strlen(t->mid);
        n++;
    }
    for (int e = 0; e < SFU_EXT_COUNT; e++) {
        if (!c->data[e] || !t->ext_id[e]) continue;
        exts[n].id = t->ext_id[e];
        exts[n].data = c->data[e];
        exts[n].len = c->len[e];
        n++;
    }
    return n;
}

void sfu_stream_forward(sfu_stream *s, sfu_kind kind, const rtp_pkt *pkt, uint64_t now_us)
{
    s->packets_in++;
    s->bytes_in += pkt->len;
    const uint8_t in_pt = pkt->payload_type & 0x7F;
    int keyframe = -1; /* computed lazily: most packets go to nobody waiting */
    uint32_t clock_rate = 0;
    for (int i = 0; i < s->source[kind].codec_count; i++)
        if (s->source[kind].codecs[i].pt == in_pt) clock_rate = s->source[kind].codecs[i].clock_rate;
    carried_exts carried;
    find_carried(&s->source[kind], pkt, &carried);

    uint8_t buf[SFU_OUT_CAP];
    for (size_t i = 0; i < s->n_subs; i++) {
        sfu_subscriber *sub = s->subs[i];
        sfu_out_track *t = &sub->tracks[kind];
        if (!t->active) continue;
        uint8_t out_pt = t->pt_map[in_pt];
        if (out_pt == SFU_NO_PT) {
            t->dropped_no_codec++;
            continue;
        }
        if (t->waiting_keyframe) {
            if (keyframe < 0)
                keyframe = codec_is_keyframe(s->source_codec[in_pt], pkt->payload,
                                             pkt->payload_len);
            if (!keyframe) continue;
            t->waiting_keyframe = false;
        }
        rtp_header_out h = {.marker = pkt->marker, .payload_type = out_pt, .ssrc = t->ssrc};
        sfu_seqmap_map(&t->seq, pkt->seq, pkt->timestamp, clock_rate, now_us, &h.seq,
                       &h.timestamp);
        rtp_ext_elem exts[SFU_MAX_EXTS];
        size_t n_exts = build_extensions(t, &carried, exts);
        int hlen = rtp_write_header(&h, exts, n_exts, buf, SFU_OUT_BUF);
        if (hlen < 0 || (size_t)hlen + pkt->payload_len > SFU_OUT_BUF) continue;
        memcpy(buf + hlen, pkt->payload, pkt->payload_len);
        size_t len = (size_t)hlen + pkt->payload_len;
        t->packets++;
        t->bytes += len;
        sub->send(sub->send_ctx, buf, len, sizeof buf);
    }
}
