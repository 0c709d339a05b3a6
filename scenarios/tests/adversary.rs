//! The adversarial framework (reference/src/scheduler/adversary/mod.rs) through the
//! harness: deterministic from the seed, and every call answered as Mesos
//! answers it.

use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_harness::{run_recorded, RunOptions, Verdict};
use mesochaos_reference::Event;
use mesochaos_scenarios::{load, scenarios_dir};

fn calls_and_answers(records: &[TraceRecord]) -> (Vec<String>, Vec<(String, String, String)>) {
    let mut calls = Vec::new();
    let mut answers = Vec::new();
    for r in records {
        let TraceKind::Event { event } = &r.kind else {
            continue;
        };
        match event {
            Event::AdversaryCall { action, .. } => calls.push(action.clone()),
            Event::AdversaryAnswered {
                action,
                expected,
                answer,
                ..
            } => answers.push((action.clone(), expected.clone(), answer.clone())),
            _ => {}
        }
    }
    (calls, answers)
}

/// Determinism (DESIGN.md): the adversary's draws come from the seed alone, so
/// one seed gives one trace, and another seed another.
#[test]
fn an_adversarial_run_is_the_same_for_the_same_seed() {
    let scenario = load(&scenarios_dir().join("adversarial-framework.toml")).unwrap();
    let (a, ra) = run_recorded(&scenario.spec, 3, RunOptions::default());
    let (b, _) = run_recorded(&scenario.spec, 3, RunOptions::default());
    let (c, _) = run_recorded(&scenario.spec, 4, RunOptions::default());
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_ne!(a.trace_hash, c.trace_hash);
    let (calls, _) = calls_and_answers(&ra);
    assert!(calls.len() >= 10, "the adversary acted: {calls:?}");
}

/// Every call of the full mix, and what the master answered: the refused
/// reuses (`Master::_accept` → `validateUniqueTaskID`) end TASK_ERROR
/// (TASK_INVALID), the reuse of an acknowledged finished task's ID is accepted.
/// Every checker holds: they identify a task by its launch, not its ID alone
/// (`definite_is_final` and `update_delivery` start afresh at each launch; the
/// master's refusal of a reused ID ends the attempt, not the task).
#[test]
fn every_adversarial_call_is_answered_as_mesos_answers_it() {
    let mut scenario = load(&scenarios_dir().join("adversarial-framework.toml")).unwrap();
    let adversary = scenario.spec.cluster.frameworks[0]
        .adversary
        .as_mut()
        .expect("the file's framework is adversarial");
    adversary.actions.clear(); // every call
    let mut seen = std::collections::BTreeSet::new();
    for seed in 1..=3 {
        let (report, records) = run_recorded(&scenario.spec, seed, RunOptions::default());
        let (_, answers) = calls_and_answers(&records);
        for (action, expected, answer) in &answers {
            if answer == "no answer" {
                continue; // a question the master may leave unanswered (case 2), or lost
            }
            seen.insert(action.clone());
            match action.as_str() {
                "reuse_live_task_id"
                | "reuse_unacknowledged_task_id"
                | "reuse_unreachable_task_id"
                | "launch_with_another_role" => {
                    assert!(
                        answer.starts_with("TASK_ERROR (TASK_INVALID)"),
                        "{action}: {answer}"
                    )
                }
                "reuse_finished_task_id" => assert!(
                    !answer.starts_with("TASK_ERROR"),
                    "{action}: accepted expected, got {answer}"
                ),
                "launch_on_stale_offer" => {
                    assert!(
                        answer.starts_with("TASK_DROPPED (INVALID_OFFERS)"),
                        "{answer}"
                    )
                }
                "reserve_for_another_role" | "unreserve_another_role" => {
                    assert!(answer.starts_with("OperationError"), "{answer}")
                }
                "reconcile_unknown_task" | "reconcile_unknown_agent" => assert!(
                    answer.contains("(RECONCILIATION)") && !answer.contains("RUNNING"),
                    "{answer}"
                ),
                other => panic!("unexpected answer to {other}: {expected} / {answer}"),
            }
        }
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        assert_eq!(report.verdict, Verdict::Pass);
    }
    for action in [
        "reuse_live_task_id",
        "reuse_unacknowledged_task_id",
        "reuse_finished_task_id",
        "reconcile_unknown_agent",
    ] {
        assert!(
            seen.contains(action),
            "{action} was never answered: {seen:?}"
        );
    }
}
