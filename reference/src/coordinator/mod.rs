//! # The coordinator: a ZooKeeper stand-in
//!
//! Mesos elects its leading master through ZooKeeper and keeps its registry in a
//! replicated log; we fold both into one *coordinator* role that stands in for a
//! replicated ensemble. It is never crashed or wiped (an ensemble survives minority
//! failures), but it can be partitioned or paused.
//!
//! ## Who uses it, and for what
//!
//! - **Masters** contend for leadership (`master/election.rs`): each creates an
//!   ephemeral sequential node under [`crate::detector::MASTERS_PATH`], as
//!   Mesos's `GroupProcess::doJoin` (src/zookeeper/group.cpp) creates a
//!   `ZOO_SEQUENCE | ZOO_EPHEMERAL` node for `ZooKeeperMasterContender`
//!   (src/master/contender/zookeeper.cpp).
//! - **Everyone** detects the leader by listing that group with a watch
//!   ([`crate::detector`]), as `LeaderDetectorProcess::watched`
//!   (src/zookeeper/detector.cpp) does.
//! - **The leading master** keeps the registry ([`crate::registry`]) here as one
//!   versioned document. Mesos's default registry lives in the replicated log
//!   (src/state/log.cpp); the ZooKeeper state backend,
//!   `ZooKeeperStorageProcess::doSet` (src/state/zookeeper.cpp), shows the same
//!   compare-and-set this coordinator offers: create if absent, else `set` with
//!   the version last read, and `ZBADVERSION` means someone else wrote.
//! - **Scheduler instances** elect their framework's active instance and keep
//!   the framework's state the same way (`scheduler/election.rs`,
//!   `scheduler/state_store.rs`), as Marathon or Aurora do with ZooKeeper.
//!
//! ## State
//!
//! - **Sessions.** A client opens a session with a timeout and keeps it alive with
//!   heartbeats. A session expires only when a whole timeout passes without hearing
//!   from its client. A closed connection alone does *not* expire it: the client may
//!   reconnect and resume the session — exactly ZooKeeper's semantics, and the reason
//!   a crashed leader is replaced only after `zk_session_timeout`.
//! - **Nodes.** A tree of paths with string data and a version. A node may be
//!   *ephemeral* (deleted when its session expires) and *sequential* (the
//!   coordinator appends a counter to its name). Masters contend by creating
//!   ephemeral sequential nodes under `/mesos/masters`; the lowest number leads.
//! - **Watches.** One-shot notifications a session asks for when it reads a node's
//!   data or children; the next change fires them and removes them.
//!
//! ## Transitions
//!
//! ```text
//! session:  (none) --CreateSession--> live --heartbeat/any request--> live (timer re-armed)
//!           live --timeout without a request--> expired (ephemeral nodes deleted, watches fire)
//! node:     (none) --Create / SetData(Absent)--> v0 --SetData(Version(v))--> v+1 ... --Delete--> (none)
//! ```
//!
//! A write with the wrong expected version is refused with `BadVersion`: that is
//! how the master registry (and, later, a framework's own state) stays safe from
//! a stale writer.
//!
//! ## Why only a timeout ends a session
//!
//! The coordinator cannot tell a crashed client from a partitioned one, nor a
//! partitioned one from one whose TCP connection merely reset: all it sees is
//! silence. Expiring on a closed connection would depose a healthy leader on
//! every network blip (and the blip might close the connection only on the
//! coordinator's side). Waiting a whole session timeout gives a live client
//! the time to reconnect and resume; a dead one is replaced after exactly that
//! long. The price is the failover delay: a crashed leader's successor waits
//! `zk_session_timeout` (10 s by default, [`crate::timing::Timing`]).
//!
//! The other half of the bargain lives in the client: a client that cannot
//! reach the coordinator must assume its session is gone by the time the
//! coordinator would expire it, and stop acting on it
//! ([`crate::coordinator_client`], "Expiring locally").
//!
//! ## A master failover, step by step
//!
//! ```text
//! t0        master-1 (candidacy 0, leader) and master-2 (candidacy 1) heartbeat
//! t1        master-1 crashes (or is cut off); its heartbeats stop
//! t1+10s    tick_expire: session of master-1 removed, SessionExpired traced,
//!           /mesos/masters/master_0000000000 deleted -> NodeDeleted,
//!           child watch on /mesos/masters fires -> CoordWatch to every watcher
//! next      master-2, the agents and the schedulers re-list the group (and
//!           re-watch it); the lowest sequence is now 1: master-2 leads epoch 1,
//!           reads the registry, and waits for agents to re-register
//! ```
//!
//! Every step above is a traced event, so a checker can replay the elections
//! from the trace alone (`check_trace` in harness/src/checkers.rs follows
//! `NodeCreated`/`NodeDeleted` of candidacy nodes to know the current epoch).
//!
//! ## Where this differs from ZooKeeper, on purpose
//!
//! - One process, not an ensemble: there is no leader election *inside* the
//!   coordinator, no quorum and no `sync`. Every request is answered from one
//!   consistent state, which is what an ensemble promises its clients anyway.
//! - `Create` does not require the parent to exist, and `Delete` checks no
//!   version: no role relies on either. (It does refuse a node with
//!   children, and fires the child watches on the node it deletes, as
//!   ZooKeeper does: the differential test against Apache ZooKeeper,
//!   `real/tests/zookeeper.rs`, found both missing.)
//! - A `GetData` watch set on a missing node fires when the node is created
//!   (ZooKeeper needs `exists` for that; `getData` on a missing node sets no
//!   watch). It lets a role wait for a node with one operation.
//! - Watch notices go to the session's *owner process* over whatever connection
//!   it has; a notice sent while it is cut off is lost with the connection. That
//!   is why [`crate::coordinator_client::ClientEvent::SessionReady`] tells a role
//!   to re-read what it watches after a reconnect.
//! - Not modelled at all: ACLs and authentication (Mesos's
//!   src/zookeeper/authentication.cpp), multi-operations, and the session
//!   password. The owner check in `Coordinator::touch` stands in for the
//!   password: only the process that opened a session may use it.

use crate::events::Event;
use crate::ids::{ProcessId, SessionId};
use crate::io::{Context, Input, Outputs, Role};
use crate::messages::{
    ChildNode, CoordError, CoordOp, CoordReply, ExpectedVersion, Message, WatchKind,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

mod sessions;
mod tree;
mod watches;

/// The coordinator's only timer: "check whether this session has expired".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CoordinatorTimer {
    /// Armed at `last_heard_ms + timeout_ms` whenever a session is created or
    /// heard from; one per session, so each request simply re-arms it (the
    /// driver keeps at most one pending timer per value). When it fires,
    /// `Coordinator::tick_expire` re-checks the deadline before expiring.
    Expire(SessionId),
}

/// One client session, as a ZooKeeper server tracks it.
///
/// Created by `CreateSession`, refreshed by every request that names it
/// (`Coordinator::touch`), removed only by `Coordinator::tick_expire`.
/// Nothing else ends a session: not a closed connection, not the client
/// process restarting (a restarted process has no memory of its session ID,
/// so it opens a new one and the old one times out on its own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The process that owns the session; watch events and the expiry notice go to it.
    /// A request naming this session from any other process is refused as
    /// `SessionExpired`, so one process cannot keep another's session (and its
    /// candidacy node) alive.
    pub owner: ProcessId,
    /// The timeout the client asked for. ZooKeeper negotiates it within the
    /// server's `minSessionTimeout`/`maxSessionTimeout`; we grant it as asked
    /// (masters, agents and schedulers all ask for `zk_session_timeout`).
    pub timeout_ms: u64,
    /// When the coordinator last heard any request on this session.
    /// The session expires at `last_heard_ms + timeout_ms` unless heard from
    /// again; the client counts its own local deadline from the *send* time of
    /// an answered request, which is never later than this (see the module doc
    /// of [`crate::coordinator_client`]).
    pub last_heard_ms: u64,
}

/// One node of the tree (a ZooKeeper *znode*).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The node's payload. A candidacy node holds its master's process name
    /// (Mesos stores the master's `MasterInfo` as JSON, label `json.info`,
    /// see `ZooKeeperMasterContenderProcess::contend`); the registry node holds
    /// the encoded [`crate::registry::Registry`].
    pub data: String,
    /// Incremented on every `SetData`; the basis of compare-and-set.
    /// Starts at 0 when the node is created (ZooKeeper's `dataVersion` does too)
    /// and never goes back: a writer that read version `v` can only succeed
    /// while nobody else has written since.
    pub version: u64,
    /// The session whose expiry deletes this node, if ephemeral.
    /// This is what turns "a master died" into "its candidacy is gone": a
    /// crashed master stops heartbeating, its session expires, and the node
    /// (with it the master's claim to lead) is deleted.
    pub ephemeral_owner: Option<SessionId>,
    /// The number a sequential create appended, if any.
    /// Kept as a number so that [`Coordinator::children`] can report it without
    /// parsing names; for a master's candidacy it is the leader's *epoch*.
    pub sequence: Option<u64>,
}

/// The coordinator role: ZooKeeper's server side, in one process.
///
/// All state is in memory and never persisted: the coordinator stands for a
/// replicated ensemble that the nemesis never wipes, so it has no recovery
/// story of its own.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct Coordinator {
    /// This process's name (always `coordinator` in the harness's clusters).
    name: ProcessId,
    /// Live sessions. An entry is added by `CreateSession` and removed only by
    /// expiry; while it exists, the session's ephemeral nodes exist.
    sessions: BTreeMap<SessionId, Session>,
    /// The tree, keyed by full path. A flat ordered map is enough: the children
    /// of `p` are the keys under `p/` with no further `/`, found by a range scan.
    nodes: BTreeMap<String, Node>,
    /// Next sequence number per parent path (ZooKeeper keeps it in the parent).
    /// ZooKeeper derives the number from the parent's child version; a plain
    /// counter gives the same guarantee the election needs: numbers under one
    /// parent only grow and are never reused, even after the node with the
    /// lowest one is deleted — so a new candidate can never jump ahead of an
    /// older one, and an epoch is never handed out twice.
    sequence_counters: BTreeMap<String, u64>,
    /// One-shot watches on a node's children, by the watched path.
    /// Set by `GetChildren { watch: true }`; fired (and removed) by a create or
    /// delete of a direct child, or a `SetData` that creates one.
    child_watches: BTreeMap<String, BTreeSet<SessionId>>,
    /// One-shot watches on a node's data (and existence).
    /// Set by `GetData { watch: true }`, even on a missing node; fired by a
    /// create, a `SetData` or a delete of that exact path.
    data_watches: BTreeMap<String, BTreeSet<SessionId>>,
    /// The next session ID to hand out. IDs are never reused, so a client that
    /// resumes an expired session can never land in someone else's new one.
    /// (ZooKeeper makes its 64-bit IDs unique across server restarts by mixing
    /// in the server ID and the time; this coordinator never restarts, so a
    /// counter suffices.)
    next_session: u64,
}

impl Coordinator {
    /// A coordinator with no sessions and an empty tree.
    pub fn new(name: ProcessId) -> Self {
        Coordinator {
            name,
            sessions: BTreeMap::new(),
            nodes: BTreeMap::new(),
            sequence_counters: BTreeMap::new(),
            child_watches: BTreeMap::new(),
            data_watches: BTreeMap::new(),
            next_session: 1,
        }
    }

    /// The live sessions (for tests and state snapshots).
    pub fn sessions(&self) -> &BTreeMap<SessionId, Session> {
        &self.sessions
    }

    /// The node at `path`, if it exists (for tests and state snapshots).
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// The children of `path`, in name order (sequential names sort numerically
    /// because the counter is zero-padded).
    ///
    /// Each child carries its data, so a detector learns who leads from one
    /// listing. Mesos needs a second round trip for that
    /// (`ZooKeeperMasterDetectorProcess::fetched` reads the leader's node
    /// after `detected`) and must handle the node vanishing in between.
    pub fn children(&self, path: &str) -> Vec<ChildNode> {
        let prefix = format!("{path}/");
        // Every descendant of `path` sorts right after `path/` and before the
        // first key that does not start with it: one ordered range scan finds
        // them all; the filter keeps direct children only (a grandchild's
        // remaining name still contains a `/`).
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(p, _)| !p[prefix.len()..].contains('/'))
            .map(|(p, node)| ChildNode {
                name: p[prefix.len()..].to_string(),
                sequence: node.sequence,
                data: node.data.clone(),
            })
            .collect()
    }

    /// Answers one request. Every request gets exactly one `CoordResponse`
    /// carrying the client's `xid`, so the client can match answers to
    /// requests (ZooKeeper's transaction ID plays this part).
    ///
    /// The two session operations are handled here because they are the only
    /// ones that need no live session; everything else first passes
    /// [`Self::touch`], which both validates the session and counts the request
    /// as a sign of life.
    fn on_request(
        &mut self,
        ctx: &Context,
        from: &ProcessId,
        xid: u64,
        session: Option<SessionId>,
        op: CoordOp,
        out: &mut Outputs<CoordinatorTimer>,
    ) {
        let result = match op {
            // A new session each time: a client that lost the answer to a
            // `CreateSession` and asks again gets a second one, and the first
            // (with no nodes) simply times out.
            CoordOp::CreateSession { timeout_ms } => {
                let id = SessionId(self.next_session);
                self.next_session += 1;
                self.sessions.insert(
                    id,
                    Session {
                        owner: from.clone(),
                        timeout_ms,
                        last_heard_ms: ctx.now_ms,
                    },
                );
                out.set_timer(CoordinatorTimer::Expire(id), ctx.now_ms + timeout_ms);
                out.event(Event::SessionCreated {
                    session: id,
                    owner: from.clone(),
                });
                Ok(CoordReply::SessionCreated {
                    session: id,
                    timeout_ms,
                })
            }
            // Reattaching after a reconnect. ZooKeeper's client does this
            // transparently with the session ID and password; here the owner
            // check plays the password's part. An unknown ID means the session
            // expired (or never existed): the client must start over with a new
            // session and recreate its ephemeral nodes.
            CoordOp::ResumeSession { session: id } => match self.sessions.get_mut(&id) {
                Some(s) if &s.owner == from => {
                    s.last_heard_ms = ctx.now_ms;
                    out.set_timer(CoordinatorTimer::Expire(id), ctx.now_ms + s.timeout_ms);
                    Ok(CoordReply::SessionResumed { session: id })
                }
                _ => Err(CoordError::SessionExpired),
            },
            // Everything else runs inside a session: a refused session means
            // the operation is not performed at all (no half-done create).
            op => match self.touch(ctx, from, session, out) {
                Err(e) => Err(e),
                Ok(id) => self.apply(id, op, out),
            },
        };
        // The answer goes back to the sender on its current connection. If the
        // connection broke meanwhile the answer is lost, and the client has
        // already failed the request with `ConnectionLoss`: the operation may
        // have happened. Roles that write (the registrar, a scheduler's state
        // store) therefore read back before retrying a write whose answer was
        // lost.
        out.send(from, Message::CoordResponse { xid, result });
    }
}

/// The coordinator is driven like any other role (see [`crate::io`]); it
/// reacts only to requests and to its expiry timers.
impl Role for Coordinator {
    type Timer = CoordinatorTimer;

    fn process_id(&self) -> &ProcessId {
        &self.name
    }

    /// Dispatches one input. The coordinator is purely reactive: it never
    /// dials, never reads a disk, and ignores its own `Start` (there is
    /// nothing to recover — see the struct's doc).
    fn handle(
        &mut self,
        ctx: &Context,
        input: Input<CoordinatorTimer>,
        out: &mut Outputs<CoordinatorTimer>,
    ) {
        match input {
            // The whole protocol is request/response plus two kinds of
            // unsolicited notice (watches, expiry), all sent from here.
            Input::Message {
                from,
                message: Message::CoordRequest { xid, session, op },
            } => self.on_request(ctx, &from, xid, session, op, out),
            // Anything else is a bug in the sender or an injected message;
            // trace it rather than act on it.
            Input::Message { from, message } => out.event(Event::MessageIgnored {
                from,
                kind: message.kind().to_string(),
                why: "the coordinator only speaks the coordinator protocol".into(),
            }),
            Input::Timer(CoordinatorTimer::Expire(id)) => self.tick_expire(ctx, id, out),
            // A closed connection does not expire a session: only the timeout does.
            // (The coordinator never dials anyone and has no disk, so the other
            // inputs cannot concern it.)
            Input::Start
            | Input::Connected { .. }
            | Input::ConnectFailed { .. }
            | Input::Disconnected { .. }
            | Input::Command(_)
            | Input::FileRead { .. }
            | Input::FileSynced { .. } => {}
        }
    }
}

/// `/mesos/masters/n_0000000003` -> `/mesos/masters`.
///
/// The parent whose child watches a create or delete fires, and whose
/// sequence counter a sequential create draws from. A top-level path's
/// parent is `/`.
pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

#[cfg(test)]
mod tests;
