/* limits_test.c - client keys, token buckets on a virtual clock, session counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "app/limits.h"
#include "core/err.h"

static client_key key_of(const char *ip)
{
    client_key k;
    client_key_from_ip(&k, ip);
    return k;
}

static void test_client_keys(void **state)
{
    (void)state;
    client_key k = key_of("192.0.2.7");
    assert_int_equal(k.len, 4);
    assert_memory_equal(k.bytes, "\xc0\x00\x02\x07", 4);
    client_key mapped = key_of("::ffff:192.0.2.7");
    assert_int_equal(mapped.len, 4);
    assert_memory_equal(mapped.bytes, k.bytes, 4);
    /* Two addresses of one /64 are one client; another /64 is another. */
    client_key a = key_of("2001:db8:1:2::1"), b = key_of("2001:db8:1:2:ffff::9");
    client_key c = key_of("2001:db8:1:3::1");
    assert_int_equal(a.len, 8);
    assert_memory_equal(a.bytes, b.bytes, 8);
    assert_memory_not_equal(a.bytes, c.bytes, 8);
    /* Not an IP literal: the shared empty key. */
    const char *junk[] = {"?", "", "1.2.3", "1.2.3.4.5", "example.com", "::ffff:1.2.3.4:80", NULL};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        client_key j = key_of(junk[i]);
        assert_int_equal(j.len, 0);
    }
}

static void test_rate_burst_then_steady(void **state)
{
    (void)state;
    rate_limiter *rl = rate_limiter_new(10, 5, 64, 1);
    assert_non_null(rl);
    client_key k = key_of("198.51.100.1");
    uint64_t t = 1000000;
    for (int i = 0; i < 5; i++) assert_int_equal(rate_limiter_check(rl, &k, t), RATE_ALLOW);
    assert_int_equal(rate_limiter_check(rl, &k, t), RATE_DENY_FIRST);
    assert_int_equal(rate_limiter_check(rl, &k, t), RATE_DENY);
    assert_int_equal(rate_limiter_check(rl, &k, t + 99999), RATE_DENY);
    /* One token every 100 ms. */
    assert_int_equal(rate_limiter_check(rl, &k, t + 100000), RATE_ALLOW);
    assert_int_equal(rate_limiter_check(rl, &k, t + 100000), RATE_DENY);
    /* 10,000 requests in a row in one second: 5 + 10 get through. */
    rate_limiter *rl2 = rate_limiter_new(10, 5, 64, 2);
    int allowed = 0;
    for (int i = 0; i < 10000; i++)
        allowed += rate_limiter_check(rl2, &k, t + (uint64_t)i * 100) == RATE_ALLOW;
    assert_int_equal(allowed, 5 + 9); /* tokens at 100 ms .. 900 ms */
    assert_int_equal(rate_limiter_denied(rl2), 10000 - 14);
    rate_limiter_free(rl2);
    /* After a quiet second the bucket is full again and a new episode logs again. */
    t += 2000000;
    for (int i = 0; i < 5; i++) assert_int_equal(rate_limiter_check(rl, &k, t), RATE_ALLOW);
    assert_int_equal(rate_limiter_check(rl, &k, t), RATE_DENY_FIRST);
    rate_limiter_free(rl);
}

static void test_rate_clients_independent(void **state)
{
    (void)state;
    rate_limiter *rl = rate_limiter_new(1, 2, 64, 3);
    client_key attacker = key_of("203.0.113.9"), victim = key_of("203.0.113.10");
    uint64_t t = 5000000;
    for (int i = 0; i < 100; i++) rate_limiter_check(rl, &attacker, t);
    assert_int_equal(rate_limiter_check(rl, &attacker, t), RATE_DENY);
    assert_int_equal(rate_limiter_check(rl, &victim, t), RATE_ALLOW);
    assert_int_equal(rate_limiter_check(rl, &victim, t), RATE_ALLOW);
    assert_int_equal(rate_limiter_check(rl, &victim, t), RATE_DENY_FIRST);
    rate_limiter_free(rl);
}

/* A full table evicts entries whose buckets have refilled before one that is being
 * limited, and any number of clients fits in its fixed memory. */
static void test_rate_eviction(void **state)
{
    (void)state;
    rate_limiter *rl = rate_limiter_new(1, 1, 8, 4); /* one set of 8 */
    char ip[32];
    uint64_t t = 100000000;
    for (int i = 0; i < 7; i++) { /* long gone: full buckets by t */
        snprintf(ip, sizeof ip, "10.0.0.%d", i + 10);
        client_key k = key_of(ip);
        assert_int_equal(rate_limiter_check(rl, &k, t - 10000000), RATE_ALLOW);
    }
    client_key limited = key_of("10.0.0.1");
    assert_int_equal(rate_limiter_check(rl, &limited, t), RATE_ALLOW);
    assert_int_equal(rate_limiter_check(rl, &limited, t), RATE_DENY_FIRST);
    for (int i = 0; i < 7; i++) { /* seven newcomers replace the seven refilled entries */
        snprintf(ip, sizeof ip, "10.0.1.%d", i);
        client_key k = key_of(ip);
        assert_int_equal(rate_limiter_check(rl, &k, t), RATE_ALLOW);
    }
    assert_int_equal(rate_limiter_check(rl, &limited, t + 500000), RATE_DENY);
    for (int i = 0; i < 100000; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", 1 + (i >> 16), (i >> 8) & 255, i & 255);
        client_key k = key_of(ip);
        assert_int_equal(rate_limiter_check(rl, &k, t + (uint64_t)i), RATE_ALLOW);
    }
    rate_limiter_free(rl);
}

static void test_rate_bad_arguments(void **state)
{
    (void)state;
    assert_null(rate_limiter_new(0, 1, 16, 0));
    assert_null(rate_limiter_new(1, 0, 16, 0));
    assert_null(rate_limiter_new(1, 1, 0, 0));
    rate_limiter *rl = rate_limiter_new(5000000, 1, 1, 0); /* more than 1/us: clamped */
    assert_non_null(rl);
    client_key k = key_of("::1");
    assert_int_equal(rate_limiter_check(rl, &k, 10), RATE_ALLOW);
    assert_int_equal(rate_limiter_check(rl, &k, 10), RATE_DENY_FIRST);
    assert_int_equal(rate_limiter_check(rl, &k, 11), RATE_ALLOW);
    rate_limiter_free(rl);
    rate_limiter_free(NULL);
}

static void test_session_limits(void **state)
{
    (void)state;
    session_limits sl;
    session_limits_config cfg = {.max_sessions_per_client = 3, .max_half_open = 4,
                                 .max_half_open_per_client = 2};
    session_limits_init(&sl, &cfg);
    client_key a = key_of("192.0.2.1"), b = key_of("192.0.2.2"), c = key_of("192.0.2.3");

    assert_int_equal(session_limits_check(&sl, &a), LIMIT_NONE);
    assert_int_equal(session_limits_add(&sl, "a1", &a), J_OK);
    assert_int_equal(session_limits_add(&sl, "a1", &a), J_EINVAL);
    assert_int_equal(session_limits_add(&sl, "a2", &a), J_OK);
    /* Two handshakes in flight from a: its half-open limit. */
    assert_int_equal(session_limits_check(&sl, &a), LIMIT_HALF_OPEN_PER_CLIENT);
    assert_int_equal(session_limits_check(&sl, &b), LIMIT_NONE);
    session_limits_established(&sl, "a1");
    session_limits_established(&sl, "a1"); /* repeated: ignored */
    session_limits_established(&sl, "zz"); /* unknown: ignored */
    assert_int_equal(sl.half_open, 1);
    assert_int_equal(session_limits_add(&sl, "a3", &a), J_OK);
    session_limits_established(&sl, "a3");
    /* Three sessions: a's session limit, whatever their state. */
    assert_int_equal(session_limits_check(&sl, &a), LIMIT_SESSIONS_PER_CLIENT);

    /* The server-wide half-open limit (4): a2 + b1 + b2 + c1. */
    assert_int_equal(session_limits_add(&sl, "b1", &b), J_OK);
    assert_int_equal(session_limits_add(&sl, "b2", &b), J_OK);
    assert_int_equal(session_limits_add(&sl, "c1", &c), J_OK);
    assert_int_equal(sl.half_open, 4);
    client_key d = key_of("192.0.2.4");
    assert_int_equal(session_limits_check(&sl, &d), LIMIT_HALF_OPEN);

    /* Ending sessions gives the room back; a client's entry goes with its last session. */
    session_limits_remove(&sl, "c1");
    session_limits_remove(&sl, "c1");
    assert_int_equal(session_limits_check(&sl, &d), LIMIT_NONE);
    session_limits_remove(&sl, "a1");
    assert_int_equal(session_limits_check(&sl, &a), LIMIT_NONE);
    session_limits_remove(&sl, "a2");
    session_limits_remove(&sl, "a3");
    session_limits_remove(&sl, "b1");
    session_limits_remove(&sl, "b2");
    assert_int_equal(sl.half_open, 0);
    assert_int_equal(sl.clients.count, 0);
    assert_int_equal(sl.sessions.count, 0);

    session_limits_count_refused(&sl, LIMIT_HALF_OPEN);
    session_limits_count_refused(&sl, LIMIT_NONE);
    session_limits_count_refused(&sl, LIMIT_KINDS);
    assert_int_equal(sl.refused[LIMIT_HALF_OPEN], 1);
    assert_int_equal(sl.refused[LIMIT_NONE], 0);

    assert_int_equal(session_limits_add(&sl, "x", &d), J_OK);
    session_limits_clear(&sl); /* frees what is left (ASan checks) */
    assert_int_equal(sl.half_open, 0);

    /* Sessions of no particular client count against the server only; 0 is no limit. */
    session_limits_config no_client_limits = {.max_half_open = 2};
    session_limits_init(&sl, &no_client_limits);
    assert_int_equal(session_limits_add(&sl, "r1", NULL), J_OK);
    assert_int_equal(session_limits_add(&sl, "r2", &a), J_OK);
    assert_int_equal(session_limits_check(&sl, NULL), LIMIT_HALF_OPEN);
    session_limits_established(&sl, "r1");
    assert_int_equal(session_limits_check(&sl, &a), LIMIT_NONE);
    assert_int_equal(sl.clients.count, 1);
    session_limits_remove(&sl, "r1");
    session_limits_remove(&sl, "r2");
    assert_int_equal(sl.clients.count, 0);
    assert_int_equal(sl.half_open, 0);
    session_limits_clear(&sl);
}

static void test_limit_names(void **state)
{
    (void)state;
    assert_string_equal(limit_setting(LIMIT_SESSIONS_PER_CLIENT), "limits.max_sessions_per_ip");
    assert_string_equal(limit_name(LIMIT_HALF_OPEN), "half_open");
    assert_true(limit_per_client(LIMIT_HALF_OPEN_PER_CLIENT));
    assert_false(limit_per_client(LIMIT_SESSIONS));
    assert_false(limit_per_client(LIMIT_KINDS));
    assert_string_equal(limit_setting(LIMIT_KINDS), "");
    for (int k = LIMIT_SESSIONS; k < LIMIT_KINDS; k++) {
        assert_true(strncmp(limit_setting((limit_kind)k), "limits.", 7) == 0);
        assert_true(strlen(limit_name((limit_kind)k)) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_keys),
        cmocka_unit_test(test_rate_burst_then_steady),
        cmocka_unit_test(test_rate_clients_independent),
        cmocka_unit_test(test_rate_eviction),
        cmocka_unit_test(test_rate_bad_arguments),
        cmocka_unit_test(test_session_limits),
        cmocka_unit_test(test_limit_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
