/* layers.h - which layer of a layered video track each subscriber receives, and when it
 * switches.
 *
 * A published video track is a grid of layers: spatial (simulcast encodings, each its own RTP
 * stream, or SVC spatial layers in one stream) by temporal (frame rates). For each subscriber
 * (one downtrack) an sfu_layers holds two things:
 *   - the POLICY, sfu_layers_update: from the subscriber's bandwidth share, preferred maximum
 *     layers, display size, visibility and audio-only mode, and from what the publisher sends
 *     (active layers, their measured bitrates and resolutions), the target layer, whether video
 *     is off (and why), and whether a keyframe must be requested. It switches down at once when
 *     the target no longer fits, and up only after the estimate has exceeded the better layer
 *     by a margin for a hold time (so it does not flap); a user-driven change (a bigger tile, a
 *     higher preference) switches up at once.
 *   - the SELECTOR, sfu_layers_on_packet: per packet, forward or drop, following the target
 *     only where the decoder can follow: a spatial switch (and any start) waits for a keyframe
 *     of the target layer; a temporal switch down happens at the next picture, a switch up at
 *     the next switching point (VP8 Y, VP9 U, a Dependency Descriptor switch indication).
 * An sfu_layer_meter (one per published track) measures what the publisher sends and fills
 * the policy's view of it. Audio is not layered and never passes through here: it keeps
 * flowing while video is off. Sans-I/O, time as now_us; nothing allocates.
 */
#ifndef J_SFU_LAYERS_H
#define J_SFU_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "codec/dd.h"

#define SFU_LAYERS_MAX_SPATIAL 4  /* higher spatial ids are never forwarded */
#define SFU_LAYERS_MAX_TEMPORAL 4 /* higher temporal ids are never forwarded */
#define SFU_LAYER_ANY 0xFF        /* no preferred maximum */

typedef enum {
    SFU_LAYERS_SIMULCAST = 0, /* one RTP stream per spatial layer (encoding) */
    SFU_LAYERS_SVC,           /* every layer in one RTP stream (VP9, AV1 with the DD) */
} sfu_layers_mode;

/* What a published track sends, as its meter saw it. */
typedef struct sfu_layers_source {
    /* Temporal layers active on each spatial layer; 0: the spatial layer is inactive. */
    uint8_t temporal_layers[SFU_LAYERS_MAX_SPATIAL];
    /* Bitrate a subscriber receives with target (s, t): simulcast, encoding s up to temporal
     * layer t; SVC, spatial layers up to s at temporal layers up to t. 0: not measured yet. */
    uint64_t bitrate_bps[SFU_LAYERS_MAX_SPATIAL][SFU_LAYERS_MAX_TEMPORAL];
    uint16_t width[SFU_LAYERS_MAX_SPATIAL], height[SFU_LAYERS_MAX_SPATIAL]; /* 0: unknown */
} sfu_layers_source;

/* What one subscriber wants and can take of this track. */
typedef struct sfu_layers_sub {
    uint64_t budget_bps; /* its bandwidth estimate's share for this track; 0: no estimate yet */
    uint8_t max_spatial, max_temporal;      /* preferred maximum (client or API); SFU_LAYER_ANY */
    uint16_t display_width, display_height; /* device pixels of its tile; 0: unknown */
    bool visible;                           /* a hidden tile gets no video */
    bool audio_only;                        /* the subscriber switched video off */
} sfu_layers_sub;

typedef struct sfu_layers_config {
    uint32_t up_margin_pct;  /* a better layer must fit the estimate with this much to spare */
    uint64_t up_hold_us;     /* ... for this long before switching up */
    uint32_t display_slack_pct; /* a layer serves a tile up to this much larger in area */
} sfu_layers_config;

#define SFU_LAYERS_DEFAULT_UP_MARGIN_PCT 10u
#define SFU_LAYERS_DEFAULT_UP_HOLD_US 2000000u
#define SFU_LAYERS_DEFAULT_DISPLAY_SLACK_PCT 10u

typedef enum {
    SFU_LAYERS_FORWARDING = 0,
    SFU_LAYERS_OFF_AUDIO_ONLY, /* the subscriber asked for audio only */
    SFU_LAYERS_OFF_HIDDEN,     /* its tile is not visible */
    SFU_LAYERS_OFF_BANDWIDTH,  /* paused: even the lowest layer does not fit the estimate */
    SFU_LAYERS_OFF_NO_SOURCE,  /* the publisher sends no layer */
} sfu_layers_state;

/* The policy's output. */
typedef struct sfu_layers_target {
    sfu_layers_state state;
    uint8_t spatial, temporal; /* the target, when FORWARDING */
    /* The selector waits for a keyframe of the target spatial layer (simulcast: of that
     * encoding): ask the publisher for one (the track throttles requests). */
    bool keyframe_needed;
} sfu_layers_target;

/* One subscriber's layer state for one track. */
typedef struct sfu_layers {
    sfu_layers_config cfg;
    sfu_layers_mode mode;
    /* policy */
    sfu_layers_state state;
    int8_t target_spatial, target_temporal; /* -1: no target */
    uint8_t cap_spatial, cap_temporal;      /* caps of the last update */
    uint64_t up_since_us;                   /* a better layer has fitted since; 0: it has not */
    bool up_pending;
    /* selector */
    int8_t current_spatial, current_temporal; /* forwarded now; -1: nothing */
    int8_t prev_temporal;  /* the limit for pictures older than the last temporal switch */
    uint32_t switch_ts;    /* RTP timestamp of that switch */
    uint32_t picture_ts;   /* RTP timestamp of the newest picture seen */
    bool seen_picture;
} sfu_layers;

/* sfu_layers_init - nothing targeted or forwarded yet. cfg NULL (or zero fields) takes the
 * defaults above. */
void sfu_layers_init(sfu_layers *l, sfu_layers_mode mode, const sfu_layers_config *cfg);

/* sfu_layers_update - run the policy. Call it when an input changes (a new estimate, the tile
 * resized, a preference) and periodically (every few hundred milliseconds), since up-switches
 * wait for a hold time to pass. */
sfu_layers_target sfu_layers_update(sfu_layers *l, const sfu_layers_sub *sub,
                                    const sfu_layers_source *src, uint64_t now_us);

/* sfu_layers_demand_bps - what the subscriber would receive with an unlimited budget: the
 * bitrate of the best active layer within its preferred maxima and display size; 0 when it
 * gets no video (audio only, hidden) or that layer is not measured yet. For sharing one
 * subscriber's bandwidth among its tracks. */
uint64_t sfu_layers_demand_bps(const sfu_layers *l, const sfu_layers_sub *sub,
                               const sfu_layers_source *src);

/* sfu_layers_lowest_bps - the bitrate of the lowest active layer, 0 if none is measured. */
uint64_t sfu_layers_lowest_bps(const sfu_layers_source *src);

/* sfu_layers_next_bps - the bitrate of the next layer up from the current target within the
 * subscriber's preferences and tile size (the lowest layer when video is off for
 * bandwidth): what a probe of its bandwidth should make room for. 0 when there is none (or
 * it is not measured yet). */
uint64_t sfu_layers_next_bps(const sfu_layers *l, const sfu_layers_sub *sub,
                             const sfu_layers_source *src);

/* One packet of the track, as the selector needs it (see sfu_layer_pkt_from_*). */
typedef struct sfu_layer_pkt {
    uint8_t spatial;      /* simulcast: the encoding, 0 the lowest; SVC: spatial layer id */
    uint8_t temporal;     /* temporal layer id; 0 without temporal layers */
    uint32_t rtp_ts;
    bool marker;          /* RTP marker bit as received */
    bool frame_start;     /* first packet of this layer's frame */
    bool frame_end;       /* last packet of this layer's frame */
    bool keyframe;        /* frame_start of a frame a decoder can start from: simulcast, a
                             keyframe of this encoding; SVC, the base layer of a key picture */
    /* Switching point: forwarding may move up to temporal layers <= switch_up_to at this
     * frame (VP8 Y and VP9 U: this frame's layer; a Dependency Descriptor switch indication:
     * the target decode target's). 0: not a switching point. */
    uint8_t switch_up_to;
    bool unused_by_upper; /* SVC: no higher spatial layer of this picture references it */
} sfu_layer_pkt;

typedef enum {
    SFU_LAYER_DROP = 0,
    SFU_LAYER_FORWARD,
    /* Forward, and this packet starts the forwarded stream again (after a start, a pause or
     * a simulcast switch): resynchronise sequence numbers, timestamps and picture ids. */
    SFU_LAYER_FORWARD_RESYNC,
} sfu_layer_verdict;

/* sfu_layers_on_packet - forward or drop one packet; *marker is the marker bit to send (SVC:
 * set on the last packet of the highest spatial layer forwarded). */
sfu_layer_verdict sfu_layers_on_packet(sfu_layers *l, const sfu_layer_pkt *p, bool *marker);

/* sfu_layer_pkt_from_vp8 - a simulcast VP8 packet of encoding `encoding`. */
sfu_layer_pkt sfu_layer_pkt_from_vp8(const vp8_descriptor *d, uint8_t encoding, uint32_t rtp_ts,
                                     bool marker);
/* sfu_layer_pkt_from_vp9 - a VP9 packet, SVC or not (VP9 U is taken, as libwebrtc sets it,
 * to mean the frame references no earlier frame of its own or a higher temporal layer). */
sfu_layer_pkt sfu_layer_pkt_from_vp9(const vp9_descriptor *d, uint32_t rtp_ts, bool marker);
/* sfu_layer_pkt_from_dd - a packet described by a Dependency Descriptor (f, resolved against
 * st), judged against the decode targets l currently forwards and aims at. */
sfu_layer_pkt sfu_layer_pkt_from_dd(const dd_frame *f, const dd_structure *st,
                                    const sfu_layers *l, uint32_t rtp_ts, bool marker);

/* ---- measuring what a publisher sends --------------------------------------------------- */

#define SFU_LAYER_METER_WINDOW_US 500000u

typedef struct sfu_layer_meter {
    sfu_layers_mode mode;
    bool started;
    uint64_t window_start_us;
    uint64_t bytes[SFU_LAYERS_MAX_SPATIAL][SFU_LAYERS_MAX_TEMPORAL];   /* this window */
    uint64_t rate_bps[SFU_LAYERS_MAX_SPATIAL][SFU_LAYERS_MAX_TEMPORAL]; /* each layer alone */
    uint8_t seen[SFU_LAYERS_MAX_SPATIAL];   /* bit t: layer (s, t) seen this window */
    uint8_t active[SFU_LAYERS_MAX_SPATIAL]; /* bit t: seen in the last complete window */
    uint16_t width[SFU_LAYERS_MAX_SPATIAL], height[SFU_LAYERS_MAX_SPATIAL];
} sfu_layer_meter;

void sfu_layer_meter_init(sfu_layer_meter *m, sfu_layers_mode mode);

/* sfu_layer_meter_add - one received packet of layer (spatial, temporal), its size in bytes.
 * Layers beyond the maxima are not counted. */
void sfu_layer_meter_add(sfu_layer_meter *m, uint8_t spatial, uint8_t temporal, size_t bytes,
                         uint64_t now_us);

/* sfu_layer_meter_set_resolution - the size of a spatial layer (from a VP8 keyframe, the VP9
 * scalability structure, the Dependency Descriptor's render resolutions). */
void sfu_layer_meter_set_resolution(sfu_layer_meter *m, uint8_t spatial, uint16_t width,
                                    uint16_t height);

/* sfu_layer_meter_read - the policy's view of the source. A layer is active once seen and
 * until a whole window passes without it; its bitrate is known after its first window
 * (each window's rate averaged with the previous one). */
void sfu_layer_meter_read(sfu_layer_meter *m, uint64_t now_us, sfu_layers_source *out);

#endif
