/* core/util/json.h — small cJSON helpers shared by every module.
 *
 * Lookups never fail loudly: a missing member or one of another type reads as
 * NULL (or the fallback), so callers check once. */
#ifndef KA_UTIL_JSON_H
#define KA_UTIL_JSON_H

#include <cjson/cJSON.h>
#include <kubeagent/error.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* Parse JSON text of len bytes; errors say where ("at byte 17"). */
int ka_json_parse(const char *text, size_t len, cJSON **ret, struct ka_error *err);
/* Compact text, malloc()ed. */
char *ka_json_print(const cJSON *node);

/* Append s as a JSON string literal (with quotes). */
int ka_json_quote(struct ka_buf *b, const char *s);

/* obj.a.b.c by a dotted path; NULL when any step is missing. */
const cJSON *ka_json_path(const cJSON *obj, const char *dotted);
const char *ka_json_str(const cJSON *obj, const char *key); /* string member or NULL */
const char *ka_json_path_str(const cJSON *obj, const char *dotted);
int64_t ka_json_int(const cJSON *obj, const char *key, int64_t fallback);
bool ka_json_bool(const cJSON *obj, const char *key, bool fallback);

/* Get obj[key], creating it as an object when missing (or not an object). */
cJSON *ka_json_object(cJSON *obj, const char *key);
/* Get obj[key], creating it as an array when missing (or not an array). */
cJSON *ka_json_array(cJSON *obj, const char *key);
/* Set obj[key] to a string / number / bool / node, replacing what was there. */
void ka_json_set_str(cJSON *obj, const char *key, const char *value);
void ka_json_set_num(cJSON *obj, const char *key, double value);
void ka_json_set_bool(cJSON *obj, const char *key, bool value);
void ka_json_set(cJSON *obj, const char *key, cJSON *value);

#endif
