//! # The differential test: the coordinator stand-in against real ZooKeeper
//!
//! Every simulated election and compare-and-set trusts the stand-in
//! (`reference/src/coordinator/`) to behave as ZooKeeper does for the
//! operations the roles use. Here the same scripts of coordinator-client
//! operations — sessions, ephemeral sequential nodes, watches, versioned
//! writes, a session left to expire — run against both, and must give the
//! same answers and notifications once session IDs and sequence numbers are
//! normalised (`mesochaos_real::zookeeper::differential`). ZooKeeper's expiry
//! must come within `[timeout, timeout + 2 × tickTime]` of the client's
//! silence.
//!
//! Where the two differ for good, `fidelity_findings` pins the difference:
//! if the stand-in is changed to match ZooKeeper, that test says so.
//!
//! The server is Debian's `zookeeper` package. Without it the tests skip
//! with a message naming the package — except under `CI=true`, where they
//! fail, so CI cannot pass by testing nothing.

use mesochaos_real::driver::monotonic_ms;
use mesochaos_real::zookeeper::adapter::ZkSession;
use mesochaos_real::zookeeper::differential::{
    normalise, run_stand_in, run_zookeeper, Record, Script, Step, Transcript,
};
use mesochaos_real::zookeeper::server::{self, ZooKeeperServer};
use mesochaos_reference::messages::{
    ChildNode, CoordError, CoordOp, CoordReply, ExpectedVersion, Message, WatchKind,
};

/// The server's tickTime: short, so expiry takes a couple of seconds.
const TICK_MS: u64 = 200;
/// Every session's timeout: 10 ticks, inside ZooKeeper's [2, 20] clamp, and
/// long enough that a loaded CI machine does not expire a live session.
const TIMEOUT_MS: u64 = 2_000;

/// Whether ZooKeeper can run here; if not, skips (or fails under CI).
fn zookeeper_or_skip(test: &str) -> bool {
    match server::available() {
        Ok(()) => true,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test} must run under CI=true, but cannot: {e}")
        }
        Err(e) => {
            eprintln!("skipping {test}: {e}");
            false
        }
    }
}

/// A runtime for the ZooKeeper side (the client crate, the proxies).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

// ----- script building -----

fn open(client: usize) -> Step {
    Step::Open {
        client,
        timeout_ms: TIMEOUT_MS,
    }
}

fn act(client: usize, op: CoordOp) -> Step {
    Step::Do { client, op }
}

fn create(client: usize, path: &str, data: &str, ephemeral: bool, sequential: bool) -> Step {
    act(
        client,
        CoordOp::Create {
            path: path.into(),
            data: data.into(),
            ephemeral,
            sequential,
        },
    )
}

fn list(client: usize, path: &str, watch: bool) -> Step {
    act(
        client,
        CoordOp::GetChildren {
            path: path.into(),
            watch,
        },
    )
}

fn get(client: usize, path: &str, watch: bool) -> Step {
    act(
        client,
        CoordOp::GetData {
            path: path.into(),
            watch,
        },
    )
}

fn set(client: usize, path: &str, data: &str, expected: ExpectedVersion) -> Step {
    act(
        client,
        CoordOp::SetData {
            path: path.into(),
            data: data.into(),
            expected,
        },
    )
}

fn delete(client: usize, path: &str) -> Step {
    act(client, CoordOp::Delete { path: path.into() })
}

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const MASTERS: &str = "/mesos/masters";
const CANDIDATE: &str = "/mesos/masters/master_";

/// Masters contending as `master/election.rs` does, one failing over by
/// session expiry (Mesos's `contender/zookeeper.cpp` and
/// `detector/zookeeper.cpp` over `GroupProcess::join` and `watch`).
fn election() -> Script {
    Script {
        name: "election",
        clients: 2,
        steps: vec![
            open(A),
            open(B),
            create(A, CANDIDATE, "master-a", true, true),
            list(B, MASTERS, true),
            create(A, CANDIDATE, "master-a2", true, true),
            list(B, MASTERS, true),
            create(B, CANDIDATE, "master-b", true, true),
            delete(A, "/mesos/masters/master_0000000000"),
            list(B, MASTERS, true),
            list(A, MASTERS, true),
            // A's candidacy dies with its session: B is told, leads.
            Step::Expire { client: A },
            list(B, MASTERS, true),
            get(A, MASTERS, false),
            act(A, CoordOp::Heartbeat),
            create(B, CANDIDATE, "master-b2", true, true),
            list(B, MASTERS, false),
            Step::Resume { client: B },
            act(B, CoordOp::Heartbeat),
        ],
    }
}

/// A framework's state written with compare-and-set, as
/// `scheduler/state_store.rs` and the registrar do (Mesos's
/// `ZooKeeperStorageProcess::doSet`), with a watcher on it.
fn compare_and_set() -> Script {
    use ExpectedVersion::*;
    const STATE: &str = "/frameworks/f/state";
    Script {
        name: "compare-and-set",
        clients: 2,
        steps: vec![
            open(A),
            open(B),
            set(A, STATE, "s0", Absent),
            get(B, STATE, true),
            set(A, STATE, "s1", Version(0)),
            set(B, STATE, "s2", Version(0)),
            set(B, STATE, "s3", Absent),
            get(B, STATE, true),
            // A second watch on the same node: still one notification.
            get(B, STATE, true),
            set(A, STATE, "s4", Version(1)),
            set(A, "/frameworks/f/other", "x", Version(7)),
            get(B, STATE, true),
            delete(A, STATE),
            delete(A, STATE),
            // A watch on a missing node, reported when it is created.
            get(B, STATE, true),
            set(A, STATE, "s5", Absent),
            create(A, STATE, "x", false, false),
            list(B, "/frameworks/f", true),
            create(A, "/frameworks/f/lock", "a", true, false),
            get(A, "/frameworks/f/lock", false),
            list(B, "/frameworks/f", true),
            delete(A, "/frameworks/f/lock"),
            Step::Resume { client: A },
        ],
    }
}

/// Three clients watching one node's data and children.
fn watchers() -> Script {
    use ExpectedVersion::*;
    Script {
        name: "watchers",
        clients: 3,
        steps: vec![
            open(A),
            open(B),
            open(C),
            set(A, "/cfg", "v0", Absent),
            get(B, "/cfg", true),
            get(C, "/cfg", true),
            list(C, "/cfg", true),
            set(A, "/cfg", "v1", Version(0)),
            create(A, "/cfg/child", "c", false, false),
            get(B, "/cfg", true),
            get(C, "/cfg", true),
            delete(A, "/cfg/child"),
            // C watches both the data and the children: one deletion is
            // still one notification.
            list(C, "/cfg", true),
            delete(A, "/cfg"),
            get(B, "/cfg", true),
            set(C, "/cfg", "v2", Absent),
            list(A, "/cfg", false),
        ],
    }
}

/// Runs `script` both ways: (stand-in, ZooKeeper), raw.
fn both(
    rt: &tokio::runtime::Runtime,
    zk: &ZooKeeperServer,
    script: &Script,
) -> (Transcript, Transcript) {
    let stand_in = run_stand_in(script);
    let chroot = format!("/{}", script.name);
    let real = rt
        .block_on(run_zookeeper(script, zk.address(), &chroot, zk.tick_ms()))
        .unwrap_or_else(|e| panic!("{e}\nZooKeeper's log ends:\n{}", zk.log_tail()));
    (stand_in, real)
}

#[test]
fn the_stand_in_answers_as_zookeeper_does() {
    if !zookeeper_or_skip("the_stand_in_answers_as_zookeeper_does") {
        return;
    }
    server::check_session_timeout(TIMEOUT_MS, TICK_MS).expect("the test's own timeout is honoured");
    // Dropped last (declared first): killed even if an assertion panics.
    let zk = ZooKeeperServer::start(TICK_MS).expect("ZooKeeper starts");
    let rt = runtime();
    for script in [election(), compare_and_set(), watchers()] {
        let (stand_in, real) = both(&rt, &zk, &script);
        let (expected, got) = (normalise(&script, &stand_in), normalise(&script, &real));
        // MESOCHAOS_ZK_DUMP=1 shows what was compared.
        if std::env::var_os("MESOCHAOS_ZK_DUMP").is_some() {
            eprintln!("{}: {got:#?}", script.name);
        }
        // Not vacuous: every script's watches fire.
        assert!(
            expected.iter().any(|r| matches!(r, Record::Notices { .. })),
            "{}: no notifications at all",
            script.name
        );
        for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
            assert_eq!(
                e, g,
                "{}: record {i} differs (stand-in left, ZooKeeper right)",
                script.name
            );
        }
        assert_eq!(
            expected.len(),
            got.len(),
            "{}: transcripts differ in length:\n{expected:#?}\n{got:#?}",
            script.name
        );
        // Expiry: the stand-in's exactly at the timeout; ZooKeeper's within
        // [timeout, timeout + 2 ticks] of the client's silence.
        for timing in &stand_in.expiries {
            assert_eq!(
                timing.after_last_request_ms, TIMEOUT_MS,
                "{}: {timing:?}",
                script.name
            );
        }
        for timing in &real.expiries {
            eprintln!("{}: ZooKeeper expiry {timing:?}", script.name);
            assert!(
                timing.after_last_request_ms >= TIMEOUT_MS,
                "{}: expired early: {timing:?}",
                script.name
            );
            assert!(
                timing.after_silence_ms <= TIMEOUT_MS + 2 * TICK_MS,
                "{}: expired late: {timing:?}",
                script.name
            );
        }
        assert_eq!(stand_in.expiries.len(), real.expiries.len());
    }
    // The failover itself, spelled out: the expired master is told, the
    // standby's watch fires.
    let script = election();
    let expired = normalise(&script, &run_stand_in(&script));
    let watch = Message::CoordWatch {
        path: MASTERS.into(),
        kind: WatchKind::ChildrenChanged,
    };
    let told = Message::CoordSessionExpired {
        session: mesochaos_reference::SessionId(1),
    };
    assert_eq!(notified(&expired, 10, A), [told]);
    assert_eq!(notified(&expired, 10, B), [watch]);
}

/// The raw sequence numbers of a transcript's `Created` answers.
fn sequences(t: &Transcript) -> Vec<u64> {
    t.records
        .iter()
        .filter_map(|r| match r {
            Record::Reply {
                result:
                    Ok(CoordReply::Created {
                        sequence: Some(s), ..
                    }),
                ..
            } => Some(*s),
            _ => None,
        })
        .collect()
}

/// The answer to step `step`.
fn answer(t: &[Record], step: usize) -> Result<CoordReply, CoordError> {
    t.iter()
        .find_map(|r| match r {
            Record::Reply {
                step: s, result, ..
            } if *s == step => Some(result.clone()),
            _ => None,
        })
        .expect("every step but Expire is answered")
}

/// What `client` was notified of in step `step`.
fn notified(t: &[Record], step: usize, client: usize) -> Vec<Message> {
    t.iter()
        .find_map(|r| match r {
            Record::Notices {
                step: s,
                client: c,
                notices,
            } if *s == step && *c == client => Some(notices.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// Where the stand-in departs from ZooKeeper, each pinned with its evidence.
/// None matters to the roles today (they never do these things, or the
/// adapter never shows them the difference), but each is a place where a
/// simulated run could pass and a real one fail if the roles changed.
#[test]
fn fidelity_findings() {
    use ExpectedVersion::*;
    if !zookeeper_or_skip("fidelity_findings") {
        return;
    }
    let zk = ZooKeeperServer::start(TICK_MS).expect("ZooKeeper starts");
    let rt = runtime();

    // 1. Sequence numbers: ZooKeeper 3.8 names a sequential node after the
    //    parent's child version, which every child *create* advances,
    //    sequential or not (deletes do not); the stand-in counts sequential
    //    creates only. Both only grow, so elections agree; epochs differ.
    let script = Script {
        name: "sequences",
        clients: 1,
        steps: vec![
            open(A),
            create(A, "/g/n_", "", true, true),
            create(A, "/g/n_", "", true, true),
            delete(A, "/g/n_0000000000"),
            create(A, "/g/n_", "", true, true),
            create(A, "/g/plain", "", true, false),
            create(A, "/g/n_", "", true, true),
        ],
    };
    let (stand_in, real) = both(&rt, &zk, &script);
    assert_eq!(normalise(&script, &stand_in), normalise(&script, &real));
    assert_eq!(sequences(&stand_in), [0, 1, 2, 3]);
    assert_eq!(sequences(&real), [0, 1, 2, 4]);

    // 2. A child watch on a node that is then deleted fires (`NodeDeleted`)
    //    in both — the stand-in fired nothing until this test found it
    //    (fixed in `Coordinator::after_delete`, pinned by its unit test
    //    `deleting_a_node_fires_the_child_watches_set_on_it`).
    let script = Script {
        name: "child-watch-on-deleted-node",
        clients: 2,
        steps: vec![
            open(A),
            open(B),
            set(A, "/w", "", Absent),
            list(B, "/w", true),
            delete(A, "/w"),
        ],
    };
    let (stand_in, real) = both(&rt, &zk, &script);
    let watch = Message::CoordWatch {
        path: "/w".into(),
        kind: WatchKind::Deleted,
    };
    assert_eq!(notified(&real.records, 4, B), std::slice::from_ref(&watch));
    assert_eq!(notified(&stand_in.records, 4, B), [watch]);

    // 3. Deleting a node with children is refused in both (`ZNOTEMPTY`,
    //    which the adapter reports as `NodeExists`), and the node and its
    //    child stay — the stand-in deleted it until this test found it
    //    (unit test `a_node_with_children_cannot_be_deleted`).
    let script = Script {
        name: "delete-non-empty",
        clients: 1,
        steps: vec![
            open(A),
            set(A, "/p", "", Absent),
            set(A, "/p/c", "x", Absent),
            delete(A, "/p"),
            list(A, "/p", false),
            get(A, "/p", false),
        ],
    };
    let (stand_in, real) = both(&rt, &zk, &script);
    let child = ChildNode {
        name: "c".into(),
        sequence: None,
        data: "x".into(),
    };
    for t in [&stand_in.records, &real.records] {
        assert_eq!(answer(t, 3), Err(CoordError::NodeExists));
        assert_eq!(
            answer(t, 4),
            Ok(CoordReply::Children {
                children: vec![child.clone()]
            })
        );
        assert_eq!(
            answer(t, 5),
            Ok(CoordReply::Data {
                data: String::new(),
                version: 0
            })
        );
    }

    // 4. Parents: the stand-in needs none; ZooKeeper does, so the adapter
    //    makes them (as Mesos's group does), and they are real nodes: a
    //    listing shows them and making one fires its parent's child watch.
    let script = Script {
        name: "made-parents",
        clients: 2,
        steps: vec![
            open(A),
            open(B),
            list(B, "/q", true),
            create(A, "/q/r/n", "", false, false),
            list(B, "/q", false),
        ],
    };
    let (stand_in, real) = both(&rt, &zk, &script);
    let changed = Message::CoordWatch {
        path: "/q".into(),
        kind: WatchKind::ChildrenChanged,
    };
    assert_eq!(notified(&stand_in.records, 3, B), []);
    assert_eq!(notified(&real.records, 3, B), [changed]);
    assert_eq!(
        answer(&stand_in.records, 4),
        Ok(CoordReply::Children { children: vec![] })
    );
    let r = ChildNode {
        name: "r".into(),
        sequence: None,
        data: String::new(),
    };
    assert_eq!(
        answer(&real.records, 4),
        Ok(CoordReply::Children { children: vec![r] })
    );

    // 5. Ephemeral parents: ZooKeeper refuses children under an ephemeral
    //    node (`ZNOCHILDRENFOREPHEMERALS`, reported as `NoNode`).
    let script = Script {
        name: "ephemeral-parent",
        clients: 1,
        steps: vec![
            open(A),
            create(A, "/e", "", true, false),
            create(A, "/e/c", "", true, false),
        ],
    };
    let (stand_in, real) = both(&rt, &zk, &script);
    assert!(answer(&stand_in.records, 2).is_ok());
    assert_eq!(answer(&real.records, 2), Err(CoordError::NoNode));

    // 6. Expiry timing: the stand-in expires a session exactly a timeout
    //    after its last request and tells a connected owner at once;
    //    ZooKeeper rounds the deadline up to a tick, and tells the client
    //    only when it reconnects (or the client gives up by itself).
    let script = Script {
        name: "expiry-timing",
        clients: 1,
        steps: vec![open(A), Step::Expire { client: A }],
    };
    let (stand_in, real) = both(&rt, &zk, &script);
    let (s, r) = (&stand_in.expiries[0], &real.expiries[0]);
    eprintln!("expiry: stand-in {s:?}\nexpiry: ZooKeeper {r:?}");
    assert_eq!(
        (s.after_last_request_ms, s.told_after_ms),
        (TIMEOUT_MS, TIMEOUT_MS)
    );
    assert!(r.told_after_ms >= r.after_silence_ms);
}

/// A role process that drops its session (exits) does not close it: its
/// ephemeral nodes stay until the session times out, as with the stand-in,
/// which only ever ends sessions by timeout.
#[test]
fn a_dropped_session_lingers_until_it_expires() {
    if !zookeeper_or_skip("a_dropped_session_lingers_until_it_expires") {
        return;
    }
    let zk = ZooKeeperServer::start(TICK_MS).expect("ZooKeeper starts");
    runtime().block_on(async {
        let connect = zk.connect_string();
        let (a, _, _) = ZkSession::create(&connect, TIMEOUT_MS).await.expect("A");
        let (b, _, mut notices) = ZkSession::create(&connect, TIMEOUT_MS).await.expect("B");
        let op = CoordOp::Create {
            path: "/linger".into(),
            data: "a".into(),
            ephemeral: true,
            sequential: false,
        };
        // A was last heard from between these two instants.
        let before = monotonic_ms();
        a.op(op).await.expect("created");
        let dropped = monotonic_ms();
        drop(a);
        let read = CoordOp::GetData {
            path: "/linger".into(),
            watch: true,
        };
        assert!(b.op(read).await.is_ok(), "gone as soon as A let go");
        let wait = std::time::Duration::from_millis(3 * TIMEOUT_MS);
        let notice = tokio::time::timeout(wait, notices.recv()).await;
        let gone = monotonic_ms();
        let deleted = Message::CoordWatch {
            path: "/linger".into(),
            kind: WatchKind::Deleted,
        };
        assert_eq!(notice, Ok(Some(deleted)));
        // Expired by the timeout: not before it, and at most two ticks late.
        let (after_last, after_drop) = (gone - before, gone - dropped);
        assert!(after_last >= TIMEOUT_MS, "{after_last} ms");
        assert!(after_drop <= TIMEOUT_MS + 2 * TICK_MS, "{after_drop} ms");
    });
}

#[test]
fn the_server_is_ours_and_dies_with_its_handle() {
    if !zookeeper_or_skip("the_server_is_ours_and_dies_with_its_handle") {
        return;
    }
    let zk = ZooKeeperServer::start(TICK_MS).expect("ZooKeeper starts");
    let srvr = zk.four_letter_word("srvr").expect("srvr answers");
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
    assert!(zk.address().ip().is_loopback());
    let (pid, dir) = (zk.pid(), zk.log_path().parent().unwrap().to_path_buf());
    assert!(dir.join("zoo.cfg").is_file());
    drop(zk);
    let gone = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        None::<nix::sys::signal::Signal>,
    );
    assert_eq!(
        gone,
        Err(nix::errno::Errno::ESRCH),
        "the JVM outlived its handle"
    );
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[test]
fn session_timeouts_zookeeper_would_clamp_are_refused() {
    // [2, 20] × tickTime, as ZooKeeper's defaults (and our zoo.cfg) say.
    assert!(server::check_session_timeout(400, 200).is_ok());
    assert!(server::check_session_timeout(4_000, 200).is_ok());
    let low = server::check_session_timeout(399, 200).unwrap_err();
    assert!(low.contains("[400, 4000]"), "{low}");
    assert!(server::check_session_timeout(4_001, 200).is_err());
    assert!(server::check_session_timeout(10_000, 0).is_err());
    // The default `zk_session_timeout` (10 s) gets a tick it fits.
    let tick = server::tick_for_session_timeout(10_000);
    assert!(server::check_session_timeout(10_000, tick).is_ok());
    assert!(tick <= 10_000 / 2);
}
