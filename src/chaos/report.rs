//! `mesochaos report RUN [--out DIR]`: a report folder from a trace or a
//! replay file.
//!
//! A `--trace` file stands alone (header, records, outcome), so its report is
//! rendered without running anything. A replay file holds what makes the run
//! (scenario text, seed, bug, schedule), so it is run again — exactly, as
//! `replay` would — and reported. Either way the folder holds
//! `timeline.html`, `walkthrough.md` and `report.json`
//! (`reports/src/folder.rs`).

use super::replay::ReplayFile;
use super::{run_seed_recorded, CODE_VERSION};
use crate::cli::EXIT_BAD_INPUT;
use mesochaos_harness::check::expectation_checkers;
use mesochaos_harness::trace::TraceRecord;
use mesochaos_harness::RunReport;
use mesochaos_reports::run::{Header, RunData};
use mesochaos_scenarios::Scenario;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

/// Makes the report folder of `input`.
pub fn report(input: &Path, out: Option<&Path>, force: bool) -> ExitCode {
    let bad = |message: String| {
        eprintln!("error: {}: {message}", input.display());
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let text = match std::fs::read_to_string(input) {
        Ok(text) => text,
        Err(e) => return bad(format!("cannot read: {e}")),
    };
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let is_trace = first.starts_with('{') && first.contains("\"type\":\"header\"");
    let data = if is_trace {
        match RunData::parse_trace(&text) {
            Ok(data) => data,
            Err(e) => return bad(e),
        }
    } else if text.trim_start().starts_with('{') && text.contains("\"scenario_toml\"") {
        let (file, scenario) = match ReplayFile::load(input, force) {
            Ok(x) => x,
            Err(code) => return code,
        };
        println!("seed: {}", file.seed);
        eprintln!("running the replay file again to report it ...");
        let (report, records) =
            run_seed_recorded(&scenario, file.seed, file.bug, file.schedule.clone());
        if report.trace_hash != file.trace_hash {
            eprintln!(
                "warning: this run's trace hash {} differs from the recorded {}: the report shows this run",
                report.trace_hash, file.trace_hash
            );
        }
        let header = header_of(
            &scenario,
            &file.scenario_path,
            &file.scenario_toml,
            &report,
            file.bug,
        );
        data_of(header, &scenario, &report, records)
    } else {
        return bad(
            "neither a trace (written by `mesochaos run --trace`, starting with a header line) nor a replay file (written by `sweep` or `shrink`)".into(),
        );
    };
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_dir(input));
    match write_folder(&dir, &data) {
        Ok(()) => {
            println!(
                "{} seed {}: {} · wrote {}/timeline.html, walkthrough.md, report.json",
                data.header.scenario,
                data.header.seed,
                match data.outcome.verdict {
                    mesochaos_harness::Verdict::Pass => "PASS".to_string(),
                    mesochaos_harness::Verdict::Fail => format!(
                        "FAIL ({})",
                        mesochaos_reports::walkthrough::violations(data.outcome.violations.len())
                    ),
                },
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// `RUN.report/` beside the input.
fn default_dir(input: &Path) -> PathBuf {
    let mut name = input.file_name().unwrap_or_default().to_os_string();
    name.push(".report");
    input.with_file_name(name)
}

/// The header of a run of `scenario` (read from `path`, text `toml`).
pub fn header_of(
    scenario: &Scenario,
    path: &str,
    toml: &str,
    report: &RunReport,
    bug: Option<mesochaos_reference::bugs::Bug>,
) -> Header {
    Header::new(
        &scenario.spec.name,
        &scenario.description,
        path,
        toml,
        report.seed,
        bug,
        CODE_VERSION,
    )
}

/// A run made in this process, ready for the reports.
pub fn data_of(
    header: Header,
    scenario: &Scenario,
    report: &RunReport,
    records: Vec<TraceRecord>,
) -> RunData {
    RunData::of(
        header,
        report,
        records,
        &expectation_checkers(&scenario.spec.expect),
    )
}

/// Writes the folder, linking `walkthrough.md` to the reference when the
/// current directory is a mesochaos checkout.
pub fn write_folder(dir: &Path, data: &RunData) -> Result<(), String> {
    let base = link_base(dir);
    mesochaos_reports::folder::write(dir, data, base.as_deref()).map(|_| ())
}

/// The relative path from `dir` to the checkout the command runs in (so
/// `walkthrough.md`'s links to `reference/src/...` work), or `None` outside
/// one.
fn link_base(dir: &Path) -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    if !cwd.join("reference/src").is_dir() {
        return None;
    }
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        cwd.join(dir)
    };
    let dir = normalize(&dir);
    let cwd = normalize(&cwd);
    let common = dir
        .components()
        .zip(cwd.components())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = dir.components().count() - common;
    let mut base = "../".repeat(ups);
    for c in cwd.components().skip(common) {
        base.push_str(&c.as_os_str().to_string_lossy());
        base.push('/');
    }
    Some(base)
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The CLI's `run --trace`: the outcome line appended after the run.
pub fn append_outcome(path: &Path, scenario: &Scenario, report: &RunReport) -> std::io::Result<()> {
    use std::io::Write;
    let outcome =
        mesochaos_reports::run::Outcome::of(report, &expectation_checkers(&scenario.spec.expect));
    let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
    writeln!(
        file,
        "{}",
        serde_json::to_string(&outcome).expect("outcomes serialize")
    )?;
    Ok(())
}
