/* core/util/base64.h — standard base64 (RFC 4648 §4) with padding. */
#ifndef KA_UTIL_BASE64_H
#define KA_UTIL_BASE64_H

#include <stddef.h>

/* Encode into a malloc()ed NUL-terminated string. */
char *ka_base64_encode(const void *data, size_t len);
/* Decode, ignoring ASCII whitespace; padding optional.  The result is
 * malloc()ed and NUL-terminated (not counted in *ret_len).  -EINVAL on any
 * character outside the alphabet. */
int ka_base64_decode(const char *in, size_t len, unsigned char **ret_data, size_t *ret_len);

#endif
