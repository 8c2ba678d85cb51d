/* load.h - the sans-I/O parts of junction-load, the load generator: Junction's own WebRTC
 * code in the client role.
 *
 *   media    IVF (VP8) and Ogg Opus readers over a file in memory, the Opus packet
 *            duration, and the RFC 7741 VP8 packetizer: what publishers send.
 *   stats    what subscribers measure per received stream: sequence gaps (loss), and the
 *            one-way latency of each packet and of each frame, matched to their send times
 *            through the publisher's log (same process, same clock); latency histograms.
 *   peer     one client connection: ICE client, DTLS (either role), SRTP both ways.
 *
 * The program around them (src/load/main.c and friends) owns the sockets, threads and
 * signaling. Nothing here allocates on the per-packet path.
 */
#ifndef J_LOAD_LOAD_H
#define J_LOAD_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "dtls/dtls.h"
#include "ice/ice.h"
#include "net/net.h"
#include "rtp/rtp.h"
#include "srtp/srtp.h"

/* ---- media files -------------------------------------------------------------------- */

/* A reader over an IVF file in memory (views into buf, which must outlive it). */
typedef struct ivf_reader {
    const uint8_t *buf;
    size_t len, off;
    char fourcc[4];                    /* "VP80" for VP8 */
    uint16_t width, height;
    uint32_t timebase_num, timebase_den; /* a pts unit is num/den seconds */
} ivf_reader;

/* ivf_reader_init - check the 32-byte file header. J_OK, J_ESHORT or J_EMALFORMED (bad
 * signature, version, header length or a zero timebase). */
int ivf_reader_init(ivf_reader *r, const uint8_t *buf, size_t len);
/* ivf_reader_next - the next frame (a view into the file) and its pts. Returns 1, 0 at
 * the end of the file, J_ESHORT (a frame cut short) or J_EMALFORMED (an empty frame). */
int ivf_reader_next(ivf_reader *r, const uint8_t **frame, size_t *frame_len, uint64_t *pts);

/* A reader over the packets of a single-stream Ogg file in memory. */
typedef struct ogg_reader {
    const uint8_t *buf;
    size_t len, off;         /* off: the next page */
    const uint8_t *page;     /* the current page */
    size_t seg_count, seg_index, seg_data;
    bool page_continued;
    uint64_t granule;
} ogg_reader;

/* ogg_reader_init - open the first page. J_OK, J_ESHORT or J_EMALFORMED. */
int ogg_reader_init(ogg_reader *r, const uint8_t *buf, size_t len);
/* ogg_reader_next - copy the next packet (which may span pages) into out (cap bytes).
 * *granule is the granule position of the page the packet ends on. Returns 1, 0 at the end,
 * J_ESHORT (truncated page or packet), J_EMALFORMED (bad page, or a continuation flag that
 * does not match), J_ESHORTBUF. */
int ogg_reader_next(ogg_reader *r, uint8_t *out, size_t cap, size_t *out_len, uint64_t *granule);

/* opus_packet_samples - the duration of an Opus packet at 48 kHz from its TOC byte (RFC
 * 6716 §3.1). J_ESHORT, or J_EMALFORMED (code 3 with no frames, or over 120 ms). */
int opus_packet_samples(const uint8_t *pkt, size_t len);

/* Splits one VP8 frame into RTP payloads (RFC 7741): a 4-byte descriptor (X, S on the
 * first packet, PID 0, a 15-bit PictureID) and equal-sized chunks of the frame. */
typedef struct vp8_packetizer {
    const uint8_t *frame;
    size_t len, off;
    uint16_t picture_id;
    size_t max_payload;
} vp8_packetizer;

void vp8_packetizer_init(vp8_packetizer *p, const uint8_t *frame, size_t len,
                         uint16_t picture_id, size_t max_payload);
/* vp8_packetizer_next - the next payload into out (at most min(cap, max_payload) bytes);
 * *last is set on the frame's last one (the RTP marker). Returns its length, 0 when the
 * frame is done, J_ESHORTBUF when not even one frame byte fits. */
int vp8_packetizer_next(vp8_packetizer *p, uint8_t *out, size_t cap, bool *last);

/* ---- latency and loss ---------------------------------------------------------------- */

/* The publisher's record of one stream's recent frames and packets. A frame: RTP
 * timestamp -> fingerprint and sequence number of its first packet, and when its last packet
 * (so far) was sent; a slot is chosen by timestamp / step, so a stream whose timestamps
 * advance by whole steps fills the ring without collisions. A packet: sequence number ->
 * when it was sent. Written by a publisher, read by subscribers of the same thread. */
#define LOAD_FRAME_LOG_SIZE 512
#define LOAD_PACKET_LOG_SIZE 4096 /* a power of two; seconds of packets at any test rate */
typedef struct load_frame_slot {
    bool used;
    uint32_t ts;
    uint16_t first_seq;
    uint64_t fingerprint;
    uint64_t sent_us;
} load_frame_slot;

typedef struct load_packet_slot {
    bool used;
    uint16_t seq;
    uint64_t sent_us;
} load_packet_slot;

typedef struct load_frame_log {
    uint32_t step; /* nominal timestamp increment per frame, > 0 */
    load_frame_slot slots[LOAD_FRAME_LOG_SIZE];
    load_packet_slot packets[LOAD_PACKET_LOG_SIZE];
} load_frame_log;

/* load_fingerprint - a 64-bit digest (FNV-1a) of a payload's length and first 32 bytes: the
 * forwarded payload is untouched, while the server rewrites RTP timestamps. */
uint64_t load_fingerprint(const uint8_t *payload, size_t len);
void load_frame_log_init(load_frame_log *log, uint32_t step);
/* load_frame_log_put - log frame ts when its first packet goes out, and again (same ts,
 * fingerprint and first_seq) with each later packet's send time. */
void load_frame_log_put(load_frame_log *log, uint32_t ts, uint64_t fingerprint,
                        uint16_t first_seq, uint64_t sent_us);
/* load_frame_log_get - the slot of the frame with timestamp ts, NULL if not (or no longer)
 * logged. */
const load_frame_slot *load_frame_log_get(const load_frame_log *log, uint32_t ts);
/* load_packet_log_put / load_packet_log_sent - a packet's send time; 0 when seq is not (or
 * no longer) logged. */
void load_packet_log_put(load_frame_log *log, uint16_t seq, uint64_t sent_us);
uint64_t load_packet_log_sent(const load_frame_log *log, uint16_t seq);

/* One received RTP stream (a subscriber's m= section). */
typedef struct load_rx_stream {
    bool frame_per_packet; /* audio: every packet is a frame; video: the marker ends one */
    const load_frame_log *source; /* the publisher's log, NULL when not measurable */

    /* RFC 3550 §A.1-style extended sequence numbers. */
    bool started;
    uint16_t max_seq;
    uint32_t cycles;   /* wraps of max_seq, times 65536 */
    uint32_t base_seq; /* first extended sequence number */
    uint64_t received, bytes;

    /* Latency: the server maps the publisher's timestamps to ts + ts_offset and its sequence
     * numbers to seq + seq_offset. */
    bool locked;
    uint32_t ts_offset;
    uint16_t seq_offset;
    bool in_frame;
    uint32_t frame_ts;
    bool frame_matched;  /* the frame's first packet matched the log */
    uint64_t frames, frames_measured, packets_measured, relocks;
} load_rx_stream;

void load_rx_init(load_rx_stream *s, bool frame_per_packet, const load_frame_log *source);
/* load_rx_packet - account one received RTP packet that arrived at now_us. Once the stream
 * is matched to the publisher's log: add the packet's latency (now_us - its send time) to
 * packet_latency, and when it ends a frame, the frame's (now_us - the send time of the
 * frame's last packet) to frame_latency. payload is NULL for a packet that was not
 * decrypted (the header of SRTP is in the clear): it counts for loss, and for latency once
 * the stream is locked to the log (no fingerprint check). */
void load_rx_packet(load_rx_stream *s, uint16_t seq, uint32_t ts, bool marker,
                    const uint8_t *payload, size_t payload_len, uint64_t now_us,
                    j_hist *frame_latency, j_hist *packet_latency);
/* load_rx_expected / load_rx_lost - packets between the first and highest sequence number
 * seen, and how many of them never arrived (negative with duplicates). */
uint64_t load_rx_expected(const load_rx_stream *s);
int64_t load_rx_lost(const load_rx_stream *s);

/* ---- a client connection -------------------------------------------------------------- */

typedef enum {
    LOAD_PEER_ICE = 0,   /* checking and nominating the pair */
    LOAD_PEER_DTLS,      /* pair selected, handshake running */
    LOAD_PEER_CONNECTED, /* SRTP keys in place */
    LOAD_PEER_FAILED,    /* terminal: see fail_reason */
} load_peer_state;

typedef struct load_peer_params {
    dtls_ctx *dtls;                  /* shared, borrowed */
    const char *local_ufrag, *local_pwd;
    const char *remote_ufrag, *remote_pwd;
    const char *remote_fingerprint;  /* "sha-256 AB:..." from the server's SDP */
    bool ice_controlling;            /* RFC 8445 §6.1.1: we offered, or the server is lite */
    dtls_role dtls_role;             /* CLIENT when our SDP said active or actpass->active */
    uint64_t tiebreaker;
    /* Datagrams for the server (STUN, DTLS); the caller owns the address. */
    void (*send)(void *ctx, const uint8_t *buf, size_t len);
    void *send_ctx;
} load_peer_params;

typedef struct load_peer {
    load_peer_state state;
    const char *fail_reason;         /* static text once FAILED */
    ice_client ice;
    dtls_role dtls_role;
    dtls_conn *dtls;                 /* owned */
    j_srtp *srtp_in, *srtp_out;      /* owned, once CONNECTED */
    j_srtp_profile profile;
    void (*send)(void *ctx, const uint8_t *buf, size_t len);
    void *send_ctx;
    uint64_t srtp_errors, stun_errors;
} load_peer;

/* load_peer_start - begin connecting at now_us (the first ICE check goes out with the next
 * load_peer_handle_timeout). J_OK, J_EINVAL (credentials), J_ENOMEM/J_ECRYPTO (DTLS). */
int load_peer_start(load_peer *p, const load_peer_params *prm, uint64_t now_us);
void load_peer_free(load_peer *p);

/* load_peer_handle_datagram - one datagram from the server. STUN and DTLS are consumed
 * (answers go out through send). SRTCP, and SRTP when decrypt_rtp, is unprotected in place
 * once connected: the return value is then J_PACKET_RTP or J_PACKET_RTCP with *plain_len
 * set. Without decrypt_rtp an SRTP packet is returned as it came (*plain_len = len: the
 * header is readable, the payload is not): a receiver that only counts packets may
 * authenticate a sample of them. 0 for anything consumed or dropped (counted in
 * srtp_errors / stun_errors). */
int load_peer_handle_datagram(load_peer *p, uint64_t now_us, const j_addr *from, uint8_t *buf,
                              size_t len, bool decrypt_rtp, size_t *plain_len);
/* load_peer_handle_timeout - ICE (re)transmissions and consent, DTLS retransmission. */
void load_peer_handle_timeout(load_peer *p, uint64_t now_us);
uint64_t load_peer_poll_timeout(load_peer *p, uint64_t now_us);
/* load_peer_protect_rtp / _rtcp - SRTP-protect a packet in place (cap: its buffer size).
 * The protected length, or J_ESTATE before CONNECTED, or a j_srtp error. */
int load_peer_protect_rtp(load_peer *p, uint8_t *buf, size_t len, size_t cap);
int load_peer_protect_rtcp(load_peer *p, uint8_t *buf, size_t len, size_t cap);

#endif
