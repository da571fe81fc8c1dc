/* Volume type secret: the pod volume `secretVolume`, as in the Jenkins
 * kubernetes-plugin: {secret: {secretName, optional, defaultMode}}.  As
 * there, defaultMode is read as a DECIMAL number: write `defaultMode: 420`,
 * or an unquoted YAML octal `0644` (which YAML itself reads as 420); a quoted
 * "0644" means 644 and gets a warning. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/volutil.h"

struct conf {
        char *secret_name;
        char *mount_path;
        char *default_mode;
        int optional;
};

static const struct kubeagent_config_key keys[] = {
        {"secretName", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, secret_name),
         "the Secret, in the pod's namespace"},
        VOLUTIL_KEY_MOUNT_PATH(struct conf),
        {"defaultMode", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, default_mode),
         "file mode, a decimal number (420 = 0644)"},
        {"optional", KUBEAGENT_CFG_BOOL, NULL, 0, offsetof(struct conf, optional),
         "start the pod even when the Secret is missing"},
        {0},
};

/* The mode, or -1 when blank, -2 when not a decimal number 0..0777. */
static long mode_of(const char *s) {
        if (!s)
                return -1;
        s += strspn(s, " \t");
        if (!*s)
                return -1;
        char *end;
        long v = strtol(s, &end, 10);
        end += strspn(end, " \t");
        if (*end || v < 0 || v > 0777)
                return -2;
        return v;
}

static int validate(void *state, enum kubeagent_volume_form form, const void *conf,
                    const struct kubeagent_config_source *src, struct ka_error *err) {
        (void)state;
        (void)form;
        const struct conf *c = conf;
        long mode = mode_of(c->default_mode);
        if (mode == -2)
                return volutil_host->error_at(err, src, "defaultMode", -EINVAL,
                                              "defaultMode \"%s\" is not a decimal file mode between 0 and 511",
                                              c->default_mode);
        /* a quoted "0644" means 644 here; say so, with what the user meant */
        const cJSON *n = volutil_host->config_node(src, "defaultMode");
        const char *text = cJSON_IsString(n) ? n->valuestring + strspn(n->valuestring, " \t") : NULL;
        if (mode > 0 && text && text[0] == '0') {
                char *end;
                long octal = strtol(text, &end, 8);
                if (*end == '\0')
                        volutil_host->warn_at(
                                volutil_self, src, "defaultMode",
                                "defaultMode \"%s\" is read as the decimal %ld, as in the Jenkins plugin; "
                                "for mode %s write %ld, or %s without quotes",
                                text, mode, text, octal, text);
                else
                        volutil_host->warn_at(volutil_self, src, "defaultMode",
                                              "defaultMode \"%s\" is read as the decimal %ld", text, mode);
        }
        return 0;
}

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)ctx;
        (void)err;
        const struct conf *c = conf;
        out->source = cJSON_CreateObject();
        cJSON *s = cJSON_AddObjectToObject(out->source, "secret");
        cJSON_AddStringToObject(s, "secretName", c->secret_name);
        if (c->optional >= 0)
                cJSON_AddBoolToObject(s, "optional", c->optional);
        long mode = mode_of(c->default_mode);
        if (mode >= 0)
                cJSON_AddNumberToObject(s, "defaultMode", (double)mode);
        return volutil_mount(out, c->mount_path);
}

static const char *const symbols[] = {"secretVolume", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = symbols, .keys = keys, .conf_size = sizeof(struct conf)},
        .validate = validate,
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME), /* abi_version, struct_size, signature, kind */
        .name = "secret",
        .version = PACKAGE_VERSION,
        .description = "a Secret's entries as files (secret)",
        .init = volutil_init,
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
