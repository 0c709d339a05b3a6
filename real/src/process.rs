//! # One process of a real run: its role, built from its machine's disk
//!
//! `mesochaos` re-executes itself with a hidden subcommand for every process
//! of a real run; this is what that child does. It builds its role exactly as
//! the simulation builds a host's (`mesochaos_harness::spec::process_kind`),
//! an agent and a storage server from what their machine's directory holds
//! (a restarted agent knows only its checkpoints, as in Mesos), then runs it
//! with the real [`driver`](crate::driver).
//!
//! It talks to the harness over one control connection, JSON lines both
//! ways: first a hello (`{"process", "incarnation", "pid"}`), then every
//! trace record it makes, stamped with `CLOCK_MONOTONIC`; the harness asks
//! for state snapshots (`{"snapshot": N}`, answered `{"snapshot": N,
//! "state": {...}}`) and sends commands (`{"command": {...}}`). When the
//! control connection breaks the process exits: it never outlives its
//! harness (and `PR_SET_PDEATHSIG`, set by the supervisor, covers a harness
//! killed outright).

use crate::driver::{run, Control, ProcessConfig};
use mesochaos_harness::names;
use mesochaos_harness::shared::ProcessKind;
use mesochaos_harness::spec::{process_kind, ClusterSpec};
use mesochaos_reference::agent::Agent;
use mesochaos_reference::checkpoint::AGENT_DIR;
use mesochaos_reference::coordinator::Coordinator;
use mesochaos_reference::executor::ExecutorHost;
use mesochaos_reference::master::Master;
use mesochaos_reference::scheduler::Scheduler;
use mesochaos_reference::storage::{store_path, StorageServer};
use mesochaos_reference::ProcessId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Everything a child needs to know, passed as one JSON argument.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChildArgs {
    /// The process's name.
    pub process: ProcessId,
    /// 1 on first start, +1 per restart.
    pub incarnation: u32,
    /// How many times its machine has booted (an agent's boot ID).
    pub boot: u32,
    /// Its machine's directory.
    pub dir: PathBuf,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Where every process listens (through the harness's proxy, when
    /// there is one).
    pub peers: BTreeMap<ProcessId, SocketAddr>,
    /// The run's `CLOCK_MONOTONIC` epoch, in ms.
    pub epoch_ms: u64,
    /// The run's seed.
    pub seed: u64,
    /// The harness's control address.
    pub control: SocketAddr,
    /// ZooKeeper's connect string, when it is the coordinator.
    #[serde(default)]
    pub zookeeper: Option<String>,
}

/// The hello line a child sends first.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    /// Which process.
    pub process: ProcessId,
    /// Which incarnation.
    pub incarnation: u32,
    /// Its OS process ID.
    pub pid: u32,
}

/// A request from the harness.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Send the role's state, tagged with this number.
    Snapshot(u64),
    /// Hand the role this command.
    Command(mesochaos_reference::io::Command),
    /// Tear the next append long enough to tear: a torn write armed on the
    /// machine (`Driver::tear`).
    TearNextAppend,
    /// A message fault on what the process receives.
    Message(crate::driver::MessageFault),
}

/// A line from a child after its hello.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Report {
    /// The answer to a snapshot request.
    Snapshot {
        /// The request's number.
        snapshot: u64,
        /// The role's state.
        state: serde_json::Value,
    },
    /// A trace record.
    Record(Box<mesochaos_harness::trace::TraceRecord>),
}

/// Where the machine whose directory is `dir` keeps its durable copy:
/// `<machine>.durable` beside it (`driver/files.rs`).
pub fn durable_copy(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".durable");
    dir.with_file_name(name)
}

/// Runs the child; returns its exit reason (or why it could not start).
pub async fn child(spec: &ClusterSpec, args: ChildArgs) -> Result<String, String> {
    let control = TcpStream::connect(args.control)
        .await
        .map_err(|e| format!("cannot reach the harness at {}: {e}", args.control))?;
    let (read, mut write) = control.into_split();
    let hello = Hello {
        process: args.process.clone(),
        incarnation: args.incarnation,
        pid: std::process::id(),
    };
    let line = serde_json::to_string(&hello).expect("hellos serialize") + "\n";
    write
        .write_all(line.as_bytes())
        .await
        .map_err(|e| e.to_string())?;

    // Records and snapshot answers go out in one ordered stream.
    let (sink, mut records) = mpsc::unbounded_channel();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let forward_records = out_tx.clone();
    tokio::spawn(async move {
        while let Some(record) = records.recv().await {
            let line = serde_json::to_string(&Report::Record(Box::new(record)))
                .expect("records serialize");
            if forward_records.send(line).is_err() {
                break;
            }
        }
    });
    let writer = tokio::spawn(async move {
        while let Some(line) = out_rx.recv().await {
            if write.write_all(line.as_bytes()).await.is_err()
                || write.write_all(b"\n").await.is_err()
            {
                break;
            }
        }
        let _ = write.flush().await;
    });

    // Requests come in; the control connection's end is the harness's end.
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (gone_tx, gone_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match serde_json::from_str::<Request>(&line) {
                Ok(Request::Snapshot(n)) => {
                    let (tx, rx) = oneshot::channel();
                    if control_tx.send(Control::Snapshot(tx)).is_err() {
                        break;
                    }
                    let out = out_tx.clone();
                    tokio::spawn(async move {
                        if let Ok(state) = rx.await {
                            let report = Report::Snapshot { snapshot: n, state };
                            let _ = out.send(serde_json::to_string(&report).expect("serializes"));
                        }
                    });
                }
                Ok(Request::Command(command)) => {
                    let _ = control_tx.send(Control::Command(command));
                }
                Ok(Request::TearNextAppend) => {
                    let _ = control_tx.send(Control::TearNextAppend);
                }
                Ok(Request::Message(fault)) => {
                    let _ = control_tx.send(Control::Message(fault));
                }
                Err(_) => {} // not for this version of the protocol: ignored
            }
        }
        let _ = gone_tx.send(());
    });

    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let config = ProcessConfig {
        me: args.process.clone(),
        incarnation: args.incarnation,
        listener: Some(listener),
        peers: args.peers.clone(),
        dir: args.dir.clone(),
        epoch_ms: args.epoch_ms,
        seed: args.seed,
        sink,
        control: control_rx,
        zookeeper: args.zookeeper.clone(),
        durable: Some(durable_copy(&args.dir)),
    };
    let kind = process_kind(spec, &args.process, &ProcessId::from(names::COORDINATOR));
    let role = run_role(kind, &args, config);
    let reason = tokio::select! {
        reason = role => reason,
        _ = gone_rx => "the harness went away".to_string(),
    };
    // Let the last records (the exit) reach the harness.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
    Ok(reason)
}

/// Builds the role for `kind` (agents and storage servers from their disk)
/// and runs it.
async fn run_role(kind: ProcessKind, args: &ChildArgs, config: ProcessConfig) -> String {
    let me = args.process.clone();
    match kind {
        ProcessKind::Coordinator => run(Coordinator::new(me), config).await,
        ProcessKind::Master(c) => run(Master::new(c), config).await,
        ProcessKind::Agent(mut c) => {
            let machine = names::machine_of(me.as_str());
            c.boot_id = names::boot_id(&machine, args.boot);
            // A restarted agent knows only what its machine's disk holds.
            let files = files_under(&args.dir, AGENT_DIR);
            run(Agent::recover(c, &files), config).await
        }
        ProcessKind::ExecutorHost(c) => run(ExecutorHost::new(c), config).await,
        ProcessKind::Scheduler(c) => run(Scheduler::new(*c), config).await,
        ProcessKind::Storage(c) => {
            let data = std::fs::read(args.dir.join(store_path(&c.store))).ok();
            run(StorageServer::recover(c, data.as_deref()), config).await
        }
    }
}

/// Every file under `dir/prefix`, by its path relative to `dir` (with `/`),
/// as the simulation's disk lists them.
fn files_under(dir: &Path, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, at: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(at) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let (Ok(rel), Ok(bytes)) = (path.strip_prefix(root), std::fs::read(&path)) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                // A temporary file of an interrupted atomic write is not a file
                // the role wrote: the rename never happened.
                if !rel.ends_with(".mesochaos-tmp") {
                    out.insert(rel, bytes);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &dir.join(prefix), &mut out);
    out
}
