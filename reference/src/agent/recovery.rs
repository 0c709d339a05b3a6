//! # Agent recovery: a restarted agent process picks up where it left off
//!
//! Mesos `Slave::recover` → `Slave::_recover` (the checkpointed agent info,
//! frameworks, tasks and status-update streams; `reconfiguration_policy`),
//! then `Slave::reregisterExecutor` for every executor that is still alive and
//! `Slave::reregisterExecutorTimeout` for the ones that are not: the agent
//! process may die, the executors and their tasks keep running, and a restarted
//! agent finds them again before it talks to the master (MESOS-7539).
//! See docs/agent-recovery.md in the Mesos repository for the operator's view.
//!
//! A restart keeps only what is on disk: the agent ID, the frameworks, the
//! task infos, each task's stream (updates and acknowledgements) and the
//! resources with their reservations and volumes. The master link, the retry
//! intervals, queued launches and what was forwarded to which master are
//! lost, and registration rebuilds what matters of them.
//!
//! ```text
//! Agent::recover (pure: read the disk)      on_start (the process runs)
//!   state file → ID, frameworks, tasks        exit if recovery failed
//!   boot ID differs? → rebooted               rewrite torn logs to their valid prefix
//!   config vs checkpoint → keep / new / fail  rebooted? → live tasks TASK_FAILED
//!   each task's log → stream, latest state    tasks? → wait for executors, else detect
//!                                                  |
//!      executor host re-registers (executor_host.rs) and/or the window closes
//!      (tick_executor_reregister_timeout) → detection → ReregisterAgent
//! ```
//!
//! Mesos reads its meta directory itself (src/slave/state.cpp, laid out by
//! src/slave/paths.cpp: `boot_id`, `slave.info`, per task `task.info` and
//! `task.updates`). Here the harness hands [`Agent::recover`] the machine's
//! files under `agent/` (`checkpoint.rs` describes the layout), and every
//! framework is treated as checkpointing: Mesos recovers the executors only
//! of frameworks that set `FrameworkInfo.checkpoint`.

use super::*;
use crate::bugs::agent as bugs;

impl Agent {
    /// Builds the agent from what its disk holds — the only way a restarted
    /// agent knows anything. `files` maps each path under
    /// [`checkpoint::AGENT_DIR`] to its content. Nothing the disk holds can
    /// make recovery panic: an unreadable state file means a fresh agent, and
    /// a torn log is cut back to its last complete record.
    pub fn recover(config: AgentConfig, files: &BTreeMap<String, Vec<u8>>) -> Self {
        // The state file is replaced atomically, so it is whole or absent;
        // anything unreadable (corruption) is taken for no file at all, as
        // Mesos's `--strict=false` recovery would; the default strict mode
        // would refuse to start instead.
        let mut state: AgentState = files
            .get(STATE_PATH)
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or_default();
        // Mesos `state::recover` compares the checkpointed `boot_id` with the
        // running kernel's. Without an agent ID there is nothing a reboot
        // could have taken away.
        let mut rebooted = state.agent_id.is_some() && state.boot_id != config.boot_id;
        // The machine's configured resources against the checkpoint's (Mesos
        // `Slave::recover`): an allowed change keeps the agent's ID and its
        // reservations and volumes on the new total; a forbidden one fails
        // recovery — the process exits, and would again at every restart,
        // until the operator restores the configuration — unless the machine
        // rebooted, when the agent starts afresh as a new agent (MESOS-6223).
        let mut recovery_failed = None;
        // No checkpointed resources: all of the machine is unreserved.
        let mut resources = state
            .resources
            .clone()
            .unwrap_or_else(|| AgentResources::unreserved(config.resources));
        if let (Some(_), Some(before)) = (&state.agent_id, state.configured) {
            // `Slave::compatible`: `equal` or `additive` (only growth).
            let allowed = before == config.resources
                || (config.reconfiguration_policy == ReconfigurationPolicy::Additive
                    && config.resources.contains(&before));
            // The reservations and volumes must also fit the new total
            // (`Slave::recover` → `applyCheckpointedResources`).
            let rebased = resources.rebased(config.resources);
            match (allowed, rebased) {
                // Allowed and fitting: the same agent, on the new total.
                (true, Some(rebased)) => resources = rebased,
                (_, rebased) if rebooted => {
                    // A new agent: no ID, no tasks. Its checkpointed
                    // reservations and volumes carry over if they still fit
                    // (Mesos recovers them apart from the agent's state).
                    // Mesos test `SlaveRecoveryTest.RebootWithSlaveInfoMismatch`.
                    // Mesos also removes the `latest` symlink to record the
                    // decision; here nothing is written until registration,
                    // and a restart before then decides the same again.
                    state = AgentState::default();
                    rebooted = false;
                    resources =
                        rebased.unwrap_or_else(|| AgentResources::unreserved(config.resources));
                }
                // Forbidden, or the reservations no longer fit: under the same
                // ID the master would keep the old machine's picture.
                _ => {
                    recovery_failed = Some(format!(
                        "incompatible agent info: configured resources changed from {before} \
                         to {} (reconfiguration_policy {:?})",
                        config.resources, config.reconfiguration_policy
                    ));
                }
            }
        }
        // Every task the state file lists gets its stream back from its log
        // (Mesos `TaskState::recover` reads `task.updates`, and
        // `TaskStatusUpdateStream::replay` rebuilds the stream). A log the
        // state file does not list is never read: that is why a task is in
        // the state file before its first record is appended.
        let mut tasks: BTreeMap<FrameworkId, BTreeMap<TaskId, AgentTask>> = BTreeMap::new();
        let mut truncations = Vec::new();
        for (fid, infos) in &state.tasks {
            for (tid, info) in infos {
                // No log: the agent died before the task's first update.
                let path = checkpoint::updates_path(fid, tid);
                let log = files.get(&path).map(Vec::as_slice).unwrap_or_default();
                let replayed = checkpoint::decode_records(log);
                // A torn tail is cut off when the process starts (`on_start`):
                // this constructor produces no outputs.
                if replayed.dropped_len > 0 {
                    truncations.push(Truncation {
                        path,
                        valid: log[..replayed.valid_len].to_vec(),
                        dropped_bytes: replayed.dropped_len,
                    });
                }
                // The agent's own uuids (`{task}#a{n}`, tasks.rs `agent_update`)
                // continue after the last one logged: a reused uuid could be
                // retired by a late acknowledgement of the earlier update.
                let agent_updates = replayed
                    .records
                    .iter()
                    .filter(|r| matches!(r, StreamRecord::Update(u) if u.source == Source::Agent))
                    .count() as u32;
                // No update yet: still `TASK_STAGING` as launched; whether its
                // executor ever got it is settled when the executor host
                // re-registers (executor_host.rs).
                let (pending, latest) = checkpoint::pending_updates(&replayed.records);
                let state = latest.map_or(TaskState::Staging, |u| u.state);
                // The crash fell between the final `Ack` record and the state
                // rewrite that forgets the task (tasks.rs, `on_acknowledgement`).
                if state.is_terminal() && pending.is_empty() {
                    continue; // finished and fully acknowledged before the crash
                }
                // Acknowledged uuids, so an executor resending one is not
                // delivered twice (`TaskStatusUpdateStream::update`).
                let acknowledged = replayed
                    .records
                    .iter()
                    .filter_map(|r| match r {
                        StreamRecord::Ack(uuid) => Some(uuid.clone()),
                        StreamRecord::Update(_) => None,
                    })
                    .collect();
                let task = AgentTask {
                    info: info.clone(),
                    state,
                    pending_updates: pending.into(),
                    agent_updates,
                    acknowledged,
                    forwarded: None,
                };
                tasks
                    .entry(fid.clone())
                    .or_default()
                    .insert(tid.clone(), task);
            }
        }
        let recovered_tasks = tasks.values().map(BTreeMap::len).sum();
        // The coordinator client is built but not started: the agent detects
        // no master until recovery is complete (`start_detection`). Every
        // volatile field starts empty.
        let coordinator = CoordinatorClient::new(
            config.coordinator.clone(),
            config.timing.zk_session_timeout_ms,
        );
        Agent {
            coordinator,
            detector: MasterDetector::default(),
            agent_id: state.agent_id,
            frameworks: state.frameworks,
            tasks,
            resources,
            master: MasterLink::Idle,
            // The executor host is waited for only if it can come back: after
            // a reboot it starts empty, and its tasks fail in `on_start`.
            executor_host: ExecutorHostLink::Disconnected {
                expected: recovered_tasks > 0 && !rebooted,
            },
            retry_ms: BTreeMap::new(),
            unlogged: BTreeSet::new(),
            recovered_tasks,
            rebooted,
            truncations,
            pending_kills: BTreeSet::new(),
            queued_launches: BTreeMap::new(),
            recovery_failed,
            config,
        }
    }

    /// `Input::Start`: act on what [`Agent::recover`] found, now that the
    /// process may produce outputs.
    pub(super) fn on_start(&mut self, ctx: &Context, out: &mut Out) {
        if let Some(why) = self.recovery_failed.clone() {
            // Mesos `Slave::__recover`: "Failed to perform recovery" — EXIT.
            // A supervisor restarts it and it fails again, until the operator
            // restores the configuration or loosens `--reconfiguration_policy`;
            // meanwhile the master hears nothing and marks it unreachable.
            out.exit(&why);
            return;
        }
        // Torn logs: keep every complete record, drop the partial tail.
        // Mesos `TaskState::recover` truncates likewise ("Always truncate the
        // file to contain only valid updates"). It must happen before the next
        // append, or new records would follow the torn bytes and be
        // unreadable at the next recovery (the database's planted
        // `append-after-torn-tail` bug). The I/O model has no truncate, so the
        // valid prefix is written back whole.
        for truncation in std::mem::take(&mut self.truncations) {
            out.event(Event::CheckpointTruncated {
                path: truncation.path.clone(),
                kept_bytes: truncation.valid.len(),
                dropped_bytes: truncation.dropped_bytes,
            });
            out.write_file_atomic(&truncation.path, truncation.valid);
        }
        out.event(Event::AgentRecovered {
            agent_id: self.agent_id.clone(),
            tasks: self.recovered_tasks,
        });
        if self.rebooted {
            // The machine rebooted: every executor died with it. Since Mesos
            // 1.4 the agent keeps its ID across a reboot and recovers its
            // frameworks; the containerizer finds no container for any
            // executor, so each live task ends `TASK_FAILED`, reason
            // `EXECUTOR_TERMINATED` ("unknown container"), from the agent —
            // `Slave::executorTerminated` → `sendExecutorTerminatedStatusUpdate`
            // (Mesos test `SlaveRecoveryTest.RebootWithExecutorPidReused`).
            for key in self.active_task_keys() {
                self.agent_update(
                    ctx,
                    &key,
                    TaskState::Failed,
                    Reason::ExecutorTerminated,
                    "the agent's machine rebooted: the executor's container is gone",
                    out,
                );
            }
            // Record the new boot, so a later process restart is not taken for
            // another reboot (Mesos `Slave::__recover` checkpoints the boot ID).
            // A crash before this write finds the reboot again, but the
            // `TASK_FAILED` updates are in the logs by then, so no task is
            // failed twice.
            self.write_state(out);
        }
        if self.recovered_tasks > 0 {
            // Recovery is complete only once executors had their chance to
            // re-register: Mesos's `Slave::_recover` waits the *full*
            // `executor_reregistration_timeout` whenever it recovered a
            // framework, even if every executor is back at once
            // (MESOS-7539), and only then starts detecting the master
            // (`Slave::__recover`). So the agent re-registers no sooner.
            // After a reboot it waits too, though no executor can return.
            out.set_timer(
                AgentTimer::ExecutorReregisterTimeout,
                ctx.now_ms + self.config.timing.executor_reregistration_timeout_ms,
            );
        } else {
            self.start_detection(out);
        }
    }

    /// Joins the coordinator and starts detecting the leading master
    /// (`Slave::__recover` → `detector->detect()`). From here on detection.rs
    /// and registration.rs drive the master link.
    pub(super) fn start_detection(&mut self, out: &mut Out) {
        out.nested(AgentTimer::Coordinator, |sub| self.coordinator.start(sub));
    }

    /// `TASK_GONE` for a partition-aware framework, `TASK_LOST` for the others
    /// (Mesos sends `TASK_LOST` "for backward compatibility"): a task that
    /// ran and is now known to be dead.
    pub(super) fn gone_or_lost(&self, key: &TaskKey) -> TaskState {
        if self.partition_aware(key) {
            TaskState::Gone
        } else {
            TaskState::Lost
        }
    }

    /// `TASK_DROPPED` for a partition-aware framework, `TASK_LOST` for the
    /// others (Mesos's "for backward compatibility"): a task that never ran,
    /// or that the agent does not know. Unlike `TASK_GONE` it tells the
    /// framework the task never started, so launching it again duplicates
    /// nothing.
    pub(super) fn dropped_or_lost(partition_aware: bool) -> TaskState {
        if partition_aware {
            TaskState::Dropped
        } else {
            TaskState::Lost
        }
    }

    /// Whether the task's framework opted in to `PARTITION_AWARE`, read from
    /// the checkpointed `FrameworkInfo` so a restarted agent answers alike.
    pub(super) fn partition_aware(&self, key: &TaskKey) -> bool {
        self.frameworks
            .get(&key.framework_id)
            .is_some_and(|f| f.partition_aware)
    }

    /// Every task the agent holds, live or awaiting acknowledgements.
    pub(super) fn all_task_keys(&self) -> Vec<TaskKey> {
        self.task_keys(|_| true)
    }

    /// The tasks not yet terminal: those an agent-made ending may still end.
    pub(super) fn active_task_keys(&self) -> Vec<TaskKey> {
        self.task_keys(|t| !t.state.is_terminal())
    }

    /// The keys of the tasks `keep` selects, collected so the caller may
    /// change tasks while it walks them.
    pub(super) fn task_keys(&self, keep: impl Fn(&AgentTask) -> bool) -> Vec<TaskKey> {
        self.tasks
            .iter()
            .flat_map(|(fid, tasks)| {
                tasks
                    .iter()
                    .filter(|(_, t)| keep(t))
                    .map(|(tid, _)| TaskKey {
                        framework_id: fid.clone(),
                        task_id: tid.clone(),
                    })
            })
            .collect()
    }

    /// The executor re-registration window closed (Mesos
    /// `Slave::reregisterExecutorTimeout`): tasks whose executor did not come
    /// back are `TASK_GONE` (`TASK_LOST` if the framework is not
    /// partition-aware), reason `EXECUTOR_REREGISTRATION_TIMEOUT`. Recovery is
    /// now complete, and master detection starts.
    ///
    /// Mesos destroys the container of an executor that did not return; here
    /// the executor host is simply not waited for: if it registers later, it is
    /// told to kill what it still runs (executor_host.rs). Whether the
    /// executors came back is decided once, by the link state — the planted
    /// `restart-gives-up-executors` bug gives up every live task regardless.
    pub(super) fn tick_executor_reregister_timeout(&mut self, ctx: &Context, out: &mut Out) {
        // Still expected: it did not re-register within the window.
        let away = self.executor_host == (ExecutorHostLink::Disconnected { expected: true });
        // Planted-bug hook (`bugs/agent.rs`): may give up every task anyway.
        if away || bugs::restart_gives_up_executors(self.config.bug) {
            if away {
                self.executor_host = ExecutorHostLink::Disconnected { expected: false };
            }
            // One reliable agent-made update each (tasks.rs, `agent_update`).
            for key in self.active_task_keys() {
                let state = self.gone_or_lost(&key);
                self.agent_update(
                    ctx,
                    &key,
                    state,
                    Reason::ExecutorReregistrationTimeout,
                    "the executor did not re-register after the agent restarted",
                    out,
                );
            }
        }
        self.start_detection(out);
    }
}
