//! # A report folder: `timeline.html`, `walkthrough.md`, `report.json`
//!
//! What `mesochaos report` writes for one run, and `sweep` for each failing
//! seed: the picture for people (`timeline.html`), the story for readers
//! (`walkthrough.md`), and the facts for machines (`report.json`: the run's
//! identity, verdict, violations, figures, lanes, faults, leader epochs and
//! key moments — everything but the messages themselves, which the trace
//! holds).

use crate::lamport::Diagram;
use crate::run::RunData;
use crate::timeline::{timeline, TimelineEntry};
use crate::walkthrough::LinkBase;
use mesochaos_harness::report::{Metrics, Violation};
use mesochaos_harness::Verdict;
use mesochaos_reference::bugs::Bug;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The version of `report.json`'s layout.
pub const REPORT_FORMAT: u32 = 1;

/// `report.json`.
#[derive(Serialize)]
pub struct Summary<'a> {
    /// [`REPORT_FORMAT`].
    pub format: u32,
    /// The scenario's name.
    pub scenario: &'a str,
    /// The seed.
    pub seed: u64,
    /// The planted defect, if any.
    pub bug: Option<Bug>,
    /// The code that ran.
    pub code_version: &'a str,
    /// The command that makes the run again.
    pub command: String,
    /// Pass or fail.
    pub verdict: &'a Verdict,
    /// The trace hash.
    pub trace_hash: &'a str,
    /// Simulated milliseconds.
    pub sim_ms: u64,
    /// False when the outcome was re-derived from a trace cut short.
    pub outcome_recorded: bool,
    /// What did not hold.
    pub violations: &'a [Violation],
    /// The checkers that ran.
    pub checked: &'a [String],
    /// The run's figures.
    pub metrics: &'a Metrics,
    /// How much the diagram holds.
    pub counts: Counts,
    /// The processes, in lane order.
    pub processes: Vec<&'a str>,
    /// Each fault: kind, words, start, end, processes hit.
    pub faults: Vec<FaultSummary<'a>>,
    /// Each leader term.
    pub epochs: Vec<EpochSummary<'a>>,
    /// The key moments.
    pub timeline: &'a [TimelineEntry],
}

/// Sizes of the run's picture.
#[derive(Serialize)]
pub struct Counts {
    /// Processes (lanes, the harness included).
    pub processes: usize,
    /// Messages delivered.
    pub messages_delivered: u64,
    /// Messages sent and never delivered.
    pub messages_lost: usize,
    /// Faults (bands).
    pub faults: usize,
    /// Violations.
    pub violations: usize,
}

/// One fault in `report.json`.
#[derive(Serialize)]
pub struct FaultSummary<'a> {
    /// The fault's kind.
    pub fault: &'a str,
    /// Its words in the trace.
    pub detail: &'a str,
    /// When it began (ms).
    pub start_ms: u64,
    /// When it ended (ms).
    pub end_ms: u64,
    /// The processes it hit.
    pub processes: Vec<&'a str>,
}

/// One leader term in `report.json`.
#[derive(Serialize)]
pub struct EpochSummary<'a> {
    /// The leading master.
    pub master: &'a str,
    /// Its epoch.
    pub epoch: u64,
    /// Elected at (ms).
    pub start_ms: u64,
    /// Ended at (ms).
    pub end_ms: u64,
}

/// The files written.
#[derive(Debug)]
pub struct Written {
    /// `timeline.html`.
    pub html: PathBuf,
    /// `walkthrough.md`.
    pub walkthrough: PathBuf,
    /// `report.json`.
    pub json: PathBuf,
}

/// Writes the report folder of `run` into `dir` (created if missing).
/// `base` is where `walkthrough.md`'s links to the reference start.
pub fn write(dir: &Path, run: &RunData, base: LinkBase<'_>) -> Result<Written, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let diagram = Diagram::read(&run.records, &run.outcome.violations, run.end_ms());
    let entries = timeline(&run.records);
    let written = Written {
        html: dir.join("timeline.html"),
        walkthrough: dir.join("walkthrough.md"),
        json: dir.join("report.json"),
    };
    let put = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    put(&written.html, &crate::html::timeline_html(run, &diagram))?;
    put(
        &written.walkthrough,
        &crate::walkthrough::walkthrough_md(run, &diagram, &entries, base),
    )?;
    let summary = summary(run, &diagram, &entries);
    let json = serde_json::to_string_pretty(&summary).expect("summaries serialize");
    put(&written.json, &json)?;
    Ok(written)
}

/// `report.json`'s content.
pub fn summary<'a>(
    run: &'a RunData,
    diagram: &'a Diagram,
    entries: &'a [TimelineEntry],
) -> Summary<'a> {
    let name = |i: usize| diagram.lanes[i].name.as_str();
    Summary {
        format: REPORT_FORMAT,
        scenario: &run.header.scenario,
        seed: run.header.seed,
        bug: run.header.bug,
        code_version: &run.header.code_version,
        command: run.header.command(),
        verdict: &run.outcome.verdict,
        trace_hash: &run.outcome.trace_hash,
        sim_ms: diagram.end_ms,
        outcome_recorded: run.outcome_recorded,
        violations: &run.outcome.violations,
        checked: &run.outcome.checked,
        metrics: &run.outcome.metrics,
        counts: Counts {
            processes: diagram.lanes.len(),
            messages_delivered: diagram.delivered,
            messages_lost: diagram.lost.len(),
            faults: diagram.bands.len(),
            violations: diagram.violations.len(),
        },
        processes: diagram.lane_names(),
        faults: diagram
            .bands
            .iter()
            .map(|b| FaultSummary {
                fault: &b.fault,
                detail: &b.detail,
                start_ms: b.start_ms,
                end_ms: b.end_ms,
                processes: b.lanes.iter().map(|&i| name(i)).collect(),
            })
            .collect(),
        epochs: diagram
            .epochs
            .iter()
            .map(|e| EpochSummary {
                master: name(e.lane),
                epoch: e.epoch,
                start_ms: e.start_ms,
                end_ms: e.end_ms,
            })
            .collect(),
        timeline: entries,
    }
}
