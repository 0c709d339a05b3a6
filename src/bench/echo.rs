//! The echo baseline: raw turmoil, no mesochaos code — a TCP echo matched to a
//! stack case in hosts, connections, message rate, simulated duration and
//! tick, so the report can say what the stack costs over turmoil itself.

use super::child::{peak_rss_bytes, repeat_short, wall_clock, Progress, Watchdog};
use super::{CaseResult, Status};
use mesochaos_harness::TICK_MS;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Raw turmoil, no mesochaos code: `hosts` hosts each listening on a port;
/// `connections` client connections spread over distinct host pairs, each
/// sending 64-byte frames at an even share of `rate` / 2 per simulated second,
/// the server echoing each back (a request and its reply count as two
/// messages), over the same plain TCP as the transport (no heartbeats, no
/// read timeouts; see [`echo_host_main`]). Same tick, TCP model and latencies
/// as the harness.
pub(super) fn echo_case(mut result: CaseResult, rate: f64, sim_seconds: f64) -> ExitCode {
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
