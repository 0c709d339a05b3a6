//! `checkpoint_truncated` (`[expect]`): some agent's recovery found a torn
//! checkpoint record and cut it off.

use super::at_end;
use crate::report::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::Event;

pub fn check(records: &[TraceRecord], end_ms: u64) -> Option<Violation> {
    let truncated = records.iter().any(|r| {
        matches!(
            &r.kind,
            TraceKind::Event {
                event: Event::CheckpointTruncated { .. }
            }
        )
    });
    (!truncated).then(|| {
        at_end(
            "checkpoint_truncated",
            end_ms,
            "no recovery truncated a torn checkpoint record".into(),
            vec![],
        )
    })
}
