//! # Reading the master's answers
//!
//! Every answer to a probe is consumed here, so that it never touches what
//! the framework believes about its own tasks, and traced
//! (`AdversaryAnswered`): a refusal (`TASK_ERROR`/`TASK_INVALID`,
//! `INVALID_OFFERS`), a reconciliation answer, or a reuse Mesos refuses that
//! the master accepted. Acknowledgements the adversary holds back or repeats
//! are handled here too.

use super::*;

impl Scheduler {
    /// An update arrives. Returns `true` if it answers one of the
    /// adversary's probes and must not touch the framework's own view.
    pub(in crate::scheduler) fn adversary_on_update(
        &mut self,
        ctx: &Context,
        update: &StatusUpdate,
        out: &mut Out,
    ) -> bool {
        let partition_aware = self.partition_aware();
        let epoch = self.adversary_epoch();
        let was_terminal = self
            .state
            .tasks
            .get(&update.task_id)
            .is_some_and(|t| t.state.is_terminal());
        let definite = self
            .state
            .tasks
            .get(&update.task_id)
            .is_some_and(|t| t.state.is_definite());
        // Whether the task's agent is known to have had it: the framework
        // last heard it starting or running (from its executor, through the
        // agent, or from a leader that held it).
        let agent_had_it = self
            .state
            .tasks
            .get(&update.task_id)
            .is_some_and(|t| matches!(t.state, TaskState::Starting | TaskState::Running));
        let Some(adversary) = &mut self.adversary else {
            return false;
        };
        adversary.first_terminal =
            (update.state.is_terminal() && !was_terminal).then(|| update.task_id.clone());
        if let Some(uuid) = &update.uuid {
            adversary.unacknowledged.insert(uuid.clone(), update.state);
        }
        // Whether this update shows that the current leader holds the task.
        // A reconciliation answer `TASK_UNREACHABLE` does not: Mesos's
        // `Master::reconcile` gives it (case 4) for a task it does not know on
        // an agent the registry lists as unreachable — which is every task of
        // such an agent after a failover, since a new leader recovers the
        // unreachable agents from the registry but not their tasks
        // (`slaves.unreachableTasks` lives in memory, filled by
        // `Master::markUnreachable`), and `validateUniqueTaskID` then accepts
        // the ID.
        //
        // Nor does `TASK_UNREACHABLE` for a task whose agent may never have
        // had it (its `RunTask` lost in the cut): when that agent comes back
        // without reporting the task, `Master::__reregisterSlave` erases it
        // from the unreachable tasks and tells the framework nothing, and the
        // ID is free again. An agent that had the task (it checkpointed it
        // before launching, `Slave::runTask`) reports it on re-registration,
        // and the master keeps the ID.
        let shows_known = update.state != TaskState::Unreachable
            || (agent_had_it && update.reason != Some(Reason::Reconciliation));
        if !shows_known {
            // Whatever a leader said before, the ID is no longer certain.
            adversary.heard_from.remove(&update.task_id);
        }
        let Some(probe) = adversary.probes.get(&update.task_id).cloned() else {
            if let (Some(epoch), true) = (epoch, shows_known) {
                adversary.heard_from.insert(update.task_id.clone(), epoch);
            }
            return false;
        };
        let answered = probe.expected.is_answered_by(update);
        if answered || probe.ghost {
            let answer = match update.reason {
                Some(reason) => format!("{} ({reason})", update.state),
                None => update.state.to_string(),
            };
            let answer = match &update.message {
                Some(message) => format!("{answer}: {message}"),
                None => answer,
            };
            out.event(Event::AdversaryAnswered {
                action: probe.action.name().to_string(),
                task_id: Some(update.task_id.clone()),
                expected: probe.expected.describe(partition_aware).to_string(),
                answer,
            });
            // A ghost that runs after all stays a probe until it ends.
            let running = matches!(
                update.state,
                TaskState::Staging | TaskState::Starting | TaskState::Running
            );
            if !probe.ghost || answered || !running {
                adversary.probes.remove(&update.task_id);
            }
        }
        let running = matches!(
            update.state,
            TaskState::Staging | TaskState::Starting | TaskState::Running
        );
        if !probe.ghost && probe.expected == Expected::TaskInvalid && running && definite {
            // A reuse the master accepted against Mesos's rule: a task the
            // framework considers over runs again. Say so, and kill it.
            out.event(Event::AdversaryAnswered {
                action: probe.action.name().to_string(),
                task_id: Some(update.task_id.clone()),
                expected: probe.expected.describe(partition_aware).to_string(),
                answer: format!("accepted: {} from the {:?}", update.state, update.source),
            });
            adversary.probes.remove(&update.task_id);
            if let (Some(fid), Some(master)) =
                (self.state.framework_id.clone(), self.master().cloned())
            {
                out.send(
                    &master,
                    Message::Kill {
                        framework_id: fid,
                        task_id: update.task_id.clone(),
                    },
                );
            }
            return false;
        }
        if !probe.ghost {
            if let (Some(epoch), true) = (epoch, shows_known) {
                adversary.heard_from.insert(update.task_id.clone(), epoch);
            }
            // A refused reuse's answer is about the launch attempt, not the
            // task the framework tracks under that ID.
            return answered && probe.expected != Expected::Accepted;
        }
        // A ghost is the adversary's alone. If one runs after all (a master
        // accepted what Mesos refuses), kill it; acknowledge what must be.
        if matches!(
            update.state,
            TaskState::Staging | TaskState::Starting | TaskState::Running
        ) {
            if let (Some(fid), Some(master)) =
                (self.state.framework_id.clone(), self.master().cloned())
            {
                out.send(
                    &master,
                    Message::Kill {
                        framework_id: fid,
                        task_id: update.task_id.clone(),
                    },
                );
            }
        }
        if let (Some(uuid), Some(agent_id)) = (update.uuid.clone(), update.agent_id.clone()) {
            self.after_next_write.push(Message::Acknowledge {
                framework_id: update.framework_id.clone(),
                agent_id,
                task_id: update.task_id.clone(),
                uuid,
            });
            self.changed(ctx, out);
        }
        true
    }

    /// Whether to hold back this acknowledgement (the adversary then launches
    /// under the task's ID before it goes). Returns it back if not.
    pub(in crate::scheduler) fn adversary_hold_ack(
        &mut self,
        ctx: &Context,
        update_state: TaskState,
        ack: Message,
    ) -> Option<Message> {
        let Some(adversary) = &mut self.adversary else {
            return Some(ack);
        };
        let Message::Acknowledge { task_id, .. } = &ack else {
            return Some(ack);
        };
        if let Some(Message::Acknowledge { task_id: held, .. }) = &adversary.held_ack {
            if held == task_id {
                // A retried copy of the held update: its acknowledgement
                // would free the ID before the launch. The held one answers
                // both (same uuid) once it goes.
                return None;
            }
        }
        let armed = adversary.pending.as_ref().is_some_and(|p| {
            p.action == AdversaryAction::ReuseUnacknowledgedTaskId && p.task_id.is_none()
        });
        if !armed || !update_state.is_terminal() || adversary.held_ack.is_some() {
            return Some(ack);
        }
        let Message::Acknowledge { task_id, .. } = &ack else {
            return Some(ack);
        };
        if adversary.first_terminal.as_ref() != Some(task_id) {
            return Some(ack);
        }
        adversary.pending = Some(Pending {
            action: AdversaryAction::ReuseUnacknowledgedTaskId,
            task_id: Some(task_id.clone()),
            since_ms: ctx.now_ms,
        });
        adversary.held_ack = Some(ack);
        None
    }

    /// Acknowledgements went out (after the state write that reflects them).
    pub(in crate::scheduler) fn adversary_on_sent(&mut self, sent: &[Message]) {
        let epoch = self.adversary_epoch();
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        let Some(epoch) = epoch else { return };
        for message in sent {
            let Message::Acknowledge { task_id, uuid, .. } = message else {
                continue;
            };
            let state = adversary.unacknowledged.remove(uuid);
            if adversary.acks_sent.len() == ACKS_REMEMBERED_MAX {
                adversary.acks_sent.pop_front();
            }
            adversary.acks_sent.push_back(SentAck {
                message: message.clone(),
                task_id: task_id.clone(),
                epoch,
            });
            if state.is_some_and(TaskState::is_definite) {
                adversary.acknowledged_final.insert(task_id.clone(), epoch);
            }
        }
    }

    /// The master refused an operation: the answer to a reserve or
    /// unreserve call, if one is waiting.
    pub(in crate::scheduler) fn adversary_on_operation_error(
        &mut self,
        operation: &str,
        message: &str,
        out: &mut Out,
    ) {
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        let Some(action) = adversary.operation_probes.pop_front() else {
            return;
        };
        out.event(Event::AdversaryAnswered {
            action: action.name().to_string(),
            task_id: None,
            expected: "OperationError".into(),
            answer: format!("OperationError {operation}: {message}"),
        });
    }
}
