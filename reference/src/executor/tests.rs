//! Unit tests of the executor host: the role driven by hand, one input at a time.

use super::*;
use crate::io::Output;
use crate::resources::Resources;

// A context at a given simulated time; randomness is not exercised.
fn ctx(now_ms: u64) -> Context {
    Context { now_ms, random: 0 }
}

/// A database that finds a torn record at the end of its volume (power
/// failed mid-append) cuts it off before it appends again; otherwise every
/// later record would be glued to the torn bytes and unreadable at the
/// next recovery, though each was fsynced and acknowledged.
///
/// Catches the planted `AppendAfterTornTail` bug (the defect the
/// reference itself had until `nemesis-storage.toml` found it): with it,
/// the `WriteFileAtomic` of the clean prefix is missing.
#[test]
fn a_database_cuts_a_torn_tail_off_its_volume_before_appending() {
    let mut host = ExecutorHost::new(ExecutorHostConfig {
        name: "executors-1".into(),
        agent: "agent-1".into(),
        bug: None,
    });
    // Registered with the agent: dialed, connected, answered.
    let mut out = Outputs::new();
    host.handle(&ctx(0), Input::Start, &mut out);
    let agent = ProcessId::from("agent-1");
    host.handle(
        &ctx(0),
        Input::Connected {
            peer: agent.clone(),
        },
        &mut out,
    );
    host.handle(
        &ctx(0),
        Input::Message {
            from: agent.clone(),
            message: Message::ExecutorHostRegistered,
        },
        &mut out,
    );
    // A database task on volume `data` of role `db`.
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
    // The launch asks for the volume's content before anything else.
    let path = out
        .as_slice()
        .iter()
        .find_map(|o| match o {
            Output::ReadFile { path } => Some(path.clone()),
            _ => None,
        })
        .expect("the database reads its volume first");
    // The disk answers with two whole records and a torn third, as a
    // power cut in the middle of an append leaves it.
    let mut out = Outputs::new();
    host.handle(
        &ctx(20),
        Input::FileRead {
            path: path.clone(),
            bytes: Some(b"record 1\nrecord 2\nreco".to_vec()),
        },
        &mut out,
    );
    // The repair: the readable prefix is written back atomically.
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
    // The prefix rule itself is tested in `records.rs`.
}

/// Agent recovery: tasks keep running while the agent is away, and updates
/// produced meanwhile are handed over when it re-registers.
///
/// The property Mesos's agent recovery rests on. It would catch a host
/// that sent updates into a dead connection and forgot them (the task's
/// `TASK_FINISHED` would never reach the framework), one that stopped its
/// tasks when the agent went away, and one that reported a finished task
/// as still running when it re-registered.
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
    // Registered, then a task that finishes on its own after 5 s.
    let msg = |message| Input::Message {
        from: agent.clone(),
        message,
    };
    host.handle(&ctx(0), msg(Message::ExecutorHostRegistered), &mut out);
    // (`LaunchTask` produces updates #1 STARTING and #2 RUNNING.)
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
    // The agent process dies: its connection breaks.
    host.handle(
        &ctx(30),
        Input::Disconnected {
            peer: agent.clone(),
        },
        &mut out,
    );
    // The task's time is up while the agent is gone: it finishes anyway.
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
    // Kept instead: only the unacknowledged `TASK_FINISHED` (#3), since
    // #1 and #2 were acknowledged before the agent died.
    assert_eq!(host.unacknowledged().len(), 1);
    assert_eq!(host.unacknowledged()[0].state, TaskState::Finished);
    // The agent is back: the re-registration carries the finished update.
    // Its uuid is the one the host made (#3), so an agent that had
    // already logged it would recognise it as a duplicate.
    // (Its reconnect timer fires first and dials it again.)
    let mut out = Outputs::new();
    host.handle(
        &ctx(6_000),
        Input::Timer(ExecutorTimer::Reconnect),
        &mut out,
    );
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
