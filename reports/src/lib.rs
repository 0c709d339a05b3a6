//! # mesochaos-reports: what a run says to people and to machines
//!
//! Every human-facing rendering of mesochaos lives here:
//! - [`text`]: the account `mesochaos run` prints, with the [`timeline`] of
//!   key moments (one sentence per event, fault and step);
//! - [`comparison_table`]: the storage strategies side by side;
//! - [`sweep`]: a sweep's summary; [`bench`]: the bench's report and table;
//! - [`junit`]: a sweep as JUnit XML for CI systems;
//! - a report folder ([`folder`]) from one run ([`run::RunData`], read from a
//!   `--trace` file or made in process): `timeline.html` ([`html`], drawn from
//!   the run's Lamport diagram, [`lamport`]), `walkthrough.md`
//!   ([`walkthrough`], linking each step to the reference through
//!   [`handlers`]) and `report.json`;
//! - [`docs`]: the numbered walkthroughs under `docs/walkthroughs/`, whose
//!   generated blocks come from real runs.

pub mod bench;
pub mod docs;
pub mod folder;
pub mod handlers;
pub mod html;
pub mod junit;
pub mod lamport;
pub mod run;
pub mod sweep;
pub mod timeline;
pub mod walkthrough;

use mesochaos_harness::run::RunReport;
use mesochaos_harness::Verdict;
use std::fmt::Write;
use timeline::TimelineEntry;

/// The human-readable account of a run: its description, the key moments in
/// simulated time, the outcome, and every violation.
pub fn text(
    report: &RunReport,
    timeline: &[TimelineEntry],
    description: &str,
    wall_seconds: f64,
) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(format!("scenario: {}", report.scenario));
    for text in description.lines() {
        line(format!("  {text}"));
    }
    line(String::new());
    for entry in timeline {
        line(format!(
            "{:>9.2}s  {:<18} {}",
            entry.t_ms as f64 / 1000.0,
            entry.at,
            entry.text
        ));
    }
    line(String::new());
    if let Some(t) = report.metrics.failover_time_ms {
        line(format!("failover time: {:.2}s", t as f64 / 1000.0));
    }
    let state = &report.final_state;
    match &state.leader {
        Some(leader) => line(format!(
            "final leader: {} (epoch {}), {} agents, {} frameworks, {} tasks",
            leader.master,
            leader.epoch,
            state.agents.len(),
            state.frameworks.len(),
            state.tasks.len()
        )),
        None => line("final leader: none".into()),
    }
    if let Some(db) = database_line(report) {
        line(db);
    }
    line(format!(
        "messages: {} sent, {} dropped; simulated {:.1}s in {:.2}s wall",
        report.metrics.messages_sent,
        report.metrics.messages_dropped,
        report.sim_seconds,
        wall_seconds
    ));
    line(format!("trace hash: {}", report.trace_hash));
    for v in &report.violations {
        let mut text = format!(
            "VIOLATION [{}] at {:.2}s: {}",
            v.checker,
            v.t_ms as f64 / 1000.0,
            v.message
        );
        if !v.processes.is_empty() {
            let _ = write!(text, " (processes: {})", v.processes.join(", "));
        }
        line(text);
    }
    match report.verdict {
        Verdict::Pass => line("verdict: PASS".into()),
        Verdict::Fail => line(format!(
            "verdict: FAIL ({} violations)",
            report.violations.len()
        )),
    }
    out
}

/// What the run's databases saw, when it ran one.
fn database_line(report: &RunReport) -> Option<String> {
    let m = &report.metrics;
    let unwritable = m.db_unwritable_ms?;
    Some(format!(
        "database: {} writes acknowledged, {} acknowledged writes lost, {:.1}s without a writable store, mean write latency {:.1} ms",
        m.acked_records,
        m.acked_records_lost,
        unwritable as f64 / 1000.0,
        m.db_write_latency_mean_us.unwrap_or(0) as f64 / 1000.0
    ))
}

/// The storage strategies side by side (`mesochaos compare`): one row per run.
pub fn comparison_table(reports: &[&RunReport]) -> String {
    let header = [
        "scenario",
        "verdict",
        "acked writes",
        "acked writes lost",
        "time without a writable store",
        "mean write latency",
    ];
    let rows: Vec<[String; 6]> = reports
        .iter()
        .map(|r| {
            let m = &r.metrics;
            [
                r.scenario.clone(),
                match r.verdict {
                    Verdict::Pass => "pass".into(),
                    Verdict::Fail => "FAIL".into(),
                },
                m.acked_records.to_string(),
                m.acked_records_lost.to_string(),
                m.db_unwritable_ms
                    .map_or("-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
                m.db_write_latency_mean_us
                    .map_or("-".into(), |us| format!("{:.1} ms", us as f64 / 1000.0)),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    // A Markdown table: readable in a terminal, pasteable into docs.
    let mut out = String::new();
    let mut put = |cells: &[String]| {
        out.push('|');
        for (cell, w) in cells.iter().zip(widths) {
            let _ = write!(out, " {cell:<w$} |");
        }
        out.push('\n');
    };
    put(&header.map(String::from));
    put(&widths.map(|w| "-".repeat(w)));
    for row in &rows {
        put(row);
    }
    out
}
