//! # `reuse_refused`: the master refuses the launches Mesos refuses
//!
//! An adversarial framework (`reference/src/scheduler/adversary/`) launches tasks under
//! IDs that Mesos's `validation::task::internal::validateUniqueTaskID` refuses:
//! the ID of one of its live tasks, of a terminal task whose update it has not
//! acknowledged yet (the task stays in `Framework::tasks` until `Master::acknowledge`
//! → `removeTask`), or of a task on an unreachable agent
//! (`Framework::unreachableTasks`); and it launches on another role's reserved
//! resources (`validation::task::validate`). Mesos answers each with
//! `TASK_ERROR`, `REASON_TASK_INVALID`, and runs nothing.
//!
//! The adversary traces every such call (`Event::AdversaryCall` with the
//! expected answer `TASK_ERROR (TASK_INVALID)`), and every master traces each
//! launch it accepts (`Event::TaskLaunched`). So the property needs no
//! knowledge of the master's state: **between a refused-by-Mesos call and its
//! answer, no master launches a task under the call's ID for that framework.**
//! A master that accepted it would start a second copy beside a live or
//! unreachable one (`one_copy_at_a_time` sees that only if both copies run at
//! once) or revive a task the framework was about to hear ended.
//!
//! Why the window is exact: the adversary calls only where Mesos's answer is
//! certain (the current leader itself told the framework about the task, so it
//! holds the ID), and its Accept reaches only that leader — a successor never
//! sees the call, so its legitimate ignorance of the ID (MESOS-6785) cannot
//! count against it. The window closes at the call's `AdversaryAnswered` (the
//! refusal, or `no answer` after the adversary's patience).

use crate::names::framework_of;
use crate::report::Violation;
use crate::trace::registration;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::Event;
use std::collections::BTreeMap;

/// The answer Mesos gives to the calls this checker watches
/// (`Expected::TaskInvalid` in the adversary).
const REFUSED: &str = "TASK_ERROR (TASK_INVALID)";

/// Every launch a master accepted under an ID an adversarial call used while
/// Mesos would refuse it.
pub fn check_reuse_refused(records: &[TraceRecord]) -> Vec<Violation> {
    let mut violations = Vec::new();
    // framework name -> its framework ID (from the master's registrations).
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    // (framework ID, task ID) -> (when the call was made, by which instance):
    // the calls still waiting for their answer.
    let mut open: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    for r in records {
        let TraceKind::Event { event } = &r.kind else {
            continue;
        };
        match event {
            event @ (Event::FrameworkRegistered { .. } | Event::FrameworkReregistered { .. }) => {
                let (framework_id, scheduler) = registration(event).expect("a registration");
                if let Some(name) = framework_of(scheduler) {
                    ids.insert(name.to_string(), framework_id.to_string());
                }
            }
            Event::AdversaryCall {
                task_id: Some(task_id),
                expected,
                ..
            } if expected == REFUSED => {
                let Some(fid) = framework_of(&r.at).and_then(|name| ids.get(name)) else {
                    continue;
                };
                open.insert(
                    (fid.clone(), task_id.to_string()),
                    (r.t_ms, r.at.to_string()),
                );
            }
            Event::AdversaryAnswered {
                task_id: Some(task_id),
                ..
            } => {
                if let Some(fid) = framework_of(&r.at).and_then(|name| ids.get(name)) {
                    open.remove(&(fid.clone(), task_id.to_string()));
                }
            }
            Event::TaskLaunched {
                framework_id,
                task_id,
                agent_id,
            } => {
                let key = (framework_id.to_string(), task_id.to_string());
                if let Some((since, caller)) = open.remove(&key) {
                    violations.push(Violation {
                        checker: "reuse_refused".into(),
                        t_ms: r.t_ms,
                        message: format!(
                            "{} launched {task_id} of {framework_id} on {agent_id}, but Mesos refuses the launch {caller} made at {:.2}s (TASK_ERROR, TASK_INVALID: validateUniqueTaskID)",
                            r.at,
                            since as f64 / 1000.0
                        ),
                        processes: vec![r.at.to_string(), caller],
                    });
                }
            }
            _ => {}
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesochaos_reference::{AgentId, FrameworkId, ProcessId, TaskId};

    fn event(t_ms: u64, at: &str, event: Event) -> TraceRecord {
        TraceRecord {
            t_ms,
            at: ProcessId::new(at),
            kind: TraceKind::Event { event },
        }
    }

    fn registered() -> TraceRecord {
        event(
            0,
            "master-1",
            Event::FrameworkRegistered {
                framework_id: FrameworkId::new("e0-F0001"),
                scheduler: ProcessId::new("scheduler-adv-1"),
            },
        )
    }

    fn call(t_ms: u64, expected: &str) -> TraceRecord {
        event(
            t_ms,
            "scheduler-adv-1",
            Event::AdversaryCall {
                action: "reuse_unreachable_task_id".into(),
                task_id: Some(TaskId::new("adv-0001")),
                detail: String::new(),
                expected: expected.into(),
            },
        )
    }

    fn answered(t_ms: u64) -> TraceRecord {
        event(
            t_ms,
            "scheduler-adv-1",
            Event::AdversaryAnswered {
                action: "reuse_unreachable_task_id".into(),
                task_id: Some(TaskId::new("adv-0001")),
                expected: REFUSED.into(),
                answer: "TASK_ERROR (TASK_INVALID): task ID already in use".into(),
            },
        )
    }

    fn launched(t_ms: u64) -> TraceRecord {
        event(
            t_ms,
            "master-1",
            Event::TaskLaunched {
                framework_id: FrameworkId::new("e0-F0001"),
                task_id: TaskId::new("adv-0001"),
                agent_id: AgentId::new("e0-S0002"),
            },
        )
    }

    #[test]
    fn a_launch_under_a_refused_id_before_the_answer_fires() {
        let trace = vec![registered(), launched(5), call(10, REFUSED), launched(11)];
        let violations = check_reuse_refused(&trace);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert_eq!(violations[0].checker, "reuse_refused");
        assert_eq!(violations[0].t_ms, 11);
        assert!(violations[0].message.contains("adv-0001"));
    }

    #[test]
    fn a_refusal_and_a_later_launch_or_an_accepted_reuse_do_not_fire() {
        // Refused, then (the ID free again) launched: fine.
        let refused = vec![registered(), call(10, REFUSED), answered(11), launched(20)];
        assert!(check_reuse_refused(&refused).is_empty());
        // A reuse Mesos accepts (an acknowledged finished task's ID).
        let accepted = vec![registered(), call(10, "accepted"), launched(11)];
        assert!(check_reuse_refused(&accepted).is_empty());
    }
}
