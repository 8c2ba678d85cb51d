/* stream.h - a published stream and its fan-out to subscribers.
 *
 * A stream has at most one publisher (the source: one audio and one video
 * track) and any number of subscribers. Each RTP packet of the source is
 * forwarded once per subscriber with that subscriber's own SSRC, payload type,
 * header extension ids and continuous sequence numbers and timestamps; the
 * payload is copied untouched (end-to-end encryption keeps working).
 * Subscribers may exist before the publisher and survive its reconnection.
 * Video to a subscriber starts at a keyframe; keyframe requests to the
 * publisher are throttled. Sans-I/O: output goes through callbacks.
 */
#ifndef J_SFU_STREAM_H
#define J_SFU_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "rtp/rtp.h"
#include "sdp/sdp.h"
#include "sfu/seqmap.h"

typedef enum { SFU_AUDIO = 0, SFU_VIDEO = 1, SFU_KINDS = 2 } sfu_kind;

#define SFU_STREAM_NAME_LEN 65
#define SFU_NO_PT 0xFF
/* Minimum spacing of keyframe requests sent to one publisher. */
#define SFU_KEYFRAME_INTERVAL_US 300000u
/* A subscriber still waiting for a keyframe asks again after this long. */
#define SFU_KEYFRAME_RETRY_US 1000000u

/* Header extensions the SFU carries from publisher to subscriber, besides MID. */
typedef enum { SFU_EXT_AUDIO_LEVEL = 0, SFU_EXT_VIDEO_ORIENTATION, SFU_EXT_COUNT } sfu_ext;

/* What the publisher negotiated for one kind. */
typedef struct sfu_source_track {
    bool active;
    uint8_t codec_count;
    sdp_codec codecs[SDP_MAX_NEG_CODECS];
    uint8_t ext_id[SFU_EXT_COUNT]; /* publisher's ids, 0 = not negotiated */
} sfu_source_track;

/* One subscriber's outgoing track of one kind. Owned by the subscriber. */
typedef struct sfu_out_track {
    bool active; /* negotiated for this subscriber */
    uint32_t ssrc;
    uint8_t codec_count;
    sdp_codec codecs[SDP_MAX_NEG_CODECS]; /* subscriber's codecs, its payload types */
    uint8_t mid_ext_id;                   /* 0 = MID extension not negotiated */
    char mid[SDP_MID_LEN];
    uint8_t ext_id[SFU_EXT_COUNT]; /* subscriber's ids, 0 = not negotiated */
    uint8_t pt_map[128];           /* publisher PT -> subscriber PT (SFU_NO_PT: none) */
    sfu_seqmap seq;
    bool waiting_keyframe;
    uint64_t keyframe_asked_us;
    uint64_t packets, bytes, dropped_no_codec;
} sfu_out_track;

/* sfu_send_fn - deliver a built RTP packet (buf has room up to cap for the SRTP tag). */
typedef void (*sfu_send_fn)(void *ctx, uint8_t *buf, size_t len, size_t cap);

typedef struct sfu_subscriber {
    sfu_out_track tracks[SFU_KINDS];
    sfu_send_fn send;
    void *send_ctx;        /* borrowed: the subscriber's peer */
    struct sfu_stream *stream; /* borrowed: set while attached */
} sfu_subscriber;

typedef void (*sfu_keyframe_fn)(void *ctx);

typedef struct sfu_stream {
    char name[SFU_STREAM_NAME_LEN];
    bool has_publisher;
    sfu_source_track source[SFU_KINDS];
    codec_kind source_codec[128]; /* publisher PT -> codec, for keyframe detection */
    sfu_keyframe_fn request_keyframe;
    void *publisher_ctx; /* borrowed: the publisher's peer */
    uint64_t keyframe_sent_us;
    bool keyframe_pending;
    sfu_subscriber **subs; /* owned array of borrowed subscribers */
    size_t n_subs, cap_subs;
    uint64_t packets_in, bytes_in;
} sfu_stream;

/* sfu_stream_new - an empty stream (no publisher, no subscribers); NULL when out of memory. */
sfu_stream *sfu_stream_new(const char *name);
void sfu_stream_free(sfu_stream *s);
bool sfu_stream_is_empty(const sfu_stream *s);

/* sfu_stream_attach_publisher - the source's tracks and how to ask it for a keyframe.
 * Subscribers resynchronise (continuous numbering) and wait for a keyframe. */
void sfu_stream_attach_publisher(sfu_stream *s, const sfu_source_track src[SFU_KINDS],
                                 sfu_keyframe_fn request_keyframe, void *publisher_ctx,
                                 uint64_t now_us);
void sfu_stream_detach_publisher(sfu_stream *s);

/* sfu_subscriber_init - set up a subscriber's tracks from its negotiated media. */
void sfu_subscriber_init(sfu_subscriber *sub, sfu_send_fn send, void *send_ctx);
/* sfu_out_track_init - one kind's track from the subscriber's negotiated m= section. */
void sfu_out_track_init(sfu_out_track *t, const sdp_neg_media *m, uint32_t ssrc);

/* sfu_stream_add_subscriber - J_OK, or J_ENOMEM. */
int sfu_stream_add_subscriber(sfu_stream *s, sfu_subscriber *sub, uint64_t now_us);
void sfu_stream_remove_subscriber(sfu_stream *s, sfu_subscriber *sub);

/* sfu_stream_forward - fan one parsed (decrypted) publisher packet out to every subscriber. */
void sfu_stream_forward(sfu_stream *s, sfu_kind kind, const rtp_pkt *pkt, uint64_t now_us);

/* sfu_stream_request_keyframe - ask the publisher for a keyframe, at most once per
 * SFU_KEYFRAME_INTERVAL_US; a request inside that window is sent when it ends. */
void sfu_stream_request_keyframe(sfu_stream *s, uint64_t now_us);

/* sfu_stream_handle_timeout - deferred keyframe requests and retries for subscribers
 * still waiting for one. Call every few tens of milliseconds. */
void sfu_stream_handle_timeout(sfu_stream *s, uint64_t now_us);

/* sfu_kind_from_sdp - SFU_AUDIO / SFU_VIDEO for an SDP media kind, -1 otherwise. */
int sfu_kind_from_sdp(sdp_kind k);

#endif
