/* limits.c - per-client request rate (GCRA token buckets) and session counts. */
#include "app/limits.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void client_key_from_ip(client_key *k, const char *ip)
{
    memset(k, 0, sizeof *k);
    uint8_t a[16];
    if (!ip) return;
    if (inet_pton(AF_INET, ip, a) == 1) {
        k->len = 4;
        memcpy(k->bytes, a, 4);
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, v4_mapped, sizeof v4_mapped) == 0) {
            k->len = 4;
            memcpy(k->bytes, a + 12, 4);
        } else {
            k->len = 8; /* the /64 */
            memcpy(k->bytes, a, 8);
        }
    }
}

static bool key_equal(const client_key *a, const client_key *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* ---------------------------------------------------------------- rate limiter */

/* Generic cell rate algorithm: a client's bucket is one "theoretical arrival time". A
 * request at now is allowed when tat - now <= tolerance, and then moves tat one interval
 * later; tat <= now means a full bucket. */
#define RATE_WAYS 8

typedef struct rate_entry {
    uint64_t tat;
    client_key key;
    bool used;
    bool denying; /* refusing since the last full bucket */
} rate_entry;

struct rate_limiter {
    uint64_t interval_us;  /* one token */
    uint64_t tolerance_us; /* burst - 1 tokens */
    size_t set_mask;
    uint32_t seed;
    uint64_t denied;
    rate_entry *entries; /* (set_mask + 1) * RATE_WAYS */
};

rate_limiter *rate_limiter_new(uint32_t per_second, uint32_t burst, size_t clients,
                               uint32_t seed)
{
    if (per_second == 0 || burst == 0 || clients == 0 || clients > ((size_t)1 << 24))
        return NULL;
    size_t sets = 1;
    while (sets * RATE_WAYS < clients) sets <<= 1;
    rate_limiter *rl = calloc(1, sizeof *rl);
    if (!rl) return NULL;
    rl->entries = calloc(sets * RATE_WAYS, sizeof *rl->entries);
    if (!rl->entries) {
        free(rl);
        return NULL;
    }
    rl->interval_us = 1000000u / per_second;
    if (rl->interval_us == 0) rl->interval_us = 1;
    rl->tolerance_us = rl->interval_us * (burst - 1);
    rl->set_mask = sets - 1;
    rl->seed = seed;
    return rl;
}

void rate_limiter_free(rate_limiter *rl)
{
    if (!rl) return;
    free(rl->entries);
    free(rl);
}

static size_t set_of(const rate_limiter *rl, const client_key *k)
{
    uint32_t h = 2166136261u ^ rl->seed; /* FNV-1a, seeded */
    h = (h ^ k->len) * 16777619u;
    for (size_t i = 0; i < k->len; i++) h = (h ^ k->bytes[i]) * 16777619u;
    return (h ^ (h >> 16)) & rl->set_mask;
}

/* The client's entry, else a fresh one in place of an unused entry or the one whose
 * bucket is fullest (smallest tat). */
static rate_entry *rate_entry_for(rate_limiter *rl, const client_key *k, uint64_t now_us)
{
    rate_entry *set = &rl->entries[set_of(rl, k) * RATE_WAYS];
    rate_entry *victim = NULL;
    for (size_t i = 0; i < RATE_WAYS; i++) {
        rate_entry *e = &set[i];
        if (e->used && key_equal(&e->key, k)) return e;
        if (!victim || (victim->used && (!e->used || e->tat < victim->tat))) victim = e;
    }
    *victim = (rate_entry){.tat = now_us, .key = *k, .used = true};
    return victim;
}

rate_verdict rate_limiter_check(rate_limiter *rl, const client_key *k, uint64_t now_us)
{
    rate_entry *e = rate_entry_for(rl, k, now_us);
    if (e->tat <= now_us) {
        e->tat = now_us;
        e->denying = false;
    }
    if (e->tat - now_us > rl->tolerance_us) {
        rl->denied++;
        if (e->denying) return RATE_DENY;
        e->denying = true;
        return RATE_DENY_FIRST;
    }
    e->tat += rl->interval_us;
    return RATE_ALLOW;
}

uint64_t rate_limiter_denied(const rate_limiter *rl) { return rl->denied; }

/* ---------------------------------------------------------------- sessions */

typedef struct client_usage {
    int sessions;
    int half_open;
} client_usage;

typedef struct session_entry {
    client_key key;
    bool has_client; /* counted per client too */
    bool half_open;
} session_entry;

static const struct {
    const char *setting, *name;
    bool per_client;
} limit_info[LIMIT_KINDS] = {
    [LIMIT_NONE] = {"", "none", false},
    [LIMIT_SESSIONS] = {"limits.max_sessions", "sessions", false},
    [LIMIT_SUBSCRIBERS_PER_TRACK] = {"limits.max_subscribers_per_track", "subscribers_per_track",
                                     false},
    [LIMIT_SESSIONS_PER_CLIENT] = {"limits.max_sessions_per_ip", "sessions_per_ip", true},
    [LIMIT_HALF_OPEN] = {"limits.max_half_open", "half_open", false},
    [LIMIT_HALF_OPEN_PER_CLIENT] = {"limits.max_half_open_per_ip", "half_open_per_ip", true},
};

const char *limit_setting(limit_kind k) { return k < LIMIT_KINDS ? limit_info[k].setting : ""; }
const char *limit_name(limit_kind k) { return k < LIMIT_KINDS ? limit_info[k].name : "?"; }
bool limit_per_client(limit_kind k) { return k < LIMIT_KINDS && limit_info[k].per_client; }

/* Map key of a client: its length byte, then its bytes (so the shared key is not empty). */
static size_t usage_key(const client_key *k, uint8_t out[1 + sizeof k->bytes])
{
    out[0] = k->len;
    memcpy(out + 1, k->bytes, k->len);
    return 1u + k->len;
}

static client_usage *usage_of(const session_limits *sl, const client_key *k)
{
    uint8_t key[1 + sizeof k->bytes];
    size_t n = usage_key(k, key);
    return j_map_get(&sl->clients, key, n);
}

void session_limits_init(session_limits *sl, const session_limits_config *cfg)
{
    memset(sl, 0, sizeof *sl);
    sl->cfg = *cfg;
}

static void free_values(j_map *m)
{
    for (size_t b = 0; b < m->n_buckets; b++)
        for (j_map_entry *it = m->buckets[b]; it; it = it->next) free(it->value);
    j_map_clear(m);
}

void session_limits_clear(session_limits *sl)
{
    free_values(&sl->clients);
    free_values(&sl->sessions);
    sl->half_open = 0;
}

limit_kind session_limits_check(const session_limits *sl, const client_key *k)
{
    const client_usage *u = k ? usage_of(sl, k) : NULL;
    const session_limits_config *c = &sl->cfg;
    if (u && c->max_sessions_per_client > 0 && u->sessions >= c->max_sessions_per_client)
        return LIMIT_SESSIONS_PER_CLIENT;
    if (u && c->max_half_open_per_client > 0 && u->half_open >= c->max_half_open_per_client)
        return LIMIT_HALF_OPEN_PER_CLIENT;
    if (c->max_half_open > 0 && sl->half_open >= c->max_half_open) return LIMIT_HALF_OPEN;
    return LIMIT_NONE;
}

int session_limits_add(session_limits *sl, const char *id, const client_key *k)
{
    size_t id_len = strlen(id);
    if (j_map_get(&sl->sessions, id, id_len)) return J_EINVAL;
    uint8_t key[1 + sizeof k->bytes];
    size_t key_len = k ? usage_key(k, key) : 0;
    client_usage *u = k ? j_map_get(&sl->clients, key, key_len) : NULL;
    bool new_client = k && !u;
    if (new_client) {
        u = calloc(1, sizeof *u);
        if (!u || j_map_put(&sl->clients, key, key_len, u) != J_OK) {
            free(u);
            return J_ENOMEM;
        }
    }
    session_entry *s = malloc(sizeof *s);
    if (!s || j_map_put(&sl->sessions, id, id_len, s) != J_OK) {
        free(s);
        if (new_client) free(j_map_remove(&sl->clients, key, key_len));
        return J_ENOMEM;
    }
    *s = (session_entry){.half_open = true};
    if (u) {
        s->key = *k;
        s->has_client = true;
        u->sessions++;
        u->half_open++;
    }
    sl->half_open++;
    return J_OK;
}

void session_limits_established(session_limits *sl, const char *id)
{
    session_entry *s = j_map_get(&sl->sessions, id, strlen(id));
    if (!s || !s->half_open) return;
    s->half_open = false;
    sl->half_open--;
    client_usage *u = s->has_client ? usage_of(sl, &s->key) : NULL;
    if (u) u->half_open--;
}

void session_limits_remove(session_limits *sl, const char *id)
{
    session_entry *s = j_map_remove(&sl->sessions, id, strlen(id));
    if (!s) return;
    uint8_t key[1 + sizeof s->key.bytes];
    size_t key_len = usage_key(&s->key, key);
    client_usage *u = s->has_client ? j_map_get(&sl->clients, key, key_len) : NULL;
    if (s->half_open) sl->half_open--;
    if (u) {
        u->sessions--;
        if (s->half_open) u->half_open--;
        if (u->sessions == 0) free(j_map_remove(&sl->clients, key, key_len));
    }
    free(s);
}

void session_limits_count_refused(session_limits *sl, limit_kind k)
{
    if (k > LIMIT_NONE && k < LIMIT_KINDS) sl->refused[k]++;
}
