/* fuzz_rtp_repair.c - the ingress repair state machines driven by arbitrary
 * arrivals: receive statistics, NACK generation and the retransmission buffer
 * of one stream, fed the same packets.
 *
 * Each 4-byte step of the input is a signed sequence-number step, a time step
 * and a packet length. Checked with abort(): NACK lists are ascending modulo
 * 2^16, within the capacity and never name the packet that just arrived;
 * nothing due is left behind; the missing list stays within its capacity;
 * report blocks are consistent; the buffer returns exactly the bytes stored
 * for a sequence number, or nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "rtcp/rtcp.h"
#include "rtp/nack_gen.h"
#include "rtp/rtp.h"
#include "rtp/rtp_recv_stats.h"
#include "rtp/rtx_buffer.h"

#define NACK_CAP 64
#define LEN_MAX (1 + 255 * 6) /* a few over RTP_RTX_BUFFER_PKT_MAX */

static rtp_recv_stats stats;
static rtp_nack_gen nack;
static rtp_rtx_buffer *rtx;
static uint8_t pkt[LEN_MAX];

static void check(int cond)
{
    if (!cond) abort();
}

static void fill(uint8_t *p, uint16_t seq, size_t len)
{
    for (size_t i = 0; i < len; i++) p[i] = (uint8_t)(seq ^ i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Small: slots get reused and the arena laps often, each the limit in turn as packets
     * are small or large. */
    rtx = rtp_rtx_buffer_new(8000, 64, 1000000);
    check(rtx != NULL);
    rtp_recv_stats_init(&stats, 0x1234, 90000);
    rtp_nack_gen_init(&nack, NULL);
    uint16_t seq = 0;
    uint64_t now_us = 1000000;
    for (size_t off = 0; off + 4 <= size; off += 4) {
        seq = (uint16_t)(seq + (int16_t)rd_be16(data + off));
        now_us += data[off + 2] * 500ULL;
        size_t len = 1 + data[off + 3] * 6u; /* 1..LEN_MAX */

        rtp_recv_verdict v = rtp_recv_stats_update(&stats, seq, seq * 3000u, (uint32_t)len, now_us);
        check(v <= RTP_RECV_BAD_SEQ);
        rtp_nack_gen_on_packet(&nack, seq, now_us);
        check(rtp_nack_gen_missing(&nack) <= RTP_NACK_GEN_CAPACITY);

        fill(pkt, seq, len);
        int rc = rtp_rtx_buffer_put(rtx, seq, pkt, len, now_us);
        check(rc == 0 || rc == J_EINVAL || rc == J_ESTATE);
        check((rc == J_EINVAL) == (len > RTP_RTX_BUFFER_PKT_MAX));
        rtp_rtx_pkt got;
        if (rc == 0) {
            check(rtp_rtx_buffer_get(rtx, seq, now_us, &got) == 0);
            check(got.len == len && memcmp(got.data, pkt, len) == 0);
        }
        uint16_t probe = (uint16_t)(seq - data[off + 2]);
        if (rtp_rtx_buffer_get(rtx, probe, now_us, &got) == 0) {
            fill(pkt, probe, got.len);
            check(memcmp(got.data, pkt, got.len) == 0);
        }

        uint16_t out[NACK_CAP];
        size_t n = rtp_nack_gen_handle_timeout(&nack, now_us, out, NACK_CAP);
        check(n <= NACK_CAP);
        for (size_t i = 0; i < n; i++) {
            if (i > 0) check(rtp_seq_newer(out[i], out[i - 1]));
            check(out[i] != seq);
        }
        check(rtp_nack_gen_poll_timeout(&nack) > now_us || n == NACK_CAP);
        (void)rtp_nack_gen_take_keyframe_request(&nack);

        if (data[off + 3] & 1) {
            rtcp_report_block rb;
            if (rtp_recv_stats_report(&stats, now_us, &rb) == 0) {
                check(rb.ssrc == 0x1234);
                check(rb.cumulative_lost >= -0x800000 && rb.cumulative_lost <= 0x7fffff);
                check((uint16_t)rb.ext_highest_seq == stats.max_seq);
            }
        }
    }
    rtp_rtx_buffer_free(rtx);
    return 0;
}
