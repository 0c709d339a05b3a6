//! # Agents: registration, re-registration, health checks, removal
//!
//! Mesos `Master::registerSlave`, `Master::reregisterSlave` (→
//! `__reregisterSlave`, `reconcileKnownSlave`), the `SlaveObserver`'s pings
//! and `Master::markUnreachable`, `Master::recoveredSlavesTimeout`,
//! `Master::removeSlave`: how the leader admits agents, rebuilds its soft
//! state from the tasks an agent reports after a failover, notices silent
//! agents and reports their tasks lost or unreachable.

use super::*;
use crate::bugs::master as bugs;

impl Leader {
    pub(super) fn on_register_agent(
        &mut self,
        env: &mut Env<'_>,
        from: ProcessId,
        resources: AgentResources,
        boot_id: String,
        out: &mut Out,
    ) {
        if self.registering.contains(&from) {
            return; // a retry while the registry write is in flight
        }
        if let Some(existing) = self.agent_by_process(&from) {
            let entry = &self.agents[&existing];
            if entry.boot_id == boot_id && entry.connected {
                // The agent did not get our answer: say it again.
                out.send(
                    &from,
                    Message::AgentRegistered {
                        epoch: self.epoch,
                        agent_id: existing,
                    },
                );
                return;
            }
        }
        // A machine that registers afresh while an older agent ID of it is
        // still registered (its disk was wiped, so it lost that ID): Mesos's
        // `Master::registerSlave` removes the old agent first — "a new agent
        // registered at the same address" — and `_removeSlave` reports its
        // tasks `TASK_LOST` (`REASON_SLAVE_REMOVED`) to every framework,
        // partition-aware or not, once the `RemoveSlave` registry write is
        // durable; the new agent's admission is written after it. (Mesos
        // does this once the old agent is disconnected; the reference also
        // recognizes a new boot on a connection not yet seen to fail.) An
        // older ID this leader knows only from the registry (a recovered
        // agent) is left to `agent_reregister_timeout`, as in Mesos.
        if let Some(old) = self.agent_by_process(&from) {
            self.registry_queue.push_back(PendingRegistryOp {
                op: RegistryOp::Remove {
                    agent_id: old.clone(),
                },
                then: AfterRegistry::RemoveAgent { agent_id: old },
                intended: None,
            });
        }
        let agent_id = AgentId::new(epoch_id(self.epoch, 'S', self.next_agent));
        self.next_agent += 1;
        self.registering.insert(from.clone());
        let op = RegistryOp::Admit {
            agent_id: agent_id.clone(),
            process: from.clone(),
            resources: resources.total(),
        };
        let then = AfterRegistry::AdmitAgent {
            agent_id,
            process: from,
            resources,
            boot_id,
        };
        self.registry_apply(env, op, then, out);
    }

    pub(super) fn admit_agent(
        &mut self,
        env: &mut Env<'_>,
        agent_id: AgentId,
        process: ProcessId,
        resources: AgentResources,
        boot_id: String,
        out: &mut Out,
    ) {
        self.registering.remove(&process);
        self.agents.insert(
            agent_id.clone(),
            AgentEntry::new(process.clone(), &resources, boot_id),
        );
        out.send(
            &process,
            Message::AgentRegistered {
                epoch: self.epoch,
                agent_id: agent_id.clone(),
            },
        );
        out.event(Event::AgentAdmitted {
            agent_id: agent_id.clone(),
            agent: process,
        });
        out.set_timer(MasterTimer::Ping(agent_id), env.ctx.now_ms);
        self.pump_registry(env, out);
    }

    pub(super) fn on_reregister_agent(
        &mut self,
        env: &mut Env<'_>,
        rereg: Reregistration,
        out: &mut Out,
    ) {
        let policy = env.config.removed_agent_policy;
        let id = &rereg.agent_id;
        if self.registry.gone.contains_key(id) {
            out.send(
                &rereg.process,
                Message::ShutdownAgent {
                    epoch: self.epoch,
                    message: format!("agent {id} is gone"),
                },
            );
            return;
        }
        // Mesos `Master::reregisterSlave`: while this leader is marking the
        // agent unreachable (the registry write is queued or in flight) its
        // re-registration is ignored; the agent retries and is re-admitted
        // once the mark has landed — never re-admitted and then removed.
        let marking = self
            .registry_in_flight
            .iter()
            .chain(self.registry_queue.iter())
            .any(
                |p| matches!(&p.op, RegistryOp::MarkUnreachable { agent_id, .. } if agent_id == id),
            );
        if marking {
            out.event(Event::MessageIgnored {
                from: rereg.process.clone(),
                kind: "ReregisterAgent".into(),
                why: format!("agent {id} is being marked unreachable"),
            });
            return;
        }
        if self.registry.unreachable.contains_key(id) {
            if policy == RemovedAgentPolicy::Shutdown {
                // The seed's early Mesos: a removed agent is shut down when it
                // comes back; it will register afresh under a new ID.
                out.send(
                    &rereg.process,
                    Message::ShutdownAgent {
                        epoch: self.epoch,
                        message: format!("agent {id} was removed"),
                    },
                );
                return;
            }
            if self.registering.insert(rereg.process.clone()) {
                let op = RegistryOp::MarkReachable {
                    agent_id: id.clone(),
                    process: rereg.process.clone(),
                    resources: rereg.resources.total(),
                };
                let then = AfterRegistry::ReadmitAgent(Box::new(Reregistration {
                    was_unreachable: true,
                    ..rereg
                }));
                self.registry_apply(env, op, then, out);
            }
            return;
        }
        if self.registry.admitted.contains_key(id) {
            self.accept_reregistration(env, rereg, out);
            return;
        }
        // Unknown to the registry (it was written by a leader whose write we
        // cannot see, or the agent comes from elsewhere): admit it under its ID.
        if self.registering.insert(rereg.process.clone()) {
            let op = RegistryOp::MarkReachable {
                agent_id: id.clone(),
                process: rereg.process.clone(),
                resources: rereg.resources.total(),
            };
            // Its tasks are announced again, as an unreachable agent's are
            // ("Unknown agent reregistered", `Master::__reregisterSlave`).
            let then = AfterRegistry::ReadmitAgent(Box::new(Reregistration {
                was_unreachable: true,
                ..rereg
            }));
            self.registry_apply(env, op, then, out);
        }
    }

    /// Merges a re-registering agent's report into the soft state: the agent,
    /// the frameworks of its tasks, and the tasks themselves.
    pub(super) fn accept_reregistration(
        &mut self,
        env: &mut Env<'_>,
        rereg: Reregistration,
        out: &mut Out,
    ) {
        // Outstanding offers for an agent that re-registers are taken back: its
        // resources are rebuilt from its report.
        self.rescind_offers_on(&rereg.agent_id, out);
        self.registering.remove(&rereg.process);
        let epoch = self.epoch;
        let id = rereg.agent_id.clone();
        let known = self.agents.contains_key(&id);
        self.awaiting_reregistration.remove(&id);

        // Frameworks first: a task's framework must exist before its tasks. A
        // framework learned only from an agent stays inactive (no scheduler)
        // until its scheduler re-registers.
        for info in &rereg.frameworks {
            let fid = info
                .id
                .clone()
                .expect("agents report registered frameworks");
            if self.completed_frameworks.contains_key(&fid) {
                continue; // removed while this agent was away: shut down below
            }
            // Planted-bug hook (`bugs/master.rs`).
            if bugs::forget_tasks_before_framework(env.config.bug, &self.frameworks, &fid) {
                continue;
            }
            self.frameworks
                .entry(fid)
                .or_insert_with(|| FrameworkEntry::new(info.clone(), None, false));
        }

        // The agent's report is the truth about its resources — reservations
        // and volumes included; what its tasks use is recomputed below. The
        // kills it may have missed are remembered across a re-registration
        // with the same leader (they are soft state of this leader).
        let mut entry = AgentEntry::new(
            rereg.process.clone(),
            &rereg.resources,
            rereg.boot_id.clone(),
        );
        if let Some(old) = self.agents.get(&id) {
            entry.killed_tasks = old.killed_tasks.clone();
        }

        // Tasks the agent reports.
        let reported: BTreeSet<(FrameworkId, TaskId)> = rereg
            .tasks
            .iter()
            .map(|t| (t.framework_id.clone(), t.info.task_id.clone()))
            .collect();
        let mut came_back: Vec<StatusUpdate> = Vec::new();
        for task in &rereg.tasks {
            let Some(framework) = self.frameworks.get_mut(&task.framework_id) else {
                continue;
            };
            // An agent already registered with this leader (a retried or
            // duplicated re-registration) is reconciled, as Mesos's
            // `reconcileKnownSlave` does, not re-learned: the master's own
            // entry for a task is at least as fresh as the report (updates
            // reach it through the agent's stream), so it is kept — with the
            // update it waits to see acknowledged; and a terminal task it no
            // longer holds was removed when the framework acknowledged its
            // terminal update, and must not come back (the agent has dropped
            // its stream, so nothing would remove it again).
            if known
                && (task.state.is_terminal() || framework.tasks.contains_key(&task.info.task_id))
            {
                continue;
            }
            // A task the master had declared terminal itself may reappear from
            // an agent that never acted on it: it is not kept as both
            // (`Master::__reregisterSlave`, MESOS-9940).
            framework.completed_tasks.shift_remove(&task.info.task_id);
            framework.tasks.insert(
                task.info.task_id.clone(),
                TaskEntry {
                    agent_id: id.clone(),
                    info: task.info.clone(),
                    state: task.state,
                    // As the agent reports it: so a new leader answers
                    // reconciliation with the update still being delivered.
                    status_update_state: task.status_update_state,
                    latest_uuid: None,
                },
            );
            // An agent this leader had marked unreachable (or never knew)
            // brings its tasks back: each framework hears each task's state
            // with reason `AGENT_REREGISTERED`, from the master
            // (`Master::__reregisterSlave`). Agents recovered from the
            // registry after a failover are not "coming back": nobody was
            // told their tasks were lost.
            if rereg.was_unreachable {
                came_back.push(master_update(
                    &task.framework_id,
                    &task.info.task_id,
                    Some(id.clone()),
                    task.state,
                    Reason::AgentReregistered,
                    "agent re-registered",
                ));
            }
        }
        // Every task this agent had when it became unreachable is reachable
        // again: reported ones were re-added above, the rest are forgotten
        // (`Master::__reregisterSlave` erases `slaves.unreachableTasks`).
        for framework in self.frameworks.values_mut() {
            framework.unreachable_tasks.retain(|_, t| t.agent_id != id);
        }
        // Tasks the master believes are on this agent but the agent does not
        // report (a `RunTask` lost on the way, or the agent died before
        // checkpointing it). The master does not decide their fate itself: it
        // asks the agent, which answers each task it does not know with a
        // reliable terminal update (`Master::reconcileKnownSlave` sends them in
        // `SlaveReregisteredMessage`; `Slave::reregistered` answers). Until
        // then the tasks stay, holding their resources.
        let mut reconcile: Vec<(FrameworkInfo, Vec<TaskId>)> = Vec::new();
        if known {
            for (fid, framework) in &self.frameworks {
                let missing: Vec<TaskId> = framework
                    .tasks
                    .iter()
                    .filter(|(tid, t)| {
                        t.agent_id == id && !reported.contains(&(fid.clone(), (*tid).clone()))
                    })
                    .map(|(tid, _)| tid.clone())
                    .collect();
                if !missing.is_empty() {
                    reconcile.push((framework.info.clone(), missing));
                }
            }
        }
        for framework in self.frameworks.values() {
            for (task_id, task) in &framework.tasks {
                if task.agent_id == id && task.state.is_active() {
                    entry.occupy(task_id, &task.info);
                }
            }
        }
        // Kills the agent may have missed while it was disconnected: sent
        // again for each such task it still reports non-terminal
        // (`Master::reconcileKnownSlave`).
        let kills: Vec<(FrameworkId, TaskId)> = rereg
            .tasks
            .iter()
            .filter(|t| !t.state.is_terminal())
            .map(|t| (t.framework_id.clone(), t.info.task_id.clone()))
            .filter(|key| entry.killed_tasks.contains(key))
            .collect();
        // Frameworks this leader removed while the agent was away: the agent
        // must shut them down. A known agent is told about those it runs tasks
        // of (`Master::reconcileKnownSlave`), a re-admitted one about every
        // framework it reports (`Master::__reregisterSlave`).
        let removed: BTreeSet<FrameworkId> = if known {
            rereg
                .tasks
                .iter()
                .map(|t| t.framework_id.clone())
                .filter(|fid| self.completed_frameworks.contains_key(fid))
                .collect()
        } else {
            rereg
                .frameworks
                .iter()
                .filter_map(|f| f.id.clone())
                .filter(|fid| self.completed_frameworks.contains_key(fid))
                .collect()
        };
        let task_count = rereg.tasks.len();
        self.agents.insert(id.clone(), entry);
        // Mesos forwards the "came back" updates first, then answers the agent.
        for update in came_back {
            self.send_to_framework(update, out);
        }
        // The agent must hear `AgentReregistered` *before* any kill or
        // shutdown: an agent ignores a leader's commands while it is not
        // registered with it, so a shutdown sent first would be lost and the
        // removed framework's tasks would run forever.
        out.send(
            &rereg.process,
            Message::AgentReregistered {
                epoch,
                agent_id: id.clone(),
            },
        );
        for (framework, task_ids) in reconcile {
            out.send(
                &rereg.process,
                Message::AgentReconcileTasks {
                    epoch,
                    framework: Box::new(framework),
                    task_ids,
                },
            );
        }
        for (framework_id, task_id) in kills {
            out.send(
                &rereg.process,
                Message::KillTask {
                    epoch,
                    framework_id,
                    task_id,
                },
            );
        }
        for framework_id in removed {
            out.send(
                &rereg.process,
                Message::ShutdownFramework {
                    epoch,
                    framework_id,
                },
            );
        }
        out.event(Event::AgentReregistered {
            agent_id: id.clone(),
            agent: rereg.process.clone(),
            tasks: task_count,
        });
        out.set_timer(MasterTimer::Ping(id.clone()), env.ctx.now_ms);
    }

    pub(super) fn on_agent_disconnected(&mut self, agent_id: AgentId, out: &mut Out) {
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return;
        };
        if !agent.connected {
            return;
        }
        agent.connected = false;
        out.event(Event::AgentDisconnected {
            agent_id: agent_id.clone(),
        });
        self.rescind_offers_on(&agent_id, out);
    }

    pub(super) fn tick_ping(&mut self, env: &mut Env<'_>, agent_id: AgentId, out: &mut Out) {
        let timing = env.config.timing.clone();
        let epoch = self.epoch;
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return;
        };
        if agent.pong_received {
            agent.missed_pings = 0;
        } else {
            agent.missed_pings += 1;
        }
        if agent.missed_pings >= timing.max_agent_ping_timeouts {
            self.mark_unreachable(env, agent_id, out);
            return;
        }
        agent.pong_received = false;
        let process = agent.process.clone();
        out.send(&process, Message::Ping { epoch });
        out.set_timer(
            MasterTimer::Ping(agent_id),
            env.ctx.now_ms + timing.agent_ping_timeout_ms,
        );
    }

    pub(super) fn mark_unreachable(&mut self, env: &mut Env<'_>, agent_id: AgentId, out: &mut Out) {
        let op = RegistryOp::MarkUnreachable {
            agent_id: agent_id.clone(),
            at_ms: env.ctx.now_ms,
        };
        self.registry_apply(env, op, AfterRegistry::RemoveUnreachable { agent_id }, out);
    }

    /// The registry says the agent is unreachable: take it out of the resource
    /// pool and tell each framework its tasks there are lost (or unreachable).
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
    pub(super) fn remove_agent(
        &mut self,
        _env: &mut Env<'_>,
        agent_id: &AgentId,
        removed: bool,
        out: &mut Out,
    ) {
        self.rescind_offers_on(agent_id, out);
        self.agents.remove(agent_id);
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
                    task.state = kept;
                    task.status_update_state = Some(kept);
                    task.latest_uuid = None;
                    framework.unreachable_tasks.insert(tid.clone(), task);
                }
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
        for update in updates {
            self.send_to_framework(update, out);
        }
    }

    pub(super) fn tick_reregister_timeout(&mut self, env: &mut Env<'_>, out: &mut Out) {
        let late: Vec<AgentId> = std::mem::take(&mut self.awaiting_reregistration)
            .into_iter()
            .collect();
        for agent_id in late {
            let op = RegistryOp::MarkUnreachable {
                agent_id: agent_id.clone(),
                at_ms: env.ctx.now_ms,
            };
            self.registry_apply(env, op, AfterRegistry::RemoveUnreachable { agent_id }, out);
        }
    }
}
