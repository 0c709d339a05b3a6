//! # Keeping the desired tasks running: offers, status updates, kills
//!
//! What a framework's scheduler does with Mesos's callbacks: `resourceOffers`
//! (launch what is missing, decline the rest with a filter; stateful tasks on
//! their reservations and volumes), `statusUpdate` (acknowledge every update
//! that carries a uuid, replace failed tasks under fresh IDs), and kills of
//! the surplus, newest first.

use super::*;

impl Scheduler {
    pub(super) fn on_offers(&mut self, ctx: &Context, offers: Vec<Offer>, out: &mut Out) {
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
    pub(super) fn accept(
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
    pub(super) fn place_service_tasks(
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
    pub(super) fn place_stateful_task(
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
    pub(super) fn slot_running(&self, slot: u32) -> bool {
        self.state
            .tasks
            .values()
            .any(|t| t.slot == Some(slot) && counts_as_running(t))
    }

    /// The next task (its ID from the framework's counter); the caller places it.
    pub(super) fn new_task(&mut self) -> TaskInfo {
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

    pub(super) fn on_update(&mut self, ctx: &Context, update: StatusUpdate, out: &mut Out) {
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
    pub(super) fn kill_surplus(&mut self, out: &mut Out) {
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
    pub(super) fn kill(&mut self, task_id: TaskId, out: &mut Out) {
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

    pub(super) fn on_command(&mut self, ctx: &Context, command: Command, out: &mut Out) {
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
}
