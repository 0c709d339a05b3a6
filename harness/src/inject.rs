//! The message an `inject` step writes, resolved when the step runs: a
//! framework's name becomes its current ID, a missing epoch the epoch in
//! which the sending master last led, an agent target its agent's current ID
//! (read off the running roles and the trace).

use crate::cluster::Cluster;
use crate::filters::{AgentRef, InjectSpec};
use crate::names;
use mesochaos_faults::Target;
use mesochaos_reference::messages::ReconcileTask;
use mesochaos_reference::{AgentId, Event, FrameworkId, Message, ProcessId};

/// The message `from` sends for `spec`, resolved now; `agent_of` names the agent
/// process a target resolves to (or `None` if it resolves to nothing yet).
pub fn message(
    spec: &InjectSpec,
    cluster: &Cluster,
    from: &ProcessId,
    agent_of: &dyn Fn(&Target) -> Option<ProcessId>,
) -> Result<Message, String> {
    let epoch = |given: &Option<u64>| -> Result<u64, String> {
        match given {
            Some(e) => Ok(*e),
            None => last_epoch(cluster, from).ok_or_else(|| {
                format!("{from} never led: give the epoch it sends as (`epoch = N`)")
            }),
        }
    };
    let framework_id = |name: &str| -> Result<FrameworkId, String> {
        framework_id(cluster, name)
            .ok_or_else(|| format!("framework {name} has no framework ID yet"))
    };
    Ok(match spec {
        InjectSpec::KillTask {
            framework,
            task,
            epoch: e,
        } => Message::KillTask {
            epoch: epoch(e)?,
            framework_id: framework_id(framework)?,
            task_id: task.clone(),
        },
        InjectSpec::ShutdownFramework {
            framework,
            epoch: e,
        } => Message::ShutdownFramework {
            epoch: epoch(e)?,
            framework_id: framework_id(framework)?,
        },
        InjectSpec::ShutdownAgent { message, epoch: e } => Message::ShutdownAgent {
            epoch: epoch(e)?,
            message: message.clone(),
        },
        InjectSpec::Ping { epoch: e } => Message::Ping { epoch: epoch(e)? },
        InjectSpec::Kill { framework, task } => Message::Kill {
            framework_id: framework_id(framework)?,
            task_id: task.clone(),
        },
        InjectSpec::Reconcile { framework, tasks } => Message::Reconcile {
            framework_id: framework_id(framework)?,
            tasks: tasks
                .iter()
                .map(|(task_id, agent)| {
                    let agent_id = agent
                        .as_ref()
                        .map(|a| resolve_agent(cluster, a, agent_of))
                        .transpose()?;
                    Ok(ReconcileTask {
                        task_id: task_id.clone(),
                        agent_id,
                    })
                })
                .collect::<Result<_, String>>()?,
        },
        InjectSpec::Teardown { framework } => Message::Teardown {
            framework_id: framework_id(framework)?,
        },
    })
}

/// The agent ID an [`AgentRef`] names now.
pub fn resolve_agent(
    cluster: &Cluster,
    agent: &AgentRef,
    agent_of: &dyn Fn(&Target) -> Option<ProcessId>,
) -> Result<AgentId, String> {
    match agent {
        AgentRef::Id(id) => Ok(id.clone()),
        AgentRef::Of(target) => {
            let process =
                agent_of(target).ok_or_else(|| format!("\"{target}\" names no agent now"))?;
            current_agent_id(cluster, &process)
                .ok_or_else(|| format!("{process} (\"{target}\") has no agent ID"))
        }
    }
}

/// An agent process's ID: what the running agent holds, else the ID it last
/// registered under.
pub fn current_agent_id(cluster: &Cluster, agent: &ProcessId) -> Option<AgentId> {
    let running = cluster
        .agents()
        .into_iter()
        .find(|(name, _)| name == agent)
        .and_then(|(_, a)| a.borrow().agent_id().cloned());
    running.or_else(|| {
        let trace = cluster.shared.trace.borrow();
        trace
            .events()
            .filter(|(_, at, _)| *at == agent)
            .filter_map(|(_, _, e)| match e {
                Event::AgentRegisteredWith { agent_id, .. } => Some(agent_id.clone()),
                _ => None,
            })
            .last()
    })
}

/// The epoch in which master `master` was last elected leader.
fn last_epoch(cluster: &Cluster, master: &ProcessId) -> Option<u64> {
    let trace = cluster.shared.trace.borrow();
    trace
        .events()
        .filter(|(_, at, _)| *at == master)
        .filter_map(|(_, _, e)| match e {
            Event::ElectedLeader { epoch } => Some(*epoch),
            _ => None,
        })
        .last()
}

/// The ID framework `name` was last registered under (by any of its instances).
fn framework_id(cluster: &Cluster, name: &str) -> Option<FrameworkId> {
    let trace = cluster.shared.trace.borrow();
    trace
        .events()
        .filter(|(_, at, _)| names::is_instance_of(at.as_str(), name))
        .filter_map(|(_, _, e)| match e {
            Event::SchedulerRegistered { framework_id, .. } => Some(framework_id.clone()),
            _ => None,
        })
        .last()
}
