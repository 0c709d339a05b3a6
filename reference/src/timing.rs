//! Timing parameters, with Apache Mesos's defaults.
//!
//! Every duration a role waits for lives here, in milliseconds, named after the
//! Mesos flag it models. Scenarios may shorten any of them to keep runs short; the
//! defaults stay Mesos's so that a run "with default timing" means what it says.
//!
//! Where each default comes from: `ZOOKEEPER_SESSION_TIMEOUT`,
//! `DEFAULT_AGENT_PING_TIMEOUT`, `DEFAULT_MAX_AGENT_PING_TIMEOUTS`,
//! `MIN_AGENT_REREGISTER_TIMEOUT` and `DEFAULT_ALLOCATION_INTERVAL` in
//! src/master/constants.hpp (wired to flags in src/master/flags.cpp);
//! `EXECUTOR_REGISTRATION_TIMEOUT`, `EXECUTOR_REREGISTRATION_TIMEOUT`,
//! `STATUS_UPDATE_RETRY_INTERVAL_MIN`/`_MAX`,
//! `DEFAULT_REGISTRATION_BACKOFF_FACTOR` and `REGISTER_RETRY_INTERVAL_MAX` in
//! src/slave/constants.hpp (flags in src/slave/flags.cpp); the scheduler
//! driver's `DEFAULT_REGISTRATION_BACKOFF_FACTOR` (2 s) in
//! src/sched/constants.hpp; `Filters.refuse_seconds` in include/mesos/mesos.proto.
//!
//! The ratios matter more than the values. Mesos's flag help says the total
//! ping timeout (75 s) should exceed the ZooKeeper session timeout (10 s) "to
//! prevent useless re-registration attempts" (an agent that stops hearing
//! pings re-detects the master, and a failover is announced through the
//! coordinator well before); and the registration backoff cap (1 min) is
//! far below the re-registration timeout (10 min), so an agent retries many
//! times before a new leader would mark it unreachable. A scenario that shortens timeouts should keep
//! those orders.

use serde::{Deserialize, Serialize};

/// Every duration the roles wait for, in milliseconds. One value is shared by
/// all roles of a run (the harness hands each role a copy in its config); a
/// scenario's `[timing]` table overrides fields by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// `--zk_session_timeout`: a coordinator session that hears no heartbeat for
    /// this long expires, and its ephemeral nodes (a master's candidacy) vanish.
    pub zk_session_timeout_ms: u64,
    /// `--agent_ping_timeout`: how long the master waits for an agent's pong
    /// before counting a missed ping. Pings are sent once per this interval.
    pub agent_ping_timeout_ms: u64,
    /// `--max_agent_ping_timeouts`: consecutive missed pongs after which the
    /// master marks the agent unreachable (15 s × 5 ≈ 75 s by default).
    pub max_agent_ping_timeouts: u32,
    /// `--agent_reregister_timeout`: after a master failover, how long agents
    /// listed in the registry have to re-register before they are marked
    /// unreachable.
    pub agent_reregister_timeout_ms: u64,
    /// `--executor_reregistration_timeout`: after an agent restart, how long
    /// executors have to re-register before their tasks are reported lost.
    pub executor_reregistration_timeout_ms: u64,
    /// First status update retry interval (doubles on every retry).
    /// Mesos's `STATUS_UPDATE_RETRY_INTERVAL_MIN` (10 s): the agent resends
    /// the head of a task's stream until it is acknowledged.
    pub status_update_retry_ms: u64,
    /// Cap on the status update retry interval.
    /// Mesos's `STATUS_UPDATE_RETRY_INTERVAL_MAX` (10 min).
    pub status_update_retry_max_ms: u64,
    /// `--registration_backoff_factor` of the agent: (re)registration attempts
    /// wait a random time in `[0, factor · 2^n]`.
    pub agent_registration_backoff_ms: u64,
    /// The scheduler driver's registration backoff factor.
    /// `DEFAULT_REGISTRATION_BACKOFF_FACTOR` of src/sched/constants.hpp (2 s).
    pub scheduler_registration_backoff_ms: u64,
    /// Cap on both registration backoffs.
    /// 1 min in Mesos for both: the agent's `REGISTER_RETRY_INTERVAL_MAX`
    /// and the driver's `REGISTRATION_RETRY_INTERVAL_MAX`.
    pub registration_backoff_max_ms: u64,
    /// `--allocation_interval`: how often the master's allocator makes offers.
    pub allocation_interval_ms: u64,
    /// How long a declined offer's resources are not re-offered to the same
    /// framework (`Filters.refuse_seconds`, 5 s by default).
    pub offer_refuse_ms: u64,
    /// The transport's, not a role's: TCP's user timeout. A connection whose
    /// sent data stays unacknowledged this long (held across a partition) is
    /// reset on the sending side. Linux's default with `tcp_retries2 = 15`,
    /// ≈ 924.6 s; libprocess sets no `TCP_USER_TIMEOUT` of its own.
    #[serde(default = "default_tcp_user_timeout_ms")]
    pub tcp_user_timeout_ms: u64,
    /// The transport's: how long a connect waits for an answer across a cut or
    /// to a powered-off machine (Linux, `tcp_syn_retries = 6`: ≈ 127 s).
    #[serde(default = "default_tcp_connect_timeout_ms")]
    pub tcp_connect_timeout_ms: u64,
    /// How long a launch waits for its executor to register before the agent
    /// gives up on it (`--executor_registration_timeout`, 1 min by default;
    /// `Slave::registerExecutorTimeout`). Here: the agent's executor host,
    /// which reconnects after the agent process restarts or after it was
    /// itself restarted.
    #[serde(default = "default_executor_registration_timeout_ms")]
    pub executor_registration_timeout_ms: u64,
}

// Defaults for the fields added after traces and scenario files already
// existed: `#[serde(default = ...)]` fills them in when an older file lacks
// them.

/// `EXECUTOR_REGISTRATION_TIMEOUT`: 1 min.
fn default_executor_registration_timeout_ms() -> u64 {
    60_000
}

/// Linux's retransmission give-up with `tcp_retries2 = 15`.
fn default_tcp_user_timeout_ms() -> u64 {
    924_600
}

/// Linux's connect give-up with `tcp_syn_retries = 6`.
fn default_tcp_connect_timeout_ms() -> u64 {
    127_000
}

/// Mesos's defaults (see the module doc for where each comes from).
impl Default for Timing {
    fn default() -> Self {
        Timing {
            zk_session_timeout_ms: 10_000,
            agent_ping_timeout_ms: 15_000,
            max_agent_ping_timeouts: 5,
            agent_reregister_timeout_ms: 600_000,
            executor_reregistration_timeout_ms: 2_000,
            status_update_retry_ms: 10_000,
            status_update_retry_max_ms: 600_000,
            agent_registration_backoff_ms: 1_000,
            scheduler_registration_backoff_ms: 2_000,
            registration_backoff_max_ms: 60_000,
            allocation_interval_ms: 1_000,
            offer_refuse_ms: 5_000,
            tcp_user_timeout_ms: default_tcp_user_timeout_ms(),
            tcp_connect_timeout_ms: default_tcp_connect_timeout_ms(),
            executor_registration_timeout_ms: default_executor_registration_timeout_ms(),
        }
    }
}

impl Timing {
    /// How long an agent tolerates hearing no ping before it decides the master
    /// is gone and re-detects it (Mesos: `agent_ping_timeout * max_agent_ping_timeouts`).
    /// In Mesos the master tells the agent this total at registration
    /// (`total_ping_timeout_seconds`), and `Slave::pingTimeout` fires after it;
    /// here both sides read it from the shared `Timing`.
    pub fn agent_total_ping_timeout_ms(&self) -> u64 {
        self.agent_ping_timeout_ms * u64::from(self.max_agent_ping_timeouts)
    }

    /// A randomized exponential backoff: uniform in `[0, factor · 2^attempt]`,
    /// capped at `registration_backoff_max_ms`. `random` is a word the driver drew
    /// from this process's seeded stream.
    pub fn backoff_ms(&self, factor_ms: u64, attempt: u32, random: u64) -> u64 {
        let bound = factor_ms
            .saturating_mul(1u64 << attempt.min(20))
            .min(self.registration_backoff_max_ms)
            .max(1);
        random % (bound + 1)
    }
}
