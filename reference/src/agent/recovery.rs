//! # Agent recovery: a restarted agent process picks up where it left off
//!
//! Mesos `Slave::recover` → `Slave::_recover` (the checkpointed agent info,
//! frameworks, tasks and status-update streams; `reconfiguration_policy`),
//! then `Slave::reregisterExecutor` for every executor that is still alive and
//! `Slave::reregisterExecutorTimeout` for the ones that are not: the agent
//! process may die, the executors and their tasks keep running, and a restarted
//! agent finds them again before it talks to the master (MESOS-7539).

use super::*;

impl Agent {
    /// Builds the agent from what its disk holds — the only way a restarted
    /// agent knows anything. `files` maps each path under
    /// [`checkpoint::AGENT_DIR`] to its content. Nothing the disk holds can
    /// make recovery panic: an unreadable state file means a fresh agent, and
    /// a torn log is cut back to its last complete record.
    pub fn recover(config: AgentConfig, files: &BTreeMap<String, Vec<u8>>) -> Self {
        let mut state: AgentState = files
            .get(STATE_PATH)
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or_default();
        let mut rebooted = state.agent_id.is_some() && state.boot_id != config.boot_id;
        // The machine's configured resources against the checkpoint's (Mesos
        // `Slave::recover`): an allowed change keeps the agent's ID and its
        // reservations and volumes on the new total; a forbidden one fails
        // recovery — the process exits, and would again at every restart,
        // until the operator restores the configuration — unless the machine
        // rebooted, when the agent starts afresh as a new agent (MESOS-6223).
        let mut recovery_failed = None;
        let mut resources = state
            .resources
            .clone()
            .unwrap_or_else(|| AgentResources::unreserved(config.resources));
        if let (Some(_), Some(before)) = (&state.agent_id, state.configured) {
            let allowed = before == config.resources
                || (config.reconfiguration_policy == ReconfigurationPolicy::Additive
                    && config.resources.contains(&before));
            let rebased = resources.rebased(config.resources);
            match (allowed, rebased) {
                (true, Some(rebased)) => resources = rebased,
                (_, rebased) if rebooted => {
                    // A new agent: no ID, no tasks. Its checkpointed
                    // reservations and volumes carry over if they still fit
                    // (Mesos recovers them apart from the agent's state).
                    state = AgentState::default();
                    rebooted = false;
                    resources =
                        rebased.unwrap_or_else(|| AgentResources::unreserved(config.resources));
                }
                _ => {
                    recovery_failed = Some(format!(
                        "incompatible agent info: configured resources changed from {before} \
                         to {} (reconfiguration_policy {:?})",
                        config.resources, config.reconfiguration_policy
                    ));
                }
            }
        }
        let mut tasks: BTreeMap<FrameworkId, BTreeMap<TaskId, AgentTask>> = BTreeMap::new();
        let mut truncations = Vec::new();
        for (fid, infos) in &state.tasks {
            for (tid, info) in infos {
                let path = checkpoint::updates_path(fid, tid);
                let log = files.get(&path).map(Vec::as_slice).unwrap_or_default();
                let replayed = checkpoint::decode_records(log);
                if replayed.dropped_len > 0 {
                    truncations.push(Truncation {
                        path,
                        valid: log[..replayed.valid_len].to_vec(),
                        dropped_bytes: replayed.dropped_len,
                    });
                }
                let agent_updates = replayed
                    .records
                    .iter()
                    .filter(|r| matches!(r, StreamRecord::Update(u) if u.source == Source::Agent))
                    .count() as u32;
                let (pending, latest) = checkpoint::pending_updates(&replayed.records);
                let state = latest.map_or(TaskState::Staging, |u| u.state);
                if state.is_terminal() && pending.is_empty() {
                    continue; // finished and fully acknowledged before the crash
                }
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

    pub(super) fn on_start(&mut self, ctx: &Context, out: &mut Out) {
        if let Some(why) = self.recovery_failed.clone() {
            // Mesos `Slave::__recover`: "Failed to perform recovery" — EXIT.
            out.exit(&why);
            return;
        }
        // Torn logs: keep every complete record, drop the partial tail.
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
            // another reboot.
            self.write_state(out);
        }
        if self.recovered_tasks > 0 {
            // Recovery is complete only once executors had their chance to
            // re-register: Mesos's `Slave::_recover` waits the *full*
            // `executor_reregistration_timeout` whenever it recovered a
            // framework, even if every executor is back at once
            // (MESOS-7539), and only then starts detecting the master
            // (`Slave::__recover`). So the agent re-registers no sooner.
            out.set_timer(
                AgentTimer::ExecutorReregisterTimeout,
                ctx.now_ms + self.config.timing.executor_reregistration_timeout_ms,
            );
        } else {
            self.start_detection(out);
        }
    }

    /// Joins the coordinator and starts detecting the leading master
    /// (`Slave::__recover` → `detector->detect()`).
    pub(super) fn start_detection(&mut self, out: &mut Out) {
        let mut sub = Outputs::new();
        self.coordinator.start(&mut sub);
        out.absorb(sub, AgentTimer::Coordinator);
    }

    /// `TASK_GONE` for a partition-aware framework, `TASK_LOST` for the others
    /// (Mesos sends `TASK_LOST` "for backward compatibility").
    pub(super) fn gone_or_lost(&self, key: &TaskKey) -> TaskState {
        if self.partition_aware(key) {
            TaskState::Gone
        } else {
            TaskState::Lost
        }
    }

    /// `TASK_DROPPED` for a partition-aware framework, `TASK_LOST` for the
    /// others (Mesos's "for backward compatibility"): a task that never ran,
    /// or that the agent does not know.
    pub(super) fn dropped_or_lost(partition_aware: bool) -> TaskState {
        if partition_aware {
            TaskState::Dropped
        } else {
            TaskState::Lost
        }
    }

    /// Whether the task's framework opted in to `PARTITION_AWARE`.
    pub(super) fn partition_aware(&self, key: &TaskKey) -> bool {
        self.frameworks
            .get(&key.framework_id)
            .is_some_and(|f| f.partition_aware)
    }

    pub(super) fn all_task_keys(&self) -> Vec<TaskKey> {
        self.task_keys(|_| true)
    }

    pub(super) fn active_task_keys(&self) -> Vec<TaskKey> {
        self.task_keys(|t| !t.state.is_terminal())
    }

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
    pub(super) fn tick_executor_reregister_timeout(&mut self, ctx: &Context, out: &mut Out) {
        let planted = self.config.bug == Some(crate::bugs::Bug::RestartGivesUpExecutors);
        let away = self.executor_host == (ExecutorHostLink::Disconnected { expected: true });
        if away || planted {
            if away {
                self.executor_host = ExecutorHostLink::Disconnected { expected: false };
            }
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
