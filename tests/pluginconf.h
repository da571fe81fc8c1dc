/* tests/pluginconf.h — a plugin's conf from YAML text, through the real key
 * table: what the core does with a block of the user's file, for tests
 * (flow style is handy: "{tokenFile: /x, caFile: /y}").  The text is placed
 * as file "test.yaml"; an error names that place.  Free the conf with
 * ka_plugin_conf_free(p, 0, conf). */
#ifndef KA_TESTS_PLUGINCONF_H
#define KA_TESTS_PLUGINCONF_H

#include "plugin/plugin.h"

int plugin_conf_yaml(const struct kubeagent_plugin_handle *p, const char *yaml, void **ret_conf,
                     struct ka_error *err);

#endif
