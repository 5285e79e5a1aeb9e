#!/usr/bin/env bash
# sealflow CLI: `make demo` (scripts/demo) runs every step to the end.
. "$(dirname "$0")/cli_common.sh"

demo="${SF_SOURCE_DIR:-$(dirname "$0")/..}/scripts/demo"
build=$(dirname "$SF")
expect 0 "the demo runs to the end" "$demo" "$build"
check "it reports success" has "$scratch/out" "demo: all steps passed"
for step in "sealflow init" "sealflow keys create orders" \
    "sealflow identity generate" "sealflow encrypt -k orders -r" \
    "sealflow inspect" "sealflow decrypt -i" "sealflow keys rotate" \
    "sealflow rewrap -k orders"; do
    check "it shows '$step'" has "$scratch/out" "\$ $step"
done
check "the partner opened the file" has "$scratch/out" \
    "ok: the partner opened the file"
check "the rewrap moved the file" has "$scratch/out" "(orders v1 -> v2)"
demo_dir=$(sed -n 's/.*in scratch folder \([^ ]*\) .*/\1/p' "$scratch/out")
check "it names its scratch folder" test -n "$demo_dir"
check "and removes it" test ! -e "${demo_dir:-/nonexistent}"
expect 1 "a missing build folder is reported" "$demo" "$scratch/nobuild"
check "with the reason" has "$scratch/err" "no sealflow binary"

finish
