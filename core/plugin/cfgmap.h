/* core/plugin/cfgmap.h — checking a config block against a declarative key
 * table (struct kubeagent_config_key) and filling a plugin's conf struct.
 *
 * The same table serves validation, defaults and help text, for plugins and
 * for the core's own blocks.  A block is a cJSON object plus the locmap that
 * knows where its nodes are, so every message names file:line:col. */
#ifndef KA_PLUGIN_CFGMAP_H
#define KA_PLUGIN_CFGMAP_H

#include <cjson/cJSON.h>
#include <kubeagent/plugin.h>
#include <stdio.h>

#include "util/error.h"
#include "yaml/locmap.h"

/* The definition of the SDK's opaque struct. */
struct kubeagent_config_source {
        const cJSON *node;            /* the block (an object), or NULL when absent */
        const struct ka_locmap *locs; /* may be NULL */
        struct ka_loc where;          /* place to blame when node is NULL or unknown */
};

/* A source for `node`, placed by the locmap (or at `fallback`). */
struct kubeagent_config_source ka_cfgsrc(const cJSON *node, const struct ka_locmap *locs, struct ka_loc fallback);
/* The place of `key` in a block (the key itself), else of the block. */
struct ka_loc ka_cfgsrc_where(const struct kubeagent_config_source *src, const char *key);

/* Check and fill.  Every problem (unknown key with a suggestion, wrong type,
 * missing required key) goes into diags; warnings for Jenkins-only and
 * deprecated keys too.  `ignore` lists keys the caller handles itself (e.g.
 * "type" in a credentials entry).  Returns 0, or -EINVAL when any error was
 * added.  conf must be zeroed; fill it even on error so that clear() works. */
int ka_cfgmap_fill(const struct kubeagent_config_key *keys, const struct kubeagent_config_source *src,
                   const char *const *ignore, void *conf, struct ka_diags *diags);
/* Same, reporting only the first error into err. */
int ka_cfgmap_fill_err(const struct kubeagent_config_key *keys, const struct kubeagent_config_source *src, void *conf,
                       struct ka_error *err);
void ka_cfgmap_clear(const struct kubeagent_config_key *keys, void *conf);
/* Check a table itself (names, types, offsets inside conf_size). */
int ka_cfgmap_check_table(const struct kubeagent_config_key *keys, size_t conf_size, struct ka_error *err);
/* "  name  type  default  description" lines for --help. */
void ka_cfgmap_print_help(const struct kubeagent_config_key *keys, const char *indent, FILE *f);
const char *ka_cfgmap_type_name(enum kubeagent_config_type t);

#endif
