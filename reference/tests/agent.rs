//! Black-box tests of the agent state machine: leader detection and
//! registration, commands only from the leader, checkpointing, the status update
//! stream, and recovery from the checkpoint.

mod common;

use common::*;
use mesochaos_reference::agent::{Agent, AgentConfig, AgentTimer, ReconfigurationPolicy, TaskKey};
use mesochaos_reference::checkpoint::{
    decode_records, updates_path, AgentState, StreamRecord, STATE_PATH,
};
use mesochaos_reference::framework::FrameworkInfo;
use mesochaos_reference::messages::{ExecutorTaskReport, Message};
use mesochaos_reference::resources::AgentResources;
use mesochaos_reference::task::{ReportedTask, StatusUpdate, TaskInfo, Workload};
use mesochaos_reference::{
    AgentId, Event, FrameworkId, Output, Reason, Resources, Source, TaskId, TaskState, Timing,
    UpdateUuid,
};
use std::collections::BTreeMap;

const NAME: &str = "agent-1";
const EXECUTORS: &str = "executors-1";
const MASTER: &str = "master-1";
const TOTAL: Resources = Resources::new(4000, 8192, 1000);

fn config(boot_id: &str) -> AgentConfig {
    AgentConfig {
        name: NAME.into(),
        executor_host: EXECUTORS.into(),
        coordinator: coordinator(),
        resources: TOTAL,
        timing: Timing::default(),
        boot_id: boot_id.into(),
        bug: None,
        reconfiguration_policy: ReconfigurationPolicy::Equal,
    }
}

fn fid() -> FrameworkId {
    "e1-F0001".into()
}

fn framework() -> FrameworkInfo {
    FrameworkInfo {
        name: "web".into(),
        role: "*".into(),
        principal: "web".into(),
        failover_timeout_ms: 60_000,
        partition_aware: false,
        id: Some(fid()),
    }
}

fn task_info(id: &str) -> TaskInfo {
    TaskInfo {
        task_id: id.into(),
        resources: cpus(1),
        role: "*".into(),
        volume: None,
        workload: Workload::Forever,
    }
}

fn run_task(epoch: u64, id: &str) -> Message {
    Message::RunTask {
        epoch,
        framework: Box::new(framework()),
        task: task_info(id),
    }
}

fn executor_update(id: &str, state: TaskState, n: u32) -> Message {
    Message::ExecutorStatusUpdate {
        update: StatusUpdate {
            latest_state: None,
            framework_id: fid(),
            task_id: id.into(),
            agent_id: None,
            state,
            reason: None,
            source: Source::Executor,
            uuid: Some(UpdateUuid::new(format!("{id}#{n}"))),
            message: None,
        },
    }
}

fn ack(epoch: u64, id: &str, n: u32) -> Message {
    Message::StatusUpdateAcknowledgement {
        epoch,
        framework_id: fid(),
        task_id: id.into(),
        uuid: UpdateUuid::new(format!("{id}#{n}")),
    }
}

/// The status updates sent to `to`, whole, in order.
fn status_updates_to(outs: &[Output<AgentTimer>], to: &str) -> Vec<StatusUpdate> {
    sent_to(outs, to)
        .into_iter()
        .filter_map(|m| match m {
            Message::StatusUpdate { update } => Some(update),
            _ => None,
        })
        .collect()
}

fn key(id: &str) -> TaskKey {
    TaskKey {
        framework_id: fid(),
        task_id: id.into(),
    }
}

/// Status updates sent to `master`, as (task, state, uuid).
fn updates_to(outs: &[Output<AgentTimer>], master: &str) -> Vec<(String, TaskState, String)> {
    sent_to(outs, master)
        .into_iter()
        .filter_map(|m| match m {
            Message::StatusUpdate { update } => Some((
                update.task_id.to_string(),
                update.state,
                update.uuid.map(|u| u.to_string()).unwrap_or_default(),
            )),
            _ => None,
        })
        .collect()
}

/// The last version of the state file the outputs wrote.
fn last_checkpoint(outs: &[Output<AgentTimer>]) -> Option<Vec<u8>> {
    atomic_writes(outs)
        .into_iter()
        .filter(|(path, _)| path == STATE_PATH)
        .map(|(_, bytes)| bytes)
        .next_back()
}

fn decode(bytes: &[u8]) -> AgentState {
    serde_json::from_slice(bytes).expect("the state file decodes")
}

/// The machine's disk after the outputs' writes, as recovery reads it.
fn disk(outs: &[Output<AgentTimer>]) -> BTreeMap<String, Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for o in outs {
        match o {
            Output::WriteFileAtomic { path, bytes } => {
                files.insert(path.clone(), bytes.clone());
            }
            Output::AppendFile { path, bytes, .. } => {
                files.entry(path.clone()).or_default().extend(bytes)
            }
            Output::RemoveFile { path } => {
                files.remove(path);
            }
            _ => {}
        }
    }
    files
}

/// The records appended to a task's update log by the outputs.
fn log_records(outs: &[Output<AgentTimer>], task: &str) -> Vec<StreamRecord> {
    let path = updates_path(&fid(), &TaskId::from(task));
    let bytes: Vec<u8> = outs
        .iter()
        .filter_map(|o| match o {
            Output::AppendFile {
                path: p,
                bytes,
                sync: true,
                ..
            } if *p == path => Some(bytes.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    decode_records(&bytes).records
}

/// Starts the agent (against a coordinator where `master-1` leads at epoch 1),
/// dials the leader and sends the first registration message. Returns every
/// output since the start.
fn detect_and_register(rig: &mut Rig<Agent>) -> Vec<Output<AgentTimer>> {
    let mut outs = rig.start();
    assert!(
        outs.contains(&Output::Connect { to: MASTER.into() }),
        "{outs:?}"
    );
    outs.extend(rig.connected(MASTER));
    outs.extend(rig.timer(AgentTimer::RegisterRetry));
    outs
}

/// Starts an agent recovered with tasks and lets its recovery complete. Such an
/// agent detects the master only once the executor re-registration window has
/// closed (Mesos `Slave::_recover`, MESOS-7539): it must not dial before. Then
/// it dials `master` and sends the first registration message. Returns every
/// output since the start.
fn recover_then_register(rig: &mut Rig<Agent>, master: &str) -> Vec<Output<AgentTimer>> {
    let start = rig.now;
    let mut outs = rig.start();
    assert!(
        !outs.iter().any(|o| matches!(o, Output::Connect { .. })),
        "no master detection before recovery completes: {outs:?}"
    );
    let closes = start + Timing::default().executor_reregistration_timeout_ms;
    assert_eq!(
        timer_at(&outs, &AgentTimer::ExecutorReregisterTimeout),
        Some(closes)
    );
    let done = rig.at(closes).timer(AgentTimer::ExecutorReregisterTimeout);
    assert!(
        done.contains(&Output::Connect { to: master.into() }),
        "{done:?}"
    );
    outs.extend(done);
    outs.extend(rig.connected(master));
    outs.extend(rig.timer(AgentTimer::RegisterRetry));
    outs
}

/// A fresh agent registered with `master-1` (epoch 1) as `e1-S0001`, with its
/// executor host registered. Returns the rig and every output so far.
fn registered_agent() -> (Rig<Agent>, Vec<Output<AgentTimer>>) {
    let mut rig = Rig::new(
        Agent::new(config("boot-1")),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    let mut outs = detect_and_register(&mut rig);
    outs.extend(rig.msg(
        MASTER,
        Message::AgentRegistered {
            epoch: 1,
            agent_id: "e1-S0001".into(),
        },
    ));
    outs.extend(rig.msg(
        EXECUTORS,
        Message::RegisterExecutorHost {
            tasks: vec![],
            unacknowledged: vec![],
        },
    ));
    (rig, outs)
}

/// A registered agent running `web-0001` (launched by the leader).
fn agent_running_one_task() -> (Rig<Agent>, Vec<Output<AgentTimer>>) {
    let (mut rig, mut outs) = registered_agent();
    outs.extend(rig.msg(MASTER, run_task(1, "web-0001")));
    (rig, outs)
}

// Mesos: an agent detects the leader through ZooKeeper, registers with it, and
// checkpoints the agent ID it was given.
#[test]
fn agent_registers_with_the_detected_leader_and_checkpoints_its_id() {
    let mut rig = Rig::new(
        Agent::new(config("boot-1")),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    let outs = detect_and_register(&mut rig);
    assert!(events(&outs).contains(&Event::AgentRecovered {
        agent_id: None,
        tasks: 0
    }));
    assert!(events(&outs).contains(&Event::LeaderDetected {
        leader: Some(MASTER.into()),
        epoch: Some(1)
    }));
    assert_eq!(
        sent_to(&outs, MASTER),
        vec![Message::RegisterAgent {
            resources: AgentResources::unreserved(TOTAL),
            boot_id: "boot-1".into()
        }]
    );
    assert_eq!(rig.role.registered_with(), None);

    let outs = rig.at(50).msg(
        MASTER,
        Message::AgentRegistered {
            epoch: 1,
            agent_id: "e1-S0001".into(),
        },
    );
    assert_eq!(rig.role.registered_with(), Some((&MASTER.into(), 1)));
    assert_eq!(rig.role.agent_id(), Some(&AgentId::from("e1-S0001")));
    assert!(events(&outs).contains(&Event::AgentRegisteredWith {
        master: MASTER.into(),
        epoch: 1,
        agent_id: "e1-S0001".into(),
        reregistered: false
    }));
    let checkpoint = decode(&last_checkpoint(&outs).expect("the ID is checkpointed"));
    assert_eq!(checkpoint.agent_id, Some("e1-S0001".into()));
    assert_eq!(
        timer_at(&outs, &AgentTimer::PingTimeout),
        Some(50 + Timing::default().agent_total_ping_timeout_ms())
    );
}

// Mesos: an agent acts only on commands from the master it is registered with;
// a RunTask from any other master (or an older epoch) is dropped.
#[test]
fn agent_ignores_run_task_from_a_master_that_is_not_its_registered_leader() {
    let (mut rig, _) = registered_agent();

    for (from, epoch) in [("master-2", 2), ("master-2", 1), (MASTER, 0)] {
        let outs = rig.msg(from, run_task(epoch, "web-0001"));
        assert_eq!(
            ignored(&outs, "RunTask").len(),
            1,
            "RunTask from {from} at epoch {epoch}: {outs:?}"
        );
        assert!(sent_to(&outs, EXECUTORS).is_empty(), "no LaunchTask");
        assert!(atomic_writes(&outs).is_empty(), "nothing checkpointed");
        assert!(!has_event(&outs, |e| matches!(
            e,
            Event::AgentAcceptedCommand { .. }
        )));
    }
    assert!(rig.role.tasks().is_empty());
}

// Mesos: an agent that is still registering acts on no master's commands.
#[test]
fn agent_ignores_run_task_before_it_has_registered() {
    let mut rig = Rig::new(
        Agent::new(config("boot-1")),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    detect_and_register(&mut rig);
    let outs = rig.msg(MASTER, run_task(1, "web-0001"));
    assert_eq!(ignored(&outs, "RunTask").len(), 1);
    assert!(sends(&outs).is_empty());
    assert!(rig.role.tasks().is_empty());
}

// Mesos: the agent checkpoints a task before launching it through its executor.
#[test]
fn run_task_from_the_leader_is_checkpointed_then_launched_on_the_executor_host() {
    let (mut rig, _) = registered_agent();
    let outs = rig.msg(MASTER, run_task(1, "web-0001"));

    assert!(events(&outs).contains(&Event::AgentAcceptedCommand {
        master: MASTER.into(),
        epoch: 1,
        kind: "RunTask".into()
    }));
    assert_eq!(
        sent_to(&outs, EXECUTORS),
        vec![Message::LaunchTask {
            framework_id: fid(),
            task: task_info("web-0001")
        }]
    );
    let write_at = outs
        .iter()
        .position(|o| matches!(o, Output::WriteFileAtomic { path, .. } if path == STATE_PATH))
        .expect("checkpointed");
    let launch_at = outs
        .iter()
        .position(|o| {
            matches!(
                o,
                Output::Send {
                    message: Message::LaunchTask { .. },
                    ..
                }
            )
        })
        .unwrap();
    assert!(write_at < launch_at, "checkpoint before launch");
    let checkpoint = decode(&last_checkpoint(&outs).unwrap());
    assert_eq!(checkpoint.agent_id, Some("e1-S0001".into()));
    assert_eq!(checkpoint.frameworks[&fid()], framework());
    assert_eq!(
        checkpoint.tasks[&fid()][&TaskId::from("web-0001")],
        task_info("web-0001")
    );

    // A duplicate RunTask for a task already running launches nothing more.
    let outs = rig.msg(MASTER, run_task(1, "web-0001"));
    assert!(sent_to(&outs, EXECUTORS).is_empty());
}

// Mesos: the status update manager sends one update per task at a time and the
// next only after the framework's acknowledgement of the previous one; updates
// are checkpointed before the executor is acknowledged.
#[test]
fn status_updates_flow_one_at_a_time_and_advance_only_on_acknowledgement() {
    let (mut rig, _) = agent_running_one_task();

    let outs = rig.at(100).msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Starting, 1),
    );
    assert_eq!(
        updates_to(&outs, MASTER),
        [("web-0001".into(), TaskState::Starting, "web-0001#1".into())]
    );
    match &sent_to(&outs, MASTER)[0] {
        Message::StatusUpdate { update } => {
            assert_eq!(
                update.agent_id,
                Some("e1-S0001".into()),
                "agent fills in its ID"
            )
        }
        other => panic!("{other:?}"),
    }
    let write_at = outs
        .iter()
        .position(|o| matches!(o, Output::AppendFile { sync: true, .. }))
        .expect("appended to the task's log, synced");
    let ack_at = outs
        .iter()
        .position(|o| {
            matches!(
                o,
                Output::Send {
                    message: Message::ExecutorStatusUpdateAck { .. },
                    ..
                }
            )
        })
        .expect("executor acknowledged");
    assert!(
        write_at < ack_at,
        "checkpoint before acknowledging the executor"
    );
    assert_eq!(
        timer_at(&outs, &AgentTimer::StatusRetry(key("web-0001"))),
        Some(100 + Timing::default().status_update_retry_ms)
    );

    // The second update waits behind the first.
    let outs = rig.at(150).msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 2),
    );
    assert!(updates_to(&outs, MASTER).is_empty(), "{outs:?}");
    assert_eq!(
        sent_to(&outs, EXECUTORS),
        vec![Message::ExecutorStatusUpdateAck {
            framework_id: fid(),
            task_id: "web-0001".into(),
            uuid: UpdateUuid::new("web-0001#2")
        }]
    );
    let pending = &rig.role.tasks()[&fid()][&TaskId::from("web-0001")].pending_updates;
    assert_eq!(pending.len(), 2);

    // The acknowledgement of #1 releases #2.
    let outs = rig.at(200).msg(MASTER, ack(1, "web-0001", 1));
    assert_eq!(
        updates_to(&outs, MASTER),
        [("web-0001".into(), TaskState::Running, "web-0001#2".into())]
    );
    assert_eq!(
        log_records(&outs, "web-0001"),
        vec![StreamRecord::Ack(UpdateUuid::new("web-0001#1"))],
        "the acknowledgement is appended to the task's log"
    );

    // A duplicate acknowledgement of #1 changes nothing.
    let outs = rig.at(250).msg(MASTER, ack(1, "web-0001", 1));
    assert_eq!(ignored(&outs, "StatusUpdateAcknowledgement").len(), 1);
    assert!(sends(&outs).is_empty());
    assert!(atomic_writes(&outs).is_empty());
    assert_eq!(
        rig.role.tasks()[&fid()][&TaskId::from("web-0001")]
            .pending_updates
            .len(),
        1
    );

    // Acknowledging #2 empties the stream: nothing more to send.
    let outs = rig.at(300).msg(MASTER, ack(1, "web-0001", 2));
    assert!(updates_to(&outs, MASTER).is_empty());
    let task = &rig.role.tasks()[&fid()][&TaskId::from("web-0001")];
    assert!(task.pending_updates.is_empty());
    assert_eq!(task.state, TaskState::Running);
    assert!(outs.contains(&Output::CancelTimer {
        timer: AgentTimer::StatusRetry(key("web-0001"))
    }));
}

// Mesos: an acknowledgement relayed by a master that is not the registered
// leader is ignored.
#[test]
fn acknowledgement_from_another_master_is_ignored() {
    let (mut rig, _) = agent_running_one_task();
    rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 1),
    );
    let outs = rig.msg("master-2", ack(2, "web-0001", 1));
    assert_eq!(ignored(&outs, "StatusUpdateAcknowledgement").len(), 1);
    assert_eq!(
        rig.role.tasks()[&fid()][&TaskId::from("web-0001")]
            .pending_updates
            .len(),
        1
    );
}

// Mesos: an unacknowledged status update is retried with exponential backoff.
#[test]
fn unacknowledged_update_is_resent_with_a_doubling_interval() {
    let (mut rig, _) = agent_running_one_task();
    let first = Timing::default().status_update_retry_ms;
    rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 1),
    );
    let outs = rig
        .at(first)
        .timer(AgentTimer::StatusRetry(key("web-0001")));
    assert_eq!(
        updates_to(&outs, MASTER),
        [("web-0001".into(), TaskState::Running, "web-0001#1".into())]
    );
    assert_eq!(
        timer_at(&outs, &AgentTimer::StatusRetry(key("web-0001"))),
        Some(first + 2 * first)
    );
}

// Mesos: a terminal, fully acknowledged task is removed from the agent.
#[test]
fn acknowledged_terminal_update_retires_the_task() {
    let (mut rig, _) = agent_running_one_task();
    rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Finished, 1),
    );
    let outs = rig.msg(MASTER, ack(1, "web-0001", 1));
    assert!(rig.role.tasks().is_empty());
    let checkpoint = decode(&last_checkpoint(&outs).unwrap());
    assert!(checkpoint.tasks.is_empty());
}

// Mesos: a restarted agent recovers its ID and tasks from its checkpoint, waits
// for its executors, and re-registers (not registers) with its full task list.
#[test]
fn recovered_agent_keeps_its_id_and_tasks_and_reregisters_with_them() {
    let (mut rig, mut outs) = agent_running_one_task();
    outs.extend(rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 1),
    ));
    outs.extend(rig.msg(MASTER, ack(1, "web-0001", 1)));
    // The process dies; a new one starts from the disk alone.
    let recovered = Agent::recover(config("boot-1"), &disk(&outs));
    assert_eq!(recovered.agent_id(), Some(&AgentId::from("e1-S0001")));
    let task = &recovered.tasks()[&fid()][&TaskId::from("web-0001")];
    assert_eq!(task.state, TaskState::Running);
    assert_eq!(task.info, task_info("web-0001"));
    assert!(task.pending_updates.is_empty());
    assert_eq!(recovered.registered_with(), None);

    let mut rig = Rig::new(recovered, FakeCoordinator::new().with_master(3, "master-2"));
    rig.at(10_000);
    let outs = rig.start();
    assert!(events(&outs).contains(&Event::AgentRecovered {
        agent_id: Some("e1-S0001".into()),
        tasks: 1
    }));
    assert_eq!(
        timer_at(&outs, &AgentTimer::ExecutorReregisterTimeout),
        Some(10_000 + Timing::default().executor_reregistration_timeout_ms)
    );
    assert!(
        !outs.iter().any(|o| matches!(o, Output::Connect { .. })),
        "no master detection before recovery completes"
    );
    // The executor host is back at once; the agent still waits the whole
    // window before it detects the master (Mesos `Slave::_recover`,
    // MESOS-7539: recovery completes in `reregisterExecutorTimeout`).
    let back = rig.at(10_005).msg(
        EXECUTORS,
        Message::RegisterExecutorHost {
            tasks: vec![ExecutorTaskReport {
                framework_id: fid(),
                task_id: "web-0001".into(),
                state: TaskState::Running,
            }],
            unacknowledged: vec![],
        },
    );
    assert!(
        !back.iter().any(|o| matches!(o, Output::Connect { .. }))
            && !back.iter().any(|o| matches!(
                o,
                Output::CancelTimer {
                    timer: AgentTimer::ExecutorReregisterTimeout
                }
            )),
        "{back:?}"
    );
    let done = rig
        .at(10_000 + Timing::default().executor_reregistration_timeout_ms)
        .timer(AgentTimer::ExecutorReregisterTimeout);
    assert!(done.contains(&Output::Connect {
        to: "master-2".into()
    }));
    assert_eq!(
        rig.role.tasks()[&fid()][&TaskId::from("web-0001")].state,
        TaskState::Running,
        "a task whose executor is back is not lost"
    );
    rig.connected("master-2");
    let outs = rig.timer(AgentTimer::RegisterRetry);
    assert_eq!(
        sent_to(&outs, "master-2"),
        vec![Message::ReregisterAgent {
            agent_id: "e1-S0001".into(),
            resources: AgentResources::unreserved(TOTAL),
            boot_id: "boot-1".into(),
            frameworks: vec![framework()],
            tasks: vec![ReportedTask {
                framework_id: fid(),
                info: task_info("web-0001"),
                state: TaskState::Running,
                // A restarted agent has forwarded nothing yet (Mesos sets
                // `status_update_state` in `Slave::forward`).
                status_update_state: None,
            }],
        }]
    );
    let outs = rig.msg(
        "master-2",
        Message::AgentReregistered {
            epoch: 3,
            agent_id: "e1-S0001".into(),
        },
    );
    assert_eq!(rig.role.registered_with(), Some((&"master-2".into(), 3)));
    assert!(events(&outs).contains(&Event::AgentRegisteredWith {
        master: "master-2".into(),
        epoch: 3,
        agent_id: "e1-S0001".into(),
        reregistered: true
    }));
}

// Mesos: after an agent restart, tasks whose executor does not re-register within
// executor_reregistration_timeout are reported TASK_LOST.
#[test]
fn recovered_tasks_are_lost_if_the_executor_host_does_not_return_in_time() {
    let (_, outs) = agent_running_one_task();
    let mut rig = Rig::new(
        Agent::recover(config("boot-1"), &disk(&outs)),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    rig.start();
    let outs = rig
        .at(Timing::default().executor_reregistration_timeout_ms)
        .timer(AgentTimer::ExecutorReregisterTimeout);
    let task = &rig.role.tasks()[&fid()][&TaskId::from("web-0001")];
    assert_eq!(task.state, TaskState::Lost);
    let update = task.pending_updates.front().unwrap();
    assert_eq!(update.reason, Some(Reason::ExecutorReregistrationTimeout));
    assert_eq!(update.source, Source::Agent);
    assert!(
        matches!(&log_records(&outs, "web-0001")[..], [StreamRecord::Update(u)] if u.state == TaskState::Lost),
        "the agent's own update is appended to the log"
    );
}

// Mesos 1.4+: a checkpoint from an earlier boot means the machine rebooted and
// its executors died: the agent keeps its ID, finds no container for them and
// reports each task TASK_FAILED, reason EXECUTOR_TERMINATED, from the agent
// (`Slave::executorTerminated`; `SlaveRecoveryTest.RebootWithExecutorPidReused`).
#[test]
fn recovered_agent_after_a_reboot_reports_its_tasks_failed() {
    let (_, outs) = agent_running_one_task();
    let mut rig = Rig::new(
        Agent::recover(config("boot-2"), &disk(&outs)),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    recover_then_register(&mut rig, MASTER);
    let task = &rig.role.tasks()[&fid()][&TaskId::from("web-0001")];
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(
        task.pending_updates.front().unwrap().reason,
        Some(Reason::ExecutorTerminated)
    );
}

// Mesos: after a failover the agent re-registers reporting each task's latest
// state, then resends its unacknowledged updates oldest first to the new leader.
// (This is the input under which the master bug in tests/master.rs shows.)
#[test]
fn agent_reports_latest_state_then_replays_oldest_unacknowledged_update_to_a_new_leader() {
    let (mut rig, _) = agent_running_one_task();
    rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 1),
    );
    rig.msg(MASTER, ack(1, "web-0001", 1));
    // master-1 dies before relaying acknowledgements; the task goes on and finishes.
    rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 2),
    );
    rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Finished, 3),
    );

    // master-2 is elected; the agent detects it.
    rig.coord.masters = vec![candidate(2, "master-2")];
    let outs = rig.msg(
        COORDINATOR,
        Message::CoordWatch {
            path: mesochaos_reference::detector::MASTERS_PATH.into(),
            kind: mesochaos_reference::messages::WatchKind::ChildrenChanged,
        },
    );
    assert!(outs.contains(&Output::Disconnect {
        peer: MASTER.into()
    }));
    assert!(outs.contains(&Output::Connect {
        to: "master-2".into()
    }));
    rig.connected("master-2");
    let outs = rig.timer(AgentTimer::RegisterRetry);
    match &sent_to(&outs, "master-2")[..] {
        [Message::ReregisterAgent { tasks, .. }] => {
            assert_eq!(tasks.len(), 1);
            assert_eq!(tasks[0].state, TaskState::Finished, "the latest state");
            // And the state of the update it last forwarded (the unacknowledged
            // TASK_RUNNING): what the new leader answers reconciliation with.
            assert_eq!(tasks[0].status_update_state, Some(TaskState::Running));
        }
        other => panic!("{other:?}"),
    }
    let outs = rig.msg(
        "master-2",
        Message::AgentReregistered {
            epoch: 2,
            agent_id: "e1-S0001".into(),
        },
    );
    assert_eq!(
        updates_to(&outs, "master-2"),
        [("web-0001".into(), TaskState::Running, "web-0001#2".into())]
    );
    // Commands from the deposed leader are now ignored.
    let outs = rig.msg(MASTER, ack(1, "web-0001", 2));
    assert_eq!(ignored(&outs, "StatusUpdateAcknowledgement").len(), 1);
}

// Mesos (ShutdownFrameworkMessage): an agent told to shut a removed framework
// down kills its tasks and forgets them, update streams included — nobody will
// acknowledge those updates any more.
#[test]
fn shutdown_framework_kills_its_tasks_and_drops_their_update_streams() {
    let (mut rig, _) = agent_running_one_task();
    // An update is in flight (unacknowledged) when the shutdown arrives.
    let outs = rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Starting, 1),
    );
    assert_eq!(updates_to(&outs, MASTER).len(), 1);
    let outs = rig.msg(
        MASTER,
        Message::ShutdownFramework {
            epoch: 1,
            framework_id: fid(),
        },
    );
    assert_eq!(
        sent_to(&outs, EXECUTORS),
        vec![Message::KillTaskInExecutor {
            framework_id: fid(),
            task_id: "web-0001".into()
        }]
    );
    assert!(outs.contains(&Output::CancelTimer {
        timer: AgentTimer::StatusRetry(key("web-0001"))
    }));
    assert!(rig.role.tasks().is_empty());
    let checkpoint = decode(&last_checkpoint(&outs).expect("checkpointed"));
    assert!(checkpoint.tasks.is_empty() && checkpoint.frameworks.is_empty());
    // The executor's TASK_KILLED is acknowledged and goes nowhere.
    let outs = rig.msg(EXECUTORS, executor_update("web-0001", TaskState::Killed, 3));
    assert!(updates_to(&outs, MASTER).is_empty());
    assert_eq!(
        sent_to(&outs, EXECUTORS).len(),
        1,
        "acknowledged to the executor host"
    );
}

// ----- recovery, one test per checkpoint record kind -----

// Mesos agent recovery (status update stream): UPDATE records not followed by
// their ACK are replayed as the updates still to deliver, in order.
#[test]
fn recovery_replays_unacknowledged_update_records_in_order() {
    let (mut rig, mut outs) = agent_running_one_task();
    outs.extend(rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Starting, 1),
    ));
    outs.extend(rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 2),
    ));
    let recovered = Agent::recover(config("boot-1"), &disk(&outs));
    let task = &recovered.tasks()[&fid()][&TaskId::from("web-0001")];
    let pending: Vec<TaskState> = task.pending_updates.iter().map(|u| u.state).collect();
    assert_eq!(pending, vec![TaskState::Starting, TaskState::Running]);
    assert_eq!(
        task.state,
        TaskState::Running,
        "the latest state is the last record's"
    );
}

// Mesos: an ACK record retires the head of the stream; what remains after
// recovery is exactly what was never acknowledged.
#[test]
fn recovery_applies_acknowledgement_records() {
    let (mut rig, mut outs) = agent_running_one_task();
    outs.extend(rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Starting, 1),
    ));
    outs.extend(rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 2),
    ));
    outs.extend(rig.msg(MASTER, ack(1, "web-0001", 1)));
    let recovered = Agent::recover(config("boot-1"), &disk(&outs));
    let task = &recovered.tasks()[&fid()][&TaskId::from("web-0001")];
    let pending: Vec<&str> = task
        .pending_updates
        .iter()
        .map(|u| u.uuid.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(pending, vec!["web-0001#2"]);
}

// A torn append (power lost mid-write) leaves a partial record at the end of a
// log: recovery keeps every complete record, drops the tail, rewrites the log,
// and says so in the trace — it never panics.
#[test]
fn recovery_truncates_a_torn_update_record_and_says_so() {
    let (mut rig, mut outs) = agent_running_one_task();
    outs.extend(rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Starting, 1),
    ));
    outs.extend(rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 2),
    ));
    let mut files = disk(&outs);
    let path = updates_path(&fid(), &TaskId::from("web-0001"));
    let full = files[&path].clone();
    for cut in [1, 9, 20] {
        let torn = full[..full.len() - cut].to_vec();
        files.insert(path.clone(), torn.clone());
        let mut rig = Rig::new(
            Agent::recover(config("boot-1"), &files),
            FakeCoordinator::new().with_master(1, MASTER),
        );
        let task = &rig.role.tasks()[&fid()][&TaskId::from("web-0001")];
        assert_eq!(
            task.pending_updates.len(),
            1,
            "only the complete record survives"
        );
        assert_eq!(task.state, TaskState::Starting);
        let outs = rig.start();
        let truncated = events(&outs).into_iter().find_map(|e| match e {
            Event::CheckpointTruncated {
                path: p,
                kept_bytes,
                dropped_bytes,
            } => Some((p, kept_bytes, dropped_bytes)),
            _ => None,
        });
        let (p, kept_bytes, dropped_bytes) = truncated.expect("recovery reports the truncation");
        assert_eq!(p, path);
        assert_eq!(kept_bytes + dropped_bytes, torn.len());
        assert!(atomic_writes(&outs).contains(&(path.clone(), torn[..kept_bytes].to_vec())));
    }
}

// Garbage in the state file is not a crash: the agent starts afresh.
#[test]
fn an_unreadable_state_file_means_a_fresh_agent() {
    let mut files = BTreeMap::new();
    files.insert(STATE_PATH.to_string(), b"{not json".to_vec());
    let agent = Agent::recover(config("boot-1"), &files);
    assert_eq!(agent.agent_id(), None);
    assert!(agent.tasks().is_empty());
}

// What is not checkpointed does not survive: the status update retry interval
// lives only in memory, so after a restart the first retry is 10 s again.
#[test]
fn the_retry_backoff_is_not_checkpointed_and_restarts_at_ten_seconds() {
    let (mut rig, mut outs) = agent_running_one_task();
    outs.extend(rig.at(100).msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Starting, 1),
    ));
    // Two retries without acknowledgement: the interval doubles to 40 s.
    rig.at(10_100)
        .timer(AgentTimer::StatusRetry(key("web-0001")));
    let retry = rig
        .at(30_100)
        .timer(AgentTimer::StatusRetry(key("web-0001")));
    assert_eq!(
        timer_at(&retry, &AgentTimer::StatusRetry(key("web-0001"))),
        Some(30_100 + 40_000)
    );

    // The process restarts from its disk and re-registers.
    let mut rig = Rig::new(
        Agent::recover(config("boot-1"), &disk(&outs)),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    rig.at(40_000);
    rig.msg(
        EXECUTORS,
        Message::RegisterExecutorHost {
            tasks: vec![ExecutorTaskReport {
                framework_id: fid(),
                task_id: "web-0001".into(),
                state: TaskState::Starting,
            }],
            unacknowledged: vec![],
        },
    );
    let mut outs = recover_then_register(&mut rig, MASTER);
    outs.extend(rig.msg(
        MASTER,
        Message::AgentReregistered {
            epoch: 1,
            agent_id: "e1-S0001".into(),
        },
    ));
    assert_eq!(
        timer_at(&outs, &AgentTimer::StatusRetry(key("web-0001"))),
        Some(rig.now + Timing::default().status_update_retry_ms),
        "the backoff starts over"
    );
}

/// The executor host re-registers with a recovered agent reporting `tasks`.
fn executor_host_back(tasks: &[(&str, TaskState)]) -> Message {
    Message::RegisterExecutorHost {
        tasks: tasks
            .iter()
            .map(|(id, state)| ExecutorTaskReport {
                framework_id: fid(),
                task_id: (*id).into(),
                state: *state,
            })
            .collect(),
        unacknowledged: vec![],
    }
}

fn kills_in_executor(outs: &[Output<AgentTimer>]) -> Vec<String> {
    sent_to(outs, EXECUTORS)
        .into_iter()
        .filter_map(|m| match m {
            Message::KillTaskInExecutor { task_id, .. } => Some(task_id.to_string()),
            _ => None,
        })
        .collect()
}

// Mesos `Slave::reregisterExecutorTimeout` destroys the container of an executor
// that did not re-register in time before reporting its tasks: a late executor
// host must not keep running a task the agent already declared ended.
#[test]
fn an_executor_host_back_after_the_window_has_its_ended_tasks_killed() {
    let (mut rig, mut outs) = agent_running_one_task();
    outs.extend(rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 1),
    ));
    let mut rig = Rig::new(
        Agent::recover(config("boot-1"), &disk(&outs)),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    recover_then_register(&mut rig, MASTER);
    assert_eq!(
        rig.role.tasks()[&fid()][&TaskId::from("web-0001")].state,
        TaskState::Lost
    );
    let outs = rig.msg(
        EXECUTORS,
        executor_host_back(&[("web-0001", TaskState::Running)]),
    );
    assert_eq!(kills_in_executor(&outs), ["web-0001"]);
}

// Mesos `Slave::reregisterExecutor`: a task still STAGING that the re-registered
// executor does not know never reached it — TASK_LOST (TASK_DROPPED if
// partition-aware), reason AGENT_RESTARTED; a running task whose executor is
// back without it died with it — TASK_FAILED, reason EXECUTOR_TERMINATED.
#[test]
fn tasks_an_executor_host_does_not_report_are_dropped_or_failed() {
    let (mut rig, mut outs) = agent_running_one_task();
    outs.extend(rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 1),
    ));
    outs.extend(rig.msg(MASTER, run_task(1, "web-0002")));
    let mut rig = Rig::new(
        Agent::recover(config("boot-1"), &disk(&outs)),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    rig.start();
    rig.msg(EXECUTORS, executor_host_back(&[]));
    let tasks = &rig.role.tasks()[&fid()];
    let head = |id: &str| {
        let t = &tasks[&TaskId::from(id)];
        let u = t.pending_updates.back().unwrap();
        (t.state, u.reason, u.source)
    };
    assert_eq!(
        head("web-0001"),
        (
            TaskState::Failed,
            Some(Reason::ExecutorTerminated),
            Source::Agent
        )
    );
    assert_eq!(
        head("web-0002"),
        (TaskState::Lost, Some(Reason::AgentRestarted), Source::Agent)
    );
}

// Mesos `Slave::reregistered`: a task the master asks about that the agent does
// not know is answered with TASK_LOST (TASK_DROPPED if partition-aware), reason
// RECONCILIATION, from the agent, through the reliable status update stream;
// its acknowledgement ends the stream.
#[test]
fn an_unknown_task_the_master_asks_about_gets_a_reliable_agent_update() {
    let (mut rig, _) = registered_agent();
    let outs = rig.at(5_000).msg(
        MASTER,
        Message::AgentReconcileTasks {
            epoch: 1,
            framework: Box::new(framework()),
            task_ids: vec!["web-0042".into()],
        },
    );
    let sent = status_updates_to(&outs, MASTER);
    assert_eq!(sent.len(), 1);
    let update = &sent[0];
    assert_eq!(
        (update.state, update.reason, update.source),
        (TaskState::Lost, Some(Reason::Reconciliation), Source::Agent)
    );
    let uuid = update.uuid.clone().expect("a reliable update");
    assert!(
        !log_records(&outs, "web-0042").is_empty(),
        "checkpointed like any update"
    );
    assert_eq!(
        timer_at(&outs, &AgentTimer::StatusRetry(key("web-0042"))),
        Some(5_000 + Timing::default().status_update_retry_ms)
    );
    rig.msg(
        MASTER,
        Message::StatusUpdateAcknowledgement {
            epoch: 1,
            framework_id: fid(),
            task_id: "web-0042".into(),
            uuid,
        },
    );
    assert!(!rig
        .role
        .tasks()
        .get(&fid())
        .is_some_and(|t| t.contains_key(&TaskId::from("web-0042"))));
}

// Mesos `Slave::runTask` / `Slave::killTask`: an agent that lost its master link
// and is re-registering with the master it detected still carries out that
// master's kills and launches (it checks only the sender); a shutdown of a
// framework waits for the re-registration (`Slave::shutdownFramework`).
#[test]
fn a_reregistering_agent_obeys_kills_from_the_detected_master_but_not_shutdowns() {
    let (mut rig, _) = agent_running_one_task();
    rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 1),
    );
    rig.step(mesochaos_reference::Input::Disconnected {
        peer: MASTER.into(),
    });
    let outs = rig.msg(
        MASTER,
        Message::ShutdownFramework {
            epoch: 1,
            framework_id: fid(),
        },
    );
    assert_eq!(ignored(&outs, "ShutdownFramework").len(), 1);
    let outs = rig.msg(
        MASTER,
        Message::KillTask {
            epoch: 1,
            framework_id: fid(),
            task_id: "web-0001".into(),
        },
    );
    assert_eq!(
        sent_to(&outs, EXECUTORS),
        vec![Message::KillTaskInExecutor {
            framework_id: fid(),
            task_id: "web-0001".into()
        }]
    );
    let outs = rig.msg(
        "master-2",
        Message::KillTask {
            epoch: 2,
            framework_id: fid(),
            task_id: "web-0001".into(),
        },
    );
    assert_eq!(
        ignored(&outs, "KillTask").len(),
        1,
        "not the detected master"
    );
}

// Mesos `Slave::killTask`: a kill for a task of a framework the agent runs but
// has no executor for (its RunTask was lost) is answered TASK_LOST (TASK_DROPPED
// if partition-aware), reason EXECUTOR_TERMINATED, reliably, from the agent; a
// kill for a framework the agent does not know is ignored.
#[test]
fn a_kill_for_a_task_the_agent_never_got_is_answered_lost() {
    let (mut rig, _) = agent_running_one_task();
    let outs = rig.msg(
        MASTER,
        Message::KillTask {
            epoch: 1,
            framework_id: fid(),
            task_id: "web-0099".into(),
        },
    );
    let updates = status_updates_to(&outs, MASTER);
    assert_eq!(updates.len(), 1);
    assert_eq!(
        (updates[0].state, updates[0].reason, updates[0].source),
        (
            TaskState::Lost,
            Some(Reason::ExecutorTerminated),
            Source::Agent
        )
    );
    assert!(updates[0].uuid.is_some(), "reliable");
    let outs = rig.msg(
        MASTER,
        Message::KillTask {
            epoch: 1,
            framework_id: "e1-F0009".into(),
            task_id: "other-0001".into(),
        },
    );
    assert!(sent_to(&outs, MASTER).is_empty());
}

// Mesos `TaskStatusUpdateStream::update`: an update the framework already
// acknowledged, resent by the executor (the agent's acknowledgement to it was
// lost), is acknowledged again and dropped — also by an agent restarted from
// its checkpoint — never delivered twice.
#[test]
fn an_acknowledged_update_resent_by_the_executor_is_not_delivered_again() {
    let (mut rig, mut outs) = agent_running_one_task();
    outs.extend(rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 1),
    ));
    outs.extend(rig.msg(MASTER, ack(1, "web-0001", 1)));
    let again = rig.msg(
        EXECUTORS,
        executor_update("web-0001", TaskState::Running, 1),
    );
    assert!(sent_to(&again, MASTER).is_empty(), "{again:?}");
    assert_eq!(
        sent_to(&again, EXECUTORS).len(),
        1,
        "acknowledged to the executor again"
    );
    // The same after a restart: the log's Ack record is remembered.
    let mut rig = Rig::new(
        Agent::recover(config("boot-1"), &disk(&outs)),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    rig.start();
    let outs = rig.msg(
        EXECUTORS,
        Message::RegisterExecutorHost {
            tasks: vec![ExecutorTaskReport {
                framework_id: fid(),
                task_id: "web-0001".into(),
                state: TaskState::Running,
            }],
            unacknowledged: vec![match executor_update("web-0001", TaskState::Running, 1) {
                Message::ExecutorStatusUpdate { update } => update,
                _ => unreachable!(),
            }],
        },
    );
    assert!(rig.role.tasks()[&fid()][&TaskId::from("web-0001")]
        .pending_updates
        .is_empty());
    assert!(log_records(&outs, "web-0001").is_empty());
}

// Mesos `Slave::recover` / `Slave::compatible` with `--reconfiguration_policy`:
// a process restart with changed resources fails recovery under `equal` (the
// agent exits); `additive` allows growth and keeps the ID, the new capacity
// unreserved; after a reboot an incompatible change makes a new agent.
#[test]
fn changed_resources_across_a_restart_follow_the_reconfiguration_policy() {
    let (_, outs) = registered_agent();
    let files = disk(&outs);
    let bigger = Resources::new(8000, 8192, 1000);
    let smaller = Resources::new(2000, 8192, 1000);
    let with = |resources, policy, boot: &str| AgentConfig {
        resources,
        reconfiguration_policy: policy,
        ..config(boot)
    };
    // equal: any change fails recovery; the process exits at once.
    let mut rig = Rig::new(
        Agent::recover(with(bigger, ReconfigurationPolicy::Equal, "boot-1"), &files),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    let outs = rig.start();
    let exited = exits(&outs);
    assert_eq!(exited.len(), 1, "{outs:?}");
    assert!(exited[0].contains("incompatible agent info"), "{exited:?}");
    // additive: growth keeps the ID, the added capacity is unreserved.
    let agent = Agent::recover(
        with(bigger, ReconfigurationPolicy::Additive, "boot-1"),
        &files,
    );
    assert_eq!(agent.agent_id(), Some(&AgentId::from("e1-S0001")));
    assert_eq!(agent.resources(), &AgentResources::unreserved(bigger));
    // additive does not allow shrinking.
    let mut rig = Rig::new(
        Agent::recover(
            with(smaller, ReconfigurationPolicy::Additive, "boot-1"),
            &files,
        ),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    assert_eq!(exits(&rig.start()).len(), 1);
    // After a reboot an incompatible change makes a new agent (no ID, no tasks).
    let agent = Agent::recover(
        with(smaller, ReconfigurationPolicy::Equal, "boot-2"),
        &files,
    );
    assert_eq!(agent.agent_id(), None);
    assert!(agent.tasks().is_empty());
    assert_eq!(agent.resources(), &AgentResources::unreserved(smaller));
    // Unchanged resources recover as before.
    let agent = Agent::recover(config("boot-1"), &files);
    assert_eq!(agent.agent_id(), Some(&AgentId::from("e1-S0001")));
}

/// A fresh agent registered with `master-1` whose executor host has not
/// registered yet (it is reconnecting, or being restarted).
fn registered_agent_without_executor_host() -> Rig<Agent> {
    let mut rig = Rig::new(
        Agent::new(config("boot-1")),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    detect_and_register(&mut rig);
    rig.msg(
        MASTER,
        Message::AgentRegistered {
            epoch: 1,
            agent_id: "e1-S0001".into(),
        },
    );
    rig
}

/// The state, reason and source of the newest update queued for `id`.
fn newest_update(rig: &Rig<Agent>, id: &str) -> (TaskState, Option<Reason>, Source) {
    let task = &rig.role.tasks()[&fid()][&TaskId::from(id)];
    let u = task.pending_updates.back().expect("an update is queued");
    (u.state, u.reason, u.source)
}

// Mesos `Slave::runTask` queues a task on an executor that has not registered
// yet (`Executor::queuedTasks`) and `Slave::registerExecutor` hands it over:
// an agent restart alone (its executor host still reconnecting) must not fail
// the next launch. (The reference used to answer TASK_FAILED,
// CONTAINER_LAUNCH_FAILED at once — found by the `losses_explained` checker.)
#[test]
fn a_launch_waits_for_the_executor_host_and_is_handed_over_when_it_registers() {
    let mut rig = registered_agent_without_executor_host();
    let outs = rig.msg(MASTER, run_task(1, "web-0001"));
    assert!(sent_to(&outs, EXECUTORS).is_empty(), "{outs:?}");
    assert!(updates_to(&outs, MASTER).is_empty(), "no update: {outs:?}");
    assert_eq!(
        rig.role.tasks()[&fid()][&TaskId::from("web-0001")].state,
        TaskState::Staging
    );
    assert_eq!(
        timer_at(&outs, &AgentTimer::ExecutorRegistrationTimeout),
        Some(rig.now + Timing::default().executor_registration_timeout_ms)
    );

    let outs = rig.msg(EXECUTORS, executor_host_back(&[]));
    assert!(
        sent_to(&outs, EXECUTORS).contains(&Message::LaunchTask {
            framework_id: fid(),
            task: task_info("web-0001"),
        }),
        "{outs:?}"
    );
    assert!(outs.contains(&Output::CancelTimer {
        timer: AgentTimer::ExecutorRegistrationTimeout
    }));
    // Not taken for a task the agent never forwarded before a restart.
    assert!(updates_to(&outs, MASTER).is_empty(), "{outs:?}");
    assert!(rig.role.tasks()[&fid()][&TaskId::from("web-0001")]
        .pending_updates
        .is_empty());
}

// Mesos `Slave::killTask`: a task queued on an executor that has not
// registered is never launched — TASK_KILLED, REASON_TASK_KILLED_DURING_LAUNCH.
#[test]
fn a_kill_of_a_queued_launch_ends_it_killed_during_launch() {
    let mut rig = registered_agent_without_executor_host();
    rig.msg(MASTER, run_task(1, "web-0001"));
    let outs = rig.msg(
        MASTER,
        Message::KillTask {
            epoch: 1,
            framework_id: fid(),
            task_id: "web-0001".into(),
        },
    );
    assert!(outs.contains(&Output::CancelTimer {
        timer: AgentTimer::ExecutorRegistrationTimeout
    }));
    assert_eq!(
        newest_update(&rig, "web-0001"),
        (
            TaskState::Killed,
            Some(Reason::TaskKilledDuringLaunch),
            Source::Agent
        )
    );
    // The executor host that registers later is not given the task.
    let outs = rig.msg(EXECUTORS, executor_host_back(&[]));
    assert!(!sent_to(&outs, EXECUTORS)
        .iter()
        .any(|m| matches!(m, Message::LaunchTask { .. })));
}

// Mesos `Slave::registerExecutorTimeout`: an executor that does not register
// within `executor_registration_timeout` is destroyed and its queued tasks
// fail — TASK_FAILED, REASON_EXECUTOR_REGISTRATION_TIMEOUT.
#[test]
fn queued_launches_fail_when_the_executor_host_stays_away() {
    let mut rig = registered_agent_without_executor_host();
    rig.msg(MASTER, run_task(1, "web-0001"));
    let due = rig.now + Timing::default().executor_registration_timeout_ms;
    rig.at(due).timer(AgentTimer::ExecutorRegistrationTimeout);
    assert_eq!(
        newest_update(&rig, "web-0001"),
        (
            TaskState::Failed,
            Some(Reason::ExecutorRegistrationTimeout),
            Source::Agent
        )
    );
}
