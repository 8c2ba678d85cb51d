/* sdp.h - SDP (RFC 8866) for WebRTC offer/answer (RFC 8829 JSEP, RFC 8843 BUNDLE).
 *
 * Three steps, all signaling-path (never per packet), all without allocation:
 *   sdp_parse()        offer text  -> sdp_session    (caller-owned, fixed-size arrays)
 *   sdp_negotiate()    sdp_session + sdp_policy -> sdp_negotiated (what we accept)
 *   sdp_write_answer() sdp_session + sdp_negotiated + sdp_answer_params -> answer text
 * and, for a client (junction-load), sdp_write_offer() writes its offers; it reads the
 * answer with sdp_parse() and the server's candidates with sdp_candidate_parse().
 *
 * Every limit is a #define below; input beyond a limit fails with J_ELIMIT and a message
 * instead of being silently cut. The structures are large (sdp_session about 575 KiB, mostly
 * SDP_MAX_MEDIA x SDP_MAX_FORMATS x SDP_FMTP_LEN; sdp_negotiated about 160 KiB): keep them
 * static or on the heap, never on a thread's stack.
 *
 * Shapes served: WHIP (the browser offers sendonly, we answer recvonly), WHEP (the browser
 * offers recvonly, we answer sendonly), and later sendrecv for the room protocol.
 */
#ifndef J_SDP_SDP_H
#define J_SDP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

/* ---- limits ------------------------------------------------------------------------- */
#define SDP_MAX_MEDIA 64       /* m= sections per session: a room subscriber gets 2 per participant */
#define SDP_MAX_FORMATS 64     /* payload types on one m= line (Chromium recvonly video: 34) */
#define SDP_MAX_EXTMAPS 24     /* a=extmap lines per m= section */
#define SDP_MAX_SSRCS 16       /* distinct SSRCs in a=ssrc lines per m= section */
#define SDP_MAX_SSRC_GROUPS 8  /* a=ssrc-group:FID/SIM lines per m= section */
#define SDP_MAX_GROUP_SSRCS 8  /* SSRCs in one a=ssrc-group line */
#define SDP_MAX_RIDS 8         /* a=rid lines per m= section */
#define SDP_MAX_SIM_STREAMS 8  /* streams per direction in a=simulcast */
#define SDP_MAX_ENCODINGS 3    /* simulcast encodings we receive on one m= section */
#define SDP_MAX_CANDIDATES 16  /* a=candidate lines kept per m= section (more are counted) */
#define SDP_MAX_GROUPS 4       /* a=group:BUNDLE lines per session */
#define SDP_MAX_NEG_CODECS 16  /* accepted codecs per m= section in an answer */
#define SDP_MAX_ANSWER_CANDIDATES 8 /* our own host candidates in an answer */

/* Field sizes include the terminating NUL; values must be strictly shorter. */
#define SDP_MID_LEN 33         /* a=mid (RFC 8843; the RTP MID extension carries <= 16) */
#define SDP_ICE_LEN 257        /* ice-ufrag / ice-pwd: at most 256 ice-chars (RFC 8839) */
#define SDP_FP_ALG_LEN 16      /* "sha-256" */
#define SDP_FP_VALUE_LEN 192   /* sha-512 as 64 colon-separated hex pairs is 191 chars */
#define SDP_CODEC_NAME_LEN 32  /* encoding name in a=rtpmap */
#define SDP_FMTP_LEN 256       /* a=fmtp parameter string */
#define SDP_URI_LEN 256        /* a=extmap URI */
#define SDP_MSID_LEN 65        /* msid stream id / track id: 1*64 token-char (RFC 8830) */
#define SDP_CNAME_LEN 65       /* a=ssrc cname */
#define SDP_RID_LEN 33         /* a=rid id (RFC 8851) */
#define SDP_RID_RESTR_LEN 128  /* a=rid restrictions, kept raw */
#define SDP_CANDIDATE_LEN 256  /* a=candidate value, kept raw */
#define SDP_ICE_OPTIONS_LEN 64 /* a=ice-options value */
#define SDP_TOKEN_LEN 32       /* small tokens: media name, proto, session id, first format */
#define SDP_ADDR_LEN 64        /* c= address */

/* ---- enums -------------------------------------------------------------------------- */
typedef enum {
    SDP_KIND_OTHER = 0, /* any media name we do not know ("text", "message", ...) */
    SDP_KIND_AUDIO,
    SDP_KIND_VIDEO,
    SDP_KIND_APPLICATION,
} sdp_kind;

/* Direction attribute. SDP_DIR_NONE means "not given" (an m= section then defaults to
 * sendrecv, RFC 3264; an extmap without "/direction" applies to both directions). */
typedef enum {
    SDP_DIR_NONE = 0,
    SDP_DIR_SENDRECV,
    SDP_DIR_SENDONLY,
    SDP_DIR_RECVONLY,
    SDP_DIR_INACTIVE,
} sdp_dir;

/* a=setup (RFC 8842 / RFC 4145). */
typedef enum {
    SDP_SETUP_NONE = 0,
    SDP_SETUP_ACTPASS,
    SDP_SETUP_ACTIVE,
    SDP_SETUP_PASSIVE,
    SDP_SETUP_HOLDCONN,
} sdp_setup;

/* RTCP feedback types we know (a=rtcp-fb), as a bitmask. */
enum {
    SDP_FB_NACK = 1u << 0,      /* "nack"          generic NACK (RFC 4585) */
    SDP_FB_PLI = 1u << 1,       /* "nack pli"      picture loss indication */
    SDP_FB_FIR = 1u << 2,       /* "ccm fir"       full intra request (RFC 5104) */
    SDP_FB_REMB = 1u << 3,      /* "goog-remb"     receiver estimated max bitrate */
    SDP_FB_TWCC = 1u << 4,      /* "transport-cc"  transport-wide congestion control */
};

/* RTP header extensions we know (a=extmap URIs). Index into sdp_neg_media.ext_id[]. */
typedef enum {
    SDP_EXT_UNKNOWN = 0,
    SDP_EXT_MID,            /* urn:ietf:params:rtp-hdrext:sdes:mid */
    SDP_EXT_RID,            /* urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id */
    SDP_EXT_RRID,           /* urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id */
    SDP_EXT_AUDIO_LEVEL,    /* urn:ietf:params:rtp-hdrext:ssrc-audio-level */
    SDP_EXT_ABS_SEND_TIME,  /* http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time */
    SDP_EXT_TWCC,           /* http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01 */
    SDP_EXT_VIDEO_ORIENTATION, /* urn:3gpp:video-orientation */
    SDP_EXT_PLAYOUT_DELAY,  /* http://www.webrtc.org/experiments/rtp-hdrext/playout-delay */
    SDP_EXT_DEPENDENCY_DESCRIPTOR, /* https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension */
    SDP_EXT_COUNT,
} sdp_ext;
#define SDP_EXT_BIT(e) (1u << (e))

/* Codecs a policy can accept, as a bitmask. */
enum {
    SDP_CODEC_OPUS = 1u << 0, /* opus/48000/2 */
    SDP_CODEC_VP8 = 1u << 1,
    SDP_CODEC_VP9 = 1u << 2,  /* any profile-id (kept in fmtp) */
    SDP_CODEC_H264 = 1u << 3, /* packetization-mode=1 only; any profile-level-id (kept) */
    SDP_CODEC_AV1 = 1u << 4,  /* any profile (kept in fmtp) */
};

/* ---- parsed session ----------------------------------------------------------------- */
typedef struct sdp_codec {
    uint8_t pt;                          /* payload type 0..127 */
    char name[SDP_CODEC_NAME_LEN];       /* "opus", "VP8", "rtx", ... ("" if no rtpmap) */
    uint32_t clock_rate;                 /* 0 if no rtpmap */
    uint8_t channels;                    /* 0 if not given */
    char fmtp[SDP_FMTP_LEN];             /* raw a=fmtp parameters, "" if none */
    uint8_t rtx_pt;                      /* PT of the rtx codec whose apt= names us, 0 if none */
    uint32_t rtcp_fb;                    /* SDP_FB_* (a=rtcp-fb:* included) */
} sdp_codec;

typedef struct sdp_extmap {
    uint16_t id;                         /* 1..255 (RFC 8285) */
    sdp_dir dir;                         /* SDP_DIR_NONE unless "/direction" was given */
    sdp_ext ext;                         /* SDP_EXT_UNKNOWN for URIs we do not know */
    char uri[SDP_URI_LEN];
} sdp_extmap;

typedef struct sdp_ssrc {
    uint32_t ssrc;
    char cname[SDP_CNAME_LEN];           /* "" if no cname line */
    char msid_stream[SDP_MSID_LEN];      /* from "a=ssrc:N msid:<stream> <track>" */
    char msid_track[SDP_MSID_LEN];
} sdp_ssrc;

typedef enum { SDP_SSRC_GROUP_FID = 1, SDP_SSRC_GROUP_SIM } sdp_ssrc_group_kind;

typedef struct sdp_ssrc_group {
    sdp_ssrc_group_kind kind;
    uint8_t count;
    uint32_t ssrcs[SDP_MAX_GROUP_SSRCS];
} sdp_ssrc_group;

typedef struct sdp_rid {
    char id[SDP_RID_LEN];
    sdp_dir dir;                         /* SDP_DIR_SENDONLY ("send") or SDP_DIR_RECVONLY ("recv") */
    char restrictions[SDP_RID_RESTR_LEN];/* raw, "" if none (pt=, max-width=, ...) */
} sdp_rid;

/* One simulcast stream: the first of its alternatives (RFC 8853 "a,b" lists). */
typedef struct sdp_sim_stream {
    char rid[SDP_RID_LEN];
    bool paused;                         /* "~" prefix */
} sdp_sim_stream;

typedef struct sdp_simulcast {
    uint8_t send_count, recv_count;
    sdp_sim_stream send[SDP_MAX_SIM_STREAMS];
    sdp_sim_stream recv[SDP_MAX_SIM_STREAMS];
} sdp_simulcast;

typedef struct sdp_fingerprint {
    char alg[SDP_FP_ALG_LEN];            /* lower-cased: "sha-256" */
    char value[SDP_FP_VALUE_LEN];        /* as given: "AB:CD:..." */
} sdp_fingerprint;

typedef struct sdp_media {
    sdp_kind kind;
    char kind_name[SDP_TOKEN_LEN];       /* media name as written ("audio", "text") */
    uint16_t port;                       /* 0 = disabled unless bundle_only */
    char proto[SDP_TOKEN_LEN];           /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ... */
    bool rtp;                            /* proto is an RTP profile: formats are PTs */
    char first_format[SDP_TOKEN_LEN];    /* first format token as written */
    uint8_t format_count;                /* RTP: entries in codecs[], in m= line order */
    sdp_codec codecs[SDP_MAX_FORMATS];
    uint32_t rtcp_fb_all;                /* a=rtcp-fb:* (already ORed into every codec) */

    char c_addr[SDP_ADDR_LEN];           /* c= address, "" if none */
    char mid[SDP_MID_LEN];               /* "" if no a=mid */
    sdp_dir dir;                         /* SDP_DIR_NONE if no direction attribute */
    bool rtcp_mux, rtcp_rsize, bundle_only, extmap_allow_mixed, end_of_candidates;

    char ice_ufrag[SDP_ICE_LEN];         /* media-level values; "" if absent */
    char ice_pwd[SDP_ICE_LEN];
    char ice_options[SDP_ICE_OPTIONS_LEN];
    sdp_fingerprint fingerprint;
    sdp_setup setup;

    uint8_t extmap_count;
    sdp_extmap extmaps[SDP_MAX_EXTMAPS];

    char msid_stream[SDP_MSID_LEN];      /* a=msid:<stream> <track> */
    char msid_track[SDP_MSID_LEN];
    uint8_t ssrc_count;
    sdp_ssrc ssrcs[SDP_MAX_SSRCS];
    uint8_t ssrc_group_count;
    sdp_ssrc_group ssrc_groups[SDP_MAX_SSRC_GROUPS];

    uint8_t rid_count;
    sdp_rid rids[SDP_MAX_RIDS];
    bool has_simulcast;
    sdp_simulcast simulcast;

    uint16_t candidate_count;            /* every a=candidate seen */
    uint8_t candidates_kept;             /* min(candidate_count, SDP_MAX_CANDIDATES) */
    char candidates[SDP_MAX_CANDIDATES][SDP_CANDIDATE_LEN]; /* raw values, no "candidate:" */

    uint16_t sctp_port;                  /* a=sctp-port, 0 if absent */
    uint32_t max_message_size;           /* a=max-message-size, 0 if absent */
} sdp_media;

typedef struct sdp_bundle_group {
    uint8_t count;
    char mids[SDP_MAX_MEDIA][SDP_MID_LEN];
} sdp_bundle_group;

typedef struct sdp_session {
    char origin_sess_id[SDP_TOKEN_LEN];  /* o= sess-id */
    uint8_t bundle_count;
    sdp_bundle_group bundles[SDP_MAX_GROUPS];
    char c_addr[SDP_ADDR_LEN];           /* session-level c= address, "" if none */
    char ice_ufrag[SDP_ICE_LEN];         /* session-level; "" if absent */
    char ice_pwd[SDP_ICE_LEN];
    char ice_options[SDP_ICE_OPTIONS_LEN];
    sdp_fingerprint fingerprint;
    sdp_setup setup;
    bool ice_lite, extmap_allow_mixed;
    char msid_semantic[SDP_TOKEN_LEN];   /* first token of a=msid-semantic, e.g. "WMS" */
    uint8_t media_count;
    sdp_media media[SDP_MAX_MEDIA];
} sdp_session;

/* sdp_parse - parse an SDP offer or answer into out.
 *
 * text need not be NUL-terminated; len bytes are read. Lines end in CRLF or LF; each is
 * "<letter>=<value>". v=0 must come first, and o=, s= and t= must precede the first m=.
 * Unknown line types and unknown attributes are skipped, and so are session-level
 * direction and extmap attributes (browsers write them per m= section). Media-level ice/fingerprint/
 * setup values are kept per m= section (they override the session level; use
 * sdp_media_ice_ufrag() etc. to read the effective value).
 * Checked beyond syntax: a=ice-ufrag (4..256) and a=ice-pwd (22..256) are ice-chars
 * (RFC 8839 §5.4); a=fingerprint is colon-separated hex pairs, as many as its hash function
 * makes when it is one DTLS verifies (core/fingerprint.h; others are kept for sdp_negotiate).
 * Returns 0, J_EMALFORMED (structure or a known attribute is malformed), J_ELIMIT (a
 * count or a field exceeds the limits above) or J_EINVAL (NULL out/text). On failure err
 * (if err_cap > 0) holds a NUL-terminated message naming the line number; out is then
 * unspecified (but safe to pass to sdp_parse again).
 */
int sdp_parse(sdp_session *out, const char *text, size_t len, char *err, size_t err_cap);

/* Effective values for one m= section: media level if present, else session level. */
const char *sdp_media_ice_ufrag(const sdp_session *s, const sdp_media *m);
const char *sdp_media_ice_pwd(const sdp_session *s, const sdp_media *m);
const sdp_fingerprint *sdp_media_fingerprint(const sdp_session *s, const sdp_media *m);
sdp_setup sdp_media_setup(const sdp_session *s, const sdp_media *m);

/* sdp_ext_from_uri - the known extension for a URI (exact match), or SDP_EXT_UNKNOWN. */
sdp_ext sdp_ext_from_uri(const char *uri);
/* sdp_ext_uri - the URI of a known extension, or NULL for SDP_EXT_UNKNOWN/out of range. */
const char *sdp_ext_uri(sdp_ext ext);

/* sdp_fmtp_get - find key in a "k=v;k2=v2" fmtp string (key case-insensitive, spaces around
 * ';' tolerated) and copy its value into val (cap bytes, NUL-terminated). Returns the value
 * length, J_ENOTFOUND, or J_ESHORTBUF if it does not fit. */
int sdp_fmtp_get(const char *fmtp, const char *key, char *val, size_t cap);

/* ---- negotiation -------------------------------------------------------------------- */
typedef struct sdp_policy {
    uint32_t audio_codecs;   /* SDP_CODEC_OPUS */
    uint32_t video_codecs;   /* SDP_CODEC_VP8 | SDP_CODEC_VP9 | SDP_CODEC_H264 | SDP_CODEC_AV1 */
    bool video_rtx;          /* accept RTX (apt=) for the accepted video codecs */
    uint32_t rtcp_fb;        /* SDP_FB_* we support */
    uint32_t ext_recv;       /* SDP_EXT_BIT()s we accept on media we receive */
    uint32_t ext_send;       /* SDP_EXT_BIT()s we accept on media we send */
    bool can_receive;        /* we may receive media (WHIP ingest, rooms) */
    bool can_send;           /* we may send media (WHEP egress, rooms) */
} sdp_policy;

/* Why an m= section was rejected (answered with port 0). */
typedef enum {
    SDP_REJECT_NONE = 0,
    SDP_REJECT_DISABLED,     /* offer port 0 without a=bundle-only */
    SDP_REJECT_KIND,         /* media kind we do not handle */
    SDP_REJECT_DATACHANNEL,  /* application (data channel): not supported yet */
    SDP_REJECT_PROTO,        /* proto is not UDP/TLS/RTP/SAVPF */
    SDP_REJECT_NO_CODEC,     /* no codec in common (with the policy, or with the track's
                              * publisher: sdp_neg_reject) */
} sdp_reject;

/* One stream the offerer will send on an m= section (its a=ssrc lines). */
typedef struct sdp_neg_stream {
    uint32_t ssrc;
    uint32_t rtx_ssrc;                   /* from a=ssrc-group:FID, 0 if none */
    char cname[SDP_CNAME_LEN];
    char msid_stream[SDP_MSID_LEN];      /* a=ssrc msid, else the m= section's a=msid */
    char msid_track[SDP_MSID_LEN];
} sdp_neg_stream;

typedef struct sdp_neg_media {
    bool accepted;
    sdp_reject reject;
    sdp_kind kind;
    char mid[SDP_MID_LEN];
    sdp_dir dir;                          /* OUR answer direction */
    bool rtcp_rsize;                      /* offered, so we answer it too */
    uint8_t codec_count;
    sdp_codec codecs[SDP_MAX_NEG_CODECS]; /* offer order and PTs; rtx folded into rtx_pt */
    uint8_t ext_id[SDP_EXT_COUNT];        /* offer's id per known extension, 0 = not used */
    sdp_dir ext_dir[SDP_EXT_COUNT];       /* direction suffix for our answer (NONE = none) */
    uint8_t stream_count;
    sdp_neg_stream streams[SDP_MAX_SSRCS];/* offerer's media SSRCs (rtx paired in); only
                                           * where we receive */
    uint8_t sim_ssrc_count;               /* a=ssrc-group:SIM, lowest layer first */
    uint32_t sim_ssrcs[SDP_MAX_GROUP_SSRCS];
    uint8_t rid_count;
    sdp_rid rids[SDP_MAX_RIDS];
    bool has_simulcast;
    sdp_simulcast simulcast;
    /* Simulcast we receive (rid-based): the offer's a=simulcast send streams that have an
     * a=rid send line, in a=simulcast order, at most SDP_MAX_ENCODINGS (the rest are left
     * out of our answer, which refuses them). 0: no simulcast. */
    uint8_t encoding_count;
    sdp_sim_stream encodings[SDP_MAX_ENCODINGS];
} sdp_neg_media;

typedef struct sdp_negotiated {
    char remote_ufrag[SDP_ICE_LEN];
    char remote_pwd[SDP_ICE_LEN];
    sdp_fingerprint remote_fingerprint;
    sdp_setup our_setup;                  /* SDP_SETUP_PASSIVE (we are DTLS server) or ACTIVE */
    bool extmap_allow_mixed;              /* offered: we echo it */
    uint8_t bundle_count;                 /* accepted mids, in offer order */
    char bundle_mids[SDP_MAX_MEDIA][SDP_MID_LEN];
    uint8_t media_count;                  /* == offer->media_count */
    sdp_neg_media media[SDP_MAX_MEDIA];
} sdp_negotiated;

/* sdp_negotiate - decide our answer to a parsed offer under policy.
 *
 * Per m= section: accepted (codecs in the offer's order with the offer's PTs, rtcp-fb
 * offered & supported, extension ids, the offerer's SSRCs where we receive, its
 * rids/simulcast, our direction) or rejected with a reason. Our direction: offer sendonly
 * -> recvonly (needs can_receive), recvonly -> sendonly (needs can_send), sendrecv -> what
 * the policy allows, anything else inactive. Setup: offer actpass/active/absent -> we are
 * passive; passive -> active. Returns 0 or a negative code with a message in err:
 *   J_EUNSUPPORTED  nothing accepted ("no usable codec" when codecs were the reason),
 *                   no accepted m= section can flow in a direction the policy allows,
 *                   BUNDLE/rtcp-mux missing for an accepted m= section, a=setup:holdconn;
 *   J_EMALFORMED    missing ice-ufrag/ice-pwd/fingerprint for an accepted m= section,
 *                   they differ between bundled m= sections, or the fingerprint's hash
 *                   function is not one DTLS can verify (sha-1, sha-256, sha-384, sha-512);
 *   J_EINVAL        NULL arguments.
 */
int sdp_negotiate(const sdp_session *offer, const sdp_policy *policy, sdp_negotiated *out,
                  char *err, size_t err_cap);

/* sdp_codec_same - whether a and b are the same codec for forwarding one's RTP to a peer
 * that negotiated the other: encoding name (case-insensitive), clock rate, channels (0 and
 * 1 are equal); H264 also packetization-mode and profile (profile_idc plus the constraint
 * flags that select Constrained Baseline / Baseline / Main / Constrained High / High;
 * levels are ignored); VP9 also profile-id, AV1 also profile (absent = 0). PTs are ignored. */
bool sdp_codec_same(const sdp_codec *a, const sdp_codec *b);

/* sdp_codecs_overlap - some codec of a is the same (sdp_codec_same) as some codec of b:
 * what one side sends, the other can receive. */
bool sdp_codecs_overlap(const sdp_codec *a, int a_count, const sdp_codec *b, int b_count);

/* sdp_codec_names - the distinct codecs as people tell them apart, ", "-separated, into out
 * (cap bytes, NUL-terminated; names that do not fit are left out whole): the encoding name,
 * the H.264 profile ("H264 Constrained Baseline"), a VP9 or AV1 profile other than 0
 * ("VP9 profile 2"). For messages: which codecs a publisher sends, which a viewer takes. */
void sdp_codec_names(const sdp_codec *codecs, int count, char *out, size_t cap);

/* sdp_neg_reject - reject the accepted m= section index after sdp_negotiate (it is then
 * answered with port 0, RFC 3264 §6, and leaves our BUNDLE group), for a reason found
 * later: no codec in common with what it would carry. Nothing for an index out of range
 * or a section already rejected. The caller keeps at least one section accepted. */
void sdp_neg_reject(sdp_negotiated *neg, int index, sdp_reject why);

/* ---- answer ------------------------------------------------------------------------- */
typedef struct sdp_send_track {
    uint32_t ssrc;                        /* 0 = write no a=ssrc lines for this m= section */
    uint32_t rtx_ssrc;                    /* 0 = none (written only if RTX was negotiated) */
    const char *cname;
    const char *stream_id;                /* a=msid:<stream_id> <track_id> */
    const char *track_id;
} sdp_send_track;

/* One of our own host candidates (in answers and offers alike). */
typedef struct sdp_answer_candidate {
    j_addr addr;                          /* host UDP address (IPv4 or IPv6) and port */
    const char *foundation;               /* NULL = "1", "2", ... by index */
} sdp_answer_candidate;

/* Our side of the transport, written the same way in an offer and an answer. */
typedef struct sdp_local_transport {
    uint64_t session_id;                  /* o= sess-id (caller picks it, e.g. random) */
    const char *ice_ufrag;
    const char *ice_pwd;
    const char *fingerprint;              /* "sha-256 AB:CD:..." */
    uint8_t candidate_count;              /* <= SDP_MAX_ANSWER_CANDIDATES */
    sdp_answer_candidate candidates[SDP_MAX_ANSWER_CANDIDATES];
} sdp_local_transport;

typedef struct sdp_answer_params {
    sdp_local_transport local;
    bool ice_lite;
    sdp_send_track send[SDP_MAX_MEDIA];   /* by m= index; used where our direction sends */
} sdp_answer_params;

/* sdp_candidate_priority - RFC 8445 §5.1.2.1: (2^24)*type_pref + (2^8)*local_pref +
 * (256 - component). */
uint32_t sdp_candidate_priority(uint8_t type_pref, uint16_t local_pref, uint8_t component);

/* sdp_write_answer - write the answer for offer/neg into buf (cap bytes, NUL-terminated).
 *
 * Session: v=0, o=- <session_id> 2 IN IP4 127.0.0.1, s=-, t=0 0, [a=ice-lite],
 * a=group:BUNDLE <accepted mids>, [a=extmap-allow-mixed], a=msid-semantic:WMS *.
 * Accepted m= sections carry our transport (ice, fingerprint, setup, rtcp-mux, host
 * candidates with type preference 126 and local preference 65535 - index, component 1),
 * the direction, each codec's rtpmap/fmtp/rtcp-fb (+ rtx with apt=), the negotiated
 * extmaps, where we send and p->send[i].ssrc != 0, a=msid/a=ssrc/a=ssrc-group:FID, and
 * where we receive simulcast (encoding_count > 0) an a=rid:<id> recv line per encoding and
 * a=simulcast:recv listing them (RFC 8853: the streams left out are refused).
 * Rejected ones are "m=<kind> 0 <proto> <offer's first format>" with c= and a=mid.
 * CRLF line endings. Returns the length written (excluding the NUL), J_ESHORTBUF, or
 * J_EINVAL (NULL arguments, a string parameter containing CR/LF or too many candidates).
 */
int sdp_write_answer(const sdp_session *offer, const sdp_negotiated *neg,
                     const sdp_answer_params *p, char *buf, size_t cap);

/* ---- offer (client side) ------------------------------------------------------------ */
typedef struct sdp_offer_media {
    sdp_kind kind;                        /* SDP_KIND_AUDIO or SDP_KIND_VIDEO */
    const char *mid;                      /* 1..32 token characters, distinct per offer */
    sdp_dir dir;                          /* SENDONLY, RECVONLY or SENDRECV */
    uint8_t codec_count;                  /* 1..SDP_MAX_NEG_CODECS */
    const sdp_codec *codecs;              /* PT, rtpmap, fmtp, rtcp-fb (+ rtx_pt) each */
    uint8_t ext_id[SDP_EXT_COUNT];        /* extension ids to offer, 0 = not offered */
    sdp_send_track send;                  /* our stream where dir sends (ssrc 0 = none) */
} sdp_offer_media;

typedef struct sdp_offer_params {
    sdp_local_transport local;
    bool extmap_allow_mixed;
    uint8_t media_count;                  /* 1..SDP_MAX_MEDIA */
    sdp_offer_media media[SDP_MAX_MEDIA];
} sdp_offer_params;

/* sdp_write_offer - write an offer (a full ICE agent's, a=setup:actpass, every m= section
 * UDP/TLS/RTP/SAVPF, rtcp-mux and rtcp-rsize, all of them in one a=group:BUNDLE) into buf
 * (cap bytes, NUL-terminated). Each m= section is written like an accepted section of an
 * answer (sdp_write_answer): same transport, codec, extmap, msid/ssrc and candidate lines.
 * Returns the length written (excluding the NUL), J_ESHORTBUF, or J_EINVAL (NULL or
 * unsafe strings, a bad kind/direction/codec, duplicate mids, too many candidates). */
int sdp_write_offer(const sdp_offer_params *p, char *buf, size_t cap);

/* ---- candidates ------------------------------------------------------------------------ */
typedef enum {
    SDP_CAND_HOST = 0,
    SDP_CAND_SRFLX,
    SDP_CAND_PRFLX,
    SDP_CAND_RELAY,
} sdp_cand_type;

typedef struct sdp_candidate {
    char foundation[33];                  /* 1*32 ice-char */
    uint16_t component;                   /* 1..256 */
    bool udp;                             /* transport "UDP" (any case); else TCP or other */
    uint32_t priority;
    j_addr addr;                          /* IP literal and port */
    sdp_cand_type type;
} sdp_candidate;

/* sdp_candidate_parse - parse an a=candidate value as sdp_parse keeps it (RFC 8839 §5.1,
 * without "candidate:"): "<foundation> <component> <transport> <priority> <address>
 * <port> typ <type> [extensions...]". Extensions (raddr, rport, generation, ...) are
 * skipped. Returns J_OK, J_EMALFORMED, or J_EUNSUPPORTED for an address that is not an IP
 * literal (an mDNS ".local" name) or an unknown candidate type. */
int sdp_candidate_parse(const char *value, sdp_candidate *out);

#endif
