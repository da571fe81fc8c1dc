/* kubeagent SDK — frontend plugins.
 *
 * A frontend connects kubeagent to a CI controller (Jenkins): it finds demand
 * (queued builds waiting for a label), registers agents with the controller,
 * reports their state, and removes them.  It runs in a thread of its own that
 * the core starts, and talks to the rest of kubeagent only through messages on
 * its bus connection (host->bus_send / host->bus_recv), so that the same
 * frontend works whether the core runs in its process or on another host.
 *
 * Messages are JSON objects with a "type" member; the set exchanged between a
 * frontend and the core is documented in core/bus/PROTOCOL.md. */
#ifndef KUBEAGENT_FRONTEND_H
#define KUBEAGENT_FRONTEND_H

#include <kubeagent/error.h>
#include <kubeagent/host.h>
#include <kubeagent/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kubeagent_frontend_ops {
        /* The frontend's main loop, called on its own thread with its filled
         * config.  It returns when host->bus_recv() reports -ECANCELED (the
         * core is stopping): 0 then, or <0 with err set on a fatal error. */
        int (*run)(void *state, const void *conf, struct kubeagent_bus *bus, struct ka_error *err);
        void *reserved[4];
};

#ifdef __cplusplus
}
#endif
#endif
