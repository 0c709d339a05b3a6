//! `sweep`: many seeds of one scenario in parallel; a failing seed is saved
//! as a replay file, and the summary counts failures by checker and how often
//! each fault kind fired.

use super::{failed_checkers, pool, quiet_panics, run_seed_recorded, ReplayFile, CODE_VERSION};
use crate::cli::{load, Format, EXIT_BAD_INPUT, EXIT_FAIL};
use indicatif::{ProgressBar, ProgressStyle};
use mesochaos_faults::FaultKind;
use mesochaos_harness::report::Violation;
use mesochaos_harness::run::FaultCounts;
use mesochaos_harness::{RunReport, Verdict};
use mesochaos_reference::bugs::Bug;
use mesochaos_reports::sweep::{SeedOutcome, SweepSummary};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What a sweep (or one shard of it) was: kept as `sweep.json` in its
/// results folder, beside a record per seed, for `merge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct SweepRecord {
    /// The scenario's name (its results folder).
    pub(super) scenario: String,
    /// The scenario file swept.
    pub(super) file: String,
    /// The code that ran it: shards of different code do not merge.
    pub(super) code_version: String,
    /// The planted bug, if any.
    pub(super) bug: Option<Bug>,
    /// The fault kinds the nemesis may draw (each must fire in the sweep).
    pub(super) nemesis_kinds: Vec<FaultKind>,
    /// Wall seconds the sweep took (for merged shards, their sum).
    pub(super) wall_seconds: f64,
}

/// One seed's outcome, kept as `records/seed-N.json`: what the summary and
/// the JUnit file are made of.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct SeedRecord {
    /// The seed.
    pub(super) seed: u64,
    /// Pass or fail.
    pub(super) verdict: Verdict,
    /// The trace hash (same seed, same code: same hash).
    pub(super) trace_hash: String,
    /// The checkers that fired.
    pub(super) failed_checkers: Vec<String>,
    /// What they found.
    pub(super) violations: Vec<Violation>,
    /// Fault kinds scheduled and fired.
    pub(super) faults: BTreeMap<FaultKind, FaultCounts>,
    /// The replay file written for a failing seed.
    pub(super) replay_file: Option<String>,
    /// The report folder written for a failing seed (`timeline.html`,
    /// `walkthrough.md`, `report.json`), beside its replay file.
    #[serde(default)]
    pub(super) report_dir: Option<String>,
    /// Wall seconds the seed took.
    pub(super) seconds: f64,
}

pub struct SweepArgs<'a> {
    pub file: &'a Path,
    pub seeds: Vec<u64>,
    pub jobs: usize,
    pub shard: Option<(u64, u64)>,
    pub results: PathBuf,
    pub bug: Option<Bug>,
    pub format: Format,
    /// Where to write the sweep as JUnit XML, if anywhere.
    pub junit: Option<PathBuf>,
}

/// Runs many seeds in parallel, one simulation per thread.
pub fn sweep(args: SweepArgs) -> ExitCode {
    let scenario = match load(args.file) {
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
    let runs: Vec<(RunReport, (f64, Option<String>))> = pool(args.jobs).install(|| {
        seeds
            .par_iter()
            .map(|seed| {
                #[allow(clippy::disallowed_methods)] // a seed's wall time, for JUnit
                let seed_started = std::time::Instant::now();
                let (report, records) = run_seed_recorded(&scenario, *seed, args.bug, None);
                let seconds = seed_started.elapsed().as_secs_f64();
                // A failing seed's report folder is written here, while its
                // records are at hand; a passing seed's records are dropped.
                let report_dir = (report.verdict == Verdict::Fail)
                    .then(|| failing_report(&args, &scenario, &toml, &report, records))
                    .flatten();
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
                (report, (seconds, report_dir))
            })
            .collect()
    });
    let (reports, seconds): (Vec<RunReport>, Vec<(f64, Option<String>)>) = runs.into_iter().unzip();
    progress.finish_and_clear();
    let wall_seconds = started.elapsed().as_secs_f64();

    let dir = args.results.join(&scenario.spec.name);
    let mut records = Vec::new();
    for (report, (seconds, report_dir)) in reports.iter().zip(seconds) {
        let mut replay_file = None;
        if report.verdict == Verdict::Fail {
            let path = dir.join(format!("seed-{}.json", report.seed));
            let file = ReplayFile::new(args.file, &toml, args.bug, report);
            match file.save(&path) {
                Ok(()) => replay_file = Some(path.display().to_string()),
                Err(e) => eprintln!("warning: {e}"),
            }
        }
        records.push(SeedRecord {
            seed: report.seed,
            verdict: report.verdict.clone(),
            trace_hash: report.trace_hash.clone(),
            failed_checkers: failed_checkers(report),
            violations: report.violations.clone(),
            faults: report.faults.clone(),
            replay_file,
            report_dir,
            seconds,
        });
    }
    let record = SweepRecord {
        scenario: scenario.spec.name.clone(),
        file: args.file.display().to_string(),
        code_version: CODE_VERSION.to_string(),
        bug: args.bug,
        // The kinds the nemesis may draw: each must fire somewhere in the sweep.
        nemesis_kinds: scenario
            .spec
            .nemesis
            .as_ref()
            .map(|n| {
                n.kinds
                    .iter()
                    .filter(|(_, w)| **w > 0)
                    .map(|(k, _)| *k)
                    .collect()
            })
            .unwrap_or_default(),
        wall_seconds,
    };
    // Every seed's record stays in the results folder, so that `merge` can
    // make one summary (and one JUnit file) of the shards of a CI matrix.
    if let Err(e) = super::merge::save_records(&dir, &record, &records) {
        eprintln!("warning: {e}");
    }
    finish(&record, &records, args.format, args.junit.as_deref())
}

/// The summary, the JUnit file and the exit code of a sweep — or of the
/// merge of a sweep's shards (`merge.rs`), from the same records.
pub(super) fn finish(
    record: &SweepRecord,
    records: &[SeedRecord],
    format: Format,
    junit: Option<&Path>,
) -> ExitCode {
    let summary = summarize(record, records);
    if let Some(path) = junit {
        let cases: Vec<mesochaos_reports::junit::SeedCase> = records
            .iter()
            .map(|r| mesochaos_reports::junit::SeedCase {
                seed: r.seed,
                seconds: r.seconds,
                violations: &r.violations,
                failed: r.verdict == Verdict::Fail,
                replay: r
                    .replay_file
                    .as_ref()
                    .map(|file| format!("mesochaos replay {file}")),
                report: r
                    .report_dir
                    .as_ref()
                    .map(|dir| format!("{dir}/timeline.html")),
            })
            .collect();
        let xml = mesochaos_reports::junit::sweep(&summary.scenario, record.wall_seconds, &cases);
        if let Err(e) = std::fs::write(path, xml) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("summaries serialize")
        ),
        Format::Text => print!("{}", mesochaos_reports::sweep::text(&summary)),
    }
    if summary.failed > 0 || !summary.kinds_never_fired.is_empty() {
        ExitCode::from(EXIT_FAIL)
    } else {
        ExitCode::SUCCESS
    }
}

/// Counts failures by checker and fault kinds over the seeds' records.
fn summarize(record: &SweepRecord, records: &[SeedRecord]) -> SweepSummary {
    let mut failures_by_checker: BTreeMap<String, usize> = BTreeMap::new();
    let mut faults: BTreeMap<FaultKind, FaultCounts> = BTreeMap::new();
    let mut outcomes = Vec::new();
    for r in records {
        for (kind, counts) in &r.faults {
            let total = faults.entry(*kind).or_default();
            total.scheduled += counts.scheduled;
            total.fired += counts.fired;
            total.vacuous += counts.vacuous;
        }
        if r.verdict == Verdict::Fail {
            for c in &r.failed_checkers {
                *failures_by_checker.entry(c.clone()).or_default() += 1;
            }
        }
        outcomes.push(SeedOutcome {
            seed: r.seed,
            verdict: r.verdict.clone(),
            trace_hash: r.trace_hash.clone(),
            failed_checkers: r.failed_checkers.clone(),
            replay_file: r.replay_file.clone(),
            report_dir: r.report_dir.clone(),
        });
    }
    // "Sometimes" across the sweep: every kind the nemesis may draw fired.
    let kinds_never_fired: Vec<FaultKind> = record
        .nemesis_kinds
        .iter()
        .copied()
        .filter(|k| faults.get(k).is_none_or(|c| c.fired == 0))
        .collect();
    let failed = outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Fail)
        .count();
    SweepSummary {
        scenario: record.scenario.clone(),
        code_version: CODE_VERSION.to_string(),
        bug: record.bug,
        passed: outcomes.len() - failed,
        failed,
        seeds: outcomes,
        failures_by_checker,
        faults,
        kinds_never_fired,
        wall_seconds: record.wall_seconds,
    }
}

/// Writes the report folder of a failing seed beside its replay file
/// (`<results>/<scenario>/seed-N.report/`); a failure to write is a warning.
fn failing_report(
    args: &SweepArgs,
    scenario: &mesochaos_scenarios::Scenario,
    toml: &str,
    report: &RunReport,
    records: Vec<mesochaos_harness::trace::TraceRecord>,
) -> Option<String> {
    let dir = args
        .results
        .join(&scenario.spec.name)
        .join(format!("seed-{}.report", report.seed));
    let path = args.file.display().to_string();
    let header = super::report::header_of(scenario, &path, toml, report, args.bug);
    let data = super::report::data_of(header, scenario, report, records);
    match super::report::write_folder(&dir, &data) {
        Ok(()) => Some(dir.display().to_string()),
        Err(e) => {
            eprintln!("warning: seed {}: {e}", report.seed);
            None
        }
    }
}
