#!/usr/bin/env python3
"""Which timeout-driven fault-tolerance paths a nemesis file reaches.

Runs `mesochaos run FILE --seed N --trace` for seeds 1..N of each nemesis file
and counts, from the trace, the runs in which each path fired. A coarse,
deterministic stand-in for line coverage (docs/gate-power.md); not run by CI.

    cargo build --release && scripts/paths.py 20
"""
import glob, json, os, subprocess, sys, tempfile, tomllib
from collections import Counter

BIN = os.environ.get("MESOCHAOS", "target/release/mesochaos")

def ms(text):
    """A scenario duration ("45s", "10m", "500ms") in milliseconds."""
    for unit, factor in (("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "").isdigit():
            return int(float(text[: -len(unit)]) * factor)
    raise ValueError(text)

def reregister_timeout(path):
    with open(path, "rb") as f:
        timing = tomllib.load(f).get("timing", {})
    return ms(timing.get("agent_reregister_timeout", "10m"))

def paths_of(trace, rereg_ms):
    """The set of path names this trace shows."""
    seen = set()
    sent_uuids = Counter()
    recovered_at = {}
    for line in trace:
        r = json.loads(line)
        kind = r.get("type")
        if kind == "event":
            (name, ev), = r["event"].items()
            if name == "AgentUnreachable":
                at = recovered_at.get(r["at"])
                # The recovered-agents timer fires agent_reregister_timeout
                # after recovery (plus a registry write).
                if at is not None and 0 <= r["t_ms"] - at - rereg_ms <= 2_000:
                    seen.add("agent removed after failover (agent_reregister_timeout)")
                else:
                    seen.add("agent removed by health checks")
            elif name == "LeaderRecovered":
                recovered_at[r["at"]] = r["t_ms"]
            elif name == "FrameworkRemoved":
                seen.add("framework removed (failover_timeout)")
            elif name == "UpdateReceived" and ev.get("reason"):
                seen.add(f"{ev['state']} ({ev['reason']})")
            elif name == "CheckpointTruncated":
                seen.add("torn checkpoint truncated")
            elif name == "ReconciliationDropped":
                seen.add("reconciliation not answered (agent recovering)")
            elif name == "AdversaryCall":
                seen.add("adversary: " + ev["action"])
        elif kind == "send":
            msg = r["message"]
            if isinstance(msg, dict) and "StatusUpdate" in msg:
                u = msg["StatusUpdate"]["update"].get("uuid")
                if u:
                    sent_uuids[(r["at"], u)] += 1
    if any(n > 1 for n in sent_uuids.values()):
        seen.add("status update retried")
    return seen

def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    files = sorted(glob.glob("scenarios/nemesis-*.toml"))
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            counts = Counter()
            rereg_ms = reregister_timeout(f)
            for seed in range(1, seeds + 1):
                out = os.path.join(tmp, "t.jsonl")
                subprocess.run([BIN, "run", f, "--seed", str(seed), "--trace", out],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(out) as t:
                    counts.update(paths_of(t, rereg_ms))
            table[os.path.basename(f)] = counts
            print(f"{f}: done", file=sys.stderr)
    names = sorted(set().union(*[set(c) for c in table.values()]))
    cols = list(table)
    print("| path | " + " | ".join(f"`{c}`" for c in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for n in names:
        print(f"| {n} | " + " | ".join(str(table[c][n]) for c in cols) + " |")
    print(f"\n(runs out of {seeds} seeds in which the path fired)")

if __name__ == "__main__":
    main()
