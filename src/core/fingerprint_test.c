/* fingerprint_test.c - j_fingerprint_parse: digests decoded in either case, each hash's
 * length, and the malformed and unsupported values with their reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/fingerprint.h"

static int parse(const char *alg, const char *value, j_fingerprint *out, char *why, size_t cap)
{
    return j_fingerprint_parse(alg, strlen(alg), value, strlen(value), out, why, cap);
}

static void test_decodes_each_hash(void **state)
{
    (void)state;
    static const struct {
        const char *alg;
        j_fp_hash hash;
        size_t len;
    } hashes[] = {
        {"sha-1", J_FP_SHA1, 20},
        {"SHA-256", J_FP_SHA256, 32},
        {"sha-384", J_FP_SHA384, 48},
        {"Sha-512", J_FP_SHA512, 64},
    };
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
        char value[J_FP_MAX_DIGEST * 3];
        size_t n = 0;
        for (size_t b = 0; b < hashes[i].len; b++) /* 00:0b:16:..., lower and upper case */
            n += (size_t)snprintf(value + n, sizeof value - n, b % 2 ? "%s%02x" : "%s%02X",
                                  b ? ":" : "", (unsigned)(b * 11 % 256));
        j_fingerprint fp;
        char why[96];
        assert_int_equal(parse(hashes[i].alg, value, &fp, why, sizeof why), J_OK);
        assert_int_equal(fp.hash, hashes[i].hash);
        assert_int_equal(fp.len, hashes[i].len);
        for (size_t b = 0; b < fp.len; b++) assert_int_equal(fp.digest[b], b * 11 % 256);
    }
}

static void test_refuses_with_reason(void **state)
{
    (void)state;
    static const struct {
        const char *alg, *value;
        int code;
        const char *why;
    } cases[] = {
        {"sha-256", "AA:BB", J_EMALFORMED, "sha-256 needs 32 bytes, got 2"},
        {"sha-1", "", J_EMALFORMED, "byte 1 is not two hex digits"},
        {"sha-1", "A", J_EMALFORMED, "byte 1 is not two hex digits"},
        {"sha-1", "AA:", J_EMALFORMED, "byte 2 is not two hex digits"},
        {"sha-1", "AA::BB", J_EMALFORMED, "byte 2 is not two hex digits"},
        {"sha-1", "AAB:CC", J_EMALFORMED, "byte 1 is not followed by ':'"},
        {"sha-1", "AA-BB", J_EMALFORMED, "byte 1 is not followed by ':'"},
        {"sha-1", "AA:G0", J_EMALFORMED, "byte 2 is not two hex digits"},
        {"md5", "AA:BB", J_EUNSUPPORTED, "hash function 'md5' is not supported (sha-1, sha-256"},
        {"md5", "AA:BX", J_EMALFORMED, "byte 2 is not two hex digits"},
        {"sha-2566", "AA", J_EUNSUPPORTED, "'sha-2566' is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        j_fingerprint fp;
        char why[96];
        int rc = parse(cases[i].alg, cases[i].value, &fp, why, sizeof why);
        if (rc != cases[i].code || !strstr(why, cases[i].why))
            fail_msg("%s %s: got %d '%s', want %d '%s'", cases[i].alg, cases[i].value, rc, why,
                     cases[i].code, cases[i].why);
    }
    /* No room for a reason is fine. */
    j_fingerprint fp;
    assert_int_equal(parse("sha-256", "AA:BB", &fp, NULL, 0), J_EMALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes_each_hash),
        cmocka_unit_test(test_refuses_with_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
