/* core/util/str.h — checked parsers and string helpers.
 *
 * No atoi/strtol without checks anywhere in kubeagent: these parse the whole
 * string or fail with -EINVAL (-ERANGE when out of range). */
#ifndef KA_UTIL_STR_H
#define KA_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int ka_parse_int64(const char *s, int64_t *ret);
int ka_parse_uint64(const char *s, uint64_t *ret);
int ka_parse_int(const char *s, int *ret);
int ka_parse_double(const char *s, double *ret);
/* true/false/yes/no/on/off/1/0, case-insensitive */
int ka_parse_bool(const char *s, bool *ret);

bool ka_streq(const char *a, const char *b); /* NULL-safe */
bool ka_startswith(const char *s, const char *prefix);
bool ka_endswith(const char *s, const char *suffix);
bool ka_isempty(const char *s); /* NULL or "" */
/* A copy without leading/trailing whitespace. */
char *ka_strip(const char *s);
/* Edit distance, ASCII case-insensitive, for "did you mean" (SIZE_MAX when
 * a string is over 64 bytes). */
size_t ka_strdistance(const char *a, const char *b);
/* Copy src into dst of size n, truncating; always terminates. */
void ka_strlcpy(char *dst, const char *src, size_t n);

#endif
