/* rtx_buffer.h - the last second or so of one published RTP stream, kept to
 * answer subscribers' NACKs without asking the publisher again.
 *
 * Memory follows the stream's bytes, not a worst case per packet: packets are
 * copied one after another into a circular byte arena of a fixed capacity, and
 * a small index of a power of two slots (slot = seq mod slots) records where
 * each sequence number's copy starts. Arena positions are absolute 64-bit byte
 * counts, so a copy whose bytes newer packets have since overwritten is known
 * to be gone. A packet is never split: one that does not fit before the
 * arena's end starts again at its beginning, and so does any packet once what
 * it would overwrite there has expired, so a stream slower than capacity per
 * max_age_us keeps to about its rate x max_age_us bytes (the arena's pages are
 * left untouched until used). Both are allocated once by rtp_rtx_buffer_new;
 * the per-packet path only copies. The buffer holds the
 * publisher's packets as they arrived (plain RTP, original numbering); a
 * subscriber's NACK names its own rewritten numbers, which the caller maps
 * back before the lookup.
 *
 * A lookup succeeds only for the exact sequence number indexed in the slot,
 * only while its bytes are intact and only while that copy is younger than
 * max_age_us, so a number that wrapped around (65535 -> 0 -> ... -> the same
 * number again) or a slot since reused by a number slots apart never returns
 * the wrong packet. Whichever runs out first - bytes, slots or age - bounds
 * the history.
 */
#ifndef J_RTP_RTX_BUFFER_H
#define J_RTP_RTX_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#define RTP_RTX_BUFFER_PKT_MAX 1500   /* larger packets are not stored */
#define RTP_RTX_BUFFER_MAX_SLOTS 32768 /* half the sequence space: slots apart
                                          stays unambiguous */
#define RTP_RTX_BUFFER_MAX_CAPACITY ((size_t)64 << 20) /* bytes; far beyond any
                                                          second of video */

typedef struct rtp_rtx_buffer rtp_rtx_buffer;

/* A stored packet, pointing into the buffer: valid until the next put. */
typedef struct {
    const uint8_t *data;
    size_t len;
    uint64_t stored_us;
} rtp_rtx_pkt;

/* rtp_rtx_buffer_new - a buffer of capacity bytes (RTP_RTX_BUFFER_PKT_MAX to
 * RTP_RTX_BUFFER_MAX_CAPACITY) indexed by slots sequence numbers (a power of
 * two, 1 to RTP_RTX_BUFFER_MAX_SLOTS) that keeps each packet for max_age_us.
 * Pick slots at least capacity / the smallest average packet size expected,
 * or the index runs out before the bytes do. Returns NULL for a bad size or
 * when out of memory. */
rtp_rtx_buffer *rtp_rtx_buffer_new(size_t capacity, size_t slots, uint64_t max_age_us);

/* rtp_rtx_buffer_free - release it (NULL is fine). */
void rtp_rtx_buffer_free(rtp_rtx_buffer *b);

/* rtp_rtx_buffer_put - store a copy of the packet pkt[0..len) with sequence
 * number seq, received at now_us, over the oldest bytes of the arena, and
 * index it in its slot - unless the slot indexes a newer packet that is still
 * intact and within max_age_us (a very late packet must not evict a fresh
 * one). Returns 0, J_EINVAL for an empty packet or one over
 * RTP_RTX_BUFFER_PKT_MAX bytes, J_ESTATE when refused as too late. */
int rtp_rtx_buffer_put(rtp_rtx_buffer *b, uint16_t seq, const uint8_t *pkt, size_t len,
                       uint64_t now_us);

/* rtp_rtx_buffer_get - the stored packet with sequence number seq into *out.
 * Returns 0, or J_ENOTFOUND when the slot is empty, indexes another sequence
 * number, its bytes have been overwritten by newer packets, or its copy is
 * older than max_age_us at now_us. */
int rtp_rtx_buffer_get(const rtp_rtx_buffer *b, uint16_t seq, uint64_t now_us, rtp_rtx_pkt *out);

#endif
