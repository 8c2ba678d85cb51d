/* map_test.c - insert, replace, lookup, remove and growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/map.h"

static void test_put_get_remove(void **state)
{
    (void)state;
    j_map m = {0};
    int values[1000];
    char key[32];
    for (int i = 0; i < 1000; i++) {
        values[i] = i;
        int n = snprintf(key, sizeof key, "key-%d", i);
        assert_int_equal(j_map_put(&m, key, (size_t)n, &values[i]), J_OK);
    }
    assert_int_equal(m.count, 1000);
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        int *v = j_map_get(&m, key, (size_t)n);
        assert_non_null(v);
        assert_int_equal(*v, i);
    }
    assert_null(j_map_get(&m, "key-1000", 8));
    assert_int_equal(j_map_put(&m, "key-5", 5, &values[7]), J_OK); /* replace */
    assert_int_equal(m.count, 1000);
    assert_ptr_equal(j_map_get(&m, "key-5", 5), &values[7]);
    assert_ptr_equal(j_map_remove(&m, "key-5", 5), &values[7]);
    assert_null(j_map_get(&m, "key-5", 5));
    assert_null(j_map_remove(&m, "key-5", 5));
    assert_int_equal(m.count, 999);
    j_map_clear(&m);
    assert_null(j_map_get(&m, "key-1", 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_put_get_remove)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
