/*
 * Record sealing and opening: round trips of every JSON type, tamper
 * detection (moved tokens, relabelled classes), selective opening by
 * stage and partner, and the errors that stop unsafe input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keystore_testutil.h"
#include "records_internal.h"
#include "records_test_util.h"
#include "sealflow/envelope.h"
#include "sealflow/records.h"

static const char policy_yaml[] =
    "version: 1\n"
    "classes:\n"
    "  public:\n"
    "    suite: none\n"
    "  internal:\n"
    "    keys: [local:internal-kek]\n"
    "  confidential:\n"
    "    suite: chacha20-poly1305\n"
    "    keys: [local:conf-kek]\n"
    "    readers: [order-service]\n"
    "  restricted:\n"
    "    keys: [local:pii-kek]\n"
    "rules:\n"
    "  - path: $.card\n"
    "    class: restricted\n"
    "  - path: $.bank\n"
    "    class: restricted\n"
    "  - path: $.email\n"
    "    class: confidential\n"
    "  - path: $.x.note\n"
    "    class: confidential\n"
    "  - path: $.items[*].price\n"
    "    class: internal\n"
    "  - path: $.amount\n"
    "    class: internal\n"
    "  - path: $.flags\n"
    "    class: internal\n"
    "  - column: Email\n"
    "    class: confidential\n"
    "  - column: Card\n"
    "    class: restricted\n"
    "default: public\n"
    "stages:\n"
    "  - name: web\n"
    "    sees: [public]\n"
    "  - name: order-service\n"
    "    sees: [internal]\n"
    "  - name: payment\n"
    "    sees: [restricted]\n"
    "partners:\n"
    "  - name: research\n"
    "    recipient: recipient:%s\n"
    "    sees: [confidential]\n";

static int setup(void **state)
{
    return rt_setup(state, policy_yaml);
}

static int teardown(void **state)
{
    return rt_teardown(state);
}

/* Every JSON type comes back exactly: big integers, -0, 1e400, escaped
 * names, any Unicode, whole sealed subtrees. */
static void test_seal_open_round_trips_every_type(void **state)
{
    struct rt *t = *state;
    static const char rec[] =
        "{\"id\":7,\"card\":\"4111111111111111\","
        "\"amount\":123456789012345678901234567890,"
        "\"flags\":[true,false,null,-0,1e400,1E-7,0.5,-12.5e+3],"
        "\"email\":\"\\u00e9l\\u00e8ve@example.com \\ud83d\\ude00\","
        "\"bank\":{\"iban\":\"DE89370400440532013000\",\"n\":[1,{\"x\":null}]},"
        "\"esc\\\"aped\\nkey\":{\"n\":\"line1\\nline2\\u0000\"},"
        "\"x\":{\"note\":\"\\u2028\"},"
        "\"items\":[{\"sku\":\"A\",\"price\":-0},{\"sku\":\"B\","
        "\"price\":9007199254740993}],\"empty\":{},\"none\":null}";
    char *sealed = rt_seal(t, rec, SF_RECORDS_JSONL, SF_OK);
    char *opened;

    /* clear fields stay readable, sealed ones are tokens */
    assert_non_null(strstr(sealed, "\"id\":7"));
    assert_non_null(strstr(sealed, "\"sku\":\"A\""));
    assert_null(strstr(sealed, "4111111111111111"));
    assert_null(strstr(sealed, "DE89370400440532013000"));
    assert_null(strstr(sealed, "123456789012345678901234567890"));
    assert_null(strstr(sealed, "9007199254740993"));
    assert_non_null(strstr(sealed, "\"card\":\"sf1."));
    assert_non_null(strstr(sealed, "\"bank\":\"sf1."));
    assert_non_null(strstr(sealed, "\"_sealflow\":{\"v\":1,\"r\":\""));
    assert_non_null(strstr(sealed, "\"note\":\"sf1."));
    opened = rt_open(t, sealed, SF_RECORDS_JSONL, NULL, 0, false, SF_OK);
    rt_assert_same_json(rec, opened);
    free(sealed);
    free(opened);
}

/* Swapping two tokens of one class inside a record fails: the path is
 * bound. */
static void test_token_moved_between_fields_fails(void **state)
{
    struct rt *t = *state;
    char *sealed = rt_seal(t, "{\"card\":\"1111\",\"bank\":\"2222\"}",
                           SF_RECORDS_JSONL, SF_OK);
    char *card = rt_member(sealed, "card");
    char *bank = rt_member(sealed, "bank");
    char *swapped;

    swapped = rt_replace(sealed, card, "@@CARD@@");
    swapped = rt_replace_free(swapped, bank, card);
    swapped = rt_replace_free(swapped, "@@CARD@@", bank);
    assert_null(rt_open(t, swapped, SF_RECORDS_JSONL, NULL, 0, false,
                        SF_ERR_AUTH));
    assert_non_null(strstr(sf_last_error(), "record 1"));
    assert_non_null(strstr(sf_last_error(), "$[\"card\"]"));
    assert_non_null(strstr(sf_last_error(), "moved"));
    free(card);
    free(bank);
    free(swapped);
    free(sealed);
}

/* A token copied into the same field of another record fails: the record
 * id is bound. */
static void test_token_moved_between_records_fails(void **state)
{
    struct rt *t = *state;
    char *a = rt_seal(t, "{\"card\":\"1111\"}", SF_RECORDS_JSONL, SF_OK);
    char *b = rt_seal(t, "{\"card\":\"2222\"}", SF_RECORDS_JSONL, SF_OK);
    char *ta = rt_member(a, "card");
    char *tb = rt_member(b, "card");
    char *moved = rt_replace(b, tb, ta);

    assert_null(rt_open(t, moved, SF_RECORDS_JSONL, NULL, 0, false,
                        SF_ERR_AUTH));
    free(a);
    free(b);
    free(ta);
    free(tb);
    free(moved);
}

/* Relabelling a class in "_sealflow" (a downgrade to a class a reader may
 * see) is detected: the stanzas bind the class name. */
static void test_class_downgrade_in_metadata_fails(void **state)
{
    struct rt *t = *state;
    static const char *const readers[] = {"order-service"};
    char *sealed = rt_seal(t, "{\"card\":\"4111\"}", SF_RECORDS_JSONL, SF_OK);
    char *down = rt_replace(sealed, "\"n\":\"restricted\"",
                            "\"n\":\"internal\"");

    assert_string_not_equal(sealed, down);
    assert_null(rt_open(t, down, SF_RECORDS_JSONL, readers, 1, false,
                        SF_ERR_AUTH));
    assert_non_null(strstr(sf_last_error(), "do not authenticate"));
    free(sealed);
    free(down);
}

/* Pointing a token at another class entry fails: the class is in the
 * field key and the AAD. */
static void test_token_relabelled_to_other_class_fails(void **state)
{
    struct rt *t = *state;
    char *sealed = rt_seal(t, "{\"amount\":5,\"card\":\"4111\"}",
                           SF_RECORDS_JSONL, SF_OK);
    char *tok = rt_member(sealed, "card");
    char *edited = rt_token_set_slot(tok, 0);  /* slot 0 is internal */
    char *bad = rt_replace(sealed, tok, edited);

    assert_string_not_equal(tok, edited);
    assert_null(rt_open(t, bad, SF_RECORDS_JSONL, NULL, 0, false,
                        SF_ERR_AUTH));
    free(sealed);
    free(tok);
    free(edited);
    free(bad);
}

/* order-service sees internal (sees) and confidential (readers); the
 * restricted card stays a token, and the summary counts it. */
static void test_stage_opens_only_its_classes(void **state)
{
    struct rt *t = *state;
    static const char *const readers[] = {"order-service"};
    struct sf_records_stats st;
    char *sealed = rt_seal(t, "{\"card\":\"4111\",\"email\":\"a@b.c\","
                           "\"amount\":12.50,\"sku\":\"X\"}",
                           SF_RECORDS_JSONL, SF_OK);
    char *opened = rt_open_stats(t, sealed, SF_RECORDS_JSONL, readers, 1,
                                 false, SF_OK, &st);
    struct sf_records_class_stats *r =
        rec_stats_class(&st, "restricted", 10);

    assert_non_null(strstr(opened, "\"email\":\"a@b.c\""));
    assert_non_null(strstr(opened, "\"amount\":12.50"));
    assert_non_null(strstr(opened, "\"card\":\"sf1."));
    assert_non_null(strstr(opened, "\"_sealflow\":"));
    assert_int_equal(st.kept, 1);
    assert_int_equal(r->not_allowed, 1);
    assert_int_equal(rec_stats_class(&st, "internal", 8)->opened, 1);
    /* payment opens the rest of what order-service passed on */
    {
        static const char *const pay[] = {"payment"};
        char *all = rt_open(t, opened, SF_RECORDS_JSONL, pay, 1, true,
                            SF_OK);

        assert_non_null(strstr(all, "\"card\":\"4111\""));
        assert_null(strstr(all, "_sealflow"));
        free(all);
    }
    free(sealed);
    free(opened);
}

/* The partner's X25519 identity opens confidential and nothing else. */
static void test_partner_sees_exactly_its_classes(void **state)
{
    struct rt *t = *state;
    struct sf_records_stats st;
    char *sealed = rt_seal(t, "{\"card\":\"4111\",\"email\":\"a@b.c\","
                           "\"x\":{\"note\":\"n\"},\"amount\":1}",
                           SF_RECORDS_JSONL, SF_OK);
    char *opened = rt_open_partner(t, sealed, &st);

    assert_non_null(strstr(opened, "\"email\":\"a@b.c\""));
    assert_non_null(strstr(opened, "\"note\":\"n\""));
    assert_non_null(strstr(opened, "\"card\":\"sf1."));
    assert_non_null(strstr(opened, "\"amount\":\"sf1."));
    assert_int_equal(st.kept, 2);
    assert_int_equal(rec_stats_class(&st, "confidential", 12)->opened, 2);
    assert_int_equal(rec_stats_class(&st, "restricted", 10)->no_key, 1);
    assert_int_equal(rec_stats_class(&st, "internal", 8)->no_key, 1);
    free(sealed);
    free(opened);
}

static void test_strict_open_fails_on_a_kept_token(void **state)
{
    struct rt *t = *state;
    static const char *const readers[] = {"web"};
    char *sealed = rt_seal(t, "{\"card\":\"4111\"}", SF_RECORDS_JSONL, SF_OK);

    assert_null(rt_open(t, sealed, SF_RECORDS_JSONL, readers, 1, true,
                        SF_ERR_DENIED));
    assert_non_null(strstr(sf_last_error(), "class 'restricted'"));
    free(sealed);
}

static void test_unknown_reader_is_refused(void **state)
{
    struct rt *t = *state;
    static const char *const readers[] = {"nobody"};
    struct sf_records_open_opts o = {SF_RECORDS_JSONL, t->policy, readers,
                                     1, false, 1, NULL};
    struct sf_record_opener *op = NULL;

    assert_int_equal(sf_record_opener_new(&o, &t->ks_id, 1, &op),
                     SF_ERR_POLICY);
    assert_null(op);
    assert_non_null(strstr(sf_last_error(), "nobody"));
}

static void test_records_without_metadata_pass_through(void **state)
{
    struct rt *t = *state;
    static const char in[] = "{\"a\":\"sf1.notatoken\",\"b\":1}\n";
    char *opened = rt_open(t, in, SF_RECORDS_JSONL, NULL, 0, true, SF_OK);

    assert_string_equal(opened, "{\"a\":\"sf1.notatoken\",\"b\":1}\n");
    free(opened);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seal_open_round_trips_every_type,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_moved_between_fields_fails,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_token_moved_between_records_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_class_downgrade_in_metadata_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_token_relabelled_to_other_class_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_opens_only_its_classes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_partner_sees_exactly_its_classes, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_strict_open_fails_on_a_kept_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_reader_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_records_without_metadata_pass_through, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
