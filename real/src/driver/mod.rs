//! # The real driver: one sans-I/O role on real sockets, timers and files
//!
//! The simulation's driver (`harness/src/driver/`) runs a role as a turmoil
//! host; this one runs the *same* role, unchanged, on tokio's real runtime:
//! a real TCP listener on the loopback interface, real connections framed as
//! the simulation frames them (`mesochaos_harness::frame`: a length prefix,
//! postcard, and a `Hello` naming the dialer), real timers on
//! `CLOCK_MONOTONIC`, and real files under the process's machine directory,
//! made durable with `fsync` and a directory sync.
//!
//! It keeps the simulation driver's rules, because they are libprocess's:
//! - one connection per pair of processes, whichever side dialed; a new one
//!   from the same peer replaces the old (`replaced by a new connection`);
//! - a message to a peer with no connection is dropped and traced (`not
//!   connected`), never queued: roles retry on their own timers, as Mesos's
//!   do;
//! - inputs are handled one at a time and outputs performed in order, each
//!   awaited: a write is durable before the send that follows it.
//!
//! Time: `Context::now_ms` is milliseconds of `CLOCK_MONOTONIC` since the
//! run's epoch, which the harness reads once and hands every process, so all
//! processes (and the harness's own records) share one timeline. Everything
//! the process does is handed to a [`Sink`] as a trace record stamped with
//! that time; the process binary forwards them to the harness.
//!
//! This file is the loop and what it does with a role's outputs;
//! [`connections`] dials, accepts, reads and writes; [`files`] makes writes
//! durable; [`coordinator`] serves the roles' coordinator requests through
//! ZooKeeper when it is the coordinator.

use crate::zookeeper::adapter::ZkSession;
use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_reference::io::{Context, Input, Output, Outputs, Role};
use mesochaos_reference::messages::{CoordError, CoordReply};
use mesochaos_reference::{Message, ProcessId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

mod connections;
mod coordinator;
mod files;
mod messages;

pub use messages::MessageFault;

use connections::accept_loop;
use files::{append, sync_dir, write_atomically, Durable};

/// Where the records a process makes go (the process binary sends them to
/// the harness over its control channel; a test collects them).
pub type Sink = mpsc::UnboundedSender<TraceRecord>;

pub use crate::clock::monotonic_ms;

/// How one process runs.
pub struct ProcessConfig {
    /// Its name.
    pub me: ProcessId,
    /// Its incarnation (1 on first start, +1 on each restart).
    pub incarnation: u32,
    /// The listener to accept on (bound by the caller, so its port is known
    /// before the process starts), if the role accepts connections.
    pub listener: Option<std::net::TcpListener>,
    /// Where every other process accepts connections.
    pub peers: BTreeMap<ProcessId, SocketAddr>,
    /// The machine's directory: the role's file paths are relative to it.
    pub dir: PathBuf,
    /// `CLOCK_MONOTONIC` milliseconds at the start of the run.
    pub epoch_ms: u64,
    /// Seeds the random words roles draw (backoff jitter).
    pub seed: u64,
    /// Where records go.
    pub sink: Sink,
    /// The harness's requests (a state snapshot, a scenario's `call`).
    pub control: mpsc::UnboundedReceiver<Control>,
    /// When set, the roles' coordinator is Apache ZooKeeper at this connect
    /// string, served in this process by the adapter
    /// (`zookeeper/adapter.rs`) instead of a coordinator process.
    pub zookeeper: Option<String>,
    /// The machine's durable copy (`files.rs`), kept when set: what a reboot
    /// puts back.
    pub durable: Option<PathBuf>,
}

/// What the harness may ask of a running process.
#[derive(Debug)]
pub enum Control {
    /// The role's whole state, as `--snapshot` writes it; answered between
    /// two inputs, so it is always a state the role was really in.
    Snapshot(tokio::sync::oneshot::Sender<serde_json::Value>),
    /// A command for the role (a scenario's `call`: kill a task, reconcile).
    Command(mesochaos_reference::io::Command),
    /// A torn write is armed on this machine: the power fails during the
    /// next append long enough to tear (see [`Driver::tear`]).
    TearNextAppend,
    /// A message fault on what this process receives (`messages.rs`).
    Message(MessageFault),
}

/// What the network tasks tell the driver loop.
enum NetEvent {
    /// A peer dialed in and said who it is.
    Accepted { peer: ProcessId, stream: TcpStream },
    /// A dial this process made finished.
    Dialed {
        dial: u64,
        peer: ProcessId,
        result: Result<TcpStream, String>,
    },
    /// A message arrived on connection `conn`.
    Frame {
        conn: u64,
        seq: u64,
        message: Message,
    },
    /// Connection `conn` ended (EOF, reset, a malformed frame).
    Closed { conn: u64, why: String },
    /// With ZooKeeper: a session was opened for a `CreateSession` request.
    ZkCreated {
        xid: u64,
        result: Result<(ZkSession, CoordReply), CoordError>,
        notices: Option<crate::zookeeper::adapter::Notices>,
    },
    /// With ZooKeeper: a message "from the coordinator" (a response, a
    /// watch, an expiry), as the stand-in would have sent it.
    Coord(Message),
}

/// One open connection.
struct Conn {
    /// This process's number for it (traced).
    id: u64,
    /// The next sequence number to send on it.
    next_seq: u64,
    /// Frames to write, in order; its writer task owns the socket's write half.
    tx: mpsc::Sender<Vec<u8>>,
    /// The reader and writer tasks, aborted when the connection closes.
    tasks: [tokio::task::JoinHandle<()>; 2],
}

/// Frames a connection may have queued for writing before it is closed as
/// stuck (the peer stopped reading): the simulation driver's bound.
const WRITE_QUEUE: usize = 1_024;

/// Runs `role` until it exits; returns why.
pub async fn run<R: Role + serde::Serialize>(mut role: R, config: ProcessConfig) -> String {
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let accept = config.listener.map(|l| {
        l.set_nonblocking(true)
            .expect("a listener can be made non-blocking");
        let listener = TcpListener::from_std(l).expect("a tokio runtime is running");
        tokio::spawn(accept_loop(listener, ev_tx.clone()))
    });
    let mut driver = Driver {
        me: config.me,
        incarnation: config.incarnation,
        peers: config.peers,
        dir: config.dir,
        epoch_ms: config.epoch_ms,
        rng: config.seed ^ 0x9e37_79b9_7f4a_7c15,
        sink: config.sink,
        timers: BTreeMap::new(),
        deadlines: BTreeSet::new(),
        conns: BTreeMap::new(),
        conn_peers: BTreeMap::new(),
        dials: BTreeMap::new(),
        next_conn: 1,
        next_dial: 1,
        ev_tx,
        inputs: VecDeque::new(),
        exit: None,
        zookeeper: config.zookeeper,
        zk_session: None,
        zk_sent: 0,
        zk_received: 0,
        durable: config.durable.map(|root| Durable { root }),
        faults: messages::MessageFaults::default(),
        tear_next: false,
        frozen: false,
    };
    driver.record(TraceKind::Process {
        what: "started".into(),
        incarnation: driver.incarnation,
        why: None,
    });
    let reason = driver.run(&mut role, ev_rx, config.control).await;
    if let Some(accept) = accept {
        accept.abort();
    }
    for peer in driver.conns.keys().cloned().collect::<Vec<_>>() {
        driver.close(&peer, "the process exited");
    }
    driver.record(TraceKind::Process {
        what: "exited".into(),
        incarnation: driver.incarnation,
        why: Some(reason.clone()),
    });
    reason
}

struct Driver<T> {
    me: ProcessId,
    incarnation: u32,
    peers: BTreeMap<ProcessId, SocketAddr>,
    dir: PathBuf,
    epoch_ms: u64,
    /// A xorshift state for `Context::random` (jitter only: a real run is not
    /// reproducible anyway; its fault schedule is).
    rng: u64,
    sink: Sink,
    /// Each armed timer and its deadline; `deadlines` orders them.
    timers: BTreeMap<T, u64>,
    deadlines: BTreeSet<(u64, T)>,
    conns: BTreeMap<ProcessId, Conn>,
    conn_peers: BTreeMap<u64, ProcessId>,
    /// The dial in flight per peer; a result with another number is stale.
    dials: BTreeMap<ProcessId, u64>,
    next_conn: u64,
    next_dial: u64,
    ev_tx: mpsc::UnboundedSender<NetEvent>,
    /// Inputs the driver made itself (a connection it closed, a file read).
    inputs: VecDeque<Input<T>>,
    exit: Option<String>,
    /// ZooKeeper's connect string, when it is the coordinator.
    zookeeper: Option<String>,
    /// The ZooKeeper session the role's coordinator client opened.
    zk_session: Option<Arc<ZkSession>>,
    /// Requests sent to ZooKeeper, and messages received from it (the
    /// trace's sequence numbers on the link to "the coordinator").
    zk_sent: u64,
    zk_received: u64,
    /// The machine's durable copy, when kept.
    durable: Option<Durable>,
    /// Whether the next append long enough tears (a torn write is armed).
    tear_next: bool,
    /// Drop rules and filters in force here (`messages.rs`).
    faults: messages::MessageFaults,
    /// The power failed mid-write: the process does nothing more, until the
    /// harness, told by the `torn` disk record, kills it with its machine.
    frozen: bool,
}

impl<T: Clone + Ord + std::fmt::Debug + serde::Serialize> Driver<T> {
    fn now(&self) -> u64 {
        monotonic_ms().saturating_sub(self.epoch_ms)
    }

    fn record(&self, kind: TraceKind) {
        self.record_at(&self.me, kind);
    }

    /// A record made on another process's behalf (the coordinator's side of
    /// the ZooKeeper link).
    fn record_at(&self, at: &ProcessId, kind: TraceKind) {
        let _ = self.sink.send(TraceRecord {
            t_ms: self.now(),
            at: at.clone(),
            kind,
        });
    }

    async fn run<R: Role<Timer = T> + serde::Serialize>(
        &mut self,
        role: &mut R,
        mut ev_rx: mpsc::UnboundedReceiver<NetEvent>,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) -> String {
        self.handle(role, Input::Start).await;
        loop {
            if self.frozen {
                // No power: the process neither acts nor exits (an exit would
                // close its sockets, and a powerless machine sends nothing).
                std::future::pending::<()>().await;
            }
            if let Some(reason) = self.exit.take() {
                return reason;
            }
            if let Some(input) = self.inputs.pop_front() {
                self.handle(role, input).await;
                continue;
            }
            // Due timers fire before new network input, in deadline order
            // (after a SIGSTOP, all the overdue ones at once, as the
            // simulation promises roles).
            let now = self.now();
            if let Some((at, timer)) = self.deadlines.first().cloned() {
                if at <= now {
                    self.deadlines.remove(&(at, timer.clone()));
                    self.timers.remove(&timer);
                    self.handle(role, Input::Timer(timer)).await;
                    continue;
                }
            }
            let wait = self.deadlines.first().map(|(at, _)| at.saturating_sub(now));
            tokio::select! {
                biased;
                event = ev_rx.recv() => {
                    let event = event.expect("the driver holds a sender");
                    self.on_net(role, event).await;
                }
                Some(request) = control.recv() => match request {
                    Control::Snapshot(reply) => {
                        let _ = reply.send(serde_json::to_value(&*role).expect("roles serialize"));
                    }
                    Control::Command(command) => self.handle(role, Input::Command(command)).await,
                    Control::TearNextAppend => self.tear_next = true,
                    Control::Message(fault) => self.on_message_fault(role, fault).await,
                },
                _ = tokio::time::sleep(Duration::from_millis(wait.unwrap_or(0))), if wait.is_some() => {}
            }
        }
    }

    async fn handle<R: Role<Timer = T>>(&mut self, role: &mut R, input: Input<T>) {
        // xorshift64*: cheap, and enough for jitter.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let ctx = Context {
            now_ms: self.now(),
            random: self.rng,
        };
        let mut out = Outputs::new();
        role.handle(&ctx, input, &mut out);
        for output in out.into_vec() {
            if self.frozen {
                break; // the power failed mid-way: nothing after it happens
            }
            self.perform(output).await;
        }
    }

    async fn perform(&mut self, output: Output<T>) {
        match output {
            Output::Send { to, message } if self.is_zookeeper(&to) => self.zk_send(message),
            Output::Send { to, message } => self.send(to, message),
            // The adapter is in this process: the link to "the coordinator"
            // is always up (the ZooKeeper client keeps its own connection).
            Output::Connect { to } if self.is_zookeeper(&to) => {
                self.inputs.push_back(Input::Connected { peer: to });
            }
            Output::Disconnect { peer } if self.is_zookeeper(&peer) => {}
            Output::Connect { to } => {
                if self.conns.contains_key(&to) {
                    self.inputs.push_back(Input::Connected { peer: to });
                } else if !self.dials.contains_key(&to) {
                    self.dial(to);
                }
            }
            Output::Disconnect { peer } => {
                self.dials.remove(&peer);
                self.close(&peer, "closed by this process");
            }
            Output::SetTimer { timer, at_ms } => {
                if let Some(old) = self.timers.insert(timer.clone(), at_ms) {
                    self.deadlines.remove(&(old, timer.clone()));
                }
                self.deadlines.insert((at_ms, timer));
            }
            Output::CancelTimer { timer } => {
                if let Some(old) = self.timers.remove(&timer) {
                    self.deadlines.remove(&(old, timer));
                }
            }
            Output::WriteFileAtomic { path, bytes } => {
                let result = write_atomically(&self.dir, &path, &bytes).and_then(|_| {
                    self.durable
                        .as_ref()
                        .map_or(Ok(()), |d| d.replaced(&path, &bytes))
                });
                self.disk_record("replace", &path, bytes.len(), result);
            }
            Output::AppendFile {
                path,
                bytes,
                sync,
                notify,
            } => {
                if self.tear_next && self.tear(&path, &bytes) {
                    return;
                }
                let result =
                    append(&self.dir, &path, &bytes, sync).and_then(|_| match &self.durable {
                        Some(d) if sync => d.synced(&self.dir, &path),
                        _ => Ok(()),
                    });
                let op = if sync { "append+fsync" } else { "append" };
                self.disk_record(op, &path, bytes.len(), result);
                if notify {
                    self.inputs.push_back(Input::FileSynced { path });
                }
            }
            Output::ReadFile { path } => {
                let bytes = std::fs::read(self.dir.join(&path)).ok();
                self.inputs.push_back(Input::FileRead { path, bytes });
            }
            Output::RemoveFile { path } => {
                let full = self.dir.join(&path);
                let result = match std::fs::remove_file(&full) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                    _ => sync_dir(&full),
                }
                .and_then(|_| self.durable.as_ref().map_or(Ok(()), |d| d.removed(&path)));
                self.disk_record("remove", &path, 0, result);
            }
            Output::Event(event) => self.record(TraceKind::Event { event }),
            Output::Exit { reason } => self.exit = Some(reason),
        }
    }

    /// The power fails during this append (a torn write is armed): a prefix
    /// of whole bytes reaches the disk — at least one, never all, as
    /// `harness::disk::torn_prefix` chooses with one-byte blocks — and the
    /// process freezes. The `torn` disk record tells the harness, which
    /// kills the machine's processes and rolls its directory back to the
    /// durable copy (where the prefix survives if it follows durable data).
    /// False, and nothing torn, when the append is too short to tear.
    fn tear(&mut self, path: &str, bytes: &[u8]) -> bool {
        let random = self.rng;
        let Some(prefix) = mesochaos_harness::disk::torn_prefix(bytes.len(), 1, random) else {
            return false;
        };
        self.tear_next = false;
        let offset = std::fs::metadata(self.dir.join(path)).map_or(0, |m| m.len());
        let prefix = &bytes[..prefix];
        let result = append(&self.dir, path, prefix, true).and_then(|_| {
            self.durable
                .as_ref()
                .map_or(Ok(()), |d| d.torn(path, offset, prefix))
        });
        self.disk_record("torn", path, prefix.len(), result);
        self.frozen = true;
        true
    }

    /// A disk operation's record; a failed one is fatal, as an `EIO` on a
    /// checkpoint is to a Mesos agent (it aborts rather than run on a state
    /// it could not save).
    fn disk_record(&mut self, op: &str, path: &str, bytes: usize, result: std::io::Result<()>) {
        if let Err(e) = result {
            self.exit = Some(format!("cannot {op} {path}: {e}"));
            return;
        }
        self.record(TraceKind::Disk {
            machine: self
                .dir
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into()),
            op: op.into(),
            path: path.into(),
            bytes,
        });
    }

    async fn on_net<R: Role<Timer = T>>(&mut self, role: &mut R, event: NetEvent) {
        match event {
            NetEvent::Accepted { peer, stream } => {
                if self.conns.contains_key(&peer) {
                    self.close(&peer, "replaced by a new connection from the same process");
                }
                let conn = self.open(&peer, stream);
                self.record(TraceKind::Conn {
                    peer,
                    conn,
                    what: "accepted".into(),
                    why: None,
                });
            }
            NetEvent::Dialed { dial, peer, result } => {
                if self.dials.get(&peer) != Some(&dial) {
                    return; // stale: the role gave up on this dial
                }
                self.dials.remove(&peer);
                match result {
                    Ok(stream) => {
                        if self.conns.contains_key(&peer) {
                            self.close(&peer, "replaced by a new connection");
                        }
                        let conn = self.open(&peer, stream);
                        self.record(TraceKind::Conn {
                            peer: peer.clone(),
                            conn,
                            what: "connected".into(),
                            why: None,
                        });
                        self.handle(role, Input::Connected { peer }).await;
                    }
                    Err(why) => {
                        self.record(TraceKind::Conn {
                            peer: peer.clone(),
                            conn: 0,
                            what: "connect_failed".into(),
                            why: Some(why),
                        });
                        self.handle(role, Input::ConnectFailed { peer }).await;
                    }
                }
            }
            NetEvent::Frame { conn, seq, message } => {
                self.deliver(role, conn, seq, message).await;
            }
            NetEvent::ZkCreated {
                xid,
                result,
                notices,
            } => {
                if let Err(why) = &result {
                    // No session could be opened (ZooKeeper unreachable:
                    // down, or cut off by a partition, until the client's
                    // connect gave up). To the role this is its connection
                    // to the coordinator breaking with the request in
                    // flight, as it would be with the stand-in: the client
                    // fails what was pending and reconnects with backoff
                    // (`CoordinatorClient::on_disconnected`). Handed over
                    // as an answer instead, it would leave the client
                    // waiting forever for a session that never comes.
                    let coordinator = ProcessId::from(mesochaos_harness::names::COORDINATOR);
                    self.record(TraceKind::Conn {
                        peer: coordinator.clone(),
                        conn: 0,
                        what: "closed".into(),
                        why: Some(format!("no ZooKeeper session for request {xid}: {why:?}")),
                    });
                    self.handle(role, Input::Disconnected { peer: coordinator })
                        .await;
                    return;
                }
                let result = result.map(|(session, reply)| {
                    self.zk_session = Some(Arc::new(session));
                    reply
                });
                if let Some(mut notices) = notices {
                    let tx = self.ev_tx.clone();
                    tokio::spawn(async move {
                        while let Some(message) = notices.recv().await {
                            if tx.send(NetEvent::Coord(message)).is_err() {
                                break;
                            }
                        }
                    });
                }
                self.zk_deliver(role, Message::CoordResponse { xid, result })
                    .await;
            }
            NetEvent::Coord(message) => self.zk_deliver(role, message).await,
            NetEvent::Closed { conn, why } => {
                let Some(peer) = self.conn_peers.get(&conn).cloned() else {
                    return;
                };
                self.close(&peer, &why);
                self.handle(role, Input::Disconnected { peer }).await;
            }
        }
    }
}
