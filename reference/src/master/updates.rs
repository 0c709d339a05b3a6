//! # Tasks and status updates: kill, forward, acknowledge
//!
//! Mesos `Master::kill`, `Master::statusUpdate` → `Master::forward` (the
//! task's latest state, its status-update state and uuid) and
//! `Master::acknowledge` → `removeTask`: the master relays an agent's
//! reliable status updates to the framework and the framework's
//! acknowledgements back to the agent, and counts resources as tasks start
//! and end.

use super::*;

impl Leader {
    /// A framework kills a task (Mesos `Master::kill`). A task the master
    /// knows is recorded in its agent's `killed_tasks` *whatever the
    /// connection's state* — the agent may be partitioned without the master
    /// knowing yet — and the kill is sent if the agent is connected; if the
    /// agent is disconnected, the kill is sent again when it re-registers
    /// (`Master::reconcileKnownSlave`). A task the master does not know is
    /// answered with an explicit reconciliation, as Mesos does.
    pub(super) fn on_kill(
        &mut self,
        from: ProcessId,
        fid: FrameworkId,
        task_id: TaskId,
        out: &mut Out,
    ) {
        if !self.check_scheduler(&from, &fid, "Kill", out) {
            return;
        }
        let epoch = self.epoch;
        let agent_id = self
            .frameworks
            .get(&fid)
            .and_then(|f| f.tasks.get(&task_id))
            .map(|t| t.agent_id.clone());
        let Some(agent_id) = agent_id else {
            let question = ReconcileTask {
                task_id,
                agent_id: None,
            };
            self.reconcile_explicit(&fid, vec![question], out);
            return;
        };
        // A known task's agent is registered (tasks are learned only from
        // registered agents and leave with them), as Mesos CHECKs.
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return;
        };
        agent.killed_tasks.insert((fid.clone(), task_id.clone()));
        // Sent even if an earlier kill was: that one may have been lost
        // without the agent re-registering (and so without a reconciliation).
        if agent.connected {
            out.send(
                &agent.process,
                Message::KillTask {
                    epoch,
                    framework_id: fid,
                    task_id,
                },
            );
        }
    }

    pub(super) fn on_status_update(
        &mut self,
        from: ProcessId,
        update: StatusUpdate,
        out: &mut Out,
    ) {
        let Some(agent_id) = self.agent_by_process(&from) else {
            out.event(Event::MessageIgnored {
                from,
                kind: "StatusUpdate".into(),
                why: "update from an agent that is not registered".into(),
            });
            return;
        };
        if update.agent_id.as_ref() != Some(&agent_id) {
            out.event(Event::MessageIgnored {
                from,
                kind: "StatusUpdate".into(),
                why: "update names another agent".into(),
            });
            return;
        }
        let Some(framework) = self.frameworks.get_mut(&update.framework_id) else {
            out.event(Event::MessageIgnored {
                from,
                kind: "StatusUpdate".into(),
                why: format!("unknown framework {}", update.framework_id),
            });
            return;
        };
        // Mesos `Master::forward` records the update's state and uuid on the
        // task only when it actually forwards it — to a connected framework —
        // and only for an update with a uuid (one the agent will retry).
        let forwarded = framework.active && framework.scheduler.is_some();
        if let Some(task) = framework.tasks.get_mut(&update.task_id) {
            // Record the task's *latest* state (Mesos `latest_state`): a replayed
            // older update must never move a task back, nor double-count its
            // resources.
            let latest = update.latest_state.unwrap_or(update.state);
            let was_active = task.state.is_active();
            task.state = latest;
            if forwarded && update.uuid.is_some() {
                task.status_update_state = Some(update.state);
                task.latest_uuid = update.uuid.clone();
            }
            let agent = self.agents.get_mut(&agent_id).expect("registered");
            match (was_active, latest.is_active()) {
                (true, false) => agent.release(&task.info),
                (false, true) => agent.occupy(&update.task_id, &task.info),
                _ => {}
            }
        }
        self.send_to_framework(update, out);
    }

    pub(super) fn on_acknowledge(
        &mut self,
        from: ProcessId,
        fid: FrameworkId,
        agent_id: AgentId,
        task_id: TaskId,
        uuid: UpdateUuid,
        out: &mut Out,
    ) {
        if !self.check_scheduler(&from, &fid, "Acknowledge", out) {
            return;
        }
        // Mesos `Master::acknowledge`: an acknowledgement for an agent that is
        // unknown or disconnected is dropped — the task stays, and the agent
        // resends the update when it is back — and so is one for a task with
        // no forwarded update.
        let Some(agent) = self.agents.get(&agent_id).filter(|a| a.connected) else {
            out.event(Event::MessageIgnored {
                from,
                kind: "Acknowledge".into(),
                why: format!("agent {agent_id} is not connected"),
            });
            return;
        };
        let Some(framework) = self.frameworks.get_mut(&fid) else {
            return;
        };
        let Some(task_state) = framework.tasks.get(&task_id).map(|t| t.status_update_state) else {
            // Unknown (already retired) task: the agent may still wait for it.
            out.send(
                &agent.process,
                Message::StatusUpdateAcknowledgement {
                    epoch: self.epoch,
                    framework_id: fid.clone(),
                    task_id: task_id.clone(),
                    uuid: uuid.clone(),
                },
            );
            return;
        };
        if task_state.is_none() {
            out.event(Event::MessageIgnored {
                from,
                kind: "Acknowledge".into(),
                why: format!("no update of {task_id} was forwarded"),
            });
            return;
        }
        out.send(
            &agent.process,
            Message::StatusUpdateAcknowledgement {
                epoch: self.epoch,
                framework_id: fid.clone(),
                task_id: task_id.clone(),
                uuid: uuid.clone(),
            },
        );
        // The acknowledgement of a terminal update retires the task.
        {
            let retire = framework.tasks.get(&task_id).is_some_and(|t| {
                t.status_update_state.is_some_and(TaskState::is_terminal)
                    && t.latest_uuid.as_ref() == Some(&uuid)
            });
            if retire {
                let task = framework.tasks.remove(&task_id).expect("checked above");
                if let Some(agent) = self.agents.get_mut(&task.agent_id) {
                    agent.killed_tasks.remove(&(fid.clone(), task_id.clone()));
                }
                framework.add_completed(
                    task_id,
                    CompletedTask {
                        agent_id: task.agent_id,
                        state: task.state,
                        reason: None,
                    },
                );
            }
        }
    }

    /// Forwards an update to the framework's scheduler if it is attached.
    /// Undelivered agent updates are retried by the agent; master-made ones are
    /// recoverable by reconciliation.
    pub(super) fn send_to_framework(&mut self, update: StatusUpdate, out: &mut Out) {
        let Some(framework) = self.frameworks.get(&update.framework_id) else {
            return;
        };
        if let (true, Some(scheduler)) = (framework.active, framework.scheduler.clone()) {
            out.send(&scheduler, Message::StatusUpdate { update });
        }
    }
}
