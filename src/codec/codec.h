/* codec.h - RTP payload descriptors of the video codecs the SFU forwards.
 *
 * These read only the RTP payload descriptor and the first bytes of the
 * media (enough to spot keyframes and their resolution); nothing is decoded.
 * The descriptor fields (picture id, TL0PICIDX, temporal and spatial layer
 * ids...) are what layer selection and picture-id rewriting work from.
 * Parsers fill a caller-owned struct and never allocate.
 */
#ifndef J_CODEC_CODEC_H
#define J_CODEC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CODEC_UNKNOWN = 0,
    CODEC_VP8,
    CODEC_VP9,
    CODEC_H264,
    CODEC_AV1,
    CODEC_OPUS,
} codec_kind;

/* codec_kind_from_name - the codec of an SDP rtpmap encoding name ("VP8",
 * "VP9", "H264", "AV1", "opus"), compared case-insensitively; CODEC_UNKNOWN
 * for anything else (including NULL). */
codec_kind codec_kind_from_name(const char *rtpmap_name);

/* codec_kind_name - the canonical rtpmap name ("VP8", ..., "opus", "unknown"). */
const char *codec_kind_name(codec_kind kind);

/* codec_is_video - true for VP8, VP9, H264 and AV1. */
bool codec_is_video(codec_kind kind);

/* codec_is_keyframe - does this RTP payload start (or, for H.264, carry the
 * IDR or SPS of) a frame a decoder can start from?
 *
 * VP8, VP9, H.264: as the *_parse functions below report. AV1: the N bit of
 * the aggregation header (first packet of a coded video sequence). Opus:
 * always true, every packet is a valid place to start forwarding audio.
 * Malformed payloads and unknown codecs give false.
 */
bool codec_is_keyframe(codec_kind kind, const uint8_t *payload, size_t len);

/* ---- VP8 (RFC 7741) ---------------------------------------------------- */

typedef struct {
    bool non_reference;       /* N */
    bool start_of_partition;  /* S */
    uint8_t partition_id;     /* PID, 0..7 */
    bool has_picture_id;      /* I */
    bool picture_id_15bit;    /* M: picture_id is 15 bits, else 7 */
    uint16_t picture_id;
    bool has_tl0picidx;       /* L */
    uint8_t tl0picidx;
    bool has_tid;             /* T */
    uint8_t tid;              /* 0..3 */
    bool layer_sync;          /* Y (meaningful only with T) */
    bool has_keyidx;          /* K */
    uint8_t keyidx;           /* 0..31 */
    size_t descriptor_len;    /* bytes before the VP8 payload */
    /* From the VP8 payload header, only in the first packet of a frame
     * (S=1, PID=0): */
    bool frame_start;         /* S=1 and PID=0 */
    bool keyframe;            /* frame_start and the header's P bit is 0 */
    bool has_dimensions;      /* keyframe header with a valid start code present */
    uint16_t width;           /* 14 bits */
    uint16_t height;
    uint8_t horizontal_scale; /* 2 bits each */
    uint8_t vertical_scale;
} vp8_descriptor;

/* vp8_parse - parse a VP8 RTP payload's descriptor (RFC 7741 §4.2) and, in
 * the first packet of a frame, its payload header (§4.3) and keyframe size.
 * At least one byte of VP8 payload must follow the descriptor. Returns 0 or
 * J_ESHORT. */
int vp8_parse(vp8_descriptor *out, const uint8_t *payload, size_t len);

/* vp8_descriptor_write - write the payload descriptor fields of d (N, S, PID and, when any
 * of I/L/T/K is set, the extension byte and its fields; the payload-header fields are
 * ignored) into buf: the inverse of vp8_parse for a packetizer. Returns its length (1..6),
 * J_ESHORTBUF, or J_EINVAL (a field out of range). */
int vp8_descriptor_write(const vp8_descriptor *d, uint8_t *buf, size_t cap);

/* ---- VP9 (RFC 9628) ---------------------------------------------------- */

#define VP9_MAX_SPATIAL_LAYERS 8   /* N_S is 3 bits: N_S + 1 layers */
#define VP9_MAX_REF_PICS 3         /* P_DIFFs per picture */
#define VP9_MAX_PG_PICTURES 255    /* N_G is 8 bits */

typedef struct {
    uint8_t tid;              /* T */
    bool switching_up;        /* U */
    uint8_t ref_count;        /* R, 0..3 */
    uint8_t p_diff[VP9_MAX_REF_PICS];
} vp9_pg_picture;

/* Scalability structure (V=1). */
typedef struct {
    uint8_t spatial_layers;   /* N_S + 1, 1..8 */
    bool has_resolution;      /* Y */
    uint16_t width[VP9_MAX_SPATIAL_LAYERS];
    uint16_t height[VP9_MAX_SPATIAL_LAYERS];
    bool has_pg;              /* G */
    uint8_t pg_count;         /* N_G */
    vp9_pg_picture pg[VP9_MAX_PG_PICTURES];
} vp9_ss;

typedef struct {
    bool has_picture_id;      /* I */
    bool inter_picture;       /* P: inter-predicted (depends on earlier pictures) */
    bool has_layer;           /* L */
    bool flexible;            /* F */
    bool begin_of_frame;      /* B */
    bool end_of_frame;        /* E */
    bool has_ss;              /* V */
    bool not_ref_upper;       /* Z: not used by upper spatial layers */
    bool picture_id_15bit;    /* M */
    uint16_t picture_id;
    uint8_t tid;              /* 0..7, 0 when !has_layer */
    bool switching_up;        /* U */
    uint8_t sid;              /* 0..7, 0 when !has_layer */
    bool inter_layer;         /* D: depends on the spatial layer below */
    bool has_tl0picidx;       /* non-flexible mode with L */
    uint8_t tl0picidx;
    uint8_t p_diff_count;     /* flexible mode with P: 1..3 */
    uint8_t p_diff[VP9_MAX_REF_PICS];
    size_t descriptor_len;    /* bytes before the VP9 payload */
    bool keyframe;            /* !P && B && (!L || SID == 0) */
} vp9_descriptor;

/* vp9_parse - parse a VP9 RTP payload descriptor (RFC 9628 §4.2), including
 * the scalability structure when V=1 and ss is non-NULL (with ss NULL it is
 * still validated and skipped). At least one byte of VP9 payload must follow.
 * Returns 0, J_ESHORT (any field cut short), or J_EMALFORMED (a fourth
 * P_DIFF announced by N=1 on the third). *ss is valid only when V=1. */
int vp9_parse(vp9_descriptor *out, vp9_ss *ss, const uint8_t *payload, size_t len);

/* ---- H.264 (RFC 6184, packetization-mode 1) ----------------------------- */

#define H264_NAL_SLICE 1
#define H264_NAL_IDR 5
#define H264_NAL_SEI 6
#define H264_NAL_SPS 7
#define H264_NAL_PPS 8
#define H264_NAL_AUD 9
#define H264_NAL_STAP_A 24
#define H264_NAL_FU_A 28

typedef struct {
    uint8_t packet_type;      /* type in the first byte: 1..23, STAP-A or FU-A */
    uint8_t nri;              /* NRI of the first byte */
    uint8_t nal_type;         /* single: packet_type; FU-A: the fragmented NAL's
                                 type; STAP-A: the first aggregated NAL's type */
    size_t nal_count;         /* NAL units started here (FU-A: 1 at start, else 0) */
    uint32_t nal_types;       /* bit (1 << type) for each NAL unit started here */
    bool fu_start;            /* FU-A S bit */
    bool fu_end;              /* FU-A E bit */
    bool keyframe;            /* an IDR slice or an SPS starts in this packet */
} h264_descriptor;

/* h264_parse - classify an H.264 RTP payload: single NAL unit (types 1..23),
 * STAP-A (each aggregated NAL bounded by the packet, none empty) or FU-A.
 * Returns 0, J_ESHORT, J_EMALFORMED, or J_EUNSUPPORTED for the other
 * packetization types (STAP-B, MTAP, FU-B) and reserved types 0, 30, 31. */
int h264_parse(h264_descriptor *out, const uint8_t *payload, size_t len);

#endif
