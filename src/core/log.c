/* log.c - levelled logging to stderr: "2026-11-21T20:41:38.123Z INFO  whip: message". */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static volatile int log_level = J_LOG_INFO;
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void j_log_set_level(j_log_level level) { log_level = (int)level; }

int j_log_parse_level(const char *name)
{
    for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++)
        if (strcasecmp(name, level_names[i]) == 0) return i;
    return -1;
}

bool j_log_enabled(j_log_level level) { return (int)level <= log_level; }

void j_log(j_log_level level, const char *component, const char *fmt, ...)
{
    if (!j_log_enabled(level)) return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], component);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines whole when several threads log. */
    size_t len = strnlen(line, sizeof line - 2);
    line[len] = '\n';
    line[len + 1] = '\0';
    fputs(line, stderr);
}
