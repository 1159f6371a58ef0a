#!/bin/sh
# Seeds a new preview with realistic synthetic data: 5,000 customers and
# 20,000 orders with nested line items, spread over four currencies and two
# years, written as JSON lines into the environment's data directory
# (PREVIEW_OUTPUT_DATA_DIR, from the module's data_dir output). previewd runs
# it once, after the environment's first successful apply.
set -eu
dir=${PREVIEW_OUTPUT_DATA_DIR:?the module has no data_dir output}
customers=${SEED_CUSTOMERS:-5000}
orders=${SEED_ORDERS:-20000}
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

awk -v n="$customers" -v seed="${PREVIEW_ENVIRONMENT:-seed}" '
BEGIN {
  srand(length(seed) * 7919)
  split("Ava Liam Noah Emma Olivia Mia Lucas Sofia Mateo Yuki Amara Chen Ines Omar Zara Leo Nia Ivan Maya Arjun", first, " ")
  split("Garcia Smith Nguyen Müller Rossi Okafor Tanaka Silva Kowalski Haddad Novak Dubois Kim Patel Larsen", last, " ")
  split("de fr us gb jp br in ng pl se", country, " ")
  split("EUR EUR USD GBP JPY BRL INR NGN PLN SEK", currency, " ")
  for (i = 1; i <= n; i++) {
    f = first[int(rand() * 20) + 1]; l = last[int(rand() * 15) + 1]; c = int(rand() * 10) + 1
    printf "{\"id\":%d,\"name\":\"%s %s\",\"email\":\"%s.%s.%d@example.test\",\"country\":\"%s\",\"currency\":\"%s\",\"created_at\":\"20%02d-%02d-%02dT%02d:%02d:00Z\",\"marketing_opt_in\":%s}\n",
      i, f, l, tolower(f), tolower(l), i, country[c], currency[c], 24 + int(rand() * 2), int(rand() * 12) + 1, int(rand() * 28) + 1, int(rand() * 24), int(rand() * 60), (rand() < 0.4 ? "true" : "false")
  }
}' > "$tmp/customers.jsonl"

awk -v n="$orders" -v customers="$customers" -v seed="${PREVIEW_ENVIRONMENT:-seed}" '
BEGIN {
  srand(length(seed) * 104729)
  split("basic-tee hoodie sneakers backpack mug poster cap socks jacket scarf", sku, " ")
  split("paid paid paid refunded pending shipped shipped delivered delivered cancelled", status, " ")
  for (i = 1; i <= n; i++) {
    items = int(rand() * 4) + 1; line = ""; total = 0
    for (j = 1; j <= items; j++) {
      q = int(rand() * 3) + 1; price = int(rand() * 9000) + 500; total += q * price
      line = line sprintf("%s{\"sku\":\"%s\",\"quantity\":%d,\"unit_price_cents\":%d}", (j > 1 ? "," : ""), sku[int(rand() * 10) + 1], q, price)
    }
    printf "{\"id\":%d,\"customer_id\":%d,\"status\":\"%s\",\"total_cents\":%d,\"items\":[%s]}\n",
      i, int(rand() * customers) + 1, status[int(rand() * 10) + 1], total, line
  }
}' > "$tmp/orders.jsonl"

mv "$tmp/customers.jsonl" "$tmp/orders.jsonl" "$dir/"
echo "seeded $(wc -l < "$dir/customers.jsonl") customers and $(wc -l < "$dir/orders.jsonl") orders into $dir"
