/* core/util/secret.h — the registry of texts that must never be printed.
 *
 * Whoever reads a secret (a token, a password, an agent secret, a key)
 * registers it; from then on every log line and error message has each
 * occurrence replaced by ********.  This is a safety net under the first rule:
 * code never formats a secret into a message in the first place.
 * Thread-safe.  The registry keeps its own wiped-on-removal copies. */
#ifndef KA_UTIL_SECRET_H
#define KA_UTIL_SECRET_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define KA_SECRET_MASK "********"
#define KA_SECRET_MIN_LEN 4

void ka_secret_register(const char *secret);
void ka_secret_unregister(const char *secret);
/* Unregister, wipe and free (NULL is fine). */
void ka_secret_free(char *secret);
/* Format, then mask registered secrets, into a malloc()ed string.  Use this
 * rather than formatting into a fixed buffer and masking after: truncation
 * could cut a secret in half and leave its beginning unmasked. */
char *ka_secret_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Copy a masked string into a fixed buffer (truncating). */
void ka_secret_copy_masked(char *dst, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
/* Replace registered secrets in s (a buffer of `size` bytes), truncating if
 * the result would not fit. */
void ka_secret_mask_inplace(char *s, size_t size);
/* Whether `given` (outside input, e.g. a bearer token) equals `secret`, in
 * time that depends on the length of `given` only: never on where the two
 * first differ, nor on the secret's length. */
bool ka_secret_equal(const char *given, const char *secret);
/* Drop every registered secret (tests, shutdown). */
void ka_secret_reset(void);

#endif
