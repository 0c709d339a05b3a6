//! Logs through `tracing`: every trace record of a run — role events, faults
//! and process lives at `debug`, messages, connections and disk operations at
//! `trace` — emitted as a `tracing` event with the simulated time (`t_ms`) and
//! the process (`process`) as fields, under targets `mesochaos::event`,
//! `mesochaos::fault`, `mesochaos::process`, `mesochaos::message`,
//! `mesochaos::conn` and `mesochaos::disk`. The binary installs a subscriber
//! only when `RUST_LOG` is set, with a timer that prints this thread's
//! simulated time ([`now_ms`]). Logging reads the records after they are
//! hashed: it never changes a trace or its hash.

use super::{TraceKind, TraceRecord};
use std::cell::Cell;

thread_local! {
    /// The simulated time of the last record this thread traced: each
    /// simulation runs on one thread, so a sweep's parallel runs each have
    /// their own clock.
    static NOW_MS: Cell<u64> = const { Cell::new(0) };
}

/// The simulated milliseconds of the record this thread traced last (for a
/// subscriber's timer).
pub fn now_ms() -> u64 {
    NOW_MS.with(Cell::get)
}

/// Emits one trace record as a `tracing` event.
pub(crate) fn record(r: &TraceRecord) {
    NOW_MS.with(|now| now.set(r.t_ms));
    let process = r.at.as_str();
    match &r.kind {
        TraceKind::Event { event } => {
            tracing::debug!(target: "mesochaos::event", t_ms = r.t_ms, process, "{event:?}")
        }
        TraceKind::Fault { fault, detail } => {
            tracing::debug!(target: "mesochaos::fault", t_ms = r.t_ms, process, "{fault}: {detail}")
        }
        TraceKind::Process {
            what,
            incarnation,
            why,
        } => tracing::debug!(
            target: "mesochaos::process",
            t_ms = r.t_ms,
            process,
            "{what} (incarnation {incarnation}){}",
            why.as_deref().map(|w| format!(": {w}")).unwrap_or_default()
        ),
        TraceKind::Send { to, message, .. } => tracing::trace!(
            target: "mesochaos::message",
            t_ms = r.t_ms,
            process,
            "send {} to {to}",
            message.kind()
        ),
        TraceKind::Deliver { from, conn, seq } => tracing::trace!(
            target: "mesochaos::message",
            t_ms = r.t_ms,
            process,
            "deliver from {from} (connection {conn}, #{seq})"
        ),
        TraceKind::Drop { peer, kind, why } => tracing::trace!(
            target: "mesochaos::message",
            t_ms = r.t_ms,
            process,
            "drop {kind} (peer {peer}): {why}"
        ),
        TraceKind::Filter {
            from, kind, what, ..
        } => tracing::trace!(
            target: "mesochaos::message",
            t_ms = r.t_ms,
            process,
            "{what} {kind} from {from}"
        ),
        TraceKind::Conn {
            peer, what, why, ..
        } => tracing::trace!(
            target: "mesochaos::conn",
            t_ms = r.t_ms,
            process,
            "{what} {peer}{}",
            why.as_deref().map(|w| format!(": {w}")).unwrap_or_default()
        ),
        TraceKind::Disk {
            machine,
            op,
            path,
            bytes,
        } => tracing::trace!(
            target: "mesochaos::disk",
            t_ms = r.t_ms,
            process,
            "{op} {path} ({bytes} bytes) on {machine}"
        ),
    }
}
