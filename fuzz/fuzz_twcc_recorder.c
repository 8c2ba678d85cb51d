/* fuzz_twcc_recorder.c - the ingress transport-cc recorder driven by arbitrary
 * arrivals: jumps, reordering, duplicates, restarts, pauses.
 *
 * Each 3-byte step of the input is a signed sequence-number step, a time step
 * and whether to run the feedback timer. Checked with abort(): a feedback is
 * never refused with a 1 KiB buffer, always parses, holds at most
 * BWE_TWCC_FEEDBACK_MAX statuses, and every packet it reports received
 * arrived with that sequence number at the reported time (to the 250 us
 * resolution of the format).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bwe/bwe.h"
#include "core/bytes.h"
#include "rtcp/rtcp.h"

static bwe_twcc_recorder recorder;
static uint8_t buf[1024];
static rtcp_twcc_pkt pkts[BWE_TWCC_FEEDBACK_MAX];
static uint64_t first_at[65536], last_at[65536]; /* arrivals given per sequence number */
static uint8_t arrived[65536 / 8];

/* Keep arrival times below 2^24 x 64 ms, where the feedback's reference
 * time would wrap, with room for the final feedbacks. */
#define TIME_LIMIT_US ((1ULL << 24) * 64000 - 1000000000ULL)

static void check(int cond)
{
    if (!cond) abort();
}

static int64_t rounded(uint64_t us) { return (int64_t)((us + 125) / 250 * 250); }

static void run_feedback(uint64_t now_us)
{
    for (;;) {
        int n = bwe_twcc_recorder_handle_timeout(&recorder, now_us, buf, sizeof buf);
        check(n >= 0);
        if (n == 0) return;
        rtcp_header h;
        rtcp_twcc m;
        check(rtcp_header_parse(&h, buf, (size_t)n) == n);
        check(rtcp_twcc_parse(&m, &h) == 0);
        check(m.status_count <= BWE_TWCC_FEEDBACK_MAX);
        int count = rtcp_twcc_expand(&m, pkts, BWE_TWCC_FEEDBACK_MAX);
        check(count == m.status_count);
        for (int i = 0; i < count; i++) {
            if (!pkts[i].received) continue;
            uint16_t s = pkts[i].seq;
            check(arrived[s >> 3] & (1u << (s & 7)));
            check(pkts[i].recv_us >= rounded(first_at[s]) && pkts[i].recv_us <= rounded(last_at[s]));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(arrived, 0, sizeof arrived);
    bwe_twcc_recorder_init(&recorder, 1, 2, 0);
    uint16_t seq = 0;
    uint64_t now_us = 1000;
    for (size_t off = 0; off + 3 <= size; off += 3) {
        seq = (uint16_t)(seq + (int16_t)rd_be16(data + off));
        uint8_t step = data[off + 2];
        /* Low 7 bits: 0..127 x 1 ms; the top bit turns the step into seconds. */
        now_us += (step & 0x7f) * (step & 0x80 ? 1000000ULL : 1000ULL);
        if (now_us > TIME_LIMIT_US) break;
        if (!(arrived[seq >> 3] & (1u << (seq & 7)))) first_at[seq] = now_us;
        arrived[seq >> 3] |= (uint8_t)(1u << (seq & 7));
        last_at[seq] = now_us;
        bwe_twcc_recorder_on_packet(&recorder, seq, now_us);
        check(recorder.pending <= BWE_TWCC_RECORDER_SLOTS);
        check(recorder.highest_ext - recorder.next_ext < BWE_TWCC_RECORDER_SLOTS ||
              recorder.pending == 0);
        if (step & 1) run_feedback(now_us);
    }
    /* Every arrival is reported in the end: each due feedback takes at
     * least one status. */
    for (int i = 0; i <= BWE_TWCC_RECORDER_SLOTS && recorder.pending > 0; i++) {
        now_us += 100000;
        run_feedback(now_us);
    }
    check(recorder.pending == 0);
    return 0;
}
