//! # Drawing the next adversarial call
//!
//! Like a Jepsen generator: every `every` on average the adversary draws,
//! from the run's seed, one call among those that have a target now — a live
//! task the current leader told it about, an unreachable task its agent had,
//! an acknowledged finished task, an acknowledgement to repeat or reorder —
//! and never more than one call at a time.

use super::*;

impl Scheduler {
    /// Every `every_ms` on average: draw one adversarial call among those
    /// that have a target now.
    pub(in crate::scheduler) fn tick_adversary(&mut self, ctx: &Context, out: &mut Out) {
        if matches!(
            self.instance,
            crate::scheduler::InstanceState::Stopped { .. }
        ) {
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
    pub(super) fn reusable_live(&self, epoch: u64) -> Vec<TaskId> {
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
    /// leader: their IDs are free again.
    pub(super) fn reusable_finished(&self, epoch: u64) -> Vec<TaskId> {
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
    pub(super) fn out_of_order_ack(&self) -> Option<SentAck> {
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
}
