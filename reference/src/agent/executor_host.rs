//! # The executor host: the machine's executors, seen from the agent
//!
//! Mesos's containerizer and executors, folded into one process per machine:
//! `Slave::registerExecutor` / `reregisterExecutor` (what it still runs),
//! `Slave::executorTerminated` (its tasks `TASK_FAILED`,
//! `EXECUTOR_TERMINATED`) and `Slave::registerExecutorTimeout` (queued
//! launches `TASK_FAILED`, `EXECUTOR_REGISTRATION_TIMEOUT`).

use super::*;

impl Agent {
    pub(super) fn on_executor_host_registered(
        &mut self,
        ctx: &Context,
        reports: Vec<ExecutorTaskReport>,
        unacknowledged: Vec<StatusUpdate>,
        out: &mut Out,
    ) {
        // The re-registration window stays armed: recovery completes when it
        // closes, however early the executors are back (MESOS-7539).
        self.executor_host = ExecutorHostLink::Registered;
        out.send(&self.config.executor_host, Message::ExecutorHostRegistered);
        for key in std::mem::take(&mut self.pending_kills) {
            self.on_kill_task(ctx, key.framework_id, key.task_id, out);
        }
        for update in unacknowledged {
            self.on_executor_update(ctx, update, out);
        }
        // Hand over the launches queued while it was away (Mesos
        // `Slave::registerExecutor` sends the executor its queued tasks).
        let queued = std::mem::take(&mut self.queued_launches);
        if !queued.is_empty() {
            out.cancel_timer(AgentTimer::ExecutorRegistrationTimeout);
        }
        for (key, task) in &queued {
            out.send(
                &self.config.executor_host,
                Message::LaunchTask {
                    framework_id: key.framework_id.clone(),
                    task: task.clone(),
                },
            );
        }
        // Tasks the executor host runs that we do not know of (their framework
        // was shut down while we were away), or that we already declared
        // ended (their executor came back after the re-registration window,
        // which Mesos's `Slave::reregisterExecutorTimeout` closes by destroying
        // the container), are killed: nothing runs that the framework was
        // told is gone.
        for report in &reports {
            let known_live = self
                .tasks
                .get(&report.framework_id)
                .and_then(|t| t.get(&report.task_id))
                .is_some_and(|t| !t.state.is_terminal());
            if !known_live && !report.state.is_terminal() {
                out.send(
                    &self.config.executor_host,
                    Message::KillTaskInExecutor {
                        framework_id: report.framework_id.clone(),
                        task_id: report.task_id.clone(),
                    },
                );
            }
        }
        // Tasks we believe run but the executor host does not have. A task
        // still `TASK_STAGING` never reached its executor (the agent died
        // before forwarding it): `TASK_DROPPED`, or `TASK_LOST` for a framework
        // that is not partition-aware, reason `AGENT_RESTARTED`
        // (`Slave::reregisterExecutor`). Any other task's executor died while
        // the agent was down: `TASK_FAILED`, reason `EXECUTOR_TERMINATED`
        // (`Slave::executorTerminated` for a container recovery found dead).
        for key in self.active_task_keys() {
            let reported = reports
                .iter()
                .any(|r| r.framework_id == key.framework_id && r.task_id == key.task_id);
            if reported || queued.contains_key(&key) {
                continue;
            }
            let staging = self.tasks[&key.framework_id][&key.task_id].state == TaskState::Staging;
            let (state, reason, why) = if staging {
                let state = Self::dropped_or_lost(self.partition_aware(&key));
                (
                    state,
                    Reason::AgentRestarted,
                    "the task never reached its executor before the agent restarted",
                )
            } else {
                (
                    TaskState::Failed,
                    Reason::ExecutorTerminated,
                    "the executor terminated while the agent was down",
                )
            };
            self.agent_update(ctx, &key, state, reason, why, out);
        }
    }

    pub(super) fn on_executor_update(
        &mut self,
        ctx: &Context,
        update: StatusUpdate,
        out: &mut Out,
    ) {
        let key = TaskKey {
            framework_id: update.framework_id.clone(),
            task_id: update.task_id.clone(),
        };
        let uuid = update.uuid.clone().expect("executor updates carry a uuid");
        let Some(task) = self
            .tasks
            .get(&key.framework_id)
            .and_then(|t| t.get(&key.task_id))
        else {
            // Unknown task (already finished and forgotten): just acknowledge.
            self.ack_executor(&key, uuid, out);
            return;
        };
        // As Mesos's status update stream: once a task's stream holds a
        // terminal update it is closed, and a later update — one the executor
        // resends after the agent already declared the task ended — is
        // rejected, so a framework never hears RUNNING after FAILED.
        let duplicate = task
            .pending_updates
            .iter()
            .any(|u| u.uuid.as_ref() == Some(&uuid))
            || task.acknowledged.contains(&uuid)
            || task.state.is_terminal();
        if !duplicate {
            // The update is appended to the task's log (synced) *before* it is
            // acknowledged to the executor: a crash between the two can
            // duplicate the update, never lose it.
            self.enqueue_update(ctx, &key, update, out);
        }
        self.ack_executor(&key, uuid, out);
    }

    pub(super) fn ack_executor(&self, key: &TaskKey, uuid: UpdateUuid, out: &mut Out) {
        out.send(
            &self.config.executor_host,
            Message::ExecutorStatusUpdateAck {
                framework_id: key.framework_id.clone(),
                task_id: key.task_id.clone(),
                uuid,
            },
        );
    }

    pub(super) fn on_executor_host_lost(&mut self, ctx: &Context, out: &mut Out) {
        if self.executor_host != ExecutorHostLink::Registered {
            return;
        }
        self.executor_host = ExecutorHostLink::Disconnected { expected: false };
        // The containerizer died under a running agent: its tasks are gone.
        for key in self.active_task_keys() {
            self.agent_update(
                ctx,
                &key,
                TaskState::Failed,
                Reason::ExecutorTerminated,
                "the executor host terminated",
                out,
            );
        }
    }
}
