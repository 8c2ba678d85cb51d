/* srtp_internal.h - the srtp module's key schedule, shared with its tests.
 *
 * j_srtp_new is j_srtp_derive_keys (master key -> session keys) then j_srtp_new_with_keys.
 * The RFC 7714 and RFC 3711 B.2 vectors give session keys, not master keys, so the tests
 * enter at the second step and still run the real per-packet code.
 */
#ifndef J_SRTP_SRTP_INTERNAL_H
#define J_SRTP_SRTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "srtp/srtp.h"

#define J_SRTP_MAX_SESSION_KEY_LEN 32  /* AES-256 */
#define J_SRTP_MAX_SESSION_SALT_LEN 14 /* AES-CM's 112 bits; GCM uses the first 12 bytes */
#define J_SRTP_AUTH_KEY_LEN 20         /* HMAC-SHA1 key, RFC 3711 §5.2 */

/* One packet kind's session keys (RFC 3711 §4.3); lengths follow the profile. */
typedef struct {
    uint8_t enc[J_SRTP_MAX_SESSION_KEY_LEN];   /* cipher key: the master key's length */
    uint8_t salt[J_SRTP_MAX_SESSION_SALT_LEN]; /* session salt: the master salt's length */
    uint8_t auth[J_SRTP_AUTH_KEY_LEN];         /* AES-CM only */
} j_srtp_session_keys;

typedef struct {
    j_srtp_session_keys rtp, rtcp;
} j_srtp_keys;

/* j_srtp_kdf - the AES-CM PRF of RFC 3711 §4.3.3 with key_derivation_rate 0 (AES-256 per
 * RFC 6188 when key_len is 32): out_len bytes for label from master_key (16 or 32 bytes)
 * and master_salt (at most 14 bytes; shorter salts are zero padded on the right, as GCM's
 * 96-bit salt is). Returns 0, J_EINVAL or J_ECRYPTO. */
int j_srtp_kdf(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt,
               size_t salt_len, uint8_t label, uint8_t *out, size_t out_len);

/* j_srtp_derive_keys - all session keys of profile p from master key || salt (len must be
 * j_srtp_profile_key_salt_len(p)). Returns 0, J_EINVAL or J_ECRYPTO; the caller wipes out. */
int j_srtp_derive_keys(j_srtp_profile p, const uint8_t *key_salt, size_t len, j_srtp_keys *out);

/* j_srtp_new_with_keys - a session from already derived session keys (copied into the
 * cipher contexts), for max_streams SSRCs as j_srtp_new. NULL on bad arguments or failure. */
j_srtp *j_srtp_new_with_keys(j_srtp_profile p, const j_srtp_keys *keys, j_srtp_direction dir,
                             size_t max_streams);

#endif
