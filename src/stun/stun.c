/* stun.c - STUN message parser, integrity/fingerprint checks and writer (RFC 8489). */
#include "stun/stun.h"

#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "crypto/crypto.h"

#define ATTR_HDR_LEN 4
#define FINGERPRINT_ATTR_LEN (ATTR_HDR_LEN + 4)
#define INTEGRITY_ATTR_LEN (ATTR_HDR_LEN + STUN_INTEGRITY_LEN)
/* RFC 8489 section 14.8: the reason phrase is under 128 characters, which
 * can take up to 763 bytes of UTF-8. */
#define ERROR_REASON_MAX 763

static const uint8_t cookie_bytes[4] = {0x21, 0x12, 0xA4, 0x42};

static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

/*
 * Message type: the method's 12 bits M11..M0 interleaved with the class
 * bits C1 C0 (RFC 8489 section 5):
 *
 *    0                 1
 *    2  3  4 5 6 7 8 9 0 1 2 3 4 5
 *   +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |M |M |M|M|M|C|M|M|M|C|M|M|M|M|
 *   |11|10|9|8|7|1|6|5|4|0|3|2|1|0|
 *   +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
 */
uint16_t stun_msg_type(uint16_t method, stun_class cls)
{
    unsigned m = method & 0x0FFFu, c = (unsigned)cls & 3u;
    return (uint16_t)((m & 0x000Fu) | ((m & 0x0070u) << 1) | ((m & 0x0F80u) << 2) |
                      ((c & 1u) << 4) | ((c & 2u) << 7));
}

static uint16_t type_method(uint16_t t)
{
    return (uint16_t)((t & 0x000Fu) | ((t & 0x00E0u) >> 1) | ((t & 0x3E00u) >> 2));
}

static stun_class type_class(uint16_t t)
{
    return (stun_class)(((t & 0x0010u) >> 4) | ((t & 0x0100u) >> 7));
}

bool stun_is_stun(const uint8_t *buf, size_t len)
{
    return buf && len >= STUN_HEADER_LEN && buf[0] <= 3 && rd_be32(buf + 4) == STUN_MAGIC_COOKIE;
}

/* Walks the attributes of a message whose header is already validated, and
 * applies RFC 8489's ordering rules: after MESSAGE-INTEGRITY only
 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count, after
 * MESSAGE-INTEGRITY-SHA256 only FINGERPRINT, after FINGERPRINT nothing.
 * Ignored attributes are still bounds-checked: the length field covers them. */
typedef enum { PHASE_OPEN, PHASE_AFTER_MI, PHASE_AFTER_MI256, PHASE_AFTER_FP } attr_phase;

typedef struct {
    const uint8_t *buf;
    size_t off;
    size_t end;
    attr_phase phase;
} attr_iter;

typedef struct {
    uint16_t type;
    const uint8_t *val;
    size_t len;
    size_t offset; /* of the attribute header */
} attr_view;

static bool attr_counts(attr_phase phase, uint16_t type)
{
    switch (phase) {
    case PHASE_OPEN: return true;
    case PHASE_AFTER_MI:
        return type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 || type == STUN_ATTR_FINGERPRINT;
    case PHASE_AFTER_MI256: return type == STUN_ATTR_FINGERPRINT;
    case PHASE_AFTER_FP: return false;
    }
    return false;
}

/* 1 with *a filled, 0 at the end, J_EMALFORMED when an attribute overruns. */
static int attr_next(attr_iter *it, attr_view *a)
{
    while (it->off < it->end) {
        size_t left = it->end - it->off;
        if (left < ATTR_HDR_LEN) return J_EMALFORMED;
        const uint8_t *p = it->buf + it->off;
        uint16_t type = rd_be16(p);
        size_t len = rd_be16(p + 2);
        if (pad4(len) > left - ATTR_HDR_LEN) return J_EMALFORMED;
        size_t at = it->off;
        it->off += ATTR_HDR_LEN + pad4(len);
        if (!attr_counts(it->phase, type)) continue;
        if (type == STUN_ATTR_MESSAGE_INTEGRITY && it->phase == PHASE_OPEN)
            it->phase = PHASE_AFTER_MI;
        else if (type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
            it->phase = PHASE_AFTER_MI256;
        else if (type == STUN_ATTR_FINGERPRINT)
            it->phase = PHASE_AFTER_FP;
        a->type = type;
        a->val = p + ATTR_HDR_LEN;
        a->len = len;
        a->offset = at;
        return 1;
    }
    return 0;
}

/*
 * (XOR-)MAPPED-ADDRESS value (RFC 8489 sections 14.1, 14.2):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |0 0 0 0 0 0 0 0|    Family     |         X-Port                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                X-Address (32 bits or 128 bits)                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Family 0x01 = IPv4 (8-byte value), 0x02 = IPv6 (20-byte value). The port
 * is XORed with the cookie's top 16 bits, an IPv4 address with the cookie,
 * an IPv6 address with the cookie followed by the transaction id.
 */
static int decode_xor_address(j_addr *out, const uint8_t *v, size_t len,
                              const uint8_t tid[STUN_TID_LEN])
{
    if (len < 4) return J_EMALFORMED;
    uint16_t port = (uint16_t)(rd_be16(v + 2) ^ (STUN_MAGIC_COOKIE >> 16));
    memset(out, 0, sizeof *out);
    if (v[1] == 0x01) {
        if (len != 8) return J_EMALFORMED;
        uint8_t ip[4];
        for (int i = 0; i < 4; i++) ip[i] = v[4 + i] ^ cookie_bytes[i];
        out->v4.sin_family = AF_INET;
        memcpy(&out->v4.sin_addr, ip, 4);
    } else if (v[1] == 0x02) {
        if (len != 20) return J_EMALFORMED;
        uint8_t ip[16];
        for (int i = 0; i < 4; i++) ip[i] = v[4 + i] ^ cookie_bytes[i];
        for (int i = 0; i < STUN_TID_LEN; i++) ip[4 + i] = v[8 + i] ^ tid[i];
        out->v6.sin6_family = AF_INET6;
        memcpy(&out->v6.sin6_addr, ip, 16);
    } else {
        return J_EMALFORMED;
    }
    j_addr_set_port(out, port);
    return J_OK;
}

/*
 * ERROR-CODE value (RFC 8489 section 14.8):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Reserved, should be 0         |Class|     Number    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |      Reason Phrase (variable)                                ..
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Class 3..6, Number 0..99; the code is Class * 100 + Number.
 */
static int decode_error_code(stun_msg *m, const uint8_t *v, size_t len)
{
    if (len < 4) return J_EMALFORMED;
    unsigned cls = v[2] & 0x07u, number = v[3];
    if (cls < 3 || cls > 6 || number > 99) return J_EMALFORMED;
    m->has_error = true;
    m->error_code = (uint16_t)(cls * 100 + number);
    m->error_reason = v + 4;
    m->error_reason_len = len - 4;
    return J_OK;
}

/* Attributes this codec recognises without decoding them into the view; they
 * do not count as unknown comprehension-required attributes. */
static bool attr_known(uint16_t type)
{
    switch (type) {
    case STUN_ATTR_MAPPED_ADDRESS:
    case STUN_ATTR_UNKNOWN_ATTRIBUTES:
    case STUN_ATTR_REALM:
    case STUN_ATTR_NONCE:
    case STUN_ATTR_PASSWORD_ALGORITHM:
    case STUN_ATTR_USERHASH:
        return true;
    default:
        return false;
    }
}

static int parse_attr(stun_msg *m, const attr_view *a)
{
    switch (a->type) {
    case STUN_ATTR_USERNAME:
        if (!m->has_username) {
            m->has_username = true;
            m->username = a->val;
            m->username_len = a->len;
        }
        return J_OK;
    case STUN_ATTR_MESSAGE_INTEGRITY:
        /* The iterator yields only the first one. */
        if (a->len != STUN_INTEGRITY_LEN) return J_EMALFORMED;
        m->has_integrity = true;
        m->integrity_offset = a->offset;
        return J_OK;
    case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
        /* 16 to 32 bytes, a multiple of 4 (truncated HMAC-SHA256). */
        if (a->len < 16 || a->len > 32 || a->len % 4 != 0) return J_EMALFORMED;
        m->has_integrity_sha256 = true;
        m->integrity_sha256_offset = a->offset;
        return J_OK;
    case STUN_ATTR_FINGERPRINT:
        if (a->len != 4) return J_EMALFORMED;
        m->has_fingerprint = true;
        m->fingerprint_offset = a->offset;
        return J_OK;
    case STUN_ATTR_PRIORITY:
        if (a->len != 4) return J_EMALFORMED;
        if (!m->has_priority) {
            m->has_priority = true;
            m->priority = rd_be32(a->val);
        }
        return J_OK;
    case STUN_ATTR_USE_CANDIDATE:
        if (a->len != 0) return J_EMALFORMED;
        m->use_candidate = true;
        return J_OK;
    case STUN_ATTR_ICE_CONTROLLING:
        if (a->len != 8) return J_EMALFORMED;
        if (!m->has_ice_controlling) {
            m->has_ice_controlling = true;
            m->ice_controlling = rd_be64(a->val);
        }
        return J_OK;
    case STUN_ATTR_ICE_CONTROLLED:
        if (a->len != 8) return J_EMALFORMED;
        if (!m->has_ice_controlled) {
            m->has_ice_controlled = true;
            m->ice_controlled = rd_be64(a->val);
        }
        return J_OK;
    case STUN_ATTR_XOR_MAPPED_ADDRESS:
        if (m->has_xor_mapped) return J_OK;
        if (decode_xor_address(&m->xor_mapped, a->val, a->len, m->tid) != J_OK)
            return J_EMALFORMED;
        m->has_xor_mapped = true;
        return J_OK;
    case STUN_ATTR_ERROR_CODE:
        if (m->has_error) return J_OK;
        return decode_error_code(m, a->val, a->len);
    default:
        if (a->type < 0x8000 && !attr_known(a->type)) {
            if (m->unknown_required_count < STUN_MAX_UNKNOWN)
                m->unknown_required[m->unknown_required_count] = a->type;
            m->unknown_required_count++;
        }
        return J_OK;
    }
}

/*
 * Header (RFC 8489 section 5):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |0 0|     STUN Message Type     |         Message Length        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         Magic Cookie                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                     Transaction ID (96 bits)                  |
 *   |                                                               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Then attributes, each padded to a multiple of 4 bytes (section 14):
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Type                  |            Length             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         Value (variable)                ....
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Length counts the value only, before padding; Message Length counts
 * everything after the 20-byte header.
 */
int stun_parse(stun_msg *m, const uint8_t *buf, size_t len)
{
    memset(m, 0, sizeof *m);
    if (!buf || len < STUN_HEADER_LEN) return J_ESHORT;
    if (buf[0] & 0xC0) return J_EMALFORMED;
    if (rd_be32(buf + 4) != STUN_MAGIC_COOKIE) return J_EMALFORMED;
    size_t body = rd_be16(buf + 2);
    if (body % 4 != 0) return J_EMALFORMED;
    if (body > len - STUN_HEADER_LEN) return J_ESHORT;
    /* One datagram carries one message: trailing bytes mean it is not STUN. */
    if (body != len - STUN_HEADER_LEN) return J_EMALFORMED;

    m->buf = buf;
    m->length = len;
    m->type = rd_be16(buf);
    m->method = type_method(m->type);
    m->cls = type_class(m->type);
    memcpy(m->tid, buf + 8, STUN_TID_LEN);

    attr_iter it = {.buf = buf, .off = STUN_HEADER_LEN, .end = len, .phase = PHASE_OPEN};
    attr_view a;
    int rc;
    while ((rc = attr_next(&it, &a)) == 1) {
        rc = parse_attr(m, &a);
        if (rc != J_OK) break;
    }
    if (rc != 0) {
        memset(m, 0, sizeof *m);
        return J_EMALFORMED;
    }
    return J_OK;
}

int stun_attr_find(const stun_msg *m, uint16_t type, const uint8_t **val, size_t *val_len)
{
    if (!m->buf || m->length < STUN_HEADER_LEN) return J_ENOTFOUND;
    attr_iter it = {.buf = m->buf, .off = STUN_HEADER_LEN, .end = m->length,
                    .phase = PHASE_OPEN};
    attr_view a;
    while (attr_next(&it, &a) == 1) {
        if (a.type == type) {
            *val = a.val;
            *val_len = a.len;
            return J_OK;
        }
    }
    return J_ENOTFOUND;
}

/* Copies buf[0..covered) into scratch with the length field set to
 * covered - 20 + attr_len, as if the attribute being checked (attr_len bytes
 * with its header) were the last one: both MESSAGE-INTEGRITY and FINGERPRINT
 * are computed over that view (RFC 8489 sections 14.5 and 14.7). */
static const uint8_t *adjusted_copy(uint8_t *scratch, const uint8_t *buf, size_t covered,
                                    size_t attr_len)
{
    size_t body = covered - STUN_HEADER_LEN + attr_len;
    /* Most messages end with the attribute being checked: no copy needed. */
    if (rd_be16(buf + 2) == body) return buf;
    memcpy(scratch, buf, covered);
    wr_be16(scratch + 2, (uint16_t)body);
    return scratch;
}

int stun_verify_integrity(const stun_msg *m, const uint8_t *buf, size_t len, const uint8_t *key,
                          size_t key_len)
{
    if (!m->has_integrity || !buf) return J_EAUTH;
    size_t at = m->integrity_offset;
    if (at < STUN_HEADER_LEN || at > len || len - at < INTEGRITY_ATTR_LEN) return J_EAUTH;
    if (at > STUN_MAX_VERIFY_LEN) return J_ELIMIT;

    uint8_t scratch[STUN_MAX_VERIFY_LEN];
    const uint8_t *data = adjusted_copy(scratch, buf, at, INTEGRITY_ATTR_LEN);
    static const uint8_t empty_key[1] = {0};
    uint8_t mac[J_SHA1_LEN];
    if (j_hmac_sha1(key_len ? key : empty_key, key_len, data, at, mac) != J_OK)
        return J_ECRYPTO;
    return j_ct_equal(mac, buf + at + ATTR_HDR_LEN, J_SHA1_LEN) ? J_OK : J_EAUTH;
}

int stun_verify_fingerprint(const stun_msg *m, const uint8_t *buf, size_t len)
{
    if (!m->has_fingerprint || !buf) return J_EAUTH;
    size_t at = m->fingerprint_offset;
    if (at < STUN_HEADER_LEN || at > len || len - at < FINGERPRINT_ATTR_LEN) return J_EAUTH;
    if (at > STUN_MAX_VERIFY_LEN) return J_ELIMIT;

    uint8_t scratch[STUN_MAX_VERIFY_LEN];
    const uint8_t *data = adjusted_copy(scratch, buf, at, FINGERPRINT_ATTR_LEN);
    uint32_t want = j_crc32(data, at) ^ STUN_FINGERPRINT_XOR;
    return rd_be32(buf + at + ATTR_HDR_LEN) == want ? J_OK : J_EAUTH;
}

/* ---- writer ---- */

static int writer_fail(stun_writer *w, int err)
{
    if (w->err == J_OK) w->err = err;
    return w->err;
}

int stun_writer_init(stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
                     const uint8_t tid[STUN_TID_LEN])
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = J_OK;
    if (!buf || !tid || (type & 0xC000u)) return writer_fail(w, J_EINVAL);
    if (cap < STUN_HEADER_LEN) return writer_fail(w, J_ESHORTBUF);
    wr_be16(buf, type);
    wr_be16(buf + 2, 0);
    wr_be32(buf + 4, STUN_MAGIC_COOKIE);
    memcpy(buf + 8, tid, STUN_TID_LEN);
    w->len = STUN_HEADER_LEN;
    return J_OK;
}

/* Reserves room for an attribute with a value of len bytes, writes its header
 * and zeroes its padding; returns the value pointer or NULL (error recorded). */
static uint8_t *writer_reserve(stun_writer *w, uint16_t type, size_t len)
{
    if (w->err != J_OK) return NULL;
    if (len > 0xFFFFu) {
        writer_fail(w, J_EINVAL);
        return NULL;
    }
    size_t need = ATTR_HDR_LEN + pad4(len);
    if (w->len - STUN_HEADER_LEN + need > 0xFFFFu) {
        writer_fail(w, J_ELIMIT); /* the 16-bit message length would overflow */
        return NULL;
    }
    if (need > w->cap - w->len) {
        writer_fail(w, J_ESHORTBUF);
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    wr_be16(p, type);
    wr_be16(p + 2, (uint16_t)len);
    memset(p + ATTR_HDR_LEN + len, 0, pad4(len) - len);
    w->len += need;
    return p + ATTR_HDR_LEN;
}

int stun_writer_add(stun_writer *w, uint16_t type, const void *val, size_t len)
{
    if (len && !val) return writer_fail(w, J_EINVAL);
    uint8_t *p = writer_reserve(w, type, len);
    if (!p) return w->err;
    if (len) memcpy(p, val, len);
    return J_OK;
}

int stun_writer_add_username(stun_writer *w, const char *username, size_t len)
{
    return stun_writer_add(w, STUN_ATTR_USERNAME, username, len);
}

int stun_writer_add_priority(stun_writer *w, uint32_t priority)
{
    uint8_t v[4];
    wr_be32(v, priority);
    return stun_writer_add(w, STUN_ATTR_PRIORITY, v, sizeof v);
}

int stun_writer_add_use_candidate(stun_writer *w)
{
    return stun_writer_add(w, STUN_ATTR_USE_CANDIDATE, NULL, 0);
}

int stun_writer_add_ice_controlling(stun_writer *w, uint64_t tiebreaker)
{
    uint8_t v[8];
    wr_be64(v, tiebreaker);
    return stun_writer_add(w, STUN_ATTR_ICE_CONTROLLING, v, sizeof v);
}

int stun_writer_add_ice_controlled(stun_writer *w, uint64_t tiebreaker)
{
    uint8_t v[8];
    wr_be64(v, tiebreaker);
    return stun_writer_add(w, STUN_ATTR_ICE_CONTROLLED, v, sizeof v);
}

int stun_writer_add_xor_address(stun_writer *w, uint16_t type, const j_addr *addr)
{
    if (w->err != J_OK) return w->err;
    if (!addr) return writer_fail(w, J_EINVAL);
    uint8_t v[20];
    size_t len;
    v[0] = 0;
    wr_be16(v + 2, (uint16_t)(j_addr_port(addr) ^ (STUN_MAGIC_COOKIE >> 16)));
    if (addr->sa.sa_family == AF_INET) {
        const uint8_t *ip = (const uint8_t *)&addr->v4.sin_addr;
        v[1] = 0x01;
        for (int i = 0; i < 4; i++) v[4 + i] = ip[i] ^ cookie_bytes[i];
        len = 8;
    } else if (addr->sa.sa_family == AF_INET6) {
        const uint8_t *ip = (const uint8_t *)&addr->v6.sin6_addr;
        const uint8_t *tid = w->buf + 8;
        v[1] = 0x02;
        for (int i = 0; i < 4; i++) v[4 + i] = ip[i] ^ cookie_bytes[i];
        for (int i = 0; i < STUN_TID_LEN; i++) v[8 + i] = ip[4 + i] ^ tid[i];
        len = 20;
    } else {
        return writer_fail(w, J_EINVAL);
    }
    return stun_writer_add(w, type, v, len);
}

int stun_writer_add_xor_mapped_address(stun_writer *w, const j_addr *addr)
{
    return stun_writer_add_xor_address(w, STUN_ATTR_XOR_MAPPED_ADDRESS, addr);
}

int stun_writer_add_error_code(stun_writer *w, int code, const char *reason)
{
    if (w->err != J_OK) return w->err;
    size_t rlen = reason ? strlen(reason) : 0;
    if (code < 300 || code > 699 || rlen > ERROR_REASON_MAX) return writer_fail(w, J_EINVAL);
    uint8_t *p = writer_reserve(w, STUN_ATTR_ERROR_CODE, 4 + rlen);
    if (!p) return w->err;
    p[0] = 0;
    p[1] = 0;
    p[2] = (uint8_t)(code / 100);
    p[3] = (uint8_t)(code % 100);
    if (rlen) memcpy(p + 4, reason, rlen);
    return J_OK;
}

int stun_writer_add_unknown_attributes(stun_writer *w, const uint16_t *types, size_t n)
{
    if (w->err != J_OK) return w->err;
    if (n && !types) return writer_fail(w, J_EINVAL);
    if (n > 0xFFFFu / 2) return writer_fail(w, J_EINVAL);
    uint8_t *p = writer_reserve(w, STUN_ATTR_UNKNOWN_ATTRIBUTES, n * 2);
    if (!p) return w->err;
    for (size_t i = 0; i < n; i++) wr_be16(p + 2 * i, types[i]);
    return J_OK;
}

int stun_writer_finish(stun_writer *w, const uint8_t *integrity_key, size_t key_len,
                       bool with_fingerprint)
{
    if (w->err != J_OK) return w->err;
    size_t extra = (integrity_key ? INTEGRITY_ATTR_LEN : 0) +
                   (with_fingerprint ? FINGERPRINT_ATTR_LEN : 0);
    if (w->len - STUN_HEADER_LEN + extra > 0xFFFFu) return writer_fail(w, J_ELIMIT);
    if (extra > w->cap - w->len) return writer_fail(w, J_ESHORTBUF);

    if (integrity_key) {
        /* The HMAC covers the header with a length that already counts the
         * MESSAGE-INTEGRITY attribute, then every attribute before it. */
        wr_be16(w->buf + 2, (uint16_t)(w->len - STUN_HEADER_LEN + INTEGRITY_ATTR_LEN));
        uint8_t *p = w->buf + w->len;
        static const uint8_t empty_key[1] = {0};
        if (j_hmac_sha1(key_len ? integrity_key : empty_key, key_len, w->buf, w->len,
                        p + ATTR_HDR_LEN) != J_OK)
            return writer_fail(w, J_ECRYPTO);
        wr_be16(p, STUN_ATTR_MESSAGE_INTEGRITY);
        wr_be16(p + 2, STUN_INTEGRITY_LEN);
        w->len += INTEGRITY_ATTR_LEN;
    }
    if (with_fingerprint) {
        wr_be16(w->buf + 2, (uint16_t)(w->len - STUN_HEADER_LEN + FINGERPRINT_ATTR_LEN));
        uint8_t *p = w->buf + w->len;
        uint32_t crc = j_crc32(w->buf, w->len) ^ STUN_FINGERPRINT_XOR;
        wr_be16(p, STUN_ATTR_FINGERPRINT);
        wr_be16(p + 2, 4);
        wr_be32(p + ATTR_HDR_LEN, crc);
        w->len += FINGERPRINT_ATTR_LEN;
    }
    wr_be16(w->buf + 2, (uint16_t)(w->len - STUN_HEADER_LEN));
    int total = (int)w->len;
    /* A finished message is sealed: attributes added now would follow
     * MESSAGE-INTEGRITY/FINGERPRINT and be ignored by every receiver. */
    w->err = J_ESTATE;
    return total;
}
