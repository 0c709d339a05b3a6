//! `[cluster]`: how many masters and agent machines, the agents' resources,
//! the master's policies for removed and reconfigured agents, how long a
//! crashed process stays down, and the storage servers of a distributed file
//! system. (`build` joins these with the frameworks, the timing and the
//! duration into a `ClusterSpec`.)

use crate::values::{duration, resources, Invalid, RawResources};
use mesochaos_reference::agent::ReconfigurationPolicy;
use mesochaos_reference::master::RemovedAgentPolicy;
use mesochaos_reference::Resources;
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    masters: Spanned<usize>,
    agents: Spanned<usize>,
    agent_resources: Option<Spanned<RawResources>>,
    removed_agent_policy: Option<Spanned<String>>,
    reconfiguration_policy: Option<Spanned<String>>,
    restart_delay: Option<Spanned<String>>,
    /// Storage servers of a distributed file system (`storage-1` ...).
    storage_servers: Option<Spanned<usize>>,
}

/// `[cluster]`, checked: everything of a `ClusterSpec` but its frameworks, its
/// timing and its duration.
pub(crate) struct Shape {
    pub(crate) masters: usize,
    pub(crate) agents: usize,
    pub(crate) agent_resources: Resources,
    pub(crate) removed_agent_policy: RemovedAgentPolicy,
    pub(crate) reconfiguration_policy: ReconfigurationPolicy,
    pub(crate) restart_delay_ms: u64,
    /// Storage servers of a distributed file system (`storage-1` ...); 0: none.
    pub(crate) storage_servers: usize,
}

pub(crate) fn shape(cluster: &RawCluster) -> Result<Shape, Invalid> {
    if *cluster.masters.get_ref() == 0 {
        return Err((
            cluster.masters.span(),
            "a cluster needs at least one master".into(),
        ));
    }
    let agent_resources = match &cluster.agent_resources {
        Some(r) => resources(r)?,
        None => Resources::new(4_000, 8_192, 10_240),
    };
    let removed_agent_policy = match cluster
        .removed_agent_policy
        .as_ref()
        .map(|p| (p.get_ref().as_str(), p.span()))
    {
        None | Some(("reregister", _)) => RemovedAgentPolicy::Reregister,
        Some(("shutdown", _)) => RemovedAgentPolicy::Shutdown,
        Some((other, span)) => {
            return Err((
                span,
                format!(
                    "unknown removed_agent_policy \"{other}\" (use \"reregister\" or \"shutdown\")"
                ),
            ))
        }
    };
    let reconfiguration_policy = match cluster
        .reconfiguration_policy
        .as_ref()
        .map(|p| (p.get_ref().as_str(), p.span()))
    {
        None | Some(("equal", _)) => ReconfigurationPolicy::Equal,
        Some(("additive", _)) => ReconfigurationPolicy::Additive,
        Some((other, span)) => {
            return Err((
                span,
                format!(
                    "unknown reconfiguration_policy \"{other}\" (use \"equal\" or \"additive\")"
                ),
            ))
        }
    };
    let restart_delay_ms = cluster
        .restart_delay
        .as_ref()
        .map(duration)
        .transpose()?
        .unwrap_or(5_000);
    Ok(Shape {
        masters: *cluster.masters.get_ref(),
        agents: *cluster.agents.get_ref(),
        agent_resources,
        removed_agent_policy,
        reconfiguration_policy,
        restart_delay_ms,
        storage_servers: cluster.storage_servers.as_ref().map_or(0, |n| *n.get_ref()),
    })
}
