#!/usr/bin/env bash
# sealflow CLI: inspect output, and rewrap moving files to the newest key
# version while leaving files it cannot unwrap byte for byte unchanged.
. "$(dirname "$0")/cli_common.sh"

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
"$SF" keys create orders >/dev/null 2>&1
"$SF" keys create other >/dev/null 2>&1
"$SF" identity generate -o "$scratch/partner.key" >"$scratch/partner.pub" \
    2>/dev/null
head -c 150000 /dev/urandom >"$scratch/data.bin"
enc() { # OUT ARGS...: encrypt data.bin
    local out=$1
    shift
    "$SF" encrypt "$@" -o "$out" "$scratch/data.bin" 2>/dev/null
}
enc "$scratch/a.sf" -k orders -r "$scratch/partner.pub" -c tenant=acme \
    -c class=confidential
enc "$scratch/d.sf" -k orders
enc "$scratch/p.sf" -r "$scratch/partner.pub"
enc "$scratch/two.sf" -k orders -k other
enc "$scratch/cc.sf" -k orders --suite chacha20-poly1305 --frame-size 1M
printf 'junk' >"$scratch/junk.sf"

# ---- inspect ----
expect 0 "inspect prints the header" "$SF" inspect "$scratch/a.sf"
check "suite" grep -qE '^suite: +aes-256-gcm$' "$scratch/out"
check "frame size" grep -qE '^frame size: +65536 ' "$scratch/out"
check "format version" grep -qE '^format version: +1$' "$scratch/out"
check "context pairs, sorted" test "$(grep -E '^  [a-z]+=' "$scratch/out" |
    tr -d ' ' | paste -sd,)" = "class=confidential,tenant=acme"
check "the keystore stanza with key and version" grep -qE \
    '^  kek +orders +version 1$' "$scratch/out"
check "the partner stanza" grep -qE '^  x25519 +x25519:' "$scratch/out"
check "body size is shown" grep -qE '^body size: +[0-9]+ bytes$' \
    "$scratch/out"
check "no key material in inspect" not grep -qi 'secret' "$scratch/out"
expect 0 "inspect --json" "$SF" inspect --json "$scratch/a.sf"
check "json suite" test "$(json "$scratch/out" 'j["suite"]')" = aes-256-gcm
check "json context" test "$(json "$scratch/out" 'j["context"]["tenant"]')" \
    = acme
check "json stanza count" test "$(json "$scratch/out" 'len(j["stanzas"])')" \
    = 2
check "json stanza key and version" test "$(json "$scratch/out" \
    '[s["key_id"] + ":" + str(s["version"]) for s in j["stanzas"]
     if s["type"] == "kek"][0]')" = orders:1
check "json has only header fields" test "$(json "$scratch/out" \
    '",".join(sorted(j))')" = \
    "body_size,context,file,format_version,frame_size,header_size,message_id,stanzas,suite"
check "json header + body = file size" test "$(json "$scratch/out" \
    'j["header_size"] + j["body_size"]')" = "$(stat -c %s "$scratch/a.sf")"
expect 0 "inspect shows another suite and frame size" "$SF" inspect \
    "$scratch/cc.sf"
check "chacha20 suite" grep -qE '^suite: +chacha20-poly1305$' "$scratch/out"
check "1 MiB frames" grep -qE '^frame size: +1048576 ' "$scratch/out"
"$SF" inspect - <"$scratch/d.sf" >"$scratch/out" 2>&1
check "inspect reads stdin" grep -qE '^  kek +orders +version 1$' \
    "$scratch/out"
expect 3 "inspect of junk is bad input" "$SF" inspect "$scratch/junk.sf"
expect 6 "inspect of a missing file is an I/O error" "$SF" inspect \
    "$scratch/nope.sf"
expect 2 "inspect needs a file" "$SF" inspect

# ---- rewrap ----
"$SF" keys rotate orders >/dev/null 2>&1
for f in a d p two junk; do cp "$scratch/$f.sf" "$scratch/$f.orig"; done
chmod 640 "$scratch/a.sf"
expect 0 "rewrap moves a file to the new version" "$SF" rewrap \
    "$scratch/a.sf"
check "reported as moved with the versions" grep -qE \
    "^moved +$scratch/a.sf +\(orders v1 -> v2\)$" "$scratch/out"
"$SF" inspect "$scratch/a.sf" >"$scratch/out" 2>&1
check "the stanza now names version 2" grep -qE '^  kek +orders +version 2$' \
    "$scratch/out"
check "the partner stanza is still there" grep -qE '^  x25519 +x25519:' \
    "$scratch/out"
check "the context is kept" grep -qE '^  tenant=acme$' "$scratch/out"
check "the file mode is kept" test "$(mode_of "$scratch/a.sf")" = 640
old_hl=$("$SF" inspect --json "$scratch/a.orig" | python3 -c \
    'import json, sys; print(json.load(sys.stdin)["header_size"])')
new_hl=$("$SF" inspect --json "$scratch/a.sf" | python3 -c \
    'import json, sys; print(json.load(sys.stdin)["header_size"])')
check "the body is copied unchanged" cmp -s \
    <(tail -c +$((old_hl + 1)) "$scratch/a.orig") \
    <(tail -c +$((new_hl + 1)) "$scratch/a.sf")
expect 0 "the moved file decrypts with the keystore" "$SF" decrypt \
    -o "$scratch/a.out" "$scratch/a.sf"
check "to the same plaintext" cmp -s "$scratch/data.bin" "$scratch/a.out"
expect 0 "and with the partner identity" "$SF" decrypt \
    -i "$scratch/partner.key" -o "$scratch/a.out2" "$scratch/a.sf"
cp "$scratch/a.sf" "$scratch/a.moved"
expect 0 "rewrap of a current file" "$SF" rewrap "$scratch/a.sf"
check "reported as current" grep -qE "^current +$scratch/a.sf$" \
    "$scratch/out"
check "a current file is byte-identical" cmp -s "$scratch/a.moved" \
    "$scratch/a.sf"

expect 5 "rewrap of a file it cannot unwrap fails" "$SF" rewrap \
    "$scratch/p.sf"
check "reported as failed" grep -qE "^failed +$scratch/p.sf$" \
    "$scratch/out"
check "the unwrappable file is byte-identical" cmp -s "$scratch/p.orig" \
    "$scratch/p.sf"
expect 3 "rewrap of junk fails as bad input" "$SF" rewrap "$scratch/junk.sf"
check "junk is byte-identical" cmp -s "$scratch/junk.orig" \
    "$scratch/junk.sf"
check "no temporary files left" no_temp_files "$scratch"

run "$SF" rewrap "$scratch/d.sf" "$scratch/p.sf" "$scratch/junk.sf"
check "a mixed batch exits non-zero" test "$rc" -ne 0
check "the good file in the batch moved" grep -qE "^moved +$scratch/d.sf" \
    "$scratch/out"
check "the batch summary counts" has "$scratch/err" \
    "1 moved, 0 already current, 2 failed"
check "the failed files are unchanged" cmp -s "$scratch/p.orig" \
    "$scratch/p.sf"

"$SF" keys rotate other >/dev/null 2>&1
expect 0 "rewrap -k moves only that key" "$SF" rewrap -k other \
    "$scratch/two.sf"
"$SF" inspect "$scratch/two.sf" >"$scratch/out" 2>&1
check "the named key moved" grep -qE '^  kek +other +version 2$' \
    "$scratch/out"
check "the other key did not" grep -qE '^  kek +orders +version 1$' \
    "$scratch/out"
expect 0 "rewrap --json" "$SF" rewrap --json "$scratch/two.sf"
check "json counts the move" test "$(json "$scratch/out" 'j["moved"]')" = 1
check "json names the change" test "$(json "$scratch/out" \
    'j["files"][0]["changes"][0]["key"]')" = orders
expect 5 "rewrap --json with a failure" "$SF" rewrap --json "$scratch/p.sf"
check "json carries the error" test "$(json "$scratch/out" \
    'j["files"][0]["result"]')" = failed
check "json error text is set" test -n "$(json "$scratch/out" \
    'j["files"][0]["error"]')"

ln -s "$scratch/d.orig" "$scratch/link.sf"
expect 0 "rewrap through a symlink" "$SF" rewrap "$scratch/link.sf"
check "the link is still a link" test -L "$scratch/link.sf"
"$SF" inspect "$scratch/d.orig" >"$scratch/out" 2>&1
check "its target moved" grep -qE '^  kek +orders +version 2$' "$scratch/out"

# ---- retire after rewrap ----
"$SF" keys config orders --min-decryption-version 2 >/dev/null 2>&1
expect 0 "a rewrapped file opens after retiring version 1" "$SF" decrypt \
    -o "$scratch/r.out" "$scratch/d.sf"
expect 5 "a file not rewrapped does not" "$SF" decrypt \
    -o "$scratch/r2.out" "$scratch/a.orig"
check "and the hint says how to read it" has "$scratch/err" \
    "--min-decryption-version 1"

expect 3 "rewrap with a bad key name is bad input" "$SF" rewrap -k "a b" \
    "$scratch/d.sf"
expect 7 "rewrap without a keystore" env SEALFLOW_HOME="$scratch/nohome" \
    "$SF" rewrap "$scratch/d.sf"
expect 2 "rewrap needs a file" "$SF" rewrap

finish
