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
shot "$lena" "$out/pay-page-phone.png" 360 1500

# Office pages: fetched with a signed-in session, then rendered from a file
# whose asset links point back at the server.
curl -s -c "$work/jar" -o /dev/null -d "email=office%40greenleaf.example&password=greenleaf-demo-2026" "$base/office/login"
for page in dashboard customers invoices payments settings/invoice; do
  name=$(echo "$page" | tr '/' '-')
  curl -s -b "$work/jar" "$base/office/$page" | sed "s#\"/static/#\"$base/static/#g" > "$work/$name.html"
  shot "file://$work/$name.html" "$out/office-$name.png" 1280 900
done
echo "screenshots in $out"
