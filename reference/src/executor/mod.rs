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
//! A task's own life: `LaunchTask` -> `TASK_STARTING` -> `TASK_RUNNING` -> then,
//! as its workload says, `TASK_FINISHED` or `TASK_FAILED` after a while, or
//! `TASK_KILLED` when the agent asks. Tasks run on whether or not the agent is
//! there; updates produced meanwhile wait and are sent when it re-registers.
//!
//! If the executor host itself dies, its tasks die with it: that is the agent's
//! business to report (`TASK_FAILED`, reason `EXECUTOR_TERMINATED`).

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

mod database;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorHostConfig {
    pub name: ProcessId,
    /// The agent process on the same machine.
    pub agent: ProcessId,
    /// A defect planted in the workloads (`--bug`); never read by checkers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug: Option<crate::bugs::Bug>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ExecutorTimer {
    /// Dial the agent again.
    Reconnect,
    /// A task's workload completes (finishes or fails).
    WorkloadDone(TaskKey),
    /// A database task writes its next record.
    DbWrite(TaskKey),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentLink {
    Disconnected,
    Connecting,
    Registering,
    Registered,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningTask {
    pub info: TaskInfo,
    pub state: TaskState,
    /// How many updates this task produced (the next uuid's number).
    pub updates: u32,
    pub started_ms: u64,
    /// A database task's next record number.
    #[serde(default)]
    pub db_next: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecutorHost {
    config: ExecutorHostConfig,
    link: AgentLink,
    /// Live tasks (a task leaves when it reaches a terminal state).
    tasks: BTreeMap<FrameworkId, BTreeMap<TaskId, RunningTask>>,
    /// Updates the agent has not acknowledged, in the order they were made.
    unacknowledged: Vec<StatusUpdate>,
    reconnect_attempt: u32,
    /// Database tasks waiting for their volume's content, by volume path.
    db_reads: BTreeMap<String, TaskKey>,
    /// A local database's write whose fsync is in flight, by volume path:
    /// (task, record, when the write started).
    local_writes: BTreeMap<String, (TaskKey, u64, u64)>,
    /// Databases writing through remote store nodes.
    #[serde(with = "crate::pairs")]
    clients: BTreeMap<TaskKey, StoreClient>,
    /// Replicas this host serves, by dataset.
    replicas: BTreeMap<String, (TaskKey, StoreNode)>,
}

type Out = Outputs<ExecutorTimer>;

impl ExecutorHost {
    /// An executor host always starts empty: executors do not survive their
    /// container host's death.
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

    pub fn tasks(&self) -> &BTreeMap<FrameworkId, BTreeMap<TaskId, RunningTask>> {
        &self.tasks
    }

    pub fn unacknowledged(&self) -> &[StatusUpdate] {
        &self.unacknowledged
    }

    fn dial(&mut self, out: &mut Out) {
        self.link = AgentLink::Connecting;
        out.connect(&self.config.agent);
    }

    fn schedule_reconnect(&mut self, ctx: &Context, out: &mut Out) {
        self.link = AgentLink::Disconnected;
        let bound_ms = (100u64 << self.reconnect_attempt.min(4)).min(1_000);
        self.reconnect_attempt += 1;
        out.set_timer(
            ExecutorTimer::Reconnect,
            ctx.now_ms + bound_ms / 2 + ctx.random % (bound_ms / 2 + 1),
        );
    }

    fn on_connected(&mut self, out: &mut Out) {
        self.reconnect_attempt = 0;
        self.link = AgentLink::Registering;
        let tasks = self
            .tasks
            .iter()
            .flat_map(|(fid, tasks)| {
                tasks.iter().map(|(tid, t)| ExecutorTaskReport {
                    framework_id: fid.clone(),
                    task_id: tid.clone(),
                    state: t.state,
                })
            })
            .collect();
        out.send(
            &self.config.agent,
            Message::RegisterExecutorHost {
                tasks,
                unacknowledged: self.unacknowledged.clone(),
            },
        );
    }

    fn on_launch(&mut self, ctx: &Context, fid: FrameworkId, task: TaskInfo, out: &mut Out) {
        let tasks = self.tasks.entry(fid.clone()).or_default();
        if tasks.contains_key(&task.task_id) {
            return; // already running here
        }
        let key = TaskKey {
            framework_id: fid.clone(),
            task_id: task.task_id.clone(),
        };
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
        out.event(Event::TaskStarted {
            framework_id: fid,
            task_id: task.task_id.clone(),
        });
        self.update(&key, TaskState::Starting, None, out);
        match (&task.workload, volume_path(&task)) {
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
                // Ticks re-dial nodes that were down until a quorum answers.
                if let Workload::DbClient { interval_ms, .. } = &task.workload {
                    out.set_timer(ExecutorTimer::DbWrite(key), ctx.now_ms + interval_ms);
                }
            }
            (workload, _) => {
                self.update(&key, TaskState::Running, None, out);
                if let Workload::FinishAfter { ms } | Workload::FailAfter { ms } = workload {
                    out.set_timer(ExecutorTimer::WorkloadDone(key), ctx.now_ms + ms);
                }
            }
        }
    }

    fn on_workload_done(&mut self, key: TaskKey, out: &mut Out) {
        let Some(task) = self
            .tasks
            .get(&key.framework_id)
            .and_then(|t| t.get(&key.task_id))
        else {
            return;
        };
        let (state, reason) = match task.info.workload {
            Workload::FinishAfter { .. } => (TaskState::Finished, None),
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

    fn on_kill(&mut self, key: TaskKey, out: &mut Out) {
        if self
            .tasks
            .get(&key.framework_id)
            .is_some_and(|t| t.contains_key(&key.task_id))
        {
            out.cancel_timer(ExecutorTimer::WorkloadDone(key.clone()));
            out.cancel_timer(ExecutorTimer::DbWrite(key.clone()));
            self.forget_stores(&key);
            self.update(&key, TaskState::Killed, None, out);
        }
    }

    /// Records a state change and sends it to the agent (kept until acknowledged).
    fn update(&mut self, key: &TaskKey, state: TaskState, reason: Option<Reason>, out: &mut Out) {
        let tasks = self
            .tasks
            .get_mut(&key.framework_id)
            .expect("task's framework present");
        let task = tasks.get_mut(&key.task_id).expect("task present");
        task.state = state;
        task.updates += 1;
        let update = StatusUpdate {
            latest_state: None,
            framework_id: key.framework_id.clone(),
            task_id: key.task_id.clone(),
            agent_id: None, // the agent fills in its ID
            state,
            reason,
            source: Source::Executor,
            uuid: Some(UpdateUuid::new(format!("{}#{}", key.task_id, task.updates))),
            message: None,
        };
        if state.is_terminal() {
            tasks.remove(&key.task_id);
            if tasks.is_empty() {
                self.tasks.remove(&key.framework_id);
            }
            out.event(Event::TaskExited {
                framework_id: key.framework_id.clone(),
                task_id: key.task_id.clone(),
                state,
            });
        }
        self.unacknowledged.push(update.clone());
        if self.link == AgentLink::Registered {
            out.send(&self.config.agent, Message::ExecutorStatusUpdate { update });
        }
    }
}

impl Role for ExecutorHost {
    type Timer = ExecutorTimer;

    fn process_id(&self) -> &ProcessId {
        &self.config.name
    }

    fn handle(&mut self, ctx: &Context, input: Input<ExecutorTimer>, out: &mut Out) {
        match input {
            Input::Start => self.dial(out),
            Input::Timer(ExecutorTimer::Reconnect) => {
                if self.link == AgentLink::Disconnected {
                    self.dial(out);
                }
            }
            Input::Timer(ExecutorTimer::WorkloadDone(key)) => self.on_workload_done(key, out),
            Input::Timer(ExecutorTimer::DbWrite(key)) => self.tick_db_write(ctx, key, out),
            Input::FileRead { path, bytes } => self.on_volume_read(ctx, path, bytes, out),
            Input::FileSynced { path } => self.on_synced(ctx, path, out),
            Input::Connected { peer } if peer == self.config.agent => self.on_connected(out),
            Input::ConnectFailed { peer } | Input::Disconnected { peer }
                if peer == self.config.agent =>
            {
                self.schedule_reconnect(ctx, out)
            }
            Input::Message { from, message } if from == self.config.agent => match message {
                Message::ExecutorHostRegistered => self.link = AgentLink::Registered,
                Message::LaunchTask { framework_id, task } => {
                    self.on_launch(ctx, framework_id, task, out)
                }
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
                Message::ExecutorStatusUpdateAck { uuid, .. } => {
                    self.unacknowledged
                        .retain(|u| u.uuid.as_ref() != Some(&uuid));
                }
                other => out.event(Event::MessageIgnored {
                    from,
                    kind: other.kind().to_string(),
                    why: "not a message the executor host handles".into(),
                }),
            },
            Input::Message { from, message } => self.on_store_message(ctx, from, message, out),
            Input::Connected { peer } => self.on_peer_link(ctx, peer, true, out),
            Input::ConnectFailed { peer } | Input::Disconnected { peer } => {
                self.on_peer_link(ctx, peer, false, out)
            }
            Input::Command(_) => {}
        }
    }
}

/// Where a task's volume keeps its data on the machine's disk.
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

/// The database's records: complete lines `record <n>`. Returns how many were
/// found and the last number (a torn final line is not a record).
/// How many leading bytes of a database volume hold complete, readable
/// records (what [`parse_records`] counts); the rest is a torn tail.
pub fn valid_prefix_len(bytes: &[u8]) -> usize {
    let mut valid = 0;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        let readable = line.ends_with(b"\n")
            && std::str::from_utf8(&line[..line.len() - 1])
                .ok()
                .and_then(|l| l.strip_prefix("record "))
                .is_some_and(|n| n.parse::<u64>().is_ok());
        if !readable {
            break;
        }
        valid += line.len();
    }
    valid
}

pub fn parse_records(bytes: &[u8]) -> (u64, u64) {
    let mut count = 0;
    let mut last = 0;
    let complete = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(end) => &bytes[..=end],
        None => &[][..],
    };
    for line in complete.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Some(n) = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.strip_prefix("record "))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            break;
        };
        count += 1;
        last = n;
    }
    (count, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Output;
    use crate::resources::Resources;

    fn ctx(now_ms: u64) -> Context {
        Context { now_ms, random: 0 }
    }

    /// A database that finds a torn record at the end of its volume (power
    /// failed mid-append) cuts it off before it appends again; otherwise every
    /// later record would be glued to the torn bytes and unreadable at the
    /// next recovery, though each was fsynced and acknowledged.
    #[test]
    fn a_database_cuts_a_torn_tail_off_its_volume_before_appending() {
        let mut host = ExecutorHost::new(ExecutorHostConfig {
            name: "executors-1".into(),
            agent: "agent-1".into(),
            bug: None,
        });
        let mut out = Outputs::new();
        host.handle(&ctx(0), Input::Start, &mut out);
        let agent = ProcessId::from("agent-1");
        host.handle(
            &ctx(0),
            Input::Message {
                from: agent.clone(),
                message: Message::ExecutorHostRegistered,
            },
            &mut out,
        );
        let task = TaskInfo {
            task_id: "db-0002".into(),
            resources: Resources::new(100, 10, 0),
            role: "db".into(),
            volume: Some("data".into()),
            workload: Workload::Db { interval_ms: 1_000 },
        };
        host.handle(
            &ctx(10),
            Input::Message {
                from: agent,
                message: Message::LaunchTask {
                    framework_id: "e1-F0001".into(),
                    task,
                },
            },
            &mut out,
        );
        let path = out
            .as_slice()
            .iter()
            .find_map(|o| match o {
                Output::ReadFile { path } => Some(path.clone()),
                _ => None,
            })
            .expect("the database reads its volume first");
        let mut out = Outputs::new();
        host.handle(
            &ctx(20),
            Input::FileRead {
                path: path.clone(),
                bytes: Some(b"record 1\nrecord 2\nreco".to_vec()),
            },
            &mut out,
        );
        assert!(
            out.as_slice().contains(&Output::WriteFileAtomic {
                path: path.clone(),
                bytes: b"record 1\nrecord 2\n".to_vec(),
            }),
            "{:?}",
            out.as_slice()
        );
        // Then the next record is appended after record 2, readable.
        let mut out = Outputs::new();
        host.handle(
            &ctx(1_020),
            Input::Timer(ExecutorTimer::DbWrite(TaskKey {
                framework_id: "e1-F0001".into(),
                task_id: "db-0002".into(),
            })),
            &mut out,
        );
        assert!(out.as_slice().iter().any(|o| matches!(
            o,
            Output::AppendFile { path: p, bytes, .. } if *p == path && bytes == b"record 3\n"
        )));
        assert_eq!(valid_prefix_len(b"record 1\nrecord 2\n"), 18);
        assert_eq!(valid_prefix_len(b"record 1\nrecorecord 2\n"), 9);
    }

    /// Agent recovery: tasks keep running while the agent is away, and updates
    /// produced meanwhile are handed over when it re-registers.
    #[test]
    fn tasks_run_on_and_updates_wait_while_the_agent_is_away() {
        let mut host = ExecutorHost::new(ExecutorHostConfig {
            name: "executors-1".into(),
            agent: "agent-1".into(),
            bug: None,
        });
        let mut out = Outputs::new();
        host.handle(&ctx(0), Input::Start, &mut out);
        host.handle(
            &ctx(0),
            Input::Connected {
                peer: "agent-1".into(),
            },
            &mut out,
        );
        let agent = ProcessId::from("agent-1");
        let msg = |message| Input::Message {
            from: agent.clone(),
            message,
        };
        host.handle(&ctx(0), msg(Message::ExecutorHostRegistered), &mut out);
        let task = TaskInfo {
            task_id: "web-0001".into(),
            resources: Resources::new(100, 10, 0),
            role: "*".into(),
            volume: None,
            workload: Workload::FinishAfter { ms: 5_000 },
        };
        host.handle(
            &ctx(10),
            msg(Message::LaunchTask {
                framework_id: "e1-F0001".into(),
                task,
            }),
            &mut out,
        );
        // Acknowledge STARTING and RUNNING, then the agent dies.
        for n in 1..=2 {
            host.handle(
                &ctx(20),
                msg(Message::ExecutorStatusUpdateAck {
                    framework_id: "e1-F0001".into(),
                    task_id: "web-0001".into(),
                    uuid: UpdateUuid::new(format!("web-0001#{n}")),
                }),
                &mut out,
            );
        }
        host.handle(
            &ctx(30),
            Input::Disconnected {
                peer: agent.clone(),
            },
            &mut out,
        );
        let key = TaskKey {
            framework_id: "e1-F0001".into(),
            task_id: "web-0001".into(),
        };
        let mut out = Outputs::new();
        host.handle(
            &ctx(5_010),
            Input::Timer(ExecutorTimer::WorkloadDone(key)),
            &mut out,
        );
        assert!(
            !out.as_slice()
                .iter()
                .any(|o| matches!(o, Output::Send { .. })),
            "nothing is sent while the agent is away"
        );
        assert_eq!(host.unacknowledged().len(), 1);
        assert_eq!(host.unacknowledged()[0].state, TaskState::Finished);
        // The agent is back: the re-registration carries the finished update.
        let mut out = Outputs::new();
        host.handle(&ctx(6_000), Input::Connected { peer: agent }, &mut out);
        let registration = out.into_vec().into_iter().find_map(|o| match o {
            Output::Send {
                message:
                    Message::RegisterExecutorHost {
                        tasks,
                        unacknowledged,
                    },
                ..
            } => Some((tasks, unacknowledged)),
            _ => None,
        });
        let (tasks, unacknowledged) = registration.expect("re-registers");
        assert!(tasks.is_empty(), "the finished task is no longer running");
        assert_eq!(unacknowledged[0].uuid, Some(UpdateUuid::new("web-0001#3")));
    }
}
