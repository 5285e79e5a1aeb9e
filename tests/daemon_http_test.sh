#!/usr/bin/env bash
# sealflowd at the HTTP level: methods (LIST, PUT = POST, DELETE), status
# codes (200, 204, 400, 403, 404, 405, 413), error bodies, odd key names
# in every endpoint, key types, tampering, limits and metrics.
source "$(dirname "$0")/daemon_common.sh"

start_dev || exit 1

# --- empty keystore, methods and unknown paths -----------------------------
api LIST /v1/transit/keys
check "LIST on an empty keystore is 404" 404 "$STATUS"
check "empty list body is Vault's" '{"errors":[]}' "$BODY"
api GET '/v1/transit/keys?list=true'
check "GET ?list=true on an empty keystore is 404" 404 "$STATUS"
api GET /v1/transit/keys
check "GET keys without list is 405" 405 "$STATUS"
check_contains "405 body" '"errors":["unsupported operation"]' "$BODY"
api GET /v1/transit/nothing-here
check "unknown transit path is 404" 404 "$STATUS"
api GET /v1/secret/keys
check "unknown mount is 404" 404 "$STATUS"
api POST /v1/sys/health
check "POST sys/health is 405" 405 "$STATUS"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -I "$ADDR/v1/sys/health")
check "HEAD sys/health is 200" 200 "$STATUS"
api GET /v1/transit/keys/none
check "reading a missing key is 404" 404 "$STATUS"
check "missing key body" '{"errors":[]}' "$BODY"

# --- PUT equals POST, create twice, 204 ------------------------------------
api PUT /v1/transit/keys/k1 '{"type":"aes256-gcm96"}'
check "PUT creates a key" 200 "$STATUS"
check "created key name" k1 "$(jq -r .data.name <<< "$BODY")"
api POST /v1/transit/keys/k1
check "creating an existing key is 200" 200 "$STATUS"
check_contains "with a warning" "already existed" "$BODY"
api POST /v1/transit/keys/k9 '{"type":"rsa-1024"}'
check "unknown key type is 400" 400 "$STATUS"
api POST /v1/transit/keys/k9 '{"derived":true}'
check "derived keys are refused" 400 "$STATUS"
api POST /v1/transit/keys/rot '{"auto_rotate_period":"24h"}'
check "auto_rotate_period on create" "200 86400" \
    "$STATUS $(jq .data.auto_rotate_period <<< "$BODY")"
api POST /v1/transit/keys/rot/config '{"auto_rotate_period":3600}'
check "auto_rotate_period in config" "200 3600" \
    "$STATUS $(jq .data.auto_rotate_period <<< "$BODY")"
api POST /v1/transit/keys/rot/config '{"min_decryption_version":5}'
check "a config beyond the latest version is 400" 400 "$STATUS"
api DELETE /v1/transit/keys/k1
check "delete without deletion_allowed is 400" 400 "$STATUS"
check_contains "delete error body" '{"errors":["deletion is not allowed' \
    "$BODY"
api PUT /v1/transit/keys/k1/config '{"deletion_allowed":"true"}'
check "config with PUT" 200 "$STATUS"
api DELETE /v1/transit/keys/k1
check "delete is 204" 204 "$STATUS"
check "204 has no body" "" "$BODY"
api DELETE /v1/transit/keys/k1
check "deleting a missing key is 404" 404 "$STATUS"

# --- bodies and errors -------------------------------------------------------
api POST /v1/transit/keys/k2
api POST /v1/transit/encrypt/k2 '{"plaintext": '
check "malformed JSON is 400" 400 "$STATUS"
check_contains "parse error text" "failed to parse JSON" "$BODY"
ctype=$(curl -s -o /dev/null -w '%{content_type}' -X POST \
    -H "X-Vault-Token: $TOKEN" -d '[1]' "$ADDR/v1/transit/encrypt/k2")
check "error bodies are application/json" application/json "$ctype"
api POST /v1/transit/encrypt/k2 '{"plaintext":"not base64!"}'
check "bad base64 is 400" 400 "$STATUS"
check_contains "bad base64 message" "not valid base64" "$BODY"
api POST /v1/transit/encrypt/k2 '{}'
check "missing plaintext is 400" 400 "$STATUS"
api POST /v1/transit/encrypt/k2 '{"plaintext":"aGk="}' ""
check "no token is 403" 403 "$STATUS"
check "403 body" '{"errors":["permission denied"]}' "$BODY"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $TOKEN" -d '{"plaintext":"aGk="}' \
    "$ADDR/v1/transit/encrypt/k2")
check "Authorization: Bearer works" 200 "$STATUS"

# --- tampering and context ---------------------------------------------------
api POST /v1/transit/encrypt/k2 '{"plaintext":"c2VjcmV0","context":"Y3R4"}'
ct=$(jq -r .data.ciphertext <<< "$BODY")
api POST /v1/transit/decrypt/k2 "{\"ciphertext\":\"$ct\",\"context\":\"Y3R4\"}"
check "decrypt with the right context" c2VjcmV0 \
    "$(jq -r .data.plaintext <<< "$BODY")"
api POST /v1/transit/decrypt/k2 "{\"ciphertext\":\"$ct\",\"context\":\"eHl6\"}"
check "wrong context is 400" 400 "$STATUS"
check_contains "wrong context message" "message authentication failed" \
    "$BODY"
body=${ct#vault:v1:}
flipped=$(base64 -d <<< "$body" | xxd -p -c 999 |
    sed 's/^\(..\)\(..\)/\1ff/' | xxd -r -p | base64 -w0)
api POST /v1/transit/decrypt/k2 \
    "{\"ciphertext\":\"vault:v1:$flipped\",\"context\":\"Y3R4\"}"
check "tampered ciphertext is 400" 400 "$STATUS"
check_contains "tampered message" "message authentication failed" "$BODY"
api POST /v1/transit/decrypt/k2 '{"ciphertext":"vault:v9:AAAA"}'
check "unknown version is 400" 400 "$STATUS"
api POST /v1/transit/decrypt/k2 '{"ciphertext":"v1:AAAA"}'
check "bad prefix is 400" 400 "$STATUS"
check_contains "bad prefix message" "invalid ciphertext" "$BODY"
api POST /v1/transit/decrypt/nokey "{\"ciphertext\":\"$ct\"}"
check "decrypt with a missing key is 404" 404 "$STATUS"
check_contains "missing key message" "encryption key not found" "$BODY"
api POST /v1/transit/encrypt/upserted '{"plaintext":"aGk="}'
check "encrypt creates a missing key (root may create)" 200 "$STATUS"
api GET /v1/transit/keys/upserted
check "the upserted key exists" 200 "$STATUS"

# --- odd key names, through every endpoint ------------------------------------
odd_names=("-lead" "trail-" "a.b" "user@example.com" "team/app/key"
    "clé-ünïcode" "日本語" "a/config")
odd_paths=("-lead" "trail-" "a.b" "user%40example.com" "team/app/key"
    "cl%C3%A9-%C3%BCn%C3%AFcode" "%E6%97%A5%E6%9C%AC%E8%AA%9E" "a%2Fconfig")
for i in "${!odd_names[@]}"; do
    n=${odd_names[$i]}
    p=${odd_paths[$i]}
    api POST "/v1/transit/keys/$p"
    check "create '$n'" "200 $n" "$STATUS $(jq -r .data.name <<< "$BODY")"
    api GET "/v1/transit/keys/$p"
    check "read '$n'" "200 $n" "$STATUS $(jq -r .data.name <<< "$BODY")"
    api POST "/v1/transit/encrypt/$p" '{"plaintext":"b2Rk"}'
    c=$(jq -r .data.ciphertext <<< "$BODY")
    api POST "/v1/transit/decrypt/$p" "{\"ciphertext\":\"$c\"}"
    check "round trip '$n'" b2Rk "$(jq -r .data.plaintext <<< "$BODY")"
    api POST "/v1/transit/keys/$p/rotate"
    check "rotate '$n'" "200 2" \
        "$STATUS $(jq -r .data.latest_version <<< "$BODY")"
    api POST "/v1/transit/keys/$p/config" '{"deletion_allowed":true}'
    check "config '$n'" "200 true" \
        "$STATUS $(jq -r .data.deletion_allowed <<< "$BODY")"
    api POST "/v1/transit/rewrap/$p" "{\"ciphertext\":\"$c\"}"
    check "rewrap '$n'" "200 2" \
        "$STATUS $(jq -r .data.key_version <<< "$BODY")"
    api POST "/v1/transit/datakey/wrapped/$p"
    check "datakey '$n'" 200 "$STATUS"
done
api LIST /v1/transit/keys
for n in "${odd_names[@]}"; do
    check "list holds '$n'" 1 "$(jq --arg n "$n" '[.data.keys[] |
        select(. == $n)] | length' <<< "$BODY")"
done
api GET /v1/transit/keys/a
check "'a/config' did not create 'a'" 404 "$STATUS"
api DELETE /v1/transit/keys/team/app/key
check "delete a key with slashes" 204 "$STATUS"
for bad in "a//b" "a%2F..%2Fb" "sp%20ace" "nul%00" "trail/" "bad%zz" \
        "q%22uote"; do
    api POST "/v1/transit/keys/$bad"
    check "bad name '$bad' is 400" 400 "$STATUS"
    api POST "/v1/transit/encrypt/$bad" '{"plaintext":"aGk="}'
    check "bad name '$bad' on encrypt is 400" 400 "$STATUS"
done
STATUS=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -X POST \
    -H "X-Vault-Token: $TOKEN" "$ADDR/v1/transit/keys/x/../y")
check "dot segments in a name are 400" 400 "$STATUS"
long=$(printf 'k%.0s' $(seq 1 129))
api POST "/v1/transit/keys/$long"
check "a 129-byte name is 400" 400 "$STATUS"

# --- asymmetric key types -------------------------------------------------------
for t in x25519 rsa-3072; do
    api POST "/v1/transit/keys/asym-$t" "{\"type\":\"$t\"}"
    check "create $t" "200 $t" "$STATUS $(jq -r .data.type <<< "$BODY")"
    check_contains "$t read shows the public key" public_key "$BODY"
    for pt in "" "aGVsbG8="; do
        api POST "/v1/transit/encrypt/asym-$t" "{\"plaintext\":\"$pt\"}"
        c=$(jq -r .data.ciphertext <<< "$BODY")
        api POST "/v1/transit/decrypt/asym-$t" "{\"ciphertext\":\"$c\"}"
        check "$t round trip of '$pt'" "200 $pt" \
            "$STATUS $(jq -r .data.plaintext <<< "$BODY")"
    done
done

# --- empty plaintexts are wrapped as they are ------------------------------
# The wrap of an empty plaintext is the keystore's overhead alone: 40
# bytes for symmetric keys, 48 for x25519, one modulus (384) for
# rsa-3072; no stand-in byte is wrapped in its place.
body_len() {
    local c=$1
    base64 -d <<< "${c#vault:v*:}" | wc -c
}
api POST /v1/transit/keys/empty
for k in empty asym-x25519 asym-rsa-3072; do
    case $k in
        empty) want=40 ;;
        asym-x25519) want=48 ;;
        *) want=384 ;;
    esac
    api POST "/v1/transit/encrypt/$k" '{"plaintext":""}'
    c=$(jq -r .data.ciphertext <<< "$BODY")
    check "$k: an empty plaintext wraps to $want bytes" "200 $want" \
        "$STATUS $(body_len "$c")"
    api POST "/v1/transit/decrypt/$k" "{\"ciphertext\":\"$c\"}"
    check "$k: it decrypts to empty" '200 ""' \
        "$STATUS $(jq .data.plaintext <<< "$BODY")"
done
api POST /v1/transit/encrypt/empty '{"plaintext":"","context":"Y3R4"}'
c=$(jq -r .data.ciphertext <<< "$BODY")
api POST /v1/transit/decrypt/empty "{\"ciphertext\":\"$c\"}"
check "an empty plaintext is bound to its context" 400 "$STATUS"
api POST /v1/transit/rewrap/empty "{\"ciphertext\":\"$c\",\"context\":\"Y3R4\"}"
c2=$(jq -r .data.ciphertext <<< "$BODY")
api POST /v1/transit/decrypt/empty \
    "{\"ciphertext\":\"$c2\",\"context\":\"Y3R4\"}"
check "a rewrapped empty plaintext stays empty" '200 ""' \
    "$STATUS $(jq .data.plaintext <<< "$BODY")"
raw=$(base64 -d <<< "${c2#vault:v1:}" | od -An -tx1 | tr -d ' \n')
flipped=$(printf '%s' "${raw:0:78}$(printf '%02x' $((0x${raw:78:2} ^ 1)))" |
    xxd -r -p | base64 -w0)
api POST /v1/transit/decrypt/empty \
    "{\"ciphertext\":\"vault:v1:$flipped\",\"context\":\"Y3R4\"}"
check_contains "a changed empty ciphertext fails authentication" \
    "400 {\"errors\":[\"decryption failed" "$STATUS $BODY"

# --- key read: every version with its own creation time -------------------
# Versions are a second apart; the keys map gives each its own time, as
# the keystore records it (the CLI reads the same keystore).
api POST /v1/transit/keys/timed
sleep 1.1
api POST /v1/transit/keys/timed/rotate
sleep 1.1
api POST /v1/transit/keys/timed/rotate
api GET /v1/transit/keys/timed
t1=$(jq '.data.keys["1"]' <<< "$BODY")
t2=$(jq '.data.keys["2"]' <<< "$BODY")
t3=$(jq '.data.keys["3"]' <<< "$BODY")
check "the keys map has three versions" 3 \
    "$(jq '.data.keys | length' <<< "$BODY")"
check "each version has its own, increasing time" yes \
    "$([ "$t1" -lt "$t2" ] && [ "$t2" -lt "$t3" ] && echo yes)"
"$SF_CLI" --keystore "$WORK/dev/keystore.db" --root-key \
    "$WORK/dev/root.key" keys show timed --json > "$WORK/show" 2>&1
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
check "the times match the keystore's" \
    "$(iso "$t1") $(iso "$t2") $(iso "$t3")" \
    "$(jq -r '[.versions[].created_at] | join(" ")' "$WORK/show")"
api POST /v1/transit/keys/asym-x25519/rotate
api GET /v1/transit/keys/asym-x25519
check "x25519 versions carry creation_time and public_key" "2 2" \
    "$(jq '[.data.keys[] | .creation_time] | length' <<< "$BODY") \
$(jq '[.data.keys[] | .public_key | select(startswith("sealflow-x25519:"))]
    | length' <<< "$BODY")"

# --- limits ------------------------------------------------------------------
head -c 1100000 /dev/zero | tr '\0' 'a' > "$WORK/big"
STATUS=$(curl -s -o "$WORK/resp" -w '%{http_code}' -X POST \
    -H "X-Vault-Token: $TOKEN" --data-binary "@$WORK/big" \
    "$ADDR/v1/transit/encrypt/k2")
check "a body over 1 MiB is 413" 413 "$STATUS"
items=$(printf '{"plaintext":"aGk="},%.0s' $(seq 1 1001))
api POST /v1/transit/encrypt/k2 "{\"batch_input\":[${items%,}]}"
check "1001 batch items are 400" 400 "$STATUS"
check_contains "batch limit message" "the limit is 1000" "$BODY"
api POST /v1/transit/encrypt/k2 '{"batch_input":[]}'
check "an empty batch is 400" 400 "$STATUS"
api POST /v1/transit/datakey/plaintext/k2 '{"bits":1024}'
check "datakey bits 1024 is 400" 400 "$STATUS"
api POST /v1/transit/datakey/other/k2
check "datakey of an unknown kind is 404" 404 "$STATUS"

# --- sys endpoints and metrics --------------------------------------------------
api GET /v1/sys/mounts
check "sys/mounts lists transit" transit \
    "$(jq -r '.data["transit/"].type' <<< "$BODY")"
api POST /v1/sys/mounts/transit '{"type":"transit"}'
check "enabling transit is accepted" 204 "$STATUS"
api POST /v1/sys/mounts/kv '{"type":"kv"}'
check "enabling another engine is 400" 400 "$STATUS"
api GET '/v1/sys/metrics?format=prometheus'
check "metrics are 200" 200 "$STATUS"
check_contains "request counter" \
    'sealflowd_requests_total{operation="encrypt"}' "$BODY"
check_contains "error counter" \
    'sealflowd_request_errors_total{operation="decrypt"}' "$BODY"
check_contains "histogram" \
    'sealflowd_request_duration_seconds_bucket{operation="encrypt",le="+Inf"}' \
    "$BODY"
keys=$(sed -n 's/^sealflowd_keys //p' <<< "$BODY")
api LIST /v1/transit/keys
check "sealflowd_keys counts the keys" "$(jq '.data.keys | length' \
    <<< "$BODY")" "$keys"
api GET '/v1/sys/metrics?format=json'
check "other metric formats are 400" 400 "$STATUS"

stop_daemon
check "daemon exits cleanly" 0 "$DAEMON_STATUS"
finish
