//! # RESERVE: set unreserved resources aside for a role
//!
//! A dynamic reservation (Mesos docs/reservation.md): resources on one
//! agent that only frameworks of one role are offered from now on, so a
//! stateful framework finds them again after its task ends or its agent
//! restarts. The master validates against the offer (`Master::_accept`,
//! `validation::operation::validate` for `Reserve`); the agent applies the
//! same change to its own copy and checkpoints it.

use super::OfferPool;
use crate::resources::{AgentResources, Resources, UNRESERVED};

/// RESERVE: turn offered unreserved resources into resources reserved for
/// the framework's role (Mesos `validation::operation::validate` for
/// `Reserve`: a framework may reserve only for its own role). The role `*`
/// is the unreserved role itself and cannot be reserved for.
///
/// The master's side: `Some(reason)` if refused (nothing changed), else
/// `None` with the offer pool and the master's copy of the agent changed.
pub fn on_offer(p: &mut OfferPool<'_>, target: &str, resources: &Resources) -> Option<String> {
    let role = p.role;
    if target != role || target == UNRESERVED {
        Some(format!(
            "cannot reserve for role {target}: the framework's role is {role}"
        ))
    } else if !p.resources.take(UNRESERVED, resources) {
        Some(format!(
            "reserving more than offered: {resources} asked, {} unreserved offered",
            p.resources.get(UNRESERVED)
        ))
    } else {
        // Valid: the pool now holds them as reserved (a later launch of this
        // call may use them as such) and the master's view of the agent's total
        // moves them to the role at once (Mesos applies such "speculative"
        // operations in the master before the agent confirms, `Master::_apply`).
        p.resources.add(target, resources);
        p.agent_total.take_exact(UNRESERVED, resources);
        p.agent_total.add(target, resources);
        None
    }
}

/// The agent's side (Mesos `Resources::apply` for `RESERVE`): the unreserved
/// share shrinks, the role's grows.
/// Refused with the reason if it does not fit: the master's copy and the
/// agent's have diverged, and the agent's wins at the next re-registration.
pub fn on_agent(
    agent: &mut AgentResources,
    role: &str,
    resources: &Resources,
) -> Result<(), String> {
    if !agent.pools.take(UNRESERVED, resources) {
        return Err("not enough unreserved resources".into());
    }
    agent.pools.add(role, resources);
    Ok(())
}
