//! # The master registry
//!
//! A leading master keeps almost everything as *soft state*, rebuilt from
//! re-registrations after a failover. The exception is the **registry**, which
//! Mesos keeps in its replicated log: the set of agents the cluster has admitted,
//! those it marked unreachable (with when), and those gone for good. Without it a
//! new leader could not tell an agent it once admitted from a stranger, nor know
//! which agents it should wait for after a failover.
//!
//! Frameworks and tasks are *never* stored here: they come back with the
//! schedulers' and agents' re-registrations. We store the registry as one JSON
//! document at [`REGISTRY_PATH`] in the coordinator and update it with versioned
//! compare-and-set, one operation at a time, so a stale leader's write fails.

use crate::ids::{AgentId, ProcessId};
use crate::resources::Resources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const REGISTRY_PATH: &str = "/mesos/registry";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// Agents the cluster admitted and has not removed.
    pub admitted: BTreeMap<AgentId, AdmittedAgent>,
    /// Agents marked unreachable after missing health checks (they may come back).
    pub unreachable: BTreeMap<AgentId, UnreachableAgent>,
    /// Agents an operator marked gone for good (Mesos's `MARK_AGENT_GONE`);
    /// they are never admitted again under that ID. mesochaos models no
    /// operator API, so nothing fills this list today; the rules that read it
    /// (reconciliation's `TASK_GONE_BY_OPERATOR`, refusing a re-registration)
    /// are kept complete. A wiped machine's old ID is *removed* instead
    /// ([`RegistryOp::Remove`]), as Mesos does.
    pub gone: BTreeMap<AgentId, GoneAgent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmittedAgent {
    pub process: ProcessId,
    pub resources: Resources,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreachableAgent {
    pub process: ProcessId,
    pub since_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoneAgent {
    pub process: ProcessId,
    pub since_ms: u64,
}

/// One change to the registry (Mesos's registrar operations).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistryOp {
    Admit {
        agent_id: AgentId,
        process: ProcessId,
        resources: Resources,
    },
    MarkUnreachable {
        agent_id: AgentId,
        at_ms: u64,
    },
    MarkReachable {
        agent_id: AgentId,
        process: ProcessId,
        resources: Resources,
    },
    MarkGone {
        agent_id: AgentId,
        at_ms: u64,
    },
    /// Mesos's `RemoveSlave`: the agent leaves the registry (a new agent
    /// registered at its address). Unlike a gone agent it is not remembered.
    Remove {
        agent_id: AgentId,
    },
}

impl Registry {
    pub fn decode(data: &str) -> Result<Registry, String> {
        serde_json::from_str(data).map_err(|e| format!("corrupt registry: {e}"))
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("registry serializes")
    }

    /// Applies `op`; an operation that does not make sense (admitting an agent
    /// twice) is refused, as Mesos's registrar refuses it.
    pub fn apply(&mut self, op: &RegistryOp) -> Result<(), String> {
        match op {
            RegistryOp::Admit {
                agent_id,
                process,
                resources,
            } => {
                if self.admitted.contains_key(agent_id) || self.gone.contains_key(agent_id) {
                    return Err(format!("agent {agent_id} is already known"));
                }
                self.admitted.insert(
                    agent_id.clone(),
                    AdmittedAgent {
                        process: process.clone(),
                        resources: *resources,
                    },
                );
            }
            RegistryOp::MarkUnreachable { agent_id, at_ms } => {
                let agent = self
                    .admitted
                    .remove(agent_id)
                    .ok_or_else(|| format!("agent {agent_id} is not admitted"))?;
                self.unreachable.insert(
                    agent_id.clone(),
                    UnreachableAgent {
                        process: agent.process,
                        since_ms: *at_ms,
                    },
                );
            }
            RegistryOp::MarkReachable {
                agent_id,
                process,
                resources,
            } => {
                if self.gone.contains_key(agent_id) {
                    return Err(format!("agent {agent_id} is gone"));
                }
                self.unreachable.remove(agent_id);
                self.admitted.insert(
                    agent_id.clone(),
                    AdmittedAgent {
                        process: process.clone(),
                        resources: *resources,
                    },
                );
            }
            RegistryOp::MarkGone { agent_id, at_ms } => {
                let process = match (
                    self.admitted.remove(agent_id),
                    self.unreachable.remove(agent_id),
                ) {
                    (Some(a), _) => a.process,
                    (None, Some(u)) => u.process,
                    (None, None) => return Err(format!("agent {agent_id} is not known")),
                };
                self.gone.insert(
                    agent_id.clone(),
                    GoneAgent {
                        process,
                        since_ms: *at_ms,
                    },
                );
            }
            RegistryOp::Remove { agent_id } => {
                if self.admitted.remove(agent_id).is_none()
                    && self.unreachable.remove(agent_id).is_none()
                {
                    return Err(format!("agent {agent_id} is not known"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_moves_between_admitted_unreachable_and_gone() {
        let mut r = Registry::default();
        let id = AgentId::from("e1-S0001");
        let admit = RegistryOp::Admit {
            agent_id: id.clone(),
            process: "agent-1".into(),
            resources: Resources::new(1000, 1024, 0),
        };
        r.apply(&admit).unwrap();
        assert!(r.apply(&admit).is_err(), "admitting twice is refused");
        r.apply(&RegistryOp::MarkUnreachable {
            agent_id: id.clone(),
            at_ms: 75_000,
        })
        .unwrap();
        assert_eq!(r.unreachable[&id].since_ms, 75_000);
        r.apply(&RegistryOp::MarkGone {
            agent_id: id.clone(),
            at_ms: 80_000,
        })
        .unwrap();
        assert!(r.admitted.is_empty() && r.unreachable.is_empty());
        assert_eq!(Registry::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn a_removed_agent_is_forgotten_not_gone() {
        let mut r = Registry::default();
        let id = AgentId::from("e1-S0001");
        r.apply(&RegistryOp::Admit {
            agent_id: id.clone(),
            process: "agent-1".into(),
            resources: Resources::new(1000, 1024, 0),
        })
        .unwrap();
        let remove = RegistryOp::Remove {
            agent_id: id.clone(),
        };
        r.apply(&remove).unwrap();
        assert_eq!(r, Registry::default());
        assert!(r.apply(&remove).is_err(), "removing twice is refused");
    }
}
