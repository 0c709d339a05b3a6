//! # A run as the reports read it: header, trace records, outcome
//!
//! Every report (`timeline.html`, `walkthrough.md`, `report.json`, the
//! walkthroughs under `docs/`) is made from a [`RunData`]: what run it was
//! (the [`Header`]), everything that happened (the trace records) and how it
//! ended (the [`Outcome`]). A `--trace` file holds all three, so a report can
//! be made from it alone, without running anything again:
//!
//! ```text
//! {"type":"header","format":1,"scenario":"master-failover",...}   <- Header
//! {"t_ms":0,"at":"harness","type":"fault",...}                     <- records
//! ...                                                                (hashed)
//! {"type":"outcome","verdict":"pass","trace_hash":"7b0f...",...}   <- Outcome
//! ```
//!
//! The header and the outcome are not trace records: the trace hash covers
//! the records only, so writing them changes no hash. A trace cut short (the
//! run was killed) has no outcome line; its outcome is then re-derived from
//! the records by the checkers that read the trace alone, and the report says
//! so ([`RunData::outcome_recorded`]).

use mesochaos_harness::check;
use mesochaos_harness::report::{Metrics, Violation};
use mesochaos_harness::trace::TraceRecord;
use mesochaos_harness::{RunReport, Verdict};
use mesochaos_reference::bugs::Bug;
use serde::{Deserialize, Serialize};

/// The version of the `--trace` file format (header, records, outcome).
pub const TRACE_FORMAT: u32 = 1;

/// The first line of a `--trace` file: which run this is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always `"header"`: tells the line from a record.
    #[serde(rename = "type")]
    pub kind: String,
    /// [`TRACE_FORMAT`] when written.
    pub format: u32,
    /// The scenario's name.
    pub scenario: String,
    /// What the scenario shows (its `description`).
    pub description: String,
    /// The scenario file's whole text, so the run can be made again from the
    /// trace alone.
    pub scenario_text: String,
    /// Where the scenario file was (for the command that runs it again).
    #[serde(default)]
    pub scenario_path: String,
    /// The run's seed.
    pub seed: u64,
    /// The defect planted in the reference, if any.
    pub bug: Option<Bug>,
    /// The code that ran (`mesochaos --version` and a hash of the sources).
    pub code_version: String,
}

impl Header {
    /// The header of a run of the scenario at `path` (text `text`).
    pub fn new(
        scenario: &str,
        description: &str,
        path: &str,
        text: &str,
        seed: u64,
        bug: Option<Bug>,
        code_version: &str,
    ) -> Header {
        Header {
            kind: "header".into(),
            format: TRACE_FORMAT,
            scenario: scenario.into(),
            description: description.into(),
            scenario_text: text.into(),
            scenario_path: path.into(),
            seed,
            bug,
            code_version: code_version.into(),
        }
    }

    /// The command that makes this run again.
    pub fn command(&self) -> String {
        let path = if self.scenario_path.is_empty() {
            format!("scenarios/{}.toml", self.scenario)
        } else {
            self.scenario_path.clone()
        };
        match self.bug {
            Some(bug) => format!("mesochaos run {path} --seed {} --bug {bug}", self.seed),
            None => format!("mesochaos run {path} --seed {}", self.seed),
        }
    }
}

/// The last line of a `--trace` file: how the run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Always `"outcome"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Pass or fail.
    pub verdict: Verdict,
    /// The hash of the records above (16 hex digits).
    pub trace_hash: String,
    /// Simulated milliseconds the run lasted.
    pub sim_ms: u64,
    /// Every property that did not hold.
    pub violations: Vec<Violation>,
    /// The run's figures.
    pub metrics: Metrics,
    /// The checkers that ran: those of every run, then the `[expect]` checks
    /// the scenario asked for.
    pub checked: Vec<String>,
}

impl Outcome {
    /// The outcome of a finished run; `expect_checkers` are the `[expect]`
    /// checks its scenario asked for.
    pub fn of(report: &RunReport, expect_checkers: &[&str]) -> Outcome {
        Outcome {
            kind: "outcome".into(),
            verdict: report.verdict.clone(),
            trace_hash: report.trace_hash.clone(),
            sim_ms: (report.sim_seconds * 1000.0).round() as u64,
            violations: report.violations.clone(),
            metrics: report.metrics.clone(),
            checked: checked(expect_checkers),
        }
    }
}

/// The names of the checkers a run ran: every checker of kind *always* in
/// the catalog, then the scenario's `[expect]` checks.
pub fn checked(expect_checkers: &[&str]) -> Vec<String> {
    mesochaos_harness::catalog::CHECKERS
        .iter()
        .filter(|c| c.kind == mesochaos_harness::catalog::Kind::Always)
        .map(|c| c.name.to_string())
        .chain(expect_checkers.iter().map(|s| s.to_string()))
        .collect()
}

/// One run, ready to be reported.
#[derive(Clone, Debug)]
pub struct RunData {
    /// Which run.
    pub header: Header,
    /// Everything that happened, in order.
    pub records: Vec<TraceRecord>,
    /// How it ended.
    pub outcome: Outcome,
    /// False when the trace had no outcome line and [`RunData::outcome`] was
    /// re-derived from the records (the checkers that need the roles' live
    /// state, and the `[expect]` checks, could not run again).
    pub outcome_recorded: bool,
}

impl RunData {
    /// A run made in this process.
    pub fn of(
        header: Header,
        report: &RunReport,
        records: Vec<TraceRecord>,
        expect: &[&str],
    ) -> Self {
        RunData {
            header,
            outcome: Outcome::of(report, expect),
            records,
            outcome_recorded: true,
        }
    }

    /// Reads a `--trace` file's text. An error names the line and why.
    pub fn parse_trace(text: &str) -> Result<RunData, String> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, first) = lines.next().ok_or("the file is empty")?;
        let header: Header = serde_json::from_str(first).map_err(|e| {
            format!("line 1: not a mesochaos trace header ({e}); traces written by `mesochaos run --trace` start with one")
        })?;
        if header.kind != "header" {
            return Err(format!(
                "line 1: a record of type \"{}\", not the header",
                header.kind
            ));
        }
        if header.format != TRACE_FORMAT {
            return Err(format!(
                "line 1: trace format {} (this mesochaos reads format {TRACE_FORMAT})",
                header.format
            ));
        }
        let mut records = Vec::new();
        let mut outcome = None;
        for (i, line) in lines {
            if outcome.is_some() {
                return Err(format!("line {}: a line after the outcome line", i + 1));
            }
            if line.starts_with("{\"type\":\"outcome\"") {
                let o: Outcome = serde_json::from_str(line)
                    .map_err(|e| format!("line {}: a malformed outcome line: {e}", i + 1))?;
                outcome = Some(o);
                continue;
            }
            let record: TraceRecord = serde_json::from_str(line)
                .map_err(|e| format!("line {}: not a trace record: {e}", i + 1))?;
            records.push(record);
        }
        let outcome_recorded = outcome.is_some();
        let outcome = outcome.unwrap_or_else(|| rederive(&records));
        Ok(RunData {
            header,
            records,
            outcome,
            outcome_recorded,
        })
    }

    /// The run's end in simulated milliseconds.
    pub fn end_ms(&self) -> u64 {
        let last = self.records.last().map_or(0, |r| r.t_ms);
        last.max(self.outcome.sim_ms)
    }
}

/// The outcome of a trace with no outcome line, from the records alone: the
/// checkers that read only the trace, and the metrics.
fn rederive(records: &[TraceRecord]) -> Outcome {
    let mut violations = check::check_trace(records);
    violations.extend(check::check_storage(records).0);
    violations.extend(check::check_framework_identity(records));
    let mut hash = mesochaos_harness::seed::Fnv64::default();
    for r in records {
        let line = serde_json::to_string(r).expect("trace records serialize");
        hash.write(line.as_bytes());
        hash.write(b"\n");
    }
    Outcome {
        kind: "outcome".into(),
        verdict: if violations.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        trace_hash: format!("{:016x}", hash.finish()),
        sim_ms: records.last().map_or(0, |r| r.t_ms),
        violations,
        metrics: mesochaos_harness::report::metrics(records),
        checked: vec![
            "epoch_order".into(),
            "one_copy_at_a_time".into(),
            "definite_is_final".into(),
            "acked_data_kept".into(),
            "reserved_only_to_role".into(),
            "framework_identity".into(),
        ],
    }
}
