/* crypto.c - HMAC-SHA1 via OpenSSL, CRC-32 via zlib. */
#include "crypto/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "core/err.h"

int j_hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                uint8_t out[J_SHA1_LEN])
{
    unsigned int out_len = 0;
    if (!HMAC(EVP_sha1(), key, (int)key_len, data, len, out, &out_len) || out_len != J_SHA1_LEN)
        return J_ECRYPTO;
    return J_OK;
}

uint32_t j_crc32(const uint8_t *data, size_t len)
{
    return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), data, len);
}

bool j_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
