/* An example kubeagent volume plugin, built out of tree against the
 * installed SDK.  It adds a `scratchVolume` pod volume type:
 *
 *     volumes:
 *       - scratchVolume: {mountPath: /scratch, sizeLimit: 2Gi}
 *
 * rendered as an emptyDir with a size limit. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct scratch {
        char *mount_path;
        char *size_limit;
};

static const struct kubeagent_config_key keys[] = {
        {"mountPath", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct scratch, mount_path),
         "where the containers see the volume"},
        {"sizeLimit", KUBEAGENT_CFG_STRING, "1Gi", 0, offsetof(struct scratch, size_limit),
         "the most the volume may hold (a Kubernetes quantity)"},
        {0},
};

static const struct kubeagent_host *host;

static int init(const struct kubeagent_host *h, struct kubeagent_plugin_handle *self, void **ret_state,
                struct ka_error *err) {
        (void)self;
        (void)ret_state;
        (void)err;
        host = h;
        return 0;
}

static int validate(void *state, enum kubeagent_volume_form form, const void *conf,
                    const struct kubeagent_config_source *src, struct ka_error *err) {
        const struct scratch *s = conf;
        (void)state;
        (void)form;
        if (s->mount_path[0] != '/')
                return host->error_at(err, src, "mountPath", -EINVAL, "mountPath must be an absolute path");
        return 0;
}

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        const struct scratch *s = conf;
        (void)state;
        (void)ctx;
        (void)err;
        out->source = cJSON_CreateObject();
        cJSON *dir = cJSON_AddObjectToObject(out->source, "emptyDir");
        cJSON_AddStringToObject(dir, "sizeLimit", s->size_limit);
        out->mount_path = strdup(s->mount_path);
        return out->mount_path ? 0 : -ENOMEM;
}

static const char *const symbols[] = {"scratchVolume", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = symbols, .keys = keys, .conf_size = sizeof(struct scratch)},
        .validate = validate,
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME), /* abi_version, struct_size, signature, kind */
        .name = "example-scratch",
        .version = "1.0.0",
        .description = "an emptyDir scratch volume with a size limit (SDK example)",
        .init = init,
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
