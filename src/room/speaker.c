/* speaker.c - active and dominant speaker detection from RFC 6464 audio levels. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "room/speaker.h"

room_speakers *room_speakers_new(size_t capacity, const room_speakers_config *cfg)
{
    if (capacity == 0 || capacity > INT_MAX) return NULL;
    room_speakers *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->slots = calloc(capacity, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    s->capacity = capacity;
    if (cfg) s->cfg = *cfg;
    room_speakers_config *c = &s->cfg;
    if (!c->silence_dbov || c->silence_dbov > 127)
        c->silence_dbov = ROOM_SPEAKERS_DEFAULT_SILENCE_DBOV;
    if (!c->noise_margin_db) c->noise_margin_db = ROOM_SPEAKERS_DEFAULT_NOISE_MARGIN_DB;
    if (!c->active_db) c->active_db = ROOM_SPEAKERS_DEFAULT_ACTIVE_DB;
    if (!c->switch_margin_db) c->switch_margin_db = ROOM_SPEAKERS_DEFAULT_SWITCH_MARGIN_DB;
    if (!c->smoothing_us) c->smoothing_us = ROOM_SPEAKERS_DEFAULT_SMOOTHING_US;
    if (!c->switch_after_us) c->switch_after_us = ROOM_SPEAKERS_DEFAULT_SWITCH_AFTER_US;
    s->dominant = s->challenger = -1;
    return s;
}

void room_speakers_free(room_speakers *s)
{
    if (!s) return;
    free(s->slots);
    free(s);
}

/* Loudness is 127 - level: 0 silence, 127 the loudest (0 dBov). */
static uint8_t silence_loudness(const room_speakers *s)
{
    return (uint8_t)(127 - s->cfg.silence_dbov);
}

static bool valid_slot(const room_speakers *s, int slot)
{
    return slot >= 0 && (size_t)slot < s->capacity && s->slots[slot].used;
}

int room_speakers_add(room_speakers *s, uint64_t key)
{
    int free_slot = -1;
    for (size_t i = 0; i < s->capacity; i++) {
        if (s->slots[i].used && s->slots[i].key == key) return (int)i;
        if (!s->slots[i].used && free_slot < 0) free_slot = (int)i;
    }
    if (free_slot < 0) return J_ELIMIT;
    room_speaker_slot *p = &s->slots[free_slot];
    memset(p, 0, sizeof *p);
    p->used = true;
    p->key = key;
    /* Until its background has been heard, a new source's is taken to be silence. */
    memset(p->floor_bucket, silence_loudness(s), sizeof p->floor_bucket);
    return free_slot;
}

void room_speakers_remove(room_speakers *s, int slot)
{
    if (!valid_slot(s, slot)) return;
    s->slots[slot].used = false;
    if (s->slots[slot].active) s->pending |= ROOM_SPEAKERS_ACTIVE_CHANGED;
    if (s->dominant == slot) {
        s->dominant = -1;
        s->pending |= ROOM_SPEAKERS_DOMINANT_CHANGED;
    }
    if (s->challenger == slot) s->challenger = -1;
}

void room_speakers_level(room_speakers *s, int slot, uint8_t level, bool voice)
{
    room_speakers_loudness(s, slot, voice && level < 127 ? 127u - level : 0, 1);
}

void room_speakers_loudness(room_speakers *s, int slot, uint32_t loudness_sum, uint32_t packets)
{
    if (!valid_slot(s, slot)) return;
    room_speaker_slot *p = &s->slots[slot];
    p->loudness_sum += loudness_sum;
    p->packets += packets;
}

/* The source's threshold: the silence level, or its background plus the margin. */
static double threshold(const room_speakers *s, const room_speaker_slot *p)
{
    uint8_t background = UINT8_MAX;
    for (int b = 0; b < ROOM_SPEAKERS_FLOOR_BUCKETS; b++)
        if (p->floor_bucket[b] < background) background = p->floor_bucket[b];
    double above_floor = (double)background + s->cfg.noise_margin_db;
    double silence = silence_loudness(s);
    return above_floor > silence ? above_floor : silence;
}

/* Fold one slot's interval in; true when its speaking state changed. */
static bool update_slot(room_speakers *s, room_speaker_slot *p, double alpha, bool new_bucket,
                        uint64_t now_us)
{
    double avg = p->packets ? (double)p->loudness_sum / p->packets : 0.0;
    p->loudness_sum = 0;
    p->packets = 0;
    uint8_t quiet = (uint8_t)avg;
    if (new_bucket || quiet < p->floor_bucket[s->bucket]) p->floor_bucket[s->bucket] = quiet;
    double th = threshold(s, p);
    double loud = avg > th ? avg - th : 0.0;
    p->score += alpha * (loud - p->score);
    /* Speaking starts above active_db and stops below half of it, so it does not flicker. */
    bool active = p->active ? p->score >= s->cfg.active_db / 2.0 : p->score > s->cfg.active_db;
    bool changed = active != p->active;
    p->active = active;
    if (active) {
        p->has_spoken = true;
        p->last_spoke_us = now_us;
    }
    return changed;
}

static int loudest_active(const room_speakers *s, int except)
{
    int best = -1;
    for (size_t i = 0; i < s->capacity; i++) {
        const room_speaker_slot *p = &s->slots[i];
        if (!p->used || !p->active || (int)i == except) continue;
        if (best < 0 || p->score > s->slots[best].score) best = (int)i;
    }
    return best;
}

/* The first to speak becomes dominant at once; after that a challenger must stay clearly
 * louder for switch_after_us. Nobody speaking keeps the last speaker. */
static void update_dominant(room_speakers *s, uint64_t now_us)
{
    if (s->dominant < 0) {
        s->dominant = loudest_active(s, -1);
        s->challenger = -1;
        return;
    }
    int c = loudest_active(s, s->dominant);
    if (c >= 0 && s->slots[c].score <= s->slots[s->dominant].score + s->cfg.switch_margin_db)
        c = -1;
    if (c < 0) {
        s->challenger = -1;
    } else if (c != s->challenger) {
        s->challenger = c;
        s->challenger_since_us = now_us;
    } else if (now_us - s->challenger_since_us >= s->cfg.switch_after_us) {
        s->dominant = c;
        s->challenger = -1;
    }
}

unsigned room_speakers_update(room_speakers *s, uint64_t now_us)
{
    uint64_t dt = 0;
    bool new_bucket = false;
    if (!s->updated) {
        s->updated = true;
        s->bucket_start_us = now_us;
    } else if (now_us > s->last_update_us) {
        dt = now_us - s->last_update_us;
    }
    s->last_update_us = now_us;
    if (now_us - s->bucket_start_us >= ROOM_SPEAKERS_FLOOR_BUCKET_US) {
        s->bucket = (uint8_t)((s->bucket + 1) % ROOM_SPEAKERS_FLOOR_BUCKETS);
        s->bucket_start_us = now_us;
        new_bucket = true;
    }
    double alpha = (double)dt / ((double)dt + s->cfg.smoothing_us);

    bool had_dominant = s->dominant >= 0;
    uint64_t dominant_key = had_dominant ? s->slots[s->dominant].key : 0;
    unsigned changed = s->pending;
    s->pending = 0;
    for (size_t i = 0; i < s->capacity; i++)
        if (s->slots[i].used && update_slot(s, &s->slots[i], alpha, new_bucket, now_us))
            changed |= ROOM_SPEAKERS_ACTIVE_CHANGED;
    update_dominant(s, now_us);
    bool has_dominant = s->dominant >= 0;
    if (has_dominant != had_dominant ||
        (has_dominant && s->slots[s->dominant].key != dominant_key))
        changed |= ROOM_SPEAKERS_DOMINANT_CHANGED;
    return changed;
}

bool room_speakers_dominant(const room_speakers *s, uint64_t *key)
{
    if (s->dominant < 0) return false;
    *key = s->slots[s->dominant].key;
    return true;
}

/* A total order over slots: more recently spoken first, then louder, then lower slot. */
static bool ranks_before(const room_speakers *s, int a, int b)
{
    const room_speaker_slot *x = &s->slots[a], *y = &s->slots[b];
    if (x->last_spoke_us != y->last_spoke_us) return x->last_spoke_us > y->last_spoke_us;
    if (x->score != y->score) return x->score > y->score;
    return a < b;
}

/* The slot ranked next after `after` (-1: the first) among those that have spoken (and speak
 * now, with active_only); -1 when none is left. */
static int next_ranked(const room_speakers *s, int after, bool active_only)
{
    int best = -1;
    for (size_t i = 0; i < s->capacity; i++) {
        const room_speaker_slot *p = &s->slots[i];
        if (!p->used || !p->has_spoken || (active_only && !p->active)) continue;
        if (after >= 0 && !ranks_before(s, after, (int)i)) continue;
        if (best < 0 || ranks_before(s, (int)i, best)) best = (int)i;
    }
    return best;
}

size_t room_speakers_active(const room_speakers *s, room_speaker_level *out, size_t cap)
{
    size_t n = 0;
    /* Active sources all spoke at the last update, so this order is loudest first. */
    for (int i = next_ranked(s, -1, true); i >= 0 && n < cap; i = next_ranked(s, i, true))
        out[n++] = (room_speaker_level){.key = s->slots[i].key, .loudness_db = s->slots[i].score};
    return n;
}

size_t room_speakers_recent(const room_speakers *s, uint64_t *keys, size_t n)
{
    size_t count = 0;
    for (int i = next_ranked(s, -1, false); i >= 0 && count < n; i = next_ranked(s, i, false))
        keys[count++] = s->slots[i].key;
    return count;
}
