# Shared helpers for the sealflowd end-to-end tests (sourced, not run).
#
# start_daemon ARGS... starts sealflowd on 127.0.0.1 with the system
# choosing a free port (port 0, so parallel tests never collide), waits
# until sys/health answers and sets ADDR, TOKEN and DAEMON_PID. The
# daemon is stopped by the EXIT trap that sourcing this file installs.

set -u

DAEMON=${SF_DAEMON:-${SF_BUILD_DIR:-build}/sealflowd}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sealflowd-test-XXXXXX")
DAEMON_PID=""
ADDR=""
TOKEN=""
FAILS=0

cleanup() {
    stop_daemon
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}

pass() {
    echo "ok: $*"
}

# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1: expected '$2', got '$3'"
    fi
}

# check_contains NAME NEEDLE HAYSTACK
check_contains() {
    case "$3" in
        *"$2"*) pass "$1" ;;
        *) fail "$1: '$2' not found in: $3" ;;
    esac
}

finish() {
    if [ "$FAILS" -ne 0 ]; then
        echo "$FAILS check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
    exit 0
}

# start_daemon [ARGS...]: dev mode in $WORK/dev unless ARGS say otherwise
start_daemon() {
    local out="$WORK/daemon.out" err="$WORK/daemon.err" i
    : > "$out"
    "$DAEMON" "$@" --listen 127.0.0.1:0 > "$out" 2> "$err" &
    DAEMON_PID=$!
    for i in $(seq 1 100); do
        ADDR=$(sed -n 's/^Address: *//p' "$out" | head -n 1)
        [ -n "$ADDR" ] && break
        if ! kill -0 "$DAEMON_PID" 2> /dev/null; then
            echo "sealflowd exited early:" >&2
            cat "$err" >&2
            DAEMON_PID=""
            return 1
        fi
        sleep 0.1
    done
    i=$(sed -n 's/^Root Token: *//p' "$out" | head -n 1)
    [ -n "$i" ] && TOKEN=$i
    for i in $(seq 1 50); do
        if curl -s -k -o /dev/null -f "$ADDR/v1/sys/health"; then
            return 0
        fi
        sleep 0.1
    done
    echo "sealflowd did not answer sys/health" >&2
    return 1
}

start_dev() {
    start_daemon --dev --dev-dir "$WORK/dev" "$@"
}

# stop_daemon: SIGTERM, then wait for a clean exit
stop_daemon() {
    if [ -n "$DAEMON_PID" ]; then
        kill -TERM "$DAEMON_PID" 2> /dev/null
        wait "$DAEMON_PID" 2> /dev/null
        DAEMON_STATUS=$?
        DAEMON_PID=""
    fi
}

# api METHOD PATH [BODY] [TOKEN]: sets STATUS and BODY
api() {
    local method=$1 path=$2 data=${3:-} tok=${4-$TOKEN}
    local args=(-s -o "$WORK/resp" -w '%{http_code}' -X "$method")
    [ -n "$tok" ] && args+=(-H "X-Vault-Token: $tok")
    [ -n "$data" ] && args+=(-H 'Content-Type: application/json' \
        --data-binary "$data")
    STATUS=$(curl "${args[@]}" "$ADDR$path")
    BODY=$(cat "$WORK/resp")
}

# the system Python (Debian's, with hvac), never a virtualenv's
PYTHON=/usr/bin/python3

have_hvac() {
    [ -x "$PYTHON" ] && "$PYTHON" -c 'import hvac' 2> /dev/null
}
