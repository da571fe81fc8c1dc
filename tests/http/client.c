/* One HTTP request, as a client would send it. */
#include "client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/mem.h"

static size_t collect(char *data, size_t size, size_t n, void *ud) {
        ka_buf_append(ud, data, size * n);
        return size * n;
}

void t_request(int port, const char *method, const char *path, const char *token, const char *body, struct t_reply *r) {
        t_reply_clear(r);
        CURL *c = curl_easy_init();
        char url[256], auth[256];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
        struct ka_buf b = KA_BUF_INIT(0), h = KA_BUF_INIT(0);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (body)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
        struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
        if (token) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
                hl = curl_slist_append(hl, auth);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
        curl_slist_free_all(hl);
        curl_easy_cleanup(c);
        r->body = ka_buf_steal(&b);
        r->json = cJSON_Parse(r->body);
        r->headers = ka_buf_steal(&h);
        ka_buf_free(&b);
        ka_buf_free(&h);
}

char *t_header(const struct t_reply *r, const char *name) {
        size_t n = strlen(name);
        for (const char *line = r->headers; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
                        const char *v = line + n + 1 + strspn(line + n + 1, " ");
                        return ka_strndup(v, strcspn(v, "\r\n"));
                }
        }
        return NULL;
}

void t_reply_clear(struct t_reply *r) {
        free(r->body);
        cJSON_Delete(r->json);
        free(r->headers);
        *r = (struct t_reply){0};
}
