/* Unit tests for core/bus/config: the kubeagent.bus key table and the checks
 * beyond it, each blaming the key at fault. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/config.h"
#include "plugin/cfgmap.h"
#include "tap.h"
#include "util/fs.h"
#include "util/mem.h"

static char dir[] = "/tmp/ka-bus-config-XXXXXX";

/* Fill a config from YAML-ish JSON; returns the validation result, with the
 * blamed key and message. */
static int validate(const char *json, const char **ret_key, struct ka_error *err) {
        cJSON *o = cJSON_Parse(json);
        struct kubeagent_config_source src = ka_cfgsrc(o, NULL, (struct ka_loc){0});
        struct ka_bus_config c = {0};
        struct ka_diags d = {0};
        int r = ka_cfgmap_fill(ka_bus_config_keys, &src, NULL, &c, &d);
        if (r == 0)
                r = ka_bus_config_validate(&c, ret_key, err);
        else
                *ret_key = "(fill)";
        ka_diags_free(&d);
        ka_cfgmap_clear(ka_bus_config_keys, &c);
        cJSON_Delete(o);
        return r;
}

static void refused(const char *json, const char *key, const char *msg_part) {
        const char *got = NULL;
        struct ka_error err = {0};
        ok(validate(json, &got, &err) < 0, "%s is refused", json);
        is_str(got, key, "%s: blames %s", json, key);
        like(err.msg, msg_part, "%s: says why", json);
}

int main(void) {
        ka_mem_init();
        if (!mkdtemp(dir))
                abort();
        struct ka_bus_config c = {0};
        struct kubeagent_config_source none = ka_cfgsrc(NULL, NULL, (struct ka_loc){0});
        struct ka_diags d = {0};
        is_int(ka_cfgmap_fill(ka_bus_config_keys, &none, NULL, &c, &d), 0, "no block: defaults");
        is_str(c.workers, "inproc://kubeagent-workers", "workers in process by default");
        is_str(c.frontends, "inproc://kubeagent-frontends", "frontends too");
        ok(c.lease_duration == 30000 && c.renew_interval == 10000 && c.resend_interval == 1000,
           "lease 30s, renew 10s, resend 1s");
        ok(c.max_clock_skew == 60000 && c.reconnect_interval_max == 5000 && c.max_message_size == 1048576,
           "skew 60s, reconnect backoff up to 5s, 1 MiB messages");
        const char *key = NULL;
        struct ka_error err = {0};
        is_int(ka_bus_config_validate(&c, &key, &err), 0, "the defaults are valid");
        ok(!ka_bus_config_needs_key(&c), "and need no key");
        ka_cfgmap_clear(ka_bus_config_keys, &c);
        ka_diags_free(&d);

        refused("{\"workers\":\"tcp://*:7070\"}", "workers", "a tcp:// bus needs keyFile");
        refused("{\"frontends\":\"tcp://10.0.0.1:7071\"}", "frontends", "a tcp:// bus needs keyFile");
        refused("{\"workers\":\"tcp://host\"}", "workers", "expected tcp://HOST:PORT");
        refused("{\"frontends\":\"http://x\"}", "frontends", "expected inproc://, ipc:// or tcp://");
        refused("{\"name\":\"-w\"}", "name", "use 1 to 63 letters");
        refused("{\"keyFile\":\"/nonexistent/bus.key\"}", "keyFile", "No such file or directory");
        refused("{\"leaseDuration\":\"50ms\"}", "leaseDuration", "at least 100ms");
        refused("{\"leaseDuration\":10,\"renewInterval\":6}", "renewInterval", "at most half of leaseDuration");
        refused("{\"resendInterval\":0}", "resendInterval", "more than 0");
        refused("{\"maxClockSkew\":0}", "maxClockSkew", "more than 0");
        refused("{\"reconnectIntervalMax\":\"10ms\"}", "reconnectIntervalMax", "at least 100ms");
        refused("{\"maxMessageSize\":1000}", "maxMessageSize", "from 65536 to 67108864 bytes");

        char *keyfile = ka_path_join(dir, "bus.key");
        const char hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
        if (ka_write_file_atomic(keyfile, hex, strlen(hex), 0600, NULL) < 0)
                abort();
        char *json = ka_asprintf("{\"workers\":\"tcp://*:7070\",\"keyFile\":\"%s\",\"leaseDuration\":\"2s\","
                                 "\"renewInterval\":\"1s\"}",
                                 keyfile);
        is_int(validate(json, &key, &err), 0, "tcp with a good key file and a lease twice the renewal is valid");
        free(json);
        unlink(keyfile);
        free(keyfile);
        rmdir(dir);
        return tap_done();
}
