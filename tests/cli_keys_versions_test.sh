#!/usr/bin/env bash
# sealflow keys show: every version with its own creation time, in text
# and JSON, and a refusal when a version's time was edited in the file.
. "$(dirname "$0")/cli_common.sh"

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
ks="$SEALFLOW_HOME/keystore.db"

# Versions a second apart, so each has a time of its own.
"$SF" keys create orders 2>/dev/null
sleep 1.1
"$SF" keys rotate orders 2>/dev/null
sleep 1.1
"$SF" keys rotate orders 2>/dev/null
"$SF" keys config orders --min-decryption-version 2 2>/dev/null

times_in_file=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(" ".join(str(r[0]) for r in db.execute(
    "SELECT created_at FROM key_versions WHERE name = ? ORDER BY version",
    ("orders",))))' "$ks")
read -r t1 t2 t3 <<< "$times_in_file"
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

expect 0 "show --json works" "$SF" keys show --json orders
check "three versions are listed" test \
    "$(json "$scratch/out" 'len(j["versions"])')" = 3
check "each version has the time stored for it" test \
    "$(json "$scratch/out" '" ".join(str(v["created_at_s"])
        for v in j["versions"])')" = "$t1 $t2 $t3"
check "the times differ and increase" test "$t1" -lt "$t2" -a "$t2" -lt "$t3"
check "version 2 has its own time, not version 1's" test \
    "$(json "$scratch/out" 'j["versions"][1]["created_at"]')" = "$(iso "$t2")"
check "created_at of the key is version 1's" test \
    "$(json "$scratch/out" 'j["created_at"]')" = "$(iso "$t1")"
check "latest_created_at is version 3's" test \
    "$(json "$scratch/out" 'j["latest_created_at"]')" = "$(iso "$t3")"

expect 0 "show works" "$SF" keys show orders
check "version 1 line has its time" grep -qE \
    "^  1 +retired +created $(iso "$t1")\$" "$scratch/out"
check "version 2 line has its time" grep -qE \
    "^  2 +decrypt only +created $(iso "$t2")\$" "$scratch/out"
check "version 3 line has its time" grep -qE \
    "^  3 +encrypt and decrypt +created $(iso "$t3")\$" "$scratch/out"

expect 0 "rotate --json lists the new version with its time" "$SF" keys \
    rotate --json orders
check "rotate --json has four timed versions" test \
    "$(json "$scratch/out" 'sum(1 for v in j["versions"]
        if v["created_at"].endswith("Z"))')" = 4

# A version's time is authenticated with its material: an edit in the
# file is refused, not shown.
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE key_versions SET created_at = created_at - 86400"
           " WHERE name = ? AND version = 2", ("orders",))
db.commit()' "$ks"
expect 7 "an edited version time is refused" "$SF" keys show orders
check "the error names the key and version" has "$scratch/err" \
    "key 'orders' version 2 failed authentication"
expect 7 "show --json refuses it too" "$SF" keys show --json orders
check "nothing is printed on stdout" test ! -s "$scratch/out"
expect 0 "list still works (settings are intact)" "$SF" keys list

finish
