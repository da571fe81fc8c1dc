/* core/plugin/plugin.h — loading plugins and finding them.
 *
 * A registry holds the plugins loaded from a search path.  Loading checks, in
 * order: the file is not writable by other users (nor its folder), dlopen
 * with RTLD_NOW|RTLD_LOCAL succeeds, the one entry symbol exists, the frozen
 * header matches (ABI version, struct size, build signature), the descriptor
 * is complete for its kind, its name and symbols are not taken by a plugin
 * already loaded, its key tables are sound, and init() succeeds.  A refusal
 * is one line naming the file and the reason; a failed init is rolled back
 * (metrics it registered are removed, the object is unloaded).  Under
 * AddressSanitizer objects are never dlclose()d, so leak reports keep their
 * symbols.
 *
 * The registry owns its plugins; ka_registry_free() calls every fini(). */
#ifndef KA_PLUGIN_PLUGIN_H
#define KA_PLUGIN_PLUGIN_H

#include <kubeagent/kubeagent.h>
#include <stdbool.h>

#include "cfgmap.h"
#include "util/error.h"

struct kubeagent_plugin_handle {
        const struct kubeagent_plugin *desc;
        char *path;  /* the file it was loaded from, or "<builtin>" */
        void *dl;    /* dlopen handle, NULL for built-ins */
        void *state; /* what init() returned */
};

struct ka_registry {
        struct kubeagent_plugin_handle **v;
        size_t n;
};

/* The host function table handed to every plugin. */
const struct kubeagent_host *ka_host(void);
/* Free what a credential endpoint holds, its secrets wiped, and zero it
 * (the host table's endpoint_clear). */
void ka_plugin_endpoint_clear(struct kubeagent_endpoint *ep);

/* The implementation of the host table's bus_send/bus_recv: core/bus's
 * ka_bus_host_send/ka_bus_host_recv, installed by the daemon before it
 * starts any frontend (core/plugin may not include core/bus).  Until then,
 * and after ka_host_set_bus(NULL), both fail with -ENOSYS. */
struct ka_host_bus {
        int (*send)(struct kubeagent_bus *bus, const cJSON *message, struct ka_error *err);
        int (*recv)(struct kubeagent_bus *bus, int timeout_ms, cJSON **ret_message, struct ka_error *err);
};
void ka_host_set_bus(const struct ka_host_bus *ops);

const char *ka_plugin_kind_name(enum kubeagent_plugin_kind kind);

/* The directories to load from: $KUBEAGENT_PLUGIN_PATH (colon-separated)
 * when set, else `extra` (from the config's kubeagent.pluginPath) followed by
 * the built-in folder. */
char **ka_plugin_search_path(char *const *extra);
const char *ka_plugin_default_dir(void);

int ka_registry_load_file(struct ka_registry *reg, const char *path, struct ka_error *err);
/* Every *.so in dir, in name order; refusals go to diags.  A missing folder
 * is -ENOENT with nothing added.  Returns the number loaded. */
int ka_registry_load_dir(struct ka_registry *reg, const char *dir, struct ka_diags *diags);
/* Every folder of a search path; returns the number of refusals (0 = all good). */
int ka_registry_load_path(struct ka_registry *reg, char *const *dirs, struct ka_diags *diags);
/* Register a descriptor compiled into the program (same checks, no file). */
int ka_registry_add_builtin(struct ka_registry *reg, const struct kubeagent_plugin *desc, struct ka_error *err);
void ka_registry_free(struct ka_registry *reg);

const struct kubeagent_plugin_handle *ka_registry_find(const struct ka_registry *reg, enum kubeagent_plugin_kind kind,
                                                       const char *name);
/* Volume plugins by symbol (and which form the symbol selects), retention
 * plugins by symbol (form is 0). */
const struct kubeagent_plugin_handle *ka_registry_find_symbol(const struct ka_registry *reg,
                                                              enum kubeagent_plugin_kind kind, const char *symbol,
                                                              int *ret_form);

/* The key table and conf size of a plugin's config (form 0) or of a volume
 * form (KUBEAGENT_VOLUME_POD / _WORKSPACE). */
const struct kubeagent_config_key *ka_plugin_keys(const struct kubeagent_plugin_handle *p, int form, size_t *ret_size);
/* Fill a conf for one block of the user's config and run the plugin's
 * validate(); problems go to diags.  Free with ka_plugin_conf_free(). */
int ka_plugin_conf_new(const struct kubeagent_plugin_handle *p, int form, const struct kubeagent_config_source *src,
                       const char *const *ignore, void **ret_conf, struct ka_diags *diags);
void ka_plugin_conf_free(const struct kubeagent_plugin_handle *p, int form, void *conf);

#endif
