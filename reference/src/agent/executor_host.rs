//! # The executor host: the machine's executors, seen from the agent
//!
//! Mesos's containerizer and executors, folded into one process per machine:
//! `Slave::registerExecutor` / `reregisterExecutor` (what it still runs),
//! `Slave::executorTerminated` (its tasks `TASK_FAILED`,
//! `EXECUTOR_TERMINATED`) and `Slave::registerExecutorTimeout` (queued
//! launches `TASK_FAILED`, `EXECUTOR_REGISTRATION_TIMEOUT`).
//!
//! The other side is `executor/mod.rs`. The messages map onto Mesos's
//! executor protocol: `RegisterExecutorHost` is `ReregisterExecutorMessage`
//! (what it runs, and every update not yet acknowledged), answered by
//! `ExecutorHostRegistered`; `LaunchTask` and `KillTaskInExecutor` are the
//! `RunTaskMessage` and `KillTaskMessage` the agent relays to an executor;
//! `ExecutorStatusUpdate` and `ExecutorStatusUpdateAck` are the status update
//! and its acknowledgement. As a Mesos executor driver does, the executor host
//! keeps every update until the agent acknowledges it and sends all of them
//! again when it re-registers, so the agent must take duplicates in stride.

use super::*;

impl Agent {
    /// The executor host (re-)registered: after this agent process started,
    /// or after the executor host itself was restarted. Mesos
    /// `Slave::reregisterExecutor` for a restarted agent; here the same
    /// handshake also serves a first registration.
    ///
    /// The steps run in an order that matters: the handshake answer first
    /// (the executor host sends updates only once registered, so launches
    /// before it would have their updates held back); then the kills that
    /// waited for it; then its unacknowledged updates, *before* deciding which
    /// tasks are missing — a task that ended while the agent was down is no
    /// longer among those it runs, and only its own terminal update says how
    /// it ended (taken the other way round, the agent would declare it
    /// `TASK_FAILED` and drop the real ending as an update after a terminal
    /// one); then the queued launches; then the two reconciliations.
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
        // told is gone. (Mesos's `Slave::reregisterExecutor` answers an
        // executor of an unknown framework with `ShutdownExecutorMessage`.)
        // The same covers a live executor host whose connection alone broke:
        // `on_executor_host_lost` has failed its tasks, so they are killed.
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

    /// An update from the executor host: Mesos `Slave::statusUpdate` →
    /// `_statusUpdate` → `__statusUpdate`, which hands it to the status
    /// update manager (`TaskStatusUpdateManagerProcess::update`: checkpoint,
    /// queue, forward if first), then `___statusUpdate`, which acknowledges it
    /// to the executor. A new update joins its task's stream
    /// (tasks.rs, `enqueue_update`); every update, new or not, is
    /// acknowledged, or the executor host would keep it and resend it forever.
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
            // Its framework heard the end already (the stream was retired on
            // its acknowledgement), or the framework was shut down. Mesos
            // drops an unknown framework's update unacknowledged, and hands
            // an unknown executor's to the status update manager again.
            self.ack_executor(&key, uuid, out);
            return;
        };
        // Three kinds of update are not queued again. One still pending: the
        // agent checkpointed it but died before acknowledging it (Mesos
        // `TaskStatusUpdateStream::update`, its `received` set). One already
        // acknowledged by the framework: the agent's acknowledgement to the
        // executor was lost (the same function, its `acknowledged` set). Any
        // update once the task is terminal: as Mesos's `Executor::updateTaskState`
        // (called from `Slave::_statusUpdate`) refuses an update for a task
        // already terminated — one the executor sends after the agent
        // declared the task ended — so a framework never hears RUNNING after
        // FAILED.
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

    /// Acknowledges an update to the executor host, which may then forget
    /// it (Mesos `Slave::___statusUpdate` sends the executor a
    /// `StatusUpdateAcknowledgementMessage`). Called after the update's log
    /// append was output: the driver completes (and fsyncs) outputs in order
    /// (io.rs), so the acknowledgement leaves only once the update is durable.
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

    /// The connection to a registered executor host broke: it died, and its
    /// tasks with it (Mesos `Slave::executorTerminated` →
    /// `sendExecutorTerminatedStatusUpdate`: `TASK_FAILED`, reason
    /// `EXECUTOR_TERMINATED`, from the agent). Nothing is expected back:
    /// later launches queue for a new executor host
    /// (`AgentTimer::ExecutorRegistrationTimeout`).
    pub(super) fn on_executor_host_lost(&mut self, ctx: &Context, out: &mut Out) {
        // Not registered: it ran nothing on this agent's behalf yet (the
        // recovery window, if any, still decides for recovered tasks).
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
