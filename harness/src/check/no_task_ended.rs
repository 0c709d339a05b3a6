//! `no_task_ended` (`[expect]`): no framework heard a terminal update
//! (reconciliation answers and retried updates of non-terminal states are fine).

use super::at_end;
use crate::report::{ReceivedUpdate, Violation};
use std::collections::BTreeMap;

pub fn check(updates: &BTreeMap<String, Vec<ReceivedUpdate>>, end_ms: u64) -> Vec<Violation> {
    updates
        .values()
        .flatten()
        .filter(|u| u.state.is_terminal())
        .map(|u| {
            at_end(
                "no_task_ended",
                end_ms,
                format!(
                    "{} received {} for {} at {} ms",
                    u.instance, u.state, u.task_id, u.t_ms
                ),
                vec![u.instance.to_string()],
            )
        })
        .collect()
}
