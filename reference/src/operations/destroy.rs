//! # DESTROY: delete a persistent volume
//!
//! The volume's data is deleted and its disk goes back to its role's
//! reservation. A volume a task is using cannot be destroyed, and the
//! volume must be in the offer (Mesos `validation::operation::validate` for
//! `Destroy`).

use super::OfferPool;
use crate::resources::{volume_key, AgentResources, Resources};

/// DESTROY: delete a persistent volume of the offer. Refused while a task
/// uses it (Mesos: "Persistent volumes in use") and if the volume was not
/// offered to this framework.
///
/// The master's side: `Some(reason)` if refused (nothing changed), else
/// `None` with the offer pool and the master's copy of the agent changed.
pub fn on_offer(p: &mut OfferPool<'_>, target: &str, id: &str) -> Option<String> {
    let key = volume_key(target, id);
    if let Some(task) = p.volumes_in_use.get(&key) {
        Some(format!("cannot destroy volume {key}: task {task} uses it"))
    } else if !p.volumes.contains_key(&key) {
        Some(format!("volume {key} is not in the offer"))
    } else {
        // Valid: the volume's disk goes back to the role's reserved total and
        // into the p.resources.
        let volume = p.volumes.remove(&key).expect("checked");
        p.agent_volumes.remove(&key);
        let disk = Resources::new(0, 0, volume.disk_mb);
        p.agent_total.add(target, &disk);
        p.resources.add(target, &disk);
        None
    }
}

/// The agent's side (Mesos `Resources::apply` for `DESTROY`): the volume's disk
/// goes back to its role's reservation, and its data is gone.
/// Refused with the reason if it does not fit: the master's copy and the
/// agent's have diverged, and the agent's wins at the next re-registration.
pub fn on_agent(agent: &mut AgentResources, role: &str, id: &str) -> Result<(), String> {
    let volume = agent
        .volumes
        .remove(&volume_key(role, id))
        .ok_or_else(|| format!("no volume {}", volume_key(role, id)))?;
    agent.pools.add(role, &Resources::new(0, 0, volume.disk_mb));
    Ok(())
}
