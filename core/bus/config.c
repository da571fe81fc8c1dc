#include "config.h"

#include <errno.h>
#include <stddef.h>

#include "envelope.h"
#include "seal.h"
#include "socket.h"
#include "util/str.h"

#define KEY(name_, type_, default_, member_, description_)                                                             \
        { name_, type_, default_, 0, offsetof(struct ka_bus_config, member_), description_ }

const struct kubeagent_config_key ka_bus_config_keys[] = {
        KEY("workers", KUBEAGENT_CFG_STRING, "inproc://kubeagent-workers", workers,
            "channel between the core and its workers: the core listens, workers connect "
            "(inproc://NAME, ipc://PATH or tcp://HOST:PORT)"),
        KEY("frontends", KUBEAGENT_CFG_STRING, "inproc://kubeagent-frontends", frontends,
            "channel between the core and the frontends (same forms as workers)"),
        KEY("name", KUBEAGENT_CFG_STRING, NULL, name, "this worker's name on the bus (default: the host name)"),
        KEY("keyFile", KUBEAGENT_CFG_PATH, NULL, key_file,
            "pre-shared key sealing every message (32 bytes or 64 hex digits, mode 0600); "
            "required when an address is tcp://"),
        KEY("leaseDuration", KUBEAGENT_CFG_DURATION, "30", lease_duration,
            "how long a worker holds a job without renewing it before the core gives it to another"),
        KEY("renewInterval", KUBEAGENT_CFG_DURATION, "10", renew_interval,
            "how often workers renew their leases (at most half of leaseDuration)"),
        KEY("resendInterval", KUBEAGENT_CFG_DURATION, "1", resend_interval,
            "how long a message waits for its acknowledgement before it is sent again"),
        KEY("maxClockSkew", KUBEAGENT_CFG_DURATION, "60", max_clock_skew,
            "sealed messages stamped further than this from the local clock are refused"),
        KEY("reconnectIntervalMax", KUBEAGENT_CFG_DURATION, "5", reconnect_interval_max,
            "longest wait between two attempts to reconnect a broken connection"),
        KEY("maxMessageSize", KUBEAGENT_CFG_INT, "1048576", max_message_size, "largest message accepted, in bytes"),
        {NULL, 0, NULL, 0, 0, NULL},
};

static bool is_tcp(const char *address) {
        return ka_startswith(address, "tcp://");
}

bool ka_bus_config_needs_key(const struct ka_bus_config *c) {
        return is_tcp(c->workers) || is_tcp(c->frontends);
}

static int blame(const char **ret_key, const char *key, int code) {
        if (ret_key)
                *ret_key = key;
        return code;
}

int ka_bus_config_validate(const struct ka_bus_config *c, const char **ret_key, struct ka_error *err) {
        enum ka_bus_transport t;
        int r;
        if ((r = ka_bus_address_parse(c->workers, &t, err)) < 0)
                return blame(ret_key, "workers", r);
        if ((r = ka_bus_address_parse(c->frontends, &t, err)) < 0)
                return blame(ret_key, "frontends", r);
        if (c->name && !ka_bus_valid_name(c->name))
                return blame(ret_key, "name",
                             ka_error_set(err, -EINVAL,
                                          "bus name \"%s\": use 1 to %d letters, digits, '.', '_' or '-', "
                                          "starting with a letter or digit",
                                          c->name, KA_BUS_NAME_MAX));
        if (ka_bus_config_needs_key(c) && ka_isempty(c->key_file))
                return blame(ret_key, is_tcp(c->workers) ? "workers" : "frontends",
                             ka_error_set(err, -EINVAL,
                                          "a tcp:// bus needs keyFile: every message on it is sealed with a "
                                          "pre-shared key (make one with `openssl rand -hex 32 > bus.key; "
                                          "chmod 600 bus.key`)"));
        if (!ka_isempty(c->key_file)) {
                struct ka_bus_key k;
                if ((r = ka_bus_key_load(c->key_file, &k, err)) < 0)
                        return blame(ret_key, "keyFile", r);
                ka_bus_key_wipe(&k);
        }
        if (c->lease_duration < 100)
                return blame(ret_key, "leaseDuration",
                             ka_error_set(err, -EINVAL, "leaseDuration must be at least 100ms"));
        if (c->renew_interval <= 0 || c->renew_interval * 2 > c->lease_duration)
                return blame(ret_key, "renewInterval",
                             ka_error_set(err, -EINVAL,
                                          "renewInterval must be more than 0 and at most half of leaseDuration "
                                          "(%lldms), or a lease could lapse between two renewals",
                                          (long long)c->lease_duration));
        if (c->resend_interval <= 0 || c->resend_interval * 2 > c->lease_duration)
                return blame(ret_key, "resendInterval",
                             ka_error_set(err, -EINVAL,
                                          "resendInterval must be more than 0 and at most half of leaseDuration "
                                          "(%lldms)",
                                          (long long)c->lease_duration));
        if (c->max_clock_skew <= 0)
                return blame(ret_key, "maxClockSkew", ka_error_set(err, -EINVAL, "maxClockSkew must be more than 0"));
        if (c->reconnect_interval_max < 100)
                return blame(ret_key, "reconnectIntervalMax",
                             ka_error_set(err, -EINVAL, "reconnectIntervalMax must be at least 100ms"));
        if (c->max_message_size < KA_BUS_MIN_MESSAGE_SIZE || c->max_message_size > KA_BUS_MAX_MESSAGE_SIZE)
                return blame(ret_key, "maxMessageSize",
                             ka_error_set(err, -EINVAL, "maxMessageSize must be from %d to %d bytes",
                                          KA_BUS_MIN_MESSAGE_SIZE, KA_BUS_MAX_MESSAGE_SIZE));
        return 0;
}
