//! `rebuilt_state` (`rebuilt_state_matches` in `[expect]`): the leader after the
//! last failover holds the same frameworks, agents and tasks as the leader
//! before it (offers excluded: they are soft state by design).

use super::at_end;
use crate::report::{RebuiltComparison, Violation};

pub fn check(rebuilt: Option<&RebuiltComparison>, end_ms: u64) -> Option<Violation> {
    let fail = |message: String| Some(at_end("rebuilt_state", end_ms, message, vec![]));
    match rebuilt {
        None => fail("no leader failover happened to compare".into()),
        Some(RebuiltComparison { after: None, .. }) => {
            fail("no leader at the end of the run".into())
        }
        Some(RebuiltComparison {
            before,
            after: Some(after),
        }) => {
            if before != after {
                fail(format!(
                    "the new leader's state differs from the old one's: before {} after {}",
                    serde_json::to_string(before).expect("serializes"),
                    serde_json::to_string(after).expect("serializes")
                ))
            } else {
                None
            }
        }
    }
}
