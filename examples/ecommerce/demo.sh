#!/usr/bin/env bash
# The order-pipeline example in a scratch folder: keys, policy check, seal,
# coverage, each of the five stages opening what it may see, a full open
# that must give back the input, explain, CSV; then the public sample
# datasets (DummyJSON users and carts, Contoso orders and customers) when
# SF_DATA_DIR (default: ../shared/data beside the source tree) holds them.
# SEALFLOW names the binary (default: sealflow on PATH); jq compares JSON.
# Stops with a message at the first failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sf=${SEALFLOW:-sealflow}
case $sf in */*) sf=$(cd "$(dirname "$sf")" && pwd)/${sf##*/} ;; esac
data=${SF_DATA_DIR:-$here/../../../shared/data}
policy=$here/policy.yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SEALFLOW_HOME=$work/home
cd "$work"

fail() {
    echo "demo: FAILED: $*" >&2
    exit 1
}

# same INPUT OPENED: the full open gave back INPUT (bytes, or for JSON the
# same parsed records).
same() {
    cmp -s "$1" "$2" && return 0
    case $1 in *.csv) return 1 ;; esac
    jq -en --slurpfile a "$1" --slurpfile b "$2" '$a == $b' >/dev/null
}

# seal_check IN NAME: seal IN to NAME, coverage must find nothing, and a
# full open must give IN back.
seal_check() {
    "$sf" seal -p "$policy" -o "$2" "$1"
    "$sf" coverage -p "$policy" "$2" >coverage.txt ||
        fail "coverage of $2: $(sed -n 1p coverage.txt)"
    sed -n 1p coverage.txt
    "$sf" open --strict -o "opened.$2" "$2"
    same "$1" "opened.$2" || fail "opened.$2 differs from $1"
    echo "full open: the input again"
}

"$sf" init >/dev/null 2>&1 || fail "sealflow init failed in $work"
for k in shop-internal shop-pii shop-pci; do
    "$sf" keys create "$k" >/dev/null 2>&1 || fail "cannot create key $k"
done
"$sf" policy check --keys "$policy"

echo "== web seals the orders"
seal_check "$here/orders.jsonl" orders.sealed.jsonl
head -c 300 orders.sealed.jsonl
echo " ..."

for stage in web order-service payment-gateway inventory notification; do
    echo "== $stage opens what it may see"
    "$sf" open --as "$stage" -p "$policy" -o "$stage.jsonl" \
        orders.sealed.jsonl
done

echo "== what the policy does with the first order"
head -n 1 "$here/orders.jsonl" >order.json
"$sf" policy explain "$policy" order.json

echo "== customers.csv"
seal_check "$here/customers.csv" customers.sealed.csv

if [ -d "$data/ecommerce" ]; then
    echo "== sample datasets in $data/ecommerce"
    for f in dummyjson/users.json dummyjson/carts.json \
        contoso-orders/orders.csv contoso-orders/customers.csv; do
        echo "-- $f"
        seal_check "$data/ecommerce/$f" "sealed.${f//\//-}"
    done
else
    echo "real datasets not found at $data/ecommerce: skipped"
fi
echo "demo: ecommerce example passed"
