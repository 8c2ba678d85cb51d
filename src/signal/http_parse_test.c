/* http_parse_test.c - Content-Length, Bearer, media type and path segments: tables of
 * accepted and refused values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/err.h"
#include "signal/http.h"

static void test_content_length(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        uint64_t v;
    } cases[] = {
        {"0", J_OK, 0},
        {"1234", J_OK, 1234},
        {"007", J_OK, 7},
        {"18446744073709551615", J_OK, UINT64_MAX},
        {"18446744073709551616", J_ELIMIT, 0},
        {"99999999999999999999999", J_ELIMIT, 0},
        {"", J_EMALFORMED, 0},
        {"-1", J_EMALFORMED, 0},
        {"+1", J_EMALFORMED, 0},
        {" 1", J_EMALFORMED, 0},
        {"1 ", J_EMALFORMED, 0},
        {"12x", J_EMALFORMED, 0},
        {"5, 5", J_EMALFORMED, 0},
        {"0x10", J_EMALFORMED, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = 42;
        assert_int_equal(http_parse_content_length(cases[i].in, strlen(cases[i].in), &v),
                         cases[i].rc);
        assert_true(v == cases[i].v);
    }
    /* Only len bytes are read: a digit string inside a longer buffer. */
    uint64_t v;
    assert_int_equal(http_parse_content_length("12345", 2, &v), J_OK);
    assert_true(v == 12);
}

static void test_bearer(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        const char *token;
    } cases[] = {
        {"Bearer abc", J_OK, "abc"},
        {"bearer abc", J_OK, "abc"},
        {"BEARER  abc  ", J_OK, "abc"},
        {"Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig-_~+/", J_OK, "eyJhbGciOiJIUzI1NiJ9.e30.sig-_~+/"},
        {"Bearer YWJj==", J_OK, "YWJj=="},
        {"", J_ENOTFOUND, NULL},
        {"   ", J_ENOTFOUND, NULL},
        {"Bearer", J_EMALFORMED, NULL},
        {"Bearer ", J_EMALFORMED, NULL},
        {"Bearerabc", J_EMALFORMED, NULL},
        {"Basic YWJjOmRlZg==", J_EMALFORMED, NULL},
        {"Bearer a b", J_EMALFORMED, NULL},
        {"Bearer =abc", J_EMALFORMED, NULL},
        {"Bearer ab=c", J_EMALFORMED, NULL},
        {"Bearer a\tb", J_EMALFORMED, NULL},
        {"Bearer a,b", J_EMALFORMED, NULL},
        {"Bearer \"abc\"", J_EMALFORMED, NULL},
        {"Bearer\tabc", J_EMALFORMED, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *tok = (const char *)1;
        size_t len = 99;
        int rc = http_parse_bearer(cases[i].in, strlen(cases[i].in), &tok, &len);
        assert_int_equal(rc, cases[i].rc);
        if (rc == J_OK) {
            assert_int_equal(len, strlen(cases[i].token));
            assert_memory_equal(tok, cases[i].token, len);
        } else {
            assert_null(tok);
            assert_int_equal(len, 0);
        }
    }
    /* A NUL inside the value is not a token character. */
    const char *tok;
    size_t len;
    assert_int_equal(http_parse_bearer("Bearer ab\0cd", 12, &tok, &len), J_EMALFORMED);
}

static void test_media_type(void **state)
{
    (void)state;
    const char *yes[] = {"application/sdp", "Application/SDP", "application/sdp;charset=utf-8",
                         "application/sdp ; x=y", "application/sdp\t"};
    const char *no[] = {"", "application/sd", "application/sdpx", "application/sdp+json",
                        "text/plain", " application/sdp", "application/sdp,text/plain"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(http_media_type_is(yes[i], "application/sdp"));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(http_media_type_is(no[i], "application/sdp"));
}

static void test_path_split(void **state)
{
    (void)state;
    http_segment seg[2];
    assert_int_equal(http_path_split("/whip/", "/whip/", seg, 2), 0);
    assert_int_equal(http_path_split("/whip/cam-1", "/whip/", seg, 2), 1);
    assert_int_equal(seg[0].len, 5);
    assert_memory_equal(seg[0].p, "cam-1", 5);
    assert_int_equal(http_path_split("/whip/cam_1.a/AbC123", "/whip/", seg, 2), 2);
    assert_int_equal(seg[1].len, 6);
    assert_memory_equal(seg[1].p, "AbC123", 6);
    assert_int_equal(http_path_split("/whip/..a/b", "/whip/", seg, 2), 2); /* "..a" is a name */

    static const struct {
        const char *path;
        int rc;
    } bad[] = {
        {"/whep/x", J_EMALFORMED},      {"/whip", J_EMALFORMED},
        {"/whip/a/", J_EMALFORMED},     {"/whip//a", J_EMALFORMED},
        {"/whip/a//b", J_EMALFORMED},   {"/whip/.", J_EMALFORMED},
        {"/whip/..", J_EMALFORMED},     {"/whip/a/..", J_EMALFORMED},
        {"/whip/a b", J_EMALFORMED},    {"/whip/a%2fb", J_EMALFORMED},
        {"/whip/\xc3\xa9", J_EMALFORMED}, {"/whip/a/b/c", J_ELIMIT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(http_path_split(bad[i].path, "/whip/", seg, 2), bad[i].rc);
}

static void test_ip_and_forwarded_for(void **state)
{
    (void)state;
    char out[64];
    static const struct {
        const char *in, *canon;
    } ips[] = {
        {"192.0.2.1", "192.0.2.1"},
        {"::ffff:192.0.2.1", "192.0.2.1"},
        {"2001:DB8:0:0::1", "2001:db8::1"},
        {"::1", "::1"},
    };
    for (size_t i = 0; i < sizeof ips / sizeof ips[0]; i++) {
        assert_int_equal(http_ip_canonical(ips[i].in, strlen(ips[i].in), out, sizeof out), J_OK);
        assert_string_equal(out, ips[i].canon);
    }
    const char *not_ips[] = {"", "1.2.3", "1.2.3.4:80", "[::1]", "example.com", " 1.2.3.4",
                             "1.2.3.4 ", "01.2.3.4", "unknown"};
    for (size_t i = 0; i < sizeof not_ips / sizeof not_ips[0]; i++)
        assert_int_equal(http_ip_canonical(not_ips[i], strlen(not_ips[i]), out, sizeof out),
                         J_EMALFORMED);
    char tiny[4];
    assert_int_equal(http_ip_canonical("192.0.2.1", 9, tiny, sizeof tiny), J_ESHORTBUF);
    /* Only len bytes count. */
    assert_int_equal(http_ip_canonical("10.0.0.1junk", 8, out, sizeof out), J_OK);
    assert_string_equal(out, "10.0.0.1");

    /* The proxy's own entry is the last; what the client sent before it is ignored. */
    assert_int_equal(http_forwarded_for_last("203.0.113.9", out, sizeof out), J_OK);
    assert_string_equal(out, "203.0.113.9");
    assert_int_equal(http_forwarded_for_last("1.1.1.1, 10.0.0.1,  2001:db8::7 ", out, sizeof out),
                     J_OK);
    assert_string_equal(out, "2001:db8::7");
    const char *bad[] = {"", "1.1.1.1,", "1.1.1.1, unknown", "1.1.1.1, 2.2.2.2:443", ","};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(http_forwarded_for_last(bad[i], out, sizeof out), J_EMALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_media_type),
        cmocka_unit_test(test_path_split),
        cmocka_unit_test(test_ip_and_forwarded_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
