//! # The executor host's planted bug
//!
//! As in `bugs/master.rs`: the defect, called from a "planted-bug hook" line
//! right after the correct decision.

use super::Bug;

/// `append-after-torn-tail`: a database (or replica) that finds a torn record
/// at the end of its volume after a power loss does not cut it off before
/// appending, so the next record is glued to the torn bytes and every record
/// from there on is unreadable at the next recovery — acknowledged writes
/// lost. Mesos's agent truncates a torn checkpoint record the same way
/// before reading on (`state::TaskState::recover`); a database must do
/// likewise with its own log. Returns false when the repair must be skipped.
pub fn append_after_torn_tail_repairs(bug: Option<Bug>) -> bool {
    bug != Some(Bug::AppendAfterTornTail)
}
