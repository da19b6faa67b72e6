#!/usr/bin/env bash
# schemathesis (PyPI) against the API of a fieldpay demo server: the
# examples, coverage, fuzzing and stateful phases, every check; exits
# non-zero on any finding. Configuration: .ci/schemathesis.toml.
#
#   .ci/schemathesis.sh                     # the debug build, built if missing
#   FIELDPAY_BIN=target/release/fieldpay ST_MAX_EXAMPLES=200 .ci/schemathesis.sh
#
# schemathesis comes from FIELDPAY_TEST_PYTHON's venv (pip install schemathesis).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${FIELDPAY_TEST_PYTHON:-target/ci-venv/bin/python}
schemathesis="$(dirname "$python")/schemathesis"
[ -x "$schemathesis" ] || { echo "schemathesis is not installed next to $python" >&2; exit 1; }
bin=${FIELDPAY_BIN:-target/debug/fieldpay}
[ -x "$bin" ] || cargo build
bin=$(realpath "$bin")

dir=$(mktemp -d /tmp/fieldpay-schemathesis.XXXXXX)
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
(
  cd "$dir"
  exec env FIELDPAY_DATABASE_URL="sqlite://$dir/fieldpay.db" FIELDPAY_BIND="127.0.0.1:$port" \
    FIELDPAY_BASE_URL="$base" FIELDPAY_SPOOL_DIR="$dir/spool" "$bin" demo >"$dir/demo.out" 2>"$dir/demo.log"
) &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 120); do
  grep -q "API key:" "$dir/demo.out" 2>/dev/null \
    && "$python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$base/healthz" 2>/dev/null \
    && break
  kill -0 "$server" 2>/dev/null || { cat "$dir/demo.log" >&2; exit 1; }
  sleep 0.5
done
# `fieldpay demo` prints the demo company's API key and its customers'
# quick-pay links.
FIELDPAY_API_KEY=$(sed -n 's/^ *API key: *//p' "$dir/demo.out")
FIELDPAY_PAY_TOKEN=$(sed -n 's#^ .* http[^ ]*/pay/\([A-Za-z0-9_-]*\)$#\1#p' "$dir/demo.out" | head -n 1)
[ -n "$FIELDPAY_API_KEY" ] && [ -n "$FIELDPAY_PAY_TOKEN" ] || { cat "$dir/demo.out" >&2; exit 1; }
export FIELDPAY_API_KEY FIELDPAY_PAY_TOKEN

# One worker: the coverage phase parses Python sources with `ast`, which is
# not thread-safe, and two workers sometimes end in a runtime error of the
# tool (not a finding about the API).
"$schemathesis" --config-file .ci/schemathesis.toml run "$base/api/v1/openapi.json" \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${ST_MAX_EXAMPLES:-40}" --workers 1 \
  ${ST_SEED:+--seed "$ST_SEED"} "$@"
