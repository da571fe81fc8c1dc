/* Proxy selection as client-go does it: proxy-url, else the environment. */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"

/* The first of two variables that is set and not empty. */
static char *env_any(const char *upper, const char *lower) {
        const char *v = getenv(upper);
        if (ka_isempty(v))
                v = getenv(lower);
        return ka_isempty(v) ? NULL : ka_strdup(v);
}

void ka_kube_proxy_env_read(struct ka_kube_proxy_env *ret) {
        *ret = (struct ka_kube_proxy_env){
                .https_proxy = env_any("HTTPS_PROXY", "https_proxy"),
                .http_proxy = env_any("HTTP_PROXY", "http_proxy"),
                .no_proxy = env_any("NO_PROXY", "no_proxy"),
        };
        ka_kube_proxy_register_secret(ret->https_proxy);
        ka_kube_proxy_register_secret(ret->http_proxy);
}

void ka_kube_proxy_env_clear(struct ka_kube_proxy_env *env) {
        free(env->https_proxy);
        free(env->http_proxy);
        free(env->no_proxy);
        *env = (struct ka_kube_proxy_env){0};
}

/* Where the authority of a URL starts and ends ("scheme://[user@]host:port/..."). */
static const char *authority(const char *url, const char **ret_end) {
        const char *p = strstr(url, "://");
        p = p ? p + 3 : url;
        *ret_end = p + strcspn(p, "/?#");
        return p;
}

/* The userinfo's password: [start, end) inside url, or false. */
static bool password_span(const char *url, const char **ret_start, const char **ret_end) {
        const char *end;
        const char *a = authority(url, &end);
        const char *at = NULL;
        for (const char *p = a; p < end; p++)
                if (*p == '@')
                        at = p;
        if (!at)
                return false;
        const char *colon = memchr(a, ':', (size_t)(at - a));
        if (!colon)
                return false;
        *ret_start = colon + 1;
        *ret_end = at;
        return true;
}

char *ka_kube_proxy_display(const char *proxy) {
        const char *s, *e;
        if (!proxy || !password_span(proxy, &s, &e))
                return ka_strdup(proxy);
        return ka_asprintf("%.*s" KA_SECRET_MASK "%s", (int)(s - proxy), proxy, e);
}

void ka_kube_proxy_register_secret(const char *proxy) {
        const char *s, *e;
        if (!proxy || !password_span(proxy, &s, &e) || s == e)
                return;
        char *pass = ka_strndup(s, (size_t)(e - s));
        ka_secret_register(pass);
        ka_free_secret(pass);
}

/* An IP address (v4 or v6, without brackets): its family and 16 bytes. */
static int parse_ip(const char *s, unsigned char ret[16]) {
        memset(ret, 0, 16);
        if (inet_pton(AF_INET, s, ret) == 1)
                return AF_INET;
        if (inet_pton(AF_INET6, s, ret) == 1) {
                /* an IPv4-mapped address is its IPv4 address, as Go's net.IP */
                static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
                if (memcmp(ret, mapped, 12) == 0) {
                        memmove(ret, ret + 12, 4);
                        memset(ret + 4, 0, 12);
                        return AF_INET;
                }
                return AF_INET6;
        }
        return 0;
}

static bool is_loopback(int family, const unsigned char ip[16]) {
        static const unsigned char v6[16] = {[15] = 1};
        return family == AF_INET ? ip[0] == 127 : memcmp(ip, v6, 16) == 0;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, int bits) {
        int bytes = bits / 8, rest = bits % 8;
        if (memcmp(a, b, (size_t)bytes) != 0)
                return false;
        if (rest == 0)
                return true;
        unsigned char mask = (unsigned char)(0xFF << (8 - rest));
        return (a[bytes] & mask) == (b[bytes] & mask);
}

/* Split "host[:port]" / "[v6][:port]" of a NO_PROXY entry (in place). */
static void split_entry(char *e, char **ret_host, char **ret_port) {
        *ret_port = NULL;
        if (e[0] == '[') {
                char *close = strchr(e, ']');
                if (close) {
                        *close = '\0';
                        if (close[1] == ':')
                                *ret_port = close + 2;
                        *ret_host = e + 1;
                        return;
                }
        }
        char *colon = strrchr(e, ':');
        /* a bare IPv6 address has several colons and no port */
        if (colon && strchr(e, ':') == colon) {
                *colon = '\0';
                *ret_port = colon + 1;
        }
        *ret_host = e;
}

/* Whether one NO_PROXY entry (trimmed, lower-case) covers host:port. */
static bool entry_matches(char *entry, const char *host, const char *port, int family, const unsigned char ip[16]) {
        char *slash = strchr(entry, '/');
        if (slash) {
                unsigned char net[16];
                int bits;
                *slash = '\0';
                int f = parse_ip(entry, net);
                bool v4 = f == AF_INET && strchr(entry, ':') == NULL;
                if (!f || ka_parse_int(slash + 1, &bits) < 0 || bits < 0 || bits > (v4 ? 32 : 128))
                        return false;
                return family && (v4 ? family == AF_INET : (f == AF_INET6 && family == AF_INET6)) &&
                       prefix_equal(ip, net, bits);
        }
        char *h, *p;
        split_entry(entry, &h, &p);
        if (p && strcmp(p, port) != 0)
                return false;
        unsigned char eip[16];
        int f = parse_ip(h, eip);
        if (f)
                return family == f && memcmp(eip, ip, 16) == 0;
        if (*h == '\0')
                return false;
        /* domains: "x.y" is the name and its subdomains; ".x.y" and "*.x.y" only subdomains */
        bool match_host = true;
        if (ka_startswith(h, "*."))
                h++;
        if (h[0] == '.')
                match_host = false;
        else
                return strcmp(host, h) == 0 ||
                       (strlen(host) > strlen(h) && ka_endswith(host, h) && host[strlen(host) - strlen(h) - 1] == '.');
        return (match_host && strcmp(host, h + 1) == 0) || ka_endswith(host, h);
}

/* Whether NO_PROXY (or the loopback rule) sends host:port directly. */
static bool bypass(const char *no_proxy, const char *host_in, const char *port) {
        size_t hl = strlen(host_in);
        char *host = hl >= 2 && host_in[0] == '[' && host_in[hl - 1] == ']' ? ka_strndup(host_in + 1, hl - 2)
                                                                            : ka_strdup(host_in);
        for (char *p = host; *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        unsigned char ip[16];
        int family = parse_ip(host, ip);
        bool direct = strcmp(host, "localhost") == 0 || (family && is_loopback(family, ip));
        char *list = ka_strdup(no_proxy ? no_proxy : "");
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok && !direct; tok = strtok_r(NULL, ",", &save)) {
                char *e = ka_strip(tok);
                for (char *p = e; *p; p++)
                        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
                direct = strcmp(e, "*") == 0 || (*e && entry_matches(e, host, port, family, ip));
                free(e);
        }
        free(list);
        free(host);
        return direct;
}

int ka_kube_proxy_for(const char *proxy_url, const struct ka_kube_proxy_env *env, bool https, const char *host,
                      const char *port, char **ret, struct ka_error *err) {
        const char *proxy = proxy_url;
        if (ka_isempty(proxy)) {
                proxy = https ? env->https_proxy : env->http_proxy;
                if (ka_isempty(proxy) || bypass(env->no_proxy, host, port)) {
                        *ret = NULL;
                        return 0;
                }
        }
        const char *sep = strstr(proxy, "://");
        if (!sep) {
                *ret = ka_asprintf("http://%s", proxy);
                return 0;
        }
        size_t n = (size_t)(sep - proxy);
        if (n == 6 && strncasecmp(proxy, "socks5", 6) == 0) {
                *ret = ka_asprintf("socks5h%s", sep);
                return 0;
        }
        bool known = (n == 4 && strncasecmp(proxy, "http", 4) == 0) ||
                     (n == 5 && strncasecmp(proxy, "https", 5) == 0) ||
                     (n == 7 && strncasecmp(proxy, "socks5h", 7) == 0 && proxy != proxy_url);
        if (!known) {
                _cleanup_free_ char *shown = ka_kube_proxy_display(proxy);
                return ka_error_set(err, -EINVAL,
                                    "proxy \"%s\": unsupported scheme \"%.*s\", must be http, https, or socks5", shown,
                                    (int)n, proxy);
        }
        *ret = ka_strdup(proxy);
        return 0;
}
