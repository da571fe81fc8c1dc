/* Unit tests for core/config/document: one file, a folder merged, errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/document.h"
#include "tap.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"

static char dir[] = "/tmp/ka-doc-XXXXXX";

static char *put(const char *name, const char *text) {
        char *p = ka_path_join(dir, name);
        struct ka_error err = {0};
        ka_write_file_atomic(p, text, strlen(text), 0644, &err);
        return p;
}

static char *diags_text(const struct ka_diags *d) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        ka_diags_print(d, f);
        fclose(f);
        return out;
}

int main(void) {
        ka_mem_init();
        ok(mkdtemp(dir) != NULL, "temp dir");
        _cleanup_free_ char *a = put("10-cloud.yaml", "jenkins:\n  clouds:\n    - kubernetes: {name: a}\n"
                                                       "kubeagent:\n  pluginPath: [plugins, /opt/p]\n");
        _cleanup_free_ char *b = put("20-more.yml", "jenkins:\n  clouds:\n    - kubernetes: {name: b}\n");
        _cleanup_free_ char *ignored = put("notes.txt", "not yaml: [");

        struct ka_document doc;
        struct ka_diags d = {0};
        is_int(ka_document_load(dir, &doc, &d), 0, "a folder loads");
        const cJSON *clouds = ka_json_path(doc.root, "jenkins.clouds");
        is_int(cJSON_GetArraySize(clouds), 2, "lists from several files concatenate");
        is_str(ka_json_path_str(cJSON_GetArrayItem(clouds, 1), "kubernetes.name"), "b", "in file-name order");
        struct ka_loc l = ka_document_where(&doc, cJSON_GetArrayItem(clouds, 1));
        like(l.file, "20-more.yml", "nodes remember their file");
        is_int(l.line, 3, "and their line");
        char **pp = ka_document_plugin_path(&doc, &d);
        _cleanup_free_ char *want = ka_path_join(dir, "plugins");
        ok(pp && ka_strv_len(pp) == 2, "pluginPath list");
        is_str(pp ? pp[0] : NULL, want, "relative plugin folder resolved against its file");
        is_str(pp ? pp[1] : NULL, "/opt/p", "absolute plugin folder kept");
        ka_strv_free(pp);
        ka_document_free(&doc);

        _cleanup_free_ char *c = put("30-conflict.yaml", "kubeagent:\n  pluginPath: elsewhere\n");
        is_int(ka_document_load(dir, &doc, &d), -EINVAL, "conflicting scalars refused");
        char *text = diags_text(&d);
        like(text, "30-conflict.yaml:2:3: error: \"pluginPath\" is also set, differently, at", "conflict names both places");
        free(text);
        ka_diags_free(&d);
        unlink(c);

        _cleanup_free_ char *e1 = put("40-bad.yaml", "a: [1\n");
        _cleanup_free_ char *e2 = put("50-bad.yaml", "- a list\n");
        is_int(ka_document_load(dir, &doc, &d), -EINVAL, "broken files refused");
        is_int(d.errors, 2, "each broken file reported");
        text = diags_text(&d);
        like(text, "40-bad.yaml:2:1: error:", "syntax error located");
        like(text, "50-bad.yaml:1:1: error: expected a mapping at the top of the file", "top-level list refused");
        free(text);
        ka_diags_free(&d);

        is_int(ka_document_load(a, &doc, &d), 0, "a single file loads");
        ka_document_free(&doc);
        _cleanup_free_ char *empty = put("empty.yaml.d", "");
        is_int(ka_document_load(empty, &doc, &d), 0, "an empty file is an empty config");
        ok(cJSON_IsObject(doc.root) && !doc.root->child, "empty object");
        ka_document_free(&doc);
        is_int(ka_document_load("/nonexistent/k.yaml", &doc, &d), -ENOENT, "missing file");
        ka_diags_free(&d);

        unlink(a);
        unlink(b);
        unlink(ignored);
        unlink(e1);
        unlink(e2);
        unlink(empty);
        rmdir(dir);
        return tap_done();
}
