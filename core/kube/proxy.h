/* core/kube/proxy.h — which proxy a request to the API server goes through,
 * decided as client-go decides it (reference §6.1 proxy-url; Go's
 * net/http ProxyFromEnvironment), not as libcurl would on its own.
 *
 * A cluster's proxy-url wins over the environment, whatever NO_PROXY says.
 * Without one, the environment is read once per client (Go reads it once
 * per process): HTTPS_PROXY for an https:// server and HTTP_PROXY for an
 * http:// one — the upper-case name first, the lower-case one when the
 * upper-case one is unset or empty; ALL_PROXY is not used.  NO_PROXY
 * (upper-case first) is a comma-separated list of `*` (no proxy at all),
 * IP addresses, CIDR ranges, and domains: `example.com` matches the name and
 * its subdomains, `.example.com` and `*.example.com` only subdomains; any
 * entry may end in `:port` to match that port only.  localhost and loopback
 * addresses never go through a proxy from the environment.  A proxy value
 * without a scheme is taken as http://.
 *
 * Proxy URLs are handed to libcurl with socks5:// turned into socks5h://:
 * Go's SOCKS5 dialer lets the proxy resolve host names, which is libcurl's
 * socks5h. */
#ifndef KA_KUBE_PROXY_H
#define KA_KUBE_PROXY_H

#include <kubeagent/error.h>
#include <stdbool.h>

struct ka_kube_proxy_env {
        char *https_proxy; /* HTTPS_PROXY, else https_proxy; or NULL */
        char *http_proxy;  /* HTTP_PROXY, else http_proxy; or NULL */
        char *no_proxy;    /* NO_PROXY, else no_proxy; or NULL */
};

/* Read the variables now.  A password in a proxy URL is registered as a
 * secret. */
void ka_kube_proxy_env_read(struct ka_kube_proxy_env *ret);
void ka_kube_proxy_env_clear(struct ka_kube_proxy_env *env);

/* The proxy for a request to host:port (host as in the URL, IPv6 in
 * brackets) over https or http: *ret is a malloc()ed URL for CURLOPT_PROXY,
 * or NULL to connect directly.  proxy_url is the cluster's (or NULL).
 * -EINVAL with err for a proxy URL of an unsupported scheme. */
int ka_kube_proxy_for(const char *proxy_url, const struct ka_kube_proxy_env *env, bool https, const char *host,
                      const char *port, char **ret, struct ka_error *err);

/* A proxy URL fit for messages: its password replaced by ********. */
char *ka_kube_proxy_display(const char *proxy);

/* Register the password of a proxy URL (user:pass@) as a secret. */
void ka_kube_proxy_register_secret(const char *proxy);

#endif
