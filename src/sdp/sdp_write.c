/* sdp_write.c - our SDP answer (JSEP, RFC 8829 §5.3) from a negotiated offer, and the
 * offers of a client (junction-load, JSEP §5.2), from the same parts.
 *
 * Host candidates only, one bundled transport; an answer takes its DTLS role from
 * sdp_negotiate(), an offer is actpass. Every m= section repeats the transport attributes
 * (ice, DTLS, candidates): browsers accept that in a bundled SDP and it keeps each section
 * self-describing. Lines end in CRLF (RFC 8866 §5).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "sdp/sdp.h"
#include "sdp/sdp_internal.h"

#define ICE_HOST_TYPE_PREF 126 /* RFC 8445 §5.1.2.2 recommended value for host candidates */

typedef struct {
    char *buf;
    size_t cap, len;
    bool overflow;
} writer;

__attribute__((format(printf, 2, 3))) static void emit(writer *w, const char *fmt, ...)
{
    if (w->overflow) return;
    size_t room = w->cap - w->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->buf + w->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        w->overflow = true;
        return;
    }
    w->len += (size_t)n;
}

/* safe_value - a caller string we may put on an SDP line: non-empty, no CR/LF/NUL tricks,
 * and (for tokens) no spaces. */
static bool safe_value(const char *s, bool token)
{
    if (!s || !s[0]) return false;
    for (const char *p = s; *p; p++) {
        if (*p == '\r' || *p == '\n') return false;
        if (token && (*p == ' ' || *p == '\t')) return false;
    }
    return true;
}

static const char *dir_name(sdp_dir d)
{
    switch (d) {
    case SDP_DIR_SENDRECV: return "sendrecv";
    case SDP_DIR_SENDONLY: return "sendonly";
    case SDP_DIR_RECVONLY: return "recvonly";
    default: return "inactive";
    }
}

static void write_codec(writer *w, const sdp_codec *cd)
{
    if (cd->channels)
        emit(w, "a=rtpmap:%u %s/%u/%u\r\n", cd->pt, cd->name, cd->clock_rate, cd->channels);
    else
        emit(w, "a=rtpmap:%u %s/%u\r\n", cd->pt, cd->name, cd->clock_rate);
    if (cd->fmtp[0]) emit(w, "a=fmtp:%u %s\r\n", cd->pt, cd->fmtp);
    static const struct { uint32_t bit; const char *text; } fbs[] = {
        {SDP_FB_NACK, "nack"},       {SDP_FB_PLI, "nack pli"},         {SDP_FB_FIR, "ccm fir"},
        {SDP_FB_REMB, "goog-remb"},  {SDP_FB_TWCC, "transport-cc"},
    };
    for (size_t i = 0; i < sizeof fbs / sizeof fbs[0]; i++)
        if (cd->rtcp_fb & fbs[i].bit) emit(w, "a=rtcp-fb:%u %s\r\n", cd->pt, fbs[i].text);
    if (cd->rtx_pt) {
        emit(w, "a=rtpmap:%u rtx/%u\r\n", cd->rtx_pt, cd->clock_rate);
        emit(w, "a=fmtp:%u apt=%u\r\n", cd->rtx_pt, cd->pt);
    }
}

static void write_ssrc(writer *w, uint32_t ssrc, const sdp_send_track *t, const char *stream)
{
    emit(w, "a=ssrc:%u cname:%s\r\n", ssrc, t->cname);
    emit(w, "a=ssrc:%u msid:%s %s\r\n", ssrc, stream, t->track_id);
}

/* What every m= section of ours repeats: ICE credentials, DTLS and host candidates. */
typedef struct transport {
    const char *ice_ufrag, *ice_pwd, *fingerprint;
    const char *setup; /* "actpass", "active" or "passive" */
    uint8_t candidate_count;
    const sdp_answer_candidate *candidates;
} transport;

/* One m= section as we write it, offer or answer. */
typedef struct section {
    const char *kind_name, *proto, *mid; /* mid may be "" */
    sdp_dir dir;
    bool rtcp_rsize;
    uint8_t codec_count;
    const sdp_codec *codecs;
    const uint8_t *ext_id;  /* SDP_EXT_COUNT ids, 0 = not used */
    const sdp_dir *ext_dir; /* direction suffixes, NULL for none */
    const sdp_send_track *send; /* written when dir sends and send->ssrc != 0 */
    uint8_t encoding_count;     /* simulcast we receive: a=rid recv + a=simulcast:recv */
    const sdp_sim_stream *encodings;
} section;

static transport transport_of(const sdp_local_transport *l, const char *setup)
{
    return (transport){.ice_ufrag = l->ice_ufrag, .ice_pwd = l->ice_pwd,
                       .fingerprint = l->fingerprint, .setup = setup,
                       .candidate_count = l->candidate_count, .candidates = l->candidates};
}

static int check_transport(const transport *t)
{
    if (!safe_value(t->ice_ufrag, true) || !safe_value(t->ice_pwd, true) ||
        !safe_value(t->fingerprint, false))
        return J_EINVAL;
    if (t->candidate_count > SDP_MAX_ANSWER_CANDIDATES) return J_EINVAL;
    for (unsigned i = 0; i < t->candidate_count; i++) {
        sa_family_t f = t->candidates[i].addr.sa.sa_family;
        if (f != AF_INET && f != AF_INET6) return J_EINVAL;
        if (t->candidates[i].foundation && !safe_value(t->candidates[i].foundation, true))
            return J_EINVAL;
    }
    return 0;
}

static int check_send_track(const sdp_send_track *t)
{
    if (t->ssrc == 0) return 0;
    if (!safe_value(t->cname, true) || !safe_value(t->track_id, true) ||
        (t->stream_id && !safe_value(t->stream_id, true)))
        return J_EINVAL;
    return 0;
}

/* v=0 .. msid-semantic: the session part, with a=group:BUNDLE over mids[0..n). */
static void write_session(writer *w, uint64_t session_id, bool ice_lite, const char *const *mids,
                          unsigned n, bool extmap_allow_mixed)
{
    emit(w, "v=0\r\no=- %llu 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
         (unsigned long long)session_id);
    if (ice_lite) emit(w, "a=ice-lite\r\n");
    if (n > 0) {
        emit(w, "a=group:BUNDLE");
        for (unsigned i = 0; i < n; i++) emit(w, " %s", mids[i]);
        emit(w, "\r\n");
    }
    if (extmap_allow_mixed) emit(w, "a=extmap-allow-mixed\r\n");
    emit(w, "a=msid-semantic:WMS *\r\n");
}

static void write_section(writer *w, const section *s, const transport *t)
{
    /* Where the peer should send: our first candidate (c=/m= port are informative under
     * ICE, RFC 8839 §4.2.1.1, but must name a real default candidate when known). */
    char ip0[J_ADDR_STRLEN] = "0.0.0.0";
    const char *ip0_type = "IP4";
    unsigned port0 = 9; /* RFC 8840 "discard" port when there is no candidate */
    if (t->candidate_count > 0) {
        j_addr_ip_str(&t->candidates[0].addr, ip0);
        ip0_type = t->candidates[0].addr.sa.sa_family == AF_INET6 ? "IP6" : "IP4";
        port0 = j_addr_port(&t->candidates[0].addr);
    }
    emit(w, "m=%s %u %s", s->kind_name, port0, s->proto);
    bool any_rtx = false;
    for (unsigned k = 0; k < s->codec_count; k++) {
        emit(w, " %u", s->codecs[k].pt);
        if (s->codecs[k].rtx_pt) {
            emit(w, " %u", s->codecs[k].rtx_pt);
            any_rtx = true;
        }
    }
    emit(w, "\r\nc=IN %s %s\r\n", ip0_type, ip0);
    if (s->mid[0]) emit(w, "a=mid:%s\r\n", s->mid);
    emit(w, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", t->ice_ufrag, t->ice_pwd);
    emit(w, "a=fingerprint:%s\r\na=setup:%s\r\na=rtcp-mux\r\n", t->fingerprint, t->setup);
    if (s->rtcp_rsize) emit(w, "a=rtcp-rsize\r\n");
    emit(w, "a=%s\r\n", dir_name(s->dir));
    for (unsigned k = 0; k < s->codec_count; k++) write_codec(w, &s->codecs[k]);
    for (int e = SDP_EXT_UNKNOWN + 1; e < SDP_EXT_COUNT; e++) {
        if (!s->ext_id[e]) continue;
        if (s->ext_dir && s->ext_dir[e] != SDP_DIR_NONE)
            emit(w, "a=extmap:%u/%s %s\r\n", s->ext_id[e], dir_name(s->ext_dir[e]),
                 sdp_ext_uri((sdp_ext)e));
        else
            emit(w, "a=extmap:%u %s\r\n", s->ext_id[e], sdp_ext_uri((sdp_ext)e));
    }
    for (unsigned k = 0; k < s->encoding_count; k++)
        emit(w, "a=rid:%s recv\r\n", s->encodings[k].rid);
    for (unsigned k = 0; k < s->encoding_count; k++)
        emit(w, "%s%s%s", k ? ";" : "a=simulcast:recv ", s->encodings[k].paused ? "~" : "",
             s->encodings[k].rid);
    if (s->encoding_count) emit(w, "\r\n");
    const sdp_send_track *st = s->send;
    bool we_send = s->dir == SDP_DIR_SENDONLY || s->dir == SDP_DIR_SENDRECV;
    if (we_send && st && st->ssrc) {
        const char *stream = st->stream_id ? st->stream_id : "-";
        emit(w, "a=msid:%s %s\r\n", stream, st->track_id);
        bool rtx = any_rtx && st->rtx_ssrc != 0;
        if (rtx) emit(w, "a=ssrc-group:FID %u %u\r\n", st->ssrc, st->rtx_ssrc);
        write_ssrc(w, st->ssrc, st, stream);
        if (rtx) write_ssrc(w, st->rtx_ssrc, st, stream);
    }
    for (unsigned k = 0; k < t->candidate_count; k++) {
        const sdp_answer_candidate *cand = &t->candidates[k];
        char ip[J_ADDR_STRLEN];
        j_addr_ip_str(&cand->addr, ip);
        uint32_t prio = sdp_candidate_priority(ICE_HOST_TYPE_PREF, (uint16_t)(65535 - k), 1);
        if (cand->foundation)
            emit(w, "a=candidate:%s 1 udp %u %s %u typ host\r\n", cand->foundation, prio, ip,
                 j_addr_port(&cand->addr));
        else
            emit(w, "a=candidate:%u 1 udp %u %s %u typ host\r\n", k + 1, prio, ip,
                 j_addr_port(&cand->addr));
    }
    emit(w, "a=end-of-candidates\r\n");
}

static int finish(writer *w)
{
    if (w->overflow) {
        w->buf[0] = '\0';
        return J_ESHORTBUF;
    }
    return (int)w->len;
}

int sdp_write_answer(const sdp_session *offer, const sdp_negotiated *neg,
                     const sdp_answer_params *p, char *buf, size_t cap)
{
    if (!offer || !neg || !p || !buf || cap == 0) return J_EINVAL;
    transport t =
        transport_of(&p->local, neg->our_setup == SDP_SETUP_ACTIVE ? "active" : "passive");
    int rc = check_transport(&t);
    for (unsigned i = 0; i < SDP_MAX_MEDIA && rc == 0; i++) rc = check_send_track(&p->send[i]);
    if (rc) return rc;
    if (neg->media_count != offer->media_count || offer->media_count > SDP_MAX_MEDIA) return J_EINVAL;
    writer w = {.buf = buf, .cap = cap, .len = 0, .overflow = false};
    buf[0] = '\0';

    const char *mids[SDP_MAX_MEDIA];
    for (unsigned i = 0; i < neg->bundle_count && i < SDP_MAX_MEDIA; i++)
        mids[i] = neg->bundle_mids[i];
    write_session(&w, p->local.session_id, p->ice_lite, mids, neg->bundle_count,
                  neg->extmap_allow_mixed);

    for (unsigned i = 0; i < offer->media_count && i < SDP_MAX_MEDIA; i++) {
        const sdp_media *m = &offer->media[i];
        const sdp_neg_media *nm = &neg->media[i];
        if (!nm->accepted) {
            emit(&w, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", m->kind_name, m->proto, m->first_format);
            if (m->mid[0]) emit(&w, "a=mid:%s\r\n", m->mid);
            continue;
        }
        section s = {.kind_name = m->kind_name, .proto = m->proto, .mid = m->mid,
                     .dir = nm->dir, .rtcp_rsize = nm->rtcp_rsize,
                     .codec_count = nm->codec_count, .codecs = nm->codecs,
                     .ext_id = nm->ext_id, .ext_dir = nm->ext_dir, .send = &p->send[i],
                     .encoding_count = nm->encoding_count, .encodings = nm->encodings};
        write_section(&w, &s, &t);
    }
    return finish(&w);
}

static const char *kind_name(sdp_kind k)
{
    switch (k) {
    case SDP_KIND_AUDIO: return "audio";
    case SDP_KIND_VIDEO: return "video";
    default: return NULL;
    }
}

static int check_offer_media(const sdp_offer_media *m)
{
    if (!kind_name(m->kind) || !safe_value(m->mid, true) || strlen(m->mid) >= SDP_MID_LEN)
        return J_EINVAL;
    if (m->dir != SDP_DIR_SENDONLY && m->dir != SDP_DIR_RECVONLY && m->dir != SDP_DIR_SENDRECV)
        return J_EINVAL;
    if (m->codec_count == 0 || m->codec_count > SDP_MAX_NEG_CODECS || !m->codecs) return J_EINVAL;
    for (unsigned k = 0; k < m->codec_count; k++) {
        const sdp_codec *c = &m->codecs[k];
        if (c->pt > 127 || c->rtx_pt > 127 || !safe_value(c->name, true) || c->clock_rate == 0 ||
            (c->fmtp[0] && !safe_value(c->fmtp, false)))
            return J_EINVAL;
    }
    if (m->ext_id[SDP_EXT_UNKNOWN]) return J_EINVAL; /* no URI to write */
    return check_send_track(&m->send);
}

int sdp_write_offer(const sdp_offer_params *p, char *buf, size_t cap)
{
    if (!p || !buf || cap == 0) return J_EINVAL;
    transport t = transport_of(&p->local, "actpass");
    int rc = check_transport(&t);
    if (rc) return rc;
    if (p->media_count == 0 || p->media_count > SDP_MAX_MEDIA) return J_EINVAL;
    const char *mids[SDP_MAX_MEDIA];
    for (unsigned i = 0; i < p->media_count; i++) {
        if ((rc = check_offer_media(&p->media[i]))) return rc;
        mids[i] = p->media[i].mid;
        for (unsigned j = 0; j < i; j++)
            if (strcmp(mids[i], mids[j]) == 0) return J_EINVAL;
    }
    writer w = {.buf = buf, .cap = cap, .len = 0, .overflow = false};
    buf[0] = '\0';
    write_session(&w, p->local.session_id, false, mids, p->media_count,
                  p->extmap_allow_mixed);
    for (unsigned i = 0; i < p->media_count; i++) {
        const sdp_offer_media *m = &p->media[i];
        section s = {.kind_name = kind_name(m->kind), .proto = "UDP/TLS/RTP/SAVPF",
                     .mid = m->mid, .dir = m->dir, .rtcp_rsize = true,
                     .codec_count = m->codec_count, .codecs = m->codecs, .ext_id = m->ext_id,
                     .ext_dir = NULL, .send = &m->send};
        write_section(&w, &s, &t);
    }
    return finish(&w);
}
