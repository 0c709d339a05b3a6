//! # `walkthrough.md`: a run told for a reader
//!
//! Maelstrom teaches through chapters with real commands and real output;
//! this is the same for one run: what the scenario shows, the command that
//! makes it, the key moments with their simulated times and the reference
//! function behind each, a Mermaid `sequenceDiagram` of the messages that
//! matter (GitHub draws it), what the checkers verified, and the figures.
//!
//! The pieces are public because the numbered walkthroughs under
//! `docs/walkthroughs/` are made of them too (`docs.rs`): a `timeline`,
//! `diagram`, `figures` or `updates` marker there is one of these functions.
//! None of them prints a wall-clock figure, so the same run gives the same
//! text on any machine.

use crate::handlers::{self, Handler};
use crate::lamport::Diagram;
use crate::run::RunData;
use crate::timeline::TimelineEntry;
use mesochaos_harness::Verdict;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Message kinds a diagram leaves out unless asked for: the health checks and
/// coordinator heartbeats that fill every second of every run.
const NOISE: [&str; 3] = ["Ping", "Pong", "CoordResponse"];

/// Which messages a sequence diagram shows.
#[derive(Clone, Debug, Default)]
pub struct Window {
    /// From this simulated time (ms).
    pub from_ms: u64,
    /// To this one (`None`: the end).
    pub to_ms: Option<u64>,
    /// Only messages between these processes (`None`: any).
    pub processes: Option<Vec<String>>,
    /// Only these kinds (`None`: all but health checks and heartbeats).
    pub kinds: Option<Vec<String>>,
    /// At most this many arrows.
    pub max: usize,
}

/// Where links to the reference start, relative to the written file
/// (`../../` for `docs/walkthroughs/`); `None` names files without links.
pub type LinkBase<'a> = Option<&'a str>;

/// A Markdown link to a reference function.
pub fn code_link(handler: &Handler, base: LinkBase<'_>) -> String {
    match base {
        Some(base) => format!("[`{}`]({base}{})", handler.function, handler.path),
        None => format!("`{}` ({})", handler.function, handler.path),
    }
}

/// A Mermaid participant id for a process (`master-2` → `master_2`).
fn participant(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A Mermaid `sequenceDiagram` of the messages in `window`, with notes for
/// the faults and leader elections among its participants, in time order.
pub fn mermaid(diagram: &Diagram, window: &Window) -> String {
    let to_ms = window.to_ms.unwrap_or(u64::MAX);
    let in_time = |t: u64| t >= window.from_ms && t <= to_ms;
    let lane_ok = |i: usize| {
        window
            .processes
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| p == &diagram.lanes[i].name))
    };
    let kind_ok = |kind: &str| match &window.kinds {
        Some(kinds) => kinds.iter().any(|k| k == kind),
        None => !NOISE.contains(&kind),
    };
    let heartbeat = |text: &str| text.contains("\"Heartbeat\"");
    let chosen: Vec<_> = diagram
        .arrows
        .iter()
        .filter(|a| in_time(a.sent_ms) && lane_ok(a.from) && lane_ok(a.to) && kind_ok(&a.kind))
        .filter(|a| window.kinds.is_some() || !heartbeat(&a.text))
        .collect();
    let max = if window.max == 0 { 30 } else { window.max };
    let more = chosen.len().saturating_sub(max);
    let chosen = &chosen[..chosen.len().min(max)];
    let last_ms = chosen.last().map_or(to_ms, |a| a.delivered_ms.min(to_ms));
    // Notes: (time, lanes, text).
    let mut notes: Vec<(u64, Vec<usize>, String)> = Vec::new();
    for b in &diagram.bands {
        if in_time(b.start_ms) && b.start_ms <= last_ms {
            let lanes: Vec<usize> = b.lanes.iter().copied().filter(|&i| lane_ok(i)).collect();
            if !lanes.is_empty() {
                notes.push((b.start_ms, lanes, format!("{} {}", b.fault, b.detail)));
            }
        }
    }
    for e in &diagram.epochs {
        if in_time(e.start_ms) && e.start_ms <= last_ms && lane_ok(e.lane) {
            notes.push((
                e.start_ms,
                vec![e.lane],
                format!("elected leader, epoch {}", e.epoch),
            ));
        }
    }
    for v in &diagram.violations {
        if in_time(v.t_ms) && v.t_ms <= last_ms {
            notes.push((v.t_ms, v.lanes.clone(), format!("VIOLATION {}", v.checker)));
        }
    }
    // Participants: every lane an arrow or a note touches, in lane order.
    let mut used: Vec<usize> = chosen.iter().flat_map(|a| [a.from, a.to]).collect();
    used.extend(notes.iter().flat_map(|(_, lanes, _)| lanes.iter().copied()));
    used.sort_unstable();
    used.dedup();
    let mut out = String::from("```mermaid\nsequenceDiagram\n");
    for &i in &used {
        let name = &diagram.lanes[i].name;
        let _ = writeln!(out, "    participant {} as {name}", participant(name));
    }
    let mut items: Vec<(u64, u8, String)> = Vec::new();
    for (t, lanes, text) in notes {
        let first = participant(&diagram.lanes[lanes[0]].name);
        let over = match lanes.len() {
            1 => first,
            _ => format!(
                "{first},{}",
                participant(&diagram.lanes[*lanes.last().expect("two")].name)
            ),
        };
        items.push((
            t,
            0,
            format!(
                "    Note over {over}: {:.2}s {}",
                t as f64 / 1000.0,
                clean(&text, 70)
            ),
        ));
    }
    for a in chosen {
        let count = if a.count > 1 {
            format!(" ×{}", a.count)
        } else {
            String::new()
        };
        items.push((
            a.sent_ms,
            1,
            format!(
                "    {}->>{}: {}{count} ({:.2}s)",
                participant(&diagram.lanes[a.from].name),
                participant(&diagram.lanes[a.to].name),
                a.kind,
                a.sent_ms as f64 / 1000.0
            ),
        ));
    }
    // Stable: notes before the messages of the same moment, else trace order.
    items.sort_by_key(|(t, order, _)| (*t, *order));
    for (_, _, line) in items {
        out.push_str(&line);
        out.push('\n');
    }
    if more > 0 {
        let _ = writeln!(
            out,
            "    Note over {}: … {more} more messages",
            participant(&diagram.lanes[used[0]].name)
        );
    }
    out.push_str("```\n");
    out
}

/// Text safe inside a Mermaid line (no `;`, `#` or line breaks), cut to `max`.
fn clean(text: &str, max: usize) -> String {
    let text: String = text
        .chars()
        .map(|c| match c {
            ';' | '#' | '\n' | '{' | '}' => ' ',
            c => c,
        })
        .collect();
    if text.chars().count() > max {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Which timeline lines an excerpt shows.
#[derive(Clone, Debug, Default)]
pub struct Excerpt {
    /// From this simulated time (ms).
    pub from_ms: u64,
    /// To this one.
    pub to_ms: Option<u64>,
    /// Only lines made at these processes.
    pub at: Option<Vec<String>>,
    /// Only lines containing this text.
    pub grep: Option<String>,
}

/// The timeline lines of `excerpt`, as `mesochaos run` prints them, in a
/// fenced block.
pub fn timeline_block(entries: &[TimelineEntry], excerpt: &Excerpt) -> String {
    let mut out = String::from("```text\n");
    for e in entries.iter().filter(|e| {
        e.t_ms >= excerpt.from_ms
            && excerpt.to_ms.is_none_or(|to| e.t_ms <= to)
            && excerpt.at.as_ref().is_none_or(|at| at.contains(&e.at))
            && excerpt
                .grep
                .as_ref()
                .is_none_or(|g| e.text.contains(g.as_str()))
    }) {
        let _ = writeln!(
            out,
            "{:>9.2}s  {:<18} {}",
            e.t_ms as f64 / 1000.0,
            e.at,
            e.text
        );
    }
    out.push_str("```\n");
    out
}

/// The run's figures as a Markdown list (simulated time only).
pub fn figures(run: &RunData, diagram: &Diagram) -> String {
    let o = &run.outcome;
    let m = &o.metrics;
    let mut out = String::new();
    let verdict = match o.verdict {
        Verdict::Pass => "PASS".to_string(),
        Verdict::Fail => format!("FAIL ({})", violations(o.violations.len())),
    };
    let _ = writeln!(out, "- verdict: **{verdict}**");
    let _ = writeln!(
        out,
        "- simulated time: {:.2} s",
        diagram.end_ms as f64 / 1000.0
    );
    if let Some(t) = m.failover_time_ms {
        let _ = writeln!(out, "- failover time: {:.2} s (leader crash to every live agent and scheduler re-registered)", t as f64 / 1000.0);
    }
    let _ = writeln!(
        out,
        "- messages: {} sent, {} delivered, {} dropped by faults",
        m.messages_sent, diagram.delivered, m.messages_dropped
    );
    let _ = writeln!(out, "- faults injected: {}", diagram.bands.len());
    let _ = writeln!(out, "- task starts: {}", m.task_starts);
    if !m.updates_by_state.is_empty() {
        let states: Vec<String> = m
            .updates_by_state
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "- status updates received by frameworks: {}",
            states.join(", ")
        );
    }
    if let Some(unwritable) = m.db_unwritable_ms {
        let _ = writeln!(
            out,
            "- database: {} writes acknowledged, {} acknowledged writes lost, {:.1} s without a writable store",
            m.acked_records, m.acked_records_lost, unwritable as f64 / 1000.0
        );
    }
    let _ = writeln!(out, "- trace hash: `{}`", o.trace_hash);
    out
}

/// The checkers that ran, each with what it promises, then what failed.
pub fn checkers(run: &RunData) -> String {
    let mut out = String::new();
    let failed: BTreeMap<&str, usize> =
        run.outcome
            .violations
            .iter()
            .fold(BTreeMap::new(), |mut m, v| {
                *m.entry(v.checker.as_str()).or_default() += 1;
                m
            });
    for name in &run.outcome.checked {
        let doc = mesochaos_harness::catalog::find(name).map_or("", |c| c.doc);
        let mark = match failed.get(name.as_str()) {
            Some(n) => format!("**failed** ({n})"),
            None => "held".into(),
        };
        let _ = writeln!(
            out,
            "- `{name}` — {mark}: {}",
            doc.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    for v in &run.outcome.violations {
        if !run.outcome.checked.contains(&v.checker) {
            let _ = writeln!(out, "- `{}` — **failed**", v.checker);
        }
    }
    if !run.outcome.violations.is_empty() {
        out.push_str("\nWhat failed:\n\n");
        for v in &run.outcome.violations {
            let _ = writeln!(
                out,
                "- `{}` at {:.2} s: {}",
                v.checker,
                v.t_ms as f64 / 1000.0,
                v.message
            );
        }
    }
    out
}

/// What each framework's schedulers received, in order.
pub fn updates(run: &RunData, framework: Option<&str>) -> String {
    let received = mesochaos_harness::report::framework_updates(&run.records);
    let mut out = String::from("```text\n");
    for (name, updates) in &received {
        if framework.is_some_and(|f| f != name) {
            continue;
        }
        let _ = writeln!(out, "{name}:");
        for u in updates {
            let reason = u.reason.map(|r| format!(" ({r})")).unwrap_or_default();
            let _ = writeln!(
                out,
                "{:>9.2}s  {:<18} {} {}{reason}",
                u.t_ms as f64 / 1000.0,
                u.instance,
                u.task_id,
                u.state
            );
        }
    }
    out.push_str("```\n");
    out
}

/// The key moments: every timeline line, with the reference function behind
/// it when there is one, as a Markdown table (at most `max` lines).
pub fn key_moments(entries: &[TimelineEntry], base: LinkBase<'_>, max: usize) -> String {
    let mut out = String::from(
        "| time | process | what happened | where in the reference |\n|---:|---|---|---|\n",
    );
    for e in entries.iter().take(max) {
        let code = e
            .event
            .as_deref()
            .and_then(handlers::for_event)
            .map(|h| code_link(&h, base))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {:.2}s | {} | {} | {code} |",
            e.t_ms as f64 / 1000.0,
            e.at,
            e.text.replace('|', "\\|")
        );
    }
    if entries.len() > max {
        let _ = writeln!(
            out,
            "\n({} more lines: `timeline.html` and the trace have them all.)",
            entries.len() - max
        );
    }
    out
}

/// The window a run's walkthrough draws: the two seconds before its first
/// violation, else from just before its first fault, else from the start;
/// and what to call it.
fn interesting_window(diagram: &Diagram) -> (Window, &'static str) {
    let violation = diagram.violations.iter().map(|v| v.t_ms).min();
    let fault = diagram.bands.iter().map(|b| b.start_ms).min();
    let (from_ms, what) = match (violation, fault) {
        (Some(t), _) => (
            t.saturating_sub(2_000),
            "two seconds before the first violation",
        ),
        (None, Some(t)) => (t.saturating_sub(500), "just before the first fault"),
        (None, None) => (0, "the start"),
    };
    let window = Window {
        from_ms,
        max: 40,
        ..Window::default()
    };
    (window, what)
}

/// The whole `walkthrough.md` of a run.
pub fn walkthrough_md(
    run: &RunData,
    diagram: &Diagram,
    entries: &[TimelineEntry],
    base: LinkBase<'_>,
) -> String {
    let h = &run.header;
    let mut out = String::new();
    let _ = writeln!(out, "# Walkthrough: `{}`, seed {}\n", h.scenario, h.seed);
    for line in h.description.lines() {
        let _ = writeln!(out, "{line}");
    }
    if let Some(bug) = h.bug {
        let _ = writeln!(
            out,
            "\nThis run has the defect `{bug}` planted in the reference (`reference/src/bugs.rs`)."
        );
    }
    let _ = writeln!(out, "\n## Run it\n\n```sh\n{}\n```\n", h.command());
    out.push_str("`timeline.html`, beside this file, draws every message of the run.\n\n");
    let _ = writeln!(out, "## Key moments\n\n{}", key_moments(entries, base, 80));
    let (window, what) = interesting_window(diagram);
    let _ = writeln!(
        out,
        "## The messages that matter\n\nFrom {:.2} s ({what}), health checks and heartbeats left out:\n\n{}",
        window.from_ms as f64 / 1000.0,
        mermaid(diagram, &window)
    );
    let mut handled: Vec<String> = Vec::new();
    for a in &diagram.arrows {
        if let Some(h) = handlers::for_message(&diagram.lanes[a.to].name, &a.kind) {
            let line = format!("- `{}` → {}", a.kind, code_link(&h, base));
            if !handled.contains(&line) && !NOISE.contains(&a.kind.as_str()) {
                handled.push(line);
            }
        }
    }
    handled.sort();
    if !handled.is_empty() {
        let _ = writeln!(
            out,
            "Where each message is handled:\n\n{}\n",
            handled.join("\n")
        );
    }
    let _ = writeln!(out, "## What the checkers verified\n\n{}", checkers(run));
    if !run.outcome_recorded {
        out.push_str("(The trace has no outcome line: only the checkers that read the trace alone ran again.)\n\n");
    }
    let _ = write!(out, "## Figures\n\n{}", figures(run, diagram));
    out
}

/// "1 violation", "3 violations".
pub fn violations(n: usize) -> String {
    if n == 1 {
        "1 violation".into()
    } else {
        format!("{n} violations")
    }
}
