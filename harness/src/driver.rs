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

use crate::cluster::{ProcessStatus, Shared, TICK_MS};
use crate::frame::{self, Frame, FrameError};
use crate::seed;
use crate::trace::TraceKind;
use mesochaos_reference::io::{Command, Context, Input, Output, Outputs, Role};
use mesochaos_reference::{Message, ProcessId};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use turmoil::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use turmoil::net::{TcpListener, TcpStream};

/// Every process listens on this port.
pub const PORT: u16 = 5050;

/// Transport settings (the same for every run; changing them changes traces).
/// The TCP timeouts are the scenario's (`[timing] tcp_user_timeout`,
/// `tcp_connect_timeout`), set on turmoil's builder.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// How long an accepted connection may take to name its dialer (its first
    /// frame) before the acceptor drops it; only a half-open connection whose
    /// dialer died or was cut off right after connecting ever waits this long.
    pub hello_timeout_ms: u64,
    /// Frames queued per connection before it is declared stalled.
    pub send_queue_frames: usize,
    /// Simulated time an fsync takes.
    pub fsync_ms: u64,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            hello_timeout_ms: 127_000,
            send_queue_frames: 1_024,
            fsync_ms: 2,
        }
    }
}

/// Simulated milliseconds since the run started, as the current host sees them.
pub fn now_ms() -> u64 {
    turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64)
}

enum NetEvent {
    Accepted {
        peer: ProcessId,
        stream: TcpStream,
    },
    Dialed {
        dial: u64,
        peer: ProcessId,
        result: Result<TcpStream, String>,
    },
    Frame {
        conn: u64,
        seq: u64,
        message: Message,
    },
    Closed {
        conn: u64,
        why: String,
    },
}

struct Conn {
    id: u64,
    tx: mpsc::Sender<Vec<u8>>,
    next_seq: u64,
    tasks: [JoinHandle<()>; 2],
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
    injections: Vec<crate::filters::Injection>,
}

impl<R: Role + 'static> Driver<R> {
    async fn run(
        &mut self,
        mut ev_rx: mpsc::Receiver<NetEvent>,
        mut control_rx: mpsc::UnboundedReceiver<Command>,
        mut harness_rx: mpsc::UnboundedReceiver<crate::filters::Request>,
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

    async fn send(&mut self, to: ProcessId, message: Message) {
        let Some(conn) = self.conns.get_mut(&to) else {
            self.shared.record(
                &self.me,
                TraceKind::Drop {
                    peer: to,
                    kind: message.kind().into(),
                    why: "not connected".into(),
                },
            );
            return;
        };
        let seq = conn.next_seq;
        conn.next_seq += 1;
        let bytes = frame::encode(&Frame::Message {
            seq,
            message: message.clone(),
        });
        let conn_id = conn.id;
        let queued = conn.tx.try_send(bytes);
        self.shared.record(
            &self.me,
            TraceKind::Send {
                to: to.clone(),
                conn: conn_id,
                seq,
                message,
            },
        );
        if queued.is_err() {
            // The writer is stuck (the peer stopped reading, or segments were
            // lost): this connection is dead.
            self.close(&to, "send queue full").await;
            self.inputs.push_back(Input::Disconnected { peer: to });
        }
    }

    fn dial(&mut self, peer: ProcessId) {
        let dial = self.next_dial;
        self.next_dial += 1;
        self.dials.insert(peer.clone(), dial);
        let hello = frame::encode(&Frame::Hello {
            from: self.me.clone(),
            incarnation: self.incarnation,
        });
        let ev_tx = self.ev_tx.clone();
        tokio::task::spawn_local(async move {
            // No timeout of our own: across a cut or to a powered-off machine
            // the connect fails after TCP's SYN retries (`tcp_connect_timeout`);
            // to a machine that is up with nothing listening it is refused at once.
            let attempt = async {
                let mut stream = TcpStream::connect((peer.as_str(), PORT)).await?;
                stream.write_all(&hello).await?;
                Ok::<_, std::io::Error>(stream)
            };
            let result = attempt.await.map_err(|e| e.to_string());
            let _ = ev_tx.send(NetEvent::Dialed { dial, peer, result }).await;
        });
    }

    fn open(&mut self, peer: &ProcessId, stream: TcpStream) -> u64 {
        let id = self.next_conn;
        self.next_conn += 1;
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::channel(self.shared.net.send_queue_frames);
        let reader = tokio::task::spawn_local(read_loop(rd, id, self.ev_tx.clone()));
        let writer = tokio::task::spawn_local(write_loop(wr, rx, id, self.ev_tx.clone()));
        self.conns.insert(
            peer.clone(),
            Conn {
                id,
                tx,
                next_seq: 1,
                tasks: [reader, writer],
            },
        );
        self.conn_peers.insert(id, peer.clone());
        id
    }

    /// Closes the connection with `peer`, if any. Its tasks are aborted *and
    /// awaited*, so the socket is dropped (sending FIN) before this returns.
    async fn close(&mut self, peer: &ProcessId, why: &str) -> bool {
        let Some(conn) = self.conns.remove(peer) else {
            return false;
        };
        self.conn_peers.remove(&conn.id);
        self.shared.record(
            &self.me,
            TraceKind::Conn {
                peer: peer.clone(),
                conn: conn.id,
                what: "closed".into(),
                why: Some(why.into()),
            },
        );
        for task in conn.tasks {
            task.abort();
            let _ = task.await;
        }
        true
    }

    /// A process that exits on its own closes its sockets the way the kernel
    /// does: what it already wrote is still sent, then FIN.
    async fn close_all(&mut self) {
        for (peer, conn) in std::mem::take(&mut self.conns) {
            self.conn_peers.remove(&conn.id);
            self.shared.record(
                &self.me,
                TraceKind::Conn {
                    peer,
                    conn: conn.id,
                    what: "closed".into(),
                    why: Some("process exited".into()),
                },
            );
            let [reader, mut writer] = conn.tasks;
            reader.abort();
            let _ = reader.await;
            drop(conn.tx); // the writer drains its queue, then stops
            if turmoil::time::timeout(Duration::from_millis(100), &mut writer)
                .await
                .is_err()
            {
                // A stalled connection: its queue can never drain.
                writer.abort();
                let _ = writer.await;
            }
        }
    }

    async fn on_net(&mut self, event: NetEvent) {
        match event {
            NetEvent::Accepted { peer, stream } => {
                if self.conns.contains_key(&peer) {
                    self.close(&peer, "replaced by a new connection from the same process")
                        .await;
                }
                let conn = self.open(&peer, stream);
                self.shared.record(
                    &self.me,
                    TraceKind::Conn {
                        peer,
                        conn,
                        what: "accepted".into(),
                        why: None,
                    },
                );
            }
            NetEvent::Dialed { dial, peer, result } => {
                if self.dials.get(&peer) != Some(&dial) {
                    return; // stale: the role gave up on this dial
                }
                self.dials.remove(&peer);
                match result {
                    Ok(stream) => {
                        if self.conns.contains_key(&peer) {
                            self.close(&peer, "replaced by a new connection").await;
                        }
                        let conn = self.open(&peer, stream);
                        self.shared.record(
                            &self.me,
                            TraceKind::Conn {
                                peer: peer.clone(),
                                conn,
                                what: "connected".into(),
                                why: None,
                            },
                        );
                        self.handle(Input::Connected { peer }).await;
                    }
                    Err(why) => {
                        self.shared.record(
                            &self.me,
                            TraceKind::Conn {
                                peer: peer.clone(),
                                conn: 0,
                                what: "connect_failed".into(),
                                why: Some(why),
                            },
                        );
                        self.handle(Input::ConnectFailed { peer }).await;
                    }
                }
            }
            NetEvent::Frame { conn, seq, message } => {
                let Some(peer) = self.conn_peers.get(&conn).cloned() else {
                    return; // from a connection already closed
                };
                let mut delay = 0;
                // Chaos is a network fault: processes of one machine (an agent
                // and its executor host) talk without the network.
                let local = self
                    .shared
                    .slots
                    .borrow()
                    .get(&peer)
                    .is_some_and(|s| s.machine == self.machine);
                let chaos = self.shared.message_chaos.get().filter(|_| !local);
                let mut reorder = false;
                if let Some(crate::cluster::MessageChaos {
                    drop_per_mille,
                    delay_max_ms,
                    stress,
                }) = chaos
                {
                    // Drawn from the connection and sequence number, never from
                    // a stream: chaos shifts no other draws.
                    let mut h = seed::Fnv64::default();
                    h.write(&self.shared.seed.to_le_bytes());
                    h.write(self.me.as_str().as_bytes());
                    h.write(&self.incarnation.to_le_bytes());
                    h.write(&conn.to_le_bytes());
                    h.write(&seq.to_le_bytes());
                    let draw = h.finish();
                    // The coordinator stands in for ZooKeeper, whose client
                    // protocol is one ordered, reliable session: a request is
                    // never lost alone (only with its connection), so chaos
                    // delays coordinator traffic but never drops it.
                    let coordination = message.kind().starts_with("Coord");
                    if !coordination && draw % 1000 < u64::from(drop_per_mille) {
                        // TCP loses no single message: a message is lost with
                        // its connection (libprocess's at-most-once). So the
                        // connection breaks here, taking what it held back.
                        self.shared.record(
                            &self.me,
                            TraceKind::Drop {
                                peer: peer.clone(),
                                kind: message.kind().into(),
                                why: "fault: message chaos (the connection breaks)".into(),
                            },
                        );
                        self.delayed.retain(|_, (c, _, _)| *c != conn);
                        self.delayed_until.remove(&conn);
                        self.close(&peer, "fault: message chaos").await;
                        self.handle(Input::Disconnected { peer }).await;
                        return;
                    }
                    delay = (draw >> 20) % (delay_max_ms + 1);
                    if stress && !coordination {
                        // The stress option: this message may overtake earlier
                        // ones of its connection, and may arrive twice (the
                        // copy after its own delay). Never coordinator traffic:
                        // ZooKeeper's session is one ordered, reliable stream.
                        reorder = true;
                        if (draw >> 40) % 1000 < u64::from(drop_per_mille) {
                            let again = now_ms() + (draw >> 50) % (delay_max_ms + 1) + 1;
                            self.arrivals += 1;
                            self.delayed
                                .insert((again, self.arrivals), (conn, seq, message.clone()));
                        }
                    }
                }
                // A message behind a held-back one on its connection waits too
                // (unless the stress option reorders within connections).
                let now = now_ms();
                let behind = if reorder {
                    0
                } else {
                    self.delayed_until.get(&conn).copied().unwrap_or(0)
                };
                let due = (now + delay).max(behind);
                if due > now {
                    self.delayed_until.insert(conn, due);
                    self.arrivals += 1;
                    self.delayed
                        .insert((due, self.arrivals), (conn, seq, message));
                    return;
                }
                self.deliver(conn, seq, message).await;
            }
            NetEvent::Closed { conn, why } => {
                let Some(peer) = self.conn_peers.get(&conn).cloned() else {
                    return;
                };
                // What was held back on this connection arrives before the close.
                let held: Vec<(u64, u64)> = self
                    .delayed
                    .iter()
                    .filter(|(_, (c, _, _))| *c == conn)
                    .map(|(k, _)| *k)
                    .collect();
                for key in held {
                    let (conn, seq, message) = self.delayed.remove(&key).expect("listed");
                    self.deliver(conn, seq, message).await;
                }
                self.delayed_until.remove(&conn);
                self.close(&peer, &why).await;
                self.handle(Input::Disconnected { peer }).await;
            }
        }
    }

    /// Hands a received message to the role (unless a drop rule takes it).
    async fn deliver(&mut self, conn: u64, seq: u64, message: Message) {
        self.release_held().await;
        let Some(peer) = self.conn_peers.get(&conn).cloned() else {
            return; // the connection closed meanwhile
        };
        if let Some(why) = self.shared.take_drop_rule(&peer, &self.me, message.kind()) {
            self.shared.record(
                &self.me,
                TraceKind::Drop {
                    peer,
                    kind: message.kind().into(),
                    why,
                },
            );
            return;
        }
        let Some(message) = crate::filters::intercept(
            &self.shared,
            &self.me,
            self.incarnation,
            &peer,
            conn,
            seq,
            message,
        ) else {
            return; // dropped or held by a message filter
        };
        self.shared.record(
            &self.me,
            TraceKind::Deliver {
                from: peer.clone(),
                conn,
                seq,
            },
        );
        self.handle(Input::Message {
            from: peer,
            message,
        })
        .await;
    }
}

/// The harness's requests: message filters and injected messages
/// (`crate::filters`).
impl<R: Role + 'static> Driver<R> {
    async fn on_harness(&mut self, request: crate::filters::Request) {
        match request {
            crate::filters::Request::Release => self.release_held().await,
            crate::filters::Request::Inject { id, to, message } => {
                self.injections.push(crate::filters::Injection {
                    id,
                    to,
                    message: *message,
                    dialed: false,
                });
                self.flush_injections().await;
            }
        }
    }

    /// Hands the messages a released hold filter kept to the role, in the
    /// order they arrived (before anything that arrives later).
    async fn release_held(&mut self) {
        for held in crate::filters::take_released(&self.shared, &self.me, self.incarnation) {
            let open = self.conn_peers.get(&held.conn) == Some(&held.from);
            if crate::filters::record_release(&self.shared, &self.me, &held, open) {
                self.shared.record(
                    &self.me,
                    TraceKind::Deliver {
                        from: held.from.clone(),
                        conn: held.conn,
                        seq: held.seq,
                    },
                );
                self.handle(Input::Message {
                    from: held.from,
                    message: held.message,
                })
                .await;
            }
        }
    }

    /// Writes each injected message whose connection is up; dials one for a
    /// message that has none (as for a connection the role asked for); fails
    /// a message whose dial ended without a connection.
    async fn flush_injections(&mut self) {
        use crate::filters::{injected, InjectStatus};
        for mut injection in std::mem::take(&mut self.injections) {
            let to = injection.to.clone();
            if self.conns.contains_key(&to) {
                self.send(to, injection.message).await;
                injected(&self.shared, injection.id, InjectStatus::Sent);
            } else if self.dials.contains_key(&to) {
                self.injections.push(injection); // a dial is in flight
            } else if !injection.dialed {
                injection.dialed = true;
                self.dial(to);
                self.injections.push(injection);
            } else {
                let why = format!("{} could not connect to {to}", self.me);
                injected(&self.shared, injection.id, InjectStatus::Failed(why));
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, ev_tx: mpsc::Sender<NetEvent>, hello_timeout_ms: u64) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let ev_tx = ev_tx.clone();
        tokio::task::spawn_local(async move {
            let hello = turmoil::time::timeout(
                Duration::from_millis(hello_timeout_ms),
                read_frame(&mut stream),
            )
            .await;
            if let Ok(Ok(Frame::Hello { from, .. })) = hello {
                let _ = ev_tx.send(NetEvent::Accepted { peer: from, stream }).await;
            }
            // Anything else: drop the stream (the dialer sees it close).
        });
    }
}

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("closed by peer")]
    Eof,
    #[error("{0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Frame(#[from] FrameError),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ReadError::Eof
        } else {
            ReadError::Io(e)
        }
    }
}

async fn read_frame<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Result<Frame, ReadError> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await?;
    let len = frame::body_len(prefix)?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    Ok(frame::decode(&body)?)
}

async fn read_loop(mut rd: OwnedReadHalf, conn: u64, ev_tx: mpsc::Sender<NetEvent>) {
    let why = loop {
        match read_frame(&mut rd).await {
            Err(e) => break e.to_string(),
            Ok(Frame::Hello { .. }) => break "unexpected hello frame".to_string(),
            Ok(Frame::Message { seq, message }) => {
                if ev_tx
                    .send(NetEvent::Frame { conn, seq, message })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    };
    let _ = ev_tx.send(NetEvent::Closed { conn, why }).await;
}

async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    conn: u64,
    ev_tx: mpsc::Sender<NetEvent>,
) {
    while let Some(bytes) = rx.recv().await {
        if let Err(e) = wr.write_all(&bytes).await {
            let _ = ev_tx
                .send(NetEvent::Closed {
                    conn,
                    why: format!("write failed: {e}"),
                })
                .await;
            return;
        }
    }
}
