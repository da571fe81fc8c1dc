#include "base64.h"

#include <errno.h>
#include <stdint.h>

#include "mem.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *ka_base64_encode(const void *data, size_t len) {
        const unsigned char *in = data;
        char *out = ka_malloc((len + 2) / 3 * 4 + 1), *o = out;
        size_t i = 0;
        for (; i + 2 < len; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
                *o++ = alphabet[v >> 18 & 63];
                *o++ = alphabet[v >> 12 & 63];
                *o++ = alphabet[v >> 6 & 63];
                *o++ = alphabet[v & 63];
        }
        if (i < len) {
                uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
                *o++ = alphabet[v >> 18 & 63];
                *o++ = alphabet[v >> 12 & 63];
                *o++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
                *o++ = '=';
        }
        *o = '\0';
        return out;
}

static int value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int ka_base64_decode(const char *in, size_t len, unsigned char **ret_data, size_t *ret_len) {
        unsigned char *out = ka_malloc(len / 4 * 3 + 4);
        size_t n = 0;
        uint32_t acc = 0;
        int bits = 0, pad = 0;
        for (size_t i = 0; i < len; i++) {
                char c = in[i];
                if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
                        continue;
                if (c == '=') {
                        pad++;
                        continue;
                }
                int v = value(c);
                if (v < 0 || pad) {
                        ka_wipe(out, len / 4 * 3 + 4);
                        free(out);
                        return -EINVAL;
                }
                acc = acc << 6 | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (unsigned char)(acc >> bits & 0xff);
                }
        }
        if (pad > 2 || bits >= 6) {
                ka_wipe(out, len / 4 * 3 + 4);
                free(out);
                return -EINVAL;
        }
        out[n] = '\0';
        *ret_data = out;
        *ret_len = n;
        return 0;
}
