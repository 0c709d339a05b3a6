//! A case's child process: what it watches while the case runs (simulated
//! time, messages and connections, peak RSS), the watchdog that reports it
//! over budget, how it prints its one result, and the repeats of a short case.

use super::cases::{failover_toml, parse_embedded, stack_case, sweep_case, STANDARD_TOML};
use super::echo::echo_case;
use super::{bad, BenchArgs, CaseKind, CaseResult, Status};
use mesochaos_harness::TICK_MS;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How far a running case got; updated by the simulation's thread, read by
/// the watchdog.
#[derive(Default)]
pub(super) struct Progress {
    pub(super) t_ms: AtomicU64,
    pub(super) messages: AtomicU64,
    pub(super) connections: AtomicU64,
}

/// Sees every trace line of a stack run (the trace serializes every record
/// anyway): the simulated time, messages sent and host pairs connected.
pub(super) struct ProgressWriter {
    pub(super) progress: Arc<Progress>,
    pub(super) pairs: BTreeSet<(String, String)>,
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
pub(super) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Wall time since the case started (measured around the simulation).
#[allow(clippy::disallowed_methods)] // wall clock around, not inside, the simulation
pub(super) fn wall_clock() -> std::time::Instant {
    std::time::Instant::now()
}

/// Reports a case as over budget when its wall time runs out, and prints a
/// progress line on stderr every 10 s. The case's thread calls [`Self::done`]
/// before printing its own result; whichever comes first prints.
pub(super) struct Watchdog {
    printed: Arc<Mutex<bool>>,
}

impl Watchdog {
    pub(super) fn start(template: CaseResult, progress: Arc<Progress>) -> Watchdog {
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
    pub(super) fn done(self, result: &CaseResult) {
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

pub(super) fn child(kind: CaseKind, args: &BenchArgs) -> ExitCode {
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
            let jobs = args.jobs.unwrap_or_else(|| crate::cli::cores() as u64);
            sweep_case(template(name_or(args, "sweep")), args.sweep_seeds, jobs)
        }
    }
}

fn name_or(args: &BenchArgs, default: &str) -> String {
    args.name.clone().unwrap_or_else(|| default.to_string())
}

/// A case shorter than this (wall seconds) is repeated; see [`CaseResult::runs`].
const SHORT_CASE_S: f64 = 1.0;
/// At most this many runs of a short case.
const MAX_RUNS: u32 = 15;

/// Runs `once` (which returns its wall seconds) again while the runs so far
/// took under [`SHORT_CASE_S`] in all, up to [`MAX_RUNS`] runs; returns the
/// number of runs and the median wall time, `first` included.
pub(super) fn repeat_short(first: f64, mut once: impl FnMut() -> f64) -> (u32, f64) {
    let mut walls = vec![first];
    while walls.iter().sum::<f64>() < SHORT_CASE_S && (walls.len() as u32) < MAX_RUNS {
        walls.push(once());
    }
    walls.sort_by(f64::total_cmp);
    (walls.len() as u32, walls[walls.len() / 2])
}
