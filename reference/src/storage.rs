//! # A storage server of a distributed file system
//!
//! The seed's first answer to "where does a database keep its data": a
//! distributed file system reachable from every node (HDFS, Lustre). Any agent
//! can run the database, which costs a network round trip per write. Here three
//! storage servers, each on its own machine with its own disk, each keep a copy;
//! the database's client acknowledges a write once two of them have fsynced it,
//! so losing any one machine — agent or storage server — loses nothing
//! acknowledged.
//!
//! A storage server is a [`StoreNode`] as a process: it recovers its records
//! from its disk when it starts, appends and fsyncs each write, and acknowledges
//! it only once the driver reports the fsync done.
//!
//! Not a Mesos role: Mesos's persistent-volume docs (`docs/persistent-volume.md`)
//! name "writing task state to a distributed filesystem" as the workaround that
//! persistent volumes replace. It is here so that `docs/storage-strategies.md`
//! can measure that workaround against volumes under the same faults
//! (`scenarios/storage-dfs.toml`). The same `StoreNode` also runs inside an
//! executor host as a replica *task* (`executor/database.rs`); this file is
//! only the process shell around it.

use crate::events::Event;
use crate::ids::ProcessId;
use crate::io::{Context, Input, Outputs, Role};
use crate::messages::Message;
use crate::store::StoreNode;
use serde::{Deserialize, Serialize};

/// How the harness sets up one storage server (`harness/src/cluster.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageConfig {
    /// The server's process name (`storage-1` ...), which database clients
    /// list among their `peers`.
    pub name: ProcessId,
    /// The dataset it serves.
    pub store: String,
}

/// Where a storage server keeps a dataset on its machine's disk.
///
/// One append-only file per dataset, whose lines are the records
/// (`record <n>`): recovery is a single read, and a power cut can tear only
/// the last line, which `StoreNode::recover` detects.
pub fn store_path(store: &str) -> String {
    format!("store/{store}")
}

/// A storage server sets no timers: it only answers requests and fsync
/// completions. The empty enum makes that a type-level fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StorageTimer {}

/// The storage-server role: one dataset's [`StoreNode`] behind a network
/// address.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StorageServer {
    /// Fixed at construction; never changes.
    config: StorageConfig,
    /// The records held and the writes whose fsync is pending. Rebuilt from
    /// the disk alone on every start ([`StorageServer::recover`]): pending
    /// writes were never acknowledged, so losing them in a crash is allowed.
    node: StoreNode,
}

impl StorageServer {
    /// Built from what its disk holds: `data` is the content of
    /// [`store_path`], `None` on a fresh or wiped disk (the server then
    /// holds nothing, and the clients' quorum still has every acknowledged
    /// record as long as no other copy was lost).
    pub fn recover(config: StorageConfig, data: Option<&[u8]>) -> Self {
        let node = StoreNode::recover(&config.store, &store_path(&config.store), data);
        StorageServer { config, node }
    }

    /// The highest record held (possibly not yet durable), for tests and the
    /// harness's state views.
    pub fn last(&self) -> u64 {
        self.node.last
    }
}

impl Role for StorageServer {
    type Timer = StorageTimer;

    fn process_id(&self) -> &ProcessId {
        &self.config.name
    }

    fn handle(
        &mut self,
        _ctx: &Context,
        input: Input<StorageTimer>,
        out: &mut Outputs<StorageTimer>,
    ) {
        match input {
            // A write: new records are appended with a durability
            // notification and acknowledged only on `FileSynced` below; a
            // duplicate of a durable record is acknowledged at once
            // (`StoreNode::on_write`). Requests for another dataset fall
            // through to the catch-all arm.
            Input::Message {
                from,
                message: Message::StoreWrite { store, record },
            } if store == self.config.store => match self.node.on_write(&from, record) {
                Ok(bytes) => out.append_file_durably_then_notify(&self.node.path.clone(), bytes),
                Err(ack) => out.send(&from, *ack),
            },
            // A recovering client asks how far this copy goes.
            Input::Message {
                from,
                message: Message::StoreRead { store },
            } if store == self.config.store => out.send(&from, self.node.state()),
            // Cut a torn tail off before serving writes (`StoreNode::repair`).
            Input::Start => {
                if let Some((path, bytes)) = self.node.take_repair() {
                    out.write_file_atomic(&path, bytes);
                }
            }
            // The driver completes appends to one file in order, so each
            // notification is for the oldest pending write; the path need not
            // be checked (the repair above is written without notification).
            Input::FileSynced { .. } => {
                if let Some((writer, ack)) = self.node.on_synced() {
                    out.send(&writer, ack);
                }
            }
            Input::Message { from, message } => out.event(Event::MessageIgnored {
                from,
                kind: message.kind().to_string(),
                why: "not a request for this storage server's dataset".into(),
            }),
            // Connections are opened by the clients, and a broken one needs
            // no action here: a client re-sends what was not acknowledged.
            _ => {}
        }
    }
}
