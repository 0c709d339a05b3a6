//! # The framework's own high availability: instances elect an active one
//!
//! Mesos leaves scheduler failover to the framework (Marathon, Aurora: a
//! ZooKeeper leader latch among the framework's instances). Here every
//! instance detects the leading master through the coordinator and joins the
//! framework's election (an ephemeral sequential node: the lowest is active);
//! the active one reads the framework's state and re-registers under the
//! stored framework ID with `failover = true` (`MesosSchedulerDriver`,
//! `Master::subscribe`).

use super::*;

impl Scheduler {
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
                ClientEvent::Watch { path, .. } if path == MASTERS_PATH => {
                    self.request(
                        ctx,
                        detector::list_masters(),
                        SchedulerRequest::ListMasters,
                        out,
                    );
                }
                ClientEvent::Watch { path, .. } if path == instances_path(self.name()) => {
                    self.list_instances(ctx, out);
                }
                ClientEvent::Watch { .. } => {}
                ClientEvent::Reply { tag, result } => self.on_reply(ctx, tag, result, out),
            }
        }
    }

    pub(super) fn list_instances(&mut self, ctx: &Context, out: &mut Out) {
        let op = CoordOp::GetChildren {
            path: instances_path(self.name()),
            watch: true,
        };
        self.request(ctx, op, SchedulerRequest::ListInstances, out);
    }

    pub(super) fn on_session_ready(&mut self, ctx: &Context, resumed: bool, out: &mut Out) {
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        self.request(
            ctx,
            detector::list_masters(),
            SchedulerRequest::ListMasters,
            out,
        );
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
        if self.is_active() && !self.state_loaded {
            self.request(
                ctx,
                read_state(self.name()),
                SchedulerRequest::ReadState,
                out,
            );
        }
        if self.write_outcome_unknown {
            self.request(
                ctx,
                read_state(self.name()),
                SchedulerRequest::RefreshState,
                out,
            );
        }
        self.pump_writes(ctx, out);
    }

    /// The session (and with it our candidacy) is gone: if we were active, we
    /// no longer are. Step down and rejoin as a standby.
    pub(super) fn on_session_lost(&mut self, out: &mut Out) {
        if self.is_active() {
            self.step_down("lost the coordinator session", out);
        }
        self.candidacy = None;
        if let Some(change) = self.detector.observe(None) {
            self.on_leader_change(change, out);
        }
    }

    pub(super) fn step_down(&mut self, why: &str, out: &mut Out) {
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
            (SchedulerRequest::ListMasters, Ok(CoordReply::Children { children })) => {
                if let Some(change) = self.detector.observe(Some(&children)) {
                    self.on_leader_change(change, out);
                }
            }
            (
                SchedulerRequest::Join,
                Ok(CoordReply::Created {
                    sequence: Some(seq),
                    ..
                }),
            ) => {
                self.candidacy = Some(seq);
                self.instance = InstanceState::Standby;
                self.list_instances(ctx, out);
            }
            (SchedulerRequest::ListInstances, Ok(CoordReply::Children { children })) => {
                self.on_instances(ctx, &children, out)
            }
            (SchedulerRequest::ReadState, Ok(CoordReply::Data { data, version })) => {
                self.on_state_read(ctx, Some((data, version)), out)
            }
            (SchedulerRequest::ReadState, Err(CoordError::NoNode)) => {
                self.on_state_read(ctx, None, out)
            }
            (SchedulerRequest::WriteState, Ok(CoordReply::Written { version })) => {
                self.on_state_written(ctx, version, out)
            }
            (SchedulerRequest::WriteState, Err(CoordError::ConnectionLoss)) => {
                self.write_outcome_unknown = true
            }
            (SchedulerRequest::WriteState, Err(_)) => {
                // BadVersion: another instance wrote the state — it is active, not us.
                self.step_down("the framework state was written by another instance", out);
            }
            (SchedulerRequest::RefreshState, Ok(CoordReply::Data { data, version })) => {
                self.on_state_refreshed(ctx, data, version, out)
            }
            // Anything else is re-requested on the next SessionReady.
            _ => {}
        }
    }

    pub(super) fn on_instances(&mut self, ctx: &Context, children: &[ChildNode], out: &mut Out) {
        let Some(mine) = self.candidacy else { return };
        let lowest = children.iter().filter_map(|c| c.sequence).min();
        if !children.iter().any(|c| c.sequence == Some(mine)) {
            self.step_down("our candidacy vanished", out);
            return;
        }
        match (lowest == Some(mine), self.is_active()) {
            (true, false) => {
                // Our turn: read the framework's state before doing anything.
                self.instance = InstanceState::Active;
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

    pub(super) fn on_state_read(
        &mut self,
        ctx: &Context,
        found: Option<(String, u64)>,
        out: &mut Out,
    ) {
        if !self.is_active() || self.state_loaded {
            return;
        }
        match found {
            Some((data, version)) => match serde_json::from_str(&data) {
                Ok(state) => {
                    self.state = state;
                    self.state_version = Some(version);
                }
                Err(e) => {
                    self.stop(ctx, format!("the framework state is corrupt: {e}"), out);
                    return;
                }
            },
            None => {
                self.state = FrameworkState::default();
                self.state_version = None;
            }
        }
        self.state_loaded = true;
        out.event(Event::SchedulerActive {
            framework_id: self.state.framework_id.clone(),
            known_tasks: self.state.tasks.len(),
        });
        // Connect to the leader we know of, if any.
        if let Some(leader) = self.detector.leader().cloned() {
            self.on_leader_change(Some(leader), out);
        }
        let _ = ctx;
    }
}
