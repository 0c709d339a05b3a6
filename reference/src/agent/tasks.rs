//! # Tasks: launch, kill, operations, framework shutdown, reconciliation
//!
//! Mesos `Slave::runTask` → `Slave::run` → `Slave::__run` (checkpoint, then
//! launch, or queue for an executor not registered yet: `Executor::queuedTasks`),
//! `Slave::killTask` → `Slave::kill`, `Slave::applyOperation`,
//! `Slave::shutdownFramework`, and the agent's side of reconciliation. Status
//! updates, once made, go through the stream in `status_updates.rs`.
//!
//! ```text
//! RunTask ─► state file (task TASK_STAGING) ─► LaunchTask ─► executor host: STARTING, RUNNING, …
//!                       (host not registered) └► queued_launches ─► LaunchTask when it registers
//!                                                                └► TASK_FAILED at the deadline
//! ```
//!
//! The agent, not the executor, talks to the master: an executor knows
//! nothing of who leads, and the agent holds the durable copy of every
//! update. Delivery is at least once, so a framework may hear an update
//! twice (the same uuid) and must take that in stride, as with Mesos.
//!
//! An executor reports its own tasks' states (`Source::Executor`); the agent
//! speaks (`Source::Agent`, `agent_update`) only when no executor can: the
//! executor host is gone, never had the task, or the task is unknown here.
//! Every agent-made ending, with the state a framework that is not
//! partition-aware sees instead in brackets:
//!
//! ```text
//! situation                                  state          reason                           Mesos
//! kill of a task the agent never got         DROPPED (LOST) EXECUTOR_TERMINATED              Slave::killTask
//! kill of a launch still queued              KILLED         TASK_KILLED_DURING_LAUNCH        Slave::kill
//! executor host not registered in time       FAILED         EXECUTOR_REGISTRATION_TIMEOUT    Slave::registerExecutorTimeout
//! executor host died, or the machine did     FAILED         EXECUTOR_TERMINATED              Slave::executorTerminated
//! executor not back after an agent restart   GONE (LOST)    EXECUTOR_REREGISTRATION_TIMEOUT  Slave::reregisterExecutorTimeout
//! launch lost in an agent restart            DROPPED (LOST) AGENT_RESTARTED                  Slave::reregisterExecutor
//! master asks about a task unknown here      DROPPED (LOST) RECONCILIATION                   Slave::reregistered
//! ```

use super::*;
use crate::bugs::agent as bugs;

impl Agent {
    /// `RunTask`: Mesos `Slave::run` → `_run` → `__run`, which checkpoints the
    /// task (`Executor::checkpointTask`) before an executor gets it, so a
    /// restarted agent knows every task its executors may run. A launch of a
    /// task still live here is a duplicate and ignored; one reusing the ID of
    /// a task that ended replaces it. (Caveat: the ended task's log is not
    /// removed first, so the new task's records follow the old ones, and a
    /// restart would replay both as one stream.)
    ///
    /// Without the checkpoint first, a crash after the launch would leave a
    /// task running that the restarted agent does not know: it would not
    /// report it, and the framework would hear "dropped" (through
    /// `AgentReconcileTasks`) for a task its executor ran.
    pub(super) fn on_run_task(
        &mut self,
        ctx: &Context,
        framework: FrameworkInfo,
        task: TaskInfo,
        out: &mut Out,
    ) {
        // The master assigns framework IDs; a launch without one would be a
        // master bug, not a fault to survive.
        let fid = framework
            .id
            .clone()
            .expect("a launched task's framework has an ID");
        // A task still live here: a second start would run two copies of it.
        let tasks = self.tasks.entry(fid.clone()).or_default();
        if tasks
            .get(&task.task_id)
            .is_some_and(|t| !t.state.is_terminal())
        {
            return; // already running: a duplicate launch is ignored
        }
        // The framework's info goes into the checkpoint with its task: a
        // restarted agent reports it, and answers by its `partition_aware`.
        // Every `RunTask` carries its framework's info (Mesos's
        // `RunTaskMessage.framework`), since the agent may not know it yet.
        self.frameworks.insert(fid.clone(), framework);
        // `TASK_STAGING` until the executor host reports `TASK_STARTING`; the
        // agent sends no update of its own: the master already counts the
        // task as staging from its launch.
        tasks.insert(
            task.task_id.clone(),
            AgentTask {
                info: task.clone(),
                state: TaskState::Staging,
                pending_updates: VecDeque::new(),
                agent_updates: 0,
                acknowledged: BTreeSet::new(),
                forwarded: None,
            },
        );
        // Checkpoint the task before launching it, so a restarted agent knows it.
        self.write_state(out);
        // `LaunchTask` leaves only once that write is durable (outputs run in order).
        if self.executor_host == ExecutorHostLink::Registered {
            out.send(
                &self.config.executor_host,
                Message::LaunchTask {
                    framework_id: fid,
                    task,
                },
            );
        } else {
            // Queue it for the executor host (Mesos `Slave::runTask` →
            // `Executor::queuedTasks`); the first queued launch arms the
            // registration timeout (`Slave::registerExecutorTimeout`). One
            // deadline for the whole queue: one executor host stands for all.
            if self.queued_launches.is_empty() {
                out.set_timer(
                    AgentTimer::ExecutorRegistrationTimeout,
                    ctx.now_ms + self.config.timing.executor_registration_timeout_ms,
                );
            }
            let key = TaskKey {
                framework_id: fid,
                task_id: task.task_id.clone(),
            };
            self.queued_launches.insert(key, task);
        }
    }

    /// The executor host did not register within
    /// `executor_registration_timeout` of the first queued launch: Mesos
    /// destroys the executor's container and fails its queued tasks —
    /// `TASK_FAILED`, `REASON_EXECUTOR_REGISTRATION_TIMEOUT`
    /// (`Slave::registerExecutorTimeout`, `Slave::executorTerminated`).
    /// Each such task is checkpointed `TASK_STAGING` and ends with one update.
    /// Without the deadline, a launch queued for an executor host that never
    /// returns would stay staging forever, its resources held at the master.
    pub(super) fn tick_executor_registration_timeout(&mut self, ctx: &Context, out: &mut Out) {
        // The queue is emptied first, so each task ends exactly once.
        for (key, _) in std::mem::take(&mut self.queued_launches) {
            self.agent_update(
                ctx,
                &key,
                TaskState::Failed,
                Reason::ExecutorRegistrationTimeout,
                "the executor host did not register in time",
                out,
            );
        }
    }

    /// `KillTask` (Mesos `Slave::killTask` → `Slave::kill`): for a task the
    /// agent does not know, one already ended, a launch still queued (it
    /// never runs), or a task the executor host runs, which answers with the
    /// task's own `TASK_KILLED`.
    pub(super) fn on_kill_task(
        &mut self,
        ctx: &Context,
        fid: FrameworkId,
        task_id: TaskId,
        out: &mut Out,
    ) {
        let task = self.tasks.get(&fid).and_then(|t| t.get(&task_id));
        if task.is_none() {
            // Mesos `Slave::killTask`: a task of a framework the agent runs, but
            // with no executor (its `RunTask` was lost on a connection that
            // stayed up), is answered `TASK_DROPPED` — `TASK_LOST` if the
            // framework is not partition-aware — reason `EXECUTOR_TERMINATED`
            // ("Cannot find executor"), reliably, from the agent. A kill for a
            // framework the agent does not know is ignored.
            // Unanswered, the kill would hang: the master keeps the task,
            // staging on this agent, until a terminal update retires it.
            if let Some(framework) = self.frameworks.get(&fid).cloned() {
                let state = Self::dropped_or_lost(framework.partition_aware);
                // Checkpointed before the update, as in `on_reconcile_tasks`.
                let key = self.open_unknown_task_stream(&framework, task_id);
                self.write_state(out);
                self.agent_update(
                    ctx,
                    &key,
                    state,
                    Reason::ExecutorTerminated,
                    "cannot find executor",
                    out,
                );
            }
            return;
        }
        // (Mesos `Slave::kill` likewise ignores a kill for a terminated executor.)
        if task.is_some_and(|t| t.state.is_terminal()) {
            return; // already ended: its terminal update is on its way
        }
        let key = TaskKey {
            framework_id: fid.clone(),
            task_id: task_id.clone(),
        };
        let removed = self.queued_launches.remove(&key);
        let was_queued = removed.is_some();
        // Planted-bug hook (`bugs/agent.rs`): may put the launch back.
        bugs::kill_leaves_queued_launch(
            self.config.bug,
            &mut self.queued_launches,
            key.clone(),
            removed,
        );
        if was_queued {
            // Mesos `Slave::kill` for a task queued on an executor that has
            // not registered: it never runs — `TASK_KILLED`,
            // `REASON_TASK_KILLED_DURING_LAUNCH`.
            // The last queued launch gone: no deadline is left to keep.
            if self.queued_launches.is_empty() {
                out.cancel_timer(AgentTimer::ExecutorRegistrationTimeout);
            }
            self.agent_update(
                ctx,
                &key,
                TaskState::Killed,
                Reason::TaskKilledDuringLaunch,
                "killed before it reached its executor",
                out,
            );
            return;
        }
        // The executor host answers with the task's `TASK_KILLED`, an update
        // like any other (Mesos relays `KillTaskMessage` to the executor).
        if self.executor_host == ExecutorHostLink::Registered {
            out.send(
                &self.config.executor_host,
                Message::KillTaskInExecutor {
                    framework_id: fid,
                    task_id,
                },
            );
        } else {
            // The executor host is away while the task is live: the kill
            // waits for its registration. No path reaches this today — master
            // commands arrive only after the re-registration window, and a
            // lost executor host has its live tasks failed — but a kill is
            // never to be dropped, should one appear.
            self.pending_kills.insert(TaskKey {
                framework_id: fid,
                task_id,
            });
        }
    }

    /// Reservations and volumes from the leader: applied, then checkpointed
    /// (the master keeps none of it; this agent reports them to every leader).
    /// A destroyed volume's data is deleted. Mesos
    /// `Slave::checkpointResourceState` writes a target checkpoint first,
    /// deletes volumes (`Slave::syncCheckpointedResources`), then commits;
    /// here the data goes before the state file, with no target file.
    /// A crash between the two leaves the volume in the checkpoint without
    /// its data, and the next leader is told it exists, empty; the other order
    /// would leave a forgotten volume's data for a volume re-created under
    /// the same ID to find. Mesos's target file, re-synced by `Slave::recover`,
    /// avoids both. Accepted only from the registered leader (mod.rs).
    pub(super) fn apply_operations(&mut self, operations: Vec<Operation>, out: &mut Out) {
        for operation in operations {
            // Looked up before the operation removes the volume.
            let destroyed = match &operation {
                Operation::Destroy { role, id } => {
                    self.resources.volumes.get(&volume_key(role, id)).cloned()
                }
                _ => None,
            };
            // One that does not apply here (the agent's resources differ from
            // the master's view) is traced and skipped; the rest still apply.
            if let Err(why) = self.resources.apply(&operation) {
                out.event(Event::MessageIgnored {
                    from: self.config.name.clone(),
                    kind: operation.name().to_string(),
                    why,
                });
                continue;
            }
            // Deleting the data makes the destroy final: a volume created
            // again under the same ID starts empty.
            if let Some(volume) = destroyed {
                out.remove_file(&volume.data_path());
            }
        }
        // One checkpoint for the whole batch.
        self.write_state(out);
    }

    /// The master removed the framework: kill its tasks and forget it — its
    /// status update streams included (nobody will acknowledge them). The kills'
    /// `TASK_KILLED` updates from the executor host are acknowledged and dropped.
    /// Mesos `Slave::shutdownFramework`, then `Slave::removeFramework`, which
    /// closes the streams (`TaskStatusUpdateManager::cleanup`). No update goes
    /// out: the framework is gone, and Mesos sends none for a terminating
    /// framework, which could not acknowledge it. Kept, the streams would be
    /// retried forever and reported to every new leader, which would then
    /// hold the framework's tasks as running.
    pub(super) fn on_shutdown_framework(&mut self, fid: FrameworkId, out: &mut Out) {
        // All its tasks, live or awaiting acknowledgements.
        let tasks = self.tasks.remove(&fid).unwrap_or_default();
        for (task_id, task) in tasks {
            let key = TaskKey {
                framework_id: fid.clone(),
                task_id: task_id.clone(),
            };
            // Nothing is left to deliver: the retry goes with the stream.
            out.cancel_timer(AgentTimer::StatusRetry(key.clone()));
            self.retry_ms.remove(&key);
            self.remove_task_files(&key, out);
            // An executor host not registered now is told when it returns: it
            // reports the task, which this agent no longer knows, and
            // executor_host.rs has it killed.
            // Mesos shuts the framework's executors down (`_shutdownExecutor`);
            // here each of its tasks is killed in the shared executor host.
            if !task.state.is_terminal() && self.executor_host == ExecutorHostLink::Registered {
                out.send(
                    &self.config.executor_host,
                    Message::KillTaskInExecutor {
                        framework_id: fid.clone(),
                        task_id,
                    },
                );
            }
        }
        // Last, its info: nothing of the framework is left to report.
        self.frameworks.remove(&fid);
        self.write_state(out);
    }

    /// The leader knows tasks here that this agent did not report (Mesos
    /// `Slave::reregistered` with reconciliations). Each one the agent does not
    /// know is not running: it gets a status update stream of its own with one
    /// terminal update — `TASK_DROPPED`, or `TASK_LOST` if the framework is not
    /// partition-aware, reason `RECONCILIATION`, from the agent — delivered
    /// reliably like any other, so the master removes the task only once the
    /// framework has acknowledged it. A task the agent knows needs nothing: its
    /// updates reach the master anyway.
    ///
    /// How it comes about: a `RunTask` is lost with a connection that broke
    /// (or the agent died before checkpointing it); the agent re-registers
    /// without the task; the master, still holding it as staging here, asks.
    pub(super) fn on_reconcile_tasks(
        &mut self,
        ctx: &Context,
        framework: FrameworkInfo,
        task_ids: Vec<TaskId>,
        out: &mut Out,
    ) {
        // A framework the master names always has an ID.
        let Some(fid) = framework.id.clone() else {
            return;
        };
        // Mesos hands these straight to the status update manager, since
        // `Slave::statusUpdate` drops updates of unknown frameworks; here
        // `open_unknown_task_stream` adds the framework, so the usual path works.
        let state = Self::dropped_or_lost(framework.partition_aware);
        let mut unknown = Vec::new();
        // A task known here is skipped: its own stream informs the master.
        for task_id in task_ids {
            if self
                .tasks
                .get(&fid)
                .is_some_and(|t| t.contains_key(&task_id))
            {
                continue;
            }
            unknown.push(self.open_unknown_task_stream(&framework, task_id));
        }
        if unknown.is_empty() {
            return;
        }
        // Checkpointed first, as a launch is: a restarted agent knows the
        // streams its log records belong to.
        self.write_state(out);
        for key in unknown {
            self.agent_update(
                ctx,
                &key,
                state,
                Reason::Reconciliation,
                "reconciliation: task unknown to the agent",
                out,
            );
        }
    }
}
