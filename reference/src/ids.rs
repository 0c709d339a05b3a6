//! Identifiers.
//!
//! Mesos names everything with strings: a framework ID is the leading master's ID
//! followed by a counter, an agent ID likewise. We keep that shape and make the
//! leader's *epoch* (its election sequence number, see [`crate::master`]) part of
//! every ID a leader assigns, so two leaders can never hand out the same ID:
//! `e3-S0001` is the first agent admitted by the leader of epoch 3, `e3-F0001` the
//! first framework it registered, `e3-O0007` its seventh offer.
//!
//! Each identifier is its own type so that a task ID can never be passed where an
//! agent ID is expected.
//!
//! ## Why the epoch goes into IDs
//!
//! Mesos prefixes IDs with the leading master's ID, a random UUID drawn when
//! the master starts (in the `Master::Master` constructor), then a counter:
//! `Master::newFrameworkId` gives `<master-id>-0000`, `Master::newSlaveId`
//! `<master-id>-S0`, `Master::newOfferId` `<master-id>-O0`
//! (src/master/master.cpp). The counters are soft state and restart at zero
//! with every leader, so the prefix is what keeps two leaders' IDs apart. We
//! need the same property but deterministic runs, so the prefix is the
//! leader's epoch instead of a UUID: epochs are unique per election (the
//! coordinator never reuses a sequence number), which is all the prefix must
//! be. A bonus for readers of a trace: `e3-S0001` says which leader admitted
//! the agent.
//!
//! Task IDs are the exception: the framework chooses them, and the master only
//! checks that they are unique within the framework (`validateUniqueTaskID`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares a string newtype for one kind of ID, with the doc comment given,
/// the derives every ID needs (ordered, for `BTreeMap` keys and deterministic
/// iteration; `serde(transparent)`, so it serializes as the bare string), a
/// constructor, `Display` and `From<&str>`.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Wraps a string as this kind of ID (no validation: IDs come
            /// from the roles that assign them, or from scenario files).
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The ID as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_string())
            }
        }
    };
}

string_id!(
    /// The name of one process in the cluster: `coordinator`, `master-2`,
    /// `agent-3`, `executors-3` (the executor host on agent machine 3),
    /// `scheduler-web-1`. It plays the part of a libprocess PID: messages are
    /// addressed to it, and it stays the same when the process restarts.
    ProcessId
);
string_id!(
    /// An agent's ID, assigned by the leading master when the agent first
    /// registers and checkpointed by the agent so that it survives restarts.
    AgentId
);
string_id!(
    /// A framework's ID, assigned by the leading master on first registration. A
    /// scheduler that fails over re-registers under the same ID.
    FrameworkId
);
string_id!(
    /// A task's ID, chosen by the framework's scheduler; unique within the framework.
    TaskId
);
string_id!(
    /// An offer's ID, assigned by the leading master. Offers are soft state: a new
    /// leader never knows an old leader's offers.
    OfferId
);
string_id!(
    /// The ID of one status update (Mesos uses a UUID). The executor host makes it
    /// `<task>#<n>` where `n` counts that task's updates, so it is deterministic and
    /// survives an agent restart unchanged.
    UpdateUuid
);

/// A coordinator session, as ZooKeeper's 64-bit session ID.
/// Assigned by the coordinator from a counter (`Coordinator::next_session`),
/// never reused; displayed in hex as ZooKeeper logs do (`0x1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// Formats an ID assigned by the leader of `epoch`: `e3-S0001`.
/// `kind` is `S` (agent), `F` (framework) or `O` (offer); `counter` is the
/// leader's own counter for that kind, padded to four digits so IDs of one
/// leader sort in assignment order (up to 9999).
pub fn epoch_id(epoch: u64, kind: char, counter: u64) -> String {
    format!("e{epoch}-{kind}{counter:04}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The property the epoch prefix exists for: the first agent of leader 1
    /// and the first agent of leader 2 get different IDs, even though both
    /// leaders' counters start at 1. Without it, a new leader could admit a
    /// new agent under the ID of one admitted by its predecessor, and the two
    /// agents' tasks would be confused. Also pins the format.
    #[test]
    fn ids_from_different_leaders_never_collide() {
        assert_ne!(epoch_id(1, 'S', 1), epoch_id(2, 'S', 1));
        assert_eq!(epoch_id(3, 'F', 12), "e3-F0012");
    }
}
