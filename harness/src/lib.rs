//! # mesochaos-harness: the reference roles inside turmoil
//!
//! - [`driver`] runs one sans-I/O role as a turmoil host: TCP connections with
//!   framed messages and heartbeats, timers, the machine's disk.
//! - [`cluster`] builds the machines and processes of a cluster, injects faults,
//!   supervises processes that exit, and observes role state between steps.
//! - [`run`] executes a scenario's steps and expectations and reports the run.
//! - [`checkers`] read invariants off the [`trace`]; [`explain`] asks whether
//!   every loss, agent removal and framework removal was allowed by a fault or
//!   a call.
//! - [`filters`] holds the message filters (`drop`, `hold`, `release` steps)
//!   and injected messages; [`expect`] the timing and leader-state expectations.
//! - [`catalog`] lists every checker name with what it promises;
//!   [`agreement`] compares the leader's view with the agents' once the cluster
//!   has converged.
//! - [`disk`] is a machine's simulated disk; [`seed`] splits the run's seed into
//!   independent streams; [`frame`] is the wire format.

pub mod agreement;
pub mod catalog;
pub mod checkers;
pub mod cluster;
pub mod disk;
pub mod driver;
pub mod expect;
pub mod explain;
pub mod filters;
pub mod frame;
pub mod refusals;
pub mod run;
pub mod seed;
pub mod trace;

pub use cluster::{Cluster, ClusterSpec, FrameworkSpec, TICK_MS};
pub use run::{
    run, run_recorded, Condition, Expectations, RunOptions, RunReport, RunSpec, Step, Verdict,
};
