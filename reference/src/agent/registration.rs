//! # Registration and re-registration with the leader
//!
//! Mesos `Slave::doReliableRegistration` (`RegisterSlaveMessage` the first
//! time, `ReregisterSlaveMessage` with every task and framework after that,
//! retried with backoff), `Slave::registered` / `Slave::reregistered`,
//! `Slave::ping` and `Slave::pingTimeout` (all in src/slave/slave.cpp): how an
//! agent hands a new leader the state it rebuilds from, and notices a silent
//! one. Every command is checked against the master the agent registered
//! with or detected (`Slave::runTask`, `Slave::killTask`… ignore any other
//! sender).
//!
//! ```text
//! Connecting --connected--> Registering --(random wait)--> send --(no answer: wait [0, f·2^n])--> send ...
//!      ^                        |                                                                  |
//!      +-- link lost / ping ----+------------- AgentRegistered / AgentReregistered ------------> Registered
//!          timeout: redial                                                         (pings reset a 75 s timer)
//! ```
//!
//! Why re-registration carries everything: a Mesos master keeps only soft
//! state. Its registry records which agents were admitted, not what runs on
//! them, so a newly elected leader learns every task, every framework of a
//! task and every reservation from the agents' `ReregisterAgent` reports
//! (`master/agents.rs`, `accept_reregistration`). An agent that left a task
//! out would leave a new leader unaware of it.
//!
//! Where this crate differs from Mesos, on purpose or for simplicity:
//! - a broken connection to the leader is redialled at once
//!   (`on_master_link_lost`); Mesos's `Slave::exited` only logs, and the agent
//!   re-registers after the ping timeout or the next detection;
//! - an answer carrying another agent ID is ignored; Mesos's agent exits
//!   ("Registered but got wrong id ... Committing suicide");
//! - pings are answered only from the registered leader at its epoch
//!   (`accept_from_leader`); Mesos's `Slave::ping` answers any sender.
//!
//! (Pings are answered in `mod.rs`, `on_message`; the ping timeout fires in
//! `Role::handle` there and lands in `on_master_link_lost`.)

use super::*;

impl Agent {
    /// The connection to the detected leader is up: start registering.
    ///
    /// The first message waits a random time in `[0, factor]` (Mesos
    /// `Slave::detected` delays `doReliableRegistration` by
    /// `registration_backoff_factor × random`): after a failover every agent
    /// of the cluster re-registers with the one new leader, which is also
    /// busy recovering its registry; spreading them keeps it from being
    /// flooded in the same instant. `tick_register_retry` sends it.
    pub(super) fn on_master_connected(&mut self, ctx: &Context, out: &mut Out) {
        if !matches!(self.master, MasterLink::Connecting { .. }) {
            return;
        }
        self.master.become_registering();
        let delay = self.config.timing.backoff_ms(
            self.config.timing.agent_registration_backoff_ms,
            0,
            ctx.random,
        );
        out.set_timer(AgentTimer::RegisterRetry, ctx.now_ms + delay);
    }

    /// The connection to the leader broke, a dial failed, or no ping came for
    /// the whole ping timeout. The leader has not changed (detection would
    /// have said so), so the agent dials the same master again after a
    /// random wait in `[0, 2 · factor]` and then re-registers: the master
    /// marks it disconnected once it sees the connection go (`master/agents.rs`,
    /// `on_agent_disconnected`) and drops acknowledgements for it until it is
    /// back. Only launches, kills (`accept_from_detected`) and `ShutdownAgent`
    /// are obeyed meanwhile.
    ///
    /// The redial backoff does not grow: every failure draws from the same
    /// bound again. A dial to a cut-off master itself takes up to
    /// `tcp_connect_timeout_ms` before it fails, which paces the attempts.
    pub(super) fn on_master_link_lost(&mut self, ctx: &Context, out: &mut Out) {
        let Some(master) = self.leader_process().cloned() else {
            return;
        };
        let epoch = match &self.master {
            MasterLink::Connecting { epoch, .. }
            | MasterLink::Registering { epoch, .. }
            | MasterLink::Registered { epoch, .. } => *epoch,
            MasterLink::Idle => return,
        };
        // The ping timeout belongs to a registration; the next one re-arms it.
        out.cancel_timer(AgentTimer::PingTimeout);
        self.master.become_connecting(master, epoch);
        let delay = self.config.timing.backoff_ms(
            self.config.timing.agent_registration_backoff_ms,
            1,
            ctx.random,
        );
        out.set_timer(AgentTimer::RegisterRetry, ctx.now_ms + delay);
    }

    /// The registration timer fired: dial again (`Connecting`), or send the
    /// next (re-)registration message and arm the timer for the one after
    /// (`Registering`). Mesos `Slave::doReliableRegistration` resends until
    /// an answer comes, each time after a random delay in `[0, factor · 2^n]`
    /// capped at one minute (`REGISTER_RETRY_INTERVAL_MAX`, so that an agent
    /// retries several times while a new master waits for re-registrations).
    /// A message or its answer can be lost with a connection, and a master
    /// that is still writing the agent to its registry ignores the repeats
    /// (`master/agents.rs`, `on_register_agent`), so resending is always safe.
    pub(super) fn tick_register_retry(&mut self, ctx: &Context, out: &mut Out) {
        match self.master.clone() {
            MasterLink::Connecting { master, .. } => out.connect(&master),
            MasterLink::Registering {
                master, attempt, ..
            } => {
                let message = self.registration_message();
                out.send(&master, message);
                let next = attempt + 1;
                self.master.note_attempt();
                // The bound doubles with each message sent on this connection
                // (a new connection starts again from `attempt: 0`);
                // a zero draw still waits 1 ms, so a retry never coincides
                // with the message it repeats.
                let timing = &self.config.timing;
                let delay =
                    timing.backoff_ms(timing.agent_registration_backoff_ms, next, ctx.random);
                out.set_timer(AgentTimer::RegisterRetry, ctx.now_ms + delay.max(1));
            }
            // Registered: an answer came after the timer was set; nothing to do.
            MasterLink::Idle | MasterLink::Registered { .. } => {}
        }
    }

    /// The message of the next attempt. Without an ID (a first registration,
    /// or after `ShutdownAgent` cleared it): `RegisterAgent` with the machine's
    /// resources, checkpointed reservations and volumes included, and its boot
    /// ID. With one: `ReregisterAgent`, Mesos's `ReregisterSlaveMessage` —
    /// the whole view a new leader rebuilds from (see the module comment).
    ///
    /// Both carry the resources as the agent checkpointed them: the master
    /// takes the agent's word for its reservations and volumes, since it
    /// keeps none of them durably. Both carry the boot ID, by which a master
    /// tells a retry from the same boot (answer again) from a machine that
    /// restarted and lost its ID (remove the old agent first): see
    /// `master/agents.rs`, `on_register_agent`.
    pub(super) fn registration_message(&self) -> Message {
        match &self.agent_id {
            None => Message::RegisterAgent {
                resources: self.resources.clone(),
                boot_id: self.config.boot_id.clone(),
            },
            Some(agent_id) => {
                let mut frameworks = Vec::new();
                let mut tasks = Vec::new();
                for (fid, fw_tasks) in &self.tasks {
                    for task in fw_tasks.values() {
                        // Report every task still running, and terminal ones whose
                        // updates the framework has not acknowledged yet.
                        // (Mesos sends `launchedTasks` and `terminatedTasks`,
                        // and queued launches as `TASK_STAGING`, as here; the
                        // fully acknowledged ones go only as completed tasks,
                        // for display.) A terminal task still reported keeps
                        // its resources at the master until its update is
                        // acknowledged there.
                        if task.state.is_terminal() && task.pending_updates.is_empty() {
                            continue;
                        }
                        // `state` is the latest state, `status_update_state`
                        // the one being delivered (`AgentTask::forwarded`): a
                        // new leader answers reconciliation with the latter,
                        // so a framework never hears of a state before the
                        // updates leading to it.
                        tasks.push(ReportedTask {
                            framework_id: fid.clone(),
                            info: task.info.clone(),
                            state: task.state,
                            status_update_state: task.forwarded,
                        });
                    }
                    // The frameworks of the reported tasks, so a new leader
                    // knows them before their schedulers re-register. (Mesos
                    // sends every framework the agent has.)
                    if tasks.iter().any(|t| &t.framework_id == fid) {
                        if let Some(info) = self.frameworks.get(fid) {
                            frameworks.push(info.clone());
                        }
                    }
                }
                Message::ReregisterAgent {
                    agent_id: agent_id.clone(),
                    resources: self.resources.clone(),
                    boot_id: self.config.boot_id.clone(),
                    frameworks,
                    tasks,
                }
            }
        }
    }

    /// `AgentRegistered` / `AgentReregistered`: Mesos `Slave::registered` and
    /// `Slave::reregistered`.
    ///
    /// Only the master this agent is registering with is heard (Mesos checks
    /// `master != from`); a duplicate answer to a retried message arrives when
    /// the agent is already `Registered` and is dropped ("Already registered"
    /// in Mesos). The epoch recorded is the one the answer carries; it came
    /// on the connection opened to this leader, so it is that leader's.
    ///
    /// Registering starts the ping timeout (Mesos arms it here "in case we
    /// never receive an initial ping"), checkpoints a first ID, and resends
    /// the head of every status update stream.
    ///
    /// The ping timeout is `agent_ping_timeout × max_agent_ping_timeouts`
    /// (75 s), the bound after which the master gives up on a silent agent:
    /// Mesos's master sends it to the agent (`total_ping_timeout_seconds` in
    /// `MasterSlaveConnection`) so both sides agree; here both read the same
    /// `Timing`.
    pub(super) fn on_registered(
        &mut self,
        ctx: &Context,
        from: ProcessId,
        epoch: u64,
        agent_id: AgentId,
        reregistered: bool,
        out: &mut Out,
    ) {
        let MasterLink::Registering { master, .. } = &self.master else {
            return; // a duplicate answer to a retry
        };
        if *master != from {
            return;
        }
        // An agent keeps its ID for life (tasks, checkpoint and the master's
        // registry all name it); a different one is refused. Mesos's agent
        // exits instead; here it keeps retrying under its own ID.
        if self.agent_id.as_ref().is_some_and(|mine| *mine != agent_id) {
            out.event(Event::MessageIgnored {
                from,
                kind: "AgentRegistered".into(),
                why: "the master assigned a different agent ID".into(),
            });
            return;
        }
        out.event(Event::AgentAcceptedCommand {
            master: from.clone(),
            epoch,
            kind: if reregistered {
                "AgentReregistered"
            } else {
                "AgentRegistered"
            }
            .into(),
        });
        let first_time = self.agent_id.is_none();
        self.agent_id = Some(agent_id.clone());
        self.master.become_registered(epoch);
        out.cancel_timer(AgentTimer::RegisterRetry);
        out.set_timer(
            AgentTimer::PingTimeout,
            ctx.now_ms + self.config.timing.agent_total_ping_timeout_ms(),
        );
        out.event(Event::AgentRegisteredWith {
            master: from,
            epoch,
            agent_id,
            reregistered,
        });
        // A new ID is checkpointed at once (Mesos `Slave::registered` writes
        // the `SlaveInfo` with it, `paths::getSlaveInfoPath`, and points the
        // `latest` symlink at it, `paths::createSlaveDirectory`). A crash
        // before the write is durable restarts the agent without an ID: it
        // registers afresh, and the master sorts out the ID it had
        // (`master/agents.rs`, `on_register_agent`).
        if first_time {
            self.write_state(out);
        }
        // A new leader (or a new connection) gets every pending update now.
        // Mesos: `Slave::registered`/`reregistered` call
        // `TaskStatusUpdateManager::resume`, which resends every stream's head
        // with the retry interval back at its minimum. Without it a head sent
        // to a dead leader would wait out its backoff (up to 10 min) first.
        self.retry_ms.clear();
        for key in self.stream_keys_with_pending() {
            self.send_stream_head(ctx, &key, out);
        }
    }

    /// The tasks whose status update stream holds an update to deliver:
    /// those whose head `on_registered` resends.
    pub(super) fn stream_keys_with_pending(&self) -> Vec<TaskKey> {
        self.tasks
            .iter()
            .flat_map(|(fid, tasks)| {
                tasks
                    .iter()
                    .filter(|(_, t)| !t.pending_updates.is_empty())
                    .map(|(tid, _)| TaskKey {
                        framework_id: fid.clone(),
                        task_id: tid.clone(),
                    })
            })
            .collect()
    }

    /// Whether a message from `from` is a command from the leader we are
    /// registered with. Anything else is ignored, and the trace says so.
    ///
    /// The sender alone is not enough: a process ID outlives a leadership
    /// (the same master may lead, lose the lead and be elected again, and
    /// messages sent before a failover may still be on their way). Mesos
    /// compares only the sender (`master != from`) and notes the gap in
    /// `Slave::statusUpdateAcknowledgement` ("the master's pid will not
    /// change across runs on the same machine"). Here every command carries
    /// the epoch of the leader that sent it, and must match the epoch this
    /// agent registered under. The trace's `AgentAcceptedCommand` lets the
    /// harness check that no agent ever obeyed a deposed leader.
    pub(super) fn accept_from_leader(
        &self,
        standing: Standing,
        from: &ProcessId,
        epoch: u64,
        kind: &str,
        out: &mut Out,
    ) -> bool {
        self.obey(standing, Need::Leader, from, epoch, kind, out)
    }

    /// Like [`Agent::accept_from_leader`], for the commands Mesos's agent
    /// carries out while it is *disconnected* from the master it detected
    /// (re-registering with it): `Slave::runTask` and `Slave::killTask` check
    /// only that the message comes from that master (and ignore it while the
    /// agent is still recovering, when it has detected no master at all). An
    /// agent with no ID yet (its first registration) still ignores them.
    ///
    /// Mesos marks this as an open question (`Slave::run` and
    /// `Slave::killTask`: "TODO(bmahler): Also ignore if we're
    /// DISCONNECTED"). This crate follows Mesos: the master may still think
    /// the agent connected (its side of the connection has not failed yet)
    /// and relay a framework's launch or kill meanwhile. Carrying it out
    /// spares a round of repair after re-registration, where a dropped launch
    /// would come back `TASK_DROPPED` (or `TASK_LOST`) through
    /// `AgentReconcileTasks` and a dropped kill would be sent again.
    pub(super) fn accept_from_detected(
        &self,
        standing: Standing,
        from: &ProcessId,
        epoch: u64,
        kind: &str,
        out: &mut Out,
    ) -> bool {
        self.obey(standing, Need::Detected, from, epoch, kind, out)
    }

    /// Where `from` stands with this agent: the link to the masters (the
    /// agent's phase toward them) read once per message, in `on_message`.
    pub(super) fn standing(&self, from: &ProcessId) -> Standing {
        match &self.master {
            MasterLink::Registered { master, epoch } if master == from => {
                Standing::Registered(*epoch)
            }
            MasterLink::Registered { .. } => Standing::RegisteredElsewhere,
            MasterLink::Connecting { master, epoch }
            | MasterLink::Registering { master, epoch, .. }
                if master == from =>
            {
                Standing::Detected {
                    epoch: *epoch,
                    known: self.agent_id.is_some(),
                }
            }
            _ => Standing::Stranger,
        }
    }

    /// Whether a command at `epoch` from a sender of this `standing` is
    /// carried out, given what the command `need`s; traced either way.
    fn obey(
        &self,
        standing: Standing,
        need: Need,
        from: &ProcessId,
        epoch: u64,
        kind: &str,
        out: &mut Out,
    ) -> bool {
        let accepted = match (standing, need) {
            (Standing::Registered(e), _) => e == epoch,
            (Standing::Detected { epoch: e, known }, Need::Detected) => e == epoch && known,
            _ => false,
        };
        if accepted {
            out.event(Event::AgentAcceptedCommand {
                master: from.clone(),
                epoch,
                kind: kind.to_string(),
            });
            return true;
        }
        // Registered, the agent answers to its leader only; otherwise to the
        // master it detected.
        let registered = matches!(
            standing,
            Standing::Registered(_) | Standing::RegisteredElsewhere
        );
        let why = if need == Need::Leader || registered {
            "not from the leader this agent is registered with"
        } else {
            "not from the master this agent detected"
        };
        out.event(Event::MessageIgnored {
            from: from.clone(),
            kind: kind.to_string(),
            why: why.into(),
        });
        false
    }
}
/// Where a master's message stands with this agent, from the agent's link
/// to the masters (`Agent::standing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Standing {
    /// The sender is the master this agent is registered with, at this epoch.
    Registered(u64),
    /// The agent is registered with another master.
    RegisteredElsewhere,
    /// The sender is the master this agent detected and is (re-)connecting
    /// to, at `epoch`; `known`: the agent already has an ID.
    Detected {
        /// The epoch the sender was detected at.
        epoch: u64,
        /// Whether the agent has registered before (holds an agent ID).
        known: bool,
    },
    /// The agent has no link to the sender.
    Stranger,
}

/// What a command needs of its sender's standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Need {
    /// The leader this agent is registered with, at its epoch.
    Leader,
    /// That, or the master it detected and is re-registering with (Mesos's
    /// agent runs and kills tasks then too: `accept_from_detected`).
    Detected,
}
