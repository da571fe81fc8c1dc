/* core/kube/watch.h — the watch stream: lines and events.
 *
 * A watch body is JSON objects, one per line; chunks do not align with
 * lines, so ka_lines buffers (with a hard cap per line) and hands out whole
 * lines.  ka_kube_watch_event_parse() reads one line into its type and
 * object (reference §2.2). */
#ifndef KA_KUBE_WATCH_H
#define KA_KUBE_WATCH_H

#include <cjson/cJSON.h>
#include <kubeagent/error.h>
#include <stddef.h>

#include "util/buf.h"

#define KA_WATCH_LINE_MAX (16u << 20) /* one event: a pod is far smaller */

struct ka_lines {
        struct ka_buf buf; /* an incomplete last line */
};

#define KA_LINES_INIT(max_)                                                                                            \
        { .buf = KA_BUF_INIT(max_) }

/* Feed a chunk; on_line gets each complete line (without "\n", "\r\n"
 * trimmed, empty lines skipped, NUL-terminated).  Stops at the first
 * on_line error and returns it; -E2BIG when a line outgrows the cap. */
int ka_lines_feed(struct ka_lines *l, const char *data, size_t len, int (*on_line)(void *ud, char *line, size_t len),
                  void *ud);
void ka_lines_free(struct ka_lines *l);

enum ka_watch_type {
        KA_WATCH_ADDED = 1,
        KA_WATCH_MODIFIED,
        KA_WATCH_DELETED,
        KA_WATCH_BOOKMARK,
        KA_WATCH_ERROR,
};

const char *ka_watch_type_name(enum ka_watch_type t);

/* One line: {"type": ..., "object": {...}}.  *ret_object is detached and
 * the caller's.  -EBADMSG, with a message, for anything else. */
int ka_kube_watch_event_parse(const char *line, size_t len, enum ka_watch_type *ret_type, cJSON **ret_object,
                              struct ka_error *err);

#endif
