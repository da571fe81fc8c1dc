/* Unit tests for core/yaml: YAML 1.1 scalars, anchors, merges, places,
 * errors and the emitter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util/json.h"
#include "util/mem.h"
#include "yaml/yaml.h"

static cJSON *parse(const char *text, struct ka_locmap *locs, struct ka_error *err) {
        cJSON *j = NULL;
        struct ka_yaml_origin o = {.file = "t.yaml"};
        if (ka_yaml_parse(text, strlen(text), &o, locs, &j, err) < 0)
                return NULL;
        return j;
}

static char *to_json(const char *yaml) {
        struct ka_error err = {0};
        cJSON *j = NULL;
        struct ka_yaml_origin o = {.file = "t.yaml"};
        if (ka_yaml_parse(yaml, strlen(yaml), &o, NULL, &j, &err) < 0)
                return ka_asprintf("ERROR %s:%u:%u: %s", err.file, err.line, err.col, err.msg);
        char *s = ka_json_print(j);
        cJSON_Delete(j);
        return s;
}

#define CHECK_JSON(yaml, want, name)               \
        do {                                       \
                char *got_ = to_json(yaml);        \
                is_str(got_, want, name);          \
                free(got_);                        \
        } while (0)

static void test_scalars(void) {
        CHECK_JSON("a: 0755", "{\"a\":493}", "YAML 1.1 octal");
        CHECK_JSON("a: 0o17", "{\"a\":15}", "0o octal");
        CHECK_JSON("a: 0x1F", "{\"a\":31}", "hex");
        CHECK_JSON("a: 1_000", "{\"a\":1000}", "underscores");
        CHECK_JSON("a: -12", "{\"a\":-12}", "negative");
        CHECK_JSON("a: 1.5", "{\"a\":1.5}", "float");
        CHECK_JSON("a: 1e3", "{\"a\":1000}", "exponent");
        CHECK_JSON("a: yes\nb: Off\nc: y\nd: TRUE", "{\"a\":true,\"b\":false,\"c\":true,\"d\":true}",
                   "YAML 1.1 booleans");
        CHECK_JSON("a: ~\nb:\nc: null", "{\"a\":null,\"b\":null,\"c\":null}", "nulls");
        CHECK_JSON("a: '0755'\nb: \"yes\"\nc: |\n  x\n", "{\"a\":\"0755\",\"b\":\"yes\",\"c\":\"x\\n\"}",
                   "quoted and block scalars stay strings");
        CHECK_JSON("a: 1.2.3\nb: 08\nc: 0x\nd: .inf", "{\"a\":\"1.2.3\",\"b\":\"08\",\"c\":\"0x\",\"d\":\".inf\"}",
                   "near-numbers are strings");
        CHECK_JSON("a: !!str 12\nb: !!int \"12\"", "{\"a\":\"12\",\"b\":12}", "explicit tags");
        CHECK_JSON("a: !!int x", "ERROR t.yaml:1:4: \"x\" is not a valid !!int", "bad tagged value");
        CHECK_JSON("a: !foo x", "ERROR t.yaml:1:4: unsupported tag \"!foo\"", "unknown tag");
        CHECK_JSON("", "null", "empty document");
        CHECK_JSON("{\"a\": [1, \"b\"]}", "{\"a\":[1,\"b\"]}", "JSON is YAML");
}

static void test_structure(void) {
        CHECK_JSON("base: &b\n  image: x\n  tty: true\nc:\n  <<: *b\n  image: z\n",
                   "{\"base\":{\"image\":\"x\",\"tty\":true},\"c\":{\"image\":\"z\",\"tty\":true}}",
                   "merge key: explicit keys win");
        CHECK_JSON("a: &a [1, 2]\nb: *a", "{\"a\":[1,2],\"b\":[1,2]}", "alias to a sequence");
        CHECK_JSON("x:\n  <<: [{a: 1}, {a: 2, b: 3}]", "{\"x\":{\"a\":1,\"b\":3}}", "merge of a list: earlier wins");
        CHECK_JSON("a: 1\nb: 2\na: 3", "ERROR t.yaml:3:1: duplicate key \"a\" (first defined at line 1)",
                   "duplicate key");
        CHECK_JSON("a: *nope", "ERROR t.yaml:1:4: unknown anchor \"nope\"", "unknown anchor");
        CHECK_JSON("? [a]\n: 1", "ERROR t.yaml:1:3: only scalars can be mapping keys", "complex key");
        CHECK_JSON("a: [1, 2", "ERROR t.yaml:2:1: did not find expected ',' or ']' while parsing a flow sequence",
                   "unterminated flow sequence");
        CHECK_JSON("a: 1\n---\nb: 2", "ERROR t.yaml:2:1: expected a single YAML document, found a second one",
                   "second document refused");
        CHECK_JSON("a:\n  b: 1\n c: 2", "ERROR t.yaml:3:2: did not find expected key while parsing a block mapping",
                   "bad indentation");
}

static void test_locations(void) {
        struct ka_locmap *locs = ka_locmap_new();
        struct ka_error err = {0};
        cJSON *j = parse("top:\n  list:\n    - name: x\n      image: \"y\"\n", locs, &err);
        ok(j != NULL, "parsed");
        const cJSON *item = cJSON_GetArrayItem(ka_json_path(j, "top.list"), 0);
        const cJSON *image = cJSON_GetObjectItem(item, "image");
        struct ka_loc l;
        ok(ka_locmap_get(locs, image, &l), "image has a place");
        is_str(l.file, "t.yaml", "file");
        is_int(l.line, 4, "value line");
        is_int(l.col, 14, "value column");
        ok(ka_locmap_get_key(locs, image, &l), "image key has a place");
        is_int(l.col, 7, "key column");
        ok(ka_locmap_get(locs, item, &l), "sequence item has a place");
        is_int(l.line, 3, "item line");
        is_int(l.col, 7, "item column");

        cJSON *copy = cJSON_Duplicate(item, true);
        ka_locmap_copy_tree(locs, item, copy);
        ok(ka_locmap_get(locs, cJSON_GetObjectItem(copy, "image"), &l) && l.line == 4, "copied tree keeps places");
        ka_locmap_forget_tree(locs, copy);
        ok(!ka_locmap_get(locs, copy, &l), "forgotten tree has no place");
        cJSON_Delete(copy);
        cJSON_Delete(j);

        /* embedded YAML: places shifted to the outer file */
        cJSON *e = NULL;
        struct ka_yaml_origin o = {.file = "outer.yaml", .line_offset = 10, .col_offset = 4};
        is_int(ka_yaml_parse("a: 1\nb: [", 9, &o, locs, &e, &err), -EBADMSG, "embedded error");
        is_str(err.file, "outer.yaml", "embedded error names the outer file");
        is_int(err.line, 13, "embedded error line shifted");
        ka_locmap_free(locs);
}

static void test_limits(void) {
        /* "billion laughs": each level doubles */
        struct ka_buf b = KA_BUF_INIT(0);
        ka_buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 12; i++)
                ka_buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i,
                              i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        char *got = to_json(b.data);
        like(got, "document too large", "alias bomb refused");
        free(got);
        ka_buf_free(&b);

        for (int i = 0; i < 200; i++)
                ka_buf_putc(&b, '[');
        got = to_json(b.data);
        like(got, "nesting deeper than", "deep nesting refused");
        free(got);
        ka_buf_free(&b);
}

static void roundtrip(const char *yaml, const char *want_yaml, const char *name) {
        struct ka_error err = {0};
        cJSON *j = parse(yaml, NULL, &err);
        struct ka_buf out = KA_BUF_INIT(0);
        ka_yaml_emit(j, &out);
        if (want_yaml)
                is_str(out.data, want_yaml, "emit: %s", name);
        cJSON *back = parse(out.data, NULL, &err);
        ok(back && cJSON_Compare(j, back, true), "emit then parse gives the same tree: %s", name);
        cJSON_Delete(back);
        cJSON_Delete(j);
        ka_buf_free(&out);
}

static void test_emit(void) {
        roundtrip("apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    a: b\nspec:\n  containers:\n  - name: x\n    "
                  "args:\n    - cat\n    env: []\n",
                  "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    a: b\nspec:\n  containers:\n  - name: x\n    "
                  "args:\n    - cat\n    env: []\n",
                  "kubectl layout");
        roundtrip("{a: '0755', b: 'yes', c: '', d: '1.5', e: 'n', f: '~', g: ': x', h: '- a', i: '#c', j: 'a: b'}",
                  "a: \"0755\"\nb: \"yes\"\nc: \"\"\nd: \"1.5\"\ne: \"n\"\nf: \"~\"\ng: \": x\"\nh: \"- a\"\ni: \"#c\"\nj: "
                  "\"a: b\"\n",
                  "strings that would read as other types are quoted");
        roundtrip("{s: \"line1\\nline2\\n\", t: \"no newline\\nend\", u: \"two\\n\\n\"}",
                  "s: |\n  line1\n  line2\nt: |-\n  no newline\n  end\nu: |+\n  two\n\n", "literal blocks");
        roundtrip("{v: \" lead\\nx\", w: \"tab\\tin\", x: \"trail \\nx\"}", NULL, "awkward strings");
        roundtrip("{n: 1.5, m: -3, big: 1e20, z: 0.1}", "\"n\": 1.5\nm: -3\nbig: 1e+20\nz: 0.1\n",
                  "numbers");
        roundtrip("[[1, [2]], {}, {a: {}}]", NULL, "nested sequences");
        roundtrip("{\"-Xmx\": 1, \"key with: colon\": 2}", "-Xmx: 1\n\"key with: colon\": 2\n", "keys");
}

int main(void) {
        ka_mem_init();
        test_scalars();
        test_structure();
        test_locations();
        test_limits();
        test_emit();
        return tap_done();
}
