//! `[expect.leader]`: the final leader's soft state, as Mesos tests assert on the
//! master's `/state` (frameworks active, inactive or completed, completed and
//! unreachable tasks, agent IDs, outstanding offers).

use crate::report::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::master::Leader;
use mesochaos_reference::{AgentId, Event, Reason, TaskId, TaskState};
use serde::Serialize;

/// A framework's status in the leader's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FrameworkStatus {
    /// Registered and connected: it gets offers and updates.
    Active,
    /// Known (registered, or reported by agents), not connected.
    Inactive,
    /// Removed (failover timeout, teardown): among the completed frameworks.
    Completed,
    /// Not known to the leader at all.
    Unknown,
}

impl FrameworkStatus {
    pub const ALL: [FrameworkStatus; 4] = [
        FrameworkStatus::Active,
        FrameworkStatus::Inactive,
        FrameworkStatus::Completed,
        FrameworkStatus::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FrameworkStatus::Active => "active",
            FrameworkStatus::Inactive => "inactive",
            FrameworkStatus::Completed => "completed",
            FrameworkStatus::Unknown => "unknown",
        }
    }
}

/// Which of the leader's task lists holds a task (Mesos `/state`'s names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TaskList {
    /// A framework's task table (tasks not yet retired).
    Tasks,
    /// A framework's unreachable tasks (their agent was marked unreachable).
    UnreachableTasks,
    /// A framework's completed tasks, or a completed framework's tasks.
    CompletedTasks,
    /// None of them.
    None,
}

impl TaskList {
    pub const ALL: [TaskList; 4] = [
        TaskList::Tasks,
        TaskList::UnreachableTasks,
        TaskList::CompletedTasks,
        TaskList::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TaskList::Tasks => "tasks",
            TaskList::UnreachableTasks => "unreachable_tasks",
            TaskList::CompletedTasks => "completed_tasks",
            TaskList::None => "none",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameworkExpectation {
    pub name: String,
    pub status: Option<FrameworkStatus>,
    /// Exact sizes of its task lists (a completed framework's tasks count as
    /// completed tasks).
    pub tasks: Option<u64>,
    pub unreachable_tasks: Option<u64>,
    pub completed_tasks: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskExpectation {
    pub task: TaskId,
    /// Only this framework's lists (by name); any framework otherwise.
    pub framework: Option<String>,
    pub list: Option<TaskList>,
    pub state: Option<TaskState>,
    /// Only completed tasks keep a reason.
    pub reason: Option<Reason>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentExpectation {
    /// The agent process (`agent-1`).
    pub agent: String,
    /// The step before which its ID is read (the ID it last registered under
    /// before that step began).
    pub before_step: usize,
    /// The leader holds it under that same ID (`true`) or another (`false`).
    pub same_id: bool,
}

/// `[expect.leader]`: the final leader's soft state.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LeaderExpectations {
    /// Exactly this many outstanding offers.
    pub offers: Option<u64>,
    pub frameworks: Vec<FrameworkExpectation>,
    pub tasks: Vec<TaskExpectation>,
    pub agents: Vec<AgentExpectation>,
}

/// The ID agent process `agent` last registered under before step `step`
/// began (read off the trace, up to that step's marker): `Err` if the step
/// never began, `Ok(None)` if the agent had not registered by then.
fn agent_id_before(
    records: &[TraceRecord],
    agent: &str,
    step: usize,
) -> Result<Option<AgentId>, ()> {
    let marker = format!("{step}: ");
    let end = records
        .iter()
        .position(|r| {
            matches!(&r.kind, TraceKind::Fault { fault, detail } if fault == "step" && detail.starts_with(&marker))
        })
        .ok_or(())?;
    Ok(records[..end]
        .iter()
        .rev()
        .filter(|r| r.at.as_str() == agent)
        .filter_map(|r| match &r.kind {
            TraceKind::Event {
                event: Event::AgentRegisteredWith { agent_id, .. },
            } => Some(agent_id.clone()),
            _ => None,
        })
        .next())
}

/// Checks `[expect.leader]` against the final leader (`None`: no leader).
pub fn check_leader(
    expect: &LeaderExpectations,
    leader: Option<&Leader>,
    records: &[TraceRecord],
    end_ms: u64,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut fail = |message: String| {
        violations.push(Violation {
            checker: "leader_state".into(),
            t_ms: end_ms,
            message,
            processes: vec![],
        })
    };
    let Some(leader) = leader else {
        fail("expect.leader: there is no leader at the end of the run".into());
        return violations;
    };
    if let Some(offers) = expect.offers {
        let outstanding = leader.offers.len() as u64;
        if outstanding != offers {
            fail(format!(
                "expect.leader offers: the leader has {outstanding} outstanding offers, expected {offers}"
            ));
        }
    }
    for f in &expect.frameworks {
        let entries: Vec<_> = leader
            .frameworks
            .values()
            .filter(|e| e.info.name == f.name)
            .collect();
        let completed: Vec<_> = leader
            .completed_frameworks
            .values()
            .filter(|c| c.info.name == f.name)
            .collect();
        let status = if entries.iter().any(|e| e.active) {
            FrameworkStatus::Active
        } else if !entries.is_empty() {
            FrameworkStatus::Inactive
        } else if !completed.is_empty() {
            FrameworkStatus::Completed
        } else {
            FrameworkStatus::Unknown
        };
        let what = format!("expect.leader framework {}", f.name);
        if let Some(want) = f.status {
            if status != want {
                fail(format!(
                    "{what}: it is {}, expected {}",
                    status.name(),
                    want.name()
                ));
            }
        }
        let sizes = [
            (
                "tasks",
                f.tasks,
                entries.iter().map(|e| e.tasks.len()).sum::<usize>(),
            ),
            (
                "unreachable_tasks",
                f.unreachable_tasks,
                entries.iter().map(|e| e.unreachable_tasks.len()).sum(),
            ),
            (
                "completed_tasks",
                f.completed_tasks,
                entries
                    .iter()
                    .map(|e| e.completed_tasks.len())
                    .sum::<usize>()
                    + completed.iter().map(|c| c.tasks.len()).sum::<usize>(),
            ),
        ];
        for (list, want, have) in sizes {
            if let Some(want) = want {
                if have as u64 != want {
                    fail(format!("{what}: {have} {list}, expected {want}"));
                }
            }
        }
    }
    for t in &expect.tasks {
        let ours = |name: &str| t.framework.as_ref().is_none_or(|f| f == name);
        // (list, state, reason) of every place the task is.
        let mut found: Vec<(TaskList, TaskState, Option<Reason>)> = Vec::new();
        for e in leader.frameworks.values().filter(|e| ours(&e.info.name)) {
            if let Some(task) = e.tasks.get(&t.task) {
                found.push((TaskList::Tasks, task.state, None));
            }
            if let Some(task) = e.unreachable_tasks.get(&t.task) {
                found.push((TaskList::UnreachableTasks, task.state, None));
            }
            if let Some(task) = e.completed_tasks.get(&t.task) {
                found.push((TaskList::CompletedTasks, task.state, task.reason));
            }
        }
        for c in leader
            .completed_frameworks
            .values()
            .filter(|c| ours(&c.info.name))
        {
            if let Some(task) = c.tasks.get(&t.task) {
                found.push((TaskList::CompletedTasks, task.state, task.reason));
            }
        }
        let what = format!("expect.leader task {}", t.task);
        let describe = |found: &[(TaskList, TaskState, Option<Reason>)]| {
            found
                .iter()
                .map(|(list, state, reason)| match reason {
                    Some(r) => format!("{state} ({r}) in {}", list.name()),
                    None => format!("{state} in {}", list.name()),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if t.list == Some(TaskList::None) {
            if !found.is_empty() {
                fail(format!(
                    "{what}: expected in none of the leader's lists, found {}",
                    describe(&found)
                ));
            }
            continue;
        }
        let candidates: Vec<_> = found
            .iter()
            .filter(|(list, ..)| t.list.is_none_or(|l| l == *list))
            .collect();
        if candidates.is_empty() {
            fail(match (t.list, found.is_empty()) {
                (_, true) => format!("{what}: the leader does not know it"),
                (Some(list), false) => {
                    format!("{what}: not in {}; found {}", list.name(), describe(&found))
                }
                (None, false) => unreachable!("no list: every place is a candidate"),
            });
            continue;
        }
        let fits = candidates.iter().any(|(_, state, reason)| {
            t.state.is_none_or(|s| s == *state) && t.reason.is_none_or(|r| Some(r) == *reason)
        });
        if !fits {
            let mut want = String::new();
            if let Some(s) = t.state {
                want.push_str(&format!(" {s}"));
            }
            if let Some(r) = t.reason {
                want.push_str(&format!(" ({r})"));
            }
            fail(format!(
                "{what}: expected{want}, found {}",
                describe(&found)
            ));
        }
    }
    for a in &expect.agents {
        let what = format!("expect.leader agent {}", a.agent);
        let before = match agent_id_before(records, &a.agent, a.before_step) {
            Ok(Some(id)) => id,
            Ok(None) => {
                fail(format!(
                    "{what}: it had not registered before step {}",
                    a.before_step
                ));
                continue;
            }
            Err(()) => {
                fail(format!("{what}: step {} never began", a.before_step));
                continue;
            }
        };
        let entries: Vec<(&AgentId, bool)> = leader
            .agents
            .iter()
            .filter(|(_, e)| e.process.as_str() == a.agent)
            .map(|(id, e)| (id, e.connected))
            .collect();
        let connected: Vec<&AgentId> = entries
            .iter()
            .filter(|(_, c)| *c)
            .map(|(id, _)| *id)
            .collect();
        let now = match (connected.as_slice(), entries.as_slice()) {
            ([one], _) => (*one).clone(),
            ([], [(one, _)]) => (*one).clone(),
            ([], []) => {
                fail(format!("{what}: the leader holds no agent on {}", a.agent));
                continue;
            }
            _ => {
                let ids: Vec<String> = entries.iter().map(|(id, _)| id.to_string()).collect();
                fail(format!(
                    "{what}: the leader holds several agents on {}: {}",
                    a.agent,
                    ids.join(", ")
                ));
                continue;
            }
        };
        if (now == before) != a.same_id {
            fail(if a.same_id {
                format!(
                    "{what}: the leader holds it as {now}, not under the ID it had before step {} ({before})",
                    a.before_step
                )
            } else {
                format!(
                    "{what}: the leader still holds it under the ID it had before step {} ({before})",
                    a.before_step
                )
            });
        }
    }
    violations
}
