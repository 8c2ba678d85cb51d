/* srtp_profile.h - the DTLS-SRTP protection profiles shared by dtls and srtp.
 *
 * DTLS negotiates the profile (RFC 5764 use_srtp) and exports the keying
 * material; the srtp module consumes both. Modules are set up in order and
 * dtls comes before srtp, so the profile enum lives here, header-only, and
 * src/srtp/srtp.h includes it: neither library links the other for it.
 *
 * The enum values are the IANA "DTLS-SRTP Protection Profiles" ids.
 */
#ifndef J_DTLS_SRTP_PROFILE_H
#define J_DTLS_SRTP_PROFILE_H

#include <stddef.h>

typedef enum {
    J_SRTP_PROFILE_AES128_CM_SHA1_80 = 0x0001, /* RFC 5764 §4.1.2 */
    J_SRTP_PROFILE_AEAD_AES_128_GCM = 0x0007,  /* RFC 7714 §14.2 */
    J_SRTP_PROFILE_AEAD_AES_256_GCM = 0x0008,  /* RFC 7714 §14.2 */
} j_srtp_profile;

#define J_SRTP_AES128_MASTER_KEY_LEN 16 /* AES128_CM_SHA1_80, AEAD_AES_128_GCM */
#define J_SRTP_AES256_MASTER_KEY_LEN 32 /* AEAD_AES_256_GCM */
#define J_SRTP_CM_MASTER_SALT_LEN 14    /* AES-CM: 112-bit master salt */
#define J_SRTP_GCM_MASTER_SALT_LEN 12   /* AEAD-GCM: 96-bit master salt (RFC 7714 §12) */
/* The largest master key || master salt of any supported profile (AES-256-GCM). */
#define J_SRTP_MAX_KEY_SALT_LEN (J_SRTP_AES256_MASTER_KEY_LEN + J_SRTP_GCM_MASTER_SALT_LEN)

/* j_srtp_profile_master_key_len - master key length of p (the AES key size), 0 when p is not
 * a supported profile. */
static inline size_t j_srtp_profile_master_key_len(j_srtp_profile p)
{
    switch (p) {
    case J_SRTP_PROFILE_AES128_CM_SHA1_80:
    case J_SRTP_PROFILE_AEAD_AES_128_GCM: return J_SRTP_AES128_MASTER_KEY_LEN;
    case J_SRTP_PROFILE_AEAD_AES_256_GCM: return J_SRTP_AES256_MASTER_KEY_LEN;
    }
    return 0;
}

/* j_srtp_profile_salt_len - master salt length of p, 0 when p is not a supported profile. */
static inline size_t j_srtp_profile_salt_len(j_srtp_profile p)
{
    switch (p) {
    case J_SRTP_PROFILE_AES128_CM_SHA1_80: return J_SRTP_CM_MASTER_SALT_LEN;
    case J_SRTP_PROFILE_AEAD_AES_128_GCM:
    case J_SRTP_PROFILE_AEAD_AES_256_GCM: return J_SRTP_GCM_MASTER_SALT_LEN;
    }
    return 0;
}

/* j_srtp_profile_key_salt_len - master key || salt length of p, 0 when unsupported. */
static inline size_t j_srtp_profile_key_salt_len(j_srtp_profile p)
{
    return j_srtp_profile_master_key_len(p) + j_srtp_profile_salt_len(p);
}

#endif
