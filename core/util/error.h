/* core/util/error.h — filling struct ka_error, and lists of diagnostics.
 *
 * ka_error_set() and friends return the code they store, so a failing path
 * reads `return ka_error_set(err, -EINVAL, "...")`.  Messages pass through the
 * secret registry (secret.h) before they are stored.
 *
 * struct ka_diags collects many located errors and warnings, for tools that
 * report every problem in a file at once (`kubeagent check`). */
#ifndef KA_UTIL_ERROR_H
#define KA_UTIL_ERROR_H

#include <kubeagent/error.h>
#include <stdarg.h>
#include <stdio.h>

#include "macro.h"

int ka_error_set(struct ka_error *err, int code, const char *fmt, ...) KA_PRINTF(3, 4);
int ka_error_vset(struct ka_error *err, int code, const char *fmt, va_list ap) KA_PRINTF(3, 0);
int ka_error_at(struct ka_error *err, const char *file, unsigned line, unsigned col, int code, const char *fmt, ...)
        KA_PRINTF(6, 7);
int ka_error_vat(struct ka_error *err, const char *file, unsigned line, unsigned col, int code, const char *fmt,
                 va_list ap) KA_PRINTF(6, 0);
/* Prepend "context: " to the message (keeps code and place). */
int ka_error_prefix(struct ka_error *err, const char *fmt, ...) KA_PRINTF(2, 3);
void ka_error_clear(struct ka_error *err);
/* "file:line:col: message" (or just the message), into buf; returns buf. */
const char *ka_error_format(const struct ka_error *err, char *buf, size_t size);
#define KA_ERROR_FORMAT_MAX (KA_ERROR_FILE_MAX + KA_ERROR_MSG_MAX + 32)

enum ka_diag_severity {
        KA_DIAG_ERROR = 0,
        KA_DIAG_WARNING = 1,
};

struct ka_diag {
        enum ka_diag_severity severity;
        char *file; /* may be NULL */
        unsigned line, col;
        char *msg;
};

struct ka_diags {
        struct ka_diag *v;
        size_t n;
        size_t errors, warnings;
};

void ka_diags_add(struct ka_diags *d, enum ka_diag_severity severity, const char *file, unsigned line, unsigned col,
                  const char *fmt, ...) KA_PRINTF(6, 7);
void ka_diags_vadd(struct ka_diags *d, enum ka_diag_severity severity, const char *file, unsigned line, unsigned col,
                   const char *fmt, va_list ap) KA_PRINTF(6, 0);
void ka_diags_add_error(struct ka_diags *d, const struct ka_error *err);
/* "file:line:col: error: message" lines, in the order they were added. */
void ka_diags_print(const struct ka_diags *d, FILE *f);
void ka_diags_free(struct ka_diags *d);

#endif
