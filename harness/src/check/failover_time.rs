//! `failover_time` (`failover_time_max` in `[expect]`): a new leader recovered,
//! and every live agent and scheduler re-registered with it, within the bound
//! after the last leader crash.

use super::at_end;
use crate::report::Violation;

/// `measured`: the failover the runner measured, if one completed.
pub fn check(max_ms: u64, measured: Option<u64>, end_ms: u64) -> Option<Violation> {
    match measured {
        None => Some(at_end(
            "failover_time",
            end_ms,
            "no completed master failover was measured".into(),
            vec![],
        )),
        Some(t) if t > max_ms => Some(at_end(
            "failover_time",
            end_ms,
            format!("failover took {t} ms, more than {max_ms} ms"),
            vec![],
        )),
        Some(_) => None,
    }
}
