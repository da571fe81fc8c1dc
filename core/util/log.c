#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "json.h"
#include "secret.h"
#include "timeutil.h"

#define LINE_MAX_BYTES 8192

static const char *const level_names[] = {"error", "warning", "info", "debug", "trace"};

static struct {
        const char *program;
        enum ka_log_level level;
        enum ka_log_format format;
        int fd;
} cfg = {"kubeagent", KA_LOG_INFO, KA_LOG_TOOL, STDERR_FILENO};

void ka_log_setup(const char *program, enum ka_log_level level, enum ka_log_format format) {
        cfg.program = program;
        cfg.level = level;
        cfg.format = format;
}

void ka_log_set_level(enum ka_log_level level) {
        cfg.level = level;
}

void ka_log_set_fd(int fd) {
        cfg.fd = fd;
}

bool ka_log_enabled(enum ka_log_level level) {
        return level <= cfg.level;
}

int ka_log_parse_level(const char *s, enum ka_log_level *ret) {
        for (size_t i = 0; i < KA_ARRAY_SIZE(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0) {
                        *ret = (enum ka_log_level)i;
                        return 0;
                }
        if (strcasecmp(s, "warn") == 0) {
                *ret = KA_LOG_WARN;
                return 0;
        }
        return -EINVAL;
}

int ka_log_parse_format(const char *s, enum ka_log_format *ret) {
        if (strcmp(s, "text") == 0)
                *ret = KA_LOG_TEXT;
        else if (strcmp(s, "json") == 0)
                *ret = KA_LOG_JSON;
        else
                return -EINVAL;
        return 0;
}

void ka_logv(enum ka_log_level level, const char *component, const char *fmt, va_list ap) {
        if (!ka_log_enabled(level))
                return;
        char msg[LINE_MAX_BYTES];
        ka_secret_copy_masked(msg, sizeof(msg), fmt, ap);
        /* one line: fold embedded newlines */
        for (char *p = msg; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';

        char ts[40];
        ka_time_format_rfc3339_ms(ka_time_wall_ms_real(), ts, sizeof(ts));
        struct ka_buf line = KA_BUF_INIT(0);
        switch (cfg.format) {
        case KA_LOG_JSON:
                ka_buf_printf(&line, "{\"time\":\"%s\",\"level\":\"%s\"", ts, level_names[level]);
                if (component) {
                        ka_buf_puts(&line, ",\"component\":");
                        ka_json_quote(&line, component);
                }
                ka_buf_puts(&line, ",\"msg\":");
                ka_json_quote(&line, msg);
                ka_buf_puts(&line, "}\n");
                break;
        case KA_LOG_TEXT:
                ka_buf_printf(&line, "%s %-7s %s%s%s\n", ts, level_names[level], component ? component : "",
                              component ? ": " : "", msg);
                break;
        case KA_LOG_TOOL:
                ka_buf_printf(&line, "%s: %s%s%s%s", cfg.program,
                              level <= KA_LOG_WARN || level >= KA_LOG_DEBUG ? level_names[level] : "",
                              level <= KA_LOG_WARN || level >= KA_LOG_DEBUG ? ": " : "",
                              component && level >= KA_LOG_DEBUG ? component : "",
                              component && level >= KA_LOG_DEBUG ? ": " : "");
                ka_buf_puts(&line, msg);
                ka_buf_putc(&line, '\n');
                break;
        }
        (void)ka_write_all(cfg.fd, line.data, line.len); /* nowhere to report it */
        ka_buf_free(&line);
}

void ka_log(enum ka_log_level level, const char *component, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        ka_logv(level, component, fmt, ap);
        va_end(ap);
}
