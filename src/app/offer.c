/* offer.c - parse, negotiate and answer an SDP offer for one session. */
#include "app/offer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/random.h"

static const uint32_t CARRIED_EXTS = SDP_EXT_BIT(SDP_EXT_MID) | SDP_EXT_BIT(SDP_EXT_AUDIO_LEVEL) |
                                     SDP_EXT_BIT(SDP_EXT_VIDEO_ORIENTATION) |
                                     SDP_EXT_BIT(SDP_EXT_DEPENDENCY_DESCRIPTOR);
/* Simulcast ingest: which encoding (and which encoding's retransmissions) a stream is. */
static const uint32_t SIMULCAST_EXTS = SDP_EXT_BIT(SDP_EXT_RID) | SDP_EXT_BIT(SDP_EXT_RRID);
/* Transport-wide sequence numbers: a publisher's are fed back to it (its congestion control
 * adapts its rate), ours on a subscriber's egress give its estimate. */
static const uint32_t TRANSPORT_EXTS = SDP_EXT_BIT(SDP_EXT_TWCC);

void app_offer_free(app_offer *o)
{
    free(o->sdp);
    free(o->neg);
    free(o->binds);
    free(o->refused);
    memset(o, 0, sizeof *o);
}

int app_offer_negotiate(app_offer *o, peer_role role, const char *text, size_t len, char *detail,
                        size_t detail_cap)
{
    memset(o, 0, sizeof *o);
    o->sdp = malloc(sizeof *o->sdp);
    o->neg = malloc(sizeof *o->neg);
    if (!o->sdp || !o->neg) {
        app_offer_free(o);
        return J_ENOMEM;
    }
    int rc = sdp_parse(o->sdp, text, len, detail, detail_cap);
    if (rc != J_OK) {
        app_offer_free(o);
        return J_EMALFORMED;
    }
    /* RTX both ways: publishers answer our NACKs with it, we answer subscribers' with it. */
    sdp_policy policy = {
        .audio_codecs = SDP_CODEC_OPUS,
        .video_codecs = SDP_CODEC_VP8 | SDP_CODEC_VP9 | SDP_CODEC_H264 | SDP_CODEC_AV1,
        .video_rtx = true,
        .rtcp_fb = SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR | SDP_FB_REMB | SDP_FB_TWCC,
        .ext_recv = CARRIED_EXTS | TRANSPORT_EXTS | SIMULCAST_EXTS,
        .ext_send = CARRIED_EXTS | TRANSPORT_EXTS,
        .can_receive = role == PEER_PUBLISHER,
        .can_send = role == PEER_SUBSCRIBER,
    };
    rc = sdp_negotiate(o->sdp, &policy, o->neg, detail, detail_cap);
    if (rc != J_OK) {
        app_offer_free(o);
        return rc == J_EUNSUPPORTED ? J_EUNSUPPORTED : J_EMALFORMED;
    }
    size_t n = o->neg->media_count ? o->neg->media_count : 1;
    o->binds = calloc(n, sizeof *o->binds);
    o->refused = calloc(n, sizeof *o->refused);
    if (!o->binds || !o->refused) {
        app_offer_free(o);
        return J_ENOMEM;
    }
    return J_OK;
}

int app_offer_check_codecs(app_offer *o, const sfu_source *published, char *detail,
                           size_t detail_cap)
{
    int live = 0, receivable = 0;
    size_t used = 0;
    detail[0] = '\0';
    for (int i = 0; i < o->neg->media_count; i++) {
        const sdp_neg_media *m = &o->neg->media[i];
        const sfu_source *src = &published[i];
        o->refused[i][0] = '\0';
        if (!o->binds[i].track_id[0] || src->codec_count == 0) continue;
        live++;
        if (sdp_codecs_overlap(src->codecs, src->codec_count, m->codecs, m->codec_count)) {
            receivable++;
            continue;
        }
        engine_codec_refusal(o->refused[i], APP_REFUSAL_LEN, (sfu_kind)sfu_kind_from_sdp(m->kind),
                             src->codecs, src->codec_count, m->codecs, m->codec_count);
        memset(&o->binds[i], 0, sizeof o->binds[i]);
        if (used < detail_cap) {
            int w = snprintf(detail + used, detail_cap - used, "%s%s", used ? "; " : "",
                             o->refused[i]);
            if (w > 0) used += (size_t)w;
        }
    }
    return live > 0 && receivable == 0 ? J_EUNSUPPORTED : J_OK;
}

int app_offer_check_published(const app *a, const char *name, app_offer *o, char *detail,
                              size_t detail_cap)
{
    sfu_source *published = calloc(o->neg->media_count ? o->neg->media_count : 1,
                                   sizeof *published);
    if (!published) return J_ENOMEM;
    int rc = media_published(a->media, name, o->binds, o->neg->media_count, published);
    if (rc == J_OK) rc = app_offer_check_codecs(o, published, detail, detail_cap);
    free(published);
    return rc;
}

int app_offer_answer(const app *a, app_offer *o, peer_role role, const app_answer_params *p,
                     char *buf, size_t cap)
{
    sdp_answer_params ap;
    memset(&ap, 0, sizeof ap);
    ap.local.session_id = ((uint64_t)j_random_u32() << 31) ^ j_random_u32();
    ap.local.ice_ufrag = p->ice_ufrag;
    ap.local.ice_pwd = p->ice_pwd;
    ap.local.fingerprint = dtls_cert_fingerprint(a->cert);
    ap.ice_lite = true;
    for (int i = 0; i < a->n_candidates && i < SDP_MAX_ANSWER_CANDIDATES; i++) {
        ap.local.candidates[ap.local.candidate_count].addr = a->candidates[i];
        j_addr_set_port(&ap.local.candidates[ap.local.candidate_count++].addr, p->media_port);
    }
    if (role == PEER_SUBSCRIBER) {
        for (int i = 0; i < o->neg->media_count; i++) {
            if (!peer_neg_carries(&o->neg->media[i], role)) continue;
            if (!o->binds[i].ssrc) {
                o->neg->media[i].dir = SDP_DIR_INACTIVE; /* nothing to send there (yet) */
                continue;
            }
            ap.send[i] = (sdp_send_track){.ssrc = o->binds[i].ssrc,
                                          .rtx_ssrc = o->binds[i].rtx_ssrc, .cname = p->cname,
                                          .stream_id = p->stream_id,
                                          .track_id = o->binds[i].track_id};
        }
    }
    return sdp_write_answer(o->sdp, o->neg, &ap, buf, cap);
}
