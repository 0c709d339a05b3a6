//! # An adversarial framework: a scheduler that makes wrong calls on purpose
//!
//! Jepsen drives a system with a *generator* of client operations; FoundationDB
//! *buggifies* its own clients. This module does both to the Mesos master: a
//! framework in adversarial mode goes on keeping its desired tasks running (it
//! is an ordinary [service framework](crate::scheduler::SchedulerMode::Service)), and now
//! and then — every `every_ms` on average, the action and its target drawn from
//! the run's seed through the scheduler's [`Context::random`] — it makes one call
//! that a well-behaved framework never makes, and checks that the master answers
//! it as Mesos does. Every call and every answer is traced
//! ([`Event::AdversaryCall`], [`Event::AdversaryAnswered`]).
//!
//! | action | the call | Mesos's answer |
//! |---|---|---|
//! | `reuse_live_task_id` | launch a task under the ID of one of its live tasks | `TASK_ERROR`, `REASON_TASK_INVALID` (`validation::task::internal::validateUniqueTaskID`: "Task has duplicate ID") |
//! | `reuse_unacknowledged_task_id` | hold back the acknowledgement of a terminal update and launch under that task's ID first | `TASK_ERROR`, `REASON_TASK_INVALID`: the task stays in `Framework::tasks` until its terminal update is acknowledged (`Master::acknowledge` → `removeTask`) |
//! | `reuse_unreachable_task_id` | launch under the ID of a task it heard `TASK_UNREACHABLE` for | `TASK_ERROR`, `REASON_TASK_INVALID` ("Task reuses the ID of an unreachable task", `Framework::unreachableTasks`) |
//! | `reuse_finished_task_id` | launch under the ID of a task whose definite terminal update it acknowledged | accepted: the ID is free again (`removeTask` moved it to the completed tasks, which `validateUniqueTaskID` does not look at) |
//! | `launch_on_stale_offer` | hold an offer until it is rescinded or the master fails over, then launch on it | `TASK_LOST` (`TASK_DROPPED` if partition-aware), `REASON_INVALID_OFFERS` (`Master::accept`, `validation::offer::validate`: "Offer … is no longer valid") |
//! | `kill_and_launch` | launch a new task and kill it in the same burst (either order) | the launch is accepted and the kill reaches the agent (`TASK_KILLED`); a kill that arrives first is answered by reconciliation (`Master::kill`: "unknown; performing reconciliation") |
//! | `acknowledge_twice`, `acknowledge_out_of_order` | send an acknowledgement again, or an older one after a newer one | nothing: `Master::acknowledge` forwards it, the agent's status update stream ignores a duplicate or out-of-date acknowledgement |
//! | `reconcile_unknown_task`, `reconcile_unknown_agent` | ask about a task ID it never launched, on a known agent or on an agent ID nobody knows | `Master::reconcile` cases 3 and 6: `TASK_GONE` / `TASK_UNKNOWN` (`TASK_LOST` if not partition-aware), `REASON_RECONCILIATION` (no answer while an agent recovered from the registry has not re-registered, case 2) |
//! | `reserve_for_another_role`, `unreserve_another_role`, `launch_with_another_role` | operate on another role's reserved resources | the operation is dropped with an error (`validation::operation::validate(Reserve)`: "the framework can only reserve resources with roles …"; an unreserve of resources not in the offer fails `Master::_accept`'s `remainingResources.apply`); the launch ends `TASK_ERROR`, `REASON_TASK_INVALID` (`validation::task::validate`: resources not available in the offer) |
//!
//! ## Staying out of the framework's own way
//!
//! The adversary's calls must never corrupt what the framework believes, or the
//! framework would stop keeping its tasks right, and its *own* mistakes would
//! then look like the master's. So:
//!
//! - a refused reuse names a task the framework still tracks: the master's
//!   `TASK_ERROR` is about the *launch attempt*, not about the task, and the
//!   adversary consumes it (a *probe*) instead of letting it mark the task
//!   failed;
//! - calls about task IDs the framework never launched use *ghost* IDs,
//!   `<framework>-ghost-<hex>`, outside the framework's own `<framework>-NNNN`
//!   namespace, so no answer about a ghost can contradict a real task later;
//! - an ID is reused only where Mesos's answer is certain: a live or
//!   unreachable task only if the current leader itself told the framework
//!   about it (a new leader that has not heard from the task's agent yet does
//!   not know the ID and would accept it — MESOS-6785), and a finished task only
//!   once its *definite* terminal update (the task is known not to run) was
//!   acknowledged to the current leader;
//! - an accepted reuse is a new incarnation of the task: its intent is
//!   recorded in the framework's state before the accept goes out, like any
//!   launch, and it counts toward the desired tasks (a surplus is killed).

use super::{KnownTask, Scheduler, SchedulerTimer};
use crate::events::Event;
use crate::ids::{AgentId, OfferId, TaskId, UpdateUuid};
use crate::io::{Context, Outputs};
use crate::messages::{Message, Offer, Operation, ReconcileTask};
use crate::resources::UNRESERVED;
use crate::task::{StatusUpdate, TaskInfo, Workload};
use crate::task_state::{Reason, Source, TaskState};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

mod answers;
mod calls;
mod draw;

type Out = Outputs<SchedulerTimer>;

/// How many probes may wait for an answer at once, and how many sent
/// acknowledgements the adversary remembers (bounds on every queue).
const PROBES_MAX: usize = 64;
const ACKS_REMEMBERED_MAX: usize = 32;
/// An agent ID no master ever hands out (IDs are `e<epoch>-S<n>`).
const UNKNOWN_AGENT_ID: &str = "e999999-S999999";

/// The adversarial mode of one framework (scenario key `adversary`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdversaryConfig {
    /// Mean time between two adversarial calls; each wait is drawn from
    /// [every / 2, every · 3 / 2).
    pub every_ms: u64,
    /// The calls to draw from (empty: all of them), like a Jepsen
    /// generator's mix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<AdversaryAction>,
}

/// The adversary's calls (their trace names are the snake-case ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AdversaryAction {
    ReuseLiveTaskId,
    ReuseUnacknowledgedTaskId,
    ReuseUnreachableTaskId,
    ReuseFinishedTaskId,
    LaunchOnStaleOffer,
    KillAndLaunch,
    AcknowledgeTwice,
    AcknowledgeOutOfOrder,
    ReconcileUnknownTask,
    ReconcileUnknownAgent,
    ReserveForAnotherRole,
    UnreserveAnotherRole,
    LaunchWithAnotherRole,
}

impl AdversaryAction {
    pub const ALL: [AdversaryAction; 13] = [
        AdversaryAction::ReuseLiveTaskId,
        AdversaryAction::ReuseUnacknowledgedTaskId,
        AdversaryAction::ReuseUnreachableTaskId,
        AdversaryAction::ReuseFinishedTaskId,
        AdversaryAction::LaunchOnStaleOffer,
        AdversaryAction::KillAndLaunch,
        AdversaryAction::AcknowledgeTwice,
        AdversaryAction::AcknowledgeOutOfOrder,
        AdversaryAction::ReconcileUnknownTask,
        AdversaryAction::ReconcileUnknownAgent,
        AdversaryAction::ReserveForAnotherRole,
        AdversaryAction::UnreserveAnotherRole,
        AdversaryAction::LaunchWithAnotherRole,
    ];

    /// The action named `name` (its trace name), if any.
    pub fn from_name(name: &str) -> Option<AdversaryAction> {
        AdversaryAction::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            AdversaryAction::ReuseLiveTaskId => "reuse_live_task_id",
            AdversaryAction::ReuseUnacknowledgedTaskId => "reuse_unacknowledged_task_id",
            AdversaryAction::ReuseUnreachableTaskId => "reuse_unreachable_task_id",
            AdversaryAction::ReuseFinishedTaskId => "reuse_finished_task_id",
            AdversaryAction::LaunchOnStaleOffer => "launch_on_stale_offer",
            AdversaryAction::KillAndLaunch => "kill_and_launch",
            AdversaryAction::AcknowledgeTwice => "acknowledge_twice",
            AdversaryAction::AcknowledgeOutOfOrder => "acknowledge_out_of_order",
            AdversaryAction::ReconcileUnknownTask => "reconcile_unknown_task",
            AdversaryAction::ReconcileUnknownAgent => "reconcile_unknown_agent",
            AdversaryAction::ReserveForAnotherRole => "reserve_for_another_role",
            AdversaryAction::UnreserveAnotherRole => "unreserve_another_role",
            AdversaryAction::LaunchWithAnotherRole => "launch_with_another_role",
        }
    }

    /// Whether the call goes out with an offer (it waits for the next one).
    fn needs_offer(self) -> bool {
        !matches!(
            self,
            AdversaryAction::ReuseUnacknowledgedTaskId
                | AdversaryAction::AcknowledgeTwice
                | AdversaryAction::AcknowledgeOutOfOrder
                | AdversaryAction::ReconcileUnknownTask
                | AdversaryAction::ReconcileUnknownAgent
        )
    }
}

/// What Mesos answers to a launch probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Expected {
    /// `TASK_ERROR`, `REASON_TASK_INVALID`.
    TaskInvalid,
    /// `TASK_LOST` / `TASK_DROPPED`, `REASON_INVALID_OFFERS`.
    InvalidOffers,
    /// The launch is accepted (a new incarnation of the task).
    Accepted,
    /// A reconciliation answer about an unknown task.
    Reconciliation,
}

impl Expected {
    fn describe(self, partition_aware: bool) -> &'static str {
        match (self, partition_aware) {
            (Expected::TaskInvalid, _) => "TASK_ERROR (TASK_INVALID)",
            (Expected::InvalidOffers, true) => "TASK_DROPPED (INVALID_OFFERS)",
            (Expected::InvalidOffers, false) => "TASK_LOST (INVALID_OFFERS)",
            (Expected::Accepted, _) => "accepted",
            (Expected::Reconciliation, true) => {
                "TASK_GONE, TASK_UNREACHABLE or TASK_UNKNOWN (RECONCILIATION)"
            }
            (Expected::Reconciliation, false) => "TASK_LOST (RECONCILIATION)",
        }
    }

    /// Whether `update` is the master's answer of this kind.
    fn is_answered_by(self, update: &StatusUpdate) -> bool {
        let from_master = update.source == Source::Master;
        match self {
            // A launch on an offer that went stale meanwhile is refused for
            // that first: Mesos's `Master::accept` validates the offers
            // before the tasks (`TASK_DROPPED`/`TASK_LOST`, `INVALID_OFFERS`),
            // and either answer is about the attempt, not the task.
            Expected::TaskInvalid => {
                from_master
                    && matches!(
                        update.reason,
                        Some(Reason::TaskInvalid) | Some(Reason::InvalidOffers)
                    )
            }
            Expected::InvalidOffers => from_master && update.reason == Some(Reason::InvalidOffers),
            Expected::Reconciliation => {
                from_master && update.reason == Some(Reason::Reconciliation)
            }
            Expected::Accepted => true,
        }
    }
}

/// A call whose answer the adversary waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Probe {
    action: AdversaryAction,
    expected: Expected,
    /// A ghost ID: the framework never launched it, every update about it is
    /// the adversary's.
    ghost: bool,
    since_ms: u64,
}

/// A call drawn at a tick that waits for the next offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    action: AdversaryAction,
    task_id: Option<TaskId>,
    since_ms: u64,
}

/// An offer the adversary keeps instead of answering it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct HeldOffer {
    offer: Offer,
    since_ms: u64,
}

/// An acknowledgement this instance sent, and to which leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SentAck {
    message: Message,
    task_id: TaskId,
    epoch: u64,
}

/// The adversary's memory. Like the rest of an active term it is soft: a new
/// active instance starts with an empty one (its probes' answers then reach
/// a framework that did not make them; see `on_update`'s ghost rule).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adversary {
    config: AdversaryConfig,
    /// The adversary's timer is armed (it keeps ticking until the instance
    /// stops).
    armed: bool,
    pending: Option<Pending>,
    held_ack: Option<Message>,
    held_offer: Option<HeldOffer>,
    probes: BTreeMap<TaskId, Probe>,
    /// Reserve/unreserve calls waiting for their `OperationError`, in order.
    operation_probes: VecDeque<AdversaryAction>,
    acks_sent: VecDeque<SentAck>,
    /// The leader epoch from which the framework last heard about each task.
    heard_from: BTreeMap<TaskId, u64>,
    /// Tasks whose definite terminal update was acknowledged, and to which
    /// leader.
    acknowledged_final: BTreeMap<TaskId, u64>,
    /// The state of each update heard but not acknowledged yet, by uuid (so
    /// that an acknowledgement is known to be of a definite update).
    unacknowledged: BTreeMap<UpdateUuid, TaskState>,
    /// The task whose *first* terminal update is being handled right now:
    /// only that update's acknowledgement may be held back (a retried copy's
    /// twin may already have been acknowledged, freeing the ID).
    first_terminal: Option<TaskId>,
}

impl Adversary {
    pub fn new(config: AdversaryConfig) -> Self {
        assert!(config.every_ms > 0, "an adversary needs a period");
        Adversary {
            config,
            armed: false,
            pending: None,
            held_ack: None,
            held_offer: None,
            probes: BTreeMap::new(),
            operation_probes: VecDeque::new(),
            acks_sent: VecDeque::new(),
            heard_from: BTreeMap::new(),
            acknowledged_final: BTreeMap::new(),
            unacknowledged: BTreeMap::new(),
            first_terminal: None,
        }
    }

    /// Forgets an active term (the timer stays armed).
    pub(super) fn forget_term(&mut self) {
        let armed = self.armed;
        *self = Adversary::new(self.config.clone());
        self.armed = armed;
    }
}

/// A small deterministic stream of draws from one random word of the
/// driver (splitmix64): several independent choices per input, all from the
/// seed.
struct Draws(u64);

impl Draws {
    fn new(random: u64) -> Self {
        // A fixed salt keeps these draws apart from the backoff jitter that
        // uses the same word.
        Draws(random ^ 0xad5e_75a1_0000_0013)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }
}

impl Scheduler {
    fn adversary_epoch(&self) -> Option<u64> {
        self.registered_with().map(|(_, epoch)| epoch)
    }

    fn partition_aware(&self) -> bool {
        self.config.framework.partition_aware
    }

    fn ghost_id(&self, draws: &mut Draws) -> TaskId {
        TaskId::new(format!(
            "{}-ghost-{:08x}",
            self.config.framework.name,
            draws.next() as u32
        ))
    }

    fn probe_task(&self, task_id: TaskId, role: &str) -> TaskInfo {
        TaskInfo {
            task_id,
            resources: self.config.task_resources,
            role: role.to_string(),
            volume: None,
            workload: Workload::Forever,
        }
    }

    fn call_event(
        &self,
        action: AdversaryAction,
        task_id: Option<&TaskId>,
        detail: String,
        expected: &str,
        out: &mut Out,
    ) {
        out.event(Event::AdversaryCall {
            action: action.name().to_string(),
            task_id: task_id.cloned(),
            detail,
            expected: expected.to_string(),
        });
    }

    fn add_probe(
        &mut self,
        ctx: &Context,
        task_id: TaskId,
        action: AdversaryAction,
        expected: Expected,
        ghost: bool,
    ) {
        let adversary = self.adversary.as_mut().expect("adversarial");
        adversary.probes.insert(
            task_id,
            Probe {
                action,
                expected,
                ghost,
                since_ms: ctx.now_ms,
            },
        );
    }
}

fn ack_uuid(message: &Message) -> Option<&UpdateUuid> {
    match message {
        Message::Acknowledge { uuid, .. } => Some(uuid),
        _ => None,
    }
}
