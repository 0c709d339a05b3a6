//! `FrameworkInfo`: what a framework tells the master about itself.
//!
//! Mesos's `FrameworkInfo` (include/mesos/mesos.proto) has some twenty fields;
//! this keeps the ones that change what happens under failure. The scheduler
//! sends it with every (re-)registration; agents checkpoint it with their
//! tasks ([`crate::checkpoint::AgentState::frameworks`]) and report it when
//! they re-register, so a new leader knows a framework's role and
//! capabilities before its scheduler is back.

use crate::ids::FrameworkId;
use serde::{Deserialize, Serialize};

/// Mesos's `FrameworkInfo`, reduced to the fields the fault-tolerance story needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkInfo {
    /// Human-readable name (`web`, `db`).
    pub name: String,
    /// The resource role the framework consumes as. Dynamic reservations are made
    /// for a role, and reserved resources are offered only to frameworks of it.
    pub role: String,
    /// The identity the framework authenticates as. Mesos refuses a
    /// re-registration that changes it ("Changing framework's principal is
    /// not allowed", `validateUpdate` in src/master/validation.cpp).
    pub principal: String,
    /// How long the master keeps a disconnected framework's tasks running before
    /// removing the framework (Mesos defaults to 0; frameworks set it).
    pub failover_timeout_ms: u64,
    /// The `PARTITION_AWARE` capability: such frameworks see `TASK_UNREACHABLE`
    /// and `TASK_GONE` where others see `TASK_LOST`.
    pub partition_aware: bool,
    /// Assigned by the master on first registration; a re-registration carries it.
    pub id: Option<FrameworkId>,
}
