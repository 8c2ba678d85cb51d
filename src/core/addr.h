/* addr.h - a transport address (IPv4 or IPv6 + port) as plain data.
 *
 * Uses the sockaddr layouts so the net layer can pass it to the kernel
 * unchanged, but nothing here touches a socket.
 */
#ifndef J_CORE_ADDR_H
#define J_CORE_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct j_addr {
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    };
} j_addr;

/* Longest text j_addr_str writes: "[ffff:...:ffff]:65535" plus NUL. */
#define J_ADDR_STRLEN 64

bool j_addr_equal(const j_addr *a, const j_addr *b);
uint32_t j_addr_hash(const j_addr *a);
socklen_t j_addr_len(const j_addr *a);
uint16_t j_addr_port(const j_addr *a);
void j_addr_set_port(j_addr *a, uint16_t port);
bool j_addr_is_loopback(const j_addr *a);
/* j_addr_str - "1.2.3.4:5" or "[::1]:5" into buf (J_ADDR_STRLEN bytes); returns buf. */
const char *j_addr_str(const j_addr *a, char *buf);
/* j_addr_ip_str - the IP alone ("1.2.3.4", "::1") into buf; returns buf. */
const char *j_addr_ip_str(const j_addr *a, char *buf);
/* j_addr_parse - parse an IP literal (no port) into out with the given port. */
int j_addr_parse(j_addr *out, const char *ip, uint16_t port);

#endif
