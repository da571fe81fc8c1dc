/* Agent (= pod) names (§2.5). */
#include <string.h>
#include <sys/random.h>

#include "template.h"
#include "util/mem.h"

bool ka_dns_subdomain_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                bool edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';
                if (alnum)
                        continue;
                if ((c == '-' || c == '.') && !edge)
                        continue;
                return false;
        }
        return true;
}

static void random_suffix(char out[KA_POD_SUFFIX_LEN + 1]) {
        static const char alphabet[] = "bcdfghjklmnpqrstvwxz0123456789";
        unsigned char r[KA_POD_SUFFIX_LEN];
        size_t got = 0;
        while (got < sizeof(r)) {
                ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
                if (n > 0)
                        got += (size_t)n;
        }
        for (size_t i = 0; i < KA_POD_SUFFIX_LEN; i++)
                out[i] = alphabet[r[i] % (sizeof(alphabet) - 1)];
        out[KA_POD_SUFFIX_LEN] = '\0';
}

char *ka_agent_name(const char *template_name, const char *suffix) {
        char rnd[KA_POD_SUFFIX_LEN + 1];
        if (!suffix) {
                random_suffix(rnd);
                suffix = rnd;
        }
        if (!template_name || !*template_name)
                return ka_asprintf("jenkins-agent-%s", suffix);
        enum { MAX = 62 - KA_POD_SUFFIX_LEN };
        char base[MAX + 1];
        size_t n = 0;
        for (const char *p = template_name; *p && n < MAX; p++) {
                char c = *p;
                if (c == ' ' || c == '_')
                        c = '-';
                else if (c >= 'A' && c <= 'Z')
                        c = (char)(c - 'A' + 'a');
                base[n++] = c;
        }
        base[n] = '\0';
        char *name = ka_asprintf("%s-%s", base, suffix);
        if (ka_dns_subdomain_valid(name))
                return name;
        free(name);
        return ka_asprintf("jenkins-agent-%s", suffix);
}
