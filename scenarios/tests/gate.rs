//! The gate a user runs on a change, as one test — what `cargo mutants`
//! measures the mutation score against (docs/gate-power.md).
//!
//! It is the README's "Gating a change" commands in-process: every shipped
//! scenario file passes seeds 1..5 (its own `[expect]` included; a scale
//! scenario seed 1), and every nemesis file passes seeds 1..`MESOCHAOS_GATE_SEEDS`
//! (default 20). No role unit test and no scenario-specific assertion of
//! `scenarios.rs` is part of it: the score says what a user gating with
//! `mesochaos run` and `mesochaos sweep` alone would catch.
//!
//! It runs only when `MESOCHAOS_GATE=1` (the CI test command already runs the
//! same scenario seeds in `scenarios.rs`, and the nemesis seeds would double
//! CI's time):
//!
//! ```sh
//! MESOCHAOS_GATE=1 cargo test --release -p mesochaos-scenarios --test gate
//! ```

use mesochaos_harness::{run_recorded, RunOptions, Verdict};
use mesochaos_scenarios::{load, shipped_scenarios, Scenario};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Seeds of a scripted scenario file.
const SCENARIO_SEEDS: std::ops::RangeInclusive<u64> = 1..=5;

#[test]
fn the_gate_passes() {
    if std::env::var("MESOCHAOS_GATE").as_deref() != Ok("1") {
        eprintln!("skipped: set MESOCHAOS_GATE=1 to run the gate (scenarios/tests/gate.rs)");
        return;
    }
    let nemesis_seeds: u64 = std::env::var("MESOCHAOS_GATE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut jobs: Vec<(Scenario, u64)> = Vec::new();
    for path in shipped_scenarios() {
        let scenario = load(&path).unwrap_or_else(|e| panic!("{e}"));
        let seeds = if scenario.spec.nemesis.is_some() {
            1..=nemesis_seeds
        } else if scenario.spec.name.starts_with("scale-") {
            1..=1
        } else {
            SCENARIO_SEEDS
        };
        for seed in seeds {
            jobs.push((scenario.clone(), seed));
        }
    }
    // Two workers (the machine has two cores); stop at the first failure.
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                if failure.lock().unwrap().is_some() {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((scenario, seed)) = jobs.get(i) else {
                    return;
                };
                let (report, _) = run_recorded(&scenario.spec, *seed, RunOptions::default());
                if report.verdict != Verdict::Pass {
                    let checkers: Vec<&str> =
                        report.violations.iter().map(|v| v.checker.as_str()).collect();
                    *failure.lock().unwrap() = Some(format!(
                        "{} seed {seed}: {checkers:?}\nreplay: mesochaos run scenarios/{}.toml --seed {seed}",
                        report.scenario, report.scenario
                    ));
                }
            });
        }
    });
    if let Some(failure) = failure.into_inner().unwrap() {
        panic!("the gate failed: {failure}");
    }
    eprintln!("the gate passed: {} runs", jobs.len());
}
