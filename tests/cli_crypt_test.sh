#!/usr/bin/env bash
# sealflow CLI: encrypt and decrypt round trips through files and pipes,
# keystore keys and partner recipients (X25519 identity, RSA PEM), context
# pairs, suites, frame sizes and threads, and the output-file rules.
. "$(dirname "$0")/cli_common.sh"

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
"$SF" keys create orders >/dev/null 2>&1 || { echo "FAIL create"; exit 1; }

printf 'hello, sealflow\n' >"$scratch/small.txt"
head -c 300000 /dev/urandom >"$scratch/rand.bin"
# every byte value, NULs and a final byte without newline
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 40)' \
    >"$scratch/bytes.bin"
: >"$scratch/empty"

# ---- keystore key, files ----
for f in small.txt rand.bin bytes.bin empty; do
    expect 0 "encrypt $f to a file" "$SF" encrypt -k orders \
        -o "$scratch/$f.sf" "$scratch/$f"
    expect 0 "decrypt $f from a file" "$SF" decrypt -o "$scratch/$f.out" \
        "$scratch/$f.sf"
    check "$f round trip is identical" cmp -s "$scratch/$f" \
        "$scratch/$f.out"
done
check "empty message decrypts to an existing empty file" test \
    -f "$scratch/empty.out" -a ! -s "$scratch/empty.out"
check "decrypted file has mode 600" test \
    "$(mode_of "$scratch/small.txt.out")" = 600
check "no temporary files left" no_temp_files "$scratch"

# ---- stdin and stdout ----
"$SF" encrypt -k orders <"$scratch/rand.bin" >"$scratch/pipe.sf" \
    2>"$scratch/err"
check "encrypt from stdin to stdout" test $? -eq 0
"$SF" decrypt <"$scratch/pipe.sf" >"$scratch/pipe.out" 2>"$scratch/err"
check "decrypt from stdin to stdout" test $? -eq 0
check "pipe round trip is identical" cmp -s "$scratch/rand.bin" \
    "$scratch/pipe.out"
cat "$scratch/bytes.bin" | "$SF" encrypt -k orders - | "$SF" decrypt - \
    >"$scratch/pipe2.out" 2>"$scratch/err"
check "a pipeline through '-' round-trips" cmp -s "$scratch/bytes.bin" \
    "$scratch/pipe2.out"
"$SF" encrypt -k orders </dev/null >"$scratch/e2.sf" 2>/dev/null
"$SF" decrypt <"$scratch/e2.sf" >"$scratch/e2.out" 2>/dev/null
check "empty stdin round-trips" test $? -eq 0 -a ! -s "$scratch/e2.out"

# ---- suites, frame sizes, threads ----
expect 0 "chacha20-poly1305 suite" "$SF" encrypt -k orders \
    --suite chacha20-poly1305 -o "$scratch/cc.sf" "$scratch/rand.bin"
expect 0 "chacha20-poly1305 decrypts" "$SF" decrypt -o "$scratch/cc.out" \
    "$scratch/cc.sf"
check "chacha20 round trip" cmp -s "$scratch/rand.bin" "$scratch/cc.out"
for fs in 1 100 4K 64KiB 1M 16M; do
    expect 0 "frame size $fs" "$SF" encrypt -k orders --frame-size "$fs" \
        --threads 2 -o "$scratch/fs.sf" "$scratch/bytes.bin"
    expect 0 "frame size $fs decrypts" "$SF" decrypt --threads 2 \
        -o "$scratch/fs.out" "$scratch/fs.sf"
    check "frame size $fs round trip" cmp -s "$scratch/bytes.bin" \
        "$scratch/fs.out"
done
for fs in 0 17M 16777217 abc 64X -5 ""; do
    expect 2 "bad frame size '$fs' refused" "$SF" encrypt -k orders \
        --frame-size "$fs" -o "$scratch/bad.sf" "$scratch/small.txt"
done
check "refused frame sizes left no output" test ! -e "$scratch/bad.sf"
expect 2 "unknown suite refused" "$SF" encrypt -k orders --suite aes-128 \
    -o "$scratch/bad.sf" "$scratch/small.txt"
expect 2 "threads 0 refused" "$SF" encrypt -k orders --threads 0 \
    -o "$scratch/bad.sf" "$scratch/small.txt"
expect 0 "threads 1 works" "$SF" encrypt -k orders --threads 1 \
    -o "$scratch/t1.sf" "$scratch/rand.bin"

# ---- usage rules ----
expect 2 "encrypt without -k or -r is a usage error" "$SF" encrypt \
    -o "$scratch/bad.sf" "$scratch/small.txt"
expect 2 "-o naming the input is refused" "$SF" encrypt -k orders \
    -o "$scratch/small.txt" "$scratch/small.txt"
check "input untouched after refusal" test \
    "$(cat "$scratch/small.txt")" = "hello, sealflow"
ln -s "$scratch/small.txt" "$scratch/link.txt"
expect 2 "-o naming the input through a symlink is refused" "$SF" \
    encrypt -k orders -o "$scratch/link.txt" "$scratch/small.txt"
expect 2 "decrypt -o naming the input is refused" "$SF" decrypt \
    -o "$scratch/small.txt.sf" "$scratch/small.txt.sf"
expect 2 "two inputs are a usage error" "$SF" encrypt -k orders \
    "$scratch/small.txt" "$scratch/rand.bin"
expect 6 "a missing input is an I/O error" "$SF" encrypt -k orders \
    -o "$scratch/bad.sf" "$scratch/nope"
check "missing input left no output" test ! -e "$scratch/bad.sf"
expect 5 "an unknown -k key is key-not-found" "$SF" encrypt -k nope \
    -o "$scratch/bad.sf" "$scratch/small.txt"
check "unknown key left no output" test ! -e "$scratch/bad.sf"
expect 3 "a bad -k name is bad input" "$SF" encrypt -k "a b" \
    -o "$scratch/bad.sf" "$scratch/small.txt"
expect 6 "an output folder that does not exist is an I/O error" "$SF" \
    encrypt -k orders -o "$scratch/nodir/x.sf" "$scratch/small.txt"
if command -v script >/dev/null; then
    script -qec "$SF encrypt -k orders $scratch/small.txt" /dev/null \
        >"$scratch/tty.txt" 2>&1
    check "ciphertext to a terminal is refused" has "$scratch/tty.txt" \
        "refusing to write binary ciphertext to a terminal"
else
    echo "SKIP: terminal refusal (script not installed)"
fi

# ---- progress ----
expect 0 "--progress forces the bar" "$SF" encrypt --progress -k orders \
    -o "$scratch/p.sf" "$scratch/rand.bin"
check "the bar shows a rate" has "$scratch/err" "MB/s"
check "the bar shows the total" has "$scratch/err" "293.0 KiB"
expect 0 "--no-progress hides it" "$SF" decrypt --no-progress \
    -o "$scratch/p.out" "$scratch/p.sf"
check "no bar with --no-progress" test ! -s "$scratch/err"
expect 0 "no bar when stderr is not a terminal" "$SF" decrypt \
    -o "$scratch/p.out" "$scratch/p.sf"
check "stderr stays empty" test ! -s "$scratch/err"

# ---- context pairs ----
expect 0 "encrypt with context pairs" "$SF" encrypt -k orders \
    -c tenant=acme -c class=confidential -c empty= \
    -o "$scratch/ctx.sf" "$scratch/small.txt"
expect 0 "decrypt checks a present pair" "$SF" decrypt -c tenant=acme \
    -c empty= -o "$scratch/ctx.out" "$scratch/ctx.sf"
expect 4 "decrypt refuses a different value" "$SF" decrypt -c tenant=evil \
    -o "$scratch/ctx2.out" "$scratch/ctx.sf"
check "mismatch named" has "$scratch/err" "context mismatch"
check "no output after a context mismatch" test ! -e "$scratch/ctx2.out"
expect 4 "decrypt refuses a missing pair" "$SF" decrypt -c stage=prod \
    -o "$scratch/ctx2.out" "$scratch/ctx.sf"
expect 2 "-c without '=' is refused" "$SF" encrypt -k orders -c tenant \
    -o "$scratch/bad.sf" "$scratch/small.txt"
expect 2 "-c with an empty key is refused" "$SF" encrypt -k orders -c =x \
    -o "$scratch/bad.sf" "$scratch/small.txt"
expect 2 "-c with a repeated key is refused" "$SF" encrypt -k orders \
    -c a=1 -c a=2 -o "$scratch/bad.sf" "$scratch/small.txt"
check "repeated key named" has "$scratch/err" "'a' given twice"
expect 0 "a value may hold '='" "$SF" encrypt -k orders -c q=a=b \
    -o "$scratch/eq.sf" "$scratch/small.txt"
expect 0 "and is matched whole" "$SF" decrypt -c q=a=b \
    -o "$scratch/eq.out" "$scratch/eq.sf"

# ---- partner X25519 identity ----
expect 0 "identity generate -o" "$SF" identity generate \
    -o "$scratch/partner.key"
cp "$scratch/out" "$scratch/partner.pub"
check "the recipient is printed on stdout" grep -qE \
    '^sealflow-x25519:[A-Za-z0-9_-]+$' "$scratch/partner.pub"
check "the identity file has mode 600" test \
    "$(mode_of "$scratch/partner.key")" = 600
check "the identity file holds the secret" has "$scratch/partner.key" \
    "SEALFLOW-X25519-SECRET:"
check "the secret is not on stdout" not has "$scratch/out" SECRET
expect 1 "identity generate never overwrites" "$SF" identity generate \
    -o "$scratch/partner.key"
expect 0 "identity generate to stdout" "$SF" identity generate
check "stdout has the secret" has "$scratch/out" "SEALFLOW-X25519-SECRET:"
check "stderr has the recipient" has "$scratch/err" "sealflow-x25519:"
expect 0 "identity generate --json" "$SF" identity generate --json \
    -o "$scratch/p2.key"
check "json names the recipient" grep -q '"recipient": "sealflow-x25519:' \
    "$scratch/out"

expect 0 "encrypt to a keystore key and a recipient file" "$SF" encrypt \
    -k orders -r "$scratch/partner.pub" -o "$scratch/both.sf" \
    "$scratch/rand.bin"
expect 0 "the partner decrypts without any keystore" env \
    SEALFLOW_HOME="$scratch/nohome" "$SF" decrypt -i "$scratch/partner.key" \
    -o "$scratch/both.partner" "$scratch/both.sf"
check "partner round trip" cmp -s "$scratch/rand.bin" "$scratch/both.partner"
expect 0 "the keystore decrypts the same file" "$SF" decrypt \
    -o "$scratch/both.local" "$scratch/both.sf"
check "keystore round trip" cmp -s "$scratch/rand.bin" "$scratch/both.local"
expect 0 "-r takes the recipient string itself" "$SF" encrypt \
    -r "$(cat "$scratch/partner.pub")" -o "$scratch/str.sf" \
    "$scratch/small.txt"
expect 0 "and the partner opens it" "$SF" decrypt -i "$scratch/partner.key" \
    -o "$scratch/str.out" "$scratch/str.sf"
printf '%s   \r\n' "$(cat "$scratch/partner.pub")" >"$scratch/crlf.pub"
expect 0 "a recipient file with CRLF and trailing spaces" "$SF" encrypt \
    -r "$scratch/crlf.pub" -o "$scratch/crlf.sf" "$scratch/small.txt"
expect 0 "opens with the identity" "$SF" decrypt -i "$scratch/partner.key" \
    -o "$scratch/crlf.out" "$scratch/crlf.sf"
check "CRLF recipient round trip" cmp -s "$scratch/small.txt" \
    "$scratch/crlf.out"
expect 3 "a malformed recipient string is bad input" "$SF" encrypt \
    -r "sealflow-x25519:AAAA" -o "$scratch/bad.sf" "$scratch/small.txt"
expect 3 "a recipient that is neither string nor file is bad input" \
    "$SF" encrypt -r "$scratch/no-such.pub" -o "$scratch/bad.sf" \
    "$scratch/small.txt"
expect 3 "an identity passed as -r is refused" "$SF" encrypt \
    -r "$scratch/partner.key" -o "$scratch/bad.sf" "$scratch/small.txt"
check "the secret is never echoed" not has "$scratch/err" \
    "$(grep SECRET "$scratch/partner.key")"
check "refused recipients left no output" test ! -e "$scratch/bad.sf"

# ---- RSA public key PEM ----
if openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 \
    -out "$scratch/rsa.key" 2>/dev/null &&
    openssl pkey -in "$scratch/rsa.key" -pubout -out "$scratch/rsa.pub" \
        2>/dev/null; then
    expect 0 "encrypt to an RSA-3072 PEM public key" "$SF" encrypt \
        -r "$scratch/rsa.pub" -o "$scratch/rsa.sf" "$scratch/rand.bin"
    expect 0 "decrypt with the RSA private key PEM" env \
        SEALFLOW_HOME="$scratch/nohome" "$SF" decrypt -i "$scratch/rsa.key" \
        -o "$scratch/rsa.out" "$scratch/rsa.sf"
    check "RSA round trip" cmp -s "$scratch/rand.bin" "$scratch/rsa.out"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -out "$scratch/rsa2k.key" 2>/dev/null
    openssl pkey -in "$scratch/rsa2k.key" -pubout -out "$scratch/rsa2k.pub" \
        2>/dev/null
    expect 3 "an RSA-2048 key is refused" "$SF" encrypt \
        -r "$scratch/rsa2k.pub" -o "$scratch/bad.sf" "$scratch/small.txt"
else
    echo "SKIP: RSA recipient tests (openssl could not make a key)"
fi

# ---- keystore x25519 and RSA keys ----
"$SF" keys create kx --type x25519 >/dev/null 2>&1
expect 0 "encrypt to a keystore x25519 key" "$SF" encrypt -k kx \
    -o "$scratch/kx.sf" "$scratch/small.txt"
expect 0 "the keystore opens it" "$SF" decrypt -o "$scratch/kx.out" \
    "$scratch/kx.sf"
check "keystore x25519 round trip" cmp -s "$scratch/small.txt" \
    "$scratch/kx.out"

finish
