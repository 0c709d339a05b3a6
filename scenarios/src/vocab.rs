//! The vocabulary Apache Mesos's own tests use, in scenario files: message
//! filters (`drop`, `hold`, `release` steps: `DROP_PROTOBUF`,
//! `FUTURE_PROTOBUF`), injected messages (`inject`), reconciliation questions
//! naming an agent, graceful teardown (`teardown`), step labels, timing
//! expectations (`[[expect.timing]]`: `Clock::advance` and "never") and
//! expectations over the final leader's state (`[expect.leader]`: asserts on
//! `/state`). `docs/scenario-format.md` documents every key.

use super::{duration, parse_reason, parse_state, Invalid, Names, RawDropNext};
use mesochaos_faults::{Route, Target};
use mesochaos_harness::expect::{
    AgentExpectation, EventMatch, FrameworkExpectation, FrameworkStatus, Happening,
    LeaderExpectations, NamedEvent, TaskExpectation, TaskList, TimingExpectation, UpdateMatch,
    WindowEnd,
};
use mesochaos_harness::filters::{AgentRef, InjectSpec};
use mesochaos_reference::{AgentId, Message, Source, TaskId};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

// ----- raw tables -----

/// `inject = { from, to, kind, ... }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInject {
    from: String,
    to: String,
    kind: String,
    framework: Option<String>,
    task: Option<String>,
    epoch: Option<u64>,
    message: Option<String>,
    tasks: Option<Vec<toml::Value>>,
}

/// `[[expect.timing]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimingExpect {
    name: Option<String>,
    after_step: Option<Spanned<toml::Value>>,
    update: Option<Spanned<RawUpdateMatch>>,
    event: Option<Spanned<String>>,
    agent: Option<Spanned<String>>,
    framework: Option<Spanned<String>>,
    master: Option<Spanned<String>>,
    task: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    process: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    not_before: Option<Spanned<String>>,
    not_after: Option<Spanned<String>>,
    never: Option<Spanned<bool>>,
    until_step: Option<Spanned<toml::Value>>,
    within: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpdateMatch {
    framework: String,
    state: String,
    reason: Option<String>,
    source: Option<String>,
    task: Option<String>,
    instance: Option<String>,
}

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

// ----- steps -----

/// The route of a `drop_next`, `drop`, `hold` or `release` table: a known
/// message kind between two known processes or targets.
pub(crate) fn route(raw: &Spanned<RawDropNext>, names: &Names) -> Result<Route, Invalid> {
    let r = raw.get_ref();
    if !Message::KINDS.contains(&r.kind.as_str()) {
        return Err((
            raw.span(),
            format!(
                "unknown message kind \"{}\" (known: {})",
                r.kind,
                Message::KINDS.join(", ")
            ),
        ));
    }
    Ok(Route {
        kind: r.kind.clone(),
        from: names.target(&r.from, &raw.span())?,
        to: names.target(&r.to, &raw.span())?,
    })
}

/// `release = "all"` (`None`) or `release = { kind, from, to }`.
pub(crate) fn release(
    value: &Spanned<toml::Value>,
    names: &Names,
) -> Result<Option<Route>, Invalid> {
    const FORMS: &str =
        "release = \"all\" or release = { kind = \"...\", from = \"...\", to = \"...\" }";
    match value.get_ref() {
        toml::Value::String(s) if s == "all" => Ok(None),
        toml::Value::Table(table) => {
            let raw: RawDropNext = table.clone().try_into().map_err(|e: toml::de::Error| {
                (value.span(), format!("{}: {FORMS}", e.message().trim_end()))
            })?;
            route(&Spanned::new(value.span(), raw), names).map(Some)
        }
        other => Err((value.span(), format!("invalid release {other}: {FORMS}"))),
    }
}

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

/// `inject = { from, to, kind, ... }`: (from, to, message).
pub(crate) fn inject(
    value: &Spanned<RawInject>,
    names: &Names,
) -> Result<(Target, Target, InjectSpec), Invalid> {
    let span = value.span();
    let r = value.get_ref();
    let fail = |message: String| (span.clone(), message);
    let supported: Vec<&str> = InjectSpec::KINDS.iter().map(|(k, _)| *k).collect();
    let Some((kind, by_master)) = InjectSpec::KINDS
        .iter()
        .copied()
        .find(|(k, _)| *k == r.kind)
    else {
        return Err(fail(if Message::KINDS.contains(&r.kind.as_str()) {
            format!(
                "inject cannot write {} (it writes {})",
                r.kind,
                supported.join(", ")
            )
        } else {
            format!(
                "unknown message kind \"{}\" (inject writes {})",
                r.kind,
                supported.join(", ")
            )
        }));
    };
    let from = names.target(&r.from, &span)?;
    let to = names.target(&r.to, &span)?;
    let sender_ok = match (&from, by_master) {
        (Target::Leader | Target::LastCrashed, true) => true,
        (Target::Process(p), true) => p.starts_with("master-"),
        (Target::ActiveScheduler(_) | Target::DisplacedScheduler(_), false) => true,
        (Target::Process(p), false) => p.starts_with("scheduler-"),
        _ => false,
    };
    if !sender_ok {
        return Err(fail(if by_master {
            format!(
                "{kind} is a master's message: `from` must be a master (master-N, \"leader\" or \"last-crashed\"), not \"{}\"",
                r.from
            )
        } else {
            format!(
                "{kind} is a scheduler's message: `from` must be a scheduler instance \
                 (scheduler-<framework>-N, active-scheduler:<framework> or displaced-scheduler:<framework>), not \"{}\"",
                r.from
            )
        }));
    }
    let allowed: &[&str] = match kind {
        "KillTask" => &["framework", "task", "epoch"],
        "ShutdownFramework" => &["framework", "epoch"],
        "ShutdownAgent" => &["message", "epoch"],
        "Ping" => &["epoch"],
        "Kill" => &["framework", "task"],
        "Reconcile" => &["framework", "tasks"],
        _ => &["framework"],
    };
    let given = [
        ("framework", r.framework.is_some()),
        ("task", r.task.is_some()),
        ("epoch", r.epoch.is_some()),
        ("message", r.message.is_some()),
        ("tasks", r.tasks.is_some()),
    ];
    if let Some((key, _)) = given
        .iter()
        .find(|(key, set)| *set && !allowed.contains(key))
    {
        return Err(fail(format!(
            "inject {kind} has no key `{key}` (its keys: from, to, kind, {})",
            allowed.join(", ")
        )));
    }
    let framework = || -> Result<String, Invalid> {
        let name = r
            .framework
            .as_ref()
            .ok_or_else(|| fail(format!("inject {kind} needs `framework = \"...\"`")))?;
        if !names.frameworks.contains(name) {
            return Err(fail(format!("no framework named \"{name}\"")));
        }
        Ok(name.clone())
    };
    let task = || -> Result<TaskId, Invalid> {
        r.task
            .as_ref()
            .map(|t| TaskId::new(t.clone()))
            .ok_or_else(|| fail(format!("inject {kind} needs `task = \"...\"`")))
    };
    let message = match kind {
        "KillTask" => InjectSpec::KillTask {
            framework: framework()?,
            task: task()?,
            epoch: r.epoch,
        },
        "ShutdownFramework" => InjectSpec::ShutdownFramework {
            framework: framework()?,
            epoch: r.epoch,
        },
        "ShutdownAgent" => InjectSpec::ShutdownAgent {
            message: r
                .message
                .clone()
                .unwrap_or_else(|| "injected by the scenario".into()),
            epoch: r.epoch,
        },
        "Ping" => InjectSpec::Ping { epoch: r.epoch },
        "Kill" => InjectSpec::Kill {
            framework: framework()?,
            task: task()?,
        },
        "Reconcile" => InjectSpec::Reconcile {
            framework: framework()?,
            tasks: reconcile_items(r.tasks.as_deref().unwrap_or(&[]), names, &span)?,
        },
        _ => InjectSpec::Teardown {
            framework: framework()?,
        },
    };
    Ok((from, to, message))
}

// ----- step references -----

/// The steps of a file, for references to them: their labels and how many.
pub(crate) struct StepRefs {
    pub labels: BTreeMap<String, usize>,
    pub count: usize,
}

impl StepRefs {
    /// A step number (`0`: the start of the run, when `zero` allows it) or a
    /// step's label.
    fn get(&self, value: &Spanned<toml::Value>, key: &str, zero: bool) -> Result<usize, Invalid> {
        let span = value.span();
        let lowest = if zero { 0 } else { 1 };
        match value.get_ref() {
            toml::Value::Integer(n) => {
                if *n < lowest || *n as usize > self.count {
                    let range = if self.count == 0 {
                        "the file has no steps".to_string()
                    } else {
                        format!("steps are numbered 1 to {}", self.count)
                    };
                    let zero_note = if zero {
                        "; 0 is the start of the run"
                    } else {
                        ""
                    };
                    return Err((
                        span,
                        format!("{key} = {n} is out of range ({range}{zero_note})"),
                    ));
                }
                Ok(*n as usize)
            }
            toml::Value::String(label) => self.labels.get(label).copied().ok_or_else(|| {
                let known: Vec<&str> = self.labels.keys().map(String::as_str).collect();
                (
                    span,
                    format!(
                        "no step is labelled \"{label}\" (labels: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                )
            }),
            other => Err((
                span,
                format!("{key} takes a step number or a step's label, not {other}"),
            )),
        }
    }
}

// ----- expectations -----

pub(crate) fn parse_source(text: &str) -> Result<Source, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| format!("unknown source \"{text}\" (MASTER, AGENT or EXECUTOR)"))
}

/// A scheduler instance name, for `instance` keys of expectations.
fn instance_name(text: &str, names: &Names, span: &Range<usize>) -> Result<String, Invalid> {
    if !text.starts_with("scheduler-") || !names.processes.contains(text) {
        return Err((
            span.clone(),
            format!("no scheduler instance named \"{text}\""),
        ));
    }
    Ok(text.to_string())
}

fn update_match(raw: &Spanned<RawUpdateMatch>, names: &Names) -> Result<UpdateMatch, Invalid> {
    let span = raw.span();
    let u = raw.get_ref();
    if !names.frameworks.contains(&u.framework) {
        return Err((span, format!("no framework named \"{}\"", u.framework)));
    }
    let at = |e: String| (span.clone(), e);
    let state = parse_state(&u.state).map_err(at)?;
    let reason = u
        .reason
        .as_deref()
        .map(parse_reason)
        .transpose()
        .map_err(at)?;
    let (source, instance) = update_narrowing(
        u.source.as_deref(),
        u.instance.as_deref(),
        &u.framework,
        names,
        &span,
    )?;
    Ok(UpdateMatch {
        framework: u.framework.clone(),
        state,
        reason,
        source,
        task: u.task.as_ref().map(|t| TaskId::new(t.clone())),
        instance,
    })
}

pub(crate) fn timing_expectations(
    raw: &[Spanned<RawTimingExpect>],
    names: &Names,
    steps: &StepRefs,
) -> Result<Vec<TimingExpectation>, Invalid> {
    let mut out = Vec::new();
    for (index, entry) in raw.iter().enumerate() {
        let span = entry.span();
        let t = entry.get_ref();
        let qualifiers = [
            ("agent", &t.agent),
            ("framework", &t.framework),
            ("master", &t.master),
            ("task", &t.task),
            ("kind", &t.kind),
            ("process", &t.process),
            ("from", &t.from),
        ];
        let what = match (&t.update, &t.event) {
            (Some(_), Some(e)) => {
                return Err((e.span(), "give `update` or `event`, not both".into()))
            }
            (None, None) => {
                return Err((
                    span,
                    "a timing expectation needs `update = { framework, state, ... }` or `event = \"...\"`"
                        .into(),
                ))
            }
            (Some(u), None) => {
                if let Some((key, Some(v))) = qualifiers.iter().find(|(_, v)| v.is_some()) {
                    return Err((
                        v.span(),
                        format!("`{key}` goes with `event`; an update is narrowed inside `update = {{...}}`"),
                    ));
                }
                Happening::Update(update_match(u, names)?)
            }
            (None, Some(e)) => {
                let event = NamedEvent::parse(e.get_ref()).ok_or_else(|| {
                    let known: Vec<&str> = NamedEvent::ALL.iter().map(|e| e.name()).collect();
                    (
                        e.span(),
                        format!(
                            "unknown event \"{}\" (known: {})",
                            e.get_ref(),
                            known.join(", ")
                        ),
                    )
                })?;
                let mut keys = BTreeMap::new();
                for (key, value) in qualifiers {
                    let Some(value) = value else { continue };
                    if !event.keys().contains(&key) {
                        return Err((
                            value.span(),
                            format!(
                                "event {} takes {}, not `{key}`",
                                event.name(),
                                event
                                    .keys()
                                    .iter()
                                    .map(|k| format!("`{k}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                    let text = value.get_ref();
                    match key {
                        "framework" if !names.frameworks.contains(text) => {
                            return Err((value.span(), format!("no framework named \"{text}\"")))
                        }
                        "agent" | "master" | "process" | "from"
                            if !names.processes.contains(text) =>
                        {
                            return Err((value.span(), format!("no process named \"{text}\"")))
                        }
                        "agent" if !text.starts_with("agent-") => {
                            return Err((
                                value.span(),
                                format!("\"{text}\" is not an agent (agent-N)"),
                            ))
                        }
                        "master" if !text.starts_with("master-") => {
                            return Err((
                                value.span(),
                                format!("\"{text}\" is not a master (master-N)"),
                            ))
                        }
                        "kind" if !Message::KINDS.contains(&text.as_str()) => {
                            return Err((
                                value.span(),
                                format!("unknown message kind \"{text}\""),
                            ))
                        }
                        _ => {}
                    }
                    keys.insert(key.to_string(), text.clone());
                }
                Happening::Event(EventMatch { event, keys })
            }
        };
        let after_step = match &t.after_step {
            Some(v) => steps.get(v, "after_step", true)?,
            None => 0,
        };
        let not_before_ms = t.not_before.as_ref().map(duration).transpose()?;
        let not_after_ms = t.not_after.as_ref().map(duration).transpose()?;
        let never = t.never.as_ref().is_some_and(|n| *n.get_ref());
        if let Some(n) = &t.never {
            if !*n.get_ref() {
                return Err((
                    n.span(),
                    "write `never = true`, or leave it out and give not_before / not_after".into(),
                ));
            }
        }
        let window_keys = [
            ("until_step", t.until_step.as_ref().map(|v| v.span())),
            ("within", t.within.as_ref().map(|v| v.span())),
        ];
        let never = if never {
            if let Some(v) = t.not_before.as_ref().or(t.not_after.as_ref()) {
                return Err((
                    v.span(),
                    "`never = true` takes no not_before / not_after: its window is until_step or within"
                        .into(),
                ));
            }
            Some(match (&t.until_step, &t.within) {
                (Some(_), Some(w)) => {
                    return Err((w.span(), "give until_step or within, not both".into()))
                }
                (Some(u), None) => {
                    let until = steps.get(u, "until_step", false)?;
                    if until <= after_step {
                        return Err((
                            u.span(),
                            format!(
                                "until_step (step {until}) must come after after_step (step {after_step})"
                            ),
                        ));
                    }
                    WindowEnd::Step(until)
                }
                (None, Some(w)) => WindowEnd::After(duration(w)?),
                (None, None) => WindowEnd::EndOfRun,
            })
        } else {
            if let Some((key, Some(s))) = window_keys.iter().find(|(_, s)| s.is_some()) {
                return Err((s.clone(), format!("`{key}` goes with `never = true`")));
            }
            if not_before_ms.is_none() && not_after_ms.is_none() {
                return Err((
                    span,
                    "a timing expectation needs not_before, not_after, or never = true".into(),
                ));
            }
            if let (Some(min), Some(max)) = (not_before_ms, not_after_ms) {
                if min > max {
                    let v = t.not_before.as_ref().expect("set");
                    return Err((v.span(), "not_before is later than not_after".into()));
                }
            }
            None
        };
        out.push(TimingExpectation {
            name: t
                .name
                .clone()
                .unwrap_or_else(|| format!("expect.timing #{}", index + 1)),
            what,
            after_step,
            not_before_ms,
            not_after_ms,
            never,
        });
    }
    Ok(out)
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

/// `source` and `instance` of an `[[expect.updates]]` entry.
pub(crate) fn update_narrowing(
    source: Option<&str>,
    instance: Option<&str>,
    framework: &str,
    names: &Names,
    span: &Range<usize>,
) -> Result<(Option<Source>, Option<String>), Invalid> {
    let source = source
        .map(parse_source)
        .transpose()
        .map_err(|e| (span.clone(), e))?;
    let instance = instance
        .map(|i| instance_name(i, names, span))
        .transpose()?;
    if let Some(i) = &instance {
        if !i.starts_with(&format!("scheduler-{framework}-")) {
            return Err((
                span.clone(),
                format!("instance \"{i}\" is not an instance of framework \"{framework}\""),
            ));
        }
    }
    Ok((source, instance))
}
