//! # CREATE: a persistent volume on reserved disk
//!
//! A persistent volume (Mesos docs/persistent-volume.md) is disk carved out
//! of a role's reservation, with an ID, whose data outlives the tasks that
//! use it. Its ID must be new for its role on the agent
//! (`validation::resource::validateUniquePersistenceID`).

use super::OfferPool;
use crate::resources::{AgentResources, Resources, Volume};

/// CREATE: make a persistent volume out of disk reserved for the
/// framework's role. The volume ID must be new for that role on this agent
/// (Mesos `validateUniquePersistenceID`), and the disk must be reserved and
/// offered: a volume outlives its tasks, so it can only live on resources
/// that stay with the role.
///
/// The master's side: `Some(reason)` if refused (nothing changed), else
/// `None` with the offer pool and the master's copy of the agent changed.
pub fn on_offer(p: &mut OfferPool<'_>, volume: &Volume) -> Option<String> {
    let role = p.role;
    let disk = Resources::new(0, 0, volume.disk_mb);
    if volume.role != role {
        Some(format!(
            "cannot create a volume for role {}: the framework's role is {role}",
            volume.role
        ))
    } else if p.agent_volumes.contains_key(&volume.key()) {
        Some(format!(
            "volume ID {} is already used by role {} on this agent",
            volume.id, volume.role
        ))
    } else if !p.resources.take(&volume.role, &disk) {
        Some(format!(
            "a volume needs disk reserved for {}: {} MB asked, {} MB reserved offered",
            volume.role,
            volume.disk_mb,
            p.resources.get(&volume.role).disk_mb
        ))
    } else {
        // Valid: the disk leaves the role's reserved total and becomes the
        // volume; the volume joins the pool, so a launch later in this call can
        // use it.
        p.agent_total.take_exact(&volume.role, &disk);
        p.agent_volumes.insert(volume.key(), volume.clone());
        p.volumes.insert(volume.key(), volume.clone());
        None
    }
}

/// The agent's side (Mesos `Resources::apply` for `CREATE`): the role's
/// reserved disk becomes the volume.
/// Refused with the reason if it does not fit: the master's copy and the
/// agent's have diverged, and the agent's wins at the next re-registration.
pub fn on_agent(agent: &mut AgentResources, volume: &Volume) -> Result<(), String> {
    if agent.volumes.contains_key(&volume.key()) {
        return Err(format!("volume {} exists", volume.key()));
    }
    if !agent
        .pools
        .take(&volume.role, &Resources::new(0, 0, volume.disk_mb))
    {
        return Err(format!("not enough disk reserved for {}", volume.role));
    }
    agent.volumes.insert(volume.key(), volume.clone());
    Ok(())
}
