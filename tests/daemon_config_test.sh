#!/usr/bin/env bash
# sealflowd set-up: init, the config file and its errors, flags over the
# file, the mount name, refusing plain HTTP off loopback, TLS, dev mode
# cleaning up after itself, and the command-line surface.
source "$(dirname "$0")/daemon_common.sh"

CONF="$WORK/sealflowd.conf"
cat > "$CONF" <<EOF
# sealflowd test configuration
keystore = $WORK/ks/keystore.db
root_key = "$WORK/ks/root.key"
audit_log = $WORK/ks/audit.log
log_level = warn
EOF
mkdir -p "$WORK/ks"

# --- init ------------------------------------------------------------------------
out=$("$DAEMON" init --config "$CONF")
check "init succeeds" 0 "$?"
TOKEN=$(sed -n 's/^Root Token: *//p' <<< "$out")
check "init prints a root token" 47 "${#TOKEN}"
check "the root key is private" 600 "$(stat -c %a "$WORK/ks/root.key")"
check "the token file is private" 600 \
    "$(stat -c %a "$WORK/ks/keystore.db.tokens")"
check "the token file holds no token" 0 \
    "$(grep -c -- "${TOKEN#sfs.}" "$WORK/ks/keystore.db.tokens")"
"$DAEMON" init --config "$CONF" > /dev/null 2> "$WORK/err"
check "a second init is refused" 1 "$?"

# --- serve from the config file --------------------------------------------------
start_daemon --config "$CONF" || exit 1
api POST /v1/transit/keys/cfg
check "the init root token works" 200 "$STATUS"
api GET /v1/auth/token/lookup-self
check "lookup-self of root" '["root"]' "$(jq -c .data.policies <<< "$BODY")"
kill -HUP "$DAEMON_PID"
sleep 0.2
api GET /v1/sys/health "" ""
check "SIGHUP does not stop the service" 200 "$STATUS"
stop_daemon
check "SIGTERM exits 0" 0 "$DAEMON_STATUS"

# --- SIGTERM drains: a slow request in progress still gets its reply -------------
start_daemon --config "$CONF" || exit 1
curl -s -o "$WORK/slow" -w '%{http_code}' -X POST -H "X-Vault-Token: $TOKEN" \
    -d '{"type":"rsa-3072"}' "$ADDR/v1/transit/keys/slow" > "$WORK/slow.code" &
slow=$!
sleep 0.2
stop_daemon
wait "$slow"
check "the request in progress is answered" 200 "$(cat "$WORK/slow.code")"
check "and the daemon still exits 0" 0 "$DAEMON_STATUS"
check "the audit log ends with a close checkpoint" close \
    "$(tail -n 1 "$WORK/ks/audit.log" | jq -r .reason)"
start_daemon --config "$CONF" || exit 1
api GET /v1/transit/keys/slow
check "the drained request's key exists" rsa-3072 \
    "$(jq -r .data.type <<< "$BODY")"
stop_daemon

# --- flags override the file: another mount --------------------------------------
start_daemon --config "$CONF" --mount crypto || exit 1
api GET /v1/crypto/keys/cfg
check "keys under the configured mount" 200 "$STATUS"
api GET /v1/transit/keys/cfg
check "nothing under the default mount" 404 "$STATUS"
api GET /v1/sys/mounts
check "sys/mounts names the mount" transit \
    "$(jq -r '.data["crypto/"].type' <<< "$BODY")"
stop_daemon

# --- config and flag errors ---------------------------------------------------------
expect_refusal() {
    local name=$1 want=$2 needle=$3
    shift 3
    "$DAEMON" "$@" > /dev/null 2> "$WORK/err"
    check "$name: exit status" "$want" "$?"
    check_contains "$name: message" "$needle" "$(cat "$WORK/err")"
}
printf 'keystore = x\nbogus = 1\n' > "$WORK/bad1.conf"
expect_refusal "unknown setting" 2 "bad1.conf:2: unknown setting 'bogus'" \
    --config "$WORK/bad1.conf"
printf 'batch_max = lots\n' > "$WORK/bad2.conf"
expect_refusal "bad number" 2 "batch_max must be a whole number" \
    --config "$WORK/bad2.conf"
printf 'mount = "a/b"\n' > "$WORK/bad3.conf"
expect_refusal "bad mount" 2 "mount must be one path segment" \
    --config "$WORK/bad3.conf"
printf 'listen 127.0.0.1:1\n' > "$WORK/bad4.conf"
expect_refusal "missing '='" 2 "bad4.conf:1: expected 'name = value'" \
    --config "$WORK/bad4.conf"
expect_refusal "missing file" 2 "cannot open config file" \
    --config "$WORK/none.conf"
expect_refusal "nothing configured" 2 "no keystore is configured" \
    --listen 127.0.0.1:0
expect_refusal "unknown flag" 2 "unknown flag --frobnicate" --frobnicate 1
expect_refusal "unknown command" 2 "unknown command 'frob'" frob
expect_refusal "tls_cert without tls_key" 2 "go together" --config "$CONF" \
    --tls-cert "$WORK/x.pem"
# Refused before anything is bound, so no test socket leaves loopback.
expect_refusal "plain HTTP off loopback" 1 "refusing plain HTTP" \
    --config "$CONF" --listen 0.0.0.0:0
expect_refusal "a bad listen address" 1 "is not host:port" \
    --config "$CONF" --listen nowhere
"$DAEMON" version | grep -q '^sealflowd [0-9]'
check "version" 0 "$?"

# --- TLS ---------------------------------------------------------------------------------
if command -v openssl > /dev/null; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" \
        -out "$WORK/cert.pem" 2> /dev/null
    start_daemon --config "$CONF" --tls-cert "$WORK/cert.pem" \
        --tls-key "$WORK/key.pem" || exit 1
    check_contains "the address is https" "https://127.0.0.1:" "$ADDR"
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" \
        -H "X-Vault-Token: $TOKEN" "$ADDR/v1/transit/keys/cfg")
    check "a request over TLS" 200 "$code"
    plain=${ADDR/https:/http:}
    if curl -s -o /dev/null -m 3 "$plain/v1/sys/health"; then
        fail "plain HTTP to the TLS port was answered"
    else
        pass "plain HTTP to the TLS port fails"
    fi
    stop_daemon
else
    echo "SKIP: openssl is not installed, TLS not tested"
fi

# --- dev mode cleans up its temporary folder -----------------------------------------
start_daemon --dev || exit 1
dir=$(sed -n 's/.*throwaway keystore in //p' "$WORK/daemon.out")
check "the dev folder exists while running" yes "$([ -d "$dir" ] && echo yes)"
stop_daemon
check "the dev folder is removed on exit" no "$([ -d "$dir" ] && echo yes ||
    echo no)"
finish
