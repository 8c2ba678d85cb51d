/* token_cmd.c - `junction token`: the grants come from flags, the key pair from flags or the
 * server's own configuration, so a script on the server host needs no secret on its command
 * line. */
#include "app/token_cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/config.h"
#include "auth/auth.h"
#include "core/err.h"

#define DEFAULT_TTL_S 3600
#define MAX_TTL_S (366L * 24 * 3600)

static void usage(void)
{
    printf("Usage: junction token --room ROOM --identity ID [--name NAME]\n"
           "                      [--publish] [--subscribe] [--admin] [--ttl SECONDS]\n"
           "                      [--api-key KEY --api-secret SECRET | --config FILE]\n\n"
           "Prints an access token (JWT, HS256) granting ID the chosen rights in ROOM\n"
           "(\"*\": every room, with --admin only) for --ttl seconds (default %d, at most %ld).\n"
           "Without --api-key/--api-secret the pair is read like the server reads it:\n"
           "auth.api_key / auth.api_secret from --config FILE or JUNCTION_CONFIG, or\n"
           "JUNCTION_AUTH_API_KEY / JUNCTION_AUTH_API_SECRET. Token layout: docs/AUTH.md.\n",
           DEFAULT_TTL_S, MAX_TTL_S);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("junction token: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

/* Copy a flag's value into a grants field; false when it does not fit. */
static bool copy_value(char *dst, size_t cap, const char *value)
{
    size_t n = strlen(value);
    if (n >= cap) return false;
    memcpy(dst, value, n + 1);
    return true;
}

int token_cmd_main(int argc, char **argv)
{
    auth_grants g;
    memset(&g, 0, sizeof g);
    long ttl = DEFAULT_TTL_S;
    bool have_room = false;
    /* The key pair and config file go to config_load as the server's own flags. */
    char *config_argv[8] = {"junction"};
    int config_argc = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        }
        if (strcmp(a, "--publish") == 0) {
            g.can_publish = true;
            continue;
        }
        if (strcmp(a, "--subscribe") == 0) {
            g.can_subscribe = true;
            continue;
        }
        if (strcmp(a, "--admin") == 0) {
            g.admin = true;
            continue;
        }
        if (i + 1 >= argc) return fail("unknown flag or missing value: %s", a);
        char *value = argv[++i];
        if (strcmp(a, "--room") == 0) {
            if (!copy_value(g.room, sizeof g.room, value) || !value[0])
                return fail("--room must be 1 to %d bytes", AUTH_ROOM_MAX);
            have_room = true;
        } else if (strcmp(a, "--identity") == 0) {
            if (!copy_value(g.identity, sizeof g.identity, value))
                return fail("--identity is longer than %d bytes", AUTH_IDENTITY_MAX);
        } else if (strcmp(a, "--name") == 0) {
            if (!copy_value(g.name, sizeof g.name, value))
                return fail("--name is longer than %d bytes", AUTH_NAME_MAX);
        } else if (strcmp(a, "--ttl") == 0) {
            char *end;
            errno = 0;
            ttl = strtol(value, &end, 10);
            if (errno || end == value || *end || ttl < 1 || ttl > MAX_TTL_S)
                return fail("--ttl must be seconds from 1 to %ld, got '%s'", MAX_TTL_S, value);
        } else if (strcmp(a, "--config") == 0 || strcmp(a, "--api-key") == 0 ||
                   strcmp(a, "--api-secret") == 0) {
            if (config_argc + 2 > (int)(sizeof config_argv / sizeof config_argv[0]))
                return fail("--config, --api-key and --api-secret may each be given once");
            config_argv[config_argc++] = strcmp(a, "--config") == 0    ? "--config"
                                         : strcmp(a, "--api-key") == 0 ? "--auth-api-key"
                                                                       : "--auth-api-secret";
            config_argv[config_argc++] = value;
        } else {
            return fail("unknown flag %s (see junction token --help)", a);
        }
    }
    if (!have_room) return fail("--room is required (\"*\" for every room, with --admin)");
    if (!g.identity[0]) return fail("--identity is required");
    if (!g.can_publish && !g.can_subscribe && !g.admin)
        return fail("grant at least one of --publish, --subscribe, --admin");
    if (strcmp(g.room, AUTH_ANY_ROOM) == 0 && !g.admin)
        return fail("--room \"*\" (every room) needs --admin");

    static config c;
    char err[512];
    config_defaults(&c);
    auth_keys keys;
    if (config_load(&c, config_argc, config_argv, err, sizeof err) != J_OK ||
        config_api_keys(&c, &keys, err, sizeof err) != J_OK)
        return fail("%s", err);
    if (keys.count == 0)
        return fail("no API key: give --api-key and --api-secret, or set auth.api_key and "
                    "auth.api_secret in the configuration");

    char token[AUTH_TOKEN_MAX + 1];
    const auth_key *k = &keys.keys[0];
    int n = auth_mint(k->id, k->secret, k->secret_len, &g, ttl, (int64_t)time(NULL), token,
                      sizeof token);
    auth_keys_clear(&keys);
    if (n < 0)
        return fail("cannot mint the token: --identity, --name and --room must be UTF-8 "
                    "without control characters");
    printf("%s\n", token);
    return 0;
}
