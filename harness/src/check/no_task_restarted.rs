//! `no_task_restarted` (`[expect]`): no task ID was started more than once
//! (the executor hosts' start counts).

use super::at_end;
use crate::report::Violation;
use std::collections::BTreeMap;

/// `starts`: start count per task ID.
pub fn check(starts: &BTreeMap<String, u64>, end_ms: u64) -> Vec<Violation> {
    starts
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(task, count)| {
            at_end(
                "no_task_restarted",
                end_ms,
                format!("task {task} started {count} times"),
                vec![],
            )
        })
        .collect()
}
