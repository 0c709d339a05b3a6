//! # A coordinator client: sessions as a ZooKeeper client keeps them
//!
//! Every role that talks to the coordinator (masters, agents, schedulers) embeds
//! one `CoordinatorClient`. It owns the connection to the coordinator and the
//! session on it, and turns the raw protocol into a few [`ClientEvent`]s for its
//! role.
//!
//! In Mesos this is two layers: the ZooKeeper C client (wrapped by
//! `ZooKeeperProcess`, src/zookeeper/zookeeper.cpp), which dials, pings and
//! resumes the session by itself, and `GroupProcess` (src/zookeeper/group.cpp),
//! which turns its callbacks — `connected(sessionId, reconnect)`,
//! `reconnecting`, `expired` — into the group view that Mesos's contender and
//! detector use. Here both are one sans-I/O state machine. It is not a [`Role`]
//! of its own: the role that embeds it feeds it inputs through [`route`] and
//! its own timers through [`on_timer`], and takes in its outputs with
//! [`Outputs::nested`] (its [`ClientTimer`]s wrapped in the role's timer type).
//!
//! [`Role`]: crate::io::Role
//! [`route`]: CoordinatorClient::route
//! [`on_timer`]: CoordinatorClient::on_timer
//! [`Outputs::nested`]: crate::io::Outputs::nested
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
//!
//! ```text
//!  client:  sent heartbeat at s ----------- answered ----- (cut off) ------ s+T: SessionLost
//!  coordinator:          heard it at h >= s ----------------------------- h+T: expires
//!                                                  s+T <= h+T: the client always gives up first
//! ```
//!
//! Mesos does this differently, and more loosely: `GroupProcess::reconnecting`
//! arms a timer of one session timeout when the ZooKeeper client reports the
//! connection lost, and `GroupProcess::timedout` then forces `expired`. That
//! timer starts only once the client *notices* the loss, which can be a good
//! part of a timeout after the last contact, so a partitioned Mesos leader can
//! go on acting after the ensemble has already expired its session and let
//! another master lead. Counting from the send time of the last answered
//! request has no such gap. (The master also checks the deadline before every
//! input, [`CoordinatorClient::expire_if_due`].)
//!
//! Not every role wants this. A leading master or an agent must stop trusting
//! what it learned through a session it may have lost; a scheduler instance
//! is guarded by other means and keeps its session until told
//! ([`CoordinatorClient::without_local_expiry`]).
//!
//! | role | local expiry | on `SessionLost` |
//! |---|---|---|
//! | master | yes | exits (its candidacy died with the session), `master/election.rs` |
//! | agent | yes | forgets the leader and disconnects from it, `agent/detection.rs` |
//! | scheduler | no | steps down if it was the active instance, `scheduler/election.rs` |
//!
//! The scheduler can afford to wait because everything it does is fenced
//! elsewhere: the master accepts one scheduler per framework (a newer
//! failover wins, and the old instance is told "framework failed over", as by
//! Mesos's `Master::failoverFramework`) and its state is written with
//! compare-and-set.

use crate::events::Event;
use crate::ids::{ProcessId, SessionId};
use crate::io::{Context, Input, Outputs};
use crate::messages::{CoordError, CoordOp, CoordReply, Message, WatchKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod session;

/// The client's timers. The embedding role wraps them in its own timer type
/// (`MasterTimer::Coordinator`, `AgentTimer::Coordinator`, ...) and hands them
/// back to [`CoordinatorClient::on_timer`] when they fire.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ClientTimer {
    /// Send the next heartbeat.
    /// Armed when the session becomes ready and re-armed after each heartbeat,
    /// every third of the session timeout; cancelled when the link or the
    /// session is lost. A third leaves room for two heartbeats to be lost or
    /// slow before the coordinator's deadline (ZooKeeper's own client pings on
    /// a similar fraction of the timeout).
    Heartbeat,
    /// Dial the coordinator again.
    /// Armed, with backoff and jitter, when a dial fails or the link breaks.
    Reconnect,
    /// The session may have expired by now unless a later request was answered.
    /// Armed at `sent + timeout` each time an answer moves the local deadline
    /// (see `note_answered`); on firing, [`CoordinatorClient::expire_if_due`]
    /// re-checks, since a later answer may have pushed the deadline out.
    /// Deliberately *not* cancelled when the link breaks: being cut off is
    /// exactly when it must fire.
    SessionDeadline,
}

/// What the client tells its role.
///
/// The client returns these as a list from each call, in the order they
/// happened; the role processes them in that order (for a master, stopping
/// at the first that makes it exit). A role never sees the raw protocol:
/// xids, heartbeats, session IDs and `CoordSessionExpired` stay inside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent<Tag> {
    /// The session is usable: new (`resumed = false`, the role must redo its
    /// ephemeral nodes and watches) or resumed after a reconnect (watches set
    /// before may have been lost with the connection, so re-read what matters).
    ///
    /// Mesos's `GroupProcess::connected` gets the same flag (`reconnect`) and
    /// re-`sync`s the group either way. Every role here re-lists the masters'
    /// group on every `SessionReady`; a master whose candidacy create may have
    /// been lost with the connection exits rather than guess
    /// (`Master::on_session_ready`, master/election.rs).
    /// `resumed`: `true` for the same session as before the reconnect, its
    /// ephemeral nodes intact; `false` for a brand-new session, nothing of
    /// the old one survives.
    SessionReady {
        /// Whether this is the session from before the reconnect (see above).
        resumed: bool,
    },
    /// The session is gone (expired at the coordinator, or locally). Ephemeral
    /// nodes it owned are or will be deleted. A new session is being opened.
    ///
    /// Requests in flight were failed with `ConnectionLoss` just before this
    /// event (in the same list). A master exits on it (as Mesos's
    /// `Master::lostCandidacy` does when elected); an agent forgets the leader
    /// until it lists the group again.
    SessionLost,
    /// The answer to a request the role made.
    Reply {
        /// The role's own label for the request, given to
        /// [`CoordinatorClient::request`]; tells the role what the answer is for.
        tag: Tag,
        /// The coordinator's answer, or `ConnectionLoss` made up by the client
        /// when the link broke first (the outcome is then unknown).
        result: Result<CoordReply, CoordError>,
    },
    /// A watch the role set fired.
    ///
    /// `path` is the watched path (for a child watch, the parent's); `kind`
    /// says what changed. The role must read again to learn the new content,
    /// and reading again with `watch: true` is also what re-arms the watch.
    Watch {
        /// The watched path (for a child watch, the parent's).
        path: String,
        /// What changed: the node's data, its children, or the node itself.
        kind: WatchKind,
    },
}

/// What [`CoordinatorClient::route`] did with an input.
///
/// Every role's `handle` begins the same way: offer the input to its client,
/// act on the events if the client took it, otherwise handle the input
/// itself (see `Master::handle` in master/mod.rs).
pub enum Routed<Tag, T> {
    /// The input concerned the coordinator link; here is what it means to the role.
    Handled(Vec<ClientEvent<Tag>>),
    /// Not the client's business: the role handles it.
    NotMine(Input<T>),
}

/// The state of the link to the coordinator (the module doc's diagram).
///
/// Only the link: whether a session exists is tracked separately
/// (`CoordinatorClient::session`), because a session outlives its connection —
/// `Disconnected` with a session is the normal state during a network blip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientLink {
    /// No connection and no dial in progress; a `Reconnect` timer is armed
    /// (except before [`CoordinatorClient::start`]).
    Disconnected,
    /// A dial is in progress; the driver will answer `Connected` or
    /// `ConnectFailed`.
    Connecting,
    /// Connected; `CreateSession` or `ResumeSession` is in flight.
    Opening,
    /// Connected with a usable session: role requests are sent, heartbeats run.
    Ready,
}

/// A request sent and not yet answered, by `xid` in `CoordinatorClient::pending`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending<Tag> {
    /// When it was sent: if it is answered, the coordinator heard the session
    /// no earlier than this, which is what moves the local deadline.
    sent_ms: u64,
    /// `None` for the client's own requests (session, heartbeat).
    /// Tagless requests are the client's business only: when the link breaks
    /// they are dropped silently, while tagged ones become
    /// `Reply { result: Err(ConnectionLoss) }` for the role.
    tag: Option<Tag>,
}

/// A role's connection and session to the coordinator.
///
/// `Tag` is the embedding role's label for its requests (`MasterRequest`,
/// `AgentRequest`, `SchedulerRequest`): answers come back as
/// [`ClientEvent::Reply`] with the tag, so the role need not track `xid`s.
/// The client is part of the role's state and dies with the process: a
/// restarted role starts with a fresh client and a fresh session.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct CoordinatorClient<Tag> {
    /// The coordinator's process name; inputs from or about it are the
    /// client's, everything else goes back to the role ([`Self::route`]).
    coordinator: ProcessId,
    /// The timeout asked for at `CreateSession` (`zk_session_timeout`), also
    /// the length of the local deadline and three heartbeat intervals.
    session_timeout_ms: u64,
    /// Where the link stands; see [`ClientLink`].
    link: ClientLink,
    /// The current session, from `SessionCreated` until it is lost (expired
    /// at the coordinator or locally). Kept across disconnects: it is what a
    /// reconnect resumes.
    session: Option<SessionId>,
    /// Send time of the latest request the coordinator answered on this session.
    /// The local deadline is this plus the timeout; `None` before the first
    /// answer, after a loss, and always when `expire_locally` is off.
    last_answered_sent_ms: Option<u64>,
    /// Requests sent on the current connection and not yet answered, by xid.
    /// Emptied when the link breaks or the session is lost: their outcome is
    /// unknown, and a late answer finds no entry and is ignored.
    pending: BTreeMap<u64, Pending<Tag>>,
    /// The next request ID. Never reused within the client's life, so an
    /// answer from a broken connection can never be mistaken for the answer
    /// to a newer request.
    next_xid: u64,
    /// Failed dials since the last successful connect; grows the reconnect
    /// backoff, reset by [`Self::on_connected`].
    reconnect_attempt: u32,
    /// Give the session up after a timeout without an answer (masters do; a
    /// framework instance waits to be told).
    /// Agents keep the default too: an agent cut off from the coordinator
    /// stops trusting the leader it detected, as a Mesos agent's detector
    /// reports no leader once `GroupProcess::expired` empties the group.
    expire_locally: bool,
}

impl<Tag: Clone> CoordinatorClient<Tag> {
    /// A disconnected client that will ask for sessions of
    /// `session_timeout_ms` and expire them locally; call [`Self::start`]
    /// to dial. The timeout must allow a heartbeat interval (a third of it)
    /// of at least 10 ms.
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

    /// The coordinator this client talks to.
    pub fn coordinator(&self) -> &ProcessId {
        &self.coordinator
    }

    /// The current session, if any (it may be `Some` while disconnected).
    pub fn session(&self) -> Option<SessionId> {
        self.session
    }

    /// The state of the link.
    pub fn link(&self) -> ClientLink {
        self.link
    }

    /// Whether requests can be sent now. Roles check it before starting
    /// something that needs the coordinator (the registrar does not send a
    /// registry write while the client is not ready, `Leader::pump_registry`).
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
        // Only inputs that name the coordinator are taken. The client's
        // timers are not among them: they come wrapped in the role's timer
        // type, which the client cannot unwrap.
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
    /// Called once, on the role's `Input::Start`; every later dial is the
    /// client's own (`ClientTimer::Reconnect`). A role built from its disk
    /// after a crash starts here too, with no session: sessions are never
    /// checkpointed, since the coordinator expires them anyway.
    pub fn start(&mut self, out: &mut Outputs<ClientTimer>) {
        assert_eq!(self.link, ClientLink::Disconnected);
        self.link = ClientLink::Connecting;
        out.connect(&self.coordinator);
    }

    /// Sends `op` on the session. Returns false (and sends nothing) when the
    /// session is not ready; the role retries on the next `SessionReady`.
    ///
    /// Nothing is queued while the session is down on purpose: what a role
    /// wanted to ask before a reconnect (who leads? what is the registry?) may
    /// be the wrong question after it, so the role decides afresh.
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

    /// Sends one request under a fresh xid and remembers it as pending.
    /// It carries the current session (`None` only for `CreateSession`).
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

    /// Handles a message from the coordinator: an answer, a watch notice, or
    /// an expiry notice. An expiry notice for an older session (one already
    /// given up locally) is ignored: the client has moved on.
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
        // A role's request: pass the answer on. Only a success moves the
        // local deadline; an error answer (`NoNode`, `BadVersion`) also proves
        // the session was heard, but ignoring it only makes the client give
        // up earlier, never later — the safe direction.
        if let Some(tag) = pending.tag {
            if result.is_ok() {
                self.note_answered(pending.sent_ms, out);
            }
            // The session died at the coordinator: the role hears the answer
            // first (so it can tell which request failed), then `SessionLost`.
            if result == Err(CoordError::SessionExpired) && self.session.is_some() {
                let mut events = vec![ClientEvent::Reply { tag, result }];
                events.extend(self.lose_session(ctx, false, out));
                return events;
            }
            return vec![ClientEvent::Reply { tag, result }];
        }
        // The client's own requests: session opening and heartbeats.
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
            // `ResumeSession` refused, or a heartbeat on a session that has
            // expired: the coordinator has already deleted our ephemeral nodes.
            Err(CoordError::SessionExpired) if self.session.is_some() => {
                self.lose_session(ctx, false, out)
            }
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests;
