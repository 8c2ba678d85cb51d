/* ice_internal.h - what the ICE-lite responder and the full ICE client share (not API). */
#ifndef J_ICE_INTERNAL_H
#define J_ICE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "stun/stun.h"

/* One side's credentials, as ice_copy_token() validated them. */
typedef struct ice_creds {
    const char *ufrag;
    size_t ufrag_len;
    const char *pwd;
    size_t pwd_len;
} ice_creds;

/* ice_copy_token - copy s into dst (cap > max) if its length is within [min, max] and every
 * character is an ice-char (strict) or printable ASCII other than ':' (a remote ufrag,
 * only ever compared). *len gets the length. J_OK or J_EINVAL. */
int ice_copy_token(char *dst, size_t *len, const char *s, size_t min, size_t max, bool strict);

/* ice_authenticate_request - whether the Binding request m (parsed from buf/len) is a
 * check addressed to `local`: FINGERPRINT correct if present, USERNAME
 * "<local ufrag>:<remote ufrag>" (any non-empty remote part when remote_ufrag_len is 0),
 * MESSAGE-INTEGRITY under the local password. J_OK or J_EAUTH. */
int ice_authenticate_request(const ice_creds *local, const char *remote_ufrag,
                             size_t remote_ufrag_len, const stun_msg *m, const uint8_t *buf,
                             size_t len);

/* ice_write_response - the answer to request m from `from`: a success response with
 * XOR-MAPPED-ADDRESS when code is 0, else an error response (420 lists m's unknown
 * attributes, 487 is a role conflict); signed with the local password, with FINGERPRINT.
 * Returns the length or a negative J_E* code. */
int ice_write_response(const ice_creds *local, const stun_msg *m, const j_addr *from, int code,
                       uint8_t *out, size_t cap);

#endif
