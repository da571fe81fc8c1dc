/* core/bus/config.h — the `kubeagent.bus` block: its keys, and the checks
 * that go beyond each key's type.
 *
 *     kubeagent:
 *       bus:
 *         workers: tcp://0.0.0.0:7070       # the core listens, workers connect
 *         frontends: inproc://kubeagent-frontends
 *         keyFile: /etc/kubeagent/bus.key  # required as soon as one address is tcp://
 *         leaseDuration: 30
 *
 * Filling and checking a block takes two calls, because core/bus may not use
 * the config machinery of core/plugin (DESIGN.md §7):
 *
 *     struct ka_bus_config bc = {0};
 *     ka_cfgmap_fill(ka_bus_config_keys, &src, NULL, &bc, &diags);   // types, defaults, file:line:col
 *     const char *key;
 *     if (ka_bus_config_validate(&bc, &key, &err) < 0)               // then blame `key`:
 *             ... ka_cfgsrc_where(&src, key) ...
 *     ka_cfgmap_clear(ka_bus_config_keys, &bc);
 *
 * kubeagentd must refuse to start when validation fails: a tcp:// address
 * without a usable key file is an error, never a fallback to clear text. */
#ifndef KA_BUS_CONFIG_H
#define KA_BUS_CONFIG_H

#include <kubeagent/plugin.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

struct ka_bus_config {
        char *workers;   /* address of the core <-> workers channel */
        char *frontends; /* address of the core <-> frontends channel */
        char *name;      /* this worker's name on the bus; NULL: the host name */
        char *key_file;
        int64_t lease_duration;         /* ms */
        int64_t renew_interval;         /* ms */
        int64_t resend_interval;        /* ms */
        int64_t max_clock_skew;         /* ms */
        int64_t reconnect_interval_max; /* ms */
        int64_t max_message_size;       /* bytes */
};

extern const struct kubeagent_config_key ka_bus_config_keys[];

#define KA_BUS_MIN_MESSAGE_SIZE 65536
#define KA_BUS_MAX_MESSAGE_SIZE (64 << 20)

/* Check a filled config: both addresses parse, a tcp:// address comes with
 * a key file that ka_bus_key_load() accepts (and a key file, when set, is
 * checked even for local addresses), the
 * durations fit together, the size is within bounds.  On failure *ret_key
 * names the key to blame (a name from ka_bus_config_keys). */
int ka_bus_config_validate(const struct ka_bus_config *c, const char **ret_key, struct ka_error *err);
/* Whether either channel runs over tcp:// (and so must be sealed). */
bool ka_bus_config_needs_key(const struct ka_bus_config *c);

#endif
