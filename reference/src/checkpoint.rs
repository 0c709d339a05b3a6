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

use crate::framework::FrameworkInfo;
use crate::ids::{AgentId, FrameworkId, TaskId, UpdateUuid};
use crate::resources::{AgentResources, Resources};
use crate::task::{StatusUpdate, TaskInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The agent's state file.
pub const STATE_PATH: &str = "agent/state.json";
/// Where every agent file lives (the harness hands the agent all of them).
pub const AGENT_DIR: &str = "agent/";

/// A task's status update stream.
pub fn updates_path(framework_id: &FrameworkId, task_id: &TaskId) -> String {
    format!("agent/updates/{framework_id}/{task_id}")
}

/// What [`STATE_PATH`] holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    pub agent_id: Option<AgentId>,
    /// The boot the state was written under; a different boot ID at recovery
    /// means the machine rebooted and every executor is gone.
    pub boot_id: String,
    /// Reservations and volumes (none before the first write: all unreserved).
    #[serde(default)]
    pub resources: Option<AgentResources>,
    /// The machine's configured capacity when the state was written (Mesos
    /// checkpoints its `SlaveInfo`): a restart with other resources is checked
    /// against the `reconfiguration_policy`.
    #[serde(default)]
    pub configured: Option<Resources>,
    pub frameworks: BTreeMap<FrameworkId, FrameworkInfo>,
    pub tasks: BTreeMap<FrameworkId, BTreeMap<TaskId, TaskInfo>>,
}

/// One record of a status update stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamRecord {
    /// An update the agent accepted and must deliver.
    Update(StatusUpdate),
    /// The framework acknowledged the update with this uuid.
    Ack(UpdateUuid),
}

/// FNV-1a, 32 bit: a checksum over a record's body.
fn checksum(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Frames a record: body length (u32 LE), checksum of the body (u32 LE), body (JSON).
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
    pub records: Vec<StreamRecord>,
    /// Bytes of complete, valid records: the length to truncate the log to.
    pub valid_len: usize,
    /// Bytes after the last valid record (a torn or corrupt tail).
    pub dropped_len: usize,
}

/// Reads records until the end or the first incomplete or corrupt one.
pub fn decode_records(bytes: &[u8]) -> Replayed {
    let mut replayed = Replayed::default();
    let mut at = 0;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + 8) else {
            break;
        };
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let sum = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        let Some(body) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if checksum(body) != sum {
            break;
        }
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

    fn log(records: &[StreamRecord]) -> Vec<u8> {
        records.iter().flat_map(encode_record).collect()
    }

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
