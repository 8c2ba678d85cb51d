/* fuzz_rtcp.c - RTCP compound iteration and every message parser.
 *
 * Each packet of the compound goes through every parser (the type checks are
 * exercised too), every list is walked, and the invariants the SFU relies on
 * are checked with abort(): parse -> write reproduces unpadded SR/RR/NACK
 * bytes, NACK expansion survives repacking, and TWCC feedback rebuilt from its
 * own expansion decodes to the same statuses and relative arrival times.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "rtcp/rtcp.h"

#define MAX_PKT (65536 * 4)

static uint8_t out_buf[MAX_PKT];
static rtcp_twcc_pkt twcc_pkts[65535];
static rtcp_twcc_pkt twcc_pkts2[65535];
static rtcp_twcc_rx twcc_rx[65535];
static uint16_t nack_seqs[17 * 65536];
static uint16_t nack_seqs2[17 * 65536];
static uint8_t seen_a[8192], seen_b[8192];

static void check(int cond)
{
    if (!cond) abort();
}

/* Re-encoding a parsed view must give back the packet when nothing in it
 * (padding) is lost by parsing. */
static void check_same(const rtcp_header *h, int written)
{
    if (h->padding) return;
    check(written == (int)h->pkt_len);
    check(memcmp(out_buf, h->pkt, h->pkt_len) == 0);
}

static void fuzz_nack(const rtcp_header *h)
{
    rtcp_nack m;
    if (rtcp_nack_parse(&m, h) < 0) return;
    for (size_t i = 0; i < m.item_count; i++) {
        uint16_t pid, blp;
        rtcp_nack_item(&m, i, &pid, &blp);
    }
    check_same(h, rtcp_nack_write(&m, out_buf, sizeof out_buf));
    int n = rtcp_nack_expand(&m, nack_seqs, sizeof nack_seqs / sizeof nack_seqs[0]);
    check(n >= (int)m.item_count);

    /* Repack the expansion and compare the sets of lost sequence numbers. */
    rtcp_nack re = {.sender_ssrc = 1, .media_ssrc = 2, .lost = nack_seqs, .lost_count = (size_t)n};
    int w = rtcp_nack_write(&re, out_buf, sizeof out_buf);
    check(w > 0);
    rtcp_header h2;
    check(rtcp_header_parse(&h2, out_buf, (size_t)w) == w);
    rtcp_nack m2;
    check(rtcp_nack_parse(&m2, &h2) == 0);
    int n2 = rtcp_nack_expand(&m2, nack_seqs2, sizeof nack_seqs2 / sizeof nack_seqs2[0]);
    check(n2 > 0 && n2 <= n);
    memset(seen_a, 0, sizeof seen_a);
    memset(seen_b, 0, sizeof seen_b);
    for (int i = 0; i < n; i++) seen_a[nack_seqs[i] >> 3] |= (uint8_t)(1u << (nack_seqs[i] & 7));
    for (int i = 0; i < n2; i++) seen_b[nack_seqs2[i] >> 3] |= (uint8_t)(1u << (nack_seqs2[i] & 7));
    check(memcmp(seen_a, seen_b, sizeof seen_a) == 0);
}

static void fuzz_twcc(const rtcp_header *h)
{
    rtcp_twcc m;
    if (rtcp_twcc_parse(&m, h) < 0) return;
    int n = rtcp_twcc_expand(&m, twcc_pkts, sizeof twcc_pkts / sizeof twcc_pkts[0]);
    check(n == m.status_count);

    /* Rebuild feedback from the decoded statuses, shifting times so the
     * earliest arrival is 0 (the writer takes unsigned arrival times). */
    int64_t min_us = INT64_MAX;
    uint32_t received = 0;
    for (int i = 0; i < n; i++) {
        check(twcc_pkts[i].seq == (uint16_t)(m.base_seq + i));
        if (twcc_pkts[i].received) {
            received++;
            if (twcc_pkts[i].recv_us < min_us) min_us = twcc_pkts[i].recv_us;
        }
    }
    check(received == m.received_count);
    for (int i = 0; i < n; i++) {
        twcc_rx[i].seq = twcc_pkts[i].seq;
        twcc_rx[i].received = twcc_pkts[i].received;
        twcc_rx[i].arrival_us = twcc_pkts[i].received ? (uint64_t)(twcc_pkts[i].recv_us - min_us) : 0;
    }
    rtcp_twcc_fb fb = {.sender_ssrc = m.sender_ssrc, .media_ssrc = m.media_ssrc,
                       .fb_pkt_count = m.fb_pkt_count, .pkts = twcc_rx, .pkt_count = (size_t)n};
    int size = rtcp_twcc_size(&fb);
    check(size > 0);
    int w = rtcp_twcc_write(&fb, out_buf, sizeof out_buf);
    check(w == size);
    rtcp_header h2;
    check(rtcp_header_parse(&h2, out_buf, (size_t)w) == w);
    rtcp_twcc m2;
    check(rtcp_twcc_parse(&m2, &h2) == 0);
    check(m2.status_count == m.status_count && m2.base_seq == m.base_seq);
    check(rtcp_twcc_expand(&m2, twcc_pkts2, sizeof twcc_pkts2 / sizeof twcc_pkts2[0]) == n);
    int64_t first_a = 0, first_b = 0;
    bool have_first = false;
    for (int i = 0; i < n; i++) {
        check(twcc_pkts2[i].seq == twcc_pkts[i].seq);
        check(twcc_pkts2[i].received == twcc_pkts[i].received);
        if (!twcc_pkts[i].received) continue;
        if (!have_first) {
            first_a = twcc_pkts[i].recv_us;
            first_b = twcc_pkts2[i].recv_us;
            have_first = true;
        }
        check(twcc_pkts[i].recv_us - first_a == twcc_pkts2[i].recv_us - first_b);
    }
}

/* Every XR block lies within the packet; DLRR sub-blocks within their block. */
static void fuzz_xr(const rtcp_header *h)
{
    rtcp_xr m;
    if (rtcp_xr_parse(&m, h) < 0) return;
    rtcp_xr_iter it;
    rtcp_xr_block b;
    size_t covered = 0;
    rtcp_xr_iter_init(&it, &m);
    while (rtcp_xr_next_block(&it, &b)) {
        check(b.body >= m.blocks && b.body + b.body_len <= m.blocks + m.blocks_len);
        covered += 4 + b.body_len;
        size_t n = rtcp_xr_dlrr_count(&b);
        check(n * 12 <= b.body_len);
        for (size_t i = 0; i < n; i++) (void)rtcp_xr_dlrr_get(&b, i);
    }
    check(covered == m.blocks_len);
}

static void fuzz_packet(const rtcp_header *h)
{
    rtcp_report_block rb;
    rtcp_rb_iter rbi;

    rtcp_sr sr;
    if (rtcp_sr_parse(&sr, h) == 0) {
        rtcp_rb_iter_init(&rbi, sr.reports_raw, sr.report_count);
        while (rtcp_rb_next(&rbi, &rb)) {}
        int w = rtcp_sr_write(&sr, out_buf, sizeof out_buf);
        if (sr.ext_len % 4 == 0) check_same(h, w);
    }
    rtcp_rr rr;
    if (rtcp_rr_parse(&rr, h) == 0) {
        rtcp_rb_iter_init(&rbi, rr.reports_raw, rr.report_count);
        while (rtcp_rb_next(&rbi, &rb)) {}
        int w = rtcp_rr_write(&rr, out_buf, sizeof out_buf);
        if (rr.ext_len % 4 == 0) check_same(h, w);
    }
    rtcp_sdes sdes;
    if (rtcp_sdes_parse(&sdes, h) == 0) {
        rtcp_sdes_iter si;
        rtcp_sdes_chunk chunk;
        unsigned chunks = 0;
        rtcp_sdes_iter_init(&si, &sdes);
        while (rtcp_sdes_next_chunk(&si, &chunk)) {
            rtcp_sdes_item_iter ii;
            rtcp_sdes_item item;
            rtcp_sdes_item_iter_init(&ii, &chunk);
            while (rtcp_sdes_next_item(&ii, &item)) {}
            chunks++;
        }
        check(chunks == sdes.chunk_count);
    }
    rtcp_bye bye;
    if (rtcp_bye_parse(&bye, h) == 0) {
        for (unsigned i = 0; i < bye.ssrc_count; i++) (void)rtcp_bye_ssrc(&bye, i);
        check(rtcp_bye_write(&bye, out_buf, sizeof out_buf) > 0);
    }
    rtcp_fb fb;
    (void)rtcp_fb_parse(&fb, h);
    rtcp_pli pli;
    if (rtcp_pli_parse(&pli, h) == 0) check(rtcp_pli_write(&pli, out_buf, sizeof out_buf) == 12);
    rtcp_fir fir;
    if (rtcp_fir_parse(&fir, h) == 0) {
        for (size_t i = 0; i < fir.entry_count; i++) (void)rtcp_fir_entry_get(&fir, i);
        check(rtcp_fir_write(&fir, out_buf, sizeof out_buf) == (int)(12 + 8 * fir.entry_count));
    }
    rtcp_remb remb;
    if (rtcp_remb_parse(&remb, h) == 0) {
        for (unsigned i = 0; i < remb.ssrc_count; i++) (void)rtcp_remb_ssrc(&remb, i);
        check(rtcp_remb_write(&remb, out_buf, sizeof out_buf) > 0);
    }
    fuzz_nack(h);
    fuzz_twcc(h);
    fuzz_xr(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rtcp_iter it;
    rtcp_header h;
    int rc;
    (void)rtcp_is_rtcp(data, size);
    rtcp_iter_init(&it, data, size);
    while ((rc = rtcp_iter_next(&it, &h)) == 1) {
        check(h.pkt >= data && h.pkt + h.pkt_len <= data + size);
        check(h.body_len <= h.pkt_len - 4);
        fuzz_packet(&h);
    }
    check(rc == 0 || rc == J_EMALFORMED);
    return 0;
}
