//! # Message faults, where a message is handed to the receiving role
//!
//! The simulation loses, holds and delays messages in the *receiving*
//! driver, just before the role would get them (`harness/src/driver/
//! receive.rs`, `harness/src/filters.rs`): TCP loses no single message, so a
//! filter is a fault of the path into the role, and chaos that "loses" a
//! message breaks its connection, as a real loss would. The real driver does
//! the same, on the harness's orders over the control channel:
//!
//! - **`drop_next`**: the next message of a kind from a peer is dropped;
//! - **filters**: every message of a kind from a peer is dropped, or held
//!   (in arrival order) until the harness lifts the filter, when what it held
//!   is handed over — unless its connection closed meanwhile.
//!
//! (Message chaos, the third kind, comes only from a nemesis, which real
//! mode does not run yet.)
//!
//! Records are the simulation's: `drop` with the same reasons, `filter`
//! `held` / `released`, and `deliver` when the role finally gets it.

use super::Driver;
use mesochaos_harness::trace::TraceKind;
use mesochaos_reference::io::{Input, Role};
use mesochaos_reference::{Message, ProcessId};
use serde::{Deserialize, Serialize};

/// A message fault the harness hands the receiving process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageFault {
    /// Drop the next message of `kind` from `from`.
    DropNext { from: ProcessId, kind: String },
    /// Drop (`hold: false`) or hold every message of `kind` from `from`
    /// until the filter written as `route` is released.
    Filter {
        route: String,
        from: ProcessId,
        kind: String,
        hold: bool,
    },
    /// Lift the filters written as `route` (every filter: `None`) and hand
    /// over what they held, in arrival order.
    Release { route: Option<String> },
}

/// One filter in force.
#[derive(Debug)]
struct Filter {
    route: String,
    from: ProcessId,
    kind: String,
    hold: bool,
}

/// A message a hold filter keeps.
#[derive(Debug)]
struct Held {
    route: String,
    from: ProcessId,
    conn: u64,
    seq: u64,
    message: Message,
}

/// The message faults in force at one process.
#[derive(Debug, Default)]
pub(super) struct MessageFaults {
    /// `drop_next` rules not yet used: (from, kind).
    drop_next: Vec<(ProcessId, String)>,
    filters: Vec<Filter>,
    held: Vec<Held>,
}

impl<T: Clone + Ord + std::fmt::Debug + serde::Serialize> Driver<T> {
    /// Hands a message to the role, unless a drop rule or a filter takes it.
    pub(super) async fn deliver<R: Role<Timer = T>>(
        &mut self,
        role: &mut R,
        conn: u64,
        seq: u64,
        message: Message,
    ) {
        let Some(from) = self.conn_peers.get(&conn).cloned() else {
            return; // the connection closed meanwhile
        };
        let kind = message.kind();
        if let Some(i) = self
            .faults
            .drop_next
            .iter()
            .position(|(f, k)| *f == from && k == kind)
        {
            self.faults.drop_next.remove(i);
            self.record(TraceKind::Drop {
                peer: from,
                kind: kind.into(),
                why: "fault: drop_next".into(),
            });
            return;
        }
        if let Some(filter) = self
            .faults
            .filters
            .iter()
            .find(|f| f.from == from && f.kind == kind)
        {
            let route = filter.route.clone();
            if !filter.hold {
                self.record(TraceKind::Drop {
                    peer: from,
                    kind: kind.into(),
                    why: format!("fault: drop filter ({route})"),
                });
                return;
            }
            self.record(TraceKind::Filter {
                from: from.clone(),
                conn,
                seq,
                kind: kind.into(),
                what: "held".into(),
            });
            self.faults.held.push(Held {
                route,
                from,
                conn,
                seq,
                message,
            });
            return;
        }
        self.record(TraceKind::Deliver {
            from: from.clone(),
            conn,
            seq,
        });
        self.handle(role, Input::Message { from, message }).await;
    }

    /// A message fault from the harness.
    pub(super) async fn on_message_fault<R: Role<Timer = T>>(
        &mut self,
        role: &mut R,
        fault: MessageFault,
    ) {
        match fault {
            MessageFault::DropNext { from, kind } => self.faults.drop_next.push((from, kind)),
            MessageFault::Filter {
                route,
                from,
                kind,
                hold,
            } => self.faults.filters.push(Filter {
                route,
                from,
                kind,
                hold,
            }),
            MessageFault::Release { route } => {
                let lifted = |r: &str| route.as_deref().is_none_or(|route| route == r);
                self.faults.filters.retain(|f| !lifted(&f.route));
                let (released, kept): (Vec<Held>, Vec<Held>) =
                    std::mem::take(&mut self.faults.held)
                        .into_iter()
                        .partition(|h| lifted(&h.route));
                self.faults.held = kept;
                for held in released {
                    let kind = held.message.kind().to_string();
                    if self.conn_peers.get(&held.conn) != Some(&held.from) {
                        self.record(TraceKind::Drop {
                            peer: held.from,
                            kind,
                            why: "fault: held message lost on release: its connection closed"
                                .into(),
                        });
                        continue;
                    }
                    self.record(TraceKind::Filter {
                        from: held.from.clone(),
                        conn: held.conn,
                        seq: held.seq,
                        kind,
                        what: "released".into(),
                    });
                    self.record(TraceKind::Deliver {
                        from: held.from.clone(),
                        conn: held.conn,
                        seq: held.seq,
                    });
                    self.handle(
                        role,
                        Input::Message {
                            from: held.from,
                            message: held.message,
                        },
                    )
                    .await;
                }
            }
        }
    }
}
