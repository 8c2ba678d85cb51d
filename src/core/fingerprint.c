/* fingerprint.c - decode an SDP certificate fingerprint (RFC 8122 §5). */
#include "core/fingerprint.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

static const struct {
    const char *name;
    j_fp_hash hash;
    size_t len;
} HASHES[] = {
    {"sha-1", J_FP_SHA1, 20},
    {"sha-256", J_FP_SHA256, 32},
    {"sha-384", J_FP_SHA384, 48},
    {"sha-512", J_FP_SHA512, 64},
};

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int j_fingerprint_parse(const char *alg, size_t alg_len, const char *value, size_t value_len,
                        j_fingerprint *out, char *why, size_t why_cap)
{
    if (why_cap > 0) why[0] = '\0';
    size_t want = 0;
    for (size_t i = 0; i < sizeof HASHES / sizeof HASHES[0]; i++) {
        if (alg_len == strlen(HASHES[i].name) && strncasecmp(alg, HASHES[i].name, alg_len) == 0) {
            out->hash = HASHES[i].hash;
            want = HASHES[i].len;
        }
    }
    /* Bytes are read (and, for a hash of ours, kept) even past the expected count, so the
     * message can say how many there were. */
    size_t count = 0;
    for (size_t at = 0;; count++) {
        int hi = at + 1 < value_len ? hex_digit(value[at]) : -1;
        int lo = hi >= 0 ? hex_digit(value[at + 1]) : -1;
        if (lo < 0) {
            if (why_cap > 0)
                snprintf(why, why_cap, "byte %zu is not two hex digits", count + 1);
            return J_EMALFORMED;
        }
        if (count < want) out->digest[count] = (uint8_t)(hi << 4 | lo);
        at += 2;
        if (at == value_len) break;
        if (value[at] != ':') {
            if (why_cap > 0)
                snprintf(why, why_cap, "byte %zu is not followed by ':'", count + 1);
            return J_EMALFORMED;
        }
        at++;
    }
    count++;
    if (!want) {
        if (why_cap > 0)
            snprintf(why, why_cap, "hash function '%.*s' is not supported (%s)",
                     (int)(alg_len < 16 ? alg_len : 16), alg, J_FP_SUPPORTED_NAMES);
        return J_EUNSUPPORTED;
    }
    if (count != want) {
        if (why_cap > 0)
            snprintf(why, why_cap, "%.*s needs %zu bytes, got %zu", (int)alg_len, alg, want, count);
        return J_EMALFORMED;
    }
    out->len = want;
    return J_OK;
}
