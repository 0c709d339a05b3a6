//! # An adversarial framework: a scheduler that makes wrong calls on purpose
//!
//! Jepsen drives a system with a *generator* of client operations; FoundationDB
//! *buggifies* its own clients. This module does both to the Mesos master: a
//! framework in adversarial mode goes on keeping its desired tasks running (it
//! is an ordinary [service framework](super::SchedulerMode::Service)), and now
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

    /// Arms the adversary's timer after a registration, and launches on an
    /// offer held across it: the master that made the offer either failed
    /// over or dropped the framework's offers when its link broke, so the
    /// offer is stale.
    pub(super) fn adversary_on_registered(&mut self, ctx: &Context, out: &mut Out) {
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        if !adversary.armed {
            adversary.armed = true;
            let every_ms = adversary.config.every_ms;
            let mut draws = Draws::new(ctx.random);
            let wait = every_ms / 2 + draws.next() % every_ms.max(1);
            out.set_timer(SchedulerTimer::Adversary, ctx.now_ms + wait.max(1));
        }
        if let Some(held) = adversary.held_offer.take() {
            self.launch_on_stale_offer(ctx, held, "held across a re-registration", out);
        }
    }

    /// The offer we hold was rescinded: use it anyway.
    pub(super) fn adversary_on_rescind(
        &mut self,
        ctx: &Context,
        offer_id: &OfferId,
        out: &mut Out,
    ) {
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        if adversary
            .held_offer
            .as_ref()
            .is_some_and(|h| &h.offer.offer_id == offer_id)
        {
            let held = adversary.held_offer.take().expect("checked");
            self.launch_on_stale_offer(ctx, held, "held past its rescind", out);
        }
    }

    fn launch_on_stale_offer(&mut self, ctx: &Context, held: HeldOffer, why: &str, out: &mut Out) {
        let (Some(fid), Some(master)) = (self.state.framework_id.clone(), self.master().cloned())
        else {
            return;
        };
        let mut draws = Draws::new(ctx.random);
        let task_id = self.ghost_id(&mut draws);
        let expected = Expected::InvalidOffers;
        let action = AdversaryAction::LaunchOnStaleOffer;
        self.call_event(
            action,
            Some(&task_id),
            format!("offer {} {why}", held.offer.offer_id),
            expected.describe(self.partition_aware()),
            out,
        );
        let task = self.probe_task(task_id.clone(), UNRESERVED);
        self.add_probe(ctx, task_id, action, expected, true);
        out.send(
            &master,
            Message::Accept {
                framework_id: fid,
                offer_ids: vec![held.offer.offer_id],
                operations: vec![Operation::Launch { tasks: vec![task] }],
            },
        );
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

    /// Every `every_ms` on average: draw one adversarial call among those
    /// that have a target now.
    pub(super) fn tick_adversary(&mut self, ctx: &Context, out: &mut Out) {
        if matches!(self.instance, super::InstanceState::Stopped { .. }) {
            return;
        }
        let mut draws = Draws::new(ctx.random);
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        let every_ms = adversary.config.every_ms;
        let wait = every_ms / 2 + draws.next() % every_ms.max(1);
        out.set_timer(SchedulerTimer::Adversary, ctx.now_ms + wait.max(1));
        // Patience: a probe unanswered this long gets none (a lost message,
        // a failover, or Mesos's silence about a recovered agent's task).
        let patience_ms = (4 * every_ms).max(60_000);
        let expired: Vec<(TaskId, Probe)> = adversary
            .probes
            .iter()
            .filter(|(_, p)| p.since_ms + patience_ms <= ctx.now_ms)
            .map(|(id, p)| (id.clone(), p.clone()))
            .collect();
        for (task_id, probe) in expired {
            adversary.probes.remove(&task_id);
            out.event(Event::AdversaryAnswered {
                action: probe.action.name().to_string(),
                task_id: Some(task_id),
                expected: probe
                    .expected
                    .describe(self.config.framework.partition_aware)
                    .to_string(),
                answer: "no answer".into(),
            });
        }
        // A call waits for an offer at most this long (offers a framework
        // declined come back only after `offer_refuse`); then it is given
        // up, and a held acknowledgement goes out after the state write, as
        // any other.
        let offer_patience_ms = (3 * every_ms).max(15_000);
        if adversary
            .pending
            .as_ref()
            .is_some_and(|p| p.since_ms + offer_patience_ms <= ctx.now_ms)
        {
            adversary.pending = None;
            if let Some(ack) = adversary.held_ack.take() {
                self.after_next_write.push(ack);
                self.changed(ctx, out);
            }
        }
        let adversary = self.adversary.as_mut().expect("checked");
        if adversary.pending.is_some() || adversary.held_ack.is_some() {
            return; // one call at a time
        }
        // An offer is held this long for a rescind or a failover to make it
        // stale.
        let hold_ms = (3 * every_ms).max(30_000);
        if let Some(held) = adversary.held_offer.take() {
            if held.since_ms + hold_ms > ctx.now_ms {
                adversary.held_offer = Some(held);
            } else if let (Some(fid), Some((master, _))) =
                (self.state.framework_id.clone(), self.registered_with())
            {
                // Nothing made it stale: give it back.
                out.send(
                    &master.clone(),
                    Message::Decline {
                        framework_id: fid,
                        offer_ids: vec![held.offer.offer_id],
                        refuse_ms: 0,
                    },
                );
            }
        }
        // Only an active, registered, reconciled instance calls the master.
        let Some(epoch) = self.adversary_epoch() else {
            return;
        };
        if !self.is_active() || !self.reconciling.is_empty() || !self.state_loaded {
            return;
        }
        let adversary = self.adversary.as_ref().expect("checked");
        if adversary.probes.len() >= PROBES_MAX {
            return;
        }
        let live = self.reusable_live(epoch);
        let unreachable = self.reusable_unreachable(epoch);
        let finished = self.reusable_finished(epoch);
        let out_of_order = self.out_of_order_ack();
        let adversary = self.adversary.as_ref().expect("checked");
        let mix = &adversary.config.actions;
        let applicable: Vec<AdversaryAction> = AdversaryAction::ALL
            .into_iter()
            .filter(|a| mix.is_empty() || mix.contains(a))
            .filter(|a| match a {
                AdversaryAction::ReuseLiveTaskId => !live.is_empty(),
                AdversaryAction::ReuseUnreachableTaskId => !unreachable.is_empty(),
                AdversaryAction::ReuseFinishedTaskId => !finished.is_empty(),
                AdversaryAction::LaunchOnStaleOffer => adversary.held_offer.is_none(),
                AdversaryAction::AcknowledgeTwice => !adversary.acks_sent.is_empty(),
                AdversaryAction::AcknowledgeOutOfOrder => out_of_order.is_some(),
                _ => true,
            })
            .collect();
        if applicable.is_empty() {
            return;
        }
        // An unreachable task is a target only while its agent stays cut off
        // (seconds, under a nemesis), where every other call has a target
        // most of the time: so half the draws go to it while it lasts, or
        // the rarest of Mesos's refusals would seldom be tried at all.
        let rare = AdversaryAction::ReuseUnreachableTaskId;
        let action = if applicable.contains(&rare) && draws.below(2) == 0 {
            rare
        } else {
            applicable[draws.below(applicable.len())]
        };
        let pick = |list: &[TaskId], draws: &mut Draws| list[draws.below(list.len())].clone();
        let task_id = match action {
            AdversaryAction::ReuseLiveTaskId => Some(pick(&live, &mut draws)),
            AdversaryAction::ReuseUnreachableTaskId => Some(pick(&unreachable, &mut draws)),
            AdversaryAction::ReuseFinishedTaskId => Some(pick(&finished, &mut draws)),
            _ => None,
        };
        if action.needs_offer() {
            let adversary = self.adversary.as_mut().expect("checked");
            adversary.pending = Some(Pending {
                action,
                task_id,
                since_ms: ctx.now_ms,
            });
            return;
        }
        let (Some(fid), Some(master)) = (self.state.framework_id.clone(), self.master().cloned())
        else {
            return;
        };
        match action {
            AdversaryAction::ReuseUnacknowledgedTaskId => {
                // Armed now; the next terminal update names the task and
                // has its acknowledgement held (`adversary_hold_ack`).
                self.adversary.as_mut().expect("checked").pending = Some(Pending {
                    action,
                    task_id: None,
                    since_ms: ctx.now_ms,
                });
            }
            AdversaryAction::AcknowledgeTwice | AdversaryAction::AcknowledgeOutOfOrder => {
                let adversary = self.adversary.as_ref().expect("checked");
                let sent = if action == AdversaryAction::AcknowledgeTwice {
                    adversary.acks_sent.back().cloned()
                } else {
                    out_of_order
                };
                let Some(sent) = sent else { return };
                self.call_event(
                    action,
                    Some(&sent.task_id),
                    format!("acknowledgement sent again: {:?}", ack_uuid(&sent.message)),
                    "ignored (the agent drops a duplicate or out-of-date acknowledgement)",
                    out,
                );
                out.send(&master, sent.message);
            }
            AdversaryAction::ReconcileUnknownTask | AdversaryAction::ReconcileUnknownAgent => {
                let task_id = self.ghost_id(&mut draws);
                let agent_id = if action == AdversaryAction::ReconcileUnknownAgent {
                    Some(AgentId::new(UNKNOWN_AGENT_ID))
                } else {
                    // An agent the framework knows, if any (Mesos case 3).
                    let agents: Vec<AgentId> = self
                        .state
                        .tasks
                        .values()
                        .filter_map(|t| t.agent_id.clone())
                        .collect();
                    (!agents.is_empty()).then(|| agents[draws.below(agents.len())].clone())
                };
                let expected = Expected::Reconciliation;
                self.call_event(
                    action,
                    Some(&task_id),
                    match &agent_id {
                        Some(a) => format!("about a task never launched, on agent {a}"),
                        None => "about a task never launched, on no agent".into(),
                    },
                    expected.describe(self.partition_aware()),
                    out,
                );
                self.add_probe(ctx, task_id.clone(), action, expected, true);
                out.send(
                    &master,
                    Message::Reconcile {
                        framework_id: fid,
                        tasks: vec![ReconcileTask { task_id, agent_id }],
                    },
                );
            }
            _ => unreachable!("offer-bound calls wait for an offer"),
        }
    }

    /// Live tasks the current leader told us about.
    fn reusable_live(&self, epoch: u64) -> Vec<TaskId> {
        let Some(adversary) = &self.adversary else {
            return vec![];
        };
        self.state
            .tasks
            .iter()
            .filter(|(id, t)| {
                t.state == TaskState::Running
                    && !t.killing
                    && adversary.heard_from.get(*id) == Some(&epoch)
                    && !adversary.probes.contains_key(*id)
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Tasks we heard `TASK_UNREACHABLE` about from the current leader.
    fn reusable_unreachable(&self, epoch: u64) -> Vec<TaskId> {
        let Some(adversary) = &self.adversary else {
            return vec![];
        };
        self.state
            .tasks
            .iter()
            .filter(|(id, t)| {
                t.state == TaskState::Unreachable
                    && adversary.heard_from.get(*id) == Some(&epoch)
                    && !adversary.probes.contains_key(*id)
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Tasks whose definite terminal update we acknowledged to the current
    /// leader: their IDs are free again.
    fn reusable_finished(&self, epoch: u64) -> Vec<TaskId> {
        let Some(adversary) = &self.adversary else {
            return vec![];
        };
        adversary
            .acknowledged_final
            .iter()
            .filter(|(id, e)| {
                **e == epoch
                    && !adversary.probes.contains_key(*id)
                    && self
                        .state
                        .tasks
                        .get(*id)
                        .is_some_and(|t| t.state.is_definite())
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// An older acknowledgement of a task we acknowledged twice or more.
    fn out_of_order_ack(&self) -> Option<SentAck> {
        let adversary = self.adversary.as_ref()?;
        let newest = adversary.acks_sent.back()?;
        let older = adversary
            .acks_sent
            .iter()
            .rev()
            .skip(1)
            .find(|a| a.task_id == newest.task_id)?;
        Some(older.clone())
    }

    /// An offer arrives while a call waits for one (or a stale offer is to be
    /// held): the adversary takes it. Returns the offer if it did not.
    pub(super) fn adversary_on_offer(
        &mut self,
        ctx: &Context,
        offer: Offer,
        out: &mut Out,
    ) -> Option<Offer> {
        let Some(adversary) = &mut self.adversary else {
            return Some(offer);
        };
        let Some(pending) = adversary.pending.clone() else {
            return Some(offer);
        };
        if pending.action == AdversaryAction::ReuseUnacknowledgedTaskId && pending.task_id.is_none()
        {
            return Some(offer); // no terminal update held yet
        }
        let (Some(fid), Some(epoch)) = (self.state.framework_id.clone(), self.adversary_epoch())
        else {
            return Some(offer);
        };
        let master = self.master().cloned().expect("registered");
        let role = self.config.framework.role.clone();
        let other_role = if role == "other" { "another" } else { "other" }.to_string();
        let fits = offer
            .resources
            .get(UNRESERVED)
            .contains(&self.config.task_resources);
        let mut draws = Draws::new(ctx.random);
        let action = pending.action;
        let accept = |operations: Vec<Operation>| Message::Accept {
            framework_id: fid.clone(),
            offer_ids: vec![offer.offer_id.clone()],
            operations,
        };
        match action {
            AdversaryAction::ReuseLiveTaskId
            | AdversaryAction::ReuseUnreachableTaskId
            | AdversaryAction::ReuseUnacknowledgedTaskId => {
                let task_id = pending.task_id.clone().expect("a reuse names its task");
                // Still what it was when drawn? (An update may have come since.)
                let still = match action {
                    AdversaryAction::ReuseLiveTaskId => {
                        self.reusable_live(epoch).contains(&task_id)
                    }
                    AdversaryAction::ReuseUnreachableTaskId => {
                        self.reusable_unreachable(epoch).contains(&task_id)
                    }
                    _ => true, // its acknowledgement is held: it stays unacknowledged
                };
                self.adversary.as_mut().expect("checked").pending = None;
                if !still {
                    self.release_held_ack(ctx, out);
                    return Some(offer);
                }
                let expected = Expected::TaskInvalid;
                let state = self.state.tasks.get(&task_id).map(|t| t.state);
                self.call_event(
                    action,
                    Some(&task_id),
                    format!(
                        "launch under the ID of a task the framework knows as {}",
                        state.map_or("unknown".into(), |s| s.to_string())
                    ),
                    expected.describe(self.partition_aware()),
                    out,
                );
                self.add_probe(ctx, task_id.clone(), action, expected, false);
                let task = self.probe_task(task_id, UNRESERVED);
                out.send(
                    &master,
                    accept(vec![Operation::Launch { tasks: vec![task] }]),
                );
                // The held acknowledgement follows the launch (after a write,
                // as every acknowledgement does).
                self.release_held_ack(ctx, out);
                None
            }
            AdversaryAction::ReuseFinishedTaskId => {
                let task_id = pending.task_id.clone().expect("a reuse names its task");
                if !fits {
                    return Some(offer); // wait for an offer it fits in
                }
                self.adversary.as_mut().expect("checked").pending = None;
                if !self.reusable_finished(epoch).contains(&task_id) {
                    return Some(offer);
                }
                let expected = Expected::Accepted;
                self.call_event(
                    action,
                    Some(&task_id),
                    "launch under the ID of a task whose definite terminal update was acknowledged"
                        .into(),
                    expected.describe(self.partition_aware()),
                    out,
                );
                self.add_probe(ctx, task_id.clone(), action, expected, false);
                let adversary = self.adversary.as_mut().expect("checked");
                adversary.acknowledged_final.remove(&task_id);
                // What a leader told us about the old incarnation says
                // nothing about whether it holds the new one.
                adversary.heard_from.remove(&task_id);
                // A new incarnation: tracked like any launch, its intent
                // recorded before the accept goes out.
                self.state.tasks.insert(
                    task_id.clone(),
                    KnownTask {
                        state: TaskState::Staging,
                        agent_id: Some(offer.agent_id.clone()),
                        killing: false,
                        slot: None,
                    },
                );
                let mut task = self.probe_task(task_id, UNRESERVED);
                task.workload = self.config.workload.steady.clone();
                self.accept(
                    &fid,
                    offer,
                    vec![Operation::Launch { tasks: vec![task] }],
                    out,
                );
                self.changed(ctx, out);
                None
            }
            AdversaryAction::KillAndLaunch => {
                if !fits {
                    return Some(offer);
                }
                self.adversary.as_mut().expect("checked").pending = None;
                let task = self.new_task();
                let task_id = task.task_id.clone();
                let kill_first = draws.next().is_multiple_of(2);
                self.call_event(
                    action,
                    Some(&task_id),
                    if kill_first {
                        "kill, then launch, in one burst".into()
                    } else {
                        "launch, then kill, in one burst".into()
                    },
                    if kill_first {
                        "the kill is answered by reconciliation; the launch is accepted"
                    } else {
                        "the launch is accepted and the task killed (TASK_KILLED)"
                    },
                    out,
                );
                let kill = Message::Kill {
                    framework_id: fid.clone(),
                    task_id: task_id.clone(),
                };
                if kill_first {
                    self.after_next_write.push(kill.clone());
                }
                self.accept(
                    &fid,
                    offer,
                    vec![Operation::Launch { tasks: vec![task] }],
                    out,
                );
                if !kill_first {
                    self.after_next_write.push(kill);
                }
                if let Some(known) = self.state.tasks.get_mut(&task_id) {
                    known.killing = true;
                }
                out.event(Event::SchedulerKilling { task_id });
                self.changed(ctx, out);
                None
            }
            AdversaryAction::LaunchOnStaleOffer => {
                let adversary = self.adversary.as_mut().expect("checked");
                adversary.pending = None;
                self.call_event(
                    action,
                    None,
                    format!("holding offer {} until it goes stale", offer.offer_id),
                    "nothing yet",
                    out,
                );
                let adversary = self.adversary.as_mut().expect("checked");
                adversary.held_offer = Some(HeldOffer {
                    offer,
                    since_ms: ctx.now_ms,
                });
                None
            }
            AdversaryAction::ReserveForAnotherRole | AdversaryAction::UnreserveAnotherRole => {
                self.adversary.as_mut().expect("checked").pending = None;
                let operation = if action == AdversaryAction::ReserveForAnotherRole {
                    Operation::Reserve {
                        role: other_role.clone(),
                        resources: self.config.task_resources,
                    }
                } else {
                    Operation::Unreserve {
                        role: other_role.clone(),
                        resources: self.config.task_resources,
                    }
                };
                self.call_event(
                    action,
                    None,
                    format!("{} for role {other_role} (ours: {role})", operation.name()),
                    "OperationError",
                    out,
                );
                let adversary = self.adversary.as_mut().expect("checked");
                adversary.operation_probes.push_back(action);
                out.send(&master, accept(vec![operation]));
                None
            }
            AdversaryAction::LaunchWithAnotherRole => {
                self.adversary.as_mut().expect("checked").pending = None;
                let task_id = self.ghost_id(&mut draws);
                let expected = Expected::TaskInvalid;
                self.call_event(
                    action,
                    Some(&task_id),
                    format!("launch on resources reserved for role {other_role} (ours: {role})"),
                    expected.describe(self.partition_aware()),
                    out,
                );
                self.add_probe(ctx, task_id.clone(), action, expected, true);
                let task = self.probe_task(task_id, &other_role);
                out.send(
                    &master,
                    accept(vec![Operation::Launch { tasks: vec![task] }]),
                );
                None
            }
            AdversaryAction::AcknowledgeTwice
            | AdversaryAction::AcknowledgeOutOfOrder
            | AdversaryAction::ReconcileUnknownTask
            | AdversaryAction::ReconcileUnknownAgent => Some(offer),
        }
    }

    fn release_held_ack(&mut self, ctx: &Context, out: &mut Out) {
        if let Some(ack) = self.adversary.as_mut().and_then(|a| a.held_ack.take()) {
            self.after_next_write.push(ack);
            self.changed(ctx, out);
        }
    }

    /// An update arrives. Returns `true` if it answers one of the
    /// adversary's probes and must not touch the framework's own view.
    pub(super) fn adversary_on_update(
        &mut self,
        ctx: &Context,
        update: &StatusUpdate,
        out: &mut Out,
    ) -> bool {
        let partition_aware = self.partition_aware();
        let epoch = self.adversary_epoch();
        let was_terminal = self
            .state
            .tasks
            .get(&update.task_id)
            .is_some_and(|t| t.state.is_terminal());
        let definite = self
            .state
            .tasks
            .get(&update.task_id)
            .is_some_and(|t| t.state.is_definite());
        // Whether the task's agent is known to have had it: the framework
        // last heard it starting or running (from its executor, through the
        // agent, or from a leader that held it).
        let agent_had_it = self
            .state
            .tasks
            .get(&update.task_id)
            .is_some_and(|t| matches!(t.state, TaskState::Starting | TaskState::Running));
        let Some(adversary) = &mut self.adversary else {
            return false;
        };
        adversary.first_terminal =
            (update.state.is_terminal() && !was_terminal).then(|| update.task_id.clone());
        if let Some(uuid) = &update.uuid {
            adversary.unacknowledged.insert(uuid.clone(), update.state);
        }
        // Whether this update shows that the current leader holds the task.
        // A reconciliation answer `TASK_UNREACHABLE` does not: Mesos's
        // `Master::reconcile` gives it (case 4) for a task it does not know on
        // an agent the registry lists as unreachable — which is every task of
        // such an agent after a failover, since a new leader recovers the
        // unreachable agents from the registry but not their tasks
        // (`slaves.unreachableTasks` lives in memory, filled by
        // `Master::markUnreachable`), and `validateUniqueTaskID` then accepts
        // the ID.
        //
        // Nor does `TASK_UNREACHABLE` for a task whose agent may never have
        // had it (its `RunTask` lost in the cut): when that agent comes back
        // without reporting the task, `Master::__reregisterSlave` erases it
        // from the unreachable tasks and tells the framework nothing, and the
        // ID is free again. An agent that had the task (it checkpointed it
        // before launching, `Slave::runTask`) reports it on re-registration,
        // and the master keeps the ID.
        let shows_known = update.state != TaskState::Unreachable
            || (agent_had_it && update.reason != Some(Reason::Reconciliation));
        if !shows_known {
            // Whatever a leader said before, the ID is no longer certain.
            adversary.heard_from.remove(&update.task_id);
        }
        let Some(probe) = adversary.probes.get(&update.task_id).cloned() else {
            if let (Some(epoch), true) = (epoch, shows_known) {
                adversary.heard_from.insert(update.task_id.clone(), epoch);
            }
            return false;
        };
        let answered = probe.expected.is_answered_by(update);
        if answered || probe.ghost {
            let answer = match update.reason {
                Some(reason) => format!("{} ({reason})", update.state),
                None => update.state.to_string(),
            };
            let answer = match &update.message {
                Some(message) => format!("{answer}: {message}"),
                None => answer,
            };
            out.event(Event::AdversaryAnswered {
                action: probe.action.name().to_string(),
                task_id: Some(update.task_id.clone()),
                expected: probe.expected.describe(partition_aware).to_string(),
                answer,
            });
            // A ghost that runs after all stays a probe until it ends.
            let running = matches!(
                update.state,
                TaskState::Staging | TaskState::Starting | TaskState::Running
            );
            if !probe.ghost || answered || !running {
                adversary.probes.remove(&update.task_id);
            }
        }
        let running = matches!(
            update.state,
            TaskState::Staging | TaskState::Starting | TaskState::Running
        );
        if !probe.ghost && probe.expected == Expected::TaskInvalid && running && definite {
            // A reuse the master accepted against Mesos's rule: a task the
            // framework considers over runs again. Say so, and kill it.
            out.event(Event::AdversaryAnswered {
                action: probe.action.name().to_string(),
                task_id: Some(update.task_id.clone()),
                expected: probe.expected.describe(partition_aware).to_string(),
                answer: format!("accepted: {} from the {:?}", update.state, update.source),
            });
            adversary.probes.remove(&update.task_id);
            if let (Some(fid), Some(master)) =
                (self.state.framework_id.clone(), self.master().cloned())
            {
                out.send(
                    &master,
                    Message::Kill {
                        framework_id: fid,
                        task_id: update.task_id.clone(),
                    },
                );
            }
            return false;
        }
        if !probe.ghost {
            if let (Some(epoch), true) = (epoch, shows_known) {
                adversary.heard_from.insert(update.task_id.clone(), epoch);
            }
            // A refused reuse's answer is about the launch attempt, not the
            // task the framework tracks under that ID.
            return answered && probe.expected != Expected::Accepted;
        }
        // A ghost is the adversary's alone. If one runs after all (a master
        // accepted what Mesos refuses), kill it; acknowledge what must be.
        if matches!(
            update.state,
            TaskState::Staging | TaskState::Starting | TaskState::Running
        ) {
            if let (Some(fid), Some(master)) =
                (self.state.framework_id.clone(), self.master().cloned())
            {
                out.send(
                    &master,
                    Message::Kill {
                        framework_id: fid,
                        task_id: update.task_id.clone(),
                    },
                );
            }
        }
        if let (Some(uuid), Some(agent_id)) = (update.uuid.clone(), update.agent_id.clone()) {
            self.after_next_write.push(Message::Acknowledge {
                framework_id: update.framework_id.clone(),
                agent_id,
                task_id: update.task_id.clone(),
                uuid,
            });
            self.changed(ctx, out);
        }
        true
    }

    /// Whether to hold back this acknowledgement (the adversary then launches
    /// under the task's ID before it goes). Returns it back if not.
    pub(super) fn adversary_hold_ack(
        &mut self,
        ctx: &Context,
        update_state: TaskState,
        ack: Message,
    ) -> Option<Message> {
        let Some(adversary) = &mut self.adversary else {
            return Some(ack);
        };
        let Message::Acknowledge { task_id, .. } = &ack else {
            return Some(ack);
        };
        if let Some(Message::Acknowledge { task_id: held, .. }) = &adversary.held_ack {
            if held == task_id {
                // A retried copy of the held update: its acknowledgement
                // would free the ID before the launch. The held one answers
                // both (same uuid) once it goes.
                return None;
            }
        }
        let armed = adversary.pending.as_ref().is_some_and(|p| {
            p.action == AdversaryAction::ReuseUnacknowledgedTaskId && p.task_id.is_none()
        });
        if !armed || !update_state.is_terminal() || adversary.held_ack.is_some() {
            return Some(ack);
        }
        let Message::Acknowledge { task_id, .. } = &ack else {
            return Some(ack);
        };
        if adversary.first_terminal.as_ref() != Some(task_id) {
            return Some(ack);
        }
        adversary.pending = Some(Pending {
            action: AdversaryAction::ReuseUnacknowledgedTaskId,
            task_id: Some(task_id.clone()),
            since_ms: ctx.now_ms,
        });
        adversary.held_ack = Some(ack);
        None
    }

    /// Acknowledgements went out (after the state write that reflects them).
    pub(super) fn adversary_on_sent(&mut self, sent: &[Message]) {
        let epoch = self.adversary_epoch();
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        let Some(epoch) = epoch else { return };
        for message in sent {
            let Message::Acknowledge { task_id, uuid, .. } = message else {
                continue;
            };
            let state = adversary.unacknowledged.remove(uuid);
            if adversary.acks_sent.len() == ACKS_REMEMBERED_MAX {
                adversary.acks_sent.pop_front();
            }
            adversary.acks_sent.push_back(SentAck {
                message: message.clone(),
                task_id: task_id.clone(),
                epoch,
            });
            if state.is_some_and(TaskState::is_definite) {
                adversary.acknowledged_final.insert(task_id.clone(), epoch);
            }
        }
    }

    /// The master refused an operation: the answer to a reserve or
    /// unreserve call, if one is waiting.
    pub(super) fn adversary_on_operation_error(
        &mut self,
        operation: &str,
        message: &str,
        out: &mut Out,
    ) {
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        let Some(action) = adversary.operation_probes.pop_front() else {
            return;
        };
        out.event(Event::AdversaryAnswered {
            action: action.name().to_string(),
            task_id: None,
            expected: "OperationError".into(),
            answer: format!("OperationError {operation}: {message}"),
        });
    }
}

fn ack_uuid(message: &Message) -> Option<&UpdateUuid> {
    match message {
        Message::Acknowledge { uuid, .. } => Some(uuid),
        _ => None,
    }
}
