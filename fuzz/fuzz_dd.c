/* fuzz_dd.c - AV1 Dependency Descriptor parsing across the packets of one stream.
 *
 * The input is a run of extension elements, each one length byte and that many bytes, parsed
 * in order against one dd_structure (so a structure from one element resolves the next).
 * Oracles: a refused element leaves the structure as it was; an accepted one resolves to a
 * template inside the structure's limits; decode target selection stays in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/dd.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_frame(const dd_frame *f, const dd_structure *st)
{
    if (!st->valid || st->template_count < 1 || st->template_count > DD_MAX_TEMPLATES) abort();
    if (st->decode_target_count < 1 || st->decode_target_count > DD_MAX_DECODE_TARGETS) abort();
    if (st->chain_count > st->decode_target_count) abort();
    if (f->spatial_id > st->max_spatial_id || st->max_spatial_id >= DD_MAX_SPATIAL_LAYERS) abort();
    if (f->temporal_id > st->max_temporal_id || st->max_temporal_id >= DD_MAX_TEMPORAL_LAYERS)
        abort();
    if (f->decode_target_count != st->decode_target_count || f->chain_count != st->chain_count)
        abort();
    for (uint8_t dt = 0; dt < f->decode_target_count; dt++) {
        if (f->dti[dt] > DD_DTI_REQUIRED) abort();
        if (st->chain_count && st->decode_target_protected_by[dt] >= st->chain_count) abort();
    }
    if (f->fdiff_count > DD_MAX_FDIFFS) abort();
    for (uint8_t i = 0; i < f->fdiff_count; i++)
        if (f->fdiff[i] < 1 || f->fdiff[i] > 4096) abort();
    if (f->active_decode_targets != st->active_decode_targets) abort();
    for (uint8_t s = 0; s <= 3; s++)
        for (uint8_t t = 0; t <= 7; t++) {
            int dt = dd_decode_target_for(st, s, t);
            if (dt == J_ENOTFOUND) continue;
            if (dt < 0 || dt >= st->decode_target_count) abort();
            if (!(st->active_decode_targets & (1u << dt))) abort();
            if (st->decode_target_spatial[dt] > s || st->decode_target_temporal[dt] > t) abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dd_structure st, before;
    dd_structure_init(&st);
    size_t off = 0;
    while (off < size) {
        size_t len = data[off++];
        if (len > size - off) len = size - off;
        before = st;
        dd_frame f;
        int rc = dd_parse(&f, &st, data + off, len);
        if (rc == 0) {
            check_frame(&f, &st);
        } else {
            if (rc != J_ESHORT && rc != J_EMALFORMED && rc != J_EUNSUPPORTED && rc != J_ESTATE &&
                rc != J_ENOTFOUND)
                abort();
            if (memcmp(&st, &before, sizeof st) != 0) abort();
        }
        off += len;
    }
    return 0;
}
