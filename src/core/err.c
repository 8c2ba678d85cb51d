/* err.c - names for the J_E* codes. */
#include "core/err.h"

const char *j_strerror(int err)
{
    switch (err) {
    case J_OK: return "ok";
    case J_ESHORT: return "input truncated";
    case J_EMALFORMED: return "malformed input";
    case J_EUNSUPPORTED: return "unsupported";
    case J_ESHORTBUF: return "output buffer too small";
    case J_EAUTH: return "authentication failed";
    case J_ENOMEM: return "out of memory";
    case J_ESTATE: return "invalid state";
    case J_ENOTFOUND: return "not found";
    case J_ELIMIT: return "limit reached";
    case J_EIO: return "i/o error";
    case J_ECRYPTO: return "crypto error";
    case J_EREPLAY: return "replayed packet";
    case J_EINVAL: return "invalid argument";
    }
    return "unknown error";
}
