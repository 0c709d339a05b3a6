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

use crate::checkers::framework_of;
use crate::run::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::master::Leader;
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
                    let (framework_id, scheduler) =
                        crate::checkers::registration(event).expect("a registration");
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

/// What a timing expectation is about.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Happening {
    Update(UpdateMatch),
    Event(EventMatch),
}

impl fmt::Display for Happening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Happening::Update(u) => write!(f, "update: {u}"),
            Happening::Event(e) => write!(f, "event {e}"),
        }
    }
}

/// Where a `never` window ends.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum WindowEnd {
    /// When this step is done.
    Step(usize),
    /// This long after the window starts.
    After(u64),
    /// The end of the run.
    EndOfRun,
}

/// `[[expect.timing]]`: something happens no earlier / no later than a time
/// after a step is done, or never in a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimingExpectation {
    /// How violations name it: its `name`, or `expect.timing #N`.
    pub name: String,
    pub what: Happening,
    /// The step after which it is measured (0: the start of the run).
    pub after_step: usize,
    pub not_before_ms: Option<u64>,
    pub not_after_ms: Option<u64>,
    /// `never = true`: it must not happen from `after_step` to this end.
    pub never: Option<WindowEnd>,
}

/// The time each step was done (`None`: never done); step 0 is the run's start.
pub fn step_done(done: &[u64], step: usize) -> Option<u64> {
    if step == 0 {
        return Some(0);
    }
    done.get(step - 1).copied()
}

fn secs(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.2}s", ms as f64 / 1000.0)
    }
}

/// Checks the timing expectations against the trace. `done` holds the time
/// each step was done, in order; `end_ms` is the end of the run.
pub fn check_timing(
    expectations: &[TimingExpectation],
    records: &[TraceRecord],
    done: &[u64],
    end_ms: u64,
) -> Vec<Violation> {
    if expectations.is_empty() {
        return vec![];
    }
    let names = Names::of(records);
    let mut violations = Vec::new();
    for e in expectations {
        let mut fail = |message: String| {
            violations.push(Violation {
                checker: "timing".into(),
                t_ms: end_ms,
                message: format!("{} ({}): {message}", e.name, e.what),
                processes: vec![],
            })
        };
        let step_name = |step: usize| {
            if step == 0 {
                "the start of the run".to_string()
            } else {
                format!("step {step}")
            }
        };
        let Some(start) = step_done(done, e.after_step) else {
            fail(format!("{} was never done", step_name(e.after_step)));
            continue;
        };
        let times = records
            .iter()
            .filter(|r| r.t_ms >= start)
            .filter(|r| match &e.what {
                Happening::Update(u) => u.matches(r),
                Happening::Event(ev) => ev.matches(r, &names),
            })
            .map(|r| r.t_ms);
        if let Some(end) = &e.never {
            let (until, label) = match end {
                WindowEnd::Step(step) => match step_done(done, *step) {
                    Some(t) => (t, format!("{} was done", step_name(*step))),
                    // The run stopped before it: the window ran to the end.
                    None => (end_ms, "the end of the run".into()),
                },
                WindowEnd::After(ms) => (start + ms, format!("{} later", secs(*ms))),
                WindowEnd::EndOfRun => (end_ms, "the end of the run".into()),
            };
            // Half-open: what happens in the tick after the window's end
            // was done is recorded at that time, and is after the window.
            let hits: Vec<u64> = times.filter(|t| *t < until).collect();
            if let Some(first) = hits.first() {
                fail(format!(
                    "it happened {} times between {} ({}) and {label} ({}), the first at {} ({} after)",
                    hits.len(),
                    step_name(e.after_step),
                    secs(start),
                    secs(until),
                    secs(*first),
                    secs(first - start)
                ));
            }
            continue;
        }
        let Some(first) = times.min() else {
            fail(format!(
                "it did not happen after {} ({})",
                step_name(e.after_step),
                secs(start)
            ));
            continue;
        };
        let after = first - start;
        if let Some(min) = e.not_before_ms {
            if after < min {
                fail(format!(
                    "it happened at {}, {} after {}: earlier than not_before = {}",
                    secs(first),
                    secs(after),
                    step_name(e.after_step),
                    secs(min)
                ));
            }
        }
        if let Some(max) = e.not_after_ms {
            if after > max {
                fail(format!(
                    "it happened at {}, {} after {}: later than not_after = {}",
                    secs(first),
                    secs(after),
                    step_name(e.after_step),
                    secs(max)
                ));
            }
        }
    }
    violations
}

// ----- the final leader's state -----

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
