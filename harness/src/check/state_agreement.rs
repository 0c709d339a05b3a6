//! # State agreement after convergence: the leader's view equals the agents'
//!
//! Mesos's master keeps only soft state about agents: their reservations and
//! persistent volumes live on the agents (checkpointed there), and the master
//! learns them — and the tasks using them — from registration and
//! re-registration (`Master::__reregisterSlave`, `Slave::checkpointResources`).
//! Once the faults have healed and the cluster has converged, the two views
//! must agree, or the next offer is wrong: an offer of resources a task
//! holds, a reservation offered that the agent no longer has, a volume the
//! master forgot. So the checker `state_agreement`, run when the liveness
//! phase has converged, compares for every agent registered with the leader:
//!
//! - reservations: the leader's resources by role equal the agent's;
//! - volumes: the same persistent volumes, by `role/id`;
//! - resources in use: the leader's per-role use equals the sum of the agent's
//!   live tasks;
//!
//! and checks that no outstanding offer names an agent the leader does not
//! hold (removed or unknown: Mesos rescinds those, `Master::removeSlave`), and
//! that no two agents run a live task of one framework under one ID.
//!
//! The comparison works on plain views ([`LeaderView`], [`AgentView`]) built
//! from the roles' state, so hand-built views test it.

use mesochaos_reference::resources::{Resources, RoleResources, Volume};
use mesochaos_reference::{AgentId, FrameworkId, ProcessId, TaskId};
use std::collections::BTreeMap;

/// What the leader holds about one agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderAgent {
    pub process: ProcessId,
    pub total: RoleResources,
    pub volumes: BTreeMap<String, Volume>,
    pub used: RoleResources,
}

/// The leader's side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderView {
    pub agents: BTreeMap<AgentId, LeaderAgent>,
    /// Outstanding offers: (offer, agent it is on).
    pub offers: Vec<(String, AgentId)>,
}

/// One agent's side (an agent registered with the leader).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentView {
    pub process: ProcessId,
    pub agent_id: AgentId,
    pub pools: RoleResources,
    pub volumes: BTreeMap<String, Volume>,
    /// Its live (non-terminal) tasks: (framework, task, role, resources).
    pub live_tasks: Vec<(FrameworkId, TaskId, String, Resources)>,
}

/// Per role, without roles whose resources are empty (a role the master
/// subtracted back to nothing is the same as one it never had).
fn by_role(r: &RoleResources) -> BTreeMap<String, Resources> {
    r.0.iter()
        .filter(|(_, res)| !res.is_empty())
        .map(|(role, res)| (role.clone(), *res))
        .collect()
}

/// Every disagreement between the leader's view and the agents'.
pub fn disagreements(leader: &LeaderView, agents: &[AgentView]) -> Vec<String> {
    let mut problems = Vec::new();
    for agent in agents {
        let id = &agent.agent_id;
        let Some(held) = leader.agents.get(id) else {
            problems.push(format!(
                "{} is registered as {id}, which the leader does not hold",
                agent.process
            ));
            continue;
        };
        if by_role(&held.total) != by_role(&agent.pools) {
            problems.push(format!(
                "reservations of {id} ({}): the leader holds {:?}, the agent {:?}",
                agent.process,
                by_role(&held.total),
                by_role(&agent.pools)
            ));
        }
        if held.volumes != agent.volumes {
            problems.push(format!(
                "volumes of {id} ({}): the leader holds {:?}, the agent {:?}",
                agent.process,
                held.volumes.keys().collect::<Vec<_>>(),
                agent.volumes.keys().collect::<Vec<_>>()
            ));
        }
        let mut in_use = RoleResources::default();
        for (_, _, role, resources) in &agent.live_tasks {
            in_use.add(role, resources);
        }
        if by_role(&held.used) != by_role(&in_use) {
            problems.push(format!(
                "resources in use on {id} ({}): the leader counts {:?}, the agent's live tasks {:?}",
                agent.process,
                by_role(&held.used),
                by_role(&in_use)
            ));
        }
    }
    for (offer, agent_id) in &leader.offers {
        if !leader.agents.contains_key(agent_id) {
            problems.push(format!(
                "offer {offer} is outstanding on agent {agent_id}, which the leader does not hold"
            ));
        }
    }
    let mut running: BTreeMap<(&FrameworkId, &TaskId), &ProcessId> = BTreeMap::new();
    for agent in agents {
        for (framework, task, _, _) in &agent.live_tasks {
            if let Some(other) = running.insert((framework, task), &agent.process) {
                problems.push(format!(
                    "task {framework}/{task} is live on both {other} and {}",
                    agent.process
                ));
            }
        }
    }
    problems
}

/// The leader's side, from its state.
pub fn leader_view(l: &mesochaos_reference::master::Leader) -> LeaderView {
    LeaderView {
        agents: l
            .agents
            .iter()
            .map(|(id, a)| {
                let held = LeaderAgent {
                    process: a.process.clone(),
                    total: a.total.clone(),
                    volumes: a.volumes.clone(),
                    used: a.used.clone(),
                };
                (id.clone(), held)
            })
            .collect(),
        offers: l
            .offers
            .values()
            .map(|o| (o.offer_id.to_string(), o.agent_id.clone()))
            .collect(),
    }
}

/// One agent's side, from its state (`None` before it has an agent ID).
pub fn agent_view(
    process: ProcessId,
    agent: &mesochaos_reference::agent::Agent,
) -> Option<AgentView> {
    let agent_id = agent.agent_id().cloned()?;
    let live_tasks = agent
        .tasks()
        .iter()
        .flat_map(|(fid, tasks)| {
            tasks
                .iter()
                .filter(|(_, t)| !t.state.is_terminal())
                .map(move |(tid, t)| {
                    (
                        fid.clone(),
                        tid.clone(),
                        t.info.role.clone(),
                        t.info.resources,
                    )
                })
        })
        .collect();
    Some(AgentView {
        process,
        agent_id,
        pools: agent.resources().pools.clone(),
        volumes: agent.resources().volumes.clone(),
        live_tasks,
    })
}

/// The views of `cluster`'s leader and of every agent registered with it
/// (`None` while there is no leader).
pub fn views(cluster: &crate::cluster::Cluster) -> Option<(LeaderView, Vec<AgentView>)> {
    let (leader, epoch) = cluster.leader()?;
    let view = cluster.leader_state(leader_view)?;
    let agents = cluster
        .agents()
        .into_iter()
        .filter_map(|(process, agent)| {
            let agent = agent.borrow();
            if agent.registered_with() != Some((&leader, epoch)) {
                return None;
            }
            agent_view(process, &agent)
        })
        .collect();
    Some((view, agents))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus(n: u64) -> Resources {
        Resources::new(n * 1000, 0, 0)
    }

    fn roles(pairs: &[(&str, u64)]) -> RoleResources {
        let mut r = RoleResources::default();
        for (role, n) in pairs {
            r.add(role, &cpus(*n));
        }
        r
    }

    /// agent-1 (`S1`) with 2 cpus reserved for `db` and a `db` task using 1.
    fn agreeing() -> (LeaderView, Vec<AgentView>) {
        let leader = LeaderView {
            agents: [(
                AgentId::from("S1"),
                LeaderAgent {
                    process: "agent-1".into(),
                    total: roles(&[("*", 2), ("db", 2)]),
                    volumes: BTreeMap::new(),
                    used: roles(&[("db", 1), ("*", 0)]),
                },
            )]
            .into(),
            offers: vec![("O1".into(), "S1".into())],
        };
        let agents = vec![AgentView {
            process: "agent-1".into(),
            agent_id: "S1".into(),
            pools: roles(&[("*", 2), ("db", 2)]),
            volumes: BTreeMap::new(),
            live_tasks: vec![("F1".into(), "db-1".into(), "db".into(), cpus(1))],
        }];
        (leader, agents)
    }

    #[test]
    fn agreeing_views_have_no_disagreement() {
        let (leader, agents) = agreeing();
        assert_eq!(disagreements(&leader, &agents), Vec::<String>::new());
    }

    #[test]
    fn each_kind_of_disagreement_is_reported() {
        // The leader lost the agent's reservation.
        let (mut leader, agents) = agreeing();
        leader.agents.get_mut(&AgentId::from("S1")).unwrap().total = roles(&[("*", 4)]);
        let p = disagreements(&leader, &agents);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("reservations of S1"), "{p:?}");

        // The leader counts a task that no longer runs.
        let (mut leader, agents) = agreeing();
        leader.agents.get_mut(&AgentId::from("S1")).unwrap().used = roles(&[("db", 2)]);
        let p = disagreements(&leader, &agents);
        assert!(p[0].starts_with("resources in use on S1"), "{p:?}");

        // An offer on an agent the leader removed.
        let (mut leader, agents) = agreeing();
        leader.offers.push(("O2".into(), "S9".into()));
        let p = disagreements(&leader, &agents);
        assert_eq!(
            p,
            ["offer O2 is outstanding on agent S9, which the leader does not hold"]
        );

        // One task ID live on two agents.
        let (mut leader, mut agents) = agreeing();
        let mut second = agents[0].clone();
        second.process = "agent-2".into();
        second.agent_id = "S2".into();
        leader
            .agents
            .insert("S2".into(), leader.agents[&AgentId::from("S1")].clone());
        agents.push(second);
        let p = disagreements(&leader, &agents);
        assert_eq!(p, ["task F1/db-1 is live on both agent-1 and agent-2"]);
    }
}
