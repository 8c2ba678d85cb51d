/* sdp_internal.h - helpers shared by the sdp module's .c files (not part of the API). */
#ifndef J_SDP_INTERNAL_H
#define J_SDP_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

/* sdp_errf - format "fmt" into err (err_cap bytes, always NUL-terminated when err_cap > 0)
 * and return code, so callers can write `return sdp_errf(err, cap, J_EMALFORMED, ...)`. */
int sdp_errf(char *err, size_t err_cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* sdp_strieq - ASCII case-insensitive equality of two NUL-terminated strings. */
int sdp_strieq(const char *a, const char *b);

#endif
