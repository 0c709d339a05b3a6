//! The harness's relay reproduces the simulation's TCP under cuts
//! (`vendor/turmoil` patch 5, Linux's behaviour): a cut holds data and a FIN
//! and delivers them on repair; undeliverable data resets its *sender* after
//! the user timeout while the far side is told only when it next writes; a
//! connect across a cut waits for the repair or fails after the connect
//! timeout; a connect to nobody is refused; a one-way cut delivers but loses
//! the acknowledgements, so the sender times out all the same.
//!
//! Real sockets and real time: the timeouts are set short (300 ms), and
//! every "nothing happens" is checked over a window well inside them while
//! every "it happens" is awaited with a bound well beyond them.

use mesochaos_real::network::{Network, TcpTimeouts};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const USER: Duration = Duration::from_millis(300);
const CONNECT: Duration = Duration::from_millis(300);
/// Longer than any timeout: what must happen has happened by then.
const SURELY: Duration = Duration::from_secs(3);
/// Shorter than any timeout: what must not happen yet has not.
const QUIET: Duration = Duration::from_millis(150);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A network, a far listener on machine "b", and its relay from machine "a".
async fn setup() -> (Network, TcpListener, SocketAddr) {
    let mut network = Network::new(TcpTimeouts {
        user: USER,
        connect: CONNECT,
    });
    let far = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = network.route("a", "b", far.local_addr().unwrap()).unwrap();
    (network, far, relay)
}

/// A connection from "a" to "b" through the relay: (dialer's end, far end).
async fn connected(far: &TcpListener, relay: SocketAddr) -> (TcpStream, TcpStream) {
    let near = TcpStream::connect(relay).await.unwrap();
    let (there, _) = timeout(SURELY, far.accept()).await.unwrap().unwrap();
    (near, there)
}

fn cut_both(network: &Network) {
    network.cut("a", "b");
    network.cut("b", "a");
}

/// Reads exactly `n` bytes, or fails the test after [`SURELY`].
async fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    timeout(SURELY, stream.read_exact(&mut buf))
        .await
        .expect("the bytes arrive")
        .expect("the connection stays up");
    buf
}

/// What the next read gives within `window`: `None` if nothing at all.
async fn next_read(stream: &mut TcpStream, window: Duration) -> Option<std::io::Result<usize>> {
    let mut buf = [0u8; 64];
    timeout(window, stream.read(&mut buf)).await.ok()
}

fn is_reset(result: Option<std::io::Result<usize>>) -> bool {
    matches!(result, Some(Err(e)) if e.kind() == ErrorKind::ConnectionReset)
}

#[test]
fn a_cut_holds_data_and_delivers_it_in_order_on_repair() {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        let (mut near, mut there) = connected(&far, relay).await;
        near.write_all(b"before").await.unwrap();
        assert_eq!(read_n(&mut there, 6).await, b"before");

        cut_both(&network);
        near.write_all(b"held-1 ").await.unwrap();
        near.write_all(b"held-2").await.unwrap();
        assert!(
            next_read(&mut there, QUIET).await.is_none(),
            "nothing crosses a cut"
        );
        assert!(network.is_cut("a", "b"));

        network.heal();
        assert_eq!(read_n(&mut there, 13).await, b"held-1 held-2");
        // And the other way.
        there.write_all(b"back").await.unwrap();
        assert_eq!(read_n(&mut near, 4).await, b"back");
    });
}

#[test]
fn a_fin_is_held_like_data() {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        let (mut near, mut there) = connected(&far, relay).await;
        cut_both(&network);
        near.write_all(b"last").await.unwrap();
        near.shutdown().await.unwrap();
        assert!(next_read(&mut there, QUIET).await.is_none());
        network.heal();
        assert_eq!(read_n(&mut there, 4).await, b"last");
        assert!(
            matches!(next_read(&mut there, SURELY).await, Some(Ok(0))),
            "the FIN follows the data"
        );
    });
}

#[test]
fn undeliverable_data_resets_its_sender_after_the_user_timeout_and_the_far_side_learns_on_its_next_write(
) {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        let (mut near, mut there) = connected(&far, relay).await;
        cut_both(&network);
        let started = tokio::time::Instant::now();
        near.write_all(b"lost").await.unwrap();
        // The sender is reset, never before the user timeout…
        assert!(is_reset(next_read(&mut near, SURELY).await));
        assert!(
            started.elapsed() >= USER,
            "reset after {:?}",
            started.elapsed()
        );
        // …the far side is not told…
        assert!(next_read(&mut there, QUIET).await.is_none());
        // …and learns when its data meets a connection that no longer exists.
        network.heal();
        there.write_all(b"anyone?").await.unwrap();
        assert!(is_reset(next_read(&mut there, SURELY).await));
    });
}

#[test]
fn a_connect_across_a_cut_waits_for_the_repair() {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        cut_both(&network);
        let mut near = TcpStream::connect(relay).await.unwrap();
        near.write_all(b"hello").await.unwrap();
        assert!(
            timeout(QUIET, far.accept()).await.is_err(),
            "no connection crosses a cut"
        );
        network.heal();
        let (mut there, _) = timeout(SURELY, far.accept()).await.unwrap().unwrap();
        assert_eq!(read_n(&mut there, 5).await, b"hello");
        there.write_all(b"welcome").await.unwrap();
        assert_eq!(read_n(&mut near, 7).await, b"welcome");
    });
}

#[test]
fn a_connect_across_a_cut_fails_after_the_connect_timeout() {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        network.cut("b", "a"); // the answer could not come back
        let started = tokio::time::Instant::now();
        let mut near = TcpStream::connect(relay).await.unwrap();
        assert!(is_reset(next_read(&mut near, SURELY).await));
        assert!(started.elapsed() >= CONNECT);
        // Given up: the repair brings no late connection.
        network.heal();
        assert!(timeout(QUIET, far.accept()).await.is_err());
    });
}

#[test]
fn a_dialer_that_gives_up_across_a_cut_never_reaches_the_far_side() {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        cut_both(&network);
        let mut near = TcpStream::connect(relay).await.unwrap();
        near.write_all(b"hello").await.unwrap();
        drop(near);
        tokio::time::sleep(QUIET).await; // the relay sees the close
        network.heal();
        assert!(timeout(QUIET, far.accept()).await.is_err());
    });
}

#[test]
fn a_connect_to_a_port_nobody_listens_on_is_refused() {
    runtime().block_on(async {
        let mut network = Network::new(TcpTimeouts {
            user: USER,
            connect: CONNECT,
        });
        let nobody = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let relay = network.route("a", "b", nobody).unwrap();
        let started = tokio::time::Instant::now();
        let mut near = TcpStream::connect(relay).await.unwrap();
        assert!(is_reset(next_read(&mut near, SURELY).await));
        assert!(
            started.elapsed() < CONNECT,
            "refused at once, not timed out"
        );
    });
}

#[test]
fn a_one_way_cut_delivers_but_the_sender_times_out_for_want_of_acknowledgements() {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        let (mut near, mut there) = connected(&far, relay).await;
        network.cut("b", "a");
        near.write_all(b"arrives").await.unwrap();
        assert_eq!(read_n(&mut there, 7).await, b"arrives");
        assert!(is_reset(next_read(&mut near, SURELY).await));
    });
}

#[test]
fn a_repair_before_the_timeout_keeps_the_connection() {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        let (mut near, mut there) = connected(&far, relay).await;
        cut_both(&network);
        near.write_all(b"x").await.unwrap();
        tokio::time::sleep(USER / 3).await;
        network.heal();
        assert_eq!(read_n(&mut there, 1).await, b"x");
        tokio::time::sleep(USER).await;
        near.write_all(b"y").await.unwrap();
        assert_eq!(read_n(&mut there, 1).await, b"y");
        assert!(next_read(&mut near, QUIET).await.is_none(), "no reset");
    });
}

#[test]
fn a_crashed_process_s_close_reaches_the_far_side_as_eof() {
    runtime().block_on(async {
        let (_network, far, relay) = setup().await;
        let (near, mut there) = connected(&far, relay).await;
        drop(near);
        assert!(matches!(next_read(&mut there, SURELY).await, Some(Ok(0))));
    });
}

#[test]
fn a_machine_without_power_says_nothing_and_its_old_connections_are_reset_after_it_boots() {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        let (near, mut there) = connected(&far, relay).await;
        // Machine "a" loses power: its process dies with it; the kernel's
        // FIN never leaves the machine — not even once it boots again.
        network.power_off("a");
        drop(near);
        tokio::time::sleep(QUIET).await; // the relay sees the socket end
        network.power_on("a");
        assert!(
            next_read(&mut there, QUIET).await.is_none(),
            "a powerless machine sends no FIN"
        );
        // The far side learns when its data meets the rebooted machine's
        // fresh kernel, which answers with a reset.
        there.write_all(b"anyone?").await.unwrap();
        assert!(is_reset(next_read(&mut there, SURELY).await));
    });
}

#[test]
fn writes_to_a_machine_without_power_are_held_until_it_boots() {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        let (mut near, mut there) = connected(&far, relay).await;
        network.power_off("b");
        near.write_all(b"held").await.unwrap();
        assert!(next_read(&mut there, QUIET).await.is_none());
        network.power_on("b");
        assert_eq!(read_n(&mut there, 4).await, b"held");
    });
}

#[test]
fn a_connect_to_a_machine_without_power_waits_for_it_to_boot() {
    runtime().block_on(async {
        let (network, far, relay) = setup().await;
        network.power_off("b");
        let mut near = TcpStream::connect(relay).await.unwrap();
        near.write_all(b"hi").await.unwrap();
        assert!(timeout(QUIET, far.accept()).await.is_err());
        network.power_on("b");
        let (mut there, _) = timeout(SURELY, far.accept()).await.unwrap().unwrap();
        assert_eq!(read_n(&mut there, 2).await, b"hi");
    });
}
