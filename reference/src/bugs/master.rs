//! # The master's planted bugs
//!
//! Each function here is the defect of one zoo bug, kept out of the code that
//! teaches the correct rule: the master calls it in one line marked "planted-bug
//! hook", right after computing the correct decision, and the function changes
//! that decision only when its bug is planted. With no bug planted every hook
//! returns the correct decision untouched, so reading `master/` without this
//! file gives exactly Mesos's rule.

// The hooks take plain values rather than the master's types, so that this
// file depends on nothing of the master's (the master depends on it).
use super::Bug;
use crate::resources::Volume;
use std::collections::BTreeSet;

/// `leader-survives-session-loss`: a leader whose coordinator session expired
/// goes on leading instead of exiting. Mesos's master aborts when it loses its
/// candidacy (`Master::lostCandidacy`), because a new leader may already be
/// elected; this defect gives two masters that both believe they lead.
/// The window lasts until the master lists the group on its new session and
/// finds its candidacy node gone (`Master::on_leader_listing`, which exits):
/// meanwhile it still pings agents, answers schedulers and may launch tasks,
/// alongside the new leader. Even its registry writes fail only if the new
/// leader has written since: a new leader here does not write on recovery
/// (Mesos's registrar does, `RegistrarProcess::_recover` → `update`, which
/// fences the old leader at once). Called from `Master::on_client_events`
/// (`election.rs`).
/// Returns true when the session loss should be ignored.
pub fn leader_survives_session_loss(bug: Option<Bug>, leading: bool) -> bool {
    bug == Some(Bug::LeaderSurvivesSessionLoss) && leading
}

/// `forget-tasks-before-framework`: on re-registration, a framework the leader
/// does not know yet is skipped instead of being added (inactive) from the
/// agent's report — so its tasks, which need their framework, are dropped:
/// after a failover the new leader forgets every task of a framework whose
/// scheduler has not re-registered yet, and offers their resources again.
/// Mesos keeps them: `Master::__reregisterSlave` records all the agent's
/// tasks, then `updateSlaveFrameworks` → `recoverFramework` re-creates the
/// framework and attaches them. Called from `Leader::accept_reregistration`
/// (`agents.rs`). Returns true when the framework should be skipped.
pub fn forget_tasks_before_framework(bug: Option<Bug>, framework_known: bool) -> bool {
    bug == Some(Bug::ForgetTasksBeforeFramework) && !framework_known
}

/// `unique-id-ignores-unreachable`: the task-ID check forgets the framework's
/// tasks on unreachable agents, so an ID still in use there can be launched
/// again — two tasks under one ID once the agent returns. Mesos checks both
/// (`validation::task::internal::validateUniqueTaskID`). Recomputes
/// `duplicate` without the unreachable tasks.
/// `in_use_elsewhere`: the ID is among the framework's tasks the master
/// holds or this accept's earlier launches — what the defect still checks.
pub fn unique_id_ignores_unreachable(
    bug: Option<Bug>,
    in_use_elsewhere: bool,
    duplicate: &mut bool,
) {
    if bug == Some(Bug::UniqueIdIgnoresUnreachable) {
        *duplicate = in_use_elsewhere;
    }
}

/// `volume-offered-to-any-role`: the allocator offers every free persistent
/// volume on the agent, whatever role it is reserved for — another role's data
/// reaches a framework that may destroy or write it. Mesos offers reserved
/// resources, volumes included, only to their role
/// (`HierarchicalAllocatorProcess::__generateOffers`, via
/// `Resources::allocatableTo`, gives a role's reservations only to that role's
/// frameworks). Replaces
/// `volumes` with every role's free volumes.
/// `roles`: the role of every volume on the agent; `free_volumes`: the agent's
/// free volumes of one role.
pub fn volume_offered_to_any_role(
    bug: Option<Bug>,
    roles: impl IntoIterator<Item = String>,
    free_volumes: impl Fn(&str) -> Vec<Volume>,
    volumes: &mut Vec<Volume>,
) {
    if bug == Some(Bug::VolumeOfferedToAnyRole) {
        let roles: BTreeSet<String> = roles.into_iter().collect();
        *volumes = roles.iter().flat_map(|r| free_volumes(r)).collect();
    }
}
