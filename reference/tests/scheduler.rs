//! Black-box tests of the scheduler state machine: registration, keeping the
//! desired number of tasks, acknowledgements, replacement and surplus kills.

mod common;

use common::*;
use mesochaos_reference::framework::FrameworkInfo;
use mesochaos_reference::io::Command;
use mesochaos_reference::messages::{Message, Offer, Operation, ReconcileTask};
use mesochaos_reference::resources::RoleResources;
use mesochaos_reference::scheduler::{
    InstanceState, Scheduler, SchedulerConfig, SchedulerMode, SchedulerTimer, WorkloadPlan,
};
use mesochaos_reference::task::{StatusUpdate, TaskInfo, Workload};
use mesochaos_reference::{
    AgentId, Event, FrameworkId, Input, OfferId, Output, ProcessId, Reason, Resources, Source,
    TaskId, TaskState, Timing, UpdateUuid,
};

const NAME: &str = "scheduler-web";
const MASTER: &str = "master-1";

fn framework_info() -> FrameworkInfo {
    FrameworkInfo {
        name: "web".into(),
        role: "*".into(),
        principal: "web".into(),
        failover_timeout_ms: 60_000,
        partition_aware: false,
        id: None,
    }
}

fn scheduler(desired: u64) -> Scheduler {
    Scheduler::new(SchedulerConfig {
        name: NAME.into(),
        coordinator: coordinator(),
        framework: framework_info(),
        desired_tasks: desired,
        task_resources: cpus(1),
        workload: WorkloadPlan::uniform(Workload::Forever),
        timing: Timing::default(),
        mode: SchedulerMode::Service,
        bug: None,
        adversary: None,
    })
}

fn fid() -> FrameworkId {
    "e1-F0001".into()
}

fn offers(list: &[(&str, &str, u64)]) -> Message {
    Message::ResourceOffers {
        epoch: 1,
        offers: list
            .iter()
            .map(|(offer, agent, n)| Offer {
                offer_id: OfferId::from(*offer),
                framework_id: fid(),
                agent_id: AgentId::from(*agent),
                hostname: ProcessId::from(format!("host-{agent}").as_str()),
                resources: RoleResources::unreserved(cpus(*n)),
                volumes: vec![],
            })
            .collect(),
    }
}

fn update(task: &str, agent: &str, state: TaskState, uuid: Option<&str>) -> Message {
    Message::StatusUpdate {
        update: StatusUpdate {
            latest_state: None,
            framework_id: fid(),
            task_id: task.into(),
            agent_id: Some(agent.into()),
            state,
            reason: None,
            source: if uuid.is_some() {
                Source::Executor
            } else {
                Source::Master
            },
            uuid: uuid.map(UpdateUuid::from),
            message: None,
        },
    }
}

/// The tasks launched by the Accepts in `outs`, as (offer, task IDs).
fn launches(outs: &[Output<SchedulerTimer>]) -> Vec<(String, Vec<TaskInfo>)> {
    sent_to(outs, MASTER)
        .into_iter()
        .filter_map(|m| match m {
            Message::Accept {
                framework_id,
                offer_ids,
                operations,
            } => {
                assert_eq!(framework_id, fid());
                assert_eq!(offer_ids.len(), 1);
                let tasks = operations
                    .into_iter()
                    .flat_map(|operation| match operation {
                        Operation::Launch { tasks } => tasks,
                        _ => vec![],
                    })
                    .collect();
                Some((offer_ids[0].to_string(), tasks))
            }
            _ => None,
        })
        .collect()
}

fn launched_ids(outs: &[Output<SchedulerTimer>]) -> Vec<String> {
    launches(outs)
        .into_iter()
        .flat_map(|(_, tasks)| tasks.into_iter().map(|t| t.task_id.to_string()))
        .collect()
}

fn kills(outs: &[Output<SchedulerTimer>]) -> Vec<String> {
    sent_to(outs, MASTER)
        .into_iter()
        .filter_map(|m| match m {
            Message::Kill {
                framework_id,
                task_id,
            } => {
                assert_eq!(framework_id, fid());
                Some(task_id.to_string())
            }
            _ => None,
        })
        .collect()
}

/// A scheduler started against a coordinator where `master-1` leads at epoch 1,
/// connected to it (the registration is sent).
fn connected(desired: u64) -> (Rig<Scheduler>, Vec<Output<SchedulerTimer>>) {
    let mut rig = Rig::new(
        scheduler(desired),
        FakeCoordinator::new().with_master(1, MASTER),
    );
    let mut outs = rig.start();
    assert!(
        outs.contains(&Output::Connect { to: MASTER.into() }),
        "{outs:?}"
    );
    outs.extend(rig.connected(MASTER));
    (rig, outs)
}

fn registered(desired: u64) -> Rig<Scheduler> {
    let (mut rig, _) = connected(desired);
    rig.msg(
        MASTER,
        Message::FrameworkRegistered {
            epoch: 1,
            framework_id: fid(),
        },
    );
    assert_eq!(rig.role.registered_with(), Some((&MASTER.into(), 1)));
    rig
}

fn state_of(rig: &Rig<Scheduler>, task: &str) -> TaskState {
    rig.role.tasks()[&TaskId::from(task)].state
}

// Mesos: the scheduler driver detects the leading master and registers its
// framework; the master assigns the framework ID.
#[test]
fn scheduler_registers_with_the_detected_leader_and_adopts_the_assigned_id() {
    let (mut rig, outs) = connected(3);
    assert!(events(&outs).contains(&Event::LeaderDetected {
        leader: Some(MASTER.into()),
        epoch: Some(1)
    }));
    assert_eq!(
        sent_to(&outs, MASTER),
        vec![Message::RegisterFramework {
            info: framework_info()
        }]
    );
    assert!(timer_at(&outs, &SchedulerTimer::RegisterRetry).is_some());
    assert_eq!(rig.role.framework_id(), None);

    let outs = rig.msg(
        MASTER,
        Message::FrameworkRegistered {
            epoch: 1,
            framework_id: fid(),
        },
    );
    assert_eq!(rig.role.framework_id(), Some(&fid()));
    assert_eq!(rig.role.registered_with(), Some((&MASTER.into(), 1)));
    assert!(events(&outs).contains(&Event::SchedulerRegistered {
        framework_id: fid(),
        master: MASTER.into(),
        epoch: 1,
        reregistered: false
    }));
    assert!(outs.contains(&Output::CancelTimer {
        timer: SchedulerTimer::RegisterRetry
    }));
}

// Mesos: a registration retry after the framework has an ID re-registers under
// that same ID.
#[test]
fn scheduler_reregisters_under_its_framework_id_with_a_new_leader() {
    let mut rig = registered(1);
    rig.coord.masters = vec![candidate(2, "master-2")];
    let outs = rig.msg(
        COORDINATOR,
        Message::CoordWatch {
            path: mesochaos_reference::detector::MASTERS_PATH.into(),
            kind: mesochaos_reference::messages::WatchKind::ChildrenChanged,
        },
    );
    assert!(outs.contains(&Output::Disconnect {
        peer: MASTER.into()
    }));
    let outs = rig.connected("master-2");
    assert_eq!(
        sent_to(&outs, "master-2"),
        vec![Message::ReregisterFramework {
            info: FrameworkInfo {
                id: Some(fid()),
                ..framework_info()
            },
            failover: false
        }]
    );
    rig.msg(
        "master-2",
        Message::FrameworkReregistered {
            epoch: 2,
            framework_id: fid(),
        },
    );
    assert_eq!(rig.role.registered_with(), Some((&"master-2".into(), 2)));
    assert_eq!(rig.role.framework_id(), Some(&fid()));
}

// Mesos frameworks (Marathon): launch from offers until the desired number of
// tasks run, then decline what is not needed.
#[test]
fn scheduler_launches_from_offers_up_to_the_desired_count_and_declines_the_rest() {
    let mut rig = registered(3);
    let outs = rig.msg(MASTER, offers(&[("e1-O0001", "e1-S0001", 2)]));
    assert_eq!(launched_ids(&outs), ["web-0001", "web-0002"]);
    let (_, tasks) = &launches(&outs)[0];
    assert!(tasks.iter().all(|t| t.resources == cpus(1)));
    assert!(events(&outs).contains(&Event::SchedulerLaunching {
        task_id: "web-0001".into(),
        agent_id: "e1-S0001".into()
    }));

    // Two offers: the first covers the last needed task, the second is declined.
    let outs = rig.msg(
        MASTER,
        offers(&[("e1-O0002", "e1-S0002", 4), ("e1-O0003", "e1-S0003", 4)]),
    );
    let accepted = launches(&outs);
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].0, "e1-O0002");
    assert_eq!(launched_ids(&outs), ["web-0003"]);
    assert!(sent_to(&outs, MASTER).contains(&Message::Decline {
        framework_id: fid(),
        offer_ids: vec!["e1-O0003".into()],
        refuse_ms: Timing::default().offer_refuse_ms
    }));
    assert_eq!(rig.role.running_count(), 3);
    assert_eq!(rig.role.tasks().len(), 3);
    assert!(rig
        .role
        .tasks()
        .values()
        .all(|t| t.state == TaskState::Staging));

    // Enough run: a further offer is declined.
    let outs = rig.msg(MASTER, offers(&[("e1-O0004", "e1-S0001", 4)]));
    assert!(launches(&outs).is_empty());
    assert_eq!(
        sent_to(&outs, MASTER),
        vec![Message::Decline {
            framework_id: fid(),
            offer_ids: vec!["e1-O0004".into()],
            refuse_ms: Timing::default().offer_refuse_ms
        }]
    );
}

// Mesos: an offer too small for one task is declined.
#[test]
fn scheduler_declines_an_offer_too_small_for_a_task() {
    let mut rig = registered(1);
    let outs = rig.msg(
        MASTER,
        Message::ResourceOffers {
            epoch: 1,
            offers: vec![Offer {
                offer_id: "e1-O0001".into(),
                framework_id: fid(),
                agent_id: "e1-S0001".into(),
                hostname: "host-e1-S0001".into(),
                resources: RoleResources::unreserved(Resources::new(500, 4096, 0)),
                volumes: vec![],
            }],
        },
    );
    assert!(launches(&outs).is_empty());
    assert!(matches!(
        &sent_to(&outs, MASTER)[..],
        [Message::Decline { .. }]
    ));
}

// Mesos: a framework acknowledges every status update that carries a uuid
// (through the master, to the agent); master-made updates carry none.
#[test]
fn scheduler_acknowledges_updates_with_a_uuid_and_only_those() {
    let mut rig = registered(1);
    rig.msg(MASTER, offers(&[("e1-O0001", "e1-S0001", 1)]));

    let outs = rig.msg(
        MASTER,
        update(
            "web-0001",
            "e1-S0001",
            TaskState::Running,
            Some("web-0001#1"),
        ),
    );
    assert_eq!(
        sent_to(&outs, MASTER),
        vec![Message::Acknowledge {
            framework_id: fid(),
            agent_id: "e1-S0001".into(),
            task_id: "web-0001".into(),
            uuid: "web-0001#1".into()
        }]
    );
    assert!(events(&outs).contains(&Event::UpdateReceived {
        latest_state: None,
        uuid: Some("web-0001#1".into()),
        framework_id: fid(),
        task_id: "web-0001".into(),
        state: TaskState::Running,
        reason: None,
        source: Source::Executor
    }));
    assert_eq!(state_of(&rig, "web-0001"), TaskState::Running);

    // A reconciliation answer (no uuid) is not acknowledged.
    let outs = rig.msg(
        MASTER,
        update("web-0001", "e1-S0001", TaskState::Running, None),
    );
    assert!(sent_to(&outs, MASTER).is_empty());
}

// Mesos: after a definite failure (TASK_FAILED) the framework launches a
// replacement under a fresh task ID from the next offer.
#[test]
fn task_that_failed_is_replaced_from_the_next_offer_under_a_fresh_id() {
    let mut rig = registered(2);
    rig.msg(MASTER, offers(&[("e1-O0001", "e1-S0001", 2)]));
    for (task, uuid) in [("web-0001", "web-0001#1"), ("web-0002", "web-0002#1")] {
        rig.msg(
            MASTER,
            update(task, "e1-S0001", TaskState::Running, Some(uuid)),
        );
    }
    assert_eq!(rig.role.running_count(), 2);

    let outs = rig.msg(
        MASTER,
        update(
            "web-0001",
            "e1-S0001",
            TaskState::Failed,
            Some("web-0001#2"),
        ),
    );
    assert!(matches!(
        &sent_to(&outs, MASTER)[..],
        [Message::Acknowledge { uuid, .. }] if uuid.as_str() == "web-0001#2"
    ));
    assert!(launches(&outs).is_empty(), "replacements wait for an offer");
    assert_eq!(rig.role.running_count(), 1);

    let outs = rig.msg(MASTER, offers(&[("e1-O0002", "e1-S0002", 4)]));
    assert_eq!(launched_ids(&outs), ["web-0003"]);
    assert_eq!(state_of(&rig, "web-0001"), TaskState::Failed);
    assert_eq!(state_of(&rig, "web-0003"), TaskState::Staging);
    assert_eq!(rig.role.running_count(), 2);
}

// Mesos: TASK_LOST is indefinite; a framework replaces the task, and when the
// "lost" task comes back TASK_RUNNING (its agent re-registered) the framework
// kills the surplus, newest first.
#[test]
fn lost_task_that_comes_back_running_makes_the_scheduler_kill_the_newest_surplus_task() {
    let mut rig = registered(2);
    rig.msg(MASTER, offers(&[("e1-O0001", "e1-S0001", 2)]));
    for (task, uuid) in [("web-0001", "web-0001#1"), ("web-0002", "web-0002#1")] {
        rig.msg(
            MASTER,
            update(task, "e1-S0001", TaskState::Running, Some(uuid)),
        );
    }
    // The master loses sight of agent e1-S0001's web-0001.
    let outs = rig.msg(
        MASTER,
        update("web-0001", "e1-S0001", TaskState::Lost, None),
    );
    assert!(kills(&outs).is_empty());
    assert_eq!(rig.role.running_count(), 1);
    let outs = rig.msg(MASTER, offers(&[("e1-O0002", "e1-S0002", 1)]));
    assert_eq!(launched_ids(&outs), ["web-0003"]);
    rig.msg(
        MASTER,
        update(
            "web-0003",
            "e1-S0002",
            TaskState::Running,
            Some("web-0003#1"),
        ),
    );
    assert_eq!(rig.role.running_count(), 2);

    // The agent re-registers: web-0001 is running after all.
    let outs = rig.msg(
        MASTER,
        Message::StatusUpdate {
            update: StatusUpdate {
                latest_state: None,
                framework_id: fid(),
                task_id: "web-0001".into(),
                agent_id: Some("e1-S0001".into()),
                state: TaskState::Running,
                reason: Some(Reason::AgentReregistered),
                source: Source::Master,
                uuid: None,
                message: None,
            },
        },
    );
    assert_eq!(kills(&outs), ["web-0003"], "the newest task is the surplus");
    assert!(events(&outs).contains(&Event::SchedulerKilling {
        task_id: "web-0003".into()
    }));
    assert!(rig.role.tasks()[&TaskId::from("web-0003")].killing);
    assert_eq!(rig.role.running_count(), 2);

    // No second kill while the first is in progress.
    let outs = rig.msg(
        MASTER,
        update("web-0002", "e1-S0001", TaskState::Running, None),
    );
    assert!(kills(&outs).is_empty());
}

// Mesos: a scheduler acts only on messages from the master it is registered
// with.
#[test]
fn scheduler_ignores_offers_and_updates_from_a_master_it_is_not_registered_with() {
    let mut rig = registered(1);
    let outs = rig.msg("master-2", offers(&[("e2-O0001", "e2-S0001", 4)]));
    assert!(sends(&outs).is_empty());
    assert_eq!(ignored(&outs, "ResourceOffers").len(), 1);
    let outs = rig.msg(
        "master-2",
        update(
            "web-0001",
            "e2-S0001",
            TaskState::Running,
            Some("web-0001#1"),
        ),
    );
    assert!(sends(&outs).is_empty());
    assert_eq!(ignored(&outs, "StatusUpdate").len(), 1);
    assert!(rig.role.tasks().is_empty());
}

// Mesos: FrameworkError from the master aborts the scheduler driver.
#[test]
fn framework_error_from_the_master_stops_the_scheduler() {
    let mut rig = registered(1);
    let outs = rig.msg(
        MASTER,
        Message::FrameworkError {
            epoch: 1,
            message: "framework failed over".into(),
        },
    );
    assert!(events(&outs).contains(&Event::SchedulerError {
        message: "framework failed over".into()
    }));
    assert!(outs.contains(&Output::Disconnect {
        peer: MASTER.into()
    }));
    assert!(matches!(rig.role.instance(), InstanceState::Stopped { .. }));
    let outs = rig.msg(MASTER, offers(&[("e1-O0001", "e1-S0001", 4)]));
    assert!(sends(&outs).is_empty(), "a stopped scheduler does nothing");
}

// Mesos: explicit reconciliation names the task and the agent it was last on.
#[test]
fn reconcile_command_asks_the_master_about_named_tasks_with_their_agents() {
    let mut rig = registered(1);
    rig.msg(MASTER, offers(&[("e1-O0001", "e1-S0001", 1)]));
    let outs = rig.step(Input::Command(Command::Reconcile {
        task_ids: vec!["web-0001".into()],
        agents: Default::default(),
    }));
    assert_eq!(
        sent_to(&outs, MASTER),
        vec![Message::Reconcile {
            framework_id: fid(),
            tasks: vec![ReconcileTask {
                task_id: "web-0001".into(),
                agent_id: Some("e1-S0001".into())
            }]
        }]
    );
    // A question may name another agent ID than the one the scheduler knows.
    let outs = rig.step(Input::Command(Command::Reconcile {
        task_ids: vec!["web-0001".into()],
        agents: [("web-0001".into(), "e1-S0009".into())].into(),
    }));
    assert_eq!(
        sent_to(&outs, MASTER),
        vec![Message::Reconcile {
            framework_id: fid(),
            tasks: vec![ReconcileTask {
                task_id: "web-0001".into(),
                agent_id: Some("e1-S0009".into())
            }]
        }]
    );
}

// Mesos `driver.stop(failover = false)`: the scheduler tears its framework down
// (`TEARDOWN`) and stops; the master link stays open for the call to arrive.
#[test]
fn teardown_command_sends_teardown_and_stops_the_instance() {
    let mut rig = registered(1);
    let outs = rig.step(Input::Command(Command::Teardown));
    assert_eq!(
        sent_to(&outs, MASTER),
        vec![Message::Teardown {
            framework_id: fid()
        }]
    );
    assert!(!outs.iter().any(|o| matches!(o, Output::Disconnect { .. })));
    let outs = rig.msg(MASTER, offers(&[("e1-O0001", "e1-S0001", 1)]));
    assert!(
        launched_ids(&outs).is_empty(),
        "a stopped instance does nothing"
    );
}

// Mesos frameworks kill surplus tasks newest first (Marathon even prefers tasks
// that are still staging): when a lost task returns while its replacement is
// still TASK_STAGING, the replacement — not an older running task — is the one
// to kill.
#[test]
fn surplus_kill_prefers_the_newest_task_even_while_it_is_staging() {
    let mut rig = registered(2);
    rig.msg(MASTER, offers(&[("e1-O0001", "e1-S0001", 2)]));
    for (task, uuid) in [("web-0001", "web-0001#1"), ("web-0002", "web-0002#1")] {
        rig.msg(
            MASTER,
            update(task, "e1-S0001", TaskState::Running, Some(uuid)),
        );
    }
    rig.msg(
        MASTER,
        update("web-0001", "e1-S0001", TaskState::Lost, None),
    );
    let outs = rig.msg(MASTER, offers(&[("e1-O0002", "e1-S0002", 1)]));
    assert_eq!(launched_ids(&outs), ["web-0003"]);
    // web-0003 is still staging when web-0001 comes back.
    let outs = rig.msg(
        MASTER,
        update("web-0001", "e1-S0001", TaskState::Running, None),
    );
    assert_eq!(kills(&outs), ["web-0003"]);
}

// Task IDs are the framework's to give once: a launch intent that is not yet
// durable in the framework's state must not leave the instance, neither as an
// accept nor as a reconciliation request — if the instance died, a successor
// would read the old task counter and hand the same IDs out again, and the
// master's definite answer about the first use ("unknown": TASK_GONE) would
// contradict the second. (Found by the nemesis, seed 119 of nemesis-standard.)
#[test]
fn a_launch_whose_intent_is_not_durable_is_neither_sent_nor_reconciled() {
    let mut rig = registered(2);
    rig.auto_answer = false; // the coordinator stops answering: writes hang
    let outs = rig.msg(MASTER, offers(&[("e1-O0001", "e1-S0001", 2)]));
    assert!(launched_ids(&outs).is_empty(), "the accept waits: {outs:?}");
    assert_eq!(rig.role.tasks().len(), 2);
    let write = outs
        .iter()
        .find_map(|o| match o {
            Output::Send {
                message: Message::CoordRequest { xid, op, .. },
                ..
            } => Some((*xid, op.clone())),
            _ => None,
        })
        .expect("the state write");

    // The master link breaks and comes back: the scheduler re-registers and
    // reconciles what it knows — but not the two private launches.
    rig.step(Input::Disconnected {
        peer: MASTER.into(),
    });
    rig.timer(SchedulerTimer::RegisterRetry);
    let outs = rig.connected(MASTER);
    assert!(
        matches!(
            sent_to(&outs, MASTER).as_slice(),
            [Message::ReregisterFramework { .. }]
        ),
        "{outs:?}"
    );
    let outs = rig.msg(
        MASTER,
        Message::FrameworkReregistered {
            epoch: 1,
            framework_id: fid(),
        },
    );
    let asked: Vec<Message> = sent_to(&outs, MASTER)
        .into_iter()
        .filter(|m| matches!(m, Message::Reconcile { .. }))
        .collect();
    assert!(asked.is_empty(), "reconciled private launches: {asked:?}");

    // Once the write lands, the accept goes (to the master it is registered with).
    let (xid, op) = write;
    let result = rig.coord.answer(&op);
    let outs = rig.msg(COORDINATOR, Message::CoordResponse { xid, result });
    assert_eq!(launched_ids(&outs), ["web-0001", "web-0002"]);
}

// Mesos's reconciliation guide: a scheduler asks again about tasks it has no
// answer for, backing off exponentially — the master does not answer about a
// task on an agent that has not re-registered after a failover
// (`Master::reconcile`, case 2), so only a retry gets the answer.
#[test]
fn unanswered_reconciliation_is_retried_with_exponential_backoff() {
    let mut rig = registered(1);
    let outs = rig.msg(MASTER, offers(&[("e1-O0001", "e1-S0001", 1)]));
    assert_eq!(launched_ids(&outs), ["web-0001"]);
    rig.msg(
        MASTER,
        update("web-0001", "e1-S0001", TaskState::Running, Some("u1")),
    );
    // The master fails over; the instance re-registers with master-2.
    rig.coord.masters = vec![candidate(2, "master-2")];
    rig.msg(
        COORDINATOR,
        Message::CoordWatch {
            path: mesochaos_reference::detector::MASTERS_PATH.into(),
            kind: mesochaos_reference::messages::WatchKind::ChildrenChanged,
        },
    );
    rig.connected("master-2");
    let asks = |outs: &[Output<SchedulerTimer>]| {
        sent_to(outs, "master-2")
            .into_iter()
            .filter(|m| matches!(m, Message::Reconcile { tasks, .. } if tasks.len() == 1))
            .count()
    };
    let outs = rig.at(1_000).msg(
        "master-2",
        Message::FrameworkReregistered {
            epoch: 2,
            framework_id: fid(),
        },
    );
    assert_eq!(asks(&outs), 1);
    let first = Timing::default().status_update_retry_ms;
    assert_eq!(
        timer_at(&outs, &SchedulerTimer::ReconcileRetry),
        Some(1_000 + first)
    );
    let mut at = 1_000 + first;
    // Doubling, capped at the driver's backoff cap (`registration_backoff_max`).
    let cap = Timing::default().registration_backoff_max_ms;
    for wait in [2 * first, 4 * first, cap, cap] {
        let outs = rig.at(at).timer(SchedulerTimer::ReconcileRetry);
        assert_eq!(asks(&outs), 1, "asked again at {at}");
        assert_eq!(
            timer_at(&outs, &SchedulerTimer::ReconcileRetry),
            Some(at + wait)
        );
        at += wait;
    }
    // The answer comes: no more asking.
    let outs = rig.at(at).msg(
        "master-2",
        update("web-0001", "e1-S0001", TaskState::Running, None),
    );
    assert!(outs.contains(&Output::CancelTimer {
        timer: SchedulerTimer::ReconcileRetry
    }));
}
