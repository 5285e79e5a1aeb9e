#!/usr/bin/env bash
# Runs the FHIR example in a scratch folder: keys, a research partner's
# identity, seal, partner open, coverage; then the Synthea Bundles and
# Bulk Data NDJSON when SF_DATA_DIR (default: ../shared/data beside the
# source tree) holds them. SEALFLOW names the binary (default: sealflow).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sf=${SEALFLOW:-sealflow}
data=${SF_DATA_DIR:-$here/../../../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SEALFLOW_HOME=$work/home
cp "$here/policy.yaml" "$work/"
cd "$work"

"$sf" init >/dev/null
for k in clinic-internal clinic-phi clinic-identity; do
    "$sf" keys create "$k" >/dev/null
done
"$sf" identity generate -o research-partner.key >research-partner.pub 2>/dev/null
"$sf" policy check --keys policy.yaml

for f in patients conditions; do
    "$sf" seal -p policy.yaml -o "$f.sealed.ndjson" "$here/$f.ndjson"
    "$sf" coverage -p policy.yaml "$f.sealed.ndjson" | head -n 1
done
echo "== what the research partner reads"
SEALFLOW_HOME=$work/none "$sf" open --as research-partner -p policy.yaml \
    -i research-partner.key conditions.sealed.ndjson

if [ -d "$data/healthcare" ]; then
    echo "== sample datasets in $data/healthcare"
    for f in "$data"/healthcare/fhir-bulk-ndjson/*.ndjson \
             "$data"/healthcare/synthea-fhir-r4-bundles/A*.json; do
        out=sealed.$(basename "$f")
        "$sf" seal -p policy.yaml -o "$out" "$f"
        "$sf" coverage -p policy.yaml "$out" | head -n 1
        "$sf" open --strict -o "back.$(basename "$f")" "$out"
    done
else
    echo "SKIP: sample datasets (no $data/healthcare)"
fi
