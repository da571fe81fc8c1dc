/* Unit tests for core/bus/seal: AES-256-GCM against NIST vectors, HKDF against
 * RFC 5869, key files, frames, and tampered, forged and replayed data frames. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/seal.h"
#include "tap.h"
#include "util/fs.h"
#include "util/mem.h"

static size_t unhex(const char *hex, unsigned char *out) {
        size_t n = strlen(hex) / 2;
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                sscanf(hex + 2 * i, "%2x", &v);
                out[i] = (unsigned char)v;
        }
        return n;
}

struct gcm_vector {
        const char *name, *key, *iv, *aad, *pt, *ct, *tag;
};

/* The AES-256 cases of the GCM specification (McGrew & Viega, test cases
 * 13-16, as published with NIST SP 800-38D) and one of NIST CAVP's
 * gcmEncryptExtIV256.rsp. */
static const struct gcm_vector vectors[] = {
        {"GCM spec case 13 (empty)", "0000000000000000000000000000000000000000000000000000000000000000",
         "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
        {"GCM spec case 14", "0000000000000000000000000000000000000000000000000000000000000000",
         "000000000000000000000000", "", "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18",
         "d0d1c8a799996bf0265b98b5d48ab919"},
        {"GCM spec case 15", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
         "cafebabefacedbaddecaf888", "",
         "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de"
         "6"
         "57ba637b391aafd255",
         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7"
         "a"
         "0abcc9f662898015ad",
         "b094dac5d93471bdec1a502270e3cc6c"},
        {"GCM spec case 16 (with AAD)", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
         "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
         "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de"
         "6"
         "57ba637b39",
         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7"
         "a"
         "0abcc9f662",
         "76fc6ece0f4e1768cddf8853bb2d551b"},
        {"CAVP gcmEncryptExtIV256", "83688deb4af8007f9b713b47cfa6c73e35ea7a3aa4ecdb414dded03bf7a0fd3a",
         "0b459724904e010a46901cf3", "794a14ccd178c8ebfd1379dc704c5e208f9d8424", "33d893a2114ce06fc15d55e454cf90c3",
         "cc66bee423e3fcd4c0865715e9586696", "0fb291bd3dba94a1dfd8b286cfb97ac5"},
};

static void test_gcm_vectors(void) {
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
                const struct gcm_vector *v = &vectors[i];
                unsigned char key[32], iv[12], aad[64], pt[64], ct[64], tag[16], out[64], got_tag[16];
                unhex(v->key, key);
                unhex(v->iv, iv);
                size_t aad_len = unhex(v->aad, aad), pt_len = unhex(v->pt, pt);
                unhex(v->ct, ct);
                unhex(v->tag, tag);
                is_int(ka_bus_gcm_seal(key, iv, aad, aad_len, pt, pt_len, out, got_tag), 0, "%s: seal", v->name);
                ok(memcmp(out, ct, pt_len) == 0, "%s: ciphertext matches", v->name);
                ok(memcmp(got_tag, tag, 16) == 0, "%s: tag matches", v->name);
                is_int(ka_bus_gcm_open(key, iv, aad, aad_len, ct, pt_len, tag, out), 0, "%s: open", v->name);
                ok(memcmp(out, pt, pt_len) == 0, "%s: plaintext comes back", v->name);
                tag[15] ^= 1;
                is_int(ka_bus_gcm_open(key, iv, aad, aad_len, ct, pt_len, tag, out), -EBADMSG,
                       "%s: a changed tag bit is refused", v->name);
                tag[15] ^= 1;
                if (pt_len) {
                        ct[0] ^= 0x80;
                        is_int(ka_bus_gcm_open(key, iv, aad, aad_len, ct, pt_len, tag, out), -EBADMSG,
                               "%s: a changed ciphertext bit is refused", v->name);
                        ct[0] ^= 0x80;
                }
                if (aad_len) {
                        aad[aad_len - 1] ^= 1;
                        is_int(ka_bus_gcm_open(key, iv, aad, aad_len, ct, pt_len, tag, out), -EBADMSG,
                               "%s: a changed AAD bit is refused", v->name);
                }
        }
}

static void test_hkdf(void) {
        /* RFC 5869, appendix A.1 */
        unsigned char ikm[22], salt[13], okm[42], want[42];
        memset(ikm, 0x0b, sizeof(ikm));
        unhex("000102030405060708090a0b0c", salt);
        unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865", want);
        const char info[] = "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9";
        is_int(ka_bus_hkdf(ikm, sizeof(ikm), salt, sizeof(salt), info, okm, sizeof(okm)), 0, "HKDF derives");
        ok(memcmp(okm, want, sizeof(okm)) == 0, "HKDF-SHA256 matches RFC 5869 A.1");
}

static char *write_key(const char *dir, const char *name, const void *data, size_t len, mode_t mode) {
        char *path = ka_path_join(dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, data, len) != (ssize_t)len)
                abort();
        close(fd);
        chmod(path, mode);
        return path;
}

static void key_refused(const char *dir, const char *name, const void *data, size_t len, mode_t mode, int code,
                        const char *msg_part) {
        char *path = write_key(dir, name, data, len, mode);
        struct ka_bus_key k;
        struct ka_error err = {0};
        is_int(ka_bus_key_load(path, &k, &err), code, "key file %s is refused", name);
        like(err.msg, msg_part, "%s: says why", name);
        like(err.msg, path, "%s: names the file", name);
        free(path);
}

static void test_key_files(void) {
        char dir[] = "/tmp/ka-bus-seal-XXXXXX";
        if (!mkdtemp(dir))
                abort();
        const char hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
        struct ka_bus_key k;
        struct ka_error err = {0};
        char *path = write_key(dir, "hex", hex, sizeof(hex) - 1, 0600);
        is_int(ka_bus_key_load(path, &k, &err), 0, "64 hex digits and a newline make a key");
        ok(k.k[0] == 0x00 && k.k[1] == 0x01 && k.k[31] == 0x1f, "decoded in order");
        free(path);
        unsigned char raw[32];
        for (int i = 0; i < 32; i++)
                raw[i] = (unsigned char)(0xa0 + i);
        path = write_key(dir, "raw", raw, sizeof(raw), 0400);
        is_int(ka_bus_key_load(path, &k, &err), 0, "32 raw bytes make a key");
        ok(memcmp(k.k, raw, 32) == 0, "taken as they are");
        free(path);
        path = write_key(dir, "group", hex, sizeof(hex) - 1, 0640);
        is_int(ka_bus_key_load(path, &k, &err), 0, "a group-readable key (fsGroup) is accepted");
        free(path);
        ka_bus_key_wipe(&k);

        key_refused(dir, "world", hex, sizeof(hex) - 1, 0644, -EPERM, "mode 0644 lets others read or change it");
        key_refused(dir, "groupw", hex, sizeof(hex) - 1, 0660, -EPERM, "chmod 600");
        key_refused(dir, "short", hex, 40, 0600, -EINVAL, "expected 32 bytes or 64 hex digits");
        key_refused(dir, "badhex", "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 64, 0600,
                    -EINVAL, "expected 32 bytes or 64 hex digits");
        unsigned char zero[32] = {0};
        key_refused(dir, "zero", zero, sizeof(zero), 0600, -EINVAL, "all zeros");
        char *missing = ka_path_join(dir, "missing");
        is_int(ka_bus_key_load(missing, &k, &err), -ENOENT, "a missing key file is refused");
        like(err.msg, "No such file", "saying so");
        free(missing);
        is_int(ka_bus_key_load(dir, &k, &err), -EINVAL, "a folder is not a key file");
        like(err.msg, "not a regular file", "saying so");
        if (geteuid() != 0) {
                char *locked = write_key(dir, "locked", hex, sizeof(hex) - 1, 0000);
                is_int(ka_bus_key_load(locked, &k, &err), -EACCES, "an unreadable key file is refused");
                free(locked);
        } else {
                tap_skip("root reads any file", "an unreadable key file is refused");
        }
        /* key bytes never appear in messages */
        ok(strstr(err.msg, "0001020304") == NULL, "no key material in errors");
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                abort();
}

static void session_pair(struct ka_bus_keys *core, struct ka_bus_keys *peer, uint64_t *session) {
        struct ka_bus_key psk;
        memset(psk.k, 0x42, sizeof(psk.k));
        unsigned char pn[32], cn[32];
        memset(pn, 1, sizeof(pn));
        memset(cn, 2, sizeof(cn));
        uint64_t s1, s2;
        if (ka_bus_session_keys(&psk, pn, cn, true, core, &s1) < 0 ||
            ka_bus_session_keys(&psk, pn, cn, false, peer, &s2) < 0)
                abort();
        *session = s1;
        ok(s1 == s2, "both sides derive the same session id");
}

static void test_sessions(void) {
        struct ka_bus_keys core, peer;
        uint64_t session;
        session_pair(&core, &peer, &session);
        ok(memcmp(core.tx.k, peer.rx.k, 32) == 0 && memcmp(core.rx.k, peer.tx.k, 32) == 0,
           "one side's sending key is the other's receiving key");
        ok(memcmp(core.tx.k, core.rx.k, 32) != 0, "each direction has its own key");

        struct ka_bus_key psk, hs;
        memset(psk.k, 0x42, sizeof(psk.k));
        unsigned char pn[32], cn[32];
        memset(pn, 1, sizeof(pn));
        memset(cn, 3, sizeof(cn));
        struct ka_bus_keys other;
        uint64_t other_session;
        ka_bus_session_keys(&psk, pn, cn, true, &other, &other_session);
        ok(other_session != session && memcmp(other.tx.k, core.tx.k, 32) != 0, "fresh nonces give fresh keys");
        is_int(ka_bus_handshake_key(&psk, &hs), 0, "handshake key");
        ok(memcmp(hs.k, psk.k, 32) != 0, "the handshake key is not the pre-shared key itself");

        /* data frames: seal, open, replay, reorder, forge */
        struct ka_buf f1 = KA_BUF_INIT(4096), f2 = KA_BUF_INIT(4096), f3 = KA_BUF_INIT(4096), plain = KA_BUF_INIT(4096);
        const char *text = "{\"type\":\"ack\"}";
        is_int(ka_bus_seal_data(&core, &f1, session, 1000, text, strlen(text)), 0, "seal frame 1");
        is_int(ka_bus_seal_data(&core, &f2, session, 1001, text, strlen(text)), 0, "seal frame 2");
        is_int(ka_bus_seal_data(&core, &f3, session, 1002, text, strlen(text)), 0, "seal frame 3");
        ok(memmem(f1.data, f1.len, "ack", 3) == NULL, "the body is not readable on the wire");
        struct ka_bus_frame f;
        struct ka_error err = {0};
        is_int(ka_bus_frame_parse(f2.data, f2.len, &f, &err), 0, "parse frame 2");
        ok(f.sealed && f.kind == KA_BUS_FRAME_DATA && f.session == session && f.time == 1001, "header fields");
        is_int(ka_bus_open_data(&peer, &f, &plain), 0, "frame 2 opens first (out of order)");
        is_str(plain.data, text, "to the sealed text");
        is_int(ka_bus_open_data(&peer, &f, &plain), -EALREADY, "frame 2 again is a replay");
        ka_bus_frame_parse(f1.data, f1.len, &f, &err);
        is_int(ka_bus_open_data(&peer, &f, &plain), 0, "frame 1, late but inside the window, opens");
        is_int(ka_bus_open_data(&peer, &f, &plain), -EALREADY, "and only once");

        /* tamper with each part of frame 3 */
        for (size_t at = 0; at < f3.len; at += 7) {
                if (at < 8)
                        continue; /* magic/version/kind/flags: refused by the parser, checked below */
                f3.data[at] ^= 0x20;
                int r = ka_bus_frame_parse(f3.data, f3.len, &f, &err);
                if (r == 0)
                        r = ka_bus_open_data(&peer, &f, &plain);
                f3.data[at] ^= 0x20;
                if (r != -EBADMSG && r != -EALREADY) {
                        ok(false, "a changed byte at %zu is refused (got %d)", at, r);
                        break;
                }
        }
        ok(true, "a changed byte anywhere in header, body or tag is refused");
        ka_bus_frame_parse(f3.data, f3.len, &f, &err);
        is_int(ka_bus_open_data(&peer, &f, &plain), 0,
               "the untouched frame 3 still opens: forgeries did not move the window");

        /* a frame sealed with other keys (a forger without the pre-shared key) */
        struct ka_buf forged = KA_BUF_INIT(4096);
        other.tx_counter = 100;
        ka_bus_seal_data(&other, &forged, session, 1003, text, strlen(text));
        ka_bus_frame_parse(forged.data, forged.len, &f, &err);
        is_int(ka_bus_open_data(&peer, &f, &plain), -EBADMSG, "a frame sealed under another key is forged");
        /* our own frame reflected back to us */
        ka_bus_frame_parse(f1.data, f1.len, &f, &err);
        is_int(ka_bus_open_data(&core, &f, &plain), -EBADMSG, "a frame reflected to its sender is refused");

        /* far behind the window */
        struct ka_buf late = KA_BUF_INIT(4096);
        core.tx_counter = 3;
        struct ka_buf tmp = KA_BUF_INIT(4096);
        ka_bus_seal_data(&core, &late, session, 1, text, strlen(text)); /* counter 4 */
        for (int i = 0; i < 70; i++) {
                ka_buf_reset(&tmp);
                ka_bus_seal_data(&core, &tmp, session, 1, text, strlen(text));
                ka_bus_frame_parse(tmp.data, tmp.len, &f, &err);
                ka_bus_open_data(&peer, &f, &plain);
        }
        ka_bus_frame_parse(late.data, late.len, &f, &err);
        is_int(ka_bus_open_data(&peer, &f, &plain), -EALREADY, "a frame more than 64 behind is refused as a replay");

        core.tx_counter = KA_BUS_REKEY_AFTER - 1;
        ka_buf_reset(&tmp);
        is_int(ka_bus_seal_data(&core, &tmp, session, 1, text, strlen(text)), -EKEYEXPIRED,
               "a session refuses to seal past its rekey limit");

        ka_buf_free(&f1);
        ka_buf_free(&f2);
        ka_buf_free(&f3);
        ka_buf_free(&forged);
        ka_buf_free(&late);
        ka_buf_free(&tmp);
        ka_buf_free_secret(&plain);
        ka_bus_keys_wipe(&core);
        ka_bus_keys_wipe(&peer);
        ka_bus_keys_wipe(&other);
}

static void test_frames(void) {
        unsigned char iv[12] = {0};
        struct ka_buf b = KA_BUF_INIT(4096);
        is_int(ka_bus_frame_write(&b, KA_BUS_FRAME_HELLO, 0, 5, iv, NULL, "{}", 2), 0, "write a plain frame");
        is_int(b.len, KA_BUS_FRAME_HDR + 2, "header + body");
        struct ka_bus_frame f;
        struct ka_error err = {0};
        is_int(ka_bus_frame_parse(b.data, b.len, &f, &err), 0, "parse it");
        ok(!f.sealed && f.kind == KA_BUS_FRAME_HELLO && f.body_len == 2 && memcmp(f.body, "{}", 2) == 0,
           "a plain frame carries its body in clear");
        is_int(ka_bus_frame_parse(b.data, KA_BUS_FRAME_HDR - 1, &f, &err), -EBADMSG, "a short frame is refused");
        like(err.msg, "shorter than its header", "saying so");
        b.data[0] = 'X';
        is_int(ka_bus_frame_parse(b.data, b.len, &f, &err), -EBADMSG, "bad magic");
        b.data[0] = 'K';
        b.data[2] = 9;
        is_int(ka_bus_frame_parse(b.data, b.len, &f, &err), -EBADMSG, "unknown version");
        like(err.msg, "version 9 is not supported", "saying so");
        b.data[2] = 1;
        b.data[3] = 7;
        is_int(ka_bus_frame_parse(b.data, b.len, &f, &err), -EBADMSG, "unknown kind");
        b.data[3] = 1;
        b.data[6] = 1;
        is_int(ka_bus_frame_parse(b.data, b.len, &f, &err), -EBADMSG, "reserved bits set");
        b.data[6] = 0;
        b.data[4] = 1; /* claims sealed, but 2 bytes cannot hold a tag */
        is_int(ka_bus_frame_parse(b.data, b.len, &f, &err), -EBADMSG, "a sealed frame too short for its tag");

        struct ka_bus_key k;
        memset(k.k, 7, sizeof(k.k));
        ka_buf_reset(&b);
        is_int(ka_bus_frame_write(&b, KA_BUS_FRAME_WELCOME, 99, 5, iv, &k, "hello there", 11), 0,
               "write a sealed frame");
        is_int(b.len, KA_BUS_FRAME_HDR + 11 + KA_BUS_TAG_LEN, "header + ciphertext + tag");
        ka_bus_frame_parse(b.data, b.len, &f, &err);
        struct ka_buf out = KA_BUF_INIT(4096);
        is_int(ka_bus_frame_open(&f, &k, &out), 0, "open it");
        is_str(out.data, "hello there", "plaintext");
        b.data[9] ^= 1; /* the session id: part of the AAD */
        ka_bus_frame_parse(b.data, b.len, &f, &err);
        is_int(ka_bus_frame_open(&f, &k, &out), -EBADMSG, "a changed header is refused");
        ka_buf_free(&b);
        ka_buf_free(&out);
}

int main(void) {
        ka_mem_init();
        test_gcm_vectors();
        test_hkdf();
        test_key_files();
        test_sessions();
        test_frames();
        return tap_done();
}
