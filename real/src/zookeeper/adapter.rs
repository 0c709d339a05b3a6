//! # The adapter: the stand-in's coordinator protocol served by ZooKeeper
//!
//! Roles speak [`CoordOp`]s to the coordinator stand-in
//! (`reference/src/coordinator/`). In real mode with a ZooKeeper backend the
//! same requests are served by a real ZooKeeper through one [`ZkSession`]
//! per role process, so role code does not change: each operation becomes
//! one or a few ZooKeeper calls, each watch event a [`Message::CoordWatch`],
//! and an expired session a [`Message::CoordSessionExpired`].
//!
//! The client is the `zookeeper-client` crate (async, on tokio). Like the C
//! client Mesos wraps (`src/zookeeper/zookeeper.cpp`), it connects, pings
//! and resumes its session by itself; the stand-in's client does those by
//! hand (`coordinator_client/session.rs`). So `CreateSession` is
//! [`ZkSession::create`], while `Heartbeat` and `ResumeSession` become
//! round trips that prove the session alive (see [`ZkSession::op`]).
//!
//! ## Where the stand-in and ZooKeeper differ, and what is done about it
//!
//! The stand-in documents where it departs from ZooKeeper on purpose
//! (`coordinator/mod.rs`, "Where this differs"). Bridged here, the way
//! Mesos bridges them over the real thing:
//!
//! - **Parents.** The stand-in creates a node without its parent; ZooKeeper
//!   refuses (`ZNONODE`). Mesos creates the group's path first, recursively,
//!   on every new session (`GroupProcess::create`, from `sync`:
//!   `zk->create(znode, "", acl, 0, nullptr, true)`), and so does the
//!   ZooKeeper state storage; here a create (or a creating `SetData`)
//!   that fails with `ZNONODE` makes the parents and retries once. Listing a
//!   missing group does the same: the stand-in answers `[]` and watches,
//!   ZooKeeper answers `ZNONODE` and watches nothing, which would leave an
//!   agent that starts before any master blind forever.
//! - **Watching a missing node's data.** The stand-in's `GetData` watch on a
//!   missing node fires when it is created; ZooKeeper's `getData` sets no
//!   watch then. The adapter follows a `ZNONODE` with `exists` + watch, whose
//!   `NodeCreated` maps to `DataChanged` (the stand-in's kind for a create).
//! - **`SetData` with `Absent`** is ZooKeeper's `create`; its `ZNODEEXISTS`
//!   becomes `BadVersion { current }` after a `stat`, as the stand-in answers.
//! - **Children's data.** ZooKeeper lists names only; Mesos reads a
//!   member's data after listing (`GroupProcess::doData`, which answers
//!   "none" for a member deleted meanwhile); so does [`ZkSession::op`],
//!   leaving out a child deleted in between. A child's sequence is parsed
//!   from its name's 10-digit suffix, as `GroupProcess::cache` parses
//!   Mesos's `json.info_<sequence>` names.
//! - **One watch per node and kind.** A ZooKeeper server keeps one watch per
//!   (path, connection, kind) and the stand-in one per (path, session, kind),
//!   but the client crate hands out one watcher per request, and hands a
//!   node's deletion to all of them; `watches.rs` keeps it to one
//!   notification per change, as with the stand-in.
//!
//! Not bridged (no role depends on them; `real/tests/zookeeper.rs` pins
//! them as findings): sequence numbers come from the parent's child version
//! (every child created under it counts, sequential or not); a child watch
//! on a node that is deleted fires `Deleted`; deleting a node with children
//! fails (`ZNOTEMPTY`, reported as `NodeExists`); made parents are real
//! nodes that a listing shows; an ephemeral node can have no children;
//! expiry is rounded up to a tick and told to the client only when it
//! reconnects.
//!
//! ## Versions
//!
//! ZooKeeper's `dataVersion` starts at 0 at create and grows by one per
//! `setData`: exactly the stand-in's `Node::version`, so versions pass
//! through unchanged (no offset).

use super::watches::{Class, Watches};
use mesochaos_reference::coordinator::parent_of;
use mesochaos_reference::messages::{
    ChildNode, CoordError, CoordOp, CoordReply, ExpectedVersion, Message,
};
use mesochaos_reference::SessionId;
use std::time::Duration;
use tokio::sync::mpsc;
use zookeeper_client as zk;

/// Where a session's notifications arrive: [`Message::CoordWatch`] and
/// [`Message::CoordSessionExpired`], as the stand-in would send them.
pub type Notices = mpsc::UnboundedReceiver<Message>;

/// One role process's ZooKeeper session.
///
/// Dropping it does *not* close the session: it is left to expire, as the
/// stand-in's sessions only ever do (it has no close), so a master that
/// exits is replaced after `zk_session_timeout` in real runs as in
/// simulated ones. Mesos closes its session on the way out
/// (`zookeeper_close` when `ZooKeeperProcess` finalizes), so a cleanly
/// stopped Mesos master hands over at once; the reference's masters
/// instead "exit and let the session expire" (coordinator/tree.rs).
pub struct ZkSession {
    /// The client; clones share its session.
    client: zk::Client,
    /// ZooKeeper's session ID, as the stand-in's type.
    session: SessionId,
    /// The timeout the server granted.
    timeout_ms: u64,
    /// Its watches, which send their notices to the same channel as the
    /// session task.
    watches: Watches,
}

impl Drop for ZkSession {
    /// The client lets go of the session (detached, see above); the watch
    /// pump stops.
    fn drop(&mut self) {
        self.watches.close();
    }
}

impl ZkSession {
    /// `CreateSession`: connects to `connect` (`host:port`, optionally with
    /// a chroot, `host:port/root`) and opens a session asking for
    /// `timeout_ms`. Returns the session, the stand-in's reply to
    /// `CreateSession` (with the timeout the server granted — the server
    /// clamps it, see [`super::server::check_session_timeout`]), and the
    /// notifications' receiver.
    pub async fn create(
        connect: &str,
        timeout_ms: u64,
    ) -> Result<(ZkSession, CoordReply, Notices), CoordError> {
        let client = zk::Client::connector()
            .with_session_timeout(Duration::from_millis(timeout_ms))
            // No `closeSession` when dropped: see `ZkSession`.
            .with_detached()
            .connect(connect)
            .await
            .map_err(map_error)?;
        // ZooKeeper's IDs are 64-bit, server ID in the top byte; only
        // equality matters to the roles.
        let session = SessionId(client.session_id().0 as u64);
        let granted = client.session_timeout().as_millis() as u64;
        let (tx, rx) = mpsc::unbounded_channel();
        // Expiry, as `GroupProcess::expired` hears it from the C client.
        // ZooKeeper tells a client its session expired only when it
        // reconnects (or the crate gives up locally after 7/5 of the
        // timeout); the stand-in tells a connected owner at once.
        let mut states = client.state_watcher();
        let expired = tx.clone();
        tokio::spawn(async move {
            loop {
                match states.changed().await {
                    zk::SessionState::Expired => {
                        let _ = expired.send(Message::CoordSessionExpired { session });
                        return;
                    }
                    // Let go of by us (dropped) or refused: nothing to tell.
                    zk::SessionState::Closed | zk::SessionState::AuthFailed => return,
                    // Disconnected / reconnected: the crate resumes the
                    // session and re-sends its watches by itself.
                    _ => {}
                }
            }
        });
        let reply = CoordReply::SessionCreated {
            session,
            timeout_ms: granted,
        };
        let zk = ZkSession {
            client,
            session,
            timeout_ms: granted,
            watches: Watches::new(tx),
        };
        Ok((zk, reply, rx))
    }

    /// The session's ID.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The session timeout the server granted.
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms
    }

    /// Serves one operation as the stand-in would answer it.
    ///
    /// While the client reconnects, a request waits for the connection (and
    /// fails `SessionExpired` if the session did not survive); one in flight
    /// when a connection breaks fails `ConnectionLoss`, as the stand-in's
    /// client fails its pending requests (`coordinator_client/mod.rs`).
    pub async fn op(&self, op: CoordOp) -> Result<CoordReply, CoordError> {
        match op {
            // A session is this object: the driver makes a new `ZkSession`
            // with `create` instead. Asking this one is asking with no
            // session.
            CoordOp::CreateSession { .. } => Err(CoordError::NoSession),
            // The crate resumes the session by itself after a reconnect; the
            // only question left is whether it is still alive, which a
            // round trip answers (it fails `SessionExpired` if not).
            CoordOp::ResumeSession { session } if session == self.session => {
                self.ping().await?;
                Ok(CoordReply::SessionResumed { session })
            }
            CoordOp::ResumeSession { .. } => Err(CoordError::SessionExpired),
            // The crate pings by itself; still, a `HeartbeatAck` must mean
            // what it means with the stand-in: the server heard the session
            // at or after the send. The client's local expiry counts from
            // that (coordinator_client/mod.rs, "Expiring locally"), so an
            // ack made up without a round trip could let a partitioned
            // leader outlive its session. Any request refreshes a
            // ZooKeeper session; `exists /` is the cheapest.
            CoordOp::Heartbeat => {
                self.ping().await?;
                Ok(CoordReply::HeartbeatAck)
            }
            CoordOp::Create {
                path,
                data,
                ephemeral,
                sequential,
            } => self.create_node(&path, &data, ephemeral, sequential).await,
            // Any version (`-1`), as the stand-in; a node with children is
            // refused by ZooKeeper (`ZNOTEMPTY` -> `NodeExists`).
            CoordOp::Delete { path } => {
                self.client.delete(&path, None).await.map_err(map_error)?;
                Ok(CoordReply::Deleted)
            }
            CoordOp::GetData { path, watch } => self.get_data(&path, watch).await,
            CoordOp::SetData {
                path,
                data,
                expected,
            } => self.set_data(&path, &data, expected).await,
            CoordOp::GetChildren { path, watch } => self.get_children(&path, watch).await,
        }
    }

    /// A round trip that refreshes the session at the server.
    async fn ping(&self) -> Result<(), CoordError> {
        self.client.check_stat("/").await.map_err(map_error)?;
        Ok(())
    }

    /// `create`, with the parents made first if missing (Mesos's recursive
    /// create). A sequential node's name is the prefix plus ZooKeeper's
    /// 10-digit counter, the stand-in's format too.
    async fn create_node(
        &self,
        path: &str,
        data: &str,
        ephemeral: bool,
        sequential: bool,
    ) -> Result<CoordReply, CoordError> {
        let mode = match (ephemeral, sequential) {
            (false, false) => zk::CreateMode::Persistent,
            (false, true) => zk::CreateMode::PersistentSequential,
            (true, false) => zk::CreateMode::Ephemeral,
            (true, true) => zk::CreateMode::EphemeralSequential,
        };
        // Open ACLs: the stand-in has none (Mesos's default is open too,
        // unless `--zk` carries credentials).
        let options = mode.with_acls(zk::Acls::anyone_all());
        let mut parents_made = false;
        loop {
            match self.client.create(path, data.as_bytes(), &options).await {
                Ok((_, sequence)) if sequential => {
                    return Ok(CoordReply::Created {
                        path: format!("{path}{sequence}"),
                        sequence: Some(sequence.into_i64() as u64),
                    })
                }
                Ok(_) => {
                    return Ok(CoordReply::Created {
                        path: path.to_string(),
                        sequence: None,
                    })
                }
                Err(zk::Error::NoNode) if !parents_made => {
                    self.make_parents(path).await?;
                    parents_made = true;
                }
                Err(e) => return Err(map_error(e)),
            }
        }
    }

    /// `mkdir -p` of `path`'s parent: persistent, empty nodes.
    async fn make_parents(&self, path: &str) -> Result<(), CoordError> {
        let parent = parent_of(path);
        if parent == "/" {
            return Ok(());
        }
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        self.client.mkdir(parent, &options).await.map_err(map_error)
    }

    /// `getData`, and for a watch on a missing node `exists` + watch.
    async fn get_data(&self, path: &str, watch: bool) -> Result<CoordReply, CoordError> {
        // A watch already armed on this node stays the one that reports
        // (see `Watches`); this read then needs none of its own.
        if !watch || self.is_armed(path, Class::Data) {
            let (data, stat) = self.client.get_data(path).await.map_err(map_error)?;
            return Ok(data_reply(data, &stat));
        }
        match self.client.get_and_watch_data(path).await {
            Ok((data, stat, watcher)) => {
                self.forward(path, Class::Data, watcher);
                return Ok(data_reply(data, &stat));
            }
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(map_error(e)),
        }
        let (stat, watcher) = self
            .client
            .check_and_watch_stat(path)
            .await
            .map_err(map_error)?;
        // Watched either way: a missing node's creation is reported, as by
        // the stand-in.
        self.forward(path, Class::Data, watcher);
        if stat.is_none() {
            return Err(CoordError::NoNode);
        }
        // Created in between: read it (the watch is already set; a node
        // deleted again meanwhile answers `NoNode`, and its watch reports
        // the deletion).
        let (data, stat) = self.client.get_data(path).await.map_err(map_error)?;
        Ok(data_reply(data, &stat))
    }

    /// Compare-and-set, as `ZooKeeperStorageProcess::doSet`
    /// (src/state/zookeeper.cpp): `Absent` is a create, `Version(v)` a
    /// `setData` expecting `v`; a refusal reports the current version.
    async fn set_data(
        &self,
        path: &str,
        data: &str,
        expected: ExpectedVersion,
    ) -> Result<CoordReply, CoordError> {
        match expected {
            ExpectedVersion::Absent => {
                let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
                let mut parents_made = false;
                // Bounded like `get_data`: the node must vanish between our
                // create and our stat every time to run out of tries.
                for _ in 0..4 {
                    match self.client.create(path, data.as_bytes(), &options).await {
                        Ok((stat, _)) => {
                            return Ok(CoordReply::Written {
                                version: version(&stat),
                            })
                        }
                        Err(zk::Error::NoNode) if !parents_made => {
                            self.make_parents(path).await?;
                            parents_made = true;
                        }
                        Err(zk::Error::NodeExists) => {
                            if let Some(current) = self.current_version(path).await? {
                                return Err(CoordError::BadVersion {
                                    current: Some(current),
                                });
                            }
                        }
                        Err(e) => return Err(map_error(e)),
                    }
                }
                Err(CoordError::ConnectionLoss)
            }
            ExpectedVersion::Version(v) => {
                // A version ZooKeeper cannot hold (it counts in an i32)
                // matches nothing: ask with -2, which no node has, rather
                // than -1, which would be an unconditional write.
                let v = i32::try_from(v).unwrap_or(-2);
                match self.client.set_data(path, data.as_bytes(), Some(v)).await {
                    Ok(stat) => Ok(CoordReply::Written {
                        version: version(&stat),
                    }),
                    Err(zk::Error::BadVersion) => match self.current_version(path).await? {
                        Some(current) => Err(CoordError::BadVersion {
                            current: Some(current),
                        }),
                        // Deleted since: what the stand-in answers now.
                        None => Err(CoordError::NoNode),
                    },
                    Err(e) => Err(map_error(e)),
                }
            }
        }
    }

    /// The node's version now, `None` if it is missing.
    async fn current_version(&self, path: &str) -> Result<Option<u64>, CoordError> {
        let stat = self.client.check_stat(path).await.map_err(map_error)?;
        Ok(stat.map(|s| version(&s)))
    }

    /// `getChildren` (making the node first if missing, as Mesos's group
    /// does on connect), then each child's data, in name order — the
    /// stand-in's order, and the order of sequence numbers.
    async fn get_children(&self, path: &str, watch: bool) -> Result<CoordReply, CoordError> {
        let watch = watch && !self.is_armed(path, Class::Child);
        let mut made = false;
        let mut names = loop {
            let listed = if watch {
                self.client
                    .list_and_watch_children(path)
                    .await
                    .map(|(names, watcher)| (names, Some(watcher)))
            } else {
                self.client.list_children(path).await.map(|n| (n, None))
            };
            match listed {
                Ok((names, watcher)) => {
                    if let Some(watcher) = watcher {
                        self.forward(path, Class::Child, watcher);
                    }
                    break names;
                }
                Err(zk::Error::NoNode) if !made && path != "/" => {
                    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
                    self.client.mkdir(path, &options).await.map_err(map_error)?;
                    made = true;
                }
                Err(e) => return Err(map_error(e)),
            }
        };
        names.sort();
        let prefix = if path == "/" { "" } else { path };
        // All reads are sent before the first answer is awaited (the crate
        // sends at call time): one round trip for the lot.
        let reads: Vec<_> = names
            .iter()
            .map(|name| self.client.get_data(&format!("{prefix}/{name}")))
            .collect();
        let mut children = Vec::with_capacity(names.len());
        for (name, read) in names.into_iter().zip(reads) {
            match read.await {
                Ok((data, _)) => children.push(ChildNode {
                    sequence: sequence_of(&name),
                    data: String::from_utf8_lossy(&data).into_owned(),
                    name,
                }),
                // Deleted since the listing: gone, as in a later listing.
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(map_error(e)),
            }
        }
        Ok(CoordReply::Children { children })
    }

    /// Whether a watch of `class` on `path` is outstanding.
    fn is_armed(&self, path: &str, class: Class) -> bool {
        self.watches.is_armed(path, class)
    }

    /// Arms `watcher`: its event becomes a notice (see [`Watches`]).
    fn forward(&self, path: &str, class: Class, watcher: zk::OneshotWatcher) {
        self.watches.arm(path, class, watcher);
    }
}

/// `Data` from what `getData` returned. The stand-in's data are strings;
/// roles only ever write UTF-8.
fn data_reply(data: Vec<u8>, stat: &zk::Stat) -> CoordReply {
    CoordReply::Data {
        data: String::from_utf8_lossy(&data).into_owned(),
        version: version(stat),
    }
}

/// ZooKeeper's `dataVersion` as the stand-in's version: both start at 0 and
/// count writes, so no offset (a negative one, after 2^31 writes, reads 0).
fn version(stat: &zk::Stat) -> u64 {
    u64::try_from(stat.version).unwrap_or(0)
}

/// The sequence of a child named `<prefix><10 digits>`, as ZooKeeper names
/// sequential nodes; `None` otherwise. ZooKeeper does not record whether a
/// node was created sequential, so a plain node with such a name would read
/// as sequential (Mesos parses its members' names the same way).
pub fn sequence_of(name: &str) -> Option<u64> {
    let digits = name.len().checked_sub(10).and_then(|i| name.get(i..))?;
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// ZooKeeper's error codes as the stand-in's errors.
fn map_error(e: zk::Error) -> CoordError {
    match e {
        zk::Error::NoNode => CoordError::NoNode,
        zk::Error::NodeExists => CoordError::NodeExists,
        // `ZNOTEMPTY` has no stand-in counterpart (it deletes a parent with
        // its children left dangling). "A node exists" — below this one —
        // is the nearest, and it says the delete did not happen.
        zk::Error::NotEmpty => CoordError::NodeExists,
        // The caller fills `current` in with a `stat`.
        zk::Error::BadVersion => CoordError::BadVersion { current: None },
        // Moved: another connection took the session over; to this one it
        // is as dead as expired.
        zk::Error::SessionExpired | zk::Error::SessionMoved => CoordError::SessionExpired,
        zk::Error::ClientClosed => CoordError::NoSession,
        // The parent is ephemeral and can have no children: the stand-in's
        // nearest is that the parent does not exist.
        zk::Error::NoChildrenForEphemerals => CoordError::NoNode,
        // Connection loss and anything unexpected: the outcome is unknown.
        // Roles already treat `ConnectionLoss` so (they read back before
        // retrying a write), which is the safe reading of any other error.
        _ => CoordError::ConnectionLoss,
    }
}
