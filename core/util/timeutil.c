#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "str.h"

static int64_t clock_ms(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ka_time_now_ms(void) {
        return clock_ms(CLOCK_MONOTONIC);
}

struct timespec ka_time_deadline(int64_t ms) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
        }
        return ts;
}

int64_t ka_time_wall_ms_real(void) {
        return clock_ms(CLOCK_REALTIME);
}

int64_t ka_time_wall_ms(void) {
        const char *e = getenv("SOURCE_DATE_EPOCH");
        int64_t v;
        if (e && ka_parse_int64(e, &v) == 0 && v >= 0 && v < INT64_MAX / 1000)
                return v * 1000;
        return ka_time_wall_ms_real();
}

const char *ka_time_format_rfc3339(int64_t wall_ms, char *buf, size_t size) {
        time_t t = (time_t)(wall_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf;
}

const char *ka_time_format_rfc3339_ms(int64_t wall_ms, char *buf, size_t size) {
        time_t t = (time_t)(wall_ms / 1000);
        struct tm tm;
        char base[32];
        gmtime_r(&t, &tm);
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, size, "%s.%03dZ", base, (int)(wall_ms % 1000));
        return buf;
}

static int digits(const char **p, int n, int *ret) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)**p))
                        return -EINVAL;
                v = v * 10 + (**p - '0');
                (*p)++;
        }
        *ret = v;
        return 0;
}

int ka_time_parse_rfc3339(const char *s, int64_t *ret_ms) {
        int Y, M, D, h, m, sec;
        const char *p = s;
        if (!s || digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
                return -EINVAL;
        if (*p != 'T' && *p != 't' && *p != ' ')
                return -EINVAL;
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m) || *p++ != ':' || digits(&p, 2, &sec))
                return -EINVAL;
        if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
                return -EINVAL;
        int ms = 0;
        if (*p == '.') {
                p++;
                int n = 0;
                while (isdigit((unsigned char)*p)) {
                        if (n < 3)
                                ms = ms * 10 + (*p - '0');
                        n++;
                        p++;
                }
                if (!n)
                        return -EINVAL;
                for (; n < 3; n++)
                        ms *= 10;
        }
        int offset_min = 0;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1, oh, om;
                if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
                        return -EINVAL;
                offset_min = sign * (oh * 60 + om);
        } else {
                return -EINVAL;
        }
        if (*p)
                return -EINVAL;
        struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
        time_t t = timegm(&tm);
        *ret_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + ms;
        return 0;
}

int ka_time_parse_duration(const char *s, int64_t unit_ms, int64_t *ret_ms) {
        if (!s)
                return -EINVAL;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno == ERANGE || v < 0 || (!isdigit((unsigned char)*s) && *s != '.'))
                return -EINVAL;
        double mult;
        if (*end == '\0')
                mult = (double)unit_ms;
        else if (strcmp(end, "ms") == 0)
                mult = 1;
        else if (strcmp(end, "s") == 0)
                mult = 1000;
        else if (strcmp(end, "m") == 0)
                mult = 60000;
        else if (strcmp(end, "h") == 0)
                mult = 3600000;
        else
                return -EINVAL;
        double ms = v * mult;
        if (ms > 9.2e18)
                return -ERANGE;
        *ret_ms = (int64_t)ms;
        return 0;
}
