//! # Registration and re-registration with the leader
//!
//! Mesos `Slave::doReliableRegistration` (`RegisterSlaveMessage` the first
//! time, `ReregisterSlaveMessage` with every task and framework after that,
//! retried with backoff), `Slave::registered` / `Slave::reregistered`,
//! `Slave::ping` and `Slave::pingTimeout`: how an agent hands a new leader
//! the state it rebuilds from, and notices a silent one. Every command is
//! checked against the master the agent registered with or detected
//! (`Slave::runTask`, `Slave::killTask`… ignore any other sender).

use super::*;

impl Agent {
    pub(super) fn on_master_connected(&mut self, ctx: &Context, out: &mut Out) {
        let MasterLink::Connecting { master, epoch } = self.master.clone() else {
            return;
        };
        self.master = MasterLink::Registering {
            master,
            epoch,
            attempt: 0,
        };
        // The first attempt waits a random part of the backoff factor, as
        // Mesos agents do, so a failover does not make every agent knock at once.
        let delay = self.config.timing.backoff_ms(
            self.config.timing.agent_registration_backoff_ms,
            0,
            ctx.random,
        );
        out.set_timer(AgentTimer::RegisterRetry, ctx.now_ms + delay);
    }

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
        out.cancel_timer(AgentTimer::PingTimeout);
        self.master = MasterLink::Connecting { master, epoch };
        let delay = self.config.timing.backoff_ms(
            self.config.timing.agent_registration_backoff_ms,
            1,
            ctx.random,
        );
        out.set_timer(AgentTimer::RegisterRetry, ctx.now_ms + delay);
    }

    pub(super) fn tick_register_retry(&mut self, ctx: &Context, out: &mut Out) {
        match self.master.clone() {
            MasterLink::Connecting { master, .. } => out.connect(&master),
            MasterLink::Registering {
                master,
                epoch,
                attempt,
            } => {
                let message = self.registration_message();
                out.send(&master, message);
                let next = attempt + 1;
                self.master = MasterLink::Registering {
                    master,
                    epoch,
                    attempt: next,
                };
                let timing = &self.config.timing;
                let delay =
                    timing.backoff_ms(timing.agent_registration_backoff_ms, next, ctx.random);
                out.set_timer(AgentTimer::RegisterRetry, ctx.now_ms + delay.max(1));
            }
            MasterLink::Idle | MasterLink::Registered { .. } => {}
        }
    }

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
                        if task.state.is_terminal() && task.pending_updates.is_empty() {
                            continue;
                        }
                        tasks.push(ReportedTask {
                            framework_id: fid.clone(),
                            info: task.info.clone(),
                            state: task.state,
                            status_update_state: task.forwarded,
                        });
                    }
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
        self.master = MasterLink::Registered {
            master: from.clone(),
            epoch,
        };
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
        if first_time {
            self.write_state(out);
        }
        // A new leader (or a new connection) gets every pending update now.
        self.retry_ms.clear();
        for key in self.stream_keys_with_pending() {
            self.send_stream_head(ctx, &key, out);
        }
    }

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
    pub(super) fn accept_from_leader(
        &self,
        from: &ProcessId,
        epoch: u64,
        kind: &str,
        out: &mut Out,
    ) -> bool {
        match &self.master {
            MasterLink::Registered { master, epoch: e } if master == from && *e == epoch => {
                out.event(Event::AgentAcceptedCommand {
                    master: from.clone(),
                    epoch,
                    kind: kind.to_string(),
                });
                true
            }
            _ => {
                out.event(Event::MessageIgnored {
                    from: from.clone(),
                    kind: kind.to_string(),
                    why: "not from the leader this agent is registered with".into(),
                });
                false
            }
        }
    }

    /// Like [`Agent::accept_from_leader`], for the commands Mesos's agent
    /// carries out while it is *disconnected* from the master it detected
    /// (re-registering with it): `Slave::runTask` and `Slave::killTask` check
    /// only that the message comes from that master (and ignore it while the
    /// agent is still recovering, when it has detected no master at all). An
    /// agent with no ID yet (its first registration) still ignores them.
    pub(super) fn accept_from_detected(
        &self,
        from: &ProcessId,
        epoch: u64,
        kind: &str,
        out: &mut Out,
    ) -> bool {
        let detected = match &self.master {
            MasterLink::Connecting { master, epoch: e }
            | MasterLink::Registering {
                master, epoch: e, ..
            } => master == from && *e == epoch,
            MasterLink::Registered { .. } => {
                return self.accept_from_leader(from, epoch, kind, out);
            }
            MasterLink::Idle => false,
        };
        // An agent that never registered has no ID to run anything under; the
        // master sends it nothing before `AgentRegistered` anyway.
        if detected && self.agent_id.is_some() {
            out.event(Event::AgentAcceptedCommand {
                master: from.clone(),
                epoch,
                kind: kind.to_string(),
            });
            return true;
        }
        out.event(Event::MessageIgnored {
            from: from.clone(),
            kind: kind.to_string(),
            why: "not from the master this agent detected".into(),
        });
        false
    }
}
