/* core/bus/seal.h — frames, and sealing them with AES-256-GCM.
 *
 * Everything on the bus travels in a frame: a 36-byte header followed by the
 * envelope's JSON text, in clear on a bus without a key, sealed otherwise:
 *
 *     0  "KB"       magic
 *     2  1          version
 *     3  kind       1 hello, 2 welcome, 3 reset, 4 data
 *     4  flags      bit 0: sealed
 *     5  0 0 0      reserved, must be zero
 *     8  session    big-endian u64 (0 in a hello)
 *    16  time       big-endian i64, Unix ms when sent
 *    24  iv         12 bytes: data frames use direction (4) || counter (8)
 *    36  body       JSON, or ciphertext followed by a 16-byte tag
 *
 * A sealed frame authenticates the whole header (it is the AAD) and hides
 * the body.  Handshake frames (hello, welcome, reset) are sealed under a key
 * derived from the pre-shared key alone, with a random IV; data frames under
 * per-session, per-direction keys derived with HKDF-SHA256 from the
 * pre-shared key and both sides' fresh nonces, with a counter IV that never
 * repeats under one key.  The protocol around this is in PROTOCOL.md.
 *
 * Key material lives in struct ka_bus_key / ka_bus_keys and is wiped with
 * ka_bus_key_wipe() / ka_bus_keys_wipe(). */
#ifndef KA_BUS_SEAL_H
#define KA_BUS_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

#define KA_BUS_KEY_LEN 32
#define KA_BUS_NONCE_LEN 32
#define KA_BUS_IV_LEN 12
#define KA_BUS_TAG_LEN 16
#define KA_BUS_FRAME_HDR 36
/* Re-handshake long before a counter could wrap or 2^32 messages are sealed. */
#define KA_BUS_REKEY_AFTER (UINT64_C(1) << 31)

enum ka_bus_frame_kind {
        KA_BUS_FRAME_HELLO = 1,
        KA_BUS_FRAME_WELCOME = 2,
        KA_BUS_FRAME_RESET = 3,
        KA_BUS_FRAME_DATA = 4,
};

/* IV prefixes of data frames, one per direction. */
#define KA_BUS_DIR_TO_PEER UINT32_C(1)
#define KA_BUS_DIR_TO_CORE UINT32_C(2)

struct ka_bus_key {
        unsigned char k[KA_BUS_KEY_LEN];
};

/* A parsed frame; body points into the received bytes. */
struct ka_bus_frame {
        enum ka_bus_frame_kind kind;
        bool sealed;
        uint64_t session;
        int64_t time;
        unsigned char iv[KA_BUS_IV_LEN];
        const unsigned char *header; /* the 36 bytes, the AAD */
        const unsigned char *body;   /* ciphertext + tag when sealed */
        size_t body_len;
};

/* One side's keys for one session. */
struct ka_bus_replay {
        uint64_t top;  /* highest counter accepted */
        uint64_t bits; /* bit i set: counter top - i was accepted */
};

struct ka_bus_keys {
        struct ka_bus_key tx, rx;
        uint32_t tx_dir, rx_dir;
        uint64_t tx_counter; /* the last counter used */
        struct ka_bus_replay window;
};

/* Read a key file: 32 raw bytes, or 64 hex digits and optional trailing
 * whitespace (`openssl rand -hex 32 > bus.key`).  Refused: a missing or
 * unreadable file, anything but a regular file, a file others may read or
 * anyone but its owner may write (mode 0600 or 0400; 0640 is accepted for a
 * group that must read it, as Kubernetes' fsGroup does), a wrong length, an
 * all-zero key.  Errors name the file and never show key bytes. */
int ka_bus_key_load(const char *path, struct ka_bus_key *ret, struct ka_error *err);
void ka_bus_key_wipe(struct ka_bus_key *k);

/* HKDF-SHA256 (RFC 5869) through OpenSSL's EVP_KDF. */
int ka_bus_hkdf(const unsigned char *ikm, size_t ikm_len, const unsigned char *salt, size_t salt_len, const char *info,
                unsigned char *out, size_t out_len);
/* AES-256-GCM with a 12-byte IV and a 16-byte tag. */
int ka_bus_gcm_seal(const unsigned char key[KA_BUS_KEY_LEN], const unsigned char iv[KA_BUS_IV_LEN],
                    const unsigned char *aad, size_t aad_len, const unsigned char *in, size_t len, unsigned char *out,
                    unsigned char tag[KA_BUS_TAG_LEN]);
/* -EBADMSG when the tag does not verify (out is then wiped). */
int ka_bus_gcm_open(const unsigned char key[KA_BUS_KEY_LEN], const unsigned char iv[KA_BUS_IV_LEN],
                    const unsigned char *aad, size_t aad_len, const unsigned char *in, size_t len,
                    const unsigned char tag[KA_BUS_TAG_LEN], unsigned char *out);

/* The key that seals handshake frames. */
int ka_bus_handshake_key(const struct ka_bus_key *psk, struct ka_bus_key *ret);
/* Session keys from both nonces; `core` says which side we are.  The session
 * id is derived too, so both sides agree on it without trusting a header. */
int ka_bus_session_keys(const struct ka_bus_key *psk, const unsigned char peer_nonce[KA_BUS_NONCE_LEN],
                        const unsigned char core_nonce[KA_BUS_NONCE_LEN], bool core, struct ka_bus_keys *ret,
                        uint64_t *ret_session);
void ka_bus_keys_wipe(struct ka_bus_keys *k);
int ka_bus_random(void *buf, size_t len);

/* Parse the header of a frame of len bytes.  -EBADMSG (malformed) with err. */
int ka_bus_frame_parse(const void *data, size_t len, struct ka_bus_frame *ret, struct ka_error *err);

/* Append a frame to out.  With key NULL the body goes in clear. */
int ka_bus_frame_write(struct ka_buf *out, enum ka_bus_frame_kind kind, uint64_t session, int64_t time,
                       const unsigned char iv[KA_BUS_IV_LEN], const struct ka_bus_key *key, const void *body,
                       size_t len);
/* Open a sealed frame's body into out (NUL-terminated; wipe it after use). */
int ka_bus_frame_open(const struct ka_bus_frame *f, const struct ka_bus_key *key, struct ka_buf *out);

/* Data frames under session keys: the next counter, its IV. */
int ka_bus_seal_data(struct ka_bus_keys *k, struct ka_buf *out, uint64_t session, int64_t time, const void *body,
                     size_t len);
/* Check the IV's direction and counter against the replay window, then
 * open; the window moves only for frames that authenticate.  -EBADMSG:
 * forged (or tampered); -EALREADY: replayed. */
int ka_bus_open_data(struct ka_bus_keys *k, const struct ka_bus_frame *f, struct ka_buf *out);

/* The replay window (64 counters wide, like IPsec's). */
bool ka_bus_replay_fresh(const struct ka_bus_replay *w, uint64_t counter);
void ka_bus_replay_accept(struct ka_bus_replay *w, uint64_t counter);

#endif
