//! The real driver runs the reference's roles unchanged on real TCP, real
//! timers and real files: a coordinator and three masters elect a leader
//! over loopback sockets, and when the leader dies its coordinator session
//! expires after the real `zk_session_timeout` and a standby takes over.
//!
//! (Roles run as tasks of this test process here; `mesochaos real` runs each
//! as its own OS process with the same driver.)

use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_real::driver::{monotonic_ms, run, ProcessConfig};
use mesochaos_reference::coordinator::Coordinator;
use mesochaos_reference::master::{Master, MasterConfig};
use mesochaos_reference::timing::Timing;
use mesochaos_reference::{Event, ProcessId};
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;
use tokio::sync::mpsc;

const SESSION_TIMEOUT_MS: u64 = 1_500;

/// The elections in `records`, in order: (time, master, epoch).
fn elections(records: &[TraceRecord]) -> Vec<(u64, String, u64)> {
    records
        .iter()
        .filter_map(|r| match &r.kind {
            TraceKind::Event {
                event: Event::ElectedLeader { epoch },
            } => Some((r.t_ms, r.at.to_string(), *epoch)),
            _ => None,
        })
        .collect()
}

#[test]
fn masters_elect_a_leader_over_real_sockets_and_fail_over_after_the_session_timeout() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let dir = std::env::temp_dir().join(format!("mesochaos-driver-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let names: Vec<ProcessId> = ["coordinator", "master-1", "master-2", "master-3"]
            .into_iter()
            .map(ProcessId::from)
            .collect();
        // Every process's listener is bound first, so each knows every
        // other's port before any starts.
        let mut listeners = BTreeMap::new();
        let mut peers: BTreeMap<ProcessId, SocketAddr> = BTreeMap::new();
        for name in &names {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            peers.insert(name.clone(), l.local_addr().unwrap());
            listeners.insert(name.clone(), l);
        }
        let (sink, mut records_rx) = mpsc::unbounded_channel();
        let epoch_ms = monotonic_ms();
        let timing = Timing {
            zk_session_timeout_ms: SESSION_TIMEOUT_MS,
            ..Timing::default()
        };
        let mut tasks = BTreeMap::new();
        for name in &names {
            let config = ProcessConfig {
                me: name.clone(),
                incarnation: 1,
                listener: listeners.remove(name),
                peers: peers.clone(),
                dir: dir.join(name.as_str()),
                epoch_ms,
                seed: 7,
                sink: sink.clone(),
                control: mpsc::unbounded_channel().1,
                zookeeper: None,
                durable: None,
            };
            let task = if name.as_str() == "coordinator" {
                tokio::task::spawn_local(run(Coordinator::new(name.clone()), config))
            } else {
                let master = Master::new(MasterConfig {
                    name: name.clone(),
                    coordinator: ProcessId::from("coordinator"),
                    timing: timing.clone(),
                    removed_agent_policy: Default::default(),
                    bug: None,
                });
                tokio::task::spawn_local(run(master, config))
            };
            tasks.insert(name.clone(), task);
        }
        let mut records: Vec<TraceRecord> = Vec::new();
        // Wait (in real time, bounded) for the first election.
        let first = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                records.push(records_rx.recv().await.unwrap());
                if let Some(e) = elections(&records).first() {
                    return e.clone();
                }
            }
        })
        .await
        .expect("a leader within 10 s");
        let (_, leader, _) = first.clone();
        // Kill the leader: its task is dropped mid-flight, its sockets close,
        // and it never heartbeats its session again.
        let killed_at = monotonic_ms() - epoch_ms;
        tasks.remove(&ProcessId::from(leader.as_str())).unwrap().abort();
        let second = tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                records.push(records_rx.recv().await.unwrap());
                if let Some(e) = elections(&records).get(1) {
                    return e.clone();
                }
            }
        })
        .await
        .expect("a second leader within 15 s");
        for task in tasks.values() {
            task.abort();
        }
        let _ = std::fs::remove_dir_all(&dir);

        let (elected_at, new_leader, epoch) = second;
        assert_ne!(new_leader, leader, "a standby took over");
        assert!(epoch > first.2, "with a later epoch");
        // Not before the dead leader's session could expire; and a standby
        // does not hang about once it has.
        let waited = elected_at - killed_at;
        assert!(
            (SESSION_TIMEOUT_MS..SESSION_TIMEOUT_MS + 3_000).contains(&waited),
            "elected {waited} ms after the crash, session timeout {SESSION_TIMEOUT_MS} ms"
        );
        // The records form a trace like the simulation's: sends, deliveries,
        // events, each stamped on one monotonic timeline.
        assert!(records.iter().any(|r| matches!(r.kind, TraceKind::Send { .. })));
        assert!(records.iter().any(|r| matches!(r.kind, TraceKind::Deliver { .. })));
        assert!(records
            .iter()
            .any(|r| matches!(&r.kind, TraceKind::Event { event: Event::SessionExpired { owner, .. } } if owner.as_str() == leader)));
    });
}
