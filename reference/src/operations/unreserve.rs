//! # UNRESERVE: give a role's reserved resources back
//!
//! The inverse of RESERVE (Mesos docs/reservation.md). Disk that holds a
//! persistent volume cannot be unreserved: the volume must be destroyed
//! first, and the refusal says so.

use super::OfferPool;
use crate::resources::{AgentResources, Resources, UNRESERVED};

/// UNRESERVE: give reserved resources of the framework's role back to the
/// unreserved pool. They must be in the offer, which only ever holds the
/// framework's own role's reservations.
///
/// The master's side: `Some(reason)` if refused (nothing changed), else
/// `None` with the offer pool and the master's copy of the agent changed.
pub fn on_offer(p: &mut OfferPool<'_>, target: &str, resources: &Resources) -> Option<String> {
    let role = p.role;
    let offered = p.resources.get(target);
    if target != role {
        Some(format!(
            "cannot unreserve resources of role {target}: the framework's role is {role}"
        ))
    } else if !p.resources.take(target, resources) {
        // Disk that holds a persistent volume is not in the role's reserved
        // pool at all (a volume's disk lives in `AgentEntry::volumes`), so
        // asking for it fails the take above; say why, since the fix is to
        // destroy the volume first.
        let volume_disk: u64 = p
            .agent_volumes
            .values()
            .filter(|v| v.role == target)
            .map(|v| v.disk_mb)
            .sum();
        if resources.disk_mb > offered.disk_mb && volume_disk > 0 {
            Some(format!(
                "cannot unreserve disk that still holds a volume ({volume_disk} MB in volumes)"
            ))
        } else {
            Some(format!(
                "unreserving more than offered: {resources} asked, {offered} reserved offered"
            ))
        }
    } else {
        // Valid: back in the pool as unreserved, and in the agent's total.
        p.resources.add(UNRESERVED, resources);
        p.agent_total.take_exact(target, resources);
        p.agent_total.add(UNRESERVED, resources);
        None
    }
}

/// The agent's side (Mesos `Resources::apply` for `UNRESERVE`): the role's
/// share shrinks, the unreserved one grows.
/// Refused with the reason if it does not fit: the master's copy and the
/// agent's have diverged, and the agent's wins at the next re-registration.
pub fn on_agent(
    agent: &mut AgentResources,
    role: &str,
    resources: &Resources,
) -> Result<(), String> {
    if !agent.pools.take(role, resources) {
        return Err(format!("not enough resources reserved for {role}"));
    }
    agent.pools.add(UNRESERVED, resources);
    Ok(())
}
