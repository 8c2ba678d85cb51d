/* fuzz_stun.c - STUN parser, integrity and fingerprint checks on arbitrary input.
 *
 * Every successfully parsed message is also checked for internal
 * consistency (offsets inside the message) and re-encoded through the
 * writer, so a view that points outside its buffer shows up under ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "stun/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The short-term password of the RFC 5769 vectors, so seeds from the RFC
     * reach the success path of the integrity check. */
    static const uint8_t key[] = "VOkJxbRl1RmTxUk/WvJxBt";

    (void)stun_is_stun(data, size);
    stun_msg m;
    if (stun_parse(&m, data, size) != J_OK) return 0;

    if (m.length != size || m.buf != data) abort();
    if (m.has_integrity && m.integrity_offset + 24 > size) abort();
    if (m.has_fingerprint && m.fingerprint_offset + 8 > size) abort();
    if (m.has_username && m.username + m.username_len > data + size) abort();
    if (m.has_error && m.error_reason + m.error_reason_len > data + size) abort();

    (void)stun_verify_integrity(&m, data, size, key, sizeof key - 1);
    (void)stun_verify_fingerprint(&m, data, size);

    const uint8_t *val;
    size_t val_len;
    if (stun_attr_find(&m, STUN_ATTR_SOFTWARE, &val, &val_len) == J_OK &&
        val + val_len > data + size)
        abort();

    /* Re-encode what was understood and parse the result again. */
    uint8_t out[2048];
    stun_writer w;
    stun_writer_init(&w, out, sizeof out, m.type, m.tid);
    if (m.has_username) stun_writer_add_username(&w, (const char *)m.username, m.username_len);
    if (m.has_priority) stun_writer_add_priority(&w, m.priority);
    if (m.use_candidate) stun_writer_add_use_candidate(&w);
    if (m.has_ice_controlling) stun_writer_add_ice_controlling(&w, m.ice_controlling);
    if (m.has_ice_controlled) stun_writer_add_ice_controlled(&w, m.ice_controlled);
    if (m.has_xor_mapped) stun_writer_add_xor_mapped_address(&w, &m.xor_mapped);
    if (m.has_error) stun_writer_add_error_code(&w, m.error_code, NULL);
    int n = stun_writer_finish(&w, key, sizeof key - 1, true);
    if (n > 0) {
        stun_msg again;
        if (stun_parse(&again, out, (size_t)n) != J_OK) abort();
        if (stun_verify_integrity(&again, out, (size_t)n, key, sizeof key - 1) != J_OK) abort();
        if (stun_verify_fingerprint(&again, out, (size_t)n) != J_OK) abort();
        if (again.type != m.type || again.priority != m.priority ||
            again.username_len != m.username_len || again.error_code != m.error_code ||
            (m.has_xor_mapped && !j_addr_equal(&again.xor_mapped, &m.xor_mapped)))
            abort();
    }
    return 0;
}
