//! `mesochaos real FILE` and the hidden `real-process` subcommand each of its
//! processes runs (`real/src/run/`, `real/src/process.rs`).

use crate::chaos::CODE_VERSION;
use crate::cli::{load, EXIT_BAD_INPUT, EXIT_FAIL};
use mesochaos_harness::{RunReport, Verdict};
use mesochaos_real::process::ChildArgs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `--coordinator`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum CoordinatorArg {
    /// The built-in stand-in, as its own process.
    Builtin,
    /// Apache ZooKeeper, started by the harness as a child JVM.
    Zookeeper,
}

/// A runtime on this thread: the supervisor forks every child from it, and
/// `PR_SET_PDEATHSIG` fires when the forking *thread* ends.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `mesochaos real FILE`.
pub fn real(
    file: &Path,
    seed: Option<u64>,
    keep: Option<PathBuf>,
    trace: Option<&Path>,
    coordinator: CoordinatorArg,
    compare: bool,
) -> ExitCode {
    // A scenario file, or a simulation's replay file (its scenario and seed).
    let input = match Input::load(file) {
        Ok(input) => input,
        Err(code) => return code,
    };
    let scenario = &input.scenario;
    let mut refused = mesochaos_real::run::refusals(&scenario.spec);
    if let Some(bug) = input.bug {
        refused.push(format!(
            "the replay file plants the bug `{bug:?}`, and real mode runs the reference as it is"
        ));
    }
    if !refused.is_empty() {
        eprintln!(
            "error: {}: real mode cannot run this scenario yet:\n  {}",
            file.display(),
            refused.join("\n  ")
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let seed = seed.or(input.seed).unwrap_or(scenario.seed);
    println!("seed: {seed}");
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find this binary to start the processes: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "mesochaos-real-{}-{}",
            scenario.spec.name,
            std::process::id()
        ))
    });
    let _ = std::fs::remove_dir_all(&dir);
    // The processes read the scenario from a file: the run's own copy.
    let scenario_file = dir.join("scenario.toml");
    if let Err(e) =
        std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&scenario_file, &input.toml))
    {
        eprintln!("error: cannot write {}: {e}", scenario_file.display());
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let outcome = runtime().block_on(mesochaos_real::run::run(
        exe,
        scenario_file,
        &scenario.spec,
        seed,
        dir.clone(),
        match coordinator {
            CoordinatorArg::Builtin => mesochaos_real::run::Coordinator::Builtin,
            CoordinatorArg::Zookeeper => mesochaos_real::run::Coordinator::ZooKeeper,
        },
    ));
    let mut run = match outcome {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAIL);
        }
    };
    let timeline = mesochaos_reports::timeline::timeline(&run.records);
    for e in &timeline {
        println!("{:>9.2}s  {:<18} {}", e.t_ms as f64 / 1000.0, e.at, e.text);
    }
    let pids: Vec<String> = run
        .pids
        .iter()
        .map(|((p, i), pid)| format!("{p}#{i}={pid}"))
        .collect();
    println!("\nprocesses: {}", pids.join(" "));
    for (p, signal) in &run.crashes {
        println!(
            "crashed {p}: {}",
            match signal {
                Some(9) => "killed by SIGKILL".to_string(),
                Some(s) => format!("killed by signal {s}"),
                None => "had already exited".to_string(),
            }
        );
    }
    if let Some(group) = &run.masters_group {
        println!(
            "zookeeper {}: {}",
            mesochaos_reference::detector::MASTERS_PATH,
            group.join(" ")
        );
    }
    if let Some(t) = run.failover_time_ms {
        println!("failover time: {:.2}s", t as f64 / 1000.0);
    }
    // The simulation of the same scenario and seed: to compare stories, and
    // for the replay file a failing run leaves.
    let simulated = (compare || !run.violations.is_empty()).then(|| {
        mesochaos_harness::run::run_recorded(
            &scenario.spec,
            seed,
            mesochaos_harness::run::RunOptions::default(),
        )
    });
    if let (true, Some((report, records))) = (compare, &simulated) {
        compare_with_simulation(seed, report, records, &mut run);
    }
    for v in &run.violations {
        println!(
            "VIOLATION [{}] at {:.2}s: {}",
            v.checker,
            v.t_ms as f64 / 1000.0,
            v.message
        );
    }
    let failed = !run.violations.is_empty();
    if let Some(path) = trace {
        if let Err(e) = write_trace(path, file, &input.toml, scenario, seed, &run) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    if failed {
        println!("verdict: FAIL ({} violations)", run.violations.len());
        eprintln!("the processes' directories and logs: {}", run.dir.display());
        // What the simulation can run again: the scenario, the seed, and the
        // simulated run's own trace hash, with the real run's failures.
        if let Some((report, _)) = &simulated {
            let path = run.dir.join("replay.json");
            let mut replay = crate::chaos::ReplayFile::new(file, &input.toml, None, report);
            replay.violations = run.violations.clone();
            replay.failed_checkers = {
                let set: std::collections::BTreeSet<String> =
                    run.violations.iter().map(|v| v.checker.clone()).collect();
                set.into_iter().collect()
            };
            match replay.save(&path) {
                Ok(()) => {
                    println!(
                        "replay in the simulation: mesochaos replay {}",
                        path.display()
                    );
                    println!("run again for real: mesochaos real {}", path.display());
                }
                Err(e) => eprintln!("error: {e}"),
            }
        }
        ExitCode::from(EXIT_FAIL)
    } else {
        println!("verdict: PASS");
        if keep.is_none() {
            let _ = std::fs::remove_dir_all(&run.dir);
        }
        ExitCode::SUCCESS
    }
}

/// Runs the same scenario and seed in the simulation and adds a violation
/// (checker `agrees_with_simulation`) for each place the two runs tell
/// different stories (`real/src/agreement.rs` says what counts).
fn compare_with_simulation(
    seed: u64,
    simulated: &RunReport,
    records: &[mesochaos_harness::trace::TraceRecord],
    run: &mut mesochaos_real::run::RealRun,
) {
    use mesochaos_real::agreement::{differences, Story};
    let real = Story::of(&run.final_state, &run.records);
    let differ = differences(&Story::of(&simulated.final_state, records), &real);
    let tasks = real.updates.len();
    let heard: usize = real.updates.values().map(Vec::len).sum();
    if differ.is_empty() {
        println!(
            "simulation (seed {seed}, verdict {:?}): the same story — {tasks} tasks, {heard} updates heard in the same order, the same final state",
            simulated.verdict
        );
    } else {
        println!(
            "simulation (seed {seed}, verdict {:?}): {} differences",
            simulated.verdict,
            differ.len()
        );
    }
    let end = run.records.last().map_or(0, |r| r.t_ms);
    for d in differ {
        run.violations.push(mesochaos_harness::report::Violation {
            checker: "agrees_with_simulation".into(),
            t_ms: end,
            message: d,
            processes: vec![],
        });
    }
}

/// The merged trace as `run --trace` writes one: header, records, outcome.
fn write_trace(
    path: &Path,
    file: &Path,
    toml: &str,
    scenario: &mesochaos_scenarios::Scenario,
    seed: u64,
    run: &mesochaos_real::run::RealRun,
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let header = mesochaos_reports::run::Header::new(
        &scenario.spec.name,
        &scenario.description,
        &file.display().to_string(),
        toml,
        seed,
        None,
        CODE_VERSION,
    );
    writeln!(
        out,
        "{}",
        serde_json::to_string(&header).expect("serializes")
    )?;
    let mut hash = mesochaos_harness::seed::Fnv64::default();
    for r in &run.records {
        let line = serde_json::to_string(r).expect("records serialize");
        hash.write(line.as_bytes());
        hash.write(b"\n");
        writeln!(out, "{line}")?;
    }
    let mut report = RunReport::panicked(&scenario.spec.name, seed, String::new());
    report.violations = run.violations.clone();
    report.verdict = if run.violations.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    report.trace_hash = format!("{:016x}", hash.finish());
    report.sim_seconds = run.records.last().map_or(0.0, |r| r.t_ms as f64 / 1000.0);
    report.metrics = mesochaos_harness::report::metrics(&run.records);
    let outcome = mesochaos_reports::run::Outcome::of(&report, &[]);
    writeln!(
        out,
        "{}",
        serde_json::to_string(&outcome).expect("serializes")
    )?;
    out.flush()
}

/// What `real` runs: a scenario file, or a replay file a sweep, a shrink or
/// a failing real run saved.
struct Input {
    scenario: mesochaos_scenarios::Scenario,
    /// The scenario's text (the processes read their copy of it).
    toml: String,
    /// A replay file's seed.
    seed: Option<u64>,
    /// A replay file's planted bug (refused).
    bug: Option<mesochaos_reference::bugs::Bug>,
}

impl Input {
    fn load(file: &Path) -> Result<Input, ExitCode> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            eprintln!("error: {}: cannot read: {e}", file.display());
            ExitCode::from(EXIT_BAD_INPUT)
        })?;
        if text.trim_start().starts_with('{') {
            // JSON: a replay file. Its code version may differ: a real run
            // is not a replay, only the same scenario and seed.
            let (replay, scenario) = crate::chaos::ReplayFile::load(file, true)?;
            return Ok(Input {
                scenario,
                toml: replay.scenario_toml,
                seed: Some(replay.seed),
                bug: replay.bug,
            });
        }
        Ok(Input {
            scenario: load(file)?,
            toml: text,
            seed: None,
            bug: None,
        })
    }
}

/// The hidden `real-process` subcommand: one process of a real run.
pub fn process(scenario: &Path, args: &str) -> ExitCode {
    let scenario = match load(scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let args: ChildArgs = match serde_json::from_str(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: real-process arguments: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    match runtime().block_on(mesochaos_real::process::child(&scenario.spec.cluster, args)) {
        Ok(reason) => {
            eprintln!("exited: {reason}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAIL)
        }
    }
}
