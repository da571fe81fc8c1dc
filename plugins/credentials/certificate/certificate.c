/* Credential plugin `certificate`: a client certificate, as a PKCS#12 file
 * with a password (the minikube .pfx flow of the Jenkins plugin's README) or
 * as PEM certificate and key files, plus the server's CA.
 *
 *     credentials:
 *       minikube: {type: certificate, server: "https://192.168.99.100:8443",
 *                  p12File: ~/.minikube/cert.pfx, passwordFile: ~/.minikube/pfx-pass,
 *                  caFile: ~/.minikube/ca.crt}
 *
 * PKCS#12 files made with legacy algorithms (RC2/3DES: OpenSSL 1.x defaults,
 * many Java and Windows exports) need OpenSSL 3's legacy provider; it is
 * loaded only when such a file fails to parse without it.  The key and the
 * certificate chain are handed to the core as PEM. */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/credutil.h"

struct conf {
        struct cu_server_conf srv;
        char *p12_file;
        char *password;
        char *password_file;
        char *cert_file;
        char *key_file;
};

static const struct kubeagent_config_key keys[] = {
        CU_KEY_SERVER(struct conf, srv),
        {"p12File", KUBEAGENT_CFG_PATH, NULL, 0, offsetof(struct conf, p12_file),
         "PKCS#12 (.p12, .pfx) file with the client certificate and key"},
        {"password", KUBEAGENT_CFG_SECRET, NULL, 0, offsetof(struct conf, password), "password of the p12File"},
        {"passwordFile", KUBEAGENT_CFG_PATH, NULL, 0, offsetof(struct conf, password_file),
         "file holding the password of the p12File"},
        {"certFile", KUBEAGENT_CFG_PATH, NULL, 0, offsetof(struct conf, cert_file),
         "PEM client certificate (with keyFile)"},
        {"keyFile", KUBEAGENT_CFG_PATH, NULL, 0, offsetof(struct conf, key_file), "PEM private key of certFile"},
        CU_KEY_CA_FILE(struct conf, srv),
        CU_KEY_CA_DATA(struct conf, srv),
        CU_KEY_NAMESPACE(struct conf, srv),
        {NULL},
};

struct session {
        struct cu_server srv;
        char *description;
        char *cert_pem;
        char *key_pem; /* secret */
};

static int validate(void *state, const void *conf_, const struct kubeagent_config_source *src, struct ka_error *err) {
        (void)state;
        const struct conf *c = conf_;
        if (!c->p12_file == !c->cert_file)
                return cu_host->error_at(err, src, c->p12_file ? "certFile" : NULL, -EINVAL,
                                         "certificate credentials need p12File or certFile (with keyFile), "
                                         "exactly one");
        if (c->cert_file && !c->key_file)
                return cu_host->error_at(err, src, "certFile", -EINVAL, "certFile needs keyFile");
        if (c->p12_file && c->password && c->password_file)
                return cu_host->error_at(err, src, "passwordFile", -EINVAL, "give password or passwordFile, not both");
        return cu_server_validate(&c->srv, src, err);
}

static void close_(void *session) {
        struct session *s = session;
        if (!s)
                return;
        cu_server_clear(&s->srv);
        free(s->description);
        free(s->cert_pem);
        cu_host->secret_free(s->key_pem);
        free(s);
}

/* OpenSSL's legacy provider in a library context of the parse's own, made
 * the thread's default while it lasts: the process's default context (the
 * one every TLS connection uses) is left as it was, and nothing outlives
 * the parse. */
struct legacy {
        OSSL_LIB_CTX *ctx, *prev;
        OSSL_PROVIDER *legacy, *default_;
};

static void legacy_leave(struct legacy *l) {
        if (l->prev)
                OSSL_LIB_CTX_set0_default(l->prev);
        OSSL_PROVIDER_unload(l->default_);
        OSSL_PROVIDER_unload(l->legacy);
        OSSL_LIB_CTX_free(l->ctx);
        *l = (struct legacy){0};
}

static bool legacy_enter(struct legacy *l) {
        *l = (struct legacy){.ctx = OSSL_LIB_CTX_new()};
        if (l->ctx) {
                /* "default" too: with "legacy" loaded explicitly, it is not
                 * loaded by itself */
                l->legacy = OSSL_PROVIDER_load(l->ctx, "legacy");
                l->default_ = OSSL_PROVIDER_load(l->ctx, "default");
        }
        if (!l->legacy || !l->default_) {
                legacy_leave(l);
                return false;
        }
        l->prev = OSSL_LIB_CTX_set0_default(l->ctx);
        return true;
}

static char *bio_text(BIO *b) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        if (n <= 0)
                return NULL;
        char *s = malloc((size_t)n + 1);
        if (!s)
                abort();
        memcpy(s, p, (size_t)n);
        s[n] = '\0';
        return s;
}

static int read_password(const struct conf *c, char **ret, struct ka_error *err) {
        if (c->password) {
                *ret = cu_secret_dup(c->password);
                return 0;
        }
        if (!c->password_file) {
                *ret = cu_strdup("");
                return 0;
        }
        char *data;
        size_t len;
        int r = cu_host->read_file(c->password_file, 4096, &data, &len, err);
        if (r < 0)
                return r;
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
                data[--len] = '\0';
        cu_host->secret_register(data);
        *ret = data;
        return 0;
}

/* Parses the PKCS#12 file into PEM in the session, within the thread's
 * current default library context; -EPROTONOSUPPORT (err untouched) when
 * it needs algorithms that context lacks. */
static int parse_p12(const struct conf *c, const char *der, size_t len, const char *pass, struct session *s,
                     struct ka_error *err) {
        const unsigned char *p = (const unsigned char *)der;
        PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
        if (!p12)
                return cu_host->error_set(err, -EINVAL, "%s: not a PKCS#12 file", c->p12_file);
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        STACK_OF(X509) *chain = NULL;
        int r = 0;
        ERR_clear_error();
        if (PKCS12_parse(p12, pass, &key, &cert, &chain) != 1) {
                unsigned long e = ERR_peek_last_error();
                if (ERR_GET_REASON(e) == ERR_R_UNSUPPORTED || ERR_GET_LIB(e) == ERR_LIB_EVP)
                        r = -EPROTONOSUPPORT;
                else
                        r = cu_host->error_set(err, -EINVAL,
                                               "%s: cannot open it (wrong password, or not a client certificate)",
                                               c->p12_file);
        } else if (!key || !cert)
                r = cu_host->error_set(err, -EINVAL, "%s: holds no private key with its certificate", c->p12_file);
        PKCS12_free(p12);
        if (r == 0) {
                BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
                PEM_write_bio_X509(cb, cert);
                /* the chain after the leaf, minus the CA it might carry for the server */
                for (int i = 0; chain && i < sk_X509_num(chain); i++)
                        if (X509_check_issued(sk_X509_value(chain, i), sk_X509_value(chain, i)) != X509_V_OK)
                                PEM_write_bio_X509(cb, sk_X509_value(chain, i));
                PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL);
                s->cert_pem = bio_text(cb);
                s->key_pem = bio_text(kb);
                if (s->key_pem)
                        cu_host->secret_register(s->key_pem);
                BIO_free(cb);
                BIO_free_all(kb);
                if (!s->cert_pem || !s->key_pem)
                        r = cu_host->error_set(err, -EIO, "%s: cannot convert it to PEM", c->p12_file);
        }
        EVP_PKEY_free(key);
        X509_free(cert);
        sk_X509_pop_free(chain, X509_free);
        ERR_clear_error();
        return r;
}

static int load_p12(const struct conf *c, struct session *s, struct ka_error *err) {
        char *der;
        size_t len;
        int r = cu_host->read_file(c->p12_file, CU_FILE_MAX, &der, &len, err);
        if (r < 0)
                return r;
        char *pass;
        r = read_password(c, &pass, err);
        if (r < 0) {
                free(der);
                return r;
        }
        r = parse_p12(c, der, len, pass, s, err);
        if (r == -EPROTONOSUPPORT) {
                /* RC2/3DES: needs the legacy provider; try again with it */
                struct legacy l;
                if (!legacy_enter(&l))
                        r = cu_host->error_set(err, -ENOTSUP,
                                               "%s: uses legacy algorithms and OpenSSL's legacy provider cannot be "
                                               "loaded (install it, or re-export the file with modern algorithms)",
                                               c->p12_file);
                else {
                        r = parse_p12(c, der, len, pass, s, err);
                        legacy_leave(&l);
                }
                if (r == -EPROTONOSUPPORT)
                        r = cu_host->error_set(err, -EINVAL,
                                               "%s: cannot open it (wrong password, or not a client certificate)",
                                               c->p12_file);
        }
        cu_host->secret_free(pass);
        memset(der, 0, len);
        free(der);
        return r;
}

static int open_(void *state, const void *conf_, void **ret_session, struct ka_error *err) {
        (void)state;
        const struct conf *c = conf_;
        if (validate(NULL, c, NULL, err) < 0)
                return -EINVAL;
        struct session *s = calloc(1, sizeof(*s));
        if (!s)
                return cu_host->error_set(err, -ENOMEM, "out of memory");
        int r;
        if (c->p12_file) {
                r = load_p12(c, s, err);
                s->description = cu_printf("client certificate from %s", c->p12_file);
        } else {
                r = cu_load_pem(c->cert_file, "certificate", &s->cert_pem, err);
                if (r == 0)
                        r = cu_load_pem(c->key_file, "key", &s->key_pem, err);
                if (r == 0)
                        r = cu_check_pair(s->cert_pem, s->key_pem, c->key_file, err);
                s->description = cu_printf("client certificate %s", c->cert_file);
        }
        if (r == 0)
                r = cu_server_open(&s->srv, &c->srv, err);
        if (r < 0) {
                close_(s);
                return r;
        }
        *ret_session = s;
        return 0;
}

static int resolve(void *session, enum kubeagent_refresh_reason reason, struct kubeagent_endpoint *ret,
                   struct ka_error *err) {
        (void)reason, (void)err;
        struct session *s = session;
        *ret = cu_server_endpoint(&s->srv);
        ret->client_cert_pem = cu_strdup(s->cert_pem);
        ret->client_key_pem = cu_secret_dup(s->key_pem);
        ret->description = cu_strdup(s->description);
        return 0;
}

static const struct kubeagent_credential_ops ops = {
        .open = open_,
        .resolve = resolve,
        .close = close_,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_CREDENTIAL), /* abi_version, struct_size, signature, kind */
        .name = "certificate",
        .version = PACKAGE_VERSION,
        .description = "a client certificate: PKCS#12 with a password, or PEM certificate and key",
        .config_keys = keys,
        .config_size = sizeof(struct conf),
        .init = cu_init,
        .validate = validate,
        .credential = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
