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

use crate::ids::ProcessId;
use crate::messages::{ChildNode, CoordOp};
use serde::{Deserialize, Serialize};

/// The coordinator path of the masters' group.
pub const MASTERS_PATH: &str = "/mesos/masters";
/// The name prefix of a master's candidacy node (the coordinator appends the sequence).
pub const CANDIDATE_PREFIX: &str = "/mesos/masters/master_";

/// Who leads, as seen through the coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderInfo {
    pub master: ProcessId,
    /// The sequence number of the leader's candidacy node.
    pub epoch: u64,
}

/// The request that (re-)reads the masters' group and watches it.
pub fn list_masters() -> CoordOp {
    CoordOp::GetChildren {
        path: MASTERS_PATH.to_string(),
        watch: true,
    }
}

/// The leader among the group's children: the lowest sequence number.
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

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterDetector {
    leader: Option<LeaderInfo>,
}

impl MasterDetector {
    pub fn leader(&self) -> Option<&LeaderInfo> {
        self.leader.as_ref()
    }

    /// Records a new listing (`None`: the session was lost, so nothing is known).
    /// Returns the new leader if it differs from the previous one.
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

    fn child(seq: u64, master: &str) -> ChildNode {
        ChildNode {
            name: format!("master_{seq:010}"),
            sequence: Some(seq),
            data: master.into(),
        }
    }

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
