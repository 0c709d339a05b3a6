//! # The agent's checkpoint on disk
//!
//! Mesos agents checkpoint so that a restarted agent process can recover its
//! tasks (`--recover=reconnect`). We keep Mesos's split between *state files*,
//! rewritten whole, and *status update streams*, appended to:
//!
//! - [`STATE_PATH`] holds the agent ID, the boot ID it was written under, the
//!   frameworks and every task's `TaskInfo`. It is replaced atomically (temporary
//!   file, fsync, rename, directory fsync), so a reader sees the old or the new
//!   version, never a mix.
//! - Each task's status update stream is an append-only log at
//!   [`updates_path`]: one record per update the agent accepted from its
//!   executor (or made itself) and one per acknowledgement from the framework.
//!   Replaying the log gives the updates still to deliver, in order, and the
//!   task's latest state.
//!
//! An append can be torn by a power loss: the log then ends in a partial record.
//! Every record is framed (length, checksum, body), so recovery keeps every
//! complete record, drops the torn tail, and says so — it never panics on what
//! the disk holds.
//!
//! ## Where Mesos does the same
//!
//! | here | Mesos |
//! |---|---|
//! | [`STATE_PATH`], one file | one file per item under the agent's meta directory: `slave.info`, `framework.info`, `task.info`, `resources.info`, `boot_id` (`paths::getSlaveInfoPath`, `getFrameworkInfoPath`, `getTaskInfoPath`, `getResourcesInfoPath`, `getBootIdPath`, src/slave/paths.cpp) |
//! | atomic replace ([`crate::io::Output::WriteFileAtomic`]) | `state::checkpoint` (src/slave/state.hpp): write a temporary file, then `os::rename` |
//! | [`updates_path`] | `task.updates`, `paths::getTaskUpdatesPath` |
//! | [`StreamRecord`] | `StatusUpdateRecord` (type `UPDATE` or `ACK`) |
//! | [`encode_record`] | `protobuf::write` on the open updates file (`TaskStatusUpdateStream::handle`) |
//! | [`decode_records`] | `TaskState::recover` (src/slave/state.cpp): `protobuf::read` until it fails, then `os::ftruncate` to the last good offset |
//! | [`pending_updates`] | `TaskStatusUpdateStream::replay` (src/slave/task_status_update_manager.cpp) |
//! | `boot_id` check | `state::recover`: "Agent host rebooted" |
//!
//! Mesos frames a record with its length only and relies on protobuf parsing
//! to reject garbage; we add a checksum, because a flipped byte can leave a
//! body that still parses and says something else (a digit of a uuid
//! changed), and a wrong record replayed is worse than a record lost.
//!
//! ## Why two kinds of file
//!
//! The state changes rarely (a task launched, a framework added) and must
//! never be seen half-written, so it is rewritten whole. Status updates come
//! often, in order, and must each be durable *before* the executor is told
//! they are safe: an append plus an fsync is the cheapest durable write, and
//! a log keeps the order for free. The price of appending is the torn tail,
//! which is why records are framed.
//!
//! Ordering between the two matters, and lives in the agent: a task enters
//! the state file *before* its first update is appended, because recovery
//! reads only the logs of tasks the state file lists (`Agent::recover`,
//! agent/recovery.rs).

use crate::framework::FrameworkInfo;
use crate::ids::{AgentId, FrameworkId, TaskId, UpdateUuid};
use crate::resources::{AgentResources, Resources};
use crate::task::{StatusUpdate, TaskInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The agent's state file.
/// Written whole by `Agent::write_state` (agent/mod.rs) whenever an
/// [`AgentState`] field changes; read once, by `Agent::recover`.
pub const STATE_PATH: &str = "agent/state.json";
/// Where every agent file lives (the harness hands the agent all of them).
/// Wiping an agent machine (a nemesis fault) loses all of it: the agent
/// comes back with no ID, as after `rm -rf` of Mesos's `--work_dir`.
pub const AGENT_DIR: &str = "agent/";

/// A task's status update stream.
/// One log per (framework, task), as Mesos keys its streams; created by the
/// first record appended, deleted once the task's terminal update is
/// acknowledged (then the task leaves the state file too).
pub fn updates_path(framework_id: &FrameworkId, task_id: &TaskId) -> String {
    format!("agent/updates/{framework_id}/{task_id}")
}

/// What [`STATE_PATH`] holds.
///
/// Everything the agent must know after a restart that it cannot ask anyone
/// for. What it *can* ask for is not here: the leader (detected again), the
/// executor host's view (it re-registers), offers (a master's soft state).
/// The default value is a brand-new agent; an unreadable file is read as
/// the default too (Mesos's non-strict recovery), never as a panic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// The ID the master assigned at first registration; `None` before it.
    /// With an ID the agent *re*-registers, which is how a new leader learns
    /// its tasks; losing it (a wipe) makes it a new agent, and the master
    /// removes the old ID.
    pub agent_id: Option<AgentId>,
    /// The boot the state was written under; a different boot ID at recovery
    /// means the machine rebooted and every executor is gone.
    pub boot_id: String,
    /// Reservations and volumes (none before the first write: all unreserved).
    /// Rewritten each time the agent applies operations from the leader
    /// (`Agent::apply_operations`), as Mesos's `Slave::checkpointResourceState`
    /// writes `resources.info`: a persistent volume must outlive the agent
    /// process and a reboot, and the master keeps none of it.
    #[serde(default)]
    pub resources: Option<AgentResources>,
    /// The machine's configured capacity when the state was written (Mesos
    /// checkpoints its `SlaveInfo`): a restart with other resources is checked
    /// against the `reconfiguration_policy`.
    #[serde(default)]
    pub configured: Option<Resources>,
    /// The frameworks with tasks here. Reported in re-registration, so a new
    /// leader learns a framework (role, principal, capabilities) from its
    /// agents before its scheduler re-registers (Mesos: `framework.info`).
    pub frameworks: BTreeMap<FrameworkId, FrameworkInfo>,
    /// Every task this agent runs, as launched. A task is written here before
    /// its launch goes to the executor host (so a restarted agent knows of
    /// it) and removed once its terminal update is acknowledged. Its current
    /// *state* is not here but in its update stream (Mesos: `task.info`, with
    /// the state derived from `task.updates`).
    pub tasks: BTreeMap<FrameworkId, BTreeMap<TaskId, TaskInfo>>,
}

/// One record of a status update stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamRecord {
    /// An update the agent accepted and must deliver.
    /// Appended (and fsynced) before the executor is acknowledged; from then
    /// on the agent resends it until acknowledged, across its own restarts.
    Update(StatusUpdate),
    /// The framework acknowledged the update with this uuid.
    /// Appended when the leader forwards the acknowledgement; only then may
    /// the next update of the stream be sent.
    Ack(UpdateUuid),
}

/// FNV-1a, 32 bit: a checksum over a record's body.
/// Not cryptographic and not meant to be: it catches torn and bit-flipped
/// records, not an adversary. Any change to a body byte changes the sum with
/// overwhelming likelihood.
fn checksum(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Frames a record: body length (u32 LE), checksum of the body (u32 LE), body (JSON).
///
/// ```text
/// +-----------+-------------+--------------------+
/// | len: u32  | fnv1a: u32  | body: len bytes    |   one record; records follow
/// +-----------+-------------+--------------------+   each other with no padding
/// ```
///
/// The length comes first so a reader knows how much to expect, and can tell
/// a record cut short (fewer than `len` bytes left) from a whole one.
pub fn encode_record(record: &StreamRecord) -> Vec<u8> {
    let body = serde_json::to_vec(record).expect("records serialize");
    let mut bytes = Vec::with_capacity(8 + body.len());
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&checksum(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// A stream read back from disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// The complete, valid records, in log order.
    pub records: Vec<StreamRecord>,
    /// Bytes of complete, valid records: the length to truncate the log to.
    pub valid_len: usize,
    /// Bytes after the last valid record (a torn or corrupt tail).
    /// Non-zero means the agent must cut the log back to `valid_len` before
    /// appending again: a record appended after garbage would be unreadable
    /// at the next recovery, and so would every record after it (the
    /// `append-after-torn-tail` defect of [`crate::bugs::Bug`]).
    pub dropped_len: usize,
}

/// Reads records until the end or the first incomplete or corrupt one.
///
/// Everything after the first bad record is dropped, even if a good record
/// seems to follow: once one length field is wrong there is no trustworthy
/// way to find the next record boundary. Appends happen one at a time, so
/// only the last record can be torn; anything past it was never durable.
pub fn decode_records(bytes: &[u8]) -> Replayed {
    let mut replayed = Replayed::default();
    let mut at = 0;
    while at < bytes.len() {
        // Fewer than 8 bytes left: a header cut short.
        let Some(header) = bytes.get(at..at + 8) else {
            break;
        };
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let sum = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        // The body cut short (or a garbage length pointing past the end).
        let Some(body) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        // All bytes present but some wrong.
        if checksum(body) != sum {
            break;
        }
        // Checksummed but not a record (written by another version, say).
        let Ok(record) = serde_json::from_slice(body) else {
            break;
        };
        replayed.records.push(record);
        at += 8 + len;
    }
    replayed.valid_len = at;
    replayed.dropped_len = bytes.len() - at;
    replayed
}

/// The updates still to deliver (in order) and the task's latest state,
/// replayed from a stream's records.
///
/// The latest state is the last update *accepted*, acknowledged or not: it is
/// what the task is now, and what the agent reports when it re-registers.
/// The pending list is what the agent still owes the framework; it resends
/// its head after recovery, and the rest one by one as acknowledgements
/// come. (Mesos's `TaskStatusUpdateStream::replay` does the same with its
/// `pending` queue; a stream whose terminal update was acknowledged is
/// finished and cleaned up.)
pub fn pending_updates(records: &[StreamRecord]) -> (Vec<StatusUpdate>, Option<StatusUpdate>) {
    let mut pending: Vec<StatusUpdate> = Vec::new();
    let mut latest = None;
    for record in records {
        match record {
            StreamRecord::Update(update) => {
                latest = Some(update.clone());
                pending.push(update.clone());
            }
            StreamRecord::Ack(uuid) => {
                // Acknowledgements arrive in order: the acknowledged update is
                // the head (anything else was a duplicate and never written).
                // Live, the agent writes an `Ack` record only for the head,
                // refusing others as `TaskStatusUpdateStream::acknowledgement`
                // does ("Unexpected task status update acknowledgement"); the
                // check here keeps a replay safe even if a log disagrees.
                if pending.first().and_then(|u| u.uuid.as_ref()) == Some(uuid) {
                    pending.remove(0);
                }
            }
        }
    }
    (pending, latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task_state::{Source, TaskState};

    /// The `n`th executor update of task `web-0001`, uuid `web-0001#n`, as
    /// the executor host numbers them.
    fn update(n: u32, state: TaskState) -> StatusUpdate {
        StatusUpdate {
            framework_id: "e1-F0001".into(),
            task_id: "web-0001".into(),
            agent_id: None,
            state,
            reason: None,
            source: Source::Executor,
            uuid: Some(UpdateUuid::new(format!("web-0001#{n}"))),
            message: None,
            latest_state: None,
        }
    }

    /// The bytes of a log holding `records`, appended in order.
    fn log(records: &[StreamRecord]) -> Vec<u8> {
        records.iter().flat_map(encode_record).collect()
    }

    /// Two unacknowledged updates come back both pending, in order, and the
    /// latest state is the second. Catches a replay that reorders a stream
    /// (the framework would hear `RUNNING` before `STARTING`) or loses
    /// unacknowledged updates (the framework would never hear them).
    #[test]
    fn update_records_replay_in_order() {
        let bytes = log(&[
            StreamRecord::Update(update(1, TaskState::Starting)),
            StreamRecord::Update(update(2, TaskState::Running)),
        ]);
        let replayed = decode_records(&bytes);
        assert_eq!(replayed.dropped_len, 0);
        let (pending, latest) = pending_updates(&replayed.records);
        assert_eq!(pending.len(), 2);
        assert_eq!(latest.unwrap().state, TaskState::Running);
    }

    /// An `Ack` of the head retires it; an `Ack` of anything else changes
    /// nothing. Catches a replay that retires updates by uuid anywhere in the
    /// queue: a stray acknowledgement would silently drop an update the
    /// framework never saw.
    #[test]
    fn an_ack_record_retires_the_head_of_the_stream() {
        let bytes = log(&[
            StreamRecord::Update(update(1, TaskState::Starting)),
            StreamRecord::Update(update(2, TaskState::Running)),
            StreamRecord::Ack(UpdateUuid::new("web-0001#1")),
            // An acknowledgement of something not at the head changes nothing.
            StreamRecord::Ack(UpdateUuid::new("web-0001#9")),
        ]);
        let (pending, _) = pending_updates(&decode_records(&bytes).records);
        assert_eq!(pending, vec![update(2, TaskState::Running)]);
    }

    /// A power loss can cut the log at any byte: at every cut, exactly the
    /// records wholly before it come back, and the kept and dropped lengths
    /// account for every byte. Garbage yields no record. Catches an
    /// off-by-one in the framing (a record accepted one byte short) and any
    /// panic on a short header or a huge length.
    #[test]
    fn a_torn_tail_is_dropped_at_every_cut_point_and_never_panics() {
        let full = log(&[
            StreamRecord::Update(update(1, TaskState::Starting)),
            StreamRecord::Update(update(2, TaskState::Running)),
        ]);
        let first = encode_record(&StreamRecord::Update(update(1, TaskState::Starting))).len();
        for cut in 0..full.len() {
            let replayed = decode_records(&full[..cut]);
            let expected_records = usize::from(cut >= first);
            assert_eq!(replayed.records.len(), expected_records, "cut at {cut}");
            assert_eq!(replayed.valid_len + replayed.dropped_len, cut);
        }
        // Garbage is not a record either.
        let replayed = decode_records(&[0xff; 40]);
        assert!(replayed.records.is_empty());
        assert_eq!(replayed.dropped_len, 40);
    }

    /// A flipped byte inside the last record's body (length intact) is caught
    /// by the checksum: the first record survives, the second is dropped.
    /// Without the checksum this body might still parse and replay a wrong
    /// update.
    #[test]
    fn a_corrupt_record_ends_the_replay() {
        let mut bytes = log(&[
            StreamRecord::Update(update(1, TaskState::Starting)),
            StreamRecord::Update(update(2, TaskState::Running)),
        ]);
        let last = bytes.len() - 3;
        bytes[last] ^= 0x55;
        let replayed = decode_records(&bytes);
        assert_eq!(replayed.records.len(), 1);
        assert!(replayed.dropped_len > 0);
    }

    /// The state file reads back as written, including the nested task map
    /// (a framework -> task -> `TaskInfo` map must survive JSON's
    /// string-keyed objects). Catches a field added without serde support,
    /// which would make every restarted agent start as new.
    #[test]
    fn the_state_file_round_trips() {
        let mut state = AgentState {
            agent_id: Some("e1-S0001".into()),
            boot_id: "agent-1-boot-1".into(),
            ..AgentState::default()
        };
        state.tasks.entry("e1-F0001".into()).or_default().insert(
            "web-0001".into(),
            TaskInfo {
                task_id: "web-0001".into(),
                resources: crate::resources::Resources::new(500, 512, 0),
                role: "*".into(),
                volume: None,
                workload: crate::task::Workload::Forever,
            },
        );
        let bytes = serde_json::to_vec(&state).unwrap();
        assert_eq!(serde_json::from_slice::<AgentState>(&bytes).unwrap(), state);
    }
}
