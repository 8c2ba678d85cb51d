/* token_cmd_test.c - runs the built binary's `junction token` (path in JUNCTION_BIN) and checks
 * what it prints with auth_verify: the key pair from flags, the environment and a config file,
 * and each usage error (exit 2, a message on stderr, nothing on stdout). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "core/err.h"

#define KEY "APItest"
#define SECRET "4f6b1c0e9a2d4e8f8b7c6d5e4f3a2b1c-test"
#define KEY2 "APIrotated"
#define SECRET2 "0a1b2c3d4e5f60718293a4b5c6d7e8f9-second"
/* Every run starts from a clean environment so the developer's own settings do not leak in. */
#define CLEAN_ENV "env -u JUNCTION_CONFIG -u JUNCTION_AUTH_API_KEY -u JUNCTION_AUTH_API_SECRET "

static char g_out[8192];
static char g_err[8192];

/* Run "$JUNCTION_BIN <args>" under sh with env_prefix; capture stdout and stderr; return the
 * exit status. */
static int run(const char *env_prefix, const char *args)
{
    const char *bin = getenv("JUNCTION_BIN");
    if (!bin) fail_msg("JUNCTION_BIN is not set (meson sets it)");
    char err_path[] = "/tmp/junction-token-test-XXXXXX";
    int fd = mkstemp(err_path);
    assert_true(fd >= 0);
    close(fd);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, CLEAN_ENV "%s '%s' %s 2>'%s'", env_prefix, bin, args, err_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(g_out, 1, sizeof g_out - 1, p);
    g_out[n] = '\0';
    int status = pclose(p);
    FILE *e = fopen(err_path, "r");
    assert_non_null(e);
    n = fread(g_err, 1, sizeof g_err - 1, e);
    g_err[n] = '\0';
    fclose(e);
    unlink(err_path);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The printed token (one line) verified against key/secret now. */
static auth_grants verify_output(const char *key, const char *secret)
{
    size_t len = strlen(g_out);
    assert_true(len > 1);
    assert_int_equal(g_out[len - 1], '\n');
    assert_null(memchr(g_out, '\n', len - 1));
    auth_keys keys;
    auth_keys_init(&keys);
    assert_int_equal(auth_keys_add(&keys, key, (const uint8_t *)secret, strlen(secret)), J_OK);
    auth_grants g;
    char why[160];
    int rc = auth_verify(&keys, g_out, len - 1, (int64_t)time(NULL), &g, why, sizeof why);
    if (rc != J_OK) fail_msg("%s: %s (%s)", g_out, auth_reason(rc), why);
    return g;
}

static void test_key_from_flags(void **state)
{
    (void)state;
    int rc = run("", "token --api-key " KEY " --api-secret " SECRET " --room standup "
                     "--identity alice --name 'Alice A.' --publish --subscribe --ttl 600");
    assert_int_equal(rc, 0);
    assert_string_equal(g_err, "");
    auth_grants g = verify_output(KEY, SECRET);
    assert_string_equal(g.key_id, KEY);
    assert_string_equal(g.room, "standup");
    assert_string_equal(g.identity, "alice");
    assert_string_equal(g.name, "Alice A.");
    assert_true(g.can_publish && g.can_subscribe);
    assert_false(g.admin);
    assert_int_equal(g.expires_at - g.issued_at, 600);
    assert_true(auth_allows(&g, "standup", AUTH_JOIN));
}

static void test_key_from_environment(void **state)
{
    (void)state;
    int rc = run("JUNCTION_AUTH_API_KEY=" KEY " JUNCTION_AUTH_API_SECRET=" SECRET,
                 "token --room r1 --identity bob --subscribe");
    assert_int_equal(rc, 0);
    auth_grants g = verify_output(KEY, SECRET);
    assert_false(g.can_publish);
    assert_true(g.can_subscribe);
    assert_string_equal(g.name, "");
    assert_int_equal(g.expires_at - g.issued_at, 3600); /* the default --ttl */

    /* Flags win over the environment, as for the server's own settings. */
    rc = run("JUNCTION_AUTH_API_KEY=" KEY " JUNCTION_AUTH_API_SECRET=" SECRET,
             "token --api-key " KEY2 " --api-secret " SECRET2 " --room r1 --identity bob "
             "--publish");
    assert_int_equal(rc, 0);
    assert_string_equal(verify_output(KEY2, SECRET2).key_id, KEY2);
}

static void test_key_from_config_file(void **state)
{
    (void)state;
    char path[] = "/tmp/junction-token-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char conf[] = "# the server's file\nauth.api_key = " KEY "\nauth.api_secret = " SECRET
                        "\nhttp.port = 9000\n";
    assert_int_equal(write(fd, conf, sizeof conf - 1), (ssize_t)(sizeof conf - 1));
    close(fd);
    char args[512];
    snprintf(args, sizeof args, "token --config %s --room '*' --identity ops --admin", path);
    assert_int_equal(run("", args), 0);
    auth_grants g = verify_output(KEY, SECRET);
    assert_true(g.admin);
    assert_true(auth_allows(&g, NULL, AUTH_ADMIN));

    char env[512];
    snprintf(env, sizeof env, "JUNCTION_CONFIG=%s", path);
    assert_int_equal(run(env, "token --room x --identity y --publish"), 0);
    verify_output(KEY, SECRET);
    unlink(path);
}

static void test_usage_errors(void **state)
{
    (void)state;
    static const struct {
        const char *env, *args, *message; /* message: a part of stderr */
    } cases[] = {
        {"", "token --api-key " KEY " --api-secret " SECRET " --identity a --publish", "--room"},
        {"", "token --api-key " KEY " --api-secret " SECRET " --room r --publish", "--identity"},
        {"", "token --api-key " KEY " --api-secret " SECRET " --room r --identity a",
         "at least one"},
        {"", "token --api-key " KEY " --api-secret " SECRET " --room '*' --identity a --publish",
         "needs --admin"},
        {"", "token --api-key " KEY " --api-secret short --room r --identity a --publish",
         "at least 32 bytes"},
        {"", "token --api-key " KEY " --room r --identity a --publish", "set together"},
        {"", "token --room r --identity a --publish", "no API key"},
        {"", "token --api-key " KEY " --api-secret " SECRET " --room r --identity a --publish "
             "--ttl 0",
         "--ttl"},
        {"", "token --api-key " KEY " --api-secret " SECRET " --room r --identity a --publish "
             "--ttl 10x",
         "--ttl"},
        {"", "token --api-key " KEY " --api-secret " SECRET " --room r --identity a --publish "
             "--record",
         "--record"},
        {"", "token --room r --identity a --publish --config /nonexistent/junction.conf",
         "cannot open config file"},
        {"", "token --api-key 'a b' --api-secret " SECRET " --room r --identity a --subscribe",
         "auth.api_key"},
        {"", "token --api-key " KEY " --api-secret " SECRET " --room r --identity \"$(printf "
             "'a\\tb')\" --subscribe",
         "control characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run(cases[i].env, cases[i].args);
        if (rc != 2 || g_out[0] || !strstr(g_err, cases[i].message))
            fail_msg("case %zu: exit %d, stdout '%s', stderr '%s'", i, rc, g_out, g_err);
    }
}

static void test_help(void **state)
{
    (void)state;
    assert_int_equal(run("", "token --help"), 0);
    assert_non_null(strstr(g_out, "--identity"));
    assert_non_null(strstr(g_out, "JUNCTION_AUTH_API_SECRET"));
    assert_int_equal(run("", "--help"), 0);
    assert_non_null(strstr(g_out, "token --room"));
    assert_non_null(strstr(g_out, "auth.api_secret"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_from_flags),
        cmocka_unit_test(test_key_from_environment),
        cmocka_unit_test(test_key_from_config_file),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
