#include "error.h"

#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "secret.h"
#include "str.h"

int ka_error_vat(struct ka_error *err, const char *file, unsigned line, unsigned col, int code, const char *fmt,
                 va_list ap) {
        if (!err)
                return code;
        err->code = code;
        err->line = line;
        err->col = col;
        ka_strlcpy(err->file, file ? file : "", sizeof(err->file));
        ka_secret_copy_masked(err->msg, sizeof(err->msg), fmt, ap);
        return code;
}

int ka_error_vset(struct ka_error *err, int code, const char *fmt, va_list ap) {
        return ka_error_vat(err, NULL, 0, 0, code, fmt, ap);
}

int ka_error_set(struct ka_error *err, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        ka_error_vset(err, code, fmt, ap);
        va_end(ap);
        return code;
}

int ka_error_at(struct ka_error *err, const char *file, unsigned line, unsigned col, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        ka_error_vat(err, file, line, col, code, fmt, ap);
        va_end(ap);
        return code;
}

int ka_error_prefix(struct ka_error *err, const char *fmt, ...) {
        if (!err)
                return 0;
        char prefix[KA_ERROR_MSG_MAX], msg[KA_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        ka_strlcpy(msg, err->msg, sizeof(msg));
        if (snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, msg) >= (int)sizeof(err->msg))
                err->msg[sizeof(err->msg) - 1] = '\0'; /* truncated: still one line */
        ka_secret_mask_inplace(err->msg, sizeof(err->msg));
        return err->code;
}

void ka_error_clear(struct ka_error *err) {
        if (err)
                memset(err, 0, sizeof(*err));
}

const char *ka_error_format(const struct ka_error *err, char *buf, size_t size) {
        if (err->file[0] && err->line)
                snprintf(buf, size, "%s:%u:%u: %s", err->file, err->line, err->col, err->msg);
        else if (err->file[0])
                snprintf(buf, size, "%s: %s", err->file, err->msg);
        else
                snprintf(buf, size, "%s", err->msg[0] ? err->msg : "unknown error");
        return buf;
}

void ka_diags_vadd(struct ka_diags *d, enum ka_diag_severity severity, const char *file, unsigned line, unsigned col,
                   const char *fmt, va_list ap) {
        char msg[KA_ERROR_MSG_MAX];
        ka_secret_copy_masked(msg, sizeof(msg), fmt, ap);
        d->v = ka_reallocarray(d->v, d->n + 1, sizeof(*d->v));
        d->v[d->n++] = (struct ka_diag){
                .severity = severity,
                .file = ka_strdup(file && *file ? file : NULL),
                .line = line,
                .col = col,
                .msg = ka_strdup(msg),
        };
        if (severity == KA_DIAG_ERROR)
                d->errors++;
        else
                d->warnings++;
}

void ka_diags_add(struct ka_diags *d, enum ka_diag_severity severity, const char *file, unsigned line, unsigned col,
                  const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        ka_diags_vadd(d, severity, file, line, col, fmt, ap);
        va_end(ap);
}

void ka_diags_add_error(struct ka_diags *d, const struct ka_error *err) {
        ka_diags_add(d, KA_DIAG_ERROR, err->file, err->line, err->col, "%s", err->msg);
}

void ka_diags_print(const struct ka_diags *d, FILE *f) {
        for (size_t i = 0; i < d->n; i++) {
                const struct ka_diag *x = &d->v[i];
                const char *sev = x->severity == KA_DIAG_ERROR ? "error" : "warning";
                if (x->file && x->line)
                        fprintf(f, "%s:%u:%u: %s: %s\n", x->file, x->line, x->col, sev, x->msg);
                else if (x->file)
                        fprintf(f, "%s: %s: %s\n", x->file, sev, x->msg);
                else
                        fprintf(f, "%s: %s\n", sev, x->msg);
        }
}

void ka_diags_free(struct ka_diags *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->v[i].file);
                free(d->v[i].msg);
        }
        free(d->v);
        memset(d, 0, sizeof(*d));
}
