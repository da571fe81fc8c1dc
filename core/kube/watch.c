#include "watch.h"

#include <errno.h>
#include <string.h>

#include "util/error.h"
#include "util/json.h"

int ka_lines_feed(struct ka_lines *l, const char *data, size_t len, int (*on_line)(void *ud, char *line, size_t len),
                  void *ud) {
        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t take = nl ? (size_t)(nl - data) : len;
                if (ka_buf_append(&l->buf, data, take) < 0)
                        return -E2BIG;
                data += take;
                len -= take;
                if (!nl)
                        break;
                data++;
                len--;
                size_t n = l->buf.len;
                if (n > 0 && l->buf.data[n - 1] == '\r')
                        l->buf.data[--n] = '\0';
                int r = n > 0 ? on_line(ud, l->buf.data, n) : 0;
                ka_buf_reset(&l->buf);
                if (r < 0)
                        return r;
        }
        return 0;
}

void ka_lines_free(struct ka_lines *l) {
        ka_buf_free(&l->buf);
}

const char *ka_watch_type_name(enum ka_watch_type t) {
        static const char *const names[] = {NULL, "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
        return t >= KA_WATCH_ADDED && t <= KA_WATCH_ERROR ? names[t] : "?";
}

int ka_kube_watch_event_parse(const char *line, size_t len, enum ka_watch_type *ret_type, cJSON **ret_object,
                              struct ka_error *err) {
        cJSON *ev;
        int r = ka_json_parse(line, len, &ev, err);
        if (r < 0) {
                ka_error_prefix(err, "watch event");
                return r;
        }
        const char *type = ka_json_str(ev, "type");
        enum ka_watch_type t = 0;
        for (enum ka_watch_type i = KA_WATCH_ADDED; type && i <= KA_WATCH_ERROR; i++)
                if (strcmp(type, ka_watch_type_name(i)) == 0)
                        t = i;
        if (!t) {
                ka_error_set(err, -EBADMSG, "watch event: unknown type \"%.40s\"", type ? type : "(none)");
                cJSON_Delete(ev);
                return -EBADMSG;
        }
        cJSON *obj = cJSON_IsObject(ev) ? cJSON_DetachItemFromObjectCaseSensitive(ev, "object") : NULL;
        cJSON_Delete(ev);
        if (!cJSON_IsObject(obj)) {
                cJSON_Delete(obj);
                return ka_error_set(err, -EBADMSG, "watch event %s: no object", ka_watch_type_name(t));
        }
        *ret_type = t;
        *ret_object = obj;
        return 0;
}
