//! # Do a real run and the simulation tell the same story?
//!
//! A simulation earns trust when the code it tests, run for real, ends the
//! same way. [`Story`] is what a run must agree on, with timing taken out:
//!
//! - **each task's updates, as its framework heard them**: the sequence of
//!   (state, reason), in order — the order Mesos promises a framework
//!   (`TaskStatusUpdateManager` sends one update at a time and waits for its
//!   acknowledgement). Each update counts once: one heard again with the same
//!   UUID is a retransmission, and whether there is one depends on whether a
//!   crash landed before or after the acknowledgement — timing (Mesos
//!   delivers status updates at least once; a scheduler must accept
//!   duplicates, `TaskStatusUpdateManager::resume` resends the unacknowledged
//!   one after an agent restarts). Likewise a reconciliation answer that
//!   repeats the state last heard (`Master::reconcile` answers with what the
//!   master knows): it follows every scheduler re-registration and races
//!   the end of the run — CI caught the simulation ending a failover run one
//!   tick before those answers came, and a real run 100 ms polls later,
//!   after them. One that reports another state stays in the story;
//! - **what the leader holds at the end**: each framework (by name), whether
//!   it is active and whether an instance is attached; each task (by
//!   framework name and task ID) and its state; how the frameworks that
//!   ended left their tasks; reservations and volumes; the agents, as a
//!   multiset of (connected, total, used).
//!
//! Taken out, because they follow from timing rather than from the
//! protocol: every time; IDs the masters assign (`e0-S0001`, `e0-F0001`:
//! agents are numbered in the order they register, a race for real), hence
//! which agent a task or a volume landed on (offers go out in agent-ID
//! order); which master leads, and which instance of a framework is
//! active (both first elections are races: CI saw the simulation's first
//! active scheduler instance be `scheduler-web-2` and a real run's
//! `scheduler-web-1`, so after the failover each had the other).

use mesochaos_harness::names::framework_of;
use mesochaos_harness::report::FinalState;
use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_reference::resources::Resources;
use mesochaos_reference::task_state::{Reason, TaskState};
use mesochaos_reference::Event;
use std::collections::BTreeMap;

/// A task, by its framework's name and its ID.
pub type TaskKey = (String, String);

/// An update as a story tells it: its state and reason.
pub type Heard = (TaskState, Option<Reason>);

/// What a real run and the simulation of the same scenario must agree on.
#[derive(Debug, PartialEq, Eq)]
pub struct Story {
    /// (framework, task) → the (state, reason) its framework heard, in order.
    pub updates: BTreeMap<TaskKey, Vec<Heard>>,
    /// Framework name → (active, whether a scheduler instance is attached).
    pub frameworks: BTreeMap<String, (bool, bool)>,
    /// (framework, task) → state, as the leader holds it.
    pub tasks: BTreeMap<TaskKey, TaskState>,
    /// (framework, task) → how a task of a removed framework ended.
    pub completed: BTreeMap<TaskKey, Heard>,
    /// The agents the leader knows, each as (connected, total, used), sorted.
    pub agents: Vec<(bool, Resources, Resources)>,
    /// Reservations as (role, resources), sorted.
    pub reservations: Vec<(String, Resources)>,
    /// Volumes as (role, volume, size, task using it), sorted.
    pub volumes: Vec<(String, String, u64, Option<String>)>,
    /// Whether a leader was serving at the end.
    pub leader: bool,
}

impl Story {
    /// The story of a run that ended in `state` after `records`.
    pub fn of(state: &FinalState, records: &[TraceRecord]) -> Story {
        let framework_name = |id: &str| {
            state
                .frameworks
                .iter()
                .find(|f| f.framework_id.as_str() == id)
                .map_or_else(|| id.to_string(), |f| f.name.clone())
        };
        let mut heard: BTreeMap<TaskKey, Vec<Heard>> = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        for r in records {
            let TraceKind::Event {
                event:
                    Event::UpdateReceived {
                        task_id,
                        state,
                        reason,
                        uuid,
                        ..
                    },
            } = &r.kind
            else {
                continue;
            };
            let Some(framework) = framework_of(&r.at) else {
                continue;
            };
            if let Some(uuid) = uuid {
                if !seen.insert((framework.to_string(), uuid.clone())) {
                    continue; // a retransmission of an update already heard
                }
            }
            let list = heard
                .entry((framework.to_string(), task_id.to_string()))
                .or_default();
            if *reason == Some(Reason::Reconciliation)
                && list.last().is_some_and(|(last, _)| last == state)
            {
                // A reconciliation answer repeating the state last heard
                // tells nothing new; whether it arrives before the run ends
                // is timing (it follows every re-registration, and races
                // the last step).
                continue;
            }
            list.push((*state, *reason));
        }
        let mut agents: Vec<(bool, Resources, Resources)> = state
            .agents
            .iter()
            .map(|a| (a.connected, a.total, a.used))
            .collect();
        agents.sort_by_key(|a| format!("{a:?}"));
        let mut reservations: Vec<(String, Resources)> = state
            .reservations
            .iter()
            .map(|r| (r.role.clone(), r.resources))
            .collect();
        reservations.sort_by_key(|r| format!("{r:?}"));
        let mut volumes: Vec<(String, String, u64, Option<String>)> = state
            .volumes
            .iter()
            .map(|v| {
                (
                    v.role.clone(),
                    v.id.clone(),
                    v.disk_mb,
                    v.in_use_by.as_ref().map(|t| t.to_string()),
                )
            })
            .collect();
        volumes.sort();
        Story {
            updates: heard,
            frameworks: state
                .frameworks
                .iter()
                .map(|f| (f.name.clone(), (f.active, f.scheduler.is_some())))
                .collect(),
            tasks: state
                .tasks
                .iter()
                .map(|t| {
                    (
                        (
                            framework_name(t.framework_id.as_str()),
                            t.task_id.to_string(),
                        ),
                        t.state,
                    )
                })
                .collect(),
            completed: state
                .completed_frameworks
                .iter()
                .flat_map(|f| {
                    f.tasks.iter().map(move |t| {
                        ((f.name.clone(), t.task_id.to_string()), (t.state, t.reason))
                    })
                })
                .collect(),
            agents,
            reservations,
            volumes,
            leader: state.leader.is_some(),
        }
    }
}

/// Where `real` tells a different story from `simulated`, one line each
/// (empty: they agree).
pub fn differences(simulated: &Story, real: &Story) -> Vec<String> {
    let mut out = Vec::new();
    let show = |list: &[Heard]| {
        list.iter()
            .map(|(s, r)| match r {
                Some(r) => format!("{s:?} ({r:?})"),
                None => format!("{s:?}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tasks: std::collections::BTreeSet<&TaskKey> = simulated
        .updates
        .keys()
        .chain(real.updates.keys())
        .collect();
    for key in tasks {
        let (s, r) = (
            simulated.updates.get(key).map(Vec::as_slice).unwrap_or(&[]),
            real.updates.get(key).map(Vec::as_slice).unwrap_or(&[]),
        );
        if s != r {
            out.push(format!(
                "{} heard for {}: simulated [{}], real [{}]",
                key.0,
                key.1,
                show(s),
                show(r)
            ));
        }
    }
    // The final state, part by part, each rendered the same way for both.
    let parts = |story: &Story| {
        [
            ("a leader at the end", story.leader.to_string()),
            ("the leader's frameworks", format!("{:?}", story.frameworks)),
            ("the leader's tasks", format!("{:?}", story.tasks)),
            (
                "the tasks of removed frameworks",
                format!("{:?}", story.completed),
            ),
            ("the leader's agents", format!("{:?}", story.agents)),
            ("reservations", format!("{:?}", story.reservations)),
            ("volumes", format!("{:?}", story.volumes)),
        ]
    };
    for ((what, s), (_, r)) in parts(simulated).into_iter().zip(parts(real)) {
        if s != r {
            out.push(format!("{what}: simulated {s}, real {r}"));
        }
    }
    out
}
