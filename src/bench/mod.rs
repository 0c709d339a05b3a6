//! `mesochaos bench`: how fast the simulation runs, and what it costs over raw
//! turmoil.
//!
//! Each case runs in its own child process (this binary, re-invoked with the
//! hidden `--case` flag), because peak RSS (`VmHWM`) is per process. A child
//! prints one JSON object ([`CaseResult`]) on stdout and progress on stderr; a
//! watchdog thread in the child reports the case as `over_budget` — with how
//! far it got — when its wall-time budget runs out, so a slow case (1000 agents
//! on stock turmoil) cannot hang the whole benchmark.
//!
//! Cases:
//! - `standard`: bench/standard.toml — the standard cluster (coordinator, 3
//!   masters, 20 agent machines, 2 frameworks × 2 scheduler instances) under
//!   the nemesis for ≈ 600 simulated seconds;
//! - `failover-N`: a master failover (as scenarios/master-failover.toml) with N
//!   agent machines and N tasks;
//! - `echo-CASE`: raw turmoil, no mesochaos code: a trivial TCP echo matching
//!   a stack case in hosts, connections (distinct host pairs), message rate,
//!   simulated duration and tick, in the same binary (so the same profile);
//! - `sweep`: seeds per wall second sweeping scenarios/nemesis-standard.toml
//!   with `chaos::run_seed` on the sweep's rayon pool.
//!
//! Wall time is measured *around* simulations (never inside one); every read of
//! the wall clock here says so.
//!
//! Here: the arguments and a case's result. `child` runs one case in its
//! process (`cases` the stack cases, `echo` the raw-turmoil baseline);
//! `parent` runs every case in a child and compares them; `report` states the
//! targets and prints the report.

mod cases;
mod child;
mod echo;
mod parent;
mod report;

pub use mesochaos_reports::bench::{CaseResult, Status};

use crate::cli::{Format, EXIT_BAD_INPUT};
use clap::ValueEnum;
use std::process::ExitCode;

/// `bench --help`: what the benchmark measures.
pub const LONG_ABOUT: &str =
    "Measure how fast mesochaos simulates: the standard cluster under the nemesis \
(20 agent machines, ~600 simulated s), a master failover with N agent machines (--agents), a \
raw-turmoil TCP echo matched to each of those (hosts, connections, message rate, tick) to show the \
stack's overhead, and sweep throughput (seeds per wall second).\n\n\
Each case runs in its own child process (peak RSS is per process) with a wall-time budget \
(--budget); a case that exceeds it is reported as over budget, with how far it got, instead of a \
figure. Progress goes to stderr.\n\n\
Prints per case: simulated seconds per wall second, messages per wall second, peak RSS, wall \
seconds; how wall time per simulated second grows with machines; the stack/echo overhead; and the \
performance targets with ✓/✗. Build with --release: a debug build measures the wrong thing.";

/// `bench --help`: examples and exit codes.
pub const AFTER_HELP: &str = "Examples:\n  cargo run --release -- bench\n  \
mesochaos bench --agents 10,100 --budget 60\n  \
mesochaos bench --cases failover,echo --agents 10 --format json\n\n\
Exit codes: 0 every case ran (whether or not the targets hold), 1 a case crashed or its run \
failed its checks, 2 bad arguments.";

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Agent machines of the failover cases, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000", value_parser = parse_agents)]
    agents: Vec<usize>,
    /// Which cases to run, comma-separated (echo = the raw-turmoil baseline of each stack case run).
    #[arg(
        long,
        value_delimiter = ',',
        value_enum,
        default_value = "standard,failover,echo,sweep"
    )]
    cases: Vec<CaseKind>,
    /// Wall-time budget of each case, in seconds.
    #[arg(long, default_value_t = 90.0, value_parser = parse_positive)]
    budget: f64,
    /// Seeds the sweep case runs (seeds 1..=N).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    sweep_seeds: u64,
    /// Simulations in parallel for the sweep case [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
    /// `text` prints a table for people, `json` one object for machines.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Internal: run one case in this process and print its JSON result.
    #[arg(long, hide = true, value_enum)]
    case: Option<CaseKind>,
    /// Internal (echo): hosts.
    #[arg(long, hide = true)]
    hosts: Option<usize>,
    /// Internal (echo): connections (distinct host pairs).
    #[arg(long, hide = true)]
    connections: Option<usize>,
    /// Internal (echo): messages per simulated second, requests and replies.
    #[arg(long, hide = true, value_parser = parse_positive)]
    rate: Option<f64>,
    /// Internal (echo): simulated seconds to run.
    #[arg(long, hide = true, value_parser = parse_positive)]
    sim_seconds: Option<f64>,
    /// Internal: the name the child reports.
    #[arg(long, hide = true)]
    name: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CaseKind {
    Standard,
    Failover,
    Echo,
    Sweep,
}

fn parse_agents(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "\"{text}\" is not a number of agent machines (1..=100000)"
        )),
    }
}

fn parse_positive(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(format!("\"{text}\" is not a positive number")),
    }
}

pub fn bench(args: BenchArgs) -> ExitCode {
    match args.case {
        Some(kind) => child::child(kind, &args),
        None => parent::parent(&args),
    }
}

fn bad(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}
