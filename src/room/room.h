/* room.h - conference rooms: the registry of rooms and the /rtc protocol state machine.
 *
 * docs/PROTOCOL.md is the contract. This module owns rooms, participants, their published
 * tracks, sessions (resume) and every protocol decision; it knows nothing of sockets, clocks,
 * SDP or tokens. The glue feeds it WebSocket events and the time (now_us, monotonic), and
 * room_io carries everything outward: frames to send, connections to close, token checks and
 * the media plane (SDP offers in, answers out). Calls into room_io happen synchronously from
 * the room_* functions; a callback must not call back into room_* functions, except the
 * read-only room_participant_room.
 *
 * Speaker state lives here too: each room has a detector (room/speaker.h) with one source
 * per participant. Every ROOM_SPEAKERS_INTERVAL_US the room asks the media plane, in one
 * room_io.audio_levels call, for what each microphone sent since the last time, updates the
 * detectors, sends active_speakers where they changed (at most one per room every
 * ROOM_SPEAKERS_EVENT_GAP_US) and re-applies the subscriptions that follow speakers
 * (set_subscription's last_n) through room_io.set_paused.
 *
 * Signaling path only: rooms and participants are created a few per second, so it allocates
 * and logs freely (every refused request is logged at info level with the peer's IP).
 */
#ifndef J_ROOM_ROOM_H
#define J_ROOM_ROOM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROOM_ID_LEN 16 /* "PA_" / "TR_" + 12 base32 characters + NUL */
#define ROOM_QUALITY_INTERVAL_US 2000000u
#define ROOM_SPEAKERS_INTERVAL_US 200000u  /* audio levels read, speakers updated */
#define ROOM_SPEAKERS_EVENT_GAP_US 500000u /* between two active_speakers of a room */

typedef struct room_server room_server;

/* One WebSocket, numbered by the glue; never reused while room_server knows it. */
typedef uint64_t room_conn_id;

typedef struct room_limits {
    int max_participants;           /* per room, >= 1; counts participants awaiting resume */
    int max_tracks_per_participant; /* >= 0; above RTC_MSG_MAX_TRACKS (64) acts as 64 */
    int max_messages_per_second;    /* per connection, >= 1; bursts of twice that pass */
    uint32_t empty_timeout_s;       /* an empty room is closed this long after it emptied */
    uint32_t resume_grace_s;        /* a participant whose WebSocket dropped waits this long */
    size_t max_message_size;        /* bytes of one frame; 0 = RTC_MSG_DEFAULT_MAX_SIZE */
} room_limits;

/* What a join may do, from the token (or, in open mode, from the join itself). */
typedef struct room_grants {
    char identity[65], name[65], room[65];
    bool publish, subscribe, admin;
} room_grants;

/* One entry of a publish: in mid, track_id (assigned by the room: a mid published before
 * keeps its id), source and muted; out kind: 0 audio, 1 video, -1 rejected (not published). */
typedef struct room_pub_track {
    char mid[33];
    char track_id[33];
    char source[16];
    bool muted;
    int kind;
} room_pub_track;

#define ROOM_REFUSAL_LEN 256

/* One entry of a subscribe: in track_id is the track wanted on mid ("" none: the room has
 * already dropped tracks the participant may not receive), and undecodable says that mid
 * carries that track now but cannot decode it (room_track_error): it stays bound all the
 * same. Out track_id is the track bound to mid ("" when none), and no_codec, when not "",
 * why the track wanted could not be bound: its publisher sends no codec the subscriber's
 * offer accepts (the client is told). */
typedef struct room_sub_pair {
    char mid[33];
    char track_id[33];
    bool undecodable;
    char no_codec[ROOM_REFUSAL_LEN];
} room_sub_pair;

/* The media plane's view of one participant's two connections. A *_connected flag is false
 * both when the connection does not exist and when it is not (or no longer) connected. Loss
 * is a fraction (0..1) of packets lost recently; rtt_ms 0 = not measured. */
typedef struct room_media_stats {
    bool pub_connected, sub_connected;
    double pub_loss, sub_loss;
    uint32_t rtt_ms;
} room_media_stats;

/* One audio track's levels, for room_io.audio_levels. in: track_id. out: the RFC 6464 levels
 * its source sent since the last call, summed: loudness_sum over the packets of 127 - level
 * for a packet with voice and 0 for one without, and how many packets carried a level (0 and
 * 0 when the track is not known, or nothing came). */
typedef struct room_audio_level {
    const char *track_id;
    uint32_t loudness_sum, packets;
} room_audio_level;

/* What one subscriber receives of one video track (track_settings and the admin API's cap
 * combined): visibility, tile size in device pixels (0: unknown), preferred maximum spatial
 * and temporal layers (-1: none). */
typedef struct room_track_layers {
    bool visible;
    int width, height;
    int max_spatial, max_temporal;
} room_track_layers;

typedef struct room_io {
    void *ctx;
    /* send - queue one text frame of len bytes on connection c. */
    void (*send)(void *ctx, room_conn_id c, const char *json, size_t len);
    /* close - close c with ws_code after the frames already queued; the glue reports the end
     * with room_conn_closed() later, never from inside this call. */
    void (*close)(void *ctx, room_conn_id c, int ws_code, const char *reason);
    /* authenticate - NULL when the join may proceed, with out filled (identity non-empty;
     * name "" = the identity); else a PROTOCOL.md error code ("token_expired") and a message
     * in msg. token is NULL when absent. It must refuse a token for a room other than room.
     * Open mode is the glue's business: it fills out from identity and name then. */
    const char *(*authenticate)(void *ctx, const char *token, const char *room,
                                const char *identity, const char *name, room_grants *out,
                                char *msg, size_t cap);
    /* publish / subscribe - apply an offer for participant sid's publish / subscribe connection
     * (created on first use). Return 0 with *answer set to the SDP answer, malloc'd and
     * NUL-terminated (the room frees it), and the out fields of the entries filled; or
     * non-zero with *err_code a PROTOCOL.md code ("sdp_invalid", "sdp_unsupported",
     * "server_busy"; NULL means "internal") and a message in msg, having changed nothing. */
    int (*publish)(void *ctx, const char *sid, const char *sdp, size_t sdp_len,
                   room_pub_track *tracks, size_t n, char **answer, const char **err_code,
                   char *msg, size_t cap);
    int (*subscribe)(void *ctx, const char *sid, const char *sdp, size_t sdp_len,
                     room_sub_pair *pairs, size_t n, char **answer, const char **err_code,
                     char *msg, size_t cap);
    /* set_muted - stop (muted) or resume forwarding a published track. */
    void (*set_muted)(void *ctx, const char *track_id, bool muted);
    /* remove_media - close both connections of participant sid, if any; its tracks are gone. */
    void (*remove_media)(void *ctx, const char *sid);
    /* media_stats - false when participant sid has no media connection at all. */
    bool (*media_stats)(void *ctx, const char *sid, room_media_stats *out);
    /* audio_levels - fill the out fields of n entries (see room_audio_level). */
    void (*audio_levels)(void *ctx, room_audio_level *entries, size_t n);
    /* set_paused - participant sid's subscribe connection, if any, stops receiving the n
     * tracks of track_ids and receives every other track it is bound to; a resumed video
     * track starts again at a keyframe. Streams stay bound, so resuming is immediate. */
    void (*set_paused)(void *ctx, const char *sid, const char *const *track_ids, size_t n);
    /* set_layers - participant sid's subscribe connection, if any, receives track_id as
     * layers says (nothing happens while the track is not bound to it). */
    void (*set_layers)(void *ctx, const char *sid, const char *track_id,
                       const room_track_layers *layers);
} room_io;

/* room_server_new - an empty registry; NULL if a limit is out of range, a callback is
 * missing or memory is short. limits and io are copied. */
room_server *room_server_new(const room_limits *limits, const room_io *io);
/* room_server_free - drop everything without calling io (the glue is shutting down). */
void room_server_free(room_server *rs);

/* room_conn_open - a WebSocket on /rtc was accepted; peer_ip names it in the log. */
void room_conn_open(room_server *rs, room_conn_id c, const char *peer_ip, uint64_t now_us);
/* room_conn_message - one text frame from c (its bytes, not NUL-terminated). */
void room_conn_message(room_server *rs, room_conn_id c, const uint8_t *data, size_t len,
                       uint64_t now_us);
/* room_conn_closed - c is gone (closed by either side). Its participant, if any, stays in the
 * room for resume_grace_s without anyone being told. */
void room_conn_closed(room_server *rs, room_conn_id c, uint64_t now_us);
/* room_media_closed - participant sid's media connections died (no ICE consent): its tracks
 * are unpublished; it stays in the room and may publish again over new connections. */
void room_media_closed(room_server *rs, const char *sid, uint64_t now_us);

/* room_track_error - participant sid's subscribe connection can no longer decode track_id,
 * which it receives on mid: reason says why (the words of subscribe_answer's errors), code
 * no_common_codec; or, with reason NULL, it can again. The participant gets track_error;
 * nothing happens when it is gone or the track is no longer in its room. */
void room_track_error(room_server *rs, const char *sid, const char *mid, const char *track_id,
                      const char *reason);

/* room_participant_room - the name of participant sid's room, NULL if no such participant.
 * The media plane places a room's sessions by it. */
const char *room_participant_room(const room_server *rs, const char *sid);

/* room_handle_timeout - remove participants whose grace ran out, close rooms empty for
 * empty_timeout_s, send connection_quality every ROOM_QUALITY_INTERVAL_US, and update the
 * speakers every ROOM_SPEAKERS_INTERVAL_US. */
void room_handle_timeout(room_server *rs, uint64_t now_us);
/* room_poll_timeout - when room_handle_timeout next has work; UINT64_MAX if never. */
uint64_t room_poll_timeout(const room_server *rs);

/* ---- the HTTP API's operations (authorisation is the caller's) -------------------------
 * now_us is the monotonic clock, unix_now_s the wall clock (Unix seconds) at the same
 * instant: rooms remember their creation on the former and report it ("created_at", Unix
 * seconds) on the latter. Returned json_t are new references. */

/* room_list_json - {"rooms":[{name, participants (count), created_at}]}. */
json_t *room_list_json(const room_server *rs, uint64_t now_us, int64_t unix_now_s);
/* room_get_json - {name, created_at, participants:[participant + state]}; NULL if no room. */
json_t *room_get_json(const room_server *rs, const char *name, uint64_t now_us,
                      int64_t unix_now_s);
/* room_close - every participant gets closed "room_closed" and is removed, the room goes.
 * J_OK or J_ENOTFOUND. */
int room_close(room_server *rs, const char *name, uint64_t now_us);
/* room_remove_participant - it gets closed "removed", the others participant_left "removed".
 * J_OK or J_ENOTFOUND (no such room or identity). */
int room_remove_participant(room_server *rs, const char *room, const char *identity,
                            uint64_t now_us);
/* room_mute_track - mute or unmute a track of room; everyone (its owner too) gets
 * track_muted when the state changes. *track_out (if track_out) is the track object.
 * J_OK, J_ENOTFOUND (no such room, or no such track in it) or J_ENOMEM. */
int room_mute_track(room_server *rs, const char *room, const char *track_id, bool muted,
                    json_t **track_out);
/* room_set_track_layers - the server's cap on the layers participant `identity` of room
 * receives of track_id (-1: no cap), which wins over the participant's own preference.
 * *out (if out) is the effective settings object. J_OK, J_ENOTFOUND (no such room,
 * participant or track in the room) or J_ENOMEM. */
int room_set_track_layers(room_server *rs, const char *room, const char *identity,
                          const char *track_id, int max_spatial, int max_temporal, json_t **out);

#endif
