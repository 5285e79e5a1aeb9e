#!/usr/bin/env bash
# sealflow CLI edge cases: output onto FIFOs, devices, sockets and links;
# secrets never echoed; file text escaped on the terminal; identity files;
# help texts; stdout that fails; de-duplicated keys; rewrap refusals.
#
# No real /dev node is ever an -o target except /dev/null, and that one
# only once a FIFO survived -o: a sealflow that replaced nodes would turn
# /dev/null into a regular file. stdout is named as /proc/self/fd/1.
. "$(dirname "$0")/cli_common.sh"

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
"$SF" keys create t1 >/dev/null 2>&1
printf 'edge case data\n' >"$scratch/in.txt"
"$SF" identity generate -o "$scratch/id.key" >"$scratch/id.pub" 2>/dev/null
secret_line=$(grep SECRET "$scratch/id.key")
check "setup: an identity exists" test -n "$secret_line"

# opens FILE with the keystore and compares it with the input
opens() {
    "$SF" decrypt -o "$scratch/opened.txt" "$1" 2>/dev/null &&
        cmp -s "$scratch/in.txt" "$scratch/opened.txt"
}

# ---- -o onto things that are not regular files ----
mkfifo "$scratch/fifo"
timeout 20 cat "$scratch/fifo" >"$scratch/from-fifo.sf" &
reader=$!
expect 0 "-o onto a FIFO succeeds" timeout 20 "$SF" encrypt -k t1 \
    -o "$scratch/fifo" "$scratch/in.txt"
fifo_kept=no
test -p "$scratch/fifo" && fifo_kept=yes
check "the FIFO is still a FIFO" test "$fifo_kept" = yes
[ "$fifo_kept" = yes ] || kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
check "the reader got the ciphertext through the FIFO" \
    opens "$scratch/from-fifo.sf"

python3 -c 'import socket, sys
socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$scratch/sock"
expect 6 "-o onto a socket is refused" "$SF" encrypt -k t1 \
    -o "$scratch/sock" "$scratch/in.txt"
check "which the message says" has "$scratch/err" "it is a socket"
check "the socket is still a socket" test -S "$scratch/sock"

if [ "$fifo_kept" = yes ] && [ -c /dev/null ]; then
    expect 0 "-o /dev/null succeeds" "$SF" encrypt -k t1 -o /dev/null \
        "$scratch/in.txt"
    check "/dev/null is still a character device" test -c /dev/null
else
    echo "SKIP: -o /dev/null (a FIFO did not survive -o, or no /dev/null)"
fi

"$SF" encrypt -k t1 -o /proc/self/fd/1 "$scratch/in.txt" \
    >"$scratch/stdout.sf" 2>"$scratch/err"
check "-o naming stdout writes to stdout" opens "$scratch/stdout.sf"
"$SF" encrypt -k t1 -o /proc/self/fd/1 "$scratch/in.txt" 2>/dev/null |
    cat >"$scratch/piped.sf"
check "-o naming stdout writes into a pipe" opens "$scratch/piped.sf"

# ---- -o through symbolic links ----
mkdir "$scratch/sub"
printf 'old' >"$scratch/sub/target.sf"
ln -s sub/target.sf "$scratch/link"
ln -s link "$scratch/link2"
expect 0 "-o through a chain of links" "$SF" encrypt -k t1 \
    -o "$scratch/link2" "$scratch/in.txt"
check "the first link is still a link" test -L "$scratch/link2"
check "the second link is still a link" test -L "$scratch/link"
check "the file the links name got the ciphertext" \
    opens "$scratch/sub/target.sf"
check "no temporary file beside the links" no_temp_files "$scratch"
check "nor beside the target" no_temp_files "$scratch/sub"
ln -s sub/new.sf "$scratch/dangling"
expect 0 "-o through a dangling link" "$SF" encrypt -k t1 \
    -o "$scratch/dangling" "$scratch/in.txt"
check "the dangling link is still a link" test -L "$scratch/dangling"
check "and the file it names was created" opens "$scratch/sub/new.sf"

# ---- -o messages and long names ----
mkdir "$scratch/adir"
expect 6 "-o naming a folder is an I/O error" "$SF" encrypt -k t1 \
    -o "$scratch/adir" "$scratch/in.txt"
check "saying it is a directory" has "$scratch/err" \
    "cannot write output $scratch/adir: it is a directory"
expect 6 "-o into a missing folder is an I/O error" "$SF" encrypt -k t1 \
    -o "$scratch/nodir/x" "$scratch/in.txt"
check "naming the missing folder" has "$scratch/err" \
    "folder $scratch/nodir does not exist"
for len in 247 250 255; do
    name=$(printf 'n%.0s' $(seq "$len"))
    expect 0 "-o with a $len-byte name" "$SF" encrypt -k t1 \
        -o "$scratch/sub/$name" "$scratch/in.txt"
    check "the $len-byte file opens" opens "$scratch/sub/$name"
done
check "long names leave no temporary file" no_temp_files "$scratch/sub"

# ---- secrets are never echoed ----
expect 3 "an identity file's text as -r is refused" "$SF" encrypt -k t1 \
    -r "$(cat "$scratch/id.key")" -o "$scratch/bad.sf" "$scratch/in.txt"
check "without echoing the secret" not has "$scratch/err" "$secret_line"
check "saying it is an identity" has "$scratch/err" "is an identity"
expect 3 "a secret with a leading space as -r is refused" "$SF" encrypt \
    -k t1 -r " $secret_line" -o "$scratch/bad.sf" "$scratch/in.txt"
check "without echoing it" not has "$scratch/err" "${secret_line#*:}"
expect 3 "a lower-case secret as -r is refused" "$SF" encrypt -k t1 \
    -r "$(printf '%s' "$secret_line" | tr 'A-Z' 'a-z')" \
    -o "$scratch/bad.sf" "$scratch/in.txt"
check "without echoing it" not has "$scratch/err" \
    "$(printf '%s' "${secret_line#*:}" | tr 'A-Z' 'a-z')"
long_arg=$(printf 'z%.0s' $(seq 150))
expect 3 "a 150-byte -r that is no file is refused" "$SF" encrypt -k t1 \
    -r "$long_arg" -o "$scratch/bad.sf" "$scratch/in.txt"
check "without echoing it" not has "$scratch/err" "zzzzzzzzzzzzzzzzzzzz"
expect 2 "an identity as -i is refused" "$SF" decrypt -i "$secret_line" \
    -o "$scratch/bad.txt" "$scratch/stdout.sf"
check "without echoing it" not has "$scratch/err" "${secret_line#*:}"
check "saying to put it in a file" has "$scratch/err" "pass -i FILE"
expect 3 "an identity file as -r is refused" "$SF" encrypt -k t1 \
    -r "$scratch/id.key" -o "$scratch/bad.sf" "$scratch/in.txt"
check "saying it is a secret identity" has "$scratch/err" \
    "this is a secret identity"
check "naming its public recipient" has "$scratch/err" "$(cat "$scratch/id.pub")"
check "still without the secret" not has "$scratch/err" "${secret_line#*:}"
check "refused recipients left no output" test ! -e "$scratch/bad.sf"

# ---- file text is escaped on the terminal ----
fake=$(printf 'a\n  kek       fake  version 9\033[31m\302\233\342\200\256')
"$SF" encrypt -k t1 -c "note=$fake" -o "$scratch/ctx.sf" \
    "$scratch/in.txt" 2>/dev/null
expect 0 "inspect a file with control bytes in its context" "$SF" inspect \
    "$scratch/ctx.sf"
check "no escape byte reaches the terminal" not grep -q $'\033' \
    "$scratch/out"
check "no C1 control reaches it" not grep -q $'\302\233' "$scratch/out"
check "no direction override reaches it" not grep -q $'\342\200\256' \
    "$scratch/out"
check "no fake stanza line appears" not grep -q '^  kek       fake' \
    "$scratch/out"
check "the value is shown escaped" has "$scratch/out" \
    'note=a\n  kek       fake  version 9\x1b[31m\u009b\u202e'
expect 0 "inspect --json of that file" "$SF" inspect --json "$scratch/ctx.sf"
check "JSON keeps the exact value" test \
    "$(json "$scratch/out" 'j["context"]["note"] == "a\n  kek       fake  version 9\x1b[31m\x9b\u202e"')" = true
expect 4 "a context mismatch on that file" "$SF" decrypt -c note=x \
    -o "$scratch/bad.txt" "$scratch/ctx.sf"
check "quotes the value escaped" has "$scratch/err" 'a\n  kek'
check "with no escape byte" not grep -q $'\033' "$scratch/err"
evil=$(printf 'ev\033[2Jil\377.sf')
cp "$scratch/ctx.sf" "$scratch/$evil"
expect 0 "inspect a file whose name holds control bytes" "$SF" inspect \
    "$scratch/$evil"
check "the name is escaped" has "$scratch/out" 'ev\x1b[2Jil\xff.sf'
expect 6 "a missing file with such a name" "$SF" decrypt \
    "$scratch/no$evil"
check "is named escaped in the error" has "$scratch/err" 'noev\x1b[2Jil\xff'
check "with no escape byte" not grep -q $'\033' "$scratch/err"

# ---- identity files ----
"$SF" identity generate >"$scratch/my.key" 2>"$scratch/my.pub"
check "without -o, stderr is the recipient alone" grep -qxE \
    'sealflow-x25519:[A-Za-z0-9_-]{43}' "$scratch/my.pub"
check "and nothing else" test "$(wc -l <"$scratch/my.pub")" -eq 1
expect 0 "that stderr file works as -r" "$SF" encrypt \
    -r "$scratch/my.pub" -o "$scratch/my.sf" "$scratch/in.txt"
chmod 600 "$scratch/my.key"
expect 0 "its identity opens the file" "$SF" decrypt -i "$scratch/my.key" \
    -o "$scratch/my.txt" "$scratch/my.sf"
check "a mode-600 identity draws no warning" not has "$scratch/err" \
    "warning"
printf 'public recipient: %s\n' "$(cat "$scratch/my.pub")" >"$scratch/old.pub"
expect 0 "a recipient line labelled 'public recipient:' works" "$SF" \
    encrypt -r "$scratch/old.pub" -o "$scratch/old.sf" "$scratch/in.txt"
chmod 644 "$scratch/my.key"
expect 0 "a group-readable identity still opens the file" "$SF" decrypt \
    -i "$scratch/my.key" -o "$scratch/my.txt" "$scratch/my.sf"
check "with a warning about its mode" has "$scratch/err" \
    "is accessible by group or others (mode 0644)"

# ---- one key or recipient given twice ----
expect 0 "-k given twice" "$SF" encrypt -k t1 -k t1 -o "$scratch/dup.sf" \
    "$scratch/in.txt"
check "warns" has "$scratch/err" "-k t1 is given twice"
"$SF" inspect --json "$scratch/dup.sf" >"$scratch/dup.json"
check "and seals to it once" test \
    "$(json "$scratch/dup.json" 'len(j["stanzas"])')" = 1
expect 0 "a recipient given as file and as string" "$SF" encrypt \
    -r "$scratch/id.pub" -r "$(cat "$scratch/id.pub")" \
    -o "$scratch/dup2.sf" "$scratch/in.txt"
check "warns" has "$scratch/err" "is given twice"
"$SF" inspect --json "$scratch/dup2.sf" >"$scratch/dup2.json"
check "and seals to it once" test \
    "$(json "$scratch/dup2.json" 'len(j["stanzas"])')" = 1

# ---- not a sealflow file ----
: >"$scratch/empty.sf"
expect 3 "decrypt of an empty file is bad input" "$SF" decrypt \
    -o "$scratch/bad.txt" "$scratch/empty.sf"
check "saying it is not a sealflow message" has "$scratch/err" \
    "not a sealflow message"
printf 'S' >"$scratch/one.sf"
expect 3 "decrypt of a 1-byte file is bad input" "$SF" decrypt \
    -o "$scratch/bad.txt" "$scratch/one.sf"
head -c 3 "$scratch/dup.sf" >"$scratch/three.sf"
expect 3 "decrypt of the first 3 bytes of a message is bad input" "$SF" \
    decrypt -o "$scratch/bad.txt" "$scratch/three.sf"
head -c 20 "$scratch/dup.sf" >"$scratch/cut.sf"
expect 4 "a header cut after its magic still fails authentication" "$SF" \
    decrypt -o "$scratch/bad.txt" "$scratch/cut.sf"
check "none of them wrote output" test ! -e "$scratch/bad.txt"

# ---- rewrap ----
cp "$scratch/dup.sf" "$scratch/rw.sf"
expect 5 "rewrap -k with a key that does not exist" "$SF" rewrap \
    -k nokey "$scratch/rw.sf"
check "says the key is not in the keystore" has "$scratch/err" \
    "key 'nokey' is not in keystore"
check "and leaves the file alone" cmp -s "$scratch/dup.sf" "$scratch/rw.sf"
"$SF" encrypt -r "$scratch/id.pub" -o "$scratch/partner.sf" \
    "$scratch/in.txt" 2>/dev/null
expect 5 "rewrap of a file no keystore key opens" "$SF" rewrap \
    "$scratch/partner.sf"
check "speaks of the keystore" has "$scratch/err" \
    "no key in the keystore can unwrap its data key"
check "not of given identities" not has "$scratch/err" "given identity"
expect 2 "rewrap - is a usage error" "$SF" rewrap -
check "saying stdin cannot be rewritten" has "$scratch/err" "stdin"

# ---- help ----
for cmd in "encrypt" "decrypt" "rewrap" "inspect" "init" \
    "identity generate" "identity" "keys"; do
    # shellcheck disable=SC2086
    expect 0 "$cmd --help exits 0" "$SF" $cmd --help
done
"$SF" encrypt --help >"$scratch/help.txt"
check "encrypt --help does not offer --json" not has "$scratch/help.txt" \
    "--json"
"$SF" inspect --help >"$scratch/help.txt"
check "inspect --help offers --json" has "$scratch/help.txt" "  --json"
# usage_lists_all CMD...: every option the help describes is in its Usage
# lines, by its short or its long name.
usage_lists_all() {
    "$SF" "$@" --help | python3 -c 'import re, sys
text = sys.stdin.read()
usage = text.split("\n\n")[0]
opts = text.split("\nOptions:\n")[1].split("\n\n")[0] if "\nOptions:\n" \
    in text else ""
def used(name):
    return re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])",
                     usage) is not None
missing = []
for line in opts.split("\n"):
    names = re.findall(r"(?<![\w-])--?[a-zA-Z][a-z-]*", line.split("  ")[1]
                       if line.startswith("  -") else "")
    if names and not any(used(n) for n in names):
        missing.append(names[-1])
if missing:
    print("missing: " + " ".join(missing))
sys.exit(1 if missing else 0)'
}
for cmd in "encrypt" "decrypt" "rewrap" "identity generate"; do
    # shellcheck disable=SC2086
    check "$cmd: Usage lists every option" usage_lists_all $cmd
done

# ---- stdout that fails ----
if [ -c /dev/full ]; then
    "$SF" encrypt --help >/dev/full 2>/dev/null
    check "encrypt --help to a full disk exits 6" test $? -eq 6
    "$SF" keys --help >/dev/full 2>/dev/null
    check "keys --help to a full disk exits 6" test $? -eq 6
    "$SF" identity generate -o "$scratch/full.key" >/dev/full \
        2>"$scratch/err"
    check "identity generate to a full stdout exits 6" test $? -eq 6
    check "and writes no identity file" test ! -e "$scratch/full.key"
    check "saying so" has "$scratch/err" "no identity file was written"
    SEALFLOW_HOME="$scratch/full-home" "$SF" init --json >/dev/full \
        2>"$scratch/err"
    check "init to a full stdout exits 6" test $? -eq 6
    check "saying the keystore was created" has "$scratch/err" \
        "the keystore WAS created"
    check "which it was" test -e "$scratch/full-home/keystore.db"
else
    echo "SKIP: full stdout (no /dev/full)"
fi

finish
