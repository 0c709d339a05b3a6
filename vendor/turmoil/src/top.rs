use crate::envelope::{Envelope, Protocol, Segment, Syn};
use crate::host::Host;
use crate::net::SocketPair;
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

/// mesochaos patch 5: the `Ctx` for `Link`'s methods, borrowing only the
/// topology's `timeouts` and `powered_off` fields (so `links` can be
/// borrowed mutably beside it).
macro_rules! ctx {
    ($top:expr) => {
        Ctx {
            faithful: $top.timeouts.is_some(),
            user_timeout: $top.timeouts.map_or(Duration::ZERO, |(user, _)| user),
            connect_timeout: $top.timeouts.map_or(Duration::ZERO, |(_, connect)| connect),
            off: &$top.powered_off,
        }
    };
}

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

    /// mesochaos patch 5: the faithful TCP model's user and connect timeouts
    /// (`None`: the model is off).
    timeouts: Option<(Duration, Duration)>,

    /// mesochaos patch 5: hosts whose machine is powered off
    /// (`Sim::power_off`): nothing they send gets out, and TCP segments sent
    /// to them are held.
    powered_off: IndexSet<IpAddr>,

    /// mesochaos patch 5: `(order, position in links)` of the links that hold
    /// TCP segments in `Link::cut` or track unacknowledged segments in
    /// `Link::unacked` (the ones the timeouts are checked on).
    cut_links: BTreeSet<(u64, usize)>,

    /// mesochaos patch 5: per host, what the timeouts did to its sockets and
    /// connects that it has not been told about yet (it is, at its next turn
    /// in `Sim::step`, just before its deliveries), in the order it happened.
    pending: IndexMap<IpAddr, Vec<Expired>>,

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

    /// mesochaos patch 5: TCP segments held by a cut of their direction (or,
    /// for a SYN, of either direction) or because their destination is
    /// powered off, in the order they were held. Kept out of `sent`, so the
    /// link is not ticked for them and `Sim::links` does not list them.
    cut: VecDeque<Held>,

    /// mesochaos patch 5: per connection `(src, dst)` that sent data or a
    /// FIN across this link while the return direction (which carries the
    /// ACKs) was cut, when its oldest such segment reaches the user timeout.
    /// Those segments were delivered; the sender does not know it.
    unacked: IndexMap<(SocketAddr, SocketAddr), Instant>,

    /// mesochaos patch 5: the earliest deadline in `cut` and `unacked`.
    next_deadline: Option<Instant>,

    /// mesochaos patch 5: whether this link is in `Topology::cut_links`.
    in_cut_links: bool,
}

/// mesochaos patch 5: a TCP segment held by a cut or a powered-off
/// destination.
struct Held {
    src: SocketAddr,
    dst: SocketAddr,
    protocol: Protocol,
    /// When it times out: held time + user timeout for data and FIN, + the
    /// connect timeout for a SYN. `None` with the model off, and for a data
    /// segment or FIN that a hold had stopped before the cut (a paused
    /// host's kernel had received it already).
    deadline: Option<Instant>,
}

/// mesochaos patch 5: what the faithful TCP model needs to know in `Link`'s
/// methods.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    faithful: bool,
    user_timeout: Duration,
    connect_timeout: Duration,
    off: &'a IndexSet<IpAddr>,
}

impl Ctx<'_> {
    /// Neither the model nor a powered-off host: upstream behaviour.
    fn inert(&self) -> bool {
        !self.faithful && self.off.is_empty()
    }

    /// When a segment held at `now` times out (never with the model off).
    fn deadline(&self, protocol: &Protocol, now: Instant) -> Option<Instant> {
        if !self.faithful {
            return None;
        }
        match protocol {
            Protocol::Tcp(Segment::Data(..) | Segment::Fin(_)) => Some(now + self.user_timeout),
            Protocol::Tcp(Segment::Syn(_)) => Some(now + self.connect_timeout),
            _ => None,
        }
    }
}

/// mesochaos patch 5: what the timeouts did, for the sending host to learn
/// at its next turn (see `Topology::pending`).
pub(crate) enum Expired {
    /// The user timeout reset this socket of the host.
    Reset(SocketPair),
    /// This SYN of the host was held for the connect timeout: its connect
    /// fails with `TimedOut`.
    Connect(Syn),
}

/// mesochaos patch 5: the TCP segments a cut or a powered-off destination
/// holds (an RST is not retransmitted).
fn is_holdable(protocol: &Protocol) -> bool {
    matches!(
        protocol,
        Protocol::Tcp(Segment::Data(..) | Segment::Fin(_) | Segment::Syn(_))
    )
}

/// mesochaos patch 5: a direction the faithful model treats as cut.
fn is_cut(state: State) -> bool {
    matches!(state, State::ExplicitPartition | State::RandPartition)
}

/// mesochaos patch 5: a segment that counts toward its sender's user
/// timeout (data and FIN; a SYN has the connect timeout, an RST is not
/// retransmitted).
fn counts(protocol: &Protocol) -> bool {
    matches!(
        protocol,
        Protocol::Tcp(Segment::Data(..)) | Protocol::Tcp(Segment::Fin(_))
    )
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
            timeouts: None,
            powered_off: IndexSet::new(),
            cut_links: BTreeSet::new(),
            pending: IndexMap::new(),
            rt,
        }
    }

    /// mesochaos patch 5: turn on the faithful TCP model.
    pub(crate) fn enable_faithful_tcp(
        &mut self,
        user_timeout: Duration,
        connect_timeout: Duration,
    ) {
        self.timeouts = Some((user_timeout, connect_timeout));
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
        // mesochaos patch 5 (both sides empty with the model off and no
        // powered-off host, so this never changes then).
        let held = link.has_held();
        if held != link.in_cut_links {
            link.in_cut_links = held;
            if held {
                self.cut_links.insert((link.order, index));
            } else {
                self.cut_links.remove(&(link.order, index));
            }
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
        // mesochaos patch 5: nothing a powered-off host sends gets out (it is
        // dropped before any RNG draw).
        if !self.powered_off.is_empty() && self.powered_off.contains(&src.ip()) {
            tracing::trace!(target: TRACING_TARGET, ?src, ?dst, protocol = %message, "Drop (sender powered off)");
            return Ok(());
        }
        if let Some(index) = self.synced_link_index(&Pair::new(src.ip(), dst.ip())) {
            let (_, link) = self.links.get_index_mut(index).expect("link index");
            let result = link.enqueue_message(&self.config, rand, src, dst, message, ctx!(self));
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
            link.deliver_messages(&self.config, rand, dst, ctx!(self));
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
            // mesochaos patch 5.
            assert_eq!(
                link.has_held(),
                self.cut_links.contains(&(link.order, index)),
                "cut link index out of date"
            );
            assert_eq!(link.in_cut_links, link.has_held(), "cut link flag");
            // (Only on small links: this runs on every delivery.)
            if link.cut.len() + link.unacked.len() <= 64 {
                let earliest = link
                    .cut
                    .iter()
                    .filter_map(|held| held.deadline)
                    .chain(link.unacked.values().copied())
                    .min();
                assert_eq!(link.next_deadline, earliest, "next_deadline out of date");
            }
        }
        assert!(
            self.cut_links.len() <= self.links.len(),
            "cut link index has stale entries"
        );
    }

    pub(crate) fn hold(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        let ctx = ctx!(self);
        self.links[index].hold(ctx);
        self.reindex(index);
    }

    pub(crate) fn release(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        let ctx = ctx!(self);
        self.links[index].release(ctx);
        self.reindex(index);
    }

    pub(crate) fn partition(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        let ctx = ctx!(self);
        self.links[index].explicit_partition(ctx);
        self.reindex(index);
    }

    pub(crate) fn partition_oneway(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        let ctx = ctx!(self);
        self.links[index].partition_oneway(a, b, ctx);
        self.reindex(index);
    }

    pub(crate) fn repair(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        let ctx = ctx!(self);
        self.links[index].explicit_repair(ctx);
        self.reindex(index);
    }

    pub(crate) fn repair_oneway(&mut self, a: IpAddr, b: IpAddr) {
        let index = self.get_link_index(&Pair::new(a, b));
        let ctx = ctx!(self);
        self.links[index].repair_oneway(a, b, ctx);
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

        // mesochaos patch 5: the timeouts, checked once per tick. A segment
        // held at `held` (the topology's time when it was sent or held: the
        // end of the tick in which that happened) has its deadline at
        // `held + timeout`, and times out at the first tick that ends at
        // least a tick after its deadline: the host learns it in that tick,
        // which starts at or after the deadline, so never before the timeout
        // has passed since the segment was sent, and at most a tick after.
        if self.timeouts.is_some() && !self.cut_links.is_empty() {
            if let Some(limit) = now.checked_sub(duration) {
                self.expire(limit);
            }
        }
    }

    /// mesochaos patch 5: time out what is due at `limit` or earlier.
    fn expire(&mut self, limit: Instant) {
        let mut due = std::mem::take(&mut self.scratch);
        due.clear();
        due.extend(self.cut_links.iter().filter_map(|&(_, index)| {
            let link = &self.links[index];
            link.next_deadline
                .is_some_and(|deadline| deadline <= limit)
                .then_some(index)
        }));
        for &index in &due {
            let link = &mut self.links[index];
            for (src, expired) in link.expire(limit) {
                match &expired {
                    Expired::Reset(pair) => {
                        tracing::trace!(target: TRACING_TARGET, src = ?pair.local, dst = ?pair.remote, protocol = %"TCP", "User timeout")
                    }
                    Expired::Connect(_) => {
                        tracing::trace!(target: TRACING_TARGET, ?src, protocol = %"TCP SYN", "Connect timeout")
                    }
                }
                self.pending.entry(src.ip()).or_default().push(expired);
            }
            self.reindex(index);
        }
        self.scratch = due;
    }

    /// mesochaos patch 5: whether the timeouts did something to `addr` that
    /// it has not been told about (a host with that is never skipped as
    /// idle).
    pub(crate) fn has_pending(&self, addr: IpAddr) -> bool {
        !self.pending.is_empty() && self.pending.contains_key(&addr)
    }

    /// mesochaos patch 5: tell `host` what the timeouts did, in the order
    /// they did it: reset sockets are aborted, and timed-out SYNs are
    /// dropped with their connect marked timed out (which wakes it).
    pub(crate) fn apply_pending(&mut self, host: &mut Host) {
        if self.pending.is_empty() {
            return;
        }
        if let Some(expired) = self.pending.swap_remove(&host.addr) {
            for expired in expired {
                match expired {
                    Expired::Reset(pair) => host.tcp.abort_stream(pair),
                    Expired::Connect(syn) => syn.time_out(),
                }
            }
        }
    }

    /// mesochaos patch 5: whether `addr` is powered off.
    pub(crate) fn is_powered_off(&self, addr: IpAddr) -> bool {
        self.powered_off.contains(&addr)
    }

    /// mesochaos patch 5: power `addr` off (see `Sim::power_off`). From now
    /// on nothing it sends gets out; its segments held on any link are
    /// discarded; TCP segments on their way to it (in flight or arrived but
    /// not yet taken in) are held until it is powered on, counting toward
    /// their senders' user timeout; UDP on its way to it is lost.
    pub(crate) fn power_off(&mut self, addr: IpAddr) {
        if !self.powered_off.insert(addr) {
            return;
        }
        for index in 0..self.links.len() {
            let (pair, link) = self.links.get_index_mut(index).expect("link index");
            if pair.0 != addr && pair.1 != addr {
                continue;
            }
            Self::sync(link, self.tick_count, self.tick_now);
            link.power_off(addr, ctx!(self));
            self.reindex(index);
        }
        self.pending.swap_remove(&addr);
    }

    /// mesochaos patch 5: power `addr` on: what was held for it is delivered
    /// (where no cut still holds it).
    pub(crate) fn power_on(&mut self, addr: IpAddr) {
        if !self.powered_off.swap_remove(&addr) {
            return;
        }
        for index in 0..self.links.len() {
            let (pair, link) = self.links.get_index_mut(index).expect("link index");
            if pair.0 != addr && pair.1 != addr {
                continue;
            }
            Self::sync(link, self.tick_count, self.tick_now);
            link.settle(ctx!(self));
            self.reindex(index);
        }
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
        self.cut_links.clear();
        for (index, (pair, link)) in self.links.iter_mut().enumerate() {
            Self::sync(link, self.tick_count, self.tick_now);
            if link.active {
                self.active.push(index);
            }
            if link.in_cut_links {
                self.cut_links.insert((link.order, index));
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
            cut: VecDeque::new(),
            unacked: IndexMap::new(),
            next_deadline: None,
            in_cut_links: false,
        }
    }

    fn enqueue_message(
        &mut self,
        global_config: &config::Link,
        rand: &mut dyn RngCore,
        src: SocketAddr,
        dst: SocketAddr,
        message: Protocol,
        ctx: Ctx,
    ) -> Result<()> {
        tracing::trace!(target: TRACING_TARGET, ?src, ?dst, protocol = %message, "Send");

        self.rand_partition_or_repair(global_config, rand, ctx);
        let result = self.enqueue(global_config, rand, src, dst, message, ctx);
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
        ctx: Ctx,
    ) -> Result<()> {
        let state = self.get_state_for_message(src.ip(), dst.ip());
        // mesochaos patch 5: TCP held by a cut or for a powered-off host.
        let message = match self.intercept(src, dst, message, state, ctx) {
            Some(message) => message,
            None => return Ok(()),
        };
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
        ctx: Ctx,
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
                let _ = self.enqueue_message(global_config, rand, dst, src, message, ctx);
            }
        }
    }

    // Randomly break or repair this link.
    fn rand_partition_or_repair(
        &mut self,
        global_config: &config::Link,
        rand: &mut dyn RngCore,
        ctx: Ctx,
    ) {
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
                self.release(ctx);
            }
            _ => {}
        }
    }

    fn hold(&mut self, ctx: Ctx) {
        self.state_a_b = State::Hold;
        self.state_b_a = State::Hold;

        for sent in &mut self.sent {
            sent.status = DeliveryStatus::Hold;
        }

        // mesochaos patch 5: a hold replaces a cut; what the cut held is now
        // held by the hold.
        self.settle(ctx);
    }

    // This link becomes healthy, and any held messages are scheduled for delivery.
    fn release(&mut self, ctx: Ctx) {
        self.state_a_b = State::Healthy;
        self.state_b_a = State::Healthy;
        for sent in &mut self.sent {
            if let DeliveryStatus::Hold = sent.status {
                sent.deliver(self.now);
            }
        }

        // mesochaos patch 5: what a cut held is delivered too.
        self.settle(ctx);
    }

    fn explicit_partition(&mut self, ctx: Ctx) {
        self.state_a_b = State::ExplicitPartition;
        self.state_b_a = State::ExplicitPartition;

        if ctx.faithful {
            // mesochaos patch 5: TCP in flight is held, not lost.
            self.cut_in_flight(|_| true, ctx);
        } else {
            self.sent.clear();
        }
    }

    fn partition_oneway(&mut self, from: IpAddr, to: IpAddr, ctx: Ctx) {
        if from < to {
            self.state_a_b = State::ExplicitPartition;
        } else {
            self.state_b_a = State::ExplicitPartition;
        }

        if ctx.faithful {
            // mesochaos patch 5: TCP in flight from `from` is held; data in
            // flight from `to` still arrives, but its ACKs will not.
            self.cut_in_flight(|sent| sent.src.ip() == from, ctx);
            let deadline = self.now + ctx.user_timeout;
            let unacked: Vec<(SocketAddr, SocketAddr)> = self
                .sent
                .iter()
                .filter(|sent| {
                    sent.src.ip() == to
                        && matches!(sent.status, DeliveryStatus::DeliverAfter(_))
                        && counts(&sent.protocol)
                })
                .map(|sent| (sent.src, sent.dst))
                .collect();
            for (src, dst) in unacked {
                self.note_unacked(src, dst, deadline);
            }
        } else {
            self.sent.retain(|sent| sent.src.ip() != from);
        }
    }

    fn repair_oneway(&mut self, from: IpAddr, to: IpAddr, ctx: Ctx) {
        if from < to {
            self.state_a_b = State::Healthy;
        } else {
            self.state_b_a = State::Healthy;
        }

        // mesochaos patch 5: deliver what the cut held.
        self.settle(ctx);
    }

    // Repair the link, without releasing any held messages.
    //
    // mesochaos patch 5: what a cut held (as opposed to a hold) is delivered.
    fn explicit_repair(&mut self, ctx: Ctx) {
        self.state_a_b = State::Healthy;
        self.state_b_a = State::Healthy;

        self.settle(ctx);
    }

    /// mesochaos patch 5: whether the faithful model holds or tracks
    /// anything on this link.
    fn has_held(&self) -> bool {
        !self.cut.is_empty() || !self.unacked.is_empty()
    }

    /// mesochaos patch 5: the faithful model's say on a message about to be
    /// enqueued in `state`: `None` if it took it (held, or dropped), else
    /// the message back for upstream's path. Upstream's path, untouched, with
    /// the model off and no host powered off.
    fn intercept(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        message: Protocol,
        state: State,
        ctx: Ctx,
    ) -> Option<Protocol> {
        if ctx.inert() {
            return Some(message);
        }
        let to_off = ctx.off.contains(&dst.ip());
        let segment = match &message {
            Protocol::Udp(_) if to_off => {
                tracing::trace!(target: TRACING_TARGET, ?src, ?dst, protocol = %message, "Drop (destination powered off)");
                return None;
            }
            Protocol::Udp(_) => return Some(message),
            Protocol::Tcp(segment) => segment,
        };
        let reverse = self.get_state_for_message(dst.ip(), src.ip());
        let hold = to_off
            || (ctx.faithful
                && match state {
                    State::ExplicitPartition => true,
                    // Random partitions keep upstream's behaviour: dropped.
                    State::RandPartition => false,
                    // A SYN is held while the SYN-ACK could not come back.
                    State::Healthy | State::Hold => {
                        matches!(segment, Segment::Syn(_)) && is_cut(reverse)
                    }
                });
        if hold {
            if matches!(segment, Segment::Rst) {
                // An RST is not retransmitted: one that meets a cut is lost.
                tracing::trace!(target: TRACING_TARGET, ?src, ?dst, protocol = %message, "Drop (cut)");
                return None;
            }
            tracing::trace!(target: TRACING_TARGET, ?src, ?dst, protocol = %message, "Hold (cut)");
            let deadline = ctx.deadline(&message, self.now);
            self.push_cut(Held {
                src,
                dst,
                protocol: message,
                deadline,
            });
            return None;
        }
        if ctx.faithful && matches!(state, State::Healthy) && is_cut(reverse) && counts(&message) {
            // Delivered, but the ACK cannot come back.
            self.note_unacked(src, dst, self.now + ctx.user_timeout);
        }
        Some(message)
    }

    /// mesochaos patch 5.
    fn push_cut(&mut self, held: Held) {
        if let Some(deadline) = held.deadline {
            self.lower_next_deadline(deadline);
        }
        self.cut.push_back(held);
    }

    /// mesochaos patch 5.
    fn lower_next_deadline(&mut self, deadline: Instant) {
        self.next_deadline = Some(
            self.next_deadline
                .map_or(deadline, |next| next.min(deadline)),
        );
    }

    /// mesochaos patch 5: connection `(src, dst)` has an unacknowledged
    /// segment, due to time out at `deadline`, unless it had one already.
    fn note_unacked(&mut self, src: SocketAddr, dst: SocketAddr, deadline: Instant) {
        let deadline = *self.unacked.entry((src, dst)).or_insert(deadline);
        self.lower_next_deadline(deadline);
    }

    /// mesochaos patch 5.
    fn recompute_next_deadline(&mut self) {
        self.next_deadline = self
            .cut
            .iter()
            .filter_map(|held| held.deadline)
            .chain(self.unacked.values().copied())
            .min();
    }

    /// mesochaos patch 5: move the messages in `sent` that `cut` selects out
    /// of flight: TCP into `cut` (an RST is lost), UDP is lost. A data
    /// segment or FIN a hold had stopped was received by its paused host's
    /// kernel, so it does not count toward the user timeout.
    fn cut_in_flight(&mut self, cut: impl Fn(&Sent) -> bool, ctx: Ctx) {
        let now = self.now;
        let sent = std::mem::take(&mut self.sent);
        for sent in sent {
            if !cut(&sent) {
                self.sent.push_back(sent);
                continue;
            }
            if !is_holdable(&sent.protocol) {
                tracing::trace!(target: TRACING_TARGET, src = ?sent.src, dst = ?sent.dst, protocol = %sent.protocol, "Drop");
                continue;
            }
            let deadline = match sent.status {
                DeliveryStatus::Hold if counts(&sent.protocol) => None,
                _ => ctx.deadline(&sent.protocol, now),
            };
            tracing::trace!(target: TRACING_TARGET, src = ?sent.src, dst = ?sent.dst, protocol = %sent.protocol, "Hold (cut)");
            self.push_cut(Held {
                src: sent.src,
                dst: sent.dst,
                protocol: sent.protocol,
                deadline,
            });
        }
    }

    /// mesochaos patch 5: after a change of state (or a host powered on),
    /// move what is no longer blocked from `cut` into `sent`, in the order it
    /// was held: delivered at once on a healthy direction (no latency draw),
    /// held on a held one. Blocked: a cut direction, a powered-off
    /// destination, and for a SYN also a cut return direction. Unacknowledged
    /// segments whose return direction is no longer cut are acknowledged.
    fn settle(&mut self, ctx: Ctx) {
        if !self.has_held() {
            return;
        }
        let now = self.now;
        let held = std::mem::take(&mut self.cut);
        for held in held {
            let state = self.get_state_for_message(held.src.ip(), held.dst.ip());
            let reverse = self.get_state_for_message(held.dst.ip(), held.src.ip());
            let blocked = ctx.off.contains(&held.dst.ip())
                || is_cut(state)
                || (matches!(held.protocol, Protocol::Tcp(Segment::Syn(_))) && is_cut(reverse));
            if blocked {
                self.cut.push_back(held);
                continue;
            }
            let status = match state {
                State::Hold => DeliveryStatus::Hold,
                _ => DeliveryStatus::DeliverAfter(now),
            };
            tracing::trace!(target: TRACING_TARGET, src = ?held.src, dst = ?held.dst, protocol = %held.protocol, "Release (cut)");
            self.sent.push_back(Sent {
                src: held.src,
                dst: held.dst,
                status,
                protocol: held.protocol,
            });
        }
        let (state_a_b, state_b_a) = (self.state_a_b, self.state_b_a);
        self.unacked.retain(|(src, dst), _| {
            // The return direction is dst -> src.
            is_cut(if dst.ip() < src.ip() {
                state_a_b
            } else {
                state_b_a
            })
        });
        self.recompute_next_deadline();
    }

    /// mesochaos patch 5: what times out at `limit` or earlier. A held data
    /// segment or FIN, or an unacknowledged record: its connection's held
    /// data and FIN segments and its record are discarded, and the sender's
    /// socket is to be reset. A held SYN: it is removed, and its connect is
    /// to fail with `TimedOut`.
    fn expire(&mut self, limit: Instant) -> Vec<(SocketAddr, Expired)> {
        let due = |deadline: Option<Instant>| deadline.is_some_and(|d| d <= limit);
        let mut conns: IndexSet<(SocketAddr, SocketAddr)> = IndexSet::new();
        for held in &self.cut {
            if counts(&held.protocol) && due(held.deadline) {
                conns.insert((held.src, held.dst));
            }
        }
        for (&conn, &deadline) in &self.unacked {
            if deadline <= limit {
                conns.insert(conn);
            }
        }
        let mut expired: Vec<(SocketAddr, Expired)> = conns
            .iter()
            .map(|&(src, dst)| (src, Expired::Reset(SocketPair::new(src, dst))))
            .collect();
        let held = std::mem::take(&mut self.cut);
        for held in held {
            match held.protocol {
                Protocol::Tcp(Segment::Syn(syn)) if due(held.deadline) => {
                    expired.push((held.src, Expired::Connect(syn)));
                }
                ref protocol if counts(protocol) && conns.contains(&(held.src, held.dst)) => {}
                _ => self.cut.push_back(held),
            }
        }
        self.unacked.retain(|conn, _| !conns.contains(conn));
        self.recompute_next_deadline();
        expired
    }

    /// mesochaos patch 5: `addr`, one end of this link, lost power. Its own
    /// held segments are discarded. TCP on its way to it is held (a SYN, or
    /// a data segment or FIN in flight or arrived but not yet taken in; one
    /// a paused host's kernel had taken in, status `Hold`, is lost with the
    /// machine), counting toward the sender's timeouts from now; UDP on its
    /// way is lost.
    fn power_off(&mut self, addr: IpAddr, ctx: Ctx) {
        let now = self.now;
        self.cut.retain(|held| held.src.ip() != addr);
        self.unacked.retain(|(src, _), _| src.ip() != addr);
        let mut moved = VecDeque::new();
        if let Some(queue) = self.deliverable.get_mut(&addr) {
            for envelope in queue.drain(..) {
                let protocol = envelope.message;
                if is_holdable(&protocol) {
                    let deadline = ctx.deadline(&protocol, now);
                    moved.push_back(Held {
                        src: envelope.src,
                        dst: envelope.dst,
                        protocol,
                        deadline,
                    });
                }
            }
        }
        moved.extend(std::mem::take(&mut self.cut));
        let sent = std::mem::take(&mut self.sent);
        for sent in sent {
            if sent.dst.ip() != addr {
                self.sent.push_back(sent);
                continue;
            }
            let in_flight = matches!(sent.status, DeliveryStatus::DeliverAfter(_));
            let keep = match &sent.protocol {
                Protocol::Tcp(Segment::Syn(_)) => true,
                Protocol::Tcp(Segment::Data(..) | Segment::Fin(_)) => in_flight,
                _ => false,
            };
            if keep {
                let deadline = ctx.deadline(&sent.protocol, now);
                moved.push_back(Held {
                    src: sent.src,
                    dst: sent.dst,
                    protocol: sent.protocol,
                    deadline,
                });
            }
        }
        self.cut = moved;
        self.recompute_next_deadline();
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
