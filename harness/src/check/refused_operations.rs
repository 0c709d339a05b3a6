//! `refused_operations` (`[expect]`): the master refused exactly the offer
//! operations the scenario expects it to refuse.

use super::at_end;
use crate::report::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::Event;

pub fn check(expected: u64, records: &[TraceRecord], end_ms: u64) -> Option<Violation> {
    let refused = records
        .iter()
        .filter(|r| {
            matches!(
                &r.kind,
                TraceKind::Event {
                    event: Event::OperationRefused { .. }
                }
            )
        })
        .count() as u64;
    (refused != expected).then(|| {
        at_end(
            "refused_operations",
            end_ms,
            format!("the master refused {refused} offer operations, expected {expected}"),
            vec![],
        )
    })
}
