//! # Offers: accept, decline, rescind
//!
//! Mesos does not let frameworks ask for resources; it *offers* them. The
//! leader's allocator periodically hands each agent's free resources
//! (total − used by tasks − already offered) to frameworks, reserved
//! resources only to frameworks of their role, unreserved ones to anyone
//! (`HierarchicalAllocatorProcess::__generateOffers`,
//! src/master/allocator/mesos/hierarchical.cpp, then `Master::offer` in
//! src/master/master.cpp sends one `ResourceOffersMessage` per framework).
//! A framework answers with `Accept` (a list of operations on the offered
//! resources) or `Decline`; the master may take an offer back with
//! `RescindOffer` when the agent disconnects, is removed, or re-registers.
//!
//! `Master::accept` first validates the offers as a whole
//! (`validation::offer::validate`: `validateUniqueOfferID`,
//! `validateOfferIds`, `validateFramework`, `validateSlave`, in
//! src/master/validation.cpp); if they are not valid, every task of the call
//! is reported `TASK_DROPPED` (`TASK_LOST` to a framework that is not
//! partition-aware). Otherwise `Master::_accept` pools the offered
//! resources and applies the operations one after the other — reserve,
//! unreserve, create and destroy a persistent volume, launch — each checked
//! on its own (`validation::operation::validate`, `validation::task::validate`
//! with `validateUniqueTaskID`) against what the earlier ones left in the
//! pool. An invalid operation is refused alone; the valid ones take effect.
//!
//! ## Why offers are safe across a failover
//!
//! Offers are soft state like everything else the leader holds (`Leader::offers`,
//! `master/state.rs`): a new leader starts with none. Their IDs carry the
//! epoch of the leader that made them (`e<epoch>-O<n>`), so an `Accept` of an
//! offer made by a deposed leader names an ID the new leader has never issued
//! and is refused as invalid offers, whatever the tasks in it: resources can
//! never be promised twice, once by each leader.
//!
//! ## The accounting invariant
//!
//! For every agent and role, `used + offered ≤ total` (`AgentEntry`,
//! `master/state.rs`). It is asserted on both sides: after every offer made
//! here and after every accept. An offer takes resources out of the free pool
//! (`AgentEntry::offered`); answering, declining or rescinding it
//! ([`Leader::take_offer`]) puts them back; a launch moves them into
//! `AgentEntry::used` (`AgentEntry::occupy`). A break of the invariant means
//! two frameworks, or a task and an offer, were promised the same resources.

use super::*;
use crate::bugs::master as bugs;
use crate::operations::OfferPool;

impl Leader {
    /// Takes an offer back, returning its resources (and volumes) to the agent's
    /// free pool, and returns it; `None` if no such offer is outstanding.
    ///
    /// The common step of every way an offer ends: accepted (`on_accept`),
    /// declined (`on_decline`), rescinded (`rescind_offers_on`) or dropped
    /// (`remove_offers_of`) — Mesos's `allocator->recoverResources` followed by
    /// `Master::_removeOffer`, shared by `Master::rescindOffer` and
    /// `Master::discardOffer`. Whether the framework is told is up to the caller.
    pub(super) fn take_offer(&mut self, offer_id: &OfferId) -> Option<Offer> {
        let offer = self.offers.remove(offer_id)?;
        // The agent is normally there: an agent's offers are rescinded before the
        // agent leaves `agents` (`remove_agent`, `agents.rs`). Should it be gone,
        // there is nothing to give back.
        if let Some(agent) = self.agents.get_mut(&offer.agent_id) {
            agent.offered = agent
                .offered
                .minus(&offer.resources)
                .expect("an offer's resources are counted as offered");
            // Offered volumes become free again too (a volume in an offer is held
            // by that offer alone, `AgentEntry::volumes_offered`).
            for volume in &offer.volumes {
                agent.volumes_offered.remove(&volume.key());
            }
        }
        Some(offer)
    }

    /// Rescinds every outstanding offer on an agent, telling each framework
    /// (Mesos `Master::rescindOffer`, which sends `RescindResourceOfferMessage`).
    ///
    /// Called when the agent disconnects (Mesos `Master::deactivate(Slave*)`),
    /// when it is removed or marked unreachable (`Master::__removeSlave`,
    /// `Master::_removeSlave`), and when it re-registers, since its resources are
    /// rebuilt from its report (`accept_reregistration`, `agents.rs`). The
    /// framework is told so that it stops counting on those resources; an
    /// `Accept` of a rescinded offer would in any case be refused as invalid
    /// offers, its ID no longer being outstanding.
    pub(super) fn rescind_offers_on(&mut self, agent_id: &AgentId, out: &mut Out) {
        let ids: Vec<OfferId> = self
            .offers
            .iter()
            .filter(|(_, o)| &o.agent_id == agent_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let offer = self.take_offer(&id).expect("listed above");
            // A framework holding offers has an attached scheduler (its offers are
            // dropped when it is deactivated); the check keeps a message from being
            // sent to nobody.
            if let Some(scheduler) = self
                .frameworks
                .get(&offer.framework_id)
                .and_then(|f| f.scheduler.clone())
            {
                out.send(
                    &scheduler,
                    Message::RescindOffer {
                        epoch: self.epoch,
                        offer_id: id,
                    },
                );
            }
        }
    }

    /// Drops a framework's outstanding offers without telling it, returning
    /// their resources to the agents' free pools.
    ///
    /// Used when the framework is deactivated (its scheduler disconnected:
    /// `on_framework_disconnected`), when another scheduler instance takes it
    /// over (`on_reregister_framework`) and when it is removed
    /// (`remove_framework`, all in `frameworks.rs`). Telling it would be
    /// pointless: the scheduler that held the offers is gone or replaced. Mesos
    /// discards such offers without a message in `Master::_failoverFramework`
    /// and `Master::removeFramework` (`discardOffer`), and rescinds them on a
    /// disconnect (`Master::deactivate(Framework*, true)`), where the message
    /// cannot arrive either.
    pub(super) fn remove_offers_of(&mut self, fid: &FrameworkId, _out: &mut Out) {
        let ids: Vec<OfferId> = self
            .offers
            .iter()
            .filter(|(_, o)| &o.framework_id == fid)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.take_offer(&id);
        }
    }

    /// A framework accepts offers (Mesos `Master::accept` and `Master::_accept`).
    ///
    /// First the offers are validated as a whole: all of them must exist, be
    /// this framework's, be on one connected agent, and none may be named twice.
    /// If not, nothing is applied: every task of the call is reported
    /// `TASK_DROPPED` (`TASK_LOST` to a framework that is not partition-aware),
    /// reason `INVALID_OFFERS`, and the framework's offers named in the call are
    /// taken back.
    ///
    /// Otherwise the offers' resources form a pool, and the operations are
    /// applied to it in order, each validated on its own against what the ones
    /// before it left: a `Reserve` followed by a `Create` and a `Launch` using the
    /// new volume is valid in one call. An invalid operation is dropped and
    /// reported (a `Launch`'s invalid task ends `TASK_ERROR`, reason
    /// `TASK_INVALID`; any other operation is answered with `OperationError`);
    /// the valid ones are applied: the master's view of the agent changes at
    /// once, reservations and volumes are sent to the agent (which checkpoints
    /// them) before the tasks that use them, and the tasks start `TASK_STAGING`.
    /// What is left in the pool returns to the agent's free pool and is filtered
    /// for `offer_refuse_ms`, as Mesos filters resources an accept leaves unused
    /// ("implicitly declined", with the call's `refuse_seconds`, 5 s by default).
    pub(super) fn on_accept(
        &mut self,
        env: &mut Env<'_>,
        from: ProcessId,
        fid: FrameworkId,
        offer_ids: Vec<OfferId>,
        operations: Vec<Operation>,
        out: &mut Out,
    ) {
        // Only the attached, active scheduler may use the framework's offers: a
        // failed-over instance that still holds some must not launch on them.
        if !self.check_scheduler(&from, &fid, "Accept", out) {
            return;
        }
        let refuse_ms = env.config.timing.offer_refuse_ms;
        let epoch = self.epoch;
        // Validate the offers: all must exist, be this framework's and be on one
        // agent, and none may be named twice (Mesos `validation::offer::validate`:
        // `validateUniqueOfferID`, `validateOfferIds`, `validateFramework`,
        // `validateSlave`). An empty list is invalid too (Mesos: "No offers
        // specified"): it leaves `agent_id` unset.
        let mut agent_id: Option<AgentId> = None;
        let distinct: BTreeSet<&OfferId> = offer_ids.iter().collect();
        let mut valid = distinct.len() == offer_ids.len();
        for id in &offer_ids {
            match self.offers.get(id) {
                Some(o)
                    if o.framework_id == fid
                        && agent_id.as_ref().is_none_or(|a| a == &o.agent_id) =>
                {
                    agent_id = Some(o.agent_id.clone());
                }
                _ => valid = false,
            }
        }
        // The pool: the resources of the framework's named offers, by role, and
        // the volumes they carry. The operations below draw from it.
        let mut pool = RoleResources::default();
        let mut pool_volumes: BTreeMap<String, Volume> = BTreeMap::new();
        // Every offer of this framework named in the call is taken back now,
        // valid call or not: on an invalid call its resources return to the free
        // pool (Mesos `discardOffer`, without a filter), on a valid one they form
        // the pool. Offers of *other* frameworks are left alone, so a call naming
        // someone else's offer cannot cancel it. (Mesos discards every named offer
        // that exists.)
        for id in &offer_ids {
            if self.offers.get(id).is_some_and(|o| o.framework_id == fid) {
                let offer = self.take_offer(id).expect("present");
                pool = pool.plus(&offer.resources);
                pool_volumes.extend(offer.volumes.into_iter().map(|v| (v.key(), v)));
            }
        }
        // Present: `check_scheduler` found it above. Whether it is partition-aware
        // decides `TASK_DROPPED` or `TASK_LOST` below, and its whole info goes out
        // with each `RunTask`.
        let framework = self.frameworks.get(&fid).expect("checked scheduler");
        let partition_aware = framework.info.partition_aware;
        let info = framework.info.clone();
        let mut updates = Vec::new();
        // A valid call needs its agent still registered and connected: a task sent
        // to a disconnected agent would be lost. Mesos's `validateSlave` CHECKs
        // that (offers are rescinded on disconnect, as here) and `_accept`
        // re-checks it, answering `TASK_DROPPED`/`TASK_LOST` like invalid offers.
        let agent_id = match (valid, agent_id) {
            (true, Some(a)) if self.agents.get(&a).is_some_and(|e| e.connected) => a,
            (_, agent) => {
                // Invalid offers: no operation is applied. Each task of each launch is
                // answered from the master, `TASK_DROPPED` to a partition-aware framework
                // (the task was never launched, and the framework knows it is safe to
                // relaunch it) and `TASK_LOST` to the others, reason `INVALID_OFFERS`, as
                // in `Master::accept`. Other operations are dropped silently (Mesos reports
                // them only to HTTP frameworks that asked for operation feedback,
                // `Master::drop`).
                for operation in operations {
                    let Operation::Launch { tasks } = operation else {
                        continue;
                    };
                    for task in tasks {
                        updates.push(master_update(
                            &fid,
                            &task.task_id,
                            agent.clone(),
                            if partition_aware {
                                TaskState::Dropped
                            } else {
                                TaskState::Lost
                            },
                            Reason::InvalidOffers,
                            "launch used offers that are no longer valid",
                        ));
                    }
                }
                for update in updates {
                    self.send_to_framework(update, out);
                }
                return;
            }
        };
        let agent_process = self.agents[&agent_id].process.clone();
        let role = info.role.clone();
        // The valid operations, sorted by what they need next: reservations and
        // volume changes go to the agent in one `ApplyOperations`, launches become
        // tasks and `RunTask`s, refusals are reported to the scheduler.
        let mut resource_ops = Vec::new();
        let mut launches: Vec<TaskInfo> = Vec::new();
        let mut refusals: Vec<(Operation, String)> = Vec::new();
        // Each operation is checked against the pool as the earlier operations left
        // it; a refusal leaves the pool and the agent as they were.
        for operation in operations {
            let agent = self.agents.get_mut(&agent_id).expect("checked connected");
            let refused: Option<String> = match &operation {
                // RESERVE, UNRESERVE, CREATE, DESTROY: one file each under
                // `crate::operations`, the master's validation (`on_offer`)
                // beside the agent's application (`on_agent`).
                Operation::Reserve { .. }
                | Operation::Unreserve { .. }
                | Operation::Create { .. }
                | Operation::Destroy { .. } => OfferPool {
                    role: &role,
                    resources: &mut pool,
                    volumes: &mut pool_volumes,
                    agent_total: &mut agent.total,
                    agent_volumes: &mut agent.volumes,
                    volumes_in_use: &agent.volumes_in_use,
                }
                .apply(&operation),
                // LAUNCH: each task is checked on its own; an invalid task ends
                // `TASK_ERROR`, the others of the same operation still launch.
                Operation::Launch { tasks } => {
                    for task in tasks {
                        let framework = self.frameworks.get(&fid).expect("checked");
                        // Mesos `validateUniqueTaskID`: an ID the framework
                        // still has in the master — a terminal task whose
                        // update is not acknowledged yet, or a task on an
                        // unreachable agent — cannot be used again.
                        let in_master = framework.tasks.contains_key(&task.task_id)
                            || launches.iter().any(|t| t.task_id == task.task_id);
                        let mut duplicate =
                            in_master || framework.unreachable_tasks.contains_key(&task.task_id);
                        // Planted-bug hook (`bugs/master.rs`).
                        bugs::unique_id_ignores_unreachable(
                            env.config.bug,
                            in_master,
                            &mut duplicate,
                        );
                        // The volume a task names, by its key (`role/id`) on this agent.
                        let volume_key = task.volume.as_ref().map(|v| volume_key(&task.role, v));
                        // The task checks of Mesos `validation::task::validate`, in a fixed order:
                        // a unique ID; some resources; resources of the unreserved role or the
                        // framework's own; the named volume in the offer; enough resources left in
                        // the pool, taken from the task's role only (a task never spills from
                        // reserved onto unreserved resources or back).
                        let problem = if duplicate {
                            Some("task ID already in use")
                        } else if task.resources.is_empty() {
                            Some("task uses no resources")
                        } else if task.role != UNRESERVED && task.role != role {
                            Some("task uses resources reserved for another role")
                        } else if volume_key
                            .as_ref()
                            .is_some_and(|k| !pool_volumes.contains_key(k))
                        {
                            Some("task uses a volume that is not in the offer")
                        } else if !pool.take(&task.role, &task.resources) {
                            Some("task needs more resources than offered")
                        } else {
                            None
                        };
                        // An invalid task is answered from the master with `TASK_ERROR`, reason
                        // `TASK_INVALID`, as `Master::_accept` does; the master never records it.
                        if let Some(problem) = problem {
                            updates.push(master_update(
                                &fid,
                                &task.task_id,
                                Some(agent_id.clone()),
                                TaskState::Error,
                                Reason::TaskInvalid,
                                problem,
                            ));
                            continue;
                        }
                        // A volume is used by one task at a time here (Mesos's shared volumes are
                        // not modelled): taken out of the pool so a second task of this call cannot
                        // name it.
                        if let Some(key) = volume_key {
                            pool_volumes.remove(&key);
                        }
                        launches.push(task.clone());
                    }
                    // A launch is never refused as a whole: its tasks were answered one by
                    // one above.
                    None
                }
            };
            // Refused operations are reported below; valid non-launch ones go to the
            // agent; valid launches were collected in `launches`.
            match refused {
                Some(reason) => refusals.push((operation, reason)),
                None if !matches!(operation, Operation::Launch { .. }) => {
                    resource_ops.push(operation)
                }
                None => {}
            }
        }
        // Reservations and volumes reach the agent before the tasks using them:
        // messages on one connection arrive in order, so the agent has checkpointed
        // a reservation or volume before a task that needs it arrives. If the
        // message is lost with the connection, the agent re-registers reporting its
        // own resources and the master adopts that report (`accept_reregistration`,
        // `agents.rs`); a task sent after a lost `ApplyOperations` is lost too.
        if !resource_ops.is_empty() {
            out.send(
                &agent_process,
                Message::ApplyOperations {
                    epoch,
                    operations: resource_ops,
                },
            );
        }
        // Each valid task becomes a `TASK_STAGING` task of the master's soft state
        // before `RunTask` is sent (Mesos `Master::addTask`, then
        // `RunTaskMessage`): if the agent never gets it, the task is still known
        // and is reconciled when the agent re-registers without it
        // (`AgentReconcileTasks`, `accept_reregistration`).
        for task in launches {
            let framework = self.frameworks.get_mut(&fid).expect("checked");
            framework.tasks.insert(
                task.task_id.clone(),
                TaskEntry {
                    agent_id: agent_id.clone(),
                    info: task.clone(),
                    state: TaskState::Staging,
                    status_update_state: None,
                    latest_uuid: None,
                },
            );
            // The task's resources (and volume) move to `used`, asserting the
            // invariant: the other side of the check made when offering.
            self.agents
                .get_mut(&agent_id)
                .expect("checked")
                .occupy(&task.task_id, &task);
            out.event(Event::TaskLaunched {
                framework_id: fid.clone(),
                task_id: task.task_id.clone(),
                agent_id: agent_id.clone(),
            });
            // The whole `FrameworkInfo` goes with the task: an agent that never saw
            // this framework learns it from its first task, and reports it when it
            // re-registers, which is how a new leader learns of the framework.
            out.send(
                &agent_process,
                Message::RunTask {
                    epoch,
                    framework: Box::new(info.clone()),
                    task,
                },
            );
        }
        // After all operations: the agent is still not over-committed.
        self.agents[&agent_id].assert_accounting();
        if !pool.is_empty() || !pool_volumes.is_empty() {
            // Unused resources of an accepted offer are filtered for a while (Mesos
            // applies the call's `refuse_seconds`, 5 s by default, to what the call
            // leaves: `recoverResources` with `accept.filters()`), so the framework is
            // not offered the leftovers again at once.
            if let Some(framework) = self.frameworks.get_mut(&fid) {
                framework
                    .filters
                    .insert(agent_id, env.ctx.now_ms + refuse_ms);
            }
        }
        // Each refusal is traced (`OperationRefused`) and answered with an
        // `OperationError` naming the reason, so a framework that asked to reserve
        // or create a volume learns that it did not happen instead of waiting for
        // it.
        let scheduler = self.frameworks.get(&fid).and_then(|f| f.scheduler.clone());
        for (operation, reason) in refusals {
            out.event(Event::OperationRefused {
                framework_id: fid.clone(),
                operation: operation.name().to_string(),
                reason: reason.clone(),
            });
            if let Some(scheduler) = &scheduler {
                out.send(
                    scheduler,
                    Message::OperationError {
                        epoch,
                        operation,
                        message: reason,
                    },
                );
            }
        }
        // `TASK_ERROR` updates of invalid tasks, sent last.
        for update in updates {
            self.send_to_framework(update, out);
        }
    }

    /// A framework declines offers (Mesos `Master::decline`): their resources
    /// return to the agents' free pools, and each declined offer's agent is
    /// filtered for this framework for `refuse_ms` (the call's `refuse_seconds`),
    /// so the allocator offers them to others first. Offers that are no longer
    /// outstanding, or that are another framework's, are ignored (Mesos ignores
    /// IDs it does not know).
    pub(super) fn on_decline(
        &mut self,
        env: &mut Env<'_>,
        from: ProcessId,
        fid: FrameworkId,
        offer_ids: Vec<OfferId>,
        refuse_ms: u64,
        out: &mut Out,
    ) {
        if !self.check_scheduler(&from, &fid, "Decline", out) {
            return;
        }
        for id in offer_ids {
            // Only the framework's own offers: a decline must not cancel an offer
            // made to someone else.
            if self.offers.get(&id).is_some_and(|o| o.framework_id == fid) {
                let offer = self.take_offer(&id).expect("present");
                // The filter is what makes a decline more than a no-op: without it the
                // next round would offer the same resources straight back.
                if let Some(framework) = self.frameworks.get_mut(&fid) {
                    framework
                        .filters
                        .insert(offer.agent_id, env.ctx.now_ms + refuse_ms);
                }
            }
        }
    }
}
