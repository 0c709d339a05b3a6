//! `one_copy_at_a_time`: a task ID is never started while a copy of it is
//! still running (on any executor host).

use crate::names;
use crate::report::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::{Event, ProcessId};
use std::collections::BTreeMap;

/// What the checker remembers as it reads the trace in order.
#[derive(Default)]
pub struct OneCopyAtATime {
    /// task (framework/task) -> executor host running a copy
    running: BTreeMap<String, ProcessId>,
}

impl OneCopyAtATime {
    pub fn observe(&mut self, r: &TraceRecord, violations: &mut Vec<Violation>) {
        match &r.kind {
            TraceKind::Event {
                event:
                    Event::TaskStarted {
                        framework_id,
                        task_id,
                    },
            } => {
                let key = format!("{framework_id}/{task_id}");
                if let Some(other) = self.running.get(&key) {
                    violations.push(Violation {
                        checker: "one_copy_at_a_time".into(),
                        t_ms: r.t_ms,
                        message: format!(
                            "task {key} started on {} while a copy runs on {other}",
                            r.at
                        ),
                        processes: vec![r.at.to_string(), other.to_string()],
                    });
                }
                self.running.insert(key, r.at.clone());
            }
            TraceKind::Event {
                event:
                    Event::TaskExited {
                        framework_id,
                        task_id,
                        ..
                    },
            } => {
                self.running.remove(&format!("{framework_id}/{task_id}"));
            }
            // A dead executor host's tasks are dead with it.
            TraceKind::Process { what, .. }
                if names::is_executor_host(r.at.as_str()) && what == "exited" =>
            {
                self.running.retain(|_, host| *host != r.at);
            }
            TraceKind::Fault { fault, detail }
                if fault == "crash" && names::is_executor_host(detail) =>
            {
                self.running.retain(|_, host| host.as_str() != detail);
            }
            // A machine whose power fails takes its executor host's tasks with
            // it (`power_off` names the machine, `agent-N`, optionally with a
            // torn-write note).
            TraceKind::Fault { fault, detail } if fault == "power_off" => {
                let machine = detail.split_whitespace().next().unwrap_or_default();
                if let Some(n) = names::agent_number(machine) {
                    let host = names::executors(n);
                    self.running.retain(|_, h| *h != host);
                }
            }
            _ => {}
        }
    }
}
