/* dd_test_support.h - writing Dependency Descriptors bit by bit, for tests (dd_test.c, the
 * SFU's track_test.c): the mandatory fields, a template dependency structure described as the
 * spec's tables write it, a keyframe's descriptor. Test-only: its helpers fail the running
 * cmocka test when a descriptor outgrows the writer. */
#ifndef J_CODEC_DD_TEST_SUPPORT_H
#define J_CODEC_DD_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "codec/dd.h"

typedef struct {
    uint8_t buf[512];
    size_t bits;
} dd_bit_writer;

static inline void dd_put(dd_bit_writer *w, uint32_t v, unsigned n)
{
    for (unsigned i = n; i-- > 0; w->bits++) {
        assert_true(w->bits < sizeof w->buf * 8);
        if ((v >> i) & 1u) w->buf[w->bits >> 3] |= (uint8_t)(0x80u >> (w->bits & 7));
    }
}

/* ns(n) encoding of v < n (the inverse of the spec's ns(n) reader). */
static inline void dd_put_ns(dd_bit_writer *w, uint32_t n, uint32_t v)
{
    unsigned width = 0;
    for (uint32_t x = n; x != 0; x >>= 1) width++;
    uint32_t m = (1u << width) - n;
    if (v < m) {
        dd_put(w, v, width - 1);
    } else {
        dd_put(w, (v + m) >> 1, width - 1);
        dd_put(w, (v + m) & 1u, 1);
    }
}

static inline size_t dd_bytes_of(const dd_bit_writer *w) { return (w->bits + 7) / 8; }

static inline void dd_put_mandatory(dd_bit_writer *w, bool sof, bool eof,
                                    unsigned template_id, unsigned frame_number)
{
    dd_put(w, sof, 1);
    dd_put(w, eof, 1);
    dd_put(w, template_id, 6);
    dd_put(w, frame_number, 16);
}

/* A template as the spec's tables write it: S, T, fdiffs, chain fdiffs, DTIs ("SSD-"). */
typedef struct {
    unsigned s, t;
    unsigned fdiff_count;
    unsigned fdiffs[4];
    unsigned chains[4];
    const char *dtis;
} dd_template_spec;

typedef struct {
    unsigned offset;
    unsigned dt_count;
    unsigned chain_count;
    unsigned protected_by[8];
    unsigned template_count;
    dd_template_spec templates[8];
    unsigned width[4], height[4]; /* 0: no resolutions */
} dd_structure_spec;

static inline unsigned dd_dti_of(char c)
{
    switch (c) {
    case 'D': return DD_DTI_DISCARDABLE;
    case 'S': return DD_DTI_SWITCH;
    case 'R': return DD_DTI_REQUIRED;
    default: return DD_DTI_NOT_PRESENT;
    }
}

static inline void dd_put_structure(dd_bit_writer *w, const dd_structure_spec *s)
{
    dd_put(w, s->offset, 6);
    dd_put(w, s->dt_count - 1, 5);
    for (unsigned i = 0; i < s->template_count; i++) {
        unsigned idc = 3;
        if (i + 1 < s->template_count) {
            const dd_template_spec *a = &s->templates[i], *b = &s->templates[i + 1];
            idc = b->s == a->s && b->t == a->t ? 0 : b->s == a->s ? 1 : 2;
        }
        dd_put(w, idc, 2);
    }
    for (unsigned i = 0; i < s->template_count; i++)
        for (unsigned dt = 0; dt < s->dt_count; dt++)
            dd_put(w, dd_dti_of(s->templates[i].dtis[dt]), 2);
    for (unsigned i = 0; i < s->template_count; i++) {
        for (unsigned k = 0; k < s->templates[i].fdiff_count; k++) {
            dd_put(w, 1, 1);
            dd_put(w, s->templates[i].fdiffs[k] - 1, 4);
        }
        dd_put(w, 0, 1);
    }
    dd_put_ns(w, s->dt_count + 1, s->chain_count);
    if (s->chain_count) {
        for (unsigned dt = 0; dt < s->dt_count; dt++)
            dd_put_ns(w, s->chain_count, s->protected_by[dt]);
        for (unsigned i = 0; i < s->template_count; i++)
            for (unsigned c = 0; c < s->chain_count; c++) dd_put(w, s->templates[i].chains[c], 4);
    }
    dd_put(w, s->width[0] != 0, 1);
    if (s->width[0]) {
        unsigned max_s = s->templates[s->template_count - 1].s;
        for (unsigned i = 0; i <= max_s; i++) {
            dd_put(w, s->width[i] - 1, 16);
            dd_put(w, s->height[i] - 1, 16);
        }
    }
}

/* A keyframe's descriptor: mandatory fields, the extended flags, the structure. */
static inline void dd_put_keyframe(dd_bit_writer *w, const dd_structure_spec *s,
                                   unsigned template_id, unsigned frame_number)
{
    dd_put_mandatory(w, true, true, template_id, frame_number);
    dd_put(w, 1, 1); /* template_dependency_structure_present_flag */
    dd_put(w, 0, 4); /* active decode targets, custom dtis / fdiffs / chains */
    dd_put_structure(w, s);
}

#endif
