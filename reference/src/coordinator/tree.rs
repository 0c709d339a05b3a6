//! # The coordinator's tree of nodes: applying one operation
//!
//! ZooKeeper's data model: a tree of nodes, each with data and a version;
//! `create` (optionally ephemeral — it dies with its session — and sequential
//! — the server appends a counter, which is how Mesos masters elect a leader,
//! `GroupProcess::join`), `getData`, `setData` with an expected version (the
//! compare-and-set the registrar and the schedulers' state store rely on,
//! `ZooKeeperStorageProcess::doSet`), `getChildren` and `delete`. Each
//! operation here is applied atomically, in the order the server received it.

use super::*;

impl Coordinator {
    /// Performs one tree operation on behalf of a live `session`, firing the
    /// watches it triggers. Watches fire *before* the reply is sent (the reply
    /// is pushed last, by [`Self::on_request`]), as a ZooKeeper server delivers
    /// a watch event before the response of the change that triggered it.
    pub(super) fn apply(
        &mut self,
        session: SessionId,
        op: CoordOp,
        out: &mut Outputs<CoordinatorTimer>,
    ) -> Result<CoordReply, CoordError> {
        match op {
            CoordOp::CreateSession { .. } | CoordOp::ResumeSession { .. } => {
                unreachable!("session operations are handled before apply")
            }
            // Nothing to do: `touch` already counted it as a sign of life.
            CoordOp::Heartbeat => Ok(CoordReply::HeartbeatAck),
            CoordOp::Create {
                path,
                data,
                ephemeral,
                sequential,
            } => {
                let parent = parent_of(&path).to_string();
                // A sequential node's name is the requested path plus a
                // 10-digit zero-padded counter, as in ZooKeeper
                // (`/mesos/masters/master_` -> `/mesos/masters/master_0000000003`);
                // the padding makes name order equal number order. The counter
                // advances even if the create then fails, so numbers are never
                // reused.
                //
                // Why masters use *ephemeral sequential* nodes rather than
                // racing to create one fixed `/leader` node: with a fixed
                // node, every standby would race to recreate it whenever it
                // vanished, and nothing would order the winners. With a
                // sequence, the order of arrival is recorded once, the next
                // leader is known in advance (the next-lowest number), and
                // the number itself is a strictly increasing epoch that the
                // crate stamps on every command a leader sends (see
                // [`crate::ids`]). Ephemeral, so that a dead master's claim
                // goes away without anyone having to delete it.
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
                // Traced so that the `epoch_order` checker (harness/src/checkers.rs)
                // can follow which candidacies exist, and so which epoch is current.
                out.event(Event::NodeCreated {
                    path: path.clone(),
                    owner,
                });
                self.fire_data_watches(&path, WatchKind::DataChanged, out);
                self.fire_child_watches(&parent, out);
                Ok(CoordReply::Created { path, sequence })
            }
            // Any session may delete any node (as in ZooKeeper with open ACLs);
            // no role deletes another's node, and masters never delete their
            // own candidacy — they exit and let the session expire.
            CoordOp::Delete { path } => {
                if !self.nodes.contains_key(&path) {
                    return Err(CoordError::NoNode);
                }
                // ZooKeeper refuses to delete a node with children
                // (`ZNOTEMPTY`, `PrepRequestProcessor`'s delete check),
                // which the ZooKeeper adapter reports as `NodeExists`; this
                // answers the same. (A parent need not exist here, so
                // "children" are the nodes below the path.)
                let below = format!("{path}/");
                if self
                    .nodes
                    .range(below.clone()..)
                    .next()
                    .is_some_and(|(p, _)| p.starts_with(&below))
                {
                    return Err(CoordError::NodeExists);
                }
                self.nodes.remove(&path);
                self.after_delete(&path, out);
                Ok(CoordReply::Deleted)
            }
            // The version in the answer is what a later `SetData` must name:
            // read, modify, write-if-unchanged.
            // Mesos's detector reads the leading candidate's data this way
            // (`GroupProcess::data`, src/zookeeper/group.cpp); our detectors get
            // the data in the listing instead, so the registry and the
            // schedulers' state are the main readers here.
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
            // Compare-and-set, as `ZooKeeperStorageProcess::doSet`
            // (src/state/zookeeper.cpp) uses ZooKeeper: `Absent` is "create, and
            // fail if someone else already has"; `Version(v)` is "set, if nobody
            // wrote since I read version v". Every other combination is refused
            // without writing, and the refusal says what the version is now so
            // the writer can tell "someone else wrote" from "my own earlier
            // write landed" (see `Master::on_registry_refreshed` in
            // master/registrar.rs).
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
                    // `Absent` but the node exists, or the wrong version: a
                    // stale writer. This is the refusal that stops a deposed
                    // master from overwriting its successor's registry.
                    (_, current) => return Err(CoordError::BadVersion { current }),
                };
                self.fire_data_watches(&path, WatchKind::DataChanged, out);
                // A write that created the node also changed its parent's
                // children.
                if current.is_none() {
                    self.fire_child_watches(parent_of(&path), out);
                }
                Ok(CoordReply::Written { version })
            }
            // The watch is registered *before* the listing is taken, in the
            // same step: no change can slip in between reading the children and
            // starting to watch them, so a detector never misses a leader change.
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

    /// The common tail of an explicit `Delete` and of an ephemeral node dying
    /// with its session: trace it, then fire the node's data watches and its
    /// parent's child watches. For a candidacy node, this child-watch firing
    /// is what tells every standby master, agent and scheduler that the
    /// leader may have changed.
    ///
    /// The child watches set *on the node itself* fire too, with `Deleted`:
    /// there will be no more children to list. ZooKeeper does the same
    /// (`DataTree.deleteNode` triggers the node's data watches, then its
    /// child watches with `NodeDeleted`, suppressing sessions the first
    /// already told), so a session watching both hears it once.
    pub(super) fn after_delete(&mut self, path: &str, out: &mut Outputs<CoordinatorTimer>) {
        out.event(Event::NodeDeleted {
            path: path.to_string(),
        });
        let told = self.data_watches.get(path).cloned().unwrap_or_default();
        self.fire_data_watches(path, WatchKind::Deleted, out);
        if let Some(watchers) = self.child_watches.remove(path) {
            let rest = watchers.difference(&told).copied().collect();
            self.notify(rest, path, WatchKind::Deleted, out);
        }
        self.fire_child_watches(parent_of(path), out);
    }
}
