/* ice_client_test.c - the full ICE client on a virtual clock, against our own ICE-lite
 * agent and against hand-made server messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "ice/ice.h"

#define MS 1000ull
#define SEC 1000000ull

static const char client_ufrag[] = "CliU";
static const char client_pwd[] = "ClientPasswordClientPass";
static const char server_ufrag[] = "SrvUfrag";
static const char server_pwd[] = "ServerPasswordServerPass";

static j_addr addr(const char *ip, uint16_t port)
{
    j_addr a;
    assert_int_equal(j_addr_parse(&a, ip, port), J_OK);
    return a;
}

static void init_client(ice_client *c, bool controlling, uint64_t tiebreaker, uint64_t now)
{
    assert_int_equal(ice_client_init(c, client_ufrag, client_pwd, server_ufrag, server_pwd,
                                     controlling, tiebreaker, now),
                     J_OK);
}

static stun_msg parse(const uint8_t *buf, int n)
{
    assert_true(n > 0);
    stun_msg m;
    assert_int_equal(stun_parse(&m, buf, (size_t)n), J_OK);
    return m;
}

/* A response from the server to request `req`, signed with `pwd`. */
static int make_response(const uint8_t *req, int req_len, int error, const char *pwd,
                         uint8_t *out, size_t cap)
{
    stun_msg m = parse(req, req_len);
    stun_writer w;
    uint16_t type = error ? STUN_BINDING_ERROR : STUN_BINDING_SUCCESS;
    stun_writer_init(&w, out, cap, type, m.tid);
    j_addr mapped = addr("127.1.0.7", 5000);
    if (error)
        stun_writer_add_error_code(&w, error, "x");
    else
        stun_writer_add_xor_mapped_address(&w, &mapped);
    return stun_writer_finish(&w, (const uint8_t *)pwd, strlen(pwd), true);
}

/* A check from a full server: USERNAME "<client>:<server>", signed with the client's
 * password, in the given role. */
static int make_server_check(bool controlling, uint64_t tiebreaker, const char *pwd,
                             uint8_t *out, size_t cap)
{
    uint8_t tid[STUN_TID_LEN];
    memset(tid, 0x77, sizeof tid);
    stun_writer w;
    stun_writer_init(&w, out, cap, STUN_BINDING_REQUEST, tid);
    stun_writer_add_username(&w, "CliU:SrvUfrag", 13);
    stun_writer_add_priority(&w, 12345);
    if (controlling)
        stun_writer_add_ice_controlling(&w, tiebreaker);
    else
        stun_writer_add_ice_controlled(&w, tiebreaker);
    return stun_writer_finish(&w, (const uint8_t *)pwd, strlen(pwd), true);
}

/* Checks and nomination against our ICE-lite server: the real pairing junction-load has. */
static void test_connects_to_ice_lite(void **state)
{
    (void)state;
    ice_client c;
    ice_lite lite;
    uint64_t now = 10 * SEC;
    init_client(&c, true, 42, now);
    assert_int_equal(ice_lite_init(&lite, server_ufrag, server_pwd, client_ufrag, now), J_OK);
    j_addr client_addr = addr("127.1.0.7", 5000), server = addr("127.0.0.1", 40000);
    assert_int_equal(ice_client_poll_timeout(&c), now);
    assert_int_equal(ice_client_state(&c), ICE_STATE_NEW);

    uint8_t req[256], resp[256], out[256];
    int n = ice_client_poll_transmit(&c, now, req, sizeof req);
    stun_msg m = parse(req, n);
    assert_int_equal(m.type, STUN_BINDING_REQUEST);
    assert_int_equal(m.username_len, 13);
    assert_memory_equal(m.username, "SrvUfrag:CliU", 13);
    assert_true(m.has_priority);
    assert_int_equal(m.priority, (110u << 24) | (65535u << 8) | 255u);
    assert_true(m.has_ice_controlling);
    assert_int_equal(m.ice_controlling, 42);
    assert_false(m.use_candidate); /* regular nomination: check first */
    assert_true(m.has_fingerprint);
    /* Nothing else is due until the retransmission time. */
    assert_int_equal(ice_client_poll_transmit(&c, now, out, sizeof out), 0);

    ice_event ev;
    int r = ice_lite_handle_stun(&lite, now, &client_addr, req, (size_t)n, resp, sizeof resp, &ev);
    assert_true(r > 0);
    assert_int_equal(ev, ICE_EV_NONE);
    assert_int_equal(ice_client_handle_stun(&c, now, &server, resp, (size_t)r, out, sizeof out, &ev),
                     0);
    assert_int_equal(ev, ICE_EV_NONE); /* checked, not yet nominated */
    assert_int_equal(ice_client_state(&c), ICE_STATE_NEW);

    /* The nomination goes out at once, with USE-CANDIDATE. */
    n = ice_client_poll_transmit(&c, now, req, sizeof req);
    m = parse(req, n);
    assert_true(m.use_candidate);
    r = ice_lite_handle_stun(&lite, now, &client_addr, req, (size_t)n, resp, sizeof resp, &ev);
    assert_true(r > 0);
    assert_int_equal(ev, ICE_EV_SELECTED);
    assert_true(j_addr_equal(ice_lite_selected(&lite), &client_addr));
    assert_int_equal(ice_client_handle_stun(&c, now, &server, resp, (size_t)r, out, sizeof out, &ev),
                     0);
    assert_int_equal(ev, ICE_EV_SELECTED);
    assert_int_equal(ice_client_state(&c), ICE_STATE_CONNECTED);

    /* Consent: the next request 4..6 s later, without USE-CANDIDATE. */
    uint64_t next = ice_client_poll_timeout(&c);
    assert_true(next >= now + 4 * SEC && next <= now + 6 * SEC);
    assert_int_equal(ice_client_poll_transmit(&c, next - 1, req, sizeof req), 0);
    n = ice_client_poll_transmit(&c, next, req, sizeof req);
    m = parse(req, n);
    assert_false(m.use_candidate);
    r = ice_lite_handle_stun(&lite, next, &client_addr, req, (size_t)n, resp, sizeof resp, &ev);
    assert_true(r > 0);
    assert_int_equal(ice_client_handle_stun(&c, next, &server, resp, (size_t)r, out, sizeof out,
                                            &ev),
                     0);
    assert_int_equal(ev, ICE_EV_NONE);
    assert_int_equal(c.last_success_us, next);
}

static void test_retransmission_schedule(void **state)
{
    (void)state;
    ice_client c;
    init_client(&c, true, 1, 0);
    uint8_t buf[256], first[256];
    int n = ice_client_poll_transmit(&c, 0, first, sizeof first);
    stun_msg m0 = parse(first, n);
    /* 100, 200, 400, 800, 1600, 1600 ms apart, same transaction id. */
    uint64_t t = 0;
    const uint64_t gaps[] = {100 * MS, 200 * MS, 400 * MS, 800 * MS, 1600 * MS, 1600 * MS};
    for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) {
        t += gaps[i];
        assert_int_equal(ice_client_poll_timeout(&c), t);
        assert_int_equal(ice_client_poll_transmit(&c, t - 1, buf, sizeof buf), 0);
        stun_msg m = parse(buf, ice_client_poll_transmit(&c, t, buf, sizeof buf));
        assert_memory_equal(m.tid, m0.tid, STUN_TID_LEN);
    }
    /* No answer for the consent window: the agent fails, once. */
    assert_int_equal(ice_client_handle_timeout(&c, 30 * SEC - 1), ICE_EV_NONE);
    assert_int_equal(ice_client_handle_timeout(&c, 30 * SEC), ICE_EV_TIMEOUT);
    assert_int_equal(ice_client_state(&c), ICE_STATE_FAILED);
    assert_int_equal(ice_client_handle_timeout(&c, 31 * SEC), ICE_EV_NONE);
    assert_int_equal(ice_client_poll_timeout(&c), UINT64_MAX);
    assert_int_equal(ice_client_poll_transmit(&c, 40 * SEC, buf, sizeof buf), 0);
}

/* Drives a controlling client through check and nomination with a server that answers
 * everything; returns the time reached. */
static uint64_t connect_client(ice_client *c, uint64_t now)
{
    j_addr server = addr("127.0.0.1", 40000);
    uint8_t req[256], resp[256], out[256];
    ice_event ev = ICE_EV_NONE;
    for (int i = 0; i < 2; i++) {
        int n = ice_client_poll_transmit(c, now, req, sizeof req);
        int r = make_response(req, n, 0, server_pwd, resp, sizeof resp);
        assert_int_equal(ice_client_handle_stun(c, now, &server, resp, (size_t)r, out, sizeof out,
                                                &ev),
                         0);
    }
    assert_int_equal(ev, ICE_EV_SELECTED);
    return now;
}

static void test_consent_expiry(void **state)
{
    (void)state;
    ice_client c;
    init_client(&c, true, 1, 0);
    uint64_t t0 = connect_client(&c, 2 * SEC);
    uint8_t buf[256];
    /* Consent requests go unanswered: they keep being retransmitted, then the agent fails
     * 30 s after the last success. */
    uint64_t t = ice_client_poll_timeout(&c);
    int sent = 0;
    while (t < t0 + 30 * SEC) {
        if (ice_client_poll_transmit(&c, t, buf, sizeof buf) > 0) sent++;
        assert_int_equal(ice_client_handle_timeout(&c, t), ICE_EV_NONE);
        t = ice_client_poll_timeout(&c);
    }
    assert_true(sent > 10);
    assert_int_equal(t, t0 + 30 * SEC);
    assert_int_equal(ice_client_handle_timeout(&c, t), ICE_EV_TIMEOUT);
}

static void test_bad_responses_ignored(void **state)
{
    (void)state;
    ice_client c;
    init_client(&c, true, 1, 0);
    j_addr server = addr("127.0.0.1", 40000);
    uint8_t req[256], resp[256], out[256];
    ice_event ev;
    int n = ice_client_poll_transmit(&c, 0, req, sizeof req);
    /* Signed with the wrong password. */
    int r = make_response(req, n, 0, client_pwd, resp, sizeof resp);
    assert_int_equal(ice_client_handle_stun(&c, 0, &server, resp, (size_t)r, out, sizeof out, &ev),
                     J_EAUTH);
    /* A response to another transaction. */
    r = make_response(req, n, 0, server_pwd, resp, sizeof resp);
    resp[8] ^= 1;
    assert_int_equal(ice_client_handle_stun(&c, 0, &server, resp, (size_t)r, out, sizeof out, &ev),
                     0);
    assert_false(c.checked);
    /* A non-487 error keeps the check retransmitting. */
    r = make_response(req, n, 401, server_pwd, resp, sizeof resp);
    assert_int_equal(ice_client_handle_stun(&c, 0, &server, resp, (size_t)r, out, sizeof out, &ev),
                     0);
    assert_true(c.in_flight);
    assert_true(c.controlling);
    /* Garbage and indications. */
    assert_int_equal(ice_client_handle_stun(&c, 0, &server, (const uint8_t *)"xx", 2, out,
                                            sizeof out, &ev),
                     J_ESHORT);
    uint8_t ind[64];
    stun_writer w;
    stun_writer_init(&w, ind, sizeof ind, STUN_BINDING_INDICATION, (const uint8_t *)"abcdefghijkl");
    int in = stun_writer_finish(&w, NULL, 0, true);
    assert_int_equal(ice_client_handle_stun(&c, 0, &server, ind, (size_t)in, out, sizeof out, &ev),
                     0);
    assert_int_equal(ev, ICE_EV_NONE);
}

static void test_answers_server_checks(void **state)
{
    (void)state;
    ice_client c;
    init_client(&c, true, 1000, 0);
    j_addr server = addr("127.0.0.1", 40000);
    uint8_t req[256], out[256];
    ice_event ev;
    int n = make_server_check(false, 5, client_pwd, req, sizeof req);
    int r = ice_client_handle_stun(&c, 0, &server, req, (size_t)n, out, sizeof out, &ev);
    stun_msg m = parse(out, r);
    assert_int_equal(m.type, STUN_BINDING_SUCCESS);
    assert_true(m.has_xor_mapped);
    assert_true(j_addr_equal(&m.xor_mapped, &server));
    assert_int_equal(stun_verify_integrity(&m, out, (size_t)r, (const uint8_t *)client_pwd,
                                           strlen(client_pwd)),
                     J_OK);
    /* Signed with anything but our password: dropped. */
    n = make_server_check(false, 5, server_pwd, req, sizeof req);
    assert_int_equal(ice_client_handle_stun(&c, 0, &server, req, (size_t)n, out, sizeof out, &ev),
                     J_EAUTH);
}

static void test_role_conflicts(void **state)
{
    (void)state;
    ice_client c;
    j_addr server = addr("127.0.0.1", 40000);
    uint8_t req[256], resp[256], out[256];
    ice_event ev;

    /* Both controlling, ours larger: the server gets a 487 and we stay controlling. */
    init_client(&c, true, 1000, 0);
    int n = make_server_check(true, 999, client_pwd, req, sizeof req);
    stun_msg m = parse(out, ice_client_handle_stun(&c, 0, &server, req, (size_t)n, out,
                                                   sizeof out, &ev));
    assert_int_equal(m.type, STUN_BINDING_ERROR);
    assert_int_equal(m.error_code, STUN_ERR_ROLE_CONFLICT);
    assert_true(c.controlling);

    /* Both controlling, theirs larger: we switch to controlled and answer success. */
    n = make_server_check(true, 1001, client_pwd, req, sizeof req);
    m = parse(out, ice_client_handle_stun(&c, 0, &server, req, (size_t)n, out, sizeof out, &ev));
    assert_int_equal(m.type, STUN_BINDING_SUCCESS);
    assert_false(c.controlling);
    /* Our next check says ICE-CONTROLLED; its success makes the pair usable. */
    int q = ice_client_poll_transmit(&c, 0, req, sizeof req);
    m = parse(req, q);
    assert_true(m.has_ice_controlled);
    assert_false(m.use_candidate);
    int r = make_response(req, q, 0, server_pwd, resp, sizeof resp);
    assert_int_equal(ice_client_handle_stun(&c, 0, &server, resp, (size_t)r, out, sizeof out, &ev),
                     0);
    assert_int_equal(ev, ICE_EV_SELECTED);

    /* A 487 answer to our check: switch role and check again at once. */
    init_client(&c, true, 7, 0);
    q = ice_client_poll_transmit(&c, 0, req, sizeof req);
    r = make_response(req, q, STUN_ERR_ROLE_CONFLICT, server_pwd, resp, sizeof resp);
    assert_int_equal(ice_client_handle_stun(&c, 0, &server, resp, (size_t)r, out, sizeof out, &ev),
                     0);
    assert_false(c.controlling);
    q = ice_client_poll_transmit(&c, 0, req, sizeof req);
    m = parse(req, q);
    assert_true(m.has_ice_controlled);

    /* Both controlled: the larger tiebreaker (ours) takes control. */
    init_client(&c, false, 50, 0);
    n = make_server_check(false, 40, client_pwd, req, sizeof req);
    m = parse(out, ice_client_handle_stun(&c, 0, &server, req, (size_t)n, out, sizeof out, &ev));
    assert_int_equal(m.type, STUN_BINDING_SUCCESS);
    assert_true(c.controlling);
    n = make_server_check(false, 60, client_pwd, req, sizeof req);
    init_client(&c, false, 50, 0);
    m = parse(out, ice_client_handle_stun(&c, 0, &server, req, (size_t)n, out, sizeof out, &ev));
    assert_int_equal(m.error_code, STUN_ERR_ROLE_CONFLICT);
    assert_false(c.controlling);
}

static void test_init_validation(void **state)
{
    (void)state;
    ice_client c;
    assert_int_equal(ice_client_init(&c, "abc", client_pwd, "s", "p", true, 1, 0), J_EINVAL);
    assert_int_equal(ice_client_init(&c, client_ufrag, "short", "s", "p", true, 1, 0), J_EINVAL);
    assert_int_equal(ice_client_init(&c, client_ufrag, client_pwd, "a:b", "p", true, 1, 0),
                     J_EINVAL);
    assert_int_equal(ice_client_init(&c, client_ufrag, client_pwd, "s", "", true, 1, 0), J_EINVAL);
    assert_int_equal(ice_client_init(&c, client_ufrag, client_pwd, "s", "p w", true, 1, 0),
                     J_EINVAL);
    assert_int_equal(ice_client_init(&c, client_ufrag, client_pwd, NULL, "p", true, 1, 0),
                     J_EINVAL);
    assert_int_equal(ice_client_init(&c, client_ufrag, client_pwd, "s", "p", true, 1, 0), J_OK);
    uint8_t small[40];
    assert_int_equal(ice_client_poll_transmit(&c, 0, small, sizeof small), J_ESHORTBUF);
    assert_false(c.in_flight);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connects_to_ice_lite),
        cmocka_unit_test(test_retransmission_schedule),
        cmocka_unit_test(test_consent_expiry),
        cmocka_unit_test(test_bad_responses_ignored),
        cmocka_unit_test(test_answers_server_checks),
        cmocka_unit_test(test_role_conflicts),
        cmocka_unit_test(test_init_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
