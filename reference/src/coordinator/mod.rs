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
//! - `Create` does not require the parent to exist, and `Delete` neither checks
//!   a version nor refuses a node with children: no role relies on either.
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
mod tests {
    use super::*;
    use crate::io::Output;

    /// A context at `now_ms`; the coordinator never uses the random word
    /// (nothing it does is randomized, so its behaviour depends on the order
    /// of its inputs alone).
    fn ctx(now_ms: u64) -> Context {
        Context { now_ms, random: 0 }
    }

    /// Sends one request from `from` at `now_ms` and returns the coordinator's
    /// answer together with everything else it output (watch notices, events,
    /// timers), so a test can check both. The `xid` is fixed: the tests never
    /// have two requests in flight.
    fn request(
        c: &mut Coordinator,
        now_ms: u64,
        from: &str,
        session: Option<SessionId>,
        op: CoordOp,
    ) -> (
        Result<CoordReply, CoordError>,
        Vec<Output<CoordinatorTimer>>,
    ) {
        let mut out = Outputs::new();
        c.handle(
            &ctx(now_ms),
            Input::Message {
                from: from.into(),
                message: Message::CoordRequest {
                    xid: 7,
                    session,
                    op,
                },
            },
            &mut out,
        );
        let outputs = out.into_vec();
        let reply = outputs
            .iter()
            .find_map(|o| match o {
                Output::Send {
                    message: Message::CoordResponse { result, .. },
                    ..
                } => Some(result.clone()),
                _ => None,
            })
            .expect("every request is answered");
        (reply, outputs)
    }

    /// Opens a 10 s session for `from` at time 0 (the default
    /// `zk_session_timeout`), so every deadline in the tests is `10_000` past
    /// the last request.
    fn open(c: &mut Coordinator, from: &str) -> SessionId {
        match request(
            c,
            0,
            from,
            None,
            CoordOp::CreateSession { timeout_ms: 10_000 },
        )
        .0
        {
            Ok(CoordReply::SessionCreated { session, .. }) => session,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Creates a master's candidacy node (ephemeral, sequential) and returns
    /// its sequence number — the epoch it would lead. The prefix differs from
    /// [`crate::detector::CANDIDATE_PREFIX`] on purpose: the coordinator knows
    /// nothing of masters, any path works the same.
    fn create_candidate(c: &mut Coordinator, from: &str, s: SessionId) -> u64 {
        let op = CoordOp::Create {
            path: "/mesos/masters/n_".into(),
            data: from.into(),
            ephemeral: true,
            sequential: true,
        };
        match request(c, 0, from, Some(s), op).0 {
            Ok(CoordReply::Created { sequence, .. }) => sequence.unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// ZooKeeper semantics: a session expires only when its timeout passes
    /// without a heartbeat, and its ephemeral nodes vanish with it.
    ///
    /// This is the failover path of the whole cluster: the leader (master-1)
    /// goes silent, its candidacy disappears at its session's deadline, and
    /// the standby that watches the group is told. It would catch a
    /// coordinator that expired sessions on disconnect (a network blip would
    /// depose the leader), one that kept ephemeral nodes of dead sessions (no
    /// failover ever), one whose heartbeats did not re-arm the deadline
    /// (healthy masters deposed), and one that let an expired session resume.
    #[test]
    fn session_expires_only_by_timeout_and_takes_its_ephemeral_nodes() {
        let mut c = Coordinator::new("coordinator".into());
        let s1 = open(&mut c, "master-1");
        let s2 = open(&mut c, "master-2");
        // Sequence numbers are handed out in creation order: master-1 leads.
        assert_eq!(create_candidate(&mut c, "master-1", s1), 0);
        assert_eq!(create_candidate(&mut c, "master-2", s2), 1);

        // master-2 watches the group; master-1's connection closes: nothing expires.
        // (No output at all: not even an event. A coordinator that reacted to
        // `Disconnected` here would turn every connection reset into a
        // leader change.)
        let _ = request(
            &mut c,
            0,
            "master-2",
            Some(s2),
            CoordOp::GetChildren {
                path: "/mesos/masters".into(),
                watch: true,
            },
        );
        let mut out = Outputs::new();
        c.handle(
            &ctx(100),
            Input::Disconnected {
                peer: "master-1".into(),
            },
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(c.children("/mesos/masters").len(), 2);

        // master-2 heartbeats at 6 s; master-1 stays silent. At 10 s
        // master-1's deadline (0 + 10 s) has come, master-2's (6 + 10 s) has
        // not.
        let _ = request(&mut c, 6_000, "master-2", Some(s2), CoordOp::Heartbeat);
        let mut out = Outputs::new();
        c.handle(
            &ctx(10_000),
            Input::Timer(CoordinatorTimer::Expire(s1)),
            &mut out,
        );
        let outputs = out.into_vec();
        assert!(outputs.contains(&Output::Event(Event::SessionExpired {
            session: s1,
            owner: "master-1".into()
        })));
        // The standby's child watch fired: it will re-list and find itself lowest.
        assert!(outputs.contains(&Output::Send {
            to: "master-2".into(),
            message: Message::CoordWatch {
                path: "/mesos/masters".into(),
                kind: WatchKind::ChildrenChanged
            }
        }));
        // Only master-2's candidacy is left; its sequence (1) is the new epoch.
        let children = c.children("/mesos/masters");
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].sequence, Some(1));

        // master-2's own timer, armed at its 6 s heartbeat, does not expire it at 10 s.
        let mut out = Outputs::new();
        c.handle(
            &ctx(10_000),
            Input::Timer(CoordinatorTimer::Expire(s2)),
            &mut out,
        );
        // A stale timer is harmless: `tick_expire` re-checks the deadline
        // (and re-arms the timer for 16 s, master-2's real deadline). Without
        // that check, any timer that outlived a heartbeat would kill a
        // healthy session.
        assert!(c.sessions().contains_key(&s2));
        // A resumed expired session is refused: master-1, back from its
        // silence, cannot reclaim the leadership it lost; it must open a new
        // session, and its new candidacy will sort after master-2's.
        let (reply, _) = request(
            &mut c,
            10_010,
            "master-1",
            None,
            CoordOp::ResumeSession { session: s1 },
        );
        assert_eq!(reply, Err(CoordError::SessionExpired));
    }

    /// Versioned writes: a writer holding a stale version cannot overwrite.
    ///
    /// Walks the registry's life: created once with `Absent` (a second
    /// "create" is refused, as when two new leaders race), then updated with
    /// the version last read; a writer still holding version 0 — a deposed
    /// leader — is refused and told the current version, and its data does
    /// not land. Catches a coordinator that accepts blind writes, which would
    /// let two leaders interleave registry updates and lose admitted agents.
    #[test]
    fn compare_and_set_refuses_a_stale_writer() {
        let mut c = Coordinator::new("coordinator".into());
        let s = open(&mut c, "master-1");
        let write = |c: &mut Coordinator, data: &str, expected| {
            request(
                c,
                1,
                "master-1",
                Some(s),
                CoordOp::SetData {
                    path: "/mesos/registry".into(),
                    data: data.into(),
                    expected,
                },
            )
            .0
        };
        // First write creates the node at version 0 (the first leader ever).
        assert_eq!(
            write(&mut c, "a", ExpectedVersion::Absent),
            Ok(CoordReply::Written { version: 0 })
        );
        // A second "create" loses the race and learns the current version.
        assert_eq!(
            write(&mut c, "b", ExpectedVersion::Absent),
            Err(CoordError::BadVersion { current: Some(0) })
        );
        // Read-modify-write with the version read: accepted, version 1.
        assert_eq!(
            write(&mut c, "b", ExpectedVersion::Version(0)),
            Ok(CoordReply::Written { version: 1 })
        );
        // The same expectation again is now stale: refused, nothing written.
        assert_eq!(
            write(&mut c, "stale", ExpectedVersion::Version(0)),
            Err(CoordError::BadVersion { current: Some(1) })
        );
        assert_eq!(c.node("/mesos/registry").unwrap().data, "b");
    }

    /// A request must name a live session: none at all is `NoSession`, an
    /// unknown ID is `SessionExpired`. Catches a coordinator that would run
    /// operations outside any session — an ephemeral node created that way
    /// would have no owner to expire with and would never go away.
    #[test]
    fn requests_without_a_live_session_are_refused() {
        let mut c = Coordinator::new("coordinator".into());
        // No session named at all: the client skipped `CreateSession`.
        let (reply, _) = request(&mut c, 0, "agent-1", None, CoordOp::Heartbeat);
        assert_eq!(reply, Err(CoordError::NoSession));
        // A session the coordinator does not know: to the client, expired.
        let (reply, _) = request(
            &mut c,
            0,
            "agent-1",
            Some(SessionId(99)),
            CoordOp::Heartbeat,
        );
        assert_eq!(reply, Err(CoordError::SessionExpired));
    }

    /// `parent_of` decides which child watches fire and which sequence
    /// counter a create draws from; a wrong parent would silently break
    /// leader detection (no watch would fire on a candidacy's deletion).
    #[test]
    fn parent_of_strips_the_last_component() {
        assert_eq!(parent_of("/mesos/masters/n_0000000001"), "/mesos/masters");
        assert_eq!(parent_of("/mesos"), "/");
    }
}
