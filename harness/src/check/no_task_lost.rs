//! `no_task_lost` (`[expect]`): no framework heard `TASK_LOST`.

use super::at_end;
use crate::report::{ReceivedUpdate, Violation};
use mesochaos_reference::TaskState;
use std::collections::BTreeMap;

pub fn check(updates: &BTreeMap<String, Vec<ReceivedUpdate>>, end_ms: u64) -> Vec<Violation> {
    updates
        .values()
        .flatten()
        .filter(|u| u.state == TaskState::Lost)
        .map(|u| {
            at_end(
                "no_task_lost",
                end_ms,
                format!(
                    "{} received TASK_LOST for {} at {} ms",
                    u.instance, u.task_id, u.t_ms
                ),
                vec![u.instance.to_string()],
            )
        })
        .collect()
}
