/* Unit tests for core/bus/envelope: the strict envelope decoder and payload schemas. */
#include <errno.h>
#include <string.h>

#include "bus/envelope.h"
#include "tap.h"
#include "util/json.h"
#include "util/mem.h"

#define MAX 4096

static const char *good = "{\"type\":\"job\",\"id\":\"abc.1\",\"sender\":\"core\",\"to\":\"w1\",\"time\":1764133814123,"
                          "\"seq\":7,\"payload\":{\"job\":\"pod/ci/maven-1\",\"epoch\":3}}";

/* Decode text; return the rejection reason (NONE when accepted). */
static enum ka_bus_reject decode(const char *text, struct ka_error *err) {
        struct ka_bus_msg m = {0};
        enum ka_bus_reject reason = KA_BUS_REJECT_NONE;
        int r = ka_bus_msg_decode(text, strlen(text), MAX, &m, &reason, err);
        ka_bus_msg_clear(&m);
        if (r == 0)
                return KA_BUS_REJECT_NONE;
        return reason;
}

static void refused(const char *text, enum ka_bus_reject want, const char *msg_part, const char *what) {
        struct ka_error err = {0};
        enum ka_bus_reject got = decode(text, &err);
        is_str(ka_bus_reject_name(got), ka_bus_reject_name(want), "%s: refused as %s", what, ka_bus_reject_name(want));
        if (msg_part)
                like(err.msg, msg_part, "%s: says why", what);
}

static void test_roundtrip(void) {
        struct ka_bus_msg m = {0};
        struct ka_error err = {0};
        enum ka_bus_reject reason;
        is_int(ka_bus_msg_decode(good, strlen(good), MAX, &m, &reason, &err), 0, "a good message decodes");
        is_str(m.type, "job", "type");
        is_str(m.id, "abc.1", "id");
        is_str(m.sender, "core", "sender");
        is_str(m.to, "w1", "to");
        is_int(m.time, 1764133814123, "time");
        is_int(m.seq, 7, "seq");
        is_str(ka_json_str(m.payload, "job"), "pod/ci/maven-1", "payload member");

        struct ka_buf out = KA_BUF_INIT(MAX);
        is_int(ka_bus_msg_encode(&m, &out, &err), 0, "it encodes again");
        is_str(out.data, good, "encoding is exactly the canonical text");
        ka_buf_free(&out);

        m.seq = 0;
        is_int(ka_bus_msg_encode(&m, &out, &err), 0, "a message off the stream encodes");
        ok(strstr(out.data, "\"seq\"") == NULL, "without a seq member");
        struct ka_bus_msg back = {0};
        is_int(ka_bus_msg_decode(out.data, out.len, MAX, &back, &reason, &err), 0, "and decodes");
        is_int(back.seq, 0, "seq 0 means not on the stream");
        ka_bus_msg_clear(&back);
        ka_buf_free(&out);

        strcpy(m.type, "Job");
        is_int(ka_bus_msg_encode(&m, &out, &err), -EINVAL, "an invalid type is not encoded");
        ka_buf_free(&out);
        ka_bus_msg_clear(&m);

        struct ka_bus_msg big = {.type = "event", .id = "x", .sender = "a", .to = "b", .time = 1};
        big.payload = cJSON_CreateObject();
        char *filler = ka_malloc(MAX);
        memset(filler, 'x', MAX - 1);
        filler[MAX - 1] = '\0';
        cJSON_AddStringToObject(big.payload, "data", filler);
        free(filler);
        struct ka_buf small = KA_BUF_INIT(MAX);
        is_int(ka_bus_msg_encode(&big, &small, &err), -E2BIG, "a message over the cap is not encoded");
        like(err.msg, "does not fit", "and says so");
        ka_buf_free(&small);
        ka_bus_msg_clear(&big);
}

static void test_refusals(void) {
        refused("{\"type\":", KA_BUS_REJECT_MALFORMED, "invalid JSON at byte", "truncated JSON");
        refused("[1,2]", KA_BUS_REJECT_INVALID, "must be a JSON object, not an array", "an array");
        refused("{} {}", KA_BUS_REJECT_MALFORMED, "trailing data at byte 3", "two objects");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{},\"x\":1}",
                KA_BUS_REJECT_INVALID, "unknown envelope member \"x\"", "an unknown member");
        refused("{\"type\":\"job\",\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{"
                "}}",
                KA_BUS_REJECT_INVALID, "\"type\" appears twice", "a member twice");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"time\":1,\"payload\":{}}", KA_BUS_REJECT_INVALID,
                "\"to\" is missing", "a missing recipient");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1}", KA_BUS_REJECT_INVALID,
                "\"payload\" is missing", "a missing payload");
        refused("{\"type\":\"Job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "\"type\" must be", "an upper-case type");
        refused("{\"type\":\"jobjobjobjobjobjobjobjobjobjobjob\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,"
                "\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "\"type\" must be", "a 33-character type");
        refused("{\"type\":7,\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "\"type\" must be", "a numeric type");
        refused("{\"type\":\"job\",\"id\":\"a b\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "\"id\" must be", "an id with a space");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"-a\",\"to\":\"b\",\"time\":1,\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "must be names", "a sender starting with a dash");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b/c\",\"time\":1,\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "must be names", "a recipient with a slash");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":-1,\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "whole number of milliseconds", "a negative time");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1.5,\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "whole number of milliseconds", "a fractional time");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1e300,\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "whole number of milliseconds", "a huge time");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":\"1\",\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "whole number of milliseconds", "a time as a string");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"seq\":0,\"payload\":{}}",
                KA_BUS_REJECT_INVALID, "\"seq\" must be a positive integer", "seq 0");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":[]}",
                KA_BUS_REJECT_INVALID, "\"payload\" must be an object, not an array", "an array payload");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{\"a\":"
                "\"\xc0\xaf\"}}",
                KA_BUS_REJECT_MALFORMED, "not UTF-8", "an overlong UTF-8 sequence");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{\"a\":"
                "\"\xed\xa0\x80\"}}",
                KA_BUS_REJECT_MALFORMED, "not UTF-8", "an encoded surrogate");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{\"a\":"
                "\"x\\u0000y\"}}",
                KA_BUS_REJECT_MALFORMED, "NUL", "a \\u0000 escape that would cut a string");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{\"a\":"
                "\"\\ud800\"}}",
                KA_BUS_REJECT_MALFORMED, "invalid JSON", "a lone surrogate escape");
        refused("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{\"a\":[{\"x\":1,"
                "\"x\":2}]}}",
                KA_BUS_REJECT_INVALID, "member \"x\" appears twice in the payload", "a duplicate member deep inside");
        struct ka_buf wide = KA_BUF_INIT(0);
        ka_buf_puts(&wide, "{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{");
        for (int i = 0; i < 100; i++)
                ka_buf_printf(&wide, "\"m%d\":%d,", i, i);
        ka_buf_puts(&wide, "\"m42\":0}}");
        refused(wide.data, KA_BUS_REJECT_INVALID, "member \"m42\" appears twice", "a duplicate among 101 members");
        ka_buf_free(&wide);
        /* an escaped backslash followed by u0000 is an ordinary string */
        struct ka_error err = {0};
        is_int(decode("{\"type\":\"job\",\"id\":\"1\",\"sender\":\"a\",\"to\":\"b\",\"time\":1,\"payload\":{\"a\":"
                      "\"\\\\u0000\"}}",
                      &err),
               KA_BUS_REJECT_NONE, "\\\\u0000 (an escaped backslash) is accepted");

        struct ka_bus_msg m = {0};
        enum ka_bus_reject reason;
        char nul[] = "{\"type\":\"job\"\0}";
        is_int(ka_bus_msg_decode(nul, sizeof(nul) - 1, MAX, &m, &reason, &err), -EBADMSG, "a NUL byte is refused");
        is_str(ka_bus_reject_name(reason), "malformed", "as malformed");
        is_int(ka_bus_msg_decode(good, strlen(good), 20, &m, &reason, &err), -EMSGSIZE, "over the size limit");
        is_str(ka_bus_reject_name(reason), "oversized", "is oversized");
        like(err.msg, "exceeds the 20-byte limit", "and says the limit");
}

static const struct ka_bus_field lease_fields[] = {
        {"job", KA_BUS_F_ID, KA_BUS_F_REQUIRED, 0, NULL},
        {"epoch", KA_BUS_F_UINT, KA_BUS_F_REQUIRED, 0, NULL},
        {NULL, 0, 0, 0, NULL},
};

static const struct ka_bus_field fields[] = {
        {"name", KA_BUS_F_NAME, KA_BUS_F_REQUIRED, 0, NULL},
        {"note", KA_BUS_F_STRING, 0, 8, NULL},
        {"final", KA_BUS_F_BOOL, 0, 0, NULL},
        {"leases", KA_BUS_F_ARRAY, 0, 2, lease_fields},
        {"serves", KA_BUS_F_STRINGS, 0, 0, NULL},
        {"data", KA_BUS_F_OBJECT, 0, 0, NULL},
        {NULL, 0, 0, 0, NULL},
};

static void schema(const char *json, int want, const char *msg_part, const char *what) {
        cJSON *p = cJSON_Parse(json);
        struct ka_error err = {0};
        is_int(ka_bus_payload_check(p, fields, &err), want, "%s", what);
        if (msg_part)
                like(err.msg, msg_part, "%s: says why", what);
        cJSON_Delete(p);
}

static void test_schema(void) {
        schema("{\"name\":\"w1\",\"note\":\"hi\",\"final\":true,\"leases\":[{\"job\":\"a/b\",\"epoch\":2}],"
               "\"serves\":[\"k8s\"],\"data\":{\"any\":[1]}}",
               0, NULL, "a complete payload passes");
        schema("{\"note\":\"hi\"}", -EBADMSG, "member \"name\" is missing", "a required member missing");
        schema("{\"name\":\"w1\",\"nmae\":1}", -EBADMSG, "unknown member \"nmae\"", "a misspelt member");
        schema("{\"name\":\"w1\",\"name\":\"w2\"}", -EBADMSG, "appears twice", "a member twice");
        schema("{\"name\":\"w 1\"}", -EBADMSG, "\"name\" must be a name", "a bad name");
        schema("{\"name\":\"w1\",\"note\":\"123456789\"}", -EBADMSG, "at most 8 bytes", "a long string");
        schema("{\"name\":\"w1\",\"final\":1}", -EBADMSG, "true or false", "a number for a bool");
        schema("{\"name\":\"w1\",\"leases\":[{\"job\":\"a\",\"epoch\":1},{\"job\":\"b\",\"epoch\":1},{\"job\":\"c\","
               "\"epoch\":1}]}",
               -EBADMSG, "at most 2 items", "too many items");
        schema("{\"name\":\"w1\",\"leases\":[{\"job\":\"a\"}]}", -EBADMSG, "in \"leases\": member \"epoch\" is missing",
               "a nested required member");
        schema("{\"name\":\"w1\",\"leases\":[{\"job\":\"a\",\"epoch\":-1}]}", -EBADMSG, "non-negative integer",
               "a negative epoch");
        schema("{\"name\":\"w1\",\"leases\":[3]}", -EBADMSG, "must hold objects", "a non-object item");
        schema("{\"name\":\"w1\",\"serves\":[1]}", -EBADMSG, "must hold strings", "a non-string in a string list");
        schema("{\"name\":\"w1\",\"data\":[]}", -EBADMSG, "must be an object", "an array for an object");
        struct ka_error err = {0};
        is_int(ka_bus_payload_check(NULL, fields, &err), -EBADMSG, "no payload at all");
}

static void test_names(void) {
        ok(ka_bus_valid_name("worker-1.a_b"), "names allow . _ -");
        ok(!ka_bus_valid_name(""), "empty name refused");
        ok(!ka_bus_valid_name(".x"), "a name must start with a letter or digit");
        char long_name[KA_BUS_NAME_MAX + 2];
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        ok(!ka_bus_valid_name(long_name), "a 64-character name is refused");
        ok(ka_bus_valid_id("pod/ci/maven-1x2y3@cloud:1"), "job ids allow / @ :");
        ok(!ka_bus_valid_id("a b"), "job ids refuse spaces");
        ok(ka_bus_valid_type("register-agent"), "types allow dashes");
        ok(!ka_bus_valid_type("9lives"), "types start with a letter");
        is_str(ka_bus_reject_name(KA_BUS_REJECT_UNKNOWN_SESSION), "unknown_session", "reason names are metric labels");
}

int main(void) {
        ka_mem_init();
        test_roundtrip();
        test_refusals();
        test_schema();
        test_names();
        return tap_done();
}
