//! # The scheduler's planted bug
//!
//! As in `bugs/master.rs`: the defect, called from a "planted-bug hook" line
//! right after the correct decision.

use super::Bug;

/// `standby-registers-new`: an instance taking over as the framework's active
/// scheduler registers a *new* framework instead of re-registering under the
/// stored framework ID — so the master sees a second framework, and the
/// first one's tasks are orphaned until its failover timeout kills them.
/// Mesos's scheduler driver re-registers with the framework ID and
/// `failover` set (`SchedulerProcess::doReliableRegistration`). Returns true
/// when the instance should register afresh.
pub fn standby_registers_new(bug: Option<Bug>, taking_over: bool) -> bool {
    bug == Some(Bug::StandbyRegistersNew) && taking_over
}
