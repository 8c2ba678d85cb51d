/* sdp_common.c - small pieces shared by parsing, negotiation and writing: the table of
 * known RTP header extension URIs, fmtp lookup, effective (media-or-session) transport
 * values, ICE candidate priority, and error formatting. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "sdp/sdp.h"
#include "sdp/sdp_internal.h"

int sdp_errf(char *err, size_t err_cap, int code, const char *fmt, ...)
{
    if (err && err_cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

int sdp_strieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/* Indexed by sdp_ext. URIs are compared exactly: RFC 8285 URIs are case-sensitive. */
static const char *const ext_uris[SDP_EXT_COUNT] = {
    [SDP_EXT_UNKNOWN] = NULL,
    [SDP_EXT_MID] = "urn:ietf:params:rtp-hdrext:sdes:mid",
    [SDP_EXT_RID] = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    [SDP_EXT_RRID] = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    [SDP_EXT_AUDIO_LEVEL] = "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    [SDP_EXT_ABS_SEND_TIME] = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    [SDP_EXT_TWCC] = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    [SDP_EXT_VIDEO_ORIENTATION] = "urn:3gpp:video-orientation",
    [SDP_EXT_PLAYOUT_DELAY] = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
    [SDP_EXT_DEPENDENCY_DESCRIPTOR] =
        "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension",
};

sdp_ext sdp_ext_from_uri(const char *uri)
{
    if (!uri) return SDP_EXT_UNKNOWN;
    for (int e = SDP_EXT_UNKNOWN + 1; e < SDP_EXT_COUNT; e++)
        if (strcmp(uri, ext_uris[e]) == 0) return (sdp_ext)e;
    return SDP_EXT_UNKNOWN;
}

const char *sdp_ext_uri(sdp_ext ext)
{
    if ((int)ext <= SDP_EXT_UNKNOWN || ext >= SDP_EXT_COUNT) return NULL;
    return ext_uris[ext];
}

int sdp_fmtp_get(const char *fmtp, const char *key, char *val, size_t cap)
{
    if (!fmtp || !key) return J_EINVAL;
    size_t klen = strlen(key);
    const char *p = fmtp;
    while (*p) {
        while (*p == ' ' || *p == ';') p++;
        const char *end = strchr(p, ';');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        if (eq) {
            size_t nlen = (size_t)(eq - p);
            while (nlen > 0 && p[nlen - 1] == ' ') nlen--;
            if (nlen == klen && strncasecmp(p, key, klen) == 0) {
                const char *v = eq + 1;
                size_t vlen = plen - (size_t)(v - p);
                while (vlen > 0 && *v == ' ') { v++; vlen--; }
                while (vlen > 0 && v[vlen - 1] == ' ') vlen--;
                if (!val || vlen >= cap) return J_ESHORTBUF;
                memcpy(val, v, vlen);
                val[vlen] = '\0';
                return (int)vlen;
            }
        }
        if (!end) break;
        p = end + 1;
    }
    return J_ENOTFOUND;
}

const char *sdp_media_ice_ufrag(const sdp_session *s, const sdp_media *m)
{
    return m->ice_ufrag[0] ? m->ice_ufrag : s->ice_ufrag;
}

const char *sdp_media_ice_pwd(const sdp_session *s, const sdp_media *m)
{
    return m->ice_pwd[0] ? m->ice_pwd : s->ice_pwd;
}

const sdp_fingerprint *sdp_media_fingerprint(const sdp_session *s, const sdp_media *m)
{
    return m->fingerprint.alg[0] ? &m->fingerprint : &s->fingerprint;
}

sdp_setup sdp_media_setup(const sdp_session *s, const sdp_media *m)
{
    return m->setup != SDP_SETUP_NONE ? m->setup : s->setup;
}

uint32_t sdp_candidate_priority(uint8_t type_pref, uint16_t local_pref, uint8_t component)
{
    return ((uint32_t)type_pref << 24) | ((uint32_t)local_pref << 8) |
           (uint32_t)(256 - (component ? component : 1));
}
