/* rtc_msg.h - the wire format of the room protocol (docs/PROTOCOL.md), both directions.
 *
 * rtc_msg_parse() turns one client frame into a validated, typed rtc_msg: every field's type,
 * length and character set is checked here, so the state machine (room.c) only decides.
 * The rtc_msg_* builders produce server messages as compact JSON text.
 * Signaling path only: jansson allocates while parsing and building.
 */
#ifndef J_ROOM_RTC_MSG_H
#define J_ROOM_RTC_MSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTC_MSG_DEFAULT_MAX_SIZE (256u * 1024u) /* rooms.max_message_size default */
#define RTC_MSG_ID_MAX 64      /* bytes of a string request id */
#define RTC_MSG_ROOM_MAX 64    /* bytes of a room name */
#define RTC_MSG_IDENTITY_MAX 64
#define RTC_MSG_NAME_MAX 64
#define RTC_MSG_RESUME_MAX 64  /* bytes of a resume session */
#define RTC_MSG_MID_MAX 32     /* bytes of a mid (an SDP token, RFC 8843) */
#define RTC_MSG_TRACK_ID_MAX 32
#define RTC_MSG_MAX_TRACKS 64  /* entries of publish.tracks and of subscribe.tracks */
#define RTC_MSG_LAST_N_MAX 1000 /* set_subscription.last_n */
#define RTC_MSG_TILE_MAX 16384  /* track_settings.width / height, device pixels */
#define RTC_MSG_LAYER_MAX 3     /* track_settings.max_spatial / max_temporal */
#define RTC_MSG_LAYER_ANY (-1)  /* a max_* of null: no preference */

typedef enum {
    RTC_MSG_JOIN,
    RTC_MSG_PUBLISH,
    RTC_MSG_SUBSCRIBE,
    RTC_MSG_MUTE,
    RTC_MSG_SET_SUBSCRIPTION,
    RTC_MSG_TRACK_SETTINGS,
    RTC_MSG_LEAVE,
    RTC_MSG_PING,
} rtc_msg_type;

typedef enum { RTC_ID_NONE, RTC_ID_STRING, RTC_ID_INT } rtc_id_kind;

/* A request's "id", echoed in its response or error. */
typedef struct rtc_msg_id {
    rtc_id_kind kind;
    char str[RTC_MSG_ID_MAX + 1];
    json_int_t num;
} rtc_msg_id;

typedef struct rtc_pub_entry {
    const char *mid;
    const char *source; /* one of "microphone" "camera" "screen" "screen_audio" "unknown" */
    bool muted;
} rtc_pub_entry;

typedef struct rtc_sub_entry {
    const char *mid;
    const char *track_id; /* NULL: the client mapped the mid to null (wants nothing on it) */
} rtc_sub_entry;

/* One validated client message. Its strings borrow from root: valid until rtc_msg_release. */
typedef struct rtc_msg {
    rtc_msg_type type;
    rtc_msg_id id;
    union {
        struct {
            const char *room;
            const char *token;    /* NULL when absent */
            const char *identity; /* NULL when absent */
            const char *name;     /* NULL when absent */
            const char *resume;   /* NULL when absent */
        } join;
        struct {
            const char *sdp;
            size_t sdp_len;
            size_t n_tracks;
            rtc_pub_entry tracks[RTC_MSG_MAX_TRACKS];
        } publish;
        struct {
            const char *sdp;
            size_t sdp_len;
            size_t n_tracks;
            rtc_sub_entry tracks[RTC_MSG_MAX_TRACKS];
        } subscribe;
        struct {
            const char *track;
            bool muted;
        } mute;
        struct {
            bool audio_only;
            int last_n; /* 0..RTC_MSG_LAST_N_MAX, -1: no limit */
        } subscription;
        struct {
            const char *track;
            bool visible;                   /* default true */
            int width, height;              /* 0..RTC_MSG_TILE_MAX, 0: unknown */
            int max_spatial, max_temporal;  /* 0..RTC_MSG_LAYER_MAX or RTC_MSG_LAYER_ANY */
        } settings;
    };
    json_t *root;
} rtc_msg;

/* Why a frame was refused: a PROTOCOL.md error code and a message naming the field. */
typedef struct rtc_msg_error {
    const char *code; /* "bad_message", "unknown_type" or "bad_request" */
    char message[160];
} rtc_msg_error;

/* rtc_msg_parse - validate one text frame of len bytes into out.
 *
 * Returns 0 (release out with rtc_msg_release), J_ELIMIT when len exceeds max_len (the
 * connection is to be closed with WebSocket code 1009; nothing is parsed), or J_EMALFORMED
 * with err filled. Duplicate object keys and \u0000 in strings are refused. On every return
 * out->id holds the request id if the frame had a valid one, so an error can echo it.
 */
int rtc_msg_parse(rtc_msg *out, const uint8_t *data, size_t len, size_t max_len,
                  rtc_msg_error *err);
void rtc_msg_release(rtc_msg *m);

/* rtc_msg_error_closes - whether an error with this code closes the connection (code 1008). */
bool rtc_msg_error_closes(const char *code);

/* ---- objects ------------------------------------------------------------------------ */
/* rtc_json_set - obj[key] = v, consuming v; a failure (NULL obj or v, no memory) clears *ok,
 * so that a message is never sent half-built. */
void rtc_json_set(json_t *obj, const char *key, json_t *v, bool *ok);

/* rtc_track_json - a track object; mid NULL leaves "mid" out. kind: 0 audio, 1 video. */
json_t *rtc_track_json(const char *id, const char *participant_sid, int kind, const char *source,
                       bool muted, const char *mid);
/* rtc_track_error_json - {track, participant, mid, error}: track_id (participant_sid's),
 * received on the subscriber's mid, cannot be decoded there (code and message, as
 * subscribe_answer's errors) or, with code NULL, can be again ("error": null). */
json_t *rtc_track_error_json(const char *track_id, const char *participant_sid, const char *mid,
                             const char *code, const char *message);
/* rtc_participant_json - a participant object; takes ownership of tracks (an array). */
json_t *rtc_participant_json(const char *sid, const char *identity, const char *name,
                             json_t *tracks);

/* ---- server messages ----------------------------------------------------------------
 * Each returns compact JSON text (malloc'd, NUL-terminated: free() it) or NULL when out of
 * memory. json_t arguments are consumed, even on failure. id may be NULL.
 */
char *rtc_msg_error_json(const rtc_msg_id *id, const char *code, const char *message);
/* rtc_msg_reply - a response without fields: "ack", "left" or "pong". */
char *rtc_msg_reply(const rtc_msg_id *id, const char *type);
/* track_errors: an array of rtc_track_error_json objects, the tracks this participant receives
 * but cannot decode now. */
char *rtc_msg_joined(const rtc_msg_id *id, json_t *self, const char *room, json_t *others,
                     json_t *track_errors, const char *session, uint32_t resume_grace_s,
                     bool resumed);
char *rtc_msg_publish_answer(const rtc_msg_id *id, const char *sdp, json_t *tracks);
/* tracks: an object mapping each mid to a track id string or null; errors: NULL, or an
 * object mapping a mid whose track could not be bound to {track, code, message}. */
char *rtc_msg_subscribe_answer(const rtc_msg_id *id, const char *sdp, json_t *tracks,
                               json_t *errors);
char *rtc_msg_participant_joined(json_t *participant);
char *rtc_msg_participant_left(const char *sid, const char *identity, const char *reason);
char *rtc_msg_track_published(json_t *track);
char *rtc_msg_track_unpublished(const char *track_id, const char *participant_sid);
char *rtc_msg_track_muted(const char *track_id, const char *participant_sid, bool muted);
/* rtc_msg_track_error - to a subscriber: rtc_track_error_json's fields as an event. */
char *rtc_msg_track_error(const char *track_id, const char *participant_sid, const char *mid,
                          const char *code, const char *message);
/* participants: an array of {sid, quality}. */
char *rtc_msg_connection_quality(json_t *participants);
/* speakers: an array of sids, loudest first; dominant NULL when there is none. */
char *rtc_msg_active_speakers(json_t *speakers, const char *dominant);
char *rtc_msg_closed(const char *reason, const char *message);
/* rtc_msg_media_closed - to the participant whose media connections the server ended. */
char *rtc_msg_media_closed(const char *reason);

#endif
