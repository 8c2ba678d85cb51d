/* fingerprint.h - the certificate fingerprint of an SDP a=fingerprint (RFC 8122 §5), decoded.
 *
 * One decoder for both sides of the value: the SDP parser rejects a malformed one with its
 * reason, and DTLS pins the peer's certificate to the digest. Pure text work, no OpenSSL.
 */
#ifndef J_CORE_FINGERPRINT_H
#define J_CORE_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

/* Hash functions a DTLS peer can be verified with (RFC 8122 §5; RFC 8842 §5 keeps them). */
typedef enum {
    J_FP_SHA1 = 1,
    J_FP_SHA256,
    J_FP_SHA384,
    J_FP_SHA512,
} j_fp_hash;

#define J_FP_MAX_DIGEST 64 /* sha-512 */
/* What j_fingerprint_parse names as supported, for messages. */
#define J_FP_SUPPORTED_NAMES "sha-1, sha-256, sha-384, sha-512"

typedef struct j_fingerprint {
    j_fp_hash hash;
    size_t len; /* digest bytes: 20, 32, 48 or 64 */
    uint8_t digest[J_FP_MAX_DIGEST];
} j_fingerprint;

/* j_fingerprint_parse - decode hash-func (alg_len bytes, case-insensitive) and fingerprint
 * (value_len bytes: 2HEXDIG *(":" 2HEXDIG), either case) into out. Neither needs a NUL.
 *   J_OK
 *   J_EUNSUPPORTED  the value is well-formed but the hash function is none of ours;
 *   J_EMALFORMED    bad hex pairs, or a length other than the hash's digest size.
 * On failure why (why_cap > 0) holds the reason, e.g. "sha-256 needs 32 bytes, got 2". */
int j_fingerprint_parse(const char *alg, size_t alg_len, const char *value, size_t value_len,
                        j_fingerprint *out, char *why, size_t why_cap);

#endif
