//! What the harness reads off the running roles between steps: the leader
//! (as the coordinator names it and as it acts), the masters that believe they
//! lead, each framework's active instance, where a task runs, and every role's
//! state as JSON. Each is a question to the cluster's [`View`] (`view.rs`),
//! which real mode answers from its processes' snapshots.

use super::view::View;
use super::Cluster;
use crate::shared::RoleRef;
use mesochaos_reference::agent::Agent;
use mesochaos_reference::detector;
use mesochaos_reference::executor::ExecutorHost;
use mesochaos_reference::master::{Leader, Master, RebuiltView};
use mesochaos_reference::scheduler::Scheduler;
use mesochaos_reference::ProcessId;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

impl Cluster {
    /// Answers `f` from the cluster's view as it is now.
    pub fn with_view<T>(&self, f: impl FnOnce(&View<'_>) -> T) -> T {
        let slots = self.shared.slots.borrow();
        f(&View {
            spec: &self.spec,
            slots: &slots,
            paused: &self.paused,
            masters_group: None,
        })
    }

    pub fn snapshot_roles(&self) -> BTreeMap<String, serde_json::Value> {
        self.with_view(|v| v.snapshot_roles())
    }

    pub fn role(&self, process: &ProcessId) -> Option<RoleRef> {
        self.with_view(|v| v.role(process))
    }

    pub fn masters(&self) -> Vec<(ProcessId, Rc<RefCell<Master>>)> {
        self.with_view(|v| v.masters())
    }

    pub fn agents(&self) -> Vec<(ProcessId, Rc<RefCell<Agent>>)> {
        self.with_view(|v| v.agents())
    }

    pub fn executor_hosts(&self) -> Vec<(ProcessId, Rc<RefCell<ExecutorHost>>)> {
        self.with_view(|v| v.executor_hosts())
    }

    pub fn schedulers(&self) -> Vec<(ProcessId, Rc<RefCell<Scheduler>>)> {
        self.with_view(|v| v.schedulers())
    }

    pub fn coordinator_leader(&self) -> Option<detector::LeaderInfo> {
        self.with_view(|v| v.coordinator_leader())
    }

    pub fn leader(&self) -> Option<(ProcessId, u64)> {
        self.with_view(|v| v.leader())
    }

    pub fn leading_masters(&self) -> Vec<(ProcessId, u64)> {
        self.with_view(|v| v.leading_masters())
    }

    pub fn agent_running(&self, task_id: &str) -> Option<ProcessId> {
        self.with_view(|v| v.agent_running(task_id))
    }

    pub fn agent_running_framework(&self, framework: &str) -> Option<ProcessId> {
        self.with_view(|v| v.agent_running_framework(framework))
    }

    pub fn leader_state<T>(&self, f: impl FnOnce(&Leader) -> T) -> Option<T> {
        self.with_view(|v| v.leader_state(f))
    }

    pub fn leader_view(&self) -> Option<RebuiltView> {
        self.with_view(|v| v.leader_view())
    }

    pub fn framework_stopped(&self, framework: &str) -> bool {
        self.with_view(|v| v.framework_stopped(framework))
    }

    pub fn self_declared_active(&self, framework: &str) -> Option<ProcessId> {
        self.with_view(|v| v.self_declared_active(framework))
    }

    pub fn active_instance(&self, framework: &str) -> Option<ProcessId> {
        self.with_view(|v| v.active_instance(framework))
    }
}
