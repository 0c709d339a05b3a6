//! The link to "the coordinator" when it is Apache ZooKeeper: no connection
//! to a coordinator process; the roles' requests are served in this process
//! by the adapter (`crate::zookeeper::adapter`), and what ZooKeeper says back
//! (answers, watches, expiry) is handed to the role as messages from the
//! coordinator — so role code is the same for both backends.

use super::{Driver, NetEvent};
use crate::zookeeper::adapter::ZkSession;
use mesochaos_harness::trace::TraceKind;
use mesochaos_reference::io::{Input, Role};
use mesochaos_reference::messages::{CoordError, CoordOp};
use mesochaos_reference::{Message, ProcessId};

impl<T: Clone + Ord + std::fmt::Debug + serde::Serialize> Driver<T> {
    /// Whether messages to `peer` go to ZooKeeper through the adapter.
    pub(super) fn is_zookeeper(&self, peer: &ProcessId) -> bool {
        self.zookeeper.is_some() && peer.as_str() == mesochaos_harness::names::COORDINATOR
    }

    /// A coordinator request, served by ZooKeeper off the driver's loop: the
    /// answer comes back as an event, so the role goes on meanwhile, as it
    /// does while a request to the stand-in is on the wire.
    pub(super) fn zk_send(&mut self, message: Message) {
        // Traced as a message the coordinator received at once: the
        // adapter in this process took it. (ZooKeeper's own wire is not
        // traced; its lane in a report stands for the ensemble.)
        self.zk_sent += 1;
        let coordinator = ProcessId::from(mesochaos_harness::names::COORDINATOR);
        self.record(TraceKind::Send {
            to: coordinator.clone(),
            conn: 0,
            seq: self.zk_sent,
            message: message.clone(),
        });
        self.record_at(
            &coordinator,
            TraceKind::Deliver {
                from: self.me.clone(),
                conn: 0,
                seq: self.zk_sent,
            },
        );
        let Message::CoordRequest { xid, op, .. } = message else {
            return; // nothing else is for a coordinator
        };
        let tx = self.ev_tx.clone();
        match op {
            CoordOp::CreateSession { timeout_ms } => {
                let connect = self.zookeeper.clone().expect("zookeeper mode");
                tokio::spawn(async move {
                    let event = match ZkSession::create(&connect, timeout_ms).await {
                        Ok((session, reply, notices)) => NetEvent::ZkCreated {
                            xid,
                            result: Ok((session, reply)),
                            notices: Some(notices),
                        },
                        Err(e) => NetEvent::ZkCreated {
                            xid,
                            result: Err(e),
                            notices: None,
                        },
                    };
                    let _ = tx.send(event);
                });
            }
            op => {
                let session = self.zk_session.clone();
                tokio::spawn(async move {
                    let result = match session {
                        Some(session) => session.op(op).await,
                        None => Err(CoordError::NoSession),
                    };
                    let _ = tx.send(NetEvent::Coord(Message::CoordResponse { xid, result }));
                });
            }
        }
    }

    /// Hands the role a message from the coordinator (ZooKeeper, through
    /// the adapter), traced as a delivery.
    pub(super) async fn zk_deliver<R: Role<Timer = T>>(&mut self, role: &mut R, message: Message) {
        self.zk_received += 1;
        let from = ProcessId::from(mesochaos_harness::names::COORDINATOR);
        self.record_at(
            &from,
            TraceKind::Send {
                to: self.me.clone(),
                conn: 0,
                seq: self.zk_received,
                message: message.clone(),
            },
        );
        self.record(TraceKind::Deliver {
            from: from.clone(),
            conn: 0,
            seq: self.zk_received,
        });
        self.handle(role, Input::Message { from, message }).await;
    }
}
