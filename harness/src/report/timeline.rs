//! The timeline: the key moments of a run, one line each, for people.

use super::TimelineEntry;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::Event;

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
        lines.push(TimelineEntry {
            t_ms: r.t_ms,
            at: r.at.to_string(),
            text,
        });
    }
    lines
}
