/* rtp.h - RTP packets (RFC 3550 §5.1), header extensions (RFC 8285) and the
 * RFC 7983 first-byte demultiplexer for a shared ICE/DTLS/SRTP socket.
 *
 * Parsing fills a caller-owned view whose pointers point into the caller's
 * buffer; nothing is allocated and nothing is copied. Writing builds a fresh
 * header (new SSRC/seq/timestamp/PT and a new extension block) in front of a
 * payload the caller copies after it, which is how the SFU rewrites each
 * forwarded packet for its subscriber.
 */
#ifndef J_RTP_RTP_H
#define J_RTP_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_VERSION 2
#define RTP_HEADER_MIN 12     /* fixed header, no CSRCs, no extension */
#define RTP_MAX_CSRC 15       /* the CC field is 4 bits */
#define RTP_EXT_HEADER_LEN 4  /* "defined by profile" + length */

/* Extension block profile values (RFC 8285 §4.2 and §4.3). The two-byte form
 * is 0x100 followed by 4 "appbits" the application may use: 0x1000..0x100F. */
#define RTP_EXT_PROFILE_ONE_BYTE 0xBEDE
#define RTP_EXT_PROFILE_TWO_BYTE 0x1000
#define RTP_EXT_PROFILE_TWO_BYTE_MASK 0xFFF0

/* Element limits of each form. */
#define RTP_EXT_ONE_BYTE_MAX_ID 14   /* 15 is reserved: stops parsing */
#define RTP_EXT_ONE_BYTE_MAX_LEN 16
#define RTP_EXT_TWO_BYTE_MAX_ID 255
#define RTP_EXT_TWO_BYTE_MAX_LEN 255

typedef enum {
    RTP_EXT_NONE = 0,  /* X bit clear */
    RTP_EXT_ONE_BYTE,  /* profile 0xBEDE */
    RTP_EXT_TWO_BYTE,  /* profile 0x100X */
    RTP_EXT_OTHER,     /* any other profile: kept raw, not iterated */
} rtp_ext_form;

/* A parsed RTP packet: a view into the caller's buffer. */
typedef struct {
    const uint8_t *buf;       /* the whole packet as given to rtp_parse */
    size_t len;
    bool marker;
    bool has_padding;         /* P bit */
    bool has_ext;             /* X bit */
    uint8_t payload_type;     /* 0..127 */
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint8_t csrc_count;       /* 0..15 */
    const uint8_t *csrcs;     /* csrc_count big-endian 32-bit words; read with rtp_csrc() */
    uint16_t ext_profile;     /* "defined by profile" field; 0 when !has_ext */
    rtp_ext_form ext_form;
    const uint8_t *ext;       /* extension data after its 4-byte header; NULL when !has_ext */
    size_t ext_len;           /* bytes of extension data (4 * the length field) */
    size_t header_len;        /* fixed header + CSRCs + extension block */
    const uint8_t *payload;   /* after the header, padding excluded */
    size_t payload_len;
    uint8_t padding_len;      /* 0 when !has_padding, else 1..255 including the count byte */
} rtp_pkt;

/* One header extension element, as read by the iterator or given to the writer. */
typedef struct {
    uint8_t id;               /* one-byte form 1..14, two-byte form 1..255 */
    const uint8_t *data;
    size_t len;               /* one-byte form 1..16, two-byte form 0..255 */
} rtp_ext_elem;

/* Iterator over the elements of a one-byte or two-byte extension block. */
typedef struct {
    const uint8_t *pos;
    const uint8_t *end;       /* end of the extension block, not of the packet */
    rtp_ext_form form;
} rtp_ext_iter;

/* rtp_parse - parse the RTP packet buf[0..len) into *out.
 *
 * Checks version 2, that the CSRC list and the extension block lie within the
 * buffer, and that a padding count (P bit) is non-zero and no larger than what
 * follows the header. Extension elements are not validated here; the iterator
 * bounds each one by the extension block. *out is valid only on success and
 * points into buf. Returns 0, J_ESHORT (truncated) or J_EMALFORMED.
 */
int rtp_parse(rtp_pkt *out, const uint8_t *buf, size_t len);

/* rtp_csrc - the i-th CSRC of a parsed packet; i must be < p->csrc_count. */
uint32_t rtp_csrc(const rtp_pkt *p, size_t i);

/* rtp_ext_iter_init - start iterating over p's extension elements. Packets
 * without an extension, or with a profile other than the RFC 8285 forms,
 * yield no element. */
void rtp_ext_iter_init(rtp_ext_iter *it, const rtp_pkt *p);

/* rtp_ext_iter_next - the next element into *out, skipping padding bytes.
 *
 * Returns 1 when an element was produced, 0 at the end of the block (also on
 * a one-byte ID 15, which ends parsing per RFC 8285 §4.2), or J_EMALFORMED
 * when an element runs past the extension block; after an error the iterator
 * is exhausted and returns 0. out->data points into the packet.
 */
int rtp_ext_iter_next(rtp_ext_iter *it, rtp_ext_elem *out);

/* rtp_ext_find - the first element with the given id. Returns 0 and sets
 * data and len, J_ENOTFOUND when absent, or J_EMALFORMED when the block is
 * malformed before an element with that id is reached. */
int rtp_ext_find(const rtp_pkt *p, uint8_t id, const uint8_t **data, size_t *len);

/* Header fields for rtp_write_header. */
typedef struct {
    bool marker;
    bool padding;             /* sets P; the caller appends the padding, count byte last */
    uint8_t payload_type;     /* 0..127 */
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    const uint32_t *csrcs;    /* may be NULL when csrc_count is 0 */
    uint8_t csrc_count;       /* 0..15 */
} rtp_header_out;

/* rtp_write_header - write a fresh RTP header into buf[0..cap).
 *
 * Writes the fixed header, the CSRCs and, when n_exts > 0, an extension block
 * holding exts in order, zero-padded to a 32-bit boundary. The one-byte form
 * is chosen when every id is 1..14 and every length 1..16, otherwise the
 * two-byte form (ids 1..255, lengths 0..255). The payload goes right after the
 * returned length. Extension data must not overlap buf. Returns the header length, J_EINVAL (bad PT, CSRC count,
 * extension id or length) or J_ESHORTBUF.
 */
int rtp_write_header(const rtp_header_out *h, const rtp_ext_elem *exts, size_t n_exts,
                     uint8_t *buf, size_t cap);

/* rtp_write_packet - rtp_write_header followed by a copy of payload[0..
 * payload_len). The extension data and payload must not overlap buf (they
 * normally point into the received packet). Returns the packet length,
 * J_EINVAL or J_ESHORTBUF. */
int rtp_write_packet(const rtp_header_out *h, const rtp_ext_elem *exts, size_t n_exts,
                     const uint8_t *payload, size_t payload_len, uint8_t *buf, size_t cap);

/* RTX (RFC 4588 §4): a retransmission travels on a stream of its own (SSRC, payload type,
 * sequence numbers) and carries the original sequence number (OSN) in front of the original
 * payload; the timestamp, marker and header extensions are the original's. */

/* rtp_rtx_wrap - write the RTX packet for an original: header h (the RTX stream's SSRC,
 * payload type and sequence number, the original's timestamp and marker) with exts, then
 * osn, then a copy of payload[0..payload_len). Returns the packet length, J_EINVAL or
 * J_ESHORTBUF. */
int rtp_rtx_wrap(const rtp_header_out *h, const rtp_ext_elem *exts, size_t n_exts, uint16_t osn,
                 const uint8_t *payload, size_t payload_len, uint8_t *buf, size_t cap);

/* rtp_rtx_unwrap - turn the RTX packet pkt, parsed from buf, back into the original in
 * place: payload type apt (marker kept), sequence number OSN, SSRC media_ssrc, the OSN
 * removed and any padding dropped; header extensions stay. pkt is parsed again to describe
 * the result. Returns 0; J_EMALFORMED, buf untouched, when the payload is too short to hold
 * an OSN (a padding-only packet, as senders use to probe bandwidth); J_EINVAL when pkt was
 * not parsed from buf or apt > 127. */
int rtp_rtx_unwrap(uint8_t *buf, rtp_pkt *pkt, uint8_t apt, uint32_t media_ssrc);

/* In-place rewrites of a packet already accepted by rtp_parse (buf is its
 * start, len its length). They touch only the named field and return 0, or
 * J_ESHORT when len < RTP_HEADER_MIN; rtp_set_payload_type keeps the marker
 * bit and returns J_EINVAL for pt > 127. */
int rtp_set_seq(uint8_t *buf, size_t len, uint16_t seq);
int rtp_set_timestamp(uint8_t *buf, size_t len, uint32_t ts);
int rtp_set_ssrc(uint8_t *buf, size_t len, uint32_t ssrc);
int rtp_set_payload_type(uint8_t *buf, size_t len, uint8_t pt);
int rtp_set_marker(uint8_t *buf, size_t len, bool marker);

/* Wraparound arithmetic (RFC 3550 §A.1 style). rtp_seq_diff(a, b) is the
 * signed distance a - b taken the short way round the 16-bit circle, in
 * -32768..32767; rtp_seq_newer(a, b) is true when a is strictly after b.
 * The timestamp versions do the same on the 32-bit circle. At exactly half
 * the circle apart the distance is the negative extreme, so neither value is
 * newer than the other. */
int32_t rtp_seq_diff(uint16_t a, uint16_t b);
bool rtp_seq_newer(uint16_t a, uint16_t b);
int32_t rtp_ts_diff(uint32_t a, uint32_t b);
bool rtp_ts_newer(uint32_t a, uint32_t b);

/* What a datagram on the shared media socket carries (RFC 7983 §7). */
typedef enum {
    J_PACKET_UNKNOWN = 0,  /* empty, ZRTP, TURN channel data, QUIC, or garbage */
    J_PACKET_STUN,         /* first byte 0..3 */
    J_PACKET_DTLS,         /* first byte 20..63 */
    J_PACKET_RTP,          /* first byte 128..191, not RTCP */
    J_PACKET_RTCP,         /* first byte 128..191, second byte & 0x7f in 64..95 */
} j_packet_kind;

/* j_demux - classify a datagram by its first bytes (RFC 7983 §7, RFC 5764
 * §5.1.2). RTP and RTCP are told apart per RFC 5761 §4: RTCP packet types
 * 192..223 appear as a second byte whose low 7 bits are 64..95, payload types
 * RTP must therefore not use when multiplexed. RTP/RTCP need at least 2 bytes.
 * This only routes the datagram; the chosen parser validates it. */
j_packet_kind j_demux(const uint8_t *buf, size_t len);

/* j_packet_kind_name - "stun", "dtls", "rtp", "rtcp" or "unknown". */
const char *j_packet_kind_name(j_packet_kind kind);

#endif
