#!/usr/bin/env bash
# Runs the order-pipeline example in a scratch folder: keys, seal, coverage,
# selective opening stage by stage, explain, CSV; then the public sample
# datasets when SF_DATA_DIR (default: ../shared/data beside the source
# tree) holds them. SEALFLOW names the binary (default: sealflow on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sf=${SEALFLOW:-sealflow}
data=${SF_DATA_DIR:-$here/../../../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SEALFLOW_HOME=$work/home
cd "$work"

"$sf" init >/dev/null
for k in shop-internal shop-pii shop-pci; do "$sf" keys create "$k" >/dev/null; done
"$sf" policy check --keys "$here/policy.yaml"

echo "== web seals the orders"
"$sf" seal -p "$here/policy.yaml" -o orders.sealed.jsonl "$here/orders.jsonl"
head -c 400 orders.sealed.jsonl; echo " ..."
"$sf" coverage -p "$here/policy.yaml" orders.sealed.jsonl | head -n 1

echo "== order-service"
"$sf" open --as order-service -p "$here/policy.yaml" -o os.jsonl \
    orders.sealed.jsonl
echo "== payment-gateway"
"$sf" open --as payment-gateway -p "$here/policy.yaml" -o pay.jsonl os.jsonl
cmp -s pay.jsonl "$here/orders.jsonl" && echo "payment-gateway sees the original orders"

echo "== explain the first order"
head -n 1 "$here/orders.jsonl" >order.json
"$sf" policy explain "$here/policy.yaml" order.json

echo "== customers.csv"
"$sf" seal -p "$here/policy.yaml" -o customers.sealed.csv "$here/customers.csv"
"$sf" open --strict -o customers.csv customers.sealed.csv
cmp -s customers.csv "$here/customers.csv" && echo "CSV round trip identical"

if [ -d "$data/ecommerce" ]; then
    echo "== sample datasets in $data/ecommerce"
    for f in dummyjson/users.json dummyjson/carts.json \
             contoso-orders/customers.csv contoso-orders/orders.csv; do
        out=sealed.${f##*/}
        "$sf" seal -p "$here/policy.yaml" -o "$out" "$data/ecommerce/$f"
        "$sf" coverage -p "$here/policy.yaml" "$out" | head -n 1
        "$sf" open --strict -o "back.${f##*/}" "$out"
    done
else
    echo "SKIP: sample datasets (no $data/ecommerce)"
fi
