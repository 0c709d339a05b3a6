//! # What a scheduler instance is given, and the names of what it waits for
//!
//! The framework's configuration (its `FrameworkInfo`, how many tasks to keep
//! and what they run, its mode: a service, a stateful database, or the
//! adversary), where its election and its state live in the coordinator, the
//! timers it sets and the tags of its coordinator requests. None of it
//! changes while the process lives.

use super::*;

/// What the framework's tasks do: the first `initial_count` launches get
/// `initial`, every later one `steady`. (A scenario uses this to make the first
/// few tasks fail and shows that their replacements run.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadPlan {
    /// The workload of the first `initial_count` launches.
    pub initial: Workload,
    /// How many launches get `initial` (0: none).
    pub initial_count: u64,
    /// The workload of every later launch, replacements included.
    pub steady: Workload,
}

impl WorkloadPlan {
    /// The same workload for every launch.
    pub fn uniform(workload: Workload) -> Self {
        WorkloadPlan {
            initial: workload.clone(),
            initial_count: 0,
            steady: workload,
        }
    }

    /// The workload of the `n`-th launch (1-based).
    pub fn for_launch(&self, n: u64) -> Workload {
        if n <= self.initial_count {
            self.initial.clone()
        } else {
            self.steady.clone()
        }
    }
}

/// One instance's configuration: a framework's instances differ only in `name`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerConfig {
    /// This instance's process.
    pub name: ProcessId,
    /// The coordinator holding the election and the state (ZooKeeper's part).
    pub coordinator: ProcessId,
    /// The framework's info (without an ID: the master assigns it).
    pub framework: FrameworkInfo,
    /// How many tasks to keep running (`Stateful`: how many slots).
    pub desired_tasks: u64,
    /// What each task uses (`Scheduler::new` refuses none).
    pub task_resources: Resources,
    /// What the tasks do, by launch number.
    pub workload: WorkloadPlan,
    /// Backoffs and timeouts, shared with the other roles (`crate::timing`).
    pub timing: Timing,
    #[serde(default)]
    /// What kind of framework this is (default: a service).
    pub mode: SchedulerMode,
    /// A planted defect (the bug zoo), if any.
    #[serde(default)]
    pub bug: Option<crate::bugs::Bug>,
    /// Adversarial mode (reference/src/scheduler/adversary/mod.rs): now and then, a call a
    /// well-behaved framework never makes. Off by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversary: Option<AdversaryConfig>,
}

/// What kind of framework this is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerMode {
    /// A service: keep `desired_tasks` running on whatever resources are offered
    /// (unreserved first, then the framework's own reservations).
    #[default]
    Service,
    /// A stateful service (the seed's database, or its replicas): each of the
    /// `desired_tasks` tasks fills a *slot* with its own persistent volume,
    /// reserved and created on the slot's first launch and used again by every
    /// relaunch, so the task finds its data (`Scheduler::place_stateful_task`).
    Stateful {
        /// The volume's ID (slot `k` of several: `<volume_id>-<k+1>`).
        volume_id: String,
        /// Disk reserved for each slot's volume, besides the task's own resources.
        volume_mb: u64,
        /// Slot `k` runs only on host `hosts[k]` (empty: anywhere), as Mesos
        /// frameworks pin tasks with `hostname` constraints on offers.
        #[serde(default)]
        hosts: Vec<ProcessId>,
    },
    /// A framework the scenario drives: it declines every offer unless told to
    /// accept one with given operations, and neither launches nor kills on its own.
    Scripted,
}

/// Where a framework's instances contend and keep their state.
pub fn instances_path(framework: &str) -> String {
    format!("/frameworks/{framework}/instances")
}

/// The framework's state document (a `FrameworkState` as JSON).
pub fn state_path(framework: &str) -> String {
    format!("/frameworks/{framework}/state")
}

/// The scheduler's timers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SchedulerTimer {
    /// The coordinator client's own (heartbeat, reconnect, session deadline).
    Coordinator(ClientTimer),
    /// Send the next registration attempt, or dial the master again.
    RegisterRetry,
    /// Ask again about tasks reconciliation has not answered yet.
    ReconcileRetry,
    /// The adversarial mode's next call (only with `adversary` configured).
    Adversary,
}

/// What a coordinator request was for (read by `on_reply`, `election.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerRequest {
    /// Creating our ephemeral sequential candidacy node.
    Join,
    /// Listing (and watching) the candidacies, to see who is active.
    ListInstances,
    /// Listing (and watching) the masters' group, to detect the leader.
    ListMasters,
    /// Reading the state on becoming active.
    ReadState,
    /// A compare-and-set of the state (`state_store.rs`).
    WriteState,
    /// Re-reading the state after a write's answer was lost with the connection.
    RefreshState,
    /// Deleting our candidacy node after the master stopped us.
    Withdraw,
}
