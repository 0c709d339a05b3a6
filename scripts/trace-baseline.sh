#!/usr/bin/env bash
# The trace hashes a restructure must not change (issue 14: "No behaviour
# change"): seeds 1..200 of every nemesis file, and seeds 1..5 of every nemesis
# file with each zoo bug planted (the seeds that catch it among them). One line
# per run: `<file> <bug or -> <seed> <trace hash> <verdict>`.
#
#   scripts/trace-baseline.sh > /tmp/after.txt && diff docs/trace-baseline.txt /tmp/after.txt
#
# Regenerate docs/trace-baseline.txt only in a commit that changes traces on
# purpose (and says why), like the pinned snapshot. Not run by CI (≈ 2 min).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/mesochaos
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
bugs=$("$bin" run --help | grep -- '--bug' | sed -n 's/.*possible values: \(.*\)\]/\1/p' | tr -d ',')
[ -n "$bugs" ] || { echo "could not list the zoo bugs from 'mesochaos run --help'" >&2; exit 2; }
emit() { # file bug: one line per seed of the sweep's JSON in $results/out.json
  python3 -c '
import json, sys
d = json.load(open(sys.argv[3]))
for s in d["seeds"]:
    print(sys.argv[1], sys.argv[2], s["seed"], s["trace_hash"], s["verdict"])
' "$1" "$2" "$results/out.json"
}
# Exit code 1 is a sweep with failing seeds (every zoo bug's); 2 is an error.
sweep() { "$bin" sweep "$@" --format json --results "$results" >"$results/out.json" 2>/dev/null || [ $? -eq 1 ]; }
for f in scenarios/nemesis-*.toml; do
  sweep "$f" --seeds 1..200
  emit "$(basename "$f")" -
done
for bug in $bugs; do
  for f in scenarios/nemesis-*.toml; do
    sweep "$f" --seeds 1..5 --bug "$bug"
    emit "$(basename "$f")" "$bug"
  done
done
