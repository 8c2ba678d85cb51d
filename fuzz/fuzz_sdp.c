/* fuzz_sdp.c - SDP parse -> candidates -> negotiate -> write answer -> parse the answer again.
 *
 * The policy accepts everything both ways (a room peer), so every code path of the
 * negotiation runs (and the codec comparison and late rejection a viewer's offer gets).
 * Oracle beyond "no crash / no sanitizer report": an answer we wrote must
 * parse with our own parser, since browsers will parse it next.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdp/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Large structures: static, not on the fuzzer's stack. */
static sdp_session offer, reparsed;
static sdp_negotiated neg;
static char answer[64 * 1024];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (sdp_parse(&offer, (const char *)data, size, err, sizeof err) != 0) return 0;
    for (unsigned i = 0; i < offer.media_count; i++) {
        for (unsigned k = 0; k < offer.media[i].candidates_kept; k++) {
            sdp_candidate cand;
            sdp_candidate_parse(offer.media[i].candidates[k], &cand);
        }
    }

    const sdp_policy policy = {
        .audio_codecs = SDP_CODEC_OPUS,
        .video_codecs = SDP_CODEC_VP8 | SDP_CODEC_VP9 | SDP_CODEC_H264,
        .video_rtx = true,
        .rtcp_fb = SDP_FB_NACK | SDP_FB_PLI | SDP_FB_FIR | SDP_FB_REMB | SDP_FB_TWCC,
        .ext_recv = 0xffffffffu,
        .ext_send = 0xffffffffu,
        .can_receive = true,
        .can_send = true,
    };
    if (sdp_negotiate(&offer, &policy, &neg, err, sizeof err) != 0) return 0;

    /* A viewer's sections against a publisher's codecs (here: the first accepted section's),
     * described for messages; the last accepted one rejected afterwards, as WHEP does to a
     * section that lacks them. */
    int first = -1, last = -1, accepted = 0;
    for (int i = 0; i < neg.media_count; i++) {
        if (!neg.media[i].accepted) continue;
        if (first < 0) first = i;
        last = i;
        accepted++;
        char names[96];
        sdp_codec_names(neg.media[i].codecs, neg.media[i].codec_count, names, sizeof names);
        sdp_codecs_overlap(neg.media[first].codecs, neg.media[first].codec_count,
                           neg.media[i].codecs, neg.media[i].codec_count);
    }
    if (accepted > 1) sdp_neg_reject(&neg, last, SDP_REJECT_NO_CODEC);

    sdp_answer_params p = {
        .local = {.session_id = 42,
                  .ice_ufrag = "fuzzufrag",
                  .ice_pwd = "fuzzpasswordfuzzpasswordfuzz",
                  .fingerprint = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                                 "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
                  .candidate_count = 2},
        .ice_lite = true,
    };
    j_addr_parse(&p.local.candidates[0].addr, "192.0.2.1", 40000);
    j_addr_parse(&p.local.candidates[1].addr, "2001:db8::1", 40000);
    for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
        p.send[i] = (sdp_send_track){.ssrc = 1000 + i, .rtx_ssrc = 2000 + i, .cname = "fuzz",
                                     .stream_id = "stream", .track_id = "track"};
    int n = sdp_write_answer(&offer, &neg, &p, answer, sizeof answer);
    if (n < 0) return 0;
    if (sdp_parse(&reparsed, answer, (size_t)n, err, sizeof err) != 0) {
        fprintf(stderr, "our answer does not parse: %s\n%s\n", err, answer);
        abort();
    }
    return 0;
}
