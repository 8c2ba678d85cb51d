/* fuzz_http_request.c - the HTTP request fields Junction interprets itself.
 *
 * The input is up to four lines: a Content-Length value, an Authorization value, a
 * Content-Type value and a URL path (or an X-Forwarded-For value); every parser sees every
 * line. Results are checked
 * for consistency (views inside their input, only allowed characters, values that print
 * back to their digits), so a wrong bound shows up as an abort or under ASan.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "signal/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_content_length(const char *s, size_t len)
{
    uint64_t v;
    if (http_parse_content_length(s, len, &v) != J_OK) return;
    size_t z = 0;
    while (z + 1 < len && s[z] == '0') z++; /* leading zeros */
    char back[32];
    int n = snprintf(back, sizeof back, "%llu", (unsigned long long)v);
    if (n < 0 || (size_t)n != len - z || memcmp(back, s + z, len - z) != 0) abort();
}

static void check_bearer(const char *s, size_t len)
{
    const char *tok;
    size_t tlen;
    if (http_parse_bearer(s, len, &tok, &tlen) != J_OK) return;
    if (tlen == 0 || tok < s + 7 || tok + tlen > s + len) abort();
    for (size_t i = 0; i < tlen; i++)
        if (tok[i] <= ' ' || tok[i] > '~' || tok[i] == '"' || tok[i] == ',') abort();
}

static void check_forwarded(const char *s)
{
    char ip[64], again[64];
    if (http_forwarded_for_last(s, ip, sizeof ip) != J_OK) return;
    /* What comes out is an IP literal in canonical form: it maps to itself. */
    if (http_ip_canonical(ip, strlen(ip), again, sizeof again) != J_OK || strcmp(ip, again) != 0)
        abort();
}

static void check_path(const char *path)
{
    static const char *const prefixes[] = {"/whip/", "/whep/", "/"};
    for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
        http_segment seg[3];
        int n = http_path_split(path, prefixes[k], seg, 3);
        if (n < 0) continue;
        if (n > 3) abort();
        size_t plen = strlen(path);
        for (int i = 0; i < n; i++) {
            if (seg[i].len == 0 || seg[i].p < path || seg[i].p + seg[i].len > path + plen) abort();
            for (size_t j = 0; j < seg[i].len; j++)
                if (seg[i].p[j] == '/' || seg[i].p[j] == '%' || seg[i].p[j] <= ' ') abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) return 0;
    char *copy = malloc(size + 1); /* NUL-terminated, as libwebsockets hands values over */
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';

    char *line = copy;
    for (int field = 0; field < 4 && line; field++) {
        char *nl = memchr(line, '\n', (size_t)(copy + size - line));
        if (nl) *nl = '\0';
        size_t len = strlen(line);
        check_content_length(line, len);
        check_bearer(line, len);
        (void)http_media_type_is(line, "application/sdp");
        check_path(line);
        check_forwarded(line);
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
    return 0;
}
