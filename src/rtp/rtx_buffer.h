/* rtx_buffer.h - the last second or so of one published RTP stream, kept to
 * answer subscribers' NACKs without asking the publisher again.
 *
 * Packets are stored by their 16-bit sequence number in a ring of a power of
 * two slots (slot = seq mod slots), each with a preallocated buffer of
 * RTP_RTX_BUFFER_PKT_MAX bytes, all allocated once by rtp_rtx_buffer_new: the
 * per-packet path only copies. The ring holds the publisher's packets as they
 * arrived (plain RTP, original numbering); a subscriber's NACK names its own
 * rewritten numbers, which the caller maps back before the lookup.
 *
 * A lookup succeeds only for the exact sequence number stored in the slot and
 * only while that copy is younger than max_age_us, so a number that wrapped
 * around (65535 -> 0 -> ... -> the same number again) or a slot since reused
 * by a number slots apart never returns the wrong packet.
 */
#ifndef J_RTP_RTX_BUFFER_H
#define J_RTP_RTX_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#define RTP_RTX_BUFFER_PKT_MAX 1500   /* larger packets are not stored */
#define RTP_RTX_BUFFER_MAX_SLOTS 32768 /* half the sequence space: slots apart
                                          stays unambiguous */

typedef struct rtp_rtx_buffer rtp_rtx_buffer;

/* A stored packet, pointing into the buffer: valid until the next put. */
typedef struct {
    const uint8_t *data;
    size_t len;
    uint64_t stored_us;
} rtp_rtx_pkt;

/* rtp_rtx_buffer_new - a buffer of slots packets (a power of two, 1 to
 * RTP_RTX_BUFFER_MAX_SLOTS; 1024 covers about a second of 8 Mbit/s video) that
 * keeps each for max_age_us. Returns NULL for a bad size or when out of
 * memory. */
rtp_rtx_buffer *rtp_rtx_buffer_new(size_t slots, uint64_t max_age_us);

/* rtp_rtx_buffer_free - release it (NULL is fine). */
void rtp_rtx_buffer_free(rtp_rtx_buffer *b);

/* rtp_rtx_buffer_put - store a copy of the packet pkt[0..len) with sequence
 * number seq, received at now_us, replacing whatever the slot held - unless
 * the slot holds a newer packet still within max_age_us (a very late packet
 * must not evict a fresh one). Returns 0, J_EINVAL for an empty packet or one
 * over RTP_RTX_BUFFER_PKT_MAX bytes, J_ESTATE when refused as too late. */
int rtp_rtx_buffer_put(rtp_rtx_buffer *b, uint16_t seq, const uint8_t *pkt, size_t len,
                       uint64_t now_us);

/* rtp_rtx_buffer_get - the stored packet with sequence number seq into *out.
 * Returns 0, or J_ENOTFOUND when the slot is empty, holds another sequence
 * number, or its copy is older than max_age_us at now_us. */
int rtp_rtx_buffer_get(const rtp_rtx_buffer *b, uint16_t seq, uint64_t now_us, rtp_rtx_pkt *out);

#endif
