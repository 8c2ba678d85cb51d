/* sdp_negotiate.c - decide our answer to a parsed offer (RFC 3264 offer/answer as profiled
 * by JSEP, RFC 8829 §5.3), and compare codecs across peers.
 *
 * We are an SFU with one ICE/DTLS transport per peer: every accepted m= section must be in
 * one BUNDLE group (RFC 8843) and use rtcp-mux (RFC 5761). Codecs are answered in the
 * offer's order with the offer's payload types, so the browser's preference decides which
 * codec it sends first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/fingerprint.h"
#include "sdp/sdp.h"
#include "sdp/sdp_internal.h"

static bool dir_sends(sdp_dir d) { return d == SDP_DIR_NONE || d == SDP_DIR_SENDRECV || d == SDP_DIR_SENDONLY; }
static bool dir_recvs(sdp_dir d) { return d == SDP_DIR_NONE || d == SDP_DIR_SENDRECV || d == SDP_DIR_RECVONLY; }

static sdp_dir dir_of(bool send, bool recv)
{
    if (send && recv) return SDP_DIR_SENDRECV;
    if (send) return SDP_DIR_SENDONLY;
    if (recv) return SDP_DIR_RECVONLY;
    return SDP_DIR_INACTIVE;
}

/* fmtp_num - a small numeric fmtp parameter, or dflt when absent or not a number. */
static long fmtp_num(const char *fmtp, const char *key, long dflt)
{
    char v[16];
    if (sdp_fmtp_get(fmtp, key, v, sizeof v) <= 0) return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    return *end == '\0' ? n : dflt;
}

static bool codec_acceptable(sdp_kind kind, const sdp_codec *cd, const sdp_policy *p)
{
    if (kind == SDP_KIND_AUDIO)
        return (p->audio_codecs & SDP_CODEC_OPUS) && sdp_strieq(cd->name, "opus") &&
               cd->clock_rate == 48000 && cd->channels == 2;
    if (kind != SDP_KIND_VIDEO || cd->clock_rate != 90000) return false;
    if (sdp_strieq(cd->name, "VP8")) return (p->video_codecs & SDP_CODEC_VP8) != 0;
    if (sdp_strieq(cd->name, "VP9")) return (p->video_codecs & SDP_CODEC_VP9) != 0;
    if (sdp_strieq(cd->name, "AV1")) return (p->video_codecs & SDP_CODEC_AV1) != 0;
    if (sdp_strieq(cd->name, "H264"))
        /* Mode 0 (single NAL unit) cannot carry what browsers' encoders produce at
         * typical sizes; our forwarding assumes FU-A/STAP-A are allowed (RFC 6184). */
        return (p->video_codecs & SDP_CODEC_H264) && fmtp_num(cd->fmtp, "packetization-mode", 0) == 1;
    return false;
}

static const sdp_codec *codec_by_pt(const sdp_media *m, uint8_t pt)
{
    for (unsigned i = 0; i < m->format_count; i++)
        if (m->codecs[i].pt == pt) return &m->codecs[i];
    return NULL;
}

static void negotiate_codecs(const sdp_media *m, const sdp_policy *p, sdp_neg_media *nm)
{
    for (unsigned i = 0; i < m->format_count; i++) {
        const sdp_codec *cd = &m->codecs[i];
        if (!codec_acceptable(m->kind, cd, p)) continue;
        if (nm->codec_count >= SDP_MAX_NEG_CODECS) break; /* the rest are less preferred */
        sdp_codec *o = &nm->codecs[nm->codec_count++];
        *o = *cd;
        o->rtcp_fb = cd->rtcp_fb & p->rtcp_fb;
        o->rtx_pt = 0;
        if (m->kind == SDP_KIND_VIDEO && p->video_rtx && cd->rtx_pt) {
            const sdp_codec *rtx = codec_by_pt(m, cd->rtx_pt);
            if (rtx && rtx->clock_rate == cd->clock_rate) o->rtx_pt = cd->rtx_pt;
        }
    }
}

static void negotiate_extensions(const sdp_media *m, const sdp_policy *p, bool we_recv,
                                 bool we_send, sdp_neg_media *nm)
{
    for (unsigned i = 0; i < m->extmap_count; i++) {
        const sdp_extmap *e = &m->extmaps[i];
        if (e->ext == SDP_EXT_UNKNOWN || nm->ext_id[e->ext] != 0) continue;
        /* An extmap direction is the offerer's view: "sendonly" = only the offerer sends it. */
        bool ok_recv = we_recv && dir_sends(e->dir) && (p->ext_recv & SDP_EXT_BIT(e->ext));
        bool ok_send = we_send && dir_recvs(e->dir) && (p->ext_send & SDP_EXT_BIT(e->ext));
        if (!ok_recv && !ok_send) continue;
        nm->ext_id[e->ext] = (uint8_t)e->id;
        nm->ext_dir[e->ext] = e->dir == SDP_DIR_NONE ? SDP_DIR_NONE : dir_of(ok_send, ok_recv);
    }
}

static bool is_fid_secondary(const sdp_media *m, uint32_t ssrc)
{
    for (unsigned g = 0; g < m->ssrc_group_count; g++) {
        const sdp_ssrc_group *grp = &m->ssrc_groups[g];
        if (grp->kind == SDP_SSRC_GROUP_FID && grp->count == 2 && grp->ssrcs[1] == ssrc) return true;
    }
    return false;
}

static uint32_t fid_partner(const sdp_media *m, uint32_t ssrc)
{
    for (unsigned g = 0; g < m->ssrc_group_count; g++) {
        const sdp_ssrc_group *grp = &m->ssrc_groups[g];
        if (grp->kind == SDP_SSRC_GROUP_FID && grp->count == 2 && grp->ssrcs[0] == ssrc)
            return grp->ssrcs[1];
    }
    return 0;
}

static void collect_streams(const sdp_media *m, sdp_neg_media *nm)
{
    for (unsigned i = 0; i < m->ssrc_count; i++) {
        const sdp_ssrc *x = &m->ssrcs[i];
        if (is_fid_secondary(m, x->ssrc)) continue;
        sdp_neg_stream *st = &nm->streams[nm->stream_count++];
        st->ssrc = x->ssrc;
        st->rtx_ssrc = fid_partner(m, x->ssrc);
        memcpy(st->cname, x->cname, sizeof st->cname);
        if (x->msid_stream[0]) {
            memcpy(st->msid_stream, x->msid_stream, sizeof st->msid_stream);
            memcpy(st->msid_track, x->msid_track, sizeof st->msid_track);
        } else {
            memcpy(st->msid_stream, m->msid_stream, sizeof st->msid_stream);
            memcpy(st->msid_track, m->msid_track, sizeof st->msid_track);
        }
    }
    for (unsigned g = 0; g < m->ssrc_group_count; g++) {
        const sdp_ssrc_group *grp = &m->ssrc_groups[g];
        if (grp->kind != SDP_SSRC_GROUP_SIM) continue;
        nm->sim_ssrc_count = grp->count;
        memcpy(nm->sim_ssrcs, grp->ssrcs, grp->count * sizeof grp->ssrcs[0]);
        break;
    }
}

static bool has_send_rid(const sdp_media *m, const char *id)
{
    for (unsigned i = 0; i < m->rid_count; i++)
        if (m->rids[i].dir == SDP_DIR_SENDONLY && strcmp(m->rids[i].id, id) == 0) return true;
    return false;
}

/* RFC 8851 rid-syntax: 1*(ALPHA / DIGIT / "-" / "_"); anything else is not answered. */
static bool rid_syntax_ok(const char *id)
{
    if (!id[0]) return false;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') return false;
    return true;
}

/* The simulcast streams we receive: a=simulcast send entries with a matching a=rid send,
 * the first SDP_MAX_ENCODINGS of them. */
static void accept_encodings(const sdp_media *m, sdp_neg_media *nm)
{
    if (!m->has_simulcast) return;
    for (unsigned i = 0; i < m->simulcast.send_count && nm->encoding_count < SDP_MAX_ENCODINGS;
         i++)
        if (rid_syntax_ok(m->simulcast.send[i].rid) && has_send_rid(m, m->simulcast.send[i].rid))
            nm->encodings[nm->encoding_count++] = m->simulcast.send[i];
}

static int find_bundle_group(const sdp_session *s, const char *mid)
{
    if (!mid[0]) return -1;
    for (unsigned g = 0; g < s->bundle_count; g++)
        for (unsigned k = 0; k < s->bundles[g].count; k++)
            if (strcmp(s->bundles[g].mids[k], mid) == 0) return (int)g;
    return -1;
}

static const char *mid_or_none(const char *mid) { return mid[0] ? mid : "(none)"; }

int sdp_negotiate(const sdp_session *offer, const sdp_policy *policy, sdp_negotiated *out,
                  char *err, size_t err_cap)
{
    if (err && err_cap > 0) err[0] = '\0';
    if (!offer || !policy || !out) return sdp_errf(err, err_cap, J_EINVAL, "NULL argument");
    memset(out, 0, sizeof *out);
    if (offer->media_count > SDP_MAX_MEDIA)
        return sdp_errf(err, err_cap, J_EINVAL, "media_count %u exceeds SDP_MAX_MEDIA",
                        offer->media_count);
    out->media_count = offer->media_count;
    out->extmap_allow_mixed = offer->extmap_allow_mixed;

    unsigned accepted = 0, flowing = 0, codec_rejects = 0;
    int first = -1;
    for (unsigned i = 0; i < offer->media_count && i < SDP_MAX_MEDIA; i++) {
        const sdp_media *m = &offer->media[i];
        sdp_neg_media *nm = &out->media[i];
        nm->kind = m->kind;
        memcpy(nm->mid, m->mid, sizeof nm->mid);
        if (m->extmap_allow_mixed) out->extmap_allow_mixed = true;

        if (m->port == 0 && !m->bundle_only) nm->reject = SDP_REJECT_DISABLED;
        else if (m->kind == SDP_KIND_APPLICATION) nm->reject = SDP_REJECT_DATACHANNEL;
        else if (m->kind != SDP_KIND_AUDIO && m->kind != SDP_KIND_VIDEO) nm->reject = SDP_REJECT_KIND;
        else if (strcmp(m->proto, "UDP/TLS/RTP/SAVPF") != 0) nm->reject = SDP_REJECT_PROTO;
        else {
            negotiate_codecs(m, policy, nm);
            if (nm->codec_count == 0) {
                nm->reject = SDP_REJECT_NO_CODEC;
                codec_rejects++;
            }
        }
        if (nm->reject != SDP_REJECT_NONE) continue;

        sdp_dir offered = m->dir == SDP_DIR_NONE ? SDP_DIR_SENDRECV : m->dir;
        bool we_recv = policy->can_receive && dir_sends(offered);
        bool we_send = policy->can_send && dir_recvs(offered);
        nm->accepted = true;
        nm->dir = dir_of(we_send, we_recv);
        nm->rtcp_rsize = m->rtcp_rsize;
        negotiate_extensions(m, policy, we_recv, we_send, nm);
        /* A recvonly offer may still list a=ssrc (Firefox does): its RTCP sender, no media. */
        if (we_recv) collect_streams(m, nm);
        nm->rid_count = m->rid_count;
        memcpy(nm->rids, m->rids, sizeof nm->rids);
        nm->has_simulcast = m->has_simulcast;
        nm->simulcast = m->simulcast;
        if (we_recv) accept_encodings(m, nm);
        accepted++;
        if (nm->dir != SDP_DIR_INACTIVE) flowing++;
        if (first < 0) first = (int)i;
    }

    if (accepted == 0) {
        if (codec_rejects > 0)
            return sdp_errf(err, err_cap, J_EUNSUPPORTED,
                            "no usable codec: we accept opus/48000/2, VP8, VP9 and H264 "
                            "packetization-mode=1 (as the policy allows)");
        return sdp_errf(err, err_cap, J_EUNSUPPORTED,
                        "no acceptable m= section (need audio/video over UDP/TLS/RTP/SAVPF)");
    }
    if (flowing == 0)
        return sdp_errf(err, err_cap, J_EUNSUPPORTED,
                        "no m= section can flow: the offer's directions do not fit this endpoint "
                        "(we %s receive and %s send)", policy->can_receive ? "may" : "may not",
                        policy->can_send ? "may" : "may not");

    /* One transport: all accepted m= sections in the same BUNDLE group, with rtcp-mux. */
    const sdp_media *fm = &offer->media[first];
    int group = find_bundle_group(offer, fm->mid);
    for (unsigned i = 0; i < offer->media_count && i < SDP_MAX_MEDIA; i++) {
        if (!out->media[i].accepted) continue;
        const sdp_media *m = &offer->media[i];
        if (!m->rtcp_mux)
            return sdp_errf(err, err_cap, J_EUNSUPPORTED,
                            "rtcp-mux required: m= section %u (mid %s) does not offer a=rtcp-mux",
                            i, mid_or_none(m->mid));
        if (accepted > 1 && (group < 0 || find_bundle_group(offer, m->mid) != group))
            return sdp_errf(err, err_cap, J_EUNSUPPORTED,
                            "BUNDLE required: m= section %u (mid %s) is not in one a=group:BUNDLE "
                            "with the other accepted m= sections (we support a single transport)",
                            i, mid_or_none(m->mid));
    }

    /* Transport parameters: taken from the first accepted m= section; a bundled transport
     * has one set, so every other accepted section must agree. */
    const char *ufrag = sdp_media_ice_ufrag(offer, fm);
    const char *pwd = sdp_media_ice_pwd(offer, fm);
    const sdp_fingerprint *fp = sdp_media_fingerprint(offer, fm);
    if (!ufrag[0] || !pwd[0])
        return sdp_errf(err, err_cap, J_EMALFORMED, "missing a=ice-ufrag/a=ice-pwd for mid %s",
                        mid_or_none(fm->mid));
    if (!fp->alg[0] || !fp->value[0])
        return sdp_errf(err, err_cap, J_EMALFORMED, "missing a=fingerprint for mid %s",
                        mid_or_none(fm->mid));
    /* sdp_parse checked the value; what is left is a hash DTLS cannot verify the peer with. */
    j_fingerprint digest;
    char why[96];
    if (j_fingerprint_parse(fp->alg, strlen(fp->alg), fp->value, strlen(fp->value), &digest, why,
                            sizeof why) != J_OK)
        return sdp_errf(err, err_cap, J_EMALFORMED, "bad a=fingerprint for mid %s: %s",
                        mid_or_none(fm->mid), why);
    for (unsigned i = 0; i < offer->media_count && i < SDP_MAX_MEDIA; i++) {
        if (!out->media[i].accepted) continue;
        const sdp_media *m = &offer->media[i];
        const sdp_fingerprint *f = sdp_media_fingerprint(offer, m);
        if (strcmp(sdp_media_ice_ufrag(offer, m), ufrag) != 0 ||
            strcmp(sdp_media_ice_pwd(offer, m), pwd) != 0 || strcmp(f->alg, fp->alg) != 0 ||
            strcasecmp(f->value, fp->value) != 0)
            return sdp_errf(err, err_cap, J_EMALFORMED,
                            "bundled m= sections disagree on ICE credentials or fingerprint "
                            "(mid %s vs mid %s)", mid_or_none(fm->mid), mid_or_none(m->mid));
    }
    memcpy(out->remote_ufrag, ufrag, sizeof out->remote_ufrag);
    memcpy(out->remote_pwd, pwd, sizeof out->remote_pwd);
    out->remote_fingerprint = *fp;

    /* RFC 8842 §5.3: answer actpass with active or passive; we prefer passive (DTLS server),
     * so the browser's ClientHello reaches us once ICE is up. No a=setup means active. */
    switch (sdp_media_setup(offer, fm)) {
    case SDP_SETUP_PASSIVE: out->our_setup = SDP_SETUP_ACTIVE; break;
    case SDP_SETUP_HOLDCONN:
        return sdp_errf(err, err_cap, J_EUNSUPPORTED, "a=setup:holdconn is not supported");
    default: out->our_setup = SDP_SETUP_PASSIVE; break;
    }

    /* Our BUNDLE group: the offer group's order (its first accepted mid is our tag),
     * keeping accepted mids only. No group in the offer means none in the answer. */
    if (group >= 0) {
        const sdp_bundle_group *g = &offer->bundles[group];
        for (unsigned k = 0; k < g->count; k++)
            for (unsigned i = 0; i < offer->media_count; i++)
                if (out->media[i].accepted && strcmp(offer->media[i].mid, g->mids[k]) == 0) {
                    memcpy(out->bundle_mids[out->bundle_count++], g->mids[k], SDP_MID_LEN);
                    break;
                }
    }
    return 0;
}

/* ---- codec comparison --------------------------------------------------------------- */

/* H.264 profiles as far as decoders care (RFC 6184 §8.1, H.264 Annex A): profile_idc plus
 * the constraint_set flags in profile-iop that narrow it. */
typedef enum {
    H264_CONSTRAINED_BASELINE,
    H264_BASELINE,
    H264_MAIN,
    H264_EXTENDED,
    H264_CONSTRAINED_HIGH,
    H264_HIGH,
    H264_OTHER, /* compared by profile_idc alone */
} h264_profile;

static h264_profile h264_classify(uint8_t idc, uint8_t iop)
{
    const uint8_t set0 = 0x80, set1 = 0x40, set4 = 0x08, set5 = 0x04;
    switch (idc) {
    case 0x42: return (iop & set1) ? H264_CONSTRAINED_BASELINE : H264_BASELINE;
    case 0x4d: return (iop & set0) ? H264_CONSTRAINED_BASELINE : H264_MAIN;
    case 0x58:
        if ((iop & (set0 | set1)) == (set0 | set1)) return H264_CONSTRAINED_BASELINE;
        return (iop & set0) ? H264_BASELINE : H264_EXTENDED;
    case 0x64:
        return (iop & (set4 | set5)) == (set4 | set5) ? H264_CONSTRAINED_HIGH : H264_HIGH;
    default: return H264_OTHER;
    }
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* h264_profile_bytes - profile_idc and profile-iop from profile-level-id (6 hex digits);
 * RFC 6184 §8.1: absent means 420010 (Baseline, level 1). false if malformed. */
static bool h264_profile_bytes(const char *fmtp, uint8_t *idc, uint8_t *iop)
{
    char v[16];
    int n = sdp_fmtp_get(fmtp, "profile-level-id", v, sizeof v);
    if (n == J_ENOTFOUND) {
        *idc = 0x42;
        *iop = 0x00;
        return true;
    }
    if (n != 6) return false;
    int d[4];
    for (int i = 0; i < 4; i++)
        if ((d[i] = hexval(v[i])) < 0) return false;
    if (hexval(v[4]) < 0 || hexval(v[5]) < 0) return false;
    *idc = (uint8_t)(d[0] << 4 | d[1]);
    *iop = (uint8_t)(d[2] << 4 | d[3]);
    return true;
}

bool sdp_codec_same(const sdp_codec *a, const sdp_codec *b)
{
    if (!a || !b) return false;
    if (!sdp_strieq(a->name, b->name) || a->clock_rate != b->clock_rate) return false;
    unsigned cha = a->channels ? a->channels : 1, chb = b->channels ? b->channels : 1;
    if (cha != chb) return false;
    if (sdp_strieq(a->name, "H264")) {
        if (fmtp_num(a->fmtp, "packetization-mode", 0) != fmtp_num(b->fmtp, "packetization-mode", 0))
            return false;
        uint8_t ia, oa, ib, ob;
        if (!h264_profile_bytes(a->fmtp, &ia, &oa) || !h264_profile_bytes(b->fmtp, &ib, &ob))
            return false;
        h264_profile pa = h264_classify(ia, oa), pb = h264_classify(ib, ob);
        if (pa != pb) return false;
        return pa != H264_OTHER || ia == ib;
    }
    if (sdp_strieq(a->name, "VP9"))
        return fmtp_num(a->fmtp, "profile-id", 0) == fmtp_num(b->fmtp, "profile-id", 0);
    if (sdp_strieq(a->name, "AV1")) /* AV1 RTP spec §7.2: profile defaults to 0 (Main) */
        return fmtp_num(a->fmtp, "profile", 0) == fmtp_num(b->fmtp, "profile", 0);
    return true;
}

bool sdp_codecs_overlap(const sdp_codec *a, int a_count, const sdp_codec *b, int b_count)
{
    for (int i = 0; i < a_count; i++)
        for (int j = 0; j < b_count; j++)
            if (sdp_codec_same(&a[i], &b[j])) return true;
    return false;
}

static const char *h264_profile_name(h264_profile p)
{
    switch (p) {
    case H264_CONSTRAINED_BASELINE: return "Constrained Baseline";
    case H264_BASELINE: return "Baseline";
    case H264_MAIN: return "Main";
    case H264_EXTENDED: return "Extended";
    case H264_CONSTRAINED_HIGH: return "Constrained High";
    case H264_HIGH: return "High";
    default: return NULL;
    }
}

/* A codec as people tell them apart: the name, plus what sdp_codec_same also compares
 * (the H.264 profile, a VP9 or AV1 profile other than 0). */
static void codec_label(const sdp_codec *c, char *out, size_t cap)
{
    if (sdp_strieq(c->name, "H264")) {
        uint8_t idc, iop;
        if (!h264_profile_bytes(c->fmtp, &idc, &iop)) {
            snprintf(out, cap, "H264");
            return;
        }
        const char *profile = h264_profile_name(h264_classify(idc, iop));
        if (profile) snprintf(out, cap, "H264 %s", profile);
        else snprintf(out, cap, "H264 profile_idc %u", idc);
        return;
    }
    long profile = sdp_strieq(c->name, "VP9")   ? fmtp_num(c->fmtp, "profile-id", 0)
                   : sdp_strieq(c->name, "AV1") ? fmtp_num(c->fmtp, "profile", 0)
                                                : 0;
    if (profile != 0) snprintf(out, cap, "%s profile %ld", c->name, profile);
    else snprintf(out, cap, "%s", c->name);
}

void sdp_codec_names(const sdp_codec *codecs, int count, char *out, size_t cap)
{
    if (cap == 0) return;
    out[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        char label[64];
        codec_label(&codecs[i], label, sizeof label);
        bool seen = false;
        for (int k = 0; k < i && !seen; k++) {
            char earlier[64];
            codec_label(&codecs[k], earlier, sizeof earlier);
            seen = strcmp(earlier, label) == 0;
        }
        if (seen) continue;
        int n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", label);
        if (n < 0 || (size_t)n >= cap - used) {
            out[used] = '\0'; /* whole names only */
            return;
        }
        used += (size_t)n;
    }
}

void sdp_neg_reject(sdp_negotiated *neg, int index, sdp_reject why)
{
    if (!neg || index < 0 || index >= neg->media_count) return;
    sdp_neg_media *nm = &neg->media[index];
    if (!nm->accepted) return;
    nm->accepted = false;
    nm->reject = why;
    for (unsigned k = 0; k < neg->bundle_count; k++) {
        if (strcmp(neg->bundle_mids[k], nm->mid) != 0) continue;
        memmove(neg->bundle_mids[k], neg->bundle_mids[k + 1],
                (neg->bundle_count - k - 1) * sizeof neg->bundle_mids[0]);
        neg->bundle_count--;
        break;
    }
}
