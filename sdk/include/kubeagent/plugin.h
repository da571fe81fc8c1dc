/* kubeagent SDK — the plugin descriptor.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * kubeagent_plugin_entry(), returning a pointer to a static, const
 * struct kubeagent_plugin.  The core checks abi_version, struct_size and
 * signature before it touches anything else, then validates the plugin's
 * config keys and calls init() with the host function table (host.h).
 * Plugins never link against the core; everything they need from it comes
 * through that table.
 *
 * The first four members of struct kubeagent_plugin are frozen forever so that
 * any future core can read and refuse an incompatible plugin. */
#ifndef KUBEAGENT_PLUGIN_H
#define KUBEAGENT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <kubeagent/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change of any SDK structure. */
#define KUBEAGENT_ABI_VERSION 1u

/* The build signature: build options that change the ABI or the runtime a
 * plugin needs.  It is computed from the compiler's own predefined macros, so
 * a plugin and the core built with different options disagree on it. */
#if defined(__SANITIZE_ADDRESS__)
#define KUBEAGENT_SIG_ASAN "1"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KUBEAGENT_SIG_ASAN "1"
#endif
#endif
#ifndef KUBEAGENT_SIG_ASAN
#define KUBEAGENT_SIG_ASAN "0"
#endif
#define KUBEAGENT_SIG_STR2(x) #x
#define KUBEAGENT_SIG_STR(x) KUBEAGENT_SIG_STR2(x)
#define KUBEAGENT_BUILD_SIGNATURE                                                                                      \
        "abi=" KUBEAGENT_SIG_STR(1) ";asan=" KUBEAGENT_SIG_ASAN ";ptr=" KUBEAGENT_SIG_STR(__SIZEOF_POINTER__)

enum kubeagent_plugin_kind {
        KUBEAGENT_KIND_CREDENTIAL = 1, /* how to reach and authenticate to one API server */
        KUBEAGENT_KIND_VOLUME = 2,     /* a pod volume / workspace volume type */
        KUBEAGENT_KIND_RETENTION = 3,  /* whether a finished agent's pod is deleted */
        KUBEAGENT_KIND_FRONTEND = 4,   /* demand and agents on a CI controller */
};

/* ---- Declarative config keys ------------------------------------------------
 *
 * A plugin declares the keys it serves in a table ended by an entry whose name
 * is NULL.  The core checks a user's block against it (unknown key: error with
 * file:line:col; wrong type: error; missing required key: error), fills the
 * plugin's conf struct at the given offsets, applies defaults, and prints
 * `kubeagent plugins --help NAME` from the same table.
 *
 * C type of the member at `offset`, per type:
 *   STRING, PATH, SECRET  char *   (NULL when unset and no default; PATH is
 *                                  resolved against the config file's folder
 *                                  and "~/" against $HOME; SECRET is wiped
 *                                  when freed and never printed)
 *   BOOL                  int      (1, 0, or -1 when unset and no default)
 *   INT                   int64_t  (INT64_MIN when unset and no default)
 *   DURATION              int64_t  milliseconds; a number means seconds,
 *                                  "500ms", "2s", "1m", "1h" also accepted
 *                                  (INT64_MIN when unset and no default)
 *   STRLIST               char **  NULL-terminated; a YAML list of strings or
 *                                  one string split on commas/whitespace
 *   JSON                  cJSON *  a deep copy of the node, any shape
 *
 * The core owns what it stores in the conf struct and frees it. */
enum kubeagent_config_type {
        KUBEAGENT_CFG_STRING = 1,
        KUBEAGENT_CFG_BOOL,
        KUBEAGENT_CFG_INT,
        KUBEAGENT_CFG_DURATION,
        KUBEAGENT_CFG_PATH,
        KUBEAGENT_CFG_SECRET,
        KUBEAGENT_CFG_STRLIST,
        KUBEAGENT_CFG_JSON,
};

enum kubeagent_config_flags {
        KUBEAGENT_CFG_REQUIRED = 1u << 0,   /* error when absent */
        KUBEAGENT_CFG_DEPRECATED = 1u << 1, /* accepted with a warning */
        KUBEAGENT_CFG_IGNORED = 1u << 2,    /* accepted with a warning, not stored (Jenkins-only) */
};

struct kubeagent_config_key {
        const char *name; /* JCasC spelling, camelCase */
        enum kubeagent_config_type type;
        const char *default_value; /* text parsed like a user value; NULL = none */
        unsigned flags;            /* enum kubeagent_config_flags */
        size_t offset;             /* offsetof() into the conf struct */
        const char *description;   /* one line for --help */
};

/* Where a plugin's config block came from; opaque to plugins, passed back to
 * the host's error_at() to blame a key with file:line:col. */
struct kubeagent_config_source;

struct kubeagent_host;

/* Per-plugin handle the core passes to init() and every host call that acts on
 * behalf of a plugin (logging prefix, ownership of registrations). */
struct kubeagent_plugin_handle;

struct kubeagent_credential_ops;
struct kubeagent_volume_ops;
struct kubeagent_retention_ops;
struct kubeagent_frontend_ops;

struct kubeagent_plugin {
        /* frozen: never moves, never changes meaning */
        uint32_t abi_version;  /* KUBEAGENT_ABI_VERSION */
        uint32_t struct_size;  /* sizeof(struct kubeagent_plugin) */
        const char *signature; /* KUBEAGENT_BUILD_SIGNATURE */
        enum kubeagent_plugin_kind kind;

        const char *name;        /* unique among all plugins, e.g. "kubeconfig" */
        const char *version;     /* the plugin's own version */
        const char *description; /* one line */

        /* Keys of the plugin's configuration block, and the size of the struct
         * they are stored into (0 and NULL when the plugin takes none).  A
         * credential plugin's block is an entry of `credentials:`; a frontend's
         * is `frontends.<name>`; a retention policy takes none; a volume
         * plugin declares its keys in its ops (one table per form). */
        const struct kubeagent_config_key *config_keys;
        size_t config_size;

        /* Called once after loading.  A failure unloads the plugin and
         * undoes everything it registered through the host.  *ret_state is
         * passed back to the plugin's ops.  May be NULL. */
        int (*init)(const struct kubeagent_host *host, struct kubeagent_plugin_handle *self, void **ret_state,
                    struct ka_error *err);
        /* Called once before the core shuts down.  May be NULL. */
        void (*fini)(void *state);

        /* Cross-field validation of one filled config block, after the core
         * checked every key's type.  Blame a key with host->error_at().  May
         * be NULL. */
        int (*validate)(void *state, const void *conf, const struct kubeagent_config_source *src, struct ka_error *err);

        /* Exactly one of these, matching `kind`. */
        const struct kubeagent_credential_ops *credential;
        const struct kubeagent_volume_ops *volume;
        const struct kubeagent_retention_ops *retention;
        const struct kubeagent_frontend_ops *frontend;

        void *reserved[8]; /* for additions without an ABI bump; must be NULL */
};

/* The one symbol a plugin exports.  Declared with default visibility so a
 * plugin can (and should) build with -fvisibility=hidden. */
#define KUBEAGENT_EXPORT __attribute__((visibility("default")))
KUBEAGENT_EXPORT const struct kubeagent_plugin *kubeagent_plugin_entry(void);

/* Boilerplate for the frozen header. */
#define KUBEAGENT_PLUGIN_HEADER(kind_)                                                                                 \
        .abi_version = KUBEAGENT_ABI_VERSION, .struct_size = sizeof(struct kubeagent_plugin),                          \
        .signature = KUBEAGENT_BUILD_SIGNATURE, .kind = (kind_)

#ifdef __cplusplus
}
#endif
#endif
