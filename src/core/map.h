/* map.h - a chained hash map from byte-string keys to pointers.
 *
 * Used for the worker's lookup tables (peers by ICE ufrag, by transport
 * address, by session id; streams by name). Inserts and removals allocate
 * and belong to the control path; lookups do not allocate.
 */
#ifndef J_CORE_MAP_H
#define J_CORE_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct j_map_entry {
    struct j_map_entry *next;
    uint32_t hash;
    size_t key_len;
    void *value;
    uint8_t key[]; /* copied */
} j_map_entry;

typedef struct j_map {
    j_map_entry **buckets;
    size_t n_buckets; /* power of two, 0 before the first insert */
    size_t count;
} j_map;

/* j_map_put - insert or replace; J_OK or J_ENOMEM. */
int j_map_put(j_map *m, const void *key, size_t key_len, void *value);
void *j_map_get(const j_map *m, const void *key, size_t key_len);
/* j_map_remove - remove and return the value (NULL if absent). */
void *j_map_remove(j_map *m, const void *key, size_t key_len);
/* j_map_clear - free every entry and the bucket array (values are not touched). */
void j_map_clear(j_map *m);

#endif
