/* core/config/document.h — reading the config file (or folder) into one tree.
 *
 * `-c FILE` reads one YAML document; `-c DIR` reads every *.yaml and *.yml in
 * it in name order and merges them: mappings merge key by key, lists
 * concatenate (so templates and clouds can live in separate files), and two
 * files giving different scalar values for the same key is an error naming
 * both places.  The tree remembers every node's file:line:col in `locs`. */
#ifndef KA_CONFIG_DOCUMENT_H
#define KA_CONFIG_DOCUMENT_H

#include <cjson/cJSON.h>

#include "util/error.h"
#include "yaml/locmap.h"

struct ka_document {
        cJSON *root; /* an object (empty when the file is empty) */
        struct ka_locmap *locs;
        char *path;   /* as given */
        char **files; /* the files read, in order */
};

/* Errors go to diags (one per file that fails to parse). */
int ka_document_load(const char *path, struct ka_document *ret, struct ka_diags *diags);
void ka_document_free(struct ka_document *doc);

/* kubeagent.pluginPath (a folder or a list), resolved against the file
 * that sets it; NULL when unset.  Bad entries go to diags. */
char **ka_document_plugin_path(const struct ka_document *doc, struct ka_diags *diags);

/* The place of a node, for messages. */
struct ka_loc ka_document_where(const struct ka_document *doc, const cJSON *node);

#endif
