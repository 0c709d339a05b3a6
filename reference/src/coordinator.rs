//! # The coordinator: a ZooKeeper stand-in
//!
//! Mesos elects its leading master through ZooKeeper and keeps its registry in a
//! replicated log; we fold both into one *coordinator* role that stands in for a
//! replicated ensemble. It is never crashed or wiped (an ensemble survives minority
//! failures), but it can be partitioned or paused.
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

use crate::events::Event;
use crate::ids::{ProcessId, SessionId};
use crate::io::{Context, Input, Outputs, Role};
use crate::messages::{
    ChildNode, CoordError, CoordOp, CoordReply, ExpectedVersion, Message, WatchKind,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The coordinator's only timer: "check whether this session has expired".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CoordinatorTimer {
    Expire(SessionId),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The process that owns the session; watch events and the expiry notice go to it.
    pub owner: ProcessId,
    pub timeout_ms: u64,
    /// When the coordinator last heard any request on this session.
    pub last_heard_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub data: String,
    /// Incremented on every `SetData`; the basis of compare-and-set.
    pub version: u64,
    /// The session whose expiry deletes this node, if ephemeral.
    pub ephemeral_owner: Option<SessionId>,
    /// The number a sequential create appended, if any.
    pub sequence: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Coordinator {
    name: ProcessId,
    sessions: BTreeMap<SessionId, Session>,
    nodes: BTreeMap<String, Node>,
    /// Next sequence number per parent path (ZooKeeper keeps it in the parent).
    sequence_counters: BTreeMap<String, u64>,
    /// One-shot watches on a node's children, by the watched path.
    child_watches: BTreeMap<String, BTreeSet<SessionId>>,
    /// One-shot watches on a node's data (and existence).
    data_watches: BTreeMap<String, BTreeSet<SessionId>>,
    next_session: u64,
}

impl Coordinator {
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

    pub fn sessions(&self) -> &BTreeMap<SessionId, Session> {
        &self.sessions
    }

    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// The children of `path`, in name order (sequential names sort numerically
    /// because the counter is zero-padded).
    pub fn children(&self, path: &str) -> Vec<ChildNode> {
        let prefix = format!("{path}/");
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
            CoordOp::ResumeSession { session: id } => match self.sessions.get_mut(&id) {
                Some(s) if &s.owner == from => {
                    s.last_heard_ms = ctx.now_ms;
                    out.set_timer(CoordinatorTimer::Expire(id), ctx.now_ms + s.timeout_ms);
                    Ok(CoordReply::SessionResumed { session: id })
                }
                _ => Err(CoordError::SessionExpired),
            },
            op => match self.touch(ctx, from, session, out) {
                Err(e) => Err(e),
                Ok(id) => self.apply(id, op, out),
            },
        };
        out.send(from, Message::CoordResponse { xid, result });
    }

    /// Records that a session's client was heard from, re-arming its expiry.
    fn touch(
        &mut self,
        ctx: &Context,
        from: &ProcessId,
        session: Option<SessionId>,
        out: &mut Outputs<CoordinatorTimer>,
    ) -> Result<SessionId, CoordError> {
        let id = session.ok_or(CoordError::NoSession)?;
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or(CoordError::SessionExpired)?;
        if &s.owner != from {
            return Err(CoordError::SessionExpired);
        }
        s.last_heard_ms = ctx.now_ms;
        out.set_timer(CoordinatorTimer::Expire(id), ctx.now_ms + s.timeout_ms);
        Ok(id)
    }

    fn apply(
        &mut self,
        session: SessionId,
        op: CoordOp,
        out: &mut Outputs<CoordinatorTimer>,
    ) -> Result<CoordReply, CoordError> {
        match op {
            CoordOp::CreateSession { .. } | CoordOp::ResumeSession { .. } => {
                unreachable!("session operations are handled before apply")
            }
            CoordOp::Heartbeat => Ok(CoordReply::HeartbeatAck),
            CoordOp::Create {
                path,
                data,
                ephemeral,
                sequential,
            } => {
                let parent = parent_of(&path).to_string();
                let (path, sequence) = if sequential {
                    let counter = self.sequence_counters.entry(parent.clone()).or_insert(0);
                    let n = *counter;
                    *counter += 1;
                    (format!("{path}{n:010}"), Some(n))
                } else {
                    (path, None)
                };
                if self.nodes.contains_key(&path) {
                    return Err(CoordError::NodeExists);
                }
                self.nodes.insert(
                    path.clone(),
                    Node {
                        data,
                        version: 0,
                        ephemeral_owner: ephemeral.then_some(session),
                        sequence,
                    },
                );
                let owner = self.sessions[&session].owner.clone();
                out.event(Event::NodeCreated {
                    path: path.clone(),
                    owner,
                });
                self.fire_data_watches(&path, WatchKind::DataChanged, out);
                self.fire_child_watches(&parent, out);
                Ok(CoordReply::Created { path, sequence })
            }
            CoordOp::Delete { path } => {
                if self.nodes.remove(&path).is_none() {
                    return Err(CoordError::NoNode);
                }
                self.after_delete(&path, out);
                Ok(CoordReply::Deleted)
            }
            CoordOp::GetData { path, watch } => {
                if watch {
                    self.data_watches
                        .entry(path.clone())
                        .or_default()
                        .insert(session);
                }
                match self.nodes.get(&path) {
                    Some(node) => Ok(CoordReply::Data {
                        data: node.data.clone(),
                        version: node.version,
                    }),
                    None => Err(CoordError::NoNode),
                }
            }
            CoordOp::SetData {
                path,
                data,
                expected,
            } => {
                let current = self.nodes.get(&path).map(|n| n.version);
                let version = match (expected, current) {
                    (ExpectedVersion::Absent, None) => {
                        self.nodes.insert(
                            path.clone(),
                            Node {
                                data,
                                version: 0,
                                ephemeral_owner: None,
                                sequence: None,
                            },
                        );
                        0
                    }
                    (ExpectedVersion::Version(v), Some(c)) if v == c => {
                        let node = self.nodes.get_mut(&path).expect("checked above");
                        node.data = data;
                        node.version += 1;
                        node.version
                    }
                    (ExpectedVersion::Version(_), None) => return Err(CoordError::NoNode),
                    (_, current) => return Err(CoordError::BadVersion { current }),
                };
                self.fire_data_watches(&path, WatchKind::DataChanged, out);
                if current.is_none() {
                    self.fire_child_watches(parent_of(&path), out);
                }
                Ok(CoordReply::Written { version })
            }
            CoordOp::GetChildren { path, watch } => {
                if watch {
                    self.child_watches
                        .entry(path.clone())
                        .or_default()
                        .insert(session);
                }
                Ok(CoordReply::Children {
                    children: self.children(&path),
                })
            }
        }
    }

    fn after_delete(&mut self, path: &str, out: &mut Outputs<CoordinatorTimer>) {
        out.event(Event::NodeDeleted {
            path: path.to_string(),
        });
        self.fire_data_watches(path, WatchKind::Deleted, out);
        self.fire_child_watches(parent_of(path), out);
    }

    fn fire_child_watches(&mut self, path: &str, out: &mut Outputs<CoordinatorTimer>) {
        if let Some(watchers) = self.child_watches.remove(path) {
            self.notify(watchers, path, WatchKind::ChildrenChanged, out);
        }
    }

    fn fire_data_watches(
        &mut self,
        path: &str,
        kind: WatchKind,
        out: &mut Outputs<CoordinatorTimer>,
    ) {
        if let Some(watchers) = self.data_watches.remove(path) {
            self.notify(watchers, path, kind, out);
        }
    }

    fn notify(
        &self,
        watchers: BTreeSet<SessionId>,
        path: &str,
        kind: WatchKind,
        out: &mut Outputs<CoordinatorTimer>,
    ) {
        for id in watchers {
            if let Some(s) = self.sessions.get(&id) {
                out.send(
                    &s.owner,
                    Message::CoordWatch {
                        path: path.to_string(),
                        kind,
                    },
                );
            }
        }
    }

    fn tick_expire(&mut self, ctx: &Context, id: SessionId, out: &mut Outputs<CoordinatorTimer>) {
        let Some(session) = self.sessions.get(&id) else {
            return;
        };
        let deadline_ms = session.last_heard_ms + session.timeout_ms;
        if ctx.now_ms < deadline_ms {
            // Heard from since the timer was armed; the driver replaced the timer,
            // but stay correct even if a stale one fires.
            out.set_timer(CoordinatorTimer::Expire(id), deadline_ms);
            return;
        }
        let session = self.sessions.remove(&id).expect("checked above");
        out.event(Event::SessionExpired {
            session: id,
            owner: session.owner.clone(),
        });
        // Tell the owner, in case it is still connected (ZooKeeper sends
        // SESSION_EXPIRED when an expired client reconnects; telling it now
        // changes nothing but speed).
        out.send(&session.owner, Message::CoordSessionExpired { session: id });
        for watchers in self
            .child_watches
            .values_mut()
            .chain(self.data_watches.values_mut())
        {
            watchers.remove(&id);
        }
        let ephemeral: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.ephemeral_owner == Some(id))
            .map(|(p, _)| p.clone())
            .collect();
        for path in ephemeral {
            self.nodes.remove(&path);
            self.after_delete(&path, out);
        }
    }
}

impl Role for Coordinator {
    type Timer = CoordinatorTimer;

    fn process_id(&self) -> &ProcessId {
        &self.name
    }

    fn handle(
        &mut self,
        ctx: &Context,
        input: Input<CoordinatorTimer>,
        out: &mut Outputs<CoordinatorTimer>,
    ) {
        match input {
            Input::Message {
                from,
                message: Message::CoordRequest { xid, session, op },
            } => self.on_request(ctx, &from, xid, session, op, out),
            Input::Message { from, message } => out.event(Event::MessageIgnored {
                from,
                kind: message.kind().to_string(),
                why: "the coordinator only speaks the coordinator protocol".into(),
            }),
            Input::Timer(CoordinatorTimer::Expire(id)) => self.tick_expire(ctx, id, out),
            // A closed connection does not expire a session: only the timeout does.
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

    fn ctx(now_ms: u64) -> Context {
        Context { now_ms, random: 0 }
    }

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
    #[test]
    fn session_expires_only_by_timeout_and_takes_its_ephemeral_nodes() {
        let mut c = Coordinator::new("coordinator".into());
        let s1 = open(&mut c, "master-1");
        let s2 = open(&mut c, "master-2");
        assert_eq!(create_candidate(&mut c, "master-1", s1), 0);
        assert_eq!(create_candidate(&mut c, "master-2", s2), 1);

        // master-2 watches the group; master-1's connection closes: nothing expires.
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

        // master-2 heartbeats at 6 s; master-1 stays silent.
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
        assert!(outputs.contains(&Output::Send {
            to: "master-2".into(),
            message: Message::CoordWatch {
                path: "/mesos/masters".into(),
                kind: WatchKind::ChildrenChanged
            }
        }));
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
        assert!(c.sessions().contains_key(&s2));
        // A resumed expired session is refused.
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
        assert_eq!(
            write(&mut c, "a", ExpectedVersion::Absent),
            Ok(CoordReply::Written { version: 0 })
        );
        assert_eq!(
            write(&mut c, "b", ExpectedVersion::Absent),
            Err(CoordError::BadVersion { current: Some(0) })
        );
        assert_eq!(
            write(&mut c, "b", ExpectedVersion::Version(0)),
            Ok(CoordReply::Written { version: 1 })
        );
        assert_eq!(
            write(&mut c, "stale", ExpectedVersion::Version(0)),
            Err(CoordError::BadVersion { current: Some(1) })
        );
        assert_eq!(c.node("/mesos/registry").unwrap().data, "b");
    }

    #[test]
    fn requests_without_a_live_session_are_refused() {
        let mut c = Coordinator::new("coordinator".into());
        let (reply, _) = request(&mut c, 0, "agent-1", None, CoordOp::Heartbeat);
        assert_eq!(reply, Err(CoordError::NoSession));
        let (reply, _) = request(
            &mut c,
            0,
            "agent-1",
            Some(SessionId(99)),
            CoordOp::Heartbeat,
        );
        assert_eq!(reply, Err(CoordError::SessionExpired));
    }

    #[test]
    fn parent_of_strips_the_last_component() {
        assert_eq!(parent_of("/mesos/masters/n_0000000001"), "/mesos/masters");
        assert_eq!(parent_of("/mesos"), "/");
    }
}
