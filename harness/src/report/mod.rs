//! What a run reports: its verdict, the violations, metrics, the final
//! leader's state, and what the nemesis did.
//!
//! The types are plain data (serialized by `mesochaos run --format json`);
//! [`metrics`] reads its part off the trace. (The timeline for people, one
//! sentence per key moment, is rendered by `mesochaos-reports` from the trace.)

pub mod metrics;

pub use metrics::{db_availability, framework_updates, metrics, task_starts, UNWRITABLE_GAP_MS};

use mesochaos_faults::{FaultKind, Schedule};
use mesochaos_reference::master::RebuiltView;
use mesochaos_reference::{AgentId, FrameworkId, ProcessId, Reason, Resources, TaskId, TaskState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// Time without a writable database store ([`metrics::db_availability`]);
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
