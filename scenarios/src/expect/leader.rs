//! `[expect.leader]`: the final leader's state, as Mesos's tests assert on
//! `/state` — its frameworks and their status, where each task is listed (and
//! its state and reason), whether an agent kept its ID, the offers out.

use crate::names::Names;
use crate::step::StepRefs;
use crate::values::{parse_reason, parse_state, Invalid};
use mesochaos_harness::expect::{
    AgentExpectation, FrameworkExpectation, FrameworkStatus, LeaderExpectations, TaskExpectation,
    TaskList,
};
use mesochaos_reference::TaskId;
use serde::Deserialize;
use toml::Spanned;

/// `[expect.leader]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLeaderExpect {
    offers: Option<u64>,
    #[serde(default)]
    framework: Vec<Spanned<RawFrameworkExpect>>,
    #[serde(default)]
    task: Vec<Spanned<RawTaskExpect>>,
    #[serde(default)]
    agent: Vec<Spanned<RawAgentExpect>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFrameworkExpect {
    name: Spanned<String>,
    status: Option<Spanned<String>>,
    tasks: Option<u64>,
    unreachable_tasks: Option<u64>,
    completed_tasks: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTaskExpect {
    task: String,
    framework: Option<Spanned<String>>,
    list: Option<Spanned<String>>,
    state: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgentExpect {
    agent: Spanned<String>,
    id: Spanned<String>,
    before_step: Spanned<toml::Value>,
}

pub(crate) fn leader_expectations(
    raw: &Spanned<RawLeaderExpect>,
    names: &Names,
    steps: &StepRefs,
) -> Result<LeaderExpectations, Invalid> {
    let l = raw.get_ref();
    let mut out = LeaderExpectations {
        offers: l.offers,
        ..LeaderExpectations::default()
    };
    for f in &l.framework {
        let f = f.get_ref();
        if !names.frameworks.contains(f.name.get_ref()) {
            return Err((
                f.name.span(),
                format!("no framework named \"{}\"", f.name.get_ref()),
            ));
        }
        let status = f
            .status
            .as_ref()
            .map(|s| {
                FrameworkStatus::ALL
                    .into_iter()
                    .find(|st| st.name() == s.get_ref())
                    .ok_or_else(|| {
                        (
                            s.span(),
                            format!(
                                "unknown framework status \"{}\" (active, inactive, completed or unknown)",
                                s.get_ref()
                            ),
                        )
                    })
            })
            .transpose()?;
        out.frameworks.push(FrameworkExpectation {
            name: f.name.get_ref().clone(),
            status,
            tasks: f.tasks,
            unreachable_tasks: f.unreachable_tasks,
            completed_tasks: f.completed_tasks,
        });
    }
    for entry in &l.task {
        let t = entry.get_ref();
        let framework = match &t.framework {
            Some(f) if !names.frameworks.contains(f.get_ref()) => {
                return Err((f.span(), format!("no framework named \"{}\"", f.get_ref())))
            }
            f => f.as_ref().map(|f| f.get_ref().clone()),
        };
        let list = t
            .list
            .as_ref()
            .map(|s| {
                TaskList::ALL
                    .into_iter()
                    .find(|l| l.name() == s.get_ref())
                    .ok_or_else(|| {
                        (
                            s.span(),
                            format!(
                                "unknown task list \"{}\" (tasks, unreachable_tasks, completed_tasks or none)",
                                s.get_ref()
                            ),
                        )
                    })
            })
            .transpose()?;
        let state = t
            .state
            .as_ref()
            .map(|s| parse_state(s.get_ref()).map_err(|e| (s.span(), e)))
            .transpose()?;
        let reason = t
            .reason
            .as_ref()
            .map(|r| parse_reason(r.get_ref()).map_err(|e| (r.span(), e)))
            .transpose()?;
        if list == Some(TaskList::None) {
            if let Some(v) = t.state.as_ref().or(t.reason.as_ref()) {
                return Err((
                    v.span(),
                    "a task in none of the leader's lists has no state or reason".into(),
                ));
            }
        }
        if let (Some(r), Some(TaskList::Tasks | TaskList::UnreachableTasks)) = (&t.reason, list) {
            return Err((
                r.span(),
                "the leader keeps a reason only for completed tasks (list = \"completed_tasks\")"
                    .into(),
            ));
        }
        out.tasks.push(TaskExpectation {
            task: TaskId::new(t.task.clone()),
            framework,
            list,
            state,
            reason,
        });
    }
    for entry in &l.agent {
        let a = entry.get_ref();
        let name = a.agent.get_ref();
        if !name.starts_with("agent-") || !names.processes.contains(name) {
            return Err((a.agent.span(), format!("no agent named \"{name}\"")));
        }
        let same_id = match a.id.get_ref().as_str() {
            "same" => true,
            "new" => false,
            other => {
                return Err((
                    a.id.span(),
                    format!("id = \"{other}\": write \"same\" (it keeps its ID) or \"new\""),
                ))
            }
        };
        out.agents.push(AgentExpectation {
            agent: name.clone(),
            before_step: steps.get(&a.before_step, "before_step", false)?,
            same_id,
        });
    }
    Ok(out)
}
