#include "seal.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fs.h"
#include "util/mem.h"

static const unsigned char magic[2] = {'K', 'B'};
#define FRAME_VERSION 1
#define FLAG_SEALED 0x01

/* ---- keys ---- */

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static bool parse_key(const char *data, size_t len, struct ka_bus_key *ret) {
        if (len == KA_BUS_KEY_LEN) {
                memcpy(ret->k, data, KA_BUS_KEY_LEN);
                return true;
        }
        while (len > 2 * KA_BUS_KEY_LEN && strchr(" \t\r\n", data[len - 1]))
                len--;
        if (len != 2 * KA_BUS_KEY_LEN)
                return false;
        for (size_t i = 0; i < KA_BUS_KEY_LEN; i++) {
                int hi = hexval(data[2 * i]), lo = hexval(data[2 * i + 1]);
                if (hi < 0 || lo < 0) {
                        ka_wipe(ret->k, sizeof(ret->k));
                        return false;
                }
                ret->k[i] = (unsigned char)(hi << 4 | lo);
        }
        return true;
}

int ka_bus_key_load(const char *path, struct ka_bus_key *ret, struct ka_error *err) {
        struct stat st;
        if (stat(path, &st) < 0)
                return ka_error_set(err, -errno, "bus key file %s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return ka_error_set(err, -EINVAL, "bus key file %s: not a regular file", path);
        if (st.st_mode & (S_IRWXO | S_IWGRP | S_IXGRP))
                return ka_error_set(err, -EPERM,
                                    "bus key file %s: mode %04o lets others read or change it; chmod 600 it", path,
                                    (unsigned)(st.st_mode & 07777));
        char *data;
        size_t len;
        int r = ka_read_file(path, 1024, &data, &len, err);
        if (r < 0)
                return ka_error_prefix(err, "bus key file"), r;
        struct ka_bus_key k;
        bool good = parse_key(data, len, &k);
        ka_wipe(data, len);
        free(data);
        if (!good)
                return ka_error_set(err, -EINVAL,
                                    "bus key file %s: expected 32 bytes or 64 hex digits (make one with "
                                    "`openssl rand -hex 32`), found %zu bytes",
                                    path, len);
        static const struct ka_bus_key zero;
        if (CRYPTO_memcmp(k.k, zero.k, KA_BUS_KEY_LEN) == 0)
                return ka_error_set(err, -EINVAL, "bus key file %s: the key is all zeros", path);
        *ret = k;
        ka_bus_key_wipe(&k);
        return 0;
}

void ka_bus_key_wipe(struct ka_bus_key *k) {
        OPENSSL_cleanse(k, sizeof(*k));
}

void ka_bus_keys_wipe(struct ka_bus_keys *k) {
        OPENSSL_cleanse(k, sizeof(*k));
}

int ka_bus_random(void *buf, size_t len) {
        return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

/* ---- primitives ---- */

int ka_bus_hkdf(const unsigned char *ikm, size_t ikm_len, const unsigned char *salt, size_t salt_len, const char *info,
                unsigned char *out, size_t out_len) {
        EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        if (!kdf)
                return -ENOSYS;
        EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
        EVP_KDF_free(kdf);
        if (!ctx)
                return -ENOMEM;
        OSSL_PARAM params[5], *p = params;
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
        if (salt_len)
                *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
        *p = OSSL_PARAM_construct_end();
        int r = EVP_KDF_derive(ctx, out, out_len, params) == 1 ? 0 : -EIO;
        EVP_KDF_CTX_free(ctx);
        return r;
}

int ka_bus_gcm_seal(const unsigned char key[KA_BUS_KEY_LEN], const unsigned char iv[KA_BUS_IV_LEN],
                    const unsigned char *aad, size_t aad_len, const unsigned char *in, size_t len, unsigned char *out,
                    unsigned char tag[KA_BUS_TAG_LEN]) {
        if (len > INT32_MAX || aad_len > INT32_MAX)
                return -EMSGSIZE;
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return -ENOMEM;
        int n, r = -EIO;
        if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) == 1 &&
            (aad_len == 0 || EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1) &&
            (len == 0 || EVP_EncryptUpdate(ctx, out, &n, in, (int)len) == 1) &&
            EVP_EncryptFinal_ex(ctx, out, &n) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, KA_BUS_TAG_LEN, tag) == 1)
                r = 0;
        EVP_CIPHER_CTX_free(ctx);
        return r;
}

int ka_bus_gcm_open(const unsigned char key[KA_BUS_KEY_LEN], const unsigned char iv[KA_BUS_IV_LEN],
                    const unsigned char *aad, size_t aad_len, const unsigned char *in, size_t len,
                    const unsigned char tag[KA_BUS_TAG_LEN], unsigned char *out) {
        if (len > INT32_MAX || aad_len > INT32_MAX)
                return -EMSGSIZE;
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return -ENOMEM;
        int n, r = -EBADMSG;
        if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) == 1 &&
            (aad_len == 0 || EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1) &&
            (len == 0 || EVP_DecryptUpdate(ctx, out, &n, in, (int)len) == 1) &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, KA_BUS_TAG_LEN, (void *)tag) == 1 &&
            EVP_DecryptFinal_ex(ctx, out + len, &n) == 1)
                r = 0;
        EVP_CIPHER_CTX_free(ctx);
        if (r < 0)
                OPENSSL_cleanse(out, len);
        return r;
}

/* ---- key schedule ---- */

int ka_bus_handshake_key(const struct ka_bus_key *psk, struct ka_bus_key *ret) {
        return ka_bus_hkdf(psk->k, KA_BUS_KEY_LEN, NULL, 0, "kubeagent bus v1 handshake", ret->k, KA_BUS_KEY_LEN);
}

int ka_bus_session_keys(const struct ka_bus_key *psk, const unsigned char peer_nonce[KA_BUS_NONCE_LEN],
                        const unsigned char core_nonce[KA_BUS_NONCE_LEN], bool core, struct ka_bus_keys *ret,
                        uint64_t *ret_session) {
        unsigned char salt[2 * KA_BUS_NONCE_LEN], id[8];
        memcpy(salt, peer_nonce, KA_BUS_NONCE_LEN);
        memcpy(salt + KA_BUS_NONCE_LEN, core_nonce, KA_BUS_NONCE_LEN);
        struct ka_bus_keys k = {0};
        struct ka_bus_key *to_peer = core ? &k.tx : &k.rx, *to_core = core ? &k.rx : &k.tx;
        int r = ka_bus_hkdf(psk->k, KA_BUS_KEY_LEN, salt, sizeof(salt), "kubeagent bus v1 core to peer", to_peer->k,
                            KA_BUS_KEY_LEN);
        if (r == 0)
                r = ka_bus_hkdf(psk->k, KA_BUS_KEY_LEN, salt, sizeof(salt), "kubeagent bus v1 peer to core", to_core->k,
                                KA_BUS_KEY_LEN);
        if (r == 0)
                r = ka_bus_hkdf(psk->k, KA_BUS_KEY_LEN, salt, sizeof(salt), "kubeagent bus v1 session id", id,
                                sizeof(id));
        if (r < 0) {
                ka_bus_keys_wipe(&k);
                return r;
        }
        k.tx_dir = core ? KA_BUS_DIR_TO_PEER : KA_BUS_DIR_TO_CORE;
        k.rx_dir = core ? KA_BUS_DIR_TO_CORE : KA_BUS_DIR_TO_PEER;
        uint64_t session = 0;
        for (size_t i = 0; i < sizeof(id); i++)
                session = session << 8 | id[i];
        *ret = k;
        ka_bus_keys_wipe(&k);
        *ret_session = session ? session : 1; /* 0 means "none" in a frame */
        return 0;
}

/* ---- frames ---- */

static void put_be64(unsigned char *p, uint64_t v) {
        for (int i = 7; i >= 0; i--, v >>= 8)
                p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

int ka_bus_frame_parse(const void *data, size_t len, struct ka_bus_frame *ret, struct ka_error *err) {
        const unsigned char *p = data;
        if (len < KA_BUS_FRAME_HDR)
                return ka_error_set(err, -EBADMSG, "a frame of %zu bytes is shorter than its header", len);
        if (memcmp(p, magic, sizeof(magic)) != 0)
                return ka_error_set(err, -EBADMSG, "not a kubeagent bus frame");
        if (p[2] != FRAME_VERSION)
                return ka_error_set(err, -EBADMSG, "frame version %u is not supported (this side speaks %u)", p[2],
                                    FRAME_VERSION);
        if (p[3] < KA_BUS_FRAME_HELLO || p[3] > KA_BUS_FRAME_DATA)
                return ka_error_set(err, -EBADMSG, "unknown frame kind %u", p[3]);
        if ((p[4] & ~FLAG_SEALED) || p[5] || p[6] || p[7])
                return ka_error_set(err, -EBADMSG, "reserved frame bits are set");
        struct ka_bus_frame f = {
                .kind = (enum ka_bus_frame_kind)p[3],
                .sealed = p[4] & FLAG_SEALED,
                .session = get_be64(p + 8),
                .time = (int64_t)get_be64(p + 16),
                .header = p,
                .body = p + KA_BUS_FRAME_HDR,
                .body_len = len - KA_BUS_FRAME_HDR,
        };
        memcpy(f.iv, p + 24, KA_BUS_IV_LEN);
        if (f.sealed && f.body_len < KA_BUS_TAG_LEN)
                return ka_error_set(err, -EBADMSG, "a sealed frame without room for its tag");
        *ret = f;
        return 0;
}

int ka_bus_frame_write(struct ka_buf *out, enum ka_bus_frame_kind kind, uint64_t session, int64_t time,
                       const unsigned char iv[KA_BUS_IV_LEN], const struct ka_bus_key *key, const void *body,
                       size_t len) {
        unsigned char hdr[KA_BUS_FRAME_HDR] = {magic[0], magic[1], FRAME_VERSION, (unsigned char)kind,
                                               key ? FLAG_SEALED : 0};
        put_be64(hdr + 8, session);
        put_be64(hdr + 16, (uint64_t)time);
        memcpy(hdr + 24, iv, KA_BUS_IV_LEN);
        size_t start = out->len;
        int r = ka_buf_append(out, hdr, sizeof(hdr));
        if (r < 0)
                return r;
        if (!key) {
                r = ka_buf_append(out, body, len);
        } else {
                /* reserve ciphertext + tag, then seal into place */
                unsigned char tag[KA_BUS_TAG_LEN] = {0};
                r = ka_buf_append(out, body, len);
                if (r == 0)
                        r = ka_buf_append(out, tag, sizeof(tag));
                if (r == 0) {
                        unsigned char *ct = (unsigned char *)out->data + start + KA_BUS_FRAME_HDR;
                        r = ka_bus_gcm_seal(key->k, iv, (unsigned char *)out->data + start, KA_BUS_FRAME_HDR, ct, len,
                                            ct, ct + len);
                }
        }
        if (r < 0) {
                ka_wipe(out->data + start, out->len - start);
                out->len = start;
                out->data[start] = '\0';
        }
        return r;
}

int ka_bus_frame_open(const struct ka_bus_frame *f, const struct ka_bus_key *key, struct ka_buf *out) {
        size_t len = f->body_len - KA_BUS_TAG_LEN;
        ka_buf_reset(out);
        /* make room for the plaintext (copying the ciphertext in is simplest) */
        int r = ka_buf_append(out, f->body, len);
        if (r < 0)
                return r;
        r = ka_bus_gcm_open(key->k, f->iv, f->header, KA_BUS_FRAME_HDR, f->body, len, f->body + len,
                            (unsigned char *)out->data);
        if (r < 0)
                ka_buf_reset(out);
        return r;
}

static void data_iv(unsigned char iv[KA_BUS_IV_LEN], uint32_t dir, uint64_t counter) {
        iv[0] = (unsigned char)(dir >> 24);
        iv[1] = (unsigned char)(dir >> 16);
        iv[2] = (unsigned char)(dir >> 8);
        iv[3] = (unsigned char)dir;
        put_be64(iv + 4, counter);
}

int ka_bus_seal_data(struct ka_bus_keys *k, struct ka_buf *out, uint64_t session, int64_t time, const void *body,
                     size_t len) {
        if (k->tx_counter + 1 >= KA_BUS_REKEY_AFTER)
                return -EKEYEXPIRED;
        unsigned char iv[KA_BUS_IV_LEN];
        data_iv(iv, k->tx_dir, ++k->tx_counter);
        return ka_bus_frame_write(out, KA_BUS_FRAME_DATA, session, time, iv, &k->tx, body, len);
}

int ka_bus_open_data(struct ka_bus_keys *k, const struct ka_bus_frame *f, struct ka_buf *out) {
        uint32_t dir = (uint32_t)f->iv[0] << 24 | (uint32_t)f->iv[1] << 16 | (uint32_t)f->iv[2] << 8 | f->iv[3];
        uint64_t counter = get_be64(f->iv + 4);
        if (dir != k->rx_dir || counter == 0)
                return -EBADMSG;
        if (!ka_bus_replay_fresh(&k->window, counter))
                return -EALREADY;
        int r = ka_bus_frame_open(f, &k->rx, out);
        if (r < 0)
                return r;
        ka_bus_replay_accept(&k->window, counter);
        return 0;
}

/* ---- replay window ---- */

bool ka_bus_replay_fresh(const struct ka_bus_replay *w, uint64_t counter) {
        if (counter > w->top)
                return true;
        uint64_t behind = w->top - counter;
        return behind < 64 && !(w->bits & (UINT64_C(1) << behind));
}

void ka_bus_replay_accept(struct ka_bus_replay *w, uint64_t counter) {
        if (counter > w->top) {
                uint64_t shift = counter - w->top;
                w->bits = shift >= 64 ? 0 : w->bits << shift;
                w->bits |= 1;
                w->top = counter;
        } else {
                w->bits |= UINT64_C(1) << (w->top - counter);
        }
}
