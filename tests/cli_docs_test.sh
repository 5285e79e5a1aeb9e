#!/usr/bin/env bash
# sealflow CLI: the command reference lists every command that
# `sealflow --help` offers: docs/cli/README.md, the command table of
# docs/cli/sealflow.md, the per-command exit codes of docs/cli/exit-codes.md
# (at least the codes each page's "Exit status" section names) and the man
# page, which renders without warnings.
. "$(dirname "$0")/cli_common.sh"

src=${SF_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
docs=$src/docs/cli
man1=$src/docs/man/sealflow.1

# listed HELP-TEXT: the command words of a "Commands:" block.
listed() {
    awk '/^Commands:/ { p = 1; next } p && !NF { exit } p { print $1 }'
}

commands=()
for top in $("$SF" --help | listed); do
    case $top in help | version) continue ;; esac
    subs=$("$SF" "$top" --help | listed)
    if [ -z "$subs" ]; then
        commands+=("$top")
    fi
    for sub in $subs; do
        commands+=("$top $sub")
    done
done
all=" ${commands[*]/%/,} "
check "--help lists init" test "${all#* init,}" != "$all"
check "and keys export-public" test "${all#* keys export-public,}" != "$all"
check "and audit verify" test "${all#* audit verify,}" != "$all"

# page_of COMMAND: its page in docs/cli.
page_of() {
    case $1 in
    policy\ *) echo policy.md ;;
    *) echo "${1// /-}.md" ;;
    esac
}

# page_codes PAGE: the codes of its "Exit status" table, sorted.
page_codes() {
    awk '/^## Exit status/ { p = 1; next } /^## / { p = 0 } p' "$docs/$1" |
        grep -oE '^\| [0-9](, [0-9])* \|' | grep -oE '[0-9]' | sort -n |
        tr '\n' ' '
}

# table_codes COMMAND PAGE: the codes exit-codes.md gives COMMAND.
table_codes() {
    grep -F "| [$1]($2) | " "$docs/exit-codes.md" | sed 's/.*) | //; s/ |$//'
}

# covers "A B C" "B C": every code of the second list is in the first.
covers() {
    local c
    for c in $2; do
        [[ " $1 " == *" $c "* ]] || return 1
    done
}

# man_codes COMMAND: the line after ".B COMMAND" in the man page's
# "Per command" list.
man_codes() {
    M=".B $1" awk '/^\.SS "Per command"/ { p = 1 }
        p && $0 == ENVIRON["M"] { getline; print; exit }' "$man1"
}

for c in "${commands[@]}"; do
    p=$(page_of "$c")
    check "$c: has its page $p" test -f "$docs/$p"
    check "$c: docs/cli/README.md links the page" grep -qF \
        "| [${p%.md}]($p) | " "$docs/README.md"
    check "$c: and names the command" grep -qF "\`sealflow $c\`" \
        "$docs/README.md"
    check "$c: sealflow.md lists it" grep -qF "| [$c]($p) | " \
        "$docs/sealflow.md"
    codes=$(table_codes "$c" "$p")
    check "$c: exit-codes.md lists its codes" test -n "$codes"
    # policy.md documents check and explain together: their codes jointly.
    both=$codes
    [ "$p" = policy.md ] && both="$(table_codes "policy check" "$p")"`
        `" $(table_codes "policy explain" "$p")"
    check "$c: they include those of $p ($(page_codes "$p"))" \
        covers "$both" "$(page_codes "$p")"
    m=${c//-/\\-}
    check "$c: the man page describes it" grep -qF ".SS \"sealflow $m" \
        "$man1"
    check "$c: the man page gives the codes of exit-codes.md ($codes)" \
        test "$(man_codes "$m" | sed 's/ (.*//')" = "$codes"
done

if command -v man >/dev/null 2>&1; then
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$man1" \
        >"$scratch/man.txt" 2>"$scratch/man.err"
    check "the man page renders" test -s "$scratch/man.txt"
    check "without warnings" test ! -s "$scratch/man.err"
    sed 's/^/    | /' "$scratch/man.err" | head -n 5
else
    echo "SKIP: man page rendering (man is not installed)"
fi

finish
