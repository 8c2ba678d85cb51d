/* fuzz_twcc_history.c - transport-cc feedback from a subscriber, through the
 * egress history into the estimator.
 *
 * The input is an RTCP compound; each transport-cc packet in it is matched
 * against one history (filled, at the first feedback, with a full ring of
 * packets around its base sequence number) and the results go to one
 * estimator, as a subscriber's feedback stream would. Checked with abort():
 * every result names a packet we sent with its own size and send time, no
 * packet appears twice in one feedback, replaying a feedback yields nothing
 * new, and the estimate stays a finite rate within its bounds.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bwe/bwe.h"
#include "rtcp/rtcp.h"

static bwe_twcc_history history;
static bwe_gcc gcc;
static bwe_twcc_result results[BWE_TWCC_HISTORY_SLOTS];
static uint8_t seen[65536 / 8];

static void check(int cond)
{
    if (!cond) abort();
}

static uint32_t size_of(uint32_t index) { return 60 + (index * 37) % 1200; }
static uint64_t send_time_of(uint32_t index) { return 1000000 + (uint64_t)index * 1700; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rtcp_iter it;
    rtcp_header h;
    bool filled = false;
    uint16_t first = 0;
    uint64_t now_us = 2000000;
    bwe_gcc_init(&gcc, NULL);
    rtcp_iter_init(&it, data, size);
    while (rtcp_iter_next(&it, &h) == 1) {
        rtcp_twcc fb;
        if (rtcp_twcc_parse(&fb, &h) < 0) continue;
        if (!filled) {
            /* Sent packets from a little before the first base sequence number. */
            first = (uint16_t)(fb.base_seq - 64);
            bwe_twcc_history_init(&history, first);
            for (uint32_t i = 0; i < BWE_TWCC_HISTORY_SLOTS; i++)
                check(bwe_twcc_history_add(&history, size_of(i), send_time_of(i)) ==
                      (uint16_t)(first + i));
            filled = true;
        }
        size_t n = bwe_twcc_history_on_feedback(&history, &fb, results, BWE_TWCC_HISTORY_SLOTS);
        check(n <= fb.status_count);
        memset(seen, 0, sizeof seen);
        for (size_t i = 0; i < n; i++) {
            const bwe_twcc_result *r = &results[i];
            uint32_t index = (uint16_t)(r->seq - first);
            check(index < BWE_TWCC_HISTORY_SLOTS);
            check(r->size == size_of(index) && r->send_us == send_time_of(index));
            check(r->received || (r->recv_us == 0 && !r->reported_lost_before));
            check(!(seen[r->seq >> 3] & (1u << (r->seq & 7))));
            seen[r->seq >> 3] |= (uint8_t)(1u << (r->seq & 7));
        }
        bwe_gcc_on_feedback(&gcc, results, n, now_us);
        check(bwe_twcc_history_on_feedback(&history, &fb, results, BWE_TWCC_HISTORY_SLOTS) == 0);
        now_us += 50000;

        uint64_t target = bwe_gcc_target_bps(&gcc);
        check(target >= gcc.cfg.min_bps && target <= gcc.cfg.max_bps);
        check(isfinite(gcc.acked_bps) && gcc.acked_bps >= 0);
        check(isfinite(gcc.delay_bps) && isfinite(gcc.threshold_ms));
    }
    return 0;
}
