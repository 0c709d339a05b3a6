//! # The link to the leading master
//!
//! The scheduler driver's side of Mesos's framework protocol: connect to the
//! detected leader, (re-)register with backoff (`SUBSCRIBE`, `failover`),
//! reconcile every task after a (re-)registration (`Master::reconcile`, retried
//! with backoff until answered), and handle `FrameworkErrorMessage`.

use super::*;

impl Scheduler {
    pub(super) fn disconnect_master(&mut self, out: &mut Out) {
        if let Some(old) = self.master().cloned() {
            out.disconnect(&old);
        }
        out.cancel_timer(SchedulerTimer::RegisterRetry);
        out.cancel_timer(SchedulerTimer::ReconcileRetry);
        self.link = SchedulerLink::Idle;
    }

    pub(super) fn on_leader_change(&mut self, leader: Option<LeaderInfo>, out: &mut Out) {
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        out.event(Event::LeaderDetected {
            leader: leader.as_ref().map(|l| l.master.clone()),
            epoch: leader.as_ref().map(|l| l.epoch),
        });
        // Only the active instance, once it knows the framework's state, talks
        // to the master.
        if !(self.is_active() && self.state_loaded) {
            return;
        }
        self.disconnect_master(out);
        if let Some(LeaderInfo { master, epoch }) = leader {
            out.connect(&master);
            self.link = SchedulerLink::Connecting { master, epoch };
        }
    }

    pub(super) fn registration_message(&self) -> Message {
        let planted = self.config.bug == Some(crate::bugs::Bug::StandbyRegistersNew);
        match &self.state.framework_id {
            // The planted defect: a taking-over instance registers afresh.
            Some(_) if planted && self.failover => Message::RegisterFramework {
                info: self.config.framework.clone(),
            },
            None => Message::RegisterFramework {
                info: self.config.framework.clone(),
            },
            Some(fid) => Message::ReregisterFramework {
                info: FrameworkInfo {
                    id: Some(fid.clone()),
                    ..self.config.framework.clone()
                },
                failover: self.failover,
            },
        }
    }

    pub(super) fn on_master_connected(&mut self, ctx: &Context, out: &mut Out) {
        let SchedulerLink::Connecting { master, epoch } = self.link.clone() else {
            return;
        };
        // The scheduler driver registers at once and retries with backoff.
        out.send(&master, self.registration_message());
        self.link = SchedulerLink::Registering {
            master,
            epoch,
            attempt: 0,
        };
        // Retries wait a random time in [0, factor · 2^n] (Mesos's scheduler
        // driver starts at the factor, 2 s, and doubles).
        let timing = &self.config.timing;
        let delay = timing.backoff_ms(timing.scheduler_registration_backoff_ms, 0, ctx.random);
        out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
    }

    pub(super) fn on_master_link_lost(&mut self, ctx: &Context, out: &mut Out) {
        let (master, epoch) = match &self.link {
            SchedulerLink::Connecting { master, epoch }
            | SchedulerLink::Registering { master, epoch, .. }
            | SchedulerLink::Registered { master, epoch } => (master.clone(), *epoch),
            SchedulerLink::Idle => return,
        };
        self.link = SchedulerLink::Connecting { master, epoch };
        out.cancel_timer(SchedulerTimer::ReconcileRetry);
        let timing = &self.config.timing;
        let delay = timing.backoff_ms(timing.scheduler_registration_backoff_ms, 0, ctx.random);
        out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
    }

    pub(super) fn tick_register_retry(&mut self, ctx: &Context, out: &mut Out) {
        match self.link.clone() {
            SchedulerLink::Connecting { master, .. } => out.connect(&master),
            SchedulerLink::Registering {
                master,
                epoch,
                attempt,
            } => {
                out.send(&master, self.registration_message());
                self.link = SchedulerLink::Registering {
                    master,
                    epoch,
                    attempt: attempt + 1,
                };
                let timing = &self.config.timing;
                let delay = timing.backoff_ms(
                    timing.scheduler_registration_backoff_ms,
                    attempt + 1,
                    ctx.random,
                );
                out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
            }
            _ => {}
        }
    }

    pub(super) fn on_registered(
        &mut self,
        ctx: &Context,
        from: ProcessId,
        epoch: u64,
        fid: FrameworkId,
        reregistered: bool,
        out: &mut Out,
    ) {
        let SchedulerLink::Registering { master, .. } = &self.link else {
            return;
        };
        if *master != from {
            return;
        }
        if self
            .state
            .framework_id
            .as_ref()
            .is_some_and(|mine| *mine != fid)
        {
            return;
        }
        let new_id = self.state.framework_id.is_none();
        self.state.framework_id = Some(fid.clone());
        self.failover = false;
        self.link = SchedulerLink::Registered {
            master: from.clone(),
            epoch,
        };
        out.cancel_timer(SchedulerTimer::RegisterRetry);
        out.event(Event::SchedulerRegistered {
            framework_id: fid,
            master: from,
            epoch,
            reregistered,
        });
        if new_id {
            self.changed(ctx, out);
        }
        self.reconcile_all(ctx, out);
        self.adversary_on_registered(ctx, out);
    }

    /// Asks the master about every task we believe may be running (Mesos
    /// reconciliation, recommended after every (re-)registration). Offers are
    /// declined until every answer is in.
    ///
    /// A task whose launch intent is not durable yet is left out: the master
    /// cannot know it (its accept has not been sent), and asking would make
    /// the ID public before it is ours for good (see `unpersisted`). Mesos's
    /// reconciliation guide likewise assumes the intent was persisted first.
    pub(super) fn reconcile_all(&mut self, ctx: &Context, out: &mut Out) {
        let in_flight = self.write_in_flight.as_ref().map(|w| &w.launches);
        self.reconciling = self
            .state
            .tasks
            .iter()
            .filter(|(_, t)| !t.state.is_terminal())
            .map(|(id, _)| id)
            .filter(|id| !self.unpersisted.contains(*id))
            .filter(|id| !in_flight.is_some_and(|l| l.contains(*id)))
            .cloned()
            .collect();
        self.reconcile_backoff_ms = self.config.timing.status_update_retry_ms;
        self.send_reconcile(ctx, out);
    }

    pub(super) fn send_reconcile(&mut self, ctx: &Context, out: &mut Out) {
        if self.reconciling.is_empty() {
            return;
        }
        let (Some(fid), Some((master, _))) =
            (self.state.framework_id.clone(), self.registered_with())
        else {
            return;
        };
        let master = master.clone();
        let tasks = self
            .reconciling
            .iter()
            .map(|task_id| ReconcileTask {
                agent_id: self
                    .state
                    .tasks
                    .get(task_id)
                    .and_then(|t| t.agent_id.clone()),
                task_id: task_id.clone(),
            })
            .collect();
        out.send(
            &master,
            Message::Reconcile {
                framework_id: fid,
                tasks,
            },
        );
        let timing = &self.config.timing;
        let cap = timing
            .registration_backoff_max_ms
            .max(timing.status_update_retry_ms);
        let wait = self
            .reconcile_backoff_ms
            .clamp(timing.status_update_retry_ms, cap);
        self.reconcile_backoff_ms = wait.saturating_mul(2);
        out.set_timer(SchedulerTimer::ReconcileRetry, ctx.now_ms + wait);
    }

    /// Whether `from` is the master we are registered with.
    pub(super) fn is_from_leader(&self, from: &ProcessId, kind: &str, out: &mut Out) -> bool {
        let ok = matches!(&self.link, SchedulerLink::Registered { master, .. } if master == from);
        if !ok {
            out.event(Event::MessageIgnored {
                from: from.clone(),
                kind: kind.to_string(),
                why: "not from the master this scheduler is registered with".into(),
            });
        }
        ok
    }

    pub(super) fn stop(&mut self, ctx: &Context, error: String, out: &mut Out) {
        self.halt(ctx, error, true, out);
    }

    /// Stops this instance for good; `disconnect`: close the master link too
    /// (an aborted driver). A torn-down framework's driver keeps its link open
    /// so that the teardown it just queued still reaches the master.
    pub(super) fn halt(&mut self, ctx: &Context, error: String, disconnect: bool, out: &mut Out) {
        out.event(Event::SchedulerError {
            message: error.clone(),
        });
        if disconnect {
            self.disconnect_master(out);
        }
        self.instance = InstanceState::Stopped { error };
        // An aborted driver's process would exit and its session close; this
        // one stays up to be observed, so it withdraws its candidacy itself —
        // else its node could keep every other instance standing by forever.
        if let Some(seq) = self.candidacy.take() {
            let op = CoordOp::Delete {
                path: format!("{}/instance_{seq:010}", instances_path(self.name())),
            };
            self.request(ctx, op, SchedulerRequest::Withdraw, out);
        }
    }
}
