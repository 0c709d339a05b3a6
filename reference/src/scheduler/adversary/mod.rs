//! # An adversarial framework: a scheduler that makes wrong calls on purpose
//!
//! A test mode, not part of any real framework: it exercises the master's
//! *validation* of framework calls — Mesos's `validation::*` functions in
//! src/master/validation.cpp, applied by `Master::accept`, `Master::_accept`,
//! `Master::kill`, `Master::acknowledge` and `Master::reconcile`
//! (src/master/master.cpp) — with calls that are stale, duplicated or
//! invalid, the kind a buggy or partitioned framework makes in production.
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
//!
//! ## How one call runs
//!
//! ```text
//! tick (draw.rs) --draws an action with a target--> immediate call (ack, reconcile)
//!        |                                            or Pending, waiting for an offer
//!        v
//! offer arrives (calls.rs) --> the call: an Accept, maybe a Kill --> a Probe, keyed by task ID
//!        |
//!        v
//! update arrives (answers.rs) --> does it answer the probe? trace AdversaryAnswered;
//!                                 consume it, or pass it on to the framework
//! ```
//!
//! One call is outstanding at a time (a `Pending` or a held acknowledgement);
//! probes are bounded (`PROBES_MAX`) and expire unanswered after a patience
//! (`tick_adversary`). All of it is per term: a new active instance starts
//! with an empty adversary.

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

/// How many probes may wait for an answer at once (a bound on the map, so
/// a master that never answers cannot grow it without end).
const PROBES_MAX: usize = 64;
/// How many sent acknowledgements are remembered, to repeat or reorder.
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
    /// Launch under the ID of a live task (the current leader told us of it).
    ReuseLiveTaskId,
    /// Hold a terminal update's acknowledgement; launch under its ID first.
    ReuseUnacknowledgedTaskId,
    /// Launch under the ID of a task the current leader reported unreachable.
    ReuseUnreachableTaskId,
    /// Launch under the ID of a task whose definite end we acknowledged.
    ReuseFinishedTaskId,
    /// Hold an offer until it is rescinded or the master changes; launch on it.
    LaunchOnStaleOffer,
    /// Launch a new task and kill it in one burst, in a random order.
    KillAndLaunch,
    /// Send the last acknowledgement again.
    AcknowledgeTwice,
    /// Send an older acknowledgement of a task after a newer one.
    AcknowledgeOutOfOrder,
    /// Reconcile a task ID never launched, on an agent we know.
    ReconcileUnknownTask,
    /// Reconcile a task ID never launched, on an agent ID nobody knows.
    ReconcileUnknownAgent,
    /// Reserve offered resources for a role that is not ours.
    ReserveForAnotherRole,
    /// Unreserve resources of a role that is not ours.
    UnreserveAnotherRole,
    /// Launch on resources of a role that is not ours.
    LaunchWithAnotherRole,
}

impl AdversaryAction {
    /// Every action, in draw order (a scenario's empty `actions` means these).
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

    /// The trace name (`reuse_live_task_id`, ...), also the scenario key.
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
    /// Acknowledgements and reconciliations need none. A reuse of an
    /// unacknowledged ID is armed at the tick and needs a terminal update
    /// first: its offer is awaited only once one is held (`adversary_hold_ack`).
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

/// What Mesos answers to a probe: what `is_answered_by` looks for.
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
    /// How the expected answer reads in the trace (names depend on whether the
    /// framework is partition-aware: Mesos sends such frameworks `TASK_DROPPED`,
    /// `TASK_GONE`, `TASK_UNKNOWN` where others get `TASK_LOST`).
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
        // Only the master answers for a refused launch or a reconciliation; an
        // agent's update about the same ID is news of the real task.
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
            // Any update is the answer: the launch went through. A refusal lands
            // here too, and the trace then shows it beside "accepted".
            Expected::Accepted => true,
        }
    }
}

/// A call whose answer the adversary waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Probe {
    /// What the call was.
    action: AdversaryAction,
    /// The answer it waits for.
    expected: Expected,
    /// A ghost ID: the framework never launched it, every update about it is
    /// the adversary's.
    ghost: bool,
    /// When it was sent: unanswered after a patience, it is given up.
    since_ms: u64,
}

/// A call drawn at a tick that waits for the next offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    /// The call.
    action: AdversaryAction,
    /// The task it names, if drawn at the tick (a reuse); `None` for the others,
    /// and for an unacknowledged reuse until its terminal update is held.
    task_id: Option<TaskId>,
    /// When it was drawn: after a patience with no suitable offer, dropped.
    since_ms: u64,
}

/// An offer the adversary keeps instead of answering it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct HeldOffer {
    /// The offer, unanswered: neither accepted nor declined.
    offer: Offer,
    /// When it was taken: held too long without going stale, it is declined.
    since_ms: u64,
}

/// An acknowledgement this instance sent, and to which leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SentAck {
    /// The `Acknowledge` as sent.
    message: Message,
    /// The task it acknowledges (for `AcknowledgeOutOfOrder`'s pairing).
    task_id: TaskId,
    /// The leader epoch it went to. Recorded, but no draw reads it yet: a
    /// repeat goes to the current leader whichever one the original went to.
    epoch: u64,
}

/// The adversary's memory. Like the rest of an active term it is soft: a new
/// active instance starts with an empty one, so answers to its
/// predecessor's probes reach a framework that has no probe for them; they
/// are then taken as news of an unknown task (`Scheduler::on_update` records
/// it, and a ghost that runs is killed as a surplus).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adversary {
    /// What to draw and how often.
    config: AdversaryConfig,
    /// The adversary's timer is armed (it keeps ticking until the instance
    /// stops).
    armed: bool,
    /// The call waiting for an offer (or, for an unacknowledged reuse, for a
    /// terminal update first). At most one: calls go one at a time.
    pending: Option<Pending>,
    /// A terminal update's acknowledgement, held back until the reuse of its
    /// task's ID has been sent (`adversary_hold_ack`, `release_held_ack`).
    held_ack: Option<Message>,
    /// An offer kept until it goes stale (`LaunchOnStaleOffer`).
    held_offer: Option<HeldOffer>,
    /// Calls waiting for their answer, by the task ID they name.
    probes: BTreeMap<TaskId, Probe>,
    /// Reserve/unreserve calls waiting for their `OperationError`, in order.
    operation_probes: VecDeque<AdversaryAction>,
    /// Acknowledgements that went out, oldest first (at most
    /// `ACKS_REMEMBERED_MAX`): what `AcknowledgeTwice` and
    /// `AcknowledgeOutOfOrder` send again.
    acks_sent: VecDeque<SentAck>,
    /// The leader epoch from which the framework last heard about each task in
    /// a way that shows that leader holds it: a reuse is drawn only for tasks
    /// the *current* leader knows (MESOS-6785: a new leader that has not heard
    /// from the task's agent would accept the ID). Cleared by answers that do
    /// not show it (`adversary_on_update`).
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
    /// An adversary with nothing outstanding; its timer is armed at the first
    /// registration (`adversary_on_registered`).
    pub fn new(config: AdversaryConfig) -> Self {
        // A zero period would tick without pause.
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

    /// Forgets an active term. The timer stays armed: it keeps ticking through
    /// standby (a tick does nothing then) and needs no re-arming at the next
    /// registration, which would only shift its schedule.
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
    /// Seeds the stream from the input's random word.
    fn new(random: u64) -> Self {
        // A fixed salt keeps these draws apart from the backoff jitter that
        // uses the same word.
        Draws(random ^ 0xad5e_75a1_0000_0013)
    }
    /// The next 64-bit draw (splitmix64's step and mix).
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A draw in `0..n`; `n` must not be 0 (the modulo bias is negligible here).
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }
}

impl Scheduler {
    /// The epoch of the leader we are registered with; `None` unregistered.
    /// Every target is relative to it (`heard_from`, `acknowledged_final`).
    fn adversary_epoch(&self) -> Option<u64> {
        self.registered_with().map(|(_, epoch)| epoch)
    }

    /// Partition-aware frameworks get different names for the same answers.
    fn partition_aware(&self) -> bool {
        self.config.framework.partition_aware
    }

    /// A fresh *ghost* task ID, `<framework>-ghost-<8 hex digits>`: outside the
    /// framework's `<framework>-NNNN` namespace, so no answer about a ghost can
    /// ever concern a real task.
    fn ghost_id(&self, draws: &mut Draws) -> TaskId {
        // A clash of two ghosts is improbable and harmless: the later probe
        // replaces the earlier.
        TaskId::new(format!(
            "{}-ghost-{:08x}",
            self.config.framework.name,
            draws.next() as u32
        ))
    }

    /// The task an adversarial launch carries: the framework's usual resources
    /// on `role`, running forever (if it runs, it is killed by the adversary).
    fn probe_task(&self, task_id: TaskId, role: &str) -> TaskInfo {
        TaskInfo {
            task_id,
            resources: self.config.task_resources,
            role: role.to_string(),
            volume: None,
            workload: Workload::Forever,
        }
    }

    /// Traces a call (`Event::AdversaryCall`): what was sent and what Mesos
    /// answers to it, to compare with `Event::AdversaryAnswered`.
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

    /// Registers a call awaiting its answer, keyed by the task ID it names (a
    /// new probe on the same ID replaces the old one).
    fn add_probe(
        &mut self,
        ctx: &Context,
        task_id: TaskId,
        action: AdversaryAction,
        expected: Expected,
        ghost: bool,
    ) {
        // Only called in adversarial mode (the callers hold a call to make).
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

/// The uuid of an `Acknowledge` message, for the trace.
fn ack_uuid(message: &Message) -> Option<&UpdateUuid> {
    match message {
        Message::Acknowledge { uuid, .. } => Some(uuid),
        _ => None,
    }
}
