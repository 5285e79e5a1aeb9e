#!/usr/bin/env bash
# sealflow CLI: what goes wrong must fail with the documented exit code,
# leave no output file (nor a temporary one) and never touch the input.
. "$(dirname "$0")/cli_common.sh"

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
"$SF" keys create orders >/dev/null 2>&1
"$SF" identity generate -o "$scratch/partner.key" >"$scratch/partner.pub" \
    2>/dev/null
"$SF" identity generate -o "$scratch/other.key" >/dev/null 2>&1
head -c 200000 /dev/urandom >"$scratch/data.bin"
"$SF" encrypt -k orders -r "$scratch/partner.pub" \
    -c tenant=ACME-CORP-7781 --frame-size 16K -o "$scratch/good.sf" \
    "$scratch/data.bin" 2>/dev/null || { echo "FAIL encrypt"; exit 1; }
header_len=$("$SF" inspect --json "$scratch/good.sf" | python3 -c \
    'import json, sys; print(json.load(sys.stdin)["header_size"])')

# must_fail CODE NAME INPUT [decrypt options]: decrypting INPUT to a file
# fails with CODE, leaves no output, and INPUT keeps its bytes.
must_fail() {
    local want=$1 name=$2 in=$3
    shift 3
    cp "$in" "$scratch/before"
    expect "$want" "$name" "$SF" decrypt "$@" -o "$scratch/out.bin" "$in"
    check "$name: no output file" test ! -e "$scratch/out.bin"
    check "$name: no temporary file" no_temp_files "$scratch"
    check "$name: input untouched" cmp -s "$scratch/before" "$in"
}

# ---- tampering ----
perl -0777 -pe 's/ACME-CORP-7781/ACME-CORP-7782/' "$scratch/good.sf" \
    >"$scratch/ctx.sf"
check "the context edit changed the file" not cmp -s "$scratch/good.sf" \
    "$scratch/ctx.sf"
must_fail 4 "an edited context byte fails authentication" "$scratch/ctx.sf"
must_fail 4 "an edited context fails for the partner too" "$scratch/ctx.sf" \
    -i "$scratch/partner.key"
expect 4 "decrypt -c with the forged value still fails" "$SF" decrypt \
    -c tenant=ACME-CORP-7782 -o "$scratch/out.bin" "$scratch/ctx.sf"
check "forged context: no output" test ! -e "$scratch/out.bin"

flip_byte() { # FILE OFFSET OUT
    python3 -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[int(sys.argv[2])] ^= 1
open(sys.argv[3], "wb").write(d)' "$1" "$2" "$3"
}
flip_byte "$scratch/good.sf" $((header_len + 100)) "$scratch/body.sf"
must_fail 4 "a flipped body byte fails authentication" "$scratch/body.sf"
flip_byte "$scratch/good.sf" $((header_len - 1)) "$scratch/mac.sf"
must_fail 4 "a flipped header MAC byte fails authentication" \
    "$scratch/mac.sf"
head -c $(($(stat -c %s "$scratch/good.sf") - 10)) "$scratch/good.sf" \
    >"$scratch/trunc.sf"
must_fail 4 "a truncated file fails authentication" "$scratch/trunc.sf"
head -c $((header_len + 16384 + 16)) "$scratch/good.sf" >"$scratch/frame.sf"
must_fail 4 "a file cut at a frame boundary fails" "$scratch/frame.sf"
cat "$scratch/good.sf" <(printf 'x') >"$scratch/long.sf"
must_fail 4 "appended bytes fail authentication" "$scratch/long.sf"
printf 'not a sealflow file at all\n' >"$scratch/junk.sf"
must_fail 3 "a file that is not an envelope is bad input" \
    "$scratch/junk.sf"
: >"$scratch/empty.sf"
must_fail 3 "an empty file is not a message: bad input" "$scratch/empty.sf"
expect 3 "inspect calls junk bad input" "$SF" inspect "$scratch/junk.sf"

# ---- wrong or missing keys ----
"$SF" encrypt -r "$scratch/partner.pub" -o "$scratch/partner.sf" \
    "$scratch/data.bin" 2>/dev/null
must_fail 5 "the wrong identity finds no key" "$scratch/partner.sf" \
    -i "$scratch/other.key"
check "the error names the stanza it needs" has "$scratch/err" "x25519:"
must_fail 5 "a keystore without the key finds none" "$scratch/partner.sf"
expect 5 "no keystore and no identity finds none" env \
    SEALFLOW_HOME="$scratch/nohome" "$SF" decrypt -o "$scratch/out.bin" \
    "$scratch/good.sf"
check "the hint names -i" has "$scratch/err" "-i FILE"
expect 3 "a malformed identity file is bad input" "$SF" decrypt \
    -i "$scratch/partner.pub" -o "$scratch/out.bin" "$scratch/good.sf"
expect 6 "a missing identity file is an I/O error" "$SF" decrypt \
    -i "$scratch/nope.key" -o "$scratch/out.bin" "$scratch/good.sf"

SEALFLOW_HOME="$scratch/h2" "$SF" init >/dev/null 2>&1
SEALFLOW_HOME="$scratch/h2" "$SF" keys create orders >/dev/null 2>&1
"$SF" encrypt -k orders -o "$scratch/local.sf" "$scratch/data.bin" \
    2>/dev/null
expect 4 "another keystore's key of the same name fails authentication" \
    env SEALFLOW_HOME="$scratch/h2" "$SF" decrypt -o "$scratch/out.bin" \
    "$scratch/local.sf"
check "same name, other key: no output" test ! -e "$scratch/out.bin"

# ---- retired versions ----
"$SF" keys rotate orders >/dev/null 2>&1
expect 0 "version 1 still opens after rotation" "$SF" decrypt \
    -o "$scratch/v1.out" "$scratch/local.sf"
"$SF" keys config orders --min-decryption-version 2 >/dev/null 2>&1
must_fail 5 "a retired version cannot open" "$scratch/local.sf"
check "the message names the key" has "$scratch/err" "'orders'"
check "the message names the version" has "$scratch/err" "version 1"
check "the message names the minimum" has "$scratch/err" \
    "min_decryption_version 2"
"$SF" keys config orders --min-decryption-version 1 >/dev/null 2>&1
expect 0 "lowering the minimum opens it again" "$SF" decrypt \
    -o "$scratch/v1b.out" "$scratch/local.sf"
check "and the data is intact" cmp -s "$scratch/data.bin" "$scratch/v1b.out"

# ---- stdout output ----
"$SF" decrypt "$scratch/ctx.sf" >"$scratch/stdout.bin" 2>/dev/null
check "tampered header releases nothing on stdout" test $? -eq 4 -a \
    ! -s "$scratch/stdout.bin"

# ---- output paths ----
expect 6 "an output folder that does not exist is an I/O error" "$SF" \
    decrypt -o "$scratch/no/dir/out" "$scratch/good.sf"
mkdir "$scratch/ro"
chmod 500 "$scratch/ro"
if [ "$(id -u)" -ne 0 ]; then
    expect 6 "an unwritable output folder is an I/O error" "$SF" \
        decrypt -o "$scratch/ro/out" "$scratch/good.sf"
else
    echo "SKIP: unwritable folder (running as root)"
fi
chmod 700 "$scratch/ro"
printf 'keep me' >"$scratch/existing"
expect 4 "a failed decrypt over an existing file" "$SF" decrypt \
    -o "$scratch/existing" "$scratch/body.sf"
check "leaves the existing file as it was" test \
    "$(cat "$scratch/existing")" = "keep me"
expect 0 "a good decrypt replaces an existing file" "$SF" decrypt \
    -o "$scratch/existing" "$scratch/good.sf"
check "with the plaintext" cmp -s "$scratch/data.bin" "$scratch/existing"

# ---- interrupted runs ----
mkfifo "$scratch/fifo"
"$SF" encrypt -k orders -o "$scratch/sig.sf" "$scratch/fifo" \
    2>/dev/null &
pid=$!
exec 3>"$scratch/fifo"
printf 'some data, then the writer stalls' >&3
sleep 0.5
check "the interrupted run had a temporary file" not no_temp_files \
    "$scratch"
kill -TERM "$pid"
wait "$pid"
sig_rc=$?
exec 3>&-
check "SIGTERM ends the run (exit $sig_rc)" test "$sig_rc" -eq 143
check "an interrupted run leaves no output" test ! -e "$scratch/sig.sf"
check "nor a temporary file" no_temp_files "$scratch"

# ---- a broken keystore does not block identity files ----
expect 0 "decrypt -i works when the keystore cannot be opened" env \
    SEALFLOW_ROOT_KEY="$scratch/nope.key" "$SF" decrypt \
    -i "$scratch/partner.key" -o "$scratch/id.out" "$scratch/partner.sf"
check "it says it goes on without the keystore" has "$scratch/err" \
    "going on with the -i identities only"
check "and opens the file" cmp -s "$scratch/data.bin" "$scratch/id.out"
expect 7 "without -i the keystore error is fatal" env \
    SEALFLOW_ROOT_KEY="$scratch/nope.key" "$SF" decrypt \
    -o "$scratch/id2.out" "$scratch/good.sf"

finish
