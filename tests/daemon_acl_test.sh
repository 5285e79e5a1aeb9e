#!/usr/bin/env bash
# Token policies: deny by default; a token lacking one operation is refused
# (403) for that operation on every endpoint and nothing changes; a token
# holding only that operation may use it on matching keys only; listing is
# filtered; tokens created or revoked while the daemon runs take effect.
source "$(dirname "$0")/daemon_common.sh"

start_dev || exit 1
DEV="$WORK/dev"
ALL_OPS="read list create encrypt decrypt rewrap datakey-plaintext"
ALL_OPS="$ALL_OPS datakey-wrapped rotate config delete trim"

# new_token NAME RULE...: prints a fresh token created by the CLI path,
# once the daemon (told by SIGHUP) knows it
new_token() {
    local name=$1 args=() out tok i code
    shift
    for r in "$@"; do args+=(--policy "$r"); done
    out=$("$DAEMON" token create --keystore "$DEV/keystore.db" \
        --root-key "$DEV/root.key" --name "$name" "${args[@]}") || return 1
    tok=$(sed -n 's/^Token: *//p' <<< "$out")
    kill -HUP "$DAEMON_PID"
    for i in $(seq 1 50); do
        code=$(curl -s -o /dev/null -w '%{http_code}' \
            -H "X-Vault-Token: $tok" "$ADDR/v1/auth/token/lookup-self")
        [ "$code" = 200 ] && break
        sleep 0.1
    done
    [ "$code" = 200 ] || return 1
    echo "$tok"
}

# reset_key: a fresh key acl-k at version 2, min_decryption_version 2,
# deletion allowed, with a v2 ciphertext in CT
reset_key() {
    api POST /v1/transit/keys/acl-k/config '{"deletion_allowed":true}'
    api DELETE /v1/transit/keys/acl-k
    api POST /v1/transit/keys/acl-k
    api POST /v1/transit/keys/acl-k/rotate
    api POST /v1/transit/encrypt/acl-k '{"plaintext":"aGk="}'
    CT=$(jq -r .data.ciphertext <<< "$BODY")
    api POST /v1/transit/keys/acl-k/config \
        '{"min_decryption_version":2,"deletion_allowed":true}'
}

# call_op OP KEY TOKEN: performs OP on KEY with TOKEN (STATUS, BODY)
call_op() {
    local op=$1 k=$2 t=$3
    case $op in
        read) api GET "/v1/transit/keys/$k" "" "$t" ;;
        list) api LIST /v1/transit/keys "" "$t" ;;
        create) api POST "/v1/transit/keys/$k-new" "" "$t" ;;
        encrypt) api POST "/v1/transit/encrypt/$k" '{"plaintext":"aGk="}' \
            "$t" ;;
        decrypt) api POST "/v1/transit/decrypt/$k" \
            "{\"ciphertext\":\"$CT\"}" "$t" ;;
        rewrap) api POST "/v1/transit/rewrap/$k" \
            "{\"ciphertext\":\"$CT\"}" "$t" ;;
        datakey-plaintext) api POST "/v1/transit/datakey/plaintext/$k" "" \
            "$t" ;;
        datakey-wrapped) api POST "/v1/transit/datakey/wrapped/$k" "" \
            "$t" ;;
        rotate) api POST "/v1/transit/keys/$k/rotate" "" "$t" ;;
        config) api POST "/v1/transit/keys/$k/config" \
            '{"min_encryption_version":2}' "$t" ;;
        delete) api DELETE "/v1/transit/keys/$k" "" "$t" ;;
        trim) api POST "/v1/transit/keys/$k/trim" \
            '{"min_available_version":2}' "$t" ;;
    esac
}

# key_state: the versions of acl-k, or "absent"
key_state() {
    api GET /v1/transit/keys/acl-k
    if [ "$STATUS" != 200 ]; then
        echo absent
        return
    fi
    jq -r '[.data.latest_version, .data.min_decryption_version,
        .data.min_encryption_version, .data.min_available_version] |
        join(" ")' <<< "$BODY"
}

# --- a token lacking one operation is refused for it ------------------------
for op in $ALL_OPS; do
    others=$(tr ' ' '\n' <<< "$ALL_OPS" | grep -vx -- "$op" | paste -sd,)
    tok=$(new_token "no-$op" "*:$others") || fail "token for no-$op"
    reset_key
    before=$(key_state)
    call_op "$op" acl-k "$tok"
    check "without '$op': $op is 403" 403 "$STATUS"
    check "without '$op': the 403 body" '{"errors":["permission denied"]}' \
        "$BODY"
    check "without '$op': acl-k unchanged" "$before" "$(key_state)"
    api GET /v1/transit/keys/acl-k-new
    check "without '$op': no key was created" 404 "$STATUS"
done

# --- a token holding only that operation, on matching keys only --------------
for op in $ALL_OPS; do
    tok=$(new_token "only-$op" "acl-*:$op") || fail "token for only-$op"
    reset_key
    api POST /v1/transit/keys/other-k
    call_op "$op" acl-k "$tok"
    case $STATUS in
        200 | 204) pass "only '$op' may $op on acl-k ($STATUS)" ;;
        *) fail "only '$op' on acl-k: got $STATUS $BODY" ;;
    esac
    if [ "$op" != list ]; then
        call_op "$op" other-k "$tok"
        check "only '$op' on acl-*: other-k is 403" 403 "$STATUS"
    fi
    for other in encrypt read rotate; do
        [ "$other" = "$op" ] && continue
        call_op "$other" acl-k "$tok"
        check "only '$op': $other is 403" 403 "$STATUS"
    done
done

# --- listing is filtered, lookup-self shows the rules --------------------------
api POST /v1/transit/keys/acl-k
lister=$(new_token lister "acl-*:list,read")
api LIST /v1/transit/keys "" "$lister"
api GET /v1/transit/keys/other-k
check "other-k exists" 200 "$STATUS"
api LIST /v1/transit/keys "" "$lister"
check "list shows only matching names" '["acl-k","acl-k-new"]' \
    "$(jq -c .data.keys <<< "$BODY")"
nolist=$(new_token nolist "zzz-*:list")
api LIST /v1/transit/keys "" "$nolist"
check "list with no matching names is 404" 404 "$STATUS"
api GET /v1/auth/token/lookup-self "" "$lister"
check "lookup-self policies" '["acl-*:read,list"]' \
    "$(jq -c .data.policies <<< "$BODY")"
check "lookup-self display name" token-lister \
    "$(jq -r .data.display_name <<< "$BODY")"
api POST /v1/sys/mounts/transit '{"type":"transit"}' "$lister"
check "only root may enable mounts" 403 "$STATUS"
api GET /v1/sys/mounts "" ""
check "sys/mounts needs a token" 403 "$STATUS"
api GET /v1/sys/health "" ""
check "sys/health needs no token" 200 "$STATUS"

# --- revocation while running (picked up within a second, or on SIGHUP) ------
accessor=$(jq -r .data.accessor <<< "$(curl -s -H "X-Vault-Token: $lister" \
    "$ADDR/v1/auth/token/lookup-self")")
"$DAEMON" token revoke "$accessor" --keystore "$DEV/keystore.db" \
    --root-key "$DEV/root.key" > /dev/null
kill -HUP "$DAEMON_PID"
sleep 0.3
api GET /v1/transit/keys/acl-k "" "$lister"
check "a revoked token is refused after SIGHUP" 403 "$STATUS"
late=$(new_token late "acl-*:read")
sleep 1.2
api GET /v1/transit/keys/acl-k "" "$late"
check "a new token works without a signal" 200 "$STATUS"
grep -q 'event=tokens_reloaded' "$WORK/daemon.err"
check "SIGHUP reload is logged" 0 "$?"

stop_daemon
check "daemon exits cleanly" 0 "$DAEMON_STATUS"
finish
