//! Running a script of steps against a simulated cluster, and what a run reports.

use crate::checkers;
use crate::cluster::{Cluster, ClusterSpec, DropRule, RoleRef, HARNESS};
use crate::filters::{InjectSpec, InjectStatus};
use crate::trace::{Trace, TraceKind};
use mesochaos_faults::nemesis::{self, Shape};
use mesochaos_faults::{Fault, FaultKind, NemesisSpec, Schedule, Target};
use mesochaos_reference::io::Command;
use mesochaos_reference::master::RebuiltView;
use mesochaos_reference::scheduler::InstanceState;
use mesochaos_reference::{
    AgentId, Event, FrameworkId, ProcessId, Reason, Resources, TaskId, TaskState,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;

/// What a fault hit, once its targets resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub processes: Vec<ProcessId>,
    pub machines: Vec<String>,
}

/// One step of a scenario script. Steps run in order; each starts when the
/// previous one is done.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Step {
    /// Inject a fault (or heal).
    Fault(Fault),
    /// Wait until `condition` holds; fail the run if it does not within `within_ms`.
    Wait {
        condition: Condition,
        within_ms: u64,
    },
    /// Let simulated time pass.
    Sleep { ms: u64 },
    /// Make a framework's scheduler send a call: the active instance, or the
    /// named one whatever it believes (to show what the master does with calls
    /// from an instance that was replaced).
    Call {
        framework: String,
        instance: Option<Target>,
        command: Command,
        /// For a reconciliation: tasks whose question names the agent a target
        /// resolves to when the step runs (its current agent ID), added to
        /// the command's `agents`.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        agent_targets: BTreeMap<TaskId, Target>,
    },
    /// Write a message on a real connection from `from`'s host to `to`, as
    /// `from` would send it (`crate::filters`).
    Inject {
        from: Target,
        to: Target,
        message: InjectSpec,
    },
}

/// Something a `wait` step waits for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Condition {
    /// A recovered leader exists.
    LeaderElected,
    /// A leader exists whose epoch is newer than the one the last `crash
    /// leader` (or partition of the leader) hit.
    NewLeader,
    /// No master leads.
    NoLeader,
    /// `framework`'s scheduler sees at least `count` tasks `TASK_RUNNING`.
    TasksRunning { framework: String, count: u64 },
    /// Every live agent and scheduler is registered with the current leader.
    Reregistered,
    /// Re-registered, and every update acknowledged, desired tasks running, and
    /// the leader's task table equal to the agents'.
    Converged,
    /// An instance of `framework` (the named one, if given) is active, registered
    /// with the leader, and the leader's scheduler for the framework.
    SchedulerActive {
        framework: String,
        instance: Option<String>,
    },
    /// The leader obeys an instance of `framework` other than the one the last
    /// fault on `active-scheduler:<framework>` hit.
    NewScheduler { framework: String },
    /// The leader removed `framework` (its failover timeout passed).
    FrameworkRemoved { framework: String },
    /// Scheduler instance `instance` was stopped by an error from the master.
    InstanceStopped { instance: String },
    /// `framework` has received at least `count` updates with `state`.
    UpdateSeen {
        framework: String,
        state: TaskState,
        count: u64,
    },
    /// A database task of `framework` acknowledged a write since the last fault
    /// (or heal) was applied: its store is writable again.
    DbWritable { framework: String },
}

/// What must hold at the end of a run (on top of the always-on checkers).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Expectations {
    /// Failover time (DESIGN.md) of the last leader crash, at most this.
    pub failover_time_max_ms: Option<u64>,
    /// No framework received `TASK_LOST`.
    pub no_task_lost: bool,
    /// No task ID was started more than once (executor hosts' start counts).
    pub no_task_restarted: bool,
    /// No framework received a terminal update (reconciliation answers and
    /// retried updates of non-terminal states are fine).
    pub no_task_ended: bool,
    /// The leader after the last failover holds the same frameworks, agents and
    /// tasks as the leader before it.
    pub rebuilt_state_matches: bool,
    /// Counts of updates frameworks must (or must not) have received.
    pub updates: Vec<UpdateExpectation>,
    /// Some agent's recovery found a torn checkpoint record and cut it off.
    pub checkpoint_truncated: bool,
    /// Exactly this many offer operations refused by the master.
    pub refused_operations: Option<u64>,
    /// Bounds on acknowledged database records lost (the storage comparison:
    /// a strategy that must lose nothing, one that must lose data on a wipe).
    pub acked_records_lost_max: Option<u64>,
    pub acked_records_lost_min: Option<u64>,
    /// At least this many database records acknowledged.
    pub acked_records_min: Option<u64>,
    /// Things that happen no earlier / no later than a time after a step, or
    /// never in a window (`[[expect.timing]]`).
    pub timing: Vec<crate::expect::TimingExpectation>,
    /// The final leader's state (`[expect.leader]`).
    pub leader: Option<crate::expect::LeaderExpectations>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateExpectation {
    pub framework: String,
    pub state: TaskState,
    pub reason: Option<Reason>,
    /// Only updates from this source (MASTER, AGENT, EXECUTOR).
    pub source: Option<mesochaos_reference::Source>,
    /// Only updates this scheduler instance received.
    pub instance: Option<String>,
    pub min: u64,
    pub max: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSpec {
    pub name: String,
    pub cluster: ClusterSpec,
    pub steps: Vec<Step>,
    pub expect: Expectations,
    /// Randomized faults after the steps: a safety phase, then a liveness phase.
    pub nemesis: Option<NemesisSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
}

/// A property that did not hold, with where and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Which checker or expectation failed.
    pub checker: String,
    pub t_ms: u64,
    pub message: String,
    /// The processes involved.
    pub processes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// From the last leader crash to every live agent and scheduler
    /// re-registered with the new leader.
    pub failover_time_ms: Option<u64>,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    pub trace_records: u64,
    /// Task starts counted by executor hosts.
    pub task_starts: u64,
    /// Status updates received by frameworks, by state.
    pub updates_by_state: BTreeMap<String, u64>,
    /// Database records acknowledged after fsync and later not found (a disk
    /// wipe is the only allowed cause).
    pub acked_records_lost: u64,
    /// Database records acknowledged to clients.
    pub acked_records: u64,
    /// Offer operations the master refused.
    pub refused_operations: u64,
    /// Time without a writable database store ([`checkers::db_availability`]);
    /// `None` when no database acknowledged a write.
    pub db_unwritable_ms: Option<u64>,
    /// Mean latency of acknowledged database writes, in microseconds.
    pub db_write_latency_mean_us: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FinalState {
    pub leader: Option<LeaderSummary>,
    pub frameworks: Vec<FrameworkSummary>,
    pub agents: Vec<AgentSummary>,
    pub tasks: Vec<TaskSummary>,
    /// Frameworks the leader removed, with how their tasks ended.
    pub completed_frameworks: Vec<CompletedFrameworkSummary>,
    /// Dynamic reservations, per agent and role, as the leader knows them.
    pub reservations: Vec<ReservationSummary>,
    /// Persistent volumes, as the leader knows them.
    pub volumes: Vec<VolumeSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationSummary {
    pub agent_id: AgentId,
    pub role: String,
    pub resources: Resources,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSummary {
    pub agent_id: AgentId,
    pub role: String,
    pub id: String,
    pub disk_mb: u64,
    /// The task using it, if any.
    pub in_use_by: Option<TaskId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderSummary {
    pub master: ProcessId,
    pub epoch: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkSummary {
    pub framework_id: FrameworkId,
    pub name: String,
    pub active: bool,
    pub scheduler: Option<ProcessId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedFrameworkSummary {
    pub framework_id: FrameworkId,
    pub name: String,
    pub tasks: Vec<CompletedTaskSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedTaskSummary {
    pub task_id: TaskId,
    pub agent_id: AgentId,
    pub state: TaskState,
    pub reason: Option<Reason>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub agent_id: AgentId,
    pub process: ProcessId,
    pub connected: bool,
    pub total: Resources,
    pub used: Resources,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub framework_id: FrameworkId,
    pub task_id: TaskId,
    pub agent_id: AgentId,
    pub state: TaskState,
}

/// The leader's state just before the last leader crash, and the new leader's
/// at the end of the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RebuiltComparison {
    pub before: RebuiltView,
    pub after: Option<RebuiltView>,
}

/// A line of the human timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub t_ms: u64,
    pub at: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub seed: u64,
    pub verdict: Verdict,
    pub trace_hash: String,
    pub sim_seconds: f64,
    pub violations: Vec<Violation>,
    pub metrics: Metrics,
    pub final_state: FinalState,
    pub rebuilt: Option<RebuiltComparison>,
    pub timeline: Vec<TimelineEntry>,
    /// Per framework name, the updates its scheduler instances received, in
    /// order: `(instance, task, state, reason)`.
    pub framework_updates: BTreeMap<String, Vec<ReceivedUpdate>>,
    /// Start count per task ID (from executor hosts).
    pub task_starts: BTreeMap<String, u64>,
    /// Every process's role state at the end of the run (when asked for).
    pub roles: Option<BTreeMap<String, serde_json::Value>>,
    /// The nemesis schedule the run used (drawn from the seed, or given).
    pub schedule: Option<Schedule>,
    /// Per fault kind of the schedule: how many were scheduled, fired (found
    /// their target) and never found one.
    pub faults: BTreeMap<FaultKind, FaultCounts>,
    /// Host ticks turmoil found idle: skipped, or, with
    /// `RunOptions::verify_idle_skips`, run and checked to do nothing
    /// (vendor/turmoil/PATCHES.md, patch 4). Not part of the trace.
    pub idle_host_ticks: u64,
}

impl RunReport {
    /// The report of a run whose simulation panicked: a failed run.
    pub fn panicked(scenario: &str, seed: u64, message: String) -> RunReport {
        RunReport {
            scenario: scenario.to_string(),
            seed,
            verdict: Verdict::Fail,
            trace_hash: "none (the run panicked)".into(),
            sim_seconds: 0.0,
            violations: vec![Violation {
                checker: "panic".into(),
                t_ms: 0,
                message,
                processes: vec![],
            }],
            metrics: Metrics::default(),
            final_state: FinalState::default(),
            rebuilt: None,
            timeline: vec![],
            framework_updates: BTreeMap::new(),
            task_starts: BTreeMap::new(),
            roles: None,
            schedule: None,
            faults: BTreeMap::new(),
            idle_host_ticks: 0,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    pub scheduled: u64,
    pub fired: u64,
    pub vacuous: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedUpdate {
    pub t_ms: u64,
    pub instance: ProcessId,
    pub task_id: TaskId,
    pub state: TaskState,
    pub reason: Option<Reason>,
}

/// Optional outputs of a run.
#[derive(Default)]
pub struct RunOptions {
    /// Write every trace record here as a JSON line.
    pub trace_out: Option<Box<dyn Write>>,
    /// Put every process's role state, as JSON, in [`RunReport::roles`].
    pub snapshot_roles: bool,
    /// Use this nemesis schedule instead of drawing one (replay, shrink).
    pub schedule: Option<Schedule>,
    /// Tick every host, checking that turmoil could have skipped the ones it
    /// calls idle (vendor/turmoil/PATCHES.md, patch 4). Same trace, slower.
    pub verify_idle_skips: bool,
}

/// Runs `spec` with `seed`, optionally writing the trace as JSON lines.
pub fn run(spec: &RunSpec, seed: u64, trace_out: Option<Box<dyn Write>>) -> RunReport {
    let options = RunOptions {
        trace_out,
        snapshot_roles: false,
        schedule: None,
        verify_idle_skips: false,
    };
    run_recorded(spec, seed, options).0
}

/// Like [`run`], also returning every trace record (for tests that check order).
pub fn run_recorded(
    spec: &RunSpec,
    seed: u64,
    options: RunOptions,
) -> (RunReport, Vec<crate::trace::TraceRecord>) {
    let RunOptions {
        trace_out,
        snapshot_roles,
        schedule,
        verify_idle_skips,
    } = options;
    let mut runner = Runner {
        cluster: Cluster::build(
            spec.cluster.clone(),
            seed,
            Trace::new(trace_out),
            verify_idle_skips,
        ),
        violations: Vec::new(),
        failover: None,
        rebuilt_before: None,
        failover_time_ms: None,
        last_leader_epoch: None,
        multiple_leaders_reported: false,
        displaced: BTreeMap::new(),
        last_crashed: None,
        fault_counts: BTreeMap::new(),
        converged_after_heal: false,
        offers_reported: false,
        step_done: Vec::new(),
    };
    // The schedule is drawn before anything runs, from its own stream.
    let schedule = spec.nemesis.as_ref().map(|n| {
        schedule.unwrap_or_else(|| {
            let mut rng = crate::seed::stream(seed, "nemesis");
            nemesis::draw(n, &shape(&spec.cluster), &mut rng)
        })
    });
    let mut outcome = runner.run_steps(spec);
    if let (Ok(()), Some(n), Some(schedule)) = (&outcome, &spec.nemesis, &schedule) {
        outcome = runner.run_nemesis(n, schedule, &spec.cluster);
    } else if outcome.is_ok() && spec.nemesis.is_none() && runner.cluster.converged() {
        // A scripted run that ends converged is held to the same agreement
        // as a nemesis run after its heal.
        runner.check_agreement();
    }
    if let Err(violation) = outcome {
        runner.violations.push(violation);
    }
    let shared = runner.cluster.shared.clone();
    let roles = snapshot_roles.then(|| runner.cluster.snapshot_roles());
    let fault_counts = std::mem::take(&mut runner.fault_counts);
    let mut report = runner.finish(spec, seed);
    report.roles = roles;
    report.schedule = schedule;
    report.faults = fault_counts;
    let records = shared.trace.borrow_mut().take_records();
    (report, records)
}

struct Runner {
    cluster: Cluster,
    violations: Vec<Violation>,
    /// A failover being measured: (crash time, epoch of the crashed leader).
    failover: Option<(u64, u64)>,
    rebuilt_before: Option<RebuiltView>,
    failover_time_ms: Option<u64>,
    /// The epoch the last leader-targeted fault hit (for `NewLeader`).
    last_leader_epoch: Option<u64>,
    multiple_leaders_reported: bool,
    /// Per framework, the instance the last fault on its active instance hit.
    displaced: BTreeMap<String, ProcessId>,
    /// The process the most recent crash hit.
    last_crashed: Option<ProcessId>,
    fault_counts: BTreeMap<FaultKind, FaultCounts>,
    /// The cluster converged after the nemesis healed everything.
    converged_after_heal: bool,
    /// Offer accounting was found broken (reported once).
    offers_reported: bool,
    /// When each step was done, in order (for timing expectations).
    step_done: Vec<u64>,
}

/// Within the leader's epoch, the outstanding offers for an agent plus what its
/// active tasks use never exceed the agent's resources, role by role — so no
/// resource is in two outstanding offers — and a volume is in at most one
/// offer and never offered while a task uses it. Recomputed from the offers and
/// tasks themselves, not from the master's running totals.
pub fn offer_problem(leader: &mesochaos_reference::master::Leader) -> Option<String> {
    use mesochaos_reference::resources::RoleResources;
    let mut committed: BTreeMap<&AgentId, RoleResources> = BTreeMap::new();
    let mut volumes_offered: BTreeMap<String, &mesochaos_reference::OfferId> = BTreeMap::new();
    for offer in leader.offers.values() {
        let c = committed.entry(&offer.agent_id).or_default();
        *c = c.plus(&offer.resources);
        for v in &offer.volumes {
            let key = format!("{}/{}", offer.agent_id, v.key());
            if let Some(other) = volumes_offered.insert(key.clone(), &offer.offer_id) {
                return Some(format!(
                    "volume {key} is in two outstanding offers: {other} and {}",
                    offer.offer_id
                ));
            }
        }
    }
    for framework in leader.frameworks.values() {
        for task in framework.tasks.values() {
            if !task.state.is_active() {
                continue;
            }
            let mut used = RoleResources::default();
            used.add(&task.info.role, &task.info.resources);
            let c = committed.entry(&task.agent_id).or_default();
            *c = c.plus(&used);
            if let Some(volume) = &task.info.volume {
                let key = format!("{}/{}/{volume}", task.agent_id, task.info.role);
                if let Some(offer) = volumes_offered.get(&key) {
                    return Some(format!(
                        "volume {key} is offered in {offer} while task {} uses it",
                        task.info.task_id
                    ));
                }
            }
        }
    }
    for (agent_id, committed) in committed {
        let Some(agent) = leader.agents.get(agent_id) else {
            continue; // tasks of an agent not registered yet
        };
        if !agent.total.contains(&committed) {
            return Some(format!(
                "agent {agent_id}: outstanding offers and active tasks hold {committed:?}, more than its {:?}",
                agent.total
            ));
        }
    }
    None
}

/// The names a nemesis can target in a cluster of this shape.
pub fn shape(spec: &ClusterSpec) -> Shape {
    let names: Vec<String> = crate::cluster::process_names(spec)
        .into_iter()
        .map(|(p, _)| p.to_string())
        .collect();
    let with = |prefix: &str| -> Vec<String> {
        names
            .iter()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect()
    };
    let mut other_machines = vec!["coordinator".to_string()];
    other_machines.extend(with("master-"));
    other_machines.extend(with("scheduler-"));
    other_machines.extend(with("storage-"));
    Shape {
        masters: with("master-"),
        agents: with("agent-"),
        frameworks: spec.frameworks.iter().map(|f| f.name.clone()).collect(),
        pausable: names
            .iter()
            .filter(|n| !n.starts_with("executors-"))
            .cloned()
            .collect(),
        other_machines,
    }
}

/// How long after the heal the cluster may take to converge, from its timings:
/// a coordinator session to expire and a leader to be elected, an agent's
/// health check to fail, the longest registration backoff, a restarted
/// process's delay and its executors' re-registration window, the longest
/// status update retry interval the safety phase can have reached, and — after
/// a failover — an agent that never comes back (a wiped machine's old ID):
/// questions about its tasks get no answer until `agent_reregister_timeout`
/// marks it unreachable (Mesos `Master::reconcile`, case 2), and the
/// scheduler's next reconciliation retry (capped at `registration_backoff_max`).
pub fn liveness_bound_ms(spec: &ClusterSpec, nemesis: &NemesisSpec) -> u64 {
    if let Some(ms) = nemesis.liveness_ms {
        return ms;
    }
    let t = &spec.timing;
    let retry = t
        .status_update_retry_max_ms
        .min(t.status_update_retry_ms.max(nemesis.safety_ms));
    t.zk_session_timeout_ms
        + t.agent_ping_timeout_ms * u64::from(t.max_agent_ping_timeouts)
        + t.registration_backoff_max_ms
        + spec.restart_delay_ms
        + t.executor_reregistration_timeout_ms
        + retry
        + t.agent_reregister_timeout_ms
        + t.registration_backoff_max_ms
}

impl Runner {
    fn now(&self) -> u64 {
        self.cluster.now_ms()
    }

    fn violation(&self, checker: &str, message: String, processes: Vec<String>) -> Violation {
        Violation {
            checker: checker.into(),
            t_ms: self.now(),
            message,
            processes,
        }
    }

    /// One tick, then the per-tick checks.
    fn tick(&mut self) -> Result<(), Violation> {
        if self.now() >= self.cluster.spec.duration_ms {
            return Err(self.violation(
                "duration",
                format!(
                    "the run reached its {} ms bound before its steps finished",
                    self.cluster.spec.duration_ms
                ),
                vec![],
            ));
        }
        self.cluster
            .step()
            .map_err(|e| self.violation("process_panicked", e, vec![]))?;
        let leading = self.cluster.leading_masters();
        if leading.len() > 1 && !self.multiple_leaders_reported {
            self.multiple_leaders_reported = true;
            let names = leading
                .iter()
                .map(|(n, e)| format!("{n} (epoch {e})"))
                .collect::<Vec<_>>();
            self.violations.push(self.violation(
                "single_leader",
                format!(
                    "{} masters believe they lead: {}",
                    leading.len(),
                    names.join(", ")
                ),
                leading.iter().map(|(n, _)| n.to_string()).collect(),
            ));
        }
        if self.now().is_multiple_of(1_000) && !self.offers_reported {
            if let Some(problem) = self.cluster.leader_state(offer_problem).flatten() {
                self.offers_reported = true;
                self.violations
                    .push(self.violation("offer_accounting", problem, vec![]));
            }
        }
        if let Some((crashed_at, old_epoch)) = self.failover {
            if self.failover_time_ms.is_none() && self.cluster.all_reregistered() {
                if let Some((_, epoch)) = self.cluster.leader() {
                    if epoch > old_epoch {
                        self.failover_time_ms = Some(self.now() - crashed_at);
                    }
                }
            }
        }
        Ok(())
    }

    fn run_steps(&mut self, spec: &RunSpec) -> Result<(), Violation> {
        for (index, step) in spec.steps.iter().enumerate() {
            let started = self.now();
            self.cluster.shared.record_at(
                started,
                &ProcessId::from(HARNESS),
                TraceKind::Fault {
                    fault: "step".into(),
                    detail: format!("{}: {}", index + 1, describe_step(step)),
                },
            );
            match step {
                Step::Fault(fault) => {
                    // Targets resolve when the fault fires; "the leader" during an
                    // election means waiting for one.
                    while self.apply_fault(fault)?.is_none() {
                        self.tick()?;
                    }
                }
                Step::Wait {
                    condition,
                    within_ms,
                } => loop {
                    if self.holds(condition) {
                        break;
                    }
                    if self.now() > started + within_ms {
                        return Err(self.violation(
                            "wait",
                            format!(
                                "step {}: \"{condition}\" did not hold within {}",
                                index + 1,
                                seconds(*within_ms)
                            ),
                            vec![],
                        ));
                    }
                    self.tick()?;
                },
                Step::Sleep { ms } => {
                    while self.now() < started + ms {
                        self.tick()?;
                    }
                }
                Step::Call {
                    framework,
                    instance,
                    command,
                    agent_targets,
                } => {
                    let command = self.with_agent_ids(index, command, agent_targets)?;
                    let instance = match instance {
                        Some(target) => self.resolve(target).filter(|p| self.cluster.is_running(p)),
                        None => self.cluster.active_instance(framework),
                    };
                    let instance = instance.ok_or_else(|| {
                        self.violation(
                            "call",
                            format!("step {}: framework {framework} has no such running scheduler instance", index + 1),
                            vec![],
                        )
                    })?;
                    self.cluster.command(&instance, command);
                    self.tick()?;
                }
                Step::Inject { from, to, message } => self.inject(index, from, to, message)?,
            }
            self.step_done.push(self.now());
        }
        Ok(())
    }

    /// A reconciliation's `agent_targets` resolved to the agents' current IDs
    /// (waiting, tick by tick, while a target names no agent yet).
    fn with_agent_ids(
        &mut self,
        index: usize,
        command: &Command,
        agent_targets: &BTreeMap<TaskId, Target>,
    ) -> Result<Command, Violation> {
        let Command::Reconcile { task_ids, agents } = command else {
            return Ok(command.clone());
        };
        let mut agents = agents.clone();
        for (task, target) in agent_targets {
            let process = loop {
                match self.resolve(target) {
                    Some(p) => break p,
                    None => self.tick()?,
                }
            };
            let id =
                crate::filters::current_agent_id(&self.cluster, &process).ok_or_else(|| {
                    self.violation(
                        "call",
                        format!(
                            "step {}: {process} (\"{target}\") has no agent ID to name for {task}",
                            index + 1
                        ),
                        vec![process.to_string()],
                    )
                })?;
            agents.insert(task.clone(), id);
        }
        Ok(Command::Reconcile {
            task_ids: task_ids.clone(),
            agents,
        })
    }

    /// An `inject` step: `from`'s driver writes the message on its connection
    /// to `to` (dialing one if it has none); done one tick after it is written.
    fn inject(
        &mut self,
        index: usize,
        from: &Target,
        to: &Target,
        spec: &InjectSpec,
    ) -> Result<(), Violation> {
        let fail = |runner: &Self, why: String, process: &ProcessId| {
            runner.violation(
                "inject",
                format!("step {}: {why}", index + 1),
                vec![process.to_string()],
            )
        };
        let (sender, receiver) = loop {
            match (self.resolve(from), self.resolve(to)) {
                (Some(f), Some(t)) => break (f, t),
                _ => self.tick()?,
            }
        };
        self.check_known(&sender)?;
        self.check_known(&receiver)?;
        let masters_message = InjectSpec::KINDS
            .iter()
            .any(|(kind, by_master)| *kind == spec.kind() && *by_master);
        let prefix = if masters_message {
            "master-"
        } else {
            "scheduler-"
        };
        if !sender.as_str().starts_with(prefix) {
            let why = format!(
                "{} is a {} message: \"{from}\" is {sender}",
                spec.kind(),
                if masters_message {
                    "master's"
                } else {
                    "scheduler's"
                }
            );
            return Err(fail(self, why, &sender));
        }
        if !self.cluster.is_running(&sender) || self.cluster.is_paused(&sender) {
            let why = format!("{sender} cannot send {}: it is not running", spec.kind());
            return Err(fail(self, why, &sender));
        }
        let resolve = |t: &Target| self.resolve(t);
        let message = spec
            .build(&self.cluster, &sender, &resolve)
            .map_err(|why| fail(self, why, &sender))?;
        self.cluster.fault(
            "inject",
            format!(
                "{} {sender} -> {receiver}: {}",
                message.kind(),
                serde_json::to_string(&message).expect("messages serialize")
            ),
        );
        let incarnation = self.incarnation(&sender);
        let id = crate::filters::inject(&self.cluster.shared, &sender, &receiver, message)
            .map_err(|why| fail(self, why, &sender))?;
        loop {
            self.tick()?;
            match crate::filters::inject_status(&self.cluster.shared, id) {
                InjectStatus::Sent => return Ok(()),
                InjectStatus::Failed(why) => return Err(fail(self, why, &sender)),
                InjectStatus::Pending => {
                    if !self.cluster.is_running(&sender) || self.incarnation(&sender) != incarnation
                    {
                        let why = format!("{sender} stopped before it wrote the message");
                        return Err(fail(self, why, &sender));
                    }
                }
            }
        }
    }

    fn incarnation(&self, process: &ProcessId) -> u32 {
        self.cluster
            .shared
            .slots
            .borrow()
            .get(process)
            .map_or(0, |s| s.incarnation)
    }

    fn resolve(&self, target: &Target) -> Option<ProcessId> {
        self.resolve_all(target, false)?.into_iter().next()
    }

    /// The processes `target` names now. A group pick chooses among the
    /// group's running members (its stopped ones, for a heal such as
    /// `restart`), ordered by a hash of the seed, the time and the name: no
    /// random stream is drawn from, so a schedule shifts no other draws.
    fn resolve_all(&self, target: &Target, for_heal: bool) -> Option<Vec<ProcessId>> {
        let one = |p: Option<ProcessId>| p.map(|p| vec![p]);
        match target {
            Target::Process(name) => Some(vec![ProcessId::new(name.clone())]),
            Target::Leader => one(self.cluster.leader().map(|(n, _)| n)),
            // The instance the leader obeys; while none is (the framework is
            // between a failover and its re-registration, or cut off from the
            // leader), the instance that believes it is active — still the
            // framework's scheduler, and a fault on it is not without target.
            Target::ActiveScheduler(framework) => one(self
                .cluster
                .active_instance(framework)
                .or_else(|| self.cluster.self_declared_active(framework))),
            Target::DisplacedScheduler(framework) => one(self.displaced.get(framework).cloned()),
            Target::AgentOf(task) => one(self.cluster.agent_running(task)),
            Target::AgentRunning(framework) => one(self.cluster.agent_running_framework(framework)),
            Target::LastCrashed => one(self.last_crashed.clone()),
            Target::Members { pick, group } => {
                let all: Vec<ProcessId> = self
                    .cluster
                    .processes()
                    .into_iter()
                    .filter(|p| group.contains(p.as_str()))
                    .collect();
                let mut candidates: Vec<(u64, ProcessId)> = all
                    .iter()
                    .filter(|p| self.cluster.is_running(p) != for_heal)
                    .map(|p| {
                        let mut h = crate::seed::Fnv64::default();
                        h.write(&self.cluster.shared.seed.to_le_bytes());
                        h.write(&self.now().to_le_bytes());
                        h.write(p.as_str().as_bytes());
                        (h.finish(), p.clone())
                    })
                    .collect();
                candidates.sort();
                let count = pick.count(all.len()).min(candidates.len());
                if count == 0 {
                    return None;
                }
                let mut chosen: Vec<ProcessId> =
                    candidates.into_iter().take(count).map(|(_, p)| p).collect();
                chosen.sort();
                Some(chosen)
            }
        }
    }

    fn resolve_machines(&self, targets: &[Target]) -> Option<Vec<String>> {
        let mut machines = Vec::new();
        for t in targets {
            for p in self.resolve_all(t, false)? {
                machines.push(self.cluster.machine_of(&p)?);
            }
        }
        machines.sort();
        machines.dedup();
        Some(machines)
    }

    /// Applies a fault; `Ok(None)` if a target cannot be resolved yet, else
    /// what it hit.
    fn apply_fault(&mut self, fault: &Fault) -> Result<Option<Applied>, Violation> {
        // Resolve every target first: "the leader" during an election waits.
        let heal = matches!(fault, Fault::Restart(_) | Fault::Resume(_));
        let (processes, machines): (Vec<ProcessId>, Vec<Vec<String>>) = match fault {
            Fault::Crash(t) | Fault::Restart(t) | Fault::Pause(t) | Fault::Resume(t) => {
                match self.resolve_all(t, heal) {
                    Some(p) => (p, vec![]),
                    None => return Ok(None),
                }
            }
            Fault::Isolate(t)
            | Fault::Reboot { target: t, .. }
            | Fault::WipeDisk { target: t, .. }
            | Fault::TornWrite { target: t, .. }
            | Fault::Reconfigure { target: t, .. } => {
                match self.resolve_machines(std::slice::from_ref(t)) {
                    Some(m) => (vec![], vec![m]),
                    None => return Ok(None),
                }
            }
            Fault::Partition { a, b } | Fault::PartitionOneWay { from: a, to: b } => {
                match (self.resolve_machines(a), self.resolve_machines(b)) {
                    (Some(a), Some(b)) => (vec![], vec![a, b]),
                    _ => return Ok(None),
                }
            }
            Fault::Bridge { a, bridge, b } => match (
                self.resolve_machines(a),
                self.resolve_machines(std::slice::from_ref(bridge)),
                self.resolve_machines(b),
            ) {
                (Some(a), Some(bridge), Some(b)) => (vec![], vec![a, bridge, b]),
                _ => return Ok(None),
            },
            Fault::Ring(ring) => {
                // In ring order (not sorted): the order is the ring.
                let mut machines = Vec::new();
                for t in ring {
                    match self.resolve(t).and_then(|p| self.cluster.machine_of(&p)) {
                        Some(m) if !machines.contains(&m) => machines.push(m),
                        Some(_) => {}
                        None => return Ok(None),
                    }
                }
                (vec![], vec![machines])
            }
            Fault::DropNext { from, to, .. } | Fault::Filter { from, to, .. } => {
                match (self.resolve(from), self.resolve(to)) {
                    (Some(f), Some(t)) => (vec![f, t], vec![]),
                    _ => return Ok(None),
                }
            }
            Fault::Heal | Fault::MessageChaos { .. } | Fault::CalmMessages | Fault::Release(_) => {
                (vec![], vec![])
            }
        };
        for process in &processes {
            self.check_known(process)?;
        }
        // Remember which instance a fault on a framework's active instance hit.
        for target in fault.targets() {
            if let Target::ActiveScheduler(framework) = target {
                if let Some(process) = self.resolve(target) {
                    self.displaced.insert(framework.clone(), process);
                }
            }
        }
        // A fault that kills or cuts off the current leader starts a failover:
        // capture what the old leader knows, to compare with what the new one
        // rebuilds (offers excluded: they are soft state by design).
        if let Some((leader, epoch)) = self.cluster.leader() {
            let leader_machine = self.cluster.machine_of(&leader);
            let hits_leader = match fault {
                Fault::Crash(_) | Fault::Pause(_) => processes.contains(&leader),
                Fault::Isolate(_)
                | Fault::Partition { .. }
                | Fault::PartitionOneWay { .. }
                | Fault::Bridge { .. }
                | Fault::Ring(_)
                | Fault::Reboot { .. }
                | Fault::WipeDisk { .. } => machines
                    .iter()
                    .flatten()
                    .any(|m| Some(m) == leader_machine.as_ref()),
                _ => false,
            };
            if hits_leader {
                self.rebuilt_before = self.cluster.leader_view();
                self.failover = Some((self.now(), epoch));
                self.failover_time_ms = None;
                self.last_leader_epoch = Some(epoch);
            }
        }
        match fault {
            Fault::Crash(_) => {
                for p in &processes {
                    if self.cluster.is_alive(p) {
                        self.cluster.crash(p);
                        self.last_crashed = Some(p.clone());
                    }
                }
            }
            Fault::Restart(_) => {
                for p in &processes {
                    let powered = self
                        .cluster
                        .machine_of(p)
                        .is_some_and(|m| !self.cluster.is_powered_off(&m));
                    if !self.cluster.is_running(p) && powered {
                        self.cluster.restart(p);
                    }
                }
            }
            Fault::Pause(_) => {
                for p in &processes {
                    self.cluster.pause(p);
                }
            }
            Fault::Resume(_) => {
                for p in &processes {
                    if self.cluster.is_paused(p) {
                        self.cluster.resume(p);
                    }
                }
            }
            Fault::Partition { .. } => self.cluster.partition(&machines[0], &machines[1]),
            Fault::PartitionOneWay { .. } => {
                self.cluster.partition_oneway(&machines[0], &machines[1])
            }
            Fault::Bridge { .. } => {
                self.cluster
                    .bridge(&machines[0], &machines[1][0], &machines[2])
            }
            Fault::Ring(_) => self.cluster.ring(&machines[0]),
            Fault::Isolate(_) => {
                for machine in &machines[0] {
                    let others: Vec<String> = self
                        .cluster
                        .machines()
                        .into_iter()
                        .filter(|m| m != machine)
                        .collect();
                    self.cluster
                        .partition(std::slice::from_ref(machine), &others);
                }
            }
            Fault::Heal => self.cluster.heal(),
            Fault::Reboot { down_ms, .. } => {
                for machine in &machines[0] {
                    self.cluster.power_off(machine, None);
                    self.cluster.schedule_power_on(machine, *down_ms);
                }
            }
            Fault::WipeDisk { down_ms, .. } => {
                for machine in &machines[0] {
                    self.cluster.power_off(machine, None);
                    self.cluster.wipe_disk(machine);
                    self.cluster.schedule_power_on(machine, *down_ms);
                }
            }
            Fault::TornWrite { down_ms, .. } => {
                for machine in &machines[0] {
                    self.cluster.tear_next_write(machine, *down_ms);
                }
            }
            Fault::Reconfigure {
                cpus_milli,
                mem_mb,
                disk_mb,
                ..
            } => {
                let resources = Resources::new(*cpus_milli, *mem_mb, *disk_mb);
                for machine in &machines[0] {
                    self.cluster.reconfigure(machine, resources);
                }
            }
            Fault::DropNext { kind, .. } => self.cluster.drop_next(DropRule {
                from: processes[0].clone(),
                to: processes[1].clone(),
                kind: kind.clone(),
            }),
            Fault::MessageChaos {
                drop_per_mille,
                delay_max_ms,
                stress,
            } => self
                .cluster
                .message_chaos(Some(crate::cluster::MessageChaos {
                    drop_per_mille: *drop_per_mille,
                    delay_max_ms: *delay_max_ms,
                    stress: *stress,
                })),
            Fault::CalmMessages => self.cluster.message_chaos(None),
            Fault::Filter {
                kind,
                from,
                to,
                hold,
            } => {
                let route = mesochaos_faults::Route {
                    kind: kind.clone(),
                    from: from.clone(),
                    to: to.clone(),
                };
                self.cluster.fault(
                    if *hold { "hold" } else { "drop" },
                    format!("every {kind} {} -> {}", processes[0], processes[1]),
                );
                crate::filters::add(
                    &self.cluster.shared,
                    crate::filters::FilterRule {
                        route,
                        from: processes[0].clone(),
                        to: processes[1].clone(),
                        hold: *hold,
                    },
                );
            }
            Fault::Release(route) => {
                let what = route
                    .as_ref()
                    .map_or("every filter".to_string(), |r| r.to_string());
                self.cluster.fault("release", what);
                let now = self.now();
                crate::filters::release(&self.cluster.shared, route.as_ref(), now);
            }
        }
        Ok(Some(Applied {
            processes,
            machines: machines.into_iter().flatten().collect(),
        }))
    }

    /// The safety phase — the schedule's faults fire at their times, each heals
    /// after its delay — then the liveness phase: heal everything and converge
    /// within the bound.
    fn run_nemesis(
        &mut self,
        spec: &NemesisSpec,
        schedule: &Schedule,
        cluster: &ClusterSpec,
    ) -> Result<(), Violation> {
        let start = self.now();
        self.cluster.fault(
            "step",
            format!(
                "nemesis: safety phase, {} faults over {}",
                schedule.faults.len(),
                seconds(spec.safety_ms)
            ),
        );
        for f in &schedule.faults {
            self.fault_counts.entry(f.kind).or_default().scheduled += 1;
        }
        // (due, index, is_heal); a fault not yet resolvable stays due.
        let mut pending: std::collections::BTreeSet<(u64, usize, bool)> = schedule
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| (start + f.at_ms, i, false))
            .collect();
        let mut hit: BTreeMap<usize, Applied> = BTreeMap::new();
        let end = start + spec.safety_ms;
        while self.now() < end {
            let now = self.now();
            let due: Vec<(u64, usize, bool)> = pending
                .iter()
                .filter(|(at, ..)| *at <= now)
                .copied()
                .collect();
            for item in due {
                let (_, i, is_heal) = item;
                let f = &schedule.faults[i];
                if is_heal {
                    pending.remove(&item);
                    if let Some(applied) = hit.get(&i) {
                        let applied = applied.clone();
                        self.heal_fault(&f.fault, &applied);
                    }
                    continue;
                }
                if let Some(applied) = self.apply_fault(&f.fault)? {
                    pending.remove(&item);
                    self.fault_counts.entry(f.kind).or_default().fired += 1;
                    if let Some(after) = f.heal_after_ms {
                        pending.insert((self.now() + after, i, true));
                    }
                    hit.insert(i, applied);
                }
            }
            self.tick()?;
        }
        // Faults that never found a target make the run vacuous.
        let mut vacuous = Vec::new();
        for (_, i, is_heal) in &pending {
            let f = &schedule.faults[*i];
            // A fault on the active instance of a framework the master removed
            // has no target by design (its instances stopped): not vacuous.
            // Nor is one on the leader while the cluster has none (an
            // election cut off from the coordinator by other faults, until
            // the safety phase ends): `leader` names a role, and no process
            // holds it.
            let gone = f.fault.targets().iter().any(|t| match t {
                Target::ActiveScheduler(fw) => self.cluster.framework_stopped(fw),
                Target::Leader => self.cluster.leader().is_none(),
                _ => false,
            });
            if !is_heal && !gone {
                self.fault_counts.entry(f.kind).or_default().vacuous += 1;
                vacuous.push(format!("{} at {}", f.fault, seconds(f.at_ms)));
            }
        }
        // Liveness phase: heal what is still in force, then converge.
        self.cluster.fault(
            "step",
            "nemesis: liveness phase, heal everything".to_string(),
        );
        for (_, i, is_heal) in std::mem::take(&mut pending) {
            if is_heal {
                if let Some(applied) = hit.get(&i).cloned() {
                    self.heal_fault(&schedule.faults[i].fault, &applied);
                }
            }
        }
        self.cluster.heal();
        self.cluster.message_chaos(None);
        if crate::filters::in_force(&self.cluster.shared) {
            self.cluster
                .fault("release", "every filter (liveness phase)");
            let now = self.now();
            crate::filters::release(&self.cluster.shared, None, now);
        }
        for p in self.cluster.paused() {
            self.cluster.resume(&p);
        }
        let bound = liveness_bound_ms(cluster, spec);
        let healed = self.now();
        while !self.cluster.converged() {
            if self.now() > healed + bound {
                return Err(self.violation(
                    "liveness",
                    format!(
                        "the cluster did not converge within {} of the heal: {}",
                        seconds(bound),
                        self.cluster.why_not_converged()
                    ),
                    vec![],
                ));
            }
            self.tick()?;
        }
        self.converged_after_heal = true;
        // Converged: the leader's soft state must equal what the agents hold.
        self.check_agreement();
        if !vacuous.is_empty() {
            return Err(self.violation(
                "vacuous_fault",
                format!(
                    "scheduled faults found no target during the safety phase: {}",
                    vacuous.join("; ")
                ),
                vec![],
            ));
        }
        Ok(())
    }

    /// `state_agreement`, once the cluster has converged: the leader's soft
    /// state equals what the agents hold (`crate::agreement`).
    fn check_agreement(&mut self) {
        if let Some((leader, agents)) = crate::agreement::views(&self.cluster) {
            let problems = crate::agreement::disagreements(&leader, &agents);
            if !problems.is_empty() {
                let violation = self.violation("state_agreement", problems.join("; "), vec![]);
                self.violations.push(violation);
            }
        }
    }

    /// Undoes what fault `fault` did to `applied`.
    fn heal_fault(&mut self, fault: &Fault, applied: &Applied) {
        match fault {
            Fault::Crash(_) => {
                for p in &applied.processes {
                    let powered = self
                        .cluster
                        .machine_of(p)
                        .is_some_and(|m| !self.cluster.is_powered_off(&m));
                    if !self.cluster.is_alive(p) && powered {
                        self.cluster.restart(p);
                    }
                }
            }
            Fault::Pause(_) => {
                for p in &applied.processes {
                    if self.cluster.is_paused(p) {
                        self.cluster.resume(p);
                    }
                }
            }
            Fault::MessageChaos { .. } => self.cluster.message_chaos(None),
            Fault::TornWrite { .. } => {
                for m in &applied.machines {
                    self.cluster.disarm_torn_write(m);
                }
            }
            f if f.is_network() => self.cluster.heal(),
            _ => {}
        }
    }

    fn check_known(&self, process: &ProcessId) -> Result<(), Violation> {
        if self.cluster.machine_of(process).is_none() {
            return Err(self.violation(
                "step",
                format!("no process named {process}"),
                vec![process.to_string()],
            ));
        }
        Ok(())
    }

    fn holds(&self, condition: &Condition) -> bool {
        match condition {
            Condition::LeaderElected => self.cluster.leader().is_some(),
            Condition::NewLeader => match (self.cluster.leader(), self.last_leader_epoch) {
                (Some((_, epoch)), Some(old)) => epoch > old,
                (Some(_), None) => true,
                (None, _) => false,
            },
            Condition::NoLeader => self.cluster.leading_masters().is_empty(),
            Condition::TasksRunning { framework, count } => {
                self.cluster.schedulers().iter().any(|(_, s)| {
                    let s = s.borrow();
                    s.framework_name() == framework
                        && s.tasks()
                            .values()
                            .filter(|t| t.state == TaskState::Running)
                            .count() as u64
                            >= *count
                })
            }
            Condition::Reregistered => self.cluster.all_reregistered(),
            Condition::SchedulerActive {
                framework,
                instance,
            } => match self.cluster.active_instance(framework) {
                Some(active) => instance.as_ref().is_none_or(|name| active.as_str() == name),
                None => false,
            },
            Condition::NewScheduler { framework } => {
                match self.cluster.active_instance(framework) {
                    Some(active) => self.displaced.get(framework) != Some(&active),
                    None => false,
                }
            }
            Condition::FrameworkRemoved { framework } => {
                self.cluster.leader_state(|leader| {
                    leader
                        .completed_frameworks
                        .values()
                        .any(|f| &f.info.name == framework)
                }) == Some(true)
            }
            Condition::InstanceStopped { instance } => {
                self.cluster.schedulers().iter().any(|(name, s)| {
                    name.as_str() == instance
                        && matches!(s.borrow().instance(), InstanceState::Stopped { .. })
                })
            }
            Condition::Converged => self.cluster.converged(),
            Condition::UpdateSeen {
                framework,
                state,
                count,
            } => {
                let prefix = format!("scheduler-{framework}-");
                let seen = self
                    .cluster
                    .shared
                    .trace
                    .borrow()
                    .events()
                    .filter(|(_, at, e)| {
                        at.as_str().starts_with(&prefix)
                            && matches!(e, Event::UpdateReceived { state: s, .. } if s == state)
                    })
                    .count() as u64;
                seen >= *count
            }
            Condition::DbWritable { framework } => {
                let prefix = format!("{framework}-");
                let trace = self.cluster.shared.trace.borrow();
                for r in trace.records().iter().rev() {
                    match &r.kind {
                        // A step marker is not a fault.
                        TraceKind::Fault { fault, .. } if fault != "step" => return false,
                        TraceKind::Event {
                            event: Event::DbRecordAcked { task_id, .. },
                        } if task_id.as_str().starts_with(&prefix) => return true,
                        _ => {}
                    }
                }
                false
            }
        }
    }

    fn finish(mut self, spec: &RunSpec, seed: u64) -> RunReport {
        let trace = self.cluster.shared.trace.borrow();
        let framework_updates = checkers::framework_updates(trace.records());
        let task_starts = checkers::task_starts(trace.records());
        self.violations
            .extend(checkers::check_trace(trace.records()));
        self.violations
            .extend(checkers::check_framework_identity(trace.records()));
        self.violations
            .extend(crate::refusals::check_reuse_refused(trace.records()));
        let timeouts = crate::explain::Timeouts {
            timing: spec.cluster.timing.clone(),
            failover_ms: spec
                .cluster
                .frameworks
                .iter()
                .map(|f| (f.name.clone(), f.failover_timeout_ms))
                .collect(),
        };
        self.violations
            .extend(crate::explain::check_losses_explained(
                trace.records(),
                &timeouts,
            ));
        if self.converged_after_heal {
            self.violations
                .extend(checkers::check_update_delivery(trace.records()));
        }
        let (storage_violations, acked_records_lost) = checkers::check_storage(trace.records());
        self.violations.extend(storage_violations);
        let rebuilt = self.rebuilt_before.clone().map(|before| RebuiltComparison {
            before,
            after: self.cluster.leader_view(),
        });
        self.violations.extend(checkers::check_expectations(
            &spec.expect,
            trace.records(),
            self.now(),
            self.failover_time_ms,
            rebuilt.as_ref(),
            &framework_updates,
            &task_starts,
        ));
        self.violations.extend(crate::expect::check_timing(
            &spec.expect.timing,
            trace.records(),
            &self.step_done,
            self.now(),
        ));
        if let Some(leader) = &spec.expect.leader {
            let now = self.now();
            let checked = self.cluster.leader_state(|state| {
                crate::expect::check_leader(leader, Some(state), trace.records(), now)
            });
            self.violations.extend(checked.unwrap_or_else(|| {
                crate::expect::check_leader(leader, None, trace.records(), now)
            }));
        }
        let mut metrics = checkers::metrics(trace.records());
        metrics.failover_time_ms = self.failover_time_ms;
        metrics.acked_records_lost = acked_records_lost;
        (metrics.db_unwritable_ms, metrics.db_write_latency_mean_us) =
            checkers::db_availability(trace.records(), self.now());
        let now = self.now();
        let mut bound = |checker: &str, ok: bool, message: String| {
            if !ok {
                self.violations.push(Violation {
                    checker: checker.into(),
                    t_ms: now,
                    message,
                    processes: vec![],
                });
            }
        };
        let lost = metrics.acked_records_lost;
        if let Some(max) = spec.expect.acked_records_lost_max {
            bound(
                "acked_records_lost",
                lost <= max,
                format!("{lost} acknowledged records lost, at most {max} expected"),
            );
        }
        if let Some(min) = spec.expect.acked_records_lost_min {
            bound(
                "acked_records_lost",
                lost >= min,
                format!("{lost} acknowledged records lost, at least {min} expected"),
            );
        }
        if let Some(min) = spec.expect.acked_records_min {
            let acked = metrics.acked_records;
            bound(
                "acked_records",
                acked >= min,
                format!("{acked} database records acknowledged, at least {min} expected"),
            );
        }
        let timeline = checkers::timeline(trace.records());
        let trace_hash = trace.hash_hex();
        drop(trace);
        let final_state = final_state(&self.cluster);
        let verdict = if self.violations.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        RunReport {
            scenario: spec.name.clone(),
            seed,
            verdict,
            trace_hash,
            sim_seconds: self.now() as f64 / 1000.0,
            violations: self.violations,
            metrics,
            final_state,
            rebuilt,
            timeline,
            framework_updates,
            task_starts,
            roles: None,
            schedule: None,
            faults: BTreeMap::new(),
            idle_host_ticks: self.cluster.idle_host_ticks(),
        }
    }
}

fn describe_step(step: &Step) -> String {
    match step {
        Step::Fault(fault) => fault.to_string(),
        Step::Wait {
            condition,
            within_ms,
        } => format!("wait until {condition} (within {})", seconds(*within_ms)),
        Step::Sleep { ms } => format!("sleep {}", seconds(*ms)),
        Step::Inject { from, to, message } => {
            format!("{from} sends {} to {to} (injected)", message.kind())
        }
        Step::Call {
            framework,
            command,
            agent_targets,
            ..
        } => match command {
            Command::KillTask { task_id } => format!("{framework} kills {task_id}"),
            Command::Reconcile { task_ids, .. } if task_ids.is_empty() => {
                format!("{framework} asks for implicit reconciliation")
            }
            Command::Reconcile { task_ids, agents } => {
                let list: Vec<String> = task_ids
                    .iter()
                    .map(|t| match (agents.get(t), agent_targets.get(t)) {
                        (Some(agent), _) => format!("{t} (on {agent})"),
                        (None, Some(target)) => format!("{t} (on {target})"),
                        (None, None) => t.to_string(),
                    })
                    .collect();
                format!("{framework} asks to reconcile {}", list.join(", "))
            }
            Command::Teardown => format!("{framework} tears its framework down"),
            Command::Accept { operations } => {
                let names: Vec<&str> = operations.iter().map(|o| o.name()).collect();
                format!(
                    "{framework} accepts its next offer with {}",
                    names.join(", ")
                )
            }
        },
    }
}

fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.2}s", ms as f64 / 1000.0)
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::LeaderElected => write!(f, "a leader is elected"),
            Condition::NewLeader => write!(f, "a new leader is elected"),
            Condition::NoLeader => write!(f, "no master leads"),
            Condition::TasksRunning { framework, count } => {
                write!(f, "{framework} has {count} tasks running")
            }
            Condition::Reregistered => {
                write!(f, "every agent and framework is registered with the leader")
            }
            Condition::Converged => write!(f, "the cluster has converged"),
            Condition::SchedulerActive {
                framework,
                instance,
            } => match instance {
                Some(instance) => write!(f, "{instance} is {framework}'s active scheduler"),
                None => write!(f, "{framework} has an active scheduler"),
            },
            Condition::FrameworkRemoved { framework } => write!(f, "{framework} was removed"),
            Condition::NewScheduler { framework } => {
                write!(f, "another instance of {framework} took over")
            }
            Condition::InstanceStopped { instance } => {
                write!(f, "{instance} was stopped by the master")
            }
            Condition::UpdateSeen {
                framework,
                state,
                count,
            } => write!(f, "{framework} has received {state} {count} times"),
            Condition::DbWritable { framework } => {
                write!(
                    f,
                    "{framework}'s database acknowledged a write since the last fault"
                )
            }
        }
    }
}

fn final_state(cluster: &Cluster) -> FinalState {
    let Some((leader, epoch)) = cluster.leader() else {
        return FinalState::default();
    };
    let Some(RoleRef::Master(m)) = cluster.role(&leader) else {
        return FinalState::default();
    };
    let m = m.borrow();
    let state = m.leader().expect("leader() checked it leads");
    FinalState {
        leader: Some(LeaderSummary {
            master: leader.clone(),
            epoch,
        }),
        frameworks: state
            .frameworks
            .iter()
            .map(|(id, f)| FrameworkSummary {
                framework_id: id.clone(),
                name: f.info.name.clone(),
                active: f.active,
                scheduler: f.scheduler.clone(),
            })
            .collect(),
        agents: state
            .agents
            .iter()
            .map(|(id, a)| AgentSummary {
                agent_id: id.clone(),
                process: a.process.clone(),
                connected: a.connected,
                total: a.total.sum(),
                used: a.used.sum(),
            })
            .collect(),
        tasks: state
            .frameworks
            .iter()
            .flat_map(|(fid, f)| {
                f.tasks.iter().map(move |(tid, t)| TaskSummary {
                    framework_id: fid.clone(),
                    task_id: tid.clone(),
                    agent_id: t.agent_id.clone(),
                    state: t.state,
                })
            })
            .collect(),
        completed_frameworks: state
            .completed_frameworks
            .iter()
            .map(|(id, f)| CompletedFrameworkSummary {
                framework_id: id.clone(),
                name: f.info.name.clone(),
                tasks: f
                    .tasks
                    .iter()
                    .map(|(tid, t)| CompletedTaskSummary {
                        task_id: tid.clone(),
                        agent_id: t.agent_id.clone(),
                        state: t.state,
                        reason: t.reason,
                    })
                    .collect(),
            })
            .collect(),
        reservations: state
            .agents
            .iter()
            .flat_map(|(id, a)| {
                a.total
                    .0
                    .iter()
                    .filter(|(role, _)| role.as_str() != mesochaos_reference::resources::UNRESERVED)
                    .map(move |(role, resources)| ReservationSummary {
                        agent_id: id.clone(),
                        role: role.clone(),
                        resources: *resources,
                    })
            })
            .collect(),
        volumes: state
            .agents
            .iter()
            .flat_map(|(id, a)| {
                a.volumes.iter().map(move |(key, v)| VolumeSummary {
                    agent_id: id.clone(),
                    role: v.role.clone(),
                    id: v.id.clone(),
                    disk_mb: v.disk_mb,
                    in_use_by: a.volumes_in_use.get(key).cloned(),
                })
            })
            .collect(),
    }
}
