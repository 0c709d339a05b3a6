//! # What a master is given, and the names of what it waits for
//!
//! The master's configuration (Mesos's master flags that matter here: the
//! timing defaults of `crate::timing` and what to do with an agent that comes
//! back after being marked unreachable), the timers it sets, and the tags of
//! its coordinator requests. None of it changes while the process lives.

use super::*;

/// What happens to an agent that comes back after the master marked it
/// unreachable (configured per run; read by `Leader::on_reregister_agent`,
/// `agents.rs`).
///
/// Early Mesos treated an unreachable agent as dead: when it came back it
/// was shut down, so a framework could safely relaunch its lost tasks
/// elsewhere. Mesos 1.x lets it re-register, and its tasks come back; a
/// framework that relaunched them may then run two copies. The harness
/// runs both to show the trade-off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovedAgentPolicy {
    /// Mesos 1.x: the agent re-registers and its tasks return to `TASK_RUNNING`.
    #[default]
    Reregister,
    /// Early Mesos (the seed article): a removed agent is shut down when it
    /// returns; its tasks are killed and it registers again under a new ID.
    Shutdown,
}

/// A master's configuration, fixed for the life of the process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterConfig {
    /// This master's process ID. It is also the data of its candidacy node,
    /// which is how agents and schedulers learn whom to talk to when it leads.
    pub name: ProcessId,
    /// The coordinator (the ZooKeeper stand-in) this master's session talks to.
    pub coordinator: ProcessId,
    /// Mesos's timeouts and intervals (`crate::timing`): session timeout, health
    /// checks, re-registration window, allocation interval, offer filters.
    pub timing: Timing,
    /// See [`RemovedAgentPolicy`].
    pub removed_agent_policy: RemovedAgentPolicy,
    /// A planted defect (the bug zoo), if any.
    #[serde(default)]
    pub bug: Option<crate::bugs::Bug>,
}

/// The master's timers. All but `Coordinator` belong to a leader: they are
/// armed only while leading, and since a master leads at most once per
/// process (it exits rather than step down), no timer of one term can fire
/// into another. A timer that fires for something already gone (a removed
/// agent, a re-registered framework) is checked and ignored by its handler.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MasterTimer {
    /// The coordinator client's own timers (heartbeat, reconnect, session
    /// deadline), wrapped so that a master has one timer type; `Role::handle`
    /// hands them back to the client.
    Coordinator(ClientTimer),
    /// Run the allocator (every `allocation_interval`). Armed when the leader
    /// has read the registry (`Leader::recover`) and re-armed by each round
    /// (`Leader::tick_allocate`, `offers.rs`).
    Allocate,
    /// Health-check one agent: count a missed pong, then ping again. One per
    /// registered agent, armed when it is admitted or re-registers, re-armed
    /// every `agent_ping_timeout`, cancelled when it is removed
    /// (`Leader::tick_ping`, `agents.rs`).
    Ping(AgentId),
    /// The re-registration window after a failover closes: agents still not
    /// back are marked unreachable. Armed once, in `Leader::recover`, if the
    /// registry listed agents (`Leader::tick_reregister_timeout`, `agents.rs`).
    AgentReregisterTimeout,
    /// A disconnected framework's `failover_timeout` has passed. Armed when its
    /// scheduler disconnects, cancelled when a scheduler re-registers
    /// (`Leader::tick_framework_failover`, `frameworks.rs`).
    FrameworkFailover(FrameworkId),
}

/// What a coordinator request was for: the tag the coordinator client hands
/// back with the answer, so that `Master::on_coordinator_reply`
/// (`election.rs`) knows what it is reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MasterRequest {
    /// Creating this master's candidacy node (the answer holds its sequence).
    Join,
    /// Listing the masters' group, with a watch: who leads, and is my node still
    /// there?
    ListMasters,
    /// Reading the registry on election, before the leader acts on anything.
    ReadRegistry,
    /// Writing the registry (one operation in flight, `registrar.rs`).
    WriteRegistry,
    /// Re-reading the registry after a write's outcome was lost with the connection.
    RefreshRegistry,
}
