/* fuzz_jwt.c - auth_verify on arbitrary tokens, and on arbitrary JSON signed correctly.
 *
 * An input is either a token, verified as it is, or "J" + header JSON + NUL +
 * payload JSON, which is base64url-encoded and signed here with the fuzzing
 * key, so mutations reach the header and claim checks behind the signature.
 * Every accepted token is minted again from its grants and must verify to the
 * same grants.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000
#define KEY_ID "APIdev1"
static const char secret[] = "0123456789abcdef0123456789abcdef-dev";

/* base64url through OpenSSL's standard base64 (out holds 4 * ceil(len / 3) + 1). */
static size_t b64url(const uint8_t *in, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    while (n > 0 && out[n - 1] == '=') n--;
    for (int i = 0; i < n; i++) out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return (size_t)n;
}

/* "J" header NUL payload -> a correctly signed token in out; 0 if the input has no NUL. */
static size_t sign_json(const uint8_t *data, size_t size, char *out)
{
    const uint8_t *nul = memchr(data, '\0', size);
    if (!nul) return 0;
    size_t n = b64url(data, (size_t)(nul - data), out);
    out[n++] = '.';
    n += b64url(nul + 1, size - (size_t)(nul + 1 - data), out + n);
    uint8_t mac[32];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), secret, sizeof secret - 1, (const unsigned char *)out, n, mac,
              &mac_len))
        abort();
    out[n++] = '.';
    return n + b64url(mac, mac_len, out + n);
}

static void check_terminated(const char *s, size_t cap)
{
    if (!memchr(s, '\0', cap)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static auth_keys keys;
    static char token[4 * AUTH_TOKEN_MAX];
    if (keys.count == 0 &&
        auth_keys_add(&keys, KEY_ID, (const uint8_t *)secret, sizeof secret - 1) != J_OK)
        abort();

    const char *t = (const char *)data;
    size_t len = size;
    if (size > 0 && data[0] == 'J') {
        if (size > 2 * AUTH_TOKEN_MAX) return 0;
        len = sign_json(data + 1, size - 1, token);
        if (len == 0) return 0;
        t = token;
    }
    auth_grants g;
    char err[160];
    int rc = auth_verify(&keys, t, len, NOW, &g, err, sizeof err);
    check_terminated(err, sizeof err);
    if (rc != J_OK) {
        if (rc >= 0 || g.key_id[0] || g.room[0] || g.admin) abort();
        return 0;
    }
    check_terminated(g.key_id, sizeof g.key_id);
    check_terminated(g.identity, sizeof g.identity);
    check_terminated(g.name, sizeof g.name);
    check_terminated(g.room, sizeof g.room);
    if (strcmp(g.key_id, KEY_ID) != 0 || g.expires_at <= NOW - AUTH_LEEWAY_S) abort();
    if (g.expires_at <= NOW) return 0; /* accepted inside the leeway; cannot be minted again */

    char again[AUTH_TOKEN_MAX + 1];
    int n = auth_mint(KEY_ID, (const uint8_t *)secret, sizeof secret - 1, &g, g.expires_at - NOW,
                      NOW, again, sizeof again);
    if (n <= 0) abort();
    auth_grants g2;
    if (auth_verify(&keys, again, (size_t)n, NOW, &g2, err, sizeof err) != J_OK) abort();
    if (strcmp(g.identity, g2.identity) != 0 || strcmp(g.name, g2.name) != 0 ||
        strcmp(g.room, g2.room) != 0 || g.can_publish != g2.can_publish ||
        g.can_subscribe != g2.can_subscribe || g.admin != g2.admin ||
        g.expires_at != g2.expires_at)
        abort();
    return 0;
}
