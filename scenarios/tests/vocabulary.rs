//! The scenario vocabulary of Apache Mesos's own tests (issue 12, part 3):
//! message filters (`drop`, `hold`, `release`), injected messages (`inject`),
//! reconciliation questions naming an agent, `teardown`, step labels, timing
//! expectations (`[[expect.timing]]`) and expectations over the final leader's
//! state (`[expect.leader]`, `source` and `instance` in `[[expect.updates]]`).
//!
//! Each fixture under `tests/fixtures/vocab/` passes as written; each test also
//! runs a variant that breaks what the fixture asserts and checks the run fails
//! (`mesochaos run` exits 1) with a violation naming the expectation — and
//! asserts the observable outcomes in the trace, not just the verdict.

mod common;
use common::{assert_pass, scenario, variant};
use mesochaos_harness::run::{RunReport, Step, Violation};
use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_harness::{run_recorded, RunOptions, Verdict};
use mesochaos_reference::io::Command;
use mesochaos_reference::messages::ReconcileTask;
use mesochaos_reference::{AgentId, Event, Message, Reason, Source, TaskId, TaskState};
use mesochaos_scenarios::parse;
use std::path::{Path, PathBuf};

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/fixtures/vocab/{name}.toml"))
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).expect("the fixture exists")
}

fn run(source: &str) -> (RunReport, Vec<TraceRecord>) {
    let s = scenario(source);
    run_recorded(&s.spec, s.seed, RunOptions::default())
}

/// The run failed, and these are its violations.
fn failed(report: &RunReport) -> &[Violation] {
    assert_eq!(report.verdict, Verdict::Fail, "the run fails (exit 1)");
    &report.violations
}

fn has(violations: &[Violation], checker: &str, text: &str) -> bool {
    violations
        .iter()
        .any(|v| v.checker == checker && v.message.contains(text))
}

/// The time step `n` (1-based) began, from its marker in the trace.
fn step_time(records: &[TraceRecord], n: usize) -> u64 {
    let marker = format!("{n}: ");
    records
        .iter()
        .find_map(|r| match &r.kind {
            TraceKind::Fault { fault, detail }
                if fault == "step" && detail.starts_with(&marker) =>
            {
                Some(r.t_ms)
            }
            _ => None,
        })
        .expect("the step ran")
}

/// `(time, what, conn, seq)` of the filter records at `at` for `kind`.
fn filter_records(records: &[TraceRecord], at: &str, kind: &str) -> Vec<(u64, String, u64, u64)> {
    records
        .iter()
        .filter(|r| r.at.as_str() == at)
        .filter_map(|r| match &r.kind {
            TraceKind::Filter {
                conn,
                seq,
                kind: k,
                what,
                ..
            } if k == kind => Some((r.t_ms, what.clone(), *conn, *seq)),
            _ => None,
        })
        .collect()
}

fn events(records: &[TraceRecord]) -> impl Iterator<Item = (u64, &str, &Event)> {
    records.iter().filter_map(|r| match &r.kind {
        TraceKind::Event { event } => Some((r.t_ms, r.at.as_str(), event)),
        _ => None,
    })
}

/// Times at which `at` acted on a command of `kind`.
fn accepted(records: &[TraceRecord], at: &str, kind: &str) -> Vec<u64> {
    events(records)
        .filter(|(_, a, e)| {
            *a == at && matches!(e, Event::AgentAcceptedCommand { kind: k, .. } if k == kind)
        })
        .map(|(t, ..)| t)
        .collect()
}

/// Connections closed between two processes (at either end).
fn closed_between(records: &[TraceRecord], a: &str, b: &str) -> usize {
    records
        .iter()
        .filter(|r| match &r.kind {
            TraceKind::Conn { peer, what, .. } if what == "closed" => {
                (r.at.as_str() == a && peer.as_str() == b)
                    || (r.at.as_str() == b && peer.as_str() == a)
            }
            _ => false,
        })
        .count()
}

// ----- hold and release -----

#[test]
fn a_held_kill_reaches_the_agent_only_when_released() {
    let (report, records) = run(&fixture("hold-kill"));
    assert_pass(&report);
    let (kill, release) = (step_time(&records, 3), step_time(&records, 5));
    let filtered = filter_records(&records, "agent-1", "KillTask");
    assert_eq!(filtered.len(), 2, "held once, released once: {filtered:?}");
    let (held_at, ref what, conn, seq) = filtered[0];
    assert_eq!(what, "held");
    assert!(
        kill <= held_at && held_at < kill + 1_000,
        "held at {held_at}"
    );
    assert_eq!(filtered[1], (release, "released".into(), conn, seq));
    // The released message is then delivered on its connection, as it was.
    let released = records
        .iter()
        .position(|r| matches!(&r.kind, TraceKind::Filter { what, .. } if what == "released"))
        .unwrap();
    assert!(matches!(
        &records[released + 1].kind,
        TraceKind::Deliver { from, conn: c, seq: s } if from.as_str() == "master-1" && *c == conn && *s == seq
    ));
    // The agent acts on it only then; the task dies and the framework hears it.
    assert_eq!(accepted(&records, "agent-1", "KillTask"), vec![release]);
    let exited = events(&records)
        .find_map(|(t, _, e)| match e {
            Event::TaskExited { task_id, state, .. } if task_id.as_str() == "web-0001" => {
                Some((t, *state))
            }
            _ => None,
        })
        .unwrap();
    assert!(
        exited.0 >= release && exited.1 == TaskState::Killed,
        "{exited:?}"
    );
    let heard = report.framework_updates["web"]
        .iter()
        .find(|u| u.state == TaskState::Killed)
        .unwrap();
    assert!(heard.t_ms >= kill + 5_000);
    // The connection stayed up throughout.
    assert_eq!(closed_between(&records, "master-1", "agent-1"), 0);
}

#[test]
fn without_the_hold_the_kill_is_prompt_and_both_timing_expectations_fail() {
    let source = variant(
        &fixture("hold-kill"),
        &[
            (
                "hold = { kind = \"KillTask\", from = \"leader\", to = \"agent-1\" }",
                "sleep = \"0s\"",
            ),
            (
                "release = { kind = \"KillTask\", from = \"leader\", to = \"agent-1\" }",
                "sleep = \"0s\"",
            ),
        ],
    );
    let (report, records) = run(&source);
    let v = failed(&report);
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(has(
        v,
        "timing",
        "the kill waits for the release (update: web hears TASK_KILLED for web-0001): it happened at"
    ));
    assert!(has(v, "timing", "earlier than not_before = 5s"));
    assert!(has(v, "timing", "no KillTask acted on while held"));
    assert!(filter_records(&records, "agent-1", "KillTask").is_empty());
    let kill = step_time(&records, 3);
    assert!(accepted(&records, "agent-1", "KillTask")[0] < kill + 1_000);
}

#[test]
fn held_messages_are_released_in_the_order_they_arrived() {
    let source = r#"
        duration = "60s"
        [cluster]
        masters = 1
        agents = 1
        [[framework]]
        name = "web"
        tasks = 3
        task_resources = { cpus = 0.5, mem = "512MB" }
        [[step]]
        hold = { kind = "StatusUpdate", from = "agent-1", to = "leader" }
        [[step]]
        sleep = "3s"
        [[step]]
        release = "all"
        [[step]]
        wait = "converged"
        within = "30s"
    "#;
    let (report, records) = run(source);
    assert_pass(&report);
    let filtered = filter_records(&records, "master-1", "StatusUpdate");
    let held: Vec<_> = filtered.iter().filter(|f| f.1 == "held").collect();
    let released: Vec<_> = filtered.iter().filter(|f| f.1 == "released").collect();
    assert_eq!(held.len(), 3, "three tasks' first updates: {filtered:?}");
    let order = |list: &[&(u64, String, u64, u64)]| -> Vec<(u64, u64)> {
        list.iter().map(|(_, _, c, s)| (*c, *s)).collect()
    };
    assert_eq!(order(&held), order(&released), "same messages, same order");
    let release = step_time(&records, 3);
    assert!(released.iter().all(|r| r.0 == release));
    assert!(held.iter().all(|h| h.0 < release));
    // Nothing reached the framework before the release.
    assert!(report.framework_updates["web"]
        .iter()
        .all(|u| u.t_ms >= release));
    assert_eq!(closed_between(&records, "master-1", "agent-1"), 0);
}

#[test]
fn a_held_message_is_lost_when_its_receiver_restarts_before_the_release() {
    let source = r#"
        duration = "120s"
        [cluster]
        masters = 1
        agents = 1
        [[framework]]
        name = "web"
        failover_timeout = "60s"
        tasks = 1
        task_resources = { cpus = 0.5, mem = "512MB" }
        [[step]]
        wait = "converged"
        within = "60s"
        [[step]]
        hold = { kind = "KillTask", from = "leader", to = "agent-1" }
        [[step]]
        kill = "web-0001"
        framework = "web"
        [[step]]
        sleep = "1s"
        [[step]]
        crash = "agent-1"
        [[step]]
        restart = "agent-1"
        [[step]]
        sleep = "10s"
        [[step]]
        release = "all"
        [[step]]
        wait = "update_seen"
        framework = "web"
        state = "TASK_KILLED"
        within = "30s"
    "#;
    let (report, records) = run(source);
    assert_pass(&report);
    let release = step_time(&records, 8);
    let filtered = filter_records(&records, "agent-1", "KillTask");
    // The first kill, held by the crashed incarnation, and the kill the master
    // sends again when the agent re-registers (Master::reconcileKnownSlave),
    // held by the new one.
    let held: Vec<_> = filtered.iter().filter(|f| f.1 == "held").collect();
    assert_eq!(held.len(), 2, "{filtered:?}");
    let lost: Vec<u64> = records
        .iter()
        .filter_map(|r| match &r.kind {
            TraceKind::Drop { kind, why, .. }
                if kind == "KillTask"
                    && why.contains("lost on release: its receiver restarted") =>
            {
                Some(r.t_ms)
            }
            _ => None,
        })
        .collect();
    assert_eq!(lost, vec![release], "the first is lost on release");
    let released: Vec<_> = filtered.iter().filter(|f| f.1 == "released").collect();
    assert_eq!(released.len(), 1);
    assert_eq!((released[0].2, released[0].3), (held[1].2, held[1].3));
    assert_eq!(accepted(&records, "agent-1", "KillTask"), vec![release]);
}

// ----- drop -----

#[test]
fn a_drop_filter_drops_every_matching_message_and_the_connection_stays_up() {
    let (report, records) = run(&fixture("drop-acks"));
    assert_pass(&report);
    let lift = step_time(&records, 3);
    let sent: Vec<u64> = records
        .iter()
        .filter(|r| {
            r.at.as_str() == "master-1"
                && matches!(&r.kind, TraceKind::Send { to, message: Message::StatusUpdateAcknowledgement { .. }, .. } if to.as_str() == "agent-1")
        })
        .map(|r| r.t_ms)
        .collect();
    let dropped: Vec<u64> = records
        .iter()
        .filter(|r| {
            matches!(&r.kind, TraceKind::Drop { kind, why, .. }
                if kind == "StatusUpdateAcknowledgement" && why.contains("drop filter"))
        })
        .map(|r| r.t_ms)
        .collect();
    let before_lift = sent.iter().filter(|t| **t < lift).count();
    assert!(
        before_lift >= 3,
        "one per delivery of TASK_STARTING: {sent:?}"
    );
    assert_eq!(
        dropped.len(),
        before_lift,
        "every one is dropped: {dropped:?}"
    );
    assert!(dropped.iter().all(|t| *t < lift));
    // Acknowledgements after the lift are delivered: the stream moves on.
    assert!(sent.iter().filter(|t| **t >= lift).count() >= 2);
    assert_eq!(closed_between(&records, "master-1", "agent-1"), 0);
    let updates = &report.framework_updates["web"];
    let starting = updates
        .iter()
        .filter(|u| u.state == TaskState::Starting)
        .count();
    assert_eq!(
        starting,
        before_lift + 1,
        "the first update and its retries, each acknowledgement dropped, then one acknowledged"
    );
    assert!(updates
        .iter()
        .filter(|u| u.state == TaskState::Running)
        .all(|u| u.t_ms >= lift));
}

#[test]
fn without_the_drop_the_source_and_instance_narrowed_count_fails() {
    let source = variant(
        &fixture("drop-acks"),
        &[(
            "drop = { kind = \"StatusUpdateAcknowledgement\", from = \"leader\", to = \"agent-1\" }",
            "sleep = \"0s\"",
        )],
    );
    let (report, records) = run(&source);
    let v = failed(&report);
    assert!(
        has(
            v,
            "updates",
            "framework web received 1 TASK_STARTING from EXECUTOR at scheduler-web-1, expected at least 3"
        ),
        "{v:#?}"
    );
    assert!(has(
        v,
        "timing",
        "TASK_RUNNING only after the filter is lifted"
    ));
    assert_eq!(v.len(), 2);
    assert!(!records
        .iter()
        .any(|r| matches!(&r.kind, TraceKind::Drop { why, .. } if why.contains("drop filter"))));
}

#[test]
fn a_never_window_can_end_after_a_duration() {
    let base = fixture("drop-acks");
    // TASK_RUNNING comes ~15 s after the drop: not within 5 s, but within 30 s.
    let holds = variant(&base, &[("until_step = \"lift\"", "within = \"5s\"")]);
    assert_pass(&run(&holds).0);
    let breaks = variant(&base, &[("until_step = \"lift\"", "within = \"30s\"")]);
    let (report, _) = run(&breaks);
    assert!(has(
        failed(&report),
        "timing",
        "it happened 1 times between step 1"
    ));
}

// ----- inject -----

/// `(time, sender, conn, message)` of every KillTask sent to agent-1.
fn kills_sent(records: &[TraceRecord]) -> Vec<(u64, String, u64, Message)> {
    records
        .iter()
        .filter_map(|r| match &r.kind {
            TraceKind::Send {
                to, conn, message, ..
            } if to.as_str() == "agent-1" && message.kind() == "KillTask" => {
                Some((r.t_ms, r.at.to_string(), *conn, message.clone()))
            }
            _ => None,
        })
        .collect()
}

fn leader_at_end(report: &RunReport) -> String {
    report
        .final_state
        .leader
        .as_ref()
        .unwrap()
        .master
        .to_string()
}

#[test]
fn a_deposed_masters_kill_travels_a_real_connection_and_is_ignored() {
    let (report, records) = run(&fixture("inject-deposed-master"));
    assert_pass(&report);
    let inject = step_time(&records, 6);
    let leader = leader_at_end(&report);
    let deposed = if leader == "master-1" {
        "master-2"
    } else {
        "master-1"
    };
    // The restarted standby had no connection to agent-1: it dialed one.
    let dialed = records.iter().any(|r| {
        r.t_ms >= inject
            && r.at.as_str() == deposed
            && matches!(&r.kind, TraceKind::Conn { peer, what, .. } if peer.as_str() == "agent-1" && what == "connected")
    });
    assert!(dialed, "{deposed} dialed agent-1");
    let kills = kills_sent(&records);
    assert_eq!(kills.len(), 1, "{kills:?}");
    let (at, from, _, message) = &kills[0];
    assert!(*at >= inject && from == deposed);
    let Message::KillTask { epoch, task_id, .. } = message else {
        unreachable!()
    };
    assert_eq!(
        (*epoch, task_id.as_str()),
        (0, "web-0001"),
        "as of its epoch"
    );
    // The agent, registered with the new leader, ignores it.
    let ignored = events(&records).any(|(t, at, e)| {
        t >= inject
            && at == "agent-1"
            && matches!(e, Event::MessageIgnored { from, kind, .. } if from.as_str() == deposed && kind == "KillTask")
    });
    assert!(ignored);
    assert!(accepted(&records, "agent-1", "KillTask").is_empty());
    assert!(report
        .final_state
        .tasks
        .iter()
        .any(|t| t.task_id.as_str() == "web-0001" && t.state == TaskState::Running));
}

#[test]
fn the_same_kill_from_the_leader_is_obeyed_and_the_expectations_fail() {
    let source = variant(
        &fixture("inject-deposed-master"),
        &[(
            "inject = { from = \"last-crashed\"",
            "inject = { from = \"leader\"",
        )],
    );
    let (report, records) = run(&source);
    let v = failed(&report);
    assert!(
        has(v, "timing", "agent-1 ignores the deposed master"),
        "{v:#?}"
    );
    assert!(has(v, "timing", "agent-1 kills nothing"));
    assert!(has(v, "no_task_ended", "TASK_KILLED for web-0001"));
    assert!(has(
        v,
        "leader_state",
        "expect.leader task web-0001: not in tasks; found TASK_KILLED in completed_tasks"
    ));
    let inject = step_time(&records, 6);
    let kills = kills_sent(&records);
    assert_eq!(kills.len(), 1);
    assert_eq!(kills[0].1, leader_at_end(&report));
    let Message::KillTask { epoch, .. } = &kills[0].3 else {
        unreachable!()
    };
    assert_eq!(*epoch, 1, "the leader's epoch");
    assert_eq!(accepted(&records, "agent-1", "KillTask").len(), 1);
    assert!(accepted(&records, "agent-1", "KillTask")[0] >= inject);
}

#[test]
fn the_leaders_kill_with_an_old_epoch_is_ignored() {
    let source = variant(
        &fixture("inject-deposed-master"),
        &[(
            "inject = { from = \"last-crashed\", to = \"agent-1\", kind = \"KillTask\",",
            "inject = { from = \"leader\", epoch = 0, to = \"agent-1\", kind = \"KillTask\",",
        )],
    );
    let (report, records) = run(&source);
    assert_pass(&report);
    let inject = step_time(&records, 6);
    let kills = kills_sent(&records);
    assert_eq!(kills.len(), 1);
    let (_, from, conn, Message::KillTask { epoch, .. }) = &kills[0] else {
        unreachable!()
    };
    assert_eq!(
        (from.as_str(), *epoch),
        (leader_at_end(&report).as_str(), 0)
    );
    // Written on the leader's existing connection to the agent: no dial.
    let opened = records.iter().any(|r| {
        r.t_ms >= inject
            && r.at.as_str() == from
            && matches!(&r.kind, TraceKind::Conn { what, .. } if what == "connected")
    });
    assert!(!opened && *conn > 0);
}

#[test]
fn an_injection_fails_the_run_when_it_cannot_be_written() {
    // Across a partition: the dial times out (tcp_connect_timeout).
    let source = r#"
        duration = "120s"
        [cluster]
        masters = 2
        agents = 1
        [timing]
        zk_session_timeout = "2s"
        tcp_connect_timeout = "3s"
        [[step]]
        wait = "reregistered"
        within = "30s"
        [[step]]
        crash = "leader"
        [[step]]
        wait = "new_leader"
        within = "30s"
        [[step]]
        restart = "last-crashed"
        [[step]]
        wait = "reregistered"
        within = "60s"
        [[step]]
        isolate = "agent-1"
        [[step]]
        inject = { from = "last-crashed", to = "agent-1", kind = "Ping" }
        [[step]]
        sleep = "1s"
    "#;
    let (report, records) = run(source);
    let v = failed(&report);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(has(v, "inject", "step 7: ") && has(v, "inject", "could not connect to agent-1"));
    let started = step_time(&records, 7);
    assert!(v[0].t_ms >= started + 3_000, "after the connect timeout");
    // From a process that is not running.
    let crashed = r#"
        duration = "60s"
        [cluster]
        masters = 1
        agents = 1
        [[step]]
        wait = "reregistered"
        within = "30s"
        [[step]]
        crash = "master-1"
        [[step]]
        inject = { from = "master-1", to = "agent-1", kind = "Ping", epoch = 0 }
    "#;
    let (report, _) = run(crashed);
    assert!(has(
        failed(&report),
        "inject",
        "step 3: master-1 cannot send Ping: it is not running"
    ));
}

#[test]
fn a_displaced_instances_calls_are_ignored_and_the_active_ones_answered() {
    let (report, records) = run(&fixture("inject-scheduler-calls"));
    assert_pass(&report);
    let stale = step_time(&records, 6);
    // Each call is a message the instance wrote on its own connection to the leader.
    let sent: Vec<(String, &'static str)> = records
        .iter()
        .filter(|r| r.t_ms >= stale)
        .filter_map(|r| match &r.kind {
            TraceKind::Send { to, message, .. } if to.as_str() == "master-1" => {
                let kind = message.kind();
                ["Kill", "Teardown", "Reconcile"]
                    .contains(&kind)
                    .then(|| (r.at.to_string(), kind))
            }
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 3, "{sent:?}");
    let displaced = &sent[0].0;
    assert_eq!(&sent[1].0, displaced);
    assert_ne!(
        &sent[2].0, displaced,
        "the reconciliation comes from the active instance"
    );
    assert_eq!(
        sent.iter().map(|(_, k)| *k).collect::<Vec<_>>(),
        vec!["Kill", "Teardown", "Reconcile"]
    );
    let ignored: Vec<String> = events(&records)
        .filter_map(|(t, at, e)| match e {
            Event::MessageIgnored { from, kind, .. }
                if t >= stale && at == "master-1" && from.as_str() == displaced.as_str() =>
            {
                Some(kind.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(ignored, vec!["Kill".to_string(), "Teardown".to_string()]);
    assert!(report.final_state.completed_frameworks.is_empty());
    assert!(report
        .final_state
        .tasks
        .iter()
        .any(|t| t.task_id.as_str() == "web-0001" && t.state == TaskState::Running));
}

#[test]
fn the_same_calls_from_the_active_instance_kill_and_tear_down() {
    let source = variant(
        &fixture("inject-scheduler-calls"),
        &[
            (
                "inject = { from = \"displaced-scheduler:web\", to = \"leader\", kind = \"Kill\"",
                "inject = { from = \"active-scheduler:web\", to = \"leader\", kind = \"Kill\"",
            ),
            (
                "inject = { from = \"displaced-scheduler:web\", to = \"leader\", kind = \"Teardown\"",
                "inject = { from = \"active-scheduler:web\", to = \"leader\", kind = \"Teardown\"",
            ),
        ],
    );
    let (report, records) = run(&source);
    let v = failed(&report);
    assert!(has(v, "timing", "the stale Kill is ignored"), "{v:#?}");
    assert!(has(v, "timing", "the stale Teardown is ignored"));
    assert!(has(v, "timing", "web is never removed"));
    assert!(has(
        v,
        "leader_state",
        "expect.leader framework web: it is completed, expected active"
    ));
    assert!(events(&records).any(|(_, _, e)| matches!(e, Event::FrameworkRemoved { .. })));
}

// ----- reconciliation naming an agent, teardown -----

#[test]
fn reconciliation_names_agents_and_teardown_removes_the_framework() {
    let (report, records) = run(&fixture("reconcile-teardown"));
    assert_pass(&report);
    // The agent of web-0001, resolved when the step ran.
    let agent_of_1 = report
        .final_state
        .completed_frameworks
        .iter()
        .flat_map(|f| &f.tasks)
        .find(|t| t.task_id.as_str() == "web-0001")
        .map(|t| t.agent_id.clone())
        .unwrap();
    let asked = records
        .iter()
        .find_map(|r| match &r.kind {
            TraceKind::Send {
                message: Message::Reconcile { tasks, .. },
                ..
            } if r.at.as_str() == "scheduler-web-1" && !tasks.is_empty() => Some(tasks.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        asked,
        vec![
            ReconcileTask {
                task_id: TaskId::new("web-9998"),
                agent_id: Some(agent_of_1),
            },
            ReconcileTask {
                task_id: TaskId::new("web-9999"),
                agent_id: Some(AgentId::new("e7-S0042")),
            },
        ]
    );
    let answers: Vec<(String, TaskState, Option<Reason>, Source)> = events(&records)
        .filter_map(|(_, _, e)| match e {
            Event::UpdateReceived {
                task_id,
                state,
                reason,
                source,
                ..
            } if task_id.as_str().starts_with("web-999") => {
                Some((task_id.to_string(), *state, *reason, *source))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        answers,
        vec![
            (
                "web-9998".into(),
                TaskState::Gone,
                Some(Reason::Reconciliation),
                Source::Master
            ),
            (
                "web-9999".into(),
                TaskState::Unknown,
                Some(Reason::Reconciliation),
                Source::Master
            ),
        ]
    );
    // Teardown: the scheduler sends TEARDOWN, the master removes the framework
    // at once and kills its tasks.
    let teardown = step_time(&records, 4);
    assert!(records.iter().any(|r| r.t_ms >= teardown
        && matches!(
            &r.kind,
            TraceKind::Send {
                message: Message::Teardown { .. },
                ..
            }
        )));
    let completed = &report.final_state.completed_frameworks;
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].name, "web");
    assert!(completed[0]
        .tasks
        .iter()
        .all(|t| t.state == TaskState::Killed && t.reason == Some(Reason::FrameworkRemoved)));
    assert!(report.final_state.frameworks.is_empty());
}

#[test]
fn naming_the_wrong_agent_or_skipping_the_teardown_fails_the_expectations() {
    let base = fixture("reconcile-teardown");
    let wrong_agent = variant(
        &base,
        &[("agent = \"agent-of:web-0001\"", "agent = \"e7-S0041\"")],
    );
    let (report, _) = run(&wrong_agent);
    let v = failed(&report);
    assert!(
        has(
            v,
            "updates",
            "framework web received 0 TASK_GONE (RECONCILIATION) from MASTER, expected at least 1"
        ),
        "{v:#?}"
    );
    assert!(has(
        v,
        "updates",
        "received 2 TASK_UNKNOWN (RECONCILIATION) from MASTER, expected at most 1"
    ));
    assert!(has(
        v,
        "timing",
        "expect.timing #1 (update: web hears TASK_GONE for web-9998): it did not happen after step 2"
    ));
    assert_eq!(v.len(), 3);

    let no_teardown = variant(
        &base,
        &[
            ("teardown = \"web\"", "sleep = \"0s\""),
            ("wait = \"framework_removed\"", "sleep = \"0s\""),
            ("framework = \"web\"\nwithin = \"10s\"", ""),
        ],
    );
    let (report, _) = run(&no_teardown);
    let v = failed(&report);
    assert!(
        has(
            v,
            "leader_state",
            "expect.leader framework web: it is active, expected completed"
        ),
        "{v:#?}"
    );
    assert!(has(
        v,
        "leader_state",
        "expect.leader framework web: 0 completed_tasks, expected 2"
    ));
    assert!(has(
        v,
        "leader_state",
        "expect.leader task web-0001: not in completed_tasks; found TASK_RUNNING in tasks"
    ));
    assert!(has(
        v,
        "timing",
        "expect.timing #2 (event framework_removed framework=web)"
    ));
}

#[test]
fn teardown_through_an_instance_that_is_not_running_fails_the_run() {
    let source = r#"
        duration = "60s"
        [cluster]
        masters = 1
        agents = 1
        [[framework]]
        name = "web"
        instances = 2
        tasks = 1
        task_resources = { cpus = 0.5 }
        [[step]]
        wait = "converged"
        within = "30s"
        [[step]]
        crash = "scheduler-web-2"
        [[step]]
        teardown = "web"
        instance = "scheduler-web-2"
    "#;
    let (report, _) = run(source);
    assert!(has(
        failed(&report),
        "call",
        "step 3: framework web has no such running scheduler instance"
    ));
}

// ----- timing and the leader's state -----

#[test]
fn agent_ids_are_kept_across_a_reboot_and_new_after_a_wipe() {
    let (report, records) = run(&fixture("agent-ids"));
    assert_pass(&report);
    let ids = |agent: &str| -> Vec<String> {
        events(&records)
            .filter(|(_, at, _)| *at == agent)
            .filter_map(|(_, _, e)| match e {
                Event::AgentRegisteredWith { agent_id, .. } => Some(agent_id.to_string()),
                _ => None,
            })
            .collect()
    };
    let one = ids("agent-1");
    let two = ids("agent-2");
    assert_eq!(one.len(), 2);
    assert_eq!(one[0], one[1], "agent-1 kept its ID");
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1], "agent-2 has a new one");
    let held: Vec<&str> = report
        .final_state
        .agents
        .iter()
        .map(|a| a.agent_id.as_str())
        .collect();
    assert!(held.contains(&one[1].as_str()) && held.contains(&two[1].as_str()));
}

#[test]
fn swapped_agent_id_and_tight_timing_expectations_fail() {
    let source = variant(
        &fixture("agent-ids"),
        &[
            ("id = \"same\"", "id = \"SAME\""),
            ("id = \"new\"", "id = \"same\""),
            ("id = \"SAME\"", "id = \"new\""),
            (
                "not_before = \"2s\"\nnot_after = \"10s\"\n\n[[expect.timing]]\nevent = \"agent_registered\"",
                "not_after = \"100ms\"\n\n[[expect.timing]]\nevent = \"agent_registered\"",
            ),
        ],
    );
    let (report, _) = run(&source);
    let v = failed(&report);
    assert!(has(
        v,
        "leader_state",
        "expect.leader agent agent-1: the leader still holds it under the ID it had before step 2"
    ), "{v:#?}");
    assert!(has(
        v,
        "leader_state",
        "expect.leader agent agent-2: the leader holds it as"
    ));
    assert!(has(
        v,
        "timing",
        "expect.timing #1 (event agent_reregistered agent=agent-1)"
    ));
    assert!(has(v, "timing", "later than not_after = 0.10s"));
    assert_eq!(v.len(), 3);
    // not_before: agent-1 cannot re-register while its machine is down (2 s).
    let early = variant(&fixture("agent-ids"), &[("not_before = \"2s\"\nnot_after = \"10s\"\n\n[[expect.timing]]\nevent = \"agent_registered\"", "not_before = \"5s\"\nnot_after = \"10s\"\n\n[[expect.timing]]\nevent = \"agent_registered\"")]);
    let (report, _) = run(&early);
    assert!(has(
        failed(&report),
        "timing",
        "earlier than not_before = 5s"
    ));
}

#[test]
fn the_leaders_tables_offers_and_framework_statuses_are_checked() {
    let (report, _) = run(&fixture("leader-state"));
    assert_pass(&report);
    let fw = &report.final_state.frameworks;
    assert!(fw.iter().any(|f| f.name == "web" && !f.active));
    assert!(fw.iter().any(|f| f.name == "ops" && f.active));
    let wrong = variant(
        &fixture("leader-state"),
        &[
            ("offers = 1", "offers = 0"),
            ("status = \"inactive\"", "status = \"active\""),
            ("unreachable_tasks = 0", "unreachable_tasks = 1"),
            ("state = \"TASK_RUNNING\"", "state = \"TASK_STAGING\""),
        ],
    );
    let (report, _) = run(&wrong);
    let v = failed(&report);
    assert!(has(
        v,
        "leader_state",
        "expect.leader offers: the leader has 1 outstanding offers, expected 0"
    ));
    assert!(has(
        v,
        "leader_state",
        "expect.leader framework web: it is inactive, expected active"
    ));
    assert!(has(
        v,
        "leader_state",
        "expect.leader framework web: 0 unreachable_tasks, expected 1"
    ));
    assert!(has(
        v,
        "leader_state",
        "expect.leader task web-0001: expected TASK_STAGING, found TASK_RUNNING in tasks"
    ));
    assert_eq!(v.len(), 4, "{v:#?}");
}

// ----- files that do not use the new words -----

#[test]
fn a_plain_reconcile_list_means_what_it_meant() {
    let s = scenario(
        "[cluster]\nmasters = 1\nagents = 1\n[[framework]]\nname = \"web\"\ntask_resources = { cpus = 1 }\n\
         [[step]]\nreconcile = [\"web-0001\", \"web-0002\"]\nframework = \"web\"\n",
    );
    assert_eq!(
        s.spec.steps,
        vec![Step::Call {
            framework: "web".into(),
            instance: None,
            command: Command::Reconcile {
                task_ids: vec![TaskId::new("web-0001"), TaskId::new("web-0002")],
                agents: Default::default(),
            },
            agent_targets: Default::default(),
        }]
    );
    assert!(s.spec.expect.timing.is_empty() && s.spec.expect.leader.is_none());
}

// ----- check: bad input to the new keys -----

/// `BASE` plus `extra` is refused at the last `needle` inside `extra`, with a
/// message containing `message`.
fn refused(extra: &str, needle: &str, message: &str) {
    let source = format!("{BASE}{extra}");
    let offset = BASE.len() + extra.rfind(needle).expect("the needle is in the table");
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let text = parse(&source, Path::new("test.toml"))
        .err()
        .unwrap_or_else(|| panic!("accepted: {extra}"))
        .to_string();
    assert!(
        text.starts_with(&format!("test.toml:{line}:{column}: ")),
        "{text}\nexpected at line {line} column {column} ({needle:?})"
    );
    assert!(text.contains(message), "{text}\nexpected: {message}");
}

const BASE: &str = "[cluster]\nmasters = 2\nagents = 2\n\
    [[framework]]\nname = \"web\"\ninstances = 2\ntasks = 1\ntask_resources = { cpus = 1 }\n\
    [[step]]\nlabel = \"start\"\nwait = \"converged\"\nwithin = \"60s\"\n";

#[test]
fn check_refuses_bad_filters_with_file_line_and_column() {
    let cases = [
        (
            "[[step]]\ndrop = { kind = \"Nope\", from = \"leader\", to = \"agent-1\" }\n",
            "{ kind",
            "unknown message kind \"Nope\"",
        ),
        (
            "[[step]]\nhold = { kind = \"Ping\", from = \"leader\", to = \"agent-9\" }\n",
            "{ kind",
            "no process named \"agent-9\"",
        ),
        (
            "[[step]]\nhold = { kind = \"Ping\", from = \"leader\", to = \"agent-1\", when = 1 }\n",
            "when",
            "unknown field `when`",
        ),
        (
            "[[step]]\nrelease = { kind = \"Ping\", from = \"leader\", to = \"agent-1\" }\n",
            "{ kind",
            "no drop or hold filter on Ping leader -> agent-1 is in force here",
        ),
        (
            "[[step]]\nhold = { kind = \"Ping\", from = \"leader\", to = \"agent-1\" }\n\
             [[step]]\nrelease = { kind = \"Ping\", from = \"master-1\", to = \"agent-1\" }\n",
            "{ kind",
            "a release names a filter exactly as an earlier drop or hold step wrote it",
        ),
        (
            "[[step]]\nhold = { kind = \"Ping\", from = \"leader\", to = \"agent-1\" }\n\
             [[step]]\ndrop = { kind = \"Ping\", from = \"leader\", to = \"agent-1\" }\n",
            "{ kind",
            "a filter on Ping leader -> agent-1 is already in force (step 2)",
        ),
        (
            "[[step]]\nrelease = \"everything\"\n",
            "\"everything\"",
            "invalid release \"everything\": release = \"all\" or",
        ),
        (
            "[[step]]\nrelease = { kind = \"Ping\" }\n",
            "{ kind",
            "missing field `from`",
        ),
    ];
    for (extra, needle, message) in cases {
        refused(extra, needle, message);
    }
}

#[test]
fn check_refuses_bad_injections_reconciliations_and_teardowns() {
    let cases = [
        (
            "[[step]]\ninject = { from = \"leader\", to = \"agent-1\", kind = \"RunTask\" }\n",
            "{ from",
            "inject cannot write RunTask (it writes KillTask, ShutdownFramework, ShutdownAgent, Ping, Kill, Reconcile, Teardown)",
        ),
        (
            "[[step]]\ninject = { from = \"leader\", to = \"agent-1\", kind = \"Explode\" }\n",
            "{ from",
            "unknown message kind \"Explode\"",
        ),
        (
            "[[step]]\ninject = { from = \"master-7\", to = \"agent-1\", kind = \"Ping\" }\n",
            "{ from",
            "no process named \"master-7\"",
        ),
        (
            "[[step]]\ninject = { from = \"agent-2\", to = \"agent-1\", kind = \"KillTask\", framework = \"web\", task = \"t\" }\n",
            "{ from",
            "KillTask is a master's message: `from` must be a master",
        ),
        (
            "[[step]]\ninject = { from = \"master-1\", to = \"leader\", kind = \"Kill\", framework = \"web\", task = \"t\" }\n",
            "{ from",
            "Kill is a scheduler's message",
        ),
        (
            "[[step]]\ninject = { from = \"leader\", to = \"agent-1\", kind = \"KillTask\", task = \"t\" }\n",
            "{ from",
            "inject KillTask needs `framework = \"...\"`",
        ),
        (
            "[[step]]\ninject = { from = \"leader\", to = \"agent-1\", kind = \"ShutdownFramework\", framework = \"db\" }\n",
            "{ from",
            "no framework named \"db\"",
        ),
        (
            "[[step]]\ninject = { from = \"active-scheduler:web\", to = \"leader\", kind = \"Kill\", framework = \"web\", task = \"t\", epoch = 3 }\n",
            "{ from",
            "inject Kill has no key `epoch`",
        ),
        (
            "[[step]]\nreconcile = [{ task = \"web-0001\", agent = \"agnet-1\" }]\nframework = \"web\"\n",
            "[{ task",
            "agent \"agnet-1\" is neither an agent ID (e0-S0001) nor an agent",
        ),
        (
            "[[step]]\nreconcile = [{ task = \"web-0001\", agent = \"agent-of:web-0001\", why = 1 }]\nframework = \"web\"\n",
            "[{ task",
            "unknown key \"why\"",
        ),
        (
            "[[step]]\nreconcile = [3]\nframework = \"web\"\n",
            "[3]",
            "invalid item 3: a reconciliation item is a task ID or",
        ),
        (
            "[[step]]\nteardown = \"db\"\n",
            "\"db\"",
            "no framework named \"db\"",
        ),
        (
            "[[step]]\nteardown = \"web\"\nframework = \"web\"\n",
            "\"web\"",
            "`framework` only goes with `wait`, `kill`, `reconcile` or `accept`",
        ),
        (
            "[[step]]\nlabel = \"start\"\nsleep = \"1s\"\n",
            "\"start\"",
            "label \"start\" is already step 1's",
        ),
    ];
    for (extra, needle, message) in cases {
        refused(extra, needle, message);
    }
}

#[test]
fn check_refuses_bad_timing_and_leader_expectations() {
    let cases = [
        (
            "[[expect.timing]]\nevent = \"agent_unreachable\"\nafter_step = 9\nnot_after = \"1s\"\n",
            "9",
            "after_step = 9 is out of range (steps are numbered 1 to 1; 0 is the start of the run)",
        ),
        (
            "[[expect.timing]]\nevent = \"agent_unreachable\"\nafter_step = \"cut\"\nnot_after = \"1s\"\n",
            "\"cut\"",
            "no step is labelled \"cut\" (labels: start)",
        ),
        (
            "[[expect.timing]]\nevent = \"agent_unreachable\"\nnot_after = \"2 parsecs\"\n",
            "\"2 parsecs\"",
            "parsecs",
        ),
        (
            "[[expect.timing]]\nevent = \"agent_exploded\"\nnot_after = \"1s\"\n",
            "\"agent_exploded\"",
            "unknown event \"agent_exploded\" (known: leader_elected",
        ),
        (
            "[[expect.timing]]\nevent = \"agent_unreachable\"\nframework = \"web\"\nnot_after = \"1s\"\n",
            "\"web\"\nnot_after",
            "event agent_unreachable takes `agent`, not `framework`",
        ),
        (
            "[[expect.timing]]\nevent = \"agent_unreachable\"\nagent = \"agent-7\"\nnot_after = \"1s\"\n",
            "\"agent-7\"",
            "no process named \"agent-7\"",
        ),
        (
            "[[expect.timing]]\nevent = \"command_accepted\"\nkind = \"Zap\"\nnever = true\n",
            "\"Zap\"",
            "unknown message kind \"Zap\"",
        ),
        (
            "[[expect.timing]]\nevent = \"agent_unreachable\"\n",
            "[[expect.timing]]",
            "a timing expectation needs not_before, not_after, or never = true",
        ),
        (
            "[[expect.timing]]\nevent = \"agent_unreachable\"\nnever = true\nnot_before = \"1s\"\n",
            "\"1s\"",
            "`never = true` takes no not_before / not_after",
        ),
        (
            "[[expect.timing]]\nevent = \"agent_unreachable\"\nnot_after = \"1s\"\nwithin = \"5s\"\n",
            "\"5s\"",
            "`within` goes with `never = true`",
        ),
        (
            "[[expect.timing]]\nevent = \"agent_unreachable\"\nafter_step = 1\nuntil_step = 1\nnever = true\n",
            "1\nnever",
            "until_step (step 1) must come after after_step (step 1)",
        ),
        (
            "[[expect.timing]]\nupdate = { framework = \"web\", state = \"TASK_LOST\" }\nevent = \"agent_unreachable\"\nnever = true\n",
            "\"agent_unreachable\"",
            "give `update` or `event`, not both",
        ),
        (
            "[[expect.timing]]\nupdate = { framework = \"web\", state = \"TASK_MISSING\" }\nnever = true\n",
            "{ framework",
            "unknown task state \"TASK_MISSING\"",
        ),
        (
            "[[expect.timing]]\nupdate = { framework = \"web\", state = \"TASK_LOST\", source = \"SCHEDULER\" }\nnever = true\n",
            "{ framework",
            "unknown source \"SCHEDULER\" (MASTER, AGENT or EXECUTOR)",
        ),
        (
            "[[expect.timing]]\nupdate = { framework = \"web\", state = \"TASK_LOST\" }\nnot_before = \"5s\"\nnot_after = \"1s\"\n",
            "\"5s\"",
            "not_before is later than not_after",
        ),
        (
            "[[expect.timing]]\nupdate = { framework = \"web\", state = \"TASK_LOST\", instance = \"scheduler-web-3\" }\nnever = true\n",
            "{ framework",
            "no scheduler instance named \"scheduler-web-3\"",
        ),
        (
            "[[expect.updates]]\nframework = \"web\"\nstate = \"TASK_LOST\"\nsource = \"SCHEDULER\"\n",
            "[[expect.updates]]",
            "unknown source \"SCHEDULER\"",
        ),
        (
            "[[expect.updates]]\nframework = \"web\"\nstate = \"TASK_LOST\"\ninstance = \"scheduler-db-1\"\n",
            "[[expect.updates]]",
            "no scheduler instance named \"scheduler-db-1\"",
        ),
        (
            "[expect.leader]\n[[expect.leader.framework]]\nname = \"db\"\n",
            "\"db\"",
            "no framework named \"db\"",
        ),
        (
            "[expect.leader]\n[[expect.leader.framework]]\nname = \"web\"\nstatus = \"gone\"\n",
            "\"gone\"",
            "unknown framework status \"gone\" (active, inactive, completed or unknown)",
        ),
        (
            "[expect.leader]\n[[expect.leader.task]]\ntask = \"web-0001\"\nlist = \"finished\"\n",
            "\"finished\"",
            "unknown task list \"finished\"",
        ),
        (
            "[expect.leader]\n[[expect.leader.task]]\ntask = \"web-0001\"\nlist = \"tasks\"\nreason = \"RECONCILIATION\"\n",
            "\"RECONCILIATION\"",
            "the leader keeps a reason only for completed tasks",
        ),
        (
            "[expect.leader]\n[[expect.leader.agent]]\nagent = \"agent-3\"\nid = \"same\"\nbefore_step = 1\n",
            "\"agent-3\"",
            "no agent named \"agent-3\"",
        ),
        (
            "[expect.leader]\n[[expect.leader.agent]]\nagent = \"agent-1\"\nid = \"kept\"\nbefore_step = 1\n",
            "\"kept\"",
            "id = \"kept\": write \"same\" (it keeps its ID) or \"new\"",
        ),
        (
            "[expect.leader]\n[[expect.leader.agent]]\nagent = \"agent-1\"\nid = \"same\"\nbefore_step = 0\n",
            "0\n",
            "before_step = 0 is out of range (steps are numbered 1 to 1)",
        ),
        (
            "[expect.leader]\noffer = 1\n",
            "offer",
            "unknown field `offer`",
        ),
    ];
    for (extra, needle, message) in cases {
        refused(extra, needle, message);
    }
}
