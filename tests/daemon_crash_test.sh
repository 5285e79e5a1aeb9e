#!/usr/bin/env bash
# Durability of sealflowd across kill -9. A client alternates rotate and
# encrypt on a few keys and records each result only once its 2xx answer
# has arrived; after a random short time the daemon is killed with
# SIGKILL and started again on the same keystore, token file and audit
# log. Every acknowledged key version must still exist, every recorded
# ciphertext must decrypt to its plaintext, every acknowledged rotation
# must be in the audit log, and the log must verify. Several cycles, all
# on loopback, bounded to well under a minute.
#
# SIGKILL ends the process, not the machine: data the daemon handed to
# the kernel survives it. So this proves that nothing is acknowledged
# before it is written and that a crash at any point leaves files the
# daemon starts from; it does not simulate losing the page cache, which
# is what fdatasync is for.
source "$(dirname "$0")/daemon_common.sh"

CYCLES=4
KEYS="crash-a crash-b crash-c"
BUDGET_S=50
CLIENT_PID=""
ACK="$WORK/acked"
BAD="$WORK/unexpected"
mkdir -p "$WORK/ks"
CONF="$WORK/sealflowd.conf"
cat >"$CONF" <<EOF
keystore = $WORK/ks/keystore.db
root_key = $WORK/ks/root.key
audit_log = $WORK/ks/audit.log
log_level = warn
EOF

stop_client() {
    if [ -n "$CLIENT_PID" ]; then
        kill -TERM "$CLIENT_PID" 2>/dev/null
        wait "$CLIENT_PID" 2>/dev/null
        CLIENT_PID=""
    fi
}
trap 'stop_client; cleanup' EXIT

if [ ! -x "$PYTHON" ]; then
    echo "SKIP: $PYTHON is not available, the crash client cannot run"
    exit 0
fi

# The client: threads that alternate rotate and encrypt over the keys
# given, one keep-alive connection each. A result is appended to the ack
# file (and flushed) only after its 200 answer was read whole; the first
# failed connection (the daemon is gone) stops every thread. Any answer
# other than 200 while the daemon lives goes to the unexpected file.
cat >"$WORK/client.py" <<'EOF'
import base64, http.client, json, os, sys, threading, time, urllib.parse

addr, token, ack_path, bad_path, secs = sys.argv[1:6]
keys = sys.argv[6:]
url = urllib.parse.urlsplit(addr)
end = time.monotonic() + float(secs)
stop = threading.Event()
lock = threading.Lock()
ack = open(ack_path, "a")
bad = open(bad_path, "a")
hdr = {"X-Vault-Token": token, "Content-Type": "application/json"}


def record(f, line):
    with lock:
        f.write(line + "\n")
        f.flush()


def call(conn, path, body):
    conn.request("POST", path, body=json.dumps(body), headers=hdr)
    r = conn.getresponse()
    return r.status, r.read()


def step(conn, i, key):
    if i % 2 == 0:
        st, body = call(conn, "/v1/transit/keys/%s/rotate" % key, {})
        if st != 200:
            record(bad, "rotate %s: %d %s" % (key, st, body[:200]))
            return
        j = json.loads(body)
        record(ack, "rotate %s %d %s" % (key, j["data"]["latest_version"],
                                         j["request_id"]))
    else:
        pt = base64.b64encode(os.urandom(24)).decode()
        st, body = call(conn, "/v1/transit/encrypt/%s" % key,
                        {"plaintext": pt})
        if st != 200:
            record(bad, "encrypt %s: %d %s" % (key, st, body[:200]))
            return
        j = json.loads(body)
        record(ack, "encrypt %s %s %s %s" % (key, pt, j["data"]["ciphertext"],
                                            j["request_id"]))


def worker(n):
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    i = 0
    while not stop.is_set() and time.monotonic() < end:
        try:
            step(conn, i, keys[(i // 2 + n) % len(keys)])
        except (OSError, http.client.HTTPException):
            stop.set()
        except (ValueError, KeyError) as e:
            record(bad, "malformed 200 answer: %r" % e)
        i += 1


threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
EOF

# The check after a restart: latest_version of every key at least the
# highest acknowledged version (rotations and ciphertexts alike), every
# ciphertext decrypted back to its plaintext (batch_input, 500 at a time),
# every acknowledged request (by its request_id) audited with outcome ok.
# Prints one line per finding and exits 1 when any check failed.
cat >"$WORK/verify.py" <<'EOF'
import http.client, json, sys, urllib.parse

addr, token, ack_path, audit_path = sys.argv[1:5]
url = urllib.parse.urlsplit(addr)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
hdr = {"X-Vault-Token": token, "Content-Type": "application/json"}
fails = 0


def call(method, path, body=None):
    conn.request(method, path, body=None if body is None else
                 json.dumps(body), headers=hdr)
    r = conn.getresponse()
    return r.status, json.loads(r.read() or b"{}")


def bad(msg):
    global fails
    fails += 1
    print("FAIL: " + msg)


top, acked, sealed = {}, set(), {}
rotations = 0
for line in open(ack_path):
    f = line.split()
    acked.add(f[-1])
    if f[0] == "rotate":
        top[f[1]] = max(top.get(f[1], 0), int(f[2]))
        rotations += 1
    else:
        v = int(f[3].split(":")[1][1:])
        top[f[1]] = max(top.get(f[1], 0), v)
        sealed.setdefault(f[1], []).append((f[2], f[3]))

for key, want in sorted(top.items()):
    st, body = call("GET", "/v1/transit/keys/" + key)
    have = body.get("data", {}).get("latest_version", 0) if st == 200 else 0
    if have < want:
        bad("%s: latest_version %d after the crash, %d was acknowledged"
            % (key, have, want))

opened = 0
for key, items in sorted(sealed.items()):
    for at in range(0, len(items), 500):
        chunk = items[at:at + 500]
        st, body = call("POST", "/v1/transit/decrypt/" + key,
                        {"batch_input": [{"ciphertext": c} for _, c in chunk]})
        res = body.get("data", {}).get("batch_results", [])
        if st != 200 or len(res) != len(chunk):
            bad("%s: batch decrypt answered %d: %s" % (key, st, body))
            continue
        for (pt, ct), r in zip(chunk, res):
            if r.get("plaintext") != pt:
                bad("%s: %s... does not decrypt (%s)"
                    % (key, ct[:16], r.get("error", "wrong plaintext")))
            else:
                opened += 1

# A rotation's answer shows the key's latest version, which a concurrent
# rotation may have made, so the audit is matched by request id.
audited = set()
for line in open(audit_path):
    e = json.loads(line)
    if e.get("outcome") == "ok":
        audited.add(e.get("request_id"))
missing = sorted(acked - audited)
if missing:
    bad("%d acknowledged requests are not in the audit log, e.g. %s"
        % (len(missing), missing[:3]))

print("verified: %d key(s), %d rotation(s), %d ciphertext(s) opened"
      % (len(top), rotations, opened))
sys.exit(1 if fails else 0)
EOF

# kill_daemon: SIGKILL, no drain, no close checkpoint
kill_daemon() {
    kill -KILL "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=""
}

out=$("$DAEMON" init --config "$CONF") || {
    echo "FAIL: sealflowd init" >&2
    exit 1
}
TOKEN=$(sed -n 's/^Root Token: *//p' <<<"$out")
start_daemon --config "$CONF" || exit 1
for k in $KEYS; do
    api POST "/v1/transit/keys/$k"
    check "key $k created" 200 "$STATUS"
done
: >"$ACK"
: >"$BAD"

for cycle in $(seq 1 "$CYCLES"); do
    if [ "$SECONDS" -gt "$BUDGET_S" ]; then
        fail "time budget of ${BUDGET_S}s spent before cycle $cycle"
        break
    fi
    before=$(wc -l <"$ACK")
    # shellcheck disable=SC2086
    "$PYTHON" "$WORK/client.py" "$ADDR" "$TOKEN" "$ACK" "$BAD" 20 $KEYS \
        2>"$WORK/client.err" &
    CLIENT_PID=$!
    # Kill at a random moment once results flow (a loaded machine may
    # take a while to start the client).
    for i in $(seq 1 100); do
        [ "$(wc -l <"$ACK")" -gt "$before" ] && break
        sleep 0.05
    done
    ms=$((100 + RANDOM % 1200))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    kill_daemon
    wait "$CLIENT_PID"
    client_rc=$?
    CLIENT_PID=""
    check "cycle $cycle: the client stopped cleanly after the kill" 0 \
        "$client_rc"
    after=$(wc -l <"$ACK")
    echo "cycle $cycle: killed ${ms} ms after the first result;" \
        "$((after - before)) acknowledged results"
    if [ "$after" -gt "$before" ]; then
        pass "cycle $cycle: the client had results acknowledged"
    else
        fail "cycle $cycle: nothing was acknowledged before the kill"
    fi
    check "cycle $cycle: no unexpected answers" "" "$(head -n 3 "$BAD")"

    start_daemon --config "$CONF" || {
        fail "cycle $cycle: sealflowd did not start again after kill -9"
        break
    }
    pass "cycle $cycle: sealflowd restarts on the same files"
    "$PYTHON" "$WORK/verify.py" "$ADDR" "$TOKEN" "$ACK" \
        "$WORK/ks/audit.log" >"$WORK/verify.out" 2>&1
    vrc=$?
    cat "$WORK/verify.out"
    check "cycle $cycle: every acknowledged result survived" 0 "$vrc"
    "$DAEMON" audit verify "$WORK/ks/audit.log" --config "$CONF" \
        >"$WORK/audit.out" 2>&1
    arc=$?
    check "cycle $cycle: the audit log verifies after the crash" 0 "$arc"
    [ "$arc" = 0 ] || cat "$WORK/audit.out"
done

# The checker itself must fail on a lost version and on a ciphertext that
# opens to something else, or its passes above mean nothing.
cp "$ACK" "$WORK/forged"
echo "rotate crash-a 1000000 00000000-0000-0000-0000-000000000000" \
    >>"$WORK/forged"
read -r _ key _ ct id < <(grep -m 1 '^encrypt' "$ACK")
echo "encrypt $key d3Jvbmc= $ct $id" >>"$WORK/forged"
"$PYTHON" "$WORK/verify.py" "$ADDR" "$TOKEN" "$WORK/forged" \
    "$WORK/ks/audit.log" >"$WORK/verify.out" 2>&1
check "the checker fails on forged acknowledgements" 1 "$?"
check_contains "it reports the lost version" "1000000 was acknowledged" \
    "$(cat "$WORK/verify.out")"
check_contains "it reports the wrong plaintext" "does not decrypt" \
    "$(cat "$WORK/verify.out")"
check_contains "it reports the unaudited request" "not in the audit log" \
    "$(cat "$WORK/verify.out")"

stop_daemon
check "the last daemon stops cleanly" 0 "$DAEMON_STATUS"
"$DAEMON" audit verify "$WORK/ks/audit.log" --config "$CONF" \
    >"$WORK/audit.out" 2>&1
check "the audit log verifies at the end" 0 "$?"
check "the run stayed within ${BUDGET_S}s" yes \
    "$([ "$SECONDS" -le "$BUDGET_S" ] && echo yes || echo no)"
finish
