/* core/yaml/yaml.h — YAML text to a cJSON tree that remembers places, and back.
 *
 * Parsing follows what Kubernetes and JCasC users write: YAML 1.1 plain
 * scalars (yes/no/on/off/y/n and true/false are booleans, 0755 is octal,
 * 0x1F hex, 1_000 is 1000, ~ and null are null), quoted and block scalars are
 * always strings, anchors and aliases are expanded, `<<` merge keys merge,
 * duplicate keys and non-scalar keys are errors.  Every error names
 * file:line:col.  Inputs are bounded in size, nesting depth and node count
 * (after alias expansion, so "billion laughs" documents are refused).
 *
 * The caller owns the returned tree (cJSON_Delete) and the locmap. */
#ifndef KA_YAML_YAML_H
#define KA_YAML_YAML_H

#include <cjson/cJSON.h>
#include <kubeagent/error.h>
#include <stdbool.h>
#include <stddef.h>

#include "locmap.h"
#include "util/buf.h"

#define KA_YAML_MAX_BYTES (4u << 20)
#define KA_YAML_MAX_DEPTH 128u
#define KA_YAML_MAX_NODES 200000u

/* Where a text came from, for locations: the text's line 1 column 1 is at
 * (1 + line_offset, 1 + col_offset) of `file`, and col_offset applies to
 * every line (for YAML embedded as a block scalar in another file). */
struct ka_yaml_origin {
        const char *file;
        unsigned line_offset, col_offset;
};

/* One document.  An empty text gives *ret = NULL and 0.  More than one
 * document is an error. */
int ka_yaml_parse(const char *text, size_t len, const struct ka_yaml_origin *origin, struct ka_locmap *locs,
                  cJSON **ret, struct ka_error *err);
/* Every document of a stream, as a JSON array (empty documents skipped). */
int ka_yaml_parse_all(const char *text, size_t len, const struct ka_yaml_origin *origin, struct ka_locmap *locs,
                      cJSON **ret_array, struct ka_error *err);
int ka_yaml_load_file(const char *path, struct ka_locmap *locs, cJSON **ret, struct ka_error *err);

/* How a plain scalar would be read: the cJSON it resolves to (a new node). */
cJSON *ka_yaml_resolve_plain(const char *s);

/* Write a tree as block-style YAML (kubectl's layout). */
int ka_yaml_emit(const cJSON *node, struct ka_buf *out);
/* The same, ending the line of each scalar (and empty collection) with
 * "  # <text>" when note() returns a text for its node. */
int ka_yaml_emit_notes(const cJSON *node, struct ka_buf *out, const char *(*note)(const cJSON *node, void *ctx),
                       void *ctx);

#endif
