#include "document.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fs.h"
#include "util/mem.h"
#include "util/str.h"
#include "yaml/yaml.h"

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(const char *dir, char ***ret, struct ka_diags *diags) {
        DIR *d = opendir(dir);
        if (!d) {
                ka_diags_add(diags, KA_DIAG_ERROR, dir, 0, 0, "%s", strerror(errno));
                return -errno;
        }
        char **files = ka_new0(char *, 1);
        struct dirent *e;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.' && (ka_endswith(e->d_name, ".yaml") || ka_endswith(e->d_name, ".yml"))) {
                        _cleanup_free_ char *p = ka_path_join(dir, e->d_name);
                        files = ka_strv_push(files, p);
                }
        closedir(d);
        qsort(files, ka_strv_len(files), sizeof(char *), cmp_str);
        *ret = files;
        return 0;
}

/* Merge src (consumed) into dst. */
static int merge(struct ka_document *doc, cJSON *dst, cJSON *src, struct ka_diags *diags) {
        int r = 0;
        while (src->child) {
                cJSON *item = cJSON_DetachItemViaPointer(src, src->child);
                cJSON *have = cJSON_GetObjectItemCaseSensitive(dst, item->string);
                if (!have) {
                        cJSON_AddItemToObject(dst, item->string, item);
                        continue;
                }
                if (cJSON_IsObject(have) && cJSON_IsObject(item)) {
                        if (merge(doc, have, item, diags) < 0)
                                r = -EINVAL;
                        cJSON_Delete(item);
                } else if (cJSON_IsArray(have) && cJSON_IsArray(item)) {
                        while (item->child)
                                cJSON_AddItemToArray(have, cJSON_DetachItemViaPointer(item, item->child));
                        cJSON_Delete(item);
                } else if (!cJSON_Compare(have, item, true)) {
                        struct ka_loc a, b;
                        ka_locmap_get_key(doc->locs, have, &a);
                        ka_locmap_get_key(doc->locs, item, &b);
                        ka_diags_add(diags, KA_DIAG_ERROR, b.file, b.line, b.col,
                                     "\"%s\" is also set, differently, at %s:%u:%u", item->string,
                                     a.file ? a.file : "?", a.line, a.col);
                        ka_locmap_forget_tree(doc->locs, item);
                        cJSON_Delete(item);
                        r = -EINVAL;
                } else {
                        ka_locmap_forget_tree(doc->locs, item);
                        cJSON_Delete(item);
                }
        }
        return r;
}

int ka_document_load(const char *path, struct ka_document *ret, struct ka_diags *diags) {
        struct ka_document doc = {.locs = ka_locmap_new(), .path = ka_strdup(path), .root = cJSON_CreateObject()};
        struct stat st;
        int r = 0;
        if (stat(path, &st) < 0) {
                ka_diags_add(diags, KA_DIAG_ERROR, path, 0, 0, "%s", strerror(errno));
                r = -errno;
        } else if (S_ISDIR(st.st_mode)) {
                r = list_dir(path, &doc.files, diags);
                if (r == 0 && !doc.files[0]) {
                        ka_diags_add(diags, KA_DIAG_ERROR, path, 0, 0, "no *.yaml files in this folder");
                        r = -ENOENT;
                }
        } else {
                doc.files = ka_strv_push(NULL, path);
        }
        /* every file is read even after one fails, to report all errors */
        for (size_t i = 0; doc.files && doc.files[i] && (r == 0 || r == -EINVAL); i++) {
                struct ka_error err = {0};
                cJSON *tree = NULL;
                if (ka_yaml_load_file(doc.files[i], doc.locs, &tree, &err) < 0) {
                        ka_diags_add_error(diags, &err);
                        r = -EINVAL;
                        continue;
                }
                if (!tree)
                        continue; /* an empty file */
                if (!cJSON_IsObject(tree)) {
                        struct ka_loc l;
                        ka_locmap_get(doc.locs, tree, &l);
                        ka_diags_add(diags, KA_DIAG_ERROR, doc.files[i], l.line, l.col,
                                     "expected a mapping at the top of the file");
                        cJSON_Delete(tree);
                        r = -EINVAL;
                        continue;
                }
                if (merge(&doc, doc.root, tree, diags) < 0)
                        r = -EINVAL;
                cJSON_Delete(tree);
        }
        if (r < 0) {
                ka_document_free(&doc);
                return r;
        }
        *ret = doc;
        return 0;
}

void ka_document_free(struct ka_document *doc) {
        cJSON_Delete(doc->root);
        ka_locmap_free(doc->locs);
        free(doc->path);
        ka_strv_free(doc->files);
        memset(doc, 0, sizeof(*doc));
}

struct ka_loc ka_document_where(const struct ka_document *doc, const cJSON *node) {
        struct ka_loc l;
        ka_locmap_get(doc->locs, node, &l);
        return l;
}

/* kubeagent.pluginPath: a string or a list of strings, relative to the
 * config file. */
char **ka_document_plugin_path(const struct ka_document *doc, struct ka_diags *diags) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(doc->root, "kubeagent");
        const cJSON *pp = cJSON_IsObject(k) ? cJSON_GetObjectItemCaseSensitive(k, "pluginPath") : NULL;
        if (!pp)
                return NULL;
        char **dirs = ka_new0(char *, 1);
        const cJSON *list = cJSON_IsArray(pp) ? pp : NULL;
        for (const cJSON *d = list ? list->child : pp; d; d = list ? d->next : NULL) {
                struct ka_loc l = ka_document_where(doc, d);
                if (!cJSON_IsString(d)) {
                        ka_diags_add(diags, KA_DIAG_ERROR, l.file, l.line, l.col,
                                     "kubeagent.pluginPath: expected a folder or a list of folders");
                        continue;
                }
                _cleanup_free_ char *base = l.file ? ka_path_dirname(l.file) : NULL;
                _cleanup_free_ char *path = ka_path_resolve(d->valuestring, base);
                dirs = ka_strv_push(dirs, path);
        }
        return dirs;
}
