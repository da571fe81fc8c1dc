/* Unit tests for core/pipeline's reading of pod templates: the plugin's
 * step and declarative semantics, values and scopes, places, and the corpus
 * in tests/pipelines/.
 *
 * Each tests/pipelines/NAME.groovy has a golden NAME.templates: the
 * diagnostics, then each block's template as the template loader receives
 * it, then the loader's own diagnostics.  Regenerate them from the build
 * folder with
 *     KA_REGENERATE=1 top_srcdir=$PWD KUBEAGENT_PLUGIN_PATH=$PWD/plugins/.libs tests/unit/pipeline
 * and review the diff. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "pipeline/pipeline.h"
#include "tap.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "yaml/yaml.h"

static struct ka_registry plugins;

/* ---- helpers ---- */

struct result {
        struct ka_pipeline p;
        struct ka_diags d;
        int r;
        char *diags; /* "l:c: warning: msg" lines */
};

static char *diag_lines(const struct ka_diags *d, size_t from) {
        struct ka_buf b = KA_BUF_INIT(0);
        for (size_t i = from; i < d->n; i++)
                ka_buf_printf(&b, "%s:%u:%u: %s: %s\n", d->v[i].file ? d->v[i].file : "-", d->v[i].line, d->v[i].col,
                              d->v[i].severity == KA_DIAG_ERROR ? "error" : "warning", d->v[i].msg);
        return b.data ? ka_buf_steal(&b) : ka_strdup("");
}

static void read_text(struct result *res, const char *text, const struct ka_pipeline_options *o) {
        memset(res, 0, sizeof(*res));
        struct ka_pipeline_options def = {.plugins = &plugins};
        res->r = ka_pipeline_read(text, strlen(text), "Jenkinsfile", o ? o : &def, &res->p, &res->d);
        res->diags = diag_lines(&res->d, 0);
}

static void result_free(struct result *res) {
        if (res->r == 0 || res->r == -EINVAL)
                ka_pipeline_free(&res->p);
        ka_diags_free(&res->d);
        free(res->diags);
}

static const char *str_at(const cJSON *t, const char *path) {
        const char *s = ka_json_path_str(t, path);
        return s ? s : "(none)";
}

/* The place of a node as "line:col". */
static char *place_of(const struct ka_pipeline *p, const cJSON *n) {
        struct ka_loc l;
        if (!n || !ka_locmap_get(p->locs, n, &l))
                return ka_strdup("(unknown)");
        return ka_asprintf("%s:%u:%u", l.file, l.line, l.col);
}

/* ---- semantics ---- */

static void test_nesting(void) {
        struct result r;
        read_text(&r,
                  "podTemplate(label: 'outer', namespace: 'ns') {\n"
                  "  podTemplate(label: 'inner') {\n"
                  "    podTemplate(label: 'none', inheritFrom: '') { }\n"
                  "    podTemplate(label: 'other', inheritFrom: 'base', namespace: 'mine') { }\n"
                  "  }\n"
                  "}\n"
                  "podTemplate(label: 'after') { }\n",
                  NULL);
        is_int(r.r, 0, "nested templates read");
        is_int(r.p.n_blocks, 5, "five blocks, in source order");
        const char *outer = ka_json_str(r.p.blocks[0].tmpl, "name");
        is_str(str_at(r.p.blocks[1].tmpl, "inheritFrom"), outer, "a nested template inherits the enclosing one");
        is_str(str_at(r.p.blocks[1].tmpl, "namespace"), "ns", "and its namespace");
        is_str(str_at(r.p.blocks[2].tmpl, "inheritFrom"), "(none)", "inheritFrom: '' inherits nothing");
        is_str(str_at(r.p.blocks[2].tmpl, "namespace"), "ns", "but the namespace still passes down");
        is_str(str_at(r.p.blocks[3].tmpl, "inheritFrom"), "base", "another inheritFrom replaces the enclosing");
        is_str(str_at(r.p.blocks[3].tmpl, "namespace"), "mine", "its own namespace wins");
        is_str(str_at(r.p.blocks[4].tmpl, "inheritFrom"), "(none)", "a template after the block inherits nothing");
        ok(strncmp(outer, "outer-", 6) == 0 && strlen(outer) == 11, "template name: label and a 5-character suffix");
        result_free(&r);
}

static void test_declarative(void) {
        struct result r;
        read_text(&r,
                  "pipeline {\n"
                  "  agent { kubernetes { namespace 'top'; yaml 'spec: {}' } }\n"
                  "  stages {\n"
                  "    stage('a') {\n"
                  "      steps { script { podTemplate(label: 'in-a') { } } }\n"
                  "      agent { kubernetes { defaultContainer 'maven' } }\n"
                  "    }\n"
                  "  }\n"
                  "}\n",
                  NULL);
        is_int(r.r, 0, "declarative pipeline read");
        is_int(r.p.n_blocks, 3, "pipeline agent, stage agent, step");
        ok(r.p.blocks[0].kind == KA_PIPELINE_AGENT && r.p.blocks[1].kind == KA_PIPELINE_STEP &&
                   r.p.blocks[2].kind == KA_PIPELINE_AGENT,
           "blocks sorted by place, whatever the order they are read in");
        is_str(str_at(r.p.blocks[2].tmpl, "inheritFrom"), "(none)", "a declarative agent never inherits implicitly");
        is_str(str_at(r.p.blocks[2].tmpl, "namespace"), "top", "the stage agent runs inside the pipeline's pod");
        is_str(r.p.blocks[2].default_container, "maven", "defaultContainer is kept with the block");
        is_str(str_at(r.p.blocks[1].tmpl, "inheritFrom"), ka_json_str(r.p.blocks[2].tmpl, "name"),
               "a step in a stage inherits the stage's agent");
        ok(r.p.blocks[0].label_generated, "no label: a generated one");
        result_free(&r);
}

static void test_labels(void) {
        struct result a, b, c;
        const char *src = "podTemplate { }\npodTemplate { }\n";
        read_text(&a, src, NULL);
        read_text(&b, src, NULL);
        struct ka_pipeline_options o = {.job = "folder/my job", .build = 42};
        read_text(&c, src, &o);
        is_str(a.p.blocks[0].label, b.p.blocks[0].label, "generated labels are the same from run to run");
        ok(strcmp(a.p.blocks[0].label, a.p.blocks[1].label) != 0, "and differ between blocks");
        ok(strncmp(a.p.blocks[0].label, "pipeline_1-", 11) == 0 && strlen(a.p.blocks[0].label) == 16,
           "job#build sanitised, then -suffix: %s", a.p.blocks[0].label);
        ok(strncmp(c.p.blocks[0].label, "folder_my_job_42-", 17) == 0, "the job name and build number: %s",
           c.p.blocks[0].label);
        result_free(&a);
        result_free(&b);
        result_free(&c);
        char job[200];
        memset(job, 'j', sizeof(job) - 1);
        job[sizeof(job) - 1] = 0;
        job[150] = '/';
        o.job = job;
        read_text(&c, src, &o);
        ok(strlen(c.p.blocks[0].label) == 63, "a long job name is cut to 63 characters");
        ok(strncmp(c.p.blocks[0].label, "jjj", 3) == 0, "keeping its end");
        result_free(&c);
        o.job = "/leading";
        read_text(&c, src, &o);
        ok(c.p.blocks[0].label[0] == 'x', "a label starting with a non-alphanumeric gets an x: %s",
           c.p.blocks[0].label);
        result_free(&c);
}

static void test_values(void) {
        struct result r;
        read_text(&r,
                  "def img = 'maven'\n"
                  "def tag = \"${img}:3\"\n"
                  "podTemplate(label: 'v', containers: [containerTemplate(name: 'm', image: \"$tag-jdk\" + '17',\n"
                  "   workingDir: env.WORKSPACE, command: \"x ${UUID.randomUUID()} y\")]) { }\n",
                  NULL);
        const cJSON *c = ka_json_path(r.p.blocks[0].tmpl, "containers")->child;
        is_str(ka_json_str(c, "image"), "maven:3-jdk17", "variables, GStrings and + are read");
        is_str(ka_json_str(c, "workingDir"), "${env.WORKSPACE}", "a run-time value is kept as text");
        is_str(ka_json_str(c, "command"), "x ${UUID.randomUUID()} y", "an interpolation is kept as text");
        like(r.diags, "Jenkinsfile:4:16: warning: workingDir: env.WORKSPACE is only known when the build runs",
             "with a warning at the value");
        like(r.diags, "Jenkinsfile:4:43: warning: command: ${UUID.randomUUID()} is only known when the build runs",
             "and at the interpolation");
        result_free(&r);

        read_text(&r,
                  "def a = 'x'\n"
                  "if (cond) { a = 'y' }\n"
                  "def b = 'k'\n"
                  "def f() { podTemplate(label: b) { } }\n"
                  "def c = 'first'\n"
                  "def g = { podTemplate(label: c) { } }\n"
                  "c = 'second'\n"
                  "podTemplate(label: a) { }\n"
                  "for (i in [1, 2]) { podTemplate(label: \"l-${i}\") { } }\n",
                  NULL);
        is_int(r.p.n_blocks, 4, "four blocks");
        ok(r.p.blocks[0].label_generated, "a local variable is not seen from a method: generated label");
        ok(r.p.blocks[1].label_generated, "a closure kept for later does not trust a variable assigned twice");
        ok(r.p.blocks[2].label_generated, "a variable assigned in a branch is unknown afterwards");
        is_str(r.p.blocks[3].label, "l-${i}", "a loop variable is not known");
        like(r.diags,
             "Jenkinsfile:8:20: warning: label: a is only known when the build runs; kubeagent uses a generated label",
             "said where");
        result_free(&r);

        read_text(&r,
                  "def y = '''\\\n    spec:\n      hostNetwork: true\n    '''.stripIndent()\n"
                  "podTemplate(label: 's', yaml: y, nodeSelector: '''  a=b\n'''.trim(),\n"
                  "  serviceAccount: '''|x\n  |y'''.stripMargin()) { }\n",
                  NULL);
        is_str(str_at(r.p.blocks[0].tmpl, "yaml"), "spec:\n  hostNetwork: true\n", "stripIndent as Groovy's");
        is_str(str_at(r.p.blocks[0].tmpl, "nodeSelector"), "a=b", "trim");
        is_str(str_at(r.p.blocks[0].tmpl, "serviceAccount"), "x\ny", "stripMargin");
        result_free(&r);
}

/* Errors of the template's own validation point into the Jenkinsfile. */
static void test_places(void) {
        static const char src[] = "podTemplate(label: 'p', instanceCap: 3, yaml: '''\n"
                                  "spec:\n"
                                  "  containers: [{name: a, image: [}]\n"
                                  "''') { }\n"
                                  "podTemplate(label: 'q', yaml: 'spec: {hostNetwork: [}') { }\n";
        struct result r;
        read_text(&r, src, NULL);
        is_int(r.r, 0, "read");
        _cleanup_free_ char *cap = place_of(&r.p, cJSON_GetObjectItemCaseSensitive(r.p.blocks[0].tmpl, "instanceCap"));
        is_str(cap, "Jenkinsfile:1:38", "a value's place");
        struct ka_loc kl;
        ka_locmap_get_key(r.p.locs, cJSON_GetObjectItemCaseSensitive(r.p.blocks[0].tmpl, "instanceCap"), &kl);
        is_int(kl.col, 25, "its key's place");
        _cleanup_free_ char *name = place_of(&r.p, cJSON_GetObjectItemCaseSensitive(r.p.blocks[0].tmpl, "name"));
        is_str(name, "Jenkinsfile:1:1", "a generated value is placed at the block");

        char path[] = "/tmp/ka-pipeline-XXXXXX";
        ok(mkdtemp(path) != NULL, "a temporary folder");
        _cleanup_free_ char *file = ka_path_join(path, "Jenkinsfile");
        struct ka_error err = {0};
        ok(ka_write_file_atomic(file, src, sizeof(src) - 1, 0644, &err) == 0, "the script written to a file");
        struct ka_pipeline p;
        struct ka_diags d = {0};
        struct ka_pipeline_options o = {.plugins = &plugins};
        is_int(ka_pipeline_read_file(file, &o, &p, &d), 0, "read from the file");
        for (size_t i = 0; i < p.n_blocks; i++) {
                struct ka_template *t = NULL;
                ok(ka_template_load(p.blocks[i].tmpl, p.locs, &plugins, &t, &d) < 0, "the template is refused");
                ka_template_free(t);
        }
        _cleanup_free_ char *got = diag_lines(&d, 0);
        _cleanup_free_ char *want1 = ka_asprintf("%s:3:34: error: yaml: did not find expected node content", file);
        _cleanup_free_ char *want2 = ka_asprintf("%s:5:53: error: yaml: did not find expected node content", file);
        like(got, want1, "a YAML error in a triple-quoted string is at its line and column in the Jenkinsfile");
        like(got, want2, "and in a one-line string");
        ka_pipeline_free(&p);
        ka_diags_free(&d);
        unlink(file);

        _cleanup_free_ char *pod = ka_path_join(path, "pod.yaml");
        ok(ka_write_file_atomic(pod, "spec:\n  containers: [}\n", 23, 0644, &err) == 0, "a yamlFile");
        static const char decl[] = "pipeline {\n  agent { kubernetes { yamlFile 'pod.yaml' } }\n}\n";
        ok(ka_write_file_atomic(file, decl, sizeof(decl) - 1, 0644, &err) == 0, "a declarative script");
        is_int(ka_pipeline_read_file(file, &o, &p, &d), 0, "read, yamlFile relative to the Jenkinsfile");
        struct ka_template *t = NULL;
        ok(ka_template_load(p.blocks[0].tmpl, p.locs, &plugins, &t, &d) < 0, "its YAML is refused");
        free(got);
        got = diag_lines(&d, 0);
        _cleanup_free_ char *want3 = ka_asprintf("%s:2:16: error: yaml:", pod);
        like(got, want3, "located in the yamlFile");
        ka_pipeline_free(&p);
        ka_diags_free(&d);
        unlink(file);
        unlink(pod);
        rmdir(path);
        result_free(&r);
}

/* Variables nest values deeper than the script: still bounded. */
static void test_deep_values(void) {
        struct ka_buf b = KA_BUF_INIT(0);
        ka_buf_puts(&b, "def v0 = [1]\n");
        for (int i = 1; i < 3000; i++)
                ka_buf_printf(&b, "def v%d = [v%d]\n", i, i - 1);
        ka_buf_puts(&b, "podTemplate(label: 'd', volumes: [hostPathVolume(hostPath: v2999, mountPath: '/m')]) { }\n");
        struct ka_pipeline p;
        struct ka_diags d = {0};
        struct ka_pipeline_options o = {0}; /* no plugins: any shape is converted */
        is_int(ka_pipeline_read(b.data, b.len, "Jenkinsfile", &o, &p, &d), -EINVAL, "a value nested 3000 deep");
        _cleanup_free_ char *got = diag_lines(&d, 0);
        like(got, "hostPath: nested more than 200 levels deep", "is refused, not recursed into");
        ka_pipeline_free(&p);
        ka_diags_free(&d);
        ka_buf_free(&b);
}

static void test_call_api(void) {
        struct ka_locmap *locs = ka_locmap_new();
        struct ka_diags d = {0};
        cJSON *t = NULL;
        static const char call[] = "podTemplate(label: 'api', containers: [containerTemplate(name: 'a', image: 'b')])";
        is_int(ka_pipeline_template_from_call(call, strlen(call), "request", NULL, locs, &t, &d), 0,
               "a podTemplate(...) call as text");
        is_str(str_at(t, "label"), "api", "its template");
        struct ka_loc l;
        ka_locmap_get(locs, cJSON_GetObjectItemCaseSensitive(t, "label"), &l);
        ok(ka_streq(l.file, "request") && l.line == 1 && l.col == 20, "placed in the request");
        cJSON_Delete(t);
        t = NULL;
        static const char two[] = "podTemplate(label: 'a')\npodTemplate(label: 'b')";
        ok(ka_pipeline_template_from_call(two, strlen(two), "request", NULL, locs, &t, &d) < 0 && !t,
           "two calls are refused");
        _cleanup_free_ char *got = diag_lines(&d, 0);
        like(got, "request:1:1: error: expected exactly one podTemplate(...) call", "with a message");
        static const char bad[] = "podTemplate(label: 'a' containers: [])";
        ok(ka_pipeline_template_from_call(bad, strlen(bad), "request", NULL, locs, &t, &d) < 0, "a syntax error");
        free(got);
        got = diag_lines(&d, 0);
        like(got, "request:1:24: error: unexpected \"containers\"; expected ',' or ')'", "located");
        ka_diags_free(&d);
        ka_locmap_free(locs);
}

/* ---- the corpus ---- */

static char *read_all(const char *path) {
        char *data;
        size_t len;
        struct ka_error err = {0};
        return ka_read_file(path, 1u << 22, &data, &len, &err) < 0 ? NULL : data;
}

static char *describe(const char *name) {
        struct ka_pipeline p;
        struct ka_diags d = {0};
        struct ka_pipeline_options o = {.plugins = &plugins};
        struct ka_buf out = KA_BUF_INIT(0);
        ka_buf_printf(&out, "# %s as kubeagent reads it (see tests/unit/pipeline.c)\n", name);
        int r = ka_pipeline_read_file(name, &o, &p, &d);
        if (r < 0 && r != -EINVAL) {
                char *lines = diag_lines(&d, 0);
                ka_buf_puts(&out, lines);
                free(lines);
                ka_diags_free(&d);
                return ka_buf_steal(&out);
        }
        size_t pipeline_diags = d.n;
        /* the template loader's verdict on every block without errors of its own */
        for (size_t i = 0; i < p.n_blocks; i++) {
                struct ka_template *t = NULL;
                if (!p.blocks[i].errors && ka_template_load(p.blocks[i].tmpl, p.locs, &plugins, &t, &d) == 0)
                        ka_template_free(t);
        }
        char *lines = diag_lines(&d, 0);
        ka_buf_puts(&out, lines);
        free(lines);
        (void)pipeline_diags;
        for (size_t i = 0; i < p.n_blocks; i++) {
                const struct ka_pipeline_block *b = &p.blocks[i];
                ka_buf_printf(&out, "--- %u:%u %s, label %s%s", b->where.line, b->where.col,
                              b->kind == KA_PIPELINE_STEP ? "podTemplate" : "kubernetes agent", b->label,
                              b->label_generated ? " (generated)" : "");
                if (b->cloud)
                        ka_buf_printf(&out, ", cloud %s", b->cloud);
                if (b->default_container)
                        ka_buf_printf(&out, ", defaultContainer %s", b->default_container);
                if (b->errors)
                        ka_buf_printf(&out, ", %u error%s", b->errors, b->errors == 1 ? "" : "s");
                ka_buf_putc(&out, '\n');
                ka_yaml_emit(b->tmpl, &out);
        }
        ka_pipeline_free(&p);
        ka_diags_free(&d);
        return ka_buf_steal(&out);
}

static int cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_corpus(void) {
        const char *top = getenv("top_srcdir");
        _cleanup_free_ char *dir = ka_path_join(top ? top : ".", "tests/pipelines");
        _cleanup_free_ char *here = getcwd(NULL, 0);
        if (chdir(dir) < 0) {
                ok(false, "cannot open %s", dir);
                return;
        }
        DIR *dp = opendir(".");
        char **names = ka_new0(char *, 1);
        for (struct dirent *e; dp && (e = readdir(dp));)
                if (ka_endswith(e->d_name, ".groovy"))
                        names = ka_strv_push(names, e->d_name);
        if (dp)
                closedir(dp);
        qsort(names, ka_strv_len(names), sizeof(char *), cmp);
        bool regen = getenv("KA_REGENERATE") != NULL;
        ok(ka_strv_len(names) >= 30, "the corpus has its scripts (%zu)", ka_strv_len(names));
        for (size_t i = 0; names[i]; i++) {
                _cleanup_free_ char *got = describe(names[i]);
                _cleanup_free_ char *golden = ka_asprintf("%.*s.templates", (int)(strlen(names[i]) - 7), names[i]);
                if (regen) {
                        struct ka_error err = {0};
                        ok(ka_write_file_atomic(golden, got, strlen(got), 0644, &err) == 0, "%s written", golden);
                        continue;
                }
                _cleanup_free_ char *want = read_all(golden);
                is_str(got, want ? want : "(missing golden file)", "%s", names[i]);
        }
        ka_strv_free(names);
        if (chdir(here) < 0)
                ok(false, "cannot return to %s", here);
}

int main(void) {
        ka_mem_init();
        const char *path = getenv("KUBEAGENT_PLUGIN_PATH");
        char *dirs[] = {(char *)(path ? path : "plugins/.libs"), NULL};
        struct ka_diags pd = {0};
        ka_registry_load_path(&plugins, dirs, &pd);
        ok(pd.errors == 0 && plugins.n > 0, "the plugins load");
        ka_diags_free(&pd);
        test_nesting();
        test_declarative();
        test_labels();
        test_values();
        test_places();
        test_deep_values();
        test_call_api();
        test_corpus();
        ka_registry_free(&plugins);
        return tap_done();
}
