/* fuzz_srtp.c - SRTP/SRTCP unprotect of arbitrary packets, and protect -> unprotect round
 * trips, with a fixed master key.
 *
 * Input: a selector byte, then records of (16-bit big-endian length, packet bytes); all
 * records of one input go through the same sessions, so rollover, SRTCP index and replay
 * state carry from packet to packet.
 *   selector & 0x03   profile: AES-CM-SHA1-80, AES-128-GCM, AES-256-GCM (3 too)
 *   selector & 0x04   SRTCP instead of SRTP
 *   selector & 0x08   round trip: each record is a plain packet; whatever we protect must
 *                     unprotect to the same bytes, unless its index was already seen
 *   selector & 0x10   a record of exactly 4 bytes is no packet but a big-endian SSRC whose
 *                     inbound stream is removed (j_srtp_remove_stream, a track retiring);
 *                     in round trips the sender goes on, and the receiver must resume
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "srtp/srtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const j_srtp_profile k_profiles[3] = {J_SRTP_PROFILE_AES128_CM_SHA1_80,
                                             J_SRTP_PROFILE_AEAD_AES_128_GCM,
                                             J_SRTP_PROFILE_AEAD_AES_256_GCM};

/* The fixed master key || salt (the seed corpus is protected with it): byte i is 7 + 13 i. */
static void fuzz_master_key(uint8_t *key, size_t n)
{
    for (size_t i = 0; i < n; i++) key[i] = (uint8_t)(7 + 13 * i);
}

static uint8_t g_packet[UINT16_MAX + J_SRTP_MAX_TRAILER];
static uint8_t g_plain[UINT16_MAX];

/* forgotten: the receiver may have evicted a removed stream the sender goes on with (more
 * removals than it remembers), so an RTP index past ROC 0 need not authenticate. */
static void round_trip(j_srtp *tx, j_srtp *rx, int rtcp, size_t len, int forgotten)
{
    memcpy(g_plain, g_packet, len);
    int n = rtcp ? j_srtp_protect_rtcp(tx, g_packet, len, sizeof g_packet)
                 : j_srtp_protect_rtp(tx, g_packet, len, sizeof g_packet);
    if (n < 0) return;
    int m = rtcp ? j_srtp_unprotect_rtcp(rx, g_packet, (size_t)n)
                 : j_srtp_unprotect_rtp(rx, g_packet, (size_t)n);
    /* Sender and receiver see the same highest index, so they estimate the same ROC; only
     * a repeated or too old RTP index may be refused (outbound allows repeats). */
    if (m == J_EREPLAY && !rtcp) return;
    if (m == J_EAUTH && !rtcp && forgotten) return;
    if (m != (int)len || memcmp(g_packet, g_plain, len) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t selector = data[0];
    j_srtp_profile p = k_profiles[(selector & 0x03) % 3];
    int rtcp = (selector & 0x04) != 0, round_trips = (selector & 0x08) != 0;
    int removals = (selector & 0x10) != 0;
    size_t removed = 0;
    uint8_t key[J_SRTP_MAX_KEY_SALT_LEN];
    size_t key_len = j_srtp_profile_key_salt_len(p);
    fuzz_master_key(key, key_len);
    j_srtp *rx = j_srtp_new(p, key, key_len, J_SRTP_INBOUND, J_SRTP_MAX_STREAMS);
    j_srtp *tx = round_trips ? j_srtp_new(p, key, key_len, J_SRTP_OUTBOUND,
                                          J_SRTP_MAX_STREAMS) : NULL;
    if (!rx || (round_trips && !tx)) abort();

    size_t at = 1;
    while (size - at >= 2) {
        size_t len = rd_be16(data + at);
        at += 2;
        if (len > size - at) len = size - at;
        memcpy(g_packet, data + at, len);
        at += len;
        if (removals && len == 4) {
            if (j_srtp_remove_stream(rx, rd_be32(g_packet)) == J_OK) removed++;
            continue;
        }
        if (round_trips) {
            round_trip(tx, rx, rtcp, len, removed > J_SRTP_MAX_STREAMS);
            continue;
        }
        int n = rtcp ? j_srtp_unprotect_rtcp(rx, g_packet, len)
                     : j_srtp_unprotect_rtp(rx, g_packet, len);
        if (n > (int)len) abort();
    }
    j_srtp_free(tx);
    j_srtp_free(rx);
    return 0;
}
