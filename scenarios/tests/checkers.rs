//! The runner's checkers fire (issue 13: "a checker comes with a test that
//! makes it fire"). The trace checkers of `harness/src/checkers.rs` have unit
//! tests on hand-built traces there; the checks here need a live run — the
//! cluster's state tick by tick, a step that cannot finish, a nemesis that
//! cannot converge — or a planted bug. Each test asserts the violation's
//! checker, the processes it names and its message, and runs a correct
//! counterpart that must not fire.
//!
//! Fired elsewhere: `framework_identity`, `liveness` and `panic` by the bug-zoo
//! sweeps in `tests/cli.rs` (which also fires `panic` on one recorded seed),
//! `timing`, `leader_state`, `updates`, `no_task_ended`, `call` and `inject` by
//! `scenarios/tests/vocabulary.rs`, `failover_time` by `tests/cli.rs`.
//!
//! Not fired: `process_panicked`, the runner's name for an error turmoil
//! returns from a step. A host's software (`cluster::start_process`,
//! `driver::drive`) returns an error only if its listener cannot bind its
//! port, which no exit or restart leaves bound; a role's panic unwinds out of
//! the simulation (tokio's `unhandled_panic = ShutdownRuntime`) to the
//! sweep's `catch_unwind`, which reports it as `panic`.

mod common;
use common::{assert_pass, scenario, variant};
use mesochaos_faults::Target;
use mesochaos_harness::run::{offer_problem, RunReport, Step, Violation};
use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_harness::{run_recorded, RunOptions, Verdict};
use mesochaos_reference::bugs::Bug;
use mesochaos_reference::master::Master;
use mesochaos_reference::messages::Offer;
use mesochaos_reference::resources::{RoleResources, Volume};
use mesochaos_reference::{Event, OfferId};
use mesochaos_scenarios::{load, scenarios_dir, Scenario};

fn shipped(name: &str) -> String {
    std::fs::read_to_string(scenarios_dir().join(format!("{name}.toml"))).expect("shipped")
}

fn run(s: &Scenario) -> (RunReport, Vec<TraceRecord>) {
    run_recorded(&s.spec, s.seed, RunOptions::default())
}

/// The violations of a failed run named `checker`, asserting there is one.
fn fired<'a>(report: &'a RunReport, checker: &str) -> Vec<&'a Violation> {
    assert_eq!(report.verdict, Verdict::Fail, "the run fails");
    let found: Vec<&Violation> = report
        .violations
        .iter()
        .filter(|v| v.checker == checker)
        .collect();
    assert!(
        !found.is_empty(),
        "{checker} fired: {:#?}",
        report.violations
    );
    found
}

/// The single violation of a failed run: `checker`, naming `processes`, its
/// message containing `text`.
fn only(report: &RunReport, checker: &str, processes: &[&str], text: &str) -> Violation {
    assert_eq!(report.violations.len(), 1, "{:#?}", report.violations);
    let v = fired(report, checker)[0].clone();
    assert_eq!(v.processes, processes, "{v:#?}");
    assert!(v.message.contains(text), "{:?} lacks {text:?}", v.message);
    v
}

fn elections(records: &[TraceRecord]) -> Vec<(u64, String, u64)> {
    records
        .iter()
        .filter_map(|r| match &r.kind {
            TraceKind::Event {
                event: Event::ElectedLeader { epoch },
            } => Some((r.t_ms, r.at.to_string(), *epoch)),
            _ => None,
        })
        .collect()
}

// ----- single_leader: the runner's per-tick check -----

/// The leader is cut off from the coordinator. Correct, it gives its session
/// up and exits before a standby is elected; with the planted
/// `leader-survives-session-loss` it goes on leading, and the tick the standby
/// is elected two masters lead.
#[test]
fn single_leader_fires_when_a_leader_outlives_its_coordinator_session() {
    let mut s = load(&scenarios_dir().join("leader-loses-coordinator.toml")).expect("parses");
    let (report, _) = run(&s);
    assert_pass(&report);

    s.spec.cluster.bug = Some(Bug::LeaderSurvivesSessionLoss);
    let (report, records) = run(&s);
    let elected = elections(&records);
    let [(_, old, old_epoch), (second_at, new, new_epoch)] = &elected[..2] else {
        panic!("two elections: {elected:?}");
    };
    let mut both = [old.as_str(), new.as_str()];
    both.sort();
    let v = only(
        &report,
        "single_leader",
        &both,
        "2 masters believe they lead: ",
    );
    for (master, epoch) in [(old, old_epoch), (new, new_epoch)] {
        assert!(
            v.message.contains(&format!("{master} (epoch {epoch})")),
            "{}",
            v.message
        );
    }
    // Reported the tick the second master was elected (once per run).
    assert!(v.t_ms >= *second_at && v.t_ms <= second_at + 10, "{v:?}");
}

// ----- offer_accounting: the runner's check of the leader's offers -----

/// The leader's state at the end of a passing run of `s`, and every process's
/// role state (the run's `--snapshot`).
fn final_roles(
    s: &Scenario,
) -> (
    mesochaos_reference::master::Leader,
    std::collections::BTreeMap<String, serde_json::Value>,
) {
    let options = RunOptions {
        snapshot_roles: true,
        ..RunOptions::default()
    };
    let (report, _) = run_recorded(&s.spec, s.seed, options);
    assert_pass(&report);
    let name = report
        .final_state
        .leader
        .as_ref()
        .expect("a leader")
        .master
        .clone();
    let roles = report.roles.expect("snapshot");
    let master: Master =
        serde_json::from_value(roles[name.as_str()].clone()).expect("a master's state");
    (master.leader().expect("it leads").clone(), roles)
}

/// The leader's state at the end of a run of `s`.
fn final_leader(s: &Scenario) -> mesochaos_reference::master::Leader {
    final_roles(s).0
}

/// `offer_problem` is what the runner checks every simulated second (the
/// `offer_accounting` violation carries its text). A real leader's state
/// passes it; the same state with an offer too many, a volume in two offers
/// or a volume offered while its task uses it does not. (Over-committing for
/// real trips the master's own accounting assertion first: see the
/// `forget-tasks-before-framework` zoo test, whose seeds fail with `panic`.)
#[test]
fn offer_accounting_fires_on_an_offer_beyond_the_agents_resources_or_a_volume_offered_twice() {
    let s = scenario(
        r#"
        duration = "60s"
        [cluster]
        masters = 1
        agents = 1
        agent_resources = { cpus = 4, mem = "8GB", disk = "10GB" }
        [[framework]]
        name = "web"
        tasks = 2
        task_resources = { cpus = 1, mem = "1GB" }
        [[step]]
        wait = "converged"
        within = "30s"
        [[step]]
        sleep = "2s"
    "#,
    );
    let leader = final_leader(&s);
    assert_eq!(offer_problem(&leader), None);

    let (agent_id, agent) = leader.agents.iter().next().expect("an agent");
    let framework_id = leader
        .frameworks
        .keys()
        .next()
        .expect("a framework")
        .clone();
    let (task_id, task) = leader.frameworks[&framework_id]
        .tasks
        .iter()
        .find(|(_, t)| t.state.is_active())
        .expect("an active task");
    let offer = |id: &str, resources: RoleResources, volumes: Vec<Volume>| Offer {
        offer_id: OfferId::new(id),
        framework_id: framework_id.clone(),
        agent_id: agent_id.clone(),
        hostname: agent.process.clone(),
        resources,
        volumes,
    };
    let with = |offers: Vec<Offer>| {
        let mut l = leader.clone();
        for o in offers {
            l.offers.insert(o.offer_id.clone(), o);
        }
        l
    };

    // What is free may be offered; everything the agent has, on top of what
    // its tasks use, may not.
    assert_eq!(
        offer_problem(&with(vec![offer("O-free", agent.free(), vec![])])),
        None
    );
    let problem =
        offer_problem(&with(vec![offer("O-all", agent.total.clone(), vec![])])).expect("fires");
    assert!(
        problem.starts_with(&format!(
            "agent {agent_id}: outstanding offers and active tasks hold "
        )) && problem.contains(", more than its "),
        "{problem}"
    );

    let volume = Volume {
        id: "data".into(),
        role: task.info.role.clone(),
        disk_mb: 100,
    };
    let none = RoleResources::default;
    assert_eq!(
        offer_problem(&with(vec![offer("O-v", none(), vec![volume.clone()])])),
        None
    );
    let problem = offer_problem(&with(vec![
        offer("O-v1", none(), vec![volume.clone()]),
        offer("O-v2", none(), vec![volume.clone()]),
    ]))
    .expect("fires");
    assert_eq!(
        problem,
        format!(
            "volume {agent_id}/{} is in two outstanding offers: O-v1 and O-v2",
            volume.key()
        )
    );

    let mut in_use = with(vec![offer("O-v", none(), vec![volume.clone()])]);
    in_use
        .frameworks
        .get_mut(&framework_id)
        .unwrap()
        .tasks
        .get_mut(task_id)
        .unwrap()
        .info
        .volume = Some(volume.id.clone());
    assert_eq!(
        offer_problem(&in_use).expect("fires"),
        format!(
            "volume {agent_id}/{} is offered in O-v while task {task_id} uses it",
            volume.key()
        )
    );
}

// ----- run bounds: steps that cannot finish -----

const SMALL: &str = r#"
duration = "60s"
[cluster]
masters = 1
agents = 1
agent_resources = { cpus = 2, mem = "4GB", disk = "10GB" }
[[framework]]
name = "web"
tasks = 2
task_resources = { cpus = 1, mem = "1GB" }
[[step]]
wait = "converged"
within = "30s"
"#;

// ----- state_agreement: the leader's view against the agents' -----

/// A real converged run of `nemesis-storage` (reservations, volumes, tasks on
/// them): its leader and agents agree. The same states with a reservation the
/// leader lost, or a task it still counts, do not — `state_agreement` reports
/// exactly those (the runner runs it once the liveness phase converges).
#[test]
fn state_agreement_holds_on_a_real_run_and_fires_on_a_lost_reservation() {
    use mesochaos_harness::agreement::{agent_view, disagreements, leader_view};
    use mesochaos_reference::agent::Agent;
    let s = load(&scenarios_dir().join("nemesis-storage.toml")).unwrap();
    let (leader, roles) = final_roles(&s);
    let agents: Vec<_> = roles
        .iter()
        .filter(|(p, _)| p.starts_with("agent-"))
        .filter_map(|(p, v)| {
            let agent: Agent = serde_json::from_value(v.clone()).ok()?;
            agent_view(p.as_str().into(), &agent)
        })
        .collect();
    assert_eq!(agents.len(), 5);
    let view = leader_view(&leader);
    assert!(
        view.agents.values().any(|a| a.total.0.contains_key("db")),
        "the run reserved resources for role db"
    );
    assert_eq!(disagreements(&view, &agents), Vec::<String>::new());

    let mut lost = view.clone();
    let (id, held) = lost
        .agents
        .iter_mut()
        .find(|(_, a)| a.total.0.contains_key("db"))
        .unwrap();
    let id = id.clone();
    held.total.0.remove("db");
    let problems = disagreements(&lost, &agents);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!("reservations of {id}")),
        "{problems:?}"
    );
}

#[test]
fn wait_fires_when_its_condition_does_not_hold_in_time() {
    let holds = format!("{SMALL}[[step]]\nwait = \"leader_elected\"\nwithin = \"1s\"\n");
    assert_pass(&run(&scenario(&holds)).0);
    let never = format!("{SMALL}[[step]]\nwait = \"no_leader\"\nwithin = \"2s\"\n");
    let (report, _) = run(&scenario(&never));
    only(
        &report,
        "wait",
        &[],
        "step 2: \"no master leads\" did not hold within 2s",
    );
}

#[test]
fn duration_fires_when_the_steps_outlast_the_run() {
    let fits = format!("{SMALL}[[step]]\nsleep = \"20s\"\n");
    assert_pass(&run(&scenario(&fits)).0);
    let outlasts = format!("{SMALL}[[step]]\nsleep = \"90s\"\n");
    let (report, _) = run(&scenario(&outlasts));
    let v = only(
        &report,
        "duration",
        &[],
        "the run reached its 60000 ms bound before its steps finished",
    );
    assert_eq!(v.t_ms, 60_000);
}

/// `check` refuses an unknown process in a file; a spec built in code can
/// still name one, and the runner refuses it when the step runs.
#[test]
fn step_fires_on_a_process_the_cluster_does_not_have() {
    let source = format!(
        "{SMALL}[[step]]\ninject = {{ from = \"master-1\", to = \"agent-1\", kind = \"KillTask\", framework = \"web\", task = \"web-0001\" }}\n[[step]]\nsleep = \"1s\"\n"
    );
    let s = scenario(&source);
    let (report, _) = run(&s);
    let killed = report.framework_updates["web"]
        .iter()
        .any(|u| u.state == mesochaos_reference::TaskState::Killed);
    assert!(killed, "the leader's injected kill is obeyed");
    assert_pass(&report);

    let mut unknown = s.clone();
    let Step::Inject { to, .. } = &mut unknown.spec.steps[1] else {
        panic!("step 2 injects");
    };
    *to = Target::Process("agent-9".into());
    let (report, _) = run(&unknown);
    only(&report, "step", &["agent-9"], "no process named agent-9");
}

// ----- the nemesis: liveness and vacuous faults -----

/// A nemesis run on a cluster that can hold `tasks` tasks of web only if it
/// is at most 2, its agent crashed by `crash_agent` (aimed at `target`).
fn nemesis(tasks: u64, target: Option<&str>) -> Scenario {
    let targets = target
        .map(|t| format!("[nemesis.targets]\ncrash_agent = \"{t}\"\n"))
        .unwrap_or_default();
    scenario(&format!(
        r#"
        [cluster]
        masters = 1
        agents = 1
        agent_resources = {{ cpus = 2, mem = "4GB", disk = "10GB" }}
        [[framework]]
        name = "web"
        tasks = {tasks}
        task_resources = {{ cpus = 1, mem = "1GB" }}
        [[step]]
        wait = "leader_elected"
        within = "30s"
        [nemesis]
        interval = "10s"
        fault_min = "1s"
        fault_max = "2s"
        safety = "20s"
        liveness = "60s"
        [nemesis.kinds]
        crash_agent = 1
        {targets}
        "#
    ))
}

#[test]
fn liveness_fires_when_the_cluster_cannot_converge_after_the_heal() {
    let (report, _) = run(&nemesis(2, None));
    assert_pass(&report);
    assert!(report.faults.values().all(|c| c.vacuous == 0));
    // Three tasks of one CPU each do not fit on two CPUs.
    let (report, _) = run(&nemesis(3, None));
    let v = only(
        &report,
        "liveness",
        &[],
        "the cluster did not converge within 60s of the heal: ",
    );
    assert!(v.message.ends_with("runs 2 of 3 desired tasks"), "{v:?}");
}

#[test]
fn vacuous_fault_fires_when_a_scheduled_fault_never_finds_its_target() {
    let (report, _) = run(&nemesis(2, Some("agent-1")));
    assert_pass(&report);
    // No task web-9999 ever runs: the crash has no agent to hit.
    let (report, _) = run(&nemesis(2, Some("agent-of:web-9999")));
    let v = only(
        &report,
        "vacuous_fault",
        &[],
        "scheduled faults found no target during the safety phase: crash agent-of:web-9999 at ",
    );
    assert!(report.faults.values().any(|c| c.vacuous > 0), "{v:?}");
}

// ----- storage bounds: acked_records and acked_records_lost -----

/// storage-local loses acknowledged records with its wiped disk (its
/// `acked_records_lost_min = 1` holds); storage-dfs loses none (its
/// `acked_records_lost_max = 0` holds). Both files pass as shipped
/// (`every_scenario_file_passes_its_ci_seeds_and_matches_its_snapshot`); the
/// opposite bounds, and an unreachable record count, fail.
#[test]
fn acked_records_bounds_fire_when_the_counts_are_out_of_bounds() {
    let local = variant(
        &shipped("storage-local"),
        &[
            ("acked_records_lost_min = 1", "acked_records_lost_max = 0"),
            ("acked_records_min = 100", "acked_records_min = 1000000"),
        ],
    );
    let (report, _) = run(&scenario(&local));
    let lost = report.metrics.acked_records_lost;
    let acked = report.metrics.acked_records;
    assert!(lost > 0 && acked >= 100, "{lost} {acked}");
    assert_eq!(report.violations.len(), 2, "{:#?}", report.violations);
    let v = fired(&report, "acked_records_lost")[0];
    assert_eq!(
        v.message,
        format!("{lost} acknowledged records lost, at most 0 expected")
    );
    let v = fired(&report, "acked_records")[0];
    assert_eq!(
        v.message,
        format!("{acked} database records acknowledged, at least 1000000 expected")
    );

    let dfs = variant(
        &shipped("storage-dfs"),
        &[("acked_records_lost_max = 0", "acked_records_lost_min = 1")],
    );
    let (report, _) = run(&scenario(&dfs));
    only(
        &report,
        "acked_records_lost",
        &[],
        "0 acknowledged records lost, at least 1 expected",
    );
}

// ----- trace checkers on real runs: a planted bug makes each fire -----
//
// `harness/src/checkers.rs` and `harness/src/refusals.rs` fire these on
// hand-built traces; here a scripted scenario with a zoo bug planted makes
// each fire on a real run, and the same scenario passes on the correct code.

/// The scenario `name` passes as shipped; with `bug` planted it fails, and
/// the violations of `checker` are returned.
fn fires_with_bug(name: &str, bug: Bug, checker: &str) -> Vec<Violation> {
    let mut s = load(&scenarios_dir().join(format!("{name}.toml"))).expect("parses");
    let (report, _) = run(&s);
    assert_pass(&report);
    s.spec.cluster.bug = Some(bug);
    let (report, _) = run(&s);
    fired(&report, checker).into_iter().cloned().collect()
}

/// A leader that outlives its session goes on pinging; agent-1, cut off from
/// the coordinator too, has not heard of the new leader and obeys it.
#[test]
fn epoch_order_fires_when_a_deposed_leader_commands_an_agent() {
    let violations = fires_with_bug(
        "stale-leader-commands",
        Bug::LeaderSurvivesSessionLoss,
        "epoch_order",
    );
    for v in &violations {
        assert_eq!(v.processes[0], "agent-1", "{v:?}");
        assert!(
            v.message.contains("accepted Ping from")
                && v.message.contains("of epoch 0 while epoch 1 is current"),
            "{v:?}"
        );
    }
}

/// A master that forgets unreachable tasks accepts a launch under the ID of
/// one still running behind the cut: two copies run at once, and the launch
/// Mesos refuses was made.
#[test]
fn one_copy_at_a_time_and_reuse_refused_fire_when_an_unreachable_id_is_reused() {
    let copies = fires_with_bug(
        "unreachable-task-id-reused",
        Bug::UniqueIdIgnoresUnreachable,
        "one_copy_at_a_time",
    );
    assert!(
        copies[0].message.contains("started on")
            && copies[0].message.contains("while a copy runs on"),
        "{copies:?}"
    );
    let refused = fires_with_bug(
        "unreachable-task-id-reused",
        Bug::UniqueIdIgnoresUnreachable,
        "reuse_refused",
    );
    assert!(
        refused[0].message.contains("validateUniqueTaskID"),
        "{refused:?}"
    );
    assert_eq!(refused[0].processes[1], "scheduler-adv-1", "{refused:?}");
}

/// The same run ends converged — the cut healed, both copies reported —
/// and a scripted run that ends converged is held to `state_agreement`:
/// one task ID of the framework is live on two agents.
#[test]
fn state_agreement_fires_when_a_task_id_is_live_on_two_agents() {
    let violations = fires_with_bug(
        "unreachable-task-id-reused",
        Bug::UniqueIdIgnoresUnreachable,
        "state_agreement",
    );
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0]
            .message
            .contains("is live on both agent-2 and agent-3"),
        "{violations:?}"
    );
}

/// An agent that answers a kill of a queued launch but keeps the launch
/// starts the task when its executor host registers: a task the framework
/// heard was killed runs.
#[test]
fn definite_is_final_fires_when_a_killed_queued_launch_runs() {
    let violations = fires_with_bug(
        "kill-queued-launch",
        Bug::KillLeavesQueuedLaunch,
        "definite_is_final",
    );
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0]
            .message
            .contains("web-0005 started on executors-1")
            && violations[0].message.contains("definite TASK_KILLED"),
        "{violations:?}"
    );
}

/// An allocator that offers every free volume to every role hands the
/// replicated store's volumes to the database framework of another role.
#[test]
fn reserved_only_to_role_fires_when_a_volume_reaches_another_role() {
    let violations = fires_with_bug(
        "storage-replicated",
        Bug::VolumeOfferedToAnyRole,
        "reserved_only_to_role",
    );
    assert!(
        violations[0]
            .message
            .contains("holds another role's reserved resources or volume"),
        "{violations:?}"
    );
}

// ----- [expect] checkers on real runs -----

/// A new leader that forgets the tasks of a framework not yet re-registered
/// (`forget-tasks-before-framework`) loses them, and rebuilds another state
/// than the old leader held: `no_task_lost` and `rebuilt_state` fire on
/// `agent-restart-during-master-failover.toml`, which passes as shipped.
#[test]
fn no_task_lost_and_rebuilt_state_fire_when_a_new_leader_forgets_tasks() {
    let lost = fires_with_bug(
        "agent-restart-during-master-failover",
        Bug::ForgetTasksBeforeFramework,
        "no_task_lost",
    );
    // Every one of the forgotten framework's six tasks, once each.
    assert_eq!(lost.len(), 6, "{lost:?}");
    assert!(
        lost.iter().all(|v| v
            .message
            .starts_with("scheduler-web-1 received TASK_LOST for web-")),
        "{lost:?}"
    );
    let rebuilt = fires_with_bug(
        "agent-restart-during-master-failover",
        Bug::ForgetTasksBeforeFramework,
        "rebuilt_state",
    );
    assert_eq!(rebuilt.len(), 1, "{rebuilt:?}");
    assert!(
        rebuilt[0]
            .message
            .starts_with("the new leader's state differs from the old one's"),
        "{rebuilt:?}"
    );
}

/// The second copy the planted `unique-id-ignores-unreachable` starts is a
/// restart of the task ID (`no_task_restarted`, which the file asks for).
#[test]
fn no_task_restarted_fires_when_a_second_copy_starts() {
    let restarted = fires_with_bug(
        "unreachable-task-id-reused",
        Bug::UniqueIdIgnoresUnreachable,
        "no_task_restarted",
    );
    assert!(
        restarted
            .iter()
            .any(|v| v.message.contains("started 2 times")),
        "{restarted:?}"
    );
}

/// Counted on a real run against a wrong expectation: `invalid-operations`
/// refuses 7 operations, so expecting 8 fires `refused_operations`; and
/// `agent-restart` (a clean agent restart) tears no checkpoint, so expecting
/// a truncation fires `checkpoint_truncated`.
#[test]
fn refused_operations_and_checkpoint_truncated_fire_on_a_real_run() {
    let mut s = load(&scenarios_dir().join("invalid-operations.toml")).unwrap();
    assert_eq!(s.spec.expect.refused_operations, Some(7));
    assert_pass(&run(&s).0);
    s.spec.expect.refused_operations = Some(8);
    let (report, _) = run(&s);
    only(
        &report,
        "refused_operations",
        &[],
        "the master refused 7 offer operations, expected 8",
    );

    let mut s = load(&scenarios_dir().join("agent-restart.toml")).unwrap();
    assert_pass(&run(&s).0);
    s.spec.expect.checkpoint_truncated = true;
    let (report, _) = run(&s);
    only(
        &report,
        "checkpoint_truncated",
        &[],
        "no recovery truncated a torn checkpoint record",
    );
}

/// A fault on `leader` while the cluster has none — its only master cut off
/// from the coordinator for the whole safety phase — has no target by
/// circumstance, not by a harness mistake: not vacuous. (It was, before the
/// exemption: `vacuous_fault` fired on this very run.)
#[test]
fn a_leader_fault_while_no_master_leads_is_not_vacuous() {
    let s = scenario(
        r#"
        [cluster]
        masters = 1
        agents = 1
        agent_resources = { cpus = 2, mem = "4GB", disk = "10GB" }
        [[framework]]
        name = "web"
        tasks = 1
        task_resources = { cpus = 1, mem = "1GB" }
        [[step]]
        wait = "leader_elected"
        within = "30s"
        [[step]]
        partition = [["master-1"], ["coordinator"]]
        [[step]]
        wait = "no_leader"
        within = "30s"
        [nemesis]
        interval = "10s"
        fault_min = "1s"
        fault_max = "2s"
        safety = "20s"
        liveness = "60s"
        [nemesis.kinds]
        crash_leader = 1
        "#,
    );
    let (report, _) = run(&s);
    assert_pass(&report);
    let leader = &report.faults[&mesochaos_faults::nemesis::FaultKind::CrashLeader];
    assert_eq!((leader.fired, leader.vacuous), (0, 0), "{leader:?}");
}
