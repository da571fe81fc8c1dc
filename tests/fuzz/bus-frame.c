/* Fuzz target: the frame parser and the sealed-frame opener.
 *
 * The first byte picks what the rest is:
 *   'R'  a raw frame as it comes off the wire: parse, then open it as a data
 *        frame of a fixed session (tag checks, replay window) and as a
 *        handshake frame;
 *   'S'  a plaintext: seal it as a data frame, open it again (must give the
 *        same bytes), then feed the plaintext to the envelope decoder as a
 *        receiver would;
 *   'T'  like 'S', but flip the bit selected by the second byte of the sealed
 *        frame first: the opener must refuse it.
 * Anything else is treated as 'R'. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bus/envelope.h"
#include "bus/seal.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ka_bus_keys core, peer;
static struct ka_bus_key hs;
static uint64_t session;

static void setup(void) {
        struct ka_bus_key psk;
        memset(psk.k, 0x5a, sizeof(psk.k));
        unsigned char pn[KA_BUS_NONCE_LEN], cn[KA_BUS_NONCE_LEN];
        memset(pn, 1, sizeof(pn));
        memset(cn, 2, sizeof(cn));
        uint64_t s;
        if (ka_bus_session_keys(&psk, pn, cn, true, &core, &session) < 0 ||
            ka_bus_session_keys(&psk, pn, cn, false, &peer, &s) < 0 || ka_bus_handshake_key(&psk, &hs) < 0)
                __builtin_trap();
}

static void decode(const char *text, size_t len) {
        struct ka_bus_msg m = {0};
        enum ka_bus_reject reason;
        struct ka_error err = {0};
        if (ka_bus_msg_decode(text, len, 1 << 20, &m, &reason, &err) == 0)
                ka_bus_msg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                setup();
                init = 1;
        }
        if (size == 0)
                return 0;
        uint8_t mode = data[0];
        data++, size--;
        struct ka_buf plain = KA_BUF_INIT(2u << 20), frame = KA_BUF_INIT(2u << 20);
        struct ka_bus_frame f;
        struct ka_error err = {0};
        if (mode == 'S' || mode == 'T') {
                size_t flip = 0;
                if (mode == 'T') {
                        if (size == 0)
                                goto out;
                        flip = data[0];
                        data++, size--;
                }
                struct ka_bus_keys tx = core, rx = peer;
                if (ka_bus_seal_data(&tx, &frame, session, 1, data, size) < 0)
                        __builtin_trap();
                if (mode == 'T')
                        frame.data[(flip * 7) % frame.len] ^= (char)(1u << (flip % 8));
                int r = ka_bus_frame_parse(frame.data, frame.len, &f, &err);
                if (r == 0)
                        r = ka_bus_open_data(&rx, &f, &plain);
                if (mode == 'S') {
                        if (r < 0 || plain.len != size || memcmp(plain.data, data, size) != 0)
                                __builtin_trap();
                        decode(plain.data, plain.len);
                } else if (r == 0) {
                        __builtin_trap(); /* a flipped bit must never open */
                }
        } else {
                if (ka_bus_frame_parse(data, size, &f, &err) == 0 && f.sealed) {
                        struct ka_bus_keys rx = peer;
                        if (f.kind == KA_BUS_FRAME_DATA && ka_bus_open_data(&rx, &f, &plain) == 0)
                                decode(plain.data, plain.len);
                        if (f.kind != KA_BUS_FRAME_DATA && ka_bus_frame_open(&f, &hs, &plain) == 0)
                                decode(plain.data, plain.len);
                } else if (ka_bus_frame_parse(data, size, &f, &err) == 0) {
                        decode((const char *)f.body, f.body_len);
                }
        }
out:
        ka_buf_free_secret(&plain);
        ka_buf_free(&frame);
        return 0;
}
