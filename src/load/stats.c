/* stats.c - what junction-load's subscribers measure: loss from sequence gaps, and packet
 * and frame latency through the publisher's log. */
#include <string.h>

#include "load/load.h"

uint64_t load_fingerprint(const uint8_t *payload, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (unsigned i = 0; i < 8; i++) {
        h ^= (uint8_t)(len >> (8 * i));
        h *= 0x100000001b3ull;
    }
    size_t n = len < 32 ? len : 32;
    for (size_t i = 0; i < n; i++) {
        h ^= payload[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void load_frame_log_init(load_frame_log *log, uint32_t step)
{
    memset(log, 0, sizeof *log);
    log->step = step ? step : 1;
}

static load_frame_slot *slot_of(const load_frame_log *log, uint32_t ts)
{
    return (load_frame_slot *)&log->slots[(ts / log->step) % LOAD_FRAME_LOG_SIZE];
}

void load_frame_log_put(load_frame_log *log, uint32_t ts, uint64_t fingerprint,
                        uint16_t first_seq, uint64_t sent_us)
{
    load_frame_slot *s = slot_of(log, ts);
    s->used = true;
    s->ts = ts;
    s->first_seq = first_seq;
    s->fingerprint = fingerprint;
    s->sent_us = sent_us;
}

const load_frame_slot *load_frame_log_get(const load_frame_log *log, uint32_t ts)
{
    const load_frame_slot *s = slot_of(log, ts);
    return s->used && s->ts == ts ? s : NULL;
}

void load_packet_log_put(load_frame_log *log, uint16_t seq, uint64_t sent_us)
{
    load_packet_slot *p = &log->packets[seq % LOAD_PACKET_LOG_SIZE];
    p->used = true;
    p->seq = seq;
    p->sent_us = sent_us;
}

uint64_t load_packet_log_sent(const load_frame_log *log, uint16_t seq)
{
    const load_packet_slot *p = &log->packets[seq % LOAD_PACKET_LOG_SIZE];
    return p->used && p->seq == seq ? p->sent_us : 0;
}

void load_rx_init(load_rx_stream *s, bool frame_per_packet, const load_frame_log *source)
{
    memset(s, 0, sizeof *s);
    s->frame_per_packet = frame_per_packet;
    s->source = source;
}

static void count_sequence(load_rx_stream *s, uint16_t seq)
{
    if (!s->started) {
        s->started = true;
        s->max_seq = seq;
        s->base_seq = seq;
        return;
    }
    int32_t d = rtp_seq_diff(seq, s->max_seq);
    if (d > 0) {
        if (seq < s->max_seq) s->cycles += 65536u;
        s->max_seq = seq;
    }
}

/* The frame starting with this payload: match it to the publisher's log, locking the
 * timestamp offset on the first frame (and again whenever a frame stops matching: the
 * server changed its mapping). */
static void start_frame(load_rx_stream *s, uint16_t seq, uint32_t ts, const uint8_t *payload,
                        size_t len)
{
    s->in_frame = true;
    s->frame_ts = ts;
    s->frame_matched = false;
    if (!payload) { /* not decrypted: trust the lock */
        s->frame_matched = s->locked;
        return;
    }
    uint64_t fp = load_fingerprint(payload, len);
    if (s->locked) {
        const load_frame_slot *slot = load_frame_log_get(s->source, ts - s->ts_offset);
        if (slot && slot->fingerprint == fp) {
            s->frame_matched = true;
            return;
        }
        s->locked = false;
    }
    for (size_t i = 0; i < LOAD_FRAME_LOG_SIZE; i++) {
        const load_frame_slot *slot = &s->source->slots[i];
        if (slot->used && slot->fingerprint == fp) {
            if (s->frames > 0) s->relocks++;
            s->locked = true;
            s->ts_offset = ts - slot->ts;
            s->seq_offset = (uint16_t)(seq - slot->first_seq);
            s->frame_matched = true;
            return;
        }
    }
}

void load_rx_packet(load_rx_stream *s, uint16_t seq, uint32_t ts, bool marker,
                    const uint8_t *payload, size_t payload_len, uint64_t now_us,
                    j_hist *frame_latency, j_hist *packet_latency)
{
    count_sequence(s, seq);
    s->received++;
    s->bytes += payload_len;
    if (!s->source) return;
    bool new_frame = !s->in_frame || ts != s->frame_ts;
    if (new_frame) start_frame(s, seq, ts, payload, payload_len);
    if (s->locked) {
        /* Logged before it was sent, so never after its arrival (unless the clock steps). */
        uint64_t sent = load_packet_log_sent(s->source, (uint16_t)(seq - s->seq_offset));
        if (sent && now_us >= sent) {
            s->packets_measured++;
            j_hist_add(packet_latency, now_us - sent);
        }
    }
    bool frame_end = s->frame_per_packet || marker;
    if (!frame_end) return;
    s->frames++;
    s->in_frame = false;
    if (!s->frame_matched) return;
    const load_frame_slot *slot = load_frame_log_get(s->source, ts - s->ts_offset);
    /* The last packet may arrive before the publisher logged the frame only if the clock
     * went backwards; such a frame is not measured. */
    if (!slot || now_us < slot->sent_us) return;
    s->frames_measured++;
    j_hist_add(frame_latency, now_us - slot->sent_us);
}

uint64_t load_rx_expected(const load_rx_stream *s)
{
    if (!s->started) return 0;
    uint64_t ext_max = (uint64_t)s->cycles + s->max_seq;
    return ext_max - s->base_seq + 1;
}

int64_t load_rx_lost(const load_rx_stream *s)
{
    return (int64_t)load_rx_expected(s) - (int64_t)s->received;
}
