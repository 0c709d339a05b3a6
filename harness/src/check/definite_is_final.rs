//! `definite_is_final`: after a framework hears a *definite* terminal state for
//! a task, it never hears that task is active again, and no copy of it starts
//! (short of a new launch under the ID).

use crate::report::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::task_state::Source;
use mesochaos_reference::{Event, Reason, TaskState};
use std::collections::{BTreeMap, BTreeSet};

/// What the checker remembers as it reads the trace in order.
#[derive(Default)]
pub struct DefiniteIsFinal {
    /// task (framework/task) -> the definite state its framework heard
    definite: BTreeMap<String, TaskState>,
    /// Tasks whose definite state the framework heard only from the master's
    /// AGENT_REREGISTERED announcement, not yet from the agent's own stream.
    heard_from_reregistration: BTreeSet<String>,
}

impl DefiniteIsFinal {
    pub fn observe(&mut self, r: &TraceRecord, violations: &mut Vec<Violation>) {
        let TraceKind::Event { event } = &r.kind else {
            return;
        };
        match event {
            Event::TaskStarted {
                framework_id,
                task_id,
            } => {
                let key = format!("{framework_id}/{task_id}");
                // A definite terminal state means the task is known not to
                // run anywhere (`TaskState::is_definite`): a copy starting
                // after the framework heard one — with no new launch of
                // the ID in between — breaks that promise even if the
                // framework never hears of it (an agent that drops the
                // copy's updates only hides it).
                if let Some(previous) = self.definite.get(&key) {
                    violations.push(Violation {
                        checker: "definite_is_final".into(),
                        t_ms: r.t_ms,
                        message: format!(
                            "task {key} started on {} after its framework heard the definite {previous}",
                            r.at
                        ),
                        processes: vec![r.at.to_string()],
                    });
                }
            }
            // A launch under the ID starts a new task (Mesos accepts the
            // ID of one whose terminal update was acknowledged): what was
            // heard of the old one says nothing of it.
            Event::TaskLaunched {
                framework_id,
                task_id,
                ..
            } => {
                let key = format!("{framework_id}/{task_id}");
                self.heard_from_reregistration.remove(&key);
                self.definite.remove(&key);
            }
            Event::UpdateReceived {
                framework_id,
                task_id,
                state,
                latest_state,
                reason,
                source,
                uuid,
                ..
            } => {
                let key = format!("{framework_id}/{task_id}");
                // Two kinds of active update do not say the task lives:
                // - a retried older update whose task has since ended in
                //   exactly the definite state already heard (its
                //   `latest_state`): Mesos delivers a task's updates in
                //   order even after a reconciliation answer told the
                //   framework the newest state. A replay whose latest state
                //   is any *other* terminal state is not excused: the task
                //   went on after it was declared ended;
                // - a reconciliation answer about a task the master does
                //   not know, which reports its agent's state
                //   (`TASK_UNREACHABLE`: the agent is unreachable) or the
                //   master's ignorance (`TASK_UNKNOWN`) — Mesos
                //   `Master::reconcile` cases 4 and 6 — and can follow a
                //   definite state the framework did not persist, once a
                //   failover has made the master forget the task; and the
                //   master's `TASK_UNREACHABLE` (`AGENT_REMOVED`) for every
                //   task of an agent it marks unreachable, a finished one
                //   whose update is not acknowledged yet included (MESOS-8405).
                let previous = self.definite.get(&key).copied();
                let replay = previous.is_some() && *latest_state == previous;
                let about_the_agent =
                    matches!(
                        reason,
                        Some(Reason::Reconciliation) | Some(Reason::AgentRemoved)
                    ) && matches!(state, TaskState::Unreachable | TaskState::Unknown);
                // Mesos `Master::reconcile` case 1 answers with the task's
                // *status-update* state, which lags behind the state an
                // agent re-registered with (`Master::__reregisterSlave`
                // announces the latter with AGENT_REREGISTERED) until the
                // agent's stream delivers the terminal update: so an
                // older active answer may follow the announcement.
                let lagging_answer = *reason == Some(Reason::Reconciliation)
                    && *source == Source::Master
                    && self.heard_from_reregistration.contains(&key);
                if let Some(previous) = previous {
                    if state.is_active() && !replay && !about_the_agent && !lagging_answer {
                        violations.push(Violation {
                            checker: "definite_is_final".into(),
                            t_ms: r.t_ms,
                            message: format!(
                                "{} heard {key} is {state} after the definite {previous}",
                                r.at
                            ),
                            processes: vec![r.at.to_string()],
                        });
                    }
                }
                // The master's TASK_ERROR for a launch it refused
                // (`validateUniqueTaskID`: the ID is in use), or its
                // TASK_DROPPED / TASK_LOST for a launch on offers no
                // longer valid (`Master::accept` checks the offers
                // first), ends the attempt, not a task already using
                // the ID.
                let refused_attempt = *source == Source::Master
                    && ((*state == TaskState::Error && *reason == Some(Reason::TaskInvalid))
                        || *reason == Some(Reason::InvalidOffers));
                if state.is_definite() && !refused_attempt {
                    if *reason == Some(Reason::AgentReregistered) {
                        self.heard_from_reregistration.insert(key.clone());
                    } else if uuid.is_some() {
                        self.heard_from_reregistration.remove(&key);
                    }
                    self.definite.insert(key, *state);
                }
            }
            _ => {}
        }
    }
}
