//! The trace checkers fire on a trace that breaks their property and stay
//! quiet on one that keeps it (issue 13); the `[expect]` checks likewise.

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

// A relaunch under the same ID reuses the update uuids (`<task>#<n>`):
// the old task's receipt does not count for the new task's update.
#[test]
fn update_delivery_starts_a_new_stream_at_each_launch() {
    let relaunch = vec![
        launched(5),
        queued(10, "web-0001#1", TaskState::Starting),
        received(12, "web-0001#1", TaskState::Starting),
        launched(20),
        queued(30, "web-0001#1", TaskState::Starting),
    ];
    the_violation(
        &check_update_delivery(&relaunch),
        "update_delivery",
        &["agent-1"],
        "queued update web-0001#1 (TASK_STARTING) of F1/web-0001 but the framework never received it",
    );
    let mut delivered = relaunch.clone();
    delivered.push(received(32, "web-0001#1", TaskState::Starting));
    assert_eq!(check_update_delivery(&delivered), []);
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

#[test]
fn update_delivery_fires_on_an_update_never_received_but_not_after_a_wipe() {
    let lost = vec![
        queued(10, "u1", TaskState::Running),
        received(12, "u1", TaskState::Running),
        queued(20, "u2", TaskState::Finished),
    ];
    let violations = check_update_delivery(&lost);
    let v = the_violation(
        &violations,
        "update_delivery",
        &["agent-1"],
        "agent-1 queued update u2 (TASK_FINISHED) of F1/web-0001 but the framework never received it",
    );
    assert_eq!(v.t_ms, 20);

    let mut delivered = lost.clone();
    delivered.push(received(25, "u2", TaskState::Finished));
    assert!(check_update_delivery(&delivered).is_empty());

    // Excused: the agent's disk was wiped after it queued the update (the
    // log went with it), it was shut down, or its framework was removed.
    for excuse in [
        fault(30, "wipe_disk", "agent-1"),
        record(
            30,
            "master-1",
            TraceKind::Send {
                to: "agent-1".into(),
                conn: 1,
                seq: 1,
                message: Message::ShutdownAgent {
                    epoch: 1,
                    message: "refused".into(),
                },
            },
        ),
        event(
            30,
            "master-1",
            Event::FrameworkRemoved {
                framework_id: "F1".into(),
                tasks: 1,
            },
        ),
    ] {
        let mut excused = lost.clone();
        excused.push(excuse);
        assert!(
            check_update_delivery(&excused).is_empty(),
            "{:#?}",
            check_update_delivery(&excused)
        );
    }
    // A wipe *before* the update was queued excuses nothing.
    let mut early_wipe = vec![fault(5, "wipe_disk", "agent-1")];
    early_wipe.extend(lost);
    assert_eq!(check_update_delivery(&early_wipe).len(), 1);
}

#[test]
fn update_delivery_fires_on_updates_first_received_out_of_order() {
    let reordered = vec![
        queued(10, "u1", TaskState::Running),
        queued(11, "u2", TaskState::Finished),
        received(20, "u2", TaskState::Finished),
        received(30, "u1", TaskState::Running),
    ];
    let violations = check_update_delivery(&reordered);
    let v = the_violation(
        &violations,
        "update_delivery",
        &["agent-1"],
        "F1/web-0001: update u2 (TASK_FINISHED) first reached the framework before u1, which agent-1 queued earlier",
    );
    assert_eq!(v.t_ms, 20);

    // In order; a later duplicate of the first update does not matter.
    let in_order = vec![
        queued(10, "u1", TaskState::Running),
        queued(11, "u2", TaskState::Finished),
        received(20, "u1", TaskState::Running),
        received(30, "u2", TaskState::Finished),
        received(40, "u1", TaskState::Running),
    ];
    assert!(check_update_delivery(&in_order).is_empty());
}

fn registered(t_ms: u64, framework_id: &str, scheduler: &str, again: bool) -> TraceRecord {
    let event_ = if again {
        Event::FrameworkReregistered {
            framework_id: framework_id.into(),
            scheduler: scheduler.into(),
            failover: true,
        }
    } else {
        Event::FrameworkRegistered {
            framework_id: framework_id.into(),
            scheduler: scheduler.into(),
        }
    };
    event(t_ms, "master-1", event_)
}

#[test]
fn framework_identity_fires_on_a_second_id_but_not_after_a_removal() {
    let split = vec![
        registered(10, "F1", "scheduler-web-1", false),
        registered(20, "F2", "scheduler-web-2", false),
    ];
    let violations = check_framework_identity(&split);
    let v = the_violation(
        &violations,
        "framework_identity",
        &["master-1", "scheduler-web-2"],
        "master-1 registered scheduler-web-2's framework web as F2, but it is F1 (not removed)",
    );
    assert_eq!(v.t_ms, 20);

    // The standby takes over under the same ID; another framework has its
    // own; once removed, a framework may only come back under a new ID.
    let kept = vec![
        registered(10, "F1", "scheduler-web-1", false),
        registered(15, "F3", "scheduler-batch-1", false),
        registered(20, "F1", "scheduler-web-2", true),
        event(
            30,
            "master-1",
            Event::FrameworkRemoved {
                framework_id: "F1".into(),
                tasks: 0,
            },
        ),
        registered(40, "F2", "scheduler-web-1", false),
    ];
    assert!(check_framework_identity(&kept).is_empty());
}

fn registers(t_ms: u64, scheduler: &str, role: &str) -> TraceRecord {
    record(
        t_ms,
        scheduler,
        TraceKind::Send {
            to: "master-1".into(),
            conn: 1,
            seq: 1,
            message: Message::RegisterFramework {
                info: mesochaos_reference::framework::FrameworkInfo {
                    name: "db".into(),
                    role: role.into(),
                    principal: "db".into(),
                    failover_timeout_ms: 60_000,
                    partition_aware: false,
                    id: None,
                },
            },
        },
    )
}

fn offers(
    t_ms: u64,
    to: &str,
    resources: &[(&str, u64)],
    volume_role: Option<&str>,
) -> TraceRecord {
    use mesochaos_reference::resources::{Resources, RoleResources, Volume};
    let mut pools = RoleResources::default();
    for (role, cpus_milli) in resources {
        pools.add(role, &Resources::new(*cpus_milli, 0, 0));
    }
    record(
        t_ms,
        "master-1",
        TraceKind::Send {
            to: to.into(),
            conn: 2,
            seq: 1,
            message: Message::ResourceOffers {
                epoch: 1,
                offers: vec![mesochaos_reference::messages::Offer {
                    offer_id: "O7".into(),
                    framework_id: "F1".into(),
                    agent_id: "S1".into(),
                    hostname: "agent-1".into(),
                    resources: pools,
                    volumes: volume_role
                        .map(|role| Volume {
                            id: "data-1".into(),
                            role: role.into(),
                            disk_mb: 100,
                        })
                        .into_iter()
                        .collect(),
                }],
            },
        },
    )
}

#[test]
fn reserved_only_to_role_fires_on_another_roles_resources_or_volume_and_not_on_its_own() {
    let own = vec![
        registers(0, "scheduler-db-1", "db"),
        offers(
            10,
            "scheduler-db-1",
            &[("*", 1000), ("db", 500)],
            Some("db"),
        ),
    ];
    let (violations, _) = check_storage(&own);
    assert!(violations.is_empty(), "{violations:#?}");

    for foreign in [
        offers(10, "scheduler-db-1", &[("*", 1000), ("ops", 500)], None),
        offers(10, "scheduler-db-1", &[("*", 1000)], Some("ops")),
    ] {
        let (violations, _) = check_storage(&[registers(0, "scheduler-db-1", "db"), foreign]);
        let v = the_violation(
            &violations,
            "reserved_only_to_role",
            &["scheduler-db-1"],
            "offer O7 to scheduler-db-1 (role db) holds another role's reserved resources or volume",
        );
        assert_eq!(v.t_ms, 10);
    }
}

// ----- the scenario's `[expect]` checks -----

fn update(instance: &str, task: &str, state: TaskState) -> ReceivedUpdate {
    ReceivedUpdate {
        t_ms: 5,
        instance: instance.into(),
        task_id: task.into(),
        state,
        reason: None,
    }
}

/// The violations of `expect` on a run with these outcomes.
fn expectations(
    expect: &Expectations,
    records: &[TraceRecord],
    failover_time_ms: Option<u64>,
    rebuilt: Option<&RebuiltComparison>,
    updates: &[ReceivedUpdate],
    starts: &[(&str, u64)],
) -> Vec<Violation> {
    let mut by_framework: BTreeMap<String, Vec<ReceivedUpdate>> = BTreeMap::new();
    for u in updates {
        let name = framework_of(&u.instance).expect("a scheduler instance");
        by_framework
            .entry(name.to_string())
            .or_default()
            .push(u.clone());
    }
    let starts = starts.iter().map(|(t, n)| (t.to_string(), *n)).collect();
    check_expectations(
        expect,
        records,
        100,
        failover_time_ms,
        rebuilt,
        &by_framework,
        &starts,
    )
}

#[test]
fn task_expectations_fire_on_a_lost_ended_or_restarted_task_and_not_otherwise() {
    let expect = Expectations {
        no_task_lost: true,
        no_task_ended: true,
        no_task_restarted: true,
        ..Expectations::default()
    };
    let fine = [
        update("scheduler-web-1", "web-0001", TaskState::Running),
        update("scheduler-web-2", "web-0002", TaskState::Running),
    ];
    assert!(expectations(&expect, &[], None, None, &fine, &[("web-0001", 1)]).is_empty());

    let lost = expectations(
        &Expectations {
            no_task_lost: true,
            ..Expectations::default()
        },
        &[],
        None,
        None,
        &[update("scheduler-web-2", "web-0002", TaskState::Lost)],
        &[],
    );
    the_violation(
        &lost,
        "no_task_lost",
        &["scheduler-web-2"],
        "scheduler-web-2 received TASK_LOST for web-0002 at 5 ms",
    );
    let ended = expectations(
        &Expectations {
            no_task_ended: true,
            ..Expectations::default()
        },
        &[],
        None,
        None,
        &[update("scheduler-web-1", "web-0001", TaskState::Killed)],
        &[],
    );
    the_violation(
        &ended,
        "no_task_ended",
        &["scheduler-web-1"],
        "scheduler-web-1 received TASK_KILLED for web-0001 at 5 ms",
    );
    let restarted = expectations(
        &expect,
        &[],
        None,
        None,
        &fine,
        &[("web-0001", 1), ("web-0002", 2)],
    );
    the_violation(
        &restarted,
        "no_task_restarted",
        &[],
        "task web-0002 started 2 times",
    );
}

#[test]
fn failover_and_rebuilt_state_expectations_fire_and_hold() {
    use mesochaos_reference::master::RebuiltView;
    let expect = Expectations {
        failover_time_max_ms: Some(15_000),
        rebuilt_state_matches: true,
        ..Expectations::default()
    };
    let view = RebuiltView {
        agents: BTreeMap::new(),
        frameworks: BTreeMap::new(),
    };
    let same = RebuiltComparison {
        before: view.clone(),
        after: Some(view.clone()),
    };
    assert!(expectations(&expect, &[], Some(9_000), Some(&same), &[], &[]).is_empty());

    let slow = expectations(&expect, &[], Some(16_000), Some(&same), &[], &[]);
    the_violation(
        &slow,
        "failover_time",
        &[],
        "failover took 16000 ms, more than 15000 ms",
    );
    let none = expectations(&expect, &[], None, Some(&same), &[], &[]);
    the_violation(
        &none,
        "failover_time",
        &[],
        "no completed master failover was measured",
    );

    let mut rebuilt = view.clone();
    rebuilt.frameworks.insert(
        "F1".into(),
        mesochaos_reference::master::FrameworkView {
            name: "web".into(),
            role: "*".into(),
            principal: "web".into(),
            active: true,
            tasks: BTreeMap::new(),
        },
    );
    let differs = RebuiltComparison {
        before: view.clone(),
        after: Some(rebuilt),
    };
    let v = expectations(&expect, &[], Some(9_000), Some(&differs), &[], &[]);
    the_violation(
        &v,
        "rebuilt_state",
        &[],
        "the new leader's state differs from the old one's",
    );
    let no_leader = RebuiltComparison {
        before: view,
        after: None,
    };
    let v = expectations(&expect, &[], Some(9_000), Some(&no_leader), &[], &[]);
    the_violation(&v, "rebuilt_state", &[], "no leader at the end of the run");
    let v = expectations(&expect, &[], Some(9_000), None, &[], &[]);
    the_violation(
        &v,
        "rebuilt_state",
        &[],
        "no leader failover happened to compare",
    );
}

#[test]
fn refused_operations_checkpoint_and_update_expectations_fire_and_hold() {
    let refusal = event(
        10,
        "master-1",
        Event::OperationRefused {
            framework_id: "F1".into(),
            operation: "RESERVE".into(),
            reason: "not enough unreserved resources".into(),
        },
    );
    let truncated = event(
        10,
        "agent-1",
        Event::CheckpointTruncated {
            path: "meta/updates".into(),
            kept_bytes: 10,
            dropped_bytes: 3,
        },
    );
    let expect = Expectations {
        refused_operations: Some(1),
        checkpoint_truncated: true,
        updates: vec![UpdateExpectation {
            framework: "web".into(),
            state: TaskState::Running,
            reason: None,
            source: None,
            instance: None,
            min: 1,
            max: Some(1),
        }],
        ..Expectations::default()
    };
    let running = [update("scheduler-web-1", "web-0001", TaskState::Running)];
    let records = [refusal.clone(), truncated];
    assert!(expectations(&expect, &records, None, None, &running, &[]).is_empty());

    let v = expectations(
        &expect,
        std::slice::from_ref(&refusal),
        None,
        None,
        &running,
        &[],
    );
    the_violation(
        &v,
        "checkpoint_truncated",
        &[],
        "no recovery truncated a torn checkpoint record",
    );
    let v = expectations(
        &expect,
        &[records[1].clone(), refusal.clone(), refusal],
        None,
        None,
        &running,
        &[],
    );
    the_violation(
        &v,
        "refused_operations",
        &[],
        "the master refused 2 offer operations, expected 1",
    );
    let v = expectations(&expect, &records, None, None, &[], &[]);
    the_violation(
        &v,
        "updates",
        &[],
        "framework web received 0 TASK_RUNNING, expected at least 1",
    );
    let twice = [running[0].clone(), running[0].clone()];
    let v = expectations(&expect, &records, None, None, &twice, &[]);
    the_violation(
        &v,
        "updates",
        &[],
        "framework web received 2 TASK_RUNNING, expected at most 1",
    );
}
