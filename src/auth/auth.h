/* auth.h - access tokens: JWT (RFC 7519) signed with HMAC-SHA256 (JWS "HS256", RFC 7515).
 *
 * A developer's backend holds an API key/secret pair that is also in Junction's
 * configuration, and mints short-lived tokens for its users; Junction verifies
 * them and reads the grants. The token layout, the rules and minting examples
 * in other languages are in docs/AUTH.md. Sans-I/O: the caller supplies the
 * time (Unix seconds); nothing here reads a clock or logs. Not for the packet
 * path (jansson allocates while parsing).
 */
#ifndef J_AUTH_AUTH_H
#define J_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_MAX 4096   /* longest token accepted, in bytes */
#define AUTH_LEEWAY_S 30      /* clock skew tolerated on exp and nbf, in seconds */
#define AUTH_MAX_KEYS 8       /* API keys configured at once (rotation) */
#define AUTH_KEY_ID_MAX 64    /* bytes of an API key (the iss claim) */
#define AUTH_SECRET_MIN 32    /* RFC 7518 §3.2: an HS256 key has at least 256 bits */
#define AUTH_SECRET_MAX 256
#define AUTH_ROOM_MAX 64      /* bytes of the room claim */
#define AUTH_IDENTITY_MAX 128 /* bytes of the sub claim */
#define AUTH_NAME_MAX 128     /* bytes of the name claim */
#define AUTH_ANY_ROOM "*"     /* room claim of an admin token valid in every room */

/* Why a token was refused. Outside the j_err range so the two never mix up;
 * auth_reason() names each one for the wire. */
typedef enum {
    AUTH_E_MALFORMED = -101,       /* "token_malformed": layout, base64url, JSON or claims */
    AUTH_E_TOO_LARGE = -102,       /* "token_too_large": longer than AUTH_TOKEN_MAX */
    AUTH_E_WRONG_ALGORITHM = -103, /* "token_wrong_algorithm": alg is not HS256 */
    AUTH_E_UNKNOWN_KEY = -104,     /* "token_unknown_key": iss is not a configured API key */
    AUTH_E_BAD_SIGNATURE = -105,   /* "token_bad_signature" */
    AUTH_E_EXPIRED = -106,         /* "token_expired" */
    AUTH_E_NOT_YET_VALID = -107,   /* "token_not_yet_valid": nbf is in the future */
} auth_error;

/* What a verified token allows. Strings are NUL-terminated; optional claims
 * that were absent read as "" or 0. */
typedef struct auth_grants {
    char key_id[AUTH_KEY_ID_MAX + 1];     /* iss: the API key that signed it */
    char identity[AUTH_IDENTITY_MAX + 1]; /* sub: the participant; "" = anonymous */
    char name[AUTH_NAME_MAX + 1];         /* name: display name; "" = none given */
    /* room: the one room the token is for; AUTH_ANY_ROOM = every room, which
     * only an admin token may carry; "" = no room (the token opens nothing). */
    char room[AUTH_ROOM_MAX + 1];
    bool can_publish;      /* grants.publish */
    bool can_subscribe;    /* grants.subscribe */
    bool admin;            /* grants.admin: control the room (mute, remove, close) */
    int64_t expires_at;    /* exp, Unix seconds (always present) */
    int64_t not_before;    /* nbf, Unix seconds; 0 = absent */
    int64_t issued_at;     /* iat, Unix seconds; 0 = absent */
} auth_grants;

typedef struct auth_key {
    char id[AUTH_KEY_ID_MAX + 1];
    uint8_t secret[AUTH_SECRET_MAX];
    size_t secret_len;
} auth_key;

/* auth_keys - the API keys a server accepts. Several at once let a deployment
 * rotate: add the new pair, move the backends to it, then drop the old one. */
typedef struct auth_keys {
    auth_key keys[AUTH_MAX_KEYS];
    int count;
} auth_keys;

typedef enum {
    AUTH_JOIN,      /* enter the room as a participant: needs an identity */
    AUTH_PUBLISH,   /* send tracks: grants.publish */
    AUTH_SUBSCRIBE, /* receive tracks: grants.subscribe */
    AUTH_ADMIN,     /* control the room, or every room (room NULL): grants.admin */
} auth_action;

/* auth_keys_init - an empty set. */
void auth_keys_init(auth_keys *keys);

/* auth_keys_add - accept tokens signed with secret under the API key id. The id
 * is 1..AUTH_KEY_ID_MAX printable ASCII characters without spaces; the secret
 * AUTH_SECRET_MIN..AUTH_SECRET_MAX bytes (used as they are, not decoded).
 * Returns 0, J_EINVAL for a bad id or secret length or an id already present,
 * J_ELIMIT when AUTH_MAX_KEYS are set. */
int auth_keys_add(auth_keys *keys, const char *id, const uint8_t *secret, size_t secret_len);

/* auth_keys_clear - forget every key, wiping the secrets from memory. */
void auth_keys_clear(auth_keys *keys);

/* auth_verify - check token (len bytes, need not be NUL-terminated) against keys
 * at now_unix_s and fill out with its grants. Checks, in this order: size,
 * layout (three base64url parts, no padding), header (alg must be "HS256"; typ,
 * if present, "JWT"; no crit), the iss claim names a key in keys, the signature
 * (constant-time), the claims' types and sizes, then exp and nbf with
 * AUTH_LEEWAY_S of tolerance. Unknown claims are ignored.
 * Returns 0 or one AUTH_E_* code (J_ECRYPTO if OpenSSL fails); err gets a
 * human-readable detail. out is zeroed on failure. */
int auth_verify(const auth_keys *keys, const char *token, size_t len, int64_t now_unix_s,
                auth_grants *out, char *err, size_t err_cap);

/* auth_mint - write a NUL-terminated token into buf granting g's identity, name,
 * room and permissions, signed with secret under key_id: iat = nbf = now_unix_s,
 * exp = now_unix_s + ttl_s (g's key_id and time fields are not read). Returns the
 * token's length, J_EINVAL for a bad key, secret, ttl (must be > 0) or grants
 * (sizes, control characters, AUTH_ANY_ROOM without admin), J_ESHORTBUF when
 * cap is too small (AUTH_TOKEN_MAX + 1 is always enough), J_ENOMEM, J_ECRYPTO. */
int auth_mint(const char *key_id, const uint8_t *secret, size_t secret_len, const auth_grants *g,
              int64_t ttl_s, int64_t now_unix_s, char *buf, size_t cap);

/* auth_allows - whether g permits action in room (NUL-terminated). The token's
 * room must equal room, or be AUTH_ANY_ROOM on an admin token; room NULL asks
 * for every room at once (server-wide admin) and only AUTH_ANY_ROOM matches.
 * Admin does not imply publish or subscribe. */
bool auth_allows(const auth_grants *g, const char *room, auth_action action);

/* auth_reason - the stable wire name of an auth_verify result: "ok",
 * "token_malformed", ..., and "token_invalid" for any other failure. */
const char *auth_reason(int code);

#endif
