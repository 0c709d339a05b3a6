//! # The registrar: the leader's only durable state, one write at a time
//!
//! Mesos's `Registrar` applies operations to the registry (admit an agent,
//! mark it unreachable, remove it) one at a time, each a compare-and-set of
//! the whole registry (`Registrar::apply`, `Registrar::_apply`); a write that
//! fails because someone else wrote means another master leads, and this one
//! aborts. The queue, the write in flight, what happens once it is durable
//! (`AfterRegistry`) and the recovery of a write whose answer was lost.

use super::*;

impl Leader {
    pub(super) fn registry_apply(
        &mut self,
        env: &mut Env<'_>,
        op: RegistryOp,
        then: AfterRegistry,
        out: &mut Out,
    ) {
        {
            self.registry_queue.push_back(PendingRegistryOp {
                op,
                then,
                intended: None,
            });
        }
        self.pump_registry(env, out);
    }

    pub(super) fn pump_registry(&mut self, env: &mut Env<'_>, out: &mut Out) {
        loop {
            if self.registry_in_flight.is_some() || !env.coordinator.is_ready() {
                return;
            }
            let Some(mut pending) = self.registry_queue.pop_front() else {
                return;
            };
            let mut next = self.registry.clone();
            if let Err(why) = next.apply(&pending.op) {
                out.event(Event::MessageIgnored {
                    from: env.config.name.clone(),
                    kind: "RegistryOp".into(),
                    why,
                });
                if let AfterRegistry::AdmitAgent { process, .. } = &pending.then {
                    self.registering.remove(process);
                }
                continue;
            }
            let expected = match self.registry_version {
                Some(v) => ExpectedVersion::Version(v),
                None => ExpectedVersion::Absent,
            };
            let op = CoordOp::SetData {
                path: REGISTRY_PATH.to_string(),
                data: next.encode(),
                expected,
            };
            pending.intended = Some(next);
            self.registry_in_flight = Some(pending);
            env.request(op, MasterRequest::WriteRegistry, out);
            return;
        }
    }

    pub(super) fn on_registry_written(&mut self, env: &mut Env<'_>, version: u64, out: &mut Out) {
        let pending = self
            .registry_in_flight
            .take()
            .expect("a registry write completed with none in flight");
        self.registry = pending.intended.expect("set when sent");
        self.registry_version = Some(version);
        self.after_registry(env, pending.then, out);
        self.pump_registry(env, out);
    }

    /// After a reconnect, finds out whether the write whose answer was lost landed.
    pub(super) fn on_registry_refreshed(
        &mut self,
        env: &mut Env<'_>,
        data: String,
        version: u64,
        out: &mut Out,
    ) {
        self.registry_outcome_unknown = false;
        let Some(pending) = self.registry_in_flight.take() else {
            return;
        };
        let intended = pending.intended.clone().expect("set when sent");
        if data == intended.encode() {
            self.registry_in_flight = Some(pending);
            self.on_registry_written(env, version, out);
        } else if Some(version) == self.registry_version {
            // The write did not land: send it again.
            self.registry_queue.push_front(PendingRegistryOp {
                intended: None,
                ..pending
            });
            self.pump_registry(env, out);
        } else {
            env.exit = Some("registry changed under us: another master has written it");
        }
    }

    pub(super) fn after_registry(&mut self, env: &mut Env<'_>, then: AfterRegistry, out: &mut Out) {
        match then {
            AfterRegistry::AdmitAgent {
                agent_id,
                process,
                resources,
                boot_id,
            } => self.admit_agent(env, agent_id, process, resources, boot_id, out),
            AfterRegistry::ReadmitAgent(rereg) => self.accept_reregistration(env, *rereg, out),
            AfterRegistry::RemoveUnreachable { agent_id } => {
                self.remove_unreachable_agent(env, &agent_id, out)
            }
            AfterRegistry::RemoveAgent { agent_id } => self.remove_agent(env, &agent_id, true, out),
            AfterRegistry::Nothing => {}
        }
    }

    /// The coordinator session resumed after a lost connection: whatever the
    /// leader was waiting to read may have been lost with it, so ask again —
    /// the registry if recovery had not finished, or the outcome of the write
    /// whose answer was lost.
    pub(super) fn on_session_resumed(&mut self, env: &mut Env<'_>, out: &mut Out) {
        if !self.recovered {
            env.request(read_registry(), MasterRequest::ReadRegistry, out);
        } else if self.registry_outcome_unknown {
            env.request(read_registry(), MasterRequest::RefreshRegistry, out);
        }
    }
}
