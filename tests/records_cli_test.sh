#!/usr/bin/env bash
# sealflow seal / open / coverage / policy on the examples: round trips,
# selective opening by stage and partner, tamper detection, coverage exit
# codes and reports, policy check and explain, and errors that leave no
# output file behind.
. "$(dirname "$0")/cli_common.sh"

src=${SF_SOURCE_DIR:?SF_SOURCE_DIR names the source tree}
shop=$scratch/shop
clinic=$scratch/clinic
cp -r "$src/examples/ecommerce" "$shop"
cp -r "$src/examples/healthcare" "$clinic"

"$SF" init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
for k in shop-internal shop-pii shop-pci clinic-internal clinic-phi \
         clinic-identity; do
    "$SF" keys create "$k" >/dev/null 2>&1 || { echo "FAIL key $k"; exit 1; }
done

# ---- policy check and explain ----
expect 0 "policy check accepts the shop policy" \
    "$SF" policy check --keys "$shop/policy.yaml"
check "policy check counts classes and stages" has "$scratch/out" \
    "4 classes"
printf 'version: 1\nclasses:\n  secret:\n    suite: aes-256-cbc\n' \
    >"$scratch/bad.yaml"
expect 3 "policy check refuses an unauthenticated suite" \
    "$SF" policy check "$scratch/bad.yaml"
check "the error names line and column" has "$scratch/err" "bad.yaml:4:"
head -n 1 "$shop/orders.jsonl" >"$scratch/one.json"
expect 0 "policy explain shows each field" \
    "$SF" policy explain "$shop/policy.yaml" "$scratch/one.json"
check "explain names the card rule" has "$scratch/out" \
    'path $.payment.card (line'
check "explain shows the protection" has "$scratch/out" \
    "token: aes-256-gcm, DEK per record, wrapped by local:shop-pci"
expect 0 "policy explain --json" \
    "$SF" policy explain --json "$shop/policy.yaml" "$scratch/one.json"
check "explain --json marks the order id clear" test \
    "$(json "$scratch/out" '[r["sealed"] for r in j if r["path"] == "$[\"order_id\"]"][0]')" \
    = false

# ---- seal and open JSON Lines ----
expect 0 "seal orders.jsonl" "$SF" seal -p "$shop/policy.yaml" \
    -o "$scratch/orders.sealed.jsonl" "$shop/orders.jsonl"
check "seal reports records and tokens" has "$scratch/err" \
    "sealed 6 record(s)"
check "no card number in the sealed file" not has \
    "$scratch/orders.sealed.jsonl" 4111111111111111
check "clear fields stay readable" has "$scratch/orders.sealed.jsonl" \
    '"order_id":"ord-2024-000101"'
expect 0 "open with every key, strict" "$SF" open --strict \
    -o "$scratch/orders.back.jsonl" "$scratch/orders.sealed.jsonl"
check "orders round trip is identical" cmp -s "$shop/orders.jsonl" \
    "$scratch/orders.back.jsonl"
expect 0 "open as order-service" "$SF" open --as order-service \
    -p "$shop/policy.yaml" -o "$scratch/os.jsonl" \
    "$scratch/orders.sealed.jsonl"
check "order-service sees e-mail addresses" has "$scratch/os.jsonl" \
    amelia.hart@example.com
check "order-service does not see card numbers" not has \
    "$scratch/os.jsonl" 4111111111111111
check "the summary counts what stayed sealed" has "$scratch/err" \
    "restricted: 0 opened, 15 sealed (15 not allowed"
expect 0 "payment-gateway opens what order-service passed on" \
    "$SF" open --as payment-gateway -p "$shop/policy.yaml" --strict \
    -o "$scratch/pay.jsonl" "$scratch/os.jsonl"
check "payment-gateway output is the original" cmp -s \
    "$shop/orders.jsonl" "$scratch/pay.jsonl"
expect 5 "strict open as web fails" "$SF" open --as web \
    -p "$shop/policy.yaml" --strict -o "$scratch/web.jsonl" \
    "$scratch/orders.sealed.jsonl"
check "a failed open leaves no output file" test ! -e "$scratch/web.jsonl"
expect 2 "--as without --policy is a usage error" "$SF" open --as web \
    "$scratch/orders.sealed.jsonl"

# ---- tampering ----
python3 - "$scratch/orders.sealed.jsonl" "$scratch/swap.jsonl" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
a, b = json.loads(lines[0]), json.loads(lines[2])
a["customer"]["email"], b["customer"]["email"] = \
    b["customer"]["email"], a["customer"]["email"]
lines[0], lines[2] = json.dumps(a), json.dumps(b)
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
EOF
expect 4 "a token moved to another record fails" "$SF" open \
    -o "$scratch/t.jsonl" "$scratch/swap.jsonl"
check "the error names the record and field" has "$scratch/err" \
    'record 1 (line 1'
printf '{"order_id":"o-9","payment":{"card":{"number":"4111"}}}\n' \
    >"$scratch/card.jsonl"
"$SF" seal -p "$shop/policy.yaml" "$scratch/card.jsonl" 2>/dev/null |
    sed 's/"n":"restricted"/"n":"internal"/' >"$scratch/down.jsonl"
expect 4 "a class relabelled in _sealflow fails" "$SF" open \
    --as inventory -p "$shop/policy.yaml" -o "$scratch/t.jsonl" \
    "$scratch/down.jsonl"

# ---- CSV ----
expect 0 "seal customers.csv" "$SF" seal -p "$shop/policy.yaml" \
    -o "$scratch/customers.sealed.csv" "$shop/customers.csv"
check "sealed CSV keeps its header and adds _sealflow" has \
    "$scratch/customers.sealed.csv" \
    "customer_id,first_name,last_name,email,phone,street,city,postcode,country,iban,card_number,national_id,marketing_opt_in,created_at,_sealflow"
expect 0 "open customers.csv" "$SF" open --strict \
    -o "$scratch/customers.back.csv" "$scratch/customers.sealed.csv"
check "CSV round trip is identical (CRLF kept)" cmp -s \
    "$shop/customers.csv" "$scratch/customers.back.csv"

# ---- coverage ----
expect 0 "coverage of a compliant file exits 0" "$SF" coverage \
    -p "$shop/policy.yaml" "$scratch/orders.sealed.jsonl"
check "coverage says 0 violations" has "$scratch/out" "0 violation(s)"
expect 1 "coverage of the plain file exits 1" "$SF" coverage --json \
    -p "$shop/policy.yaml" --format jsonl "$shop/orders.jsonl"
check "coverage --json counts unsealed fields" test \
    "$(json "$scratch/out" 'j["by_kind"]["unsealed"] > 50')" = true
check "coverage --json names the first finding" test \
    "$(json "$scratch/out" 'j["findings"][0]["record"]')" = 1

# ---- errors ----
printf '{"a":1}\n{"a":{"b":1,"b":2}}\n' >"$scratch/dup.jsonl"
expect 3 "seal refuses duplicate keys" "$SF" seal -p "$shop/policy.yaml" \
    -o "$scratch/dup.out" "$scratch/dup.jsonl"
check "the error names record, line and path" has "$scratch/err" \
    'record 2 (line 2, byte 23), at $["a"]["b"]'
check "a failed seal leaves no output file" test ! -e "$scratch/dup.out"
: >"$scratch/empty.jsonl"
expect 3 "seal refuses empty input" "$SF" seal -p "$shop/policy.yaml" \
    "$scratch/empty.jsonl"

# ---- healthcare: the research partner ----
(cd "$clinic" && "$SF" identity generate -o research-partner.key \
    >research-partner.pub 2>/dev/null)
printf '%s\n' \
  '{"resourceType":"Patient","id":"p1","name":[{"family":"Okafor","given":["Ada"]}],"birthDate":"1984-02-29"}' \
  '{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"text":"Asthma"}}' \
  >"$scratch/fhir.ndjson"
expect 0 "seal FHIR resources" "$SF" seal -p "$clinic/policy.yaml" \
    -o "$scratch/fhir.sealed.ndjson" "$scratch/fhir.ndjson"
SEALFLOW_HOME=$scratch/nohome expect 0 "the partner opens with its key" \
    "$SF" open --as research-partner -p "$clinic/policy.yaml" \
    -i "$clinic/research-partner.key" -o "$scratch/partner.ndjson" \
    "$scratch/fhir.sealed.ndjson"
check "the partner reads the condition" has "$scratch/partner.ndjson" \
    '"code":{"text":"Asthma"}'
check "the partner does not read the name" not has \
    "$scratch/partner.ndjson" Okafor

finish
