#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int n_tests, n_failed;

__attribute__((format(printf, 2, 0))) static void line(bool pass, const char *fmt, va_list ap) {
        printf("%sok %d - ", pass ? "" : "not ", ++n_tests);
        vprintf(fmt, ap);
        printf("\n");
        if (!pass)
                n_failed++;
}

bool tap_ok(bool pass, const char *file, int l, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        line(pass, fmt, ap);
        va_end(ap);
        if (!pass)
                printf("# %s:%d: failed\n", file, l);
        fflush(stdout);
        return pass;
}

bool tap_is_int(int64_t got, int64_t want, const char *file, int l, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        line(got == want, fmt, ap);
        va_end(ap);
        if (got != want)
                printf("# %s:%d: got %lld, expected %lld\n", file, l, (long long)got, (long long)want);
        fflush(stdout);
        return got == want;
}

static void quoted(const char *s) {
        if (!s) {
                printf("NULL");
                return;
        }
        putchar('"');
        for (; *s; s++) {
                if (*s == '\n')
                        printf("\\n\n#   ");
                else
                        putchar(*s);
        }
        putchar('"');
}

bool tap_is_str(const char *got, const char *want, const char *file, int l, const char *fmt, ...) {
        bool pass = (!got && !want) || (got && want && strcmp(got, want) == 0);
        va_list ap;
        va_start(ap, fmt);
        line(pass, fmt, ap);
        va_end(ap);
        if (!pass) {
                printf("# %s:%d:\n#   got      ", file, l);
                quoted(got);
                printf("\n#   expected ");
                quoted(want);
                printf("\n");
        }
        fflush(stdout);
        return pass;
}

bool tap_like(const char *got, const char *want, const char *file, int l, const char *fmt, ...) {
        bool pass = got && want && strstr(got, want);
        va_list ap;
        va_start(ap, fmt);
        line(pass, fmt, ap);
        va_end(ap);
        if (!pass) {
                printf("# %s:%d:\n#   got        ", file, l);
                quoted(got);
                printf("\n#   to contain ");
                quoted(want);
                printf("\n");
        }
        fflush(stdout);
        return pass;
}

void tap_diag(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        printf("# ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
        fflush(stdout);
}

void tap_skip(const char *why, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        printf("ok %d - ", ++n_tests);
        vprintf(fmt, ap);
        printf(" # SKIP %s\n", why);
        va_end(ap);
        fflush(stdout);
}

int tap_done(void) {
        printf("1..%d\n", n_tests);
        return n_failed ? 1 : 0;
}
