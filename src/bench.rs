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

use crate::chaos;
use crate::{Format, EXIT_BAD_INPUT, EXIT_FAIL};
use clap::ValueEnum;
use mesochaos_harness::{run_recorded, RunOptions, Verdict, TICK_MS};
use mesochaos_scenarios::Scenario;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The standard cluster under the nemesis, 20 agent machines, ≈ 600 s.
const STANDARD_TOML: &str = include_str!("../bench/standard.toml");
/// What `sweep` throughput is measured on.
const SWEEP_TOML: &str = include_str!("../scenarios/nemesis-standard.toml");
/// The failover case, with `@AGENTS@` and `@TASKS@` filled in.
const FAILOVER_TOML: &str = include_str!("../bench/failover.toml");

const GIB: u64 = 1 << 30;

/// A case out of budget is compared (echo, scaling) only if it simulated this long.
const MIN_PARTIAL_SIM_S: f64 = 1.0;

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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ran to the end.
    #[default]
    Ok,
    /// Ran out of its wall-time budget; the figures are as far as it got.
    OverBudget,
    /// Crashed, or its run failed its checks.
    Failed,
}

/// What a child prints: one case's figures.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CaseResult {
    pub case: String,
    pub status: Status,
    /// How many times the case ran; `wall_seconds` is the median. A case
    /// that takes under [`SHORT_CASE_S`] of wall time is run again (same
    /// seed, same trace), up to [`MAX_RUNS`] times, so that a 20 ms run is
    /// not a single noisy sample.
    #[serde(default)]
    pub runs: u32,
    /// The stack run's verdict (`pass`/`fail`), for stack cases.
    pub verdict: Option<String>,
    /// Agent machines (stack cases).
    pub agents: Option<usize>,
    /// turmoil hosts (one per process).
    pub hosts: usize,
    /// Distinct pairs of hosts that opened a TCP connection.
    pub connections: usize,
    /// Simulated seconds run (reached, when over budget).
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    /// Messages sent: role messages for the stack, requests + replies for echo.
    pub messages: u64,
    pub sim_per_wall: f64,
    pub messages_per_wall: f64,
    /// Wall milliseconds per simulated second (none before the first tick).
    pub wall_ms_per_sim_s: Option<f64>,
    /// Peak resident set size of the child (`VmHWM`).
    pub peak_rss_bytes: Option<u64>,
    /// The run report's failover time (failover cases).
    pub failover_time_s: Option<f64>,
    /// The coordinator session timeout of the case's cluster.
    pub session_timeout_s: Option<f64>,
    /// Sweep: seeds run, in parallel on `jobs` threads.
    pub seeds: Option<u64>,
    pub jobs: Option<u64>,
    pub seeds_per_wall: Option<f64>,
    /// Echo: the stack case it matches.
    pub matches: Option<String>,
    pub budget_seconds: f64,
    pub tick_ms: u64,
    pub note: Option<String>,
}

impl CaseResult {
    fn finish_rates(&mut self) {
        self.runs = self.runs.max(1);
        let wall = self.wall_seconds.max(1e-9);
        self.sim_per_wall = self.sim_seconds / wall;
        self.messages_per_wall = self.messages as f64 / wall;
        self.wall_ms_per_sim_s =
            (self.sim_seconds > 0.0).then(|| 1000.0 * self.wall_seconds / self.sim_seconds);
    }

    /// Figures to compare: measured to the end, or — out of budget — over at
    /// least [`MIN_PARTIAL_SIM_S`] (a few ticks of start-up say nothing about
    /// the rate).
    fn measured(&self) -> bool {
        match self.status {
            Status::Ok => self.sim_seconds > 0.0,
            Status::OverBudget => self.sim_seconds >= MIN_PARTIAL_SIM_S,
            Status::Failed => false,
        }
    }

    /// Wall ms per simulated second, where measured.
    fn wall_per_sim(&self) -> f64 {
        self.wall_ms_per_sim_s.unwrap_or(f64::INFINITY)
    }
}

pub fn bench(args: BenchArgs) -> ExitCode {
    match args.case {
        Some(kind) => child(kind, &args),
        None => parent(&args),
    }
}

fn bad(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

// ---------------------------------------------------------------- the child

/// How far a running case got; updated by the simulation's thread, read by
/// the watchdog.
#[derive(Default)]
struct Progress {
    t_ms: AtomicU64,
    messages: AtomicU64,
    connections: AtomicU64,
}

/// Sees every trace line of a stack run (the trace serializes every record
/// anyway): the simulated time, messages sent and host pairs connected.
struct ProgressWriter {
    progress: Arc<Progress>,
    pairs: BTreeSet<(String, String)>,
}

impl Write for ProgressWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        const PREFIX: &[u8] = b"{\"t_ms\":";
        if let Some(rest) = buf.strip_prefix(PREFIX) {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if let Some(t) = std::str::from_utf8(&rest[..digits])
                .ok()
                .and_then(|d| d.parse().ok())
            {
                self.progress.t_ms.store(t, Ordering::Relaxed);
            }
            let line = &rest[digits..];
            if contains(line, b"\"type\":\"send\"") {
                self.progress.messages.fetch_add(1, Ordering::Relaxed);
            } else if contains(line, b"\"what\":\"connected\"") {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(buf) {
                    if let (Some(a), Some(b)) = (v["at"].as_str(), v["peer"].as_str()) {
                        let pair = if a < b { (a, b) } else { (b, a) };
                        self.pairs.insert((pair.0.to_string(), pair.1.to_string()));
                        self.progress
                            .connections
                            .store(self.pairs.len() as u64, Ordering::Relaxed);
                    }
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Peak RSS of this process, from `/proc/self/status` (Linux only).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Wall time since the case started (measured around the simulation).
#[allow(clippy::disallowed_methods)] // wall clock around, not inside, the simulation
fn wall_clock() -> std::time::Instant {
    std::time::Instant::now()
}

/// Reports a case as over budget when its wall time runs out, and prints a
/// progress line on stderr every 10 s. The case's thread calls [`Self::done`]
/// before printing its own result; whichever comes first prints.
struct Watchdog {
    printed: Arc<Mutex<bool>>,
}

impl Watchdog {
    fn start(template: CaseResult, progress: Arc<Progress>) -> Watchdog {
        let printed = Arc::new(Mutex::new(false));
        let flag = printed.clone();
        let started = wall_clock();
        // One OS thread outside the simulation: it only watches the clock.
        #[allow(clippy::disallowed_methods)]
        std::thread::spawn(move || {
            let mut last_report = 0.0;
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let wall = started.elapsed().as_secs_f64();
                let sim = progress.t_ms.load(Ordering::Relaxed) as f64 / 1000.0;
                if wall - last_report >= 10.0 {
                    last_report = wall;
                    eprintln!(
                        "bench: {}: {sim:.1} simulated s after {wall:.0} s wall",
                        template.case
                    );
                }
                if wall >= template.budget_seconds {
                    let mut printed = flag.lock().expect("watchdog lock");
                    if *printed {
                        return;
                    }
                    let mut result = template.clone();
                    result.status = Status::OverBudget;
                    result.sim_seconds = sim;
                    result.wall_seconds = wall;
                    result.messages = progress.messages.load(Ordering::Relaxed);
                    let connections = progress.connections.load(Ordering::Relaxed) as usize;
                    if connections > 0 {
                        result.connections = connections;
                    }
                    result.peak_rss_bytes = peak_rss_bytes();
                    result.note = Some(format!(
                        "exceeded its {:.0} s budget after {sim:.1} simulated s",
                        template.budget_seconds
                    ));
                    result.finish_rates();
                    emit(&result);
                    *printed = true;
                    std::process::exit(0);
                }
            }
        });
        Watchdog { printed }
    }

    /// Prints the case's result unless the watchdog already did.
    fn done(self, result: &CaseResult) {
        let mut printed = self.printed.lock().expect("watchdog lock");
        if !*printed {
            emit(result);
            *printed = true;
        }
    }
}

fn emit(result: &CaseResult) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string(result).expect("results serialize")
    );
    let _ = out.flush();
}

fn child(kind: CaseKind, args: &BenchArgs) -> ExitCode {
    let template = |case: String| CaseResult {
        case,
        budget_seconds: args.budget,
        tick_ms: TICK_MS,
        ..CaseResult::default()
    };
    match kind {
        CaseKind::Standard => {
            let scenario = parse_embedded(STANDARD_TOML, "bench/standard.toml");
            stack_case(template(name_or(args, "standard")), &scenario)
        }
        CaseKind::Failover => {
            let [agents] = args.agents[..] else {
                return bad("--case failover takes one --agents value".into());
            };
            let scenario = parse_embedded(&failover_toml(agents), "bench/failover.toml");
            stack_case(
                template(name_or(args, &format!("failover-{agents}"))),
                &scenario,
            )
        }
        CaseKind::Echo => {
            let (Some(hosts), Some(connections), Some(rate), Some(sim_seconds)) =
                (args.hosts, args.connections, args.rate, args.sim_seconds)
            else {
                return bad(
                    "--case echo needs --hosts, --connections, --rate and --sim-seconds".into(),
                );
            };
            if hosts < 2 || connections == 0 {
                return bad("echo needs at least 2 hosts and 1 connection".into());
            }
            let mut result = template(name_or(args, "echo"));
            result.hosts = hosts;
            result.connections = connections;
            echo_case(result, rate, sim_seconds)
        }
        CaseKind::Sweep => {
            let jobs = args.jobs.unwrap_or_else(|| crate::cores() as u64);
            sweep_case(template(name_or(args, "sweep")), args.sweep_seeds, jobs)
        }
    }
}

fn name_or(args: &BenchArgs, default: &str) -> String {
    args.name.clone().unwrap_or_else(|| default.to_string())
}

fn parse_embedded(text: &str, label: &str) -> Scenario {
    mesochaos_scenarios::parse(text, Path::new(label))
        .unwrap_or_else(|e| panic!("the embedded scenario {label} does not parse: {e}"))
}

/// The failover scenario with `agents` agent machines and as many tasks.
pub fn failover_toml(agents: usize) -> String {
    FAILOVER_TOML
        .replace("@AGENTS@", &agents.to_string())
        .replace("@TASKS@", &agents.to_string())
}

/// A case shorter than this (wall seconds) is repeated; see [`CaseResult::runs`].
const SHORT_CASE_S: f64 = 1.0;
/// At most this many runs of a short case.
const MAX_RUNS: u32 = 15;

/// Runs `once` (which returns its wall seconds) again while the runs so far
/// took under [`SHORT_CASE_S`] in all, up to [`MAX_RUNS`] runs; returns the
/// number of runs and the median wall time, `first` included.
fn repeat_short(first: f64, mut once: impl FnMut() -> f64) -> (u32, f64) {
    let mut walls = vec![first];
    while walls.iter().sum::<f64>() < SHORT_CASE_S && (walls.len() as u32) < MAX_RUNS {
        walls.push(once());
    }
    walls.sort_by(f64::total_cmp);
    (walls.len() as u32, walls[walls.len() / 2])
}

fn stack_case(mut result: CaseResult, scenario: &Scenario) -> ExitCode {
    let spec = &scenario.spec;
    result.agents = Some(spec.cluster.agents);
    result.hosts = mesochaos_harness::cluster::process_names(&spec.cluster).len();
    result.session_timeout_s = Some(spec.cluster.timing.zk_session_timeout_ms as f64 / 1000.0);
    eprintln!(
        "bench: {}: {} hosts, budget {:.0} s",
        result.case, result.hosts, result.budget_seconds
    );
    let progress = Arc::new(Progress::default());
    let watchdog = Watchdog::start(result.clone(), progress.clone());
    let writer = ProgressWriter {
        progress: progress.clone(),
        pairs: BTreeSet::new(),
    };
    let options = RunOptions {
        trace_out: Some(Box::new(writer)),
        ..RunOptions::default()
    };
    let started = wall_clock();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_recorded(spec, scenario.seed, options).0
    }));
    result.wall_seconds = started.elapsed().as_secs_f64();
    result.peak_rss_bytes = peak_rss_bytes();
    result.connections = progress.connections.load(Ordering::Relaxed) as usize;
    match outcome {
        Ok(report) => {
            result.sim_seconds = report.sim_seconds;
            result.messages = report.metrics.messages_sent;
            result.failover_time_s = report.metrics.failover_time_ms.map(|ms| ms as f64 / 1000.0);
            result.verdict = Some(match report.verdict {
                Verdict::Pass => "pass".into(),
                Verdict::Fail => "fail".into(),
            });
            if report.verdict == Verdict::Pass {
                // A short case runs again; see `CaseResult::runs`.
                let (runs, wall) = repeat_short(result.wall_seconds, || {
                    let started = wall_clock();
                    let again = run_recorded(spec, scenario.seed, RunOptions::default()).0;
                    let wall = started.elapsed().as_secs_f64();
                    assert_eq!(
                        again.trace_hash, report.trace_hash,
                        "a repeated run differs"
                    );
                    wall
                });
                result.runs = runs;
                result.wall_seconds = wall;
            } else {
                result.status = Status::Failed;
                let checkers: BTreeSet<&str> = report
                    .violations
                    .iter()
                    .map(|v| v.checker.as_str())
                    .collect();
                result.note = Some(format!(
                    "the run failed: {}",
                    checkers.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Err(panic) => {
            result.status = Status::Failed;
            result.sim_seconds = progress.t_ms.load(Ordering::Relaxed) as f64 / 1000.0;
            result.messages = progress.messages.load(Ordering::Relaxed);
            result.note = Some(format!(
                "the harness panicked: {}",
                chaos::panic_message(&*panic)
            ));
        }
    }
    result.finish_rates();
    watchdog.done(&result);
    ExitCode::SUCCESS
}

/// Raw turmoil, no mesochaos code: `hosts` hosts each listening on a port;
/// `connections` client connections spread over distinct host pairs, each
/// sending 64-byte frames at an even share of `rate` / 2 per simulated second,
/// the server echoing each back (a request and its reply count as two
/// messages), over the same plain TCP as the transport (no heartbeats, no
/// read timeouts; see [`echo_host_main`]). Same tick, TCP model and latencies
/// as the harness.
fn echo_case(mut result: CaseResult, rate: f64, sim_seconds: f64) -> ExitCode {
    eprintln!(
        "bench: {}: {} hosts, {} connections, {rate:.1} messages/simulated s, {sim_seconds:.1} simulated s, budget {:.0} s",
        result.case, result.hosts, result.connections, result.budget_seconds
    );
    let progress = Arc::new(Progress::default());
    let watchdog = Watchdog::start(result.clone(), progress.clone());
    let hosts = result.hosts;
    // Connection i: from host i % H to the host `1 + (i / H) % (H - 1)` after it.
    let mut plan: Vec<Vec<usize>> = vec![Vec::new(); hosts];
    for i in 0..result.connections {
        let from = i % hosts;
        let to = (from + 1 + (i / hosts) % (hosts - 1)) % hosts;
        plan[from].push(to);
    }
    let period = Duration::from_secs_f64(2.0 * result.connections as f64 / rate);
    let outcome = run_echo(&plan, period, sim_seconds, &progress);
    result.wall_seconds = outcome.wall_seconds;
    result.sim_seconds = outcome.sim_seconds;
    result.messages = outcome.messages;
    result.runs = 1;
    match outcome.failure {
        Some(e) => {
            result.status = Status::Failed;
            result.note = Some(format!("turmoil failed: {e}"));
        }
        None => {
            let quiet = Arc::new(Progress::default());
            let (runs, wall) = repeat_short(result.wall_seconds, || {
                let again = run_echo(&plan, period, sim_seconds, &quiet);
                assert_eq!(again.messages, outcome.messages, "a repeated echo differs");
                again.wall_seconds
            });
            result.runs = runs;
            result.wall_seconds = wall;
        }
    }
    result.peak_rss_bytes = peak_rss_bytes();
    result.finish_rates();
    watchdog.done(&result);
    ExitCode::SUCCESS
}

struct EchoOutcome {
    wall_seconds: f64,
    sim_seconds: f64,
    messages: u64,
    failure: Option<String>,
}

/// One echo simulation: `plan[h]` lists the hosts host `h` dials.
fn run_echo(
    plan: &[Vec<usize>],
    period: Duration,
    sim_seconds: f64,
    progress: &Progress,
) -> EchoOutcome {
    use std::cell::Cell;
    use std::rc::Rc;

    let sent = Rc::new(Cell::new(0u64));
    // The same builder settings as the harness's cluster (harness/src/cluster.rs).
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .epoch(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .tick_duration(Duration::from_millis(TICK_MS))
        .simulation_duration(Duration::from_secs_f64(sim_seconds + 60.0))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(50))
        .tcp_capacity(4_096)
        .faithful_tcp(true)
        .skip_idle_hosts(true)
        .build();
    for (h, targets) in plan.iter().enumerate() {
        let sent = sent.clone();
        let targets = targets.clone();
        sim.host(echo_host(h), move || {
            echo_host_main(targets.clone(), period, sent.clone())
        });
    }
    let target = Duration::from_secs_f64(sim_seconds);
    let started = wall_clock();
    let mut failure = None;
    while sim.elapsed() < target {
        if let Err(e) = sim.step() {
            failure = Some(e.to_string());
            break;
        }
        progress
            .t_ms
            .store(sim.elapsed().as_millis() as u64, Ordering::Relaxed);
        progress.messages.store(sent.get(), Ordering::Relaxed);
    }
    EchoOutcome {
        wall_seconds: started.elapsed().as_secs_f64(),
        sim_seconds: sim.elapsed().as_secs_f64(),
        messages: sent.get(),
        failure,
    }
}

fn echo_host(h: usize) -> String {
    format!("echo-{h}")
}

const ECHO_PORT: u16 = 7000;
const ECHO_FRAME: usize = 64;
/// The first byte of a request frame.
const REQUEST: u8 = 7;

/// One echo host: it listens, and dials `targets`. Each connection carries
/// what a mesochaos connection carries (the driver's transport,
/// `mesochaos_harness::driver`): framed messages over plain TCP, with no
/// heartbeats and no read timeout, a reader and a writer task per
/// connection. Timers go through turmoil::time, as the driver's do, so idle
/// hosts are skipped alike.
async fn echo_host_main(
    targets: Vec<usize>,
    period: Duration,
    sent: std::rc::Rc<std::cell::Cell<u64>>,
) -> turmoil::Result {
    use turmoil::net::{TcpListener, TcpStream};

    let listener = TcpListener::bind(("0.0.0.0", ECHO_PORT)).await?;
    for to in targets {
        let sent = sent.clone();
        tokio::task::spawn_local(async move {
            let peer = echo_host(to);
            // The peer may not listen yet in the first tick: retry.
            let stream = loop {
                match TcpStream::connect((peer.as_str(), ECHO_PORT)).await {
                    Ok(s) => break s,
                    Err(_) => turmoil::time::sleep(Duration::from_millis(100)).await,
                }
            };
            let (rd, wr) = stream.into_split();
            let (tx, rx) = tokio::sync::mpsc::channel::<u8>(64);
            tokio::task::spawn_local(echo_reader(rd, None, sent.clone()));
            tokio::task::spawn_local(echo_writer(wr, rx));
            loop {
                if tx.send(REQUEST).await.is_err() {
                    return;
                }
                sent.set(sent.get() + 1);
                turmoil::time::sleep(period).await;
            }
        });
    }
    loop {
        let (stream, _) = listener.accept().await?;
        let (rd, wr) = stream.into_split();
        let (tx, rx) = tokio::sync::mpsc::channel::<u8>(64);
        tokio::task::spawn_local(echo_reader(rd, Some(tx), sent.clone()));
        tokio::task::spawn_local(echo_writer(wr, rx));
    }
}

/// Reads frames until the connection fails. A server side (`reply` set)
/// echoes each request; a client side counts each reply.
async fn echo_reader(
    mut rd: turmoil::net::tcp::OwnedReadHalf,
    reply: Option<tokio::sync::mpsc::Sender<u8>>,
    sent: std::rc::Rc<std::cell::Cell<u64>>,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; ECHO_FRAME];
    while rd.read_exact(&mut buf).await.is_ok() {
        // A client side's reply needs nothing: its request was counted.
        if let Some(tx) = &reply {
            if tx.send(REQUEST).await.is_err() {
                return;
            }
            sent.set(sent.get() + 1);
        }
    }
}

/// Writes queued frames.
async fn echo_writer(
    mut wr: turmoil::net::tcp::OwnedWriteHalf,
    mut rx: tokio::sync::mpsc::Receiver<u8>,
) {
    use tokio::io::AsyncWriteExt;
    while let Some(kind) = rx.recv().await {
        if wr.write_all(&[kind; ECHO_FRAME]).await.is_err() {
            return;
        }
    }
}

fn sweep_case(mut result: CaseResult, seeds: u64, jobs: u64) -> ExitCode {
    let scenario = parse_embedded(SWEEP_TOML, "scenarios/nemesis-standard.toml");
    result.agents = Some(scenario.spec.cluster.agents);
    result.hosts = mesochaos_harness::cluster::process_names(&scenario.spec.cluster).len();
    result.seeds = Some(seeds);
    result.jobs = Some(jobs);
    eprintln!(
        "bench: {}: {seeds} seeds of nemesis-standard on {jobs} threads, budget {:.0} s",
        result.case, result.budget_seconds
    );
    let watchdog = Watchdog::start(result.clone(), Arc::new(Progress::default()));
    let seed_list: Vec<u64> = (1..=seeds).collect();
    let started = wall_clock();
    let reports: Vec<_> = chaos::pool(jobs as usize).install(|| {
        seed_list
            .par_iter()
            .map(|&seed| chaos::run_seed(&scenario, seed, None, None))
            .collect()
    });
    result.wall_seconds = started.elapsed().as_secs_f64();
    result.peak_rss_bytes = peak_rss_bytes();
    result.sim_seconds = reports.iter().map(|r| r.sim_seconds).sum();
    result.messages = reports.iter().map(|r| r.metrics.messages_sent).sum();
    result.seeds_per_wall = Some(seeds as f64 / result.wall_seconds.max(1e-9));
    let failed = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .count();
    result.verdict = Some(if failed == 0 { "pass" } else { "fail" }.into());
    if failed > 0 {
        result.note = Some(format!("{failed} of {seeds} seeds failed their checks"));
    }
    result.finish_rates();
    watchdog.done(&result);
    ExitCode::SUCCESS
}

// --------------------------------------------------------------- the parent

/// Runs one case in a child process and reads its result.
fn run_child(name: &str, case_args: &[String], budget: f64) -> CaseResult {
    let failed = |note: String| CaseResult {
        case: name.to_string(),
        status: Status::Failed,
        budget_seconds: budget,
        tick_ms: TICK_MS,
        note: Some(note),
        ..CaseResult::default()
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return failed(format!("cannot find this executable: {e}")),
    };
    let mut command = Command::new(exe);
    command
        .arg("bench")
        .args(case_args)
        .args(["--name", name, "--budget", &budget.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return failed(format!("cannot start the child process: {e}")),
    };
    // The child's own watchdog reports at the budget; this only catches a
    // child that cannot (wedged in a system call, killed by the OOM killer).
    let started = wall_clock();
    let backstop = budget + 60.0;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed().as_secs_f64() > backstop => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return failed(format!("cannot wait for the child process: {e}")),
        }
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let Some(status) = status else {
        let mut result = failed(format!(
            "killed after {backstop:.0} s wall without a result"
        ));
        result.status = Status::OverBudget;
        return result;
    };
    match stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<CaseResult>(l).ok())
    {
        Some(result) => result,
        None => failed(format!("the child printed no result ({status})")),
    }
}

fn stack_args(kind: &str) -> Vec<String> {
    vec!["--case".into(), kind.into()]
}

/// The echo case matching a stack case's shape and message rate.
fn echo_for(stack: &CaseResult, budget: f64) -> Option<CaseResult> {
    if !stack.measured() || stack.hosts < 2 {
        return None;
    }
    let rate = (stack.messages as f64 / stack.sim_seconds).max(0.1);
    let args: Vec<String> = vec![
        "--case".into(),
        "echo".into(),
        "--hosts".into(),
        stack.hosts.to_string(),
        "--connections".into(),
        stack.connections.max(1).to_string(),
        "--rate".into(),
        format!("{rate}"),
        "--sim-seconds".into(),
        format!("{}", stack.sim_seconds),
    ];
    let mut echo = run_child(&format!("echo-{}", stack.case), &args, budget);
    echo.matches = Some(stack.case.clone());
    Some(echo)
}

#[derive(Serialize)]
struct Machine {
    cores: usize,
    cpu: String,
    profile: &'static str,
    tick_ms: u64,
}

#[derive(Serialize)]
struct Overhead {
    case: String,
    stack_wall_ms_per_sim_s: f64,
    echo_wall_ms_per_sim_s: f64,
    /// stack / echo, wall per simulated second.
    ratio: f64,
    /// Either side ran out of budget (rates as far as it got).
    partial: bool,
}

#[derive(Serialize)]
struct Scaling {
    from: String,
    to: String,
    machines_ratio: f64,
    /// Wall time per simulated second, `to` / `from`.
    wall_per_sim_ratio: f64,
    partial: bool,
}

#[derive(Serialize)]
struct Target {
    target: String,
    /// `None`: not measured in this run.
    holds: Option<bool>,
    detail: String,
}

#[derive(Serialize)]
struct BenchReport {
    machine: Machine,
    budget_seconds: f64,
    cases: Vec<CaseResult>,
    overheads: Vec<Overhead>,
    scaling: Vec<Scaling>,
    targets: Vec<Target>,
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn parent(args: &BenchArgs) -> ExitCode {
    if args.hosts.is_some()
        || args.connections.is_some()
        || args.rate.is_some()
        || args.sim_seconds.is_some()
        || args.name.is_some()
    {
        return bad(
            "--hosts, --connections, --rate, --sim-seconds and --name go with --case".into(),
        );
    }
    let wants = |k: CaseKind| args.cases.contains(&k);
    let budget = args.budget;
    let mut agents = args.agents.clone();
    agents.sort_unstable();
    agents.dedup();

    let mut cases = Vec::new();
    let mut overheads = Vec::new();
    let mut stacks = Vec::new();
    let mut add_stack = |stack: CaseResult, cases: &mut Vec<CaseResult>| {
        eprintln!("bench: {} done: {}", stack.case, short(&stack));
        if wants(CaseKind::Echo) {
            if let Some(echo) = echo_for(&stack, budget) {
                eprintln!("bench: {} done: {}", echo.case, short(&echo));
                if echo.measured() {
                    overheads.push(Overhead {
                        case: stack.case.clone(),
                        stack_wall_ms_per_sim_s: stack.wall_per_sim(),
                        echo_wall_ms_per_sim_s: echo.wall_per_sim(),
                        ratio: stack.wall_per_sim() / echo.wall_per_sim(),
                        partial: stack.status != Status::Ok || echo.status != Status::Ok,
                    });
                }
                cases.push(stack.clone());
                cases.push(echo);
                stacks.push(stack);
                return;
            }
        }
        cases.push(stack.clone());
        stacks.push(stack);
    };
    if wants(CaseKind::Standard) {
        eprintln!("bench: running standard ...");
        let stack = run_child("standard", &stack_args("standard"), budget);
        add_stack(stack, &mut cases);
    }
    if wants(CaseKind::Failover) {
        for &n in &agents {
            let name = format!("failover-{n}");
            eprintln!("bench: running {name} ...");
            let mut case_args = stack_args("failover");
            case_args.extend(["--agents".into(), n.to_string()]);
            let stack = run_child(&name, &case_args, budget);
            add_stack(stack, &mut cases);
        }
    }
    if wants(CaseKind::Sweep) {
        eprintln!("bench: running sweep ...");
        let jobs = args.jobs.unwrap_or_else(|| crate::cores() as u64);
        let case_args: Vec<String> = vec![
            "--case".into(),
            "sweep".into(),
            "--sweep-seeds".into(),
            args.sweep_seeds.to_string(),
            "--jobs".into(),
            jobs.to_string(),
        ];
        let sweep = run_child("sweep", &case_args, budget);
        eprintln!("bench: sweep done: {}", short(&sweep));
        cases.push(sweep);
    }

    let failovers: Vec<&CaseResult> = stacks
        .iter()
        .filter(|c| c.case.starts_with("failover-"))
        .collect();
    let scaling: Vec<Scaling> = failovers
        .windows(2)
        .filter(|w| w[0].measured() && w[1].measured())
        .map(|w| Scaling {
            from: w[0].case.clone(),
            to: w[1].case.clone(),
            machines_ratio: w[1].agents.unwrap_or(1) as f64 / w[0].agents.unwrap_or(1) as f64,
            wall_per_sim_ratio: w[1].wall_per_sim() / w[0].wall_per_sim(),
            partial: w[0].status != Status::Ok || w[1].status != Status::Ok,
        })
        .collect();
    let targets = targets(&stacks, &overheads, &scaling);
    let report = BenchReport {
        machine: Machine {
            cores: crate::cores(),
            cpu: cpu_model(),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            tick_ms: TICK_MS,
        },
        budget_seconds: budget,
        cases,
        overheads,
        scaling,
        targets,
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        ),
        Format::Text => print!("{}", text(&report)),
    }
    if report.cases.iter().any(|c| c.status == Status::Failed) {
        ExitCode::from(EXIT_FAIL)
    } else {
        ExitCode::SUCCESS
    }
}

fn short(c: &CaseResult) -> String {
    match c.status {
        Status::Failed => format!("FAILED ({})", c.note.as_deref().unwrap_or("no result")),
        Status::OverBudget => format!(
            "OVER BUDGET after {:.1} simulated s in {:.0} s wall",
            c.sim_seconds, c.wall_seconds
        ),
        Status::Ok => format!(
            "{:.1} simulated s in {:.2} s wall ({:.1}× real time)",
            c.sim_seconds, c.wall_seconds, c.sim_per_wall
        ),
    }
}

fn targets(stacks: &[CaseResult], overheads: &[Overhead], scaling: &[Scaling]) -> Vec<Target> {
    let find = |name: &str| stacks.iter().find(|c| c.case == name);
    let not_measured = |target: &str, why: &str| Target {
        target: target.into(),
        holds: None,
        detail: why.into(),
    };
    let over = |c: &CaseResult| match c.status {
        Status::Ok => None,
        Status::OverBudget => Some(format!(
            "over its {:.0} s budget ({:.2}× real time as far as it got)",
            c.budget_seconds, c.sim_per_wall
        )),
        Status::Failed => Some(format!("failed: {}", c.note.as_deref().unwrap_or("?"))),
    };
    let mut out = Vec::new();

    let t = "standard cluster ≥ 300× real time on one core";
    out.push(match find("standard") {
        None => not_measured(t, "not run"),
        Some(c) => match over(c) {
            Some(why) => Target {
                target: t.into(),
                holds: Some(false),
                detail: why,
            },
            None => Target {
                target: t.into(),
                holds: Some(c.sim_per_wall >= 300.0),
                detail: format!("{:.1}× real time", c.sim_per_wall),
            },
        },
    });

    let big = find("failover-1000");
    let t = "1000 agents: failover ≥ 5× real time and peak RSS < 1 GiB";
    out.push(match big {
        None => not_measured(t, "not run (--agents without 1000)"),
        Some(c) => {
            let rss = c.peak_rss_bytes.unwrap_or(u64::MAX);
            let rss_text = c.peak_rss_bytes.map_or("RSS unknown".to_string(), |b| {
                format!("peak RSS {}", mib(b))
            });
            match over(c) {
                Some(why) => Target {
                    target: t.into(),
                    holds: Some(false),
                    detail: format!("{why}; {rss_text}"),
                },
                None => Target {
                    target: t.into(),
                    holds: Some(c.sim_per_wall >= 5.0 && rss < GIB),
                    detail: format!("{:.2}× real time, {rss_text}", c.sim_per_wall),
                },
            }
        }
    });

    let t = "×10 machines ⇒ wall time per simulated second ≤ ×11";
    if scaling.is_empty() {
        out.push(not_measured(t, "needs two failover sizes that ran"));
    }
    for s in scaling {
        let bound = 1.1 * s.machines_ratio;
        out.push(Target {
            target: format!("{t} ({} → {})", s.from, s.to),
            holds: Some(s.wall_per_sim_ratio <= bound),
            detail: format!(
                "×{:.2} for ×{:.0} agent machines (bound ×{bound:.1}){}",
                s.wall_per_sim_ratio,
                s.machines_ratio,
                if s.partial {
                    "; partial: a side ran out of budget"
                } else {
                    ""
                }
            ),
        });
    }

    let t = "stack overhead ≤ 2× the matched raw turmoil echo";
    if overheads.is_empty() {
        out.push(not_measured(t, "no echo baseline ran"));
    }
    for o in overheads {
        out.push(Target {
            target: format!("{t} ({})", o.case),
            holds: Some(o.ratio <= 2.0),
            detail: format!(
                "×{:.2}{}",
                o.ratio,
                if o.partial {
                    " (partial: a side ran out of budget)"
                } else {
                    ""
                }
            ),
        });
    }

    let t = "failover time ≤ session timeout + 5 s at 1000 agents";
    out.push(match big {
        None => not_measured(t, "not run (--agents without 1000)"),
        Some(c) => match (c.failover_time_s, c.session_timeout_s) {
            (Some(f), Some(s)) => Target {
                target: t.into(),
                holds: Some(f <= s + 5.0),
                detail: format!("{f:.2} s (session timeout {s:.0} s)"),
            },
            _ => Target {
                target: t.into(),
                holds: Some(false),
                detail: over(c).unwrap_or_else(|| "no failover time measured".into()),
            },
        },
    });
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn text(r: &BenchReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(
        s,
        "machine: {} cores, {}; {} build; tick {} ms; budget {:.0} s per case\n",
        m.cores, m.cpu, m.profile, m.tick_ms, r.budget_seconds
    );
    let _ = writeln!(
        s,
        "{:<22} {:>6} {:>5} {:>6} {:>9} {:>8} {:>10} {:>11} {:>12} {:>9} {:>9}  status",
        "case",
        "agents",
        "hosts",
        "conns",
        "sim s",
        "wall s",
        "sim/wall",
        "msgs/wall",
        "wall ms/sim s",
        "peak RSS",
        "failover"
    );
    for c in &r.cases {
        let figures = c.measured();
        let num = |v: f64, prec: usize| {
            if figures {
                format!("{v:.prec$}")
            } else {
                "-".into()
            }
        };
        let status = match c.status {
            Status::Ok => match (&c.verdict, c.seeds_per_wall) {
                (_, Some(spw)) => format!(
                    "ok: {:.2} seeds/wall s ({} seeds, {} jobs)",
                    spw,
                    c.seeds.unwrap_or(0),
                    c.jobs.unwrap_or(0)
                ),
                _ if c.runs > 1 => format!("ok (median of {} runs)", c.runs),
                _ => "ok".into(),
            },
            Status::OverBudget => format!(
                "OVER BUDGET: {}",
                c.note.as_deref().unwrap_or("exceeded its budget")
            ),
            Status::Failed => format!("FAILED: {}", c.note.as_deref().unwrap_or("?")),
        };
        let _ = writeln!(
            s,
            "{:<22} {:>6} {:>5} {:>6} {:>9} {:>8} {:>10} {:>11} {:>12} {:>9} {:>9}  {status}",
            c.case,
            c.agents.map_or("-".into(), |a| a.to_string()),
            c.hosts,
            if c.connections == 0 {
                "-".to_string()
            } else {
                c.connections.to_string()
            },
            num(c.sim_seconds, 1),
            num(c.wall_seconds, 2),
            num(c.sim_per_wall, 1),
            num(c.messages_per_wall, 0),
            num(c.wall_per_sim(), 2),
            c.peak_rss_bytes.map_or("-".into(), mib),
            c.failover_time_s
                .map_or("-".into(), |f| format!("{f:.2} s")),
        );
    }
    if !r.overheads.is_empty() {
        let _ = writeln!(
            s,
            "\noverhead (wall ms per simulated s, stack vs matched raw turmoil echo):"
        );
        for o in &r.overheads {
            let _ = writeln!(
                s,
                "  {:<16} stack {:>10.2}   echo {:>10.2}   ×{:.2}{}",
                o.case,
                o.stack_wall_ms_per_sim_s,
                o.echo_wall_ms_per_sim_s,
                o.ratio,
                if o.partial { "  (partial)" } else { "" }
            );
        }
    }
    if !r.scaling.is_empty() {
        let _ = writeln!(s, "\nscaling (wall time per simulated second):");
        for g in &r.scaling {
            let _ = writeln!(
                s,
                "  {} / {}: ×{:.2} for ×{:.0} agent machines{}",
                g.to,
                g.from,
                g.wall_per_sim_ratio,
                g.machines_ratio,
                if g.partial {
                    "  (partial: ran out of budget)"
                } else {
                    ""
                }
            );
        }
    }
    let _ = writeln!(s, "\ntargets:");
    for t in &r.targets {
        let mark = match t.holds {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "–",
        };
        let _ = writeln!(s, "  {mark} {}: {}", t.target, t.detail);
    }
    s
}
