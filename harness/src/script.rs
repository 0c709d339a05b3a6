//! What a scenario asks of a run: the script of steps, the conditions a
//! `wait` step waits for, and the expectations checked at the end.
//!
//! `mesochaos-scenarios` builds these from a scenario file; [`crate::run`]
//! executes them. A step's one-line description (in the trace's `step`
//! records and the timeline) is made here too.

use crate::expect::{LeaderExpectations, TimingExpectation};
use crate::filters::InjectSpec;
use crate::spec::ClusterSpec;
use mesochaos_faults::{Fault, NemesisSpec, Target};
use mesochaos_reference::io::Command;
use mesochaos_reference::{Reason, TaskId, TaskState};
use serde::Serialize;
use std::collections::BTreeMap;

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
    pub timing: Vec<TimingExpectation>,
    /// The final leader's state (`[expect.leader]`).
    pub leader: Option<LeaderExpectations>,
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

/// A step in a line, for the trace and the timeline.
pub fn describe_step(step: &Step) -> String {
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

/// `ms` as seconds, for people (`2s`, `1.25s`).
pub fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.2}s", ms as f64 / 1000.0)
    }
}
