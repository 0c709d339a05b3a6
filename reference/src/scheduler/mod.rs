//! # A framework's scheduler, highly available
//!
//! A framework is a scheduler plus its tasks. This one keeps a *desired
//! number of tasks* running (as Marathon does) and runs as **two or more
//! instances**, one active. Mesos gives only the master's half of scheduler
//! failover: a framework ID that outlives its scheduler, and a `failover`
//! re-registration that replaces it (`Master::reregisterFramework` →
//! `Master::_subscribe` → `Master::failoverFramework`, src/master/master.cpp).
//! Electing the active instance and sharing state are the framework's job
//! (docs/high-availability-framework-guide.md): Marathon and Aurora use a
//! ZooKeeper leader election, not part of Mesos; so does this module, through
//! the coordinator. This file holds the types and routes inputs to the others:
//!
//! | file | what | Mesos counterpart |
//! |---|---|---|
//! | `election.rs` | the instances' election: active, standby, stopped | none (the framework's own) |
//! | `state_store.rs` | the framework's state, one compare-and-set at a time | none (the HA guide's write-ahead intent) |
//! | `master_link.rs` | find the leader, (re-)register, reconcile | `SchedulerProcess::detected`, `doReliableRegistration`, `registered`, `reregistered`, `reconcileTasks` (src/sched/sched.cpp) |
//! | `tasks.rs` | offers, status updates, kills | `SchedulerProcess::resourceOffers`, `statusUpdate`, `killTask` |
//! | `adversary/` | test mode: calls the master must refuse | `validation::*` (src/master/validation.cpp) |

// The adversarial mode lives in its own file; as a child module it reads the
// scheduler's state directly.
mod adversary;
pub use adversary::{Adversary, AdversaryAction, AdversaryConfig};

use crate::coordinator_client::{ClientEvent, ClientTimer, CoordinatorClient, Routed};
use crate::detector::{self, LeaderInfo, MasterDetector, MASTERS_PATH};
use crate::events::Event;
use crate::framework::FrameworkInfo;
use crate::ids::{AgentId, FrameworkId, ProcessId, TaskId};
use crate::io::{Command, Context, Input, Outputs, Role};
use crate::messages::{
    ChildNode, CoordError, CoordOp, CoordReply, ExpectedVersion, Message, Offer, Operation,
    ReconcileTask,
};
use crate::resources::{Resources, Volume, UNRESERVED};
use crate::task::{StatusUpdate, TaskInfo, Workload};
use crate::task_state::TaskState;
use crate::timing::Timing;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod election;
mod master_link;
mod state_store;
mod tasks;

mod config;
pub use config::*;

/// This instance's place in the framework's own election.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstanceState {
    /// From start until the first candidacy node exists.
    Joining,
    /// A candidate but not the lowest: waits, watching the candidacies.
    Standby,
    /// Holds the lowest candidacy: the only instance that talks to the master.
    Active,
    /// The master refused or replaced this instance; it does nothing more.
    Stopped {
        /// The error, traced (`Event::SchedulerError`).
        error: String,
    },
}

/// The link to the leader (the driver's `master`, `connected`): the type and
/// its asserting transitions are shared with the agent (`crate::link`); what
/// the scheduler sends on it is `master_link.rs`.
pub use crate::link::MasterLink as SchedulerLink;

/// What the framework knows of one of its tasks (stored in the coordinator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownTask {
    /// The last state heard; a definite terminal one is final (`on_update`).
    pub state: TaskState,
    /// Its agent: the offer's at launch, then the updates'.
    pub agent_id: Option<AgentId>,
    /// A kill was sent: not counted as running; a terminal update clears it.
    /// A kill has been sent for this task.
    pub killing: bool,
    /// A stateful framework's slot this task fills.
    #[serde(default)]
    pub slot: Option<u32>,
}

/// Where a stateful slot's data lives: its volume, and the agent holding it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotVolume {
    /// The reserved disk holding the slot's data.
    pub volume: Volume,
    /// The agent it was created on (its host under a new ID: disk wiped).
    pub agent_id: AgentId,
    /// That agent's host, which outlives its agent ID.
    pub host: ProcessId,
}

/// The framework's shared state: one document in the coordinator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkState {
    /// Assigned by the master at the first registration (written then); every
    /// later registration, by any instance, re-registers under it.
    pub framework_id: Option<FrameworkId>,
    /// Launches so far; the next task is `<framework>-<launched + 1>`. Kept here
    /// so that a new active instance never reuses a task ID.
    pub launched: u64,
    /// Every task launched (intent first: `Scheduler::accept`) and its last known
    /// state; reconciled after each registration.
    pub tasks: BTreeMap<TaskId, KnownTask>,
    /// A stateful framework's volumes by slot, once created (where its data
    /// lives).
    #[serde(default)]
    pub volumes: BTreeMap<u32, SlotVolume>,
}

/// A state write in flight, with the messages that wait for it to be durable.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StateWrite {
    /// The JSON sent; a re-read that finds it means the write landed.
    data: String,
    /// Acknowledgements and launches to send once the write lands.
    after: Vec<Message>,
    /// The task IDs this write makes durable (launched since the last write).
    launches: BTreeSet<TaskId>,
}

/// One scheduler instance (a sans-I/O role). Only `state` is durable, in the
/// coordinator; a new active instance rebuilds the rest by (re-)registering.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct Scheduler {
    /// Fixed at start.
    config: SchedulerConfig,
    /// Our coordinator session (`coordinator_client.rs`).
    coordinator: CoordinatorClient<SchedulerRequest>,
    /// Who leads among the masters (`detector.rs`; Mesos's `MasterDetector`).
    detector: MasterDetector,
    /// Our candidacy node's sequence number (`None` while joining).
    candidacy: Option<u64>,
    /// Our place in the election (`election.rs`).
    instance: InstanceState,
    /// The master link; `Idle` unless active with the state loaded.
    link: SchedulerLink,
    /// The framework's state as this instance knows it (meaningful once loaded).
    state: FrameworkState,
    /// Version of the state node (`None`: it does not exist yet).
    state_version: Option<u64>,
    /// `state` was read in this term; until then nothing goes to the master.
    state_loaded: bool,
    /// The state changed since the last write.
    dirty: bool,
    /// The one compare-and-set in flight: writes go one at a time, in order.
    write_in_flight: Option<StateWrite>,
    /// The in-flight write's answer was lost with the connection: it may have
    /// landed. Re-read before writing again (`on_state_refreshed`).
    write_outcome_unknown: bool,
    /// Messages waiting for the next write to land.
    after_next_write: Vec<Message>,
    /// Task IDs launched in memory whose intent no landed write covers yet.
    /// They must not leave this process — not in an accept, not in a
    /// reconciliation request — until it does: if this instance dies first, a
    /// successor reads the old `launched` counter and hands the same IDs out
    /// again, and a master's definite answer about the first use (TASK_GONE:
    /// "unknown") would then contradict the second.
    unpersisted: BTreeSet<TaskId>,
    /// Tasks whose reconciliation answer has not arrived; offers are declined
    /// until this is empty.
    reconciling: BTreeSet<TaskId>,
    /// The wait before asking again about unanswered tasks (the master is silent
    /// about a task on an agent not yet re-registered, `Master::reconcile` case
    /// 2). Doubled per retry by `send_reconcile`; reset by `reconcile_all`.
    #[serde(default)]
    reconcile_backoff_ms: u64,
    /// The next registration is a failover: set on becoming active, cleared once
    /// registered (like the driver's `failover` flag in `SchedulerProcess`).
    failover: bool,
    /// Operations a scenario asked this scheduler to send, each on the next offer.
    scripted: VecDeque<Vec<Operation>>,
    /// The adversarial mode's memory, if it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adversary: Option<Adversary>,
}

type Out = Outputs<SchedulerTimer>;

impl Scheduler {
    /// An instance that joins the election on `Input::Start`.
    pub fn new(config: SchedulerConfig) -> Self {
        assert!(
            !config.task_resources.is_empty(),
            "tasks must use some resources"
        );
        let coordinator = CoordinatorClient::new(
            config.coordinator.clone(),
            config.timing.zk_session_timeout_ms,
        )
        // A framework instance keeps acting until the coordinator or the
        // master tells it otherwise; the master's failover handling (and the
        // state's compare-and-set) is what protects against a stale one.
        .without_local_expiry();
        Scheduler {
            coordinator,
            detector: MasterDetector::default(),
            candidacy: None,
            instance: InstanceState::Joining,
            link: SchedulerLink::Idle,
            state: FrameworkState::default(),
            state_version: None,
            state_loaded: false,
            dirty: false,
            write_in_flight: None,
            write_outcome_unknown: false,
            after_next_write: Vec::new(),
            unpersisted: BTreeSet::new(),
            reconciling: BTreeSet::new(),
            reconcile_backoff_ms: 0,
            failover: false,
            scripted: VecDeque::new(),
            adversary: config.adversary.clone().map(Adversary::new),
            config,
        }
    }

    /// The framework ID, once registered or read from the state.
    pub fn framework_id(&self) -> Option<&FrameworkId> {
        self.state.framework_id.as_ref()
    }

    /// The framework's name: its coordinator paths and task IDs derive from it.
    pub fn framework_name(&self) -> &str {
        &self.config.framework.name
    }

    /// Where this instance stands in the election.
    pub fn instance(&self) -> &InstanceState {
        &self.instance
    }

    /// Whether this instance believes it is the active one.
    pub fn is_active(&self) -> bool {
        self.instance == InstanceState::Active
    }

    /// The link to the master.
    pub fn link(&self) -> &SchedulerLink {
        &self.link
    }

    /// The tasks this instance knows of (none unless active).
    pub fn tasks(&self) -> &BTreeMap<TaskId, KnownTask> {
        &self.state.tasks
    }

    /// How many tasks it keeps running.
    pub fn desired_tasks(&self) -> u64 {
        self.config.desired_tasks
    }

    /// Whether reconciliation after the last registration is complete.
    pub fn is_reconciled(&self) -> bool {
        self.reconciling.is_empty()
    }

    /// The leader this scheduler is registered with, if any.
    pub fn registered_with(&self) -> Option<(&ProcessId, u64)> {
        match &self.link {
            SchedulerLink::Registered { master, epoch } => Some((master, *epoch)),
            _ => None,
        }
    }

    /// Tasks that count toward the desired number: launched (or about to be)
    /// and not ended. An unreachable task is not counted: it is replaced, and
    /// killed if it comes back as surplus.
    pub fn running_count(&self) -> u64 {
        self.state
            .tasks
            .values()
            .filter(|t| counts_as_running(t))
            .count() as u64
    }

    /// The master of the link, in any state but `Idle`.
    fn master(&self) -> Option<&ProcessId> {
        match &self.link {
            SchedulerLink::Connecting { master, .. }
            | SchedulerLink::Registering { master, .. }
            | SchedulerLink::Registered { master, .. } => Some(master),
            SchedulerLink::Idle => None,
        }
    }

    fn name(&self) -> &str {
        &self.config.framework.name
    }

    /// A coordinator request; `false`: no session (redo on `SessionReady`).
    fn request(
        &mut self,
        ctx: &Context,
        op: CoordOp,
        tag: SchedulerRequest,
        out: &mut Out,
    ) -> bool {
        out.nested(SchedulerTimer::Coordinator, |sub| {
            self.coordinator.request(ctx, op, tag, sub)
        })
    }

    // ----- dispatch -----

    /// Offers and updates count only from our master, as in Mesos's driver
    /// (`SchedulerProcess::statusUpdate`). That aborts on any error
    /// (`SchedulerProcess::error`); we only on our master's: a deposed leader
    /// cannot stop us.
    fn on_message(&mut self, ctx: &Context, from: ProcessId, message: Message, out: &mut Out) {
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        match message {
            Message::FrameworkRegistered {
                epoch,
                framework_id,
            } => self.on_registered(ctx, from, epoch, framework_id, false, out),
            Message::FrameworkReregistered {
                epoch,
                framework_id,
            } => self.on_registered(ctx, from, epoch, framework_id, true, out),
            Message::FrameworkError { message, .. } => {
                if self.master() == Some(&from) {
                    // "framework failed over", "framework removed", ...: the
                    // scheduler driver aborts.
                    self.stop(ctx, message, out);
                }
            }
            Message::ResourceOffers { offers, .. } => {
                if self.is_from_leader(&from, "ResourceOffers", out) {
                    self.on_offers(ctx, offers, out);
                }
            }
            // We never hold offers, unless an adversary does.
            Message::RescindOffer { offer_id, .. } => {
                if self.adversary.is_some() && self.is_from_leader(&from, "RescindOffer", out) {
                    self.adversary_on_rescind(ctx, &offer_id, out);
                }
            }
            Message::OperationError {
                operation, message, ..
            } => {
                if self.is_from_leader(&from, "OperationError", out) {
                    self.adversary_on_operation_error(operation.name(), &message, out);
                    out.event(Event::OperationErrorReceived {
                        operation: operation.name().to_string(),
                        message,
                    });
                }
            }
            Message::StatusUpdate { update } => {
                if self.is_from_leader(&from, "StatusUpdate", out) {
                    self.on_update(ctx, update, out);
                }
            }
            other => out.event(Event::MessageIgnored {
                from,
                kind: other.kind().to_string(),
                why: "not a message a scheduler handles".into(),
            }),
        }
    }
}

/// The volume of `slot` (of `slots`): the one volume keeps its plain ID.
fn slot_volume_id(volume_id: &str, slot: u32, slots: u32) -> String {
    if slots <= 1 {
        volume_id.to_string()
    } else {
        format!("{volume_id}-{}", slot + 1)
    }
}

/// See `Scheduler::running_count`.
fn counts_as_running(task: &KnownTask) -> bool {
    matches!(
        task.state,
        TaskState::Staging | TaskState::Starting | TaskState::Running
    ) && !task.killing
}

/// Reads the state document (unwatched: only the active instance uses it).
fn read_state(framework: &str) -> CoordOp {
    CoordOp::GetData {
        path: state_path(framework),
        watch: false,
    }
}

impl Role for Scheduler {
    type Timer = SchedulerTimer;

    fn process_id(&self) -> &ProcessId {
        &self.config.name
    }

    /// The coordinator client picks its inputs first; the rest goes by kind.
    fn handle(&mut self, ctx: &Context, input: Input<SchedulerTimer>, out: &mut Out) {
        let routed = out.nested(SchedulerTimer::Coordinator, |sub| {
            self.coordinator.route(ctx, input, sub)
        });
        let input = match routed {
            Routed::Handled(events) => {
                self.on_client_events(ctx, events, out);
                return;
            }
            Routed::NotMine(input) => input,
        };
        match input {
            Input::Start => {
                out.nested(SchedulerTimer::Coordinator, |sub| {
                    self.coordinator.start(sub)
                });
            }
            Input::Message { from, message } => self.on_message(ctx, from, message, out),
            Input::Timer(SchedulerTimer::Coordinator(t)) => {
                let events = out.nested(SchedulerTimer::Coordinator, |sub| {
                    self.coordinator.on_timer(ctx, t, sub)
                });
                self.on_client_events(ctx, events, out);
            }
            Input::Timer(SchedulerTimer::RegisterRetry) => self.tick_register_retry(ctx, out),
            Input::Timer(SchedulerTimer::ReconcileRetry) => self.send_reconcile(ctx, out),
            Input::Timer(SchedulerTimer::Adversary) => self.tick_adversary(ctx, out),
            Input::Connected { peer } if Some(&peer) == self.master() => {
                self.on_master_connected(ctx, out)
            }
            Input::ConnectFailed { peer } | Input::Disconnected { peer }
                if Some(&peer) == self.master() =>
            {
                self.on_master_link_lost(ctx, out)
            }
            Input::Command(command) => self.on_command(ctx, command, out),
            Input::Connected { .. }
            | Input::ConnectFailed { .. }
            | Input::Disconnected { .. }
            | Input::FileRead { .. }
            | Input::FileSynced { .. } => {}
        }
    }
}
