//! The one registry of task states, reasons and sources.
//!
//! Every status update in Mesos carries a *state*, usually a *reason* and always a
//! *source*. This module is the single place that lists them, each with a doc line
//! and, for states, whether the outcome is **definite** (the task is known not to be
//! running anywhere) or **indefinite** (it may still be running: the master simply
//! lost sight of it). The distinction is the heart of failure handling: a framework
//! may safely relaunch after a definite terminal state, while after `TASK_LOST` the
//! "lost" task can come back as `TASK_RUNNING` when its agent re-registers.
//!
//! Mesos defines these in `include/mesos/mesos.proto` (`enum TaskState`,
//! `TaskStatus.Reason`, `TaskStatus.Source`) and classifies states in
//! `protobuf::isTerminalState` (`src/common/protobuf_utils.cpp`). Only the
//! states and reasons some path of this crate can produce are listed (plus a
//! few kept for scenario files; see [`Reason`]). The crate says *agent* where
//! Mesos says *slave*: `AGENT_REMOVED` here is Mesos's `REASON_SLAVE_REMOVED`,
//! source `AGENT` is `SOURCE_SLAVE`. Which path sends which state, reason and
//! source, row by row against Mesos, is tabulated in `docs/task-states.md`.
//!
//! The serde names are Mesos's own (`TASK_RUNNING`, `AGENT_REMOVED`): scenario
//! files, traces and the checkers all use them, so renaming a variant must
//! not change its wire name.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A task's state (Mesos `TaskState`).
///
/// `Ord` is derived only so that states can key sorted maps and sets; the
/// order is neither Mesos's enum numbering nor a lifecycle order, and no code
/// compares states with `<`. `TASK_KILLING` is absent: Mesos sends it only to
/// frameworks with the `TASK_KILLING_STATE` capability, which none here has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaskState {
    /// The master accepted the launch and sent `RunTask`; the task has not
    /// reached its executor. Never sent as an update: the master records it
    /// in `Master::on_accept`, and an agent that restarts with a task still
    /// here knows the task never reached the executor host
    /// (`TASK_DROPPED`/`TASK_LOST`, `AGENT_RESTARTED`, as
    /// `Slave::reregisterExecutor`).
    #[serde(rename = "TASK_STAGING")]
    Staging,
    /// The executor host has the task and is starting it (its first update).
    #[serde(rename = "TASK_STARTING")]
    Starting,
    /// The task runs. A database reaches it only after reading its volume or
    /// hearing from a quorum of its store (`executor/database.rs`).
    #[serde(rename = "TASK_RUNNING")]
    Running,
    /// Partition-aware frameworks only: the task's agent missed its health
    /// checks and the master marked it unreachable (`Master::markUnreachable`
    /// in Mesos); the task may still run and come back. Not terminal, and
    /// counted active ([`is_active`]): it may still be using its resources.
    ///
    /// [`is_active`]: TaskState::is_active
    #[serde(rename = "TASK_UNREACHABLE")]
    Unreachable,
    /// The master has no record of the task (a reconciliation answer about a
    /// task on an agent it does not know). Not terminal: the task may exist.
    #[serde(rename = "TASK_UNKNOWN")]
    Unknown,
    /// Definite, terminal: the task's workload ran to completion.
    #[serde(rename = "TASK_FINISHED")]
    Finished,
    /// Definite, terminal: the task's workload failed, or its executor host
    /// died under it (`EXECUTOR_TERMINATED`).
    #[serde(rename = "TASK_FAILED")]
    Failed,
    /// Definite, terminal: killed at the framework's request, or because the
    /// framework was removed (`FRAMEWORK_REMOVED`).
    #[serde(rename = "TASK_KILLED")]
    Killed,
    /// Definite, terminal: the master refused the task's description
    /// (`TASK_INVALID`); retrying the same description cannot succeed.
    #[serde(rename = "TASK_ERROR")]
    Error,
    /// Definite, terminal, partition-aware frameworks only: the launch was
    /// dropped before the task started (invalid offers, an agent restart, an
    /// agent that does not know the task); retrying may succeed.
    #[serde(rename = "TASK_DROPPED")]
    Dropped,
    /// Definite, terminal, partition-aware frameworks only: the task is known
    /// not to run any more — its machine rebooted, or its executor did not
    /// come back after an agent restart.
    #[serde(rename = "TASK_GONE")]
    Gone,
    /// Terminal but *indefinite*: what frameworks that are not
    /// partition-aware hear instead of `UNREACHABLE`, `DROPPED` and `GONE`.
    /// The task may still run and reappear as `TASK_RUNNING` when its agent
    /// re-registers (mesos.proto: "this state is not always terminal").
    #[serde(rename = "TASK_LOST")]
    Lost,
    /// Terminal but *indefinite*: an operator asserted that the task's agent
    /// is gone; if the operator is wrong, the task may still run. Here only
    /// a reconciliation answer, for an agent the registry lists as gone.
    #[serde(rename = "TASK_GONE_BY_OPERATOR")]
    GoneByOperator,
}

impl TaskState {
    /// Every state, for parsing scenario files (`scenarios/src/lib.rs`) and
    /// for tests that must cover them all.
    pub const ALL: [TaskState; 13] = [
        TaskState::Staging,
        TaskState::Starting,
        TaskState::Running,
        TaskState::Unreachable,
        TaskState::Unknown,
        TaskState::Finished,
        TaskState::Failed,
        TaskState::Killed,
        TaskState::Error,
        TaskState::Dropped,
        TaskState::Gone,
        TaskState::Lost,
        TaskState::GoneByOperator,
    ];

    /// Mesos's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Staging => "TASK_STAGING",
            TaskState::Starting => "TASK_STARTING",
            TaskState::Running => "TASK_RUNNING",
            TaskState::Unreachable => "TASK_UNREACHABLE",
            TaskState::Unknown => "TASK_UNKNOWN",
            TaskState::Finished => "TASK_FINISHED",
            TaskState::Failed => "TASK_FAILED",
            TaskState::Killed => "TASK_KILLED",
            TaskState::Error => "TASK_ERROR",
            TaskState::Dropped => "TASK_DROPPED",
            TaskState::Gone => "TASK_GONE",
            TaskState::Lost => "TASK_LOST",
            TaskState::GoneByOperator => "TASK_GONE_BY_OPERATOR",
        }
    }

    /// One line saying what the state means.
    pub fn doc(self) -> &'static str {
        match self {
            TaskState::Staging => "the master accepted the launch and sent it to the agent",
            TaskState::Starting => "the executor is starting the task",
            TaskState::Running => "the task is running",
            TaskState::Unreachable => {
                "the task's agent is partitioned from the master (partition-aware frameworks only); it may come back"
            }
            TaskState::Unknown => "the master knows nothing of the task",
            TaskState::Finished => "the task ran to completion",
            TaskState::Failed => "the task exited with an error",
            TaskState::Killed => "the task was killed",
            TaskState::Error => "the task description was invalid and it never started",
            TaskState::Dropped => "the launch was dropped before the task started (partition-aware frameworks)",
            TaskState::Gone => "the task is known to be gone: its agent died or was wiped (partition-aware frameworks)",
            TaskState::Lost => {
                "the master lost sight of the task (frameworks that are not partition-aware); it may still run and come back"
            }
            TaskState::GoneByOperator => "an operator declared the task's agent gone; it may still run",
        }
    }

    /// Terminal states end a task's life as far as the framework is concerned.
    /// `TASK_UNREACHABLE` and `TASK_UNKNOWN` are *not* terminal.
    ///
    /// The same split as Mesos's `protobuf::isTerminalState`. It decides when
    /// the executor host drops a task, when an agent closes a task's status
    /// update stream (a later update is rejected, so a framework never hears
    /// `RUNNING` after `FAILED`), and when the master stops counting it.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            TaskState::Staging
                | TaskState::Starting
                | TaskState::Running
                | TaskState::Unreachable
                | TaskState::Unknown
        )
    }

    /// A *definite* terminal state means the task is known not to be running
    /// anywhere. `TASK_LOST` and `TASK_GONE_BY_OPERATOR` are terminal but
    /// indefinite: the task may still be running on a partitioned agent.
    ///
    /// Mesos has no such function; the classification is from the comments
    /// on `enum TaskState` in mesos.proto. The scheduler (`scheduler/tasks.rs`)
    /// uses it to decide whether a task is really over, and relaunching
    /// after an indefinite one is how two copies of a task come to run.
    pub fn is_definite(self) -> bool {
        self.is_terminal() && !matches!(self, TaskState::Lost | TaskState::GoneByOperator)
    }

    /// States in which a task occupies resources on its agent (from the
    /// framework's point of view: it may be running).
    ///
    /// The master's accounting (`master/updates.rs`, `master/agents.rs`,
    /// `master/frameworks.rs`) occupies a task's resources on its agent while
    /// it is in such a state and releases them when it leaves, and the offer
    /// order (`master/offers.rs`) weighs frameworks by their active tasks.
    /// `Unreachable` is included because the task may still be running:
    /// counting its resources free would be counting on a guess.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TaskState::Staging | TaskState::Starting | TaskState::Running | TaskState::Unreachable
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a status update was sent (Mesos `TaskStatus::Reason`, without the `REASON_` prefix).
///
/// Each variant names the Mesos reason it stands for and the path of this
/// crate that sends it. Five are sent by no path here (`AgentUnknown`,
/// `AgentDisconnected`, `CommandExecutorFailed`, `ContainerLaunchFailed`,
/// `TaskUnknown`); they stay so that scenario files may name them in
/// expectations that a reason is *never* seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// `REASON_SLAVE_REMOVED`: the master lost the task's agent — marked
    /// unreachable after missed health checks (`TASK_UNREACHABLE`/`TASK_LOST`)
    /// or removed because a new agent registered at its address
    /// (`TASK_LOST`). Sent by the master (`master/agents.rs`).
    AgentRemoved,
    /// `REASON_SLAVE_REREGISTERED`: an agent the master had marked unreachable
    /// (or did not know) came back, and the master announces each of its
    /// tasks' current state (`Master::__reregisterSlave`).
    AgentReregistered,
    /// `REASON_SLAVE_RESTARTED`: the agent restarted and the task never
    /// reached its executor (`TASK_DROPPED`/`TASK_LOST`, from the agent;
    /// `Slave::reregisterExecutor`).
    AgentRestarted,
    /// `REASON_SLAVE_UNKNOWN`: not sent by any path here (the master answers
    /// reconciliation about an unknown agent with reason `RECONCILIATION`).
    AgentUnknown,
    /// `REASON_SLAVE_DISCONNECTED`: not sent by any path here.
    AgentDisconnected,
    /// `REASON_RECONCILIATION`: an answer to a reconciliation request, from
    /// the master (`Master::reconcile`), or from an agent asked about a task
    /// it does not have (`AgentReconcileTasks`).
    Reconciliation,
    /// `REASON_EXECUTOR_REREGISTRATION_TIMEOUT`: after an agent restart the
    /// executor host did not re-register within the window, so its tasks are
    /// given up (`TASK_GONE`/`TASK_LOST`; `Slave::reregisterExecutorTimeout`).
    ExecutorReregistrationTimeout,
    /// `REASON_EXECUTOR_TERMINATED`: the executor host died with the task in
    /// it (`TASK_FAILED`, from the agent; `Slave::executorTerminated`).
    ExecutorTerminated,
    /// `REASON_COMMAND_EXECUTOR_FAILED`: deprecated in Mesos and unused in 1.x;
    /// a failing workload's `TASK_FAILED` carries no reason, as the command
    /// executor's does (`CommandExecutor::reaped`).
    CommandExecutorFailed,
    /// `REASON_CONTAINER_LAUNCH_FAILED`: not sent by any path here; a launch
    /// whose executor host never registers fails with
    /// `EXECUTOR_REGISTRATION_TIMEOUT` instead.
    ContainerLaunchFailed,
    /// `REASON_FRAMEWORK_REMOVED`: the framework was torn down or its failover
    /// timeout passed; the master records its live tasks as `TASK_KILLED`
    /// with this reason (`Master::removeFramework`). No update is sent: there
    /// is no framework left to hear it.
    FrameworkRemoved,
    /// `REASON_INVALID_OFFERS`: a launch named offers that were rescinded,
    /// unknown, named twice, another framework's or on several agents, or
    /// whose agent is disconnected (`TASK_DROPPED` / `TASK_LOST`, from the
    /// master; `Master::accept`, `Master::on_accept` here).
    InvalidOffers,
    /// `REASON_TASK_INVALID`: the master refused the task itself — a reused
    /// ID, no resources, another role's resources, a volume not offered, or
    /// more than offered (`TASK_ERROR`, from the master).
    TaskInvalid,
    /// `REASON_TASK_KILLED_DURING_LAUNCH`: killed while its launch was queued
    /// at the agent for an executor host that had not registered
    /// (`TASK_KILLED`, from the agent; `Slave::killTask` → `Slave::kill`).
    TaskKilledDuringLaunch,
    /// `REASON_TASK_UNKNOWN`: not sent by any path here.
    TaskUnknown,
    /// `REASON_EXECUTOR_REGISTRATION_TIMEOUT`: a launch waited for the
    /// executor host longer than `executor_registration_timeout`
    /// (`TASK_FAILED`, from the agent; `Slave::registerExecutorTimeout`).
    ExecutorRegistrationTimeout,
}

impl Reason {
    /// Every reason, for tests that must cover them all.
    pub const ALL: [Reason; 16] = [
        Reason::AgentRemoved,
        Reason::AgentReregistered,
        Reason::AgentRestarted,
        Reason::AgentUnknown,
        Reason::AgentDisconnected,
        Reason::Reconciliation,
        Reason::ExecutorReregistrationTimeout,
        Reason::ExecutorTerminated,
        Reason::CommandExecutorFailed,
        Reason::ContainerLaunchFailed,
        Reason::FrameworkRemoved,
        Reason::InvalidOffers,
        Reason::TaskInvalid,
        Reason::TaskKilledDuringLaunch,
        Reason::TaskUnknown,
        Reason::ExecutorRegistrationTimeout,
    ];

    /// One line saying what the reason means, for people reading a trace.
    pub fn doc(self) -> &'static str {
        match self {
            Reason::AgentRemoved => {
                "the master removed the task's agent (missed health checks or marked gone)"
            }
            Reason::AgentReregistered => {
                "the task's agent re-registered and reported the task again"
            }
            Reason::AgentRestarted => {
                "the task's agent machine rebooted, so its executors are gone"
            }
            Reason::AgentUnknown => "the master does not know the task's agent",
            Reason::AgentDisconnected => "the task's agent is disconnected from the master",
            Reason::Reconciliation => "an answer to a reconciliation request",
            Reason::ExecutorReregistrationTimeout => {
                "after an agent restart the task's executor did not re-register in time"
            }
            Reason::ExecutorTerminated => "the executor host running the task died",
            Reason::CommandExecutorFailed => "the task's command exited with a failure",
            Reason::ContainerLaunchFailed => {
                "the agent could not launch the task (no executor host)"
            }
            Reason::FrameworkRemoved => "the framework was removed (failover timeout expired)",
            Reason::InvalidOffers => "the launch used offers that were rescinded or unknown",
            Reason::TaskInvalid => "the task failed validation",
            Reason::TaskKilledDuringLaunch => "the task was killed before it started",
            Reason::TaskUnknown => "the task is not known to the agent",
            Reason::ExecutorRegistrationTimeout => {
                "the task waited for its executor to register longer than executor_registration_timeout"
            }
        }
    }
}

impl fmt::Display for Reason {
    /// Mesos's name without the `REASON_` prefix, e.g. `AGENT_REMOVED`.
    // Read back from serde so the two spellings cannot drift apart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => f.write_str(&name),
            _ => unreachable!("reasons serialize as strings"),
        }
    }
}

/// Who produced a status update (Mesos `TaskStatus::Source`).
///
/// It tells a task's *observed* end from an *inferred* one: only the
/// executor saw the task; the agent infers from its executor host and the
/// master from its agents, and both can be wrong (a `TASK_LOST` from the
/// master about a task that is still running).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Source {
    /// `SOURCE_MASTER`: made up by the master, without a uuid, so neither
    /// retried nor acknowledged; lost if the framework is not connected.
    Master,
    /// `SOURCE_SLAVE`: made by the agent about a task whose executor cannot
    /// speak for it; checkpointed and retried until acknowledged.
    Agent,
    /// `SOURCE_EXECUTOR`: made by the executor host running the task; the
    /// agent checkpoints it before acknowledging it, then delivers it
    /// reliably as it does its own.
    Executor,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every state and reason has a doc line, and every state's serde name is
    // its Mesos name: a new variant added without a `doc` arm fails to
    // compile, and one whose `#[serde(rename)]` disagrees with `name()` fails
    // here — which would break every scenario file naming it.
    #[test]
    fn every_state_and_reason_is_documented() {
        for state in TaskState::ALL {
            assert!(!state.doc().is_empty());
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.name()));
        }
        for reason in Reason::ALL {
            assert!(!reason.doc().is_empty());
        }
    }

    // The classification that failure handling rests on: `TASK_LOST` ends
    // the task for the framework but does not prove it stopped, and the two
    // "may come back" states are not terminal at all. Making `Lost` definite
    // would let a scheduler relaunch a task that still runs.
    #[test]
    fn lost_is_terminal_but_indefinite() {
        assert!(TaskState::Lost.is_terminal());
        assert!(!TaskState::Lost.is_definite());
        assert!(TaskState::Killed.is_definite());
        assert!(!TaskState::Unreachable.is_terminal());
        assert!(!TaskState::Unknown.is_terminal());
    }
}
