/* crypto.h - the few primitives the protocol core needs outside DTLS/SRTP.
 *
 * STUN needs HMAC-SHA1 (MESSAGE-INTEGRITY) and CRC-32 (FINGERPRINT); this is
 * the one place that reaches OpenSSL and zlib for them.
 */
#ifndef J_CRYPTO_CRYPTO_H
#define J_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define J_SHA1_LEN 20

/* j_hmac_sha1 - HMAC-SHA1 of data under key into out (20 bytes). Returns 0 or J_ECRYPTO. */
int j_hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                uint8_t out[J_SHA1_LEN]);
/* j_crc32 - ISO 3309 CRC-32 as used by STUN FINGERPRINT (before the XOR). */
uint32_t j_crc32(const uint8_t *data, size_t len);
/* j_ct_equal - constant-time comparison of two n-byte buffers. */
bool j_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

#endif
