use crate::envelope::{Envelope, Protocol};
use crate::host::Host;
use crate::rt::Rt;
use crate::{config, TRACING_TARGET};

use indexmap::{IndexMap, IndexSet};
use rand::{Rng, RngCore};
use rand_distr::{Distribution, Exp};
use std::collections::{BTreeSet, VecDeque};
use std::io::{Error, ErrorKind, Result};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::time::Instant;

/// Describes the network topology.
pub(crate) struct Topology {
    config: config::Link,

    /// Specific configuration overrides between specific hosts.
    ///
    /// mesochaos patch: links are created on first use rather than for every
    /// pair of hosts at registration; `Link::order` keeps the position a link
    /// has in upstream's map, which is what ordering depends on.
    links: IndexMap<Pair, Link>,

    /// mesochaos patch: registered hosts, in registration order. A link
    /// exists (upstream) or may be created (here) exactly between two of them.
    hosts: IndexSet<IpAddr>,

    /// mesochaos patch (see PATCHES.md): for each destination address,
    /// `(order, position in links)` of the links whose `deliverable` queue for
    /// that destination is non-empty. `deliver_messages` visits exactly these
    /// links, in ascending upstream order, which is the order in which
    /// upstream's full scan of `links` finds them; a link with nothing
    /// deliverable for the destination is a no-op in upstream's scan.
    /// Positions are stable because links are never removed (`iter_mut`
    /// re-sorts `links` and rebuilds this index).
    deliverable_index: IndexMap<IpAddr, BTreeSet<(u64, usize)>>,

    /// mesochaos patch: positions of the links that may hold messages in
    /// `sent` (a superset: a link leaves on the first tick that finds `sent`
    /// empty). Only these links are ticked; for any other link upstream's tick
    /// only sets `now`, which is done lazily instead (see `tick_count`).
    active: Vec<usize>,

    /// mesochaos patch: the number of `tick_by` calls so far, and the time
    /// the last one moved to. A link whose `synced_tick` is behind
    /// `tick_count` has missed ticks that would only have set its `now` to
    /// `tick_now`; `sync` does that before the link is used.
    tick_count: u64,
    tick_now: Instant,

    /// mesochaos patch: scratch buffer reused by `deliver_messages`.
    scratch: Vec<usize>,

    /// We don't use a Rt for async. Right now, we just use it to tick time
    /// forward in the same way we do it elsewhere. We'd like to represent
    /// network state with async in the future.
    rt: Rt<'static>,
}

/// This type is used as the key in the [`Topology::links`] map. See [`new`]
/// which orders the addrs, such that this type uniquely identifies the link
/// between two hosts on the network.
#[derive(Debug, Clone, Hash, Eq, PartialEq)]
struct Pair(IpAddr, IpAddr);

impl Pair {
    fn new(a: IpAddr, b: IpAddr) -> Pair {
        assert_ne!(a, b);

        if a < b {
            Pair(a, b)
        } else {
            Pair(b, a)
        }
    }
}

/// An iterator for the network topology, providing access to all active links
/// in the simulated network.
pub struct LinksIter<'a> {
    iter: indexmap::map::IterMut<'a, Pair, Link>,
}

/// An iterator for the link, providing access to sent messages that have not
/// yet been delivered.
pub struct LinkIter<'a> {
    a: IpAddr,
    b: IpAddr,
    now: Instant,
    iter: std::collections::vec_deque::IterMut<'a, Sent>,
}

impl LinkIter<'_> {
    /// The [`IpAddr`] pair for the link. Always ordered to uniquely identify
    /// the link.
    pub fn pair(&self) -> (IpAddr, IpAddr) {
        (self.a, self.b)
    }

    /// Schedule all messages on the link for delivery the next time the
    /// simulation steps, consuming the iterator.
    pub fn deliver_all(self) {
        for sent in self {
            sent.deliver();
        }
    }
}

/// Provides a reference to a message that is currently inflight on the network
/// from one host to another.
pub struct SentRef<'a> {
    src: SocketAddr,
    dst: SocketAddr,
    now: Instant,
    sent: &'a mut Sent,
}

impl SentRef<'_> {
    /// The (src, dst) [`SocketAddr`] pair for the message.
    pub fn pair(&self) -> (SocketAddr, SocketAddr) {
        (self.src, self.dst)
    }

    /// The message [`Protocol`].
    pub fn protocol(&self) -> &Protocol {
        &self.sent.protocol
    }

    /// Schedule the message for delivery the next time the simulation steps,
    /// consuming the item.
    pub fn deliver(self) {
        self.sent.deliver(self.now);
    }
}

impl<'a> Iterator for LinksIter<'a> {
    type Item = LinkIter<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let (pair, link) = self.iter.next()?;

        Some(LinkIter {
            a: pair.0,
            b: pair.1,
            now: link.now,
            iter: link.sent.iter_mut(),
        })
    }
}

impl<'a> Iterator for LinkIter<'a> {
    type Item = SentRef<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let sent = self.iter.next()?;

        Some(SentRef {
            src: sent.src,
            dst: sent.dst,
            now: self.now,
            sent,
        })
    }
}

/// A two-way link between two hosts on the network.
struct Link {
    /// The state of the link from node 'a' to node 'b'.
    /// Of the two nodes attached to a link, 'a' is the
    /// one whose ip address sorts smallest.
    state_a_b: State,
    /// The state of the link from node 'b' to node 'a'.
    /// Of the two nodes attached to a link, 'b' is the
    /// one whose ip address sorts greatest.
    state_b_a: State,

    /// Optional, per-link configuration.
    config: config::Link,

    /// Sent messages that are either scheduled for delivery in the future
    /// or are on hold.
    sent: VecDeque<Sent>,

    /// Messages that are ready to be delivered.
    deliverable: IndexMap<IpAddr, VecDeque<Envelope>>,

    /// The current network time, moved forward with [`Link::tick`].
    now: Instant,

    /// mesochaos patch: the `Topology::tick_count` that `now` reflects.
    synced_tick: u64,

    /// mesochaos patch: whether this link is in `Topology::active`.
    active: bool,

    /// mesochaos patch: the position upstream gives this link in
    /// `Topology::links` (see `Topology::create_link`).
    order: u64,
}

/// States that a link between two nodes can be in.
#[derive(Clone, Copy)]
enum State {
    /// The link is healthy.
    Healthy,

    /// The link was explicitly partitioned.
    ExplicitPartition,

    /// The link was randomly partitioned.
    RandPartition,

    /// Messages are being held indefinitely.
    Hold,
}

impl Topology {
    pub(crate) fn new(config: config::Link) -> Topology {
        let rt = Rt::no_software();
        let tick_now = rt.now();
        Topology {
            config,
            links: IndexMap::new(),
            hosts: IndexSet::new(),
            deliverable_index: IndexMap::new(),
            active: Vec::new(),
            tick_count: 0,
            tick_now,
            scratch: Vec::new(),
            rt,
        }
    }

    /// Register a host (mesochaos patch: replaces upstream's `register`,
    /// which created a link between the new host and every existing host).
    pub(crate) fn register_host(&mut self, addr: IpAddr) {
        assert!(self.hosts.insert(addr), "host registered twice");
    }

    /// Create the link for `pair` if both hosts are registered (mesochaos
    /// patch). Upstream created it when the later of the two registered,
    /// with `now` = `rt.now()`, and ticked it since; the runtime's clock is
    /// paused and only moves in `tick_by`, so `rt.now()` here is that same
    /// value. `order` is the position upstream gave it: host `j` (in
    /// registration order) added links to hosts `0..j` in that order, after
    /// the `j * (j - 1) / 2` links of the hosts before it.
    fn create_link(&mut self, pair: &Pair) -> Option<usize> {
        let a = self.hosts.get_index_of(&pair.0)?;
        let b = self.hosts.get_index_of(&pair.1)?;
        let (i, j) = (a.min(b) as u64, a.max(b) as u64);
        let mut link = Link::new(self.rt.now());
        link.synced_tick = self.tick_count;
        link.order = j * (j - 1) / 2 + i;
        let (index, old) = self.links.insert_full(pair.clone(), link);
        debug_assert!(old.is_none());
        Some(index)
    }

    /// Bring a link's `now` up to date with the ticks it was skipped for
    /// (mesochaos patch). Upstream sets `now` on every link on every tick.
    #[inline]
    fn sync(link: &mut Link, tick_count: u64, tick_now: Instant) {
        if link.synced_tick != tick_count {
            link.now = tick_now;
            link.synced_tick = tick_count;
        }
    }

    /// The position of the link between `a` and `b`, brought up to date
    /// (mesochaos patch).
    fn synced_link_index(&mut self, pair: &Pair) -> Option<usize> {
        match self.links.get_full_mut(pair) {
            Some((index, _, link)) => {
                Self::sync(link, self.tick_count, self.tick_now);
                Some(index)
            }
            None => self.create_link(pair),
        }
    }

    /// Record what an operation on the link at `index` may have changed: new
    /// messages in `sent` (the link becomes active) and the `deliverable`
    /// queues of both ends (mesochaos patch).
    fn reindex(&mut self, index: usize) {
        let (pair, link) = self.links.get_index_mut(index).expect("link index");
        if !link.active && !link.sent.is_empty() {
            link.active = true;
            self.active.push(index);
        }
        Self::reindex_deliverable(&mut self.deliverable_index, index, pair, link);
    }

    fn reindex_deliverable(
        deliverable_index: &mut IndexMap<IpAddr, BTreeSet<(u64, usize)>>,
        index: usize,
        pair: &Pair,
        link: &Link,
    ) {
        let key = (link.order, index);
        for addr in [pair.0, pair.1] {
            if link.deliverable.get(&addr).is_some_and(|q| !q.is_empty()) {
                deliverable_index.entry(addr).or_default().insert(key);
            } else if let Some(set) = deliverable_index.get_mut(&addr) {
                set.remove(&key);
            }
        }
    }

    pub(crate) fn set_max_message_latency(&mut self, value: Duration) {
        self.config.latency_mut().max_message_latency = value;
    }

    pub(crate) fn set_link_message_latency(&mut self, a: IpAddr, b: IpAddr, value: Duration) {
        let index = self.get_link_index(&Pair::new(a, b));
        let latency = self.links[index].latency(self.config.latency());
        latency.min_message_latency = value;
        latency.max_message_latency = value;
    }

    pub(crate) fn set_link_max_message_latency(&mut self, a: IpAddr, b: IpAddr, value: Duration) {
        let index = self.get_link_index(&Pair::new(a, b));
        self.links[index]
            .latency(self.config.latency())
            .max_message_latency = value;
    }

    pub(crate) fn set_message_latency_curve(&mut self, value: f64) {
        self.config.latency_mut().latency_distribution = Exp::new(value).unwrap();
    }

    pub(crate) fn set_fail_rate(&mut self, value: f64) {
        self.config.message_loss_mut().fail_rate = value;
    }

    pub(crate) fn set_link_fail_rate(&mut self, a: IpAddr, b: IpAddr, value: f64) {
        let index = self.get_link_index(&Pair::new(a, b));
        self.links[index]
            .message_loss(self.config.message_loss())
            .fail_rate = value;
    }

    // Send a `message` from `src` to `dst`. This method returns immediately,
    // and message delivery happens at a later time (or never, if the link is
    // broken).
    pub(crate) fn enqueue_message(
        &mut self,
        rand: &mut dyn RngCore,
        src: SocketAddr,
        dst: SocketAddr,
        message: Protocol,
    ) -> Result<()> {
        if let Some(index) = self.synced_link_index(&Pair::new(src.ip(), dst.ip())) {
            let (_, link) = self.links.get_index_mut(index).expect("link index");
            let result = link.enqueue_message(&self.config, rand, src, dst, message);
            self.reindex(index);
            result
        } else {
            Err(Error::new(
                ErrorKind::ConnectionRefused,
                "Connection refused",
            ))
        }
    }

    // Move messages from any network links to the `dst` host.
    //
    // mesochaos patch: upstream scans every link and calls
    // `Link::deliver_messages` on those that touch `dst`; that call does
    // nothing for a link with no deliverable message for `dst`. Here only the
    // links in `deliverable_index[dst]` are visited, in ascending position,
    // i.e. in the same order as upstream's scan. Delivering on one link can
    // only change that link (a bounce, `Err` from the host, is enqueued on
    // the same link, after its queue for `dst` was drained), so no link's
    // queue for `dst` changes before the scan reaches it: the snapshot taken
    // below is exactly the set of links upstream finds non-empty, and a link
    // refilled by its own bounce waits for the next call in both versions.
    /// Whether any link holds a deliverable message for `dst` (mesochaos
    /// patch 4: a host with one is never skipped as idle).
    pub(crate) fn has_deliverable(&self, dst: IpAddr) -> bool {
        self.deliverable_index
            .get(&dst)
            .is_some_and(|set| !set.is_empty())
    }

    pub(crate) fn deliver_messages(&mut self, rand: &mut dyn RngCore, dst: &mut Host) {
        #[cfg(debug_assertions)]
        self.check_index(dst.addr);
        let mut due = std::mem::take(&mut self.scratch);
        due.clear();
        match self.deliverable_index.get(&dst.addr) {
            Some(set) if !set.is_empty() => due.extend(set.iter().map(|&(_, index)| index)),
            _ => {
                self.scratch = due;
                return;
            }
        }
        for &index in &due {
            let (_, link) = self.links.get_index_mut(index).expect("link index");
            Self::sync(link, self.tick_count, self.tick_now);
            link.deliver_messages(&self.config, rand, dst);
            self.reindex(index);
        }
        self.scratch = due;
    }

    /// Debug builds only (mesochaos patch): the index must name exactly the
    /// links upstream's full scan would deliver from, and every link with
    /// messages in flight must be active and up to date with the last tick.
    #[cfg(debug_assertions)]
    fn check_index(&self, dst: IpAddr) {
        let mut scan: Vec<(u64, usize)> = self
            .links
            .iter()
            .enumerate()
            .filter(|(_, (pair, link))| {
                (pair.0 == dst || pair.1 == dst)
                    && link.deliverable.get(&dst).is_some_and(|q| !q.is_empty())
            })
            .map(|(index, (_, link))| (link.order, index))
            .collect();
        scan.sort_unstable();
        let indexed: Vec<(u64, usize)> = self
            .deliverable_index
            .get(&dst)
            .map(|set| set.iter().copied().collect())
            .unwrap_or_default();
        assert_eq!(scan, indexed, "deliverable index out of date for {dst}");
        for (index, (pair, link)) in self.links.iter().enumerate() {
            let (i, j) = (
                self.hosts.get_index_of(&pair.0).expect("host"),
                self.hosts.get_index_of(&pair.1).expect("host"),
            );
            let (i, j) = (i.min(j) as u64, i.max(j) as u64);
            assert_eq!(link.order, j * (j - 1) / 2 + i, "link {index} order");
            if !link.sent.is_empty() {
                assert!(link.active, "link with messages in flight is not active");
                assert_eq!(
                    link.synced_tick, self.tick_count,
                    "active link missed a tick"
                );
            }
        }
    }

    pub(crate) fn hold(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        self.links[index].hold();
        self.reindex(index);
    }

    pub(crate) fn release(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        self.links[index].release();
        self.reindex(index);
    }

    pub(crate) fn partition(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        self.links[index].explicit_partition();
        self.reindex(index);
    }

    pub(crate) fn partition_oneway(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        self.links[index].partition_oneway(a, b);
        self.reindex(index);
    }

    pub(crate) fn repair(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        self.links[index].explicit_repair();
        self.reindex(index);
    }

    pub(crate) fn repair_oneway(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        self.links[index].repair_oneway(a, b);
        self.reindex(index);
    }

    // mesochaos patch: upstream ticks every link. Ticking a link whose `sent`
    // queue is empty only sets its `now`, so only active links are ticked
    // here and the others catch up lazily in `sync`.
    pub(crate) fn tick_by(&mut self, duration: Duration) {
        let _ = self.rt.tick(duration, 0);
        let now = self.rt.now();
        self.tick_count += 1;
        self.tick_now = now;
        let mut active = std::mem::take(&mut self.active);
        active.retain(|&index| {
            let (pair, link) = self.links.get_index_mut(index).expect("link index");
            link.synced_tick = self.tick_count;
            link.tick(now);
            Self::reindex_deliverable(&mut self.deliverable_index, index, pair, link);
            link.active = !link.sent.is_empty();
            link.active
        });
        debug_assert!(self.active.is_empty());
        self.active = active;
    }

    pub(crate) fn iter_mut(&mut self) -> LinksIter<'_> {
        // mesochaos patch: upstream iterates a link for every pair of hosts,
        // in upstream order. Create the links not yet used, put `links` in
        // upstream order and rebuild the indexes over the new positions.
        // Also bring every link's `now` up to date, since `SentRef::deliver`
        // schedules at the link's `now`.
        for j in 1..self.hosts.len() {
            for i in 0..j {
                let pair = Pair::new(self.hosts[i], self.hosts[j]);
                let _ = self.synced_link_index(&pair);
            }
        }
        self.links.sort_by(|_, a, _, b| a.order.cmp(&b.order));
        self.active.clear();
        self.deliverable_index.clear();
        for (index, (pair, link)) in self.links.iter_mut().enumerate() {
            Self::sync(link, self.tick_count, self.tick_now);
            if link.active {
                self.active.push(index);
            }
            Self::reindex_deliverable(&mut self.deliverable_index, index, pair, link);
        }
        LinksIter {
            iter: self.links.iter_mut(),
        }
    }

    /// The position of the link for `pair`, brought up to date (mesochaos
    /// patch: replaces upstream's `get_link_mut`, same panic message).
    #[inline]
    fn get_link_index(&mut self, pair: &Pair) -> usize {
        self.synced_link_index(pair)
            .unwrap_or_else(|| panic!("unable to find link between {pair:?}"))
    }
}

/// Represents a message sent between two hosts on the network.
struct Sent {
    src: SocketAddr,
    dst: SocketAddr,
    status: DeliveryStatus,
    protocol: Protocol,
}

impl Sent {
    fn deliver(&mut self, now: Instant) {
        self.status = DeliveryStatus::DeliverAfter(now);
    }
}

enum DeliveryStatus {
    DeliverAfter(Instant),
    Hold,
}

impl Link {
    fn new(now: Instant) -> Link {
        Link {
            state_a_b: State::Healthy,
            state_b_a: State::Healthy,
            config: config::Link::default(),
            sent: VecDeque::new(),
            deliverable: IndexMap::new(),
            now,
            synced_tick: 0,
            active: false,
            order: 0,
        }
    }

    fn enqueue_message(
        &mut self,
        global_config: &config::Link,
        rand: &mut dyn RngCore,
        src: SocketAddr,
        dst: SocketAddr,
        message: Protocol,
    ) -> Result<()> {
        tracing::trace!(target: TRACING_TARGET, ?src, ?dst, protocol = %message, "Send");

        self.rand_partition_or_repair(global_config, rand);
        let result = self.enqueue(global_config, rand, src, dst, message);
        self.process_deliverables();
        result
    }

    fn get_state_for_message(&self, src: IpAddr, dst: IpAddr) -> State {
        // Between each pair of ip-addresses there can exist a link.
        // A link between two such pairs can be constructed as
        // Pair::new(x,y) or Pair::new(y,x). These two expressions create
        // the exact same link. We denote one of the ends of the link as 'a',
        // and the other 'b'. 'a' is always the one that compares smaller, i.e,
        // `a < b` holds.
        if src < dst {
            self.state_a_b
        } else {
            self.state_b_a
        }
    }

    // src -> link -> dst
    //        ^-- you are here!
    //
    // Messages may be dropped, sit on the link for a while (due to latency, or
    // because the link has stalled), or be delivered immediately.
    // Link will return an Err(()) if the socket buffer is full.
    fn enqueue(
        &mut self,
        global_config: &config::Link,
        rand: &mut dyn RngCore,
        src: SocketAddr,
        dst: SocketAddr,
        message: Protocol,
    ) -> Result<()> {
        let state = self.get_state_for_message(src.ip(), dst.ip());
        let status = match state {
            State::Healthy => {
                let delay = self.delay(global_config.latency(), rand);
                DeliveryStatus::DeliverAfter(self.now + delay)
            }
            // Only A->B is blocked, so B can send, so we can send if src is B
            State::Hold => {
                tracing::trace!(target: TRACING_TARGET,?src, ?dst, protocol = %message, "Hold");
                DeliveryStatus::Hold
            }
            _ => {
                tracing::trace!(target: TRACING_TARGET,?src, ?dst, protocol = %message, "Drop");
                return Ok(());
            }
        };

        let sent = Sent {
            src,
            dst,
            status,
            protocol: message,
        };

        self.sent.push_back(sent);
        Ok(())
    }

    fn tick(&mut self, now: Instant) {
        self.now = now;
        self.process_deliverables();
    }

    fn process_deliverables(&mut self) {
        // TODO: `drain_filter` is not yet stable, and so we have a low quality
        // implementation here that avoids clones.
        let mut deliverable = 0;
        for i in 0..self.sent.len() {
            let index = i - deliverable;
            let sent = &self.sent[index];
            if let DeliveryStatus::DeliverAfter(time) = sent.status {
                if time <= self.now {
                    let sent = self.sent.remove(index).unwrap();
                    let envelope = Envelope {
                        src: sent.src,
                        dst: sent.dst,
                        message: sent.protocol,
                    };
                    self.deliverable
                        .entry(sent.dst.ip())
                        .or_default()
                        .push_back(envelope);
                    deliverable += 1;
                }
            }
        }
    }

    // FIXME: This implementation does not respect message delivery order. If
    // host A and host B are ordered (by addr), and B sends before A, then this
    // method will deliver A's message before B's.
    fn deliver_messages(
        &mut self,
        global_config: &config::Link,
        rand: &mut dyn RngCore,
        host: &mut Host,
    ) {
        let deliverable = self
            .deliverable
            .entry(host.addr)
            .or_default()
            .drain(..)
            .collect::<Vec<Envelope>>();

        for message in deliverable {
            let (src, dst) = (message.src, message.dst);
            if let Err(message) = host.receive_from_network(message) {
                let _ = self.enqueue_message(global_config, rand, dst, src, message);
            }
        }
    }

    // Randomly break or repair this link.
    fn rand_partition_or_repair(&mut self, global_config: &config::Link, rand: &mut dyn RngCore) {
        let do_rand = self.rand_partition(global_config.message_loss(), rand);
        match (self.state_a_b, self.state_b_a) {
            (State::Healthy, _) | (_, State::Healthy) if do_rand => {
                self.state_a_b = State::RandPartition;
                self.state_b_a = State::RandPartition;

                self.sent.clear();
            }
            (State::RandPartition, _) | (_, State::RandPartition)
                if self.rand_repair(global_config.message_loss(), rand) =>
            {
                self.release();
            }
            _ => {}
        }
    }

    fn hold(&mut self) {
        self.state_a_b = State::Hold;
        self.state_b_a = State::Hold;

        for sent in &mut self.sent {
            sent.status = DeliveryStatus::Hold;
        }
    }

    // This link becomes healthy, and any held messages are scheduled for delivery.
    fn release(&mut self) {
        self.state_a_b = State::Healthy;
        self.state_b_a = State::Healthy;
        for sent in &mut self.sent {
            if let DeliveryStatus::Hold = sent.status {
                sent.deliver(self.now);
            }
        }
    }

    fn explicit_partition(&mut self) {
        self.state_a_b = State::ExplicitPartition;
        self.state_b_a = State::ExplicitPartition;

        self.sent.clear();
    }

    fn partition_oneway(&mut self, from: IpAddr, to: IpAddr) {
        if from < to {
            self.state_a_b = State::ExplicitPartition;
        } else {
            self.state_b_a = State::ExplicitPartition;
        }

        self.sent.retain(|sent| sent.src.ip() != from);
    }

    fn repair_oneway(&mut self, from: IpAddr, to: IpAddr) {
        if from < to {
            self.state_a_b = State::Healthy;
        } else {
            self.state_b_a = State::Healthy;
        }
    }

    // Repair the link, without releasing any held messages.
    fn explicit_repair(&mut self) {
        self.state_a_b = State::Healthy;
        self.state_b_a = State::Healthy;
    }

    /// Should the link be randomly partitioned
    fn rand_partition(&self, global: &config::MessageLoss, rand: &mut dyn RngCore) -> bool {
        let config = self.config.message_loss.as_ref().unwrap_or(global);
        let fail_rate = config.fail_rate;
        fail_rate > 0.0 && rand.random_bool(fail_rate)
    }

    fn rand_repair(&self, global: &config::MessageLoss, rand: &mut dyn RngCore) -> bool {
        let config = self.config.message_loss.as_ref().unwrap_or(global);
        let repair_rate = config.repair_rate;
        repair_rate > 0.0 && rand.random_bool(repair_rate)
    }

    fn delay(&self, global: &config::Latency, rand: &mut dyn RngCore) -> Duration {
        let config = self.config.latency.as_ref().unwrap_or(global);

        let mult = config.latency_distribution.sample(rand);
        let range = (config.max_message_latency - config.min_message_latency).as_millis() as f64;
        let delay = config.min_message_latency + Duration::from_millis((range * mult) as _);

        std::cmp::min(delay, config.max_message_latency)
    }

    fn latency(&mut self, global: &config::Latency) -> &mut config::Latency {
        self.config.latency.get_or_insert_with(|| global.clone())
    }

    fn message_loss(&mut self, global: &config::MessageLoss) -> &mut config::MessageLoss {
        self.config
            .message_loss
            .get_or_insert_with(|| global.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Link;

    use super::*;

    #[test]
    #[should_panic(expected = "unable to find link between Pair(10.0.0.1, 192.168.0.1)")]
    fn link_access_gives_useful_panic_message() {
        let mut topo = Topology::new(Link::default());
        topo.hold("10.0.0.1".parse().unwrap(), "192.168.0.1".parse().unwrap());
    }
}
