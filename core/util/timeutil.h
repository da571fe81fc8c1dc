/* core/util/timeutil.h — clocks, durations and RFC 3339 timestamps.
 *
 * ka_time_wall_ms() is the time kubeagent writes into objects (annotations,
 * rendered pods); it honours SOURCE_DATE_EPOCH so that `kubeagent render`
 * output is reproducible.  ka_time_wall_ms_real() ignores it (logs, leases). */
#ifndef KA_UTIL_TIMEUTIL_H
#define KA_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

int64_t ka_time_now_ms(void); /* CLOCK_MONOTONIC */
/* CLOCK_MONOTONIC now + ms, for pthread_cond_timedwait() on a condition
 * created with that clock. */
struct timespec ka_time_deadline(int64_t ms);
int64_t ka_time_wall_ms(void);      /* SOURCE_DATE_EPOCH * 1000 when set and valid */
int64_t ka_time_wall_ms_real(void); /* CLOCK_REALTIME */

/* "2026-11-26T04:50:14Z" / "2026-11-26T04:50:14.123Z" (UTC). */
const char *ka_time_format_rfc3339(int64_t wall_ms, char *buf, size_t size);
const char *ka_time_format_rfc3339_ms(int64_t wall_ms, char *buf, size_t size);
/* Parse RFC 3339 (with Z or an offset, optional fraction) into Unix ms. */
int ka_time_parse_rfc3339(const char *s, int64_t *ret_ms);

/* A duration: a plain number is `unit_ms` units (1000 for seconds); with a
 * suffix ms, s, m, h it is that.  Negative values are refused. */
int ka_time_parse_duration(const char *s, int64_t unit_ms, int64_t *ret_ms);

#endif
