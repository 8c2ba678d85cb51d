/* picmap.c - VP8/VP9 picture id and TL0PICIDX continuity across layer switches and drops. */
#include <string.h>

#include "codec/picmap.h"
#include "core/err.h"

#define PIC_MASK 0x7fffu

/* The fields the map reads from a VP8 or VP9 descriptor. */
typedef struct picture {
    bool has_id;
    bool id_15bit;
    uint16_t id;
    bool has_tl0;
    uint8_t tl0;
    uint8_t tid;
} picture;

static picture vp8_picture(const vp8_descriptor *d)
{
    return (picture){.has_id = d->has_picture_id, .id_15bit = d->picture_id_15bit,
                     .id = d->picture_id, .has_tl0 = d->has_tl0picidx, .tl0 = d->tl0picidx,
                     .tid = d->tid};
}

static picture vp9_picture(const vp9_descriptor *d)
{
    return (picture){.has_id = d->has_picture_id, .id_15bit = d->picture_id_15bit,
                     .id = d->picture_id, .has_tl0 = d->has_tl0picidx, .tl0 = d->tl0picidx,
                     .tid = d->tid};
}

void picmap_init(picmap *m)
{
    memset(m, 0, sizeof *m);
    m->pic_resync = true;
    m->tl0_resync = true;
}

void picmap_resync(picmap *m)
{
    m->pic_resync = true;
    m->tl0_resync = true;
}

static uint16_t out_id(const picmap *m, uint32_t in)
{
    return (uint16_t)((in + m->pic_offset) & PIC_MASK);
}

/* The first picture of a source continues the outgoing sequence (or, the very first time,
 * keeps its own id); its predecessor is taken as the newest picture seen. */
static void start_source(picmap *m, uint16_t picture_id)
{
    if (!m->pic_started) m->last_out_pic = (uint16_t)((picture_id - 1u) & PIC_MASK);
    m->max_in = (uint32_t)picture_id - 1u;
    m->pic_offset = (uint16_t)((m->last_out_pic + 1u - picture_id) & PIC_MASK);
    memset(m->history, 0, sizeof m->history);
    m->pic_resync = false;
}

/* Unwrap a 7- or 15-bit picture id to the one nearest the newest seen. */
static uint32_t unwrap(const picmap *m, const picture *p)
{
    uint32_t mod = p->id_15bit ? 0x8000u : 0x80u;
    uint32_t delta = ((uint32_t)p->id - m->max_in) & (mod - 1);
    return delta >= mod / 2 ? m->max_in + delta - mod : m->max_in + delta;
}

/* The history slot of p's picture. A picture newer than every one seen gets a slot (*fresh),
 * and the pictures skipped on the way are reserved, since they may still arrive. NULL when
 * the picture is older than the history remembers. */
static picmap_entry *picture_slot(picmap *m, const picture *p, bool *fresh)
{
    if (m->pic_resync) start_source(m, p->id);
    uint32_t in = unwrap(m, p);
    int32_t ahead = (int32_t)(in - m->max_in);
    *fresh = ahead > 0;
    if (ahead <= 0) {
        if (-ahead >= PICMAP_HISTORY) return NULL;
        picmap_entry *e = &m->history[in % PICMAP_HISTORY];
        return e->state != PICMAP_EMPTY && e->in == in ? e : NULL;
    }
    uint32_t first = (uint32_t)ahead > PICMAP_HISTORY ? in - (PICMAP_HISTORY - 1) : m->max_in + 1;
    for (uint32_t id = first; id != in; id++)
        m->history[id % PICMAP_HISTORY] =
            (picmap_entry){.in = id, .out = out_id(m, id), .state = PICMAP_RESERVED};
    m->max_in = in;
    picmap_entry *e = &m->history[in % PICMAP_HISTORY];
    *e = (picmap_entry){.in = in, .out = out_id(m, in), .state = PICMAP_RESERVED};
    return e;
}

void vp8_picmap_drop(picmap *m, const vp8_descriptor *d)
{
    if (!d->has_picture_id) return;
    picture p = vp8_picture(d);
    bool fresh;
    picmap_entry *e = picture_slot(m, &p, &fresh);
    if (!e || e->state != PICMAP_RESERVED) return; /* too old, or already decided */
    e->state = PICMAP_DROPPED;
    /* Only the newest picture can give its number away: later ones have none yet. */
    if (fresh) m->pic_offset = (uint16_t)((m->pic_offset - 1u) & PIC_MASK);
}

/* The outgoing picture id and TL0PICIDX of a forwarded packet of picture p (each only where p
 * has it). J_ENOTFOUND, with m unchanged, when the picture was dropped or is too old. */
static int map_picture(picmap *m, const picture *p, uint16_t *pic, uint8_t *tl0)
{
    *pic = 0;
    *tl0 = 0;
    if (p->has_id) {
        bool fresh;
        picmap_entry *e = picture_slot(m, p, &fresh);
        if (!e || e->state == PICMAP_DROPPED) return J_ENOTFOUND;
        e->state = PICMAP_FORWARDED;
        *pic = e->out;
        if (fresh) m->last_out_pic = *pic;
        m->pic_started = true;
    }
    if (p->has_tl0) {
        if (m->tl0_resync) {
            /* A new source's first TL0 picture follows the last TL0PICIDX sent; a higher-layer
             * picture (no keyframe to start from) stays in the last TL0 group. */
            uint8_t next = m->tl0_started ? (uint8_t)(m->last_out_tl0 + (p->tid == 0 ? 1 : 0))
                                          : p->tl0;
            m->tl0_offset = (uint8_t)(next - p->tl0);
            m->tl0_resync = false;
        }
        *tl0 = (uint8_t)(p->tl0 + m->tl0_offset);
        if (!m->tl0_started || (int8_t)(*tl0 - m->last_out_tl0) > 0) m->last_out_tl0 = *tl0;
        m->tl0_started = true;
    }
    return J_OK;
}

size_t vp8_picmap_rewrite_len(const vp8_descriptor *d)
{
    if (!d->has_picture_id && !d->has_tl0picidx && !d->has_tid && !d->has_keyidx) return 1;
    return 2 + (d->has_picture_id ? 2 : 0) + (d->has_tl0picidx ? 1 : 0) +
           (d->has_tid || d->has_keyidx ? 1 : 0);
}

/* RFC 7741 §4.2 descriptor from d's fields, with the mapped picture id (always M=1) and
 * TL0PICIDX. Reads nothing but d, so out may overlap the packet d was parsed from. */
static size_t write_vp8_descriptor(const vp8_descriptor *d, uint16_t pic, uint8_t tl0,
                                   uint8_t *out)
{
    bool ext = vp8_picmap_rewrite_len(d) > 1;
    size_t off = 0;
    out[off++] = (uint8_t)((ext ? 0x80 : 0) | (d->non_reference ? 0x20 : 0) |
                           (d->start_of_partition ? 0x10 : 0) | (d->partition_id & 0x07));
    if (!ext) return off;
    out[off++] = (uint8_t)((d->has_picture_id ? 0x80 : 0) | (d->has_tl0picidx ? 0x40 : 0) |
                           (d->has_tid ? 0x20 : 0) | (d->has_keyidx ? 0x10 : 0));
    if (d->has_picture_id) {
        out[off++] = (uint8_t)(0x80 | (pic >> 8));
        out[off++] = (uint8_t)pic;
    }
    if (d->has_tl0picidx) out[off++] = tl0;
    if (d->has_tid || d->has_keyidx)
        out[off++] = (uint8_t)((d->has_tid ? (d->tid << 6) | (d->layer_sync ? 0x20 : 0) : 0) |
                               (d->has_keyidx ? d->keyidx & 0x1f : 0));
    return off;
}

int vp8_picmap_rewrite(picmap *m, const vp8_descriptor *d, uint8_t *out, size_t cap)
{
    if (cap < vp8_picmap_rewrite_len(d)) return J_ESHORTBUF;
    picture p = vp8_picture(d);
    uint16_t pic;
    uint8_t tl0;
    int rc = map_picture(m, &p, &pic, &tl0);
    if (rc != J_OK) return rc;
    return (int)write_vp8_descriptor(d, pic, tl0, out);
}

size_t vp9_picmap_rewrite_len(const vp9_descriptor *d)
{
    return d->descriptor_len + (d->has_picture_id && !d->picture_id_15bit ? 1 : 0);
}

int vp9_picmap_rewrite(picmap *m, const vp9_descriptor *d, const uint8_t *payload, uint8_t *out,
                       size_t cap)
{
    size_t len = vp9_picmap_rewrite_len(d);
    if (cap < len) return J_ESHORTBUF;
    picture p = vp9_picture(d);
    uint16_t pic;
    uint8_t tl0;
    int rc = map_picture(m, &p, &pic, &tl0);
    if (rc != J_OK) return rc;
    /* RFC 9628 §4.2: the flags byte, the picture id, then (L) the layer byte and, in
     * non-flexible mode, TL0PICIDX; what follows (P_DIFFs, SS) is copied as it is. */
    size_t in_tail = 1 + (d->has_picture_id ? (d->picture_id_15bit ? 2u : 1u) : 0u);
    size_t out_tail = 1 + (d->has_picture_id ? 2u : 0u);
    memmove(out + out_tail, payload + in_tail, d->descriptor_len - in_tail);
    out[0] = payload[0];
    if (d->has_picture_id) {
        out[1] = (uint8_t)(0x80 | (pic >> 8));
        out[2] = (uint8_t)pic;
    }
    if (d->has_tl0picidx) out[out_tail + 1] = tl0;
    return (int)len;
}
