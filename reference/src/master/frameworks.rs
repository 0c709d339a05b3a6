//! # Frameworks: registration, failover, removal
//!
//! Mesos `Master::subscribe` (register and re-register, with `failover`),
//! `Master::deactivate`/`disconnect`, `Master::frameworkFailoverTimeout`,
//! `Master::teardown` and `Master::removeFramework`: a framework survives its
//! scheduler's failover for `failover_timeout`, and is removed — its tasks
//! killed, its ID refused — after it.

use super::*;

impl Leader {
    pub(super) fn on_register_framework(
        &mut self,
        from: ProcessId,
        info: FrameworkInfo,
        out: &mut Out,
    ) {
        let epoch = self.epoch;
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
        let fid = FrameworkId::new(epoch_id(epoch, 'F', self.next_framework));
        self.next_framework += 1;
        let info = FrameworkInfo {
            id: Some(fid.clone()),
            ..info
        };
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

    pub(super) fn on_reregister_framework(
        &mut self,
        from: ProcessId,
        info: FrameworkInfo,
        failover: bool,
        out: &mut Out,
    ) {
        let epoch = self.epoch;
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
        out.cancel_timer(MasterTimer::FrameworkFailover(fid.clone()));
        let mut rescind_for = None;
        match self.frameworks.get_mut(&fid) {
            Some(framework) => {
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
                        // Another instance takes over: the old one is told so.
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
                framework.info = info;
                framework.scheduler = Some(from.clone());
                framework.active = true;
            }
            None => {
                self.frameworks.insert(
                    fid.clone(),
                    FrameworkEntry::new(info, Some(from.clone()), true),
                );
            }
        }
        if let Some(fid) = rescind_for {
            self.remove_offers_of(&fid, out);
        }
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

    pub(super) fn on_framework_disconnected(
        &mut self,
        env: &mut Env<'_>,
        fid: FrameworkId,
        out: &mut Out,
    ) {
        let Some(framework) = self.frameworks.get_mut(&fid) else {
            return;
        };
        if !framework.active {
            return;
        }
        framework.active = false;
        // The framework has `failover_timeout` to come back (a new scheduler
        // instance re-registering under its ID) before the master removes it.
        out.set_timer(
            MasterTimer::FrameworkFailover(fid.clone()),
            env.ctx.now_ms + framework.info.failover_timeout_ms,
        );
        out.event(Event::FrameworkDeactivated {
            framework_id: fid.clone(),
        });
        self.remove_offers_of(&fid, out);
    }

    pub(super) fn tick_framework_failover(
        &mut self,
        env: &mut Env<'_>,
        fid: FrameworkId,
        out: &mut Out,
    ) {
        let inactive = self.frameworks.get(&fid).is_some_and(|f| !f.active);
        if inactive {
            self.remove_framework(env, fid, out);
        }
    }

    /// Removes a framework whose failover timeout passed: its agents are told
    /// to shut it down, its tasks end `TASK_KILLED` (reason `FRAMEWORK_REMOVED`),
    /// and it moves to the completed frameworks.
    pub(super) fn remove_framework(&mut self, _env: &mut Env<'_>, fid: FrameworkId, out: &mut Out) {
        self.remove_offers_of(&fid, out);
        let epoch = self.epoch;
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
        let mut tasks = BTreeMap::new();
        for (task_id, task) in framework.tasks {
            if let Some(agent) = self.agents.get_mut(&task.agent_id) {
                if task.state.is_active() {
                    agent.release(&task.info);
                }
                agent.killed_tasks.remove(&(fid.clone(), task_id.clone()));
            }
            tasks.insert(task_id, completed(task, None));
        }
        // Its unreachable tasks are completed too; their agents learn of the
        // removal if they re-register with this leader.
        for (task_id, task) in framework.unreachable_tasks {
            tasks.insert(task_id, completed(task, Some(Reason::AgentRemoved)));
        }
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
    /// and every registered agent is told to shut it down.
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

    /// Checks that `from` is the scheduler currently attached to `fid`; a call
    /// from anyone else (a failed-over instance) is ignored, and the trace says so.
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
