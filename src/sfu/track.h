/* track.h - one published media track and its fan-out to subscribers (downtracks).
 *
 * A track is one audio or video source (a microphone, a camera, a screen). It has at
 * most one source at a time (the publisher's RTP for it) and any number of downtracks,
 * each owned by a subscriber's connection. Every RTP packet of the source is forwarded
 * once per downtrack with that subscriber's own SSRC, payload type, header extension ids
 * and continuous sequence numbers and timestamps; the payload is copied untouched (so
 * end-to-end encryption keeps working). Downtracks may attach before the source and
 * survive its reconnection; video to a downtrack starts at a keyframe; keyframe requests
 * to the source are aggregated and throttled per track. A muted track forwards nothing; a
 * paused downtrack receives nothing (its subscriber asked so, or its bandwidth cannot carry
 * it) but stays attached. An audio track sums the RFC 6464 levels its source's packets
 * carry, for speaker detection.
 *
 * A video track keeps up to a second of its source's packets (rtp/rtx_buffer) to answer its
 * subscribers' NACKs itself: a downtrack maps the sequence number a subscriber asks for back
 * to the source's, and resends that packet rebuilt exactly as it was forwarded, on the
 * subscriber's RTX stream (RFC 4588) when it negotiated one. A downtrack also knows the RTP
 * timestamp "now" in its own timeline, for the sender reports its subscriber needs for lip
 * sync.
 * Sans-I/O: output goes through callbacks; nothing here allocates per packet.
 */
#ifndef J_SFU_TRACK_H
#define J_SFU_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "codec/dd.h"
#include "codec/picmap.h"
#include "rtp/rtp.h"
#include "rtp/rtx_buffer.h"
#include "sdp/sdp.h"
#include "sfu/layers.h"
#include "sfu/seqmap.h"

typedef enum { SFU_AUDIO = 0, SFU_VIDEO = 1 } sfu_kind;

#define SFU_TRACK_ID_LEN 80 /* "stream/<64-char name>/video" or a room's "TR_..." */
#define SFU_NO_PT 0xFF
/* Minimum spacing of keyframe requests sent to one source. */
#define SFU_KEYFRAME_INTERVAL_US 300000u
/* A downtrack still waiting for a keyframe asks again after this long. */
#define SFU_KEYFRAME_RETRY_US 1000000u

/* The retransmission history of each encoding of a video track. A NACK is worth answering for
 * a few round trips only (then the receiver's jitter buffer has moved on or asked for a
 * keyframe), so: at most 1 s, and at most 256 KiB of packets - the whole second up to
 * 2 Mbit/s, still 0.5 s (several RTTs) at 4 Mbit/s. 512 index slots keep up
 * with the bytes while packets average 512 bytes or more (512 packets/s at that size is
 * 2 Mbit/s). Memory per encoding: at most 256 KiB + 12 KiB, about 1 s of its bytes below
 * 2 Mbit/s (rtx_buffer reuses its start once that has expired); 1024 x 1500-byte slots took
 * 1.5 MB. */
#define SFU_RTX_BUFFER_BYTES ((size_t)256 * 1024)
#define SFU_RTX_BUFFER_SLOTS 512
#define SFU_RTX_BUFFER_AGE_US 1000000u
/* Retransmissions to a downtrack may use at most half the bytes forwarded to it, banked up
 * to this many: a burst of NACKs (or a hostile subscriber) cannot multiply its traffic. */
#define SFU_RTX_CREDIT_MAX 131072

/* Simulcast encodings of one track (each its own RTP stream, sequence space and SSRC). */
#define SFU_MAX_ENCODINGS SDP_MAX_ENCODINGS
/* How often a downtrack's layer policy runs when none of its inputs changed. */
#define SFU_LAYERS_UPDATE_US 200000u

/* Why a downtrack forwards nothing for now: bits of sfu_downtrack.paused. Video a
 * subscriber's bandwidth or tile cannot take is the layer policy's business (its state). */
enum {
    SFU_PAUSE_SUBSCRIBER = 1u << 0, /* its subscriber holds it back (audio only, last N) */
};

/* Header extensions the SFU carries from publisher to subscriber, besides MID. */
typedef enum {
    SFU_EXT_AUDIO_LEVEL = 0,
    SFU_EXT_VIDEO_ORIENTATION,
    SFU_EXT_DEPENDENCY_DESCRIPTOR, /* AV1 layers: also read to select them */
    SFU_EXT_COUNT
} sfu_ext;

/* What the publisher negotiated for a track (one m= section). */
typedef struct sfu_source {
    uint8_t codec_count;
    sdp_codec codecs[SDP_MAX_NEG_CODECS];
    uint8_t ext_id[SFU_EXT_COUNT]; /* publisher's ids, 0 = not negotiated */
    /* Simulcast encodings, in a=simulcast order (browsers list the lowest first; the track
     * ranks them by the keyframe resolutions it sees when those say otherwise); 1 without. */
    uint8_t encoding_count;
} sfu_source;

/* sfu_send_fn - deliver a built RTP packet at now_us (buf has room up to cap for the SRTP
 * tag). When twcc_off is not 0, buf[twcc_off..+2) is the transport-wide sequence number
 * extension's value, left 0 for the sender to fill as it numbers what it sends. */
typedef void (*sfu_send_fn)(void *ctx, uint8_t *buf, size_t len, size_t cap, size_t twcc_off,
                            uint64_t now_us);

struct sfu_track;

/* One subscriber's copy of one track, bound to one of its m= sections. */
typedef struct sfu_downtrack {
    uint32_t ssrc;
    uint8_t codec_count;
    sdp_codec codecs[SDP_MAX_NEG_CODECS]; /* subscriber's codecs, its payload types */
    uint8_t mid_ext_id;                   /* 0 = MID extension not negotiated */
    char mid[SDP_MID_LEN];
    uint8_t ext_id[SFU_EXT_COUNT]; /* subscriber's ids, 0 = not negotiated */
    uint8_t twcc_ext_id;           /* transport-wide sequence number extension, 0 = none */
    uint8_t pt_map[128];           /* source PT -> subscriber PT (SFU_NO_PT: none) */
    sfu_seqmap seq;
    uint32_t mapped_ssrc;          /* the source SSRC the current mapping is for */
    uint8_t mapped_encoding;       /* ... and its encoding */
    /* Video: the layer it gets (policy and per-packet selector), the policy's inputs. */
    sfu_layers layers;
    sfu_layers_sub want;           /* budget_bps set by its subscriber, the rest by settings */
    sfu_layers_target target;      /* the policy's last answer */
    bool layers_changed;           /* an input changed: run the policy at the next timeout */
    uint64_t layers_updated_us;
    uint64_t bandwidth_pauses;     /* times the policy turned its video off for bandwidth */
    uint64_t layer_downs;          /* times it lowered the target or turned video off */
    uint32_t prefs_changes;        /* times its subscriber changed its settings */
    picmap picmap;                 /* VP8/VP9: picture ids continuous across switches, drops */
    uint32_t clock_rate;           /* of the last packet forwarded */
    uint32_t rtx_ssrc;             /* the subscriber's RTX stream, 0: resend as the original */
    uint16_t rtx_seq;              /* next RTX sequence number */
    int64_t rtx_credit;            /* bytes retransmissions may still use */
    uint8_t paused;                /* SFU_PAUSE_* bits: skipped by the fan-out while any is set */
    bool waiting_keyframe;
    uint64_t keyframe_asked_us;
    sfu_send_fn send;
    void *send_ctx;           /* borrowed: the subscriber's connection */
    struct sfu_track *track;  /* borrowed: set while attached */
    uint64_t packets, bytes, payload_bytes, dropped_no_codec; /* forwarded */
    uint64_t rtx_packets, rtx_bytes;                           /* retransmitted */
} sfu_downtrack;

/* RFC 6464 audio levels of a source's packets, summed between two reads. A packet's
 * loudness is 127 - level (0 is silence, 127 is 0 dBov) when its V bit says voice, else 0. */
typedef struct sfu_audio_levels {
    uint32_t loudness_sum;
    uint32_t packets; /* that carried a level */
} sfu_audio_levels;

/* sfu_keyframe_fn - ask the source of track t for a keyframe of one encoding (0 without
 * simulcast). */
typedef void (*sfu_keyframe_fn)(void *ctx, const struct sfu_track *t, uint8_t encoding);

/* Copies of the track elsewhere (other workers' mirrors), which fan out themselves: they get
 * each source packet as received (pkt->buf, pkt->len) with its encoding, and the source's
 * sender reports. */
typedef struct sfu_relay {
    void (*packet)(void *ctx, const struct sfu_track *t, const rtp_pkt *pkt, uint8_t encoding,
                   uint64_t now_us);
    void (*sender_report)(void *ctx, const struct sfu_track *t, uint8_t encoding, uint32_t ssrc,
                          uint32_t rtp_ts, uint64_t now_us);
} sfu_relay;

/* One encoding as the track sees it. */
typedef struct sfu_encoding {
    uint32_t ssrc;         /* of its last packet */
    uint64_t packets, bytes;
    uint16_t width, height; /* from its last keyframe that told (VP8); 0: unknown */
    uint8_t spatial;       /* its spatial layer: its rank by resolution, else its index */
    rtp_rtx_buffer *rtx;   /* owned; video, from the first downtrack on */
    uint64_t keyframe_sent_us;
    bool keyframe_pending;
    struct {
        bool valid;
        uint32_t ssrc;       /* the source stream it describes */
        uint32_t rtp_ts;     /* its RTP timestamp ... */
        uint64_t arrival_us; /* ... at this time of ours */
    } sender_report;         /* the encoding's last */
} sfu_encoding;

typedef struct sfu_track {
    char id[SFU_TRACK_ID_LEN];
    sfu_kind kind;
    bool has_source;
    bool muted;
    sfu_source source;
    codec_kind source_codec[128]; /* source PT -> codec, for keyframe detection */
    sfu_keyframe_fn request_keyframe;
    void *source_ctx; /* borrowed: the publisher's connection */
    const sfu_relay *relay; /* NULL unless copies elsewhere want the source's packets */
    void *relay_ctx;
    sfu_downtrack **downs; /* owned array of borrowed downtracks */
    size_t n_downs, cap_downs;
    uint8_t encoding_count; /* 1..SFU_MAX_ENCODINGS */
    sfu_encoding enc[SFU_MAX_ENCODINGS];
    /* Video layers: simulcast (one encoding per spatial layer) or SVC (VP9, AV1 with the
     * Dependency Descriptor: layers inside one stream). */
    sfu_layers_mode layers_mode;
    /* AV1 whose layers only its Dependency Descriptor tells: the descriptor goes to the
     * subscribers that negotiated it (others get the base layer); for other codecs it is not
     * carried (after a simulcast switch its frame numbers would contradict the stream). A
     * packet whose descriptor tells no layer (its structure was lost with a keyframe) goes to
     * no subscriber, and a keyframe is asked for. */
    bool layers_from_dd;
    sfu_layer_meter meter;
    dd_structure dd;        /* the Dependency Descriptor structure in force */
    vp9_ss vp9_ss;          /* scratch for VP9 scalability structures */
    uint64_t packets_in, bytes_in;
    sfu_audio_levels levels; /* since the last sfu_track_take_levels */
} sfu_track;

/* sfu_track_new - a track without source or downtracks; NULL when out of memory. */
sfu_track *sfu_track_new(const char *id, sfu_kind kind);
/* sfu_track_free - detaches the downtracks still attached (they stay valid). */
void sfu_track_free(sfu_track *t);
/* sfu_track_is_unused - no source and no downtrack: the owner may free it. */
bool sfu_track_is_unused(const sfu_track *t);

/* sfu_track_attach_source - the source's negotiated media and how to ask it for a
 * keyframe. Downtracks resynchronise (continuous numbering) and wait for a keyframe. */
void sfu_track_attach_source(sfu_track *t, const sfu_source *src, sfu_keyframe_fn request_keyframe,
                             void *source_ctx, uint64_t now_us);
void sfu_track_detach_source(sfu_track *t);

/* sfu_track_set_muted - a muted track forwards nothing; on unmute every video downtrack
 * waits for a keyframe, which is requested. */
void sfu_track_set_muted(sfu_track *t, bool muted, uint64_t now_us);

/* sfu_source_from_neg - a source description from the publisher's negotiated m= section. */
void sfu_source_from_neg(sfu_source *src, const sdp_neg_media *m);

/* sfu_downtrack_init - a downtrack from the subscriber's negotiated m= section, sent with
 * SSRC ssrc; rtx_ssrc is its RTX stream when the subscriber negotiated RTX, else 0. */
void sfu_downtrack_init(sfu_downtrack *d, const sdp_neg_media *m, uint32_t ssrc, uint32_t rtx_ssrc,
                        sfu_send_fn send, void *send_ctx);

/* sfu_track_add_downtrack - J_OK, or J_ENOMEM. The downtrack must not be attached. The
 * first downtrack of a video track allocates its retransmission buffer. */
int sfu_track_add_downtrack(sfu_track *t, sfu_downtrack *d, uint64_t now_us);
/* sfu_downtrack_lacks_codec - d is attached to a track whose source sends no codec d's
 * subscriber negotiated: it can receive nothing of it (its owner should say so). */
bool sfu_downtrack_lacks_codec(const sfu_downtrack *d);

/* sfu_downtrack_detach - detach d from its track, if attached. */
void sfu_downtrack_detach(sfu_downtrack *d);

/* sfu_track_take_levels - the audio levels summed since the last call; starts a new sum.
 * Unread sums stop growing (nothing wraps) after about a week of packets. */
sfu_audio_levels sfu_track_take_levels(sfu_track *t);

/* sfu_track_set_relay - every packet forwarded (unless muted) also goes to relay once, and
 * every sender report of the source; NULL stops it. */
void sfu_track_set_relay(sfu_track *t, const sfu_relay *relay, void *ctx);

/* sfu_track_forward - fan one parsed (decrypted) source packet of encoding `encoding` (0
 * without simulcast) out to every downtrack that is not paused - video as its layer selector
 * decides, with sequence numbers, timestamps and VP8 picture ids kept continuous across
 * switches and dropped layers - keep a copy to answer NACKs (video), and hand it to the relay
 * if one is set. Encodings beyond the source's are ignored. */
void sfu_track_forward(sfu_track *t, const rtp_pkt *pkt, uint8_t encoding, uint64_t now_us);

/* sfu_downtrack_retransmit - answer a subscriber's NACK for out_seq (its numbering): the
 * source packet it was mapped from, if the buffer still has it, rebuilt as it was forwarded
 * and sent as RTX when the downtrack has an RTX stream for that codec (else as the original
 * packet). J_OK when sent; J_ENOTFOUND when the packet is not in the buffer, or was not
 * forwarded by the downtrack's current mapping (before a resync, a pause, its first
 * keyframe); J_ELIMIT when retransmissions used up their share (SFU_RTX_CREDIT_MAX). */
int sfu_downtrack_retransmit(sfu_downtrack *d, uint16_t out_seq, uint64_t now_us);

/* sfu_track_on_sender_report - the sender report of the source stream ssrc (encoding
 * `encoding`) arrived at now_us with RTP timestamp rtp_ts. */
void sfu_track_on_sender_report(sfu_track *t, uint8_t encoding, uint32_t ssrc, uint32_t rtp_ts,
                                uint64_t now_us);

/* sfu_downtrack_rtp_now - the RTP timestamp at now_us in d's timeline, what a sender report
 * pairs with the NTP time of now_us. Derived from the source's last sender report when it is
 * about the stream d maps now (so all tracks of one publisher share its clock: lip sync
 * holds), else extrapolated from the last packet forwarded. J_ENOTFOUND before d forwarded
 * anything. */
int sfu_downtrack_rtp_now(const sfu_downtrack *d, uint64_t now_us, uint32_t *rtp_ts);

/* sfu_downtrack_set_paused - set or clear one SFU_PAUSE_* reason. While any is set, d is
 * skipped by the fan-out but stays attached, so resuming is immediate: when the last reason
 * clears, numbering continues without a gap and video waits for a keyframe, which is
 * requested at once. */
void sfu_downtrack_set_paused(sfu_downtrack *d, uint8_t reason, bool paused, uint64_t now_us);

/* sfu_track_request_keyframe - ask the source for a keyframe of an encoding, at most once
 * per SFU_KEYFRAME_INTERVAL_US per encoding; a request inside that window is sent when it
 * ends. */
void sfu_track_request_keyframe(sfu_track *t, uint8_t encoding, uint64_t now_us);

/* sfu_downtrack_request_keyframe - a subscriber asked for a keyframe (PLI/FIR): of the
 * encoding its downtrack forwards or waits for. */
void sfu_downtrack_request_keyframe(sfu_downtrack *d, uint64_t now_us);

/* sfu_downtrack_set_layer_prefs - the subscriber's wishes for a video downtrack: tile size
 * in device pixels (0: unknown), visibility, preferred maximum layers (SFU_LAYER_ANY: none).
 * Applied at the next sfu_track_handle_timeout. */
void sfu_downtrack_set_layer_prefs(sfu_downtrack *d, uint16_t width, uint16_t height,
                                   bool visible, uint8_t max_spatial, uint8_t max_temporal);

/* sfu_downtrack_layer_wants - what d's layer policy works from (and what sharing bandwidth
 * among a subscriber's tracks must count with): its subscriber's settings and budget, audio
 * only while its subscriber holds it back, and at most the base spatial layer of an AV1 track
 * layered by the Dependency Descriptor when d did not negotiate the descriptor. A receiver
 * without it cannot take a picture's spatial layers apart (libwebrtc then decodes nothing),
 * but the base layer's temporal layers decode as one stream. */
sfu_layers_sub sfu_downtrack_layer_wants(const sfu_downtrack *d);

/* sfu_downtrack_set_budget - the bandwidth share of a video downtrack (0: no estimate). A
 * drop below what it receives applies at the next timeout; a rise waits for the policy's
 * hold time. */
void sfu_downtrack_set_budget(sfu_downtrack *d, uint64_t budget_bps);

/* sfu_track_handle_timeout - the layer policy of each video downtrack (when an input
 * changed, else every SFU_LAYERS_UPDATE_US), deferred keyframe requests and retries for
 * downtracks still waiting for one. Call every few tens of milliseconds. */
void sfu_track_handle_timeout(sfu_track *t, uint64_t now_us);

/* sfu_track_layers - what the track's publisher sends, as measured (for the stats API and a
 * subscriber's bandwidth sharing). */
void sfu_track_layers(sfu_track *t, uint64_t now_us, sfu_layers_source *out);

/* sfu_kind_from_sdp - SFU_AUDIO / SFU_VIDEO for an SDP media kind, -1 otherwise. */
int sfu_kind_from_sdp(sdp_kind k);
const char *sfu_kind_name(sfu_kind k);

#endif
