#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "credutil.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct kubeagent_host *cu_host;

int cu_init(const struct kubeagent_host *host, struct kubeagent_plugin_handle *self, void **ret_state,
            struct ka_error *err) {
        (void)self, (void)err;
        cu_host = host;
        *ret_state = NULL;
        return 0;
}

char *cu_pod_namespace(const char *sa_dir) {
        const char *env = getenv("POD_NAMESPACE");
        if (env && *env)
                return cu_strdup(env);
        char *path = cu_printf("%s/namespace", sa_dir), *data = NULL;
        size_t len;
        struct ka_error ignored;
        int r = cu_host->read_file(path, 256, &data, &len, &ignored);
        free(path);
        if (r < 0)
                return NULL;
        while (len > 0 && strchr(" \t\r\n", data[len - 1]))
                data[--len] = '\0';
        if (len == 0) {
                free(data);
                return NULL;
        }
        return data;
}

static void *oom(void *p) {
        if (!p) {
                fputs("kubeagent: out of memory\n", stderr);
                abort();
        }
        return p;
}

char *cu_strdup(const char *s) {
        return s ? oom(strdup(s)) : NULL;
}

char *cu_strndup(const char *s, size_t n) {
        return oom(strndup(s, n));
}

char *cu_printf(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? oom(NULL) : s;
}

char *cu_secret_dup(const char *s) {
        char *d = cu_strdup(s);
        if (d)
                cu_host->secret_register(d);
        return d;
}

/* ---- the API server ------------------------------------------------------ */

int cu_server_validate(const struct cu_server_conf *c, const struct kubeagent_config_source *src,
                       struct ka_error *err) {
        if (c->ca_file && c->ca_data)
                return cu_host->error_at(err, src, "caData", -EINVAL, "give caFile or caData, not both");
        return 0;
}

int cu_server_open(struct cu_server *s, const struct cu_server_conf *c, struct ka_error *err) {
        *s = (struct cu_server){.server = cu_strdup(c->server), .namespace_ = cu_strdup(c->namespace_)};
        if (c->ca_file)
                return cu_load_pem(c->ca_file, "CA", &s->ca_pem, err);
        if (c->ca_data)
                return cu_pem_or_base64(c->ca_data, "CA", "caData", &s->ca_pem, err);
        return 0;
}

void cu_server_clear(struct cu_server *s) {
        free(s->server);
        free(s->namespace_);
        free(s->ca_pem);
        *s = (struct cu_server){0};
}

struct kubeagent_endpoint cu_server_endpoint(const struct cu_server *s) {
        return (struct kubeagent_endpoint){
                .server = cu_strdup(s->server),
                .namespace_ = cu_strdup(s->namespace_),
                .ca_pem = cu_strdup(s->ca_pem),
        };
}

/* ---- token files ------------------------------------------------------- */

int cu_tokenfile_init(struct cu_tokenfile *tf, const char *path, struct ka_error *err) {
        *tf = (struct cu_tokenfile){.path = cu_strdup(path)};
        char *t;
        int64_t exp;
        int r = cu_tokenfile_get(tf, true, &t, &exp, err);
        if (r == 0)
                cu_host->secret_free(t);
        return r;
}

static int read_token(const char *path, char **ret, struct ka_error *err) {
        char *data;
        size_t len;
        int r = cu_host->read_file(path, CU_FILE_MAX, &data, &len, err);
        if (r < 0)
                return r;
        size_t a = 0, b = len;
        while (a < b && strchr(" \t\r\n", data[a]))
                a++;
        while (b > a && strchr(" \t\r\n", data[b - 1]))
                b--;
        if (a == b) {
                cu_host->secret_free(data);
                return cu_host->error_set(err, -EINVAL, "token file %s is empty", path);
        }
        char *t = cu_strndup(data + a, b - a);
        memset(data, 0, len);
        free(data);
        cu_host->secret_register(t);
        *ret = t;
        return 0;
}

int cu_tokenfile_get(struct cu_tokenfile *tf, bool force, char **ret_token, int64_t *ret_expires_ms,
                     struct ka_error *err) {
        int64_t now = cu_host->wall_ms();
        if (force || !tf->token || now - tf->read_at_ms >= CU_TOKENFILE_TTL_MS) {
                char *t = NULL;
                int r = read_token(tf->path, &t, err);
                if (r < 0 && !tf->token)
                        return r;
                if (r == 0) {
                        cu_host->secret_free(tf->token);
                        tf->token = t;
                }
                /* on failure keep the last good token, and try again soon */
                tf->read_at_ms = now;
        }
        *ret_token = cu_secret_dup(tf->token);
        *ret_expires_ms = tf->read_at_ms + CU_TOKENFILE_TTL_MS;
        return 0;
}

void cu_tokenfile_clear(struct cu_tokenfile *tf) {
        free(tf->path);
        cu_host->secret_free(tf->token);
        *tf = (struct cu_tokenfile){0};
}

/* ---- PEM ----------------------------------------------------------------- */

static const char *ssl_reason(void) {
        unsigned long e = ERR_peek_last_error();
        const char *r = e ? ERR_reason_error_string(e) : NULL;
        return r ? r : "no PEM data";
}

int cu_check_pem(const char *pem, size_t len, const char *what, const char *origin, struct ka_error *err) {
        ERR_clear_error();
        BIO *bio = BIO_new_mem_buf(pem, (int)len);
        if (!bio)
                return cu_host->error_set(err, -ENOMEM, "out of memory");
        int r = 0;
        if (strcmp(what, "key") == 0) {
                EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
                if (!k)
                        r = cu_host->error_set(err, -EINVAL, "%s: not a PEM private key (%s)", origin, ssl_reason());
                EVP_PKEY_free(k);
        } else {
                X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                if (!x)
                        r = cu_host->error_set(err, -EINVAL, "%s: not a PEM %s (%s)", origin, what, ssl_reason());
                X509_free(x);
        }
        BIO_free(bio);
        ERR_clear_error();
        return r;
}

int cu_load_pem(const char *path, const char *what, char **ret_pem, struct ka_error *err) {
        char *data;
        size_t len;
        int r = cu_host->read_file(path, CU_FILE_MAX, &data, &len, err);
        if (r < 0)
                return r;
        bool secret = strcmp(what, "key") == 0;
        if (secret)
                cu_host->secret_register(data);
        r = cu_check_pem(data, len, what, path, err);
        if (r < 0) {
                cu_host->secret_free(data);
                return r;
        }
        *ret_pem = data;
        return 0;
}

int cu_pem_or_base64(const char *text, const char *what, const char *origin, char **ret_pem, struct ka_error *err) {
        bool secret = strcmp(what, "key") == 0;
        if (strstr(text, "-----BEGIN ")) {
                int r = cu_check_pem(text, strlen(text), what, origin, err);
                if (r < 0)
                        return r;
                *ret_pem = secret ? cu_secret_dup(text) : cu_strdup(text);
        } else {
                unsigned char *data;
                size_t len;
                if (cu_host->base64_decode(text, strlen(text), &data, &len) < 0)
                        return cu_host->error_set(err, -EINVAL, "%s: neither PEM nor base64 of PEM", origin);
                if (secret)
                        cu_host->secret_register((const char *)data);
                int r = cu_check_pem((const char *)data, len, what, origin, err);
                if (r < 0) {
                        cu_host->secret_free((char *)data);
                        return r;
                }
                *ret_pem = (char *)data;
        }
        return 0;
}

int cu_check_pair(const char *cert_pem, const char *key_pem, const char *origin, struct ka_error *err) {
        ERR_clear_error();
        BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
        X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
        EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, (void *)"") : NULL;
        int r = 0;
        if (!x || !k || X509_check_private_key(x, k) != 1)
                r = cu_host->error_set(err, -EINVAL, "%s: the client key does not belong to the client certificate",
                                       origin);
        X509_free(x);
        EVP_PKEY_free(k);
        BIO_free(cb);
        BIO_free(kb);
        ERR_clear_error();
        return r;
}
