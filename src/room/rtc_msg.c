/* rtc_msg.c - parse and validate client messages, build server messages (docs/PROTOCOL.md). */
#include "room/rtc_msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* ---- parsing ------------------------------------------------------------------------ */

/* What a string field may contain, beyond its length. */
typedef enum {
    CHARS_ANY,   /* sdp, token: anything JSON can carry (jansson already refused \u0000) */
    CHARS_TEXT,  /* identity, name: no control characters */
    CHARS_ROOM,  /* A-Z a-z 0-9 _ - . */
    CHARS_TOKEN, /* an SDP token (RFC 8866 token-char): mids, track ids */
    CHARS_ALNUM, /* A-Z a-z 0-9: resume sessions */
} charset;

static bool is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool char_allowed(unsigned char c, charset cs)
{
    switch (cs) {
    case CHARS_ANY: return true;
    case CHARS_TEXT: return c >= 0x20 && c != 0x7f;
    case CHARS_ROOM: return is_alnum(c) || c == '_' || c == '-' || c == '.';
    case CHARS_TOKEN: return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`{|}~", c));
    case CHARS_ALNUM: return is_alnum(c);
    }
    return false;
}

static const char *const charset_names[] = {
    [CHARS_ANY] = "any", [CHARS_TEXT] = "no control characters",
    [CHARS_ROOM] = "A-Z a-z 0-9 _ - .", [CHARS_TOKEN] = "SDP token characters",
    [CHARS_ALNUM] = "A-Z a-z 0-9"};

/* A string field's rules: its length in bytes and its characters. */
typedef struct string_rule {
    size_t min, max;
    charset chars;
} string_rule;

static const string_rule rule_room = {1, RTC_MSG_ROOM_MAX, CHARS_ROOM};
static const string_rule rule_identity = {1, RTC_MSG_IDENTITY_MAX, CHARS_TEXT};
static const string_rule rule_name = {0, RTC_MSG_NAME_MAX, CHARS_TEXT};
static const string_rule rule_resume = {1, RTC_MSG_RESUME_MAX, CHARS_ALNUM};
static const string_rule rule_token = {0, SIZE_MAX, CHARS_ANY};
static const string_rule rule_sdp = {1, SIZE_MAX, CHARS_ANY};
static const string_rule rule_mid = {1, RTC_MSG_MID_MAX, CHARS_TOKEN};
static const string_rule rule_track_id = {1, RTC_MSG_TRACK_ID_MAX, CHARS_TOKEN};

static int fail(rtc_msg_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(rtc_msg_error *err, const char *code, const char *fmt, ...)
{
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* Messages quote client input, possibly cut mid-character: keep them plain ASCII so the
     * error itself is always valid JSON text. */
    for (char *c = err->message; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
    return J_EMALFORMED;
}

/* check_text - the n bytes of s must obey rule. */
static int check_text(const char *s, size_t n, const char *field, const string_rule *rule,
                      rtc_msg_error *err)
{
    if (n < rule->min || n > rule->max) {
        if (rule->max == SIZE_MAX) return fail(err, "bad_request", "%s: must not be empty", field);
        return fail(err, "bad_request", "%s: must be %zu to %zu bytes long", field, rule->min,
                    rule->max);
    }
    for (size_t i = 0; rule->chars != CHARS_ANY && i < n; i++)
        if (!char_allowed((unsigned char)s[i], rule->chars))
            return fail(err, "bad_request", "%s: may contain only %s", field,
                        charset_names[rule->chars]);
    return 0;
}

/* check_string - v must be a string obeying rule; its text in *out. */
static int check_string(const json_t *v, const char *field, const string_rule *rule,
                        const char **out, size_t *out_len, rtc_msg_error *err)
{
    if (!json_is_string(v)) return fail(err, "bad_request", "%s: must be a string", field);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    int rc = check_text(s, n, field, rule, err);
    if (rc) return rc;
    *out = s;
    if (out_len) *out_len = n;
    return 0;
}

/* A member that is absent or null: optional fields may be either. */
static bool absent(const json_t *v) { return !v || json_is_null(v); }

static int required_string(const json_t *obj, const char *key, const char *field,
                           const string_rule *rule, const char **out, size_t *out_len,
                           rtc_msg_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (absent(v)) return fail(err, "bad_request", "%s: missing", field);
    return check_string(v, field, rule, out, out_len, err);
}

static int optional_string(const json_t *obj, const char *key, const string_rule *rule,
                           const char **out, rtc_msg_error *err)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (absent(v)) return 0;
    return check_string(v, key, rule, out, NULL, err);
}

static int parse_id(const json_t *root, rtc_msg_id *id, rtc_msg_error *err)
{
    const json_t *v = json_object_get(root, "id");
    if (absent(v)) return 0;
    if (json_is_integer(v)) {
        id->kind = RTC_ID_INT;
        id->num = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && json_string_length(v) <= RTC_MSG_ID_MAX) {
        id->kind = RTC_ID_STRING;
        memcpy(id->str, json_string_value(v), json_string_length(v) + 1);
        return 0;
    }
    return fail(err, "bad_request", "id: must be an integer or a string of at most %d bytes",
                RTC_MSG_ID_MAX);
}

static int parse_join(rtc_msg *m, rtc_msg_error *err)
{
    int rc = required_string(m->root, "room", "room", &rule_room, &m->join.room, NULL, err);
    if (rc == 0) rc = optional_string(m->root, "token", &rule_token, &m->join.token, err);
    if (rc == 0) rc = optional_string(m->root, "identity", &rule_identity, &m->join.identity, err);
    if (rc == 0) rc = optional_string(m->root, "name", &rule_name, &m->join.name, err);
    if (rc == 0) rc = optional_string(m->root, "resume", &rule_resume, &m->join.resume, err);
    return rc;
}

static const char *const sources[] = {"microphone", "camera", "screen", "screen_audio",
                                      "unknown"};

static int parse_source(const json_t *v, const char *field, const char **out, rtc_msg_error *err)
{
    if (absent(v)) return fail(err, "bad_request", "%s: missing", field);
    const char *s = json_string_value(v);
    for (size_t i = 0; s && i < sizeof sources / sizeof sources[0]; i++)
        if (strcmp(s, sources[i]) == 0) {
            *out = sources[i];
            return 0;
        }
    return fail(err, "bad_request",
                "%s: must be microphone, camera, screen, screen_audio or unknown", field);
}

static int parse_pub_entry(const json_t *e, size_t index, rtc_pub_entry *out, rtc_msg_error *err)
{
    char field[48];
    snprintf(field, sizeof field, "tracks[%zu]", index);
    if (!json_is_object(e)) return fail(err, "bad_request", "%s: must be an object", field);
    snprintf(field, sizeof field, "tracks[%zu].mid", index);
    int rc = required_string(e, "mid", field, &rule_mid, &out->mid, NULL, err);
    if (rc) return rc;
    snprintf(field, sizeof field, "tracks[%zu].source", index);
    rc = parse_source(json_object_get(e, "source"), field, &out->source, err);
    if (rc) return rc;
    const json_t *muted = json_object_get(e, "muted");
    if (absent(muted)) return 0;
    if (!json_is_boolean(muted))
        return fail(err, "bad_request", "tracks[%zu].muted: must be a boolean", index);
    out->muted = json_is_true(muted);
    return 0;
}

static int parse_publish(rtc_msg *m, rtc_msg_error *err)
{
    int rc = required_string(m->root, "sdp", "sdp", &rule_sdp, &m->publish.sdp,
                             &m->publish.sdp_len, err);
    if (rc) return rc;
    const json_t *tracks = json_object_get(m->root, "tracks");
    if (absent(tracks)) return fail(err, "bad_request", "tracks: missing");
    if (!json_is_array(tracks)) return fail(err, "bad_request", "tracks: must be an array");
    size_t n = json_array_size(tracks);
    if (n > RTC_MSG_MAX_TRACKS)
        return fail(err, "bad_request", "tracks: more than %d entries", RTC_MSG_MAX_TRACKS);
    for (size_t i = 0; i < n; i++) {
        rtc_pub_entry *e = &m->publish.tracks[i];
        rc = parse_pub_entry(json_array_get(tracks, i), i, e, err);
        if (rc) return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->publish.tracks[j].mid, e->mid) == 0)
                return fail(err, "bad_request", "tracks[%zu].mid: duplicate mid", i);
    }
    m->publish.n_tracks = n;
    return 0;
}

static int parse_subscribe(rtc_msg *m, rtc_msg_error *err)
{
    int rc = required_string(m->root, "sdp", "sdp", &rule_sdp, &m->subscribe.sdp,
                             &m->subscribe.sdp_len, err);
    if (rc) return rc;
    json_t *tracks = json_object_get(m->root, "tracks");
    if (absent(tracks)) return fail(err, "bad_request", "tracks: missing");
    if (!json_is_object(tracks)) return fail(err, "bad_request", "tracks: must be an object");
    if (json_object_size(tracks) > RTC_MSG_MAX_TRACKS)
        return fail(err, "bad_request", "tracks: more than %d entries", RTC_MSG_MAX_TRACKS);
    const char *mid;
    json_t *value;
    size_t n = 0;
    json_object_foreach(tracks, mid, value) {
        rtc_sub_entry *e = &m->subscribe.tracks[n];
        rc = check_text(mid, strlen(mid), "tracks: a key (mid)", &rule_mid, err);
        if (rc) return rc;
        e->mid = mid;
        if (json_is_null(value)) {
            e->track_id = NULL;
        } else {
            char field[48];
            snprintf(field, sizeof field, "tracks.%s", mid);
            rc = check_string(value, field, &rule_track_id, &e->track_id, NULL, err);
            if (rc) return rc;
        }
        n++;
    }
    m->subscribe.n_tracks = n;
    return 0;
}

static int parse_mute(rtc_msg *m, rtc_msg_error *err)
{
    int rc = required_string(m->root, "track", "track", &rule_track_id, &m->mute.track, NULL, err);
    if (rc) return rc;
    const json_t *muted = json_object_get(m->root, "muted");
    if (absent(muted)) return fail(err, "bad_request", "muted: missing");
    if (!json_is_boolean(muted)) return fail(err, "bad_request", "muted: must be a boolean");
    m->mute.muted = json_is_true(muted);
    return 0;
}

/* The whole subscription shape: an absent field is its default (all video, no limit). */
static int parse_set_subscription(rtc_msg *m, rtc_msg_error *err)
{
    const json_t *audio_only = json_object_get(m->root, "audio_only");
    const json_t *last_n = json_object_get(m->root, "last_n");
    m->subscription.audio_only = false;
    m->subscription.last_n = -1;
    if (!absent(audio_only)) {
        if (!json_is_boolean(audio_only))
            return fail(err, "bad_request", "audio_only: must be a boolean");
        m->subscription.audio_only = json_is_true(audio_only);
    }
    if (absent(last_n)) return 0;
    if (!json_is_integer(last_n) || json_integer_value(last_n) < 0 ||
        json_integer_value(last_n) > RTC_MSG_LAST_N_MAX)
        return fail(err, "bad_request", "last_n: must be null or an integer from 0 to %d",
                    RTC_MSG_LAST_N_MAX);
    m->subscription.last_n = (int)json_integer_value(last_n);
    return 0;
}

/* An optional integer member from lo to hi; absent or null leaves *out (its default). */
static int optional_int(const json_t *obj, const char *key, int lo, int hi, int *out,
                        rtc_msg_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (absent(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(err, "bad_request", "%s: must be null or an integer from %d to %d", key, lo,
                    hi);
    *out = (int)json_integer_value(v);
    return 0;
}

/* One track's whole settings for this subscriber: an absent field is its default (visible,
 * size unknown, no preferred maximum). */
static int parse_track_settings(rtc_msg *m, rtc_msg_error *err)
{
    int rc = required_string(m->root, "track", "track", &rule_track_id, &m->settings.track,
                             NULL, err);
    if (rc) return rc;
    m->settings.visible = true;
    m->settings.width = m->settings.height = 0;
    m->settings.max_spatial = m->settings.max_temporal = RTC_MSG_LAYER_ANY;
    const json_t *visible = json_object_get(m->root, "visible");
    if (!absent(visible)) {
        if (!json_is_boolean(visible)) return fail(err, "bad_request", "visible: must be a boolean");
        m->settings.visible = json_is_true(visible);
    }
    if ((rc = optional_int(m->root, "width", 0, RTC_MSG_TILE_MAX, &m->settings.width, err)) ||
        (rc = optional_int(m->root, "height", 0, RTC_MSG_TILE_MAX, &m->settings.height, err)) ||
        (rc = optional_int(m->root, "max_spatial", 0, RTC_MSG_LAYER_MAX, &m->settings.max_spatial,
                           err)) ||
        (rc = optional_int(m->root, "max_temporal", 0, RTC_MSG_LAYER_MAX,
                           &m->settings.max_temporal, err)))
        return rc;
    return 0;
}

static const struct {
    const char *name;
    rtc_msg_type type;
    int (*parse)(rtc_msg *m, rtc_msg_error *err); /* NULL: no fields */
} message_types[] = {
    {"join", RTC_MSG_JOIN, parse_join},
    {"publish", RTC_MSG_PUBLISH, parse_publish},
    {"subscribe", RTC_MSG_SUBSCRIBE, parse_subscribe},
    {"mute", RTC_MSG_MUTE, parse_mute},
    {"set_subscription", RTC_MSG_SET_SUBSCRIPTION, parse_set_subscription},
    {"track_settings", RTC_MSG_TRACK_SETTINGS, parse_track_settings},
    {"leave", RTC_MSG_LEAVE, NULL},
    {"ping", RTC_MSG_PING, NULL},
};

static int parse_root(rtc_msg *out, rtc_msg_error *err)
{
    if (!json_is_object(out->root)) return fail(err, "bad_message", "not a JSON object");
    const json_t *type = json_object_get(out->root, "type");
    if (!json_is_string(type)) return fail(err, "bad_message", "type: missing or not a string");
    int rc = parse_id(out->root, &out->id, err);
    if (rc) return rc;
    for (size_t i = 0; i < sizeof message_types / sizeof message_types[0]; i++) {
        if (strcmp(json_string_value(type), message_types[i].name) != 0) continue;
        out->type = message_types[i].type;
        return message_types[i].parse ? message_types[i].parse(out, err) : 0;
    }
    return fail(err, "unknown_type", "type: unknown message type \"%.32s\"",
                json_string_value(type));
}

int rtc_msg_parse(rtc_msg *out, const uint8_t *data, size_t len, size_t max_len,
                  rtc_msg_error *err)
{
    memset(out, 0, sizeof *out);
    err->code = NULL;
    err->message[0] = '\0';
    if (len > max_len) return J_ELIMIT;
    json_error_t jerr;
    out->root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!out->root)
        return fail(err, "bad_message", "invalid JSON at line %d column %d: %s", jerr.line,
                    jerr.column, jerr.text);
    int rc = parse_root(out, err);
    if (rc) {
        json_decref(out->root);
        out->root = NULL;
    }
    return rc;
}

void rtc_msg_release(rtc_msg *m)
{
    json_decref(m->root);
    m->root = NULL;
}

bool rtc_msg_error_closes(const char *code)
{
    return strncmp(code, "token_", 6) == 0 || strcmp(code, "resume_failed") == 0 ||
           strcmp(code, "room_full") == 0;
}

/* ---- building ----------------------------------------------------------------------- */

void rtc_json_set(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (json_object_set_new(obj, key, v) != 0) *ok = false;
}


static json_t *msg_new(const char *type, const rtc_msg_id *id, bool *ok)
{
    json_t *m = json_object();
    rtc_json_set(m, "type", json_string(type), ok);
    if (id && id->kind == RTC_ID_STRING) rtc_json_set(m, "id", json_string(id->str), ok);
    if (id && id->kind == RTC_ID_INT) rtc_json_set(m, "id", json_integer(id->num), ok);
    return m;
}

static char *msg_dump(json_t *m, bool ok)
{
    char *s = ok ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    return s;
}

json_t *rtc_track_json(const char *id, const char *participant_sid, int kind, const char *source,
                       bool muted, const char *mid)
{
    bool ok = true;
    json_t *t = json_object();
    rtc_json_set(t, "id", json_string(id), &ok);
    rtc_json_set(t, "participant", json_string(participant_sid), &ok);
    rtc_json_set(t, "kind", json_string(kind == 0 ? "audio" : "video"), &ok);
    rtc_json_set(t, "source", json_string(source), &ok);
    rtc_json_set(t, "muted", json_boolean(muted), &ok);
    if (mid) rtc_json_set(t, "mid", json_string(mid), &ok);
    if (ok) return t;
    json_decref(t);
    return NULL;
}

json_t *rtc_participant_json(const char *sid, const char *identity, const char *name,
                             json_t *tracks)
{
    bool ok = true;
    json_t *p = json_object();
    rtc_json_set(p, "sid", json_string(sid), &ok);
    rtc_json_set(p, "identity", json_string(identity), &ok);
    rtc_json_set(p, "name", json_string(name), &ok);
    rtc_json_set(p, "tracks", tracks, &ok);
    if (ok) return p;
    json_decref(p);
    return NULL;
}

char *rtc_msg_error_json(const rtc_msg_id *id, const char *code, const char *message)
{
    bool ok = true;
    json_t *m = msg_new("error", id, &ok);
    rtc_json_set(m, "code", json_string(code), &ok);
    rtc_json_set(m, "message", json_string(message), &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_reply(const rtc_msg_id *id, const char *type)
{
    bool ok = true;
    json_t *m = msg_new(type, id, &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_joined(const rtc_msg_id *id, json_t *self, const char *room, json_t *others,
                     json_t *track_errors, const char *session, uint32_t resume_grace_s,
                     bool resumed)
{
    bool ok = true;
    json_t *m = msg_new("joined", id, &ok);
    rtc_json_set(m, "participant", self, &ok);
    json_t *r = json_object();
    rtc_json_set(r, "name", json_string(room), &ok);
    rtc_json_set(r, "participants", others, &ok);
    rtc_json_set(m, "room", r, &ok);
    rtc_json_set(m, "session", json_string(session), &ok);
    rtc_json_set(m, "resume_grace", json_integer(resume_grace_s), &ok);
    rtc_json_set(m, "resumed", json_boolean(resumed), &ok);
    rtc_json_set(m, "track_errors", track_errors, &ok);
    /* ICE-lite: the server's candidates are in every answer, so clients need no STUN/TURN. */
    rtc_json_set(m, "ice_servers", json_array(), &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_publish_answer(const rtc_msg_id *id, const char *sdp, json_t *tracks)
{
    bool ok = true;
    json_t *m = msg_new("publish_answer", id, &ok);
    rtc_json_set(m, "sdp", json_string(sdp), &ok);
    rtc_json_set(m, "tracks", tracks, &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_subscribe_answer(const rtc_msg_id *id, const char *sdp, json_t *tracks,
                               json_t *errors)
{
    bool ok = true;
    json_t *m = msg_new("subscribe_answer", id, &ok);
    rtc_json_set(m, "sdp", json_string(sdp), &ok);
    rtc_json_set(m, "tracks", tracks, &ok);
    if (errors) rtc_json_set(m, "errors", errors, &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_participant_joined(json_t *participant)
{
    bool ok = true;
    json_t *m = msg_new("participant_joined", NULL, &ok);
    rtc_json_set(m, "participant", participant, &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_participant_left(const char *sid, const char *identity, const char *reason)
{
    bool ok = true;
    json_t *m = msg_new("participant_left", NULL, &ok);
    rtc_json_set(m, "sid", json_string(sid), &ok);
    rtc_json_set(m, "identity", json_string(identity), &ok);
    rtc_json_set(m, "reason", json_string(reason), &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_track_published(json_t *track)
{
    bool ok = true;
    json_t *m = msg_new("track_published", NULL, &ok);
    rtc_json_set(m, "track", track, &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_track_unpublished(const char *track_id, const char *participant_sid)
{
    bool ok = true;
    json_t *m = msg_new("track_unpublished", NULL, &ok);
    rtc_json_set(m, "track", json_string(track_id), &ok);
    rtc_json_set(m, "participant", json_string(participant_sid), &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_track_muted(const char *track_id, const char *participant_sid, bool muted)
{
    bool ok = true;
    json_t *m = msg_new("track_muted", NULL, &ok);
    rtc_json_set(m, "track", json_string(track_id), &ok);
    rtc_json_set(m, "participant", json_string(participant_sid), &ok);
    rtc_json_set(m, "muted", json_boolean(muted), &ok);
    return msg_dump(m, ok);
}

json_t *rtc_track_error_json(const char *track_id, const char *participant_sid, const char *mid,
                             const char *code, const char *message)
{
    bool ok = true;
    json_t *e = json_object();
    rtc_json_set(e, "track", json_string(track_id), &ok);
    rtc_json_set(e, "participant", json_string(participant_sid), &ok);
    rtc_json_set(e, "mid", json_string(mid), &ok);
    rtc_json_set(e, "error",
                 code ? json_pack("{s:s, s:s}", "code", code, "message", message) : json_null(),
                 &ok);
    if (ok) return e;
    json_decref(e);
    return NULL;
}

char *rtc_msg_track_error(const char *track_id, const char *participant_sid, const char *mid,
                          const char *code, const char *message)
{
    bool ok = true;
    json_t *m = msg_new("track_error", NULL, &ok);
    json_t *e = rtc_track_error_json(track_id, participant_sid, mid, code, message);
    if (!e || json_object_update(m, e) != 0) ok = false;
    json_decref(e);
    return msg_dump(m, ok);
}

char *rtc_msg_connection_quality(json_t *participants)
{
    bool ok = true;
    json_t *m = msg_new("connection_quality", NULL, &ok);
    rtc_json_set(m, "participants", participants, &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_active_speakers(json_t *speakers, const char *dominant)
{
    bool ok = true;
    json_t *m = msg_new("active_speakers", NULL, &ok);
    rtc_json_set(m, "speakers", speakers, &ok);
    rtc_json_set(m, "dominant", dominant ? json_string(dominant) : json_null(), &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_media_closed(const char *reason)
{
    bool ok = true;
    json_t *m = msg_new("media_closed", NULL, &ok);
    rtc_json_set(m, "reason", json_string(reason), &ok);
    return msg_dump(m, ok);
}

char *rtc_msg_closed(const char *reason, const char *message)
{
    bool ok = true;
    json_t *m = msg_new("closed", NULL, &ok);
    rtc_json_set(m, "reason", json_string(reason), &ok);
    rtc_json_set(m, "message", json_string(message), &ok);
    return msg_dump(m, ok);
}
