//! The scenario's `[expect]` checks fire on a run that breaks them and hold
//! on one that keeps them: lost, ended or restarted tasks, failover and
//! rebuilt state, refused operations, checkpoints and update expectations.

use super::*;

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
