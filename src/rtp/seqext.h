/* seqext.h - 16-bit sequence numbers extended to 64 bits.
 *
 * Receive-side state machines keep a 64-bit reference (their newest extended
 * number) and extend each arriving 16-bit number to the value nearest to it,
 * so ordering and distances need no wraparound care afterwards. The first
 * number starts at 2^32 + seq: far enough from 0 that a late packet never
 * extends below zero, and with the low 16 bits equal to seq, so a ring of
 * 2^k slots indexed by the extended number is indexed by seq as well.
 */
#ifndef J_RTP_SEQEXT_H
#define J_RTP_SEQEXT_H

#include <stdint.h>

#include "rtp/rtp.h"

/* rtp_seq_ext_first - the extended number of the first packet seen. */
static inline uint64_t rtp_seq_ext_first(uint16_t seq) { return ((uint64_t)1 << 32) + seq; }

/* rtp_seq_extend - seq extended to within -32768..32767 of ref. */
static inline uint64_t rtp_seq_extend(uint64_t ref, uint16_t seq)
{
    return (uint64_t)((int64_t)ref + rtp_seq_diff(seq, (uint16_t)ref));
}

#endif
