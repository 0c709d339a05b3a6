//! # Keeping the desired tasks running: offers, status updates, kills
//!
//! What a framework's scheduler does with Mesos's callbacks (the `Scheduler`
//! interface of include/mesos/scheduler.hpp, called by `SchedulerProcess` in
//! src/sched/sched.cpp):
//! - `resourceOffers`: launch what is missing, decline the rest with a filter
//!   (`Master::decline`); stateful tasks go on their reservations and volumes;
//! - `statusUpdate`: record the new state and acknowledge every update that
//!   carries a uuid — explicitly, and only once the state reflecting it is
//!   durable (`state_store.rs`), which a driver created with
//!   `implicitAcknowledgements = false` leaves to the framework
//!   (`MesosSchedulerDriver::acknowledgeStatusUpdate`);
//! - `killTask` for the surplus, newest first.
//!
//! ## Keeping the desired count
//!
//! A task *counts* while it is staging, starting or running and no kill was
//! sent for it (`counts_as_running`). Fewer than desired — a task ended
//! `TASK_FAILED`, `TASK_KILLED`, `TASK_LOST`, or is `TASK_UNREACHABLE` —
//! launch replacements from the next offers under fresh IDs (the launch
//! counter is in the state: no ID that left an instance is used again). More than
//! desired — an unreachable task came back `TASK_RUNNING` beside its
//! replacement — kill the surplus, newest first. A service launches nothing
//! while a reconciliation is unanswered: until then its count may be wrong.
//! An unreachable task is replaced at once rather than waited for — a
//! service favours availability, as Mesos's partition-aware frameworks may
//! choose — and the surplus rule undoes the double if it returns.
//!
//! The adversary (`adversary/`) hooks in at three points: it may take an
//! offer (`adversary_on_offer`), consume an update (`adversary_on_update`),
//! or hold an acknowledgement back (`adversary_hold_ack`). With it off, each
//! is a no-op.

use super::*;

impl Scheduler {
    /// Offers from our master (Mesos's `Scheduler::resourceOffers`). Each goes to
    /// at most one user, in this order: a waiting adversarial call, a scenario's
    /// scripted accept, the framework's own placement; an offer nobody uses is
    /// declined with `offer_refuse` as filter, so the allocator offers those
    /// resources to others meanwhile (`Master::decline`, Mesos's `Filters`).
    /// Accepts are only queued: they leave once their intent is durable.
    pub(super) fn on_offers(&mut self, ctx: &Context, offers: Vec<Offer>, out: &mut Out) {
        // Offers count only while registered (`is_from_leader` checked the sender).
        let (Some(fid), Some((master, _))) =
            (self.state.framework_id.clone(), self.registered_with())
        else {
            return;
        };
        let master = master.clone();
        // How many a service still needs. Zero while reconciling: a task we count
        // as lost may be running, and one we count as running may be gone.
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
            // Whatever the mode: it bypasses placement and the reconciliation gate.
            if let Some(operations) = self.scripted.pop_front() {
                self.accept(&fid, offer, operations, out);
                continue;
            }
            // (Stateful placement does not use `needed`: it places one task per
            // offer, for a slot with none running, even while reconciling.)
            let operations = match self.config.mode.clone() {
                SchedulerMode::Service => self.place_service_tasks(&offer, &mut needed, out),
                SchedulerMode::Stateful {
                    volume_id,
                    volume_mb,
                    hosts,
                } => self.place_stateful_task(&offer, &volume_id, volume_mb, &hosts),
                SchedulerMode::Scripted => vec![],
            };
            // Nothing to do with it: give it back, and keep it away for a while.
            if operations.is_empty() {
                out.send(
                    &master,
                    Message::Decline {
                        framework_id: fid.clone(),
                        offer_ids: vec![offer.offer_id],
                        // The filter: Mesos's `Filters.refuse_seconds` (5 s by default,
                        // include/mesos/mesos.proto). Without it, the same offer would come
                        // straight back, over and over.
                        refuse_ms: self.config.timing.offer_refuse_ms,
                    },
                );
                continue;
            }
            self.accept(&fid, offer, operations, out);
        }
        // One write covers every launch of this batch; the accepts follow it.
        self.changed(ctx, out);
    }

    /// Queues an accept; it goes to the master once the intent (the tasks it
    /// launches, the volume it creates) is durable in the framework's state.
    ///
    /// Each task is recorded as `TASK_STAGING` on the offer's agent before the
    /// write, and its ID joins `unpersisted` until the write lands. If this
    /// instance dies first, the accept is never sent: the successor reads no
    /// trace of the task, and no trace is needed, since the task cannot exist.
    /// If it dies after, the successor finds the task and reconciles it.
    ///
    /// A lost accept is noticed the same way: messages are lost only with their
    /// link, every new link re-registers, and every registration reconciles the
    /// `TASK_STAGING` tasks the accept would have launched; the master's answer
    /// about a task it never saw (`TASK_GONE`, `TASK_LOST`, ...) takes them out
    /// of the count, and replacements follow.
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
                    // An entry that exists already (the adversary's reuse of a finished
                    // task's ID) keeps its record. A task on a volume fills that volume's slot.
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
                    // Not to leave this process until the write lands (see `unpersisted`).
                    self.unpersisted.insert(task.task_id.clone());
                    // Traced when decided: the launch is not sent yet.
                    out.event(Event::SchedulerLaunching {
                        task_id: task.task_id.clone(),
                        agent_id: offer.agent_id.clone(),
                    });
                }
            }
        }
        // Released by `on_state_written` (`state_store.rs`).
        self.after_next_write.push(Message::Accept {
            framework_id: fid.clone(),
            offer_ids: vec![offer.offer_id],
            operations,
        });
    }

    /// Service tasks: as many as fit and are needed, on unreserved resources
    /// first, then on the framework's own reservations. Resources an accept
    /// does not use are declined implicitly (Mesos: "any remaining resources
    /// ... will be considered declined", `SchedulerDriver::acceptOffers`).
    pub(super) fn place_service_tasks(
        &mut self,
        offer: &Offer,
        needed: &mut u64,
        _out: &mut Out,
    ) -> Vec<Operation> {
        let mut tasks = Vec::new();
        let mut pools: Vec<(&String, Resources)> =
            offer.resources.0.iter().map(|(r, res)| (r, *res)).collect();
        // A `BTreeMap` by role name, and "*" (0x2A) sorts before any letter.
        // "*" sorts first: unreserved resources are used before reservations.
        for (role, available) in pools.iter_mut() {
            // As many tasks as this pool fits, up to what is still needed; each runs
            // on this pool's resources, as its role.
            let count = (*needed).min(available.count_fitting(&self.config.task_resources));
            for _ in 0..count {
                let mut task = self.new_task();
                task.role = role.to_string();
                tasks.push(task);
            }
            // Each pool is used as far as it goes before the next.
            *needed -= count;
        }
        if tasks.is_empty() {
            return vec![];
        }
        vec![Operation::Launch { tasks }]
    }

    /// A stateful slot's task: reserve and create its volume the first time;
    /// later, relaunch only where the volume is offered. One task per offer.
    ///
    /// A slot's first launch is one accept of three operations — `Reserve` the
    /// task's resources plus the volume's disk for the framework's role,
    /// `Create` the persistent volume on that disk, `Launch` the task on it —
    /// applied in order, each on what the previous one produced (Mesos
    /// `Master::_accept`). Every later launch of the slot goes where its volume
    /// is: a volume is offered only to its role, with its reservation, while no
    /// task uses it. The slot starts afresh only if that agent is gone for good:
    /// `TASK_GONE` (`on_update`), or its host back under a new agent ID — in
    /// this crate, what a wiped disk looks like. (Mesos also gives a new ID to a
    /// removed agent that restarts, and that one keeps its volumes: see the
    /// HA framework guide.)
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
        // The first slot this offer can serve wins.
        for slot in 0..slots {
            if let Some(host) = hosts.get(slot as usize) {
                if host != &offer.hostname {
                    continue; // pinned elsewhere
                }
            }
            // Filled: a task counts as running in it.
            if self.slot_running(slot) {
                continue;
            }
            // Where does this slot's data live?
            match self.state.volumes.get(&slot).cloned() {
                Some(placed)
                    if placed.host == offer.hostname && placed.agent_id != offer.agent_id =>
                {
                    // The volume's host is back under a new agent ID: its disk
                    // was wiped and the volume with it. Start this slot afresh.
                    self.state.volumes.remove(&slot);
                    // (Placing again finds no volume for this slot: the `None` arm.)
                    return self.place_stateful_task(offer, volume_id, volume_mb, hosts);
                }
                Some(placed) => {
                    // Only where our volume is, and with our reservation free: the task
                    // runs on the reserved resources, with the volume mounted.
                    let offered = offer.volumes.iter().any(|v| v.key() == placed.volume.key());
                    if !offered || !offer.resources.get(&role).contains(&task_resources) {
                        continue;
                    }
                    // On the reservation, as our role, with the volume mounted.
                    let mut task = self.new_task();
                    task.role = role;
                    task.volume = Some(placed.volume.id.clone());
                    return vec![Operation::Launch { tasks: vec![task] }];
                }
                None => {
                    // A fresh slot never shares an agent with another slot's volume:
                    // replicas on one machine would fail together.
                    if self
                        .state
                        .volumes
                        .values()
                        .any(|v| v.agent_id == offer.agent_id)
                    {
                        continue;
                    }
                    // The task's own resources are reserved too, with the disk: after a
                    // failure they come back offered to our role alone, beside the volume.
                    let reservation = task_resources.plus(&Resources::new(0, 0, volume_mb));
                    if !offer.resources.get(UNRESERVED).contains(&reservation) {
                        continue;
                    }
                    let volume = Volume {
                        // Slot `k` of several has its own volume ID (`slot_volume_id`).
                        id: slot_volume_id(volume_id, slot, slots),
                        role: role.clone(),
                        disk_mb: volume_mb,
                    };
                    // Recorded now, in the same state write as the launch: a successor
                    // knows where the data went even if no update ever arrives.
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
                    // One accept: reserve, create, launch (see the doc above).
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

    /// Whether a task that counts as running fills `slot` (a slot holds one).
    /// Whether a task that counts as running fills `slot`.
    pub(super) fn slot_running(&self, slot: u32) -> bool {
        self.state
            .tasks
            .values()
            .any(|t| t.slot == Some(slot) && counts_as_running(t))
    }

    /// The next task (its ID from the framework's counter); the caller places it.
    /// The counter lives in the state and only grows, so IDs are never reused by
    /// this framework — the adversary's deliberate reuses aside. (The zero
    /// padding keeps IDs in launch order up to 9999 launches; `kill_surplus`
    /// relies on that order.)
    /// The next task (its ID from the framework's counter); the caller places it.
    pub(super) fn new_task(&mut self) -> TaskInfo {
        self.state.launched += 1;
        let n = self.state.launched;
        TaskInfo {
            // `<framework>-0001`, `-0002`, ...: outside the adversary's ghost
            // namespace (`<framework>-ghost-…`).
            task_id: TaskId::new(format!("{}-{n:04}", self.config.framework.name)),
            resources: self.config.task_resources,
            // Unreserved unless the caller places it on a reservation.
            role: UNRESERVED.to_string(),
            volume: None,
            // The plan by launch number: the first few may be made to fail.
            workload: self.config.workload.for_launch(n),
        }
    }

    /// A status update from our master (`Scheduler::statusUpdate`): from an
    /// agent, forwarded, or the master's own (a reconciliation answer, a
    /// refused launch). Updates arrive at least once, so handling one twice
    /// must be harmless: the state only moves forward, and an acknowledgement
    /// sent twice is ignored by the agent.
    pub(super) fn on_update(&mut self, ctx: &Context, update: StatusUpdate, out: &mut Out) {
        // Every update is traced as received, whoever consumes it.
        out.event(Event::UpdateReceived {
            framework_id: update.framework_id.clone(),
            task_id: update.task_id.clone(),
            state: update.state,
            reason: update.reason,
            source: update.source,
            latest_state: update.latest_state,
            uuid: update.uuid.clone(),
        });
        // The adversary consumes the answers to its own calls: a refused reuse
        // of a live task's ID must not mark that task failed.
        if self.adversary.is_some() && self.adversary_on_update(ctx, &update, out) {
            return; // the answer to an adversarial call, not news of a task
        }
        // An update about a task we never recorded — a scenario's
        // reconciliation of an ID never launched, or an earlier term's
        // adversarial probe — is recorded too: counted, and killed if surplus.
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
        // An indefinite end (`TASK_LOST`, `TASK_UNREACHABLE`, ...) can still be
        // overtaken: the task may be running after all. A master's answer about
        // an agent it does not know carries no agent: keep the one we knew.
        if !replay {
            task.state = update.state;
            if update.agent_id.is_some() {
                task.agent_id = update.agent_id.clone();
            }
        }
        // A terminal update ends any kill in progress.
        if update.state.is_terminal() {
            task.killing = false;
        }
        // A stateful task whose agent is gone for good (its disk with it) will
        // never see its volume again: start afresh elsewhere.
        // Caveat: `Master::reconcile` case 3 answers `TASK_GONE` too — agent
        // registered, task unknown to it — where the agent and the volume
        // remain; the slot then moves on and leaves that volume behind.
        if update.state == TaskState::Gone {
            if let Some(slot) = task.slot {
                self.state.volumes.remove(&slot);
            }
        }
        // An answer to reconciliation (or any update about the task: news is
        // news). When the last is in, offers are acted on again.
        if self.reconciling.remove(&update.task_id) && self.reconciling.is_empty() {
            out.cancel_timer(SchedulerTimer::ReconcileRetry);
        }
        // Master-generated updates carry no uuid and need no acknowledgement
        // (as in Mesos, `SchedulerProcess::statusUpdate`); an agent's do.
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
        // The update may have made us one too many (a lost task came back).
        self.kill_surplus(out);
        self.changed(ctx, out);
    }

    /// More tasks run than desired (a lost task came back): kill the newest.
    /// A stateful framework keeps each slot's oldest task and kills the slot's
    /// others.
    /// More tasks run than desired (a lost task came back): kill the newest.
    pub(super) fn kill_surplus(&mut self, out: &mut Out) {
        if self.config.mode == SchedulerMode::Scripted {
            return; // the scenario decides what runs
        }
        // A service: the `surplus` newest. Stateful: every extra task of a slot.
        let surplus = self
            .running_count()
            .saturating_sub(self.config.desired_tasks);
        if surplus == 0 {
            return;
        }
        // Task IDs sort in launch order (see `new_task`): for a service, the
        // surplus is the last ones; for a stateful framework, every task after the
        // first of its slot, newest first.
        let newest: Vec<TaskId> = if matches!(self.config.mode, SchedulerMode::Stateful { .. }) {
            // Per slot: keep the oldest task of a slot, kill the others.
            let mut seen = BTreeSet::new();
            let mut extra: Vec<TaskId> = self
                .state
                .tasks
                .iter()
                .filter(|(_, t)| counts_as_running(t))
                // `insert` is false for a slot seen before: every later task of it is extra.
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
        // (`kill` marks each, so a second update does not kill it twice.)
        for task_id in newest {
            self.kill(task_id, out);
        }
    }

    /// Sends a kill (whether or not this instance still is the active one: the
    /// master obeys only the framework's current scheduler).
    ///
    /// Sent once. Like Mesos's `killTask` — "not reliable": a scheduler "will
    /// need to retry" (include/mesos/scheduler.hpp) — it may be lost: sent on a
    /// link that is not registered yet, or to a master that fails over before
    /// forwarding it. Nothing here resends it, and `killing` keeps the task out
    /// of the count until a terminal update arrives.
    pub(super) fn kill(&mut self, task_id: TaskId, out: &mut Out) {
        // No framework ID or no link: nothing to send it on.
        let (Some(fid), Some(master)) = (self.state.framework_id.clone(), self.master().cloned())
        else {
            return;
        };
        // Out of the count from now on: the replacement may be launched at once.
        if let Some(task) = self.state.tasks.get_mut(&task_id) {
            task.killing = true;
        }
        // Traced as decided; whether it arrives is another matter (see above).
        out.event(Event::SchedulerKilling {
            task_id: task_id.clone(),
        });
        // The master forwards it to the agent (`Master::kill`); a task it does
        // not know gets a reconciliation answer instead.
        out.send(
            &master,
            Message::Kill {
                framework_id: fid,
                task_id,
            },
        );
    }

    /// A scenario's command to this instance (the operator's hand on the
    /// framework's driver): kill, accept the next offer with given operations,
    /// reconcile given tasks, tear the framework down.
    pub(super) fn on_command(&mut self, ctx: &Context, command: Command, out: &mut Out) {
        // A stopped instance obeys no more commands.
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        match command {
            // Mesos's `SchedulerDriver::killTask`.
            Command::KillTask { task_id } => self.kill(task_id, out),
            // Used on the next offer (`on_offers`).
            Command::Accept { operations } => self.scripted.push_back(operations),
            // Explicit reconciliation (`SchedulerDriver::reconcileTasks`); an empty
            // list is implicit reconciliation, every task the master knows. The
            // answers come back as updates, like any other.
            Command::Reconcile { task_ids, agents } => {
                // To our master in any link state; unlike `send_reconcile`, once.
                let (Some(fid), Some(master)) =
                    (self.state.framework_id.clone(), self.master().cloned())
                else {
                    return;
                };
                let tasks = task_ids
                    .into_iter()
                    // Each task on the agent the scenario names, else the one we know.
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
            // `driver.stop(failover = false)`: send `TEARDOWN`, after which the master
            // kills every task and forgets the framework (`Master::teardown` →
            // `Master::removeFramework`), and stop for good. The link stays open so
            // that the teardown still goes out.
            Command::Teardown => {
                let (Some(fid), Some(master)) =
                    (self.state.framework_id.clone(), self.master().cloned())
                else {
                    return;
                };
                // Sent before stopping, on the link that stays open.
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
