/* http_parse.c - the few request fields Junction interprets itself (libwebsockets parses
 * the request line and headers; these read the values it hands over). */
#include "signal/http.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int http_parse_content_length(const char *s, size_t len, uint64_t *out)
{
    *out = 0;
    if (len == 0) return J_EMALFORMED;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i])) return J_EMALFORMED;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return J_ELIMIT;
        v = v * 10 + d;
    }
    *out = v;
    return J_OK;
}

/* RFC 9110 section 11.2: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 * *"=" */
static bool is_token68_char(char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

int http_parse_bearer(const char *s, size_t len, const char **token, size_t *token_len)
{
    *token = NULL;
    *token_len = 0;
    while (len > 0 && s[len - 1] == ' ') len--; /* trailing OWS */
    if (len == 0) return J_ENOTFOUND;
    static const char scheme[] = "Bearer";
    size_t n = sizeof scheme - 1;
    if (len <= n || strncasecmp(s, scheme, n) != 0 || s[n] != ' ') return J_EMALFORMED;
    size_t i = n;
    while (i < len && s[i] == ' ') i++;
    size_t start = i;
    while (i < len && is_token68_char(s[i])) i++;
    if (i == start) return J_EMALFORMED;
    while (i < len && s[i] == '=') i++;
    if (i != len) return J_EMALFORMED;
    *token = s + start;
    *token_len = len - start;
    return J_OK;
}

bool http_media_type_is(const char *value, const char *type)
{
    size_t n = strlen(type);
    if (strncasecmp(value, type, n) != 0) return false;
    const char *rest = value + n;
    while (*rest == ' ' || *rest == '\t') rest++;
    return *rest == '\0' || *rest == ';';
}

int http_ip_canonical(const char *ip, size_t len, char *out, size_t cap)
{
    char tmp[INET6_ADDRSTRLEN];
    uint8_t bin[16];
    if (len == 0 || len >= sizeof tmp) return J_EMALFORMED;
    memcpy(tmp, ip, len);
    tmp[len] = '\0';
    int family = AF_INET;
    if (inet_pton(AF_INET, tmp, bin) != 1) {
        if (inet_pton(AF_INET6, tmp, bin) != 1) return J_EMALFORMED;
        family = AF_INET6;
        static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(bin, v4_mapped, sizeof v4_mapped) == 0) {
            memmove(bin, bin + 12, 4);
            family = AF_INET;
        }
    }
    if (!inet_ntop(family, bin, tmp, sizeof tmp) || strlen(tmp) >= cap) return J_ESHORTBUF;
    memcpy(out, tmp, strlen(tmp) + 1);
    return J_OK;
}

int http_forwarded_for_last(const char *value, char *out, size_t cap)
{
    const char *comma = strrchr(value, ',');
    const char *p = comma ? comma + 1 : value;
    while (*p == ' ' || *p == '\t') p++;
    size_t len = strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    return http_ip_canonical(p, len, out, cap);
}

static bool is_segment_char(char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; }

int http_path_split(const char *path, const char *prefix, http_segment *segs, int max)
{
    size_t plen = strlen(prefix);
    if (strncmp(path, prefix, plen) != 0) return J_EMALFORMED;
    const char *p = path + plen;
    int count = 0;
    while (*p) {
        if (count == max) return J_ELIMIT;
        size_t len = 0;
        while (p[len] && p[len] != '/') {
            if (!is_segment_char(p[len])) return J_EMALFORMED;
            len++;
        }
        /* Empty, "." and ".." segments never name a resource. */
        if (len == 0 || (p[0] == '.' && (len == 1 || (len == 2 && p[1] == '.'))))
            return J_EMALFORMED;
        segs[count++] = (http_segment){.p = p, .len = len};
        p += len;
        if (*p == '/') {
            p++;
            if (!*p) return J_EMALFORMED; /* trailing slash */
        }
    }
    return count;
}
