#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/str.h"

#ifndef PLUGINDIR
#error "PLUGINDIR must be defined by the build"
#endif

/* Leak reports need the objects mapped: never dlclose under ASan. */
static const bool under_asan = KUBEAGENT_SIG_ASAN[0] == '1';

static const char *const kind_names[] = {
        [KUBEAGENT_KIND_CREDENTIAL] = "credential",
        [KUBEAGENT_KIND_VOLUME] = "volume",
        [KUBEAGENT_KIND_RETENTION] = "retention",
        [KUBEAGENT_KIND_FRONTEND] = "frontend",
};

const char *ka_plugin_kind_name(enum kubeagent_plugin_kind kind) {
        if ((unsigned)kind < KA_ARRAY_SIZE(kind_names) && kind_names[kind])
                return kind_names[kind];
        return "unknown";
}

const char *ka_plugin_default_dir(void) {
        return PLUGINDIR;
}

char **ka_plugin_search_path(char *const *extra) {
        char **dirs = ka_new0(char *, 1);
        const char *env = getenv("KUBEAGENT_PLUGIN_PATH");
        if (env && *env) {
                for (const char *p = env; *p;) {
                        size_t n = strcspn(p, ":");
                        if (n) {
                                _cleanup_free_ char *d = ka_strndup(p, n);
                                dirs = ka_strv_push(dirs, d);
                        }
                        p += n + (p[n] == ':');
                }
                return dirs;
        }
        for (size_t i = 0; extra && extra[i]; i++)
                dirs = ka_strv_push(dirs, extra[i]);
        return ka_strv_push(dirs, PLUGINDIR);
}

static void unload(struct kubeagent_plugin_handle *h) {
        if (!h)
                return;
        if (h->dl && !under_asan)
                dlclose(h->dl);
        free(h->path);
        free(h);
}

static const char *const *symbols_of(const struct kubeagent_plugin *d, int form) {
        if (d->kind == KUBEAGENT_KIND_VOLUME && d->volume)
                return form == KUBEAGENT_VOLUME_WORKSPACE ? d->volume->workspace.symbols : d->volume->pod.symbols;
        if (d->kind == KUBEAGENT_KIND_RETENTION && d->retention)
                return form == 0 ? d->retention->symbols : NULL;
        return NULL;
}

const struct kubeagent_plugin_handle *ka_registry_find(const struct ka_registry *reg, enum kubeagent_plugin_kind kind,
                                                       const char *name) {
        for (size_t i = 0; i < reg->n; i++)
                if (reg->v[i]->desc->kind == kind && strcmp(reg->v[i]->desc->name, name) == 0)
                        return reg->v[i];
        return NULL;
}

const struct kubeagent_plugin_handle *ka_registry_find_symbol(const struct ka_registry *reg,
                                                              enum kubeagent_plugin_kind kind, const char *symbol,
                                                              int *ret_form) {
        static const int forms[] = {0, KUBEAGENT_VOLUME_POD, KUBEAGENT_VOLUME_WORKSPACE};
        for (size_t i = 0; i < reg->n; i++) {
                const struct kubeagent_plugin *d = reg->v[i]->desc;
                if (d->kind != kind)
                        continue;
                for (size_t f = 0; f < KA_ARRAY_SIZE(forms); f++) {
                        if (kind == KUBEAGENT_KIND_VOLUME && forms[f] == 0)
                                continue;
                        const char *const *s = symbols_of(d, forms[f]);
                        for (; s && *s; s++)
                                if (strcmp(*s, symbol) == 0) {
                                        if (ret_form)
                                                *ret_form = forms[f];
                                        return reg->v[i];
                                }
                }
        }
        return NULL;
}

const struct kubeagent_config_key *ka_plugin_keys(const struct kubeagent_plugin_handle *p, int form, size_t *ret_size) {
        const struct kubeagent_plugin *d = p->desc;
        if (form && d->kind == KUBEAGENT_KIND_VOLUME) {
                const struct kubeagent_volume_form_spec *s =
                        form == KUBEAGENT_VOLUME_WORKSPACE ? &d->volume->workspace : &d->volume->pod;
                *ret_size = s->conf_size;
                return s->keys;
        }
        *ret_size = d->config_size;
        return d->config_keys;
}

/* Everything about a descriptor that can be checked without running it. */
static int check_descriptor(const struct ka_registry *reg, const struct kubeagent_plugin *d, struct ka_error *err) {
        if (d->abi_version != KUBEAGENT_ABI_VERSION)
                return ka_error_set(err, -EPROTO, "built for plugin ABI version %u, this kubeagent has version %u",
                                    d->abi_version, KUBEAGENT_ABI_VERSION);
        if (d->struct_size != sizeof(struct kubeagent_plugin))
                return ka_error_set(err, -EPROTO, "descriptor is %u bytes, this kubeagent expects %zu", d->struct_size,
                                    sizeof(struct kubeagent_plugin));
        if (!d->signature || strcmp(d->signature, KUBEAGENT_BUILD_SIGNATURE) != 0)
                return ka_error_set(err, -EPROTO, "build signature \"%s\" differs from kubeagent's \"%s\"",
                                    d->signature ? d->signature : "(none)", KUBEAGENT_BUILD_SIGNATURE);
        if (!d->name || !*d->name || strspn(d->name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(d->name))
                return ka_error_set(err, -EINVAL, "plugin name must be lower-case letters, digits and '-'");
        const void *ops[] = {NULL, d->credential, d->volume, d->retention, d->frontend};
        if (d->kind < KUBEAGENT_KIND_CREDENTIAL || d->kind > KUBEAGENT_KIND_FRONTEND)
                return ka_error_set(err, -EINVAL, "unknown plugin kind %d", (int)d->kind);
        for (int k = KUBEAGENT_KIND_CREDENTIAL; k <= KUBEAGENT_KIND_FRONTEND; k++)
                if ((k == (int)d->kind) != (ops[k] != NULL))
                        return ka_error_set(err, -EINVAL, "a %s plugin must set exactly its %s operations",
                                            ka_plugin_kind_name(d->kind), ka_plugin_kind_name(d->kind));
        for (size_t i = 0; i < KA_ARRAY_SIZE(d->reserved); i++)
                if (d->reserved[i])
                        return ka_error_set(err, -EINVAL, "reserved descriptor fields must be NULL");
        switch (d->kind) {
        case KUBEAGENT_KIND_CREDENTIAL:
                if (!d->credential->open || !d->credential->resolve || !d->credential->close ||
                    (d->credential->autodetect_priority > 0 && !d->credential->detect))
                        return ka_error_set(err, -EINVAL, "credential operations are incomplete");
                break;
        case KUBEAGENT_KIND_VOLUME:
                if (!d->volume->render || (!d->volume->pod.symbols && !d->volume->workspace.symbols))
                        return ka_error_set(err, -EINVAL, "volume operations are incomplete");
                break;
        case KUBEAGENT_KIND_RETENTION:
                if (!d->retention->decide || !d->retention->symbols || !d->retention->symbols[0])
                        return ka_error_set(err, -EINVAL, "retention operations are incomplete");
                break;
        case KUBEAGENT_KIND_FRONTEND:
                if (!d->frontend->run)
                        return ka_error_set(err, -EINVAL, "frontend operations are incomplete");
                break;
        }
        int r = ka_cfgmap_check_table(d->config_keys, d->config_size, err);
        if (r == 0 && d->kind == KUBEAGENT_KIND_VOLUME) {
                r = ka_cfgmap_check_table(d->volume->pod.keys, d->volume->pod.conf_size, err);
                if (r == 0)
                        r = ka_cfgmap_check_table(d->volume->workspace.keys, d->volume->workspace.conf_size, err);
        }
        if (r < 0)
                return r;

        for (size_t i = 0; i < reg->n; i++) {
                const struct kubeagent_plugin_handle *o = reg->v[i];
                if (strcmp(o->desc->name, d->name) == 0)
                        return ka_error_set(err, -EEXIST, "a plugin named \"%s\" is already loaded from %s", d->name,
                                            o->path);
        }
        static const int forms[] = {0, KUBEAGENT_VOLUME_POD, KUBEAGENT_VOLUME_WORKSPACE};
        for (size_t f = 0; f < KA_ARRAY_SIZE(forms); f++)
                for (const char *const *s = symbols_of(d, forms[f]); s && *s; s++) {
                        const struct kubeagent_plugin_handle *o = ka_registry_find_symbol(reg, d->kind, *s, NULL);
                        if (o)
                                return ka_error_set(err, -EEXIST, "\"%s\" is already served by plugin \"%s\" (%s)", *s,
                                                    o->desc->name, o->path);
                }
        return 0;
}

static int init_and_add(struct ka_registry *reg, struct kubeagent_plugin_handle *h, struct ka_error *err) {
        const struct kubeagent_plugin *d = h->desc;
        int r = check_descriptor(reg, d, err);
        if (r < 0)
                return r;
        if (d->init) {
                struct ka_error ierr = {0};
                r = d->init(ka_host(), h, &h->state, &ierr);
                if (r < 0) {
                        ka_metrics_unregister_owner(h);
                        return ka_error_set(err, r, "init failed: %s", ierr.msg[0] ? ierr.msg : "no reason given");
                }
        }
        reg->v = ka_reallocarray(reg->v, reg->n + 1, sizeof(*reg->v));
        reg->v[reg->n++] = h;
        return 0;
}

static int check_permissions(const char *path, struct ka_error *err) {
        struct stat st;
        if (stat(path, &st) < 0)
                return ka_error_set(err, -errno, "%s", strerror(errno));
        if (!S_ISREG(st.st_mode))
                return ka_error_set(err, -EINVAL, "not a regular file");
        if (st.st_mode & S_IWOTH)
                return ka_error_set(err, -EPERM, "writable by other users (mode %04o); refusing to load it",
                                    (unsigned)(st.st_mode & 07777));
        _cleanup_free_ char *dir = ka_path_dirname(path);
        if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
                return ka_error_set(err, -EPERM, "its folder %s is writable by other users; refusing to load it", dir);
        return 0;
}

int ka_registry_load_file(struct ka_registry *reg, const char *path, struct ka_error *err) {
        int r = check_permissions(path, err);
        if (r < 0)
                return ka_error_prefix(err, "%s", path);
        void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
                const char *e = dlerror();
                return ka_error_set(err, -ENOEXEC, "%s: cannot load: %s", path, e ? e : "unknown error");
        }
        const struct kubeagent_plugin *(*entry)(void);
        *(void **)&entry = dlsym(dl, "kubeagent_plugin_entry");
        if (!entry) {
                if (!under_asan)
                        dlclose(dl);
                return ka_error_set(err, -ENOEXEC, "%s: not a kubeagent plugin (no kubeagent_plugin_entry symbol)",
                                    path);
        }
        struct kubeagent_plugin_handle *h = ka_new0(struct kubeagent_plugin_handle, 1);
        h->dl = dl;
        h->path = ka_strdup(path);
        h->desc = entry();
        if (!h->desc) {
                unload(h);
                return ka_error_set(err, -EINVAL, "%s: kubeagent_plugin_entry returned no descriptor", path);
        }
        r = init_and_add(reg, h, err);
        if (r < 0) {
                ka_error_prefix(err, "%s", path);
                unload(h);
                return r;
        }
        ka_log_debug("plugin", "loaded %s plugin \"%s\" %s from %s", ka_plugin_kind_name(h->desc->kind), h->desc->name,
                     h->desc->version ? h->desc->version : "", path);
        return 0;
}

int ka_registry_add_builtin(struct ka_registry *reg, const struct kubeagent_plugin *desc, struct ka_error *err) {
        struct kubeagent_plugin_handle *h = ka_new0(struct kubeagent_plugin_handle, 1);
        h->desc = desc;
        h->path = ka_strdup("<builtin>");
        int r = init_and_add(reg, h, err);
        if (r < 0) {
                ka_error_prefix(err, "builtin plugin %s", desc->name ? desc->name : "?");
                unload(h);
        }
        return r;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int ka_registry_load_dir(struct ka_registry *reg, const char *dir, struct ka_diags *diags) {
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        _cleanup_(ka_strv_freep) char **names = ka_new0(char *, 1);
        struct dirent *e;
        while ((e = readdir(d)))
                if (ka_endswith(e->d_name, ".so") && e->d_name[0] != '.')
                        names = ka_strv_push(names, e->d_name);
        closedir(d);
        qsort(names, ka_strv_len(names), sizeof(char *), cmp_str);
        int loaded = 0;
        for (size_t i = 0; names[i]; i++) {
                _cleanup_free_ char *path = ka_path_join(dir, names[i]);
                struct ka_error err = {0};
                if (ka_registry_load_file(reg, path, &err) < 0)
                        ka_diags_add(diags, KA_DIAG_ERROR, NULL, 0, 0, "%s", err.msg);
                else
                        loaded++;
        }
        return loaded;
}

int ka_registry_load_path(struct ka_registry *reg, char *const *dirs, struct ka_diags *diags) {
        size_t before = diags->errors;
        for (size_t i = 0; dirs && dirs[i]; i++) {
                int r = ka_registry_load_dir(reg, dirs[i], diags);
                if (r == -ENOENT && strcmp(dirs[i], PLUGINDIR) != 0)
                        ka_diags_add(diags, KA_DIAG_WARNING, NULL, 0, 0, "plugin folder %s does not exist", dirs[i]);
                else if (r < 0 && r != -ENOENT)
                        ka_diags_add(diags, KA_DIAG_ERROR, NULL, 0, 0, "plugin folder %s: %s", dirs[i], strerror(-r));
        }
        return (int)(diags->errors - before);
}

void ka_registry_free(struct ka_registry *reg) {
        for (size_t i = reg->n; i-- > 0;) {
                struct kubeagent_plugin_handle *h = reg->v[i];
                if (h->desc->fini)
                        h->desc->fini(h->state);
                ka_metrics_unregister_owner(h);
                unload(h);
        }
        free(reg->v);
        reg->v = NULL;
        reg->n = 0;
}

int ka_plugin_conf_new(const struct kubeagent_plugin_handle *p, int form, const struct kubeagent_config_source *src,
                       const char *const *ignore, void **ret_conf, struct ka_diags *diags) {
        size_t size;
        const struct kubeagent_config_key *keys = ka_plugin_keys(p, form, &size);
        void *conf = ka_calloc(1, size ? size : 1);
        int r = ka_cfgmap_fill(keys, src, ignore, conf, diags);
        if (r == 0) {
                struct ka_error err = {0};
                const struct kubeagent_plugin *d = p->desc;
                if (form && d->kind == KUBEAGENT_KIND_VOLUME && d->volume->validate)
                        r = d->volume->validate(p->state, form, conf, src, &err);
                else if (!form && d->validate)
                        r = d->validate(p->state, conf, src, &err);
                if (r < 0) {
                        if (!err.file[0] && src->where.file)
                                ka_diags_add(diags, KA_DIAG_ERROR, src->where.file, src->where.line, src->where.col,
                                             "%s", err.msg);
                        else
                                ka_diags_add_error(diags, &err);
                }
        }
        if (r < 0) {
                ka_plugin_conf_free(p, form, conf);
                return r;
        }
        *ret_conf = conf;
        return 0;
}

void ka_plugin_conf_free(const struct kubeagent_plugin_handle *p, int form, void *conf) {
        if (!conf)
                return;
        size_t size;
        ka_cfgmap_clear(ka_plugin_keys(p, form, &size), conf);
        free(conf);
}
