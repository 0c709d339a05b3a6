//! # The bug zoo: known defects that can be planted
//!
//! A chaos harness earns trust by catching bugs, so the reference carries a few
//! classic fault-tolerance defects behind a flag (`mesochaos run --bug NAME`).
//! Each is the *minimal* change its name says, in the role where it belongs;
//! the harness's checkers and nemesis never read the flag — they must find the
//! defect from what the cluster does.
//!
//! A planted defect is read only where it lives: each role checks
//! `config.bug == Some(Bug::...)` at the one decision it corrupts, in a
//! variable named `planted` (`grep -rn 'bugs::Bug::' reference/src` lists
//! the sites). Each variant below says what the correct behaviour is, which
//! Mesos function shows it, and — where it is not obvious — which checker is
//! expected to notice.

use serde::{Deserialize, Serialize};
use std::fmt;

// Each role's defects live in a file of their own, called from one
// "planted-bug hook" line in the role (see `bugs/master.rs`).
pub(crate) mod agent;
pub(crate) mod executor;
pub(crate) mod master;
pub(crate) mod scheduler;

/// One plantable defect. Named on the command line and in scenario files by
/// its kebab-case name ([`Bug::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// The agent acknowledges an executor's status update before it
    /// checkpoints it: an update queued behind one in flight lives only in
    /// memory until it is sent, so an agent crash loses it — after the executor
    /// was told it was safe. (Mesos checkpoints first, then acknowledges.)
    AckBeforeCheckpoint,
    /// A new leader drops the tasks an agent reports for a framework that has
    /// not re-registered yet, instead of remembering them under the framework
    /// (Mesos keeps them, and the framework's info from the agent).
    ForgetTasksBeforeFramework,
    /// A leading master that loses its coordinator session keeps leading
    /// instead of exiting: its candidacy node dies with the session, so a
    /// standby is elected while it still acts as the leader — two masters
    /// lead at once. (A Mesos master aborts when its ZooKeeper session expires
    /// or it loses leadership, `Master::lostCandidacy`.) It notices only when
    /// a new session lists the candidates and its node is gone.
    LeaderSurvivesSessionLoss,
    /// A standby scheduler instance that becomes active registers a new
    /// framework instead of re-registering under the stored framework ID with
    /// `failover = true`: the old framework's tasks are orphaned.
    StandbyRegistersNew,
    /// When the executor re-registration window after an agent restart
    /// closes, the agent gives up every live task — `TASK_GONE` / `TASK_LOST`,
    /// `EXECUTOR_REREGISTRATION_TIMEOUT` — instead of only those whose
    /// executor did not come back (`Slave::reregisterExecutorTimeout` checks
    /// each executor's state). An agent-process restart alone loses tasks
    /// that are still running; the framework hears a loss once, in order, so
    /// only a checker asking *why* a task was lost sees it.
    RestartGivesUpExecutors,
    /// A database (or a replica of a replicated store) that recovers a volume
    /// ending in a torn record appends its next record after the torn bytes
    /// instead of cutting them off first: every later record, fsynced and
    /// acknowledged, is glued to them and unreadable at the next recovery.
    /// (The reference had this defect until `nemesis-storage.toml` found it.)
    AppendAfterTornTail,
    /// The master's `validateUniqueTaskID` forgets the tasks of unreachable
    /// agents: a framework may launch a task under the ID of one whose agent
    /// is cut off — and still running it — so two copies run at once when the
    /// new one starts. (Mesos keeps unreachable tasks in
    /// `Framework::unreachableTasks` and refuses their IDs.)
    UniqueIdIgnoresUnreachable,
    /// The agent answers a kill of a launch queued for its executor host with
    /// `TASK_KILLED` but leaves the launch in the queue: when the executor
    /// host registers, the task runs after the framework heard it was
    /// killed. (In Mesos, `Slave::killTask` calls `Slave::kill`, whose
    /// `TASK_KILLED` goes through `Slave::statusUpdate`; for a queued task
    /// that synchronously takes it out of `executor->queuedTasks`, so an
    /// executor that registers later never gets it.)
    KillLeavesQueuedLaunch,
    /// The allocator offers a free persistent volume to a framework of any
    /// role, not only to the role the volume was created for (Mesos offers a
    /// role's reserved resources, volumes included, only to that role).
    VolumeOfferedToAnyRole,
}

impl Bug {
    /// Every defect: `--bug`'s possible values are made from it (src/chaos.rs,
    /// `bug_parser`), and tests/cli.rs walks it. Extend it with every new
    /// variant: a bug missing here cannot be named on the command line.
    pub const ALL: [Bug; 9] = [
        Bug::AckBeforeCheckpoint,
        Bug::ForgetTasksBeforeFramework,
        Bug::LeaderSurvivesSessionLoss,
        Bug::StandbyRegistersNew,
        Bug::RestartGivesUpExecutors,
        Bug::AppendAfterTornTail,
        Bug::UniqueIdIgnoresUnreachable,
        Bug::KillLeavesQueuedLaunch,
        Bug::VolumeOfferedToAnyRole,
    ];

    /// The kebab-case name (`ack-before-checkpoint`), as `--bug` takes it
    /// and as serde writes it.
    pub fn name(self) -> &'static str {
        match self {
            Bug::AckBeforeCheckpoint => "ack-before-checkpoint",
            Bug::ForgetTasksBeforeFramework => "forget-tasks-before-framework",
            Bug::LeaderSurvivesSessionLoss => "leader-survives-session-loss",
            Bug::StandbyRegistersNew => "standby-registers-new",
            Bug::RestartGivesUpExecutors => "restart-gives-up-executors",
            Bug::AppendAfterTornTail => "append-after-torn-tail",
            Bug::UniqueIdIgnoresUnreachable => "unique-id-ignores-unreachable",
            Bug::KillLeavesQueuedLaunch => "kill-leaves-queued-launch",
            Bug::VolumeOfferedToAnyRole => "volume-offered-to-any-role",
        }
    }

    /// The defect named `text`, if any.
    pub fn parse(text: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|b| b.name() == text)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
