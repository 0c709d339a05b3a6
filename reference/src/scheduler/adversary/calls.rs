//! # Making the call
//!
//! A call that needs an offer waits for the next one (or holds one until it
//! is rescinded or the master fails over), then goes out as Mesos's
//! framework API would carry it: `Accept` with a launch under a reused ID or
//! on another role's resources, a kill racing a launch, a reconciliation of
//! a task or an agent nobody knows. What Mesos answers is recorded with it.

use super::*;

impl Scheduler {
    /// Arms the adversary's timer after a registration, and launches on an
    /// offer held across it: the master that made the offer either failed
    /// over or dropped the framework's offers when its link broke, so the
    /// offer is stale.
    pub(in crate::scheduler) fn adversary_on_registered(&mut self, ctx: &Context, out: &mut Out) {
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
    pub(in crate::scheduler) fn adversary_on_rescind(
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

    pub(super) fn launch_on_stale_offer(
        &mut self,
        ctx: &Context,
        held: HeldOffer,
        why: &str,
        out: &mut Out,
    ) {
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

    /// An offer arrives while a call waits for one (or a stale offer is to be
    /// held): the adversary takes it. Returns the offer if it did not.
    pub(in crate::scheduler) fn adversary_on_offer(
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

    pub(super) fn release_held_ack(&mut self, ctx: &Context, out: &mut Out) {
        if let Some(ack) = self.adversary.as_mut().and_then(|a| a.held_ack.take()) {
            self.after_next_write.push(ack);
            self.changed(ctx, out);
        }
    }
}
