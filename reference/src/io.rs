//! The sans-I/O boundary: what a role is given and what it asks for.
//!
//! A role is driven by [`Input`]s and answers with [`Output`]s. It never reads a
//! clock, a socket, a file or a random source: the driver passes the simulated time
//! and a random word in a [`Context`] with every input, and performs the outputs *in
//! order*, awaiting each (a synced write takes simulated time), so "write, then
//! send" and "send, then write" are different histories and a power cut can fall
//! between them.
//!
//! ## Why sans-I/O
//!
//! Mesos's roles are libprocess actors: each is a `Process` that reacts to
//! messages (`install<Message>(&handler)`), to `exited(UPID)` when a linked
//! peer's socket breaks, and to its own `delay(...)` timers, one event at a
//! time. This module keeps that shape and removes the I/O: the same one-event-
//! at-a-time handler, but everything it would *do* comes back as data. That is
//! what lets one role run unchanged in a unit test (feed inputs, inspect
//! outputs), in the deterministic turmoil simulation (harness/src/driver.rs
//! performs the outputs), and in a seeded replay of a failing run.
//!
//! ```text
//!   driver                                role
//!     |  handle(ctx{now_ms, random}, input) ->|
//!     |<- outputs: [Send, WriteFileAtomic, SetTimer, Event, ...] (in order)
//!     |  perform each, awaiting it (a write takes simulated time; a crash
//!     |  may fall between two outputs), then feed the next input
//! ```
//!
//! A role never blocks and never waits inside `handle`: "wait for the write,
//! then acknowledge" is two steps, the write now and the acknowledgement on a
//! later input (or, since outputs run in order, the send placed after the
//! write in the same list — the agent checkpoints a status update before it
//! acknowledges it to the executor, as `Slave::statusUpdate` does through the
//! status update manager).

use crate::events::Event;
use crate::ids::{ProcessId, TaskId};
use crate::messages::Message;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the driver hands a role along with every input.
///
/// The only sources of time and chance a role has. Because both come from the
/// driver, a run is a pure function of the seed and the fault schedule.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// Simulated milliseconds since the start of the run.
    pub now_ms: u64,
    /// A random word from this process's own seeded stream (for backoff jitter).
    pub random: u64,
}

/// Something that happened to a role.
///
/// `T` is the role's timer type (`MasterTimer`, `AgentTimer`, ...), so a role
/// only ever receives timers it can name. The variants with named fields on
/// one line carry: `from`/`peer`, the other process; `message`, the message;
/// `path`, the file concerned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input<T> {
    /// The process has just started (fresh, or rebuilt from its disk).
    /// Always the first input; a restarted role was built from its disk
    /// before this (e.g. [`crate::agent::Agent::recover`]), so `Start` is where
    /// it acts on what it recovered: dial the coordinator, resend updates.
    Start,
    /// A message arrived from a peer.
    /// Messages on one connection arrive in order and are lost only with
    /// their connection (libprocess's at-most-once, over TCP); which
    /// connection a message came on is not reported — roles check the sender.
    Message {
        /// The sending process (its name; a restarted process has the same).
        from: ProcessId,
        /// The message itself, already decoded from its frame.
        message: Message,
    },
    /// A timer the role set has expired.
    /// After a pause (SIGSTOP) all overdue timers fire at once, in deadline
    /// order, before any message that queued meanwhile.
    Timer(T),
    /// A connection the role asked for (with [`Output::Connect`]) is up.
    /// Connections are per pair of processes: a role has at most one to each
    /// peer, and connects to a peer it is already connected to are answered
    /// at once.
    Connected {
        /// The process connected to.
        peer: ProcessId,
    },
    /// A connection attempt failed (refused, partitioned, or timed out).
    ConnectFailed {
        /// The process that could not be reached.
        peer: ProcessId,
    },
    /// An established connection broke: closed by the peer, reset, or silent
    /// past the heartbeat timeout. This is libprocess's `exited` event.
    Disconnected {
        /// The process at the other end of the broken connection.
        peer: ProcessId,
    },
    /// An append the role asked to be told about is durable.
    /// Only appends made with [`Outputs::append_file_durably_then_notify`]
    /// produce it (the store nodes of `crate::storage`).
    FileSynced {
        /// The file whose append is now on disk.
        path: String,
    },
    /// The content of a file the role asked to read (`None`: no such file).
    FileRead {
        /// The path read, as given to [`Output::ReadFile`].
        path: String,
        /// Everything the disk holds now: after a power loss, only what was
        /// fsynced, possibly ending in a torn append.
        bytes: Option<Vec<u8>>,
    },
    /// An instruction from the harness standing in for an operator or for the
    /// framework's business logic (a scheduler asked to kill a task).
    Command(Command),
}

/// Harness-issued instructions (scenario steps such as "the scheduler kills a task").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A scheduler kills one of its tasks (`task_id`): Mesos's
    /// `SchedulerDriver::killTask`.
    KillTask {
        /// The task to kill.
        task_id: TaskId,
    },
    /// A scheduler asks for reconciliation (empty list: implicit, all tasks).
    /// Each task's agent is the one the scheduler believes runs it, unless
    /// `agents` names another (a question about a chosen agent ID).
    Reconcile {
        /// The tasks to ask about; empty for implicit reconciliation (Mesos:
        /// `reconcileTasks({})`, which the master answers with every task it
        /// knows of the framework).
        task_ids: Vec<TaskId>,
        /// Agent IDs to name instead of the believed ones, by task: how a
        /// scenario asks about a task on an agent that is unknown or gone.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        agents: BTreeMap<TaskId, crate::ids::AgentId>,
    },
    /// A scheduler tears its framework down and stops (Mesos's
    /// `driver.stop(failover = false)`, which sends `TEARDOWN`).
    Teardown,
    /// A scheduler accepts its next offer with exactly these operations.
    Accept {
        /// The operations, in order (Mesos applies an `ACCEPT`'s operations
        /// in sequence, each on the result of the previous, `Master::_accept`).
        operations: Vec<crate::messages::Operation>,
    },
}

/// Something a role asks its driver to do.
///
/// Performed in the order given, each completed before the next starts. The
/// disk outputs take simulated time (an fsync), so a crash may fall between
/// any two of them; roles order their outputs so that every such cut leaves
/// a state they can recover from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output<T> {
    /// Send a message on the connection with `to` (dropped, and traced as such,
    /// if there is none).
    /// There is no delivery receipt: like a libprocess `send`, it is fire and
    /// forget, and every protocol that needs delivery retries (registration,
    /// status updates) or acknowledges.
    Send {
        /// The receiver.
        to: ProcessId,
        /// The message.
        message: Message,
    },
    /// Dial `to`. The driver answers with `Connected` or `ConnectFailed`.
    Connect {
        /// The peer to dial.
        to: ProcessId,
    },
    /// Close the connection with `peer` (no `Disconnected` input follows).
    /// An agent closes its link to a deposed master this way, so nothing that
    /// master still sends can reach it.
    Disconnect {
        /// The peer whose connection to close.
        peer: ProcessId,
    },
    /// Arm (or re-arm) a timer to fire at simulated time `at_ms`. A role has at
    /// most one pending timer per value of `T`.
    /// Re-arming replaces the old deadline, which is how a heartbeat or an
    /// expiry check is pushed back; a deadline in the past fires at once.
    SetTimer {
        /// Which timer (a value of the role's timer type).
        timer: T,
        /// The absolute simulated time to fire at.
        at_ms: u64,
    },
    /// Disarm a timer; nothing happens if it is not armed. A timer that fired
    /// already was disarmed by firing.
    CancelTimer {
        /// Which timer.
        timer: T,
    },
    /// Replace a file atomically: write a temporary file, fsync it, rename it over
    /// `path`, fsync the directory. After this output completes the new content is
    /// durable; a crash before it completes leaves the old content.
    /// Mesos's `state::checkpoint` (src/slave/state.hpp) does this: write a
    /// temporary file, then `os::rename` it over the target.
    WriteFileAtomic {
        /// The file to replace, relative to the machine's disk.
        path: String,
        /// Its complete new content.
        bytes: Vec<u8>,
    },
    /// Append to a file, fsyncing it if `sync`; with `notify`, the driver
    /// answers `FileSynced` once the bytes are durable (a store node acknowledges
    /// a write only then).
    /// A power loss during the append can leave part of it on disk (a torn
    /// record); readers must frame their records ([`crate::checkpoint`]).
    AppendFile {
        /// The file to append to (created if missing).
        path: String,
        /// The bytes to append.
        bytes: Vec<u8>,
        /// Fsync the file (and its directory) before the next output: durable
        /// on completion. Without it the bytes may vanish in a power loss.
        sync: bool,
        /// Answer with `FileSynced` once durable.
        notify: bool,
    },
    /// Remove a file (and make the removal durable).
    RemoveFile {
        /// The file to remove; removing a missing file is not an error.
        path: String,
    },
    /// Read a file of the machine's disk; the driver answers with `FileRead`.
    /// (Recovery does not use this: a restarting role is handed its files
    /// before it is built. It is for reads while running, such as a database
    /// task reading its volume.)
    ReadFile {
        /// The file to read.
        path: String,
    },
    /// Record an observable event in the trace.
    Event(Event),
    /// The process exits (a Mesos master that lost leadership "commits suicide";
    /// a supervisor restarts it).
    /// The outputs after it in the same list are still performed; the driver
    /// stops the process once the list is done. Mesos's `EXIT(EXIT_FAILURE)`
    /// in `Master::lostCandidacy` or `Master::detected` is this.
    Exit {
        /// Why, for the trace (the exit message Mesos would log).
        reason: String,
    },
}

impl<T> Output<T> {
    /// Re-labels the timer type, for sub-state-machines (the coordinator client)
    /// embedded in a role.
    pub fn map_timer<U>(self, f: impl Fn(T) -> U) -> Output<U> {
        match self {
            Output::Send { to, message } => Output::Send { to, message },
            Output::Connect { to } => Output::Connect { to },
            Output::Disconnect { peer } => Output::Disconnect { peer },
            Output::SetTimer { timer, at_ms } => Output::SetTimer {
                timer: f(timer),
                at_ms,
            },
            Output::CancelTimer { timer } => Output::CancelTimer { timer: f(timer) },
            Output::WriteFileAtomic { path, bytes } => Output::WriteFileAtomic { path, bytes },
            Output::AppendFile {
                path,
                bytes,
                sync,
                notify,
            } => Output::AppendFile {
                path,
                bytes,
                sync,
                notify,
            },
            Output::RemoveFile { path } => Output::RemoveFile { path },
            Output::ReadFile { path } => Output::ReadFile { path },
            Output::Event(event) => Output::Event(event),
            Output::Exit { reason } => Output::Exit { reason },
        }
    }
}

/// The list of outputs a handler fills, with one helper per output kind so that
/// handlers read as a sequence of intentions.
///
/// Each helper appends the matching [`Output`]; see that enum for what the
/// driver does with it.
#[derive(Debug)]
pub struct Outputs<T> {
    /// The outputs so far, in the order the driver will perform them.
    list: Vec<Output<T>>,
}

impl<T> Default for Outputs<T> {
    fn default() -> Self {
        Self { list: Vec::new() }
    }
}

impl<T> Outputs<T> {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends [`Output::Send`].
    pub fn send(&mut self, to: &ProcessId, message: Message) {
        self.list.push(Output::Send {
            to: to.clone(),
            message,
        });
    }
    /// Appends [`Output::Connect`].
    pub fn connect(&mut self, to: &ProcessId) {
        self.list.push(Output::Connect { to: to.clone() });
    }
    /// Appends [`Output::Disconnect`].
    pub fn disconnect(&mut self, peer: &ProcessId) {
        self.list.push(Output::Disconnect { peer: peer.clone() });
    }
    /// Appends [`Output::SetTimer`].
    pub fn set_timer(&mut self, timer: T, at_ms: u64) {
        self.list.push(Output::SetTimer { timer, at_ms });
    }
    /// Appends [`Output::CancelTimer`].
    pub fn cancel_timer(&mut self, timer: T) {
        self.list.push(Output::CancelTimer { timer });
    }
    /// Appends [`Output::WriteFileAtomic`].
    pub fn write_file_atomic(&mut self, path: &str, bytes: Vec<u8>) {
        self.list.push(Output::WriteFileAtomic {
            path: path.to_string(),
            bytes,
        });
    }
    /// Appends [`Output::AppendFile`] without a `FileSynced` answer: the
    /// role relies on output order instead (the agent appends a status
    /// update record with `sync`, then acknowledges in a later output).
    pub fn append_file(&mut self, path: &str, bytes: Vec<u8>, sync: bool) {
        self.list.push(Output::AppendFile {
            path: path.to_string(),
            bytes,
            sync,
            notify: false,
        });
    }
    /// Appends and fsyncs; the role hears `FileSynced` when the bytes are durable.
    pub fn append_file_durably_then_notify(&mut self, path: &str, bytes: Vec<u8>) {
        self.list.push(Output::AppendFile {
            path: path.to_string(),
            bytes,
            sync: true,
            notify: true,
        });
    }
    /// Appends [`Output::ReadFile`].
    pub fn read_file(&mut self, path: &str) {
        self.list.push(Output::ReadFile {
            path: path.to_string(),
        });
    }
    /// Appends [`Output::RemoveFile`].
    pub fn remove_file(&mut self, path: &str) {
        self.list.push(Output::RemoveFile {
            path: path.to_string(),
        });
    }
    /// Appends [`Output::Event`].
    pub fn event(&mut self, event: Event) {
        self.list.push(Output::Event(event));
    }
    /// Appends [`Output::Exit`].
    pub fn exit(&mut self, reason: impl Into<String>) {
        self.list.push(Output::Exit {
            reason: reason.into(),
        });
    }
    /// Appends any output as is.
    pub fn push(&mut self, output: Output<T>) {
        self.list.push(output);
    }
    /// Runs a sub-state-machine (a role's coordinator client) with outputs of
    /// its own, and moves them in here, re-labelling its timers with `wrap`:
    /// `out.nested(MasterTimer::Coordinator, |sub| client.start(sub))`. The
    /// one place where every role wires its coordinator client in; order is
    /// kept, so the client's outputs land where the role called it.
    pub fn nested<U, R>(
        &mut self,
        wrap: impl Fn(U) -> T,
        run: impl FnOnce(&mut Outputs<U>) -> R,
    ) -> R {
        let mut sub = Outputs::new();
        let result = run(&mut sub);
        self.absorb(sub, wrap);
        result
    }
    /// Moves a sub-state-machine's outputs in, re-labelling its timers.
    /// Order is kept: the sub-machine's outputs land where the role called it,
    /// e.g. `out.absorb(sub, MasterTimer::Coordinator)`.
    pub fn absorb<U>(&mut self, other: Outputs<U>, f: impl Fn(U) -> T) {
        self.list
            .extend(other.list.into_iter().map(|o| o.map_timer(&f)));
    }
    /// The outputs, in order, for the driver (or a test) to consume.
    pub fn into_vec(self) -> Vec<Output<T>> {
        self.list
    }
    /// The outputs so far, for inspection.
    pub fn as_slice(&self) -> &[Output<T>] {
        &self.list
    }
    /// Whether the handler asked for nothing at all.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// The interface every role offers its driver.
///
/// Implemented by [`crate::coordinator::Coordinator`] and the master, agent,
/// executor host, scheduler and store roles. A role's whole state is the
/// struct implementing this; the driver keeps it in memory while the process
/// lives and drops it when the process dies (a restart builds a new one from
/// the disk).
pub trait Role {
    /// The role's timer names. `Ord` because the driver keeps pending timers
    /// in a deterministic order; `Serialize` so they can appear in traces.
    type Timer: Clone + Ord + std::fmt::Debug + Serialize;

    /// The process this role runs as.
    fn process_id(&self) -> &ProcessId;

    /// Handles one input, appending the resulting outputs to `out`.
    /// Must not panic on anything a peer or the disk can produce: a malformed
    /// or stale message is ignored (and traced as
    /// [`Event::MessageIgnored`]), never trusted.
    fn handle(&mut self, ctx: &Context, input: Input<Self::Timer>, out: &mut Outputs<Self::Timer>);
}
