//! # The checkers: one per file, each named in [`crate::catalog`]
//!
//! A violation names its checker, the simulated time and the processes
//! involved. *Always* properties hold at every moment of every run whatever
//! the faults:
//! - read off the trace after the run, in one pass ([`check_trace`]):
//!   [`epoch_order`], [`one_copy_at_a_time`], [`definite_is_final`]; and
//!   ([`check_storage`]) [`acked_data_kept`], [`reserved_only_to_role`];
//! - read off the whole trace: [`update_delivery`] (once the cluster has
//!   converged after the heal), [`framework_identity`], [`reuse_refused`],
//!   [`losses_explained`] (was each loss *allowed* by a fault or a call?);
//! - asked of the roles' state by the runner: [`single_leader`] every tick,
//!   [`offer_accounting`] every simulated second, [`state_agreement`] once
//!   the cluster has [`convergence`] converged.
//!
//! The `[expect]` checks of a scenario ([`check_expectations`]):
//! [`failover_time`], [`no_task_lost`], [`no_task_ended`],
//! [`no_task_restarted`], [`rebuilt_state`], [`refused_operations`],
//! [`checkpoint_truncated`], [`updates`], [`acked_records_lost`],
//! [`acked_records`] (and `crate::expect`'s timing and leader-state checks).
//! The runner's own failures (`wait`, `liveness`, `vacuous_fault`, ...) are
//! raised where the runner meets them (`crate::run`).

pub mod acked_data_kept;
pub mod acked_records;
pub mod acked_records_lost;
pub mod checkpoint_truncated;
pub mod convergence;
pub mod definite_is_final;
pub mod epoch_order;
pub mod failover_time;
pub mod framework_identity;
pub mod losses_explained;
pub mod no_task_ended;
pub mod no_task_lost;
pub mod no_task_restarted;
pub mod offer_accounting;
pub mod one_copy_at_a_time;
pub mod rebuilt_state;
pub mod refused_operations;
pub mod reserved_only_to_role;
pub mod reuse_refused;
pub mod single_leader;
pub mod state_agreement;
pub mod update_delivery;
pub mod updates;

pub use framework_identity::check_framework_identity;
pub use update_delivery::check_update_delivery;

use crate::report::{RebuiltComparison, ReceivedUpdate, Violation};
use crate::script::Expectations;
use crate::trace::TraceRecord;
use std::collections::BTreeMap;

/// A violation of an end-of-run check, at the end of the run.
fn at_end(checker: &str, end_ms: u64, message: String, processes: Vec<String>) -> Violation {
    Violation {
        checker: checker.into(),
        t_ms: end_ms,
        message,
        processes,
    }
}

/// `epoch_order`, `one_copy_at_a_time` and `definite_is_final`, reading the
/// trace once, in order: their violations come in trace order.
pub fn check_trace(records: &[TraceRecord]) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut epochs = epoch_order::EpochOrder::default();
    let mut definite = definite_is_final::DefiniteIsFinal::default();
    let mut copies = one_copy_at_a_time::OneCopyAtATime::default();
    for (index, r) in records.iter().enumerate() {
        epochs.observe(index, r, &mut violations);
        definite.observe(r, &mut violations);
        copies.observe(r, &mut violations);
    }
    violations
}

/// Storage checks, reading the trace once: `acked_data_kept` and
/// `reserved_only_to_role`. Returns the violations and how many acknowledged
/// records were lost in all (wipes included: a metric for comparing storage
/// strategies).
pub fn check_storage(records: &[TraceRecord]) -> (Vec<Violation>, u64) {
    let mut violations = Vec::new();
    let mut kept = acked_data_kept::AckedDataKept::default();
    let mut reserved = reserved_only_to_role::ReservedOnlyToRole::default();
    for r in records {
        kept.observe(r, &mut violations);
        reserved.observe(r, &mut violations);
    }
    (violations, kept.lost_total)
}

/// The `[expect]` checks of the trace and the run's measurements, in the
/// order their violations are reported.
pub fn check_expectations(
    expect: &Expectations,
    records: &[TraceRecord],
    end_ms: u64,
    failover_time_ms: Option<u64>,
    rebuilt: Option<&RebuiltComparison>,
    updates: &BTreeMap<String, Vec<ReceivedUpdate>>,
    starts: &BTreeMap<String, u64>,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    if let Some(max) = expect.failover_time_max_ms {
        violations.extend(failover_time::check(max, failover_time_ms, end_ms));
    }
    if expect.no_task_lost {
        violations.extend(no_task_lost::check(updates, end_ms));
    }
    if expect.no_task_ended {
        violations.extend(no_task_ended::check(updates, end_ms));
    }
    if expect.no_task_restarted {
        violations.extend(no_task_restarted::check(starts, end_ms));
    }
    if expect.rebuilt_state_matches {
        violations.extend(rebuilt_state::check(rebuilt, end_ms));
    }
    if let Some(expected) = expect.refused_operations {
        violations.extend(refused_operations::check(expected, records, end_ms));
    }
    if expect.checkpoint_truncated {
        violations.extend(checkpoint_truncated::check(records, end_ms));
    }
    violations.extend(updates::check(&expect.updates, records, updates, end_ms));
    violations
}

/// The names of the `[expect]` checks a scenario asks for, in
/// [`check_expectations`]'s order (with `crate::expect`'s timing and
/// leader-state checks last): what a report lists as verified beside the
/// checkers that run on every run.
pub fn expectation_checkers(expect: &Expectations) -> Vec<&'static str> {
    let asked = [
        ("failover_time", expect.failover_time_max_ms.is_some()),
        ("no_task_lost", expect.no_task_lost),
        ("no_task_ended", expect.no_task_ended),
        ("no_task_restarted", expect.no_task_restarted),
        ("rebuilt_state", expect.rebuilt_state_matches),
        ("refused_operations", expect.refused_operations.is_some()),
        ("checkpoint_truncated", expect.checkpoint_truncated),
        ("updates", !expect.updates.is_empty()),
        (
            "acked_records_lost",
            expect.acked_records_lost_max.is_some() || expect.acked_records_lost_min.is_some(),
        ),
        ("acked_records", expect.acked_records_min.is_some()),
        ("timing", !expect.timing.is_empty()),
        ("leader_state", expect.leader.is_some()),
    ];
    asked
        .into_iter()
        .filter(|(_, asked)| *asked)
        .map(|(name, _)| name)
        .collect()
}

#[cfg(test)]
mod tests;
