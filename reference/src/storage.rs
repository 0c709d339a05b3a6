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

use crate::events::Event;
use crate::ids::ProcessId;
use crate::io::{Context, Input, Outputs, Role};
use crate::messages::Message;
use crate::store::StoreNode;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageConfig {
    pub name: ProcessId,
    /// The dataset it serves.
    pub store: String,
}

/// Where a storage server keeps a dataset on its machine's disk.
pub fn store_path(store: &str) -> String {
    format!("store/{store}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StorageTimer {}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StorageServer {
    config: StorageConfig,
    node: StoreNode,
}

impl StorageServer {
    /// Built from what its disk holds.
    pub fn recover(config: StorageConfig, data: Option<&[u8]>) -> Self {
        let node = StoreNode::recover(&config.store, &store_path(&config.store), data);
        StorageServer { config, node }
    }

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
            Input::Message {
                from,
                message: Message::StoreWrite { store, record },
            } if store == self.config.store => match self.node.on_write(&from, record) {
                Ok(bytes) => out.append_file_durably_then_notify(&self.node.path.clone(), bytes),
                Err(ack) => out.send(&from, *ack),
            },
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
            _ => {}
        }
    }
}
