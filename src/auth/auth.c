/* auth.c - HS256 JWT verification and minting (RFC 7519, RFC 7515, RFC 7518 §3.2).
 *
 *   token = BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)
 *   signature = HMAC-SHA256(secret, the token up to its second dot)
 *
 * base64url is the RFC 4648 §5 alphabet without padding; decoding is strict
 * (no padding, no whitespace, unused trailing bits must be zero), so every
 * token has exactly one spelling and a signature cannot be reused under a
 * different one.
 */
#include "auth/auth.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "crypto/crypto.h"

#define HS256_LEN 32
#define DECODED_MAX (AUTH_TOKEN_MAX / 4 * 3) /* bound of any decoded part */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Writes b64url_encoded_len(len) characters; the caller has checked the room. */
static void b64url_encode_unsafe(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        out[o++] = b64url_alphabet[in[i] >> 2];
        out[o++] = b64url_alphabet[(in[i] & 3) << 4];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
        out[o++] = b64url_alphabet[v >> 10];
        out[o++] = b64url_alphabet[(v >> 4) & 63];
        out[o++] = b64url_alphabet[(v << 2) & 63];
    }
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Strict decode into out (cap bytes). Returns the decoded length, J_EMALFORMED or J_ESHORTBUF. */
static int b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len % 4 == 1) return J_EMALFORMED; /* 6 bits cannot end a byte */
    size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (n > cap) return J_ESHORTBUF;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0) return J_EMALFORMED;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) return J_EMALFORMED; /* non-canonical trailing bits */
    return (int)o;
}

static int hs256(const uint8_t *secret, size_t secret_len, const char *input, size_t len,
                 uint8_t out[HS256_LEN])
{
    unsigned int out_len = 0;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)input, len, out,
              &out_len) ||
        out_len != HS256_LEN)
        return J_ECRYPTO;
    return J_OK;
}

static bool valid_key_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > AUTH_KEY_ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (id[i] <= ' ' || id[i] > '~') return false;
    return true;
}

/* Claims end up in logs and protocol messages: no control characters. */
static bool no_control_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

void auth_keys_init(auth_keys *keys)
{
    memset(keys, 0, sizeof *keys);
}

static const auth_key *find_key(const auth_keys *keys, const char *id)
{
    for (int i = 0; i < keys->count; i++)
        if (strcmp(keys->keys[i].id, id) == 0) return &keys->keys[i];
    return NULL;
}

int auth_keys_add(auth_keys *keys, const char *id, const uint8_t *secret, size_t secret_len)
{
    if (!valid_key_id(id) || secret_len < AUTH_SECRET_MIN || secret_len > AUTH_SECRET_MAX ||
        find_key(keys, id))
        return J_EINVAL;
    if (keys->count == AUTH_MAX_KEYS) return J_ELIMIT;
    auth_key *k = &keys->keys[keys->count++];
    memcpy(k->id, id, strlen(id) + 1);
    memcpy(k->secret, secret, secret_len);
    k->secret_len = secret_len;
    return J_OK;
}

void auth_keys_clear(auth_keys *keys)
{
    OPENSSL_cleanse(keys, sizeof *keys);
}

/* The room rule shared by minting, verifying and checking: "*" belongs to admins. */
static bool room_allowed(const char *room, bool admin)
{
    return admin || strcmp(room, AUTH_ANY_ROOM) != 0;
}

bool auth_allows(const auth_grants *g, const char *room, auth_action action)
{
    bool room_ok = strcmp(g->room, AUTH_ANY_ROOM) == 0
                       ? room_allowed(g->room, g->admin)
                       : room && g->room[0] && strcmp(g->room, room) == 0;
    if (!room_ok) return false;
    switch (action) {
    case AUTH_JOIN: return g->identity[0] != '\0';
    case AUTH_PUBLISH: return g->can_publish;
    case AUTH_SUBSCRIBE: return g->can_subscribe;
    case AUTH_ADMIN: return g->admin;
    }
    return false;
}

const char *auth_reason(int code)
{
    switch (code) {
    case J_OK: return "ok";
    case AUTH_E_MALFORMED: return "token_malformed";
    case AUTH_E_TOO_LARGE: return "token_too_large";
    case AUTH_E_WRONG_ALGORITHM: return "token_wrong_algorithm";
    case AUTH_E_UNKNOWN_KEY: return "token_unknown_key";
    case AUTH_E_BAD_SIGNATURE: return "token_bad_signature";
    case AUTH_E_EXPIRED: return "token_expired";
    case AUTH_E_NOT_YET_VALID: return "token_not_yet_valid";
    }
    return "token_invalid";
}

/* ---- verification ---- */

static int fail(int code, char *err, size_t err_cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int code, char *err, size_t err_cap, const char *fmt, ...)
{
    if (err_cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Decode one base64url part and parse it as a JSON object. */
static json_t *decode_json_part(const char *part, size_t len)
{
    uint8_t buf[DECODED_MAX];
    int n = b64url_decode(part, len, buf, sizeof buf);
    if (n <= 0) return NULL;
    json_t *v = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (v && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static int check_header(const json_t *header, char *err, size_t err_cap)
{
    const json_t *alg = json_object_get(header, "alg");
    if (!json_is_string(alg))
        return fail(AUTH_E_MALFORMED, err, err_cap, "the header has no \"alg\" string");
    if (strcmp(json_string_value(alg), "HS256") != 0)
        return fail(AUTH_E_WRONG_ALGORITHM, err, err_cap, "alg must be HS256");
    const json_t *typ = json_object_get(header, "typ");
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return fail(AUTH_E_MALFORMED, err, err_cap, "typ, when present, must be JWT");
    /* RFC 7515 §4.1.11: extensions we do not implement must not be ignored. */
    if (json_object_get(header, "crit"))
        return fail(AUTH_E_MALFORMED, err, err_cap, "no crit header extension is supported");
    return J_OK;
}

/* Copy optional string claim name into out (cap includes the NUL); absent reads as "". */
static bool string_claim(const json_t *payload, const char *name, char *out, size_t cap)
{
    const json_t *v = json_object_get(payload, name);
    out[0] = '\0';
    if (!v) return true;
    if (!json_is_string(v)) return false;
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len >= cap || !no_control_chars(s, len)) return false;
    memcpy(out, s, len + 1);
    return true;
}

/* Optional NumericDate claim; whole non-negative seconds. Absent reads as 0. */
static bool time_claim(const json_t *payload, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(payload, name);
    *out = 0;
    if (!v) return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static bool bool_grant(const json_t *grants, const char *name, bool *out)
{
    const json_t *v = grants ? json_object_get(grants, name) : NULL;
    *out = json_is_true(v);
    return !v || json_is_boolean(v);
}

static int read_claims(const json_t *payload, auth_grants *g, char *err, size_t err_cap)
{
    if (!string_claim(payload, "sub", g->identity, sizeof g->identity))
        return fail(AUTH_E_MALFORMED, err, err_cap,
                    "sub must be a string of at most %d bytes without control characters",
                    AUTH_IDENTITY_MAX);
    if (!string_claim(payload, "name", g->name, sizeof g->name))
        return fail(AUTH_E_MALFORMED, err, err_cap,
                    "name must be a string of at most %d bytes without control characters",
                    AUTH_NAME_MAX);
    if (!string_claim(payload, "room", g->room, sizeof g->room))
        return fail(AUTH_E_MALFORMED, err, err_cap,
                    "room must be a string of at most %d bytes without control characters",
                    AUTH_ROOM_MAX);
    const json_t *grants = json_object_get(payload, "grants");
    if (grants && !json_is_object(grants))
        return fail(AUTH_E_MALFORMED, err, err_cap, "grants must be an object");
    if (!bool_grant(grants, "publish", &g->can_publish) ||
        !bool_grant(grants, "subscribe", &g->can_subscribe) ||
        !bool_grant(grants, "admin", &g->admin))
        return fail(AUTH_E_MALFORMED, err, err_cap,
                    "grants.publish, grants.subscribe and grants.admin must be booleans");
    if (!room_allowed(g->room, g->admin))
        return fail(AUTH_E_MALFORMED, err, err_cap, "room \"*\" needs grants.admin");
    if (!json_object_get(payload, "exp"))
        return fail(AUTH_E_MALFORMED, err, err_cap, "exp is required");
    if (!time_claim(payload, "exp", &g->expires_at) ||
        !time_claim(payload, "nbf", &g->not_before) ||
        !time_claim(payload, "iat", &g->issued_at))
        return fail(AUTH_E_MALFORMED, err, err_cap,
                    "exp, nbf and iat must be whole non-negative seconds");
    return J_OK;
}

static int verify_parts(const auth_keys *keys, const char *token, size_t len, int64_t now,
                        auth_grants *g, json_t **header, json_t **payload, char *err,
                        size_t err_cap)
{
    if (len > AUTH_TOKEN_MAX)
        return fail(AUTH_E_TOO_LARGE, err, err_cap, "tokens are at most %d bytes",
                    AUTH_TOKEN_MAX);
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return fail(AUTH_E_MALFORMED, err, err_cap, "a token has exactly three parts");
    const char *sig_part = dot2 + 1;
    size_t header_len = (size_t)(dot1 - token), payload_len = (size_t)(dot2 - dot1 - 1);
    size_t sig_len = len - (size_t)(sig_part - token);

    *header = decode_json_part(token, header_len);
    if (!*header)
        return fail(AUTH_E_MALFORMED, err, err_cap, "the header is not a base64url JSON object");
    int rc = check_header(*header, err, err_cap);
    if (rc != J_OK) return rc;

    uint8_t sig[HS256_LEN + 3]; /* room to notice a signature that is too long */
    int sig_n = b64url_decode(sig_part, sig_len, sig, sizeof sig);
    if (sig_n == J_EMALFORMED)
        return fail(AUTH_E_MALFORMED, err, err_cap, "the signature is not base64url");
    if (sig_n != HS256_LEN)
        return fail(AUTH_E_BAD_SIGNATURE, err, err_cap, "an HS256 signature has 32 bytes");

    *payload = decode_json_part(dot1 + 1, payload_len);
    if (!*payload)
        return fail(AUTH_E_MALFORMED, err, err_cap, "the payload is not a base64url JSON object");
    const json_t *iss = json_object_get(*payload, "iss");
    if (!json_is_string(iss))
        return fail(AUTH_E_MALFORMED, err, err_cap, "iss (the API key) is required");
    const auth_key *key = find_key(keys, json_string_value(iss));
    if (!key) return fail(AUTH_E_UNKNOWN_KEY, err, err_cap, "iss is not a configured API key");

    uint8_t mac[HS256_LEN];
    if (hs256(key->secret, key->secret_len, token, (size_t)(dot2 - token), mac) != J_OK)
        return fail(J_ECRYPTO, err, err_cap, "HMAC-SHA256 failed");
    if (!j_ct_equal(mac, sig, HS256_LEN))
        return fail(AUTH_E_BAD_SIGNATURE, err, err_cap, "the signature does not match");

    memcpy(g->key_id, key->id, sizeof g->key_id);
    rc = read_claims(*payload, g, err, err_cap);
    if (rc != J_OK) return rc;
    if (now - AUTH_LEEWAY_S >= g->expires_at)
        return fail(AUTH_E_EXPIRED, err, err_cap, "expired at %lld, now %lld",
                    (long long)g->expires_at, (long long)now);
    if (g->not_before > now + AUTH_LEEWAY_S)
        return fail(AUTH_E_NOT_YET_VALID, err, err_cap, "valid from %lld, now %lld",
                    (long long)g->not_before, (long long)now);
    return J_OK;
}

int auth_verify(const auth_keys *keys, const char *token, size_t len, int64_t now_unix_s,
                auth_grants *out, char *err, size_t err_cap)
{
    json_t *header = NULL, *payload = NULL;
    memset(out, 0, sizeof *out);
    if (err_cap) err[0] = '\0';
    int rc = verify_parts(keys, token, len, now_unix_s, out, &header, &payload, err, err_cap);
    json_decref(header);
    json_decref(payload);
    if (rc != J_OK) memset(out, 0, sizeof *out);
    return rc;
}

/* ---- minting ---- */

static bool valid_claim_string(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n <= max && no_control_chars(s, n);
}

/* Append "." and the base64url of data at buf[*pos]; false when cap is too small. */
static bool append_part(char *buf, size_t cap, size_t *pos, bool dot, const uint8_t *data,
                        size_t len)
{
    size_t need = (dot ? 1 : 0) + b64url_encoded_len(len);
    if (need >= cap - *pos) return false; /* keep a byte for the NUL */
    if (dot) buf[(*pos)++] = '.';
    b64url_encode_unsafe(data, len, buf + *pos);
    *pos += b64url_encoded_len(len);
    buf[*pos] = '\0';
    return true;
}

/* json_string() is NULL for invalid UTF-8, and json_object_set_new() then fails. */
static bool set_string(json_t *obj, const char *name, const char *value)
{
    return json_object_set_new(obj, name, json_string(value)) == 0;
}

static bool set_time(json_t *obj, const char *name, int64_t t)
{
    return json_object_set_new(obj, name, json_integer((json_int_t)t)) == 0;
}

int auth_mint(const char *key_id, const uint8_t *secret, size_t secret_len, const auth_grants *g,
              int64_t ttl_s, int64_t now_unix_s, char *buf, size_t cap)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    if (!valid_key_id(key_id) || secret_len < AUTH_SECRET_MIN || secret_len > AUTH_SECRET_MAX ||
        ttl_s <= 0 || now_unix_s < 0 || ttl_s > INT64_MAX - now_unix_s ||
        !valid_claim_string(g->identity, AUTH_IDENTITY_MAX) ||
        !valid_claim_string(g->name, AUTH_NAME_MAX) ||
        !valid_claim_string(g->room, AUTH_ROOM_MAX) || !room_allowed(g->room, g->admin))
        return J_EINVAL;
    if (cap == 0) return J_ESHORTBUF;

    json_t *payload = json_object();
    bool built = payload && set_string(payload, "iss", key_id) &&
                 (!g->identity[0] || set_string(payload, "sub", g->identity)) &&
                 (!g->name[0] || set_string(payload, "name", g->name)) &&
                 (!g->room[0] || set_string(payload, "room", g->room)) &&
                 set_time(payload, "exp", now_unix_s + ttl_s) &&
                 set_time(payload, "nbf", now_unix_s) && set_time(payload, "iat", now_unix_s) &&
                 json_object_set_new(payload, "grants",
                                     json_pack("{s:b, s:b, s:b}", "publish", g->can_publish,
                                               "subscribe", g->can_subscribe, "admin",
                                               g->admin)) == 0;
    if (!built) {
        json_decref(payload);
        return J_EINVAL; /* a string is not UTF-8 (or jansson is out of memory) */
    }
    char *json = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    if (!json) return J_ENOMEM;

    size_t pos = 0;
    bool fits = append_part(buf, cap, &pos, false, (const uint8_t *)header, sizeof header - 1) &&
                append_part(buf, cap, &pos, true, (const uint8_t *)json, strlen(json));
    free(json);
    if (!fits) return J_ESHORTBUF;
    uint8_t mac[HS256_LEN];
    if (hs256(secret, secret_len, buf, pos, mac) != J_OK) return J_ECRYPTO;
    if (!append_part(buf, cap, &pos, true, mac, sizeof mac)) return J_ESHORTBUF;
    return (int)pos;
}
