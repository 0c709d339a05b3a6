//! `offer_accounting`: within one epoch an offer never exceeds the agent's free
//! resources, and no resource is in two outstanding offers. The runner asks it
//! of the leader's state every simulated second (the master also asserts its
//! own running totals; this recomputes them from the offers and tasks).

use mesochaos_reference::master::Leader;
use mesochaos_reference::resources::RoleResources;
use mesochaos_reference::{AgentId, OfferId};
use std::collections::BTreeMap;

/// Within the leader's epoch, the outstanding offers for an agent plus what its
/// active tasks use never exceed the agent's resources, role by role — so no
/// resource is in two outstanding offers — and a volume is in at most one
/// offer and never offered while a task uses it. Recomputed from the offers and
/// tasks themselves, not from the master's running totals.
pub fn offer_problem(leader: &Leader) -> Option<String> {
    let mut committed: BTreeMap<&AgentId, RoleResources> = BTreeMap::new();
    let mut volumes_offered: BTreeMap<String, &OfferId> = BTreeMap::new();
    for offer in leader.offers.values() {
        let c = committed.entry(&offer.agent_id).or_default();
        *c = c.plus(&offer.resources);
        for v in &offer.volumes {
            let key = format!("{}/{}", offer.agent_id, v.key());
            if let Some(other) = volumes_offered.insert(key.clone(), &offer.offer_id) {
                return Some(format!(
                    "volume {key} is in two outstanding offers: {other} and {}",
                    offer.offer_id
                ));
            }
        }
    }
    for framework in leader.frameworks.values() {
        for task in framework.tasks.values() {
            if !task.state.is_active() {
                continue;
            }
            let mut used = RoleResources::default();
            used.add(&task.info.role, &task.info.resources);
            let c = committed.entry(&task.agent_id).or_default();
            *c = c.plus(&used);
            if let Some(volume) = &task.info.volume {
                let key = format!("{}/{}/{volume}", task.agent_id, task.info.role);
                if let Some(offer) = volumes_offered.get(&key) {
                    return Some(format!(
                        "volume {key} is offered in {offer} while task {} uses it",
                        task.info.task_id
                    ));
                }
            }
        }
    }
    for (agent_id, committed) in committed {
        let Some(agent) = leader.agents.get(agent_id) else {
            continue; // tasks of an agent not registered yet
        };
        if !agent.total.contains(&committed) {
            return Some(format!(
                "agent {agent_id}: outstanding offers and active tasks hold {committed:?}, more than its {:?}",
                agent.total
            ));
        }
    }
    None
}
