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

use crate::executor::{parse_records, valid_prefix_len};
use crate::ids::ProcessId;
use crate::messages::Message;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One node's copy of a dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreNode {
    pub store: String,
    /// The file holding the records.
    pub path: String,
    /// The highest record held (durably, or about to be: see `syncing`).
    pub last: u64,
    /// Writes whose fsync is in flight: (record, writer to acknowledge).
    pub syncing: Vec<(u64, ProcessId)>,
    /// Recovery found a torn last line (power failed mid-append): the file's
    /// readable prefix, to write back before the next append — else the next
    /// record would be glued to the torn bytes and every later one unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<Vec<u8>>,
}

impl StoreNode {
    /// A node recovered from its file's content.
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
    pub fn take_repair(&mut self) -> Option<(String, Vec<u8>)> {
        self.repair.take().map(|bytes| (self.path.clone(), bytes))
    }

    /// Bytes to append for a write, if it is new (a duplicate is acknowledged
    /// at once: `Err(ack)`).
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

    pub fn state(&self) -> Message {
        Message::StoreState {
            store: self.store.clone(),
            last: self.last,
        }
    }
}

/// What a [`StoreClient`] wants its host to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAction {
    Send(ProcessId, Message),
    Connect(ProcessId),
    /// Recovery finished: the quorum's highest record.
    Recovered {
        last: u64,
    },
    /// Record acknowledged by a quorum, after `latency_ms`.
    Acked {
        record: u64,
        latency_ms: u64,
    },
    /// The write of `record` got no quorum in time; it will be retried.
    Failed {
        record: u64,
    },
}

/// The database writing through remote store nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreClient {
    pub store: String,
    pub peers: Vec<ProcessId>,
    pub quorum: usize,
    pub connected: BTreeSet<ProcessId>,
    /// Recovery: what each node said it holds (until a quorum answered).
    pub states: Option<BTreeMap<ProcessId, u64>>,
    /// The highest record acknowledged (or recovered).
    pub last: u64,
    /// The write in flight: record, when it was sent, which nodes acknowledged.
    pub in_flight: Option<(u64, u64, BTreeSet<ProcessId>)>,
}

/// A write without a quorum for this long is retried (and counts as a failure).
pub const WRITE_TIMEOUT_MS: u64 = 2_000;

impl StoreClient {
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

    pub fn is_recovered(&self) -> bool {
        self.states.is_none()
    }

    /// Dial every node.
    pub fn start(&self) -> Vec<ClientAction> {
        self.peers
            .iter()
            .cloned()
            .map(ClientAction::Connect)
            .collect()
    }

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

    pub fn on_disconnected(&mut self, peer: &ProcessId) {
        self.connected.remove(peer);
    }

    fn write(&self, record: u64) -> Message {
        Message::StoreWrite {
            store: self.store.clone(),
            record,
        }
    }

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
        self.last = states.values().copied().max().unwrap_or(0);
        self.states = None;
        vec![ClientAction::Recovered { last: self.last }]
    }

    /// Time to write the next record (if none is in flight), or to retry one
    /// that waited too long.
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
        let mut actions = Vec::new();
        let record = match &self.in_flight {
            None => self.last + 1,
            Some((record, sent_ms, _)) if now_ms >= sent_ms + WRITE_TIMEOUT_MS => {
                actions.push(ClientAction::Failed { record: *record });
                *record
            }
            Some(_) => return vec![],
        };
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
