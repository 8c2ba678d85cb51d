/* engine_test_support.h - negotiated offers and sessions for tests that add sessions to
 * engines (tests only; static functions, include once per test program). */
#ifndef J_APP_ENGINE_TEST_SUPPORT_H
#define J_APP_ENGINE_TEST_SUPPORT_H

#include <stdio.h>
#include <string.h>

#include "app/engine.h"
#include "peer/peer.h"
#include "sdp/sdp.h"

/* A negotiated offer with one m= section per kind in kinds ('a' audio, 'v' video), all in
 * the direction a session of role carries. */
static void make_neg(sdp_negotiated *neg, const char *kinds, peer_role role, const char *ufrag)
{
    memset(neg, 0, sizeof *neg);
    snprintf(neg->remote_ufrag, sizeof neg->remote_ufrag, "%s", ufrag);
    strcpy(neg->remote_fingerprint.alg, "sha-256");
    strcpy(neg->remote_fingerprint.value,
           "AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:"
           "AB:AB:AB:AB:AB");
    neg->our_setup = SDP_SETUP_PASSIVE;
    neg->media_count = (uint8_t)strlen(kinds);
    for (int i = 0; kinds[i]; i++) {
        sdp_neg_media *m = &neg->media[i];
        m->accepted = true;
        m->kind = kinds[i] == 'a' ? SDP_KIND_AUDIO : SDP_KIND_VIDEO;
        snprintf(m->mid, sizeof m->mid, "%d", i);
        m->dir = role == PEER_PUBLISHER ? SDP_DIR_RECVONLY : SDP_DIR_SENDONLY;
        m->codec_count = 1;
        m->codecs[0].pt = kinds[i] == 'a' ? 111 : 96;
        strcpy(m->codecs[0].name, kinds[i] == 'a' ? "opus" : "VP8");
        m->codecs[0].clock_rate = kinds[i] == 'a' ? 48000 : 90000;
    }
}

/* A session of the test owner with fixed ICE password. */
static engine_session session_of(peer_role role, const char *id, const char *ufrag,
                                 sdp_negotiated *neg, engine_bind *binds)
{
    return (engine_session){.role = role, .id = id, .owner = "test", .local_ufrag = ufrag,
                            .local_pwd = "0123456789abcdefghijklmn", .neg = neg, .binds = binds};
}

#endif
