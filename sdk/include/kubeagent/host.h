/* kubeagent SDK — the host function table.
 *
 * The core hands a plugin one `const struct kubeagent_host *` in init().  It is
 * the plugin's only way into the core: logging with secret masking, errors that
 * carry file:line:col, typed config access, files, time, metrics and the bus.
 *
 * The table only ever grows at its end.  A plugin that wants a member added
 * after the first release checks `host->size` first:
 *     if (KUBEAGENT_HOST_HAS(host, bus_send)) ...
 * Nothing in it is ever removed or changes signature without an ABI bump. */
#ifndef KUBEAGENT_HOST_H
#define KUBEAGENT_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <kubeagent/error.h>
#include <kubeagent/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

enum kubeagent_log_level {
        KUBEAGENT_LOG_ERROR = 0,
        KUBEAGENT_LOG_WARN = 1,
        KUBEAGENT_LOG_INFO = 2,
        KUBEAGENT_LOG_DEBUG = 3,
        KUBEAGENT_LOG_TRACE = 4,
};

enum kubeagent_metric_type {
        KUBEAGENT_METRIC_COUNTER = 1,
        KUBEAGENT_METRIC_GAUGE = 2,
};

struct kubeagent_endpoint; /* credential.h */
struct kubeagent_metric;   /* owned by the core */
struct kubeagent_bus;      /* a plugin's connection to the bus, owned by the core */

#define KUBEAGENT_PRINTF(a, b) __attribute__((format(printf, a, b)))

struct kubeagent_host {
        uint32_t abi_version; /* KUBEAGENT_ABI_VERSION of the core */
        uint32_t size;        /* sizeof(struct kubeagent_host) of the core */

        /* -- logging ------------------------------------------------------- */
        /* One line, prefixed with the plugin's name.  Registered secrets are
         * replaced by ******** before the line is written. */
        void (*log)(struct kubeagent_plugin_handle *self, enum kubeagent_log_level level, const char *fmt, ...)
                KUBEAGENT_PRINTF(3, 4);
        int (*log_enabled)(enum kubeagent_log_level level);
        /* Mask this text (a token, password, agent secret) in every log line
         * and error message from now on; unregister before freeing it.
         * Texts shorter than 4 bytes are not registered. */
        void (*secret_register)(const char *secret);
        void (*secret_unregister)(const char *secret);
        /* Unregister, wipe and free a secret string (NULL is fine). */
        void (*secret_free)(char *secret);

        /* -- errors -------------------------------------------------------- */
        /* Fill err (when not NULL) and return code (negative errno). */
        int (*error_set)(struct ka_error *err, int code, const char *fmt, ...) KUBEAGENT_PRINTF(3, 4);
        /* Same, blaming `key` of a config block: file:line:col of the key
         * when present, else of the block itself. */
        int (*error_at)(struct ka_error *err, const struct kubeagent_config_source *src, const char *key, int code,
                        const char *fmt, ...) KUBEAGENT_PRINTF(5, 6);
        /* Warn (through the log) about `key` of a config block, with its place. */
        void (*warn_at)(struct kubeagent_plugin_handle *self, const struct kubeagent_config_source *src,
                        const char *key, const char *fmt, ...) KUBEAGENT_PRINTF(4, 5);

        /* -- config -------------------------------------------------------- */
        /* The raw node of `key` in a block (NULL when absent). */
        const cJSON *(*config_node)(const struct kubeagent_config_source *src, const char *key);
        /* The source of a nested block `key` (for plugins with sub-blocks),
         * or NULL when absent. */
        const struct kubeagent_config_source *(*config_child)(const struct kubeagent_config_source *src,
                                                              const char *key);
        /* Check a block against a key table and fill `conf`; free with
         * config_clear().  The core does this itself for a plugin's own
         * config_keys; this is for nested blocks. */
        int (*config_fill)(const struct kubeagent_config_key *keys, const struct kubeagent_config_source *src,
                           void *conf, struct ka_error *err);
        void (*config_clear)(const struct kubeagent_config_key *keys, void *conf);

        /* -- files --------------------------------------------------------- */
        /* Read a whole file of at most `max` bytes; *ret_data is
         * NUL-terminated and freed with free() (or secret_free()). */
        int (*read_file)(const char *path, size_t max, char **ret_data, size_t *ret_len, struct ka_error *err);
        /* Decode standard base64 (whitespace ignored); free with free(). */
        int (*base64_decode)(const char *in, size_t len, unsigned char **ret_data, size_t *ret_len);

        /* -- time ---------------------------------------------------------- */
        int64_t (*now_ms)(void);  /* monotonic clock */
        int64_t (*wall_ms)(void); /* Unix time; honours SOURCE_DATE_EPOCH in render */

        /* -- metrics ------------------------------------------------------- */
        /* Register a metric owned by this plugin (undone if init fails).
         * label_names: comma-separated, or NULL. */
        int (*metric_register)(struct kubeagent_plugin_handle *self, const char *name, const char *help,
                               enum kubeagent_metric_type type, const char *label_names,
                               struct kubeagent_metric **ret_metric);
        /* label_values: comma-separated in the order of label_names, or NULL. */
        void (*metric_add)(struct kubeagent_metric *metric, const char *label_values, double delta);
        void (*metric_set)(struct kubeagent_metric *metric, const char *label_values, double value);

        /* -- bus ----------------------------------------------------------- */
        /* A frontend's end of the bus (see frontend.h for the messages).
         * recv returns -ETIMEDOUT after timeout_ms, -ECANCELED once the
         * core asks the plugin to stop. */
        int (*bus_send)(struct kubeagent_bus *bus, const cJSON *message, struct ka_error *err);
        int (*bus_recv)(struct kubeagent_bus *bus, int timeout_ms, cJSON **ret_message, struct ka_error *err);

        /* -- documents ----------------------------------------------------- */
        /* Parse a YAML (or JSON) file the plugin reads itself (a kubeconfig)
         * with the core's YAML loader.  *ret_doc is a config source for the
         * whole document: config_node(), config_child(), config_at(),
         * config_fill() and error_at() work on it and blame file:line:col.
         * *ret_root (may be NULL) is the document's root node, NULL for an
         * empty file; it lives as long as the document.  Free with
         * document_free(). */
        int (*document_load)(const char *path, struct kubeagent_config_source **ret_doc, const cJSON **ret_root,
                             struct ka_error *err);
        void (*document_free)(struct kubeagent_config_source *doc);
        /* The source of any node of the same document as src (an element of
         * a list, say), for config_fill() and error_at().  Same lifetime as
         * config_child()'s result: use it at once. */
        const struct kubeagent_config_source *(*config_at)(const struct kubeagent_config_source *src,
                                                           const cJSON *node);

        /* -- time, continued ------------------------------------------------ */
        /* RFC 3339 ("2026-11-26T04:50:14Z", offsets and fractions allowed)
         * to Unix ms; -EINVAL when it is not one. */
        int (*parse_time)(const char *rfc3339, int64_t *ret_unix_ms);

        /* -- credentials ----------------------------------------------------- */
        /* Free what an endpoint holds, its secrets wiped, and zero it (a
         * resolve() that fails half-way; the core frees the ones it gets). */
        void (*endpoint_clear)(struct kubeagent_endpoint *ep);
};

#define KUBEAGENT_HOST_HAS(host, member)                                                                               \
        ((host)->size >= offsetof(struct kubeagent_host, member) + sizeof((host)->member))

#ifdef __cplusplus
}
#endif
#endif
