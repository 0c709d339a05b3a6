//! The coordinator protocol: the requests roles send to the ZooKeeper-like
//! coordinator (`crate::coordinator`), its answers and its watch
//! notifications.

use crate::ids::SessionId;
use serde::{Deserialize, Serialize};

// ----- the coordinator protocol -----
//
// Mesos uses ZooKeeper for three things, and this crate's roles do the
// same with these operations: leader election (ephemeral sequential nodes
// under the masters' group, `GroupProcess::join`), leader detection (list
// the group and watch it, `ZooKeeperMasterDetectorProcess`), and small
// durable state written with compare-and-set (`ZooKeeperStorageProcess`
// in `src/state/zookeeper.cpp`, which sets "requiring 'stat.version'"):
// here the master's registry and the schedulers' framework IDs.

/// A coordinator operation (a subset of ZooKeeper's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordOp {
    /// Open a session (ZooKeeper's connect handshake). The session lives as
    /// long as the coordinator hears from the client within `timeout_ms`.
    CreateSession {
        /// The requested session timeout; the reply carries the one granted.
        timeout_ms: u64,
    },
    /// Reattach to a session after reconnecting (ZooKeeper clients do this
    /// transparently); fails with `SessionExpired` if it has expired.
    ResumeSession {
        /// The session to reattach to.
        session: SessionId,
    },
    /// Keep the session alive (ZooKeeper's ping). Any request does that;
    /// this one is for idle clients.
    Heartbeat,
    /// Create a node. An *ephemeral* node is deleted when its session expires; a
    /// *sequential* node gets a monotonically increasing number appended to its
    /// name. Masters contend for leadership with ephemeral sequential nodes.
    Create {
        /// The node's path (for a sequential node, the prefix).
        path: String,
        /// Its content (a master's address, a framework ID, ...).
        data: String,
        /// Deleted with the creating session.
        ephemeral: bool,
        /// Append a sequence number to the name.
        sequential: bool,
    },
    /// Delete a node (a scheduler withdrawing its candidacy).
    Delete {
        /// The node to delete.
        path: String,
    },
    /// Read a node's data and version.
    GetData {
        /// The node to read.
        path: String,
        /// Also set a one-shot watch on it (`DataChanged`, `Deleted`).
        watch: bool,
    },
    /// Compare-and-set: the write succeeds only if the node's version is as
    /// expected, so a stale writer can never overwrite a newer value.
    ///
    /// The master's registry rests on this: a new leader reads the registry
    /// with its version and writes with that version expected, so if a
    /// deposed leader wrote in between, the new leader's write fails rather
    /// than silently undo it — and the other way round.
    SetData {
        /// The node to write.
        path: String,
        /// The new content.
        data: String,
        /// The version the writer last read (or that the node is absent).
        expected: ExpectedVersion,
    },
    /// List a node's children, with their data (see [`ChildNode`]).
    GetChildren {
        /// The parent node (the masters' group).
        path: String,
        /// Also set a one-shot watch (`ChildrenChanged`): how every role
        /// learns that a master joined or left.
        watch: bool,
    },
}

/// The precondition of a versioned write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// The node must not exist yet (it is created at version 0).
    Absent,
    /// The node must exist at exactly this version.
    Version(u64),
}

/// A successful coordinator reply, one kind per [`CoordOp`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordReply {
    /// To `CreateSession`: the new session's ID and the timeout granted.
    SessionCreated {
        /// The new session, named in every later request.
        session: SessionId,
        /// The session timeout the coordinator granted: the client expires
        /// the session locally after it (`coordinator_client/session.rs`).
        timeout_ms: u64,
    },
    /// To `ResumeSession`: the session is alive and now bound to this
    /// connection; its ephemeral nodes and watches are intact.
    SessionResumed {
        /// The session resumed: the one the client asked for.
        session: SessionId,
    },
    /// To `Heartbeat`.
    HeartbeatAck,
    /// To `Create`: the full path created and, for a sequential node, its
    /// number (for a master's candidacy node, its epoch if it leads).
    Created {
        /// The full path created (with the sequence suffix, if sequential).
        path: String,
        /// The sequence number of a sequential node; `None` otherwise.
        sequence: Option<u64>,
    },
    /// To `Delete`.
    Deleted,
    /// To `GetData`: the content and the version to expect in a `SetData`.
    Data {
        /// The node's content.
        data: String,
        /// Its version, to expect in a compare-and-set `SetData`.
        version: u64,
    },
    /// To `SetData`: the node's new version.
    Written {
        /// The node's version after the write.
        version: u64,
    },
    /// To `GetChildren`: the children, with their data.
    Children {
        /// The children, each with its data and sequence number.
        children: Vec<ChildNode>,
    },
}

/// A child node with its data (ZooKeeper needs one `getData` per child; we
/// return them together to keep the protocol short).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildNode {
    /// The child's name (not the full path).
    pub name: String,
    /// Its sequence number, if created sequential. The lowest among the
    /// masters' candidacy nodes is the leader (`crate::detector`).
    pub sequence: Option<u64>,
    /// Its content.
    pub data: String,
}

/// Why a coordinator operation failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordError {
    /// The node does not exist (ZooKeeper `ZNONODE`).
    NoNode,
    /// A non-sequential node of that path exists (`ZNODEEXISTS`).
    NodeExists,
    /// A `SetData` expected another version (`ZBADVERSION`): someone else
    /// wrote since the writer last read. The writer must re-read; a master
    /// whose registry write failed re-reads, and exits if another master
    /// wrote the registry meanwhile (`master/registrar.rs`).
    BadVersion {
        /// The node's version now (`None`: it does not exist).
        current: Option<u64>,
    },
    /// The session is dead (`ZSESSIONEXPIRED`): its ephemeral nodes are
    /// gone. Final: the client must open a new session.
    SessionExpired,
    /// The request named no live session.
    NoSession,
    /// The connection broke before the answer arrived: the operation may or may
    /// not have happened (an *indefinite* outcome). Made up by the client.
    ConnectionLoss,
}

/// What a fired watch reports (ZooKeeper's event types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchKind {
    /// A child was created or deleted (`ZOO_CHILD_EVENT`).
    ChildrenChanged,
    /// The node's data was written (`ZOO_CHANGED_EVENT`).
    DataChanged,
    /// The node was deleted (`ZOO_DELETED_EVENT`).
    Deleted,
}
