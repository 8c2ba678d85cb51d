/* sdp_parse.c - SDP text -> sdp_session.
 *
 * The grammar we read (RFC 8866 §9, simplified to what WebRTC uses):
 *
 *   session   = "v=0" EOL  origin  "s=" text EOL  *("c="/"b="/...)  1*("t=" ...)  *attr
 *               *media
 *   origin    = "o=" user SP sess-id SP sess-version SP "IN" SP addrtype SP address EOL
 *   media     = "m=" kind SP port ["/" count] SP proto 1*(SP fmt) EOL  *("c="/"b="/...)  *attr
 *   attr      = "a=" name [":" value] EOL
 *   EOL       = CRLF / LF
 *
 * Each line is "<lower-case letter>=<value>"; lines we do not use (b=, i=, u=, e=, p=, z=,
 * k=, r=) are skipped, and so are unknown attributes. Values are slices of the input,
 * never NUL-terminated in place; every copy into a fixed field is length-checked and
 * fails with J_ELIMIT rather than truncating.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/fingerprint.h"
#include "sdp/sdp.h"
#include "sdp/sdp_internal.h"

/* A slice of the input text. */
typedef struct {
    const char *p;
    size_t n;
} span;

typedef struct {
    sdp_session *s;
    sdp_media *m; /* current m= section, NULL at session level */
    unsigned line;
    char *err;
    size_t err_cap;
} pctx;

#define FAIL(c, code, ...) fail_line((c), (code), __VA_ARGS__)

__attribute__((format(printf, 3, 4))) static int fail_line(pctx *c, int code, const char *fmt,
                                                          ...)
{
    if (c->err && c->err_cap > 0) {
        int n = snprintf(c->err, c->err_cap, "line %u: ", c->line);
        if (n >= 0 && (size_t)n < c->err_cap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->err_cap - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return code;
}

static bool span_eq(span a, const char *lit)
{
    size_t n = strlen(lit);
    return a.n == n && memcmp(a.p, lit, n) == 0;
}

/* next_token - the next run of non-space characters of *rest (leading spaces skipped);
 * advances *rest past it. Returns false when nothing is left. */
static bool next_token(span *rest, span *tok)
{
    while (rest->n > 0 && rest->p[0] == ' ') { rest->p++; rest->n--; }
    if (rest->n == 0) return false;
    size_t i = 0;
    while (i < rest->n && rest->p[i] != ' ') i++;
    tok->p = rest->p;
    tok->n = i;
    rest->p += i;
    rest->n -= i;
    return true;
}

static span trim(span s)
{
    while (s.n > 0 && s.p[0] == ' ') { s.p++; s.n--; }
    while (s.n > 0 && s.p[s.n - 1] == ' ') s.n--;
    return s;
}

/* split_at - cut s at the first ch: *head before it, *tail after it. false if no ch. */
static bool split_at(span s, char ch, span *head, span *tail)
{
    const char *hit = s.n ? memchr(s.p, ch, s.n) : NULL;
    if (!hit) {
        *head = s;
        tail->p = s.p + s.n;
        tail->n = 0;
        return false;
    }
    head->p = s.p;
    head->n = (size_t)(hit - s.p);
    tail->p = hit + 1;
    tail->n = s.n - head->n - 1;
    return true;
}

/* parse_u32 - decimal digits only (no sign, no spaces), value <= max. */
static bool parse_u32(span s, uint32_t max, uint32_t *out)
{
    if (s.n == 0 || s.n > 10) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return false;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    if (v > max) return false;
    *out = (uint32_t)v;
    return true;
}

/* copy_field - copy s into dst[cap] or fail with J_ELIMIT naming what. */
static int copy_field(pctx *c, char *dst, size_t cap, span s, const char *what)
{
    if (s.n >= cap)
        return FAIL(c, J_ELIMIT, "%s is %zu characters, the limit is %zu", what, s.n, cap - 1);
    memcpy(dst, s.p, s.n);
    dst[s.n] = '\0';
    return 0;
}

/* copy_lower - copy_field, lower-casing ASCII letters. */
static int copy_lower(pctx *c, char *dst, size_t cap, span s, const char *what)
{
    int rc = copy_field(c, dst, cap, s, what);
    if (rc) return rc;
    for (size_t i = 0; i < s.n; i++)
        if (dst[i] >= 'A' && dst[i] <= 'Z') dst[i] = (char)(dst[i] - 'A' + 'a');
    return 0;
}

static sdp_codec *find_codec(sdp_media *m, uint32_t pt)
{
    for (unsigned i = 0; i < m->format_count; i++)
        if (m->codecs[i].pt == pt) return &m->codecs[i];
    return NULL;
}

/* parse_pt - a payload type 0..127. */
static int parse_pt(pctx *c, span s, const char *attr, uint32_t *pt)
{
    if (!parse_u32(s, 127, pt))
        return FAIL(c, J_EMALFORMED, "bad %s: payload type '%.*s' is not 0..127", attr,
                    (int)(s.n > 16 ? 16 : s.n), s.p);
    return 0;
}

static int parse_dir_word(span s, sdp_dir *dir)
{
    if (span_eq(s, "sendrecv")) *dir = SDP_DIR_SENDRECV;
    else if (span_eq(s, "sendonly")) *dir = SDP_DIR_SENDONLY;
    else if (span_eq(s, "recvonly")) *dir = SDP_DIR_RECVONLY;
    else if (span_eq(s, "inactive")) *dir = SDP_DIR_INACTIVE;
    else return -1;
    return 0;
}

/* ---- line handlers ------------------------------------------------------------------ */

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> */
static int on_origin(pctx *c, span v)
{
    span tok[6];
    for (int i = 0; i < 6; i++)
        if (!next_token(&v, &tok[i])) return FAIL(c, J_EMALFORMED, "bad o= line: needs 6 fields");
    span extra;
    if (next_token(&v, &extra)) return FAIL(c, J_EMALFORMED, "bad o= line: more than 6 fields");
    return copy_field(c, c->s->origin_sess_id, sizeof c->s->origin_sess_id, tok[1], "o= sess-id");
}

/* t=<start-time> <stop-time> */
static int on_timing(pctx *c, span v)
{
    span a, b, extra;
    /* NTP times may exceed 32 bits; only check that they are digits. */
    if (!next_token(&v, &a) || !next_token(&v, &b) || next_token(&v, &extra))
        return FAIL(c, J_EMALFORMED, "bad t= line: needs <start> <stop>");
    for (int i = 0; i < 2; i++) {
        span t = i ? b : a;
        for (size_t k = 0; k < t.n; k++)
            if (t.p[k] < '0' || t.p[k] > '9') return FAIL(c, J_EMALFORMED, "bad t= line");
    }
    return 0;
}

/* c=<nettype> <addrtype> <connection-address> */
static int on_connection(pctx *c, span v)
{
    span net, type, addr, extra;
    if (!next_token(&v, &net) || !next_token(&v, &type) || !next_token(&v, &addr) ||
        next_token(&v, &extra))
        return FAIL(c, J_EMALFORMED, "bad c= line: needs IN <addrtype> <address>");
    if (!span_eq(net, "IN") || !(span_eq(type, "IP4") || span_eq(type, "IP6")))
        return FAIL(c, J_EMALFORMED, "bad c= line: expected IN IP4 or IN IP6");
    char *dst = c->m ? c->m->c_addr : c->s->c_addr;
    return copy_field(c, dst, SDP_ADDR_LEN, addr, "c= address");
}

/* Finish an m= section: apply a=rtcp-fb:* and pair rtx codecs with their apt= codec. */
static void finish_media(sdp_media *m)
{
    for (unsigned i = 0; i < m->format_count; i++) m->codecs[i].rtcp_fb |= m->rtcp_fb_all;
    for (unsigned i = 0; i < m->format_count; i++) {
        const sdp_codec *rtx = &m->codecs[i];
        if (!sdp_strieq(rtx->name, "rtx")) continue;
        char apt[8];
        if (sdp_fmtp_get(rtx->fmtp, "apt", apt, sizeof apt) <= 0) continue;
        uint32_t apt_pt = 0;
        if (!parse_u32((span){apt, strlen(apt)}, 127, &apt_pt)) continue;
        sdp_codec *orig = find_codec(m, apt_pt);
        if (orig && orig != rtx && orig->rtx_pt == 0) orig->rtx_pt = rtx->pt;
    }
}

/* m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
static int on_media(pctx *c, span v)
{
    sdp_session *s = c->s;
    if (c->m) finish_media(c->m);
    if (s->media_count >= SDP_MAX_MEDIA)
        return FAIL(c, J_ELIMIT, "more than %d m= lines", SDP_MAX_MEDIA);
    sdp_media *m = &s->media[s->media_count++];
    memset(m, 0, sizeof *m);
    c->m = m;

    span kind, port, proto, fmt;
    if (!next_token(&v, &kind) || !next_token(&v, &port) || !next_token(&v, &proto) ||
        !next_token(&v, &fmt))
        return FAIL(c, J_EMALFORMED, "bad m= line: needs <media> <port> <proto> <fmt>...");
    int rc = copy_field(c, m->kind_name, sizeof m->kind_name, kind, "m= media");
    if (rc) return rc;
    if (span_eq(kind, "audio")) m->kind = SDP_KIND_AUDIO;
    else if (span_eq(kind, "video")) m->kind = SDP_KIND_VIDEO;
    else if (span_eq(kind, "application")) m->kind = SDP_KIND_APPLICATION;
    else m->kind = SDP_KIND_OTHER;

    span port_num, port_count;
    uint32_t pv = 0, count = 0;
    bool has_count = split_at(port, '/', &port_num, &port_count);
    if (!parse_u32(port_num, 65535, &pv) || (has_count && !parse_u32(port_count, 65535, &count)))
        return FAIL(c, J_EMALFORMED, "bad m= line: port '%.*s'", (int)(port.n > 16 ? 16 : port.n),
                    port.p);
    m->port = (uint16_t)pv;
    rc = copy_field(c, m->proto, sizeof m->proto, proto, "m= proto");
    if (rc) return rc;
    /* RTP/AVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF, TCP/DTLS/RTP/SAVPF, ...: formats are PTs. */
    m->rtp = (proto.n >= 4 && memcmp(proto.p, "RTP/", 4) == 0) || memmem(proto.p, proto.n, "/RTP/", 5);
    rc = copy_field(c, m->first_format, sizeof m->first_format, fmt, "m= format");
    if (rc) return rc;
    if (!m->rtp) return 0; /* e.g. "webrtc-datachannel": keep the first format only */

    do {
        uint32_t pt = 0;
        if (!parse_u32(fmt, 127, &pt))
            return FAIL(c, J_EMALFORMED, "bad m= line: format '%.*s' is not a payload type 0..127",
                        (int)(fmt.n > 16 ? 16 : fmt.n), fmt.p);
        if (find_codec(m, pt))
            return FAIL(c, J_EMALFORMED, "bad m= line: payload type %u listed twice", pt);
        if (m->format_count >= SDP_MAX_FORMATS)
            return FAIL(c, J_ELIMIT, "more than %d payload types on one m= line", SDP_MAX_FORMATS);
        m->codecs[m->format_count++].pt = (uint8_t)pt;
    } while (next_token(&v, &fmt));
    return 0;
}

/* a=group:BUNDLE <mid> ... (other semantics are ignored) */
static int on_group(pctx *c, span v)
{
    span sem, mid;
    if (!next_token(&v, &sem)) return FAIL(c, J_EMALFORMED, "bad a=group: no semantics");
    if (!span_eq(sem, "BUNDLE")) return 0;
    sdp_session *s = c->s;
    if (s->bundle_count >= SDP_MAX_GROUPS)
        return FAIL(c, J_ELIMIT, "more than %d BUNDLE groups", SDP_MAX_GROUPS);
    sdp_bundle_group *g = &s->bundles[s->bundle_count++];
    memset(g, 0, sizeof *g);
    while (next_token(&v, &mid)) {
        if (g->count >= SDP_MAX_MEDIA)
            return FAIL(c, J_ELIMIT, "more than %d mids in a BUNDLE group", SDP_MAX_MEDIA);
        int rc = copy_field(c, g->mids[g->count++], SDP_MID_LEN, mid, "BUNDLE mid");
        if (rc) return rc;
    }
    return 0;
}

#define ICE_UFRAG_MIN 4
#define ICE_PWD_MIN 22

/* a=ice-ufrag:4*256ice-char / a=ice-pwd:22*256ice-char (RFC 8839 §5.4), ice-char being
 * ALPHA / DIGIT / "+" / "/": the ufrag goes into STUN USERNAME "<ours>:<theirs>". */
static int on_ice_cred(pctx *c, span v, char *dst, size_t min_len, const char *what)
{
    v = trim(v);
    if (v.n == 0 || memchr(v.p, ' ', v.n))
        return FAIL(c, J_EMALFORMED, "bad a=%s: empty or contains spaces", what);
    int rc = copy_field(c, dst, SDP_ICE_LEN, v, what);
    if (rc) return rc;
    for (size_t i = 0; i < v.n; i++) {
        char ch = v.p[i];
        bool ice_char = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
        if (!ice_char)
            return FAIL(c, J_EMALFORMED,
                        "bad a=%s: character %zu is not a letter, digit, '+' or '/'", what, i + 1);
    }
    if (v.n < min_len)
        return FAIL(c, J_EMALFORMED, "bad a=%s: needs at least %zu characters, got %zu", what,
                    min_len, v.n);
    return 0;
}

/* a=fingerprint:<hash-func> <fingerprint> (RFC 8122 §5). A hash function we cannot verify
 * is kept (sdp_negotiate refuses it); a malformed value, or one whose length is not its
 * hash's, fails here with the reason. */
static int on_fingerprint(pctx *c, span v)
{
    span alg, val, extra;
    if (!next_token(&v, &alg) || !next_token(&v, &val) || next_token(&v, &extra))
        return FAIL(c, J_EMALFORMED, "bad a=fingerprint: needs <hash-func> <value>");
    sdp_fingerprint *fp = c->m ? &c->m->fingerprint : &c->s->fingerprint;
    int rc = copy_lower(c, fp->alg, sizeof fp->alg, alg, "fingerprint hash function");
    if (!rc) rc = copy_field(c, fp->value, sizeof fp->value, val, "fingerprint");
    if (rc) return rc;
    j_fingerprint digest;
    char why[96];
    if (j_fingerprint_parse(alg.p, alg.n, val.p, val.n, &digest, why, sizeof why) == J_EMALFORMED)
        return FAIL(c, J_EMALFORMED, "bad a=fingerprint: %s", why);
    return 0;
}

/* a=setup:actpass|active|passive|holdconn */
static int on_setup(pctx *c, span v)
{
    v = trim(v);
    sdp_setup st;
    if (span_eq(v, "actpass")) st = SDP_SETUP_ACTPASS;
    else if (span_eq(v, "active")) st = SDP_SETUP_ACTIVE;
    else if (span_eq(v, "passive")) st = SDP_SETUP_PASSIVE;
    else if (span_eq(v, "holdconn")) st = SDP_SETUP_HOLDCONN;
    else return FAIL(c, J_EMALFORMED, "bad a=setup value");
    if (c->m) c->m->setup = st;
    else c->s->setup = st;
    return 0;
}

/* a=rtpmap:<pt> <encoding name>/<clock rate>[/<channels>] */
static int on_rtpmap(pctx *c, span v)
{
    span pts, enc, extra;
    uint32_t pt = 0, clock = 0, ch = 0;
    if (!next_token(&v, &pts) || !next_token(&v, &enc) || next_token(&v, &extra))
        return FAIL(c, J_EMALFORMED, "bad a=rtpmap: needs <pt> <name>/<clock>[/<channels>]");
    int rc = parse_pt(c, pts, "a=rtpmap", &pt);
    if (rc) return rc;
    span name, rest, clk, chs;
    if (!split_at(enc, '/', &name, &rest) || name.n == 0)
        return FAIL(c, J_EMALFORMED, "bad a=rtpmap: needs <name>/<clock>");
    bool has_ch = split_at(rest, '/', &clk, &chs);
    if (!parse_u32(clk, UINT32_MAX, &clock) || clock == 0)
        return FAIL(c, J_EMALFORMED, "bad a=rtpmap: clock rate");
    if (has_ch && (!parse_u32(chs, 255, &ch) || ch == 0))
        return FAIL(c, J_EMALFORMED, "bad a=rtpmap: channels");
    sdp_codec *cd = find_codec(c->m, pt);
    if (!cd) return 0; /* not on the m= line: meaningless, ignored */
    rc = copy_field(c, cd->name, sizeof cd->name, name, "codec name");
    if (rc) return rc;
    cd->clock_rate = clock;
    cd->channels = (uint8_t)ch;
    return 0;
}

/* a=fmtp:<pt> <format specific parameters> */
static int on_fmtp(pctx *c, span v)
{
    span pts, params;
    v = trim(v);
    split_at(v, ' ', &pts, &params);
    uint32_t pt = 0;
    int rc = parse_pt(c, pts, "a=fmtp", &pt);
    if (rc) return rc;
    sdp_codec *cd = find_codec(c->m, pt);
    if (!cd) return 0;
    return copy_field(c, cd->fmtp, sizeof cd->fmtp, trim(params), "a=fmtp parameters");
}

/* a=rtcp-fb:<pt>|* <type> [<param>] */
static int on_rtcp_fb(pctx *c, span v)
{
    span pts, type, param = {NULL, 0};
    if (!next_token(&v, &pts) || !next_token(&v, &type))
        return FAIL(c, J_EMALFORMED, "bad a=rtcp-fb: needs <pt> <type>");
    bool has_param = next_token(&v, &param);
    uint32_t bit = 0;
    if (span_eq(type, "nack")) bit = !has_param ? SDP_FB_NACK : span_eq(param, "pli") ? SDP_FB_PLI : 0;
    else if (span_eq(type, "ccm")) bit = has_param && span_eq(param, "fir") ? SDP_FB_FIR : 0;
    else if (span_eq(type, "goog-remb")) bit = has_param ? 0 : SDP_FB_REMB;
    else if (span_eq(type, "transport-cc")) bit = has_param ? 0 : SDP_FB_TWCC;
    if (span_eq(pts, "*")) {
        c->m->rtcp_fb_all |= bit;
        return 0;
    }
    uint32_t pt = 0;
    int rc = parse_pt(c, pts, "a=rtcp-fb", &pt);
    if (rc) return rc;
    sdp_codec *cd = find_codec(c->m, pt);
    if (cd) cd->rtcp_fb |= bit;
    return 0;
}

/* a=extmap:<id>[/<direction>] <URI> [<extension attributes>] */
static int on_extmap(pctx *c, span v)
{
    sdp_media *m = c->m;
    span idd, uri, ids, dirs;
    if (!next_token(&v, &idd) || !next_token(&v, &uri))
        return FAIL(c, J_EMALFORMED, "bad a=extmap: needs <id> <uri>");
    bool has_dir = split_at(idd, '/', &ids, &dirs);
    uint32_t id = 0;
    if (!parse_u32(ids, 0xffff, &id))
        return FAIL(c, J_EMALFORMED, "bad a=extmap: id is not a number");
    if (id < 1 || id > 255) return FAIL(c, J_EMALFORMED, "extmap id %u out of range 1..255", id);
    sdp_dir dir = SDP_DIR_NONE;
    if (has_dir && parse_dir_word(dirs, &dir) != 0)
        return FAIL(c, J_EMALFORMED, "bad a=extmap: direction '%.*s'",
                    (int)(dirs.n > 16 ? 16 : dirs.n), dirs.p);
    for (unsigned i = 0; i < m->extmap_count; i++)
        if (m->extmaps[i].id == id) return FAIL(c, J_EMALFORMED, "extmap id %u used twice", id);
    if (m->extmap_count >= SDP_MAX_EXTMAPS)
        return FAIL(c, J_ELIMIT, "more than %d a=extmap lines in one m= section", SDP_MAX_EXTMAPS);
    sdp_extmap *e = &m->extmaps[m->extmap_count];
    int rc = copy_field(c, e->uri, sizeof e->uri, uri, "extmap URI");
    if (rc) return rc;
    e->id = (uint16_t)id;
    e->dir = dir;
    e->ext = sdp_ext_from_uri(e->uri);
    m->extmap_count++;
    return 0;
}

static sdp_ssrc *find_or_add_ssrc(pctx *c, uint32_t ssrc, int *rc)
{
    sdp_media *m = c->m;
    for (unsigned i = 0; i < m->ssrc_count; i++)
        if (m->ssrcs[i].ssrc == ssrc) return &m->ssrcs[i];
    if (m->ssrc_count >= SDP_MAX_SSRCS) {
        *rc = FAIL(c, J_ELIMIT, "more than %d SSRCs in one m= section", SDP_MAX_SSRCS);
        return NULL;
    }
    sdp_ssrc *x = &m->ssrcs[m->ssrc_count++];
    memset(x, 0, sizeof *x);
    x->ssrc = ssrc;
    return x;
}

/* "<stream id> [<track id>]" as in a=msid and a=ssrc:N msid: */
static int parse_msid(pctx *c, span v, char *stream, char *track)
{
    span sid, tid = {NULL, 0}, extra;
    if (!next_token(&v, &sid)) return FAIL(c, J_EMALFORMED, "bad msid: empty");
    bool has_track = next_token(&v, &tid);
    if (has_track && next_token(&v, &extra)) return FAIL(c, J_EMALFORMED, "bad msid: too many fields");
    int rc = copy_field(c, stream, SDP_MSID_LEN, sid, "msid stream id");
    if (rc) return rc;
    if (!has_track) {
        track[0] = '\0';
        return 0;
    }
    return copy_field(c, track, SDP_MSID_LEN, tid, "msid track id");
}

/* a=ssrc:<ssrc-id> <attribute>[:<value>] */
static int on_ssrc(pctx *c, span v)
{
    span ids, attrv, name, val;
    v = trim(v);
    if (!split_at(v, ' ', &ids, &attrv) || trim(attrv).n == 0)
        return FAIL(c, J_EMALFORMED, "bad a=ssrc: needs <ssrc> <attribute>");
    uint32_t ssrc = 0;
    if (!parse_u32(ids, UINT32_MAX, &ssrc)) return FAIL(c, J_EMALFORMED, "bad a=ssrc: SSRC");
    int rc = 0;
    sdp_ssrc *x = find_or_add_ssrc(c, ssrc, &rc);
    if (!x) return rc;
    split_at(trim(attrv), ':', &name, &val);
    if (span_eq(name, "cname")) return copy_field(c, x->cname, sizeof x->cname, trim(val), "cname");
    if (span_eq(name, "msid")) return parse_msid(c, val, x->msid_stream, x->msid_track);
    return 0; /* mslabel, label, ...: legacy, ignored */
}

/* a=ssrc-group:<semantics> <ssrc-id> ... */
static int on_ssrc_group(pctx *c, span v)
{
    span sem, tok;
    if (!next_token(&v, &sem)) return FAIL(c, J_EMALFORMED, "bad a=ssrc-group: no semantics");
    sdp_ssrc_group_kind kind;
    if (span_eq(sem, "FID")) kind = SDP_SSRC_GROUP_FID;
    else if (span_eq(sem, "SIM")) kind = SDP_SSRC_GROUP_SIM;
    else return 0; /* FEC-FR etc.: ignored */
    sdp_media *m = c->m;
    if (m->ssrc_group_count >= SDP_MAX_SSRC_GROUPS)
        return FAIL(c, J_ELIMIT, "more than %d a=ssrc-group lines", SDP_MAX_SSRC_GROUPS);
    sdp_ssrc_group *g = &m->ssrc_groups[m->ssrc_group_count];
    memset(g, 0, sizeof *g);
    g->kind = kind;
    while (next_token(&v, &tok)) {
        uint32_t ssrc = 0;
        if (!parse_u32(tok, UINT32_MAX, &ssrc)) return FAIL(c, J_EMALFORMED, "bad a=ssrc-group: SSRC");
        if (g->count >= SDP_MAX_GROUP_SSRCS)
            return FAIL(c, J_ELIMIT, "more than %d SSRCs in an a=ssrc-group", SDP_MAX_GROUP_SSRCS);
        g->ssrcs[g->count++] = ssrc;
    }
    if (g->count == 0) return FAIL(c, J_EMALFORMED, "bad a=ssrc-group: no SSRCs");
    if (kind == SDP_SSRC_GROUP_FID && g->count != 2)
        return FAIL(c, J_EMALFORMED, "bad a=ssrc-group:FID: needs exactly 2 SSRCs");
    m->ssrc_group_count++;
    return 0;
}

/* a=rid:<rid-id> send|recv [<restrictions>] */
static int on_rid(pctx *c, span v)
{
    sdp_media *m = c->m;
    span id, dir;
    if (!next_token(&v, &id) || !next_token(&v, &dir))
        return FAIL(c, J_EMALFORMED, "bad a=rid: needs <id> send|recv");
    if (m->rid_count >= SDP_MAX_RIDS)
        return FAIL(c, J_ELIMIT, "more than %d a=rid lines", SDP_MAX_RIDS);
    sdp_rid *r = &m->rids[m->rid_count];
    memset(r, 0, sizeof *r);
    if (span_eq(dir, "send")) r->dir = SDP_DIR_SENDONLY;
    else if (span_eq(dir, "recv")) r->dir = SDP_DIR_RECVONLY;
    else return FAIL(c, J_EMALFORMED, "bad a=rid: direction must be send or recv");
    int rc = copy_field(c, r->id, sizeof r->id, id, "rid id");
    if (!rc) rc = copy_field(c, r->restrictions, sizeof r->restrictions, trim(v), "rid restrictions");
    if (rc) return rc;
    m->rid_count++;
    return 0;
}

/* One direction's list of a=simulcast: "q;h;f", "~a,b;c" (RFC 8853). */
static int parse_sim_list(pctx *c, span list, sdp_sim_stream *out, uint8_t *count)
{
    span stream, rest = list;
    *count = 0;
    for (;;) {
        bool more = split_at(rest, ';', &stream, &rest);
        span first, alts;
        split_at(stream, ',', &first, &alts);
        bool paused = first.n > 0 && first.p[0] == '~';
        if (paused) { first.p++; first.n--; }
        if (first.n == 0) return FAIL(c, J_EMALFORMED, "bad a=simulcast: empty stream");
        if (*count >= SDP_MAX_SIM_STREAMS)
            return FAIL(c, J_ELIMIT, "more than %d simulcast streams", SDP_MAX_SIM_STREAMS);
        int rc = copy_field(c, out[*count].rid, SDP_RID_LEN, first, "simulcast rid");
        if (rc) return rc;
        out[*count].paused = paused;
        (*count)++;
        if (!more) break;
    }
    return 0;
}

/* a=simulcast:<send|recv> <list> [<send|recv> <list>] */
static int on_simulcast(pctx *c, span v)
{
    sdp_media *m = c->m;
    memset(&m->simulcast, 0, sizeof m->simulcast);
    span dir, list;
    int pairs = 0;
    while (next_token(&v, &dir)) {
        if (!next_token(&v, &list)) return FAIL(c, J_EMALFORMED, "bad a=simulcast: direction without list");
        int rc;
        if (span_eq(dir, "send"))
            rc = parse_sim_list(c, list, m->simulcast.send, &m->simulcast.send_count);
        else if (span_eq(dir, "recv"))
            rc = parse_sim_list(c, list, m->simulcast.recv, &m->simulcast.recv_count);
        else
            return FAIL(c, J_EMALFORMED, "bad a=simulcast: direction must be send or recv");
        if (rc) return rc;
        pairs++;
    }
    if (pairs == 0 || pairs > 2) return FAIL(c, J_EMALFORMED, "bad a=simulcast");
    m->has_simulcast = true;
    return 0;
}

/* a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ ... */
static int on_candidate(pctx *c, span v)
{
    sdp_media *m = c->m;
    v = trim(v);
    if (v.n == 0) return FAIL(c, J_EMALFORMED, "bad a=candidate: empty");
    if (m->candidate_count < UINT16_MAX) m->candidate_count++;
    if (m->candidates_kept >= SDP_MAX_CANDIDATES) return 0; /* counted, not kept (ICE-lite) */
    int rc = copy_field(c, m->candidates[m->candidates_kept], SDP_CANDIDATE_LEN, v, "a=candidate");
    if (!rc) m->candidates_kept++;
    return rc;
}

static int on_number(pctx *c, span v, uint32_t max, uint32_t *out, const char *what)
{
    if (!parse_u32(trim(v), max, out)) return FAIL(c, J_EMALFORMED, "bad a=%s value", what);
    return 0;
}

/* a=<name>[:<value>] at session or media level. Unknown names are ignored. */
static int on_attribute(pctx *c, span line)
{
    span name, v;
    bool has_value = split_at(line, ':', &name, &v);
    sdp_session *s = c->s;
    sdp_media *m = c->m;

    /* Both levels (media level overrides session level). */
    if (span_eq(name, "ice-ufrag"))
        return on_ice_cred(c, v, m ? m->ice_ufrag : s->ice_ufrag, ICE_UFRAG_MIN, "ice-ufrag");
    if (span_eq(name, "ice-pwd"))
        return on_ice_cred(c, v, m ? m->ice_pwd : s->ice_pwd, ICE_PWD_MIN, "ice-pwd");
    if (span_eq(name, "ice-options"))
        return copy_field(c, m ? m->ice_options : s->ice_options, SDP_ICE_OPTIONS_LEN, trim(v),
                          "ice-options");
    if (span_eq(name, "fingerprint")) return on_fingerprint(c, v);
    if (span_eq(name, "setup")) return on_setup(c, v);
    if (span_eq(name, "extmap-allow-mixed")) {
        if (m) m->extmap_allow_mixed = true;
        else s->extmap_allow_mixed = true;
        return 0;
    }

    if (!m) {
        if (span_eq(name, "group")) return on_group(c, v);
        if (span_eq(name, "ice-lite")) { s->ice_lite = true; return 0; }
        if (span_eq(name, "msid-semantic")) {
            span tok;
            if (!next_token(&v, &tok)) return FAIL(c, J_EMALFORMED, "bad a=msid-semantic");
            return copy_field(c, s->msid_semantic, sizeof s->msid_semantic, tok, "msid-semantic");
        }
        return 0; /* unknown, or media-only attribute at session level: ignored */
    }

    sdp_dir dir;
    if (!has_value && parse_dir_word(name, &dir) == 0) { m->dir = dir; return 0; }
    if (span_eq(name, "mid")) {
        v = trim(v);
        if (v.n == 0 || memchr(v.p, ' ', v.n)) return FAIL(c, J_EMALFORMED, "bad a=mid");
        return copy_field(c, m->mid, sizeof m->mid, v, "a=mid");
    }
    if (span_eq(name, "rtcp-mux")) { m->rtcp_mux = true; return 0; }
    if (span_eq(name, "rtcp-rsize")) { m->rtcp_rsize = true; return 0; }
    if (span_eq(name, "bundle-only")) { m->bundle_only = true; return 0; }
    if (span_eq(name, "end-of-candidates")) { m->end_of_candidates = true; return 0; }
    if (span_eq(name, "candidate")) return on_candidate(c, v);
    if (span_eq(name, "extmap")) return on_extmap(c, v);
    if (span_eq(name, "msid")) return parse_msid(c, v, m->msid_stream, m->msid_track);
    if (span_eq(name, "ssrc")) return on_ssrc(c, v);
    if (span_eq(name, "ssrc-group")) return on_ssrc_group(c, v);
    if (span_eq(name, "rid")) return on_rid(c, v);
    if (span_eq(name, "simulcast")) return on_simulcast(c, v);
    if (span_eq(name, "sctp-port")) {
        uint32_t port = 0;
        int rc = on_number(c, v, 65535, &port, "sctp-port");
        if (!rc) m->sctp_port = (uint16_t)port;
        return rc;
    }
    if (span_eq(name, "max-message-size")) return on_number(c, v, UINT32_MAX, &m->max_message_size,
                                                            "max-message-size");
    if (m->rtp) {
        if (span_eq(name, "rtpmap")) return on_rtpmap(c, v);
        if (span_eq(name, "fmtp")) return on_fmtp(c, v);
        if (span_eq(name, "rtcp-fb")) return on_rtcp_fb(c, v);
    }
    return 0;
}

/* check_line - reject bytes that have no place in SDP text (NUL, stray CR, controls). */
static int check_line(pctx *c, span line)
{
    for (size_t i = 0; i < line.n; i++) {
        unsigned char ch = (unsigned char)line.p[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return FAIL(c, J_EMALFORMED, "control character 0x%02x", ch);
    }
    return 0;
}

static bool only_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\r' && p[i] != '\n' && p[i] != ' ' && p[i] != '\t') return false;
    return true;
}

int sdp_parse(sdp_session *out, const char *text, size_t len, char *err, size_t err_cap)
{
    if (err && err_cap > 0) err[0] = '\0';
    if (!out || (!text && len > 0)) return sdp_errf(err, err_cap, J_EINVAL, "NULL argument");
    memset(out, 0, sizeof *out);
    pctx c = {.s = out, .m = NULL, .line = 0, .err = err, .err_cap = err_cap};
    bool have_o = false, have_s = false, have_t = false;
    size_t pos = 0;

    while (pos < len) {
        c.line++;
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n > 0 && start[n - 1] == '\r') n--;
        span line = {start, n};

        if (n == 0) {
            /* Blank lines are tolerated only as trailing padding. */
            if (only_blank(text + pos, len - pos)) break;
            return FAIL(&c, J_EMALFORMED, "empty line");
        }
        int rc = check_line(&c, line);
        if (rc) return rc;
        if (n < 2 || line.p[1] != '=' || line.p[0] < 'a' || line.p[0] > 'z')
            return FAIL(&c, J_EMALFORMED, "expected <type>=<value>");
        char type = line.p[0];
        span v = {line.p + 2, n - 2};

        if (c.line == 1) {
            if (type != 'v' || !span_eq(v, "0")) return FAIL(&c, J_EMALFORMED, "first line must be v=0");
            continue;
        }
        switch (type) {
        case 'v':
            return FAIL(&c, J_EMALFORMED, "v= may appear only once");
        case 'o':
            if (c.m || have_o) return FAIL(&c, J_EMALFORMED, "o= must appear once, at session level");
            have_o = true;
            rc = on_origin(&c, v);
            break;
        case 's':
            if (c.m || have_s) return FAIL(&c, J_EMALFORMED, "s= must appear once, at session level");
            have_s = true;
            break;
        case 't':
            if (c.m) return FAIL(&c, J_EMALFORMED, "t= inside a media section");
            have_t = true;
            rc = on_timing(&c, v);
            break;
        case 'm':
            if (!have_o || !have_s || !have_t)
                return FAIL(&c, J_EMALFORMED, "missing %s line before the first m=",
                            !have_o ? "o=" : !have_s ? "s=" : "t=");
            rc = on_media(&c, v);
            break;
        case 'c':
            rc = on_connection(&c, v);
            break;
        case 'a':
            rc = on_attribute(&c, v);
            break;
        default:
            break; /* b=, i=, u=, e=, p=, z=, k=, r=, and unknown types: skipped */
        }
        if (rc) return rc;
    }
    if (c.line == 0) return sdp_errf(err, err_cap, J_EMALFORMED, "line 1: empty SDP (no v= line)");
    if (!have_o || !have_s || !have_t)
        return FAIL(&c, J_EMALFORMED, "missing %s line", !have_o ? "o=" : !have_s ? "s=" : "t=");
    if (c.m) finish_media(c.m);

    /* mids must be unique (RFC 8843 §7.2 relies on it to route by MID). */
    for (unsigned i = 0; i < out->media_count; i++) {
        if (!out->media[i].mid[0]) continue;
        for (unsigned j = i + 1; j < out->media_count; j++)
            if (strcmp(out->media[i].mid, out->media[j].mid) == 0)
                return sdp_errf(err, err_cap, J_EMALFORMED, "a=mid:%s used by m= sections %u and %u",
                                out->media[i].mid, i, j);
    }
    return 0;
}

/* RFC 8839 §5.1:
 *   candidate-attribute = "candidate" ":" foundation SP component-id SP transport SP
 *                         priority SP connection-address SP port SP cand-type
 *                         [SP rel-addr] [SP rel-port] *(SP cand-extension)
 *   foundation = 1*32ice-char; component-id = 1*3DIGIT; cand-type = "typ" SP candidate-types
 */
int sdp_candidate_parse(const char *value, sdp_candidate *out)
{
    if (!value || !out) return J_EINVAL;
    memset(out, 0, sizeof *out);
    span rest = {value, strnlen(value, SDP_CANDIDATE_LEN)};
    span found, comp, transport, prio, address, port, typ, type;
    if (!next_token(&rest, &found) || !next_token(&rest, &comp) ||
        !next_token(&rest, &transport) || !next_token(&rest, &prio) ||
        !next_token(&rest, &address) || !next_token(&rest, &port) || !next_token(&rest, &typ) ||
        !next_token(&rest, &type) || !span_eq(typ, "typ"))
        return J_EMALFORMED;
    if (found.n == 0 || found.n >= sizeof out->foundation) return J_EMALFORMED;
    for (size_t i = 0; i < found.n; i++) {
        char ch = found.p[i];
        bool ice_char = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                        (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
        if (!ice_char) return J_EMALFORMED;
    }
    memcpy(out->foundation, found.p, found.n);
    uint32_t component, priority, port_no;
    if (comp.n > 3 || !parse_u32(comp, 256, &component) || component == 0 ||
        !parse_u32(prio, UINT32_MAX, &priority) || !parse_u32(port, 65535, &port_no))
        return J_EMALFORMED;
    out->component = (uint16_t)component;
    out->priority = priority;
    out->udp = transport.n == 3 && (transport.p[0] | 0x20) == 'u' &&
               (transport.p[1] | 0x20) == 'd' && (transport.p[2] | 0x20) == 'p';
    char ip[SDP_ADDR_LEN];
    if (address.n == 0 || address.n >= sizeof ip) return J_EMALFORMED;
    memcpy(ip, address.p, address.n);
    ip[address.n] = '\0';
    if (j_addr_parse(&out->addr, ip, (uint16_t)port_no) != J_OK) return J_EUNSUPPORTED;
    static const char *const types[] = {"host", "srflx", "prflx", "relay"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (span_eq(type, types[i])) {
            out->type = (sdp_cand_type)i;
            return J_OK;
        }
    }
    return J_EUNSUPPORTED;
}
