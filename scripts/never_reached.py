#!/usr/bin/env python3
"""Functions of the reference's role files that a coverage run never executed.

Reads cargo-llvm-cov's JSON export and prints, per role file, the functions
with a zero execution count (test code excluded), demangled.
"""
import json, re, sys
from collections import defaultdict

ROLE_FILES = ["agent.rs", "master.rs", "scheduler.rs", "executor.rs", "coordinator.rs",
              "coordinator_client.rs", "detector.rs", "registry.rs", "checkpoint.rs",
              "store.rs", "storage.rs", "adversary.rs"]

def demangle(name):
    """Legacy Rust mangling (_ZN<len><seg>...17h<hash>E) to a path."""
    m = re.match(r"_ZN(.*)E$", name)
    if not m:
        return name
    rest, parts = m.group(1), []
    while rest:
        n = re.match(r"(\d+)", rest)
        if not n:
            break
        k = int(n.group(1)); rest = rest[len(n.group(1)):]
        parts.append(rest[:k]); rest = rest[k:]
    if parts and re.match(r"h[0-9a-f]{16}$", parts[-1]):
        parts.pop()
    path = "::".join(parts)
    for a, b in (("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$RF$", "&"), ("..", "::"),
                 ("$C$", ","), ("$u7b$", "{"), ("$u7d$", "}")):
        path = path.replace(a, b)
    return path

def main():
    data = json.load(open(sys.argv[1]))
    never = defaultdict(set)
    reached = defaultdict(set)
    for export in data["data"]:
        for f in export["functions"]:
            files = [fn for fn in f["filenames"] if "/reference/src/" in fn]
            if not files:
                continue
            base = files[0].split("/reference/src/")[1]
            if base not in ROLE_FILES:
                continue
            name = demangle(f["name"])
            if "::tests::" in name or "{closure" in name:
                continue
            (reached if f["count"] > 0 else never)[base].add(name)
    print("| file | functions reached | never reached |")
    print("|---|---|---|")
    for base in ROLE_FILES:
        gone = sorted(never[base] - reached[base])
        total = len(reached[base] | never[base])
        print(f"| `{base}` | {len(reached[base])} of {total} | "
              + (", ".join(f"`{g.split('::', 2)[-1]}`" for g in gone) or "—") + " |")

if __name__ == "__main__":
    main()
