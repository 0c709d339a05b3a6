//! # mesochaos-faults: faults as values
//!
//! A fault is data: it can be written in a scenario file, drawn by a seeded
//! nemesis, saved as JSON, replayed and shrunk. The harness turns each value into
//! turmoil operations (DESIGN.md, "Turning faults into turmoil operations").
//!
//! Targets are resolved when the fault fires, not when it is written: "the
//! leader" means whichever master leads at that moment.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a fault hits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A process by name (`master-2`, `agent-3`, `executors-3`,
    /// `scheduler-web-1`), or, for network faults, the machine it runs on.
    Process(String),
    /// The master leading when the fault fires.
    Leader,
    /// The scheduler instance the leader currently obeys for this framework.
    ActiveScheduler(String),
    /// The instance of this framework that the last fault on its active
    /// instance hit (to restart it, or to make it send a stale call).
    DisplacedScheduler(String),
    /// The agent running this task (for machine faults: its machine).
    AgentOf(String),
    /// The agent running a task of this framework (the first, by agent name):
    /// a fault script that follows a database wherever it was relaunched.
    AgentRunning(String),
    /// The process the most recent `crash` hit (to restart it).
    LastCrashed,
}

impl Target {
    /// Parses the scenario-file spelling: `"leader"`,
    /// `"active-scheduler:<framework>"`, `"displaced-scheduler:<framework>"`,
    /// `"agent-of:<task>"`, `"agent-running:<framework>"`, `"last-crashed"`, or
    /// a process name.
    pub fn parse(text: &str) -> Target {
        if let Some(framework) = text.strip_prefix("active-scheduler:") {
            return Target::ActiveScheduler(framework.to_string());
        }
        if let Some(framework) = text.strip_prefix("displaced-scheduler:") {
            return Target::DisplacedScheduler(framework.to_string());
        }
        if let Some(task) = text.strip_prefix("agent-of:") {
            return Target::AgentOf(task.to_string());
        }
        if let Some(framework) = text.strip_prefix("agent-running:") {
            return Target::AgentRunning(framework.to_string());
        }
        match text {
            "leader" => Target::Leader,
            "last-crashed" => Target::LastCrashed,
            name => Target::Process(name.to_string()),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Process(name) => f.write_str(name),
            Target::Leader => f.write_str("leader"),
            Target::ActiveScheduler(framework) => write!(f, "active-scheduler:{framework}"),
            Target::DisplacedScheduler(framework) => write!(f, "displaced-scheduler:{framework}"),
            Target::AgentOf(task) => write!(f, "agent-of:{task}"),
            Target::AgentRunning(framework) => write!(f, "agent-running:{framework}"),
            Target::LastCrashed => f.write_str("last-crashed"),
        }
    }
}

/// One fault (or its heal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Kill a process; its machine, disk and other processes live on.
    Crash(Target),
    /// Start a process that is not running.
    Restart(Target),
    /// Cut the network between the machines of `a` and those of `b`.
    Partition { a: Vec<Target>, b: Vec<Target> },
    /// Cut a machine off from every other machine.
    Isolate(Target),
    /// Repair every partition.
    Heal,
    /// Drop the next message of `kind` from `from` to `to`, where it is handed
    /// to the receiving role.
    DropNext {
        kind: String,
        from: Target,
        to: Target,
    },
    /// Power loss on the target's machine: every process dies, unsynced writes
    /// are lost; the machine boots again (a new boot ID) after `down_ms`.
    Reboot { target: Target, down_ms: u64 },
    /// Power loss, and the disk is erased; the machine boots after `down_ms`.
    WipeDisk { target: Target, down_ms: u64 },
    /// The next disk append on the target's machine is torn by a power
    /// failure (a prefix of it survives); the machine boots after `down_ms`.
    TornWrite { target: Target, down_ms: u64 },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |targets: &[Target]| {
            targets
                .iter()
                .map(Target::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Fault::Crash(t) => write!(f, "crash {t}"),
            Fault::Restart(t) => write!(f, "restart {t}"),
            Fault::Partition { a, b } => write!(f, "partition {} | {}", list(a), list(b)),
            Fault::Isolate(t) => write!(f, "isolate {t}"),
            Fault::Heal => write!(f, "heal"),
            Fault::DropNext { kind, from, to } => write!(f, "drop next {kind} {from} -> {to}"),
            Fault::Reboot { target, down_ms } => write!(f, "reboot {target} (down {down_ms} ms)"),
            Fault::WipeDisk { target, down_ms } => {
                write!(f, "wipe the disk of {target} (down {down_ms} ms)")
            }
            Fault::TornWrite { target, down_ms } => {
                write!(f, "tear the next write on {target} (down {down_ms} ms)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_plain_values() {
        let fault = Fault::Partition {
            a: vec![Target::Leader],
            b: vec![Target::parse("coordinator")],
        };
        assert_eq!(fault.to_string(), "partition leader | coordinator");
        let json = serde_json::to_string(&fault).unwrap();
        assert_eq!(serde_json::from_str::<Fault>(&json).unwrap(), fault);
    }
}
