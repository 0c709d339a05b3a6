//! Convergence: the end of a failover (every live agent and scheduler
//! re-registered with the leader) and of the liveness phase (re-registered,
//! and every update acknowledged, the desired tasks running, and the leader's
//! task table equal to the agents'). Not a checker of its own: `liveness`
//! fails when a run does not converge in time, and it gates
//! `update_delivery` and `state_agreement`.

use crate::cluster::View;
use crate::names;
use crate::shared::{ProcessStatus, RoleRef};
use mesochaos_reference::agent::Agent;
use mesochaos_reference::scheduler::InstanceState;
use mesochaos_reference::{ProcessId, TaskState};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Every live agent and scheduler instance is registered with the current
/// leader, and the leader sees each of them connected and active. The end of
/// a failover (DESIGN.md).
pub fn all_reregistered(view: &View<'_>) -> bool {
    if view.any_starting() {
        return false;
    }
    let Some((leader, epoch)) = view.leader() else {
        return false;
    };
    let Some(RoleRef::Master(m)) = view.role(&leader) else {
        return false;
    };
    let m = m.borrow();
    let Some(state) = m.leader() else {
        return false;
    };
    // Checked every tick while a run waits for this: one pass over the
    // leader's agents, not one per agent (1000 agents made it quadratic).
    let connected: BTreeSet<&ProcessId> = state
        .agents
        .values()
        .filter(|e| e.connected)
        .map(|e| &e.process)
        .collect();
    let agents_ok = view
        .slots
        .iter()
        .filter(|(_, slot)| slot.is_running())
        .all(|(name, slot)| match &slot.role {
            Some(RoleRef::Agent(a)) => {
                a.borrow().registered_with() == Some((&leader, epoch)) && connected.contains(name)
            }
            _ => true,
        });
    // Every framework with a live instance has one active instance,
    // registered with the leader, which the leader sees as its scheduler.
    let schedulers = view.schedulers();
    let frameworks_ok = view.spec.frameworks.iter().all(|f| {
        let instances: Vec<_> = schedulers
            .iter()
            .filter(|(_, s)| {
                let s = s.borrow();
                s.framework_name() == f.name
                    && !matches!(s.instance(), InstanceState::Stopped { .. })
            })
            .collect();
        if instances.is_empty() {
            return true;
        }
        instances.iter().any(|(name, s)| {
            let s = s.borrow();
            s.is_active()
                && s.registered_with() == Some((&leader, epoch))
                && state
                    .frameworks
                    .values()
                    .any(|fw| fw.scheduler.as_ref() == Some(name) && fw.active)
        })
    });
    agents_ok && frameworks_ok
}

/// Re-registered, and everything has settled: no status update waits for an
/// acknowledgement, every framework runs its desired tasks (all
/// `TASK_RUNNING`), and the leader's task table equals what the agents run.
pub fn converged(view: &View<'_>) -> bool {
    why_not_converged_opt(view, false).is_none()
}

/// What keeps the cluster from having converged (for a liveness violation).
pub fn why_not_converged(view: &View<'_>) -> String {
    why_not_converged_opt(view, true).unwrap_or_else(|| "it has converged".into())
}

/// Why the cluster has not converged, or `None`. Without `explain` the
/// reason of the first failed check is left empty: `converged` runs every
/// tick while a run waits, and naming 1000 unregistered agents each tick
/// cost more than the check.
fn why_not_converged_opt(view: &View<'_>, explain: bool) -> Option<String> {
    if !all_reregistered(view) {
        if !explain {
            return Some(String::new());
        }
        let starting: Vec<String> = view
            .slots
            .iter()
            .filter(|(_, s)| s.status == ProcessStatus::Starting)
            .map(|(n, _)| n.to_string())
            .collect();
        if !starting.is_empty() {
            return Some(format!("processes still starting: {}", starting.join(", ")));
        }
        let Some((leader, epoch)) = view.leader() else {
            return Some("no master leads".into());
        };
        let unregistered: Vec<String> = view
            .agents()
            .iter()
            .filter(|(_, a)| a.borrow().registered_with() != Some((&leader, epoch)))
            .map(|(n, _)| n.to_string())
            .collect();
        let frameworks: Vec<String> = view
            .spec
            .frameworks
            .iter()
            .filter(|f| view.active_instance(&f.name).is_none())
            .map(|f| {
                let instances: Vec<String> = view
                    .schedulers()
                    .iter()
                    .filter(|(_, s)| s.borrow().framework_name() == f.name)
                    .map(|(n, s)| {
                        let s = s.borrow();
                        format!("{n}: {:?}, link {:?}", s.instance(), s.link())
                    })
                    .collect();
                format!("{} ({})", f.name, instances.join("; "))
            })
            .collect();
        return Some(format!(
            "not everyone is registered with the leader {leader} (epoch {epoch}); agents not registered: [{}]; frameworks without an active registered instance: [{}]",
            unregistered.join(", "),
            frameworks.join(", ")
        ));
    }
    let agents = view.agents();
    let agent_by_name: BTreeMap<&ProcessId, &Rc<RefCell<Agent>>> =
        agents.iter().map(|(n, a)| (n, a)).collect();
    // Every running executor host is registered with its agent.
    let unregistered_hosts: Vec<String> = view
        .executor_hosts()
        .iter()
        .filter(|(name, _)| {
            let agent = ProcessId::new(names::agent_of_executor_host(name.as_str()));
            agent_by_name.get(&agent).is_some_and(|a| {
                a.borrow().executor_host_link()
                    != mesochaos_reference::agent::ExecutorHostLink::Registered
            })
        })
        .map(|(n, _)| n.to_string())
        .collect();
    if !unregistered_hosts.is_empty() {
        return Some(format!(
            "executor hosts not registered with their agents: {}",
            unregistered_hosts.join(", ")
        ));
    }
    let pending: Vec<String> = agents
        .iter()
        .filter(|(_, a)| {
            a.borrow()
                .tasks()
                .values()
                .flat_map(|t| t.values())
                .any(|t| !t.pending_updates.is_empty())
        })
        .map(|(n, _)| n.to_string())
        .collect();
    if !pending.is_empty() {
        return Some(format!(
            "agents with unacknowledged status updates: {}",
            pending.join(", ")
        ));
    }
    for (name, s) in view.schedulers() {
        let s = s.borrow();
        if !s.is_active() {
            continue; // standbys and stopped instances hold nothing
        }
        if !s.is_reconciled() {
            return Some(format!("{name} is still reconciling"));
        }
        // A partition-aware framework's task on an agent that never comes
        // back (a wiped machine's old ID) stays TASK_UNREACHABLE for good,
        // as in Mesos (until an operator marks the agent gone); the
        // scheduler has replaced it, so it does not hold convergence up.
        let not_running = s
            .tasks()
            .values()
            .filter(|t| t.state.is_active() && t.state != TaskState::Unreachable)
            .any(|t| t.state != TaskState::Running);
        if s.running_count() != s.desired_tasks() || not_running {
            return Some(format!(
                "{name} runs {} of {} desired tasks{}",
                s.running_count(),
                s.desired_tasks(),
                if not_running {
                    " (some not yet TASK_RUNNING)"
                } else {
                    ""
                }
            ));
        }
    }
    let Some(view) = view.leader_view() else {
        return Some("no leader view".into());
    };
    let mut from_agents = BTreeSet::new();
    for (_, a) in &agents {
        let a = a.borrow();
        for (fid, tasks) in a.tasks() {
            for (tid, t) in tasks {
                from_agents.insert((fid.clone(), tid.clone(), t.state));
            }
        }
    }
    let from_leader: BTreeSet<_> = view
        .frameworks
        .iter()
        .flat_map(|(fid, f)| {
            f.tasks
                .iter()
                .map(move |(tid, t)| (fid.clone(), tid.clone(), t.state))
        })
        .collect();
    if from_agents != from_leader {
        let only_agents: Vec<String> = from_agents
            .difference(&from_leader)
            .map(|(f, t, s)| format!("{f}/{t} {s}"))
            .collect();
        let only_leader: Vec<String> = from_leader
            .difference(&from_agents)
            .map(|(f, t, s)| format!("{f}/{t} {s}"))
            .collect();
        return Some(format!(
            "the leader's tasks differ from the agents': only on agents [{}], only in the leader [{}]",
            only_agents.join(", "),
            only_leader.join(", ")
        ));
    }
    None
}
