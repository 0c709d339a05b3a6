//! Values several sections of a scenario file share — durations, resources,
//! task states, reasons and update sources — each read with the span of the
//! key it came from, and [`Invalid`], the mistake a section reports (which
//! `parse` turns into `file:line:column: message`).

use crate::units::{parse_cpus, parse_duration_ms, parse_mem_mb};
use mesochaos_reference::{Reason, Resources, Source, TaskState};
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

/// A mistake in a scenario file: the bytes of the source it is at, and what is
/// wrong.
pub(crate) type Invalid = (Range<usize>, String);

pub(crate) fn duration(value: &Spanned<String>) -> Result<u64, Invalid> {
    parse_duration_ms(value.get_ref()).map_err(|e| (value.span(), e))
}

/// `{ cpus, mem, disk }`: an agent's, a task's or a reconfiguration's resources.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResources {
    cpus: Option<f64>,
    mem: Option<String>,
    disk: Option<String>,
}

pub(crate) fn resources(raw: &Spanned<RawResources>) -> Result<Resources, Invalid> {
    let r = raw.get_ref();
    let cpus = r
        .cpus
        .map(parse_cpus)
        .transpose()
        .map_err(|e| (raw.span(), e))?
        .unwrap_or(0);
    let mem = r
        .mem
        .as_deref()
        .map(parse_mem_mb)
        .transpose()
        .map_err(|e| (raw.span(), e))?
        .unwrap_or(0);
    let disk = r
        .disk
        .as_deref()
        .map(parse_mem_mb)
        .transpose()
        .map_err(|e| (raw.span(), e))?
        .unwrap_or(0);
    Ok(Resources::new(cpus, mem, disk))
}

pub(crate) fn task_state(value: &Spanned<String>) -> Result<TaskState, Invalid> {
    parse_state(value.get_ref()).map_err(|e| (value.span(), e))
}

pub(crate) fn parse_state(text: &str) -> Result<TaskState, String> {
    TaskState::ALL
        .into_iter()
        .find(|s| s.name() == text)
        .ok_or_else(|| format!("unknown task state \"{text}\" (expected one of TASK_RUNNING, TASK_FAILED, TASK_LOST, ...)"))
}

pub(crate) fn parse_reason(text: &str) -> Result<Reason, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        format!("unknown reason \"{text}\" (expected e.g. AGENT_REMOVED, RECONCILIATION)")
    })
}

pub(crate) fn parse_source(text: &str) -> Result<Source, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| format!("unknown source \"{text}\" (MASTER, AGENT or EXECUTOR)"))
}
