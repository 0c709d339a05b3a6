//! # The harness's network: a proxy on every link between two machines
//!
//! A real run cannot cut a loopback interface without root, so it does what
//! Toxiproxy does: every connection from one machine to a process on another
//! runs through a relay the harness owns, and the harness cuts, repairs and
//! times out *that*. Each process is told to reach a process on another
//! machine at a relay's address ([`Network::route`]: one listener per
//! dialing machine and far process, so the relay knows both ends); processes
//! of one machine reach each other directly, as they would over its loopback
//! interface.
//!
//! A relay must not acknowledge on the receiver's behalf in a way that hides
//! TCP, so it reproduces the simulation's transport (`vendor/turmoil`, patch
//! 5, "faithful TCP"), which is Linux's:
//! - **a cut holds data.** Bytes sent across a cut direction are kept, in
//!   order, and delivered when it is repaired, as retransmission would
//!   deliver them; the sender's writes keep succeeding meanwhile, until its
//!   buffers fill;
//! - **user timeout.** Data undeliverable for `tcp_user_timeout` (Linux:
//!   924.6 s) resets the *sender's* connection and is discarded; the far
//!   side is not told, and learns only when it next writes after the repair
//!   (its data meets a connection that no longer exists and is answered with
//!   a reset). Under a one-way cut the data is delivered but the
//!   acknowledgements are lost, so the sender times out all the same;
//! - **connect across a cut** waits — the SYN is held — until both
//!   directions work, or fails after `tcp_connect_timeout` (Linux: 127 s);
//!   to a port nobody listens on it is refused at once (the relay resets the
//!   dialer, whose driver waits for the far process's welcome byte);
//! - **a reset that meets a cut is lost** (TCP does not retransmit an RST);
//!   a FIN is data, held and delivered like any other.
//!
//! Pauses need nothing here: `SIGSTOP` stops a process, not its kernel,
//! which keeps accepting and acknowledging — what the simulation's `hold`
//! models.
//!
//! This file is the cut state the relays obey and the listeners;
//! [`relay`] is one relayed connection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod relay;

/// TCP's two give-up times, from the scenario's `[timing]`.
#[derive(Clone, Copy, Debug)]
pub struct TcpTimeouts {
    /// Undeliverable data resets its sender after this long
    /// (`tcp_user_timeout_ms`).
    pub user: Duration,
    /// A connect across a cut fails after this long (`tcp_connect_timeout_ms`).
    pub connect: Duration,
}

/// What every relay reads: which directions are cut, and since when.
struct Shared {
    /// Directed machine pairs (from, to) whose direction is cut, with the
    /// moment it was cut: data already in flight is "held" from then, which
    /// is when its user timeout starts.
    cut: Mutex<BTreeMap<(String, String), Instant>>,
    /// Machines without power, since when: every direction to or from one is
    /// cut (no machine answers), and its processes' sockets end silently —
    /// a power loss sends no FIN and no RST, so their peers learn only when
    /// their data meets the rebooted machine's fresh kernel, or times out.
    powered_off: Mutex<BTreeMap<String, Instant>>,
    /// Bumped on every change, so relays waiting on a cut look again.
    changed: watch::Sender<u64>,
    timeouts: TcpTimeouts,
}

impl Shared {
    /// Since when `from → to` is cut (by a partition, or because either
    /// machine is without power), if it is.
    fn cut_since(&self, from: &str, to: &str) -> Option<Instant> {
        let cut = self
            .cut
            .lock()
            .expect("not poisoned")
            .get(&(from.to_string(), to.to_string()))
            .copied();
        let off = self.powered_off.lock().expect("not poisoned");
        [cut, off.get(from).copied(), off.get(to).copied()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether `machine` is without power.
    fn is_powered_off(&self, machine: &str) -> bool {
        self.powered_off
            .lock()
            .expect("not poisoned")
            .contains_key(machine)
    }
}

/// The relays of one real run; dropping it stops them all and closes every
/// connection they carry.
pub struct Network {
    shared: Arc<Shared>,
    /// The address of each relay made so far, by (dialing machine, far
    /// address): the same relay serves every incarnation.
    routes: BTreeMap<(String, SocketAddr), SocketAddr>,
    /// Each relay's accept loop (its connections' tasks are its children:
    /// aborting it aborts them, see [`relay::serve`]).
    tasks: Vec<JoinHandle<()>>,
}

impl Network {
    /// A network where every link works.
    pub fn new(timeouts: TcpTimeouts) -> Network {
        Network {
            shared: Arc::new(Shared {
                cut: Mutex::new(BTreeMap::new()),
                powered_off: Mutex::new(BTreeMap::new()),
                changed: watch::channel(0).0,
                timeouts,
            }),
            routes: BTreeMap::new(),
            tasks: Vec::new(),
        }
    }

    /// Where a process on machine `from` reaches `upstream`, a listener on
    /// machine `to`: a relay made on first use and kept for the run.
    /// (Called from within the run's tokio runtime.)
    pub fn route(
        &mut self,
        from: &str,
        to: &str,
        upstream: SocketAddr,
    ) -> std::io::Result<SocketAddr> {
        if let Some(address) = self.routes.get(&(from.to_string(), upstream)) {
            return Ok(*address);
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let listener = TcpListener::from_std(listener)?;
        let ends = relay::Ends {
            from: from.to_string(),
            to: to.to_string(),
            upstream,
        };
        self.tasks.push(tokio::spawn(relay::serve(
            listener,
            ends,
            self.shared.clone(),
        )));
        self.routes.insert((from.to_string(), upstream), address);
        Ok(address)
    }

    /// Cuts the direction `from → to` (between two machines); a direction
    /// already cut keeps the moment it was first cut.
    pub fn cut(&self, from: &str, to: &str) {
        let now = Instant::now();
        self.shared
            .cut
            .lock()
            .expect("not poisoned")
            .entry((from.to_string(), to.to_string()))
            .or_insert(now);
        self.shared.changed.send_modify(|n| *n += 1);
    }

    /// Repairs every cut: what the relays held flows, in order.
    pub fn heal(&self) {
        self.shared.cut.lock().expect("not poisoned").clear();
        self.shared.changed.send_modify(|n| *n += 1);
    }

    /// `machine` loses power: call this *before* killing its processes, so
    /// that the relays drop what their sockets send as they die (the FIN or
    /// RST a killed process's kernel sends; a powerless machine sends
    /// nothing) instead of passing it on.
    pub fn power_off(&self, machine: &str) {
        self.shared
            .powered_off
            .lock()
            .expect("not poisoned")
            .entry(machine.to_string())
            .or_insert_with(Instant::now);
        self.shared.changed.send_modify(|n| *n += 1);
    }

    /// `machine` has power again: its links work (but for partitions still
    /// in force), and what its old connections are sent is answered with a
    /// reset, as a fresh kernel answers segments for sockets it never had.
    pub fn power_on(&self, machine: &str) {
        self.shared
            .powered_off
            .lock()
            .expect("not poisoned")
            .remove(machine);
        self.shared.changed.send_modify(|n| *n += 1);
    }

    /// Whether `from → to` is cut now.
    pub fn is_cut(&self, from: &str, to: &str) -> bool {
        self.shared.cut_since(from, to).is_some()
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
