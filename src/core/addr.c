/* addr.c - comparison, hashing and formatting of transport addresses. */
#include "core/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

bool j_addr_equal(const j_addr *a, const j_addr *b)
{
    if (a->sa.sa_family != b->sa.sa_family) return false;
    if (a->sa.sa_family == AF_INET)
        return a->v4.sin_port == b->v4.sin_port &&
               a->v4.sin_addr.s_addr == b->v4.sin_addr.s_addr;
    if (a->sa.sa_family == AF_INET6)
        return a->v6.sin6_port == b->v6.sin6_port &&
               memcmp(&a->v6.sin6_addr, &b->v6.sin6_addr, 16) == 0;
    return false;
}

uint32_t j_addr_hash(const j_addr *a)
{
    /* FNV-1a over the address bytes and port. */
    const uint8_t *p;
    size_t n;
    uint16_t port = j_addr_port(a);
    if (a->sa.sa_family == AF_INET6) {
        p = (const uint8_t *)&a->v6.sin6_addr;
        n = 16;
    } else {
        p = (const uint8_t *)&a->v4.sin_addr;
        n = 4;
    }
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    h = (h ^ (port & 0xff)) * 16777619u;
    h = (h ^ (port >> 8)) * 16777619u;
    return h;
}

socklen_t j_addr_len(const j_addr *a)
{
    return a->sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

uint16_t j_addr_port(const j_addr *a)
{
    return ntohs(a->sa.sa_family == AF_INET6 ? a->v6.sin6_port : a->v4.sin_port);
}

void j_addr_set_port(j_addr *a, uint16_t port)
{
    if (a->sa.sa_family == AF_INET6)
        a->v6.sin6_port = htons(port);
    else
        a->v4.sin_port = htons(port);
}

bool j_addr_is_loopback(const j_addr *a)
{
    if (a->sa.sa_family == AF_INET) return (ntohl(a->v4.sin_addr.s_addr) >> 24) == 127;
    if (a->sa.sa_family == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&a->v6.sin6_addr);
    return false;
}

static void j_addr_ip_str_n(const j_addr *a, char *buf, size_t cap)
{
    const void *src = a->sa.sa_family == AF_INET6 ? (const void *)&a->v6.sin6_addr
                                                  : (const void *)&a->v4.sin_addr;
    if (!inet_ntop(a->sa.sa_family == AF_INET6 ? AF_INET6 : AF_INET, src, buf, (socklen_t)cap))
        snprintf(buf, cap, "?");
}

const char *j_addr_ip_str(const j_addr *a, char *buf)
{
    j_addr_ip_str_n(a, buf, J_ADDR_STRLEN);
    return buf;
}

const char *j_addr_str(const j_addr *a, char *buf)
{
    char ip[INET6_ADDRSTRLEN + 1];
    j_addr_ip_str_n(a, ip, sizeof ip);
    if (a->sa.sa_family == AF_INET6)
        snprintf(buf, J_ADDR_STRLEN, "[%s]:%u", ip, j_addr_port(a));
    else
        snprintf(buf, J_ADDR_STRLEN, "%s:%u", ip, j_addr_port(a));
    return buf;
}

int j_addr_parse(j_addr *out, const char *ip, uint16_t port)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, ip, &out->v4.sin_addr) == 1) {
        out->v4.sin_family = AF_INET;
        out->v4.sin_port = htons(port);
        return J_OK;
    }
    if (inet_pton(AF_INET6, ip, &out->v6.sin6_addr) == 1) {
        out->v6.sin6_family = AF_INET6;
        out->v6.sin6_port = htons(port);
        return J_OK;
    }
    return J_EINVAL;
}
