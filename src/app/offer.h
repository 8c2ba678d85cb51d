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

#define APP_REFUSAL_LEN 256

typedef struct app_offer {
    sdp_session *sdp;    /* owned: the parsed offer */
    sdp_negotiated *neg; /* owned: our decisions */
    engine_bind *binds;  /* owned: neg->media_count entries, zeroed */
    /* owned: neg->media_count entries, "" unless app_offer_check_codecs unbound that m=
     * section: why its track cannot be received there */
    char (*refused)[APP_REFUSAL_LEN];
} app_offer;

/* app_offer_negotiate - parse text and negotiate it for a session of that role.
 * J_OK; J_EMALFORMED (not SDP, or a required attribute is missing: detail says which);
 * J_EUNSUPPORTED (nothing usable: codecs, BUNDLE, rtcp-mux, direction); J_ENOMEM.
 * On failure o holds nothing to free (app_offer_free is still safe). */
int app_offer_negotiate(app_offer *o, peer_role role, const char *text, size_t len, char *detail,
                        size_t detail_cap);
void app_offer_free(app_offer *o);

/* app_offer_check_codecs - a subscriber's bound m= sections against what their tracks'
 * publishers send: published[i] (neg->media_count entries), codec_count 0 when the track has
 * no publisher yet (nothing to check: a viewer who comes first keeps its binding, and the
 * engine logs a mismatch when the publisher arrives). Each section that negotiated none of
 * its publisher's codecs (sdp_codecs_overlap, profiles included) is unbound (binds[i]
 * cleared: nothing is sent there) and o->refused[i] says why, e.g. "video: the publisher
 * sends H264 High; this offer accepts VP8, VP9". J_OK, or J_EUNSUPPORTED when some bound
 * track has a publisher and none of those can be received (detail joins the reasons; the
 * sections are unbound all the same): no media could flow. */
int app_offer_check_codecs(app_offer *o, const sfu_source *published, char *detail,
                           size_t detail_cap);

/* app_offer_check_published - app_offer_check_codecs against the publishers the media plane
 * has for the tracks bound (media_published: those of name, a stream or a room). Its codes,
 * plus J_ENOMEM and J_EIO (shutting down). */
int app_offer_check_published(const app *a, const char *name, app_offer *o, char *detail,
                              size_t detail_cap);

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
