//! `mesochaos`: run Mesos-style fault-tolerance scenarios in a deterministic
//! simulation.
//!
//! Exit codes: 0 the run passed, 1 an invariant or expectation failed, 2 bad
//! input (a scenario file, an argument, an output file that cannot be written).

mod bench;
mod chaos;
mod cli;
mod logging;
mod real;

use clap::{Parser, Subcommand};
use cli::{cores, load, Format, EXIT_BAD_INPUT, EXIT_FAIL};
use mesochaos_harness::{RunOptions, RunReport, Verdict};
use mesochaos_reference::bugs::Bug;
use mesochaos_scenarios::Scenario;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mesochaos",
    version,
    about = "A reference implementation of Apache Mesos's fault tolerance, run under deterministic chaos in turmoil",
    long_about = "mesochaos runs a Mesos-style cluster (a ZooKeeper-like coordinator, masters in hot standby, \
                  agents, executor hosts and framework schedulers) inside the turmoil network simulator, injects \
                  the faults a scenario file scripts, and checks safety and liveness properties.\n\n\
                  Every run is reproducible from its seed: the same seed, scenario and code give the same trace hash.\n\n\
                  Exit codes: 0 pass, 1 a property or expectation failed, 2 bad input."
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run one scenario and report what happened.
    Run {
        /// The scenario file (TOML; see docs/scenario-format.md).
        file: PathBuf,
        /// The run's seed [default: the scenario's `seed`, else 1].
        #[arg(long)]
        seed: Option<u64>,
        /// `text` for people (a timeline and a verdict), `json` for machines (one object on stdout).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write every message, event and fault as JSON lines to this file.
        #[arg(long, value_name = "OUT.jsonl")]
        trace: Option<PathBuf>,
        /// Write every process's role state at the end of the run, as JSON, to this file.
        #[arg(long, value_name = "OUT.json")]
        snapshot: Option<PathBuf>,
        /// Plant a known defect in the reference (the bug zoo, `reference/src/bugs.rs`).
        #[arg(long, value_name = "NAME", value_parser = chaos::bug_parser())]
        bug: Option<Bug>,
        /// Tick every simulated host instead of skipping idle ones, and fail if
        /// one turmoil would have skipped did anything (for changes to the
        /// driver's timers; the trace is the same, the run slower).
        #[arg(long)]
        verify_idle_skips: bool,
    },
    /// Run a scenario over many seeds in parallel and summarize what failed and
    /// which faults fired; failing seeds are saved as replay files.
    #[command(
        after_help = "Example: mesochaos sweep scenarios/nemesis-standard.toml --seeds 1..200\n\n\
                      Exit codes: 0 every seed passed (and every fault kind fired), 1 some seed failed or a fault kind never fired, 2 bad input."
    )]
    Sweep {
        /// The scenario file.
        file: PathBuf,
        /// Seeds to run: `A..B` (inclusive) or one seed.
        #[arg(long, value_parser = chaos::parse_seeds, default_value = "1..100")]
        seeds: std::vec::Vec<u64>,
        /// Simulations in parallel [default: the number of cores].
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard I of N (every N-th seed, starting with the I-th).
        #[arg(long, value_name = "I/N", value_parser = chaos::parse_shard)]
        shard: Option<(u64, u64)>,
        /// Where failing seeds' replay files go (under a folder per scenario).
        #[arg(long, default_value = "mesochaos-results")]
        results: PathBuf,
        /// Plant a known defect (the bug zoo, `reference/src/bugs.rs`).
        #[arg(long, value_name = "NAME", value_parser = chaos::bug_parser())]
        bug: Option<Bug>,
        /// `text` for people, `json` for machines (per-seed hashes included).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also write the sweep as JUnit XML (one test case per seed) for a CI
        /// system's test summary.
        #[arg(long, value_name = "OUT.xml")]
        junit: Option<PathBuf>,
    },
    /// Merge the results folders of a sweep's shards into the summary (and
    /// JUnit file) the unsharded sweep would have made.
    #[command(
        after_help = "Example: mesochaos merge shard-1/ shard-2/ --junit sweep.xml\n\n\
                      Each folder is one shard's --results folder (or one scenario's folder in it); give each shard its own, since a sweep replaces the records already in its folder.\n\
                      Exit codes: as sweep: 0 every seed passed (and every fault kind fired), 1 some seed failed or a fault kind never fired, 2 bad input (including shards of different sweeps, or a seed in two shards)."
    )]
    Merge {
        /// The shards' results folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// `text` for people, `json` for machines.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also write the merged sweep as JUnit XML.
        #[arg(long, value_name = "OUT.xml")]
        junit: Option<PathBuf>,
    },
    /// Run a replay file again and check that the trace is identical.
    #[command(
        after_help = "Exit codes: 0 reproduced exactly (same trace hash), 3 the run differs from the recording, 2 bad input (including a file made by other code, unless --force)."
    )]
    Replay {
        /// A replay file written by `sweep` or `shrink`.
        file: PathBuf,
        /// Replay a file made by a different code version.
        #[arg(long)]
        force: bool,
    },
    /// Minimize a failing replay file's fault schedule while the same checker
    /// still fails; the result is 1-minimal (dropping any one remaining fault
    /// makes that checker pass).
    #[command(
        after_help = "Exit codes: 0 a shrunk replay file was saved, 1 the recorded failure does not reproduce, 2 bad input."
    )]
    Shrink {
        /// A replay file written by `sweep`.
        file: PathBuf,
        /// Where to save the result [default: FILE with extension .shrunk.json].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Candidate schedules tried in parallel [default: the number of cores].
        #[arg(long)]
        jobs: Option<usize>,
        /// Shrink a file made by a different code version.
        #[arg(long)]
        force: bool,
        /// Keep this checker failing [default: the recorded run's first failed
        /// checker, alphabetically]. It must be one the recorded run failed.
        #[arg(long, value_name = "NAME")]
        checker: Option<String>,
    },
    /// Run several scenarios (e.g. the storage strategies) with one seed and print
    /// their database figures side by side as a Markdown table.
    #[command(after_help = "Example: mesochaos compare scenarios/storage-*.toml\n\n\
                      Exit codes: 0 every run passed, 1 some run failed (its replay command is printed), 2 bad input.")]
    Compare {
        /// The scenario files (at least one).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The seed for every run [default: each scenario's `seed`, else 1].
        #[arg(long)]
        seed: Option<u64>,
        /// `text` for the table, `json` for one object per run.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Measure simulation speed, memory and the overhead over raw turmoil.
    #[command(long_about = bench::LONG_ABOUT, after_help = bench::AFTER_HELP)]
    Bench(bench::BenchArgs),
    /// Make a report folder of a run: timeline.html (a Lamport diagram of every
    /// message, fault and violation), walkthrough.md and report.json.
    #[command(
        after_help = "RUN is a trace written by `mesochaos run --trace` (rendered without running anything) or a replay file written by `sweep` or `shrink` (run again, exactly, then rendered).\n\n\
                      Example: mesochaos run scenarios/master-failover.toml --trace mf.jsonl && mesochaos report mf.jsonl\n\n\
                      Exit codes: 0 the report was written (whatever the run's verdict), 2 bad input."
    )]
    Report {
        /// A trace (`run --trace`) or a replay file.
        run: PathBuf,
        /// The folder to write [default: RUN.report/ beside RUN].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Run a replay file made by a different code version.
        #[arg(long)]
        force: bool,
    },
    /// Run a scenario for real: every process an OS process on loopback TCP,
    /// faults by signal and at the harness's relays (see `mesochaos check --real`).
    #[command(
        after_help = "Real mode runs the same reference roles as the simulation, each as its own OS process (this binary, re-executed), with real sockets, timers and files under one directory per machine. A crash is SIGKILL, a pause SIGSTOP/SIGCONT, a restart a new process on the same directory; partitions cut the relays every connection between two machines runs through, which hold data and time out as TCP does.\n\n\
                      It performs sleep, crash, restart, pause, resume, isolate, partition, partition_one_way, ring, bridge, heal and call steps and every wait; it refuses anything else before starting, with the reason. The trace checkers read the merged trace, and --trace writes it for `mesochaos report`. Then the same scenario and seed run in the simulation, and the two runs must tell the same story: each task's updates as its framework heard them, and what the leader holds at the end, timing and the IDs masters assign aside (--no-compare skips this). A failing run saves DIR/replay.json and prints the commands that run it again, in the simulation and for real; FILE may be such a replay file, or any other the simulation made.\n\n\
                      Exit codes: 0 pass, 1 a wait timed out, a checker fired or the simulation tells another story, 2 bad input (including a step real mode cannot perform yet)."
    )]
    Real {
        /// The scenario file, or a replay file (its scenario and seed).
        file: PathBuf,
        /// The run's seed (its random words; real time itself is not reproducible).
        #[arg(long)]
        seed: Option<u64>,
        /// Keep the machines' directories and the processes' logs here
        /// [default: a temporary directory, removed after a passing run].
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// Write the merged trace (header, records, outcome) to this file.
        #[arg(long, value_name = "OUT.jsonl")]
        trace: Option<PathBuf>,
        /// The coordinator: the built-in stand-in as a process, or Apache
        /// ZooKeeper (Debian's `zookeeper`) started by the harness.
        #[arg(long, value_enum, default_value_t = real::CoordinatorArg::Builtin)]
        coordinator: real::CoordinatorArg,
        /// Do not run the simulation of the same scenario and seed to compare
        /// the two runs' stories.
        #[arg(long)]
        no_compare: bool,
    },
    /// One process of a real run (started by `mesochaos real`, not by people).
    #[command(hide = true)]
    RealProcess {
        /// The scenario file the cluster comes from.
        scenario: PathBuf,
        /// The process's arguments, as JSON.
        args: String,
    },
    /// Validate a scenario file without running it.
    Check {
        /// The scenario file.
        file: PathBuf,
        /// Also say whether `mesochaos real` can run it, and if not, why.
        #[arg(long)]
        real: bool,
    },
}

fn main() -> ExitCode {
    logging::init();
    let cli = Cli::parse();
    match cli.command {
        Commands::Check { file, real } => check(&file, real),
        Commands::Real {
            file,
            seed,
            keep,
            trace,
            coordinator,
            no_compare,
        } => real::real(
            &file,
            seed,
            keep,
            trace.as_deref(),
            coordinator,
            !no_compare,
        ),
        Commands::RealProcess { scenario, args } => real::process(&scenario, &args),
        Commands::Report { run, out, force } => chaos::report::report(&run, out.as_deref(), force),
        Commands::Bench(args) => bench::bench(args),
        Commands::Compare {
            files,
            seed,
            format,
        } => compare(&files, seed, format),
        Commands::Run {
            file,
            seed,
            format,
            trace,
            snapshot,
            bug,
            verify_idle_skips,
        } => run(
            &file,
            seed,
            format,
            trace.as_deref(),
            snapshot.as_deref(),
            bug,
            verify_idle_skips,
        ),
        Commands::Sweep {
            file,
            seeds,
            jobs,
            shard,
            results,
            bug,
            format,
            junit,
        } => chaos::sweep(chaos::SweepArgs {
            file: &file,
            seeds,
            jobs: jobs.unwrap_or_else(cores),
            shard,
            results,
            bug,
            format,
            junit,
        }),
        Commands::Merge {
            dirs,
            format,
            junit,
        } => chaos::merge(&dirs, format, junit.as_deref()),
        Commands::Replay { file, force } => chaos::replay(&file, force),
        Commands::Shrink {
            file,
            out,
            jobs,
            force,
            checker,
        } => chaos::shrink_file(
            &file,
            out.as_deref(),
            force,
            jobs.unwrap_or_else(cores),
            checker.as_deref(),
        ),
    }
}

fn check(file: &Path, real: bool) -> ExitCode {
    match load(file) {
        Ok(scenario) => {
            let spec = &scenario.spec;
            if real {
                let refused = mesochaos_real::run::refusals(spec);
                if !refused.is_empty() {
                    eprintln!(
                        "error: {}: real mode cannot run this scenario yet:\n  {}",
                        file.display(),
                        refused.join("\n  ")
                    );
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            }
            println!(
                "ok: {} ({} masters, {} agents, {} frameworks, {} steps)",
                spec.name,
                spec.cluster.masters,
                spec.cluster.agents,
                spec.cluster.frameworks.len(),
                spec.steps.len()
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The JSON object `run --format json` prints (DESIGN.md's contract).
#[derive(Serialize)]
struct JsonReport<'a> {
    scenario: &'a str,
    seed: u64,
    verdict: &'a Verdict,
    trace_hash: &'a str,
    sim_seconds: f64,
    wall_seconds: f64,
    violations: &'a [mesochaos_harness::run::Violation],
    final_state: &'a mesochaos_harness::run::FinalState,
    metrics: &'a mesochaos_harness::run::Metrics,
    /// The command that replays this run (present when it failed).
    replay: Option<String>,
}

fn create(path: &Path, what: &str) -> Result<std::fs::File, ExitCode> {
    std::fs::File::create(path).map_err(|e| {
        eprintln!("error: cannot create {what} {}: {e}", path.display());
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

fn run(
    file: &Path,
    seed: Option<u64>,
    format: Format,
    trace: Option<&Path>,
    snapshot: Option<&Path>,
    bug: Option<Bug>,
    verify_idle_skips: bool,
) -> ExitCode {
    let mut scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    scenario.spec.cluster.bug = bug;
    let seed = seed.unwrap_or(scenario.seed);
    // The seed comes first, so that even a run that dies can be replayed.
    match format {
        Format::Text => println!("seed: {seed}"),
        Format::Json => eprintln!("seed: {seed}"),
    }
    let mut trace_out: Option<Box<dyn Write>> =
        match trace.map(|p| create(p, "trace file")).transpose() {
            Ok(file) => file.map(|f| Box::new(std::io::BufWriter::new(f)) as Box<dyn Write>),
            Err(code) => return code,
        };
    // A trace file stands alone: its first line says what run it is. The
    // header is not a trace record, so it is not in the trace hash.
    if let Some(out) = &mut trace_out {
        let header = mesochaos_reports::run::Header::new(
            &scenario.spec.name,
            &scenario.description,
            &file.display().to_string(),
            &std::fs::read_to_string(file).unwrap_or_default(),
            seed,
            bug,
            chaos::CODE_VERSION,
        );
        let header = serde_json::to_string(&header).expect("headers serialize");
        if let Err(e) = writeln!(out, "{header}") {
            eprintln!("error: cannot write the trace file: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let snapshot_out = match snapshot.map(|p| create(p, "snapshot file")).transpose() {
        Ok(file) => file,
        Err(code) => return code,
    };
    let replay = match bug {
        Some(bug) => format!("mesochaos run {} --seed {seed} --bug {bug}", file.display()),
        None => format!("mesochaos run {} --seed {seed}", file.display()),
    };

    // Wall time is measured around the simulation, never inside it.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let options = RunOptions {
        trace_out,
        snapshot_roles: snapshot_out.is_some(),
        schedule: None,
        verify_idle_skips,
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mesochaos_harness::run_recorded(&scenario.spec, seed, options)
    }));
    let wall_seconds = started.elapsed().as_secs_f64();
    let (report, records) = match outcome {
        Ok(run) => run,
        Err(panic) => {
            let message = chaos::panic_message(&*panic);
            eprintln!("FAIL: the harness panicked: {message}");
            eprintln!("replay: {replay}");
            return ExitCode::from(EXIT_FAIL);
        }
    };

    // The trace ends with how the run ended (not a record: outside the hash),
    // so `mesochaos report` can render it alone.
    if let Some(path) = trace {
        if let Err(e) = chaos::report::append_outcome(path, &scenario, &report) {
            eprintln!("error: cannot write the trace file: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    if let (Some(file), Some(roles)) = (snapshot_out, &report.roles) {
        if let Err(e) = serde_json::to_writer_pretty(std::io::BufWriter::new(file), roles) {
            eprintln!("error: cannot write the snapshot: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let failed = report.verdict == Verdict::Fail;
    match format {
        Format::Json => {
            let json = JsonReport {
                scenario: &report.scenario,
                seed,
                verdict: &report.verdict,
                trace_hash: &report.trace_hash,
                sim_seconds: report.sim_seconds,
                wall_seconds,
                violations: &report.violations,
                final_state: &report.final_state,
                metrics: &report.metrics,
                replay: failed.then(|| replay.clone()),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("reports serialize")
            );
        }
        Format::Text => print_text(&scenario, &report, &records, wall_seconds),
    }
    if failed {
        let _ = std::io::stdout().flush();
        eprintln!("replay: {replay}");
        ExitCode::from(EXIT_FAIL)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs each scenario and prints the comparison table.
fn compare(files: &[PathBuf], seed: Option<u64>, format: Format) -> ExitCode {
    // Every file is checked before anything runs: a typo in the third file
    // should not cost the first two runs.
    let mut scenarios = Vec::new();
    for file in files {
        match load(file) {
            Ok(s) => scenarios.push((file, s)),
            Err(code) => return code,
        }
    }
    // The seeds come first, so that even a run that dies can be replayed (on
    // stderr with JSON, which keeps stdout one object).
    let seeds = match seed {
        Some(seed) => format!("seed: {seed}"),
        None => {
            let seeds: Vec<String> = scenarios.iter().map(|(_, s)| s.seed.to_string()).collect();
            format!("seeds: {}", seeds.join(", "))
        }
    };
    match format {
        Format::Text => println!("{seeds}"),
        Format::Json => eprintln!("{seeds}"),
    }
    let first_steps = &scenarios[0].1.spec.steps;
    let same_script = scenarios.iter().all(|(_, s)| &s.spec.steps == first_steps);
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for (file, scenario) in &scenarios {
        let seed = seed.unwrap_or(scenario.seed);
        eprintln!("running {} (seed {seed}) ...", file.display());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            mesochaos_harness::run_recorded(&scenario.spec, seed, RunOptions::default()).0
        }));
        let replay = format!("mesochaos run {} --seed {seed}", file.display());
        match outcome {
            Ok(report) => {
                if report.verdict == Verdict::Fail {
                    failed.push(replay);
                }
                reports.push(report);
            }
            Err(_) => {
                eprintln!("FAIL: the harness panicked running {}", file.display());
                failed.push(replay);
            }
        }
    }
    match format {
        Format::Text => {
            let refs: Vec<&RunReport> = reports.iter().collect();
            print!("{}", mesochaos_reports::comparison_table(&refs));
            if !same_script {
                println!("note: these scenarios do not run the same steps (fault script)");
            }
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = reports
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "scenario": r.scenario,
                        "seed": r.seed,
                        "verdict": r.verdict,
                        "trace_hash": r.trace_hash,
                        "metrics": r.metrics,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "same_fault_script": same_script,
                    "runs": rows,
                }))
                .expect("reports serialize")
            );
        }
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        let _ = std::io::stdout().flush();
        for replay in failed {
            eprintln!("replay: {replay}");
        }
        ExitCode::from(EXIT_FAIL)
    }
}

fn print_text(
    scenario: &Scenario,
    report: &RunReport,
    records: &[mesochaos_harness::trace::TraceRecord],
    wall_seconds: f64,
) {
    let timeline = mesochaos_reports::timeline::timeline(records);
    print!(
        "{}",
        mesochaos_reports::text(report, &timeline, &scenario.description, wall_seconds)
    );
}
