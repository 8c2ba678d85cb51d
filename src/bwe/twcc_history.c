/* twcc_history.c - sent packets by transport-wide sequence number, matched
 * against the feedback about them. */
#include <string.h>

#include "bwe/bwe.h"

enum { SENT_EMPTY, SENT_UNREPORTED, SENT_LOST, SENT_RECEIVED };

#define SLOT(seq) ((seq) & (BWE_TWCC_HISTORY_SLOTS - 1))
#define REF_TIME_MOD ((int64_t)1 << 24)
/* Far beyond any real session (2^40 x 64 ms is 2000 years): only a peer
 * sending wild reference times gets here, and is re-anchored before the
 * arrival times could overflow. */
#define REF_EXT_LIMIT ((int64_t)1 << 40)

void bwe_twcc_history_init(bwe_twcc_history *h, uint16_t first_seq)
{
    memset(h, 0, sizeof *h);
    h->next_seq = first_seq;
}

uint16_t bwe_twcc_history_add(bwe_twcc_history *h, uint32_t size, uint64_t now_us)
{
    uint16_t seq = h->next_seq++;
    h->sent[SLOT(seq)] = (bwe_twcc_sent){.send_us = now_us, .size = size, .seq = seq,
                                         .state = SENT_UNREPORTED};
    return seq;
}

/* The feedback's 24-bit reference time (64 ms units) made continuous with the
 * previous feedback's, so arrival times compare across feedbacks. */
static int64_t unwrap_ref_time(bwe_twcc_history *h, uint32_t ref_time)
{
    if (!h->have_ref || h->ref_ext > REF_EXT_LIMIT || h->ref_ext < -REF_EXT_LIMIT) {
        h->have_ref = true;
        h->ref_ext = ref_time;
        return h->ref_ext;
    }
    int64_t diff = (int64_t)(((uint64_t)ref_time - (uint64_t)h->ref_ext) & (REF_TIME_MOD - 1));
    if (diff >= REF_TIME_MOD / 2) diff -= REF_TIME_MOD;
    h->ref_ext += diff;
    return h->ref_ext;
}

size_t bwe_twcc_history_on_feedback(bwe_twcc_history *h, const rtcp_twcc *fb,
                                    bwe_twcc_result *out, size_t cap)
{
    int64_t shift_us = (unwrap_ref_time(h, fb->ref_time) - (int64_t)fb->ref_time) *
                       RTCP_TWCC_REF_TIME_US;
    rtcp_twcc_iter it;
    rtcp_twcc_pkt pkt;
    size_t n = 0;
    rtcp_twcc_iter_init(&it, fb);
    while (n < cap && rtcp_twcc_next(&it, &pkt)) {
        bwe_twcc_sent *e = &h->sent[SLOT(pkt.seq)];
        if (e->state == SENT_EMPTY || e->seq != pkt.seq) {
            h->unknown++;
            continue;
        }
        /* Tell each packet once, plus a late "received" after a "lost". */
        if (e->state == SENT_RECEIVED || (e->state == SENT_LOST && !pkt.received)) continue;
        out[n++] = (bwe_twcc_result){.seq = pkt.seq,
                                     .received = pkt.received,
                                     .reported_lost_before = e->state == SENT_LOST,
                                     .size = e->size,
                                     .send_us = e->send_us,
                                     .recv_us = pkt.received ? pkt.recv_us + shift_us : 0};
        e->state = pkt.received ? SENT_RECEIVED : SENT_LOST;
    }
    return n;
}
