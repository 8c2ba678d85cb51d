/* cert.c - self-signed DTLS certificates and their SDP fingerprints. */
#include "dtls/dtls_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/err.h"
#include "core/random.h"

#define CERT_VALID_BEFORE_S (30L * 24 * 3600) /* tolerate peers with clocks a month behind */
#define CERT_VALID_AFTER_S (365L * 24 * 3600)
#define CERT_CN_LEN 16

int dtls_format_fingerprint(const char *alg, const uint8_t *md, size_t md_len, char *out,
                            size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t alg_len = strlen(alg);
    if (md_len == 0 || cap < alg_len + 1 + md_len * 3) return J_ESHORTBUF;
    memcpy(out, alg, alg_len);
    char *p = out + alg_len;
    *p++ = ' ';
    for (size_t i = 0; i < md_len; i++) {
        if (i) *p++ = ':';
        *p++ = hex[md[i] >> 4];
        *p++ = hex[md[i] & 0xF];
    }
    *p = '\0';
    return J_OK;
}

/* Fill c->fingerprint from c->x509 (always SHA-256: what every browser expects). */
static int cert_compute_fingerprint(dtls_cert *c)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (X509_digest(c->x509, EVP_sha256(), md, &md_len) != 1) return J_ECRYPTO;
    return dtls_format_fingerprint("sha-256", md, md_len, c->fingerprint,
                                   sizeof c->fingerprint);
}

/* A positive 8-octet serial with 62 random bits (RFC 5280 §4.1.2.2: positive, <= 20 octets). */
static int cert_set_random_serial(X509 *x)
{
    uint8_t raw[8];
    j_random_bytes(raw, sizeof raw);
    raw[0] &= 0x7F;
    raw[0] |= 0x01 << 6; /* never zero, and a stable length */
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    if (!bn) return J_ENOMEM;
    int ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? J_OK : J_ECRYPTO;
}

int dtls_cert_generate(dtls_cert **out)
{
    if (!out) return J_EINVAL;
    *out = NULL;
    dtls_cert *c = calloc(1, sizeof *c);
    if (!c) return J_ENOMEM;
    int rc = J_ECRYPTO;

    c->key = EVP_EC_gen("P-256");
    c->x509 = X509_new();
    if (!c->key || !c->x509) goto fail;

    char cn[CERT_CN_LEN + 1];
    j_random_token(cn, CERT_CN_LEN);
    X509_NAME *name = X509_get_subject_name(c->x509);
    if (X509_set_version(c->x509, X509_VERSION_3) != 1 || cert_set_random_serial(c->x509) != 0 ||
        !X509_gmtime_adj(X509_getm_notBefore(c->x509), -CERT_VALID_BEFORE_S) ||
        !X509_gmtime_adj(X509_getm_notAfter(c->x509), CERT_VALID_AFTER_S) ||
        X509_set_pubkey(c->x509, c->key) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(c->x509, name) != 1 || X509_sign(c->x509, c->key, EVP_sha256()) <= 0)
        goto fail;
    rc = cert_compute_fingerprint(c);
    if (rc != 0) goto fail;
    *out = c;
    return J_OK;
fail:
    dtls_cert_free(c);
    return rc;
}

/* Refuse to prompt on a terminal for a passphrase: keys must be unencrypted. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

int dtls_cert_load(dtls_cert **out, const char *cert_pem_path, const char *key_pem_path)
{
    if (!out || !cert_pem_path || !key_pem_path) return J_EINVAL;
    *out = NULL;
    dtls_cert *c = calloc(1, sizeof *c);
    if (!c) return J_ENOMEM;
    int rc = J_EIO;

    FILE *f = fopen(cert_pem_path, "r");
    if (!f) goto fail;
    c->x509 = PEM_read_X509(f, NULL, no_passphrase, NULL);
    fclose(f);
    f = fopen(key_pem_path, "r");
    if (!f) goto fail;
    c->key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    rc = J_EMALFORMED;
    if (!c->x509 || !c->key || X509_check_private_key(c->x509, c->key) != 1) goto fail;
    rc = cert_compute_fingerprint(c);
    if (rc != 0) goto fail;
    *out = c;
    ERR_clear_error();
    return J_OK;
fail:
    ERR_clear_error();
    dtls_cert_free(c);
    return rc;
}

const char *dtls_cert_fingerprint(const dtls_cert *c)
{
    return c ? c->fingerprint : "";
}

void dtls_cert_free(dtls_cert *c)
{
    if (!c) return;
    X509_free(c->x509);
    EVP_PKEY_free(c->key);
    free(c);
}
