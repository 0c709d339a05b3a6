//! # The link to the leading master: detect, (re-)register, reconcile
//!
//! The scheduler driver's side of Mesos's framework protocol, following
//! `SchedulerProcess` in src/sched/sched.cpp (the process behind
//! `MesosSchedulerDriver`). Only the active instance, once its term's state
//! is loaded, has a link; a standby's stays `Idle`.
//!
//! ```text
//!             leader detected               connected                 (Re)Registered
//! Idle -------------------------> Connecting -----------> Registering ----------------> Registered
//!  ^                               ^     ^                  |    ^  |                       |
//!  |                               |     +--- link lost ----+    +--+ retry after a random  |
//!  |                               |                               wait in [0, 2 s · 2^n], |
//!  |                               |                               at most 1 min           |
//!  |                               +------------- link lost: dial the same master ---------+
//!  +--- no leader, or stepping down; a new leader: disconnect, then Connecting to it (any state)
//! ```
//!
//! ## Mesos's driver, and where this one differs
//!
//! - **Detection** (`SchedulerProcess::detected`): a new leader means a new
//!   session: the driver counts itself disconnected, cancels the registration
//!   timer and registers with the new master. Here: `on_leader_change`.
//! - **Registration** (`SchedulerProcess::doReliableRegistration`): the
//!   first `SUBSCRIBE` goes at once; the `n`-th retry waits a random time in
//!   [0, b · 2^n], `b` the registration backoff factor (2 s), capped by
//!   `REGISTRATION_RETRY_INTERVAL_MAX` (1 min) and by a tenth of the
//!   framework's `failover_timeout` (that second cap is not modelled). Here:
//!   `on_master_connected`, `tick_register_retry`.
//! - **The answer** (`SchedulerProcess::registered`, `reregistered`): taken
//!   only from the detected master, and only while not yet connected. Here:
//!   `on_registered`. Mesos's master answers a failover with
//!   `FrameworkRegisteredMessage` (`Master::_failoverFramework`); this
//!   crate's master answers `FrameworkReregistered`; both are handled alike.
//! - **A lost link**: the old driver waits for its detector; this one dials
//!   the same master again, as the HTTP API asks of a scheduler whose
//!   subscription connection broke (docs/scheduler-http-api.md: resubscribe
//!   with backoff).
//! - **Reconciliation**: the driver sends what the framework asks
//!   (`SchedulerProcess::reconcileTasks`); asking after every registration
//!   and retrying until answered is the framework's job
//!   (docs/reconciliation.md). Here: `reconcile_all`, `send_reconcile`.
//! - **Errors** (`SchedulerProcess::error`): the driver aborts. Here: `stop`.

use super::*;
use crate::bugs::scheduler as bugs;

impl Scheduler {
    /// Closes the link, if any, and cancels its timers; the link is `Idle` after.
    /// The caller decides what comes next.
    pub(super) fn disconnect_master(&mut self, out: &mut Out) {
        if let Some(old) = self.master().cloned() {
            out.disconnect(&old);
        }
        out.cancel_timer(SchedulerTimer::RegisterRetry);
        out.cancel_timer(SchedulerTimer::ReconcileRetry);
        self.link.become_idle();
    }

    /// A new leader (or none) was detected: `SchedulerProcess::detected`. Every
    /// instance traces it; only the active one with its state loaded acts: it
    /// drops the old link — its offers and registration mean nothing to another
    /// master — and dials the new leader. With no leader it waits, `Idle`, for
    /// the detector to report one (Mesos's driver: "No master detected").
    pub(super) fn on_leader_change(&mut self, leader: Option<LeaderInfo>, out: &mut Out) {
        if matches!(self.instance, InstanceState::Stopped { .. }) {
            return;
        }
        // Traced by every instance, standbys included: the trace shows what each
        // believed about the leader, and when.
        out.event(Event::LeaderDetected {
            leader: leader.as_ref().map(|l| l.master.clone()),
            epoch: leader.as_ref().map(|l| l.epoch),
        });
        // Only the active instance, once it knows the framework's state, talks
        // to the master.
        if !(self.is_active() && self.state_loaded) {
            return;
        }
        // Whatever the old link was doing is void with another master.
        self.disconnect_master(out);
        if let Some(LeaderInfo { master, epoch }) = leader {
            // `on_master_connected` registers once the connection is up.
            out.connect(&master);
            self.link.become_connecting(master, epoch);
        }
    }

    /// The (re-)registration to send. No framework ID yet: register, and the
    /// master assigns one. With one: re-register under it, with `failover` set
    /// at the start of a term ("I replace whoever had it": the `force` flag of
    /// Mesos's `SUBSCRIBE`, set in `doReliableRegistration`). Mesos's master
    /// refuses a non-forced re-registration from a scheduler other than the
    /// registered one ("Framework failed over", `Master::_subscribe`); a forced
    /// one makes it tell the old scheduler it failed over
    /// (`Master::failoverFramework`).
    pub(super) fn registration_message(&self) -> Message {
        let mut framework_id = self.state.framework_id.as_ref();
        // Planted-bug hook (`bugs/scheduler.rs`): may forget the framework ID.
        if bugs::standby_registers_new(self.config.bug, self.failover) {
            framework_id = None;
        }
        match framework_id {
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

    /// The connection to the leader is up: register at once, then arm the retry
    /// (`doReliableRegistration`'s first, immediate attempt).
    pub(super) fn on_master_connected(&mut self, ctx: &Context, out: &mut Out) {
        // Only a link waiting for this connection registers.
        let SchedulerLink::Connecting { master, .. } = self.link.clone() else {
            return;
        };
        // The scheduler driver registers at once and retries with backoff.
        out.send(&master, self.registration_message());
        self.link.become_registering();
        // Retries wait a random time in [0, factor · 2^n] (Mesos's scheduler
        // driver starts at the factor, 2 s, and doubles).
        let timing = &self.config.timing;
        let delay = timing.backoff_ms(timing.scheduler_registration_backoff_ms, 0, ctx.random);
        out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
    }

    /// The connection to our master failed or broke. The master may still lead
    /// (a network blip), so dial it again after a backoff; if it lost its
    /// leadership, the detector says so and `on_leader_change` moves on.
    pub(super) fn on_master_link_lost(&mut self, ctx: &Context, out: &mut Out) {
        let (master, epoch) = match &self.link {
            SchedulerLink::Connecting { master, epoch }
            | SchedulerLink::Registering { master, epoch, .. }
            | SchedulerLink::Registered { master, epoch } => (master.clone(), *epoch),
            SchedulerLink::Idle => return,
        };
        // Registration starts over once connected: the master deactivated the
        // framework when the link broke (Mesos `Master::exited`) and must hear
        // from it again. The reconciliation round stops too: `on_registered`
        // starts a new one.
        self.link.become_connecting(master, epoch);
        out.cancel_timer(SchedulerTimer::ReconcileRetry);
        // Always the first step of the backoff: a dial that keeps failing is
        // retried every 0–2 s, a little jittered.
        let timing = &self.config.timing;
        let delay = timing.backoff_ms(timing.scheduler_registration_backoff_ms, 0, ctx.random);
        out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
    }

    /// The retry timer: dial again (`Connecting`), or resend the registration
    /// and double the backoff bound (`Registering`: the driver's
    /// `doReliableRegistration(maxBackoff * 2)`).
    pub(super) fn tick_register_retry(&mut self, ctx: &Context, out: &mut Out) {
        match self.link.clone() {
            // A failed dial comes back as `ConnectFailed`, which re-arms this timer.
            SchedulerLink::Connecting { master, .. } => out.connect(&master),
            SchedulerLink::Registering {
                master, attempt, ..
            } => {
                // No answer yet: the message or its answer was lost, or the master is
                // slow. A repeat is harmless: Mesos's master answers a duplicate
                // registration again (`Master::_subscribe`), and so does this crate's.
                out.send(&master, self.registration_message());
                self.link.note_attempt();
                let timing = &self.config.timing;
                let delay = timing.backoff_ms(
                    timing.scheduler_registration_backoff_ms,
                    attempt + 1,
                    ctx.random,
                );
                out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
            }
            // Registered, or `Idle`: a leftover timer.
            _ => {}
        }
    }

    /// The master accepted our (re-)registration (`SchedulerProcess::registered`,
    /// `reregistered`). Taken only while registering, and only from the master
    /// we are registering with: a late answer from an old leader, or a
    /// duplicate of one already taken, must not move the link. From here
    /// offers, updates and calls flow; first the framework ID is made durable
    /// (if new) and every task reconciled.
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
        // An answer for another framework ID is not ours. Mesos's driver
        // CHECK-fails on it (`reregistered`); here the retry simply goes on.
        if self
            .state
            .framework_id
            .as_ref()
            .is_some_and(|mine| *mine != fid)
        {
            return;
        }
        // A new framework ID goes into the state at once. Accepts wait for that
        // write, so no task runs under an ID a successor might not know.
        let new_id = self.state.framework_id.is_none();
        self.state.framework_id = Some(fid.clone());
        // Like the driver: a later re-registration (after a lost link) by this
        // same instance is not a failover.
        self.failover = false;
        self.link.become_registered(epoch);
        // Registering's retry is over; the reconciliation retry takes its place.
        out.cancel_timer(SchedulerTimer::RegisterRetry);
        // The harness learns the framework's ID from this record; `reregistered`
        // is for the trace only (nothing here differs).
        out.event(Event::SchedulerRegistered {
            framework_id: fid,
            master: from,
            epoch,
            reregistered,
        });
        if new_id {
            self.changed(ctx, out);
        }
        // Every registration, to a new master or the same one, starts a
        // reconciliation (the HA guide's step 4).
        self.reconcile_all(ctx, out);
        self.adversary_on_registered(ctx, out);
    }

    /// Asks the master about every task we believe may be running (Mesos's
    /// explicit reconciliation, recommended after every (re-)registration:
    /// docs/reconciliation.md). Offers are declined until every answer is in,
    /// so nothing is launched against a picture that may be wrong.
    ///
    /// A task whose launch intent is not durable yet is left out: the master
    /// cannot know it (its accept has not been sent), and asking would make
    /// the ID public before it is ours for good (see `unpersisted`). Mesos's
    /// reconciliation guide likewise assumes the intent was persisted first.
    ///
    /// Terminal tasks are not asked about: their end is known, and a task that
    /// comes back from `TASK_LOST` says so itself (its agent's update).
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
        // Each round starts at the shortest wait (`reconcile_backoff_ms`).
        self.reconcile_backoff_ms = self.config.timing.status_update_retry_ms;
        self.send_reconcile(ctx, out);
    }

    /// Sends one round of questions: every unanswered task, with its agent if
    /// known (the master needs it to tell "agent recovered, not yet back: wait"
    /// from "agent unknown", `Master::reconcile` cases 2 and 6). Then arms the
    /// retry: a truncated exponential backoff from `status_update_retry`,
    /// capped at the registration cap (1 min) — or at `status_update_retry`
    /// if that is larger. Nothing is sent unregistered: `on_registered` starts
    /// a new round.
    pub(super) fn send_reconcile(&mut self, ctx: &Context, out: &mut Out) {
        // All answered (`on_update` removes each answered task).
        if self.reconciling.is_empty() {
            return;
        }
        // Only to the master we are registered with.
        let (Some(fid), Some((master, _))) =
            (self.state.framework_id.clone(), self.registered_with())
        else {
            return;
        };
        let master = master.clone();
        // The questions: each task with the agent we last heard it on.
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
        // This round waits `reconcile_backoff_ms` clamped to [retry, cap]; the
        // next waits twice as long.
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

    /// Whether `from` is the master we are registered with. Anything else is
    /// traced and ignored: after a failover an old leader may go on sending
    /// offers and updates for a while, and acting on them (accepting its
    /// offers, counting its updates) would be acting on a master that no longer
    /// leads. Mesos's driver drops them likewise (`SchedulerProcess::statusUpdate`,
    /// `resourceOffers`). Before registering, even our master's are dropped:
    /// offers and updates for this framework start once it has taken us.
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

    /// Aborts this instance for good and closes the master link: the driver's
    /// `abort` on `SchedulerProcess::error`. Mesos's master sends such errors for
    /// "Framework failed over" (`Master::failoverFramework`), a removed
    /// framework, a refused registration; this crate's master sends the same
    /// kinds (`master/frameworks.rs`).
    pub(super) fn stop(&mut self, ctx: &Context, error: String, out: &mut Out) {
        self.halt(ctx, error, true, out);
    }

    /// Stops this instance for good; `disconnect`: close the master link too
    /// (an aborted driver). A torn-down framework's driver keeps its link open
    /// so that the teardown it just queued still reaches the master.
    ///
    /// Mesos's aborted driver also tells the master to deactivate the framework
    /// (`DeactivateFrameworkMessage`, `SchedulerProcess::abort`); this one just
    /// closes its link, which the master handles as a disconnected scheduler.
    pub(super) fn halt(&mut self, ctx: &Context, error: String, disconnect: bool, out: &mut Out) {
        // Stopped is final: nothing may stop an instance twice (every caller
        // returns early once stopped).
        assert!(
            !matches!(self.instance, InstanceState::Stopped { .. }),
            "halt: already stopped ({:?})",
            self.instance
        );
        out.event(Event::SchedulerError {
            message: error.clone(),
        });
        if disconnect {
            self.disconnect_master(out);
        }
        // Stopped is final: `on_message`, `on_reply`, `on_session_ready` and
        // `on_command` all return early from now on.
        self.instance = InstanceState::Stopped { error };
        // An aborted driver's process would exit and its session close; this
        // one stays up to be observed, so it withdraws its candidacy itself —
        // else its node could keep every other instance standing by forever.
        // (Sequential nodes have 10-digit suffixes, as in ZooKeeper. A `Withdraw`
        // that is lost, or not sent for want of a session, is not retried.)
        if let Some(seq) = self.candidacy.take() {
            let op = CoordOp::Delete {
                path: format!("{}/instance_{seq:010}", instances_path(self.name())),
            };
            self.request(ctx, op, SchedulerRequest::Withdraw, out);
        }
    }
}
