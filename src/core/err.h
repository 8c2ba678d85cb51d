/* err.h - Junction's one error enum, shared by every module.
 *
 * Functions return 0 (or a byte count) on success and a negative J_E* code on
 * failure. Unknown but well-formed input is not an error: modules keep it raw.
 */
#ifndef J_CORE_ERR_H
#define J_CORE_ERR_H

typedef enum {
    J_OK = 0,
    J_ESHORT = -1,       /* input shorter than its header or declared length */
    J_EMALFORMED = -2,   /* input violates the wire format */
    J_EUNSUPPORTED = -3, /* well-formed but a feature we do not implement */
    J_ESHORTBUF = -4,    /* caller's output buffer too small */
    J_EAUTH = -5,        /* integrity, fingerprint or authentication failure */
    J_ENOMEM = -6,       /* allocation failed or a fixed pool is exhausted */
    J_ESTATE = -7,       /* call not valid in the object's current state */
    J_ENOTFOUND = -8,    /* lookup found nothing */
    J_ELIMIT = -9,       /* a configured limit was hit */
    J_EIO = -10,         /* an operating-system call failed */
    J_ECRYPTO = -11,     /* a cryptographic library call failed */
    J_EREPLAY = -12,     /* replayed or too old (SRTP replay window) */
    J_EINVAL = -13,      /* caller passed an invalid argument */
} j_err;

/* j_strerror - a short, stable, human-readable name for err (never NULL). */
const char *j_strerror(int err);

#endif
