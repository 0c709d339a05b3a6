//! # Leader detection: whom the agent obeys
//!
//! Mesos `StandaloneMasterDetector`/`ZooKeeperMasterDetector` and
//! `Slave::detected`: the agent learns who leads only from the coordinator;
//! a new leader (or none) ends its link to the old one. (Whom it then obeys —
//! only that master — is checked where commands arrive: `registration.rs`,
//! `accept_from_leader`.)

use super::*;

impl Agent {
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
                ClientEvent::Watch { .. } => {}
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

    pub(super) fn list_masters(&mut self, ctx: &Context, out: &mut Out) {
        let mut sub = Outputs::new();
        self.coordinator.request(
            ctx,
            detector::list_masters(),
            AgentRequest::ListMasters,
            &mut sub,
        );
        out.absorb(sub, AgentTimer::Coordinator);
    }

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
        match leader {
            None => self.master = MasterLink::Idle,
            Some(LeaderInfo { master, epoch }) => {
                out.connect(&master);
                self.master = MasterLink::Connecting { master, epoch };
            }
        }
        let _ = ctx;
    }
}
