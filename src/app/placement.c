/* placement.c - home workers by name hash, subscribers of big streams and rooms by load. */
#include "app/placement.h"

#include <stdint.h>

int placement_home(const char *name, int workers)
{
    if (workers <= 1) return 0;
    /* FNV-1a: cheap, and spreads short similar names ("room1", "room2") well. */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return (int)(h % (uint32_t)workers);
}

int placement_subscriber(int home, size_t at_home, const size_t *downtracks, int workers,
                         size_t spread_threshold)
{
    if (workers <= 1) return 0;
    if (at_home <= spread_threshold) return home;
    int best = home;
    for (int w = 0; w < workers; w++)
        if (downtracks[w] < downtracks[best]) best = w;
    return best;
}
