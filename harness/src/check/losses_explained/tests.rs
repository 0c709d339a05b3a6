//! Hand-built traces for each explanation rule: the fault long enough, and one
//! tick (or one condition) short, where the checker fires.

use super::world::{cut_pairs, Spans};
use super::*;
use mesochaos_reference::task_state::Source;
use mesochaos_reference::ProcessId;

fn rec(t_ms: u64, at: &str, kind: TraceKind) -> TraceRecord {
    TraceRecord {
        t_ms,
        at: ProcessId::from(at),
        kind,
    }
}

fn fault(t_ms: u64, fault: &str, detail: &str) -> TraceRecord {
    rec(
        t_ms,
        "harness",
        TraceKind::Fault {
            fault: fault.into(),
            detail: detail.into(),
        },
    )
}

fn event(t_ms: u64, at: &str, event: Event) -> TraceRecord {
    rec(t_ms, at, TraceKind::Event { event })
}

fn started(t_ms: u64, at: &str) -> TraceRecord {
    rec(
        t_ms,
        at,
        TraceKind::Process {
            what: "started".into(),
            incarnation: 1,
            why: None,
        },
    )
}

/// agent-1 registered as `S1` with master-1, which leads; framework `web`
/// (ID `F1`) launched `web-1` on it at 1 s and heard it running.
fn cluster() -> Vec<TraceRecord> {
    vec![
        started(0, "master-1"),
        started(0, "agent-1"),
        started(0, "executors-1"),
        started(0, "scheduler-web-1"),
        event(
            100,
            "agent-1",
            Event::LeaderDetected {
                leader: Some("master-1".into()),
                epoch: Some(1),
            },
        ),
        event(
            200,
            "agent-1",
            Event::AgentRegisteredWith {
                master: "master-1".into(),
                epoch: 1,
                agent_id: "S1".into(),
                reregistered: false,
            },
        ),
        event(
            300,
            "scheduler-web-1",
            Event::SchedulerRegistered {
                framework_id: "F1".into(),
                master: "master-1".into(),
                epoch: 1,
                reregistered: false,
            },
        ),
        event(
            1_000,
            "master-1",
            Event::TaskLaunched {
                framework_id: "F1".into(),
                task_id: "web-1".into(),
                agent_id: "S1".into(),
            },
        ),
        heard(1_100, TaskState::Running, None),
    ]
}

fn heard(t_ms: u64, state: TaskState, reason: Option<Reason>) -> TraceRecord {
    event(
        t_ms,
        "scheduler-web-1",
        Event::UpdateReceived {
            framework_id: "F1".into(),
            task_id: "web-1".into(),
            state,
            reason,
            source: Source::Agent,
            latest_state: Some(state),
            uuid: None,
        },
    )
}

fn check(records: &[TraceRecord]) -> Vec<Violation> {
    check_losses_explained(records, &Timeouts::default())
}

fn total_ping() -> u64 {
    Timing::default().agent_total_ping_timeout_ms()
}

/// agent-1 isolated from `cut_at` until after the removal at `removed_at`,
/// which the master marks unreachable; the framework hears the loss.
fn removed_after_cut(cut_at: u64, removed_at: u64) -> Vec<TraceRecord> {
    let mut records = cluster();
    records.push(fault(
        cut_at,
        "partition",
        "agent-1 | master-1,scheduler-web-1,executors-1",
    ));
    records.push(event(
        removed_at,
        "master-1",
        Event::AgentUnreachable {
            agent_id: "S1".into(),
        },
    ));
    records.push(heard(
        removed_at + 10,
        TaskState::Unreachable,
        Some(Reason::AgentRemoved),
    ));
    records.push(fault(removed_at + 5_000, "heal", "all partitions"));
    records
}

// Rule A (`Master::markUnreachable` after the pings): a cut that spans
// agent_ping_timeout × max_agent_ping_timeouts (less the slack at each
// edge) explains the removal; one tick shorter does not.
#[test]
fn a_removal_needs_the_agent_cut_off_for_the_whole_ping_cycle() {
    let removed_at = 100_000;
    let just_long_enough = removed_at - total_ping() + SLACK_MS;
    assert_eq!(check(&removed_after_cut(just_long_enough, removed_at)), []);

    let one_tick_short = just_long_enough + crate::TICK_MS;
    let violations = check(&removed_after_cut(one_tick_short, removed_at));
    assert_eq!(violations.len(), 1, "{violations:?}");
    let v = &violations[0];
    assert_eq!(v.checker, "losses_explained");
    assert_eq!(v.t_ms, removed_at);
    assert!(v.message.contains("marked agent S1 unreachable"), "{v:?}");
    assert!(v.message.contains("agent_ping_timeout"), "{v:?}");
    // The task update itself rests on the removal, which is reported once.
}

// A pause of the agent process counts as a cut; so does a crash, until it
// detects the leader again after its restart.
#[test]
fn a_paused_or_dead_agent_explains_a_removal() {
    let removed_at = 100_000;
    let from = removed_at - total_ping();
    let mut paused = cluster();
    paused.push(fault(from, "pause", "agent-1"));
    paused.push(event(
        removed_at,
        "master-1",
        Event::AgentUnreachable {
            agent_id: "S1".into(),
        },
    ));
    assert_eq!(check(&paused), []);

    let mut crashed = cluster();
    crashed.push(fault(from, "crash", "agent-1"));
    crashed.push(started(from + 20_000, "agent-1"));
    crashed.push(event(
        removed_at,
        "master-1",
        Event::AgentUnreachable {
            agent_id: "S1".into(),
        },
    ));
    assert_eq!(check(&crashed), [], "it never detected the leader again");

    // Back and detecting master-1 well before: not explained.
    crashed.insert(
        crashed.len() - 1,
        event(
            from + 21_000,
            "agent-1",
            Event::LeaderDetected {
                leader: Some("master-1".into()),
                epoch: Some(1),
            },
        ),
    );
    assert_eq!(check(&crashed).len(), 1);
}

// A ping sent into a powered-off machine is lost, not held: the agent that
// comes back misses it, and the master hears nothing until the next ping one
// `agent_ping_timeout` later. So a power-off that ends up to one ping
// interval before the removal's window closes still explains it; a cut of the
// same length does not (TCP holds the ping and delivers it on the heal), and
// neither does a power-off that ends a tick earlier than that interval.
#[test]
fn a_ping_lost_to_a_power_off_explains_a_removal_a_cut_does_not() {
    let removed_at = 100_000;
    let ping = Timing::default().agent_ping_timeout_ms;
    let from = removed_at - total_ping();
    let back = removed_at - SLACK_MS - ping; // the last moment that still explains it
    let with = |fault_kind: &str, heal_kind: &str, end: u64| {
        let mut records = cluster();
        records.push(fault(from, fault_kind, "agent-1"));
        records.push(fault(end, heal_kind, "agent-1"));
        // It boots at once and finds the leader.
        records.push(started(end, "agent-1"));
        records.push(event(
            end,
            "agent-1",
            Event::LeaderDetected {
                leader: Some("master-1".into()),
                epoch: Some(1),
            },
        ));
        records.push(event(
            removed_at,
            "master-1",
            Event::AgentUnreachable {
                agent_id: "S1".into(),
            },
        ));
        records
    };
    assert_eq!(check(&with("power_off", "power_on", back)), []);
    assert_eq!(
        check(&with("power_off", "power_on", back - crate::TICK_MS)).len(),
        1,
        "back a tick earlier: the next ping would have reached it"
    );
    let mut cut = cluster();
    cut.push(fault(
        from,
        "partition",
        "agent-1 | master-1,scheduler-web-1,executors-1",
    ));
    cut.push(fault(back, "heal", "all partitions"));
    cut.push(event(
        removed_at,
        "master-1",
        Event::AgentUnreachable {
            agent_id: "S1".into(),
        },
    ));
    assert_eq!(check(&cut).len(), 1, "a cut holds the ping: no extension");
}

// A ping held in a cut is delivered when the cut heals — unless one end gave
// up on the connection first (the agent's own ping timeout), and then it never
// arrives: a ping sent and never delivered counts as lost for one ping
// interval after it was sent. A cut that heals a ping interval before the
// removal therefore explains it when its last ping was lost, not when that
// ping arrived (and went unanswered: the agent's or the master's fault).
#[test]
fn a_ping_that_never_arrives_explains_the_last_interval() {
    let removed_at = 100_000;
    let ping = Timing::default().agent_ping_timeout_ms;
    let healed = removed_at - SLACK_MS - ping;
    let last_ping = healed; // sent the moment before the heal
    let run = |delivered: bool| {
        let mut records = removed_after_cut(removed_at - total_ping(), removed_at);
        // The heal moves to `healed`, before the removal.
        records.retain(|r| !matches!(&r.kind, TraceKind::Fault { fault, .. } if fault == "heal"));
        records.push(rec(
            last_ping,
            "master-1",
            TraceKind::Send {
                to: "agent-1".into(),
                conn: 1,
                seq: 7,
                message: Message::Ping { epoch: 1 },
            },
        ));
        records.push(fault(healed, "heal", "all partitions"));
        if delivered {
            records.push(rec(
                healed + 10,
                "agent-1",
                TraceKind::Deliver {
                    from: "master-1".into(),
                    conn: 1,
                    seq: 7,
                },
            ));
        }
        records.sort_by_key(|r| r.t_ms);
        records
    };
    assert_eq!(check(&run(false)), [], "the last ping was lost");
    let violations = check(&run(true));
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0]
        .message
        .contains("marked agent S1 unreachable"));
}

// An agent-process restart alone loses nothing: `TASK_LOST`,
// `EXECUTOR_REREGISTRATION_TIMEOUT` needs the executor host to have died
// (`Slave::reregisterExecutorTimeout`) — the planted bug
// `restart-gives-up-executors` in one record.
#[test]
fn an_agent_restart_alone_does_not_explain_a_lost_task() {
    let mut restart_only = cluster();
    restart_only.push(fault(50_000, "crash", "agent-1"));
    restart_only.push(started(55_000, "agent-1"));
    restart_only.push(heard(
        57_000,
        TaskState::Lost,
        Some(Reason::ExecutorReregistrationTimeout),
    ));
    let violations = check(&restart_only);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0]
        .message
        .contains("heard F1/web-1 TASK_LOST (EXECUTOR_REREGISTRATION_TIMEOUT)"));
    assert_eq!(violations[0].processes, ["scheduler-web-1"]);

    let mut executor_died = restart_only.clone();
    executor_died.insert(
        executor_died.len() - 1,
        fault(52_000, "crash", "executors-1"),
    );
    assert_eq!(check(&executor_died), []);
}

#[test]
fn a_loss_without_a_reason_and_agent_restarted_after_the_start_are_flagged() {
    let mut records = cluster();
    records.push(heard(5_000, TaskState::Lost, None));
    assert_eq!(check(&records).len(), 1);

    let mut records = cluster();
    records.push(fault(2_000, "crash", "agent-1"));
    records.push(heard(5_000, TaskState::Lost, Some(Reason::AgentRestarted)));
    let v = check(&records);
    assert_eq!(v.len(), 1, "the task had started: {v:?}");
    assert!(v[0].message.contains("was not staging"));
}

// The framework's own calls explain their answers.
#[test]
fn answers_to_the_frameworks_calls_are_explained() {
    let mut records = cluster();
    records.push(heard(5_000, TaskState::Lost, Some(Reason::Reconciliation)));
    records.push(heard(6_000, TaskState::Error, Some(Reason::TaskInvalid)));
    records.push(heard(
        7_000,
        TaskState::Dropped,
        Some(Reason::InvalidOffers),
    ));
    assert_eq!(check(&records), []);
}

/// `agent-1` registers afresh as `S2` at 60 s (after `extra` faults) and the
/// master removes `S1`, telling the framework `AGENT_REMOVED`.
fn came_back_as_new_agent(extra: Vec<TraceRecord>) -> Vec<TraceRecord> {
    let mut records = cluster();
    records.extend(extra);
    records.push(event(
        60_000,
        "agent-1",
        Event::AgentRegisteredWith {
            master: "master-1".into(),
            epoch: 1,
            agent_id: "S2".into(),
            reregistered: false,
        },
    ));
    records.push(heard(60_100, TaskState::Lost, Some(Reason::AgentRemoved)));
    records
}

// Mesos `Master::registerSlave`: a machine that lost its checkpoint comes
// back as a new agent and the old ID is removed — explained by the wipe,
// not by a plain reboot (the agent keeps its ID across reboots, 1.4+).
#[test]
fn a_new_agent_id_is_explained_only_by_a_lost_identity() {
    let wiped = came_back_as_new_agent(vec![
        fault(40_000, "power_off", "agent-1"),
        fault(40_000, "wipe_disk", "agent-1"),
        fault(50_000, "power_on", "agent-1"),
    ]);
    assert_eq!(check(&wiped), []);

    let rebooted = came_back_as_new_agent(vec![
        fault(40_000, "power_off", "agent-1"),
        fault(50_000, "power_on", "agent-1"),
    ]);
    let v = check(&rebooted);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].message.contains("agent S1 was not removed"), "{v:?}");
}

fn removed_framework(extra: Vec<TraceRecord>, removed_at: u64) -> Vec<TraceRecord> {
    let mut records = cluster();
    records.extend(extra);
    records.push(event(
        removed_at,
        "master-1",
        Event::FrameworkRemoved {
            framework_id: "F1".into(),
            tasks: 1,
        },
    ));
    records
}

// `Master::frameworkFailoverTimeout`: removal only after the framework
// was disconnected for its whole failover_timeout with no instance able
// to come back; `Master::teardown` on its own call.
#[test]
fn a_framework_removal_needs_its_failover_timeout_or_its_teardown() {
    // Longer than the allowance an instance gets to come back.
    let failover = 200_000;
    let timeouts = Timeouts {
        failover_ms: [("web".to_string(), failover)].into(),
        ..Timeouts::default()
    };
    let deactivated = |t| {
        event(
            t,
            "master-1",
            Event::FrameworkDeactivated {
                framework_id: "F1".into(),
            },
        )
    };
    let crashed = vec![
        fault(9_990, "crash", "scheduler-web-1"),
        deactivated(10_000),
    ];
    let ok = removed_framework(crashed.clone(), 10_000 + failover);
    assert_eq!(check_losses_explained(&ok, &timeouts), []);

    let early = removed_framework(crashed, 10_000 + failover - 1_000);
    let v = check_losses_explained(&early, &timeouts);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].message.contains("before its failover_timeout"),
        "{v:?}"
    );

    // Deactivated, but its scheduler was up and reachable all along.
    let healthy = removed_framework(vec![deactivated(10_000)], 10_000 + failover);
    let v = check_losses_explained(&healthy, &timeouts);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].message.contains("could reach master-1"), "{v:?}");

    let torn_down = removed_framework(
        vec![rec(
            5_000,
            "scheduler-web-1",
            TraceKind::Send {
                to: "master-1".into(),
                conn: 1,
                seq: 9,
                message: Message::Teardown {
                    framework_id: "F1".into(),
                },
            },
        )],
        5_050,
    );
    assert_eq!(check_losses_explained(&torn_down, &timeouts), []);
}

#[test]
fn spans_cover_merge_and_measure_gaps() {
    let mut s = Spans::default();
    s.push(10, 20);
    s.push(21, 30);
    s.push(50, 60);
    assert!(s.covers(12, 30));
    assert!(!s.covers(12, 31));
    assert_eq!(s.longest_gap(0, 100), 40);
    assert_eq!(s.longest_gap(10, 60), 20);
}

#[test]
fn ring_cuts_match_the_clusters_ring() {
    let pairs = cut_pairs("ring", "a,b,c,d,e");
    // Five machines: each keeps one neighbour on each side.
    assert_eq!(pairs.len(), 5);
    assert!(pairs.contains(&("a".into(), "c".into())));
    assert!(!pairs.contains(&("a".into(), "b".into())));
}
