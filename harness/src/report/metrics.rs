//! The run's metrics and per-framework tallies, read off the trace: messages,
//! task starts, updates by state, database records acknowledged and how
//! writable the stores were.

use super::{Metrics, ReceivedUpdate};
use crate::names::{self, framework_of};
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::Event;
use std::collections::{BTreeMap, BTreeSet};

pub fn framework_updates(records: &[TraceRecord]) -> BTreeMap<String, Vec<ReceivedUpdate>> {
    let mut updates: BTreeMap<String, Vec<ReceivedUpdate>> = BTreeMap::new();
    for r in records {
        if let TraceKind::Event {
            event:
                Event::UpdateReceived {
                    task_id,
                    state,
                    reason,
                    ..
                },
        } = &r.kind
        {
            if let Some(name) = framework_of(&r.at) {
                updates
                    .entry(name.to_string())
                    .or_default()
                    .push(ReceivedUpdate {
                        t_ms: r.t_ms,
                        instance: r.at.clone(),
                        task_id: task_id.clone(),
                        state: *state,
                        reason: *reason,
                    });
            }
        }
    }
    updates
}

pub fn task_starts(records: &[TraceRecord]) -> BTreeMap<String, u64> {
    let mut starts = BTreeMap::new();
    for r in records {
        if let TraceKind::Event {
            event: Event::TaskStarted { task_id, .. },
        } = &r.kind
        {
            *starts.entry(task_id.to_string()).or_insert(0) += 1;
        }
    }
    starts
}
pub fn metrics(records: &[TraceRecord]) -> Metrics {
    let mut m = Metrics {
        trace_records: records.len() as u64,
        ..Metrics::default()
    };
    for r in records {
        match &r.kind {
            TraceKind::Send { .. } => m.messages_sent += 1,
            TraceKind::Drop { .. } => m.messages_dropped += 1,
            TraceKind::Event {
                event: Event::TaskStarted { .. },
            } => m.task_starts += 1,
            TraceKind::Event {
                event: Event::UpdateReceived { state, .. },
            } => *m.updates_by_state.entry(state.to_string()).or_insert(0) += 1,
            TraceKind::Event {
                event: Event::DbRecordAcked { .. },
            } => m.acked_records += 1,
            TraceKind::Event {
                event: Event::OperationRefused { .. },
            } => m.refused_operations += 1,
            _ => {}
        }
    }
    m
}

/// A gap between acknowledged writes longer than this means the store was not
/// writable (it is the database client's write timeout).
pub const UNWRITABLE_GAP_MS: u64 = mesochaos_reference::store::WRITE_TIMEOUT_MS;

/// How writable the databases' stores were: the total of the gaps longer than
/// [`UNWRITABLE_GAP_MS`] between consecutive acknowledged writes, from the
/// first one to `end_ms`, and the mean write latency in microseconds.
///
/// A write acknowledged on a machine cut off from the rest by a partition does
/// not count: a database there writes, but its clients cannot reach it.
pub fn db_availability(records: &[TraceRecord], end_ms: u64) -> (Option<u64>, Option<u64>) {
    let mut cut_off: BTreeSet<String> = BTreeSet::new();
    let mut last_ack: Option<u64> = None;
    let mut unavailable = 0;
    let (mut latency_total, mut acks) = (0u64, 0u64);
    for r in records {
        match &r.kind {
            TraceKind::Fault { fault, detail } if fault == "partition" => {
                // "a,b | c,d": the smaller side is cut off from the cluster.
                if let Some((a, b)) = detail.split_once(" | ") {
                    let a: Vec<&str> = a.split(',').collect();
                    let b: Vec<&str> = b.split(',').collect();
                    let minority = if a.len() <= b.len() { a } else { b };
                    cut_off.extend(minority.into_iter().map(str::to_string));
                }
            }
            TraceKind::Fault { fault, .. } if fault == "heal" => cut_off.clear(),
            TraceKind::Event {
                event: Event::DbRecordAcked { latency_ms, .. },
            } => {
                latency_total += latency_ms;
                acks += 1;
                if cut_off.contains(&names::machine_of(r.at.as_str())) {
                    continue;
                }
                if let Some(prev) = last_ack {
                    let gap = r.t_ms - prev;
                    if gap > UNWRITABLE_GAP_MS {
                        unavailable += gap;
                    }
                }
                last_ack = Some(r.t_ms);
            }
            _ => {}
        }
    }
    let Some(prev) = last_ack else {
        return (None, None);
    };
    let tail = end_ms.saturating_sub(prev);
    if tail > UNWRITABLE_GAP_MS {
        unavailable += tail;
    }
    (Some(unavailable), Some(latency_total * 1000 / acks.max(1)))
}
