/* stun.h - STUN message codec (RFC 8489) for ICE connectivity checks.
 *
 * The parser fills a caller-owned view (stun_msg) that points into the
 * caller's buffer; it never allocates. The writer builds a message in a
 * caller buffer with a fixed capacity and appends MESSAGE-INTEGRITY and
 * FINGERPRINT when finished. Only what ICE needs is decoded into fields;
 * any other attribute can be read with stun_attr_find().
 */
#ifndef J_STUN_STUN_H
#define J_STUN_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

#define STUN_HEADER_LEN 20
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_TID_LEN 12
/* FINGERPRINT = CRC-32(message) XOR this ("STUN" in ASCII). */
#define STUN_FINGERPRINT_XOR 0x5354554eu
#define STUN_INTEGRITY_LEN 20        /* MESSAGE-INTEGRITY value: HMAC-SHA1 */
/* Longest prefix over which MESSAGE-INTEGRITY or FINGERPRINT is checked. The
 * check may need a stack copy with an adjusted length field; ICE messages
 * over UDP stay within the path MTU, far below this. */
#define STUN_MAX_VERIFY_LEN 4096
/* How many unknown comprehension-required attribute types a view records
 * (enough for a 420 UNKNOWN-ATTRIBUTES answer; the count keeps going). */
#define STUN_MAX_UNKNOWN 8

/* Message classes (the two C bits of the message type). */
typedef enum {
    STUN_CLASS_REQUEST = 0,
    STUN_CLASS_INDICATION = 1,
    STUN_CLASS_SUCCESS = 2,
    STUN_CLASS_ERROR = 3,
} stun_class;

#define STUN_METHOD_BINDING 0x001

/* Full message types (method and class combined as on the wire). */
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_INDICATION 0x0011
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_BINDING_ERROR 0x0111

/* Attribute types. Below 0x8000 are comprehension-required. */
#define STUN_ATTR_MAPPED_ADDRESS 0x0001
#define STUN_ATTR_USERNAME 0x0006
#define STUN_ATTR_MESSAGE_INTEGRITY 0x0008
#define STUN_ATTR_ERROR_CODE 0x0009
#define STUN_ATTR_UNKNOWN_ATTRIBUTES 0x000A
#define STUN_ATTR_REALM 0x0014
#define STUN_ATTR_NONCE 0x0015
#define STUN_ATTR_MESSAGE_INTEGRITY_SHA256 0x001C
#define STUN_ATTR_PASSWORD_ALGORITHM 0x001D
#define STUN_ATTR_USERHASH 0x001E
#define STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define STUN_ATTR_PRIORITY 0x0024
#define STUN_ATTR_USE_CANDIDATE 0x0025
#define STUN_ATTR_PASSWORD_ALGORITHMS 0x8002
#define STUN_ATTR_ALTERNATE_DOMAIN 0x8003
#define STUN_ATTR_SOFTWARE 0x8022
#define STUN_ATTR_ALTERNATE_SERVER 0x8023
#define STUN_ATTR_FINGERPRINT 0x8028
#define STUN_ATTR_ICE_CONTROLLED 0x8029
#define STUN_ATTR_ICE_CONTROLLING 0x802A

/* Error codes used by ICE (RFC 8489 section 14.8, RFC 8445 section 7.3.1.1). */
#define STUN_ERR_BAD_REQUEST 400
#define STUN_ERR_UNAUTHORIZED 401
#define STUN_ERR_UNKNOWN_ATTRIBUTE 420
#define STUN_ERR_ROLE_CONFLICT 487
#define STUN_ERR_SERVER_ERROR 500

/* A parsed message: a view into the buffer given to stun_parse(), valid as
 * long as that buffer is. Only the first occurrence of each attribute is
 * recorded (RFC 8489 section 14). The has_* flags say which fields are set. */
typedef struct stun_msg {
    const uint8_t *buf; /* the message (buf[0..length)) */
    size_t length;      /* whole message: header + attributes */
    uint16_t type;      /* raw message type */
    uint16_t method;    /* 12-bit method, e.g. STUN_METHOD_BINDING */
    stun_class cls;
    uint8_t tid[STUN_TID_LEN];

    const uint8_t *username; /* not NUL-terminated */
    size_t username_len;
    bool has_username;

    bool has_priority;
    uint32_t priority;
    bool use_candidate;
    bool has_ice_controlling;
    uint64_t ice_controlling; /* tiebreaker */
    bool has_ice_controlled;
    uint64_t ice_controlled; /* tiebreaker */

    bool has_xor_mapped;
    j_addr xor_mapped; /* AF_INET or AF_INET6, decoded (un-XORed) */

    bool has_error;
    uint16_t error_code;      /* 300..699 */
    const uint8_t *error_reason; /* UTF-8, not NUL-terminated */
    size_t error_reason_len;

    bool has_integrity;
    size_t integrity_offset; /* offset of the MESSAGE-INTEGRITY attribute header */
    bool has_integrity_sha256;
    size_t integrity_sha256_offset;
    bool has_fingerprint;
    size_t fingerprint_offset; /* offset of the FINGERPRINT attribute header */

    /* Comprehension-required attributes this codec does not know. A server
     * answers a request carrying any with 420 and UNKNOWN-ATTRIBUTES. */
    unsigned unknown_required_count;
    uint16_t unknown_required[STUN_MAX_UNKNOWN]; /* the first few, in order */
} stun_msg;

/* stun_msg_type - the wire message type for method and class. */
uint16_t stun_msg_type(uint16_t method, stun_class cls);

/* stun_is_stun - quick demultiplexing test (RFC 7983): at least a header,
 * first byte 0..3 and the magic cookie. Says nothing about validity. */
bool stun_is_stun(const uint8_t *buf, size_t len);

/* stun_parse - validate a whole STUN message and fill *m.
 *
 * buf must hold exactly one message: the header's length field must equal
 * len - 20 and be a multiple of 4; every attribute must fit inside it.
 * Attributes after MESSAGE-INTEGRITY are ignored except
 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT; after MESSAGE-INTEGRITY-SHA256
 * only FINGERPRINT counts; nothing counts after FINGERPRINT. Unknown
 * attributes are skipped (comprehension-required ones counted in *m).
 * Returns J_OK, J_ESHORT (shorter than the header or the declared length)
 * or J_EMALFORMED (bad leading bits, cookie, length or a known attribute
 * with an impossible value). *m is only meaningful on J_OK. */
int stun_parse(stun_msg *m, const uint8_t *buf, size_t len);

/* stun_attr_find - the value of the first attribute of the given type that
 * the parser did not ignore, in the message *m (parsed with J_OK) views.
 * Returns J_OK with *val and *val_len set, or J_ENOTFOUND. */
int stun_attr_find(const stun_msg *m, uint16_t type, const uint8_t **val, size_t *val_len);

/* stun_verify_integrity - check MESSAGE-INTEGRITY (HMAC-SHA1) under key.
 *
 * key is the short-term password (ICE) or the long-term MD5 key. The HMAC
 * covers the message up to the attribute with the length field set as if
 * MESSAGE-INTEGRITY were the last attribute; the comparison is constant-time.
 * buf/len must be the ones given to stun_parse(). Returns J_OK, J_EAUTH
 * (absent or mismatch), J_ELIMIT (message over STUN_MAX_VERIFY_LEN) or
 * J_ECRYPTO. */
int stun_verify_integrity(const stun_msg *m, const uint8_t *buf, size_t len, const uint8_t *key,
                          size_t key_len);

/* stun_verify_fingerprint - check FINGERPRINT (CRC-32 XOR 0x5354554e) over
 * the message up to the attribute. Returns J_OK, J_EAUTH (absent or
 * mismatch) or J_ELIMIT (message over STUN_MAX_VERIFY_LEN). */
int stun_verify_fingerprint(const stun_msg *m, const uint8_t *buf, size_t len);

/* A message under construction in a caller buffer. Errors are sticky: once
 * an add fails, later adds and stun_writer_finish() return the same error,
 * so a caller may check only the final result. */
typedef struct stun_writer {
    uint8_t *buf;
    size_t cap;
    size_t len; /* bytes written so far, header included */
    int err;    /* first error, or J_OK */
} stun_writer;

/* stun_writer_init - start a message of the given type (e.g.
 * STUN_BINDING_SUCCESS) with transaction id tid. Returns J_OK, J_EINVAL
 * (type uses the two top bits) or J_ESHORTBUF (cap < 20). */
int stun_writer_init(stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
                     const uint8_t tid[STUN_TID_LEN]);

/* stun_writer_add - append any attribute; the value is zero-padded to 4
 * bytes. Returns J_OK, J_EINVAL (value over 65535 bytes) or J_ESHORTBUF. */
int stun_writer_add(stun_writer *w, uint16_t type, const void *val, size_t len);
int stun_writer_add_username(stun_writer *w, const char *username, size_t len);
int stun_writer_add_priority(stun_writer *w, uint32_t priority);
int stun_writer_add_use_candidate(stun_writer *w);
int stun_writer_add_ice_controlling(stun_writer *w, uint64_t tiebreaker);
int stun_writer_add_ice_controlled(stun_writer *w, uint64_t tiebreaker);
/* stun_writer_add_xor_address - an XOR-encoded address attribute of the given
 * type (STUN_ATTR_XOR_MAPPED_ADDRESS or e.g. a TURN XOR-*-ADDRESS), IPv4 or
 * IPv6; J_EINVAL for any other family. */
int stun_writer_add_xor_address(stun_writer *w, uint16_t type, const j_addr *addr);
int stun_writer_add_xor_mapped_address(stun_writer *w, const j_addr *addr);
/* stun_writer_add_error_code - ERROR-CODE with code 300..699 (J_EINVAL
 * otherwise) and an optional reason phrase (NULL for none). */
int stun_writer_add_error_code(stun_writer *w, int code, const char *reason);
/* stun_writer_add_unknown_attributes - UNKNOWN-ATTRIBUTES listing n types. */
int stun_writer_add_unknown_attributes(stun_writer *w, const uint16_t *types, size_t n);

/* stun_writer_finish - complete the message: set the length field, then
 * append MESSAGE-INTEGRITY when integrity_key is non-NULL and FINGERPRINT
 * when with_fingerprint. Returns the total length in bytes, or a negative
 * J_E* code (J_ESHORTBUF when it does not fit, or the sticky error). A
 * writer is finished once: later adds and finishes return J_ESTATE. */
int stun_writer_finish(stun_writer *w, const uint8_t *integrity_key, size_t key_len,
                       bool with_fingerprint);

#endif
