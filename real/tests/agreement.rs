//! `mesochaos real` compares its run with the simulation of the same scenario
//! and seed (`real/src/agreement.rs`). These tests make that comparison
//! fire — an update missing, heard out of order, a task left in another
//! state — and show what it forgives: a retransmitted update (same UUID),
//! and the IDs masters assign.

use mesochaos_harness::report::FinalState;
use mesochaos_harness::run::{run_recorded, RunOptions};
use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_real::agreement::{differences, Story};
use mesochaos_reference::{Event, TaskState};
use std::path::Path;

/// The simulation of master-failover, seed 1: its final state and records.
fn simulated() -> (FinalState, Vec<TraceRecord>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/master-failover.toml");
    let scenario = mesochaos_scenarios::load(&path).expect("the scenario parses");
    let (report, records) = run_recorded(&scenario.spec, 1, RunOptions::default());
    (report.final_state, records)
}

fn is_update(r: &TraceRecord) -> bool {
    matches!(
        &r.kind,
        TraceKind::Event {
            event: Event::UpdateReceived { .. }
        }
    )
}

#[test]
fn the_same_run_tells_the_same_story() {
    let (state, records) = simulated();
    let story = Story::of(&state, &records);
    assert!(!story.updates.is_empty() && !story.tasks.is_empty());
    assert_eq!(
        differences(&story, &Story::of(&state, &records)),
        Vec::<String>::new()
    );
}

#[test]
fn a_missing_update_is_a_difference_naming_the_task() {
    let (state, records) = simulated();
    let mut real = records.clone();
    let i = real.iter().position(is_update).unwrap();
    let TraceKind::Event {
        event: Event::UpdateReceived { task_id, .. },
    } = real.remove(i).kind
    else {
        unreachable!()
    };
    let found = differences(&Story::of(&state, &records), &Story::of(&state, &real));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains(task_id.as_str()), "{found:?}");
}

#[test]
fn updates_heard_in_another_order_are_a_difference() {
    let (state, records) = simulated();
    // Swap the first two updates of one task.
    let first = records.iter().position(is_update).unwrap();
    let task = |r: &TraceRecord| match &r.kind {
        TraceKind::Event {
            event: Event::UpdateReceived { task_id, .. },
        } => Some(task_id.clone()),
        _ => None,
    };
    let second = (first + 1..records.len())
        .find(|&j| task(&records[j]) == task(&records[first]))
        .unwrap();
    let mut real = records.clone();
    let (a, b) = (real[first].kind.clone(), real[second].kind.clone());
    real[first].kind = b;
    real[second].kind = a;
    assert_eq!(
        differences(&Story::of(&state, &records), &Story::of(&state, &real)).len(),
        1
    );
}

#[test]
fn a_retransmitted_update_is_not_a_difference() {
    let (state, records) = simulated();
    let mut real = records.clone();
    let i = real
        .iter()
        .position(|r| {
            matches!(
                &r.kind,
                TraceKind::Event {
                    event: Event::UpdateReceived { uuid: Some(_), .. }
                }
            )
        })
        .unwrap();
    let again = real[i].clone();
    real.insert(i + 1, again);
    assert_eq!(
        differences(&Story::of(&state, &records), &Story::of(&state, &real)),
        Vec::<String>::new()
    );
}

#[test]
fn a_task_left_in_another_state_is_a_difference_but_renamed_agents_are_not() {
    let (state, records) = simulated();
    let mut real = state.clone();
    for a in &mut real.agents {
        a.agent_id = format!("e7-{}", a.agent_id).as_str().into();
    }
    for t in &mut real.tasks {
        t.agent_id = format!("e7-{}", t.agent_id).as_str().into();
    }
    assert_eq!(
        differences(&Story::of(&state, &records), &Story::of(&real, &records)),
        Vec::<String>::new()
    );
    real.tasks[0].state = TaskState::Lost;
    let found = differences(&Story::of(&state, &records), &Story::of(&real, &records));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("the leader's tasks"), "{found:?}");
}

#[test]
fn a_reconciliation_answer_repeating_the_state_is_not_a_difference_but_one_changing_it_is() {
    use mesochaos_reference::Reason;
    let (state, records) = simulated();
    let i = records
        .iter()
        .rposition(|r| {
            matches!(
                &r.kind,
                TraceKind::Event {
                    event: Event::UpdateReceived {
                        state: TaskState::Running,
                        ..
                    }
                }
            )
        })
        .unwrap();
    let answer = |state: TaskState| {
        let mut r = records[i].clone();
        if let TraceKind::Event {
            event:
                Event::UpdateReceived {
                    state: s,
                    reason,
                    uuid,
                    ..
                },
        } = &mut r.kind
        {
            *s = state;
            *reason = Some(Reason::Reconciliation);
            *uuid = None; // the master's own answer
        }
        r
    };
    let mut repeat = records.clone();
    repeat.push(answer(TaskState::Running));
    assert_eq!(
        differences(&Story::of(&state, &records), &Story::of(&state, &repeat)),
        Vec::<String>::new()
    );
    let mut changed = records.clone();
    changed.push(answer(TaskState::Lost));
    assert_eq!(
        differences(&Story::of(&state, &records), &Story::of(&state, &changed)).len(),
        1
    );
}

#[test]
fn another_instance_active_at_the_end_is_not_a_difference_but_no_instance_is() {
    let (state, records) = simulated();
    let mut real = state.clone();
    real.frameworks[0].scheduler = Some("scheduler-web-9".into());
    assert_eq!(
        differences(&Story::of(&state, &records), &Story::of(&real, &records)),
        Vec::<String>::new()
    );
    real.frameworks[0].scheduler = None;
    assert_eq!(
        differences(&Story::of(&state, &records), &Story::of(&real, &records)).len(),
        1
    );
}
