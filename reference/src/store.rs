//! # A database's store: nodes and the client that writes to them
//!
//! The seed weighs three places for a database's data. This module holds the
//! two remote ones' moving parts, as sans-I/O pieces that other roles embed:
//!
//! - a [`StoreNode`] keeps a dataset's records in one file, fsyncing each before
//!   acknowledging it. A *storage server* of a distributed file system is a
//!   process that runs one ([`crate::storage`]); a *replica task* is a task whose
//!   executor host runs one on the task's persistent volume.
//! - a [`StoreClient`] is the database writing through such nodes: it sends each
//!   record to every node and acknowledges it to its own client once a quorum (2
//!   of 3) has fsynced it — so losing any one node loses nothing acknowledged.
//!
//! Records are lines `record <n>`; a torn last line is not a record.
//!
//! Mesos has no such component for tasks — persistent volumes exist so that
//! frameworks need not build one (`docs/persistent-volume.md`) — but its own
//! registry sits on the same idea: the replicated log (`src/log/`) appends
//! through a quorum of replicas (`CoordinatorProcess::append`,
//! `src/log/coordinator.cpp`) and, on recovery, asks a quorum what they hold
//! (`RecoverProtocolProcess`, `src/log/recover.cpp`). This store is that
//! idea stripped to its core; unlike the log it has no leader election and no
//! catch-up, which it can afford because a record carries no payload: all a
//! recovering database needs is the highest acknowledged number.
//!
//! ```text
//!  StoreClient (database task)            StoreNode ×3 (servers or replica tasks)
//!     |-- StoreRead ------------------------> |   recovery: ask everyone,
//!     |<------------------------- StoreState  |   go on from a quorum's max
//!     |-- StoreWrite{n} --------------------> |   append "record n", fsync
//!     |<--------------------- StoreAck{n} --- |   ...only once fsynced
//!     |   (quorum of acks: record n acknowledged to the database's client)
//! ```
//!
//! The sans-I/O split: a `StoreNode` returns bytes to append and messages to
//! send; a `StoreClient` returns [`ClientAction`]s. Their hosts
//! (`StorageServer` in `storage.rs`, `ExecutorHost` in `executor/database.rs`)
//! turn those into outputs.

use crate::ids::ProcessId;
use crate::messages::Message;
use crate::records::{parse_records, valid_prefix_len};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One node's copy of a dataset.
///
/// Lifecycle: built by [`StoreNode::recover`] from the file's content each
/// time its host starts (or, for a replica task, each time the task starts),
/// so nothing in it survives a crash except what the file holds. `syncing`
/// in particular is lost with the process — harmless, because the writes in
/// it were never acknowledged and their writer will retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct StoreNode {
    /// The dataset's name; requests for another dataset are not for this node.
    pub store: String,
    /// The file holding the records.
    pub path: String,
    /// The highest record held (durably, or about to be: see `syncing`).
    ///
    /// Raised as soon as a write is accepted, before its fsync, so a
    /// `StoreState` answer may name a record not yet durable here. That
    /// errs on the safe side: a recovering client goes on *after* it, and
    /// never reuses a number a node may hold.
    pub last: u64,
    /// Writes whose fsync is in flight: (record, writer to acknowledge).
    ///
    /// In append order, which is the order the driver reports the fsyncs
    /// (`Input::FileSynced`), so [`StoreNode::on_synced`] pops the front.
    pub syncing: Vec<(u64, ProcessId)>,
    /// Recovery found a torn last line (power failed mid-append): the file's
    /// readable prefix, to write back before the next append — else the next
    /// record would be glued to the torn bytes and every later one unreadable.
    // Taken once by the host at start (`take_repair`); under the planted
    // `AppendAfterTornTail` bug the executor host drops it unwritten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<Vec<u8>>,
}

impl StoreNode {
    /// A node recovered from its file's content.
    ///
    /// `bytes` is `None` for a file that does not exist (a new node, or a
    /// wiped disk). Records are read up to the first line that is not a
    /// whole `record <n>`; anything after it is the torn tail to repair.
    pub fn recover(store: &str, path: &str, bytes: Option<&[u8]>) -> Self {
        let bytes = bytes.unwrap_or_default();
        let (_, last) = parse_records(bytes);
        let valid = valid_prefix_len(bytes);
        StoreNode {
            store: store.to_string(),
            path: path.to_string(),
            last,
            syncing: Vec::new(),
            repair: (valid < bytes.len()).then(|| bytes[..valid].to_vec()),
        }
    }

    /// The repair recovery asks for, once: (path, bytes to write atomically).
    ///
    /// Written with `WriteFileAtomic` (temporary file, fsync, rename), so a
    /// second power cut during the repair leaves either the old torn file —
    /// repaired again at the next start — or the clean one.
    pub fn take_repair(&mut self) -> Option<(String, Vec<u8>)> {
        self.repair.take().map(|bytes| (self.path.clone(), bytes))
    }

    /// Bytes to append for a write, if it is new (a duplicate is acknowledged
    /// at once: `Err(ack)`).
    ///
    /// "Held" is read off `last` alone: a client writes records in
    /// increasing order, one at a time, and a new client goes on after the
    /// highest number a quorum holds (see [`StoreClient::on_state`]), so a
    /// number at or below `last` was written here before.
    ///
    /// A duplicate is a retry of a record this node already holds durably
    /// (its acknowledgement was lost, or the client timed out waiting for
    /// the quorum). A retry of a record whose fsync is still in flight is
    /// *not* acknowledged at once — that would acknowledge bytes that are
    /// not yet durable — but appended again, so that its acknowledgement
    /// also waits for an fsync; the file then holds the line twice, which
    /// recovery reads as one record.
    pub fn on_write(&mut self, from: &ProcessId, record: u64) -> Result<Vec<u8>, Box<Message>> {
        if record <= self.last && !self.syncing.iter().any(|(r, _)| *r == record) {
            return Err(Box::new(Message::StoreAck {
                store: self.store.clone(),
                record,
            }));
        }
        self.last = self.last.max(record);
        self.syncing.push((record, from.clone()));
        Ok(format!("record {record}\n").into_bytes())
    }

    /// The fsync of the oldest pending write completed: acknowledge it.
    ///
    /// This is the only place a node acknowledges a new record, and it runs
    /// only on the driver's `FileSynced`: acknowledging on the append itself
    /// would let a power cut lose a record a quorum had "confirmed".
    pub fn on_synced(&mut self) -> Option<(ProcessId, Message)> {
        if self.syncing.is_empty() {
            return None;
        }
        let (record, writer) = self.syncing.remove(0);
        Some((
            writer,
            Message::StoreAck {
                store: self.store.clone(),
                record,
            },
        ))
    }

    /// The answer to a `StoreRead`: this node's highest record (see `last`).
    pub fn state(&self) -> Message {
        Message::StoreState {
            store: self.store.clone(),
            last: self.last,
        }
    }
}

/// What a [`StoreClient`] wants its host to do.
///
/// The host also owns the outcome events: `Recovered`, `Acked` and `Failed`
/// become `DbRecovered`, `DbRecordAcked` and `DbWriteFailed` in the trace,
/// which the harness's storage checker (`check_storage`) and
/// `mesochaos compare` read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAction {
    /// Send this message to this node. The executor host hands a message
    /// for itself (a client beside one of its own replicas) straight to
    /// that replica instead of the network (`ExecutorHost::deliver`).
    Send(ProcessId, Message),
    /// Dial this node (it is not connected); the host reports the outcome
    /// with [`StoreClient::on_connected`] or [`StoreClient::on_disconnected`].
    Connect(ProcessId),
    /// Recovery finished: the quorum's highest record.
    Recovered {
        /// Where writing goes on from (the next record is `last + 1`).
        last: u64,
    },
    /// Record acknowledged by a quorum, after `latency_ms`.
    Acked {
        /// The record now durable on a quorum.
        record: u64,
        /// From its (latest) send to the quorum-th acknowledgement.
        latency_ms: u64,
    },
    /// The write of `record` got no quorum in time; it will be retried.
    Failed {
        /// The record being retried (same number: a retry is idempotent
        /// at the nodes, see [`StoreNode::on_write`]).
        record: u64,
    },
}

/// The database writing through remote store nodes.
///
/// Two phases. **Recovering** (`states` is `Some`): it asks every node what
/// it holds and waits for a quorum of answers. **Writing** (`states` is
/// `None`): one record at a time, each sent to every node and acknowledged
/// on a quorum of `StoreAck`s; the next record starts only on the next tick
/// after that. The client lives in its task: a restarted database task
/// builds a new one and recovers again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct StoreClient {
    /// The dataset written to.
    pub store: String,
    /// Every node of the dataset, by process.
    pub peers: Vec<ProcessId>,
    /// Answers (recovery) or acknowledgements (writes) needed: a majority of
    /// `peers`, so that any two quorums share a node (the scenario parser
    /// sets `n / 2 + 1`; nothing here checks it).
    pub quorum: usize,
    /// Nodes with an open connection, as the host reports them. A write goes
    /// only to these; the others are dialled instead and sent the write
    /// when they connect.
    pub connected: BTreeSet<ProcessId>,
    /// Recovery: what each node said it holds (until a quorum answered).
    pub states: Option<BTreeMap<ProcessId, u64>>,
    /// The highest record acknowledged (or recovered).
    pub last: u64,
    /// The write in flight: record, when it was sent, which nodes acknowledged.
    ///
    /// "When it was sent" is reset by a retry, so a retried write's reported
    /// latency counts from the retry.
    pub in_flight: Option<(u64, u64, BTreeSet<ProcessId>)>,
}

/// A write without a quorum for this long is retried (and counts as a failure).
///
/// The same 2 s is the threshold for "time without a writable store" in
/// `docs/storage-strategies.md`.
pub const WRITE_TIMEOUT_MS: u64 = 2_000;

impl StoreClient {
    /// A client that has not recovered yet: call [`StoreClient::start`].
    pub fn new(store: &str, peers: &[ProcessId], quorum: u32) -> Self {
        StoreClient {
            store: store.to_string(),
            peers: peers.to_vec(),
            quorum: quorum as usize,
            connected: BTreeSet::new(),
            states: Some(BTreeMap::new()),
            last: 0,
            in_flight: None,
        }
    }

    /// Whether a quorum has answered recovery and writes may start.
    ///
    /// Until then the executor host keeps the task in `TASK_STARTING`: a
    /// database that does not know where it left off must not write (it
    /// becomes `TASK_RUNNING` on [`ClientAction::Recovered`]).
    pub fn is_recovered(&self) -> bool {
        self.states.is_none()
    }

    /// Dial every node.
    ///
    /// All of them, not just a quorum: recovery waits for the first quorum
    /// to answer, so a node that is down costs nothing as long as a quorum
    /// is up. The host calls this when the database task launches.
    pub fn start(&self) -> Vec<ClientAction> {
        self.peers
            .iter()
            .cloned()
            .map(ClientAction::Connect)
            .collect()
    }

    /// A node is connected: ask it what it holds (recovering), or send it
    /// the write in flight if it has not acknowledged it (writing).
    pub fn on_connected(&mut self, peer: &ProcessId) -> Vec<ClientAction> {
        self.connected.insert(peer.clone());
        let mut actions = Vec::new();
        if self.states.is_some() {
            actions.push(ClientAction::Send(
                peer.clone(),
                Message::StoreRead {
                    store: self.store.clone(),
                },
            ));
        } else if let Some((record, _, acks)) = &self.in_flight {
            if !acks.contains(peer) {
                actions.push(ClientAction::Send(peer.clone(), self.write(*record)));
            }
        }
        actions
    }

    /// A node's connection broke (or never came up). Nothing is resent now:
    /// the next tick dials it again.
    pub fn on_disconnected(&mut self, peer: &ProcessId) {
        self.connected.remove(peer);
    }

    // The request that writes `record`.
    fn write(&self, record: u64) -> Message {
        Message::StoreWrite {
            store: self.store.clone(),
            record,
        }
    }

    /// A node's answer to `StoreRead`. Ignored once recovered: a late answer
    /// must not move `last` back (or forward past what was acknowledged).
    pub fn on_state(&mut self, peer: &ProcessId, last: u64) -> Vec<ClientAction> {
        let Some(states) = &mut self.states else {
            return vec![];
        };
        states.insert(peer.clone(), last);
        if states.len() < self.quorum {
            return vec![];
        }
        // A quorum answered: any record acknowledged before is on at least one
        // of them, so their highest record is where to go on.
        //
        // Why this holds: record n was acknowledged only after a quorum Q1
        // fsynced it, and these answers come from a quorum Q2; with quorums
        // of a majority, Q1 and Q2 share a node, whose `last` is ≥ n. E.g.
        // nodes A, B, C; record 8 acknowledged by A and B; C lags at 5. Any
        // two answers include A or B, so the max is ≥ 8.
        //
        // Why the max and not less: a number above the last acknowledged
        // one may sit on a single node (written, never acknowledged). Going
        // on below it would reuse that number, and that node would answer
        // the new write at once as a duplicate (`StoreNode::on_write`) —
        // counting towards a quorum for bytes it never wrote. Going on after
        // it wastes a number and loses nothing.
        self.last = states.values().copied().max().unwrap_or(0);
        self.states = None;
        vec![ClientAction::Recovered { last: self.last }]
    }

    /// Time to write the next record (if none is in flight), or to retry one
    /// that waited too long.
    ///
    /// Called by the host's write timer (every `interval_ms` of the
    /// workload), so a timeout is noticed at the first tick at or after
    /// [`WRITE_TIMEOUT_MS`]: the effective timeout is rounded up to the
    /// write interval. While recovering, the same tick drives the retries
    /// of recovery itself.
    pub fn on_tick(&mut self, now_ms: u64) -> Vec<ClientAction> {
        if !self.is_recovered() {
            // Still waiting for a quorum to say what it holds: dial again the
            // nodes that are not connected (a node that was down at start) and
            // ask again those that have not answered (a replica still starting).
            let answered = self.states.as_ref().expect("recovering");
            return self
                .peers
                .iter()
                .filter(|p| !answered.contains_key(*p))
                .map(|p| {
                    if self.connected.contains(p) {
                        ClientAction::Send(
                            p.clone(),
                            Message::StoreRead {
                                store: self.store.clone(),
                            },
                        )
                    } else {
                        ClientAction::Connect(p.clone())
                    }
                })
                .collect();
        }
        // Which record to send: the next one if nothing is in flight, the
        // same one again if it timed out, nothing if it is still in time.
        let mut actions = Vec::new();
        let record = match &self.in_flight {
            None => self.last + 1,
            Some((record, sent_ms, _)) if now_ms >= sent_ms + WRITE_TIMEOUT_MS => {
                actions.push(ClientAction::Failed { record: *record });
                *record
            }
            Some(_) => return vec![],
        };
        // A retry keeps the acknowledgements it already has: those nodes
        // hold the record durably and need not be asked again.
        let acked = match self.in_flight.take() {
            Some((r, _, acks)) if r == record => acks,
            _ => BTreeSet::new(),
        };
        for peer in &self.peers {
            if acked.contains(peer) {
                continue;
            }
            if self.connected.contains(peer) {
                actions.push(ClientAction::Send(peer.clone(), self.write(record)));
            } else {
                actions.push(ClientAction::Connect(peer.clone()));
            }
        }
        self.in_flight = Some((record, now_ms, acked));
        actions
    }

    /// A node acknowledged `record` (it is fsynced there). On the quorum-th
    /// acknowledgement the record is acknowledged to the database's client;
    /// acknowledgements for any other record (a late one for a record
    /// already done) are ignored.
    pub fn on_ack(&mut self, peer: &ProcessId, record: u64, now_ms: u64) -> Vec<ClientAction> {
        let Some((in_flight, sent_ms, acks)) = &mut self.in_flight else {
            return vec![];
        };
        if *in_flight != record {
            return vec![];
        }
        acks.insert(peer.clone());
        if acks.len() < self.quorum {
            return vec![];
        }
        // Only now is the record acknowledged, and `last` moved: the next
        // tick starts `record + 1`.
        let latency_ms = now_ms - *sent_ms;
        self.last = record;
        self.in_flight = None;
        vec![ClientAction::Acked { record, latency_ms }]
    }
}

#[cfg(test)]
mod tests {
    // A node that finds a torn record at the end of its file writes back the
    // readable prefix before it appends (found by nemesis-storage.toml).
    // The repair is handed out exactly once, and a clean file asks for none
    // (so a restart does not rewrite every healthy file).
    // Without the repair, "record 3" would be appended to "rec" and the
    // next recovery would stop at record 2, losing every later record.
    #[test]
    fn a_torn_tail_is_cut_off_before_the_next_append() {
        let mut node = StoreNode::recover("s", "store/s", Some(b"record 1\nrecord 2\nrec"));
        assert_eq!(node.last, 2);
        assert_eq!(
            node.take_repair(),
            Some(("store/s".to_string(), b"record 1\nrecord 2\n".to_vec()))
        );
        assert_eq!(node.take_repair(), None, "once");
        let whole = StoreNode::recover("s", "store/s", Some(b"record 1\n"));
        assert_eq!(whole.repair, None);
    }

    use super::*;

    // The whole client protocol in one run: recovery goes on from the
    // highest record of the first quorum to answer (7, not 4), the next
    // write goes to all three nodes, and one acknowledgement is not enough;
    // the second is, and the latency is measured from the send. A client
    // that acknowledged on the first `StoreAck` would lose the record when
    // that one node died.
    #[test]
    fn a_write_is_acknowledged_once_a_quorum_has_it() {
        let peers: Vec<ProcessId> = ["storage-1", "storage-2", "storage-3"]
            .map(ProcessId::from)
            .to_vec();
        let mut client = StoreClient::new("db", &peers, 2);
        for p in &peers {
            client.on_connected(p);
        }
        assert!(client.on_state(&peers[0], 4).is_empty());
        assert_eq!(
            client.on_state(&peers[1], 7),
            vec![ClientAction::Recovered { last: 7 }]
        );
        let sends = client.on_tick(1_000);
        assert_eq!(sends.len(), 3, "record 8 to every node");
        assert!(client.on_ack(&peers[0], 8, 1_020).is_empty());
        assert_eq!(
            client.on_ack(&peers[2], 8, 1_050),
            vec![ClientAction::Acked {
                record: 8,
                latency_ms: 50
            }]
        );
    }

    // With only one of two needed acknowledgements, a tick before the
    // timeout waits; the tick at the timeout reports the failure and
    // resends the record — but not to the node that already acknowledged it.
    // This is what keeps a database writing through a partition that cuts
    // off one node, without hammering the nodes that already have the record.
    #[test]
    fn a_write_without_a_quorum_is_retried_and_reported() {
        let peers: Vec<ProcessId> = ["r-1", "r-2", "r-3"].map(ProcessId::from).to_vec();
        let mut client = StoreClient::new("db", &peers, 2);
        client.on_connected(&peers[0]);
        client.on_state(&peers[0], 0);
        client.on_connected(&peers[1]);
        client.on_state(&peers[1], 0);
        client.on_tick(0);
        client.on_ack(&peers[0], 1, 10);
        assert!(client.on_tick(1_000).is_empty(), "still waiting");
        let retry = client.on_tick(2_000);
        assert!(retry.contains(&ClientAction::Failed { record: 1 }));
        assert!(
            !retry.contains(&ClientAction::Send(peers[0].clone(), client.write(1))),
            "r-1 already has it"
        );
    }

    // A node acknowledges a new record only on the fsync notification, and
    // answers a duplicate of a durable record at once. Acknowledging record
    // 3 on `on_write` would break the quorum guarantee under power cuts.
    #[test]
    fn a_node_acknowledges_only_after_the_fsync() {
        let mut node = StoreNode::recover("db", "store/db", Some(b"record 1\nrecord 2\nrec"));
        assert_eq!(node.last, 2, "a torn last line is not a record");
        let writer = ProcessId::from("executors-4");
        assert!(node.on_write(&writer, 3).is_ok());
        assert!(matches!(
            node.on_write(&writer, 2).map_err(|ack| *ack),
            Err(Message::StoreAck { record: 2, .. })
        ));
        assert_eq!(
            node.on_synced(),
            Some((
                writer,
                Message::StoreAck {
                    store: "db".into(),
                    record: 3
                }
            ))
        );
    }
}
