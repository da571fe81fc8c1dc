/* core/pipeline/pipeline.h — the pod templates a Jenkinsfile defines.
 *
 * Reads a Jenkinsfile (scripted `podTemplate(...) { ... }` steps and
 * declarative `agent { kubernetes { ... } }` blocks, at pipeline and stage
 * level) and turns each block into a pod template in the shape of a config
 * template (JCasC keys: name, label, inheritFrom, containers, envVars,
 * volumes, yaml, ...), so that validation and rendering are the template
 * code's, and its errors point at the Jenkinsfile: every node of every tree
 * has its line:col in `locs` (a `yaml` string's place is where its first
 * line starts, so that line N of the YAML is line N of the place, and a
 * `yamlFile`'s YAML is placed in that file).
 *
 * What the plugin's steps do is done here: a nested podTemplate inherits
 * from the enclosing one unless it says `inheritFrom: ''`; a declarative
 * agent never inherits implicitly; namespaces pass from the enclosing
 * template; a block without a label gets a POD_LABEL-style label (from the
 * job name and build number, with a suffix derived from the block's place so
 * that output is reproducible) and every template a generated name;
 * container names are checked with the plugin's message; `yamlFile` is read
 * relative to the Jenkinsfile.  Volume and retention symbols are looked up in
 * the plugin registry.
 *
 * Values the script only computes when it runs (`"${env.X}"`, method calls
 * other than the describable symbols, variables assigned where it cannot be
 * known whether they ran) are kept as their text `${...}` in strings, with a
 * warning naming the place; the parser never guesses them. */
#ifndef KA_PIPELINE_PIPELINE_H
#define KA_PIPELINE_PIPELINE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "plugin/plugin.h"
#include "util/error.h"
#include "yaml/locmap.h"

struct ka_pipeline_options {
        const char *job;                   /* job full name for generated labels; NULL = "pipeline" */
        unsigned build;                    /* build number; 0 = 1 */
        const struct ka_registry *plugins; /* volume/retention symbols (a kind with no plugin loaded,
                                              or NULL: not checked here) */
        const char *base_dir;              /* where yamlFile is read; NULL = the Jenkinsfile's folder */
};

enum ka_pipeline_kind {
        KA_PIPELINE_STEP = 1,  /* podTemplate(...) { } */
        KA_PIPELINE_AGENT = 2, /* agent { kubernetes { } } */
};

struct ka_pipeline_block {
        enum ka_pipeline_kind kind;
        struct ka_loc where;     /* the podTemplate / kubernetes word */
        char *cloud;             /* its cloud; NULL = the default one */
        char *label;             /* the label its pod gets */
        bool label_generated;    /* no label given: POD_LABEL */
        char *default_container; /* declarative defaultContainer, or NULL */
        unsigned errors;         /* errors reported about this block */
        cJSON *tmpl;             /* the template */
};

struct ka_pipeline {
        char *file;
        struct ka_pipeline_block *blocks; /* in source order */
        size_t n_blocks;
        struct ka_locmap *locs;
};

/* Problems go to diags (file:line:col).  Returns 0; -EINVAL when any block
 * has errors (*ret is then filled all the same, so that a checker can go on
 * with the others); or another negative code, with *ret untouched, when the
 * script cannot be read at all (I/O, syntax error, size limits). */
int ka_pipeline_read(const char *text, size_t len, const char *file, const struct ka_pipeline_options *opts,
                     struct ka_pipeline *ret, struct ka_diags *diags);
int ka_pipeline_read_file(const char *path, const struct ka_pipeline_options *opts, struct ka_pipeline *ret,
                          struct ka_diags *diags);
void ka_pipeline_free(struct ka_pipeline *p);

/* The template of one `podTemplate(...)` call given as text (a body is
 * optional), e.g. by the run-time registration API: places go into `locs`
 * under the name `origin`.  Returns 0 with *ret set, or a negative code
 * with the problems in diags. */
int ka_pipeline_template_from_call(const char *text, size_t len, const char *origin,
                                   const struct ka_pipeline_options *opts, struct ka_locmap *locs, cJSON **ret,
                                   struct ka_diags *diags);

#endif
