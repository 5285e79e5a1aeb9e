#!/usr/bin/env bash
# The FHIR example in a scratch folder: keys, the research partner's
# identity (its public string beside the policy), policy check, seal,
# coverage, the partner opening with its identity file alone, and a full
# open that must give back the input; then the Synthea Bundles and Bulk
# Data NDJSON when SF_DATA_DIR (default: ../shared/data beside the source
# tree) holds them. SEALFLOW names the binary (default: sealflow on PATH);
# jq compares JSON. Stops with a message at the first failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sf=${SEALFLOW:-sealflow}
case $sf in */*) sf=$(cd "$(dirname "$sf")" && pwd)/${sf##*/} ;; esac
data=${SF_DATA_DIR:-$here/../../../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SEALFLOW_HOME=$work/home
cp "$here/policy.yaml" "$work/"
cd "$work"

fail() {
    echo "demo: FAILED: $*" >&2
    exit 1
}

# seal_check IN NAME: seal IN to NAME, coverage must find nothing, the
# partner opens the clinical fields, and a full open must give IN back
# (the same bytes, or the same parsed records).
seal_check() {
    "$sf" seal -p policy.yaml -o "$2" "$1" 2>/dev/null
    "$sf" coverage -p policy.yaml "$2" >coverage.txt ||
        fail "coverage of $2: $(sed -n 1p coverage.txt)"
    sed -n 1p coverage.txt
    SEALFLOW_HOME=$work/none "$sf" open --as research-partner \
        -p policy.yaml -i research-partner.key -o "partner.$2" "$2"
    "$sf" open --strict -o "opened.$2" "$2" 2>/dev/null
    cmp -s "$1" "opened.$2" ||
        jq -en --slurpfile a "$1" --slurpfile b "opened.$2" '$a == $b' \
            >/dev/null || fail "opened.$2 differs from $1"
}

"$sf" init >/dev/null 2>&1 || fail "sealflow init failed in $work"
for k in clinic-internal clinic-phi clinic-identity; do
    "$sf" keys create "$k" >/dev/null 2>&1 || fail "cannot create key $k"
done
# The partner makes its pair; research-partner.pub goes beside policy.yaml.
"$sf" identity generate -o research-partner.key >research-partner.pub \
    2>/dev/null
"$sf" policy check --keys policy.yaml

for f in patients conditions; do
    echo "== $f.ndjson"
    seal_check "$here/$f.ndjson" "$f.sealed.ndjson"
done
echo "== what the research partner reads: codes, not who"
cat partner.conditions.sealed.ndjson

if [ -d "$data/healthcare" ]; then
    echo "== sample datasets in $data/healthcare"
    for f in "$data"/healthcare/fhir-bulk-ndjson/*.ndjson \
        "$data"/healthcare/synthea-fhir-r4-bundles/*_*.json; do
        echo "-- ${f##*/}"
        seal_check "$f" "sealed.${f##*/}"
    done
else
    echo "real datasets not found at $data/healthcare: skipped"
fi
echo "demo: healthcare example passed"
