/* auth_test.c - JWT HS256: the RFC 7515 A.1 vector, mint/verify round trips, every refusal
 * reason, key rotation and the grant checks.
 *
 * Tokens with hand-written headers and payloads are signed here with OpenSSL's own
 * base64 and HMAC, independently of auth.c, so the two implementations check each other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/auth.h"
#include "core/err.h"

/* RFC 7515 appendix A.1: the JWK "k" of the example, decoded. */
static const uint8_t rfc_key[64] = {
    0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06, 0x65, 0x77, 0x7b, 0xa6, 0x8f,
    0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54, 0xc9, 0x28, 0xa9, 0x0f, 0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf,
    0xd3, 0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47, 0xef, 0x96, 0x8a, 0xb4, 0xc3, 0x77, 0x62, 0x3d, 0x22,
    0x3d, 0x2e, 0x21, 0x72, 0x05, 0x2e, 0x4f, 0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3,
};
/* Header {"typ":"JWT",\r\n "alg":"HS256"}; payload {"iss":"joe",\r\n "exp":1300819380,\r\n
 * "http://example.com/is_root":true}. */
static const char rfc_token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290I"
    "jp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
#define RFC_EXP 1300819380

#define NOW 1700000000
#define KEY_ID "APIdev1"
static const char secret[] = "0123456789abcdef0123456789abcdef-dev";
#define SECRET (const uint8_t *)secret, sizeof secret - 1
static const char other_secret[] = "fedcba9876543210fedcba9876543210-new";

static const char hs256_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static auth_keys g_keys;
static auth_grants g_grants;
static char g_token[8192];
static char g_err[256];

static int setup(void **state)
{
    (void)state;
    auth_keys_init(&g_keys);
    assert_int_equal(auth_keys_add(&g_keys, KEY_ID, SECRET), J_OK);
    assert_int_equal(auth_keys_add(&g_keys, "joe", rfc_key, sizeof rfc_key), J_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    auth_keys_clear(&g_keys);
    return 0;
}

/* base64url through OpenSSL's standard base64: translate the alphabet, drop the padding. */
static size_t b64url(const void *data, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=') n--;
    for (int i = 0; i < n; i++) out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[n] = '\0';
    return (size_t)n;
}

/* A token for any header and payload text, signed with key. */
static const char *sign_with(const char *header, const char *payload, const void *key,
                             size_t key_len)
{
    size_t n = b64url(header, strlen(header), g_token);
    g_token[n++] = '.';
    n += b64url(payload, strlen(payload), g_token + n);
    uint8_t mac[32];
    unsigned int mac_len = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)g_token, n, mac,
                         &mac_len));
    g_token[n++] = '.';
    b64url(mac, mac_len, g_token + n);
    return g_token;
}

static const char *sign(const char *payload)
{
    return sign_with(hs256_header, payload, secret, sizeof secret - 1);
}

static int verify_at(const char *token, int64_t now)
{
    return auth_verify(&g_keys, token, strlen(token), now, &g_grants, g_err, sizeof g_err);
}

static int verify(const char *token)
{
    return verify_at(token, NOW);
}

static void test_rfc7515_a1_verifies(void **state)
{
    (void)state;
    assert_int_equal(verify_at(rfc_token, RFC_EXP - 100), J_OK);
    assert_string_equal(g_grants.key_id, "joe");
    assert_int_equal(g_grants.expires_at, RFC_EXP);
    assert_string_equal(g_grants.identity, "");
    assert_string_equal(g_grants.room, "");
    assert_false(g_grants.can_publish || g_grants.can_subscribe || g_grants.admin);
    assert_false(auth_allows(&g_grants, "", AUTH_SUBSCRIBE));
    /* The leeway: still valid AUTH_LEEWAY_S - 1 seconds after exp, expired at AUTH_LEEWAY_S. */
    assert_int_equal(verify_at(rfc_token, RFC_EXP + AUTH_LEEWAY_S - 1), J_OK);
    assert_int_equal(verify_at(rfc_token, RFC_EXP + AUTH_LEEWAY_S), AUTH_E_EXPIRED);
    assert_string_equal(auth_reason(AUTH_E_EXPIRED), "token_expired");
}

static void test_our_signer_matches_rfc(void **state)
{
    (void)state;
    const char *t = sign_with("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}",
                              "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n "
                              "\"http://example.com/is_root\":true}",
                              rfc_key, sizeof rfc_key);
    assert_string_equal(t, rfc_token);
}

static auth_grants grants_for(const char *room, const char *identity, bool pub, bool sub,
                              bool admin)
{
    auth_grants g;
    memset(&g, 0, sizeof g);
    snprintf(g.room, sizeof g.room, "%s", room);
    snprintf(g.identity, sizeof g.identity, "%s", identity);
    g.can_publish = pub;
    g.can_subscribe = sub;
    g.admin = admin;
    return g;
}

static void test_mint_verify_round_trip(void **state)
{
    (void)state;
    auth_grants g = grants_for("daily-standup", "alice@example.com", true, true, false);
    snprintf(g.name, sizeof g.name, "Zoë \"Z\" O'Brien");
    int n = auth_mint(KEY_ID, SECRET, &g, 3600, NOW, g_token, sizeof g_token);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(g_token));
    assert_int_equal(verify(g_token), J_OK);
    assert_string_equal(g_grants.key_id, KEY_ID);
    assert_string_equal(g_grants.identity, "alice@example.com");
    assert_string_equal(g_grants.name, "Zoë \"Z\" O'Brien");
    assert_string_equal(g_grants.room, "daily-standup");
    assert_true(g_grants.can_publish);
    assert_true(g_grants.can_subscribe);
    assert_false(g_grants.admin);
    assert_int_equal(g_grants.issued_at, NOW);
    assert_int_equal(g_grants.not_before, NOW);
    assert_int_equal(g_grants.expires_at, NOW + 3600);
    /* The fixed header, as documented. */
    assert_memory_equal(g_token, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37);

    /* Optional claims left empty are omitted and read back empty. */
    g = grants_for("*", "", false, false, true);
    assert_true(auth_mint(KEY_ID, SECRET, &g, 60, NOW, g_token, sizeof g_token) > 0);
    assert_int_equal(verify(g_token), J_OK);
    assert_string_equal(g_grants.identity, "");
    assert_string_equal(g_grants.name, "");
    assert_string_equal(g_grants.room, "*");
    assert_true(g_grants.admin);
}

static void test_mint_capacity(void **state)
{
    (void)state;
    auth_grants g = grants_for("r", "bob", false, true, false);
    int n = auth_mint(KEY_ID, SECRET, &g, 60, NOW, g_token, sizeof g_token);
    assert_true(n > 0);
    char small[1024];
    for (size_t cap = 0; cap <= (size_t)n; cap++)
        assert_int_equal(auth_mint(KEY_ID, SECRET, &g, 60, NOW, small, cap), J_ESHORTBUF);
    assert_int_equal(auth_mint(KEY_ID, SECRET, &g, 60, NOW, small, (size_t)n + 1), n);
    assert_string_equal(small, g_token);

    /* The largest grants fit in AUTH_TOKEN_MAX + 1. */
    memset(&g, 0, sizeof g);
    memset(g.identity, '"', AUTH_IDENTITY_MAX);
    memset(g.name, '\\', AUTH_NAME_MAX);
    memset(g.room, '"', AUTH_ROOM_MAX);
    g.admin = true;
    char big[AUTH_TOKEN_MAX + 1];
    n = auth_mint(KEY_ID, SECRET, &g, 60, NOW, big, sizeof big);
    assert_true(n > 0);
    assert_int_equal(verify(big), J_OK);
    assert_int_equal(strlen(g_grants.name), AUTH_NAME_MAX);
}

static void test_mint_rejects_bad_input(void **state)
{
    (void)state;
    auth_grants g = grants_for("r", "bob", true, false, false);
    char *t = g_token;
    size_t cap = sizeof g_token;
    assert_int_equal(auth_mint(KEY_ID, SECRET, &g, 0, NOW, t, cap), J_EINVAL);
    assert_int_equal(auth_mint(KEY_ID, SECRET, &g, -5, NOW, t, cap), J_EINVAL);
    assert_int_equal(auth_mint(KEY_ID, SECRET, &g, INT64_MAX, NOW, t, cap), J_EINVAL);
    assert_int_equal(auth_mint(KEY_ID, (const uint8_t *)"short", 5, &g, 60, NOW, t, cap),
                     J_EINVAL);
    assert_int_equal(auth_mint("", SECRET, &g, 60, NOW, t, cap), J_EINVAL);
    assert_int_equal(auth_mint("has space", SECRET, &g, 60, NOW, t, cap), J_EINVAL);
    g = grants_for("*", "bob", true, true, false);
    assert_int_equal(auth_mint(KEY_ID, SECRET, &g, 60, NOW, t, cap), J_EINVAL);
    g = grants_for("r", "bob\nINFO forged log line", true, false, false);
    assert_int_equal(auth_mint(KEY_ID, SECRET, &g, 60, NOW, t, cap), J_EINVAL);
    g = grants_for("r", "\xff\xfe", true, false, false); /* not UTF-8 */
    assert_int_equal(auth_mint(KEY_ID, SECRET, &g, 60, NOW, t, cap), J_EINVAL);
}

/* Replace the payload of a valid token, keeping its header and signature. */
static void test_tampered_payload(void **state)
{
    (void)state;
    auth_grants g = grants_for("r", "bob", false, true, false);
    assert_true(auth_mint(KEY_ID, SECRET, &g, 60, NOW, g_token, sizeof g_token) > 0);
    char sig[64];
    snprintf(sig, sizeof sig, "%s", strrchr(g_token, '.'));
    char forged[1024];
    size_t n = b64url(hs256_header, strlen(hs256_header), forged);
    forged[n++] = '.';
    const char *payload = "{\"iss\":\"APIdev1\",\"sub\":\"bob\",\"room\":\"r\",\"exp\":1700000060,"
                          "\"grants\":{\"publish\":true,\"subscribe\":true,\"admin\":true}}";
    n += b64url(payload, strlen(payload), forged + n);
    snprintf(forged + n, sizeof forged - n, "%s", sig);
    assert_int_equal(verify(forged), AUTH_E_BAD_SIGNATURE);
    assert_string_equal(auth_reason(AUTH_E_BAD_SIGNATURE), "token_bad_signature");
    assert_false(g_grants.admin); /* out is zeroed on failure */
}

static void test_tampered_signature(void **state)
{
    (void)state;
    auth_grants g = grants_for("r", "bob", false, true, false);
    assert_true(auth_mint(KEY_ID, SECRET, &g, 60, NOW, g_token, sizeof g_token) > 0);
    char *sig = strrchr(g_token, '.') + 1;
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(g_token), AUTH_E_BAD_SIGNATURE);
    /* A signature of the wrong length, or none at all. */
    char *end = g_token + strlen(g_token);
    end[-3] = '\0'; /* 40 characters: 30 bytes, no stray bits */
    assert_int_equal(verify(g_token), AUTH_E_BAD_SIGNATURE);
    sig[0] = '\0';
    assert_int_equal(verify(g_token), AUTH_E_BAD_SIGNATURE);
    /* Signed with a secret the server does not have for this key. */
    const char *payload = "{\"iss\":\"APIdev1\",\"room\":\"r\",\"exp\":1700000060}";
    assert_int_equal(
        verify(sign_with(hs256_header, payload, other_secret, sizeof other_secret - 1)),
        AUTH_E_BAD_SIGNATURE);
}

static void test_wrong_algorithm(void **state)
{
    (void)state;
    const char *payload = "{\"iss\":\"APIdev1\",\"sub\":\"bob\",\"room\":\"r\",\"exp\":1700000060,"
                          "\"grants\":{\"publish\":true}}";
    /* alg none with its empty signature: "header.payload." */
    char none[1024];
    const char *none_header = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    size_t n = b64url(none_header, strlen(none_header), none);
    none[n++] = '.';
    n += b64url(payload, strlen(payload), none + n);
    snprintf(none + n, sizeof none - n, ".");
    assert_int_equal(verify(none), AUTH_E_WRONG_ALGORITHM);
    assert_string_equal(auth_reason(AUTH_E_WRONG_ALGORITHM), "token_wrong_algorithm");

    static const char *const headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",  "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", "{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256 \"}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        /* Even correctly HMAC-signed: only the header's alg decides. */
        assert_int_equal(verify(sign_with(headers[i], payload, secret, sizeof secret - 1)),
                         AUTH_E_WRONG_ALGORITHM);
    }
}

static void test_bad_headers(void **state)
{
    (void)state;
    const char *payload = "{\"iss\":\"APIdev1\",\"room\":\"r\",\"exp\":1700000060}";
    static const char *const bad[] = {
        "{\"typ\":\"JWT\"}",                                   /* no alg */
        "{\"alg\":256}",                                       /* alg not a string */
        "{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}",           /* not a JWT */
        "{\"alg\":\"HS256\",\"typ\":7}",                       /* typ not a string */
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",   /* unsupported extension */
        "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",               /* duplicate member */
        "[\"HS256\"]",                                         /* not an object */
        "{\"alg\":\"HS256\"",                                  /* not JSON */
        "",                                                    /* empty */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = verify(sign_with(bad[i], payload, secret, sizeof secret - 1));
        if (rc != AUTH_E_MALFORMED) fail_msg("header %zu (%s): %d %s", i, bad[i], rc, g_err);
    }
    /* typ may be absent or any case of "JWT" (RFC 7515 §4.1.9). */
    assert_int_equal(verify(sign_with("{\"alg\":\"HS256\"}", payload, secret, sizeof secret - 1)),
                     J_OK);
    assert_int_equal(
        verify(sign_with("{\"typ\":\"jwt\",\"alg\":\"HS256\",\"kid\":\"x\"}", payload, secret,
                         sizeof secret - 1)),
        J_OK);
}

static void test_expired_and_not_yet_valid(void **state)
{
    (void)state;
    auth_grants g = grants_for("r", "bob", true, true, false);
    assert_true(auth_mint(KEY_ID, SECRET, &g, 600, NOW, g_token, sizeof g_token) > 0);
    assert_int_equal(verify_at(g_token, NOW + 600 + AUTH_LEEWAY_S - 1), J_OK);
    assert_int_equal(verify_at(g_token, NOW + 600 + AUTH_LEEWAY_S), AUTH_E_EXPIRED);
    assert_int_equal(verify_at(g_token, NOW + 86400), AUTH_E_EXPIRED);
    /* nbf = iat = NOW: a server whose clock is behind by the leeway still accepts it. */
    assert_int_equal(verify_at(g_token, NOW - AUTH_LEEWAY_S), J_OK);
    assert_int_equal(verify_at(g_token, NOW - AUTH_LEEWAY_S - 1), AUTH_E_NOT_YET_VALID);
    assert_string_equal(auth_reason(AUTH_E_NOT_YET_VALID), "token_not_yet_valid");
    assert_int_equal(
        verify(sign("{\"iss\":\"APIdev1\",\"room\":\"r\",\"exp\":1700003600,\"nbf\":1700001000}")),
        AUTH_E_NOT_YET_VALID);
    assert_int_equal(verify(sign("{\"iss\":\"APIdev1\",\"room\":\"r\",\"exp\":0}")),
                     AUTH_E_EXPIRED);
}

static void test_unknown_key(void **state)
{
    (void)state;
    auth_grants g = grants_for("r", "bob", true, true, false);
    assert_true(auth_mint("APIother", SECRET, &g, 60, NOW, g_token, sizeof g_token) > 0);
    assert_int_equal(verify(g_token), AUTH_E_UNKNOWN_KEY);
    assert_string_equal(auth_reason(AUTH_E_UNKNOWN_KEY), "token_unknown_key");
    /* Key ids are compared exactly. */
    assert_int_equal(verify(sign("{\"iss\":\"apidev1\",\"exp\":1700000060}")),
                     AUTH_E_UNKNOWN_KEY);
    auth_keys none;
    auth_keys_init(&none);
    assert_true(auth_mint(KEY_ID, SECRET, &g, 60, NOW, g_token, sizeof g_token) > 0);
    assert_int_equal(auth_verify(&none, g_token, strlen(g_token), NOW, &g_grants, g_err,
                                 sizeof g_err),
                     AUTH_E_UNKNOWN_KEY);
}

static void test_key_rotation(void **state)
{
    (void)state;
    auth_keys keys;
    auth_keys_init(&keys);
    assert_int_equal(auth_keys_add(&keys, "APIold", SECRET), J_OK);
    assert_int_equal(
        auth_keys_add(&keys, "APInew", (const uint8_t *)other_secret, sizeof other_secret - 1),
        J_OK);
    auth_grants g = grants_for("r", "bob", true, false, false);
    char old_token[1024], new_token[1024];
    assert_true(auth_mint("APIold", SECRET, &g, 60, NOW, old_token, sizeof old_token) > 0);
    assert_true(auth_mint("APInew", (const uint8_t *)other_secret, sizeof other_secret - 1, &g,
                          60, NOW, new_token, sizeof new_token) > 0);
    assert_int_equal(
        auth_verify(&keys, old_token, strlen(old_token), NOW, &g_grants, g_err, sizeof g_err),
        J_OK);
    assert_string_equal(g_grants.key_id, "APIold");
    assert_int_equal(
        auth_verify(&keys, new_token, strlen(new_token), NOW, &g_grants, g_err, sizeof g_err),
        J_OK);
    assert_string_equal(g_grants.key_id, "APInew");

    /* The old pair retired: its tokens stop working, the new ones keep working. */
    auth_keys_clear(&keys);
    assert_int_equal(keys.count, 0);
    assert_int_equal(
        auth_keys_add(&keys, "APInew", (const uint8_t *)other_secret, sizeof other_secret - 1),
        J_OK);
    assert_int_equal(
        auth_verify(&keys, old_token, strlen(old_token), NOW, &g_grants, g_err, sizeof g_err),
        AUTH_E_UNKNOWN_KEY);
    assert_int_equal(
        auth_verify(&keys, new_token, strlen(new_token), NOW, &g_grants, g_err, sizeof g_err),
        J_OK);
    /* A key id signed with another key's secret. */
    char cross[1024];
    assert_true(auth_mint("APInew", SECRET, &g, 60, NOW, cross, sizeof cross) > 0);
    assert_int_equal(
        auth_verify(&keys, cross, strlen(cross), NOW, &g_grants, g_err, sizeof g_err),
        AUTH_E_BAD_SIGNATURE);
}

static void test_keys_add_limits(void **state)
{
    (void)state;
    auth_keys keys;
    auth_keys_init(&keys);
    char long_id[AUTH_KEY_ID_MAX + 2];
    memset(long_id, 'k', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    uint8_t long_secret[AUTH_SECRET_MAX + 1] = {0};
    assert_int_equal(auth_keys_add(&keys, long_id, SECRET), J_EINVAL);
    long_id[AUTH_KEY_ID_MAX] = '\0';
    assert_int_equal(auth_keys_add(&keys, long_id, SECRET), J_OK);
    assert_int_equal(auth_keys_add(&keys, long_id, SECRET), J_EINVAL); /* duplicate */
    assert_int_equal(auth_keys_add(&keys, "", SECRET), J_EINVAL);
    assert_int_equal(auth_keys_add(&keys, "a b", SECRET), J_EINVAL);
    assert_int_equal(auth_keys_add(&keys, "tab\t", SECRET), J_EINVAL);
    assert_int_equal(auth_keys_add(&keys, "k", (const uint8_t *)secret, AUTH_SECRET_MIN - 1),
                     J_EINVAL);
    assert_int_equal(auth_keys_add(&keys, "k", long_secret, sizeof long_secret), J_EINVAL);
    assert_int_equal(auth_keys_add(&keys, "k", long_secret, AUTH_SECRET_MAX), J_OK);
    for (int i = keys.count; i < AUTH_MAX_KEYS; i++) {
        char id[16];
        snprintf(id, sizeof id, "k%d", i);
        assert_int_equal(auth_keys_add(&keys, id, SECRET), J_OK);
    }
    assert_int_equal(auth_keys_add(&keys, "one-too-many", SECRET), J_ELIMIT);
}

/* Correctly signed payloads whose claims break the documented types and sizes. */
static void test_wrong_claim_types(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"sub\":\"bob\",\"exp\":1700000060}",                       /* no iss */
        "{\"iss\":7,\"exp\":1700000060}",                             /* iss a number */
        "{\"iss\":\"APIdev1\"}",                                      /* no exp */
        "{\"iss\":\"APIdev1\",\"exp\":\"1700000060\"}",               /* exp a string */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060.5}",                 /* exp not whole */
        "{\"iss\":\"APIdev1\",\"exp\":-1}",                           /* exp negative */
        "{\"iss\":\"APIdev1\",\"exp\":null}",                         /* exp null */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"nbf\":\"0\"}",     /* nbf a string */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"iat\":true}",      /* iat a boolean */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"sub\":42}",        /* sub a number */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"name\":[\"x\"]}",  /* name an array */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"room\":true}",     /* room a boolean */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"grants\":\"all\"}", /* grants a string */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"grants\":{\"publish\":1}}",
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"grants\":{\"admin\":\"true\"}}",
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"room\":\"*\"}",    /* "*" without admin */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"sub\":\"a\\nb\"}", /* control character */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"room\":\"a\\u0000b\"}", /* NUL */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"exp\":1800000000}", /* duplicate claim */
        "[\"APIdev1\"]",                                              /* not an object */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060",                    /* not JSON */
        "{\"iss\":\"APIdev1\",\"exp\":1700000060}x",                  /* trailing bytes */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = verify(sign(bad[i]));
        if (rc != AUTH_E_MALFORMED) fail_msg("payload %zu (%s): %d %s", i, bad[i], rc, g_err);
        assert_string_equal(auth_reason(rc), "token_malformed");
    }
    /* Sizes: at the limit passes, one byte over does not. */
    char payload[1024], room[AUTH_ROOM_MAX + 2];
    memset(room, 'r', sizeof room - 1);
    room[AUTH_ROOM_MAX] = '\0';
    snprintf(payload, sizeof payload, "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"room\":\"%s\"}",
             room);
    assert_int_equal(verify(sign(payload)), J_OK);
    room[AUTH_ROOM_MAX] = 'r';
    room[AUTH_ROOM_MAX + 1] = '\0';
    snprintf(payload, sizeof payload, "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"room\":\"%s\"}",
             room);
    assert_int_equal(verify(sign(payload)), AUTH_E_MALFORMED);
    /* Unknown claims and grants are ignored. */
    assert_int_equal(verify(sign("{\"iss\":\"APIdev1\",\"exp\":1700000060,\"aud\":\"x\","
                                 "\"grants\":{\"publish\":true,\"record\":true}}")),
                     J_OK);
    assert_true(g_grants.can_publish);
}

static void test_too_large(void **state)
{
    (void)state;
    char big[AUTH_TOKEN_MAX + 2];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(verify(big), AUTH_E_TOO_LARGE);
    assert_string_equal(auth_reason(AUTH_E_TOO_LARGE), "token_too_large");
    big[AUTH_TOKEN_MAX] = '\0'; /* at the cap it is merely malformed */
    assert_int_equal(verify(big), AUTH_E_MALFORMED);
    /* A correctly signed token over the cap (a huge unknown claim). */
    char payload[AUTH_TOKEN_MAX];
    int n = snprintf(payload, sizeof payload, "{\"iss\":\"APIdev1\",\"exp\":1700000060,\"x\":\"");
    memset(payload + n, 'x', sizeof payload - (size_t)n - 3);
    memcpy(payload + sizeof payload - 3, "\"}", 3);
    assert_int_equal(verify(sign(payload)), AUTH_E_TOO_LARGE);
}

static void test_bad_base64url(void **state)
{
    (void)state;
    assert_int_equal(verify(sign("{\"iss\":\"APIdev1\",\"exp\":1700000060}")), J_OK);
    char good[sizeof g_token];
    snprintf(good, sizeof good, "%s", g_token);
    size_t payload_at = (size_t)(strchr(good, '.') - good) + 1;

    char t[sizeof g_token + 16];
    /* Standard-alphabet characters, padding and whitespace are refused in each part. */
    static const char bad_chars[] = {'+', '/', '=', ' ', '\n', '%', '\0'};
    size_t sig_at = (size_t)(strrchr(good, '.') - good) + 1;
    size_t positions[] = {0, payload_at, sig_at};
    for (size_t p = 0; p < 3; p++) {
        for (size_t c = 0; c < sizeof bad_chars; c++) {
            memcpy(t, good, sizeof good);
            t[positions[p]] = bad_chars[c];
            int rc = auth_verify(&g_keys, t, strlen(good), NOW, &g_grants, g_err, sizeof g_err);
            if (rc != AUTH_E_MALFORMED) fail_msg("part %zu char %d: %d %s", p, bad_chars[c], rc,
                                                 g_err);
        }
    }
    /* Padding appended to the payload part. */
    snprintf(t, sizeof t, "%.*s==%s", (int)(sig_at - 1), good, good + sig_at - 1);
    assert_int_equal(verify(t), AUTH_E_MALFORMED);
    /* A part of 4k+1 characters cannot be base64 ("{}" is "e30"). */
    snprintf(t, sizeof t, "%.*se30AA%s", (int)(payload_at), good, good + sig_at - 1);
    assert_int_equal(verify(t), AUTH_E_MALFORMED);
    assert_string_equal(g_err, "the payload is not a base64url JSON object");
    /* Non-canonical trailing bits: "e31" decodes to the same bytes as "e30" with a stray bit. */
    assert_int_equal(verify(sign("{}")), AUTH_E_MALFORMED); /* no iss: canonical but empty */
    char *payload = g_token + (strchr(g_token, '.') - g_token) + 1;
    assert_memory_equal(payload, "e30.", 4);
    payload[2] = '1';
    assert_int_equal(verify(g_token), AUTH_E_MALFORMED);
    assert_string_equal(g_err, "the payload is not a base64url JSON object");
}

static void test_missing_parts_and_extra_dots(void **state)
{
    (void)state;
    assert_int_equal(verify(sign("{\"iss\":\"APIdev1\",\"exp\":1700000060}")), J_OK);
    char good[sizeof g_token];
    snprintf(good, sizeof good, "%s", g_token);
    char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
    char t[sizeof g_token + 16];
    static const char *const fixed[] = {"", ".", "..", "...", "abc", "abc.def", "a.b.c.d"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        assert_int_equal(verify(fixed[i]), AUTH_E_MALFORMED);
    /* header.payload (no signature part) */
    snprintf(t, sizeof t, "%.*s", (int)(dot2 - good), good);
    assert_int_equal(verify(t), AUTH_E_MALFORMED);
    /* .payload.signature and header..signature */
    assert_int_equal(verify(dot1), AUTH_E_MALFORMED);
    snprintf(t, sizeof t, "%.*s.%s", (int)(dot1 - good), good, dot2);
    assert_int_equal(verify(t), AUTH_E_MALFORMED);
    /* extra dots: trailing, leading, doubled */
    snprintf(t, sizeof t, "%s.", good);
    assert_int_equal(verify(t), AUTH_E_MALFORMED);
    snprintf(t, sizeof t, ".%s", good);
    assert_int_equal(verify(t), AUTH_E_MALFORMED);
    snprintf(t, sizeof t, "%.*s.%s", (int)(dot2 - good), good, dot2);
    assert_int_equal(verify(t), AUTH_E_MALFORMED);
    /* A NUL inside the given length is not the end of the token. */
    memcpy(t, good, strlen(good) + 1);
    t[3] = '\0';
    assert_int_equal(auth_verify(&g_keys, t, strlen(good), NOW, &g_grants, g_err, sizeof g_err),
                     AUTH_E_MALFORMED);
    /* Verifying a prefix of a buffer: the length decides, not a terminator. */
    snprintf(t, sizeof t, "%sXYZ", good);
    assert_int_equal(auth_verify(&g_keys, t, strlen(good), NOW, &g_grants, g_err, sizeof g_err),
                     J_OK);
}

static void test_grant_checks(void **state)
{
    (void)state;
    typedef struct {
        auth_grants g;
        const char *room; /* NULL = every room */
        auth_action action;
        bool allowed;
    } grant_case;
    const grant_case cases[] = {
        {grants_for("a", "bob", true, false, false), "a", AUTH_PUBLISH, true},
        {grants_for("a", "bob", true, false, false), "a", AUTH_SUBSCRIBE, false},
        {grants_for("a", "bob", true, false, false), "a", AUTH_JOIN, true},
        {grants_for("a", "bob", true, false, false), "a", AUTH_ADMIN, false},
        {grants_for("a", "bob", true, true, false), "b", AUTH_PUBLISH, false},
        {grants_for("a", "bob", true, true, false), "A", AUTH_SUBSCRIBE, false},
        {grants_for("a", "bob", true, true, false), "ab", AUTH_SUBSCRIBE, false},
        {grants_for("a", "bob", true, true, false), NULL, AUTH_SUBSCRIBE, false},
        {grants_for("a", "", true, true, false), "a", AUTH_JOIN, false}, /* anonymous */
        {grants_for("a", "", true, true, false), "a", AUTH_SUBSCRIBE, true},
        {grants_for("", "bob", true, true, true), "", AUTH_PUBLISH, false}, /* no room */
        {grants_for("", "bob", true, true, true), NULL, AUTH_ADMIN, false},
        {grants_for("a", "ops", false, false, true), "a", AUTH_ADMIN, true},
        {grants_for("a", "ops", false, false, true), "b", AUTH_ADMIN, false},
        {grants_for("a", "ops", false, false, true), NULL, AUTH_ADMIN, false},
        {grants_for("a", "ops", false, false, true), "a", AUTH_PUBLISH, false},
        {grants_for("*", "ops", false, false, true), "any-room", AUTH_ADMIN, true},
        {grants_for("*", "ops", false, false, true), NULL, AUTH_ADMIN, true},
        {grants_for("*", "ops", false, true, true), "x", AUTH_SUBSCRIBE, true},
        {grants_for("*", "ops", false, false, true), "x", AUTH_SUBSCRIBE, false},
        {grants_for("*", "bob", true, true, false), "x", AUTH_PUBLISH, false}, /* built by hand */
        {grants_for("*", "bob", true, true, false), "*", AUTH_PUBLISH, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (auth_allows(&cases[i].g, cases[i].room, cases[i].action) != cases[i].allowed)
            fail_msg("grant case %zu", i);
}

static void test_reasons(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *reason;
    } reasons[] = {
        {J_OK, "ok"},
        {AUTH_E_MALFORMED, "token_malformed"},
        {AUTH_E_TOO_LARGE, "token_too_large"},
        {AUTH_E_WRONG_ALGORITHM, "token_wrong_algorithm"},
        {AUTH_E_UNKNOWN_KEY, "token_unknown_key"},
        {AUTH_E_BAD_SIGNATURE, "token_bad_signature"},
        {AUTH_E_EXPIRED, "token_expired"},
        {AUTH_E_NOT_YET_VALID, "token_not_yet_valid"},
        {J_ECRYPTO, "token_invalid"},
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        assert_string_equal(auth_reason(reasons[i].code), reasons[i].reason);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a1_verifies),
        cmocka_unit_test(test_our_signer_matches_rfc),
        cmocka_unit_test(test_mint_verify_round_trip),
        cmocka_unit_test(test_mint_capacity),
        cmocka_unit_test(test_mint_rejects_bad_input),
        cmocka_unit_test(test_tampered_payload),
        cmocka_unit_test(test_tampered_signature),
        cmocka_unit_test(test_wrong_algorithm),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_expired_and_not_yet_valid),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_keys_add_limits),
        cmocka_unit_test(test_wrong_claim_types),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_bad_base64url),
        cmocka_unit_test(test_missing_parts_and_extra_dots),
        cmocka_unit_test(test_grant_checks),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
