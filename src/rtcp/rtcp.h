/* rtcp.h - RTCP parsing and building (RFC 3550, RFC 4585, RFC 5104, RFC 5506,
 * draft-alvestrand-rmcat-remb, draft-holmer-rmcat-transport-wide-cc-extensions-01).
 *
 * Reading: rtcp_iter walks a compound packet and yields each packet's common
 * header and body (unknown types included, raw). The per-message parsers take
 * such a header and fill a caller-owned view that points into the input; they
 * never allocate. Lists (report blocks, NACK items, SDES chunks, TWCC statuses)
 * stay as raw wire bytes in the view and are read with the iterators/accessors
 * below, which is safe because each parser validates the whole list first.
 *
 * Writing: each message has rtcp_X_write(const rtcp_X *m, buf, cap), returning
 * the bytes written or J_ESHORTBUF, and rtcp_X_size(m) returning the exact
 * size (or J_EINVAL for input that cannot be encoded). Writers emit a single
 * packet; build a compound by writing packets back to back. For list fields a
 * message struct carries two representations: a decoded array the caller sets
 * when building (e.g. `reports`), and the raw wire bytes a parser fills (e.g.
 * `reports_raw`). Writers use the decoded array when it is non-NULL and the raw
 * bytes otherwise, so a parsed view can be written back unchanged.
 *
 * Parsers return 0 or a negative J_E* code: J_EINVAL when the header is not of
 * the parser's type, J_EMALFORMED when the body contradicts its own counts or
 * lengths, J_EUNSUPPORTED for a well-formed message we do not interpret (an
 * application-layer feedback that is not REMB).
 */
#ifndef J_RTCP_RTCP_H
#define J_RTCP_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Packet types (RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611). */
enum {
    RTCP_TYPE_SR = 200,
    RTCP_TYPE_RR = 201,
    RTCP_TYPE_SDES = 202,
    RTCP_TYPE_BYE = 203,
    RTCP_TYPE_APP = 204,
    RTCP_TYPE_RTPFB = 205,
    RTCP_TYPE_PSFB = 206,
    RTCP_TYPE_XR = 207,
};

/* Feedback message types carried in the count field (FMT). */
enum {
    RTCP_RTPFB_NACK = 1,  /* generic NACK, RFC 4585 §6.2.1 */
    RTCP_RTPFB_TWCC = 15, /* transport-wide congestion control feedback */
    RTCP_PSFB_PLI = 1,    /* picture loss indication, RFC 4585 §6.3.1 */
    RTCP_PSFB_FIR = 4,    /* full intra request, RFC 5104 §4.3.1 */
    RTCP_PSFB_ALFB = 15,  /* application layer feedback (REMB uses it) */
};

/* SDES item types (RFC 3550 §6.5). */
enum {
    RTCP_SDES_END = 0,
    RTCP_SDES_CNAME = 1,
    RTCP_SDES_NAME = 2,
    RTCP_SDES_EMAIL = 3,
    RTCP_SDES_PHONE = 4,
    RTCP_SDES_LOC = 5,
    RTCP_SDES_TOOL = 6,
    RTCP_SDES_NOTE = 7,
    RTCP_SDES_PRIV = 8,
};

#define RTCP_HEADER_LEN 4
#define RTCP_REPORT_BLOCK_LEN 24
#define RTCP_MAX_COUNT 31 /* the 5-bit RC/SC/FMT field */

/* ---------------------------------------------------------------------------
 * Common header and compound iteration
 * ------------------------------------------------------------------------- */

/* One packet of a compound. pkt/pkt_len span the whole packet as framed by its
 * length field (header and padding included); body/body_len span what follows
 * the 4-byte header with the padding removed (so body_len need not be a
 * multiple of 4 when the P bit is set). */
typedef struct {
    uint8_t version;  /* always 2 once parsed */
    bool padding;     /* P bit */
    uint8_t count;    /* RC / SC / FMT, 0..31 */
    uint8_t type;     /* packet type (PT) */
    uint16_t length;  /* length field: packet size in 32-bit words minus one */
    const uint8_t *pkt;
    size_t pkt_len;
    const uint8_t *body;
    size_t body_len;
} rtcp_header;

/* rtcp_header_parse - parse the packet at the start of buf (len bytes).
 * Checks version 2, that the length field fits in len and that the padding
 * count (P bit) fits in the body. Returns the packet size in bytes (pkt_len),
 * J_ESHORT if len < 4, J_EMALFORMED otherwise. Bytes after the packet are not
 * looked at. */
int rtcp_header_parse(rtcp_header *out, const uint8_t *buf, size_t len);

/* Iterator over a compound packet (RFC 3550 §6.1; RFC 5506 reduced-size
 * packets, i.e. any first packet type and a single packet, are accepted). */
typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t off;
    int err; /* sticky: once negative, rtcp_iter_next keeps returning it */
} rtcp_iter;

/* rtcp_iter_init - start iterating over buf (len bytes, may be 0). */
void rtcp_iter_init(rtcp_iter *it, const uint8_t *buf, size_t len);

/* rtcp_iter_next - yield the next packet into *out.
 * Returns 1 when a packet was yielded, 0 at the clean end of the compound and
 * J_EMALFORMED (sticky) when the next packet's framing is broken: bad version,
 * a length field reaching past the compound, bad padding, or 1-3 trailing
 * bytes. Packets yielded before an error remain valid. Unknown packet types
 * are yielded, not rejected. */
int rtcp_iter_next(rtcp_iter *it, rtcp_header *out);

/* rtcp_is_rtcp - true when buf looks like RTCP rather than RTP on a muxed
 * port (RFC 5761 §4: version 2 and second byte 192..223). */
bool rtcp_is_rtcp(const uint8_t *buf, size_t len);

/* ---------------------------------------------------------------------------
 * Time helpers
 * ------------------------------------------------------------------------- */

/* rtcp_ntp_from_us - 64-bit NTP timestamp (seconds since 1900 in the high 32
 * bits, binary fraction in the low 32) for a Unix time in microseconds. */
uint64_t rtcp_ntp_from_us(uint64_t unix_us);
/* rtcp_ntp_to_us - inverse of rtcp_ntp_from_us, rounded to the nearest
 * microsecond. NTP seconds below the Unix epoch are read as NTP era 1 (after
 * 2036). */
uint64_t rtcp_ntp_to_us(uint64_t ntp);
/* rtcp_ntp_compact - the middle 32 bits of an NTP timestamp (16.16 seconds),
 * as carried in LSR. */
uint32_t rtcp_ntp_compact(uint64_t ntp);
/* rtcp_compact_from_us - a duration in 1/65536 s units (DLSR), truncated to
 * 32 bits. */
uint32_t rtcp_compact_from_us(uint64_t duration_us);
/* rtcp_compact_to_us - a 16.16 compact duration in microseconds (rounded). */
uint64_t rtcp_compact_to_us(uint32_t compact);
/* rtcp_rtt_us - round-trip time from a report block (RFC 3550 §6.4.1):
 * now_compact - lsr - dlsr, modulo 2^32. Returns J_ENOTFOUND when lsr is 0 (no
 * SR received yet) and 0 when clock skew makes the result negative. */
int64_t rtcp_rtt_us(uint32_t now_compact, uint32_t lsr, uint32_t dlsr);

/* ---------------------------------------------------------------------------
 * Report blocks (shared by SR and RR), RFC 3550 §6.4.1
 * ------------------------------------------------------------------------- */

typedef struct {
    uint32_t ssrc;
    uint8_t fraction_lost;    /* fixed point, /256 */
    int32_t cumulative_lost;  /* 24-bit signed on the wire; writers clamp */
    uint32_t ext_highest_seq; /* cycles << 16 | highest sequence number */
    uint32_t jitter;          /* RTP timestamp units */
    uint32_t lsr;             /* compact NTP of the last SR received, 0 if none */
    uint32_t dlsr;            /* delay since that SR, 1/65536 s */
} rtcp_report_block;

typedef struct {
    const uint8_t *p;
    unsigned left;
} rtcp_rb_iter;

/* rtcp_rb_iter_init - iterate over count raw 24-byte report blocks at raw (as
 * left in rtcp_sr/rtcp_rr by the parsers). */
void rtcp_rb_iter_init(rtcp_rb_iter *it, const uint8_t *raw, unsigned count);
/* rtcp_rb_next - decode the next block; false when none is left. */
bool rtcp_rb_next(rtcp_rb_iter *it, rtcp_report_block *out);

/* ---------------------------------------------------------------------------
 * SR (200) and RR (201)
 * ------------------------------------------------------------------------- */

typedef struct {
    uint32_t ssrc;
    uint64_t ntp; /* NTP timestamp, see rtcp_ntp_from_us */
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
    uint8_t report_count;              /* 0..31 */
    const rtcp_report_block *reports;  /* building: report_count blocks */
    const uint8_t *reports_raw;        /* parsed: report_count * 24 bytes */
    const uint8_t *ext;                /* profile-specific extension, may be NULL */
    size_t ext_len;                    /* writers require a multiple of 4 */
} rtcp_sr;

typedef struct {
    uint32_t ssrc;
    uint8_t report_count;
    const rtcp_report_block *reports;
    const uint8_t *reports_raw;
    const uint8_t *ext;
    size_t ext_len;
} rtcp_rr;

/* rtcp_sr_parse / rtcp_rr_parse - fill the view from an SR/RR packet. The
 * report count must fit the body (J_EMALFORMED otherwise); what follows the
 * blocks is exposed as ext. */
int rtcp_sr_parse(rtcp_sr *out, const rtcp_header *h);
int rtcp_rr_parse(rtcp_rr *out, const rtcp_header *h);
/* rtcp_sr_size / rtcp_rr_size - bytes the writer will produce, J_EINVAL when
 * report_count > 31, ext_len is not a multiple of 4, or blocks are missing. */
int rtcp_sr_size(const rtcp_sr *m);
int rtcp_rr_size(const rtcp_rr *m);
/* rtcp_sr_write / rtcp_rr_write - write one packet (an RR with zero blocks is
 * the usual empty receiver report). Returns bytes written, J_ESHORTBUF or
 * J_EINVAL. */
int rtcp_sr_write(const rtcp_sr *m, uint8_t *buf, size_t cap);
int rtcp_rr_write(const rtcp_rr *m, uint8_t *buf, size_t cap);

/* ---------------------------------------------------------------------------
 * SDES (202)
 * ------------------------------------------------------------------------- */

typedef struct {
    uint8_t chunk_count;   /* SC */
    const uint8_t *chunks; /* raw chunks, validated */
    size_t chunks_len;
} rtcp_sdes;

typedef struct {
    uint32_t ssrc;
    const uint8_t *items; /* raw items up to (not including) the null terminator */
    size_t items_len;
} rtcp_sdes_chunk;

typedef struct {
    uint8_t type;
    uint8_t len;
    const uint8_t *data; /* not NUL-terminated */
} rtcp_sdes_item;

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
    unsigned left;
} rtcp_sdes_iter;

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} rtcp_sdes_item_iter;

/* rtcp_sdes_parse - validate every chunk: each item within the body, each
 * item list terminated by a null octet and padded to a 32-bit boundary. */
int rtcp_sdes_parse(rtcp_sdes *out, const rtcp_header *h);
/* rtcp_sdes_iter_init / rtcp_sdes_next_chunk - walk the chunks of a parsed
 * view; next_chunk returns false after chunk_count chunks. */
void rtcp_sdes_iter_init(rtcp_sdes_iter *it, const rtcp_sdes *m);
bool rtcp_sdes_next_chunk(rtcp_sdes_iter *it, rtcp_sdes_chunk *out);
/* rtcp_sdes_item_iter_init / rtcp_sdes_next_item - walk a chunk's items (the
 * null terminator is not yielded); unknown item types are yielded as they are. */
void rtcp_sdes_item_iter_init(rtcp_sdes_item_iter *it, const rtcp_sdes_chunk *c);
bool rtcp_sdes_next_item(rtcp_sdes_item_iter *it, rtcp_sdes_item *out);

/* Writer input: an SDES packet whose chunks each hold one CNAME item, the same
 * for every SSRC (a sender's streams share their CNAME). */
typedef struct {
    uint32_t ssrc;
    const char *cname;            /* NUL-terminated, 1..255 bytes */
    const uint32_t *more_ssrcs;   /* further chunks, may be NULL when more_count is 0 */
    uint8_t more_count;           /* 0..30: at most 31 chunks in all */
} rtcp_sdes_cname;

/* rtcp_sdes_cname_size / rtcp_sdes_cname_write - J_EINVAL for an empty or
 * over-long CNAME or too many chunks; each chunk's item list is null-terminated
 * and padded to 32 bits. */
int rtcp_sdes_cname_size(const rtcp_sdes_cname *m);
int rtcp_sdes_cname_write(const rtcp_sdes_cname *m, uint8_t *buf, size_t cap);

/* ---------------------------------------------------------------------------
 * BYE (203)
 * ------------------------------------------------------------------------- */

typedef struct {
    uint8_t ssrc_count;         /* 0..31 */
    const uint32_t *ssrcs;      /* building */
    const uint8_t *ssrcs_raw;   /* parsed: ssrc_count * 4 bytes */
    const uint8_t *reason;      /* optional, not NUL-terminated; NULL if absent */
    uint8_t reason_len;
} rtcp_bye;

/* rtcp_bye_parse - J_EMALFORMED when SC SSRCs or the reason's length byte
 * exceed the body; a zero length byte (padding) means no reason. */
int rtcp_bye_parse(rtcp_bye *out, const rtcp_header *h);
/* rtcp_bye_ssrc - the i-th SSRC (i < ssrc_count), from either representation. */
uint32_t rtcp_bye_ssrc(const rtcp_bye *m, unsigned i);
/* rtcp_bye_size / rtcp_bye_write - J_EINVAL for more than 31 SSRCs; the
 * reason is null-padded to 32 bits. */
int rtcp_bye_size(const rtcp_bye *m);
int rtcp_bye_write(const rtcp_bye *m, uint8_t *buf, size_t cap);

/* ---------------------------------------------------------------------------
 * XR (207), RFC 3611: receiver reference time and DLRR
 * ------------------------------------------------------------------------- */

enum {
    RTCP_XR_RRTR = 4, /* receiver reference time report block */
    RTCP_XR_DLRR = 5, /* delay since last receiver report block */
};

typedef struct {
    uint32_t ssrc;         /* the sender of the XR */
    const uint8_t *blocks; /* raw report blocks, validated */
    size_t blocks_len;
} rtcp_xr;

typedef struct {
    uint8_t type;          /* BT */
    uint8_t type_specific;
    const uint8_t *body;   /* the block's contents, after its 4-byte header */
    size_t body_len;
} rtcp_xr_block;

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} rtcp_xr_iter;

typedef struct {
    uint32_t ssrc; /* the receiver whose RRTR this answers */
    uint32_t lrr;  /* compact NTP of that RRTR */
    uint32_t dlrr; /* delay since it arrived, 1/65536 s */
} rtcp_xr_dlrr_item;

/* rtcp_xr_parse - J_EINVAL unless type 207; J_EMALFORMED without the sender SSRC or when a
 * block's length reaches past the packet. Unknown block types are kept. */
int rtcp_xr_parse(rtcp_xr *out, const rtcp_header *h);
/* rtcp_xr_iter_init / rtcp_xr_next_block - walk the blocks of a parsed view. */
void rtcp_xr_iter_init(rtcp_xr_iter *it, const rtcp_xr *m);
bool rtcp_xr_next_block(rtcp_xr_iter *it, rtcp_xr_block *out);
/* rtcp_xr_dlrr_count / rtcp_xr_dlrr_get - the sub-blocks of a DLRR block (0 for another
 * type; a trailing partial sub-block is ignored); i < count. */
size_t rtcp_xr_dlrr_count(const rtcp_xr_block *b);
rtcp_xr_dlrr_item rtcp_xr_dlrr_get(const rtcp_xr_block *b, size_t i);

/* Writer input: an XR with one receiver reference time block. */
typedef struct {
    uint32_t ssrc;
    uint64_t ntp;
} rtcp_xr_rrtr;

/* rtcp_xr_rrtr_write - 20 bytes, or J_ESHORTBUF. */
int rtcp_xr_rrtr_write(const rtcp_xr_rrtr *m, uint8_t *buf, size_t cap);

/* ---------------------------------------------------------------------------
 * Feedback messages (205 RTPFB, 206 PSFB), RFC 4585 §6.1
 * ------------------------------------------------------------------------- */

/* Common part of every feedback message; fci is what follows the two SSRCs. */
typedef struct {
    uint8_t fmt;
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    const uint8_t *fci;
    size_t fci_len;
} rtcp_fb;

/* rtcp_fb_parse - for type 205/206 (J_EINVAL otherwise); J_EMALFORMED when
 * the body is shorter than the two SSRCs. */
int rtcp_fb_parse(rtcp_fb *out, const rtcp_header *h);

/* PLI (PSFB FMT 1). */
typedef struct {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
} rtcp_pli;

/* rtcp_pli_parse - J_EINVAL unless PSFB FMT 1; J_EMALFORMED without the two
 * SSRCs. rtcp_pli_write always produces 12 bytes (or J_ESHORTBUF). */
int rtcp_pli_parse(rtcp_pli *out, const rtcp_header *h);
int rtcp_pli_size(const rtcp_pli *m);
int rtcp_pli_write(const rtcp_pli *m, uint8_t *buf, size_t cap);

/* FIR (PSFB FMT 4): one entry per requested SSRC. */
typedef struct {
    uint32_t ssrc;
    uint8_t seq_nr; /* incremented by the sender for each new request */
} rtcp_fir_entry;

typedef struct {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;               /* unused by FIR, 0 when written */
    size_t entry_count;                /* >= 1 */
    const rtcp_fir_entry *entries;     /* building */
    const uint8_t *entries_raw;        /* parsed: entry_count * 8 bytes */
} rtcp_fir;

/* rtcp_fir_parse - J_EINVAL unless PSFB FMT 4; J_EMALFORMED unless the FCI is
 * one or more whole 8-byte entries. */
int rtcp_fir_parse(rtcp_fir *out, const rtcp_header *h);
/* rtcp_fir_entry_get - the i-th entry (i < entry_count), either representation. */
rtcp_fir_entry rtcp_fir_entry_get(const rtcp_fir *m, size_t i);
/* rtcp_fir_size / rtcp_fir_write - J_EINVAL without entries. */
int rtcp_fir_size(const rtcp_fir *m);
int rtcp_fir_write(const rtcp_fir *m, uint8_t *buf, size_t cap);

/* REMB (PSFB FMT 15 with identifier "REMB"). */
typedef struct {
    uint32_t sender_ssrc;
    uint64_t bitrate_bps;      /* parsed: saturates at UINT64_MAX; written rounded down
                                  to an 18-bit mantissa */
    uint8_t ssrc_count;
    const uint32_t *ssrcs;     /* building */
    const uint8_t *ssrcs_raw;  /* parsed: ssrc_count * 4 bytes */
} rtcp_remb;

/* rtcp_remb_parse - J_EUNSUPPORTED for an application-layer feedback with
 * another identifier, J_EMALFORMED when the SSRC list exceeds the packet. */
int rtcp_remb_parse(rtcp_remb *out, const rtcp_header *h);
/* rtcp_remb_ssrc - the i-th SSRC (i < ssrc_count), either representation. */
uint32_t rtcp_remb_ssrc(const rtcp_remb *m, unsigned i);
/* rtcp_remb_size / rtcp_remb_write - the media SSRC is written as 0. */
int rtcp_remb_size(const rtcp_remb *m);
int rtcp_remb_write(const rtcp_remb *m, uint8_t *buf, size_t cap);

/* Generic NACK (RTPFB FMT 1): items of PID + bitmask of the 16 following
 * sequence numbers (BLP). */
typedef struct {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    size_t item_count;          /* parsed: >= 1 */
    const uint8_t *items_raw;   /* parsed: item_count * 4 bytes */
    const uint16_t *lost;       /* building: lost sequence numbers, ascending
                                   (mod 2^16) for the tightest packing */
    size_t lost_count;
} rtcp_nack;

typedef struct {
    const uint8_t *p;
    size_t items_left;
    uint16_t pid;
    uint16_t blp;
    int bit; /* -1: PID itself not yet yielded; 0..15: next BLP bit to test */
} rtcp_nack_iter;

/* rtcp_nack_parse - J_EINVAL unless RTPFB FMT 1; J_EMALFORMED unless the FCI
 * is one or more whole 4-byte items. */
int rtcp_nack_parse(rtcp_nack *out, const rtcp_header *h);
/* rtcp_nack_item - the i-th raw item (i < item_count). */
void rtcp_nack_item(const rtcp_nack *m, size_t i, uint16_t *pid, uint16_t *blp);
/* rtcp_nack_iter_init - iterate over the lost sequence numbers of a parsed
 * view, without a buffer. */
void rtcp_nack_iter_init(rtcp_nack_iter *it, const rtcp_nack *m);
/* rtcp_nack_next - next lost sequence number, in item order. */
bool rtcp_nack_next(rtcp_nack_iter *it, uint16_t *seq);
/* rtcp_nack_expand - all lost sequence numbers into out (at most 17 per item).
 * Returns how many, or J_ESHORTBUF when cap is too small. */
int rtcp_nack_expand(const rtcp_nack *m, uint16_t *out, size_t cap);
/* rtcp_nack_size / rtcp_nack_write - from lost/lost_count when lost is non-NULL
 * (packing runs within 16 of a PID into its BLP, across the 65535->0 wrap;
 * duplicates are folded), otherwise from items_raw. J_EINVAL for an empty
 * list. */
int rtcp_nack_size(const rtcp_nack *m);
int rtcp_nack_write(const rtcp_nack *m, uint8_t *buf, size_t cap);

/* ---------------------------------------------------------------------------
 * Transport-wide congestion control feedback (RTPFB FMT 15)
 * ------------------------------------------------------------------------- */

/* Status symbols. */
enum {
    RTCP_TWCC_NOT_RECEIVED = 0,
    RTCP_TWCC_SMALL_DELTA = 1, /* received, delta 0..63.75 ms in one byte */
    RTCP_TWCC_LARGE_DELTA = 2, /* received, signed delta in two bytes */
};

#define RTCP_TWCC_DELTA_US 250     /* receive delta unit */
#define RTCP_TWCC_REF_TIME_US 64000 /* reference time unit */

/* Parsed view: chunks and deltas were checked to cover status_count packets. */
typedef struct {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    uint16_t base_seq;
    uint16_t status_count; /* >= 1 */
    uint32_t ref_time;     /* 24 bits, in 64 ms units */
    uint8_t fb_pkt_count;
    const uint8_t *chunks;
    size_t chunks_len; /* bytes of chunks actually needed for status_count */
    const uint8_t *deltas;
    size_t deltas_len; /* bytes of deltas actually needed */
    uint32_t received_count;
} rtcp_twcc;

/* One packet status. */
typedef struct {
    uint16_t seq;
    uint8_t status;   /* RTCP_TWCC_* */
    bool received;
    int32_t delta_us; /* receive delta (0 when not received) */
    int64_t recv_us;  /* ref_time * 64 ms + all deltas so far (sender's time base) */
} rtcp_twcc_pkt;

typedef struct {
    const uint8_t *chunk;
    const uint8_t *chunk_end;
    const uint8_t *delta;
    const uint8_t *delta_end;
    uint32_t left;         /* statuses still to yield */
    uint16_t word;         /* current chunk */
    uint16_t word_left;    /* statuses left in the current chunk */
    uint8_t word_pos;      /* next symbol index in a status vector chunk */
    uint16_t seq;
    int64_t time_us;
} rtcp_twcc_iter;

/* rtcp_twcc_parse - fill the view, checking that chunks cover status_count
 * statuses (no reserved symbol 3 among them) and that all their receive deltas
 * are present. J_EMALFORMED otherwise (including status_count 0). */
int rtcp_twcc_parse(rtcp_twcc *out, const rtcp_header *h);
/* rtcp_twcc_iter_init / rtcp_twcc_next - yield the status_count statuses of
 * a parsed view in sequence order (base_seq upwards, wrapping at 65535). */
void rtcp_twcc_iter_init(rtcp_twcc_iter *it, const rtcp_twcc *m);
bool rtcp_twcc_next(rtcp_twcc_iter *it, rtcp_twcc_pkt *out);
/* rtcp_twcc_expand - every status into out; returns status_count or
 * J_ESHORTBUF when cap < status_count. */
int rtcp_twcc_expand(const rtcp_twcc *m, rtcp_twcc_pkt *out, size_t cap);

/* Writer input: one entry per packet the feedback reports. */
typedef struct {
    uint16_t seq;        /* transport-wide sequence number */
    bool received;
    uint64_t arrival_us; /* receive time (any monotonic base), if received */
} rtcp_twcc_rx;

typedef struct {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    uint8_t fb_pkt_count;
    const rtcp_twcc_rx *pkts; /* >= 1, strictly increasing seq (mod 2^16);
                                 seqs skipped between entries are reported as
                                 not received; pkts[0].seq is the base seq */
    size_t pkt_count;
} rtcp_twcc_fb;

/* rtcp_twcc_size / rtcp_twcc_write - encode feedback. The reference time is
 * the first received packet's arrival time rounded down to 64 ms; deltas are
 * rounded to 250 us and sent in one byte when in 0..255 units, else two bytes.
 * Run-length chunks are used for runs of at least 14 equal statuses (7 when
 * large deltas prevent a 1-bit vector), status vectors otherwise. Returns
 * J_EINVAL for an empty or unordered list, a span over 65535 sequence numbers,
 * or a delta beyond +-8.19 s (the caller then splits the feedback). */
int rtcp_twcc_size(const rtcp_twcc_fb *m);
int rtcp_twcc_write(const rtcp_twcc_fb *m, uint8_t *buf, size_t cap);

#endif
