//! # The framework's own high availability: electing the active instance
//!
//! Mesos does not elect a framework's schedulers. Its HA framework guide
//! (docs/high-availability-framework-guide.md) tells a framework to run
//! several scheduler instances, elect a leader among them through a
//! coordination service such as ZooKeeper, and have the new leader
//! re-register under the framework ID of the one it replaces. Real frameworks
//! do exactly that outside Mesos: Marathon and Aurora each run a ZooKeeper
//! leader election among their instances. This file is that election, on the
//! crate's coordinator, with the recipe the masters use (`master/election.rs`,
//! Mesos's `ZooKeeperMasterContender`): each instance creates an *ephemeral
//! sequential* node under `/frameworks/<name>/instances`; the lowest sequence
//! is the active instance; the others stand by and watch the listing.
//!
//! ```text
//! Joining --candidacy created--> Standby --lowest candidacy is mine--> Active
//!                                  ^                                     |
//!                                  +--- step down: session lost, our ---+
//!                                       node gone, a lower node, or a
//!                                       state write refused
//! any --FrameworkError from our master, or a corrupt state--> Stopped
//! ```
//!
//! Becoming active starts a *term*: the instance forgets what an earlier term
//! knew (`forget_term`), reads the framework's state (`on_state_read`), and
//! only then connects to the leading master (`master_link.rs`) and
//! re-registers under the stored framework ID with `failover = true`. The
//! master replaces the old scheduler with the new one and tells the old one
//! "Framework failed over" (Mesos: `Master::reregisterFramework` →
//! `Master::_subscribe` → `Master::failoverFramework`, src/master/master.cpp).
//!
//! The election alone cannot keep two instances from acting at once. The
//! coordinator client here never expires its session locally
//! (`Scheduler::new`): an instance cut off from the coordinator keeps
//! believing it is active until it reconnects and hears the session expired,
//! while another instance may already be active. Two guards close that gap:
//! the state's compare-and-set (`state_store.rs`: the stale instance's next
//! write fails and it steps down) and the master, which obeys only the last
//! scheduler to register and tells the previous one it failed over.
//!
//! ## What a standby does
//!
//! It keeps its session (and so its candidacy), watches the masters' group
//! and the candidacies, and nothing else: it reads no framework state — a
//! copy read early would be stale by the time it takes over, so a term reads
//! it at its start — and sends nothing to any master. Its only job is to
//! notice, from a listing, that its node has become the lowest.

use super::*;

impl Scheduler {
    /// What the coordinator client reports: the session is up or lost, a watch
    /// fired, or one of our requests was answered. A ZooKeeper watch fires once;
    /// re-listing with `watch: true` both reads the news and sets it again.
    pub(super) fn on_client_events(
        &mut self,
        ctx: &Context,
        events: Vec<ClientEvent<SchedulerRequest>>,
        out: &mut Out,
    ) {
        for event in events {
            match event {
                ClientEvent::SessionReady { resumed } => self.on_session_ready(ctx, resumed, out),
                ClientEvent::SessionLost => self.on_session_lost(out),
                // The masters' group changed, so the leader may have: list it again.
                ClientEvent::Watch { path, .. } if path == MASTERS_PATH => {
                    self.request(
                        ctx,
                        detector::list_masters(),
                        SchedulerRequest::ListMasters,
                        out,
                    );
                }
                // The candidacies changed: maybe it is our turn, or our node is gone.
                ClientEvent::Watch { path, .. } if path == instances_path(self.name()) => {
                    self.list_instances(ctx, out);
                }
                // Nothing else is watched.
                ClientEvent::Watch { .. } => {}
                ClientEvent::Reply { tag, result } => self.on_reply(ctx, tag, result, out),
            }
        }
    }

    /// Lists the candidacies, watching them; the answer goes to `on_instances`.
    pub(super) fn list_instances(&mut self, ctx: &Context, out: &mut Out) {
        let op = CoordOp::GetChildren {
            path: instances_path(self.name()),
            watch: true,
        };
        self.request(ctx, op, SchedulerRequest::ListInstances, out);
    }

    /// A session is usable, new or resumed after a reconnect.
    ///
    /// Every session re-lists the masters, standbys included: a watch set on a
    /// broken connection may be lost, and a standby that becomes active must
    /// know the leader at once (`on_state_read` connects to it straight away).
    ///
    /// A *new* session owns no candidacy (ephemeral nodes die with their
    /// session), so we join again. A *resumed* one still holds ours, so we redo
    /// the requests whose answers a broken connection lost (`ConnectionLoss`):
    /// the instances listing, the state read of a term just begun, and the
    /// read-back of a write whose outcome is unknown. Then any write that
    /// waited for the session goes out.
    pub(super) fn on_session_ready(&mut self, ctx: &Context, resumed: bool, out: &mut Out) {
        // A stopped instance has withdrawn and does nothing more.
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        self.request(
            ctx,
            detector::list_masters(),
            SchedulerRequest::ListMasters,
            out,
        );
        // A new session; or a resumed one whose `Join` answer was lost. Caveat
        // for the second: the lost create may have landed, leaving a node of this
        // session we do not recognise as ours (only sequences are compared, not
        // its data). If it is the lowest, no instance becomes active while this
        // session lives. The masters exit instead (`master/election.rs`);
        // ZooKeeper recipes give such nodes "protected" names to find them.
        if !resumed || self.candidacy.is_none() {
            self.candidacy = None;
            let op = CoordOp::Create {
                path: format!("{}/instance_", instances_path(self.name())),
                data: self.config.name.to_string(),
                ephemeral: true,
                sequential: true,
            };
            self.request(ctx, op, SchedulerRequest::Join, out);
            return;
        }
        self.list_instances(ctx, out);
        // Active, but the term's state read was lost with the connection.
        if self.is_active() && !self.state_loaded {
            self.request(
                ctx,
                read_state(self.name()),
                SchedulerRequest::ReadState,
                out,
            );
        }
        // A write's answer was lost: find out whether it landed before writing
        // anything else (`on_state_refreshed`).
        if self.write_outcome_unknown {
            self.request(
                ctx,
                read_state(self.name()),
                SchedulerRequest::RefreshState,
                out,
            );
        }
        // Writes that waited for a session go out now.
        self.pump_writes(ctx, out);
    }

    /// The session (and with it our candidacy) is gone: the coordinator deletes
    /// our ephemeral node, and another instance may be active already. Step down
    /// at once and rejoin as a standby on the next session. Mesos's masters do
    /// the same with their own candidacy (`Master::lostCandidacy` exits a
    /// leader); a framework that kept acting here would be the stale scheduler
    /// the master's failover handling has to fence off.
    pub(super) fn on_session_lost(&mut self, out: &mut Out) {
        if self.is_active() {
            self.step_down("lost the coordinator session", out);
        }
        // The new session creates a fresh candidacy (`on_session_ready`).
        self.candidacy = None;
        // Without a session we know nothing about the masters either: the leader
        // is forgotten, and the next session lists the group again.
        if let Some(change) = self.detector.observe(None) {
            self.on_leader_change(change, out);
        }
    }

    /// Gives up being the active instance: closes the master link and forgets
    /// the term. The candidacy node, if it still exists, is kept, so this
    /// instance stays a candidate for a later term. `why` goes to the trace.
    ///
    /// The master is not told: it sees the link close and keeps the framework's
    /// tasks for `failover_timeout` (Mesos `Master::exited`), long enough for the
    /// next active instance to re-register.
    pub(super) fn step_down(&mut self, why: &str, out: &mut Out) {
        // Only an active instance has a term to end.
        if !self.is_active() {
            return;
        }
        out.event(Event::SchedulerSteppedDown {
            why: why.to_string(),
        });
        self.instance = InstanceState::Standby;
        self.disconnect_master(out);
        self.forget_term();
    }

    /// Drops everything an active term knew; a new term reads the state again.
    ///
    /// Nothing may leak from one term into the next. A stale `state` and
    /// `state_version` would be written over what another instance wrote in
    /// between (the compare-and-set refuses it, but only after the damage of
    /// acting on it); queued acknowledgements would acknowledge updates no
    /// landed write reflects, so a successor would never see them again; queued
    /// accepts would launch tasks whose intent is not durable; `unpersisted`
    /// IDs may be handed out again by a successor. The adversary's memory is
    /// per term too (`Adversary::forget_term`).
    /// Drops everything an active term knew; a new term reads the state again.
    pub(super) fn forget_term(&mut self) {
        self.state = FrameworkState::default();
        self.state_version = None;
        self.state_loaded = false;
        self.dirty = false;
        self.write_in_flight = None;
        self.write_outcome_unknown = false;
        self.after_next_write.clear();
        self.unpersisted.clear();
        self.reconciling.clear();
        if let Some(adversary) = &mut self.adversary {
            adversary.forget_term();
        }
    }

    /// The answer to one of our coordinator requests, by tag.
    ///
    /// A request that failed with `ConnectionLoss` has an unknown outcome; the
    /// client follows it with `SessionReady` (resumed) or `SessionLost`, and
    /// `on_session_ready` redoes the reads. Two are not redone: a lost
    /// `Withdraw` (a stopped instance ignores `SessionReady`), and a `Join`
    /// whose node may exist (see the caveat in `on_session_ready`).
    pub(super) fn on_reply(
        &mut self,
        ctx: &Context,
        tag: SchedulerRequest,
        result: Result<CoordReply, CoordError>,
        out: &mut Out,
    ) {
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        match (tag, result) {
            // The masters' group: a change of leader goes to `on_leader_change`.
            (SchedulerRequest::ListMasters, Ok(CoordReply::Children { children })) => {
                if let Some(change) = self.detector.observe(Some(&children)) {
                    self.on_leader_change(change, out);
                }
            }
            // Our candidacy exists: we stand by until a listing says it is the lowest.
            (
                SchedulerRequest::Join,
                Ok(CoordReply::Created {
                    sequence: Some(seq),
                    ..
                }),
            ) => {
                self.become_candidate(seq);
                self.list_instances(ctx, out);
            }
            // Who holds the lowest node decides who is active: `on_instances`.
            (SchedulerRequest::ListInstances, Ok(CoordReply::Children { children })) => {
                self.on_instances(ctx, &children, out)
            }
            // The document and its version: our next write expects exactly that one.
            (SchedulerRequest::ReadState, Ok(CoordReply::Data { data, version })) => {
                self.on_state_read(ctx, Some((data, version)), out)
            }
            // No document yet: this framework has never registered.
            (SchedulerRequest::ReadState, Err(CoordError::NoNode)) => {
                self.on_state_read(ctx, None, out)
            }
            // Landed: release what waited for it (`state_store.rs`).
            (SchedulerRequest::WriteState, Ok(CoordReply::Written { version })) => {
                self.on_state_written(ctx, version, out)
            }
            // It may or may not have landed: `on_session_ready` reads it back.
            (SchedulerRequest::WriteState, Err(CoordError::ConnectionLoss)) => {
                self.write_outcome_unknown = true
            }
            (SchedulerRequest::WriteState, Err(_)) => {
                // BadVersion: someone wrote (or, for our first write, created) the state
                // since we read it — another instance is active, not us. NoNode: the
                // document was deleted; not ours to recreate.
                self.step_down("the framework state was written by another instance", out);
            }
            // The read-back of a write whose answer was lost.
            (SchedulerRequest::RefreshState, Ok(CoordReply::Data { data, version })) => {
                self.on_state_refreshed(ctx, data, version, out)
            }
            // Anything else: see the doc above. (A read-back that finds no document
            // lands here too, and `write_outcome_unknown` then stays set: a lost
            // first write, made with `ExpectedVersion::Absent`, is never retried.)
            _ => {}
        }
    }

    /// The candidacies, listed. The lowest sequence is the active instance — the
    /// masters' rule too (`detector::leader_of`). Our node missing means our
    /// session expired at the coordinator (`SessionLost` will follow); step down
    /// now, since another instance may already hold the lowest node.
    pub(super) fn on_instances(&mut self, ctx: &Context, children: &[ChildNode], out: &mut Out) {
        let Some(mine) = self.candidacy else { return };
        // Only sequential children are candidacies.
        let lowest = children.iter().filter_map(|c| c.sequence).min();
        if !children.iter().any(|c| c.sequence == Some(mine)) {
            self.step_down("our candidacy vanished", out);
            return;
        }
        // (true, false): our turn. (false, true): a node lower than an active
        // instance's — sequences only grow, so this is a guard, not a path.
        match (lowest == Some(mine), self.is_active()) {
            (true, false) => {
                // Our turn: a new term. Read the framework's state before doing anything.
                // `failover`: we re-register under the stored framework ID, replacing
                // whichever instance had it (Mesos's driver sets the same flag when given a
                // framework ID, in `SchedulerProcess`'s constructor, src/sched/sched.cpp).
                self.become_active();
                self.failover = true;
                self.forget_term();
                self.request(
                    ctx,
                    read_state(self.name()),
                    SchedulerRequest::ReadState,
                    out,
                );
            }
            (false, true) => self.step_down("another instance is active", out),
            _ => {}
        }
    }

    /// The state read at the start of a term (`None`: no document).
    ///
    /// From here this instance acts on what it read: the framework ID to
    /// re-register under, every task that may exist (each launch's intent was
    /// written before its accept went out), the volumes of stateful slots. Only
    /// now does it connect to the master: registering before knowing the
    /// framework ID would register a new framework and orphan the old one's
    /// tasks (the failure `Bug::StandbyRegistersNew` plants on purpose).
    pub(super) fn on_state_read(
        &mut self,
        ctx: &Context,
        found: Option<(String, u64)>,
        out: &mut Out,
    ) {
        // We stepped down since asking, or the state is loaded already.
        if !self.is_active() || self.state_loaded {
            return;
        }
        match found {
            Some((data, version)) => match serde_json::from_str(&data) {
                Ok(state) => {
                    self.state = state;
                    self.state_version = Some(version);
                }
                // Acting on a guess would be worse than stopping: a document we cannot
                // read may hold task IDs we must not reuse.
                Err(e) => {
                    self.stop(ctx, format!("the framework state is corrupt: {e}"), out);
                    return;
                }
            },
            // No document: start empty; the first write creates it
            // (`ExpectedVersion::Absent`, so two first writers cannot both succeed).
            None => {
                self.state = FrameworkState::default();
                self.state_version = None;
            }
        }
        self.state_loaded = true;
        // The trace's mark of a new term: the framework ID it took over (if any)
        // and how many tasks it must account for.
        out.event(Event::SchedulerActive {
            framework_id: self.state.framework_id.clone(),
            known_tasks: self.state.tasks.len(),
        });
        // Connect to the leader we know of, if any (the detector kept watching
        // while we stood by). Reconciliation follows the registration.
        if let Some(leader) = self.detector.leader().cloned() {
            self.on_leader_change(Some(leader), out);
        }
        let _ = ctx;
    }
}

// ----- transitions of the instance in the framework's election -----
//
// Joining → Standby (our candidacy exists) → Active (it is the lowest) →
// Standby (stepped down: `step_down` above) …; any → Stopped (`halt`,
// master_link.rs). Each change asserts where it may come from: an assertion
// that fires is a bug in the election logic, which could otherwise leave two
// active instances of one framework.
impl Scheduler {
    /// Joining or Standby → Standby with candidacy `seq`: our candidacy node
    /// exists (a first one, or a new one after the session was lost).
    pub(super) fn become_candidate(&mut self, seq: u64) {
        assert!(
            matches!(
                self.instance,
                InstanceState::Joining | InstanceState::Standby
            ) && self.candidacy.is_none(),
            "become_candidate({seq}) from {:?} with candidacy {:?}",
            self.instance,
            self.candidacy
        );
        self.candidacy = Some(seq);
        self.instance = InstanceState::Standby;
    }

    /// Standby → Active: our candidacy is the lowest. Only a candidate in
    /// standby can be elected: never a stopped instance, never twice.
    pub(super) fn become_active(&mut self) {
        assert!(
            self.instance == InstanceState::Standby && self.candidacy.is_some(),
            "become_active from {:?} with candidacy {:?}",
            self.instance,
            self.candidacy
        );
        self.instance = InstanceState::Active;
    }
}

#[cfg(test)]
mod tests {
    //! Every transition of the instance asserts where it may come from: these
    //! tests show the ones the framework's election does not allow panic.

    use super::*;

    fn scheduler() -> Scheduler {
        Scheduler::new(SchedulerConfig {
            name: "web-1".into(),
            coordinator: "coordinator".into(),
            framework: FrameworkInfo {
                name: "web".into(),
                role: "*".into(),
                principal: "web".into(),
                failover_timeout_ms: 60_000,
                partition_aware: false,
                id: None,
            },
            desired_tasks: 1,
            task_resources: Resources::new(1000, 0, 0),
            workload: WorkloadPlan::uniform(Workload::Forever),
            timing: Timing::default(),
            mode: SchedulerMode::Service,
            bug: None,
            adversary: None,
        })
    }

    #[test]
    fn the_allowed_path_joining_standby_active_standby_stopped() {
        let mut s = scheduler();
        assert_eq!(s.instance(), &InstanceState::Joining);
        s.become_candidate(4);
        assert_eq!(s.instance(), &InstanceState::Standby);
        s.become_active();
        assert!(s.is_active());
        let mut out = Outputs::new();
        s.step_down("test", &mut out);
        assert_eq!(s.instance(), &InstanceState::Standby);
        s.halt(&ctx(), "test".into(), false, &mut out);
        assert!(matches!(s.instance(), InstanceState::Stopped { .. }));
    }

    fn ctx() -> Context {
        Context {
            now_ms: 0,
            random: 0,
        }
    }

    #[test]
    #[should_panic(expected = "become_active from Joining")]
    fn an_instance_without_a_candidacy_is_never_active() {
        scheduler().become_active();
    }

    #[test]
    #[should_panic(expected = "become_active from Active")]
    fn an_active_instance_is_not_elected_twice() {
        let mut s = scheduler();
        s.become_candidate(4);
        s.become_active();
        s.become_active();
    }

    #[test]
    #[should_panic(expected = "become_candidate(5) from Standby with candidacy Some(4)")]
    fn an_instance_holds_one_candidacy() {
        let mut s = scheduler();
        s.become_candidate(4);
        s.become_candidate(5);
    }

    #[test]
    #[should_panic(expected = "become_active from Stopped")]
    fn a_stopped_instance_is_never_active() {
        let mut s = scheduler();
        s.become_candidate(4);
        s.halt(&ctx(), "refused".into(), false, &mut Outputs::new());
        s.become_active();
    }

    #[test]
    #[should_panic(expected = "halt: already stopped")]
    fn an_instance_stops_once() {
        let mut s = scheduler();
        s.halt(&ctx(), "refused".into(), false, &mut Outputs::new());
        s.halt(&ctx(), "again".into(), false, &mut Outputs::new());
    }
}
