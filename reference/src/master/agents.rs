//! # Agents: registration and re-registration
//!
//! How the leader admits agents and rebuilds its soft state from the tasks an
//! agent reports after a failover. Noticing silent agents, marking them
//! unreachable and removing them is `health.rs`. Mesos's counterparts, all in
//! src/master/master.cpp:
//!
//! | here | Mesos |
//! |---|---|
//! | [`Leader::on_register_agent`], [`Leader::admit_agent`] | `Master::registerSlave` → `_registerSlave` → `__registerSlave` |
//! | [`Leader::on_reregister_agent`] | `Master::reregisterSlave` → `_reregisterSlave` |
//! | [`Leader::accept_reregistration`] | `Master::__reregisterSlave` (agent not registered with this leader), `Master::___reregisterSlave` → `reconcileKnownSlave` (agent already registered) |
//! | [`Leader::on_agent_disconnected`] | `Master::exited(const UPID&)` → `Master::disconnect(Slave*)` |
//! | [`Leader::tick_ping`], `Message::Pong` | `SlaveObserver::ping`, `pong`, `timeout` |
//! | [`Leader::mark_unreachable`], [`Leader::remove_unreachable_agent`] | `Master::markUnreachable` → `_markUnreachable` → `__removeSlave` |
//! | [`Leader::remove_agent`] (`removed`) | `Master::removeSlave` → `_removeSlave` |
//! | [`Leader::tick_reregister_timeout`] | `Master::recoveredSlavesTimeout` |
//!
//! ## The rules that matter for failures
//!
//! - **Registry first.** Admitting an agent, re-admitting one that was
//!   unreachable or unknown, marking one unreachable and removing one are
//!   registry writes (`registrar.rs`); the soft state changes, and the agent
//!   and frameworks hear of it, only once the write is durable. An agent
//!   listed in the registry is re-admitted without a write, as Mesos
//!   re-admits a recovered agent whose info did not change.
//! - **The agent's report is the truth.** After a failover the leader knows
//!   an agent's tasks, frameworks, reservations and volumes only from its
//!   `ReregisterAgent`. Frameworks it learns that way stay inactive until
//!   their schedulers re-register.
//! - **Silence is not death.** A missed health check is counted, not acted
//!   on; only `max_agent_ping_timeouts` in a row mark the agent unreachable
//!   (by default 5 × 15 s). Its tasks are then reported `TASK_UNREACHABLE`
//!   (or `TASK_LOST`), and if it comes back they are announced again.
//! - **Nobody waits forever.** Agents the registry lists but that do not
//!   re-register after a failover are marked unreachable after
//!   `agent_reregister_timeout`.

use super::*;
use crate::bugs::master as bugs;

impl Leader {
    /// An agent without an ID (a new machine, or one whose disk was wiped)
    /// registers: the leader assigns it an ID and admits it in the registry
    /// before anything else (Mesos `Master::registerSlave`, `_registerSlave`).
    /// The agent hears `AgentRegistered` only from [`Leader::admit_agent`],
    /// once the admission is durable. An agent told its ID before the write
    /// could be unknown to the next leader, which would not wait for it after a
    /// failover and would answer reconciliation about its tasks with
    /// `TASK_UNKNOWN` (`TASK_LOST`) while they run.
    pub(super) fn on_register_agent(
        &mut self,
        env: &mut Env<'_>,
        from: ProcessId,
        resources: AgentResources,
        boot_id: String,
        out: &mut Out,
    ) {
        // Mesos: "registration is already in progress". The agent retries with
        // backoff until it hears back; a retry must not assign a second ID.
        if self.registering.contains(&from) {
            return; // a retry while the registry write is in flight
        }
        // The same process, the same boot, still connected: the agent is
        // registered already and only our answer was lost (Mesos's
        // `_registerSlave`: "already registered, resending acknowledgement").
        // A new boot ID, or a connection seen to break, means something else:
        // handled below.
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
        // The new ID carries this leader's epoch (`e<epoch>-S<n>`): no two
        // leaders can assign the same ID, so admitting it can only fail on a bug
        // (Mesos embeds the master's random UUID for the same reason).
        let agent_id = AgentId::new(epoch_id(self.epoch, 'S', self.next_agent));
        self.next_agent += 1;
        // Marked until the admission lands (or is refused, `pump_registry`):
        // retries in the meantime are ignored above.
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
        // If a removal of the machine's old ID was queued above, it is written
        // first: the old agent's tasks are reported lost before the new agent
        // joins and its resources are offered.
        self.registry_apply(env, op, then, out);
    }

    /// The admission of a new agent is durable: the agent joins the soft state
    /// and hears its ID (Mesos `Master::__registerSlave` → `addSlave`).
    pub(super) fn admit_agent(
        &mut self,
        env: &mut Env<'_>,
        agent_id: AgentId,
        process: ProcessId,
        resources: AgentResources,
        boot_id: String,
        out: &mut Out,
    ) {
        // Retries are no longer "in progress": a retry from now on finds the
        // agent registered and is answered again.
        self.registering.remove(&process);
        // A new agent runs nothing yet: its `used` and `offered` are empty, and
        // all its resources are offered at the next allocation.
        self.agents.insert(
            agent_id.clone(),
            AgentEntry::new(process.clone(), &resources, boot_id),
        );
        // Carries the epoch: the agent attaches to this leader and ignores
        // commands from any other.
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
        // Health checks start at once (Mesos's `SlaveObserver` pings as soon as it
        // is spawned, `SlaveObserver::initialize`).
        out.set_timer(MasterTimer::Ping(agent_id), env.ctx.now_ms);
        // Redundant with the pump in `on_registry_written`, which called us.
        self.pump_registry(env, out);
    }

    /// An agent that has an ID re-registers: after a master failover, after its
    /// own restart (it recovered its ID from disk), or after a broken connection
    /// (Mesos `Master::reregisterSlave`, `_reregisterSlave`).
    ///
    /// What happens depends on what the registry says about the ID:
    ///
    /// - **gone**: the agent is shut down; it never comes back under that ID;
    /// - **being marked unreachable** (the write queued or in flight): ignored;
    ///   the agent retries;
    /// - **unreachable**: re-admitted through a `MarkReachable` write, and its
    ///   tasks are announced again to their frameworks (or, with the early-Mesos
    ///   [`RemovedAgentPolicy::Shutdown`], the agent is shut down);
    /// - **admitted**: accepted at once, no write needed — the agent is expected
    ///   back (recovered after a failover) or already registered with this
    ///   leader (a retry or a reconnect);
    /// - **unknown**: admitted under its ID through `MarkReachable`, as Mesos
    ///   does ("Unknown agent reregistered") for an agent whose entry it cannot
    ///   find.
    pub(super) fn on_reregister_agent(
        &mut self,
        env: &mut Env<'_>,
        rereg: Reregistration,
        out: &mut Out,
    ) {
        let policy = env.config.removed_agent_policy;
        let id = &rereg.agent_id;
        // An operator declared the agent gone: Mesos sends `ShutdownMessage`
        // ("Agent has been marked gone") and the agent kills its tasks and exits.
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
        // Mesos `Master::reregisterSlave` (`slaves.markingUnreachable`): while
        // this leader is marking the agent unreachable (the registry write is
        // queued or in flight) its re-registration is ignored; the agent retries
        // and is re-admitted once the mark has landed — never re-admitted and
        // then removed, which would report its tasks lost while they run on an
        // agent the leader believes registered.
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
        // Marked unreachable (by health checks, or after a failover it did not
        // re-register in time): its tasks were reported unreachable or lost.
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
            // One re-admission at a time per agent process; a retry while it is in
            // the registrar is dropped.
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
        // Admitted: a recovered agent coming back after a failover, or one
        // already registered with this leader. No registry write: nothing in the
        // registry changes (Mesos skips the write when the agent's info did not
        // change, `_reregisterSlave`).
        if self.registry.admitted.contains_key(id) {
            self.accept_reregistration(env, rereg, out);
            return;
        }
        // Unknown to the registry (its admission was written by a leader whose
        // write we cannot see, or the agent comes from elsewhere): admit it under
        // its ID rather than lose the tasks it runs. Mesos does the same ("we
        // admit the slave anyway", `_reregisterSlave` → `MarkSlaveReachable`).
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
    /// the frameworks of its tasks, and the tasks themselves (Mesos
    /// `Master::__reregisterSlave` for an agent not registered with this leader,
    /// `___reregisterSlave` → `reconcileKnownSlave` for one that is).
    ///
    /// This is the heart of master failover: a new leader knows nothing of tasks
    /// until their agents report them here. Then the agent is answered, in this
    /// order: the frameworks hear about tasks that "came back"; the agent hears
    /// `AgentReregistered`, then which tasks to reconcile, which to kill and
    /// which frameworks to shut down.
    pub(super) fn accept_reregistration(
        &mut self,
        env: &mut Env<'_>,
        rereg: Reregistration,
        out: &mut Out,
    ) {
        // Outstanding offers for an agent that re-registers are taken back: its
        // resources are rebuilt from its report.
        self.rescind_offers_on(&rereg.agent_id, out);
        // The re-registration is complete: a later one is handled afresh.
        self.registering.remove(&rereg.process);
        let epoch = self.epoch;
        let id = rereg.agent_id.clone();
        // `known`: registered with this leader already (a retry, a reconnect, an
        // agent restart that kept its ID). Then the master's own view of the
        // agent's tasks is at least as fresh as the report and is reconciled
        // with it; otherwise the report is learned as it is.
        let known = self.agents.contains_key(&id);
        // No longer waited for: `tick_reregister_timeout` must not mark it
        // unreachable.
        self.awaiting_reregistration.remove(&id);

        // Frameworks first: a task's framework must exist before its tasks. A
        // framework learned only from an agent stays inactive (no scheduler)
        // until its scheduler re-registers (Mesos `updateSlaveFrameworks` →
        // `recoverFramework`). A framework removed by this leader is not brought
        // back: its tasks are skipped below and the agent is told to shut it down.
        for info in &rereg.frameworks {
            let fid = info
                .id
                .clone()
                .expect("agents report registered frameworks");
            if self.completed_frameworks.contains_key(&fid) {
                continue; // removed while this agent was away: shut down below
            }
            // Planted-bug hook (`bugs/master.rs`).
            if bugs::forget_tasks_before_framework(
                env.config.bug,
                self.frameworks.contains_key(&fid),
            ) {
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

        // Tasks the agent reports, as (framework, task) keys: used below to find
        // tasks the master believes are on the agent but the agent does not list.
        let reported: BTreeSet<(FrameworkId, TaskId)> = rereg
            .tasks
            .iter()
            .map(|t| (t.framework_id.clone(), t.info.task_id.clone()))
            .collect();
        // "Agent re-registered" updates for the frameworks, sent after the soft
        // state is rebuilt.
        let mut came_back: Vec<StatusUpdate> = Vec::new();
        for task in &rereg.tasks {
            // The framework is unknown only if it was removed by this leader (or the
            // planted bug skipped it): such tasks are not re-added, and the agent
            // shuts the framework down (`removed`, below).
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
        // Resources are recomputed, not trusted from the old entry: every active
        // task of this agent holds its resources (and volume). `occupy` asserts
        // the agent is not over-committed — the report and the master's tasks
        // must agree.
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
        // The agent is registered (again) with this leader, connected, with a
        // fresh health-check count.
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
        // Tasks the agent must account for: it answers each one it does not know
        // with a terminal update (`TASK_DROPPED` or `TASK_LOST`), which reaches the
        // framework and retires the task through the normal update path.
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
        // Kills the agent may have missed (see `killed_tasks`).
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
        // Frameworks removed while the agent was away: the agent kills their
        // tasks; otherwise they would run forever, unknown to every scheduler.
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
        // Health checks restart now, with a fresh count (re-arming replaces the
        // agent's pending ping timer, if any).
        out.set_timer(MasterTimer::Ping(id.clone()), env.ctx.now_ms);
    }
}
