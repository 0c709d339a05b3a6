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
                    if self.config.bug == Some(crate::bugs::Bug::LeaderSurvivesSessionLoss)
                        && matches!(self.phase, Phase::Leading(_))
                    {
                        continue; // the planted defect: it goes on leading
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
        if let Phase::Leading(leader) = &self.phase {
            if !leader.recovered {
                self.coordinator_request(ctx, read_registry(), MasterRequest::ReadRegistry, out);
            } else if leader.registry_outcome_unknown {
                self.coordinator_request(ctx, read_registry(), MasterRequest::RefreshRegistry, out);
            }
        }
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
                self.candidacy = Some(seq);
                self.phase = Phase::Contending;
                out.event(Event::MasterContending { sequence: seq });
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
                    Ok(registry) => self.recover(ctx, registry, Some(version), out),
                    Err(e) => self.exit(&e, out),
                }
            }
            (MasterRequest::ReadRegistry, Err(CoordError::NoNode)) => {
                self.recover(ctx, Registry::default(), None, out)
            }
            (MasterRequest::ReadRegistry, Err(CoordError::ConnectionLoss)) => {}
            (MasterRequest::ReadRegistry, Ok(_) | Err(_)) => {
                self.exit("could not read the registry", out)
            }
            (MasterRequest::WriteRegistry, Ok(CoordReply::Written { version })) => {
                self.on_registry_written(ctx, version, out)
            }
            (MasterRequest::WriteRegistry, Err(CoordError::ConnectionLoss)) => {
                if let Phase::Leading(leader) = &mut self.phase {
                    leader.registry_outcome_unknown = true;
                }
            }
            (MasterRequest::WriteRegistry, Ok(_) | Err(_)) => {
                // BadVersion: someone else wrote the registry — another leader.
                self.exit("registry write refused: another master has written it", out)
            }
            (MasterRequest::RefreshRegistry, Ok(CoordReply::Data { data, version })) => {
                self.on_registry_refreshed(ctx, data, version, out)
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
            (_, false) => {
                self.phase = Phase::Standby;
                out.event(Event::MasterStandby {
                    leader: leader.map(|l| l.master),
                });
            }
        }
    }

    pub(super) fn become_leader(&mut self, ctx: &Context, epoch: u64, out: &mut Out) {
        assert!(!matches!(self.phase, Phase::Leading(_) | Phase::Exited));
        self.phase = Phase::Leading(Box::new(Leader::new(epoch)));
        out.event(Event::ElectedLeader { epoch });
        self.coordinator_request(ctx, read_registry(), MasterRequest::ReadRegistry, out);
    }

    /// The registry is read: the leader knows which agents to expect back.
    pub(super) fn recover(
        &mut self,
        ctx: &Context,
        registry: Registry,
        version: Option<u64>,
        out: &mut Out,
    ) {
        let timing = self.config.timing.clone();
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        if leader.recovered {
            return;
        }
        leader.recovered = true;
        leader.awaiting_reregistration = registry.admitted.keys().cloned().collect();
        leader.registry = registry;
        leader.registry_version = version;
        out.event(Event::LeaderRecovered {
            epoch: leader.epoch,
            admitted_agents: leader.awaiting_reregistration.len(),
        });
        if !leader.awaiting_reregistration.is_empty() {
            out.set_timer(
                MasterTimer::AgentReregisterTimeout,
                ctx.now_ms + timing.agent_reregister_timeout_ms,
            );
        }
        out.set_timer(
            MasterTimer::Allocate,
            ctx.now_ms + timing.allocation_interval_ms,
        );
    }
}
