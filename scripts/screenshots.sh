#!/usr/bin/env bash
# Renders the README's screenshots from a fresh demo: the quick payment page on
# a phone and office pages on a laptop. Needs chromium (Debian package).
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/screenshots
mkdir -p "$out"
work=$(mktemp -d)
port=18181
base="http://127.0.0.1:$port"
cargo build --release -q
FIELDPAY_BIND=127.0.0.1:$port FIELDPAY_LOG=warn ./target/release/fieldpay \
  --database-url "sqlite://$work/demo.db" --spool-dir "$work/spool" demo > "$work/demo.out" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done

shot() { # url file width height
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chrome" --hide-scrollbars --window-size="$3,$4" \
    --screenshot="$2" "$1" >/dev/null 2>&1
}

lena=$(grep "Lena Landlord" "$work/demo.out" | awk '{print $3}')
maria=$(grep "Maria Homeowner" "$work/demo.out" | awk '{print $3}')
# One quick payment, so the dashboard and the payments list have something to show.
token=${maria##*/}
card=$(curl -s -H 'content-type: application/json' -d '{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}' \
  "$base/sandbox/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
invoice=$(curl -s "$base/api/v1/pay/$token" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["properties"][0]["invoices"][-1]["id"])')
curl -s -o /dev/null -H 'content-type: application/json' -H "Idempotency-Key: screenshots-$$" \
  -d "{\"invoice_ids\":[\"$invoice\"],\"payment_method\":\"$card\"}" "$base/api/v1/pay/$token/payments"
shot "$lena" "$out/pay-page-phone.png" 360 1500
# The same page in Spanish, as a phone shows it at first.
shot "$lena?lang=es" "$out/paypage-es-phone.png" 360 740

# Office pages: fetched with a signed-in session, then rendered from a file
# whose asset links point back at the server.
curl -s -c "$work/jar" -o /dev/null -d "email=office%40greenleaf.example&password=greenleaf-demo-2026" "$base/office/login"
for page in dashboard customers invoices payments settings/invoice; do
  name=$(echo "$page" | tr '/' '-')
  curl -s -b "$work/jar" "$base/office/$page" | sed "s#\"/static/#\"$base/static/#g" > "$work/$name.html"
  shot "file://$work/$name.html" "$out/office-$name.png" 1280 900
done
echo "screenshots in $out"
