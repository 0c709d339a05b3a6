//! The driver's connections: plain TCP as libprocess's, one writer task per
//! connection fed by a bounded queue (a full queue closes it), a reader task
//! decoding frames, and the first frame naming the dialer.

use super::{Driver, PORT};
use crate::frame::{self, Frame, FrameError};
use crate::trace::TraceKind;
use mesochaos_reference::io::{Input, Role};
use mesochaos_reference::{Message, ProcessId};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use turmoil::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use turmoil::net::{TcpListener, TcpStream};

pub(super) enum NetEvent {
    Accepted {
        peer: ProcessId,
        stream: TcpStream,
    },
    Dialed {
        dial: u64,
        peer: ProcessId,
        result: Result<TcpStream, String>,
    },
    Frame {
        conn: u64,
        seq: u64,
        message: Message,
    },
    Closed {
        conn: u64,
        why: String,
    },
}

pub(super) struct Conn {
    pub(super) id: u64,
    pub(super) tx: mpsc::Sender<Vec<u8>>,
    pub(super) next_seq: u64,
    pub(super) tasks: [JoinHandle<()>; 2],
}

impl<R: Role + 'static> Driver<R> {
    pub(super) async fn send(&mut self, to: ProcessId, message: Message) {
        let Some(conn) = self.conns.get_mut(&to) else {
            self.shared.record(
                &self.me,
                TraceKind::Drop {
                    peer: to,
                    kind: message.kind().into(),
                    why: "not connected".into(),
                },
            );
            return;
        };
        let seq = conn.next_seq;
        conn.next_seq += 1;
        let bytes = frame::encode(&Frame::Message {
            seq,
            message: message.clone(),
        });
        let conn_id = conn.id;
        let queued = conn.tx.try_send(bytes);
        self.shared.record(
            &self.me,
            TraceKind::Send {
                to: to.clone(),
                conn: conn_id,
                seq,
                message,
            },
        );
        if queued.is_err() {
            // The writer is stuck (the peer stopped reading, or segments were
            // lost): this connection is dead.
            self.close(&to, "send queue full").await;
            self.inputs.push_back(Input::Disconnected { peer: to });
        }
    }

    pub(super) fn dial(&mut self, peer: ProcessId) {
        let dial = self.next_dial;
        self.next_dial += 1;
        self.dials.insert(peer.clone(), dial);
        let hello = frame::encode(&Frame::Hello {
            from: self.me.clone(),
            incarnation: self.incarnation,
        });
        let ev_tx = self.ev_tx.clone();
        tokio::task::spawn_local(async move {
            // No timeout of our own: across a cut or to a powered-off machine
            // the connect fails after TCP's SYN retries (`tcp_connect_timeout`);
            // to a machine that is up with nothing listening it is refused at once.
            let attempt = async {
                let mut stream = TcpStream::connect((peer.as_str(), PORT)).await?;
                stream.write_all(&hello).await?;
                Ok::<_, std::io::Error>(stream)
            };
            let result = attempt.await.map_err(|e| e.to_string());
            let _ = ev_tx.send(NetEvent::Dialed { dial, peer, result }).await;
        });
    }

    pub(super) fn open(&mut self, peer: &ProcessId, stream: TcpStream) -> u64 {
        let id = self.next_conn;
        self.next_conn += 1;
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::channel(self.shared.net.send_queue_frames);
        let reader = tokio::task::spawn_local(read_loop(rd, id, self.ev_tx.clone()));
        let writer = tokio::task::spawn_local(write_loop(wr, rx, id, self.ev_tx.clone()));
        self.conns.insert(
            peer.clone(),
            Conn {
                id,
                tx,
                next_seq: 1,
                tasks: [reader, writer],
            },
        );
        self.conn_peers.insert(id, peer.clone());
        id
    }

    /// Closes the connection with `peer`, if any. Its tasks are aborted *and
    /// awaited*, so the socket is dropped (sending FIN) before this returns.
    pub(super) async fn close(&mut self, peer: &ProcessId, why: &str) -> bool {
        let Some(conn) = self.conns.remove(peer) else {
            return false;
        };
        self.conn_peers.remove(&conn.id);
        self.shared.record(
            &self.me,
            TraceKind::Conn {
                peer: peer.clone(),
                conn: conn.id,
                what: "closed".into(),
                why: Some(why.into()),
            },
        );
        for task in conn.tasks {
            task.abort();
            let _ = task.await;
        }
        true
    }

    /// A process that exits on its own closes its sockets the way the kernel
    /// does: what it already wrote is still sent, then FIN.
    pub(super) async fn close_all(&mut self) {
        for (peer, conn) in std::mem::take(&mut self.conns) {
            self.conn_peers.remove(&conn.id);
            self.shared.record(
                &self.me,
                TraceKind::Conn {
                    peer,
                    conn: conn.id,
                    what: "closed".into(),
                    why: Some("process exited".into()),
                },
            );
            let [reader, mut writer] = conn.tasks;
            reader.abort();
            let _ = reader.await;
            drop(conn.tx); // the writer drains its queue, then stops
            if turmoil::time::timeout(Duration::from_millis(100), &mut writer)
                .await
                .is_err()
            {
                // A stalled connection: its queue can never drain.
                writer.abort();
                let _ = writer.await;
            }
        }
    }
}

pub(super) async fn accept_loop(
    listener: TcpListener,
    ev_tx: mpsc::Sender<NetEvent>,
    hello_timeout_ms: u64,
) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let ev_tx = ev_tx.clone();
        tokio::task::spawn_local(async move {
            let hello = turmoil::time::timeout(
                Duration::from_millis(hello_timeout_ms),
                read_frame(&mut stream),
            )
            .await;
            if let Ok(Ok(Frame::Hello { from, .. })) = hello {
                let _ = ev_tx.send(NetEvent::Accepted { peer: from, stream }).await;
            }
            // Anything else: drop the stream (the dialer sees it close).
        });
    }
}

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("closed by peer")]
    Eof,
    #[error("{0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Frame(#[from] FrameError),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ReadError::Eof
        } else {
            ReadError::Io(e)
        }
    }
}

async fn read_frame<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Result<Frame, ReadError> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await?;
    let len = frame::body_len(prefix)?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    Ok(frame::decode(&body)?)
}

async fn read_loop(mut rd: OwnedReadHalf, conn: u64, ev_tx: mpsc::Sender<NetEvent>) {
    let why = loop {
        match read_frame(&mut rd).await {
            Err(e) => break e.to_string(),
            Ok(Frame::Hello { .. }) => break "unexpected hello frame".to_string(),
            Ok(Frame::Message { seq, message }) => {
                if ev_tx
                    .send(NetEvent::Frame { conn, seq, message })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    };
    let _ = ev_tx.send(NetEvent::Closed { conn, why }).await;
}

async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    conn: u64,
    ev_tx: mpsc::Sender<NetEvent>,
) {
    while let Some(bytes) = rx.recv().await {
        if let Err(e) = wr.write_all(&bytes).await {
            let _ = ev_tx
                .send(NetEvent::Closed {
                    conn,
                    why: format!("write failed: {e}"),
                })
                .await;
            return;
        }
    }
}
