/* seqmap.h - keeps a subscriber's RTP sequence numbers and timestamps continuous.
 *
 * Each outgoing track has one map: out = in + offset, with the offsets chosen
 * again whenever the source changes (the publisher reconnected with a new SSRC,
 * or a later layer switch), so the subscriber's decoder sees one unbroken stream.
 * A packet of the source that is not forwarded (a dropped layer) closes its gap: the
 * packets after it map one lower. The last SFU_SEQMAP_SEGMENTS such shifts are kept, so a
 * late packet (reordered, retransmitted by the publisher) and a NACK map as their packet
 * did. Wraparound arithmetic only; no I/O.
 */
#ifndef J_SFU_SEQMAP_H
#define J_SFU_SEQMAP_H

#include <stdbool.h>
#include <stdint.h>

#define SFU_SEQMAP_SEGMENTS 32

/* From input sequence number in_start on (up to the next segment's start), out = in + offset. */
typedef struct sfu_seqmap_segment {
    uint16_t in_start;
    uint16_t offset;
} sfu_seqmap_segment;

typedef struct sfu_seqmap {
    bool started;       /* at least one packet mapped */
    bool resync;        /* next packet starts a new source */
    uint16_t seq_offset; /* the newest segment's */
    uint16_t max_in_seq; /* newest input mapped or dropped since the resync */
    uint8_t n_segments;  /* kept, oldest first (a ring from first_segment) */
    uint8_t first_segment;
    sfu_seqmap_segment segments[SFU_SEQMAP_SEGMENTS];
    uint32_t ts_offset;
    uint16_t first_out_seq; /* first sequence number of the current source's mapping */
    uint16_t max_out_seq; /* newest sequence number sent */
    uint32_t max_out_ts;  /* timestamp of that packet */
    uint64_t max_out_us;  /* when it was sent */
} sfu_seqmap;

/* sfu_seqmap_init - start at random sequence number and timestamp bases (RFC 3550 §5.1). */
void sfu_seqmap_init(sfu_seqmap *m, uint16_t initial_seq, uint32_t initial_ts);

/* sfu_seqmap_resync - the next mapped packet comes from a new source. */
void sfu_seqmap_resync(sfu_seqmap *m);

/* sfu_seqmap_map - map an incoming (seq, ts) to the outgoing pair. After a resync the
 * first packet continues right after the last output: sequence + 1, timestamp advanced
 * by the wall-clock time elapsed in clock_rate units (at least 1). Older packets of the
 * current source (reordering) map with the offsets of their time; J_ENOTFOUND for one older
 * than the kept segments or than the source's first mapped packet (not to be forwarded). */
int sfu_seqmap_map(sfu_seqmap *m, uint16_t in_seq, uint32_t in_ts, uint32_t clock_rate,
                   uint64_t now_us, uint16_t *out_seq, uint32_t *out_ts);

/* sfu_seqmap_drop - the incoming packet in_seq of the current source is not forwarded: when
 * it is the newest input, the packets after it map one lower (no hole for the subscriber to
 * report as loss). Nothing happens before the source's first mapped packet. */
void sfu_seqmap_drop(sfu_seqmap *m, uint16_t in_seq);

/* sfu_seqmap_unmap - the incoming sequence number out_seq was mapped from, to answer a
 * retransmission request: J_OK, or J_ENOTFOUND when the current source's mapping did not
 * produce it (nothing mapped since the last resync, older than the mapping's first packet,
 * newer than its newest). */
int sfu_seqmap_unmap(const sfu_seqmap *m, uint16_t out_seq, uint16_t *in_seq);

/* sfu_seqmap_out_ts - the outgoing timestamp for an incoming one under the current
 * offsets (no state change): what a retransmission or a sender report uses. */
uint32_t sfu_seqmap_out_ts(const sfu_seqmap *m, uint32_t in_ts);

#endif
