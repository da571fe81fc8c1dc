/* Block-style YAML output in kubectl's layout: sequences under a key start
 * at the key's indentation, multi-line strings become literal blocks, and a
 * string is quoted whenever a YAML 1.1 reader could take it for something
 * else (a number, a boolean, null, an indicator). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/mem.h"
#include "yaml.h"

/* ka_yaml_emit_notes(): the comment source of the tree being written. */
static __thread const char *(*note_fn)(const cJSON *node, void *ctx);
static __thread void *note_ctx;

static void end_line(struct ka_buf *out, const cJSON *n) {
        const char *text = note_fn ? note_fn(n, note_ctx) : NULL;
        if (text)
                ka_buf_printf(out, "  # %s", text);
        ka_buf_putc(out, '\n');
}

static void indent(struct ka_buf *out, int n) {
        for (int i = 0; i < n; i++)
                ka_buf_putc(out, ' ');
}

/* Decode one UTF-8 sequence; 0 when invalid (overlong, surrogate, truncated). */
static size_t utf8_next(const unsigned char *p, uint32_t *cp) {
        if (p[0] < 0x80) {
                *cp = p[0];
                return 1;
        }
        size_t n = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
        if (!n)
                return 0;
        uint32_t c = p[0] & (0x7f >> n);
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (p[i] & 0x3f);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *cp = c;
        return n;
}

/* YAML's printable set, minus the characters YAML 1.1 reads as line breaks
 * (NEL, LS, PS): those may appear only escaped in double quotes. */
static bool printable(uint32_t c) {
        return c == '\t' || (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff && c != 0x2028 && c != 0x2029) ||
               (c >= 0xe000 && c <= 0xfffd && c != 0xfeff) || (c >= 0x10000 && c <= 0x10ffff);
}

/* Every character printable (newlines allowed when `newlines`). */
static bool all_printable(const char *s, bool newlines) {
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                uint32_t c;
                size_t n = utf8_next(p, &c);
                if (!n || !(printable(c) || (newlines && c == '\n')))
                        return false;
                p += n;
        }
        return true;
}

static bool plain_safe(const char *s) {
        if (!*s)
                return false;
        cJSON *r = ka_yaml_resolve_plain(s);
        bool is_string = cJSON_IsString(r);
        cJSON_Delete(r);
        if (!is_string)
                return false;
        if (strchr("?:,[]{}#&*!|>'\"%@`", s[0]))
                return false;
        if (s[0] == '-' && (s[1] == '\0' || s[1] == ' '))
                return false;
        if (strcmp(s, "<<") == 0)
                return false;
        /* a document marker at the start of a line */
        if ((strncmp(s, "---", 3) == 0 || strncmp(s, "...", 3) == 0) && (s[3] == '\0' || s[3] == ' '))
                return false;
        size_t n = strlen(s);
        if (s[0] == ' ' || s[n - 1] == ' ' || s[n - 1] == ':')
                return false;
        if (strstr(s, ": ") || strstr(s, " #") || strchr(s, '\t'))
                return false;
        return all_printable(s, false);
}

/* A literal block keeps the text exactly when it has a newline, no other
 * control characters, no carriage return, and does not start with a space. */
static bool literal_ok(const char *s) {
        if (!strchr(s, '\n') || s[0] == ' ' || s[0] == '\t' || s[0] == '\n')
                return false;
        if (!all_printable(s, true))
                return false;
        /* trailing spaces on a line are kept by YAML but invisible: quote */
        for (const char *p = s; (p = strchr(p, '\n')); p++)
                if (p > s && (p[-1] == ' ' || p[-1] == '\t'))
                        return false;
        return true;
}

/* Double-quoted with escapes; bytes that are not UTF-8 become U+FFFD. */
static void quoted(struct ka_buf *out, const char *s) {
        ka_buf_putc(out, '"');
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p >= 0x80) {
                        uint32_t c;
                        size_t n = utf8_next(p, &c);
                        if (!n)
                                ka_buf_puts(out, "\\uFFFD");
                        else if (!printable(c))
                                ka_buf_printf(out, c > 0xffff ? "\\U%08X" : "\\u%04X", (unsigned)c);
                        else
                                ka_buf_append(out, p, n);
                        p += n ? n - 1 : 0;
                        continue;
                }
                switch (*p) {
                case '"':
                        ka_buf_puts(out, "\\\"");
                        break;
                case '\\':
                        ka_buf_puts(out, "\\\\");
                        break;
                case '\n':
                        ka_buf_puts(out, "\\n");
                        break;
                case '\t':
                        ka_buf_puts(out, "\\t");
                        break;
                case '\r':
                        ka_buf_puts(out, "\\r");
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                ka_buf_printf(out, "\\x%02x", *p);
                        else
                                ka_buf_putc(out, (char)*p);
                }
        }
        ka_buf_putc(out, '"');
}

static void literal(struct ka_buf *out, const cJSON *node, int ind) {
        const char *s = node->valuestring;
        size_t n = strlen(s), trailing = 0;
        while (trailing < n && s[n - 1 - trailing] == '\n')
                trailing++;
        ka_buf_puts(out, trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+");
        end_line(out, node);
        const char *p = s, *end = s + n - (trailing ? trailing : 0);
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (len)
                        indent(out, ind);
                ka_buf_append(out, p, len);
                ka_buf_putc(out, '\n');
                p += len + 1;
        }
        for (size_t i = 1; i < trailing; i++)
                ka_buf_putc(out, '\n');
}

static void number(struct ka_buf *out, double v) {
        if (!isfinite(v)) {
                ka_buf_puts(out, v != v ? ".nan" : v > 0 ? ".inf" : "-.inf");
                return;
        }
        if (v == floor(v) && fabs(v) < 9007199254740992.0) {
                ka_buf_printf(out, "%.0f", v);
                return;
        }
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%.15g", v);
        if (strtod(tmp, NULL) != v)
                snprintf(tmp, sizeof(tmp), "%.17g", v);
        ka_buf_puts(out, tmp);
        if (!strpbrk(tmp, ".eEn"))
                ka_buf_puts(out, ".0");
}

static void key(struct ka_buf *out, const char *k) {
        if (plain_safe(k))
                ka_buf_puts(out, k);
        else
                quoted(out, k);
        ka_buf_putc(out, ':');
}

static void mapping(struct ka_buf *out, const cJSON *n, int ind, bool first_inline);
static void sequence(struct ka_buf *out, const cJSON *n, int ind);

/* A scalar or empty collection, after "key:" or "- ", ending the line. */
static void scalar(struct ka_buf *out, const cJSON *n, int ind) {
        if (cJSON_IsString(n)) {
                if (literal_ok(n->valuestring))
                        literal(out, n, ind);
                else {
                        if (plain_safe(n->valuestring))
                                ka_buf_puts(out, n->valuestring);
                        else
                                quoted(out, n->valuestring);
                        end_line(out, n);
                }
                return;
        }
        if (cJSON_IsNumber(n))
                number(out, n->valuedouble);
        else if (cJSON_IsTrue(n))
                ka_buf_puts(out, "true");
        else if (cJSON_IsFalse(n))
                ka_buf_puts(out, "false");
        else if (cJSON_IsObject(n))
                ka_buf_puts(out, "{}");
        else if (cJSON_IsArray(n))
                ka_buf_puts(out, "[]");
        else
                ka_buf_puts(out, "null");
        end_line(out, n);
}

static void mapping(struct ka_buf *out, const cJSON *n, int ind, bool first_inline) {
        for (const cJSON *c = n->child; c; c = c->next) {
                if (!(first_inline && c == n->child))
                        indent(out, ind);
                key(out, c->string);
                if (cJSON_IsObject(c) && c->child) {
                        ka_buf_putc(out, '\n');
                        mapping(out, c, ind + 2, false);
                } else if (cJSON_IsArray(c) && c->child) {
                        ka_buf_putc(out, '\n');
                        sequence(out, c, ind);
                } else {
                        ka_buf_putc(out, ' ');
                        scalar(out, c, ind + 2);
                }
        }
}

static void sequence(struct ka_buf *out, const cJSON *n, int ind) {
        for (const cJSON *c = n->child; c; c = c->next) {
                indent(out, ind);
                if (cJSON_IsObject(c) && c->child) {
                        ka_buf_puts(out, "- ");
                        mapping(out, c, ind + 2, true);
                } else if (cJSON_IsArray(c) && c->child) {
                        ka_buf_puts(out, "-\n");
                        sequence(out, c, ind + 2);
                } else {
                        ka_buf_puts(out, "- ");
                        scalar(out, c, ind + 2);
                }
        }
}

static void value(struct ka_buf *out, const cJSON *n, int ind) {
        if (cJSON_IsObject(n) && n->child)
                mapping(out, n, ind, false);
        else if (cJSON_IsArray(n) && n->child)
                sequence(out, n, ind);
        else
                scalar(out, n, ind + 2); /* a literal block needs indented lines */
}

int ka_yaml_emit(const cJSON *node, struct ka_buf *out) {
        value(out, node, 0);
        return 0;
}

int ka_yaml_emit_notes(const cJSON *node, struct ka_buf *out, const char *(*note)(const cJSON *node, void *ctx),
                       void *ctx) {
        note_fn = note;
        note_ctx = ctx;
        value(out, node, 0);
        note_fn = NULL;
        note_ctx = NULL;
        return 0;
}
