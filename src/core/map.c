/* map.c - chained hashing (FNV-1a), doubling at load factor 1. */
#include "core/map.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static uint32_t hash_bytes(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static j_map_entry **find_slot(const j_map *m, const void *key, size_t key_len, uint32_t h)
{
    j_map_entry **slot = &m->buckets[h & (m->n_buckets - 1)];
    while (*slot) {
        j_map_entry *e = *slot;
        if (e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
            return slot;
        slot = &e->next;
    }
    return slot;
}

static int grow(j_map *m)
{
    size_t n = m->n_buckets ? m->n_buckets * 2 : 16;
    j_map_entry **b = calloc(n, sizeof *b);
    if (!b) return J_ENOMEM;
    for (size_t i = 0; i < m->n_buckets; i++) {
        j_map_entry *e = m->buckets[i];
        while (e) {
            j_map_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = n;
    return J_OK;
}

int j_map_put(j_map *m, const void *key, size_t key_len, void *value)
{
    if (m->count >= m->n_buckets && grow(m) != J_OK) return J_ENOMEM;
    uint32_t h = hash_bytes(key, key_len);
    j_map_entry **slot = find_slot(m, key, key_len, h);
    if (*slot) {
        (*slot)->value = value;
        return J_OK;
    }
    j_map_entry *e = malloc(sizeof *e + key_len);
    if (!e) return J_ENOMEM;
    e->next = NULL;
    e->hash = h;
    e->key_len = key_len;
    e->value = value;
    memcpy(e->key, key, key_len);
    *slot = e;
    m->count++;
    return J_OK;
}

void *j_map_get(const j_map *m, const void *key, size_t key_len)
{
    if (m->count == 0) return NULL;
    j_map_entry **slot = find_slot(m, key, key_len, hash_bytes(key, key_len));
    return *slot ? (*slot)->value : NULL;
}

void *j_map_remove(j_map *m, const void *key, size_t key_len)
{
    if (m->count == 0) return NULL;
    j_map_entry **slot = find_slot(m, key, key_len, hash_bytes(key, key_len));
    j_map_entry *e = *slot;
    if (!e) return NULL;
    void *v = e->value;
    *slot = e->next;
    free(e);
    m->count--;
    return v;
}

void j_map_clear(j_map *m)
{
    for (size_t i = 0; i < m->n_buckets; i++) {
        j_map_entry *e = m->buckets[i];
        while (e) {
            j_map_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof *m);
}
