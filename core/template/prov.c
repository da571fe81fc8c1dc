#include "prov.h"

#include <stdarg.h>
#include <stdio.h>

#include "util/mem.h"

static void set_tree(struct ka_locmap *prov, const cJSON *n, const char *text, bool tree) {
        ka_locmap_set(prov, n, (struct ka_loc){.file = text}, (struct ka_loc){0});
        for (const cJSON *c = tree ? n->child : NULL; c; c = c->next)
                set_tree(prov, c, text, true);
}

static void vnote(struct ka_locmap *prov, const cJSON *node, bool tree, const char *fmt, va_list ap) {
        if (!prov || !node)
                return;
        char text[512];
        vsnprintf(text, sizeof(text), fmt, ap);
        set_tree(prov, node, ka_locmap_intern(prov, text), tree);
}

void ka_prov_note(struct ka_locmap *prov, const cJSON *node, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vnote(prov, node, false, fmt, ap);
        va_end(ap);
}

void ka_prov_note_tree(struct ka_locmap *prov, const cJSON *tree, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vnote(prov, tree, true, fmt, ap);
        va_end(ap);
}

static const char *template_name(const struct ka_template *t) {
        return t && t->name ? t->name : "(unnamed)";
}

void ka_prov_origin(struct ka_locmap *prov, const cJSON *tree, const struct ka_origin *o, const char *what) {
        if (!prov)
                return;
        if (!o->tmpl)
                ka_prov_note_tree(prov, tree, "default (%s not set)", what);
        else if (o->loc.file)
                ka_prov_note_tree(prov, tree, "template %s %s (%s:%u:%u)", template_name(o->tmpl), what, o->loc.file,
                                  o->loc.line, o->loc.col);
        else
                ka_prov_note_tree(prov, tree, "template %s %s", template_name(o->tmpl), what);
}

static void note_pair(struct ka_locmap *prov, const struct ka_fragment *f, const cJSON *from, const cJSON *to) {
        struct ka_loc l;
        if (ka_locmap_get(f->locs, from, &l) && l.file)
                ka_prov_note(prov, to, "template %s yaml (%s:%u:%u)", template_name(f->from.tmpl), l.file, l.line,
                             l.col);
        else
                ka_prov_note(prov, to, "template %s yaml", template_name(f->from.tmpl));
        for (from = from->child, to = to->child; from && to; from = from->next, to = to->next)
                note_pair(prov, f, from, to);
}

cJSON *ka_prov_fragment_copy(struct ka_locmap *prov, const struct ka_fragment *f) {
        cJSON *copy = cJSON_Duplicate(f->pod, true);
        if (prov)
                note_pair(prov, f, f->pod, copy);
        return copy;
}

const char *ka_prov_get(const struct ka_locmap *prov, const cJSON *node) {
        struct ka_loc l;
        return prov && ka_locmap_get(prov, node, &l) ? l.file : NULL;
}
