/* rtx_buffer.c - a circular byte arena of packets, indexed by sequence number. */
#include "rtp/rtx_buffer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "rtp/rtp.h"

typedef struct {
    uint64_t pos; /* absolute arena position of the copy's first byte */
    uint64_t stored_us;
    uint16_t len; /* 0: empty */
    uint16_t seq;
} rtx_slot;

struct rtp_rtx_buffer {
    uint64_t max_age_us;
    uint64_t head; /* absolute position just past the newest copy */
    /* When the newest copy starting in the arena's first RTP_RTX_BUFFER_PKT_MAX bytes was
     * stored: once it has expired, whatever the next packet would overwrite there has too. */
    uint64_t lap_start_us;
    size_t capacity;
    size_t mask; /* slots - 1 */
    uint8_t *arena;
    rtx_slot slots[];
};

rtp_rtx_buffer *rtp_rtx_buffer_new(size_t capacity, size_t slots, uint64_t max_age_us)
{
    if (capacity < RTP_RTX_BUFFER_PKT_MAX || capacity > RTP_RTX_BUFFER_MAX_CAPACITY) return NULL;
    if (slots == 0 || slots > RTP_RTX_BUFFER_MAX_SLOTS || (slots & (slots - 1))) return NULL;
    rtp_rtx_buffer *b = calloc(1, sizeof *b + slots * sizeof(rtx_slot));
    if (!b) return NULL;
    /* Not zeroed, as nothing is read before it is written: the arena's pages cost memory only
     * once a stream has reached them, and a slow one recycles its start (put) before that. */
    b->arena = malloc(capacity);
    if (!b->arena) {
        free(b);
        return NULL;
    }
    b->max_age_us = max_age_us;
    b->capacity = capacity;
    b->mask = slots - 1;
    return b;
}

void rtp_rtx_buffer_free(rtp_rtx_buffer *b)
{
    if (!b) return;
    free(b->arena);
    free(b);
}

static bool fresh(const rtp_rtx_buffer *b, uint64_t stored_us, uint64_t now_us)
{
    return now_us < stored_us || now_us - stored_us <= b->max_age_us;
}

/* The slot's copy can still be returned: stored, not overwritten since (every write ends at or
 * before head, so bytes from pos on are intact while head - pos <= capacity), not too old. */
static bool intact(const rtp_rtx_buffer *b, const rtx_slot *s, uint64_t now_us)
{
    return s->len > 0 && b->head - s->pos <= b->capacity && fresh(b, s->stored_us, now_us);
}

int rtp_rtx_buffer_put(rtp_rtx_buffer *b, uint16_t seq, const uint8_t *pkt, size_t len,
                       uint64_t now_us)
{
    if (len == 0 || len > RTP_RTX_BUFFER_PKT_MAX) return J_EINVAL;
    rtx_slot *s = &b->slots[seq & b->mask];
    if (s->seq != seq && intact(b, s, now_us) && rtp_seq_newer(s->seq, seq)) return J_ESTATE;
    uint64_t pos = b->head;
    size_t off = (size_t)(pos % b->capacity);
    /* Back to the start when the packet would not fit whole before the end, or when what it
     * would overwrite at the start has expired: a stream slower than capacity / max_age_us
     * then keeps to the bytes it needs. The unused tail costs no correctness: lookups measure
     * from head, and nothing was written there. */
    if (b->capacity - off < len || (off > 0 && !fresh(b, b->lap_start_us, now_us))) {
        pos += b->capacity - off;
        off = 0;
    }
    if (off < RTP_RTX_BUFFER_PKT_MAX) b->lap_start_us = now_us;
    memcpy(b->arena + off, pkt, len);
    b->head = pos + len;
    s->pos = pos;
    s->len = (uint16_t)len;
    s->seq = seq;
    s->stored_us = now_us;
    return 0;
}

int rtp_rtx_buffer_get(const rtp_rtx_buffer *b, uint16_t seq, uint64_t now_us, rtp_rtx_pkt *out)
{
    const rtx_slot *s = &b->slots[seq & b->mask];
    if (s->seq != seq || !intact(b, s, now_us)) return J_ENOTFOUND;
    out->data = b->arena + (size_t)(s->pos % b->capacity);
    out->len = s->len;
    out->stored_us = s->stored_us;
    return 0;
}
