/* fuzz_rtc_msg.c - parse one client frame of the room protocol; build what the server would.
 *
 * Oracles beyond "no crash / no sanitizer report": every refusal can be sent as an error
 * (its message is valid JSON text); an accepted frame's id survives a build -> parse round
 * trip; the strings an accepted frame carries can always be put into server messages; an
 * accepted last_n is in its documented range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "room/rtc_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(char *json)
{
    if (!json) abort();
    free(json);
}

static bool same_id(const rtc_msg_id *a, const rtc_msg_id *b)
{
    if (a->kind != b->kind) return false;
    if (a->kind == RTC_ID_INT) return a->num == b->num;
    return a->kind == RTC_ID_NONE || strcmp(a->str, b->str) == 0;
}

static void build_from(const rtc_msg *m)
{
    switch (m->type) {
    case RTC_MSG_JOIN: {
        const char *identity = m->join.identity ? m->join.identity : "someone";
        json_t *self = rtc_participant_json("PA_0", identity, m->join.name ? m->join.name : "",
                                            json_array());
        must(rtc_msg_joined(&m->id, self, m->join.room, json_array(), json_array(), "s", 30, false));
        break;
    }
    case RTC_MSG_PUBLISH: {
        json_t *tracks = json_array();
        for (size_t i = 0; i < m->publish.n_tracks; i++)
            json_array_append_new(tracks, rtc_track_json("TR_0", "PA_0", (int)(i & 1),
                                                         m->publish.tracks[i].source,
                                                         m->publish.tracks[i].muted,
                                                         m->publish.tracks[i].mid));
        must(rtc_msg_publish_answer(&m->id, m->publish.sdp, tracks));
        break;
    }
    case RTC_MSG_SUBSCRIBE: {
        json_t *tracks = json_object();
        for (size_t i = 0; i < m->subscribe.n_tracks; i++) {
            const char *id = m->subscribe.tracks[i].track_id;
            json_object_set_new(tracks, m->subscribe.tracks[i].mid,
                                id ? json_string(id) : json_null());
        }
        must(rtc_msg_subscribe_answer(&m->id, m->subscribe.sdp, tracks, NULL));
        break;
    }
    case RTC_MSG_MUTE:
        must(rtc_msg_track_muted(m->mute.track, "PA_0", m->mute.muted));
        break;
    case RTC_MSG_SET_SUBSCRIPTION:
        if (m->subscription.last_n < -1 || m->subscription.last_n > RTC_MSG_LAST_N_MAX) abort();
        break;
    case RTC_MSG_TRACK_SETTINGS:
        if (!m->settings.track || m->settings.width < 0 || m->settings.width > RTC_MSG_TILE_MAX ||
            m->settings.height < 0 || m->settings.height > RTC_MSG_TILE_MAX ||
            m->settings.max_spatial < RTC_MSG_LAYER_ANY ||
            m->settings.max_spatial > RTC_MSG_LAYER_MAX ||
            m->settings.max_temporal < RTC_MSG_LAYER_ANY ||
            m->settings.max_temporal > RTC_MSG_LAYER_MAX)
            abort();
        break;
    case RTC_MSG_LEAVE:
    case RTC_MSG_PING:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rtc_msg m;
    rtc_msg_error err;
    int rc = rtc_msg_parse(&m, data, size, RTC_MSG_DEFAULT_MAX_SIZE, &err);
    if (rc == J_ELIMIT) return 0;
    if (rc != 0) {
        if (!err.code) abort();
        must(rtc_msg_error_json(&m.id, err.code, err.message));
        return 0;
    }
    build_from(&m);

    char *ping = rtc_msg_reply(&m.id, "ping");
    if (!ping) abort();
    rtc_msg back;
    if (rtc_msg_parse(&back, (const uint8_t *)ping, strlen(ping), RTC_MSG_DEFAULT_MAX_SIZE, &err) != 0 ||
        back.type != RTC_MSG_PING || !same_id(&back.id, &m.id))
        abort();
    rtc_msg_release(&back);
    free(ping);
    rtc_msg_release(&m);
    return 0;
}
