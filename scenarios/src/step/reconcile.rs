//! Reconciliation questions, as a `reconcile` step or an injected `Reconcile`
//! writes them: plain task IDs, or `{ task, agent }` naming the agent by its
//! ID or by a target whose current agent ID is used (Mesos's explicit
//! reconciliation with an agent ID).

use crate::names::Names;
use crate::values::Invalid;
use mesochaos_faults::Target;
use mesochaos_harness::filters::AgentRef;
use mesochaos_reference::{AgentId, TaskId};
use std::ops::Range;

/// An `AgentId` as the reference writes them: `e<epoch>-S<number>`.
fn looks_like_agent_id(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    text.strip_prefix('e')
        .and_then(|rest| rest.split_once("-S"))
        .is_some_and(|(epoch, n)| digits(epoch) && digits(n))
}

/// An agent named in a reconciliation question: an agent ID, or a target
/// naming an agent whose current ID is used.
fn agent_ref(text: &str, names: &Names, span: &Range<usize>) -> Result<AgentRef, Invalid> {
    if looks_like_agent_id(text) {
        return Ok(AgentRef::Id(AgentId::new(text)));
    }
    let target = Target::parse(text);
    let names_an_agent = match &target {
        Target::AgentOf(_) | Target::AgentRunning(_) => true,
        Target::Process(p) => p.starts_with("agent-"),
        _ => false,
    };
    if !names_an_agent {
        return Err((
            span.clone(),
            format!(
                "agent \"{text}\" is neither an agent ID (e0-S0001) nor an agent (agent-2, \
                 agent-of:<task>, agent-running:<framework>)"
            ),
        ));
    }
    Ok(AgentRef::Of(names.target(text, span)?))
}

/// Reconciliation questions: task IDs, or `{ task = "...", agent = "..." }`.
pub(crate) fn reconcile_items(
    items: &[toml::Value],
    names: &Names,
    span: &Range<usize>,
) -> Result<Vec<(TaskId, Option<AgentRef>)>, Invalid> {
    const FORM: &str =
        "a reconciliation item is a task ID or { task = \"web-0001\", agent = \"<agent ID or agent target>\" }";
    items
        .iter()
        .map(|item| match item {
            toml::Value::String(task) => Ok((TaskId::new(task.clone()), None)),
            toml::Value::Table(table) => {
                if let Some(key) = table.keys().find(|k| *k != "task" && *k != "agent") {
                    return Err((span.clone(), format!("unknown key \"{key}\": {FORM}")));
                }
                let text = |key: &str| match table.get(key) {
                    Some(toml::Value::String(s)) => Ok(s.clone()),
                    Some(_) => Err((span.clone(), format!("`{key}` takes a string: {FORM}"))),
                    None => Err((span.clone(), format!("missing `{key}`: {FORM}"))),
                };
                let task = TaskId::new(text("task")?);
                let agent = agent_ref(&text("agent")?, names, span)?;
                Ok((task, Some(agent)))
            }
            other => Err((span.clone(), format!("invalid item {other}: {FORM}"))),
        })
        .collect()
}
