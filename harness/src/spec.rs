//! What a cluster is made of: its machines and processes, the frameworks that
//! run on it, its timings and the planted bug (`--bug`), and the process names
//! that shape gives (`crate::names` spells them).

use crate::names;
use crate::shared::ProcessKind;
use mesochaos_reference::agent::{AgentConfig, ReconfigurationPolicy};
use mesochaos_reference::executor::ExecutorHostConfig;
use mesochaos_reference::framework::FrameworkInfo;
use mesochaos_reference::master::{MasterConfig, RemovedAgentPolicy};
use mesochaos_reference::scheduler::{
    AdversaryConfig, SchedulerConfig, SchedulerMode, WorkloadPlan,
};
use mesochaos_reference::storage::StorageConfig;
use mesochaos_reference::{ProcessId, Resources, Timing};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameworkSpec {
    pub name: String,
    pub role: String,
    pub principal: String,
    pub failover_timeout_ms: u64,
    pub partition_aware: bool,
    /// Scheduler instances (processes `scheduler-<name>-1` ...).
    pub instances: usize,
    pub desired_tasks: u64,
    pub task_resources: Resources,
    pub workload: WorkloadPlan,
    pub mode: SchedulerMode,
    /// Adversarial mode (reference/src/scheduler/adversary/mod.rs); `None` for a
    /// well-behaved framework.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adversary: Option<AdversaryConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterSpec {
    pub masters: usize,
    pub agents: usize,
    pub agent_resources: Resources,
    pub frameworks: Vec<FrameworkSpec>,
    /// Storage servers of the distributed file system (`storage-1` ...), each
    /// on its own machine, serving the dataset [`DFS_STORE`].
    pub storage_servers: usize,
    pub timing: Timing,
    pub removed_agent_policy: RemovedAgentPolicy,
    /// What an agent restarted with other configured resources may keep
    /// (Mesos `--reconfiguration_policy`; default `equal`).
    #[serde(default)]
    pub reconfiguration_policy: ReconfigurationPolicy,
    /// How long the supervisor waits before restarting a process that exited.
    pub restart_delay_ms: u64,
    /// Upper bound on simulated time (turmoil's `simulation_duration`).
    pub duration_ms: u64,
    /// A defect planted in the reference roles (`--bug`); never read by
    /// checkers or the nemesis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bug: Option<mesochaos_reference::bugs::Bug>,
}

/// The dataset the distributed file system's storage servers hold.
pub const DFS_STORE: &str = "dfs";

/// The process names of a cluster shape, in registration order, each with the
/// machine it runs on.
pub fn process_names(spec: &ClusterSpec) -> Vec<(ProcessId, String)> {
    let mut names = vec![(
        ProcessId::from(names::COORDINATOR),
        names::COORDINATOR.to_string(),
    )];
    for i in 1..=spec.masters {
        let master = names::master(i);
        names.push((master.clone(), master.to_string()));
    }
    for i in 1..=spec.agents {
        let agent = names::agent(i);
        names.push((agent.clone(), agent.to_string()));
        names.push((names::executors(i), agent.to_string()));
    }
    for i in 1..=spec.storage_servers {
        let storage = names::storage(i);
        names.push((storage.clone(), storage.to_string()));
    }
    for f in &spec.frameworks {
        for j in 1..=f.instances {
            let scheduler = names::scheduler(&f.name, j);
            names.push((scheduler.clone(), scheduler.to_string()));
        }
    }
    names
}

/// How to build process `name`'s role, from the cluster's spec (the
/// simulation's hosts and real mode's processes are built from the same).
pub fn process_kind(spec: &ClusterSpec, name: &ProcessId, coordinator: &ProcessId) -> ProcessKind {
    let n = name.as_str();
    if n == names::COORDINATOR {
        return ProcessKind::Coordinator;
    }
    if names::is_master(n) {
        return ProcessKind::Master(MasterConfig {
            name: name.clone(),
            coordinator: coordinator.clone(),
            timing: spec.timing.clone(),
            removed_agent_policy: spec.removed_agent_policy,
            bug: spec.bug,
        });
    }
    if let Some(i) = names::agent_number(n) {
        return ProcessKind::Agent(AgentConfig {
            name: name.clone(),
            executor_host: names::executors(i),
            coordinator: coordinator.clone(),
            resources: spec.agent_resources,
            timing: spec.timing.clone(),
            boot_id: String::new(), // filled in at each start
            bug: spec.bug,
            reconfiguration_policy: spec.reconfiguration_policy,
        });
    }
    if names::is_storage(n) {
        return ProcessKind::Storage(StorageConfig {
            name: name.clone(),
            store: DFS_STORE.to_string(),
        });
    }
    if let Some(i) = names::executor_host_number(n) {
        return ProcessKind::ExecutorHost(ExecutorHostConfig {
            name: name.clone(),
            agent: names::agent(i),
            bug: spec.bug,
        });
    }
    let framework = spec
        .frameworks
        .iter()
        .find(|f| n.starts_with(&names::scheduler_prefix(&f.name)))
        .expect("every process name comes from the spec");
    ProcessKind::Scheduler(Box::new(SchedulerConfig {
        name: name.clone(),
        coordinator: coordinator.clone(),
        framework: FrameworkInfo {
            name: framework.name.clone(),
            role: framework.role.clone(),
            principal: framework.principal.clone(),
            failover_timeout_ms: framework.failover_timeout_ms,
            partition_aware: framework.partition_aware,
            id: None,
        },
        desired_tasks: framework.desired_tasks,
        task_resources: framework.task_resources,
        workload: framework.workload.clone(),
        timing: spec.timing.clone(),
        mode: framework.mode.clone(),
        bug: spec.bug,
        adversary: framework.adversary.clone(),
    }))
}
