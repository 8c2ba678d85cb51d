/* speaker.h - active and dominant speaker detection from RFC 6464 audio levels.
 *
 * Every audio packet of a publisher carries its level (0..127, in -dBov: 0 loudest, 127
 * silence) and a voice activity bit, in the client-to-mixer audio level header extension. A
 * room_speakers keeps one slot per audio source (a caller-chosen 64-bit key, e.g. the
 * participant) and, on each update:
 *   - measures each source's loudness over the interval, in dB above its threshold: the
 *     silence level, or the source's own background noise (the quietest it has been over the
 *     last ~10 s) plus a margin, whichever is higher; so a steady fan or hum stops counting
 *     once it has been heard for a while, and speech, which always pauses, keeps counting;
 *   - smooths that over a few hundred milliseconds; a source above a small threshold is
 *     speaking (active);
 *   - keeps a dominant speaker: the first to speak, replaced only by someone clearly louder
 *     (by a margin) for a sustained time (about a second), so short interjections and
 *     silence keep the last speaker;
 *   - remembers the order in which sources last spoke (for "the last N speakers' video").
 * room_speakers_level is the per-packet call: no allocation, no time, a few additions
 * (room_speakers_loudness takes many packets' worth at once). The rest runs on a timer. Not thread-safe: call everything from one thread.
 */
#ifndef J_ROOM_SPEAKER_H
#define J_ROOM_SPEAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct room_speakers_config {
    uint8_t silence_dbov;      /* levels at or below -silence_dbov dBov are silence */
    uint8_t noise_margin_db;   /* speech must be this far above the source's background */
    uint8_t active_db;         /* smoothed loudness (dB above threshold) to count as speaking */
    uint8_t switch_margin_db;  /* how much louder than the dominant speaker is "clearly" */
    uint32_t smoothing_us;     /* time constant of the smoothed loudness */
    uint32_t switch_after_us;  /* how long a challenger must stay clearly louder */
} room_speakers_config;

#define ROOM_SPEAKERS_DEFAULT_SILENCE_DBOV 65
#define ROOM_SPEAKERS_DEFAULT_NOISE_MARGIN_DB 10
#define ROOM_SPEAKERS_DEFAULT_ACTIVE_DB 3
#define ROOM_SPEAKERS_DEFAULT_SWITCH_MARGIN_DB 3
#define ROOM_SPEAKERS_DEFAULT_SMOOTHING_US 300000u
#define ROOM_SPEAKERS_DEFAULT_SWITCH_AFTER_US 1000000u

/* The background is the quietest interval over ROOM_SPEAKERS_FLOOR_BUCKETS buckets of
 * ROOM_SPEAKERS_FLOOR_BUCKET_US each. */
#define ROOM_SPEAKERS_FLOOR_BUCKETS 5
#define ROOM_SPEAKERS_FLOOR_BUCKET_US 2000000u

typedef struct room_speaker_slot {
    bool used;
    uint64_t key;
    /* since the last update (per packet) */
    uint32_t loudness_sum; /* of 127 - level over the packets */
    uint32_t packets;
    /* per update */
    uint8_t floor_bucket[ROOM_SPEAKERS_FLOOR_BUCKETS]; /* quietest loudness of each bucket */
    double score;          /* smoothed dB above threshold */
    bool active;
    bool has_spoken;
    uint64_t last_spoke_us;
} room_speaker_slot;

typedef struct room_speakers {
    room_speakers_config cfg;
    size_t capacity;
    room_speaker_slot *slots;
    int dominant;      /* slot, -1 none */
    int challenger;    /* slot clearly louder than the dominant one, -1 none */
    uint64_t challenger_since_us;
    bool updated;      /* an update has run */
    uint64_t last_update_us;
    uint64_t bucket_start_us;
    uint8_t bucket;    /* current floor bucket */
    unsigned pending;  /* ROOM_SPEAKERS_* changes made by room_speakers_remove */
} room_speakers;

/* One speaking source, for room_speakers_active. */
typedef struct room_speaker_level {
    uint64_t key;
    double loudness_db; /* smoothed dB above its threshold */
} room_speaker_level;

/* room_speakers_new - room for capacity sources; cfg NULL (or zero fields) takes the
 * defaults. NULL when out of memory or capacity is 0. */
room_speakers *room_speakers_new(size_t capacity, const room_speakers_config *cfg);
void room_speakers_free(room_speakers *s);

/* room_speakers_add - a source, by key; returns its slot (the key's existing slot if it is
 * already there) for room_speakers_level, or J_ELIMIT when full. */
int room_speakers_add(room_speakers *s, uint64_t key);

/* room_speakers_remove - forget a slot; if it was the dominant speaker there is none until
 * the next update picks one. */
void room_speakers_remove(room_speakers *s, int slot);

/* room_speakers_level - one audio packet's level (0..127, -dBov) and V bit (pass true when
 * the extension was negotiated without voice activity). A packet without voice counts as
 * silence. Invalid slots are ignored. */
void room_speakers_level(room_speakers *s, int slot, uint8_t level, bool voice);
/* room_speakers_loudness - packets' levels already summed elsewhere (the media plane): the
 * sum over them of 127 - level for a packet with voice, 0 without. Invalid slots are
 * ignored. */
void room_speakers_loudness(room_speakers *s, int slot, uint32_t loudness_sum, uint32_t packets);

#define ROOM_SPEAKERS_DOMINANT_CHANGED 1u
#define ROOM_SPEAKERS_ACTIVE_CHANGED 2u

/* room_speakers_update - fold the packets since the last update in, as of now_us. Call it
 * every 100-500 ms (intervals shorter than the packet spacing read as silence). Returns
 * ROOM_SPEAKERS_* flags for what changed: send the room its speaker events then. */
unsigned room_speakers_update(room_speakers *s, uint64_t now_us);

/* room_speakers_dominant - the dominant speaker's key; false when there is none. */
bool room_speakers_dominant(const room_speakers *s, uint64_t *key);

/* room_speakers_active - the sources speaking now, loudest first; at most cap; the count. */
size_t room_speakers_active(const room_speakers *s, room_speaker_level *out, size_t cap);

/* room_speakers_recent - the keys of the last n sources to have spoken, most recent first
 * (those speaking now first, loudest first); the count. */
size_t room_speakers_recent(const room_speakers *s, uint64_t *keys, size_t n);

#endif
