#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "mem.h"

int ka_json_parse(const char *text, size_t len, cJSON **ret, struct ka_error *err) {
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
        if (!j) {
                size_t at = end && end >= text ? (size_t)(end - text) : 0;
                return ka_error_set(err, -EBADMSG, "invalid JSON at byte %zu", at);
        }
        *ret = j;
        return 0;
}

char *ka_json_print(const cJSON *node) {
        char *s = cJSON_PrintUnformatted(node);
        return s ? s : ka_strdup("null");
}

int ka_json_quote(struct ka_buf *b, const char *s) {
        int r = ka_buf_putc(b, '"');
        for (const unsigned char *p = (const unsigned char *)s; r == 0 && *p; p++) {
                switch (*p) {
                case '"':
                        r = ka_buf_puts(b, "\\\"");
                        break;
                case '\\':
                        r = ka_buf_puts(b, "\\\\");
                        break;
                case '\n':
                        r = ka_buf_puts(b, "\\n");
                        break;
                case '\r':
                        r = ka_buf_puts(b, "\\r");
                        break;
                case '\t':
                        r = ka_buf_puts(b, "\\t");
                        break;
                default:
                        if (*p < 0x20)
                                r = ka_buf_printf(b, "\\u%04x", *p);
                        else
                                r = ka_buf_putc(b, (char)*p);
                }
        }
        return r < 0 ? r : ka_buf_putc(b, '"');
}

const cJSON *ka_json_path(const cJSON *obj, const char *dotted) {
        char key[256];
        const char *p = dotted;
        while (obj && *p) {
                const char *dot = strchr(p, '.');
                size_t n = dot ? (size_t)(dot - p) : strlen(p);
                if (n >= sizeof(key))
                        return NULL;
                memcpy(key, p, n);
                key[n] = '\0';
                obj = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
                p += n + (dot ? 1 : 0);
        }
        return obj;
}

const char *ka_json_str(const cJSON *obj, const char *key) {
        const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *ka_json_path_str(const cJSON *obj, const char *dotted) {
        const cJSON *v = ka_json_path(obj, dotted);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t ka_json_int(const cJSON *obj, const char *key, int64_t fallback) {
        const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
        return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : fallback;
}

bool ka_json_bool(const cJSON *obj, const char *key, bool fallback) {
        const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
        return cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
}

static cJSON *child_of_type(cJSON *obj, const char *key, int array) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        if (v && (array ? cJSON_IsArray(v) : cJSON_IsObject(v)))
                return v;
        cJSON *n = array ? cJSON_CreateArray() : cJSON_CreateObject();
        if (v)
                cJSON_ReplaceItemInObjectCaseSensitive(obj, key, n);
        else
                cJSON_AddItemToObject(obj, key, n);
        return n;
}

cJSON *ka_json_object(cJSON *obj, const char *key) {
        return child_of_type(obj, key, 0);
}

cJSON *ka_json_array(cJSON *obj, const char *key) {
        return child_of_type(obj, key, 1);
}

void ka_json_set(cJSON *obj, const char *key, cJSON *value) {
        if (cJSON_GetObjectItemCaseSensitive(obj, key))
                cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
        else
                cJSON_AddItemToObject(obj, key, value);
}

void ka_json_set_str(cJSON *obj, const char *key, const char *value) {
        ka_json_set(obj, key, cJSON_CreateString(value));
}

void ka_json_set_num(cJSON *obj, const char *key, double value) {
        ka_json_set(obj, key, cJSON_CreateNumber(value));
}

void ka_json_set_bool(cJSON *obj, const char *key, bool value) {
        ka_json_set(obj, key, cJSON_CreateBool(value));
}
