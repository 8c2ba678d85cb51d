/* whip_test.c - admin access (app_admin_allowed) and the routes that require it (/api/stats,
 * /metrics): open without API keys; with keys 401 without a valid token (static tokens included), 403
 * for a valid token without the server-wide admin grant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "app/whip.h"
#include "core/err.h"

#define KEY "APIstats"
#define SECRET "7d1e0c9b8a7f6e5d4c3b2a19f8e7d6c5-stats"
#define STATIC_TOKEN "static-publish-secret"

static app g_app;
static char g_authorization[AUTH_TOKEN_MAX + 16];
static http_reply g_rep;

static int setup(void **state)
{
    (void)state;
    memset(&g_app, 0, sizeof g_app);
    config_defaults(&g_app.cfg);
    auth_keys_init(&g_app.keys);
    memset(&g_rep, 0, sizeof g_rep);
    g_authorization[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_rep.body);
    auth_keys_clear(&g_app.keys);
    return 0;
}

static void configure_keys(void)
{
    assert_int_equal(auth_keys_add(&g_app.keys, KEY, (const uint8_t *)SECRET, strlen(SECRET)),
                     J_OK);
    snprintf(g_app.cfg.publish_token, sizeof g_app.cfg.publish_token, "%s", STATIC_TOKEN);
    snprintf(g_app.cfg.view_token, sizeof g_app.cfg.view_token, "%s", STATIC_TOKEN);
}

/* Authorization: Bearer <a token for room signed with secret>. */
static void bearer_token(const char *secret, const char *room, bool admin)
{
    auth_grants g = {.admin = admin, .can_publish = !admin, .can_subscribe = !admin};
    snprintf(g.identity, sizeof g.identity, "ops");
    snprintf(g.room, sizeof g.room, "%s", room);
    int n = snprintf(g_authorization, sizeof g_authorization, "Bearer ");
    assert_true(auth_mint(KEY, (const uint8_t *)secret, strlen(secret), &g, 600,
                          (int64_t)time(NULL), g_authorization + n,
                          sizeof g_authorization - (size_t)n) > 0);
}

static http_request request(const char *path)
{
    return (http_request){.method = "GET", .path = path, .query = "", .content_type = "",
                          .authorization = g_authorization, .origin = "", .if_match = "",
                          .peer_ip = "192.0.2.7"};
}

/* GET path through the routes table, as the HTTP server would call it. */
static void get(const char *path)
{
    http_route routes[APP_MAX_ROUTES];
    size_t n = app_routes(&g_app, routes, APP_MAX_ROUTES);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(routes[i].method, "GET") == 0 && strcmp(routes[i].path_prefix, path) == 0) {
            http_request req = request(path);
            routes[i].fn(routes[i].ctx, &req, &g_rep);
            return;
        }
    }
    fail_msg("no GET %s route", path);
}

/* A 401 that asks for a bearer token, or a 403 that does not, with a JSON error body. */
static void assert_refused(int status)
{
    assert_int_equal(g_rep.status, status);
    assert_string_equal(g_rep.content_type, "application/json");
    assert_non_null(g_rep.body);
    assert_non_null(strstr(g_rep.body, "\"error\""));
    bool challenge = strstr(g_rep.extra_headers, "WWW-Authenticate: Bearer\r\n") != NULL;
    assert_int_equal(challenge, status == 401);
}

static void test_open_without_api_keys(void **state)
{
    (void)state;
    snprintf(g_app.cfg.publish_token, sizeof g_app.cfg.publish_token, "%s", STATIC_TOKEN);
    http_request req = request("/api/stats");
    assert_true(app_admin_allowed(&g_app, &req, NULL, &g_rep));
    assert_int_equal(g_rep.status, 0);
}

/* Each request /api/stats and /metrics refuse once API keys are configured: Authorization as
 * given, or a token minted with secret for room. */
static void test_stats_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *what, *authorization, *secret, *room;
        bool admin;
        int status;
        const char *error;
    } cases[] = {
        {"no token", "", NULL, NULL, false, 401, "token_missing"},
        {"another scheme", "Basic b3BzOnNlY3JldA==", NULL, NULL, false, 401, "token_missing"},
        {"the static WHIP/WHEP token", "Bearer " STATIC_TOKEN, NULL, NULL, false, 401, NULL},
        {"another key's signature", NULL, "another-secret-0123456789abcdef0123456789",
         AUTH_ANY_ROOM, true, 401, "token_bad_signature"},
        {"a participant's token", NULL, SECRET, "standup", false, 403, "not_allowed"},
        {"an admin token for one room", NULL, SECRET, "standup", true, 403, "not_allowed"},
    };
    static const char *const paths[] = {"/api/stats", "/metrics"};
    configure_keys();
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (cases[i].secret)
                bearer_token(cases[i].secret, cases[i].room, cases[i].admin);
            else
                snprintf(g_authorization, sizeof g_authorization, "%s", cases[i].authorization);
            get(paths[p]);
            if (g_rep.status != cases[i].status)
                fail_msg("%s %s: status %d, expected %d", paths[p], cases[i].what, g_rep.status,
                         cases[i].status);
            assert_refused(cases[i].status);
            if (cases[i].error && !strstr(g_rep.body, cases[i].error))
                fail_msg("%s %s: %s, expected %s", paths[p], cases[i].what, g_rep.body,
                         cases[i].error);
            free(g_rep.body);
            memset(&g_rep, 0, sizeof g_rep);
        }
    }
}

static void test_room_admin_token_controls_its_room(void **state)
{
    (void)state;
    configure_keys();
    bearer_token(SECRET, "standup", true);
    http_request req = request("/api/stats");
    assert_true(app_admin_allowed(&g_app, &req, "standup", &g_rep));
    assert_false(app_admin_allowed(&g_app, &req, "other", &g_rep));
    assert_refused(403);
}

static void test_server_admin_token_is_allowed(void **state)
{
    (void)state;
    configure_keys();
    bearer_token(SECRET, AUTH_ANY_ROOM, true);
    http_request req = request("/api/stats");
    assert_true(app_admin_allowed(&g_app, &req, NULL, &g_rep));
    assert_true(app_admin_allowed(&g_app, &req, "standup", &g_rep));
    assert_int_equal(g_rep.status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_without_api_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_room_admin_token_controls_its_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_admin_token_is_allowed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
