use std::{ops::RangeInclusive, time::SystemTime};

use rand::{rngs::SmallRng, SeedableRng};

#[cfg(feature = "unstable-fs")]
use crate::fs::FsConfig;
use crate::*;

/// A builder that can be used to configure the simulation.
///
/// The Builder allows you to set a number of options when creating a turmoil
/// simulation, see the available methods for documentation of each of these
/// options.
///
/// ## Examples
///
/// You can use the builder to initialize a sim with default configuration:
///
/// ```
/// let sim = turmoil::Builder::new().build();
/// ```
///
/// If you want to vary factors of the simulation, you can use the
/// respective Builder methods:
///
/// ```
/// use std::time::{Duration, SystemTime};
///
/// let sim = turmoil::Builder::new()
///     .simulation_duration(Duration::from_secs(60))
///     .epoch(SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(946684800)).unwrap())
///     .fail_rate(0.05) // 5% failure rate
///     .build();
/// ```
///
/// If you create a builder with a set of options you can then repeatedly
/// call `build` to get a sim with the same settings:
///
/// ```
/// use std::time::Duration;
///
/// // Create a persistent builder
/// let mut builder = turmoil::Builder::new();
///
/// // Apply a chain of options to that builder
/// builder.simulation_duration(Duration::from_secs(45))
///     .fail_rate(0.05);
///
/// let sim_one = builder.build();
/// let sim_two = builder.build();
/// ````
///
/// ## Entropy and randomness
///
/// Turmoil uses a random number generator to determine the variation in random
/// factors that affect the simulation, like message latency, and failure
/// distributions. By default, this rng is randomly seeded. To make your tests
/// deterministic, you can provide your own seed through [`Builder::rng_seed`].
pub struct Builder {
    config: Config,
    ip_version: IpVersion,
    link: config::Link,
    rng_seed: Option<u64>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub fn new() -> Self {
        Self {
            config: Config::default(),
            ip_version: IpVersion::default(),
            link: config::Link {
                latency: Some(config::Latency::default()),
                message_loss: Some(config::MessageLoss::default()),
            },
            rng_seed: None,
        }
    }

    /// When the simulation starts.
    pub fn epoch(&mut self, value: SystemTime) -> &mut Self {
        self.config.epoch = value;
        self
    }

    /// How long the test should run for in simulated time
    pub fn simulation_duration(&mut self, value: Duration) -> &mut Self {
        self.config.duration = value;
        self
    }

    /// How much simulated time should elapse each tick.
    pub fn tick_duration(&mut self, value: Duration) -> &mut Self {
        self.config.tick = value;
        self
    }

    /// Which kind of network should be simulated.
    pub fn ip_version(&mut self, value: IpVersion) -> &mut Self {
        self.ip_version = value;
        self
    }

    /// The minimum latency that a message will take to transfer over a
    /// link on the network.
    pub fn min_message_latency(&mut self, value: Duration) -> &mut Self {
        self.link.latency_mut().min_message_latency = value;
        self
    }

    /// The maximum latency that a message will take to transfer over a
    /// link on the network.
    pub fn max_message_latency(&mut self, value: Duration) -> &mut Self {
        self.link.latency_mut().max_message_latency = value;
        self
    }

    /// The failure rate of messages on the network. For TCP
    /// this will break connections as currently there are
    /// no re-send capabilities. With UDP this is useful for
    /// testing network flakiness.
    pub fn fail_rate(&mut self, value: f64) -> &mut Self {
        self.link.message_loss_mut().fail_rate = value;
        self
    }

    /// The repair rate of messages on the network. This is how
    /// frequently a link is repaired after breaking.
    pub fn repair_rate(&mut self, value: f64) -> &mut Self {
        self.link.message_loss_mut().repair_rate = value;
        self
    }

    /// The Dynamic Ports, also known as the Private or Ephemeral Ports.
    /// See: <https://www.rfc-editor.org/rfc/rfc6335#section-6>
    pub fn ephemeral_ports(&mut self, value: RangeInclusive<u16>) -> &mut Self {
        self.config.ephemeral_ports = value;
        self
    }

    /// Capacity of a host's TCP buffer in the sim.
    pub fn tcp_capacity(&mut self, value: usize) -> &mut Self {
        self.config.tcp_capacity = value;
        self
    }

    /// Capacity of host's UDP buffer in the sim.
    pub fn udp_capacity(&mut self, value: usize) -> &mut Self {
        self.config.udp_capacity = value;
        self
    }

    /// Enables the tokio I/O driver.
    pub fn enable_tokio_io(&mut self) -> &mut Self {
        self.config.enable_tokio_io = true;
        self
    }

    /// Enables running of nodes in random order. This allows exploration
    /// of extra state space in multi-node simulations where race conditions
    /// may arise based on message send/receive order.
    pub fn enable_random_order(&mut self) -> &mut Self {
        self.config.random_node_order = true;
        self
    }

    /// mesochaos patch 4: skip the tick of a host that has nothing to do on it.
    ///
    /// A host is idle on a tick when no task of its software was woken since
    /// its last tick, no message is deliverable to it, and no timer it created
    /// through [`crate::time`] is due before the tick ends (1 ms of slack for
    /// tokio's millisecond rounding). Skipping it is then exactly what ticking
    /// it would have done: nothing. Its clock and the hidden scheduler state a
    /// tick touches are brought up to date before it next runs, so a run is the
    /// same, message for message and RNG draw for RNG draw, with or without it.
    ///
    /// The contract this relies on, which the host software must keep:
    /// - every timer it creates goes through [`crate::time::sleep`],
    ///   [`crate::time::sleep_until`] or [`crate::time::timeout`] (a
    ///   `tokio::time::sleep` turmoil cannot see would fire a tick late);
    /// - it spawns with `tokio::task::spawn_local` only, never `tokio::spawn`.
    ///
    /// [`Builder::verify_idle_skips`] checks the contract. Ignored when the
    /// tokio I/O driver is enabled (real I/O can wake a host unseen). Off by
    /// default.
    pub fn skip_idle_hosts(&mut self, value: bool) -> &mut Self {
        self.config.skip_idle_hosts = value;
        self
    }

    /// mesochaos patch 4: with [`Builder::skip_idle_hosts`], tick every host
    /// anyway and panic, naming the host, if one the oracle calls idle does
    /// anything on its tick. For tests of host software; it skips nothing.
    pub fn verify_idle_skips(&mut self, value: bool) -> &mut Self {
        self.config.verify_idle_skips = value;
        self
    }

    /// mesochaos patch 5: the faithful TCP model. Off by default; with it off
    /// nothing changes.
    ///
    /// turmoil's TCP does not retransmit: a partitioned link drops segments,
    /// and a connection that lost one stalls forever. With this on, TCP
    /// behaves like a real kernel's under a partition (PATCHES.md, patch 5,
    /// has the exact model and its simplifications):
    ///
    /// - a link cut by [`Sim::partition`] or [`Sim::partition_oneway`] holds
    ///   the TCP segments (SYN, data, FIN) sent across it, instead of
    ///   dropping them, and delivers them in order when it is repaired (as
    ///   retransmission would); a SYN is held while either direction is cut.
    ///   An RST that meets a cut is lost, and UDP is dropped, as before.
    ///   Random partitions ([`Builder::fail_rate`]) keep upstream's behaviour;
    /// - a socket whose data or FIN has been held by a cut (or by a
    ///   powered-off destination) for [`Builder::tcp_user_timeout`] is reset:
    ///   its reads and writes fail with `ConnectionReset`, and its held
    ///   segments on that connection are discarded. So is one whose segments
    ///   crossed a one-way cut whose return direction (the ACKs) stayed cut
    ///   that long. Segments held by [`Sim::hold`] (a paused process, whose
    ///   kernel still acknowledges) never count;
    /// - [`crate::net::TcpStream::connect`] fails with `TimedOut` when its
    ///   SYN has been held by a cut (or a powered-off destination) for
    ///   [`Builder::tcp_connect_timeout`]; a connect to a live host with
    ///   nothing listening is still refused at once;
    /// - a host whose software is not running (crashed, machine up) still
    ///   answers: a segment for a socket it no longer has gets an RST, and a
    ///   SYN is refused, at once (upstream queues them until it is bounced);
    /// - an RST aborts the socket it reaches: reads and writes (not only
    ///   reads) then fail with `ConnectionReset`, and a writer blocked on a
    ///   full send buffer is woken;
    /// - [`Sim::power_off`] gives the timeouts a dead machine to act on.
    ///
    /// Timeouts are checked once per tick, in simulated time. Nothing here
    /// draws from the simulation's RNG: a held segment gets no latency
    /// sample, neither when it is held nor when it is released.
    pub fn faithful_tcp(&mut self, value: bool) -> &mut Self {
        self.config.faithful_tcp = value;
        self
    }

    /// mesochaos patch 5: with [`Builder::faithful_tcp`], how long a data
    /// segment or FIN may stay held by a cut (or by a powered-off
    /// destination), or unacknowledged across a one-way cut, before the
    /// socket that sent it is reset. Default 924.6 s, what Linux's default
    /// `tcp_retries2 = 15` amounts to. Checked once per tick: the socket
    /// learns it in the first tick that starts at or after the end of the
    /// tick in which the segment was sent (or held) plus this timeout, so
    /// at least this long and at most a tick more after it was sent.
    pub fn tcp_user_timeout(&mut self, value: Duration) -> &mut Self {
        self.config.tcp_user_timeout = value;
        self
    }

    /// mesochaos patch 5: with [`Builder::faithful_tcp`], how long a SYN may
    /// stay held by a cut (or by a powered-off destination) before its
    /// [`crate::net::TcpStream::connect`] fails with
    /// `io::ErrorKind::TimedOut` (and the SYN is discarded). Default 127 s,
    /// what Linux's default `tcp_syn_retries = 6` amounts to. Checked like
    /// [`Builder::tcp_user_timeout`].
    pub fn tcp_connect_timeout(&mut self, value: Duration) -> &mut Self {
        self.config.tcp_connect_timeout = value;
        self
    }

    /// Access the filesystem configuration.
    ///
    /// Use builder-style methods to configure filesystem behavior:
    ///
    /// ```ignore
    /// let sim = turmoil::Builder::new()
    ///     .fs()
    ///         .sync_probability(0.1)
    ///         .capacity(1024 * 1024)
    ///         .io_error_probability(0.01);
    ///
    /// // Continue with other builder methods
    /// sim.build();
    /// ```
    #[cfg(feature = "unstable-fs")]
    pub fn fs(&mut self) -> &mut FsConfig {
        &mut self.config.fs
    }

    /// Seed for random numbers generated by turmoil.
    pub fn rng_seed(&mut self, value: u64) -> &mut Self {
        self.rng_seed = Some(value);
        self
    }

    /// Build a simulation with the settings from the builder.
    pub fn build<'a>(&self) -> Sim<'a> {
        if self.link.latency().max_message_latency < self.link.latency().min_message_latency {
            panic!("Maximum message latency must be greater than minimum.");
        }

        let rng = match self.rng_seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };

        let mut world = World::new(
            self.link.clone(),
            Box::new(rng),
            self.ip_version.iter(),
            self.config.tick,
        );
        // mesochaos patch 5.
        if self.config.faithful_tcp {
            world.enable_faithful_tcp(
                self.config.tcp_user_timeout,
                self.config.tcp_connect_timeout,
            );
        }

        Sim::new(self.config.clone(), world)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::Builder;

    #[test]
    #[should_panic]
    fn invalid_latency() {
        let _sim = Builder::new()
            .min_message_latency(Duration::from_millis(100))
            .max_message_latency(Duration::from_millis(50))
            .build();
    }
}
