/* twcc_recorder.c - arrival times of transport-wide sequence numbers and the
 * feedback reporting them. */
#include <string.h>

#include "bwe/bwe.h"
#include "core/err.h"
#include "rtp/seqext.h"

#define NOT_RECEIVED UINT64_MAX
#define DEFAULT_INTERVAL_US 50000
/* The feedback's two-byte receive delta reaches +-8.19 s; a larger step
 * between consecutive arrivals starts a new feedback. */
#define MAX_DELTA_US 8000000
#define SLOT(ext) ((ext) & (BWE_TWCC_RECORDER_SLOTS - 1))

static void clear_all(bwe_twcc_recorder *r)
{
    for (size_t i = 0; i < BWE_TWCC_RECORDER_SLOTS; i++) r->arrival_us[i] = NOT_RECEIVED;
    r->pending = 0;
}

void bwe_twcc_recorder_init(bwe_twcc_recorder *r, uint32_t sender_ssrc, uint32_t media_ssrc,
                            uint64_t interval_us)
{
    memset(r, 0, sizeof *r);
    r->sender_ssrc = sender_ssrc;
    r->media_ssrc = media_ssrc;
    r->interval_us = interval_us ? interval_us : DEFAULT_INTERVAL_US;
    clear_all(r);
}

static void start_at(bwe_twcc_recorder *r, uint16_t seq, uint64_t now_us)
{
    clear_all(r);
    r->started = true;
    r->next_ext = r->highest_ext = rtp_seq_ext_first(seq);
    r->last_feedback_us = now_us;
    r->have_restart_candidate = false;
}

/* Forget the statuses before new_next without reporting them. */
static void drop_until(bwe_twcc_recorder *r, uint64_t new_next)
{
    if (new_next - r->next_ext >= BWE_TWCC_RECORDER_SLOTS) {
        clear_all(r);
    } else {
        for (uint64_t ext = r->next_ext; ext < new_next; ext++) {
            if (r->arrival_us[SLOT(ext)] != NOT_RECEIVED) r->pending--;
            r->arrival_us[SLOT(ext)] = NOT_RECEIVED;
        }
    }
    r->next_ext = new_next;
}

void bwe_twcc_recorder_on_packet(bwe_twcc_recorder *r, uint16_t seq, uint64_t now_us)
{
    if (!r->started) start_at(r, seq, now_us);
    uint64_t ext = rtp_seq_extend(r->highest_ext, seq);
    if (ext < r->next_ext) {
        if (r->next_ext - ext <= BWE_TWCC_RECORDER_SLOTS) {
            r->late++;
            return;
        }
        /* Far behind: a stray packet, or the first of a new numbering. */
        if (!r->have_restart_candidate || seq != r->restart_candidate) {
            r->have_restart_candidate = true;
            r->restart_candidate = (uint16_t)(seq + 1);
            return;
        }
        start_at(r, seq, now_us);
        ext = r->next_ext;
    }
    r->have_restart_candidate = false;
    if (ext - r->next_ext >= BWE_TWCC_RECORDER_SLOTS)
        drop_until(r, ext - BWE_TWCC_RECORDER_SLOTS + 1);
    uint64_t *slot = &r->arrival_us[SLOT(ext)];
    if (*slot != NOT_RECEIVED) return; /* duplicate */
    *slot = now_us;
    r->pending++;
    if (ext > r->highest_ext) r->highest_ext = ext;
}

uint64_t bwe_twcc_recorder_poll_timeout(const bwe_twcc_recorder *r)
{
    if (r->pending == 0) return UINT64_MAX;
    if (r->highest_ext - r->next_ext + 1 >= BWE_TWCC_FEEDBACK_MAX) return 0;
    return r->last_feedback_us + r->interval_us;
}

int bwe_twcc_recorder_handle_timeout(bwe_twcc_recorder *r, uint64_t now_us, uint8_t *buf,
                                     size_t cap)
{
    uint64_t due = bwe_twcc_recorder_poll_timeout(r);
    if (due == UINT64_MAX || now_us < due) return 0;

    uint64_t span = r->highest_ext - r->next_ext + 1;
    if (span > BWE_TWCC_FEEDBACK_MAX) span = BWE_TWCC_FEEDBACK_MAX;
    /* The writer's input, built per feedback: per thread, not per publisher. */
    static _Thread_local rtcp_twcc_rx statuses[BWE_TWCC_FEEDBACK_MAX];
    size_t count = 0, received_end = 0;
    uint64_t prev = NOT_RECEIVED;
    for (size_t i = 0; i < span; i++) {
        uint64_t ext = r->next_ext + i;
        uint64_t at = r->arrival_us[SLOT(ext)];
        if (at != NOT_RECEIVED && prev != NOT_RECEIVED &&
            (at > prev + MAX_DELTA_US || prev > at + MAX_DELTA_US))
            break;
        statuses[i] = (rtcp_twcc_rx){.seq = (uint16_t)ext, .received = at != NOT_RECEIVED,
                                   .arrival_us = at != NOT_RECEIVED ? at : 0};
        count = i + 1;
        if (at != NOT_RECEIVED) {
            prev = at;
            received_end = count;
        }
    }
    /* Trailing gaps wait for the next feedback: those packets may still come.
     * Only a stretch without any arrival (a burst loss longer than a feedback)
     * is reported as lost right away. */
    if (received_end > 0) count = received_end;

    rtcp_twcc_fb fb = {.sender_ssrc = r->sender_ssrc, .media_ssrc = r->media_ssrc,
                       .fb_pkt_count = r->fb_count, .pkts = statuses, .pkt_count = count};
    int n = rtcp_twcc_write(&fb, buf, cap);
    if (n < 0) return n;
    for (size_t i = 0; i < count; i++) {
        uint64_t *slot = &r->arrival_us[SLOT(r->next_ext + i)];
        if (*slot != NOT_RECEIVED) r->pending--;
        *slot = NOT_RECEIVED;
    }
    r->next_ext += count;
    r->fb_count++;
    r->last_feedback_us = now_us;
    return n;
}
