//! `shrink`: makes a replay file's nemesis schedule smaller while the same
//! checker still fails, and saves the result as a replay file.

use super::{pool, quiet_panics, run_seed, ReplayFile};
use crate::cli::{EXIT_BAD_INPUT, EXIT_FAIL};
use mesochaos_faults::{shrink, Schedule};
use rayon::prelude::*;
use std::path::Path;
use std::process::ExitCode;

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
