#!/usr/bin/env bash
# sealflow audit verify against a log written by a real sealflowd: the
# service runs on 127.0.0.1 (port 0) over the CLI's keystore with a token
# made by 'sealflow token create'; after it stops, the log verifies, and
# an edited, a deleted and two swapped lines are each detected (exit 4),
# as are a wrong root key, a malformed line (3) and a missing file (6).
. "$(dirname "$0")/cli_common.sh"

DAEMON=${SF_DAEMON:-}
if [ -z "$DAEMON" ] || [ ! -x "$DAEMON" ]; then
    echo "SKIP: sealflowd end-to-end audit checks (SF_DAEMON not set)"
    finish
    exit $?
fi
daemon_pid=""
stop_daemon() {
    if [ -n "$daemon_pid" ]; then
        kill -TERM "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
        daemon_status=$?
        daemon_pid=""
    fi
}
trap 'stop_daemon; rm -rf "$scratch"' EXIT

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
ks="$SEALFLOW_HOME/keystore.db"
log="$scratch/audit.log"

run "$SF" token create --json --display-name audit-test \
    --policy 'orders:create,read,encrypt,decrypt'
token=$(json "$scratch/out" 'j["token"]')
accessor=$(json "$scratch/out" 'j["accessor"]')
check "a token was created" grep -qE '^sfs\.' <<< "$token"

# ---- a real service writes the log ----
"$DAEMON" serve --keystore "$ks" --root-key "$SEALFLOW_HOME/root.key" \
    --audit-log "$log" --listen 127.0.0.1:0 >"$scratch/d.out" \
    2>"$scratch/d.err" &
daemon_pid=$!
addr=""
for _ in $(seq 1 100); do
    addr=$(sed -n 's/^Address: *//p' "$scratch/d.out" | head -n 1)
    [ -n "$addr" ] && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
check "sealflowd listens on 127.0.0.1" grep -qE '^http://127\.0\.0\.1:[0-9]+$' \
    <<< "$addr"
[ -n "$addr" ] || { cat "$scratch/d.err"; finish; exit 1; }

# call METHOD PATH [BODY]: sets status and body, with the CLI's token.
call() {
    status=$(curl -s -o "$scratch/resp" -w '%{http_code}' -X "$1" \
        -H "X-Vault-Token: $token" ${3:+--data-binary "$3"} "$addr$2")
    body=$(cat "$scratch/resp")
}
call POST /v1/transit/keys/orders
check "the token creates its key" test "$status" = 200
call POST /v1/transit/encrypt/orders '{"plaintext":"c2VjcmV0IGRhdGE="}'
check "encrypt works" test "$status" = 200
ct=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]
    ["ciphertext"])' <<< "$body")
call POST /v1/transit/decrypt/orders "{\"ciphertext\":\"$ct\"}"
check "decrypt works" test "$status" = 200
call GET /v1/transit/keys/orders
check "read works" test "$status" = 200
call POST /v1/transit/keys/payroll
check "a key outside the rules is denied" test "$status" = 403
stop_daemon
check "sealflowd stops cleanly" test "$daemon_status" -eq 0

lines=$(wc -l < "$log")
check "the log has lines" test "$lines" -ge 8
check "the token is never in the log" not grep -qF -- "$token" "$log"
check "its accessor is" grep -qF -- "\"accessor\":\"$accessor\"" "$log"

# ---- the intact log ----
expect 0 "the log verifies" "$SF" audit verify "$log"
check "it says intact" grep -qE '^result: +intact$' "$scratch/out"
check "it counts every line" grep -qE "^lines: +$lines\$" "$scratch/out"
check "it gives the sequence" grep -qE "^sequence: +1 to $lines\$" \
    "$scratch/out"
check "it counts the checkpoints" grep -qE '^checkpoints: +2$' \
    "$scratch/out"
check "the MACs were verified" grep -qE '^MACs: +verified$' "$scratch/out"
check "no warning for a sealed log" not has "$scratch/err" "warning"
expect 0 "verify --json" "$SF" audit verify --json "$log"
check "json: intact" test "$(json "$scratch/out" 'j["intact"]')" = true
check "json: lines, first and last seq" test \
    "$(json "$scratch/out" '"%d %d %d" % (j["lines"], j["first_seq"],
        j["last_seq"])')" = "$lines 1 $lines"
check "json: nothing unsealed, no bad line" test \
    "$(json "$scratch/out" '[j["unsealed_tail"], j["bad_line"]]')" = "[0, null]"

# tampered NAME LINE: the copy t.log must fail with exit 4 at LINE.
tampered() {
    local name=$1 at=$2
    expect 4 "$name is detected" "$SF" audit verify "$scratch/t.log"
    check "$name: reported at line $at" grep -qE \
        "^result: +tampered at line $at\$" "$scratch/out"
    check "$name: stderr names the line" has "$scratch/err" "line $at:"
}

# ---- an edited line ----
sed '3s/"outcome":"ok"/"outcome":"denied"/' "$log" >"$scratch/t.log"
check "the edit changed line 3" test "$(cmp "$log" "$scratch/t.log" |
    sed -n 's/.* line \([0-9]*\)$/\1/p')" = 3
tampered "an edited line" 4
expect 4 "an edited line, in json" "$SF" audit verify --json \
    "$scratch/t.log"
check "json: tampered at line 4" test \
    "$(json "$scratch/out" '"%s %s %d" % (j["intact"], j["result"],
        j["bad_line"])')" = "False tampered 4"
check "json: the problem is named" has "$scratch/out" \
    "prev is not the hash of the line before it"

# ---- a deleted line ----
sed '4d' "$log" >"$scratch/t.log"
tampered "a deleted line" 4

# ---- two swapped lines ----
awk 'NR == 3 { held = $0; next } NR == 4 { print; print held; next } 1' \
    "$log" >"$scratch/t.log"
check "the swap kept every line" test "$(sort "$log" | md5sum)" = \
    "$(sort "$scratch/t.log" | md5sum)"
tampered "swapped lines" 3

# ---- an edited checkpoint: its MAC fails ----
sed '$s/"reason":"close"/"reason":"periodic"/' "$log" >"$scratch/t.log"
tampered "an edited checkpoint" "$lines"
check "the MAC is named" has "$scratch/err" "MAC does not match"

# ---- another root key ----
mkdir -p "$scratch/other"
"$SF" --keystore "$scratch/other/ks.db" init >/dev/null 2>&1
expect 4 "another root key is detected" "$SF" audit verify --root-key \
    "$scratch/other/root.key" "$log"
check "at the first checkpoint" grep -qE '^result: +tampered at line 1$' \
    "$scratch/out"
expect 7 "a missing root key is a keystore problem" "$SF" audit verify \
    --root-key "$scratch/none.key" "$log"

# ---- what verification cannot vouch for, and bad input ----
head -n 3 "$log" >"$scratch/t.log"
expect 0 "a log cut after a request still verifies" "$SF" audit verify \
    "$scratch/t.log"
check "but the unsealed tail is warned about" has "$scratch/err" \
    "the last 2 lines follow the last checkpoint"
{ cat "$log"; echo 'not json'; } >"$scratch/t.log"
expect 3 "a line that is not JSON is malformed" "$SF" audit verify \
    "$scratch/t.log"
check "malformed names its line" grep -qE \
    "^result: +malformed at line $((lines + 1))\$" "$scratch/out"
head -c -5 "$log" >"$scratch/t.log"
expect 3 "a cut last line is malformed" "$SF" audit verify "$scratch/t.log"
expect 6 "a missing file is an I/O error" "$SF" audit verify \
    "$scratch/none.log"
expect 2 "verify without FILE is a usage error" "$SF" audit verify
expect 0 "audit verify --help" "$SF" audit verify --help

finish
