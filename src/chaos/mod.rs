//! `sweep`, `replay` and `shrink`: many seeds, one exact reproduction, a
//! minimal schedule.
//!
//! A failing seed of a sweep is saved as a *replay file*: the scenario file's
//! text, the seed, the planted bug if any, the nemesis schedule, the trace hash
//! and the code version. `replay` runs it again and compares trace hashes;
//! `shrink` makes its schedule smaller while the same checker still fails.
//!
//! This module runs one seed (a panic is a failed run) and reads the
//! arguments; `sweep`, `merge`, `replay` (with the replay file), `shrink` and
//! `report` (a report folder of a trace or a replay file) are the subcommands.

mod merge;
mod replay;
pub mod report;
mod shrink;
mod sweep;

pub use merge::merge;
pub use replay::{replay, ReplayFile};
pub use shrink::shrink_file;
pub use sweep::{sweep, SweepArgs};

use mesochaos_faults::Schedule;
use mesochaos_harness::trace::TraceRecord;
use mesochaos_harness::{run_recorded, RunOptions, RunReport};
use mesochaos_reference::bugs::Bug;
use mesochaos_scenarios::Scenario;
use std::collections::BTreeSet;

/// Exit code of `replay` when the run differs from the recording.
pub const EXIT_DIFFERS: u8 = 3;

/// The code that made a run: the package version and a hash of every source
/// file (computed by `build.rs`).
pub const CODE_VERSION: &str = env!("MESOCHAOS_CODE_VERSION");

fn failed_checkers(report: &RunReport) -> Vec<String> {
    let set: BTreeSet<&str> = report
        .violations
        .iter()
        .map(|v| v.checker.as_str())
        .collect();
    set.into_iter().map(str::to_string).collect()
}

/// Many runs print nothing per panic: a panic is a failed seed whose message
/// is in its report (and replay file), not a backtrace in the middle of a
/// progress bar.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        // Keep the first panic of this thread's current run: the role's own
        // message and where it fired, rather than the runtime's "a spawned task
        // panicked" that surfaces afterwards.
        let message = format!(
            "{}{}",
            panic_message(info.payload()),
            info.location()
                .map(|l| format!(" (at {}:{})", l.file(), l.line()))
                .unwrap_or_default()
        );
        FIRST_PANIC.with(|first| {
            first.borrow_mut().get_or_insert(message);
        });
    }));
}

thread_local! {
    /// The first panic message seen on this thread since the run began.
    static FIRST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs one seed; a panic inside the simulation is a failed run, not an abort.
pub fn run_seed(
    scenario: &Scenario,
    seed: u64,
    bug: Option<Bug>,
    schedule: Option<Schedule>,
) -> RunReport {
    run_seed_recorded(scenario, seed, bug, schedule).0
}

/// Like [`run_seed`], also returning the trace records (none if the run
/// panicked): what a report is made of.
pub fn run_seed_recorded(
    scenario: &Scenario,
    seed: u64,
    bug: Option<Bug>,
    schedule: Option<Schedule>,
) -> (RunReport, Vec<TraceRecord>) {
    let mut spec = scenario.spec.clone();
    spec.cluster.bug = bug;
    let options = RunOptions {
        schedule,
        ..RunOptions::default()
    };
    FIRST_PANIC.with(|first| first.borrow_mut().take());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_recorded(&spec, seed, options)
    }));
    outcome.unwrap_or_else(|panic| {
        let message = FIRST_PANIC
            .with(|first| first.borrow_mut().take())
            .unwrap_or_else(|| panic_message(&*panic));
        (RunReport::panicked(&spec.name, seed, message), Vec::new())
    })
}

/// The text a panic carried (`panic!` with a literal or a formatted message).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// `A..B` (inclusive, as the issue tracker and people write it) or `N`.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, String> {
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (a, b.trim_start_matches('=')),
        None => (text, text),
    };
    let parse = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("\"{text}\" is not a seed range such as 1..200"))
    };
    let (a, b) = (parse(a)?, parse(b)?);
    if a > b {
        return Err(format!("empty seed range {text}: {a} is after {b}"));
    }
    Ok((a..=b).collect())
}

/// `I/N` with 1 ≤ I ≤ N.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("\"{text}\" is not a shard such as 1/4");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(format!("shard {text}: need 1 <= I <= N"));
    }
    Ok((i, n))
}

/// The `--bug` argument: one of the zoo's names, listed by `--help` from
/// `Bug::ALL` itself (so the list cannot go stale) and refused by clap, with
/// the possible values, otherwise.
pub fn bug_parser() -> impl clap::builder::TypedValueParser<Value = Bug> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Bug::ALL.map(Bug::name))
        .map(|name| Bug::parse(&name).expect("one of the possible values"))
}

pub(crate) fn pool(jobs: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .expect("a thread pool")
}
