//! # Leader detection: whom the agent obeys
//!
//! Mesos: the agent's master detector (`ZooKeeperMasterDetectorProcess` in
//! src/master/detector/zookeeper.cpp, over `LeaderDetectorProcess` in
//! src/zookeeper/detector.cpp, which picks the member of `/mesos/masters` with
//! the lowest sequence number) hands every change of leader to
//! `Slave::detected` (src/slave/slave.cpp). `Slave::detected` forgets the old
//! master, pauses the status update streams and schedules a registration with
//! the new one after a random delay. Here the coordinator client reads the
//! group, [`crate::detector::MasterDetector`] picks the leader, and
//! `on_leader_change` moves the agent's [`MasterLink`].
//!
//! The agent learns who leads **only from the coordinator**, never from a
//! master's own say-so: a deposed leader cut off from the coordinator still
//! believes it leads, and would keep commanding agents that took its word.
//! A new leader (or none) ends the link to the old one; whom the agent then
//! obeys — only that master, at that epoch — is checked where commands
//! arrive: `registration.rs`, `accept_from_leader` and `accept_from_detected`.
//!
//! Detection starts only once recovery is complete (`recovery.rs`,
//! `start_detection`), as Mesos's `Slave::__recover` calls `detector->detect()`
//! only then.

use super::*;

impl Agent {
    /// Turns what the coordinator client reports into leader changes.
    ///
    /// Every path that may have lost the watch lists the group again: a new or
    /// resumed session (a watch set on a broken connection may be gone) and
    /// the watch itself (coordinator watches, like ZooKeeper's, fire once and
    /// are set again only by the next read, which `list_masters` does).
    pub(super) fn on_client_events(
        &mut self,
        ctx: &Context,
        events: Vec<ClientEvent<AgentRequest>>,
        out: &mut Out,
    ) {
        for event in events {
            match event {
                ClientEvent::SessionReady { .. } => self.list_masters(ctx, out),
                ClientEvent::Watch { path, .. } if path == MASTERS_PATH => {
                    self.list_masters(ctx, out)
                }
                // The agent sets no other watch.
                ClientEvent::Watch { .. } => {}
                // An expired session means "no leader known", not "the old
                // leader still leads": Mesos's `GroupProcess::expired`
                // (src/zookeeper/group.cpp) empties the group's memberships,
                // so every detector reports no leader until it reads again.
                // Obeying a remembered leader through a session outage is
                // how an agent would follow a master that has been replaced.
                ClientEvent::SessionLost => {
                    if let Some(change) = self.detector.observe(None) {
                        self.on_leader_change(ctx, change, out);
                    }
                }
                ClientEvent::Reply {
                    tag: AgentRequest::ListMasters,
                    result,
                } => {
                    // A lost answer is re-requested on the next SessionReady.
                    if let Ok(CoordReply::Children { children }) = result {
                        if let Some(change) = self.detector.observe(Some(&children)) {
                            self.on_leader_change(ctx, change, out);
                        }
                    }
                }
            }
        }
    }

    /// Lists the masters' group with a watch
    /// ([`crate::detector::list_masters`]). A request made while the session
    /// is not ready is dropped by the client; the next `SessionReady` asks
    /// again, so nothing needs to remember it.
    pub(super) fn list_masters(&mut self, ctx: &Context, out: &mut Out) {
        out.nested(AgentTimer::Coordinator, |sub| {
            self.coordinator.request(
                ctx,
                detector::list_masters(),
                AgentRequest::ListMasters,
                sub,
            )
        });
    }

    /// A new leader was detected, or none is known (Mesos `Slave::detected`).
    ///
    /// The link to the old master is closed — so that master sees the agent
    /// leave, and nothing more of it is read — and the pending registration
    /// attempt and ping timeout are cancelled (`Slave::detected` cancels
    /// `agentRegistrationTimer` likewise), since both concern the old master.
    /// With a leader, the agent dials it at once; the first registration
    /// message waits a random delay once connected (`registration.rs`,
    /// `on_master_connected`). Mesos instead waits first and links only when
    /// it registers (MESOS-5330, in `Slave::doReliableRegistration`), so that
    /// agents do not all open connections to a new master at once; here the
    /// connections are opened together and only the messages are spread.
    /// With no leader the agent is `Idle` and waits for the next detection,
    /// as Mesos's agent does (`Slave::detected`: "Lost leading master").
    ///
    /// Status updates are not paused explicitly, as Mesos's
    /// `TaskStatusUpdateManager::pause` does: `tasks.rs`, `send_stream_head`,
    /// sends only while `Registered`, which has the same effect.
    pub(super) fn on_leader_change(
        &mut self,
        ctx: &Context,
        leader: Option<LeaderInfo>,
        out: &mut Out,
    ) {
        out.event(Event::LeaderDetected {
            leader: leader.as_ref().map(|l| l.master.clone()),
            epoch: leader.as_ref().map(|l| l.epoch),
        });
        if let Some(old) = self.leader_process().cloned() {
            out.disconnect(&old);
        }
        out.cancel_timer(AgentTimer::RegisterRetry);
        out.cancel_timer(AgentTimer::PingTimeout);
        // The new epoch is remembered with the link: every later command must
        // carry it. The same master elected again (a new candidacy, a higher
        // epoch) is a new leader too, and is re-registered with.
        match leader {
            None => self.master.become_idle(),
            Some(LeaderInfo { master, epoch }) => {
                out.connect(&master);
                self.master.become_connecting(master, epoch);
            }
        }
        // `ctx` is unused: the jitter of the first registration is drawn only
        // once the connection is up.
        let _ = ctx;
    }
}
