//! The report: the machine, every case's figures, the stack/echo overheads,
//! how wall time grows with machines, and the performance targets with
//! whether each holds — as a table for people or JSON for machines.

use super::{CaseResult, Status};
use serde::Serialize;

const GIB: u64 = 1 << 30;

#[derive(Serialize)]
pub(super) struct Machine {
    pub(super) cores: usize,
    pub(super) cpu: String,
    pub(super) profile: &'static str,
    pub(super) tick_ms: u64,
}

#[derive(Serialize)]
pub(super) struct Overhead {
    pub(super) case: String,
    pub(super) stack_wall_ms_per_sim_s: f64,
    pub(super) echo_wall_ms_per_sim_s: f64,
    /// stack / echo, wall per simulated second.
    pub(super) ratio: f64,
    /// Either side ran out of budget (rates as far as it got).
    pub(super) partial: bool,
}

#[derive(Serialize)]
pub(super) struct Scaling {
    pub(super) from: String,
    pub(super) to: String,
    pub(super) machines_ratio: f64,
    /// Wall time per simulated second, `to` / `from`.
    pub(super) wall_per_sim_ratio: f64,
    pub(super) partial: bool,
}

#[derive(Serialize)]
pub(super) struct Target {
    pub(super) target: String,
    /// `None`: not measured in this run.
    pub(super) holds: Option<bool>,
    pub(super) detail: String,
}

#[derive(Serialize)]
pub(super) struct BenchReport {
    pub(super) machine: Machine,
    pub(super) budget_seconds: f64,
    pub(super) cases: Vec<CaseResult>,
    pub(super) overheads: Vec<Overhead>,
    pub(super) scaling: Vec<Scaling>,
    pub(super) targets: Vec<Target>,
}

pub(super) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub(super) fn short(c: &CaseResult) -> String {
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

pub(super) fn targets(
    stacks: &[CaseResult],
    overheads: &[Overhead],
    scaling: &[Scaling],
) -> Vec<Target> {
    let find = |name: &str| stacks.iter().find(|c| c.case == name);
    let not_measured = |target: &str, why: &str| Target {
        target: target.into(),
        holds: None,
        detail: why.into(),
    };
    let over = |c: &CaseResult| match c.status {
        Status::Ok => None,
        Status::OverBudget => Some(format!(
            "over its {:.0} s budget ({:.2}× real time as far as it got)",
            c.budget_seconds, c.sim_per_wall
        )),
        Status::Failed => Some(format!("failed: {}", c.note.as_deref().unwrap_or("?"))),
    };
    let mut out = Vec::new();

    let t = "standard cluster ≥ 300× real time on one core";
    out.push(match find("standard") {
        None => not_measured(t, "not run"),
        Some(c) => match over(c) {
            Some(why) => Target {
                target: t.into(),
                holds: Some(false),
                detail: why,
            },
            None => Target {
                target: t.into(),
                holds: Some(c.sim_per_wall >= 300.0),
                detail: format!("{:.1}× real time", c.sim_per_wall),
            },
        },
    });

    let big = find("failover-1000");
    let t = "1000 agents: failover ≥ 5× real time and peak RSS < 1 GiB";
    out.push(match big {
        None => not_measured(t, "not run (--agents without 1000)"),
        Some(c) => {
            let rss = c.peak_rss_bytes.unwrap_or(u64::MAX);
            let rss_text = c.peak_rss_bytes.map_or("RSS unknown".to_string(), |b| {
                format!("peak RSS {}", mib(b))
            });
            match over(c) {
                Some(why) => Target {
                    target: t.into(),
                    holds: Some(false),
                    detail: format!("{why}; {rss_text}"),
                },
                None => Target {
                    target: t.into(),
                    holds: Some(c.sim_per_wall >= 5.0 && rss < GIB),
                    detail: format!("{:.2}× real time, {rss_text}", c.sim_per_wall),
                },
            }
        }
    });

    let t = "×10 machines ⇒ wall time per simulated second ≤ ×11";
    if scaling.is_empty() {
        out.push(not_measured(t, "needs two failover sizes that ran"));
    }
    for s in scaling {
        let bound = 1.1 * s.machines_ratio;
        out.push(Target {
            target: format!("{t} ({} → {})", s.from, s.to),
            holds: Some(s.wall_per_sim_ratio <= bound),
            detail: format!(
                "×{:.2} for ×{:.0} agent machines (bound ×{bound:.1}){}",
                s.wall_per_sim_ratio,
                s.machines_ratio,
                if s.partial {
                    "; partial: a side ran out of budget"
                } else {
                    ""
                }
            ),
        });
    }

    let t = "stack overhead ≤ 2× the matched raw turmoil echo";
    if overheads.is_empty() {
        out.push(not_measured(t, "no echo baseline ran"));
    }
    for o in overheads {
        out.push(Target {
            target: format!("{t} ({})", o.case),
            holds: Some(o.ratio <= 2.0),
            detail: format!(
                "×{:.2}{}",
                o.ratio,
                if o.partial {
                    " (partial: a side ran out of budget)"
                } else {
                    ""
                }
            ),
        });
    }

    let t = "failover time ≤ session timeout + 5 s at 1000 agents";
    out.push(match big {
        None => not_measured(t, "not run (--agents without 1000)"),
        Some(c) => match (c.failover_time_s, c.session_timeout_s) {
            (Some(f), Some(s)) => Target {
                target: t.into(),
                holds: Some(f <= s + 5.0),
                detail: format!("{f:.2} s (session timeout {s:.0} s)"),
            },
            _ => Target {
                target: t.into(),
                holds: Some(false),
                detail: over(c).unwrap_or_else(|| "no failover time measured".into()),
            },
        },
    });
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub(super) fn text(r: &BenchReport) -> String {
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
