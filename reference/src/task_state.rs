//! The one registry of task states, reasons and sources.
//!
//! Every status update in Mesos carries a *state*, usually a *reason* and always a
//! *source*. This module is the single place that lists them, each with a doc line
//! and, for states, whether the outcome is **definite** (the task is known not to be
//! running anywhere) or **indefinite** (it may still be running: the master simply
//! lost sight of it). The distinction is the heart of failure handling: a framework
//! may safely relaunch after a definite terminal state, while after `TASK_LOST` the
//! "lost" task can come back as `TASK_RUNNING` when its agent re-registers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A task's state (Mesos `TaskState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaskState {
    #[serde(rename = "TASK_STAGING")]
    Staging,
    #[serde(rename = "TASK_STARTING")]
    Starting,
    #[serde(rename = "TASK_RUNNING")]
    Running,
    #[serde(rename = "TASK_UNREACHABLE")]
    Unreachable,
    #[serde(rename = "TASK_UNKNOWN")]
    Unknown,
    #[serde(rename = "TASK_FINISHED")]
    Finished,
    #[serde(rename = "TASK_FAILED")]
    Failed,
    #[serde(rename = "TASK_KILLED")]
    Killed,
    #[serde(rename = "TASK_ERROR")]
    Error,
    #[serde(rename = "TASK_DROPPED")]
    Dropped,
    #[serde(rename = "TASK_GONE")]
    Gone,
    #[serde(rename = "TASK_LOST")]
    Lost,
    #[serde(rename = "TASK_GONE_BY_OPERATOR")]
    GoneByOperator,
}

impl TaskState {
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
    pub fn is_definite(self) -> bool {
        self.is_terminal() && !matches!(self, TaskState::Lost | TaskState::GoneByOperator)
    }

    /// States in which a task occupies resources on its agent (from the
    /// framework's point of view: it may be running).
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    AgentRemoved,
    AgentReregistered,
    AgentRestarted,
    AgentUnknown,
    AgentDisconnected,
    Reconciliation,
    ExecutorReregistrationTimeout,
    ExecutorTerminated,
    CommandExecutorFailed,
    ContainerLaunchFailed,
    FrameworkRemoved,
    InvalidOffers,
    TaskInvalid,
    TaskKilledDuringLaunch,
    TaskUnknown,
    ExecutorRegistrationTimeout,
}

impl Reason {
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => f.write_str(&name),
            _ => unreachable!("reasons serialize as strings"),
        }
    }
}

/// Who produced a status update (Mesos `TaskStatus::Source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Source {
    Master,
    Agent,
    Executor,
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn lost_is_terminal_but_indefinite() {
        assert!(TaskState::Lost.is_terminal());
        assert!(!TaskState::Lost.is_definite());
        assert!(TaskState::Killed.is_definite());
        assert!(!TaskState::Unreachable.is_terminal());
        assert!(!TaskState::Unknown.is_terminal());
    }
}
