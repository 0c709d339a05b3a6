//! # A framework's scheduler, highly available
//!
//! A framework is a scheduler plus the tasks it launches. This one keeps a
//! *desired number of tasks* running — the behaviour of a service framework such
//! as Marathon — and runs as **two or more instances** on different machines, of
//! which one is active. Mesos leaves sharing state between a framework's own
//! schedulers to the framework (the seed's "scheduler fault tolerance"); this
//! module does it the way Mesos's HA framework guide asks.
//!
//! ## Electing the active instance
//!
//! Like masters, instances contend through the coordinator: each creates an
//! ephemeral sequential node under `/frameworks/<name>/instances`, and the lowest
//! one is active. The others wait.
//!
//! ```text
//! Joining --candidacy created--> Standby --lowest candidacy is mine--> Active
//!    ^                                                                   |
//!    +------------------ coordinator session lost: step down ------------+
//! any --FrameworkError from the master--> Stopped
//! ```
//!
//! ## The framework's state lives in the coordinator
//!
//! The framework ID, the task counter and every task's last known state are one
//! JSON document at `/frameworks/<name>/state`, written with versioned
//! compare-and-set: an instance that lost its leadership without noticing can
//! never overwrite what the new active instance wrote (its write fails, and it
//! steps down). Two rules from the HA guide keep the state honest:
//! - **record intent before acting**: a launch is written to the state before the
//!   `Accept` goes to the master, so a new instance knows of every task that may
//!   exist;
//! - **persist before acknowledging**: an update is acknowledged only once the
//!   state that reflects it is written, so an update a dying instance never
//!   persisted is redelivered (by the agent) to its successor.
//!
//! ## Talking to the master, once active
//!
//! ```text
//!            leader detected            connected           FrameworkRegistered / FrameworkReregistered
//! Idle ------------------------> Connecting -------> Registering ------------------------------------------> Registered
//!  ^                                  ^                  | retry: backoff 2 s · 2^n, capped 1 min                |
//!  +--------- no leader -------------+----- new leader / connection lost ----------------------------------------+
//! ```
//!
//! A newly active instance that finds a framework ID in the state re-registers
//! under it with `failover = true`: the master switches the framework to this
//! instance and tells the old one "framework failed over". After every
//! (re-)registration the instance **reconciles** all tasks it knows of and acts
//! on offers only once every one has been answered.
//!
//! Keeping the desired count: fewer tasks running than desired (a task ended
//! `TASK_FAILED`, `TASK_KILLED`, `TASK_LOST`, ...) — launch new ones under fresh
//! IDs from new offers; more (a lost task came back `TASK_RUNNING`) — kill the
//! surplus, newest first.

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

/// What the framework's tasks do: the first `initial_count` launches get
/// `initial`, every later one `steady`. (A scenario uses this to make the first
/// few tasks fail and shows that their replacements run.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadPlan {
    pub initial: Workload,
    pub initial_count: u64,
    pub steady: Workload,
}

impl WorkloadPlan {
    pub fn uniform(workload: Workload) -> Self {
        WorkloadPlan {
            initial: workload.clone(),
            initial_count: 0,
            steady: workload,
        }
    }

    /// The workload of the `n`-th launch (1-based).
    pub fn for_launch(&self, n: u64) -> Workload {
        if n <= self.initial_count {
            self.initial.clone()
        } else {
            self.steady.clone()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerConfig {
    /// This instance's process.
    pub name: ProcessId,
    pub coordinator: ProcessId,
    /// The framework's info (without an ID: the master assigns it).
    pub framework: FrameworkInfo,
    pub desired_tasks: u64,
    pub task_resources: Resources,
    pub workload: WorkloadPlan,
    pub timing: Timing,
    #[serde(default)]
    pub mode: SchedulerMode,
    /// A planted defect (the bug zoo), if any.
    #[serde(default)]
    pub bug: Option<crate::bugs::Bug>,
    /// Adversarial mode (reference/src/scheduler/adversary/mod.rs): now and then, a call a
    /// well-behaved framework never makes. Off by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversary: Option<AdversaryConfig>,
}

/// What kind of framework this is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerMode {
    /// A service: keep `desired_tasks` running on whatever resources are offered
    /// (unreserved first, then the framework's own reservations).
    #[default]
    Service,
    /// A stateful service — the seed's database, or a set of its replicas.
    /// Each of the `desired_tasks` tasks has a *slot* with its own persistent
    /// volume. A slot's first launch reserves the task's resources plus
    /// `volume_mb` of disk for the framework's role, creates the slot's volume
    /// on it, and runs the task on that volume, all in one accept. Every later
    /// launch of the slot goes where its volume is (it is offered only to this
    /// role) and uses it again, so the task finds its data. Only if that agent
    /// is gone for good — `TASK_GONE`, or its host comes back under a new agent
    /// ID, which is what a wiped disk looks like — does the slot start afresh.
    ///
    /// With `hosts` given, slot `k` runs only on the agent of host `hosts[k]`
    /// (Mesos frameworks pin tasks with offer `hostname` constraints): the
    /// seed's replicated local volumes, one replica per reserved machine.
    Stateful {
        volume_id: String,
        volume_mb: u64,
        #[serde(default)]
        hosts: Vec<ProcessId>,
    },
    /// A framework the scenario drives: it declines every offer unless told to
    /// accept one with given operations, and neither launches nor kills on its own.
    Scripted,
}

/// Where a framework's instances contend and keep their state.
pub fn instances_path(framework: &str) -> String {
    format!("/frameworks/{framework}/instances")
}

pub fn state_path(framework: &str) -> String {
    format!("/frameworks/{framework}/state")
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SchedulerTimer {
    Coordinator(ClientTimer),
    /// Send the next registration attempt, or dial the master again.
    RegisterRetry,
    /// Ask again about tasks reconciliation has not answered yet.
    ReconcileRetry,
    /// The adversarial mode's next call (only with `adversary` configured).
    Adversary,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerRequest {
    Join,
    ListInstances,
    ListMasters,
    ReadState,
    WriteState,
    /// Re-reading the state after a write's answer was lost with the connection.
    RefreshState,
    /// Deleting our candidacy node after the master stopped us.
    Withdraw,
}

/// This instance's place in the framework's own election.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstanceState {
    Joining,
    Standby,
    Active,
    /// The master refused or replaced this instance; it does nothing more.
    Stopped {
        error: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerLink {
    Idle,
    Connecting {
        master: ProcessId,
        epoch: u64,
    },
    Registering {
        master: ProcessId,
        epoch: u64,
        attempt: u32,
    },
    Registered {
        master: ProcessId,
        epoch: u64,
    },
}

/// What the framework knows of one of its tasks (stored in the coordinator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownTask {
    pub state: TaskState,
    pub agent_id: Option<AgentId>,
    /// A kill has been sent for this task.
    pub killing: bool,
    /// A stateful framework's slot this task fills.
    #[serde(default)]
    pub slot: Option<u32>,
}

/// Where a stateful slot's data lives: its volume, and the agent holding it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotVolume {
    pub volume: Volume,
    pub agent_id: AgentId,
    pub host: ProcessId,
}

/// The framework's shared state: one document in the coordinator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkState {
    pub framework_id: Option<FrameworkId>,
    /// Launches so far; the next task is `<framework>-<launched + 1>`. Kept here
    /// so that a new active instance never reuses a task ID.
    pub launched: u64,
    pub tasks: BTreeMap<TaskId, KnownTask>,
    /// A stateful framework's volumes by slot, once created (where its data
    /// lives).
    #[serde(default)]
    pub volumes: BTreeMap<u32, SlotVolume>,
}

/// A state write in flight, with the messages that wait for it to be durable.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StateWrite {
    data: String,
    /// Acknowledgements and launches to send once the write lands.
    after: Vec<Message>,
    /// The task IDs this write makes durable (launched since the last write).
    launches: BTreeSet<TaskId>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scheduler {
    config: SchedulerConfig,
    coordinator: CoordinatorClient<SchedulerRequest>,
    detector: MasterDetector,
    /// Our candidacy node's sequence number.
    candidacy: Option<u64>,
    instance: InstanceState,
    link: SchedulerLink,
    /// The framework's state as this instance knows it (meaningful once loaded).
    state: FrameworkState,
    /// Version of the state node (`None`: it does not exist yet).
    state_version: Option<u64>,
    state_loaded: bool,
    /// The state changed since the last write.
    dirty: bool,
    write_in_flight: Option<StateWrite>,
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
    /// How long to wait before asking again about unanswered tasks. The
    /// master does not answer a question about a task on an agent that has not
    /// re-registered after a failover (Mesos `Master::reconcile`, case 2), so
    /// a scheduler must retry; Mesos's reconciliation guide says to back off
    /// exponentially. Starts at `status_update_retry`, doubles, capped at
    /// `registration_backoff_max` (the driver's cap on its other retries: a
    /// framework should not wait minutes once the answer is there); reset by
    /// each new reconciliation.
    #[serde(default)]
    reconcile_backoff_ms: u64,
    /// The next registration is a failover (this instance takes the framework
    /// over from another one).
    failover: bool,
    /// Operations a scenario asked this scheduler to send, each on the next offer.
    scripted: VecDeque<Vec<Operation>>,
    /// The adversarial mode's memory, if it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adversary: Option<Adversary>,
}

type Out = Outputs<SchedulerTimer>;

impl Scheduler {
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

    pub fn framework_id(&self) -> Option<&FrameworkId> {
        self.state.framework_id.as_ref()
    }

    pub fn framework_name(&self) -> &str {
        &self.config.framework.name
    }

    pub fn instance(&self) -> &InstanceState {
        &self.instance
    }

    pub fn is_active(&self) -> bool {
        self.instance == InstanceState::Active
    }

    pub fn link(&self) -> &SchedulerLink {
        &self.link
    }

    pub fn tasks(&self) -> &BTreeMap<TaskId, KnownTask> {
        &self.state.tasks
    }

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

    fn request(
        &mut self,
        ctx: &Context,
        op: CoordOp,
        tag: SchedulerRequest,
        out: &mut Out,
    ) -> bool {
        let mut sub = Outputs::new();
        let sent = self.coordinator.request(ctx, op, tag, &mut sub);
        out.absorb(sub, SchedulerTimer::Coordinator);
        sent
    }

    // ----- dispatch -----

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

fn counts_as_running(task: &KnownTask) -> bool {
    matches!(
        task.state,
        TaskState::Staging | TaskState::Starting | TaskState::Running
    ) && !task.killing
}

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

    fn handle(&mut self, ctx: &Context, input: Input<SchedulerTimer>, out: &mut Out) {
        let mut sub = Outputs::new();
        let input = match self.coordinator.route(ctx, input, &mut sub) {
            Routed::Handled(events) => {
                out.absorb(sub, SchedulerTimer::Coordinator);
                self.on_client_events(ctx, events, out);
                return;
            }
            Routed::NotMine(input) => input,
        };
        match input {
            Input::Start => {
                let mut sub = Outputs::new();
                self.coordinator.start(&mut sub);
                out.absorb(sub, SchedulerTimer::Coordinator);
            }
            Input::Message { from, message } => self.on_message(ctx, from, message, out),
            Input::Timer(SchedulerTimer::Coordinator(t)) => {
                let mut sub = Outputs::new();
                let events = self.coordinator.on_timer(ctx, t, &mut sub);
                out.absorb(sub, SchedulerTimer::Coordinator);
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
