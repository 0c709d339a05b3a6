//! # mesochaos-reference: Apache Mesos's fault-tolerance design, written to be read
//!
//! This crate is the *system under test* of mesochaos. It holds one module per
//! Mesos role, each a plain state machine in the style of raft-rs or quinn-proto:
//!
//! | module | role | what it teaches |
//! |---|---|---|
//! | [`coordinator`] | the ZooKeeper ensemble | sessions that expire only by timeout, ephemeral sequential nodes, watches, versioned compare-and-set |
//! | [`coordinator_client`] | a ZooKeeper client | session heartbeats, resuming a session, expiring it locally *before* the server does |
//! | [`master`] | a Mesos master | leader election, soft state rebuilt from re-registration, offers, health checks, the registry |
//! | [`agent`] | a Mesos agent | leader detection, (re)registration, checkpointing, the status update stream |
//! | [`executor`] | the executor host (containerizer) | tasks that keep running while the agent process is dead |
//! | [`scheduler`] | a framework's scheduler | registration, keeping N tasks running, acknowledgements, kill, reconciliation |
//!
//! **No role performs I/O.** Every input ([`io::Input`]) carries the simulated time
//! `now_ms` and a random word drawn by the driver; every effect ([`io::Output`]) is
//! *returned* — send a message, dial a peer, set a timer, write a file, emit an
//! event, exit — and the driver performs it. The same structs therefore run inside
//! the turmoil simulation, in unit tests, and (later) in real OS processes.
//!
//! A restarted role is built only from the bytes on its disk (see
//! [`agent::Agent::recover`]): nothing survives a crash in memory, exactly as with a
//! real process.
//!
//! ## A reading order
//!
//! [`io`] first (what a role can and cannot do), then [`coordinator`] and
//! [`coordinator_client`] (sessions and why only a timeout ends one), then
//! [`detector`] (who leads, and the epoch), then [`master`] with [`registry`]
//! (the leader's one piece of durable state), then [`agent`] with
//! [`checkpoint`] (how a task outlives its agent process), then
//! [`scheduler`]. [`timing`] holds every timeout with its Mesos default, and
//! [`bugs`] the defects the harness must be able to catch.

#![deny(missing_docs)]

pub mod agent;
pub mod bugs;
pub mod checkpoint;
pub mod coordinator;
pub mod coordinator_client;
pub mod detector;
pub mod events;
pub mod executor;
pub mod framework;
pub mod ids;
pub mod io;
pub mod link;
pub mod master;
pub mod messages;
pub mod operations;
pub mod pairs;
pub mod records;
pub mod registry;
pub mod resources;
pub mod scheduler;
pub mod storage;
pub mod store;
pub mod task;
pub mod task_state;
pub mod timing;

pub use events::Event;
pub use ids::{AgentId, FrameworkId, OfferId, ProcessId, SessionId, TaskId, UpdateUuid};
pub use io::{Context, Input, Output, Outputs};
pub use messages::Message;
pub use resources::Resources;
pub use task_state::{Reason, Source, TaskState};
pub use timing::Timing;
