//! The vocabulary Apache Mesos's own tests use for messages, in scenario
//! steps: message filters (`drop_next`, and `drop`, `hold`, `release`:
//! `DROP_PROTOBUF`, `FUTURE_PROTOBUF`) and injected messages (`inject`).
//! `docs/scenario-format.md` documents every key.

use super::reconcile::reconcile_items;
use crate::names::Names;
use crate::values::Invalid;
use mesochaos_faults::{Route, Target};
use mesochaos_harness::filters::InjectSpec;
use mesochaos_reference::{Message, TaskId};
use serde::Deserialize;
use toml::Spanned;

/// `drop_next`, `drop`, `hold` or `release = { kind, from, to }`: a route.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDropNext {
    kind: String,
    from: String,
    to: String,
}

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
