//! The state the harness shares with every process of a run, in one place:
//! the process table (each process's status, role and command channel), the
//! machines' disks and boot counts, the trace, and the rules of the message
//! faults in force (drop rules, message chaos, filters, torn writes).
//!
//! The cluster (`crate::cluster`) writes it between steps; each process's
//! driver (`crate::driver`) reads and writes it inside a step. turmoil runs
//! every host on one thread, so it is one [`Shared`] behind an `Rc`, with a
//! `RefCell` per part.

use crate::disk::{self, Disk};
use crate::trace::{Trace, TraceKind, TraceRecord};
use mesochaos_faults::Route;
use mesochaos_reference::agent::{Agent, AgentConfig};
use mesochaos_reference::coordinator::Coordinator;
use mesochaos_reference::executor::{ExecutorHost, ExecutorHostConfig};
use mesochaos_reference::io::Command;
use mesochaos_reference::master::{Master, MasterConfig};
use mesochaos_reference::scheduler::{Scheduler, SchedulerConfig};
use mesochaos_reference::storage::{StorageConfig, StorageServer};
use mesochaos_reference::{Message, ProcessId};
use serde::Serialize;
use std::cell::{Cell, RefCell, RefMut};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use tokio::sync::mpsc::{self, UnboundedSender};

/// The tick: messages are delivered only at step boundaries. 10 ms suits
/// Mesos's second-scale timers and is far cheaper than 1 ms. Fixed once: changing
/// it changes every trace hash and snapshot.
pub const TICK_MS: u64 = 10;

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

/// State shared between the harness and every process of a run.
pub struct Shared {
    pub seed: u64,
    pub net: NetConfig,
    pub trace: RefCell<Trace>,
    pub disks: RefCell<BTreeMap<String, Disk>>,
    /// Boot count per machine (a reboot makes a new boot ID).
    pub boots: RefCell<BTreeMap<String, u32>>,
    pub slots: RefCell<BTreeMap<ProcessId, Slot>>,
    pub drop_rules: RefCell<Vec<DropRule>>,
    /// Message filters, held messages and injections (`crate::filters`).
    pub filters: RefCell<Filters>,
    /// Processes paused by the harness: their drivers handle nothing.
    pub paused: RefCell<BTreeSet<ProcessId>>,
    /// Message chaos in force: (drop per mille, maximum delay in ms).
    pub message_chaos: Cell<Option<MessageChaos>>,
    /// Machines whose next disk append is torn by a power failure, with how
    /// long the machine then stays down.
    pub torn_writes: RefCell<BTreeMap<String, u64>>,
    /// Power failures that torn writes caused during this step: machine ->
    /// (bytes of the append that survive, how long it stays down).
    pub power_failures: RefCell<BTreeMap<String, (usize, u64)>>,
    /// The disk-fault stream (which prefix of a torn write survives).
    pub disk_rng: RefCell<rand_chacha::ChaCha8Rng>,
    /// The simulated time at which the current step began. Trace records made
    /// during a step carry it, so trace time never goes backwards (turmoil runs
    /// hosts one after another, each through the whole tick).
    pub step_start_ms: Cell<u64>,
}

impl Shared {
    /// Records a trace entry made inside a process during the current step.
    pub fn record(&self, at: &ProcessId, kind: TraceKind) {
        self.record_at(self.step_start_ms.get(), at, kind);
    }

    pub fn record_at(&self, t_ms: u64, at: &ProcessId, kind: TraceKind) {
        self.trace.borrow_mut().record(TraceRecord {
            t_ms,
            at: at.clone(),
            kind,
        });
    }

    pub fn disk_mut(&self, machine: &str) -> RefMut<'_, Disk> {
        RefMut::map(self.disks.borrow_mut(), |disks| {
            disks.entry(machine.to_string()).or_default()
        })
    }

    /// Called by a driver about to append `len` bytes on `machine`: if a torn
    /// write is armed there, the power fails mid-write (the caller freezes) and
    /// a random prefix of whole bytes survives (disk blocks of one byte).
    pub fn take_torn_write(&self, machine: &str, len: usize) -> bool {
        let Some(down_ms) = self.torn_writes.borrow().get(machine).copied() else {
            return false;
        };
        let random = rand::RngCore::next_u64(&mut *self.disk_rng.borrow_mut());
        let Some(prefix) = disk::torn_prefix(len, 1, random) else {
            return false; // too short to tear: wait for the next append
        };
        self.torn_writes.borrow_mut().remove(machine);
        self.power_failures
            .borrow_mut()
            .insert(machine.to_string(), (prefix, down_ms));
        true
    }

    /// Takes the first drop rule matching a message about to be delivered.
    pub fn take_drop_rule(&self, from: &ProcessId, to: &ProcessId, kind: &str) -> Option<String> {
        let mut rules = self.drop_rules.borrow_mut();
        let index = rules
            .iter()
            .position(|r| &r.from == from && &r.to == to && r.kind == kind)?;
        rules.remove(index);
        Some("fault: drop_next".to_string())
    }

    /// The role of `process` if it is running.
    pub fn role_of(&self, process: &ProcessId) -> Option<RoleRef> {
        let slots = self.slots.borrow();
        let slot = slots.get(process)?;
        slot.is_running().then(|| slot.role.clone()).flatten()
    }
}

/// How to build a process's role.
#[derive(Clone, Debug)]
pub enum ProcessKind {
    Coordinator,
    Master(MasterConfig),
    Agent(AgentConfig),
    ExecutorHost(ExecutorHostConfig),
    Scheduler(Box<SchedulerConfig>),
    Storage(StorageConfig),
}

impl ProcessKind {
    pub fn label(&self) -> &'static str {
        match self {
            ProcessKind::Coordinator => "coordinator",
            ProcessKind::Master(_) => "master",
            ProcessKind::Agent(_) => "agent",
            ProcessKind::ExecutorHost(_) => "executor-host",
            ProcessKind::Scheduler(_) => "scheduler",
            ProcessKind::Storage(_) => "storage-server",
        }
    }
}

/// A live handle on a process's role, for the harness to observe between steps.
#[derive(Clone)]
pub enum RoleRef {
    Coordinator(Rc<RefCell<Coordinator>>),
    Master(Rc<RefCell<Master>>),
    Agent(Rc<RefCell<Agent>>),
    ExecutorHost(Rc<RefCell<ExecutorHost>>),
    Scheduler(Rc<RefCell<Scheduler>>),
    Storage(Rc<RefCell<StorageServer>>),
}

impl RoleRef {
    /// The role's whole state as JSON (every role is `Serialize`).
    pub fn snapshot(&self) -> serde_json::Value {
        let value = match self {
            RoleRef::Coordinator(r) => serde_json::to_value(&*r.borrow()),
            RoleRef::Master(r) => serde_json::to_value(&*r.borrow()),
            RoleRef::Agent(r) => serde_json::to_value(&*r.borrow()),
            RoleRef::ExecutorHost(r) => serde_json::to_value(&*r.borrow()),
            RoleRef::Scheduler(r) => serde_json::to_value(&*r.borrow()),
            RoleRef::Storage(r) => serde_json::to_value(&*r.borrow()),
        };
        value.expect("roles serialize")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ProcessStatus {
    /// Started (or restarted) by the harness; its first tick has not run yet.
    Starting,
    Running,
    Exited {
        at_ms: u64,
        reason: String,
    },
    Crashed {
        at_ms: u64,
    },
}

pub struct Slot {
    pub machine: String,
    pub kind: ProcessKind,
    pub status: ProcessStatus,
    /// How many times the process has started.
    pub incarnation: u32,
    pub role: Option<RoleRef>,
    /// Commands from the harness (scheduler calls) reach the driver here.
    pub control: Option<UnboundedSender<Command>>,
    /// Restarted by the supervisor when it exits on its own.
    pub supervised: bool,
}

impl Slot {
    pub fn is_running(&self) -> bool {
        self.status == ProcessStatus::Running
    }
}

/// "Drop the next message of this kind from `from` to `to`".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DropRule {
    pub from: ProcessId,
    pub to: ProcessId,
    pub kind: String,
}

/// Message chaos in force: each delivered message across machines is lost
/// (with its connection) with probability `drop_per_mille`/1000 or held back up
/// to `delay_max_ms`. With `stress` (a labelled stress option), a message is
/// also duplicated with the same probability and may overtake earlier messages
/// of its own connection — what TCP never does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageChaos {
    pub drop_per_mille: u32,
    pub delay_max_ms: u64,
    pub stress: bool,
}

// ----- message filters and injections (`crate::filters`) -----

/// A filter in force.
#[derive(Clone, Debug)]
pub struct FilterRule {
    /// How the step wrote it (what a `release` step matches).
    pub route: Route,
    /// The processes its targets named when the step ran.
    pub from: ProcessId,
    pub to: ProcessId,
    pub hold: bool,
}

/// A message a hold filter kept from its receiver.
#[derive(Clone, Debug)]
pub struct Held {
    /// The route of the filter that held it.
    pub route: Route,
    pub to: ProcessId,
    /// The receiver's incarnation when it arrived.
    pub incarnation: u32,
    pub from: ProcessId,
    /// The receiver's connection it arrived on, and its sequence number.
    pub conn: u64,
    pub seq: u64,
    pub message: Message,
}

/// What the harness asks of a process's driver.
#[derive(Debug)]
pub enum Request {
    /// Hand the released held messages to the role.
    Release,
    /// Write `message` on the connection to `to` (dialing one if need be).
    Inject {
        id: u64,
        to: ProcessId,
        message: Box<Message>,
    },
}

/// How an injected message fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InjectStatus {
    Pending,
    /// Written on the connection.
    Sent,
    /// Could not be written, and why.
    Failed(String),
}

/// An injection a driver has not written yet.
#[derive(Debug)]
pub struct Injection {
    pub id: u64,
    pub to: ProcessId,
    pub message: Message,
    /// Whether the driver dialed `to` for it.
    pub dialed: bool,
}

/// The filters in force, what they hold, and the harness's line to each driver.
#[derive(Default)]
pub struct Filters {
    pub(crate) rules: Vec<FilterRule>,
    pub(crate) held: Vec<Held>,
    /// Released messages each receiver's driver has not handed over yet.
    pub(crate) released: BTreeMap<ProcessId, VecDeque<Held>>,
    /// Per process, the incarnation whose driver listens, and its channel.
    pub(crate) channels: BTreeMap<ProcessId, (u32, mpsc::UnboundedSender<Request>)>,
    pub(crate) injections: BTreeMap<u64, InjectStatus>,
    pub(crate) next_injection: u64,
}
