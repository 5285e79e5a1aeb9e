#!/usr/bin/env bash
# sealflow CLI: pointing --keystore at a file that is not a keystore is
# refused and leaves that file exactly as it was.
. "$(dirname "$0")/cli_common.sh"

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
root="$SEALFLOW_HOME/root.key"

: >"$scratch/e.db"
expect 7 "an empty file is not a keystore" "$SF" --keystore "$scratch/e.db" \
    --root-key "$root" keys list
check "the message says it is empty" has "$scratch/err" \
    "not a sealflow keystore (empty file)"
check "the empty file stays empty" test ! -s "$scratch/e.db"
check "no -wal or -shm beside it" test ! -e "$scratch/e.db-wal" -a \
    ! -e "$scratch/e.db-shm"

python3 - "$scratch/app.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode = delete")
db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
db.execute("INSERT INTO orders (item) VALUES ('tea')")
db.commit()
db.close()
PY
cp "$scratch/app.db" "$scratch/app.copy"
expect 7 "another application's database is not a keystore" "$SF" \
    --keystore "$scratch/app.db" --root-key "$root" keys list
check "it is refused as not a keystore" has "$scratch/err" \
    "not a sealflow keystore"
check "the database is byte for byte unchanged" cmp -s "$scratch/app.db" \
    "$scratch/app.copy"
check "no -wal or -shm beside it" test ! -e "$scratch/app.db-wal" -a \
    ! -e "$scratch/app.db-shm"

expect 0 "the real keystore still opens" "$SF" keys list

finish
