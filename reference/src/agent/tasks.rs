//! # Tasks and their status updates
//!
//! Mesos `Slave::runTask` (checkpoint, then launch, or queue for an executor
//! not registered yet: `Executor::queuedTasks`), `Slave::killTask`,
//! `Slave::statusUpdate` and the `TaskStatusUpdateManager` (checkpoint an
//! update, then acknowledge it to the executor; send the stream's head to the
//! master and retry it with backoff until the framework acknowledges it,
//! in order, one at a time per task).

use super::*;

impl Agent {
    pub(super) fn on_run_task(
        &mut self,
        ctx: &Context,
        framework: FrameworkInfo,
        task: TaskInfo,
        out: &mut Out,
    ) {
        let fid = framework
            .id
            .clone()
            .expect("a launched task's framework has an ID");
        let tasks = self.tasks.entry(fid.clone()).or_default();
        if tasks
            .get(&task.task_id)
            .is_some_and(|t| !t.state.is_terminal())
        {
            return; // already running: a duplicate launch is ignored
        }
        self.frameworks.insert(fid.clone(), framework);
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
            // registration timeout (`Slave::registerExecutorTimeout`).
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
    pub(super) fn tick_executor_registration_timeout(&mut self, ctx: &Context, out: &mut Out) {
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
            if let Some(framework) = self.frameworks.get(&fid).cloned() {
                let state = Self::dropped_or_lost(framework.partition_aware);
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
        if task.is_some_and(|t| t.state.is_terminal()) {
            return; // already ended: its terminal update is on its way
        }
        let key = TaskKey {
            framework_id: fid.clone(),
            task_id: task_id.clone(),
        };
        // The planted defect answers the kill but leaves the launch queued.
        let planted = self.config.bug == Some(crate::bugs::Bug::KillLeavesQueuedLaunch);
        let was_queued = if planted {
            self.queued_launches.contains_key(&key)
        } else {
            self.queued_launches.remove(&key).is_some()
        };
        if was_queued {
            // Mesos `Slave::killTask` for a task queued on an executor that has
            // not registered: it never runs — `TASK_KILLED`,
            // `REASON_TASK_KILLED_DURING_LAUNCH`.
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
        if self.executor_host == ExecutorHostLink::Registered {
            out.send(
                &self.config.executor_host,
                Message::KillTaskInExecutor {
                    framework_id: fid,
                    task_id,
                },
            );
        } else {
            // The executor host has not re-registered yet (the agent just
            // restarted): the kill waits for it.
            self.pending_kills.insert(TaskKey {
                framework_id: fid,
                task_id,
            });
        }
    }

    /// Reservations and volumes from the leader: applied, then checkpointed
    /// (the master keeps none of it; this agent reports them to every leader).
    /// A destroyed volume's data is deleted.
    pub(super) fn apply_operations(&mut self, operations: Vec<Operation>, out: &mut Out) {
        for operation in operations {
            let destroyed = match &operation {
                Operation::Destroy { role, id } => {
                    self.resources.volumes.get(&volume_key(role, id)).cloned()
                }
                _ => None,
            };
            if let Err(why) = self.resources.apply(&operation) {
                out.event(Event::MessageIgnored {
                    from: self.config.name.clone(),
                    kind: operation.name().to_string(),
                    why,
                });
                continue;
            }
            if let Some(volume) = destroyed {
                out.remove_file(&volume.data_path());
            }
        }
        self.write_state(out);
    }

    /// The master removed the framework: kill its tasks and forget it — its
    /// status update streams included (nobody will acknowledge them). The kills'
    /// `TASK_KILLED` updates from the executor host are acknowledged and dropped.
    pub(super) fn on_shutdown_framework(&mut self, fid: FrameworkId, out: &mut Out) {
        let tasks = self.tasks.remove(&fid).unwrap_or_default();
        for (task_id, task) in tasks {
            let key = TaskKey {
                framework_id: fid.clone(),
                task_id: task_id.clone(),
            };
            out.cancel_timer(AgentTimer::StatusRetry(key.clone()));
            self.retry_ms.remove(&key);
            self.remove_task_files(&key, out);
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
    pub(super) fn on_reconcile_tasks(
        &mut self,
        ctx: &Context,
        framework: FrameworkInfo,
        task_ids: Vec<TaskId>,
        out: &mut Out,
    ) {
        let Some(fid) = framework.id.clone() else {
            return;
        };
        let state = Self::dropped_or_lost(framework.partition_aware);
        let mut unknown = Vec::new();
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

    /// A status update stream for a task this agent does not know (so that the
    /// answer it owes about it is delivered reliably, as Mesos's status update
    /// manager delivers any update). The agent never had the task's
    /// description, so the stream's task records only the ID, and uses
    /// nothing. The caller checkpoints, then adds the update.
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
            workload: crate::task::Workload::Forever,
        };
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
        self.frameworks
            .entry(fid.clone())
            .or_insert_with(|| framework.clone());
        TaskKey {
            framework_id: fid,
            task_id,
        }
    }

    /// The agent itself produces an update (the executor cannot).
    pub(super) fn agent_update(
        &mut self,
        ctx: &Context,
        key: &TaskKey,
        state: TaskState,
        reason: Reason,
        message: &str,
        out: &mut Out,
    ) {
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
        self.enqueue_update(ctx, key, update, out);
    }

    /// Appends an update to its task's stream; sends it if nothing is in flight.
    /// The caller checkpoints.
    pub(super) fn enqueue_update(
        &mut self,
        ctx: &Context,
        key: &TaskKey,
        update: StatusUpdate,
        out: &mut Out,
    ) {
        let Some(task) = self
            .tasks
            .get_mut(&key.framework_id)
            .and_then(|t| t.get_mut(&key.task_id))
        else {
            return;
        };
        assert!(
            update.uuid.is_some(),
            "agent-side updates are acknowledged, so carry a uuid"
        );
        task.state = update.state;
        task.pending_updates.push_back(update.clone());
        let first = task.pending_updates.len() == 1;
        let uuid = update.uuid.clone().expect("checked above");
        let queued = Event::UpdateQueued {
            framework_id: key.framework_id.clone(),
            task_id: key.task_id.clone(),
            uuid: uuid.clone(),
            state: update.state,
        };
        let planted = self.config.bug == Some(crate::bugs::Bug::AckBeforeCheckpoint);
        if planted && !first && update.source == Source::Executor {
            // The planted defect: a queued update stays in memory only (it is
            // logged when it reaches the head of the stream), though the
            // executor is acknowledged at once.
            self.unlogged.insert(uuid);
        } else {
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

    pub(super) fn send_stream_head(&mut self, ctx: &Context, key: &TaskKey, out: &mut Out) {
        let Some(head) = self
            .tasks
            .get(&key.framework_id)
            .and_then(|t| t.get(&key.task_id))
            .and_then(|t| t.pending_updates.front())
            .cloned()
        else {
            return;
        };
        let retry = *self
            .retry_ms
            .entry(key.clone())
            .or_insert(self.config.timing.status_update_retry_ms);
        out.set_timer(AgentTimer::StatusRetry(key.clone()), ctx.now_ms + retry);
        if let MasterLink::Registered { master, .. } = &self.master {
            let mut update = head;
            // Updates made before registration carry no agent ID yet.
            update.agent_id = self.agent_id.clone();
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
            out.send(&master, Message::StatusUpdate { update });
        }
    }

    pub(super) fn tick_status_retry(&mut self, ctx: &Context, key: TaskKey, out: &mut Out) {
        let max = self.config.timing.status_update_retry_max_ms;
        if let Some(retry) = self.retry_ms.get_mut(&key) {
            *retry = (*retry * 2).min(max);
        }
        self.send_stream_head(ctx, &key, out);
    }

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
        let Some(task) = self.tasks.get_mut(&fid).and_then(|t| t.get_mut(&task_id)) else {
            return;
        };
        if task.pending_updates.front().and_then(|u| u.uuid.as_ref()) != Some(&uuid) {
            // A duplicate, or an acknowledgement of an update already passed.
            out.event(Event::MessageIgnored {
                from: self.config.name.clone(),
                kind: "StatusUpdateAcknowledgement".into(),
                why: format!("{uuid} is not the update in flight for {task_id}"),
            });
            return;
        }
        task.pending_updates.pop_front();
        task.acknowledged.insert(uuid.clone());
        let unlogged_head = task
            .pending_updates
            .front()
            .filter(|u| u.uuid.as_ref().is_some_and(|id| self.unlogged.contains(id)))
            .cloned();
        out.cancel_timer(AgentTimer::StatusRetry(key.clone()));
        self.retry_ms.remove(&key);
        let finished = task.state.is_terminal() && task.pending_updates.is_empty();
        self.append_record(&key, &StreamRecord::Ack(uuid), out);
        if let Some(head) = unlogged_head {
            // (planted bug) the queued update is logged only now.
            if let Some(id) = &head.uuid {
                self.unlogged.remove(id);
            }
            self.append_record(&key, &StreamRecord::Update(head), out);
        }
        if finished {
            // Fully acknowledged and terminal: forget the task.
            let tasks = self.tasks.get_mut(&fid).expect("present");
            tasks.remove(&task_id);
            if tasks.is_empty() {
                self.tasks.remove(&fid);
            }
            self.write_state(out);
            self.remove_task_files(&key, out);
        }
        if !finished {
            self.send_stream_head(ctx, &key, out);
        }
    }
}
