#!/usr/bin/env bash
# The mutation score of the gate (docs/gate-power.md): cargo-mutants mutates the
# reference's role files and runs the gate a user runs — every scenario file's
# seeds 1..5 and every nemesis file's seeds 1..20 (scenarios/tests/gate.rs) —
# never the role unit tests. A full run is ~880 mutants (days on 2 cores): pass a
# shard, e.g. `scripts/mutants.sh 0/40`. Not run by CI.
#
# A contributor checks only the mutants in their own change:
#   git diff origin/main > /tmp/change.diff
#   MESOCHAOS_GATE=1 cargo mutants --workspace --in-diff /tmp/change.diff \
#     --test-workspace=true --cargo-test-arg=--test=gate --profile release
set -euo pipefail
shard="${1:-0/40}"
out="${2:-mutants-out}"
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
files=(agent master scheduler executor coordinator coordinator_client detector registry checkpoint)
args=()
for f in "${files[@]}"; do
  # A role split into a folder (reference/src/master/) is mutated file by file.
  if [ -d "reference/src/$f" ]; then
    for g in reference/src/"$f"/*.rs; do args+=(-f "$g"); done
  else
    args+=(-f "reference/src/$f.rs")
  fi
done
# The gate's own run on the unmutated tree is checked first (`--baseline skip`
# below would otherwise hide a red gate: cargo-mutants' baseline tests the
# mutated package, not the gate's).
unset CARGO_TARGET_DIR
MESOCHAOS_GATE=1 cargo test --release -p mesochaos-scenarios --test gate
MESOCHAOS_GATE=1 exec cargo mutants --baseline skip --workspace "${args[@]}" \
  --test-workspace=true --cargo-test-arg=--test=gate \
  --profile release --shard "$shard" --sharding round-robin \
  --timeout 180 --build-timeout 900 -j 1 --output "$out"
