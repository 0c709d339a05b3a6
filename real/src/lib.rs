//! # mesochaos-real: the reference roles run for real
//!
//! The simulation trusts code only as far as that code also runs for real
//! (FoundationDB runs its simulated code in production; TigerBeetle's Vortex
//! drives real replicas). The roles in `reference/` are sans-I/O, so this
//! crate can drive them unchanged as OS processes, with real TCP, real timers
//! and real files, and elect masters through a real Apache ZooKeeper.
//!
//! - [`driver`]: one role on real sockets, timers and files — the
//!   simulation driver's twin;
//! - [`zookeeper`]: a ZooKeeper server run as a child JVM, and the adapter
//!   that serves the roles' coordinator requests through it.

pub mod driver;
pub mod zookeeper;
