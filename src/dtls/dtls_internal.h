/* dtls_internal.h - shared between the dtls module's .c files; not a public API. */
#ifndef J_DTLS_INTERNAL_H
#define J_DTLS_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dtls/dtls.h"

struct dtls_cert {
    X509 *x509;
    EVP_PKEY *key;
    char fingerprint[DTLS_FINGERPRINT_MAX];
};

struct dtls_ctx {
    SSL_CTX *ssl;
    uint32_t initial_rto_us;
    uint32_t max_rto_us; /* DTLS_MAX_RTO_US; tests lower it to reach the give-up quickly */
};

/* dtls_format_fingerprint - "<alg> XX:XX:.." into out. Returns 0 or J_ESHORTBUF. */
int dtls_format_fingerprint(const char *alg, const uint8_t *md, size_t md_len, char *out,
                            size_t cap);

#endif
