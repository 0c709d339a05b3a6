//! # The executor host
//!
//! On a real Mesos agent machine, tasks run inside executors that the agent's
//! containerizer started as *separate processes*. That separation is what makes
//! agent recovery possible: when the agent process dies, the executors and their
//! tasks keep running, and a restarted agent reconnects to them.
//!
//! We model all of a machine's executors as one process, the **executor host**.
//! It runs simulated workloads ([`Workload`]) and reports every task state change
//! to its agent as a status update, keeping each update until the agent
//! acknowledges it (which the agent does only after checkpointing it).
//!
//! ## States
//!
//! ```text
//! Disconnected --dial--> Connecting --connected: RegisterExecutorHost--> Registering --ExecutorHostRegistered--> Registered
//!       ^                                                                                                            |
//!       +------------------------------- agent connection lost (agent died): keep running, re-dial -----------------+
//! ```
//!
//! `Registering` lasts one round trip: the agent answers
//! `ExecutorHostRegistered` after it has compared the report with its
//! checkpoint. Every failure on the way — refused, reset, silent — lands in
//! `Disconnected` and a jittered re-dial; the host never gives up, because
//! its tasks are worth more than a connection.
//!
//! A task's own life: `LaunchTask` -> `TASK_STARTING` -> `TASK_RUNNING` -> then,
//! as its workload says, `TASK_FINISHED` or `TASK_FAILED` after a while, or
//! `TASK_KILLED` when the agent asks. Tasks run on whether or not the agent is
//! there; updates produced meanwhile wait and are sent when it re-registers.
//!
//! If the executor host itself dies, its tasks die with it: that is the agent's
//! business to report (`TASK_FAILED`, reason `EXECUTOR_TERMINATED`).
//!
//! ## One update's journey, and what each crash does to it
//!
//! ```text
//! executor host                 agent                          master -> scheduler
//! update(#n): keep in
//! `unacknowledged`, send ---> ExecutorStatusUpdate
//!                             append to the task's log, fsync
//!     <---------------------- ExecutorStatusUpdateAck(#n)
//! drop #n                     forward the stream head ------>  StatusUpdate
//!                             <------------------------------  acknowledgement
//!                             next update of the stream
//! ```
//!
//! - The agent dies before logging #n: no acknowledgement came, so #n is
//!   still in `unacknowledged` and goes to the restarted agent inside
//!   `RegisterExecutorHost`.
//! - The agent dies after logging #n but before acknowledging it: the host
//!   sends #n again; the agent finds its uuid in the task's stream and only
//!   acknowledges (a duplicate is never delivered twice).
//! - The executor host dies: its tasks and `unacknowledged` die with it. The
//!   agent, which checkpointed what it launched, reports those tasks
//!   `TASK_FAILED` (`EXECUTOR_TERMINATED`) — observed, not guessed, since a
//!   dead host runs nothing.
//!
//! Where the other half lives: `agent/executor_host.rs` (the agent's side
//! of the link), `agent/recovery.rs` (the re-registration window after an
//! agent restart), and `database.rs` beside this file (the database
//! workloads).
//!
//! ## What it follows in Mesos
//!
//! - **The executor driver** (`ExecutorProcess` in `src/exec/exec.cpp`): every
//!   update it sends is kept in `updates` until the agent acknowledges it
//!   (`ExecutorProcess::sendStatusUpdate`, `statusUpdateAcknowledgement`),
//!   and a re-registration carries every unacknowledged update and task
//!   (`ExecutorProcess::reconnect`, `ReregisterExecutorMessage`). Here:
//!   `unacknowledged`, and `RegisterExecutorHost` sent from `on_connected`.
//! - **The command executor** (`CommandExecutor` in `src/launcher/executor.cpp`):
//!   `TASK_STARTING` on launch, `TASK_RUNNING` once the command runs, then
//!   `TASK_FINISHED`, `TASK_FAILED` or `TASK_KILLED` when it exits
//!   (`CommandExecutor::launch`, `reaped`). Here: [`Workload`] decides.
//! - **The agent's side** of a re-registration is `Slave::reregisterExecutor`
//!   (`src/slave/slave.cpp`), played by `Agent::on_executor_host_registered`
//!   (`agent/executor_host.rs`): it replays the carried updates through its
//!   status update stream, kills what it does not know, and fails or drops
//!   what the executor does not have.
//!
//! ## Where it deliberately differs
//!
//! - One process for all of a machine's executors, and no containerizer:
//!   enough to show that tasks outlive the agent process, without modelling
//!   executor IDs.
//! - The executor host dials its agent, and keeps re-dialling for ever. In
//!   Mesos the restarted agent sends each checkpointed executor a
//!   `ReconnectExecutorMessage` (`Slave::_recover`), and an executor that
//!   hears nothing within `MESOS_RECOVERY_TIMEOUT` shuts itself down
//!   (`ExecutorProcess::_recoveryTimeout`). Here the agent's own window
//!   (`executor_reregistration_timeout`, `Slave::reregisterExecutorTimeout`)
//!   decides what is given up, and a task the agent gave up is killed when
//!   the host does come back.
//! - Update uuids are `<task>#<n>`, not random: deterministic, so traces
//!   compare across runs, and still unique per task.

use crate::agent::TaskKey;
use crate::events::Event;
use crate::ids::{FrameworkId, ProcessId, TaskId, UpdateUuid};
use crate::io::{Context, Input, Outputs, Role};
use crate::messages::{ExecutorTaskReport, Message};
use crate::resources::Volume;
use crate::store::{ClientAction, StoreClient, StoreNode};
use crate::task::{StatusUpdate, TaskInfo, Workload};
use crate::task_state::{Reason, Source, TaskState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

// The database workloads: volume reads, record writes, store clients and
// replicas (split out to keep this file about the agent link and tasks).
mod agent_link;
mod database;

/// How the harness sets up a machine's executor host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorHostConfig {
    /// This process's name (`executors-N`); store clients on other machines
    /// address this host's replicas by it.
    pub name: ProcessId,
    /// The agent process on the same machine.
    ///
    /// The only process that may launch or kill tasks here, and the only
    /// one the host registers with (a Mesos executor learns its agent from
    /// `MESOS_SLAVE_PID` in its environment, `src/exec/exec.cpp`).
    pub agent: ProcessId,
    /// A defect planted in the workloads (`--bug`); never read by checkers.
    /// Only `AppendAfterTornTail` concerns this role (`database.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug: Option<crate::bugs::Bug>,
}

/// The executor host's timers; at most one of each value is pending (a
/// re-arm replaces it), so there is one per task, not one per tick.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ExecutorTimer {
    /// Dial the agent again.
    ///
    /// Armed with jittered backoff when the connection fails or breaks
    /// (`schedule_reconnect`); ignored if the link is no longer
    /// `Disconnected` by the time it fires.
    Reconnect,
    /// A task's workload completes (finishes or fails).
    ///
    /// Armed at launch for `FinishAfter`/`FailAfter`, cancelled by a kill.
    /// It keeps running while the agent is away: the task ends on time
    /// whether or not anyone is listening.
    WorkloadDone(TaskKey),
    /// A database task writes its next record.
    ///
    /// For a store client it also paces recovery retries and write
    /// timeouts (`StoreClient::on_tick`). Cancelled by a kill.
    DbWrite(TaskKey),
}

/// The executor host's connection to its agent (the diagram at the top).
///
/// Only the link changes when the agent comes and goes; the tasks do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentLink {
    /// No connection: at start, or after it failed or broke. A `Reconnect`
    /// timer is pending (except before the very first dial).
    Disconnected,
    /// Dialled, waiting for `Connected` or `ConnectFailed`.
    Connecting,
    /// Connected and `RegisterExecutorHost` sent; waiting for
    /// `ExecutorHostRegistered`. Updates made now are kept but not sent
    /// (see `ExecutorHost::update` in agent_link.rs).
    Registering,
    /// The agent has the host's tasks and updates: new updates are sent as
    /// they are made, and launches and kills may arrive.
    Registered,
}

/// A task the executor host runs (Mesos: a task inside its executor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningTask {
    /// The launch description, as the agent forwarded it.
    pub info: TaskInfo,
    /// The state of the task's latest update (never terminal while the task
    /// is in [`ExecutorHost::tasks`]: a terminal update removes it). Reported
    /// to the agent on every (re-)registration.
    pub state: TaskState,
    /// How many updates this task produced (the next uuid's number).
    /// `TASK_STARTING` is `#1`, `TASK_RUNNING` usually `#2`.
    pub updates: u32,
    /// When the launch arrived (simulated ms), for the harness's views.
    pub started_ms: u64,
    /// A database task's next record number.
    ///
    /// Set from the volume's content when the task starts (last readable
    /// record + 1), advanced by each append. Unused by other workloads.
    #[serde(default)]
    pub db_next: u64,
}

/// The executor-host role: all of one machine's executors and their tasks.
///
/// Everything here is in memory and dies with the process; a restarted
/// executor host is empty ([`ExecutorHost::new`]), like a machine whose
/// containers were all destroyed. What outlives it is on disk: the volumes'
/// data, and the agent's checkpoint of what the host was running.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct ExecutorHost {
    /// Fixed at construction.
    config: ExecutorHostConfig,
    /// The connection to the agent; see [`AgentLink`]. Decides whether an
    /// update is sent now or only kept.
    link: AgentLink,
    /// Live tasks (a task leaves when it reaches a terminal state).
    ///
    /// Added by `LaunchTask`, removed by the task's terminal update
    /// ([`ExecutorHost::update`]). A framework with no task left is removed
    /// too, so an empty map means an idle host. This is what the host
    /// reports when it (re-)registers, and what the agent compares with its
    /// own checkpoint.
    tasks: BTreeMap<FrameworkId, BTreeMap<TaskId, RunningTask>>,
    /// Updates the agent has not acknowledged, in the order they were made.
    ///
    /// The executor's half of reliable delivery (Mesos's executor driver
    /// keeps the same list, `ExecutorProcess::updates`). An update stays
    /// here until `ExecutorStatusUpdateAck` names its uuid, which the agent
    /// sends only after it has logged the update durably — so an agent
    /// crash at any moment loses no update: the host re-sends what is here
    /// when it re-registers. A terminal update outlives its task's entry in
    /// `tasks`.
    unacknowledged: Vec<StatusUpdate>,
    /// Failed or broken connections since the last success: the exponent of
    /// the reconnect backoff. Reset on `Connected`.
    reconnect_attempt: u32,
    /// Database tasks waiting for their volume's content, by volume path.
    db_reads: BTreeMap<String, TaskKey>,
    /// A local database's write whose fsync is in flight, by volume path:
    /// (task, record, when the write started).
    local_writes: BTreeMap<String, (TaskKey, u64, u64)>,
    /// Databases writing through remote store nodes.
    // Keyed by a struct, so serialized as pairs for JSON snapshots.
    #[serde(with = "crate::pairs")]
    clients: BTreeMap<TaskKey, StoreClient>,
    /// Replicas this host serves, by dataset.
    replicas: BTreeMap<String, (TaskKey, StoreNode)>,
}

// The output list every handler of this role fills.
type Out = Outputs<ExecutorTimer>;

impl ExecutorHost {
    /// An executor host always starts empty: executors do not survive their
    /// container host's death.
    ///
    /// There is no `recover`: unlike the agent, the host keeps nothing on
    /// disk about its tasks. The agent's checkpoint is the record of what
    /// ran, and the agent turns "no longer there" into `TASK_FAILED`.
    pub fn new(config: ExecutorHostConfig) -> Self {
        ExecutorHost {
            config,
            link: AgentLink::Disconnected,
            tasks: BTreeMap::new(),
            unacknowledged: Vec::new(),
            reconnect_attempt: 0,
            db_reads: BTreeMap::new(),
            local_writes: BTreeMap::new(),
            clients: BTreeMap::new(),
            replicas: BTreeMap::new(),
        }
    }

    /// The live tasks, by framework (for the harness and tests).
    pub fn tasks(&self) -> &BTreeMap<FrameworkId, BTreeMap<TaskId, RunningTask>> {
        &self.tasks
    }

    /// The updates the agent has not acknowledged yet, oldest first.
    pub fn unacknowledged(&self) -> &[StatusUpdate] {
        &self.unacknowledged
    }

    // `LaunchTask` from the agent: start the task (Mesos `ExecutorProcess::runTask`
    // handing it to `CommandExecutor::launch`). The task is `TASK_STARTING`
    // at once; when it becomes `TASK_RUNNING` depends on its workload:
    // immediately for a plain task, after the volume read for a database or
    // replica, after a quorum's answer for a store client.
    fn on_launch(&mut self, ctx: &Context, fid: FrameworkId, task: TaskInfo, out: &mut Out) {
        let tasks = self.tasks.entry(fid.clone()).or_default();
        // A `LaunchTask` for a task already here must not start a second
        // copy. Mesos's driver `CHECK`s this instead (`ExecutorProcess::runTask`).
        if tasks.contains_key(&task.task_id) {
            return; // already running here
        }
        let key = TaskKey {
            framework_id: fid.clone(),
            task_id: task.task_id.clone(),
        };
        // `Staging` only until the `Starting` update just below: the
        // executor never reports `TASK_STAGING` (the master set it).
        tasks.insert(
            task.task_id.clone(),
            RunningTask {
                info: task.clone(),
                state: TaskState::Staging,
                updates: 0,
                started_ms: ctx.now_ms,
                db_next: 1,
            },
        );
        // `TaskStarted`/`TaskExited` are the ground truth the checkers hold
        // status updates against: what really runs, whatever anyone reports.
        out.event(Event::TaskStarted {
            framework_id: fid,
            task_id: task.task_id.clone(),
        });
        self.update(&key, TaskState::Starting, None, out);
        match (&task.workload, volume_path(&task)) {
            // Keyed by path: the `FileRead` answer names only the path.
            (Workload::Db { .. } | Workload::StoreReplica { .. }, Some(path)) => {
                // A database (or a replica) first reads what its volume holds;
                // it runs once it knows where it left off.
                self.db_reads.insert(path.clone(), key);
                out.read_file(&path);
            }
            (
                Workload::DbClient {
                    store,
                    peers,
                    quorum,
                    ..
                },
                _,
            ) => {
                // A database on remote store nodes asks them what they hold.
                let client = StoreClient::new(store, peers, *quorum);
                let actions = client.start();
                self.clients.insert(key.clone(), client);
                self.perform(ctx, &key, actions, out);
                // Ticks re-dial nodes that were down until a quorum answers,
                // so the write timer starts now, not after recovery; the
                // task stays `TASK_STARTING` until `Recovered`.
                if let Workload::DbClient { interval_ms, .. } = &task.workload {
                    out.set_timer(ExecutorTimer::DbWrite(key), ctx.now_ms + interval_ms);
                }
            }
            // Anything else runs at once; a timed workload arms its end.
            (workload, _) => {
                self.update(&key, TaskState::Running, None, out);
                if let Workload::FinishAfter { ms } | Workload::FailAfter { ms } = workload {
                    out.set_timer(ExecutorTimer::WorkloadDone(key), ctx.now_ms + ms);
                }
            }
        }
    }

    // A `FinishAfter`/`FailAfter` task's time is up: it ends on its own, with
    // the state its workload says. A timer for a task already gone (killed)
    // finds nothing.
    fn on_workload_done(&mut self, key: TaskKey, out: &mut Out) {
        let Some(task) = self
            .tasks
            .get(&key.framework_id)
            .and_then(|t| t.get(&key.task_id))
        else {
            // Already ended (killed): there is nothing left to finish.
            return;
        };
        let (state, reason) = match task.info.workload {
            // Exit status 0: `TASK_FINISHED`, no reason.
            Workload::FinishAfter { .. } => (TaskState::Finished, None),
            // A non-zero exit status.
            // Mesos's command executor (`CommandExecutor::reaped`) sends
            // TASK_FAILED with no reason ("Command exited with status N");
            // `REASON_COMMAND_EXECUTOR_FAILED` is deprecated and unused in 1.x.
            Workload::FailAfter { .. } => (TaskState::Failed, None),
            Workload::Forever
            | Workload::Db { .. }
            | Workload::DbClient { .. }
            | Workload::StoreReplica { .. } => {
                return; // no end of their own
            }
        };
        self.update(&key, state, reason, out);
    }

    // `KillTaskInExecutor` from the agent: stop the task and report
    // `TASK_KILLED` (the command executor's `kill` → `reaped`, without the
    // grace period: the simulated task dies at once). A kill for a task not
    // here is ignored; the agent has its own answer for tasks it knows the
    // host does not have. Kills reach the host only over a live link: the
    // agent holds those that arrive while the host is away (`pending_kills`)
    // and sends them when it re-registers.
    fn on_kill(&mut self, key: TaskKey, out: &mut Out) {
        if self
            .tasks
            .get(&key.framework_id)
            .is_some_and(|t| t.contains_key(&key.task_id))
        {
            // Whatever the workload, nothing of the task may act after its
            // `TASK_KILLED`: a late `WorkloadDone` would otherwise report a
            // second, contradictory end, and a late write would append to a
            // volume the framework believes released.
            out.cancel_timer(ExecutorTimer::WorkloadDone(key.clone()));
            out.cancel_timer(ExecutorTimer::DbWrite(key.clone()));
            self.forget_stores(&key);
            self.update(&key, TaskState::Killed, None, out);
        }
    }
}

impl Role for ExecutorHost {
    type Timer = ExecutorTimer;

    fn process_id(&self) -> &ProcessId {
        &self.config.name
    }

    // Inputs about the agent drive the link and the tasks; every other peer
    // is a store node or store client (`database.rs`).
    fn handle(&mut self, ctx: &Context, input: Input<ExecutorTimer>, out: &mut Out) {
        match input {
            Input::Start => self.dial(out),
            // A stale timer (the link came up some other way) is ignored.
            Input::Timer(ExecutorTimer::Reconnect) => {
                if self.link == AgentLink::Disconnected {
                    self.dial(out);
                }
            }
            // Task timers fire whatever the link's state: tasks run on their
            // own clock, agent or no agent.
            Input::Timer(ExecutorTimer::WorkloadDone(key)) => self.on_workload_done(key, out),
            Input::Timer(ExecutorTimer::DbWrite(key)) => self.tick_db_write(ctx, key, out),
            // The driver's answers to the databases' disk requests.
            Input::FileRead { path, bytes } => self.on_volume_read(ctx, path, bytes, out),
            Input::FileSynced { path } => self.on_synced(ctx, path, out),
            // The agent (back) on the line: report everything.
            Input::Connected { peer } if peer == self.config.agent => self.on_connected(out),
            // The agent died or restarts (or is not up yet). Nothing is
            // reported and no task is touched: this is the whole point of
            // running executors apart from the agent.
            Input::ConnectFailed { peer } | Input::Disconnected { peer }
                if peer == self.config.agent =>
            {
                self.schedule_reconnect(ctx, out)
            }
            // Only the agent on this machine commands tasks.
            Input::Message { from, message } if from == self.config.agent => match message {
                Message::ExecutorHostRegistered => self.become_registered(),
                Message::LaunchTask { framework_id, task } => {
                    self.on_launch(ctx, framework_id, task, out)
                }
                // Sent for a framework's kill, for a framework shut down,
                // and for tasks the agent gave up while the host was away.
                Message::KillTaskInExecutor {
                    framework_id,
                    task_id,
                } => self.on_kill(
                    TaskKey {
                        framework_id,
                        task_id,
                    },
                    out,
                ),
                // The agent has logged the update durably: forget it. An
                // acknowledgement for an unknown uuid (a duplicate) is a no-op.
                Message::ExecutorStatusUpdateAck { uuid, .. } => {
                    self.unacknowledged
                        .retain(|u| u.uuid.as_ref() != Some(&uuid));
                }
                // Traced rather than dropped silently, so a protocol
                // mismatch shows in the timeline.
                other => out.event(Event::MessageIgnored {
                    from,
                    kind: other.kind().to_string(),
                    why: "not a message the executor host handles".into(),
                }),
            },
            // Everything else is store traffic (`database.rs`).
            Input::Message { from, message } => self.on_store_message(ctx, from, message, out),
            Input::Connected { peer } => self.on_peer_link(ctx, peer, true, out),
            Input::ConnectFailed { peer } | Input::Disconnected { peer } => {
                self.on_peer_link(ctx, peer, false, out)
            }
            // Harness commands stand in for a framework's decisions; an
            // executor host takes orders only from its agent, so none
            // concerns it.
            Input::Command(_) => {}
        }
    }
}

/// Where a task's volume keeps its data on the machine's disk.
///
/// The task names its volume by ID, and the role comes from the task's
/// resources: a task can only use a volume of the role it runs under.
///
/// The same path as `Volume::data_path` of the agent's volume (`disk_mb`
/// does not enter the path); `None` for a task without a volume.
fn volume_path(task: &TaskInfo) -> Option<String> {
    let id = task.volume.as_ref()?;
    Some(
        Volume {
            id: id.clone(),
            role: task.role.clone(),
            disk_mb: 0,
        }
        .data_path(),
    )
}

// The tests drive the role by hand, one input at a time as the driver
// would, and inspect the outputs it asks for; no driver, disk or network
// is involved.
#[cfg(test)]
mod tests;
