#!/usr/bin/env bash
# sealflow CLI: help, version, usage errors, init and keystore location.
. "$(dirname "$0")/cli_common.sh"

# ---- help and version ----
expect 0 "version option prints the version" "$SF" --version
check "version names sealflow" grep -qE '^sealflow [0-9]+\.[0-9]+' \
    "$scratch/out"
expect 0 "version command works" "$SF" version
expect 0 "--help lists every command" "$SF" --help
for c in init keys identity encrypt decrypt rewrap inspect; do
    check "--help lists $c" has "$scratch/out" "  $c"
done
for c in init "keys create" "keys list" "keys show" "keys rotate" \
    "keys config" "keys delete" "keys export-public" "identity generate" \
    encrypt decrypt rewrap inspect; do
    # shellcheck disable=SC2086
    expect 0 "'$c --help' exits 0" "$SF" $c --help
    check "'$c --help' shows usage" has "$scratch/out" "Usage: sealflow $c"
    check "'$c --help' lists exit codes" has "$scratch/out" "Exit codes:"
done
expect 0 "help keys create works" "$SF" help keys create
check "help keys create shows its usage" has "$scratch/out" \
    "Usage: sealflow keys create"
expect 0 "keys --help lists subcommands" "$SF" keys --help
check "keys --help lists export-public" has "$scratch/out" "export-public"
expect 2 "no command is a usage error" "$SF"
expect 2 "unknown command is a usage error" "$SF" frobnicate
check "unknown command named" has "$scratch/err" "unknown command 'frobnicate'"
expect 2 "unknown option is a usage error" "$SF" init --frobnicate
check "unknown option named" has "$scratch/err" "unknown option '--frobnicate'"
expect 2 "missing option value is a usage error" "$SF" keys create \
    --type
expect 2 "help for an unknown command is a usage error" "$SF" help nope
expect 2 "--json where not offered is a usage error" "$SF" keys delete \
    x --json

# ---- reference pages: one per command, each with every section ----
docs="${SF_SOURCE_DIR:-}/docs/cli"
if [ -n "${SF_SOURCE_DIR:-}" ] && [ -d "$docs" ]; then
    for p in sealflow init keys-create keys-list keys-show keys-rotate \
        keys-config keys-delete keys-export-public identity-generate \
        encrypt decrypt rewrap inspect; do
        for section in Synopsis Description "Exit status" Examples Files \
            Environment; do
            check "docs/cli/$p.md has '$section'" grep -qx "## $section" \
                "$docs/$p.md"
        done
    done
    check "docs/cli/exit-codes.md lists code 7" grep -q '^| 7 |' \
        "$docs/exit-codes.md"
    check "the man page exists" test -s "$SF_SOURCE_DIR/docs/man/sealflow.1"
else
    echo "SKIP: reference page checks (SF_SOURCE_DIR not set)"
fi

# ---- init ----
expect 7 "keys list before init needs a keystore" "$SF" keys list
check "missing keystore hints at init" has "$scratch/err" "sealflow init"
expect 0 "init creates a keystore" "$SF" init
check "keystore file exists" test -f "$SEALFLOW_HOME/keystore.db"
check "root key file exists" test -f "$SEALFLOW_HOME/root.key"
check "root key has mode 600" test "$(mode_of "$SEALFLOW_HOME/root.key")" \
    = 600
check "init prints the keystore path" has "$scratch/out" \
    "$SEALFLOW_HOME/keystore.db"
cp "$SEALFLOW_HOME/root.key" "$scratch/root.before"
expect 1 "init refuses to overwrite" "$SF" init
check "refusal says it exists" has "$scratch/err" "already exists"
check "root key untouched by refused init" cmp -s "$scratch/root.before" \
    "$SEALFLOW_HOME/root.key"
expect 0 "keys list works after init" "$SF" keys list

expect 0 "init --json with --keystore" "$SF" init --json \
    --keystore "$scratch/alt/ks.db"
check "init --json names the keystore" test \
    "$(json "$scratch/out" 'j["keystore"]')" = "$scratch/alt/ks.db"
check "init --json names the root key beside it" test \
    "$(json "$scratch/out" 'j["root_key"]')" = "$scratch/alt/root.key"
check "root key beside --keystore exists" test -f "$scratch/alt/root.key"

expect 0 "SEALFLOW_KEYSTORE and SEALFLOW_ROOT_KEY are honoured" env \
    SEALFLOW_KEYSTORE="$scratch/env/ks.db" \
    SEALFLOW_ROOT_KEY="$scratch/env-root/rk" "$SF" init
check "root key at SEALFLOW_ROOT_KEY" test -f "$scratch/env-root/rk"
expect 0 "keystore from env opens" env \
    SEALFLOW_KEYSTORE="$scratch/env/ks.db" \
    SEALFLOW_ROOT_KEY="$scratch/env-root/rk" "$SF" keys list
expect 0 "XDG_DATA_HOME is used without SEALFLOW_HOME" env \
    -u SEALFLOW_HOME XDG_DATA_HOME="$scratch/xdg" "$SF" init
check "keystore under XDG_DATA_HOME/sealflow" test \
    -f "$scratch/xdg/sealflow/keystore.db"
expect 0 "HOME/.local/share/sealflow is the last default" env \
    -u SEALFLOW_HOME -u XDG_DATA_HOME HOME="$scratch/h" "$SF" init
check "keystore under ~/.local/share/sealflow" test \
    -f "$scratch/h/.local/share/sealflow/keystore.db"

# ---- root key problems ----
expect 7 "a wrong root key is a keystore error" "$SF" keys list \
    --root-key "$scratch/alt/root.key"
expect 7 "a missing root key is a keystore error" "$SF" keys list \
    --root-key "$scratch/nope.key"
check "missing root key hint names --root-key" has "$scratch/err" \
    "--root-key"

finish
