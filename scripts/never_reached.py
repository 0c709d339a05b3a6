#!/usr/bin/env python3
"""Functions of the reference's role files that a coverage run never executed.

Reads cargo-llvm-cov's JSON export and prints, per role file, the functions
with a zero execution count (test code and closures excluded), demangled with
rustfilt (installed by scripts/coverage.sh).
"""
import json, re, subprocess, sys
from collections import defaultdict

ROLE_FILES = ["agent.rs", "master.rs", "scheduler.rs", "executor.rs", "coordinator.rs",
              "coordinator_client.rs", "detector.rs", "registry.rs", "checkpoint.rs",
              "store.rs", "storage.rs", "adversary.rs"]

def demangle_all(names):
    """Demangles with rustfilt (`cargo install rustfilt`), which reads both of
    Rust's manglings (rustc 1.95 uses v0 symbols)."""
    out = subprocess.run(["rustfilt"], input="\n".join(names), capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return dict(zip(names, out))

def short(path):
    """`<mesochaos_reference::agent::Agent>::on_start` -> `Agent::on_start`."""
    path = re.sub(r"mesochaos_reference::(\w+::)*", "", path)
    return path.replace("<", "").replace(">", "")

def main():
    data = json.load(open(sys.argv[1]))
    records = []
    for export in data["data"]:
        for f in export["functions"]:
            files = [fn for fn in f["filenames"] if "/reference/src/" in fn]
            if not files:
                continue
            base = files[0].split("/reference/src/")[1]
            # A role split into a folder (`master/agents.rs`) counts as its role.
            if "/" in base:
                base = base.split("/")[0] + ".rs"
            if base in ROLE_FILES:
                records.append((base, f["name"], f["count"]))
    names = demangle_all(sorted({n for _, n, _ in records}))
    never = defaultdict(set)
    reached = defaultdict(set)
    for base, mangled, count in records:
        name = names[mangled]
        if "::tests::" in name or "{closure" in name:
            continue
        (reached if count > 0 else never)[base].add(short(name))
    print("| file | functions reached | never reached |")
    print("|---|---|---|")
    for base in ROLE_FILES:
        gone = sorted(never[base] - reached[base])
        total = len(reached[base] | never[base])
        print(f"| `{base}` | {len(reached[base])} of {total} | "
              + (", ".join(f"`{g}`" for g in gone) or "—") + " |")

if __name__ == "__main__":
    main()
