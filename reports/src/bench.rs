//! # The bench's report: its data and the table people read
//!
//! `mesochaos bench` runs each case in a child process that prints one
//! [`CaseResult`] as JSON; the parent gathers them into a [`BenchReport`]
//! (the machine, every case's figures, the stack/echo overheads, how wall time
//! grows with machines, and the performance targets with whether each holds)
//! and prints it as [`text`] for people or as JSON for machines. The
//! measuring stays in the CLI's `src/bench/`; what a report *is* and how it
//! reads lives here with the rest of mesochaos's rendering.

use serde::{Deserialize, Serialize};

/// A case out of budget is compared (echo, scaling) only if it simulated this long.
pub const MIN_PARTIAL_SIM_S: f64 = 1.0;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ran to the end.
    #[default]
    Ok,
    /// Ran out of its wall-time budget; the figures are as far as it got.
    OverBudget,
    /// Crashed, or its run failed its checks.
    Failed,
}

/// What a child prints: one case's figures.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CaseResult {
    pub case: String,
    pub status: Status,
    /// How many times the case ran; `wall_seconds` is the median. A case
    /// that takes under one second (`SHORT_CASE_S` in `src/bench/child.rs`) of wall time is run again (same
    /// seed, same trace), up to 15 times (`MAX_RUNS`), so that a 20 ms run is
    /// not a single noisy sample.
    #[serde(default)]
    pub runs: u32,
    /// The stack run's verdict (`pass`/`fail`), for stack cases.
    pub verdict: Option<String>,
    /// Agent machines (stack cases).
    pub agents: Option<usize>,
    /// turmoil hosts (one per process).
    pub hosts: usize,
    /// Distinct pairs of hosts that opened a TCP connection.
    pub connections: usize,
    /// Simulated seconds run (reached, when over budget).
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    /// Messages sent: role messages for the stack, requests + replies for echo.
    pub messages: u64,
    pub sim_per_wall: f64,
    pub messages_per_wall: f64,
    /// Wall milliseconds per simulated second (none before the first tick).
    pub wall_ms_per_sim_s: Option<f64>,
    /// Peak resident set size of the child (`VmHWM`).
    pub peak_rss_bytes: Option<u64>,
    /// The run report's failover time (failover cases).
    pub failover_time_s: Option<f64>,
    /// The coordinator session timeout of the case's cluster.
    pub session_timeout_s: Option<f64>,
    /// Sweep: seeds run, in parallel on `jobs` threads.
    pub seeds: Option<u64>,
    pub jobs: Option<u64>,
    pub seeds_per_wall: Option<f64>,
    /// Echo: the stack case it matches.
    pub matches: Option<String>,
    pub budget_seconds: f64,
    pub tick_ms: u64,
    pub note: Option<String>,
}

impl CaseResult {
    /// The rates from the raw figures (after a case ran).
    pub fn finish_rates(&mut self) {
        self.runs = self.runs.max(1);
        let wall = self.wall_seconds.max(1e-9);
        self.sim_per_wall = self.sim_seconds / wall;
        self.messages_per_wall = self.messages as f64 / wall;
        self.wall_ms_per_sim_s =
            (self.sim_seconds > 0.0).then(|| 1000.0 * self.wall_seconds / self.sim_seconds);
    }

    /// Figures to compare: measured to the end, or — out of budget — over at
    /// least [`MIN_PARTIAL_SIM_S`] (a few ticks of start-up say nothing about
    /// the rate).
    pub fn measured(&self) -> bool {
        match self.status {
            Status::Ok => self.sim_seconds > 0.0,
            Status::OverBudget => self.sim_seconds >= MIN_PARTIAL_SIM_S,
            Status::Failed => false,
        }
    }

    /// Wall ms per simulated second, where measured.
    pub fn wall_per_sim(&self) -> f64 {
        self.wall_ms_per_sim_s.unwrap_or(f64::INFINITY)
    }
}

#[derive(Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub profile: &'static str,
    pub tick_ms: u64,
}

#[derive(Serialize)]
pub struct Overhead {
    pub case: String,
    pub stack_wall_ms_per_sim_s: f64,
    pub echo_wall_ms_per_sim_s: f64,
    /// stack / echo, wall per simulated second.
    pub ratio: f64,
    /// Either side ran out of budget (rates as far as it got).
    pub partial: bool,
}

#[derive(Serialize)]
pub struct Scaling {
    pub from: String,
    pub to: String,
    pub machines_ratio: f64,
    /// Wall time per simulated second, `to` / `from`.
    pub wall_per_sim_ratio: f64,
    pub partial: bool,
}

#[derive(Serialize)]
pub struct Target {
    pub target: String,
    /// `None`: not measured in this run.
    pub holds: Option<bool>,
    pub detail: String,
}

#[derive(Serialize)]
pub struct BenchReport {
    pub machine: Machine,
    pub budget_seconds: f64,
    pub cases: Vec<CaseResult>,
    pub overheads: Vec<Overhead>,
    pub scaling: Vec<Scaling>,
    pub targets: Vec<Target>,
}

pub fn short(c: &CaseResult) -> String {
    match c.status {
        Status::Failed => format!("FAILED ({})", c.note.as_deref().unwrap_or("no result")),
        Status::OverBudget => format!(
            "OVER BUDGET after {:.1} simulated s in {:.0} s wall",
            c.sim_seconds, c.wall_seconds
        ),
        Status::Ok => format!(
            "{:.1} simulated s in {:.2} s wall ({:.1}× real time)",
            c.sim_seconds, c.wall_seconds, c.sim_per_wall
        ),
    }
}

/// Bytes as whole MiB.
pub fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub fn text(r: &BenchReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(
        s,
        "machine: {} cores, {}; {} build; tick {} ms; budget {:.0} s per case\n",
        m.cores, m.cpu, m.profile, m.tick_ms, r.budget_seconds
    );
    let _ = writeln!(
        s,
        "{:<22} {:>6} {:>5} {:>6} {:>9} {:>8} {:>10} {:>11} {:>12} {:>9} {:>9}  status",
        "case",
        "agents",
        "hosts",
        "conns",
        "sim s",
        "wall s",
        "sim/wall",
        "msgs/wall",
        "wall ms/sim s",
        "peak RSS",
        "failover"
    );
    for c in &r.cases {
        let figures = c.measured();
        let num = |v: f64, prec: usize| {
            if figures {
                format!("{v:.prec$}")
            } else {
                "-".into()
            }
        };
        let status = match c.status {
            Status::Ok => match (&c.verdict, c.seeds_per_wall) {
                (_, Some(spw)) => format!(
                    "ok: {:.2} seeds/wall s ({} seeds, {} jobs)",
                    spw,
                    c.seeds.unwrap_or(0),
                    c.jobs.unwrap_or(0)
                ),
                _ if c.runs > 1 => format!("ok (median of {} runs)", c.runs),
                _ => "ok".into(),
            },
            Status::OverBudget => format!(
                "OVER BUDGET: {}",
                c.note.as_deref().unwrap_or("exceeded its budget")
            ),
            Status::Failed => format!("FAILED: {}", c.note.as_deref().unwrap_or("?")),
        };
        let _ = writeln!(
            s,
            "{:<22} {:>6} {:>5} {:>6} {:>9} {:>8} {:>10} {:>11} {:>12} {:>9} {:>9}  {status}",
            c.case,
            c.agents.map_or("-".into(), |a| a.to_string()),
            c.hosts,
            if c.connections == 0 {
                "-".to_string()
            } else {
                c.connections.to_string()
            },
            num(c.sim_seconds, 1),
            num(c.wall_seconds, 2),
            num(c.sim_per_wall, 1),
            num(c.messages_per_wall, 0),
            num(c.wall_per_sim(), 2),
            c.peak_rss_bytes.map_or("-".into(), mib),
            c.failover_time_s
                .map_or("-".into(), |f| format!("{f:.2} s")),
        );
    }
    if !r.overheads.is_empty() {
        let _ = writeln!(
            s,
            "\noverhead (wall ms per simulated s, stack vs matched raw turmoil echo):"
        );
        for o in &r.overheads {
            let _ = writeln!(
                s,
                "  {:<16} stack {:>10.2}   echo {:>10.2}   ×{:.2}{}",
                o.case,
                o.stack_wall_ms_per_sim_s,
                o.echo_wall_ms_per_sim_s,
                o.ratio,
                if o.partial { "  (partial)" } else { "" }
            );
        }
    }
    if !r.scaling.is_empty() {
        let _ = writeln!(s, "\nscaling (wall time per simulated second):");
        for g in &r.scaling {
            let _ = writeln!(
                s,
                "  {} / {}: ×{:.2} for ×{:.0} agent machines{}",
                g.to,
                g.from,
                g.wall_per_sim_ratio,
                g.machines_ratio,
                if g.partial {
                    "  (partial: ran out of budget)"
                } else {
                    ""
                }
            );
        }
    }
    let _ = writeln!(s, "\ntargets:");
    for t in &r.targets {
        let mark = match t.holds {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "–",
        };
        let _ = writeln!(s, "  {mark} {}: {}", t.target, t.detail);
    }
    s
}
