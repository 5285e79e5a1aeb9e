# Shared by the tests/cli_*_test.sh scripts (sourced, not run): a scratch
# folder with its own SEALFLOW_HOME, removed on exit, the binary under
# test in $SF, and checks that count passes and failures.
#
# Each check prints "ok   NAME" or "FAIL NAME"; finish prints
# "N passed, N failed" and exits non-zero when anything failed.

set -u
if [ -z "${SF_CLI:-}" ] || [ ! -x "$SF_CLI" ]; then
    echo "FAIL: SF_CLI must name the sealflow binary (got '${SF_CLI:-}')"
    exit 1
fi
SF=$SF_CLI
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export SEALFLOW_HOME="$scratch/home"
unset SEALFLOW_KEYSTORE SEALFLOW_ROOT_KEY XDG_DATA_HOME
cd "$scratch" || exit 1
passed=0
failed=0

pass() {
    passed=$((passed + 1))
    echo "ok   $1"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL $1"
}

# run CMD...: runs CMD with stdin from /dev/null; stdout in $scratch/out,
# stderr in $scratch/err, exit code in $rc.
run() {
    "$@" >"$scratch/out" 2>"$scratch/err" </dev/null
    rc=$?
}

# expect CODE NAME CMD...: CMD must exit with CODE.
expect() {
    local want=$1 name=$2
    shift 2
    run "$@"
    if [ "$rc" -eq "$want" ]; then
        pass "$name"
    else
        fail "$name (exit $rc, expected $want)"
        sed 's/^/    | /' "$scratch/err" | head -n 8
    fi
}

# check NAME CMD...: CMD must succeed (a test expression or command).
check() {
    local name=$1
    shift
    if "$@"; then
        pass "$name"
    else
        fail "$name"
    fi
}

# not CMD...: CMD must fail (for check).
not() {
    ! "$@"
}

# has FILE TEXT: FILE contains the fixed string TEXT.
has() {
    grep -qF -- "$2" "$1"
}

# json FILE PYEXPR: prints PYEXPR evaluated with j = the JSON in FILE.
json() {
    python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None
      else v)' "$1" "$2" 2>/dev/null
}

# no_temp_files DIR: no temporary output file was left in DIR.
no_temp_files() {
    ! ls -A "$1" | grep -q '\.sf-'
}

# mode_of FILE: the permission bits, e.g. 600.
mode_of() {
    stat -c %a "$1"
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
