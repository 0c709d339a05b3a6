//! What reaches a driver: network events (a connection accepted, dialed or
//! closed; a frame, subject to message chaos), each message handed to the role
//! unless a drop rule or a message filter takes it, and the harness's requests
//! (messages a released filter held, injected messages to write).

use super::connections::NetEvent;
use super::{now_ms, Driver};
use crate::filters;
use crate::seed;
use crate::shared::MessageChaos;
use crate::trace::TraceKind;
use mesochaos_reference::io::{Input, Role};
use mesochaos_reference::Message;

impl<R: Role + 'static> Driver<R> {
    pub(super) async fn on_net(&mut self, event: NetEvent) {
        match event {
            NetEvent::Accepted { peer, stream } => {
                if self.conns.contains_key(&peer) {
                    self.close(&peer, "replaced by a new connection from the same process")
                        .await;
                }
                let conn = self.open(&peer, stream);
                self.shared.record(
                    &self.me,
                    TraceKind::Conn {
                        peer,
                        conn,
                        what: "accepted".into(),
                        why: None,
                    },
                );
            }
            NetEvent::Dialed { dial, peer, result } => {
                if self.dials.get(&peer) != Some(&dial) {
                    return; // stale: the role gave up on this dial
                }
                self.dials.remove(&peer);
                match result {
                    Ok(stream) => {
                        if self.conns.contains_key(&peer) {
                            self.close(&peer, "replaced by a new connection").await;
                        }
                        let conn = self.open(&peer, stream);
                        self.shared.record(
                            &self.me,
                            TraceKind::Conn {
                                peer: peer.clone(),
                                conn,
                                what: "connected".into(),
                                why: None,
                            },
                        );
                        self.handle(Input::Connected { peer }).await;
                    }
                    Err(why) => {
                        self.shared.record(
                            &self.me,
                            TraceKind::Conn {
                                peer: peer.clone(),
                                conn: 0,
                                what: "connect_failed".into(),
                                why: Some(why),
                            },
                        );
                        self.handle(Input::ConnectFailed { peer }).await;
                    }
                }
            }
            NetEvent::Frame { conn, seq, message } => {
                let Some(peer) = self.conn_peers.get(&conn).cloned() else {
                    return; // from a connection already closed
                };
                let mut delay = 0;
                // Chaos is a network fault: processes of one machine (an agent
                // and its executor host) talk without the network.
                let local = self
                    .shared
                    .slots
                    .borrow()
                    .get(&peer)
                    .is_some_and(|s| s.machine == self.machine);
                let chaos = self.shared.message_chaos.get().filter(|_| !local);
                let mut reorder = false;
                if let Some(MessageChaos {
                    drop_per_mille,
                    delay_max_ms,
                    stress,
                }) = chaos
                {
                    // Drawn from the connection and sequence number, never from
                    // a stream: chaos shifts no other draws.
                    let mut h = seed::Fnv64::default();
                    h.write(&self.shared.seed.to_le_bytes());
                    h.write(self.me.as_str().as_bytes());
                    h.write(&self.incarnation.to_le_bytes());
                    h.write(&conn.to_le_bytes());
                    h.write(&seq.to_le_bytes());
                    let draw = h.finish();
                    // The coordinator stands in for ZooKeeper, whose client
                    // protocol is one ordered, reliable session: a request is
                    // never lost alone (only with its connection), so chaos
                    // delays coordinator traffic but never drops it.
                    let coordination = message.kind().starts_with("Coord");
                    if !coordination && draw % 1000 < u64::from(drop_per_mille) {
                        // TCP loses no single message: a message is lost with
                        // its connection (libprocess's at-most-once). So the
                        // connection breaks here, taking what it held back.
                        self.shared.record(
                            &self.me,
                            TraceKind::Drop {
                                peer: peer.clone(),
                                kind: message.kind().into(),
                                why: "fault: message chaos (the connection breaks)".into(),
                            },
                        );
                        self.delayed.retain(|_, (c, _, _)| *c != conn);
                        self.delayed_until.remove(&conn);
                        self.close(&peer, "fault: message chaos").await;
                        self.handle(Input::Disconnected { peer }).await;
                        return;
                    }
                    delay = (draw >> 20) % (delay_max_ms + 1);
                    if stress && !coordination {
                        // The stress option: this message may overtake earlier
                        // ones of its connection, and may arrive twice (the
                        // copy after its own delay). Never coordinator traffic:
                        // ZooKeeper's session is one ordered, reliable stream.
                        reorder = true;
                        if (draw >> 40) % 1000 < u64::from(drop_per_mille) {
                            let again = now_ms() + (draw >> 50) % (delay_max_ms + 1) + 1;
                            self.arrivals += 1;
                            self.delayed
                                .insert((again, self.arrivals), (conn, seq, message.clone()));
                        }
                    }
                }
                // A message behind a held-back one on its connection waits too
                // (unless the stress option reorders within connections).
                let now = now_ms();
                let behind = if reorder {
                    0
                } else {
                    self.delayed_until.get(&conn).copied().unwrap_or(0)
                };
                let due = (now + delay).max(behind);
                if due > now {
                    self.delayed_until.insert(conn, due);
                    self.arrivals += 1;
                    self.delayed
                        .insert((due, self.arrivals), (conn, seq, message));
                    return;
                }
                self.deliver(conn, seq, message).await;
            }
            NetEvent::Closed { conn, why } => {
                let Some(peer) = self.conn_peers.get(&conn).cloned() else {
                    return;
                };
                // What was held back on this connection arrives before the close.
                let held: Vec<(u64, u64)> = self
                    .delayed
                    .iter()
                    .filter(|(_, (c, _, _))| *c == conn)
                    .map(|(k, _)| *k)
                    .collect();
                for key in held {
                    let (conn, seq, message) = self.delayed.remove(&key).expect("listed");
                    self.deliver(conn, seq, message).await;
                }
                self.delayed_until.remove(&conn);
                self.close(&peer, &why).await;
                self.handle(Input::Disconnected { peer }).await;
            }
        }
    }

    /// Hands a received message to the role (unless a drop rule takes it).
    pub(super) async fn deliver(&mut self, conn: u64, seq: u64, message: Message) {
        self.release_held().await;
        let Some(peer) = self.conn_peers.get(&conn).cloned() else {
            return; // the connection closed meanwhile
        };
        if let Some(why) = self.shared.take_drop_rule(&peer, &self.me, message.kind()) {
            self.shared.record(
                &self.me,
                TraceKind::Drop {
                    peer,
                    kind: message.kind().into(),
                    why,
                },
            );
            return;
        }
        let Some(message) = filters::intercept(
            &self.shared,
            &self.me,
            self.incarnation,
            &peer,
            conn,
            seq,
            message,
        ) else {
            return; // dropped or held by a message filter
        };
        self.shared.record(
            &self.me,
            TraceKind::Deliver {
                from: peer.clone(),
                conn,
                seq,
            },
        );
        self.handle(Input::Message {
            from: peer,
            message,
        })
        .await;
    }
}

/// The harness's requests: message filters and injected messages
/// (`crate::filters`).
impl<R: Role + 'static> Driver<R> {
    pub(super) async fn on_harness(&mut self, request: filters::Request) {
        match request {
            filters::Request::Release => self.release_held().await,
            filters::Request::Inject { id, to, message } => {
                self.injections.push(filters::Injection {
                    id,
                    to,
                    message: *message,
                    dialed: false,
                });
                self.flush_injections().await;
            }
        }
    }

    /// Hands the messages a released hold filter kept to the role, in the
    /// order they arrived (before anything that arrives later).
    pub(super) async fn release_held(&mut self) {
        for held in filters::take_released(&self.shared, &self.me, self.incarnation) {
            let open = self.conn_peers.get(&held.conn) == Some(&held.from);
            if filters::record_release(&self.shared, &self.me, &held, open) {
                self.shared.record(
                    &self.me,
                    TraceKind::Deliver {
                        from: held.from.clone(),
                        conn: held.conn,
                        seq: held.seq,
                    },
                );
                self.handle(Input::Message {
                    from: held.from,
                    message: held.message,
                })
                .await;
            }
        }
    }

    /// Writes each injected message whose connection is up; dials one for a
    /// message that has none (as for a connection the role asked for); fails
    /// a message whose dial ended without a connection.
    pub(super) async fn flush_injections(&mut self) {
        use filters::{injected, InjectStatus};
        for mut injection in std::mem::take(&mut self.injections) {
            let to = injection.to.clone();
            if self.conns.contains_key(&to) {
                self.send(to, injection.message).await;
                injected(&self.shared, injection.id, InjectStatus::Sent);
            } else if self.dials.contains_key(&to) {
                self.injections.push(injection); // a dial is in flight
            } else if !injection.dialed {
                injection.dialed = true;
                self.dial(to);
                self.injections.push(injection);
            } else {
                let why = format!("{} could not connect to {to}", self.me);
                injected(&self.shared, injection.id, InjectStatus::Failed(why));
            }
        }
    }
}
