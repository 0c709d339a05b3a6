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
//!
//! ## How it maps onto Mesos
//!
//! | here | Mesos (src/master/registry.proto, src/master/registry_operations.cpp) |
//! |---|---|
//! | [`Registry::admitted`] | `Registry.slaves` (each agent's `SlaveInfo`) |
//! | [`Registry::unreachable`] | `Registry.unreachable` (agent ID and time) |
//! | [`Registry::gone`] | `Registry.gone` (agent ID and time) |
//! | [`RegistryOp::Admit`] | `AdmitSlave::perform` |
//! | [`RegistryOp::MarkUnreachable`] | `MarkSlaveUnreachable::perform` |
//! | [`RegistryOp::MarkReachable`] | `MarkSlaveReachable::perform` |
//! | [`RegistryOp::MarkGone`] | `MarkSlaveGone::perform` |
//! | [`RegistryOp::Remove`] | `RemoveSlave::perform` |
//! | [`Registry::apply`] | `RegistryOperation::perform`, called by `RegistrarProcess::update` |
//!
//! This file is the *data* and its rules; the *writing* — queue, one write in
//! flight, what to do once it is durable, and aborting when someone else
//! wrote — is the registrar, `master/registrar.rs` (Mesos's
//! `RegistrarProcess::apply`, `update`, `_update` in src/master/registrar.cpp).
//!
//! Mesos's registry holds more (the master's own `MasterInfo`, maintenance
//! schedules, quotas, weights) and garbage-collects old unreachable and gone
//! entries (`Master::doRegistryGc`, `--registry_max_agent_age`, the `Prune`
//! operation). None of that bears on the failures this crate studies, so the
//! lists here only grow; runs are short enough for that not to matter.
//!
//! ## Why the leader reads it before anything else
//!
//! A new leader learns which agents exist from this document alone
//! (`Master::_recover`): the admitted ones are expected back, and an
//! `agent_reregister_timeout` starts for them. Without it, a leader elected
//! while agents were partitioned would never know they existed, never mark
//! them unreachable, and their tasks would be neither running nor reported
//! lost to anyone. Reconciliation answers depend on it too: asked about a
//! task it does not know, the leader answers `TASK_UNREACHABLE` if the named
//! agent is listed unreachable and `TASK_GONE_BY_OPERATOR` if it is gone (to
//! a partition-aware framework; `TASK_LOST` otherwise), `Master::reconcile`.

use crate::ids::{AgentId, ProcessId};
use crate::resources::Resources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The coordinator path of the registry document (one node, versioned).
/// Created by the first leader's first write (`ExpectedVersion::Absent`); a
/// leader that reads no node starts from the empty [`Registry`].
pub const REGISTRY_PATH: &str = "/mesos/registry";

/// The registry: every agent the cluster has ever admitted and not removed,
/// in exactly one of three lists.
///
/// An agent ID is in at most one of `admitted`, `unreachable` and `gone`; the
/// operations in [`Registry::apply`] move it between them and keep that true.
/// Held by the leading master (`Leader::registry`, with the version it was
/// read or written at) and replaced only after a write succeeds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// Agents the cluster admitted and has not removed.
    /// After a failover these are the agents the new leader waits for
    /// (`Leader::awaiting_reregistration`).
    pub admitted: BTreeMap<AgentId, AdmittedAgent>,
    /// Agents marked unreachable after missing health checks (they may come back).
    /// Also those that did not re-register within `agent_reregister_timeout`
    /// after a failover (Mesos: `Master::recoveredSlavesTimeout`). One that
    /// comes back is moved back by `MarkReachable`, and the master tells the
    /// frameworks about its tasks again.
    pub unreachable: BTreeMap<AgentId, UnreachableAgent>,
    /// Agents an operator marked gone for good (Mesos's `MARK_AGENT_GONE`);
    /// they are never admitted again under that ID. mesochaos models no
    /// operator API, so nothing fills this list today; the rules that read it
    /// (reconciliation's `TASK_GONE_BY_OPERATOR`, refusing a re-registration)
    /// are kept complete. A wiped machine's old ID is *removed* instead
    /// ([`RegistryOp::Remove`]), as Mesos does.
    pub gone: BTreeMap<AgentId, GoneAgent>,
}

/// What the registry keeps about an admitted agent (Mesos keeps its whole
/// `SlaveInfo`: hostname, port, resources, attributes, domain).
///
/// Recorded for the record (snapshots, debugging); the master decides
/// nothing from these fields — an agent's current process and resources come
/// from its re-registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmittedAgent {
    /// The agent's process when it was admitted (or last marked reachable).
    pub process: ProcessId,
    /// Its total resources then.
    pub resources: Resources,
}

/// What the registry keeps about an unreachable agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreachableAgent {
    /// The agent's process, carried over from its admitted entry.
    pub process: ProcessId,
    /// When it was marked unreachable (Mesos's `UnreachableSlave.timestamp`,
    /// which it also reports as a task's `unreachable_time`).
    pub since_ms: u64,
}

/// What the registry keeps about a gone agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoneAgent {
    /// The agent's process, carried over from its previous entry.
    pub process: ProcessId,
    /// When it was marked gone (Mesos's `GoneSlave.timestamp`).
    pub since_ms: u64,
}

/// One change to the registry (Mesos's registrar operations).
///
/// The master queues one per decision that must survive a failover, and acts
/// on the decision only once the write is durable (`AfterRegistry` in
/// master/state.rs): an agent is told it is registered only after its
/// admission is stored, and its tasks are reported unreachable only after
/// the agent is stored as unreachable. Acting first would let a failover
/// forget a decision the cluster has already seen the effects of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistryOp {
    /// A new agent registers: add it to `admitted` under the ID the leader
    /// just assigned. Refused if the ID is already admitted or gone.
    Admit {
        /// The new ID (`e<epoch>-S<n>`).
        agent_id: AgentId,
        /// The agent's process.
        process: ProcessId,
        /// Its total resources.
        resources: Resources,
    },
    /// Health checks failed (or a recovered agent never re-registered):
    /// move it from `admitted` to `unreachable`. Refused if not admitted.
    MarkUnreachable {
        /// The agent.
        agent_id: AgentId,
        /// When the leader decided.
        at_ms: u64,
    },
    /// An agent comes back: into `admitted`, out of `unreachable` if it was
    /// there. Also admits an agent the registry does not know (its admission
    /// was written by a leader whose write this one cannot see, or it was
    /// pruned — Mesos: "Allowing UNKNOWN agent to reregister"). Refused if
    /// the agent is gone.
    MarkReachable {
        /// The agent, under its existing ID.
        agent_id: AgentId,
        /// Its process now.
        process: ProcessId,
        /// Its total resources now.
        resources: Resources,
    },
    /// An operator declared the agent gone for good: move it to `gone` from
    /// whichever list holds it. Refused if it is in neither (including when
    /// it is gone already).
    MarkGone {
        /// The agent.
        agent_id: AgentId,
        /// When it was marked.
        at_ms: u64,
    },
    /// Mesos's `RemoveSlave`: the agent leaves the registry (a new agent
    /// registered at its address). Unlike a gone agent it is not remembered.
    /// Refused if the agent is in neither `admitted` nor `unreachable`.
    Remove {
        /// The agent to forget.
        agent_id: AgentId,
    },
}

impl Registry {
    /// Parses the coordinator node's data. An error makes the reading master
    /// exit rather than lead with a registry it cannot trust (Mesos's
    /// `RegistrarProcess::_recover` fails recovery the same way on a registry
    /// it cannot deserialize).
    pub fn decode(data: &str) -> Result<Registry, String> {
        serde_json::from_str(data).map_err(|e| format!("corrupt registry: {e}"))
    }

    /// The document written to [`REGISTRY_PATH`]. Deterministic (ordered
    /// maps), so the registrar can tell whether a write whose answer was lost
    /// landed by comparing what it reads back with what it meant to write
    /// (`Leader::on_registry_refreshed`, master/registrar.rs).
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("registry serializes")
    }

    /// Applies `op`; an operation that does not make sense (admitting an agent
    /// twice) is refused, as Mesos's registrar refuses it.
    ///
    /// A refused operation leaves `self` untouched, and the registrar then
    /// drops it (traced as `MessageIgnored`) without writing. The registrar
    /// applies to a *copy* and adopts the copy only once the coordinator has
    /// stored it, so the leader's in-memory registry never runs ahead of the
    /// durable one.
    ///
    /// Where the rules differ from Mesos's `perform` functions, the
    /// difference mostly moves a check: Mesos's master refuses a gone
    /// agent's re-registration in `Master::reregisterSlave` ("already marked
    /// gone") before it asks the registrar; here `MarkReachable` (and, for
    /// good measure, `Admit`) refuse a gone ID themselves.
    pub fn apply(&mut self, op: &RegistryOp) -> Result<(), String> {
        match op {
            RegistryOp::Admit {
                agent_id,
                process,
                resources,
            } => {
                // IDs embed the assigning leader's epoch, so a collision means
                // a bug, not bad luck (Mesos: IDs embed a random master UUID).
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
                // Unlike Mesos (which makes no change when the agent is
                // already admitted), an admitted entry is overwritten with
                // the agent's current process and resources. The master
                // sends this op only for agents not in `admitted`, so the
                // difference is never exercised.
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
            // Mesos's `RemoveSlave` looks only at the admitted list; an
            // unreachable entry is accepted here as well, so a wiped machine's
            // old ID is forgotten whichever list holds it.
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

    /// An agent's life through the lists: admitted once (a second admission
    /// is refused: it would mean two registrations under one ID), marked
    /// unreachable with its time, then gone — and in one list at a time
    /// throughout. Also checks that the document survives an encode/decode
    /// round trip, which is what every failover relies on.
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

    /// `Remove` (a wiped machine's old ID) forgets the agent entirely, unlike
    /// `MarkGone`: the registry is back to empty, and a second removal is
    /// refused. Catches a `Remove` that would leave a `gone` entry behind,
    /// which would make reconciliation answer `TASK_GONE_BY_OPERATOR` for an
    /// agent no operator ever touched.
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
