//! # The reliable status update stream
//!
//! Mesos's task status update manager (src/slave/task_status_update_manager.cpp,
//! `TaskStatusUpdateManagerProcess::update`, `forward`, `acknowledgement`,
//! `timeout`): checkpoint an update, then acknowledge it to the executor; send
//! the stream's head to the master and retry it with backoff until the
//! framework acknowledges it, in order, one at a time per task.
//!
//! ```text
//! update accepted     → `Update` record appended (synced) → queued; sent if it is the head
//! head sent           → (only while registered) resent after 10 s, 20 s, … 10 min
//! head acknowledged   → `Ack` record appended → the next update is the head, and is sent
//! terminal one acked  → task forgotten: state file rewritten, log deleted
//! ```
//!
//! Why one update in flight per task: the framework must hear a task's states
//! in order, and an update is known to have arrived only once acknowledged.
//! With two in flight, a retry of the first could land after the second.
//!
//! Every update has a uuid, unique within its task's stream, since
//! acknowledgements match by it: the executor host numbers its updates
//! `{task}#{n}`, the agent its own `{task}#a{n}`, so the two never collide.
//!
//! Acknowledgements run back one hop at a time. The executor host keeps an
//! update until the agent has it on disk (executor_host.rs, `ack_executor`);
//! the agent keeps it until the framework's acknowledgement comes back through
//! the master (`on_acknowledgement`); the master keeps none, so a failover
//! loses nothing. In Mesos's names: `AgentTask::pending_updates` is
//! `TaskStatusUpdateStream::pending`, `acknowledged` its `acknowledged` set,
//! `Agent::retry_ms` its `timeout`, `queued_launches` `Executor::queuedTasks`.
//!
//! Who calls in: `on_message` (mod.rs) hands the framework's acknowledgements
//! here (`on_acknowledgement`); executor_host.rs feeds executor updates to
//! `enqueue_update`; registration.rs resends stream heads; tasks.rs,
//! recovery.rs and executor_host.rs end tasks through `agent_update`.
//!
//! ## A crash at each step
//!
//! ```text
//! task checkpointed, LaunchTask not sent   recovered TASK_STAGING; the executor host does not
//!                                          report it: TASK_DROPPED/LOST, AGENT_RESTARTED
//! update appended, executor not acked      the executor resends it: a duplicate, acked, dropped
//! executor acked, master never got it      the update is in the log: replayed and resent
//! framework acked, `Ack` record not yet    resent: the framework hears it twice (at least once)
//! final `Ack` record, state not rewritten  recovery skips the finished task (its log stays)
//! power cut mid-append                     the torn record is cut; the executor, never acked,
//!                                          died with the machine: the task ends TASK_FAILED
//! ```

use super::*;
use crate::bugs::agent as bugs;

impl Agent {
    /// A status update stream for a task this agent does not know (so that the
    /// answer it owes about it is delivered reliably, as Mesos's status update
    /// manager delivers any update). The agent never had the task's
    /// description, so the stream's task records only the ID, and uses
    /// nothing. The caller checkpoints, then adds the update.
    ///
    /// Why a reliable stream rather than a one-off answer: the master keeps
    /// such a task, holding its resources, until the framework acknowledges a
    /// terminal update for it (`master/updates.rs`, `on_acknowledge`); an
    /// answer lost in a failover would leave it there for good.
    pub(super) fn open_unknown_task_stream(
        &mut self,
        framework: &FrameworkInfo,
        task_id: TaskId,
    ) -> TaskKey {
        let fid = framework
            .id
            .clone()
            .expect("a framework the master names has an ID");
        let info = TaskInfo {
            task_id: task_id.clone(),
            resources: Resources::default(),
            role: framework.role.clone(),
            volume: None,
            // Never run: the stand-in is never launched.
            workload: crate::task::Workload::Forever,
        };
        // `TASK_STAGING` only until the caller's update makes it terminal.
        self.tasks.entry(fid.clone()).or_default().insert(
            task_id.clone(),
            AgentTask {
                info,
                state: TaskState::Staging,
                pending_updates: VecDeque::new(),
                agent_updates: 0,
                acknowledged: BTreeSet::new(),
                forwarded: None,
            },
        );
        // The framework may be new here (its only launch never arrived): it
        // is checkpointed with the stream, which recovery needs.
        self.frameworks
            .entry(fid.clone())
            .or_insert_with(|| framework.clone());
        TaskKey {
            framework_id: fid,
            task_id,
        }
    }

    /// The agent itself ends a task its executor cannot speak for (Mesos:
    /// `protobuf::createStatusUpdate(..., SOURCE_SLAVE, ...)` passed to
    /// `Slave::statusUpdate` with no executor). Its uuid is `{task}#a{n}`
    /// (module comment). `reason` is what frameworks act on; `message` is
    /// for people.
    pub(super) fn agent_update(
        &mut self,
        ctx: &Context,
        key: &TaskKey,
        state: TaskState,
        reason: Reason,
        message: &str,
        out: &mut Out,
    ) {
        // `None` only before a first registration; `send_stream_head` fills
        // it in when the update goes out.
        let agent_id = self.agent_id.clone();
        let Some(task) = self
            .tasks
            .get_mut(&key.framework_id)
            .and_then(|t| t.get_mut(&key.task_id))
        else {
            return;
        };
        task.agent_updates += 1;
        let update = StatusUpdate {
            latest_state: None,
            framework_id: key.framework_id.clone(),
            task_id: key.task_id.clone(),
            agent_id,
            state,
            reason: Some(reason),
            source: Source::Agent,
            uuid: Some(UpdateUuid::new(format!(
                "{}#a{}",
                key.task_id, task.agent_updates
            ))),
            message: Some(message.to_string()),
        };
        // Logged and queued like an executor's update: the same stream, the
        // same guarantees.
        self.enqueue_update(ctx, key, update, out);
    }

    /// Appends an update to its task's stream — in memory and, synced, to the
    /// task's log (Mesos `TaskStatusUpdateStream::handle`) — and sends it if
    /// nothing is in flight. The task must already be in the state file (the
    /// caller saw to it), or recovery would never read this log. Mesos does
    /// not fsync the log (it reads it only after a process crash, trusting
    /// the page cache); this crate also reads it after a reboot, so it syncs.
    pub(super) fn enqueue_update(
        &mut self,
        ctx: &Context,
        key: &TaskKey,
        update: StatusUpdate,
        out: &mut Out,
    ) {
        // A task already gone (its framework shut down): nothing to deliver.
        let Some(task) = self
            .tasks
            .get_mut(&key.framework_id)
            .and_then(|t| t.get_mut(&key.task_id))
        else {
            return;
        };
        // The stream's order: nothing follows a terminal update. Every path
        // that makes an update checks first that the task is live — the
        // executor's (`on_executor_update`, as Mesos's
        // `Executor::updateTaskState` refuses a post-terminal one) and the
        // agent's own (`agent_update`'s callers) — so a terminal task here is
        // a bug that would send a framework a state after the end.
        assert!(
            !task.state.is_terminal(),
            "{}: {:?} queued after the terminal {:?}",
            key.task_id,
            update.state,
            task.state
        );
        // Every queued update is retried until acknowledged, and
        // acknowledgements match by uuid: one without would never leave.
        assert!(
            update.uuid.is_some(),
            "agent-side updates are acknowledged, so carry a uuid"
        );
        // The stream's tail is the task's latest state.
        task.state = update.state;
        task.pending_updates.push_back(update.clone());
        // Only the head is ever in flight; a later one waits for its turn.
        let first = task.pending_updates.len() == 1;
        let uuid = update.uuid.clone().expect("checked above");
        let queued = Event::UpdateQueued {
            framework_id: key.framework_id.clone(),
            task_id: key.task_id.clone(),
            uuid: uuid.clone(),
            state: update.state,
        };
        // Planted-bug hook (`bugs/agent.rs`): may keep the update in memory.
        if !bugs::ack_before_checkpoint_defers(
            self.config.bug,
            first,
            update.source,
            &uuid,
            &mut self.unlogged,
        ) {
            self.append_record(key, &StreamRecord::Update(update), out);
        }
        // The event comes after the write: outputs run in order, so it is
        // recorded only once the update is durably in the stream — the point
        // from which the agent answers for it (and acknowledges the executor).
        // An update torn by a power failure mid-write was never the agent's to
        // deliver: the executor was not acknowledged and the reboot reports
        // the task instead.
        out.event(queued);
        if first {
            self.send_stream_head(ctx, key, out);
        }
    }

    /// Sends a stream's head to the master and arms its retry (Mesos
    /// `TaskStatusUpdateManagerProcess::forward` → `Slave::forward`). While
    /// not registered the send is skipped but the timer runs, as Mesos's
    /// `Slave::forward` drops updates unless `RUNNING`; `on_registered`
    /// resends every head.
    pub(super) fn send_stream_head(&mut self, ctx: &Context, key: &TaskKey, out: &mut Out) {
        let Some(head) = self
            .tasks
            .get(&key.framework_id)
            .and_then(|t| t.get(&key.task_id))
            .and_then(|t| t.pending_updates.front())
            .cloned()
        else {
            // An empty stream (acknowledged meanwhile): nothing to send.
            return;
        };
        // 10 s for a new head; `tick_status_retry` doubles it.
        let retry = *self
            .retry_ms
            .entry(key.clone())
            .or_insert(self.config.timing.status_update_retry_ms);
        // Armed before the send, registered or not: a head is retried until
        // it is acknowledged.
        out.set_timer(AgentTimer::StatusRetry(key.clone()), ctx.now_ms + retry);
        if let MasterLink::Registered { master, .. } = &self.master {
            let mut update = head;
            // Updates made before registration carry no agent ID yet.
            update.agent_id = self.agent_id.clone();
            // Mesos `Slave::forward` sets `latest_state`, so the master frees
            // a finished task's resources while older updates still queue;
            // and records `status_update_state` (here `forwarded`).
            // For example, a stream holding RUNNING (in flight) and FINISHED
            // (queued) sends RUNNING with `latest_state: FINISHED`: the master
            // records the task finished at once, while the framework still
            // hears RUNNING first.
            update.latest_state = self
                .tasks
                .get(&key.framework_id)
                .and_then(|t| t.get(&key.task_id))
                .map(|t| t.state);
            let master = master.clone();
            if let Some(task) = self
                .tasks
                .get_mut(&key.framework_id)
                .and_then(|t| t.get_mut(&key.task_id))
            {
                task.forwarded = Some(update.state);
            }
            // The master forwards it to the framework and relays the
            // framework's acknowledgement back (`master/updates.rs`).
            out.send(&master, Message::StatusUpdate { update });
        }
    }

    /// The head went unacknowledged: double its interval, up to 10 min, and
    /// send it again (Mesos `TaskStatusUpdateManagerProcess::timeout`).
    /// Retries never stop (Mesos: "There should be a limit on the retries"):
    /// the update is owed until acknowledged or its framework is shut down.
    /// The backoff is per stream: one slow framework delays no other's.
    pub(super) fn tick_status_retry(&mut self, ctx: &Context, key: TaskKey, out: &mut Out) {
        let max = self.config.timing.status_update_retry_max_ms;
        if let Some(retry) = self.retry_ms.get_mut(&key) {
            *retry = (*retry * 2).min(max);
        }
        self.send_stream_head(ctx, &key, out);
    }

    /// The framework's acknowledgement, relayed by the master (Mesos
    /// `Slave::statusUpdateAcknowledgement` →
    /// `TaskStatusUpdateManagerProcess::acknowledgement`). Only the head's
    /// uuid counts; any other is a duplicate or stale (the framework may
    /// acknowledge both an update and its retry).
    pub(super) fn on_acknowledgement(
        &mut self,
        ctx: &Context,
        fid: FrameworkId,
        task_id: TaskId,
        uuid: UpdateUuid,
        out: &mut Out,
    ) {
        let key = TaskKey {
            framework_id: fid.clone(),
            task_id: task_id.clone(),
        };
        // A task already forgotten: a repeat of its final acknowledgement.
        let Some(task) = self.tasks.get_mut(&fid).and_then(|t| t.get_mut(&task_id)) else {
            return;
        };
        if task.pending_updates.front().and_then(|u| u.uuid.as_ref()) != Some(&uuid) {
            // A duplicate, or an acknowledgement of an update already passed.
            // Traced, so a run's explanation shows it.
            out.event(Event::MessageIgnored {
                from: self.config.name.clone(),
                kind: "StatusUpdateAcknowledgement".into(),
                why: format!("{uuid} is not the update in flight for {task_id}"),
            });
            return;
        }
        // The head is retired: in memory now, on disk by the `Ack` record.
        task.pending_updates.pop_front();
        // Remembered, so an executor resending it is recognized (executor_host.rs).
        task.acknowledged.insert(uuid.clone());
        // Planted-bug hook (`bugs/agent.rs`): an update kept in memory is
        // logged only now, after the `Ack` below.
        let logged_late =
            bugs::ack_before_checkpoint_logs_late(&mut self.unlogged, task.pending_updates.front());
        // The next head starts again at 10 s (Mesos resets `stream->timeout`).
        out.cancel_timer(AgentTimer::StatusRetry(key.clone()));
        self.retry_ms.remove(&key);
        // Terminal with nothing left to deliver (Mesos marks a stream
        // terminated when its terminal update is acknowledged).
        let finished = task.state.is_terminal() && task.pending_updates.is_empty();
        // Logged, or a restart would resend what the framework already has.
        self.append_record(&key, &StreamRecord::Ack(uuid), out);
        if let Some(head) = logged_late {
            self.append_record(&key, &StreamRecord::Update(head), out);
        }
        // The `Ack` record goes first: a crash before the state rewrite below
        // finds the task finished, and recovery skips it.
        if finished {
            // Fully acknowledged and terminal: forget the task (Mesos
            // `cleanupStatusUpdateStream`).
            let tasks = self.tasks.get_mut(&fid).expect("present");
            tasks.remove(&task_id);
            // The framework's entry goes with its last task; its info stays
            // in `frameworks`.
            if tasks.is_empty() {
                self.tasks.remove(&fid);
            }
            // State first, then the log: a crash between leaves a log that no
            // state lists, which recovery never reads.
            self.write_state(out);
            self.remove_task_files(&key, out);
        }
        // Otherwise the next update, if any, is the head: sent now, not at the
        // next retry.
        if !finished {
            self.send_stream_head(ctx, &key, out);
        }
    }
}
