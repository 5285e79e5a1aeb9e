#!/usr/bin/env bash
# sealflow CLI: every keys subcommand, and its errors.
. "$(dirname "$0")/cli_common.sh"

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }

# ---- create ----
expect 0 "create makes an aes256-gcm96 key by default" "$SF" keys create \
    orders
check "create reports version 1" has "$scratch/err" "version 1"
expect 0 "create --json prints the key" "$SF" keys create --json \
    --type chacha20-poly1305 billing
check "create --json has the type" test \
    "$(json "$scratch/out" 'j["type"]')" = chacha20-poly1305
check "create --json has version 1" test \
    "$(json "$scratch/out" 'j["latest_version"]')" = 1
for t in x25519 rsa-3072; do
    expect 0 "create a $t key" "$SF" keys create "k-$t" --type "$t"
done
expect 1 "a duplicate name is refused" "$SF" keys create orders
check "duplicate named in the error" has "$scratch/err" "already exists"
expect 3 "a name with a space is bad input" "$SF" keys create "bad name"
check "bad name lists the allowed characters" has "$scratch/err" \
    "ASCII letters and digits"
expect 3 "a name with '..' segment is bad input" "$SF" keys create "a/../b"
expect 3 "a name over 128 bytes is bad input" "$SF" keys create \
    "$(printf 'n%.0s' $(seq 129))"
expect 0 "a name with allowed punctuation works" "$SF" keys create \
    "team.a/orders_v-2@eu"
expect 2 "an unknown type is a usage error" "$SF" keys create t1 \
    --type aes128
check "unknown type lists the accepted types" has "$scratch/err" \
    "aes256-gcm96"
expect 2 "create without NAME is a usage error" "$SF" keys create
expect 2 "create with two names is a usage error" "$SF" keys create a b

# ---- list ----
expect 0 "list works" "$SF" keys list
check "list shows orders" grep -qE '^orders +aes256-gcm96' "$scratch/out"
check "list shows the x25519 key" grep -qE '^k-x25519 +x25519' \
    "$scratch/out"
expect 0 "list --json works" "$SF" keys list --json
check "list --json has 5 keys in name order" test \
    "$(json "$scratch/out" '",".join(k["name"] for k in j["keys"])')" = \
    "billing,k-rsa-3072,k-x25519,orders,team.a/orders_v-2@eu"

# ---- show and rotate ----
expect 0 "show works" "$SF" keys show orders
check "show gives the type" grep -qE '^type: +aes256-gcm96' "$scratch/out"
check "show gives no rotation period" grep -qE '^rotation period: +none' \
    "$scratch/out"
check "show says rotation is not overdue" grep -qE \
    '^rotation overdue: +no' "$scratch/out"
expect 5 "show of a missing key is key-not-found" "$SF" keys show nope
expect 0 "rotate adds version 2" "$SF" keys rotate orders
check "rotate names the new version" has "$scratch/err" "version 2"
expect 0 "rotate again adds version 3" "$SF" keys rotate orders
expect 5 "rotate of a missing key is key-not-found" "$SF" keys rotate nope
expect 0 "show --json after two rotations" "$SF" keys show --json orders
check "latest version is 3" test \
    "$(json "$scratch/out" 'j["latest_version"]')" = 3
check "three versions are listed" test \
    "$(json "$scratch/out" 'len(j["versions"])')" = 3
check "version 1 has a creation time" grep -qE \
    '"created_at": "[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$scratch/out"

# ---- config ----
expect 0 "config sets min decryption and rotation period" "$SF" keys \
    config orders --min-decryption-version 2 --rotation-period 90d
expect 0 "show after config" "$SF" keys show --json orders
check "min_decryption_version is 2" test \
    "$(json "$scratch/out" 'j["min_decryption_version"]')" = 2
check "rotation period is 90 days" test \
    "$(json "$scratch/out" 'j["rotation_period_s"]')" = 7776000
check "rotation period reads 90d" test \
    "$(json "$scratch/out" 'j["rotation_period"]')" = 90d
check "a fresh version is not overdue" test \
    "$(json "$scratch/out" 'j["rotation_overdue"]')" = false
check "version 1 is retired for decryption" test \
    "$(json "$scratch/out" 'j["versions"][0]["decrypt"]')" = false
check "version 2 still decrypts" test \
    "$(json "$scratch/out" 'j["versions"][1]["decrypt"]')" = true
expect 0 "show text after config" "$SF" keys show orders
check "show text marks version 1 retired" grep -qE '^  1 +retired' \
    "$scratch/out"
expect 0 "a 1s rotation period" "$SF" keys config orders \
    --rotation-period 1s
sleep 2
expect 0 "show after the period passed" "$SF" keys show orders
check "rotation is overdue" grep -qE '^rotation overdue: +yes' \
    "$scratch/out"
expect 0 "rotation period 0 disables it" "$SF" keys config orders \
    --rotation-period 0
expect 0 "combined duration 1d12h" "$SF" keys config --json orders \
    --rotation-period 1d12h
check "1d12h is 129600 s" test \
    "$(json "$scratch/out" 'j["rotation_period_s"]')" = 129600
expect 2 "a duration without unit is a usage error" "$SF" keys config \
    orders --rotation-period 90
expect 2 "a bad duration is a usage error" "$SF" keys config orders \
    --rotation-period 9x
expect 1 "min decryption above latest is refused" "$SF" keys config \
    orders --min-decryption-version 4
check "the rule is explained" has "$scratch/err" "min-decryption-version"
expect 1 "min encryption below min decryption is refused" "$SF" keys \
    config orders --min-encryption-version 1
expect 0 "min encryption 3 is allowed" "$SF" keys config orders \
    --min-encryption-version 3
expect 2 "min decryption 0 is a usage error" "$SF" keys config orders \
    --min-decryption-version 0
expect 2 "a non-number version is a usage error" "$SF" keys config \
    orders --min-decryption-version two
expect 2 "config without options is a usage error" "$SF" keys config \
    orders
expect 2 "deletion-allowed wants true or false" "$SF" keys config \
    orders --deletion-allowed yes
expect 5 "config of a missing key is key-not-found" "$SF" keys config \
    nope --rotation-period 1d

# ---- delete ----
expect 1 "delete is refused until allowed" "$SF" keys delete billing
check "the refusal says how to allow it" has "$scratch/err" \
    "--deletion-allowed true"
expect 0 "billing still exists" "$SF" keys show billing
expect 0 "allow deletion" "$SF" keys config billing --deletion-allowed true
expect 0 "delete works once allowed" "$SF" keys delete billing
expect 5 "the deleted key is gone" "$SF" keys show billing
expect 5 "delete of a missing key is key-not-found" "$SF" keys delete \
    billing

# ---- export-public ----
expect 0 "export-public of an x25519 key" "$SF" keys export-public \
    k-x25519
check "prints a sealflow-x25519 recipient" grep -qE \
    '^sealflow-x25519:[A-Za-z0-9_-]+$' "$scratch/out"
cp "$scratch/out" "$scratch/x25519.pub"
expect 0 "export-public --version 1" "$SF" keys export-public k-x25519 \
    --version 1
check "version 1 is the same key before rotation" cmp -s "$scratch/out" \
    "$scratch/x25519.pub"
expect 0 "export-public of an RSA key" "$SF" keys export-public k-rsa-3072
check "prints a PEM public key" has "$scratch/out" \
    "-----BEGIN PUBLIC KEY-----"
if command -v openssl >/dev/null; then
    cp "$scratch/out" "$scratch/rsa.pub"
    check "openssl reads it as a 3072-bit key" grep -q "3072 bit" \
        <(openssl pkey -pubin -in "$scratch/rsa.pub" -noout -text 2>&1)
else
    echo "SKIP: RSA PEM cross-check (openssl not installed)"
fi
expect 1 "export-public of a symmetric key is refused" "$SF" keys \
    export-public orders
check "the refusal says why" has "$scratch/err" "public key"
expect 5 "export-public of a missing version" "$SF" keys export-public \
    k-x25519 --version 9

finish
