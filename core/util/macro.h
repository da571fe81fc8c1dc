/* core/util/macro.h — small language helpers used everywhere.
 *
 * Cleanup attributes in the systemd style: a variable declared
 * `_cleanup_free_ char *s = NULL;` is freed when it goes out of scope.
 * Functions that use them do not also use a goto chain. */
#ifndef KA_UTIL_MACRO_H
#define KA_UTIL_MACRO_H

#include <stdlib.h>

#define KA_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KA_UNUSED __attribute__((unused))
#define KA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define KA_NORETURN __attribute__((noreturn))
#define KA_WARN_UNUSED __attribute__((warn_unused_result))

static inline void ka_freep(void *p) {
        free(*(void **)p);
}
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(ka_freep)

/* Define `name##p(type **p)` calling `func(*p)`, for _cleanup_(name##p). */
#define KA_DEFINE_CLEANUP(type, func)                                                                                  \
        static inline void func##p(type **p) {                                                                         \
                if (*p)                                                                                                \
                        func(*p);                                                                                      \
        }

/* Take ownership out of a cleanup variable. */
#define KA_TAKE(p)                                                                                                     \
        ({                                                                                                             \
                __typeof__(p) _t = (p);                                                                                \
                (p) = NULL;                                                                                            \
                _t;                                                                                                    \
        })

#define KA_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KA_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
