/* log.h - levelled logging, one line per event.
 *
 * Every line names what it concerns: pass the component ("ice", "whip") and
 * put the peer/session/stream id in the message. Never log on the per-packet
 * path except at J_LOG_TRACE behind j_log_enabled().
 */
#ifndef J_CORE_LOG_H
#define J_CORE_LOG_H

#include <stdbool.h>

typedef enum {
    J_LOG_ERROR = 0,
    J_LOG_WARN = 1,
    J_LOG_INFO = 2,
    J_LOG_DEBUG = 3,
    J_LOG_TRACE = 4,
} j_log_level;

void j_log_set_level(j_log_level level);
/* j_log_parse_level - "error".."trace" to a level; returns -1 when unknown. */
int j_log_parse_level(const char *name);
bool j_log_enabled(j_log_level level);
void j_log(j_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define J_ERROR(comp, ...) j_log(J_LOG_ERROR, comp, __VA_ARGS__)
#define J_WARN(comp, ...) j_log(J_LOG_WARN, comp, __VA_ARGS__)
#define J_INFO(comp, ...) j_log(J_LOG_INFO, comp, __VA_ARGS__)
#define J_DEBUG(comp, ...) \
    do { if (j_log_enabled(J_LOG_DEBUG)) j_log(J_LOG_DEBUG, comp, __VA_ARGS__); } while (0)

#endif
