/* dd.h - the AV1 Dependency Descriptor RTP header extension (AV1 RTP payload format,
 * Appendix A; "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-
 * extension").
 *
 * The descriptor tells a forwarder, without reading the (possibly end-to-end encrypted)
 * payload, each frame's spatial and temporal layer, how it relates to every decode target
 * (not present / discardable / switch point / required), the frames it references and the
 * chains that let a receiver see a loss at once. Most packets carry three bytes naming a
 * template; the templates arrive in a dependency structure, on the first packet of a coded
 * video sequence (a keyframe), and stay in force until the next structure. So a parse takes
 * the state of its stream (dd_structure, one per received stream) and updates it. No
 * allocation; a dd_structure is about 5 KB.
 */
#ifndef J_CODEC_DD_H
#define J_CODEC_DD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DD_MAX_TEMPLATES 64       /* frame_dependency_template_id is 6 bits */
#define DD_MAX_DECODE_TARGETS 32  /* dtis_cnt_minus_one is 5 bits */
#define DD_MAX_CHAINS 32          /* chains_cnt <= decode targets */
#define DD_MAX_SPATIAL_LAYERS 4   /* MAX_SPATIAL_ID 3 */
#define DD_MAX_TEMPORAL_LAYERS 8  /* MAX_TEMPORAL_ID 7 */
/* Frame differences kept per frame: an AV1 frame references at most 7 others. */
#define DD_MAX_FDIFFS 8

/* Decode target indication: how a frame relates to one decode target. */
typedef enum {
    DD_DTI_NOT_PRESENT = 0, /* not part of the decode target: do not forward it there */
    DD_DTI_DISCARDABLE = 1, /* part of it, but nothing in it references this frame */
    DD_DTI_SWITCH = 2,      /* forwarding of the decode target may start here */
    DD_DTI_REQUIRED = 3,
} dd_dti;

typedef struct dd_template {
    uint8_t spatial_id, temporal_id;
    uint8_t fdiff_count;
    uint8_t fdiff[DD_MAX_FDIFFS];            /* 1..16 */
    uint8_t dti[DD_MAX_DECODE_TARGETS];      /* dd_dti, decode_target_count of them */
    uint8_t chain_fdiff[DD_MAX_CHAINS];      /* 0..15, chain_count of them */
} dd_template;

/* The template dependency structure in force for one stream, and its latest active decode
 * targets. */
typedef struct dd_structure {
    bool valid;                  /* a structure has been received */
    uint8_t template_id_offset;  /* template id of templates[0] */
    uint8_t template_count;      /* 1..64 */
    uint8_t decode_target_count; /* 1..32 */
    uint8_t chain_count;         /* 0..decode_target_count */
    uint8_t max_spatial_id, max_temporal_id;
    uint8_t decode_target_protected_by[DD_MAX_DECODE_TARGETS]; /* chain index, with chains */
    /* The highest spatial and temporal ids among the templates that are present in each
     * decode target: what a subscriber of that decode target receives. */
    uint8_t decode_target_spatial[DD_MAX_DECODE_TARGETS];
    uint8_t decode_target_temporal[DD_MAX_DECODE_TARGETS];
    bool has_resolutions;
    uint16_t width[DD_MAX_SPATIAL_LAYERS], height[DD_MAX_SPATIAL_LAYERS]; /* render size */
    uint32_t active_decode_targets; /* bit i: decode target i is being produced */
    dd_template templates[DD_MAX_TEMPLATES];
} dd_structure;

/* One packet's descriptor, resolved against the structure. */
typedef struct dd_frame {
    bool start_of_frame, end_of_frame;
    uint8_t template_id;
    uint16_t frame_number;
    bool has_structure;             /* carried a structure (now the one in force) */
    bool has_active_decode_targets; /* carried active_decode_targets_bitmask */
    bool custom_dtis, custom_fdiffs, custom_chains;
    uint32_t active_decode_targets; /* in force for this frame */
    uint8_t spatial_id, temporal_id;
    uint8_t decode_target_count;
    uint8_t dti[DD_MAX_DECODE_TARGETS];
    uint8_t fdiff_count;
    uint16_t fdiff[DD_MAX_FDIFFS];  /* frame_number minus each referenced frame's, 1..4096 */
    uint8_t chain_count;
    uint8_t chain_fdiff[DD_MAX_CHAINS]; /* 0: the chain starts again at this frame */
    bool has_resolution;
    uint16_t width, height;         /* maximum render size of the frame's spatial layer */
} dd_frame;

/* dd_structure_init - no structure yet: only a packet carrying one can be resolved. */
void dd_structure_init(dd_structure *st);

/* dd_parse - parse one Dependency Descriptor extension element (its len data bytes, at least
 * 3) against the stream's structure *st, which a descriptor carrying a structure or an active
 * decode targets bitmask replaces or updates. Returns 0 with *out filled, or, leaving *st as
 * it was:
 *   J_ESHORT        the fields run past len;
 *   J_EMALFORMED    a structure beyond the syntax limits (more than 64 templates, a spatial id
 *                   above 3 or a temporal id above 7);
 *   J_EUNSUPPORTED  a frame or template with more than DD_MAX_FDIFFS frame differences;
 *   J_ESTATE        no structure received yet (the keyframe carrying it was lost);
 *   J_ENOTFOUND     the template id is outside the structure in force (a newer structure
 *                   was lost).
 * The last two mean the stream needs a keyframe before its layers can be told apart. */
int dd_parse(dd_frame *out, dd_structure *st, const uint8_t *data, size_t len);

/* dd_decode_target_for - the active decode target to forward to a subscriber allowed at most
 * max_spatial / max_temporal: the one with the highest spatial, then temporal, layer within
 * them. J_ENOTFOUND when none fits (or there is no structure). */
int dd_decode_target_for(const dd_structure *st, uint8_t max_spatial, uint8_t max_temporal);

#endif
