/* Picking the template for a queue item's label (§5.1). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "template.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"

bool ka_template_matches(const struct ka_template *t, const struct ka_labelexpr *e) {
        if (!e)
                return t->node_usage_mode == KA_USAGE_NORMAL;
        _cleanup_(ka_strv_freep) char **atoms = ka_label_atoms(t->label);
        return ka_labelexpr_eval(e, atoms);
}

static void describe(struct ka_buf *b, const struct ka_template *t) {
        ka_buf_printf(b, "%s%s (%s%s)", b->len ? ", " : "", t->name ? t->name : "(unnamed)",
                      t->label ? t->label : "no label", t->node_usage_mode == KA_USAGE_NORMAL ? ", NORMAL" : "");
}

int ka_template_match(const struct ka_config *cfg, const struct ka_cloud *cloud, const char *expression,
                      const struct ka_template *const *extra, size_t n_extra, const struct ka_cloud **ret_cloud,
                      const struct ka_template **ret, struct ka_error *err) {
        _cleanup_(ka_labelexpr_freep) struct ka_labelexpr *e = NULL;
        _cleanup_free_ char *blank = ka_strip(expression ? expression : "");
        if (*blank) {
                int r = ka_labelexpr_parse(expression, &e, err);
                if (r < 0)
                        return r;
        }
        const struct ka_cloud *extra_cloud = cloud ? cloud : cfg->n_clouds ? cfg->clouds[0] : NULL;
        struct ka_buf seen = KA_BUF_INIT(0);
        for (size_t c = 0; c < cfg->n_clouds; c++) {
                const struct ka_cloud *cl = cfg->clouds[c];
                if (cloud && cl != cloud)
                        continue;
                for (size_t i = 0; i < cl->n_templates + (cl == extra_cloud ? n_extra : 0); i++) {
                        const struct ka_template *t =
                                i < cl->n_templates ? cl->templates[i] : extra[i - cl->n_templates];
                        if (ka_template_matches(t, e)) {
                                ka_buf_free(&seen);
                                *ret_cloud = cl;
                                *ret = t;
                                return 0;
                        }
                        describe(&seen, t);
                }
        }
        int r = e ? ka_error_set(err, -ENOENT, "no template matches the label expression \"%s\"; templates: %s",
                                 expression, seen.len ? seen.data : "none")
                  : ka_error_set(err, -ENOENT, "no NORMAL template serves jobs without a label; templates: %s",
                                 seen.len ? seen.data : "none");
        ka_buf_free(&seen);
        return r;
}
