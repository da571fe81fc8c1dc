/* kubeagent SDK — everything a plugin includes.
 *
 *     #include <kubeagent/kubeagent.h>
 *
 *     static const struct kubeagent_plugin plugin = {
 *             KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME),
 *             .name = "my-volume", .version = "1.0", ...
 *     };
 *     const struct kubeagent_plugin *kubeagent_plugin_entry(void) { return &plugin; }
 *
 * Build it as a shared object exporting only kubeagent_plugin_entry; the
 * kubeagent-sdk pkg-config module gives the flags and the plugin folder. */
#ifndef KUBEAGENT_KUBEAGENT_H
#define KUBEAGENT_KUBEAGENT_H

#include <kubeagent/credential.h>
#include <kubeagent/error.h>
#include <kubeagent/frontend.h>
#include <kubeagent/host.h>
#include <kubeagent/plugin.h>
#include <kubeagent/retention.h>
#include <kubeagent/volume.h>

#endif
