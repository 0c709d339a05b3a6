//! The simulation driver: runs one sans-I/O role as a turmoil host.
//!
//! The driver owns everything the role must not touch: the TCP connections, the
//! timers, the machine's disk, and the trace. It feeds the role one [`Input`] at
//! a time and performs the returned [`Output`]s in order, awaiting each (a synced
//! write takes simulated time).
//!
//! Connections are plain TCP, as libprocess's are: no heartbeats, no read
//! timeouts. The vendored turmoil's faithful TCP (vendor/turmoil/PATCHES.md,
//! patch 5) holds segments across a cut and delivers them on repair, resets a
//! sender whose segments stay unacknowledged past the TCP user timeout, and
//! times a connect out after the SYN retries — so a partition is invisible to a
//! connection until TCP gives up, and failure detection is Mesos's own (pings,
//! the agent's master-ping timeout, coordinator sessions, `exited` on FIN/RST).
//! A write can still block once the peer stops reading, so each connection has
//! its own writer task fed by a bounded queue, and a full queue closes it.
//!
//! Frames are length-prefixed postcard ([`crate::frame`]); the dialer's first
//! frame names it, so the acceptor knows which process a connection belongs to.
//!
//! This file is the driver's loop and what it does with a role's outputs;
//! [`connections`] dials, accepts, writes and closes connections, and
//! [`receive`] takes what arrives (message chaos, drop rules, message filters)
//! and the harness's requests (released messages, injections).

mod connections;
mod receive;

use connections::{accept_loop, Conn, NetEvent};

pub use crate::shared::NetConfig;

use crate::seed;
use crate::shared::{ProcessStatus, Shared, TICK_MS};
use crate::trace::TraceKind;
use mesochaos_reference::io::{Command, Context, Input, Output, Outputs, Role};
use mesochaos_reference::{Message, ProcessId};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;
use tokio::sync::mpsc;
use turmoil::net::TcpListener;

/// Every process listens on this port.
pub const PORT: u16 = 5050;

/// Simulated milliseconds since the run started, as the current host sees them.
pub fn now_ms() -> u64 {
    turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64)
}

/// Runs `role` as process `me` until it exits (or the host is crashed, which
/// drops this future mid-flight, exactly like a killed process).
pub async fn drive<R>(
    shared: Rc<Shared>,
    me: ProcessId,
    role: Rc<RefCell<R>>,
    listen: bool,
) -> turmoil::Result
where
    R: Role + 'static,
{
    let (incarnation, machine) = {
        let slots = shared.slots.borrow();
        let slot = &slots[&me];
        (slot.incarnation, slot.machine.clone())
    };
    let rng = seed::stream(shared.seed, &format!("process/{me}/{incarnation}"));
    let (ev_tx, ev_rx) = mpsc::channel(4_096);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    shared
        .slots
        .borrow_mut()
        .get_mut(&me)
        .expect("slot")
        .control = Some(control_tx);

    let listener = if listen {
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
        Some(tokio::task::spawn_local(accept_loop(
            listener,
            ev_tx.clone(),
            shared.net.hello_timeout_ms,
        )))
    } else {
        None
    };

    // The harness's line to this driver: released held messages, injections.
    let harness_rx = crate::filters::attach(&shared, &me, incarnation);
    let mut driver = Driver {
        shared: shared.clone(),
        me: me.clone(),
        machine,
        incarnation,
        rng,
        role,
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
        delayed: BTreeMap::new(),
        delayed_until: BTreeMap::new(),
        arrivals: 0,
        injections: Vec::new(),
    };
    let reason = driver.run(ev_rx, control_rx, harness_rx).await;

    // A process that exits closes its sockets: peers see FIN at once.
    if let Some(listener) = listener {
        listener.abort();
        let _ = listener.await;
    }
    driver.close_all().await;
    {
        let mut slots = shared.slots.borrow_mut();
        let slot = slots.get_mut(&me).expect("slot");
        slot.status = ProcessStatus::Exited {
            at_ms: now_ms(),
            reason: reason.clone(),
        };
        slot.control = None;
    }
    shared.record(
        &me,
        TraceKind::Process {
            what: "exited".into(),
            incarnation,
            why: Some(reason),
        },
    );
    Ok(())
}

struct Driver<R: Role> {
    shared: Rc<Shared>,
    me: ProcessId,
    machine: String,
    incarnation: u32,
    rng: ChaCha8Rng,
    role: Rc<RefCell<R>>,
    /// Each armed timer and its deadline; `deadlines` orders them.
    timers: BTreeMap<R::Timer, u64>,
    deadlines: BTreeSet<(u64, R::Timer)>,
    conns: BTreeMap<ProcessId, Conn>,
    conn_peers: BTreeMap<u64, ProcessId>,
    /// The dial in flight per peer; a dial result with another number is stale.
    dials: BTreeMap<ProcessId, u64>,
    next_conn: u64,
    next_dial: u64,
    ev_tx: mpsc::Sender<NetEvent>,
    /// Inputs the driver itself generated (e.g. a connection it closed).
    inputs: VecDeque<Input<R::Timer>>,
    exit: Option<String>,
    /// Messages message chaos holds back: (due, arrival order) -> frame.
    delayed: BTreeMap<(u64, u64), (u64, u64, Message)>,
    /// Per connection, when its last delayed message is due (a connection's
    /// messages stay in order).
    delayed_until: BTreeMap<u64, u64>,
    arrivals: u64,
    /// Messages an `inject` step asked this process to write, not written yet.
    injections: Vec<crate::shared::Injection>,
}

impl<R: Role + 'static> Driver<R> {
    async fn run(
        &mut self,
        mut ev_rx: mpsc::Receiver<NetEvent>,
        mut control_rx: mpsc::UnboundedReceiver<Command>,
        mut harness_rx: mpsc::UnboundedReceiver<crate::shared::Request>,
    ) -> String {
        self.handle(Input::Start).await;
        loop {
            if let Some(reason) = self.exit.take() {
                return reason;
            }
            // SIGSTOP: a paused process does nothing; what arrives waits in its
            // queues (turmoil holds its links), and timers fire on resume.
            if self.shared.paused.borrow().contains(&self.me) {
                turmoil::time::sleep(Duration::from_millis(TICK_MS)).await;
                continue;
            }
            if let Some(input) = self.inputs.pop_front() {
                self.handle(input).await;
                continue;
            }
            let now = now_ms();
            // Messages message chaos held back, once due, in arrival order.
            if let Some(((due, order), _)) = self.delayed.first_key_value() {
                if *due <= now {
                    let key = (*due, *order);
                    let (conn, seq, message) = self.delayed.remove(&key).expect("present");
                    self.deliver(conn, seq, message).await;
                    continue;
                }
            }
            // Timers that are due fire before new network input (a fixed order
            // keeps runs deterministic).
            if let Some((at, timer)) = self.deadlines.first().cloned() {
                if at <= now {
                    self.deadlines.remove(&(at, timer.clone()));
                    self.timers.remove(&timer);
                    self.handle(Input::Timer(timer)).await;
                    continue;
                }
            }
            let wait_ms = self
                .deadlines
                .first()
                .map(|(at, _)| *at)
                .into_iter()
                .chain(self.delayed.keys().next().map(|(due, _)| *due))
                .min()
                .map(|at| at.saturating_sub(now));
            tokio::select! {
                biased;
                event = ev_rx.recv() => {
                    let event = event.expect("the driver holds a sender");
                    self.on_net(event).await;
                    if !self.injections.is_empty() {
                        self.flush_injections().await;
                    }
                }
                Some(command) = control_rx.recv() => self.handle(Input::Command(command)).await,
                Some(request) = harness_rx.recv() => self.on_harness(request).await,
                _ = turmoil::time::sleep(Duration::from_millis(wait_ms.unwrap_or(0))), if wait_ms.is_some() => {}
            }
        }
    }

    async fn handle(&mut self, input: Input<R::Timer>) {
        let ctx = Context {
            now_ms: now_ms(),
            random: self.rng.next_u64(),
        };
        let outputs = {
            let mut role = self.role.borrow_mut();
            let mut out = Outputs::new();
            role.handle(&ctx, input, &mut out);
            out.into_vec()
        };
        for output in outputs {
            self.perform(output).await;
        }
    }

    async fn perform(&mut self, output: Output<R::Timer>) {
        match output {
            Output::Send { to, message } => self.send(to, message).await,
            Output::Connect { to } => {
                if self.conns.contains_key(&to) {
                    self.inputs.push_back(Input::Connected { peer: to });
                } else if !self.dials.contains_key(&to) {
                    self.dial(to);
                }
            }
            Output::Disconnect { peer } => {
                self.dials.remove(&peer);
                self.close(&peer, "closed by this process").await;
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
                // temp + fsync + rename + directory fsync: durable on completion;
                // a crash while this sleeps leaves the old file.
                turmoil::time::sleep(Duration::from_millis(self.shared.net.fsync_ms)).await;
                self.shared
                    .disk_mut(&self.machine)
                    .replace_atomically(&path, &bytes);
                self.trace_disk("replace", &path, bytes.len());
            }
            Output::AppendFile {
                path,
                bytes,
                sync,
                notify,
            } => {
                self.shared.disk_mut(&self.machine).append(&path, &bytes);
                if self.shared.take_torn_write(&self.machine, bytes.len()) {
                    // The power fails in the middle of this write: freeze until
                    // the harness powers the machine off (at the step's end).
                    self.trace_disk("append (power failed mid-write)", &path, bytes.len());
                    std::future::pending::<()>().await;
                }
                if sync {
                    // The fsync takes simulated time; a crash meanwhile leaves
                    // the bytes visible but not durable.
                    turmoil::time::sleep(Duration::from_millis(self.shared.net.fsync_ms)).await;
                    let mut disk = self.shared.disk_mut(&self.machine);
                    disk.fsync(&path);
                    disk.sync_dir();
                }
                self.trace_disk(
                    if sync { "append+fsync" } else { "append" },
                    &path,
                    bytes.len(),
                );
                if notify {
                    self.inputs.push_back(Input::FileSynced { path });
                }
            }
            Output::ReadFile { path } => {
                let bytes = self
                    .shared
                    .disk_mut(&self.machine)
                    .read(&path)
                    .map(<[u8]>::to_vec);
                self.inputs.push_back(Input::FileRead { path, bytes });
            }
            Output::RemoveFile { path } => {
                {
                    let mut disk = self.shared.disk_mut(&self.machine);
                    disk.remove(&path);
                    disk.sync_dir();
                }
                self.trace_disk("remove", &path, 0);
            }
            Output::Event(event) => self.shared.record(&self.me, TraceKind::Event { event }),
            Output::Exit { reason } => self.exit = Some(reason),
        }
    }

    fn trace_disk(&self, op: &str, path: &str, bytes: usize) {
        self.shared.record(
            &self.me,
            TraceKind::Disk {
                machine: self.machine.clone(),
                op: op.into(),
                path: path.into(),
                bytes,
            },
        );
    }
}
