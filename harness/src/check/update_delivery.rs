//! `update_delivery`: every status update an agent checkpointed reaches the
//! framework at least once, in order per task, once faults heal.

use crate::names;
use crate::report::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::{Event, Message, ProcessId, TaskState};
use std::collections::{BTreeMap, BTreeSet};

/// Every status update an agent put in a task's stream reaches the framework
/// at least once, and in stream order (first receipts follow the order the
/// agent queued them; none skipped). Checked once the cluster has converged
/// after the faults healed. Excused: updates queued on a machine whose disk was
/// later wiped (the log went with it), on an agent that was later shut down,
/// and those of a framework the master removed (its failover timeout passed) —
/// for those the master's TASK_LOST / TASK_GONE / TASK_KILLED stands instead.
pub fn check_update_delivery(records: &[TraceRecord]) -> Vec<Violation> {
    // A task is identified by its launch, not its ID alone: Mesos lets a
    // framework launch a new task under the ID of one whose terminal update
    // it acknowledged (`validateUniqueTaskID`), and update uuids are derived
    // from the task ID, so each launch starts a new stream (an incarnation).
    let mut incarnation: BTreeMap<(String, String), u32> = BTreeMap::new();
    // (framework, task, incarnation) -> [(uuid, state, time, agent)] in queue order
    type Queued = (String, TaskState, u64, ProcessId);
    let mut queued: BTreeMap<(String, String, u32), Vec<Queued>> = BTreeMap::new();
    // (uuid, incarnation) -> first receipt (index in the trace)
    let mut received: BTreeMap<(String, u32), usize> = BTreeMap::new();
    let mut wiped: BTreeMap<String, u64> = BTreeMap::new(); // machine -> last wipe
    let mut shut_down: BTreeMap<String, u64> = BTreeMap::new(); // agent -> last shutdown
    let mut removed: BTreeSet<String> = BTreeSet::new();
    for (index, r) in records.iter().enumerate() {
        match &r.kind {
            TraceKind::Event {
                event:
                    Event::UpdateQueued {
                        framework_id,
                        task_id,
                        uuid,
                        state,
                    },
            } => {
                let key = (framework_id.to_string(), task_id.to_string());
                let n = incarnation.get(&key).copied().unwrap_or(0);
                queued.entry((key.0, key.1, n)).or_default().push((
                    uuid.to_string(),
                    *state,
                    r.t_ms,
                    r.at.clone(),
                ))
            }
            TraceKind::Event {
                event:
                    Event::TaskLaunched {
                        framework_id,
                        task_id,
                        ..
                    },
            } => {
                *incarnation
                    .entry((framework_id.to_string(), task_id.to_string()))
                    .or_default() += 1;
            }
            TraceKind::Event {
                event:
                    Event::UpdateReceived {
                        framework_id,
                        task_id,
                        uuid: Some(uuid),
                        ..
                    },
            } => {
                let key = (framework_id.to_string(), task_id.to_string());
                let n = incarnation.get(&key).copied().unwrap_or(0);
                received.entry((uuid.to_string(), n)).or_insert(index);
            }
            TraceKind::Event {
                event: Event::FrameworkRemoved { framework_id, .. },
            } => {
                removed.insert(framework_id.to_string());
            }
            TraceKind::Fault { fault, detail } if fault == "wipe_disk" => {
                wiped.insert(detail.clone(), r.t_ms);
            }
            TraceKind::Send {
                to,
                message: Message::ShutdownAgent { .. },
                ..
            } => {
                shut_down.insert(to.to_string(), r.t_ms);
            }
            _ => {}
        }
    }
    let mut violations = Vec::new();
    for ((framework, task, n), stream) in &queued {
        if removed.contains(framework) {
            continue;
        }
        let mut last_receipt: Option<(usize, &str)> = None;
        for (uuid, state, t_ms, agent) in stream {
            let excused = wiped
                .get(&names::machine_of(agent.as_str()))
                .is_some_and(|wipe| wipe >= t_ms)
                || shut_down.get(agent.as_str()).is_some_and(|s| s >= t_ms);
            match received.get(&(uuid.clone(), *n)) {
                None if excused => {}
                None => violations.push(Violation {
                    checker: "update_delivery".into(),
                    t_ms: *t_ms,
                    message: format!(
                        "{agent} queued update {uuid} ({state}) of {framework}/{task} but the framework never received it"
                    ),
                    processes: vec![agent.to_string()],
                }),
                Some(at) => {
                    if let Some((before, previous)) = last_receipt {
                        if *at < before {
                            violations.push(Violation {
                                checker: "update_delivery".into(),
                                t_ms: records[*at].t_ms,
                                message: format!(
                                    "{framework}/{task}: update {uuid} ({state}) first reached the framework before {previous}, which {agent} queued earlier"
                                ),
                                processes: vec![agent.to_string()],
                            });
                        }
                    }
                    last_receipt = Some((*at, uuid));
                }
            }
        }
    }
    violations
}
