#!/usr/bin/env bash
# sealflow CLI: `make demo` (scripts/demo) runs every step to the end on
# the example datasets, prints the summary table, and stops with a clear
# message when a check fails. SF_DATA_DIR points at an empty place, so the
# real datasets are skipped and the test stays fast.
. "$(dirname "$0")/cli_common.sh"

demo="${SF_SOURCE_DIR:-$(dirname "$0")/..}/scripts/demo"
build=$(dirname "$SF")
export SF_DATA_DIR="$scratch/no-data"
unset SF_DEMO_KEEP

expect 0 "the demo runs to the end" "$demo" "$build"
out=$scratch/demo.out
cp "$scratch/out" "$out"
check "it reports success" has "$out" "demo: all steps passed"
for step in "sealflow init" "sealflow keys create shop-pci" \
    "sealflow keys create clinic-identity" \
    "sealflow identity generate -o partner/research-partner.key" \
    "sealflow policy check --keys examples/ecommerce/policy.yaml" \
    "sealflow policy check --keys healthcare/policy.yaml" \
    "sealflow seal -p examples/ecommerce/policy.yaml -o orders.sealed.jsonl" \
    "sealflow coverage --json -p healthcare/policy.yaml" \
    "sealflow open --as payment-gateway -p examples/ecommerce/policy.yaml" \
    "SEALFLOW_HOME=partner/no-keystore sealflow open --as research-partner" \
    "sealflow open --strict -o customers.opened.csv customers.sealed.csv" \
    "sealflow encrypt -k archive -r healthcare/research-partner.pub" \
    "SEALFLOW_HOME=partner/no-keystore sealflow decrypt -i"; do
    check "it shows '$step'" has "$out" "\$ $step"
done
for n in 1 2 3 4 5 6 7 8; do
    check "it numbers step $n" grep -q "^== $n\. " "$out"
done
check "coverage finds no violation in the orders" has "$out" \
    "0 violations in 6 records; fields sealed: internal=58 confidential=48"
check "the full opens give back the inputs" test \
    "$(grep -c 'ok: the full open gives back the input' "$out")" -eq 4
check "the partner opened the file envelope" has "$out" \
    "ok: the partner opened the file with its identity alone"
check "the real datasets are reported as skipped" has "$out" \
    "real datasets not found at $scratch/no-data: skipped"

# The summary table, row by row (the example inputs are fixed).
row() {
    grep -qE "^$1 +$2 +[0-9.]+ +[0-9.]+  $3\$" "$out"
}
check "the table has its header" grep -qE \
    '^dataset +records +MB +seal MB/s  fields sealed per class$' "$out"
check "the table has the orders" row orders.jsonl 6 \
    "internal=58 confidential=48 restricted=15"
check "the table has the customers" row customers.csv 6 \
    "internal=30 confidential=30 restricted=18"
check "the table has the patients" row patients.ndjson 3 \
    "internal=9 restricted=54"
check "the table has the conditions" row conditions.ndjson 3 \
    "internal=6 clinical=13"
check "the stage table has its header" grep -qE '^fields still sealed +web '`
    `'+order-service +payment-gateway +inventory +notification$' "$out"
check "each stage leaves its own fields of the orders sealed" grep -qE \
    '^orders.jsonl +121 +15 +48 +63 +73$' "$out"
check "and of the customers" grep -qE \
    '^customers.csv +78 +18 +30 +48 +48$' "$out"
check "payment-gateway sees card data, not contact data" grep -qE \
    '^  payment-gateway +public internal restricted$' "$out"
check "the partner sees the conditions' clinical fields only" grep -qE \
    '^conditions.ndjson +6$' "$out"
check "and none of the patients' identity" grep -qE \
    '^patients.ndjson +63$' "$out"
check "the partner's classes in clear" grep -qE \
    '^  research-partner +public clinical$' "$out"

demo_dir=$(sed -n 's/^scratch folder: \(.*\)$/\1/p' "$out")
check "it names its scratch folder" test -n "$demo_dir"
check "and removes it" test ! -e "${demo_dir:-/nonexistent}"

# SF_DEMO_KEEP=1 keeps the scratch folder with its outputs.
SF_DEMO_KEEP=1 expect 0 "SF_DEMO_KEEP=1 runs too" "$demo" "$build"
kept=$(sed -n 's/^demo: scratch folder kept: \(.*\)$/\1/p' "$scratch/out")
check "and keeps the scratch folder" \
    test -f "${kept:-/nonexistent}/orders.sealed.jsonl"
[ -n "$kept" ] && [ -d "$kept" ] && rm -rf "$kept"

# A CLI with one fault (SF_FAULT), to see each check stop the demo.
mkdir "$scratch/faulty"
cat >"$scratch/faulty/sealflow" <<EOF
#!/usr/bin/env bash
real='$SF'
EOF
cat >>"$scratch/faulty/sealflow" <<'EOF'
case "$SF_FAULT:$1:$*" in
weak-policy:seal:*ecommerce/policy.yaml*)
    # seal under a policy that leaves unclassified fields clear
    sed 's/^default: internal$/default: public/' "$3" >weak.yaml
    exec "$real" seal -p weak.yaml "${@:4}" ;;
extra-record:open:open\ --strict*)
    "$real" "$@" || exit
    echo '{"extra":true}' >>"$4"
    exit 0 ;;
partner-sees-all:open:*research-partner*)
    # open with the keystore, as if the partner could read everything
    SEALFLOW_HOME=keystore exec "$real" open -o "${@: -2:1}" "${@: -1}" ;;
esac
exec "$real" "$@"
EOF
chmod +x "$scratch/faulty/sealflow"

SF_FAULT=weak-policy expect 1 "a coverage violation stops the demo" \
    "$demo" "$scratch/faulty"
check "naming the file" has "$scratch/err" \
    "demo: FAILED: coverage of orders.sealed.jsonl: 58 violation(s)"
check "and the finding" has "$scratch/err" ": unsealed (internal)"
check "before any open" not has "$scratch/out" "sealflow open"

SF_FAULT=extra-record expect 1 "a full open that differs stops the demo" \
    "$demo" "$scratch/faulty"
check "naming both files" has "$scratch/err" \
    "demo: FAILED: orders.opened.jsonl differs from its input"

SF_FAULT=partner-sees-all expect 1 "a partner that sees too much stops it" \
    "$demo" "$scratch/faulty"
check "naming the class" has "$scratch/err" \
    "demo: FAILED: patients.research-partner.ndjson: the partner opened"

# The examples' own scripts, with the same binary.
examples="${SF_SOURCE_DIR:-$(dirname "$0")/..}/examples"
SEALFLOW=$SF expect 0 "examples/ecommerce/demo.sh runs to the end" \
    bash "$examples/ecommerce/demo.sh"
check "with every stage" test "$(grep -c '^== .* opens what it may see$' \
    "$scratch/out")" -eq 5
check "and both round trips" test \
    "$(grep -c '^full open: the input again$' "$scratch/out")" -eq 2
check "and its last line" has "$scratch/out" "demo: ecommerce example passed"
SEALFLOW=$SF expect 0 "examples/healthcare/demo.sh runs to the end" \
    bash "$examples/healthcare/demo.sh"
check "the partner reads the codes" has "$scratch/out" '"display":"Asthma"'
check "not the patient's reference" not grep -q \
    '"reference":"Patient/' "$scratch/out"
check "and its last line" has "$scratch/out" "demo: healthcare example passed"

expect 1 "a missing build folder is reported" "$demo" "$scratch/nobuild"
check "with the reason" has "$scratch/err" "no sealflow binary"

finish
