/* Volume type ephemeral (a claim created and deleted with the pod by
 * Kubernetes): the pod volume and workspace volume `genericEphemeralVolume`,
 * as in the Jenkins kubernetes-plugin:
 *   {ephemeral: {volumeClaimTemplate: {spec: {accessModes: [mode],
 *    storageClassName, resources: {requests: {storage: size}}}}}}
 * with ReadWriteOnce and 10Gi when not given. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct conf {
        char *mount_path;
        char *access_modes;
        char *storage_class;
        char *size;
};

static const struct kubeagent_config_key pod_keys[] = {
        {"mountPath", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, mount_path),
         "where the containers see it"},
        {"accessModes", KUBEAGENT_CFG_STRING, "ReadWriteOnce", 0, offsetof(struct conf, access_modes),
         "access mode of the claim"},
        {"storageClassName", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, storage_class),
         "storage class (default: the cluster's)"},
        {"requestsSize", KUBEAGENT_CFG_STRING, "10Gi", 0, offsetof(struct conf, size), "size of the claim"},
        {0},
};

static const struct kubeagent_config_key workspace_keys[] = {
        {"accessModes", KUBEAGENT_CFG_STRING, "ReadWriteOnce", 0, offsetof(struct conf, access_modes),
         "access mode of the claim"},
        {"storageClassName", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, storage_class),
         "storage class (default: the cluster's)"},
        {"requestsSize", KUBEAGENT_CFG_STRING, "10Gi", 0, offsetof(struct conf, size), "size of the claim"},
        {0},
};

/* A copy without surrounding blanks, or `fallback` when blank. */
static char *trimmed(const char *s, const char *fallback) {
        s = s ? s + strspn(s, " \t") : "";
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        return n ? strndup(s, n) : fallback ? strdup(fallback) : NULL;
}

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)err;
        const struct conf *c = conf;
        char *mode = trimmed(c->access_modes, "ReadWriteOnce"), *size = trimmed(c->size, "10Gi"),
             *class = trimmed(c->storage_class, NULL);
        out->source = cJSON_CreateObject();
        cJSON *spec = cJSON_AddObjectToObject(
                cJSON_AddObjectToObject(cJSON_AddObjectToObject(out->source, "ephemeral"), "volumeClaimTemplate"),
                "spec");
        cJSON *modes = cJSON_AddArrayToObject(spec, "accessModes");
        cJSON_AddItemToArray(modes, cJSON_CreateString(mode));
        if (class)
                cJSON_AddStringToObject(spec, "storageClassName", class);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "resources"), "requests"),
                                "storage", size);
        free(mode);
        free(size);
        free(class);
        if (ctx->form == KUBEAGENT_VOLUME_WORKSPACE)
                return 0;
        out->mount_path = strdup(c->mount_path);
        return out->mount_path ? 0 : -ENOMEM;
}

static const char *const symbols[] = {"genericEphemeralVolume", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = symbols, .keys = pod_keys, .conf_size = sizeof(struct conf)},
        .workspace = {.symbols = symbols, .keys = workspace_keys, .conf_size = sizeof(struct conf)},
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME),
        .name = "generic-ephemeral",
        .version = PACKAGE_VERSION,
        .description = "a claim Kubernetes creates and deletes with the pod (ephemeral)",
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
