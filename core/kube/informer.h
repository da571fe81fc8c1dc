/* core/kube/informer.h — one shared pod watch per namespace.
 *
 * An informer keeps a cache of the pods of one namespace that match a label
 * selector, the way client-go's reflector does (reference §2.4, §2.6): list
 * (paged), then watch from the list's resourceVersion with bookmarks and a
 * random timeoutSeconds in [300, 600); re-watch from the last seen
 * resourceVersion when a watch ends; relist on 410 Expired and diff the
 * cache against the new list, turning pods that vanished meanwhile into
 * DELETED; back off 0.8 s ... 30 s with jitter on errors (reset after two
 * quiet minutes).  Nothing polls per pod.
 *
 * Consumers share it: ka_informer_acquire() returns the running informer
 * for (client, namespace, selector), starting one the first time, and
 * ka_informer_release() stops it after its last user.  Subscribers get
 * every change exactly once, in order, on the informer's thread: ADDED,
 * MODIFIED (only when the resourceVersion changed) and DELETED (with the
 * last known pod).  A relist or a reconnect never repeats an event already
 * delivered and never loses one: a change missed while disconnected arrives
 * as the difference.  Readers get deep copies of cached pods.
 *
 * Thread safety: all functions may be called from any thread, except that a
 * callback must not unsubscribe or release its own informer. */
#ifndef KA_KUBE_INFORMER_H
#define KA_KUBE_INFORMER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube.h"
#include "watch.h"

struct ka_informer;
struct ka_informer_sub;

/* type is KA_WATCH_ADDED, _MODIFIED or _DELETED; pod is valid during the call. */
typedef void (*ka_informer_cb)(void *ud, enum ka_watch_type type, const cJSON *pod);

/* The informer of (k, ns, selector); ns NULL = the client's namespace,
 * selector NULL = every pod.  The client must outlive it. */
int ka_informer_acquire(struct ka_kube *k, const char *ns, const char *selector, struct ka_informer **ret,
                        struct ka_error *err);
void ka_informer_release(struct ka_informer *inf);

/* Subscribe; with replay, the cached pods are first delivered as ADDED
 * (so nothing is missed between a read and the subscription). */
struct ka_informer_sub *ka_informer_subscribe(struct ka_informer *inf, ka_informer_cb cb, void *ud, bool replay);
void ka_informer_unsubscribe(struct ka_informer *inf, struct ka_informer_sub *sub);

/* Wait until the first list is in the cache; false on timeout. */
bool ka_informer_wait_synced(struct ka_informer *inf, int64_t timeout_ms);
/* A copy of the cached pod, or NULL. */
cJSON *ka_informer_get(struct ka_informer *inf, const char *name);
/* A copy of every cached pod, as a JSON array. */
cJSON *ka_informer_list(struct ka_informer *inf);

struct ka_informer_stats {
        uint64_t lists;   /* list requests (pages) */
        uint64_t watches; /* watch requests */
        uint64_t relists; /* lists after 410 Expired */
        uint64_t events;  /* watch events received (bookmarks included) */
        uint64_t bookmarks;
        uint64_t errors;    /* failed lists or watches */
        uint64_t delivered; /* changes delivered to subscribers */
};
void ka_informer_stats(struct ka_informer *inf, struct ka_informer_stats *ret);
/* The last resourceVersion seen (a copy), for tests. */
char *ka_informer_resource_version(struct ka_informer *inf);

#endif
