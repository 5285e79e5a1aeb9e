#!/usr/bin/env bash
# sealflow CLI with a key service (sealflowd in dev mode on loopback):
# encrypt -k kms:NAME wraps the data key through the service and decrypt
# opens it there; rotation shows in the stanza version; the address and
# token come from --addr/--token-file, SEALFLOW_* or VAULT_*, never from a
# token on the command line; a token without decrypt, an unknown key and
# a stopped service fail with their documented exit codes and no output;
# no token ever shows in a message.
. "$(dirname "$0")/cli_common.sh"

DAEMON=${SF_DAEMON:-}
if [ -z "$DAEMON" ] || [ ! -x "$DAEMON" ]; then
    echo "FAIL: SF_DAEMON must name the sealflowd binary (got '$DAEMON')"
    exit 1
fi
PY=/usr/bin/python3
unset SEALFLOW_ADDR SEALFLOW_TOKEN SEALFLOW_CACERT SEALFLOW_NAMESPACE
unset VAULT_ADDR VAULT_TOKEN VAULT_CACERT VAULT_NAMESPACE

DEV="$scratch/dev"
DPID=""
ADDR=""
ROOT=""

stop_daemon() {
    if [ -n "$DPID" ]; then
        kill -TERM "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
        DPID=""
    fi
}
trap 'stop_daemon; rm -rf "$scratch"' EXIT

# start_daemon: sealflowd --dev on 127.0.0.1, a port the system picks;
# sets ADDR, ROOT (the root token) and DPID once sys/health answers.
start_daemon() {
    local i
    "$DAEMON" --dev --dev-dir "$DEV" --listen 127.0.0.1:0 --log-level warn \
        >"$scratch/d.out" 2>"$scratch/d.err" &
    DPID=$!
    for i in $(seq 1 100); do
        ADDR=$(sed -n 's/^Address: *//p' "$scratch/d.out")
        [ -n "$ADDR" ] && break
        kill -0 "$DPID" 2>/dev/null || break
        sleep 0.1
    done
    ROOT=$(sed -n 's/^Root Token: *//p' "$scratch/d.out")
    for i in $(seq 1 50); do
        curl -s -o /dev/null -f "$ADDR/v1/sys/health" && return 0
        sleep 0.1
    done
    echo "FAIL sealflowd did not start:"
    sed 's/^/    | /' "$scratch/d.err"
    return 1
}

# api METHOD PATH [BODY] [TOKEN]: sets STATUS; the answer is in $scratch/api
api() {
    local args=(-s -o "$scratch/api" -w '%{http_code}' -X "$1"
        -H "X-Vault-Token: ${4:-$ROOT}")
    [ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json'
        --data-binary "$3")
    STATUS=$(curl "${args[@]}" "$ADDR$2")
}

# jget FILE EXPR: EXPR (Python) over the JSON in FILE as j
jget() {
    "$PY" -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

# new_token NAME RULE: prints a new token with one policy rule, once the
# running daemon (told by SIGHUP) accepts it
new_token() {
    local out tok i code
    out=$("$DAEMON" token create --keystore "$DEV/keystore.db" \
        --root-key "$DEV/root.key" --name "$1" --policy "$2") || return 1
    tok=$(sed -n 's/^Token: *//p' <<<"$out")
    kill -HUP "$DPID"
    for i in $(seq 1 50); do
        code=$(curl -s -o /dev/null -w '%{http_code}' \
            -H "X-Vault-Token: $tok" "$ADDR/v1/auth/token/lookup-self")
        [ "$code" = 200 ] && break
        sleep 0.1
    done
    echo "$tok"
}

# every message printed, to check that no token ever shows
keep_err() {
    cat "$scratch/err" >>"$scratch/all-err"
}

# stanza FILE N: "key_id type_id version" of stanza N, from inspect --json
stanza() {
    "$SF" inspect --json "$1" >"$scratch/insp.json" 2>/dev/null
    jget "$scratch/insp.json" "' '.join(str(j['stanzas'][$2][k]) for k in
        ('key_id', 'type_id', 'version'))"
}

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
"$SF" keys create local >/dev/null 2>&1 || { echo "FAIL create"; exit 1; }
start_daemon || exit 1
printf 'orders for the key service\n' >"$scratch/plain"
head -c 200000 /dev/urandom >"$scratch/big"
api POST /v1/transit/keys/orders
check "the transit key is created" test "$STATUS" = 200 -o "$STATUS" = 204
: >"$scratch/all-err"

# ---- seal through the service, from SEALFLOW_ADDR / SEALFLOW_TOKEN ----
export SEALFLOW_ADDR="$ADDR" SEALFLOW_TOKEN="$ROOT"
expect 0 "encrypt -k kms:orders -k local" "$SF" encrypt -k kms:orders \
    -k local -o "$scratch/both.sf" "$scratch/plain"
keep_err
check "stanza 1 is kms:orders (type 4) version 1" test \
    "$(stanza "$scratch/both.sf" 0)" = "kms:orders 4 1"
check "stanza 2 is the local key" test \
    "$(stanza "$scratch/both.sf" 1)" = "local 1 1"
"$SF" inspect "$scratch/both.sf" >"$scratch/insp.txt" 2>&1
check "inspect names kms:orders version 1" grep -Eq \
    'kms:orders +version 1$' "$scratch/insp.txt"
expect 0 "encrypt to kms:orders alone" "$SF" encrypt -k kms:orders \
    -o "$scratch/kms.sf" "$scratch/big"
keep_err
expect 0 "decrypt through the service, no keystore" "$SF" decrypt \
    --keystore "$scratch/none.db" -o "$scratch/kms.out" "$scratch/kms.sf"
keep_err
check "the service round trip is identical" cmp -s "$scratch/big" \
    "$scratch/kms.out"
check "the service logged the decrypt" grep -q \
    '"operation":"decrypt".*"key":"orders"' "$DEV/audit.log"
expect 0 "decrypt the mixed file" "$SF" decrypt -o "$scratch/both.out" \
    "$scratch/both.sf"
check "the mixed round trip is identical" cmp -s "$scratch/plain" \
    "$scratch/both.out"
"$SF" encrypt -k kms:orders <"$scratch/plain" 2>>"$scratch/all-err" |
    "$SF" decrypt --keystore "$scratch/none.db" >"$scratch/pipe.out" \
        2>>"$scratch/all-err"
check "a pipe through the service round-trips" cmp -s "$scratch/plain" \
    "$scratch/pipe.out"

# ---- rotation: new data gets the new version, old data still opens ----
api POST /v1/transit/keys/orders/rotate
check "rotate answers 200" test "$STATUS" = 200
check "the key is at version 2" test \
    "$(jget "$scratch/api" "j['data']['latest_version']")" = 2
expect 0 "encrypt after the rotation" "$SF" encrypt -k kms:orders \
    -o "$scratch/v2.sf" "$scratch/plain"
check "the new stanza has version 2" test \
    "$(stanza "$scratch/v2.sf" 0)" = "kms:orders 4 2"
expect 0 "version 2 decrypts" "$SF" decrypt --keystore "$scratch/none.db" \
    -o "$scratch/v2.out" "$scratch/v2.sf"
check "version 2 round trip" cmp -s "$scratch/plain" "$scratch/v2.out"
expect 0 "version 1 still decrypts" "$SF" decrypt \
    --keystore "$scratch/none.db" -o "$scratch/v1.out" "$scratch/kms.sf"
check "version 1 round trip" cmp -s "$scratch/big" "$scratch/v1.out"

# a version the service retired: HTTP 400 naming the minimum, which the
# remote keyring reads as a retired version (exit 5, as for the keystore)
api POST /v1/transit/keys/orders/config '{"min_decryption_version":2}'
check "min_decryption_version raised to 2" test "$STATUS" = 200
expect 5 "a retired kms: version fails" "$SF" decrypt \
    --keystore "$scratch/none.db" -o "$scratch/old.out" "$scratch/kms.sf"
check "the service's reason is shown" has "$scratch/err" \
    "below min_decryption_version 2"
check "a retired version leaves no output" test ! -e "$scratch/old.out"
api POST /v1/transit/keys/orders/config '{"min_decryption_version":1}'
expect 0 "lowered again, version 1 opens" "$SF" decrypt \
    --keystore "$scratch/none.db" -o "$scratch/old.out" "$scratch/kms.sf"

# ---- --addr and --token-file; no token on the command line ----
unset SEALFLOW_ADDR SEALFLOW_TOKEN
(umask 077 && printf '%s\n' "$ROOT" >"$scratch/token")
expect 0 "encrypt with --addr and --token-file" "$SF" encrypt \
    -k kms:orders --addr "$ADDR" --token-file "$scratch/token" \
    -o "$scratch/opt.sf" "$scratch/plain"
expect 0 "decrypt with --addr and --token-file" "$SF" decrypt \
    --keystore "$scratch/none.db" --addr "$ADDR" \
    --token-file "$scratch/token" -o "$scratch/opt.out" "$scratch/opt.sf"
check "the options round trip" cmp -s "$scratch/plain" "$scratch/opt.out"
SEALFLOW_TOKEN=$ROOT run "$SF" encrypt -k kms:orders --addr "$ADDR" \
    -o "$scratch/mix.sf" "$scratch/plain"
check "--addr goes with a token from the environment" test "$rc" -eq 0
expect 2 "a token on the command line is refused" "$SF" encrypt \
    -k kms:orders --addr "$ADDR" --token "$ROOT" -o "$scratch/tok.sf" \
    "$scratch/plain"
keep_err
check "the refusal says why" has "$scratch/err" "process list"
expect 2 "--token=VALUE is refused too" "$SF" decrypt --addr "$ADDR" \
    "--token=$ROOT" -o "$scratch/tok.out" "$scratch/kms.sf"
keep_err
check "the refused token made no output" test ! -e "$scratch/tok.sf" -a \
    ! -e "$scratch/tok.out"
expect 2 "a kms: key without an address is refused" "$SF" encrypt \
    -k kms:orders -o "$scratch/noaddr.sf" "$scratch/plain"
check "the message names SEALFLOW_ADDR" has "$scratch/err" SEALFLOW_ADDR
expect 2 "an address without a token is refused" "$SF" encrypt \
    -k kms:orders --addr "$ADDR" -o "$scratch/noaddr.sf" "$scratch/plain"
check "the message names SEALFLOW_TOKEN" has "$scratch/err" SEALFLOW_TOKEN
check "no output without a service" test ! -e "$scratch/noaddr.sf"
: >"$scratch/empty-token"
expect 3 "an empty token file is bad input" "$SF" encrypt -k kms:orders \
    --addr "$ADDR" --token-file "$scratch/empty-token" \
    -o "$scratch/noaddr.sf" "$scratch/plain"
expect 6 "a missing token file is an I/O error" "$SF" encrypt \
    -k kms:orders --addr "$ADDR" --token-file "$scratch/no-such-file" \
    -o "$scratch/noaddr.sf" "$scratch/plain"
expect 5 "decrypt of a kms-only file without a service: no key" "$SF" \
    decrypt --keystore "$scratch/none.db" -o "$scratch/nos.out" \
    "$scratch/kms.sf"
check "the hint names SEALFLOW_ADDR" has "$scratch/err" \
    "set SEALFLOW_ADDR and SEALFLOW_TOKEN"
expect 0 "the mixed file opens with the keystore alone" "$SF" decrypt \
    -o "$scratch/both2.out" "$scratch/both.sf"
expect 2 "an address with credentials is refused" "$SF" encrypt \
    --addr "http://user:pw-secret@127.0.0.1:1" --token-file "$scratch/token" \
    -k kms:orders -o "$scratch/cred.sf" "$scratch/plain"
check "the refused address is not echoed" not has "$scratch/err" pw-secret
expect 3 "a bad kms: key name is bad input" "$SF" encrypt --addr "$ADDR" \
    --token-file "$scratch/token" -k "kms:a b" -o "$scratch/bad.sf" \
    "$scratch/plain"

# ---- refusals by the service: denied, unknown key, bad token ----
ENC_ONLY=$(new_token enc-only 'orders:encrypt')
check "an encrypt-only token was made" test -n "$ENC_ONLY"
export SEALFLOW_ADDR="$ADDR" SEALFLOW_TOKEN="$ENC_ONLY"
expect 0 "the encrypt-only token may encrypt" "$SF" encrypt -k kms:orders \
    -o "$scratch/eo.sf" "$scratch/plain"
expect 5 "decrypt without decrypt permission: exit 5" "$SF" decrypt \
    --keystore "$scratch/none.db" -o "$scratch/denied.out" "$scratch/eo.sf"
keep_err
check "the denial names the status" has "$scratch/err" \
    "HTTP 403: permission denied"
check "the denial names the key" has "$scratch/err" '"orders"'
check "the denial has a hint" has "$scratch/err" "hint: the service refused"
check "a denied decrypt leaves no output" test ! -e "$scratch/denied.out"
check "and no temporary file" no_temp_files "$scratch"
expect 0 "a denied service does not stop the keystore" "$SF" decrypt \
    -o "$scratch/both3.out" "$scratch/both.sf"
ANY=$(new_token any-key '*:encrypt,decrypt')
SEALFLOW_TOKEN=$ANY run "$SF" encrypt -k kms:missing \
    -o "$scratch/missing.sf" "$scratch/plain"
check "encrypt to a key the service lacks: exit 5" test "$rc" -eq 5
keep_err
check "the unknown key is named" has "$scratch/err" "not found"
check "an unknown key leaves no output" test ! -e "$scratch/missing.sf"
SEALFLOW_TOKEN=sfs.not-a-real-token run "$SF" encrypt -k kms:orders \
    -o "$scratch/badtok.sf" "$scratch/plain"
keep_err
check "a token the service does not know: exit 5" test "$rc" -eq 5
check "a bad token leaves no output" test ! -e "$scratch/badtok.sf"
OTHER=$(new_token other 'other-*:encrypt,decrypt')
SEALFLOW_TOKEN=$OTHER run "$SF" encrypt -k kms:orders \
    -o "$scratch/other.sf" "$scratch/plain"
keep_err
check "a token for other keys is denied on encrypt: exit 5" test "$rc" -eq 5

# ---- VAULT_ADDR / VAULT_TOKEN, and SEALFLOW_* taking precedence ----
unset SEALFLOW_ADDR SEALFLOW_TOKEN
export VAULT_ADDR="$ADDR" VAULT_TOKEN="$ROOT"
expect 0 "encrypt with VAULT_ADDR and VAULT_TOKEN" "$SF" encrypt \
    -k kms:orders -o "$scratch/vault.sf" "$scratch/plain"
expect 0 "decrypt with VAULT_ADDR and VAULT_TOKEN" "$SF" decrypt \
    --keystore "$scratch/none.db" -o "$scratch/vault.out" "$scratch/vault.sf"
check "the VAULT_* round trip" cmp -s "$scratch/plain" "$scratch/vault.out"
VAULT_ADDR=http://127.0.0.1:1 SEALFLOW_ADDR=$ADDR run "$SF" encrypt \
    -k kms:orders -o "$scratch/prec.sf" "$scratch/plain"
check "SEALFLOW_ADDR wins over VAULT_ADDR" test "$rc" -eq 0
SEALFLOW_TOKEN=$ENC_ONLY run "$SF" decrypt --keystore "$scratch/none.db" \
    -o "$scratch/prec.out" "$scratch/vault.sf"
keep_err
check "SEALFLOW_TOKEN wins over VAULT_TOKEN" test "$rc" -eq 5
unset VAULT_ADDR VAULT_TOKEN

# ---- the service is down: fail fast, no output, keystore still works ----
export SEALFLOW_ADDR="$ADDR" SEALFLOW_TOKEN="$ROOT"
stop_daemon
t0=$(date +%s%N)
expect 6 "encrypt with the service down: exit 6" "$SF" encrypt \
    -k kms:orders -o "$scratch/down.sf" "$scratch/plain"
t1=$(date +%s%N)
keep_err
check "it fails within 5 s" test $(((t1 - t0) / 1000000)) -lt 5000
check "the message says unreachable" has "$scratch/err" "unreachable"
check "the message names the address" has "$scratch/err" "$ADDR"
check "the hint asks whether the service runs" has "$scratch/err" \
    "is the key service running?"
check "no output while the service is down" test ! -e "$scratch/down.sf"
check "no temporary file while the service is down" no_temp_files \
    "$scratch"
expect 6 "decrypt of a kms-only file with the service down: exit 6" \
    "$SF" decrypt --keystore "$scratch/none.db" -o "$scratch/down.out" \
    "$scratch/kms.sf"
keep_err
check "no plaintext while the service is down" test ! -e "$scratch/down.out"
expect 0 "the mixed file still opens with the keystore" "$SF" decrypt \
    -o "$scratch/down2.out" "$scratch/both.sf"
check "and its plaintext is right" cmp -s "$scratch/plain" \
    "$scratch/down2.out"

# ---- no message ever showed a token ----
for t in "$ROOT" "$ENC_ONLY" "$OTHER" "$ANY"; do
    check "no message holds a token (${t:0:8}...)" not grep -qF -- \
        "${t#sfs.}" "$scratch/all-err"
done
check "messages were collected" test -s "$scratch/all-err"
finish
