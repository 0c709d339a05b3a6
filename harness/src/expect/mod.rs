//! Timing expectations and expectations over the final leader's state: what
//! Apache Mesos's tests say with `Clock::advance` ("not before the ping
//! timeout", "within the re-registration window", "never") and with asserts on
//! the master's `/state` (frameworks active, inactive or completed, completed
//! and unreachable tasks, agent IDs, outstanding offers).
//!
//! Steps are numbered from 1 as in the scenario file; step 0 is the start of
//! the run. A step is *done* when the next one may start (a fault at once, a
//! `wait` when its condition held, a `sleep` at its end, a scheduler call or an
//! injection one tick after it was handed over).
//!
//! This file holds what both kinds match the trace with (updates, named
//! events); [`timing`] the `[[expect.timing]]` windows, [`leader`] the
//! `[expect.leader]` state.

mod leader;
mod timing;

pub use leader::{
    check_leader, AgentExpectation, FrameworkExpectation, FrameworkStatus, LeaderExpectations,
    TaskExpectation, TaskList,
};
pub use timing::{check_timing, step_done, Happening, TimingExpectation, WindowEnd};

use crate::names::framework_of;
use crate::trace::{registration, TraceKind, TraceRecord};
use mesochaos_reference::{AgentId, Event, Reason, Source, TaskId, TaskState};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Status updates a framework's scheduler instances received, narrowed down.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateMatch {
    pub framework: String,
    pub state: TaskState,
    pub reason: Option<Reason>,
    pub source: Option<Source>,
    pub task: Option<TaskId>,
    /// The scheduler instance that received it (`scheduler-web-2`).
    pub instance: Option<String>,
}

impl UpdateMatch {
    /// Whether `record` is a matching update received by a scheduler instance.
    pub fn matches(&self, record: &TraceRecord) -> bool {
        let TraceKind::Event {
            event:
                Event::UpdateReceived {
                    task_id,
                    state,
                    reason,
                    source,
                    ..
                },
        } = &record.kind
        else {
            return false;
        };
        framework_of(&record.at) == Some(self.framework.as_str())
            && *state == self.state
            && self.reason.is_none_or(|r| Some(r) == *reason)
            && self.source.is_none_or(|s| s == *source)
            && self.task.as_ref().is_none_or(|t| t == task_id)
            && self
                .instance
                .as_ref()
                .is_none_or(|i| i == record.at.as_str())
    }
}

impl fmt::Display for UpdateMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} hears {}", self.framework, self.state)?;
        if let Some(task) = &self.task {
            write!(f, " for {task}")?;
        }
        if let Some(reason) = self.reason {
            write!(f, " ({reason})")?;
        }
        if let Some(source) = self.source {
            let name = serde_json::to_value(source).expect("sources serialize");
            write!(f, " from {}", name.as_str().unwrap_or("?"))?;
        }
        if let Some(instance) = &self.instance {
            write!(f, " at {instance}")?;
        }
        Ok(())
    }
}

/// The trace events a timing expectation can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NamedEvent {
    /// A master was elected leader (`master`).
    LeaderElected,
    /// The leader admitted an agent under a new agent ID (`agent`).
    AgentRegistered,
    /// An agent re-registered with the leader (`agent`).
    AgentReregistered,
    /// The leader saw an agent's connection close (`agent`).
    AgentDisconnected,
    /// The leader marked an agent unreachable (`agent`).
    AgentUnreachable,
    /// The leader registered a framework (`framework`).
    FrameworkRegistered,
    /// A framework re-registered with the leader (`framework`).
    FrameworkReregistered,
    /// The leader removed a framework: failover timeout or teardown (`framework`).
    FrameworkRemoved,
    /// An executor host started a task (`task`).
    TaskStarted,
    /// An agent acted on a command from a master (`agent`, `master`, `kind`).
    CommandAccepted,
    /// A process ignored a message (`process`, `from`, `kind`).
    MessageIgnored,
}

impl NamedEvent {
    pub const ALL: [NamedEvent; 11] = [
        NamedEvent::LeaderElected,
        NamedEvent::AgentRegistered,
        NamedEvent::AgentReregistered,
        NamedEvent::AgentDisconnected,
        NamedEvent::AgentUnreachable,
        NamedEvent::FrameworkRegistered,
        NamedEvent::FrameworkReregistered,
        NamedEvent::FrameworkRemoved,
        NamedEvent::TaskStarted,
        NamedEvent::CommandAccepted,
        NamedEvent::MessageIgnored,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NamedEvent::LeaderElected => "leader_elected",
            NamedEvent::AgentRegistered => "agent_registered",
            NamedEvent::AgentReregistered => "agent_reregistered",
            NamedEvent::AgentDisconnected => "agent_disconnected",
            NamedEvent::AgentUnreachable => "agent_unreachable",
            NamedEvent::FrameworkRegistered => "framework_registered",
            NamedEvent::FrameworkReregistered => "framework_reregistered",
            NamedEvent::FrameworkRemoved => "framework_removed",
            NamedEvent::TaskStarted => "task_started",
            NamedEvent::CommandAccepted => "command_accepted",
            NamedEvent::MessageIgnored => "message_ignored",
        }
    }

    pub fn parse(text: &str) -> Option<NamedEvent> {
        NamedEvent::ALL.into_iter().find(|e| e.name() == text)
    }

    /// The keys that narrow this event down.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            NamedEvent::LeaderElected => &["master"],
            NamedEvent::AgentRegistered
            | NamedEvent::AgentReregistered
            | NamedEvent::AgentDisconnected
            | NamedEvent::AgentUnreachable => &["agent"],
            NamedEvent::FrameworkRegistered
            | NamedEvent::FrameworkReregistered
            | NamedEvent::FrameworkRemoved => &["framework"],
            NamedEvent::TaskStarted => &["task"],
            NamedEvent::CommandAccepted => &["agent", "master", "kind"],
            NamedEvent::MessageIgnored => &["process", "from", "kind"],
        }
    }
}

/// A named event, narrowed down by the keys it takes (key -> value).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventMatch {
    pub event: NamedEvent,
    pub keys: BTreeMap<String, String>,
}

impl fmt::Display for EventMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.event.name())?;
        for (k, v) in &self.keys {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

/// Who is who in a trace: agent IDs to agent processes, framework IDs to names.
#[derive(Default)]
struct Names {
    agents: BTreeMap<String, String>,
    frameworks: BTreeMap<String, String>,
}

impl Names {
    fn of(records: &[TraceRecord]) -> Names {
        let mut names = Names::default();
        for r in records {
            let TraceKind::Event { event } = &r.kind else {
                continue;
            };
            match event {
                Event::AgentAdmitted { agent_id, agent }
                | Event::AgentReregistered {
                    agent_id, agent, ..
                } => {
                    names.agents.insert(agent_id.to_string(), agent.to_string());
                }
                event @ (Event::FrameworkRegistered { .. }
                | Event::FrameworkReregistered { .. }) => {
                    let (framework_id, scheduler) = registration(event).expect("a registration");
                    if let Some(name) = framework_of(scheduler) {
                        names
                            .frameworks
                            .insert(framework_id.to_string(), name.to_string());
                    }
                }
                _ => {}
            }
        }
        names
    }

    fn agent(&self, id: &AgentId) -> &str {
        self.agents.get(id.as_str()).map_or("", String::as_str)
    }
}

impl EventMatch {
    fn matches(&self, r: &TraceRecord, names: &Names) -> bool {
        let TraceKind::Event { event } = &r.kind else {
            return false;
        };
        let at = r.at.as_str();
        // (key, value) pairs the event has; every key given must be among them.
        let have: Vec<(&str, String)> = match (self.event, event) {
            (NamedEvent::LeaderElected, Event::ElectedLeader { .. }) => {
                vec![("master", at.to_string())]
            }
            (NamedEvent::AgentRegistered, Event::AgentAdmitted { agent, .. })
            | (NamedEvent::AgentReregistered, Event::AgentReregistered { agent, .. }) => {
                vec![("agent", agent.to_string())]
            }
            (NamedEvent::AgentDisconnected, Event::AgentDisconnected { agent_id })
            | (NamedEvent::AgentUnreachable, Event::AgentUnreachable { agent_id }) => {
                vec![("agent", names.agent(agent_id).to_string())]
            }
            (NamedEvent::FrameworkRegistered, Event::FrameworkRegistered { scheduler, .. })
            | (NamedEvent::FrameworkReregistered, Event::FrameworkReregistered { scheduler, .. }) =>
            {
                vec![(
                    "framework",
                    framework_of(scheduler).unwrap_or_default().to_string(),
                )]
            }
            (NamedEvent::FrameworkRemoved, Event::FrameworkRemoved { framework_id, .. }) => {
                let name = names.frameworks.get(framework_id.as_str());
                vec![("framework", name.cloned().unwrap_or_default())]
            }
            (NamedEvent::TaskStarted, Event::TaskStarted { task_id, .. }) => {
                vec![("task", task_id.to_string())]
            }
            (NamedEvent::CommandAccepted, Event::AgentAcceptedCommand { master, kind, .. }) => {
                vec![
                    ("agent", at.to_string()),
                    ("master", master.to_string()),
                    ("kind", kind.clone()),
                ]
            }
            (NamedEvent::MessageIgnored, Event::MessageIgnored { from, kind, .. }) => vec![
                ("process", at.to_string()),
                ("from", from.to_string()),
                ("kind", kind.clone()),
            ],
            _ => return false,
        };
        self.keys
            .iter()
            .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
    }
}
