//! # The registrar: the leader's only durable state, one write at a time
//!
//! Mesos's `Registrar` (src/master/registrar.cpp) applies operations to the
//! registry — admit an agent, mark it unreachable or reachable, remove it —
//! each as a compare-and-set of the whole registry document
//! (`RegistrarProcess::apply` → `_apply` queues; `update` applies the queued
//! operations to a copy and stores it; `_update` adopts the copy once the
//! store succeeded). A store that fails because someone else wrote means
//! another master leads, and this one aborts (`RegistrarProcess::abort`).
//!
//! Here, in the same spirit:
//!
//! - operations wait in `Leader::registry_queue` and are written one at a
//!   time (`registry_in_flight`); Mesos batches every queued operation into
//!   one store, which only changes throughput;
//! - each write expects the version the leader last read or wrote, so any
//!   other master's write in between makes ours fail and this master exit
//!   (`Master::on_coordinator_reply`, `election.rs`);
//! - the leader's in-memory [`Registry`] changes only once a write is durable,
//!   and only then does the decision take effect ([`AfterRegistry`],
//!   `state.rs`): an agent hears `AgentRegistered` only after its admission is
//!   stored, and frameworks hear that its tasks are lost only after it is
//!   stored as unreachable. Acting first would let a failover forget a
//!   decision whose effects the cluster has already seen (Mesos's continuations
//!   `Master::__registerSlave`, `Master::__reregisterSlave`,
//!   `Master::_markUnreachable`, `Master::_removeSlave` run after the store);
//! - a write whose answer was lost with the connection is neither retried
//!   blindly nor assumed: the leader re-reads the registry and compares
//!   ([`Leader::on_registry_refreshed`]).
//!
//! One difference: a new leader writes nothing on recovery. Mesos's registrar
//! stores the registry at once (`RegistrarProcess::_recover` → `update`), so
//! the version moves and a deposed leader's next write fails. Here the deposed
//! leader is fenced by its session instead: it was deposed because its
//! session expired, and the coordinator refuses every request made on an
//! expired session.

use super::*;

impl Leader {
    /// Queues a registry operation, with what to do once it is durable, and
    /// starts writing if nothing is in flight (Mesos `Registrar::apply`).
    ///
    /// Callers never change the soft state for the decision themselves: the
    /// change happens in [`Leader::after_registry`], once the write has landed.
    pub(super) fn registry_apply(
        &mut self,
        env: &mut Env<'_>,
        op: RegistryOp,
        then: AfterRegistry,
        out: &mut Out,
    ) {
        {
            // Its registry image is computed when it is sent, not now: the writes
            // queued ahead of it change the base it applies to.
            self.registry_queue.push_back(PendingRegistryOp {
                op,
                then,
                intended: None,
            });
        }
        self.pump_registry(env, out);
    }

    /// Sends the next queued write, if none is in flight and the coordinator
    /// session is ready (Mesos `RegistrarProcess::update`).
    ///
    /// Called whenever the queue may move: an operation was queued
    /// (`registry_apply`), a write landed (`on_registry_written`), a lost write
    /// must be sent again (`on_registry_refreshed`), an agent was admitted
    /// (`admit_agent`; there `on_registry_written` pumps again right after, so
    /// that call changes nothing).
    pub(super) fn pump_registry(&mut self, env: &mut Env<'_>, out: &mut Out) {
        loop {
            // One write at a time: each must expect the version the previous one
            // produced. Without a ready session the write could not be sent; it waits
            // in the queue.
            if self.registry_in_flight.is_some() || !env.coordinator.is_ready() {
                return;
            }
            let Some(mut pending) = self.registry_queue.pop_front() else {
                return;
            };
            // Apply to a copy: the leader's registry stays the durable one until
            // the coordinator confirms the write.
            let mut next = self.registry.clone();
            if let Err(why) = next.apply(&pending.op) {
                // Refused (admitting an ID twice, marking unreachable an agent that
                // is no longer admitted, ...): nothing is written and nothing follows
                // (Mesos: the operation's future is `false`). Traced, then on to the
                // next operation.
                out.event(Event::MessageIgnored {
                    from: env.config.name.clone(),
                    kind: "RegistryOp".into(),
                    why,
                });
                // A refused admission must not leave its agent marked as
                // registering, or every retry of its registration would be
                // ignored as "already in progress" (Mesos's `__registerSlave`
                // erases `slaves.registering` likewise).
                if let AfterRegistry::AdmitAgent { process, .. } = &pending.then {
                    self.registering.remove(process);
                }
                continue;
            }
            // The compare-and-set condition: exactly the version we last saw, or
            // no node at all for the first write of the cluster's first leader.
            let expected = match self.registry_version {
                Some(v) => ExpectedVersion::Version(v),
                None => ExpectedVersion::Absent,
            };
            let op = CoordOp::SetData {
                path: REGISTRY_PATH.to_string(),
                data: next.encode(),
                expected,
            };
            // Kept so that the adopted registry is exactly what was written, and
            // so that a lost answer can be checked against what is read back.
            pending.intended = Some(next);
            self.registry_in_flight = Some(pending);
            // The session was found ready above, so the request is sent.
            env.request(op, MasterRequest::WriteRegistry, out);
            return;
        }
    }

    /// The write in flight landed, at `version`: adopt the registry it wrote,
    /// run what was waiting for it to be durable, and send the next write
    /// (Mesos `RegistrarProcess::_update`, then the operation's continuation).
    pub(super) fn on_registry_written(&mut self, env: &mut Env<'_>, version: u64, out: &mut Out) {
        let pending = self
            .registry_in_flight
            .take()
            .expect("a registry write completed with none in flight");
        // Only now does the leader's registry change: it never runs ahead of
        // the durable one.
        self.registry = pending.intended.expect("set when sent");
        self.registry_version = Some(version);
        // The decision takes effect (admit, re-admit, remove): see
        // `after_registry`.
        self.after_registry(env, pending.then, out);
        self.pump_registry(env, out);
    }

    /// After a reconnect, finds out whether the write whose answer was lost
    /// landed, from the registry read back (`data` at `version`).
    ///
    /// Three cases, told apart because a registry always encodes to the same
    /// text ([`Registry::encode`]):
    ///
    /// - what was read is what we meant to write: it landed; carry on as if its
    ///   answer had arrived;
    /// - the version is still the one our write expected: it did not land;
    ///   send it again, first in line so that the order of operations is kept;
    /// - anything else: another master wrote the registry, so this one must
    ///   exit (set through [`Env::exit`]).
    pub(super) fn on_registry_refreshed(
        &mut self,
        env: &mut Env<'_>,
        data: String,
        version: u64,
        out: &mut Out,
    ) {
        self.registry_outcome_unknown = false;
        // Nothing was in flight: nothing to find out.
        let Some(pending) = self.registry_in_flight.take() else {
            return;
        };
        let intended = pending.intended.clone().expect("set when sent");
        // It landed: the answer was lost, not the write.
        if data == intended.encode() {
            self.registry_in_flight = Some(pending);
            self.on_registry_written(env, version, out);
        } else if Some(version) == self.registry_version {
            // The write did not land: send it again, ahead of anything queued
            // since, with its registry image recomputed when it is sent.
            self.registry_queue.push_front(PendingRegistryOp {
                intended: None,
                ..pending
            });
            self.pump_registry(env, out);
        } else {
            // The registry changed, and not into what we wrote: another master
            // has written it, so it leads or has led since our last read.
            env.exit = Some("registry changed under us: another master has written it");
        }
    }

    /// Runs what a registry operation was waiting for, now that it is durable.
    /// Each case is the second half of a handler in `agents.rs`.
    pub(super) fn after_registry(&mut self, env: &mut Env<'_>, then: AfterRegistry, out: &mut Out) {
        match then {
            // `RegisterAgent`: the new agent joins the soft state and hears its ID
            // (Mesos `Master::__registerSlave`).
            AfterRegistry::AdmitAgent {
                agent_id,
                process,
                resources,
                boot_id,
            } => self.admit_agent(env, agent_id, process, resources, boot_id, out),
            // `ReregisterAgent` of an agent that was unreachable or unknown to the
            // registry: its report is merged now (Mesos `Master::__reregisterSlave`).
            AfterRegistry::ReadmitAgent(rereg) => self.accept_reregistration(env, *rereg, out),
            // Marked unreachable (health checks, or no re-registration after a
            // failover): out of the soft state, its tasks reported (Mesos
            // `Master::_markUnreachable` → `Master::__removeSlave`).
            AfterRegistry::RemoveUnreachable { agent_id } => {
                self.remove_unreachable_agent(env, &agent_id, out)
            }
            // Removed for good (a new agent at its address): out of the soft state,
            // its tasks reported lost (Mesos `Master::_removeSlave`).
            AfterRegistry::RemoveAgent { agent_id } => self.remove_agent(env, &agent_id, true, out),
            // The soft state already reflects the change. (No handler queues an
            // operation with this continuation today.)
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
