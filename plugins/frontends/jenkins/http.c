/* Requests to the controller: auth, crumbs, errors, health (jenkins.h). */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../credentials/common/credutil.h"
#include "jenkins.h"

const struct kubeagent_host *jk_host;
struct kubeagent_plugin_handle *jk_self;

#define BODY_MAX (16u << 20)            /* a big queue or computer list fits many times */
#define HEADER_MAX 4096

struct strbuf {
        char *data;
        size_t len, cap, max;
        bool overflow;
};

static bool sb_add(struct strbuf *b, const char *s, size_t n) {
        if (b->len + n > b->max) {
                b->overflow = true;
                return false;
        }
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *p = realloc(b->data, cap);
                if (!p)
                        abort();
                b->data = p;
                b->cap = cap;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return true;
}

struct jk_client {
        CURL *curl;
        char *url;                      /* ours, with a trailing '/' */
        char *base_path;                /* its path, "/" or "/jenkins/" */
        char *user;
        struct cu_tokenfile token;
        char *ca_pem;
        bool insecure;
        long timeout_ms;

        char *jenkins_root;             /* api/json "url", once known */
        char *version;                  /* X-Jenkins */
        char *session;                  /* X-Jenkins-Session */
        unsigned restarts;

        char *crumb_field, *crumb;      /* password auth: the crumb of our session */
        bool needs_crumb;

        enum jk_health health;
        char *health_detail;
        char *denied[8];                /* permissions Jenkins reported missing, until a request needing them works */

        /* the response being received */
        struct strbuf body;
        struct jk_response *resp;
};

/* ---- small helpers -------------------------------------------------------- */

void jk_response_clear(struct jk_response *r) {
        if (!r)
                return;
        free(r->body);
        free(r->location);
        free(r->x_error);
        free(r->required_permission);
        *r = (struct jk_response){0};
}

char *jk_escape(struct jk_client *c, const char *s) {
        char *e = curl_easy_escape(c->curl, s ? s : "", 0);
        if (!e)
                abort();
        char *out = cu_strdup(e);
        curl_free(e);
        return out;
}

void jk_form_add(struct jk_client *c, char **form, const char *key, const char *value) {
        char *k = jk_escape(c, key), *v = jk_escape(c, value);
        char *next = cu_printf("%s%s%s=%s", *form ? *form : "", *form && **form ? "&" : "", k, v);
        free(k);
        free(v);
        free(*form);
        *form = next;
}

void jk_error_prefix(struct ka_error *err, const char *what) {
        char msg[KA_ERROR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        jk_host->error_set(err, err->code, "%s: %s", what, msg);
}

enum jk_health jk_client_health(const struct jk_client *c) {
        return c->health;
}

static int denied_slot(const struct jk_client *c, const char *perm) {
        for (int i = 0; perm && i < (int)(sizeof(c->denied) / sizeof(*c->denied)); i++)
                if (c->denied[i] && strcmp(c->denied[i], perm) == 0)
                        return i;
        return -1;
}

bool jk_client_denied(const struct jk_client *c, const char *perm) {
        return denied_slot(c, perm) >= 0;
}

/* A permission denial is logged when it starts and when it ends (a request
 * needing that permission works again), not on every refused request. */
static void note_denied(struct jk_client *c, const char *perm, const char *what) {
        if (denied_slot(c, perm) >= 0)
                return;
        jk_log(WARN, "user %s lacks the Jenkins permission %s: %s and the like fail until it is granted", c->user,
               perm, what);
        for (size_t i = 0; i < sizeof(c->denied) / sizeof(*c->denied); i++)
                if (!c->denied[i]) {
                        c->denied[i] = cu_strdup(perm);
                        return;
                }
}

static void note_allowed(struct jk_client *c, const char *perm) {
        int i = denied_slot(c, perm);
        if (i < 0)
                return;
        jk_log(INFO, "user %s has the Jenkins permission %s now", c->user, perm);
        free(c->denied[i]);
        c->denied[i] = NULL;
}

unsigned jk_client_restarts(const struct jk_client *c) {
        return c->restarts;
}

const char *jk_client_root(const struct jk_client *c) {
        return c->jenkins_root ? c->jenkins_root : c->url;
}

static const char *health_name(enum jk_health h) {
        switch (h) {
        case JK_OK: return "reachable";
        case JK_DOWN: return "unreachable";
        case JK_STARTING: return "starting or restarting";
        case JK_UNAUTHORIZED: return "refusing our credentials";
        case JK_FAILING: return "failing";
        }
        return "?";
}

/* Log a change of health once: a warning when it goes bad (or the reason
 * changes, e.g. another missing permission), info when it recovers. */
static void set_health(struct jk_client *c, enum jk_health h, const char *detail) {
        bool same_detail = (!detail && !c->health_detail) ||
                           (detail && c->health_detail && strcmp(detail, c->health_detail) == 0);
        if (h == c->health && (h == JK_OK || same_detail))
                return;
        if (h == JK_OK)
                jk_log(INFO, "Jenkins at %s is %s again", c->url, health_name(h));
        else
                jk_log(WARN, "Jenkins at %s is %s: %s", c->url, health_name(h), detail ? detail : "");
        c->health = h;
        free(c->health_detail);
        c->health_detail = cu_strdup(detail);
}

/* ---- JSON answers ---------------------------------------------------------- */

const char *jk_json_str(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool jk_json_true(const cJSON *o, const char *key) {
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

int64_t jk_json_int(const cJSON *o, const char *key) {
        const cJSON *v = key ? cJSON_GetObjectItemCaseSensitive(o, key) : o;
        /* exact integers only (2^53): anything else is no id, no time */
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= -9007199254740992.0 && v->valuedouble <= 9007199254740992.0))
                return -1;
        return (int64_t)v->valuedouble;
}

void jk_strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

cJSON *jk_json_list(const char *json, size_t len, const char *key, size_t elem_size, void **ret_v,
                    const cJSON **ret_list) {
        cJSON *j = cJSON_ParseWithLength(json, len);
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, key);
        if (!cJSON_IsObject(j) || !cJSON_IsArray(list)) {
                cJSON_Delete(j);
                return NULL;
        }
        int n = cJSON_GetArraySize(list);
        *ret_v = n > 0 ? calloc((size_t)n, elem_size) : NULL;
        if (n > 0 && !*ret_v)
                abort();
        *ret_list = list;
        return j;
}

/* ---- curl callbacks ------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
        struct jk_client *c = ud;
        return sb_add(&c->body, data, size * n) ? size * n : 0;
}

static char *header_value(const char *line, size_t len, const char *name) {
        size_t nl = strlen(name);
        if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
                return NULL;
        const char *v = line + nl + 1, *end = line + len;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && strchr(" \t\r\n", end[-1]))
                end--;
        return cu_strndup(v, (size_t)(end - v));
}

static void take_header(char **slot, char *value) {
        if (value) {
                free(*slot);
                *slot = value;
        }
}

static void note_session(struct jk_client *c, char *session) {
        if (!session)
                return;
        if (c->session && strcmp(c->session, session) != 0) {
                c->restarts++;
                jk_log(INFO, "Jenkins at %s restarted (X-Jenkins-Session %s -> %s)", c->url, c->session, session);
                /* the HTTP session and its crumb died with the old process */
                free(c->crumb);
                c->crumb = NULL;
                curl_easy_setopt(c->curl, CURLOPT_COOKIELIST, "ALL");
        }
        free(c->session);
        c->session = session;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud) {
        struct jk_client *c = ud;
        size_t len = size * n;
        if (len > HEADER_MAX)
                return len;
        if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {      /* a new response (after 100 Continue) */
                jk_response_clear(c->resp);
                c->body.len = 0;
                return len;
        }
        struct jk_response *r = c->resp;
        take_header(&r->location, header_value(line, len, "Location"));
        take_header(&r->x_error, header_value(line, len, "X-Error"));
        take_header(&r->required_permission, header_value(line, len, "X-Required-Permission"));
        take_header(&c->version, header_value(line, len, "X-Jenkins"));
        note_session(c, header_value(line, len, "X-Jenkins-Session"));
        return len;
}

/* ---- the client ------------------------------------------------------------- */

int jk_client_new(const struct jk_conf *conf, struct jk_client **ret, struct ka_error *err) {
        struct jk_client *c = calloc(1, sizeof(*c));
        if (!c)
                abort();
        size_t ul = strlen(conf->url);
        c->url = cu_printf("%s%s", conf->url, ul && conf->url[ul - 1] == '/' ? "" : "/");
        const char *p = strstr(c->url, "://");
        p = p ? strchr(p + 3, '/') : NULL;
        c->base_path = cu_strdup(p ? p : "/");
        c->user = cu_strdup(conf->user);
        c->insecure = conf->insecure == 1;
        c->timeout_ms = conf->timeout_ms > 0 ? (long)conf->timeout_ms : 30000;
        c->health = JK_OK;
        c->body.max = BODY_MAX;
        int r = cu_tokenfile_init(&c->token, conf->token_file, err);
        if (r == 0 && conf->ca_file && !c->insecure)
                r = cu_load_pem(conf->ca_file, "CA", &c->ca_pem, err);
        if (r == 0 && !(c->curl = curl_easy_init()))
                r = jk_host->error_set(err, -ENOMEM, "cannot make an HTTP client");
        if (r < 0) {
                jk_client_free(c);
                return r;
        }
        CURL *h = c->curl;
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_USERAGENT, "kubeagent-jenkins/" PACKAGE_VERSION);
        curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");           /* cookie engine: the crumb's session */
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
        if (c->insecure) {
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        } else if (c->ca_pem) {
                struct curl_blob blob = {.data = c->ca_pem, .len = strlen(c->ca_pem), .flags = CURL_BLOB_COPY};
                curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
                curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        }
        *ret = c;
        return 0;
}

void jk_client_free(struct jk_client *c) {
        if (!c)
                return;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        cu_tokenfile_clear(&c->token);
        jk_host->secret_free(c->crumb);
        free(c->crumb_field);
        free(c->ca_pem);
        free(c->url);
        free(c->base_path);
        free(c->user);
        free(c->jenkins_root);
        free(c->version);
        free(c->session);
        free(c->health_detail);
        for (size_t i = 0; i < sizeof(c->denied) / sizeof(*c->denied); i++)
                free(c->denied[i]);
        free(c->body.data);
        free(c);
}

/* One exchange on the wire; the answer goes to *r. */
static CURLcode perform(struct jk_client *c, const char *method, const char *path, const char *form,
                        struct jk_response *r) {
        char *url = cu_printf("%s%s", c->url, path);
        char *token = NULL;
        int64_t until;
        struct ka_error terr;
        if (cu_tokenfile_get(&c->token, false, &token, &until, &terr) < 0)
                token = NULL;           /* keeps the last good token */
        struct curl_slist *hdrs = curl_slist_append(NULL, "Accept-Language: en");
        char *crumb_header = NULL;
        if (strcmp(method, "POST") == 0 && c->crumb) {
                crumb_header = cu_printf("%s: %s", c->crumb_field, c->crumb);
                jk_host->secret_register(crumb_header);
                hdrs = curl_slist_append(hdrs, crumb_header);
        }
        CURL *h = c->curl;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PASSWORD, token ? token : "");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        if (strcmp(method, "POST") == 0) {
                curl_easy_setopt(h, CURLOPT_POST, 1L);
                curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, form ? form : "");
        } else {
                curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        }
        c->resp = r;
        c->body.len = 0;
        c->body.overflow = false;
        CURLcode cc = curl_easy_perform(h);
        curl_easy_setopt(h, CURLOPT_PASSWORD, "");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(hdrs);
        jk_host->secret_free(crumb_header);
        jk_host->secret_free(token);
        free(url);
        c->resp = NULL;
        if (cc == CURLE_OK) {
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
                r->body = cu_strndup(c->body.data ? c->body.data : "", c->body.len);
                r->len = c->body.len;
        }
        return cc;
}

static int curl_failure(struct jk_client *c, CURLcode cc, const char *what, struct ka_error *err) {
        int code;
        enum jk_health h = JK_DOWN;
        switch (cc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
                code = -ECONNREFUSED;
                break;
        case CURLE_OPERATION_TIMEDOUT:
                code = -ETIMEDOUT;
                break;
        case CURLE_WRITE_ERROR:
                code = c->body.overflow ? -E2BIG : -EIO;
                h = JK_FAILING;
                break;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CACERT_BADFILE:
                code = -EPROTO;
                h = JK_FAILING;
                break;
        default:
                code = -EIO;
                break;
        }
        const char *text = code == -E2BIG ? "the answer is larger than 16 MiB" : curl_easy_strerror(cc);
        if (cc == CURLE_PEER_FAILED_VERIFICATION)
                text = "its certificate is not trusted (set caFile to the CA that signed it)";
        jk_host->error_set(err, code, "%s: Jenkins at %s: %s", what, c->url, text);
        set_health(c, h, err->msg);
        return code;
}

/* A short, single-line excerpt of an error page (Jetty/Jenkins HTML). */
static char *page_text(const char *body) {
        const char *p = strstr(body, "<p>");
        const char *start = p ? p + 3 : body;
        size_t n = 0;
        while (start[n] && start[n] != '<' && start[n] != '\n' && n < 200)
                n++;
        return cu_strndup(start, n);
}

static int fetch_crumb(struct jk_client *c, const char *what, struct ka_error *err);

static int answer(struct jk_client *c, const char *what, const char *perm, struct jk_response *r,
                  struct ka_error *err) {
        long code = r->code;
        /* any answer but 401 and 5xx says the controller is up and knows us */
        if (code != 401 && code < 500)
                set_health(c, JK_OK, NULL);
        if (code >= 200 && code < 400) {
                note_allowed(c, perm);
                return 0;
        }
        char *text = r->x_error ? cu_strdup(r->x_error) : page_text(r->body);
        int rc;
        switch (code) {
        case 400:
                rc = jk_host->error_set(err, -EINVAL, "%s: Jenkins refused it (400): %s", what, text);
                break;
        case 401:
                rc = jk_host->error_set(err, -EACCES,
                                        "%s: Jenkins refused the credentials of user %s (401): check user and "
                                        "tokenFile (a revoked or expired API token, a wrong password)",
                                        what, c->user);
                set_health(c, JK_UNAUTHORIZED, err->msg);
                break;
        case 403:
                if (r->required_permission) {
                        rc = jk_host->error_set(err, -EPERM, "%s: user %s lacks the Jenkins permission %s (403)",
                                                what, c->user, r->required_permission);
                        note_denied(c, r->required_permission, what);
                } else {
                        rc = jk_host->error_set(err, -EPERM, "%s: Jenkins denied it (403): %s", what, text);
                }
                break;
        case 404:
                rc = jk_host->error_set(err, -ENOENT, "%s: not found (404)", what);
                break;
        case 405:
                rc = jk_host->error_set(err, -EPROTO, "%s: method not allowed (405)", what);
                break;
        case 503:
                rc = jk_host->error_set(err, -EAGAIN, "%s: Jenkins is starting or restarting (503)", what);
                set_health(c, JK_STARTING, "503 Service Unavailable");
                break;
        default:
                rc = jk_host->error_set(err, code >= 500 ? -EIO : -EPROTO, "%s: Jenkins answered %ld: %s", what,
                                        code, text);
                if (code >= 500)
                        set_health(c, JK_FAILING, err->msg);
        }
        free(text);
        return rc;
}

static bool crumb_refused(const struct jk_response *r) {
        return r->code == 403 && !r->required_permission && r->body && strstr(r->body, "No valid crumb");
}

int jk_request(struct jk_client *c, const char *method, const char *path, const char *form, const char *what,
               const char *perm, struct jk_response *ret, struct ka_error *err) {
        struct jk_response local = {0}, *r = ret ? ret : &local;
        bool post = strcmp(method, "POST") == 0;
        bool retried_token = false, retried_crumb = false;
        int rc;
        jk_response_clear(r);
        if (post && c->needs_crumb && !c->crumb && (rc = fetch_crumb(c, what, err)) < 0)
                goto out;
        for (;;) {
                CURLcode cc = perform(c, method, path, form, r);
                if (cc != CURLE_OK) {
                        rc = curl_failure(c, cc, what, err);
                        goto out;
                }
                if (r->code == 401 && !retried_token) {
                        /* the token file may have been rotated: read it again once */
                        retried_token = true;
                        char *t;
                        int64_t until;
                        struct ka_error terr;
                        if (cu_tokenfile_get(&c->token, true, &t, &until, &terr) == 0) {
                                jk_host->secret_free(t);
                                jk_response_clear(r);
                                continue;
                        }
                }
                if (post && crumb_refused(r) && !retried_crumb) {
                        /* password auth: fetch a crumb (and its session cookie), retry once */
                        retried_crumb = true;
                        c->needs_crumb = true;
                        if ((rc = fetch_crumb(c, what, err)) < 0)
                                goto out;
                        jk_response_clear(r);
                        continue;
                }
                break;
        }
        rc = answer(c, what, perm, r, err);
out:
        jk_response_clear(&local);
        return rc;
}

static int parse_json(const struct jk_response *r, const char *what, cJSON **ret, struct ka_error *err) {
        cJSON *j = cJSON_ParseWithLength(r->body, r->len);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return jk_host->error_set(err, -EPROTO, "%s: the answer is not a JSON object", what);
        }
        *ret = j;
        return 0;
}

int jk_get_json(struct jk_client *c, const char *path, const char *what, const char *perm, cJSON **ret,
                struct ka_error *err) {
        struct jk_response r = {0};
        int rc = jk_request(c, "GET", path, NULL, what, perm, &r, err);
        if (rc == 0 && r.code != 200)
                rc = jk_host->error_set(err, -EPROTO, "%s: expected 200, Jenkins answered %ld", what, r.code);
        if (rc == 0)
                rc = parse_json(&r, what, ret, err);
        jk_response_clear(&r);
        return rc;
}

static int fetch_crumb(struct jk_client *c, const char *what, struct ka_error *err) {
        jk_host->secret_free(c->crumb);
        c->crumb = NULL;
        cJSON *j;
        char *w = cu_printf("%s: get a CSRF crumb", what);
        int rc = jk_get_json(c, "crumbIssuer/api/json", w, JK_PERM_READ, &j, err);
        free(w);
        if (rc < 0)
                return rc;
        const cJSON *field = cJSON_GetObjectItemCaseSensitive(j, "crumbRequestField");
        const cJSON *crumb = cJSON_GetObjectItemCaseSensitive(j, "crumb");
        if (!cJSON_IsString(crumb) || !*crumb->valuestring) {
                cJSON_Delete(j);
                return jk_host->error_set(err, -EPROTO, "%s: crumbIssuer/api/json has no crumb", what);
        }
        free(c->crumb_field);
        c->crumb_field = cu_strdup(cJSON_IsString(field) && *field->valuestring &&
                                                   !strpbrk(field->valuestring, ":\r\n")
                                           ? field->valuestring
                                           : "Jenkins-Crumb");
        c->crumb = cu_strdup(crumb->valuestring);
        jk_host->secret_register(c->crumb);
        cJSON_Delete(j);
        return 0;
}

int jk_client_hello(struct jk_client *c, struct ka_error *err) {
        cJSON *j;
        int rc = jk_get_json(c, "api/json?tree=url,quietingDown,useCrumbs,useSecurity,slaveAgentPort",
                             "read the controller's root", JK_PERM_READ, &j, err);
        if (rc < 0)
                return rc;
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(j, "url");
        free(c->jenkins_root);
        c->jenkins_root = cJSON_IsString(url) && *url->valuestring ? cu_strdup(url->valuestring) : NULL;
        cJSON_Delete(j);
        if ((rc = jk_get_json(c, "whoAmI/api/json?tree=name,anonymous", "check who we are", JK_PERM_READ, &j,
                              err)) < 0)
                return rc;
        const cJSON *anon = cJSON_GetObjectItemCaseSensitive(j, "anonymous");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
        if (cJSON_IsTrue(anon)) {
                cJSON_Delete(j);
                return jk_host->error_set(err, -EACCES, "Jenkins at %s treats us as anonymous: check user", c->url);
        }
        jk_log(INFO, "Jenkins %s at %s (root URL %s), signed in as %s", c->version ? c->version : "(unknown version)",
               c->url, c->jenkins_root ? c->jenkins_root : "not configured",
               cJSON_IsString(name) ? name->valuestring : c->user);
        cJSON_Delete(j);
        return 0;
}

char *jk_client_relative(const struct jk_client *c, const char *url) {
        if (c->jenkins_root && strncmp(url, c->jenkins_root, strlen(c->jenkins_root)) == 0)
                return cu_strdup(url + strlen(c->jenkins_root));
        if (strncmp(url, c->url, strlen(c->url)) == 0)
                return cu_strdup(url + strlen(c->url));
        const char *scheme = strstr(url, "://");
        if (!scheme)
                return cu_strdup(url[0] == '/' ? url + 1 : url);
        /* another host name for the same controller: keep the path under our context path */
        const char *path = strchr(scheme + 3, '/');
        if (!path)
                return cu_strdup("");
        size_t bl = strlen(c->base_path);
        if (strncmp(path, c->base_path, bl) == 0)
                return cu_strdup(path + bl);
        return cu_strdup(path + 1);
}
