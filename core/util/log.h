/* core/util/log.h — the program's log.
 *
 * One line per call on stderr, written with a single write(2) so lines from
 * threads never interleave.  Text format:
 *     2026-11-26T04:50:14.123Z info  provision: created pod ci/maven-1x2y3
 * or, for tools, "kubeagent: warning: ..." without a timestamp; JSON format:
 *     {"time":"...","level":"info","component":"provision","msg":"..."}
 * Registered secrets (secret.h) are masked in every line.  Libraries log at
 * debug level at most; errors are logged once, by whoever consumes them. */
#ifndef KA_UTIL_LOG_H
#define KA_UTIL_LOG_H

#include <kubeagent/host.h>
#include <stdarg.h>
#include <stdbool.h>

#include "macro.h"

enum ka_log_level {
        KA_LOG_ERROR = KUBEAGENT_LOG_ERROR,
        KA_LOG_WARN = KUBEAGENT_LOG_WARN,
        KA_LOG_INFO = KUBEAGENT_LOG_INFO,
        KA_LOG_DEBUG = KUBEAGENT_LOG_DEBUG,
        KA_LOG_TRACE = KUBEAGENT_LOG_TRACE,
};

enum ka_log_format {
        KA_LOG_TEXT = 0, /* with timestamps: daemons */
        KA_LOG_TOOL = 1, /* "program: level: msg": command-line tools */
        KA_LOG_JSON = 2,
};

void ka_log_setup(const char *program, enum ka_log_level level, enum ka_log_format format);
void ka_log_set_level(enum ka_log_level level);
/* Send lines to fd instead of stderr (tests). */
void ka_log_set_fd(int fd);
bool ka_log_enabled(enum ka_log_level level);
int ka_log_parse_level(const char *s, enum ka_log_level *ret);
int ka_log_parse_format(const char *s, enum ka_log_format *ret);

void ka_log(enum ka_log_level level, const char *component, const char *fmt, ...) KA_PRINTF(3, 4);
void ka_logv(enum ka_log_level level, const char *component, const char *fmt, va_list ap) KA_PRINTF(3, 0);

#define ka_log_error(comp, ...) ka_log(KA_LOG_ERROR, comp, __VA_ARGS__)
#define ka_log_warn(comp, ...) ka_log(KA_LOG_WARN, comp, __VA_ARGS__)
#define ka_log_info(comp, ...) ka_log(KA_LOG_INFO, comp, __VA_ARGS__)
#define ka_log_debug(comp, ...) ka_log(KA_LOG_DEBUG, comp, __VA_ARGS__)

#endif
