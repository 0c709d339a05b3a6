//! # Leader detection
//!
//! Mesos masters contend for leadership by each creating an *ephemeral
//! sequential* node under `/mesos/masters`; the node with the lowest sequence
//! number belongs to the leader, and that number is the leader's **epoch**.
//! Agents, schedulers and standby masters *detect* the leader by listing the
//! group's children with a watch, and list them again whenever the watch fires.
//!
//! [`MasterDetector`] is the part all of them share: it turns a children listing
//! into "who leads now" and reports changes. It does no I/O; the role asks its
//! coordinator client for the listing and hands the answer here.
//!
//! ## The Mesos functions this follows
//!
//! - `LeaderDetectorProcess::watched` (src/zookeeper/detector.cpp): "Run an
//!   election. The leader is the oldest member (smallest membership id)", and
//!   report only a *change* of leader — [`leader_of`] and
//!   [`MasterDetector::observe`].
//! - `ZooKeeperMasterDetectorProcess::detected` / `fetched`
//!   (src/master/detector/zookeeper.cpp): read the leader's node to learn its
//!   `MasterInfo`. Here the listing already carries each node's data, so one
//!   request answers both questions and the "node gone before its data was
//!   read" case of `fetched` cannot arise.
//! - `GroupProcess::expired` (src/zookeeper/group.cpp): when the session is
//!   lost, the group is reported *empty* so that watchers learn at once that
//!   they know nothing — `observe(None)`.
//!
//! ## The detection loop, as every role runs it
//!
//! ```text
//! SessionReady ──> GetChildren(/mesos/masters, watch) ──> Children ──> observe(Some)
//!      ^                      ^                                          │ changed?
//!      │                      └──────── Watch(ChildrenChanged) <─────────┤ tell the role
//! SessionLost ──> observe(None): "no leader known"                        (agent re-registers,
//!                                                                          scheduler re-subscribes)
//! ```
//!
//! The epoch is this crate's addition. Mesos masters carry no election number;
//! an agent or scheduler fences a deposed leader by accepting messages only
//! from the PID it detected (`Slave::detected` records it; `Slave::runTask`
//! then ignores a run-task message "because it is not the expected master").
//! The sequence number of the leader's node is exactly
//! such a number, strictly increasing across elections, so we stamp it on
//! every command: a receiver compares numbers, and a checker can prove from
//! the trace alone that no command of an old epoch was acted on.

use crate::ids::ProcessId;
use crate::messages::{ChildNode, CoordOp};
use serde::{Deserialize, Serialize};

/// The coordinator path of the masters' group.
/// Mesos's is whatever `--zk` names (conventionally `zk://.../mesos`).
pub const MASTERS_PATH: &str = "/mesos/masters";
/// The name prefix of a master's candidacy node (the coordinator appends the sequence).
/// Mesos names its candidacies `json.info_<sequence>` (the label
/// `MASTER_INFO_JSON_LABEL`, src/master/constants.hpp). The harness's
/// `epoch_order` checker parses the epoch back out of paths with this prefix.
pub const CANDIDATE_PREFIX: &str = "/mesos/masters/master_";

/// Who leads, as seen through the coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderInfo {
    /// The leading master's process, read from its candidacy node's data
    /// (Mesos: the `pid` of the `MasterInfo` stored there).
    pub master: ProcessId,
    /// The sequence number of the leader's candidacy node.
    /// Every leader has a larger one than every leader before it, because the
    /// coordinator never reuses a sequence number under one parent.
    pub epoch: u64,
}

/// The request that (re-)reads the masters' group and watches it.
/// Always with a watch: a listing without one would leave the role blind to
/// the next change. Roles send it on every `SessionReady` and every watch on
/// [`MASTERS_PATH`].
pub fn list_masters() -> CoordOp {
    CoordOp::GetChildren {
        path: MASTERS_PATH.to_string(),
        watch: true,
    }
}

/// The leader among the group's children: the lowest sequence number.
/// Children without a sequence (not created sequentially) are not candidates.
/// `None` only when the group is empty: no master is alive.
pub fn leader_of(children: &[ChildNode]) -> Option<LeaderInfo> {
    children
        .iter()
        .filter_map(|c| c.sequence.map(|seq| (seq, c)))
        .min_by_key(|(seq, _)| *seq)
        .map(|(seq, c)| LeaderInfo {
            master: ProcessId::new(c.data.clone()),
            epoch: seq,
        })
}

/// What a role last learned about the leader, and the logic that reports
/// only changes (Mesos: `MasterDetector`, src/master/detector/detector.cpp,
/// and its ZooKeeper implementation).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterDetector {
    /// The leader seen in the last listing; `None` before the first listing,
    /// when the group was empty, and after the session was lost. Soft state:
    /// never checkpointed, so a restarted role detects afresh.
    leader: Option<LeaderInfo>,
}

impl MasterDetector {
    /// The leader as last observed, if any. Roles use it to decide whom to
    /// obey: an agent acts only on messages from this master and epoch.
    pub fn leader(&self) -> Option<&LeaderInfo> {
        self.leader.as_ref()
    }

    /// Records a new listing (`None`: the session was lost, so nothing is known).
    /// Returns the new leader if it differs from the previous one.
    ///
    /// The outer `Option` is "did it change"; the inner one is the new
    /// leader, possibly none. A change compares master *and* epoch: the same
    /// master elected again (it lost its session and re-contended) is a new
    /// leader, since it starts with a new epoch and no state.
    pub fn observe(&mut self, children: Option<&[ChildNode]>) -> Option<Option<LeaderInfo>> {
        let leader = children.and_then(leader_of);
        if leader == self.leader {
            return None;
        }
        self.leader = leader.clone();
        Some(leader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A candidacy node as the coordinator lists it.
    fn child(seq: u64, master: &str) -> ChildNode {
        ChildNode {
            name: format!("master_{seq:010}"),
            sequence: Some(seq),
            data: master.into(),
        }
    }

    /// The listing is not sorted (4 before 3), and the lowest still wins;
    /// the same listing twice reports nothing (a role would otherwise tear
    /// down its link to a leader that did not change); losing the leader's
    /// node promotes the next; losing the session reports "no leader".
    /// Catches a detector that picks the first or the highest child, or
    /// that re-announces an unchanged leader.
    #[test]
    fn lowest_sequence_leads_and_changes_are_reported_once() {
        let mut d = MasterDetector::default();
        let listing = [child(4, "master-2"), child(3, "master-1")];
        let change = d.observe(Some(&listing));
        assert_eq!(
            change,
            Some(Some(LeaderInfo {
                master: "master-1".into(),
                epoch: 3
            }))
        );
        assert_eq!(d.observe(Some(&listing)), None);
        assert_eq!(d.observe(Some(&listing[..1])).unwrap().unwrap().epoch, 4);
        assert_eq!(d.observe(None), Some(None));
    }
}
