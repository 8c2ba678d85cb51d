/* random.h - unpredictable bytes and tokens from the kernel (getrandom). */
#ifndef J_CORE_RANDOM_H
#define J_CORE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* j_random_bytes - fill buf with n cryptographically secure random bytes. */
void j_random_bytes(void *buf, size_t n);
uint32_t j_random_u32(void);
/* j_random_token - n random characters from [A-Za-z0-9] then a NUL (buf holds n+1). */
void j_random_token(char *buf, size_t n);

#endif
