//! # mesochaos-reports: what a run says to people
//!
//! Wave one renders a run as the text timeline `mesochaos run` prints; the JSON
//! report is the serde form of [`RunReport`]. Markdown walkthroughs, an HTML
//! timeline and JUnit XML come with the `report` command.

use mesochaos_harness::run::RunReport;
use mesochaos_harness::Verdict;
use std::fmt::Write;

/// The human-readable account of a run: its description, the key moments in
/// simulated time, the outcome, and every violation.
pub fn text(report: &RunReport, description: &str, wall_seconds: f64) -> String {
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
    for entry in &report.timeline {
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
