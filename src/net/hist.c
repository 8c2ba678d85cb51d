/* hist.c - log-linear histograms of microsecond values (net.h: j_hist). */
#include "net/net.h"

static unsigned hist_index(uint64_t v)
{
    if (v < 32) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 5 */
    unsigned sub = (unsigned)(v >> (msb - 4)) & 15u;
    unsigned idx = 32u + (msb - 5u) * 16u + sub;
    return idx < J_HIST_BUCKETS ? idx : J_HIST_BUCKETS - 1;
}

/* The smallest value of bucket i and the bucket's width. */
static void hist_bucket(unsigned i, uint64_t *low, uint64_t *width)
{
    if (i < 32) {
        *low = i;
        *width = 1;
        return;
    }
    unsigned msb = (i - 32u) / 16u + 5u, sub = (i - 32u) % 16u;
    *width = 1ull << (msb - 4);
    *low = (1ull << msb) + sub * *width;
}

void j_hist_add(j_hist *h, uint64_t value) { j_hist_add_n(h, value, 1); }

void j_hist_add_n(j_hist *h, uint64_t value, uint64_t n)
{
    if (n == 0) return;
    h->buckets[hist_index(value)] += n;
    h->count += n;
    if (value > h->max) h->max = value;
}

uint64_t j_hist_bucket_low(unsigned i)
{
    uint64_t low, width;
    hist_bucket(i, &low, &width);
    return low;
}

void j_hist_merge(j_hist *dst, const j_hist *src)
{
    for (unsigned i = 0; i < J_HIST_BUCKETS; i++) dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->max > dst->max) dst->max = src->max;
}

uint64_t j_hist_percentile(const j_hist *h, double q)
{
    if (h->count == 0) return 0;
    if (q >= 1.0) return h->max;
    if (q < 0) q = 0;
    /* The rank of the wanted sample, 1-based: the smallest value with at least q of the
     * samples at or below it. */
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count || rank == 0) rank++;
    uint64_t seen = 0;
    for (unsigned i = 0; i < J_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t low, width;
            hist_bucket(i, &low, &width);
            uint64_t mid = low + width / 2;
            return mid < h->max ? mid : h->max;
        }
    }
    return h->max;
}
