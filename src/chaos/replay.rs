//! The replay file — everything needed to run a failing seed again, exactly —
//! and `replay`, which runs it and compares trace hashes.

use super::{failed_checkers, run_seed, CODE_VERSION, EXIT_DIFFERS};
use crate::cli::EXIT_BAD_INPUT;
use mesochaos_faults::Schedule;
use mesochaos_harness::run::Violation;
use mesochaos_harness::RunReport;
use mesochaos_reference::bugs::Bug;
use mesochaos_scenarios::Scenario;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::ExitCode;

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
    pub(crate) fn new(path: &Path, toml: &str, bug: Option<Bug>, report: &RunReport) -> ReplayFile {
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

    pub(crate) fn load(path: &Path, force: bool) -> Result<(ReplayFile, Scenario), ExitCode> {
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

    pub(crate) fn save(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let json = serde_json::to_string_pretty(self).expect("replay files serialize");
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))
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
