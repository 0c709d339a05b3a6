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
#[path = "adversary.rs"]
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
    /// Adversarial mode (reference/src/adversary.rs): now and then, a call a
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

    // ----- the coordinator: master detection and the framework's own election -----

    fn on_client_events(
        &mut self,
        ctx: &Context,
        events: Vec<ClientEvent<SchedulerRequest>>,
        out: &mut Out,
    ) {
        for event in events {
            match event {
                ClientEvent::SessionReady { resumed } => self.on_session_ready(ctx, resumed, out),
                ClientEvent::SessionLost => self.on_session_lost(out),
                ClientEvent::Watch { path, .. } if path == MASTERS_PATH => {
                    self.request(
                        ctx,
                        detector::list_masters(),
                        SchedulerRequest::ListMasters,
                        out,
                    );
                }
                ClientEvent::Watch { path, .. } if path == instances_path(self.name()) => {
                    self.list_instances(ctx, out);
                }
                ClientEvent::Watch { .. } => {}
                ClientEvent::Reply { tag, result } => self.on_reply(ctx, tag, result, out),
            }
        }
    }

    fn list_instances(&mut self, ctx: &Context, out: &mut Out) {
        let op = CoordOp::GetChildren {
            path: instances_path(self.name()),
            watch: true,
        };
        self.request(ctx, op, SchedulerRequest::ListInstances, out);
    }

    fn on_session_ready(&mut self, ctx: &Context, resumed: bool, out: &mut Out) {
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        self.request(
            ctx,
            detector::list_masters(),
            SchedulerRequest::ListMasters,
            out,
        );
        if !resumed || self.candidacy.is_none() {
            self.candidacy = None;
            let op = CoordOp::Create {
                path: format!("{}/instance_", instances_path(self.name())),
                data: self.config.name.to_string(),
                ephemeral: true,
                sequential: true,
            };
            self.request(ctx, op, SchedulerRequest::Join, out);
            return;
        }
        self.list_instances(ctx, out);
        if self.is_active() && !self.state_loaded {
            self.request(
                ctx,
                read_state(self.name()),
                SchedulerRequest::ReadState,
                out,
            );
        }
        if self.write_outcome_unknown {
            self.request(
                ctx,
                read_state(self.name()),
                SchedulerRequest::RefreshState,
                out,
            );
        }
        self.pump_writes(ctx, out);
    }

    /// The session (and with it our candidacy) is gone: if we were active, we
    /// no longer are. Step down and rejoin as a standby.
    fn on_session_lost(&mut self, out: &mut Out) {
        if self.is_active() {
            self.step_down("lost the coordinator session", out);
        }
        self.candidacy = None;
        if let Some(change) = self.detector.observe(None) {
            self.on_leader_change(change, out);
        }
    }

    fn step_down(&mut self, why: &str, out: &mut Out) {
        if !self.is_active() {
            return;
        }
        out.event(Event::SchedulerSteppedDown {
            why: why.to_string(),
        });
        self.instance = InstanceState::Standby;
        self.disconnect_master(out);
        self.forget_term();
    }

    /// Drops everything an active term knew; a new term reads the state again.
    fn forget_term(&mut self) {
        self.state = FrameworkState::default();
        self.state_version = None;
        self.state_loaded = false;
        self.dirty = false;
        self.write_in_flight = None;
        self.write_outcome_unknown = false;
        self.after_next_write.clear();
        self.unpersisted.clear();
        self.reconciling.clear();
        if let Some(adversary) = &mut self.adversary {
            adversary.forget_term();
        }
    }

    fn on_reply(
        &mut self,
        ctx: &Context,
        tag: SchedulerRequest,
        result: Result<CoordReply, CoordError>,
        out: &mut Out,
    ) {
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        match (tag, result) {
            (SchedulerRequest::ListMasters, Ok(CoordReply::Children { children })) => {
                if let Some(change) = self.detector.observe(Some(&children)) {
                    self.on_leader_change(change, out);
                }
            }
            (
                SchedulerRequest::Join,
                Ok(CoordReply::Created {
                    sequence: Some(seq),
                    ..
                }),
            ) => {
                self.candidacy = Some(seq);
                self.instance = InstanceState::Standby;
                self.list_instances(ctx, out);
            }
            (SchedulerRequest::ListInstances, Ok(CoordReply::Children { children })) => {
                self.on_instances(ctx, &children, out)
            }
            (SchedulerRequest::ReadState, Ok(CoordReply::Data { data, version })) => {
                self.on_state_read(ctx, Some((data, version)), out)
            }
            (SchedulerRequest::ReadState, Err(CoordError::NoNode)) => {
                self.on_state_read(ctx, None, out)
            }
            (SchedulerRequest::WriteState, Ok(CoordReply::Written { version })) => {
                self.on_state_written(ctx, version, out)
            }
            (SchedulerRequest::WriteState, Err(CoordError::ConnectionLoss)) => {
                self.write_outcome_unknown = true
            }
            (SchedulerRequest::WriteState, Err(_)) => {
                // BadVersion: another instance wrote the state — it is active, not us.
                self.step_down("the framework state was written by another instance", out);
            }
            (SchedulerRequest::RefreshState, Ok(CoordReply::Data { data, version })) => {
                self.on_state_refreshed(ctx, data, version, out)
            }
            // Anything else is re-requested on the next SessionReady.
            _ => {}
        }
    }

    fn on_instances(&mut self, ctx: &Context, children: &[ChildNode], out: &mut Out) {
        let Some(mine) = self.candidacy else { return };
        let lowest = children.iter().filter_map(|c| c.sequence).min();
        if !children.iter().any(|c| c.sequence == Some(mine)) {
            self.step_down("our candidacy vanished", out);
            return;
        }
        match (lowest == Some(mine), self.is_active()) {
            (true, false) => {
                // Our turn: read the framework's state before doing anything.
                self.instance = InstanceState::Active;
                self.failover = true;
                self.forget_term();
                self.request(
                    ctx,
                    read_state(self.name()),
                    SchedulerRequest::ReadState,
                    out,
                );
            }
            (false, true) => self.step_down("another instance is active", out),
            _ => {}
        }
    }

    fn on_state_read(&mut self, ctx: &Context, found: Option<(String, u64)>, out: &mut Out) {
        if !self.is_active() || self.state_loaded {
            return;
        }
        match found {
            Some((data, version)) => match serde_json::from_str(&data) {
                Ok(state) => {
                    self.state = state;
                    self.state_version = Some(version);
                }
                Err(e) => {
                    self.stop(ctx, format!("the framework state is corrupt: {e}"), out);
                    return;
                }
            },
            None => {
                self.state = FrameworkState::default();
                self.state_version = None;
            }
        }
        self.state_loaded = true;
        out.event(Event::SchedulerActive {
            framework_id: self.state.framework_id.clone(),
            known_tasks: self.state.tasks.len(),
        });
        // Connect to the leader we know of, if any.
        if let Some(leader) = self.detector.leader().cloned() {
            self.on_leader_change(Some(leader), out);
        }
        let _ = ctx;
    }

    // ----- writing the framework's state: one compare-and-set at a time -----

    fn pump_writes(&mut self, ctx: &Context, out: &mut Out) {
        if !self.is_active()
            || !self.state_loaded
            || self.write_in_flight.is_some()
            || self.write_outcome_unknown
        {
            return;
        }
        if !self.dirty && self.after_next_write.is_empty() {
            return;
        }
        if !self.coordinator.is_ready() {
            return;
        }
        let data = serde_json::to_string(&self.state).expect("framework state serializes");
        let expected = match self.state_version {
            Some(v) => ExpectedVersion::Version(v),
            None => ExpectedVersion::Absent,
        };
        let op = CoordOp::SetData {
            path: state_path(self.name()),
            data: data.clone(),
            expected,
        };
        self.request(ctx, op, SchedulerRequest::WriteState, out);
        self.write_in_flight = Some(StateWrite {
            data,
            after: std::mem::take(&mut self.after_next_write),
            launches: std::mem::take(&mut self.unpersisted),
        });
        self.dirty = false;
    }

    fn on_state_written(&mut self, ctx: &Context, version: u64, out: &mut Out) {
        let Some(write) = self.write_in_flight.take() else {
            return;
        };
        self.state_version = Some(version);
        // The intent is durable: now the launches and acknowledgements may go.
        if let Some(master) = self.master().cloned() {
            if self.adversary.is_some() {
                self.adversary_on_sent(&write.after);
            }
            for message in write.after {
                out.send(&master, message);
            }
        }
        self.pump_writes(ctx, out);
    }

    fn on_state_refreshed(&mut self, ctx: &Context, data: String, version: u64, out: &mut Out) {
        self.write_outcome_unknown = false;
        let Some(write) = self.write_in_flight.take() else {
            self.pump_writes(ctx, out);
            return;
        };
        if data == write.data {
            self.write_in_flight = Some(write);
            self.on_state_written(ctx, version, out);
        } else if Some(version) == self.state_version {
            // It did not land: write again (with whatever changed since).
            self.dirty = true;
            let mut after = write.after;
            after.append(&mut self.after_next_write);
            self.after_next_write = after;
            self.unpersisted.extend(write.launches);
            self.pump_writes(ctx, out);
        } else {
            self.step_down("the framework state was written by another instance", out);
        }
    }

    fn changed(&mut self, ctx: &Context, out: &mut Out) {
        self.dirty = true;
        self.pump_writes(ctx, out);
    }

    // ----- the master link -----

    fn disconnect_master(&mut self, out: &mut Out) {
        if let Some(old) = self.master().cloned() {
            out.disconnect(&old);
        }
        out.cancel_timer(SchedulerTimer::RegisterRetry);
        out.cancel_timer(SchedulerTimer::ReconcileRetry);
        self.link = SchedulerLink::Idle;
    }

    fn on_leader_change(&mut self, leader: Option<LeaderInfo>, out: &mut Out) {
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        out.event(Event::LeaderDetected {
            leader: leader.as_ref().map(|l| l.master.clone()),
            epoch: leader.as_ref().map(|l| l.epoch),
        });
        // Only the active instance, once it knows the framework's state, talks
        // to the master.
        if !(self.is_active() && self.state_loaded) {
            return;
        }
        self.disconnect_master(out);
        if let Some(LeaderInfo { master, epoch }) = leader {
            out.connect(&master);
            self.link = SchedulerLink::Connecting { master, epoch };
        }
    }

    fn registration_message(&self) -> Message {
        let planted = self.config.bug == Some(crate::bugs::Bug::StandbyRegistersNew);
        match &self.state.framework_id {
            // The planted defect: a taking-over instance registers afresh.
            Some(_) if planted && self.failover => Message::RegisterFramework {
                info: self.config.framework.clone(),
            },
            None => Message::RegisterFramework {
                info: self.config.framework.clone(),
            },
            Some(fid) => Message::ReregisterFramework {
                info: FrameworkInfo {
                    id: Some(fid.clone()),
                    ..self.config.framework.clone()
                },
                failover: self.failover,
            },
        }
    }

    fn on_master_connected(&mut self, ctx: &Context, out: &mut Out) {
        let SchedulerLink::Connecting { master, epoch } = self.link.clone() else {
            return;
        };
        // The scheduler driver registers at once and retries with backoff.
        out.send(&master, self.registration_message());
        self.link = SchedulerLink::Registering {
            master,
            epoch,
            attempt: 0,
        };
        // Retries wait a random time in [0, factor · 2^n] (Mesos's scheduler
        // driver starts at the factor, 2 s, and doubles).
        let timing = &self.config.timing;
        let delay = timing.backoff_ms(timing.scheduler_registration_backoff_ms, 0, ctx.random);
        out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
    }

    fn on_master_link_lost(&mut self, ctx: &Context, out: &mut Out) {
        let (master, epoch) = match &self.link {
            SchedulerLink::Connecting { master, epoch }
            | SchedulerLink::Registering { master, epoch, .. }
            | SchedulerLink::Registered { master, epoch } => (master.clone(), *epoch),
            SchedulerLink::Idle => return,
        };
        self.link = SchedulerLink::Connecting { master, epoch };
        out.cancel_timer(SchedulerTimer::ReconcileRetry);
        let timing = &self.config.timing;
        let delay = timing.backoff_ms(timing.scheduler_registration_backoff_ms, 0, ctx.random);
        out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
    }

    fn tick_register_retry(&mut self, ctx: &Context, out: &mut Out) {
        match self.link.clone() {
            SchedulerLink::Connecting { master, .. } => out.connect(&master),
            SchedulerLink::Registering {
                master,
                epoch,
                attempt,
            } => {
                out.send(&master, self.registration_message());
                self.link = SchedulerLink::Registering {
                    master,
                    epoch,
                    attempt: attempt + 1,
                };
                let timing = &self.config.timing;
                let delay = timing.backoff_ms(
                    timing.scheduler_registration_backoff_ms,
                    attempt + 1,
                    ctx.random,
                );
                out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
            }
            _ => {}
        }
    }

    fn on_registered(
        &mut self,
        ctx: &Context,
        from: ProcessId,
        epoch: u64,
        fid: FrameworkId,
        reregistered: bool,
        out: &mut Out,
    ) {
        let SchedulerLink::Registering { master, .. } = &self.link else {
            return;
        };
        if *master != from {
            return;
        }
        if self
            .state
            .framework_id
            .as_ref()
            .is_some_and(|mine| *mine != fid)
        {
            return;
        }
        let new_id = self.state.framework_id.is_none();
        self.state.framework_id = Some(fid.clone());
        self.failover = false;
        self.link = SchedulerLink::Registered {
            master: from.clone(),
            epoch,
        };
        out.cancel_timer(SchedulerTimer::RegisterRetry);
        out.event(Event::SchedulerRegistered {
            framework_id: fid,
            master: from,
            epoch,
            reregistered,
        });
        if new_id {
            self.changed(ctx, out);
        }
        self.reconcile_all(ctx, out);
        self.adversary_on_registered(ctx, out);
    }

    /// Asks the master about every task we believe may be running (Mesos
    /// reconciliation, recommended after every (re-)registration). Offers are
    /// declined until every answer is in.
    ///
    /// A task whose launch intent is not durable yet is left out: the master
    /// cannot know it (its accept has not been sent), and asking would make
    /// the ID public before it is ours for good (see `unpersisted`). Mesos's
    /// reconciliation guide likewise assumes the intent was persisted first.
    fn reconcile_all(&mut self, ctx: &Context, out: &mut Out) {
        let in_flight = self.write_in_flight.as_ref().map(|w| &w.launches);
        self.reconciling = self
            .state
            .tasks
            .iter()
            .filter(|(_, t)| !t.state.is_terminal())
            .map(|(id, _)| id)
            .filter(|id| !self.unpersisted.contains(*id))
            .filter(|id| !in_flight.is_some_and(|l| l.contains(*id)))
            .cloned()
            .collect();
        self.reconcile_backoff_ms = self.config.timing.status_update_retry_ms;
        self.send_reconcile(ctx, out);
    }

    fn send_reconcile(&mut self, ctx: &Context, out: &mut Out) {
        if self.reconciling.is_empty() {
            return;
        }
        let (Some(fid), Some((master, _))) =
            (self.state.framework_id.clone(), self.registered_with())
        else {
            return;
        };
        let master = master.clone();
        let tasks = self
            .reconciling
            .iter()
            .map(|task_id| ReconcileTask {
                agent_id: self
                    .state
                    .tasks
                    .get(task_id)
                    .and_then(|t| t.agent_id.clone()),
                task_id: task_id.clone(),
            })
            .collect();
        out.send(
            &master,
            Message::Reconcile {
                framework_id: fid,
                tasks,
            },
        );
        let timing = &self.config.timing;
        let cap = timing
            .registration_backoff_max_ms
            .max(timing.status_update_retry_ms);
        let wait = self
            .reconcile_backoff_ms
            .clamp(timing.status_update_retry_ms, cap);
        self.reconcile_backoff_ms = wait.saturating_mul(2);
        out.set_timer(SchedulerTimer::ReconcileRetry, ctx.now_ms + wait);
    }

    /// Whether `from` is the master we are registered with.
    fn is_from_leader(&self, from: &ProcessId, kind: &str, out: &mut Out) -> bool {
        let ok = matches!(&self.link, SchedulerLink::Registered { master, .. } if master == from);
        if !ok {
            out.event(Event::MessageIgnored {
                from: from.clone(),
                kind: kind.to_string(),
                why: "not from the master this scheduler is registered with".into(),
            });
        }
        ok
    }

    fn stop(&mut self, ctx: &Context, error: String, out: &mut Out) {
        self.halt(ctx, error, true, out);
    }

    /// Stops this instance for good; `disconnect`: close the master link too
    /// (an aborted driver). A torn-down framework's driver keeps its link open
    /// so that the teardown it just queued still reaches the master.
    fn halt(&mut self, ctx: &Context, error: String, disconnect: bool, out: &mut Out) {
        out.event(Event::SchedulerError {
            message: error.clone(),
        });
        if disconnect {
            self.disconnect_master(out);
        }
        self.instance = InstanceState::Stopped { error };
        // An aborted driver's process would exit and its session close; this
        // one stays up to be observed, so it withdraws its candidacy itself —
        // else its node could keep every other instance standing by forever.
        if let Some(seq) = self.candidacy.take() {
            let op = CoordOp::Delete {
                path: format!("{}/instance_{seq:010}", instances_path(self.name())),
            };
            self.request(ctx, op, SchedulerRequest::Withdraw, out);
        }
    }

    // ----- offers, updates, kills -----

    fn on_offers(&mut self, ctx: &Context, offers: Vec<Offer>, out: &mut Out) {
        let (Some(fid), Some((master, _))) =
            (self.state.framework_id.clone(), self.registered_with())
        else {
            return;
        };
        let master = master.clone();
        let mut needed = if self.reconciling.is_empty() {
            self.config
                .desired_tasks
                .saturating_sub(self.running_count())
        } else {
            0 // not until every task we know of is accounted for
        };
        for offer in offers {
            // An adversarial call waiting for an offer takes it.
            let Some(offer) = self.adversary_on_offer(ctx, offer, out) else {
                continue;
            };
            // A scripted accept (a scenario's operations) takes the next offer.
            if let Some(operations) = self.scripted.pop_front() {
                self.accept(&fid, offer, operations, out);
                continue;
            }
            let operations = match self.config.mode.clone() {
                SchedulerMode::Service => self.place_service_tasks(&offer, &mut needed, out),
                SchedulerMode::Stateful {
                    volume_id,
                    volume_mb,
                    hosts,
                } => self.place_stateful_task(&offer, &volume_id, volume_mb, &hosts),
                SchedulerMode::Scripted => vec![],
            };
            if operations.is_empty() {
                out.send(
                    &master,
                    Message::Decline {
                        framework_id: fid.clone(),
                        offer_ids: vec![offer.offer_id],
                        refuse_ms: self.config.timing.offer_refuse_ms,
                    },
                );
                continue;
            }
            self.accept(&fid, offer, operations, out);
        }
        self.changed(ctx, out);
    }

    /// Queues an accept; it goes to the master once the intent (the tasks it
    /// launches, the volume it creates) is durable in the framework's state.
    fn accept(
        &mut self,
        fid: &FrameworkId,
        offer: Offer,
        operations: Vec<Operation>,
        out: &mut Out,
    ) {
        for operation in &operations {
            if let Operation::Launch { tasks } = operation {
                for task in tasks {
                    self.state
                        .tasks
                        .entry(task.task_id.clone())
                        .or_insert(KnownTask {
                            state: TaskState::Staging,
                            agent_id: Some(offer.agent_id.clone()),
                            killing: false,
                            slot: self
                                .state
                                .volumes
                                .iter()
                                .find(|(_, v)| task.volume.as_ref() == Some(&v.volume.id))
                                .map(|(slot, _)| *slot),
                        });
                    self.unpersisted.insert(task.task_id.clone());
                    out.event(Event::SchedulerLaunching {
                        task_id: task.task_id.clone(),
                        agent_id: offer.agent_id.clone(),
                    });
                }
            }
        }
        self.after_next_write.push(Message::Accept {
            framework_id: fid.clone(),
            offer_ids: vec![offer.offer_id],
            operations,
        });
    }

    /// Service tasks: as many as fit and are needed, on unreserved resources
    /// first, then on the framework's own reservations.
    fn place_service_tasks(
        &mut self,
        offer: &Offer,
        needed: &mut u64,
        _out: &mut Out,
    ) -> Vec<Operation> {
        let mut tasks = Vec::new();
        let mut pools: Vec<(&String, Resources)> =
            offer.resources.0.iter().map(|(r, res)| (r, *res)).collect();
        // "*" sorts first: unreserved resources are used before reservations.
        for (role, available) in pools.iter_mut() {
            let count = (*needed).min(available.count_fitting(&self.config.task_resources));
            for _ in 0..count {
                let mut task = self.new_task();
                task.role = role.to_string();
                tasks.push(task);
            }
            *needed -= count;
        }
        if tasks.is_empty() {
            return vec![];
        }
        vec![Operation::Launch { tasks }]
    }

    /// A stateful slot's task: reserve and create its volume the first time;
    /// later, relaunch only where the volume is offered. One task per offer.
    fn place_stateful_task(
        &mut self,
        offer: &Offer,
        volume_id: &str,
        volume_mb: u64,
        hosts: &[ProcessId],
    ) -> Vec<Operation> {
        let role = self.config.framework.role.clone();
        let task_resources = self.config.task_resources;
        let slots = self.config.desired_tasks as u32;
        for slot in 0..slots {
            if let Some(host) = hosts.get(slot as usize) {
                if host != &offer.hostname {
                    continue; // pinned elsewhere
                }
            }
            if self.slot_running(slot) {
                continue;
            }
            match self.state.volumes.get(&slot).cloned() {
                Some(placed)
                    if placed.host == offer.hostname && placed.agent_id != offer.agent_id =>
                {
                    // The volume's host is back under a new agent ID: its disk
                    // was wiped and the volume with it. Start this slot afresh.
                    self.state.volumes.remove(&slot);
                    return self.place_stateful_task(offer, volume_id, volume_mb, hosts);
                }
                Some(placed) => {
                    // Only where our volume is, and with our reservation free.
                    let offered = offer.volumes.iter().any(|v| v.key() == placed.volume.key());
                    if !offered || !offer.resources.get(&role).contains(&task_resources) {
                        continue;
                    }
                    let mut task = self.new_task();
                    task.role = role;
                    task.volume = Some(placed.volume.id.clone());
                    return vec![Operation::Launch { tasks: vec![task] }];
                }
                None => {
                    // A fresh slot never shares an agent with another slot's
                    // volume: replicas on one machine would fail together.
                    if self
                        .state
                        .volumes
                        .values()
                        .any(|v| v.agent_id == offer.agent_id)
                    {
                        continue;
                    }
                    let reservation = task_resources.plus(&Resources::new(0, 0, volume_mb));
                    if !offer.resources.get(UNRESERVED).contains(&reservation) {
                        continue;
                    }
                    let volume = Volume {
                        id: slot_volume_id(volume_id, slot, slots),
                        role: role.clone(),
                        disk_mb: volume_mb,
                    };
                    self.state.volumes.insert(
                        slot,
                        SlotVolume {
                            volume: volume.clone(),
                            agent_id: offer.agent_id.clone(),
                            host: offer.hostname.clone(),
                        },
                    );
                    let mut task = self.new_task();
                    task.role = role.clone();
                    task.volume = Some(volume.id.clone());
                    return vec![
                        Operation::Reserve {
                            role,
                            resources: reservation,
                        },
                        Operation::Create { volume },
                        Operation::Launch { tasks: vec![task] },
                    ];
                }
            }
        }
        vec![]
    }

    /// Whether a task that counts as running fills `slot`.
    fn slot_running(&self, slot: u32) -> bool {
        self.state
            .tasks
            .values()
            .any(|t| t.slot == Some(slot) && counts_as_running(t))
    }

    /// The next task (its ID from the framework's counter); the caller places it.
    fn new_task(&mut self) -> TaskInfo {
        self.state.launched += 1;
        let n = self.state.launched;
        TaskInfo {
            task_id: TaskId::new(format!("{}-{n:04}", self.config.framework.name)),
            resources: self.config.task_resources,
            role: UNRESERVED.to_string(),
            volume: None,
            workload: self.config.workload.for_launch(n),
        }
    }

    fn on_update(&mut self, ctx: &Context, update: StatusUpdate, out: &mut Out) {
        out.event(Event::UpdateReceived {
            framework_id: update.framework_id.clone(),
            task_id: update.task_id.clone(),
            state: update.state,
            reason: update.reason,
            source: update.source,
            latest_state: update.latest_state,
            uuid: update.uuid.clone(),
        });
        if self.adversary.is_some() && self.adversary_on_update(ctx, &update, out) {
            return; // the answer to an adversarial call, not news of a task
        }
        let task = self
            .state
            .tasks
            .entry(update.task_id.clone())
            .or_insert(KnownTask {
                state: update.state,
                agent_id: update.agent_id.clone(),
                killing: false,
                slot: None,
            });
        // Once a task is known to be definitely over, nothing changes that: an
        // older update retried after a reconciliation answer said it ended,
        // or the master's TASK_UNREACHABLE/TASK_LOST for a finished task
        // whose agent went away before the finish was acknowledged
        // (MESOS-8405), says nothing new about it.
        let replay = task.state.is_definite();
        if !replay {
            task.state = update.state;
            if update.agent_id.is_some() {
                task.agent_id = update.agent_id.clone();
            }
        }
        if update.state.is_terminal() {
            task.killing = false;
        }
        // A stateful task whose agent is gone for good (its disk with it) will
        // never see its volume again: start afresh elsewhere.
        if update.state == TaskState::Gone {
            if let Some(slot) = task.slot {
                self.state.volumes.remove(&slot);
            }
        }
        if self.reconciling.remove(&update.task_id) && self.reconciling.is_empty() {
            out.cancel_timer(SchedulerTimer::ReconcileRetry);
        }
        if let (Some(uuid), Some(agent_id)) = (update.uuid, update.agent_id) {
            // Acknowledged only once the state reflecting it is durable.
            let ack = Message::Acknowledge {
                framework_id: update.framework_id,
                agent_id,
                task_id: update.task_id,
                uuid,
            };
            // (An adversary may hold a terminal update's acknowledgement back.)
            if let Some(ack) = self.adversary_hold_ack(ctx, update.state, ack) {
                self.after_next_write.push(ack);
            }
        }
        self.kill_surplus(out);
        self.changed(ctx, out);
    }

    /// More tasks run than desired (a lost task came back): kill the newest.
    fn kill_surplus(&mut self, out: &mut Out) {
        if self.config.mode == SchedulerMode::Scripted {
            return; // the scenario decides what runs
        }
        let surplus = self
            .running_count()
            .saturating_sub(self.config.desired_tasks);
        if surplus == 0 {
            return;
        }
        let newest: Vec<TaskId> = if matches!(self.config.mode, SchedulerMode::Stateful { .. }) {
            // Per slot: keep the oldest task of a slot, kill the others.
            let mut seen = BTreeSet::new();
            let mut extra: Vec<TaskId> = self
                .state
                .tasks
                .iter()
                .filter(|(_, t)| counts_as_running(t))
                .filter(|(_, t)| !seen.insert(t.slot))
                .map(|(id, _)| id.clone())
                .collect();
            extra.reverse();
            extra
        } else {
            self.state
                .tasks
                .iter()
                .rev()
                .filter(|(_, t)| counts_as_running(t))
                .take(surplus as usize)
                .map(|(id, _)| id.clone())
                .collect()
        };
        for task_id in newest {
            self.kill(task_id, out);
        }
    }

    /// Sends a kill (whether or not this instance believes it is active: the
    /// master decides whom to obey).
    fn kill(&mut self, task_id: TaskId, out: &mut Out) {
        let (Some(fid), Some(master)) = (self.state.framework_id.clone(), self.master().cloned())
        else {
            return;
        };
        if let Some(task) = self.state.tasks.get_mut(&task_id) {
            task.killing = true;
        }
        out.event(Event::SchedulerKilling {
            task_id: task_id.clone(),
        });
        out.send(
            &master,
            Message::Kill {
                framework_id: fid,
                task_id,
            },
        );
    }

    fn on_command(&mut self, ctx: &Context, command: Command, out: &mut Out) {
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        match command {
            Command::KillTask { task_id } => self.kill(task_id, out),
            Command::Accept { operations } => self.scripted.push_back(operations),
            Command::Reconcile { task_ids, agents } => {
                let (Some(fid), Some(master)) =
                    (self.state.framework_id.clone(), self.master().cloned())
                else {
                    return;
                };
                let tasks = task_ids
                    .into_iter()
                    .map(|task_id| ReconcileTask {
                        agent_id: agents.get(&task_id).cloned().or_else(|| {
                            self.state
                                .tasks
                                .get(&task_id)
                                .and_then(|t| t.agent_id.clone())
                        }),
                        task_id,
                    })
                    .collect();
                out.send(
                    &master,
                    Message::Reconcile {
                        framework_id: fid,
                        tasks,
                    },
                );
            }
            Command::Teardown => {
                let (Some(fid), Some(master)) =
                    (self.state.framework_id.clone(), self.master().cloned())
                else {
                    return;
                };
                out.send(&master, Message::Teardown { framework_id: fid });
                self.halt(
                    ctx,
                    "framework torn down by its scheduler".into(),
                    false,
                    out,
                );
            }
        }
    }

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
