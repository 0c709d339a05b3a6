//! # Tasks and status updates: kill, forward, acknowledge
//!
//! Mesos `Master::kill`, `Master::statusUpdate` → `Master::forward` (the
//! task's latest state, its status-update state and uuid) and
//! `Master::acknowledge` → `removeTask`: the master relays an agent's
//! reliable status updates to the framework and the framework's
//! acknowledgements back to the agent, and counts resources as tasks start
//! and end.
//!
//! ## The reliable update protocol, seen from the master
//!
//! ```text
//! agent (status update manager)      master                     scheduler
//!   StatusUpdate{state, latest, uuid} --> record, forward  --> StatusUpdate
//!   (resent until acknowledged)                                    |
//!   <-- StatusUpdateAcknowledgement <--  relay; a terminal   <-- Acknowledge{uuid}
//!                                        ack retires the task
//! ```
//!
//! The agent keeps each task's updates in order, checkpointed, and resends the
//! oldest unacknowledged one until it is acknowledged; only then does it send
//! the next. So the master may see an *old* update again (after a failover,
//! or a lost acknowledgement) while the task has long moved on. Two fields
//! keep that straight (Mesos's `Task.state` and `Task.status_update_state`):
//! the task's *latest* state, which the agent attaches to every update and
//! which decides what resources the task holds, and the state of the update
//! being delivered, which is what reconciliation answers and what an
//! acknowledgement refers to. The master holds no queue of its own: a lost
//! update or acknowledgement is simply resent by the agent. Updates the master
//! makes up (agent lost, invalid launch, reconciliation) carry no uuid and are
//! not acknowledged.

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
        // Only the attached scheduler may kill its framework's tasks.
        if !self.check_scheduler(&from, &fid, "Kill", out) {
            return;
        }
        let epoch = self.epoch;
        let agent_id = self
            .frameworks
            .get(&fid)
            .and_then(|f| f.tasks.get(&task_id))
            .map(|t| t.agent_id.clone());
        // Unknown to the master: an explicit reconciliation of that one task
        // answers the framework (Mesos: "because it is unknown; performing
        // reconciliation"), so that it learns the task's fate instead of waiting
        // for an update that will never come.
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
        // Remembered on the agent entry: if the kill is lost, or the agent is
        // away, its re-registration sends it again (`accept_reregistration`,
        // `agents.rs`).
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

    /// A status update from an agent (Mesos `Master::statusUpdate`): record the
    /// task's new state, forward the update to the framework, and release or
    /// take the task's resources if it stopped or started being active.
    ///
    /// The update is forwarded even for a task the master does not know (say,
    /// a task retired already whose acknowledgement never reached the agent, so
    /// the agent resends its terminal update): the agent is waiting for an
    /// acknowledgement, and only the framework can give it. Mesos forwards
    /// first and looks the task up afterwards, in the same way.
    pub(super) fn on_status_update(
        &mut self,
        from: ProcessId,
        update: StatusUpdate,
        out: &mut Out,
    ) {
        // Only a registered agent's updates count (Mesos ignores updates "from
        // unknown agent" and from removed ones): an agent marked unreachable
        // must re-register first, and its updates are then resent.
        let Some(agent_id) = self.agent_by_process(&from) else {
            out.event(Event::MessageIgnored {
                from,
                kind: "StatusUpdate".into(),
                why: "update from an agent that is not registered".into(),
            });
            return;
        };
        // An update must name the agent that sends it. Mesos looks the agent up
        // by the ID the update names; here the sender must also be that agent,
        // so an update can never move a task from one agent's books to another's.
        if update.agent_id.as_ref() != Some(&agent_id) {
            out.event(Event::MessageIgnored {
                from,
                kind: "StatusUpdate".into(),
                why: "update names another agent".into(),
            });
            return;
        }
        // Agents report only frameworks they were given tasks of, and every such
        // framework is known to this leader (from a registration or a
        // re-registration report); an unknown one was removed.
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
            // Mesos's `updateTask` never overwrites a terminal state; here the
            // agent's `latest_state` is trusted, as an agent's stream never goes
            // from terminal back to active.
            task.state = latest;
            if forwarded && update.uuid.is_some() {
                task.status_update_state = Some(update.state);
                task.latest_uuid = update.uuid.clone();
            }
            // The task's agent is the sender (checked above), so it is registered.
            let agent = self.agents.get_mut(&agent_id).expect("registered");
            // Resources follow the latest state, not the update's: a replayed
            // `TASK_RUNNING` after `TASK_FINISHED` must not take the resources
            // again (Mesos recovers a task's resources once, on its transition to
            // terminal or unreachable, `updateTask`).
            match (was_active, latest.is_active()) {
                (true, false) => agent.release(&task.info),
                (false, true) => agent.occupy(&update.task_id, &task.info),
                _ => {}
            }
        }
        // Forwarded whether or not the task was known: see above.
        self.send_to_framework(update, out);
    }

    /// A framework acknowledges an update (Mesos `Master::acknowledge`): relay
    /// the acknowledgement to the agent, and retire the task if it acknowledges
    /// the task's terminal update.
    ///
    /// The master retires a task only on the acknowledgement of exactly the
    /// terminal update it forwarded (same uuid). Retiring earlier would make a
    /// task vanish while the agent still resends its terminal update, and a
    /// framework asking about it would hear nothing of its end; never retiring
    /// would keep its ID taken and answer reconciliation forever.
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
        // The framework passed `check_scheduler`, so it is known.
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
        // Known, but with no status-update state: this master forwarded no
        // update of it and none was reported with it (a task launched here whose
        // first update has not arrived, or one reported by an agent that
        // restarted and so reports none). Mesos drops such an acknowledgement
        // ("the update was not sent by this master"). The agent resends the
        // update, this master forwards it and records its uuid, and the next
        // acknowledgement goes through.
        if task_state.is_none() {
            out.event(Event::MessageIgnored {
                from,
                kind: "Acknowledge".into(),
                why: format!("no update of {task_id} was forwarded"),
            });
            return;
        }
        // Relayed to the agent, which can then send the task's next update.
        out.send(
            &agent.process,
            Message::StatusUpdateAcknowledgement {
                epoch: self.epoch,
                framework_id: fid.clone(),
                task_id: task_id.clone(),
                uuid: uuid.clone(),
            },
        );
        // The acknowledgement of a terminal update retires the task: it leaves
        // the table (its ID may be reused from now on) and joins the framework's
        // history. Its resources were released already when its state became
        // terminal (`on_status_update`).
        {
            // `latest_uuid` is known only for updates this master forwarded: a
            // task learned from a re-registration has none until the agent resends
            // its pending update. An acknowledgement of an update forwarded by a
            // previous leader is therefore relayed above but retires nothing here.
            // (Mesos's agent reports `status_update_uuid` with each task, so its
            // master can retire the task on such an acknowledgement.)
            let retire = framework.tasks.get(&task_id).is_some_and(|t| {
                t.status_update_state.is_some_and(TaskState::is_terminal)
                    && t.latest_uuid.as_ref() == Some(&uuid)
            });
            if retire {
                let task = framework.tasks.remove(&task_id).expect("checked above");
                // No kill is pending for a task that has ended.
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

    /// Forwards an update to the framework's scheduler if it is attached and
    /// active (Mesos's `forward` is likewise called only for a connected
    /// framework). Undelivered agent updates are retried by the agent;
    /// master-made ones are recoverable by reconciliation, which a scheduler
    /// runs after it (re-)registers.
    pub(super) fn send_to_framework(&mut self, update: StatusUpdate, out: &mut Out) {
        let Some(framework) = self.frameworks.get(&update.framework_id) else {
            return;
        };
        if let (true, Some(scheduler)) = (framework.active, framework.scheduler.clone()) {
            out.send(&scheduler, Message::StatusUpdate { update });
        }
    }
}
