/* spsc.h - a lock-free single-producer single-consumer ring of fixed-size slots.
 *
 * One thread writes, one other thread reads; neither ever waits or locks. The slots are
 * allocated once, so the per-item path is a memcpy into the slot and an index update.
 * Both sides batch: the producer fills several slots and makes them visible with one
 * j_spsc_publish; the consumer reads what was published and hands the slots back with one
 * j_spsc_release. Waking the consumer is the caller's business (net/net.h: j_notify).
 *
 * Indices are free-running 64-bit counters (they never wrap in practice); head and tail
 * sit on their own cache lines, and each side keeps a cached copy of the other's index so
 * that it reads the shared one (an acquire load) only when the cache says full or empty.
 */
#ifndef J_CORE_SPSC_H
#define J_CORE_SPSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct j_spsc j_spsc;

/* j_spsc_new - capacity slots (a power of two, >= 2) of slot_size bytes each, aligned to 64
 * bytes. NULL on a bad size or out of memory. */
j_spsc *j_spsc_new(size_t slot_size, size_t capacity);
void j_spsc_free(j_spsc *r);
size_t j_spsc_capacity(const j_spsc *r);

/* ---- producer thread ---- */

/* j_spsc_write_slot - the next free slot to fill, or NULL when the ring is full. Calling it
 * again without j_spsc_push returns the same slot. */
void *j_spsc_write_slot(j_spsc *r);
/* j_spsc_push - the slot from j_spsc_write_slot is filled; it becomes visible to the
 * consumer at the next j_spsc_publish. */
void j_spsc_push(j_spsc *r);
/* j_spsc_publish - make every pushed slot visible (one release store). Returns whether
 * there was anything new to publish. */
bool j_spsc_publish(j_spsc *r);

/* ---- consumer thread ---- */

/* j_spsc_read_slot - the oldest published slot not yet popped, or NULL when none. */
void *j_spsc_read_slot(j_spsc *r);
/* j_spsc_pop - done with the slot from j_spsc_read_slot; it goes back to the producer at
 * the next j_spsc_release. */
void j_spsc_pop(j_spsc *r);
/* j_spsc_release - hand every popped slot back to the producer (one release store). */
void j_spsc_release(j_spsc *r);

#endif
