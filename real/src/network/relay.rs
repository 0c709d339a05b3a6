//! # One relay: a listener for one (dialing machine, far process), and the
//! connections it carries
//!
//! A relayed connection has two sides — the dialer's socket (`down`, on
//! machine `from`) and the relay's own connection to the far listener (`up`,
//! on machine `to`) — and two flows between them, one per direction. Each
//! flow is a queue of what its source sent and its destination has not
//! taken yet; the cut state decides whether it moves. The rules are
//! `vendor/turmoil`'s faithful TCP (patch 5), see the [module](super) doc.

use super::Shared;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

/// What one relay joins.
#[derive(Clone, Debug)]
pub(super) struct Ends {
    /// The dialing processes' machine.
    pub(super) from: String,
    /// The far listener's machine.
    pub(super) to: String,
    /// The far listener.
    pub(super) upstream: SocketAddr,
}

/// Bytes a flow holds before it stops reading its source (whose writes then
/// block, then fill its driver's queue, as a stalled TCP connection does).
const FLOW_CAP: usize = 1 << 20;

/// Accepts connections to relay; each is a task of this one, so aborting
/// this task (dropping the [`Network`](super::Network)) ends them all.
pub(super) async fn serve(listener: TcpListener, ends: Ends, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    conns.spawn(relay(stream, ends.clone(), shared.clone()));
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Resets a socket: `SO_LINGER` 0, then close, so the kernel sends an RST
/// rather than a FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Relays one connection from its dialer (`down`) to `ends.upstream`.
async fn relay(down: TcpStream, ends: Ends, shared: Arc<Shared>) {
    let _ = down.set_nodelay(true);
    let mut changed = shared.changed.subscribe();
    // The connect. Its SYN crosses only when both directions work (the
    // SYN-ACK must come back); held past the connect timeout, it fails. What
    // the dialer sends meanwhile (its hello) is kept for the far side; a
    // dialer that gives up (closes) before the far side answered is
    // forgotten, as a socket closed in SYN_SENT sends nothing more.
    let deadline = Instant::now() + shared.timeouts.connect;
    let mut early = Flow::default();
    loop {
        let open = shared.cut_since(&ends.from, &ends.to).is_none()
            && shared.cut_since(&ends.to, &ends.from).is_none();
        if open {
            break;
        }
        if Instant::now() >= deadline {
            return reset(down);
        }
        tokio::select! {
            _ = changed.changed() => {}
            _ = sleep_until(deadline) => {}
            ready = down.readable() => {
                if ready.is_err() {
                    return;
                }
                let mut buf = vec![0u8; 64 * 1024];
                match down.try_read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => early.push(buf[..n].to_vec()),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        }
    }
    let up = match TcpStream::connect(ends.upstream).await {
        Ok(up) => up,
        // Nobody listens there (the process is down): refused, which the
        // dialer hears as a reset before its welcome.
        Err(_) => return reset(down),
    };
    let _ = up.set_nodelay(true);
    let mut pair = Pair {
        sides: [
            Side {
                stream: Some(down),
                reading: true,
                machine: ends.from,
            },
            Side {
                stream: Some(up),
                reading: true,
                machine: ends.to,
            },
        ],
        flows: [early, Flow::default()],
        shared,
    };
    pair.run(changed).await;
}

/// One side of a relayed connection.
struct Side {
    /// The socket, until it is closed or reset.
    stream: Option<TcpStream>,
    /// Whether its process may still send (no FIN or reset from it yet).
    reading: bool,
    /// The machine it is on.
    machine: String,
}

/// One direction of a relayed connection: what its source sent that its
/// destination has not taken.
#[derive(Default)]
struct Flow {
    /// Chunks, in order, each with when it arrived.
    queue: VecDeque<(Instant, Vec<u8>)>,
    /// How much of the front chunk was written already.
    offset: usize,
    /// Bytes in `queue`.
    bytes: usize,
    /// When the source sent its FIN (delivered after the queue), if it did.
    fin: Option<Instant>,
    /// Whether that FIN was delivered (the destination's write side shut).
    fin_sent: bool,
    /// The oldest byte delivered while the return direction was cut: its
    /// acknowledgement cannot come back, so the sender's user timeout runs.
    unacked_since: Option<Instant>,
}

impl Flow {
    fn push(&mut self, bytes: Vec<u8>) {
        self.bytes += bytes.len();
        self.queue.push_back((Instant::now(), bytes));
    }

    /// Whether something (data or a FIN) waits for the destination.
    fn pending(&self) -> bool {
        !self.queue.is_empty() || (self.fin.is_some() && !self.fin_sent)
    }

    /// When the oldest thing waiting was sent.
    fn oldest(&self) -> Option<Instant> {
        match self.queue.front() {
            Some((t, _)) => Some(*t),
            None if !self.fin_sent => self.fin,
            None => None,
        }
    }

    /// Forgets what it holds (its sender was reset: its kernel discarded it).
    fn discard(&mut self) {
        self.queue.clear();
        self.offset = 0;
        self.bytes = 0;
        self.fin = None;
        self.unacked_since = None;
    }
}

/// What woke the relay.
enum Wake {
    /// Side `i` has something to read (data, a FIN, an error).
    Readable(usize),
    /// Side `i` can take more bytes.
    Writable(usize),
    /// The cut state changed, or a timeout is due.
    Look,
}

/// A connected relay.
struct Pair {
    sides: [Side; 2],
    /// `flows[i]` runs from `sides[i]` to `sides[1 - i]`.
    flows: [Flow; 2],
    shared: Arc<Shared>,
}

/// Waits until `stream` is readable; never, if there is none.
async fn readable(stream: Option<&TcpStream>) {
    match stream {
        Some(s) => {
            let _ = s.readable().await;
        }
        None => std::future::pending().await,
    }
}

/// Waits until `stream` is writable; never, if there is none.
async fn writable(stream: Option<&TcpStream>) {
    match stream {
        Some(s) => {
            let _ = s.writable().await;
        }
        None => std::future::pending().await,
    }
}

impl Pair {
    async fn run(&mut self, mut changed: tokio::sync::watch::Receiver<u64>) {
        let user_timeout = self.shared.timeouts.user;
        loop {
            let now = Instant::now();
            let cut = [
                self.shared
                    .cut_since(&self.sides[0].machine, &self.sides[1].machine),
                self.shared
                    .cut_since(&self.sides[1].machine, &self.sides[0].machine),
            ];
            let mut next_deadline: Option<Instant> = None;
            for i in 0..2 {
                let flow = &mut self.flows[i];
                // The return direction works: every acknowledgement arrives.
                if cut[1 - i].is_none() {
                    flow.unacked_since = None;
                }
                // Held data counts from when it was held: when it was sent,
                // or when the cut caught it in flight.
                let held = cut[i].and_then(|since| flow.oldest().map(|t| t.max(since)));
                let Some(since) = [held, flow.unacked_since].into_iter().flatten().min() else {
                    continue;
                };
                let deadline = since + user_timeout;
                if deadline <= now {
                    // TCP gives up: the sender's connection is reset and
                    // what it held discarded; the far side is not told.
                    flow.discard();
                    if let Some(stream) = self.sides[i].stream.take() {
                        reset(stream);
                    }
                    self.sides[i].reading = false;
                } else {
                    next_deadline = Some(next_deadline.map_or(deadline, |d| d.min(deadline)));
                }
            }
            for i in 0..2 {
                let (src, dst) = (i, 1 - i);
                let deliverable = cut[i].is_none();
                if !deliverable || !self.flows[i].pending() {
                    continue;
                }
                if self.sides[dst].stream.is_none() {
                    // Data for a connection that no longer exists is
                    // answered with a reset — which a cut on the way back
                    // loses (the sender then retransmits until its timeout).
                    if cut[dst].is_none() {
                        self.flows[i].discard();
                        if let Some(stream) = self.sides[src].stream.take() {
                            reset(stream);
                        }
                        self.sides[src].reading = false;
                    }
                    continue;
                }
                if self.flows[i].queue.is_empty() && self.flows[i].fin.is_some() {
                    // The FIN, after all the data: shut the destination's
                    // write side, so its process reads EOF.
                    if let Some(stream) = &self.sides[dst].stream {
                        let _ = nix::sys::socket::shutdown(
                            stream.as_raw_fd(),
                            nix::sys::socket::Shutdown::Write,
                        );
                    }
                    self.flows[i].fin_sent = true;
                }
            }
            let closed = |i: usize| {
                let s = &self.sides[i];
                s.stream.is_none() || (!s.reading && self.flows[i].fin_sent)
            };
            if (self.sides[0].stream.is_none() && self.sides[1].stream.is_none())
                || (closed(0) && closed(1))
            {
                return; // both ends closed: dropping the sockets ends it
            }
            let wake = {
                let s0 = self.sides[0].stream.as_ref();
                let s1 = self.sides[1].stream.as_ref();
                let can_read = |i: usize| self.sides[i].reading && self.flows[i].bytes < FLOW_CAP;
                let can_write = |i: usize| cut[i].is_none() && !self.flows[i].queue.is_empty();
                tokio::select! {
                    _ = readable(s0), if can_read(0) => Wake::Readable(0),
                    _ = readable(s1), if can_read(1) => Wake::Readable(1),
                    _ = writable(s1), if can_write(0) => Wake::Writable(1),
                    _ = writable(s0), if can_write(1) => Wake::Writable(0),
                    _ = changed.changed() => Wake::Look,
                    _ = sleep_until(next_deadline.unwrap_or(now)), if next_deadline.is_some() => Wake::Look,
                }
            };
            match wake {
                Wake::Readable(i) => self.read(i),
                Wake::Writable(dst) => self.write(1 - dst, cut[dst].is_some()),
                Wake::Look => {}
            }
        }
    }

    /// Reads what side `i` sent into its flow.
    fn read(&mut self, i: usize) {
        let Some(stream) = &self.sides[i].stream else {
            return;
        };
        let mut buf = vec![0u8; 64 * 1024];
        let result = stream.try_read(&mut buf);
        if self.shared.is_powered_off(&self.sides[i].machine)
            && !matches!(&result, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        {
            // Its machine lost power: whatever its socket says now (its
            // process being killed) never left the machine. The socket is
            // simply gone, and what it had sent but not delivered with it.
            self.sides[i].stream = None;
            self.sides[i].reading = false;
            self.flows[i].discard();
            return;
        }
        match result {
            Ok(0) => {
                self.sides[i].reading = false;
                self.flows[i].fin = Some(Instant::now());
            }
            Ok(n) => {
                buf.truncate(n);
                self.flows[i].push(buf);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                // The source reset its connection (its process died with
                // unread data, or it aborted): its unsent data is gone, and
                // the reset travels on — unless a cut loses it.
                self.sides[i].stream = None;
                self.sides[i].reading = false;
                self.flows[i].discard();
                let cut = self
                    .shared
                    .cut_since(&self.sides[i].machine, &self.sides[1 - i].machine);
                if cut.is_none() {
                    if let Some(stream) = self.sides[1 - i].stream.take() {
                        reset(stream);
                    }
                    self.sides[1 - i].reading = false;
                }
            }
        }
    }

    /// Writes flow `i`'s oldest bytes to its destination; `acks_lost` when
    /// the return direction is cut.
    fn write(&mut self, i: usize, acks_lost: bool) {
        let dst = 1 - i;
        let Some(stream) = &self.sides[dst].stream else {
            return;
        };
        let flow = &mut self.flows[i];
        let Some((_, front)) = flow.queue.front() else {
            return;
        };
        match stream.try_write(&front[flow.offset..]) {
            Ok(n) => {
                flow.offset += n;
                flow.bytes -= n;
                if flow.offset == front.len() {
                    flow.queue.pop_front();
                    flow.offset = 0;
                }
                if acks_lost && flow.unacked_since.is_none() {
                    flow.unacked_since = Some(Instant::now());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                // The destination's socket is gone (its process died):
                // what is left is answered with a reset (see `run`).
                self.sides[dst].stream = None;
                self.sides[dst].reading = false;
            }
        }
    }
}
