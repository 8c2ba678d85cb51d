/* spsc.c - single-producer single-consumer ring with C11 acquire/release atomics. */
#include "core/spsc.h"

#include <stdatomic.h>
#include <stdlib.h>

#define CACHE_LINE 64

struct j_spsc {
    /* Written by the producer; `head` is published, the others are its private state. */
    _Alignas(CACHE_LINE) _Atomic uint64_t head; /* slots [tail, head) are readable */
    uint64_t write_pos;   /* pushed, not necessarily published: >= head */
    uint64_t tail_cache;  /* the consumer's tail as last seen */
    /* Written by the consumer. */
    _Alignas(CACHE_LINE) _Atomic uint64_t tail; /* slots [head, tail + capacity) are writable */
    uint64_t read_pos;    /* popped, not necessarily released: >= tail */
    uint64_t head_cache;  /* the producer's head as last seen */
    /* Read-only after creation. */
    _Alignas(CACHE_LINE) uint8_t *slots;
    size_t slot_size, mask;
};

j_spsc *j_spsc_new(size_t slot_size, size_t capacity)
{
    if (slot_size == 0 || capacity < 2 || (capacity & (capacity - 1)) != 0) return NULL;
    j_spsc *r = aligned_alloc(CACHE_LINE, sizeof *r);
    if (!r) return NULL;
    size_t stride = (slot_size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    if (stride > SIZE_MAX / capacity) {
        free(r);
        return NULL;
    }
    /* Untouched pages of a large allocation are not resident until first written. */
    r->slots = aligned_alloc(CACHE_LINE, stride * capacity);
    if (!r->slots) {
        free(r);
        return NULL;
    }
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->write_pos = r->tail_cache = r->read_pos = r->head_cache = 0;
    r->slot_size = stride;
    r->mask = capacity - 1;
    return r;
}

void j_spsc_free(j_spsc *r)
{
    if (!r) return;
    free(r->slots);
    free(r);
}

size_t j_spsc_capacity(const j_spsc *r) { return r->mask + 1; }

static void *slot_at(const j_spsc *r, uint64_t pos)
{
    return r->slots + (size_t)(pos & r->mask) * r->slot_size;
}

void *j_spsc_write_slot(j_spsc *r)
{
    if (r->write_pos - r->tail_cache > r->mask) {
        /* Pairs with the consumer's release: its reads of these slots are finished. */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (r->write_pos - r->tail_cache > r->mask) return NULL;
    }
    return slot_at(r, r->write_pos);
}

void j_spsc_push(j_spsc *r) { r->write_pos++; }

bool j_spsc_publish(j_spsc *r)
{
    if (atomic_load_explicit(&r->head, memory_order_relaxed) == r->write_pos) return false;
    /* Release: the slot contents are visible before the index that covers them. */
    atomic_store_explicit(&r->head, r->write_pos, memory_order_release);
    return true;
}

void *j_spsc_read_slot(j_spsc *r)
{
    if (r->read_pos == r->head_cache) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (r->read_pos == r->head_cache) return NULL;
    }
    return slot_at(r, r->read_pos);
}

void j_spsc_pop(j_spsc *r) { r->read_pos++; }

void j_spsc_release(j_spsc *r)
{
    if (atomic_load_explicit(&r->tail, memory_order_relaxed) == r->read_pos) return;
    atomic_store_explicit(&r->tail, r->read_pos, memory_order_release);
}
