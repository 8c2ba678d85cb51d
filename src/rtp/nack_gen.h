/* nack_gen.h - ingress loss detection for one RTP source: which sequence
 * numbers to ask again for (generic NACK, RFC 4585 §6.2.1) and when.
 *
 * Every packet of the source (retransmissions too, once unwrapped from RTX to
 * their original sequence number) goes to rtp_nack_gen_on_packet. A jump past
 * the newest sequence number puts the numbers in between on the missing list;
 * a packet that arrives later takes its number off. rtp_nack_gen_handle_timeout
 * yields the numbers due for a request: the first request after a short
 * reorder delay (most gaps are reordering, healed within a few milliseconds),
 * then one per round trip, up to max_retries requests. A number still missing
 * after max_age_us, or after its last request had a round trip to be answered,
 * is given up; so is the whole list when a gap would overflow it. Giving up
 * leaves a hole the decoder cannot bridge, so it raises a keyframe request
 * (rtp_nack_gen_take_keyframe_request).
 *
 * The list is a fixed array inside the struct, sorted by extended sequence
 * number: nothing is allocated after init. Output numbers are ascending
 * modulo 2^16, ready for rtcp_nack.lost.
 */
#ifndef J_RTP_NACK_GEN_H
#define J_RTP_NACK_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_NACK_GEN_CAPACITY 512 /* missing packets tracked at once: ~1 s of a
                                     4 Mbit/s video stream lost entirely */

typedef struct {
    uint64_t reorder_delay_us; /* before the first request; default 5 ms */
    uint64_t max_age_us;       /* give up on a packet missing this long; default 1 s */
    uint64_t default_rtt_us;   /* retry interval until an RTT is known; default 100 ms */
    uint8_t max_retries;       /* requests per packet; default 10 */
} rtp_nack_gen_config;

/* What rtp_nack_gen_on_packet made of a packet. */
typedef enum {
    RTP_NACK_GEN_IN_ORDER,  /* newest so far (any gap before it is now missing) */
    RTP_NACK_GEN_RECOVERED, /* was on the missing list: repaired or reordered */
    RTP_NACK_GEN_LATE,      /* older and not missing: duplicate, or already given up */
    RTP_NACK_GEN_RESTARTED, /* second packet of a new numbering far from the old one:
                               tracking starts over from it */
} rtp_nack_gen_verdict;

typedef struct {
    uint64_t ext_seq;     /* extended sequence number (rtp/seqext.h) */
    uint64_t detected_us; /* when the gap was seen */
    uint64_t sent_us;     /* last request, valid when sends > 0 */
    uint8_t sends;        /* requests so far */
} rtp_nack_gen_entry;

typedef struct {
    rtp_nack_gen_config cfg;
    uint64_t rtt_us;
    bool started;
    uint64_t highest;       /* newest extended sequence number */
    bool have_candidate;
    uint16_t restart_candidate; /* a far-away packet's successor, see RESTARTED */
    bool keyframe_wanted;
    size_t count;
    /* Counters for statistics. */
    uint64_t requested;  /* sequence numbers put in NACKs (retries included) */
    uint64_t recovered;  /* missing packets that arrived */
    uint64_t abandoned;  /* missing packets given up (age, retries) */
    uint64_t overflows;  /* gaps that did not fit: list cleared */
    /* missing[0..count), ascending. Last, and never cleared: entries are written before they
     * are read, so the pages of a loss-free stream's list never become resident. */
    rtp_nack_gen_entry missing[RTP_NACK_GEN_CAPACITY];
} rtp_nack_gen;

/* rtp_nack_gen_init - empty list; cfg NULL (or zero fields) takes the defaults. Writes
 * nothing of the list itself (see missing). */
void rtp_nack_gen_init(rtp_nack_gen *g, const rtp_nack_gen_config *cfg);

/* rtp_nack_gen_set_rtt - the leg's round-trip time; retries are spaced by it
 * (at least 10 ms apart). */
void rtp_nack_gen_set_rtt(rtp_nack_gen *g, uint64_t rtt_us);

/* rtp_nack_gen_on_packet - a packet with sequence number seq arrived at now_us.
 * A jump ahead adds the skipped numbers; if they do not fit the list, the list
 * is cleared, the overflow counted and a keyframe requested. A packet more than
 * RTP_NACK_GEN_CAPACITY * 2 behind is ignored unless the next one follows it,
 * which restarts tracking (the sender restarted its numbering); missing
 * numbers that far behind the newest are given up. */
rtp_nack_gen_verdict rtp_nack_gen_on_packet(rtp_nack_gen *g, uint16_t seq, uint64_t now_us);

/* rtp_nack_gen_handle_timeout - write to out (at most cap) the sequence
 * numbers to request now, ascending, and record the requests; drop the ones
 * given up (raising a keyframe request). Numbers that did not fit in cap stay
 * due for the next call. Returns how many were written. */
size_t rtp_nack_gen_handle_timeout(rtp_nack_gen *g, uint64_t now_us, uint16_t *out, size_t cap);

/* rtp_nack_gen_poll_timeout - when handle_timeout next has something to do
 * (a request or a give-up), UINT64_MAX when nothing is missing. */
uint64_t rtp_nack_gen_poll_timeout(const rtp_nack_gen *g);

/* rtp_nack_gen_take_keyframe_request - true once after a give-up or an
 * overflow: the caller should send a PLI to the source. */
bool rtp_nack_gen_take_keyframe_request(rtp_nack_gen *g);

/* rtp_nack_gen_missing - how many packets are currently missing. */
size_t rtp_nack_gen_missing(const rtp_nack_gen *g);

#endif
