/* tests/unit/fixture.h — configs written from YAML snippets, for the
 * template and render tests.  Everything loaded lives until fixture_end(),
 * since templates borrow from their config. */
#ifndef KA_TESTS_FIXTURE_H
#define KA_TESTS_FIXTURE_H

#include "config/config.h"

/* Load the build's plugins ($KUBEAGENT_PLUGIN_PATH); false when unset. */
bool fixture_start(void);
void fixture_end(void);
const struct ka_registry *fixture_registry(void);

/* The config of a whole YAML text, or of one cloud named "test" with more
 * cloud keys (YAML lines at 8 spaces) and templates (list items at 10). */
const struct ka_config *fixture_config(const char *yaml);
const struct ka_cloud *fixture_cloud(const char *cloud_keys, const char *templates);
/* The template of a cloud with just it (one flow mapping). */
const struct ka_template *fixture_template(const char *one_template);

/* The compact JSON text of obj.path (of obj for "" or NULL), or
 * "(absent)"; free() it.  is_json() compares it with a TAP test. */
char *fixture_json(const cJSON *obj, const char *path);
#define is_json(obj, path, want, ...)                                                                                  \
        do {                                                                                                           \
                char *got_ = fixture_json((obj), (path));                                                              \
                is_str(got_, (want), __VA_ARGS__);                                                                     \
                free(got_);                                                                                            \
        } while (0)

#endif
