//! # The registrar: the leader's only durable state, one write at a time
//!
//! Mesos's `Registrar` applies operations to the registry (admit an agent,
//! mark it unreachable, remove it) one at a time, each a compare-and-set of
//! the whole registry (`Registrar::apply`, `Registrar::_apply`); a write that
//! fails because someone else wrote means another master leads, and this one
//! aborts. The queue, the write in flight, what happens once it is durable
//! (`AfterRegistry`) and the recovery of a write whose answer was lost.

use super::*;

impl Master {
    pub(super) fn registry_apply(
        &mut self,
        ctx: &Context,
        op: RegistryOp,
        then: AfterRegistry,
        out: &mut Out,
    ) {
        if let Phase::Leading(leader) = &mut self.phase {
            leader.registry_queue.push_back(PendingRegistryOp {
                op,
                then,
                intended: None,
            });
        }
        self.pump_registry(ctx, out);
    }

    pub(super) fn pump_registry(&mut self, ctx: &Context, out: &mut Out) {
        loop {
            let Phase::Leading(leader) = &mut self.phase else {
                return;
            };
            if leader.registry_in_flight.is_some() || !self.coordinator.is_ready() {
                return;
            }
            let Some(mut pending) = leader.registry_queue.pop_front() else {
                return;
            };
            let mut next = leader.registry.clone();
            if let Err(why) = next.apply(&pending.op) {
                out.event(Event::MessageIgnored {
                    from: self.config.name.clone(),
                    kind: "RegistryOp".into(),
                    why,
                });
                if let AfterRegistry::AdmitAgent { process, .. } = &pending.then {
                    leader.registering.remove(process);
                }
                continue;
            }
            let expected = match leader.registry_version {
                Some(v) => ExpectedVersion::Version(v),
                None => ExpectedVersion::Absent,
            };
            let op = CoordOp::SetData {
                path: REGISTRY_PATH.to_string(),
                data: next.encode(),
                expected,
            };
            pending.intended = Some(next);
            leader.registry_in_flight = Some(pending);
            self.coordinator_request(ctx, op, MasterRequest::WriteRegistry, out);
            return;
        }
    }

    pub(super) fn on_registry_written(&mut self, ctx: &Context, version: u64, out: &mut Out) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let pending = leader
            .registry_in_flight
            .take()
            .expect("a registry write completed with none in flight");
        leader.registry = pending.intended.expect("set when sent");
        leader.registry_version = Some(version);
        self.after_registry(ctx, pending.then, out);
        self.pump_registry(ctx, out);
    }

    /// After a reconnect, finds out whether the write whose answer was lost landed.
    pub(super) fn on_registry_refreshed(
        &mut self,
        ctx: &Context,
        data: String,
        version: u64,
        out: &mut Out,
    ) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        leader.registry_outcome_unknown = false;
        let Some(pending) = leader.registry_in_flight.take() else {
            return;
        };
        let intended = pending.intended.clone().expect("set when sent");
        if data == intended.encode() {
            leader.registry_in_flight = Some(pending);
            self.on_registry_written(ctx, version, out);
        } else if Some(version) == leader.registry_version {
            // The write did not land: send it again.
            leader.registry_queue.push_front(PendingRegistryOp {
                intended: None,
                ..pending
            });
            self.pump_registry(ctx, out);
        } else {
            self.exit(
                "registry changed under us: another master has written it",
                out,
            );
        }
    }

    pub(super) fn after_registry(&mut self, ctx: &Context, then: AfterRegistry, out: &mut Out) {
        match then {
            AfterRegistry::AdmitAgent {
                agent_id,
                process,
                resources,
                boot_id,
            } => self.admit_agent(ctx, agent_id, process, resources, boot_id, out),
            AfterRegistry::ReadmitAgent(rereg) => self.accept_reregistration(ctx, *rereg, out),
            AfterRegistry::RemoveUnreachable { agent_id } => {
                self.remove_unreachable_agent(ctx, &agent_id, out)
            }
            AfterRegistry::RemoveAgent { agent_id } => self.remove_agent(ctx, &agent_id, true, out),
            AfterRegistry::Nothing => {}
        }
    }
}
