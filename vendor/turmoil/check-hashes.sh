#!/usr/bin/env bash
# Regenerate trace hashes for every scenario x seeds 1..3 and diff against the
# stock-turmoil baseline recorded in trace-hashes-stock.txt.
# Usage (from the workspace root, after `cargo build --release`):
#   vendor/turmoil/check-hashes.sh            # compare against the baseline
#   vendor/turmoil/check-hashes.sh --record   # (re)write the baseline
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
bin="$root/target/release/mesochaos"
baseline="$root/vendor/turmoil/trace-hashes-stock.txt"
out="$(mktemp)"
for f in scenarios/*.toml; do
  name="$(basename "$f" .toml)"
  [ "$name" = Cargo ] && continue
  for seed in 1 2 3; do
    hash="$("$bin" run "$f" --seed "$seed" --format json 2>/dev/null \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["trace_hash"])')" || true
    echo "$name $seed ${hash:-ERROR}" >> "$out"
  done
done
if [ "${1:-}" = "--record" ]; then
  mv "$out" "$baseline"; echo "recorded $(wc -l < "$baseline") hashes to $baseline"; exit 0
fi
if diff -u "$baseline" "$out"; then
  echo "OK: all $(wc -l < "$out") scenario x seed trace hashes match stock turmoil 0.7.2"
  rm -f "$out"
else
  echo "MISMATCH (new hashes in $out)"; exit 1
fi
