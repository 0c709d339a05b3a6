//! # Offers: allocation, accept, decline, rescind
//!
//! Mesos's allocator offers each agent's free resources (total − used −
//! offered) to frameworks, reserved resources only to their role
//! (`HierarchicalAllocatorProcess::allocate`); `Master::accept` validates the
//! offers, then each operation — reserve, unreserve, create, destroy, launch
//! (`validation::offer::validate`, `validation::operation::validate`,
//! `validation::task::validate`, `validateUniqueTaskID`) — and applies what
//! is valid; `Master::decline`, `Master::rescindOffer`.

use super::*;
use crate::bugs::master as bugs;

impl Leader {
    pub(super) fn tick_allocate(&mut self, env: &mut Env<'_>, out: &mut Out) {
        let interval = env.config.timing.allocation_interval_ms;
        out.set_timer(MasterTimer::Allocate, env.ctx.now_ms + interval);
        let mut batches: BTreeMap<FrameworkId, Vec<Offer>> = BTreeMap::new();
        let agent_ids: Vec<AgentId> = self.agents.keys().cloned().collect();
        for agent_id in agent_ids {
            if !self.agents[&agent_id].connected {
                continue;
            }
            // Smallest allocation first (a one-resource DRF), ties by ID. Each
            // framework is offered the unreserved resources still free and what
            // is reserved for its own role (with its role's free volumes); so
            // reserved resources reach only frameworks of their role.
            let mut candidates: Vec<(u64, FrameworkId, String)> = self
                .frameworks
                .iter()
                .filter(|(_, f)| f.active && f.scheduler.is_some())
                .filter(|(_, f)| {
                    f.filters
                        .get(&agent_id)
                        .is_none_or(|until| *until <= env.ctx.now_ms)
                })
                .map(|(fid, f)| {
                    let allocated: u64 = f
                        .tasks
                        .values()
                        .filter(|t| t.state.is_active())
                        .map(|t| t.info.resources.cpus_milli)
                        .sum();
                    (allocated, fid.clone(), f.info.role.clone())
                })
                .collect();
            candidates.sort();
            for (_, fid, role) in candidates {
                let agent = self.agents.get_mut(&agent_id).expect("listed above");
                let share = agent.free().for_role(&role);
                let mut volumes = agent.free_volumes(&role);
                // Planted-bug hook (`bugs/master.rs`).
                bugs::volume_offered_to_any_role(env.config.bug, agent, &mut volumes);
                if share.is_empty() && volumes.is_empty() {
                    continue;
                }
                agent.offered = agent.offered.plus(&share);
                agent
                    .volumes_offered
                    .extend(volumes.iter().map(Volume::key));
                agent.assert_accounting();
                let offer_id = OfferId::new(epoch_id(self.epoch, 'O', self.next_offer));
                self.next_offer += 1;
                let hostname = agent.process.clone();
                let offer = Offer {
                    offer_id: offer_id.clone(),
                    framework_id: fid.clone(),
                    agent_id: agent_id.clone(),
                    hostname,
                    resources: share,
                    volumes,
                };
                self.offers.insert(offer_id, offer.clone());
                batches.entry(fid).or_default().push(offer);
            }
        }
        let epoch = self.epoch;
        for (fid, offers) in batches {
            let scheduler = self.frameworks[&fid]
                .scheduler
                .clone()
                .expect("filtered above");
            out.send(&scheduler, Message::ResourceOffers { epoch, offers });
        }
    }

    /// Takes an offer back, returning its resources to the agent's free pool.
    pub(super) fn take_offer(&mut self, offer_id: &OfferId) -> Option<Offer> {
        let offer = self.offers.remove(offer_id)?;
        if let Some(agent) = self.agents.get_mut(&offer.agent_id) {
            agent.offered = agent
                .offered
                .minus(&offer.resources)
                .expect("an offer's resources are counted as offered");
            for volume in &offer.volumes {
                agent.volumes_offered.remove(&volume.key());
            }
        }
        Some(offer)
    }

    pub(super) fn rescind_offers_on(&mut self, agent_id: &AgentId, out: &mut Out) {
        let ids: Vec<OfferId> = self
            .offers
            .iter()
            .filter(|(_, o)| &o.agent_id == agent_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let offer = self.take_offer(&id).expect("listed above");
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

    /// Drops a framework's outstanding offers without telling it (it is
    /// disconnected or replaced).
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

    /// An accept: the offers' resources form a pool, and the operations are
    /// applied to it in order, each validated on its own (Mesos). An invalid
    /// operation is dropped and reported (a LAUNCH ends `TASK_ERROR`); the valid
    /// ones are applied: reservations and volumes are sent to the agent (which
    /// checkpoints them) before the tasks that use them.
    pub(super) fn on_accept(
        &mut self,
        env: &mut Env<'_>,
        from: ProcessId,
        fid: FrameworkId,
        offer_ids: Vec<OfferId>,
        operations: Vec<Operation>,
        out: &mut Out,
    ) {
        if !self.check_scheduler(&from, &fid, "Accept", out) {
            return;
        }
        let refuse_ms = env.config.timing.offer_refuse_ms;
        let epoch = self.epoch;
        // Validate the offers: all must exist, be this framework's and be on one
        // agent, and none may be named twice (Mesos `validation::offer::validate`:
        // `validateUniqueOfferID`, `validateFramework`, `validateSlave`).
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
        let mut pool = RoleResources::default();
        let mut pool_volumes: BTreeMap<String, Volume> = BTreeMap::new();
        for id in &offer_ids {
            if self.offers.get(id).is_some_and(|o| o.framework_id == fid) {
                let offer = self.take_offer(id).expect("present");
                pool = pool.plus(&offer.resources);
                pool_volumes.extend(offer.volumes.into_iter().map(|v| (v.key(), v)));
            }
        }
        let framework = self.frameworks.get(&fid).expect("checked scheduler");
        let partition_aware = framework.info.partition_aware;
        let info = framework.info.clone();
        let mut updates = Vec::new();
        let agent_id = match (valid, agent_id) {
            (true, Some(a)) if self.agents.get(&a).is_some_and(|e| e.connected) => a,
            (_, agent) => {
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
        let mut resource_ops = Vec::new();
        let mut launches: Vec<TaskInfo> = Vec::new();
        let mut refusals: Vec<(Operation, String)> = Vec::new();
        for operation in operations {
            let agent = self.agents.get_mut(&agent_id).expect("checked connected");
            let refused: Option<String> = match &operation {
                Operation::Reserve {
                    role: target,
                    resources,
                } => {
                    if *target != role || target == UNRESERVED {
                        Some(format!(
                            "cannot reserve for role {target}: the framework's role is {role}"
                        ))
                    } else if !pool.take(UNRESERVED, resources) {
                        Some(format!(
                            "reserving more than offered: {resources} asked, {} unreserved offered",
                            pool.get(UNRESERVED)
                        ))
                    } else {
                        pool.add(target, resources);
                        agent.total.take_exact(UNRESERVED, resources);
                        agent.total.add(target, resources);
                        None
                    }
                }
                Operation::Unreserve {
                    role: target,
                    resources,
                } => {
                    let offered = pool.get(target);
                    if *target != role {
                        Some(format!("cannot unreserve resources of role {target}: the framework's role is {role}"))
                    } else if !pool.take(target, resources) {
                        let volume_disk: u64 = agent
                            .volumes
                            .values()
                            .filter(|v| &v.role == target)
                            .map(|v| v.disk_mb)
                            .sum();
                        if resources.disk_mb > offered.disk_mb && volume_disk > 0 {
                            Some(format!("cannot unreserve disk that still holds a volume ({volume_disk} MB in volumes)"))
                        } else {
                            Some(format!("unreserving more than offered: {resources} asked, {offered} reserved offered"))
                        }
                    } else {
                        pool.add(UNRESERVED, resources);
                        agent.total.take_exact(target, resources);
                        agent.total.add(UNRESERVED, resources);
                        None
                    }
                }
                Operation::Create { volume } => {
                    let disk = Resources::new(0, 0, volume.disk_mb);
                    if volume.role != role {
                        Some(format!(
                            "cannot create a volume for role {}: the framework's role is {role}",
                            volume.role
                        ))
                    } else if agent.volumes.contains_key(&volume.key()) {
                        Some(format!(
                            "volume ID {} is already used by role {} on this agent",
                            volume.id, volume.role
                        ))
                    } else if !pool.take(&volume.role, &disk) {
                        Some(format!(
                            "a volume needs disk reserved for {}: {} MB asked, {} MB reserved offered",
                            volume.role,
                            volume.disk_mb,
                            pool.get(&volume.role).disk_mb
                        ))
                    } else {
                        agent.total.take_exact(&volume.role, &disk);
                        agent.volumes.insert(volume.key(), volume.clone());
                        pool_volumes.insert(volume.key(), volume.clone());
                        None
                    }
                }
                Operation::Destroy { role: target, id } => {
                    let key = volume_key(target, id);
                    if let Some(task) = agent.volumes_in_use.get(&key) {
                        Some(format!("cannot destroy volume {key}: task {task} uses it"))
                    } else if !pool_volumes.contains_key(&key) {
                        Some(format!("volume {key} is not in the offer"))
                    } else {
                        let volume = pool_volumes.remove(&key).expect("checked");
                        agent.volumes.remove(&key);
                        let disk = Resources::new(0, 0, volume.disk_mb);
                        agent.total.add(target, &disk);
                        pool.add(target, &disk);
                        None
                    }
                }
                Operation::Launch { tasks } => {
                    for task in tasks {
                        let framework = self.frameworks.get(&fid).expect("checked");
                        // Mesos `validateUniqueTaskID`: an ID the framework
                        // still has in the master — a terminal task whose
                        // update is not acknowledged yet, or a task on an
                        // unreachable agent — cannot be used again.
                        let mut duplicate = framework.tasks.contains_key(&task.task_id)
                            || framework.unreachable_tasks.contains_key(&task.task_id)
                            || launches.iter().any(|t| t.task_id == task.task_id);
                        // Planted-bug hook (`bugs/master.rs`).
                        bugs::unique_id_ignores_unreachable(
                            env.config.bug,
                            framework,
                            &task.task_id,
                            &launches,
                            &mut duplicate,
                        );
                        let volume_key = task.volume.as_ref().map(|v| volume_key(&task.role, v));
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
                        if let Some(key) = volume_key {
                            pool_volumes.remove(&key);
                        }
                        launches.push(task.clone());
                    }
                    None
                }
            };
            match refused {
                Some(reason) => refusals.push((operation, reason)),
                None if !matches!(operation, Operation::Launch { .. }) => {
                    resource_ops.push(operation)
                }
                None => {}
            }
        }
        // Reservations and volumes reach the agent before the tasks using them.
        if !resource_ops.is_empty() {
            out.send(
                &agent_process,
                Message::ApplyOperations {
                    epoch,
                    operations: resource_ops,
                },
            );
        }
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
            self.agents
                .get_mut(&agent_id)
                .expect("checked")
                .occupy(&task.task_id, &task);
            out.event(Event::TaskLaunched {
                framework_id: fid.clone(),
                task_id: task.task_id.clone(),
                agent_id: agent_id.clone(),
            });
            out.send(
                &agent_process,
                Message::RunTask {
                    epoch,
                    framework: Box::new(info.clone()),
                    task,
                },
            );
        }
        self.agents[&agent_id].assert_accounting();
        if !pool.is_empty() || !pool_volumes.is_empty() {
            // Unused resources of an accepted offer are filtered for a while
            // (Mesos applies the call's default `refuse_seconds` of 5 s).
            if let Some(framework) = self.frameworks.get_mut(&fid) {
                framework
                    .filters
                    .insert(agent_id, env.ctx.now_ms + refuse_ms);
            }
        }
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
        for update in updates {
            self.send_to_framework(update, out);
        }
    }

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
            if self.offers.get(&id).is_some_and(|o| o.framework_id == fid) {
                let offer = self.take_offer(&id).expect("present");
                if let Some(framework) = self.frameworks.get_mut(&fid) {
                    framework
                        .filters
                        .insert(offer.agent_id, env.ctx.now_ms + refuse_ms);
                }
            }
        }
    }
}
