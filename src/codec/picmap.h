/* picmap.h - keeps a subscriber's VP8 and VP9 picture ids and TL0PICIDX continuous.
 *
 * A subscriber's decoder sees one stream, but the SFU forwards whichever simulcast encoding
 * fits it and drops temporal layers above its target. Each encoding numbers its pictures on
 * its own. A picmap (one per downtrack) maps the incoming picture ids of the forwarded source
 * to one outgoing sequence: after a switch of source (resync) the next picture continues right
 * after the last one sent, TL0PICIDX after the last TL0PICIDX sent. Late packets (reordering,
 * retransmission by the publisher) of the last PICMAP_HISTORY pictures map as their picture
 * did; the map is keyed by picture, so every packet of a picture (VP9: every spatial layer)
 * gets the same id.
 *
 * What a dropped picture does to the numbering depends on the codec:
 * - VP8: its number goes to the next picture (no hole the receiver reads as loss).
 * - VP9: it keeps its number. The receiver finds a picture's references by picture-id
 *   distance - P_DIFF in flexible mode, the keyframe's scalability structure (GOF, counted
 *   from the keyframe's id) in non-flexible mode - so the distances must stay as the encoder
 *   wrote them; a hole there is a picture of a dropped layer, which the GOF says no kept
 *   picture depends on.
 *
 * The outgoing picture id is always 15 bits (M=1): the descriptor keeps its length, so it can
 * be rewritten in place, whenever the publisher sends 15-bit ids (browsers do); a 7-bit id
 * grows the descriptor by one byte. Sans-I/O, no allocation.
 */
#ifndef J_CODEC_PICMAP_H
#define J_CODEC_PICMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* Pictures remembered for late packets: about 2 s at 30 frames per second. */
#define PICMAP_HISTORY 64

typedef enum {
    PICMAP_EMPTY = 0,
    PICMAP_RESERVED,  /* skipped on the way to a newer picture: may still arrive */
    PICMAP_FORWARDED,
    PICMAP_DROPPED,   /* VP8: its number went to the next picture */
} picmap_state;

typedef struct picmap_entry {
    uint32_t in;   /* unwrapped incoming picture id (the slot's tag) */
    uint16_t out;  /* outgoing 15-bit picture id, unless dropped */
    uint8_t state; /* picmap_state */
} picmap_entry;

typedef struct picmap {
    bool pic_started;      /* a picture id has been sent */
    bool pic_resync;       /* the next picture id starts a new source */
    bool tl0_started;      /* a TL0PICIDX has been sent */
    bool tl0_resync;       /* the next TL0PICIDX starts a new source */
    uint16_t last_out_pic; /* newest outgoing picture id (15 bits) */
    uint8_t last_out_tl0;  /* newest outgoing TL0PICIDX */
    uint32_t max_in;       /* newest incoming picture id of this source, unwrapped */
    uint16_t pic_offset;   /* out = in + pic_offset (mod 2^15) for pictures after max_in */
    uint8_t tl0_offset;    /* out = in + tl0_offset (mod 2^8) */
    picmap_entry history[PICMAP_HISTORY]; /* by unwrapped id modulo the size */
} picmap;

/* picmap_init - nothing sent yet: the first picture keeps its id and TL0PICIDX. */
void picmap_init(picmap *m);

/* picmap_resync - the next packet comes from another source (a simulcast switch, the
 * publisher reconnected): its picture continues the outgoing sequence. Call it before the
 * first packet of the new source, which should start a keyframe (TL0). */
void picmap_resync(picmap *m);

/* vp8_picmap_drop - the VP8 packet with descriptor d is not forwarded (its temporal layer is
 * above the target): when its picture is the newest, the next picture takes its number.
 * Later packets of a dropped picture are refused by vp8_picmap_rewrite. (VP9 has no
 * counterpart: a dropped VP9 picture keeps its number, see above.) */
void vp8_picmap_drop(picmap *m, const vp8_descriptor *d);

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
int vp8_picmap_rewrite(picmap *m, const vp8_descriptor *d, uint8_t *out, size_t cap);

/* vp9_picmap_rewrite_len - the length of the descriptor vp9_picmap_rewrite writes for d:
 * d->descriptor_len, plus one when d carries a 7-bit picture id. */
size_t vp9_picmap_rewrite_len(const vp9_descriptor *d);

/* vp9_picmap_rewrite - map the picture id and (non-flexible mode) TL0PICIDX of a forwarded
 * VP9 packet (descriptor d, from vp9_parse of payload) and write its outgoing payload
 * descriptor to out: payload's descriptor bytes with the picture id as 15 bits (M=1) and the
 * mapped TL0PICIDX, everything else (layer byte, P_DIFFs, scalability structure) as it was.
 * The VP9 payload (from d->descriptor_len on) follows it unchanged; out may be payload itself
 * when vp9_picmap_rewrite_len(d) == d->descriptor_len, else it must not overlap payload.
 * Returns the bytes written, J_ESHORTBUF (nothing changed), or J_ENOTFOUND when the picture is
 * older than the history: the packet must not be forwarded. */
int vp9_picmap_rewrite(picmap *m, const vp9_descriptor *d, const uint8_t *payload, uint8_t *out,
                       size_t cap);

#endif
