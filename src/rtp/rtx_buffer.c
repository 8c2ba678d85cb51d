/* rtx_buffer.c - a ring of preallocated packet buffers indexed by sequence number. */
#include "rtp/rtx_buffer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "rtp/rtp.h"

typedef struct {
    uint64_t stored_us;
    uint16_t len; /* 0: empty */
    uint16_t seq;
    uint8_t data[RTP_RTX_BUFFER_PKT_MAX];
} rtx_slot;

struct rtp_rtx_buffer {
    uint64_t max_age_us;
    size_t mask; /* slots - 1 */
    rtx_slot slots[];
};

rtp_rtx_buffer *rtp_rtx_buffer_new(size_t slots, uint64_t max_age_us)
{
    if (slots == 0 || slots > RTP_RTX_BUFFER_MAX_SLOTS || (slots & (slots - 1))) return NULL;
    rtp_rtx_buffer *b = calloc(1, sizeof *b + slots * sizeof(rtx_slot));
    if (!b) return NULL;
    b->max_age_us = max_age_us;
    b->mask = slots - 1;
    return b;
}

void rtp_rtx_buffer_free(rtp_rtx_buffer *b) { free(b); }

static bool fresh(const rtp_rtx_buffer *b, const rtx_slot *s, uint64_t now_us)
{
    return s->len > 0 && (now_us < s->stored_us || now_us - s->stored_us <= b->max_age_us);
}

int rtp_rtx_buffer_put(rtp_rtx_buffer *b, uint16_t seq, const uint8_t *pkt, size_t len,
                       uint64_t now_us)
{
    if (len == 0 || len > RTP_RTX_BUFFER_PKT_MAX) return J_EINVAL;
    rtx_slot *s = &b->slots[seq & b->mask];
    if (s->seq != seq && fresh(b, s, now_us) && rtp_seq_newer(s->seq, seq)) return J_ESTATE;
    memcpy(s->data, pkt, len);
    s->len = (uint16_t)len;
    s->seq = seq;
    s->stored_us = now_us;
    return 0;
}

int rtp_rtx_buffer_get(const rtp_rtx_buffer *b, uint16_t seq, uint64_t now_us, rtp_rtx_pkt *out)
{
    const rtx_slot *s = &b->slots[seq & b->mask];
    if (s->seq != seq || !fresh(b, s, now_us)) return J_ENOTFOUND;
    out->data = s->data;
    out->len = s->len;
    out->stored_us = s->stored_us;
    return 0;
}
