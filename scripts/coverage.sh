#!/usr/bin/env bash
# Which reference functions the nemesis files reach (docs/gate-power.md): every
# nemesis file swept over seeds 1..N (default 200) under cargo-llvm-cov, then the
# functions of the role files that never ran. Not run by CI.
#
# Needs cargo-llvm-cov and LLVM tools matching rustc's LLVM (rustc 1.95: LLVM 22).
# Debian bookworm's archive stops at llvm-19, so this uses rustup's `llvm-tools`
# component when it is present, or LLVM_COV / LLVM_PROFDATA if you point them at
# matching tools.
set -euo pipefail
seeds="${1:-200}"
out="${2:-target/coverage}"
command -v cargo-llvm-cov >/dev/null || cargo install cargo-llvm-cov --locked
command -v rustfilt >/dev/null || cargo install rustfilt --locked
if [ -z "${LLVM_COV:-}" ]; then
  sysroot="$(rustc --print sysroot)"
  host="$(rustc -vV | sed -n 's/^host: //p')"
  tools="$sysroot/lib/rustlib/$host/bin"
  [ -x "$tools/llvm-cov" ] || rustup component add llvm-tools
  export LLVM_COV="$tools/llvm-cov" LLVM_PROFDATA="$tools/llvm-profdata"
fi
unset CARGO_TARGET_DIR
cargo llvm-cov clean --workspace
for f in scenarios/nemesis-*.toml; do
  echo "== $f seeds 1..$seeds" >&2
  cargo llvm-cov run --no-report --release -- sweep "$f" --seeds "1..$seeds" \
    --results "$out/results" >/dev/null
done
mkdir -p "$out"
cargo llvm-cov report --release --json --output-path "$out/coverage.json"
python3 scripts/never_reached.py "$out/coverage.json" > "$out/never-reached.md"
cat "$out/never-reached.md"
