#include "envelope.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/hashmap.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/mem.h"
#include "util/str.h"

static const char *const reject_names[KA_BUS_REJECT_COUNT_] = {
        [KA_BUS_REJECT_NONE] = "none",           [KA_BUS_REJECT_OVERSIZED] = "oversized",
        [KA_BUS_REJECT_MALFORMED] = "malformed", [KA_BUS_REJECT_INVALID] = "invalid",
        [KA_BUS_REJECT_UNSEALED] = "unsealed",   [KA_BUS_REJECT_UNKEYED] = "unkeyed",
        [KA_BUS_REJECT_FORGED] = "forged",       [KA_BUS_REJECT_REPLAYED] = "replayed",
        [KA_BUS_REJECT_STALE] = "stale",         [KA_BUS_REJECT_UNKNOWN_SESSION] = "unknown_session",
        [KA_BUS_REJECT_SPOOFED] = "spoofed",     [KA_BUS_REJECT_UNEXPECTED] = "unexpected",
};

const char *ka_bus_reject_name(enum ka_bus_reject r) {
        return r >= 0 && r < KA_BUS_REJECT_COUNT_ ? reject_names[r] : "unknown";
}

static bool is_lower(char c) {
        return c >= 'a' && c <= 'z';
}

static bool is_alnum(char c) {
        return is_lower(c) || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_or_digit(char c) {
        return is_lower(c) || (c >= '0' && c <= '9');
}

/* 1 to max characters, each one `ok` accepts or one of `extra`; the first
 * one `first` accepts (NULL: like the others). */
static bool charset(const char *s, size_t max, bool (*ok)(char), const char *extra, bool (*first)(char)) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > max || (first && !first(s[0])))
                return false;
        for (const char *p = s; *p; p++)
                if (!ok(*p) && !strchr(extra, *p))
                        return false;
        return true;
}

bool ka_bus_valid_type(const char *s) {
        return charset(s, KA_BUS_TYPE_MAX, is_lower_or_digit, ".-", is_lower);
}

bool ka_bus_valid_name(const char *s) {
        return charset(s, KA_BUS_NAME_MAX, is_alnum, "._-", is_alnum);
}

bool ka_bus_valid_id(const char *s) {
        return charset(s, KA_BUS_ID_MAX, is_alnum, "._:/@-", NULL);
}

static bool valid_msgid(const char *s) {
        return charset(s, KA_BUS_MSGID_MAX, is_alnum, "._:-", NULL);
}

static bool valid_uint(const cJSON *v) {
        return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= KA_BUS_UINT_MAX &&
               v->valuedouble == floor(v->valuedouble);
}

/* UTF-8 (no overlongs, no surrogates, at most U+10FFFF), no NUL byte, and
 * no \u0000 escape inside a string (cJSON would cut the string there, so
 * "a\u0000b" would silently read as "a").  Returns the offset of the first
 * problem, or len. */
static size_t scan_text(const unsigned char *s, size_t len) {
        bool in_string = false;
        for (size_t i = 0; i < len;) {
                unsigned char c = s[i];
                if (c == 0)
                        return i;
                if (c < 0x80) {
                        if (c == '"')
                                in_string = !in_string;
                        else if (c == '\\' && in_string) {
                                if (i + 1 < len && s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0)
                                        return i;
                                i += 2; /* the escaped character is never a quote that ends the string */
                                continue;
                        }
                        i++;
                        continue;
                }
                size_t n;
                uint32_t cp;
                if (c >= 0xc2 && c <= 0xdf)
                        n = 2, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 3, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 4, cp = c & 0x07;
                else
                        return i;
                if (i + n > len)
                        return i;
                for (size_t k = 1; k < n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return i;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return i;
                i += n;
        }
        return len;
}

static int invalid(enum ka_bus_reject *ret_reason, enum ka_bus_reject reason, struct ka_error *err, const char *fmt,
                   ...) KA_PRINTF(4, 5);
static int invalid(enum ka_bus_reject *ret_reason, enum ka_bus_reject reason, struct ka_error *err, const char *fmt,
                   ...) {
        va_list ap;
        va_start(ap, fmt);
        ka_error_vset(err, reason == KA_BUS_REJECT_OVERSIZED ? -EMSGSIZE : -EBADMSG, fmt, ap);
        va_end(ap);
        if (ret_reason)
                *ret_reason = reason;
        return reason == KA_BUS_REJECT_OVERSIZED ? -EMSGSIZE : -EBADMSG;
}

static const char *json_type_name(const cJSON *v) {
        if (cJSON_IsString(v))
                return "a string";
        if (cJSON_IsNumber(v))
                return "a number";
        if (cJSON_IsBool(v))
                return "a boolean";
        if (cJSON_IsNull(v))
                return "null";
        if (cJSON_IsArray(v))
                return "an array";
        if (cJSON_IsObject(v))
                return "an object";
        return "something else";
}

/* The first member name that appears twice in an object anywhere under
 * node, or NULL.  Parsers disagree on which of two equal names wins, so a
 * message with one means different things to different readers. */
static const char *duplicate_member(const cJSON *node) {
        if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
                return NULL;
        if (cJSON_IsObject(node)) {
                size_t n = 0;
                for (const cJSON *c = node->child; c; c = c->next)
                        n++;
                if (n <= 32) {
                        for (const cJSON *a = node->child; a; a = a->next)
                                for (const cJSON *b = a->next; b; b = b->next)
                                        if (strcmp(a->string, b->string) == 0)
                                                return a->string;
                } else {
                        struct ka_hashmap seen = KA_HASHMAP_INIT;
                        const char *dup = NULL;
                        for (const cJSON *c = node->child; c && !dup; c = c->next)
                                if (ka_hashmap_put(&seen, c->string, (void *)c))
                                        dup = c->string;
                        ka_hashmap_free(&seen);
                        if (dup)
                                return dup;
                }
        }
        for (const cJSON *c = node->child; c; c = c->next) {
                const char *dup = duplicate_member(c);
                if (dup)
                        return dup;
        }
        return NULL;
}

/* Copy a string member that passed `valid` into dst. */
static bool take_str(const cJSON *v, bool (*valid)(const char *), char *dst, size_t size) {
        if (!cJSON_IsString(v) || !valid(v->valuestring))
                return false;
        ka_strlcpy(dst, v->valuestring, size);
        return true;
}

int ka_bus_msg_decode(const char *text, size_t len, size_t max_size, struct ka_bus_msg *ret,
                      enum ka_bus_reject *ret_reason, struct ka_error *err) {
        if (len > max_size)
                return invalid(ret_reason, KA_BUS_REJECT_OVERSIZED, err,
                               "message of %zu bytes exceeds the %zu-byte limit", len, max_size);
        size_t bad = scan_text((const unsigned char *)text, len);
        if (bad < len)
                return invalid(ret_reason, KA_BUS_REJECT_MALFORMED, err,
                               "bad byte at %zu: not UTF-8 text, or a NUL character", bad);
        const char *end = NULL;
        cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
        if (!root) {
                size_t at = end && end >= text ? (size_t)(end - text) : 0;
                return invalid(ret_reason, KA_BUS_REJECT_MALFORMED, err, "invalid JSON at byte %zu", at);
        }
        for (const char *p = end; p < text + len; p++)
                if (!strchr(" \t\r\n", *p)) {
                        size_t at = (size_t)(p - text);
                        cJSON_Delete(root);
                        return invalid(ret_reason, KA_BUS_REJECT_MALFORMED, err, "trailing data at byte %zu", at);
                }

        struct ka_bus_msg m = {0};
        int r = 0;
        const cJSON *type = NULL, *id = NULL, *sender = NULL, *to = NULL, *time = NULL, *seq = NULL, *payload = NULL;
        if (!cJSON_IsObject(root)) {
                r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err, "a message must be a JSON object, not %s",
                            json_type_name(root));
                goto out;
        }
        for (cJSON *v = root->child; v; v = v->next) {
                const cJSON **slot = strcmp(v->string, "type") == 0      ? &type
                                     : strcmp(v->string, "id") == 0      ? &id
                                     : strcmp(v->string, "sender") == 0  ? &sender
                                     : strcmp(v->string, "to") == 0      ? &to
                                     : strcmp(v->string, "time") == 0    ? &time
                                     : strcmp(v->string, "seq") == 0     ? &seq
                                     : strcmp(v->string, "payload") == 0 ? &payload
                                                                         : NULL;
                if (!slot) {
                        r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err, "unknown envelope member \"%.64s\"",
                                    v->string);
                        goto out;
                }
                if (*slot) {
                        r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err, "envelope member \"%s\" appears twice",
                                    v->string);
                        goto out;
                }
                *slot = v;
        }
        static const char *const required[] = {"type", "id", "sender", "to", "time", "payload"};
        const cJSON *got[] = {type, id, sender, to, time, payload};
        for (size_t i = 0; i < KA_ARRAY_SIZE(required); i++)
                if (!got[i]) {
                        r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err, "envelope member \"%s\" is missing",
                                    required[i]);
                        goto out;
                }
        if (!take_str(type, ka_bus_valid_type, m.type, sizeof(m.type))) {
                r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err,
                            "\"type\" must be a string of 1 to %d characters [a-z0-9.-], starting with a letter",
                            KA_BUS_TYPE_MAX);
                goto out;
        }
        if (!take_str(id, valid_msgid, m.id, sizeof(m.id))) {
                r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err,
                            "\"id\" must be a string of 1 to %d characters [A-Za-z0-9._:-]", KA_BUS_MSGID_MAX);
                goto out;
        }
        if (!take_str(sender, ka_bus_valid_name, m.sender, sizeof(m.sender)) ||
            !take_str(to, ka_bus_valid_name, m.to, sizeof(m.to))) {
                r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err,
                            "\"sender\" and \"to\" must be names of 1 to %d characters [A-Za-z0-9._-]",
                            KA_BUS_NAME_MAX);
                goto out;
        }
        if (!valid_uint(time)) {
                r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err,
                            "\"time\" must be a whole number of milliseconds since 1970");
                goto out;
        }
        m.time = (int64_t)time->valuedouble;
        if (seq) {
                if (!valid_uint(seq) || seq->valuedouble < 1) {
                        r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err, "\"seq\" must be a positive integer");
                        goto out;
                }
                m.seq = (uint64_t)seq->valuedouble;
        }
        if (!cJSON_IsObject(payload)) {
                r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err, "\"payload\" must be an object, not %s",
                            json_type_name(payload));
                goto out;
        }
        const char *dup = duplicate_member(payload);
        if (dup) {
                r = invalid(ret_reason, KA_BUS_REJECT_INVALID, err, "member \"%.64s\" appears twice in the payload",
                            dup);
                goto out;
        }
        m.payload = cJSON_DetachItemViaPointer(root, (cJSON *)payload);
        *ret = m;
out:
        cJSON_Delete(root);
        return r;
}

int ka_bus_msg_encode(const struct ka_bus_msg *m, struct ka_buf *out, struct ka_error *err) {
        if (!ka_bus_valid_type(m->type) || !valid_msgid(m->id) || !ka_bus_valid_name(m->sender) ||
            !ka_bus_valid_name(m->to) || m->time < 0 || (double)m->time > KA_BUS_UINT_MAX ||
            (double)m->seq > KA_BUS_UINT_MAX || (m->payload && !cJSON_IsObject(m->payload)))
                return ka_error_set(err, -EINVAL, "cannot encode an invalid %s message", m->type);
        int r = ka_buf_printf(out, "{\"type\":\"%s\",\"id\":\"%s\",\"sender\":\"%s\",\"to\":\"%s\",\"time\":%lld",
                              m->type, m->id, m->sender, m->to, (long long)m->time);
        if (r == 0 && m->seq)
                r = ka_buf_printf(out, ",\"seq\":%llu", (unsigned long long)m->seq);
        if (r == 0 && m->payload) {
                char *p = ka_json_print(m->payload);
                r = ka_buf_printf(out, ",\"payload\":%s}", p);
                ka_wipe(p, strlen(p)); /* payloads may carry an agent secret */
                free(p);
        } else if (r == 0)
                r = ka_buf_puts(out, ",\"payload\":{}}");
        if (r < 0)
                return ka_error_set(err, r, "a %s message does not fit in %zu bytes", m->type, out->max);
        return 0;
}

void ka_bus_msg_clear(struct ka_bus_msg *m) {
        if (!m)
                return;
        cJSON_Delete(m->payload);
        m->payload = NULL;
}

/* ---- payload schemas ---- */

static int check_fields(const cJSON *obj, const struct ka_bus_field *fields, const char *where, struct ka_error *err);

static int check_value(const cJSON *v, const struct ka_bus_field *f, const char *where, struct ka_error *err) {
        size_t max;
        switch (f->type) {
        case KA_BUS_F_STRING:
                max = f->max ? f->max : 65536;
                if (!cJSON_IsString(v) || strlen(v->valuestring) > max)
                        return ka_error_set(err, -EBADMSG, "%s\"%s\" must be a string of at most %zu bytes", where,
                                            f->name, max);
                return 0;
        case KA_BUS_F_NAME:
                if (!cJSON_IsString(v) || !ka_bus_valid_name(v->valuestring))
                        return ka_error_set(err, -EBADMSG,
                                            "%s\"%s\" must be a name of 1 to %d characters [A-Za-z0-9._-]", where,
                                            f->name, KA_BUS_NAME_MAX);
                return 0;
        case KA_BUS_F_ID:
                if (!cJSON_IsString(v) || !ka_bus_valid_id(v->valuestring))
                        return ka_error_set(err, -EBADMSG,
                                            "%s\"%s\" must be an id of 1 to %d characters [A-Za-z0-9._:/@-]", where,
                                            f->name, KA_BUS_ID_MAX);
                return 0;
        case KA_BUS_F_UINT:
                if (!valid_uint(v))
                        return ka_error_set(err, -EBADMSG, "%s\"%s\" must be a non-negative integer", where, f->name);
                return 0;
        case KA_BUS_F_BOOL:
                if (!cJSON_IsBool(v))
                        return ka_error_set(err, -EBADMSG, "%s\"%s\" must be true or false", where, f->name);
                return 0;
        case KA_BUS_F_OBJECT:
                if (!cJSON_IsObject(v))
                        return ka_error_set(err, -EBADMSG, "%s\"%s\" must be an object", where, f->name);
                return f->items ? check_fields(v, f->items, f->name, err) : 0;
        case KA_BUS_F_ARRAY:
        case KA_BUS_F_STRINGS: {
                max = f->max ? f->max : 4096;
                if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) > max)
                        return ka_error_set(err, -EBADMSG, "%s\"%s\" must be an array of at most %zu items", where,
                                            f->name, max);
                for (const cJSON *item = v->child; item; item = item->next) {
                        if (f->type == KA_BUS_F_STRINGS) {
                                if (!cJSON_IsString(item) || strlen(item->valuestring) > 1024)
                                        return ka_error_set(err, -EBADMSG,
                                                            "%s\"%s\" must hold strings of at most 1024 bytes", where,
                                                            f->name);
                        } else if (f->items) {
                                if (!cJSON_IsObject(item))
                                        return ka_error_set(err, -EBADMSG, "%s\"%s\" must hold objects", where,
                                                            f->name);
                                int r = check_fields(item, f->items, f->name, err);
                                if (r < 0)
                                        return r;
                        }
                }
                return 0;
        }
        case KA_BUS_F_ANY:
                return 0;
        }
        return ka_error_set(err, -EINVAL, "internal: unknown field type for \"%s\"", f->name);
}

static int check_fields(const cJSON *obj, const struct ka_bus_field *fields, const char *where, struct ka_error *err) {
        char prefix[96] = "";
        if (where)
                snprintf(prefix, sizeof(prefix), "in \"%.64s\": ", where);
        for (const cJSON *v = obj->child; v; v = v->next) {
                const struct ka_bus_field *f = fields;
                while (f->name && strcmp(f->name, v->string) != 0)
                        f++;
                if (!f->name)
                        return ka_error_set(err, -EBADMSG, "%sunknown member \"%.64s\"", prefix, v->string);
                for (const cJSON *w = obj->child; w != v; w = w->next)
                        if (strcmp(w->string, v->string) == 0)
                                return ka_error_set(err, -EBADMSG, "%smember \"%s\" appears twice", prefix, v->string);
                int r = check_value(v, f, prefix, err);
                if (r < 0)
                        return r;
        }
        for (const struct ka_bus_field *f = fields; f->name; f++)
                if ((f->flags & KA_BUS_F_REQUIRED) && !cJSON_GetObjectItemCaseSensitive(obj, f->name))
                        return ka_error_set(err, -EBADMSG, "%smember \"%s\" is missing", prefix, f->name);
        return 0;
}

int ka_bus_payload_check(const cJSON *payload, const struct ka_bus_field *fields, struct ka_error *err) {
        if (!cJSON_IsObject(payload))
                return ka_error_set(err, -EBADMSG, "the payload must be an object");
        return check_fields(payload, fields, NULL, err);
}
