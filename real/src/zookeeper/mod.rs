//! # ZooKeeper: the real coordinator
//!
//! Simulated runs elect masters through the coordinator stand-in
//! (`reference/src/coordinator/`), a one-process model of ZooKeeper. Real
//! mode can use Apache ZooKeeper itself (issue 16), which is also how we
//! learn whether the stand-in models it faithfully:
//!
//! - [`server`]: a ZooKeeper server as a direct child JVM on a free loopback
//!   port, with a temporary data directory, killed with its process group
//!   when dropped; and the session-timeout clamp real mode must respect;
//! - [`adapter`]: serves the roles' [`CoordOp`]s through a real session, and
//!   maps its watch and expiry events to the stand-in's messages;
//! - `watches`: one session's watches, one notification per change;
//! - [`proxy`]: a TCP proxy that cuts one client off, to make a real session
//!   expire;
//! - [`differential`]: runs one script of coordinator operations against the
//!   stand-in (as a role, in simulated time) and against ZooKeeper (through
//!   the adapter), and normalises both transcripts for comparison
//!   (`real/tests/zookeeper.rs`).
//!
//! [`CoordOp`]: mesochaos_reference::messages::CoordOp

pub mod adapter;
pub mod differential;
pub mod proxy;
pub mod server;
mod watches;
