//! The checkers of what frameworks hear and hold: `update_delivery` (every
//! update reaches its framework, in order, a new stream per launch),
//! `framework_identity` (one framework ID per framework until it is removed)
//! and `reserved_only_to_role` (reserved resources and volumes are offered to
//! their role only).

use super::*;

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
