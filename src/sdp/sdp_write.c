/* sdp_write.c - our SDP answer (JSEP, RFC 8829 §5.3) from a negotiated offer.
 *
 * We are ICE-lite with host candidates only, one bundled transport, DTLS role from
 * sdp_negotiate(). Every accepted m= section repeats the transport attributes (ice, DTLS,
 * candidates): browsers accept that in a bundled answer and it keeps each section
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

static int check_params(const sdp_answer_params *p)
{
    if (!safe_value(p->ice_ufrag, true) || !safe_value(p->ice_pwd, true) ||
        !safe_value(p->fingerprint, false))
        return J_EINVAL;
    if (p->candidate_count > SDP_MAX_ANSWER_CANDIDATES) return J_EINVAL;
    for (unsigned i = 0; i < p->candidate_count; i++) {
        sa_family_t f = p->candidates[i].addr.sa.sa_family;
        if (f != AF_INET && f != AF_INET6) return J_EINVAL;
        if (p->candidates[i].foundation && !safe_value(p->candidates[i].foundation, true))
            return J_EINVAL;
    }
    for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
        const sdp_send_track *t = &p->send[i];
        if (t->ssrc == 0) continue;
        if (!safe_value(t->cname, true) || !safe_value(t->track_id, true) ||
            (t->stream_id && !safe_value(t->stream_id, true)))
            return J_EINVAL;
    }
    return 0;
}

int sdp_write_answer(const sdp_session *offer, const sdp_negotiated *neg,
                     const sdp_answer_params *p, char *buf, size_t cap)
{
    if (!offer || !neg || !p || !buf || cap == 0) return J_EINVAL;
    int rc = check_params(p);
    if (rc) return rc;
    if (neg->media_count != offer->media_count || offer->media_count > SDP_MAX_MEDIA) return J_EINVAL;
    writer w = {.buf = buf, .cap = cap, .len = 0, .overflow = false};
    buf[0] = '\0';

    emit(&w, "v=0\r\no=- %llu 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
         (unsigned long long)p->session_id);
    if (p->ice_lite) emit(&w, "a=ice-lite\r\n");
    if (neg->bundle_count > 0) {
        emit(&w, "a=group:BUNDLE");
        for (unsigned i = 0; i < neg->bundle_count; i++) emit(&w, " %s", neg->bundle_mids[i]);
        emit(&w, "\r\n");
    }
    if (neg->extmap_allow_mixed) emit(&w, "a=extmap-allow-mixed\r\n");
    emit(&w, "a=msid-semantic:WMS *\r\n");

    /* Where the browser should send: our first candidate (c=/m= port are informative
     * under ICE, RFC 8839 §4.2.1.1, but must name a real default candidate when known). */
    char ip0[J_ADDR_STRLEN] = "0.0.0.0";
    const char *ip0_type = "IP4";
    unsigned port0 = 9; /* RFC 8840 "discard" port when there is no candidate */
    if (p->candidate_count > 0) {
        j_addr_ip_str(&p->candidates[0].addr, ip0);
        ip0_type = p->candidates[0].addr.sa.sa_family == AF_INET6 ? "IP6" : "IP4";
        port0 = j_addr_port(&p->candidates[0].addr);
    }
    const char *setup = neg->our_setup == SDP_SETUP_ACTIVE ? "active" : "passive";

    for (unsigned i = 0; i < offer->media_count && i < SDP_MAX_MEDIA; i++) {
        const sdp_media *m = &offer->media[i];
        const sdp_neg_media *nm = &neg->media[i];
        if (!nm->accepted) {
            emit(&w, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", m->kind_name, m->proto, m->first_format);
            if (m->mid[0]) emit(&w, "a=mid:%s\r\n", m->mid);
            continue;
        }
        emit(&w, "m=%s %u %s", m->kind_name, port0, m->proto);
        bool any_rtx = false;
        for (unsigned k = 0; k < nm->codec_count; k++) {
            emit(&w, " %u", nm->codecs[k].pt);
            if (nm->codecs[k].rtx_pt) {
                emit(&w, " %u", nm->codecs[k].rtx_pt);
                any_rtx = true;
            }
        }
        emit(&w, "\r\nc=IN %s %s\r\n", ip0_type, ip0);
        if (m->mid[0]) emit(&w, "a=mid:%s\r\n", m->mid);
        emit(&w, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", p->ice_ufrag, p->ice_pwd);
        emit(&w, "a=fingerprint:%s\r\na=setup:%s\r\na=rtcp-mux\r\n", p->fingerprint, setup);
        if (nm->rtcp_rsize) emit(&w, "a=rtcp-rsize\r\n");
        emit(&w, "a=%s\r\n", dir_name(nm->dir));
        for (unsigned k = 0; k < nm->codec_count; k++) write_codec(&w, &nm->codecs[k]);
        for (int e = SDP_EXT_UNKNOWN + 1; e < SDP_EXT_COUNT; e++) {
            if (!nm->ext_id[e]) continue;
            if (nm->ext_dir[e] != SDP_DIR_NONE)
                emit(&w, "a=extmap:%u/%s %s\r\n", nm->ext_id[e], dir_name(nm->ext_dir[e]),
                     sdp_ext_uri((sdp_ext)e));
            else
                emit(&w, "a=extmap:%u %s\r\n", nm->ext_id[e], sdp_ext_uri((sdp_ext)e));
        }
        const sdp_send_track *t = &p->send[i];
        bool we_send = nm->dir == SDP_DIR_SENDONLY || nm->dir == SDP_DIR_SENDRECV;
        if (we_send && t->ssrc) {
            const char *stream = t->stream_id ? t->stream_id : "-";
            emit(&w, "a=msid:%s %s\r\n", stream, t->track_id);
            bool rtx = any_rtx && t->rtx_ssrc != 0;
            if (rtx) emit(&w, "a=ssrc-group:FID %u %u\r\n", t->ssrc, t->rtx_ssrc);
            write_ssrc(&w, t->ssrc, t, stream);
            if (rtx) write_ssrc(&w, t->rtx_ssrc, t, stream);
        }
        for (unsigned k = 0; k < p->candidate_count; k++) {
            const sdp_answer_candidate *cand = &p->candidates[k];
            char ip[J_ADDR_STRLEN];
            j_addr_ip_str(&cand->addr, ip);
            uint32_t prio = sdp_candidate_priority(ICE_HOST_TYPE_PREF, (uint16_t)(65535 - k), 1);
            if (cand->foundation)
                emit(&w, "a=candidate:%s 1 udp %u %s %u typ host\r\n", cand->foundation, prio, ip,
                     j_addr_port(&cand->addr));
            else
                emit(&w, "a=candidate:%u 1 udp %u %s %u typ host\r\n", k + 1, prio, ip,
                     j_addr_port(&cand->addr));
        }
        emit(&w, "a=end-of-candidates\r\n");
    }
    if (w.overflow) {
        buf[0] = '\0';
        return J_ESHORTBUF;
    }
    return (int)w.len;
}
