//! # A coordinator client: sessions as a ZooKeeper client keeps them
//!
//! Every role that talks to the coordinator (masters, agents, schedulers) embeds
//! one `CoordinatorClient`. It owns the connection to the coordinator and the
//! session on it, and turns the raw protocol into a few [`ClientEvent`]s for its
//! role.
//!
//! ## States
//!
//! ```text
//! Disconnected --Connect--> Connecting --Connected--> Opening --SessionCreated/Resumed--> Ready
//!      ^                        |                        |                                 |
//!      +----- backoff ----------+--- connection lost ----+---------------------------------+
//! ```
//!
//! While `Ready` the client heartbeats every third of the session timeout. When
//! the connection breaks it reconnects and *resumes* the same session — the
//! coordinator keeps it alive for a full timeout — so a brief network hiccup
//! costs a master nothing.
//!
//! ## Expiring locally, before the coordinator does
//!
//! A client partitioned from the coordinator cannot hear that its session
//! expired. Mesos's ZooKeeper group therefore expires the session *locally* after
//! a session timeout without contact. We make that precise: the client remembers
//! when it *sent* the last request that was answered. The coordinator heard that
//! request no earlier than it was sent, so it cannot expire the session before
//! `sent + timeout`. Declaring the session lost at exactly that moment means a
//! partitioned leader always steps down no later than the coordinator lets
//! another master take over — two leaders never overlap (with equal clocks, which
//! the simulation gives us).

use crate::events::Event;
use crate::ids::{ProcessId, SessionId};
use crate::io::{Context, Input, Outputs};
use crate::messages::{CoordError, CoordOp, CoordReply, Message, WatchKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ClientTimer {
    /// Send the next heartbeat.
    Heartbeat,
    /// Dial the coordinator again.
    Reconnect,
    /// The session may have expired by now unless a later request was answered.
    SessionDeadline,
}

/// What the client tells its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent<Tag> {
    /// The session is usable: new (`resumed = false`, the role must redo its
    /// ephemeral nodes and watches) or resumed after a reconnect (watches set
    /// before may have been lost with the connection, so re-read what matters).
    SessionReady { resumed: bool },
    /// The session is gone (expired at the coordinator, or locally). Ephemeral
    /// nodes it owned are or will be deleted. A new session is being opened.
    SessionLost,
    /// The answer to a request the role made.
    Reply {
        tag: Tag,
        result: Result<CoordReply, CoordError>,
    },
    /// A watch the role set fired.
    Watch { path: String, kind: WatchKind },
}

/// What [`CoordinatorClient::route`] did with an input.
pub enum Routed<Tag, T> {
    /// The input concerned the coordinator link; here is what it means to the role.
    Handled(Vec<ClientEvent<Tag>>),
    /// Not the client's business: the role handles it.
    NotMine(Input<T>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientLink {
    Disconnected,
    Connecting,
    /// Connected; `CreateSession` or `ResumeSession` is in flight.
    Opening,
    Ready,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending<Tag> {
    sent_ms: u64,
    /// `None` for the client's own requests (session, heartbeat).
    tag: Option<Tag>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CoordinatorClient<Tag> {
    coordinator: ProcessId,
    session_timeout_ms: u64,
    link: ClientLink,
    session: Option<SessionId>,
    /// Send time of the latest request the coordinator answered on this session.
    last_answered_sent_ms: Option<u64>,
    pending: BTreeMap<u64, Pending<Tag>>,
    next_xid: u64,
    reconnect_attempt: u32,
    /// Give the session up after a timeout without an answer (masters do; a
    /// framework instance waits to be told).
    expire_locally: bool,
}

impl<Tag: Clone> CoordinatorClient<Tag> {
    pub fn new(coordinator: ProcessId, session_timeout_ms: u64) -> Self {
        assert!(
            session_timeout_ms >= 30,
            "session timeout too short to heartbeat"
        );
        CoordinatorClient {
            coordinator,
            session_timeout_ms,
            link: ClientLink::Disconnected,
            session: None,
            last_answered_sent_ms: None,
            pending: BTreeMap::new(),
            next_xid: 1,
            reconnect_attempt: 0,
            expire_locally: true,
        }
    }

    /// A client that keeps its session until the coordinator says it expired,
    /// however long it is cut off (the usual ZooKeeper client behaviour: it
    /// learns of expiry when it reconnects).
    pub fn without_local_expiry(mut self) -> Self {
        self.expire_locally = false;
        self
    }

    pub fn coordinator(&self) -> &ProcessId {
        &self.coordinator
    }

    pub fn session(&self) -> Option<SessionId> {
        self.session
    }

    pub fn link(&self) -> ClientLink {
        self.link
    }

    pub fn is_ready(&self) -> bool {
        self.link == ClientLink::Ready
    }

    /// Takes the inputs that concern the coordinator link — the connection to
    /// the coordinator going up or down, and messages from it — and hands every
    /// other input back. (Client timers arrive wrapped in the role's own timer
    /// type; the role passes them to [`Self::on_timer`].)
    pub fn route<T>(
        &mut self,
        ctx: &Context,
        input: Input<T>,
        out: &mut Outputs<ClientTimer>,
    ) -> Routed<Tag, T> {
        match input {
            Input::Connected { peer } if peer == self.coordinator => {
                self.on_connected(ctx, out);
                Routed::Handled(vec![])
            }
            Input::ConnectFailed { peer } if peer == self.coordinator => {
                self.on_connect_failed(ctx, out);
                Routed::Handled(vec![])
            }
            Input::Disconnected { peer } if peer == self.coordinator => {
                Routed::Handled(self.on_disconnected(ctx, out))
            }
            Input::Message { from, message } if from == self.coordinator => {
                Routed::Handled(self.on_message(ctx, message, out))
            }
            other => Routed::NotMine(other),
        }
    }

    /// Starts the client: dial the coordinator.
    pub fn start(&mut self, out: &mut Outputs<ClientTimer>) {
        assert_eq!(self.link, ClientLink::Disconnected);
        self.link = ClientLink::Connecting;
        out.connect(&self.coordinator);
    }

    /// Sends `op` on the session. Returns false (and sends nothing) when the
    /// session is not ready; the role retries on the next `SessionReady`.
    pub fn request(
        &mut self,
        ctx: &Context,
        op: CoordOp,
        tag: Tag,
        out: &mut Outputs<ClientTimer>,
    ) -> bool {
        if !self.is_ready() {
            return false;
        }
        self.send(ctx, op, Some(tag), out);
        true
    }

    fn send(
        &mut self,
        ctx: &Context,
        op: CoordOp,
        tag: Option<Tag>,
        out: &mut Outputs<ClientTimer>,
    ) {
        let xid = self.next_xid;
        self.next_xid += 1;
        self.pending.insert(
            xid,
            Pending {
                sent_ms: ctx.now_ms,
                tag,
            },
        );
        out.send(
            &self.coordinator,
            Message::CoordRequest {
                xid,
                session: self.session,
                op,
            },
        );
    }

    fn open_session(&mut self, ctx: &Context, out: &mut Outputs<ClientTimer>) {
        self.link = ClientLink::Opening;
        let op = match self.session {
            Some(session) => CoordOp::ResumeSession { session },
            None => CoordOp::CreateSession {
                timeout_ms: self.session_timeout_ms,
            },
        };
        self.send(ctx, op, None, out);
    }

    pub fn on_connected(&mut self, ctx: &Context, out: &mut Outputs<ClientTimer>) {
        assert_eq!(
            self.link,
            ClientLink::Connecting,
            "connected without dialing"
        );
        self.reconnect_attempt = 0;
        self.open_session(ctx, out);
    }

    pub fn on_connect_failed(&mut self, ctx: &Context, out: &mut Outputs<ClientTimer>) {
        self.link = ClientLink::Disconnected;
        self.schedule_reconnect(ctx, out);
    }

    /// The connection broke: every request in flight has an unknown outcome.
    pub fn on_disconnected(
        &mut self,
        ctx: &Context,
        out: &mut Outputs<ClientTimer>,
    ) -> Vec<ClientEvent<Tag>> {
        self.link = ClientLink::Disconnected;
        out.cancel_timer(ClientTimer::Heartbeat);
        self.schedule_reconnect(ctx, out);
        self.fail_pending()
    }

    fn fail_pending(&mut self) -> Vec<ClientEvent<Tag>> {
        std::mem::take(&mut self.pending)
            .into_values()
            .filter_map(|p| p.tag)
            .map(|tag| ClientEvent::Reply {
                tag,
                result: Err(CoordError::ConnectionLoss),
            })
            .collect()
    }

    fn schedule_reconnect(&mut self, ctx: &Context, out: &mut Outputs<ClientTimer>) {
        // Reconnect quickly (a ZooKeeper client tries the next server at once),
        // backing off a little so a partitioned client does not spin.
        let bound_ms = (100u64 << self.reconnect_attempt.min(4)).min(1_000);
        self.reconnect_attempt += 1;
        out.set_timer(
            ClientTimer::Reconnect,
            ctx.now_ms + bound_ms / 2 + ctx.random % (bound_ms / 2 + 1),
        );
    }

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
        match self.last_answered_sent_ms {
            Some(sent)
                if self.session.is_some() && ctx.now_ms >= sent + self.session_timeout_ms =>
            {
                self.lose_session(ctx, true, out)
            }
            _ => vec![],
        }
    }

    fn heartbeat_interval_ms(&self) -> u64 {
        self.session_timeout_ms / 3
    }

    fn lose_session(
        &mut self,
        ctx: &Context,
        locally: bool,
        out: &mut Outputs<ClientTimer>,
    ) -> Vec<ClientEvent<Tag>> {
        let session = self.session.take().expect("losing a session we have");
        self.last_answered_sent_ms = None;
        out.cancel_timer(ClientTimer::SessionDeadline);
        out.cancel_timer(ClientTimer::Heartbeat);
        out.event(Event::CoordSessionLost { session, locally });
        let mut events = self.fail_pending();
        events.push(ClientEvent::SessionLost);
        if matches!(self.link, ClientLink::Ready | ClientLink::Opening) {
            // Still connected: open a fresh session straight away.
            self.open_session(ctx, out);
        }
        events
    }

    pub fn on_message(
        &mut self,
        ctx: &Context,
        message: Message,
        out: &mut Outputs<ClientTimer>,
    ) -> Vec<ClientEvent<Tag>> {
        match message {
            Message::CoordResponse { xid, result } => self.on_response(ctx, xid, result, out),
            Message::CoordWatch { path, kind } => vec![ClientEvent::Watch { path, kind }],
            Message::CoordSessionExpired { session } if Some(session) == self.session => {
                self.lose_session(ctx, false, out)
            }
            _ => vec![],
        }
    }

    fn on_response(
        &mut self,
        ctx: &Context,
        xid: u64,
        result: Result<CoordReply, CoordError>,
        out: &mut Outputs<ClientTimer>,
    ) -> Vec<ClientEvent<Tag>> {
        // An answer to a request from a connection that has since broken was
        // already failed with ConnectionLoss; ignore it.
        let Some(pending) = self.pending.remove(&xid) else {
            return vec![];
        };
        if let Some(tag) = pending.tag {
            if result.is_ok() {
                self.note_answered(pending.sent_ms, out);
            }
            if result == Err(CoordError::SessionExpired) && self.session.is_some() {
                let mut events = vec![ClientEvent::Reply { tag, result }];
                events.extend(self.lose_session(ctx, false, out));
                return events;
            }
            return vec![ClientEvent::Reply { tag, result }];
        }
        match result {
            Ok(CoordReply::SessionCreated { session, .. }) => {
                self.session = Some(session);
                self.ready(ctx, pending.sent_ms, false, out)
            }
            Ok(CoordReply::SessionResumed { .. }) => self.ready(ctx, pending.sent_ms, true, out),
            Ok(CoordReply::HeartbeatAck) => {
                self.note_answered(pending.sent_ms, out);
                vec![]
            }
            Err(CoordError::SessionExpired) if self.session.is_some() => {
                self.lose_session(ctx, false, out)
            }
            _ => vec![],
        }
    }

    fn note_answered(&mut self, sent_ms: u64, out: &mut Outputs<ClientTimer>) {
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

    fn ready(
        &mut self,
        ctx: &Context,
        sent_ms: u64,
        resumed: bool,
        out: &mut Outputs<ClientTimer>,
    ) -> Vec<ClientEvent<Tag>> {
        let session = self.session.expect("ready with a session");
        self.link = ClientLink::Ready;
        self.note_answered(sent_ms, out);
        out.set_timer(
            ClientTimer::Heartbeat,
            ctx.now_ms + self.heartbeat_interval_ms(),
        );
        out.event(Event::CoordSessionReady { session, resumed });
        vec![ClientEvent::SessionReady { resumed }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Output;

    fn ctx(now_ms: u64) -> Context {
        Context { now_ms, random: 0 }
    }

    fn sent_xids(out: Outputs<ClientTimer>) -> Vec<(u64, CoordOp)> {
        out.into_vec()
            .into_iter()
            .filter_map(|o| match o {
                Output::Send {
                    message: Message::CoordRequest { xid, op, .. },
                    ..
                } => Some((xid, op)),
                _ => None,
            })
            .collect()
    }

    fn ready_client() -> CoordinatorClient<&'static str> {
        let mut c = CoordinatorClient::new("coordinator".into(), 9_000);
        let mut out = Outputs::new();
        c.start(&mut out);
        let mut out = Outputs::new();
        c.on_connected(&ctx(0), &mut out);
        let (xid, _) = sent_xids(out)[0].clone();
        let mut out = Outputs::new();
        let events = c.on_message(
            &ctx(20),
            Message::CoordResponse {
                xid,
                result: Ok(CoordReply::SessionCreated {
                    session: SessionId(1),
                    timeout_ms: 9_000,
                }),
            },
            &mut out,
        );
        assert_eq!(events, vec![ClientEvent::SessionReady { resumed: false }]);
        c
    }

    /// The local deadline counts from when the answered request was *sent*.
    #[test]
    fn session_is_lost_locally_a_timeout_after_the_last_answered_send() {
        let mut c = ready_client();
        // A heartbeat sent at 3 s is answered at 3.5 s.
        let mut out = Outputs::new();
        c.on_timer(&ctx(3_000), ClientTimer::Heartbeat, &mut out);
        let xid = sent_xids(out)[0].0;
        let mut out = Outputs::new();
        c.on_message(
            &ctx(3_500),
            Message::CoordResponse {
                xid,
                result: Ok(CoordReply::HeartbeatAck),
            },
            &mut out,
        );
        assert!(out.as_slice().contains(&Output::SetTimer {
            timer: ClientTimer::SessionDeadline,
            at_ms: 12_000
        }));
        // Partitioned from here on: the deadline at 12 s (3 s + 9 s) loses it.
        let mut out = Outputs::new();
        assert!(c
            .on_timer(&ctx(11_990), ClientTimer::SessionDeadline, &mut out)
            .is_empty());
        let events = c.on_timer(&ctx(12_000), ClientTimer::SessionDeadline, &mut out);
        assert_eq!(events, vec![ClientEvent::SessionLost]);
        assert_eq!(c.session(), None);
    }

    #[test]
    fn pending_requests_fail_with_connection_loss_when_the_link_breaks() {
        let mut c = ready_client();
        let mut out = Outputs::new();
        assert!(c.request(
            &ctx(100),
            CoordOp::GetChildren {
                path: "/mesos/masters".into(),
                watch: true
            },
            "detect",
            &mut out
        ));
        let events = c.on_disconnected(&ctx(200), &mut Outputs::new());
        assert_eq!(
            events,
            vec![ClientEvent::Reply {
                tag: "detect",
                result: Err(CoordError::ConnectionLoss)
            }]
        );
        // The session survives the disconnect and is resumed on reconnect.
        assert_eq!(c.session(), Some(SessionId(1)));
        let mut out = Outputs::new();
        c.on_timer(&ctx(400), ClientTimer::Reconnect, &mut out);
        let mut out = Outputs::new();
        c.on_connected(&ctx(450), &mut out);
        assert!(matches!(
            sent_xids(out)[0].1,
            CoordOp::ResumeSession {
                session: SessionId(1)
            }
        ));
    }
}
