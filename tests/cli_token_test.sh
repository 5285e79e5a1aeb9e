#!/usr/bin/env bash
# sealflow token: create (shown once, stored as a hash), list, revoke, the
# rule syntax and its errors, and where the token file lives: beside the
# keystore the CLI resolves, as sealflowd looks for it.
. "$(dirname "$0")/cli_common.sh"

tokens="$SEALFLOW_HOME/keystore.db.tokens"

# ---- before the keystore exists ----
expect 7 "create without a keystore is a keystore problem" "$SF" token \
    create --policy 'a:read'
check "it says to run init" has "$scratch/err" "sealflow init"
expect 7 "list without a keystore is a keystore problem" "$SF" token list
check "no token file was made" test ! -e "$tokens"

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }

# ---- list with no token file ----
expect 0 "list with no token file works" "$SF" token list
check "and prints nothing" test ! -s "$scratch/out"
expect 0 "list --json with no token file" "$SF" token list --json
check "gives an empty array" test "$(json "$scratch/out" 'j["tokens"]')" = "[]"
check "listing does not create the file" test ! -e "$tokens"

# ---- create ----
expect 0 "create with two rules and a display name" "$SF" token create \
    --policy 'orders:encrypt,decrypt' -p 'team/*:read' --display-name ci
check "the token is printed" grep -qE '^token: +sfs\.[A-Za-z0-9_-]{43}$' \
    "$scratch/out"
tok1=$(sed -n 's/^token: *//p' "$scratch/out")
acc1=$(sed -n 's/^accessor: *//p' "$scratch/out")
check "the accessor is 24 hex digits" grep -qE '^[0-9a-f]{24}$' \
    <<< "$acc1"
check "the display name is shown" grep -qE '^display name: +ci$' \
    "$scratch/out"
check "the first rule is shown" grep -qE '^policies: +orders:encrypt,decrypt$' \
    "$scratch/out"
check "the second rule is shown" grep -qE '^ +team/\*:read$' "$scratch/out"
check "it warns the token is shown only once" has "$scratch/err" \
    "shown only this once"
check "it names the token file" has "$scratch/err" "$tokens"
check "the token file is beside the keystore" test -f "$tokens"
check "the token file is mode 600" test "$(mode_of "$tokens")" = 600
check "the token itself is not in the file" not grep -qF -- "$tok1" \
    "$tokens"
sha=$(printf '%s' "$tok1" | sha256sum | cut -d' ' -f1)
check "its SHA-256 is" grep -qF -- "$sha" "$tokens"

expect 0 "create --json" "$SF" token create --json --policy 'a*:*'
check "json has the token" grep -qE '"token": "sfs\.[A-Za-z0-9_-]{43}"' \
    "$scratch/out"
tok2=$(json "$scratch/out" 'j["token"]')
acc2=$(json "$scratch/out" 'j["accessor"]')
check "the default display name is cli" test \
    "$(json "$scratch/out" 'j["display_name"]')" = cli
check "json names the token file" test \
    "$(json "$scratch/out" 'j["tokens_file"]')" = "$tokens"
check "'*' grants every operation" test \
    "$(json "$scratch/out" 'j["policies"][0].count(",")')" = 11
check "two tokens differ" test "$tok1" != "$tok2"
check "json still warns on stderr" has "$scratch/err" "shown only this once"

# ---- rule and name errors change nothing ----
before=$(cat "$tokens")
expect 2 "an unknown operation is a usage error" "$SF" token create \
    --policy 'orders:fly'
check "the accepted operations are listed" has "$scratch/err" \
    "datakey-plaintext"
expect 2 "a rule without ':' is a usage error" "$SF" token create \
    --policy orders
expect 2 "an empty glob is a usage error" "$SF" token create --policy \
    ':read'
expect 2 "no --policy is a usage error" "$SF" token create
expect 2 "a display name with a space is a usage error" "$SF" token \
    create --policy 'a:read' --display-name 'two words'
many=()
for i in $(seq 33); do many+=(--policy "k$i:read"); done
expect 2 "33 rules are too many" "$SF" token create "${many[@]}"
expect 2 "create takes no argument" "$SF" token create --policy a:read x
check "failed creates wrote nothing" test "$(cat "$tokens")" = "$before"

# ---- list ----
expect 0 "list works" "$SF" token list
row="^$acc1 +ci +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +"
check "list shows the first accessor with its name" grep -qE \
    "${row}orders:encrypt,decrypt team/\\*:read\$" "$scratch/out"
check "list shows the second accessor" grep -qF -- "$acc2" "$scratch/out"
check "list never shows a token" not grep -qF -- "sfs." "$scratch/out"
expect 0 "list --json works" "$SF" token list --json
check "list --json has two tokens" test \
    "$(json "$scratch/out" 'len(j["tokens"])')" = 2
check "list --json has the rules" test \
    "$(json "$scratch/out" '[t for t in j["tokens"]
        if t["accessor"] == "'"$acc1"'"][0]["policies"]')" = \
    '["orders:encrypt,decrypt", "team/*:read"]'

# ---- sealflowd reads the same file ----
if [ -x "${SF_DAEMON:-}" ]; then
    run "$SF_DAEMON" token list --keystore "$SEALFLOW_HOME/keystore.db" \
        --root-key "$SEALFLOW_HOME/root.key"
    check "sealflowd lists the CLI's tokens" grep -qF -- "$acc1" \
        "$scratch/out"
else
    echo "SKIP: sealflowd interop (SF_DAEMON not set)"
fi

# ---- the keystore path decides the token file ----
mkdir -p "$scratch/other"
expect 0 "init of a second keystore" "$SF" --keystore \
    "$scratch/other/ks.db" init
expect 0 "create for the keystore named by SEALFLOW_KEYSTORE" env \
    SEALFLOW_KEYSTORE="$scratch/other/ks.db" "$SF" token create -p 'x:read'
check "its token file is <keystore>.tokens" test -f \
    "$scratch/other/ks.db.tokens"
expect 0 "create with --tokens-file" "$SF" token create -p 'y:read' \
    --tokens-file "$scratch/custom.tokens"
check "--tokens-file is used" test -f "$scratch/custom.tokens"
expect 0 "list of the default file" "$SF" token list --json
check "the default file still holds two tokens" test \
    "$(json "$scratch/out" 'len(j["tokens"])')" = 2

# ---- revoke ----
expect 0 "revoke works" "$SF" token revoke "$acc1"
check "revoke says so" has "$scratch/err" "revoked token $acc1"
expect 0 "list after revoke" "$SF" token list --json
check "one token is left" test \
    "$(json "$scratch/out" '[t["accessor"] for t in j["tokens"]]')" = \
    "[\"$acc2\"]"
check "the revoked hash is gone from the file" not grep -qF -- "$sha" \
    "$tokens"
expect 5 "revoking it again is not found" "$SF" token revoke "$acc1"
check "with a pointer to the list" has "$scratch/err" "sealflow token list"
expect 2 "a malformed accessor is a usage error" "$SF" token revoke \
    not-an-accessor
expect 2 "revoke without ACCESSOR is a usage error" "$SF" token revoke
expect 5 "revoke with no token file is not found" "$SF" token revoke \
    "$acc1" --tokens-file "$scratch/none.tokens"
check "and creates no file" test ! -e "$scratch/none.tokens"

# ---- help ----
expect 0 "token create --help" "$SF" token create --help
check "the help explains the rule syntax" has "$scratch/out" "GLOB:OP"
expect 0 "help token create" "$SF" help token create
expect 2 "an unknown token command is a usage error" "$SF" token frob

finish
