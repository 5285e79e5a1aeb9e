#!/usr/bin/env bash
# sealflow CLI: the partner flow. A keystore x25519 or RSA key's public
# part is exported, a partner with no keystore encrypts to it with -r,
# and the keystore alone decrypts the file.
. "$(dirname "$0")/cli_common.sh"

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
head -c 70000 /dev/urandom >"$scratch/data.bin"

for t in x25519 rsa-3072; do
    expect 0 "keys create --type $t" "$SF" keys create "inbox-$t" --type "$t"
    "$SF" keys export-public "inbox-$t" >"$scratch/$t.pub" 2>"$scratch/err"
    check "export-public of the $t key works" test $? -eq 0
    expect 0 "a partner without a keystore encrypts to the $t export" env \
        SEALFLOW_HOME="$scratch/partner" "$SF" encrypt -r "$scratch/$t.pub" \
        -o "$scratch/$t.sf" "$scratch/data.bin"
    check "the partner's $t file has no keystore stanza" not grep -q \
        "inbox-$t" "$scratch/$t.sf"
    expect 0 "the keystore decrypts the $t partner file" "$SF" decrypt \
        -o "$scratch/$t.out" "$scratch/$t.sf"
    check "the $t partner round trip gives the data back" cmp -s \
        "$scratch/data.bin" "$scratch/$t.out"
done

# The recipient string itself, on the command line.
expect 0 "encrypt -r with the exported string" env \
    SEALFLOW_HOME="$scratch/partner" "$SF" encrypt \
    -r "$(cat "$scratch/x25519.pub")" -o "$scratch/str.sf" "$scratch/data.bin"
expect 0 "the keystore decrypts it" "$SF" decrypt -o "$scratch/str.out" \
    "$scratch/str.sf"
check "string round trip" cmp -s "$scratch/data.bin" "$scratch/str.out"

# Rotate, then retire the version the partner used.
expect 0 "rotate the x25519 key" "$SF" keys rotate inbox-x25519
expect 0 "the version 1 file still decrypts" "$SF" decrypt \
    -o "$scratch/v1.out" "$scratch/x25519.sf"
expect 0 "retire version 1" "$SF" keys config inbox-x25519 \
    --min-decryption-version 2
expect 5 "the version 1 file is refused as retired" "$SF" decrypt \
    -o "$scratch/v1b.out" "$scratch/x25519.sf"
check "the refusal names key, version and minimum" has "$scratch/err" \
    "key 'inbox-x25519' version 1 is below min_decryption_version 2"
check "no output was left" test ! -e "$scratch/v1b.out"

# A file for a key this keystore does not hold.
"$SF" identity generate -o "$scratch/stranger.key" >"$scratch/stranger.rcpt" \
    2>/dev/null
check "a stranger's recipient string" grep -qE \
    '^sealflow-x25519:[A-Za-z0-9_-]+$' "$scratch/stranger.rcpt"
expect 0 "encrypt to a stranger" "$SF" encrypt -r "$scratch/stranger.rcpt" \
    -o "$scratch/stranger.sf" "$scratch/data.bin"
expect 5 "the keystore has no key for it" "$SF" decrypt \
    -o "$scratch/stranger.out" "$scratch/stranger.sf"

finish
