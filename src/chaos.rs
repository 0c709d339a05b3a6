//! `sweep`, `replay` and `shrink`: many seeds, one exact reproduction, a
//! minimal schedule.
//!
//! A failing seed of a sweep is saved as a *replay file*: the scenario file's
//! text, the seed, the planted bug if any, the nemesis schedule, the trace hash
//! and the code version. `replay` runs it again and compares trace hashes;
//! `shrink` makes its schedule smaller while the same checker still fails.

use indicatif::{ProgressBar, ProgressStyle};
use mesochaos_faults::shrink;
use mesochaos_faults::{FaultKind, Schedule};
use mesochaos_harness::run::{FaultCounts, Violation};
use mesochaos_harness::{run_recorded, RunOptions, RunReport, Verdict};
use mesochaos_reference::bugs::Bug;
use mesochaos_scenarios::Scenario;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::{Format, EXIT_BAD_INPUT, EXIT_FAIL};

/// Exit code of `replay` when the run differs from the recording.
pub const EXIT_DIFFERS: u8 = 3;

/// The code that made a run: the package version and a hash of every source
/// file (computed by `build.rs`).
pub const CODE_VERSION: &str = env!("MESOCHAOS_CODE_VERSION");

/// Everything needed to run a failing seed again, exactly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplayFile {
    pub format: u32,
    pub code_version: String,
    /// Where the scenario came from (for people; its text is below).
    pub scenario_path: String,
    pub scenario_toml: String,
    pub seed: u64,
    #[serde(default)]
    pub bug: Option<Bug>,
    /// The nemesis schedule (none for a scenario without `[nemesis]`).
    pub schedule: Option<Schedule>,
    pub trace_hash: String,
    pub failed_checkers: Vec<String>,
    pub violations: Vec<Violation>,
}

impl ReplayFile {
    fn new(path: &Path, toml: &str, bug: Option<Bug>, report: &RunReport) -> ReplayFile {
        ReplayFile {
            format: 1,
            code_version: CODE_VERSION.to_string(),
            scenario_path: path.display().to_string(),
            scenario_toml: toml.to_string(),
            seed: report.seed,
            bug,
            schedule: report.schedule.clone(),
            trace_hash: report.trace_hash.clone(),
            failed_checkers: failed_checkers(report),
            violations: report.violations.clone(),
        }
    }

    fn load(path: &Path, force: bool) -> Result<(ReplayFile, Scenario), ExitCode> {
        let bad = |message: String| {
            eprintln!("error: {}: {message}", path.display());
            ExitCode::from(EXIT_BAD_INPUT)
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let file: ReplayFile = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a mesochaos replay file: {e}")))?;
        if file.format != 1 {
            return Err(bad(format!(
                "replay file format {} (this is 1)",
                file.format
            )));
        }
        if file.code_version != CODE_VERSION && !force {
            return Err(bad(format!(
                "made by code version {}, this is {CODE_VERSION}: the run would likely differ; pass --force to replay anyway",
                file.code_version
            )));
        }
        let scenario =
            mesochaos_scenarios::parse(&file.scenario_toml, Path::new(&file.scenario_path))
                .map_err(|e| bad(format!("its scenario does not parse: {e}")))?;
        Ok((file, scenario))
    }

    fn save(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let json = serde_json::to_string_pretty(self).expect("replay files serialize");
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

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
    let mut spec = scenario.spec.clone();
    spec.cluster.bug = bug;
    let options = RunOptions {
        schedule,
        ..RunOptions::default()
    };
    FIRST_PANIC.with(|first| first.borrow_mut().take());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_recorded(&spec, seed, options).0
    }));
    outcome.unwrap_or_else(|panic| {
        let message = FIRST_PANIC
            .with(|first| first.borrow_mut().take())
            .unwrap_or_else(|| panic_message(&*panic));
        RunReport::panicked(&spec.name, seed, message)
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

#[derive(Serialize)]
struct SeedOutcome {
    seed: u64,
    verdict: Verdict,
    trace_hash: String,
    failed_checkers: Vec<String>,
    replay_file: Option<String>,
}

#[derive(Serialize)]
struct SweepSummary {
    scenario: String,
    code_version: &'static str,
    bug: Option<Bug>,
    seeds: Vec<SeedOutcome>,
    passed: usize,
    failed: usize,
    failures_by_checker: BTreeMap<String, usize>,
    faults: BTreeMap<FaultKind, FaultCounts>,
    /// Fault kinds the nemesis may draw that never fired in the whole sweep.
    kinds_never_fired: Vec<FaultKind>,
    wall_seconds: f64,
}

pub struct SweepArgs<'a> {
    pub file: &'a Path,
    pub seeds: Vec<u64>,
    pub jobs: usize,
    pub shard: Option<(u64, u64)>,
    pub results: PathBuf,
    pub bug: Option<Bug>,
    pub format: Format,
}

/// Runs many seeds in parallel, one simulation per thread.
pub fn sweep(args: SweepArgs) -> ExitCode {
    let scenario = match crate::load(args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let toml = match std::fs::read_to_string(args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let seeds: Vec<u64> = match args.shard {
        Some((i, n)) => args
            .seeds
            .iter()
            .enumerate()
            .filter(|(index, _)| *index as u64 % n == i - 1)
            .map(|(_, s)| *s)
            .collect(),
        None => args.seeds.clone(),
    };
    let first = seeds.first().copied().unwrap_or(0);
    let last = seeds.last().copied().unwrap_or(0);
    // The seeds come first: a sweep that dies can be resumed.
    let header = format!(
        "seeds: {first}..{last} ({} runs) · scenario {} · jobs {} · code {CODE_VERSION}{}",
        seeds.len(),
        scenario.spec.name,
        args.jobs,
        args.bug
            .map(|b| format!(" · planted bug {b}"))
            .unwrap_or_default()
    );
    match args.format {
        Format::Text => println!("{header}"),
        Format::Json => eprintln!("{header}"),
    }
    quiet_panics();
    let progress = ProgressBar::new(seeds.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds · {msg} · {elapsed} (eta {eta})")
            .expect("a valid template"),
    );
    let failures = std::sync::atomic::AtomicUsize::new(0);
    #[allow(clippy::disallowed_methods)] // wall time of the sweep, outside any simulation
    let started = std::time::Instant::now();
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let step = (seeds.len() / 10).max(1);
    let reports: Vec<RunReport> = pool(args.jobs).install(|| {
        seeds
            .par_iter()
            .map(|seed| {
                let report = run_seed(&scenario, *seed, args.bug, None);
                if report.verdict == Verdict::Fail {
                    let n = failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress.set_message(format!("{n} failed"));
                }
                progress.inc(1);
                if !interactive {
                    // No terminal (a CI log): a line every tenth of the sweep
                    // instead of a bar nobody sees.
                    let done = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    if done.is_multiple_of(step) || done == seeds.len() {
                        eprintln!(
                            "  {done}/{} seeds · {} failed · {:.0} s",
                            seeds.len(),
                            failures.load(std::sync::atomic::Ordering::Relaxed),
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
                report
            })
            .collect()
    });
    progress.finish_and_clear();
    let wall_seconds = started.elapsed().as_secs_f64();

    let mut outcomes = Vec::new();
    let mut failures_by_checker: BTreeMap<String, usize> = BTreeMap::new();
    let mut faults: BTreeMap<FaultKind, FaultCounts> = BTreeMap::new();
    let dir = args.results.join(&scenario.spec.name);
    for report in &reports {
        for (kind, counts) in &report.faults {
            let total = faults.entry(*kind).or_default();
            total.scheduled += counts.scheduled;
            total.fired += counts.fired;
            total.vacuous += counts.vacuous;
        }
        let checkers = failed_checkers(report);
        let mut replay_file = None;
        if report.verdict == Verdict::Fail {
            for c in &checkers {
                *failures_by_checker.entry(c.clone()).or_default() += 1;
            }
            let path = dir.join(format!("seed-{}.json", report.seed));
            let file = ReplayFile::new(args.file, &toml, args.bug, report);
            match file.save(&path) {
                Ok(()) => replay_file = Some(path.display().to_string()),
                Err(e) => eprintln!("warning: {e}"),
            }
        }
        outcomes.push(SeedOutcome {
            seed: report.seed,
            verdict: report.verdict.clone(),
            trace_hash: report.trace_hash.clone(),
            failed_checkers: checkers,
            replay_file,
        });
    }
    // "Sometimes" across the sweep: every kind the nemesis may draw fired.
    let kinds_never_fired: Vec<FaultKind> = scenario
        .spec
        .nemesis
        .as_ref()
        .map(|n| {
            n.kinds
                .iter()
                .filter(|(_, w)| **w > 0)
                .map(|(k, _)| *k)
                .filter(|k| faults.get(k).is_none_or(|c| c.fired == 0))
                .collect()
        })
        .unwrap_or_default();
    let failed = outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Fail)
        .count();
    let summary = SweepSummary {
        scenario: scenario.spec.name.clone(),
        code_version: CODE_VERSION,
        bug: args.bug,
        passed: outcomes.len() - failed,
        failed,
        seeds: outcomes,
        failures_by_checker,
        faults,
        kinds_never_fired,
        wall_seconds,
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("summaries serialize")
        ),
        Format::Text => print_sweep(&summary),
    }
    if summary.failed > 0 || !summary.kinds_never_fired.is_empty() {
        ExitCode::from(EXIT_FAIL)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_sweep(s: &SweepSummary) {
    let runs = s.seeds.len();
    println!(
        "passed {} of {runs}, failed {} · {:.1} s wall, {:.2} seeds/s",
        s.passed,
        s.failed,
        s.wall_seconds,
        runs as f64 / s.wall_seconds.max(1e-9)
    );
    if !s.failures_by_checker.is_empty() {
        println!("failures by checker:");
        for (checker, n) in &s.failures_by_checker {
            println!("  {checker:<24} {n}");
        }
    }
    if !s.faults.is_empty() {
        println!("fault kinds (scheduled / fired / found no target):");
        for (kind, c) in &s.faults {
            println!(
                "  {:<24} {:>6} / {:>6} / {:>4}",
                kind.name(),
                c.scheduled,
                c.fired,
                c.vacuous
            );
        }
    }
    for kind in &s.kinds_never_fired {
        println!("FAIL: fault kind {kind} never fired in this sweep");
    }
    let failing: Vec<&SeedOutcome> = s
        .seeds
        .iter()
        .filter(|o| o.verdict == Verdict::Fail)
        .collect();
    if !failing.is_empty() {
        println!("failing seeds:");
        for o in failing {
            match &o.replay_file {
                Some(file) => println!(
                    "  seed {:<6} {:<32} mesochaos replay {file}",
                    o.seed,
                    o.failed_checkers.join(",")
                ),
                None => println!("  seed {:<6} {}", o.seed, o.failed_checkers.join(",")),
            }
        }
    }
}

/// Runs a replay file again; exit 0 when the trace hash matches.
pub fn replay(path: &Path, force: bool) -> ExitCode {
    let (file, scenario) = match ReplayFile::load(path, force) {
        Ok(x) => x,
        Err(code) => return code,
    };
    println!("seed: {}", file.seed);
    let report = run_seed(&scenario, file.seed, file.bug, file.schedule.clone());
    let checkers = failed_checkers(&report);
    for v in &report.violations {
        println!(
            "VIOLATION [{}] at {:.2}s: {}",
            v.checker,
            v.t_ms as f64 / 1000.0,
            v.message
        );
    }
    if report.trace_hash == file.trace_hash {
        println!(
            "reproduced exactly: trace hash {} · failed checkers: {}",
            report.trace_hash,
            if checkers.is_empty() {
                "none".into()
            } else {
                checkers.join(", ")
            }
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "DIFFERS: recorded trace hash {}, this run {} (recorded failures: {}; now: {})",
            file.trace_hash,
            report.trace_hash,
            file.failed_checkers.join(", "),
            if checkers.is_empty() {
                "none".into()
            } else {
                checkers.join(", ")
            }
        );
        ExitCode::from(EXIT_DIFFERS)
    }
}

/// Shrinks a replay file's schedule while `checker` (by default its first
/// failed checker) still fails.
pub fn shrink_file(
    path: &Path,
    out: Option<&Path>,
    force: bool,
    jobs: usize,
    checker: Option<&str>,
) -> ExitCode {
    let (file, scenario) = match ReplayFile::load(path, force) {
        Ok(x) => x,
        Err(code) => return code,
    };
    println!("seed: {}", file.seed);
    let Some(nemesis) = scenario.spec.nemesis.clone() else {
        eprintln!(
            "error: {}: its scenario has no [nemesis], so there is no schedule to shrink",
            path.display()
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    let Some(first) = file.failed_checkers.first().cloned() else {
        eprintln!("error: {}: the recorded run did not fail", path.display());
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    let target = match checker {
        None => first,
        Some(c) if file.failed_checkers.iter().any(|f| f == c) => c.to_string(),
        Some(c) => {
            eprintln!(
                "error: --checker {c}: the recorded run did not fail it; it failed: {}",
                file.failed_checkers.join(", ")
            );
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let schedule = file.schedule.clone().unwrap_or_default();
    let fails = |s: &Schedule| {
        let report = run_seed(&scenario, file.seed, file.bug, Some(s.clone()));
        let hit = report.violations.iter().any(|v| v.checker == target);
        (hit, report)
    };
    let (reproduced, _) = fails(&schedule);
    if !reproduced {
        println!(
            "the recorded failure ({target}) does not reproduce with its schedule: nothing to shrink"
        );
        return ExitCode::from(EXIT_FAIL);
    }
    println!(
        "shrinking {} faults while \"{target}\" still fails (seed {})",
        schedule.faults.len(),
        file.seed
    );
    quiet_panics();
    let pool = pool(jobs);
    let mut current = schedule;
    let mut runs = 1;
    loop {
        let candidates = shrink::candidates(&current, nemesis.safety_ms);
        // Try candidates in order, a batch per round in parallel; take the
        // first (in order) that still fails, so the result does not depend on
        // how many jobs ran.
        let mut accepted = None;
        for batch in candidates.chunks(jobs.max(1)) {
            let results: Vec<bool> =
                pool.install(|| batch.par_iter().map(|c| fails(c).0).collect());
            runs += batch.len();
            if let Some(i) = results.iter().position(|f| *f) {
                accepted = Some(batch[i].clone());
                break;
            }
        }
        match accepted {
            Some(smaller) => {
                println!(
                    "  {} faults, {:.0} s of faults in all · still fails",
                    smaller.faults.len(),
                    shrink::size(&smaller, nemesis.safety_ms).1 as f64 / 1000.0
                );
                current = smaller;
            }
            None => break,
        }
    }
    let (_, report) = fails(&current);
    let shrunk = ReplayFile::new(
        Path::new(&file.scenario_path),
        &file.scenario_toml,
        file.bug,
        &report,
    );
    let default_out = path.with_extension("shrunk.json");
    let out = out.unwrap_or(&default_out);
    if let Err(e) = shrunk.save(out) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    println!(
        "shrunk to {} faults after {runs} runs; removing any one of them makes \"{target}\" stop failing:",
        current.faults.len()
    );
    for f in &current.faults {
        let heal = f
            .heal_after_ms
            .map(|ms| format!(", healed after {:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default();
        println!("  at {:>7.1} s  {}{heal}", f.at_ms as f64 / 1000.0, f.fault);
    }
    println!("saved {}", out.display());
    println!("replay: mesochaos replay {}", out.display());
    ExitCode::SUCCESS
}
