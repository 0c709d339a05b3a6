//! `acked_records` (`acked_records_min` in `[expect]`): at least this many
//! database records were acknowledged (the workload really wrote).

use super::at_end;
use crate::report::Violation;

/// `acked`: the records acknowledged in the run (`Metrics::acked_records`).
pub fn check(acked: u64, min: u64, end_ms: u64) -> Option<Violation> {
    (acked < min).then(|| {
        at_end(
            "acked_records",
            end_ms,
            format!("{acked} database records acknowledged, at least {min} expected"),
            vec![],
        )
    })
}
