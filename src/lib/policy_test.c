#include <dirent.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sealflow/policy.h"
#include "vectors.h"

#define X25519_A "sealflow-x25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

static struct sf_policy *load_ok(const char *yaml)
{
    struct sf_policy *p = NULL;

    if (sf_policy_load_buffer(yaml, strlen(yaml), "t.yaml", &p) != SF_OK) {
        fail_msg("policy refused: %s", sf_last_error());
    }
    return p;
}

/* true when got equals want, or starts with want's text before a final
 * "..." (used where the tail comes from another module's message). */
static bool error_matches(const char *got, const char *want)
{
    size_t n = strlen(want);

    if (n >= 3 && strcmp(want + n - 3, "...") == 0) {
        return strncmp(got, want, n - 3) == 0;
    }
    return strcmp(got, want) == 0;
}

static const char ecommerce[] =
    "version: 1\n"
    "classes:\n"
    "  public:\n"
    "    suite: none\n"
    "  internal:\n"
    "    keys: [local:internal-kek]\n"
    "    dek_scope: {type: shared, max_age: 1h30m, max_records: 100000,\n"
    "                max_bytes: 64M}\n"
    "    rotation: {dek: 1h, kek: 90d}\n"
    "  confidential:\n"
    "    suite: aes-256-gcm\n"
    "    keys: [pii-kek]\n"
    "    require_context: [tenant]\n"
    "    readers: [order-service, notification]\n"
    "  restricted:\n"
    "    suite: chacha20-poly1305\n"
    "    keys:\n"
    "      - local:pci-kek\n"
    "      - kms:payments/pci-kek\n"
    "      - hsm:pci-wrap\n"
    "      - recipient-file:keys/auditor.pub\n"
    "    dek_scope: record\n"
    "    rotation: {kek: 30d}\n"
    "    require_context: [tenant, order_id]\n"
    "    readers: [payment-gateway, acme-shipping]\n"
    "rules:\n"
    "  - path: $.payment.card\n"
    "    class: restricted\n"
    "  - path: $.customer\n"
    "    class: confidential\n"
    "  - column: Email\n"
    "    class: confidential\n"
    "  - tag: pan\n"
    "    class: restricted\n"
    "  - path: $..email\n"
    "    class: confidential\n"
    "  - path: $.items[*].sku\n"
    "    class: public\n"
    "default: internal\n"
    "stages:\n"
    "  - name: web\n"
    "    sees: [public]\n"
    "  - name: order-service\n"
    "    sees: [public, internal]\n"
    "  - name: payment-gateway\n"
    "    sees: [internal]\n"
    "  - name: notification\n"
    "partners:\n"
    "  - name: acme-shipping\n"
    "    recipient: recipient:" X25519_A "\n"
    "    sees: [confidential]\n"
    "  - name: archive\n"
    "    recipient: " X25519_A "\n"
    "    sees: [confidential]\n";

static void test_load_reads_every_class_setting(void **state)
{
    struct sf_policy *p = load_ok(ecommerce);
    const struct sf_policy_class *k;

    (void)state;
    assert_int_equal(sf_policy_class_count(p), 4);
    assert_string_equal(sf_policy_source(p), "t.yaml");
    k = sf_policy_class_at(p, 0);
    assert_string_equal(k->name, "public");
    assert_int_equal(k->suite, SF_POLICY_SUITE_NONE);
    assert_int_equal(k->wrap_key_count, 0);
    assert_int_equal(k->line, 3);
    assert_int_equal(k->column, 3);

    k = sf_policy_class_at(p, 1);
    assert_string_equal(k->name, "internal");
    assert_int_equal(k->suite, SF_POLICY_SUITE_AES256GCM);
    assert_int_equal(k->dek_scope, SF_DEK_SCOPE_SHARED);
    assert_int_equal(k->limits.max_age_s, 5400);
    assert_int_equal(k->limits.max_records, 100000);
    assert_int_equal(k->limits.max_bytes, 64 * 1024 * 1024);
    assert_int_equal(k->dek_rotation_s, 3600);
    assert_int_equal(k->kek_rotation_s, 90 * 86400);
    assert_int_equal(k->require_context_count, 0);

    k = sf_policy_class_at(p, 3);
    assert_string_equal(k->name, "restricted");
    assert_int_equal(k->suite, SF_POLICY_SUITE_CHACHA20POLY1305);
    assert_int_equal(k->dek_scope, SF_DEK_SCOPE_RECORD);
    assert_int_equal(k->limits.max_records, 0);
    assert_int_equal(k->dek_rotation_s, 0);
    assert_int_equal(k->kek_rotation_s, 30 * 86400);
    assert_int_equal(k->require_context_count, 2);
    assert_string_equal(k->require_context[0], "tenant");
    assert_string_equal(k->require_context[1], "order_id");
    assert_int_equal(k->reader_count, 2);
    assert_string_equal(k->readers[1], "acme-shipping");
    assert_null(sf_policy_class_at(p, 4));
    sf_policy_free(p);
}

static void test_load_parses_key_references(void **state)
{
    struct sf_policy *p = load_ok(ecommerce);
    const struct sf_policy_class *k = sf_policy_class_at(p, 3);

    (void)state;
    assert_int_equal(k->key_count, 4);
    assert_int_equal(k->keys[0].kind, SF_KEY_REF_LOCAL);
    assert_string_equal(k->keys[0].value, "pci-kek");
    assert_string_equal(k->keys[0].text, "local:pci-kek");
    assert_int_equal(k->keys[0].line, 18);
    assert_int_equal(k->keys[0].column, 9);
    assert_int_equal(k->keys[1].kind, SF_KEY_REF_KMS);
    assert_string_equal(k->keys[1].value, "payments/pci-kek");
    assert_int_equal(k->keys[2].kind, SF_KEY_REF_HSM);
    assert_string_equal(k->keys[2].value, "pci-wrap");
    assert_int_equal(k->keys[3].kind, SF_KEY_REF_RECIPIENT_FILE);
    assert_string_equal(k->keys[3].value, "keys/auditor.pub");

    k = sf_policy_class_at(p, 2);
    assert_int_equal(k->keys[0].kind, SF_KEY_REF_LOCAL);
    assert_string_equal(k->keys[0].value, "pii-kek");
    assert_string_equal(k->keys[0].text, "pii-kek");
    sf_policy_free(p);
}

static void test_wrap_keys_add_partner_recipients_once(void **state)
{
    struct sf_policy *p = load_ok(ecommerce);
    const struct sf_policy_class *k = sf_policy_class_at(p, 2);

    (void)state;
    /* Both partners see "confidential" and share one key: added once. */
    assert_int_equal(k->wrap_key_count, 2);
    assert_string_equal(k->wrap_keys[0]->text, "pii-kek");
    assert_int_equal(k->wrap_keys[1]->kind, SF_KEY_REF_RECIPIENT);
    assert_string_equal(k->wrap_keys[1]->value, X25519_A);

    /* acme-shipping reads "restricted" through the class's readers. */
    k = sf_policy_class_at(p, 3);
    assert_int_equal(k->wrap_key_count, 5);
    assert_string_equal(k->wrap_keys[4]->value, X25519_A);
    assert_int_equal(sf_policy_class_at(p, 1)->wrap_key_count, 1);
    sf_policy_free(p);
}

static void test_readers_stages_then_partners(void **state)
{
    struct sf_policy *p = load_ok(ecommerce);
    const struct sf_policy_reader *r;

    (void)state;
    assert_int_equal(sf_policy_reader_count(p), 6);
    r = sf_policy_reader_at(p, 1);
    assert_string_equal(r->name, "order-service");
    assert_false(r->is_partner);
    assert_null(r->recipient);
    assert_int_equal(r->see_count, 2);
    assert_int_equal(r->sees[1], 1);
    r = sf_policy_reader_at(p, 3);
    assert_string_equal(r->name, "notification");
    assert_int_equal(r->see_count, 0);
    r = sf_policy_reader_find(p, "acme-shipping");
    assert_non_null(r);
    assert_true(r->is_partner);
    assert_int_equal(r->recipient->kind, SF_KEY_REF_RECIPIENT);
    assert_ptr_equal(r, sf_policy_reader_at(p, 4));
    assert_null(sf_policy_reader_find(p, "nobody"));
    assert_null(sf_policy_reader_at(p, 6));
    sf_policy_free(p);
}

static void test_reader_can_see_joins_readers_and_sees(void **state)
{
    struct sf_policy *p = load_ok(ecommerce);

    (void)state;
    /* public has suite none: everyone, even unknown readers. */
    assert_true(sf_policy_reader_can_see(p, "web", 0));
    assert_true(sf_policy_reader_can_see(p, "stranger", 0));
    /* internal: through the stages' sees lists. */
    assert_true(sf_policy_reader_can_see(p, "order-service", 1));
    assert_true(sf_policy_reader_can_see(p, "payment-gateway", 1));
    assert_false(sf_policy_reader_can_see(p, "web", 1));
    assert_false(sf_policy_reader_can_see(p, "notification", 1));
    /* confidential: the class's readers plus partners' sees. */
    assert_true(sf_policy_reader_can_see(p, "order-service", 2));
    assert_true(sf_policy_reader_can_see(p, "notification", 2));
    assert_true(sf_policy_reader_can_see(p, "acme-shipping", 2));
    assert_false(sf_policy_reader_can_see(p, "payment-gateway", 2));
    /* restricted */
    assert_true(sf_policy_reader_can_see(p, "payment-gateway", 3));
    assert_false(sf_policy_reader_can_see(p, "order-service", 3));
    assert_false(sf_policy_reader_can_see(p, "stranger", 3));
    assert_false(sf_policy_reader_can_see(p, "web", 4));
    sf_policy_free(p);
}

static void test_rules_keep_file_order_and_rank(void **state)
{
    struct sf_policy *p = load_ok(ecommerce);
    const struct sf_policy_rule *r;
    size_t idx = 99;

    (void)state;
    assert_int_equal(sf_policy_rule_count(p), 6);
    r = sf_policy_rule_at(p, 0);
    assert_int_equal(r->kind, SF_RULE_PATH);
    assert_string_equal(r->pattern, "$.payment.card");
    assert_int_equal(r->tier, SF_TIER_EXACT);
    assert_int_equal(r->segments, 2);
    assert_int_equal(r->class_index, 3);
    assert_int_equal(r->line, 27);
    assert_int_equal(r->column, 5);
    /* Ranks: tag, then exact paths by length then order, column, the
     * wildcard path, and last the descendant path. */
    assert_int_equal(sf_policy_rule_at(p, 3)->rank, 0);
    assert_int_equal(sf_policy_rule_at(p, 0)->rank, 1);
    assert_int_equal(sf_policy_rule_at(p, 1)->rank, 2);
    assert_int_equal(sf_policy_rule_at(p, 2)->rank, 3);
    assert_int_equal(sf_policy_rule_at(p, 5)->rank, 4);
    assert_int_equal(sf_policy_rule_at(p, 4)->rank, 5);
    assert_int_equal(sf_policy_rule_at(p, 4)->tier, SF_TIER_DESCENDANT);
    assert_int_equal(sf_policy_rule_at(p, 5)->tier, SF_TIER_WILDCARD);
    assert_int_equal(sf_policy_rule_at(p, 2)->kind, SF_RULE_COLUMN);
    assert_int_equal(sf_policy_rule_at(p, 3)->kind, SF_RULE_TAG);
    assert_int_equal(sf_policy_default_class(p), 1);
    assert_int_equal(sf_policy_class_find(p, "restricted", &idx), SF_OK);
    assert_int_equal(idx, 3);
    assert_int_equal(sf_policy_class_find(p, "secret", &idx), SF_ERR_POLICY);
    assert_string_equal(sf_last_error(), "t.yaml: no class named 'secret'");
    sf_policy_free(p);
}

static void test_suite_names(void **state)
{
    (void)state;
    assert_string_equal(sf_policy_suite_name(SF_POLICY_SUITE_NONE), "none");
    assert_string_equal(sf_policy_suite_name(SF_POLICY_SUITE_AES256GCM),
                        "aes-256-gcm");
    assert_string_equal(
        sf_policy_suite_name(SF_POLICY_SUITE_CHACHA20POLY1305),
        "chacha20-poly1305");
    assert_null(sf_policy_suite_name((enum sf_policy_suite)9));
}

#define HEAD "version: 1\nclasses:\n  internal:\n    keys: [k]\n"

/* Each case: a policy and its exact error. */
struct bad_policy {
    const char *yaml;
    const char *error;
};

static const struct bad_policy bad_policies[] = {
    {"- a\n- b\n", "t.yaml:1:1: the policy must be a mapping, found a list"},
    {"version: '1.0'\n", "t.yaml:1:10: unsupported policy version '1.0'; "
                         "this sealflow reads version 1"},
    {"version: [1]\n", "t.yaml:1:10: version must be text, found a list"},
    {"classes: {}\n", "t.yaml:1:1: missing 'version: 1' at the top of the "
                      "policy"},
    {"version: 1\ndefault: x\n", "t.yaml:1:1: missing 'classes': define "
                                 "the data classes and how each is "
                                 "protected"},
    {"version: 1\nclasses:\n", "t.yaml:2:9: 'classes' must be a mapping, "
                               "found nothing"},
    {"version: 1\nclasses: {}\n", "t.yaml:2:10: 'classes' is empty; "
                                  "define at least one class"},
    {"version: 1\nclasses:\n  x:\n", "t.yaml:3:5: class 'x' needs a "
                                     "profile mapping (suite, keys, ...), "
                                     "found nothing"},
    {HEAD "default: secret\n", "t.yaml:5:10: default names unknown class "
                               "'secret'; define it under 'classes'"},
    {HEAD "default: internl\n", "t.yaml:5:10: default names unknown class "
                                "'internl'; did you mean 'internal'?"},
    {HEAD "    suite: aes-256-ecb\ndefault: internal\n",
     "t.yaml:5:12: suite 'aes-256-ecb' is refused: unauthenticated modes "
     "(CBC, CTR, ECB) allow undetected tampering; use aes-256-gcm or "
     "chacha20-poly1305"},
    {HEAD "    suite: chacha20\ndefault: internal\n",
     "t.yaml:5:12: suite 'chacha20' is refused: unauthenticated modes "
     "(CBC, CTR, ECB) allow undetected tampering; use aes-256-gcm or "
     "chacha20-poly1305"},
    {HEAD "    suite: AES-256-GCM\ndefault: internal\n",
     "t.yaml:5:12: unknown suite 'AES-256-GCM'; did you mean "
     "'aes-256-gcm'?"},
    {HEAD "    suite: serpent\ndefault: internal\n",
     "t.yaml:5:12: unknown suite 'serpent'; expected aes-256-gcm or "
     "chacha20-poly1305"},
    {"version: 1\nclasses:\n  public:\n    suite: rot13\ndefault: public\n",
     "t.yaml:4:12: unknown suite 'rot13'; expected aes-256-gcm or "
     "chacha20-poly1305 or none"},
    {"version: 1\nclasses:\n  public:\n    suite: none\n"
     "    dek_scope: record\ndefault: public\n",
     "t.yaml:5:16: class 'public' has suite none, so its values are never "
     "encrypted; remove 'dek_scope'"},
    {HEAD "    dek_scope: per-record\ndefault: internal\n",
     "t.yaml:5:16: unknown dek_scope 'per-record'; expected record or "
     "shared"},
    {HEAD "    dek_scope: {max_age: 1h}\ndefault: internal\n",
     "t.yaml:5:16: dek_scope needs a 'type' (record or shared)"},
    {HEAD "    dek_scope: {type: shared, max_age: 31d, max_records: 1,"
          " max_bytes: 1}\ndefault: internal\n",
     "t.yaml:5:40: max_age '31d' is above the limit for one shared DEK "
     "(30d)"},
    {HEAD "    dek_scope: {type: shared, max_age: 1h, max_records: 1,"
          " max_bytes: 2T}\ndefault: internal\n",
     "t.yaml:5:71: max_bytes '2T' is above the limit for one shared DEK "
     "(1T)"},
    {HEAD "    dek_scope: {type: shared, max_age: 1h, max_records: 010,"
          " max_bytes: 1}\ndefault: internal\n",
     "t.yaml:5:57: bad max_records '010': expected a whole number without "
     "leading zeros, e.g. 100000"},
    {HEAD "    dek_scope: {type: shared, max_age: 1h, max_records: 0,"
          " max_bytes: 1}\ndefault: internal\n",
     "t.yaml:5:57: max_records must be more than 0"},
    {HEAD "    dek_scope: {type: shared, max_age: 1h, max_records: 5,"
          " max_bytes: 0K}\ndefault: internal\n",
     "t.yaml:5:71: max_bytes must be more than 0"},
    {HEAD "    rotation: {kek: 3600}\ndefault: internal\n",
     "t.yaml:5:21: bad KEK rotation period '3600': expected a number and a "
     "unit (s, m, h, d or w), e.g. 90s, 1h, 30d or 1h30m"},
    {HEAD "    rotation: {kek: 1h, kek: 2h}\ndefault: internal\n",
     "t.yaml:5:25: duplicate key 'kek' in rotation (first at line 5)"},
    {HEAD "    rotation: {kek: 999999999999w}\ndefault: internal\n",
     "t.yaml:5:21: bad KEK rotation period '999999999999w': expected a "
     "number and a unit (s, m, h, d or w), e.g. 90s, 1h, 30d or 1h30m"},
    {HEAD "    rotation: {kek: 5300w}\ndefault: internal\n",
     "t.yaml:5:21: KEK rotation period '5300w' is longer than 100 years"},
    {HEAD "    rotation: 90d\ndefault: internal\n",
     "t.yaml:5:15: rotation must be a mapping, found text"},
    {HEAD "    require_context: [tenant, tenant]\ndefault: internal\n",
     "t.yaml:5:31: 'tenant' is listed twice in require_context"},
    {HEAD "    require_context: [\"order id\"]\ndefault: internal\n",
     "t.yaml:5:23: require_context 'order id' is not a valid name: use "
     "ASCII letters, digits, '-', '_' and '.', starting with a letter or "
     "digit"},
    {HEAD "    readers: [web]\ndefault: internal\n",
     "t.yaml:5:15: reader 'web' is not a stage or partner of this policy; "
     "define it under 'stages' or 'partners'"},
    {HEAD "    readers: web\ndefault: internal\n",
     "t.yaml:5:14: readers must be a list, found text"},
    {"version: 1\nclasses:\n  internal:\n    keys: [k, local:k]\n"
     "default: internal\n",
     "t.yaml:4:15: key 'local:k' is listed twice for class 'internal'"},
    {"version: 1\nclasses:\n  internal:\n    keys: [\"local:\"]\n"
     "default: internal\n",
     "t.yaml:4:12: key reference 'local:' names nothing after the ':'"},
    {"version: 1\nclasses:\n  internal:\n    keys: [local:../up]\n"
     "default: internal\n",
     "t.yaml:4:12: key reference 'local:../up': invalid key name..."},
    {"version: 1\nclasses:\n  internal:\n    keys: [\"recipient:age1x\"]\n"
     "default: internal\n",
     "t.yaml:4:12: recipient 'age1x' is not a valid age recipient (age1 "
     "and 58 bech32 characters)"},
    {"version: 1\nclasses:\n  internal:\n    keys: [\"recipient:ssh-rsa "
     "AAAA\"]\ndefault: internal\n",
     "t.yaml:4:12: unknown recipient form 'ssh-rsa AAAA'; expected "
     "sealflow-x25519:<base64url>, an age1... recipient or a PEM public "
     "key"},
    {"version: 1\nclasses:\n  internal:\n    keys: [[k]]\n"
     "default: internal\n",
     "t.yaml:4:12: a key reference must be text, found a list"},
    {HEAD "default: internal\nrules:\n  - path: $.a\n    class: internal\n"
          "    tag: x\n",
     "t.yaml:9:10: a rule has one of path, column or tag; this one has "
     "'path' and 'tag'"},
    {HEAD "default: internal\nrules:\n  - class: internal\n",
     "t.yaml:7:5: a rule needs a path, column or tag"},
    {HEAD "default: internal\nrules:\n  - $.a\n",
     "t.yaml:7:5: a rule must be a mapping, found text"},
    {HEAD "default: internal\nrules:\n  - {path: $.a, clas: internal}\n",
     "t.yaml:7:17: unknown key 'clas' in a rule; did you mean 'class'?"},
    {HEAD "default: internal\nrules:\n  - {column: '', class: internal}\n",
     "t.yaml:7:14: column is empty"},
    {HEAD "default: internal\nrules:\n  - {column: A, class: internal}\n"
          "  - {column: A, class: internal}\n",
     "t.yaml:8:14: this rule selects the same fields as the rule at line "
     "7; keep one"},
    {HEAD "default: internal\nrules:\n  - {path: $..x, class: internal}\n"
          "  - {path: \"$..['x']\", class: internal}\n",
     "t.yaml:8:12: this rule selects the same fields as the rule at line "
     "7; keep one"},
    {HEAD "default: internal\nrules:\n  - path: '$.a[''b''].'\n"
          "    class: internal\n",
     "t.yaml:7:11: malformed JSON path '$.a['b'].': expected a member "
     "name or '*' after '.', found the end of the path (path character "
     "10)"},
    {HEAD "default: internal\nrules:\n  - path: >-\n      $.a.\n"
          "    class: internal\n",
     "t.yaml:7:11: malformed JSON path '$.a.': expected a member name or "
     "'*' after '.', found the end of the path (path character 5)"},
    {HEAD "default: internal\nstages:\n  - name: web\n    sees: [internal,"
          " internal]\n",
     "t.yaml:8:22: class 'internal' is listed twice in 'sees' of 'web'"},
    {HEAD "default: internal\nstages:\n  - name: web\n    recipient: x\n",
     "t.yaml:8:5: unknown key 'recipient' in stage; expected one of: name, "
     "sees"},
    {HEAD "default: internal\nstages:\n  - sees: [internal]\n",
     "t.yaml:7:5: stage needs a 'name'"},
    {HEAD "default: internal\nstages:\n  - name: web\npartners:\n"
          "  - name: web\n    recipient: " X25519_A "\n",
     "t.yaml:9:11: duplicate reader name 'web': a stage of that name is "
     "defined at line 7"},
    {HEAD "default: internal\npartners:\n  - name: acme\n",
     "t.yaml:7:5: partner 'acme' needs a 'recipient' (the public key its "
     "data is sealed to)"},
    {HEAD "default: internal\nstages: {web: [internal]}\n",
     "t.yaml:6:9: 'stages' must be a list, found a mapping"},
    {HEAD "default: internal\n[a]: b\n",
     "t.yaml:6:1: mapping keys must be text, found a list"},
    {HEAD "default: \"int\\0ernal\"\n",
     "t.yaml:5:10: default contains a NUL character"},
    {HEAD "default: internal\nstages:\n  - name: web\n"
          "    sees: [public]\n",
     "t.yaml:8:12: stage names unknown class 'public'; define it under "
     "'classes'"},
    {"version: 1\nclasses:\n  internal:\n    keys: [k]\n    keys: [j]\n"
     "default: internal\n",
     "t.yaml:5:5: duplicate key 'keys' in class 'internal' (first at line "
     "4)"},
    {"version: 1\n\"classes\\0x\": {}\n",
     "t.yaml:2:1: a key in the policy contains a NUL character"},
    {"version: 1\nversion: 1\n",
     "t.yaml:2:1: duplicate key 'version' in the policy (first at line 1)"},
    {"version: 1\n\xc3\x28", "t.yaml:2:2: not valid UTF-8 text: invalid "
                             "trailing UTF-8 octet at byte 12"},
    {"version: 1\nclasses:\n  internal: {keys: [k]}\ndefault: internal\n"
     "rules: [{tag: \"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaa\", class: internal}]\n",
     "t.yaml:5:15: tag is longer than 128 bytes"},
};

static void test_invalid_policies_name_line_column_and_fix(void **state)
{
    int failed = 0;

    (void)state;
    /* Print every mismatch before failing, so one run shows them all. */
    for (size_t i = 0; i < sizeof bad_policies / sizeof *bad_policies;
         i++) {
        const struct bad_policy *b = &bad_policies[i];
        struct sf_policy *p = NULL;
        sf_status rc = sf_policy_load_buffer(b->yaml, strlen(b->yaml),
                                             "t.yaml", &p);

        if (rc != SF_ERR_POLICY || !error_matches(sf_last_error(),
                                                  b->error) || p != NULL) {
            printf("case %zu:\n%s\ngot  %d %s\nwant %s\n", i, b->yaml, rc,
                   sf_last_error(), b->error);
            failed++;
        }
        sf_policy_free(p);
    }
    assert_int_equal(failed, 0);
}

static void test_loader_limits(void **state)
{
    struct sf_buf big = SF_BUF_INIT;
    struct sf_policy *p = NULL;
    char line[64];

    (void)state;
    /* Too large a buffer is refused before parsing. */
    assert_int_equal(sf_policy_load_buffer("", SF_POLICY_SIZE_MAX + 1u,
                                           "big", &p),
                     SF_ERR_LIMIT);
    assert_string_equal(sf_last_error(), "big: the policy is larger than "
                        "1048576 bytes");

    /* Deep nesting. */
    for (int i = 0; i < 40; i++) {
        assert_int_equal(sf_buf_put_str(&big, "["), SF_OK);
    }
    assert_int_equal(sf_policy_load_buffer((const char *)big.data, big.len,
                                           "deep", &p),
                     SF_ERR_POLICY);
    assert_string_equal(sf_last_error(), "deep:1:33: nesting is deeper than "
                        "32 levels");
    sf_buf_reset(&big);

    /* More classes than allowed. */
    assert_int_equal(sf_buf_put_str(&big, "version: 1\nclasses:\n"), SF_OK);
    for (int i = 0; i <= SF_POLICY_CLASS_MAX; i++) {
        snprintf(line, sizeof line, "  c%d: {keys: [k]}\n", i);
        assert_int_equal(sf_buf_put_str(&big, line), SF_OK);
    }
    assert_int_equal(sf_policy_load_buffer((const char *)big.data, big.len,
                                           "many", &p),
                     SF_ERR_POLICY);
    assert_string_equal(sf_last_error(), "many:3:3: more than 256 classes");
    assert_null(p);
    sf_buf_free(&big);
}

static void test_empty_rules_and_null_display_name(void **state)
{
    static const char yaml[] = HEAD "default: internal\nrules: []\n";
    struct sf_policy *p = NULL;

    (void)state;
    assert_int_equal(sf_policy_load_buffer(yaml, sizeof yaml - 1, NULL, &p),
                     SF_OK);
    assert_string_equal(sf_policy_source(p), "<policy>");
    assert_int_equal(sf_policy_rule_count(p), 0);
    assert_int_equal(sf_policy_reader_count(p), 0);
    sf_policy_free(p);
    assert_int_equal(sf_policy_load_buffer("version: 1\n", 11, NULL, &p),
                     SF_ERR_POLICY);
    assert_string_equal(sf_last_error(), "<policy>:1:1: missing 'classes': "
                        "define the data classes and how each is "
                        "protected");
    assert_int_equal(sf_policy_load_buffer(NULL, 3, NULL, &p),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_policy_load_buffer(yaml, 3, NULL, NULL),
                     SF_ERR_INVALID_ARG);
}

static void test_load_file_reports_missing_file(void **state)
{
    struct sf_policy *p = (struct sf_policy *)1;

    (void)state;
    assert_int_equal(sf_policy_load_file("/nonexistent/p.yaml", &p),
                     SF_ERR_IO);
    assert_null(p);
    assert_string_equal(sf_last_error(), "/nonexistent/p.yaml: cannot open "
                        "the policy: No such file or directory");
}

/* The folder of policy vectors in the source tree, or NULL (after a SKIP
 * line) when the tests run outside CTest. */
static const char *vector_dir(char *buf, size_t len, const char *sub)
{
    const char *src = getenv("SF_SOURCE_DIR");

    if (src == NULL || src[0] == '\0') {
        printf("SKIP: policy vectors (SF_SOURCE_DIR is not set)\n");
        return NULL;
    }
    snprintf(buf, len, "%s/tests/vectors/policy/%s", src, sub);
    return buf;
}

static void test_valid_vectors_load(void **state)
{
    char dir[512];
    char path[1024];
    struct dirent *e;
    DIR *d;
    int count = 0;

    (void)state;
    if (vector_dir(dir, sizeof dir, "valid") == NULL) {
        return;
    }
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        struct sf_policy *p = NULL;

        if (strstr(e->d_name, ".yaml") == NULL) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (sf_policy_load_file(path, &p) != SF_OK) {
            fail_msg("%s: %s", e->d_name, sf_last_error());
        }
        sf_policy_free(p);
        count++;
    }
    closedir(d);
    assert_true(count >= 3);
}

/* Each invalid vector starts with "# error: LINE:COL: message"; loading it
 * under its file name must give exactly that message. */
static void check_invalid_vector(const char *dir, const char *name)
{
    char path[1024];
    char want[1024];
    struct sf_buf text = SF_BUF_INIT;
    struct sf_policy *p = NULL;
    const char *nl;
    sf_status rc;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(vec_read_file(path, &text), SF_OK);
    assert_true(strncmp((const char *)text.data, "# error: ", 9) == 0);
    nl = strchr((const char *)text.data, '\n');
    assert_non_null(nl);
    snprintf(want, sizeof want, "%s:%.*s", name,
             (int)(nl - (const char *)text.data - 9),
             (const char *)text.data + 9);
    rc = sf_policy_load_buffer((const char *)text.data, text.len, name, &p);
    if (rc != SF_ERR_POLICY || !error_matches(sf_last_error(), want)) {
        fail_msg("%s:\ngot  %d %s\nwant %s", name, rc, sf_last_error(),
                 want);
    }
    sf_buf_free(&text);
}

static void test_invalid_vectors_match_their_expected_error(void **state)
{
    char dir[512];
    struct dirent *e;
    DIR *d;
    int count = 0;

    (void)state;
    if (vector_dir(dir, sizeof dir, "invalid") == NULL) {
        return;
    }
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".yaml") != NULL) {
            check_invalid_vector(dir, e->d_name);
            count++;
        }
    }
    closedir(d);
    assert_true(count >= 30);
}

static void test_recipient_file_is_relative_to_policy_file(void **state)
{
    char dir[512];
    char path[1024];
    char want[1100];
    struct sf_policy *p = NULL;
    const struct sf_policy_class *k;

    (void)state;
    if (vector_dir(dir, sizeof dir, "valid") == NULL) {
        return;
    }
    snprintf(path, sizeof path, "%s/healthcare.yaml", dir);
    assert_int_equal(sf_policy_load_file(path, &p), SF_OK);
    k = sf_policy_class_at(p, 3);
    assert_int_equal(k->keys[1].kind, SF_KEY_REF_RECIPIENT_FILE);
    assert_string_equal(k->keys[1].text, "recipient-file:keys/research.pub");
    snprintf(want, sizeof want, "%s/keys/research.pub", dir);
    assert_string_equal(k->keys[1].value, want);
    assert_string_equal(sf_policy_source(p), path);
    sf_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_reads_every_class_setting),
        cmocka_unit_test(test_load_parses_key_references),
        cmocka_unit_test(test_wrap_keys_add_partner_recipients_once),
        cmocka_unit_test(test_readers_stages_then_partners),
        cmocka_unit_test(test_reader_can_see_joins_readers_and_sees),
        cmocka_unit_test(test_rules_keep_file_order_and_rank),
        cmocka_unit_test(test_suite_names),
        cmocka_unit_test(test_invalid_policies_name_line_column_and_fix),
        cmocka_unit_test(test_loader_limits),
        cmocka_unit_test(test_empty_rules_and_null_display_name),
        cmocka_unit_test(test_load_file_reports_missing_file),
        cmocka_unit_test(test_valid_vectors_load),
        cmocka_unit_test(test_invalid_vectors_match_their_expected_error),
        cmocka_unit_test(test_recipient_file_is_relative_to_policy_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
