/* dtls_test_support.h - one DTLS certificate and context shared by a cmocka group (tests only):
 * pass dtls_group_setup / dtls_group_teardown to cmocka_run_group_tests, use group_dtls. */
#ifndef J_DTLS_TEST_SUPPORT_H
#define J_DTLS_TEST_SUPPORT_H

#include "core/err.h"
#include "dtls/dtls.h"

static dtls_cert *group_cert;
static dtls_ctx *group_dtls;

static int dtls_group_setup(void **state)
{
    (void)state;
    if (dtls_cert_generate(&group_cert) != J_OK) return -1;
    group_dtls = dtls_ctx_new(group_cert);
    return group_dtls ? 0 : -1;
}

static int dtls_group_teardown(void **state)
{
    (void)state;
    dtls_ctx_free(group_dtls);
    dtls_cert_free(group_cert);
    return 0;
}

#endif
