//! # The client's session lifecycle
//!
//! Connecting, opening or resuming a session, heartbeats, reconnecting with
//! backoff, and — the rule that keeps a paused or partitioned master from
//! acting as leader after its session is gone — expiring the session
//! *locally* once a session timeout has passed since the last answered
//! send, before the server can (Mesos's ZooKeeper client wrapper reports
//! `expired` and `GroupProcess::timedout` ends the membership after the
//! session timeout; `Master::lostCandidacy` then aborts the master).

use super::*;

impl<Tag: Clone> CoordinatorClient<Tag> {
    /// On a fresh connection: resume the session we have, else ask for a
    /// new one. Resuming is what makes a reconnect within the timeout free:
    /// the master's candidacy node, owned by the session, survives it.
    pub(super) fn open_session(&mut self, ctx: &Context, out: &mut Outputs<ClientTimer>) {
        self.link = ClientLink::Opening;
        let op = match self.session {
            Some(session) => CoordOp::ResumeSession { session },
            None => CoordOp::CreateSession {
                timeout_ms: self.session_timeout_ms,
            },
        };
        self.send(ctx, op, None, out);
    }

    /// The dial succeeded: reset the backoff and open (or resume) the session.
    pub fn on_connected(&mut self, ctx: &Context, out: &mut Outputs<ClientTimer>) {
        // The client dials only from `Disconnected`, and the driver answers
        // each dial exactly once, so any other state here is a driver bug.
        assert_eq!(
            self.link,
            ClientLink::Connecting,
            "connected without dialing"
        );
        self.reconnect_attempt = 0;
        self.open_session(ctx, out);
    }

    /// The dial failed (refused, partitioned, timed out): try again later.
    /// The session, if any, is kept; only its local deadline can end it.
    pub fn on_connect_failed(&mut self, ctx: &Context, out: &mut Outputs<ClientTimer>) {
        self.link = ClientLink::Disconnected;
        self.schedule_reconnect(ctx, out);
    }

    /// The connection broke: every request in flight has an unknown outcome.
    ///
    /// The role hears `ConnectionLoss` for each of its requests and must treat
    /// it as "maybe done": a registry write may have landed, a candidacy node
    /// may have been created. The session itself is *not* lost here, and the
    /// `SessionDeadline` timer keeps running.
    pub fn on_disconnected(
        &mut self,
        ctx: &Context,
        out: &mut Outputs<ClientTimer>,
    ) -> Vec<ClientEvent<Tag>> {
        self.link = ClientLink::Disconnected;
        // No heartbeats without a link; `ready` restarts them after the
        // session is resumed.
        out.cancel_timer(ClientTimer::Heartbeat);
        self.schedule_reconnect(ctx, out);
        self.fail_pending()
    }

    /// Drops every pending request, reporting the role's own (tagged) ones as
    /// `ConnectionLoss`, in xid order, i.e. the order they were sent.
    pub(super) fn fail_pending(&mut self) -> Vec<ClientEvent<Tag>> {
        std::mem::take(&mut self.pending)
            .into_values()
            .filter_map(|p| p.tag)
            .map(|tag| ClientEvent::Reply {
                tag,
                result: Err(CoordError::ConnectionLoss),
            })
            .collect()
    }

    pub(super) fn schedule_reconnect(&mut self, ctx: &Context, out: &mut Outputs<ClientTimer>) {
        // Reconnect quickly (a ZooKeeper client tries the next server at once),
        // backing off a little so a partitioned client does not spin.
        // The bound doubles from 100 ms to a 1 s cap (100, 200, 400, 800,
        // 1000, ...), and the wait is drawn from its upper half so that
        // clients cut off together do not all dial in the same instant. Far
        // below the session timeout: a healed link is back well before the
        // session could expire.
        let bound_ms = (100u64 << self.reconnect_attempt.min(4)).min(1_000);
        self.reconnect_attempt += 1;
        out.set_timer(
            ClientTimer::Reconnect,
            ctx.now_ms + bound_ms / 2 + ctx.random % (bound_ms / 2 + 1),
        );
    }

    /// Handles one of the client's timers, unwrapped by the role. Each arm
    /// re-checks the link first: a timer may fire after the state it was
    /// armed for has passed (a `Reconnect` after a dial already succeeded).
    pub fn on_timer(
        &mut self,
        ctx: &Context,
        timer: ClientTimer,
        out: &mut Outputs<ClientTimer>,
    ) -> Vec<ClientEvent<Tag>> {
        match timer {
            ClientTimer::Reconnect => {
                if self.link == ClientLink::Disconnected {
                    self.link = ClientLink::Connecting;
                    out.connect(&self.coordinator);
                }
                vec![]
            }
            // A heartbeat is a tagless request: its answer only moves the
            // local deadline (`on_response`); the coordinator's side of it is
            // `Coordinator::touch` re-arming the session's expiry.
            ClientTimer::Heartbeat => {
                if self.link == ClientLink::Ready {
                    self.send(ctx, CoordOp::Heartbeat, None, out);
                    out.set_timer(
                        ClientTimer::Heartbeat,
                        ctx.now_ms + self.heartbeat_interval_ms(),
                    );
                }
                vec![]
            }
            ClientTimer::SessionDeadline => self.expire_if_due(ctx, out),
        }
    }

    /// Loses the session now if its local deadline has passed. The
    /// `SessionDeadline` timer does this on time; a role that acts on its
    /// session (a leading master) also calls it before every input, because
    /// after a pause (SIGSTOP, a long GC) every overdue timer fires at once in
    /// deadline order — a health-check ping due before the session deadline
    /// would go out first, from a leader already replaced. (Mesos has that
    /// window: its ZooKeeper group's local expiry is one more libprocess timer.
    /// The reference closes it, so that two leaders never act at once; see the
    /// module doc.)
    pub fn expire_if_due(
        &mut self,
        ctx: &Context,
        out: &mut Outputs<ClientTimer>,
    ) -> Vec<ClientEvent<Tag>> {
        // `>=`: at exactly `sent + timeout` the coordinator may expire the
        // session (its `tick_expire` does at `now >= last_heard + timeout`),
        // so the client must already have let go.
        match self.last_answered_sent_ms {
            Some(sent)
                if self.session.is_some() && ctx.now_ms >= sent + self.session_timeout_ms =>
            {
                self.lose_session(ctx, true, out)
            }
            _ => vec![],
        }
    }

    /// A third of the session timeout (see [`ClientTimer::Heartbeat`]).
    pub(super) fn heartbeat_interval_ms(&self) -> u64 {
        self.session_timeout_ms / 3
    }

    /// Gives the session up: `locally` when the client's own deadline passed,
    /// otherwise because the coordinator said it expired. Either way the role
    /// hears `ConnectionLoss` for its pending requests, then `SessionLost`.
    /// If the link is still up a new session is asked for at once (Mesos's
    /// `GroupProcess::expired` likewise starts a new connection and session).
    pub(super) fn lose_session(
        &mut self,
        ctx: &Context,
        locally: bool,
        out: &mut Outputs<ClientTimer>,
    ) -> Vec<ClientEvent<Tag>> {
        let session = self.session.take().expect("losing a session we have");
        self.last_answered_sent_ms = None;
        out.cancel_timer(ClientTimer::SessionDeadline);
        out.cancel_timer(ClientTimer::Heartbeat);
        // Traced for the timeline and for the checkers, which use
        // `locally: true` to tell a client's own give-up from the
        // coordinator's expiry.
        out.event(Event::CoordSessionLost { session, locally });
        let mut events = self.fail_pending();
        events.push(ClientEvent::SessionLost);
        if matches!(self.link, ClientLink::Ready | ClientLink::Opening) {
            // Still connected: open a fresh session straight away.
            self.open_session(ctx, out);
        }
        events
    }

    /// Moves the local deadline to `sent_ms + timeout` if `sent_ms` is later
    /// than the last answered send. Answers can arrive out of send order
    /// (a slow heartbeat answered after a later request), hence the `max`;
    /// the deadline never moves back.
    pub(super) fn note_answered(&mut self, sent_ms: u64, out: &mut Outputs<ClientTimer>) {
        if !self.expire_locally {
            return;
        }
        if self.last_answered_sent_ms.is_none_or(|t| sent_ms > t) {
            self.last_answered_sent_ms = Some(sent_ms);
            out.set_timer(
                ClientTimer::SessionDeadline,
                sent_ms + self.session_timeout_ms,
            );
        }
    }

    /// The session is open (created or resumed): start heartbeating, count
    /// the opening request as an answered send, and tell the role.
    pub(super) fn ready(
        &mut self,
        ctx: &Context,
        sent_ms: u64,
        resumed: bool,
        out: &mut Outputs<ClientTimer>,
    ) -> Vec<ClientEvent<Tag>> {
        let session = self.session.expect("ready with a session");
        self.link = ClientLink::Ready;
        // The opening request was answered: the coordinator heard the
        // session at or after `sent_ms` (a resume re-arms its expiry too).
        self.note_answered(sent_ms, out);
        out.set_timer(
            ClientTimer::Heartbeat,
            ctx.now_ms + self.heartbeat_interval_ms(),
        );
        out.event(Event::CoordSessionReady { session, resumed });
        vec![ClientEvent::SessionReady { resumed }]
    }
}
