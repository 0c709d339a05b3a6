//! The timeline: the key moments of a run, one line each, for people.

use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_reference::Event;
use serde::{Deserialize, Serialize};

/// A line of the human timeline: when, where, and what happened in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Simulated milliseconds since the start of the run.
    pub t_ms: u64,
    /// The process where it happened (`harness` for steps and faults).
    pub at: String,
    /// The sentence.
    pub text: String,
    /// The role event it tells, by name (`ElectedLeader`), if it tells one:
    /// what a walkthrough links to the code that emits it.
    pub event: Option<String>,
}

/// The key moments of a run, for people.
pub fn timeline(records: &[TraceRecord]) -> Vec<TimelineEntry> {
    let mut lines = Vec::new();
    for r in records {
        let text = match &r.kind {
            TraceKind::Fault { fault, detail } if fault == "step" => format!("step {detail}"),
            TraceKind::Fault { fault, detail } => format!("FAULT {fault} {detail}"),
            TraceKind::Process {
                what,
                incarnation,
                why,
            } => match why {
                Some(why) => format!("process {what} (incarnation {incarnation}): {why}"),
                None if *incarnation > 1 => format!("process {what} (incarnation {incarnation})"),
                None => continue,
            },
            TraceKind::Drop { peer, kind, why } if why.starts_with("fault") => {
                format!("dropped {kind} from {peer} ({why})")
            }
            TraceKind::Filter {
                from, kind, what, ..
            } => format!("{what} {kind} from {from} (fault: hold filter)"),
            TraceKind::Event { event } => match event {
                Event::SessionExpired { owner, .. } => {
                    format!("coordinator expired the session of {owner}")
                }
                Event::CoordSessionLost { locally: true, .. } => {
                    "gave up its coordinator session (timeout)".into()
                }
                Event::ElectedLeader { epoch } => format!("elected leader, epoch {epoch}"),
                Event::LeaderRecovered {
                    admitted_agents, ..
                } => {
                    format!("read the registry: {admitted_agents} agents expected to re-register")
                }
                Event::MasterStandby { leader } => match leader {
                    Some(l) => format!("standby (leader: {l})"),
                    None => "standby".into(),
                },
                Event::AgentAdmitted { agent_id, agent } => {
                    format!("admitted {agent} as {agent_id}")
                }
                Event::AgentReregistered {
                    agent_id,
                    agent,
                    tasks,
                } => {
                    format!("{agent} ({agent_id}) re-registered with {tasks} tasks")
                }
                Event::AgentUnreachable { agent_id } => format!("marked {agent_id} unreachable"),
                Event::ReconciliationDropped {
                    framework_id,
                    task_id,
                } => format!(
                    "no reconciliation answer for {task_id} of {framework_id} yet: \
                     its agent has not re-registered"
                ),
                Event::FrameworkRegistered {
                    framework_id,
                    scheduler,
                } => {
                    format!("registered framework {framework_id} ({scheduler})")
                }
                Event::FrameworkReregistered {
                    framework_id,
                    scheduler,
                    ..
                } => format!("framework {framework_id} re-registered ({scheduler})"),
                Event::FrameworkDeactivated { framework_id } => {
                    format!("framework {framework_id} disconnected")
                }
                Event::UpdateReceived {
                    task_id,
                    state,
                    reason,
                    ..
                } => match reason {
                    Some(reason) => format!("{task_id} {state} ({reason})"),
                    None => format!("{task_id} {state}"),
                },
                Event::SchedulerKilling { task_id } => format!("killing {task_id}"),
                Event::SchedulerError { message } => format!("error from master: {message}"),
                Event::SchedulerSteppedDown { why } => format!("stepped down: {why}"),
                Event::SchedulerActive {
                    framework_id,
                    known_tasks,
                } => match framework_id {
                    Some(id) => {
                        format!("active instance of {id} ({known_tasks} tasks in its state)")
                    }
                    None => "active instance of a new framework".into(),
                },
                Event::FrameworkRemoved {
                    framework_id,
                    tasks,
                } => {
                    format!(
                        "removed framework {framework_id} (failover timeout or teardown): {tasks} tasks killed"
                    )
                }
                Event::TaskExited { task_id, state, .. } => format!("{task_id} exited: {state}"),
                Event::OperationRefused {
                    operation, reason, ..
                } => format!("refused {operation}: {reason}"),
                Event::DbRecovered {
                    task_id,
                    records,
                    last,
                    ..
                } => format!("{task_id} read its volume: {records} records, the last #{last}"),
                Event::MessageIgnored { from, kind, why } if !why.contains("recovered leader") => {
                    format!("ignored {kind} from {from}: {why}")
                }
                _ => continue,
            },
            _ => continue,
        };
        let event = match &r.kind {
            TraceKind::Event { event } => Some(event_name(event)),
            _ => None,
        };
        lines.push(TimelineEntry {
            t_ms: r.t_ms,
            at: r.at.to_string(),
            text,
            event,
        });
    }
    lines
}

/// An event's variant name, as the trace writes it (`{"ElectedLeader":{..}}`).
pub fn event_name(event: &Event) -> String {
    match serde_json::to_value(event) {
        Ok(serde_json::Value::Object(map)) => map.keys().next().cloned().unwrap_or_default(),
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}
