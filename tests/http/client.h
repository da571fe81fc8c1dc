/* tests/http/client.h — one HTTP request to a loopback endpoint, as a
 * client (curl, a pipeline's sh step) would send it, for the tests of
 * kubeagentd's API. */
#ifndef KA_TESTS_HTTP_CLIENT_H
#define KA_TESTS_HTTP_CLIENT_H

#include <cjson/cJSON.h>

struct t_reply {
        long code;     /* 0: no answer */
        char *body;    /* never NULL after t_request */
        cJSON *json;   /* the body parsed, or NULL */
        char *headers; /* "name: value\n" lines, as received */
};

/* method path on 127.0.0.1:port with a JSON content type, the body (NULL:
 * none) and "Authorization: Bearer token" (token NULL: none).  r is
 * cleared first. */
void t_request(int port, const char *method, const char *path, const char *token, const char *body, struct t_reply *r);
/* A response header's value (case-insensitive name), malloc()ed, or NULL. */
char *t_header(const struct t_reply *r, const char *name);
void t_reply_clear(struct t_reply *r);

#endif
