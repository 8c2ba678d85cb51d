/* picmap.h - keeps a subscriber's VP8 picture ids and TL0PICIDX continuous.
 *
 * A subscriber's decoder sees one VP8 stream, but the SFU forwards whichever simulcast
 * encoding fits it and drops temporal layers above its target. Each encoding numbers its
 * pictures on its own, and a dropped picture would leave a hole the receiver reads as loss.
 * A vp8_picmap (one per downtrack) maps the incoming picture ids of the forwarded source to
 * one outgoing sequence with no holes: after a switch of source (resync) the next picture
 * continues right after the last one sent, TL0PICIDX after the last TL0PICIDX sent, and a
 * dropped picture gives its number to the next one. Late packets (reordering, retransmission
 * by the publisher) of the last VP8_PICMAP_HISTORY pictures map as their picture did.
 *
 * The outgoing picture id is always 15 bits (RFC 7741 M=1): the descriptor keeps its length,
 * so it can be rewritten in place, whenever the publisher sends 15-bit ids (browsers do); a
 * 7-bit id grows the descriptor by one byte. Sans-I/O, no allocation.
 */
#ifndef J_CODEC_PICMAP_H
#define J_CODEC_PICMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* Pictures remembered for late packets: about 2 s at 30 frames per second. */
#define VP8_PICMAP_HISTORY 64

typedef enum {
    VP8_PICMAP_EMPTY = 0,
    VP8_PICMAP_RESERVED,  /* skipped on the way to a newer picture: may still arrive */
    VP8_PICMAP_FORWARDED,
    VP8_PICMAP_DROPPED,   /* its number went to the next picture */
} vp8_picmap_state;

typedef struct vp8_picmap_entry {
    uint32_t in;  /* unwrapped incoming picture id (the slot's tag) */
    uint16_t out; /* outgoing 15-bit picture id, unless dropped */
    uint8_t state; /* vp8_picmap_state */
} vp8_picmap_entry;

typedef struct vp8_picmap {
    bool pic_started;      /* a picture id has been sent */
    bool pic_resync;       /* the next picture id starts a new source */
    bool tl0_started;      /* a TL0PICIDX has been sent */
    bool tl0_resync;       /* the next TL0PICIDX starts a new source */
    uint16_t last_out_pic; /* newest outgoing picture id (15 bits) */
    uint8_t last_out_tl0;  /* newest outgoing TL0PICIDX */
    uint32_t max_in;       /* newest incoming picture id of this source, unwrapped */
    uint16_t pic_offset;   /* out = in + pic_offset (mod 2^15) for pictures after max_in */
    uint8_t tl0_offset;    /* out = in + tl0_offset (mod 2^8) */
    vp8_picmap_entry history[VP8_PICMAP_HISTORY]; /* by unwrapped id modulo the size */
} vp8_picmap;

/* vp8_picmap_init - nothing sent yet: the first picture keeps its id and TL0PICIDX. */
void vp8_picmap_init(vp8_picmap *m);

/* vp8_picmap_resync - the next packet comes from another source (a simulcast switch, the
 * publisher reconnected): its picture continues the outgoing sequence. Call it before the
 * first packet of the new source, which should start a keyframe (TL0). */
void vp8_picmap_resync(vp8_picmap *m);

/* vp8_picmap_drop - the packet with descriptor d is not forwarded (its temporal layer is
 * above the target): when its picture is the newest, the next picture takes its number.
 * Later packets of a dropped picture are refused by vp8_picmap_rewrite. */
void vp8_picmap_drop(vp8_picmap *m, const vp8_descriptor *d);

/* vp8_picmap_rewrite_len - the length of the descriptor vp8_picmap_rewrite writes for d:
 * d->descriptor_len, plus one when d carries a 7-bit picture id, minus one when d has an
 * extension byte announcing no field (the rewrite leaves it out). */
size_t vp8_picmap_rewrite_len(const vp8_descriptor *d);

/* vp8_picmap_rewrite - map the picture id and TL0PICIDX of a forwarded packet (descriptor d,
 * from vp8_parse) and write its outgoing payload descriptor to out: every field of d kept,
 * the picture id as 15 bits, reserved bits zero. The VP8 payload (the input from
 * d->descriptor_len on) follows it unchanged; out may be the input itself when
 * vp8_picmap_rewrite_len(d) == d->descriptor_len. Returns the bytes written, J_ESHORTBUF
 * (nothing changed), or J_ENOTFOUND when the picture was dropped or is older than the
 * history: the packet must not be forwarded. */
int vp8_picmap_rewrite(vp8_picmap *m, const vp8_descriptor *d, uint8_t *out, size_t cap);

#endif
