//! The trace checkers fire on a trace that breaks their property and stay
//! quiet on one that keeps it (issue 13); the `[expect]` checks likewise
//! (`expectations.rs`).

use super::*;
use crate::names::framework_of;
use crate::report::{RebuiltComparison, ReceivedUpdate, Violation};
use crate::script::{Expectations, UpdateExpectation};
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::{Event, Message, ProcessId, Reason, TaskState};

fn record(t_ms: u64, at: &str, kind: TraceKind) -> TraceRecord {
    TraceRecord {
        t_ms,
        at: ProcessId::new(at),
        kind,
    }
}

fn acked(t_ms: u64, record_no: u64) -> TraceRecord {
    record(
        t_ms,
        "executors-1",
        TraceKind::Event {
            event: Event::DbRecordAcked {
                task_id: "db-0001".into(),
                volume: "volumes/db/data-1/data".into(),
                record: record_no,
                latency_ms: 2,
            },
        },
    )
}

fn recovered(t_ms: u64, last: u64) -> TraceRecord {
    record(
        t_ms,
        "executors-1",
        TraceKind::Event {
            event: Event::DbRecovered {
                task_id: "db-0002".into(),
                volume: "volumes/db/data-1/data".into(),
                records: last,
                last,
            },
        },
    )
}

// acked_data_kept fires when a database recovers fewer records than were
// acknowledged on that machine, but not after the volume was destroyed
// (Mesos deletes a destroyed volume's data) and created again.
#[test]
fn acked_data_kept_fires_on_loss_but_not_after_a_destroy() {
    let lost = vec![acked(10, 5), recovered(20, 3)];
    let (violations, lost_total) = check_storage(&lost);
    the_violation(
        &violations,
        "acked_data_kept",
        &["executors-1"],
        "db-0002 found records up to 3 on volumes/db/data-1/data of agent-1, but up to 5 were acknowledged",
    );
    assert_eq!(lost_total, 2);

    let destroyed = vec![
        acked(10, 5),
        record(
            15,
            "agent-1",
            TraceKind::Disk {
                machine: "agent-1".into(),
                op: "remove".into(),
                path: "volumes/db/data-1/data".into(),
                bytes: 0,
            },
        ),
        recovered(20, 0),
    ];
    let (violations, lost_total) = check_storage(&destroyed);
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(lost_total, 0);
}

// ----- every checker fires on a trace that breaks its property, and stays
// quiet on one that keeps it (issue 13) -----

fn event(t_ms: u64, at: &str, event: Event) -> TraceRecord {
    record(t_ms, at, TraceKind::Event { event })
}

fn fault(t_ms: u64, fault: &str, detail: &str) -> TraceRecord {
    record(
        t_ms,
        "harness",
        TraceKind::Fault {
            fault: fault.into(),
            detail: detail.into(),
        },
    )
}

/// The one violation `violations` holds, asserting its checker, processes
/// and that its message says `text`.
fn the_violation<'a>(
    violations: &'a [Violation],
    checker: &str,
    processes: &[&str],
    text: &str,
) -> &'a Violation {
    assert_eq!(violations.len(), 1, "{violations:#?}");
    let v = &violations[0];
    assert_eq!(v.checker, checker, "{v:#?}");
    assert_eq!(v.processes, processes, "{v:#?}");
    assert!(v.message.contains(text), "{:?} lacks {text:?}", v.message);
    v
}

fn candidacy(t_ms: u64, seq: u64, owner: &str) -> TraceRecord {
    event(
        t_ms,
        "coordinator",
        Event::NodeCreated {
            path: format!(
                "{}{seq:010}",
                mesochaos_reference::detector::CANDIDATE_PREFIX
            ),
            owner: owner.into(),
        },
    )
}

fn accepted(t_ms: u64, master: &str, epoch: u64) -> TraceRecord {
    event(
        t_ms,
        "agent-1",
        Event::AgentAcceptedCommand {
            master: master.into(),
            epoch,
            kind: "RunTask".into(),
        },
    )
}

#[test]
fn epoch_order_fires_on_a_command_of_an_older_epoch_and_not_of_the_current_one() {
    let deposed = |seq: u64| {
        event(
            20,
            "coordinator",
            Event::NodeDeleted {
                path: format!(
                    "{}{seq:010}",
                    mesochaos_reference::detector::CANDIDATE_PREFIX
                ),
            },
        )
    };
    // Epoch 1 leads, then its candidacy dies and epoch 2 is current.
    let base = vec![
        candidacy(0, 1, "master-1"),
        candidacy(1, 2, "master-2"),
        accepted(10, "master-1", 1),
        deposed(1),
        accepted(30, "master-2", 2),
    ];
    assert!(check_trace(&base).is_empty(), "{:#?}", check_trace(&base));

    let mut stale = base.clone();
    stale.push(accepted(40, "master-1", 1));
    let violations = check_trace(&stale);
    let v = the_violation(
        &violations,
        "epoch_order",
        &["agent-1", "master-1"],
        "agent-1 accepted RunTask from master-1 of epoch 1 while epoch 2 is current",
    );
    assert_eq!(v.t_ms, 40);
}

fn started(t_ms: u64, host: &str) -> TraceRecord {
    event(
        t_ms,
        host,
        Event::TaskStarted {
            framework_id: "F1".into(),
            task_id: "web-0001".into(),
        },
    )
}

fn exited(t_ms: u64, host: &str) -> TraceRecord {
    event(
        t_ms,
        host,
        Event::TaskExited {
            framework_id: "F1".into(),
            task_id: "web-0001".into(),
            state: TaskState::Failed,
        },
    )
}

#[test]
fn one_copy_at_a_time_fires_on_a_second_copy_and_not_after_the_first_ended() {
    let twice = vec![started(10, "executors-1"), started(20, "executors-2")];
    let violations = check_trace(&twice);
    let v = the_violation(
        &violations,
        "one_copy_at_a_time",
        &["executors-2", "executors-1"],
        "task F1/web-0001 started on executors-2 while a copy runs on executors-1",
    );
    assert_eq!(v.t_ms, 20);

    // The first copy ended: it exited, its executor host was killed, or
    // its machine lost power.
    for end in [
        exited(15, "executors-1"),
        fault(15, "crash", "executors-1"),
        fault(15, "power_off", "agent-1"),
        record(
            15,
            "executors-1",
            TraceKind::Process {
                what: "exited".into(),
                incarnation: 1,
                why: None,
            },
        ),
    ] {
        let once = vec![started(10, "executors-1"), end, started(20, "executors-2")];
        assert!(check_trace(&once).is_empty(), "{:#?}", check_trace(&once));
    }
}

fn heard(t_ms: u64, state: TaskState, latest: Option<TaskState>) -> TraceRecord {
    heard_with(t_ms, state, None, latest)
}

fn heard_with(
    t_ms: u64,
    state: TaskState,
    reason: Option<Reason>,
    latest_state: Option<TaskState>,
) -> TraceRecord {
    event(
        t_ms,
        "scheduler-web-1",
        Event::UpdateReceived {
            framework_id: "F1".into(),
            task_id: "web-0001".into(),
            state,
            reason,
            source: mesochaos_reference::Source::Master,
            latest_state,
            uuid: None,
        },
    )
}

#[test]
fn definite_is_final_fires_on_an_active_state_after_a_definite_one_but_not_on_a_replay() {
    let revived = vec![
        heard(10, TaskState::Running, None),
        heard(20, TaskState::Finished, None),
        heard(30, TaskState::Running, None),
    ];
    let violations = check_trace(&revived);
    let v = the_violation(
        &violations,
        "definite_is_final",
        &["scheduler-web-1"],
        "scheduler-web-1 heard F1/web-0001 is TASK_RUNNING after the definite TASK_FINISHED",
    );
    assert_eq!(v.t_ms, 30);

    // A task that went on after a *different* terminal state is not a replay.
    let other_end = vec![
        heard(20, TaskState::Finished, None),
        heard(30, TaskState::Running, Some(TaskState::Failed)),
    ];
    assert_eq!(check_trace(&other_end).len(), 1);

    // Allowed: a retried older update of the task that ended as already
    // heard; the master's word about an agent it does not know; an
    // indefinite terminal state (TASK_LOST) followed by the task running.
    let allowed = vec![
        heard(20, TaskState::Finished, None),
        heard(30, TaskState::Running, Some(TaskState::Finished)),
        heard_with(40, TaskState::Unreachable, Some(Reason::AgentRemoved), None),
        heard_with(50, TaskState::Unknown, Some(Reason::Reconciliation), None),
    ];
    assert!(
        check_trace(&allowed).is_empty(),
        "{:#?}",
        check_trace(&allowed)
    );
    let lost_then_running = vec![
        heard(20, TaskState::Lost, None),
        heard(30, TaskState::Running, None),
    ];
    assert!(check_trace(&lost_then_running).is_empty());
}

fn launched(t_ms: u64) -> TraceRecord {
    event(
        t_ms,
        "master-1",
        Event::TaskLaunched {
            framework_id: "F1".into(),
            task_id: "web-0001".into(),
            agent_id: "S1".into(),
        },
    )
}

// Mesos `validateUniqueTaskID` accepts the ID of a task whose terminal
// update was acknowledged: the relaunch is a new task, not the old one
// coming back; a refused reuse (TASK_ERROR, TASK_INVALID, from the
// master) ends the attempt, not the task that holds the ID.
#[test]
fn definite_is_final_knows_a_task_by_its_launch() {
    let relaunched = vec![
        launched(5),
        heard(20, TaskState::Finished, None),
        launched(25),
        heard(30, TaskState::Running, None),
    ];
    assert_eq!(check_trace(&relaunched), []);
    // Without the launch in between, the same news is a violation.
    let came_back = vec![
        launched(5),
        heard(20, TaskState::Finished, None),
        heard(30, TaskState::Running, None),
    ];
    the_violation(
        &check_trace(&came_back),
        "definite_is_final",
        &["scheduler-web-1"],
        "TASK_RUNNING after the definite TASK_FINISHED",
    );
    let refused_reuse = vec![
        launched(5),
        heard_with(20, TaskState::Error, Some(Reason::TaskInvalid), None),
        heard(30, TaskState::Running, None),
    ];
    assert_eq!(check_trace(&refused_reuse), []);
}

// Mesos `Master::reconcile` answers with the status-update state, which
// lags behind what an agent re-registered with until its stream delivers
// the terminal update: an older active answer in that window is allowed,
// and only in it.
#[test]
fn definite_is_final_allows_a_lagging_answer_after_agent_reregistered_only() {
    let announced = heard_with(
        20,
        TaskState::Finished,
        Some(Reason::AgentReregistered),
        None,
    );
    let lagging = heard_with(30, TaskState::Running, Some(Reason::Reconciliation), None);
    let stream_end = received(40, "web-0001#3", TaskState::Finished);
    let window = vec![announced.clone(), lagging.clone(), stream_end.clone()];
    assert_eq!(check_trace(&window), []);
    // After the stream delivered the terminal update, the same answer is
    // a task coming back.
    let after = vec![announced, stream_end, lagging];
    the_violation(
        &check_trace(&after),
        "definite_is_final",
        &["scheduler-web-1"],
        "TASK_RUNNING after the definite TASK_FINISHED",
    );
}

fn queued(t_ms: u64, uuid: &str, state: TaskState) -> TraceRecord {
    event(
        t_ms,
        "agent-1",
        Event::UpdateQueued {
            framework_id: "F1".into(),
            task_id: "web-0001".into(),
            uuid: uuid.into(),
            state,
        },
    )
}

fn received(t_ms: u64, uuid: &str, state: TaskState) -> TraceRecord {
    event(
        t_ms,
        "scheduler-web-1",
        Event::UpdateReceived {
            framework_id: "F1".into(),
            task_id: "web-0001".into(),
            state,
            reason: None,
            source: mesochaos_reference::Source::Executor,
            latest_state: None,
            uuid: Some(uuid.into()),
        },
    )
}

mod expectations;
mod streams;
