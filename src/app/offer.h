/* offer.h - an SDP offer taken through parsing, negotiation and our answer.
 *
 * Shared by WHIP/WHEP and the room protocol: both receive an offer for a session
 * that either publishes (we receive) or subscribes (we send), and answer it with
 * our ICE-lite credentials, DTLS fingerprint, host candidates and, for what we
 * send, the SSRC the engine bound to each m= section. Runs on the HTTP thread.
 */
#ifndef J_APP_OFFER_H
#define J_APP_OFFER_H

#include <stddef.h>

#include "app/engine.h"
#include "app/whip.h"
#include "peer/peer.h"
#include "sdp/sdp.h"

typedef struct app_offer {
    sdp_session *sdp;    /* owned: the parsed offer */
    sdp_negotiated *neg; /* owned: our decisions */
    engine_bind *binds;  /* owned: neg->media_count entries, zeroed */
} app_offer;

/* app_offer_negotiate - parse text and negotiate it for a session of that role.
 * J_OK; J_EMALFORMED (not SDP, or a required attribute is missing: detail says which);
 * J_EUNSUPPORTED (nothing usable: codecs, BUNDLE, rtcp-mux, direction); J_ENOMEM.
 * On failure o holds nothing to free (app_offer_free is still safe). */
int app_offer_negotiate(app_offer *o, peer_role role, const char *text, size_t len, char *detail,
                        size_t detail_cap);
void app_offer_free(app_offer *o);

typedef struct app_answer_params {
    const char *ice_ufrag, *ice_pwd; /* ours */
    const char *cname;               /* subscriber: RTCP CNAME of what we send */
    const char *stream_id;           /* subscriber: a=msid stream id (groups tracks for sync) */
    uint16_t media_port;             /* the UDP port of the session's worker */
} app_answer_params;

/* app_offer_answer - our answer, using o->binds (subscriber: the SSRC per m= section, and
 * the track id as a=msid track id; an m= section with no SSRC is answered inactive).
 * Returns the length written, or a negative J_E* code. */
int app_offer_answer(const app *a, app_offer *o, peer_role role, const app_answer_params *p,
                     char *buf, size_t cap);

#endif
