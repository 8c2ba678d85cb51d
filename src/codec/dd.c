/* dd.c - AV1 Dependency Descriptor RTP header extension (AV1 RTP spec, Appendix A). */
#include <string.h>

#include "codec/dd.h"
#include "core/err.h"

/* A bit reader over the extension's bytes, most significant bit first. Reading past the end
 * yields zeros and sets overrun, checked once the whole descriptor has been read. */
typedef struct {
    const uint8_t *data;
    size_t bits;
    size_t pos;
    bool overrun;
} bit_reader;

/* f(n), n <= 32 */
static uint32_t read_bits(bit_reader *r, unsigned n)
{
    if (r->bits - r->pos < n) {
        r->overrun = true;
        r->pos = r->bits;
        return 0;
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++, r->pos++)
        v = (v << 1) | ((r->data[r->pos >> 3] >> (7 - (r->pos & 7))) & 1u);
    return v;
}

/* ns(n), n >= 1: a value in 0..n-1 in w-1 or w bits, w the bit width of n. */
static uint32_t read_ns(bit_reader *r, uint32_t n)
{
    unsigned w = 0;
    for (uint32_t x = n; x != 0; x >>= 1) w++;
    uint32_t m = (1u << w) - n;
    uint32_t v = read_bits(r, w - 1);
    if (v < m) return v;
    return (v << 1) - m + read_bits(r, 1);
}

void dd_structure_init(dd_structure *st) { memset(st, 0, sizeof *st); }

static uint32_t all_targets(uint8_t count)
{
    return count >= 32 ? UINT32_MAX : (1u << count) - 1;
}

/* template_layers(): each template's spatial and temporal id, by next_layer_idc steps. */
static int read_template_layers(dd_structure *st, bit_reader *r)
{
    uint8_t spatial = 0, temporal = 0;
    for (;;) {
        if (st->template_count == DD_MAX_TEMPLATES) return J_EMALFORMED;
        dd_template *t = &st->templates[st->template_count++];
        t->spatial_id = spatial;
        t->temporal_id = temporal;
        uint32_t next_layer_idc = read_bits(r, 2);
        if (r->overrun) return J_ESHORT;
        if (next_layer_idc == 3) break;
        if (next_layer_idc == 1) {
            if (++temporal >= DD_MAX_TEMPORAL_LAYERS) return J_EMALFORMED;
            if (temporal > st->max_temporal_id) st->max_temporal_id = temporal;
        } else if (next_layer_idc == 2) {
            temporal = 0;
            if (++spatial >= DD_MAX_SPATIAL_LAYERS) return J_EMALFORMED;
        }
    }
    st->max_spatial_id = spatial;
    return 0;
}

/* template_dependency_structure(), into a zeroed *st. */
static int read_structure(dd_structure *st, bit_reader *r)
{
    st->template_id_offset = (uint8_t)read_bits(r, 6);
    st->decode_target_count = (uint8_t)(read_bits(r, 5) + 1);
    int rc = read_template_layers(st, r);
    if (rc < 0) return rc;
    for (uint8_t t = 0; t < st->template_count; t++)
        for (uint8_t dt = 0; dt < st->decode_target_count; dt++)
            st->templates[t].dti[dt] = (uint8_t)read_bits(r, 2);
    for (uint8_t t = 0; t < st->template_count; t++) {
        dd_template *tp = &st->templates[t];
        while (read_bits(r, 1)) { /* fdiff_follows_flag */
            if (tp->fdiff_count == DD_MAX_FDIFFS) return J_EUNSUPPORTED;
            tp->fdiff[tp->fdiff_count++] = (uint8_t)(read_bits(r, 4) + 1);
        }
    }
    st->chain_count = (uint8_t)read_ns(r, st->decode_target_count + 1u);
    if (st->chain_count > 0) {
        for (uint8_t dt = 0; dt < st->decode_target_count; dt++)
            st->decode_target_protected_by[dt] = (uint8_t)read_ns(r, st->chain_count);
        for (uint8_t t = 0; t < st->template_count; t++)
            for (uint8_t c = 0; c < st->chain_count; c++)
                st->templates[t].chain_fdiff[c] = (uint8_t)read_bits(r, 4);
    }
    st->has_resolutions = read_bits(r, 1) != 0;
    if (st->has_resolutions) {
        for (uint8_t s = 0; s <= st->max_spatial_id; s++) {
            st->width[s] = (uint16_t)(read_bits(r, 16) + 1);
            st->height[s] = (uint16_t)(read_bits(r, 16) + 1);
        }
    }
    if (r->overrun) return J_ESHORT;

    for (uint8_t dt = 0; dt < st->decode_target_count; dt++) {
        for (uint8_t t = 0; t < st->template_count; t++) {
            const dd_template *tp = &st->templates[t];
            if (tp->dti[dt] == DD_DTI_NOT_PRESENT) continue;
            if (tp->spatial_id > st->decode_target_spatial[dt])
                st->decode_target_spatial[dt] = tp->spatial_id;
            if (tp->temporal_id > st->decode_target_temporal[dt])
                st->decode_target_temporal[dt] = tp->temporal_id;
        }
    }
    st->active_decode_targets = all_targets(st->decode_target_count);
    st->valid = true;
    return 0;
}

/* frame_fdiffs(): fdiff_minus_one in next_fdiff_size nibbles, until a size of 0. */
static int read_frame_fdiffs(dd_frame *f, bit_reader *r)
{
    for (uint32_t size = read_bits(r, 2); size != 0; size = read_bits(r, 2)) {
        if (f->fdiff_count == DD_MAX_FDIFFS) return J_EUNSUPPORTED;
        f->fdiff[f->fdiff_count++] = (uint16_t)(read_bits(r, 4 * size) + 1);
    }
    return 0;
}

/* Appendix A.4.1:
 *
 *   mandatory_descriptor_fields: start_of_frame f(1), end_of_frame f(1),
 *                                frame_dependency_template_id f(6), frame_number f(16)
 *   extended (only when the element is longer than 3 bytes):
 *       template_dependency_structure_present_flag, active_decode_targets_present_flag,
 *       custom_dtis_flag, custom_fdiffs_flag, custom_chains_flag: f(1) each;
 *       [template_dependency_structure]; [active_decode_targets_bitmask f(DtisCnt)]
 *   frame_dependency_definition: the template's fields, each replaced by custom frame_dtis
 *       (f(2) per decode target), frame_fdiffs, frame_chains (f(8) per chain) when flagged
 *   zero_padding up to the element's length
 */
int dd_parse(dd_frame *out, dd_structure *st, const uint8_t *data, size_t len)
{
    if (len < 3) return J_ESHORT;
    bit_reader r = {.data = data, .bits = len * 8, .pos = 0, .overrun = false};
    dd_frame f;
    memset(&f, 0, sizeof f);
    f.start_of_frame = read_bits(&r, 1) != 0;
    f.end_of_frame = read_bits(&r, 1) != 0;
    f.template_id = (uint8_t)read_bits(&r, 6);
    f.frame_number = (uint16_t)read_bits(&r, 16);
    if (len > 3) {
        f.has_structure = read_bits(&r, 1) != 0;
        f.has_active_decode_targets = read_bits(&r, 1) != 0;
        f.custom_dtis = read_bits(&r, 1) != 0;
        f.custom_fdiffs = read_bits(&r, 1) != 0;
        f.custom_chains = read_bits(&r, 1) != 0;
    }

    /* A carried structure is read aside and installed only if the whole element parses. */
    dd_structure carried;
    const dd_structure *s = st;
    if (f.has_structure) {
        memset(&carried, 0, sizeof carried);
        int rc = read_structure(&carried, &r);
        if (rc < 0) return rc;
        s = &carried;
    }
    if (!s->valid) return J_ESTATE;
    f.active_decode_targets = s->active_decode_targets;
    if (f.has_active_decode_targets)
        f.active_decode_targets = read_bits(&r, s->decode_target_count);

    uint8_t index = (uint8_t)((f.template_id + DD_MAX_TEMPLATES - s->template_id_offset) %
                              DD_MAX_TEMPLATES);
    if (index >= s->template_count) return r.overrun ? J_ESHORT : J_ENOTFOUND;
    const dd_template *t = &s->templates[index];
    f.spatial_id = t->spatial_id;
    f.temporal_id = t->temporal_id;
    f.decode_target_count = s->decode_target_count;
    f.chain_count = s->chain_count;
    if (f.custom_dtis) {
        for (uint8_t dt = 0; dt < s->decode_target_count; dt++)
            f.dti[dt] = (uint8_t)read_bits(&r, 2);
    } else {
        memcpy(f.dti, t->dti, sizeof f.dti);
    }
    if (f.custom_fdiffs) {
        int rc = read_frame_fdiffs(&f, &r);
        if (rc < 0) return rc;
    } else {
        f.fdiff_count = t->fdiff_count;
        for (uint8_t i = 0; i < t->fdiff_count; i++) f.fdiff[i] = t->fdiff[i];
    }
    if (f.custom_chains) {
        for (uint8_t c = 0; c < s->chain_count; c++) f.chain_fdiff[c] = (uint8_t)read_bits(&r, 8);
    } else {
        memcpy(f.chain_fdiff, t->chain_fdiff, sizeof f.chain_fdiff);
    }
    if (s->has_resolutions) {
        f.has_resolution = true;
        f.width = s->width[f.spatial_id];
        f.height = s->height[f.spatial_id];
    }
    if (r.overrun) return J_ESHORT;

    if (f.has_structure) *st = carried;
    st->active_decode_targets = f.active_decode_targets;
    *out = f;
    return 0;
}

int dd_decode_target_for(const dd_structure *st, uint8_t max_spatial, uint8_t max_temporal)
{
    if (!st->valid) return J_ENOTFOUND;
    int best = J_ENOTFOUND;
    for (uint8_t dt = 0; dt < st->decode_target_count; dt++) {
        if (!(st->active_decode_targets & (1u << dt))) continue;
        uint8_t s = st->decode_target_spatial[dt], t = st->decode_target_temporal[dt];
        if (s > max_spatial || t > max_temporal) continue;
        if (best < 0 || s > st->decode_target_spatial[best] ||
            (s == st->decode_target_spatial[best] && t > st->decode_target_temporal[best]))
            best = dt;
    }
    return best;
}
