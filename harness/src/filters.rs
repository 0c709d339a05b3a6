//! Message filters and injected messages: what Apache Mesos's tests do with
//! `DROP_PROTOBUF`, `FUTURE_PROTOBUF` (hold a message, let it go later) and
//! posting a message as another process.
//!
//! - A **filter** (`drop` / `hold` steps, [`Fault::Filter`]) takes every message
//!   of one kind from one process to another where the receiving driver hands a
//!   decoded frame to its role — the layer where `drop_next` acts and where
//!   libprocess's filters intercept. The connection stays up. A dropped message
//!   is a `drop` trace record; a held one a `filter` record (`held`), kept here
//!   until a `release` step lifts the filter: then the receiver's driver hands
//!   the held messages to its role in the order they arrived (`released`,
//!   followed by the usual `deliver`), before any message it receives later. A
//!   held message whose connection has closed meanwhile (or whose receiver
//!   restarted) is lost on release (a `drop` record). Messages of *other* kinds
//!   on the same connection are not held: they may pass a held one.
//! - An **injected message** (`inject` step) is written by a process's driver on
//!   its connection to the target, as if the role had sent it: the receiver
//!   reads it off a real (simulated) TCP connection from that process, and its
//!   guards (the master it is registered with, the epoch) judge it. If the
//!   process has no connection to the target, its driver dials one first, as
//!   for a connection the role asked for (the role is told it is up); if that
//!   fails, the step fails the run.
//!
//! The harness reaches a process's driver through a channel registered when the
//! driver starts ([`attach`]); nothing here draws randomness or traces anything
//! unless a scenario uses these words, so other runs' traces are unchanged.
//! The filters' state lives in [`crate::shared`] (the drivers read it); what
//! an `inject` step writes is resolved in [`crate::inject`].

pub use crate::shared::{FilterRule, Filters, Held, InjectStatus, Injection, Request};

use crate::shared::Shared;
use crate::trace::TraceKind;
use mesochaos_faults::{Route, Target};
use mesochaos_reference::{AgentId, Message, ProcessId, TaskId};
use serde::Serialize;
use std::collections::BTreeSet;
use tokio::sync::mpsc;

/// Called by a driver as it starts: the channel the harness reaches it through.
pub fn attach(
    shared: &Shared,
    me: &ProcessId,
    incarnation: u32,
) -> mpsc::UnboundedReceiver<Request> {
    let (tx, rx) = mpsc::unbounded_channel();
    shared
        .filters
        .borrow_mut()
        .channels
        .insert(me.clone(), (incarnation, tx));
    rx
}

/// Puts a filter in force.
pub fn add(shared: &Shared, rule: FilterRule) {
    shared.filters.borrow_mut().rules.push(rule);
}

/// Whether any filter is in force or any message held.
pub fn in_force(shared: &Shared) -> bool {
    let f = shared.filters.borrow();
    !f.rules.is_empty() || !f.held.is_empty()
}

/// Called by `me`'s driver with a message about to be handed to its role:
/// `None` if a filter took it (dropped, or held until released).
pub fn intercept(
    shared: &Shared,
    me: &ProcessId,
    incarnation: u32,
    from: &ProcessId,
    conn: u64,
    seq: u64,
    message: Message,
) -> Option<Message> {
    let rule = {
        let filters = shared.filters.borrow();
        if filters.rules.is_empty() {
            return Some(message);
        }
        let kind = message.kind();
        let rule = filters
            .rules
            .iter()
            .find(|r| &r.from == from && &r.to == me && r.route.kind == kind);
        match rule {
            Some(rule) => rule.clone(),
            None => return Some(message),
        }
    };
    let kind = message.kind().to_string();
    if !rule.hold {
        shared.record(
            me,
            TraceKind::Drop {
                peer: from.clone(),
                kind,
                why: format!("fault: drop filter ({})", rule.route),
            },
        );
        return None;
    }
    shared.record(
        me,
        TraceKind::Filter {
            from: from.clone(),
            conn,
            seq,
            kind,
            what: "held".into(),
        },
    );
    shared.filters.borrow_mut().held.push(Held {
        route: rule.route,
        to: me.clone(),
        incarnation,
        from: from.clone(),
        conn,
        seq,
        message,
    });
    None
}

/// Lifts the filters written as `route` (every filter: `None`) and releases
/// what they held: each receiver's driver hands the messages to its role, in
/// arrival order. A held message whose receiver is no longer the incarnation
/// it arrived at is lost (traced at `now_ms`). Returns how many were released.
pub fn release(shared: &Shared, route: Option<&Route>, now_ms: u64) -> usize {
    let (released, lost) = {
        let mut filters = shared.filters.borrow_mut();
        filters
            .rules
            .retain(|r| route.is_some_and(|route| &r.route != route));
        let (taken, kept): (Vec<Held>, Vec<Held>) = std::mem::take(&mut filters.held)
            .into_iter()
            .partition(|h| route.is_none_or(|route| &h.route == route));
        filters.held = kept;
        let slots = shared.slots.borrow();
        let (released, lost): (Vec<Held>, Vec<Held>) = taken.into_iter().partition(|h| {
            slots
                .get(&h.to)
                .is_some_and(|s| s.is_running() && s.incarnation == h.incarnation)
        });
        (released, lost)
    };
    for held in lost {
        shared.record_at(
            now_ms,
            &held.to,
            TraceKind::Drop {
                peer: held.from.clone(),
                kind: held.message.kind().into(),
                why: "fault: held message lost on release: its receiver restarted".into(),
            },
        );
    }
    let count = released.len();
    let mut wake = BTreeSet::new();
    {
        let mut filters = shared.filters.borrow_mut();
        for held in released {
            wake.insert(held.to.clone());
            filters
                .released
                .entry(held.to.clone())
                .or_default()
                .push_back(held);
        }
        for to in wake {
            if let Some((_, tx)) = filters.channels.get(&to) {
                let _ = tx.send(Request::Release);
            }
        }
    }
    count
}

/// Called by `me`'s driver before it hands any message to its role: the held
/// messages released for it, in order.
pub fn take_released(shared: &Shared, me: &ProcessId, incarnation: u32) -> Vec<Held> {
    let queue = {
        let mut filters = shared.filters.borrow_mut();
        if filters.released.is_empty() {
            return vec![];
        }
        filters.released.remove(me).unwrap_or_default()
    };
    // Released to an incarnation that died before it could take them.
    let (current, stale): (Vec<Held>, Vec<Held>) = queue
        .into_iter()
        .partition(|h| h.incarnation == incarnation);
    for held in stale {
        shared.record(
            me,
            TraceKind::Drop {
                peer: held.from.clone(),
                kind: held.message.kind().into(),
                why: "fault: held message lost on release: its receiver restarted".into(),
            },
        );
    }
    current
}

/// Records what became of a released message: handed over (`open`: its
/// connection is still up; a `deliver` record and the role's input follow) or
/// lost with its connection. Returns `open`.
pub fn record_release(shared: &Shared, me: &ProcessId, held: &Held, open: bool) -> bool {
    let kind = held.message.kind().to_string();
    let record = if open {
        TraceKind::Filter {
            from: held.from.clone(),
            conn: held.conn,
            seq: held.seq,
            kind,
            what: "released".into(),
        }
    } else {
        TraceKind::Drop {
            peer: held.from.clone(),
            kind,
            why: "fault: held message lost on release: its connection closed".into(),
        }
    };
    shared.record(me, record);
    open
}

/// Asks `from`'s driver to write `message` to `to`; the id to follow it by.
pub fn inject(
    shared: &Shared,
    from: &ProcessId,
    to: &ProcessId,
    message: Message,
) -> Result<u64, String> {
    let mut filters = shared.filters.borrow_mut();
    let incarnation = shared.slots.borrow().get(from).map(|s| s.incarnation);
    let id = filters.next_injection;
    let sent = match filters.channels.get(from) {
        Some((inc, tx)) if Some(*inc) == incarnation => tx
            .send(Request::Inject {
                id,
                to: to.clone(),
                message: Box::new(message),
            })
            .is_ok(),
        _ => false,
    };
    if !sent {
        return Err(format!("{from} is not running"));
    }
    filters.next_injection += 1;
    filters.injections.insert(id, InjectStatus::Pending);
    Ok(id)
}

pub fn inject_status(shared: &Shared, id: u64) -> InjectStatus {
    shared
        .filters
        .borrow()
        .injections
        .get(&id)
        .cloned()
        .unwrap_or(InjectStatus::Failed("unknown injection".into()))
}

/// Called by a driver: how injection `id` fared.
pub fn injected(shared: &Shared, id: u64, status: InjectStatus) {
    shared.filters.borrow_mut().injections.insert(id, status);
}

/// An agent ID in a reconciliation question: given, or the current ID of the
/// agent a target names (`"agent-of:web-0001"`, `"agent-2"`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum AgentRef {
    Id(AgentId),
    Of(Target),
}

impl std::fmt::Display for AgentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentRef::Id(id) => write!(f, "{id}"),
            AgentRef::Of(target) => write!(f, "{target}"),
        }
    }
}

/// A message an `inject` step writes, with what is resolved when it runs: a
/// framework's name becomes its ID, a missing epoch the epoch in which the
/// sending master last led, an agent target its agent's current ID.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum InjectSpec {
    KillTask {
        framework: String,
        task: TaskId,
        epoch: Option<u64>,
    },
    ShutdownFramework {
        framework: String,
        epoch: Option<u64>,
    },
    ShutdownAgent {
        message: String,
        epoch: Option<u64>,
    },
    Ping {
        epoch: Option<u64>,
    },
    Kill {
        framework: String,
        task: TaskId,
    },
    Reconcile {
        framework: String,
        tasks: Vec<(TaskId, Option<AgentRef>)>,
    },
    Teardown {
        framework: String,
    },
}

impl InjectSpec {
    /// The message kinds an `inject` step can write, and whether a master (or
    /// else a scheduler instance) sends them.
    pub const KINDS: [(&'static str, bool); 7] = [
        ("KillTask", true),
        ("ShutdownFramework", true),
        ("ShutdownAgent", true),
        ("Ping", true),
        ("Kill", false),
        ("Reconcile", false),
        ("Teardown", false),
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            InjectSpec::KillTask { .. } => "KillTask",
            InjectSpec::ShutdownFramework { .. } => "ShutdownFramework",
            InjectSpec::ShutdownAgent { .. } => "ShutdownAgent",
            InjectSpec::Ping { .. } => "Ping",
            InjectSpec::Kill { .. } => "Kill",
            InjectSpec::Reconcile { .. } => "Reconcile",
            InjectSpec::Teardown { .. } => "Teardown",
        }
    }
}
