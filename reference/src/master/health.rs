//! # Health checks: silent agents, unreachable agents, removed agents
//!
//! A leader cannot tell a dead agent from a partitioned one; it can only
//! notice that an agent stopped answering. Mesos's `SlaveObserver` (in
//! src/master/master.cpp: `ping`, `pong`, `timeout`) pings each agent every
//! `agent_ping_timeout` and, after `max_agent_ping_timeouts` pings without a
//! pong, has the master mark the agent unreachable (`Master::markUnreachable`
//! → `_markUnreachable` → `__removeSlave`): a registry write first, then the
//! agent's tasks are reported `TASK_UNREACHABLE` (`TASK_LOST` to a framework
//! that is not partition-aware). The same file handles a connection that
//! drops (`Master::exited` → `Master::disconnect`: the agent stays, its offers
//! are rescinded), the end of the failover window for agents that never came
//! back (`Master::recoveredSlavesTimeout`), and removal (`Master::removeSlave`).
//!
//! Why mark in the registry before telling anyone: if the leader reported
//! the tasks unreachable and then failed over before the write, the next
//! leader would re-admit the agent as if nothing happened, and the framework
//! would have relaunched tasks that are in fact still running.

use super::*;

impl Leader {
    /// The connection to a registered agent broke (Mesos `Master::exited` →
    /// `Master::disconnect(Slave*)` → `deactivate`): it gets no more offers and
    /// its outstanding offers are rescinded, but it stays registered and its
    /// tasks are not touched.
    ///
    /// A broken connection says little: the agent may be restarting (it will
    /// re-register with its tasks) or partitioned (health checks decide). Only
    /// missed pongs make it unreachable (`tick_ping`). Mesos also arms an
    /// `agent_reregister_timeout` per disconnected agent
    /// (`Master::agentReregisterTimeout`, MESOS-6286: an agent that answers pings
    /// but never re-registers); the reference relies on health checks alone.
    pub(super) fn on_agent_disconnected(&mut self, agent_id: AgentId, out: &mut Out) {
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return;
        };
        // A second notice for the same break.
        if !agent.connected {
            return;
        }
        agent.connected = false;
        out.event(Event::AgentDisconnected {
            agent_id: agent_id.clone(),
        });
        // A task launched on these offers could not reach the agent.
        self.rescind_offers_on(&agent_id, out);
    }

    /// A health check (Mesos `SlaveObserver::timeout` then `ping`): count a
    /// ping that got no pong since the last check, mark the agent unreachable
    /// after `max_agent_ping_timeouts` of them in a row, otherwise ping again
    /// and check again after `agent_ping_timeout`.
    ///
    /// Pings also keep the agent attached: an agent that hears none for
    /// `agent_ping_timeout × max_agent_ping_timeouts` concludes the master is
    /// gone and looks for the leader again (Mesos `Slave::pingTimeout`).
    pub(super) fn tick_ping(&mut self, env: &mut Env<'_>, agent_id: AgentId, out: &mut Out) {
        let timing = env.config.timing.clone();
        let epoch = self.epoch;
        // The agent was removed or marked unreachable meanwhile: the timer is
        // stale.
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return;
        };
        // A pong since the last ping (`Message::Pong` in `mod.rs` sets the
        // flag): the count starts over. Otherwise one more ping went unanswered.
        if agent.pong_received {
            agent.missed_pings = 0;
        } else {
            agent.missed_pings += 1;
        }
        // Too many in a row: mark it unreachable (a registry write; its tasks are
        // reported once it lands). Pinging stops here. Mesos keeps pinging so
        // that a pong can cancel a transition still waiting for its rate limiter;
        // here the write is queued at once, so there is nothing left to cancel.
        // The agent, hearing no pings, will look for the leader and re-register.
        if agent.missed_pings >= timing.max_agent_ping_timeouts {
            self.mark_unreachable(env, agent_id, out);
            return;
        }
        // Ping, and expect a pong before the next check.
        agent.pong_received = false;
        let process = agent.process.clone();
        out.send(&process, Message::Ping { epoch });
        out.set_timer(
            MasterTimer::Ping(agent_id),
            env.ctx.now_ms + timing.agent_ping_timeout_ms,
        );
    }

    /// Starts marking an agent unreachable: the registry write first, then,
    /// once it is durable, [`Leader::remove_unreachable_agent`] (Mesos
    /// `Master::markUnreachable`). Until then the agent is still registered,
    /// and its re-registration is ignored (`on_reregister_agent`).
    pub(super) fn mark_unreachable(&mut self, env: &mut Env<'_>, agent_id: AgentId, out: &mut Out) {
        // `at_ms` is stored with the mark: when the agent became unreachable
        // (Mesos reports it to frameworks as the tasks' `unreachable_time`).
        let op = RegistryOp::MarkUnreachable {
            agent_id: agent_id.clone(),
            at_ms: env.ctx.now_ms,
        };
        self.registry_apply(env, op, AfterRegistry::RemoveUnreachable { agent_id }, out);
    }

    /// The registry says the agent is unreachable: take it out of the resource
    /// pool and tell each framework its tasks there are lost (or unreachable)
    /// (Mesos `Master::_markUnreachable` → `__removeSlave`).
    ///
    /// For an agent recovered from the registry that never re-registered, the
    /// leader knows no tasks: only the event is traced (Mesos's
    /// `_markUnreachable` then only sends `LostSlaveMessage`).
    pub(super) fn remove_unreachable_agent(
        &mut self,
        env: &mut Env<'_>,
        agent_id: &AgentId,
        out: &mut Out,
    ) {
        out.event(Event::AgentUnreachable {
            agent_id: agent_id.clone(),
        });
        self.remove_agent(env, agent_id, false, out);
    }

    /// Removes an agent from the soft state and reports its tasks. `removed`:
    /// the agent is removed for good (`Master::removeSlave`), not merely
    /// unreachable (`Master::markUnreachable`).
    ///
    /// Its offers are rescinded, its health checks stop, and each of its tasks
    /// leaves the framework's task table with an update from the master to the
    /// framework. An unreachable agent's tasks are kept aside
    /// (`FrameworkEntry::unreachable_tasks`) because the agent may come back
    /// with them; a removed agent's tasks become completed.
    pub(super) fn remove_agent(
        &mut self,
        _env: &mut Env<'_>,
        agent_id: &AgentId,
        removed: bool,
        out: &mut Out,
    ) {
        // Before the agent leaves the table, so that its offers' resources can
        // be returned and their frameworks told.
        self.rescind_offers_on(agent_id, out);
        self.agents.remove(agent_id);
        // Health checks stop: a live agent that is no longer pinged concludes the
        // master is gone (`Slave::pingTimeout` in Mesos) and re-registers, which
        // is how an unreachable agent finds its way back.
        out.cancel_timer(MasterTimer::Ping(agent_id.clone()));
        let mut updates = Vec::new();
        for (fid, framework) in self.frameworks.iter_mut() {
            let on_agent: Vec<TaskId> = framework
                .tasks
                .iter()
                .filter(|(_, t)| &t.agent_id == agent_id)
                .map(|(tid, _)| tid.clone())
                .collect();
            for tid in on_agent {
                let mut task = framework.tasks.remove(&tid).expect("listed above");
                // Mesos `Master::__removeSlave`: an unreachable agent's tasks
                // become `TASK_UNREACHABLE` (`TASK_LOST` for a framework that
                // is not partition-aware) and are kept among the framework's
                // unreachable tasks. `Master::_removeSlave`: a removed agent's
                // tasks are `TASK_LOST` for every framework, and completed.
                // Every task is reported, a terminal one whose update is not
                // acknowledged yet included (MESOS-8405,
                // `PartitionTest.AgentWithTerminalTaskPartitioned`); such a
                // task keeps its terminal state (`Master::updateTask` never
                // overwrites one), and the framework's stream still carries
                // its terminal update when the agent comes back.
                let state = if framework.info.partition_aware && !removed {
                    TaskState::Unreachable
                } else {
                    TaskState::Lost
                };
                let kept = if task.state.is_terminal() {
                    task.state
                } else {
                    state
                };
                // Removed for good: the task is history. Its resources need no
                // releasing: the whole agent entry is gone.
                if removed {
                    framework.add_completed(
                        tid.clone(),
                        CompletedTask {
                            agent_id: agent_id.clone(),
                            state: kept,
                            reason: Some(Reason::AgentRemoved),
                        },
                    );
                } else {
                    // Unreachable: kept aside in the state the framework was told, so
                    // that its ID stays taken (`validateUniqueTaskID`) and a removal
                    // of the framework completes it. No update of it was forwarded by
                    // this master, so nothing is waiting to be acknowledged.
                    task.state = kept;
                    task.status_update_state = Some(kept);
                    task.latest_uuid = None;
                    framework.unreachable_tasks.insert(tid.clone(), task);
                }
                // The update itself always carries the new state (`TASK_UNREACHABLE`
                // or `TASK_LOST`), a terminal task's included, from the master,
                // reason `AGENT_REMOVED`, with no uuid: not acknowledged, and
                // recoverable by reconciliation if the framework misses it.
                updates.push(master_update(
                    fid,
                    &tid,
                    Some(agent_id.clone()),
                    state,
                    Reason::AgentRemoved,
                    if removed {
                        "agent removed: a new agent registered at the same address"
                    } else {
                        "agent is unreachable"
                    },
                ));
            }
        }
        // Forwarded to connected frameworks only; the others learn through
        // reconciliation once they re-register.
        for update in updates {
            self.send_to_framework(update, out);
        }
    }

    /// The re-registration window after a failover closed (Mesos
    /// `Master::recoveredSlavesTimeout`): every agent recovered from the
    /// registry that has not re-registered is marked unreachable, so that its
    /// tasks (which this leader never learned) stop being in limbo: frameworks
    /// asking about them get `TASK_UNREACHABLE` (or `TASK_LOST`) instead of
    /// silence (`reconcile_explicit`, `reconciliation.rs`).
    ///
    /// Mesos refuses to do this for too many agents at once
    /// (`--recovery_agent_removal_limit`, the master exits instead) and
    /// rate-limits the removals; neither is modelled.
    pub(super) fn tick_reregister_timeout(&mut self, env: &mut Env<'_>, out: &mut Out) {
        // Emptied at once: from now on reconciliation answers for tasks on these
        // agents instead of staying silent (case 2 of `reconcile_explicit`).
        let late: Vec<AgentId> = std::mem::take(&mut self.awaiting_reregistration)
            .into_iter()
            .collect();
        // Each one goes through the registrar like a failed health check: the
        // mark is written first, and a re-registration that races with it is
        // ignored until it lands (`on_reregister_agent`), then re-admits the agent.
        for agent_id in late {
            let op = RegistryOp::MarkUnreachable {
                agent_id: agent_id.clone(),
                at_ms: env.ctx.now_ms,
            };
            self.registry_apply(env, op, AfterRegistry::RemoveUnreachable { agent_id }, out);
        }
    }
}
