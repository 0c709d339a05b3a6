//! # Frameworks: registration, failover, removal
//!
//! A framework is a scheduler's identity in the cluster: its ID, its tasks and
//! its offers outlive any one scheduler process. Mesos's master follows a
//! framework through these steps (src/master/master.cpp):
//!
//! - **register**: a scheduler without an ID subscribes and is assigned one
//!   (`Master::subscribe` → `Master::_subscribe`);
//! - **re-register**: a scheduler subscribes again under its ID — after a
//!   master failover (the new leader may know the framework only from the
//!   agents' reports, `Master::recoverFramework`), after a dropped connection,
//!   or as a new instance taking over (`Master::failoverFramework`);
//! - **disconnect**: its scheduler's connection breaks; the framework is
//!   deactivated (no offers, `Master::_exited` → `Master::disconnect` →
//!   `Master::deactivate`) but its tasks keep running, and a timer of the
//!   framework's own `failover_timeout` starts;
//! - **removal**: when that timer fires with no scheduler back
//!   (`Master::frameworkFailoverTimeout`) or when the scheduler tears the
//!   framework down (`Master::teardown`), `Master::removeFramework` kills its
//!   tasks on every agent and remembers it as *completed*, so that its ID is
//!   refused from then on.
//!
//! A framework therefore survives both a master failover (its scheduler
//! re-registers with the new leader, whose state it rebuilds together with the
//! agents) and a scheduler failover (a new instance re-registers under the
//! same ID within `failover_timeout`). What it does not survive is silence
//! longer than `failover_timeout`.
//!
//! Completed frameworks are soft state like everything else: a new leader does
//! not know them. An agent re-registering with tasks of a framework removed
//! under an earlier leader brings the framework back (inactive) — the same
//! gap Mesos documents ("information about completed frameworks is lost when
//! the master fails over", `Master::__reregisterSlave`, MESOS-1719).

use super::*;

impl Leader {
    /// A scheduler registers a new framework (Mesos `Master::_subscribe` for a
    /// `FrameworkInfo` without an ID): the master assigns an ID and the framework
    /// is active at once, its scheduler attached.
    pub(super) fn on_register_framework(
        &mut self,
        from: ProcessId,
        info: FrameworkInfo,
        out: &mut Out,
    ) {
        let epoch = self.epoch;
        // A retry of a registration whose answer was lost (the scheduler cannot
        // tell a lost request from a lost answer, so it sends again): while its
        // framework is active, repeat the answer instead of creating a second
        // framework for the same scheduler. Only an *active* framework's answer is
        // repeated: a registration from the same process after its framework was
        // deactivated registers another framework (Mesos's `_subscribe` repeats
        // the answer for any registered framework of that process).
        if let Some(fid) = self.framework_by_scheduler(&from) {
            if self.frameworks[&fid].active {
                // Our answer was lost: repeat it.
                out.send(
                    &from,
                    Message::FrameworkRegistered {
                        epoch,
                        framework_id: fid,
                    },
                );
                return;
            }
        }
        // The ID carries this leader's epoch (`e<epoch>-F<n>`), so it can never
        // collide with an ID a previous leader assigned (Mesos: `newFrameworkId`,
        // the master's own ID and a counter).
        let fid = FrameworkId::new(epoch_id(epoch, 'F', self.next_framework));
        self.next_framework += 1;
        // The stored info carries the ID: it is what goes to agents with each
        // task (`RunTask`), and what they report back after a failover.
        let info = FrameworkInfo {
            id: Some(fid.clone()),
            ..info
        };
        // Active with its scheduler attached: it takes part in the next
        // allocation round (`tick_allocate`, `offers.rs`).
        self.frameworks.insert(
            fid.clone(),
            FrameworkEntry::new(info, Some(from.clone()), true),
        );
        out.send(
            &from,
            Message::FrameworkRegistered {
                epoch,
                framework_id: fid.clone(),
            },
        );
        out.event(Event::FrameworkRegistered {
            framework_id: fid,
            scheduler: from,
        });
    }

    /// A scheduler re-registers under an existing framework ID (Mesos
    /// `Master::_subscribe` with an ID, then `Master::failoverFramework` or the
    /// re-activation of a recovered framework).
    ///
    /// Three situations lead here, and all end the same way — the sender becomes
    /// the framework's attached scheduler and the framework is active:
    ///
    /// - after a master failover, the scheduler finds the new leader; the leader
    ///   may know the framework already (inactive, from agents' reports), or not
    ///   at all (no agent has re-registered with its tasks yet: it is created
    ///   here, as Mesos's `recoverFramework` does);
    /// - after a dropped connection, the same scheduler process comes back;
    /// - after a scheduler failover, a new instance takes over: the old one is
    ///   told ("framework failed over") and the offers it held are dropped.
    ///
    /// `failover` is the scheduler's "I replace whoever had it" flag (Mesos's
    /// `force`). Mesos refuses a re-registration from a new process without it
    /// (unless the framework is only recovered from agents' reports); here the
    /// newest instance always wins and the flag is only traced.
    pub(super) fn on_reregister_framework(
        &mut self,
        from: ProcessId,
        info: FrameworkInfo,
        failover: bool,
        out: &mut Out,
    ) {
        let epoch = self.epoch;
        // Re-registration without an ID is a protocol error: the scheduler
        // should have registered.
        let Some(fid) = info.id.clone() else {
            out.send(
                &from,
                Message::FrameworkError {
                    epoch,
                    message: "re-registration without a framework ID".into(),
                },
            );
            return;
        };
        // A removed framework's ID is never accepted again (Mesos's
        // `validateFramework`: "Framework has been removed"): its tasks were
        // killed, and agents were told to shut it down. Accepting it would bring
        // back a framework whose tasks are gone. This leader knows only the
        // frameworks it removed itself (`completed_frameworks`).
        if self.completed_frameworks.contains_key(&fid) {
            out.send(
                &from,
                Message::FrameworkError {
                    epoch,
                    message: "framework removed".into(),
                },
            );
            return;
        }
        // The scheduler is back: its framework is no longer heading for removal.
        // (`tick_framework_failover` also checks that the framework is still
        // inactive, so a timer that fires anyway does nothing.)
        out.cancel_timer(MasterTimer::FrameworkFailover(fid.clone()));
        // Set when another scheduler instance takes over, so that the offers
        // the old instance holds can be dropped once the borrow below ends.
        let mut rescind_for = None;
        match self.frameworks.get_mut(&fid) {
            // Known: from an earlier registration with this leader, or from an
            // agent's report (then inactive, with no scheduler).
            Some(framework) => {
                // A framework's principal (the identity it authenticated as) cannot
                // change on re-registration (Mesos `validation::framework::validateUpdate`:
                // "Changing framework's principal is not allowed"): otherwise any
                // scheduler knowing a framework's ID could take it over under another
                // identity.
                if framework.info.principal != info.principal {
                    out.send(
                        &from,
                        Message::FrameworkError {
                            epoch,
                            message: "principal cannot change on re-registration".into(),
                        },
                    );
                    return;
                }
                if let Some(old) = framework.scheduler.clone() {
                    if old != from {
                        // Another instance takes over: the old one is told so, and
                        // learns it must stop (Mesos's `failoverFramework` sends
                        // `FrameworkErrorMessage` "Framework failed over"). Its offers
                        // are dropped below: it must not launch on them.
                        out.send(
                            &old,
                            Message::FrameworkError {
                                epoch,
                                message: "framework failed over".into(),
                            },
                        );
                        rescind_for = Some(fid.clone());
                    }
                }
                // The new info replaces the old (a scheduler may change, for
                // instance, its failover timeout), and the sender is attached.
                framework.info = info;
                framework.scheduler = Some(from.clone());
                framework.active = true;
            }
            // Unknown to this leader: the scheduler found it before any agent
            // running the framework's tasks re-registered. Create it from the
            // scheduler's info (Mesos `Master::recoverFramework`); its tasks join
            // it as their agents re-register.
            None => {
                self.frameworks.insert(
                    fid.clone(),
                    FrameworkEntry::new(info, Some(from.clone()), true),
                );
            }
        }
        // Mesos `_failoverFramework` discards the old instance's offers
        // without telling it.
        if let Some(fid) = rescind_for {
            self.remove_offers_of(&fid, out);
        }
        // The answer, which ends the scheduler's registration retries.
        out.send(
            &from,
            Message::FrameworkReregistered {
                epoch,
                framework_id: fid.clone(),
            },
        );
        out.event(Event::FrameworkReregistered {
            framework_id: fid,
            scheduler: from,
            failover,
        });
    }

    /// A framework's scheduler disconnected (Mesos `Master::exited(const UPID&)`
    /// → `Master::_exited`): the framework is deactivated and has its own
    /// `failover_timeout` to come back before the master removes it.
    ///
    /// Its tasks are not touched: a scheduler failing over must not cost its
    /// tasks, which is the whole point of the timeout. It stays attached
    /// (`scheduler` is kept) so that a new instance can be told it took over.
    pub(super) fn on_framework_disconnected(
        &mut self,
        env: &mut Env<'_>,
        fid: FrameworkId,
        out: &mut Out,
    ) {
        let Some(framework) = self.frameworks.get_mut(&fid) else {
            return;
        };
        // Already inactive (a second disconnect notice, or a framework known only
        // from agents): its timer, if any, is already running.
        if !framework.active {
            return;
        }
        framework.active = false;
        // The framework has `failover_timeout` to come back (a new scheduler
        // instance re-registering under its ID) before the master removes it.
        // The timeout is the framework's own (`FrameworkInfo`), as in Mesos's
        // `_exited`: a framework states how long a failover may take it.
        out.set_timer(
            MasterTimer::FrameworkFailover(fid.clone()),
            env.ctx.now_ms + framework.info.failover_timeout_ms,
        );
        out.event(Event::FrameworkDeactivated {
            framework_id: fid.clone(),
        });
        // No offers to a scheduler that cannot answer them; their resources
        // return to the agents' free pools.
        self.remove_offers_of(&fid, out);
    }

    /// A framework's failover timeout fired (Mesos
    /// `Master::frameworkFailoverTimeout`): remove it if its scheduler has not
    /// come back.
    pub(super) fn tick_framework_failover(
        &mut self,
        env: &mut Env<'_>,
        fid: FrameworkId,
        out: &mut Out,
    ) {
        // Mesos compares the framework's re-registration time with the one it had
        // when the timer was set; here, being active again is proof enough that a
        // scheduler came back (and re-registration cancels the timer anyway).
        let inactive = self.frameworks.get(&fid).is_some_and(|f| !f.active);
        if inactive {
            self.remove_framework(env, fid, out);
        }
    }

    /// Removes a framework, on its failover timeout or at its scheduler's
    /// request (`on_teardown`) — Mesos `Master::removeFramework`: its agents are
    /// told to shut it down, its tasks end `TASK_KILLED` (reason
    /// `FRAMEWORK_REMOVED`), and it moves to the completed frameworks, whose
    /// IDs are refused from then on.
    ///
    /// Its tasks are recorded as completed without a status update to anyone:
    /// there is no scheduler left to tell (or it asked for this), and the agents
    /// are told to shut the framework down. Mesos admits `TASK_KILLED` is a
    /// guess here (a task may still finish during the shutdown, MESOS-6608).
    pub(super) fn remove_framework(&mut self, _env: &mut Env<'_>, fid: FrameworkId, out: &mut Out) {
        // Its offers go first: their resources return to the agents' free pools
        // (Mesos deactivates the framework, discarding its offers, first).
        self.remove_offers_of(&fid, out);
        let epoch = self.epoch;
        // Unknown (already removed): nothing to do.
        let Some(framework) = self.frameworks.remove(&fid) else {
            return;
        };
        // `Master::removeFramework` marks every task `TASK_KILLED` (reason
        // `FRAMEWORK_REMOVED`) without an update to anyone — except that
        // `Master::updateTask` never overwrites a terminal state: a task that
        // already ended keeps its state, and an unreachable task a framework
        // that is not partition-aware was told is `TASK_LOST` stays so.
        let completed = |task: TaskEntry, ended_reason: Option<Reason>| {
            let (state, reason) = if task.state.is_terminal() {
                (task.state, ended_reason)
            } else {
                (TaskState::Killed, Some(Reason::FrameworkRemoved))
            };
            CompletedTask {
                agent_id: task.agent_id,
                state,
                reason,
            }
        };
        // How each task ended, by ID: the completed framework's record.
        let mut tasks = BTreeMap::new();
        for (task_id, task) in framework.tasks {
            // The task's agent is normally registered (tasks are learned only from
            // registered agents and leave with them); Mesos CHECKs it.
            if let Some(agent) = self.agents.get_mut(&task.agent_id) {
                // Its resources return to the agent's free pool now: the task is
                // considered ended even if the agent has not stopped it yet, as in
                // Mesos (`updateTask` to `TASK_KILLED`, then `removeTask`).
                if task.state.is_active() {
                    agent.release(&task.info);
                }
                // A kill pending for it is moot: the whole framework is being shut
                // down.
                agent.killed_tasks.remove(&(fid.clone(), task_id.clone()));
            }
            tasks.insert(task_id, completed(task, None));
        }
        // Its unreachable tasks are completed too; their agents learn of the
        // removal if they re-register with this leader.
        for (task_id, task) in framework.unreachable_tasks {
            tasks.insert(task_id, completed(task, Some(Reason::AgentRemoved)));
        }
        // The framework's history (tasks that ended before its removal) is kept
        // in its completed record; a task already recorded above wins.
        for (task_id, task) in framework.completed_tasks {
            tasks.entry(task_id).or_insert(task);
        }
        // Every registered agent is told, connected or not, with tasks of the
        // framework or not (`Master::removeFramework`); a message to a
        // disconnected agent is lost, and `__reregisterSlave` /
        // `reconcileKnownSlave` tell it again when it comes back.
        for agent in self.agents.values() {
            out.send(
                &agent.process,
                Message::ShutdownFramework {
                    epoch,
                    framework_id: fid.clone(),
                },
            );
        }
        out.event(Event::FrameworkRemoved {
            framework_id: fid.clone(),
            tasks: tasks.len(),
        });
        // From now on this ID is refused (`on_reregister_framework`), and an
        // agent re-registering with the framework's tasks is told to shut it down
        // (`accept_reregistration`, `agents.rs`).
        self.completed_frameworks.insert(
            fid,
            CompletedFramework {
                info: framework.info,
                tasks,
            },
        );
    }

    /// A scheduler tears its framework down (Mesos `Master::teardown`): the
    /// master removes it at once, exactly as when its failover timeout passes —
    /// its tasks become completed `TASK_KILLED` (`REASON_FRAMEWORK_REMOVED`)
    /// and every registered agent is told to shut it down. Only the attached
    /// scheduler may do so: a deposed instance must not be able to end the
    /// framework its successor runs.
    pub(super) fn on_teardown(
        &mut self,
        env: &mut Env<'_>,
        from: ProcessId,
        fid: FrameworkId,
        out: &mut Out,
    ) {
        if !self.check_scheduler(&from, &fid, "Teardown", out) {
            return;
        }
        self.remove_framework(env, fid, out);
    }

    /// Checks that `from` is the scheduler currently attached to `fid` and that
    /// the framework is active; a call from anyone else (a failed-over instance,
    /// a scheduler not yet re-registered with this leader) is ignored, and the
    /// trace says so.
    ///
    /// Mesos's `Master::receive` does the same for every call but `SUBSCRIBE`:
    /// it drops a call "not from registered framework" and refuses one from a
    /// disconnected framework. Without it, an old instance still holding offers
    /// after a failover could launch tasks, kill its successor's tasks or
    /// acknowledge updates meant for the new instance.
    pub(super) fn check_scheduler(
        &self,
        from: &ProcessId,
        fid: &FrameworkId,
        kind: &str,
        out: &mut Out,
    ) -> bool {
        let ok = self
            .frameworks
            .get(fid)
            .is_some_and(|f| f.scheduler.as_ref() == Some(from) && f.active);
        if !ok {
            out.event(Event::MessageIgnored {
                from: from.clone(),
                kind: kind.to_string(),
                why: format!("not the active scheduler of framework {fid}"),
            });
        }
        ok
    }
}
