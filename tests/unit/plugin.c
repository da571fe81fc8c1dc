/* Unit tests for core/plugin: the loader with real built plugins, the
 * config-key tables, and the retention plugins through the loader. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/plugin.h"
#include "tap.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/secret.h"
#include "yaml/yaml.h"

static const char *test_dir;

static char *test_plugin(const char *name) {
        return ka_asprintf("%s/%s.so", test_dir, name);
}

static int load(struct ka_registry *reg, const char *name, struct ka_error *err) {
        _cleanup_free_ char *p = test_plugin(name);
        ka_error_clear(err);
        return ka_registry_load_file(reg, p, err);
}

static void test_refusals(void) {
        struct ka_registry reg = {0};
        struct ka_error err = {0};

        is_int(load(&reg, "test-good", &err), 0, "a good plugin loads");
        const struct kubeagent_plugin_handle *h = ka_registry_find(&reg, KUBEAGENT_KIND_VOLUME, "test-good");
        ok(h && strcmp(h->desc->version, "1.2.3") == 0, "found by kind and name");
        int form = 0;
        ok(ka_registry_find_symbol(&reg, KUBEAGENT_KIND_VOLUME, "testVolume", &form) == h &&
                   form == KUBEAGENT_VOLUME_POD,
           "found by symbol, with its form");
        struct ka_metric *m;
        ka_metric_register(NULL, "kubeagent_test_good_loads_total", NULL, KUBEAGENT_METRIC_COUNTER, NULL, &m, NULL);
        is_int((int)ka_metric_get(m, NULL), 1, "init ran and used the host table");

        is_int(load(&reg, "test-wrong-abi", &err), -EPROTO, "wrong ABI refused");
        like(err.msg, "test-wrong-abi.so: built for plugin ABI version 99, this kubeagent has version 1",
             "wrong ABI: clear reason naming the file");
        is_int(load(&reg, "test-wrong-size", &err), -EPROTO, "another descriptor size refused");
        _cleanup_free_ char *size_msg =
                ka_asprintf("test-wrong-size.so: descriptor is %zu bytes, this kubeagent expects %zu",
                            sizeof(struct kubeagent_plugin) - sizeof(void *), sizeof(struct kubeagent_plugin));
        like(err.msg, size_msg, "wrong size: clear reason naming the file");
        is_int(load(&reg, "test-bad-signature", &err), -EPROTO, "other build options refused");
        like(err.msg, "build signature \"abi=1;asan=7;ptr=8\" differs from kubeagent's", "signature: clear reason");

        is_int(load(&reg, "test-init-fails", &err), -EIO, "failing init refused");
        like(err.msg, "init failed: cannot reach the license server", "failing init: its reason");
        ok(ka_registry_find(&reg, KUBEAGENT_KIND_RETENTION, "test-init-fails") == NULL, "failing plugin not kept");
        struct ka_buf out = KA_BUF_INIT(0);
        ka_metrics_render(&out);
        ok(!strstr(out.data, "kubeagent_test_init_fails_total"), "what its init registered is rolled back");
        ok(strstr(out.data, "kubeagent_test_good_loads_total") != NULL, "other plugins' metrics stay");
        ka_buf_free(&out);

        is_int(load(&reg, "test-twin", &err), -EEXIST, "duplicate name refused");
        like(err.msg, "a plugin named \"test-good\" is already loaded from", "duplicate: clear reason");

        is_int(load(&reg, "test-not-a-plugin", &err), -ENOEXEC, "a library without the entry refused");
        like(err.msg, "not a kubeagent plugin (no kubeagent_plugin_entry symbol)", "not a plugin: clear reason");

        _cleanup_free_ char *missing = test_plugin("no-such-plugin");
        is_int(ka_registry_load_file(&reg, missing, &err), -ENOENT, "missing file refused");
        is_int(reg.n, 1, "only the good plugin is registered");

        /* file writable by others */
        char dir[] = "/tmp/ka-plugin-XXXXXX";
        ok(mkdtemp(dir) != NULL, "temp dir");
        chmod(dir, 0755);
        _cleanup_free_ char *src = test_plugin("test-good");
        _cleanup_free_ char *copy = ka_path_join(dir, "test-copy.so");
        char *data;
        size_t len;
        ka_read_file(src, 64u << 20, &data, &len, &err);
        ka_write_file_atomic(copy, data, len, 0644, &err);
        free(data);
        chmod(copy, 0646);
        struct ka_registry reg2 = {0};
        is_int(ka_registry_load_file(&reg2, copy, &err), -EPERM, "world-writable file refused");
        like(err.msg, "writable by other users (mode 0646); refusing to load it", "world-writable: clear reason");
        chmod(copy, 0644);
        chmod(dir, 0777);
        is_int(ka_registry_load_file(&reg2, copy, &err), -EPERM, "file in a world-writable folder refused");
        like(err.msg, "is writable by other users", "world-writable folder: clear reason");
        chmod(dir, 0755);

        /* a folder: refusals are collected, the rest loads in name order */
        struct ka_diags d = {0};
        struct ka_registry reg3 = {0};
        int n = ka_registry_load_dir(&reg3, test_dir, &d);
        is_int(n, 4, "the four sound plugins of the test folder load");
        is_int(d.errors, 6, "the six bad ones are refused, each with its reason");
        ka_diags_free(&d);
        ka_registry_free(&reg3);

        ka_registry_free(&reg2);
        unlink(copy);
        rmdir(dir);
        ka_registry_free(&reg);
}

static cJSON *yaml(const char *text, struct ka_locmap *locs) {
        cJSON *j = NULL;
        struct ka_error err = {0};
        struct ka_yaml_origin o = {.file = "/etc/kubeagent/k.yaml"};
        ka_yaml_parse(text, strlen(text), &o, locs, &j, &err);
        return j;
}

struct good_conf {
        char *path;
        char *mount_path;
        int read_only;
        int64_t size;
        int64_t timeout_ms;
        char **tags;
        cJSON *extra;
        char *token;
};

static void test_cfgmap(void) {
        struct ka_registry reg = {0};
        struct ka_error err = {0};
        load(&reg, "test-good", &err);
        const struct kubeagent_plugin_handle *h = ka_registry_find(&reg, KUBEAGENT_KIND_VOLUME, "test-good");

        struct ka_locmap *locs = ka_locmap_new();
        cJSON *j = yaml("path: /data\nmountPath: /m\nreadOnly: yes\nsize: \"12\"\ntimeout: 500ms\n"
                        "tags: a, b c\nextra: {x: [1]}\ntoken: hunter22\nnodeProperties: []\n",
                        locs);
        struct kubeagent_config_source src = ka_cfgsrc(j, locs, (struct ka_loc){0});
        struct ka_diags d = {0};
        void *conf = NULL;
        is_int(ka_plugin_conf_new(h, KUBEAGENT_VOLUME_POD, &src, NULL, &conf, &d), 0, "a good block fills");
        struct good_conf *c = conf;
        is_str(c->path, "/data", "string");
        is_int(c->read_only, 1, "YAML 1.1 bool");
        is_int(c->size, 12, "integer from a quoted number");
        is_int(c->timeout_ms, 500, "duration with a unit");
        ok(c->tags && ka_strv_len(c->tags) == 3 && strcmp(c->tags[2], "c") == 0, "list from a string");
        ok(cJSON_IsArray(ka_json_path(c->extra, "x")), "JSON kept as a tree");
        struct ka_error e2;
        ka_error_set(&e2, -1, "hunter22");
        is_str(e2.msg, "********", "secret keys are registered for masking");
        is_int(d.warnings, 1, "a Jenkins-only key warns");
        like(d.v[0].msg, "\"nodeProperties\" only has a meaning inside Jenkins; ignored", "warning text");
        is_int(d.v[0].line, 9, "warning is located");
        ka_plugin_conf_free(h, KUBEAGENT_VOLUME_POD, conf);
        ka_diags_free(&d);
        cJSON_Delete(j);

        j = yaml("mountPath: /m\ntimeout: 3\n", locs);
        src = ka_cfgsrc(j, locs, (struct ka_loc){0});
        is_int(ka_plugin_conf_new(h, KUBEAGENT_VOLUME_POD, &src, NULL, &conf, &d), -EINVAL, "missing required key");
        like(d.v[0].msg, "missing required key \"path\"", "names the key");
        ka_diags_free(&d);
        cJSON_Delete(j);

        j = yaml("path: /p\nmountPath: /m\nreadOnly: maybe\nsize: 1.5\ntimout: 2\nzzz: 1\ntags: {a: b}\n", locs);
        src = ka_cfgsrc(j, locs, (struct ka_loc){0});
        is_int(ka_plugin_conf_new(h, KUBEAGENT_VOLUME_POD, &src, NULL, &conf, &d), -EINVAL, "bad values refused");
        is_int(d.errors, 5, "every problem is reported, not just the first");
        struct ka_buf out = KA_BUF_INIT(0);
        for (size_t i = 0; i < d.n; i++)
                ka_buf_printf(&out, "%s:%u:%u: %s\n", d.v[i].file, d.v[i].line, d.v[i].col, d.v[i].msg);
        like(out.data, "/etc/kubeagent/k.yaml:3:11: \"readOnly\": expected true or false", "bool error located");
        like(out.data, "k.yaml:4:7: \"size\": expected an integer", "int error located");
        like(out.data, "k.yaml:5:1: unknown key \"timout\" (did you mean \"timeout\"?)", "typo suggestion");
        like(out.data, "k.yaml:6:1: unknown key \"zzz\"\n", "unknown key without a suggestion");
        like(out.data, "\"tags\": expected a list of strings", "list error");
        ka_buf_free(&out);
        ka_diags_free(&d);
        cJSON_Delete(j);

        j = yaml("path: relative\nmountPath: /m\n", locs);
        src = ka_cfgsrc(j, locs, (struct ka_loc){0});
        is_int(ka_plugin_conf_new(h, KUBEAGENT_VOLUME_POD, &src, NULL, &conf, &d), -EINVAL,
               "the plugin's own validation runs");
        ok(d.n == 1 && d.v[0].line == 1 && d.v[0].col == 1 && strstr(d.v[0].msg, "path must be absolute"),
           "plugin blames the key with its place");
        ka_diags_free(&d);
        cJSON_Delete(j);

        ka_locmap_free(locs);
        ka_registry_free(&reg);
        ka_secret_reset();
}

static enum kubeagent_retention_decision decide(const struct ka_registry *reg, const char *symbol, const char *pod) {
        const struct kubeagent_plugin_handle *h = ka_registry_find_symbol(reg, KUBEAGENT_KIND_RETENTION, symbol, NULL);
        if (!h)
                return (enum kubeagent_retention_decision)-1;
        cJSON *j = pod ? cJSON_Parse(pod) : NULL;
        struct kubeagent_retention_input in = {.pod = j};
        enum kubeagent_retention_decision r = h->desc->retention->decide(h->state, &in);
        cJSON_Delete(j);
        return r;
}

static void test_retention(void) {
        struct ka_registry reg = {0};
        struct ka_diags d = {0};
        _cleanup_(ka_strv_freep) char **dirs = ka_plugin_search_path(NULL);
        is_int(ka_registry_load_path(&reg, dirs, &d), 0, "the built plugins load without refusal");
        ka_diags_free(&d);
        struct ka_error err = {0};
        is_int(load(&reg, "test-duplicate-symbol", &err), -EEXIST, "a symbol another plugin serves is refused");
        like(err.msg, "\"onFailure\" is already served by plugin \"on-failure\"", "duplicate symbol: clear reason");
        const char *failed = "{\"status\":{\"phase\":\"Failed\"}}";
        const char *unknown = "{\"status\":{\"phase\":\"unknown\"}}";
        const char *running = "{\"status\":{\"phase\":\"Running\"}}";
        const char *pending = "{\"status\":{\"phase\":\"Pending\"}}";
        const char *evicted = "{\"status\":{\"phase\":\"Failed\",\"reason\":\"Evicted\"}}";
        const char *oom = "{\"status\":{\"phase\":\"Failed\",\"reason\":\"OOMKilled\"}}";
        /* PodRetentionTest vectors */
        is_int(decide(&reg, "onFailure", failed), KUBEAGENT_RETENTION_KEEP, "onFailure keeps Failed");
        is_int(decide(&reg, "onFailure", unknown), KUBEAGENT_RETENTION_KEEP, "onFailure keeps Unknown");
        is_int(decide(&reg, "onFailure", running), KUBEAGENT_RETENTION_DELETE, "onFailure deletes Running");
        is_int(decide(&reg, "onFailure", pending), KUBEAGENT_RETENTION_DELETE, "onFailure deletes Pending");
        is_int(decide(&reg, "onFailure", NULL), KUBEAGENT_RETENTION_KEEP, "onFailure keeps an unfetchable pod");
        is_int(decide(&reg, "onFailure", "{}"), KUBEAGENT_RETENTION_KEEP, "onFailure keeps a pod without status");
        is_int(decide(&reg, "evicted", evicted), KUBEAGENT_RETENTION_KEEP, "evicted keeps Evicted");
        is_int(decide(&reg, "evicted", oom), KUBEAGENT_RETENTION_DELETE, "evicted deletes OOMKilled");
        is_int(decide(&reg, "evicted", NULL), KUBEAGENT_RETENTION_DELETE, "evicted deletes an unfetchable pod");
        is_int(decide(&reg, "never", failed), KUBEAGENT_RETENTION_DELETE, "never deletes");
        is_int(decide(&reg, "always", running), KUBEAGENT_RETENTION_KEEP, "always keeps");
        is_int(decide(&reg, "default", failed), KUBEAGENT_RETENTION_DEFER, "default defers to the cloud");
        is_int(decide(&reg, "OnFailure", failed), KUBEAGENT_RETENTION_KEEP, "capitalised symbol works");
        ka_registry_free(&reg);
}

int main(void) {
        ka_mem_init();
        test_dir = getenv("KA_TEST_PLUGIN_DIR");
        if (!test_dir) {
                printf("Bail out! KA_TEST_PLUGIN_DIR is not set (run through make check)\n");
                return 1;
        }
        test_refusals();
        test_cfgmap();
        test_retention();
        ka_metrics_reset();
        return tap_done();
}
