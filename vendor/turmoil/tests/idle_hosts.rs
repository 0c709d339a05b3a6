//! mesochaos patch 4: skipping idle hosts changes nothing a host can observe.
//!
//! The same workload (TCP echo with latency, timers through `turmoil::time`,
//! a channel written from another host, a `select!` that draws from tokio's
//! RNG, a crash and a restart) runs with skipping off, on, and on with the
//! verifying mode; every host's log (what it saw, and when, by its own clock)
//! must be identical, and skipping must actually have skipped ticks.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use turmoil::net::{TcpListener, TcpStream};
use turmoil::{Builder, Sim};

type Log = Rc<RefCell<Vec<String>>>;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Off,
    Skip,
    Verify,
}

fn note(log: &Log, who: &str, what: String) {
    let at = turmoil::sim_elapsed().expect("inside a host");
    let local = turmoil::elapsed();
    log.borrow_mut()
        .push(format!("{at:?} {who} (host clock {local:?}): {what}"));
}

fn build(mode: Mode) -> Sim<'static> {
    build_with(mode, false)
}

fn build_with(mode: Mode, random_order: bool) -> Sim<'static> {
    let mut builder = Builder::new();
    if random_order {
        builder.enable_random_order();
    }
    builder
        .rng_seed(7)
        .tick_duration(Duration::from_millis(10))
        .simulation_duration(Duration::from_secs(60))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(40))
        .skip_idle_hosts(mode != Mode::Off)
        .verify_idle_skips(mode == Mode::Verify);
    builder.build()
}

fn run(mode: Mode) -> (Vec<String>, u64) {
    run_with(mode, false)
}

fn run_with(mode: Mode, random_order: bool) -> (Vec<String>, u64) {
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let mut sim = build_with(mode, random_order);
    // A channel from "pinger" to "listener": a wake that crosses hosts
    // without the network.
    let (tx, rx) = mpsc::unbounded_channel::<u32>();
    let rx = Rc::new(RefCell::new(Some(rx)));

    let server_log = log.clone();
    sim.host("server", move || {
        let log = server_log.clone();
        async move {
            let listener = TcpListener::bind(("0.0.0.0", 9000)).await?;
            loop {
                let (mut stream, peer) = listener.accept().await?;
                note(&log, "server", format!("accepted {peer}"));
                let log = log.clone();
                tokio::task::spawn_local(async move {
                    let mut buf = [0u8; 8];
                    loop {
                        match turmoil::time::timeout(
                            Duration::from_millis(1_500),
                            stream.read_exact(&mut buf),
                        )
                        .await
                        {
                            Ok(Ok(_)) => {
                                note(&log, "server", format!("echo {}", u64::from_be_bytes(buf)));
                                if stream.write_all(&buf).await.is_err() {
                                    return;
                                }
                            }
                            Ok(Err(e)) => return note(&log, "server", format!("closed: {e}")),
                            Err(_) => return note(&log, "server", "read timed out".into()),
                        }
                    }
                });
            }
        }
    });

    for c in 0..4u64 {
        let name = format!("client-{c}");
        let client_log = log.clone();
        sim.host(name.as_str(), move || {
            let log = client_log.clone();
            let name = format!("client-{c}");
            async move {
                let mut stream = TcpStream::connect(("server", 9000)).await?;
                note(&log, &name, "connected".into());
                for i in 0..40u64 {
                    // Uneven gaps, so hosts go idle for different stretches.
                    turmoil::time::sleep(Duration::from_millis(37 + 53 * ((c + i) % 5))).await;
                    stream.write_all(&(c * 1_000 + i).to_be_bytes()).await?;
                    let mut buf = [0u8; 8];
                    stream.read_exact(&mut buf).await?;
                    note(&log, &name, format!("got {}", u64::from_be_bytes(buf)));
                }
                Ok(())
            }
        });
    }

    let pinger_log = log.clone();
    sim.host("pinger", move || {
        let log = pinger_log.clone();
        let tx = tx.clone();
        async move {
            for i in 0..30u32 {
                turmoil::time::sleep(Duration::from_millis(230)).await;
                let _ = tx.send(i);
                note(&log, "pinger", format!("sent {i}"));
            }
            Ok(())
        }
    });

    let listener_log = log.clone();
    sim.host("listener", move || {
        let log = listener_log.clone();
        let rx = rx.clone();
        async move {
            let mut rx = rx.borrow_mut().take().expect("started once");
            let (wake_tx, mut wake_rx) = mpsc::unbounded_channel::<u32>();
            loop {
                // Unbiased: tokio draws from the runtime's seeded RNG to pick
                // which ready branch goes first.
                tokio::select! {
                    Some(i) = rx.recv() => {
                        note(&log, "listener", format!("heard {i}"));
                        // A task waking another task on the same host.
                        let wake_tx = wake_tx.clone();
                        tokio::task::spawn_local(async move { let _ = wake_tx.send(i); });
                    }
                    Some(i) = wake_rx.recv() => note(&log, "listener", format!("relayed {i}")),
                    _ = turmoil::time::sleep(Duration::from_millis(700)) => {
                        note(&log, "listener", "quiet".into())
                    }
                }
            }
        }
    });

    let mut crashed = false;
    let mut restarted = false;
    let mut late_added = false;
    loop {
        let elapsed = sim.elapsed();
        if !late_added && elapsed >= Duration::from_millis(3_000) {
            // A host registered mid-run: its clock starts late, and it is
            // skipped like any other once idle.
            let late_log = log.clone();
            sim.host("late", move || {
                let log = late_log.clone();
                async move {
                    let mut stream = TcpStream::connect(("server", 9000)).await?;
                    for i in 0..10u64 {
                        turmoil::time::sleep(Duration::from_millis(310)).await;
                        stream.write_all(&(9_000 + i).to_be_bytes()).await?;
                        let mut buf = [0u8; 8];
                        stream.read_exact(&mut buf).await?;
                        note(&log, "late", format!("got {}", u64::from_be_bytes(buf)));
                    }
                    Ok(())
                }
            });
            late_added = true;
        }
        if !crashed && elapsed >= Duration::from_millis(2_000) {
            sim.crash("client-2");
            crashed = true;
        }
        if !restarted && elapsed >= Duration::from_millis(2_600) {
            sim.bounce("client-2");
            restarted = true;
        }
        if elapsed >= Duration::from_secs(9) {
            break;
        }
        sim.step().expect("step");
    }
    let skipped = sim.idle_skips();
    let log = log.borrow().clone();
    (log, skipped)
}

#[test]
fn skipping_idle_hosts_changes_nothing_observable() {
    let (off, off_skips) = run(Mode::Off);
    let (skip, skips) = run(Mode::Skip);
    let (verify, verify_skips) = run(Mode::Verify);

    // The workload did something: every client echoed, the restarted one too,
    // and the cross-host channel was heard.
    assert!(off.iter().filter(|l| l.contains(": got ")).count() > 100);
    assert!(off
        .iter()
        .any(|l| l.contains("client-2") && l.contains("connected")));
    assert!(off.iter().any(|l| l.contains("heard 20")));
    assert!(off.iter().any(|l| l.contains("relayed 20")));
    assert!(off.iter().any(|l| l.contains("quiet")));
    assert!(off
        .iter()
        .any(|l| l.contains("late") && l.contains("got 9009")));

    assert_eq!(off, skip, "skipping idle hosts changed what a host saw");
    assert_eq!(off, verify, "verify mode changed what a host saw");

    assert_eq!(off_skips, 0);
    assert_eq!(verify_skips, 0, "verify mode ticks every host");
    // Six hosts, 900 ticks: most host ticks are idle in this workload.
    assert!(skips > 6 * 900 / 2, "only {skips} host ticks skipped");
}

/// With `enable_random_order` the running hosts are shuffled each step from
/// the simulation's RNG; skipping must draw the same shuffles.
#[test]
fn skipping_idle_hosts_keeps_random_node_order() {
    let (off, _) = run_with(Mode::Off, true);
    let (skip, skips) = run_with(Mode::Skip, true);
    assert!(off.iter().filter(|l| l.contains(": got ")).count() > 100);
    assert_eq!(
        off, skip,
        "skipping idle hosts changed a randomly ordered run"
    );
    assert!(skips > 6 * 900 / 2, "only {skips} host ticks skipped");
    // The order really is random: it differs from the fixed order's run.
    let (fixed, _) = run_with(Mode::Off, false);
    assert_ne!(off, fixed);
}

#[test]
#[should_panic(expected = "turmoil idle-host check: host sneaky")]
fn verify_mode_catches_a_timer_turmoil_cannot_see() {
    let mut sim = build(Mode::Verify);
    sim.host("sneaky", || async {
        loop {
            // tokio's own sleep: the oracle does not know it is due.
            tokio::time::sleep(Duration::from_millis(55)).await;
        }
    });
    for _ in 0..100 {
        sim.step().expect("step");
    }
}

#[test]
fn a_host_is_skipped_only_while_nothing_is_due() {
    let mut sim = build(Mode::Skip);
    sim.host("sleeper", || async {
        loop {
            turmoil::time::sleep(Duration::from_millis(1_000)).await;
        }
    });
    for _ in 0..1_000 {
        sim.step().expect("step");
    }
    // 1000 ticks of 10 ms, a timer every 100 ticks. Each timer is due at the
    // end of a tick, which would only fire it: that tick is skipped, and the
    // timer fires as the host catches up for the next, which runs the task.
    // So the first tick and one tick per second run: 990 of 1000 skipped.
    let skipped = sim.idle_skips();
    assert_eq!(skipped, 990);
}
