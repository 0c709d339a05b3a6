//! The driver's connections: dialing (the first frame names the dialer),
//! accepting, one reader and one writer task per connection, and closing —
//! the simulation driver's rules (`harness/src/driver/connections.rs`) on
//! real sockets.
//!
//! One addition to the simulation's handshake: the accepting process answers
//! the dialer's `Hello` with one byte, [`WELCOME`], and a dial completes only
//! when that byte arrives. Between two machines a connection runs through the
//! harness's proxy (`crate::network`), whose own socket accepts at once; the
//! welcome makes "connected" mean what it means in the simulation and in
//! TCP — the far process's kernel answered — so a dial to a port nobody
//! listens on fails (the proxy resets it) instead of "connecting" and then
//! dropping, and a dial across a cut waits as a SYN would.

use super::{Conn, Driver, NetEvent, WRITE_QUEUE};
use mesochaos_harness::frame::{self, Frame};
use mesochaos_harness::trace::TraceKind;
use mesochaos_reference::io::Input;
use mesochaos_reference::{Message, ProcessId};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

impl<T: Clone + Ord + std::fmt::Debug + serde::Serialize> Driver<T> {
    pub(super) fn send(&mut self, to: ProcessId, message: Message) {
        let Some(conn) = self.conns.get_mut(&to) else {
            self.record(TraceKind::Drop {
                peer: to,
                kind: message.kind().into(),
                why: "not connected".into(),
            });
            return;
        };
        let seq = conn.next_seq;
        conn.next_seq += 1;
        let bytes = frame::encode(&Frame::Message {
            seq,
            message: message.clone(),
        });
        let id = conn.id;
        let queued = conn.tx.try_send(bytes);
        self.record(TraceKind::Send {
            to: to.clone(),
            conn: id,
            seq,
            message,
        });
        if queued.is_err() {
            // The peer stopped reading and the queue filled: as the
            // simulation driver does, give the connection up.
            self.close(&to, "write queue full");
            self.inputs.push_back(Input::Disconnected { peer: to });
        }
    }

    pub(super) fn dial(&mut self, to: ProcessId) {
        let dial = self.next_dial;
        self.next_dial += 1;
        self.dials.insert(to.clone(), dial);
        let Some(addr) = self.peers.get(&to).copied() else {
            self.inputs.push_back(Input::ConnectFailed { peer: to });
            return;
        };
        let (me, incarnation, tx) = (self.me.clone(), self.incarnation, self.ev_tx.clone());
        self.record(TraceKind::Conn {
            peer: to.clone(),
            conn: 0,
            what: "dial".into(),
            why: None,
        });
        tokio::spawn(async move {
            let result = async {
                let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                let hello = frame::encode(&Frame::Hello {
                    from: me,
                    incarnation,
                });
                stream.write_all(&hello).await.map_err(|e| e.to_string())?;
                let mut welcome = [0u8; 1];
                match stream.read_exact(&mut welcome).await {
                    Ok(_) if welcome[0] == WELCOME => Ok(stream),
                    Ok(_) => Err(format!("answered {:#04x}, not a welcome", welcome[0])),
                    Err(e) => Err(e.to_string()),
                }
            }
            .await;
            let _ = tx.send(NetEvent::Dialed {
                dial,
                peer: to,
                result,
            });
        });
    }

    /// Takes over `stream` as the connection to `peer`.
    pub(super) fn open(&mut self, peer: &ProcessId, stream: TcpStream) -> u64 {
        let id = self.next_conn;
        self.next_conn += 1;
        let (mut read, mut write) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
        let events = self.ev_tx.clone();
        let writer = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if write.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        let reader = tokio::spawn(async move {
            let why = loop {
                match read_frame(&mut read).await {
                    Ok(Frame::Message { seq, message }) => {
                        let _ = events.send(NetEvent::Frame {
                            conn: id,
                            seq,
                            message,
                        });
                    }
                    Ok(Frame::Hello { .. }) => break "a second hello".to_string(),
                    Err(why) => break why,
                }
            };
            let _ = events.send(NetEvent::Closed { conn: id, why });
        });
        self.conns.insert(
            peer.clone(),
            Conn {
                id,
                next_seq: 1,
                tx,
                tasks: [reader, writer],
            },
        );
        self.conn_peers.insert(id, peer.clone());
        id
    }

    pub(super) fn close(&mut self, peer: &ProcessId, why: &str) {
        if let Some(conn) = self.conns.remove(peer) {
            for task in &conn.tasks {
                task.abort();
            }
            self.conn_peers.remove(&conn.id);
            self.record(TraceKind::Conn {
                peer: peer.clone(),
                conn: conn.id,
                what: "closed".into(),
                why: Some(why.into()),
            });
        }
    }
}

/// The byte an accepting process answers a `Hello` with (ASCII ACK).
pub const WELCOME: u8 = 0x06;

/// Accepts connections; each must say who it is in its first frame.
pub(super) async fn accept_loop(listener: TcpListener, tx: mpsc::UnboundedSender<NetEvent>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            // A dialer that never says hello is dropped after a while, as
            // the simulation driver drops it.
            let hello = tokio::time::timeout(Duration::from_secs(5), read_frame(&mut stream)).await;
            if let Ok(Ok(Frame::Hello { from, .. })) = hello {
                if stream.write_all(&[WELCOME]).await.is_ok() {
                    let _ = tx.send(NetEvent::Accepted { peer: from, stream });
                }
            }
        });
    }
}

/// Reads one frame; an error says why the connection ends.
pub(super) async fn read_frame<S: AsyncReadExt + Unpin>(stream: &mut S) -> Result<Frame, String> {
    let mut prefix = [0u8; 4];
    stream
        .read_exact(&mut prefix)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "closed by the peer".to_string(),
            _ => e.to_string(),
        })?;
    let len = frame::body_len(prefix).map_err(|e| e.to_string())?;
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| e.to_string())?;
    frame::decode(&body).map_err(|e| e.to_string())
}
