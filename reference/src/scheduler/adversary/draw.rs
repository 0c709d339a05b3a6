//! # Drawing the next adversarial call
//!
//! Like a Jepsen generator: every `every` on average the adversary draws,
//! from the run's seed, one call among those that have a target now — a live
//! task the current leader told it about, an unreachable task its agent had,
//! an acknowledged finished task, an acknowledgement to repeat or reorder —
//! and never more than one call at a time.
//!
//! ## Only calls whose answer is certain
//!
//! A refusal is worth testing only where Mesos's answer does not depend on
//! luck. So every target is relative to the leader we are registered with
//! (its epoch): Mesos's master knows a task ID only once the task's agent
//! has (re-)registered with it or it launched the task itself, and
//! `validateUniqueTaskID` (src/master/validation.cpp) checks only what the
//! master knows — `Framework::tasks` and `Framework::unreachableTasks`, the
//! latter a bounded cache that does not survive a failover (MESOS-6785). A
//! task the framework heard of from an earlier leader may be unknown to
//! this one, and a reuse of its ID would rightly be accepted. Hence:
//! - `reusable_live`: running, not being killed, last heard of *from this
//!   leader*, and no call already about it;
//! - `reusable_unreachable`: `TASK_UNREACHABLE` from this leader, for a task
//!   its agent is known to have had (`adversary_on_update` decides that);
//! - `reusable_finished`: a *definite* terminal update acknowledged to this
//!   leader — `Master::acknowledge` then removed the task (`removeTask`),
//!   and the ID is free.
//!
//! The other calls need no such target. A reconciliation names a ghost ID,
//! which no master knows; only an agent recovered from the registry and not
//! back yet keeps the master silent (`Master::reconcile` case 2), and the
//! probe's patience absorbs that. An unacknowledged reuse is certain while
//! the leader that sent the terminal update leads (the task stays in its
//! `Framework::tasks` until acknowledged); its target carries no epoch,
//! though (see `adversary_on_offer`).
//!
//! The certainty is what the harness relies on: its `reuse_refused` checker
//! (harness/src/refusals.rs) requires that between a call Mesos refuses and
//! its answer, no master launch a task under the call's ID. A call aimed at
//! a task the leader might not know would make that check cry wolf.
//!
//! ## One call at a time, and the mix
//!
//! A new call is drawn only when no other waits (no `Pending`, no held
//! acknowledgement), so each answer can be told apart: two launches racing
//! on one ID, or an acknowledgement released by a second call, would leave
//! the trace ambiguous. Probes already sent may still wait for answers.
//! The scenario's `actions` restricts the draw; among the actions with a
//! target each is equally likely, except the rare `ReuseUnreachableTaskId`
//! (see the comment at the draw).
//!
//! ## Timing
//!
//! The timer fires every `every_ms` on average (uniformly in [½, 1½) of it),
//! from the seed through `Draws`, so a run replays exactly. Three patiences
//! bound what can be outstanding; each is a multiple of `every_ms` with a
//! floor, so a fast adversary still gives the cluster time to answer:
//! a probe's answer (4×, at least 60 s), an offer for a pending call (3×, at
//! least 15 s), a held offer going stale (3×, at least 30 s).

use super::*;

impl Scheduler {
    /// Every `every_ms` on average: draw one adversarial call among those
    /// that have a target now.
    ///
    /// In order: re-arm the timer; give up on probes and pending calls that
    /// waited too long; return a held offer nothing made stale; then, if this
    /// instance is active, registered, reconciled and not over `PROBES_MAX`,
    /// draw an action among those with a target, and either make the call now
    /// (acknowledgements, reconciliations) or leave it pending for the next
    /// offer (`adversary_on_offer`, calls.rs).
    pub(in crate::scheduler) fn tick_adversary(&mut self, ctx: &Context, out: &mut Out) {
        // A stopped instance's timer dies here (it is not re-armed).
        if matches!(
            self.instance,
            crate::scheduler::InstanceState::Stopped { .. }
        ) {
            return;
        }
        // One stream per input: every choice of this tick comes from it.
        let mut draws = Draws::new(ctx.random);
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        // The next tick, whatever happens below: uniform in [every/2, 3·every/2).
        let every_ms = adversary.config.every_ms;
        let wait = every_ms / 2 + draws.next() % every_ms.max(1);
        out.set_timer(SchedulerTimer::Adversary, ctx.now_ms + wait.max(1));
        // Patience: a probe unanswered this long gets none (a lost message,
        // a failover, or Mesos's silence about a recovered agent's task).
        let patience_ms = (4 * every_ms).max(60_000);
        // Traced as "no answer": the trace then shows a call Mesos would have
        // answered and this master did not — or a loss the run explains. A
        // later answer would reach the framework as news (no probe left); for a
        // refused reuse it would mark a live task ended. The master answers
        // within a round trip, or never (lost with the link), so the patience is
        // far beyond any real answer.
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
        // The acknowledgement was held for a reuse that never went out: it goes
        // now, after a write, like any other (the agent has been resending the
        // update meanwhile; the framework's state already reflects it).
        if adversary
            .pending
            .as_ref()
            .is_some_and(|p| p.since_ms + offer_patience_ms <= ctx.now_ms)
        {
            // Given up: the next tick may draw afresh.
            adversary.pending = None;
            if let Some(ack) = adversary.held_ack.take() {
                self.after_next_write.push(ack);
                self.changed(ctx, out);
            }
        }
        // Borrowed again: `changed` above needed all of `self`.
        let adversary = self.adversary.as_mut().expect("checked");
        if adversary.pending.is_some() || adversary.held_ack.is_some() {
            return; // one call at a time
        }
        // An offer is held this long for something to make it stale. In Mesos
        // that is a rescind (its agent removed, `--offer_timeout` passed:
        // `Master::offerTimeout`) or the framework's offers dropped on failover
        // or disconnection (`Master::_failoverFramework`, `Master::deactivate`).
        // Held longer, nothing made it so: decline it, with no filter, so its
        // resources go straight back to the allocator.
        let hold_ms = (3 * every_ms).max(30_000);
        if let Some(held) = adversary.held_offer.take() {
            // Not yet: keep holding it.
            if held.since_ms + hold_ms > ctx.now_ms {
                adversary.held_offer = Some(held);
            // (Unregistered, the offer died with the link: just forget it.)
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
        // Only an active, registered, reconciled instance calls the master: a
        // call while reconciling could be mistaken for the framework's own
        // uncertainty, and the targets depend on the current leader's epoch.
        // Only an active, registered, reconciled instance calls the master.
        let Some(epoch) = self.adversary_epoch() else {
            return;
        };
        // (Registered implies the state is loaded; the check is a guard.)
        if !self.is_active() || !self.reconciling.is_empty() || !self.state_loaded {
            return;
        }
        // Bounded: a master that never answers must not grow the probe map.
        let adversary = self.adversary.as_ref().expect("checked");
        if adversary.probes.len() >= PROBES_MAX {
            return;
        }
        // The targets, computed once for this draw.
        let live = self.reusable_live(epoch);
        let unreachable = self.reusable_unreachable(epoch);
        let finished = self.reusable_finished(epoch);
        let out_of_order = self.out_of_order_ack();
        let adversary = self.adversary.as_ref().expect("checked");
        let mix = &adversary.config.actions;
        // The scenario's mix, minus the actions with nothing to aim at now (a
        // second held offer is never taken: one at a time).
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
        // Nothing to aim at now: wait for the next tick.
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
        // A target, drawn uniformly among the candidates.
        let pick = |list: &[TaskId], draws: &mut Draws| list[draws.below(list.len())].clone();
        // Only the reuses name a task at the tick; the others get theirs (a
        // ghost, a new task) when the call is made.
        let task_id = match action {
            AdversaryAction::ReuseLiveTaskId => Some(pick(&live, &mut draws)),
            AdversaryAction::ReuseUnreachableTaskId => Some(pick(&unreachable, &mut draws)),
            AdversaryAction::ReuseFinishedTaskId => Some(pick(&finished, &mut draws)),
            _ => None,
        };
        // Offer-bound calls wait (`Pending`); the next offer carries them.
        if action.needs_offer() {
            let adversary = self.adversary.as_mut().expect("checked");
            adversary.pending = Some(Pending {
                action,
                task_id,
                since_ms: ctx.now_ms,
            });
            return;
        }
        // The immediate calls, sent on our link to the master now. (Registered,
        // so both are known; the types want them checked.)
        let (Some(fid), Some(master)) = (self.state.framework_id.clone(), self.master().cloned())
        else {
            return;
        };
        match action {
            AdversaryAction::ReuseUnacknowledgedTaskId => {
                // Armed now; the next terminal update names the task and
                // has its acknowledgement held (`adversary_hold_ack`).
                // It needs no offer yet: `adversary_on_offer` waits until an
                // acknowledgement is held, and only then takes one.
                self.adversary.as_mut().expect("checked").pending = Some(Pending {
                    action,
                    task_id: None,
                    since_ms: ctx.now_ms,
                });
            }
            // The master forwards an acknowledgement without judging it
            // (`Master::acknowledge`); the agent's stream ignores one it has had
            // already, or one whose uuid is not the update it is waiting on
            // (`TaskStatusUpdateStream::acknowledgement`,
            // src/slave/task_status_update_manager.cpp). Nothing comes back, so no
            // probe is added: the check is that nothing breaks.
            AdversaryAction::AcknowledgeTwice | AdversaryAction::AcknowledgeOutOfOrder => {
                let adversary = self.adversary.as_ref().expect("checked");
                let sent = if action == AdversaryAction::AcknowledgeTwice {
                    // The last acknowledgement sent, whichever task it was for.
                    adversary.acks_sent.back().cloned()
                } else {
                    out_of_order
                };
                // Nothing to resend (the acks were forgotten with the term).
                let Some(sent) = sent else { return };
                // A repeat may reach a newer leader than the original did; Mesos's
                // answer is the same: forwarded, and ignored by the agent.
                self.call_event(
                    action,
                    Some(&sent.task_id),
                    format!("acknowledgement sent again: {:?}", ack_uuid(&sent.message)),
                    "ignored (the agent drops a duplicate or out-of-date acknowledgement)",
                    out,
                );
                // The very message sent before: same uuid, same agent, same task.
                out.send(&master, sent.message);
            }
            AdversaryAction::ReconcileUnknownTask | AdversaryAction::ReconcileUnknownAgent => {
                // A ghost ID: no answer about it can concern a real task.
                let task_id = self.ghost_id(&mut draws);
                let agent_id = if action == AdversaryAction::ReconcileUnknownAgent {
                    // An ID no master hands out: `Master::reconcile` case 6, "agent unknown".
                    Some(AgentId::new(UNKNOWN_AGENT_ID))
                } else {
                    // An agent the framework knows, if any (Mesos case 3, "agent
                    // registered, task unknown": `TASK_GONE`). That agent may be unreachable
                    // or removed by now (cases 4 and 5); any reconciliation answer counts.
                    // With none, the question names no agent: case 6 again, unless an agent
                    // recovered from the registry is still missing (case 2: no answer).
                    let agents: Vec<AgentId> = self
                        .state
                        .tasks
                        .values()
                        .filter_map(|t| t.agent_id.clone())
                        .collect();
                    (!agents.is_empty()).then(|| agents[draws.below(agents.len())].clone())
                };
                // Answered by the master with `REASON_RECONCILIATION`; the probe is a
                // ghost, so the framework never hears what the master says about it.
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
                // Keyed by the ghost ID, where `adversary_on_update` looks for it.
                self.add_probe(ctx, task_id.clone(), action, expected, true);
                // One task per question: the answer is this probe's alone.
                out.send(
                    &master,
                    Message::Reconcile {
                        framework_id: fid,
                        tasks: vec![ReconcileTask { task_id, agent_id }],
                    },
                );
            }
            // `needs_offer` sent every other action to `Pending` above.
            _ => unreachable!("offer-bound calls wait for an offer"),
        }
    }

    /// Live tasks the current leader told us about: running, not being killed
    /// (a kill in flight would make the answer race the task's end), and not
    /// already the target of a call.
    /// Live tasks the current leader told us about.
    pub(super) fn reusable_live(&self, epoch: u64) -> Vec<TaskId> {
        let Some(adversary) = &self.adversary else {
            return vec![];
        };
        self.state
            .tasks
            .iter()
            .filter(|(id, t)| {
                // Running only: a staging task's accept may still wait for its write,
                // so the master may not know the ID yet.
                t.state == TaskState::Running
                    && !t.killing
                    && adversary.heard_from.get(*id) == Some(&epoch)
                    && !adversary.probes.contains_key(*id)
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Tasks we heard `TASK_UNREACHABLE` about from the current leader, for
    /// which that leader holds the ID in `Framework::unreachableTasks`
    /// (`heard_from` is kept only for such answers: `adversary_on_update`).
    /// Mesos keeps an ID there until the agent re-registers (its tasks then
    /// run again, or are gone: `Master::__reregisterSlave`) or is removed.
    /// Tasks we heard `TASK_UNREACHABLE` about from the current leader.
    pub(super) fn reusable_unreachable(&self, epoch: u64) -> Vec<TaskId> {
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
    /// leader: their IDs are free again. Definite only: after `TASK_LOST` the
    /// task may still run, and its agent could report it again.
    ///
    /// (An acknowledgement lost with a broken link to this same leader would
    /// leave the task in place; the reuse is then refused, and the trace shows
    /// `TASK_ERROR` against "accepted".) `acknowledged_final` is filled when the
    /// write that releases the acknowledgement lands (`adversary_on_sent`).
    pub(super) fn reusable_finished(&self, epoch: u64) -> Vec<TaskId> {
        let Some(adversary) = &self.adversary else {
            return vec![];
        };
        adversary
            .acknowledged_final
            .iter()
            // Acknowledged to this leader, no call about it yet, and still over in
            // the framework's own view (a reuse that was accepted runs again).
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

    /// An older acknowledgement of a task we acknowledged twice or more: the
    /// newest sent, then an earlier one of the same task — out of order for
    /// the agent's stream, which has moved past it.
    /// An older acknowledgement of a task we acknowledged twice or more.
    pub(super) fn out_of_order_ack(&self) -> Option<SentAck> {
        let adversary = self.adversary.as_ref()?;
        let newest = adversary.acks_sent.back()?;
        // The most recent earlier acknowledgement of the same task.
        let older = adversary
            .acks_sent
            .iter()
            .rev()
            .skip(1)
            .find(|a| a.task_id == newest.task_id)?;
        Some(older.clone())
    }
}
