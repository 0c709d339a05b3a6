//! # The agent's planted bugs
//!
//! As in `bugs/master.rs`: each function is one zoo bug's defect, called from
//! one "planted-bug hook" line placed right after the agent computes the
//! correct decision, and changing it only when its bug is planted. The hooks
//! take plain values, so this file depends on nothing of the agent's.

use super::Bug;
use crate::ids::UpdateUuid;
use crate::task::StatusUpdate;
use crate::task_state::Source;
use std::collections::{BTreeMap, BTreeSet};

/// `ack-before-checkpoint`, where an update is queued: an executor's update
/// that is not the stream's head is kept in memory only (its uuid goes to
/// `unlogged`), though the executor is acknowledged at once — so an agent
/// crash loses an update the executor will never resend. Mesos's status
/// update manager checkpoints every update before the agent acknowledges it
/// to the executor (`TaskStatusUpdateManagerProcess::update`, then
/// `Slave::___statusUpdate` sends the acknowledgement). Returns true when the
/// update must not be logged now.
pub fn ack_before_checkpoint_defers(
    bug: Option<Bug>,
    head: bool,
    source: Source,
    uuid: &UpdateUuid,
    unlogged: &mut BTreeSet<UpdateUuid>,
) -> bool {
    let defer = bug == Some(Bug::AckBeforeCheckpoint) && !head && source == Source::Executor;
    if defer {
        unlogged.insert(uuid.clone());
    }
    defer
}

/// `ack-before-checkpoint`, where the head is acknowledged: the next update,
/// if it was kept in memory only, is logged now — too late. Returns it, to be
/// appended after the `Ack` record (the order the defect always used).
pub fn ack_before_checkpoint_logs_late(
    unlogged: &mut BTreeSet<UpdateUuid>,
    next_head: Option<&StatusUpdate>,
) -> Option<StatusUpdate> {
    let head = next_head.filter(|u| u.uuid.as_ref().is_some_and(|id| unlogged.contains(id)))?;
    if let Some(id) = &head.uuid {
        unlogged.remove(id);
    }
    Some(head.clone())
}

/// `kill-leaves-queued-launch`: a kill of a launch still queued for the
/// executor answers `TASK_KILLED` but leaves the launch in the queue, so the
/// task runs once the executor registers — after its framework heard it was
/// killed. Mesos's `Slave::kill` removes it from `Executor::queuedTasks`
/// before sending `TASK_KILLED`. Puts the removed launch back.
pub fn kill_leaves_queued_launch<K: Ord, V>(
    bug: Option<Bug>,
    queue: &mut BTreeMap<K, V>,
    key: K,
    removed: Option<V>,
) {
    if let Some(launch) = removed.filter(|_| bug == Some(Bug::KillLeavesQueuedLaunch)) {
        queue.insert(key, launch);
    }
}

/// `restart-gives-up-executors`: after an agent restart, every live task is
/// given up at the re-registration deadline even though its executor came
/// back — tasks that kept running are reported gone. Mesos gives up only
/// the executors that did not re-register (`Slave::reregisterExecutorTimeout`).
/// Returns true when the agent should give up regardless.
pub fn restart_gives_up_executors(bug: Option<Bug>) -> bool {
    bug == Some(Bug::RestartGivesUpExecutors)
}
