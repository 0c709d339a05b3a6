//! # mesochaos-harness: the reference roles inside turmoil
//!
//! - [`driver`] runs one sans-I/O role as a turmoil host: TCP connections with
//!   framed messages, timers, the machine's disk.
//! - [`cluster`] builds the machines and processes of a cluster ([`spec`]),
//!   injects faults, supervises processes that exit, and observes role state
//!   between steps; [`shared`] is the state it shares with the drivers, and
//!   [`names`] spells every process and machine name.
//! - [`run`] executes a [`script`] of steps and expectations and makes the
//!   [`report`].
//! - [`check`] holds the checkers, one per file: invariants read off the
//!   [`trace`], whether every loss was allowed by a fault or a call
//!   (`check::losses_explained`), the leader's view against the agents' once
//!   the cluster has converged (`check::state_agreement`).
//! - [`filters`] holds the message filters (`drop`, `hold`, `release` steps)
//!   and injected messages ([`inject`] resolves what they write); [`expect`]
//!   the timing and leader-state expectations.
//! - [`catalog`] lists every checker name with what it promises.
//! - [`disk`] is a machine's simulated disk; [`seed`] splits the run's seed into
//!   independent streams; [`frame`] is the wire format.

pub mod catalog;
pub mod check;
pub mod cluster;
pub mod disk;
pub mod driver;
pub mod expect;
pub mod filters;
pub mod frame;
pub mod inject;
pub mod names;
pub mod report;
pub mod run;
pub mod script;
pub mod seed;
pub mod shared;
pub mod spec;
pub mod trace;

/// Where the state-agreement checker has always been found.
pub use check::state_agreement as agreement;
pub use cluster::Cluster;
pub use report::{RunReport, Verdict};
pub use run::{run, run_recorded, RunOptions};
pub use script::{Condition, Expectations, RunSpec, Step};
pub use shared::TICK_MS;
pub use spec::{ClusterSpec, FrameworkSpec};
pub use trace::log;
