//! The bench's judgement: the machine it ran on and whether each performance
//! target holds. (The report's types and its table for people live in
//! `reports/src/bench.rs`, with the rest of mesochaos's rendering.)

use mesochaos_reports::bench::{mib, CaseResult, Overhead, Scaling, Status, Target};

const GIB: u64 = 1 << 30;

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
