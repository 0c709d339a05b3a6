//! `acked_records_lost` (`acked_records_lost_max` / `_min` in `[expect]`):
//! bounds on the acknowledged database records lost — the storage comparison:
//! a strategy that must lose nothing, one that must lose data on a wipe.

use super::at_end;
use crate::report::Violation;

/// `lost`: the acknowledged records lost in the run (`Metrics::acked_records_lost`).
pub fn check(lost: u64, max: Option<u64>, min: Option<u64>, end_ms: u64) -> Vec<Violation> {
    let mut violations = Vec::new();
    if let Some(max) = max {
        if lost > max {
            violations.push(at_end(
                "acked_records_lost",
                end_ms,
                format!("{lost} acknowledged records lost, at most {max} expected"),
                vec![],
            ));
        }
    }
    if let Some(min) = min {
        if lost < min {
            violations.push(at_end(
                "acked_records_lost",
                end_ms,
                format!("{lost} acknowledged records lost, at least {min} expected"),
                vec![],
            ));
        }
    }
    violations
}
