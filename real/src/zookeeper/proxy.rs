//! # A TCP proxy that can cut one client off from ZooKeeper
//!
//! A ZooKeeper session ends only when the server stops hearing from its
//! client for a whole session timeout; a closed connection alone ends
//! nothing (the client reconnects and resumes). To make a *real* session
//! expire — the differential test's expiry step, and what a partitioned
//! master's session does — the client must go silent while the server stays
//! up. The client crate has no "stop pinging" switch, and killing its
//! process would end the test, so the client connects through this proxy
//! instead, and the test [cuts](CutProxy::cut) it:
//!
//! - every forwarded connection is closed at once (the server sees the
//!   client's connection drop, as after a crash or a reset);
//! - new connections are accepted but black-holed, never forwarded nor
//!   closed, so the client's reconnect attempts time out as they would
//!   across a partition, rather than fail fast and spin;
//! - [`heal`](CutProxy::heal) forwards again, so the client reconnects and
//!   hears from the server that its session expired (ZooKeeper tells an
//!   expired client only when it comes back).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A loopback proxy to one upstream address; dropping it stops it and
/// closes every connection it holds.
pub struct CutProxy {
    /// Where clients connect instead of the server.
    address: SocketAddr,
    /// Whether the link is cut now.
    cut: Arc<AtomicBool>,
    /// Bumped on every cut: each connection's task watches it and closes.
    generation: watch::Sender<u64>,
    /// The accept loop.
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    /// Listens on a free loopback port and forwards to `upstream`. Must be
    /// called inside a tokio runtime (it spawns its accept loop there).
    pub async fn start(upstream: SocketAddr) -> std::io::Result<CutProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let task = tokio::spawn(accept_loop(
            listener,
            upstream,
            cut.clone(),
            generation.clone(),
        ));
        Ok(CutProxy {
            address,
            cut,
            generation,
            task,
        })
    }

    /// The address clients dial.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Closes every forwarded connection and black-holes new ones until
    /// [`Self::heal`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Forwards new connections again (black-holed ones stay dead: the
    /// client gives up on them by its own timeout and dials afresh).
    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        // Closes every connection too: their tasks see the sender gone.
        self.generation.send_modify(|g| *g += 1);
        self.task.abort();
    }
}

/// Accepts until the proxy is dropped; one task per connection.
async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    cut: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
) {
    while let Ok((client, _)) = listener.accept().await {
        let mut closed = generation.subscribe();
        closed.borrow_and_update();
        if cut.load(Ordering::SeqCst) {
            // Black hole: hold the socket, say nothing, until the next cut
            // or the proxy's end (or the client gives up and closes it).
            tokio::spawn(async move {
                let _held = client;
                let _ = closed.changed().await;
            });
            continue;
        }
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let (mut client, mut server) = (client, server);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                // A cut: both sockets are dropped here, which closes them.
                _ = closed.changed() => {}
            }
        });
    }
}
