//! # A sweep's summary: what `sweep` and `merge` print
//!
//! A sweep is judged on two things: every seed passed, and every fault kind
//! its nemesis may draw fired somewhere (a kind that never fired tested
//! nothing — Jepsen's and FoundationDB's "sometimes" assertion). The summary
//! says both, counts failures by checker, and lists each failing seed with
//! the command that replays it and the report folder that shows it. The CLI
//! computes a [`SweepSummary`] from the seeds' records (`src/chaos/sweep.rs`),
//! prints it as JSON for machines or as [`text`] for people.

use mesochaos_faults::FaultKind;
use mesochaos_harness::run::FaultCounts;
use mesochaos_harness::Verdict;
use mesochaos_reference::bugs::Bug;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One seed of a sweep, as the summary lists it.
#[derive(Clone, Debug, Serialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// Pass or fail.
    pub verdict: Verdict,
    /// The run's trace hash (same seed, same code: same hash).
    pub trace_hash: String,
    /// The checkers that fired, alphabetically.
    pub failed_checkers: Vec<String>,
    /// The replay file written for a failing seed.
    pub replay_file: Option<String>,
    /// The report folder written for a failing seed, beside its replay file.
    pub report_dir: Option<String>,
}

/// A whole sweep (or the merge of its shards).
#[derive(Clone, Debug, Serialize)]
pub struct SweepSummary {
    /// The scenario's name.
    pub scenario: String,
    /// The code that ran it.
    pub code_version: String,
    /// The planted bug, if any.
    pub bug: Option<Bug>,
    /// Every seed, in order.
    pub seeds: Vec<SeedOutcome>,
    /// How many passed.
    pub passed: usize,
    /// How many failed.
    pub failed: usize,
    /// Failing seeds per checker.
    pub failures_by_checker: BTreeMap<String, usize>,
    /// Per fault kind: scheduled, fired, found no target — over all seeds.
    pub faults: BTreeMap<FaultKind, FaultCounts>,
    /// Fault kinds the nemesis may draw that never fired in the whole sweep.
    pub kinds_never_fired: Vec<FaultKind>,
    /// Wall seconds the sweep took (for merged shards, their sum).
    pub wall_seconds: f64,
}

/// The summary for people.
pub fn text(s: &SweepSummary) -> String {
    let mut out = String::new();
    let runs = s.seeds.len();
    let _ = writeln!(
        out,
        "passed {} of {runs}, failed {} · {:.1} s wall, {:.2} seeds/s",
        s.passed,
        s.failed,
        s.wall_seconds,
        runs as f64 / s.wall_seconds.max(1e-9)
    );
    if !s.failures_by_checker.is_empty() {
        let _ = writeln!(out, "failures by checker:");
        for (checker, n) in &s.failures_by_checker {
            let _ = writeln!(out, "  {checker:<24} {n}");
        }
    }
    if !s.faults.is_empty() {
        let _ = writeln!(out, "fault kinds (scheduled / fired / found no target):");
        for (kind, c) in &s.faults {
            let _ = writeln!(
                out,
                "  {:<24} {:>6} / {:>6} / {:>4}",
                kind.name(),
                c.scheduled,
                c.fired,
                c.vacuous
            );
        }
    }
    for kind in &s.kinds_never_fired {
        let _ = writeln!(out, "FAIL: fault kind {kind} never fired in this sweep");
    }
    let failing: Vec<&SeedOutcome> = s
        .seeds
        .iter()
        .filter(|o| o.verdict == Verdict::Fail)
        .collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "failing seeds:");
        for o in failing {
            match &o.replay_file {
                Some(file) => {
                    let _ = writeln!(
                        out,
                        "  seed {:<6} {:<32} mesochaos replay {file}",
                        o.seed,
                        o.failed_checkers.join(",")
                    );
                }
                None => {
                    let _ = writeln!(out, "  seed {:<6} {}", o.seed, o.failed_checkers.join(","));
                }
            }
            if let Some(dir) = &o.report_dir {
                let _ = writeln!(out, "  {:<44} report: {dir}/timeline.html", "");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_failures_faults_never_fired_and_where_to_look() {
        let mut faults = BTreeMap::new();
        faults.insert(
            FaultKind::CrashAgent,
            FaultCounts {
                scheduled: 4,
                fired: 3,
                vacuous: 1,
            },
        );
        let summary = SweepSummary {
            scenario: "s".into(),
            code_version: "v".into(),
            bug: None,
            seeds: vec![
                SeedOutcome {
                    seed: 1,
                    verdict: Verdict::Pass,
                    trace_hash: "a".into(),
                    failed_checkers: vec![],
                    replay_file: None,
                    report_dir: None,
                },
                SeedOutcome {
                    seed: 2,
                    verdict: Verdict::Fail,
                    trace_hash: "b".into(),
                    failed_checkers: vec!["liveness".into(), "single_leader".into()],
                    replay_file: Some("r/s/seed-2.json".into()),
                    report_dir: Some("r/s/seed-2.report".into()),
                },
            ],
            passed: 1,
            failed: 1,
            failures_by_checker: [
                ("liveness".to_string(), 1),
                ("single_leader".to_string(), 1),
            ]
            .into_iter()
            .collect(),
            faults,
            kinds_never_fired: vec![FaultKind::Pause],
            wall_seconds: 2.0,
        };
        let text = text(&summary);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "passed 1 of 2, failed 1 · 2.0 s wall, 1.00 seeds/s"
        );
        assert_eq!(lines[1], "failures by checker:");
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["liveness", "1"]
        );
        assert_eq!(
            lines[5].split_whitespace().collect::<Vec<_>>(),
            ["crash_agent", "4", "/", "3", "/", "1"]
        );
        assert_eq!(lines[6], "FAIL: fault kind pause never fired in this sweep");
        assert_eq!(lines[7], "failing seeds:");
        assert!(
            lines[8].contains("seed 2") && lines[8].ends_with("mesochaos replay r/s/seed-2.json")
        );
        assert!(lines[9].ends_with("report: r/s/seed-2.report/timeline.html"));
        assert_eq!(lines.len(), 10);
    }
}
