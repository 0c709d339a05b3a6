//! # The master's coordinator session, candidacy and election
//!
//! Mesos masters elect their leader through ZooKeeper: each creates an
//! ephemeral sequential node under the masters' path, the lowest sequence
//! leads, and its number is the leader's epoch (`ZooKeeperMasterDetector`,
//! `Master::detected`, `Master::lostCandidacy`). This file is the master's
//! side of that: its requests to the coordinator and their answers, the
//! candidacy node, watching the candidates, becoming the leader (and reading
//! the registry before anything else), and exiting when the session or the
//! candidacy is lost.

use super::*;
use crate::bugs::master as bugs;

impl Master {
    pub(super) fn coordinator_request(
        &mut self,
        ctx: &Context,
        op: CoordOp,
        tag: MasterRequest,
        out: &mut Out,
    ) -> bool {
        let mut sub = Outputs::new();
        let sent = self.coordinator.request(ctx, op, tag, &mut sub);
        out.absorb(sub, MasterTimer::Coordinator);
        sent
    }

    pub(super) fn on_client_events(
        &mut self,
        ctx: &Context,
        events: Vec<ClientEvent<MasterRequest>>,
        out: &mut Out,
    ) {
        for event in events {
            if matches!(self.phase, Phase::Exited) {
                return;
            }
            match event {
                ClientEvent::SessionReady { resumed } => self.on_session_ready(ctx, resumed, out),
                ClientEvent::SessionLost => {
                    // Planted-bug hook (`bugs/master.rs`).
                    if bugs::leader_survives_session_loss(self.config.bug, &self.phase) {
                        continue;
                    }
                    // Our candidacy node dies with the session: whatever we were,
                    // we can no longer be (or become) the leader safely.
                    self.exit("lost the coordinator session", out);
                }
                ClientEvent::Watch { path, .. } if path == MASTERS_PATH => {
                    self.coordinator_request(
                        ctx,
                        detector::list_masters(),
                        MasterRequest::ListMasters,
                        out,
                    );
                }
                ClientEvent::Watch { .. } => {}
                ClientEvent::Reply { tag, result } => {
                    self.on_coordinator_reply(ctx, tag, result, out)
                }
            }
        }
    }

    pub(super) fn on_session_ready(&mut self, ctx: &Context, resumed: bool, out: &mut Out) {
        if self.candidacy.is_none() {
            if resumed {
                // A resumed session with no known candidacy: a create may have
                // been lost with the connection. Start over cleanly.
                self.exit("candidacy outcome unknown after reconnect", out);
                return;
            }
            let op = CoordOp::Create {
                path: detector::CANDIDATE_PREFIX.to_string(),
                data: self.name().to_string(),
                ephemeral: true,
                sequential: true,
            };
            self.coordinator_request(ctx, op, MasterRequest::Join, out);
            return;
        }
        // Resumed: watches may have been lost with the connection; re-read.
        self.coordinator_request(
            ctx,
            detector::list_masters(),
            MasterRequest::ListMasters,
            out,
        );
        self.lead(ctx, out, |leader, env, out| {
            leader.on_session_resumed(env, out)
        });
    }

    pub(super) fn on_coordinator_reply(
        &mut self,
        ctx: &Context,
        tag: MasterRequest,
        result: Result<CoordReply, CoordError>,
        out: &mut Out,
    ) {
        match (tag, result) {
            (
                MasterRequest::Join,
                Ok(CoordReply::Created {
                    sequence: Some(seq),
                    ..
                }),
            ) => {
                self.become_contending(seq, out);
                self.coordinator_request(
                    ctx,
                    detector::list_masters(),
                    MasterRequest::ListMasters,
                    out,
                );
            }
            (MasterRequest::Join, _) => self.exit("could not create the candidacy node", out),
            (MasterRequest::ListMasters, Ok(CoordReply::Children { children })) => {
                self.detector.observe(Some(&children));
                let mine_present = children.iter().any(|c| c.sequence == self.candidacy);
                self.on_leader_listing(ctx, self.detector.leader().cloned(), mine_present, out);
            }
            (MasterRequest::ListMasters, _) => {} // re-read on the next SessionReady
            (MasterRequest::ReadRegistry, Ok(CoordReply::Data { data, version })) => {
                match Registry::decode(&data) {
                    Ok(registry) => self.lead(ctx, out, |leader, env, out| {
                        leader.recover(env, registry, Some(version), out)
                    }),
                    Err(e) => self.exit(&e, out),
                }
            }
            (MasterRequest::ReadRegistry, Err(CoordError::NoNode)) => {
                self.lead(ctx, out, |leader, env, out| {
                    leader.recover(env, Registry::default(), None, out)
                })
            }
            (MasterRequest::ReadRegistry, Err(CoordError::ConnectionLoss)) => {}
            (MasterRequest::ReadRegistry, Ok(_) | Err(_)) => {
                self.exit("could not read the registry", out)
            }
            (MasterRequest::WriteRegistry, Ok(CoordReply::Written { version })) => {
                self.lead(ctx, out, |leader, env, out| {
                    leader.on_registry_written(env, version, out)
                })
            }
            (MasterRequest::WriteRegistry, Err(CoordError::ConnectionLoss)) => {
                self.lead(ctx, out, |leader, _, _| {
                    leader.registry_outcome_unknown = true
                })
            }
            (MasterRequest::WriteRegistry, Ok(_) | Err(_)) => {
                // BadVersion: someone else wrote the registry — another leader.
                self.exit("registry write refused: another master has written it", out)
            }
            (MasterRequest::RefreshRegistry, Ok(CoordReply::Data { data, version })) => {
                self.lead(ctx, out, |leader, env, out| {
                    leader.on_registry_refreshed(env, data, version, out)
                })
            }
            (MasterRequest::RefreshRegistry, Err(CoordError::ConnectionLoss)) => {}
            (MasterRequest::RefreshRegistry, Ok(_) | Err(_)) => {
                self.exit("could not re-read the registry", out)
            }
        }
    }

    /// Decides what this master is, given who leads.
    pub(super) fn on_leader_listing(
        &mut self,
        ctx: &Context,
        leader: Option<LeaderInfo>,
        mine_present: bool,
        out: &mut Out,
    ) {
        let Some(mine) = self.candidacy else { return };
        if !mine_present {
            self.exit("my candidacy node vanished", out);
            return;
        }
        let leading_me = leader.as_ref().is_some_and(|l| l.epoch == mine);
        match (&self.phase, leading_me) {
            (Phase::Leading(_), true) => {}
            (Phase::Leading(_), false) => self.exit("another master leads", out),
            (_, true) => self.become_leader(ctx, mine, out),
            (Phase::Standby, false) => {}
            (_, false) => self.become_standby(leader.map(|l| l.master), out),
        }
    }

    // ----- transitions -----
    //
    // Each change of phase is one function that asserts where it may come
    // from (the diagram in `mod.rs`). An assertion that fires is a bug in the
    // election logic above, never a situation to handle: a master that got
    // here in the wrong phase could lead twice or act on a lost candidacy.

    /// Joining → Contending: the candidacy node exists, with sequence `seq`.
    pub(super) fn become_contending(&mut self, seq: u64, out: &mut Out) {
        assert!(
            matches!(self.phase, Phase::Joining) && self.candidacy.is_none(),
            "become_contending from {} (candidacy {:?})",
            self.phase_name(),
            self.candidacy
        );
        self.candidacy = Some(seq);
        self.phase = Phase::Contending;
        out.event(Event::MasterContending { sequence: seq });
    }

    /// Contending → Standby: another master's candidacy is the lowest.
    pub(super) fn become_standby(&mut self, leader: Option<ProcessId>, out: &mut Out) {
        assert!(
            matches!(self.phase, Phase::Contending) && self.candidacy.is_some(),
            "become_standby from {}",
            self.phase_name()
        );
        self.phase = Phase::Standby;
        out.event(Event::MasterStandby { leader });
    }

    /// Contending or Standby → Leading: this master's candidacy is the lowest,
    /// and its sequence number is the epoch it leads. Before anything else the
    /// new leader reads the registry (`Master::_recover` in Mesos): until it
    /// knows which agents were admitted it cannot tell a returning agent from
    /// a new one, so `Leader::on_message` ignores everything meanwhile.
    pub(super) fn become_leader(&mut self, ctx: &Context, epoch: u64, out: &mut Out) {
        assert!(
            matches!(self.phase, Phase::Contending | Phase::Standby)
                && self.candidacy == Some(epoch),
            "become_leader({epoch}) from {} (candidacy {:?})",
            self.phase_name(),
            self.candidacy
        );
        self.phase = Phase::Leading(Box::new(Leader::new(epoch)));
        out.event(Event::ElectedLeader { epoch });
        self.coordinator_request(ctx, read_registry(), MasterRequest::ReadRegistry, out);
    }
}

impl Leader {
    /// The registry is read: the leader knows which agents to expect back.
    pub(super) fn recover(
        &mut self,
        env: &mut Env<'_>,
        registry: Registry,
        version: Option<u64>,
        out: &mut Out,
    ) {
        let timing = env.config.timing.clone();
        if self.recovered {
            return;
        }
        self.recovered = true;
        self.awaiting_reregistration = registry.admitted.keys().cloned().collect();
        self.registry = registry;
        self.registry_version = version;
        out.event(Event::LeaderRecovered {
            epoch: self.epoch,
            admitted_agents: self.awaiting_reregistration.len(),
        });
        if !self.awaiting_reregistration.is_empty() {
            out.set_timer(
                MasterTimer::AgentReregisterTimeout,
                env.ctx.now_ms + timing.agent_reregister_timeout_ms,
            );
        }
        out.set_timer(
            MasterTimer::Allocate,
            env.ctx.now_ms + timing.allocation_interval_ms,
        );
    }
}

#[cfg(test)]
mod tests {
    //! Every transition asserts where it may come from: these tests drive a
    //! master into a phase and show that a transition the diagram in `mod.rs`
    //! does not allow panics instead of quietly producing a second leader.

    use super::*;

    fn master() -> Master {
        Master::new(MasterConfig {
            name: "master-1".into(),
            coordinator: "coordinator".into(),
            timing: Timing::default(),
            removed_agent_policy: RemovedAgentPolicy::Reregister,
            bug: None,
        })
    }

    fn ctx() -> Context {
        Context {
            now_ms: 0,
            random: 0,
        }
    }

    /// A master that has created its candidacy node with sequence 7.
    fn contending() -> Master {
        let mut m = master();
        m.become_contending(7, &mut Outputs::new());
        m
    }

    #[test]
    fn the_allowed_path_joining_contending_standby_leading() {
        let mut m = contending();
        assert!(matches!(m.phase(), Phase::Contending));
        m.become_standby(Some("master-0".into()), &mut Outputs::new());
        assert!(matches!(m.phase(), Phase::Standby));
        m.become_leader(&ctx(), 7, &mut Outputs::new());
        assert_eq!(m.leading_epoch(), Some(7));
    }

    #[test]
    #[should_panic(expected = "become_leader(7) from Joining")]
    fn a_master_without_a_candidacy_cannot_lead() {
        master().become_leader(&ctx(), 7, &mut Outputs::new());
    }

    #[test]
    #[should_panic(expected = "become_leader(7) from Leading")]
    fn a_leader_cannot_be_elected_again() {
        let mut m = contending();
        m.become_leader(&ctx(), 7, &mut Outputs::new());
        m.become_leader(&ctx(), 7, &mut Outputs::new());
    }

    #[test]
    #[should_panic(expected = "become_leader(8) from Contending (candidacy Some(7))")]
    fn a_master_leads_only_under_its_own_sequence_number() {
        contending().become_leader(&ctx(), 8, &mut Outputs::new());
    }

    #[test]
    #[should_panic(expected = "become_leader(7) from Exited")]
    fn an_exited_master_cannot_lead() {
        let mut m = contending();
        m.exit("test", &mut Outputs::new());
        m.become_leader(&ctx(), 7, &mut Outputs::new());
    }

    #[test]
    #[should_panic(expected = "become_standby from Leading")]
    fn a_leader_never_steps_down_to_standby() {
        // Mesos's master aborts instead (`Master::lostCandidacy`): a leader
        // that quietly became a standby could still have commands in flight.
        let mut m = contending();
        m.become_leader(&ctx(), 7, &mut Outputs::new());
        m.become_standby(None, &mut Outputs::new());
    }

    #[test]
    #[should_panic(expected = "become_contending from Contending")]
    fn a_master_has_one_candidacy() {
        contending().become_contending(9, &mut Outputs::new());
    }
}
