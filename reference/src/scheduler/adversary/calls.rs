//! # Making the call
//!
//! A call that needs an offer waits for the next one (or holds one until it
//! is rescinded or the master fails over), then goes out as Mesos's
//! framework API would carry it: `Accept` with a launch under a reused ID or
//! on another role's resources, a kill racing a launch, a reconciliation of
//! a task or an agent nobody knows. What Mesos answers is recorded with it.
//!
//! Each call meets a different check of the master (src/master/master.cpp,
//! src/master/validation.cpp):
//!
//! | call | where Mesos answers it |
//! |---|---|
//! | launch under a reused ID | `validation::task::internal::validateUniqueTaskID`, run by `validation::task::validate` from `Master::_accept` |
//! | launch on a stale offer | `validation::offer::validate` in `Master::accept`: `TASK_LOST`/`TASK_DROPPED`, `REASON_INVALID_OFFERS`, before any task check |
//! | reserve for, or unreserve, another role | `validation::operation::validate` (reserve), or the offered resources lacking what is unreserved (`Master::_accept`) |
//! | launch on another role's resources | `validation::task::validate`: the task's resources are not in the offer |
//! | kill racing a launch | `Master::kill`: a task it does not know yet gets a reconciliation answer |
//!
//! Two kinds of call, by what the framework must remember:
//! - **refused or ghost calls** go out at once, straight to the master: a
//!   launch Mesos refuses creates nothing, and a ghost ID is nobody's, so
//!   there is no intent to make durable. The answer is awaited as a probe.
//! - **calls that may create a task** — `ReuseFinishedTaskId`,
//!   `KillAndLaunch` — launch a real task of the framework. They go through
//!   `Scheduler::accept` like any launch: recorded in the state, sent after
//!   the write, counted and reconciled like the framework's own tasks.
//!
//! ## The calls, from offer to answer
//!
//! - `ReuseLiveTaskId`, `ReuseUnreachableTaskId`: the task drawn at the tick
//!   is checked again (an update may have changed it), then an `Accept`
//!   launches a task under its ID. A probe on the real ID waits for the
//!   refusal, which `adversary_on_update` consumes: the framework's task is
//!   untouched.
//! - `ReuseUnacknowledgedTaskId`: armed at a tick; the next first terminal
//!   update has its acknowledgement held (`adversary_hold_ack`); the next
//!   offer carries the launch, and the acknowledgement follows it.
//! - `ReuseFinishedTaskId`: the launch goes through `accept`, is accepted,
//!   and the task runs again as the framework's own (a surplus is killed).
//! - `LaunchOnStaleOffer`: the offer is held, goes stale, and a ghost task
//!   is launched on it.
//! - `KillAndLaunch`: a real new task; its answers are its own updates.
//! - `ReserveForAnotherRole`, `UnreserveAnotherRole`: answered by an
//!   `OperationError`, matched in order (`operation_probes`).
//! - `LaunchWithAnotherRole`: a ghost task on resources the offer lacks.
//!
//! ## What a master that got it wrong would break
//!
//! - accepting a live or unreachable task's ID: two copies under one ID,
//!   whose updates cannot be told apart (acknowledging one acknowledges the
//!   other), or a task revived that the framework was about to hear ended;
//! - refusing a finished task's ID: completed tasks kept in
//!   `Framework::tasks`, i.e. leaked;
//! - accepting a stale offer: resources handed out twice, since they may
//!   have gone to another framework since the offer was rescinded;
//! - reserving, unreserving or launching on another role's resources: one
//!   role taking what Mesos guarantees to another.
//!
//! A reuse launch does not check that the task fits the offer: Mesos checks
//! the ID before the resources (`validation::task::internal::validateTask`
//! runs `validateUniqueTaskID` first), and both refusals are `TASK_INVALID`.
//!
//! ## Offers taken from the framework
//!
//! While a call waits, the next offer is the call's: the framework's own
//! placement never sees it and launches from later offers instead. The
//! call's `Accept` answers the offer; whatever it leaves unused is declined
//! implicitly, without a filter, so those resources come back soon. All the
//! choices made here (ghost IDs, the kill order) come from `Draws`, seeded
//! by the input's random word: a run replays call for call.
//!
//! Every call sent is traced (`Event::AdversaryCall`) with the answer Mesos
//! gives; every answer, or its absence, as `Event::AdversaryAnswered`
//! (`answers.rs`, `tick_adversary`).

use super::*;

impl Scheduler {
    /// Arms the adversary's timer after a registration, and launches on an
    /// offer held across it: the master that made the offer either failed
    /// over or dropped the framework's offers when its link broke, so the
    /// offer is stale.
    ///
    /// (Mesos's master discards a framework's offers when another scheduler
    /// takes it over, `Master::_failoverFramework`, and rescinds them when the
    /// same scheduler re-subscribes, `Master::_subscribe`; this crate's master
    /// removes them when the framework's link breaks, `master/frameworks.rs`.)
    pub(in crate::scheduler) fn adversary_on_registered(&mut self, ctx: &Context, out: &mut Out) {
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        // The first registration arms the timer; later ones find it ticking.
        if !adversary.armed {
            adversary.armed = true;
            let every_ms = adversary.config.every_ms;
            let mut draws = Draws::new(ctx.random);
            // The first wait, drawn like every later one (`tick_adversary`).
            let wait = every_ms / 2 + draws.next() % every_ms.max(1);
            out.set_timer(SchedulerTimer::Adversary, ctx.now_ms + wait.max(1));
        }
        // Held across a re-registration: stale by now, whoever made it.
        if let Some(held) = adversary.held_offer.take() {
            self.launch_on_stale_offer(ctx, held, "held across a re-registration", out);
        }
    }

    /// The offer we hold was rescinded: use it anyway. (Mesos rescinds an offer
    /// when its agent goes away or its resources are reclaimed,
    /// `Master::rescindOffer`; an accept after that names an offer the master
    /// no longer has.)
    /// The offer we hold was rescinded: use it anyway.
    pub(in crate::scheduler) fn adversary_on_rescind(
        &mut self,
        ctx: &Context,
        offer_id: &OfferId,
        out: &mut Out,
    ) {
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        // Only the offer we hold; the framework never holds any other.
        if adversary
            .held_offer
            .as_ref()
            .is_some_and(|h| &h.offer.offer_id == offer_id)
        {
            // Taken: it cannot be used twice.
            let held = adversary.held_offer.take().expect("checked");
            self.launch_on_stale_offer(ctx, held, "held past its rescind", out);
        }
    }

    /// Launches a ghost task on an offer that is no longer valid. The answer
    /// Mesos gives comes from the offer check alone (`validation::offer::validate`
    /// in `Master::accept`): the launch is dropped with `TASK_LOST`, or
    /// `TASK_DROPPED` for a partition-aware framework, `REASON_INVALID_OFFERS`.
    /// The task is a ghost so that, should a master run it anyway, nothing of
    /// the framework is touched (`adversary_on_update` kills it).
    pub(super) fn launch_on_stale_offer(
        &mut self,
        ctx: &Context,
        held: HeldOffer,
        why: &str,
        out: &mut Out,
    ) {
        // No link to send on: the offer is simply forgotten.
        let (Some(fid), Some(master)) = (self.state.framework_id.clone(), self.master().cloned())
        else {
            return;
        };
        // A fresh stream: this may run in the same input as another draw, which
        // only makes the two correlated, never wrong.
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
        // A plain task on unreserved resources: only the offer is wrong.
        let task = self.probe_task(task_id.clone(), UNRESERVED);
        // A ghost probe: every update about the ID is the adversary's.
        self.add_probe(ctx, task_id, action, expected, true);
        // Straight to the master: nothing here is the framework's to persist.
        out.send(
            &master,
            Message::Accept {
                framework_id: fid,
                offer_ids: vec![held.offer.offer_id],
                operations: vec![Operation::Launch { tasks: vec![task] }],
            },
        );
    }

    /// An offer arrives while a call waits for one (or a stale offer is to be
    /// held): the adversary takes it. Returns the offer if it did not.
    ///
    /// An offer taken is used for the call alone, and answered by the call's
    /// `Accept` (or held, for `LaunchOnStaleOffer`); one given back goes on to
    /// the framework's own placement (`on_offers`). A call whose target changed
    /// since the draw is dropped here, untraced: only calls actually sent are
    /// traced, with the answer Mesos gives them.
    pub(in crate::scheduler) fn adversary_on_offer(
        &mut self,
        ctx: &Context,
        offer: Offer,
        out: &mut Out,
    ) -> Option<Offer> {
        let Some(adversary) = &mut self.adversary else {
            return Some(offer);
        };
        // No call waiting: the framework's offer.
        let Some(pending) = adversary.pending.clone() else {
            return Some(offer);
        };
        // An unacknowledged reuse is armed but has no target until a terminal
        // update's acknowledgement is held (`adversary_hold_ack`).
        if pending.action == AdversaryAction::ReuseUnacknowledgedTaskId && pending.task_id.is_none()
        {
            return Some(offer); // no terminal update held yet
        }
        // Calls go only to the master we are registered with, and targets are
        // relative to its epoch.
        let (Some(fid), Some(epoch)) = (self.state.framework_id.clone(), self.adversary_epoch())
        else {
            return Some(offer);
        };
        // (Registered implies a link.)
        let master = self.master().cloned().expect("registered");
        // A role that is not ours, and that no framework of the run uses.
        let role = self.config.framework.role.clone();
        // (Never the framework's own role, whichever it is.)
        let other_role = if role == "other" { "another" } else { "other" }.to_string();
        // Calls that start a real task need an offer they fit in.
        let fits = offer
            .resources
            .get(UNRESERVED)
            .contains(&self.config.task_resources);
        // For a ghost ID, or the kill-first coin.
        let mut draws = Draws::new(ctx.random);
        let action = pending.action;
        // An `Accept` of this one offer, with the call's operations.
        let accept = |operations: Vec<Operation>| Message::Accept {
            framework_id: fid.clone(),
            // `fid` and the offer ID, captured for each call's `Accept`.
            offer_ids: vec![offer.offer_id.clone()],
            operations,
        };
        match action {
            // Reuses Mesos refuses: a live task's ID, a task's ID whose terminal
            // update is not acknowledged, an unreachable task's ID.
            AdversaryAction::ReuseLiveTaskId
            | AdversaryAction::ReuseUnreachableTaskId
            | AdversaryAction::ReuseUnacknowledgedTaskId => {
                // Drawn at the tick, or named when the acknowledgement was held.
                let task_id = pending.task_id.clone().expect("a reuse names its task");
                // Still what it was when drawn? (An update may have come since.)
                let still = match action {
                    AdversaryAction::ReuseLiveTaskId => {
                        self.reusable_live(epoch).contains(&task_id)
                    }
                    AdversaryAction::ReuseUnreachableTaskId => {
                        self.reusable_unreachable(epoch).contains(&task_id)
                    }
                    // (No epoch check for the unacknowledged reuse: after a master
                    // failover the new leader may not know the task until its agent
                    // re-registers, and would then accept the reuse.)
                    _ => true, // its acknowledgement is held: it stays unacknowledged
                };
                // The call is made or dropped now; either way, nothing is pending.
                self.adversary.as_mut().expect("checked").pending = None;
                // Dropped: the held acknowledgement, if any, goes out as usual.
                if !still {
                    self.release_held_ack(ctx, out);
                    return Some(offer);
                }
                // Refused by `validateUniqueTaskID`: "Task has duplicate ID", or "Task
                // reuses the ID of an unreachable task".
                let expected = Expected::TaskInvalid;
                // For the trace: what the framework believes of the task.
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
                // Not a ghost: the ID is a real task's. The refusal, when it comes, is
                // consumed by the adversary and never reaches the framework's view.
                self.add_probe(ctx, task_id.clone(), action, expected, false);
                // The reused ID on plain resources: only the ID is wrong.
                let task = self.probe_task(task_id, UNRESERVED);
                // Sent at once: a refused launch needs no intent on record.
                out.send(
                    &master,
                    accept(vec![Operation::Launch { tasks: vec![task] }]),
                );
                // The held acknowledgement follows the launch (after a write,
                // as every acknowledgement does).
                self.release_held_ack(ctx, out);
                None
            }
            // A finished task's ID: free again once its definite terminal update was
            // acknowledged (`Master::acknowledge` → `Master::removeTask`), so Mesos
            // accepts the launch. The task is the framework's again: a new incarnation.
            AdversaryAction::ReuseFinishedTaskId => {
                // Named at the tick.
                let task_id = pending.task_id.clone().expect("a reuse names its task");
                if !fits {
                    return Some(offer); // wait for an offer it fits in
                }
                // Made or dropped now; it no longer waits.
                self.adversary.as_mut().expect("checked").pending = None;
                // Still free? (A reuse since, or an update, may have changed that.)
                if !self.reusable_finished(epoch).contains(&task_id) {
                    return Some(offer);
                }
                // Any update answers it (`Expected::Accepted`); the framework sees the
                // updates too, and counts the task.
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
                // Once reused, the ID is no longer a finished task's.
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
                // Like a replacement: the framework's own resources and steady workload.
                let mut task = self.probe_task(task_id, UNRESERVED);
                task.workload = self.config.workload.steady.clone();
                // Through the framework's own path: recorded, unpersisted, queued.
                self.accept(
                    &fid,
                    offer,
                    vec![Operation::Launch { tasks: vec![task] }],
                    out,
                );
                // The write that makes the intent durable; the accept follows it.
                self.changed(ctx, out);
                None
            }
            // A new task of the framework, launched and killed in one burst. Both
            // messages wait for the same write and leave in the order queued.
            AdversaryAction::KillAndLaunch => {
                // A real task: it must fit; otherwise wait for an offer that does.
                if !fits {
                    return Some(offer);
                }
                self.adversary.as_mut().expect("checked").pending = None;
                // A real task: its ID from the framework's counter.
                let task = self.new_task();
                let task_id = task.task_id.clone();
                // Kill first: the master does not know the task yet (`Master::kill`:
                // "unknown; performing reconciliation"), and the launch then runs. Launch
                // first: the master knows it, and the kill reaches its agent, maybe
                // before the task starts (Mesos's agent then drops it from its pending
                // tasks, `Slave::killTask` → `killPendingTask`, and sends `TASK_KILLED`).
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
                // Not a probe: the answers are ordinary updates, for the framework.
                let kill = Message::Kill {
                    framework_id: fid.clone(),
                    task_id: task_id.clone(),
                };
                // Queued before the accept: it leaves first.
                if kill_first {
                    self.after_next_write.push(kill.clone());
                }
                self.accept(
                    &fid,
                    offer,
                    vec![Operation::Launch { tasks: vec![task] }],
                    out,
                );
                // Queued after the accept: the launch leaves first.
                if !kill_first {
                    self.after_next_write.push(kill);
                }
                // Out of the count at once, like any task being killed. (Kill first,
                // partition-aware: the reconciliation answer is `TASK_UNKNOWN`, not
                // terminal, so `killing` stays set while the task runs: see `kill`.)
                if let Some(known) = self.state.tasks.get_mut(&task_id) {
                    known.killing = true;
                }
                // Traced like the framework's own kills.
                out.event(Event::SchedulerKilling { task_id });
                self.changed(ctx, out);
                None
            }
            // Take this offer and answer it with nothing; the next rescind, or the
            // next registration, makes it stale (`adversary_on_rescind`,
            // `adversary_on_registered`), and `tick_adversary` gives it back if
            // neither comes in time.
            AdversaryAction::LaunchOnStaleOffer => {
                // The call becomes the held offer; nothing is pending any more.
                let adversary = self.adversary.as_mut().expect("checked");
                adversary.pending = None;
                // Traced now as a hold; the launch is traced when it is made.
                self.call_event(
                    action,
                    None,
                    format!("holding offer {} until it goes stale", offer.offer_id),
                    "nothing yet",
                    out,
                );
                let adversary = self.adversary.as_mut().expect("checked");
                // Held: neither accepted nor declined. The master counts its resources
                // as ours until it is rescinded, or until we decline it.
                adversary.held_offer = Some(HeldOffer {
                    offer,
                    since_ms: ctx.now_ms,
                });
                None
            }
            // An operation on another role's resources. Mesos drops it: a reserve
            // fails `validation::operation::validate` ("the framework can only
            // reserve resources with roles ..."), an unreserve of resources the offer
            // does not hold fails in `Master::_accept`. Mesos tells the framework only
            // with operation feedback (an operation `id`, `Master::drop`); this crate's
            // master always answers `OperationError`, so the call has an answer.
            AdversaryAction::ReserveForAnotherRole | AdversaryAction::UnreserveAnotherRole => {
                // Made now: nothing waits for an offer any more.
                self.adversary.as_mut().expect("checked").pending = None;
                // The framework's task resources, for the other role.
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
                // Answers are matched in order: operations are validated as they come.
                let adversary = self.adversary.as_mut().expect("checked");
                adversary.operation_probes.push_back(action);
                // In flight now; `adversary_on_operation_error` takes the answer.
                out.send(&master, accept(vec![operation]));
                None
            }
            // A ghost task whose resources are reserved for another role: they are
            // not in this offer, so `validation::task::validate` refuses it,
            // `TASK_ERROR` with `REASON_TASK_INVALID`.
            AdversaryAction::LaunchWithAnotherRole => {
                // Made now: nothing waits for an offer any more.
                self.adversary.as_mut().expect("checked").pending = None;
                // A ghost: should a master run it anyway, it is killed.
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
                // Its resources are reserved for `other_role`.
                let task = self.probe_task(task_id, &other_role);
                // Straight to the master: a ghost needs no intent on record.
                out.send(
                    &master,
                    accept(vec![Operation::Launch { tasks: vec![task] }]),
                );
                None
            }
            // Calls that never wait for an offer: the offer is the framework's.
            AdversaryAction::AcknowledgeTwice
            | AdversaryAction::AcknowledgeOutOfOrder
            | AdversaryAction::ReconcileUnknownTask
            | AdversaryAction::ReconcileUnknownAgent => Some(offer),
        }
    }

    /// Sends the held acknowledgement, if any: queued for the next state write
    /// like every acknowledgement, so it leaves after the launch that reused its
    /// task's ID (sent directly, before the write). Called once the reuse is
    /// sent, or dropped; `tick_adversary` releases it too when no offer came.
    pub(super) fn release_held_ack(&mut self, ctx: &Context, out: &mut Out) {
        if let Some(ack) = self.adversary.as_mut().and_then(|a| a.held_ack.take()) {
            self.after_next_write.push(ack);
            // A write is due now; the acknowledgement leaves when it lands.
            self.changed(ctx, out);
        }
    }
}
