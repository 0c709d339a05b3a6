//! # mesochaos-real: the reference roles run for real
//!
//! The simulation trusts code only as far as that code also runs for real
//! (FoundationDB runs its simulated code in production; TigerBeetle's Vortex
//! drives real replicas). The roles in `reference/` are sans-I/O, so this
//! crate can drive them unchanged as OS processes, with real TCP, real timers
//! and real files, and elect masters through a real Apache ZooKeeper.
//!
//! - [`agreement`]: whether a real run and the simulation of the same
//!   scenario tell the same story, timing aside;
//! - [`driver`]: one role on real sockets, timers and files — the
//!   simulation driver's twin;
//! - [`network`]: the harness's relay on every link between two machines,
//!   which cuts, holds and times out connections as the simulation's TCP does;
//! - [`orphans`]: every child in its own group, killed when the harness dies;
//! - [`process`]: what each process of a real run does (the hidden
//!   `real-process` subcommand): its role, built from its machine's disk;
//! - [`run`]: `mesochaos real FILE` — a scenario's steps in real time, and
//!   what real mode cannot do yet, refused with the reason;
//! - [`supervisor`]: the harness's side — starting processes, faults by
//!   signal, the records they send;
//! - [`zookeeper`]: a ZooKeeper server run as a child JVM, and the adapter
//!   that serves the roles' coordinator requests through it.

pub mod agreement;
pub mod clock;
pub mod driver;
pub mod network;
pub mod orphans;
pub mod process;
pub mod run;
pub mod supervisor;
pub mod zookeeper;
