/* fuzz_dtls.c - the server-side DTLS input path.
 *
 * Input: datagrams as [u16 big-endian length][bytes]... (a trailing partial length takes
 * the rest). Each is fed to a fresh server conn; its output, events and application data
 * are drained after each, as the caller would.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/bytes.h"
#include "dtls/dtls.h"

static dtls_ctx *g_ctx;

static void setup_once(void)
{
    if (g_ctx) return;
    dtls_cert *cert;
    if (dtls_cert_generate(&cert) != 0) abort();
    g_ctx = dtls_ctx_new(cert);
    dtls_cert_free(cert);
    if (!g_ctx) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    dtls_conn *c = dtls_conn_new(g_ctx, DTLS_ROLE_SERVER,
                                 "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                                 "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
    if (!c) abort();
    uint64_t now = 1000000;
    static uint8_t out[DTLS_MTU];
    while (size > 0) {
        size_t n = size;
        if (size >= 2) {
            n = rd_be16(data);
            data += 2;
            size -= 2;
            if (n > size) n = size;
        }
        (void)dtls_conn_handle_input(c, now, data, n);
        data += n;
        size -= n;
        now += 1000;
        (void)dtls_conn_handle_timeout(c, now);
        (void)dtls_conn_poll_timeout(c, now);
        while (dtls_conn_poll_transmit(c, out, sizeof out) > 0) {}
        while (dtls_conn_poll_event(c, NULL) != DTLS_EV_NONE) {}
        while (dtls_conn_poll_app(c, out, sizeof out) > 0) {}
    }
    dtls_conn_free(c);
    return 0;
}
