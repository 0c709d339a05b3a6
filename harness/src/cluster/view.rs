//! # A view of the cluster's roles: what conditions and checkers read
//!
//! Every observation the harness makes between steps — who leads, which
//! scheduler instance the leader obeys, where a task runs, whether the
//! cluster has converged — reads only three things: the cluster's spec, each
//! process's slot (its status and, while it runs, its role), and which
//! processes are paused. [`View`] is exactly that, borrowed. The simulation
//! makes one from its live hosts (`Cluster::view`); real mode makes one from
//! the state snapshots its processes send, deserialized into the same role
//! types — so `wait converged` and the rebuilt-state checks are the same code
//! in both.

use crate::names;
use crate::shared::{ProcessStatus, RoleRef, Slot};
use crate::spec::ClusterSpec;
use mesochaos_reference::agent::Agent;
use mesochaos_reference::detector;
use mesochaos_reference::executor::ExecutorHost;
use mesochaos_reference::master::{Leader, Master, RebuiltView};
use mesochaos_reference::messages::ChildNode;
use mesochaos_reference::scheduler::{InstanceState, Scheduler};
use mesochaos_reference::ProcessId;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// The cluster's roles as the harness reads them.
pub struct View<'a> {
    /// The cluster's shape, timings and frameworks.
    pub spec: &'a ClusterSpec,
    /// Every process: its status and, while it runs, its role.
    pub slots: &'a BTreeMap<ProcessId, Slot>,
    /// Processes stopped as by SIGSTOP.
    pub paused: &'a BTreeSet<ProcessId>,
    /// The masters' candidacies as a real ZooKeeper lists them, when it is
    /// the coordinator (real mode); `None`: read the stand-in's tree.
    pub masters_group: Option<&'a [ChildNode]>,
}

impl View<'_> {
    /// Every process's role state as JSON (`null` for a process that is down:
    /// nothing of it survives in memory).
    pub fn snapshot_roles(&self) -> BTreeMap<String, serde_json::Value> {
        self.slots
            .iter()
            .map(|(name, slot)| {
                let state = match (&slot.role, slot.is_running()) {
                    (Some(role), true) => role.snapshot(),
                    _ => serde_json::Value::Null,
                };
                (name.to_string(), state)
            })
            .collect()
    }

    /// The role of `process` if it is running.
    pub fn role(&self, process: &ProcessId) -> Option<RoleRef> {
        let slot = self.slots.get(process)?;
        slot.is_running().then(|| slot.role.clone()).flatten()
    }

    pub fn masters(&self) -> Vec<(ProcessId, Rc<RefCell<Master>>)> {
        self.running_roles(|r| match r {
            RoleRef::Master(m) => Some(m.clone()),
            _ => None,
        })
    }

    pub fn agents(&self) -> Vec<(ProcessId, Rc<RefCell<Agent>>)> {
        self.running_roles(|r| match r {
            RoleRef::Agent(a) => Some(a.clone()),
            _ => None,
        })
    }

    pub fn executor_hosts(&self) -> Vec<(ProcessId, Rc<RefCell<ExecutorHost>>)> {
        self.running_roles(|r| match r {
            RoleRef::ExecutorHost(e) => Some(e.clone()),
            _ => None,
        })
    }

    pub fn schedulers(&self) -> Vec<(ProcessId, Rc<RefCell<Scheduler>>)> {
        self.running_roles(|r| match r {
            RoleRef::Scheduler(s) => Some(s.clone()),
            _ => None,
        })
    }

    fn running_roles<T>(&self, f: impl Fn(&RoleRef) -> Option<T>) -> Vec<(ProcessId, T)> {
        self.slots
            .iter()
            .filter(|(_, s)| s.is_running())
            .filter_map(|(n, s)| s.role.as_ref().and_then(&f).map(|r| (n.clone(), r)))
            .collect()
    }

    /// Who leads according to the coordinator (lowest candidacy), whether or
    /// not that master has noticed yet.
    pub fn coordinator_leader(&self) -> Option<detector::LeaderInfo> {
        if let Some(children) = self.masters_group {
            return detector::leader_of(children);
        }
        let RoleRef::Coordinator(c) = self.role(&ProcessId::from(names::COORDINATOR))? else {
            return None;
        };
        let children = c.borrow().children(detector::MASTERS_PATH);
        detector::leader_of(&children)
    }

    /// The current leader: named by the coordinator, running, and acting as the
    /// (recovered) leader of that epoch.
    pub fn leader(&self) -> Option<(ProcessId, u64)> {
        let info = self.coordinator_leader()?;
        let RoleRef::Master(m) = self.role(&info.master)? else {
            return None;
        };
        let m = m.borrow();
        let leader = m.leader()?;
        (leader.epoch == info.epoch && leader.recovered).then_some((info.master, info.epoch))
    }

    /// Masters that believe they lead. A paused master is left out: its belief
    /// is frozen and cannot act until it resumes, when its expired session
    /// timer fires before anything else and it steps down.
    pub fn leading_masters(&self) -> Vec<(ProcessId, u64)> {
        self.masters()
            .into_iter()
            .filter(|(n, _)| !self.paused.contains(n))
            .filter_map(|(n, m)| m.borrow().leading_epoch().map(|e| (n, e)))
            .collect()
    }

    /// The agent process on which task `task_id` (of any framework) is active.
    pub fn agent_running(&self, task_id: &str) -> Option<ProcessId> {
        self.first_agent_with_active_task(|id| id == task_id)
    }

    /// The first agent (by name) running an active task of `framework` (task IDs
    /// are `<framework>-<n>`).
    pub fn agent_running_framework(&self, framework: &str) -> Option<ProcessId> {
        let prefix = format!("{framework}-");
        self.first_agent_with_active_task(|id| id.starts_with(&prefix))
    }

    /// The first agent (by name) with an active task whose ID matches.
    fn first_agent_with_active_task(&self, matches: impl Fn(&str) -> bool) -> Option<ProcessId> {
        self.agents()
            .into_iter()
            .find(|(_, a)| {
                a.borrow().tasks().values().any(|tasks| {
                    tasks
                        .iter()
                        .any(|(id, t)| matches(id.as_str()) && t.state.is_active())
                })
            })
            .map(|(name, _)| name)
    }

    /// Applies `f` to the current leader's state.
    pub fn leader_state<T>(&self, f: impl FnOnce(&Leader) -> T) -> Option<T> {
        let (leader, _) = self.leader()?;
        let RoleRef::Master(m) = self.role(&leader)? else {
            return None;
        };
        let m = m.borrow();
        m.leader().map(f)
    }

    /// The current leader's rebuilt-state view.
    pub fn leader_view(&self) -> Option<RebuiltView> {
        let (leader, _) = self.leader()?;
        let RoleRef::Master(m) = self.role(&leader)? else {
            return None;
        };
        let view = m.borrow().leader().map(|l| l.rebuilt_view());
        view
    }

    /// Whether an instance of `framework` has stopped for good: the master
    /// told it the framework was removed (its failover timeout passed, or it
    /// tore itself down), so no instance of it will ever be active again.
    pub fn framework_stopped(&self, framework: &str) -> bool {
        self.schedulers().iter().any(|(_, s)| {
            let s = s.borrow();
            s.framework_name() == framework && matches!(s.instance(), InstanceState::Stopped { .. })
        })
    }

    /// The running instance of `framework` that believes it is the active
    /// one (it won the framework's election), whether or not a leader obeys
    /// it yet; the first by name if two believe it (one has yet to notice
    /// its session is gone).
    pub fn self_declared_active(&self, framework: &str) -> Option<ProcessId> {
        self.schedulers()
            .into_iter()
            .find(|(name, s)| {
                let s = s.borrow();
                s.framework_name() == framework && s.is_active() && self.is_alive(name)
            })
            .map(|(name, _)| name)
    }

    /// The instance of `framework` that the current leader obeys: active,
    /// registered with the leader, and the leader's scheduler for it.
    pub fn active_instance(&self, framework: &str) -> Option<ProcessId> {
        let (leader, epoch) = self.leader()?;
        let obeyed: Vec<ProcessId> = self.leader_state(|l| {
            l.frameworks
                .values()
                .filter(|f| f.info.name == framework && f.active)
                .filter_map(|f| f.scheduler.clone())
                .collect()
        })?;
        self.schedulers()
            .into_iter()
            .find(|(name, s)| {
                let s = s.borrow();
                s.framework_name() == framework
                    && s.is_active()
                    && s.registered_with() == Some((&leader, epoch))
                    && obeyed.contains(name)
            })
            .map(|(name, _)| name)
    }

    /// Running, or started and about to run its first tick.
    pub fn is_alive(&self, process: &ProcessId) -> bool {
        self.slots
            .get(process)
            .is_some_and(|s| matches!(s.status, ProcessStatus::Running | ProcessStatus::Starting))
    }

    pub fn is_running(&self, process: &ProcessId) -> bool {
        self.slots.get(process).is_some_and(Slot::is_running)
    }

    /// Whether any process is between a (re)start and its first tick.
    pub fn any_starting(&self) -> bool {
        self.slots
            .values()
            .any(|s| s.status == ProcessStatus::Starting)
    }
}
