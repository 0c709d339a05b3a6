//! `[[expect.timing]]`: when an update or a named event may happen, counted
//! from a step — not before, not after, or never within a window
//! (`Clock::advance` and "never" in Mesos's own tests).

use super::update_narrowing;
use crate::names::Names;
use crate::step::StepRefs;
use crate::values::{duration, parse_reason, parse_state, Invalid};
use mesochaos_harness::expect::{
    EventMatch, Happening, NamedEvent, TimingExpectation, UpdateMatch, WindowEnd,
};
use mesochaos_reference::{Message, TaskId};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

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
