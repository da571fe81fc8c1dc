/* core/yaml/locmap.h — where each node of a parsed document came from.
 *
 * cJSON has no room for a source position, so the YAML loader records one per
 * node here: the position of the value, and for a member of a mapping the
 * position of its key.  Lookups are by node address, so a tree copied with
 * cJSON_Duplicate() needs ka_locmap_copy_tree() to keep its places.  File
 * names are interned: a struct ka_loc's file stays valid as long as the map. */
#ifndef KA_YAML_LOCMAP_H
#define KA_YAML_LOCMAP_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "util/macro.h"

struct ka_loc {
        const char *file;   /* NULL when unknown */
        unsigned line, col; /* 1-based; 0 when unknown */
};

struct ka_locmap;

struct ka_locmap *ka_locmap_new(void);
void ka_locmap_free(struct ka_locmap *m);
KA_DEFINE_CLEANUP(struct ka_locmap, ka_locmap_free)

const char *ka_locmap_intern(struct ka_locmap *m, const char *file);
void ka_locmap_set(struct ka_locmap *m, const cJSON *node, struct ka_loc value, struct ka_loc key);
/* The value's place; false (and *ret zeroed) when the node is unknown.  m may be NULL. */
bool ka_locmap_get(const struct ka_locmap *m, const cJSON *node, struct ka_loc *ret);
/* The key's place for a mapping member, else the value's. */
bool ka_locmap_get_key(const struct ka_locmap *m, const cJSON *node, struct ka_loc *ret);
/* Give every node of `to` the place of the node at the same position in
 * `from` (the two trees have the same shape, e.g. after cJSON_Duplicate). */
void ka_locmap_copy_tree(struct ka_locmap *m, const cJSON *from, const cJSON *to);
/* Forget the nodes of a tree about to be freed (optional: stale entries are
 * harmless unless the address is reused by a node of another tree). */
void ka_locmap_forget_tree(struct ka_locmap *m, const cJSON *tree);

#endif
