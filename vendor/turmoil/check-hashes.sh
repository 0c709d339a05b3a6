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
# Compare the runs the baseline has; scenarios added since it was recorded
# (with stock turmoil) are listed, not compared.
if python3 - "$baseline" "$out" <<'PY'
import sys
base = dict((l.rsplit(" ", 1)[0], l.split()[-1]) for l in open(sys.argv[1]) if l.strip())
new = dict((l.rsplit(" ", 1)[0], l.split()[-1]) for l in open(sys.argv[2]) if l.strip())
bad = [k for k in base if new.get(k) != base[k]]
for k in bad:
    print(f"MISMATCH {k}: stock {base[k]}, now {new.get(k, 'missing')}")
extra = sorted(k for k in new if k not in base)
if extra:
    print(f"not in the stock baseline (added later): {', '.join(extra)}")
print(f"{len(base) - len(bad)} of {len(base)} stock hashes equal")
sys.exit(1 if bad else 0)
PY
then
  echo "OK: every scenario x seed trace hash in the baseline matches stock turmoil 0.7.2"
  rm -f "$out"
else
  echo "MISMATCH (new hashes in $out)"; exit 1
fi
