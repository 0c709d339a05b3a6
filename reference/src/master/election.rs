//! # The master's coordinator session, candidacy and election
//!
//! Mesos masters elect their leader through ZooKeeper: each master joins a
//! group by creating an *ephemeral sequential* node under the masters' path
//! (`LeaderContenderProcess::contend` → `GroupProcess::join`, which creates
//! with `ZOO_SEQUENCE | ZOO_EPHEMERAL`, src/zookeeper/contender.cpp and
//! group.cpp). The node lives exactly as long as the master's session; the
//! lowest sequence number leads, and here that number is also the leader's
//! *epoch*: the coordinator never reuses a sequence number under one parent,
//! so every leader has a larger epoch than every leader before it. Each master
//! watches the group (`ZooKeeperMasterDetectorProcess::detect`,
//! src/master/detector/zookeeper.cpp) and reacts in `Master::detected` and
//! `Master::lostCandidacy` (src/master/master.cpp).
//!
//! This file is the master's side of that:
//!
//! - its requests to the coordinator and their answers
//!   ([`Master::on_client_events`], [`Master::on_coordinator_reply`]);
//! - the candidacy node, created once per session ([`Master::on_session_ready`]);
//! - watching the candidates and deciding what this master is
//!   ([`Master::on_leader_listing`]);
//! - the phase transitions, each a function that asserts the phase it leaves
//!   (`become_contending`, `become_standby`, `become_leader`; `exit` is in
//!   `mod.rs`), following the diagram of `mod.rs`;
//! - recovery: a new leader reads the registry before anything else
//!   ([`Leader::recover`], Mesos `Master::recover` → `Master::_recover`).
//!
//! ## Why a master exits instead of stepping down
//!
//! Whatever makes a leader doubt that it still leads — its session lost, its
//! candidacy node gone, another master seen leading, a registry write refused
//! because someone else wrote — ends the process (`Master::exit`, `mod.rs`).
//! Mesos does the same ("committing suicide", `Master::detected`,
//! `Master::lostCandidacy`): the leader's state is soft, so nothing is lost
//! by exiting, whereas a master that tried to step down in place would have to
//! undo commands it may already have sent. A supervisor restarts the process,
//! which joins again as a standby with a fresh session and a higher sequence
//! number. This crate exits on a lost candidacy in every phase; Mesos's
//! standby contends again instead, which changes nothing for safety.

use super::*;
use crate::bugs::master as bugs;

impl Master {
    /// Sends a request to the coordinator on this master's session, labelled
    /// with what it is for; false (and nothing sent) if the session is not ready.
    ///
    /// For the master's own requests: its candidacy, the group listing and the
    /// first registry read. A leader's handlers, which hold only `&mut Leader`,
    /// go through [`Env::request`] (`mod.rs`) instead. Nothing is queued while
    /// the session is down: [`Master::on_session_ready`] decides afresh what to
    /// ask once it is back.
    pub(super) fn coordinator_request(
        &mut self,
        ctx: &Context,
        op: CoordOp,
        tag: MasterRequest,
        out: &mut Out,
    ) -> bool {
        out.nested(MasterTimer::Coordinator, |sub| {
            self.coordinator.request(ctx, op, tag, sub)
        })
    }

    /// Acts on what the coordinator client reports, in order: the session
    /// became ready or was lost, a watch fired, a request was answered.
    ///
    /// The client returns several events from one input (a reconnect may fail
    /// pending requests and then report the session lost); processing stops at
    /// the first that makes the master exit, since an exited master handles
    /// nothing more.
    pub(super) fn on_client_events(
        &mut self,
        ctx: &Context,
        events: Vec<ClientEvent<MasterRequest>>,
        out: &mut Out,
    ) {
        for event in events {
            // An earlier event of this list made the master exit.
            if matches!(self.phase, Phase::Exited) {
                return;
            }
            match event {
                // New or resumed session: create the candidacy or re-read what the
                // lost connection may have hidden.
                ClientEvent::SessionReady { resumed } => self.on_session_ready(ctx, resumed, out),
                ClientEvent::SessionLost => {
                    // Planted-bug hook (`bugs/master.rs`).
                    if bugs::leader_survives_session_loss(self.config.bug, self.leader().is_some())
                    {
                        continue;
                    }
                    // Our candidacy node dies with the session: whatever we were,
                    // we can no longer be (or become) the leader safely. Another
                    // master may be elected as soon as the coordinator deletes the
                    // node, so a leader that went on would lead alongside it (the
                    // planted bug above is exactly that). Mesos: the contender's
                    // candidacy future fails and `Master::lostCandidacy` exits.
                    self.exit("lost the coordinator session", out);
                }
                // A master joined or left the group. Coordinator watches fire once
                // (as ZooKeeper's do): listing again with `watch: true` both learns
                // the new membership and re-arms the watch.
                ClientEvent::Watch { path, .. } if path == MASTERS_PATH => {
                    self.coordinator_request(
                        ctx,
                        detector::list_masters(),
                        MasterRequest::ListMasters,
                        out,
                    );
                }
                // No other path is watched by a master.
                ClientEvent::Watch { .. } => {}
                // The answer to one of our requests; the tag says which.
                ClientEvent::Reply { tag, result } => {
                    self.on_coordinator_reply(ctx, tag, result, out)
                }
            }
        }
    }

    /// The session is usable (`resumed`: the same session as before a
    /// reconnect, its ephemeral nodes intact; otherwise a brand-new one).
    ///
    /// Without a candidacy yet, a new session creates the candidacy node. With
    /// one, the session must be the one that owns it: watches may have been lost
    /// with the connection (Mesos's `GroupProcess::connected` re-syncs the group
    /// on every reconnect), so the group is listed again, and a leader asks again
    /// for whatever registry answer the lost connection may have swallowed
    /// (`Leader::on_session_resumed`, `registrar.rs`).
    pub(super) fn on_session_ready(&mut self, ctx: &Context, resumed: bool, out: &mut Out) {
        if self.candidacy.is_none() {
            if resumed {
                // A resumed session with no known candidacy: a create may have
                // been lost with the connection, so a node of ours may exist
                // whose sequence number we do not know. Guessing could make us
                // ignore our own node, or act on one that is not ours. Start
                // over cleanly: exiting abandons the session, and any orphan node
                // disappears when the coordinator expires it, like a crashed
                // master's.
                self.exit("candidacy outcome unknown after reconnect", out);
                return;
            }
            // The candidacy: ephemeral (it dies with the session, so a crashed
            // or partitioned master stops being a candidate by itself) and
            // sequential (the coordinator appends a number that orders the
            // candidates; the lowest leads). Its data is this master's name,
            // which is how agents and schedulers learn whom to talk to.
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
        // (With the planted `leader-survives-session-loss` bug a new session can
        // also get here while a candidacy is known; the listing then shows our node
        // gone and the master exits, ending the bug's window.)
        self.coordinator_request(
            ctx,
            detector::list_masters(),
            MasterRequest::ListMasters,
            out,
        );
        // Only a leader has registry reads or writes to recover.
        self.lead(ctx, out, |leader, env, out| {
            leader.on_session_resumed(env, out)
        });
    }

    /// Acts on the answer to one of the master's coordinator requests.
    ///
    /// The rule for every request: an answer that proves another master has
    /// acted (a registry write refused) or that this master cannot go on (its
    /// candidacy could not be created, the registry cannot be read) makes it exit;
    /// `ConnectionLoss`, which says only that the outcome is unknown, is left to
    /// the next `SessionReady`, which asks again ([`Master::on_session_ready`]).
    /// Answers meant for the leader go through [`Master::lead`], which does
    /// nothing if this master no longer leads.
    pub(super) fn on_coordinator_reply(
        &mut self,
        ctx: &Context,
        tag: MasterRequest,
        result: Result<CoordReply, CoordError>,
        out: &mut Out,
    ) {
        match (tag, result) {
            // The candidacy exists; its sequence number is our place in line.
            // List the group at once (with a watch) to learn who leads.
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
            // No candidacy: this master can never lead on this session.
            (MasterRequest::Join, _) => self.exit("could not create the candidacy node", out),
            // The group's membership. Whether our own node is still in it matters
            // as much as who is lowest: a node gone while the session lives means
            // someone deleted it, and we are no longer a candidate.
            (MasterRequest::ListMasters, Ok(CoordReply::Children { children })) => {
                self.detector.observe(Some(&children));
                let mine_present = children.iter().any(|c| c.sequence == self.candidacy);
                self.on_leader_listing(ctx, self.detector.leader().cloned(), mine_present, out);
            }
            // A failed listing is a lost connection: the next `SessionReady` lists
            // again, and a lost session makes the master exit anyway.
            (MasterRequest::ListMasters, _) => {} // re-read on the next SessionReady
            // The first registry read of a new leader (`become_leader`). A registry
            // this master cannot decode makes it exit rather than lead without knowing
            // which agents were admitted (Mesos: `RegistrarProcess::_recover` fails
            // recovery, and `Master::detected` exits on a failed recovery).
            (MasterRequest::ReadRegistry, Ok(CoordReply::Data { data, version })) => {
                match Registry::decode(&data) {
                    Ok(registry) => self.lead(ctx, out, |leader, env, out| {
                        leader.recover(env, registry, Some(version), out)
                    }),
                    Err(e) => self.exit(&e, out),
                }
            }
            // No registry yet: the first leader of the cluster. It starts from the
            // empty registry, and its first write creates the node.
            (MasterRequest::ReadRegistry, Err(CoordError::NoNode)) => {
                self.lead(ctx, out, |leader, env, out| {
                    leader.recover(env, Registry::default(), None, out)
                })
            }
            // Unknown outcome: the leader stays unrecovered, and
            // `Leader::on_session_resumed` reads again once the session is back.
            (MasterRequest::ReadRegistry, Err(CoordError::ConnectionLoss)) => {}
            // Any other answer (an unexpected reply, or an error such as a session
            // the coordinator no longer knows): recovery cannot proceed, so exit and
            // let another master (or this one, restarted) try.
            (MasterRequest::ReadRegistry, Ok(_) | Err(_)) => {
                self.exit("could not read the registry", out)
            }
            // The compare-and-set write landed: the registrar adopts what it wrote
            // and runs what was waiting for it to be durable (`registrar.rs`).
            (MasterRequest::WriteRegistry, Ok(CoordReply::Written { version })) => {
                self.lead(ctx, out, |leader, env, out| {
                    leader.on_registry_written(env, version, out)
                })
            }
            // The write may or may not have landed. The registrar must not guess
            // (retrying a write that landed would fail on the version and make this
            // master exit; assuming it landed could act on a decision never stored):
            // it finds out by re-reading once the session is back.
            (MasterRequest::WriteRegistry, Err(CoordError::ConnectionLoss)) => {
                self.lead(ctx, out, |leader, _, _| {
                    leader.registry_outcome_unknown = true
                })
            }
            // Anything else — a version mismatch, or the node created meanwhile when
            // we expected it absent — means another master has written the registry,
            // so it leads or has led since we read it. Mesos's registrar aborts on a
            // failed store (`RegistrarProcess::_update` → `abort`), and the master
            // dies on the failed operation. A write refused because our own session
            // has expired lands here too, and exiting is right for it as well.
            (MasterRequest::WriteRegistry, Ok(_) | Err(_)) => {
                // BadVersion: someone else wrote the registry — another leader.
                self.exit("registry write refused: another master has written it", out)
            }
            // The re-read after an unknown write outcome: did our write land?
            (MasterRequest::RefreshRegistry, Ok(CoordReply::Data { data, version })) => {
                self.lead(ctx, out, |leader, env, out| {
                    leader.on_registry_refreshed(env, data, version, out)
                })
            }
            // Still unknown; `registry_outcome_unknown` stays set, so the next
            // resumed session asks again.
            (MasterRequest::RefreshRegistry, Err(CoordError::ConnectionLoss)) => {}
            // The registry node cannot be read (for instance it does not exist
            // because our very first write did not land): exit rather than guess.
            (MasterRequest::RefreshRegistry, Ok(_) | Err(_)) => {
                self.exit("could not re-read the registry", out)
            }
        }
    }

    /// Decides what this master is, given who leads (`leader`: the lowest
    /// candidacy of the listing) and whether our own candidacy is still listed.
    ///
    /// Mesos's `Master::detected` makes the same decisions: elected for the first
    /// time → recover; elected again → nothing; someone else elected while we
    /// led, or nobody → exit ("Conceded leadership to another master...
    /// committing suicide!"); someone else elected and we did not lead → stay a
    /// follower.
    pub(super) fn on_leader_listing(
        &mut self,
        ctx: &Context,
        leader: Option<LeaderInfo>,
        mine_present: bool,
        out: &mut Out,
    ) {
        // Listings are asked for only once the candidacy exists.
        let Some(mine) = self.candidacy else { return };
        // Our node is gone while our session lives (its deletion by someone else,
        // or a listing that raced with the session's expiry): we are no longer a
        // candidate, and the lowest remaining one may already act as leader.
        if !mine_present {
            self.exit("my candidacy node vanished", out);
            return;
        }
        // We lead exactly when the lowest sequence is ours.
        let leading_me = leader.as_ref().is_some_and(|l| l.epoch == mine);
        match (&self.phase, leading_me) {
            // A re-listing that still shows us first (a watch fired for another
            // master, or a reconnect): nothing changes.
            (Phase::Leading(_), true) => {}
            // We believe we lead but another node is lowest: that master may already
            // be acting as leader, so exit at once.
            (Phase::Leading(_), false) => self.exit("another master leads", out),
            // Contending or standby, and now first in line: lead.
            (_, true) => self.become_leader(ctx, mine, out),
            // Still a standby under a (possibly new) leader.
            (Phase::Standby, false) => {}
            // Contending, and someone else is first: wait as a standby.
            (_, false) => self.become_standby(leader.map(|l| l.master), out),
        }
    }

    // ----- transitions -----
    //
    // Each change of phase is one function that asserts where it may come
    // from (the diagram in `mod.rs`). An assertion that fires is a bug in the
    // election logic above, never a situation to handle: a master that got
    // here in the wrong phase could lead twice or act on a lost candidacy.

    /// Joining → Contending: the candidacy node exists, with sequence `seq`,
    /// which stays this master's place in line for the life of its session.
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

    /// Contending → Standby: another master's candidacy is the lowest. A standby
    /// does nothing but watch the group; every message sent to it is ignored
    /// (`Master::step`, `mod.rs`). `leader` is traced so a timeline shows whom it
    /// deferred to.
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
    /// a new one, so `Leader::on_message` ignores everything meanwhile (Mesos's
    /// `Master::consume` drops every message "since not recovered yet").
    ///
    /// The new [`Leader`] starts empty: no agents, frameworks, tasks or offers.
    /// All of that comes back through re-registrations (`agents.rs`,
    /// `frameworks.rs`); a leader that carried state over from an earlier term
    /// would be the very thing Mesos's design rules out.
    pub(super) fn become_leader(&mut self, ctx: &Context, epoch: u64, out: &mut Out) {
        assert!(
            matches!(self.phase, Phase::Contending | Phase::Standby)
                && self.candidacy == Some(epoch),
            "become_leader({epoch}) from {} (candidacy {:?})",
            self.phase_name(),
            self.candidacy
        );
        // A fresh soft state for this epoch: IDs this leader assigns carry it
        // (`e<epoch>-S…`, `-F…`, `-O…`), so they never collide with a previous
        // leader's.
        self.phase = Phase::Leading(Box::new(Leader::new(epoch)));
        out.event(Event::ElectedLeader { epoch });
        // If the session is not ready the read is not sent; it is sent again
        // from `Leader::on_session_resumed` when the session comes back.
        self.coordinator_request(ctx, read_registry(), MasterRequest::ReadRegistry, out);
    }
}

impl Leader {
    /// The registry is read: the leader knows which agents to expect back, and
    /// starts acting (Mesos `Master::_recover`).
    ///
    /// `version` is the registry node's version (`None`: no node yet): the
    /// registrar's first compare-and-set write expects exactly it, so a write by
    /// any other master since this read makes ours fail and this master exit.
    pub(super) fn recover(
        &mut self,
        env: &mut Env<'_>,
        registry: Registry,
        version: Option<u64>,
        out: &mut Out,
    ) {
        let timing = env.config.timing.clone();
        // Only the first answer counts: recovery starts the timers below and
        // must not reset an agent table that re-registrations have begun to fill.
        if self.recovered {
            return;
        }
        self.recovered = true;
        // Every admitted agent is expected back (Mesos's `slaves.recovered`).
        // Agents listed unreachable are not waited for: they come back, if ever,
        // through `MarkReachable` (`on_reregister_agent`, `agents.rs`).
        self.awaiting_reregistration = registry.admitted.keys().cloned().collect();
        self.registry = registry;
        // The version the registrar's next write must expect.
        self.registry_version = version;
        out.event(Event::LeaderRecovered {
            epoch: self.epoch,
            admitted_agents: self.awaiting_reregistration.len(),
        });
        // Agents that do not re-register within `agent_reregister_timeout` are
        // marked unreachable, so their tasks are reported lost instead of
        // staying in limbo (Mesos's `recoveredSlavesTimeout`, armed in
        // `Master::_recover`; `tick_reregister_timeout`, `agents.rs`). With no
        // agent to wait for there is nothing to time out.
        if !self.awaiting_reregistration.is_empty() {
            out.set_timer(
                MasterTimer::AgentReregisterTimeout,
                env.ctx.now_ms + timing.agent_reregister_timeout_ms,
            );
        }
        // The allocator starts now (`tick_allocate`, `offers.rs`); agents that
        // re-register before it first runs are offered at once.
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

    /// A master with default timing and no planted bug, in `Joining`.
    fn master() -> Master {
        Master::new(MasterConfig {
            name: "master-1".into(),
            coordinator: "coordinator".into(),
            timing: Timing::default(),
            removed_agent_policy: RemovedAgentPolicy::Reregister,
            bug: None,
        })
    }

    /// A context at time 0; no test here depends on the clock.
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

    /// The diagram's main path is allowed: Joining → Contending (at the node's
    /// sequence) → Standby → Leading under that same sequence as the epoch.
    /// Catches a transition guard that is too strict (a standby that could
    /// never take over when the leader dies).
    #[test]
    fn the_allowed_path_joining_contending_standby_leading() {
        let mut m = contending();
        assert!(matches!(m.phase(), Phase::Contending));
        m.become_standby(Some("master-0".into()), &mut Outputs::new());
        assert!(matches!(m.phase(), Phase::Standby));
        m.become_leader(&ctx(), 7, &mut Outputs::new());
        assert_eq!(m.leading_epoch(), Some(7));
    }

    /// A master that never created a candidacy node cannot lead: it has no
    /// place in line, so leading would be leading without an election.
    #[test]
    #[should_panic(expected = "become_leader(7) from Joining")]
    fn a_master_without_a_candidacy_cannot_lead() {
        master().become_leader(&ctx(), 7, &mut Outputs::new());
    }

    /// Being elected twice would replace the leader's soft state with an empty
    /// one mid-term (and re-read the registry): the second election panics.
    /// Catches `on_leader_listing` treating a re-listing as a new election.
    #[test]
    #[should_panic(expected = "become_leader(7) from Leading")]
    fn a_leader_cannot_be_elected_again() {
        let mut m = contending();
        m.become_leader(&ctx(), 7, &mut Outputs::new());
        m.become_leader(&ctx(), 7, &mut Outputs::new());
    }

    /// The epoch is the candidacy's sequence number and nothing else: a master
    /// asked to lead under another number panics. An epoch not tied to the
    /// candidacy could be lower than a previous leader's and let a deposed
    /// leader's messages pass for current ones.
    #[test]
    #[should_panic(expected = "become_leader(8) from Contending (candidacy Some(7))")]
    fn a_master_leads_only_under_its_own_sequence_number() {
        contending().become_leader(&ctx(), 8, &mut Outputs::new());
    }

    /// Exiting is final: an exited master is never elected again (its process
    /// is restarted with a new session instead).
    #[test]
    #[should_panic(expected = "become_leader(7) from Exited")]
    fn an_exited_master_cannot_lead() {
        let mut m = contending();
        m.exit("test", &mut Outputs::new());
        m.become_leader(&ctx(), 7, &mut Outputs::new());
    }

    /// A leader that sees another master lead exits; it never becomes a
    /// standby. Catches a "step down" path that would keep a deposed leader's
    /// process (and whatever it still has in flight) alive.
    #[test]
    #[should_panic(expected = "become_standby from Leading")]
    fn a_leader_never_steps_down_to_standby() {
        // Mesos's master aborts instead (`Master::detected`: "Conceded
        // leadership to another master... committing suicide!", and
        // `Master::lostCandidacy` when its own candidacy is lost): a leader
        // that quietly became a standby could still have commands in flight.
        let mut m = contending();
        m.become_leader(&ctx(), 7, &mut Outputs::new());
        m.become_standby(None, &mut Outputs::new());
    }

    /// One candidacy per session: creating a second node would put the master
    /// in line twice, and the lower node could make it lead while it believes
    /// it is a standby.
    #[test]
    #[should_panic(expected = "become_contending from Contending")]
    fn a_master_has_one_candidacy() {
        contending().become_contending(9, &mut Outputs::new());
    }
}
