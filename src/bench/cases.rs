//! The stack cases: the standard cluster under the nemesis, a master failover
//! with N agent machines, and sweep throughput — each a mesochaos run (or many)
//! measured from the outside.

use super::child::{peak_rss_bytes, repeat_short, wall_clock, Progress, ProgressWriter, Watchdog};
use super::{CaseResult, Status};
use crate::chaos;
use mesochaos_harness::{run_recorded, RunOptions, Verdict};
use mesochaos_scenarios::Scenario;
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The standard cluster under the nemesis, 20 agent machines, ≈ 600 s.
pub(super) const STANDARD_TOML: &str = include_str!("../../bench/standard.toml");
/// What `sweep` throughput is measured on.
const SWEEP_TOML: &str = include_str!("../../scenarios/nemesis-standard.toml");
/// The failover case, with `@AGENTS@` and `@TASKS@` filled in.
const FAILOVER_TOML: &str = include_str!("../../bench/failover.toml");

pub(super) fn parse_embedded(text: &str, label: &str) -> Scenario {
    mesochaos_scenarios::parse(text, Path::new(label))
        .unwrap_or_else(|e| panic!("the embedded scenario {label} does not parse: {e}"))
}

/// The failover scenario with `agents` agent machines and as many tasks.
pub fn failover_toml(agents: usize) -> String {
    FAILOVER_TOML
        .replace("@AGENTS@", &agents.to_string())
        .replace("@TASKS@", &agents.to_string())
}

pub(super) fn stack_case(mut result: CaseResult, scenario: &Scenario) -> ExitCode {
    let spec = &scenario.spec;
    result.agents = Some(spec.cluster.agents);
    result.hosts = mesochaos_harness::cluster::process_names(&spec.cluster).len();
    result.session_timeout_s = Some(spec.cluster.timing.zk_session_timeout_ms as f64 / 1000.0);
    eprintln!(
        "bench: {}: {} hosts, budget {:.0} s",
        result.case, result.hosts, result.budget_seconds
    );
    let progress = Arc::new(Progress::default());
    let watchdog = Watchdog::start(result.clone(), progress.clone());
    let writer = ProgressWriter {
        progress: progress.clone(),
        pairs: BTreeSet::new(),
    };
    let options = RunOptions {
        trace_out: Some(Box::new(writer)),
        ..RunOptions::default()
    };
    let started = wall_clock();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_recorded(spec, scenario.seed, options).0
    }));
    result.wall_seconds = started.elapsed().as_secs_f64();
    result.peak_rss_bytes = peak_rss_bytes();
    result.connections = progress.connections.load(Ordering::Relaxed) as usize;
    match outcome {
        Ok(report) => {
            result.sim_seconds = report.sim_seconds;
            result.messages = report.metrics.messages_sent;
            result.failover_time_s = report.metrics.failover_time_ms.map(|ms| ms as f64 / 1000.0);
            result.verdict = Some(match report.verdict {
                Verdict::Pass => "pass".into(),
                Verdict::Fail => "fail".into(),
            });
            if report.verdict == Verdict::Pass {
                // A short case runs again; see `CaseResult::runs`.
                let (runs, wall) = repeat_short(result.wall_seconds, || {
                    let started = wall_clock();
                    let again = run_recorded(spec, scenario.seed, RunOptions::default()).0;
                    let wall = started.elapsed().as_secs_f64();
                    assert_eq!(
                        again.trace_hash, report.trace_hash,
                        "a repeated run differs"
                    );
                    wall
                });
                result.runs = runs;
                result.wall_seconds = wall;
            } else {
                result.status = Status::Failed;
                let checkers: BTreeSet<&str> = report
                    .violations
                    .iter()
                    .map(|v| v.checker.as_str())
                    .collect();
                result.note = Some(format!(
                    "the run failed: {}",
                    checkers.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Err(panic) => {
            result.status = Status::Failed;
            result.sim_seconds = progress.t_ms.load(Ordering::Relaxed) as f64 / 1000.0;
            result.messages = progress.messages.load(Ordering::Relaxed);
            result.note = Some(format!(
                "the harness panicked: {}",
                chaos::panic_message(&*panic)
            ));
        }
    }
    result.finish_rates();
    watchdog.done(&result);
    ExitCode::SUCCESS
}

pub(super) fn sweep_case(mut result: CaseResult, seeds: u64, jobs: u64) -> ExitCode {
    let scenario = parse_embedded(SWEEP_TOML, "scenarios/nemesis-standard.toml");
    result.agents = Some(scenario.spec.cluster.agents);
    result.hosts = mesochaos_harness::cluster::process_names(&scenario.spec.cluster).len();
    result.seeds = Some(seeds);
    result.jobs = Some(jobs);
    eprintln!(
        "bench: {}: {seeds} seeds of nemesis-standard on {jobs} threads, budget {:.0} s",
        result.case, result.budget_seconds
    );
    let watchdog = Watchdog::start(result.clone(), Arc::new(Progress::default()));
    let seed_list: Vec<u64> = (1..=seeds).collect();
    let started = wall_clock();
    let reports: Vec<_> = chaos::pool(jobs as usize).install(|| {
        seed_list
            .par_iter()
            .map(|&seed| chaos::run_seed(&scenario, seed, None, None))
            .collect()
    });
    result.wall_seconds = started.elapsed().as_secs_f64();
    result.peak_rss_bytes = peak_rss_bytes();
    result.sim_seconds = reports.iter().map(|r| r.sim_seconds).sum();
    result.messages = reports.iter().map(|r| r.metrics.messages_sent).sum();
    result.seeds_per_wall = Some(seeds as f64 / result.wall_seconds.max(1e-9));
    let failed = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .count();
    result.verdict = Some(if failed == 0 { "pass" } else { "fail" }.into());
    if failed > 0 {
        result.note = Some(format!("{failed} of {seeds} seeds failed their checks"));
    }
    result.finish_rates();
    watchdog.done(&result);
    ExitCode::SUCCESS
}
