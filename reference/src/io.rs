//! The sans-I/O boundary: what a role is given and what it asks for.
//!
//! A role is driven by [`Input`]s and answers with [`Output`]s. It never reads a
//! clock, a socket, a file or a random source: the driver passes the simulated time
//! and a random word in a [`Context`] with every input, and performs the outputs *in
//! order*, awaiting each (a synced write takes simulated time), so "write, then
//! send" and "send, then write" are different histories and a power cut can fall
//! between them.

use crate::events::Event;
use crate::ids::{ProcessId, TaskId};
use crate::messages::Message;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the driver hands a role along with every input.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// Simulated milliseconds since the start of the run.
    pub now_ms: u64,
    /// A random word from this process's own seeded stream (for backoff jitter).
    pub random: u64,
}

/// Something that happened to a role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input<T> {
    /// The process has just started (fresh, or rebuilt from its disk).
    Start,
    /// A message arrived from a peer.
    Message { from: ProcessId, message: Message },
    /// A timer the role set has expired.
    Timer(T),
    /// A connection the role asked for (with [`Output::Connect`]) is up.
    Connected { peer: ProcessId },
    /// A connection attempt failed (refused, partitioned, or timed out).
    ConnectFailed { peer: ProcessId },
    /// An established connection broke: closed by the peer, reset, or silent
    /// past the heartbeat timeout. This is libprocess's `exited` event.
    Disconnected { peer: ProcessId },
    /// An append the role asked to be told about is durable.
    FileSynced { path: String },
    /// The content of a file the role asked to read (`None`: no such file).
    FileRead {
        path: String,
        bytes: Option<Vec<u8>>,
    },
    /// An instruction from the harness standing in for an operator or for the
    /// framework's business logic (a scheduler asked to kill a task).
    Command(Command),
}

/// Harness-issued instructions (scenario steps such as "the scheduler kills a task").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A scheduler kills one of its tasks.
    KillTask { task_id: TaskId },
    /// A scheduler asks for reconciliation (empty list: implicit, all tasks).
    /// Each task's agent is the one the scheduler believes runs it, unless
    /// `agents` names another (a question about a chosen agent ID).
    Reconcile {
        task_ids: Vec<TaskId>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        agents: BTreeMap<TaskId, crate::ids::AgentId>,
    },
    /// A scheduler tears its framework down and stops (Mesos's
    /// `driver.stop(failover = false)`, which sends `TEARDOWN`).
    Teardown,
    /// A scheduler accepts its next offer with exactly these operations.
    Accept {
        operations: Vec<crate::messages::Operation>,
    },
}

/// Something a role asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output<T> {
    /// Send a message on the connection with `to` (dropped, and traced as such,
    /// if there is none).
    Send {
        to: ProcessId,
        message: Message,
    },
    /// Dial `to`. The driver answers with `Connected` or `ConnectFailed`.
    Connect {
        to: ProcessId,
    },
    /// Close the connection with `peer` (no `Disconnected` input follows).
    Disconnect {
        peer: ProcessId,
    },
    /// Arm (or re-arm) a timer to fire at simulated time `at_ms`. A role has at
    /// most one pending timer per value of `T`.
    SetTimer {
        timer: T,
        at_ms: u64,
    },
    CancelTimer {
        timer: T,
    },
    /// Replace a file atomically: write a temporary file, fsync it, rename it over
    /// `path`, fsync the directory. After this output completes the new content is
    /// durable; a crash before it completes leaves the old content.
    WriteFileAtomic {
        path: String,
        bytes: Vec<u8>,
    },
    /// Append to a file, fsyncing it if `sync`; with `notify`, the driver
    /// answers `FileSynced` once the bytes are durable (a store node acknowledges
    /// a write only then).
    AppendFile {
        path: String,
        bytes: Vec<u8>,
        sync: bool,
        notify: bool,
    },
    /// Remove a file (and make the removal durable).
    RemoveFile {
        path: String,
    },
    /// Read a file of the machine's disk; the driver answers with `FileRead`.
    ReadFile {
        path: String,
    },
    /// Record an observable event in the trace.
    Event(Event),
    /// The process exits (a Mesos master that lost leadership "commits suicide";
    /// a supervisor restarts it).
    Exit {
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
#[derive(Debug)]
pub struct Outputs<T> {
    list: Vec<Output<T>>,
}

impl<T> Default for Outputs<T> {
    fn default() -> Self {
        Self { list: Vec::new() }
    }
}

impl<T> Outputs<T> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn send(&mut self, to: &ProcessId, message: Message) {
        self.list.push(Output::Send {
            to: to.clone(),
            message,
        });
    }
    pub fn connect(&mut self, to: &ProcessId) {
        self.list.push(Output::Connect { to: to.clone() });
    }
    pub fn disconnect(&mut self, peer: &ProcessId) {
        self.list.push(Output::Disconnect { peer: peer.clone() });
    }
    pub fn set_timer(&mut self, timer: T, at_ms: u64) {
        self.list.push(Output::SetTimer { timer, at_ms });
    }
    pub fn cancel_timer(&mut self, timer: T) {
        self.list.push(Output::CancelTimer { timer });
    }
    pub fn write_file_atomic(&mut self, path: &str, bytes: Vec<u8>) {
        self.list.push(Output::WriteFileAtomic {
            path: path.to_string(),
            bytes,
        });
    }
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
    pub fn read_file(&mut self, path: &str) {
        self.list.push(Output::ReadFile {
            path: path.to_string(),
        });
    }
    pub fn remove_file(&mut self, path: &str) {
        self.list.push(Output::RemoveFile {
            path: path.to_string(),
        });
    }
    pub fn event(&mut self, event: Event) {
        self.list.push(Output::Event(event));
    }
    pub fn exit(&mut self, reason: impl Into<String>) {
        self.list.push(Output::Exit {
            reason: reason.into(),
        });
    }
    pub fn push(&mut self, output: Output<T>) {
        self.list.push(output);
    }
    /// Moves a sub-state-machine's outputs in, re-labelling its timers.
    pub fn absorb<U>(&mut self, other: Outputs<U>, f: impl Fn(U) -> T) {
        self.list
            .extend(other.list.into_iter().map(|o| o.map_timer(&f)));
    }
    pub fn into_vec(self) -> Vec<Output<T>> {
        self.list
    }
    pub fn as_slice(&self) -> &[Output<T>] {
        &self.list
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// The interface every role offers its driver.
pub trait Role {
    /// The role's timer names.
    type Timer: Clone + Ord + std::fmt::Debug + Serialize;

    /// The process this role runs as.
    fn process_id(&self) -> &ProcessId;

    /// Handles one input, appending the resulting outputs to `out`.
    fn handle(&mut self, ctx: &Context, input: Input<Self::Timer>, out: &mut Outputs<Self::Timer>);
}
