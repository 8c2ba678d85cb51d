/* random.c - getrandom(2) wrappers; aborts rather than hand out weak randomness. */
#include "core/random.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

void j_random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

uint32_t j_random_u32(void)
{
    uint32_t v;
    j_random_bytes(&v, sizeof v);
    return v;
}

void j_random_token(char *buf, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t raw[256];
    size_t done = 0;
    while (done < n) {
        j_random_bytes(raw, sizeof raw);
        for (size_t i = 0; i < sizeof raw && done < n; i++)
            if (raw[i] < 248) buf[done++] = alphabet[raw[i] % 62]; /* 248 = 4*62: unbiased */
    }
    buf[n] = '\0';
}
