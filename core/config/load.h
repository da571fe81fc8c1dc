/* core/config/load.h — helpers shared by the config loaders (config.c,
 * cloud.c, template.c, container.c); not used outside core/config. */
#ifndef KA_CONFIG_LOAD_H
#define KA_CONFIG_LOAD_H

#include "config.h"
#include "plugin/cfgmap.h"

struct ka_loader {
        const struct ka_locmap *locs;
        const struct ka_registry *reg;
        struct ka_diags *diags;
};

/* The place of a node's value / of its key (the value's when not a member).
 * Messages about a value blame the value, messages about a key the key. */
struct ka_loc ka_load_where(const struct ka_loader *ld, const cJSON *node);
struct ka_loc ka_load_key_where(const struct ka_loader *ld, const cJSON *node);
struct kubeagent_config_source ka_load_source(const struct ka_loader *ld, const cJSON *node);

void ka_load_error(const struct ka_loader *ld, const cJSON *node, const char *fmt, ...) KA_PRINTF(3, 4);
void ka_load_key_error(const struct ka_loader *ld, const cJSON *node, const char *fmt, ...) KA_PRINTF(3, 4);
void ka_load_warn(const struct ka_loader *ld, const cJSON *node, const char *fmt, ...) KA_PRINTF(3, 4);
void ka_load_key_warn(const struct ka_loader *ld, const cJSON *node, const char *fmt, ...) KA_PRINTF(3, 4);

/* Check and fill a block with a key table; `manual` lists the keys the
 * caller reads itself.  Returns 0 or -EINVAL (problems in diags). */
int ka_load_fill(const struct ka_loader *ld, const struct kubeagent_config_key *keys, const cJSON *node,
                 const char *const *manual, void *conf);

/* Trim a string member in place; blank becomes NULL. */
void ka_load_normalize(char **s);

/* An integer given as a number or a string (JCasC's `fooStr` spellings):
 * absent, null or blank → `blank`.  Non-numeric: located error, *ret = blank.
 * `key` and then `alt_key` (may be NULL) are looked up in obj.  Returns the
 * member used, or NULL. */
const cJSON *ka_load_int(const struct ka_loader *ld, const cJSON *obj, const char *key, const char *alt_key,
                         int64_t blank, int64_t *ret);

/* A Jenkins "describable": `{symbol: {params}}`, or a bare `symbol` string
 * when `bare_ok`.  *ret_body is the params node (may be NULL or null). */
int ka_load_describable(const struct ka_loader *ld, const cJSON *node, const char *what, bool bare_ok,
                        const char **ret_symbol, const cJSON **ret_body);

/* A member that must be a list; NULL when absent or null (error when not a list). */
const cJSON *ka_load_list(const struct ka_loader *ld, const cJSON *obj, const char *key);

/* "[{key: k, value: v}, ...]" lists (annotations, podLabels) and "[{name: n}]"
 * (imagePullSecrets, with the name in .key). */
int ka_load_keyvals(const struct ka_loader *ld, const cJSON *list, bool name_only, const struct ka_template *tmpl,
                    struct ka_keyval ***ret, size_t *ret_n);
void ka_keyvals_free(struct ka_keyval **v, size_t n);

/* Retention policy symbol → retention plugin (error lists the known ones). */
const struct kubeagent_plugin_handle *ka_load_retention(const struct ka_loader *ld, const cJSON *node,
                                                        char **ret_symbol);

/* Grow an array of pointers by one. */
#define KA_PUSH(arr, n, item)                                                                                          \
        do {                                                                                                           \
                (arr) = ka_reallocarray((arr), (n) + 1, sizeof(*(arr)));                                               \
                (arr)[(n)++] = (item);                                                                                 \
        } while (0)

/* runAsUser/runAsGroup: a number (or numeric text); anything else is
 * dropped with a warning, as the plugin drops it.  *ret_node is the node
 * used, or NULL. */
int64_t ka_load_user_id(const struct ka_loader *ld, const cJSON *obj, const char *key, const cJSON **ret_node);
/* [a-z0-9]([-a-z0-9]*[a-z0-9])? */
bool ka_load_rfc1123_label(const char *s);

/* Containers (container.c) */
int ka_container_load(const struct ka_loader *ld, const cJSON *node, const struct ka_template *tmpl,
                      struct ka_container **ret);
void ka_container_free(struct ka_container *c);
KA_DEFINE_CLEANUP(struct ka_container, ka_container_free)
int ka_env_load_list(const struct ka_loader *ld, const cJSON *list, const struct ka_template *tmpl,
                     struct ka_env ***ret, size_t *ret_n);
void ka_env_free_list(struct ka_env **v, size_t n);

/* Clouds (cloud.c) */
int ka_cloud_load(const struct ka_loader *ld, const struct ka_config *cfg, const cJSON *node, struct ka_cloud **ret);
void ka_cloud_free(struct ka_cloud *c);
/* More templates for a loaded cloud (a cloud split over several files). */
void ka_cloud_add_templates(const struct ka_loader *ld, struct ka_cloud *c, const cJSON *list);
/* Checks that need all of a cloud's templates: inheritance, defaults provider. */
void ka_cloud_finish(const struct ka_loader *ld, struct ka_cloud *c, const cJSON *node);

#endif
