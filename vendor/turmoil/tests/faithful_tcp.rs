//! mesochaos patch 5: the opt-in faithful TCP model (`Builder::faithful_tcp`).
//!
//! A cut link holds TCP segments and delivers them, in order, when repaired;
//! a segment held longer than the user timeout resets its sender; a connect
//! whose SYN is held times out; a powered-off machine says nothing and holds
//! what is sent to it until it boots, then answers with RSTs. Every timing
//! is asserted in simulated time, and the timing-sensitive workloads are run
//! with idle-host skipping off, on, and verifying: the logs must be equal.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::{TcpListener, TcpStream};
use turmoil::{Builder, Sim};

const PORT: u16 = 9000;
const TICK: Duration = Duration::from_millis(10);

type Log = Rc<RefCell<Vec<(Duration, String)>>>;

fn new_log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn now() -> Duration {
    turmoil::sim_elapsed().expect("inside a host")
}

fn note(log: &Log, what: impl Into<String>) {
    log.borrow_mut().push((now(), what.into()));
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The entries of `log` that start with `prefix`.
fn entries(log: &Log, prefix: &str) -> Vec<(Duration, String)> {
    log.borrow()
        .iter()
        .filter(|(_, what)| what.starts_with(prefix))
        .cloned()
        .collect()
}

/// The time of the only entry equal to `what`.
fn at(log: &Log, what: &str) -> Duration {
    let found: Vec<Duration> = log
        .borrow()
        .iter()
        .filter(|(_, w)| w == what)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(found.len(), 1, "{what:?} in {:#?}", log.borrow());
    found[0]
}

fn has(log: &Log, what: &str) -> bool {
    log.borrow().iter().any(|(_, w)| w == what)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Skip {
    Off,
    On,
    Verify,
}

fn builder(faithful: bool, skip: Skip) -> Builder {
    let mut b = Builder::new();
    b.rng_seed(11)
        .tick_duration(TICK)
        .simulation_duration(Duration::from_secs(600))
        .min_message_latency(ms(1))
        .max_message_latency(ms(1))
        .faithful_tcp(faithful)
        .skip_idle_hosts(skip != Skip::Off)
        .verify_idle_skips(skip == Skip::Verify);
    b
}

type Action = Box<dyn FnOnce(&mut Sim<'static>)>;

/// Steps `sim` until `until`, running each action once the simulation's
/// elapsed time reaches its time (between steps, as a test driver does).
fn drive(sim: &mut Sim<'static>, until: Duration, mut actions: Vec<(Duration, Action)>) {
    actions.sort_by_key(|(t, _)| *t);
    let mut actions = actions.into_iter().peekable();
    while sim.elapsed() < until {
        while actions.peek().is_some_and(|(t, _)| *t <= sim.elapsed()) {
            let (_, action) = actions.next().expect("peeked");
            action(sim);
        }
        sim.step().expect("step");
    }
}

fn act(f: impl FnOnce(&mut Sim<'static>) + 'static) -> Action {
    Box::new(f)
}

async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    r.read_exact(&mut buf).await?;
    Ok(u64::from_be_bytes(buf))
}

/// Reads frames until an error or EOF, logging each as `"{who} got {n}"`,
/// then `"{who} read: {kind:?}"`.
async fn read_all<R: AsyncReadExt + Unpin>(mut r: R, who: String, log: Log) {
    loop {
        match read_frame(&mut r).await {
            Ok(n) => note(&log, format!("{who} got {n}")),
            Err(e) => {
                note(&log, format!("{who} read: {:?}", e.kind()));
                return;
            }
        }
    }
}

/// Writes `count` frames `base..base + count`, one every `gap`, the first
/// after `first`; logs `"{who} wrote {n}"` or `"{who} write: {kind:?}"`.
async fn write_some<W: AsyncWriteExt + Unpin>(
    mut w: W,
    who: String,
    log: Log,
    first: Duration,
    gap: Duration,
    base: u64,
    count: u64,
) {
    turmoil::time::sleep(first).await;
    for i in 0..count {
        if i > 0 {
            turmoil::time::sleep(gap).await;
        }
        let n = base + i;
        match w.write_all(&n.to_be_bytes()).await {
            Ok(()) => note(&log, format!("{who} wrote {n}")),
            Err(e) => {
                note(&log, format!("{who} write: {:?}", e.kind()));
                return;
            }
        }
    }
    // Keep the write half (no FIN) until the host is dropped.
    std::future::pending::<()>().await;
}

/// A server and a client that each write 10 frames, one every 100 ms from
/// 100 ms on, and log what they read.
fn exchange(sim: &mut Sim<'static>, log: &Log) {
    let server_log = log.clone();
    sim.host("server", move || {
        let log = server_log.clone();
        async move {
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            let (stream, _) = listener.accept().await?;
            let (r, w) = stream.into_split();
            tokio::task::spawn_local(read_all(r, "server".into(), log.clone()));
            write_some(w, "server".into(), log, ms(100), ms(100), 100, 10).await;
            Ok(())
        }
    });
    let client_log = log.clone();
    sim.host("client", move || {
        let log = client_log.clone();
        async move {
            let stream = TcpStream::connect(("server", PORT)).await?;
            let (r, w) = stream.into_split();
            tokio::task::spawn_local(read_all(r, "client".into(), log.clone()));
            write_some(w, "client".into(), log, ms(100), ms(100), 0, 10).await;
            Ok(())
        }
    });
}

#[derive(Clone, Copy, Debug)]
enum Cut {
    Both,
    ClientToServer,
    ServerToClient,
}

fn run_exchange(faithful: bool, cut: Cut) -> Log {
    let log = new_log();
    let mut sim = builder(faithful, Skip::Off).build();
    exchange(&mut sim, &log);
    let (cut_at, repair_at) = (ms(350), ms(2_000));
    let actions = match cut {
        Cut::Both => vec![
            (cut_at, act(|s| s.partition("client", "server"))),
            (repair_at, act(|s| s.repair("client", "server"))),
        ],
        Cut::ClientToServer => vec![
            (cut_at, act(|s| s.partition_oneway("client", "server"))),
            (repair_at, act(|s| s.repair_oneway("client", "server"))),
        ],
        Cut::ServerToClient => vec![
            (cut_at, act(|s| s.partition_oneway("server", "client"))),
            (repair_at, act(|s| s.repair_oneway("server", "client"))),
        ],
    };
    drive(&mut sim, ms(4_000), actions);
    log
}

fn got(log: &Log, who: &str) -> Vec<u64> {
    entries(log, &format!("{who} got "))
        .into_iter()
        .map(|(_, w)| w.rsplit(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// Checks one direction of an exchange: everything arrives, in order, and
/// (if that direction was cut) what was written during the cut arrives only
/// after the repair.
fn check_direction(log: &Log, writer: &str, reader: &str, base: u64, cut: bool) {
    let expected: Vec<u64> = (base..base + 10).collect();
    assert_eq!(
        got(log, reader),
        expected,
        "{reader} read, {:#?}",
        log.borrow()
    );
    for n in base..base + 10 {
        let wrote = at(log, &format!("{writer} wrote {n}"));
        let arrived = at(log, &format!("{reader} got {n}"));
        assert!(arrived > wrote);
        if cut && wrote > ms(350) {
            assert!(
                arrived >= ms(2_000),
                "{n} arrived at {arrived:?} during the cut"
            );
        } else {
            assert!(
                arrived <= wrote + ms(20),
                "{n} was delayed: {wrote:?} -> {arrived:?}"
            );
        }
    }
}

#[test]
fn data_written_during_a_cut_arrives_in_order_after_repair() {
    let log = run_exchange(true, Cut::Both);
    check_direction(&log, "client", "server", 0, true);
    check_direction(&log, "server", "client", 100, true);
    assert!(entries(&log, "client read").is_empty() && entries(&log, "server read").is_empty());
}

#[test]
fn one_way_cut_client_to_server() {
    let log = run_exchange(true, Cut::ClientToServer);
    check_direction(&log, "client", "server", 0, true);
    check_direction(&log, "server", "client", 100, false);
}

#[test]
fn one_way_cut_server_to_client() {
    let log = run_exchange(true, Cut::ServerToClient);
    check_direction(&log, "client", "server", 0, false);
    check_direction(&log, "server", "client", 100, true);
}

/// The same exchange with the model off: upstream drops what the cut meets,
/// and the receiver, missing a sequence number, stalls for good.
#[test]
fn without_the_model_a_cut_loses_data() {
    for cut in [Cut::Both, Cut::ClientToServer, Cut::ServerToClient] {
        let off = run_exchange(false, cut);
        let on = run_exchange(true, cut);
        let (off_server, off_client) = (got(&off, "server"), got(&off, "client"));
        let client_cut = !matches!(cut, Cut::ServerToClient);
        let server_cut = !matches!(cut, Cut::ClientToServer);
        // Frames 0..=2 (100, 200, 300 ms) went out before the cut at 350 ms.
        if client_cut {
            assert_eq!(off_server, vec![0, 1, 2], "{cut:?}");
        } else {
            assert_eq!(off_server, (0..10).collect::<Vec<_>>(), "{cut:?}");
        }
        if server_cut {
            assert_eq!(off_client, vec![100, 101, 102], "{cut:?}");
        } else {
            assert_eq!(off_client, (100..110).collect::<Vec<_>>(), "{cut:?}");
        }
        assert_eq!(got(&on, "server"), (0..10).collect::<Vec<_>>(), "{cut:?}");
        assert_eq!(
            got(&on, "client"),
            (100..110).collect::<Vec<_>>(),
            "{cut:?}"
        );
    }
}

/// Client writes one frame at 1 s, during a cut from 0.5 s to 8 s, then
/// reads; the server only reads, until it writes one frame at 9 s.
fn user_timeout_workload(sim: &mut Sim<'static>, log: &Log) {
    let server_log = log.clone();
    sim.host("server", move || {
        let log = server_log.clone();
        async move {
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            let (stream, _) = listener.accept().await?;
            let (r, mut w) = stream.into_split();
            tokio::task::spawn_local(read_all(r, "server".into(), log.clone()));
            turmoil::time::sleep(ms(9_000).saturating_sub(now())).await;
            match w.write_all(&7u64.to_be_bytes()).await {
                Ok(()) => note(&log, "server wrote 7"),
                Err(e) => note(&log, format!("server write: {:?}", e.kind())),
            }
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let client_log = log.clone();
    sim.host("client", move || {
        let log = client_log.clone();
        async move {
            let mut stream = TcpStream::connect(("server", PORT)).await?;
            turmoil::time::sleep(ms(1_000).saturating_sub(now())).await;
            stream.write_all(&1u64.to_be_bytes()).await?;
            note(&log, "client wrote 1");
            match read_frame(&mut stream).await {
                Ok(n) => note(&log, format!("client got {n}")),
                Err(e) => note(&log, format!("client read: {:?}", e.kind())),
            }
            match stream.write_all(&2u64.to_be_bytes()).await {
                Ok(()) => note(&log, "client wrote 2"),
                Err(e) => note(&log, format!("client write: {:?}", e.kind())),
            }
            std::future::pending::<()>().await;
            Ok(())
        }
    });
}

fn user_timeout_run(skip: Skip) -> (Log, u64, u64) {
    let log = new_log();
    let mut b = builder(true, skip);
    b.tcp_user_timeout(ms(5_000));
    let mut sim = b.build();
    user_timeout_workload(&mut sim, &log);
    drive(
        &mut sim,
        ms(10_000),
        vec![
            (ms(500), act(|s| s.partition("client", "server"))),
            (ms(8_000), act(|s| s.repair("client", "server"))),
        ],
    );
    (log, sim.idle_skips(), sim.idle_verified())
}

#[test]
fn user_timeout_resets_the_sender_then_the_peer_gets_rst_on_its_next_write() {
    let (log, _, _) = user_timeout_run(Skip::Off);
    let wrote = at(&log, "client wrote 1");
    let reset = at(&log, "client read: ConnectionReset");
    // Not before the user timeout, and at most a tick after it.
    assert!(
        reset >= wrote + ms(5_000),
        "reset at {reset:?}, wrote at {wrote:?}"
    );
    assert!(
        reset <= wrote + ms(5_000) + TICK,
        "reset at {reset:?}, wrote at {wrote:?}"
    );
    // Writes after the reset fail the same way, at once.
    assert_eq!(at(&log, "client write: ConnectionReset"), reset);
    // The held segment was discarded with the socket: the server never got
    // it, and knew nothing until it wrote after the heal. Its write succeeds;
    // the RST that answers it resets it.
    assert!(got(&log, "server").is_empty());
    let server_wrote = at(&log, "server wrote 7");
    assert_eq!(server_wrote, ms(9_000));
    let server_reset = at(&log, "server read: ConnectionReset");
    assert!(server_reset > server_wrote && server_reset <= server_wrote + ms(30));
    assert_eq!(log.borrow().len(), 5, "{:#?}", log.borrow());
}

#[test]
fn user_timeout_is_the_same_with_idle_hosts_skipped() {
    let (off, _, _) = user_timeout_run(Skip::Off);
    let (on, skips, _) = user_timeout_run(Skip::On);
    let (verify, _, verified) = user_timeout_run(Skip::Verify);
    assert_eq!(*off.borrow(), *on.borrow());
    assert_eq!(*off.borrow(), *verify.borrow());
    assert!(skips > 1_000, "only {skips} host ticks skipped");
    assert!(verified > 1_000, "only {verified} host ticks verified");
}

/// A hold models a paused process, whose kernel still acknowledges: however
/// long it lasts, it resets nothing.
#[test]
fn a_hold_longer_than_the_user_timeout_resets_nothing() {
    let log = new_log();
    let mut b = builder(true, Skip::Off);
    b.tcp_user_timeout(ms(1_000));
    let mut sim = b.build();
    exchange(&mut sim, &log);
    drive(
        &mut sim,
        ms(6_000),
        vec![
            (ms(350), act(|s| s.hold("client", "server"))),
            (ms(4_000), act(|s| s.release("client", "server"))),
        ],
    );
    assert_eq!(got(&log, "server"), (0..10).collect::<Vec<_>>());
    assert_eq!(got(&log, "client"), (100..110).collect::<Vec<_>>());
    assert!(at(&log, "server got 9") >= ms(4_000));
    assert!(entries(&log, "client read").is_empty() && entries(&log, "server read").is_empty());
}

/// A listener on "server"; `clients` connect at the given times and log the
/// outcome as `"{name} connect: Ok"` or `"{name} connect: {kind:?}"`; one
/// with an application timeout gives up after it (`"{name} gave up"`),
/// dropping its connect.
fn connect_workload(
    sim: &mut Sim<'static>,
    log: &Log,
    clients: &[(&str, Duration, Option<Duration>)],
) {
    let server_log = log.clone();
    sim.host("server", move || {
        let log = server_log.clone();
        async move {
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            let mut held = Vec::new();
            loop {
                let (stream, peer) = listener.accept().await?;
                note(&log, format!("server accepted {}", peer.port()));
                held.push(stream);
            }
        }
    });
    sim.host("mute", || async {
        // Up, listening on nothing.
        std::future::pending::<()>().await;
        Ok(())
    });
    for &(name, when, give_up) in clients {
        let client_log = log.clone();
        let name = name.to_string();
        sim.host(name.clone(), move || {
            let log = client_log.clone();
            let name = name.clone();
            async move {
                turmoil::time::sleep(when.saturating_sub(now())).await;
                note(&log, format!("{name} connecting"));
                let target = if name.starts_with("mute") {
                    "mute"
                } else {
                    "server"
                };
                let mut kept = None;
                let attempt = TcpStream::connect((target, PORT));
                let result = match give_up {
                    Some(after) => match turmoil::time::timeout(after, attempt).await {
                        Ok(result) => result,
                        Err(_) => {
                            note(&log, format!("{name} gave up"));
                            std::future::pending::<()>().await;
                            unreachable!()
                        }
                    },
                    None => attempt.await,
                };
                match result {
                    Ok(stream) => {
                        note(
                            &log,
                            format!("{name} connect: Ok {}", stream.local_addr()?.port()),
                        );
                        kept = Some(stream);
                    }
                    Err(e) => note(&log, format!("{name} connect: {:?}", e.kind())),
                }
                std::future::pending::<()>().await;
                drop(kept);
                Ok(())
            }
        });
    }
}

fn connect_run(cut: Cut, skip: Skip) -> (Log, u64, u64) {
    let log = new_log();
    let mut b = builder(true, skip);
    b.tcp_connect_timeout(ms(3_000));
    let mut sim = b.build();
    // c1 connects across the cut and times out; its SYN is discarded. c0
    // connects across the cut at 3 s and drops its connect after 0.5 s (an
    // application timeout); its SYN is still held, and is delivered at the
    // repair (5 s) to a listener whose accept must skip it. c2 connects
    // across the cut and is answered when it heals at 5 s, within its
    // timeout. c3 connects after the heal. mute-c connects to a live host
    // that listens on nothing.
    connect_workload(
        &mut sim,
        &log,
        &[
            ("c0", ms(3_000), Some(ms(500))),
            ("c1", ms(500), None),
            ("c2", ms(4_000), None),
            ("c3", ms(6_000), None),
            ("mute-c", ms(500), None),
        ],
    );
    let mut actions: Vec<(Duration, Action)> = Vec::new();
    for c in ["c0", "c1", "c2", "c3"] {
        match cut {
            Cut::Both => {
                actions.push((ms(0), act(move |s| s.partition(c, "server"))));
                actions.push((ms(5_000), act(move |s| s.repair(c, "server"))));
            }
            Cut::ClientToServer => {
                actions.push((ms(0), act(move |s| s.partition_oneway(c, "server"))));
                actions.push((ms(5_000), act(move |s| s.repair_oneway(c, "server"))));
            }
            Cut::ServerToClient => {
                actions.push((ms(0), act(move |s| s.partition_oneway("server", c))));
                actions.push((ms(5_000), act(move |s| s.repair_oneway("server", c))));
            }
        }
    }
    drive(&mut sim, ms(8_000), actions);
    (log, sim.idle_skips(), sim.idle_verified())
}

fn check_connects(log: &Log, cut: Cut) {
    let context = format!("{cut:?}: {:#?}", log.borrow());
    // Across the cut: TimedOut, the connect timeout later (at most a tick
    // more: the SYN was sent in the tick that started at `started`).
    let started = at(log, "c1 connecting");
    let timed_out = at(log, "c1 connect: TimedOut");
    assert!(
        timed_out >= started + ms(3_000) && timed_out <= started + ms(3_000) + TICK,
        "{context}"
    );
    assert_eq!(at(log, "c0 gave up"), ms(3_500), "{context}");
    // A connect the heal answers in time succeeds, after the heal.
    let c2 = entries(log, "c2 connect: Ok");
    assert_eq!(c2.len(), 1, "{context}");
    assert!(c2[0].0 >= ms(5_000) && c2[0].0 < ms(5_100), "{context}");
    // After the heal: at once.
    let c3 = entries(log, "c3 connect: Ok");
    assert_eq!(c3.len(), 1, "{context}");
    assert!(c3[0].0 < ms(6_030), "{context}");
    // The listener accepted c2 and c3 and nothing else: c0's late SYN made
    // no half-open connection.
    let accepted = entries(log, "server accepted");
    assert_eq!(accepted.len(), 2, "{context}");
    // Refused at once by a live host with no listener.
    let mute = at(log, "mute-c connect: ConnectionRefused");
    assert!(mute < ms(500) + ms(30), "{context}");
}

#[test]
fn connect_across_a_cut_times_out() {
    for cut in [Cut::Both, Cut::ClientToServer, Cut::ServerToClient] {
        check_connects(&connect_run(cut, Skip::Off).0, cut);
    }
}

#[test]
fn connect_timeouts_are_the_same_with_idle_hosts_skipped() {
    for cut in [Cut::Both, Cut::ServerToClient] {
        let (off, _, _) = connect_run(cut, Skip::Off);
        let (on, skips, _) = connect_run(cut, Skip::On);
        let (verify, _, verified) = connect_run(cut, Skip::Verify);
        check_connects(&on, cut);
        assert_eq!(*off.borrow(), *on.borrow());
        assert_eq!(*off.borrow(), *verify.borrow());
        assert!(skips > 1_000, "only {skips} host ticks skipped");
        assert!(verified > 1_000, "only {verified} host ticks verified");
    }
}

/// The server accepts one connection and reads; the client connects, reads
/// in a task, and writes one frame at `write_at`. "late" connects to the
/// server at 1.5 s.
fn power_workload(sim: &mut Sim<'static>, log: &Log, write_at: Duration) {
    let server_log = log.clone();
    sim.host("server", move || {
        let log = server_log.clone();
        async move {
            note(&log, "server up");
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            let (stream, _) = listener.accept().await?;
            read_all(stream, "server".into(), log).await;
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let client_log = log.clone();
    sim.host("client", move || {
        let log = client_log.clone();
        async move {
            let stream = TcpStream::connect(("server", PORT)).await?;
            let (r, mut w) = stream.into_split();
            tokio::task::spawn_local(read_all(r, "client".into(), log.clone()));
            turmoil::time::sleep(write_at.saturating_sub(now())).await;
            match w.write_all(&5u64.to_be_bytes()).await {
                Ok(()) => note(&log, "client wrote 5"),
                Err(e) => note(&log, format!("client write: {:?}", e.kind())),
            }
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let late_log = log.clone();
    sim.host("late", move || {
        let log = late_log.clone();
        async move {
            turmoil::time::sleep(ms(1_500).saturating_sub(now())).await;
            match TcpStream::connect(("server", PORT)).await {
                Ok(_) => note(&log, "late connect: Ok"),
                Err(e) => note(&log, format!("late connect: {:?}", e.kind())),
            }
            std::future::pending::<()>().await;
            Ok(())
        }
    });
}

fn power_run(bounce_at: Option<Duration>, skip: Skip) -> (Log, u64, u64) {
    let log = new_log();
    let mut b = builder(true, skip);
    b.tcp_user_timeout(ms(5_000)).tcp_connect_timeout(ms(2_000));
    let mut sim = b.build();
    power_workload(&mut sim, &log, ms(2_000));
    let mut actions: Vec<(Duration, Action)> = vec![(
        ms(1_000),
        act(|s| {
            s.power_off("server");
            assert!(s.is_powered_off("server"));
            assert!(!s.is_host_running("server"));
        }),
    )];
    if let Some(t) = bounce_at {
        actions.push((
            t,
            act(|s| {
                s.bounce("server");
                assert!(!s.is_powered_off("server"));
            }),
        ));
    }
    drive(&mut sim, ms(9_000), actions);
    (log, sim.idle_skips(), sim.idle_verified())
}

#[test]
fn power_off_sends_nothing_holds_writes_and_the_rebooted_host_answers_rst() {
    let (log, _, _) = power_run(Some(ms(4_000)), Skip::Off);
    let context = format!("{:#?}", log.borrow());
    // No FIN, no RST: the client hears nothing until the server boots again.
    let wrote = at(&log, "client wrote 5");
    assert_eq!(wrote, ms(2_000));
    // The held frame reaches the booted server, which has no socket for it
    // and answers with an RST.
    let reset = at(&log, "client read: ConnectionReset");
    assert!(reset > ms(4_000) && reset <= ms(4_030), "{context}");
    assert!(got(&log, "server").is_empty(), "{context}");
    assert_eq!(entries(&log, "server up").len(), 2, "{context}");
    // Connects to a powered-off host time out (sent in the tick starting at
    // 1.5 s, so a tick after 1.5 s + the connect timeout).
    assert_eq!(at(&log, "late connect: TimedOut"), ms(3_510), "{context}");
    assert_eq!(log.borrow().len(), 5, "{context}");
}

#[test]
fn writes_to_a_powered_off_host_count_toward_the_user_timeout() {
    let (log, _, _) = power_run(None, Skip::Off);
    let context = format!("{:#?}", log.borrow());
    let reset = at(&log, "client read: ConnectionReset");
    assert!(reset >= ms(7_000) && reset <= ms(7_000) + TICK, "{context}");
    assert_eq!(at(&log, "late connect: TimedOut"), ms(3_510), "{context}");
}

#[test]
fn power_off_is_the_same_with_idle_hosts_skipped() {
    for bounce in [Some(ms(4_000)), None] {
        let (off, _, _) = power_run(bounce, Skip::Off);
        let (on, skips, _) = power_run(bounce, Skip::On);
        let (verify, _, verified) = power_run(bounce, Skip::Verify);
        assert_eq!(*off.borrow(), *on.borrow());
        assert_eq!(*off.borrow(), *verify.borrow());
        assert!(skips > 1_000, "only {skips} host ticks skipped");
        assert!(verified > 1_000, "only {verified} host ticks verified");
    }
}

/// A plain crash (process killed, machine up) is as before: the crashed
/// host's sockets send FIN, so the peer reads EOF at once. With the model
/// on, the host's kernel still answers while its software is down: the
/// peer's next write gets an RST, and a connect is refused, at once.
#[test]
fn a_crash_still_sends_fin_and_the_crashed_host_answers() {
    let log = new_log();
    let mut b = builder(true, Skip::Off);
    b.tcp_user_timeout(ms(5_000)).tcp_connect_timeout(ms(2_000));
    let mut sim = b.build();
    power_workload(&mut sim, &log, ms(2_000));
    drive(
        &mut sim,
        ms(4_000),
        vec![(ms(1_000), act(|s| s.crash("server")))],
    );
    let context = format!("{:#?}", log.borrow());
    // The FIN is sent as the crash happens, between steps at 1 s, and read
    // in the next tick, which starts at 1 s.
    let eof = at(&log, "client read: UnexpectedEof");
    assert!(eof >= ms(1_000) && eof <= ms(1_030), "{context}");
    assert_eq!(at(&log, "client wrote 5"), ms(2_000));
    let refused = at(&log, "late connect: ConnectionRefused");
    assert!(refused > ms(1_500) && refused <= ms(1_530), "{context}");
    assert!(!sim.is_powered_off("server"));
}

/// A crash while the link is cut: the FIN is held like any segment, and
/// arrives when the cut heals.
#[test]
fn a_fin_sent_across_a_cut_is_held() {
    let log = new_log();
    let mut sim = builder(true, Skip::Off).build();
    power_workload(&mut sim, &log, ms(60_000));
    drive(
        &mut sim,
        ms(4_000),
        vec![
            (ms(500), act(|s| s.partition("client", "server"))),
            (ms(1_000), act(|s| s.crash("server"))),
            (ms(3_000), act(|s| s.repair("client", "server"))),
        ],
    );
    // Released by the repair between steps at 3 s, read in the next tick.
    let eof = at(&log, "client read: UnexpectedEof");
    assert!(eof >= ms(3_000) && eof <= ms(3_030), "{:#?}", log.borrow());
}

/// One-way cut: the side whose segments get through still loses its ACKs,
/// so it times out too (it writes at 1 s, across the healthy direction).
#[test]
fn a_one_way_cut_times_out_the_side_whose_acks_are_lost() {
    let log = new_log();
    let mut b = builder(true, Skip::Off);
    b.tcp_user_timeout(ms(5_000));
    let mut sim = b.build();
    user_timeout_workload(&mut sim, &log);
    drive(
        &mut sim,
        ms(10_000),
        vec![
            (ms(500), act(|s| s.partition_oneway("server", "client"))),
            (ms(8_000), act(|s| s.repair_oneway("server", "client"))),
        ],
    );
    let context = format!("{:#?}", log.borrow());
    // The frame was delivered: the server read it at once.
    assert_eq!(got(&log, "server"), vec![1], "{context}");
    // But no ACK came back, so the client gave up after the user timeout.
    let wrote = at(&log, "client wrote 1");
    let reset = at(&log, "client read: ConnectionReset");
    assert!(
        reset >= wrote + ms(5_000) && reset <= wrote + ms(5_000) + TICK,
        "{context}"
    );
    // And the server's write after the heal is answered with an RST.
    let server_reset = at(&log, "server read: ConnectionReset");
    assert!(
        server_reset > ms(9_000) && server_reset <= ms(9_030),
        "{context}"
    );
}

/// A writer blocked on a full send buffer behind a cut is woken by the
/// reset and fails with `ConnectionReset`.
#[test]
fn a_blocked_writer_is_reset() {
    let log = new_log();
    let mut b = builder(true, Skip::Off);
    b.tcp_user_timeout(ms(2_000)).tcp_capacity(4);
    let mut sim = b.build();
    let server_log = log.clone();
    sim.host("server", move || {
        let log = server_log.clone();
        async move {
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            let (stream, _) = listener.accept().await?;
            read_all(stream, "server".into(), log).await;
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let client_log = log.clone();
    sim.host("client", move || {
        let log = client_log.clone();
        async move {
            let stream = TcpStream::connect(("server", PORT)).await?;
            turmoil::time::sleep(ms(1_000).saturating_sub(now())).await;
            write_some(stream, "client".into(), log, ms(0), ms(0), 0, 10).await;
            Ok(())
        }
    });
    drive(
        &mut sim,
        ms(5_000),
        vec![(ms(500), act(|s| s.partition("client", "server")))],
    );
    let context = format!("{:#?}", log.borrow());
    assert_eq!(entries(&log, "client wrote").len(), 4, "{context}");
    let reset = at(&log, "client write: ConnectionReset");
    assert!(reset >= ms(3_000) && reset <= ms(3_000) + TICK, "{context}");
}

/// UDP still drops at a cut with the model on.
#[test]
fn udp_still_drops_at_a_cut() {
    use turmoil::net::UdpSocket;
    let log = new_log();
    let mut sim = builder(true, Skip::Off).build();
    let server_log = log.clone();
    sim.host("server", move || {
        let log = server_log.clone();
        async move {
            let sock = UdpSocket::bind(("0.0.0.0", PORT)).await?;
            let mut buf = [0u8; 8];
            loop {
                let (n, _) = sock.recv_from(&mut buf).await?;
                note(&log, format!("server got {}", buf[..n][0]));
            }
        }
    });
    sim.host("client", || async {
        let sock = UdpSocket::bind(("0.0.0.0", PORT)).await?;
        for i in 0..5u8 {
            turmoil::time::sleep(ms(200)).await;
            sock.send_to(&[i], ("server", PORT)).await?;
        }
        std::future::pending::<()>().await;
        Ok(())
    });
    drive(
        &mut sim,
        ms(2_000),
        vec![
            (ms(500), act(|s| s.partition("client", "server"))),
            (ms(900), act(|s| s.repair("client", "server"))),
        ],
    );
    // Sent at 200, 400 (before), 600, 800 (lost), 1000 (after).
    assert_eq!(got(&log, "server"), vec![0, 1, 4]);
}

/// With the model off, a connect across a cut is refused at once, as
/// upstream (the dropped SYN drops its SYN-ACK channel).
#[test]
fn without_the_model_connect_across_a_cut_is_refused() {
    let log = new_log();
    let mut sim = builder(false, Skip::Off).build();
    connect_workload(&mut sim, &log, &[("c1", ms(500), None)]);
    drive(
        &mut sim,
        ms(1_000),
        vec![(ms(0), act(|s| s.partition("c1", "server")))],
    );
    let refused = at(&log, "c1 connect: ConnectionRefused");
    assert!(refused < ms(530), "{:#?}", log.borrow());
    assert!(!has(&log, "c1 connect: TimedOut"));
}

/// A hold models a paused process, whose kernel would complete the
/// handshake: a connect to it does not time out, however long the hold; it
/// completes when the hold is released (turmoil's SYN-ACK is the listener's
/// `accept`).
#[test]
fn a_hold_longer_than_the_connect_timeout_does_not_time_out_a_connect() {
    let log = new_log();
    let mut b = builder(true, Skip::Off);
    b.tcp_connect_timeout(ms(1_000));
    let mut sim = b.build();
    connect_workload(&mut sim, &log, &[("c1", ms(500), None)]);
    drive(
        &mut sim,
        ms(5_000),
        vec![
            (ms(0), act(|s| s.hold("c1", "server"))),
            (ms(4_000), act(|s| s.release("c1", "server"))),
        ],
    );
    let ok = entries(&log, "c1 connect: Ok");
    assert_eq!(ok.len(), 1, "{:#?}", log.borrow());
    assert!(
        ok[0].0 >= ms(4_000) && ok[0].0 < ms(4_050),
        "{:#?}",
        log.borrow()
    );
}

/// A cut that becomes a hold (the harness's "repair, then hold") stops
/// counting: what the cut held is now held by the hold, and is delivered
/// when it is released, resetting nothing.
#[test]
fn a_cut_turned_into_a_hold_stops_the_user_timeout() {
    let log = new_log();
    let mut b = builder(true, Skip::Off);
    b.tcp_user_timeout(ms(1_000));
    let mut sim = b.build();
    exchange(&mut sim, &log);
    drive(
        &mut sim,
        ms(6_000),
        vec![
            (ms(350), act(|s| s.partition("client", "server"))),
            (
                ms(800),
                act(|s| {
                    s.repair("client", "server");
                    s.hold("client", "server");
                }),
            ),
            (ms(4_000), act(|s| s.release("client", "server"))),
        ],
    );
    assert_eq!(got(&log, "server"), (0..10).collect::<Vec<_>>());
    assert_eq!(got(&log, "client"), (100..110).collect::<Vec<_>>());
    assert!(at(&log, "server got 3") >= ms(4_000));
    assert!(entries(&log, "client read").is_empty() && entries(&log, "server read").is_empty());
}

/// `power_on` without `bounce`: the machine is up, its software still down;
/// what was held for it is delivered at once and answered with RSTs, and a
/// connect is refused (not timed out).
#[test]
fn power_on_without_bounce_answers_with_rst() {
    let log = new_log();
    let mut b = builder(true, Skip::Off);
    b.tcp_user_timeout(ms(60_000))
        .tcp_connect_timeout(ms(60_000));
    let mut sim = b.build();
    power_workload(&mut sim, &log, ms(2_000));
    drive(
        &mut sim,
        ms(4_000),
        vec![
            (ms(1_000), act(|s| s.power_off("server"))),
            (
                ms(3_000),
                act(|s| {
                    s.power_on("server");
                    assert!(!s.is_powered_off("server"));
                    assert!(!s.is_host_running("server"));
                }),
            ),
        ],
    );
    let context = format!("{:#?}", log.borrow());
    assert_eq!(at(&log, "client wrote 5"), ms(2_000), "{context}");
    let reset = at(&log, "client read: ConnectionReset");
    assert!(reset >= ms(3_000) && reset <= ms(3_030), "{context}");
    // "late" connected at 1.5 s, while the server was off: its SYN was held,
    // then refused by the powered-on host with no software.
    let refused = at(&log, "late connect: ConnectionRefused");
    assert!(refused >= ms(3_000) && refused <= ms(3_030), "{context}");
    assert_eq!(entries(&log, "server up").len(), 1, "{context}");
}
