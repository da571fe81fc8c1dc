/* core/template/prov.h — where each node of a rendered pod came from, for
 * `kubeagent render --explain`.
 *
 * Provenance reuses the location map (yaml/locmap.h): a node maps to a
 * ka_loc whose `file` is an interned text such as
 *     template "maven" containers[maven].image (kubeagent.yaml:14:16)
 * (line and col are unused), so that copying a tree copies its provenance
 * with ka_locmap_copy_tree().  Every function accepts a NULL map — explain
 * is off — and then does nothing. */
#ifndef KA_TEMPLATE_PROV_H
#define KA_TEMPLATE_PROV_H

#include <cjson/cJSON.h>

#include "template.h"
#include "yaml/locmap.h"

void ka_prov_note(struct ka_locmap *prov, const cJSON *node, const char *fmt, ...) KA_PRINTF(3, 4);
/* The same text for a node and everything under it. */
void ka_prov_note_tree(struct ka_locmap *prov, const cJSON *tree, const char *fmt, ...) KA_PRINTF(3, 4);
/* `what` of a template, at its origin: 'template "maven" image (f.yaml:3:5)'. */
void ka_prov_origin(struct ka_locmap *prov, const cJSON *tree, const struct ka_origin *o, const char *what);
/* A copy of a fragment's pod, each node noted with its place in the fragment. */
cJSON *ka_prov_fragment_copy(struct ka_locmap *prov, const struct ka_fragment *f);

#endif
