#!/usr/bin/env bash
# The audit log of sealflowd: what a line holds and never holds, the
# hash chain surviving a restart, tamper detection by "sealflowd audit
# verify" (edited, deleted, reordered, inserted, truncated lines, wrong
# key), and fail-closed behaviour when the log cannot be written.
source "$(dirname "$0")/daemon_common.sh"

LOG="$WORK/logs/audit.log"
mkdir -p "$WORK/logs"
start_dev --audit-log "$LOG" || exit 1
DEV="$WORK/dev"

api POST /v1/transit/keys/audited
api POST /v1/transit/encrypt/audited \
    '{"plaintext":"dG9wLXNlY3JldC1wbGFpbnRleHQ=","context":"dGVuYW50LTQy"}'
ct=$(jq -r .data.ciphertext <<< "$BODY")
api POST /v1/transit/decrypt/audited \
    "{\"ciphertext\":\"$ct\",\"context\":\"dGVuYW50LTQy\"}"
check "decrypt works" dG9wLXNlY3JldC1wbGFpbnRleHQ= \
    "$(jq -r .data.plaintext <<< "$BODY")"
api GET /v1/transit/keys/audited "" "sfs.wrong-token"
check "a bad token is refused" 403 "$STATUS"
accessor=$(curl -s -H "X-Vault-Token: $TOKEN" \
    "$ADDR/v1/auth/token/lookup-self" | jq -r .data.accessor)
stop_daemon

# --- what the lines hold ---------------------------------------------------------
text=$(cat "$LOG")
check "the token never appears" 0 "$(grep -c -- "$TOKEN" "$LOG")"
check "the plaintext never appears" 0 \
    "$(grep -c 'dG9wLXNlY3JldC1wbGFpbnRleHQ' "$LOG")"
check "the context never appears" 0 "$(grep -c 'dGVuYW50LTQy' "$LOG")"
check "the ciphertext never appears" 0 "$(grep -cF -- "${ct#vault:v1:}" \
    "$LOG")"
check_contains "the accessor is logged" "\"accessor\":\"$accessor\"" "$text"
check_contains "the context is HMACed" '"context_hmac":"hmac-sha256:' "$text"
check_contains "the decrypt input is HMACed" '"input_hmac":"hmac-sha256:' \
    "$text"
check_contains "a create is logged before it runs" \
    '"operation":"keys.create","key":"audited","outcome":"started"' "$text"
check_contains "the denied request is logged" '"outcome":"denied"' "$text"
check "the log ends with a close checkpoint" close \
    "$(tail -n 1 "$LOG" | jq -r .reason)"
lines=$(wc -l < "$LOG")

verify() {
    "$DAEMON" audit verify "$1" --root-key "$DEV/root.key" > "$WORK/verify" \
        2>&1
    VSTATUS=$?
    VOUT=$(cat "$WORK/verify")
}

verify "$LOG"
check "the untouched log verifies" 0 "$VSTATUS"
check_contains "verify reports MACs" "MACs verified" "$VOUT"

# --- tampering -----------------------------------------------------------------------
tamper() {
    local name=$1 want_line=$2
    verify "$WORK/t.log"
    check "$name is detected" 1 "$VSTATUS"
    check_contains "$name: reported at line $want_line" "line $want_line:" \
        "$VOUT"
}
sed '2s/"outcome":"started"/"outcome":"ok"/' "$LOG" > "$WORK/t.log"
check "the edit changed line 2" 1 "$(diff "$LOG" "$WORK/t.log" |
    grep -c '^<')"
tamper "an edited line" 3
sed '4d' "$LOG" > "$WORK/t.log"
tamper "a deleted line" 4
awk 'NR == 3 { held = $0; next } NR == 4 { print; print held; next } 1' \
    "$LOG" > "$WORK/t.log"
tamper "reordered lines" 3
sed '3p' "$LOG" > "$WORK/t.log"
tamper "an inserted line" 4
sed '1,2d' "$LOG" > "$WORK/t.log"
tamper "removed first lines" 1
head -c -5 "$LOG" > "$WORK/t.log"
tamper "a cut last line" "$lines"
sed "\$s/\"reason\":\"close\"/\"reason\":\"start\"/" "$LOG" > "$WORK/t.log"
tamper "an edited checkpoint" "$lines"
"$DAEMON" init --keystore "$WORK/other.db" --root-key "$WORK/other.key" \
    > /dev/null
"$DAEMON" audit verify "$LOG" --root-key "$WORK/other.key" > "$WORK/verify"
check "another root key is detected" 1 "$?"
check_contains "at the first checkpoint" "line 1:" "$(cat "$WORK/verify")"
"$DAEMON" audit verify "$LOG" --root-key "$DEV/root.key" --no-key \
    > "$WORK/verify"
check "--no-key checks the chain alone" 0 "$?"
check_contains "--no-key says MACs are unchecked" "NOT verified" \
    "$(cat "$WORK/verify")"

# --- restart: the chain continues in the same file ------------------------------
cat > "$WORK/sealflowd.conf" <<EOF
# a config file pointing at the dev installation
keystore = "$DEV/keystore.db"
root_key = $DEV/root.key
audit_log = $LOG
EOF
start_daemon --config "$WORK/sealflowd.conf" || exit 1
api POST /v1/transit/encrypt/audited '{"plaintext":"aGk="}'
check "a restarted daemon serves the same keys" 200 "$STATUS"
stop_daemon
verify "$LOG"
check "the log verifies across a restart" 0 "$VSTATUS"
check "the restart adds a start checkpoint" 2 \
    "$(grep -c '"reason":"start"' "$LOG")"

# --- fail closed ----------------------------------------------------------------------
LOG2="$WORK/logs2/audit.log"
mkdir -p "$WORK/logs2"
sed -i "s|^audit_log = .*|audit_log = $LOG2|" "$WORK/sealflowd.conf"
start_daemon --config "$WORK/sealflowd.conf" || exit 1
api POST /v1/transit/keys/before
check "a key is created while the log works" 200 "$STATUS"
rm -rf "$WORK/logs2"
api POST /v1/transit/keys/after
check "with the log gone, create is 503" 503 "$STATUS"
check_contains "the 503 says why" "audit log unavailable" "$BODY"
api POST /v1/transit/encrypt/before '{"plaintext":"aGk="}'
check "with the log gone, encrypt is 503" 503 "$STATUS"
check "no ciphertext leaves" null "$(jq -r .data <<< "$BODY")"
api POST /v1/transit/keys/before/rotate
check "with the log gone, rotate is 503" 503 "$STATUS"
mkdir -p "$WORK/logs2"
api GET /v1/transit/keys/after
check "the refused create did nothing" 404 "$STATUS"
api GET /v1/transit/keys/before
check "the refused rotate did nothing" 1 \
    "$(jq -r .data.latest_version <<< "$BODY")"
api GET '/v1/sys/metrics?format=prometheus'
check "audit failures are counted" 3 \
    "$(sed -n 's/^sealflowd_audit_failures_total //p' <<< "$BODY")"
stop_daemon
verify "$LOG2"
check "the new log file verifies on its own" 0 "$VSTATUS"
check "it starts with a file_start checkpoint" "checkpoint true" \
    "$(head -n 1 "$LOG2" | jq -r '"\(.type) \(.file_start)"')"

# --- a log that cannot be written at all: refuse to start -------------------------
if [ -w /dev/full ]; then
    sed -i "s|^audit_log = .*|audit_log = /dev/full|" "$WORK/sealflowd.conf"
    "$DAEMON" --config "$WORK/sealflowd.conf" --listen 127.0.0.1:0 \
        > /dev/null 2> "$WORK/full.err"
    check "a full disk stops the daemon from starting" 1 "$?"
    check_contains "and says so" "audit log" "$(cat "$WORK/full.err")"
else
    echo "SKIP: /dev/full is not writable here"
fi
finish
