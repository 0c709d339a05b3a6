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

pub mod nemesis;
pub mod shrink;

pub use nemesis::{FaultKind, NemesisSpec, Schedule, ScheduledFault};

/// A named group of processes, for targets such as `"minority:masters"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Masters,
    Agents,
    Schedulers,
    StorageServers,
}

impl Group {
    pub const ALL: [Group; 4] = [
        Group::Masters,
        Group::Agents,
        Group::Schedulers,
        Group::StorageServers,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Group::Masters => "masters",
            Group::Agents => "agents",
            Group::Schedulers => "schedulers",
            Group::StorageServers => "storage_servers",
        }
    }

    pub fn parse(text: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.name() == text)
    }

    /// Whether process `name` belongs to the group.
    pub fn contains(self, name: &str) -> bool {
        match self {
            Group::Masters => name.starts_with("master-"),
            Group::Agents => name.starts_with("agent-"),
            Group::Schedulers => name.starts_with("scheduler-"),
            Group::StorageServers => name.starts_with("storage-"),
        }
    }
}

/// How many of a group a target picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// One member.
    One,
    /// The largest minority: `(n - 1) / 2` members (at least one).
    Minority,
    /// The smallest majority: `n / 2 + 1` members.
    Majority,
    /// Every member.
    All,
}

impl Pick {
    /// How many of `n` members it picks.
    pub fn count(self, n: usize) -> usize {
        match self {
            Pick::One => n.min(1),
            Pick::Minority => ((n.saturating_sub(1)) / 2).max(n.min(1)),
            Pick::Majority => n / 2 + 1,
            Pick::All => n,
        }
        .min(n)
    }

    fn prefix(self) -> &'static str {
        match self {
            Pick::One => "random",
            Pick::Minority => "minority",
            Pick::Majority => "majority",
            Pick::All => "all",
        }
    }

    /// The next smaller pick (for shrinking), if any.
    pub fn smaller(self) -> Option<Pick> {
        match self {
            Pick::All => Some(Pick::Majority),
            Pick::Majority => Some(Pick::Minority),
            Pick::Minority => Some(Pick::One),
            Pick::One => None,
        }
    }
}

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
    /// Some members of a group, chosen when the fault fires among the running
    /// ones (deterministically, from the run's seed and the time).
    Members { pick: Pick, group: Group },
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
        for pick in [Pick::One, Pick::Minority, Pick::Majority, Pick::All] {
            if let Some(group) = text
                .strip_prefix(pick.prefix())
                .and_then(|rest| rest.strip_prefix(':'))
                .and_then(Group::parse)
            {
                return Target::Members { pick, group };
            }
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
            Target::Members { pick, group } => write!(f, "{}:{}", pick.prefix(), group.name()),
        }
    }
}

/// The messages a filter names: those of `kind` from `from` to `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub kind: String,
    pub from: Target,
    pub to: Target,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.kind, self.from, self.to)
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
    /// A message filter: drop (`hold = false`) or hold (`hold = true`) *every*
    /// message of `kind` from `from` to `to`, where it is handed to the
    /// receiving role, until a [`Fault::Release`] lifts it. Held messages are
    /// delivered, in order, on release. The connection stays up.
    Filter {
        kind: String,
        from: Target,
        to: Target,
        hold: bool,
    },
    /// Lift the filter written with this route (`None`: every filter); what a
    /// hold filter kept is delivered. Matched by how the filter was written
    /// (`"leader"` releases the filter written `"leader"`), not by the
    /// processes it resolved to.
    Release(Option<Route>),
    /// Power loss on the target's machine: every process dies, unsynced writes
    /// are lost; the machine boots again (a new boot ID) after `down_ms`.
    Reboot { target: Target, down_ms: u64 },
    /// Power loss, and the disk is erased; the machine boots after `down_ms`.
    WipeDisk { target: Target, down_ms: u64 },
    /// The next disk append on the target's machine is torn by a power
    /// failure (a prefix of it survives); the machine boots after `down_ms`.
    TornWrite { target: Target, down_ms: u64 },
    /// An operator changes the configured resources of the target's agent
    /// machine (`--resources`); the agent sees the change when it next
    /// starts, and its `reconfiguration_policy` decides what recovery does.
    Reconfigure {
        target: Target,
        cpus_milli: u64,
        mem_mb: u64,
        disk_mb: u64,
    },
    /// Stop a process as SIGSTOP does: it handles nothing, and the messages to
    /// and from it are held (in order), until it is resumed.
    Pause(Target),
    /// SIGCONT: the process runs again, held messages flow, expired timers fire.
    Resume(Target),
    /// Messages from the machines of `from` to those of `to` are lost; the
    /// other direction still works (a connect may even succeed).
    PartitionOneWay { from: Vec<Target>, to: Vec<Target> },
    /// Majorities ring: the machines, in this order, each still reach their
    /// neighbours — a majority including themselves — but no two see the same
    /// majority.
    Ring(Vec<Target>),
    /// Two sides that cannot reach each other, and a bridge machine that
    /// reaches both.
    Bridge {
        a: Vec<Target>,
        bridge: Target,
        b: Vec<Target>,
    },
    /// Every delivered message (across all connections) is lost with
    /// probability `drop_per_mille`/1000 or held back up to `delay_max_ms`
    /// (reordering messages of different connections, never within one), as
    /// drawn from the connection and sequence number.
    ///
    /// `stress` (the `message_stress` kind, a labelled stress option) also
    /// duplicates messages and reorders them *within* a connection — what TCP
    /// never does, so only for testing how far the roles' idempotence goes.
    MessageChaos {
        drop_per_mille: u32,
        delay_max_ms: u64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stress: bool,
    },
    /// Ends message chaos.
    CalmMessages,
}

impl Fault {
    /// The same fault aimed at `target`, for faults that hit one target
    /// (others are returned unchanged).
    pub fn with_target(self, target: Target) -> Fault {
        match self {
            Fault::Crash(_) => Fault::Crash(target),
            Fault::Isolate(_) => Fault::Isolate(target),
            Fault::Pause(_) => Fault::Pause(target),
            Fault::Reboot { down_ms, .. } => Fault::Reboot { target, down_ms },
            Fault::WipeDisk { down_ms, .. } => Fault::WipeDisk { target, down_ms },
            Fault::TornWrite { down_ms, .. } => Fault::TornWrite { target, down_ms },
            other => other,
        }
    }

    /// Every target the fault names.
    pub fn targets(&self) -> Vec<&Target> {
        match self {
            Fault::Crash(t)
            | Fault::Restart(t)
            | Fault::Isolate(t)
            | Fault::Pause(t)
            | Fault::Resume(t)
            | Fault::Reboot { target: t, .. }
            | Fault::WipeDisk { target: t, .. }
            | Fault::TornWrite { target: t, .. }
            | Fault::Reconfigure { target: t, .. } => vec![t],
            Fault::Partition { a, b } => a.iter().chain(b).collect(),
            Fault::PartitionOneWay { from, to } => from.iter().chain(to).collect(),
            Fault::Ring(machines) => machines.iter().collect(),
            Fault::Bridge { a, bridge, b } => {
                a.iter().chain(std::iter::once(bridge)).chain(b).collect()
            }
            Fault::DropNext { from, to, .. } | Fault::Filter { from, to, .. } => vec![from, to],
            // A release matches filters by how they were written: it resolves nothing.
            Fault::Release(_) => vec![],
            Fault::Heal | Fault::MessageChaos { .. } | Fault::CalmMessages => vec![],
        }
    }

    /// Whether this fault cuts network links (healed by [`Fault::Heal`]).
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Fault::Partition { .. }
                | Fault::Isolate(_)
                | Fault::PartitionOneWay { .. }
                | Fault::Ring(_)
                | Fault::Bridge { .. }
        )
    }
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
            Fault::Filter {
                kind,
                from,
                to,
                hold,
            } => {
                let action = if *hold { "hold" } else { "drop" };
                write!(f, "{action} every {kind} {from} -> {to}")
            }
            Fault::Release(Some(route)) => write!(f, "release {route}"),
            Fault::Release(None) => write!(f, "release every filter"),
            Fault::Reboot { target, down_ms } => write!(f, "reboot {target} (down {down_ms} ms)"),
            Fault::WipeDisk { target, down_ms } => {
                write!(f, "wipe the disk of {target} (down {down_ms} ms)")
            }
            Fault::TornWrite { target, down_ms } => {
                write!(f, "tear the next write on {target} (down {down_ms} ms)")
            }
            Fault::Reconfigure {
                target,
                cpus_milli,
                mem_mb,
                disk_mb,
            } => write!(
                f,
                "reconfigure {target}: cpus {}.{:03}, mem {mem_mb} MB, disk {disk_mb} MB",
                cpus_milli / 1000,
                cpus_milli % 1000
            ),
            Fault::Pause(t) => write!(f, "pause {t}"),
            Fault::Resume(t) => write!(f, "resume {t}"),
            Fault::PartitionOneWay { from, to } => {
                write!(f, "one-way partition {} -> {}", list(from), list(to))
            }
            Fault::Ring(machines) => write!(f, "majorities ring {}", list(machines)),
            Fault::Bridge { a, bridge, b } => {
                write!(f, "bridge {} | {bridge} | {}", list(a), list(b))
            }
            Fault::MessageChaos {
                drop_per_mille,
                delay_max_ms,
                stress: false,
            } => write!(
                f,
                "message chaos (drop {drop_per_mille}/1000, delay up to {delay_max_ms} ms)"
            ),
            Fault::MessageChaos {
                drop_per_mille,
                delay_max_ms,
                stress: true,
            } => write!(
                f,
                "message STRESS (drop {drop_per_mille}/1000, delay up to {delay_max_ms} ms, \
                 duplicate {drop_per_mille}/1000, reorder within connections)"
            ),
            Fault::CalmMessages => write!(f, "calm messages"),
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
