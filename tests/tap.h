/* tests/tap.h — a small TAP producer for the unit tests.
 *
 *     ok(x == 1, "x is one");
 *     is_int(r, 0, "parse succeeds");
 *     is_str(s, "abc", "text matches");
 *     return tap_done();
 *
 * Failures print "# file:line: got ..., expected ..." under the failing line,
 * so a red `make check` says exactly what failed. */
#ifndef KA_TESTS_TAP_H
#define KA_TESTS_TAP_H

#include <stdbool.h>
#include <stdint.h>

bool tap_ok(bool pass, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
bool tap_is_int(int64_t got, int64_t want, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
bool tap_is_str(const char *got, const char *want, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
/* got contains want */
bool tap_like(const char *got, const char *want, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tap_skip(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the plan; returns the exit status (0 when every test passed). */
int tap_done(void);

#define ok(cond, ...) tap_ok((cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) tap_is_int((int64_t)(got), (int64_t)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define like(got, want, ...) tap_like((got), (want), __FILE__, __LINE__, __VA_ARGS__)

#endif
