//! Black-box tests of the master state machine: election, step-down,
//! re-registration after a failover, and offer accounting.

mod common;

use common::*;
use mesochaos_reference::coordinator_client::ClientTimer;
use mesochaos_reference::detector::MASTERS_PATH;
use mesochaos_reference::framework::FrameworkInfo;
use mesochaos_reference::master::{
    AgentView, FrameworkView, Master, MasterConfig, MasterTimer, Phase, RebuiltView,
    RemovedAgentPolicy, TaskView,
};
use mesochaos_reference::messages::{CoordOp, Offer, Operation, ReconcileTask, WatchKind};
use mesochaos_reference::registry::{
    AdmittedAgent, GoneAgent, Registry, UnreachableAgent, REGISTRY_PATH,
};
use mesochaos_reference::resources::{AgentResources, RoleResources};
use mesochaos_reference::task::{ReportedTask, StatusUpdate, TaskInfo, Workload};
use mesochaos_reference::{
    AgentId, Event, FrameworkId, Message, OfferId, Reason, Resources, SessionId, Source, TaskId,
    TaskState, Timing, UpdateUuid,
};
use mesochaos_reference::{Input, Output};
use std::collections::BTreeMap;

const AGENT: &str = "agent-1";
const SCHEDULER: &str = "scheduler-web";
const AGENT_TOTAL: Resources = Resources::new(4000, 8192, 1000);

fn master(name: &str) -> Master {
    Master::new(MasterConfig {
        name: name.into(),
        coordinator: coordinator(),
        timing: Timing::default(),
        removed_agent_policy: RemovedAgentPolicy::Reregister,
        bug: None,
    })
}

fn framework_info(id: Option<&str>) -> FrameworkInfo {
    FrameworkInfo {
        name: "web".into(),
        role: "*".into(),
        principal: "web".into(),
        failover_timeout_ms: 60_000,
        partition_aware: false,
        id: id.map(FrameworkId::from),
    }
}

fn task(id: &str, resources: Resources) -> TaskInfo {
    TaskInfo {
        task_id: id.into(),
        resources,
        role: "*".into(),
        volume: None,
        workload: Workload::Forever,
    }
}

/// A master started against `coord` and driven through its whole election.
fn started(name: &str, coord: FakeCoordinator) -> (Rig<Master>, Vec<Output<MasterTimer>>) {
    let mut rig = Rig::new(master(name), coord);
    let outs = rig.start();
    (rig, outs)
}

/// `master-1` elected (epoch 1) with an empty registry.
fn elected() -> Rig<Master> {
    let (mut rig, _) = started("master-1", FakeCoordinator::new());
    assert_eq!(rig.role.leading_epoch(), Some(1));
    keep_session(&mut rig);
    rig
}

/// The master's coordinator session stays alive as time moves on (its
/// heartbeats answered): a leader loses an expired session before anything
/// else it handles (`CoordinatorClient::expire_if_due`).
fn keep_session(rig: &mut Rig<Master>) {
    rig.keepalive = Some((Timing::default().zk_session_timeout_ms / 3, || {
        Input::Timer(MasterTimer::Coordinator(ClientTimer::Heartbeat))
    }));
}

/// An elected leader with `agent-1` (4 cpus) admitted and framework `web`
/// registered by `scheduler-web`.
fn leader_with_agent_and_framework() -> (Rig<Master>, AgentId, FrameworkId) {
    leader_with_agent_and(framework_info(None))
}

/// As [`leader_with_agent_and_framework`], with the framework registering `info`.
fn leader_with_agent_and(info: FrameworkInfo) -> (Rig<Master>, AgentId, FrameworkId) {
    let mut rig = elected();
    let outs = rig.msg(
        AGENT,
        Message::RegisterAgent {
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-1".into(),
        },
    );
    let agent_id = match &sent_to(&outs, AGENT)[..] {
        [Message::AgentRegistered { epoch: 1, agent_id }] => agent_id.clone(),
        other => panic!("expected AgentRegistered, got {other:?}"),
    };
    let outs = rig.msg(SCHEDULER, Message::RegisterFramework { info });
    let fid = match &sent_to(&outs, SCHEDULER)[..] {
        [Message::FrameworkRegistered {
            epoch: 1,
            framework_id,
        }] => framework_id.clone(),
        other => panic!("expected FrameworkRegistered, got {other:?}"),
    };
    (rig, agent_id, fid)
}

/// Runs the allocator and returns the offers sent to the scheduler.
fn allocate(rig: &mut Rig<Master>) -> Vec<Offer> {
    let outs = rig.timer(MasterTimer::Allocate);
    assert!(
        timer_at(&outs, &MasterTimer::Allocate).is_some(),
        "the allocator re-arms itself"
    );
    sent_to(&outs, SCHEDULER)
        .into_iter()
        .flat_map(|m| match m {
            Message::ResourceOffers { offers, .. } => offers,
            other => panic!("unexpected message to the scheduler: {other:?}"),
        })
        .collect()
}

fn accept(fid: &FrameworkId, offer: &OfferId, tasks: Vec<TaskInfo>) -> Message {
    Message::Accept {
        framework_id: fid.clone(),
        offer_ids: vec![offer.clone()],
        operations: vec![Operation::Launch { tasks }],
    }
}

fn updates_to_scheduler(outs: &[Output<MasterTimer>]) -> Vec<StatusUpdate> {
    sent_to(outs, SCHEDULER)
        .into_iter()
        .filter_map(|m| match m {
            Message::StatusUpdate { update } => Some(update),
            _ => None,
        })
        .collect()
}

fn run_tasks(outs: &[Output<MasterTimer>]) -> Vec<TaskInfo> {
    sent_to(outs, AGENT)
        .into_iter()
        .filter_map(|m| match m {
            Message::RunTask { task, .. } => Some(task),
            _ => None,
        })
        .collect()
}

fn used(rig: &Rig<Master>, agent_id: &AgentId) -> Resources {
    rig.role.leader().expect("leading").rebuilt_view().agents[agent_id]
        .used
        .sum()
}

// ----- election and step-down -----

// Mesos: the contender whose ephemeral sequential znode is lowest is elected and
// then recovers the registry before serving.
#[test]
fn master_with_lowest_candidacy_is_elected_and_reads_the_registry() {
    let (rig, outs) = started("master-1", FakeCoordinator::new());

    let ops = coord_ops(&outs);
    assert!(matches!(ops[0], CoordOp::CreateSession { .. }));
    assert!(ops.iter().any(|op| matches!(
        op,
        CoordOp::Create { data, ephemeral: true, sequential: true, .. } if data == "master-1"
    )));
    assert!(ops.iter().any(|op| matches!(
        op,
        CoordOp::GetChildren { path, watch: true } if path == MASTERS_PATH
    )));
    assert!(ops.iter().any(|op| matches!(
        op,
        CoordOp::GetData { path, .. } if path == REGISTRY_PATH
    )));
    let evs = events(&outs);
    assert!(evs.contains(&Event::MasterContending { sequence: 1 }));
    assert!(evs.contains(&Event::ElectedLeader { epoch: 1 }));
    assert!(evs.contains(&Event::LeaderRecovered {
        epoch: 1,
        admitted_agents: 0
    }));
    // Reading the registry comes after the election.
    let elected_at = outs
        .iter()
        .position(|o| matches!(o, Output::Event(Event::ElectedLeader { .. })))
        .unwrap();
    let read_at = outs
        .iter()
        .position(|o| {
            matches!(o, Output::Send {
                message: Message::CoordRequest { op: CoordOp::GetData { path, .. }, .. }, ..
            } if path == REGISTRY_PATH)
        })
        .unwrap();
    assert!(elected_at < read_at);

    let leader = rig.role.leader().expect("leading");
    assert_eq!(leader.epoch, 1);
    assert!(leader.recovered);
    assert_eq!(rig.role.candidacy(), Some(1));
    assert_eq!(
        timer_at(&outs, &MasterTimer::Allocate),
        Some(Timing::default().allocation_interval_ms)
    );
    assert!(exits(&outs).is_empty());
}

// Mesos: a contender that is not lowest waits in standby, and a standby master
// drops agent registrations (agents only talk to the detected leader).
#[test]
fn master_with_higher_candidacy_is_standby_and_ignores_agent_registration() {
    let (mut rig, outs) = started(
        "master-2",
        FakeCoordinator::new().with_master(1, "master-1"),
    );

    assert!(events(&outs).contains(&Event::MasterContending { sequence: 2 }));
    assert!(events(&outs).contains(&Event::MasterStandby {
        leader: Some("master-1".into())
    }));
    assert!(!has_event(&outs, |e| matches!(
        e,
        Event::ElectedLeader { .. }
    )));
    assert!(matches!(rig.role.phase(), Phase::Standby));
    assert!(rig.role.leader().is_none());
    // A standby never reads the registry.
    assert!(!coord_ops(&outs)
        .iter()
        .any(|op| matches!(op, CoordOp::GetData { .. })));

    let outs = rig.msg(
        AGENT,
        Message::RegisterAgent {
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-1".into(),
        },
    );
    assert!(
        sends(&outs).is_empty(),
        "a standby answers nothing: {outs:?}"
    );
    assert!(coord_ops(&outs).is_empty(), "and writes no registry");
    assert_eq!(ignored(&outs, "RegisterAgent").len(), 1);
}

// Mesos: when the leader's znode becomes the lowest (the old leader's session
// expired), the standby is elected.
#[test]
fn standby_is_elected_when_the_lower_candidacy_vanishes() {
    let (mut rig, _) = started(
        "master-2",
        FakeCoordinator::new().with_master(1, "master-1"),
    );
    assert!(rig.role.leader().is_none());

    rig.coord.masters.retain(|c| c.data != "master-1");
    let outs = rig.msg(
        COORDINATOR,
        Message::CoordWatch {
            path: MASTERS_PATH.into(),
            kind: WatchKind::ChildrenChanged,
        },
    );
    assert!(events(&outs).contains(&Event::ElectedLeader { epoch: 2 }));
    assert_eq!(rig.role.leading_epoch(), Some(2));
}

// Mesos: a leader that detects another leader "commits suicide" rather than risk
// two leaders acting together.
#[test]
fn leader_that_sees_another_candidacy_lowest_exits() {
    let (mut rig, _) = started("master-2", FakeCoordinator::new().with_next_sequence(5));
    assert_eq!(rig.role.leading_epoch(), Some(5));

    rig.coord.masters.push(candidate(3, "master-1"));
    let outs = rig.msg(
        COORDINATOR,
        Message::CoordWatch {
            path: MASTERS_PATH.into(),
            kind: WatchKind::ChildrenChanged,
        },
    );
    assert_eq!(exits(&outs).len(), 1, "{outs:?}");
    assert!(matches!(rig.role.phase(), Phase::Exited));
    assert!(rig.role.leader().is_none());

    // An exited master handles nothing more.
    let outs = rig.msg(
        AGENT,
        Message::RegisterAgent {
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-1".into(),
        },
    );
    assert!(outs.is_empty());
}

// Mesos: the leading master exits when its ZooKeeper session expires (its
// candidacy znode is deleted with it).
#[test]
fn leader_exits_when_the_coordinator_expires_its_session() {
    let mut rig = elected();
    let outs = rig.at(4_000).msg(
        COORDINATOR,
        Message::CoordSessionExpired {
            session: SessionId(0x100),
        },
    );
    assert!(events(&outs).contains(&Event::CoordSessionLost {
        session: SessionId(0x100),
        locally: false
    }));
    assert_eq!(exits(&outs).len(), 1, "{outs:?}");
    assert!(matches!(rig.role.phase(), Phase::Exited));
}

// A leader paused (SIGSTOP, a long GC) past its session deadline wakes with
// every timer overdue; the health check's ping timer was due first. It must
// not ping from a session the coordinator has expired (a standby may lead
// already): the session is lost, and the master exits, before the ping.
// (Mesos has this window; the reference closes it — `expire_if_due`.)
#[test]
fn a_leader_woken_past_its_session_deadline_exits_before_acting() {
    let (mut rig, agent_id, _) = leader_with_agent_and_framework();
    rig.keepalive = None; // paused: no heartbeat goes out
    let asleep = Timing::default().zk_session_timeout_ms + 5_000;
    let outs = rig
        .at(rig.now + asleep)
        .timer(MasterTimer::Ping(agent_id.clone()));
    assert!(sent_to(&outs, AGENT).is_empty(), "{outs:?}");
    assert_eq!(exits(&outs).len(), 1, "{outs:?}");
    assert!(matches!(rig.role.phase(), Phase::Exited));
}

// Mesos: a master partitioned from ZooKeeper times its session out locally and
// exits, no later than the coordinator could expire it.
#[test]
fn leader_exits_when_its_session_deadline_passes_without_an_answer() {
    let (mut rig, outs) = started("master-1", FakeCoordinator::new());
    let deadline = timer_at(
        &outs,
        &MasterTimer::Coordinator(ClientTimer::SessionDeadline),
    )
    .expect("a session deadline is armed");
    assert_eq!(deadline, Timing::default().zk_session_timeout_ms);

    // Just before the deadline nothing happens.
    let outs = rig
        .at(deadline - 1)
        .timer(MasterTimer::Coordinator(ClientTimer::SessionDeadline));
    assert!(exits(&outs).is_empty());
    assert!(rig.role.leader().is_some());

    let outs = rig
        .at(deadline)
        .timer(MasterTimer::Coordinator(ClientTimer::SessionDeadline));
    assert!(has_event(&outs, |e| matches!(
        e,
        Event::CoordSessionLost { locally: true, .. }
    )));
    assert_eq!(exits(&outs).len(), 1, "{outs:?}");
    assert!(rig.role.leader().is_none());
}

// Mesos: a registry write refused by the versioned compare-and-set means another
// master wrote it, so this leader exits.
#[test]
fn leader_exits_when_its_registry_write_is_refused() {
    let mut rig = elected();
    // Another master wrote the registry behind this leader's back.
    rig.coord.registry = Some((Registry::default().encode(), 7));
    let outs = rig.msg(
        AGENT,
        Message::RegisterAgent {
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-1".into(),
        },
    );
    assert!(sent_to(&outs, AGENT).is_empty(), "agent not admitted");
    assert_eq!(exits(&outs).len(), 1, "{outs:?}");
}

// ----- re-registration after a failover -----

fn registry_with_agent(agent_id: &str) -> Registry {
    let mut registry = Registry::default();
    registry.admitted.insert(
        agent_id.into(),
        AdmittedAgent {
            process: AGENT.into(),
            resources: AGENT_TOTAL,
        },
    );
    registry
}

fn reported(id: &str, resources: Resources, state: TaskState) -> ReportedTask {
    ReportedTask {
        framework_id: "e1-F0001".into(),
        info: task(id, resources),
        state,
        status_update_state: None,
    }
}

/// A new leader (master-2, epoch 2) whose registry lists agent `e1-S0001`.
fn new_leader_after_failover() -> (Rig<Master>, Vec<Output<MasterTimer>>) {
    let coord = FakeCoordinator::new()
        .with_next_sequence(2)
        .with_registry(&registry_with_agent("e1-S0001"), 3);
    let (mut rig, outs) = started("master-2", coord);
    keep_session(&mut rig);
    (rig, outs)
}

// Mesos: a new leader rebuilds frameworks and tasks from agents' re-registrations;
// a framework known only from an agent stays inactive until its scheduler
// re-registers under the same ID.
#[test]
fn new_leader_merges_a_reregistering_agents_tasks_and_then_the_framework() {
    let (mut rig, outs) = new_leader_after_failover();
    assert!(events(&outs).contains(&Event::LeaderRecovered {
        epoch: 2,
        admitted_agents: 1
    }));
    assert_eq!(
        timer_at(&outs, &MasterTimer::AgentReregisterTimeout),
        Some(Timing::default().agent_reregister_timeout_ms)
    );

    let agent_id = AgentId::from("e1-S0001");
    let fid = FrameworkId::from("e1-F0001");
    let outs = rig.at(100).msg(
        AGENT,
        Message::ReregisterAgent {
            agent_id: agent_id.clone(),
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-1".into(),
            frameworks: vec![framework_info(Some("e1-F0001"))],
            tasks: vec![
                reported(
                    "web-0001",
                    Resources::new(1000, 1024, 0),
                    TaskState::Running,
                ),
                reported("web-0002", Resources::new(500, 512, 10), TaskState::Staging),
                // Terminal but not acknowledged yet: known, using nothing.
                reported(
                    "web-0003",
                    Resources::new(1000, 1024, 0),
                    TaskState::Finished,
                ),
            ],
        },
    );
    assert_eq!(
        sent_to(&outs, AGENT),
        vec![Message::AgentReregistered {
            epoch: 2,
            agent_id: agent_id.clone()
        }]
    );
    assert!(events(&outs).contains(&Event::AgentReregistered {
        agent_id: agent_id.clone(),
        agent: AGENT.into(),
        tasks: 3
    }));
    assert_eq!(
        timer_at(&outs, &MasterTimer::Ping(agent_id.clone())),
        Some(100)
    );
    assert!(
        coord_ops(&outs).is_empty(),
        "an admitted agent needs no registry write"
    );
    assert!(sent_to(&outs, SCHEDULER).is_empty(), "no scheduler yet");

    let tasks = |active| FrameworkView {
        name: "web".into(),
        role: "*".into(),
        principal: "web".into(),
        active,
        tasks: BTreeMap::from([
            (
                TaskId::from("web-0001"),
                TaskView {
                    agent_id: agent_id.clone(),
                    state: TaskState::Running,
                    resources: Resources::new(1000, 1024, 0),
                },
            ),
            (
                TaskId::from("web-0002"),
                TaskView {
                    agent_id: agent_id.clone(),
                    state: TaskState::Staging,
                    resources: Resources::new(500, 512, 10),
                },
            ),
            (
                TaskId::from("web-0003"),
                TaskView {
                    agent_id: agent_id.clone(),
                    state: TaskState::Finished,
                    resources: Resources::new(1000, 1024, 0),
                },
            ),
        ]),
    };
    let agents = BTreeMap::from([(
        agent_id.clone(),
        AgentView {
            process: AGENT.into(),
            total: RoleResources::unreserved(AGENT_TOTAL),
            used: RoleResources::unreserved(Resources::new(1500, 1536, 10)),
            volumes: BTreeMap::new(),
        },
    )]);
    assert_eq!(
        rig.role.leader().unwrap().rebuilt_view(),
        RebuiltView {
            agents: agents.clone(),
            frameworks: BTreeMap::from([(fid.clone(), tasks(false))]),
        }
    );

    // The scheduler re-registers under the same framework ID.
    let outs = rig.at(200).msg(
        SCHEDULER,
        Message::ReregisterFramework {
            info: framework_info(Some("e1-F0001")),
            failover: false,
        },
    );
    assert_eq!(
        sent_to(&outs, SCHEDULER),
        vec![Message::FrameworkReregistered {
            epoch: 2,
            framework_id: fid.clone()
        }]
    );
    assert!(events(&outs).contains(&Event::FrameworkReregistered {
        framework_id: fid.clone(),
        scheduler: SCHEDULER.into(),
        failover: false
    }));
    assert_eq!(
        rig.role.leader().unwrap().rebuilt_view(),
        RebuiltView {
            agents,
            frameworks: BTreeMap::from([(fid.clone(), tasks(true))]),
        }
    );

    // Offers now count the merged tasks as used.
    let offers = allocate(rig.at(1_000));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].framework_id, fid);
    assert_eq!(offers[0].agent_id, agent_id);
    assert_eq!(offers[0].resources.sum(), Resources::new(2500, 6656, 990));
}

// Mesos: agents listed in the registry that do not re-register within
// agent_reregister_timeout are marked unreachable.
#[test]
fn agent_that_misses_the_reregistration_window_is_marked_unreachable() {
    let (mut rig, outs) = new_leader_after_failover();
    let window = timer_at(&outs, &MasterTimer::AgentReregisterTimeout).unwrap();
    let outs = rig.at(window).timer(MasterTimer::AgentReregisterTimeout);
    assert!(events(&outs).contains(&Event::AgentUnreachable {
        agent_id: "e1-S0001".into()
    }));
    let registry = rig.coord.registry().unwrap();
    assert!(registry.admitted.is_empty());
    assert!(registry
        .unreachable
        .contains_key(&AgentId::from("e1-S0001")));
}

/// Agent `e1-S0001` re-registering with `web-0001` reported TASK_FINISHED.
fn reregister_reporting_web_0001_finished() -> Message {
    Message::ReregisterAgent {
        agent_id: "e1-S0001".into(),
        resources: AgentResources::unreserved(AGENT_TOTAL),
        boot_id: "boot-1".into(),
        frameworks: vec![framework_info(Some("e1-F0001"))],
        tasks: vec![reported("web-0001", cpus(1), TaskState::Finished)],
    }
}

/// A new leader to which agent `e1-S0001` re-registered reporting `web-0001` as
/// TASK_FINISHED while its update stream still holds [RUNNING #2, FINISHED #3]
/// (the task ran and finished while no leader relayed acknowledgements), and
/// whose scheduler has re-registered.
fn leader_with_a_replaying_agent() -> Rig<Master> {
    let (mut rig, _) = new_leader_after_failover();
    rig.msg(AGENT, reregister_reporting_web_0001_finished());
    rig.msg(
        SCHEDULER,
        Message::ReregisterFramework {
            info: framework_info(Some("e1-F0001")),
            failover: false,
        },
    );
    rig
}

/// An update the agent replays from its stream; it carries the task's latest
/// state at the agent (finished), as the agent sends it.
fn replayed(state: TaskState, n: u32) -> Message {
    Message::StatusUpdate {
        update: StatusUpdate {
            latest_state: Some(TaskState::Finished),
            framework_id: "e1-F0001".into(),
            task_id: "web-0001".into(),
            agent_id: Some("e1-S0001".into()),
            state,
            reason: None,
            source: Source::Executor,
            uuid: Some(UpdateUuid::new(format!("web-0001#{n}"))),
            message: None,
        },
    }
}

/// The executor's update `web-0001#n` of `web-0001` in `state`, as the agent
/// forwards it (with the task's `latest` state at the agent).
fn web_0001_update(
    fid: &FrameworkId,
    agent_id: &AgentId,
    state: TaskState,
    latest: TaskState,
    n: u32,
) -> Message {
    Message::StatusUpdate {
        update: StatusUpdate {
            latest_state: Some(latest),
            framework_id: fid.clone(),
            task_id: "web-0001".into(),
            agent_id: Some(agent_id.clone()),
            state,
            reason: None,
            source: Source::Executor,
            uuid: Some(UpdateUuid::new(format!("web-0001#{n}"))),
            message: None,
        },
    }
}

fn acknowledge(n: u32) -> Message {
    Message::Acknowledge {
        framework_id: "e1-F0001".into(),
        agent_id: "e1-S0001".into(),
        task_id: "web-0001".into(),
        uuid: UpdateUuid::new(format!("web-0001#{n}")),
    }
}

/// (agent used, sum of the active tasks' resources, web-0001's state).
fn accounting(rig: &Rig<Master>) -> (Resources, Resources, TaskState) {
    let view = rig.role.leader().unwrap().rebuilt_view();
    let fw = &view.frameworks[&FrameworkId::from("e1-F0001")];
    let active = fw
        .tasks
        .values()
        .filter(|t| t.state.is_active())
        .fold(Resources::default(), |acc, t| acc.plus(&t.resources));
    (
        view.agents[&AgentId::from("e1-S0001")].used.sum(),
        active,
        fw.tasks[&TaskId::from("web-0001")].state,
    )
}

// Mesos (Master::updateTask applies StatusUpdate.latest_state): after a
// re-registration that reported a task's latest state, the agent's replay of an
// older unacknowledged update must not regress the task in the master, and the
// agent's `used` must keep equalling its active tasks' resources.
#[test]
fn replayed_older_update_does_not_regress_a_task_reported_finished() {
    let mut rig = leader_with_a_replaying_agent();
    assert_eq!(
        accounting(&rig),
        (
            Resources::default(),
            Resources::default(),
            TaskState::Finished
        )
    );
    let outs = rig.msg(AGENT, replayed(TaskState::Running, 2));
    assert_eq!(updates_to_scheduler(&outs).len(), 1, "still forwarded");
    let (used_now, active_now, state_now) = accounting(&rig);
    assert_eq!(
        used_now, active_now,
        "used must equal the active tasks' resources (task state now {state_now})"
    );
    assert_eq!(
        state_now,
        TaskState::Finished,
        "no regression to an older state"
    );
}

// Mesos: replaying an agent's unacknowledged stream to a new leader (the normal
// failover path) must never crash the master's resource accounting.
#[test]
fn replaying_an_agents_stream_after_failover_does_not_crash_the_master() {
    let mut rig = leader_with_a_replaying_agent();
    rig.msg(AGENT, replayed(TaskState::Running, 2));
    rig.msg(SCHEDULER, acknowledge(2));
    let outs = rig.msg(AGENT, replayed(TaskState::Finished, 3));
    assert_eq!(updates_to_scheduler(&outs).len(), 1);
    let (used_now, active_now, state_now) = accounting(&rig);
    assert_eq!(state_now, TaskState::Finished);
    assert_eq!(used_now, active_now);
    assert_eq!(used_now, Resources::default());
}

// Mesos (Master::reconcileKnownSlave): a re-registration of an agent already
// registered with this leader — a retry, or a stale duplicate — reconciles the
// tasks the master knows; it does not bring back a terminal task whose update
// the framework has acknowledged since (the master removed it, the agent has
// dropped its stream, so nothing would ever remove it again). Found under the
// `message_stress` nemesis (a duplicated ReregisterAgent).
#[test]
fn a_repeated_reregistration_does_not_resurrect_an_acknowledged_terminal_task() {
    let mut rig = leader_with_a_replaying_agent();
    rig.msg(AGENT, replayed(TaskState::Running, 2));
    rig.msg(SCHEDULER, acknowledge(2));
    rig.msg(AGENT, replayed(TaskState::Finished, 3));
    rig.msg(SCHEDULER, acknowledge(3));
    let fid = FrameworkId::from("e1-F0001");
    let known = |rig: &Rig<Master>| {
        rig.role.leader().unwrap().rebuilt_view().frameworks[&fid]
            .tasks
            .contains_key(&TaskId::from("web-0001"))
    };
    assert!(
        !known(&rig),
        "removed once its terminal update is acknowledged"
    );
    rig.msg(AGENT, reregister_reporting_web_0001_finished());
    assert!(!known(&rig), "a repeated re-registration brought it back");
}

// The same duplicate arriving *before* the acknowledgement must not reset what
// the master waits for: the acknowledgement still removes the task.
#[test]
fn a_repeated_reregistration_before_the_acknowledgement_keeps_the_masters_task() {
    let mut rig = leader_with_a_replaying_agent();
    rig.msg(AGENT, replayed(TaskState::Running, 2));
    rig.msg(SCHEDULER, acknowledge(2));
    rig.msg(AGENT, replayed(TaskState::Finished, 3));
    rig.msg(AGENT, reregister_reporting_web_0001_finished());
    rig.msg(SCHEDULER, acknowledge(3));
    let view = rig.role.leader().unwrap().rebuilt_view();
    assert!(
        !view.frameworks[&FrameworkId::from("e1-F0001")]
            .tasks
            .contains_key(&TaskId::from("web-0001")),
        "the acknowledgement of the terminal update removes the task"
    );
}

// ----- offers -----

// Mesos: every allocation interval the allocator offers each agent's free
// resources to an active framework.
#[test]
fn allocation_offers_an_agents_free_resources_to_the_active_framework() {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let offers = allocate(rig.at(1_000));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].framework_id, fid);
    assert_eq!(offers[0].agent_id, agent_id);
    assert_eq!(offers[0].resources.sum(), AGENT_TOTAL);
    // Offered resources are not offered twice.
    assert!(allocate(rig.at(2_000)).is_empty());
}

// Mesos: accepting an offer with a launch turns offered resources into tasks
// (TASK_STAGING) and sends RunTask to the agent.
#[test]
fn accepting_an_offer_sends_run_task_and_accounts_used_resources() {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let offer = allocate(rig.at(1_000)).remove(0);
    let outs = rig.at(1_100).msg(
        SCHEDULER,
        accept(
            &fid,
            &offer.offer_id,
            vec![task("web-0001", cpus(1)), task("web-0002", cpus(1))],
        ),
    );
    let launched = run_tasks(&outs);
    assert_eq!(
        launched
            .iter()
            .map(|t| t.task_id.as_str())
            .collect::<Vec<_>>(),
        ["web-0001", "web-0002"]
    );
    assert!(sent_to(&outs, AGENT).iter().all(|m| matches!(
        m,
        Message::RunTask { epoch: 1, framework, .. } if framework.id.as_ref() == Some(&fid)
    )));
    assert!(events(&outs).contains(&Event::TaskLaunched {
        framework_id: fid.clone(),
        task_id: "web-0001".into(),
        agent_id: agent_id.clone()
    }));
    assert!(updates_to_scheduler(&outs).is_empty());
    assert_eq!(used(&rig, &agent_id), cpus(2));
    let view = rig.role.leader().unwrap().rebuilt_view();
    assert_eq!(
        view.frameworks[&fid].tasks[&TaskId::from("web-0002")].state,
        TaskState::Staging
    );

    // The unused part returns to the pool; once the accept's filter (the default
    // refuse time) has passed it is offered again, minus what the tasks use.
    let refuse = Timing::default().offer_refuse_ms;
    let offers = allocate(rig.at(1_100 + refuse));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources.sum(), AGENT_TOTAL.minus_exact(&cpus(2)));
}

// Mesos `validation::offer::validateUniqueOfferID`: an Accept naming one offer
// twice is invalid as a whole — each task TASK_LOST (REASON_INVALID_OFFERS),
// nothing launched, the offer gone. (The reference used to accept it; found
// while checking the adversarial framework's calls against Mesos.)
#[test]
fn accept_naming_an_offer_twice_gets_invalid_offers_and_launches_nothing() {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let offer = allocate(rig.at(1_000)).remove(0);
    let outs = rig.msg(
        SCHEDULER,
        Message::Accept {
            framework_id: fid.clone(),
            offer_ids: vec![offer.offer_id.clone(), offer.offer_id.clone()],
            operations: vec![Operation::Launch {
                tasks: vec![task("web-0001", cpus(1))],
            }],
        },
    );
    assert!(run_tasks(&outs).is_empty(), "nothing launched: {outs:?}");
    let updates = updates_to_scheduler(&outs);
    assert_eq!(updates.len(), 1, "{outs:?}");
    assert_eq!(updates[0].state, TaskState::Lost);
    assert_eq!(updates[0].reason, Some(Reason::InvalidOffers));
    assert_eq!(used(&rig, &agent_id), Resources::default());
    assert!(rig.role.leader().unwrap().offers.is_empty());
}

// Mesos: an Accept naming an offer that no longer exists is answered with
// TASK_LOST (REASON_INVALID_OFFERS) for each task, and nothing is launched.
#[test]
fn accept_reusing_a_consumed_offer_gets_task_lost_invalid_offers_and_launches_nothing() {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let offer = allocate(rig.at(1_000)).remove(0);
    let outs = rig.msg(
        SCHEDULER,
        accept(&fid, &offer.offer_id, vec![task("web-0001", cpus(1))]),
    );
    assert_eq!(run_tasks(&outs).len(), 1);

    let outs = rig.msg(
        SCHEDULER,
        accept(&fid, &offer.offer_id, vec![task("web-0002", cpus(1))]),
    );
    assert!(run_tasks(&outs).is_empty(), "nothing launched: {outs:?}");
    assert!(!has_event(&outs, |e| matches!(
        e,
        Event::TaskLaunched { .. }
    )));
    let updates = updates_to_scheduler(&outs);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].task_id, TaskId::from("web-0002"));
    assert_eq!(updates[0].state, TaskState::Lost);
    assert_eq!(updates[0].reason, Some(Reason::InvalidOffers));
    assert_eq!(updates[0].source, Source::Master);
    assert_eq!(
        updates[0].uuid, None,
        "master-made updates are not acknowledged"
    );
    assert_eq!(used(&rig, &agent_id), cpus(1));
    let view = rig.role.leader().unwrap().rebuilt_view();
    assert!(!view.frameworks[&fid]
        .tasks
        .contains_key(&TaskId::from("web-0002")));
}

// Mesos: declining returns the offer's resources and filters the agent for that
// framework for refuse_seconds.
#[test]
fn declined_resources_return_and_the_agent_is_filtered_until_the_refuse_time() {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let offer = allocate(rig.at(1_000)).remove(0);
    let outs = rig.at(1_500).msg(
        SCHEDULER,
        Message::Decline {
            framework_id: fid.clone(),
            offer_ids: vec![offer.offer_id.clone()],
            refuse_ms: 10_000,
        },
    );
    assert!(sends(&outs).is_empty());
    assert_eq!(used(&rig, &agent_id), Resources::default());

    // Filtered until 11.5 s.
    assert!(allocate(rig.at(2_000)).is_empty());
    assert!(allocate(rig.at(11_499)).is_empty());
    let offers = allocate(rig.at(11_500));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id, agent_id);
    assert_eq!(
        offers[0].resources.sum(),
        AGENT_TOTAL,
        "all resources came back"
    );
    assert_ne!(offers[0].offer_id, offer.offer_id, "a fresh offer");

    // The declined offer is gone: accepting it now is refused.
    let outs = rig.msg(
        SCHEDULER,
        accept(&fid, &offer.offer_id, vec![task("web-0001", cpus(1))]),
    );
    assert!(run_tasks(&outs).is_empty());
    assert_eq!(updates_to_scheduler(&outs)[0].state, TaskState::Lost);
}

// Mesos: a declined agent is filtered only for the declining framework; another
// framework is offered those resources at the next allocation.
#[test]
fn declined_resources_are_offered_to_another_framework_meanwhile() {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let outs = rig.msg(
        "scheduler-db",
        Message::RegisterFramework {
            info: FrameworkInfo {
                name: "db".into(),
                principal: "db".into(),
                ..framework_info(None)
            },
        },
    );
    let db = match &sent_to(&outs, "scheduler-db")[..] {
        [Message::FrameworkRegistered { framework_id, .. }] => framework_id.clone(),
        other => panic!("{other:?}"),
    };
    // Ties go to the smallest ID: web (e1-F0001) gets the first offer.
    let offer = allocate(rig.at(1_000)).remove(0);
    assert_eq!(offer.framework_id, fid);
    rig.msg(
        SCHEDULER,
        Message::Decline {
            framework_id: fid.clone(),
            offer_ids: vec![offer.offer_id],
            refuse_ms: 10_000,
        },
    );
    let outs = rig.at(2_000).timer(MasterTimer::Allocate);
    assert!(sent_to(&outs, SCHEDULER).is_empty());
    match &sent_to(&outs, "scheduler-db")[..] {
        [Message::ResourceOffers { offers, .. }] => {
            assert_eq!(offers.len(), 1);
            assert_eq!(offers[0].framework_id, db);
            assert_eq!(offers[0].agent_id, agent_id);
            assert_eq!(offers[0].resources.sum(), AGENT_TOTAL);
        }
        other => panic!("expected an offer to db: {other:?}"),
    }
}

// Mesos: a task asking for more resources than its offers hold fails validation
// with TASK_ERROR (REASON_TASK_INVALID) and never reaches the agent.
#[test]
fn task_larger_than_its_offer_gets_task_error_and_is_not_launched() {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let offer = allocate(rig.at(1_000)).remove(0);
    let outs = rig.msg(
        SCHEDULER,
        accept(
            &fid,
            &offer.offer_id,
            vec![
                task("web-0001", Resources::new(5000, 1024, 0)),
                task("web-0002", cpus(1)),
            ],
        ),
    );
    let launched = run_tasks(&outs);
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].task_id, TaskId::from("web-0002"));
    let updates = updates_to_scheduler(&outs);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].task_id, TaskId::from("web-0001"));
    assert_eq!(updates[0].state, TaskState::Error);
    assert_eq!(updates[0].reason, Some(Reason::TaskInvalid));
    assert_eq!(used(&rig, &agent_id), cpus(1));
    let view = rig.role.leader().unwrap().rebuilt_view();
    assert!(!view.frameworks[&fid]
        .tasks
        .contains_key(&TaskId::from("web-0001")));
}

// Mesos: the master forwards an agent's status update to the framework, relays
// the acknowledgement to the agent, and frees the task's resources once it ends.
#[test]
fn status_updates_are_forwarded_and_acknowledgements_relayed_to_the_agent() {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let offer = allocate(rig.at(1_000)).remove(0);
    rig.msg(
        SCHEDULER,
        accept(&fid, &offer.offer_id, vec![task("web-0001", cpus(1))]),
    );
    let update = StatusUpdate {
        latest_state: None,
        framework_id: fid.clone(),
        task_id: "web-0001".into(),
        agent_id: Some(agent_id.clone()),
        state: TaskState::Failed,
        reason: None,
        source: Source::Executor,
        uuid: Some(UpdateUuid::new("web-0001#1")),
        message: None,
    };
    let outs = rig.msg(
        AGENT,
        Message::StatusUpdate {
            update: update.clone(),
        },
    );
    assert_eq!(updates_to_scheduler(&outs), vec![update]);
    assert_eq!(used(&rig, &agent_id), Resources::default());

    let outs = rig.msg(
        SCHEDULER,
        Message::Acknowledge {
            framework_id: fid.clone(),
            agent_id: agent_id.clone(),
            task_id: "web-0001".into(),
            uuid: UpdateUuid::new("web-0001#1"),
        },
    );
    assert_eq!(
        sent_to(&outs, AGENT),
        vec![Message::StatusUpdateAcknowledgement {
            epoch: 1,
            framework_id: fid.clone(),
            task_id: "web-0001".into(),
            uuid: UpdateUuid::new("web-0001#1"),
        }]
    );
    // The acknowledged terminal task is retired.
    let view = rig.role.leader().unwrap().rebuilt_view();
    assert!(view.frameworks[&fid].tasks.is_empty());
}

// Mesos: an Accept from a process that is not the framework's registered
// scheduler is ignored.
#[test]
fn accept_from_a_process_that_is_not_the_frameworks_scheduler_is_ignored() {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let offer = allocate(rig.at(1_000)).remove(0);
    let outs = rig.msg(
        "scheduler-impostor",
        accept(&fid, &offer.offer_id, vec![task("web-0001", cpus(1))]),
    );
    assert!(sends(&outs).is_empty());
    assert_eq!(ignored(&outs, "Accept").len(), 1);
    assert_eq!(used(&rig, &agent_id), Resources::default());
}

// ----- health checks -----

/// A leader with `web-0001` (1 cpu) launched on `agent-1`.
fn leader_with_a_launched_task() -> (Rig<Master>, AgentId, FrameworkId) {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let offer = allocate(rig.at(1_000)).remove(0);
    let outs = rig.msg(
        SCHEDULER,
        accept(&fid, &offer.offer_id, vec![task("web-0001", cpus(1))]),
    );
    assert_eq!(run_tasks(&outs).len(), 1);
    (rig, agent_id, fid)
}

/// Fires the agent's ping timer `n` times, one ping interval apart, with no pong.
fn miss_pings(rig: &mut Rig<Master>, agent_id: &AgentId, n: u32) -> Vec<Output<MasterTimer>> {
    let interval = Timing::default().agent_ping_timeout_ms;
    let mut all = Vec::new();
    for _ in 0..n {
        let now = rig.now + interval;
        all.extend(rig.at(now).timer(MasterTimer::Ping(agent_id.clone())));
    }
    all
}

// Mesos: the master pings each agent every agent_ping_timeout and, after
// max_agent_ping_timeouts missed pongs, marks it unreachable in the registry and
// reports its tasks TASK_LOST (REASON_AGENT_REMOVED) to non-partition-aware
// frameworks.
#[test]
fn agent_that_misses_max_pings_is_marked_unreachable_and_its_tasks_reported_lost() {
    let (mut rig, agent_id, fid) = leader_with_a_launched_task();
    let max = Timing::default().max_agent_ping_timeouts;

    // The first tick pings (the agent answered registration, so nothing is missed yet).
    let outs = miss_pings(&mut rig, &agent_id, 1);
    assert_eq!(sent_to(&outs, AGENT), vec![Message::Ping { epoch: 1 }]);
    // A pong resets the count; then `max` pings in a row go unanswered.
    rig.msg(AGENT, Message::Pong);
    let outs = miss_pings(&mut rig, &agent_id, max);
    assert_eq!(sent_to(&outs, AGENT).len() as u32, max);
    assert!(!has_event(&outs, |e| matches!(
        e,
        Event::AgentUnreachable { .. }
    )));
    assert!(rig.role.leader().unwrap().agents.contains_key(&agent_id));

    // The last of them times out: the agent is removed.
    let outs = miss_pings(&mut rig, &agent_id, 1);
    assert!(
        events(&outs).contains(&Event::AgentUnreachable {
            agent_id: agent_id.clone()
        }),
        "{outs:?}"
    );
    assert!(sent_to(&outs, AGENT).is_empty(), "no more pings");
    let lost = updates_to_scheduler(&outs);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].task_id, TaskId::from("web-0001"));
    assert_eq!(lost[0].state, TaskState::Lost);
    assert_eq!(lost[0].reason, Some(Reason::AgentRemoved));
    let registry = rig.coord.registry().unwrap();
    assert!(registry.unreachable.contains_key(&agent_id));
    assert!(!registry.admitted.contains_key(&agent_id));
    let view = rig.role.leader().unwrap().rebuilt_view();
    assert!(!view.agents.contains_key(&agent_id));
    assert!(view.frameworks[&fid].tasks.is_empty());
}

// Mesos 1.x: an unreachable agent that re-registers is readmitted (registry
// marked reachable) and its tasks are reported TASK_RUNNING again.
#[test]
fn unreachable_agent_that_reregisters_is_readmitted_and_its_tasks_come_back() {
    let (mut rig, agent_id, fid) = leader_with_a_launched_task();
    miss_pings(
        &mut rig,
        &agent_id,
        Timing::default().max_agent_ping_timeouts + 1,
    );
    assert!(!rig.role.leader().unwrap().agents.contains_key(&agent_id));

    let outs = rig.msg(
        AGENT,
        Message::ReregisterAgent {
            agent_id: agent_id.clone(),
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-1".into(),
            frameworks: vec![rig.role.leader().unwrap().frameworks[&fid].info.clone()],
            tasks: vec![ReportedTask {
                framework_id: fid.clone(),
                info: task("web-0001", cpus(1)),
                state: TaskState::Running,
                status_update_state: None,
            }],
        },
    );
    assert!(coord_ops(&outs)
        .iter()
        .any(|op| matches!(op, CoordOp::SetData { .. })));
    assert_eq!(
        sent_to(&outs, AGENT),
        vec![Message::AgentReregistered {
            epoch: 1,
            agent_id: agent_id.clone()
        }]
    );
    let back = updates_to_scheduler(&outs);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].state, TaskState::Running);
    assert_eq!(back[0].reason, Some(Reason::AgentReregistered));
    let registry = rig.coord.registry().unwrap();
    assert!(registry.admitted.contains_key(&agent_id));
    assert!(registry.unreachable.is_empty());
    assert_eq!(used(&rig, &agent_id), cpus(1));
}

// ----- the framework lifecycle -----

/// The leader with a task `web-0001` launched on agent-1 for framework `web`.
fn leader_with_a_task() -> (Rig<Master>, AgentId, FrameworkId) {
    let (mut rig, agent_id, fid) = leader_with_agent_and_framework();
    let offer = allocate(rig.at(1_000)).remove(0);
    let outs = rig.at(1_100).msg(
        SCHEDULER,
        accept(&fid, &offer.offer_id, vec![task("web-0001", cpus(1))]),
    );
    assert_eq!(run_tasks(&outs).len(), 1);
    (rig, agent_id, fid)
}

// Mesos (framework failover_timeout): a disconnected framework is deactivated at
// once; if no scheduler re-registers within the timeout, the master removes it,
// shuts it down on its agents, records its tasks TASK_KILLED (FRAMEWORK_REMOVED)
// and refuses a later re-registration under its ID.
#[test]
fn framework_is_removed_after_its_failover_timeout_and_its_id_refused_afterwards() {
    let (mut rig, agent_id, fid) = leader_with_a_task();
    let outs = rig.at(2_000).raw(Input::Disconnected {
        peer: SCHEDULER.into(),
    });
    assert!(has_event(&outs, |e| matches!(
        e,
        Event::FrameworkDeactivated { .. }
    )));
    let timer = MasterTimer::FrameworkFailover(fid.clone());
    assert_eq!(
        timer_at(&outs, &timer),
        Some(62_000),
        "failover_timeout is 60 s"
    );
    // Not removed before the timeout: the task is still accounted on the agent.
    let view = rig.role.leader().unwrap().rebuilt_view();
    assert_eq!(view.agents[&agent_id].used.sum(), cpus(1));

    let outs = rig.at(62_000).timer(timer);
    assert!(matches!(
        &sent_to(&outs, AGENT)[..],
        [Message::ShutdownFramework { framework_id, .. }] if *framework_id == fid
    ));
    assert!(has_event(&outs, |e| matches!(
        e,
        Event::FrameworkRemoved { tasks: 1, .. }
    )));
    let leader = rig.role.leader().unwrap();
    assert!(leader.frameworks.is_empty());
    assert_eq!(
        leader.agents[&agent_id].used.sum(),
        Resources::default(),
        "the task's resources are free"
    );
    let completed = &leader.completed_frameworks[&fid].tasks[&TaskId::from("web-0001")];
    assert_eq!(
        (completed.state, completed.reason),
        (TaskState::Killed, Some(Reason::FrameworkRemoved))
    );

    // A late instance re-registering under the old ID is refused.
    let outs = rig.at(70_000).msg(
        "scheduler-web-2",
        Message::ReregisterFramework {
            info: framework_info(Some(fid.as_str())),
            failover: true,
        },
    );
    assert!(matches!(
        &sent_to(&outs, "scheduler-web-2")[..],
        [Message::FrameworkError { message, .. }] if message == "framework removed"
    ));
}

// Mesos: a framework that re-registers within its failover timeout keeps its
// tasks; the pending removal is cancelled.
#[test]
fn a_scheduler_returning_within_the_failover_timeout_keeps_the_framework() {
    let (mut rig, _, fid) = leader_with_a_task();
    rig.at(2_000).raw(Input::Disconnected {
        peer: SCHEDULER.into(),
    });
    let outs = rig.at(30_000).msg(
        "scheduler-web-2",
        Message::ReregisterFramework {
            info: framework_info(Some(fid.as_str())),
            failover: true,
        },
    );
    assert!(matches!(
        &sent_to(&outs, "scheduler-web-2")[..],
        [Message::FrameworkReregistered { .. }]
    ));
    assert!(outs.contains(&Output::CancelTimer {
        timer: MasterTimer::FrameworkFailover(fid.clone())
    }));
    let framework = &rig.role.leader().unwrap().frameworks[&fid];
    assert!(framework.active);
    assert_eq!(
        framework.scheduler.as_ref().map(|p| p.as_str()),
        Some("scheduler-web-2")
    );
    assert_eq!(framework.tasks.len(), 1);
}

// Mesos (scheduler failover): when a new instance re-registers with failover,
// the old one is told "framework failed over" and its later calls are ignored.
#[test]
fn the_replaced_instance_is_told_it_failed_over_and_its_calls_are_ignored() {
    let (mut rig, _, fid) = leader_with_a_task();
    let outs = rig.at(5_000).msg(
        "scheduler-web-2",
        Message::ReregisterFramework {
            info: framework_info(Some(fid.as_str())),
            failover: true,
        },
    );
    assert!(matches!(
        &sent_to(&outs, SCHEDULER)[..],
        [Message::FrameworkError { message, .. }] if message == "framework failed over"
    ));
    let outs = rig.at(5_100).msg(
        SCHEDULER,
        Message::Kill {
            framework_id: fid.clone(),
            task_id: "web-0001".into(),
        },
    );
    assert!(
        sent_to(&outs, AGENT).is_empty(),
        "no kill reaches the agent"
    );
    assert_eq!(ignored(&outs, "Kill").len(), 1);
}

// Mesos: the principal cannot change on re-registration.
#[test]
fn a_reregistration_that_changes_the_principal_is_refused() {
    let (mut rig, _, fid) = leader_with_agent_and_framework();
    let mut info = framework_info(Some(fid.as_str()));
    info.principal = "mallory".into();
    let outs = rig.at(5_000).msg(
        SCHEDULER,
        Message::ReregisterFramework {
            info,
            failover: false,
        },
    );
    assert!(matches!(
        &sent_to(&outs, SCHEDULER)[..],
        [Message::FrameworkError { message, .. }] if message.contains("principal")
    ));
    assert_eq!(
        rig.role.leader().unwrap().frameworks[&fid].info.principal,
        "web"
    );
}

// MESOS-4659: a framework a new leader knows only from agents' reports has no
// failover timer until its scheduler re-registers.
#[test]
fn a_framework_known_only_from_agents_is_never_timed_out() {
    let coord = FakeCoordinator::new()
        .with_next_sequence(2)
        .with_registry(&registry_with_agent("e1-S0001"), 3);
    let (mut rig, _) = started("master-2", coord);
    let outs = rig.at(1_000).msg(
        AGENT,
        Message::ReregisterAgent {
            agent_id: "e1-S0001".into(),
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-1".into(),
            frameworks: vec![framework_info(Some("e1-F0001"))],
            tasks: vec![ReportedTask {
                framework_id: "e1-F0001".into(),
                info: task("web-0001", cpus(1)),
                state: TaskState::Running,
                status_update_state: None,
            }],
        },
    );
    assert!(!timers_set(&outs)
        .iter()
        .any(|(t, _)| matches!(t, MasterTimer::FrameworkFailover(_))));
    let framework = &rig.role.leader().unwrap().frameworks[&FrameworkId::from("e1-F0001")];
    assert!(!framework.active && framework.scheduler.is_none());
}

// Mesos: an agent that was away when its framework was removed is told to
// shut the framework down when it re-registers, and its report of the removed
// framework's tasks is not taken back into the master's state.
#[test]
fn an_agent_away_during_a_framework_removal_gets_the_shutdown_when_it_returns() {
    let (mut rig, agent_id, fid) = leader_with_a_task();
    rig.at(2_000)
        .raw(Input::Disconnected { peer: AGENT.into() });
    rig.at(2_000).raw(Input::Disconnected {
        peer: SCHEDULER.into(),
    });
    let outs = rig
        .at(62_000)
        .timer(MasterTimer::FrameworkFailover(fid.clone()));
    // Mesos `Master::removeFramework` tells every registered agent, connected
    // or not; to a disconnected one the message is lost in transit.
    assert_eq!(
        sent_to(&outs, AGENT),
        vec![Message::ShutdownFramework {
            epoch: 1,
            framework_id: fid.clone()
        }]
    );
    let outs = rig.at(70_000).msg(
        AGENT,
        Message::ReregisterAgent {
            agent_id: agent_id.clone(),
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-1".into(),
            frameworks: vec![framework_info(Some(fid.as_str()))],
            tasks: vec![ReportedTask {
                framework_id: fid.clone(),
                info: task("web-0001", cpus(1)),
                state: TaskState::Running,
                status_update_state: None,
            }],
        },
    );
    // `AgentReregistered` first: an agent ignores a shutdown from a master it
    // is not registered with (`Master::reconcileKnownSlave` sends
    // `SlaveReregisteredMessage`, then kills, then `ShutdownFrameworkMessage`).
    assert_eq!(
        sent_to(&outs, AGENT),
        vec![
            Message::AgentReregistered {
                epoch: 1,
                agent_id: agent_id.clone()
            },
            Message::ShutdownFramework {
                epoch: 1,
                framework_id: fid.clone()
            }
        ]
    );
    let leader = rig.role.leader().unwrap();
    assert!(leader.frameworks.is_empty());
    let completed = &leader.completed_frameworks[&fid].tasks[&TaskId::from("web-0001")];
    assert_eq!(completed.state, TaskState::Killed);
    assert_eq!(completed.reason, Some(Reason::FrameworkRemoved));
    assert_eq!(leader.agents[&agent_id].used.sum(), Resources::default());
}

// Mesos implicit reconciliation: the master answers for every task it knows,
// terminal ones included until their terminal update is acknowledged.
#[test]
fn implicit_reconciliation_includes_terminal_tasks_until_acknowledged() {
    let (mut rig, agent_id, fid) = leader_with_a_task();
    let finished = web_0001_update(&fid, &agent_id, TaskState::Finished, TaskState::Finished, 3);
    rig.at(2_000).msg(AGENT, finished);
    let reconcile = Message::Reconcile {
        framework_id: fid.clone(),
        tasks: vec![],
    };
    let outs = rig.at(2_100).msg(SCHEDULER, reconcile.clone());
    let answers = updates_to_scheduler(&outs);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].state, TaskState::Finished);
    assert_eq!(answers[0].reason, Some(Reason::Reconciliation));
    assert_eq!(
        answers[0].uuid, None,
        "reconciliation answers are not acknowledged"
    );
    // Once the framework acknowledges the terminal update, the task is gone.
    rig.at(2_200).msg(
        SCHEDULER,
        Message::Acknowledge {
            framework_id: fid.clone(),
            agent_id,
            task_id: "web-0001".into(),
            uuid: UpdateUuid::new("web-0001#3"),
        },
    );
    let outs = rig.at(2_300).msg(SCHEDULER, reconcile);
    assert!(updates_to_scheduler(&outs).is_empty());
}

// ----- fidelity: kills, framework removal, reconciliation (issue 12) -----

/// The `ReregisterAgent` message agent-1 sends reporting `web-0001` in `state`.
fn agent_reports_web_0001(
    rig: &Rig<Master>,
    agent_id: &AgentId,
    fid: &FrameworkId,
    state: TaskState,
) -> Message {
    Message::ReregisterAgent {
        agent_id: agent_id.clone(),
        resources: AgentResources::unreserved(AGENT_TOTAL),
        boot_id: "boot-1".into(),
        frameworks: vec![rig.role.leader().unwrap().frameworks[fid].info.clone()],
        tasks: vec![ReportedTask {
            framework_id: fid.clone(),
            info: task("web-0001", cpus(1)),
            state,
            status_update_state: None,
        }],
    }
}

fn kill(fid: &FrameworkId, id: &str) -> Message {
    Message::Kill {
        framework_id: fid.clone(),
        task_id: id.into(),
    }
}

// Mesos `Master::kill` records the kill in `slave->killedTasks` even when the
// agent is disconnected ("Kill will be retried if the agent reregisters"), and
// `Master::reconcileKnownSlave` sends `SlaveReregisteredMessage`, then a
// `KillTaskMessage` for each such task the agent still reports non-terminal.
#[test]
fn a_kill_while_the_agent_is_disconnected_is_sent_when_it_reregisters() {
    let (mut rig, agent_id, fid) = leader_with_a_task();
    rig.at(2_000)
        .raw(Input::Disconnected { peer: AGENT.into() });
    let outs = rig.at(3_000).msg(SCHEDULER, kill(&fid, "web-0001"));
    assert!(
        sent_to(&outs, AGENT).is_empty(),
        "the agent is disconnected"
    );
    assert!(
        updates_to_scheduler(&outs).is_empty(),
        "a known task's kill is not answered by reconciliation"
    );
    let leader = rig.role.leader().unwrap();
    assert!(leader.agents[&agent_id]
        .killed_tasks
        .contains(&(fid.clone(), TaskId::from("web-0001"))));

    let rereg = agent_reports_web_0001(&rig, &agent_id, &fid, TaskState::Running);
    let outs = rig.at(9_000).msg(AGENT, rereg);
    assert_eq!(
        sent_to(&outs, AGENT),
        vec![
            Message::AgentReregistered {
                epoch: 1,
                agent_id: agent_id.clone()
            },
            Message::KillTask {
                epoch: 1,
                framework_id: fid.clone(),
                task_id: "web-0001".into()
            }
        ]
    );
}

// Mesos: a kill to a connected agent is sent at once, and again on every
// request (the previous one may have been lost without a re-registration); an
// agent that reports the task terminal is not told again; once the terminal
// update is acknowledged the task leaves `killedTasks` (`Master::removeTask`).
#[test]
fn a_kill_is_remembered_until_the_task_is_removed() {
    let (mut rig, agent_id, fid) = leader_with_a_task();
    for at in [2_000, 2_100] {
        let outs = rig.at(at).msg(SCHEDULER, kill(&fid, "web-0001"));
        assert_eq!(
            sent_to(&outs, AGENT),
            vec![Message::KillTask {
                epoch: 1,
                framework_id: fid.clone(),
                task_id: "web-0001".into()
            }]
        );
    }
    // A repeated re-registration reporting the task killed: no kill again.
    let rereg = agent_reports_web_0001(&rig, &agent_id, &fid, TaskState::Killed);
    let outs = rig.at(2_200).msg(AGENT, rereg);
    assert!(!sent_to(&outs, AGENT)
        .iter()
        .any(|m| matches!(m, Message::KillTask { .. })));
    let killed = web_0001_update(&fid, &agent_id, TaskState::Killed, TaskState::Killed, 2);
    rig.at(2_300).msg(AGENT, killed);
    rig.at(2_400).msg(
        SCHEDULER,
        Message::Acknowledge {
            framework_id: fid.clone(),
            agent_id: agent_id.clone(),
            task_id: "web-0001".into(),
            uuid: UpdateUuid::new("web-0001#2"),
        },
    );
    let leader = rig.role.leader().unwrap();
    assert!(leader.agents[&agent_id].killed_tasks.is_empty());
    let done = &leader.frameworks[&fid].completed_tasks[&TaskId::from("web-0001")];
    assert_eq!(done.state, TaskState::Killed);
}

// Mesos: `killedTasks` is soft state of the agent's entry: an agent marked
// unreachable loses it, so a kill sent before is not repeated when it comes
// back (its task is reported again instead, and the framework may kill again).
#[test]
fn an_unreachable_agent_forgets_its_pending_kills() {
    let (mut rig, agent_id, fid) = leader_with_a_launched_task();
    rig.at(1_500)
        .raw(Input::Disconnected { peer: AGENT.into() });
    rig.at(1_600).msg(SCHEDULER, kill(&fid, "web-0001"));
    miss_pings(
        &mut rig,
        &agent_id,
        Timing::default().max_agent_ping_timeouts + 1,
    );
    let rereg = agent_reports_web_0001(&rig, &agent_id, &fid, TaskState::Running);
    let outs = rig.msg(AGENT, rereg);
    assert_eq!(
        sent_to(&outs, AGENT),
        vec![Message::AgentReregistered {
            epoch: 1,
            agent_id: agent_id.clone()
        }]
    );
}

// Mesos `Master::__removeSlave` keeps an unreachable agent's tasks among the
// framework's unreachable tasks, and `Master::removeFramework` completes them:
// `TASK_KILLED` (`REASON_FRAMEWORK_REMOVED`) for a `TASK_UNREACHABLE` task, but
// `Master::updateTask` never overwrites a terminal state, so a task a framework
// that is not partition-aware was told is `TASK_LOST` stays `TASK_LOST`.
#[test]
fn a_removed_framework_completes_its_unreachable_tasks() {
    for partition_aware in [false, true] {
        let mut info = framework_info(None);
        info.partition_aware = partition_aware;
        let (mut rig, agent_id, fid) = leader_with_agent_and(info);
        let offer = allocate(rig.at(1_000)).remove(0);
        rig.msg(
            SCHEDULER,
            accept(&fid, &offer.offer_id, vec![task("web-0001", cpus(1))]),
        );
        miss_pings(
            &mut rig,
            &agent_id,
            Timing::default().max_agent_ping_timeouts + 1,
        );
        let leader = rig.role.leader().unwrap();
        let unreachable = &leader.frameworks[&fid].unreachable_tasks[&TaskId::from("web-0001")];
        let told = if partition_aware {
            TaskState::Unreachable
        } else {
            TaskState::Lost
        };
        assert_eq!(unreachable.state, told);
        assert_eq!(unreachable.agent_id, agent_id);

        let now = rig.now;
        rig.at(now).raw(Input::Disconnected {
            peer: SCHEDULER.into(),
        });
        rig.at(now + 60_000)
            .timer(MasterTimer::FrameworkFailover(fid.clone()));
        let leader = rig.role.leader().unwrap();
        let done = &leader.completed_frameworks[&fid].tasks[&TaskId::from("web-0001")];
        let expected = if partition_aware {
            (TaskState::Killed, Some(Reason::FrameworkRemoved))
        } else {
            (TaskState::Lost, Some(Reason::AgentRemoved))
        };
        assert_eq!((done.state, done.reason), expected, "{partition_aware}");
    }
}

// Mesos `Master::reconcile`, case 1: a known task is answered with its
// *status-update* state — the update the agent is still delivering — not its
// latest state.
#[test]
fn reconciliation_answers_a_known_task_with_its_status_update_state() {
    let (mut rig, agent_id, fid) = leader_with_a_task();
    // The agent delivers TASK_STARTING while the task has already finished.
    let starting = web_0001_update(&fid, &agent_id, TaskState::Starting, TaskState::Finished, 1);
    rig.at(2_000).msg(AGENT, starting);
    for tasks in [
        vec![],
        vec![ReconcileTask {
            task_id: "web-0001".into(),
            agent_id: None,
        }],
    ] {
        let outs = rig.at(2_100).msg(
            SCHEDULER,
            Message::Reconcile {
                framework_id: fid.clone(),
                tasks,
            },
        );
        let answers = updates_to_scheduler(&outs);
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].state, TaskState::Starting);
        assert_eq!(answers[0].source, Source::Master);
        assert_eq!(answers[0].reason, Some(Reason::Reconciliation));
    }
}

/// A new leader (epoch 2) whose registry lists `e1-S0001` (not re-registered
/// yet), `e1-S0009` unreachable and `e1-S0008` gone, with framework `web`
/// (partition-aware or not) re-registered.
fn new_leader_with_recovered_agent(partition_aware: bool) -> (Rig<Master>, FrameworkId) {
    let mut registry = registry_with_agent("e1-S0001");
    registry.unreachable.insert(
        "e1-S0009".into(),
        UnreachableAgent {
            process: "agent-9".into(),
            since_ms: 0,
        },
    );
    registry.gone.insert(
        "e1-S0008".into(),
        GoneAgent {
            process: "agent-8".into(),
            since_ms: 0,
        },
    );
    let coord = FakeCoordinator::new()
        .with_next_sequence(2)
        .with_registry(&registry, 3);
    let (mut rig, _) = started("master-2", coord);
    let fid = FrameworkId::from("e1-F0001");
    let mut info = framework_info(Some(fid.as_str()));
    info.partition_aware = partition_aware;
    rig.at(100).msg(
        SCHEDULER,
        Message::ReregisterFramework {
            info,
            failover: false,
        },
    );
    (rig, fid)
}

/// agent-1 re-registering as `e1-S0001` with no frameworks and no tasks.
fn agent_1_back_with_nothing() -> Message {
    Message::ReregisterAgent {
        agent_id: "e1-S0001".into(),
        resources: AgentResources::unreserved(AGENT_TOTAL),
        boot_id: "boot-1".into(),
        frameworks: vec![],
        tasks: vec![],
    }
}

fn reconcile_one(
    rig: &mut Rig<Master>,
    fid: &FrameworkId,
    agent: Option<&str>,
) -> Vec<StatusUpdate> {
    let outs = rig.msg(
        SCHEDULER,
        Message::Reconcile {
            framework_id: fid.clone(),
            tasks: vec![ReconcileTask {
                task_id: "web-0042".into(),
                agent_id: agent.map(AgentId::from),
            }],
        },
    );
    updates_to_scheduler(&outs)
}

// Mesos `ReconciliationTest.RecoveredAgent` and `Master::reconcile` case 2: a
// question about an unknown task on an agent recovered from the registry that
// has not re-registered — or, with no agent named, while any such agent exists —
// gets *no* answer; the framework must ask again.
#[test]
fn reconciliation_about_a_recovered_agent_is_not_answered() {
    let (mut rig, fid) = new_leader_with_recovered_agent(true);
    assert!(reconcile_one(&mut rig, &fid, Some("e1-S0001")).is_empty());
    assert!(reconcile_one(&mut rig, &fid, None).is_empty());
    // Nothing is held back either: the agent's re-registration answers nothing.
    let outs = rig.at(5_000).msg(AGENT, agent_1_back_with_nothing());
    assert!(updates_to_scheduler(&outs).is_empty());
    // Asked again, now the agent is registered: TASK_GONE.
    let answers = reconcile_one(&mut rig, &fid, Some("e1-S0001"));
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].state, TaskState::Gone);
}

// Mesos `Master::reconcile`, cases 4–6 for a partition-aware framework, and
// `TASK_LOST` for one that is not.
#[test]
fn reconciliation_about_unreachable_gone_and_unknown_agents() {
    let (mut rig, fid) = new_leader_with_recovered_agent(true);
    rig.at(5_000).msg(AGENT, agent_1_back_with_nothing());
    let state = |rig: &mut Rig<Master>, agent| reconcile_one(rig, &fid, agent)[0].state;
    assert_eq!(state(&mut rig, Some("e1-S0009")), TaskState::Unreachable);
    assert_eq!(state(&mut rig, Some("e1-S0008")), TaskState::GoneByOperator);
    assert_eq!(state(&mut rig, Some("e9-S0001")), TaskState::Unknown);
    assert_eq!(state(&mut rig, None), TaskState::Unknown);

    let (mut rig, fid) = new_leader_with_recovered_agent(false);
    rig.at(5_000).msg(AGENT, agent_1_back_with_nothing());
    for agent in [Some("e1-S0001"), Some("e1-S0009"), Some("e1-S0008"), None] {
        let answers = reconcile_one(&mut rig, &fid, agent);
        assert_eq!(answers[0].state, TaskState::Lost, "{agent:?}");
        assert_eq!(answers[0].reason, Some(Reason::Reconciliation));
    }
}

// Mesos `Master::teardown`: a framework torn down by its scheduler is removed at
// once — tasks completed `TASK_KILLED` (`FRAMEWORK_REMOVED`), every registered
// agent told to shut it down — and a teardown from anyone but its scheduler is
// ignored.
#[test]
fn teardown_removes_the_framework_at_once() {
    let (mut rig, agent_id, fid) = leader_with_a_task();
    let teardown = Message::Teardown {
        framework_id: fid.clone(),
    };
    let outs = rig.at(2_000).msg("scheduler-web-2", teardown.clone());
    assert_eq!(ignored(&outs, "Teardown").len(), 1);
    assert!(rig.role.leader().unwrap().frameworks.contains_key(&fid));

    let outs = rig.at(2_100).msg(SCHEDULER, teardown);
    assert_eq!(
        sent_to(&outs, AGENT),
        vec![Message::ShutdownFramework {
            epoch: 1,
            framework_id: fid.clone()
        }]
    );
    let leader = rig.role.leader().unwrap();
    assert!(leader.frameworks.is_empty());
    assert_eq!(used(&rig, &agent_id), Resources::default());
    let done = &leader.completed_frameworks[&fid].tasks[&TaskId::from("web-0001")];
    assert_eq!(
        (done.state, done.reason),
        (TaskState::Killed, Some(Reason::FrameworkRemoved))
    );
}

// Mesos: the agent reports each task's `status_update_state` when it
// re-registers, so a new leader answers reconciliation with the update still
// being delivered, not the task's latest state (`Master::reconcile`, case 1).
#[test]
fn a_new_leader_answers_reconciliation_with_the_reported_status_update_state() {
    let (mut rig, _) = new_leader_after_failover();
    let mut task = reported(
        "web-0001",
        Resources::new(1000, 1024, 0),
        TaskState::Finished,
    );
    task.status_update_state = Some(TaskState::Running);
    rig.at(100).msg(
        AGENT,
        Message::ReregisterAgent {
            agent_id: "e1-S0001".into(),
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-1".into(),
            frameworks: vec![framework_info(Some("e1-F0001"))],
            tasks: vec![task],
        },
    );
    let fid = FrameworkId::from("e1-F0001");
    rig.at(200).msg(
        SCHEDULER,
        Message::ReregisterFramework {
            info: framework_info(Some("e1-F0001")),
            failover: false,
        },
    );
    let outs = rig.at(300).msg(
        SCHEDULER,
        Message::Reconcile {
            framework_id: fid,
            tasks: vec![],
        },
    );
    let answers = updates_to_scheduler(&outs);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].state, TaskState::Running);
}

// Mesos `Master::acknowledge`: an acknowledgement for a disconnected agent is
// dropped and the task kept (the agent resends the update when it is back), so
// a terminal task is not retired by an acknowledgement the agent never got.
#[test]
fn an_acknowledgement_for_a_disconnected_agent_is_dropped_and_the_task_kept() {
    let (mut rig, agent_id, fid) = leader_with_a_task();
    let finished = web_0001_update(&fid, &agent_id, TaskState::Finished, TaskState::Finished, 3);
    rig.at(2_000).msg(AGENT, finished);
    rig.at(2_050)
        .raw(Input::Disconnected { peer: AGENT.into() });
    let outs = rig.at(2_100).msg(
        SCHEDULER,
        Message::Acknowledge {
            framework_id: fid.clone(),
            agent_id,
            task_id: "web-0001".into(),
            uuid: UpdateUuid::new("web-0001#3"),
        },
    );
    assert_eq!(ignored(&outs, "Acknowledge").len(), 1);
    assert!(rig.role.leader().unwrap().frameworks[&fid]
        .tasks
        .contains_key(&TaskId::from("web-0001")));
}

// Mesos `Master::registerSlave` / `_removeSlave`: a new agent registering at the
// address of a disconnected registered one removes it; its tasks are TASK_LOST
// (REASON_SLAVE_REMOVED) for every framework, partition-aware too, and the old
// ID leaves the registry (it is not marked gone).
#[test]
fn a_new_agent_at_the_same_address_removes_the_old_one() {
    let (mut rig, agent_id, fid) = leader_with_a_launched_task();
    rig.at(1_500)
        .raw(Input::Disconnected { peer: AGENT.into() });
    let outs = rig.at(2_000).msg(
        AGENT,
        Message::RegisterAgent {
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-2".into(),
        },
    );
    let lost = updates_to_scheduler(&outs);
    assert_eq!(lost.len(), 1);
    assert_eq!(
        (lost[0].state, lost[0].reason),
        (TaskState::Lost, Some(Reason::AgentRemoved))
    );
    let leader = rig.role.leader().unwrap();
    assert!(!leader.agents.contains_key(&agent_id));
    assert_eq!(
        leader.frameworks[&fid].completed_tasks[&TaskId::from("web-0001")].state,
        TaskState::Lost
    );
    let registry = rig.coord.registry().unwrap();
    assert!(!registry.admitted.contains_key(&agent_id));
    assert!(!registry.gone.contains_key(&agent_id));
}

// Mesos `Master::reconcileKnownSlave`: tasks the master has on an agent that
// re-registers without them are not declared lost by the master; it asks the
// agent (after `SlaveReregisteredMessage`), and keeps the task until the
// agent's answer is acknowledged.
#[test]
fn a_known_agent_missing_a_task_is_asked_to_reconcile_it() {
    let (mut rig, agent_id, fid) = leader_with_a_task();
    let outs = rig.at(2_000).msg(
        AGENT,
        Message::ReregisterAgent {
            agent_id: agent_id.clone(),
            resources: AgentResources::unreserved(AGENT_TOTAL),
            boot_id: "boot-1".into(),
            frameworks: vec![],
            tasks: vec![],
        },
    );
    let info = rig.role.leader().unwrap().frameworks[&fid].info.clone();
    assert_eq!(
        sent_to(&outs, AGENT),
        vec![
            Message::AgentReregistered {
                epoch: 1,
                agent_id: agent_id.clone()
            },
            Message::AgentReconcileTasks {
                epoch: 1,
                framework: Box::new(info),
                task_ids: vec!["web-0001".into()]
            }
        ]
    );
    assert!(updates_to_scheduler(&outs).is_empty());
    assert!(rig.role.leader().unwrap().frameworks[&fid]
        .tasks
        .contains_key(&TaskId::from("web-0001")));
    assert_eq!(used(&rig, &agent_id), cpus(1));
}

// Mesos `Master::reregisterSlave`: a re-registration that arrives while the
// master is marking the agent unreachable (the registry write in flight) is
// ignored — not accepted and then undone by the mark; the agent retries.
#[test]
fn a_reregistration_while_marking_unreachable_is_ignored() {
    let (mut rig, agent_id, fid) = leader_with_a_launched_task();
    rig.auto_answer = false;
    miss_pings(
        &mut rig,
        &agent_id,
        Timing::default().max_agent_ping_timeouts + 1,
    );
    let rereg = agent_reports_web_0001(&rig, &agent_id, &fid, TaskState::Running);
    let outs = rig.msg(AGENT, rereg);
    assert_eq!(ignored(&outs, "ReregisterAgent").len(), 1);
    assert!(sent_to(&outs, AGENT).is_empty());
}

// Mesos `Master::__removeSlave` (MESOS-8405,
// `PartitionTest.AgentWithTerminalTaskPartitioned`): a task that finished but
// whose terminal update is not acknowledged yet is reported with the agent's
// other tasks when the agent becomes unreachable, and keeps its terminal state
// among the framework's unreachable tasks.
#[test]
fn a_finished_unacknowledged_task_is_reported_when_its_agent_becomes_unreachable() {
    let (mut rig, agent_id, fid) = leader_with_a_launched_task();
    let finished = web_0001_update(&fid, &agent_id, TaskState::Finished, TaskState::Finished, 3);
    rig.at(1_500).msg(AGENT, finished);
    let outs = miss_pings(
        &mut rig,
        &agent_id,
        Timing::default().max_agent_ping_timeouts + 1,
    );
    let lost = updates_to_scheduler(&outs);
    assert_eq!(lost.len(), 1);
    assert_eq!(
        (lost[0].state, lost[0].reason),
        (TaskState::Lost, Some(Reason::AgentRemoved))
    );
    let leader = rig.role.leader().unwrap();
    assert_eq!(
        leader.frameworks[&fid].unreachable_tasks[&TaskId::from("web-0001")].state,
        TaskState::Finished
    );
}
