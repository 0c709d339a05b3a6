//! # Reading the master's answers
//!
//! Every answer to a probe is consumed here, so that it never touches what
//! the framework believes about its own tasks, and traced
//! (`AdversaryAnswered`): a refusal (`TASK_ERROR`/`TASK_INVALID`,
//! `INVALID_OFFERS`), a reconciliation answer, or a reuse Mesos refuses that
//! the master accepted. Acknowledgements the adversary holds back or repeats
//! are handled here too.
//!
//! Every status update the framework receives passes through
//! `adversary_on_update` first (from `Scheduler::on_update`), probe or not:
//! besides answering probes, it keeps the adversary's picture of which
//! leader holds which task ID (`heard_from`), which targets the next draws
//! (draw.rs). The rules, by kind of update:
//!
//! | update about | what happens |
//! |---|---|
//! | a task with no probe | the framework's; `heard_from` updated |
//! | a real task's ID with a refusal probe | the refusal is consumed (the launch attempt failed, not the task) |
//! | a real task's ID, refused-reuse probe, but it runs again | the master accepted what Mesos refuses: traced, and the task killed |
//! | a real task's ID with an `Accepted` probe | traced, and passed on: the new incarnation is the framework's |
//! | a ghost ID | the adversary's alone: traced, killed if it runs, acknowledged |
//!
//! Mesos's agent resends a status update until it is acknowledged, with the
//! same uuid (`TaskStatusUpdateStream`, src/slave/task_status_update_manager.cpp),
//! so a ghost's updates are acknowledged too, or they would come back for
//! ever; through the state write, like every acknowledgement.
//!
//! The call and answer records are what the harness checks: its
//! `reuse_refused` checker (harness/src/refusals.rs) looks for a launch
//! under a refused call's ID between the call and its answer (see draw.rs).

use super::*;

impl Scheduler {
    /// An update arrives. Returns `true` if it answers one of the
    /// adversary's probes and must not touch the framework's own view.
    ///
    /// Called before the framework applies the update, so `was_terminal`,
    /// `definite` and `agent_had_it` describe the task *before* it.
    pub(in crate::scheduler) fn adversary_on_update(
        &mut self,
        ctx: &Context,
        update: &StatusUpdate,
        out: &mut Out,
    ) -> bool {
        // The framework's view of the task, read before the borrow below.
        let partition_aware = self.partition_aware();
        let epoch = self.adversary_epoch();
        // Whether this would be the task's first terminal update.
        let was_terminal = self
            .state
            .tasks
            .get(&update.task_id)
            .is_some_and(|t| t.state.is_terminal());
        // Whether the framework counts the task as definitely over.
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
        // Not adversarial: every update is the framework's.
        let Some(adversary) = &mut self.adversary else {
            return false;
        };
        // Only the acknowledgement of a task's *first* terminal update may be
        // held (`adversary_hold_ack`, which runs later in the same input).
        adversary.first_terminal =
            (update.state.is_terminal() && !was_terminal).then(|| update.task_id.clone());
        // Remembered until the acknowledgement goes out (`adversary_on_sent`),
        // which then knows whether it acknowledged a definite end.
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
        // `Master::removeTask` as `Master::markUnreachable` removes the agent),
        // and `validateUniqueTaskID` then accepts the ID.
        //
        // Nor does `TASK_UNREACHABLE` for a task whose agent may never have
        // had it (its `RunTask` lost in the cut): when that agent comes back
        // without reporting the task, `Master::__reregisterSlave` erases it
        // from the unreachable tasks and tells the framework nothing, and the
        // ID is free again. An agent that had the task (it checkpointed it
        // before launching: `Slave::__run`, `Executor::checkpointTask`) reports
        // it on re-registration, and the master keeps the ID.
        // Any other state shows it; so does an unreachable report from a leader
        // whose agent had the task.
        let shows_known = update.state != TaskState::Unreachable
            || (agent_had_it && update.reason != Some(Reason::Reconciliation));
        if !shows_known {
            // Whatever a leader said before, the ID is no longer certain.
            adversary.heard_from.remove(&update.task_id);
        }
        // No probe on this ID: the update is the framework's. Note who told us.
        let Some(probe) = adversary.probes.get(&update.task_id).cloned() else {
            if let (Some(epoch), true) = (epoch, shows_known) {
                adversary.heard_from.insert(update.task_id.clone(), epoch);
            }
            return false;
        };
        // Is this the answer the probe waits for? A ghost's every update is
        // traced, answer or not: the ID is nobody else's.
        let answered = probe.expected.is_answered_by(update);
        if answered || probe.ghost {
            // The answer as the trace shows it: state, reason, message.
            let answer = match update.reason {
                Some(reason) => format!("{} ({reason})", update.state),
                None => update.state.to_string(),
            };
            // With the master's own words, e.g. "Task has duplicate ID: ...".
            let answer = match &update.message {
                Some(message) => format!("{answer}: {message}"),
                None => answer,
            };
            // Traced once per answer; `tick_adversary` traces the unanswered.
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
            // A real ID's probe ends with its answer; a ghost's when it stops running.
            if !probe.ghost || answered || !running {
                adversary.probes.remove(&update.task_id);
            }
        }
        // (Recomputed: the block above runs only for answers and ghosts.)
        let running = matches!(
            update.state,
            TaskState::Staging | TaskState::Starting | TaskState::Running
        );
        // A refused-reuse probe on a task the framework counts as over, and the
        // task is running: the launch went through. (A live task's own updates
        // cannot be told apart from a wrongly accepted copy's, so only a finished
        // task shows it.)
        if !probe.ghost && probe.expected == Expected::TaskInvalid && running && definite {
            // A reuse the master accepted against Mesos's rule: a task the
            // framework considers over runs again. Say so, and kill it.
            out.event(Event::AdversaryAnswered {
                action: probe.action.name().to_string(),
                task_id: Some(update.task_id.clone()),
                expected: probe.expected.describe(partition_aware).to_string(),
                answer: format!("accepted: {} from the {:?}", update.state, update.source),
            });
            // Answered, if wrongly: the probe is done.
            adversary.probes.remove(&update.task_id);
            // Killed: the framework has no place for a task it believes over.
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
            // The update itself is then left to the framework, which ignores it as a
            // replay (the task's end is definite: `Scheduler::on_update`).
            return false;
        }
        // A real task's ID: the framework's updates go on as usual.
        if !probe.ghost {
            // The probe's updates tell us about the leader too.
            if let (Some(epoch), true) = (epoch, shows_known) {
                adversary.heard_from.insert(update.task_id.clone(), epoch);
            }
            // A refused reuse's answer is about the launch attempt, not the
            // task the framework tracks under that ID.
            // Not consumed: an accepted reuse's updates, and anything that is not
            // the answer, go on to the framework.
            return answered && probe.expected != Expected::Accepted;
        }
        // A ghost is the adversary's alone. If one runs after all (a master
        // accepted what Mesos refuses), kill it; acknowledge what must be.
        // (The master is not trusted to have refused: a ghost that runs would
        // hold resources the framework does not count.)
        if matches!(
            update.state,
            TaskState::Staging | TaskState::Starting | TaskState::Running
        ) {
            // Each update of a running ghost sends the kill again: a lost kill is
            // retried this way, until the ghost's end arrives.
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
        // Acknowledged like any update, after a write: the agent stops resending.
        if let (Some(uuid), Some(agent_id)) = (update.uuid.clone(), update.agent_id.clone()) {
            self.after_next_write.push(Message::Acknowledge {
                framework_id: update.framework_id.clone(),
                agent_id,
                task_id: update.task_id.clone(),
                uuid,
            });
            self.changed(ctx, out);
        }
        // Consumed: the framework never hears of a ghost.
        true
    }

    /// Whether to hold back this acknowledgement (the adversary then launches
    /// under the task's ID before it goes). Returns it back if not.
    ///
    /// Holding it keeps the task in Mesos's `Framework::tasks`: a terminal task
    /// leaves it only once its update is acknowledged (`Master::acknowledge` →
    /// `Master::removeTask`), so a launch under its ID in the meantime must be
    /// refused by `validateUniqueTaskID`. Held only when the `ReuseUnacknowledged`
    /// call is armed and this is the task's first terminal update, at most one
    /// at a time.
    pub(in crate::scheduler) fn adversary_hold_ack(
        &mut self,
        ctx: &Context,
        update_state: TaskState,
        ack: Message,
    ) -> Option<Message> {
        // Not adversarial: every acknowledgement goes.
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
        // Armed: drawn at a tick, waiting for a terminal update to name its task.
        let armed = adversary.pending.as_ref().is_some_and(|p| {
            p.action == AdversaryAction::ReuseUnacknowledgedTaskId && p.task_id.is_none()
        });
        // Not armed, not terminal, or one held already: it goes.
        if !armed || !update_state.is_terminal() || adversary.held_ack.is_some() {
            return Some(ack);
        }
        let Message::Acknowledge { task_id, .. } = &ack else {
            return Some(ack);
        };
        // A repeat of an earlier terminal update (an agent's retry): the ID may
        // already have been freed by its twin's acknowledgement.
        if adversary.first_terminal.as_ref() != Some(task_id) {
            return Some(ack);
        }
        // The call now has its target, and waits for an offer.
        adversary.pending = Some(Pending {
            action: AdversaryAction::ReuseUnacknowledgedTaskId,
            task_id: Some(task_id.clone()),
            since_ms: ctx.now_ms,
        });
        // Held: `release_held_ack` sends it once the reuse is out, or dropped.
        adversary.held_ack = Some(ack);
        None
    }

    /// Acknowledgements went out (after the state write that reflects them).
    ///
    /// Called by `on_state_written` with everything the write released;
    /// remembers each acknowledgement (to repeat it later) and, for one of a
    /// definite terminal update, that the task's ID is free again at this
    /// leader (`acknowledged_final`, the target of `ReuseFinishedTaskId`).
    /// Acknowledgements went out (after the state write that reflects them).
    pub(in crate::scheduler) fn adversary_on_sent(&mut self, sent: &[Message]) {
        let epoch = self.adversary_epoch();
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        // Not registered: the acknowledgement went nowhere worth noting.
        let Some(epoch) = epoch else { return };
        for message in sent {
            // Only acknowledgements matter here (accepts and kills ride along too).
            let Message::Acknowledge { task_id, uuid, .. } = message else {
                continue;
            };
            // The state of the update it acknowledges, recorded on arrival.
            let state = adversary.unacknowledged.remove(uuid);
            // A bounded memory: the oldest is forgotten.
            if adversary.acks_sent.len() == ACKS_REMEMBERED_MAX {
                adversary.acks_sent.pop_front();
            }
            // Remembered for `AcknowledgeTwice` and `AcknowledgeOutOfOrder`.
            adversary.acks_sent.push_back(SentAck {
                message: message.clone(),
                task_id: task_id.clone(),
                epoch,
            });
            // Definite only: after `TASK_LOST`, say, the task may still run, and its
            // agent could report it again, keeping the ID taken.
            if state.is_some_and(TaskState::is_definite) {
                adversary.acknowledged_final.insert(task_id.clone(), epoch);
            }
        }
    }

    /// The master refused an operation: the answer to a reserve or
    /// unreserve call, if one is waiting.
    ///
    /// Matched in order: operation errors carry no task ID, and the master
    /// answers in the order the calls came (one link, in order). An error with
    /// no call waiting (one of the
    /// framework's own, or a scenario's) is traced by `on_message` alone.
    pub(in crate::scheduler) fn adversary_on_operation_error(
        &mut self,
        operation: &str,
        message: &str,
        out: &mut Out,
    ) {
        let Some(adversary) = &mut self.adversary else {
            return;
        };
        // No adversarial operation in flight: not an answer of ours.
        let Some(action) = adversary.operation_probes.pop_front() else {
            return;
        };
        // Traced with the master's message, to compare with Mesos's.
        out.event(Event::AdversaryAnswered {
            action: action.name().to_string(),
            task_id: None,
            expected: "OperationError".into(),
            answer: format!("OperationError {operation}: {message}"),
        });
    }
}
