//! Unit tests of the coordinator: the role driven by hand, one input at a time.

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

/// Deleting a node fires the *child* watches set on it, with `Deleted`, as
/// ZooKeeper does (`DataTree::deleteNode` triggers both the node's data and
/// child watches with `NodeDeleted`, and a session watching both hears it
/// once). Found by the differential test against Apache ZooKeeper
/// (`real/tests/zookeeper.rs`): the stand-in fired nothing and kept the
/// watch, so a role that listed a node's children and waited for a change
/// would wait for ever once the node itself went.
#[test]
fn deleting_a_node_fires_the_child_watches_set_on_it() {
    let mut c = Coordinator::new("coordinator".into());
    let a = open(&mut c, "master-1");
    let b = open(&mut c, "master-2");
    let set = |c: &mut Coordinator, path: &str| {
        let op = CoordOp::SetData {
            path: path.into(),
            data: String::new(),
            expected: ExpectedVersion::Absent,
        };
        request(c, 1, "master-1", Some(a), op).0.unwrap();
    };
    set(&mut c, "/w");
    set(&mut c, "/both");
    // master-2 lists /w (a child watch), and both lists and reads /both.
    for (path, data) in [("/w", false), ("/both", false), ("/both", true)] {
        let op = if data {
            CoordOp::GetData {
                path: path.into(),
                watch: true,
            }
        } else {
            CoordOp::GetChildren {
                path: path.into(),
                watch: true,
            }
        };
        request(&mut c, 2, "master-2", Some(b), op).0.unwrap();
    }
    let watches = |outputs: &[Output<CoordinatorTimer>]| -> Vec<Message> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send {
                    message: m @ Message::CoordWatch { .. },
                    ..
                } => Some(m.clone()),
                _ => None,
            })
            .collect()
    };
    for path in ["/w", "/both"] {
        let (reply, outputs) = request(
            &mut c,
            3,
            "master-1",
            Some(a),
            CoordOp::Delete { path: path.into() },
        );
        assert_eq!(reply, Ok(CoordReply::Deleted));
        assert_eq!(
            watches(&outputs),
            [Message::CoordWatch {
                path: path.into(),
                kind: WatchKind::Deleted
            }],
            "one Deleted notice for {path}"
        );
    }
}

/// A node with children cannot be deleted: ZooKeeper answers `ZNOTEMPTY`
/// (the ZooKeeper adapter reports it as `NodeExists`, as here), and the
/// node and its children stay. Found by the differential test: the
/// stand-in deleted the node and left its children listed under a parent
/// that no longer existed.
#[test]
fn a_node_with_children_cannot_be_deleted() {
    let mut c = Coordinator::new("coordinator".into());
    let a = open(&mut c, "master-1");
    for path in ["/p", "/p/c"] {
        let op = CoordOp::SetData {
            path: path.into(),
            data: "x".into(),
            expected: ExpectedVersion::Absent,
        };
        request(&mut c, 1, "master-1", Some(a), op).0.unwrap();
    }
    let delete = |c: &mut Coordinator, path: &str| {
        request(
            c,
            2,
            "master-1",
            Some(a),
            CoordOp::Delete { path: path.into() },
        )
        .0
    };
    assert_eq!(delete(&mut c, "/p"), Err(CoordError::NodeExists));
    assert_eq!(c.children("/p").len(), 1);
    // Empty once its child is gone: then it can go.
    assert_eq!(delete(&mut c, "/p/c"), Ok(CoordReply::Deleted));
    assert_eq!(delete(&mut c, "/p"), Ok(CoordReply::Deleted));
    // A node whose name merely starts like another's is not its child.
    for path in ["/q", "/qq"] {
        let op = CoordOp::SetData {
            path: path.into(),
            data: String::new(),
            expected: ExpectedVersion::Absent,
        };
        request(&mut c, 3, "master-1", Some(a), op).0.unwrap();
    }
    assert_eq!(delete(&mut c, "/q"), Ok(CoordReply::Deleted));
}
