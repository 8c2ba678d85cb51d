/* srtp_keys.c - SRTP key derivation (RFC 3711 §4.3, RFC 6188 §7, RFC 7714 §11). */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/err.h"
#include "srtp/srtp_internal.h"

/* RFC 3711 §4.3.2 key derivation labels; RTCP's are RTP's plus 3. */
#define LABEL_ENC 0x00
#define LABEL_AUTH 0x01
#define LABEL_SALT 0x02
#define LABEL_RTCP_OFFSET 0x03

#define PRF_IV_LEN 16
/* The label sits at bit 48 of the 112-bit x = (label || r) XOR master_salt: byte 7. */
#define LABEL_BYTE 7

int j_srtp_kdf(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt,
               size_t salt_len, uint8_t label, uint8_t *out, size_t out_len)
{
    if (!master_key || !master_salt || !out || (key_len != 16 && key_len != 32) ||
        salt_len > J_SRTP_MAX_SESSION_SALT_LEN || out_len > INT_MAX)
        return J_EINVAL;
    /* The key is the AES-CM keystream from IV x * 2^16 (r = 0: rate 0 derives once). */
    uint8_t iv[PRF_IV_LEN] = {0};
    memcpy(iv, master_salt, salt_len);
    iv[LABEL_BYTE] ^= label;
    memset(out, 0, out_len);
    EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, key_len == 16 ? "AES-128-CTR" : "AES-256-CTR", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    bool ok = aes && ctx && EVP_EncryptInit_ex2(ctx, aes, master_key, iv, NULL) == 1 &&
              EVP_EncryptUpdate(ctx, out, &n, out, (int)out_len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(aes);
    if (!ok) {
        OPENSSL_cleanse(out, out_len);
        ERR_clear_error();
        return J_ECRYPTO;
    }
    return J_OK;
}

int j_srtp_derive_keys(j_srtp_profile p, const uint8_t *key_salt, size_t len, j_srtp_keys *out)
{
    size_t key_len = j_srtp_profile_master_key_len(p), salt_len = j_srtp_profile_salt_len(p);
    if (!key_salt || !out || key_len == 0 || len != key_len + salt_len) return J_EINVAL;
    memset(out, 0, sizeof *out);
    const uint8_t *salt = key_salt + key_len;
    bool needs_auth_key = p == J_SRTP_PROFILE_AES128_CM_SHA1_80; /* GCM authenticates itself */
    j_srtp_session_keys *kinds[2] = {&out->rtp, &out->rtcp};
    for (int k = 0; k < 2; k++) {
        uint8_t base = (uint8_t)(k * LABEL_RTCP_OFFSET);
        j_srtp_session_keys *dst = kinds[k];
        int rc = j_srtp_kdf(key_salt, key_len, salt, salt_len, base + LABEL_ENC, dst->enc,
                            key_len);
        if (rc == J_OK)
            rc = j_srtp_kdf(key_salt, key_len, salt, salt_len, base + LABEL_SALT, dst->salt,
                            salt_len);
        if (rc == J_OK && needs_auth_key)
            rc = j_srtp_kdf(key_salt, key_len, salt, salt_len, base + LABEL_AUTH, dst->auth,
                            sizeof dst->auth);
        if (rc != J_OK) {
            OPENSSL_cleanse(out, sizeof *out);
            return rc;
        }
    }
    return J_OK;
}
