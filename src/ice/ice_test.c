/* ice_test.c - ICE-lite agent on a virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "ice/ice.h"

#define SEC 1000000ull

static const char local_ufrag[] = "Lu5fRg0a";
static const char local_pwd[] = "LocalPassw0rdLocalPassw0";
static const char remote_ufrag[] = "rEm0";

typedef struct {
    const char *username; /* NULL: none */
    const char *pwd;      /* NULL: no MESSAGE-INTEGRITY */
    bool use_candidate;
    bool controlled;      /* send ICE-CONTROLLED instead of ICE-CONTROLLING */
    bool fingerprint;
    bool bad_fingerprint;
    uint16_t extra_attr; /* 0: none */
    uint16_t type;       /* 0: Binding request */
} check_opts;

static uint8_t tid_counter;

/* Builds what a browser (full, controlling agent) sends. */
static size_t make_check(uint8_t *buf, size_t cap, const check_opts *o)
{
    uint8_t tid[12];
    memset(tid, 0x5a, sizeof tid);
    tid[11] = ++tid_counter;
    stun_writer w;
    assert_int_equal(stun_writer_init(&w, buf, cap, o->type ? o->type : STUN_BINDING_REQUEST, tid),
                     J_OK);
    if (o->username) stun_writer_add_username(&w, o->username, strlen(o->username));
    stun_writer_add_priority(&w, 0x6e7f1eff);
    if (o->controlled)
        stun_writer_add_ice_controlled(&w, 0x1234);
    else
        stun_writer_add_ice_controlling(&w, 0x5678);
    if (o->use_candidate) stun_writer_add_use_candidate(&w);
    if (o->extra_attr) stun_writer_add(&w, o->extra_attr, "x", 1);
    int n = stun_writer_finish(&w, (const uint8_t *)o->pwd, o->pwd ? strlen(o->pwd) : 0,
                               o->fingerprint);
    assert_true(n > 0);
    if (o->bad_fingerprint) buf[n - 1] ^= 0xff;
    return (size_t)n;
}

static check_opts good_check(bool use_candidate)
{
    return (check_opts){.username = "Lu5fRg0a:rEm0", .pwd = local_pwd,
                        .use_candidate = use_candidate, .fingerprint = true};
}

static j_addr addr(const char *ip, uint16_t port)
{
    j_addr a;
    assert_int_equal(j_addr_parse(&a, ip, port), J_OK);
    return a;
}

static void init_agent(ice_lite *ice, uint64_t now)
{
    assert_int_equal(ice_lite_init(ice, local_ufrag, local_pwd, remote_ufrag, now), J_OK);
}

/* Sends a check, returns handle_stun's result; the response lands in out. */
static int send_check(ice_lite *ice, uint64_t now, const j_addr *from, const check_opts *o,
                      uint8_t *out, size_t cap, ice_event *ev)
{
    uint8_t req[256];
    size_t n = make_check(req, sizeof req, o);
    return ice_lite_handle_stun(ice, now, from, req, n, out, cap, ev);
}

static int check_ok(ice_lite *ice, uint64_t now, const j_addr *from, bool use_candidate,
                    ice_event *ev)
{
    uint8_t out[256];
    check_opts o = good_check(use_candidate);
    return send_check(ice, now, from, &o, out, sizeof out, ev);
}

static void test_valid_check_gets_signed_response(void **state)
{
    (void)state;
    ice_lite ice;
    init_agent(&ice, 0);
    assert_int_equal(ice_lite_state(&ice), ICE_STATE_NEW);
    j_addr from = addr("198.51.100.7", 54321);
    assert_false(ice_lite_is_valid_source(&ice, &from));

    uint8_t req[256], out[256];
    check_opts o = good_check(false);
    size_t req_len = make_check(req, sizeof req, &o);
    ice_event ev = ICE_EV_SELECTED;
    int n = ice_lite_handle_stun(&ice, 1 * SEC, &from, req, req_len, out, sizeof out, &ev);
    assert_true(n > 0);
    assert_int_equal(ev, ICE_EV_NONE);

    stun_msg req_m, resp;
    assert_int_equal(stun_parse(&req_m, req, req_len), J_OK);
    assert_int_equal(stun_parse(&resp, out, (size_t)n), J_OK);
    assert_int_equal(resp.type, STUN_BINDING_SUCCESS);
    assert_memory_equal(resp.tid, req_m.tid, STUN_TID_LEN);
    assert_true(resp.has_xor_mapped);
    assert_true(j_addr_equal(&resp.xor_mapped, &from));
    assert_int_equal(stun_verify_integrity(&resp, out, (size_t)n, (const uint8_t *)local_pwd,
                                           strlen(local_pwd)),
                     J_OK);
    assert_int_equal(stun_verify_fingerprint(&resp, out, (size_t)n), J_OK);

    assert_int_equal(ice_lite_state(&ice), ICE_STATE_CONNECTED);
    assert_true(ice_lite_is_valid_source(&ice, &from));
    assert_null(ice_lite_selected(&ice));

    /* IPv6 source too. */
    j_addr v6 = addr("2001:db8::42", 9);
    n = send_check(&ice, 2 * SEC, &v6, &o, out, sizeof out, &ev);
    assert_true(n > 0);
    assert_int_equal(stun_parse(&resp, out, (size_t)n), J_OK);
    assert_true(j_addr_equal(&resp.xor_mapped, &v6));
    assert_true(ice_lite_is_valid_source(&ice, &v6));
}

static void test_bad_credentials_rejected(void **state)
{
    (void)state;
    ice_lite ice;
    init_agent(&ice, 0);
    j_addr from = addr("198.51.100.7", 54321);
    uint8_t out[256];
    ice_event ev;
    static const check_opts bad[] = {
        {.username = "Lu5fRg0a:rEm0", .pwd = "WrongPasswordWrongPassw", .fingerprint = true},
        {.username = "Lu5fRg0a:rEm0", .pwd = NULL, .fingerprint = true}, /* no integrity */
        {.username = NULL, .pwd = local_pwd, .fingerprint = true},        /* no username */
        {.username = "OtherUfr:rEm0", .pwd = local_pwd, .fingerprint = true},
        {.username = "Lu5fRg0a:other", .pwd = local_pwd, .fingerprint = true},
        {.username = "Lu5fRg0a:rEm", .pwd = local_pwd, .fingerprint = true},
        {.username = "Lu5fRg0a:rEm0x", .pwd = local_pwd, .fingerprint = true},
        {.username = "Lu5fRg0arEm0", .pwd = local_pwd, .fingerprint = true},
        {.username = "Lu5fRg0", .pwd = local_pwd, .fingerprint = true},
        {.username = "Lu5fRg0a:rEm0", .pwd = local_pwd, .fingerprint = true,
         .bad_fingerprint = true},
        {.username = "Lu5fRg0a:rEm0", .pwd = "rEm0rEm0rEm0rEm0rEm0rEm0", .fingerprint = true},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = send_check(&ice, SEC, &from, &bad[i], out, sizeof out, &ev);
        if (rc != J_EAUTH) fail_msg("case %zu: got %d, want J_EAUTH", i, rc);
        assert_int_equal(ev, ICE_EV_NONE);
    }
    assert_int_equal(ice_lite_state(&ice), ICE_STATE_NEW);
    assert_false(ice_lite_is_valid_source(&ice, &from));
    /* FINGERPRINT is optional for the check to pass. */
    check_opts nofp = good_check(false);
    nofp.fingerprint = false;
    assert_true(send_check(&ice, SEC, &from, &nofp, out, sizeof out, &ev) > 0);
}

static void test_unknown_remote_ufrag(void **state)
{
    (void)state;
    ice_lite ice;
    assert_int_equal(ice_lite_init(&ice, local_ufrag, local_pwd, NULL, 0), J_OK);
    j_addr from = addr("198.51.100.7", 1);
    uint8_t out[256];
    ice_event ev;
    check_opts o = good_check(false);
    o.username = "Lu5fRg0a:anything";
    assert_true(send_check(&ice, SEC, &from, &o, out, sizeof out, &ev) > 0);
    o.username = "Lu5fRg0a:"; /* the remote part may not be empty */
    assert_int_equal(send_check(&ice, SEC, &from, &o, out, sizeof out, &ev), J_EAUTH);
    /* Once learned, the remote ufrag is enforced. */
    assert_int_equal(ice_lite_set_remote_ufrag(&ice, remote_ufrag), J_OK);
    o.username = "Lu5fRg0a:anything";
    assert_int_equal(send_check(&ice, SEC, &from, &o, out, sizeof out, &ev), J_EAUTH);
    assert_true(check_ok(&ice, SEC, &from, false, &ev) > 0);
    assert_int_equal(ice_lite_set_remote_ufrag(&ice, "a:b"), J_EINVAL);
}

static void test_nomination_and_path_change(void **state)
{
    (void)state;
    ice_lite ice;
    init_agent(&ice, 0);
    j_addr a = addr("198.51.100.7", 5000), b = addr("203.0.113.9", 6000);
    ice_event ev;

    assert_true(check_ok(&ice, 1 * SEC, &a, false, &ev) > 0);
    assert_int_equal(ev, ICE_EV_NONE);
    assert_null(ice_lite_selected(&ice));

    assert_true(check_ok(&ice, 2 * SEC, &a, true, &ev) > 0);
    assert_int_equal(ev, ICE_EV_SELECTED);
    assert_non_null(ice_lite_selected(&ice));
    assert_true(j_addr_equal(ice_lite_selected(&ice), &a));

    /* Nominating the same address again is not news. */
    assert_true(check_ok(&ice, 3 * SEC, &a, true, &ev) > 0);
    assert_int_equal(ev, ICE_EV_NONE);

    /* A check from b alone does not move the path... */
    assert_true(check_ok(&ice, 4 * SEC, &b, false, &ev) > 0);
    assert_int_equal(ev, ICE_EV_NONE);
    assert_true(j_addr_equal(ice_lite_selected(&ice), &a));
    /* ...nominating it does (network change). */
    assert_true(check_ok(&ice, 5 * SEC, &b, true, &ev) > 0);
    assert_int_equal(ev, ICE_EV_SELECTED);
    assert_true(j_addr_equal(ice_lite_selected(&ice), &b));
    assert_true(ice_lite_is_valid_source(&ice, &a));
    assert_true(ice_lite_is_valid_source(&ice, &b));

    /* A nomination that fails authentication changes nothing. */
    uint8_t out[256];
    check_opts bad = good_check(true);
    bad.pwd = "WrongPasswordWrongPassw";
    assert_int_equal(send_check(&ice, 6 * SEC, &a, &bad, out, sizeof out, &ev), J_EAUTH);
    assert_true(j_addr_equal(ice_lite_selected(&ice), &b));
}

static void test_consent_timeout_and_refresh(void **state)
{
    (void)state;
    ice_lite ice;
    const uint64_t t0 = 1000 * SEC;
    init_agent(&ice, t0);
    j_addr a = addr("198.51.100.7", 5000);
    ice_event ev;

    /* A peer that never checks expires one window after creation. */
    assert_true(ice_lite_poll_timeout(&ice) == t0 + 30 * SEC);
    assert_int_equal(ice_lite_handle_timeout(&ice, t0 + 29 * SEC), ICE_EV_NONE);

    /* Checks every 5 s keep it alive well past 30 s. */
    assert_true(check_ok(&ice, t0 + 10 * SEC, &a, true, &ev) > 0);
    for (uint64_t t = 15; t <= 100; t += 5) {
        assert_int_equal(ice_lite_handle_timeout(&ice, t0 + t * SEC), ICE_EV_NONE);
        assert_true(check_ok(&ice, t0 + t * SEC, &a, false, &ev) > 0);
    }
    assert_true(ice_lite_poll_timeout(&ice) == t0 + 130 * SEC);
    assert_int_equal(ice_lite_handle_timeout(&ice, t0 + 129 * SEC), ICE_EV_NONE);
    assert_int_equal(ice_lite_state(&ice), ICE_STATE_CONNECTED);
    assert_true(ice_lite_is_valid_source(&ice, &a));

    /* Silence for 30 s: timeout, once. */
    assert_int_equal(ice_lite_handle_timeout(&ice, t0 + 130 * SEC), ICE_EV_TIMEOUT);
    assert_int_equal(ice_lite_state(&ice), ICE_STATE_FAILED);
    assert_null(ice_lite_selected(&ice));
    assert_false(ice_lite_is_valid_source(&ice, &a));
    assert_true(ice_lite_poll_timeout(&ice) == UINT64_MAX);
    assert_int_equal(ice_lite_handle_timeout(&ice, t0 + 200 * SEC), ICE_EV_NONE);
    assert_int_equal(check_ok(&ice, t0 + 131 * SEC, &a, true, &ev), J_ESTATE);
}

static void test_consent_never_connected(void **state)
{
    (void)state;
    ice_lite ice;
    init_agent(&ice, 0);
    assert_int_equal(ice_lite_handle_timeout(&ice, 30 * SEC - 1), ICE_EV_NONE);
    assert_int_equal(ice_lite_handle_timeout(&ice, 30 * SEC), ICE_EV_TIMEOUT);
    assert_int_equal(ice_lite_state(&ice), ICE_STATE_FAILED);

    /* The window is configurable. */
    init_agent(&ice, 0);
    ice.consent_timeout_us = 5 * SEC;
    assert_true(ice_lite_poll_timeout(&ice) == 5 * SEC);
    assert_int_equal(ice_lite_handle_timeout(&ice, 5 * SEC), ICE_EV_TIMEOUT);
}

/* Once nominated, the selected pair needs consent of its own: when it lapses while
 * another address still consents (Firefox nominates one pair and keeps checking
 * another), the media path moves to that address instead of the peer dying. */
static void test_consent_follows_selected(void **state)
{
    (void)state;
    ice_lite ice;
    init_agent(&ice, 0);
    j_addr a = addr("198.51.100.7", 5000), b = addr("203.0.113.9", 6000);
    ice_event ev;
    assert_true(check_ok(&ice, 1 * SEC, &a, true, &ev) > 0);
    assert_true(check_ok(&ice, 20 * SEC, &b, false, &ev) > 0);
    assert_true(ice_lite_poll_timeout(&ice) == 31 * SEC);
    assert_int_equal(ice_lite_handle_timeout(&ice, 31 * SEC), ICE_EV_SELECTED);
    assert_true(j_addr_equal(ice_lite_selected(&ice), &b));
    assert_false(ice_lite_is_valid_source(&ice, &a));
    assert_true(ice_lite_poll_timeout(&ice) == 50 * SEC);
    assert_int_equal(ice_lite_handle_timeout(&ice, 50 * SEC), ICE_EV_TIMEOUT);

    /* Without nomination any address's checks keep the peer alive, and each
     * address stays valid only within its own window. */
    init_agent(&ice, 0);
    assert_true(check_ok(&ice, 1 * SEC, &a, false, &ev) > 0);
    assert_true(check_ok(&ice, 20 * SEC, &b, false, &ev) > 0);
    assert_true(ice_lite_poll_timeout(&ice) == 31 * SEC);
    assert_int_equal(ice_lite_handle_timeout(&ice, 31 * SEC), ICE_EV_NONE);
    assert_false(ice_lite_is_valid_source(&ice, &a));
    assert_true(ice_lite_is_valid_source(&ice, &b));
    assert_true(ice_lite_poll_timeout(&ice) == 50 * SEC);
    assert_int_equal(ice_lite_handle_timeout(&ice, 50 * SEC), ICE_EV_TIMEOUT);
}

static void test_valid_sources_lru(void **state)
{
    (void)state;
    ice_lite ice;
    init_agent(&ice, 0);
    ice_event ev;
    j_addr addrs[ICE_MAX_SOURCES + 2];
    for (int i = 0; i < ICE_MAX_SOURCES + 2; i++) addrs[i] = addr("192.0.2.1", (uint16_t)(1000 + i));

    /* The first address is nominated: it is never the one replaced. */
    assert_true(check_ok(&ice, 1, &addrs[0], true, &ev) > 0);
    for (int i = 1; i < ICE_MAX_SOURCES; i++)
        assert_true(check_ok(&ice, (uint64_t)(1 + i), &addrs[i], false, &ev) > 0);
    for (int i = 0; i < ICE_MAX_SOURCES; i++) assert_true(ice_lite_is_valid_source(&ice, &addrs[i]));

    /* Refresh addrs[1]; then a ninth address replaces the least recent
     * non-selected one, addrs[2]. */
    assert_true(check_ok(&ice, 100, &addrs[1], false, &ev) > 0);
    assert_true(check_ok(&ice, 101, &addrs[ICE_MAX_SOURCES], false, &ev) > 0);
    assert_true(ice_lite_is_valid_source(&ice, &addrs[0]));
    assert_true(ice_lite_is_valid_source(&ice, &addrs[1]));
    assert_false(ice_lite_is_valid_source(&ice, &addrs[2]));
    assert_true(ice_lite_is_valid_source(&ice, &addrs[3]));
    assert_true(ice_lite_is_valid_source(&ice, &addrs[ICE_MAX_SOURCES]));
    assert_true(check_ok(&ice, 102, &addrs[ICE_MAX_SOURCES + 1], false, &ev) > 0);
    assert_false(ice_lite_is_valid_source(&ice, &addrs[3]));
    assert_true(ice_lite_is_valid_source(&ice, &addrs[0]));

    /* Same IP, other port, is another address. */
    j_addr other = addr("192.0.2.1", 999);
    assert_false(ice_lite_is_valid_source(&ice, &other));
}

static void test_role_conflict(void **state)
{
    (void)state;
    ice_lite ice;
    init_agent(&ice, 0);
    j_addr from = addr("198.51.100.7", 5000);
    uint8_t out[256];
    ice_event ev;
    check_opts o = good_check(true);
    o.controlled = true;
    int n = send_check(&ice, SEC, &from, &o, out, sizeof out, &ev);
    assert_true(n > 0);
    assert_int_equal(ev, ICE_EV_NONE);
    stun_msg m;
    assert_int_equal(stun_parse(&m, out, (size_t)n), J_OK);
    assert_int_equal(m.type, STUN_BINDING_ERROR);
    assert_true(m.has_error);
    assert_int_equal(m.error_code, STUN_ERR_ROLE_CONFLICT);
    assert_int_equal(stun_verify_integrity(&m, out, (size_t)n, (const uint8_t *)local_pwd,
                                           strlen(local_pwd)),
                     J_OK);
    assert_int_equal(stun_verify_fingerprint(&m, out, (size_t)n), J_OK);
    /* The conflicting check neither validates nor nominates. */
    assert_false(ice_lite_is_valid_source(&ice, &from));
    assert_null(ice_lite_selected(&ice));
    assert_int_equal(ice_lite_state(&ice), ICE_STATE_NEW);
}

static void test_unknown_attribute_420(void **state)
{
    (void)state;
    ice_lite ice;
    init_agent(&ice, 0);
    j_addr from = addr("198.51.100.7", 5000);
    uint8_t out[256];
    ice_event ev;
    check_opts o = good_check(true);
    o.extra_attr = 0x0077;
    int n = send_check(&ice, SEC, &from, &o, out, sizeof out, &ev);
    assert_true(n > 0);
    stun_msg m;
    assert_int_equal(stun_parse(&m, out, (size_t)n), J_OK);
    assert_int_equal(m.error_code, STUN_ERR_UNKNOWN_ATTRIBUTE);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(stun_attr_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES, &v, &vl), J_OK);
    assert_int_equal(vl, 2);
    assert_int_equal(v[0] << 8 | v[1], 0x0077);
    assert_false(ice_lite_is_valid_source(&ice, &from));
    /* An unknown comprehension-optional attribute is fine. */
    o.extra_attr = 0xC057;
    n = send_check(&ice, SEC, &from, &o, out, sizeof out, &ev);
    assert_int_equal(stun_parse(&m, out, (size_t)n), J_OK);
    assert_int_equal(m.type, STUN_BINDING_SUCCESS);
    assert_int_equal(ev, ICE_EV_SELECTED);
}

static void test_other_messages_ignored(void **state)
{
    (void)state;
    ice_lite ice;
    init_agent(&ice, 0);
    j_addr from = addr("198.51.100.7", 5000);
    uint8_t out[256];
    ice_event ev;

    check_opts ind = {.type = STUN_BINDING_INDICATION, .fingerprint = true};
    assert_int_equal(send_check(&ice, SEC, &from, &ind, out, sizeof out, &ev), 0);
    check_opts resp = good_check(false);
    resp.type = STUN_BINDING_SUCCESS;
    assert_int_equal(send_check(&ice, SEC, &from, &resp, out, sizeof out, &ev), 0);
    check_opts alloc = good_check(false);
    alloc.type = stun_msg_type(0x003, STUN_CLASS_REQUEST); /* TURN Allocate */
    assert_int_equal(send_check(&ice, SEC, &from, &alloc, out, sizeof out, &ev), 0);
    /* None of them authenticates the address. */
    assert_false(ice_lite_is_valid_source(&ice, &from));
    assert_int_equal(ice_lite_state(&ice), ICE_STATE_NEW);

    static const uint8_t junk[] = {0x80, 0x60, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(ice_lite_handle_stun(&ice, SEC, &from, junk, sizeof junk, out, sizeof out,
                                          &ev),
                     J_ESHORT);
    uint8_t notstun[24] = {0x00, 0x01, 0x00, 0x04, 1, 2, 3, 4};
    assert_int_equal(ice_lite_handle_stun(&ice, SEC, &from, notstun, sizeof notstun, out,
                                          sizeof out, &ev),
                     J_EMALFORMED);
}

static void test_short_output_changes_nothing(void **state)
{
    (void)state;
    ice_lite ice;
    init_agent(&ice, 0);
    j_addr from = addr("198.51.100.7", 5000);
    uint8_t out[40];
    ice_event ev;
    check_opts o = good_check(true);
    assert_int_equal(send_check(&ice, SEC, &from, &o, out, sizeof out, &ev), J_ESHORTBUF);
    assert_int_equal(ev, ICE_EV_NONE);
    assert_false(ice_lite_is_valid_source(&ice, &from));
    assert_null(ice_lite_selected(&ice));
    /* Bad source address. */
    j_addr none;
    memset(&none, 0, sizeof none);
    assert_int_equal(send_check(&ice, SEC, &none, &o, out, sizeof out, &ev), J_EINVAL);
}

static void test_username_local_ufrag(void **state)
{
    (void)state;
    uint8_t buf[128];
    stun_msg m;
    const char *u;
    size_t n;
    check_opts o = good_check(false);
    size_t len = make_check(buf, sizeof buf, &o);
    assert_int_equal(stun_parse(&m, buf, len), J_OK);
    assert_int_equal(ice_lite_username_local_ufrag(&m, &u, &n), J_OK);
    assert_int_equal(n, strlen(local_ufrag));
    assert_memory_equal(u, local_ufrag, n);

    o.username = "nocolon";
    len = make_check(buf, sizeof buf, &o);
    assert_int_equal(stun_parse(&m, buf, len), J_OK);
    assert_int_equal(ice_lite_username_local_ufrag(&m, &u, &n), J_EMALFORMED);
    o.username = ":remote";
    len = make_check(buf, sizeof buf, &o);
    assert_int_equal(stun_parse(&m, buf, len), J_OK);
    assert_int_equal(ice_lite_username_local_ufrag(&m, &u, &n), J_EMALFORMED);
    o.username = NULL;
    len = make_check(buf, sizeof buf, &o);
    assert_int_equal(stun_parse(&m, buf, len), J_OK);
    assert_int_equal(ice_lite_username_local_ufrag(&m, &u, &n), J_ENOTFOUND);
}

static void test_credentials(void **state)
{
    (void)state;
    char ufrag[ICE_UFRAG_LEN + 1], pwd[ICE_PWD_LEN + 1], ufrag2[ICE_UFRAG_LEN + 1],
        pwd2[ICE_PWD_LEN + 1];
    ice_lite_generate_credentials(ufrag, pwd);
    ice_lite_generate_credentials(ufrag2, pwd2);
    assert_int_equal(strlen(ufrag), ICE_UFRAG_LEN);
    assert_int_equal(strlen(pwd), ICE_PWD_LEN);
    assert_string_not_equal(pwd, pwd2);
    ice_lite ice;
    assert_int_equal(ice_lite_init(&ice, ufrag, pwd, "abcd", 0), J_OK);

    assert_int_equal(ice_lite_init(&ice, "abc", local_pwd, NULL, 0), J_EINVAL);  /* ufrag < 4 */
    assert_int_equal(ice_lite_init(&ice, "ab:d", local_pwd, NULL, 0), J_EINVAL); /* not ice-char */
    assert_int_equal(ice_lite_init(&ice, local_ufrag, "tooShortPassword", NULL, 0), J_EINVAL);
    assert_int_equal(ice_lite_init(&ice, local_ufrag, local_pwd, "a b", 0), J_EINVAL);
    assert_int_equal(ice_lite_init(&ice, NULL, local_pwd, NULL, 0), J_EINVAL);
    char longu[ICE_UFRAG_MAX + 2];
    memset(longu, 'a', sizeof longu - 1);
    longu[sizeof longu - 1] = '\0';
    assert_int_equal(ice_lite_init(&ice, longu, local_pwd, NULL, 0), J_EINVAL);
    longu[ICE_UFRAG_MAX] = '\0'; /* exactly the maximum */
    assert_int_equal(ice_lite_init(&ice, longu, local_pwd, longu, 0), J_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_check_gets_signed_response),
        cmocka_unit_test(test_bad_credentials_rejected),
        cmocka_unit_test(test_unknown_remote_ufrag),
        cmocka_unit_test(test_nomination_and_path_change),
        cmocka_unit_test(test_consent_timeout_and_refresh),
        cmocka_unit_test(test_consent_never_connected),
        cmocka_unit_test(test_consent_follows_selected),
        cmocka_unit_test(test_valid_sources_lru),
        cmocka_unit_test(test_role_conflict),
        cmocka_unit_test(test_unknown_attribute_420),
        cmocka_unit_test(test_other_messages_ignored),
        cmocka_unit_test(test_short_output_changes_nothing),
        cmocka_unit_test(test_username_local_ufrag),
        cmocka_unit_test(test_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
