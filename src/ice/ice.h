/* ice.h - ICE-lite agent (RFC 8445 sections 2.5 and 7.3) with consent
 * freshness (RFC 7675), and a minimal full ICE client, both sans-I/O.
 *
 * The server is always the lite, controlled side; browsers are full,
 * controlling agents that send connectivity checks. One ice_lite per peer,
 * embeddable (no allocation). The caller feeds it every STUN message that
 * arrives for the peer, sends back whatever response it produces to the
 * source address, drops media from addresses that are not valid sources,
 * and calls ice_lite_handle_timeout() at ice_lite_poll_timeout().
 *
 * Credentials: checks arrive with USERNAME "<local ufrag>:<remote ufrag>"
 * and are signed with the LOCAL password; responses are signed with it too.
 * The remote password is therefore never needed by a lite agent.
 */
#ifndef J_ICE_ICE_H
#define J_ICE_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "stun/stun.h"

#define ICE_UFRAG_LEN 8  /* generated ufrag length (RFC 8839: at least 4) */
#define ICE_PWD_LEN 24   /* generated password length (RFC 8839: at least 22) */
#define ICE_UFRAG_MAX 256
#define ICE_PWD_MAX 256
#define ICE_MAX_SOURCES 8 /* validated remote addresses remembered per peer */
#define ICE_CONSENT_TIMEOUT_US 30000000ull /* RFC 7675: 30 s without consent */

typedef enum {
    ICE_STATE_NEW,       /* no valid check yet */
    ICE_STATE_CONNECTED, /* at least one valid check; see ice_lite_selected() */
    ICE_STATE_FAILED,    /* consent expired (or never obtained): tear down */
} ice_state;

typedef enum {
    ICE_EV_NONE,
    ICE_EV_SELECTED, /* the nominated remote address was set or changed */
    ICE_EV_TIMEOUT,  /* consent expired: the caller tears the peer down */
} ice_event;

typedef struct {
    j_addr addr;
    uint64_t last_check_us; /* time of the last valid check from addr */
    bool used;
} ice_source;

typedef struct ice_lite {
    char local_ufrag[ICE_UFRAG_MAX + 1];
    char local_pwd[ICE_PWD_MAX + 1];
    char remote_ufrag[ICE_UFRAG_MAX + 1]; /* "" while unknown */
    size_t local_ufrag_len, local_pwd_len, remote_ufrag_len;

    /* Consent window (RFC 7675); the caller may change it after init. */
    uint64_t consent_timeout_us;

    ice_state state;
    uint64_t created_us;
    uint64_t last_check_us; /* last valid check from any address */
    ice_source sources[ICE_MAX_SOURCES];
    bool has_selected;
    j_addr selected;
    uint64_t selected_check_us; /* last valid check from the selected address */
} ice_lite;

/* ice_lite_generate_credentials - random ufrag (ICE_UFRAG_LEN characters) and
 * password (ICE_PWD_LEN characters, about 143 bits) from the ice-char set,
 * NUL-terminated. */
void ice_lite_generate_credentials(char ufrag[ICE_UFRAG_LEN + 1], char pwd[ICE_PWD_LEN + 1]);

/* ice_lite_init - set up an agent at time now_us.
 *
 * local_ufrag (4..256) and local_pwd (22..256) must be ice-chars
 * (ALPHA / DIGIT / "+" / "/"). remote_ufrag may be NULL or "" while unknown;
 * otherwise 1..256 printable characters without ':'. The peer times out if
 * no valid check arrives within consent_timeout_us of now_us.
 * Returns J_OK or J_EINVAL. */
int ice_lite_init(ice_lite *ice, const char *local_ufrag, const char *local_pwd,
                  const char *remote_ufrag, uint64_t now_us);

/* ice_lite_set_remote_ufrag - learn the remote ufrag after init (e.g. from an
 * SDP answer); later checks must then name it. Returns J_OK or J_EINVAL. */
int ice_lite_set_remote_ufrag(ice_lite *ice, const char *remote_ufrag);

/* ice_lite_handle_stun - process one STUN message received from `from`.
 *
 * A Binding request is accepted when USERNAME is "<local ufrag>:<remote
 * ufrag>" (any non-empty remote part while the remote ufrag is unknown),
 * MESSAGE-INTEGRITY verifies with the local password and FINGERPRINT, if
 * present, is correct. The answer is written to out (cap bytes) and its
 * length returned: a success response with XOR-MAPPED-ADDRESS = from,
 * MESSAGE-INTEGRITY and FINGERPRINT; or a 487 error if the request carries
 * ICE-CONTROLLED (both sides controlled: a lite agent cannot switch role, so
 * the full agent must); or a 420 error for unknown comprehension-required
 * attributes. A valid check refreshes consent for `from`, makes it a valid
 * source, and with USE-CANDIDATE nominates it: *ev = ICE_EV_SELECTED when
 * the selected address is set or changes, ICE_EV_NONE otherwise.
 *
 * Returns the response length (> 0); 0 when nothing is to be sent (Binding
 * indication keepalives, responses, other methods); J_EAUTH for a request
 * failing authentication (dropped silently, no state change); J_ESTATE once
 * the agent has failed; parse errors; J_ESHORTBUF if out is too small. */
int ice_lite_handle_stun(ice_lite *ice, uint64_t now_us, const j_addr *from, const uint8_t *buf,
                         size_t len, uint8_t *out, size_t cap, ice_event *ev);

/* ice_lite_is_valid_source - true if an authenticated check came from `from`
 * within the consent window. Media from other addresses must be dropped. */
bool ice_lite_is_valid_source(const ice_lite *ice, const j_addr *from);

/* ice_lite_selected - the nominated remote address, or NULL before
 * nomination and after failure. */
const j_addr *ice_lite_selected(const ice_lite *ice);

ice_state ice_lite_state(const ice_lite *ice);

/* ice_lite_handle_timeout - expire consent. Sources without a valid check
 * for consent_timeout_us stop being valid. When the selected address is that
 * old but another source still has consent, that source (the most recently
 * checked) becomes the selected one and ICE_EV_SELECTED is returned; when no
 * address (and, before any check, the agent's creation) is younger than the
 * window, the agent fails and ICE_EV_TIMEOUT is returned once. */
ice_event ice_lite_handle_timeout(ice_lite *ice, uint64_t now_us);

/* ice_lite_poll_timeout - when ice_lite_handle_timeout() must next be
 * called, or UINT64_MAX once failed. */
uint64_t ice_lite_poll_timeout(const ice_lite *ice);

/* ice_lite_username_local_ufrag - the local part of a request's USERNAME
 * ("<local>:<remote>"), so a demultiplexer can find the peer by ufrag before
 * it knows the address. *ufrag points into the message. Returns J_OK,
 * J_ENOTFOUND (no USERNAME) or J_EMALFORMED (no ':' or empty local part). */
int ice_lite_username_local_ufrag(const stun_msg *m, const char **ufrag, size_t *len);

/* ---- ice_client: a full agent for one host candidate pair ------------------------------
 *
 * The client side of a connection to a media server (junction-load): it knows the
 * server's one candidate from the SDP and has one host candidate of its own, so its check
 * list is that single pair (RFC 8445 section 6.1.2). Controlling by default (an offerer
 * facing an ICE-lite server, or a full one); the role follows RFC 8445 section 6.1.1 and
 * 487 role conflicts (section 7.2.5.1, 7.3.1.1). Controlling, it checks the pair, then
 * nominates it with USE-CANDIDATE (regular nomination); controlled, the pair is usable once
 * its own check succeeded. Afterwards it refreshes consent (RFC 7675) every 4-6 s and fails
 * when no check succeeded for consent_timeout_us. It also answers the server's checks (a
 * full server checks too). No allocation; the caller sends whatever
 * ice_client_poll_transmit() and ice_client_handle_stun() produce to the server's address.
 */
#define ICE_CLIENT_RTO_MIN_US 100000u     /* first retransmission of a check */
#define ICE_CLIENT_RTO_MAX_US 1600000u    /* retransmission interval cap */
#define ICE_CLIENT_CONSENT_US 5000000u    /* consent refresh period (randomised +-20%) */

typedef struct ice_client {
    char local_ufrag[ICE_UFRAG_MAX + 1];
    char local_pwd[ICE_PWD_MAX + 1];
    char remote_ufrag[ICE_UFRAG_MAX + 1];
    char remote_pwd[ICE_PWD_MAX + 1];
    size_t local_ufrag_len, local_pwd_len, remote_ufrag_len, remote_pwd_len;
    uint64_t consent_timeout_us; /* the caller may change it after init */

    bool controlling;
    uint64_t tiebreaker;
    uint32_t priority;        /* PRIORITY of our checks: a peer-reflexive candidate's */
    ice_state state;
    bool checked;             /* a check of ours succeeded */
    bool nominated;           /* the pair is selected: media may flow */

    /* The one transaction in flight (a check, a nomination or a consent request). */
    bool in_flight;
    bool in_flight_nominates;
    uint8_t tid[STUN_TID_LEN];
    uint32_t rto_us;
    uint64_t next_tx_us;      /* when poll_transmit sends (or resends) next */
    uint64_t created_us;
    uint64_t last_success_us; /* last authenticated success response */
} ice_client;

/* ice_client_init - an agent for the pair towards one remote candidate, starting at now_us
 * (its first check is due at once). Local credentials as for ice_lite_init; the remote
 * ufrag 1..256 printable characters without ':', the remote password 1..256 printable.
 * tiebreaker: a random 64-bit value (RFC 8445 section 16.1). Returns J_OK or J_EINVAL. */
int ice_client_init(ice_client *c, const char *local_ufrag, const char *local_pwd,
                    const char *remote_ufrag, const char *remote_pwd, bool controlling,
                    uint64_t tiebreaker, uint64_t now_us);

/* ice_client_poll_transmit - the Binding request due at now_us (USERNAME
 * "<remote>:<local>", PRIORITY, ICE-CONTROLLING or ICE-CONTROLLED, USE-CANDIDATE when
 * nominating, MESSAGE-INTEGRITY under the remote password, FINGERPRINT) written to out.
 * Returns its length, 0 when nothing is due (or the agent failed), J_ESHORTBUF. */
int ice_client_poll_transmit(ice_client *c, uint64_t now_us, uint8_t *out, size_t cap);

/* ice_client_handle_stun - process one STUN message from the remote candidate.
 *
 * A success response to our transaction (integrity under the remote password) completes
 * it: a check makes the pair usable (controlled) or schedules its nomination
 * (controlling), a nomination sets *ev = ICE_EV_SELECTED, any refreshes consent. A 487
 * error switches role and retries at once. A Binding request from the server is
 * authenticated like ice_lite's and answered into out (a 487 when it loses a role
 * conflict). Returns the length of an answer to send, 0 when there is none, J_EAUTH (a
 * request or a response failing authentication: dropped), J_ESTATE once failed, parse
 * errors, J_ESHORTBUF. */
int ice_client_handle_stun(ice_client *c, uint64_t now_us, const j_addr *from,
                           const uint8_t *buf, size_t len, uint8_t *out, size_t cap,
                           ice_event *ev);

/* ice_client_handle_timeout - fail (ICE_EV_TIMEOUT, once) when no check succeeded within
 * consent_timeout_us of the last success (or of init). */
ice_event ice_client_handle_timeout(ice_client *c, uint64_t now_us);

/* ice_client_poll_timeout - the next deadline: a (re)transmission or consent expiry;
 * UINT64_MAX once failed. */
uint64_t ice_client_poll_timeout(const ice_client *c);

ice_state ice_client_state(const ice_client *c);

#endif
