/* Volume type dynamicPVC (deprecated in the plugin in favour of
 * genericEphemeralVolume): a PersistentVolumeClaim created after the pod,
 * owned by it.  As in the Jenkins kubernetes-plugin the pod refers to
 * {persistentVolumeClaim: {claimName, readOnly: false}} with claim name
 * "pvc-<pod>-<id>" for a pod volume and "pvc-workspace-<pod>" for the
 * workspace, and the claim asks for [accessModes or ReadWriteOnce],
 * requestsSize or 10Gi, and storageClassName when given.  The plugin's <id>
 * is random per template volume; here it is derived from the mount path, so
 * that rendering is reproducible and two volumes of a pod never share it. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

static char *trimmed(const char *s, const char *fallback) {
        s = s ? s + strspn(s, " \t") : "";
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        return n ? strndup(s, n) : fallback ? strdup(fallback) : NULL;
}

/* 8 characters [a-z0-9] from the mount path (FNV-1a). */
static void volume_id(const char *mount_path, char id[9]) {
        uint64_t h = 1469598103934665603ull;
        for (const unsigned char *p = (const unsigned char *)mount_path; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (int i = 0; i < 8; i++, h /= 36)
                id[i] = alphabet[h % 36];
        id[8] = '\0';
}

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)err;
        const struct conf *c = conf;
        char name[320], id[9];
        if (ctx->form == KUBEAGENT_VOLUME_WORKSPACE) {
                snprintf(name, sizeof(name), "pvc-workspace-%s", ctx->pod_name);
        } else {
                volume_id(c->mount_path, id);
                snprintf(name, sizeof(name), "pvc-%s-%s", ctx->pod_name, id);
        }
        out->source = cJSON_CreateObject();
        cJSON *ref = cJSON_AddObjectToObject(out->source, "persistentVolumeClaim");
        cJSON_AddStringToObject(ref, "claimName", name);
        cJSON_AddBoolToObject(ref, "readOnly", 0);

        char *mode = trimmed(c->access_modes, "ReadWriteOnce"), *size = trimmed(c->size, "10Gi"),
             *class = trimmed(c->storage_class, NULL);
        cJSON *pvc = cJSON_CreateObject();
        cJSON_AddStringToObject(pvc, "apiVersion", "v1");
        cJSON_AddStringToObject(pvc, "kind", "PersistentVolumeClaim");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(pvc, "metadata"), "name", name);
        cJSON *spec = cJSON_AddObjectToObject(pvc, "spec");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "accessModes"), cJSON_CreateString(mode));
        cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "resources"), "requests"),
                                "storage", size);
        if (class)
                cJSON_AddStringToObject(spec, "storageClassName", class);
        free(mode);
        free(size);
        free(class);
        out->extra_objects = cJSON_CreateArray();
        cJSON_AddItemToArray(out->extra_objects, pvc);
        if (ctx->form == KUBEAGENT_VOLUME_WORKSPACE)
                return 0;
        out->mount_path = strdup(c->mount_path);
        return out->mount_path ? 0 : -ENOMEM;
}

static const char *const symbols[] = {"dynamicPVC", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = symbols, .keys = pod_keys, .conf_size = sizeof(struct conf)},
        .workspace = {.symbols = symbols, .keys = workspace_keys, .conf_size = sizeof(struct conf)},
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME),
        .name = "dynamic-pvc",
        .version = PACKAGE_VERSION,
        .description = "a PersistentVolumeClaim created for the pod and deleted with it (deprecated: "
                       "prefer genericEphemeralVolume)",
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
