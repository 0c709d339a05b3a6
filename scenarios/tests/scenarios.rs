//! Every scenario file, run through the harness.
//!
//! Each shipped scenario passes a bounded number of seeds here (CI runs these);
//! seed 1 of each is pinned as an insta snapshot of what the cluster ended up
//! holding and what every framework heard, in order. The scenario-specific tests
//! below assert the observable outcomes each scenario is about.

use mesochaos_harness::run::{ReceivedUpdate, RunReport};
use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_harness::{run_recorded, RunOptions, Verdict};
use mesochaos_reference::{Event, Reason, TaskState};
use mesochaos_scenarios::{load, scenarios_dir, shipped_scenarios};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Seeds every scenario must pass in CI (`mesochaos run --seed N` covers more).
const CI_SEEDS: std::ops::RangeInclusive<u64> = 1..=5;

fn run(name: &str, seed: u64) -> (RunReport, Vec<TraceRecord>) {
    let scenario =
        load(&scenarios_dir().join(format!("{name}.toml"))).expect("the scenario parses");
    run_recorded(&scenario.spec, seed, RunOptions::default())
}

fn assert_pass(report: &RunReport) {
    assert_eq!(
        report.verdict,
        Verdict::Pass,
        "{} seed {} failed: {:#?}\nreplay: mesochaos run scenarios/{}.toml --seed {}",
        report.scenario,
        report.seed,
        report.violations,
        report.scenario,
        report.seed
    );
}

/// Updates per task, in the order the framework received them.
fn by_task(updates: &[ReceivedUpdate]) -> BTreeMap<String, Vec<TaskState>> {
    let mut tasks: BTreeMap<String, Vec<TaskState>> = BTreeMap::new();
    for u in updates {
        tasks
            .entry(u.task_id.to_string())
            .or_default()
            .push(u.state);
    }
    tasks
}

fn events(records: &[TraceRecord]) -> impl Iterator<Item = (u64, &str, &Event)> {
    records.iter().filter_map(|r| match &r.kind {
        TraceKind::Event { event } => Some((r.t_ms, r.at.as_str(), event)),
        _ => None,
    })
}

#[test]
fn every_scenario_file_passes_its_ci_seeds_and_matches_its_snapshot() {
    let files = shipped_scenarios();
    assert!(files.len() >= 4, "scenario files are found");
    let mut hashes = String::new();
    for path in files {
        let scenario = load(&path).unwrap_or_else(|e| panic!("{e}"));
        // A scale scenario (1000 agent machines) runs its first seed only, and
        // its snapshot is a summary: every agent and task would be thousands
        // of lines nobody reviews.
        let scale = scenario.spec.name.starts_with("scale-");
        let seeds = if scale { 1..=1 } else { CI_SEEDS };
        for seed in seeds {
            let (report, _) = run_recorded(&scenario.spec, seed, RunOptions::default());
            assert_pass(&report);
            hashes.push_str(&format!(
                "{} {seed} {}\n",
                report.scenario, report.trace_hash
            ));
            if seed != 1 {
                continue;
            }
            if scale {
                let f = &report.final_state;
                let mut tasks: BTreeMap<String, usize> = BTreeMap::new();
                for t in &f.tasks {
                    *tasks
                        .entry(format!("{} {}", t.framework_id, t.state))
                        .or_default() += 1;
                }
                let snapshot = json!({
                    "scenario": report.scenario,
                    "seed": seed,
                    "verdict": report.verdict,
                    "leader": f.leader,
                    "agents_connected": f.agents.iter().filter(|a| a.connected).count(),
                    "frameworks": f.frameworks.len(),
                    "tasks_by_framework_and_state": tasks,
                    "failover_time_ms": report.metrics.failover_time_ms,
                });
                // Every agent re-registered with the new leader, which holds
                // every task (its rebuilt state equal to the old leader's is
                // the scenario's `rebuilt_state_matches`, checked above).
                assert_eq!(snapshot["agents_connected"], scenario.spec.cluster.agents);
                assert_eq!(f.tasks.len(), 1000);
                insta::assert_json_snapshot!(report.scenario.clone(), snapshot);
                continue;
            }
            let updates: BTreeMap<&String, Vec<String>> = report
                .framework_updates
                .iter()
                .map(|(fw, list)| {
                    let lines = list
                        .iter()
                        .map(|u| match u.reason {
                            Some(reason) => {
                                format!("{} {} {} ({reason})", u.instance, u.task_id, u.state)
                            }
                            None => format!("{} {} {}", u.instance, u.task_id, u.state),
                        })
                        .collect();
                    (fw, lines)
                })
                .collect();
            let mut snapshot = json!({
                "scenario": report.scenario,
                "seed": seed,
                "verdict": report.verdict,
                "final_state": report.final_state,
                "framework_updates": updates,
                "task_starts": report.task_starts,
            });
            let m = &report.metrics;
            if m.db_unwritable_ms.is_some() {
                // What the storage comparison reports for this run.
                snapshot["database"] = json!({
                    "acked_records": m.acked_records,
                    "acked_records_lost": m.acked_records_lost,
                    "unwritable_ms": m.db_unwritable_ms,
                    "write_latency_mean_us": m.db_write_latency_mean_us,
                });
            }
            insta::assert_json_snapshot!(report.scenario.clone(), snapshot);
        }
    }
    // Every scenario's trace hash for its CI seeds, pinned: a change meant to
    // be trace-neutral (a faster simulator, a refactoring) must leave this
    // unchanged; a change to behaviour re-blesses it and says why.
    insta::assert_snapshot!("trace-hashes", hashes);
}

/// Master failover (DESIGN.md, "Master fault tolerance"): the new leader keeps
/// only soft state and rebuilds it from re-registrations; it must hold exactly
/// what the old leader held — same frameworks, agents, tasks, IDs and states.
#[test]
fn new_leader_rebuilds_the_old_leaders_state_from_reregistrations_alone() {
    for seed in CI_SEEDS {
        let (report, records) = run("master-failover", seed);
        assert_pass(&report);
        let rebuilt = report.rebuilt.as_ref().expect("a leader crashed");
        let after = rebuilt.after.as_ref().expect("a new leader exists");
        assert_eq!(&rebuilt.before, after, "seed {seed}");
        assert_eq!(after.agents.len(), 5);
        assert_eq!(after.frameworks.len(), 1);
        let framework = after.frameworks.values().next().unwrap();
        assert!(framework.active, "the scheduler re-registered");
        assert_eq!(framework.tasks.len(), 10);
        assert!(framework
            .tasks
            .values()
            .all(|t| t.state == TaskState::Running));
        // IDs assigned by the old leader (epoch in the ID) survive the failover.
        let old_epoch = events(&records)
            .find_map(|(_, _, e)| match e {
                Event::ElectedLeader { epoch } => Some(*epoch),
                _ => None,
            })
            .unwrap();
        let new_epoch = report.final_state.leader.as_ref().unwrap().epoch;
        assert!(new_epoch > old_epoch);
        assert!(after
            .agents
            .keys()
            .all(|id| id.as_str().starts_with(&format!("e{old_epoch}-S"))));
        // No task started twice, and the framework saw no task end.
        assert!(
            report.task_starts.values().all(|n| *n == 1),
            "{:?}",
            report.task_starts
        );
        assert_eq!(report.task_starts.len(), 10);
        for u in &report.framework_updates["web"] {
            assert!(!u.state.is_terminal(), "seed {seed}: {u:?}");
        }
        let failover = report.metrics.failover_time_ms.unwrap();
        assert!(
            failover <= 15_000,
            "seed {seed}: failover took {failover} ms"
        );
        if seed == 1 {
            insta::assert_json_snapshot!("master-failover-rebuilt-state", after);
        }
    }
}

/// A leader cut off from the coordinator gives up its session — no later than
/// the coordinator expires it — and exits; a standby takes over and agents follow
/// the coordinator, not the old master.
#[test]
fn a_leader_partitioned_from_the_coordinator_steps_down_before_a_successor_is_elected() {
    for seed in CI_SEEDS {
        let (report, records) = run("leader-loses-coordinator", seed);
        assert_pass(&report);
        let old = events(&records)
            .find(|(_, _, e)| matches!(e, Event::ElectedLeader { .. }))
            .map(|(_, at, _)| at.to_string())
            .expect("a first leader");
        let old = old.as_str();
        let gave_up = events(&records)
            .find(|(_, at, e)| {
                *at == old && matches!(e, Event::CoordSessionLost { locally: true, .. })
            })
            .map(|(t, _, _)| t)
            .expect("the old leader gave its session up");
        let expired = events(&records)
            .find(|(_, _, e)| matches!(e, Event::SessionExpired { owner, .. } if owner.as_str() == old))
            .map(|(t, _, _)| t)
            .expect("the coordinator expired it");
        let elected = events(&records)
            .filter(|(_, at, e)| *at != old && matches!(e, Event::ElectedLeader { .. }))
            .map(|(t, _, _)| t)
            .next()
            .expect("a standby took over");
        assert!(
            gave_up <= expired && expired <= elected,
            "{gave_up} {expired} {elected}"
        );
        let exited = records.iter().any(|r| {
            r.at.as_str() == old
                && matches!(&r.kind, TraceKind::Process { what, why: Some(why), .. }
                    if what == "exited" && why.contains("coordinator session"))
        });
        assert!(exited, "the old leader exited");
        assert_ne!(
            report.final_state.leader.as_ref().unwrap().master.as_str(),
            old
        );
        // Every command an agent accepted came from the leader of the current epoch.
        let mut current = None;
        for (_, at, e) in events(&records) {
            match e {
                Event::ElectedLeader { epoch } if current.is_none_or(|c| *epoch > c) => {
                    current = Some(*epoch);
                    let _ = at;
                }
                Event::AgentAcceptedCommand { epoch, .. } => assert_eq!(Some(*epoch), current),
                _ => {}
            }
        }
        assert!(report.framework_updates["web"]
            .iter()
            .all(|u| u.state != TaskState::Lost));
        assert!(report.task_starts.values().all(|n| *n == 1));
    }
}

/// Task failure (the seed's fourth mechanism): a failed task is reported
/// TASK_FAILED and replaced under a fresh ID; a scripted kill ends TASK_KILLED.
#[test]
fn failed_and_killed_tasks_are_reported_in_order_and_replaced_under_fresh_ids() {
    for seed in CI_SEEDS {
        let (report, _) = run("task-failure-relaunch", seed);
        assert_pass(&report);
        let updates = &report.framework_updates["batch"];
        let tasks = by_task(updates);
        use TaskState::*;
        for failing in ["batch-0001", "batch-0002", "batch-0003"] {
            assert_eq!(
                tasks[failing],
                vec![Starting, Running, Failed],
                "seed {seed} {failing}"
            );
        }
        assert_eq!(
            tasks["batch-0004"],
            vec![Starting, Running, Killed],
            "seed {seed}"
        );
        let failed: Vec<_> = updates.iter().filter(|u| u.state == Failed).collect();
        // Mesos's command executor sets no reason on a failed command.
        assert!(failed.iter().all(|u| u.reason.is_none()));
        // Four replacements (three failures, one kill), each a new task ID.
        let running: BTreeSet<&str> = report
            .final_state
            .tasks
            .iter()
            .filter(|t| t.state == Running)
            .map(|t| t.task_id.as_str())
            .collect();
        assert_eq!(running.len(), 5, "seed {seed}: {running:?}");
        assert!(running.contains("batch-0005"));
        assert_eq!(
            report.task_starts.len(),
            9,
            "five first launches plus four replacements"
        );
        assert!(report.task_starts.values().all(|n| *n == 1));
    }
}

/// With every master cut off from the coordinator, no master leads; agents
/// and the framework wait with their tasks running, then re-register with the
/// leader elected after the heal.
#[test]
fn without_a_coordinator_no_master_leads_and_tasks_keep_running() {
    for seed in CI_SEEDS {
        let (report, records) = run("coordinator-lost", seed);
        assert_pass(&report);
        // Every master exited on losing its session, and the supervisor restarted it.
        for master in ["master-1", "master-2", "master-3"] {
            let exits = records
                .iter()
                .filter(|r| {
                    r.at.as_str() == master
                        && matches!(&r.kind, TraceKind::Process { what, .. } if what == "exited")
                })
                .count();
            assert!(exits >= 1, "seed {seed}: {master} never exited");
        }
        // Agents saw "no leader" while the masters were cut off.
        let saw_no_leader = events(&records)
            .filter(|(_, at, e)| {
                at.starts_with("agent-") && matches!(e, Event::LeaderDetected { leader: None, .. })
            })
            .count();
        assert_eq!(
            saw_no_leader, 5,
            "seed {seed}: every agent saw the leader go"
        );
        assert!(report.framework_updates["web"]
            .iter()
            .all(|u| !u.state.is_terminal()));
        assert_eq!(report.task_starts.len(), 10);
        assert!(report.task_starts.values().all(|n| *n == 1));
        let leader = report
            .final_state
            .leader
            .as_ref()
            .expect("a leader after the heal");
        assert!(leader.epoch > 0);
        assert_eq!(report.final_state.tasks.len(), 10);
    }
}

/// Same seed, same trace; different seeds, different traces (in-process; the
/// CLI test checks the same across processes).
#[test]
fn the_same_seed_gives_the_same_trace_and_different_seeds_differ() {
    let (a, _) = run("master-failover", 11);
    let (b, _) = run("master-failover", 11);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.metrics, b.metrics);
    let (c, _) = run("master-failover", 12);
    assert_ne!(a.trace_hash, c.trace_hash);
}

/// Reliable status updates (DESIGN.md, "Status update stream"): an update
/// whose forward to the framework is lost is never acknowledged, so the agent
/// resends it after `status_update_retry` (10 s); the framework hears it once.
#[test]
fn a_lost_status_update_is_resent_by_the_agent_after_ten_seconds() {
    for seed in CI_SEEDS {
        let (report, records) = run("status-update-retry", seed);
        assert_pass(&report);
        let dropped_at = records
            .iter()
            .find(|r| matches!(&r.kind, TraceKind::Drop { kind, why, .. } if kind == "StatusUpdate" && why.contains("drop_next")))
            .map(|r| r.t_ms)
            .expect("the fault dropped the forwarded update");
        let killed: Vec<&ReceivedUpdate> = report.framework_updates["web"]
            .iter()
            .filter(|u| u.state == TaskState::Killed)
            .collect();
        assert_eq!(killed.len(), 1, "seed {seed}: heard exactly once");
        assert_eq!(killed[0].task_id.as_str(), "web-0001");
        assert!(
            killed[0].t_ms > dropped_at + 9_000,
            "seed {seed}: heard only after the retry"
        );
        // The agent sent that update twice, the retry `status_update_retry`
        // (10 s) after the original (trace times are per 10 ms tick).
        let sends: Vec<u64> = records
            .iter()
            .filter(|r| r.at.as_str().starts_with("agent-"))
            .filter(|r| {
                matches!(&r.kind, TraceKind::Send { message: mesochaos_reference::Message::StatusUpdate { update }, .. }
                    if update.state == TaskState::Killed)
            })
            .map(|r| r.t_ms)
            .collect();
        assert_eq!(sends.len(), 2, "seed {seed}");
        let retry_after = sends[1] - sends[0];
        assert!(
            (10_000..=10_010).contains(&retry_after),
            "seed {seed}: retried after {retry_after} ms"
        );
        // The killed task was replaced under a fresh ID.
        assert!(report
            .final_state
            .tasks
            .iter()
            .all(|t| t.task_id.as_str() != "web-0001"));
        assert_eq!(report.final_state.tasks.len(), 4);
    }
}

// ----- scheduler failover and the framework lifecycle -----

/// The process a harness fault of kind `fault` hit first (from its detail).
fn fault_target(records: &[TraceRecord], fault: &str) -> String {
    records
        .iter()
        .find_map(|r| match &r.kind {
            TraceKind::Fault { fault: f, detail } if f == fault => Some(
                detail
                    .split(' ')
                    .next()
                    .unwrap()
                    .trim_end_matches(',')
                    .to_string(),
            ),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {fault} fault"))
}

fn fault_time(records: &[TraceRecord], fault: &str) -> u64 {
    records
        .iter()
        .find(|r| matches!(&r.kind, TraceKind::Fault { fault: f, .. } if f == fault))
        .map(|r| r.t_ms)
        .unwrap()
}

/// What one scheduler instance heard, in order: updates as `task STATE (REASON)`,
/// errors as `error: ...`.
fn heard_by(records: &[TraceRecord], instance: &str) -> Vec<String> {
    events(records)
        .filter(|(_, at, _)| *at == instance)
        .filter_map(|(_, _, e)| match e {
            Event::UpdateReceived {
                task_id,
                state,
                reason,
                ..
            } => Some(match reason {
                Some(reason) => format!("{task_id} {state} ({reason})"),
                None => format!("{task_id} {state}"),
            }),
            Event::SchedulerError { message } => Some(format!("error: {message}")),
            _ => None,
        })
        .collect()
}

fn other_instance(instance: &str) -> String {
    if instance.ends_with("-1") {
        instance.replace("-1", "-2")
    } else {
        instance.replace("-2", "-1")
    }
}

/// Scheduler failover (HA framework guide): the standby takes over under the
/// same framework ID, reconciles every task, and no task restarts; the killed
/// instance, restarted, stays standby.
#[test]
fn standby_scheduler_takes_over_with_the_same_framework_id_and_no_task_restarts() {
    for seed in CI_SEEDS {
        let (report, records) = run("scheduler-failover", seed);
        assert_pass(&report);
        let old = fault_target(&records, "crash");
        let new = other_instance(&old);
        let registered: Vec<(String, String, bool)> = events(&records)
            .filter_map(|(_, at, e)| match e {
                Event::SchedulerRegistered {
                    framework_id,
                    reregistered,
                    ..
                } => Some((at.to_string(), framework_id.to_string(), *reregistered)),
                _ => None,
            })
            .collect();
        assert_eq!(registered.len(), 2, "seed {seed}: {registered:?}");
        assert_eq!(
            (registered[0].0.as_str(), registered[0].2),
            (old.as_str(), false)
        );
        assert_eq!(
            (registered[1].0.as_str(), registered[1].2),
            (new.as_str(), true)
        );
        assert_eq!(registered[0].1, registered[1].1, "the same framework ID");
        // The old instance heard each task start and run; the new one only the
        // answers to its reconciliation, one per task, and no error.
        let old_heard = heard_by(&records, &old);
        assert_eq!(old_heard.len(), 20, "seed {seed}: {old_heard:?}");
        for n in 1..=10 {
            let task = format!("web-{n:04}");
            let starting = old_heard
                .iter()
                .position(|l| *l == format!("{task} TASK_STARTING"));
            let running = old_heard
                .iter()
                .position(|l| *l == format!("{task} TASK_RUNNING"));
            assert!(starting.unwrap() < running.unwrap(), "{task} in order");
        }
        let new_heard = heard_by(&records, &new);
        let expected: Vec<String> = (1..=10)
            .map(|n| format!("web-{n:04} TASK_RUNNING (RECONCILIATION)"))
            .collect();
        assert_eq!(new_heard, expected, "seed {seed}");
        assert_eq!(report.task_starts.len(), 10);
        assert!(report.task_starts.values().all(|n| *n == 1));
        // Restarted, the old instance found the new one active: it never became active again.
        let old_activations = events(&records)
            .filter(|(_, at, e)| *at == old && matches!(e, Event::SchedulerActive { .. }))
            .count();
        assert_eq!(old_activations, 1, "seed {seed}: only its first term");
        assert_eq!(
            report.final_state.frameworks[0]
                .scheduler
                .as_ref()
                .unwrap()
                .as_str(),
            new
        );
    }
}

/// A stale instance (cut off from the coordinator, its "failed over" error
/// lost) still talks to the master: the master ignores its calls, and updates
/// go to the new instance only.
#[test]
fn the_master_ignores_a_stale_scheduler_instance() {
    for seed in CI_SEEDS {
        let (report, records) = run("scheduler-failover-stale", seed);
        assert_pass(&report);
        let old = fault_target(&records, "partition");
        let new = other_instance(&old);
        // The "framework failed over" error to the old instance was dropped.
        assert!(records.iter().any(|r| r.at.as_str() == old
            && matches!(&r.kind, TraceKind::Drop { kind, why, .. } if kind == "FrameworkError" && why.contains("drop_next"))));
        // The master received and ignored the stale kill.
        let ignored = events(&records)
            .filter(|(_, at, e)| {
                at.starts_with("master-")
                    && matches!(e, Event::MessageIgnored { from, kind, .. } if from.as_str() == old && kind == "Kill")
            })
            .count();
        assert_eq!(ignored, 1, "seed {seed}");
        // The old instance heard nothing after the takeover; the kill's update
        // reached the new instance only, after the new instance's own kill.
        let takeover = events(&records)
            .find(|(_, _, e)| matches!(e, Event::FrameworkReregistered { scheduler, .. } if scheduler.as_str() == new))
            .map(|(t, _, _)| t)
            .expect("the new instance re-registered");
        let old_late = events(&records)
            .filter(|(t, at, e)| {
                *at == old && *t > takeover && matches!(e, Event::UpdateReceived { .. })
            })
            .count();
        assert_eq!(old_late, 0, "seed {seed}");
        let killed: Vec<&ReceivedUpdate> = report.framework_updates["web"]
            .iter()
            .filter(|u| u.state == TaskState::Killed)
            .collect();
        assert_eq!(killed.len(), 1);
        assert_eq!(killed[0].instance.as_str(), new);
        let new_kill = events(&records)
            .find(|(_, at, e)| *at == new && matches!(e, Event::SchedulerKilling { .. }))
            .map(|(t, _, _)| t)
            .unwrap();
        let exited = events(&records)
            .find(|(_, _, e)| matches!(e, Event::TaskExited { task_id, .. } if task_id.as_str() == "web-0001"))
            .map(|(t, _, _)| t)
            .unwrap();
        assert!(
            exited >= new_kill,
            "seed {seed}: the stale kill did nothing"
        );
        // After the heal the old instance learns its session expired and steps down.
        assert!(events(&records)
            .any(|(_, at, e)| at == old && matches!(e, Event::SchedulerSteppedDown { .. })));
    }
}

/// Mesos's framework failover_timeout: with no scheduler for 60 s the master
/// removes the framework, its tasks end TASK_KILLED (FRAMEWORK_REMOVED), and a
/// late re-registration is refused.
#[test]
fn a_framework_without_a_scheduler_past_its_failover_timeout_is_removed() {
    for seed in CI_SEEDS {
        let (report, records) = run("framework-failover-timeout", seed);
        assert_pass(&report);
        let crashed_at = fault_time(&records, "crash");
        let removed_at = events(&records)
            .find(|(_, _, e)| matches!(e, Event::FrameworkRemoved { tasks: 6, .. }))
            .map(|(t, _, _)| t)
            .expect("removed");
        let after = removed_at - crashed_at;
        assert!(
            (60_000..60_100).contains(&after),
            "seed {seed}: removed {after} ms after the crash"
        );
        // Every task was killed on its executor host, after the removal.
        let kills: Vec<u64> = events(&records)
            .filter(|(_, _, e)| {
                matches!(
                    e,
                    Event::TaskExited {
                        state: TaskState::Killed,
                        ..
                    }
                )
            })
            .map(|(t, _, _)| t)
            .collect();
        assert_eq!(kills.len(), 6, "seed {seed}");
        assert!(kills.iter().all(|t| *t >= removed_at));
        let completed = &report.final_state.completed_frameworks;
        assert_eq!(completed.len(), 1);
        assert!(completed[0]
            .tasks
            .iter()
            .all(|t| t.state == TaskState::Killed && t.reason == Some(Reason::FrameworkRemoved)));
        assert!(report.final_state.frameworks.is_empty());
        // The instance restarted later heard one thing: the refusal.
        let late = heard_by(&records, "scheduler-web-1");
        assert_eq!(
            late.last().map(String::as_str),
            Some("error: framework removed"),
            "seed {seed}"
        );
        assert_eq!(late.iter().filter(|l| l.starts_with("error")).count(), 1);
    }
}

/// Scheduler failover during master failover converges: one leader, one
/// active instance, the same framework ID, no task lost.
#[test]
fn scheduler_and_master_failover_together_converge() {
    for seed in CI_SEEDS {
        let (report, records) = run("scheduler-and-master-failover", seed);
        assert_pass(&report);
        let old = fault_target(&records, "crash");
        let new = other_instance(&old);
        let rebuilt = report.rebuilt.as_ref().unwrap();
        assert_eq!(Some(&rebuilt.before), rebuilt.after.as_ref(), "seed {seed}");
        let leader = report.final_state.leader.as_ref().unwrap();
        let frameworks = &report.final_state.frameworks;
        assert_eq!(frameworks.len(), 1);
        assert_eq!(frameworks[0].scheduler.as_ref().unwrap().as_str(), new);
        assert!(frameworks[0].active);
        assert_eq!(
            frameworks[0].framework_id,
            *rebuilt.before.frameworks.keys().next().unwrap()
        );
        // The new leader knew the framework from agents first, without timing it out.
        assert!(!events(&records).any(|(_, _, e)| matches!(e, Event::FrameworkRemoved { .. })));
        let leaders: BTreeSet<&str> = events(&records)
            .filter(|(_, _, e)| matches!(e, Event::ElectedLeader { .. }))
            .map(|(_, at, _)| at)
            .collect();
        assert_eq!(leaders.len(), 2, "seed {seed}: {leaders:?}");
        assert!(leader.epoch > 0);
        assert!(report.framework_updates["web"]
            .iter()
            .all(|u| u.state != TaskState::Lost));
        assert!(report.task_starts.values().all(|n| *n == 1));
        assert!(report.metrics.failover_time_ms.unwrap() <= 15_000);
    }
}

// ----- agent recovery, node failure, reliable status updates -----

/// Per task, the states the framework heard, in order (reasons included).
fn task_story(report: &RunReport, framework: &str, task: &str) -> Vec<String> {
    report.framework_updates[framework]
        .iter()
        .filter(|u| u.task_id.as_str() == task)
        .map(|u| match u.reason {
            Some(reason) => format!("{} ({reason})", u.state),
            None => u.state.to_string(),
        })
        .collect()
}

fn agent_ids_of(records: &[TraceRecord], agent: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (_, _, e) in events(records) {
        let id = match e {
            Event::AgentAdmitted { agent_id, agent: a }
            | Event::AgentReregistered {
                agent_id, agent: a, ..
            } if a.as_str() == agent => agent_id.to_string(),
            _ => continue,
        };
        if ids.last() != Some(&id) {
            ids.push(id);
        }
    }
    ids
}

/// Agent recovery: the agent process dies, executors live on; a task that
/// finishes meanwhile is reported once the agent is back — nothing lost,
/// nothing relaunched, nothing started twice.
#[test]
fn a_restarted_agent_reconnects_to_running_executors_and_delivers_what_happened_meanwhile() {
    for seed in CI_SEEDS {
        let (report, records) = run("agent-restart", seed);
        assert_pass(&report);
        let crashed = fault_time(&records, "crash");
        let restarted = fault_time(&records, "restart");
        let finished = report.framework_updates["batch"]
            .iter()
            .find(|u| u.state == TaskState::Finished)
            .expect("the finish was delivered");
        assert_eq!(finished.task_id.as_str(), "batch-0001");
        assert!(
            finished.t_ms > restarted,
            "seed {seed}: delivered after the restart"
        );
        // It finished while the agent was down (20 s after launch, agent down for 30 s).
        let exited = events(&records)
            .find(|(_, _, e)| matches!(e, Event::TaskExited { task_id, .. } if task_id.as_str() == "batch-0001"))
            .map(|(t, _, _)| t)
            .unwrap();
        assert!(crashed < exited && exited < restarted, "seed {seed}");
        // At least once, in order, no gaps: an update whose acknowledgement the
        // crash cut off is delivered again (a repeat, never a reordering).
        let deduplicated = |mut story: Vec<String>| {
            story.dedup();
            story
        };
        assert_eq!(
            deduplicated(task_story(&report, "batch", "batch-0001")),
            ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
        );
        for task in ["batch-0002", "batch-0003", "batch-0004"] {
            assert_eq!(
                deduplicated(task_story(&report, "batch", task)),
                ["TASK_STARTING", "TASK_RUNNING"],
                "seed {seed}"
            );
        }
        // The agent kept its ID, the executor host re-registered, no start twice.
        assert_eq!(agent_ids_of(&records, "agent-1").len(), 1);
        assert!(report.task_starts.values().all(|n| *n == 1));
        assert_eq!(
            report.task_starts.len(),
            5,
            "four first tasks and one replacement"
        );
    }
}

/// An executor host dying under a running agent: TASK_FAILED
/// (EXECUTOR_TERMINATED, source AGENT); dying while the agent is down: TASK_LOST
/// (EXECUTOR_REREGISTRATION_TIMEOUT) when the agent comes back.
#[test]
fn executor_host_deaths_are_reported_failed_or_lost_by_the_agent() {
    for seed in CI_SEEDS {
        let (report, records) = run("executor-host-crash", seed);
        assert_pass(&report);
        let updates = &report.framework_updates["web"];
        let failed: Vec<_> = updates
            .iter()
            .filter(|u| u.state == TaskState::Failed)
            .collect();
        let lost: Vec<_> = updates
            .iter()
            .filter(|u| u.state == TaskState::Lost)
            .collect();
        assert_eq!(failed.len(), 4);
        assert_eq!(lost.len(), 4);
        assert!(failed
            .iter()
            .all(|u| u.reason == Some(Reason::ExecutorTerminated)));
        assert!(lost
            .iter()
            .all(|u| u.reason == Some(Reason::ExecutorReregistrationTimeout)));
        // The first four tasks failed, their replacements were lost.
        let failed_ids: BTreeSet<&str> = failed.iter().map(|u| u.task_id.as_str()).collect();
        let lost_ids: BTreeSet<&str> = lost.iter().map(|u| u.task_id.as_str()).collect();
        assert_eq!(
            failed_ids,
            BTreeSet::from(["web-0001", "web-0002", "web-0003", "web-0004"])
        );
        assert!(failed_ids.is_disjoint(&lost_ids));
        // Lost only after the executor re-registration window (2 s) from the agent's restart.
        let restarted = records
            .iter()
            .filter(|r| matches!(&r.kind, TraceKind::Fault { fault, detail } if fault == "restart" && detail == "agent-1"))
            .map(|r| r.t_ms)
            .next()
            .unwrap();
        assert!(
            lost.iter().all(|u| u.t_ms >= restarted + 2_000),
            "seed {seed}"
        );
        let source_agent = events(&records)
            .filter(|(_, at, e)| *at == "agent-1" && matches!(e, Event::MessageIgnored { .. }))
            .count();
        let _ = source_agent;
        assert_eq!(report.final_state.tasks.len(), 4);
    }
}

/// A reboot: executors are gone; the agent keeps its ID (synced disk, Mesos
/// 1.4+), and reports each task TASK_FAILED (EXECUTOR_TERMINATED: the
/// containerizer finds no container, `SlaveRecoveryTest.RebootWithExecutorPidReused`);
/// the tasks are replaced.
#[test]
fn a_rebooted_agent_keeps_its_id_and_reports_its_tasks_failed() {
    for seed in CI_SEEDS {
        let (report, records) = run("agent-reboot", seed);
        assert_pass(&report);
        let machine = records
            .iter()
            .find_map(|r| match &r.kind {
                TraceKind::Fault { fault, detail } if fault == "power_off" => Some(detail.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            agent_ids_of(&records, &machine).len(),
            1,
            "seed {seed}: same agent ID after the reboot"
        );
        assert!(
            !report.framework_updates["web"]
                .iter()
                .any(|u| u.state == TaskState::Lost),
            "seed {seed}"
        );
        let lost: Vec<_> = report.framework_updates["web"]
            .iter()
            .filter(|u| u.state == TaskState::Failed)
            .collect();
        assert!(!lost.is_empty());
        assert!(lost
            .iter()
            .all(|u| u.reason == Some(Reason::ExecutorTerminated)));
        let sources = events(&records)
            .filter(|(_, _, e)| matches!(e, Event::UpdateReceived { state: TaskState::Failed, source, .. } if *source == mesochaos_reference::Source::Agent))
            .count();
        assert_eq!(sources, lost.len(), "reported by the agent");
        // The new boot is recorded in the agent's re-registration.
        assert!(records.iter().any(|r| matches!(&r.kind,
            TraceKind::Send { message: mesochaos_reference::Message::ReregisterAgent { boot_id, .. }, .. }
                if boot_id == &format!("{machine}-boot-2"))));
        assert_eq!(report.final_state.tasks.len(), 6);
        assert!(report.task_starts.values().all(|n| *n == 1));
    }
}

/// A wiped disk: the agent registers as a new agent; the master removes the old
/// one at once ("a new agent registered at the same address",
/// `Master::registerSlave` → `removeSlave`) and reports its tasks TASK_LOST
/// (AGENT_REMOVED); the old ID leaves the registry, it is not marked gone.
#[test]
fn an_agent_with_a_wiped_disk_registers_anew_and_its_old_tasks_are_lost() {
    for seed in CI_SEEDS {
        let (report, records) = run("agent-disk-wipe", seed);
        assert_pass(&report);
        let machine = records
            .iter()
            .find_map(|r| match &r.kind {
                TraceKind::Fault { fault, detail } if fault == "wipe_disk" => Some(detail.clone()),
                _ => None,
            })
            .unwrap();
        let ids = agent_ids_of(&records, &machine);
        assert_eq!(ids.len(), 2, "seed {seed}: a new agent ID: {ids:?}");
        let lost: Vec<_> = report.framework_updates["web"]
            .iter()
            .filter(|u| u.state == TaskState::Lost)
            .collect();
        assert!(!lost.is_empty());
        assert!(lost.iter().all(|u| u.reason == Some(Reason::AgentRemoved)));
        // Reported when the new registration arrives, once the old agent's
        // removal is durable — just before the new agent is admitted
        // (`RemoveSlave`, then `AdmitSlave`).
        let admitted_again = events(&records)
            .filter(|(_, _, e)| matches!(e, Event::AgentAdmitted { agent_id, .. } if agent_id.as_str() == ids[1]))
            .map(|(t, _, _)| t)
            .next()
            .unwrap();
        assert!(
            lost.iter()
                .all(|u| u.t_ms + 1_000 > admitted_again && u.t_ms < admitted_again + 1_000),
            "seed {seed}"
        );
        let booted = records
            .iter()
            .find(|r| matches!(&r.kind, TraceKind::Fault { fault, .. } if fault == "power_on"))
            .map(|r| r.t_ms)
            .unwrap();
        let master_sends: Vec<&str> = records
            .iter()
            .filter(|r| r.t_ms >= booted && r.at.as_str().starts_with("master-"))
            .filter_map(|r| match &r.kind {
                TraceKind::Send { message, .. } => Some(message.kind()),
                _ => None,
            })
            .filter(|k| *k == "StatusUpdate" || *k == "AgentRegistered")
            .collect();
        let first_lost = master_sends.iter().position(|k| *k == "StatusUpdate");
        let registered = master_sends.iter().position(|k| *k == "AgentRegistered");
        assert!(
            first_lost.is_some() && first_lost < registered,
            "seed {seed}: the loss is sent before the new agent is admitted"
        );
        assert!(report
            .final_state
            .agents
            .iter()
            .all(|a| a.agent_id.as_str() != ids[0]));
    }
}

/// Health checks (DESIGN.md): a silent agent is marked unreachable after
/// 5 × 15 s of missed pings — never earlier; its tasks are reported lost and
/// replaced; after the heal they run again and the surplus copies are killed.
#[test]
fn a_partitioned_agent_is_lost_after_missed_health_checks_and_comes_back() {
    for seed in CI_SEEDS {
        let (report, records) = run("agent-partition", seed);
        assert_pass(&report);
        let cut = fault_time(&records, "partition");
        let lost: Vec<&ReceivedUpdate> = report.framework_updates["web"]
            .iter()
            .filter(|u| u.state == TaskState::Lost)
            .collect();
        assert!(!lost.is_empty());
        let first_lost = lost.iter().map(|u| u.t_ms).min().unwrap();
        let after = first_lost - cut;
        assert!(
            (60_000..=90_000).contains(&after),
            "seed {seed}: lost {after} ms after the cut"
        );
        let lost_ids: BTreeSet<&str> = lost.iter().map(|u| u.task_id.as_str()).collect();
        let back: BTreeSet<&str> = report.framework_updates["web"]
            .iter()
            .filter(|u| {
                u.state == TaskState::Running && u.reason == Some(Reason::AgentReregistered)
            })
            .map(|u| u.task_id.as_str())
            .collect();
        assert_eq!(back, lost_ids, "seed {seed}: the same tasks run again");
        let killed: BTreeSet<&str> = report.framework_updates["web"]
            .iter()
            .filter(|u| u.state == TaskState::Killed)
            .map(|u| u.task_id.as_str())
            .collect();
        assert_eq!(
            killed.len(),
            lost_ids.len(),
            "one surplus copy killed per returning task"
        );
        assert!(
            killed.is_disjoint(&lost_ids),
            "the replacements are the surplus"
        );
        let running: BTreeSet<&str> = report
            .final_state
            .tasks
            .iter()
            .map(|t| t.task_id.as_str())
            .collect();
        assert!(lost_ids.is_subset(&running));
        assert_eq!(running.len(), 4, "the desired count holds");
    }
}

/// `removed_agent_policy = "shutdown"` (the seed's early Mesos): the returning
/// agent is shut down, its tasks are killed, and it registers under a new ID.
#[test]
fn with_the_shutdown_policy_a_returning_agent_is_shut_down_and_registers_anew() {
    for seed in CI_SEEDS {
        let (report, records) = run("agent-partition-shutdown-policy", seed);
        assert_pass(&report);
        let machine = records
            .iter()
            .find_map(|r| match &r.kind {
                TraceKind::Fault { fault, detail } if fault == "partition" => {
                    Some(detail.split(" | ").next().unwrap().to_string())
                }
                _ => None,
            })
            .unwrap();
        let shut_down = records.iter().any(|r| {
            r.at.as_str() == machine
                && matches!(&r.kind, TraceKind::Process { what, why: Some(why), .. } if what == "exited" && why.contains("shut down"))
        });
        assert!(shut_down, "seed {seed}: the agent was shut down");
        assert_eq!(
            agent_ids_of(&records, &machine).len(),
            2,
            "seed {seed}: a new agent ID"
        );
        let lost: BTreeSet<&str> = report.framework_updates["web"]
            .iter()
            .filter(|u| u.state == TaskState::Lost)
            .map(|u| u.task_id.as_str())
            .collect();
        let killed_on_executor: BTreeSet<String> = events(&records)
            .filter_map(|(_, _, e)| match e {
                Event::TaskExited {
                    task_id,
                    state: TaskState::Killed,
                    ..
                } => Some(task_id.to_string()),
                _ => None,
            })
            .collect();
        for task in &lost {
            assert!(
                killed_on_executor.contains(*task),
                "seed {seed}: {task} was killed on its machine"
            );
        }
        assert!(!report.framework_updates["web"]
            .iter()
            .any(|u| u.reason == Some(Reason::AgentReregistered)));
    }
}

/// A partition-aware framework hears TASK_UNREACHABLE, never TASK_LOST.
#[test]
fn a_partition_aware_framework_hears_unreachable_not_lost() {
    for seed in CI_SEEDS {
        let (report, _) = run("agent-partition-aware", seed);
        assert_pass(&report);
        let updates = &report.framework_updates["web"];
        assert!(updates.iter().all(|u| u.state != TaskState::Lost));
        let unreachable: BTreeSet<&str> = updates
            .iter()
            .filter(|u| u.state == TaskState::Unreachable)
            .map(|u| u.task_id.as_str())
            .collect();
        assert!(!unreachable.is_empty());
        for task in &unreachable {
            let story = task_story(&report, "web", task);
            assert_eq!(
                story[story.len() - 2..],
                [
                    "TASK_UNREACHABLE (AGENT_REMOVED)",
                    "TASK_RUNNING (AGENT_REREGISTERED)"
                ],
                "seed {seed}: {task}"
            );
        }
    }
}

/// An agent restarting while the master fails over re-registers with the new
/// leader; nothing is lost or restarted and the rebuilt state matches.
#[test]
fn an_agent_restarting_during_a_master_failover_loses_nothing() {
    for seed in CI_SEEDS {
        let (report, records) = run("agent-restart-during-master-failover", seed);
        assert_pass(&report);
        let rebuilt = report.rebuilt.as_ref().unwrap();
        assert_eq!(Some(&rebuilt.before), rebuilt.after.as_ref());
        assert_eq!(agent_ids_of(&records, "agent-1").len(), 1);
        assert!(report.framework_updates["web"]
            .iter()
            .all(|u| !u.state.is_terminal()));
        assert!(report.task_starts.values().all(|n| *n == 1));
    }
}

/// Reconciliation after a failover (Mesos `Master::reconcile`, docs/task-states.md):
/// a question about a task on an agent that may still re-register gets no
/// answer; the scheduler's retry after the window hears TASK_LOST.
#[test]
fn reconciliation_about_a_missing_agent_is_unanswered_until_a_retry_after_its_window() {
    for seed in CI_SEEDS {
        let (report, records) = run("reconciliation-after-failover", seed);
        assert_pass(&report);
        let elected = events(&records)
            .filter(|(_, _, e)| matches!(e, Event::ElectedLeader { .. }))
            .map(|(t, _, _)| t)
            .nth(1)
            .unwrap();
        let window_closes = elected + 30_000;
        // Mesos `Master::reconcile` case 2 (ReconciliationTest.RecoveredAgent):
        // while the agent may still re-register, questions about its tasks
        // get no answer at all — the leader drops them, it holds nothing.
        let dropped: Vec<u64> = events(&records)
            .filter(|(_, _, e)| matches!(e, Event::ReconciliationDropped { .. }))
            .map(|(t, _, _)| t)
            .collect();
        assert!(!dropped.is_empty(), "seed {seed}");
        assert!(dropped.iter().all(|t| *t < window_closes), "seed {seed}");
        // The scheduler asks again with exponential backoff; the first retry
        // after the window gets TASK_LOST (case 4: the agent is unreachable).
        let asked: Vec<u64> = records
            .iter()
            .filter(|r| {
                r.at.as_str().starts_with("scheduler-web")
                    && matches!(&r.kind, TraceKind::Send { message, .. }
                        if message.kind() == "Reconcile")
            })
            .map(|r| r.t_ms)
            .collect();
        let gaps: Vec<u64> = asked
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|g| *g >= 10_000)
            .collect();
        assert!(
            gaps.windows(2).any(|g| g[1] == 2 * g[0]),
            "seed {seed}: retries back off exponentially: {asked:?}"
        );
        let updates = &report.framework_updates["web"];
        let lost: Vec<&ReceivedUpdate> = updates
            .iter()
            .filter(|u| u.state == TaskState::Lost && u.reason == Some(Reason::Reconciliation))
            .collect();
        assert!(!lost.is_empty(), "seed {seed}");
        let retry = asked
            .iter()
            .copied()
            .find(|t| *t >= window_closes)
            .expect("a retry after the window");
        for u in &lost {
            assert!(
                (retry..retry + 1_000).contains(&u.t_ms),
                "seed {seed}: TASK_LOST at {} ms, the first retry after the window at {retry} ms",
                u.t_ms
            );
        }
        // Tasks on the agent that did re-register were answered — once it had
        // re-registered — by the next question, well before the window closed.
        let running: Vec<&ReceivedUpdate> = updates
            .iter()
            .filter(|u| u.state == TaskState::Running && u.reason == Some(Reason::Reconciliation))
            .collect();
        assert!(!running.is_empty(), "seed {seed}");
        assert!(
            running.iter().all(|u| u.t_ms < window_closes
                && asked.iter().any(|a| (*a..*a + 1_000).contains(&u.t_ms))),
            "seed {seed}"
        );
        assert_eq!(report.final_state.tasks.len(), 6);
    }
}

/// A torn checkpoint write: recovery cuts the log back to the last complete
/// record, in every seed, and the agent carries on.
#[test]
fn recovery_cuts_a_torn_checkpoint_record_in_every_seed() {
    for seed in CI_SEEDS {
        let (report, records) = run("torn-checkpoint", seed);
        assert_pass(&report);
        let torn = records
            .iter()
            .find_map(|r| match &r.kind {
                TraceKind::Fault { fault, detail } if fault == "power_off" => Some(detail.clone()),
                _ => None,
            })
            .expect("the power failed");
        assert!(torn.contains("torn write"), "{torn}");
        let truncated: Vec<(usize, usize)> = events(&records)
            .filter_map(|(_, _, e)| match e {
                Event::CheckpointTruncated {
                    kept_bytes,
                    dropped_bytes,
                    ..
                } => Some((*kept_bytes, *dropped_bytes)),
                _ => None,
            })
            .collect();
        assert_eq!(truncated.len(), 1, "seed {seed}");
        assert!(truncated[0].1 > 0);
        let lost = report.framework_updates["web"]
            .iter()
            .filter(|u| {
                u.state == TaskState::Failed && u.reason == Some(Reason::ExecutorTerminated)
            })
            .count();
        assert_eq!(lost, 4, "seed {seed}: every task of the rebooted machine");
        assert_eq!(report.final_state.tasks.len(), 4);
    }
}

// ----- persistent storage: reservations and volumes -----

/// `(time, task, last record found)` of every database start, and the highest
/// record acknowledged before each of those times.
fn db_recoveries(records: &[TraceRecord]) -> Vec<(u64, String, u64, u64)> {
    let mut acked = 0;
    let mut out = Vec::new();
    for (t, _, e) in events(records) {
        match e {
            Event::DbRecordAcked { record, .. } => acked = acked.max(*record),
            Event::DbRecovered { task_id, last, .. } => {
                out.push((t, task_id.to_string(), *last, acked))
            }
            _ => {}
        }
    }
    out
}

/// Dynamic reservation: reserved resources go only to frameworks of the role;
/// unreserved, they go to anyone.
#[test]
fn reserved_resources_are_offered_only_to_their_role_until_unreserved() {
    for seed in CI_SEEDS {
        let (report, records) = run("reserve-unreserve", seed);
        assert_pass(&report); // includes the always-on reserved_only_to_role checker
        let unreserved_at = records
            .iter()
            .filter(|r| matches!(&r.kind, TraceKind::Fault { fault, detail } if fault == "call" && detail.contains("Unreserve")))
            .map(|r| r.t_ms)
            .next()
            .unwrap();
        let launches: Vec<(u64, String)> = events(&records)
            .filter_map(|(t, at, e)| match e {
                Event::SchedulerLaunching { task_id, .. } if at.starts_with("scheduler-web") => {
                    Some((t, task_id.to_string()))
                }
                _ => None,
            })
            .collect();
        let before: Vec<&(u64, String)> = launches
            .iter()
            .filter(|(t, _)| *t < unreserved_at)
            .collect();
        assert_eq!(
            before.len(),
            4,
            "seed {seed}: web ran only on the unreserved half: {launches:?}"
        );
        assert_eq!(launches.len(), 6);
        assert!(report.final_state.reservations.is_empty());
        // The offers web received while db held its reservation: unreserved only.
        let web_offers = records
            .iter()
            .filter(|r| matches!(&r.kind, TraceKind::Send { to, message: mesochaos_reference::Message::ResourceOffers { .. }, .. } if to.as_str() == "scheduler-web-1"))
            .count();
        assert!(web_offers > 0);
    }
}

/// Each offer operation is validated on its own: the invalid ones are
/// refused with their reasons, the valid one in the same accept is applied.
#[test]
fn invalid_offer_operations_are_refused_one_by_one_and_valid_ones_applied() {
    for seed in CI_SEEDS {
        let (report, records) = run("invalid-operations", seed);
        assert_pass(&report);
        let refused: Vec<(String, String)> = events(&records)
            .filter_map(|(_, at, e)| match e {
                Event::OperationErrorReceived { operation, message } if at == "scheduler-db-1" => {
                    Some((operation.clone(), message.clone()))
                }
                _ => None,
            })
            .collect();
        let expected = [
            ("RESERVE", "more than offered"),
            ("RESERVE", "for role other"),
            ("UNRESERVE", "of role other"),
            ("CREATE", "needs disk reserved"),
            ("CREATE", "already used"),
            ("DESTROY", "uses it"),
            ("UNRESERVE", "still holds a volume"),
        ];
        assert_eq!(refused.len(), expected.len(), "seed {seed}: {refused:?}");
        for ((operation, message), (want_op, want_text)) in refused.iter().zip(expected) {
            assert_eq!(operation, want_op);
            assert!(
                message.contains(want_text),
                "{message} should say {want_text}"
            );
        }
        // The valid RESERVE of the same accept was applied: 1 + 0.5 cpus reserved.
        let reservation = &report.final_state.reservations[0];
        assert_eq!(reservation.role, "db");
        assert_eq!(reservation.resources.cpus_milli, 1_500);
        assert_eq!(
            reservation.resources.disk_mb, 1_024,
            "2 GB reserved, 1 GB of it in the volume"
        );
        let volume = &report.final_state.volumes[0];
        assert_eq!(
            (
                volume.id.as_str(),
                volume.in_use_by.as_ref().map(|t| t.as_str())
            ),
            ("data", Some("db-a"))
        );
        assert_eq!(
            task_story(&report, "db", "db-b"),
            ["TASK_ERROR (TASK_INVALID)"]
        );
        assert_eq!(
            task_story(&report, "db", "db-a"),
            ["TASK_STARTING", "TASK_RUNNING"]
        );
    }
}

/// A persistent volume outlives its task: the relaunched task, on the same
/// agent and volume, finds every acknowledged record; the volume was not
/// offered while in use.
#[test]
fn a_persistent_volume_outlives_its_task_and_keeps_every_acknowledged_record() {
    for seed in CI_SEEDS {
        let (report, records) = run("volume-survives-task", seed);
        assert_pass(&report);
        let recoveries = db_recoveries(&records);
        assert_eq!(recoveries.len(), 2, "seed {seed}: {recoveries:?}");
        assert_eq!(
            recoveries[0].2, 0,
            "the first task starts on an empty volume"
        );
        let (_, task, last, acked) = &recoveries[1];
        assert_eq!(task, "db-0002");
        assert!(*acked >= 5, "records were acknowledged before the kill");
        assert!(
            last >= acked,
            "seed {seed}: found {last}, {acked} acknowledged"
        );
        // Same agent for both tasks.
        let agents: BTreeSet<String> = events(&records)
            .filter_map(|(_, _, e)| match e {
                Event::TaskLaunched { agent_id, .. } => Some(agent_id.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(agents.len(), 1);
        // The volume was not offered while db-0001 used it.
        let killed_at = report.framework_updates["db"]
            .iter()
            .find(|u| u.state == TaskState::Killed)
            .unwrap()
            .t_ms;
        let first_launch = events(&records)
            .find(|(_, _, e)| matches!(e, Event::TaskLaunched { .. }))
            .map(|(t, _, _)| t)
            .unwrap();
        let offered_in_use = records.iter().any(|r| {
            r.t_ms > first_launch
                && r.t_ms < killed_at
                && matches!(&r.kind, TraceKind::Send { message: mesochaos_reference::Message::ResourceOffers { offers, .. }, .. }
                    if offers.iter().any(|o| !o.volumes.is_empty()))
        });
        assert!(!offered_in_use, "seed {seed}");
    }
}

/// Reservations and volumes are checkpointed by the agent: an agent restart
/// keeps them and the data.
#[test]
fn a_volume_and_its_reservation_survive_an_agent_restart() {
    for seed in CI_SEEDS {
        let (report, records) = run("volume-survives-agent-restart", seed);
        assert_pass(&report);
        let recoveries = db_recoveries(&records);
        let (_, task, last, acked) = recoveries.last().unwrap();
        assert_eq!(task, "db-0002");
        assert!(last >= acked && *acked > 0, "seed {seed}");
        assert_eq!(report.final_state.volumes.len(), 1);
        assert_eq!(report.final_state.reservations.len(), 1);
        // The agent re-registered reporting its reservation and volume.
        assert!(records.iter().any(|r| matches!(&r.kind,
            TraceKind::Send { message: mesochaos_reference::Message::ReregisterAgent { resources, .. }, .. }
                if !resources.volumes.is_empty())));
    }
}

/// The master keeps no reservation or volume: a new leader rebuilds them
/// from the agents, and the database finds its data.
#[test]
fn a_new_leader_learns_reservations_and_volumes_from_the_agents() {
    for seed in CI_SEEDS {
        let (report, records) = run("volume-survives-master-failover", seed);
        assert_pass(&report);
        let rebuilt = report.rebuilt.as_ref().unwrap();
        let before_volumes: usize = rebuilt
            .before
            .agents
            .values()
            .map(|a| a.volumes.len())
            .sum();
        assert_eq!(before_volumes, 1);
        let after = rebuilt.after.as_ref().unwrap();
        for (id, agent) in &rebuilt.before.agents {
            assert_eq!(
                agent.total, after.agents[id].total,
                "seed {seed}: reservations rebuilt"
            );
            assert_eq!(
                agent.volumes, after.agents[id].volumes,
                "seed {seed}: volumes rebuilt"
            );
        }
        let (_, task, last, acked) = db_recoveries(&records).last().cloned().unwrap();
        assert_eq!(task, "db-0002");
        assert!(last >= acked && acked > 0, "seed {seed}");
    }
}

// ----- the three storage strategies under one fault script -----

/// Database writes that found no quorum in time.
fn failed_writes(records: &[TraceRecord]) -> Vec<u64> {
    events(records)
        .filter_map(|(t, _, e)| matches!(e, Event::DbWriteFailed { .. }).then_some(t))
        .collect()
}

/// Local volume without replication: a reboot loses nothing (the records were
/// fsynced), the disk wipe loses every acknowledged record, and the database
/// starts again from nothing.
#[test]
fn a_local_volume_keeps_data_across_a_reboot_and_loses_it_with_the_disk() {
    for seed in CI_SEEDS {
        let (report, records) = run("storage-local", seed);
        assert_pass(&report);
        let reboot = fault_time(&records, "power_off");
        let wipe = fault_time(&records, "wipe_disk");
        let recoveries = db_recoveries(&records);
        let after_reboot = recoveries
            .iter()
            .find(|(t, ..)| *t > reboot && *t < wipe)
            .expect("relaunched after the reboot");
        assert!(
            after_reboot.2 >= after_reboot.3 && after_reboot.3 > 0,
            "seed {seed}: the reboot lost nothing: {after_reboot:?}"
        );
        let after_wipe = recoveries
            .iter()
            .find(|(t, ..)| *t > wipe)
            .expect("relaunched after the wipe");
        assert_eq!(after_wipe.2, 0, "seed {seed}: the wiped volume is empty");
        assert_eq!(
            report.metrics.acked_records_lost, after_wipe.3,
            "seed {seed}: everything acknowledged before the wipe is lost"
        );
        // No network in the write path: an fsync per write and nothing else.
        assert!(failed_writes(&records).is_empty());
        assert!(report.metrics.db_write_latency_mean_us.unwrap() <= 10_000);
    }
}

/// Distributed file system: the database can lose its machine, disk and all,
/// and find every acknowledged record on the storage servers; each write pays
/// a network round trip; cut off from the servers it cannot write.
#[test]
fn a_distributed_file_system_loses_nothing_but_pays_a_round_trip_per_write() {
    for seed in CI_SEEDS {
        let (report, records) = run("storage-dfs", seed);
        assert_pass(&report);
        let (local, _) = run("storage-local", seed);
        assert_eq!(report.metrics.acked_records_lost, 0);
        let recoveries = db_recoveries(&records);
        assert!(recoveries.len() >= 3, "seed {seed}: {recoveries:?}");
        for (t, task, last, acked) in &recoveries {
            assert!(
                last >= acked,
                "seed {seed}: {task} at {t} ms found {last}, {acked} were acknowledged"
            );
        }
        let wipe = fault_time(&records, "wipe_disk");
        let after_wipe = recoveries.iter().find(|(t, ..)| *t > wipe).unwrap();
        assert!(after_wipe.3 > 0 && after_wipe.2 >= after_wipe.3);
        // Every write went to the three storage servers over TCP.
        let servers: BTreeSet<&str> = records
            .iter()
            .filter_map(|r| match &r.kind {
                TraceKind::Send {
                    to,
                    message: mesochaos_reference::Message::StoreWrite { .. },
                    ..
                } => Some(to.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            servers,
            BTreeSet::from(["storage-1", "storage-2", "storage-3"])
        );
        assert!(
            report.metrics.db_write_latency_mean_us > local.metrics.db_write_latency_mean_us,
            "seed {seed}: a round trip costs more than a local fsync"
        );
        // While its machine was cut off, the database could not reach a quorum.
        let isolated = fault_time(&records, "partition");
        let healed = fault_time(&records, "heal");
        assert!(failed_writes(&records)
            .iter()
            .any(|t| (isolated..healed).contains(t)));
    }
}

/// Replicated local volumes: one replica per reserved agent, pinned there;
/// losing one machine with its disk loses nothing acknowledged, and the replica
/// on that machine starts afresh on a new volume.
#[test]
fn replicated_local_volumes_survive_the_loss_of_one_machine() {
    for seed in CI_SEEDS {
        let (report, records) = run("storage-replicated", seed);
        assert_pass(&report);
        assert_eq!(report.metrics.acked_records_lost, 0);
        for (t, task, last, acked) in db_recoveries(&records) {
            assert!(
                last >= acked,
                "seed {seed}: {task} at {t} ms found {last}, {acked} were acknowledged"
            );
        }
        // Replica k only ever ran on agent k, on its own volume replica-k.
        let mut placements = BTreeSet::new();
        let mut creates = 0;
        for r in &records {
            match &r.kind {
                TraceKind::Send {
                    to,
                    message: mesochaos_reference::Message::LaunchTask { task, .. },
                    ..
                } if task.task_id.as_str().starts_with("replicas-") => {
                    placements.insert((to.to_string(), task.volume.clone().unwrap()));
                }
                TraceKind::Send {
                    message: mesochaos_reference::Message::Accept { operations, .. },
                    ..
                } if r.at.as_str() == "scheduler-replicas-1" => {
                    creates += operations
                        .iter()
                        .filter(|o| {
                            matches!(o, mesochaos_reference::messages::Operation::Create { .. })
                        })
                        .count();
                }
                _ => {}
            }
        }
        let expected: BTreeSet<(String, String)> = (1..=3)
            .map(|k| (format!("executors-{k}"), format!("replica-{k}")))
            .collect();
        assert_eq!(placements, expected, "seed {seed}");
        assert_eq!(
            creates, 4,
            "seed {seed}: three volumes, and one again on the wiped machine"
        );
        // Three replica volumes held by the leader at the end, one per agent.
        let volumes: BTreeSet<&str> = report
            .final_state
            .volumes
            .iter()
            .filter(|v| v.role == "replicas")
            .map(|v| v.id.as_str())
            .collect();
        assert_eq!(
            volumes,
            BTreeSet::from(["replica-1", "replica-2", "replica-3"])
        );
    }
}

/// A nemesis scenario of only message faults of one `kind`.
fn message_fault_scenario(kind: &str) -> mesochaos_scenarios::Scenario {
    let text = format!(
        r#"
[cluster]
masters = 3
agents = 2

[[framework]]
name = "web"
instances = 2
tasks = 4
task_resources = {{ cpus = 0.5, mem = "512MB" }}

[[step]]
wait = "converged"
within = "60s"

[nemesis]
interval = "10s"
fault_min = "5s"
fault_max = "10s"
safety = "90s"

[nemesis.kinds]
{kind} = 1
"#
    );
    mesochaos_scenarios::parse(&text, std::path::Path::new("message-faults.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// (duplicate deliveries, deliveries that overtook an earlier message of their
/// own connection) in a trace.
fn duplicates_and_overtakes(records: &[TraceRecord]) -> (usize, usize) {
    let mut seen = BTreeSet::new();
    let mut highest: BTreeMap<(String, u64), u64> = BTreeMap::new();
    let (mut duplicates, mut overtakes) = (0, 0);
    for r in records {
        if let TraceKind::Deliver { conn, seq, .. } = &r.kind {
            if !seen.insert((r.at.to_string(), *conn, *seq)) {
                duplicates += 1;
            }
            let top = highest.entry((r.at.to_string(), *conn)).or_insert(0);
            if *seq < *top {
                overtakes += 1;
            }
            *top = (*top).max(*seq);
        }
    }
    (duplicates, overtakes)
}

// Message chaos reorders across connections only and never duplicates, as TCP
// between libprocess peers; the labelled stress option (`message_stress`)
// duplicates and reorders within a connection — and both are in the trace.
#[test]
fn message_chaos_keeps_each_connection_in_order_and_the_stress_option_does_not() {
    for seed in 1..=3 {
        let (report, records) = run_recorded(
            &message_fault_scenario("message_chaos").spec,
            seed,
            RunOptions::default(),
        );
        assert_pass(&report);
        assert!(report.faults.values().map(|c| c.fired).sum::<u64>() > 0);
        assert_eq!(duplicates_and_overtakes(&records), (0, 0), "seed {seed}");

        let (report, records) = run_recorded(
            &message_fault_scenario("message_stress").spec,
            seed,
            RunOptions::default(),
        );
        let (duplicates, overtakes) = duplicates_and_overtakes(&records);
        assert!(
            duplicates > 0 && overtakes > 0,
            "seed {seed}: {duplicates} {overtakes}"
        );
        assert!(records.iter().any(|r| matches!(
            &r.kind,
            TraceKind::Fault { fault, .. } if fault == "message_stress"
        )));
        // The reference survives this much; a failure here is a finding.
        assert_pass(&report);
    }
}

/// turmoil skips the ticks of idle hosts (vendor/turmoil/PATCHES.md, patch 4),
/// which is exact only if the driver makes every timer through turmoil::time.
/// Verify mode ticks every host and panics if one turmoil would have skipped
/// did anything; under crashes, restarts, pauses, partitions and disk faults,
/// it must not, and the trace must be the one the skipping run produced.
#[test]
fn the_driver_lets_turmoil_skip_idle_hosts_exactly() {
    for (name, seed) in [("nemesis-agent-churn", 1), ("nemesis-standard", 2)] {
        let scenario =
            load(&scenarios_dir().join(format!("{name}.toml"))).expect("the scenario parses");
        let (skipping, _) = run_recorded(&scenario.spec, seed, RunOptions::default());
        let verified = RunOptions {
            verify_idle_skips: true,
            ..RunOptions::default()
        };
        let (ticking, _) = run_recorded(&scenario.spec, seed, verified);
        assert_pass(&ticking);
        assert!(
            ticking.faults.values().map(|c| c.fired).sum::<u64>() > 5,
            "{name} seed {seed} injected too few faults to mean anything"
        );
        assert_eq!(
            skipping.trace_hash, ticking.trace_hash,
            "{name} seed {seed}: skipping idle hosts changed the trace"
        );
        // Skipping really happened, and verify mode really checked idle ticks
        // (were skipping off, both runs would agree vacuously). The counts
        // differ a little: a skipped host keeps a timer entry due at the end
        // of its last skipped tick until it runs, which may be stale.
        for (mode, report) in [("skipping", &skipping), ("verify", &ticking)] {
            assert!(
                report.idle_host_ticks > 10_000,
                "{name} seed {seed}, {mode}: only {} idle host ticks",
                report.idle_host_ticks
            );
        }
    }
}

// ----- the transport is TCP (issue 12, part 1) -----

/// Connection closes between `a` and `b` (either side), with their times and reasons.
fn closes_between(records: &[TraceRecord], a: &str, b: &str) -> Vec<(u64, String, String)> {
    records
        .iter()
        .filter_map(|r| match &r.kind {
            TraceKind::Conn {
                peer, what, why, ..
            } if what == "closed"
                && ((r.at.as_str().starts_with(a) && peer.as_str().starts_with(b))
                    || (r.at.as_str().starts_with(b) && peer.as_str().starts_with(a))) =>
            {
                Some((r.t_ms, r.at.to_string(), why.clone().unwrap_or_default()))
            }
            _ => None,
        })
        .collect()
}

/// The times of the harness's fault records of one kind (`partition`, `heal`, …).
fn fault_times(records: &[TraceRecord], fault: &str) -> Vec<u64> {
    records
        .iter()
        .filter(|r| matches!(&r.kind, TraceKind::Fault { fault: f, .. } if f == fault))
        .map(|r| r.t_ms)
        .collect()
}

/// A 20 s partition between an agent and the masters breaks no connection and
/// loses nothing: the kill sent into it and the acknowledgement caught by the
/// second one are delivered when it heals, so the update is never resent.
#[test]
fn a_twenty_second_partition_loses_no_kill_and_no_acknowledgement() {
    for seed in CI_SEEDS {
        let (report, records) = run("partition-loses-nothing", seed);
        assert_pass(&report);
        assert_eq!(
            closes_between(&records, "agent-1", "master-"),
            vec![],
            "seed {seed}"
        );
        assert!(
            !records
                .iter()
                .any(|r| matches!(r.kind, TraceKind::Drop { .. })),
            "seed {seed}: nothing is dropped"
        );
        let heals = fault_times(&records, "heal");
        // The kill left the leader during the first partition and reached the
        // agent only when it healed.
        let kill_sent = records
            .iter()
            .find(|r| {
                r.at.as_str().starts_with("master-")
                    && matches!(&r.kind, TraceKind::Send { message, .. } if message.kind() == "KillTask")
            })
            .map(|r| r.t_ms)
            .expect("the leader sent the kill");
        let kill_delivered = records
            .iter()
            .find(|r| {
                r.at.as_str() == "agent-1"
                    && r.t_ms >= kill_sent
                    && matches!(&r.kind, TraceKind::Deliver { from, .. } if from.as_str().starts_with("master-"))
                    && r.t_ms >= heals[0]
            })
            .map(|r| r.t_ms)
            .expect("delivered after the heal");
        assert!(
            kill_sent < heals[0] && kill_delivered < heals[0] + 100,
            "seed {seed}"
        );
        // Every update the agent sent, it sent once: no retry was needed.
        let mut sent: BTreeMap<String, usize> = BTreeMap::new();
        for r in &records {
            if let TraceKind::Send {
                message: mesochaos_reference::Message::StatusUpdate { update },
                ..
            } = &r.kind
            {
                if r.at.as_str() == "agent-1" {
                    *sent.entry(format!("{:?}", update.uuid)).or_default() += 1;
                }
            }
        }
        assert!(sent.values().all(|n| *n == 1), "seed {seed}: {sent:?}");
        let killed = report.framework_updates["web"]
            .iter()
            .filter(|u| u.state == TaskState::Killed)
            .count();
        assert_eq!(killed, 1, "seed {seed}");
    }
}

/// With `tcp_user_timeout = 20s`, the leader's connection to a cut-off agent is
/// reset 20 s after its first unacknowledged ping — not before — and the agent,
/// which sent nothing, keeps its side until its own ping timeout.
#[test]
fn a_partition_longer_than_the_tcp_user_timeout_resets_the_senders_connection() {
    for seed in CI_SEEDS {
        let (report, records) = run("tcp-user-timeout", seed);
        assert_pass(&report);
        let cut = fault_times(&records, "partition")[0];
        let heal = fault_times(&records, "heal")[0];
        let first_ping = records
            .iter()
            .find(|r| {
                r.t_ms >= cut
                    && r.at.as_str().starts_with("master-")
                    && matches!(&r.kind, TraceKind::Send { to, message, .. }
                        if to.as_str() == "agent-1" && message.kind() == "Ping")
            })
            .map(|r| r.t_ms)
            .expect("a ping into the partition");
        let closes = closes_between(&records, "agent-1", "master-");
        let (t, side, why) = closes.first().expect("the connection is reset").clone();
        assert!(side.starts_with("master-"), "seed {seed}: {closes:?}");
        assert!(why.contains("reset"), "seed {seed}: {why}");
        assert!(
            (first_ping + 20_000..first_ping + 20_100).contains(&t),
            "seed {seed}: reset at {t} ms, first unacknowledged ping at {first_ping} ms"
        );
        assert!(t < heal);
        assert!(
            closes.iter().filter(|c| c.0 < heal).count() == 1,
            "seed {seed}: only the sender is reset during the cut: {closes:?}"
        );
        assert!(
            !events(&records).any(|(_, _, e)| matches!(e, Event::AgentUnreachable { .. })),
            "seed {seed}: disconnected, never unreachable"
        );
    }
}

/// A paused agent (SIGSTOP) longer than the health check cycle: the master marks
/// it unreachable, but no connection is reset while it is stopped — its kernel
/// still acknowledges — and its tasks come back when it resumes.
#[test]
fn a_pause_longer_than_the_ping_cycle_resets_nothing_but_the_agent_is_unreachable() {
    for seed in CI_SEEDS {
        let (report, records) = run("pause-longer-than-ping-cycle", seed);
        assert_pass(&report);
        let paused = fault_times(&records, "pause")[0];
        let resumed = fault_times(&records, "resume")[0];
        let unreachable = events(&records)
            .find(|(_, _, e)| matches!(e, Event::AgentUnreachable { .. }))
            .map(|(t, _, _)| t)
            .expect("marked unreachable");
        assert!(paused < unreachable && unreachable < resumed, "seed {seed}");
        let closes = closes_between(&records, "agent-1", "master-");
        assert!(
            closes
                .iter()
                .all(|(t, _, why)| *t >= resumed && !why.contains("reset")),
            "seed {seed}: {closes:?}"
        );
        assert!(!closes_between(&records, "agent-1", "executors-1")
            .iter()
            .any(|(t, _, _)| *t < resumed));
    }
}

/// `Master::kill` remembers a kill for a disconnected agent and sends it when
/// the agent re-registers, right after `AgentReregistered`.
#[test]
fn a_kill_sent_while_the_agent_is_disconnected_reaches_it_when_it_reregisters() {
    for seed in CI_SEEDS {
        let (report, records) = run("kill-while-agent-disconnected", seed);
        assert_pass(&report);
        let to_agent: Vec<(u64, &str)> = records
            .iter()
            .filter_map(|r| match &r.kind {
                TraceKind::Send { to, message, .. }
                    if r.at.as_str().starts_with("master-")
                        && to.as_str().starts_with("agent-") =>
                {
                    Some((r.t_ms, message.kind()))
                }
                _ => None,
            })
            .collect();
        let rereg = to_agent
            .iter()
            .rposition(|(_, k)| *k == "AgentReregistered")
            .expect("re-registered");
        assert_eq!(
            to_agent.get(rereg + 1).map(|m| m.1),
            Some("KillTask"),
            "seed {seed}"
        );
        let story = task_story(&report, "web", "web-0001");
        assert!(
            story.last().is_some_and(|s| s.starts_with("TASK_KILLED")),
            "seed {seed}: {story:?}"
        );
    }
}

/// `Master::removeFramework` while an agent is unreachable; when it returns,
/// `AgentReregistered` comes first, then `ShutdownFramework`, and the agent
/// kills the removed framework's tasks.
#[test]
fn a_removed_frameworks_tasks_die_when_their_unreachable_agent_returns() {
    for seed in CI_SEEDS {
        let (report, records) = run("framework-removed-while-agent-unreachable", seed);
        assert_pass(&report);
        let heal = fault_times(&records, "heal")[0];
        let after: Vec<&str> = records
            .iter()
            .filter(|r| r.t_ms >= heal && r.at.as_str().starts_with("master-"))
            .filter_map(|r| match &r.kind {
                TraceKind::Send { to, message, .. } if to.as_str().starts_with("agent-") => {
                    Some(message.kind())
                }
                _ => None,
            })
            .filter(|k| *k == "AgentReregistered" || *k == "ShutdownFramework")
            .collect();
        assert_eq!(
            after,
            ["AgentReregistered", "ShutdownFramework"],
            "seed {seed}"
        );
        assert!(report.final_state.tasks.is_empty(), "seed {seed}");
        // `web` is not partition-aware: it was told TASK_LOST, and
        // `Master::updateTask` never overwrites a terminal state.
        let completed = &report.final_state.completed_frameworks;
        assert!(
            completed
                .iter()
                .all(|f| f.tasks.iter().all(|t| t.state == TaskState::Lost)),
            "seed {seed}: {completed:?}"
        );
    }
}
